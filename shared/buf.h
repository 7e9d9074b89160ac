/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * buf.h - bounded byte buffer.  Data lives in [off, off+len) of a heap block
 * that grows up to max and never past it: an append past max fails cleanly,
 * which is how every peer-sized input is bounded.  The block is allocated
 * lazily, so an idle connection holds no buffer memory (buf_release).
 */
#ifndef SLICER_BUF_H
#define SLICER_BUF_H

#include <stddef.h>
#include <sys/types.h>

struct buf {
	char *data;  /* owned */
	size_t off;  /* start of live data */
	size_t len;  /* bytes of live data */
	size_t cap;  /* allocated */
	size_t max;  /* ceiling for cap */
};

void buf_init(struct buf *b, size_t max);
/* Free the block (buffer stays usable, empty). */
void buf_release(struct buf *b);
/* Pointer to live data. */
static inline char *
buf_ptr(const struct buf *b)
{
	return b->data + b->off;
}
/* Room left before the ceiling. */
size_t buf_room(const struct buf *b);
/* Append; -1 (errno ENOBUFS) when it would exceed max. */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Drop n bytes from the front. */
void buf_consume(struct buf *b, size_t n);
/* The most one buf_read_fd asks read(2) for. */
#define BUF_READ_MAX 65536
/* read(2) up to the ceiling (at most BUF_READ_MAX) into the buffer:
 * returns read()'s result, or -1/ENOBUFS when the buffer is full. */
ssize_t buf_read_fd(struct buf *b, int fd);
/* The same, asking read(2) for at most most bytes (and growing the block
 * only as far as they need); most 0 is -1/EINVAL. */
ssize_t buf_read_fd_max(struct buf *b, int fd, size_t most);
/* write(2) from the front; consumes what was written. */
ssize_t buf_write_fd(struct buf *b, int fd);

#endif
