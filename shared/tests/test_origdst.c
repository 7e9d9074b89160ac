/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_origdst.c - the Slicer-Original-Destination field: the one spelling
 * accepted for each address, every other value refused (repeated fields,
 * names, ports, brackets, zones, lists, other spellings, over-long
 * values), the line the agent writes read back to the same address, and
 * netaddr_equal, which the proxy compares a resolved address with it by.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "http1.h"
#include "netaddr.h"
#include "origdst.h"

/* Parse a request head made of the given header lines (each "Name: v"). */
static void
parse_head(const char *fields, char *buf, size_t size,
    struct http1_request *req)
{
	int n = snprintf(buf, size,
	    "CONNECT db.test:5432 HTTP/1.1\r\nHost: db.test:5432\r\n%s\r\n",
	    fields);

	assert_true(n > 0 && (size_t)n < size);
	assert_int_equal(http1_parse_request(buf, (size_t)n, req), HTTP1_OK);
}

static void
test_parse_values(void **state)
{
	static const struct {
		const char *fields;
		int rc;
		const char *want; /* the address, for ORIGDST_FOUND */
	} cases[] = {
		{ "", ORIGDST_NONE, NULL },
		{ "X-Other: 1\r\n", ORIGDST_NONE, NULL },
		{ "Slicer-Original-Destination: 192.0.2.7\r\n", ORIGDST_FOUND,
		    "192.0.2.7" },
		{ "slicer-original-destination: 192.0.2.7\r\n", ORIGDST_FOUND,
		    "192.0.2.7" },
		{ "Slicer-Original-Destination:   198.18.0.10  \r\n",
		    ORIGDST_FOUND, "198.18.0.10" },
		{ "Slicer-Original-Destination: 2001:db8::7\r\n", ORIGDST_FOUND,
		    "2001:db8::7" },
		{ "Slicer-Original-Destination: ::ffff:192.0.2.7\r\n",
		    ORIGDST_FOUND, "::ffff:192.0.2.7" },
		{ "Slicer-Original-Destination: 0.0.0.0\r\n", ORIGDST_FOUND,
		    "0.0.0.0" },
		/* one spelling only */
		{ "Slicer-Original-Destination: 192.0.2.07\r\n", ORIGDST_BAD,
		    NULL },
		{ "Slicer-Original-Destination: 3221225991\r\n", ORIGDST_BAD,
		    NULL },
		{ "Slicer-Original-Destination: 0xc0.0.2.7\r\n", ORIGDST_BAD,
		    NULL },
		{ "Slicer-Original-Destination: 192.0.2\r\n", ORIGDST_BAD, NULL },
		{ "Slicer-Original-Destination: 2001:DB8::7\r\n", ORIGDST_BAD,
		    NULL },
		{ "Slicer-Original-Destination: 2001:db8:0:0:0:0:0:7\r\n",
		    ORIGDST_BAD, NULL },
		{ "Slicer-Original-Destination: ::ffff:c000:207\r\n",
		    ORIGDST_BAD, NULL },
		/* not one bare address */
		{ "Slicer-Original-Destination: [2001:db8::7]\r\n", ORIGDST_BAD,
		    NULL },
		{ "Slicer-Original-Destination: fe80::1%eth0\r\n", ORIGDST_BAD,
		    NULL },
		{ "Slicer-Original-Destination: 192.0.2.7:5432\r\n", ORIGDST_BAD,
		    NULL },
		{ "Slicer-Original-Destination: 192.0.2.7, 198.18.0.11\r\n",
		    ORIGDST_BAD, NULL },
		{ "Slicer-Original-Destination: 192.0.2.7 198.18.0.11\r\n",
		    ORIGDST_BAD, NULL },
		{ "Slicer-Original-Destination: db.test\r\n", ORIGDST_BAD, NULL },
		{ "Slicer-Original-Destination:\r\n", ORIGDST_BAD, NULL },
		{ "Slicer-Original-Destination: "
		  "0000:0000:0000:0000:0000:ffff:192.168.100.228\r\n",
		    ORIGDST_BAD, NULL },
		{ "Slicer-Original-Destination: "
		  "2001:db8:1111:2222:3333:4444:5555:6666:7777:8888:9999\r\n",
		    ORIGDST_BAD, NULL },
		/* twice, even when equal */
		{ "Slicer-Original-Destination: 192.0.2.7\r\n"
		  "Slicer-Original-Destination: 192.0.2.7\r\n",
		    ORIGDST_BAD, NULL },
		{ "Slicer-Original-Destination: 192.0.2.7\r\nX: y\r\n"
		  "SLICER-ORIGINAL-DESTINATION: 198.18.0.11\r\n",
		    ORIGDST_BAD, NULL },
	};
	static struct http1_request req;
	char buf[1024], text[INET6_ADDRSTRLEN];
	struct netaddr a;
	const char *why;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parse_head(cases[i].fields, buf, sizeof(buf), &req);
		memset(&a, 0, sizeof(a));
		why = "unset";
		rc = origdst_parse(req.headers, req.nheaders, &a, &why);
		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d", i,
			    cases[i].fields, rc, cases[i].rc);
		if (rc == ORIGDST_BAD) {
			/* a reason, which never quotes the value */
			assert_non_null(why);
			assert_non_null(strstr(why, ORIGDST_FIELD));
			assert_null(strstr(why, "07"));
			assert_null(strstr(why, "db.test"));
			continue;
		}
		assert_null(why);
		if (rc == ORIGDST_FOUND)
			assert_string_equal(netaddr_ntop(&a, text, sizeof(text)),
			    cases[i].want);
	}
}

static void
test_format_round_trip(void **state)
{
	static const char *const addrs[] = {
		"192.0.2.7", "198.18.0.10", "255.255.255.255", "2001:db8::7",
		"::1", "::ffff:192.0.2.7",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"1234:5678:9abc:def0:1234:5678:9abc:def0",
	};
	static struct http1_request req;
	char line[ORIGDST_LINE_MAX], buf[1024];
	struct netaddr a, b;
	const char *why;
	size_t i;
	int n;

	(void)state;
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		assert_int_equal(netaddr_parse_literal(addrs[i],
				     strlen(addrs[i]), &a), 0);
		n = origdst_format(&a, line, sizeof(line));
		assert_true(n > 0 && (size_t)n == strlen(line));
		assert_true(n >= 2 && line[n - 2] == '\r' && line[n - 1] == '\n');
		assert_int_equal(strncmp(line, ORIGDST_FIELD ": ",
				     sizeof(ORIGDST_FIELD) + 1), 0);
		parse_head(line, buf, sizeof(buf), &req);
		assert_int_equal(origdst_parse(req.headers, req.nheaders, &b,
				     &why), ORIGDST_FOUND);
		assert_true(netaddr_equal(&a, &b));
		/* exactly the room it needs, and one byte less */
		assert_int_equal(origdst_format(&a, line, (size_t)n + 1), n);
		assert_int_equal(origdst_format(&a, line, (size_t)n), -1);
	}
	memset(&a, 0, sizeof(a));
	a.family = AF_UNIX;
	assert_int_equal(origdst_format(&a, line, sizeof(line)), -1);
}

static void
test_equal(void **state)
{
	static const struct {
		const char *a, *b;
		int eq;
	} cases[] = {
		{ "192.0.2.7", "192.0.2.7", 1 },
		{ "192.0.2.7", "192.0.2.8", 0 },
		{ "2001:db8::7", "2001:db8:0::7", 1 },
		{ "2001:db8::7", "2001:db8::8", 0 },
		/* a mapped address is not the IPv4 one */
		{ "192.0.2.7", "::ffff:192.0.2.7", 0 },
		{ "0.0.0.0", "::", 0 },
	};
	struct netaddr a, b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(netaddr_parse_literal(cases[i].a,
				     strlen(cases[i].a), &a), 0);
		assert_int_equal(netaddr_parse_literal(cases[i].b,
				     strlen(cases[i].b), &b), 0);
		assert_int_equal(netaddr_equal(&a, &b), cases[i].eq);
		assert_int_equal(netaddr_equal(&b, &a), cases[i].eq);
	}
}

static void
test_is_field(void **state)
{
	struct http1_slice s;

	(void)state;
	s.p = "Slicer-Original-Destination";
	s.len = strlen(s.p);
	assert_true(origdst_is_field(s));
	s.p = "SLICER-ORIGINAL-DESTINATION";
	assert_true(origdst_is_field(s));
	s.len--;
	assert_false(origdst_is_field(s));
	s.p = "Slicer-Original-Destination-X";
	s.len = strlen(s.p);
	assert_false(origdst_is_field(s));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_values),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_equal),
		cmocka_unit_test(test_is_field),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
