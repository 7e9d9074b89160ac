/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netaddr.h - IP addresses: literals in every spelling, CIDR sets, and the
 * classification the proxy uses to decide where a request may go.
 *
 * Pure code: no I/O except netaddr_local_addrs() (getifaddrs).
 */
#ifndef SLICER_NETADDR_H
#define SLICER_NETADDR_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "slicer_limits.h"

struct netaddr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

struct netaddr_cidr {
	struct netaddr addr; /* host bits cleared */
	int prefix;          /* 0..32 or 0..128 */
};

/*
 * A set of CIDRs.  All zero is an empty set that grows up to LIMIT_CIDRS
 * entries; netaddr_set_init gives another ceiling.  The entries are owned
 * (netaddr_set_free).  A set of host entries only (/32, /128) may be
 * sorted (netaddr_set_sort): then a look-up is a binary search, for the
 * proxy's own addresses, which may be many.
 */
struct netaddr_set {
	struct netaddr_cidr *cidrs; /* owned; cap entries */
	size_t n, cap;
	size_t max;                 /* ceiling on n; 0: LIMIT_CIDRS */
	int is_sorted;              /* hosts only, in netaddr_set_sort order */
};

/*
 * Parse an IP literal as a host name in a URL or CONNECT target might spell
 * it.  IPv4 in every form inet_aton(3) accepts ("127.0.0.1", "2130706433",
 * "0x7f.1", "017700000001", "127.1"), but the whole string must be consumed
 * (no trailing junk or whitespace).  IPv6 with or without brackets
 * ("::1", "[::ffff:127.0.0.1]"); a zone id ("%eth0") is rejected.
 * Returns 0 and fills *out, or -1 when s is not an IP literal (a name).
 */
int netaddr_parse_literal(const char *s, size_t len, struct netaddr *out);

/* Same family and the same address bytes?  (An IPv4 address and its
 * IPv4-mapped IPv6 form are not the same.) */
int netaddr_equal(const struct netaddr *a, const struct netaddr *b);

/* Canonical text form: dotted quad or RFC 5952 IPv6 (no brackets). */
const char *netaddr_ntop(const struct netaddr *a, char *buf, size_t size);

/* Parse "10.0.0.0/8", "fd00::/8", or a bare address (/32, /128).  Strict:
 * only the plain dotted-quad for IPv4 here.  Host bits are cleared.
 * Returns 0 or -1. */
int netaddr_parse_cidr(const char *s, struct netaddr_cidr *out);

/* An empty set of at most max entries (0: LIMIT_CIDRS). */
void netaddr_set_init(struct netaddr_set *set, size_t max);

/* Free the entries; the set is empty again (its ceiling kept).  NULL ok. */
void netaddr_set_free(struct netaddr_set *set);

/* Add a CIDR to a set, growing it; -1 with errno ENOSPC when the set holds
 * its most already, ENOMEM when it cannot grow, EINVAL for a bad entry. */
int netaddr_set_add(struct netaddr_set *set, const struct netaddr_cidr *c);

/* Sort a set of host entries and drop duplicates, so that look-ups are a
 * binary search.  A set with a shorter prefix in it is left as it is. */
void netaddr_set_sort(struct netaddr_set *set);

/* Does the set contain a? (Address of the same family only.) */
int netaddr_set_contains(const struct netaddr_set *set,
    const struct netaddr *a);

/*
 * If a is an IPv6 address that embeds an IPv4 address, write the embedded
 * one to *v4 and return 1: IPv4-mapped ::ffff:0:0/96, IPv4-compatible
 * ::/96 (except :: and ::1), NAT64 64:ff9b::/96 and 64:ff9b:1::/48,
 * 6to4 2002::/16, Teredo 2001::/32 (client address = last 32 bits XOR
 * 0xffffffff).  Otherwise return 0.
 */
int netaddr_embedded_v4(const struct netaddr *a, struct netaddr *v4);

enum netaddr_class {
	NETADDR_PUBLIC = 0,
	NETADDR_LOOPBACK,     /* 127/8, ::1 */
	NETADDR_LINK_LOCAL,   /* 169.254/16 (cloud metadata), fe80::/10 */
	NETADDR_UNSPECIFIED,  /* 0.0.0.0/8, :: */
	NETADDR_MULTICAST,    /* 224/4, ff00::/8 */
	NETADDR_BROADCAST,    /* 255.255.255.255 and the rest of 240/4 */
	NETADDR_PRIVATE,      /* 10/8, 172.16/12, 192.168/16 */
	NETADDR_CGNAT,        /* 100.64/10 */
	NETADDR_ULA,          /* fc00::/7 */
};

/* Classify an address.  IPv6 forms that embed IPv4 are classified by the
 * embedded address.  Pure; does not look at any configured set. */
enum netaddr_class netaddr_classify(const struct netaddr *a);

/* Short lower-case name of a class for reasons and logs ("loopback"). */
const char *netaddr_class_name(enum netaddr_class c);

/* Is the class denied no matter what (loopback, link-local, unspecified,
 * multicast, broadcast)?  PRIVATE, CGNAT and ULA are "default denied":
 * an --allow-cidr may open them. */
int netaddr_class_always_denied(enum netaddr_class c);

/*
 * The decision for one destination address:
 *   always-denied class                   -> deny
 *   in own (the proxy's own addresses)    -> deny ("proxy's own address")
 *   in deny (operator --deny-cidr)        -> deny
 *   default-denied class, not in allow    -> deny
 *   otherwise                             -> allow
 * IPv6 that embeds IPv4 is judged by the embedded address against all sets
 * (and by itself against the IPv6 entries).  Returns 1 when allowed, 0 when
 * denied with *reason set to a static string.
 */
int netaddr_check(const struct netaddr *a, const struct netaddr_set *own,
    const struct netaddr_set *deny, const struct netaddr_set *allow,
    const char **reason);

/*
 * Fill *set with every address of every local interface (getifaddrs), as
 * /32 and /128 entries, sorted: at most LIMIT_OWN_ADDRS as listed (one
 * address on two interfaces counts twice).  *set is overwritten, not
 * read.  Returns 0 (the caller owns the set), or -1 with
 * errno (getifaddrs' own, ENOMEM, or E2BIG: more addresses than the
 * ceiling) and *set empty: never a part of the addresses, which would let
 * the rest pass for somebody else's.
 */
int netaddr_local_addrs(struct netaddr_set *set);

/* Convert to/from struct sockaddr_storage with a port (host order). */
void netaddr_to_sockaddr(const struct netaddr *a, uint16_t port,
    struct sockaddr_storage *ss, unsigned int *sslen);
int netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *a);

#endif
