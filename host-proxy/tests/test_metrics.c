/* SPDX-License-Identifier: GPL-2.0-or-later */
/* Unit tests for the Prometheus text writer (metrics.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

struct sample_counts {
	uint64_t seen;
	size_t open;
	uint64_t closed_idle, closed_full;
};

static const struct metric sample_rows[] = {
	{ "demo_seen_total", NULL, "Things seen.",
	    offsetof(struct sample_counts, seen), METRIC_U64 },
	{ "demo_open", NULL, "Things open now.",
	    offsetof(struct sample_counts, open), METRIC_SIZE },
	{ "demo_closed_total", "reason=\"idle\"", "Things closed, by reason.",
	    offsetof(struct sample_counts, closed_idle), METRIC_U64 },
	{ "demo_closed_total", "reason=\"full\"", NULL,
	    offsetof(struct sample_counts, closed_full), METRIC_U64 },
};

/* HELP and TYPE once per metric, its type from its name, labelled
 * samples under one head, values at their offsets and widths. */
static void
test_metrics_write(void **state)
{
	struct sample_counts counts = { 18446744073709551615ULL, 7, 0, 42 };
	char buf[1024];
	struct metrics_out mo = { buf, sizeof(buf), 0, 0 };

	(void)state;
	metrics_write(&mo, sample_rows, 4, &counts);
	assert_false(mo.is_full);
	assert_int_equal(mo.len, strlen(buf));
	assert_string_equal(buf,
	    "# HELP demo_seen_total Things seen.\n"
	    "# TYPE demo_seen_total counter\n"
	    "demo_seen_total 18446744073709551615\n"
	    "# HELP demo_open Things open now.\n"
	    "# TYPE demo_open gauge\n"
	    "demo_open 7\n"
	    "# HELP demo_closed_total Things closed, by reason.\n"
	    "# TYPE demo_closed_total counter\n"
	    "demo_closed_total{reason=\"idle\"} 0\n"
	    "demo_closed_total{reason=\"full\"} 42\n");
}

/* What does not fit is reported, and nothing after it is written. */
static void
test_metrics_full(void **state)
{
	struct sample_counts counts = { 1, 2, 3, 4 };
	char buf[200];
	struct metrics_out mo;
	size_t cap, whole;

	(void)state;
	mo = (struct metrics_out){ buf, sizeof(buf), 0, 0 };
	metrics_write(&mo, sample_rows, 2, &counts);
	assert_false(mo.is_full);
	whole = mo.len;
	for (cap = 1; cap <= whole; cap++) {
		memset(buf, 'x', sizeof(buf));
		mo = (struct metrics_out){ buf, cap, 0, 0 };
		metrics_write(&mo, sample_rows, 4, &counts);
		assert_true(mo.is_full);
		assert_true(mo.len < cap);
		assert_int_equal(buf[cap], 'x');
	}
	/* a full writer stays full */
	mo = (struct metrics_out){ buf, whole, 0, 0 };
	metrics_write(&mo, sample_rows, 2, &counts);
	assert_true(mo.is_full);
	metrics_write(&mo, sample_rows, 1, &counts);
	assert_true(mo.is_full);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_write),
		cmocka_unit_test(test_metrics_full),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
