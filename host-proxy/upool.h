/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * upool.h - idle upstream connections kept for reuse by later client
 * connections of the same client.
 *
 * A connection is parked here only at a clean HTTP/1.1 message boundary
 * (the caller decides that) and is keyed by (client, upstream host, port,
 * TLS or not): it is never handed to another client.  While parked it is
 * watched for readability: the upstream closing it or sending anything
 * unasked closes it.  Parked connections expire after an idle timeout;
 * a cap per key and a global cap evict the least recently parked one.
 * Each entry carries the policy generation it was parked at and is only
 * taken at that same generation.
 *
 * The pool knows sockets, OpenSSL objects and the event loop; it knows
 * nothing of HTTP, connections or policy.
 */
#ifndef SLICER_UPOOL_H
#define SLICER_UPOOL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "ev.h"
#include "slicer_limits.h"

struct upool;

struct upool_key {
	char client[LIMIT_NAME];
	char host[LIMIT_HOSTNAME + 3]; /* canonical upstream name or literal */
	uint16_t port;
	int is_tls;
};

struct upool_limits {
	size_t max_total;    /* parked connections at most, all keys */
	size_t max_per_key;  /* parked connections at most for one key */
	int64_t idle_ms;     /* a parked connection older than this closes */
};

/* Counters; every closing reason is counted once. */
struct upool_stats {
	uint64_t hits;       /* takes that got a connection */
	uint64_t misses;     /* takes that found none */
	uint64_t parked;     /* connections put in and kept */
	uint64_t refused;    /* put, but closed at once (peer closed or sent
			      * bytes already, no memory, cannot watch) */
	uint64_t evicted;    /* closed to make room (per-key or total cap) */
	uint64_t expired;    /* closed after idle_ms */
	uint64_t dropped;    /* closed while idle: upstream closed or sent */
	uint64_t flushed;    /* closed by upool_flush or a generation change */
	size_t idle;         /* parked now */
};

/*
 * A new empty pool on ev.  lim NULL: LIMIT_UPSTREAM_POOL,
 * LIMIT_UPSTREAM_POOL_PER_KEY and LIMIT_UPSTREAM_POOL_IDLE_MS.  NULL on
 * allocation failure.
 */
struct upool *upool_new(struct ev *ev, const struct upool_limits *lim);
/* Close every parked connection and free the pool.  NULL is fine.  Entry
 * memory is released through ev_defer_free: free the ev afterwards. */
void upool_free(struct upool *p);

/* Fill a key.  0, or -1 when a name does not fit. */
int upool_key_set(struct upool_key *k, const char *client, const char *host,
    uint16_t port, int is_tls);

/*
 * Park fd (with ssl, NULL for plain) under key k, tagged with the policy
 * generation.  Takes ownership of fd and ssl in every case.  from is the
 * caller's watch of fd on the pool's loop, or NULL: it is handed to the
 * pool in one EPOLL_CTL_MOD (or forgotten when fd is closed instead);
 * without one the pool registers fd itself.  Returns 1
 * when parked, 0 when it was closed instead (the peer already closed or
 * sent bytes, no memory, epoll refused it, or a limit is 0).  To make
 * room it first closes the oldest entry of the same key, then the least
 * recently parked entry overall.  now is monotonic milliseconds.
 */
int upool_put(struct upool *p, const struct upool_key *k, uint64_t generation,
    int fd, struct ev_io *from, SSL *ssl, int64_t now);

/*
 * Take the most recently parked live connection for k parked at
 * generation.  Entries of k that are past idle_ms, of another generation,
 * or whose peer closed or sent bytes are closed on the way.  Returns 1 and
 * hands *fd and *ssl (NULL for plain) to the caller: watched by to for
 * events when to is not NULL (the pool's registration handed over in one
 * EPOLL_CTL_MOD), else no longer watched; 0 when there is none, or when
 * to still holds an fd (nothing parked is touched then).
 */
int upool_take(struct upool *p, const struct upool_key *k, uint64_t generation,
    int64_t now, int *fd, SSL **ssl, struct ev_io *to, uint32_t events);

/* Close the entries parked idle_ms or longer before now; how many. */
size_t upool_expire(struct upool *p, int64_t now);
/* Close every entry; how many. */
size_t upool_flush(struct upool *p);
/* Close the least recently parked entry (to free a descriptor); 1 if one
 * was closed, 0 when the pool is empty. */
int upool_evict_oldest(struct upool *p);

/* Parked now: all, and for one key. */
size_t upool_count(const struct upool *p);
size_t upool_count_key(const struct upool *p, const struct upool_key *k);
void upool_get_stats(const struct upool *p, struct upool_stats *st);

#endif
