/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics.h - the daemon's counters in the Prometheus text format
 * (GET /metrics on the control socket).
 *
 * Each metric is a row of a table: its name, help, labels and where its
 * value lies in a struct of counts.  A row with help starts a metric
 * (its # HELP and # TYPE lines); the rows after it without help are more
 * samples of it, told apart by their labels.  The type follows the name:
 * a name ending in _total is a counter, any other a gauge.
 */
#ifndef SLICER_METRICS_H
#define SLICER_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct proxy;

/* The text being written; is_full once something did not fit. */
struct metrics_out {
	char *buf;
	size_t cap, len;
	int is_full;
};

enum metric_width { METRIC_U64, METRIC_SIZE };

struct metric {
	const char *name;
	const char *labels; /* NULL, or e.g. reason="evicted" */
	const char *help;   /* NULL: another sample of the row above */
	size_t offset;      /* of the value in the struct of counts */
	enum metric_width width;
};

/* Appends n rows with their values read from counts. */
void metrics_write(struct metrics_out *mo, const struct metric *rows,
    size_t n, const void *counts);

/* Every metric of px, on the main loop (the policy's counts are read
 * there); -1 when it did not fit in cap bytes. */
int metrics_render(struct proxy *px, char *buf, size_t cap, size_t *len);

#endif
