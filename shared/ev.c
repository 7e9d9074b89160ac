/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ev.c - epoll loop, timer heap, deferred frees and wait hooks (see ev.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "ev.h"
#include "log.h"

#define EV_BATCH 256

struct ev_deferred {
	ev_free_fn fn;
	void *p;
};

struct ev_hook {
	ev_wait_fn fn;
	void *arg; /* borrowed */
};

struct ev {
	int epfd;
	int is_running;
	int64_t now_ms;
	uint64_t batch;         /* epoll_wait calls so far */
	struct ev_timer **heap; /* min-heap by when_ms; borrowed timers */
	size_t nheap, capheap;
	struct ev_deferred *deferred;
	size_t ndeferred, capdeferred;
	struct ev_hook wait_hooks[EV_WAIT_HOOKS];
	size_t nwait_hooks;
};

static int64_t
ev_clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ev *
ev_new(void)
{
	struct ev *ev = calloc(1, sizeof(*ev));

	if (ev == NULL)
		return NULL;
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ev->epfd == -1) {
		free(ev);
		return NULL;
	}
	ev->now_ms = ev_clock_ms();
	return ev;
}

static void
ev_run_deferred(struct ev *ev)
{
	size_t i;

	/* a free function may defer more; loop until none are left */
	for (i = 0; i < ev->ndeferred; i++)
		ev->deferred[i].fn(ev->deferred[i].p);
	ev->ndeferred = 0;
}

void
ev_free(struct ev *ev)
{
	if (ev == NULL)
		return;
	ev_run_deferred(ev);
	close(ev->epfd);
	free(ev->heap);
	free(ev->deferred);
	free(ev);
}

void
ev_io_init(struct ev_io *io, ev_io_cb cb, void *arg)
{
	io->fd = -1;
	io->events = 0;
	io->armed_batch = 0;
	io->cb = cb;
	io->arg = arg;
}

int
ev_io_add(struct ev *ev, struct ev_io *io, int fd, uint32_t events)
{
	struct epoll_event ee;

	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.ptr = io;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &ee) == -1)
		return -1;
	io->fd = fd;
	io->events = events;
	io->armed_batch = ev->batch;
	return 0;
}

int
ev_io_set(struct ev *ev, struct ev_io *io, uint32_t events)
{
	struct epoll_event ee;

	if (io->fd < 0 || io->events == events)
		return 0;
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.ptr = io;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, io->fd, &ee) == -1)
		return -1;
	io->events = events;
	return 0;
}

void
ev_io_del(struct ev *ev, struct ev_io *io)
{
	if (io->fd < 0)
		return;
	epoll_ctl(ev->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->fd = -1;
	io->events = 0;
}

void
ev_io_forget(struct ev_io *io)
{
	io->fd = -1;
	io->events = 0;
}

int
ev_io_move(struct ev *ev, struct ev_io *from, struct ev_io *to,
    uint32_t events)
{
	struct epoll_event ee;

	if (from->fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (to->fd >= 0) { /* its own registration would be left behind */
		errno = EBUSY;
		return -1;
	}
	memset(&ee, 0, sizeof(ee));
	ee.events = events;
	ee.data.ptr = to;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_MOD, from->fd, &ee) == -1)
		return -1;
	to->fd = from->fd;
	to->events = events;
	to->armed_batch = ev->batch;
	from->fd = -1;
	from->events = 0;
	return 0;
}

void
ev_timer_init(struct ev_timer *t, ev_timer_cb cb, void *arg)
{
	t->when_ms = 0;
	t->heap_idx = 0;
	t->cb = cb;
	t->arg = arg;
}

static void
ev_heap_swap(struct ev *ev, size_t a, size_t b)
{
	struct ev_timer *t = ev->heap[a];

	ev->heap[a] = ev->heap[b];
	ev->heap[b] = t;
	ev->heap[a]->heap_idx = a + 1;
	ev->heap[b]->heap_idx = b + 1;
}

static void
ev_heap_up(struct ev *ev, size_t i)
{
	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (ev->heap[parent]->when_ms <= ev->heap[i]->when_ms)
			break;
		ev_heap_swap(ev, parent, i);
		i = parent;
	}
}

static void
ev_heap_down(struct ev *ev, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;

		if (l < ev->nheap && ev->heap[l]->when_ms < ev->heap[m]->when_ms)
			m = l;
		if (r < ev->nheap && ev->heap[r]->when_ms < ev->heap[m]->when_ms)
			m = r;
		if (m == i)
			break;
		ev_heap_swap(ev, i, m);
		i = m;
	}
}

void
ev_timer_stop(struct ev *ev, struct ev_timer *t)
{
	size_t i;

	if (t->heap_idx == 0)
		return;
	i = t->heap_idx - 1;
	t->heap_idx = 0;
	ev->nheap--;
	if (i == ev->nheap)
		return;
	ev->heap[i] = ev->heap[ev->nheap];
	ev->heap[i]->heap_idx = i + 1;
	ev_heap_up(ev, i);
	ev_heap_down(ev, i);
}

void
ev_timer_arm_at(struct ev *ev, struct ev_timer *t, int64_t when_ms)
{
	ev_timer_stop(ev, t);
	if (ev->nheap == ev->capheap) {
		size_t ncap = ev->capheap ? ev->capheap * 2 : 64;
		struct ev_timer **h = realloc(ev->heap, ncap * sizeof(*h));

		if (h == NULL)
			fatal("ev_timer_arm");
		ev->heap = h;
		ev->capheap = ncap;
	}
	t->when_ms = when_ms;
	ev->heap[ev->nheap] = t;
	t->heap_idx = ++ev->nheap;
	ev_heap_up(ev, ev->nheap - 1);
}

void
ev_timer_arm(struct ev *ev, struct ev_timer *t, int64_t ms)
{
	ev_timer_arm_at(ev, t, ev_clock_ms() + ms);
}

void
ev_defer_free(struct ev *ev, ev_free_fn fn, void *p)
{
	if (ev->ndeferred == ev->capdeferred) {
		size_t ncap = ev->capdeferred ? ev->capdeferred * 2 : 64;
		struct ev_deferred *d = realloc(ev->deferred, ncap * sizeof(*d));

		if (d == NULL)
			fatal("ev_defer_free");
		ev->deferred = d;
		ev->capdeferred = ncap;
	}
	ev->deferred[ev->ndeferred].fn = fn;
	ev->deferred[ev->ndeferred].p = p;
	ev->ndeferred++;
}

void
ev_on_wait(struct ev *ev, ev_wait_fn fn, void *arg)
{
	if (ev->nwait_hooks == EV_WAIT_HOOKS)
		fatalx("ev_on_wait: more than %d wait hooks", EV_WAIT_HOOKS);
	ev->wait_hooks[ev->nwait_hooks].fn = fn;
	ev->wait_hooks[ev->nwait_hooks].arg = arg;
	ev->nwait_hooks++;
}

int64_t
ev_now(const struct ev *ev)
{
	return ev->now_ms;
}

void
ev_break(struct ev *ev)
{
	ev->is_running = 0;
}

static void
ev_run_timers(struct ev *ev)
{
	while (ev->nheap > 0 && ev->heap[0]->when_ms <= ev->now_ms) {
		struct ev_timer *t = ev->heap[0];

		ev_timer_stop(ev, t);
		t->cb(t);
	}
}

int
ev_run(struct ev *ev)
{
	struct epoll_event events[EV_BATCH];
	int i, n, timeout;
	size_t h;

	ev->is_running = 1;
	while (ev->is_running) {
		/* hooks first: one may arm a timer */
		for (h = 0; h < ev->nwait_hooks; h++)
			ev->wait_hooks[h].fn(ev->wait_hooks[h].arg);
		timeout = -1;
		if (ev->nheap > 0) {
			int64_t d = ev->heap[0]->when_ms - ev_clock_ms();

			timeout = d < 0 ? 0 : (d > 60000 ? 60000 : (int)d);
		}
		n = epoll_wait(ev->epfd, events, EV_BATCH, timeout);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		ev->now_ms = ev_clock_ms();
		ev->batch++;
		for (i = 0; i < n; i++) {
			struct ev_io *io = events[i].data.ptr;

			/* deleted earlier in this batch, or deleted and
			 * registered again (another fd, maybe the same
			 * number): the event was about what it watched
			 * before */
			if (io->fd < 0 || io->armed_batch == ev->batch)
				continue;
			io->cb(io, events[i].events);
		}
		ev_run_deferred(ev);
		ev->now_ms = ev_clock_ms();
		ev_run_timers(ev);
		ev_run_deferred(ev);
	}
	return 0;
}
