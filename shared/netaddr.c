/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * netaddr.c - IP literals in every spelling, CIDR sets, address
 * classification and the allow/deny decision for one destination address.
 *
 * This file decides where the proxy may connect, so it errs on the side of
 * denying: an IPv6 address that carries an IPv4 address inside it is judged
 * by that IPv4 address too, and when the place of the IPv4 address is not
 * fixed (the NAT64 local-use prefix 64:ff9b:1::/48) every layout RFC 6052
 * allows is judged.  Pure code except netaddr_local_addrs() (getifaddrs).
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

/* Longest text accepted as an IP literal: a host name cannot be longer, and
 * an IPv4 literal in inet_aton(3) form may carry many leading zeros. */
#define NETADDR_LITERAL_MAX LIMIT_HOSTNAME

/* At most this many IPv4 addresses are found inside one IPv6 address (the
 * four RFC 6052 layouts that fit in 64:ff9b:1::/48: /48, /56, /64, /96). */
#define NETADDR_EMBED_MAX 4

static const char *const netaddr_class_names[] = {
	[NETADDR_PUBLIC] = "public",
	[NETADDR_LOOPBACK] = "loopback",
	[NETADDR_LINK_LOCAL] = "link-local",
	[NETADDR_UNSPECIFIED] = "unspecified",
	[NETADDR_MULTICAST] = "multicast",
	[NETADDR_BROADCAST] = "broadcast",
	[NETADDR_PRIVATE] = "private",
	[NETADDR_CGNAT] = "cgnat",
	[NETADDR_ULA] = "unique-local",
};

/* Deny reasons, one per class (static strings for *reason). */
static const char *const netaddr_class_reasons[] = {
	[NETADDR_PUBLIC] = "public address",
	[NETADDR_LOOPBACK] = "loopback address",
	[NETADDR_LINK_LOCAL] = "link-local address",
	[NETADDR_UNSPECIFIED] = "unspecified address",
	[NETADDR_MULTICAST] = "multicast address",
	[NETADDR_BROADCAST] = "broadcast or reserved address",
	[NETADDR_PRIVATE] = "private address",
	[NETADDR_CGNAT] = "carrier-grade NAT address",
	[NETADDR_ULA] = "unique-local address",
};

#define NETADDR_NCLASSES                                                       \
	(sizeof(netaddr_class_names) / sizeof(netaddr_class_names[0]))

static int
netaddr_is_v4_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	    (c >= 'A' && c <= 'F') || c == 'x' || c == 'X' || c == '.';
}

/* IPv6 text between optional brackets; no zone id. */
static int
netaddr_parse_v6(const char *s, size_t len, struct netaddr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a6;

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (len == 0 || len >= sizeof(buf))
		return -1;
	if (memchr(s, '%', len) != NULL || memchr(s, '[', len) != NULL ||
	    memchr(s, ']', len) != NULL || memchr(s, '\0', len) != NULL)
		return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, &a6) != 1)
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = AF_INET6;
	out->u.v6 = a6;
	return 0;
}

int
netaddr_parse_literal(const char *s, size_t len, struct netaddr *out)
{
	char buf[NETADDR_LITERAL_MAX + 1];
	struct in_addr a4;
	size_t i;

	if (s == NULL || out == NULL || len == 0 || len > NETADDR_LITERAL_MAX)
		return -1;
	if (s[0] == '[' || memchr(s, ':', len) != NULL)
		return netaddr_parse_v6(s, len, out);

	/*
	 * inet_aton(3) stops at the first white space and ignores the rest,
	 * so only the characters an IPv4 literal can hold are let through;
	 * it needs a digit first (so "deadbeef" stays a name) and rejects a
	 * trailing or doubled dot itself.
	 */
	if (s[0] < '0' || s[0] > '9')
		return -1;
	for (i = 0; i < len; i++)
		if (!netaddr_is_v4_char(s[i]))
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_aton(buf, &a4) == 0)
		return -1;
	memset(out, 0, sizeof(*out));
	out->family = AF_INET;
	out->u.v4 = a4;
	return 0;
}

const char *
netaddr_ntop(const struct netaddr *a, char *buf, size_t size)
{
	if (a == NULL || buf == NULL || size == 0)
		return NULL;
	if (size > INET6_ADDRSTRLEN)
		size = INET6_ADDRSTRLEN;
	if (a->family == AF_INET)
		return inet_ntop(AF_INET, &a->u.v4, buf, (socklen_t)size);
	if (a->family == AF_INET6)
		return inet_ntop(AF_INET6, &a->u.v6, buf, (socklen_t)size);
	return NULL;
}

/* Strict decimal prefix length: 1..3 digits, no leading zero, <= max. */
static int
netaddr_parse_prefix(const char *s, int max, int *out)
{
	size_t len = strlen(s), i;
	int v = 0;

	if (len == 0 || len > 3 || (len > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

/* Clear the bits past prefix in a byte array of n bytes. */
static void
netaddr_clear_host_bits(uint8_t *b, size_t n, int prefix)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int keep = prefix - (int)(i * 8);

		if (keep >= 8)
			continue;
		if (keep <= 0)
			b[i] = 0;
		else
			b[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

int
netaddr_parse_cidr(const char *s, struct netaddr_cidr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *slash;
	struct netaddr_cidr c;
	size_t alen;
	int max;

	if (s == NULL || out == NULL)
		return -1;
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';

	memset(&c, 0, sizeof(c));
	/* inet_pton(3) takes only the plain dotted quad (no leading zeros)
	 * for IPv4 and no zone id for IPv6. */
	if (inet_pton(AF_INET, buf, &c.addr.u.v4) == 1) {
		c.addr.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, &c.addr.u.v6) == 1) {
		c.addr.family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	c.prefix = max;
	if (slash != NULL && netaddr_parse_prefix(slash + 1, max, &c.prefix))
		return -1;
	if (c.addr.family == AF_INET)
		netaddr_clear_host_bits((uint8_t *)&c.addr.u.v4, 4, c.prefix);
	else
		netaddr_clear_host_bits(c.addr.u.v6.s6_addr, 16, c.prefix);
	*out = c;
	return 0;
}

void
netaddr_set_init(struct netaddr_set *set, size_t max)
{
	memset(set, 0, sizeof(*set));
	set->max = max;
}

void
netaddr_set_free(struct netaddr_set *set)
{
	if (set == NULL)
		return;
	free(set->cidrs);
	set->cidrs = NULL;
	set->n = set->cap = 0;
	set->is_sorted = 0;
}

static int
netaddr_cidr_valid(const struct netaddr_cidr *c)
{
	if (c->addr.family == AF_INET)
		return c->prefix >= 0 && c->prefix <= 32;
	if (c->addr.family == AF_INET6)
		return c->prefix >= 0 && c->prefix <= 128;
	return 0;
}

int
netaddr_set_add(struct netaddr_set *set, const struct netaddr_cidr *c)
{
	struct netaddr_cidr *grown;
	size_t max, cap;

	if (set == NULL || c == NULL || !netaddr_cidr_valid(c)) {
		errno = EINVAL;
		return -1;
	}
	max = set->max != 0 ? set->max : LIMIT_CIDRS;
	if (set->n >= max) {
		errno = ENOSPC;
		return -1;
	}
	if (set->n == set->cap) {
		cap = set->cap < 16 ? 16 : set->cap * 2;
		if (cap > max)
			cap = max;
		grown = realloc(set->cidrs, cap * sizeof(*grown));
		if (grown == NULL) {
			errno = ENOMEM;
			return -1;
		}
		set->cidrs = grown;
		set->cap = cap;
	}
	set->cidrs[set->n++] = *c;
	set->is_sorted = 0;
	return 0;
}

static size_t
netaddr_len(const struct netaddr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

int
netaddr_equal(const struct netaddr *a, const struct netaddr *b)
{
	if (a->family != b->family ||
	    (a->family != AF_INET && a->family != AF_INET6))
		return 0;
	return memcmp(&a->u, &b->u, netaddr_len(a)) == 0;
}

/* Order of a sorted set: IPv4 before IPv6, then by the address bytes. */
static int
netaddr_host_cmp(const void *pa, const void *pb)
{
	const struct netaddr *a = &((const struct netaddr_cidr *)pa)->addr;
	const struct netaddr *b = &((const struct netaddr_cidr *)pb)->addr;

	if (a->family != b->family)
		return a->family == AF_INET ? -1 : 1;
	return memcmp(&a->u, &b->u, netaddr_len(a));
}

static int
netaddr_cidr_is_host(const struct netaddr_cidr *c)
{
	return c->prefix == (c->addr.family == AF_INET ? 32 : 128);
}

void
netaddr_set_sort(struct netaddr_set *set)
{
	size_t i, kept;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++)
		if (!netaddr_cidr_is_host(&set->cidrs[i]))
			return;
	if (set->n > 1)
		qsort(set->cidrs, set->n, sizeof(set->cidrs[0]),
		    netaddr_host_cmp);
	for (i = 0, kept = 0; i < set->n; i++)
		if (kept == 0 || netaddr_host_cmp(&set->cidrs[kept - 1],
		    &set->cidrs[i]) != 0)
			set->cidrs[kept++] = set->cidrs[i];
	set->n = kept;
	set->is_sorted = 1;
}

/* Do the first prefix bits of a and b (n bytes each) agree? */
static int
netaddr_prefix_equal(const uint8_t *a, const uint8_t *b, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;
	uint8_t mask;

	if (full > 0 && memcmp(a, b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (uint8_t)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

static int
netaddr_cidr_contains(const struct netaddr_cidr *c, const struct netaddr *a)
{
	if (c->addr.family != a->family)
		return 0;
	if (a->family == AF_INET) {
		if (c->prefix < 0 || c->prefix > 32)
			return 0;
		return netaddr_prefix_equal((const uint8_t *)&c->addr.u.v4,
		    (const uint8_t *)&a->u.v4, c->prefix);
	}
	if (a->family == AF_INET6) {
		if (c->prefix < 0 || c->prefix > 128)
			return 0;
		return netaddr_prefix_equal(c->addr.u.v6.s6_addr,
		    a->u.v6.s6_addr, c->prefix);
	}
	return 0;
}

int
netaddr_set_contains(const struct netaddr_set *set, const struct netaddr *a)
{
	struct netaddr_cidr key;
	size_t i;

	if (set == NULL || a == NULL || set->cidrs == NULL)
		return 0;
	if (set->is_sorted) {
		if (a->family != AF_INET && a->family != AF_INET6)
			return 0;
		memset(&key, 0, sizeof(key));
		key.addr = *a;
		return bsearch(&key, set->cidrs, set->n, sizeof(set->cidrs[0]),
		    netaddr_host_cmp) != NULL;
	}
	for (i = 0; i < set->n; i++)
		if (netaddr_cidr_contains(&set->cidrs[i], a))
			return 1;
	return 0;
}

static void
netaddr_set_v4(struct netaddr *v4, uint8_t b0, uint8_t b1, uint8_t b2,
    uint8_t b3)
{
	uint8_t *p;

	memset(v4, 0, sizeof(*v4));
	v4->family = AF_INET;
	p = (uint8_t *)&v4->u.v4;
	p[0] = b0;
	p[1] = b1;
	p[2] = b2;
	p[3] = b3;
}

static int
netaddr_bytes_zero(const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return 0;
	return 1;
}

/*
 * Every IPv4 address the IPv6 address a may stand for, most likely first.
 * Returns how many were written to v4[] (0..NETADDR_EMBED_MAX).
 */
static int
netaddr_embedded_all(const struct netaddr *a, struct netaddr *v4)
{
	static const uint8_t nat64_wkp[12] = {0x00, 0x64, 0xff, 0x9b};
	static const uint8_t nat64_local[6] = {0x00, 0x64, 0xff, 0x9b, 0x00,
	    0x01};
	const uint8_t *b;

	if (a == NULL || a->family != AF_INET6)
		return 0;
	b = a->u.v6.s6_addr;

	/* IPv4-mapped ::ffff:0:0/96 */
	if (netaddr_bytes_zero(b, 10) && b[10] == 0xff && b[11] == 0xff) {
		netaddr_set_v4(v4, b[12], b[13], b[14], b[15]);
		return 1;
	}
	/* SIIT IPv4-translated ::ffff:0:0:0/96 (RFC 2765) */
	if (netaddr_bytes_zero(b, 8) && b[8] == 0xff && b[9] == 0xff &&
	    b[10] == 0 && b[11] == 0) {
		netaddr_set_v4(v4, b[12], b[13], b[14], b[15]);
		return 1;
	}
	/* IPv4-compatible ::/96, except :: and ::1 */
	if (netaddr_bytes_zero(b, 12)) {
		if (netaddr_bytes_zero(b + 12, 3) && b[15] <= 1)
			return 0;
		netaddr_set_v4(v4, b[12], b[13], b[14], b[15]);
		return 1;
	}
	/* NAT64 well-known prefix 64:ff9b::/96 (RFC 6052: /96 only) */
	if (memcmp(b, nat64_wkp, sizeof(nat64_wkp)) == 0) {
		netaddr_set_v4(v4, b[12], b[13], b[14], b[15]);
		return 1;
	}
	/*
	 * NAT64 local-use prefix 64:ff9b:1::/48 (RFC 8215): the operator may
	 * use any RFC 6052 prefix length inside it, so every layout that
	 * fits is a candidate.  A layout that yields 0.0.0.0/8 is not where
	 * the address is (a translator has nothing to reach there), so it
	 * is dropped unless no layout yields anything else.
	 */
	if (memcmp(b, nat64_local, sizeof(nat64_local)) == 0) {
		struct netaddr all[NETADDR_EMBED_MAX];
		int i, n = 0;

		netaddr_set_v4(&all[0], b[12], b[13], b[14], b[15]); /* /96 */
		netaddr_set_v4(&all[1], b[9], b[10], b[11], b[12]);  /* /64 */
		netaddr_set_v4(&all[2], b[7], b[9], b[10], b[11]);   /* /56 */
		netaddr_set_v4(&all[3], b[6], b[7], b[9], b[10]);    /* /48 */
		for (i = 0; i < NETADDR_EMBED_MAX; i++)
			if (((const uint8_t *)&all[i].u.v4)[0] != 0)
				v4[n++] = all[i];
		if (n == 0)
			v4[n++] = all[0];
		return n;
	}
	/* 6to4 2002::/16: bits 16..47 */
	if (b[0] == 0x20 && b[1] == 0x02) {
		netaddr_set_v4(v4, b[2], b[3], b[4], b[5]);
		return 1;
	}
	/* Teredo 2001:0::/32: client address, obfuscated */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0) {
		netaddr_set_v4(v4, b[12] ^ 0xff, b[13] ^ 0xff, b[14] ^ 0xff,
		    b[15] ^ 0xff);
		return 1;
	}
	return 0;
}

int
netaddr_embedded_v4(const struct netaddr *a, struct netaddr *v4)
{
	struct netaddr all[NETADDR_EMBED_MAX];

	if (v4 == NULL || netaddr_embedded_all(a, all) == 0)
		return 0;
	*v4 = all[0];
	return 1;
}

static enum netaddr_class
netaddr_classify_v4(const struct netaddr *a)
{
	const uint8_t *b = (const uint8_t *)&a->u.v4;

	if (b[0] == 0)
		return NETADDR_UNSPECIFIED;
	if (b[0] == 127)
		return NETADDR_LOOPBACK;
	if (b[0] == 169 && b[1] == 254)
		return NETADDR_LINK_LOCAL;
	if ((b[0] & 0xf0) == 224)
		return NETADDR_MULTICAST;
	if ((b[0] & 0xf0) == 240)
		return NETADDR_BROADCAST;
	if (b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) ||
	    (b[0] == 192 && b[1] == 168))
		return NETADDR_PRIVATE;
	if (b[0] == 100 && (b[1] & 0xc0) == 64)
		return NETADDR_CGNAT;
	return NETADDR_PUBLIC;
}

/* The IPv6 address by itself, ignoring any IPv4 inside it. */
static enum netaddr_class
netaddr_classify_v6(const struct netaddr *a)
{
	const uint8_t *b = a->u.v6.s6_addr;

	if (netaddr_bytes_zero(b, 15)) {
		if (b[15] == 0)
			return NETADDR_UNSPECIFIED;
		if (b[15] == 1)
			return NETADDR_LOOPBACK;
	}
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
		return NETADDR_LINK_LOCAL;
	if (b[0] == 0xff)
		return NETADDR_MULTICAST;
	if ((b[0] & 0xfe) == 0xfc)
		return NETADDR_ULA;
	/* site-local fec0::/10, deprecated: treated like unique-local */
	if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0)
		return NETADDR_ULA;
	return NETADDR_PUBLIC;
}

/* Severity for choosing among several candidate classes. */
static int
netaddr_class_rank(enum netaddr_class c)
{
	if (netaddr_class_always_denied(c))
		return 2;
	if (c != NETADDR_PUBLIC)
		return 1;
	return 0;
}

enum netaddr_class
netaddr_classify(const struct netaddr *a)
{
	struct netaddr all[NETADDR_EMBED_MAX];
	enum netaddr_class worst, c;
	int n, i;

	if (a == NULL)
		return NETADDR_UNSPECIFIED;
	if (a->family == AF_INET)
		return netaddr_classify_v4(a);
	if (a->family != AF_INET6)
		return NETADDR_UNSPECIFIED;
	n = netaddr_embedded_all(a, all);
	if (n == 0)
		return netaddr_classify_v6(a);
	worst = netaddr_classify_v4(&all[0]);
	for (i = 1; i < n; i++) {
		c = netaddr_classify_v4(&all[i]);
		if (netaddr_class_rank(c) > netaddr_class_rank(worst))
			worst = c;
	}
	return worst;
}

const char *
netaddr_class_name(enum netaddr_class c)
{
	if ((unsigned int)c >= NETADDR_NCLASSES)
		return "unknown";
	return netaddr_class_names[c];
}

int
netaddr_class_always_denied(enum netaddr_class c)
{
	switch (c) {
	case NETADDR_LOOPBACK:
	case NETADDR_LINK_LOCAL:
	case NETADDR_UNSPECIFIED:
	case NETADDR_MULTICAST:
	case NETADDR_BROADCAST:
		return 1;
	case NETADDR_PUBLIC:
	case NETADDR_PRIVATE:
	case NETADDR_CGNAT:
	case NETADDR_ULA:
		return 0;
	}
	return 1;
}

static enum netaddr_class
netaddr_classify_one(const struct netaddr *a)
{
	if (a->family == AF_INET)
		return netaddr_classify_v4(a);
	return netaddr_classify_v6(a);
}

int
netaddr_check(const struct netaddr *a, const struct netaddr_set *own,
    const struct netaddr_set *deny, const struct netaddr_set *allow,
    const char **reason)
{
	struct netaddr cand[1 + NETADDR_EMBED_MAX];
	enum netaddr_class c;
	const char *why = NULL;
	int n, i, allowed = 0;

	if (a == NULL || (a->family != AF_INET && a->family != AF_INET6)) {
		why = "not an IP address";
		goto out;
	}
	/* the address itself, then every IPv4 address it may stand for */
	cand[0] = *a;
	n = 1 + netaddr_embedded_all(a, &cand[1]);

	for (i = 0; i < n; i++) {
		c = netaddr_classify_one(&cand[i]);
		if (netaddr_class_always_denied(c)) {
			why = netaddr_class_reasons[c];
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (netaddr_set_contains(own, &cand[i])) {
			why = "proxy's own address";
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		if (netaddr_set_contains(deny, &cand[i])) {
			why = "denied by --deny-cidr";
			goto out;
		}
	}
	/* An --allow-cidr opens a default-denied range only for the address
	 * family it is written in: ::ffff:10.0.0.1 needs 10.0.0.0/8. */
	for (i = 0; i < n; i++) {
		c = netaddr_classify_one(&cand[i]);
		if (c != NETADDR_PUBLIC && !netaddr_set_contains(allow,
		    &cand[i])) {
			why = netaddr_class_reasons[c];
			goto out;
		}
	}
	allowed = 1;
out:
	if (reason != NULL)
		*reason = allowed ? NULL : why;
	return allowed;
}

int
netaddr_local_addrs(struct netaddr_set *set)
{
	struct ifaddrs *ifa = NULL, *i;
	struct netaddr_cidr c;
	int rc = -1, saved;

	if (set == NULL) {
		errno = EINVAL;
		return -1;
	}
	netaddr_set_init(set, LIMIT_OWN_ADDRS);
	if (getifaddrs(&ifa) == -1)
		return -1;
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL)
			continue;
		if (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6)
			continue;
		memset(&c, 0, sizeof(c));
		if (netaddr_from_sockaddr(i->ifa_addr, &c.addr) == -1)
			continue;
		c.prefix = c.addr.family == AF_INET ? 32 : 128;
		/* duplicates (one address on two interfaces) go in the sort */
		if (netaddr_set_add(set, &c) == -1) {
			if (errno == ENOSPC)
				errno = E2BIG;
			goto out;
		}
	}
	netaddr_set_sort(set);
	rc = 0;
out:
	saved = errno;
	freeifaddrs(ifa);
	if (rc == -1)
		netaddr_set_free(set);
	errno = saved;
	return rc;
}

void
netaddr_to_sockaddr(const struct netaddr *a, uint16_t port,
    struct sockaddr_storage *ss, unsigned int *sslen)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET) {
		memset(&sin, 0, sizeof(sin));
		sin.sin_family = AF_INET;
		sin.sin_port = htons(port);
		sin.sin_addr = a->u.v4;
		memcpy(ss, &sin, sizeof(sin));
		*sslen = sizeof(sin);
	} else if (a->family == AF_INET6) {
		memset(&sin6, 0, sizeof(sin6));
		sin6.sin6_family = AF_INET6;
		sin6.sin6_port = htons(port);
		sin6.sin6_addr = a->u.v6;
		memcpy(ss, &sin6, sizeof(sin6));
		*sslen = sizeof(sin6);
	} else {
		*sslen = 0;
	}
}

int
netaddr_from_sockaddr(const struct sockaddr *sa, struct netaddr *a)
{
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	if (sa == NULL || a == NULL)
		return -1;
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		memcpy(&sin, sa, sizeof(sin));
		a->family = AF_INET;
		a->u.v4 = sin.sin_addr;
		return 0;
	}
	if (sa->sa_family == AF_INET6) {
		/* a v4-mapped peer stays AF_INET6; classification sees
		 * through it */
		memcpy(&sin6, sa, sizeof(sin6));
		a->family = AF_INET6;
		a->u.v6 = sin6.sin6_addr;
		return 0;
	}
	return -1;
}
