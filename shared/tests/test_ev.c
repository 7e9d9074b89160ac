/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_ev.c - the event loop's wait hooks: called in order right before
 * each epoll_wait, up to EV_WAIT_HOOKS of them; a watcher forgotten and
 * its fd closed leaves nothing behind in the epoll set.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"

struct hooked {
	struct ev *ev;
	struct ev_timer t;
	int calls[2];     /* per hook */
	int order[16];    /* which hook ran, in order */
	int norder;
	int seen[8];      /* hook 0's calls when the timer fired */
	int fires;
};

static void
hook0(void *arg)
{
	struct hooked *h = arg;

	h->calls[0]++;
	if (h->norder < 16)
		h->order[h->norder++] = 0;
}

static void
hook1(void *arg)
{
	struct hooked *h = arg;

	h->calls[1]++;
	if (h->norder < 16)
		h->order[h->norder++] = 1;
}

static void
hooked_timer_cb(struct ev_timer *t)
{
	struct hooked *h = t->arg;

	h->seen[h->fires++] = h->calls[0];
	if (h->fires == 4) {
		ev_break(h->ev);
		return;
	}
	/* 1 ms, so that each firing needs a new wait */
	ev_timer_arm(h->ev, &h->t, 1);
}

static void
test_hooks_before_each_wait(void **state)
{
	struct hooked h;
	int i;

	(void)state;
	memset(&h, 0, sizeof(h));
	h.ev = ev_new();
	assert_non_null(h.ev);
	ev_on_wait(h.ev, hook0, &h);
	ev_on_wait(h.ev, hook1, &h);
	ev_timer_init(&h.t, hooked_timer_cb, &h);
	ev_timer_arm(h.ev, &h.t, 1);
	assert_int_equal(ev_run(h.ev), 0);
	assert_int_equal(h.fires, 4);
	/* at least one wait before each firing, and the hooks ran as often
	 * as each other, in registration order */
	assert_true(h.seen[0] >= 1);
	for (i = 1; i < 4; i++)
		assert_true(h.seen[i] > h.seen[i - 1]);
	assert_int_equal(h.calls[0], h.calls[1]);
	assert_int_equal(h.calls[0], h.seen[3]);
	for (i = 0; i < h.norder; i++)
		assert_int_equal(h.order[i], i % 2);
	ev_free(h.ev);
}

/* The hook's work is visible to the wait that follows it: a hook that
 * makes an fd readable wakes the loop (were it called after the wait, the
 * loop would sleep until the guard timer). */
struct wake {
	struct ev *ev;
	struct ev_io io;
	struct ev_timer guard;
	int p[2];
	int is_written, is_read, is_guard;
};

static void
wake_hook(void *arg)
{
	struct wake *w = arg;

	if (!w->is_written && write(w->p[1], "x", 1) == 1)
		w->is_written = 1;
}

static void
wake_io_cb(struct ev_io *io, uint32_t events)
{
	struct wake *w = io->arg;
	char c;

	(void)events;
	if (read(w->p[0], &c, 1) == 1)
		w->is_read = 1;
	ev_break(w->ev);
}

static void
wake_guard_cb(struct ev_timer *t)
{
	struct wake *w = t->arg;

	w->is_guard = 1;
	ev_break(w->ev);
}

static void
test_hook_runs_before_the_wait(void **state)
{
	struct wake w;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(pipe2(w.p, O_NONBLOCK | O_CLOEXEC), 0);
	w.ev = ev_new();
	assert_non_null(w.ev);
	ev_io_init(&w.io, wake_io_cb, &w);
	assert_int_equal(ev_io_add(w.ev, &w.io, w.p[0], EPOLLIN), 0);
	ev_timer_init(&w.guard, wake_guard_cb, &w);
	ev_timer_arm(w.ev, &w.guard, 5000);
	ev_on_wait(w.ev, wake_hook, &w);
	assert_int_equal(ev_run(w.ev), 0);
	assert_true(w.is_written);
	assert_true(w.is_read);
	assert_false(w.is_guard);
	ev_timer_stop(w.ev, &w.guard);
	ev_io_del(w.ev, &w.io);
	ev_free(w.ev);
	close(w.p[0]);
	close(w.p[1]);
}

static int nothing_calls;

static void
nothing(void *arg)
{
	(void)arg;
	nothing_calls++;
}

static struct ev *limit_ev; /* reachable at the child's exit */

static void
test_hook_limit(void **state)
{
	int i, status;
	pid_t pid;

	(void)state;
	/* at the limit: fine */
	limit_ev = ev_new();
	assert_non_null(limit_ev);
	for (i = 0; i < EV_WAIT_HOOKS; i++)
		ev_on_wait(limit_ev, nothing, NULL);

	/* past it: a programming error, fatalx (exit 1) */
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(STDERR_FILENO); /* the expected fatal message */
		ev_on_wait(limit_ev, nothing, NULL);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 1);
	assert_int_equal(nothing_calls, 0);
	ev_free(limit_ev);
	limit_ev = NULL;
}

struct reused {
	struct ev *ev;
	struct ev_io old, fresh;
	struct ev_timer guard;
	int old_calls, fresh_calls, is_guard;
};

static void
reused_old_cb(struct ev_io *io, uint32_t events)
{
	struct reused *r = io->arg;

	(void)events;
	r->old_calls++;
}

static void
reused_fresh_cb(struct ev_io *io, uint32_t events)
{
	struct reused *r = io->arg;
	char c;

	(void)events;
	r->fresh_calls++;
	assert_int_equal(read(io->fd, &c, 1), 1);
	ev_break(r->ev);
}

static void
reused_guard_cb(struct ev_timer *t)
{
	struct reused *r = t->arg;

	r->is_guard = 1;
	ev_break(r->ev);
}

/* ev_io_forget + close(2): the fd number, reused at once, can be watched
 * again (no EEXIST from a registration left behind) and only the new
 * watcher hears of it. */
static void
test_forget_then_close(void **state)
{
	struct reused r;
	int p[2], q[2], oldfd;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.ev = ev_new();
	assert_non_null(r.ev);
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	ev_io_init(&r.old, reused_old_cb, &r);
	assert_int_equal(ev_io_add(r.ev, &r.old, p[0], EPOLLIN), 0);
	assert_int_equal(write(p[1], "x", 1), 1); /* readable when closed */
	oldfd = p[0];
	ev_io_forget(&r.old);
	assert_int_equal(r.old.fd, -1);
	close(p[0]);
	close(p[1]);

	assert_int_equal(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(q[0], oldfd); /* the lowest free number */
	ev_io_init(&r.fresh, reused_fresh_cb, &r);
	assert_int_equal(ev_io_add(r.ev, &r.fresh, q[0], EPOLLIN), 0);
	assert_int_equal(write(q[1], "y", 1), 1);
	ev_timer_init(&r.guard, reused_guard_cb, &r);
	ev_timer_arm(r.ev, &r.guard, 2000);
	assert_int_equal(ev_run(r.ev), 0);
	assert_false(r.is_guard);
	assert_int_equal(r.fresh_calls, 1);
	assert_int_equal(r.old_calls, 0);
	ev_timer_stop(r.ev, &r.guard);
	ev_io_del(r.ev, &r.fresh);
	ev_free(r.ev);
	close(q[0]);
	close(q[1]);
}

/* ev_io_move: two fds are readable, so one batch holds both events; the
 * first callback moves the other fd's watch to a third watcher.  The
 * watcher it left hears nothing, not even the event already fetched; the
 * new one hears it at the next wait (level-triggered); the fd stays under
 * one registration (adding it again: EEXIST). */
struct moved {
	struct ev *ev;
	struct ev_io a, b, to;
	struct ev_io *left;  /* the watcher moved from */
	struct ev_timer guard;
	int a_calls, b_calls, to_calls, is_guard;
};

static void
moved_cb(struct ev_io *io, uint32_t events)
{
	struct moved *m = io->arg;
	struct ev_io *other = io == &m->a ? &m->b : &m->a;

	(void)events;
	if (io == &m->a)
		m->a_calls++;
	else
		m->b_calls++;
	if (m->left != NULL)
		return;
	ev_io_del(m->ev, io);
	assert_int_equal(ev_io_move(m->ev, other, &m->to, EPOLLIN), 0);
	m->left = other;
}

static void
moved_to_cb(struct ev_io *io, uint32_t events)
{
	struct moved *m = io->arg;
	char c;

	assert_true(events & EPOLLIN);
	m->to_calls++;
	assert_int_equal(read(io->fd, &c, 1), 1);
	ev_break(m->ev);
}

static void
moved_guard_cb(struct ev_timer *t)
{
	struct moved *m = t->arg;

	m->is_guard = 1;
	ev_break(m->ev);
}

static void
test_move_in_batch(void **state)
{
	struct moved m;
	struct ev_io spare;
	int p[2], q[2], movedfd, freefd;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.ev = ev_new();
	assert_non_null(m.ev);
	assert_int_equal(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
	assert_int_equal(pipe2(q, O_NONBLOCK | O_CLOEXEC), 0);
	ev_io_init(&m.a, moved_cb, &m);
	ev_io_init(&m.b, moved_cb, &m);
	ev_io_init(&m.to, moved_to_cb, &m);
	assert_int_equal(ev_io_add(m.ev, &m.a, p[0], EPOLLIN), 0);
	assert_int_equal(ev_io_add(m.ev, &m.b, q[0], EPOLLIN), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(write(q[1], "y", 1), 1);
	ev_timer_init(&m.guard, moved_guard_cb, &m);
	ev_timer_arm(m.ev, &m.guard, 2000);
	assert_int_equal(ev_run(m.ev), 0);
	assert_false(m.is_guard);
	assert_non_null(m.left);
	movedfd = m.left == &m.a ? p[0] : q[0];
	/* the one that fired first was called once, the one moved never */
	assert_int_equal(m.a_calls + m.b_calls, 1);
	assert_int_equal(m.left == &m.a ? m.a_calls : m.b_calls, 0);
	assert_int_equal(m.to_calls, 1);
	assert_int_equal(m.left->fd, -1);
	assert_int_equal(m.left->events, 0);
	assert_int_equal(m.to.fd, movedfd);
	assert_int_equal(m.to.events, EPOLLIN);

	ev_io_init(&spare, moved_cb, &m);
	assert_int_equal(ev_io_add(m.ev, &spare, movedfd, EPOLLIN), -1);
	assert_int_equal(errno, EEXIST);
	/* a watcher that holds nothing cannot be moved */
	assert_int_equal(ev_io_move(m.ev, m.left, &spare, EPOLLIN), -1);
	assert_int_equal(errno, EBADF);
	/* nor can a watch be moved onto one that holds an fd of its own */
	freefd = movedfd == p[0] ? q[0] : p[0]; /* its watch was deleted */
	assert_int_equal(ev_io_add(m.ev, &spare, freefd, EPOLLIN), 0);
	assert_int_equal(ev_io_move(m.ev, &m.to, &spare, EPOLLIN), -1);
	assert_int_equal(errno, EBUSY);
	assert_int_equal(m.to.fd, movedfd);
	assert_int_equal(spare.fd, freefd);
	ev_io_del(m.ev, &spare);

	ev_timer_stop(m.ev, &m.guard);
	ev_io_del(m.ev, &m.to);
	ev_free(m.ev);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* Two watchers with an event each in one batch; whichever runs first
 * deletes the other and registers it again on a new fd that is not ready
 * (as a connection dials its next upstream): the other's event of that
 * batch was about its old fd and is not delivered. */
struct readd {
	struct ev *ev;
	struct ev_io a, b;
	int fresh[2];
	int calls, stale_calls, is_done;
	struct ev_timer guard;
};

static void
readd_cb(struct ev_io *io, uint32_t events)
{
	struct readd *r = io->arg;
	struct ev_io *other = io == &r->a ? &r->b : &r->a;
	char c;

	(void)events;
	if (r->is_done) {
		r->stale_calls++; /* only the new fd: never ready */
		return;
	}
	r->calls++;
	r->is_done = 1;
	assert_int_equal(read(io->fd, &c, 1), 1);
	ev_io_del(r->ev, other);
	assert_int_equal(ev_io_add(r->ev, other, r->fresh[0], EPOLLIN), 0);
}

static void
readd_guard_cb(struct ev_timer *t)
{
	struct readd *r = t->arg;

	ev_break(r->ev);
}

static void
test_readd_in_batch(void **state)
{
	struct readd r;
	int p[2], q[2];

	(void)state;
	memset(&r, 0, sizeof(r));
	r.ev = ev_new();
	assert_non_null(r.ev);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(pipe(q), 0);
	assert_int_equal(pipe(r.fresh), 0);
	ev_io_init(&r.a, readd_cb, &r);
	ev_io_init(&r.b, readd_cb, &r);
	assert_int_equal(ev_io_add(r.ev, &r.a, p[0], EPOLLIN), 0);
	assert_int_equal(ev_io_add(r.ev, &r.b, q[0], EPOLLIN), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(write(q[1], "y", 1), 1);
	ev_timer_init(&r.guard, readd_guard_cb, &r);
	ev_timer_arm(r.ev, &r.guard, 50);
	assert_int_equal(ev_run(r.ev), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.stale_calls, 0);
	ev_io_del(r.ev, &r.a);
	ev_io_del(r.ev, &r.b);
	ev_free(r.ev);
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
	close(r.fresh[0]);
	close(r.fresh[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hooks_before_each_wait),
		cmocka_unit_test(test_hook_runs_before_the_wait),
		cmocka_unit_test(test_hook_limit),
		cmocka_unit_test(test_forget_then_close),
		cmocka_unit_test(test_move_in_batch),
		cmocka_unit_test(test_readd_in_batch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
