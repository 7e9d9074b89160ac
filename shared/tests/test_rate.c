/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_rate.c - unit tests for the token bucket.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "rate.h"

/* Take at now until refused; the number taken. */
static int
take_all(struct rate *r, int64_t now, uint32_t per_sec, uint32_t burst)
{
	int n = 0;

	while (n < 1000000 && rate_take(r, now, per_sec, burst))
		n++;
	return n;
}

static void
test_burst_then_refill(void **state)
{
	struct rate r = {0};

	(void)state;
	/* starts full: exactly burst at once */
	assert_int_equal(take_all(&r, 1000, 20, 100), 100);
	assert_int_equal(rate_take(&r, 1000, 20, 100), 0);
	/* 20/s: one token every 50 ms, not before */
	assert_int_equal(rate_take(&r, 1049, 20, 100), 0);
	assert_int_equal(rate_take(&r, 1050, 20, 100), 1);
	assert_int_equal(rate_take(&r, 1050, 20, 100), 0);
	/* half a second: 10 more */
	assert_int_equal(take_all(&r, 1550, 20, 100), 10);
	/* a long pause refills to burst, never past it */
	assert_int_equal(take_all(&r, 1000000, 20, 100), 100);
}

static void
test_clock_back_and_huge_gap(void **state)
{
	struct rate r = {0};

	(void)state;
	assert_int_equal(take_all(&r, 5000, 10, 5), 5);
	/* the clock going back adds nothing and does not break later refill */
	assert_int_equal(rate_take(&r, 1000, 10, 5), 0);
	assert_int_equal(rate_take(&r, 5099, 10, 5), 0);
	assert_int_equal(rate_take(&r, 5100, 10, 5), 1);
	/* a gap of years with a large rate does not overflow */
	assert_int_equal(take_all(&r, INT64_MAX / 2, UINT32_MAX, 7), 7);
}

static void
test_zero_rate(void **state)
{
	struct rate r = {0};

	(void)state;
	assert_int_equal(take_all(&r, 0, 0, 3), 3);
	assert_int_equal(take_all(&r, 10000000, 0, 3), 0);
	r = (struct rate){0};
	assert_int_equal(take_all(&r, 0, 5, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_burst_then_refill),
	    cmocka_unit_test(test_clock_back_and_huge_gap),
	    cmocka_unit_test(test_zero_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
