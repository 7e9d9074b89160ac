/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * resolve.c - c-ares in the event loop: ARES_OPT_SOCK_STATE_CB registers
 * c-ares' sockets with the loop, ares_process_fd services them, and a timer
 * follows ares_timeout().
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <ares.h>

#include "log.h"
#include "resolve.h"

struct resolver_fd {
	struct ev_io io;
	struct resolver *r;
	struct resolver_fd *next;
};

struct resolver {
	struct ev *ev;
	ares_channel channel;
	struct resolver_fd *fds; /* owned list */
	struct ev_timer timer;
};

struct resolve_req {
	struct resolver *r;
	resolve_cb cb;
	resolve_raw_cb raw_cb;
	void *arg;
	int is_cancelled;
	int is_done;     /* callback ran (possibly synchronously) */
	int is_started;  /* resolve_start returned a handle */
};

static void resolver_arm_timer(struct resolver *r);

static void
resolver_fd_cb(struct ev_io *io, uint32_t events)
{
	struct resolver_fd *rf = io->arg;
	struct resolver *r = rf->r;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	if (events & (EPOLLIN | EPOLLERR | EPOLLHUP))
		rfd = io->fd;
	if (events & EPOLLOUT)
		wfd = io->fd;
	ares_process_fd(r->channel, rfd, wfd);
	resolver_arm_timer(r);
}

static void
resolver_timer_cb(struct ev_timer *t)
{
	struct resolver *r = t->arg;

	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	resolver_arm_timer(r);
}

static void
resolver_arm_timer(struct resolver *r)
{
	struct timeval tv, *tvp;

	tvp = ares_timeout(r->channel, NULL, &tv);
	if (tvp == NULL) {
		ev_timer_stop(r->ev, &r->timer);
		return;
	}
	ev_timer_arm(r->ev, &r->timer,
	    (int64_t)tvp->tv_sec * 1000 + tvp->tv_usec / 1000 + 1);
}

static void
resolver_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct resolver *r = data;
	struct resolver_fd *rf, **pp;
	uint32_t events = (readable ? EPOLLIN : 0) | (writable ? EPOLLOUT : 0);

	for (pp = &r->fds; (rf = *pp) != NULL; pp = &rf->next)
		if (rf->io.fd == fd)
			break;
	if (events == 0) {
		if (rf != NULL) {
			*pp = rf->next;
			ev_io_del(r->ev, &rf->io);
			ev_defer_free(r->ev, free, rf);
		}
		return;
	}
	if (rf == NULL) {
		rf = calloc(1, sizeof(*rf));
		if (rf == NULL)
			return;
		rf->r = r;
		ev_io_init(&rf->io, resolver_fd_cb, rf);
		if (ev_io_add(r->ev, &rf->io, fd, events) == -1) {
			log_warn("resolver: epoll add");
			free(rf);
			return;
		}
		rf->next = r->fds;
		r->fds = rf;
		return;
	}
	ev_io_set(r->ev, &rf->io, events);
}

struct resolver *
resolver_new(struct ev *ev)
{
	struct ares_options opts;
	struct resolver *r;
	int rc;

	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc != ARES_SUCCESS) {
		log_warnx("c-ares init: %s", ares_strerror(rc));
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->ev = ev;
	ev_timer_init(&r->timer, resolver_timer_cb, r);
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = resolver_sock_state;
	opts.sock_state_cb_data = r;
	opts.timeout = 2000; /* ms per try (ARES_OPT_TIMEOUTMS) */
	opts.tries = 3;
	rc = ares_init_options(&r->channel, &opts,
	    ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES);
	if (rc != ARES_SUCCESS) {
		log_warnx("c-ares: %s", ares_strerror(rc));
		free(r);
		return NULL;
	}
	return r;
}

void
resolver_free(struct resolver *r)
{
	struct resolver_fd *rf, *next;

	if (r == NULL)
		return;
	ares_destroy(r->channel); /* runs pending callbacks with ARES_EDESTRUCTION */
	for (rf = r->fds; rf != NULL; rf = next) {
		next = rf->next;
		ev_io_del(r->ev, &rf->io);
		free(rf);
	}
	ev_timer_stop(r->ev, &r->timer);
	free(r);
	ares_library_cleanup();
}

static void
resolve_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct resolve_req *q = arg;
	struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
	struct ares_addrinfo_node *node;
	size_t n = 0;

	(void)timeouts;
	q->is_done = 1;
	if (!q->is_cancelled) {
		if (status == ARES_SUCCESS && res != NULL) {
			for (node = res->nodes; node != NULL &&
			    n < LIMIT_UPSTREAM_ADDRS; node = node->ai_next) {
				if (netaddr_from_sockaddr(node->ai_addr,
				    &addrs[n]) == 0)
					n++;
			}
		}
		if (n > 0)
			q->cb(q->arg, 0, addrs, n, NULL);
		else if (status == ARES_ENOTFOUND || status == ARES_ENODATA ||
		    status == ARES_SUCCESS)
			q->cb(q->arg, -1, NULL, 0, "name does not resolve");
		else if (status == ARES_ETIMEOUT)
			q->cb(q->arg, -1, NULL, 0, "name resolution timed out");
		else
			q->cb(q->arg, -1, NULL, 0, "name resolution failed");
	}
	if (res != NULL)
		ares_freeaddrinfo(res);
	/* the handle is freed here unless resolve_start still has to return
	 * it (then resolve_start frees it, seeing is_done) */
	if (q->is_started)
		free(q);
}

struct resolve_req *
resolve_start(struct resolver *r, const char *name, resolve_cb cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct resolve_req *q;

	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		cb(arg, -1, NULL, 0, "out of memory");
		return NULL;
	}
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	ares_getaddrinfo(r->channel, name, NULL, &hints, resolve_done, q);
	if (q->is_done) {
		free(q);
		return NULL;
	}
	q->is_started = 1;
	resolver_arm_timer(r);
	return q;
}

static void
resolve_raw_done(void *arg, int status, int timeouts, unsigned char *abuf,
    int alen)
{
	struct resolve_req *q = arg;

	(void)timeouts;
	q->is_done = 1;
	if (!q->is_cancelled) {
		if (status == ARES_SUCCESS && abuf != NULL && alen > 0)
			q->raw_cb(q->arg, 0, 0, abuf, (size_t)alen);
		else if (status == ARES_ENOTFOUND)
			q->raw_cb(q->arg, -1, 3, NULL, 0);
		else if (status == ARES_ENODATA && abuf != NULL && alen > 0)
			q->raw_cb(q->arg, 0, 0, abuf, (size_t)alen);
		else
			q->raw_cb(q->arg, -1, 2, NULL, 0);
	}
	if (q->is_started)
		free(q);
}

struct resolve_req *
resolve_query_raw(struct resolver *r, const char *name, int qtype,
    resolve_raw_cb cb, void *arg)
{
	struct resolve_req *q;

	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		cb(arg, -1, 2, NULL, 0);
		return NULL;
	}
	q->r = r;
	q->raw_cb = cb;
	q->arg = arg;
	ares_query(r->channel, name, 1 /* C_IN */, qtype, resolve_raw_done, q);
	if (q->is_done) {
		free(q);
		return NULL;
	}
	q->is_started = 1;
	resolver_arm_timer(r);
	return q;
}

void
resolve_cancel(struct resolve_req *q)
{
	if (q != NULL)
		q->is_cancelled = 1;
}
