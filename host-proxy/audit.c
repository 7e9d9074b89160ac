/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * audit.c - the audit log (see audit.h): an allocation-free JSON line
 * writer, a batched output buffer, the ring of recent lines and the live
 * followers.  Strings are escaped as jansson's compact dump escapes them;
 * bytes that are not valid UTF-8 become \ufffd, one per byte.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "slicer_limits.h"
#include "log.h"

/* file output collected between two flushes */
#define AUDIT_OUTBUF (64 * 1024)
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
#define AUDIT_TIME_LEN 24
/* every line ends `,"time":"<AUDIT_TIME_LEN>"}` and a newline */
#define AUDIT_TAIL (sizeof(",\"time\":\"\"}\n") - 1 + AUDIT_TIME_LEN)
/* members end here: room for the tail and for a "truncated" flag */
#define AUDIT_BODY_MAX (LIMIT_AUDIT_LINE - AUDIT_TAIL - AUDIT_TRUNC_RESERVE)
/* long string values end here */
#define AUDIT_LONG_MAX (AUDIT_BODY_MAX - AUDIT_SHORT_ROOM)
/* audit_free: tries at writing out the rest, AUDIT_FREE_WAIT_MS apart */
#define AUDIT_FREE_TRIES 10
#define AUDIT_FREE_WAIT_MS 100

struct audit_slot {
	char *line;   /* owned; NUL-terminated, newline included */
	size_t len;   /* with the newline */
	size_t cap;   /* grows only when a longer line arrives */
	/* what followers filter on */
	int has_client;
	int is_deny;
	char client[64];
};

/*
 * Any thread may emit; followers are fed on the thread that made the log
 * (the main loop), from the ring, when its loop is about to wait: a line
 * emitted elsewhere wakes it through the wake hook.
 */
struct audit {
	pthread_mutex_t lock; /* recursive: all below */
	pthread_t owner;      /* the thread that feeds followers */
	void (*wake)(void *arg);
	void *wake_arg;
	int is_wake_pending;
	uint64_t seq_next;    /* sequence number of the next ring line */
	uint64_t seq_fed;     /* followers have had lines before this */
	char *path;     /* owned; NULL for stdout or none */
	int fd;         /* -1 when none */
	int is_stdout;
	int is_sock;    /* fd is a socket: sent to with MSG_DONTWAIT */
	int is_batched; /* a loop hook flushes; until then write at once */
	uid_t file_owner; /* may own the file besides root and us */
	char out[AUDIT_OUTBUF];
	size_t out_len;
	unsigned long long drops;
	time_t warn_sec; /* monotonic second of the last warning */
	time_t ts_sec;   /* ts holds this second, formatted */
	char ts[32];
	struct audit_slot ring[LIMIT_AUDIT_RING];
	size_t ring_head, ring_count;
	struct audit_follower *followers; /* borrowed */
};

/*
 * The log file, created 0600 or taken as it is only when nobody else could
 * have made it: a regular file (O_NONBLOCK: a FIFO put there never blocks
 * the open), one link (not a hard link to another file the daemon would
 * then chown), owned by root, us or the user we run as; what it allows
 * group and others is taken away.
 */
static int
audit_open_file(struct audit *a)
{
	struct stat sb;
	int fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW | O_NONBLOCK, 0600);

	if (fd == -1)
		return -1;
	if (fstat(fd, &sb) == -1 || !S_ISREG(sb.st_mode) ||
	    sb.st_nlink != 1 || (sb.st_uid != 0 && sb.st_uid != geteuid() &&
	    sb.st_uid != a->file_owner) ||
	    ((sb.st_mode & 077) != 0 && fchmod(fd, sb.st_mode & 0600) == -1)) {
		int saved = errno;

		if (sb.st_nlink != 1 || !S_ISREG(sb.st_mode))
			saved = EINVAL;
		else if (sb.st_uid != 0 && sb.st_uid != geteuid() &&
		    sb.st_uid != a->file_owner)
			saved = EPERM;
		close(fd);
		errno = saved;
		return -1;
	}
	if (a->fd != -1)
		close(a->fd);
	a->fd = fd;
	return 0;
}

/*
 * Standard output, written without ever blocking: a reader that stops
 * reading (a stuck log shipper, a pager) must cost records, counted, not
 * every event loop (they all write under the audit lock).  A pipe or a
 * terminal is opened again as a description of our own with O_NONBLOCK,
 * so that the flag touches nobody else's; a socket gets MSG_DONTWAIT on
 * each send; a file never blocks for long.
 */
static int
audit_open_stdout(int *is_sock)
{
	struct stat sb;
	int fd;

	*is_sock = 0;
	if (fstat(STDOUT_FILENO, &sb) == -1)
		return STDOUT_FILENO;
	if (S_ISSOCK(sb.st_mode)) {
		*is_sock = 1;
		return STDOUT_FILENO;
	}
	if (!S_ISFIFO(sb.st_mode) && !S_ISCHR(sb.st_mode))
		return STDOUT_FILENO;
	fd = open("/proc/self/fd/1", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	return fd != -1 ? fd : STDOUT_FILENO;
}

struct audit *
audit_new(const char *target, uid_t owner, char *err, size_t errsz)
{
	struct audit *a = calloc(1, sizeof(*a));
	pthread_mutexattr_t ma;

	if (a == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}

	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&a->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	a->owner = pthread_self();
	a->fd = -1;
	a->file_owner = owner;
	a->ts_sec = -1;
	a->warn_sec = -1;
	if (target != NULL && strcmp(target, "-") == 0) {
		a->is_stdout = 1;
		a->fd = audit_open_stdout(&a->is_sock);
	} else if (target != NULL) {
		a->path = strdup(target);
		if (a->path == NULL || audit_open_file(a) == -1) {
			snprintf(err, errsz, "cannot open audit log %s: %s",
			    target, errno == EINVAL ? "not a regular file with "
			    "one link" : errno == EPERM ? "owned by another "
			    "user (want root or the daemon's user)" :
			    strerror(errno));
			free(a->path);
			pthread_mutex_destroy(&a->lock);
			free(a);
			return NULL;
		}
	}
	return a;
}

/* At most one warning a second, however many records are affected. */
static int
audit_may_warn(struct audit *a)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec == a->warn_sec)
		return 0;
	a->warn_sec = now.tv_sec;
	return 1;
}

void
audit_flush(struct audit *a)
{
	size_t off = 0;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	if (a->fd == -1)
		goto out;
	while (off < a->out_len) {
		ssize_t n = a->is_sock ? send(a->fd, a->out + off,
		    a->out_len - off, MSG_DONTWAIT | MSG_NOSIGNAL) :
		    write(a->fd, a->out + off, a->out_len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			/* keep the rest for the next flush */
			if (n == -1 && errno != EAGAIN && audit_may_warn(a))
				log_warn("audit log write");
			break;
		}
		off += (size_t)n;
	}
	if (off > 0) {
		memmove(a->out, a->out + off, a->out_len - off);
		a->out_len -= off;
	}
out:
	pthread_mutex_unlock(&a->lock);
}

/* Feed followers the ring lines they have not had (owner thread only). */
static void
audit_feed(struct audit *a)
{
	struct audit_follower *f, *next, **pp;
	uint64_t first;

	pthread_mutex_lock(&a->lock);
	a->is_wake_pending = 0;
	first = a->seq_next - a->ring_count; /* the oldest line still held */
	if (a->seq_fed < first)
		a->seq_fed = first; /* the ring turned over meanwhile */
	for (; a->seq_fed < a->seq_next; a->seq_fed++) {
		size_t slot = (a->ring_head + (size_t)(a->seq_fed - first)) %
		    LIMIT_AUDIT_RING;
		const struct audit_slot *sl = &a->ring[slot];

		pp = &a->followers;
		for (f = a->followers; f != NULL; f = next) {
			next = f->next;
			if ((f->client[0] != '\0' && (!sl->has_client ||
			    strcmp(sl->client, f->client) != 0)) ||
			    (f->is_denied_only && !sl->is_deny)) {
				pp = &f->next;
				continue;
			}
			if (f->write(f->arg, sl->line, sl->len) == -1) {
				*pp = next;
				f->gone(f->arg);
				continue;
			}
			pp = &f->next;
		}
	}
	pthread_mutex_unlock(&a->lock);
}

void
audit_flush_last(void *arg)
{
	struct audit *a = arg;

	/* another thread may hold the lock for good: do not wait for it */
	if (a == NULL || pthread_mutex_trylock(&a->lock) != 0)
		return;
	audit_flush(a);
	pthread_mutex_unlock(&a->lock);
}

void
audit_flush_hook(void *arg)
{
	struct audit *a = arg;

	pthread_mutex_lock(&a->lock);
	a->is_batched = 1;
	audit_flush(a);
	pthread_mutex_unlock(&a->lock);
	if (pthread_equal(pthread_self(), a->owner))
		audit_feed(a);
}

void
audit_set_wake(struct audit *a, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&a->lock);
	a->wake = fn;
	a->wake_arg = arg;
	pthread_mutex_unlock(&a->lock);
}

unsigned long long
audit_drops(struct audit *a)
{
	unsigned long long n;

	pthread_mutex_lock(&a->lock);
	n = a->drops;
	pthread_mutex_unlock(&a->lock);
	return n;
}

void
audit_free(struct audit *a)
{
	size_t i;
	int tries;

	if (a == NULL)
		return;
	/* a full pipe on stdout gets a bounded wait; nothing else blocks */
	for (tries = 0; a->fd != -1 && tries < AUDIT_FREE_TRIES; tries++) {
		struct pollfd pfd = { .fd = a->fd, .events = POLLOUT };

		audit_flush(a);
		if (a->out_len == 0)
			break;
		(void)poll(&pfd, 1, AUDIT_FREE_WAIT_MS);
	}
	if (a->out_len > 0) {
		for (i = 0; i < a->out_len; i++)
			a->drops += a->out[i] == '\n';
		log_warnx("audit: %llu records dropped in all: the log "
		    "output did not take them", a->drops);
	}
	while (a->followers != NULL) {
		struct audit_follower *f = a->followers;

		a->followers = f->next;
		f->gone(f->arg);
	}
	for (i = 0; i < LIMIT_AUDIT_RING; i++)
		free(a->ring[i].line);
	if (a->fd != -1 && a->fd != STDOUT_FILENO)
		close(a->fd);
	free(a->path);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

int
audit_chown(struct audit *a, uid_t uid, gid_t gid)
{
	if (a == NULL || a->path == NULL || a->fd == -1)
		return 0;
	return fchown(a->fd, uid, gid);
}

int
audit_reopen(struct audit *a)
{
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	audit_flush(a);
	if (a->path != NULL)
		rc = audit_open_file(a);
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* ------------------------------------------------------------ writer */

/* Length of the valid UTF-8 sequence starting at s (1 to 4), or 0. */
static size_t
audit_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		/* no overlong forms, no surrogates */
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
		return n >= 3 && s[1] >= lo && s[1] <= hi &&
		    (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		/* no overlong forms, nothing past U+10FFFF */
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
		return n >= 4 && s[1] >= lo && s[1] <= hi &&
		    (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* Printable ASCII other than the quote and the backslash. */
static int
audit_is_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/*
 * Escape src[0..n) into dst (at most room bytes), never splitting an escape
 * or a character.  Returns how many source bytes went in; *outlen gets the
 * bytes written.
 */
static size_t
audit_escape(char *dst, size_t room, const char *src, size_t n,
    size_t *outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *s = (const unsigned char *)src;
	size_t i = 0, o = 0;

	while (i < n) {
		char esc[6];
		const char *unit = esc;
		size_t ulen = 2, adv = 1;

		if (audit_is_plain(s[i])) {
			/* a run of bytes that need no escape: one copy */
			size_t j = i, run;

			while (j < n && audit_is_plain(s[j]))
				j++;
			run = j - i < room - o ? j - i : room - o;
			memcpy(dst + o, src + i, run);
			o += run;
			i += run;
			if (i < j)
				break;
			continue;
		}
		esc[0] = '\\';
		switch (s[i]) {
		case '"':
		case '\\':
			esc[1] = (char)s[i];
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			if (s[i] < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[s[i] >> 4];
				esc[5] = hex[s[i] & 0xf];
				ulen = 6;
				break;
			}
			adv = audit_utf8_len(s + i, n - i);
			if (adv == 0) {
				unit = "\\ufffd";
				ulen = 6;
				adv = 1;
			} else {
				unit = src + i;
				ulen = adv;
			}
			break;
		}
		if (room - o < ulen)
			break;
		memcpy(dst + o, unit, ulen);
		o += ulen;
		i += adv;
	}
	*outlen = o;
	return i;
}

/* Append raw bytes if they fit below lim. */
static int
audit_rec_put(struct audit_rec *r, const char *p, size_t n, size_t lim)
{
	if (r->len > lim || lim - r->len < n)
		return -1;
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return 0;
}

/* `,"key":` (no comma before the first member) if it fits below lim. */
static int
audit_rec_key(struct audit_rec *r, const char *key, size_t lim)
{
	size_t klen = strlen(key), o;

	if (r->has_member && audit_rec_put(r, ",", 1, lim) == -1)
		return -1;
	if (audit_rec_put(r, "\"", 1, lim) == -1)
		return -1;
	if (audit_escape(r->buf + r->len, lim - r->len, key, klen, &o) < klen)
		return -1;
	r->len += o;
	return audit_rec_put(r, "\":", 2, lim);
}

/* A member with a raw JSON value; left out (record cut) if it does not fit. */
static void
audit_rec_raw(struct audit_rec *r, const char *key, const char *raw,
    size_t rawlen)
{
	size_t start = r->len;

	if (audit_rec_key(r, key, AUDIT_BODY_MAX) == 0 &&
	    audit_rec_put(r, raw, rawlen, AUDIT_BODY_MAX) == 0) {
		r->has_member = 1;
		return;
	}
	r->len = start;
	r->is_truncated = 1;
}

/* `"key":"value"` with the value escaped, if all of it fits below lim;
 * with is_cut, as much of the value as fits.  *vlen gets the length of the
 * value as written.  0, or -1 with nothing written. */
static int
audit_rec_string(struct audit_rec *r, const char *key, const char *val,
    size_t len, size_t lim, int is_cut, size_t *vlen)
{
	size_t start = r->len, used;

	/* the opening quote, then room for the closing one */
	if (audit_rec_key(r, key, lim) == -1 ||
	    audit_rec_put(r, "\"", 1, lim - 1) == -1)
		goto fail;
	used = audit_escape(r->buf + r->len, lim - 1 - r->len, val, len, vlen);
	if (used < len && !is_cut)
		goto fail;
	r->len += *vlen;
	r->buf[r->len++] = '"';
	r->has_member = 1;
	return 0;
fail:
	r->len = start;
	return -1;
}

void
audit_rec_begin(struct audit_rec *r, const char *event)
{
	r->buf[0] = '{';
	r->len = 1;
	r->is_truncated = 0;
	r->has_member = 0;
	r->has_client = 0;
	r->is_deny = 0;
	r->client[0] = '\0';
	audit_rec_str(r, "event", event);
}

void
audit_rec_strn(struct audit_rec *r, const char *key, const char *val,
    size_t len)
{
	size_t start = r->len, vlen;
	int had_member = r->has_member;

	/* what followers filter on, taken from the value itself */
	if (strcmp(key, "client") == 0) {
		r->has_client = val != NULL && len < sizeof(r->client) &&
		    memchr(val, '\0', len) == NULL;
		if (r->has_client) {
			memcpy(r->client, val, len);
			r->client[len] = '\0';
		}
	} else if (strcmp(key, "decision") == 0) {
		r->is_deny = val != NULL && len == 4 &&
		    memcmp(val, "deny", 4) == 0;
	}

	if (val == NULL) {
		audit_rec_raw(r, key, "null", 4);
		return;
	}
	if (audit_rec_string(r, key, val, len, AUDIT_BODY_MAX, 0, &vlen) == 0) {
		if (vlen <= AUDIT_LONG_VALUE || r->len <= AUDIT_LONG_MAX)
			return;
		/* a long value may not take the short members' room */
		r->len = start;
		r->has_member = had_member;
	}
	r->is_truncated = 1;
	if (start < AUDIT_LONG_MAX && audit_rec_string(r, key, val, len,
	    AUDIT_LONG_MAX, 1, &vlen) == 0)
		return;
	audit_rec_raw(r, key, "null", 4);
}

void
audit_rec_str(struct audit_rec *r, const char *key, const char *val)
{
	audit_rec_strn(r, key, val, val != NULL ? strlen(val) : 0);
}

void
audit_rec_int(struct audit_rec *r, const char *key, long long v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%lld", v);

	audit_rec_raw(r, key, num, (size_t)n);
}

void
audit_rec_null(struct audit_rec *r, const char *key)
{
	audit_rec_raw(r, key, "null", 4);
}

/* "YYYY-MM-DDTHH:MM:SS.mmmZ"; the seconds part formatted once a second. */
static void
audit_time(struct audit *a, char out[AUDIT_TIME_LEN + 1])
{
	struct timespec now;
	struct tm tm;
	long ms;

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != a->ts_sec) {
		if (gmtime_r(&now.tv_sec, &tm) == NULL ||
		    strftime(a->ts, sizeof(a->ts), "%Y-%m-%dT%H:%M:%S",
		    &tm) != AUDIT_TIME_LEN - 5)
			snprintf(a->ts, sizeof(a->ts), "9999-12-31T23:59:59");
		a->ts_sec = now.tv_sec;
	}
	ms = now.tv_nsec / 1000000;
	memcpy(out, a->ts, AUDIT_TIME_LEN - 5);
	out[AUDIT_TIME_LEN - 5] = '.';
	out[AUDIT_TIME_LEN - 4] = (char)('0' + ms / 100);
	out[AUDIT_TIME_LEN - 3] = (char)('0' + ms / 10 % 10);
	out[AUDIT_TIME_LEN - 2] = (char)('0' + ms % 10);
	out[AUDIT_TIME_LEN - 1] = 'Z';
	out[AUDIT_TIME_LEN] = '\0';
}

/* Into the output buffer; written at once unless a loop hook flushes. */
static void
audit_out_put(struct audit *a, const char *line, size_t len)
{
	if (a->fd == -1)
		return;
	if (sizeof(a->out) - a->out_len < len)
		audit_flush(a);
	if (sizeof(a->out) - a->out_len < len) {
		a->drops++;
		if (audit_may_warn(a))
			log_warnx("audit: the log output does not take lines; "
			    "%llu records dropped so far", a->drops);
		return;
	}
	memcpy(a->out + a->out_len, line, len);
	a->out_len += len;
	if (!a->is_batched)
		audit_flush(a);
}

/* Into the ring of recent lines; slot storage is reused.  A line that
 * cannot be stored takes its slot empty, so sequence numbers stay. */
static void
audit_ring_put(struct audit *a, const struct audit_rec *r, const char *line,
    size_t len)
{
	size_t slot = (a->ring_head + a->ring_count) % LIMIT_AUDIT_RING;
	struct audit_slot *s = &a->ring[slot];

	if (s->cap < len + 1) {
		size_t ncap = s->cap ? s->cap : 512;
		char *p;

		while (ncap < len + 1)
			ncap *= 2;
		if (ncap > LIMIT_AUDIT_LINE + 1)
			ncap = LIMIT_AUDIT_LINE + 1; /* len <= LIMIT_AUDIT_LINE */
		p = realloc(s->line, ncap);
		if (p == NULL) {
			/* the ring misses this line; the log has it */
			line = "";
			len = 0;
		} else {
			s->line = p;
			s->cap = ncap;
		}
	}
	if (len > 0)
		memcpy(s->line, line, len);
	if (s->line != NULL)
		s->line[len] = '\0';
	s->len = len;
	s->has_client = r->has_client;
	s->is_deny = r->is_deny;
	snprintf(s->client, sizeof(s->client), "%s", r->has_client ? r->client :
	    "");
	a->seq_next++;
	if (a->ring_count == LIMIT_AUDIT_RING)
		a->ring_head = (a->ring_head + 1) % LIMIT_AUDIT_RING;
	else
		a->ring_count++;
}

void
audit_rec_emit(struct audit *a, struct audit_rec *r)
{
	char ts[AUDIT_TIME_LEN + 1];
	int is_wake = 0;

	if (a == NULL)
		return;
	pthread_mutex_lock(&a->lock);
	/* the reserve in AUDIT_BODY_MAX guarantees room for all of this */
	if (r->is_truncated) {
		if (r->has_member)
			r->buf[r->len++] = ',';
		memcpy(r->buf + r->len, "\"truncated\":true", 16);
		r->len += 16;
		r->has_member = 1;
	}
	if (r->has_member)
		r->buf[r->len++] = ',';
	audit_time(a, ts);
	memcpy(r->buf + r->len, "\"time\":\"", 8);
	r->len += 8;
	memcpy(r->buf + r->len, ts, AUDIT_TIME_LEN);
	r->len += AUDIT_TIME_LEN;
	memcpy(r->buf + r->len, "\"}\n", 4); /* with the NUL */
	r->len += 3;

	audit_out_put(a, r->buf, r->len);
	audit_ring_put(a, r, r->buf, r->len);
	if (a->followers != NULL && a->wake != NULL && !a->is_wake_pending &&
	    !pthread_equal(pthread_self(), a->owner)) {
		a->is_wake_pending = 1;
		is_wake = 1;
	}
	pthread_mutex_unlock(&a->lock);
	if (is_wake)
		a->wake(a->wake_arg);
}

void
audit_emit(struct audit *a, json_t *rec)
{
	struct audit_rec r;
	const char *key;
	json_t *v;

	if (rec == NULL)
		return;
	r.buf[0] = '{';
	r.len = 1;
	r.is_truncated = r.has_member = r.has_client = r.is_deny = 0;
	r.client[0] = '\0';
	json_object_foreach(rec, key, v) {
		char *dump;

		if (strcmp(key, "time") == 0)
			continue;
		switch (json_typeof(v)) {
		case JSON_STRING:
			audit_rec_strn(&r, key, json_string_value(v),
			    json_string_length(v));
			break;
		case JSON_INTEGER:
			audit_rec_int(&r, key,
			    (long long)json_integer_value(v));
			break;
		case JSON_NULL:
			audit_rec_str(&r, key, NULL);
			break;
		case JSON_TRUE:
			audit_rec_raw(&r, key, "true", 4);
			break;
		case JSON_FALSE:
			audit_rec_raw(&r, key, "false", 5);
			break;
		default:
			/* reals, arrays, objects: none on the hot path */
			dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY |
			    JSON_PRESERVE_ORDER);
			if (dump != NULL)
				audit_rec_raw(&r, key, dump, strlen(dump));
			else
				audit_rec_raw(&r, key, "null", 4);
			free(dump);
			break;
		}
	}
	audit_rec_emit(a, &r);
	json_decref(rec);
}

/* ------------------------------------------------------------ readers */

int
audit_line_matches(const char *line, const char *client, int denied_only)
{
	int ok = 1;
	json_t *j;

	if ((client == NULL || client[0] == '\0') && !denied_only)
		return 1;
	j = json_loads(line, 0, NULL);
	if (j == NULL)
		return 0;
	if (client != NULL && client[0] != '\0') {
		const char *c = json_string_value(json_object_get(j, "client"));

		ok = c != NULL && strcmp(c, client) == 0;
	}
	if (ok && denied_only) {
		const char *d = json_string_value(json_object_get(j, "decision"));

		ok = d != NULL && strcmp(d, "deny") == 0;
	}
	json_decref(j);
	return ok;
}

void
audit_recent(struct audit *a, void (*fn)(void *arg, const char *line,
    size_t len), void *arg)
{
	size_t i;

	pthread_mutex_lock(&a->lock);
	for (i = 0; i < a->ring_count; i++) {
		size_t slot = (a->ring_head + i) % LIMIT_AUDIT_RING;

		if (a->ring[slot].len > 0)
			fn(arg, a->ring[slot].line, a->ring[slot].len);
	}
	pthread_mutex_unlock(&a->lock);
}

void
audit_follow(struct audit *a, struct audit_follower *f,
    void (*history)(void *arg, const char *line, size_t len), void *arg)
{
	/* one step (the lock is recursive): the others are fed up to now,
	 * the history is what the ring holds now, f gets what comes next */
	pthread_mutex_lock(&a->lock);
	audit_feed(a);
	if (history != NULL)
		audit_recent(a, history, arg);
	f->next = a->followers;
	a->followers = f;
	pthread_mutex_unlock(&a->lock);
}

void
audit_unfollow(struct audit *a, struct audit_follower *f)
{
	struct audit_follower **pp;

	pthread_mutex_lock(&a->lock);
	for (pp = &a->followers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	}
	pthread_mutex_unlock(&a->lock);
}
