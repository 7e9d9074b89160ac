/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_upool.c - the idle upstream connection pool: keys, taking the
 * freshest, the per-key and total caps with their eviction order, idle
 * expiry, policy generations, closing on a peer that closes or speaks
 * (at park time, at take time and through the event loop), flushing, and
 * TLS objects handed over and freed.
 *
 * Connections are socketpairs: the test keeps the far end and sees the
 * pool close the near end as end of file there.
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/ssl.h>

#include "ev.h"
#include "upool.h"

#define IDLE LIMIT_UPSTREAM_POOL_IDLE_MS

struct pair {
	int near; /* handed to the pool */
	int far;  /* kept by the test */
};

static void
pair_open(struct pair *p)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	p->near = sv[0];
	p->far = sv[1];
}

/* Did the pool close the near end?  (The far end reads end of file, or a
 * reset when the near end had unread bytes.) */
static int
pair_is_closed(const struct pair *p)
{
	char b;
	ssize_t n = recv(p->far, &b, 1, MSG_DONTWAIT);

	if (n == 0 || (n == -1 && errno == ECONNRESET))
		return 1;
	assert_true(n == -1 && errno == EAGAIN);
	return 0;
}

static void
pair_close_far(struct pair *p)
{
	if (p->far != -1)
		close(p->far);
	p->far = -1;
}

static void
key(struct upool_key *k, const char *client, const char *host,
    uint16_t port, int is_tls)
{
	assert_int_equal(upool_key_set(k, client, host, port, is_tls), 0);
}

struct fixture {
	struct ev *ev;
	struct upool *p;
};

static int
setup_default(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	f->ev = ev_new();
	f->p = upool_new(f->ev, NULL);
	if (f->ev == NULL || f->p == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	upool_free(f->p);
	ev_free(f->ev); /* runs the deferred frees */
	free(f);
	return 0;
}

static void
test_key_set(void **state)
{
	struct upool_key k;
	char name[LIMIT_NAME + 1], host[LIMIT_HOSTNAME + 4];

	(void)state;
	memset(name, 'c', sizeof(name));
	memset(host, 'h', sizeof(host));
	/* at the limit: fits */
	name[LIMIT_NAME - 1] = '\0';
	host[LIMIT_HOSTNAME + 2] = '\0';
	assert_int_equal(upool_key_set(&k, name, host, 443, 1), 0);
	assert_string_equal(k.client, name);
	assert_string_equal(k.host, host);
	assert_int_equal(k.port, 443);
	assert_int_equal(k.is_tls, 1);
	/* past it: refused */
	name[LIMIT_NAME - 1] = 'c';
	name[LIMIT_NAME] = '\0';
	assert_int_equal(upool_key_set(&k, name, "h", 443, 1), -1);
	host[LIMIT_HOSTNAME + 2] = 'h';
	host[LIMIT_HOSTNAME + 3] = '\0';
	assert_int_equal(upool_key_set(&k, "c", host, 443, 1), -1);
	/* any non-zero is_tls is TLS */
	assert_int_equal(upool_key_set(&k, "c", "h", 80, 7), 0);
	assert_int_equal(k.is_tls, 1);
}

/* A connection is found only under exactly its own key. */
static void
test_keying(void **state)
{
	static const struct {
		const char *client, *host;
		uint16_t port;
		int is_tls;
	} others[] = {
		{ "bob", "api.example", 443, 1 },    /* another client */
		{ "Alice", "api.example", 443, 1 },  /* names are exact */
		{ "alice", "api.example", 443, 0 },  /* plain, not TLS */
		{ "alice", "api.example", 8443, 1 }, /* another port */
		{ "alice", "api.example.", 443, 1 }, /* another name */
		{ "alice", "pi.example", 443, 1 },
		{ "", "api.example", 443, 1 },
	};
	struct fixture *f = *state;
	struct upool_key k, o;
	struct upool_stats st;
	struct pair pr;
	SSL *ssl = (SSL *)1;
	size_t i;
	int fd = -1;

	pair_open(&pr);
	key(&k, "alice", "api.example", 443, 1);
	assert_int_equal(upool_put(f->p, &k, 1, pr.near, NULL, NULL, 1000), 1);
	assert_int_equal(upool_count(f->p), 1);
	assert_int_equal(upool_count_key(f->p, &k), 1);
	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		key(&o, others[i].client, others[i].host, others[i].port,
		    others[i].is_tls);
		assert_int_equal(upool_count_key(f->p, &o), 0);
		assert_int_equal(upool_take(f->p, &o, 1, 1001, &fd, &ssl,
		    NULL, 0), 0);
		assert_int_equal(fd, -1);
	}
	assert_int_equal(upool_count(f->p), 1);
	assert_false(pair_is_closed(&pr));
	assert_int_equal(upool_take(f->p, &k, 1, 1001, &fd, &ssl, NULL, 0), 1);
	assert_int_equal(fd, pr.near);
	assert_null(ssl);
	assert_int_equal(upool_count(f->p), 0);
	/* taken: the caller owns it, the pool no longer does */
	assert_int_equal(upool_take(f->p, &k, 1, 1001, &fd, &ssl, NULL, 0), 0);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, sizeof(others) / sizeof(others[0]) + 1);
	assert_int_equal(st.parked, 1);
	assert_int_equal(st.idle, 0);
	assert_false(pair_is_closed(&pr));
	close(pr.near);
	pair_close_far(&pr);
}

/* The freshest connection of a key is taken first. */
static void
test_take_newest_first(void **state)
{
	struct fixture *f = *state;
	struct upool_key k;
	struct pair pr[3];
	SSL *ssl;
	int i, fd;

	key(&k, "alice", "h", 443, 0);
	for (i = 0; i < 3; i++) {
		pair_open(&pr[i]);
		assert_int_equal(upool_put(f->p, &k, 1, pr[i].near, NULL, NULL,
		    100 + i), 1);
	}
	for (i = 2; i >= 0; i--) {
		assert_int_equal(upool_take(f->p, &k, 1, 200, &fd, &ssl,
		    NULL, 0), 1);
		assert_int_equal(fd, pr[i].near);
		close(fd);
		pair_close_far(&pr[i]);
	}
	assert_int_equal(upool_count(f->p), 0);
}

/* LIMIT_UPSTREAM_POOL_PER_KEY fit; one more evicts the key's oldest and
 * nothing of another key. */
static void
test_per_key_cap(void **state)
{
	struct fixture *f = *state;
	struct pair pr[LIMIT_UPSTREAM_POOL_PER_KEY + 1], other;
	struct upool_key k, ko;
	struct upool_stats st;
	size_t i;

	key(&k, "alice", "h", 443, 1);
	key(&ko, "alice", "h", 443, 0);
	pair_open(&other);
	assert_int_equal(upool_put(f->p, &ko, 1, other.near, NULL, NULL, 0), 1);
	for (i = 0; i < LIMIT_UPSTREAM_POOL_PER_KEY; i++) {
		pair_open(&pr[i]);
		assert_int_equal(upool_put(f->p, &k, 1, pr[i].near, NULL, NULL,
		    (int64_t)i + 1), 1);
	}
	assert_int_equal(upool_count_key(f->p, &k), LIMIT_UPSTREAM_POOL_PER_KEY);
	for (i = 0; i < LIMIT_UPSTREAM_POOL_PER_KEY; i++)
		assert_false(pair_is_closed(&pr[i]));
	/* one past the cap */
	pair_open(&pr[i]);
	assert_int_equal(upool_put(f->p, &k, 1, pr[i].near, NULL, NULL,
	    100), 1);
	assert_int_equal(upool_count_key(f->p, &k), LIMIT_UPSTREAM_POOL_PER_KEY);
	assert_int_equal(upool_count(f->p), LIMIT_UPSTREAM_POOL_PER_KEY + 1);
	assert_true(pair_is_closed(&pr[0]));
	for (i = 1; i <= LIMIT_UPSTREAM_POOL_PER_KEY; i++)
		assert_false(pair_is_closed(&pr[i]));
	assert_false(pair_is_closed(&other));
	upool_get_stats(f->p, &st);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(upool_flush(f->p), LIMIT_UPSTREAM_POOL_PER_KEY + 1);
	for (i = 0; i <= LIMIT_UPSTREAM_POOL_PER_KEY; i++) {
		assert_true(pair_is_closed(&pr[i]));
		pair_close_far(&pr[i]);
	}
	assert_true(pair_is_closed(&other));
	pair_close_far(&other);
}

/* Room for enough descriptors for the total cap test, or skip. */
static int
fds_available(size_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return 0;
	if (rl.rlim_cur >= need)
		return 1;
	if (rl.rlim_max < need)
		return 0;
	rl.rlim_cur = need;
	return setrlimit(RLIMIT_NOFILE, &rl) == 0;
}

/* LIMIT_UPSTREAM_POOL fit over many keys; one more evicts the least
 * recently parked of all. */
static void
test_total_cap(void **state)
{
	struct fixture *f = *state;
	const size_t n = LIMIT_UPSTREAM_POOL;
	struct pair *pr = calloc(n + 1, sizeof(*pr));
	struct upool_key k;
	struct upool_stats st;
	char host[32];
	size_t i;

	assert_non_null(pr);
	if (!fds_available(2 * n + 64)) {
		free(pr);
		skip();
	}
	for (i = 0; i < n; i++) {
		snprintf(host, sizeof(host), "h%zu", i / LIMIT_UPSTREAM_POOL_PER_KEY);
		key(&k, "alice", host, 443, 1);
		pair_open(&pr[i]);
		assert_int_equal(upool_put(f->p, &k, 1, pr[i].near, NULL, NULL,
		    (int64_t)i), 1);
	}
	assert_int_equal(upool_count(f->p), n);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.evicted, 0);
	/* a new key, one past the total */
	key(&k, "bob", "new", 443, 1);
	pair_open(&pr[n]);
	assert_int_equal(upool_put(f->p, &k, 1, pr[n].near, NULL, NULL,
	    (int64_t)n), 1);
	assert_int_equal(upool_count(f->p), n);
	assert_true(pair_is_closed(&pr[0]));
	assert_false(pair_is_closed(&pr[1]));
	assert_false(pair_is_closed(&pr[n]));
	upool_get_stats(f->p, &st);
	assert_int_equal(st.evicted, 1);
	/* the next one evicts the next oldest */
	assert_int_equal(upool_evict_oldest(f->p), 1);
	assert_true(pair_is_closed(&pr[1]));
	assert_false(pair_is_closed(&pr[2]));
	upool_flush(f->p);
	assert_int_equal(upool_evict_oldest(f->p), 0);
	for (i = 0; i <= n; i++) {
		assert_true(pair_is_closed(&pr[i]));
		pair_close_far(&pr[i]);
	}
	free(pr);
}

/* Small limits: caps of 1, and a cap of 0 parks nothing. */
static void
test_small_limits(void **state)
{
	static const struct {
		size_t max_total, max_per_key;
		int parked_first, parked_second; /* same key twice */
	} cases[] = {
		{ 1, 1, 1, 1 },
		{ 2, 1, 1, 1 },
		{ 0, 8, 0, 0 },
		{ 8, 0, 0, 0 },
	};
	struct upool_key k;
	struct upool_stats st;
	struct pair a, b;
	size_t i;

	(void)state;
	key(&k, "alice", "h", 80, 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct upool_limits lim = { cases[i].max_total,
			cases[i].max_per_key, 1000 };
		struct ev *ev = ev_new();
		struct upool *p = upool_new(ev, &lim);

		assert_non_null(p);
		pair_open(&a);
		pair_open(&b);
		assert_int_equal(upool_put(p, &k, 1, a.near, NULL, NULL, 1),
		    cases[i].parked_first);
		assert_int_equal(upool_put(p, &k, 1, b.near, NULL, NULL, 2),
		    cases[i].parked_second);
		assert_int_equal(upool_count(p), cases[i].parked_second);
		/* either refused or evicted: the first is closed */
		assert_true(pair_is_closed(&a));
		assert_int_equal(pair_is_closed(&b), !cases[i].parked_second);
		upool_get_stats(p, &st);
		assert_int_equal(st.refused, cases[i].parked_first ? 0 : 2);
		upool_free(p);
		assert_true(pair_is_closed(&b));
		pair_close_far(&a);
		pair_close_far(&b);
		ev_free(ev);
	}
}

/* Parked for LIMIT_UPSTREAM_POOL_IDLE_MS: closed by expire and by take. */
static void
test_expiry(void **state)
{
	struct fixture *f = *state;
	struct upool_key k;
	struct upool_stats st;
	struct pair a, b, c;
	SSL *ssl;
	int fd;

	key(&k, "alice", "h", 443, 1);
	pair_open(&a);
	pair_open(&b);
	pair_open(&c);
	assert_int_equal(upool_put(f->p, &k, 1, a.near, NULL, NULL, 1000), 1);
	assert_int_equal(upool_put(f->p, &k, 1, b.near, NULL, NULL, 2000), 1);
	/* just before the limit nothing goes */
	assert_int_equal(upool_expire(f->p, 1000 + IDLE - 1), 0);
	assert_int_equal(upool_count(f->p), 2);
	/* at it the first goes */
	assert_int_equal(upool_expire(f->p, 1000 + IDLE), 1);
	assert_true(pair_is_closed(&a));
	assert_false(pair_is_closed(&b));
	assert_int_equal(upool_count(f->p), 1);
	/* a take at b's limit closes it and finds nothing */
	assert_int_equal(upool_take(f->p, &k, 1, 2000 + IDLE, &fd, &ssl,
	    NULL, 0), 0);
	assert_true(pair_is_closed(&b));
	assert_int_equal(upool_count(f->p), 0);
	/* one tick before its limit a take still gets it */
	assert_int_equal(upool_put(f->p, &k, 1, c.near, NULL, NULL, 5000), 1);
	assert_int_equal(upool_take(f->p, &k, 1, 5000 + IDLE - 1, &fd, &ssl,
	    NULL, 0), 1);
	assert_int_equal(fd, c.near);
	close(fd);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.expired, 2);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	pair_close_far(&a);
	pair_close_far(&b);
	pair_close_far(&c);
}

/* A connection parked under one policy generation is not taken under
 * another. */
static void
test_generation(void **state)
{
	struct fixture *f = *state;
	struct upool_key k;
	struct upool_stats st;
	struct pair a;
	SSL *ssl;
	int fd;

	key(&k, "alice", "h", 443, 1);
	pair_open(&a);
	assert_int_equal(upool_put(f->p, &k, 7, a.near, NULL, NULL, 0), 1);
	assert_int_equal(upool_take(f->p, &k, 8, 1, &fd, &ssl, NULL, 0), 0);
	assert_true(pair_is_closed(&a));
	assert_int_equal(upool_count(f->p), 0);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.flushed, 1);
	pair_close_far(&a);
}

/* The upstream said something or closed before the put: not parked. */
static void
test_put_refuses_busy_peer(void **state)
{
	struct fixture *f = *state;
	struct upool_key k;
	struct upool_stats st;
	struct pair a, b;

	key(&k, "alice", "h", 443, 1);
	pair_open(&a);
	assert_int_equal(write(a.far, "x", 1), 1);
	assert_int_equal(upool_put(f->p, &k, 1, a.near, NULL, NULL, 0), 0);
	pair_open(&b);
	assert_int_equal(shutdown(b.far, SHUT_WR), 0);
	assert_int_equal(upool_put(f->p, &k, 1, b.near, NULL, NULL, 0), 0);
	assert_int_equal(upool_count(f->p), 0);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.refused, 2);
	assert_int_equal(st.parked, 0);
	/* both closed: the far ends see end of file */
	assert_true(pair_is_closed(&a));
	assert_true(pair_is_closed(&b));
	pair_close_far(&a);
	pair_close_far(&b);
}

/* Between loop iterations the upstream spoke: the take skips it and
 * falls back to the next one of the key. */
static void
test_take_skips_busy_peer(void **state)
{
	struct fixture *f = *state;
	struct upool_key k;
	struct upool_stats st;
	struct pair a, b;
	SSL *ssl;
	int fd;

	key(&k, "alice", "h", 443, 1);
	pair_open(&a);
	pair_open(&b);
	assert_int_equal(upool_put(f->p, &k, 1, a.near, NULL, NULL, 0), 1);
	assert_int_equal(upool_put(f->p, &k, 1, b.near, NULL, NULL, 1), 1);
	assert_int_equal(shutdown(b.far, SHUT_WR), 0); /* the newest closes */
	assert_int_equal(upool_take(f->p, &k, 1, 2, &fd, &ssl, NULL, 0), 1);
	assert_int_equal(fd, a.near);
	close(fd);
	assert_int_equal(upool_count(f->p), 0);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.hits, 1);
	pair_close_far(&a);
	pair_close_far(&b);
}

static void
stop_loop(struct ev_timer *t)
{
	ev_break(t->arg);
}

/* Run the loop once for up to ms milliseconds. */
static void
run_loop(struct ev *ev, int64_t ms)
{
	struct ev_timer t;

	ev_timer_init(&t, stop_loop, ev);
	ev_timer_arm(ev, &t, ms);
	assert_int_equal(ev_run(ev), 0);
	ev_timer_stop(ev, &t);
}

/* While parked: the event loop closes a connection whose upstream sends
 * bytes or closes, and leaves a quiet one alone. */
static void
test_loop_drops_on_event(void **state)
{
	struct fixture *f = *state;
	struct upool_key k;
	struct upool_stats st;
	struct pair quiet, talks, hangs;
	SSL *ssl;
	int fd;

	key(&k, "alice", "h", 443, 1);
	pair_open(&quiet);
	pair_open(&talks);
	pair_open(&hangs);
	assert_int_equal(upool_put(f->p, &k, 1, quiet.near, NULL, NULL, 0), 1);
	assert_int_equal(upool_put(f->p, &k, 1, talks.near, NULL, NULL, 0), 1);
	assert_int_equal(upool_put(f->p, &k, 1, hangs.near, NULL, NULL, 0), 1);
	run_loop(f->ev, 20);
	assert_int_equal(upool_count(f->p), 3);
	assert_int_equal(write(talks.far, "HTTP/1.1 408\r\n", 14), 14);
	pair_close_far(&hangs);
	run_loop(f->ev, 50);
	assert_int_equal(upool_count(f->p), 1);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.dropped, 2);
	assert_int_equal(upool_take(f->p, &k, 1, 1, &fd, &ssl, NULL, 0), 1);
	assert_int_equal(fd, quiet.near);
	/* taken: the loop no longer watches it for the pool */
	assert_int_equal(write(quiet.far, "y", 1), 1);
	run_loop(f->ev, 20);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.dropped, 2);
	close(fd);
	pair_close_far(&quiet);
	pair_close_far(&talks);
}

struct owner {
	struct ev_io io;
	int calls;
};

static void
owner_cb(struct ev_io *io, uint32_t events)
{
	struct owner *o = io->arg;
	char b;

	(void)events;
	o->calls++;
	while (recv(io->fd, &b, 1, MSG_DONTWAIT) == 1)
		;
}

/* A caller's watch goes into the pool with the connection and comes out
 * with it (no second registration: adding the fd again says EEXIST), and
 * only its holder of the moment hears the socket; a refused connection
 * leaves the caller's watch forgotten, not pointing at a closed fd. */
static void
test_watch_handoff(void **state)
{
	struct fixture *f = *state;
	struct upool_key k;
	struct upool_stats st;
	struct owner mine, later;
	struct ev_io probe;
	struct pair a, b;
	SSL *ssl;
	int fd;

	key(&k, "alice", "h", 443, 1);
	pair_open(&a);
	memset(&mine, 0, sizeof(mine));
	memset(&later, 0, sizeof(later));
	ev_io_init(&mine.io, owner_cb, &mine);
	ev_io_init(&later.io, owner_cb, &later);
	ev_io_init(&probe, owner_cb, &later);
	assert_int_equal(ev_io_add(f->ev, &mine.io, a.near, EPOLLIN), 0);
	assert_int_equal(upool_put(f->p, &k, 1, a.near, &mine.io, NULL, 0), 1);
	assert_int_equal(mine.io.fd, -1);
	assert_int_equal(ev_io_add(f->ev, &probe, a.near, EPOLLIN), -1);
	assert_int_equal(errno, EEXIST);
	run_loop(f->ev, 20);
	assert_int_equal(upool_count(f->p), 1);
	pair_open(&b);

	/* a watch that still holds an fd cannot take one: refused, and the
	 * connection stays parked */
	ev_io_init(&probe, owner_cb, &later);
	assert_int_equal(ev_io_add(f->ev, &probe, b.near, EPOLLIN), 0);
	assert_int_equal(upool_take(f->p, &k, 1, 1, &fd, &ssl, &probe,
	    EPOLLIN), 0);
	assert_int_equal(upool_count(f->p), 1);
	assert_false(pair_is_closed(&a));
	ev_io_del(f->ev, &probe);
	pair_close_far(&b);
	close(b.near);

	/* taken into a watch for EPOLLIN: the caller hears the upstream */
	assert_int_equal(upool_take(f->p, &k, 1, 1, &fd, &ssl, &later.io,
	    EPOLLIN), 1);
	assert_int_equal(fd, a.near);
	assert_int_equal(later.io.fd, a.near);
	assert_int_equal(later.io.events, EPOLLIN);
	assert_int_equal(write(a.far, "HTTP/1.1 200", 12), 12);
	run_loop(f->ev, 20);
	assert_int_equal(later.calls, 1);
	assert_int_equal(mine.calls, 0);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.dropped, 0);

	/* parked again from that watch, then the upstream closes: the pool
	 * hears it and drops the connection; the caller's watch does not */
	assert_int_equal(upool_put(f->p, &k, 1, fd, &later.io, NULL, 2), 1);
	assert_int_equal(later.io.fd, -1);
	pair_close_far(&a);
	run_loop(f->ev, 50);
	assert_int_equal(later.calls, 1);
	assert_int_equal(upool_count(f->p), 0);
	upool_get_stats(f->p, &st);
	assert_int_equal(st.dropped, 1);

	/* refused (its upstream already spoke): closed, the watch forgotten */
	pair_open(&b);
	ev_io_init(&mine.io, owner_cb, &mine);
	assert_int_equal(ev_io_add(f->ev, &mine.io, b.near, EPOLLIN), 0);
	assert_int_equal(write(b.far, "x", 1), 1);
	assert_int_equal(upool_put(f->p, &k, 1, b.near, &mine.io, NULL, 3), 0);
	assert_int_equal(mine.io.fd, -1);
	assert_true(pair_is_closed(&b));
	run_loop(f->ev, 20);
	assert_int_equal(mine.calls, 0);
	pair_close_far(&b);
}

/* TLS objects travel with their socket and are freed with it. */
static void
test_tls_objects(void **state)
{
	struct fixture *f = *state;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	struct upool_key k;
	struct pair a, b;
	SSL *s1, *s2, *got = NULL;
	int fd = -1;

	assert_non_null(ctx);
	s1 = SSL_new(ctx);
	s2 = SSL_new(ctx);
	assert_non_null(s1);
	assert_non_null(s2);
	pair_open(&a);
	pair_open(&b);
	SSL_set_fd(s1, a.near);
	SSL_set_fd(s2, b.near);
	key(&k, "alice", "h", 443, 1);
	assert_int_equal(upool_put(f->p, &k, 1, a.near, NULL, s1, 0), 1);
	assert_int_equal(upool_put(f->p, &k, 1, b.near, NULL, s2, 1), 1);
	assert_int_equal(upool_take(f->p, &k, 1, 2, &fd, &got, NULL, 0), 1);
	assert_int_equal(fd, b.near);
	assert_ptr_equal(got, s2);
	SSL_free(got);
	close(fd);
	/* s1 is freed by the pool (the sanitizer build sees a leak if not) */
	assert_int_equal(upool_flush(f->p), 1);
	assert_true(pair_is_closed(&a));
	pair_close_far(&a);
	pair_close_far(&b);
	SSL_CTX_free(ctx);
}

/* Freeing a pool with entries closes them. */
static void
test_free_closes(void **state)
{
	struct ev *ev = ev_new();
	struct upool *p = upool_new(ev, NULL);
	struct upool_key k;
	struct pair a;

	(void)state;
	assert_non_null(p);
	pair_open(&a);
	key(&k, "alice", "h", 443, 1);
	assert_int_equal(upool_put(p, &k, 1, a.near, NULL, NULL, 0), 1);
	upool_free(p);
	upool_free(NULL);
	assert_true(pair_is_closed(&a));
	pair_close_far(&a);
	ev_free(ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_set),
		cmocka_unit_test_setup_teardown(test_keying, setup_default,
		    teardown),
		cmocka_unit_test_setup_teardown(test_take_newest_first,
		    setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_per_key_cap, setup_default,
		    teardown),
		cmocka_unit_test_setup_teardown(test_total_cap, setup_default,
		    teardown),
		cmocka_unit_test(test_small_limits),
		cmocka_unit_test_setup_teardown(test_expiry, setup_default,
		    teardown),
		cmocka_unit_test_setup_teardown(test_generation, setup_default,
		    teardown),
		cmocka_unit_test_setup_teardown(test_put_refuses_busy_peer,
		    setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_take_skips_busy_peer,
		    setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_loop_drops_on_event,
		    setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_watch_handoff,
		    setup_default, teardown),
		cmocka_unit_test_setup_teardown(test_tls_objects, setup_default,
		    teardown),
		cmocka_unit_test(test_free_closes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
