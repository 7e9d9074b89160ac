/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * parse.c - strict numbers, ports and durations (see parse.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "parse.h"

int
parse_u64(const char *s, size_t len, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > 20)
		return -1;
	if (len > 1 && s[0] == '0')
		return -1;
	for (i = 0; i < len; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v > max)
		return -1;
	*out = v;
	return 0;
}

int
parse_port(const char *s, uint16_t *out)
{
	uint64_t v;

	if (parse_u64(s, strlen(s), 65535, &v) == -1 || v == 0)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

int
parse_duration_ms(const char *s, int64_t *ms)
{
	const int64_t max = 366LL * 24 * 3600 * 1000;
	int64_t total = 0;
	size_t i = 0, len = strlen(s);

	if (len == 0 || len > 64)
		return -1;
	while (i < len) {
		size_t start = i;
		uint64_t n;
		int64_t unit;

		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == start || i - start > 12)
			return -1;
		/* leading zeros are harmless in durations ("05m") */
		n = 0;
		for (size_t k = start; k < i; k++)
			n = n * 10 + (uint64_t)(s[k] - '0');
		if (i == len) {
			if (start != 0)
				return -1; /* "1h30" is ambiguous */
			unit = 1000;
		} else if (strncmp(s + i, "ms", 2) == 0) {
			unit = 1;
			i += 2;
		} else if (s[i] == 's') {
			unit = 1000;
			i++;
		} else if (s[i] == 'm') {
			unit = 60 * 1000;
			i++;
		} else if (s[i] == 'h') {
			unit = 3600 * 1000;
			i++;
		} else if (s[i] == 'd') {
			unit = 24 * 3600 * 1000;
			i++;
		} else {
			return -1;
		}
		if (n > (uint64_t)(max / unit))
			return -1;
		total += (int64_t)n * unit;
		if (total > max)
			return -1;
	}
	if (total <= 0)
		return -1;
	*ms = total;
	return 0;
}

void
parse_format_duration(int64_t ms, char *buf, size_t size)
{
	int64_t s = ms / 1000, h = s / 3600, m = (s % 3600) / 60;

	s %= 60;
	if (h > 0)
		snprintf(buf, size, "%lldh%lldm%llds", (long long)h,
		    (long long)m, (long long)s);
	else if (m > 0)
		snprintf(buf, size, "%lldm%llds", (long long)m, (long long)s);
	else
		snprintf(buf, size, "%llds", (long long)s);
}

int64_t
parse_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
parse_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
