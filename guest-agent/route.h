/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * route.h - which interface the kernel routes an address through: one
 * RTM_GETROUTE request over rtnetlink (our mnl.c), as `ip route get`
 * does, without running `ip` and without NSS.
 */
#ifndef SLICER_ROUTE_H
#define SLICER_ROUTE_H

#include <stddef.h>

#include "netaddr.h"

/* The name of the output interface for dst into ifname (size >=
 * IFNAMSIZ), in the current network namespace.  0, or -1 with errno
 * (ENETUNREACH: no route; ENODEV: the route has no interface). */
int route_uplink(const struct netaddr *dst, char *ifname, size_t size);

#endif
