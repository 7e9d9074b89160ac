/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * resolve.c - c-ares in the event loop: ARES_OPT_SOCK_STATE_CB registers
 * c-ares' sockets with the loop, ares_process_fd services them, and a timer
 * follows ares_timeout().
 *
 * resolve_start keeps answers for their TTL (capped) and lets callers for
 * a name whose lookup is in flight join it: a burst of CONNECTs to one
 * host costs one A+AAAA pair.  One table per resolver (per event loop):
 * a hash of names and a list in order of use; only answered names are
 * evicted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include <ares.h>

#include "log.h"
#include "resolve.h"
#include "slicer_limits.h"

#define RESOLVE_BUCKETS 2048 /* power of two, >= LIMIT_RESOLVE_CACHE */

struct resolver_fd {
	struct ev_io io;
	struct resolver *r;
	struct resolver_fd *next;
};

/* A name: its answer while fresh, or its lookup while in flight. */
struct resolve_name {
	struct resolve_name *hnext;         /* hash chain */
	struct resolve_name *newer, *older; /* use order (lru) */
	struct resolver *r;
	uint64_t hash;
	int is_listed;                      /* in the table (else a lookup
					     * made uncached, for one caller) */
	int is_inflight;
	struct resolve_req *waiters;        /* in flight: who gets the answer */
	int64_t expires_ms;                 /* answered: fresh until (ev_now) */
	size_t naddrs;
	struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
	char name[LIMIT_HOSTNAME + 1];
};

struct resolver {
	struct ev *ev;
	ares_channel channel;
	struct resolver_fd *fds; /* owned list */
	struct ev_timer timer;
	struct resolve_name *buckets[RESOLVE_BUCKETS];
	struct resolve_name *newest, *oldest;
	size_t nnames;
	atomic_uint_fast64_t n_hits, n_joined, n_lookups;
	atomic_size_t n_cached;
};

struct resolve_req {
	struct resolver *r;
	resolve_cb cb;
	resolve_raw_cb raw_cb;
	void *arg;
	struct resolve_req *next; /* resolve_name waiters */
	int is_cancelled;
	int is_done;     /* callback ran (possibly synchronously) */
	int is_started;  /* resolve_start returned a handle */
};

static void resolver_arm_timer(struct resolver *r);
static void resolve_name_drop(struct resolve_name *e);

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
	while (r->oldest != NULL)
		resolve_name_drop(r->oldest);
	for (rf = r->fds; rf != NULL; rf = next) {
		next = rf->next;
		ev_io_del(r->ev, &rf->io);
		free(rf);
	}
	ev_timer_stop(r->ev, &r->timer);
	free(r);
	ares_library_cleanup();
}

static uint64_t
resolve_hash(const char *name)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *name != '\0'; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return h;
}

static struct resolve_name *
resolve_name_find(struct resolver *r, const char *name, uint64_t h)
{
	struct resolve_name *e;

	for (e = r->buckets[h & (RESOLVE_BUCKETS - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void
resolve_lru_unlink(struct resolve_name *e)
{
	struct resolver *r = e->r;

	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		r->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		r->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
resolve_lru_front(struct resolve_name *e)
{
	struct resolver *r = e->r;

	e->older = r->newest;
	e->newer = NULL;
	if (r->newest != NULL)
		r->newest->newer = e;
	r->newest = e;
	if (r->oldest == NULL)
		r->oldest = e;
}

/* Out of the table and freed; its waiters must have been handed off. */
static void
resolve_name_drop(struct resolve_name *e)
{
	struct resolver *r = e->r;
	struct resolve_name **pp;

	if (!e->is_listed) {
		free(e);
		return;
	}
	for (pp = &r->buckets[e->hash & (RESOLVE_BUCKETS - 1)]; *pp != NULL;
	    pp = &(*pp)->hnext) {
		if (*pp == e) {
			*pp = e->hnext;
			break;
		}
	}
	resolve_lru_unlink(e);
	r->nnames--;
	atomic_store(&r->n_cached, r->nnames);
	free(e);
}

/* A slot for name: a new entry, after evicting the least recently used
 * answered name at the cap.  NULL when every slot is a lookup in flight
 * (or out of memory): look it up uncached. */
static struct resolve_name *
resolve_name_new(struct resolver *r, const char *name, uint64_t h)
{
	struct resolve_name *e;

	if (r->nnames >= LIMIT_RESOLVE_CACHE) {
		for (e = r->oldest; e != NULL && e->is_inflight; e = e->newer)
			;
		if (e == NULL)
			return NULL;
		resolve_name_drop(e);
	}
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return NULL;
	e->r = r;
	e->hash = h;
	e->is_listed = 1;
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->hnext = r->buckets[h & (RESOLVE_BUCKETS - 1)];
	r->buckets[h & (RESOLVE_BUCKETS - 1)] = e;
	resolve_lru_front(e);
	r->nnames++;
	atomic_store(&r->n_cached, r->nnames);
	return e;
}

/* Hand a result to one request, then free it unless resolve_start has yet
 * to return it (resolve_start frees it then, seeing is_done). */
static void
resolve_deliver(struct resolve_req *q, int status, const struct netaddr *addrs,
    size_t n, const char *reason)
{
	q->is_done = 1;
	if (!q->is_cancelled)
		q->cb(q->arg, status, addrs, n, reason);
	if (q->is_started)
		free(q);
}

static void
resolve_done(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct resolve_name *e = arg;
	struct resolver *r = e->r;
	struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
	struct ares_addrinfo_node *node;
	struct ares_addrinfo_cname *cn;
	struct resolve_req *q, *next;
	const char *reason = NULL;
	int64_t ttl = LIMIT_RESOLVE_CACHE_TTL_MS / 1000;
	size_t n = 0;

	(void)timeouts;
	if (status == ARES_SUCCESS && res != NULL) {
		for (node = res->nodes; node != NULL; node = node->ai_next) {
			if (n < LIMIT_UPSTREAM_ADDRS &&
			    netaddr_from_sockaddr(node->ai_addr, &addrs[n]) == 0)
				n++;
			if (node->ai_ttl < ttl)
				ttl = node->ai_ttl < 0 ? 0 : node->ai_ttl;
		}
		for (cn = res->cnames; cn != NULL; cn = cn->next)
			if (cn->ttl < ttl)
				ttl = cn->ttl < 0 ? 0 : cn->ttl;
	}
	if (res != NULL)
		ares_freeaddrinfo(res);
	if (n == 0) {
		if (status == ARES_ENOTFOUND || status == ARES_ENODATA ||
		    status == ARES_SUCCESS)
			reason = "name does not resolve";
		else if (status == ARES_ETIMEOUT)
			reason = "name resolution timed out";
		else
			reason = "name resolution failed";
	}

	/* settle the entry before any callback: one may ask for the name
	 * again, and must then find an answer or start a new lookup */
	q = e->waiters;
	e->waiters = NULL;
	e->is_inflight = 0;
	if (n > 0 && ttl > 0 && e->is_listed && status != ARES_EDESTRUCTION) {
		memcpy(e->addrs, addrs, n * sizeof(addrs[0]));
		e->naddrs = n;
		e->expires_ms = ev_now(r->ev) + ttl * 1000;
	} else {
		resolve_name_drop(e);
	}
	for (; q != NULL; q = next) {
		next = q->next;
		if (n > 0)
			resolve_deliver(q, 0, addrs, n, NULL);
		else
			resolve_deliver(q, -1, NULL, 0, reason);
	}
}

struct resolve_req *
resolve_start(struct resolver *r, const char *name, resolve_cb cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct resolve_name *e;
	struct resolve_req *q;
	uint64_t h = resolve_hash(name);
	int is_cacheable = strlen(name) < sizeof(e->name);

	e = is_cacheable ? resolve_name_find(r, name, h) : NULL;
	if (e != NULL && !e->is_inflight) {
		if (ev_now(r->ev) < e->expires_ms) {
			struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
			size_t n = e->naddrs;

			/* a copy: the callback may evict e */
			memcpy(addrs, e->addrs, n * sizeof(addrs[0]));
			resolve_lru_unlink(e);
			resolve_lru_front(e);
			atomic_fetch_add(&r->n_hits, 1);
			cb(arg, 0, addrs, n, NULL);
			return NULL;
		}
		resolve_name_drop(e); /* stale */
		e = NULL;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		cb(arg, -1, NULL, 0, "out of memory");
		return NULL;
	}
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	if (e != NULL) {
		/* joins the lookup in flight */
		q->next = e->waiters;
		e->waiters = q;
		q->is_started = 1;
		atomic_fetch_add(&r->n_joined, 1);
		return q;
	}
	e = is_cacheable ? resolve_name_new(r, name, h) : NULL;
	if (e == NULL) {
		/* no slot (or a name too long to keep): a lookup of its own,
		 * answered to q alone; the name itself goes to c-ares */
		e = calloc(1, sizeof(*e));
		if (e == NULL) {
			free(q);
			cb(arg, -1, NULL, 0, "out of memory");
			return NULL;
		}
		e->r = r;
		e->hash = h;
	}
	e->is_inflight = 1;
	e->waiters = q;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	atomic_fetch_add(&r->n_lookups, 1);
	ares_getaddrinfo(r->channel, name, NULL, &hints, resolve_done, e);
	if (q->is_done) {
		free(q);
		return NULL;
	}
	q->is_started = 1;
	resolver_arm_timer(r);
	return q;
}

int
resolver_set_servers(struct resolver *r, const char *csv)
{
	return ares_set_servers_ports_csv(r->channel, csv) == ARES_SUCCESS ?
	    0 : -1;
}

void
resolver_get_stats(struct resolver *r, struct resolve_stats *st)
{
	st->hits = atomic_load(&r->n_hits);
	st->joined = atomic_load(&r->n_joined);
	st->lookups = atomic_load(&r->n_lookups);
	st->cached = atomic_load(&r->n_cached);
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
