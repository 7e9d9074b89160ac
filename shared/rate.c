/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rate.c - token bucket (rate.h).
 */
#include "rate.h"

int
rate_take(struct rate *r, int64_t now_ms, uint32_t per_sec, uint32_t burst)
{
	uint64_t cap = (uint64_t)burst * 1000, add;

	if (!r->is_started) {
		r->is_started = 1;
		r->milli = cap;
		r->last_ms = now_ms;
	} else if (now_ms > r->last_ms) {
		/* per_sec tokens a second = per_sec thousandths a millisecond;
		 * cap the elapsed time so the product cannot overflow */
		add = (uint64_t)(now_ms - r->last_ms);
		if (add > 1000ULL * 3600)
			add = 1000ULL * 3600;
		add *= per_sec;
		r->milli = r->milli + add > cap ? cap : r->milli + add;
		r->last_ms = now_ms;
	}
	if (r->milli < 1000)
		return 0;
	r->milli -= 1000;
	return 1;
}
