/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_dns_stub.c - the DNS stub on loopback against a small DoH server
 * written here (a test double for the proxy's /slicer/dns-query endpoint,
 * which is tested end to end elsewhere), both on one ev loop.
 *
 * Checks: UDP and TCP answers with the client's IDs, the request the proxy
 * gets (method, path, content type, token, ID 0), cache hits (one request
 * for two queries, the client's question case kept), NXDOMAIN passed on and
 * never cached, the canary and HTTPS answered locally, TC for a large
 * answer over UDP and the whole answer over TCP, pipelined TCP queries,
 * parallel queries answered independently while one is slow, FORMERR and
 * silence for garbage, the reply's source address (pktinfo), the address
 * -> name map, 407 and an unreachable proxy giving SERVFAIL, the proxy
 * closing connections, the per-source bound, the query timeout.  The fake
 * also serves TLS (OpenSSL, a certificate made here) for the stub's TLS
 * link: answers, one handshake for many queries, an answer spanning TLS
 * records, a wrong CA refused at once, a handshake that never finishes
 * bounded by the connect deadline, reconnecting after the proxy closes.
 * And the redirector's choice of CONNECT target (redir_target): the
 * peeked name, else the stub's name for the address, else the address;
 * and its CONNECT head, which adds the address to a name from the stub
 * (Slicer-Original-Destination) and to nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "dns.h"
#include "dns_stub.h"
#include "ev.h"
#include "netaddr.h"
#include "redirector.h"
#include "tlsc.h"
#include "../../shared/tests/testcert.h"

#define TOKEN "tok-123"
#define TOKEN_B64 "cHJveHk6dG9rLTEyMw==" /* base64("proxy:tok-123") */
#define SLOW_MS 400
#define FAKE_CONNS 64

/* ------------------------------------------------------------------ */
/* the fake DoH endpoint                                               */

struct fake_conn {
	int used;
	int fd;
	struct ev_io io;
	struct ev_timer delay;
	char in[LIMIT_DNS_MESSAGE + 4096];
	size_t inlen;
	char out[LIMIT_DNS_MESSAGE + 4096];
	size_t outlen;
	int hang;   /* never answer */
	int served; /* requests answered on this connection */
	SSL *ssl;   /* owned; NULL: plain */
	int is_handshaken;
};

struct fake {
	int lfd;
	uint16_t port;
	struct ev_io io;
	struct fake_conn c[FAKE_CONNS];
	int naccept;
	int nreq;
	int nbad;   /* requests not as the stub must send them */
	int status; /* HTTP status to answer with */
	int close_after;
	int close_on_reuse; /* close a used connection when it gets a request */
	int pad;            /* add an EDNS padding option to answers */
	uint16_t last_id;
	int last_opt_rdlen; /* of the last query's OPT, -1: none */
	/* the TLS port */
	int tls_lfd;
	uint16_t tls_port;
	struct ev_io tls_io;
	SSL_CTX *sctx;
	char *ca_pem;       /* the certificate it serves (self-signed, a CA) */
	int ntls_accept;    /* TLS connections accepted */
	int ntls_handshake; /* handshakes completed */
};

static struct ev *ev;
static struct fake fake;
static struct dns_stub *stub;
static uint16_t stub_port;

static void
fake_conn_close(struct fake_conn *c)
{
	ev_io_del(ev, &c->io);
	ev_timer_stop(ev, &c->delay);
	SSL_free(c->ssl);
	c->ssl = NULL;
	close(c->fd);
	c->used = 0;
}

static void
fake_flush(struct fake_conn *c)
{
	size_t off = 0;

	while (off < c->outlen) {
		ssize_t n;

		if (c->ssl != NULL)
			n = SSL_write(
			    c->ssl, c->out + off, (int)(c->outlen - off));
		else
			n = write(c->fd, c->out + off, c->outlen - off);
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	c->outlen = 0;
	if (fake.close_after)
		fake_conn_close(c);
}

static void
fake_delay_cb(struct ev_timer *t)
{
	fake_flush(t->arg);
}

/* A CNAME answer: name -> target.cdn.test -> 192.0.2.50. */
static size_t
fake_cname(const uint8_t *q, const struct dns_query *dq, uint8_t *out)
{
	static const uint8_t target[] = "\6target\3cdn\4test";
	size_t o = dq->question_end, tlen = sizeof(target);

	memcpy(out, q, dq->question_end);
	out[2] = 0x81;
	out[3] = 0x80;
	out[6] = 0;
	out[7] = 2;
	out[10] = out[11] = 0;
	memcpy(out + o, "\xc0\x0c\x00\x05\x00\x01\x00\x00\x01\x2c\x00", 11);
	out[o + 11] = (uint8_t)tlen;
	o += 12;
	memcpy(out + o, target, tlen);
	o += tlen;
	out[o++] = 0xc0;
	out[o++] = (uint8_t)(dq->question_end + 12);
	memcpy(out + o,
	    "\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x32", 14);
	return o + 14;
}

static int
opt_rdlen_cb(const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	(void)msg;
	(void)len;
	if (rr->type == DNS_TYPE_OPT)
		*(int *)arg = rr->rdlen;
	return 0;
}

/* RDLENGTH of a message's OPT record, -1 when it has none. */
static int
opt_rdlen(const uint8_t *msg, size_t len)
{
	int n = -1;

	assert_int_equal(dns_walk(msg, len, opt_rdlen_cb, &n), 0);
	return n;
}

/* Answer one DNS query as the proxy would. */
static void
fake_answer(struct fake_conn *c, const uint8_t *body, size_t blen)
{
	static uint8_t dns[LIMIT_DNS_MESSAGE];
	static struct netaddr addrs[1000];
	struct dns_query dq;
	size_t dlen = 0, i;
	int delay = 0, rc;

	rc = dns_parse_query(body, blen, &dq);
	if (rc != DNS_OK) {
		fake.nbad++;
		return;
	}
	fake.last_id = dq.id;
	fake.last_opt_rdlen = opt_rdlen(body, blen);
	memset(addrs, 0, sizeof(addrs));
	for (i = 0; i < 1000; i++) {
		addrs[i].family = AF_INET;
		addrs[i].u.v4.s_addr = htonl(0xc0000200U + (uint32_t)i + 1);
	}
	if (strcmp(dq.name, "hang.test") == 0) {
		c->hang = 1;
		return;
	}
	if (strcmp(dq.name, "nx.test") == 0) {
		rc = dns_build_reply(body, blen, &dq, DNS_RCODE_NXDOMAIN, dns,
		    sizeof(dns), &dlen);
	} else if (strcmp(dq.name, "nodata.test") == 0) {
		rc = dns_build_reply(body, blen, &dq, DNS_RCODE_NOERROR, dns,
		    sizeof(dns), &dlen);
	} else if (strcmp(dq.name, "cname.test") == 0) {
		dlen = fake_cname(body, &dq, dns);
		rc = 0;
	} else if (strcmp(dq.name, "big.test") == 0) {
		rc = dns_build_answer(
		    body, blen, &dq, addrs, 60, 300, dns, sizeof(dns), &dlen);
	} else if (strcmp(dq.name, "huge.test") == 0) {
		/* 1000 AAAA records, 28 KB: more than one TLS record */
		for (i = 0; i < 1000; i++) {
			addrs[i].family = AF_INET6;
			inet_pton(AF_INET6, "2001:db8:1::", &addrs[i].u.v6);
			addrs[i].u.v6.s6_addr[14] = (uint8_t)(i >> 8);
			addrs[i].u.v6.s6_addr[15] = (uint8_t)i;
		}
		rc = dns_build_answer(
		    body, blen, &dq, addrs, 1000, 300, dns, sizeof(dns), &dlen);
	} else {
		if (strncmp(dq.name, "slow", 4) == 0) {
			delay = SLOW_MS;
			addrs[0].u.v4.s_addr = htonl(0xc0000207U);
		}
		addrs[1].family = AF_INET6;
		inet_pton(AF_INET6, "2001:db8::1", &addrs[1].u.v6);
		rc = dns_build_answer(
		    body, blen, &dq, addrs, 2, 300, dns, sizeof(dns), &dlen);
	}
	assert_int_equal(rc, 0);
	if (fake.pad && dq.has_edns) {
		/* our OPT is last, with no options: add 8 bytes of padding */
		dns[dlen - 1] = 12;
		memcpy(dns + dlen, "\x00\x0c\x00\x08\0\0\0\0\0\0\0\0", 12);
		dlen += 12;
	}
	if (fake.status != 200) {
		c->outlen = (size_t)snprintf(c->out, sizeof(c->out),
		    "HTTP/1.1 %d Nope\r\nContent-Length: 0\r\n\r\n",
		    fake.status);
	} else {
		c->outlen = (size_t)snprintf(c->out, sizeof(c->out),
		    "HTTP/1.1 200 OK\r\nContent-Type: "
		    "application/dns-message\r\n"
		    "Content-Length: %zu\r\n\r\n",
		    dlen);
		memcpy(c->out + c->outlen, dns, dlen);
		c->outlen += dlen;
	}
	if (delay > 0)
		ev_timer_arm(ev, &c->delay, delay);
	else
		fake_flush(c);
}

static void
fake_conn_cb(struct ev_io *io, uint32_t events)
{
	struct fake_conn *c = io->arg;
	const char *end, *cl;
	size_t head, blen;
	ssize_t n;

	(void)events;
	if (c->ssl != NULL) {
		if (!c->is_handshaken) {
			int r = SSL_accept(c->ssl);

			if (r != 1) {
				r = SSL_get_error(c->ssl, r);
				if (r != SSL_ERROR_WANT_READ &&
				    r != SSL_ERROR_WANT_WRITE)
					fake_conn_close(c);
				return;
			}
			c->is_handshaken = 1;
			fake.ntls_handshake++;
		}
		/* everything decrypted so far */
		for (;;) {
			int r = SSL_read(c->ssl, c->in + c->inlen,
			    (int)(sizeof(c->in) - 1 - c->inlen));

			if (r > 0) {
				c->inlen += (size_t)r;
				continue;
			}
			if (SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
				break;
			fake_conn_close(c);
			return;
		}
	} else {
		n = read(c->fd, c->in + c->inlen, sizeof(c->in) - 1 - c->inlen);
		if (n <= 0) {
			fake_conn_close(c);
			return;
		}
		c->inlen += (size_t)n;
	}
	for (;;) {
		c->in[c->inlen] = '\0';
		end = strstr(c->in, "\r\n\r\n");
		if (end == NULL)
			return;
		head = (size_t)(end - c->in) + 4;
		cl = strstr(c->in, "Content-Length: ");
		if (cl == NULL || cl > end) {
			fake.nbad++;
			fake_conn_close(c);
			return;
		}
		blen = strtoul(cl + 16, NULL, 10);
		if (c->inlen < head + blen)
			return;
		if (fake.close_on_reuse && c->served > 0) {
			/* as if it had timed out just as the request came */
			fake_conn_close(c);
			return;
		}
		c->served++;
		fake.nreq++;
		if (strncmp(c->in, "POST /slicer/dns-query HTTP/1.1\r\n", 33) !=
			0 ||
		    strstr(c->in,
			"\r\nContent-Type: application/dns-message\r\n") ==
			NULL ||
		    strstr(c->in, "\r\nProxy-Authorization: Basic " TOKEN_B64
				  "\r\n") == NULL ||
		    strstr(c->in, "\r\nHost: 127.0.0.1:") == NULL)
			fake.nbad++;
		fake_answer(c, (const uint8_t *)c->in + head, blen);
		if (!c->used)
			return;
		memmove(c->in, c->in + head + blen, c->inlen - head - blen);
		c->inlen -= head + blen;
	}
}

static void
fake_accept_cb(struct ev_io *io, uint32_t events)
{
	int is_tls = io == &fake.tls_io, fd, i;

	(void)events;
	fd = accept4(is_tls ? fake.tls_lfd : fake.lfd, NULL, NULL,
	    SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1)
		return;
	fake.naccept++;
	fake.ntls_accept += is_tls;
	for (i = 0; i < FAKE_CONNS; i++) {
		struct fake_conn *c = &fake.c[i];

		if (c->used)
			continue;
		memset(c, 0, sizeof(*c));
		c->used = 1;
		c->fd = fd;
		if (is_tls) {
			c->ssl = SSL_new(fake.sctx);
			assert_non_null(c->ssl);
			SSL_set_fd(c->ssl, fd);
		}
		ev_io_init(&c->io, fake_conn_cb, c);
		ev_timer_init(&c->delay, fake_delay_cb, c);
		assert_int_equal(ev_io_add(ev, &c->io, fd, EPOLLIN), 0);
		return;
	}
	close(fd);
}

/* A listener on 127.0.0.1, any port: its fd, the port in *port. */
static int
fake_listen(uint16_t *port)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 128), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
fake_start(void)
{
	memset(&fake, 0, sizeof(fake));
	fake.status = 200;
	fake.lfd = fake_listen(&fake.port);
	ev_io_init(&fake.io, fake_accept_cb, NULL);
	assert_int_equal(ev_io_add(ev, &fake.io, fake.lfd, EPOLLIN), 0);
	/* the TLS port */
	fake.sctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(fake.sctx);
	fake.ca_pem = tls_make_cert(fake.sctx);
	fake.tls_lfd = fake_listen(&fake.tls_port);
	ev_io_init(&fake.tls_io, fake_accept_cb, NULL);
	assert_int_equal(ev_io_add(ev, &fake.tls_io, fake.tls_lfd, EPOLLIN), 0);
}

/* ------------------------------------------------------------------ */
/* clients                                                             */

static uint8_t qbuf[LIMIT_DNS_MESSAGE], rbuf[LIMIT_DNS_MESSAGE + 2];

/* A query message in qbuf; returns its length. */
static size_t
build_query(uint16_t id, const char *name, uint16_t type, int edns_size)
{
	size_t n = 12;
	const char *p = name;

	memset(qbuf, 0, 12);
	qbuf[0] = (uint8_t)(id >> 8);
	qbuf[1] = (uint8_t)id;
	qbuf[2] = 0x01; /* RD */
	qbuf[5] = 1;
	qbuf[11] = edns_size > 0 ? 1 : 0;
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot != NULL ? (size_t)(dot - p) : strlen(p);

		qbuf[n++] = (uint8_t)l;
		memcpy(qbuf + n, p, l);
		n += l;
		p += l + (dot != NULL);
	}
	qbuf[n++] = 0;
	qbuf[n++] = (uint8_t)(type >> 8);
	qbuf[n++] = (uint8_t)type;
	qbuf[n++] = 0;
	qbuf[n++] = 1;
	if (edns_size > 0) {
		memcpy(qbuf + n, "\x00\x00\x29", 3);
		qbuf[n + 3] = (uint8_t)(edns_size >> 8);
		qbuf[n + 4] = (uint8_t)edns_size;
		memset(qbuf + n + 5, 0, 6);
		n += 11;
	}
	return n;
}

static int
udp_client(int family, const char *bind_addr)
{
	struct sockaddr_storage ss;
	int fd;

	memset(&ss, 0, sizeof(ss));
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		assert_int_equal(
		    inet_pton(AF_INET, bind_addr, &sin->sin_addr), 1);
		assert_int_equal(
		    bind(fd, (struct sockaddr *)sin, sizeof(*sin)), 0);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		assert_int_equal(
		    inet_pton(AF_INET6, bind_addr, &sin6->sin6_addr), 1);
		assert_int_equal(
		    bind(fd, (struct sockaddr *)sin6, sizeof(*sin6)), 0);
	}
	return fd;
}

static void
udp_send_to(int fd, const char *dst, const void *msg, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sslen;

	memset(&ss, 0, sizeof(ss));
	if (strchr(dst, ':') == NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(stub_port);
		inet_pton(AF_INET, dst, &sin->sin_addr);
		sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(stub_port);
		inet_pton(AF_INET6, dst, &sin6->sin6_addr);
		sslen = sizeof(*sin6);
	}
	assert_int_equal(sendto(fd, msg, len, 0, (struct sockaddr *)&ss, sslen),
	    (ssize_t)len);
}

/* Waiting on the loop for one of several fds. */
struct waiter {
	struct ev_io io;
	int fd;
	int ready;
};

static struct ev_timer wait_timer;
static int wait_timed_out;

static void
wait_io_cb(struct ev_io *io, uint32_t events)
{
	struct waiter *w = io->arg;

	(void)events;
	w->ready = 1;
	ev_io_set(ev, io, 0);
	ev_break(ev);
}

static void
wait_timer_cb(struct ev_timer *t)
{
	(void)t;
	wait_timed_out = 1;
	ev_break(ev);
}

/* Run the loop until one of fds is readable or timeout; returns the index
 * of the first readable one, or -1. */
static int
wait_any(const int *fds, size_t n, int timeout_ms)
{
	struct waiter w[8];
	size_t i;
	int got = -1;

	assert_true(n <= 8);
	wait_timed_out = 0;
	for (i = 0; i < n; i++) {
		w[i].fd = fds[i];
		w[i].ready = 0;
		ev_io_init(&w[i].io, wait_io_cb, &w[i]);
		assert_int_equal(ev_io_add(ev, &w[i].io, fds[i], EPOLLIN), 0);
	}
	ev_timer_init(&wait_timer, wait_timer_cb, NULL);
	ev_timer_arm(ev, &wait_timer, timeout_ms);
	while (got == -1 && !wait_timed_out) {
		ev_run(ev);
		for (i = 0; i < n && got == -1; i++)
			if (w[i].ready)
				got = (int)i;
	}
	ev_timer_stop(ev, &wait_timer);
	for (i = 0; i < n; i++)
		ev_io_del(ev, &w[i].io);
	return got;
}

/* Run the loop for ms milliseconds. */
static void
spin(int ms)
{
	wait_timed_out = 0;
	ev_timer_init(&wait_timer, wait_timer_cb, NULL);
	ev_timer_arm(ev, &wait_timer, ms);
	while (!wait_timed_out)
		ev_run(ev);
}

/* Wait for a datagram on fd; returns its length or -1 on timeout. */
static ssize_t
udp_wait(int fd, int timeout_ms, struct sockaddr_storage *from)
{
	socklen_t len = sizeof(*from);

	if (wait_any(&fd, 1, timeout_ms) != 0)
		return -1;
	return recvfrom(
	    fd, rbuf, sizeof(rbuf), 0, (struct sockaddr *)from, &len);
}

/* One UDP query to 127.0.0.1 from a fresh socket; the reply in rbuf. */
static ssize_t
udp_ask(uint16_t id, const char *name, uint16_t type, int edns)
{
	struct sockaddr_storage from;
	size_t n = build_query(id, name, type, edns);
	int fd = udp_client(AF_INET, "127.0.0.1");
	ssize_t r;

	udp_send_to(fd, "127.0.0.1", qbuf, n);
	r = udp_wait(fd, 3000, &from);
	close(fd);
	return r;
}

static struct dns_stub_stats
stats(void)
{
	struct dns_stub_stats st;

	dns_stub_get_stats(stub, &st);
	return st;
}

/* First address of an answer, as text ("" when none). */
struct first_addr {
	char text[64];
	int n;
};

static void
first_addr_cb(
    const char *name, const struct netaddr *a, uint32_t ttl, void *arg)
{
	struct first_addr *f = arg;

	(void)name;
	(void)ttl;
	if (f->n++ == 0)
		netaddr_ntop(a, f->text, sizeof(f->text));
}

static struct first_addr
first_addr(const uint8_t *msg, size_t len)
{
	struct first_addr f;

	memset(&f, 0, sizeof(f));
	assert_true(dns_answer_addrs(msg, len, first_addr_cb, &f) >= 0);
	return f;
}

/* ------------------------------------------------------------------ */
/* setup                                                               */

/* The agent's mark when this process may set it (CAP_NET_ADMIN), else
 * none: with a mark it cannot set the stub does not listen at all. */
static uint32_t
stub_mark(void)
{
	uint32_t mark = 0x534c4900u;
	int fd, ok;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	ok = fd != -1 &&
	     setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) == 0;
	if (fd != -1)
		close(fd);
	return ok ? mark : 0;
}

static struct dns_stub *
stub_start_tls(uint16_t proxy_port, struct tlsc_ctx *tls, uint16_t *port_out)
{
	struct dns_stub_config cfg;
	struct dns_stub *s = NULL;
	char err[256];
	int i;

	memset(&cfg, 0, sizeof(cfg));
	cfg.proxy_addr.family = AF_INET;
	cfg.proxy_addr.u.v4.s_addr = htonl(INADDR_LOOPBACK);
	cfg.proxy_port = proxy_port;
	cfg.token = TOKEN;
	cfg.mark = stub_mark();
	cfg.tls = tls;
	for (i = 0; i < 50 && s == NULL; i++) {
		cfg.port = (uint16_t)(20000 + (getpid() * 7 + i * 131) % 40000);
		s = dns_stub_new(ev, &cfg, err, sizeof(err));
	}
	if (s == NULL)
		fail_msg("dns_stub_new: %s", err);
	*port_out = cfg.port;
	return s;
}

static struct dns_stub *
stub_start(uint16_t proxy_port, uint16_t *port_out)
{
	return stub_start_tls(proxy_port, NULL, port_out);
}

static int
group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	ev = ev_new();
	assert_non_null(ev);
	fake_start();
	stub = stub_start(fake.port, &stub_port);
	return 0;
}

static int
group_teardown(void **state)
{
	int i;

	(void)state;
	dns_stub_free(stub);
	for (i = 0; i < FAKE_CONNS; i++)
		if (fake.c[i].used)
			fake_conn_close(&fake.c[i]);
	ev_io_del(ev, &fake.io);
	close(fake.lfd);
	ev_io_del(ev, &fake.tls_io);
	close(fake.tls_lfd);
	SSL_CTX_free(fake.sctx);
	free(fake.ca_pem);
	ev_free(ev);
	return 0;
}

/* ------------------------------------------------------------------ */
/* tests                                                               */

static void
test_config_refused(void **state)
{
	struct dns_stub_config cfg;
	char err[128];

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	cfg.port = 1;
	cfg.proxy_port = 3128;
	cfg.proxy_addr.family = AF_INET;
	/* no token */
	assert_null(dns_stub_new(ev, &cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "configuration"));
	cfg.token = "a\r\nX-Injected: 1";
	assert_null(dns_stub_new(ev, &cfg, err, sizeof(err)));
	cfg.token = TOKEN;
	cfg.proxy_addr.family = 0;
	assert_null(dns_stub_new(ev, &cfg, err, sizeof(err)));
	/* the port is taken (our own stub holds it) */
	cfg.proxy_addr.family = AF_INET;
	cfg.port = stub_port;
	assert_null(dns_stub_new(ev, &cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "dns stub"));
	/* the free function takes NULL */
	dns_stub_free(NULL);
}

static void
test_udp_answer(void **state)
{
	struct dns_stub_stats before = stats();
	struct dns_query r;
	struct first_addr f;
	ssize_t n;
	int nreq = fake.nreq;

	(void)state;
	n = udp_ask(0x1111, "a.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_int_equal(dns_parse_response(rbuf, (size_t)n, &r), 0);
	assert_int_equal(r.id, 0x1111);
	assert_string_equal(r.name, "a.test");
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
	assert_int_equal(r.ancount, 1);
	f = first_addr(rbuf, (size_t)n);
	assert_string_equal(f.text, "192.0.2.1");
	/* the proxy's TTL of 300 was capped */
	assert_int_equal(rbuf[n - 4 - 6 + 0], 0);
	assert_int_equal(
	    ((unsigned)rbuf[n - 8] << 8 | rbuf[n - 7]), LIMIT_DNS_CACHE_TTL);
	/* what the proxy saw */
	assert_int_equal(fake.nreq, nreq + 1);
	assert_int_equal(fake.nbad, 0);
	assert_int_equal(fake.last_id, 0);
	assert_int_equal(stats().forwarded, before.forwarded + 1);
	assert_int_equal(stats().queries, before.queries + 1);
}

static void
test_cache_hit(void **state)
{
	struct dns_stub_stats before = stats();
	size_t qlen;
	ssize_t n;
	int nreq = fake.nreq;

	(void)state;
	/* a.test was answered by test_udp_answer: now from the cache, with
	 * this ID and the question in this client's case */
	n = udp_ask(0x2222, "A.TeSt", DNS_TYPE_A, 0);
	assert_true(n > 0);
	qlen = build_query(0x2222, "A.TeSt", DNS_TYPE_A, 0);
	assert_int_equal(dns_msg_id(rbuf), 0x2222);
	assert_memory_equal(rbuf + 12, qbuf + 12, qlen - 12);
	assert_string_equal(first_addr(rbuf, (size_t)n).text, "192.0.2.1");
	assert_int_equal(fake.nreq, nreq);
	assert_int_equal(stats().cached, before.cached + 1);
	/* another type is another entry */
	n = udp_ask(0x2223, "a.test", DNS_TYPE_AAAA, 0);
	assert_true(n > 0);
	assert_string_equal(first_addr(rbuf, (size_t)n).text, "2001:db8::1");
	assert_int_equal(fake.nreq, nreq + 1);
}

static void
test_nxdomain_not_cached(void **state)
{
	struct dns_stub_stats before = stats();
	int nreq = fake.nreq, i;
	ssize_t n;

	(void)state;
	for (i = 0; i < 2; i++) {
		n = udp_ask((uint16_t)(0x3000 + i), "nx.test", DNS_TYPE_A, 0);
		assert_true(n > 0);
		assert_int_equal(dns_msg_id(rbuf), 0x3000 + i);
		assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NXDOMAIN);
		/* no SOA: nothing for the client to cache either */
		assert_int_equal(rbuf[9], 0);
	}
	assert_int_equal(fake.nreq, nreq + 2);
	assert_int_equal(stats().denied, before.denied + 2);
	/* NODATA is cached, briefly */
	nreq = fake.nreq;
	for (i = 0; i < 2; i++) {
		n = udp_ask(
		    (uint16_t)(0x3100 + i), "nodata.test", DNS_TYPE_A, 0);
		assert_true(n > 0);
		assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
		assert_int_equal(dns_msg_ancount(rbuf), 0);
	}
	assert_int_equal(fake.nreq, nreq + 1);
}

static void
test_local_answers(void **state)
{
	struct dns_stub_stats before = stats();
	struct dns_query r;
	int nreq = fake.nreq;
	ssize_t n;

	(void)state;
	n = udp_ask(0x4000, "use-application-dns.net", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_int_equal(dns_msg_id(rbuf), 0x4000);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NXDOMAIN);
	n = udp_ask(0x4001, "Use-Application-DNS.net", DNS_TYPE_AAAA, 1232);
	assert_true(n > 0);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NXDOMAIN);
	assert_int_equal(dns_parse_response(rbuf, (size_t)n, &r), 0);
	assert_true(r.has_edns);

	n = udp_ask(0x4002, "www.example.test", DNS_TYPE_HTTPS, 0);
	assert_true(n > 0);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
	assert_int_equal(dns_msg_ancount(rbuf), 0);
	n = udp_ask(0x4003, "www.example.test", DNS_TYPE_SVCB, 0);
	assert_true(n > 0);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
	assert_int_equal(dns_msg_ancount(rbuf), 0);

	/* another class: NOTIMP */
	build_query(0x4004, "a.test", DNS_TYPE_A, 0);
	{
		size_t qn = build_query(0x4004, "a.test", DNS_TYPE_A, 0);
		struct sockaddr_storage from;
		int fd = udp_client(AF_INET, "127.0.0.1");

		qbuf[qn - 1] = 3; /* CHAOS */
		udp_send_to(fd, "127.0.0.1", qbuf, qn);
		assert_true(udp_wait(fd, 3000, &from) > 0);
		close(fd);
		assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOTIMP);
	}
	assert_int_equal(fake.nreq, nreq);
	assert_int_equal(stats().denied, before.denied + 2);
}

static void
test_edns_options(void **state)
{
	struct dns_query r;
	struct sockaddr_storage from;
	size_t n;
	ssize_t m;
	int fd;

	(void)state;
	/* a client cookie does not go to the proxy, the proxy's padding does
	 * not come back, and neither is replayed from the cache */
	n = build_query(0x4800, "cookie.test", DNS_TYPE_A, 1232);
	qbuf[n - 1] = 12; /* OPT RDLENGTH */
	memcpy(qbuf + n,
	    "\x00\x0a\x00\x08"
	    "abcdefgh",
	    12);
	n += 12;
	fake.pad = 1;
	fd = udp_client(AF_INET, "127.0.0.1");
	udp_send_to(fd, "127.0.0.1", qbuf, n);
	m = udp_wait(fd, 3000, &from);
	fake.pad = 0;
	assert_true(m > 0);
	assert_int_equal(fake.last_opt_rdlen, 0);
	assert_int_equal(dns_parse_response(rbuf, (size_t)m, &r), 0);
	assert_true(r.has_edns);
	assert_int_equal(opt_rdlen(rbuf, (size_t)m), 0);
	assert_int_equal(dns_msg_id(rbuf), 0x4800);
	/* from the cache, to a client with another cookie */
	memcpy(qbuf + n - 8, "ijklmnop", 8);
	qbuf[1] = 0x01;
	udp_send_to(fd, "127.0.0.1", qbuf, n);
	m = udp_wait(fd, 3000, &from);
	close(fd);
	assert_true(m > 0);
	assert_int_equal(dns_msg_id(rbuf), 0x4801);
	assert_int_equal(opt_rdlen(rbuf, (size_t)m), 0);
}

static void
test_truncation(void **state)
{
	struct dns_query r;
	ssize_t n;
	int nreq = fake.nreq;

	(void)state;
	/* 60 A records (> 512 bytes): TC over plain UDP */
	n = udp_ask(0x5000, "big.test", DNS_TYPE_A, 0);
	assert_true(n > 0 && n <= 512);
	assert_true(rbuf[2] & (DNS_FLAG_TC >> 8));
	assert_int_equal(dns_msg_id(rbuf), 0x5000);
	assert_int_equal(dns_msg_ancount(rbuf), 0);
	/* the full answer fits a 4096-byte EDNS client */
	n = udp_ask(0x5001, "big.test", DNS_TYPE_A, 4096);
	assert_true(n > 512);
	assert_false(rbuf[2] & (DNS_FLAG_TC >> 8));
	assert_int_equal(dns_parse_response(rbuf, (size_t)n, &r), 0);
	assert_int_equal(r.ancount, 60);
	/* but not a 600-byte one */
	n = udp_ask(0x5002, "big.test", DNS_TYPE_A, 600);
	assert_true(n > 0 && n <= 600);
	assert_true(rbuf[2] & (DNS_FLAG_TC >> 8));
	assert_int_equal(dns_parse_response(rbuf, (size_t)n, &r), 0);
	assert_true(r.has_edns);
	/* the no-EDNS and the EDNS answers are cached apart */
	assert_int_equal(fake.nreq, nreq + 2);
}

static int
tcp_client(void)
{
	struct sockaddr_in sin;
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(stub_port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

/* Read one length-prefixed message into rbuf; its length, or -1 on
 * timeout, 0 on close. */
static ssize_t
tcp_read_msg(int fd, int timeout_ms)
{
	size_t have = 0, want = 2;
	ssize_t n;

	while (have < want) {
		if (wait_any(&fd, 1, timeout_ms) != 0)
			return -1;
		n = recv(fd, rbuf + have, want - have, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EAGAIN)
				continue;
			return 0;
		}
		have += (size_t)n;
		if (have == 2 && want == 2)
			want = 2 + ((size_t)rbuf[0] << 8 | rbuf[1]);
	}
	memmove(rbuf, rbuf + 2, want - 2);
	return (ssize_t)(want - 2);
}

static void
tcp_put(uint8_t *buf, size_t *off, const uint8_t *msg, size_t len)
{
	buf[(*off)++] = (uint8_t)(len >> 8);
	buf[(*off)++] = (uint8_t)len;
	memcpy(buf + *off, msg, len);
	*off += len;
}

static void
test_tcp(void **state)
{
	static uint8_t out[4096];
	struct dns_query r;
	size_t off = 0, n;
	int fd, seen = 0, i;
	ssize_t m;

	(void)state;
	fd = tcp_client();
	/* three pipelined queries in one write */
	n = build_query(0x6001, "t1.test", DNS_TYPE_A, 0);
	tcp_put(out, &off, qbuf, n);
	n = build_query(0x6002, "t2.test", DNS_TYPE_AAAA, 0);
	tcp_put(out, &off, qbuf, n);
	n = build_query(0x6003, "big.test", DNS_TYPE_A, 0);
	tcp_put(out, &off, qbuf, n);
	assert_int_equal(write(fd, out, off), (ssize_t)off);
	for (i = 0; i < 3; i++) {
		m = tcp_read_msg(fd, 3000);
		assert_true(m > 0);
		assert_int_equal(dns_parse_response(rbuf, (size_t)m, &r), 0);
		if (r.id == 0x6001) {
			assert_string_equal(
			    first_addr(rbuf, (size_t)m).text, "192.0.2.1");
			seen |= 1;
		} else if (r.id == 0x6002) {
			assert_string_equal(
			    first_addr(rbuf, (size_t)m).text, "2001:db8::1");
			seen |= 2;
		} else {
			/* over TCP the large answer comes whole */
			assert_int_equal(r.id, 0x6003);
			assert_int_equal(r.ancount, 60);
			assert_false(rbuf[2] & (DNS_FLAG_TC >> 8));
			seen |= 4;
		}
	}
	assert_int_equal(seen, 7);
	/* garbage that parses as a header: FORMERR on the same connection */
	memset(qbuf, 0, 12);
	qbuf[0] = 0x66;
	qbuf[1] = 0x04;
	qbuf[5] = 2;
	off = 0;
	tcp_put(out, &off, qbuf, 12);
	assert_int_equal(write(fd, out, off), (ssize_t)off);
	m = tcp_read_msg(fd, 3000);
	assert_int_equal(m, 12);
	assert_int_equal(dns_msg_id(rbuf), 0x6604);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_FORMERR);
	/* the client half-closes: answered, then closed */
	n = build_query(0x6005, "t1.test", DNS_TYPE_A, 0);
	off = 0;
	tcp_put(out, &off, qbuf, n);
	assert_int_equal(write(fd, out, off), (ssize_t)off);
	shutdown(fd, SHUT_WR);
	m = tcp_read_msg(fd, 3000);
	assert_true(m > 0);
	assert_int_equal(dns_msg_id(rbuf), 0x6005);
	assert_int_equal(tcp_read_msg(fd, 3000), 0);
	close(fd);

	/* a length under a header: the connection is closed */
	fd = tcp_client();
	assert_int_equal(write(fd, "\x00\x05hello", 7), 7);
	assert_int_equal(tcp_read_msg(fd, 3000), 0);
	close(fd);
}

static void
test_tcp_limits(void **state)
{
	static uint8_t out[16 * 64];
	struct dns_stub_stats before;
	int fds[LIMIT_DNS_TCP_CLIENTS], fd, i, seen;
	char name[32];
	size_t off = 0, n;
	ssize_t m;

	(void)state;
	/* every client slot taken: one more is closed at once */
	spin(50);
	before = stats();
	for (i = 0; i < LIMIT_DNS_TCP_CLIENTS; i++)
		fds[i] = tcp_client();
	spin(100);
	assert_int_equal(stats().limited, before.limited);
	fd = tcp_client();
	assert_int_equal(tcp_read_msg(fd, 2000), 0);
	close(fd);
	assert_int_equal(stats().limited, before.limited + 1);
	/* the slots still work */
	n = build_query(0x6100, "t1.test", DNS_TYPE_A, 0);
	tcp_put(out, &off, qbuf, n);
	assert_int_equal(write(fds[0], out, off), (ssize_t)off);
	m = tcp_read_msg(fds[0], 3000);
	assert_true(m > 0);
	assert_int_equal(dns_msg_id(rbuf), 0x6100);
	for (i = 0; i < LIMIT_DNS_TCP_CLIENTS; i++)
		close(fds[i]);
	spin(100);

	/* more pipelined queries than may be in flight: reading pauses at
	 * the limit and resumes, every one is answered */
	fd = tcp_client();
	off = 0;
	for (i = 0; i < LIMIT_DNS_TCP_PIPELINE + 4; i++) {
		snprintf(name, sizeof(name), "slowpipe%d.test", i);
		n = build_query((uint16_t)(0x6200 + i), name, DNS_TYPE_A, 0);
		tcp_put(out, &off, qbuf, n);
	}
	assert_int_equal(write(fd, out, off), (ssize_t)off);
	for (i = 0, seen = 0; i < LIMIT_DNS_TCP_PIPELINE + 4; i++) {
		m = tcp_read_msg(fd, 3000);
		assert_true(m > 0);
		assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
		seen++;
	}
	assert_int_equal(seen, LIMIT_DNS_TCP_PIPELINE + 4);
	close(fd);
}

static void
test_parallel(void **state)
{
	struct sockaddr_storage from;
	size_t n;
	int fds[2], got;
	ssize_t m;

	(void)state;
	fds[0] = udp_client(AF_INET, "127.0.0.1");
	fds[1] = udp_client(AF_INET, "127.0.0.1");
	n = build_query(0x7001, "slow-par.test", DNS_TYPE_A, 0);
	udp_send_to(fds[0], "127.0.0.1", qbuf, n);
	n = build_query(0x7002, "fast-par.test", DNS_TYPE_A, 0);
	udp_send_to(fds[1], "127.0.0.1", qbuf, n);
	/* the fast one is not held behind the slow one */
	got = wait_any(fds, 2, 3000);
	assert_int_equal(got, 1);
	m = recv(fds[1], rbuf, sizeof(rbuf), 0);
	assert_true(m > 0);
	assert_int_equal(dns_msg_id(rbuf), 0x7002);
	m = udp_wait(fds[0], 3000, &from);
	assert_true(m > 0);
	assert_int_equal(dns_msg_id(rbuf), 0x7001);
	assert_string_equal(first_addr(rbuf, (size_t)m).text, "192.0.2.7");
	close(fds[0]);
	close(fds[1]);

	/* musl: A and AAAA at once from one socket, both answered */
	fds[0] = udp_client(AF_INET, "127.0.0.1");
	n = build_query(0x7003, "both.test", DNS_TYPE_A, 0);
	udp_send_to(fds[0], "127.0.0.1", qbuf, n);
	n = build_query(0x7004, "both.test", DNS_TYPE_AAAA, 0);
	udp_send_to(fds[0], "127.0.0.1", qbuf, n);
	got = 0;
	for (int i = 0; i < 2; i++) {
		m = udp_wait(fds[0], 3000, &from);
		assert_true(m > 0);
		got |= dns_msg_id(rbuf) == 0x7003 ? 1 : 2;
	}
	assert_int_equal(got, 3);
	close(fds[0]);
}

static void
test_garbage(void **state)
{
	struct dns_stub_stats before = stats();
	struct sockaddr_storage from;
	int fd = udp_client(AF_INET, "127.0.0.1");
	size_t n;
	ssize_t m;

	(void)state;
	/* QDCOUNT 2: FORMERR, same ID */
	memset(qbuf, 0, 12);
	qbuf[0] = 0x88;
	qbuf[1] = 0x01;
	qbuf[5] = 2;
	udp_send_to(fd, "127.0.0.1", qbuf, 12);
	m = udp_wait(fd, 3000, &from);
	assert_int_equal(m, 12);
	assert_int_equal(dns_msg_id(rbuf), 0x8801);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_FORMERR);
	/* a pointer loop in the name: FORMERR */
	n = build_query(0x8802, "a", DNS_TYPE_A, 0);
	qbuf[14] = 0xc0;
	qbuf[15] = 12;
	udp_send_to(fd, "127.0.0.1", qbuf, n + 1);
	m = udp_wait(fd, 3000, &from);
	assert_int_equal(m, 12);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_FORMERR);
	/* a runt and a response: no answer at all */
	udp_send_to(fd, "127.0.0.1", "\x01\x02\x03\x04\x05", 5);
	n = build_query(0x8803, "a.test", DNS_TYPE_A, 0);
	qbuf[2] |= 0x80;
	udp_send_to(fd, "127.0.0.1", qbuf, n);
	assert_int_equal(udp_wait(fd, 300, &from), -1);
	/* still serving */
	n = build_query(0x8804, "a.test", DNS_TYPE_A, 0);
	udp_send_to(fd, "127.0.0.1", qbuf, n);
	m = udp_wait(fd, 3000, &from);
	assert_true(m > 0);
	assert_int_equal(dns_msg_id(rbuf), 0x8804);
	close(fd);
	assert_int_equal(stats().errors, before.errors + 4);
}

static void
test_reply_source(void **state)
{
	struct sockaddr_storage from;
	struct sockaddr_in *sin = (struct sockaddr_in *)&from;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&from;
	char text[64];
	size_t n;
	int fd;

	(void)state;
	/* sent to 127.0.0.2 from 127.0.0.1: answered from 127.0.0.2, which
	 * a plain sendto on the 0.0.0.0 socket would not do */
	fd = udp_client(AF_INET, "127.0.0.1");
	n = build_query(0x9001, "a.test", DNS_TYPE_A, 0);
	udp_send_to(fd, "127.0.0.2", qbuf, n);
	assert_true(udp_wait(fd, 3000, &from) > 0);
	assert_int_equal(from.ss_family, AF_INET);
	inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
	assert_string_equal(text, "127.0.0.2");
	assert_int_equal(ntohs(sin->sin_port), stub_port);
	close(fd);

	/* and over IPv6 */
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	if (fd >= 0) {
		close(fd);
		fd = udp_client(AF_INET6, "::1");
		n = build_query(0x9002, "a.test", DNS_TYPE_A, 0);
		udp_send_to(fd, "::1", qbuf, n);
		assert_true(udp_wait(fd, 3000, &from) > 0);
		assert_int_equal(from.ss_family, AF_INET6);
		inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
		assert_string_equal(text, "::1");
		assert_int_equal(dns_msg_id(rbuf), 0x9002);
		close(fd);
	}
}

static void
test_name_for(void **state)
{
	struct netaddr a;
	char name[DNS_NAME_SIZE];
	ssize_t n;

	(void)state;
	n = udp_ask(0xa001, "cname.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_string_equal(first_addr(rbuf, (size_t)n).text, "192.0.2.50");
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	inet_pton(AF_INET, "192.0.2.50", &a.u.v4);
	assert_int_equal(dns_stub_name_for(stub, &a, name, sizeof(name)), 1);
	assert_string_equal(name, "cname.test");
	/* too small a buffer: no partial name */
	assert_int_equal(dns_stub_name_for(stub, &a, name, 10), 0);
	assert_int_equal(dns_stub_name_for(stub, &a, name, 11), 1);
	/* the latest answer wins: 192.0.2.1 was a.test, t1.test, ... */
	n = udp_ask(0xa002, "latest.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	inet_pton(AF_INET, "192.0.2.1", &a.u.v4);
	assert_int_equal(dns_stub_name_for(stub, &a, name, sizeof(name)), 1);
	assert_string_equal(name, "latest.test");
	/* IPv6 */
	a.family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &a.u.v6);
	assert_int_equal(dns_stub_name_for(stub, &a, name, sizeof(name)), 1);
	/* never seen */
	a.family = AF_INET;
	inet_pton(AF_INET, "203.0.113.9", &a.u.v4);
	assert_int_equal(dns_stub_name_for(stub, &a, name, sizeof(name)), 0);
	a.family = 0;
	assert_int_equal(dns_stub_name_for(stub, &a, name, sizeof(name)), 0);
}

/* ------------------------------------------------------------------ */
/* the redirector's CONNECT target                                     */

/* Addresses the "stub" knows, for redir_target. */
static const char *const known_names[][2] = {
    {"198.18.0.10", "git.bench.test"},
    {"2001:db8::1", "v6.test"},
    {"198.18.0.77", "10.1.2.3"}, /* an IP literal asked as a name */
    {"198.18.0.78", "."},
    {"198.18.0.79", "Mixed.Case.Test"},
    {"198.18.0.80", "bad name.test"},
};

static int
known_name_for(void *arg, const struct netaddr *a, char *name, size_t size)
{
	char text[64];
	size_t i;

	(*(int *)arg)++;
	netaddr_ntop(a, text, sizeof(text));
	for (i = 0; i < sizeof(known_names) / sizeof(known_names[0]); i++) {
		if (strcmp(text, known_names[i][0]) != 0)
			continue;
		if (strlen(known_names[i][1]) >= size)
			return 0;
		snprintf(name, size, "%s", known_names[i][1]);
		return 1;
	}
	return 0;
}

/* A TLS ClientHello in one record, with a server_name when name != NULL. */
static size_t
make_hello(uint8_t *out, const char *name)
{
	size_t b = 9, ext0, nlen = name != NULL ? strlen(name) : 0;

	memset(out, 0, 9 + 64);
	out[b++] = 3;
	out[b++] = 3;
	b += 32;      /* random */
	out[b++] = 0; /* session id */
	out[b++] = 0;
	out[b++] = 2;
	out[b++] = 0x13;
	out[b++] = 0x01;
	out[b++] = 1; /* compression: null */
	out[b++] = 0;
	ext0 = b;
	b += 2;
	/* supported_versions: TLS 1.3 */
	memcpy(out + b, "\x00\x2b\x00\x03\x02\x03\x04", 7);
	b += 7;
	if (name != NULL) {
		out[b++] = 0;
		out[b++] = 0;
		out[b++] = (uint8_t)((nlen + 5) >> 8);
		out[b++] = (uint8_t)(nlen + 5);
		out[b++] = (uint8_t)((nlen + 3) >> 8);
		out[b++] = (uint8_t)(nlen + 3);
		out[b++] = 0;
		out[b++] = (uint8_t)(nlen >> 8);
		out[b++] = (uint8_t)nlen;
		memcpy(out + b, name, nlen);
		b += nlen;
	}
	out[ext0] = (uint8_t)((b - ext0 - 2) >> 8);
	out[ext0 + 1] = (uint8_t)(b - ext0 - 2);
	out[0] = 0x16;
	out[1] = 3;
	out[2] = 1;
	out[3] = (uint8_t)((b - 5) >> 8);
	out[4] = (uint8_t)(b - 5);
	out[5] = 1;
	out[6] = 0;
	out[7] = (uint8_t)((b - 9) >> 8);
	out[8] = (uint8_t)(b - 9);
	return b;
}

#define SSH_BANNER "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"

static void
test_redirect_target(void **state)
{
	static const struct {
		int kind; /* 0 bytes, 1 hello with name, 2 hello without */
		const char *bytes; /* kind 0; NULL: nothing arrived */
		const char *name;  /* kind 1 */
		const char *dst;
		uint16_t port;
		int want_by;
		const char *want;
		int want_http;
	} cases[] = {
	    /* the peeked name first, whatever the stub knows */
	    {1, NULL, "api.bench.test", "198.18.0.10", 443, REDIR_BY_PEEK,
		"api.bench.test:443", 0},
	    {0, "GET / HTTP/1.1\r\nHost: web.test\r\n\r\n", NULL, "198.18.0.10",
		80, REDIR_BY_PEEK, "web.test:80", 1},
	    /* no SNI, another protocol, HTTP without Host, nothing sent:
	     * the stub's name for the address */
	    {2, NULL, NULL, "198.18.0.10", 443, REDIR_BY_DNS,
		"git.bench.test:443", 0},
	    {0, SSH_BANNER, NULL, "198.18.0.10", 22, REDIR_BY_DNS,
		"git.bench.test:22", 0},
	    {0, "GET / HTTP/1.0\r\n\r\n", NULL, "198.18.0.10", 8080,
		REDIR_BY_DNS, "git.bench.test:8080", 1},
	    {0, NULL, NULL, "198.18.0.10", 5432, REDIR_BY_DNS,
		"git.bench.test:5432", 0},
	    {0, SSH_BANNER, NULL, "2001:db8::1", 22, REDIR_BY_DNS, "v6.test:22",
		0},
	    {0, SSH_BANNER, NULL, "198.18.0.79", 22, REDIR_BY_DNS,
		"mixed.case.test:22", 0},
	    /* no usable name: the address */
	    {0, SSH_BANNER, NULL, "203.0.113.5", 22, REDIR_BY_ADDR,
		"203.0.113.5:22", 0},
	    {2, NULL, NULL, "2001:db8::5", 443, REDIR_BY_ADDR,
		"[2001:db8::5]:443", 0},
	    {0, SSH_BANNER, NULL, "198.18.0.77", 22, REDIR_BY_ADDR,
		"198.18.0.77:22", 0},
	    {0, SSH_BANNER, NULL, "198.18.0.78", 22, REDIR_BY_ADDR,
		"198.18.0.78:22", 0},
	    {0, SSH_BANNER, NULL, "198.18.0.80", 22, REDIR_BY_ADDR,
		"198.18.0.80:22", 0},
	};
	static uint8_t peek[1024];
	char target[LIMIT_HOSTNAME + 16];
	struct netaddr a;
	size_t i, len;
	int by, is_http, calls;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].kind == 1) {
			len = make_hello(peek, cases[i].name);
		} else if (cases[i].kind == 2) {
			len = make_hello(peek, NULL);
		} else {
			len =
			    cases[i].bytes != NULL ? strlen(cases[i].bytes) : 0;
			memcpy(peek,
			    cases[i].bytes != NULL ? cases[i].bytes : "", len);
		}
		assert_int_equal(netaddr_parse_literal(
				     cases[i].dst, strlen(cases[i].dst), &a),
		    0);
		calls = 0;
		is_http = -1;
		by = redir_target(peek, len, &a, cases[i].port, known_name_for,
		    &calls, target, sizeof(target), &is_http);
		if (by != cases[i].want_by ||
		    strcmp(target, cases[i].want) != 0 ||
		    is_http != cases[i].want_http)
			fail_msg("case %zu: by %d target %s http %d", i, by,
			    target, is_http);
		/* the stub is asked only when the peek named nothing */
		assert_int_equal(calls, by == REDIR_BY_PEEK ? 0 : 1);
	}
	/* no lookup function: the address */
	assert_int_equal(
	    netaddr_parse_literal("198.18.0.10", strlen("198.18.0.10"), &a), 0);
	assert_int_equal(redir_target(SSH_BANNER, strlen(SSH_BANNER), &a, 22,
			     NULL, NULL, target, sizeof(target), NULL),
	    REDIR_BY_ADDR);
	assert_string_equal(target, "198.18.0.10:22");
}

/*
 * The CONNECT head: a target named after the stub's answers carries the
 * address the client connected to (Slicer-Original-Destination), so that
 * the proxy can dial that address or nothing; a peeked name or an address
 * target carries none.
 */
static void
test_redirect_head(void **state)
{
	static const struct {
		const char *bytes; /* NULL: a ClientHello with SNI */
		const char *dst;
		uint16_t port;
		int want_by;
		const char *want_pin; /* NULL: no field */
	} cases[] = {
	    {SSH_BANNER, "198.18.0.10", 22, REDIR_BY_DNS, "198.18.0.10"},
	    {"", "198.18.0.10", 5432, REDIR_BY_DNS, "198.18.0.10"},
	    {SSH_BANNER, "2001:db8::1", 22, REDIR_BY_DNS, "2001:db8::1"},
	    {NULL, "198.18.0.10", 443, REDIR_BY_PEEK, NULL},
	    {"GET / HTTP/1.1\r\nHost: web.test\r\n\r\n", "198.18.0.10", 80,
		REDIR_BY_PEEK, NULL},
	    {SSH_BANNER, "203.0.113.5", 22, REDIR_BY_ADDR, NULL},
	    {SSH_BANNER, "2001:db8::5", 22, REDIR_BY_ADDR, NULL},
	};
	static const char auth[] = "Proxy-Authorization: Basic eDp5\r\n";
	static uint8_t peek[1024];
	char target[LIMIT_HOSTNAME + 16], head[REDIR_HEAD_MAX];
	char want[LIMIT_HOSTNAME + 64];
	char *p;
	struct netaddr a;
	size_t i, len;
	int by, calls, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].bytes == NULL) {
			len = make_hello(peek, "api.bench.test");
		} else {
			len = strlen(cases[i].bytes);
			memcpy(peek, cases[i].bytes, len);
		}
		assert_int_equal(netaddr_parse_literal(
				     cases[i].dst, strlen(cases[i].dst), &a),
		    0);
		calls = 0;
		by = redir_target(peek, len, &a, cases[i].port, known_name_for,
		    &calls, target, sizeof(target), NULL);
		assert_int_equal(by, cases[i].want_by);
		n = redir_connect_head(head, sizeof(head), target, by, &a, auth);
		assert_true(n > 0 && (size_t)n == strlen(head));
		/* one request head, the request line first, CRLF CRLF last */
		snprintf(want, sizeof(want), "CONNECT %s HTTP/1.1\r\n", target);
		assert_int_equal(strncmp(head, want, strlen(want)), 0);
		assert_non_null(strstr(head, auth));
		p = strstr(head, "\r\n\r\n");
		assert_non_null(p);
		assert_int_equal(p + 4 - head, n);
		p = strcasestr(head, "Slicer-Original-Destination");
		if (cases[i].want_pin == NULL) {
			if (p != NULL)
				fail_msg("case %zu: %s", i, head);
			continue;
		}
		snprintf(want, sizeof(want),
		    "\r\nSlicer-Original-Destination: %s\r\n",
		    cases[i].want_pin);
		if (strstr(head, want) == NULL)
			fail_msg("case %zu: no '%s' in %s", i, want + 2, head);
		/* once */
		assert_null(strcasestr(p + 1, "Slicer-Original-Destination"));
	}
	/* too small: nothing half-written is used */
	assert_int_equal(
	    netaddr_parse_literal("198.18.0.10", strlen("198.18.0.10"), &a), 0);
	assert_int_equal(redir_connect_head(head, 40, "git.bench.test:22",
			     REDIR_BY_DNS, &a, auth),
	    -1);
}

/* redir_name_fn over the test's stub. */
static int
stub_name_for(void *arg, const struct netaddr *a, char *name, size_t size)
{
	return dns_stub_name_for(arg, a, name, size);
}

static void
test_redirect_target_from_stub(void **state)
{
	char target[LIMIT_HOSTNAME + 16], name[300];
	struct netaddr a;
	ssize_t n;
	size_t len;

	(void)state;
	/* an ssh client to an address the stub answered: by name */
	n = udp_ask(0xa101, "cname.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_int_equal(
	    netaddr_parse_literal("192.0.2.50", strlen("192.0.2.50"), &a), 0);
	assert_int_equal(redir_target(SSH_BANNER, strlen(SSH_BANNER), &a, 22,
			     stub_name_for, stub, target, sizeof(target), NULL),
	    REDIR_BY_DNS);
	assert_string_equal(target, "cname.test:22");
	/* a TLS client without SNI to an AAAA answer */
	n = udp_ask(0xa102, "nosni.test", DNS_TYPE_AAAA, 0);
	assert_true(n > 0);
	assert_int_equal(
	    netaddr_parse_literal("2001:db8::1", strlen("2001:db8::1"), &a), 0);
	len = make_hello((uint8_t *)name, NULL);
	assert_int_equal(redir_target(name, len, &a, 443, stub_name_for, stub,
			     target, sizeof(target), NULL),
	    REDIR_BY_DNS);
	assert_string_equal(target, "nosni.test:443");
	/* never answered: the address */
	assert_int_equal(
	    netaddr_parse_literal("203.0.113.77", strlen("203.0.113.77"), &a),
	    0);
	assert_int_equal(redir_target(SSH_BANNER, strlen(SSH_BANNER), &a, 22,
			     stub_name_for, stub, target, sizeof(target), NULL),
	    REDIR_BY_ADDR);
	assert_string_equal(target, "203.0.113.77:22");
}

/* ------------------------------------------------------------------ */
/* TLS to the proxy                                                    */

static int64_t
mono_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void
test_tls_link(void **state)
{
	static uint8_t out[1024];
	struct tlsc_ctx *ctx, *wrong;
	struct dns_stub_stats st;
	struct dns_stub *s2;
	uint16_t port2, saved = stub_port;
	char err[256], name[32], *other;
	int hs = fake.ntls_handshake, i, fd, nbad = fake.nbad;
	size_t off = 0, qn;
	int64_t t0;
	ssize_t n;

	(void)state;
	if (!tlsc_available())
		skip();
	ctx = tlsc_ctx_new(fake.ca_pem, strlen(fake.ca_pem), err, sizeof(err));
	if (ctx == NULL)
		fail_msg("tlsc_ctx_new: %s", err);
	s2 = stub_start_tls(fake.tls_port, ctx, &port2);
	stub_port = port2;
	/* several queries, one after the other: one connection, one
	 * handshake */
	for (i = 0; i < 3; i++) {
		snprintf(name, sizeof(name), "tls%d.test", i);
		n = udp_ask((uint16_t)(0x5a00 + i), name, DNS_TYPE_A, 0);
		assert_true(n > 0);
		assert_int_equal(dns_msg_id(rbuf), 0x5a00 + i);
		assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
		assert_string_equal(
		    first_addr(rbuf, (size_t)n).text, "192.0.2.1");
	}
	dns_stub_get_stats(s2, &st);
	assert_int_equal(st.forwarded, 3);
	assert_int_equal(st.upstream, 1);
	assert_int_equal(fake.ntls_handshake, hs + 1);
	assert_int_equal(fake.nbad, nbad);

	/* an answer larger than one TLS record, over TCP */
	fd = tcp_client();
	qn = build_query(0x5a10, "huge.test", DNS_TYPE_AAAA, 0);
	tcp_put(out, &off, qbuf, qn);
	assert_int_equal(write(fd, out, off), (ssize_t)off);
	n = tcp_read_msg(fd, 3000);
	close(fd);
	assert_true(n > 16384);
	assert_int_equal(dns_msg_id(rbuf), 0x5a10);
	assert_int_equal(dns_msg_ancount(rbuf), 1000);

	/* the proxy closes its TLS connections: the next query opens
	 * another */
	for (i = 0; i < FAKE_CONNS; i++)
		if (fake.c[i].used && fake.c[i].ssl != NULL)
			fake_conn_close(&fake.c[i]);
	spin(50);
	n = udp_ask(0x5a20, "tls-again.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
	dns_stub_get_stats(s2, &st);
	assert_int_equal(st.upstream, 2);
	dns_stub_free(s2);

	/* a proxy certificate the pinned CA did not sign: SERVFAIL at
	 * once, not after the query timeout */
	other = tls_make_cert(NULL);
	wrong = tlsc_ctx_new(other, strlen(other), err, sizeof(err));
	assert_non_null(wrong);
	s2 = stub_start_tls(fake.tls_port, wrong, &port2);
	stub_port = port2;
	t0 = mono_ms();
	n = udp_ask(0x5b00, "wrong-ca.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_int_equal(dns_msg_id(rbuf), 0x5b00);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_SERVFAIL);
	assert_true(mono_ms() - t0 < 1000);
	dns_stub_get_stats(s2, &st);
	/* never sent: no connection came up */
	assert_int_equal(st.upstream, 0);
	assert_int_equal(st.forwarded, 0);
	assert_int_equal(st.errors, 1);
	dns_stub_free(s2);

	/* a server that never finishes the handshake: the connect deadline
	 * covers it, the query gets SERVFAIL at its own deadline */
	s2 = stub_start_tls(fake.port, ctx, &port2);
	stub_port = port2;
	t0 = mono_ms();
	{
		struct sockaddr_storage from;
		int ufd = udp_client(AF_INET, "127.0.0.1");

		qn = build_query(0x5b02, "no-handshake.test", DNS_TYPE_A, 0);
		udp_send_to(ufd, "127.0.0.1", qbuf, qn);
		n = udp_wait(ufd, LIMIT_DNS_QUERY_TIMEOUT_MS + 1000, &from);
		close(ufd);
	}
	assert_true(n > 0);
	assert_int_equal(dns_msg_id(rbuf), 0x5b02);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_SERVFAIL);
	assert_true(mono_ms() - t0 >= LIMIT_DNS_UPSTREAM_CONNECT_MS);
	dns_stub_get_stats(s2, &st);
	assert_int_equal(st.upstream, 0);
	dns_stub_free(s2);

	/* a plain stub pointed at the TLS port gets no answer it takes */
	s2 = stub_start(fake.tls_port, &port2);
	stub_port = port2;
	n = udp_ask(0x5b01, "plain-to-tls.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_SERVFAIL);
	dns_stub_free(s2);

	stub_port = saved;
	spin(20);
	tlsc_ctx_free(ctx);
	tlsc_ctx_free(wrong);
	free(other);
}

static void
test_token_refused(void **state)
{
	ssize_t n;

	(void)state;
	fake.status = 407;
	n = udp_ask(0xb001, "auth.test", DNS_TYPE_A, 0);
	fake.status = 200;
	assert_true(n > 0);
	assert_int_equal(dns_msg_id(rbuf), 0xb001);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_SERVFAIL);
	/* and nothing was cached */
	n = udp_ask(0xb002, "auth.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
}

static void
test_proxy_closes(void **state)
{
	char name[32];
	ssize_t n;
	int i;

	(void)state;
	/* the proxy drops every connection after one answer, without
	 * saying so: each next query still gets its answer */
	fake.close_after = 1;
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "close%d.test", i);
		n = udp_ask((uint16_t)(0xc000 + i), name, DNS_TYPE_A, 0);
		assert_true(n > 0);
		assert_int_equal(dns_msg_id(rbuf), 0xc000 + i);
		assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
	}
	fake.close_after = 0;
}

static void
test_retry_on_reuse(void **state)
{
	int i, nreq;
	ssize_t n;

	(void)state;
	/* drop every connection so the stub has none left */
	for (i = 0; i < FAKE_CONNS; i++)
		if (fake.c[i].used)
			fake_conn_close(&fake.c[i]);
	spin(50);
	fake.close_on_reuse = 1;
	n = udp_ask(0xc100, "reuse1.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
	/* the one connection is reused, closed under the request: the query
	 * goes again on a new connection, once */
	nreq = fake.nreq;
	n = udp_ask(0xc101, "reuse2.test", DNS_TYPE_A, 0);
	fake.close_on_reuse = 0;
	assert_true(n > 0);
	assert_int_equal(dns_msg_id(rbuf), 0xc101);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
	assert_int_equal(fake.nreq, nreq + 1);
}

static void
test_source_bound(void **state)
{
	struct dns_stub_stats before = stats();
	struct sockaddr_storage from;
	int flood, other, nflood = LIMIT_DNS_SOURCE_INFLIGHT + 8, i, got;
	char name[32];
	size_t n;
	ssize_t m;

	(void)state;
	flood = udp_client(AF_INET, "127.0.0.3");
	other = udp_client(AF_INET, "127.0.0.4");
	for (i = 0; i < nflood; i++) {
		snprintf(name, sizeof(name), "slow%d.test", i);
		n = build_query((uint16_t)(0xd000 + i), name, DNS_TYPE_A, 0);
		udp_send_to(flood, "127.0.0.1", qbuf, n);
	}
	spin(50);
	assert_int_equal(stats().limited, before.limited + 8);
	/* another source is answered at once, not after the flood */
	n = build_query(0xd100, "quick.test", DNS_TYPE_A, 0);
	udp_send_to(other, "127.0.0.1", qbuf, n);
	m = udp_wait(other, SLOW_MS / 2, &from);
	assert_true(m > 0);
	assert_int_equal(dns_msg_id(rbuf), 0xd100);
	/* the flood's admitted queries all finish */
	for (i = 0, got = 0; i < LIMIT_DNS_SOURCE_INFLIGHT; i++) {
		m = udp_wait(flood, 4000, &from);
		if (m > 0 && dns_msg_rcode(rbuf) == DNS_RCODE_NOERROR)
			got++;
	}
	assert_int_equal(got, LIMIT_DNS_SOURCE_INFLIGHT);
	assert_int_equal(udp_wait(flood, 200, &from), -1);
	close(flood);
	close(other);
}

static void
test_source_rate(void **state)
{
	struct dns_stub_stats before = stats();
	struct sockaddr_storage from;
	int fd, i, answered = 0, total = LIMIT_DNS_SOURCE_BURST + 200;
	int big = 8 << 20;
	struct timespec t0, t1;
	double secs;
	size_t n;

	(void)state;
	/* a fresh source may spend its burst, then the rate holds it */
	fd = udp_client(AF_INET, "127.0.0.6");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	n = build_query(0x7100, "a.test", DNS_TYPE_A, 0); /* cached */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < total; i++) {
		udp_send_to(fd, "127.0.0.1", qbuf, n);
		if (i % 50 == 49)
			spin(1);
	}
	spin(20);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	while (udp_wait(fd, 200, &from) > 0)
		answered++;
	close(fd);
	secs = (double)(t1.tv_sec - t0.tv_sec) +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	assert_true(answered >= LIMIT_DNS_SOURCE_BURST);
	assert_true(answered <=
		    LIMIT_DNS_SOURCE_BURST + LIMIT_DNS_SOURCE_RATE * secs + 5);
	assert_true(answered < total);
	assert_int_equal(
	    stats().limited - before.limited, (uint64_t)(total - answered));
}

static void
test_timeout(void **state)
{
	struct dns_stub_stats before = stats();
	ssize_t n;

	(void)state;
	/* the proxy never answers: SERVFAIL after the query timeout */
	{
		struct sockaddr_storage from;
		size_t qn = build_query(0xe002, "hang.test", DNS_TYPE_AAAA, 0);
		int fd = udp_client(AF_INET, "127.0.0.1");

		udp_send_to(fd, "127.0.0.1", qbuf, qn);
		n = udp_wait(fd, LIMIT_DNS_QUERY_TIMEOUT_MS + 1000, &from);
		close(fd);
	}
	assert_true(n > 0);
	assert_int_equal(dns_msg_id(rbuf), 0xe002);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_SERVFAIL);
	assert_true(stats().errors >= before.errors + 1);
	/* later queries are fine */
	n = udp_ask(0xe003, "after.test", DNS_TYPE_A, 0);
	assert_true(n > 0);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_NOERROR);
}

static void
test_proxy_down(void **state)
{
	struct dns_stub *s2;
	struct sockaddr_storage from;
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	uint16_t port2, saved = stub_port, dead;
	size_t n;
	ssize_t m;
	int fd;

	(void)state;
	/* a port nothing listens on */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	getsockname(fd, (struct sockaddr *)&sin, &len);
	dead = ntohs(sin.sin_port);
	close(fd);

	s2 = stub_start(dead, &port2);
	stub_port = port2;
	fd = udp_client(AF_INET, "127.0.0.1");
	n = build_query(0xf001, "down.test", DNS_TYPE_A, 0);
	udp_send_to(fd, "127.0.0.1", qbuf, n);
	/* refused at once, not after the query timeout */
	m = udp_wait(fd, 1000, &from);
	stub_port = saved;
	close(fd);
	dns_stub_free(s2);
	assert_true(m > 0);
	assert_int_equal(dns_msg_id(rbuf), 0xf001);
	assert_int_equal(dns_msg_rcode(rbuf), DNS_RCODE_SERVFAIL);
}

static void
test_stats(void **state)
{
	struct dns_stub_stats st = stats();

	(void)state;
	assert_true(st.queries > 40);
	assert_true(st.forwarded > 20);
	assert_true(st.cached >= 3);
	assert_true(st.denied >= 4);
	assert_true(st.errors >= 4);
	assert_true(st.limited >= 8);
	assert_int_equal(fake.nbad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_config_refused),
	    cmocka_unit_test(test_udp_answer),
	    cmocka_unit_test(test_cache_hit),
	    cmocka_unit_test(test_nxdomain_not_cached),
	    cmocka_unit_test(test_local_answers),
	    cmocka_unit_test(test_edns_options),
	    cmocka_unit_test(test_truncation),
	    cmocka_unit_test(test_tcp),
	    cmocka_unit_test(test_tcp_limits),
	    cmocka_unit_test(test_parallel),
	    cmocka_unit_test(test_garbage),
	    cmocka_unit_test(test_reply_source),
	    cmocka_unit_test(test_name_for),
	    cmocka_unit_test(test_redirect_target),
	    cmocka_unit_test(test_redirect_target_from_stub),
	    cmocka_unit_test(test_redirect_head),
	    cmocka_unit_test(test_tls_link),
	    cmocka_unit_test(test_token_refused),
	    cmocka_unit_test(test_proxy_closes),
	    cmocka_unit_test(test_retry_on_reuse),
	    cmocka_unit_test(test_source_bound),
	    cmocka_unit_test(test_source_rate),
	    cmocka_unit_test(test_timeout),
	    cmocka_unit_test(test_proxy_down),
	    cmocka_unit_test(test_stats),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
