/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * audit.h - append-only audit log: one JSON object per line for every
 * decision, to a file or stdout, to an in-memory ring for `logs`, and to
 * live followers (`logs --follow`).  Records carry names, never token or
 * secret values, and no bodies.
 *
 * Hot path: a record is written member by member into a struct audit_rec
 * (no allocation), then audit_rec_emit() appends the "time" member and
 * delivers the line.  File output is batched: lines collect in a 64 KiB
 * buffer written by audit_flush(), which every event loop calls through
 * audit_flush_hook() right before it waits.  Until that hook has run once,
 * every record is written at once.  Any thread may emit (the log has its
 * own lock); followers are fed on the thread that made the log, from the
 * ring, by its flush hook (see audit_set_wake).
 */
#ifndef SLICER_AUDIT_H
#define SLICER_AUDIT_H

#include <stddef.h>
#include <sys/types.h>
#include <jansson.h>

#include "slicer_limits.h"

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

/*
 * Cut-offs.  A line, newline included, never exceeds LIMIT_AUDIT_LINE.
 * Members are written while the line stays within LIMIT_AUDIT_LINE -
 * AUDIT_TRUNC_RESERVE (room kept for `,"truncated":true`), so that is the
 * longest whole line.  A long string value (more than AUDIT_LONG_VALUE
 * bytes once escaped) must also leave AUDIT_SHORT_ROOM bytes below that
 * mark for the short members after it: one that does not is cut there, at
 * a character boundary.  A value that does not fit otherwise becomes null,
 * and a member that cannot fit even so is left out.  A record so cut gets
 * "truncated":true before "time".
 */
#define AUDIT_TRUNC_RESERVE 17
#define AUDIT_LONG_VALUE 256
#define AUDIT_SHORT_ROOM (LIMIT_AUDIT_LINE / 8)

/* One record being built; big (LIMIT_AUDIT_LINE), meant for the stack or
 * static storage.  Members keep the order they are added in. */
struct audit_rec {
	char buf[LIMIT_AUDIT_LINE + 1]; /* NUL-terminated once emitted */
	size_t len;
	int is_truncated;
	/* private: state of the writer and what followers filter on */
	int has_member;
	int has_client;
	int is_deny;
	char client[64];
};

/* target: path (opened O_APPEND, 0600), "-" for stdout, or NULL.  An
 * existing file must be a regular file with one link, owned by root, this
 * process's user or owner (the user the daemon will run as; (uid_t)-1 for
 * none), and loses any group and other permission.  NULL on error with
 * err set. */
struct audit *audit_new(const char *target, uid_t owner, char *err,
    size_t errsz);
/* Flush, tell followers they are gone, close.  Accepts NULL. */
void audit_free(struct audit *a);
/* Flush, then reopen the file (after rotation). */
int audit_reopen(struct audit *a);

/* Hand the log file (not stdout) to the user the daemon runs as, by its
 * descriptor: 0, or -1 with errno. */
int audit_chown(struct audit *a, uid_t uid, gid_t gid);

/* Start a record: `{"event":<event>` (event NULL gives null). */
void audit_rec_begin(struct audit_rec *r, const char *event);
/* Add a string member; val NULL gives null.  val is copied. */
void audit_rec_str(struct audit_rec *r, const char *key, const char *val);
/* The same with an explicit length (val may hold NUL bytes). */
void audit_rec_strn(struct audit_rec *r, const char *key, const char *val,
    size_t len);
void audit_rec_int(struct audit_rec *r, const char *key, long long v);
void audit_rec_null(struct audit_rec *r, const char *key);
/* Close the record (adds "truncated" when cut, then "time": RFC 3339 UTC
 * with milliseconds) and deliver it: output buffer, ring, followers.
 * r may be reused after audit_rec_begin(). */
void audit_rec_emit(struct audit *a, struct audit_rec *r);

/* Emit a record built with jansson (rare callers): its members in order,
 * written through the same writer, "time" appended.  Takes the reference
 * to rec; a "time" member of rec is ignored. */
void audit_emit(struct audit *a, json_t *rec);

/* Write out the buffered lines.  A short write or EAGAIN keeps the rest for
 * the next call; when the buffer is full and cannot be written, new lines
 * are dropped and counted (a warning at most once a second). */
void audit_flush(struct audit *a);
/* ev_on_wait() hook (arg: the struct audit): switches the log to batched
 * output, then flushes. */
void audit_flush_hook(void *arg);
/* log_on_fatal() hook (arg: the struct audit): one flush attempt, without
 * waiting for a lock another thread holds. */
void audit_flush_last(void *arg);
/* Lines dropped because the output could not take them. */
unsigned long long audit_drops(struct audit *a);
/* fn(arg) is called (from any thread, without locks held) when a line
 * for followers was emitted off the thread that made the log: it must get
 * that thread's loop to run the flush hook soon. */
void audit_set_wake(struct audit *a, void (*fn)(void *arg), void *arg);

/* Does a record line pass a follower-style filter? */
int audit_line_matches(const char *line, const char *client, int denied_only);

/* Call fn for each recent line (NUL-terminated, len with its newline),
 * oldest first. */
void audit_recent(struct audit *a, void (*fn)(void *arg, const char *line,
    size_t len), void *arg);

/* Start feeding f the lines from now on (owner thread).  With history,
 * the recent lines go to history(arg) first, in the same step: no line
 * emitted meanwhile by another loop falls between the two. */
void audit_follow(struct audit *a, struct audit_follower *f,
    void (*history)(void *arg, const char *line, size_t len), void *arg);
void audit_unfollow(struct audit *a, struct audit_follower *f);

#endif
