/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_netaddr.c - IP literal parsing in every spelling, CIDR parsing and
 * sets (up to LIMIT_CIDRS, or a ceiling given; sorted sets of hosts),
 * embedded IPv4, classification and the allow / deny decision, sockaddr
 * conversion, the host's own addresses (getifaddrs and realloc wrapped:
 * -Wl,--wrap, shared/module.mk).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ifaddrs.h>
#include <cmocka.h>

#include "netaddr.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* parse a literal that the test knows is good */
static struct netaddr
lit(const char *s)
{
	struct netaddr a;

	if (netaddr_parse_literal(s, strlen(s), &a) != 0)
		fail_msg("bad test literal '%s'", s);
	return a;
}

static struct netaddr_cidr
cidr(const char *s)
{
	struct netaddr_cidr c;

	if (netaddr_parse_cidr(s, &c) != 0)
		fail_msg("bad test cidr '%s'", s);
	return c;
}

struct literal_case {
	const char *in;
	size_t len; /* 0: strlen(in) */
	const char *want; /* canonical text, NULL: not a literal */
};

static const struct literal_case literal_cases[] = {
	/* IPv4 in every inet_aton spelling */
	{"127.0.0.1", 0, "127.0.0.1"},
	{"2130706433", 0, "127.0.0.1"},
	{"0x7f.1", 0, "127.0.0.1"},
	{"017700000001", 0, "127.0.0.1"},
	{"127.1", 0, "127.0.0.1"},
	{"0x7F000001", 0, "127.0.0.1"},
	{"0X7f000001", 0, "127.0.0.1"},
	{"0177.0.0.1", 0, "127.0.0.1"},
	{"0x7f.0x0.0x0.0x1", 0, "127.0.0.1"},
	{"127.0.1", 0, "127.0.0.1"},
	{"10.0x10000", 0, "10.1.0.0"},
	{"0", 0, "0.0.0.0"},
	{"4294967295", 0, "255.255.255.255"},
	{"169.254.169.254", 0, "169.254.169.254"},
	{"0251.0376.0251.0376", 0, "169.254.169.254"},
	{"127.0.0.1junk", 9, "127.0.0.1"},
	/* not IPv4 literals */
	{"4294967296", 0, NULL},
	{"256.0.0.1", 0, NULL},
	{"1.2.3.256", 0, NULL},
	{"127.0.0.1.", 0, NULL},
	{"127..1", 0, NULL},
	{".127.0.0.1", 0, NULL},
	{"127.0.0.1 ", 0, NULL},
	{" 127.0.0.1", 0, NULL},
	{"127.0.0.1\t", 0, NULL},
	{"127.0.0.1 x", 0, NULL},
	{"127.0.0.1x", 0, NULL},
	{"1.2.3.4.5", 0, NULL},
	{"08", 0, NULL},
	{"0x", 0, NULL},
	{"0xg", 0, NULL},
	{"-1", 0, NULL},
	{"+1", 0, NULL},
	{"deadbeef", 0, NULL},
	{"cafe.example", 0, NULL},
	{"example.com", 0, NULL},
	{"1e100.net", 0, NULL},
	{"localhost", 0, NULL},
	{"", 0, NULL},
	/* IPv6 with and without brackets */
	{"::1", 0, "::1"},
	{"[::1]", 0, "::1"},
	{"[::ffff:127.0.0.1]", 0, "::ffff:127.0.0.1"},
	{"::ffff:7f00:1", 0, "::ffff:127.0.0.1"},
	{"2001:DB8:0:0:0:0:0:1", 0, "2001:db8::1"},
	{"[fe80::1]", 0, "fe80::1"},
	{"::", 0, "::"},
	{"fe80::1%eth0", 0, NULL},
	{"[fe80::1%25eth0]", 0, NULL},
	{"[fe80::1%eth0]", 0, NULL},
	{"[::1", 0, NULL},
	{"::1]", 0, NULL},
	{"[]", 0, NULL},
	{"[[::1]]", 0, NULL},
	{"[127.0.0.1]", 0, NULL},
	{"[::1]:80", 0, NULL},
	{"1:2:3:4:5:6:7:8:9", 0, NULL},
	{"::1 ", 0, NULL},
	{":::1", 0, NULL},
	{"::ffff:0127.0.0.1", 0, NULL},
	{"example.com:443", 0, NULL},
	/* embedded NUL never ends the literal early */
	{"::1\0x", 5, NULL},
	{"127.0.0.1\0", 10, NULL},
	{"[::1]\0", 6, NULL},
};

static void
test_parse_literal(void **state)
{
	char buf[INET6_ADDRSTRLEN];
	struct netaddr a;
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(literal_cases); i++) {
		const struct literal_case *t = &literal_cases[i];

		len = t->len ? t->len : strlen(t->in);
		memset(&a, 0xa5, sizeof(a));
		rc = netaddr_parse_literal(t->in, len, &a);
		if (t->want == NULL) {
			if (rc != -1)
				fail_msg("'%s' parsed as a literal", t->in);
			continue;
		}
		if (rc != 0)
			fail_msg("'%s' not parsed", t->in);
		assert_non_null(netaddr_ntop(&a, buf, sizeof(buf)));
		if (strcmp(buf, t->want) != 0)
			fail_msg("'%s' -> '%s', want '%s'", t->in, buf,
			    t->want);
		assert_int_equal(a.family,
		    strchr(t->want, ':') != NULL ? AF_INET6 : AF_INET);
	}
}

/* the literal text limit is LIMIT_HOSTNAME: at it fine, past it refused */
static void
test_parse_literal_limit(void **state)
{
	char s[LIMIT_HOSTNAME + 2];
	char buf[INET6_ADDRSTRLEN];
	struct netaddr a;

	(void)state;
	memset(s, '0', sizeof(s));
	s[LIMIT_HOSTNAME - 1] = '7';
	s[LIMIT_HOSTNAME] = '\0';
	assert_int_equal(netaddr_parse_literal(s, LIMIT_HOSTNAME, &a), 0);
	assert_string_equal(netaddr_ntop(&a, buf, sizeof(buf)), "0.0.0.7");

	memset(s, '0', sizeof(s));
	s[LIMIT_HOSTNAME] = '7';
	s[LIMIT_HOSTNAME + 1] = '\0';
	assert_int_equal(netaddr_parse_literal(s, LIMIT_HOSTNAME + 1, &a), -1);

	assert_int_equal(netaddr_parse_literal(NULL, 3, &a), -1);
	assert_int_equal(netaddr_parse_literal("::1", 3, NULL), -1);
}

static void
test_ntop(void **state)
{
	struct netaddr a = lit("2001:db8:1:2:3:4:5:6");
	struct netaddr bad;
	char buf[INET6_ADDRSTRLEN];

	(void)state;
	assert_string_equal(netaddr_ntop(&a, buf, sizeof(buf)),
	    "2001:db8:1:2:3:4:5:6");
	/* too small: NULL, never a truncated address */
	assert_null(netaddr_ntop(&a, buf, 10));
	a = lit("255.255.255.255");
	assert_null(netaddr_ntop(&a, buf, 15));
	assert_string_equal(netaddr_ntop(&a, buf, 16), "255.255.255.255");
	memset(&bad, 0, sizeof(bad));
	bad.family = AF_UNIX;
	assert_null(netaddr_ntop(&bad, buf, sizeof(buf)));
	assert_null(netaddr_ntop(NULL, buf, sizeof(buf)));
}

struct cidr_case {
	const char *in;
	const char *addr; /* NULL: rejected */
	int prefix;
};

static const struct cidr_case cidr_cases[] = {
	{"10.0.0.0/8", "10.0.0.0", 8},
	{"10.1.2.3/8", "10.0.0.0", 8},
	{"172.31.255.255/12", "172.16.0.0", 12},
	{"172.31.255.255/13", "172.24.0.0", 13},
	{"192.168.1.7", "192.168.1.7", 32},
	{"192.168.1.7/32", "192.168.1.7", 32},
	{"192.168.1.7/31", "192.168.1.6", 31},
	{"0.0.0.0/0", "0.0.0.0", 0},
	{"255.255.255.255/0", "0.0.0.0", 0},
	{"1.2.3.4/33", NULL, 0},
	{"1.2.3.4/-1", NULL, 0},
	{"1.2.3.4/+8", NULL, 0},
	{"1.2.3.4/08", NULL, 0},
	{"1.2.3.4/00", NULL, 0},
	{"1.2.3.4/ 8", NULL, 0},
	{"1.2.3.4/8 ", NULL, 0},
	{"1.2.3.4 /8", NULL, 0},
	{"1.2.3.4/", NULL, 0},
	{"1.2.3.4/1000", NULL, 0},
	{"1.2.3.4/8/8", NULL, 0},
	{"1.2.3.4/0x8", NULL, 0},
	{"010.0.0.0/8", NULL, 0},
	{"10.0.0/8", NULL, 0},
	{"10/8", NULL, 0},
	{"2130706433/32", NULL, 0},
	{"0x0a.0.0.0/8", NULL, 0},
	{"256.0.0.0/8", NULL, 0},
	{"", NULL, 0},
	{"/8", NULL, 0},
	{"fd00::/8", "fd00::", 8},
	{"fd12:3456::1/8", "fd00::", 8},
	{"2001:db8:ffff::/33", "2001:db8:8000::", 33},
	{"fe80::/10", "fe80::", 10},
	{"::/0", "::", 0},
	{"::1", "::1", 128},
	{"2001:db8::1/128", "2001:db8::1", 128},
	{"::ffff:10.1.2.3/104", "::ffff:10.0.0.0", 104},
	{"2001:db8::/129", NULL, 0},
	{"2001:db8::/0128", NULL, 0},
	{"fe80::1%eth0/64", NULL, 0},
	{"[fd00::]/8", NULL, 0},
	{"fd00::/", NULL, 0},
	{"example.com/8", NULL, 0},
};

static void
test_parse_cidr(void **state)
{
	char buf[INET6_ADDRSTRLEN];
	struct netaddr_cidr c;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(cidr_cases); i++) {
		const struct cidr_case *t = &cidr_cases[i];
		int rc = netaddr_parse_cidr(t->in, &c);

		if (t->addr == NULL) {
			if (rc != -1)
				fail_msg("'%s' accepted", t->in);
			continue;
		}
		if (rc != 0)
			fail_msg("'%s' rejected", t->in);
		assert_non_null(netaddr_ntop(&c.addr, buf, sizeof(buf)));
		if (strcmp(buf, t->addr) != 0 || c.prefix != t->prefix)
			fail_msg("'%s' -> %s/%d, want %s/%d", t->in, buf,
			    c.prefix, t->addr, t->prefix);
	}
	assert_int_equal(netaddr_parse_cidr(NULL, &c), -1);
	assert_int_equal(netaddr_parse_cidr("10.0.0.0/8", NULL), -1);
}

static void
test_set_contains(void **state)
{
	static struct netaddr_set set;
	struct netaddr_cidr c1, c2, c3;
	struct netaddr a;

	(void)state;
	netaddr_set_free(&set);
	a = lit("10.0.0.1");
	assert_false(netaddr_set_contains(&set, &a));
	c1 = cidr("10.0.0.0/8");
	c2 = cidr("fd00::/8");
	c3 = cidr("192.0.2.1");
	assert_int_equal(netaddr_set_add(&set, &c1), 0);
	assert_int_equal(netaddr_set_add(&set, &c2), 0);
	assert_int_equal(netaddr_set_add(&set, &c3), 0);
	assert_int_equal(set.n, 3);

	a = lit("10.255.255.255");
	assert_true(netaddr_set_contains(&set, &a));
	a = lit("11.0.0.0");
	assert_false(netaddr_set_contains(&set, &a));
	a = lit("9.255.255.255");
	assert_false(netaddr_set_contains(&set, &a));
	a = lit("fdff:ffff::1");
	assert_true(netaddr_set_contains(&set, &a));
	a = lit("fc00::1");
	assert_false(netaddr_set_contains(&set, &a));
	a = lit("192.0.2.1");
	assert_true(netaddr_set_contains(&set, &a));
	a = lit("192.0.2.2");
	assert_false(netaddr_set_contains(&set, &a));
	/* family only matches family: a mapped address is not 10/8 here */
	a = lit("::ffff:10.0.0.1");
	assert_false(netaddr_set_contains(&set, &a));
	assert_false(netaddr_set_contains(NULL, &a));
	assert_false(netaddr_set_contains(&set, NULL));

	/* /0 holds everything of its family */
	netaddr_set_free(&set);
	c1 = cidr("0.0.0.0/0");
	assert_int_equal(netaddr_set_add(&set, &c1), 0);
	a = lit("255.255.255.255");
	assert_true(netaddr_set_contains(&set, &a));
	a = lit("::");
	assert_false(netaddr_set_contains(&set, &a));

	/* odd prefix lengths */
	netaddr_set_free(&set);
	c1 = cidr("2001:db8:8000::/33");
	assert_int_equal(netaddr_set_add(&set, &c1), 0);
	a = lit("2001:db8:ffff::1");
	assert_true(netaddr_set_contains(&set, &a));
	a = lit("2001:db8:7fff::1");
	assert_false(netaddr_set_contains(&set, &a));
	netaddr_set_free(&set);
}

/* LIMIT_CIDRS entries fit, one more does not; bad entries are refused */
static void
test_set_limit(void **state)
{
	static struct netaddr_set set;
	struct netaddr_cidr c;
	struct netaddr a;
	char s[32];
	int i;

	(void)state;
	netaddr_set_free(&set);
	for (i = 0; i < LIMIT_CIDRS; i++) {
		snprintf(s, sizeof(s), "198.51.%d.%d/32", i / 256, i % 256);
		c = cidr(s);
		assert_int_equal(netaddr_set_add(&set, &c), 0);
	}
	assert_int_equal(set.n, LIMIT_CIDRS);
	c = cidr("203.0.113.0/24");
	assert_int_equal(netaddr_set_add(&set, &c), -1);
	assert_int_equal(set.n, LIMIT_CIDRS);
	snprintf(s, sizeof(s), "198.51.%d.%d", (LIMIT_CIDRS - 1) / 256,
	    (LIMIT_CIDRS - 1) % 256);
	a = lit(s);
	assert_true(netaddr_set_contains(&set, &a));
	a = lit("203.0.113.1");
	assert_false(netaddr_set_contains(&set, &a));

	netaddr_set_free(&set);
	c = cidr("10.0.0.0/8");
	c.prefix = 33;
	assert_int_equal(netaddr_set_add(&set, &c), -1);
	c.prefix = -1;
	assert_int_equal(netaddr_set_add(&set, &c), -1);
	c = cidr("fd00::/8");
	c.prefix = 129;
	assert_int_equal(netaddr_set_add(&set, &c), -1);
	c.addr.family = AF_UNIX;
	c.prefix = 8;
	assert_int_equal(netaddr_set_add(&set, &c), -1);
	assert_int_equal(netaddr_set_add(NULL, &c), -1);
	assert_int_equal(set.n, 0);
	netaddr_set_free(&set);
}

struct embed_case {
	const char *in;
	const char *v4; /* NULL: none */
};

static const struct embed_case embed_cases[] = {
	{"::ffff:127.0.0.1", "127.0.0.1"},
	{"::ffff:0:7f00:1", "127.0.0.1"},
	{"::127.0.0.1", "127.0.0.1"},
	{"::2", "0.0.0.2"},
	{"::", NULL},
	{"::1", NULL},
	{"64:ff9b::10.0.0.1", "10.0.0.1"},
	{"64:ff9b::1:a00:1", NULL},
	{"64:ff9b:1::a00:1", "10.0.0.1"},
	{"64:ff9b:2::a00:1", NULL},
	{"2002:c0a8:107::1", "192.168.1.7"},
	{"2002:7f00:1:ffff::", "127.0.0.1"},
	{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"},
	{"2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.1"},
	{"2001:db8::1", NULL},
	{"2001:1::1", NULL},
	{"fe80::1", NULL},
	{"2606:4700::1111", NULL},
};

static void
test_embedded_v4(void **state)
{
	char buf[INET6_ADDRSTRLEN];
	struct netaddr a, v4;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(embed_cases); i++) {
		const struct embed_case *t = &embed_cases[i];
		int rc;

		a = lit(t->in);
		rc = netaddr_embedded_v4(&a, &v4);
		if (t->v4 == NULL) {
			if (rc != 0)
				fail_msg("'%s' has an embedded address",
				    t->in);
			continue;
		}
		if (rc != 1)
			fail_msg("'%s' has no embedded address", t->in);
		assert_int_equal(v4.family, AF_INET);
		netaddr_ntop(&v4, buf, sizeof(buf));
		if (strcmp(buf, t->v4) != 0)
			fail_msg("'%s' embeds %s, want %s", t->in, buf, t->v4);
	}
	a = lit("127.0.0.1");
	assert_int_equal(netaddr_embedded_v4(&a, &v4), 0);
}

struct class_case {
	const char *in;
	enum netaddr_class want;
};

static const struct class_case class_cases[] = {
	{"0.0.0.0", NETADDR_UNSPECIFIED},
	{"0.255.255.255", NETADDR_UNSPECIFIED},
	{"1.0.0.0", NETADDR_PUBLIC},
	{"8.8.8.8", NETADDR_PUBLIC},
	{"126.255.255.255", NETADDR_PUBLIC},
	{"127.0.0.1", NETADDR_LOOPBACK},
	{"127.255.255.255", NETADDR_LOOPBACK},
	{"128.0.0.0", NETADDR_PUBLIC},
	{"169.254.169.254", NETADDR_LINK_LOCAL},
	{"169.254.0.0", NETADDR_LINK_LOCAL},
	{"169.253.255.255", NETADDR_PUBLIC},
	{"169.255.0.0", NETADDR_PUBLIC},
	{"223.255.255.255", NETADDR_PUBLIC},
	{"224.0.0.1", NETADDR_MULTICAST},
	{"239.255.255.255", NETADDR_MULTICAST},
	{"240.0.0.0", NETADDR_BROADCAST},
	{"254.1.2.3", NETADDR_BROADCAST},
	{"255.255.255.255", NETADDR_BROADCAST},
	{"9.255.255.255", NETADDR_PUBLIC},
	{"10.0.0.0", NETADDR_PRIVATE},
	{"10.255.255.255", NETADDR_PRIVATE},
	{"11.0.0.0", NETADDR_PUBLIC},
	{"172.15.255.255", NETADDR_PUBLIC},
	{"172.16.0.0", NETADDR_PRIVATE},
	{"172.31.255.255", NETADDR_PRIVATE},
	{"172.32.0.0", NETADDR_PUBLIC},
	{"192.167.255.255", NETADDR_PUBLIC},
	{"192.168.0.0", NETADDR_PRIVATE},
	{"192.168.255.255", NETADDR_PRIVATE},
	{"192.169.0.0", NETADDR_PUBLIC},
	{"100.63.255.255", NETADDR_PUBLIC},
	{"100.64.0.0", NETADDR_CGNAT},
	{"100.127.255.255", NETADDR_CGNAT},
	{"100.128.0.0", NETADDR_PUBLIC},
	{"198.18.0.1", NETADDR_PUBLIC},
	{"192.0.2.1", NETADDR_PUBLIC},
	{"::", NETADDR_UNSPECIFIED},
	{"::1", NETADDR_LOOPBACK},
	{"fe80::1", NETADDR_LINK_LOCAL},
	{"febf:ffff::1", NETADDR_LINK_LOCAL},
	{"fec0::1", NETADDR_ULA},
	{"feff::1", NETADDR_ULA},
	{"fe7f::1", NETADDR_PUBLIC},
	{"ff02::1", NETADDR_MULTICAST},
	{"ff0e::101", NETADDR_MULTICAST},
	{"fc00::1", NETADDR_ULA},
	{"fdff:ffff::1", NETADDR_ULA},
	{"fbff::1", NETADDR_PUBLIC},
	{"2001:db8::1", NETADDR_PUBLIC},
	{"2606:4700::1111", NETADDR_PUBLIC},
	/* IPv6 that embeds IPv4: judged by the IPv4 address */
	{"::ffff:127.0.0.1", NETADDR_LOOPBACK},
	{"::ffff:10.1.2.3", NETADDR_PRIVATE},
	{"::ffff:8.8.8.8", NETADDR_PUBLIC},
	{"::ffff:169.254.169.254", NETADDR_LINK_LOCAL},
	{"::ffff:0.0.0.0", NETADDR_UNSPECIFIED},
	{"::ffff:255.255.255.255", NETADDR_BROADCAST},
	{"::ffff:224.0.0.1", NETADDR_MULTICAST},
	{"::ffff:100.64.0.1", NETADDR_CGNAT},
	{"::ffff:0:7f00:1", NETADDR_LOOPBACK},
	{"::127.0.0.1", NETADDR_LOOPBACK},
	{"::10.0.0.1", NETADDR_PRIVATE},
	{"::2", NETADDR_UNSPECIFIED},
	{"64:ff9b::a9fe:a9fe", NETADDR_LINK_LOCAL},
	{"64:ff9b::808:808", NETADDR_PUBLIC},
	{"64:ff9b::c0a8:107", NETADDR_PRIVATE},
	{"64:ff9b:1::808:808", NETADDR_PUBLIC},
	{"64:ff9b:1::7f00:1", NETADDR_LOOPBACK},
	/* /48 layout inside the local-use prefix: 10.0.1.1 */
	{"64:ff9b:1:a00:1:100::", NETADDR_PRIVATE},
	/* /64 layout: 127.0.0.1 at bits 72..103 */
	{"64:ff9b:1:0:7f:0:100:0", NETADDR_LOOPBACK},
	{"64:ff9b:1::", NETADDR_UNSPECIFIED},
	{"2002:7f00:1::", NETADDR_LOOPBACK},
	{"2002:a9fe:a9fe::1", NETADDR_LINK_LOCAL},
	{"2002:808:808::1", NETADDR_PUBLIC},
	{"2001:0:4136:e378:8000:63bf:80ff:fffe", NETADDR_LOOPBACK},
	{"2001:0:4136:e378:8000:63bf:3fff:fdd2", NETADDR_PUBLIC},
	{"2001:0:4136:e378:8000:63bf:f5ff:fffe", NETADDR_PRIVATE},
};

static void
test_classify(void **state)
{
	struct netaddr a;
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(class_cases); i++) {
		enum netaddr_class c;

		a = lit(class_cases[i].in);
		c = netaddr_classify(&a);
		if (c != class_cases[i].want)
			fail_msg("'%s' is %s, want %s", class_cases[i].in,
			    netaddr_class_name(c),
			    netaddr_class_name(class_cases[i].want));
	}
}

static void
test_class_names(void **state)
{
	(void)state;
	assert_string_equal(netaddr_class_name(NETADDR_PUBLIC), "public");
	assert_string_equal(netaddr_class_name(NETADDR_LOOPBACK), "loopback");
	assert_string_equal(netaddr_class_name(NETADDR_LINK_LOCAL),
	    "link-local");
	assert_string_equal(netaddr_class_name(NETADDR_PRIVATE), "private");
	assert_string_equal(netaddr_class_name((enum netaddr_class)99),
	    "unknown");

	assert_true(netaddr_class_always_denied(NETADDR_LOOPBACK));
	assert_true(netaddr_class_always_denied(NETADDR_LINK_LOCAL));
	assert_true(netaddr_class_always_denied(NETADDR_UNSPECIFIED));
	assert_true(netaddr_class_always_denied(NETADDR_MULTICAST));
	assert_true(netaddr_class_always_denied(NETADDR_BROADCAST));
	assert_false(netaddr_class_always_denied(NETADDR_PUBLIC));
	assert_false(netaddr_class_always_denied(NETADDR_PRIVATE));
	assert_false(netaddr_class_always_denied(NETADDR_CGNAT));
	assert_false(netaddr_class_always_denied(NETADDR_ULA));
}

struct check_case {
	const char *in;
	const char *reason; /* NULL: allowed */
};

/*
 * own = 198.51.100.1, 2001:db8:1::1
 * deny = 192.168.1.0/24, 203.0.113.0/24, 2001:db8:dead::/48
 * allow = 192.168.0.0/16, 100.64.0.0/10, fd00:1::/32, 127.0.0.0/8 (which
 *         must not open loopback)
 */
static const struct check_case check_cases[] = {
	{"8.8.8.8", NULL},
	{"2606:4700::1111", NULL},
	{"127.0.0.1", "loopback address"},
	{"::1", "loopback address"},
	{"::ffff:127.0.0.1", "loopback address"},
	{"169.254.169.254", "link-local address"},
	{"fe80::1", "link-local address"},
	{"64:ff9b::a9fe:a9fe", "link-local address"},
	{"0.0.0.0", "unspecified address"},
	{"::", "unspecified address"},
	{"224.0.0.251", "multicast address"},
	{"ff02::fb", "multicast address"},
	{"255.255.255.255", "broadcast or reserved address"},
	{"240.0.0.1", "broadcast or reserved address"},
	{"198.51.100.1", "proxy's own address"},
	{"::ffff:198.51.100.1", "proxy's own address"},
	{"2001:db8:1::1", "proxy's own address"},
	{"198.51.100.2", NULL},
	{"192.168.1.7", "denied by --deny-cidr"},
	{"::ffff:192.168.1.7", "denied by --deny-cidr"},
	{"64:ff9b::c0a8:107", "denied by --deny-cidr"},
	{"2002:c0a8:107::1", "denied by --deny-cidr"},
	{"203.0.113.9", "denied by --deny-cidr"},
	{"::ffff:203.0.113.9", "denied by --deny-cidr"},
	{"2001:db8:dead::1", "denied by --deny-cidr"},
	{"192.168.2.1", NULL},
	{"::ffff:192.168.2.1", NULL},
	{"10.0.0.1", "private address"},
	{"::ffff:10.0.0.1", "private address"},
	{"172.16.0.1", "private address"},
	{"100.64.0.1", NULL},
	{"100.127.0.1", NULL},
	{"fd00:1::5", NULL},
	{"fd00:2::5", "unique-local address"},
	{"fec0::1", "unique-local address"},
	{"2001:db8:2::1", NULL},
};

/* every case of check_cases against these sets */
static void
check_cases_run(const struct netaddr_set *own, const struct netaddr_set *deny,
    const struct netaddr_set *allow)
{
	struct netaddr a;
	const char *reason;
	size_t i;
	int rc;

	for (i = 0; i < NELEM(check_cases); i++) {
		const struct check_case *t = &check_cases[i];

		a = lit(t->in);
		reason = "unset";
		rc = netaddr_check(&a, own, deny, allow, &reason);
		if (t->reason == NULL) {
			if (rc != 1)
				fail_msg("'%s' denied (%s)", t->in,
				    reason ? reason : "no reason");
			continue;
		}
		if (rc != 0)
			fail_msg("'%s' allowed", t->in);
		if (reason == NULL || strcmp(reason, t->reason) != 0)
			fail_msg("'%s' denied with '%s', want '%s'", t->in,
			    reason ? reason : "(null)", t->reason);
	}
}

static void
test_check(void **state)
{
	static struct netaddr_set own, deny, allow;
	static const char *const own_s[] = {"198.51.100.1", "2001:db8:1::1"};
	static const char *const deny_s[] = {"192.168.1.0/24",
	    "203.0.113.0/24", "2001:db8:dead::/48"};
	static const char *const allow_s[] = {"192.168.0.0/16",
	    "100.64.0.0/10", "fd00:1::/32", "127.0.0.0/8"};
	struct netaddr_cidr c;
	size_t i;

	(void)state;
	memset(&own, 0, sizeof(own));
	memset(&deny, 0, sizeof(deny));
	memset(&allow, 0, sizeof(allow));
	for (i = 0; i < NELEM(own_s); i++) {
		c = cidr(own_s[i]);
		assert_int_equal(netaddr_set_add(&own, &c), 0);
	}
	for (i = 0; i < NELEM(deny_s); i++) {
		c = cidr(deny_s[i]);
		assert_int_equal(netaddr_set_add(&deny, &c), 0);
	}
	for (i = 0; i < NELEM(allow_s); i++) {
		c = cidr(allow_s[i]);
		assert_int_equal(netaddr_set_add(&allow, &c), 0);
	}
	check_cases_run(&own, &deny, &allow);
	/* the own set sorted, as the proxy has it: the same by binary search */
	netaddr_set_sort(&own);
	assert_true(own.is_sorted);
	assert_int_equal(own.n, NELEM(own_s));
	check_cases_run(&own, &deny, &allow);
	netaddr_set_free(&own);
	netaddr_set_free(&deny);
	netaddr_set_free(&allow);
}

/* no sets at all: only public addresses pass */
static void
test_check_no_sets(void **state)
{
	struct netaddr a;
	const char *reason = NULL;

	(void)state;
	a = lit("8.8.8.8");
	assert_int_equal(netaddr_check(&a, NULL, NULL, NULL, &reason), 1);
	a = lit("10.0.0.1");
	assert_int_equal(netaddr_check(&a, NULL, NULL, NULL, &reason), 0);
	assert_string_equal(reason, "private address");
	a = lit("100.64.0.1");
	assert_int_equal(netaddr_check(&a, NULL, NULL, NULL, &reason), 0);
	assert_string_equal(reason, "carrier-grade NAT address");
	a = lit("fd00::1");
	assert_int_equal(netaddr_check(&a, NULL, NULL, NULL, &reason), 0);
	assert_string_equal(reason, "unique-local address");
	/* reason may be NULL */
	assert_int_equal(netaddr_check(&a, NULL, NULL, NULL, NULL), 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(netaddr_check(&a, NULL, NULL, NULL, &reason), 0);
	assert_non_null(reason);
}

/* an allow written for IPv6 does not open the IPv4 inside it */
static void
test_check_allow_family(void **state)
{
	static struct netaddr_set allow;
	struct netaddr_cidr c;
	struct netaddr a;
	const char *reason = NULL;

	(void)state;
	memset(&allow, 0, sizeof(allow));
	c = cidr("::/0");
	assert_int_equal(netaddr_set_add(&allow, &c), 0);
	a = lit("::ffff:10.0.0.1");
	assert_int_equal(netaddr_check(&a, NULL, NULL, &allow, &reason), 0);
	assert_string_equal(reason, "private address");
	a = lit("fd00::1");
	assert_int_equal(netaddr_check(&a, NULL, NULL, &allow, &reason), 1);
	c = cidr("10.0.0.0/8");
	assert_int_equal(netaddr_set_add(&allow, &c), 0);
	a = lit("::ffff:10.0.0.1");
	assert_int_equal(netaddr_check(&a, NULL, NULL, &allow, &reason), 1);
	a = lit("64:ff9b::a00:1");
	assert_int_equal(netaddr_check(&a, NULL, NULL, &allow, &reason), 1);
	netaddr_set_free(&allow);
}

static void
test_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct netaddr a, b;
	unsigned int len = 0;

	(void)state;
	a = lit("192.0.2.1");
	netaddr_to_sockaddr(&a, 8080, &ss, &len);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	memcpy(&sin, &ss, sizeof(sin));
	assert_int_equal(sin.sin_family, AF_INET);
	assert_int_equal(ntohs(sin.sin_port), 8080);
	assert_int_equal(sin.sin_addr.s_addr, htonl(0xc0000201));
	assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
	assert_int_equal(b.family, AF_INET);
	assert_memory_equal(&a.u.v4, &b.u.v4, sizeof(a.u.v4));

	a = lit("2001:db8::5");
	netaddr_to_sockaddr(&a, 443, &ss, &len);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	memcpy(&sin6, &ss, sizeof(sin6));
	assert_int_equal(sin6.sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6.sin6_port), 443);
	assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
	assert_int_equal(b.family, AF_INET6);
	assert_memory_equal(&a.u.v6, &b.u.v6, sizeof(a.u.v6));

	/* a v4-mapped peer from an IPv6 socket stays AF_INET6 */
	a = lit("::ffff:127.0.0.1");
	netaddr_to_sockaddr(&a, 1, &ss, &len);
	assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&ss, &b), 0);
	assert_int_equal(b.family, AF_INET6);
	assert_int_equal(netaddr_classify(&b), NETADDR_LOOPBACK);

	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&ss, &b), -1);
	assert_int_equal(netaddr_from_sockaddr(NULL, &b), -1);
}

/*
 * getifaddrs, freeifaddrs and realloc as the tests want them: a made-up
 * list of fake_n addresses (fake_n IPv4 10.x.y.z, each also as fd00::N,
 * and the first one twice), a failure with fake_errno, or realloc failing
 * once fake_realloc_left more calls have passed.  Off (-1, 0, -1): the
 * real ones.
 */
int __real_getifaddrs(struct ifaddrs **ifap);
void __real_freeifaddrs(struct ifaddrs *ifa);
void *__real_realloc(void *p, size_t n);
int __wrap_getifaddrs(struct ifaddrs **ifap);
void __wrap_freeifaddrs(struct ifaddrs *ifa);
void *__wrap_realloc(void *p, size_t n);

static long fake_n = -1;
static int fake_errno;
static long fake_realloc_left = -1;

struct fake_if {
	struct ifaddrs ifa;
	struct sockaddr_storage ss;
};

static struct fake_if *fake_list;

static void
fake_v4(size_t k, struct sockaddr_storage *ss)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(0x0a000000u | (uint32_t)(k + 1));
	memcpy(ss, &sin, sizeof(sin));
}

static void
fake_v6(size_t k, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 sin6;
	uint32_t v = htonl((uint32_t)(k + 1));

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_addr.s6_addr[0] = 0xfd;
	memcpy(&sin6.sin6_addr.s6_addr[12], &v, 4);
	memcpy(ss, &sin6, sizeof(sin6));
}

int
__wrap_getifaddrs(struct ifaddrs **ifap)
{
	size_t k, total, i = 0;

	if (fake_errno != 0) {
		errno = fake_errno;
		return -1;
	}
	if (fake_n < 0)
		return __real_getifaddrs(ifap);
	/* fake_n addresses, at most half IPv6, plus one repeated */
	total = (size_t)fake_n + 1;
	fake_list = calloc(total, sizeof(*fake_list));
	assert_non_null(fake_list);
	for (k = 0; k < (size_t)fake_n; k++, i++) {
		if (k % 2 == 0)
			fake_v4(k / 2, &fake_list[i].ss);
		else
			fake_v6(k / 2, &fake_list[i].ss);
	}
	fake_v4(0, &fake_list[i++].ss);
	for (k = 0; k < total; k++) {
		fake_list[k].ifa.ifa_addr = (struct sockaddr *)&fake_list[k].ss;
		fake_list[k].ifa.ifa_next = k + 1 < total ?
		    &fake_list[k + 1].ifa : NULL;
	}
	*ifap = &fake_list[0].ifa;
	return 0;
}

void
__wrap_freeifaddrs(struct ifaddrs *ifa)
{
	if (fake_list != NULL && ifa == &fake_list[0].ifa) {
		free(fake_list);
		fake_list = NULL;
		return;
	}
	__real_freeifaddrs(ifa);
}

void *
__wrap_realloc(void *p, size_t n)
{
	if (fake_realloc_left == 0)
		return NULL;
	if (fake_realloc_left > 0)
		fake_realloc_left--;
	return __real_realloc(p, n);
}

/* a set grows as it fills, up to the ceiling it was given */
static void
test_set_grows(void **state)
{
	struct netaddr_set set;
	struct netaddr_cidr c;
	struct sockaddr_storage ss;
	size_t k;

	(void)state;
	netaddr_set_init(&set, 5000);
	for (k = 0; k < 5000; k++) {
		memset(&c, 0, sizeof(c));
		fake_v4(k, &ss);
		assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&ss,
		    &c.addr), 0);
		c.prefix = 32;
		assert_int_equal(netaddr_set_add(&set, &c), 0);
	}
	assert_int_equal(set.n, 5000);
	errno = 0;
	assert_int_equal(netaddr_set_add(&set, &c), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(set.n, 5000);
	/* every one found, by a scan and by a binary search */
	for (k = 0; k < 5000; k += 499) {
		fake_v4(k, &ss);
		assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&ss,
		    &c.addr), 0);
		assert_true(netaddr_set_contains(&set, &c.addr));
	}
	netaddr_set_sort(&set);
	assert_true(set.is_sorted);
	for (k = 0; k < 5001; k++) {
		fake_v4(k, &ss);
		assert_int_equal(netaddr_from_sockaddr((struct sockaddr *)&ss,
		    &c.addr), 0);
		assert_int_equal(netaddr_set_contains(&set, &c.addr), k < 5000);
	}
	/* a CIDR added makes it a set to scan again */
	c = cidr("192.0.2.0/24");
	netaddr_set_free(&set);
	assert_int_equal(netaddr_set_add(&set, &c), 0);
	netaddr_set_sort(&set);
	assert_false(set.is_sorted);
	c.addr = lit("192.0.2.77");
	assert_true(netaddr_set_contains(&set, &c.addr));
	netaddr_set_free(&set);
	/* a set that cannot grow says so and keeps what it has */
	netaddr_set_init(&set, 0);
	for (k = 0; k < 16; k++) {
		c = cidr("10.0.0.0/8");
		assert_int_equal(netaddr_set_add(&set, &c), 0);
	}
	fake_realloc_left = 0;
	errno = 0;
	assert_int_equal(netaddr_set_add(&set, &c), -1);
	fake_realloc_left = -1;
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(set.n, 16);
	netaddr_set_free(&set);
	netaddr_set_free(NULL);
}

/* more addresses than the old fixed 256, and as many as the ceiling (the
 * repeated one counts as listed): all in the set, duplicates once, sorted */
static void
test_local_addrs_many(void **state)
{
	static const long counts[] = { 301, 600, LIMIT_OWN_ADDRS - 1 };
	struct netaddr_set set;
	struct sockaddr_storage ss;
	struct netaddr a;
	size_t i, k;

	(void)state;
	for (i = 0; i < NELEM(counts); i++) {
		fake_n = counts[i];
		assert_int_equal(netaddr_local_addrs(&set), 0);
		fake_n = -1;
		assert_int_equal(set.n, (size_t)counts[i]);
		assert_true(set.is_sorted);
		for (k = 0; k < (size_t)counts[i]; k++) {
			if (k % 2 == 0)
				fake_v4(k / 2, &ss);
			else
				fake_v6(k / 2, &ss);
			assert_int_equal(netaddr_from_sockaddr(
			    (struct sockaddr *)&ss, &a), 0);
			assert_true(netaddr_set_contains(&set, &a));
		}
		a = lit("10.255.255.254");
		assert_false(netaddr_set_contains(&set, &a));
		netaddr_set_free(&set);
	}
}

/* never a part of the addresses: past the ceiling, when getifaddrs fails,
 * when memory runs out, the answer is -1 and an empty set */
static void
test_local_addrs_fail(void **state)
{
	struct netaddr_set set;

	(void)state;
	fake_n = LIMIT_OWN_ADDRS + 1;
	errno = 0;
	assert_int_equal(netaddr_local_addrs(&set), -1);
	fake_n = -1;
	assert_int_equal(errno, E2BIG);
	assert_int_equal(set.n, 0);
	assert_null(set.cidrs);

	fake_errno = EMFILE;
	assert_int_equal(netaddr_local_addrs(&set), -1);
	fake_errno = 0;
	assert_int_equal(errno, EMFILE);
	assert_int_equal(set.n, 0);
	assert_null(set.cidrs);

	/* the third growth fails (16, 32, then 64 entries) */
	fake_n = 600;
	fake_realloc_left = 2;
	assert_int_equal(netaddr_local_addrs(&set), -1);
	fake_realloc_left = -1;
	fake_n = -1;
	assert_int_equal(errno, ENOMEM);
	assert_int_equal(set.n, 0);
	assert_null(set.cidrs);
	assert_null(fake_list); /* the list was freed on the way out */
}

/* every address getifaddrs reports is in the set, as a host entry */
static void
test_local_addrs(void **state)
{
	static struct netaddr_set set;
	struct ifaddrs *ifa = NULL, *i;
	struct netaddr a;
	size_t k, seen = 0;

	(void)state;
	memset(&set, 0xa5, sizeof(set));
	assert_int_equal(netaddr_local_addrs(&set), 0);
	assert_true(set.n <= LIMIT_OWN_ADDRS);
	for (k = 0; k < set.n; k++)
		assert_int_equal(set.cidrs[k].prefix,
		    set.cidrs[k].addr.family == AF_INET ? 32 : 128);
	assert_int_equal(getifaddrs(&ifa), 0);
	for (i = ifa; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || (i->ifa_addr->sa_family != AF_INET &&
		    i->ifa_addr->sa_family != AF_INET6))
			continue;
		assert_int_equal(netaddr_from_sockaddr(i->ifa_addr, &a), 0);
		assert_true(netaddr_set_contains(&set, &a));
		seen++;
	}
	freeifaddrs(ifa);
	/* duplicates are kept once */
	assert_true(set.n <= seen);
	assert_true(set.n > 0 || seen == 0);
	assert_int_equal(netaddr_local_addrs(NULL), -1);
	netaddr_set_free(&set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_literal),
		cmocka_unit_test(test_parse_literal_limit),
		cmocka_unit_test(test_ntop),
		cmocka_unit_test(test_parse_cidr),
		cmocka_unit_test(test_set_contains),
		cmocka_unit_test(test_set_limit),
		cmocka_unit_test(test_embedded_v4),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_class_names),
		cmocka_unit_test(test_check),
		cmocka_unit_test(test_check_no_sets),
		cmocka_unit_test(test_check_allow_family),
		cmocka_unit_test(test_sockaddr),
		cmocka_unit_test(test_local_addrs),
		cmocka_unit_test(test_set_grows),
		cmocka_unit_test(test_local_addrs_many),
		cmocka_unit_test(test_local_addrs_fail),
	};

	return cmocka_run_group_tests(tests, 0, NULL);
}
