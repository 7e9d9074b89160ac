/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * relay.c - splice(2) relay directions and their pipe pool (see relay.h).
 *
 * Owns nothing but the pipes in a pool and in a direction; the sockets and
 * the readiness bits belong to the caller, and so does deciding what to
 * watch and when to shut down or close.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "relay.h"

#define RELAY_READABLE ((uint32_t)(EPOLLIN | EPOLLHUP | EPOLLERR))
#define RELAY_PIPE_MAX ((size_t)LIMIT_SPLICE_PIPE)

void
relay_pool_init(struct relay_pool *pool)
{
	pool->len = 0;
}

void
relay_pool_reset(struct relay_pool *pool)
{
	while (pool->len > 0) {
		pool->len--;
		close(pool->pipes[pool->len][0]);
		close(pool->pipes[pool->len][1]);
	}
}

/*
 * No F_SETPIPE_SZ: the default pipe is 16 slots, 64 KiB with 4 KiB pages,
 * and shrinking it to LIMIT_SPLICE_PIPE bytes on a kernel with 64 KiB pages
 * would leave one slot.
 */
int
relay_pool_get(struct relay_pool *pool, int p[2])
{
	if (pool->len > 0) {
		pool->len--;
		p[0] = pool->pipes[pool->len][0];
		p[1] = pool->pipes[pool->len][1];
		return 0;
	}
	return pipe2(p, O_NONBLOCK | O_CLOEXEC);
}

void
relay_pool_put(struct relay_pool *pool, int p[2], int is_empty)
{
	if (p[0] == -1)
		return;
	if (is_empty && pool->len < LIMIT_PIPE_POOL) {
		pool->pipes[pool->len][0] = p[0];
		pool->pipes[pool->len][1] = p[1];
		pool->len++;
	} else {
		close(p[0]);
		close(p[1]);
	}
	p[0] = p[1] = -1;
}

void
relay_dir_init(struct relay_dir *d)
{
	d->pipe[0] = d->pipe[1] = -1;
	d->inpipe = 0;
	d->is_eof = 0;
	d->is_full = 0;
}

ssize_t
relay_dir_splice(struct relay_pool *pool, struct relay_dir *d, int in,
    uint32_t *ready, int out)
{
	ssize_t n, moved = 0;
	size_t want;

	if (!d->is_eof && (*ready & RELAY_READABLE) &&
	    d->inpipe < RELAY_PIPE_MAX) {
		if (d->pipe[0] == -1 && relay_pool_get(pool, d->pipe) == -1)
			return -1;
		want = RELAY_PIPE_MAX - d->inpipe;
		n = splice(in, NULL, d->pipe[1], NULL, want,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n == 0) {
			d->is_eof = 1;
		} else if (n > 0) {
			d->inpipe += (size_t)n;
			d->is_full = 0;
			/*
			 * A short read took what the socket had: do not try
			 * again (and meet EAGAIN) until epoll says there is
			 * more.  The loop is level-triggered, so bytes that
			 * are still there are reported again.
			 */
			if ((size_t)n < want)
				*ready &= ~RELAY_READABLE;
		} else if (errno == EAGAIN) {
			/* in is drained, or the pipe's slots are all taken */
			*ready &= ~RELAY_READABLE;
			d->is_full = d->inpipe > 0;
		} else if (errno != EINTR) {
			return -1;
		}
	}
	if (d->inpipe > 0) {
		n = splice(d->pipe[0], NULL, out, NULL, d->inpipe,
		    SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
		if (n > 0) {
			d->inpipe -= (size_t)n;
			d->is_full = 0;
			moved = n;
		} else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			return -1;
		}
	}
	if (d->inpipe == 0) {
		relay_pool_put(pool, d->pipe, 1); /* idle again: no pipe held */
		d->is_full = 0;
	}
	return moved;
}

int
relay_dir_wants_read(const struct relay_dir *d)
{
	return !d->is_eof && !d->is_full && d->inpipe < RELAY_PIPE_MAX;
}

int
relay_dir_wants_write(const struct relay_dir *d)
{
	return d->inpipe > 0;
}

void
relay_dir_close(struct relay_pool *pool, struct relay_dir *d)
{
	relay_pool_put(pool, d->pipe, d->inpipe == 0);
	relay_dir_init(d);
}
