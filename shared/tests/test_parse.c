/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_parse.c - strict numbers, ports and durations.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "parse.h"

static void
test_u64(void **state)
{
	static const struct {
		const char *s;
		uint64_t max;
		int rc;
		uint64_t v;
	} cases[] = {
		{ "0", 10, 0, 0 },
		{ "10", 10, 0, 10 },
		{ "11", 10, -1, 0 },
		{ "007", 10, -1, 0 },
		{ "", 10, -1, 0 },
		{ "+1", 10, -1, 0 },
		{ "-1", 10, -1, 0 },
		{ " 1", 10, -1, 0 },
		{ "1 ", 10, -1, 0 },
		{ "0x10", 100, -1, 0 },
		{ "18446744073709551615", UINT64_MAX, 0, UINT64_MAX },
		{ "18446744073709551616", UINT64_MAX, -1, 0 },
		{ "99999999999999999999999", UINT64_MAX, -1, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int rc = parse_u64(cases[i].s, strlen(cases[i].s), cases[i].max,
		    &v);

		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_true(v == cases[i].v);
	}
}

static void
test_port(void **state)
{
	uint16_t p;

	(void)state;
	assert_int_equal(parse_port("1", &p), 0);
	assert_int_equal(p, 1);
	assert_int_equal(parse_port("65535", &p), 0);
	assert_int_equal(p, 65535);
	assert_int_equal(parse_port("65536", &p), -1);
	assert_int_equal(parse_port("70000", &p), -1);
	assert_int_equal(parse_port("0", &p), -1);
	assert_int_equal(parse_port("443x", &p), -1);
	assert_int_equal(parse_port("", &p), -1);
}

static void
test_duration(void **state)
{
	static const struct {
		const char *s;
		int rc;
		int64_t ms;
	} cases[] = {
		{ "2s", 0, 2000 },
		{ "10m", 0, 600000 },
		{ "1h30m", 0, 5400000 },
		{ "1h30m5s", 0, 5405000 },
		{ "500ms", 0, 500 },
		{ "90", 0, 90000 },
		{ "1d", 0, 86400000 },
		{ "366d", 0, 366LL * 86400000 },
		{ "367d", -1, 0 },
		{ "banana", -1, 0 },
		{ "", -1, 0 },
		{ "0s", -1, 0 },
		{ "10x", -1, 0 },
		{ "-5s", -1, 0 },
		{ "1h30", -1, 0 },
		{ "s", -1, 0 },
		{ "99999999999999h", -1, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = 0;
		int rc = parse_duration_ms(cases[i].s, &ms);

		assert_int_equal(rc, cases[i].rc);
		if (rc == 0)
			assert_true(ms == cases[i].ms);
	}
}

static void
test_format_duration(void **state)
{
	char b[32];

	(void)state;
	parse_format_duration(5405000, b, sizeof(b));
	assert_string_equal(b, "1h30m5s");
	parse_format_duration(61000, b, sizeof(b));
	assert_string_equal(b, "1m1s");
	parse_format_duration(999, b, sizeof(b));
	assert_string_equal(b, "0s");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_u64),
		cmocka_unit_test(test_port),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_format_duration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
