/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * link.h - network interfaces over rtnetlink (our mnl.c): the dummy
 * interface that carries a host group's bind address, and finding the
 * interface that leads into another network namespace.
 *
 * Everything acts on the caller's current network namespace.
 */
#ifndef SLICER_LINK_H
#define SLICER_LINK_H

#include <stddef.h>
#include <net/if.h>

#include "netaddr.h"

/* Interface names for host groups: "slicer-" + NAME.  IFNAMSIZ - 1 = 15
 * leaves 8 characters for NAME; a longer NAME becomes its first 4
 * characters + 4 hex digits of a hash of the whole name
 * ("production" -> "slicer-prodXXXX"), so two long names sharing a
 * prefix still get different interfaces. */
#define LINK_HOSTGROUP_PREFIX "slicer-"
/* Host group names: [A-Za-z0-9_-], 1..LINK_GROUP_MAX characters. */
#define LINK_GROUP_MAX 64

/*
 * The interface name for host group group into out (size >= IFNAMSIZ).
 * Pure.  Returns 0, or -1 (EINVAL) for an empty, too long or badly
 * spelled group name.
 */
int link_hostgroup_ifname(const char *group, char *out, size_t size);

/* Is name acceptable as an interface name we create or match?
 * 1..IFNAMSIZ-1 characters of [A-Za-z0-9_.-]; not "." or "..".  Pure. */
int link_name_valid(const char *name);

/* Create a dummy interface (fails with EEXIST if name exists).  On a
 * kernel without the dummy driver (CONFIG_DUMMY off, as in some microVM
 * kernels) an ifb interface is created instead: also no ARP, never
 * forwards, carrier up, addresses bindable. */
int link_dummy_create(const char *name);
/* Set the interface up. */
int link_set_up(const char *name);
/* Add addr/prefix to the interface (IPv6 without duplicate address
 * detection, so it can be bound at once).  EEXIST if present. */
int link_addr_add(const char *name, const struct netaddr *addr, int prefix);
/* 1 if the interface exists, 0 if not, -1 on error. */
int link_exists(const char *name);
/* The interface's kind ("dummy", "veth", "" for none) into buf.
 * 0, or -1 with errno (ENODEV). */
int link_kind(const char *name, char *buf, size_t size);

/* The interface name is enslaved to (a bridge, a bond, a VRF): 1 with its
 * name in buf, 0 when it has none, -1 on error (ENODEV: no such link). */
int link_master(const char *name, char *buf, size_t size);
/* Delete the interface, but only if it is a dummy (or the ifb stand-in);
 * EMEDIUMTYPE if not, ENODEV if absent. */
int link_dummy_delete(const char *name);

/*
 * The interface of this namespace whose peer (the other end of a veth
 * pair, or any link with its link-netns there) lives in network namespace
 * netns: a name under /run/netns, or a path (contains '/').  The name is
 * written to ifname (size >= IFNAMSIZ).  Returns 0, or -1 with errno:
 * ENOENT no such namespace, ENODEV no interface leads there, ENOTUNIQ
 * more than one does.
 */
int link_peer_of_netns(const char *netns, char *ifname, size_t size);

#endif
