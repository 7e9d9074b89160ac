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
 *
 * The pair is two c-ares lookups, AAAA and A, each with its own callback
 * (RFC 8305 section 3).  When both have answered, the answer goes out.
 * When one family has answered with addresses and the other has not,
 * LIMIT_DNS_RESOLUTION_DELAY_MS later the answer goes out with what there
 * is and is kept for its own TTL; the family answering after that is added
 * to the kept answer (a failure then changes nothing).  A family without
 * addresses (NXDOMAIN, NODATA, an error) starts no delay: the other is
 * waited for.  A name the hosts file has is answered from it at once,
 * as c-ares gives it for AF_UNSPEC; a family the file lacks for it is not
 * asked of the DNS (the C library's files-then-dns order does the same).
 *
 * Addresses go out in the order c-ares' RFC 6724 sorting gives them for
 * AF_UNSPEC: destinations the host cannot route to (a UDP connect() fails)
 * last, IPv6 before IPv4 otherwise, each family in the order of its
 * answer.
 *
 * Ownership: a pair (struct resolve_lookup) is owned by c-ares until both
 * of its callbacks have run, then freed by the second one; c-ares never
 * sees a name entry.  A name entry dropped from the table (stale, evicted,
 * failed) while a family is still pending is freed at once: the pair
 * forgets it (lookup->e = NULL) and its late answer goes nowhere.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <ares.h>

#include "log.h"
#include "resolve.h"
#include "slicer_limits.h"

#define RESOLVE_BUCKETS 2048 /* power of two, >= LIMIT_RESOLVE_CACHE */
#define RESOLVE_AAAA 0       /* index of the AAAA family in a pair */
#define RESOLVE_A 1
/* The UDP port connect() is given to find a route (no packet is sent). */
#define RESOLVE_ROUTE_PORT 9

struct resolver_fd {
	struct ev_io io;
	struct resolver *r;
	struct resolver_fd *next;
};

struct resolve_lookup;

/* One family of a pair: its c-ares lookup and, once done, its answer. */
struct resolve_half {
	struct resolve_lookup *l;           /* the pair it belongs to */
	int family;                         /* AF_INET6 or AF_INET */
	int is_done;                        /* its callback ran */
	int status;                         /* ARES_* */
	int64_t ttl;                        /* s: lowest of addresses, CNAMEs */
	size_t n;
	unsigned unroutable;                /* bit i: addrs[i] */
	struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
};

/* The AAAA and A lookups of one name (see the file comment). */
struct resolve_lookup {
	struct resolver *r;
	struct resolve_name *e;             /* borrowed: the entry it answers;
					     * NULL when uncached or dropped */
	struct resolve_req *waiters;        /* until the answer went out */
	struct resolve_half half[2];        /* RESOLVE_AAAA, RESOLVE_A */
	const struct resolve_half *last;    /* the one done last */
	struct ev_timer delay;              /* the resolution delay */
	int npending;                       /* callbacks c-ares owes */
	int is_starting;                    /* inside resolve_start */
	int is_delivered;                   /* the answer went out */
	int is_final;                       /* answered from the hosts file:
					     * nothing added later */
};

/* A name: its answer while fresh, or its lookup while in flight. */
struct resolve_name {
	struct resolve_name *hnext;         /* hash chain */
	struct resolve_name *newer, *older; /* use order (lru) */
	struct resolver *r;
	uint64_t hash;
	int is_inflight;                    /* lookup has waiters */
	struct resolve_lookup *lookup;      /* borrowed: in flight, or a late
					     * family still pending */
	int64_t expires_ms;                 /* answered: fresh until (ev_now) */
	size_t naddrs;
	unsigned unroutable;                /* bit i: addrs[i] */
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
	struct resolve_req *next; /* resolve_lookup waiters */
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
	/* the name judged is the name resolved: never NAME.<search domain>
	 * of resolv.conf after NAME fails, nor a HOSTALIASES alias.  c-ares
	 * 1.18's getaddrinfo ignores ARES_FLAG_NOSEARCH: the search list is
	 * also set empty */
	opts.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
	opts.domains = NULL;
	opts.ndomains = 0;
	rc = ares_init_options(&r->channel, &opts,
	    ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
	    ARES_OPT_FLAGS | ARES_OPT_DOMAINS);
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
	/* runs the callbacks of every lookup with ARES_EDESTRUCTION: each
	 * pair answers its waiters and frees itself */
	ares_destroy(r->channel);
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

/* Out of the table and freed; its waiters must have been handed off.  A
 * family still pending forgets the entry. */
static void
resolve_name_drop(struct resolve_name *e)
{
	struct resolver *r = e->r;
	struct resolve_name **pp;

	if (e->lookup != NULL)
		e->lookup->e = NULL;
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

/*
 * Can the host route to a?  A UDP socket connected to it (which sends
 * nothing), as c-ares' RFC 6724 sorting finds usable destinations.  A
 * socket that cannot be had for another reason than the family (out of
 * descriptors) says nothing about the address: routable.
 */
static int
resolve_addr_is_routable(const struct netaddr *a)
{
	struct sockaddr_storage ss;
	unsigned int len;
	int fd, is_routable;

	netaddr_to_sockaddr(a, RESOLVE_ROUTE_PORT, &ss, &len);
	fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd == -1)
		return errno != EAFNOSUPPORT;
	is_routable = connect(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return is_routable;
}

/*
 * Two lists of addresses (a 1 bit of *_unroutable marks one the host
 * cannot route to) as one in the resolver's order: routable IPv6, routable
 * IPv4, unroutable IPv6, unroutable IPv4, each in the order given; at most
 * LIMIT_UPSTREAM_ADDRS.  Returns how many went to out.
 */
static size_t
resolve_addrs_order(struct netaddr *out, unsigned *out_unroutable,
    const struct netaddr *a, size_t na, unsigned a_unroutable,
    const struct netaddr *b, size_t nb, unsigned b_unroutable)
{
	size_t n = 0, i, k;
	int pass;

	*out_unroutable = 0;
	for (pass = 0; pass < 4; pass++) {
		unsigned want_unroutable = pass >= 2;
		int want_family = pass % 2 == 0 ? AF_INET6 : AF_INET;

		for (k = 0; k < na + nb && n < LIMIT_UPSTREAM_ADDRS; k++) {
			const struct netaddr *x = k < na ? &a[k] : &b[k - na];
			unsigned bad = k < na ? (a_unroutable >> k) & 1 :
			    (b_unroutable >> (k - na)) & 1;

			if (bad != want_unroutable ||
			    x->family != want_family)
				continue;
			i = n++;
			out[i] = *x;
			*out_unroutable |= bad << i;
		}
	}
	return n;
}

/* Why a pair without addresses failed: as c-ares says it for AF_UNSPEC,
 * the status of the family that answered last. */
static const char *
resolve_reason(const struct resolve_lookup *l)
{
	int status = l->last->status;

	if (status == ARES_ENOTFOUND || status == ARES_ENODATA ||
	    status == ARES_SUCCESS)
		return "name does not resolve";
	if (status == ARES_ETIMEOUT)
		return "name resolution timed out";
	return "name resolution failed";
}

/*
 * The answer goes out: the addresses of the families done (both, or one
 * when the delay ran out or the hosts file answered), kept in the entry
 * when they have a TTL, then to every waiter.  The pair stays while a
 * family is pending.
 */
static void
resolve_lookup_deliver(struct resolve_lookup *l)
{
	const struct resolve_half *v6 = &l->half[RESOLVE_AAAA];
	const struct resolve_half *v4 = &l->half[RESOLVE_A];
	struct resolver *r = l->r;
	struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
	struct resolve_name *e = l->e;
	struct resolve_req *q, *next;
	const char *reason = NULL;
	int64_t ttl = LIMIT_RESOLVE_CACHE_TTL_MS / 1000;
	unsigned unroutable;
	int is_destroyed = 0, i;
	size_t n;

	n = resolve_addrs_order(addrs, &unroutable, v6->addrs,
	    v6->is_done ? v6->n : 0, v6->unroutable, v4->addrs,
	    v4->is_done ? v4->n : 0, v4->unroutable);
	for (i = 0; i < 2; i++) {
		const struct resolve_half *h = &l->half[i];

		if (h->is_done && h->n > 0 && h->ttl < ttl)
			ttl = h->ttl;
		if (h->is_done && h->status == ARES_EDESTRUCTION)
			is_destroyed = 1;
	}
	if (n == 0)
		reason = resolve_reason(l);
	ev_timer_stop(r->ev, &l->delay);

	/* settle the entry before any callback: one may ask for the name
	 * again, and must then find an answer or start a new lookup */
	q = l->waiters;
	l->waiters = NULL;
	l->is_delivered = 1;
	if (e != NULL) {
		e->is_inflight = 0;
		if (n > 0 && ttl > 0 && !is_destroyed) {
			memcpy(e->addrs, addrs, n * sizeof(addrs[0]));
			e->naddrs = n;
			e->unroutable = unroutable;
			e->expires_ms = ev_now(r->ev) + ttl * 1000;
		} else {
			resolve_name_drop(e); /* l->e = NULL */
		}
	}
	for (; q != NULL; q = next) {
		next = q->next;
		if (n > 0)
			resolve_deliver(q, 0, addrs, n, NULL);
		else
			resolve_deliver(q, -1, NULL, 0, reason);
	}
}

/* A family answered after the answer went out: its addresses join the
 * kept answer, which lasts no longer than the lower of the two TTLs. */
static void
resolve_lookup_merge(struct resolve_lookup *l, const struct resolve_half *h)
{
	struct resolve_name *e = l->e;
	struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
	unsigned unroutable;
	int64_t expires_ms;
	size_t n;

	if (e == NULL || l->is_final || h->n == 0)
		return;
	if (h->ttl <= 0) {
		resolve_name_drop(e); /* TTL 0: the whole answer is not kept */
		return;
	}
	n = resolve_addrs_order(addrs, &unroutable, e->addrs, e->naddrs,
	    e->unroutable, h->addrs, h->n, h->unroutable);
	memcpy(e->addrs, addrs, n * sizeof(addrs[0]));
	e->naddrs = n;
	e->unroutable = unroutable;
	expires_ms = ev_now(l->r->ev) + h->ttl * 1000;
	if (expires_ms < e->expires_ms)
		e->expires_ms = expires_ms;
	log_debug("resolver: %s: %s addresses added after the answer",
	    e->name, h->family == AF_INET6 ? "IPv6" : "IPv4");
}

static void
resolve_lookup_free(struct resolve_lookup *l)
{
	ev_timer_stop(l->r->ev, &l->delay);
	if (l->e != NULL)
		l->e->lookup = NULL;
	free(l);
}

/*
 * After a family's callback (h) or the start of the pair (h NULL): answer
 * when both are done, start the delay when one has addresses, add a late
 * family to the kept answer; free the pair once c-ares owes it nothing.
 */
static void
resolve_lookup_settle(struct resolve_lookup *l, const struct resolve_half *h)
{
	const struct resolve_half *v6 = &l->half[RESOLVE_AAAA];
	const struct resolve_half *v4 = &l->half[RESOLVE_A];

	if (l->is_starting)
		return;
	if (!l->is_delivered) {
		if (v6->is_done && v4->is_done)
			resolve_lookup_deliver(l);
		else if (((v6->is_done && v6->n > 0) ||
		    (v4->is_done && v4->n > 0)) &&
		    !ev_timer_armed(&l->delay))
			ev_timer_arm(l->r->ev, &l->delay,
			    LIMIT_DNS_RESOLUTION_DELAY_MS);
	} else if (h != NULL) {
		resolve_lookup_merge(l, h);
	}
	if (l->npending == 0)
		resolve_lookup_free(l);
}

/* The resolution delay ran out: answer with the family there is. */
static void
resolve_lookup_delay_cb(struct ev_timer *t)
{
	struct resolve_lookup *l = t->arg;

	if (l->e != NULL)
		log_debug("resolver: %s: answered without %s after %d ms",
		    l->e->name, l->half[RESOLVE_AAAA].is_done ? "IPv4" : "IPv6",
		    LIMIT_DNS_RESOLUTION_DELAY_MS);
	resolve_lookup_deliver(l);
}

/* c-ares' callback of one family. */
static void
resolve_half_done(void *arg, int status, int timeouts,
    struct ares_addrinfo *res)
{
	struct resolve_half *h = arg;
	struct resolve_lookup *l = h->l;
	struct ares_addrinfo_node *node;
	struct ares_addrinfo_cname *cn;
	int64_t ttl = LIMIT_RESOLVE_CACHE_TTL_MS / 1000;
	size_t n = 0;

	(void)timeouts;
	if (status == ARES_SUCCESS && res != NULL) {
		for (node = res->nodes; node != NULL; node = node->ai_next) {
			if (n < LIMIT_UPSTREAM_ADDRS &&
			    netaddr_from_sockaddr(node->ai_addr,
			    &h->addrs[n]) == 0) {
				if (!resolve_addr_is_routable(&h->addrs[n]))
					h->unroutable |= 1u << n;
				n++;
			}
			if (node->ai_ttl < ttl)
				ttl = node->ai_ttl < 0 ? 0 : node->ai_ttl;
		}
		for (cn = res->cnames; cn != NULL; cn = cn->next)
			if (cn->ttl < ttl)
				ttl = cn->ttl < 0 ? 0 : cn->ttl;
	}
	if (res != NULL)
		ares_freeaddrinfo(res);
	h->n = n;
	h->ttl = ttl;
	h->status = status;
	h->is_done = 1;
	l->last = h;
	l->npending--;
	resolve_lookup_settle(l, h);
}

/* Does the hosts file name this host for family?  (Read as c-ares reads
 * it for a lookup: synchronously, the file is small.) */
static int
resolve_in_hosts_file(struct resolver *r, const char *name, int family)
{
	struct hostent *he = NULL;
	int rc = ares_gethostbyname_file(r->channel, name, family, &he);

	if (he != NULL)
		ares_free_hostent(he);
	return rc == ARES_SUCCESS;
}

struct resolve_req *
resolve_start(struct resolver *r, const char *name, resolve_cb cb, void *arg)
{
	struct ares_addrinfo_hints hints;
	struct resolve_lookup *l;
	struct resolve_name *e;
	struct resolve_req *q;
	uint64_t h = resolve_hash(name);
	int is_cacheable = strlen(name) < sizeof(e->name), i;
	int is_in_file[2];

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
		q->next = e->lookup->waiters;
		e->lookup->waiters = q;
		q->is_started = 1;
		atomic_fetch_add(&r->n_joined, 1);
		return q;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		free(q);
		cb(arg, -1, NULL, 0, "out of memory");
		return NULL;
	}
	/* no slot (or a name too long to keep): a pair of its own, answered
	 * to q alone; the name itself goes to c-ares */
	e = is_cacheable ? resolve_name_new(r, name, h) : NULL;
	l->r = r;
	l->e = e;
	l->waiters = q;
	ev_timer_init(&l->delay, resolve_lookup_delay_cb, l);
	l->half[RESOLVE_AAAA].family = AF_INET6;
	l->half[RESOLVE_A].family = AF_INET;
	if (e != NULL) {
		e->is_inflight = 1;
		e->lookup = l;
	}
	atomic_fetch_add(&r->n_lookups, 1);
	/* AAAA first (RFC 8305 section 3); answers that come synchronously
	 * (the hosts file, errors) wait until both are asked.  A name the
	 * hosts file has is answered from it alone, as the C library does:
	 * a family it lacks is not asked of the DNS. */
	l->npending = 2;
	l->is_starting = 1;
	is_in_file[RESOLVE_AAAA] = is_in_file[RESOLVE_A] = 0;
	if (resolve_in_hosts_file(r, name, AF_UNSPEC)) { /* mostly not */
		is_in_file[RESOLVE_AAAA] =
		    resolve_in_hosts_file(r, name, AF_INET6);
		is_in_file[RESOLVE_A] = resolve_in_hosts_file(r, name, AF_INET);
	}
	for (i = 0; i < 2; i++) {
		l->half[i].l = l;
		if (!is_in_file[i] && is_in_file[1 - i]) {
			resolve_half_done(&l->half[i], ARES_ENOTFOUND, 0, NULL);
			continue;
		}
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = l->half[i].family;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_flags = ARES_AI_NOSORT; /* ordered here, both together */
		ares_getaddrinfo(r->channel, name, NULL, &hints,
		    resolve_half_done, &l->half[i]);
	}
	l->is_starting = 0;
	if (l->npending <= 1 && (l->half[RESOLVE_AAAA].n > 0 ||
	    l->half[RESOLVE_A].n > 0)) {
		/* the hosts file has the name: that is the answer */
		l->is_final = 1;
		resolve_lookup_deliver(l);
	}
	resolve_lookup_settle(l, NULL);
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
