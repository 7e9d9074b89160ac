/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * audit.c - the audit log (see audit.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "slicer_limits.h"
#include "log.h"

struct audit {
	char *path;     /* owned; NULL for stdout or none */
	int fd;         /* -1 when none */
	int is_stdout;
	char *ring[LIMIT_AUDIT_RING]; /* owned lines */
	size_t ring_len[LIMIT_AUDIT_RING];
	size_t ring_head, ring_count;
	struct audit_follower *followers; /* borrowed */
};

static int
audit_open_file(struct audit *a)
{
	int fd = open(a->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC |
	    O_NOFOLLOW, 0600);

	if (fd == -1)
		return -1;
	if (a->fd != -1)
		close(a->fd);
	a->fd = fd;
	return 0;
}

struct audit *
audit_new(const char *target, char *err, size_t errsz)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	a->fd = -1;
	if (target != NULL && strcmp(target, "-") == 0) {
		a->is_stdout = 1;
		a->fd = STDOUT_FILENO;
	} else if (target != NULL) {
		a->path = strdup(target);
		if (a->path == NULL || audit_open_file(a) == -1) {
			snprintf(err, errsz, "cannot open audit log %s: %s",
			    target, strerror(errno));
			free(a->path);
			free(a);
			return NULL;
		}
	}
	return a;
}

void
audit_free(struct audit *a)
{
	size_t i;

	if (a == NULL)
		return;
	while (a->followers != NULL) {
		struct audit_follower *f = a->followers;

		a->followers = f->next;
		f->gone(f->arg);
	}
	for (i = 0; i < LIMIT_AUDIT_RING; i++)
		free(a->ring[i]);
	if (a->fd != -1 && !a->is_stdout)
		close(a->fd);
	free(a->path);
	free(a);
}

int
audit_reopen(struct audit *a)
{
	if (a->path == NULL)
		return 0;
	return audit_open_file(a);
}

static void
audit_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			log_warn("audit log write");
			return;
		}
		p += n;
		len -= (size_t)n;
	}
}

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
audit_emit(struct audit *a, json_t *rec)
{
	char ts[64], frac[24];
	struct timespec now;
	struct tm tm;
	struct audit_follower *f, *next, **pp;
	char *line;
	size_t len;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(frac, sizeof(frac), ".%03ldZ", now.tv_nsec / 1000000);
	strncat(ts, frac, sizeof(ts) - strlen(ts) - 1);
	json_object_set_new(rec, "time", json_string(ts));
	line = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(rec);
	if (line == NULL)
		return;
	len = strlen(line);
	line[len] = '\n'; /* json_dumps allocated len+1: reuse the NUL slot */
	if (a->fd != -1)
		audit_write_all(a->fd, line, len + 1);

	/* ring of recent lines (without the newline, NUL-terminated copy) */
	{
		size_t slot = (a->ring_head + a->ring_count) % LIMIT_AUDIT_RING;
		char *copy = malloc(len + 2);

		if (copy != NULL) {
			memcpy(copy, line, len + 1);
			copy[len + 1] = '\0';
			if (a->ring_count == LIMIT_AUDIT_RING) {
				free(a->ring[a->ring_head]);
				a->ring[a->ring_head] = NULL;
				slot = a->ring_head;
				a->ring_head = (a->ring_head + 1) %
				    LIMIT_AUDIT_RING;
			} else {
				a->ring_count++;
			}
			a->ring[slot] = copy;
			a->ring_len[slot] = len + 1;
		}
	}

	pp = &a->followers;
	for (f = a->followers; f != NULL; f = next) {
		next = f->next;
		line[len] = '\0';
		if (!audit_line_matches(line, f->client, f->is_denied_only)) {
			line[len] = '\n';
			pp = &f->next;
			continue;
		}
		line[len] = '\n';
		if (f->write(f->arg, line, len + 1) == -1) {
			*pp = next;
			f->gone(f->arg);
			continue;
		}
		pp = &f->next;
	}
	free(line);
}

void
audit_recent(struct audit *a, void (*fn)(void *arg, const char *line,
    size_t len), void *arg)
{
	size_t i;

	for (i = 0; i < a->ring_count; i++) {
		size_t slot = (a->ring_head + i) % LIMIT_AUDIT_RING;

		fn(arg, a->ring[slot], a->ring_len[slot]);
	}
}

void
audit_follow(struct audit *a, struct audit_follower *f)
{
	f->next = a->followers;
	a->followers = f;
}

void
audit_unfollow(struct audit *a, struct audit_follower *f)
{
	struct audit_follower **pp;

	for (pp = &a->followers; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == f) {
			*pp = f->next;
			return;
		}
	}
}
