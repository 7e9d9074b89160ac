/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * parse.h - strict numbers, ports and durations.  Pure functions.
 */
#ifndef SLICER_PARSE_H
#define SLICER_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* Strict unsigned decimal: digits only, no sign, no spaces, no leading
 * zeros except "0" itself, value <= max.  Returns 0 or -1. */
int parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out);

/* A TCP port 1..65535 in strict decimal.  Returns 0 or -1. */
int parse_port(const char *s, uint16_t *out);

/*
 * A duration: one or more <number><unit> groups, units ms, s, m, h, d
 * ("90s", "10m", "1h30m", "500ms").  A bare number is seconds.  Total must
 * be > 0 and <= 366 days.  Returns 0 and sets *ms, or -1.
 */
int parse_duration_ms(const char *s, int64_t *ms);

/* Format a duration as "1h30m5s" style into buf (for listings). */
void parse_format_duration(int64_t ms, char *buf, size_t size);

/* Current wall-clock time in milliseconds since the epoch, and monotonic
 * milliseconds for deadlines. */
int64_t parse_now_ms(void);
int64_t parse_mono_ms(void);

#endif
