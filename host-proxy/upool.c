/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * upool.c - the pool of idle upstream connections (see upool.h).
 *
 * Entries sit in a chained hash table by key (newest first in a chain, so
 * a take finds the freshest connection and the oldest of a key is the
 * last match) and on one list by park time (newest at the head) for
 * expiry and least-recently-parked eviction.  Entries own an ev_io: they
 * are freed with ev_defer_free so an event already queued in the current
 * epoll batch never touches freed memory.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "log.h"
#include "upool.h"

/* Why an entry closes: which counter it goes to. */
enum upool_why {
	UPOOL_EVICTED,
	UPOOL_EXPIRED,
	UPOOL_DROPPED,
	UPOOL_FLUSHED,
};

struct upool_entry {
	struct upool *pool;               /* borrowed */
	struct upool_key key;
	uint64_t hash;
	uint64_t generation;
	int fd;                           /* owned */
	SSL *ssl;                         /* owned; NULL: plain */
	int64_t parked_ms;
	struct ev_io io;
	struct upool_entry *b_next, *b_prev; /* hash chain, newest first */
	struct upool_entry *l_next, *l_prev; /* park order, newest first */
};

struct upool {
	struct ev *ev;                    /* borrowed */
	struct upool_limits lim;
	struct upool_entry **slots;       /* owned array of chain heads */
	size_t mask;                      /* slots - 1 */
	struct upool_entry *newest, *oldest;
	/* the owner's loop changes these; upool_get_stats may read them from
	 * another thread */
	atomic_size_t count;
	struct {
		atomic_uint_fast64_t hits, misses, parked, refused, evicted;
		atomic_uint_fast64_t expired, dropped, flushed;
	} st;
};

static uint64_t
upool_hash(const struct upool_key *k)
{
	uint64_t h = 1469598103934665603ULL;
	const char *s;

	for (s = k->client; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	for (s = k->host; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ (k->port & 0xff)) * 1099511628211ULL;
	h = (h ^ (k->port >> 8)) * 1099511628211ULL;
	h = (h ^ (k->is_tls ? 1u : 2u)) * 1099511628211ULL;
	return h;
}

static int
upool_key_eq(const struct upool_key *a, const struct upool_key *b)
{
	return a->port == b->port && !a->is_tls == !b->is_tls &&
	    strcmp(a->host, b->host) == 0 && strcmp(a->client, b->client) == 0;
}

int
upool_key_set(struct upool_key *k, const char *client, const char *host,
    uint16_t port, int is_tls)
{
	size_t cl = strlen(client), hl = strlen(host);

	memset(k, 0, sizeof(*k));
	if (cl >= sizeof(k->client) || hl >= sizeof(k->host))
		return -1;
	memcpy(k->client, client, cl);
	memcpy(k->host, host, hl);
	k->port = port;
	k->is_tls = is_tls != 0;
	return 0;
}

/* Nothing to read and not closed: the socket is as idle as it should be. */
static int
upool_is_quiet(int fd)
{
	char b;
	ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Close a connection the pool owns (not linked anywhere). */
static void
upool_close_conn(int fd, SSL *ssl, int send_close_notify)
{
	if (ssl != NULL) {
		/* best effort, never waits; the session stays resumable */
		if (send_close_notify && SSL_is_init_finished(ssl))
			(void)SSL_shutdown(ssl);
		SSL_free(ssl);
		ERR_clear_error();
	}
	if (fd != -1)
		close(fd);
}

static void
upool_unlink(struct upool *p, struct upool_entry *e)
{
	if (e->b_prev != NULL)
		e->b_prev->b_next = e->b_next;
	else
		p->slots[e->hash & p->mask] = e->b_next;
	if (e->b_next != NULL)
		e->b_next->b_prev = e->b_prev;
	if (e->l_prev != NULL)
		e->l_prev->l_next = e->l_next;
	else
		p->newest = e->l_next;
	if (e->l_next != NULL)
		e->l_next->l_prev = e->l_prev;
	else
		p->oldest = e->l_prev;
	e->b_next = e->b_prev = e->l_next = e->l_prev = NULL;
	p->count--;
}

/* Unlink, close and (after the current event batch) free one entry. */
static void
upool_entry_close(struct upool *p, struct upool_entry *e, enum upool_why why)
{
	upool_unlink(p, e);
	ev_io_forget(&e->io); /* closed next: that takes it out of the set */
	/* an upstream that closed or spoke cannot take a close_notify */
	upool_close_conn(e->fd, e->ssl, why != UPOOL_DROPPED);
	e->fd = -1;
	e->ssl = NULL;
	switch (why) {
	case UPOOL_EVICTED:
		p->st.evicted++;
		break;
	case UPOOL_EXPIRED:
		p->st.expired++;
		break;
	case UPOOL_DROPPED:
		p->st.dropped++;
		break;
	case UPOOL_FLUSHED:
		p->st.flushed++;
		break;
	}
	ev_defer_free(p->ev, free, e);
}

/* Parked and the upstream closed it or sent something: drop it. */
static void
upool_io_cb(struct ev_io *io, uint32_t events)
{
	struct upool_entry *e = io->arg;

	(void)events;
	log_debug("upool: %s:%u (%s) closed or spoke while idle", e->key.host,
	    e->key.port, e->key.client);
	upool_entry_close(e->pool, e, UPOOL_DROPPED);
}

struct upool *
upool_new(struct ev *ev, const struct upool_limits *lim)
{
	struct upool *p = calloc(1, sizeof(*p));
	size_t nslots = 16;

	if (p == NULL)
		return NULL;
	p->ev = ev;
	if (lim != NULL) {
		p->lim = *lim;
	} else {
		p->lim.max_total = LIMIT_UPSTREAM_POOL;
		p->lim.max_per_key = LIMIT_UPSTREAM_POOL_PER_KEY;
		p->lim.idle_ms = LIMIT_UPSTREAM_POOL_IDLE_MS;
	}
	while (nslots < p->lim.max_total && nslots < ((size_t)1 << 20))
		nslots <<= 1;
	p->slots = calloc(nslots, sizeof(*p->slots));
	if (p->slots == NULL) {
		free(p);
		return NULL;
	}
	p->mask = nslots - 1;
	return p;
}

void
upool_free(struct upool *p)
{
	if (p == NULL)
		return;
	upool_flush(p);
	free(p->slots);
	free(p);
}

/* Oldest entry of key k in its chain, or NULL. */
static struct upool_entry *
upool_oldest_of(struct upool *p, const struct upool_key *k, uint64_t hash)
{
	struct upool_entry *e, *last = NULL;

	for (e = p->slots[hash & p->mask]; e != NULL; e = e->b_next)
		if (e->hash == hash && upool_key_eq(&e->key, k))
			last = e;
	return last;
}

int
upool_put(struct upool *p, const struct upool_key *k, uint64_t generation,
    int fd, struct ev_io *from, SSL *ssl, int64_t now)
{
	struct upool_entry *e, **head;
	uint64_t hash = upool_hash(k);
	int rc = 0;

	if (p->lim.max_total == 0 || p->lim.max_per_key == 0 ||
	    !upool_is_quiet(fd))
		goto out;
	while (upool_count_key(p, k) >= p->lim.max_per_key)
		upool_entry_close(p, upool_oldest_of(p, k, hash),
		    UPOOL_EVICTED);
	while (p->count >= p->lim.max_total)
		upool_entry_close(p, p->oldest, UPOOL_EVICTED);
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		goto out;
	ev_io_init(&e->io, upool_io_cb, e);
	if ((from != NULL && from->fd == fd ?
	    ev_io_move(p->ev, from, &e->io, EPOLLIN | EPOLLRDHUP) :
	    ev_io_add(p->ev, &e->io, fd, EPOLLIN | EPOLLRDHUP)) == -1) {
		free(e);
		goto out;
	}
	e->pool = p;
	e->key = *k;
	e->hash = hash;
	e->generation = generation;
	e->fd = fd;
	e->ssl = ssl;
	e->parked_ms = now;
	head = &p->slots[hash & p->mask];
	e->b_next = *head;
	if (*head != NULL)
		(*head)->b_prev = e;
	*head = e;
	e->l_next = p->newest;
	if (p->newest != NULL)
		p->newest->l_prev = e;
	p->newest = e;
	if (p->oldest == NULL)
		p->oldest = e;
	p->count++;
	p->st.parked++;
	rc = 1;
out:
	if (rc == 0) {
		p->st.refused++;
		if (from != NULL && from->fd == fd)
			ev_io_forget(from);
		upool_close_conn(fd, ssl, 0);
	}
	return rc;
}

int
upool_take(struct upool *p, const struct upool_key *k, uint64_t generation,
    int64_t now, int *fd, SSL **ssl, struct ev_io *to, uint32_t events)
{
	uint64_t hash = upool_hash(k);
	struct upool_entry *e, *next;

	if (to != NULL && to->fd >= 0) {
		/* a watch still held: a caller's mistake, and no reason to
		 * close the connections parked here */
		p->st.misses++;
		return 0;
	}
	for (e = p->slots[hash & p->mask]; e != NULL; e = next) {
		next = e->b_next;
		if (e->hash != hash || !upool_key_eq(&e->key, k))
			continue;
		if (e->generation != generation) {
			upool_entry_close(p, e, UPOOL_FLUSHED);
			continue;
		}
		if (now - e->parked_ms >= p->lim.idle_ms) {
			upool_entry_close(p, e, UPOOL_EXPIRED);
			continue;
		}
		if (!upool_is_quiet(e->fd)) {
			upool_entry_close(p, e, UPOOL_DROPPED);
			continue;
		}
		if (to != NULL && ev_io_move(p->ev, &e->io, to, events) == -1) {
			upool_entry_close(p, e, UPOOL_DROPPED);
			continue;
		}
		upool_unlink(p, e);
		ev_io_del(p->ev, &e->io); /* a no-op once moved */
		*fd = e->fd;
		*ssl = e->ssl;
		e->fd = -1;
		e->ssl = NULL;
		ev_defer_free(p->ev, free, e);
		p->st.hits++;
		return 1;
	}
	p->st.misses++;
	return 0;
}

size_t
upool_expire(struct upool *p, int64_t now)
{
	size_t n = 0;

	/* the list is in park order: stop at the first one still fresh */
	while (p->oldest != NULL && now - p->oldest->parked_ms >= p->lim.idle_ms) {
		upool_entry_close(p, p->oldest, UPOOL_EXPIRED);
		n++;
	}
	return n;
}

size_t
upool_flush(struct upool *p)
{
	size_t n = 0;

	while (p->oldest != NULL) {
		upool_entry_close(p, p->oldest, UPOOL_FLUSHED);
		n++;
	}
	return n;
}

int
upool_evict_oldest(struct upool *p)
{
	if (p->oldest == NULL)
		return 0;
	upool_entry_close(p, p->oldest, UPOOL_EVICTED);
	return 1;
}

size_t
upool_count(const struct upool *p)
{
	return p->count;
}

size_t
upool_count_key(const struct upool *p, const struct upool_key *k)
{
	uint64_t hash = upool_hash(k);
	const struct upool_entry *e;
	size_t n = 0;

	for (e = p->slots[hash & p->mask]; e != NULL; e = e->b_next)
		if (e->hash == hash && upool_key_eq(&e->key, k))
			n++;
	return n;
}

void
upool_get_stats(const struct upool *p, struct upool_stats *st)
{
	st->hits = atomic_load(&p->st.hits);
	st->misses = atomic_load(&p->st.misses);
	st->parked = atomic_load(&p->st.parked);
	st->refused = atomic_load(&p->st.refused);
	st->evicted = atomic_load(&p->st.evicted);
	st->expired = atomic_load(&p->st.expired);
	st->dropped = atomic_load(&p->st.dropped);
	st->flushed = atomic_load(&p->st.flushed);
	st->idle = atomic_load(&p->count);
}
