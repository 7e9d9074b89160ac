/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the per-address connection counts (peers.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "peers.h"

static struct netaddr
addr(const char *s)
{
	struct netaddr a;

	if (netaddr_parse_literal(s, strlen(s), &a) != 0)
		fail_msg("bad literal %s", s);
	return a;
}

/* Up to the limit per address; other addresses are not held up. */
static void
test_peers_limit(void **state)
{
	struct peers *t = peers_new(64);
	struct netaddr a = addr("192.168.222.2"), b = addr("192.168.222.3");
	struct netaddr v6 = addr("2001:db8::2");
	int i;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < 5; i++)
		assert_int_equal(peers_take(t, &a, 5, 2), PEER_OPEN);
	/* beyond the limit: refused with an answer twice, then dropped */
	assert_int_equal(peers_take(t, &a, 5, 2), PEER_REFUSING);
	assert_int_equal(peers_take(t, &a, 5, 2), PEER_REFUSING);
	assert_int_equal(peers_take(t, &a, 5, 2), PEER_NONE);
	assert_int_equal(peers_count(t, &a), 5);
	assert_int_equal(peers_refusing(t, &a), 2);
	assert_int_equal(peers_take(t, &b, 5, 2), PEER_OPEN);
	assert_int_equal(peers_take(t, &v6, 5, 2), PEER_OPEN);
	assert_int_equal(peers_count(t, &b), 1);
	assert_int_equal(peers_size(t), 3);
	/* a refusal over: one more may be refused with an answer */
	peers_give(t, &a, PEER_REFUSING);
	assert_int_equal(peers_take(t, &a, 5, 2), PEER_REFUSING);
	/* one served connection closed: one more served */
	peers_give(t, &a, PEER_OPEN);
	assert_int_equal(peers_count(t, &a), 4);
	assert_int_equal(peers_take(t, &a, 5, 2), PEER_OPEN);
	assert_int_equal(peers_take(t, &a, 5, 2), PEER_NONE);
	/* giving back nothing changes nothing */
	peers_give(t, &a, PEER_NONE);
	assert_int_equal(peers_count(t, &a), 5);
	assert_int_equal(peers_refusing(t, &a), 2);
	/* limits of 0: nothing for a new address, not even an entry */
	assert_int_equal(peers_take(t, &v6, 0, 0), PEER_NONE);
	assert_int_equal(peers_count(t, &v6), 1);
	assert_int_equal(peers_size(t), 3);
	peers_free(t);
}

/* IPv6 addresses count with their network of the table's prefix length;
 * IPv4 and IPv4-mapped ones whole. */
static void
test_peers_prefix6(void **state)
{
	static const struct {
		unsigned prefix;
		const char *a, *b;
		int is_same;
	} cases[] = {
	    {64, "2001:db8:0:1::2", "2001:db8:0:1:ffff::9", 1},
	    {64, "2001:db8:0:1::2", "2001:db8:0:2::2", 0},
	    {128, "2001:db8:0:1::2", "2001:db8:0:1::3", 0},
	    {128, "2001:db8:0:1::2", "2001:db8:0:1::2", 1},
	    {56, "2001:db8:0:1::2", "2001:db8:0:ff::2", 1},
	    {56, "2001:db8:0:1::2", "2001:db8:0:100::2", 0},
	    {61, "2001:db8:0:8::1", "2001:db8:0:f::1", 1},
	    {61, "2001:db8:0:8::1", "2001:db8:0:10::1", 0},
	    {32, "2001:db8:1::1", "2001:db8:ffff::1", 1},
	    {32, "2001:db8::1", "2001:db9::1", 0},
	    {48, "::ffff:192.168.222.2", "::ffff:192.168.222.3", 0},
	    {48, "192.168.222.2", "192.168.222.3", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct peers *t = peers_new(cases[i].prefix);
		struct netaddr a = addr(cases[i].a), b = addr(cases[i].b);

		assert_non_null(t);
		assert_int_equal(peers_take(t, &a, 1, 0), PEER_OPEN);
		/* the same peer: b finds a's slot taken */
		if ((peers_take(t, &b, 1, 0) == PEER_NONE) != cases[i].is_same)
			fail_msg("/%u: %s and %s %s one peer", cases[i].prefix,
			    cases[i].a, cases[i].b,
			    cases[i].is_same ? "should be" : "are not");
		assert_int_equal(peers_size(t), cases[i].is_same ? 1 : 2);
		peers_free(t);
	}
}

/* An entry lives only while its address has a connection; a give for an
 * address with none changes nothing. */
static void
test_peers_come_and_go(void **state)
{
	struct peers *t = peers_new(64);
	struct netaddr a = addr("10.0.0.1"), b = addr("10.0.0.2");

	(void)state;
	assert_non_null(t);
	peers_give(t, &a, PEER_OPEN);
	assert_int_equal(peers_size(t), 0);
	assert_int_equal(peers_take(t, &a, 2, 1), PEER_OPEN);
	assert_int_equal(peers_take(t, &a, 2, 1), PEER_OPEN);
	assert_int_equal(peers_take(t, &a, 2, 1), PEER_REFUSING);
	assert_int_equal(peers_size(t), 1);
	peers_give(t, &a, PEER_OPEN);
	peers_give(t, &a, PEER_OPEN);
	/* still held by its refusal */
	assert_int_equal(peers_size(t), 1);
	peers_give(t, &a, PEER_REFUSING);
	assert_int_equal(peers_size(t), 0);
	assert_int_equal(peers_count(t, &a), 0);
	peers_give(t, &a, PEER_OPEN);
	peers_give(t, &a, PEER_REFUSING);
	assert_int_equal(peers_count(t, &a), 0);
	assert_int_equal(peers_take(t, &b, 1, 0), PEER_OPEN);
	assert_int_equal(peers_take(t, &a, 1, 0), PEER_OPEN);
	assert_int_equal(peers_size(t), 2);
	peers_free(t); /* with entries left: freed too (ASan checks) */
	peers_free(NULL);
}

/* IPv6 addresses count by their /64; IPv4-mapped ones whole. */
static void
test_peers_v6_prefix(void **state)
{
	struct peers *t = peers_new(64);
	struct netaddr a = addr("2001:db8:1:2::5"), b = addr("2001:db8:1:2:aa::7");
	struct netaddr other = addr("2001:db8:1:3::5");
	struct netaddr m1 = addr("::ffff:10.0.0.1"), m2 = addr("::ffff:10.0.0.2");

	(void)state;
	assert_non_null(t);
	assert_int_equal(peers_take(t, &a, 2, 0), PEER_OPEN);
	assert_int_equal(peers_take(t, &b, 2, 0), PEER_OPEN);
	assert_int_equal(peers_take(t, &b, 2, 0), PEER_NONE);
	assert_int_equal(peers_count(t, &a), 2);
	assert_int_equal(peers_take(t, &other, 2, 0), PEER_OPEN);
	assert_int_equal(peers_take(t, &m1, 1, 0), PEER_OPEN);
	assert_int_equal(peers_take(t, &m2, 1, 0), PEER_OPEN);
	assert_int_equal(peers_size(t), 4);
	peers_give(t, &b, PEER_OPEN);
	peers_give(t, &a, PEER_OPEN);
	assert_int_equal(peers_size(t), 3);
	peers_free(t);
}

/* Many addresses, sharing chains: each counted on its own. */
static void
test_peers_many(void **state)
{
	struct peers *t = peers_new(64);
	struct netaddr a;
	char s[64];
	int i, j;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < 3000; i++) {
		snprintf(s, sizeof(s), "10.%d.%d.1", i / 250, i % 250);
		a = addr(s);
		for (j = 0; j <= i % 3; j++)
			assert_int_equal(peers_take(t, &a, 3, 0), PEER_OPEN);
	}
	assert_int_equal(peers_size(t), 3000);
	for (i = 0; i < 3000; i++) {
		snprintf(s, sizeof(s), "10.%d.%d.1", i / 250, i % 250);
		a = addr(s);
		assert_int_equal(peers_count(t, &a), (unsigned)(i % 3) + 1);
		if (i % 3 == 2)
			assert_int_equal(peers_take(t, &a, 3, 0), PEER_NONE);
		peers_give(t, &a, PEER_OPEN);
	}
	for (i = 0; i < 3000; i++) {
		snprintf(s, sizeof(s), "10.%d.%d.1", i / 250, i % 250);
		a = addr(s);
		assert_int_equal(peers_count(t, &a), (unsigned)(i % 3));
	}
	assert_int_equal(peers_size(t), 2000);
	peers_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_peers_limit),
	    cmocka_unit_test(test_peers_come_and_go),
	    cmocka_unit_test(test_peers_v6_prefix),
	    cmocka_unit_test(test_peers_prefix6),
	    cmocka_unit_test(test_peers_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
