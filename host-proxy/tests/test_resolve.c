/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_resolve.c - the resolver's cache of answers and the joining of
 * lookups in flight, against a DNS server of the test's own: a UDP socket
 * on 127.0.0.1 served from the same event loop, answering A and AAAA from
 * a table (with TTLs and CNAMEs), NXDOMAIN or SERVFAIL, and counting the
 * queries it got per (name, type).
 *
 * Covered: answers held while their TTL lasts and delivered synchronously;
 * TTL 0 and failures never held; a CNAME's lower TTL caps the time; lookups
 * in flight joined, cancelling one joined request; the least recently used
 * answer evicted past LIMIT_RESOLVE_CACHE, and lookups past the limit when
 * every slot is in flight; raw queries neither held nor joined; TTLs at
 * and past LIMIT_RESOLVE_CACHE_TTL_MS; lookups that time out never held;
 * names too long for the cache looked up each time.
 *
 * The two families of a name (RFC 8305 section 3), the server keeping
 * silent for one type of query of a name, or holding its answer until the
 * test lets it go (dns_quirks): one family dropped answered after
 * LIMIT_DNS_RESOLUTION_DELAY_MS, far sooner than c-ares' retries; a late
 * family joining the kept answer, in order, with the lower TTL; no delay
 * when both answer or one has no address; the order of the answer
 * (unroutable last, IPv6 first); entries stale or evicted while a family
 * is pending; resolver_free with lookups in every state; the hosts file.
 *
 * Times of a minute and c-ares' retry timeouts are not waited for: the
 * test's clock_gettime() runs CLOCK_MONOTONIC ahead on demand (see
 * clock_skip_to), or stops it (clock_freeze) to show that no timer was
 * waited for.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ev.h"
#include "netaddr.h"
#include "resolve.h"
#include "slicer_limits.h"

#define T_A 1
#define T_CNAME 5
#define T_AAAA 28
#define RCODE_SERVFAIL 2
#define RCODE_NXDOMAIN 3
#define RCODE_SILENT (-1) /* the server never answers */

#define WAIT_MS 5000        /* bound of every wait for an answer */
#define DNS_MAX 512         /* UDP message */
#define COUNTS_MAX 8192     /* (name, type) pairs the server counts */
#define ANSWER_BATCH 32     /* datagrams the server answers per wakeup */
#define CAP_S (LIMIT_RESOLVE_CACHE_TTL_MS / 1000)
#define SKIP_MS 20000       /* clock skip past one c-ares try (2, 4, 8 s) */
#define SKIPS_MAX 10        /* bound of the skips to a timeout */
#define BIG_SUFFIX ".big.test" /* any name under it answers BIG_V4/V6 */
#define BIG_V4 "198.51.100.80"
#define BIG_V6 "2001:db8::80"

/* ---- the DNS server ---- */

struct fixture;

struct dns_entry {
	const char *name;
	int rcode;          /* 0, RCODE_NXDOMAIN, RCODE_SERVFAIL or
			     * RCODE_SILENT */
	uint32_t ttl;       /* of the address records */
	const char *v4;     /* NULL: no A record */
	const char *v6;     /* NULL: no AAAA record */
	const char *cname;  /* the name is an alias of this one */
	uint32_t cname_ttl;
};

static const struct dns_entry dns_table[] = {
	{ "ttl30.test", 0, 30, "198.51.100.30", "2001:db8::30", NULL, 0 },
	{ "ttl0.test", 0, 0, "198.51.100.1", "2001:db8::1", NULL, 0 },
	{ "join.test", 0, 30, "198.51.100.20", "2001:db8::20", NULL, 0 },
	{ "cancel.test", 0, 30, "198.51.100.21", "2001:db8::21", NULL, 0 },
	{ "raw.test", 0, 30, "198.51.100.22", "2001:db8::22", NULL, 0 },
	{ "sentinel.test", 0, 0, "198.51.100.2", NULL, NULL, 0 },
	{ "short.test", 0, 1, "198.51.100.41", "2001:db8::41", NULL, 0 },
	{ "long.test", 0, 60, "198.51.100.60", "2001:db8::60", NULL, 0 },
	/* alias.test -> target.test: the alias lasts 1 s, the address 60 s */
	{ "alias.test", 0, 60, "198.51.100.42", "2001:db8::42", "target.test",
	    1 },
	{ "alias60.test", 0, 60, "198.51.100.43", "2001:db8::43",
	    "target60.test", 60 },
	{ "nx.test", RCODE_NXDOMAIN, 0, NULL, NULL, NULL, 0 },
	{ "fail.test", RCODE_SERVFAIL, 0, NULL, NULL, NULL, 0 },
	{ "empty.test", 0, 60, NULL, NULL, NULL, 0 }, /* no address */
	/* around the cap of the time an answer is held */
	{ "below.cap.test", 0, CAP_S - 1, "198.51.100.71", "2001:db8::71",
	    NULL, 0 },
	{ "at.cap.test", 0, CAP_S, "198.51.100.72", "2001:db8::72", NULL, 0 },
	{ "past.cap.test", 0, CAP_S + 1, "198.51.100.73", "2001:db8::73",
	    NULL, 0 },
	{ "far.cap.test", 0, 3600, "198.51.100.74", "2001:db8::74", NULL, 0 },
	{ "alias.cap.test", 0, 3600, "198.51.100.75", "2001:db8::75",
	    "target.cap.test", 3600 },
	/* the top bit set: 0 (RFC 2181 8) */
	{ "msb.cap.test", 0, 0x80000000u, "198.51.100.76", "2001:db8::76",
	    NULL, 0 },
	{ "silent.test", RCODE_SILENT, 0, NULL, NULL, NULL, 0 },
	/* one family silent or late (dns_quirks) */
	{ "noaaaa.test", 0, 30, "198.51.100.91", "2001:db8::91", NULL, 0 },
	{ "noa.test", 0, 30, "198.51.100.92", "2001:db8::92", NULL, 0 },
	{ "late6.test", 0, 30, "127.0.0.93", "::1", NULL, 0 },
	{ "late4.test", 0, 30, "127.0.0.94", "::1", NULL, 0 },
	{ "short.late6.test", 0, 1, "127.0.0.95", "::1", NULL, 0 },
	{ "evict.late6.test", 0, 60, "127.0.0.96", "::1", NULL, 0 },
	{ "free.late6.test", 0, 30, "127.0.0.97", "::1", NULL, 0 },
	/* the order of the answer: fe80::1 without an interface and the
	 * broadcast address cannot be connected to */
	{ "quick.test", 0, 30, "127.0.0.98", "::1", NULL, 0 },
	{ "unroutable6.test", 0, 30, "127.0.0.99", "fe80::1", NULL, 0 },
	{ "unroutable4.test", 0, 30, "255.255.255.255", "::1", NULL, 0 },
	/* one family without an address */
	{ "nx6.test", 0, 30, "198.51.100.101", "2001:db8::101", NULL, 0 },
	{ "nodata6.test", 0, 30, "198.51.100.102", NULL, NULL, 0 },
	{ "nodata4.test", 0, 30, NULL, "2001:db8::103", NULL, 0 },
	{ "late4.nodata6.test", 0, 30, "198.51.100.104", NULL, NULL, 0 },
	{ "late6.nodata6.test", 0, 30, "198.51.100.105", NULL, NULL, 0 },
	{ "late4.nx6.test", 0, 30, "198.51.100.106", "2001:db8::106", NULL,
	    0 },
	{ "nx4.drop6.test", 0, 30, "198.51.100.107", "2001:db8::107", NULL,
	    0 },
	/* a late family's TTL (dns_quirks): 1 s, 0, and 30 s after an A of
	 * TTL 1 s */
	{ "ttl1.late6.test", 0, 30, "127.0.0.108", "::1", NULL, 0 },
	{ "ttl0.late6.test", 0, 30, "127.0.0.109", "::1", NULL, 0 },
	{ "ttl30.late6.test", 0, 30, "127.0.0.110", "::1", NULL, 0 },
};

/* What the server does with one type of query for a name (a name that
 * starts with a dot: every name under it): flags. */
#define QUIRK_DROP 1        /* never answered (a middlebox drops it) */
#define QUIRK_LATE 2        /* held until responder_send_late() */
#define QUIRK_NXDOMAIN 4    /* NXDOMAIN for this type only */
#define QUIRK_TTL 8         /* the address record has the quirk's TTL */

static const struct dns_quirk {
	const char *name;
	uint16_t type;
	int flags;
	uint32_t ttl;
} dns_quirks[] = {
	{ "noaaaa.test", T_AAAA, QUIRK_DROP, 0 },
	{ "noa.test", T_A, QUIRK_DROP, 0 },
	{ ".noaaaa.big.test", T_AAAA, QUIRK_DROP, 0 },
	{ "late6.test", T_AAAA, QUIRK_LATE, 0 },
	{ "late4.test", T_A, QUIRK_LATE, 0 },
	{ "short.late6.test", T_AAAA, QUIRK_LATE, 0 },
	{ "evict.late6.test", T_AAAA, QUIRK_LATE, 0 },
	{ "free.late6.test", T_AAAA, QUIRK_LATE, 0 },
	{ "ttl1.late6.test", T_AAAA, QUIRK_LATE | QUIRK_TTL, 1 },
	{ "ttl0.late6.test", T_AAAA, QUIRK_LATE | QUIRK_TTL, 0 },
	{ "ttl30.late6.test", T_A, QUIRK_TTL, 1 },
	{ "ttl30.late6.test", T_AAAA, QUIRK_LATE, 0 },
	{ "nx6.test", T_AAAA, QUIRK_NXDOMAIN, 0 },
	{ "late4.nodata6.test", T_A, QUIRK_LATE, 0 },
	{ "late6.nodata6.test", T_AAAA, QUIRK_LATE, 0 },
	{ "late4.nx6.test", T_A, QUIRK_LATE, 0 },
	{ "late4.nx6.test", T_AAAA, QUIRK_NXDOMAIN, 0 },
	{ "nx4.drop6.test", T_A, QUIRK_NXDOMAIN, 0 },
	{ "nx4.drop6.test", T_AAAA, QUIRK_DROP, 0 },
};

struct qcount {
	char name[LIMIT_HOSTNAME + 2];
	uint16_t type;
	unsigned n;
};

struct held {
	struct sockaddr_storage peer;
	socklen_t peerlen;
	size_t len;
	uint8_t msg[DNS_MAX];
};

struct responder {
	int fd;
	uint16_t port;
	struct ev_io io;
	struct qcount *counts;
	size_t ncounts;
	unsigned long total;    /* queries received */
	int is_holding;         /* keep the answers until released */
	struct held *held;
	size_t nheld, nsent, cap;
	struct held *late;      /* QUIRK_LATE answers not sent yet */
	size_t nlate, latecap;
	struct ev_timer release;
	struct fixture *f;
};

/* ---- the fixture ---- */

typedef int (*cond_fn)(const struct fixture *f);

struct result {
	struct fixture *f;
	int calls;
	int status;
	int is_sync;        /* ran before resolve_start returned */
	int64_t at_ms;      /* ev_now() when it ran */
	size_t n;
	struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
	const char *reason;
};

struct raw_result {
	struct fixture *f;
	int calls;
	int status;
	size_t len;
};

/* Results live in the fixture, not on a test's stack: after a failed
 * assertion, lookups still pending end in resolver_free, in teardown. */
#define RESULTS (LIMIT_RESOLVE_CACHE + 64)

struct fixture {
	struct ev *ev;
	struct resolver *r;
	struct responder rs;
	struct ev_timer guard;
	int timed_out;
	cond_fn cond;       /* while running: break when true */
	unsigned long target;
	unsigned long done; /* callbacks run */
	int in_start;       /* inside resolve_start */
	struct result *res; /* RESULTS of them */
	struct raw_result raw[4];
};

static void
fixture_poke(struct fixture *f)
{
	if (f->cond != NULL && f->cond(f))
		ev_break(f->ev);
}

/* "n17.many.test": i = 17; -1 for other names */
static long
many_index(const char *name)
{
	char back[64];
	unsigned u;

	if (sscanf(name, "n%u.many.test", &u) != 1 || u > 65535)
		return -1;
	snprintf(back, sizeof(back), "n%u.many.test", u);
	return strcmp(back, name) == 0 ? (long)u : -1;
}

static void
many_addrs(long i, char *v4, size_t v4size, char *v6, size_t v6size)
{
	snprintf(v4, v4size, "10.1.%ld.%ld", (i >> 8) & 255, i & 255);
	snprintf(v6, v6size, "2001:db8:1::%lx", (unsigned long)i);
}

/* A name of the hosts file that the server also answers (TTL 60),
 * HOSTS_V4 and HOSTS_V6; "" for none. */
static char hosts_name[64];
#define HOSTS_V4 "198.51.100.77"
#define HOSTS_V6 "2001:db8::77"

/* The entry for name; the *.many.test and *.big.test names and hosts_name
 * answer from buf. */
static const struct dns_entry *
dns_lookup(const char *name, struct dns_entry *buf, char *v4, size_t v4size,
    char *v6, size_t v6size)
{
	size_t i;
	long k;

	for (i = 0; i < sizeof(dns_table) / sizeof(dns_table[0]); i++)
		if (strcasecmp(dns_table[i].name, name) == 0)
			return &dns_table[i];
	if (hosts_name[0] != '\0' && strcasecmp(name, hosts_name) == 0) {
		memset(buf, 0, sizeof(*buf));
		buf->name = name;
		buf->ttl = 60;
		buf->v4 = HOSTS_V4;
		buf->v6 = HOSTS_V6;
		return buf;
	}
	if (strlen(name) > strlen(BIG_SUFFIX) &&
	    strcmp(name + strlen(name) - strlen(BIG_SUFFIX), BIG_SUFFIX) == 0) {
		memset(buf, 0, sizeof(*buf));
		buf->name = name;
		buf->ttl = 60;
		buf->v4 = BIG_V4;
		buf->v6 = BIG_V6;
		return buf;
	}
	k = many_index(name);
	if (k < 0)
		return NULL;
	many_addrs(k, v4, v4size, v6, v6size);
	memset(buf, 0, sizeof(*buf));
	buf->name = name;
	buf->ttl = 60;
	buf->v4 = v4;
	buf->v6 = v6;
	return buf;
}

static void
qcount_add(struct responder *rs, const char *name, uint16_t type)
{
	size_t i;

	rs->total++;
	for (i = 0; i < rs->ncounts; i++) {
		if (rs->counts[i].type == type &&
		    strcmp(rs->counts[i].name, name) == 0) {
			rs->counts[i].n++;
			return;
		}
	}
	assert_true(rs->ncounts < COUNTS_MAX);
	snprintf(rs->counts[i].name, sizeof(rs->counts[i].name), "%s", name);
	rs->counts[i].type = type;
	rs->counts[i].n = 1;
	rs->ncounts++;
}

/* Queries of (name, type) the server got. */
static unsigned
qcount(const struct fixture *f, const char *name, uint16_t type)
{
	size_t i;

	for (i = 0; i < f->rs.ncounts; i++)
		if (f->rs.counts[i].type == type &&
		    strcmp(f->rs.counts[i].name, name) == 0)
			return f->rs.counts[i].n;
	return 0;
}

/* Read an uncompressed name at *off, lowercased, without the final dot. */
static int
dns_name_read(const uint8_t *p, size_t len, size_t *off, char *out,
    size_t size)
{
	size_t o = *off, w = 0, i;
	uint8_t l;

	for (;;) {
		if (o >= len)
			return -1;
		l = p[o++];
		if (l == 0)
			break;
		if (l > 63 || o + l > len || w + l + 2 > size)
			return -1;
		if (w > 0)
			out[w++] = '.';
		for (i = 0; i < l; i++) {
			char c = (char)p[o + i];

			out[w++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
		}
		o += l;
	}
	out[w] = '\0';
	*off = o;
	return 0;
}

static int
put_bytes(uint8_t *buf, size_t size, size_t *off, const void *p, size_t n)
{
	if (*off + n > size)
		return -1;
	memcpy(buf + *off, p, n);
	*off += n;
	return 0;
}

static int
put16(uint8_t *buf, size_t size, size_t *off, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	return put_bytes(buf, size, off, b, 2);
}

static int
put32(uint8_t *buf, size_t size, size_t *off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
	    (uint8_t)(v >> 8), (uint8_t)v };

	return put_bytes(buf, size, off, b, 4);
}

static int
put_name(uint8_t *buf, size_t size, size_t *off, const char *name)
{
	const char *p = name, *dot;
	size_t l;
	uint8_t lb;

	while (*p != '\0') {
		dot = strchr(p, '.');
		l = dot != NULL ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63)
			return -1;
		lb = (uint8_t)l;
		if (put_bytes(buf, size, off, &lb, 1) == -1 ||
		    put_bytes(buf, size, off, p, l) == -1)
			return -1;
		p += l;
		if (*p == '.')
			p++;
	}
	lb = 0;
	return put_bytes(buf, size, off, &lb, 1);
}

/* One resource record; owner NULL: a pointer to the question's name. */
static int
put_rr(uint8_t *buf, size_t size, size_t *off, const char *owner,
    uint16_t type, uint32_t ttl, const void *rdata, size_t rdlen)
{
	if (owner == NULL) {
		if (put16(buf, size, off, 0xc00c) == -1)
			return -1;
	} else if (put_name(buf, size, off, owner) == -1)
		return -1;
	if (put16(buf, size, off, type) == -1 ||
	    put16(buf, size, off, 1 /* IN */) == -1 ||
	    put32(buf, size, off, ttl) == -1 ||
	    put16(buf, size, off, (uint16_t)rdlen) == -1)
		return -1;
	return put_bytes(buf, size, off, rdata, rdlen);
}

/* The quirk of (name, type), NULL for none. */
static const struct dns_quirk *
dns_quirk(const char *name, uint16_t type)
{
	size_t i, l, nl = strlen(name);

	for (i = 0; i < sizeof(dns_quirks) / sizeof(dns_quirks[0]); i++) {
		const char *qn = dns_quirks[i].name;

		if (dns_quirks[i].type != type)
			continue;
		l = strlen(qn);
		if (qn[0] == '.' ? nl > l && strcmp(name + nl - l, qn) == 0 :
		    strcmp(name, qn) == 0)
			return &dns_quirks[i];
	}
	return NULL;
}

/*
 * The answer to the query q (qlen bytes), written to out: its length, or
 * 0 when the query is not one to answer.  Counts the query.  *is_late:
 * the answer is one to hold until responder_send_late().
 */
static size_t
responder_answer(struct responder *rs, const uint8_t *q, size_t qlen,
    uint8_t *out, size_t size, int *is_late)
{
	char name[LIMIT_HOSTNAME + 2], v4buf[32], v6buf[64];
	uint8_t rdata[DNS_MAX];
	struct dns_entry many;
	const struct dns_entry *e;
	size_t off = 12, qend, o, rdlen;
	const struct dns_quirk *quirk;
	uint16_t type, flags, ancount = 0;
	uint32_t ttl;
	int rcode, qflags;

	*is_late = 0;
	if (qlen < 12 || (q[2] & 0x80) != 0 || q[4] != 0 || q[5] != 1)
		return 0;
	if (dns_name_read(q, qlen, &off, name, sizeof(name)) == -1 ||
	    off + 4 > qlen)
		return 0;
	type = (uint16_t)(q[off] << 8 | q[off + 1]);
	qend = off + 4;
	qcount_add(rs, name, type);
	e = dns_lookup(name, &many, v4buf, sizeof(v4buf), v6buf,
	    sizeof(v6buf));
	rcode = e == NULL ? RCODE_NXDOMAIN : e->rcode;
	quirk = dns_quirk(name, type);
	qflags = quirk != NULL ? quirk->flags : 0;
	if (rcode == RCODE_SILENT || (qflags & QUIRK_DROP))
		return 0;
	if (qflags & QUIRK_NXDOMAIN)
		rcode = RCODE_NXDOMAIN;
	*is_late = (qflags & QUIRK_LATE) != 0;
	ttl = (qflags & QUIRK_TTL) ? quirk->ttl : e != NULL ? e->ttl : 0;

	o = 12;
	/* the question, as it came */
	memcpy(out, q, 12);
	if (put_bytes(out, size, &o, q + 12, qend - 12) == -1)
		return 0;
	if (rcode == 0 && (type == T_A || type == T_AAAA)) {
		const char *addr = type == T_A ? e->v4 : e->v6;
		const char *owner = NULL;

		if (e->cname != NULL && addr != NULL) {
			rdlen = 0;
			if (put_name(rdata, sizeof(rdata), &rdlen,
			    e->cname) == -1 ||
			    put_rr(out, size, &o, NULL, T_CNAME, e->cname_ttl,
			    rdata, rdlen) == -1)
				return 0;
			ancount++;
			owner = e->cname;
		}
		if (addr != NULL) {
			rdlen = type == T_A ? 4 : 16;
			if (inet_pton(type == T_A ? AF_INET : AF_INET6, addr,
			    rdata) != 1 ||
			    put_rr(out, size, &o, owner, type, ttl, rdata,
			    rdlen) == -1)
				return 0;
			ancount++;
		}
	}
	/* QR, the opcode and RD of the query, AA, RA, the rcode */
	flags = (uint16_t)(0x8000 | (q[2] & 0x79) << 8 | 0x0400 | 0x0080 |
	    rcode);
	out[2] = (uint8_t)(flags >> 8);
	out[3] = (uint8_t)flags;
	out[4] = 0;
	out[5] = 1;
	out[6] = (uint8_t)(ancount >> 8);
	out[7] = (uint8_t)ancount;
	memset(out + 8, 0, 4);
	return o;
}

static void
responder_send(struct responder *rs, const struct held *h)
{
	ssize_t n;

	n = sendto(rs->fd, h->msg, h->len, 0,
	    (const struct sockaddr *)&h->peer, h->peerlen);
	assert_int_equal(n, (ssize_t)h->len);
}

/* Held answers go out ANSWER_BATCH at a time, one batch a millisecond (a
 * timer re-armed for 0 ms would fire again in the same turn), so the
 * resolver's socket never overflows. */
static void
responder_release_cb(struct ev_timer *t)
{
	struct responder *rs = t->arg;
	size_t i;

	for (i = 0; i < ANSWER_BATCH && rs->nsent < rs->nheld; i++)
		responder_send(rs, &rs->held[rs->nsent++]);
	if (rs->nsent < rs->nheld)
		ev_timer_arm(rs->f->ev, &rs->release, 1);
}

static void
responder_release(struct responder *rs)
{
	rs->is_holding = 0;
	ev_timer_arm(rs->f->ev, &rs->release, 0);
}

/* Send the QUIRK_LATE answers held so far; how many. */
static size_t
responder_send_late(struct responder *rs)
{
	size_t i, n = rs->nlate;

	for (i = 0; i < n; i++)
		responder_send(rs, &rs->late[i]);
	rs->nlate = 0;
	return n;
}

static void
responder_keep(struct held **list, size_t *n, size_t *cap,
    const struct held *h)
{
	struct held *hp;

	if (*n == *cap) {
		*cap = *cap == 0 ? 256 : *cap * 2;
		hp = realloc(*list, *cap * sizeof(*hp));
		assert_non_null(hp);
		*list = hp;
	}
	(*list)[(*n)++] = *h;
}

static void
responder_io_cb(struct ev_io *io, uint32_t events)
{
	struct responder *rs = io->arg;
	uint8_t q[DNS_MAX];
	struct held h;
	ssize_t n;
	int i, is_late;

	(void)events;
	/* a batch per wakeup: the loop runs the resolver in between */
	for (i = 0; i < ANSWER_BATCH; i++) {
		h.peerlen = sizeof(h.peer);
		n = recvfrom(rs->fd, q, sizeof(q), MSG_DONTWAIT,
		    (struct sockaddr *)&h.peer, &h.peerlen);
		if (n == -1) {
			assert_true(errno == EAGAIN || errno == EINTR);
			break;
		}
		h.len = responder_answer(rs, q, (size_t)n, h.msg,
		    sizeof(h.msg), &is_late);
		if (h.len == 0)
			continue;
		if (is_late)
			responder_keep(&rs->late, &rs->nlate, &rs->latecap, &h);
		else if (rs->is_holding)
			responder_keep(&rs->held, &rs->nheld, &rs->cap, &h);
		else
			responder_send(rs, &h);
	}
	fixture_poke(rs->f);
}

static int
responder_open(struct fixture *f)
{
	struct responder *rs = &f->rs;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int buf = 1 << 20;

	rs->f = f;
	rs->counts = calloc(COUNTS_MAX, sizeof(*rs->counts));
	if (rs->counts == NULL)
		return -1;
	rs->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (rs->fd == -1)
		return -1;
	/* room for the bursts of queries sent before the loop runs */
	if (setsockopt(rs->fd, SOL_SOCKET, SO_RCVBUFFORCE, &buf,
	    sizeof(buf)) == -1)
		(void)setsockopt(rs->fd, SOL_SOCKET, SO_RCVBUF, &buf,
		    sizeof(buf));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(rs->fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    getsockname(rs->fd, (struct sockaddr *)&sin, &len) == -1)
		return -1;
	rs->port = ntohs(sin.sin_port);
	ev_io_init(&rs->io, responder_io_cb, rs);
	ev_timer_init(&rs->release, responder_release_cb, rs);
	return ev_io_add(f->ev, &rs->io, rs->fd, EPOLLIN);
}

static void
responder_close(struct fixture *f)
{
	struct responder *rs = &f->rs;

	ev_timer_stop(f->ev, &rs->release);
	ev_io_del(f->ev, &rs->io);
	if (rs->fd != -1)
		close(rs->fd);
	free(rs->counts);
	free(rs->held);
	free(rs->late);
}

/* ---- the clock ---- */

/*
 * CLOCK_MONOTONIC runs clock_skip_ms ahead of the kernel's.  This
 * definition takes the place of the C library's in the whole program: the
 * event loop (ev.c) and c-ares (libcares, which the link exports it to)
 * both read their time here.  The skip only grows, so the clock stays
 * monotonic from one test to the next.  While clock_frozen_ms >= 0 the
 * clock stands there (clock_freeze): no timer of the loop or of c-ares
 * can fire.
 */
static int64_t clock_skip_ms;
static int64_t clock_frozen_ms = -1;

int
clock_gettime(clockid_t id, struct timespec *ts)
{
	if (id == CLOCK_MONOTONIC && clock_frozen_ms >= 0) {
		ts->tv_sec = (time_t)(clock_frozen_ms / 1000);
		ts->tv_nsec = (long)(clock_frozen_ms % 1000) * 1000000L;
		return 0;
	}
	if (syscall(SYS_clock_gettime, id, ts) != 0)
		return -1;
	if (id == CLOCK_MONOTONIC) {
		ts->tv_sec += (time_t)(clock_skip_ms / 1000);
		ts->tv_nsec += (long)(clock_skip_ms % 1000) * 1000000L;
		if (ts->tv_nsec >= 1000000000L) {
			ts->tv_sec++;
			ts->tv_nsec -= 1000000000L;
		}
	}
	return 0;
}

/* The clock as ev.c reads it (ms). */
static int64_t
clock_now_ms(void)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &ts), 0);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stop the clock where it is (ms, ev_now's time base); clock_thaw lets it
 * run on from the kernel's time, so it never goes back. */
static int64_t
clock_freeze(void)
{
	clock_frozen_ms = clock_now_ms();
	return clock_frozen_ms;
}

static void
clock_thaw(void)
{
	clock_frozen_ms = -1;
}

/* ---- running the loop ---- */

static void
guard_cb(struct ev_timer *t)
{
	struct fixture *f = t->arg;

	f->timed_out = 1;
	ev_break(f->ev);
}

static void
guard_io_cb(struct ev_io *io, uint32_t events)
{
	struct fixture *f = io->arg;

	(void)events;
	f->timed_out = 1;
	ev_break(f->ev);
}

/* Run the loop until cond holds (0), or -1 after ms. */
static int
run_until(struct fixture *f, cond_fn cond, int64_t ms)
{
	if (cond != NULL && cond(f))
		return 0;
	f->cond = cond;
	f->timed_out = 0;
	ev_timer_arm(f->ev, &f->guard, ms);
	assert_int_equal(ev_run(f->ev), 0);
	ev_timer_stop(f->ev, &f->guard);
	f->cond = NULL;
	return f->timed_out && (cond == NULL || !cond(f)) ? -1 : 0;
}

/*
 * run_until with the clock stopped (clock_freeze): the bound is a timerfd
 * of the kernel's clock, which the stopped one does not hold back.
 */
static int
run_frozen_until(struct fixture *f, cond_fn cond, int64_t ms)
{
	struct itimerspec its;
	struct ev_io io;
	int fd;

	assert_true(clock_frozen_ms >= 0);
	if (cond != NULL && cond(f))
		return 0;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	assert_true(fd != -1);
	memset(&its, 0, sizeof(its));
	its.it_value.tv_sec = (time_t)(ms / 1000);
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	assert_int_equal(timerfd_settime(fd, 0, &its, NULL), 0);
	ev_io_init(&io, guard_io_cb, f);
	assert_int_equal(ev_io_add(f->ev, &io, fd, EPOLLIN), 0);
	f->cond = cond;
	f->timed_out = 0;
	assert_int_equal(ev_run(f->ev), 0);
	ev_io_del(f->ev, &io);
	close(fd);
	f->cond = NULL;
	return f->timed_out && (cond == NULL || !cond(f)) ? -1 : 0;
}

static int
cond_done(const struct fixture *f)
{
	return f->done >= f->target;
}

static int
cond_queries(const struct fixture *f)
{
	return f->rs.total >= f->target;
}

/* Wait until n callbacks have run since f->done was last zeroed. */
static void
wait_callbacks(struct fixture *f, unsigned long n)
{
	f->target = n;
	assert_int_equal(run_until(f, cond_done, WAIT_MS), 0);
}

/* Wait until the server has received n queries in all. */
static void
wait_queries(struct fixture *f, unsigned long n)
{
	f->target = n;
	assert_int_equal(run_until(f, cond_queries, WAIT_MS), 0);
}

/* Run the loop for ms, whatever happens. */
static void
run_for(struct fixture *f, int64_t ms)
{
	assert_int_equal(run_until(f, NULL, ms), -1);
}

/*
 * Move the clock forward to when_ms (ev_now's time base) and run the loop
 * once, so that ev_now() is there (checked: proves the skip took effect).
 */
static void
clock_skip_to(struct fixture *f, int64_t when_ms)
{
	int64_t now = clock_now_ms();

	if (when_ms > now)
		clock_skip_ms += when_ms - now;
	run_for(f, 1);
	assert_true(ev_now(f->ev) >= when_ms);
}

/*
 * Wait for n callbacks of lookups the server never answers: the clock
 * jumps SKIP_MS at a time, past each of c-ares' tries, at most SKIPS_MAX
 * times.
 */
static void
wait_callbacks_skipping(struct fixture *f, unsigned long n)
{
	int i;

	f->target = n;
	for (i = 0; i < SKIPS_MAX && !cond_done(f); i++) {
		clock_skip_ms += SKIP_MS;
		(void)run_until(f, cond_done, 20);
	}
	assert_true(cond_done(f));
}

static void
result_cb(void *arg, int status, const struct netaddr *addrs, size_t n,
    const char *reason)
{
	struct result *res = arg;

	res->calls++;
	res->status = status;
	res->is_sync = res->f->in_start;
	res->at_ms = ev_now(res->f->ev);
	res->reason = reason;
	res->n = 0;
	if (status == 0) {
		assert_true(n >= 1 && n <= LIMIT_UPSTREAM_ADDRS);
		memcpy(res->addrs, addrs, n * sizeof(*addrs));
		res->n = n;
	}
	res->f->done++;
	fixture_poke(res->f);
}

static struct resolve_req *
start(struct fixture *f, const char *name, struct result *res)
{
	struct resolve_req *q;

	memset(res, 0, sizeof(*res));
	res->f = f;
	f->in_start = 1;
	q = resolve_start(f->r, name, result_cb, res);
	f->in_start = 0;
	/* a handle exactly when the callback has not run yet */
	assert_int_equal(q == NULL, res->calls == 1);
	return q;
}

/* Resolve name to the end; 1 when the answer came synchronously. */
static int
resolve_one(struct fixture *f, const char *name, struct result *res)
{
	struct resolve_req *q;

	f->done = 0;
	q = start(f, name, res);
	if (q == NULL) {
		assert_int_equal(res->is_sync, 1);
		return 1;
	}
	wait_callbacks(f, 1);
	assert_int_equal(res->calls, 1);
	assert_int_equal(res->is_sync, 0);
	return 0;
}

static int
addr_equal(const struct netaddr *a, const struct netaddr *b)
{
	if (a->family != b->family)
		return 0;
	if (a->family == AF_INET)
		return memcmp(&a->u.v4, &b->u.v4, sizeof(a->u.v4)) == 0;
	return memcmp(&a->u.v6, &b->u.v6, sizeof(a->u.v6)) == 0;
}

static void
assert_same_addrs(const struct result *a, const struct result *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++)
		assert_true(addr_equal(&a->addrs[i], &b->addrs[i]));
}

static int
result_has(const struct result *res, const char *lit)
{
	struct netaddr want;
	size_t i;

	assert_int_equal(netaddr_parse_literal(lit, strlen(lit), &want), 0);
	for (i = 0; i < res->n; i++)
		if (addr_equal(&res->addrs[i], &want))
			return 1;
	return 0;
}

/* Status 0 with exactly the addresses v4 and v6 (either may be NULL). */
static void
assert_answer(const struct result *res, const char *v4, const char *v6)
{
	assert_int_equal(res->calls, 1);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n, (size_t)(v4 != NULL) + (v6 != NULL));
	if (v4 != NULL)
		assert_true(result_has(res, v4));
	if (v6 != NULL)
		assert_true(result_has(res, v6));
}

static void
stats(const struct fixture *f, struct resolve_stats *st)
{
	memset(st, 0xa5, sizeof(*st));
	resolver_get_stats(f->r, st);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char csv[64];

	if (f == NULL)
		return -1;
	f->rs.fd = -1;
	*state = f;
	f->res = calloc(RESULTS, sizeof(*f->res));
	f->ev = ev_new();
	if (f->res == NULL)
		return -1;
	if (f->ev == NULL || responder_open(f) == -1)
		return -1;
	ev_timer_init(&f->guard, guard_cb, f);
	f->r = resolver_new(f->ev);
	if (f->r == NULL)
		return -1;
	snprintf(csv, sizeof(csv), "127.0.0.1:%u", (unsigned)f->rs.port);
	return resolver_set_servers(f->r, csv);
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	if (f == NULL)
		return 0;
	resolver_free(f->r);
	if (f->ev != NULL) {
		ev_timer_stop(f->ev, &f->guard);
		responder_close(f);
		ev_free(f->ev);
	}
	free(f->res);
	free(f);
	return 0;
}

/* ---- the tests ---- */

/* TTL 30: the second resolve is answered synchronously from the cache. */
static void
test_cache_hit(void **state)
{
	struct fixture *f = *state;
	struct result *a = &f->res[0], *b = &f->res[1], *c = &f->res[2];
	struct resolve_stats st;

	stats(f, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.joined, 0);
	assert_int_equal(st.lookups, 0);
	assert_int_equal(st.cached, 0);

	assert_int_equal(resolve_one(f, "ttl30.test", a), 0);
	assert_answer(a, "198.51.100.30", "2001:db8::30");
	assert_int_equal(qcount(f, "ttl30.test", T_A), 1);
	assert_int_equal(qcount(f, "ttl30.test", T_AAAA), 1);

	/* from the cache: the callback ran inside resolve_start */
	assert_int_equal(resolve_one(f, "ttl30.test", b), 1);
	assert_answer(b, "198.51.100.30", "2001:db8::30");
	assert_same_addrs(a, b);
	assert_int_equal(qcount(f, "ttl30.test", T_A), 1);
	assert_int_equal(qcount(f, "ttl30.test", T_AAAA), 1);
	stats(f, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.lookups, 1);
	assert_int_equal(st.joined, 0);
	assert_int_equal(st.cached, 1);

	/* and again */
	assert_int_equal(resolve_one(f, "ttl30.test", c), 1);
	assert_same_addrs(a, c);
	assert_int_equal(f->rs.total, 2);
	stats(f, &st);
	assert_int_equal(st.hits, 2);
	assert_int_equal(st.lookups, 1);
}

/* TTL 0: never held, every resolve asks the server. */
static void
test_ttl_zero(void **state)
{
	struct fixture *f = *state;
	struct result *a = &f->res[0], *b = &f->res[1];
	struct resolve_stats st;

	assert_int_equal(resolve_one(f, "ttl0.test", a), 0);
	assert_answer(a, "198.51.100.1", "2001:db8::1");
	assert_int_equal(resolve_one(f, "ttl0.test", b), 0);
	assert_answer(b, "198.51.100.1", "2001:db8::1");
	assert_int_equal(qcount(f, "ttl0.test", T_A), 2);
	assert_int_equal(qcount(f, "ttl0.test", T_AAAA), 2);
	stats(f, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.lookups, 2);
	assert_int_equal(st.cached, 0);
}

/* 20 resolves of one name before the loop runs: one lookup, 20 answers. */
static void
test_join(void **state)
{
	struct fixture *f = *state;
	struct result *res = f->res, *late = &f->res[20];
	struct resolve_req *q;
	struct resolve_stats st;
	size_t i;

	f->done = 0;
	for (i = 0; i < 20; i++) {
		q = start(f, "join.test", &res[i]);
		assert_non_null(q);
	}
	stats(f, &st);
	assert_int_equal(st.lookups, 1);
	assert_int_equal(st.joined, 19);
	assert_int_equal(st.cached, 1);
	wait_callbacks(f, 20);
	for (i = 0; i < 20; i++) {
		assert_answer(&res[i], "198.51.100.20", "2001:db8::20");
		assert_same_addrs(&res[0], &res[i]);
		assert_int_equal(res[i].is_sync, 0);
	}
	assert_int_equal(qcount(f, "join.test", T_A), 1);
	assert_int_equal(qcount(f, "join.test", T_AAAA), 1);
	/* the joined answer is held like any other */
	assert_int_equal(resolve_one(f, "join.test", late), 1);
	assert_same_addrs(&res[0], late);
	stats(f, &st);
	assert_int_equal(st.lookups, 1);
	assert_int_equal(st.joined, 19);
	assert_int_equal(st.hits, 1);
	assert_int_equal(f->rs.total, 2);
}

/*
 * Cancelled joined requests never see their callback, whoever started the
 * lookup; the others get theirs.  A lookup after the answer (answered from
 * the server with TTL 0) proves the loop went past the cancelled ones.
 */
static void
test_join_cancel(void **state)
{
	static const int cancel[6] = { 1, 0, 0, 1, 0, 1 };
	struct fixture *f = *state;
	struct result *res = f->res, *sent = &f->res[6];
	struct resolve_req *q[6];
	struct resolve_stats st;
	size_t i;

	f->done = 0;
	for (i = 0; i < 6; i++) {
		q[i] = start(f, "cancel.test", &res[i]);
		assert_non_null(q[i]);
	}
	/* the first one (which started the lookup), one in the middle and
	 * the last */
	for (i = 0; i < 6; i++)
		if (cancel[i])
			resolve_cancel(q[i]);
	resolve_cancel(NULL);
	wait_callbacks(f, 3);
	/* the answers are in: one more lookup through the loop */
	assert_int_equal(resolve_one(f, "sentinel.test", sent), 0);
	for (i = 0; i < 6; i++) {
		if (cancel[i]) {
			assert_int_equal(res[i].calls, 0);
			continue;
		}
		assert_answer(&res[i], "198.51.100.21", "2001:db8::21");
	}
	assert_int_equal(qcount(f, "cancel.test", T_A), 1);
	assert_int_equal(qcount(f, "cancel.test", T_AAAA), 1);
	stats(f, &st);
	assert_int_equal(st.joined, 5);
	assert_int_equal(st.lookups, 2);
}

/* Every request of a lookup cancelled: no callback at all, nothing breaks
 * (under the sanitizers), and the name still resolves afterwards. */
static void
test_join_cancel_all(void **state)
{
	struct fixture *f = *state;
	struct result *res = f->res, *sent = &f->res[4], *after = &f->res[5];
	struct resolve_req *q[4];
	size_t i;

	f->done = 0;
	for (i = 0; i < 4; i++) {
		q[i] = start(f, "cancel.test", &res[i]);
		assert_non_null(q[i]);
	}
	for (i = 0; i < 4; i++)
		resolve_cancel(q[i]);
	wait_queries(f, 2);
	assert_int_equal(resolve_one(f, "sentinel.test", sent), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(res[i].calls, 0);
	/* held or asked again: either way one answer, the right one */
	resolve_one(f, "cancel.test", after);
	assert_answer(after, "198.51.100.21", "2001:db8::21");
	for (i = 0; i < 4; i++)
		assert_int_equal(res[i].calls, 0);
}

/* NXDOMAIN, SERVFAIL and an answer without an address: status -1 to every
 * joined request, and never held. */
static void
test_failures_not_cached(void **state)
{
	static const char *names[] = { "nx.test", "fail.test", "empty.test",
	    "unknown.test" };
	struct fixture *f = *state;
	struct result *res = f->res;
	struct resolve_stats st;
	unsigned a1, aaaa1;
	size_t i, k, round;

	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		a1 = aaaa1 = 0;
		for (round = 1; round <= 2; round++) {
			f->done = 0;
			for (i = 0; i < 3; i++)
				assert_non_null(start(f, names[k], &res[i]));
			wait_callbacks(f, 3);
			for (i = 0; i < 3; i++) {
				assert_int_equal(res[i].calls, 1);
				assert_int_equal(res[i].status, -1);
				assert_int_equal(res[i].n, 0);
				assert_non_null(res[i].reason);
			}
			if (round == 1) {
				a1 = qcount(f, names[k], T_A);
				aaaa1 = qcount(f, names[k], T_AAAA);
				assert_true(a1 >= 1 && aaaa1 >= 1);
			}
		}
		/* the second round asked the server as much as the first */
		assert_int_equal(qcount(f, names[k], T_A), 2 * a1);
		assert_int_equal(qcount(f, names[k], T_AAAA), 2 * aaaa1);
	}
	stats(f, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.lookups, 2 * k);
	assert_int_equal(st.joined, 2 * 2 * k);
	assert_int_equal(st.cached, 0);
}

/*
 * Expiry, with one wait of 1.2 s: a TTL of 1 s runs out; so does an alias
 * whose CNAME lasts 1 s while its address lasts 60 s (the lower TTL caps
 * the time); TTL 60 answers, with and without a CNAME, are still held.
 */
static void
test_ttl_expiry(void **state)
{
	static const struct {
		const char *name, *v4, *v6;
		int expires;
	} t[] = {
		{ "short.test", "198.51.100.41", "2001:db8::41", 1 },
		{ "alias.test", "198.51.100.42", "2001:db8::42", 1 },
		{ "long.test", "198.51.100.60", "2001:db8::60", 0 },
		{ "alias60.test", "198.51.100.43", "2001:db8::43", 0 },
	};
	const size_t nt = sizeof(t) / sizeof(t[0]);
	struct fixture *f = *state;
	struct result *res = f->res, *again = &f->res[4];
	struct resolve_stats st;
	size_t i;

	f->done = 0;
	for (i = 0; i < nt; i++)
		assert_non_null(start(f, t[i].name, &res[i]));
	wait_callbacks(f, nt);
	for (i = 0; i < nt; i++)
		assert_answer(&res[i], t[i].v4, t[i].v6);
	/* at once: all held (the 1 s ones too) */
	for (i = 0; i < nt; i++) {
		assert_int_equal(resolve_one(f, t[i].name, again), 1);
		assert_same_addrs(&res[i], again);
	}
	assert_int_equal(f->rs.total, 2 * nt);

	run_for(f, 1200);

	for (i = 0; i < nt; i++) {
		assert_int_equal(resolve_one(f, t[i].name, again),
		    !t[i].expires);
		assert_answer(again, t[i].v4, t[i].v6);
		assert_int_equal(qcount(f, t[i].name, T_A),
		    t[i].expires ? 2 : 1);
		assert_int_equal(qcount(f, t[i].name, T_AAAA),
		    t[i].expires ? 2 : 1);
	}
	stats(f, &st);
	assert_int_equal(st.lookups, nt + 2);
	assert_int_equal(st.hits, nt + 2);
}

static void
many_name(char *buf, size_t size, long i)
{
	snprintf(buf, size, "n%ld.many.test", i);
}

static void
assert_many_answer(const struct result *res, long i)
{
	char v4[32], v6[64];

	many_addrs(i, v4, sizeof(v4), v6, sizeof(v6));
	assert_answer(res, v4, v6);
}

/*
 * LIMIT_RESOLVE_CACHE + 10 names one after the other: never more than the
 * limit held; the least recently used go first (name 1, used again when
 * the cache was full, stays; names 0 and 2..10 go).
 */
static void
test_evict_lru(void **state)
{
	const long total = LIMIT_RESOLVE_CACHE + 10;
	struct fixture *f = *state;
	struct result *res = f->res;
	struct resolve_stats st;
	char name[64];
	long i;

	for (i = 0; i < total; i++) {
		many_name(name, sizeof(name), i);
		assert_int_equal(resolve_one(f, name, res), 0);
		assert_many_answer(res, i);
		stats(f, &st);
		assert_true(st.cached <= LIMIT_RESOLVE_CACHE);
		assert_int_equal(st.cached,
		    (size_t)(i + 1 < LIMIT_RESOLVE_CACHE ? i + 1 :
		    LIMIT_RESOLVE_CACHE));
		if (i == LIMIT_RESOLVE_CACHE - 1) {
			/* full: using name 1 makes it the most recent */
			many_name(name, sizeof(name), 1);
			assert_int_equal(resolve_one(f, name, res), 1);
			assert_many_answer(res, 1);
		}
	}
	stats(f, &st);
	assert_int_equal(st.lookups, (uint64_t)total);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.cached, LIMIT_RESOLVE_CACHE);

	/* still held: the last, name 1, and name 11 (the oldest left) */
	many_name(name, sizeof(name), total - 1);
	assert_int_equal(resolve_one(f, name, res), 1);
	assert_many_answer(res, total - 1);
	many_name(name, sizeof(name), 1);
	assert_int_equal(resolve_one(f, name, res), 1);
	many_name(name, sizeof(name), 11);
	assert_int_equal(resolve_one(f, name, res), 1);
	assert_many_answer(res, 11);
	assert_int_equal(f->rs.total, 2 * (unsigned long)total);
	/* gone: name 0 and name 10 reach the server again */
	many_name(name, sizeof(name), 0);
	assert_int_equal(resolve_one(f, name, res), 0);
	assert_many_answer(res, 0);
	assert_int_equal(qcount(f, name, T_A), 2);
	assert_int_equal(qcount(f, name, T_AAAA), 2);
	many_name(name, sizeof(name), 10);
	assert_int_equal(resolve_one(f, name, res), 0);
	assert_int_equal(qcount(f, name, T_A), 2);
	stats(f, &st);
	assert_int_equal(st.cached, LIMIT_RESOLVE_CACHE);
	assert_int_equal(st.lookups, (uint64_t)total + 2);
	assert_int_equal(st.hits, 4);
}

/*
 * Every slot a lookup in flight: LIMIT_RESOLVE_CACHE names wait on a server
 * that holds its answers, 5 more are looked up anyway (uncached) and every
 * one of them gets its answer.
 */
static void
test_limit_in_flight(void **state)
{
	const long total = LIMIT_RESOLVE_CACHE + 5;
	struct fixture *f = *state;
	struct result *res = f->res, *again = &f->res[RESULTS - 1];
	struct resolve_stats st;
	char name[64];
	long i;

	f->rs.is_holding = 1;
	f->done = 0;
	for (i = 0; i < total; i++) {
		many_name(name, sizeof(name), i);
		assert_non_null(start(f, name, &res[i]));
		/* let the server take each batch in, answering none */
		if (i % 64 == 63 || i == total - 1)
			wait_queries(f, 2 * (unsigned long)(i + 1));
		stats(f, &st);
		assert_true(st.cached <= LIMIT_RESOLVE_CACHE);
	}
	assert_int_equal(f->done, 0);
	stats(f, &st);
	assert_int_equal(st.lookups, (uint64_t)total);
	assert_int_equal(st.joined, 0);
	assert_int_equal(st.cached, LIMIT_RESOLVE_CACHE);

	responder_release(&f->rs);
	wait_callbacks(f, (unsigned long)total);
	for (i = 0; i < total; i++)
		assert_many_answer(&res[i], i);
	stats(f, &st);
	assert_true(st.cached <= LIMIT_RESOLVE_CACHE);
	assert_int_equal(f->rs.total, 2 * (unsigned long)total);

	/* a name that had a slot is held; one looked up past the limit
	 * was not */
	many_name(name, sizeof(name), 0);
	assert_int_equal(resolve_one(f, name, again), 1);
	assert_many_answer(again, 0);
	many_name(name, sizeof(name), total - 1);
	assert_int_equal(resolve_one(f, name, again), 0);
	assert_many_answer(again, total - 1);
	assert_int_equal(qcount(f, name, T_A), 2);
}

/* Raw queries (the DNS-over-HTTPS endpoint) are neither held nor joined,
 * and they do not fill the cache of resolve_start. */

static void
raw_cb(void *arg, int status, int rcode, const unsigned char *msg,
    size_t len)
{
	struct raw_result *rr = arg;

	(void)rcode;
	(void)msg;
	rr->calls++;
	rr->status = status;
	rr->len = len;
	rr->f->done++;
	fixture_poke(rr->f);
}

static void
test_raw_not_cached(void **state)
{
	struct fixture *f = *state;
	struct raw_result *rr = f->raw;
	struct result *res = f->res;
	struct resolve_stats st;
	size_t i;

	/* two at once, then one more: three queries reach the server */
	f->done = 0;
	for (i = 0; i < 2; i++) {
		rr[i].f = f;
		assert_non_null(resolve_query_raw(f->r, "raw.test", T_A,
		    raw_cb, &rr[i]));
	}
	wait_callbacks(f, 2);
	assert_int_equal(qcount(f, "raw.test", T_A), 2);
	f->done = 0;
	rr[2].f = f;
	assert_non_null(resolve_query_raw(f->r, "raw.test", T_A, raw_cb,
	    &rr[2]));
	wait_callbacks(f, 1);
	for (i = 0; i < 3; i++) {
		assert_int_equal(rr[i].calls, 1);
		assert_int_equal(rr[i].status, 0);
		assert_true(rr[i].len > 12);
	}
	assert_int_equal(qcount(f, "raw.test", T_A), 3);
	/* nothing held for resolve_start either */
	assert_int_equal(resolve_one(f, "raw.test", res), 0);
	assert_answer(res, "198.51.100.22", "2001:db8::22");
	assert_int_equal(qcount(f, "raw.test", T_A), 4);
	/* and a name held by resolve_start is still asked raw */
	assert_int_equal(resolve_one(f, "raw.test", res), 1);
	f->done = 0;
	memset(&rr[0], 0, sizeof(rr[0]));
	rr[0].f = f;
	assert_non_null(resolve_query_raw(f->r, "raw.test", T_A, raw_cb,
	    &rr[0]));
	wait_callbacks(f, 1);
	assert_int_equal(qcount(f, "raw.test", T_A), 5);
	stats(f, &st);
	assert_int_equal(st.lookups, 1);
	assert_int_equal(st.joined, 0);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.cached, 1);
}

/*
 * TTLs around the cap, LIMIT_RESOLVE_CACHE_TTL_MS, with the clock moved
 * instead of waited for: an answer is held until min(TTL, cap) after it
 * came (still held 1 s before) and not from then on, whatever its TTL
 * (one second under the cap, at it, one past, 3600, through a CNAME of
 * TTL 3600); a TTL with the top bit set counts as 0 and is not held.
 * After the time ran out the server is asked again and the new answer is
 * held anew.
 */
static void
test_ttl_cap(void **state)
{
	static const struct {
		const char *name, *v4, *v6;
		int64_t kept_ms; /* 0: not held */
	} t[] = {
		{ "below.cap.test", "198.51.100.71", "2001:db8::71",
		    (CAP_S - 1) * 1000 },
		{ "at.cap.test", "198.51.100.72", "2001:db8::72",
		    LIMIT_RESOLVE_CACHE_TTL_MS },
		{ "past.cap.test", "198.51.100.73", "2001:db8::73",
		    LIMIT_RESOLVE_CACHE_TTL_MS },
		{ "far.cap.test", "198.51.100.74", "2001:db8::74",
		    LIMIT_RESOLVE_CACHE_TTL_MS },
		{ "alias.cap.test", "198.51.100.75", "2001:db8::75",
		    LIMIT_RESOLVE_CACHE_TTL_MS },
		{ "msb.cap.test", "198.51.100.76", "2001:db8::76", 0 },
	};
	const size_t nt = sizeof(t) / sizeof(t[0]);
	struct fixture *f = *state;
	struct result *a = &f->res[0], *b = &f->res[1];
	struct resolve_stats st;
	uint64_t lookups = 0, hits = 0;
	int64_t t0;
	size_t i;

	for (i = 0; i < nt; i++) {
		assert_int_equal(resolve_one(f, t[i].name, a), 0);
		assert_answer(a, t[i].v4, t[i].v6);
		lookups++;
		t0 = a->at_ms;
		if (t[i].kept_ms > 0) {
			/* a second before the end: held */
			clock_skip_to(f, t0 + t[i].kept_ms - 1000);
			assert_true(ev_now(f->ev) < t0 + t[i].kept_ms);
			assert_int_equal(resolve_one(f, t[i].name, b), 1);
			assert_same_addrs(a, b);
			hits++;
			assert_int_equal(qcount(f, t[i].name, T_A), 1);
			assert_int_equal(qcount(f, t[i].name, T_AAAA), 1);
		}
		/* at the end: asked again */
		clock_skip_to(f, t0 + t[i].kept_ms);
		assert_int_equal(resolve_one(f, t[i].name, b), 0);
		assert_answer(b, t[i].v4, t[i].v6);
		lookups++;
		assert_int_equal(qcount(f, t[i].name, T_A), 2);
		assert_int_equal(qcount(f, t[i].name, T_AAAA), 2);
		/* and the new answer held (or not) like the first */
		assert_int_equal(resolve_one(f, t[i].name, a),
		    t[i].kept_ms > 0);
		assert_answer(a, t[i].v4, t[i].v6);
		if (t[i].kept_ms > 0)
			hits++;
		else
			lookups++;
		assert_int_equal(qcount(f, t[i].name, T_A),
		    t[i].kept_ms > 0 ? 2 : 3);
		stats(f, &st);
		assert_int_equal(st.lookups, lookups);
		assert_int_equal(st.hits, hits);
		assert_int_equal(st.joined, 0);
	}
}

/*
 * A server that never answers: the lookup (two requests, one joined) ends
 * with status -1 once c-ares' tries have timed out, and nothing is held:
 * a second round asks the server as much as the first, again through the
 * server and not from the cache.
 */
static void
test_timeout_not_cached(void **state)
{
	struct fixture *f = *state;
	struct result *res = f->res;
	struct resolve_stats st;
	unsigned a1 = 0, aaaa1 = 0;
	size_t i, round;

	for (round = 1; round <= 2; round++) {
		f->done = 0;
		for (i = 0; i < 2; i++)
			assert_non_null(start(f, "silent.test", &res[i]));
		stats(f, &st);
		assert_int_equal(st.lookups, round);
		assert_int_equal(st.joined, round);
		assert_int_equal(st.cached, 1); /* in flight */
		wait_callbacks_skipping(f, 2);
		for (i = 0; i < 2; i++) {
			assert_int_equal(res[i].calls, 1);
			assert_int_equal(res[i].status, -1);
			assert_int_equal(res[i].n, 0);
			assert_int_equal(res[i].is_sync, 0);
			assert_non_null(res[i].reason);
			assert_non_null(strstr(res[i].reason, "timed out"));
		}
		stats(f, &st);
		assert_int_equal(st.cached, 0);
		assert_int_equal(st.hits, 0);
		if (round == 1) {
			a1 = qcount(f, "silent.test", T_A);
			aaaa1 = qcount(f, "silent.test", T_AAAA);
			assert_true(a1 >= 1 && aaaa1 >= 1);
		}
	}
	assert_int_equal(qcount(f, "silent.test", T_A), 2 * a1);
	assert_int_equal(qcount(f, "silent.test", T_AAAA), 2 * aaaa1);
}

/* A name of len characters under suffix, labels of up to 63. */
static void
big_name_under(char *buf, size_t size, size_t len, const char *suffix)
{
	size_t body, w;

	assert_true(len < size && len > strlen(suffix));
	body = len - strlen(suffix);
	/* every 64th character a dot, never the last */
	for (w = 0; w < body; w++)
		buf[w] = (w % 64 == 63 && w + 1 < body) ? '.' :
		    (char)('a' + (w / 64) % 26);
	snprintf(buf + w, size - w, "%s", suffix);
	assert_int_equal(strlen(buf), len);
}

/* A name of len characters under BIG_SUFFIX. */
static void
big_name(char *buf, size_t size, size_t len)
{
	big_name_under(buf, size, len, BIG_SUFFIX);
}

/*
 * Names at the length of the cache key: LIMIT_HOSTNAME characters (the
 * longest name) are held; the same name with a trailing dot (a valid name,
 * one character longer) does not fit the key: it resolves, each time
 * through the server, never counted as a hit nor held.  Past it (a name
 * longer than DNS allows) the lookup fails without a query.
 */
static void
test_long_name_bypass(void **state)
{
	struct fixture *f = *state;
	struct result *res = f->res;
	struct resolve_stats st;
	char name[LIMIT_HOSTNAME + 8], dotted[LIMIT_HOSTNAME + 9];
	unsigned long total;
	int round;

	big_name(name, sizeof(name), LIMIT_HOSTNAME);
	snprintf(dotted, sizeof(dotted), "%s.", name);
	assert_int_equal(strlen(dotted), LIMIT_HOSTNAME + 1);

	/* one past the key: through the server every time */
	for (round = 1; round <= 2; round++) {
		f->done = 0;
		assert_non_null(start(f, dotted, res));
		stats(f, &st);
		assert_int_equal(st.cached, 0); /* not even in flight */
		wait_callbacks(f, 1);
		assert_answer(res, BIG_V4, BIG_V6);
		assert_int_equal(res->is_sync, 0);
		assert_int_equal(qcount(f, name, T_A), (unsigned)round);
		assert_int_equal(qcount(f, name, T_AAAA), (unsigned)round);
		stats(f, &st);
		assert_int_equal(st.hits, 0);
		assert_int_equal(st.joined, 0);
		assert_int_equal(st.lookups, (uint64_t)round);
		assert_int_equal(st.cached, 0);
	}

	/* at the key's length: held */
	assert_int_equal(resolve_one(f, name, res), 0);
	assert_answer(res, BIG_V4, BIG_V6);
	assert_int_equal(resolve_one(f, name, res), 1);
	assert_answer(res, BIG_V4, BIG_V6);
	assert_int_equal(qcount(f, name, T_A), 3);
	stats(f, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.lookups, 3);
	assert_int_equal(st.cached, 1);

	/* too long for DNS (256 bytes on the wire): fails, no query */
	big_name(name, sizeof(name), LIMIT_HOSTNAME + 1);
	total = f->rs.total;
	resolve_one(f, name, res);
	assert_int_equal(res->calls, 1);
	assert_int_equal(res->status, -1);
	assert_non_null(res->reason);
	assert_int_equal(f->rs.total, total);
	stats(f, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.cached, 1);
}

/* ---- one family late or never (RFC 8305 section 3) ---- */

/* Can this host route to the literal?  (A UDP connect(), as the resolver
 * and c-ares ask.) */
static int
routable(const char *lit)
{
	struct sockaddr_storage ss;
	struct netaddr a;
	unsigned int len;
	int fd, ok;

	assert_int_equal(netaddr_parse_literal(lit, strlen(lit), &a), 0);
	netaddr_to_sockaddr(&a, 9, &ss, &len);
	fd = socket(a.family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return 0;
	ok = connect(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return ok;
}

/* Status 0 with exactly the addresses first, second (second may be
 * NULL), in this order. */
static void
assert_answer_order(const struct result *res, const char *first,
    const char *second)
{
	struct netaddr want;

	assert_int_equal(res->calls, 1);
	assert_int_equal(res->status, 0);
	assert_int_equal(res->n, second != NULL ? 2 : 1);
	assert_int_equal(netaddr_parse_literal(first, strlen(first), &want),
	    0);
	assert_true(addr_equal(&res->addrs[0], &want));
	if (second == NULL)
		return;
	assert_int_equal(netaddr_parse_literal(second, strlen(second), &want),
	    0);
	assert_true(addr_equal(&res->addrs[1], &want));
}

/*
 * Resolve name from the cache (synchronously) until its answer has n
 * addresses: a late family is added when its answer has been read, in a
 * turn of the loop after it was sent.  At most WAIT_MS.
 */
static void
wait_cached_addrs(struct fixture *f, const char *name, struct result *res,
    size_t n)
{
	int i;

	for (i = 0; i < WAIT_MS / 10; i++) {
		assert_int_equal(resolve_one(f, name, res), 1);
		if (res->n == n)
			return;
		run_for(f, 10);
	}
	fail_msg("%s: %zu addresses, not %zu", name, res->n, n);
}

/*
 * A resolver that never answers one type of query (a middlebox dropping
 * AAAA, or A): the answer comes with the other family's address once the
 * resolution delay has run out, far sooner than c-ares' first retry (2 s),
 * without moving the clock; it is kept, and answered from the cache.
 */
static void
test_family_dropped(void **state)
{
	static const struct {
		const char *name, *v4, *v6;
		uint16_t dropped;
	} t[] = {
		{ "noaaaa.test", "198.51.100.91", NULL, T_AAAA },
		{ "noa.test", NULL, "2001:db8::92", T_A },
	};
	const size_t nt = sizeof(t) / sizeof(t[0]);
	struct fixture *f = *state;
	struct result *a = &f->res[0], *b = &f->res[1];
	struct resolve_stats st;
	int64_t t0;
	size_t i;

	for (i = 0; i < nt; i++) {
		t0 = clock_now_ms();
		assert_int_equal(resolve_one(f, t[i].name, a), 0);
		assert_answer(a, t[i].v4, t[i].v6);
		assert_true(a->at_ms - t0 >= LIMIT_DNS_RESOLUTION_DELAY_MS);
		assert_true(a->at_ms - t0 < 1000);
		assert_int_equal(qcount(f, t[i].name, T_A), 1);
		assert_int_equal(qcount(f, t[i].name, T_AAAA), 1);
		/* kept: from the cache, the same answer */
		assert_int_equal(resolve_one(f, t[i].name, b), 1);
		assert_same_addrs(a, b);
		assert_int_equal(qcount(f, t[i].name, T_A), 1);
		assert_int_equal(qcount(f, t[i].name, T_AAAA), 1);
		stats(f, &st);
		assert_int_equal(st.lookups, i + 1);
		assert_int_equal(st.hits, i + 1);
		assert_int_equal(st.cached, i + 1);
	}
	/* the dropped lookups are still pending: resolver_free ends them */
}

/*
 * One family answers after the resolution delay: the first caller gets
 * the other family alone (a cancelled joined request nothing); the late
 * answer, once read, joins the kept answer, in the resolver's order (IPv6
 * first when this host routes ::1), without a query more.
 */
static void
test_family_late(void **state)
{
	static const struct {
		const char *name, *v4, *v6;
		uint16_t late;
	} t[] = {
		{ "late6.test", "127.0.0.93", "::1", T_AAAA },
		{ "late4.test", "127.0.0.94", "::1", T_A },
	};
	const size_t nt = sizeof(t) / sizeof(t[0]);
	struct fixture *f = *state;
	struct result *a = &f->res[0], *c = &f->res[1], *b = &f->res[2];
	struct resolve_req *qc;
	struct resolve_stats st;
	int v6first = routable("::1");
	int64_t t0;
	size_t i;

	for (i = 0; i < nt; i++) {
		f->done = 0;
		t0 = clock_now_ms();
		assert_non_null(start(f, t[i].name, a));
		qc = start(f, t[i].name, c);
		assert_non_null(qc);
		resolve_cancel(qc);
		wait_callbacks(f, 1);
		assert_true(a->at_ms - t0 >= LIMIT_DNS_RESOLUTION_DELAY_MS);
		assert_true(a->at_ms - t0 < 1000);
		if (t[i].late == T_AAAA)
			assert_answer(a, t[i].v4, NULL);
		else
			assert_answer(a, NULL, t[i].v6);
		assert_int_equal(c->calls, 0);

		assert_int_equal(responder_send_late(&f->rs), 1);
		wait_cached_addrs(f, t[i].name, b, 2);
		if (v6first)
			assert_answer_order(b, t[i].v6, t[i].v4);
		else
			assert_answer_order(b, t[i].v4, t[i].v6);
		/* one delivery to the first caller, none to the cancelled */
		assert_int_equal(a->calls, 1);
		assert_int_equal(c->calls, 0);
		assert_int_equal(qcount(f, t[i].name, T_A), 1);
		assert_int_equal(qcount(f, t[i].name, T_AAAA), 1);
		stats(f, &st);
		assert_int_equal(st.lookups, i + 1);
		assert_int_equal(st.joined, i + 1);
	}
}

/*
 * Both families answer at once: one delivery with both addresses, with
 * the clock stopped (so no timer was waited for), in the resolver's order:
 * an address the host cannot route to last (fe80::1 without an interface,
 * the broadcast address), IPv6 before IPv4 otherwise.
 */
static void
test_both_quick(void **state)
{
	static const struct {
		const char *name, *v4, *v6;
	} t[] = {
		{ "quick.test", "127.0.0.98", "::1" },
		{ "unroutable6.test", "127.0.0.99", "fe80::1" },
		{ "unroutable4.test", "255.255.255.255", "::1" },
	};
	const size_t nt = sizeof(t) / sizeof(t[0]);
	struct fixture *f = *state;
	struct result *a = &f->res[0], *b = &f->res[1];
	int64_t t0;
	size_t i;

	assert_false(routable("fe80::1"));
	assert_false(routable("255.255.255.255"));
	for (i = 0; i < nt; i++) {
		f->done = 0;
		t0 = clock_freeze();
		assert_non_null(start(f, t[i].name, a));
		f->target = 1;
		assert_int_equal(run_frozen_until(f, cond_done, WAIT_MS), 0);
		clock_thaw();
		assert_int_equal(a->calls, 1);
		assert_int_equal(a->at_ms, t0);
		/* unroutable6: IPv4 first; unroutable4: IPv6 first (::1 is
		 * routable or both are not) */
		if (routable(t[i].v6) || !routable(t[i].v4))
			assert_answer_order(a, t[i].v6, t[i].v4);
		else
			assert_answer_order(a, t[i].v4, t[i].v6);
		/* kept in that order */
		assert_int_equal(resolve_one(f, t[i].name, b), 1);
		assert_same_addrs(a, b);
	}
}

/*
 * One family without an address (NXDOMAIN for one type, NODATA) and the
 * other with one: answered as soon as both are in, with the clock stopped
 * (no resolution delay).  Then with one of them late: the family without
 * an address first (no delay is started: nothing goes out before the
 * other), or the one with an address first (the delay is running; the
 * answer without an address ends the wait).
 */
static void
test_no_address_family(void **state)
{
	static const struct {
		const char *name, *v4, *v6;
		int is_late;
	} t[] = {
		{ "nx6.test", "198.51.100.101", NULL, 0 },
		{ "nodata6.test", "198.51.100.102", NULL, 0 },
		{ "nodata4.test", NULL, "2001:db8::103", 0 },
		{ "late4.nodata6.test", "198.51.100.104", NULL, 1 },
		{ "late6.nodata6.test", "198.51.100.105", NULL, 1 },
		{ "late4.nx6.test", "198.51.100.106", NULL, 1 },
	};
	const size_t nt = sizeof(t) / sizeof(t[0]);
	struct fixture *f = *state;
	struct result *a = &f->res[0], *b = &f->res[1];
	int64_t t0;
	size_t i;

	for (i = 0; i < nt; i++) {
		f->done = 0;
		t0 = clock_freeze();
		assert_non_null(start(f, t[i].name, a));
		if (t[i].is_late) {
			f->target = f->rs.total + 2;
			assert_int_equal(run_frozen_until(f, cond_queries,
			    WAIT_MS), 0);
			/* the prompt answer read; the other one held */
			assert_int_equal(run_frozen_until(f, NULL, 50), -1);
			assert_int_equal(a->calls, 0);
			assert_int_equal(responder_send_late(&f->rs), 1);
		}
		f->target = 1;
		assert_int_equal(run_frozen_until(f, cond_done, WAIT_MS), 0);
		clock_thaw();
		assert_answer(a, t[i].v4, t[i].v6);
		assert_int_equal(a->at_ms, t0);
		assert_int_equal(qcount(f, t[i].name, T_A), 1);
		assert_int_equal(qcount(f, t[i].name, T_AAAA), 1);
		assert_int_equal(resolve_one(f, t[i].name, b), 1);
		assert_same_addrs(a, b);
	}
}

/*
 * The entry of a name goes while its late family is still pending: first
 * stale (TTL 1 s: the clock moved past it; the name is looked up anew),
 * then evicted (LIMIT_RESOLVE_CACHE other names looked up).  The late
 * answers come after that: nothing breaks (under the sanitizers), the
 * answer of the old lookup goes nowhere, the new lookup's joins its own
 * answer.  The last lookup is left pending for resolver_free.
 */
static void
test_late_after_drop(void **state)
{
	const long total = LIMIT_RESOLVE_CACHE;
	struct fixture *f = *state;
	struct result *res = f->res, *a = &f->res[RESULTS - 2],
	    *b = &f->res[RESULTS - 1];
	struct resolve_stats st;
	char name[64];
	unsigned long q0;
	long i;

	/* stale */
	assert_int_equal(resolve_one(f, "short.late6.test", a), 0);
	assert_answer(a, "127.0.0.95", NULL);
	clock_skip_to(f, a->at_ms + 1000);
	assert_int_equal(resolve_one(f, "short.late6.test", a), 0);
	assert_answer(a, "127.0.0.95", NULL);
	assert_int_equal(qcount(f, "short.late6.test", T_A), 2);
	assert_int_equal(qcount(f, "short.late6.test", T_AAAA), 2);
	assert_int_equal(responder_send_late(&f->rs), 2);
	wait_cached_addrs(f, "short.late6.test", b, 2);
	assert_true(result_has(b, "127.0.0.95") && result_has(b, "::1"));

	/* evicted */
	assert_int_equal(resolve_one(f, "evict.late6.test", a), 0);
	assert_answer(a, "127.0.0.96", NULL);
	f->done = 0;
	q0 = f->rs.total;
	for (i = 0; i < total; i++) {
		many_name(name, sizeof(name), i);
		assert_non_null(start(f, name, &res[i]));
		if (i % 64 == 63 || i == total - 1)
			wait_queries(f, q0 + 2 * (unsigned long)(i + 1));
	}
	wait_callbacks(f, (unsigned long)total);
	for (i = 0; i < total; i++)
		assert_many_answer(&res[i], i);
	stats(f, &st);
	assert_int_equal(st.cached, LIMIT_RESOLVE_CACHE);
	assert_int_equal(responder_send_late(&f->rs), 1);
	run_for(f, 50);
	/* gone from the cache: asked again, answered again without IPv6 */
	assert_int_equal(resolve_one(f, "evict.late6.test", a), 0);
	assert_answer(a, "127.0.0.96", NULL);
	assert_int_equal(qcount(f, "evict.late6.test", T_A), 2);
	assert_int_equal(qcount(f, "evict.late6.test", T_AAAA), 2);
	stats(f, &st);
	assert_int_equal(st.cached, LIMIT_RESOLVE_CACHE);
}

/*
 * resolver_free with lookups pending: an answered name whose AAAA was
 * dropped (nothing more for its caller), a name inside its resolution
 * delay (the clock stopped: its caller gets the IPv4 answer now), a name
 * nobody answers (its caller gets a failure).  Afterwards the loop runs
 * on with no timer of the resolver left in it (the sanitizers watch).
 */
static void
test_free_pending(void **state)
{
	struct fixture *f = *state;
	struct result *a = &f->res[0], *b = &f->res[1], *c = &f->res[2];

	assert_int_equal(resolve_one(f, "noaaaa.test", a), 0);
	assert_answer(a, "198.51.100.91", NULL);
	f->done = 0;
	clock_freeze();
	assert_non_null(start(f, "free.late6.test", b));
	assert_non_null(start(f, "silent.test", c));
	f->target = f->rs.total + 4;
	assert_int_equal(run_frozen_until(f, cond_queries, WAIT_MS), 0);
	assert_int_equal(run_frozen_until(f, NULL, 50), -1);
	assert_int_equal(b->calls, 0);
	assert_int_equal(c->calls, 0);

	resolver_free(f->r);
	f->r = NULL;
	clock_thaw();
	assert_int_equal(a->calls, 1);
	assert_answer(b, "127.0.0.97", NULL);
	assert_int_equal(c->calls, 1);
	assert_int_equal(c->status, -1);
	assert_non_null(c->reason);
	run_for(f, 2 * LIMIT_DNS_RESOLUTION_DELAY_MS);
	assert_int_equal(f->done, 2);
}

/*
 * A name too long for the cache's key whose AAAA is dropped: answered
 * with its IPv4 address after the delay, looked up again each time.
 */
static void
test_long_name_dropped(void **state)
{
	struct fixture *f = *state;
	struct result *res = f->res;
	struct resolve_stats st;
	char name[LIMIT_HOSTNAME + 8], dotted[LIMIT_HOSTNAME + 9];
	int64_t t0;
	int round;

	big_name_under(name, sizeof(name), LIMIT_HOSTNAME, ".noaaaa.big.test");
	snprintf(dotted, sizeof(dotted), "%s.", name);
	for (round = 1; round <= 2; round++) {
		t0 = clock_now_ms();
		assert_int_equal(resolve_one(f, dotted, res), 0);
		assert_answer(res, BIG_V4, NULL);
		assert_true(res->at_ms - t0 >= LIMIT_DNS_RESOLUTION_DELAY_MS);
		assert_true(res->at_ms - t0 < 1000);
		assert_int_equal(qcount(f, name, T_A), (unsigned)round);
		stats(f, &st);
		assert_int_equal(st.lookups, (uint64_t)round);
		assert_int_equal(st.hits, 0);
		assert_int_equal(st.cached, 0);
	}
}

/* Run the loop until the resolver holds n names; at most WAIT_MS. */
static void
wait_cached_count(struct fixture *f, size_t n)
{
	struct resolve_stats st;
	int i;

	stats(f, &st);
	for (i = 0; i < WAIT_MS / 10 && st.cached != n; i++) {
		run_for(f, 10);
		stats(f, &st);
	}
	assert_int_equal(st.cached, n);
}

/*
 * The TTL of an answer a late family joined: the lower of the two.  A
 * late AAAA of TTL 1 s after an A of 30 s: gone 1 s after it came; of
 * TTL 0: the answer is dropped when it comes; of 30 s after an A of 1 s:
 * gone 1 s after the A came.  Each name is then asked again.
 */
static void
test_late_ttl(void **state)
{
	enum { GONE_AFTER_LATE, GONE_AT_ONCE, GONE_AFTER_FIRST };
	static const struct {
		const char *name, *v4;
		int gone;
	} t[] = {
		{ "ttl1.late6.test", "127.0.0.108", GONE_AFTER_LATE },
		{ "ttl0.late6.test", "127.0.0.109", GONE_AT_ONCE },
		{ "ttl30.late6.test", "127.0.0.110", GONE_AFTER_FIRST },
	};
	const size_t nt = sizeof(t) / sizeof(t[0]);
	struct fixture *f = *state;
	struct result *a = &f->res[0], *b = &f->res[1], *c = &f->res[2];
	struct resolve_stats st;
	size_t i, c0;

	for (i = 0; i < nt; i++) {
		stats(f, &st);
		c0 = st.cached;
		assert_int_equal(resolve_one(f, t[i].name, a), 0);
		assert_answer(a, t[i].v4, NULL);
		stats(f, &st);
		assert_int_equal(st.cached, c0 + 1);
		assert_int_equal(responder_send_late(&f->rs), 1);
		if (t[i].gone == GONE_AT_ONCE) {
			wait_cached_count(f, c0);
		} else {
			wait_cached_addrs(f, t[i].name, b, 2);
			assert_answer(b, t[i].v4, "::1");
			/* held until 1 s after the first answer at least */
			clock_skip_to(f, a->at_ms + 500);
			assert_int_equal(resolve_one(f, t[i].name, c), 1);
			assert_same_addrs(b, c);
			clock_skip_to(f, (t[i].gone == GONE_AFTER_FIRST ?
			    a->at_ms : b->at_ms) + 1000);
		}
		/* asked again: the same again */
		assert_int_equal(resolve_one(f, t[i].name, c), 0);
		assert_answer(c, t[i].v4, NULL);
		assert_int_equal(qcount(f, t[i].name, T_A), 2);
		assert_int_equal(qcount(f, t[i].name, T_AAAA), 2);
		assert_int_equal(responder_send_late(&f->rs), 1);
		if (t[i].gone == GONE_AT_ONCE)
			wait_cached_count(f, c0);
		else
			wait_cached_addrs(f, t[i].name, c, 2);
	}
}

/*
 * No address from either family, the reason as c-ares gives it for
 * AF_UNSPEC (the family that answered last): NXDOMAIN for A, AAAA dropped
 * until its tries time out: "timed out".  Not kept.
 */
static void
test_mixed_failure(void **state)
{
	struct fixture *f = *state;
	struct result *res = f->res;
	struct resolve_stats st;

	f->done = 0;
	assert_non_null(start(f, "nx4.drop6.test", res));
	wait_callbacks_skipping(f, 1);
	assert_int_equal(res->calls, 1);
	assert_int_equal(res->status, -1);
	assert_non_null(res->reason);
	assert_non_null(strstr(res->reason, "timed out"));
	stats(f, &st);
	assert_int_equal(st.cached, 0);
}

/* A name of /etc/hosts with IPv4 addresses only (not localhost), into
 * name; 0 when there is none. */
static int
hosts_v4_only_name(char *name, size_t size)
{
	char line[512], cand[64][64], *tok, *save;
	int is_v6[64] = { 0 }, is_v4[64] = { 0 };
	size_t ncand = 0, i;
	int v6, found = 0;
	FILE *fp;

	fp = fopen("/etc/hosts", "r");
	if (fp == NULL)
		return 0;
	while (fgets(line, sizeof(line), fp) != NULL) {
		line[strcspn(line, "#\n")] = '\0';
		tok = strtok_r(line, " \t", &save);
		if (tok == NULL)
			continue;
		v6 = strchr(tok, ':') != NULL;
		while ((tok = strtok_r(NULL, " \t", &save)) != NULL) {
			if (strlen(tok) >= sizeof(cand[0]) ||
			    strcasecmp(tok, "localhost") == 0 ||
			    strchr(tok, '.') == tok)
				continue;
			for (i = 0; i < ncand; i++)
				if (strcasecmp(cand[i], tok) == 0)
					break;
			if (i == ncand) {
				if (ncand == 64)
					continue;
				snprintf(cand[ncand++], sizeof(cand[0]), "%s",
				    tok);
			}
			if (v6)
				is_v6[i] = 1;
			else
				is_v4[i] = 1;
		}
	}
	fclose(fp);
	for (i = 0; i < ncand && !found; i++) {
		if (is_v4[i] && !is_v6[i]) {
			snprintf(name, size, "%s", cand[i]);
			found = 1;
		}
	}
	return found;
}

/*
 * A name the hosts file gives IPv4 addresses for (and the DNS server both
 * families): answered at once, synchronously, with the file's IPv4
 * addresses, as c-ares answers AF_UNSPEC from the file.  Neither family
 * is asked of the DNS server, then or later.
 */
static void
test_hosts_file(void **state)
{
	struct fixture *f = *state;
	struct result *a = &f->res[0], *b = &f->res[1];
	size_t i;
	int round;

	if (!hosts_v4_only_name(hosts_name, sizeof(hosts_name)))
		skip();
	for (round = 1; round <= 2; round++) {
		f->done = 0;
		assert_null(start(f, hosts_name, a));
		assert_int_equal(a->calls, 1);
		assert_int_equal(a->status, 0);
		assert_true(a->n >= 1);
		for (i = 0; i < a->n; i++)
			assert_int_equal(a->addrs[i].family, AF_INET);
		assert_false(result_has(a, HOSTS_V4));
		/* the server's AAAA answer (if asked) read by now */
		run_for(f, 2 * LIMIT_DNS_RESOLUTION_DELAY_MS);
		assert_int_equal(a->calls, 1);
		assert_int_equal(qcount(f, hosts_name, T_AAAA), 0);
	}
	/* the same answer, whether kept or not */
	resolve_one(f, hosts_name, b);
	assert_same_addrs(a, b);
	assert_int_equal(qcount(f, hosts_name, T_A), 0);
	hosts_name[0] = '\0';
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_hit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ttl_zero, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_join, setup, teardown),
		cmocka_unit_test_setup_teardown(test_join_cancel, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_join_cancel_all, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_failures_not_cached,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_ttl_expiry, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_evict_lru, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_limit_in_flight, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_raw_not_cached, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ttl_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_not_cached,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_name_bypass, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_family_dropped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_family_late, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_both_quick, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_no_address_family, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_late_after_drop, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_pending, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_long_name_dropped, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_late_ttl, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_mixed_failure, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_hosts_file, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
