/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * worker.c - an event loop of the proxy: accept on its own listeners,
 * sweep its connections every second, and take requests from other
 * threads through an eventfd (policy changed, drain, stop, posted calls).
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "audit.h"
#include "front.h"
#include "peers.h"
#include "log.h"
#include "resolve.h"
#include "sock.h"
#include "store.h"
#include "upool.h"
#include "worker.h"

struct worker_msg {
	struct worker_msg *next;
	void (*fn)(struct worker *, void *);
	void *arg;
};

static void
worker_resume_cb(struct ev_timer *t)
{
	struct worker *w = t->arg;

	w->is_listen_paused = 0;
	if (w->http_fd != -1)
		ev_io_set(w->ev, &w->http_io, EPOLLIN);
	if (w->https_fd != -1)
		ev_io_set(w->ev, &w->https_io, EPOLLIN);
}

/* Out of descriptors: shed load for a second rather than spin. */
static void
worker_listen_pause(struct worker *w)
{
	log_warnx("out of file descriptors: pausing accept for 1 s");
	w->is_listen_paused = 1;
	if (w->http_fd != -1)
		ev_io_set(w->ev, &w->http_io, 0);
	if (w->https_fd != -1)
		ev_io_set(w->ev, &w->https_io, 0);
	ev_timer_arm(w->ev, &w->listen_resume, 1000);
}

static void
worker_accept_cb(struct ev_io *io, uint32_t events)
{
	struct worker *w = io->arg;
	int is_tls = io == &w->https_io;
	struct sockaddr_storage ss;
	socklen_t sslen;
	int i, fd;

	(void)events;
	for (i = 0; i < 64; i++) {
		sslen = sizeof(ss);
		fd = sock_accept(io->fd, (struct sockaddr *)&ss, &sslen);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE)
				worker_listen_pause(w);
			return;
		}
		counter_bump(&w->n_accepted);
		/* TCP_NODELAY comes from the listener */
		if (is_tls)
			front_accept(w, fd, (struct sockaddr *)&ss);
		else
			conn_accept(w, fd, (struct sockaddr *)&ss);
	}
}

void
worker_listen_close(struct worker *w)
{
	if (w->http_fd != -1) {
		ev_io_del(w->ev, &w->http_io);
		close(w->http_fd);
		w->http_fd = -1;
	}
	if (w->https_fd != -1) {
		ev_io_del(w->ev, &w->https_io);
		close(w->https_fd);
		w->https_fd = -1;
	}
	ev_timer_stop(w->ev, &w->listen_resume);
}

static void
worker_sweep_cb(struct ev_timer *t)
{
	struct worker *w = t->arg;

	conn_sweep(w);
	if (atomic_load(&w->px->is_draining))
		conn_close_idle(w);
	ev_timer_arm(w->ev, &w->sweep, 1000);
}

static void
worker_run_mbox(struct worker *w)
{
	struct worker_msg *m, *next, *rev = NULL;

	pthread_mutex_lock(&w->mbox_lock);
	m = w->mbox;
	w->mbox = NULL;
	pthread_mutex_unlock(&w->mbox_lock);
	/* oldest first */
	for (; m != NULL; m = next) {
		next = m->next;
		m->next = rev;
		rev = m;
	}
	for (m = rev; m != NULL; m = next) {
		next = m->next;
		m->fn(w, m->arg);
		free(m);
	}
}

static void
worker_wake_cb(struct ev_io *io, uint32_t events)
{
	struct worker *w = io->arg;
	uint64_t n;
	unsigned what;

	(void)events;
	while (read(w->wake_fd, &n, sizeof(n)) == -1 && errno == EINTR)
		;
	what = atomic_exchange(&w->pending, 0);
	if (what & WORKER_DRAIN) {
		worker_listen_close(w);
		conn_close_idle(w);
	}
	if (what & WORKER_REJUDGE) {
		conn_rejudge_all(w);
		if (w->idx == 0)
			proxy_arm_expiry(w->px);
	}
	if ((what & WORKER_SAVE_SECRETS) && w->idx == 0)
		proxy_save_secrets(w->px);
	worker_run_mbox(w);
	if (what & WORKER_STOP)
		ev_break(w->ev);
}

void
worker_signal(struct worker *w, unsigned what)
{
	uint64_t one = 1;

	atomic_fetch_or(&w->pending, what);
	while (write(w->wake_fd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
}

int
worker_post(struct worker *w, void (*fn)(struct worker *, void *), void *arg)
{
	struct worker_msg *m = malloc(sizeof(*m));
	uint64_t one = 1;

	if (m == NULL)
		return -1;
	m->fn = fn;
	m->arg = arg;
	pthread_mutex_lock(&w->mbox_lock);
	m->next = w->mbox;
	w->mbox = m;
	pthread_mutex_unlock(&w->mbox_lock);
	while (write(w->wake_fd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
	return 0;
}

static int
worker_listen_add(struct worker *w, struct ev_io *io, int fd)
{
	ev_io_init(io, worker_accept_cb, w);
	return ev_io_add(w->ev, io, fd, EPOLLIN);
}

struct worker *
worker_new(struct proxy *px, unsigned idx, int http_fd, int https_fd)
{
	struct worker *w = NULL;

	/* aligned: its counters and judge mutex sit on lines of their own */
	if (posix_memalign((void **)&w, _Alignof(struct worker),
	    sizeof(*w)) != 0) {
		w = NULL;
		goto fail;
	}
	memset(w, 0, sizeof(*w));
	w->px = px;
	w->idx = idx;
	w->http_fd = http_fd;
	w->https_fd = https_fd;
	w->wake_fd = -1;
	http_fd = https_fd = -1;
	pthread_mutex_init(&w->mbox_lock, NULL);
	{
		pthread_mutexattr_t ma;

		pthread_mutexattr_init(&ma);
		pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
		pthread_mutex_init(&w->judge_lock, &ma);
		pthread_mutexattr_destroy(&ma);
	}
	relay_pool_init(&w->pipes);
	ev_timer_init(&w->listen_resume, worker_resume_cb, w);
	ev_timer_init(&w->sweep, worker_sweep_cb, w);
	ev_io_init(&w->wake_io, worker_wake_cb, w);
	w->ev = idx == 0 ? px->ev : ev_new();
	if (w->ev == NULL)
		goto fail;
	w->resolver = resolver_new(w->ev);
	w->upool = upool_new(w->ev, NULL);
	w->peers = peers_new(px->cfg.peer_prefix6);
	/* an even share: SO_REUSEPORT spreads one address's connections
	 * over the loops */
	w->peer_limit = (px->cfg.max_conns_per_peer + px->cfg.workers - 1) /
	    px->cfg.workers;
	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->resolver == NULL || w->upool == NULL || w->peers == NULL ||
	    w->wake_fd == -1 ||
	    ev_io_add(w->ev, &w->wake_io, w->wake_fd, EPOLLIN) == -1 ||
	    worker_listen_add(w, &w->http_io, w->http_fd) == -1 ||
	    (w->https_fd != -1 &&
	    worker_listen_add(w, &w->https_io, w->https_fd) == -1))
		goto fail;
	ev_timer_arm(w->ev, &w->sweep, 1000);
	if (idx != 0) /* audit lines go out in batches before it waits */
		ev_on_wait(w->ev, audit_flush_hook, px->audit);
	return w;
fail:
	if (http_fd != -1)
		close(http_fd);
	if (https_fd != -1)
		close(https_fd);
	worker_free(w);
	return NULL;
}

static void *
worker_thread(void *arg)
{
	struct worker *w = arg;

	proxy_thread_bind(w);
	if (ev_run(w->ev) == -1)
		log_warn("worker %u: event loop", w->idx);
	worker_listen_close(w);
	front_close_all(w);
	conn_close_all(w);
	return NULL;
}

int
worker_start(struct worker *w)
{
	sigset_t all, old;
	int rc;

	/* signals are the main loop's (signalfd): none for this thread */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->thread, NULL, worker_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	w->has_thread = 1;
	return 0;
}

void
worker_stop(struct worker *w)
{
	if (w == NULL)
		return;
	if (w->has_thread) {
		worker_signal(w, WORKER_STOP);
		pthread_join(w->thread, NULL);
		w->has_thread = 0;
		return;
	}
	worker_listen_close(w);
	front_close_all(w);
	conn_close_all(w);
}

void
worker_free(struct worker *w)
{
	struct worker_msg *m, *next;

	if (w == NULL)
		return;
	worker_listen_close(w);
	if (w->ev != NULL) {
		ev_timer_stop(w->ev, &w->sweep);
		if (w->wake_fd != -1)
			ev_io_del(w->ev, &w->wake_io);
	}
	if (w->wake_fd != -1)
		close(w->wake_fd);
	/* posted calls never run: their owners are gone */
	for (m = w->mbox; m != NULL; m = next) {
		next = m->next;
		free(m->arg);
		free(m);
	}
	upool_free(w->upool);
	peers_free(w->peers);
	resolver_free(w->resolver);
	relay_pool_reset(&w->pipes);
	if (w->ev != NULL && w->idx != 0)
		ev_free(w->ev);
	pthread_mutex_destroy(&w->mbox_lock);
	pthread_mutex_destroy(&w->judge_lock);
	free(w);
}
