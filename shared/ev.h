/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ev.h - a single-threaded, level-triggered epoll loop with fd watchers,
 * one-shot timers (binary heap, monotonic ms) and deferred frees.
 *
 * Objects that own watchers are freed with ev_defer_free() so an event still
 * queued in the current epoll batch never touches freed memory: ev_io_del() or
 * ev_io_forget() marks the watcher dead and the dispatcher skips it.
 *
 * Wait hooks (ev_on_wait) run right before each epoll_wait: the place to
 * write out what a batch of events queued (the audit log's buffer).
 */
#ifndef SLICER_EV_H
#define SLICER_EV_H

#include <stddef.h>
#include <stdint.h>

struct ev;
struct ev_io;
struct ev_timer;

typedef void (*ev_io_cb)(struct ev_io *io, uint32_t events);
typedef void (*ev_timer_cb)(struct ev_timer *t);
typedef void (*ev_free_fn)(void *p);
typedef void (*ev_wait_fn)(void *arg);

/* Wait hooks one loop can hold; registering more is a programming error. */
#define EV_WAIT_HOOKS 4

struct ev_io {
	int fd;           /* -1 when not registered */
	uint32_t events;  /* EPOLLIN / EPOLLOUT currently watched */
	uint64_t armed_batch; /* the loop's batch it was registered in */
	ev_io_cb cb;
	void *arg;        /* borrowed */
};

struct ev_timer {
	int64_t when_ms;  /* monotonic */
	size_t heap_idx;  /* 0: not armed; otherwise index + 1 */
	ev_timer_cb cb;
	void *arg;        /* borrowed */
};

struct ev *ev_new(void);
void ev_free(struct ev *ev);

void ev_io_init(struct ev_io *io, ev_io_cb cb, void *arg);
/* Watch fd for events (EPOLLIN|EPOLLOUT, 0 allowed).  0 or -1. */
int ev_io_add(struct ev *ev, struct ev_io *io, int fd, uint32_t events);
/* Change the watched events (no syscall when unchanged). */
int ev_io_set(struct ev *ev, struct ev_io *io, uint32_t events);
/* Stop watching; does not close the fd.  Safe on an unregistered io. */
void ev_io_del(struct ev *ev, struct ev_io *io);
/* Forget a watch whose fd the caller closes next (never duplicated, so
 * the close takes it out of the epoll set): no system call. */
void ev_io_forget(struct ev_io *io);
/* Hand from's fd to the watcher to (which must hold none), now watching
 * events, in one system call; from is left unregistered and hears nothing
 * more, not even an event already fetched in this batch.  0, or -1 with
 * both unchanged (EBADF: from holds no fd; EBUSY: to holds one). */
int ev_io_move(struct ev *ev, struct ev_io *from, struct ev_io *to,
    uint32_t events);

void ev_timer_init(struct ev_timer *t, ev_timer_cb cb, void *arg);
/* Arm (or re-arm) to fire after ms milliseconds. */
void ev_timer_arm(struct ev *ev, struct ev_timer *t, int64_t ms);
/* Arm to fire at an absolute monotonic time. */
void ev_timer_arm_at(struct ev *ev, struct ev_timer *t, int64_t when_ms);
void ev_timer_stop(struct ev *ev, struct ev_timer *t);
static inline int
ev_timer_armed(const struct ev_timer *t)
{
	return t->heap_idx != 0;
}

/* Free p with fn after the current batch of events. */
void ev_defer_free(struct ev *ev, ev_free_fn fn, void *p);

/* Call fn(arg) right before each epoll_wait, in registration order, for
 * the life of the loop.  fatalx past EV_WAIT_HOOKS hooks. */
void ev_on_wait(struct ev *ev, ev_wait_fn fn, void *arg);

/* Cached monotonic time of the current iteration (ms). */
int64_t ev_now(const struct ev *ev);

/* Run until ev_break(); returns 0, or -1 on an epoll error. */
int ev_run(struct ev *ev);
void ev_break(struct ev *ev);

#endif
