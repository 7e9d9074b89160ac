/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * buf.c - bounded byte buffer (see buf.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}

size_t
buf_room(const struct buf *b)
{
	return b->max - b->len;
}

/* Make room for n more bytes at the end; -1/ENOBUFS past the ceiling. */
static int
buf_reserve(struct buf *b, size_t n)
{
	size_t need, ncap;
	char *p;

	if (n > b->max - b->len) {
		errno = ENOBUFS;
		return -1;
	}
	need = b->len + n;
	if (b->off + need <= b->cap)
		return 0;
	if (b->off > 0 && need <= b->cap) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
		return 0;
	}
	ncap = b->cap ? b->cap : 4096;
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->max)
		ncap = b->max;
	if (b->off > 0) {
		memmove(b->data, b->data + b->off, b->len);
		b->off = 0;
	}
	/* not realloc: the old block is wiped before it is freed, since a
	 * buffer may hold a secret (a request head with its credential) */
	p = malloc(ncap);
	if (p == NULL)
		return -1;
	if (b->data != NULL) {
		memcpy(p, b->data, b->len);
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = p;
	b->cap = ncap;
	return 0;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->off + b->len, p, n);
	b->len += n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = EOVERFLOW;
		return -1;
	}
	return buf_append(b, tmp, (size_t)n);
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = b->len = 0;
		return;
	}
	b->off += n;
	b->len -= n;
}

ssize_t
buf_read_fd(struct buf *b, int fd)
{
	return buf_read_fd_max(b, fd, BUF_READ_MAX);
}

ssize_t
buf_read_fd_max(struct buf *b, int fd, size_t most)
{
	size_t want = b->max - b->len;
	ssize_t n;

	if (want == 0) {
		errno = ENOBUFS;
		return -1;
	}
	if (want > most)
		want = most;
	if (want > BUF_READ_MAX)
		want = BUF_READ_MAX;
	if (want == 0) {
		errno = EINVAL; /* most == 0: a 0 would read as the end */
		return -1;
	}
	if (buf_reserve(b, want) == -1) {
		/* grow as far as the ceiling allows */
		want = b->max - b->len;
		if (buf_reserve(b, want) == -1)
			return -1;
	}
	n = read(fd, b->data + b->off + b->len, want);
	if (n > 0)
		b->len += (size_t)n;
	return n;
}

ssize_t
buf_write_fd(struct buf *b, int fd)
{
	ssize_t n;

	if (b->len == 0)
		return 0;
	n = write(fd, b->data + b->off, b->len);
	if (n > 0)
		buf_consume(b, (size_t)n);
	return n;
}
