/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * redirector.c - transparent TCP to CONNECT (see redirector.h).
 *
 * A connection goes through these states, each with a deadline:
 *
 *   PEEK      wait for the first bytes (MSG_PEEK); SO_RCVLOWAT is raised
 *             past what was seen so an incomplete ClientHello does not
 *             wake the loop again until more arrives
 *   WAIT      pause before another attempt at the proxy
 *   CONNECT   non-blocking connect to the proxy (marked socket)
 *   HANDSHAKE TLS to the proxy's TLS port
 *   ANSWER    CONNECT request out, response head in
 *   TUNNEL    bytes both ways: spliced (plain) through pipes borrowed
 *             from the redirector's pool only while bytes are in flight,
 *             a direction read only when epoll said it is readable; or
 *             buffers through the TLS layer
 *   REFUSED   an HTTP client's refusal: read the proxy's whole answer,
 *   LINGER    write it to the client, shut down, drain the client's input
 *
 * All teardown goes through rconn_close().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "buf.h"
#include "ev.h"
#include "http1.h"
#include "slicer_limits.h"
#include "log.h"
#include "netaddr.h"
#include "origdst.h"
#include "redirector.h"
#include "relay.h"
#include "sni.h"
#include "sock.h"
#include "tlsc.h"

/* <linux/netfilter_ipv4.h> and <linux/netfilter_ipv6/ip6_tables.h>
 * clash with <net/if.h>: the two option numbers are stable ABI. */
#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80
#endif

enum rconn_state {
	RC_PEEK = 1,
	RC_WAIT,
	RC_CONNECT,
	RC_HANDSHAKE,
	RC_ANSWER,
	RC_TUNNEL,
	RC_REFUSED,
	RC_LINGER,
};

struct redir;

struct rconn {
	struct redir *r;      /* borrowed */
	struct rconn *prev, *next;
	enum rconn_state state;
	unsigned long id;
	int cfd, ufd;
	struct ev_io cio, uio;
	struct ev_timer timer;
	struct netaddr odst;
	uint16_t oport;
	char target[LIMIT_HOSTNAME + 16]; /* authority for CONNECT */
	int by;                           /* enum redir_by: where it came
					   * from */
	int is_http;                      /* the client spoke HTTP */
	char *peek;                       /* owned, RC_PEEK only */
	size_t peeked;
	int is_lowat_raised;              /* SO_RCVLOWAT set past 1 */
	int attempts;
	struct tlsc *tls;  /* owned, TLS proxy link */
	struct buf uout;   /* to the proxy: CONNECT, then (TLS) client bytes */
	struct buf uin;    /* from the proxy: answer, then bytes to client */
	/* client -> proxy and back; plain: spliced, pipes from r->pool;
	 * TLS: only the is_eof flags are used */
	struct relay_dir cu, uc;
	uint32_t c_ready, u_ready; /* epoll events seen, not yet consumed */
	int is_c_shut, is_u_shut;
	int is_closed;
};

struct redir {
	struct ev *ev;          /* borrowed */
	struct redir_config cfg;
	char auth[600];         /* "Proxy-Authorization: Basic ...\r\n" */
	int lfd4, lfd6;
	struct ev_io lio4, lio6;
	struct ev_timer pause;  /* listeners paused after EMFILE */
	struct rconn *conns;
	unsigned long next_id;
	struct netaddr_set *local;
	int64_t local_at;
	struct redir_stats st;
	struct relay_pool pool; /* empty splice pipes for every tunnel */
};

/* Refresh the local address set at most this often. */
#define REDIR_LOCAL_REFRESH_MS 5000

static void rconn_drive(struct rconn *c);
static void rconn_dial(struct rconn *c);

/* ------------------------------------------------------------ teardown */

static void
rconn_free_cb(void *p)
{
	free(p);
}

static void
rconn_close_upstream(struct rconn *c)
{
	tlsc_free(c->tls);
	c->tls = NULL;
	ev_io_forget(&c->uio); /* the close takes it out of the epoll set */
	if (c->ufd != -1)
		close(c->ufd);
	c->ufd = -1;
}

static void
rconn_close(struct rconn *c, const char *why)
{
	struct redir *r = c->r;

	if (c->is_closed)
		return;
	c->is_closed = 1;
	log_debug("conn %lu: closed: %s", c->id, why);
	ev_timer_stop(r->ev, &c->timer);
	ev_io_forget(&c->cio); /* closed below */
	rconn_close_upstream(c);
	if (c->cfd != -1)
		close(c->cfd);
	c->cfd = -1;
	relay_dir_close(&r->pool, &c->cu);
	relay_dir_close(&r->pool, &c->uc);
	free(c->peek);
	c->peek = NULL;
	buf_release(&c->uout);
	buf_release(&c->uin);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		r->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	r->st.active--;
	ev_defer_free(r->ev, rconn_free_cb, c);
}

static void
rconn_set_state(struct rconn *c, enum rconn_state s, int64_t ms)
{
	c->state = s;
	ev_timer_arm(c->r->ev, &c->timer, ms);
}

/* --------------------------------------------------------- decisions */

static int
redir_is_local(struct redir *r, const struct netaddr *a)
{
	int64_t now = ev_now(r->ev);
	enum netaddr_class k = netaddr_classify(a);

	if (k == NETADDR_LOOPBACK || k == NETADDR_UNSPECIFIED)
		return 1;
	if (r->local == NULL || now - r->local_at > REDIR_LOCAL_REFRESH_MS) {
		if (r->local == NULL)
			r->local = calloc(1, sizeof(*r->local));
		if (r->local == NULL)
			return 0;
		/* on failure the set is empty, as it always was here */
		netaddr_set_free(r->local);
		(void)netaddr_local_addrs(r->local);
		r->local_at = now;
	}
	return netaddr_set_contains(r->local, a);
}

/* The original destination; 0, or -1 when missing or not acceptable. */
static int
rconn_origdst(struct rconn *c, int family)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int rc;

	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET6)
		rc = getsockopt(c->cfd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &ss,
		    &len);
	else
		rc = getsockopt(c->cfd, SOL_IP, SO_ORIGINAL_DST, &ss, &len);
	if (rc == -1 || netaddr_from_sockaddr((struct sockaddr *)&ss,
			    &c->odst) == -1)
		return -1;
	c->oport = ntohs(ss.ss_family == AF_INET6
			     ? ((struct sockaddr_in6 *)&ss)->sin6_port
			     : ((struct sockaddr_in *)&ss)->sin_port);
	/* a direct connection to the listener has itself as origdst */
	if (c->oport == 0 || c->oport == c->r->cfg.port ||
	    redir_is_local(c->r, &c->odst))
		return -1;
	return 0;
}

int
redir_target(const void *peek, size_t len, const struct netaddr *odst,
    uint16_t oport, redir_name_fn name_for, void *arg, char *target,
    size_t size, int *is_http)
{
	char name[LIMIT_HOSTNAME + 1], canon[LIMIT_HOSTNAME + 1];
	char a[INET6_ADDRSTRLEN];
	struct sni_info info;
	int rc, by;

	memset(&info, 0, sizeof(info));
	rc = len > 0 ? sni_peek(peek, len, &info) : SNI_INCOMPLETE;
	if (is_http != NULL)
		*is_http = info.proto == SNI_PROTO_HTTP;
	if (rc == SNI_FOUND) {
		snprintf(target, size, "%s:%u", info.name, (unsigned int)oport);
		by = REDIR_BY_PEEK;
	} else if (name_for != NULL &&
		   name_for(arg, odst, name, sizeof(name)) == 1 &&
		   sni_name_canon(name, strlen(name), canon, sizeof(canon)) ==
		       0) {
		/* only a well-formed host name, never an IP literal the
		 * stub happened to be asked for */
		snprintf(target, size, "%s:%u", canon, (unsigned int)oport);
		by = REDIR_BY_DNS;
	} else {
		netaddr_ntop(odst, a, sizeof(a));
		snprintf(target, size,
		    odst->family == AF_INET6 ? "[%s]:%u" : "%s:%u", a,
		    (unsigned int)oport);
		by = REDIR_BY_ADDR;
	}
	return by;
}

int
redir_connect_head(char *out, size_t size, const char *target, int by,
    const struct netaddr *odst, const char *auth)
{
	char pin[ORIGDST_LINE_MAX];
	int n;

	pin[0] = '\0';
	/* a name from the stub's answers holds only for the address it was
	 * answered with: the proxy dials that address or nothing */
	if (by == REDIR_BY_DNS && origdst_format(odst, pin, sizeof(pin)) == -1)
		return -1;
	n = snprintf(out, size,
	    "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s%sUser-Agent: slicer-agent\r\n"
	    "\r\n",
	    target, target, auth, pin);
	if (n < 0 || (size_t)n >= size)
		return -1;
	return n;
}

/* Decide the CONNECT target from what was peeked, and go. */
static void
rconn_decide(struct rconn *c)
{
	struct redir *r = c->r;
	int one = 1;

	c->by = redir_target(c->peek, c->peeked, &c->odst, c->oport,
	    r->cfg.name_for, r->cfg.name_arg, c->target, sizeof(c->target),
	    &c->is_http);
	switch (c->by) {
	case REDIR_BY_PEEK:
		r->st.by_name++;
		break;
	case REDIR_BY_DNS:
		r->st.by_dns++;
		break;
	default:
		r->st.by_addr++;
		break;
	}
	free(c->peek);
	c->peek = NULL;
	if (c->is_lowat_raised)
		setsockopt(c->cfd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof(one));
	c->is_lowat_raised = 0;
	/* the client waits quietly until the tunnel is up (its peeked bytes
	 * keep it readable: watched for nothing, as rconn_watch would) */
	ev_io_set(r->ev, &c->cio, EPOLLET);
	log_debug("conn %lu: CONNECT %s", c->id, c->target);
	rconn_dial(c);
}

static void
rconn_peek(struct rconn *c)
{
	struct sni_info info;
	ssize_t n;
	int rc, low;

	if (c->peek == NULL) {
		c->peek = malloc(SNI_PEEK_MAX);
		if (c->peek == NULL) {
			rconn_close(c, "out of memory");
			return;
		}
	}
	n = recv(c->cfd, c->peek, SNI_PEEK_MAX, MSG_PEEK);
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			rconn_close(c, "client error while peeking");
		return;
	}
	if (n == 0) {
		rconn_close(c, "client closed before sending");
		return;
	}
	if ((size_t)n == c->peeked || (size_t)n == SNI_PEEK_MAX) {
		/* nothing new (the client half-closed) or the buffer is full */
		c->peeked = (size_t)n;
		rconn_decide(c);
		return;
	}
	c->peeked = (size_t)n;
	rc = sni_peek(c->peek, c->peeked, &info);
	if (rc != SNI_INCOMPLETE) {
		rconn_decide(c);
		return;
	}
	/* wake up only once more bytes are there */
	low = (int)c->peeked + 1;
	setsockopt(c->cfd, SOL_SOCKET, SO_RCVLOWAT, &low, sizeof(low));
	c->is_lowat_raised = 1;
}

/* ------------------------------------------------------- proxy link */

static int
rconn_retry(struct rconn *c, const char *why)
{
	rconn_close_upstream(c);
	buf_release(&c->uin);
	buf_release(&c->uout);
	if (c->attempts >= REDIR_ATTEMPTS) {
		c->r->st.proxy_errors++;
		log_warnx("conn %lu: %s: proxy: %s (gave up after %d attempts)",
		    c->id, c->target, why, c->attempts);
		rconn_close(c, why);
		return -1;
	}
	rconn_set_state(c, RC_WAIT, (int64_t)c->attempts * REDIR_RETRY_MS);
	return 0;
}

static void
rconn_dial(struct rconn *c)
{
	struct redir *r = c->r;
	struct sockaddr_storage ss;
	char head[REDIR_HEAD_MAX];
	unsigned int sslen;
	int n;

	c->attempts++;
	netaddr_to_sockaddr(&r->cfg.url->addr, r->cfg.url->port, &ss, &sslen);
	c->ufd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (c->ufd == -1) {
		rconn_retry(c, "socket failed");
		return;
	}
	if (setsockopt(c->ufd, SOL_SOCKET, SO_MARK, &r->cfg.mark,
		sizeof(r->cfg.mark)) == -1) {
		/* unmarked, it would be redirected to us again */
		rconn_close(c, "cannot set SO_MARK (needs CAP_NET_ADMIN)");
		return;
	}
	sock_nodelay(c->ufd);
	if (connect(c->ufd, (struct sockaddr *)&ss, sslen) == -1 &&
	    errno != EINPROGRESS) {
		rconn_retry(c, strerror(errno));
		return;
	}
	buf_init(&c->uout, LIMIT_RELAY_BACKLOG);
	buf_init(&c->uin, LIMIT_HTTP_RESPONSE_HEAD + LIMIT_RELAY_BACKLOG);
	n = redir_connect_head(head, sizeof(head), c->target, c->by, &c->odst,
	    r->auth);
	if (n != -1 && buf_append(&c->uout, head, (size_t)n) == -1)
		n = -1;
	explicit_bzero(head, sizeof(head)); /* it held the token */
	if (n == -1 || ev_io_add(r->ev, &c->uio, c->ufd, EPOLLOUT) == -1) {
		rconn_close(c, "cannot start the proxy connection");
		return;
	}
	rconn_set_state(c, RC_CONNECT, REDIR_CONNECT_MS);
}

/* The proxy's answer to CONNECT is in uin. */
static void
rconn_answer(struct rconn *c)
{
	struct http1_response *resp;
	int rc;

	resp = calloc(1, sizeof(*resp));
	if (resp == NULL) {
		rconn_close(c, "out of memory");
		return;
	}
	rc = http1_parse_response(buf_ptr(&c->uin), c->uin.len, 0, 1, resp);
	if (rc == HTTP1_INCOMPLETE) {
		free(resp);
		return;
	}
	if (rc == HTTP1_BAD) {
		free(resp);
		c->r->st.proxy_errors++;
		rconn_close(c, "malformed answer from the proxy");
		return;
	}
	if (resp->status >= 200 && resp->status < 300) {
		buf_consume(&c->uin, resp->head_len);
		free(resp);
		c->r->st.tunnels++;
		buf_release(&c->uout);
		/* the client's first bytes were only peeked; the proxy
		 * was read until it had nothing more (level-triggered
		 * epoll reports anything newer) */
		c->c_ready = EPOLLIN;
		c->u_ready = 0;
		rconn_set_state(c, RC_TUNNEL, LIMIT_TUNNEL_IDLE_MS);
		return;
	}
	log_info("conn %lu: %s: the proxy said %d", c->id, c->target,
	    resp->status);
	free(resp);
	c->r->st.refused++;
	if (!c->is_http) {
		rconn_close(c, "refused by the proxy");
		return;
	}
	/* relay the proxy's whole answer (it closes after it) */
	rconn_set_state(c, RC_REFUSED, REDIR_LINGER_MS);
}

/* Read from the proxy into uin.  Returns bytes, 0 at EOF, -1 (EAGAIN or
 * an error); *is_drained: a plain read returned less than it asked for,
 * so the socket has nothing more for now. */
static ssize_t
rconn_uread(struct rconn *c, int *is_drained)
{
	char tmp[16384];
	size_t room = buf_room(&c->uin);
	ssize_t n;

	*is_drained = 0;
	if (room == 0) {
		errno = ENOBUFS;
		return -1;
	}
	if (room > sizeof(tmp))
		room = sizeof(tmp);
	if (c->tls != NULL)
		n = tlsc_read(c->tls, tmp, room);
	else
		n = recv(c->ufd, tmp, room, 0);
	if (n > 0 && buf_append(&c->uin, tmp, (size_t)n) == -1)
		return -1;
	*is_drained = c->tls == NULL && n > 0 && (size_t)n < room;
	return n;
}

static ssize_t
rconn_uwrite(struct rconn *c)
{
	ssize_t n;

	if (c->uout.len == 0)
		return 0;
	if (c->tls != NULL)
		n = tlsc_write(c->tls, buf_ptr(&c->uout), c->uout.len);
	else
		n = send(c->ufd, buf_ptr(&c->uout), c->uout.len, MSG_NOSIGNAL);
	if (n > 0)
		buf_consume(&c->uout, (size_t)n);
	return n;
}

static void
rconn_link(struct rconn *c)
{
	char msg[160];
	ssize_t n;
	int is_drained;

	if (c->state == RC_CONNECT) {
		if (sock_connect_result(c->ufd) == -1) {
			if (errno == EINPROGRESS || errno == EALREADY)
				return;
			rconn_retry(c, strerror(errno));
			return;
		}
		if (c->r->cfg.tls != NULL) {
			c->tls = tlsc_new(c->r->cfg.tls, c->ufd);
			if (c->tls == NULL) {
				rconn_close(c, "out of memory");
				return;
			}
			rconn_set_state(c, RC_HANDSHAKE, REDIR_CONNECT_MS);
		} else {
			rconn_set_state(c, RC_ANSWER, REDIR_CONNECT_MS);
		}
	}
	if (c->state == RC_HANDSHAKE) {
		if (tlsc_handshake(c->tls) == -1) {
			if (errno == EAGAIN)
				return;
			if (errno == ECONNRESET) {
				rconn_retry(c, "reset during the TLS handshake");
				return;
			}
			c->r->st.proxy_errors++;
			log_warnx("conn %lu: TLS to the proxy: %s", c->id,
			    tlsc_error(c->tls, msg, sizeof(msg)));
			rconn_close(c, "TLS handshake with the proxy failed");
			return;
		}
		rconn_set_state(c, RC_ANSWER, REDIR_CONNECT_MS);
	}
	if (c->state != RC_ANSWER)
		return;
	if (c->uout.len > 0) {
		n = rconn_uwrite(c);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			rconn_retry(c, "write to the proxy failed");
			return;
		}
		if (c->uout.len > 0)
			return;
		/* the proxy cannot have answered a request it has just been
		 * sent: epoll says when it has (TLS may hold bytes already) */
		if (c->tls == NULL)
			return;
	}
	for (;;) {
		n = rconn_uread(c, &is_drained);
		if (n > 0 && is_drained)
			break;
		if (n > 0)
			continue;
		if (n == 0) {
			/* closed before answering: restarting? */
			if (c->uin.len == 0)
				rconn_retry(c, "closed without an answer");
			else
				rconn_answer(c);
			if (!c->is_closed && c->state == RC_ANSWER)
				rconn_close(c, "truncated answer");
			return;
		}
		if (errno == EAGAIN || errno == EINTR)
			break;
		if (errno == ENOBUFS) {
			c->r->st.proxy_errors++;
			rconn_close(c, "the proxy's answer is too large");
			return;
		}
		if (c->uin.len == 0 && (errno == ECONNRESET || errno == EPIPE))
			rconn_retry(c, "reset without an answer");
		else
			rconn_close(c, "read from the proxy failed");
		return;
	}
	if (c->uin.len > 0)
		rconn_answer(c);
}

/* ----------------------------------------------------------- refusal */

static void
rconn_refused(struct rconn *c)
{
	char sink[4096];
	ssize_t n;
	int is_drained; /* read on to the end all the same */

	if (c->state == RC_REFUSED) {
		for (;;) {
			n = rconn_uread(c, &is_drained);
			if (n > 0)
				continue;
			if (n == -1 && (errno == EAGAIN || errno == EINTR))
				return;
			break; /* EOF, full, or error: send what we have */
		}
		rconn_close_upstream(c);
		/* drop the request the client sent (it was only peeked),
		 * so closing does not turn into a reset */
		while (recv(c->cfd, sink, sizeof(sink), 0) > 0)
			;
		rconn_set_state(c, RC_LINGER, REDIR_LINGER_MS);
	}
	if (c->uin.len > 0) {
		n = send(c->cfd, buf_ptr(&c->uin), c->uin.len, MSG_NOSIGNAL);
		if (n > 0)
			buf_consume(&c->uin, (size_t)n);
		else if (n == -1 && errno != EAGAIN && errno != EINTR) {
			rconn_close(c, "refused (client gone)");
			return;
		}
		if (c->uin.len > 0)
			return;
	}
	if (!c->is_c_shut) {
		shutdown(c->cfd, SHUT_WR);
		c->is_c_shut = 1;
	}
	for (;;) {
		n = recv(c->cfd, sink, sizeof(sink), 0);
		if (n > 0)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		rconn_close(c, "refused by the proxy (answer relayed)");
		return;
	}
}

/* ------------------------------------------------------------ tunnel */

/* Bytes from the proxy that arrived with its answer (or, over TLS, all
 * of them) go to the client from uin.  -1 on error. */
static int
rconn_flush_uin(struct rconn *c)
{
	ssize_t n;

	while (c->uin.len > 0) {
		n = send(c->cfd, buf_ptr(&c->uin), c->uin.len, MSG_NOSIGNAL);
		if (n > 0) {
			buf_consume(&c->uin, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		return -1;
	}
	buf_release(&c->uin);
	return 0;
}

/* Splice both ways; the proxy's bytes that came with its answer go
 * first.  -1 on error. */
static int
rconn_tunnel_plain(struct rconn *c)
{
	struct relay_pool *pool = &c->r->pool;

	if (relay_dir_splice(pool, &c->cu, c->cfd, &c->c_ready, c->ufd) == -1)
		return -1;
	if (rconn_flush_uin(c) == -1)
		return -1;
	if (c->uin.len == 0 &&
	    relay_dir_splice(pool, &c->uc, c->ufd, &c->u_ready, c->cfd) == -1)
		return -1;
	return 0;
}

static int
rconn_tunnel_tls(struct rconn *c)
{
	char tmp[16384];
	size_t room;
	ssize_t n;
	int is_drained;

	/* client -> uout -> TLS */
	while (!c->cu.is_eof && (room = buf_room(&c->uout)) > 0) {
		n = recv(c->cfd, tmp, room < sizeof(tmp) ? room : sizeof(tmp),
		    0);
		if (n > 0) {
			buf_append(&c->uout, tmp, (size_t)n);
			continue;
		}
		if (n == 0)
			c->cu.is_eof = 1;
		else if (errno != EAGAIN && errno != EINTR)
			return -1;
		break;
	}
	while (c->uout.len > 0) {
		n = rconn_uwrite(c);
		if (n > 0)
			continue;
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		break;
	}
	/* TLS -> uin -> client */
	for (;;) {
		if (rconn_flush_uin(c) == -1)
			return -1;
		if (c->uc.is_eof || c->uin.len > 0)
			break;
		buf_init(&c->uin, LIMIT_RELAY_BACKLOG);
		n = rconn_uread(c, &is_drained); /* TLS: never drained */
		if (n > 0)
			continue;
		if (n == 0)
			c->uc.is_eof = 1;
		else if (errno != EAGAIN && errno != EINTR)
			return -1;
		break;
	}
	return 0;
}

/*
 * A tunnel that failed on one side (a reset, an error): both sockets are
 * closed with a reset (SO_LINGER 0), so the other side sees a cut, not an
 * end of stream it could take for complete.
 */
static void
rconn_abort(struct rconn *c, const char *why)
{
	static const struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (c->cfd != -1)
		(void)setsockopt(c->cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (c->ufd != -1)
		(void)setsockopt(c->ufd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	rconn_close(c, why);
}

static void
rconn_tunnel(struct rconn *c)
{
	size_t cu_len, uc_len; /* bytes still on their way */
	int rc;

	rc = c->tls != NULL ? rconn_tunnel_tls(c) : rconn_tunnel_plain(c);
	if (rc == -1) {
		rconn_abort(c, "tunnel error");
		return;
	}
	cu_len = c->tls != NULL ? c->uout.len : c->cu.inpipe;
	uc_len = c->tls != NULL ? c->uin.len : c->uc.inpipe;
	if (c->cu.is_eof && cu_len == 0 && !c->is_u_shut) {
		/* over TLS: close_notify first, the proxy reads on until it */
		if (c->tls != NULL && tlsc_close_notify(c->tls) == -1) {
			if (errno != EAGAIN) {
				rconn_close(c, "tunnel error");
				return;
			}
		} else {
			/* the last end needs none: the close sends the FIN */
			if (!c->is_c_shut)
				shutdown(c->ufd, SHUT_WR);
			c->is_u_shut = 1;
		}
	}
	if (c->uc.is_eof && uc_len == 0 && c->uin.len == 0 &&
	    !c->is_c_shut) {
		if (!c->is_u_shut)
			shutdown(c->cfd, SHUT_WR);
		c->is_c_shut = 1;
	}
	if (c->is_c_shut && c->is_u_shut)
		rconn_close(c, "tunnel done");
}

/* ------------------------------------------------------------ driving */

/* Watch what the current state needs. */
static void
rconn_watch(struct rconn *c)
{
	struct ev *ev = c->r->ev;
	uint32_t ce = 0, ue = 0;

	switch (c->state) {
	case RC_PEEK:
		ce = EPOLLIN;
		break;
	case RC_CONNECT:
		ue = EPOLLOUT;
		break;
	case RC_HANDSHAKE:
		ue = tlsc_wants_write(c->tls) ? EPOLLOUT : EPOLLIN;
		break;
	case RC_ANSWER:
	case RC_REFUSED:
		ue = c->uout.len > 0 || (c->tls && tlsc_wants_write(c->tls))
			 ? EPOLLOUT
			 : EPOLLIN;
		break;
	case RC_LINGER:
		ce = EPOLLIN | (c->uin.len > 0 ? EPOLLOUT : 0);
		break;
	case RC_TUNNEL:
		if (c->tls == NULL) {
			/* a full pipe stops reading its side until the other
			 * side's EPOLLOUT lets it drain */
			if (relay_dir_wants_read(&c->cu))
				ce |= EPOLLIN;
			if (relay_dir_wants_write(&c->uc) || c->uin.len > 0)
				ce |= EPOLLOUT;
			if (relay_dir_wants_read(&c->uc) && c->uin.len == 0)
				ue |= EPOLLIN;
			if (relay_dir_wants_write(&c->cu))
				ue |= EPOLLOUT;
			break;
		}
		if (!c->cu.is_eof && c->uout.len < LIMIT_SPLICE_PIPE)
			ce |= EPOLLIN;
		if (c->uin.len > 0)
			ce |= EPOLLOUT;
		if (!c->uc.is_eof && c->uin.len == 0)
			ue |= EPOLLIN;
		if (c->uout.len > 0 || tlsc_wants_write(c->tls))
			ue |= EPOLLOUT;
		break;
	case RC_WAIT:
		break;
	}
	/*
	 * epoll reports EPOLLHUP and EPOLLERR whatever is asked for, and a
	 * level-triggered watch reports them on every wait while they hold:
	 * a socket wanted for nothing now (its direction ended, or the pipe
	 * it feeds is full) is watched edge-triggered, so that they wake the
	 * loop once, when they happen, instead of spinning it.
	 */
	ev_io_set(ev, &c->cio, ce != 0 ? ce : EPOLLET);
	if (c->ufd != -1)
		ev_io_set(ev, &c->uio, ue != 0 ? ue : EPOLLET);
}

static void
rconn_drive(struct rconn *c)
{
	enum rconn_state before = c->state;

	switch (c->state) {
	case RC_PEEK:
		rconn_peek(c);
		break;
	case RC_CONNECT:
	case RC_HANDSHAKE:
	case RC_ANSWER:
		rconn_link(c);
		break;
	case RC_TUNNEL:
		rconn_tunnel(c);
		if (!c->is_closed && c->state == RC_TUNNEL)
			ev_timer_arm(c->r->ev, &c->timer, LIMIT_TUNNEL_IDLE_MS);
		break;
	case RC_REFUSED:
	case RC_LINGER:
		rconn_refused(c);
		break;
	case RC_WAIT:
		break;
	}
	/* answer and handshake may have moved on to a state that has work:
	 * bytes that came with the answer, the client's peeked bytes */
	if (!c->is_closed && c->state == RC_TUNNEL &&
	    (c->uin.len > 0 || (before != RC_TUNNEL && c->tls == NULL)))
		rconn_tunnel(c);
	if (!c->is_closed && c->state == RC_REFUSED)
		rconn_refused(c);
	if (!c->is_closed)
		rconn_watch(c);
}

static void
rconn_io_cb(struct ev_io *io, uint32_t events)
{
	struct rconn *c = io->arg;
	int is_c = io == &c->cio;

	/*
	 * A reset after the end of stream: nothing from that side is left to
	 * relay and nothing can reach it; with no bytes moving, no read or
	 * write would ever see the error.  (A reset before the end is met by
	 * the read that reaches it, after the bytes that came first.)
	 */
	if ((events & EPOLLERR) && c->state == RC_TUNNEL &&
	    (is_c ? c->cu.is_eof : c->uc.is_eof) &&
	    sock_connect_result(io->fd) == -1) {
		rconn_close(c, is_c ? "client reset" : "proxy reset");
		return;
	}
	if (is_c)
		c->c_ready |= events;
	else
		c->u_ready |= events;
	rconn_drive(c);
}

static void
rconn_timer_cb(struct ev_timer *t)
{
	struct rconn *c = t->arg;

	switch (c->state) {
	case RC_PEEK:
		/* server speaks first, or a slow client: use the address */
		rconn_decide(c);
		break;
	case RC_WAIT:
		rconn_dial(c);
		break;
	case RC_CONNECT:
	case RC_HANDSHAKE:
	case RC_ANSWER:
		if (rconn_retry(c, "timed out") == 0)
			return;
		return;
	case RC_TUNNEL:
		rconn_close(c, "tunnel idle");
		return;
	case RC_REFUSED:
	case RC_LINGER:
		rconn_close(c, "refused by the proxy");
		return;
	}
	if (!c->is_closed)
		rconn_watch(c);
}

/* ------------------------------------------------------------ accept */

static void
redir_resume_cb(struct ev_timer *t)
{
	struct redir *r = t->arg;

	if (r->lfd4 != -1)
		ev_io_set(r->ev, &r->lio4, EPOLLIN);
	if (r->lfd6 != -1)
		ev_io_set(r->ev, &r->lio6, EPOLLIN);
}

static void
redir_accept_one(struct redir *r, int lfd, int family)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	struct rconn *c;
	int fd;

	fd = sock_accept(lfd, (struct sockaddr *)&peer, &plen);
	if (fd == -1) {
		if (errno == EMFILE || errno == ENFILE) {
			if (r->lfd4 != -1)
				ev_io_set(r->ev, &r->lio4, 0);
			if (r->lfd6 != -1)
				ev_io_set(r->ev, &r->lio6, 0);
			ev_timer_arm(r->ev, &r->pause, 1000);
		}
		return;
	}
	r->st.accepted++;
	if (r->st.active >= REDIR_MAX_CONNS) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->r = r;
	c->id = ++r->next_id;
	c->cfd = fd;
	c->ufd = -1;
	relay_dir_init(&c->cu);
	relay_dir_init(&c->uc);
	buf_init(&c->uout, LIMIT_RELAY_BACKLOG);
	buf_init(&c->uin, LIMIT_RELAY_BACKLOG);
	ev_io_init(&c->cio, rconn_io_cb, c);
	ev_io_init(&c->uio, rconn_io_cb, c);
	ev_timer_init(&c->timer, rconn_timer_cb, c);
	c->next = r->conns;
	if (r->conns != NULL)
		r->conns->prev = c;
	r->conns = c;
	r->st.active++;
	if (rconn_origdst(c, family) == -1) {
		r->st.bad_dst++;
		rconn_close(c, "no usable original destination");
		return;
	}
	if (ev_io_add(r->ev, &c->cio, fd, EPOLLIN) == -1) {
		rconn_close(c, "cannot watch the client");
		return;
	}
	rconn_set_state(c, RC_PEEK, REDIR_PEEK_MS);
}

static void
redir_accept_cb(struct ev_io *io, uint32_t events)
{
	struct redir *r = io->arg;
	int i;

	(void)events;
	/* a few per wakeup, so one listener cannot starve the loop */
	for (i = 0; i < 32; i++) {
		uint64_t before = r->st.accepted;

		redir_accept_one(r, io->fd, io == &r->lio6 ? AF_INET6 : AF_INET);
		if (r->st.accepted == before)
			break;
	}
}

struct redir *
redir_new(struct ev *ev, const struct redir_config *cfg, char *err,
    size_t errsz)
{
	struct redir *r;
	int n;

	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	r->ev = ev;
	r->cfg = *cfg;
	r->lfd4 = r->lfd6 = -1;
	ev_io_init(&r->lio4, redir_accept_cb, r);
	ev_io_init(&r->lio6, redir_accept_cb, r);
	ev_timer_init(&r->pause, redir_resume_cb, r);
	relay_pool_init(&r->pool);
	memcpy(r->auth, "Proxy-Authorization: ", 21);
	n = agentcfg_basic_auth(cfg->url, r->auth + 21, sizeof(r->auth) - 23);
	if (n < 0) {
		snprintf(err, errsz, "token too long");
		goto fail;
	}
	memcpy(r->auth + 21 + n, "\r\n", 3);
	/* marked: the input guard lets redirected flows reach only a socket
	 * with the agent's mark, so nobody else can hold the port for us */
	r->lfd4 = sock_tcp_listen_mark("0.0.0.0", cfg->port, 1024, cfg->mark);
	if (r->lfd4 == -1) {
		snprintf(err, errsz, "cannot listen on 0.0.0.0:%u: %s",
		    (unsigned int)cfg->port, strerror(errno));
		goto fail;
	}
	r->lfd6 = sock_tcp_listen_mark("::", cfg->port, 1024, cfg->mark);
	if (r->lfd6 == -1 && errno != EAFNOSUPPORT) {
		snprintf(err, errsz, "cannot listen on [::]:%u: %s",
		    (unsigned int)cfg->port, strerror(errno));
		goto fail;
	}
	if (ev_io_add(ev, &r->lio4, r->lfd4, EPOLLIN) == -1 ||
	    (r->lfd6 != -1 && ev_io_add(ev, &r->lio6, r->lfd6, EPOLLIN) == -1)) {
		snprintf(err, errsz, "cannot watch the listeners");
		goto fail;
	}
	return r;
fail:
	redir_free(r);
	return NULL;
}

void
redir_free(struct redir *r)
{
	if (r == NULL)
		return;
	while (r->conns != NULL)
		rconn_close(r->conns, "shutting down");
	ev_timer_stop(r->ev, &r->pause);
	ev_io_del(r->ev, &r->lio4);
	ev_io_del(r->ev, &r->lio6);
	if (r->lfd4 != -1)
		close(r->lfd4);
	if (r->lfd6 != -1)
		close(r->lfd6);
	relay_pool_reset(&r->pool);
	memset(r->auth, 0, sizeof(r->auth));
	netaddr_set_free(r->local);
	free(r->local);
	free(r);
}

void
redir_get_stats(const struct redir *r, struct redir_stats *s)
{
	*s = r->st;
}
