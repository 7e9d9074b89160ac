/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * audit.h - append-only audit log: one JSON object per line for every
 * decision, to a file or stdout, to an in-memory ring for `logs`, and to
 * live followers (`logs --follow`).  Records carry names, never token or
 * secret values, and no bodies.
 */
#ifndef SLICER_AUDIT_H
#define SLICER_AUDIT_H

#include <stddef.h>
#include <jansson.h>

struct audit;

struct audit_follower {
	/* Deliver one line (with its newline).  Return -1 to be dropped
	 * (the follower is unlinked; its owner is told through gone()). */
	int (*write)(void *arg, const char *line, size_t len);
	void (*gone)(void *arg);
	void *arg;
	char client[64];   /* only records of this client; "" for all */
	int is_denied_only;
	struct audit_follower *next; /* private */
};

/* target: path (opened O_APPEND, 0600), "-" for stdout, or NULL.  NULL on
 * error with err set. */
struct audit *audit_new(const char *target, char *err, size_t errsz);
void audit_free(struct audit *a);
/* Reopen the file (after rotation). */
int audit_reopen(struct audit *a);

/* Emit a record: sets "time" (RFC 3339 UTC with ms), writes it everywhere.
 * Takes the reference to rec. */
void audit_emit(struct audit *a, json_t *rec);

/* Does a record line pass a follower-style filter? */
int audit_line_matches(const char *line, const char *client, int denied_only);

/* Call fn for each recent line, oldest first. */
void audit_recent(struct audit *a, void (*fn)(void *arg, const char *line,
    size_t len), void *arg);

void audit_follow(struct audit *a, struct audit_follower *f);
void audit_unfollow(struct audit *a, struct audit_follower *f);

#endif
