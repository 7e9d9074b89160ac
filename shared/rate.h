/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rate.h - a token bucket: at most `burst` events at once, refilled at
 * `per_sec` a second.  Integer arithmetic in thousandths of a token; no
 * clock of its own (the caller passes monotonic milliseconds).
 */
#ifndef SLICER_RATE_H
#define SLICER_RATE_H

#include <stdint.h>

struct rate {
	int64_t last_ms;     /* when milli was last brought up to date */
	uint64_t milli;      /* tokens x 1000 */
	int is_started;
};

/*
 * Take one token at now_ms: 1 when the event may happen, 0 when the bucket
 * is empty.  A fresh (zeroed) bucket starts full.  A clock that goes back
 * adds nothing.
 */
int rate_take(struct rate *r, int64_t now_ms, uint32_t per_sec,
    uint32_t burst);

#endif
