/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_dnsgiven.c - answers given to clients: found for the same client,
 * name and address until they expire, never for another client, name or
 * address (IPv4 and IPv6 apart); a later answer extends an entry; a table
 * filled far past its size still finds what was added last and never
 * finds what was not added; bad sizes are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "dnsgiven.h"
#include "netaddr.h"

static struct netaddr
addr(const char *s)
{
	struct netaddr a;

	assert_int_equal(netaddr_parse_literal(s, strlen(s), &a), 0);
	return a;
}

static void
test_found_until_expiry(void **state)
{
	struct dnsgiven *t = dnsgiven_new(64);
	struct netaddr y = addr("140.82.112.3"), z = addr("140.82.112.4");
	struct netaddr y6 = addr("2001:db8::3");
	struct netaddr y6as4 = addr("::ffff:140.82.112.3");

	(void)state;
	assert_non_null(t);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &y, 1000), 0);
	dnsgiven_add(t, 7, "github.com", &y, 1000, 5000);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &y, 1000), 1);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &y, 4999), 1);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &y, 5000), 0);
	/* another client, name, address, family */
	assert_int_equal(dnsgiven_has(t, 8, "github.com", &y, 1000), 0);
	assert_int_equal(dnsgiven_has(t, 7, "gitlab.com", &y, 1000), 0);
	assert_int_equal(dnsgiven_has(t, 7, "github.co", &y, 1000), 0);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &z, 1000), 0);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &y6as4, 1000), 0);
	dnsgiven_add(t, 7, "github.com", &y6, 1000, 5000);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &y6, 1000), 1);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &z, 1000), 0);
	/* given again later: the later expiry holds; an earlier one does
	 * not shorten it */
	dnsgiven_add(t, 7, "github.com", &y, 4000, 9000);
	dnsgiven_add(t, 7, "github.com", &y, 4000, 6000);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &y, 8999), 1);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &y, 9000), 0);
	/* expired, then given again */
	dnsgiven_add(t, 7, "github.com", &y6, 20000, 30000);
	assert_int_equal(dnsgiven_has(t, 7, "github.com", &y6, 29999), 1);
	assert_int_equal(dnsgiven_has(NULL, 7, "github.com", &y6, 1000), 0);
	dnsgiven_add(NULL, 7, "github.com", &y6, 1000, 2000);
	dnsgiven_free(t);
	dnsgiven_free(NULL);
}

/* 16 slots, 10,000 entries: the newest are there (each add keeps the
 * entries that expire last in its probe window), nothing never added is
 * ever found, and the table never grows. */
static void
test_full_table(void **state)
{
	struct dnsgiven *t = dnsgiven_new(16);
	struct netaddr a;
	char name[64];
	int i, found = 0;

	(void)state;
	assert_non_null(t);
	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		a = addr("198.51.100.7");
		dnsgiven_add(t, 1, name, &a, i, 100000 + i);
	}
	snprintf(name, sizeof(name), "h%d.example", 9999);
	assert_int_equal(dnsgiven_has(t, 1, name, &a, 10000), 1);
	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		found += dnsgiven_has(t, 1, name, &a, 10000);
		assert_int_equal(dnsgiven_has(t, 2, name, &a, 10000), 0);
	}
	assert_true(found >= 8 && found <= 16);
	for (i = 10000; i < 20000; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		assert_int_equal(dnsgiven_has(t, 1, name, &a, 10000), 0);
	}
	dnsgiven_free(t);
}

static void
test_bad_sizes(void **state)
{
	(void)state;
	assert_null(dnsgiven_new(0));
	assert_null(dnsgiven_new(4));
	assert_null(dnsgiven_new(100));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_found_until_expiry),
		cmocka_unit_test(test_full_table),
		cmocka_unit_test(test_bad_sizes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
