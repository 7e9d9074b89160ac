/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dns_stub.c - the guest's DNS stub (see dns_stub.h): UDP and TCP
 * listeners, local answers, the answer cache, the address -> name map, and
 * the pool of HTTP/1.1 keep-alive connections to the proxy's DoH endpoint,
 * plain or over TLS (tlsc.c).
 *
 * Objects: struct dns_stub owns everything.  A struct stub_query lives
 * from a query that needs the proxy until its answer (or SERVFAIL) is
 * sent; it is on the pending list or on exactly one upstream connection.
 * A TCP client (struct stub_tcp) and an upstream connection (struct
 * stub_up) are closed through one function each and freed after the
 * current event batch; queries only borrow them and are detached on close.
 * DNS wire work is shared/dns.c; HTTP response parsing is shared/http1.c.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "dns.h"
#include "dns_stub.h"
#include "ev.h"
#include "http1.h"
#include "log.h"
#include "sock.h"
#include "tlsc.h"

#define STUB_CANARY "use-application-dns.net"
#define STUB_PATH "/slicer/dns-query"
#define STUB_CACHE_BUCKETS 1024 /* power of two */
#define STUB_NAME_BUCKETS 1024  /* power of two */
/* qtype, qclass, EDNS flags and the name */
#define STUB_KEY_SIZE (DNS_NAME_SIZE + 32)
/* Accepts per wakeup of a TCP listener. */
#define STUB_ACCEPT_BATCH 16
/* A refused token is logged at most this often. */
#define STUB_AUTH_LOG_MS 10000

struct dns_stub;
struct stub_tcp;
struct stub_up;

/* Where a reply goes. */
struct stub_peer {
	int is_tcp;
	struct stub_tcp *tcp; /* borrowed; NULL once the client is gone */
	int udp_fd;           /* borrowed listening socket */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int has_local; /* local address the query was sent to */
	union {
		struct in_pktinfo v4;
		struct in6_pktinfo v6;
	} local;
	size_t udp_limit;
};

/* Per source address: rate and concurrency accounting. */
struct stub_src {
	int used;
	struct netaddr addr;
	int64_t seen_ms;
	int64_t refill_ms;
	int64_t tokens;        /* thousandths of a query */
	unsigned int inflight; /* queries waiting for the proxy */
	unsigned int upstream; /* of those, sent on a connection */
};

struct stub_query {
	struct dns_stub *s;
	struct stub_query *prev, *next; /* pending list */
	int is_pending;
	struct stub_up *up;   /* borrowed: the connection carrying it */
	struct stub_src *src; /* borrowed: pinned while inflight > 0 */
	struct stub_peer to;
	struct dns_query q;
	uint8_t *msg; /* owned: the client's query */
	size_t len;
	char key[STUB_KEY_SIZE];
	struct ev_timer deadline;
	int is_retry;
};

enum stub_up_state {
	STUB_UP_CONNECTING,
	STUB_UP_HANDSHAKE, /* TLS, after the TCP connect */
	STUB_UP_IDLE,
	STUB_UP_BUSY,
};

struct stub_up {
	struct dns_stub *s;
	size_t slot; /* index in s->ups */
	int fd;
	struct tlsc *tls; /* owned; NULL: plain HTTP */
	struct ev_io io;
	struct ev_timer timer; /* connect (and handshake) deadline, then
				* idle close */
	enum stub_up_state state;
	int is_closed;
	unsigned int served; /* answers received on this connection */
	struct buf in, out;
	struct stub_query *q; /* borrowed: in flight here */
};

struct stub_tcp {
	struct dns_stub *s;
	struct stub_tcp *prev, *next;
	int fd;
	struct ev_io io;
	struct ev_timer idle;
	struct buf in, out;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned int inflight;
	int is_eof; /* the client sent FIN */
	int is_closed;
	int is_processing; /* in stub_tcp_process (no re-entry) */
};

struct stub_listen {
	struct dns_stub *s;
	int fd;
	int is_tcp;
	struct ev_io io;
};

struct stub_cent {
	struct stub_cent *hnext;
	struct stub_cent *prev, *next; /* LRU, most recent first */
	uint32_t hash;
	char key[STUB_KEY_SIZE];
	int64_t stored_ms, expires_ms;
	uint8_t *msg; /* owned */
	size_t len;
};

struct stub_nent {
	struct stub_nent *hnext;
	struct stub_nent *prev, *next; /* LRU, most recent first */
	uint32_t hash;
	struct netaddr addr;
	int64_t expires_ms;
	char name[DNS_NAME_SIZE];
};

struct dns_stub {
	struct ev *ev;
	uint16_t port;
	uint32_t mark;
	struct sockaddr_storage proxy_sa;
	socklen_t proxy_salen;
	char host[INET6_ADDRSTRLEN + 16];
	char *auth; /* owned, wiped on free: "Proxy-Authorization: ...\r\n" */
	size_t auth_len;
	struct tlsc_ctx *tls; /* borrowed; NULL: plain HTTP to the proxy */
	uint32_t seed;

	struct stub_listen listeners[4];
	size_t nlisteners;

	struct stub_up *ups[LIMIT_DNS_UPSTREAM_CONNS]; /* owned */
	struct stub_query *pend_head, *pend_tail;
	size_t npending, ninflight;

	struct stub_tcp *tcps; /* owned list */
	size_t ntcp;

	struct stub_src srcs[LIMIT_DNS_SOURCES];

	struct stub_cent *cache[STUB_CACHE_BUCKETS];
	struct stub_cent *cache_head, *cache_tail;
	size_t ncache, cache_bytes;

	struct stub_nent *names[STUB_NAME_BUCKETS];
	struct stub_nent *names_head, *names_tail;
	size_t nnames;

	struct dns_stub_stats stats;
	int64_t auth_logged_ms;
	int is_mark_warned;

	struct http1_response resp;        /* scratch */
	uint8_t rx[LIMIT_DNS_MESSAGE + 1]; /* a query as received */
	uint8_t tx[LIMIT_DNS_MESSAGE + 1]; /* an answer being sent */
	uint8_t small[LIMIT_DNS_UDP_MIN];  /* replies we build, truncation */
	uint8_t tlsbuf[16384];             /* one TLS record's plaintext */
};

static void stub_dispatch(struct dns_stub *s);
static void stub_tcp_close(struct stub_tcp *t, const char *why);
static void stub_tcp_update(struct stub_tcp *t);
static void stub_up_close(struct stub_up *up, const char *why);
static void stub_shutdown(struct dns_stub *s);
static void stub_destroy(void *p);

/* ---- small helpers ---- */

static uint32_t
stub_hash(uint32_t seed, const void *p, size_t n)
{
	const uint8_t *b = p;
	uint32_t h = 2166136261U ^ seed;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ b[i]) * 16777619U;
	return h ^ (h >> 15);
}

static void
stub_base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
			     in[i + 2];

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = tab[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[o++] = tab[v >> 18];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = tab[(v >> 6) & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int
stub_peer_netaddr(const struct stub_peer *p, struct netaddr *a)
{
	return netaddr_from_sockaddr((const struct sockaddr *)&p->addr, a);
}

static int
stub_netaddr_eq(const struct netaddr *a, const struct netaddr *b)
{
	if (a->family != b->family)
		return 0;
	if (a->family == AF_INET)
		return memcmp(&a->u.v4, &b->u.v4, sizeof(a->u.v4)) == 0;
	return memcmp(&a->u.v6, &b->u.v6, sizeof(a->u.v6)) == 0;
}

static uint32_t
stub_netaddr_hash(uint32_t seed, const struct netaddr *a)
{
	if (a->family == AF_INET)
		return stub_hash(seed, &a->u.v4, sizeof(a->u.v4));
	return stub_hash(seed ^ 6, &a->u.v6, sizeof(a->u.v6));
}

/* ---- per-source accounting ---- */

static struct stub_src *
stub_src_get(struct dns_stub *s, const struct netaddr *a)
{
	struct stub_src *victim = NULL;
	int64_t now = ev_now(s->ev);
	size_t i;

	for (i = 0; i < LIMIT_DNS_SOURCES; i++) {
		struct stub_src *e = &s->srcs[i];

		if (e->used && stub_netaddr_eq(&e->addr, a)) {
			e->seen_ms = now;
			return e;
		}
		if (!e->used) {
			if (victim == NULL || victim->used)
				victim = e;
		} else if (e->inflight == 0 &&
			   (victim == NULL ||
			       (victim->used &&
				   e->seen_ms < victim->seen_ms))) {
			victim = e;
		}
	}
	if (victim == NULL)
		return NULL; /* every tracked source has queries in flight */
	memset(victim, 0, sizeof(*victim));
	victim->used = 1;
	victim->addr = *a;
	victim->seen_ms = victim->refill_ms = now;
	victim->tokens = (int64_t)LIMIT_DNS_SOURCE_BURST * 1000;
	return victim;
}

static int
stub_src_take(struct stub_src *src, int64_t now)
{
	int64_t max = (int64_t)LIMIT_DNS_SOURCE_BURST * 1000;

	if (now > src->refill_ms) {
		src->tokens += (now - src->refill_ms) * LIMIT_DNS_SOURCE_RATE;
		if (src->tokens > max)
			src->tokens = max;
		src->refill_ms = now;
	}
	if (src->tokens < 1000)
		return 0;
	src->tokens -= 1000;
	return 1;
}

/* ---- answer cache ---- */

static void
stub_key(const struct dns_query *q, char *key)
{
	snprintf(key, STUB_KEY_SIZE, "%u %u %d%d %s", q->qtype, q->qclass,
	    q->has_edns, q->edns_do, q->name);
}

static void
stub_cache_unlink(struct dns_stub *s, struct stub_cent *e)
{
	struct stub_cent **pp = &s->cache[e->hash & (STUB_CACHE_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		s->cache_head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		s->cache_tail = e->prev;
	s->ncache--;
	s->cache_bytes -= e->len;
	free(e->msg);
	free(e);
}

static void
stub_cache_front(struct dns_stub *s, struct stub_cent *e)
{
	if (s->cache_head == e)
		return;
	if (e->prev != NULL)
		e->prev->next = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		s->cache_tail = e->prev;
	e->prev = NULL;
	e->next = s->cache_head;
	if (s->cache_head != NULL)
		s->cache_head->prev = e;
	s->cache_head = e;
	if (s->cache_tail == NULL)
		s->cache_tail = e;
}

static struct stub_cent *
stub_cache_find(struct dns_stub *s, const char *key)
{
	uint32_t h = stub_hash(s->seed, key, strlen(key));
	struct stub_cent *e;

	for (e = s->cache[h & (STUB_CACHE_BUCKETS - 1)]; e != NULL;
	     e = e->hnext) {
		if (e->hash != h || strcmp(e->key, key) != 0)
			continue;
		if (e->expires_ms <= ev_now(s->ev)) {
			stub_cache_unlink(s, e);
			return NULL;
		}
		return e;
	}
	return NULL;
}

static void
stub_cache_put(struct dns_stub *s, const char *key, const uint8_t *msg,
    size_t len, uint32_t ttl)
{
	struct stub_cent *e;
	int64_t now = ev_now(s->ev);

	if (ttl == 0 || len > LIMIT_DNS_CACHE_BYTES)
		return;
	e = stub_cache_find(s, key);
	if (e != NULL)
		stub_cache_unlink(s, e);
	while (s->cache_tail != NULL &&
	       (s->ncache >= LIMIT_DNS_CACHE_ENTRIES ||
		   s->cache_bytes + len > LIMIT_DNS_CACHE_BYTES))
		stub_cache_unlink(s, s->cache_tail);
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	e->msg = malloc(len);
	if (e->msg == NULL) {
		free(e);
		return;
	}
	memcpy(e->msg, msg, len);
	e->len = len;
	snprintf(e->key, sizeof(e->key), "%s", key);
	e->hash = stub_hash(s->seed, key, strlen(key));
	e->stored_ms = now;
	e->expires_ms = now + (int64_t)ttl * 1000;
	e->hnext = s->cache[e->hash & (STUB_CACHE_BUCKETS - 1)];
	s->cache[e->hash & (STUB_CACHE_BUCKETS - 1)] = e;
	e->next = s->cache_head;
	if (s->cache_head != NULL)
		s->cache_head->prev = e;
	s->cache_head = e;
	if (s->cache_tail == NULL)
		s->cache_tail = e;
	s->ncache++;
	s->cache_bytes += len;
}

/* ---- address -> name map ---- */

static struct stub_nent *
stub_names_find(const struct dns_stub *s, const struct netaddr *a)
{
	uint32_t h = stub_netaddr_hash(s->seed, a);
	struct stub_nent *e;

	for (e = s->names[h & (STUB_NAME_BUCKETS - 1)]; e != NULL; e = e->hnext)
		if (e->hash == h && stub_netaddr_eq(&e->addr, a))
			return e;
	return NULL;
}

static void
stub_names_unlink_lru(struct dns_stub *s, struct stub_nent *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		s->names_head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		s->names_tail = e->prev;
	e->prev = e->next = NULL;
}

static void
stub_names_remove(struct dns_stub *s, struct stub_nent *e)
{
	struct stub_nent **pp = &s->names[e->hash & (STUB_NAME_BUCKETS - 1)];

	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	stub_names_unlink_lru(s, e);
	s->nnames--;
	free(e);
}

/* dns_answer_addrs callback: remember addr -> name. */
static void
stub_names_add(
    const char *name, const struct netaddr *addr, uint32_t ttl, void *arg)
{
	struct dns_stub *s = arg;
	struct stub_nent *e;

	if (ttl < LIMIT_DNS_NAME_MIN_TTL)
		ttl = LIMIT_DNS_NAME_MIN_TTL;
	e = stub_names_find(s, addr);
	if (e == NULL) {
		if (s->nnames >= LIMIT_DNS_NAMES && s->names_tail != NULL)
			stub_names_remove(s, s->names_tail);
		e = calloc(1, sizeof(*e));
		if (e == NULL)
			return;
		e->addr = *addr;
		e->hash = stub_netaddr_hash(s->seed, addr);
		e->hnext = s->names[e->hash & (STUB_NAME_BUCKETS - 1)];
		s->names[e->hash & (STUB_NAME_BUCKETS - 1)] = e;
		s->nnames++;
	} else {
		stub_names_unlink_lru(s, e);
	}
	snprintf(e->name, sizeof(e->name), "%s", name);
	e->expires_ms = ev_now(s->ev) + (int64_t)ttl * 1000;
	e->next = s->names_head;
	if (s->names_head != NULL)
		s->names_head->prev = e;
	s->names_head = e;
	if (s->names_tail == NULL)
		s->names_tail = e;
}

/* ---- sending replies ---- */

static void
stub_udp_send(struct dns_stub *s, const struct stub_peer *to,
    const uint8_t *msg, size_t len)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;

	memset(&mh, 0, sizeof(mh));
	memset(&cm, 0, sizeof(cm));
	iov.iov_base = (void *)(uintptr_t)msg;
	iov.iov_len = len;
	mh.msg_name = (void *)(uintptr_t)&to->addr;
	mh.msg_namelen = to->addrlen;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (to->has_local) {
		/* reply from the address the query went to: conntrack can
		 * then undo the redirect for the client */
		mh.msg_control = cm.buf;
		if (to->addr.ss_family == AF_INET) {
			struct in_pktinfo pi;

			memset(&pi, 0, sizeof(pi));
			pi.ipi_spec_dst = to->local.v4.ipi_addr;
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = IPPROTO_IP;
			c->cmsg_type = IP_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		} else {
			mh.msg_controllen = CMSG_SPACE(sizeof(to->local.v6));
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = IPPROTO_IPV6;
			c->cmsg_type = IPV6_PKTINFO;
			c->cmsg_len = CMSG_LEN(sizeof(to->local.v6));
			memcpy(
			    CMSG_DATA(c), &to->local.v6, sizeof(to->local.v6));
		}
	}
	if (sendmsg(to->udp_fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) == -1) {
		s->stats.errors++;
		log_debug("dns_stub: udp reply: %s", strerror(errno));
	}
}

static void
stub_tcp_send(struct stub_tcp *t, const uint8_t *msg, size_t len)
{
	uint8_t hdr[2];

	if (t->is_closed)
		return;
	if (t->out.len + 2 + len > LIMIT_DNS_TCP_OUT) {
		stub_tcp_close(t, "client does not read its answers");
		return;
	}
	hdr[0] = (uint8_t)(len >> 8);
	hdr[1] = (uint8_t)len;
	if (buf_append(&t->out, hdr, 2) == -1 ||
	    buf_append(&t->out, msg, len) == -1) {
		stub_tcp_close(t, "out of memory");
		return;
	}
	if (buf_write_fd(&t->out, t->fd) == -1 && errno != EAGAIN &&
	    errno != EINTR) {
		stub_tcp_close(t, strerror(errno));
		return;
	}
	ev_timer_arm(t->s->ev, &t->idle, LIMIT_DNS_TCP_IDLE_MS);
	stub_tcp_update(t);
}

/* Send msg (len bytes, the final answer) to the client. */
static void
stub_send(struct dns_stub *s, const struct stub_peer *to, const uint8_t *msg,
    size_t len)
{
	size_t tlen;

	if (to->is_tcp) {
		if (to->tcp != NULL)
			stub_tcp_send(to->tcp, msg, len);
		return;
	}
	if (len > to->udp_limit) {
		if (dns_truncate(msg, len, s->small, sizeof(s->small), &tlen) ==
		    -1) {
			s->stats.errors++;
			return;
		}
		msg = s->small;
		len = tlen;
	}
	stub_udp_send(s, to, msg, len);
}

/* A reply built from the client's query (NXDOMAIN, NODATA, ...). */
static void
stub_reply_rcode(struct dns_stub *s, const struct stub_peer *to,
    const uint8_t *msg, size_t len, const struct dns_query *q, int rcode)
{
	size_t olen;

	if (dns_build_reply(
		msg, len, q, rcode, s->small, sizeof(s->small), &olen) == -1) {
		s->stats.errors++;
		return;
	}
	stub_send(s, to, s->small, olen);
}

/*
 * Send a full answer held in s->tx: the client's ID, its question bytes
 * (the case it used) and its RD/CD bits.
 */
static void
stub_reply_answer(struct dns_stub *s, const struct stub_peer *to,
    const uint8_t *qmsg, const struct dns_query *q, size_t len)
{
	uint8_t keep = DNS_FLAG_RD >> 8, bits;

	dns_msg_set_id(s->tx, q->id);
	bits = (uint8_t)(q->flags >> 8) & keep;
	s->tx[2] = (uint8_t)((s->tx[2] & ~keep) | bits);
	s->tx[3] =
	    (uint8_t)((s->tx[3] & ~DNS_FLAG_CD) | (q->flags & DNS_FLAG_CD));
	memcpy(s->tx + DNS_HEADER_LEN, qmsg + DNS_HEADER_LEN,
	    q->question_end - DNS_HEADER_LEN);
	stub_send(s, to, s->tx, len);
}

/* ---- queries ---- */

static void
stub_pending_remove(struct dns_stub *s, struct stub_query *q)
{
	if (!q->is_pending)
		return;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		s->pend_head = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
	else
		s->pend_tail = q->prev;
	q->prev = q->next = NULL;
	q->is_pending = 0;
	s->npending--;
}

static void
stub_pending_add(struct dns_stub *s, struct stub_query *q, int at_head)
{
	q->is_pending = 1;
	if (at_head) {
		q->prev = NULL;
		q->next = s->pend_head;
		if (s->pend_head != NULL)
			s->pend_head->prev = q;
		else
			s->pend_tail = q;
		s->pend_head = q;
	} else {
		q->next = NULL;
		q->prev = s->pend_tail;
		if (s->pend_tail != NULL)
			s->pend_tail->next = q;
		else
			s->pend_head = q;
		s->pend_tail = q;
	}
	s->npending++;
}

static void
stub_query_free(struct stub_query *q)
{
	struct dns_stub *s = q->s;
	struct stub_tcp *t = q->to.is_tcp ? q->to.tcp : NULL;

	ev_timer_stop(s->ev, &q->deadline);
	stub_pending_remove(s, q);
	if (q->up != NULL) {
		q->up->q = NULL;
		q->up = NULL;
		q->src->upstream--;
	}
	q->src->inflight--;
	s->ninflight--;
	free(q->msg);
	free(q);
	if (t != NULL) {
		t->inflight--;
		stub_tcp_update(t);
	}
}

/* SERVFAIL to the client, and the query is gone. */
static void
stub_query_fail(struct stub_query *q, const char *why)
{
	struct dns_stub *s = q->s;

	log_debug(
	    "dns_stub: %s type %u: SERVFAIL: %s", q->q.name, q->q.qtype, why);
	s->stats.errors++;
	stub_reply_rcode(s, &q->to, q->msg, q->len, &q->q, DNS_RCODE_SERVFAIL);
	stub_query_free(q);
}

static void
stub_query_timeout(struct ev_timer *tm)
{
	struct stub_query *q = tm->arg;
	struct dns_stub *s = q->s;
	struct stub_up *up = q->up;

	if (up != NULL) {
		/* its answer may still come: the connection is out of step */
		q->up = NULL;
		q->src->upstream--;
		up->q = NULL;
		stub_up_close(up, "query timed out");
	}
	stub_query_fail(q, "the proxy did not answer in time");
	stub_dispatch(s);
}

/* The proxy's answer (in s->tx, len bytes) for q. */
static void
stub_query_answer(struct stub_query *q, size_t len)
{
	struct dns_stub *s = q->s;
	struct dns_query r;
	uint32_t min, ttl;
	int rcode;

	if (dns_parse_response(s->tx, len, &r) == -1) {
		log_warnx("dns_stub: %s: bad answer from the proxy: %s",
		    q->q.name, r.error);
		stub_query_fail(q, "bad answer");
		return;
	}
	if (r.qtype != q->q.qtype || r.qclass != q->q.qclass ||
	    r.question_end != q->q.question_end ||
	    !dns_name_eq(r.name, q->q.name)) {
		log_warnx("dns_stub: %s: the proxy answered another question "
			  "(%s)",
		    q->q.name, r.name);
		stub_query_fail(q, "answer to another question");
		return;
	}
	/* nor come back, or a cached cookie would reach other clients */
	if (dns_strip_opt(s->tx, &len) == -1) {
		stub_query_fail(q, "bad answer");
		return;
	}
	rcode = dns_msg_rcode(s->tx);
	if (rcode == DNS_RCODE_NOERROR) {
		/* names first, with the TTLs as the proxy gave them */
		dns_answer_addrs(s->tx, len, stub_names_add, s);
		if (dns_cap_ttl(s->tx, len, LIMIT_DNS_CACHE_TTL, 0, &min) ==
		    -1) {
			stub_query_fail(q, "answer broken by the TTL rewrite");
			return;
		}
		ttl = r.ancount > 0 ? min : LIMIT_DNS_NODATA_TTL;
		if ((r.flags & DNS_FLAG_TC) == 0)
			stub_cache_put(s, q->key, s->tx, len, ttl);
	} else if (rcode == DNS_RCODE_NXDOMAIN) {
		s->stats.denied++;
	} else {
		s->stats.errors++;
	}
	stub_reply_answer(s, &q->to, q->msg, &q->q, len);
	stub_query_free(q);
}

/* ---- upstream connections ---- */

static void
stub_up_free(void *p)
{
	struct stub_up *up = p;

	if (up->out.data != NULL)
		explicit_bzero(up->out.data, up->out.cap);
	buf_release(&up->out);
	buf_release(&up->in);
	free(up);
}

static void
stub_up_close(struct stub_up *up, const char *why)
{
	struct dns_stub *s = up->s;
	struct stub_query *q = up->q;

	if (up->is_closed)
		return;
	up->is_closed = 1;
	log_debug("dns_stub: proxy connection %zu closed: %s", up->slot, why);
	ev_io_del(s->ev, &up->io);
	ev_timer_stop(s->ev, &up->timer);
	tlsc_free(up->tls);
	up->tls = NULL;
	if (up->fd != -1)
		close(up->fd);
	up->fd = -1;
	s->ups[up->slot] = NULL;
	if (q != NULL) {
		up->q = NULL;
		q->up = NULL;
		q->src->upstream--;
		/* the server may have closed an idle connection just as we
		 * used it: once, try again on another */
		if (!q->is_retry && up->served > 0 && up->in.len == 0) {
			q->is_retry = 1;
			stub_pending_add(s, q, 1);
		} else {
			stub_query_fail(q, why);
		}
	}
	ev_defer_free(s->ev, stub_up_free, up);
}

static void
stub_up_timer(struct ev_timer *tm)
{
	struct stub_up *up = tm->arg;
	struct dns_stub *s = up->s;

	stub_up_close(up, up->state == STUB_UP_CONNECTING ? "connect timed out"
			  : up->state == STUB_UP_HANDSHAKE
			      ? "TLS handshake timed out"
			      : "idle");
	stub_dispatch(s);
}

/* Fail every pending query: no connection to the proxy can be made. */
static void
stub_fail_pending(struct dns_stub *s, const char *why)
{
	while (s->pend_head != NULL)
		stub_query_fail(s->pend_head, why);
}

static size_t
stub_ups_live(const struct dns_stub *s)
{
	size_t i, n = 0;

	for (i = 0; i < LIMIT_DNS_UPSTREAM_CONNS; i++)
		n += s->ups[i] != NULL;
	return n;
}

/* Connection to the proxy failed: close it; with none left, fail what
 * waits rather than let it time out. */
static void
stub_up_fail(struct stub_up *up, const char *why)
{
	struct dns_stub *s = up->s;
	int was_connecting =
	    up->state == STUB_UP_CONNECTING || up->state == STUB_UP_HANDSHAKE;

	if (was_connecting)
		log_warnx("dns_stub: cannot connect to the proxy %s: %s",
		    s->host, why);
	stub_up_close(up, why);
	if (was_connecting && stub_ups_live(s) == 0)
		stub_fail_pending(s, "cannot reach the proxy");
	stub_dispatch(s);
}

static void
stub_up_set_idle(struct stub_up *up)
{
	up->state = STUB_UP_IDLE;
	ev_timer_arm(up->s->ev, &up->timer, LIMIT_DNS_UPSTREAM_IDLE_MS);
	ev_io_set(up->s->ev, &up->io, EPOLLIN);
}

/*
 * Handle one complete HTTP response.  The connection goes back to idle
 * before the answer is delivered (delivering may dispatch a new query to
 * it), or is closed first when it cannot be reused.  Returns 0, or -1 when
 * the connection is closed.
 */
static int
stub_up_response(struct stub_up *up, int status, size_t body_off,
    size_t body_len, int keep_alive)
{
	struct dns_stub *s = up->s;
	struct stub_query *q = up->q;
	int64_t now;
	int reuse;

	if (status == 200 && body_len > 0)
		memcpy(s->tx, buf_ptr(&up->in) + body_off, body_len);
	buf_consume(&up->in, body_off + body_len);
	up->served++;
	up->q = NULL;
	if (q != NULL) {
		q->up = NULL;
		q->src->upstream--;
	}
	reuse = keep_alive && up->in.len == 0;
	if (reuse)
		stub_up_set_idle(up);
	else
		stub_up_close(up, keep_alive
				      ? "unsolicited bytes from the proxy"
				      : "not kept alive");
	if (q == NULL)
		return reuse ? 0 : -1;
	if (status == 200) {
		stub_query_answer(q, body_len);
	} else {
		now = ev_now(s->ev);
		if (status != 401 && status != 407) {
			log_warnx(
			    "dns_stub: the proxy answered HTTP %d", status);
		} else if (s->auth_logged_ms == 0 ||
			   now - s->auth_logged_ms >= STUB_AUTH_LOG_MS) {
			log_warnx("dns_stub: the proxy refused the token (HTTP "
				  "%d): answering SERVFAIL",
			    status);
			s->auth_logged_ms = now;
		}
		stub_query_fail(q, "the proxy refused the query");
	}
	return reuse && !up->is_closed ? 0 : -1;
}

/* Parse what has arrived; 0 to go on, -1 after the connection closed. */
static int
stub_up_parse(struct stub_up *up)
{
	struct dns_stub *s = up->s;
	struct http1_response *r = &s->resp;
	size_t need;
	int rc;

	for (;;) {
		if (up->in.len == 0)
			return 0;
		if (up->state != STUB_UP_BUSY) {
			stub_up_close(up, "unsolicited bytes from the proxy");
			return -1;
		}
		rc =
		    http1_parse_response(buf_ptr(&up->in), up->in.len, 0, 0, r);
		if (rc == HTTP1_INCOMPLETE)
			return 0;
		if (rc == HTTP1_BAD) {
			stub_up_close(up, r->error_reason != NULL
					      ? r->error_reason
					      : "bad response");
			return -1;
		}
		if (r->status < 200) {
			buf_consume(&up->in, r->head_len);
			continue;
		}
		if (r->framing == HTTP1_BODY_NONE) {
			need = 0;
		} else if (r->framing == HTTP1_BODY_LENGTH &&
			   r->content_length <= LIMIT_DNS_MESSAGE) {
			need = (size_t)r->content_length;
		} else {
			stub_up_close(up, "response body not framed by a "
					  "Content-Length up to 64 KiB");
			return -1;
		}
		if (up->in.len - r->head_len < need)
			return 0;
		return stub_up_response(
		    up, r->status, r->head_len, need, r->is_keep_alive);
	}
}

/* Write what up->out holds, as far as the socket takes it: 0, or -1
 * with errno on a broken connection. */
static int
stub_up_write(struct stub_up *up)
{
	ssize_t n;

	while (up->out.len > 0) {
		if (up->tls != NULL)
			n = tlsc_write(up->tls, buf_ptr(&up->out), up->out.len);
		else
			n = send(up->fd, buf_ptr(&up->out), up->out.len,
			    MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&up->out, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n == 0)
			errno = EPIPE;
		return -1;
	}
	return 0;
}

/* Read from the proxy into up->in: bytes, 0 at its close, or -1 with
 * errno (EAGAIN: nothing now; ENOBUFS: the answer is too large). */
static ssize_t
stub_up_read(struct stub_up *up)
{
	struct dns_stub *s = up->s;
	size_t room;
	ssize_t n;

	if (up->tls == NULL)
		return buf_read_fd(&up->in, up->fd);
	room = buf_room(&up->in);
	if (room == 0) {
		errno = ENOBUFS;
		return -1;
	}
	if (room > sizeof(s->tlsbuf))
		room = sizeof(s->tlsbuf);
	n = tlsc_read(up->tls, s->tlsbuf, room);
	if (n > 0 && buf_append(&up->in, s->tlsbuf, (size_t)n) == -1)
		return -1;
	return n;
}

/* Watch what the connection's state needs. */
static void
stub_up_watch(struct stub_up *up)
{
	uint32_t want;

	switch (up->state) {
	case STUB_UP_CONNECTING:
		want = EPOLLOUT;
		break;
	case STUB_UP_HANDSHAKE:
		want = tlsc_wants_write(up->tls) ? EPOLLOUT : EPOLLIN;
		break;
	default:
		/* readable also when idle: the proxy's close is seen */
		want = EPOLLIN | (up->out.len > 0 ? EPOLLOUT : 0);
		break;
	}
	if (ev_io_set(up->s->ev, &up->io, want) == -1)
		stub_up_close(up, "epoll");
}

/* The connection is up (TCP, and TLS when used): ready for queries. */
static void
stub_up_ready(struct stub_up *up)
{
	struct dns_stub *s = up->s;

	s->stats.upstream++;
	stub_up_set_idle(up);
	stub_dispatch(s);
}

/* Connected: start TLS, or be ready. */
static void
stub_up_connected(struct stub_up *up)
{
	struct dns_stub *s = up->s;

	if (s->tls == NULL) {
		stub_up_ready(up);
		return;
	}
	up->tls = tlsc_new(s->tls, up->fd);
	if (up->tls == NULL) {
		stub_up_fail(up, "TLS: out of memory");
		return;
	}
	up->state = STUB_UP_HANDSHAKE;
}

static void
stub_up_handshake(struct stub_up *up)
{
	char msg[200], why[160];

	if (tlsc_handshake(up->tls) == 0) {
		stub_up_ready(up);
		return;
	}
	if (errno == EAGAIN) {
		stub_up_watch(up);
		return;
	}
	snprintf(msg, sizeof(msg), "TLS handshake: %s",
	    tlsc_error(up->tls, why, sizeof(why)));
	stub_up_fail(up, msg);
}

static void
stub_up_cb(struct ev_io *io, uint32_t events)
{
	struct stub_up *up = io->arg;
	struct dns_stub *s = up->s;
	ssize_t n;

	if (up->state == STUB_UP_CONNECTING) {
		if (sock_connect_result(up->fd) == -1) {
			stub_up_fail(up, strerror(errno));
			return;
		}
		stub_up_connected(up);
		if (up->is_closed || up->state != STUB_UP_HANDSHAKE)
			return;
	}
	if (up->state == STUB_UP_HANDSHAKE) {
		stub_up_handshake(up);
		return;
	}
	/* on any event: TLS may need the socket readable to go on */
	if (up->out.len > 0 && stub_up_write(up) == -1) {
		stub_up_close(up, strerror(errno));
		stub_dispatch(s);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		/* until nothing is left: TLS holds decrypted bytes epoll
		 * does not see; the input ceiling bounds the loop */
		for (;;) {
			n = stub_up_read(up);
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				break;
			if (n <= 0) {
				stub_up_close(up, n == 0 ? "closed by the proxy"
							 : strerror(errno));
				stub_dispatch(s);
				return;
			}
			if (stub_up_parse(up) == -1) {
				stub_dispatch(s);
				return;
			}
		}
	}
	if (!up->is_closed)
		stub_up_watch(up);
	stub_dispatch(s);
}

static void
stub_up_open(struct dns_stub *s, size_t slot)
{
	struct stub_up *up;
	int fd;

	fd = socket(s->proxy_sa.ss_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		log_warn("dns_stub: socket");
		return;
	}
	if (s->mark != 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_MARK, &s->mark, sizeof(s->mark)) ==
		-1 &&
	    !s->is_mark_warned) {
		log_warn("dns_stub: SO_MARK 0x%x", s->mark);
		s->is_mark_warned = 1;
	}
	sock_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&s->proxy_sa, s->proxy_salen) ==
		-1 &&
	    errno != EINPROGRESS) {
		log_warn("dns_stub: connect to the proxy %s", s->host);
		close(fd);
		return;
	}
	up = calloc(1, sizeof(*up));
	if (up == NULL) {
		close(fd);
		return;
	}
	up->s = s;
	up->slot = slot;
	up->fd = fd;
	up->state = STUB_UP_CONNECTING;
	buf_init(&up->in, LIMIT_HTTP_RESPONSE_HEAD + LIMIT_DNS_MESSAGE);
	buf_init(&up->out, 16384 + LIMIT_DNS_MESSAGE);
	ev_io_init(&up->io, stub_up_cb, up);
	ev_timer_init(&up->timer, stub_up_timer, up);
	if (ev_io_add(s->ev, &up->io, fd, EPOLLOUT) == -1) {
		log_warn("dns_stub: epoll");
		close(fd);
		free(up);
		return;
	}
	ev_timer_arm(s->ev, &up->timer, LIMIT_DNS_UPSTREAM_CONNECT_MS);
	s->ups[slot] = up;
}

/* Put q on the idle connection up. */
static void
stub_up_send(struct stub_up *up, struct stub_query *q)
{
	struct dns_stub *s = up->s;
	static const uint8_t zero_id[2];
	struct buf *b = &up->out;

	buf_consume(b, b->len);
	if (buf_printf(b,
		"POST " STUB_PATH " HTTP/1.1\r\n"
		"Host: %s\r\n"
		"Content-Type: application/dns-message\r\n"
		"Accept: application/dns-message\r\n"
		"Content-Length: %zu\r\n",
		s->host, q->len) == -1 ||
	    buf_append(b, s->auth, s->auth_len) == -1 ||
	    buf_append(b, "\r\n", 2) == -1 ||
	    /* ID 0 upstream (RFC 8484 4.1); the client's goes back */
	    buf_append(b, zero_id, 2) == -1 ||
	    buf_append(b, q->msg + 2, q->len - 2) == -1) {
		stub_query_fail(q, "request too large");
		return;
	}
	up->q = q;
	q->up = up;
	q->src->upstream++;
	up->state = STUB_UP_BUSY;
	ev_timer_stop(s->ev, &up->timer);
	if (!q->is_retry)
		s->stats.forwarded++;
	if (stub_up_write(up) == -1) {
		stub_up_close(up, strerror(errno));
		return;
	}
	stub_up_watch(up);
}

/*
 * The next pending query to send: of the sources under their share of
 * connections, the one with the fewest queries at the proxy (oldest first
 * on a tie), so one busy source cannot hold every connection.
 */
static struct stub_query *
stub_pending_pick(struct dns_stub *s)
{
	struct stub_query *q, *best = NULL;

	for (q = s->pend_head; q != NULL; q = q->next) {
		if (q->src->upstream >= LIMIT_DNS_SOURCE_UPSTREAM)
			continue;
		if (best == NULL || q->src->upstream < best->src->upstream)
			best = q;
		if (best->src->upstream == 0)
			break;
	}
	return best;
}

static void
stub_dispatch(struct dns_stub *s)
{
	size_t i, connecting, free_slot;
	struct stub_up *idle;
	struct stub_query *q;
	unsigned int rounds;

	/* each round sends one query or opens one connection */
	for (rounds = 0; rounds < LIMIT_DNS_INFLIGHT + LIMIT_DNS_UPSTREAM_CONNS;
	     rounds++) {
		if (s->pend_head == NULL)
			return;
		q = stub_pending_pick(s);
		if (q == NULL)
			return;
		idle = NULL;
		connecting = 0;
		free_slot = LIMIT_DNS_UPSTREAM_CONNS;
		for (i = 0; i < LIMIT_DNS_UPSTREAM_CONNS; i++) {
			if (s->ups[i] == NULL) {
				if (free_slot == LIMIT_DNS_UPSTREAM_CONNS)
					free_slot = i;
			} else if (s->ups[i]->state == STUB_UP_IDLE) {
				idle = s->ups[i];
			} else if (s->ups[i]->state == STUB_UP_CONNECTING ||
				   s->ups[i]->state == STUB_UP_HANDSHAKE) {
				connecting++;
			}
		}
		if (idle != NULL) {
			stub_pending_remove(s, q);
			stub_up_send(idle, q);
			continue;
		}
		if (connecting >= s->npending ||
		    free_slot == LIMIT_DNS_UPSTREAM_CONNS)
			return;
		stub_up_open(s, free_slot);
		if (s->ups[free_slot] == NULL) {
			if (stub_ups_live(s) == 0)
				stub_fail_pending(s, "cannot reach the proxy");
			return;
		}
	}
}

/* ---- handling one query ---- */

static void
stub_handle(struct dns_stub *s, const uint8_t *msg, size_t len,
    const struct stub_peer *from)
{
	struct stub_peer to = *from;
	struct stub_query *q;
	struct stub_cent *ce;
	struct stub_src *src;
	struct dns_query dq;
	struct netaddr peer;
	char key[STUB_KEY_SIZE];
	size_t olen;
	int64_t now = ev_now(s->ev);
	int rc;

	rc = dns_parse_query(msg, len, &dq);
	if (rc == DNS_DROP) {
		s->stats.errors++;
		return;
	}
	if (rc != DNS_OK) {
		s->stats.errors++;
		if (dns_build_bare(msg, len,
			rc == DNS_NOTIMP ? DNS_RCODE_NOTIMP : DNS_RCODE_FORMERR,
			s->small, sizeof(s->small), &olen) == 0)
			stub_send(s, &to, s->small, olen);
		return;
	}
	s->stats.queries++;
	to.udp_limit = dns_query_udp_limit(&dq);

	if (stub_peer_netaddr(&to, &peer) == -1 ||
	    (src = stub_src_get(s, &peer)) == NULL ||
	    !stub_src_take(src, now)) {
		s->stats.limited++;
		if (to.is_tcp)
			stub_reply_rcode(
			    s, &to, msg, len, &dq, DNS_RCODE_SERVFAIL);
		return;
	}

	/* answered here */
	if (dq.qclass != DNS_CLASS_IN || dq.qtype == DNS_TYPE_AXFR ||
	    dq.qtype == DNS_TYPE_IXFR) {
		s->stats.errors++;
		stub_reply_rcode(s, &to, msg, len, &dq, DNS_RCODE_NOTIMP);
		return;
	}
	if (strcmp(dq.name, STUB_CANARY) == 0) {
		s->stats.denied++;
		stub_reply_rcode(s, &to, msg, len, &dq, DNS_RCODE_NXDOMAIN);
		return;
	}
	if (dq.qtype == DNS_TYPE_HTTPS || dq.qtype == DNS_TYPE_SVCB) {
		stub_reply_rcode(s, &to, msg, len, &dq, DNS_RCODE_NOERROR);
		return;
	}

	/* from the cache, TTLs aged */
	stub_key(&dq, key);
	ce = stub_cache_find(s, key);
	if (ce != NULL) {
		uint32_t age = (uint32_t)((now - ce->stored_ms) / 1000);

		memcpy(s->tx, ce->msg, ce->len);
		if (dns_cap_ttl(
			s->tx, ce->len, LIMIT_DNS_CACHE_TTL, age, NULL) == 0) {
			stub_cache_front(s, ce);
			s->stats.cached++;
			dns_answer_addrs(s->tx, ce->len, stub_names_add, s);
			stub_reply_answer(s, &to, msg, &dq, ce->len);
			return;
		}
		stub_cache_unlink(s, ce);
	}

	/* to the proxy */
	if (s->ninflight >= LIMIT_DNS_INFLIGHT ||
	    src->inflight >= LIMIT_DNS_SOURCE_INFLIGHT) {
		s->stats.limited++;
		if (to.is_tcp)
			stub_reply_rcode(
			    s, &to, msg, len, &dq, DNS_RCODE_SERVFAIL);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (q == NULL || (q->msg = malloc(len)) == NULL) {
		free(q);
		s->stats.errors++;
		stub_reply_rcode(s, &to, msg, len, &dq, DNS_RCODE_SERVFAIL);
		return;
	}
	memcpy(q->msg, msg, len);
	q->len = len;
	/* EDNS options (cookies, padding) are per hop: none go upstream */
	dns_strip_opt(q->msg, &q->len);
	memcpy(q->key, key, sizeof(q->key));
	q->s = s;
	q->q = dq;
	q->to = to;
	q->src = src;
	src->inflight++;
	s->ninflight++;
	if (to.is_tcp)
		to.tcp->inflight++;
	ev_timer_init(&q->deadline, stub_query_timeout, q);
	ev_timer_arm(s->ev, &q->deadline, LIMIT_DNS_QUERY_TIMEOUT_MS);
	stub_pending_add(s, q, 0);
	stub_dispatch(s);
}

/* ---- UDP ---- */

static void
stub_udp_cb(struct ev_io *io, uint32_t events)
{
	struct stub_listen *l = io->arg;
	struct dns_stub *s = l->s;
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + 64];
		struct cmsghdr align;
	} cm;
	struct stub_peer p;
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *c;
	ssize_t n;
	int i;

	(void)events;
	for (i = 0; i < LIMIT_DNS_UDP_BATCH; i++) {
		memset(&p, 0, sizeof(p));
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = s->rx;
		iov.iov_len = LIMIT_DNS_UDP_MAX;
		mh.msg_name = &p.addr;
		mh.msg_namelen = sizeof(p.addr);
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		n = recvmsg(l->fd, &mh, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				log_warn("dns_stub: recvmsg");
			return;
		}
		if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
			s->stats.errors++; /* larger than any query we take */
			continue;
		}
		p.addrlen = mh.msg_namelen;
		p.udp_fd = l->fd;
		for (c = CMSG_FIRSTHDR(&mh); c != NULL;
		     c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level == IPPROTO_IP &&
			    c->cmsg_type == IP_PKTINFO &&
			    c->cmsg_len >= CMSG_LEN(sizeof(p.local.v4))) {
				memcpy(&p.local.v4, CMSG_DATA(c),
				    sizeof(p.local.v4));
				p.has_local = 1;
			} else if (c->cmsg_level == IPPROTO_IPV6 &&
				   c->cmsg_type == IPV6_PKTINFO &&
				   c->cmsg_len >=
				       CMSG_LEN(sizeof(p.local.v6))) {
				memcpy(&p.local.v6, CMSG_DATA(c),
				    sizeof(p.local.v6));
				p.has_local = 1;
			}
		}
		stub_handle(s, s->rx, (size_t)n, &p);
	}
}

/* ---- TCP clients ---- */

static void
stub_tcp_free(void *p)
{
	struct stub_tcp *t = p;

	buf_release(&t->in);
	buf_release(&t->out);
	free(t);
}

static void
stub_tcp_close(struct stub_tcp *t, const char *why)
{
	struct dns_stub *s = t->s;
	struct stub_query *q;
	size_t i;

	if (t->is_closed)
		return;
	log_debug("dns_stub: tcp client closed: %s", why);
	t->is_closed = 1;
	ev_io_del(s->ev, &t->io);
	ev_timer_stop(s->ev, &t->idle);
	close(t->fd);
	t->fd = -1;
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		s->tcps = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	s->ntcp--;
	/* its queries still finish (and fill the cache), unanswered */
	for (q = s->pend_head; q != NULL; q = q->next)
		if (q->to.tcp == t)
			q->to.tcp = NULL;
	for (i = 0; i < LIMIT_DNS_UPSTREAM_CONNS; i++)
		if (s->ups[i] != NULL && s->ups[i]->q != NULL &&
		    s->ups[i]->q->to.tcp == t)
			s->ups[i]->q->to.tcp = NULL;
	ev_defer_free(s->ev, stub_tcp_free, t);
}

/*
 * Handle the complete messages buffered, as far as the pipeline and the
 * output ceiling allow.  Answers sent from inside (cache hits, local
 * answers) come back here through stub_tcp_update: the guard keeps that
 * from recursing once per buffered message; this loop goes on instead.
 */
static void
stub_tcp_process(struct stub_tcp *t)
{
	struct stub_peer p;
	size_t n;

	if (t->is_processing)
		return;
	t->is_processing = 1;
	while (!t->is_closed && t->inflight < LIMIT_DNS_TCP_PIPELINE &&
	       t->out.len < LIMIT_DNS_TCP_OUT / 2 && t->in.len >= 2) {
		const uint8_t *b = (const uint8_t *)buf_ptr(&t->in);

		n = (size_t)b[0] << 8 | b[1];
		if (n < DNS_HEADER_LEN) {
			t->s->stats.errors++;
			stub_tcp_close(t, "message shorter than a header");
			break;
		}
		if (t->in.len < 2 + n)
			break;
		memcpy(t->s->rx, b + 2, n);
		buf_consume(&t->in, 2 + n);
		ev_timer_arm(t->s->ev, &t->idle, LIMIT_DNS_TCP_IDLE_MS);
		memset(&p, 0, sizeof(p));
		p.is_tcp = 1;
		p.tcp = t;
		memcpy(&p.addr, &t->addr, sizeof(p.addr));
		p.addrlen = t->addrlen;
		stub_handle(t->s, t->s->rx, n, &p);
	}
	t->is_processing = 0;
}

/* Resume buffered messages, watch what the client's state needs, and
 * close it when it is done. */
static void
stub_tcp_update(struct stub_tcp *t)
{
	uint32_t want = 0;

	if (t->is_closed || t->is_processing)
		return;
	stub_tcp_process(t);
	if (t->is_closed)
		return;
	if (t->is_eof && t->inflight == 0 && t->out.len == 0) {
		stub_tcp_close(t, t->in.len > 0 ? "client closed mid-message"
						: "client finished");
		return;
	}
	if (!t->is_eof && t->inflight < LIMIT_DNS_TCP_PIPELINE &&
	    t->out.len < LIMIT_DNS_TCP_OUT / 2)
		want |= EPOLLIN;
	if (t->out.len > 0)
		want |= EPOLLOUT;
	if (ev_io_set(t->s->ev, &t->io, want) == -1)
		stub_tcp_close(t, "epoll");
}

static void
stub_tcp_cb(struct ev_io *io, uint32_t events)
{
	struct stub_tcp *t = io->arg;
	ssize_t n;

	if (events & EPOLLOUT) {
		if (buf_write_fd(&t->out, t->fd) == -1 && errno != EAGAIN &&
		    errno != EINTR) {
			stub_tcp_close(t, strerror(errno));
			return;
		}
		ev_timer_arm(t->s->ev, &t->idle, LIMIT_DNS_TCP_IDLE_MS);
	}
	if (events & (EPOLLHUP | EPOLLERR)) {
		/* reset, or shut both ways: nothing can be answered, and
		 * epoll would report it again and again */
		stub_tcp_close(t, "connection reset");
		return;
	}
	if ((events & EPOLLIN) && !t->is_eof) {
		n = buf_read_fd(&t->in, t->fd);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			stub_tcp_close(t, strerror(errno));
			return;
		}
		/* the idle timer is re-armed per whole message, not per
		 * read: a client trickling bytes still times out */
		if (n == 0)
			t->is_eof = 1;
	}
	stub_tcp_update(t);
}

static void
stub_tcp_idle(struct ev_timer *tm)
{
	struct stub_tcp *t = tm->arg;

	if (t->inflight > 0) {
		ev_timer_arm(t->s->ev, &t->idle, LIMIT_DNS_TCP_IDLE_MS);
		return;
	}
	stub_tcp_close(t, "idle");
}

static void
stub_accept_cb(struct ev_io *io, uint32_t events)
{
	struct stub_listen *l = io->arg;
	struct dns_stub *s = l->s;
	struct sockaddr_storage ss;
	struct stub_tcp *t;
	socklen_t sslen;
	int i, fd;

	(void)events;
	for (i = 0; i < STUB_ACCEPT_BATCH; i++) {
		sslen = sizeof(ss);
		fd = sock_accept(l->fd, (struct sockaddr *)&ss, &sslen);
		if (fd == -1) {
			if (errno != EAGAIN && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("dns_stub: accept");
			return;
		}
		if (s->ntcp >= LIMIT_DNS_TCP_CLIENTS) {
			s->stats.limited++;
			close(fd);
			continue;
		}
		t = calloc(1, sizeof(*t));
		if (t == NULL) {
			close(fd);
			continue;
		}
		t->s = s;
		t->fd = fd;
		memcpy(&t->addr, &ss, sizeof(ss));
		t->addrlen = sslen;
		buf_init(&t->in, 2 + LIMIT_DNS_MESSAGE);
		buf_init(&t->out, LIMIT_DNS_TCP_OUT);
		ev_io_init(&t->io, stub_tcp_cb, t);
		ev_timer_init(&t->idle, stub_tcp_idle, t);
		if (ev_io_add(s->ev, &t->io, fd, EPOLLIN) == -1) {
			close(fd);
			free(t);
			continue;
		}
		ev_timer_arm(s->ev, &t->idle, LIMIT_DNS_TCP_IDLE_MS);
		t->next = s->tcps;
		if (s->tcps != NULL)
			s->tcps->prev = t;
		s->tcps = t;
		s->ntcp++;
	}
}

/* ---- setup ---- */

static int
stub_udp_open(int family, uint16_t port, uint32_t mark)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sslen = sizeof(*sin);
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) ==
		    -1)
			goto fail;
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sslen = sizeof(*sin6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			sizeof(one)) == -1 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
			sizeof(one)) == -1)
			goto fail;
	}
	/* before bind: the input guard passes queries only to a socket with
	 * the agent's mark, and the port is never held without it */
	if ((mark != 0 && sock_mark(fd, mark) == -1) ||
	    bind(fd, (struct sockaddr *)&ss, sslen) == -1)
		goto fail;
	return fd;
fail : {
	int saved = errno;

	close(fd);
	errno = saved;
}
	return -1;
}

static int
stub_listen_add(struct dns_stub *s, int fd, int is_tcp)
{
	struct stub_listen *l = &s->listeners[s->nlisteners];

	l->s = s;
	l->fd = fd;
	l->is_tcp = is_tcp;
	ev_io_init(&l->io, is_tcp ? stub_accept_cb : stub_udp_cb, l);
	if (ev_io_add(s->ev, &l->io, fd, EPOLLIN) == -1) {
		close(fd);
		return -1;
	}
	s->nlisteners++;
	return 0;
}

/* Open UDP and TCP on one family.  0, 1 when the family is unavailable
 * (IPv6 only), -1 on error with err filled. */
static int
stub_listen_family(struct dns_stub *s, int family, char *err, size_t errsz)
{
	const char *any = family == AF_INET ? "0.0.0.0" : "::";
	int ufd, tfd;

	ufd = stub_udp_open(family, s->port, s->mark);
	if (ufd == -1) {
		if (family == AF_INET6 &&
		    (errno == EAFNOSUPPORT || errno == EADDRNOTAVAIL)) {
			log_info("dns_stub: no IPv6, listening on IPv4 only");
			return 1;
		}
		snprintf(err, errsz, "dns stub: udp [%s]:%u: %s", any, s->port,
		    strerror(errno));
		return -1;
	}
	if (stub_listen_add(s, ufd, 0) == -1) {
		snprintf(err, errsz, "dns stub: epoll: %s", strerror(errno));
		return -1;
	}
	tfd = sock_tcp_listen_mark(any, s->port, 128, s->mark);
	if (tfd == -1) {
		snprintf(err, errsz, "dns stub: tcp [%s]:%u: %s", any, s->port,
		    strerror(errno));
		return -1;
	}
	if (stub_listen_add(s, tfd, 1) == -1) {
		snprintf(err, errsz, "dns stub: epoll: %s", strerror(errno));
		return -1;
	}
	return 0;
}

struct dns_stub *
dns_stub_new(
    struct ev *ev, const struct dns_stub_config *cfg, char *err, size_t errsz)
{
	struct dns_stub *s = NULL, *ret = NULL;
	char addr[INET6_ADDRSTRLEN], *cred = NULL, *hdr = NULL;
	size_t clen = 0, hlen = 0;
	unsigned int salen;

	if (cfg->port == 0 || cfg->proxy_port == 0 ||
	    (cfg->proxy_addr.family != AF_INET &&
		cfg->proxy_addr.family != AF_INET6) ||
	    cfg->token == NULL || cfg->token[0] == '\0' ||
	    strlen(cfg->token) > 4096 || strpbrk(cfg->token, "\r\n") != NULL) {
		snprintf(err, errsz, "dns stub: incomplete configuration");
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errsz, "dns stub: out of memory");
		goto out;
	}
	s->ev = ev;
	s->port = cfg->port;
	s->mark = cfg->mark;
	s->tls = cfg->tls;
	if (getrandom(&s->seed, sizeof(s->seed), GRND_NONBLOCK) == -1)
		s->seed = (uint32_t)getpid() ^ (uint32_t)ev_now(ev);
	netaddr_to_sockaddr(
	    &cfg->proxy_addr, cfg->proxy_port, &s->proxy_sa, &salen);
	s->proxy_salen = salen;
	netaddr_ntop(&cfg->proxy_addr, addr, sizeof(addr));
	snprintf(s->host, sizeof(s->host),
	    cfg->proxy_addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
	    cfg->proxy_port);

	/* "Proxy-Authorization: Basic base64(proxy:TOKEN)\r\n" */
	clen = strlen("proxy:") + strlen(cfg->token);
	cred = malloc(clen + 1);
	hlen = 64 + (clen + 2) / 3 * 4;
	hdr = malloc(hlen);
	if (cred == NULL || hdr == NULL) {
		snprintf(err, errsz, "dns stub: out of memory");
		goto out;
	}
	snprintf(cred, clen + 1, "proxy:%s", cfg->token);
	memcpy(hdr, "Proxy-Authorization: Basic ", 27);
	stub_base64((const uint8_t *)cred, clen, hdr + 27);
	strcat(hdr, "\r\n");
	s->auth = hdr;
	s->auth_len = strlen(hdr);
	hdr = NULL;

	if (stub_listen_family(s, AF_INET, err, errsz) == -1 ||
	    stub_listen_family(s, AF_INET6, err, errsz) == -1)
		goto out;
	ret = s;
	s = NULL;
out:
	if (cred != NULL) {
		explicit_bzero(cred, clen);
		free(cred);
	}
	free(hdr);
	if (s != NULL) {
		/* nothing of it can be in the current event batch */
		stub_shutdown(s);
		stub_destroy(s);
	}
	return ret;
}

static void
stub_destroy(void *p)
{
	struct dns_stub *s = p;

	while (s->cache_head != NULL)
		stub_cache_unlink(s, s->cache_head);
	while (s->names_head != NULL)
		stub_names_remove(s, s->names_head);
	if (s->auth != NULL) {
		explicit_bzero(s->auth, s->auth_len);
		free(s->auth);
	}
	free(s);
}

/* Close listeners, clients, queries and proxy connections. */
static void
stub_shutdown(struct dns_stub *s)
{
	size_t i;

	for (i = 0; i < s->nlisteners; i++) {
		ev_io_del(s->ev, &s->listeners[i].io);
		close(s->listeners[i].fd);
	}
	s->nlisteners = 0;
	while (s->tcps != NULL)
		stub_tcp_close(s->tcps, "stub stopped");
	while (s->pend_head != NULL)
		stub_query_free(s->pend_head);
	for (i = 0; i < LIMIT_DNS_UPSTREAM_CONNS; i++) {
		struct stub_up *up = s->ups[i];

		if (up == NULL)
			continue;
		if (up->q != NULL)
			stub_query_free(up->q);
		stub_up_close(up, "stub stopped");
	}
}

void
dns_stub_free(struct dns_stub *s)
{
	if (s == NULL)
		return;
	stub_shutdown(s);
	ev_defer_free(s->ev, stub_destroy, s);
}

int
dns_stub_name_for(const struct dns_stub *s, const struct netaddr *addr,
    char *name, size_t size)
{
	const struct stub_nent *e;
	size_t n;

	if (s == NULL || addr == NULL ||
	    (addr->family != AF_INET && addr->family != AF_INET6))
		return 0;
	e = stub_names_find(s, addr);
	if (e == NULL || e->expires_ms <= ev_now(s->ev))
		return 0;
	n = strlen(e->name);
	if (n >= size)
		return 0;
	memcpy(name, e->name, n + 1);
	return 1;
}

void
dns_stub_get_stats(const struct dns_stub *s, struct dns_stub_stats *st)
{
	*st = s->stats;
}
