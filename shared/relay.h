/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay.h - one direction of a splice(2) relay between two sockets, and the
 * pool of empty pipes it borrows from.
 *
 * A direction holds a pipe only while bytes are in flight: it takes one
 * from the pool when it reads and gives it back as soon as it is empty, so
 * an idle tunnel costs its two sockets and no pipe.  It reads only when the
 * caller says epoll reported the socket readable, so an idle direction
 * costs no system call.
 *
 * The pool is a plain struct the caller owns, one per event loop: there is
 * no global state here, no epoll and no policy.
 */
#ifndef SLICER_RELAY_H
#define SLICER_RELAY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "slicer_limits.h"

/* Empty pipes ready for reuse (O_NONBLOCK | O_CLOEXEC). */
struct relay_pool {
	int pipes[LIMIT_PIPE_POOL][2]; /* owned: [0] read end, [1] write end */
	size_t len;                    /* how many of pipes[] are pooled */
};

/* One direction, in -> pipe -> out. */
struct relay_dir {
	int pipe[2];   /* owned; -1 while no bytes are in flight */
	size_t inpipe; /* bytes read from in, not yet written to out */
	int is_eof;    /* in reached end of stream */
	int is_full;   /* the pipe took no more: do not watch in until out
			* has taken some (see relay_dir_wants_read) */
};

void relay_pool_init(struct relay_pool *pool);
/* Close every pooled pipe; the pool is empty and usable again. */
void relay_pool_reset(struct relay_pool *pool);
/*
 * An empty pipe into p: a pooled one, else a new one from pipe2(2)
 * (O_NONBLOCK | O_CLOEXEC).  0, or -1 with errno (EMFILE ...).
 */
int relay_pool_get(struct relay_pool *pool, int p[2]);
/*
 * Take back p (ownership passes to the pool) and set it to -1, -1.  It is
 * pooled when is_empty and there is room, else closed: a pipe with bytes
 * in it is never reused.  p of -1 is a no-op.
 */
void relay_pool_put(struct relay_pool *pool, int p[2], int is_empty);

/* No pipe, nothing in flight, not at end of stream. */
void relay_dir_init(struct relay_dir *d);
/*
 * Move bytes from socket in to socket out (both non-blocking) through d's
 * pipe.  *ready holds the epoll events seen on in and not yet consumed:
 * in is read (at most LIMIT_SPLICE_PIPE - d->inpipe bytes) only when it has
 * EPOLLIN, EPOLLHUP or EPOLLERR, d is not at end of stream and the pipe has
 * room; EAGAIN from in clears those three bits, 0 from in sets d->is_eof.
 * Then whatever is in the pipe is written to out as far as out takes it.
 * The pipe comes from pool when reading needs one and goes back to it as
 * soon as it is empty.
 *
 * Returns the bytes written to out (0 included: nothing to do, or out is
 * full), or -1 with errno on an error of either socket or when no pipe
 * could be had.  Progress either way shows as a return > 0 or a change of
 * d->inpipe.
 */
ssize_t relay_dir_splice(struct relay_pool *pool, struct relay_dir *d, int in,
    uint32_t *ready, int out);
/*
 * Whether to watch in for EPOLLIN: not at end of stream and the pipe has
 * room.  Splicing from a socket fills a pipe slot per socket buffer, so a
 * pipe can be full with far fewer than LIMIT_SPLICE_PIPE bytes; d->is_full
 * then keeps a readable in from waking a level-triggered loop until out
 * takes some.
 */
int relay_dir_wants_read(const struct relay_dir *d);
/* Whether to watch out for EPOLLOUT: bytes are waiting in the pipe. */
int relay_dir_wants_write(const struct relay_dir *d);
/*
 * Give d's pipe back to pool (closed when it still holds bytes) and reset d
 * as relay_dir_init does.
 */
void relay_dir_close(struct relay_pool *pool, struct relay_dir *d);

#endif
