/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * conn.c - client connections on the proxy port (see conn.h).
 *
 * Every request is authenticated and judged on its own, so a policy change
 * applies to the next request on an open keep-alive connection.  Tunnels
 * record the generation they were judged at and are judged again by
 * conn_rejudge_all() when the policy changes.  All teardown goes through
 * conn_close(), which writes the audit record; the struct is freed after
 * the current event batch.
 *
 * An upstream connection left idle at a clean HTTP/1.1 message boundary
 * when its client connection ends (or moves to another upstream) is parked
 * in a pool (upool.h) keyed by (client, host, port, TLS), and a later
 * request of the same client to the same upstream takes it instead of
 * resolving, connecting and handshaking.  The request is judged before
 * anything is taken, as every request is.  The pool is flushed on every
 * policy change, on drain and on shutdown.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "audit.h"
#include "conn.h"
#include "dns.h"
#include "dnsgiven.h"
#include "firstflight.h"
#include "front.h"
#include "mitm.h"
#include "oauth.h"
#include "log.h"
#include "match.h"
#include "origdst.h"
#include "parse.h"
#include "peers.h"
#include "resolve.h"
#include "secmem.h"
#include "sni.h"
#include "sock.h"
#include "tlssess.h"
#include "token.h"
#include "upool.h"
#include "worker.h"

#define CONN_OUT_MAX (LIMIT_RELAY_BACKLOG + 2 * LIMIT_HTTP_RESPONSE_HEAD)
#define CONN_DRAIN_MAX (256 * 1024)
#define CONN_DRAIN_MS 2000
/* connections of one address being refused (answered 429, then closed) at
 * once on a loop; more are closed without an answer */
#define CONN_PEER_REFUSING 64
/* rounds of one drive before the rest waits for the next loop turn */
#define CONN_DRIVE_ROUNDS 8

static void conn_drive(struct conn *c);
static void conn_kick_cb(struct ev_timer *t);
static void conn_client_cb(struct ev_io *io, uint32_t events);
static void conn_upstream_cb(struct ev_io *io, uint32_t events);
static void conn_dial_next(struct conn *c);
static void conn_update_events(struct conn *c);
static void conn_release_upstream(struct conn *c);
static void conn_process_head(struct conn *c);
static void conn_buf_wipe_release(struct buf *b);
static void conn_dns_done(struct conn *c);


static const char *
conn_status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 407: return "Proxy Authentication Required";
	case 408: return "Request Timeout";
	case 401: return "Unauthorized";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

static void
conn_set_state(struct conn *c, enum conn_state st, int64_t timeout_ms)
{
	c->state = st;
	c->deadline_ms = ev_now(c->w->ev) + timeout_ms;
}

static void
conn_free(void *p)
{
	struct conn *c = p;

	buf_release(&c->cin);
	buf_release(&c->cout);
	buf_release(&c->uin);
	conn_buf_wipe_release(&c->uout);
	conn_buf_wipe_release(&c->replay);
	conn_buf_wipe_release(&c->retry);
	free(c->dnsq);
	free(c->path);
	free(c);
}

/* Release a buffer that may have held a credential. */
static void
conn_buf_wipe_release(struct buf *b)
{
	if (b->data != NULL)
		secmem_wipe(b->data, b->cap);
	buf_release(b);
}

/* Close fd with a reset instead of FIN (SO_LINGER 0). */
static void
conn_reset_socket(int fd)
{
	static const struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

static void
conn_close_upstream(struct conn *c)
{
	/* close_notify (best effort) also keeps the session resumable; a
	 * connection given up on a cut gets a reset instead */
	xport_reset(&c->ux, !c->is_abort);
	if (c->ufd != -1 && c->is_abort)
		conn_reset_socket(c->ufd);
	if (c->ufd != -1) {
		ev_io_forget(&c->uio);
		close(c->ufd);
		c->ufd = -1;
	}
	xport_init(&c->ux, -1);
	c->u_ready = 0;
	c->is_up_reusable = c->is_up_poolable = c->is_up_pooled = 0;
	c->up_host[0] = c->up_client[0] = '\0';
	buf_release(&c->uin);
	if (c->has_secret_bytes)
		conn_buf_wipe_release(&c->uout);
	else
		buf_release(&c->uout);
}

/* The intercepted stream is TLS (a plain HTTP one is inspected too). */
static int
conn_inner_tls(const struct conn *c)
{
	return c->is_intercept && !c->is_inner_plain;
}

/* The audit record for the current request. */
static void
conn_audit(struct conn *c, const char *event, const char *decision,
    const char *reason)
{
	struct audit_rec r;
	int64_t now = parse_mono_ms();

	audit_rec_begin(&r, event);
	audit_rec_int(&r, "conn", (long long)c->id);
	audit_rec_str(&r, "peer", c->peer);
	audit_rec_str(&r, "client", c->client[0] ? c->client : NULL);
	audit_rec_str(&r, "method", c->method[0] ? c->method : NULL);
	audit_rec_str(&r, "scheme", !c->is_intercept ?
	    (c->is_connect ? "tunnel" : "http") :
	    !c->is_inner_known ? NULL : c->is_inner_plain ? "http" : "https");
	audit_rec_str(&r, "host", c->host[0] ? c->host : NULL);
	if (c->port)
		audit_rec_int(&r, "port", c->port);
	else
		audit_rec_null(&r, "port");
	audit_rec_str(&r, "path", c->path != NULL && c->path[0] ?
	    c->path : NULL);
	audit_rec_str(&r, "decision", decision);
	audit_rec_str(&r, "rule", c->rule_id[0] ? c->rule_id : NULL);
	audit_rec_str(&r, "reason", reason);
	if (c->status)
		audit_rec_int(&r, "status", c->status);
	else
		audit_rec_null(&r, "status");
	audit_rec_int(&r, "bytes_in", (long long)c->bytes_up);
	audit_rec_int(&r, "bytes_out", (long long)c->bytes_down);
	audit_rec_int(&r, "duration_ms",
	    c->started_ms ? now - c->started_ms : 0);
	audit_rec_str(&r, "secret", c->secret[0] ? c->secret : NULL);
	audit_rec_str(&r, "mode", c->is_intercept ? "intercept" :
	    c->is_connect ? "tunnel" : "forward");
	audit_rec_emit(c->px->audit, &r);
}

/*
 * The connect record of an intercepted CONNECT, once its first byte has
 * said TLS or plain HTTP (scheme https or http), or at its close when it
 * never sent one (scheme null).
 */
static void
conn_audit_connect(struct conn *c)
{
	if (!c->is_connect_audit_due)
		return;
	c->is_connect_audit_due = 0;
	conn_audit(c, "connect", "allow", "intercept");
}

/*
 * The one way a connection ends.  A tunnel or an upgraded connection gets
 * its close record here, however it ends (decision "deny" when the policy
 * ended it).
 */
static void
conn_close_as(struct conn *c, const char *decision, const char *reason)
{
	struct worker *w = c->w;

	if (c->is_closed)
		return;
	c->is_closed = 1;
	conn_audit_connect(c); /* closed before its first byte */
	if (c->state == CONN_TUNNEL || c->state == CONN_RELAY)
		conn_audit(c, "close", decision, reason);
	log_debug("conn %llu: close: %s", (unsigned long long)c->id, reason);
	if (c->rq != NULL) {
		resolve_cancel(c->rq);
		c->rq = NULL;
	}
	if (c->is_dns_inflight)
		conn_dns_done(c);
	/* a refresh run for us on the main loop finds us gone (by id) */
	if (c->ow != NULL && !c->is_ow_remote)
		oauth_cancel(c->px, c->ow);
	c->ow = NULL;
	c->is_ow_remote = 0;
	conn_release_upstream(c);
	relay_dir_close(&w->pipes, &c->cu);
	relay_dir_close(&w->pipes, &c->uc);
	if (c->front != NULL) {
		struct front *f = c->front;

		c->front = NULL;
		front_conn_closed(f, c->is_abort);
	}
	/* an end passed on as it came: a cut as a reset, an upstream's end
	 * without close_notify without one */
	xport_reset(&c->cx, !c->is_abort && !c->is_unclean_end);
	if (c->is_abort)
		conn_reset_socket(c->cfd);
	ev_timer_stop(w->ev, &c->kick);
	ev_io_forget(&c->cio);
	close(c->cfd);
	c->cfd = -1;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	atomic_fetch_sub(&w->nconns, 1);
	if (c->peer_slot != PEER_NONE)
		peers_give(w->peers, &c->peer_addr, (enum peer_slot)c->peer_slot);
	c->peer_slot = PEER_NONE;
	ev_defer_free(w->ev, conn_free, c);
}

static void
conn_close(struct conn *c, const char *reason)
{
	conn_close_as(c, "allow", reason);
}

/*
 * A response or a tunnel cut short: both ends see a reset, the client no
 * close_notify, so that nothing the client cannot frame itself (a body
 * read until close, a tunnel's stream) passes for complete.
 */
static void
conn_abort(struct conn *c, const char *reason)
{
	c->is_abort = 1;
	conn_close(c, reason);
}

void
conn_set_front(struct conn *c, struct front *f)
{
	c->front = f;
}

void
conn_client_reset(struct conn *c)
{
	c->front = NULL; /* it is closing */
	if (c->state == CONN_FORWARD)
		conn_audit(c, "request", "error", "client reset");
	conn_abort(c, "client reset");
}

/* Reset per-request fields before parsing the next head. */
static void
conn_reset_request(struct conn *c)
{
	if (!c->is_intercept)
		c->client[0] = '\0';
	c->method[0] = c->host[0] = '\0';
	if (c->path != NULL)
		c->path[0] = '\0';
	c->rule_id[0] = c->secret[0] = '\0';
	c->port = 0;
	c->is_connect = c->is_head = c->is_upgrade = 0;
	c->started_ms = 0;
	c->bytes_up = c->bytes_down = 0;
	c->status = 0;
	c->is_req_done = c->is_resp_done = c->is_resp_head_done = 0;
	c->is_req_keep_alive = c->is_resp_keep_alive = 0;
	c->is_unclean_end = 0;
	c->req_framing = c->resp_framing = HTTP1_BODY_NONE;
	c->req_remaining = c->resp_remaining = 0;
	c->naddrs = c->addr_idx = 0;
	c->deny_reason[0] = '\0';
	c->is_oauth = c->is_replayed = c->is_replayable = 0;
	c->is_token_call = 0;
	c->token_secret[0] = '\0';
	conn_buf_wipe_release(&c->replay);
	c->is_resp_http11 = c->is_up_pooled = c->is_pool_skip = 0;
	conn_buf_wipe_release(&c->retry);
}

/*
 * Answer the client ourselves and close.  The body is a short plain-text
 * line naming the reason; reason must not carry secrets (it never does:
 * it is built from canonical host names, numbers and fixed strings).
 */
static void
conn_respond_close(struct conn *c, int status, const char *reason)
{
	char body[256];
	int n;

	n = snprintf(body, sizeof(body), "slicer-proxy: %s\n",
	    reason ? reason : conn_status_text(status));
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	c->status = status;
	conn_release_upstream(c);
	buf_printf(&c->cout,
	    "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n%s\r\n",
	    status, conn_status_text(status), n,
	    status == 407 ? "Proxy-Authenticate: Basic realm=\"slicer-proxy\"\r\n"
			  : "");
	buf_append(&c->cout, body, (size_t)n);
	conn_set_state(c, CONN_FLUSH_CLOSE, LIMIT_IO_TIMEOUT_MS);
	conn_drive(c);
}

/* Deny with an audit record, then answer and close. */
static void
conn_deny(struct conn *c, int status, const char *reason)
{
	c->status = status;
	if (status == 407)
		counter_bump(&c->w->counters.auth_failed);
	else
		counter_bump(&c->w->counters.denied);
	conn_audit(c, c->is_connect ? "connect" : "request", "deny", reason);
	conn_respond_close(c, status, reason);
}

/* The path buffer, allocated for the first HTTP request of a connection.
 * 0, or -1 after answering 503. */
static int
conn_path_alloc(struct conn *c)
{
	if (c->path != NULL)
		return 0;
	c->path = malloc(LIMIT_PATH + 1);
	if (c->path == NULL) {
		conn_deny(c, 503, "out of memory");
		return -1;
	}
	c->path[0] = '\0';
	return 0;
}

struct conn *
conn_accept(struct worker *w, int fd, const struct sockaddr *peer)
{
	struct proxy *px = w->px;
	struct conn *c;
	struct netaddr na;
	enum peer_slot slot = PEER_NONE;
	int has_na;

	if (proxy_nconns(px) >= LIMIT_CONNS) {
		counter_bump(&w->counters.conns_limited);
		close(fd);
		return NULL;
	}
	has_na = peer != NULL && netaddr_from_sockaddr(peer, &na) == 0;
	if (has_na) {
		slot = peers_take(w->peers, &na, w->peer_limit,
		    CONN_PEER_REFUSING);
		if (slot == PEER_NONE) {
			/* refusals of this address in progress already: no
			 * answer, no record, only the count */
			counter_bump(&w->counters.peer_limited);
			close(fd);
			return NULL;
		}
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		if (has_na)
			peers_give(w->peers, &na, slot);
		close(fd);
		return NULL;
	}
	c->px = px;
	c->w = w;
	c->id = proxy_next_conn_id(w);
	c->cfd = fd;
	c->ufd = -1;
	xport_init(&c->cx, fd);
	xport_init(&c->ux, -1);
	relay_dir_init(&c->cu);
	relay_dir_init(&c->uc);
	buf_init(&c->cin, LIMIT_HTTP_HEAD + LIMIT_RELAY_BACKLOG);
	buf_init(&c->cout, CONN_OUT_MAX);
	buf_init(&c->uin, LIMIT_HTTP_RESPONSE_HEAD + LIMIT_RELAY_BACKLOG);
	buf_init(&c->uout, LIMIT_HTTP_HEAD + LIMIT_RELAY_BACKLOG);
	buf_init(&c->replay, 0);
	buf_init(&c->retry, 0);
	if (has_na) {
		netaddr_ntop(&na, c->peer, sizeof(c->peer));
		c->peer_addr = na;
		c->peer_slot = slot;
	} else {
		snprintf(c->peer, sizeof(c->peer), "unknown");
	}
	ev_io_init(&c->cio, conn_client_cb, c);
	ev_io_init(&c->uio, conn_upstream_cb, c);
	ev_timer_init(&c->kick, conn_kick_cb, c);
	if (ev_io_add(w->ev, &c->cio, fd, EPOLLIN) == -1) {
		if (has_na)
			peers_give(w->peers, &na, slot);
		close(fd);
		free(c);
		return NULL;
	}
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	atomic_fetch_add(&w->nconns, 1);
	conn_set_state(c, CONN_READ_HEAD, LIMIT_HEAD_TIMEOUT_MS);
	if (c->peer_slot == PEER_REFUSING) {
		/* one address (a VM) holds its share already: the others
		 * keep theirs */
		char msg[160];

		snprintf(msg, sizeof(msg), "too many connections from %s "
		    "(at most %u)", c->peer, px->cfg.max_conns_per_peer);
		c->status = 429;
		counter_bump(&w->counters.peer_limited);
		conn_audit(c, "limit", "deny", msg);
		conn_respond_close(c, 429, msg);
		if (c->is_closed)
			return NULL; /* ended already (a write failed) */
	}
	return c;
}

/* ---------------------------------------------------------------- auth */

/* Authenticate the request; on success the client name is in c->client. */
static const struct client *
conn_authenticate(struct conn *c, const struct http1_request *req)
{
	const struct http1_header *h;
	const struct client *cl = NULL;
	char tok[TOKEN_MAX + 1];
	int n;

	h = http1_find_header(req->headers, req->nheaders,
	    "Proxy-Authorization");
	if (h == NULL)
		return NULL;
	n = token_from_proxy_auth(h->value.p, h->value.len, tok);
	if (n > 0)
		cl = store_client_by_token(c->px->store, tok, (size_t)n);
	secmem_wipe(tok, sizeof(tok));
	if (cl != NULL) {
		snprintf(c->client, sizeof(c->client), "%s", cl->name);
		c->client_serial = cl->serial;
	}
	return cl;
}

/*
 * The client that authenticated c, while it exists: one deleted and
 * created again under the same name (a token rotated) is another client,
 * and c, authenticated with the old token, gets nothing of it.
 */
static struct client *
conn_client(const struct conn *c)
{
	struct client *cl = store_client_find(c->px->store, c->client);

	return cl != NULL && cl->serial == c->client_serial ? cl : NULL;
}

/* --------------------------------------------------- local endpoints */

static void
conn_local_reply(struct conn *c, int status, const char *ctype,
    const char *body, size_t len)
{
	c->status = status;
	buf_printf(&c->cout,
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	    "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
	    status, conn_status_text(status), ctype, len);
	buf_append(&c->cout, body, len);
	conn_set_state(c, CONN_FLUSH_CLOSE, LIMIT_IO_TIMEOUT_MS);
	conn_drive(c);
}

/* ------------------------------------------------------ DNS over HTTP */

/* DNS queries on /slicer/dns-query: bodies of at most this many bytes. */
#define CONN_DNS_BODY_MAX 4096
/* TTL ceiling on answers, so a revoked name stops resolving soon. */
#define CONN_DNS_TTL_MAX 60

static int
conn_b64url_decode(const char *s, size_t len, unsigned char *out,
    size_t outsz, size_t *outlen)
{
	unsigned int acc = 0;
	int bits = 0;
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		int v;
		char ch = s[i];

		if (ch >= 'A' && ch <= 'Z')
			v = ch - 'A';
		else if (ch >= 'a' && ch <= 'z')
			v = ch - 'a' + 26;
		else if (ch >= '0' && ch <= '9')
			v = ch - '0' + 52;
		else if (ch == '-')
			v = 62;
		else if (ch == '_')
			v = 63;
		else if (ch == '=')
			break;
		else
			return -1;
		acc = (acc << 6) | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outsz)
				return -1;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = o;
	return 0;
}

/* Answer the DNS request on a keep-alive connection and go on reading. */
static void
conn_dns_reply(struct conn *c, const unsigned char *msg, size_t len,
    uint32_t ttl, const char *decision, const char *reason)
{
	c->status = 200;
	c->bytes_down = len;
	buf_printf(&c->cout, "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/dns-message\r\nContent-Length: %zu\r\n"
	    "Cache-Control: max-age=%u\r\n%s\r\n", len, ttl,
	    c->is_req_keep_alive ? "" : "Connection: close\r\n");
	buf_append(&c->cout, msg, len);
	conn_audit(c, "dns", decision, reason);
	free(c->dnsq);
	c->dnsq = NULL;
	if (!c->is_req_keep_alive) {
		conn_set_state(c, CONN_FLUSH_CLOSE, LIMIT_IO_TIMEOUT_MS);
		conn_drive(c);
		return;
	}
	conn_reset_request(c);
	conn_set_state(c, CONN_READ_HEAD, LIMIT_IDLE_TIMEOUT_MS);
	c->is_idle_wait = 1;
	conn_drive(c);
}

static int
conn_dns_addr_ok(const struct netaddr *a, void *arg)
{
	struct proxy *px = arg;
	const char *why;

	return netaddr_check(a, &px->own, &px->cfg.deny, &px->cfg.allow, &why);
}

/* One upstream DNS lookup of c's client ended (answered or abandoned). */
static void
conn_dns_done(struct conn *c)
{
	struct client *cl;

	/* the store read as a decision reads it; the counter is atomic */
	proxy_judge_lock(c->px);
	cl = conn_client(c);
	if (cl != NULL)
		store_client_dns_give(cl);
	proxy_judge_unlock(c->px);
	c->is_dns_inflight = 0;
}

struct conn_dns_given {
	struct proxy *px;
	uint64_t client;
	int64_t now_ms;
};

static void
conn_dns_given_one(const char *name, const struct netaddr *addr,
    uint32_t ttl, void *arg)
{
	const struct conn_dns_given *g = arg;
	char canon[LIMIT_HOSTNAME + 3];

	(void)ttl;
	if (match_host_canon(name, strlen(name), canon, sizeof(canon)) == 0)
		dnsgiven_add(g->px->dnsgiven, g->client, canon, addr,
		    g->now_ms, g->now_ms + DNSGIVEN_KEEP_MS);
}

/*
 * The addresses of an answer about to go to c's client (the question
 * name's, through its CNAMEs; denied ones already removed): a connection
 * the agent pins to one of them is dialled even once the name's answers
 * have moved on (dnsgiven.h).
 */
static void
conn_dns_remember(struct conn *c, const unsigned char *msg, size_t len)
{
	struct conn_dns_given g = {
		.px = c->px,
		.client = c->client_serial,
		.now_ms = parse_mono_ms(),
	};

	(void)dns_answer_addrs(msg, len, conn_dns_given_one, &g);
}

static void
conn_dns_answered(void *arg, int status, int rcode, const unsigned char *msg,
    size_t len)
{
	struct conn *c = arg;
	unsigned char out[LIMIT_DNS_MESSAGE];
	struct dns_query q;
	size_t outlen = 0, dropped = 0;
	uint32_t min_ttl = CONN_DNS_TTL_MAX;
	char reason[64];
	int rc;

	c->rq = NULL;
	conn_dns_done(c);
	if (dns_parse_query(c->dnsq, c->dnsq_len, &q) != DNS_OK) {
		conn_close(c, "dns: query vanished");
		return;
	}
	proxy_judge_lock(c->px); /* own changes */
	rc = status != 0 || dns_filter_addrs(msg, len, conn_dns_addr_ok, c->px,
	    out, sizeof(out), &outlen, &dropped) == -1;
	proxy_judge_unlock(c->px);
	if (rc ||
	    dns_cap_ttl(out, outlen, CONN_DNS_TTL_MAX, 0, &min_ttl) == -1) {
		if (status == 0)
			rcode = DNS_RCODE_SERVFAIL;
		dns_build_reply(c->dnsq, c->dnsq_len, &q, rcode, out,
		    sizeof(out), &outlen);
		conn_dns_reply(c, out, outlen, 0, "allow",
		    rcode == DNS_RCODE_NXDOMAIN ? "name does not exist" :
						  "lookup failed");
		return;
	}
	conn_dns_remember(c, out, outlen);
	dns_msg_set_id(out, q.id);
	out[2] &= (unsigned char)~(DNS_FLAG_AA >> 8); /* we are no authority */
	if (min_ttl > CONN_DNS_TTL_MAX)
		min_ttl = CONN_DNS_TTL_MAX;
	snprintf(reason, sizeof(reason), dropped ? "%zu denied address(es) "
	    "removed" : "answered", dropped);
	conn_dns_reply(c, out, outlen, min_ttl, "allow", reason);
}

static const char *
conn_dns_type_name(uint16_t t)
{
	switch (t) {
	case DNS_TYPE_A: return "A";
	case DNS_TYPE_AAAA: return "AAAA";
	case DNS_TYPE_CNAME: return "CNAME";
	case DNS_TYPE_HTTPS: return "HTTPS";
	case DNS_TYPE_SVCB: return "SVCB";
	case DNS_TYPE_MX: return "MX";
	case DNS_TYPE_TXT: return "TXT";
	default: return "other";
	}
}

/*
 * A DNS query from client cl.  Names no rule of the client matches are
 * answered NXDOMAIN (without SOA, so the denial is not cached) and never
 * reach an upstream resolver; allowed names are resolved with c-ares and
 * the answer loses every address the proxy would refuse to dial.
 */
static void
conn_dns_query(struct conn *c, const struct client *cl)
{
	struct client *counted;
	unsigned char out[512];
	struct dns_query q;
	size_t outlen;
	int rc, is_limited;

	counter_bump(&c->w->counters.dns_queries);
	rc = dns_parse_query(c->dnsq, c->dnsq_len, &q);
	if (rc == DNS_DROP) {
		conn_deny(c, 400, "not a DNS query");
		return;
	}
	if (rc != DNS_OK) {
		if (dns_build_bare(c->dnsq, c->dnsq_len, rc == DNS_NOTIMP ?
		    DNS_RCODE_NOTIMP : DNS_RCODE_FORMERR, out, sizeof(out),
		    &outlen) == -1) {
			conn_deny(c, 400, "malformed DNS query");
			return;
		}
		conn_dns_reply(c, out, outlen, 0, "deny", q.error);
		return;
	}
	snprintf(c->host, sizeof(c->host), "%s", q.name);
	snprintf(c->method, sizeof(c->method), "%s",
	    conn_dns_type_name(q.qtype));
	if (dns_name_eq(q.name, "use-application-dns.net")) {
		/* browsers keep their own DNS-over-HTTPS off */
		dns_build_reply(c->dnsq, c->dnsq_len, &q, DNS_RCODE_NXDOMAIN,
		    out, sizeof(out), &outlen);
		conn_dns_reply(c, out, outlen, 0, "deny", "canary domain");
		return;
	}
	if (!c->px->cfg.is_dns_forward &&
	    !store_host_allowed(c->px->store, cl, q.name, parse_now_ms())) {
		counter_bump(&c->w->counters.dns_denied);
		dns_build_reply(c->dnsq, c->dnsq_len, &q, DNS_RCODE_NXDOMAIN,
		    out, sizeof(out), &outlen);
		conn_dns_reply(c, out, outlen, 0, "deny",
		    "no rule allows this name");
		return;
	}
	if (q.qtype == DNS_TYPE_HTTPS || q.qtype == DNS_TYPE_SVCB) {
		/* no ECH or alt-svc hints: the SNI must stay visible */
		dns_build_reply(c->dnsq, c->dnsq_len, &q, DNS_RCODE_NOERROR,
		    out, sizeof(out), &outlen);
		conn_dns_reply(c, out, outlen, CONN_DNS_TTL_MAX, "allow",
		    "HTTPS/SVCB answered empty");
		return;
	}
	/* the counter is shared by every loop's decisions: atomic (the
	 * client stays while this decision holds its loop's lock) */
	counted = store_client_find(c->px->store, cl->name);
	is_limited = counted == NULL || store_client_dns_take(counted,
	    LIMIT_DNS_INFLIGHT_PER_CLIENT) == -1;
	if (is_limited) {
		dns_build_reply(c->dnsq, c->dnsq_len, &q, DNS_RCODE_SERVFAIL,
		    out, sizeof(out), &outlen);
		counter_bump(&c->w->counters.dns_limited);
		conn_dns_reply(c, out, outlen, 0, "deny",
		    "too many lookups in flight for this client");
		return;
	}
	c->is_dns_inflight = 1;
	conn_set_state(c, CONN_LOCAL_DNS, LIMIT_RESOLVE_TIMEOUT_MS);
	c->rq = resolve_query_raw(c->w->resolver, q.name, q.qtype,
	    conn_dns_answered, c);
}

/* /slicer/dns-query (RFC 8484): POST with a body, or GET ?dns=base64url. */
static void
conn_handle_dns(struct conn *c, const struct http1_request *req)
{
	const struct client *cl;
	const struct http1_header *ct;
	char param[CONN_DNS_BODY_MAX * 2];
	size_t n;

	cl = conn_authenticate(c, req);
	if (cl == NULL) {
		c->status = 401;
		counter_bump(&c->w->counters.auth_failed);
		conn_audit(c, "dns", "deny", "missing or invalid proxy token");
		conn_respond_close(c, 401, "missing or invalid proxy token");
		return;
	}
	c->is_req_keep_alive = req->is_keep_alive;
	c->dnsq = malloc(CONN_DNS_BODY_MAX);
	if (c->dnsq == NULL) {
		conn_deny(c, 503, "out of memory");
		return;
	}
	if (http1_slice_eq(req->method, "POST")) {
		ct = http1_find_header(req->headers, req->nheaders,
		    "Content-Type");
		if (ct == NULL || !http1_slice_eq(ct->value,
		    "application/dns-message")) {
			conn_deny(c, 415, "Content-Type must be "
			    "application/dns-message");
			return;
		}
		if (req->framing != HTTP1_BODY_LENGTH ||
		    req->content_length > CONN_DNS_BODY_MAX) {
			conn_deny(c, 413, "DNS query body missing or too large");
			return;
		}
		n = (size_t)req->content_length;
		memcpy(c->dnsq, buf_ptr(&c->cin) + req->head_len, n);
		c->dnsq_len = n;
		buf_consume(&c->cin, req->head_len + n);
	} else if (http1_slice_eq(req->method, "GET")) {
		const char *p = req->query.p, *end = req->query.p + req->query.len;
		const char *v = NULL;
		size_t vlen = 0;

		while (p < end) {
			const char *amp = memchr(p, '&', (size_t)(end - p));
			const char *seg_end = amp ? amp : end;

			if (*p == '?')
				p++;
			if ((size_t)(seg_end - p) > 4 && memcmp(p, "dns=", 4) == 0) {
				v = p + 4;
				vlen = (size_t)(seg_end - v);
			}
			p = seg_end + (amp ? 1 : 0);
		}
		if (v == NULL || vlen >= sizeof(param) ||
		    conn_b64url_decode(v, vlen, c->dnsq, CONN_DNS_BODY_MAX,
		    &c->dnsq_len) == -1) {
			conn_deny(c, 400, "missing or malformed dns parameter");
			return;
		}
		if (req->framing != HTTP1_BODY_NONE) {
			conn_deny(c, 400, "GET with a body");
			return;
		}
		buf_consume(&c->cin, req->head_len);
	} else {
		conn_deny(c, 405, "use GET or POST");
		return;
	}
	conn_dns_query(c, cl);
}

/* Origin-form requests are addressed to the proxy itself: /slicer/... */
static void
conn_handle_local(struct conn *c, const struct http1_request *req)
{
	const struct client *cl;
	char body[160];
	const char *pem;
	size_t len;
	int n;

	if (conn_path_alloc(c) == -1)
		return;
	snprintf(c->path, LIMIT_PATH + 1, "%.*s",
	    (int)(req->path.len < 200 ? req->path.len : 200), req->path.p);
	if (http1_slice_eq(req->path, "/slicer/ca.crt") &&
	    (http1_slice_eq(req->method, "GET") ||
	    http1_slice_eq(req->method, "HEAD"))) {
		/* public: a guest needs it before it can trust anything */
		pem = mitm_ca_pem(c->px->ca, &len);
		conn_audit(c, "local", "allow", "ca.crt");
		conn_local_reply(c, 200, "application/x-pem-file", pem,
		    c->is_head ? 0 : len);
		return;
	}
	if (http1_slice_eq(req->path, "/slicer/dns-query")) {
		conn_handle_dns(c, req);
		return;
	}
	if (http1_slice_eq(req->path, "/slicer/whoami")) {
		cl = conn_authenticate(c, req);
		if (cl == NULL) {
			conn_deny(c, 407, "missing or invalid proxy token");
			return;
		}
		n = snprintf(body, sizeof(body), "{\"client\":\"%s\"}\n",
		    cl->name);
		conn_audit(c, "local", "allow", "whoami");
		conn_local_reply(c, 200, "application/json", body, (size_t)n);
		return;
	}
	c->status = 404;
	conn_audit(c, "local", "deny", "not a proxy request");
	conn_respond_close(c, 404,
	    "not a proxy request (use an absolute http:// URL or CONNECT)");
}

/* ---------------------------------------------------- request handling */

static int
conn_copy_slice(char *dst, size_t dstsz, struct http1_slice s)
{
	if (s.len >= dstsz)
		return -1;
	memcpy(dst, s.p, s.len);
	dst[s.len] = '\0';
	return 0;
}

/* Append "Name: value" for the secret to b (the credential itself). */
static int
conn_append_secret(struct buf *b, const struct secret *sec)
{
	unsigned char enc[((LIMIT_SECRET_VALUE + 2) / 3) * 4 + 1];
	int n, rc = -1;

	switch (sec->type) {
	case SECRET_BEARER:
		if (buf_append(b, "Authorization: Bearer ", 22) == 0 &&
		    buf_append(b, sec->value->p, sec->value->len) == 0)
			rc = 0;
		break;
	case SECRET_BASIC:
		n = EVP_EncodeBlock(enc, sec->value->p, (int)sec->value->len);
		if (n >= 0 && buf_append(b, "Authorization: Basic ", 21) == 0 &&
		    buf_append(b, enc, (size_t)n) == 0)
			rc = 0;
		secmem_wipe(enc, sizeof(enc));
		break;
	case SECRET_HEADER:
		if (buf_append(b, sec->header, strlen(sec->header)) == 0 &&
		    buf_append(b, ": ", 2) == 0 &&
		    buf_append(b, sec->value->p, sec->value->len) == 0)
			rc = 0;
		break;
	default:
		break;
	}
	if (rc == 0)
		rc = buf_append(b, "\r\n", 2);
	return rc;
}

static const char *
conn_secret_header_name(const struct secret *sec)
{
	return sec->type == SECRET_HEADER ? sec->header : "Authorization";
}

/*
 * Build the head sent upstream.  The path is the normalised one the policy
 * judged; hop-by-hop fields and the proxy's own fields are dropped; a secret
 * replaces whatever the client sent in its header; an upgrade keeps its
 * Connection/Upgrade pair.
 */
static int
conn_build_upstream_head(struct conn *c, const struct http1_request *req,
    const struct secret *sec)
{
	struct buf *b = &c->uout;
	const struct http1_header *host;
	const char *skip = sec ? conn_secret_header_name(sec) : NULL;
	size_t i;

	if (buf_printf(b, "%s ", c->method) == -1 ||
	    buf_append(b, c->path, strlen(c->path)) == -1 ||
	    buf_append(b, req->query.p, req->query.len) == -1 ||
	    buf_append(b, " HTTP/1.1\r\n", 11) == -1)
		return -1;
	host = http1_find_header(req->headers, req->nheaders, "Host");
	if (host != NULL) {
		if (buf_append(b, "Host: ", 6) == -1 ||
		    buf_append(b, host->value.p, host->value.len) == -1 ||
		    buf_append(b, "\r\n", 2) == -1)
			return -1;
	} else {
		int v6 = strchr(c->host, ':') != NULL;
		int dflt = c->port == (conn_inner_tls(c) ? 443 : 80);
		char port[8] = "";

		if (!dflt)
			snprintf(port, sizeof(port), ":%u", c->port);
		if (buf_printf(b, "Host: %s%s%s%s\r\n", v6 ? "[" : "", c->host,
		    v6 ? "]" : "", port) == -1)
			return -1;
	}
	for (i = 0; i < req->nheaders; i++) {
		const struct http1_header *h = &req->headers[i];

		if (http1_slice_eq(h->name, "Host") || origdst_is_field(h->name))
			continue;
		if (skip != NULL && http1_slice_eq(h->name, skip))
			continue;
		if (http1_is_hop_by_hop(req->headers, req->nheaders, h->name) &&
		    !(c->is_upgrade && http1_slice_eq(h->name, "Upgrade")))
			continue;
		if (buf_append(b, h->name.p, h->name.len) == -1 ||
		    buf_append(b, ": ", 2) == -1 ||
		    buf_append(b, h->value.p, h->value.len) == -1 ||
		    buf_append(b, "\r\n", 2) == -1)
			return -1;
	}
	if (c->is_upgrade && buf_append(b, "Connection: upgrade\r\n", 21) == -1)
		return -1;
	if (req->framing == HTTP1_BODY_CHUNKED &&
	    buf_append(b, "Transfer-Encoding: chunked\r\n", 28) == -1)
		return -1;
	if (sec != NULL && sec->type == SECRET_OAUTH)
		return 0; /* the token goes in when it is known to be fresh */
	if (sec != NULL) {
		c->has_secret_bytes = 1;
		if (conn_append_secret(b, sec) == -1)
			return -1;
	}
	return buf_append(b, "\r\n", 2);
}

static void
conn_resolve_cb(void *arg, int status, const struct netaddr *addrs, size_t n,
    const char *reason);

/*
 * Done with the upstream: park it for a later client connection of the
 * same client when it sits idle at a clean HTTP/1.1 message boundary (see
 * conn_finish_exchange) under the current policy; close it otherwise.
 */
static void
conn_release_upstream(struct conn *c)
{
	struct proxy *px = c->px;
	struct worker *w = c->w;
	struct upool_key k;
	SSL *ssl;
	int fd;

	if (c->ufd == -1 || c->is_abort || !c->is_up_reusable ||
	    !c->is_up_poolable ||
	    atomic_load(&px->is_draining) || c->up_client[0] == '\0' ||
	    c->uin.len > 0 ||
	    c->uout.len > 0 || !xport_is_idle(&c->ux) ||
	    upool_key_set(&k, c->up_client, c->up_host, c->up_port,
	    c->ux.ssl != NULL) == -1) {
		conn_close_upstream(c);
		return;
	}
	if (w->upool == NULL) {
		conn_close_upstream(c);
		return;
	}
	ssl = xport_detach_ssl(&c->ux);
	fd = c->ufd;
	c->ufd = -1;
	/* the watch goes with it (or is forgotten as it is closed) */
	if (upool_put(w->upool, &k, c->up_generation, fd, &c->uio, ssl,
	    ev_now(w->ev)) == 1)
		log_debug("conn %llu: upstream %s:%u parked",
		    (unsigned long long)c->id, k.host, k.port);
	conn_close_upstream(c);
}

/*
 * Could the request go out twice without harm, should a pooled upstream
 * close before answering?  Idempotent methods (RFC 9110 9.2.2) without a
 * body: what would be resent is exactly the head in uout.
 */
static int
conn_is_resendable(const struct conn *c)
{
	static const char *const methods[] = {
		"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE",
	};
	size_t i;

	if (!(c->req_framing == HTTP1_BODY_NONE ||
	    (c->req_framing == HTTP1_BODY_LENGTH && c->req_remaining == 0)) ||
	    c->bytes_up != 0 || !c->is_req_done)
		return 0;
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(c->method, methods[i]) == 0)
			return 1;
	return 0;
}

/*
 * Send the request on a parked connection of the same client to the same
 * upstream, if there is one.  1 when under way, 0 when there is none.
 */
static int
conn_take_pooled(struct conn *c)
{
	struct worker *w = c->w;
	struct upool_key k;
	SSL *ssl = NULL;
	int fd = -1;

	if (w->upool == NULL || c->is_pool_skip || c->is_connect || c->has_pin ||
	    upool_key_set(&k, c->client, c->host, c->port,
	    conn_inner_tls(c)) == -1 ||
	    upool_take(w->upool, &k, c->req_pool_generation, ev_now(w->ev),
	    &fd, &ssl, &c->uio, EPOLLIN) != 1)
		return 0;
	/* watched for the response already: what the request, once
	 * written, waits for */
	c->ufd = fd;
	xport_init(&c->ux, fd);
	if (ssl != NULL)
		xport_attach_ssl(&c->ux, ssl);
	snprintf(c->up_host, sizeof(c->up_host), "%s", c->host);
	c->up_port = c->port;
	snprintf(c->up_client, sizeof(c->up_client), "%s", c->client);
	c->up_client_serial = c->client_serial;
	c->is_up_pooled = 1;
	conn_buf_wipe_release(&c->retry);
	if (conn_is_resendable(c)) {
		buf_init(&c->retry, c->uout.max);
		if (buf_append(&c->retry, buf_ptr(&c->uout), c->uout.len) == -1)
			conn_buf_wipe_release(&c->retry);
	}
	log_debug("conn %llu: upstream %s:%u from the pool",
	    (unsigned long long)c->id, c->host, c->port);
	conn_set_state(c, CONN_FORWARD, LIMIT_IO_TIMEOUT_MS);
	conn_drive(c);
	return 1;
}

/* Start the upstream side for the current request (resolve or reuse). */
static void
conn_start_upstream(struct conn *c)
{
	struct netaddr lit;

	if (c->ufd != -1 && c->is_up_reusable && !c->is_connect &&
	    strcmp(c->up_host, c->host) == 0 && c->up_port == c->port &&
	    strcmp(c->up_client, c->client) == 0 &&
	    c->up_client_serial == c->client_serial &&
	    (c->ux.ssl != NULL) == conn_inner_tls(c)) {
		/* keep-alive upstream for the same origin and client */
		c->is_up_reusable = 0;
		buf_release(&c->uin);
		conn_set_state(c, CONN_FORWARD, LIMIT_IO_TIMEOUT_MS);
		conn_drive(c);
		return;
	}
	{
		/* the request part of uout belongs to this request: keep it */
		struct buf keep = c->uout;
		int had_secret = c->has_secret_bytes;

		buf_init(&c->uout, keep.max);
		c->has_secret_bytes = 0;
		conn_release_upstream(c);
		c->uout = keep;
		c->has_secret_bytes = had_secret;
	}
	if (conn_take_pooled(c))
		return;
	if (netaddr_parse_literal(c->host, strlen(c->host), &lit) == 0) {
		conn_resolve_cb(c, 0, &lit, 1, NULL);
		return;
	}
	conn_set_state(c, CONN_RESOLVE, LIMIT_RESOLVE_TIMEOUT_MS);
	c->rq = resolve_start(c->w->resolver, c->host, conn_resolve_cb, c);
}

static const char *
conn_event_name(const struct conn *c)
{
	return c->is_connect ? "connect" : "request";
}

/* The upstream cannot be reached or spoke nonsense: 502/504 and close. */
static void
conn_upstream_failed(struct conn *c, int status, const char *msg)
{
	c->status = status;
	conn_audit(c, conn_event_name(c), "error", msg);
	conn_respond_close(c, status, msg);
}

/*
 * A pooled upstream failed before any byte of its answer came back: most
 * likely its idle close crossed our request.  A resendable request goes
 * out once more on a new connection.  1 when under way (the caller stops
 * touching c), 0 when the failure stands.
 */
static int
conn_retry_fresh(struct conn *c)
{
	if (!c->is_up_pooled || c->retry.len == 0 || c->is_resp_head_done ||
	    c->cout.len > 0)
		return 0;
	log_debug("conn %llu: pooled upstream %s:%u failed before answering: "
	    "sending again on a new connection", (unsigned long long)c->id,
	    c->host, c->port);
	conn_close_upstream(c);
	c->is_pool_skip = 1;
	c->has_secret_bytes = 1; /* the head may carry a credential */
	if (buf_append(&c->uout, buf_ptr(&c->retry), c->retry.len) == -1) {
		conn_buf_wipe_release(&c->retry);
		return 0;
	}
	conn_buf_wipe_release(&c->retry);
	conn_start_upstream(c);
	if (!c->is_closed)
		conn_update_events(c);
	return 1;
}

/*
 * c's pinned address is not among the name's answers now, or the look-up
 * failed (why): it still goes when the proxy gave c's client that address
 * for the name at /slicer/dns-query lately (an answer that has moved on
 * since: round-robin DNS; a resolver that fails for a while).
 */
static int
conn_pin_given(const struct conn *c, const char *why)
{
	if (!dnsgiven_has(c->px->dnsgiven, c->client_serial, c->host, &c->pin,
	    parse_mono_ms()))
		return 0;
	log_debug("conn %llu: %s %s; client %s was given the pinned address "
	    "for it lately", (unsigned long long)c->id, c->host, why,
	    c->client);
	return 1;
}

static void
conn_resolve_cb(void *arg, int status, const struct netaddr *addrs, size_t n,
    const char *reason)
{
	struct conn *c = arg;
	const char *why = NULL;
	char txt[64], msg[512];
	size_t i;

	c->rq = NULL;
	if (status != 0) {
		snprintf(msg, sizeof(msg), "%s: %s", c->host, reason);
		if (!c->has_pin || !conn_pin_given(c, reason)) {
			conn_upstream_failed(c, 502, msg);
			return;
		}
		/* checked below like any other */
		addrs = &c->pin;
		n = 1;
		reason = NULL;
	}
	c->naddrs = 0;
	if (c->has_pin) {
		/* only the address the client connected to, if it is one of
		 * the host's; it is checked below like any other */
		for (i = 0; i < n && !netaddr_equal(&addrs[i], &c->pin); i++)
			;
		if (i == n && conn_pin_given(c,
		    "no longer resolves to the pinned address")) {
			addrs = &c->pin;
			n = 1;
			i = 0;
		}
		if (i == n) {
			struct netaddr lit;

			netaddr_ntop(&c->pin, txt, sizeof(txt));
			if (netaddr_parse_literal(c->host, strlen(c->host),
			    &lit) == 0)
				snprintf(msg, sizeof(msg), "denied: %s is not "
				    "%s, the address the client connected to "
				    "(" ORIGDST_FIELD ")", c->host, txt);
			else
				snprintf(msg, sizeof(msg), "denied: %s does not "
				    "resolve to %s, the address the client "
				    "connected to (" ORIGDST_FIELD ")", c->host,
				    txt);
			conn_deny(c, 403, msg);
			return;
		}
		addrs = &addrs[i];
		n = 1;
	}
	proxy_judge_lock(c->px); /* own changes */
	for (i = 0; i < n; i++) {
		if (netaddr_check(&addrs[i], &c->px->own, &c->px->cfg.deny,
		    &c->px->cfg.allow, &why))
			c->addrs[c->naddrs++] = addrs[i];
		else if (c->deny_reason[0] == '\0')
			snprintf(c->deny_reason, sizeof(c->deny_reason), "%s %s",
			    why, netaddr_ntop(&addrs[i], txt, sizeof(txt)));
	}
	proxy_judge_unlock(c->px);
	if (c->naddrs == 0) {
		if (reason == NULL && n == 1)
			snprintf(msg, sizeof(msg), "denied: %s is a denied "
			    "destination (%s)", c->host, c->deny_reason);
		else
			snprintf(msg, sizeof(msg), "denied: %s resolves to a "
			    "denied destination (%s)", c->host, c->deny_reason);
		conn_deny(c, 403, msg);
		return;
	}
	c->addr_idx = 0;
	conn_dial_next(c);
}

static void
conn_dial_next(struct conn *c)
{
	struct sockaddr_storage ss;
	unsigned int sslen;
	char msg[512];

	while (c->addr_idx < c->naddrs) {
		const struct netaddr *a = &c->addrs[c->addr_idx++];
		int fd;

		netaddr_to_sockaddr(a, c->port, &ss, &sslen);
		fd = sock_connect_start((struct sockaddr *)&ss, sslen);
		if (fd == -1 && (errno == EMFILE || errno == ENFILE) &&
		    c->w->upool != NULL && upool_evict_oldest(c->w->upool)) {
			/* a parked connection gives up its descriptor */
			c->addr_idx--;
			continue;
		}
		if (fd == -1)
			continue;
		sock_nodelay(fd);
		c->ufd = fd;
		xport_init(&c->ux, fd);
		if (ev_io_add(c->w->ev, &c->uio, fd, EPOLLOUT) == -1) {
			close(fd);
			c->ufd = -1;
			xport_init(&c->ux, -1);
			continue;
		}
		conn_set_state(c, CONN_CONNECT, LIMIT_CONNECT_TIMEOUT_MS);
		return;
	}
	snprintf(msg, sizeof(msg), "cannot connect to %s port %u", c->host,
	    c->port);
	conn_upstream_failed(c, 502, msg);
}

/* Start the TLS client handshake with an intercepted upstream. */
static void
conn_start_upstream_tls(struct conn *c)
{
	SSL *ssl = SSL_new(c->px->upstream_ctx);

	if (ssl == NULL || xport_expect_peer(ssl, c->host) == -1) {
		SSL_free(ssl);
		conn_upstream_failed(c, 502, "cannot start TLS to the upstream");
		return;
	}
	tlssess_prepare(ssl, c->host, c->port);
	xport_set_ssl(&c->ux, ssl);
	SSL_set_connect_state(ssl);
	conn_set_state(c, CONN_TLS_CONNECT, LIMIT_CONNECT_TIMEOUT_MS);
	conn_drive(c);
}

/* Intercept: answer the CONNECT, then be the server of the client's TLS. */
static void
conn_start_intercept(struct conn *c)
{
	SSL_CTX *ctx;
	SSL *ssl;

	if (c->cin.len > 0) {
		/* a client that sends before the 200 cannot be intercepted
		 * without guessing where its handshake starts */
		conn_deny(c, 400, "data sent before the tunnel was established");
		return;
	}
	/* signing a new leaf costs CPU: bound how fast one client can ask */
	if (!mitm_cache_fresh(c->px->leaves, c->host)) {
		struct client *cl;
		int is_limited;

		/* the bucket is shared by every loop: px->lock, nested */
		proxy_judge_lock(c->px);
		proxy_lock(c->px);
		cl = conn_client(c);
		is_limited = cl != NULL && !rate_take(&cl->leaf_mints,
		    ev_now(c->w->ev), LIMIT_LEAF_MINTS_PER_SEC,
		    LIMIT_LEAF_MINT_BURST);
		proxy_unlock(c->px);
		proxy_judge_unlock(c->px);
		if (is_limited) {
			counter_bump(&c->w->counters.leaf_limited);
			conn_deny(c, 429, "too many new intercepted host names "
			    "at once; retry shortly");
			return;
		}
	}
	ctx = mitm_cache_ctx(c->px->leaves, c->host);
	if (ctx == NULL) {
		conn_deny(c, 400, "cannot mint a certificate for this host");
		return;
	}
	ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	if (ssl == NULL) {
		conn_deny(c, 503, "cannot start TLS");
		return;
	}
	c->is_intercept = 1;
	snprintf(c->ihost, sizeof(c->ihost), "%s", c->host);
	c->iport = c->port;
	c->status = 200;
	counter_bump(&c->w->counters.intercepts);
	c->is_connect_audit_due = 1;
	buf_printf(&c->cout, "HTTP/1.1 200 Connection established\r\n\r\n");
	/* the 200 goes out in the clear before TLS takes over the socket */
	while (c->cout.len > 0) {
		ssize_t n = buf_write_fd(&c->cout, c->cfd);

		if (n == -1 && errno != EINTR) {
			SSL_free(ssl);
			conn_close(c, "client write error");
			return;
		}
	}
	xport_set_ssl(&c->cx, ssl);
	SSL_set_accept_state(ssl);
	/* the client speaks once it has the 200: epoll says when */
	conn_set_state(c, CONN_TLS_ACCEPT, LIMIT_HEAD_TIMEOUT_MS);
	conn_drive(c);
}

/*
 * A tunnel or upgraded connection starts; its request was judged under
 * policy generation gen.  Should the policy have changed since (it may
 * change on another thread at any time), have the loop judge it again.
 */
static void
conn_judged_at(struct conn *c, uint64_t gen)
{
	c->judged_generation = gen;
	if (gen != atomic_load(&c->px->store->generation))
		worker_signal(c->w, WORKER_REJUDGE);
}

/* The request's host is an IP literal (canonical text, no brackets). */
static int
conn_host_is_literal(const struct conn *c)
{
	struct netaddr na;

	return netaddr_parse_literal(c->host, strlen(c->host), &na) == 0;
}

/* Upstream TCP connected: start the tunnel, TLS, or the forward. */
static void
conn_connected(struct conn *c)
{
	snprintf(c->up_host, sizeof(c->up_host), "%s", c->host);
	c->up_port = c->port;
	snprintf(c->up_client, sizeof(c->up_client), "%s", c->client);
	c->up_client_serial = c->client_serial;
	if (c->is_connect) {
		c->status = 200;
		counter_bump(&c->w->counters.tunnels);
		buf_printf(&c->cout,
		    "HTTP/1.1 200 Connection established\r\n\r\n");
		/* what the client sends first (bytes that came with the
		 * CONNECT head included) must not name another host: it is
		 * judged before it passes (conn_tunnel_first), unless the
		 * CONNECT named an address */
		c->is_first_judging = !conn_host_is_literal(c);
		if (c->cin.len > 0 && !c->is_first_judging) {
			c->bytes_up += c->cin.len;
			buf_append(&c->uout, buf_ptr(&c->cin), c->cin.len);
			buf_consume(&c->cin, c->cin.len);
		}
		if (c->cin.len == 0)
			buf_release(&c->cin);
		conn_audit(c, "connect", "allow", NULL);
		conn_set_state(c, CONN_TUNNEL, LIMIT_TUNNEL_IDLE_MS);
		conn_judged_at(c, c->req_generation);
	} else if (conn_inner_tls(c)) {
		conn_start_upstream_tls(c);
		return;
	} else {
		conn_set_state(c, CONN_FORWARD, LIMIT_IO_TIMEOUT_MS);
	}
	conn_drive(c);
}

/*
 * Inside an intercepted tunnel: the request must name the tunnel's host (no
 * domain fronting through Host or an absolute URI).  Returns 0 or -1 after
 * answering.
 */
static int
conn_check_intercept_target(struct conn *c, const struct http1_request *req)
{
	char raw[LIMIT_HOSTNAME + 3], canon[LIMIT_HOSTNAME + 3];
	uint16_t port = req->port;

	if (req->form == HTTP1_TARGET_AUTHORITY ||
	    req->form == HTTP1_TARGET_ASTERISK) {
		conn_deny(c, 400, "not allowed inside a tunnel");
		return -1;
	}
	if (req->host.len == 0) {
		/* HTTP/1.0 without Host: the tunnel names the host */
		return 0;
	}
	if (conn_copy_slice(raw, sizeof(raw), req->host) == -1 ||
	    match_host_canon(raw, strlen(raw), canon, sizeof(canon)) == -1) {
		conn_deny(c, 400, "invalid host");
		return -1;
	}
	if (port == 0) {
		if (c->is_tunnel_inspect)
			port = c->iport; /* as its first request was judged */
		else if (req->form == HTTP1_TARGET_ABSOLUTE)
			port = http1_slice_eq(req->scheme, "http") ? 80 : 443;
		else
			port = conn_inner_tls(c) ? 443 : 80;
	}
	/* name and port must be the tunnel's (a Host without a port means
	 * the scheme's default: 443 in a TLS tunnel, 80 in a plain one; in
	 * a host-level tunnel, the tunnel's port) */
	if (strcmp(canon, c->ihost) != 0 || port != c->iport) {
		conn_deny(c, 421, "denied: the request names another host "
		    "than the tunnel");
		return -1;
	}
	if (req->form == HTTP1_TARGET_ABSOLUTE &&
	    !http1_slice_eq(req->scheme, conn_inner_tls(c) ? "https" :
	    "http")) {
		conn_deny(c, 421, conn_inner_tls(c) ?
		    "denied: http:// URL inside a TLS tunnel" :
		    "denied: https:// URL inside a plain tunnel");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ OAuth */

static void conn_oauth_ready(void *arg, int ok, const char *reason);

/* A refresh asked for by a connection of a worker other than 0. */
struct conn_oauth_call {
	struct worker *w;          /* the connection's */
	uint64_t conn_id;
	int force;
	int ok;
	char secret[LIMIT_NAME];
	char reason[160];
};

/* On the connection's worker: the refresh ended. */
static void
conn_oauth_remote_ready(struct worker *w, void *arg)
{
	struct conn_oauth_call *call = arg;
	struct conn *c;

	for (c = w->conns; c != NULL; c = c->next)
		if (c->id == call->conn_id)
			break;
	if (c != NULL && c->is_ow_remote &&
	    c->ow == (struct oauth_wait *)(void *)call) {
		c->is_ow_remote = 0;
		conn_oauth_ready(c, call->ok, call->reason);
	}
	free(call);
}

/* On the main loop: pass the result back. */
static void
conn_oauth_remote_done(void *arg, int ok, const char *reason)
{
	struct conn_oauth_call *call = arg;

	call->ok = ok;
	snprintf(call->reason, sizeof(call->reason), "%s",
	    reason != NULL ? reason : "");
	if (worker_post(call->w, conn_oauth_remote_ready, call) == -1)
		free(call); /* the connection times out waiting */
}

/* On the main loop: start the refresh, or join one in flight.  It is
 * never cancelled: a connection gone by then is simply not found. */
static void
conn_oauth_remote_start(struct worker *w, void *arg)
{
	struct conn_oauth_call *call = arg;

	(void)oauth_refresh(w->px, call->secret, call->force,
	    conn_oauth_remote_done, call);
}

/* Refresh c's secret; OAuth flows run on the main loop only. */
static void
conn_oauth_refresh(struct conn *c, int force)
{
	struct conn_oauth_call *call;

	conn_set_state(c, CONN_OAUTH_WAIT, LIMIT_CONNECT_TIMEOUT_MS * 2);
	if (c->w->idx == 0) {
		c->ow = oauth_refresh(c->px, c->secret, force, conn_oauth_ready,
		    c);
		return;
	}
	call = calloc(1, sizeof(*call));
	if (call == NULL) {
		conn_upstream_failed(c, 502, "out of memory");
		return;
	}
	call->w = c->w;
	call->conn_id = c->id;
	call->force = force;
	snprintf(call->secret, sizeof(call->secret), "%s", c->secret);
	/* only a tag: the call belongs to the main loop until it comes back */
	c->ow = (struct oauth_wait *)(void *)call;
	c->is_ow_remote = 1;
	if (worker_post(c->px->workers[0], conn_oauth_remote_start,
	    call) == -1) {
		free(call);
		c->ow = NULL;
		c->is_ow_remote = 0;
		conn_upstream_failed(c, 502, "out of memory");
	}
}

/*
 * Put the request for the upstream together from the saved head, a fresh
 * access token and (on a replay) the saved body, then send it; or wait for
 * a refresh.
 */
static void
conn_oauth_emit(struct conn *c, int force_refresh)
{
	char err[160];
	int rc;

	if (force_refresh) {
		conn_oauth_refresh(c, 1);
		return;
	}
	conn_buf_wipe_release(&c->uout);
	c->has_secret_bytes = 1;
	if (buf_append(&c->uout, buf_ptr(&c->replay), c->replay_head_len) == -1) {
		conn_upstream_failed(c, 502, "request too large");
		return;
	}
	rc = oauth_append_auth(c->px, c->secret, &c->uout, err, sizeof(err));
	if (rc == 1 && c->ow == NULL && c->state != CONN_OAUTH_WAIT) {
		conn_oauth_refresh(c, 0);
		return;
	}
	if (rc != 0) {
		conn_upstream_failed(c, 502, rc == 1 ? "the refreshed oauth "
		    "token is already expiring" : err);
		return;
	}
	if (buf_append(&c->uout, "\r\n", 2) == -1 ||
	    (c->is_replayed && buf_append(&c->uout, buf_ptr(&c->replay) +
	    c->replay_head_len, c->replay.len - c->replay_head_len) == -1)) {
		conn_upstream_failed(c, 502, "request too large");
		return;
	}
	c->is_resp_head_done = c->is_resp_done = 0;
	conn_start_upstream(c);
}

static void
conn_oauth_ready(void *arg, int ok, const char *reason)
{
	struct conn *c = arg;
	char msg[200];

	c->ow = NULL;
	if (c->is_closed)
		return;
	if (!ok) {
		snprintf(msg, sizeof(msg), "oauth refresh failed: %s", reason);
		conn_upstream_failed(c, 502, msg);
		return;
	}
	c->state = CONN_RESOLVE; /* not waiting any more */
	conn_oauth_emit(c, 0);
}

/* An upstream said 401 to a request with an oauth token: refresh, and send
 * the request again (once) when it can be sent again. */
static int
conn_oauth_retry(struct conn *c)
{
	if (!c->is_oauth || c->is_replayed || !c->is_replayable ||
	    !c->is_req_done || oauth_refresh_is_futile(c->px, c->secret))
		return 0;
	c->is_replayed = 1;
	conn_close_upstream(c);
	conn_oauth_emit(c, 1);
	return 1;
}

/* What conn_judge_request left to do once the lock is released. */
enum conn_next {
	CONN_NEXT_DONE = 0, /* answered or refused */
	CONN_NEXT_UPSTREAM,
	CONN_NEXT_INTERCEPT,
	CONN_NEXT_OAUTH,
};

/*
 * A CONNECT's Slicer-Original-Destination: the address the client (the
 * guest agent) connected to, which becomes the only address the tunnel
 * may be dialled at.  Anybody may send it, so it can only narrow where
 * the proxy dials (conn_resolve_cb), never widen it.  On any other
 * request it means nothing: it is dropped from the forwarded head
 * (conn_build_upstream_head).  0, or -1 after answering 400.
 */
static int
conn_take_pin(struct conn *c, const struct http1_request *req)
{
	const char *why = NULL;

	c->has_pin = 0;
	if (!c->is_connect)
		return 0;
	switch (origdst_parse(req->headers, req->nheaders, &c->pin, &why)) {
	case ORIGDST_BAD:
		conn_deny(c, 400, why);
		return -1;
	case ORIGDST_FOUND:
		c->has_pin = 1;
		break;
	default:
		break;
	}
	return 0;
}

/*
 * A complete request head is at the front of cin: authenticate, judge,
 * and build the upstream head (with the secret).  Called with the proxy's
 * lock held: the store's pointers are used throughout.
 */
static enum conn_next
conn_judge_request(struct conn *c, const struct http1_request *req)
{
	const struct client *cl;
	const struct secret *sec = NULL;
	struct policy_request prq;
	struct policy_verdict v;
	char rawhost[LIMIT_HOSTNAME + 3], msg[512];
	int n;

	conn_reset_request(c);
	c->started_ms = parse_mono_ms();
	counter_bump(&c->w->counters.requests);
	if (conn_copy_slice(c->method, sizeof(c->method), req->method) == -1) {
		conn_deny(c, 400, "bad method");
		return CONN_NEXT_DONE;
	}
	c->is_connect = req->form == HTTP1_TARGET_AUTHORITY;
	c->is_head = strcmp(c->method, "HEAD") == 0;

	if (c->is_intercept) {
		snprintf(c->host, sizeof(c->host), "%s", c->ihost);
		c->port = c->iport;
		if (conn_check_intercept_target(c, req) == -1)
			return CONN_NEXT_DONE;
	} else {
		if (req->form == HTTP1_TARGET_ORIGIN ||
		    req->form == HTTP1_TARGET_ASTERISK) {
			conn_handle_local(c, req);
			return CONN_NEXT_DONE;
		}
		if (conn_copy_slice(rawhost, sizeof(rawhost), req->host) == -1 ||
		    match_host_canon(rawhost, strlen(rawhost), c->host,
		    sizeof(c->host)) == -1) {
			c->host[0] = '\0';
			conn_deny(c, 400, "invalid host");
			return CONN_NEXT_DONE;
		}
		c->port = req->port;
		if (conn_take_pin(c, req) == -1)
			return CONN_NEXT_DONE;
		if (!c->is_connect) {
			if (!http1_slice_eq(req->scheme, "http")) {
				conn_deny(c, 400, "only http:// URLs are proxied "
				    "in the clear; use CONNECT for https");
				return CONN_NEXT_DONE;
			}
			if (c->port == 0)
				c->port = 80;
		}
	}
	if (!c->is_connect) {
		if (conn_path_alloc(c) == -1)
			return CONN_NEXT_DONE;
		if (req->path.len == 0)
			n = match_path_normalize("/", 1, c->path, LIMIT_PATH + 1);
		else
			n = match_path_normalize(req->path.p, req->path.len,
			    c->path, LIMIT_PATH + 1);
		if (n < 0) {
			c->path[0] = '\0';
			conn_deny(c, 400, "invalid request path");
			return CONN_NEXT_DONE;
		}
	}

	if (c->is_intercept) {
		/* authenticated at CONNECT; the client may be gone since */
		cl = conn_client(c);
		if (cl == NULL) {
			conn_deny(c, 403, "denied: client deleted");
			return CONN_NEXT_DONE;
		}
	} else {
		cl = conn_authenticate(c, req);
		if (cl == NULL) {
			conn_deny(c, 407, "missing or invalid proxy token");
			return CONN_NEXT_DONE;
		}
	}

	memset(&prq, 0, sizeof(prq));
	prq.host = c->host;
	prq.port = c->port;
	prq.is_connect = c->is_connect;
	prq.method = c->is_connect ? NULL : c->method;
	prq.path = c->is_connect ? NULL : c->path;
	store_decide(c->px->store, cl, &prq, parse_now_ms(), &v);
	if (v.rule != NULL)
		snprintf(c->rule_id, sizeof(c->rule_id), "%s", v.rule->id);
	if (!v.is_allowed) {
		snprintf(msg, sizeof(msg), "denied: %s", v.reason);
		conn_deny(c, 403, msg);
		return CONN_NEXT_DONE;
	}
	c->req_generation = c->px->store->generation;
	c->req_pool_generation = store_pool_generation(c->px->store, cl);
	if (c->is_connect) {
		buf_consume(&c->cin, req->head_len);
		return v.needs_intercept ? CONN_NEXT_INTERCEPT :
		    CONN_NEXT_UPSTREAM;
	}

	if (v.rule->secret[0] != '\0') {
		sec = store_secret_find(c->px->store, v.rule->secret);
		snprintf(c->secret, sizeof(c->secret), "%s", v.rule->secret);
		if (sec == NULL) {
			conn_deny(c, 403, "denied: the rule's secret no longer "
			    "exists");
			return CONN_NEXT_DONE;
		}
		if (!match_host(sec->host, c->host)) {
			snprintf(msg, sizeof(msg), "denied: secret %s is not for "
			    "%s", sec->name, c->host);
			c->secret[0] = '\0';
			conn_deny(c, 403, msg);
			return CONN_NEXT_DONE;
		}
		if (!conn_inner_tls(c) && !v.rule->is_allow_plaintext) {
			snprintf(msg, sizeof(msg), "denied: secret %s is sent "
			    "only over TLS (the rule lacks --allow-plaintext)",
			    sec->name);
			c->secret[0] = '\0';
			conn_deny(c, 403, msg);
			return CONN_NEXT_DONE;
		}
		if (strcmp(c->method, "TRACE") == 0 ||
		    strcmp(c->method, "TRACK") == 0) {
			c->secret[0] = '\0';
			conn_deny(c, 403, "denied: TRACE is never sent with a "
			    "secret");
			return CONN_NEXT_DONE;
		}
	}
	/* the client calls a token endpoint itself: what comes back must
	 * not hand it real tokens, and only tokens for a secret it uses
	 * replace that secret's */
	if (!c->is_connect && oauth_token_endpoint(c->px, cl, c->host,
	    c->port, c->path, c->token_secret, &c->token_secret_serial) !=
	    OAUTH_CALL_NONE)
		c->is_token_call = 1;

	c->is_upgrade = req->is_upgrade && c->is_intercept;
	c->req_framing = req->framing;
	c->req_remaining = req->content_length;
	http1_chunked_init(&c->req_chunked);
	/* Content-Length: 0 is a body that is already complete */
	c->is_req_done = req->framing == HTTP1_BODY_NONE ||
	    (req->framing == HTTP1_BODY_LENGTH && req->content_length == 0);
	c->is_req_keep_alive = req->is_keep_alive;
	c->is_req_http10 = req->version_minor == 0;
	if (conn_build_upstream_head(c, req, sec) == -1) {
		conn_deny(c, 431, "request head too large");
		return CONN_NEXT_DONE;
	}
	buf_consume(&c->cin, req->head_len);
	if (sec != NULL && sec->type == SECRET_OAUTH) {
		c->is_oauth = 1;
		c->is_replayed = 0;
		c->is_replayable = req->framing == HTTP1_BODY_NONE ||
		    (req->framing == HTTP1_BODY_LENGTH &&
		    req->content_length <= OAUTH_BODY_MAX);
		conn_buf_wipe_release(&c->replay);
		buf_init(&c->replay, LIMIT_HTTP_HEAD + OAUTH_BODY_MAX);
		buf_append(&c->replay, buf_ptr(&c->uout), c->uout.len);
		c->replay_head_len = c->uout.len;
		return CONN_NEXT_OAUTH;
	}
	return CONN_NEXT_UPSTREAM;
}

/* A complete request head is at the front of cin. */
static void
conn_handle_request(struct conn *c, const struct http1_request *req)
{
	enum conn_next next;

	proxy_judge_lock(c->px);
	next = conn_judge_request(c, req);
	proxy_judge_unlock(c->px);
	switch (next) {
	case CONN_NEXT_UPSTREAM:
		conn_start_upstream(c);
		break;
	case CONN_NEXT_INTERCEPT:
		conn_start_intercept(c);
		break;
	case CONN_NEXT_OAUTH:
		conn_oauth_emit(c, 0);
		break;
	case CONN_NEXT_DONE:
		break;
	}
}

static void
conn_process_head(struct conn *c)
{
	struct http1_request req;
	int rc;

	if (c->state != CONN_READ_HEAD || c->cin.len == 0)
		return;
	if (c->is_idle_wait) {
		/* a kept-alive connection's next head has begun: it gets
		 * the head timeout from now, once */
		c->is_idle_wait = 0;
		c->deadline_ms = ev_now(c->w->ev) + LIMIT_HEAD_TIMEOUT_MS;
	}
	rc = http1_parse_request(buf_ptr(&c->cin), c->cin.len, &req);
	if (rc == HTTP1_INCOMPLETE) {
		if (c->cin.len >= LIMIT_HTTP_HEAD) {
			conn_reset_request(c);
			conn_deny(c, 431, "request head too large");
		}
		return;
	}
	if (rc == HTTP1_BAD) {
		conn_reset_request(c);
		conn_deny(c, req.error_status ? req.error_status : 400,
		    req.error_reason ? req.error_reason : "malformed request");
		return;
	}
	/* a request to the proxy itself is handled whole: wait for its
	 * (small, bounded) body */
	if (!c->is_intercept && req.form == HTTP1_TARGET_ORIGIN &&
	    req.framing == HTTP1_BODY_LENGTH &&
	    req.content_length <= CONN_DNS_BODY_MAX &&
	    c->cin.len - req.head_len < req.content_length)
		return;
	conn_handle_request(c, &req);
}

/* ------------------------------------------------------- forwarding */

/* Move request body bytes from cin to uout. */
static int
conn_pump_request(struct conn *c)
{
	size_t n, consumed;
	int rc;

	if (c->is_req_done || c->cin.len == 0)
		return 0;
	n = c->cin.len;
	if (n > buf_room(&c->uout))
		n = buf_room(&c->uout);
	if (n == 0)
		return 0;
	if (c->req_framing == HTTP1_BODY_LENGTH) {
		if (n > c->req_remaining)
			n = (size_t)c->req_remaining;
		c->req_remaining -= n;
		if (c->req_remaining == 0)
			c->is_req_done = 1;
		consumed = n;
	} else {
		rc = http1_chunked_scan(&c->req_chunked, buf_ptr(&c->cin), n,
		    &consumed);
		if (rc == HTTP1_BAD)
			return -1;
		if (rc == HTTP1_OK)
			c->is_req_done = 1;
	}
	buf_append(&c->uout, buf_ptr(&c->cin), consumed);
	if (c->is_oauth && c->is_replayable && !c->is_replayed &&
	    buf_append(&c->replay, buf_ptr(&c->cin), consumed) == -1)
		c->is_replayable = 0;
	buf_consume(&c->cin, consumed);
	c->bytes_up += consumed;
	return 0;
}

/* Rewrite and queue the response head for the client; new_length >= 0
 * replaces the body framing with that Content-Length. */
static int
conn_queue_response_head(struct conn *c, const struct http1_response *r,
    long long new_length)
{
	struct buf *b = &c->cout;
	size_t i;

	if (buf_printf(b, "HTTP/1.1 %d ", r->status) == -1 ||
	    buf_append(b, r->reason.p, r->reason.len) == -1 ||
	    buf_append(b, "\r\n", 2) == -1)
		return -1;
	for (i = 0; i < r->nheaders; i++) {
		const struct http1_header *h = &r->headers[i];

		if (http1_is_hop_by_hop(r->headers, r->nheaders, h->name) &&
		    !(r->status == 101 && http1_slice_eq(h->name, "Upgrade")))
			continue;
		if (new_length >= 0 &&
		    http1_slice_eq(h->name, "Content-Length"))
			continue;
		if (buf_append(b, h->name.p, h->name.len) == -1 ||
		    buf_append(b, ": ", 2) == -1 ||
		    buf_append(b, h->value.p, h->value.len) == -1 ||
		    buf_append(b, "\r\n", 2) == -1)
			return -1;
	}
	if (r->status == 101) {
		if (buf_append(b, "Connection: upgrade\r\n", 21) == -1)
			return -1;
	} else if (new_length >= 0) {
		if (buf_printf(b, "Content-Length: %lld\r\n", new_length) == -1)
			return -1;
	} else if (r->status >= 200 && r->framing == HTTP1_BODY_CHUNKED &&
	    !c->is_req_http10 &&
	    buf_append(b, "Transfer-Encoding: chunked\r\n", 28) == -1) {
		return -1;
	}
	if (r->status >= 200 &&
	    (!c->is_resp_keep_alive || !c->is_req_keep_alive))
		buf_append(b, "Connection: close\r\n", 19);
	else if (r->status >= 200 && c->is_req_http10)
		buf_append(b, "Connection: keep-alive\r\n", 24);
	return buf_append(b, "\r\n", 2);
}

/* An oauth secret's tokens replaced by those of the client's own call. */
static void
conn_audit_token_call(struct conn *c)
{
	char injected[sizeof(c->secret)];

	memcpy(injected, c->secret, sizeof(injected));
	snprintf(c->secret, sizeof(c->secret), "%s", c->token_secret);
	conn_audit(c, "oauth", "allow", "tokens from the client's own call "
	    "to the token endpoint");
	memcpy(c->secret, injected, sizeof(injected));
}

/*
 * The whole body of a token endpoint's answer, framed by Content-Length
 * or chunked (then decoded), at most OAUTH_BODY_MAX bytes, into body:
 * 1 with *raw_len the bytes of uin after the head it took, 0 while more
 * is to come, -1 when it cannot be had (too large, bad framing, until
 * the close).  Each call reads the body from its start.
 */
static int
conn_token_body(struct conn *c, const struct http1_response *r,
    struct buf *body, size_t *raw_len)
{
	const char *p = buf_ptr(&c->uin) + r->head_len;
	size_t avail = c->uin.len - r->head_len, off = 0, consumed, data;
	struct http1_chunked ch;
	int rc;

	if (r->framing == HTTP1_BODY_LENGTH) {
		if (r->content_length > OAUTH_BODY_MAX)
			return -1;
		if (avail < r->content_length)
			return 0;
		*raw_len = (size_t)r->content_length;
		return buf_append(body, p, *raw_len) == 0 ? 1 : -1;
	}
	if (r->framing != HTTP1_BODY_CHUNKED)
		return -1;
	http1_chunked_init(&ch);
	for (;;) {
		rc = http1_chunked_decode(&ch, p + off, avail - off, &consumed,
		    &data);
		if (rc == HTTP1_BAD || body->len + data > OAUTH_BODY_MAX ||
		    buf_append(body, p + off + consumed - data, data) == -1)
			return -1;
		off += consumed;
		if (rc == HTTP1_OK) {
			*raw_len = off;
			return 1;
		}
		if (off == avail)
			/* more to come, unless uin can hold no more */
			return buf_room(&c->uin) == 0 ? -1 : 0;
	}
}

/*
 * The answer of a token endpoint the client called itself: wait for the
 * whole (bounded) body, keep the real tokens, pass on placeholders.  An
 * answer that cannot be rewritten is not passed on.
 */
static int
conn_token_answer(struct conn *c, const struct http1_response *r)
{
	struct buf raw, body;
	size_t raw_len = 0;
	int rc;

	buf_init(&raw, OAUTH_BODY_MAX);
	rc = conn_token_body(c, r, &raw, &raw_len);
	if (rc <= 0) {
		conn_buf_wipe_release(&raw);
		return rc == 0 ? 0 : -2;
	}
	buf_init(&body, OAUTH_BODY_MAX * 2);
	rc = oauth_rewrite_answer(c->px, c->token_secret[0] != '\0' ?
	    c->token_secret : NULL, c->token_secret_serial, buf_ptr(&raw),
	    raw.len, &body);
	conn_buf_wipe_release(&raw);
	if (rc == 1)
		conn_audit_token_call(c);
	if (rc >= 0)
		rc = conn_queue_response_head(c, r, (long long)body.len);
	if (rc == 0)
		rc = buf_append(&c->cout, buf_ptr(&body), body.len);
	conn_buf_wipe_release(&body);
	if (rc == -1)
		return -2;
	secmem_wipe(buf_ptr(&c->uin), r->head_len + raw_len);
	buf_consume(&c->uin, r->head_len + raw_len);
	c->is_resp_head_done = 1;
	c->is_resp_done = 1;
	c->resp_framing = HTTP1_BODY_LENGTH;
	c->bytes_down += body.len;
	return 0;
}

/*
 * A server-sent event stream ends its connection: EventSource clients open
 * a new one to reconnect anyway, and a client reading the stream raw sees
 * its end as end of file.
 */
static int
conn_is_event_stream(const struct http1_response *r)
{
	const struct http1_header *ct = http1_find_header(r->headers,
	    r->nheaders, "Content-Type");

	return ct != NULL && ct->value.len >= 17 &&
	    strncasecmp(ct->value.p, "text/event-stream", 17) == 0;
}

/*
 * A chunked body for an HTTP/1.0 client, which knows no chunked: its data
 * only, from the first n bytes of uin; the close ends it.
 */
static int
conn_pump_dechunked(struct conn *c, size_t n)
{
	size_t consumed, data;
	int rc = HTTP1_INCOMPLETE;

	while (n > 0 && rc == HTTP1_INCOMPLETE) {
		rc = http1_chunked_decode(&c->resp_chunked, buf_ptr(&c->uin), n,
		    &consumed, &data);
		if (rc == HTTP1_BAD)
			return -1;
		buf_append(&c->cout, buf_ptr(&c->uin) + consumed - data, data);
		buf_consume(&c->uin, consumed);
		c->bytes_down += data;
		n -= consumed;
	}
	if (rc == HTTP1_OK)
		c->is_resp_done = 1;
	return 0;
}

/* Parse and relay response heads and bodies from uin to cout. */
static int
conn_pump_response(struct conn *c)
{
	struct http1_response r;
	size_t n, consumed;
	int rc;

	while (!c->is_resp_head_done && c->uin.len > 0) {
		rc = http1_parse_response(buf_ptr(&c->uin), c->uin.len,
		    c->is_head, 0, &r);
		if (rc == HTTP1_INCOMPLETE) {
			if (c->uin.len >= LIMIT_HTTP_RESPONSE_HEAD)
				return -2;
			return 0;
		}
		if (rc == HTTP1_BAD)
			return -2;
		if (r.status == 101) {
			/* switching protocols: only for an upgrade we asked */
			if (!c->is_upgrade)
				return -2;
			c->status = 101;
			if (conn_queue_response_head(c, &r, -1) == -1)
				return -2;
			buf_consume(&c->uin, r.head_len);
			c->is_resp_head_done = 1;
			c->resp_framing = HTTP1_BODY_UNTIL_CLOSE;
			c->req_framing = HTTP1_BODY_UNTIL_CLOSE;
			conn_audit(c, "request", "allow", "upgraded");
			conn_set_state(c, CONN_RELAY, LIMIT_TUNNEL_IDLE_MS);
			conn_judged_at(c, c->req_generation);
			break;
		}
		if (r.status < 200) {
			/* 100 Continue and other interim responses, which
			 * an HTTP/1.0 client does not take (RFC 9110 15.2) */
			if (!c->is_req_http10 &&
			    conn_queue_response_head(c, &r, -1) == -1)
				return -2;
			buf_consume(&c->uin, r.head_len);
			continue;
		}
		if (r.status == 401 && c->is_oauth && c->is_replayed)
			oauth_refresh_refused(c->px, c->secret);
		if (r.status == 401 && conn_oauth_retry(c))
			return -3;
		c->status = r.status;
		c->is_resp_http11 = r.version_minor == 1;
		c->is_resp_keep_alive = r.is_keep_alive &&
		    r.framing != HTTP1_BODY_UNTIL_CLOSE &&
		    !conn_is_event_stream(&r);
		if (c->is_token_call && r.framing != HTTP1_BODY_NONE)
			return conn_token_answer(c, &r);
		/* chunked to an HTTP/1.0 client: the body bare, ended by
		 * the close (RFC 9112 6.1) */
		if (c->is_req_http10 && r.framing == HTTP1_BODY_CHUNKED)
			c->is_req_keep_alive = 0;
		if (conn_queue_response_head(c, &r, -1) == -1)
			return -2;
		buf_consume(&c->uin, r.head_len);
		c->is_resp_head_done = 1;
		c->resp_framing = r.framing;
		c->resp_remaining = r.content_length;
		http1_chunked_init(&c->resp_chunked);
		if (r.framing == HTTP1_BODY_NONE ||
		    (r.framing == HTTP1_BODY_LENGTH && r.content_length == 0))
			c->is_resp_done = 1;
	}
	if (!c->is_resp_head_done || c->is_resp_done || c->uin.len == 0)
		return 0;
	n = c->uin.len;
	if (n > buf_room(&c->cout))
		n = buf_room(&c->cout);
	if (n == 0)
		return 0;
	switch (c->resp_framing) {
	case HTTP1_BODY_LENGTH:
		if (n > c->resp_remaining)
			n = (size_t)c->resp_remaining;
		c->resp_remaining -= n;
		if (c->resp_remaining == 0)
			c->is_resp_done = 1;
		consumed = n;
		break;
	case HTTP1_BODY_CHUNKED:
		if (c->is_req_http10)
			return conn_pump_dechunked(c, n);
		rc = http1_chunked_scan(&c->resp_chunked, buf_ptr(&c->uin), n,
		    &consumed);
		if (rc == HTTP1_BAD)
			return -1;
		if (rc == HTTP1_OK)
			c->is_resp_done = 1;
		break;
	default:
		consumed = n;
		break;
	}
	buf_append(&c->cout, buf_ptr(&c->uin), consumed);
	buf_consume(&c->uin, consumed);
	c->bytes_down += consumed;
	return 0;
}

/* Upgraded connection: bytes both ways until either side closes. */
static void
conn_pump_relay(struct conn *c)
{
	size_t n;

	n = c->cin.len < buf_room(&c->uout) ? c->cin.len : buf_room(&c->uout);
	if (n > 0) {
		buf_append(&c->uout, buf_ptr(&c->cin), n);
		buf_consume(&c->cin, n);
		c->bytes_up += n;
	}
	n = c->uin.len < buf_room(&c->cout) ? c->uin.len : buf_room(&c->cout);
	if (n > 0) {
		buf_append(&c->cout, buf_ptr(&c->uin), n);
		buf_consume(&c->uin, n);
		c->bytes_down += n;
	}
}

/* Both halves of the exchange are done and the response is flushed. */
static void
conn_finish_exchange(struct conn *c)
{
	int keep = c->is_req_keep_alive && c->is_resp_keep_alive &&
	    c->is_req_done && !atomic_load(&c->px->is_draining);

	conn_audit(c, "request", "allow", c->is_unclean_end ?
	    "upstream ended the body without close_notify" : NULL);
	/*
	 * The upstream serves again only from a clean message boundary: the
	 * response was framed (not read until close) and not "Connection:
	 * close", nothing stray came after it and nothing is left to send.
	 * Parked for another client connection (conn_release_upstream) only
	 * as HTTP/1.1 and when no upgrade was asked; SSE streams never get
	 * here keep-alive.
	 */
	c->is_up_reusable = c->ufd != -1 && c->is_resp_keep_alive &&
	    c->is_req_done && c->uin.len == 0 && c->uout.len == 0;
	c->is_up_poolable = c->is_up_reusable && c->is_resp_http11 &&
	    !c->is_upgrade && !c->has_pin;
	c->up_generation = c->req_pool_generation;
	if (!keep) {
		conn_close(c, "exchange done");
		return;
	}
	if (!c->is_up_reusable)
		conn_close_upstream(c);
	buf_release(&c->uin);
	if (c->has_secret_bytes && c->uout.len == 0) {
		conn_buf_wipe_release(&c->uout);
		c->has_secret_bytes = 0;
	}
	conn_reset_request(c);
	conn_set_state(c, CONN_READ_HEAD, LIMIT_IDLE_TIMEOUT_MS);
	c->is_idle_wait = 1;
	if (c->cin.len == 0)
		buf_release(&c->cin);
	conn_process_head(c); /* a pipelined request may be waiting */
}

/* --------------------------------------------------------- tunnels */

/*
 * One read of at most want bytes from fd into b, for bytes a tunnel judges
 * before they pass, under the readiness epoll reported in *ready (bits
 * consumed as the relay does).  1 at the end of stream, 0 otherwise
 * (nothing there now included), -1 on an error.
 */
static int
conn_tunnel_read(struct buf *b, int fd, uint32_t *ready, size_t want)
{
	ssize_t n;

	if (!(*ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) || want == 0)
		return 0;
	n = buf_read_fd_max(b, fd, want);
	if (n == 0)
		return 1;
	if (n > 0) {
		if ((size_t)n < want) /* epoll says when there is more */
			*ready &= ~(uint32_t)EPOLLIN;
		return 0;
	}
	if (errno == EAGAIN || errno == EINTR) {
		*ready &= ~(uint32_t)(EPOLLIN | EPOLLHUP | EPOLLERR);
		return 0;
	}
	return -1;
}

/*
 * What a judged phase of a tunnel read and let pass goes on: the client's
 * bytes (cin) to the empty uout when is_up, the upstream's (uin) to the
 * empty cout otherwise.  The buffers trade places instead of copying (the
 * one read is left empty, its memory given back), the bytes are counted,
 * and an end read with them is passed on once they are out.
 */
static void
conn_tunnel_pass(struct conn *c, int is_up, int is_eof)
{
	struct buf *from = is_up ? &c->cin : &c->uin;
	struct buf *to = is_up ? &c->uout : &c->cout;
	struct buf t;

	if (is_up)
		c->bytes_up += from->len;
	else
		c->bytes_down += from->len;
	buf_release(to);
	if (from->len > 0) {
		t = *to;
		*to = *from;
		*from = t;
	}
	buf_release(from);
	if (is_eof)
		(is_up ? &c->cu : &c->uc)->is_eof = 1;
}

/*
 * A judged phase of a tunnel reads the client's bytes into cin, up to want
 * more: 2 at the client's end, 1 with bytes to judge, 0 when nothing came
 * (wait), -1 when c closed.  The phase's LIMIT_TUNNEL_FIRST_MS run from
 * its first byte.
 */
static int
conn_tunnel_read_client(struct conn *c, size_t want)
{
	int is_eof = conn_tunnel_read(&c->cin, c->cfd, &c->c_ready, want);

	if (is_eof == -1) {
		conn_abort(c, "tunnel: client side error");
		return -1;
	}
	if (c->cin.len == 0 && !is_eof) {
		buf_release(&c->cin);
		return 0;
	}
	if (c->cin.len > 0 && c->first_deadline_ms == 0)
		c->first_deadline_ms = ev_now(c->w->ev) + LIMIT_TUNNEL_FIRST_MS;
	return is_eof ? 2 : 1;
}

/* The most the first read of a tunnel asks for: a ClientHello fits. */
#define CONN_FIRST_READ 4096

/*
 * A tunnel's first client bytes failed firstflight_judge: nothing of them
 * reached the upstream.  An HTTP request is answered 403 with the reason;
 * a TLS client, mid-handshake, gets a fatal access_denied alert (the
 * record layer is still plain) and the close.  Either way the tunnel's
 * close record says deny and why.
 */
static void
conn_tunnel_refuse(struct conn *c, int verdict, const char *reason)
{
	static const unsigned char alert[] = { 0x15, 0x03, 0x03, 0x00, 0x02,
		0x02, 0x31 };
	int is_tls = c->hello_watch != CONN_HELLO_NONE ||
	    (c->cin.len > 0 && (unsigned char)buf_ptr(&c->cin)[0] == 0x16);

	counter_bump(&c->w->counters.tunnel_refused);
	buf_release(&c->cin);
	if (verdict == FIRSTFLIGHT_REFUSE_HTTP) {
		c->status = 403;
		conn_audit(c, "close", "deny", reason);
		conn_respond_close(c, 403, reason);
		return;
	}
	if (is_tls)
		(void)send(c->cfd, alert, sizeof(alert),
		    MSG_NOSIGNAL | MSG_DONTWAIT);
	conn_close_as(c, "deny", reason);
}

/*
 * A host-level tunnel's first bytes are an HTTP/1.x request that names its
 * host: on a kept-alive connection a later request could name another host
 * of the same front, so from here on the tunnel is inspected request by
 * request, as plain HTTP inside an intercepted CONNECT is (each judged,
 * each audited, a Host that is not the tunnel's refused with 421).  The
 * request is still in cin; the upstream dialed for the CONNECT serves it.
 * An upstream that spoke before any request did is not HTTP: refused; one
 * that ended already: the tunnel ends, as it would have spliced.
 * 2 when c now reads heads, -1 when c closed.
 */
static int
conn_tunnel_inspect(struct conn *c, int is_eof)
{
	int is_up_gone = c->uc.is_eof || (c->u_ready & (EPOLLHUP | EPOLLERR));

	if (c->bytes_down > 0 || c->uc.inpipe > 0) {
		conn_tunnel_refuse(c, FIRSTFLIGHT_REFUSE_HTTP, "the upstream "
		    "spoke before the client's HTTP request in the tunnel");
		return -1;
	}
	if (is_up_gone) {
		/* its end reached the client already, as it would direct:
		 * nothing to answer on (no second dial) */
		conn_close(c, "tunnel: the upstream ended before the client's "
		    "first request");
		return -1;
	}
	relay_dir_close(&c->w->pipes, &c->cu);
	relay_dir_close(&c->w->pipes, &c->uc);
	c->is_first_judging = 0;
	c->is_intercept = c->is_inner_known = c->is_inner_plain = 1;
	c->is_tunnel_inspect = 1;
	snprintf(c->ihost, sizeof(c->ihost), "%s", c->host);
	c->iport = c->port;
	conn_reset_request(c);
	c->is_up_reusable = 1;
	/* the request first: the end of stream is read again after it */
	if (is_eof)
		c->c_ready &= ~(uint32_t)(EPOLLIN | EPOLLHUP | EPOLLERR);
	conn_set_state(c, CONN_READ_HEAD, LIMIT_HEAD_TIMEOUT_MS);
	return 2;
}

/*
 * Before the client->upstream direction splices, its first bytes are read
 * (a plain read into cin: bytes only peeked at would stay readable and
 * spin the level-triggered loop) until firstflight_judge can tell; then
 * they are queued for the upstream as they came.  1 when they passed (c's
 * uout holds them), 2 when they were HTTP (see conn_tunnel_inspect), 0 to
 * wait for more, -1 when c closed.
 */
static int
conn_tunnel_first(struct conn *c)
{
	char reason[2 * LIMIT_HOSTNAME + 160];
	size_t want = c->cin.len < CONN_FIRST_READ ?
	    CONN_FIRST_READ - c->cin.len : c->cin.len < SNI_PEEK_MAX ?
	    SNI_PEEK_MAX - c->cin.len : 0;
	int is_eof, v = FIRSTFLIGHT_PASS, got;

	if ((got = conn_tunnel_read_client(c, want)) <= 0)
		return got;
	is_eof = got == 2;
	if (c->cin.len > 0) {
		v = firstflight_judge(buf_ptr(&c->cin), c->cin.len,
		    is_eof || c->cin.len >= SNI_PEEK_MAX, c->host, c->port,
		    c->px->cfg.is_tunnel_ech_allowed ? FIRSTFLIGHT_ALLOW_ECH : 0,
		    reason, sizeof(reason));
	}
	if (v == FIRSTFLIGHT_MORE)
		return 0;
	if (v == FIRSTFLIGHT_PASS_HTTP)
		return conn_tunnel_inspect(c, is_eof);
	if (v != FIRSTFLIGHT_PASS) {
		conn_tunnel_refuse(c, v, reason);
		return -1;
	}
	c->is_first_judging = 0;
	/* a ClientHello: what the upstream answers first may ask for
	 * another (unless the upstream spoke first: no TLS server) */
	if (c->cin.len > 0 && (unsigned char)buf_ptr(&c->cin)[0] == 0x16 &&
	    !is_eof && c->bytes_down == 0 && c->uc.inpipe == 0)
		c->hello_watch = CONN_HELLO_SERVER;
	/* nothing else is queued for the upstream in a tunnel */
	conn_tunnel_pass(c, 1, is_eof);
	return 1;
}

/* The most of the upstream's first bytes read to find its first handshake
 * message: a ServerHello shows its random within a few dozen. */
#define CONN_SERVER_FIRST_MAX 4096

/*
 * CONN_HELLO_SERVER: the upstream's first bytes after a ClientHello passed
 * are read into uin, not spliced, until firstflight_server_hello tells a
 * HelloRetryRequest from anything else; meanwhile the client is not read.
 * Then they go to the client as they came (through cout), and the client's
 * second ClientHello is waited for (CONN_HELLO_CLIENT) or the splice takes
 * over.  1 when decided, 0 to wait, -1 when c closed.
 */
static int
conn_tunnel_server_first(struct conn *c)
{
	int is_eof, v = FIRSTFLIGHT_SERVER_MORE;

	is_eof = conn_tunnel_read(&c->uin, c->ufd, &c->u_ready,
	    CONN_SERVER_FIRST_MAX - c->uin.len);
	if (is_eof == -1) {
		conn_abort(c, "tunnel: upstream side error");
		return -1;
	}
	if (c->uin.len > 0)
		v = firstflight_server_hello(buf_ptr(&c->uin), c->uin.len);
	if (v == FIRSTFLIGHT_SERVER_MORE && !is_eof &&
	    c->uin.len < CONN_SERVER_FIRST_MAX) {
		if (c->uin.len == 0)
			buf_release(&c->uin);
		return 0;
	}
	if (v == FIRSTFLIGHT_SERVER_MORE && !is_eof) {
		/* only empty handshake records, which RFC 8446 5.1 forbids,
		 * keep a server's first message from showing its random in
		 * this much: whether it asks for a second hello is unknown */
		char msg[LIMIT_HOSTNAME + 160];

		snprintf(msg, sizeof(msg), "the server's first handshake "
		    "message in the tunnel to %s was not whole after %d bytes",
		    c->host, CONN_SERVER_FIRST_MAX);
		conn_tunnel_refuse(c, FIRSTFLIGHT_REFUSE, msg);
		return -1;
	}
	if (v == FIRSTFLIGHT_SERVER_HRR) {
		c->hello_watch = CONN_HELLO_CLIENT;
		c->first_deadline_ms = 0; /* from its first byte */
	} else {
		c->hello_watch = CONN_HELLO_NONE;
	}
	conn_tunnel_pass(c, 0, is_eof);
	return 1;
}

/*
 * CONN_HELLO_CLIENT: after a HelloRetryRequest the client's bytes are read
 * into cin, as its first ones were, until firstflight_judge_second has
 * judged its second ClientHello.  1 when it passed (c's uout holds the
 * bytes), 0 to wait for more, -1 when c closed.
 */
static int
conn_tunnel_second_hello(struct conn *c)
{
	char reason[2 * LIMIT_HOSTNAME + 160], msg[2 * LIMIT_HOSTNAME + 200];
	int is_eof, v, got;

	if ((got = conn_tunnel_read_client(c, SNI_PEEK_MAX - c->cin.len)) <= 0)
		return got;
	is_eof = got == 2;
	v = firstflight_judge_second(buf_ptr(&c->cin), c->cin.len,
	    is_eof || c->cin.len >= SNI_PEEK_MAX, c->host, c->port,
	    c->px->cfg.is_tunnel_ech_allowed ? FIRSTFLIGHT_ALLOW_ECH : 0,
	    reason, sizeof(reason));
	if (v == FIRSTFLIGHT_MORE)
		return 0;
	if (v != FIRSTFLIGHT_PASS) {
		snprintf(msg, sizeof(msg), "after a HelloRetryRequest: %s",
		    reason);
		conn_tunnel_refuse(c, FIRSTFLIGHT_REFUSE, msg);
		return -1;
	}
	c->hello_watch = CONN_HELLO_NONE;
	conn_tunnel_pass(c, 1, is_eof);
	return 1;
}

static void
conn_tunnel_io(struct conn *c)
{
	int64_t now = ev_now(c->w->ev);
	size_t cu0 = c->cu.inpipe, uc0 = c->uc.inpipe;
	ssize_t up = 0, down;
	int rc = 0;

	/* bytes judged before they pass: 1 (or 2, HTTP: see
	 * conn_tunnel_inspect) when they did, and what they left in uout or
	 * cout goes first (the drive flushes it, then comes back here); 0
	 * while they wait, and the other direction flows on, except while
	 * the upstream's first bytes are read: then nothing else moves */
	if (c->is_first_judging)
		rc = conn_tunnel_first(c);
	else if (c->hello_watch == CONN_HELLO_SERVER)
		rc = conn_tunnel_server_first(c);
	else if (c->hello_watch == CONN_HELLO_CLIENT)
		rc = conn_tunnel_second_hello(c);
	if (rc == -1)
		return;
	if (rc >= 1) {
		c->is_drive_again = 1;
		if (rc == 1)
			c->deadline_ms = now + LIMIT_TUNNEL_IDLE_MS;
		return;
	}
	if (c->hello_watch == CONN_HELLO_SERVER)
		return;
	if (!c->is_first_judging && c->hello_watch == CONN_HELLO_NONE)
		up = relay_dir_splice(&c->w->pipes, &c->cu, c->cfd,
		    &c->c_ready, c->ufd);
	if (up == -1) {
		conn_abort(c, "tunnel: client side error");
		return;
	}
	c->bytes_up += (uint64_t)up;
	down = relay_dir_splice(&c->w->pipes, &c->uc, c->ufd, &c->u_ready,
	    c->cfd);
	if (down == -1) {
		conn_abort(c, "tunnel: upstream side error");
		return;
	}
	c->bytes_down += (uint64_t)down;
	if (up > 0 || down > 0 || c->cu.inpipe != cu0 || c->uc.inpipe != uc0)
		c->deadline_ms = now + LIMIT_TUNNEL_IDLE_MS;
	/* first bytes begun and not yet judged: no longer than this, however
	 * busy the other direction is */
	if ((c->is_first_judging || c->hello_watch == CONN_HELLO_CLIENT) &&
	    c->first_deadline_ms != 0 &&
	    c->deadline_ms > c->first_deadline_ms)
		c->deadline_ms = c->first_deadline_ms;
	/* an end is passed on with shutdown, except the last: the close
	 * that follows it at once sends that FIN */
	if (c->cu.is_eof && c->cu.inpipe == 0 && !c->is_u_shut) {
		if (!c->is_c_shut)
			shutdown(c->ufd, SHUT_WR);
		c->is_u_shut = 1;
	}
	if (c->uc.is_eof && c->uc.inpipe == 0 && !c->is_c_shut) {
		if (!c->is_u_shut)
			shutdown(c->cfd, SHUT_WR);
		c->is_c_shut = 1;
	}
	if (c->is_u_shut && c->is_c_shut)
		conn_close(c, "tunnel closed");
}

/* --------------------------------------------------------- driving */

static int
conn_flush(struct conn *c)
{
	ssize_t n;

	if (c->cout.len > 0 && c->state != CONN_TLS_ACCEPT) {
		n = xport_write(&c->cx, &c->cout);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			conn_close(c, "client write error");
			return -1;
		}
		if (c->cout.len == 0)
			buf_release(&c->cout);
	}
	if (c->ufd != -1 && c->uout.len > 0 && (c->state == CONN_FORWARD ||
	    c->state == CONN_RELAY || c->state == CONN_TUNNEL)) {
		n = xport_write(&c->ux, &c->uout);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			if (c->state == CONN_FORWARD && !c->is_resp_head_done) {
				if (!conn_retry_fresh(c))
					conn_upstream_failed(c, 502,
					    "upstream write error");
			} else {
				conn_close(c, "upstream write error");
			}
			return -1;
		}
		if (c->uout.len == 0) {
			if (c->has_secret_bytes) {
				conn_buf_wipe_release(&c->uout);
				c->has_secret_bytes = 0;
			} else {
				buf_release(&c->uout);
			}
		}
	}
	return 0;
}

/* Events wanted on one side, given what its TLS layer is waiting for. */
static uint32_t
conn_xport_events(const struct xport *x, uint32_t want)
{
	if (x->ssl == NULL)
		return want;
	if (x->want_read)
		want |= EPOLLIN;
	if (x->want_write)
		want |= EPOLLOUT;
	return want;
}

static int
conn_wants_client_input(const struct conn *c)
{
	switch (c->state) {
	case CONN_READ_HEAD:
		return buf_room(&c->cin) > 0;
	case CONN_FORWARD:
		return !c->is_req_done && c->uout.len < LIMIT_RELAY_BACKLOG &&
		    buf_room(&c->cin) > 0;
	case CONN_RELAY:
		return !c->cx.is_eof && c->uout.len < LIMIT_RELAY_BACKLOG &&
		    buf_room(&c->cin) > 0;
	default:
		return 0;
	}
}

static int
conn_wants_upstream_input(const struct conn *c)
{
	switch (c->state) {
	case CONN_FORWARD:
		return !c->is_resp_done && c->cout.len < LIMIT_RELAY_BACKLOG &&
		    buf_room(&c->uin) > 0;
	case CONN_RELAY:
		return !c->ux.is_eof && c->cout.len < LIMIT_RELAY_BACKLOG &&
		    buf_room(&c->uin) > 0;
	default:
		return 0;
	}
}

/*
 * A client read watch not wanted now may stay armed while the client is
 * quiet: no system call to disarm it, and none to arm it again when input
 * is wanted next (the turn of every keep-alive request, every dial).  Its
 * first report (pipelined bytes, an end, an error) puts it to rest.
 */
static uint32_t
conn_client_idle_watch(const struct conn *c)
{
	if ((c->cio.events & EPOLLIN) &&
	    !(c->c_ready & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return EPOLLIN;
	return 0;
}

static void
conn_update_events(struct conn *c)
{
	uint32_t ce = 0, ue = 0;

	switch (c->state) {
	case CONN_READ_HEAD:
		if (conn_wants_client_input(c))
			ce |= EPOLLIN;
		if (c->ufd != -1)
			ue |= EPOLLIN; /* notice an idle upstream closing */
		break;
	case CONN_CONNECT:
		ue |= EPOLLOUT;
		/* FALLTHROUGH */
	case CONN_RESOLVE:
		/* the client is not read while its upstream is dialled */
		ce |= conn_client_idle_watch(c);
		break;
	case CONN_TLS_ACCEPT:
		/* its first byte, then what the handshake asks for */
		ce = c->is_inner_known ? conn_xport_events(&c->cx, 0) :
		    EPOLLIN;
		break;
	case CONN_TLS_CONNECT:
		ue = conn_xport_events(&c->ux, 0);
		break;
	case CONN_FORWARD:
	case CONN_RELAY:
		if (conn_wants_client_input(c))
			ce |= EPOLLIN;
		else if (c->state == CONN_FORWARD)
			ce |= conn_client_idle_watch(c); /* the response's turn */
		if (conn_wants_upstream_input(c))
			ue |= EPOLLIN;
		if (c->uout.len > 0)
			ue |= EPOLLOUT;
		break;
	case CONN_TUNNEL:
		if (c->cout.len > 0 || c->uout.len > 0) {
			if (c->uout.len > 0)
				ue |= EPOLLOUT;
			break;
		}
		if (c->hello_watch == CONN_HELLO_SERVER) {
			ue |= EPOLLIN; /* the client waits meanwhile */
			break;
		}
		if (c->is_first_judging || c->hello_watch == CONN_HELLO_CLIENT ?
		    c->cin.len < SNI_PEEK_MAX : relay_dir_wants_read(&c->cu))
			ce |= EPOLLIN;
		if (relay_dir_wants_read(&c->uc))
			ue |= EPOLLIN;
		if (relay_dir_wants_write(&c->cu))
			ue |= EPOLLOUT;
		if (relay_dir_wants_write(&c->uc))
			ce |= EPOLLOUT;
		break;
	case CONN_DRAIN:
		ce |= EPOLLIN;
		break;
	default:
		break;
	}
	if (c->cout.len > 0)
		ce |= EPOLLOUT;
	if (c->state != CONN_TLS_ACCEPT)
		ce = conn_xport_events(&c->cx, ce);
	if (c->state != CONN_TLS_CONNECT && c->ufd != -1)
		ue = conn_xport_events(&c->ux, ue);
	/*
	 * epoll reports EPOLLHUP and EPOLLERR whatever is asked for, and a
	 * level-triggered watch reports them on every wait while they hold:
	 * a socket wanted for nothing now (its direction ended, or what it
	 * feeds is full) is watched edge-triggered, so that they wake the
	 * loop once, when they happen, instead of spinning it.
	 */
	ev_io_set(c->w->ev, &c->cio, ce != 0 ? ce : EPOLLET);
	if (c->ufd != -1)
		ev_io_set(c->w->ev, &c->uio, ue != 0 ? ue : EPOLLET);
}

/*
 * A reset of a side whose end of stream the relay already has: nothing
 * from it is left to relay and nothing can reach it; with no bytes moving,
 * no read or write would ever see the error.  (A reset before the end is
 * met by the read that reaches it, after the bytes that came first.)
 * Aborts c and returns 1 then.
 */
static int
conn_reset_after_end(struct conn *c, int is_client, uint32_t events)
{
	int is_eof;

	if (!(events & EPOLLERR))
		return 0;
	if (c->state == CONN_TUNNEL)
		is_eof = is_client ? c->cu.is_eof : c->uc.is_eof;
	else if (c->state == CONN_RELAY)
		is_eof = is_client ? c->cx.is_eof : c->ux.is_eof;
	else
		return 0;
	if (!is_eof ||
	    sock_connect_result(is_client ? c->cfd : c->ufd) != -1)
		return 0;
	/* passed on as a reset, as the other side would see it direct */
	conn_abort(c, is_client ? "client reset" : "upstream reset");
	return 1;
}

/* Read what the client side has for us; -1 when the connection ended. */
static int
conn_read_client(struct conn *c)
{
	ssize_t n;

	if (!conn_wants_client_input(c) ||
	    !((c->c_ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
	    xport_pending(&c->cx) ||
	    (c->cx.want_write && (c->c_ready & EPOLLOUT))))
		return 0;
	n = xport_read(&c->cx, &c->cin);
	if (n > 0) {
		if (c->cx.is_drained) /* epoll says when there is more */
			c->c_ready &= ~(uint32_t)EPOLLIN;
		return 0;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR ||
	    errno == ENOBUFS)) {
		c->c_ready &= ~(uint32_t)(EPOLLIN | EPOLLHUP | EPOLLERR);
		return 0;
	}
	if (n == 0 && c->state == CONN_RELAY) {
		/* half close: pass it on once the backlog is out */
		return 0;
	}
	if (n == 0 && c->state == CONN_READ_HEAD && c->cin.len == 0) {
		conn_close(c, "client closed");
		return -1;
	}
	if (c->state == CONN_FORWARD) {
		/* a request cut short: the upstream must not take what it got
		 * for all of it */
		conn_audit(c, "request", "error",
		    n == 0 ? "client closed during the request" :
			     "client read error");
		conn_abort(c, n == 0 ? "client closed during the request" :
		    "client read error");
		return -1;
	}
	if (n == -1 && c->state == CONN_RELAY) {
		conn_abort(c, "client read error"); /* a cut, passed on */
		return -1;
	}
	conn_close(c, n == 0 ? "client closed" : "client read error");
	return -1;
}

/* Read what the upstream has for us; -1 when the connection ended. */
static int
conn_read_upstream(struct conn *c)
{
	char msg[200];
	ssize_t n;

	if (c->ufd == -1 || !conn_wants_upstream_input(c) ||
	    !((c->u_ready & (EPOLLIN | EPOLLHUP | EPOLLERR)) ||
	    xport_pending(&c->ux) ||
	    (c->ux.want_write && (c->u_ready & EPOLLOUT))))
		return 0;
	n = xport_read(&c->ux, &c->uin);
	if (n > 0) {
		c->is_up_pooled = 0; /* it answers: no resend any more */
		if (c->ux.is_drained)
			c->u_ready &= ~(uint32_t)EPOLLIN;
		return 0;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR ||
	    errno == ENOBUFS)) {
		c->u_ready &= ~(uint32_t)(EPOLLIN | EPOLLHUP | EPOLLERR);
		return 0;
	}
	if (c->state == CONN_RELAY)
		return 0; /* c->ux.is_eof or an error: handled by the relay */
	if (c->is_resp_head_done && c->resp_framing == HTTP1_BODY_UNTIL_CLOSE &&
	    (n == 0 || xport_is_unexpected_eof(&c->ux))) {
		/* the end of the body; without close_notify it may be a cut
		 * only the client can judge: it gets the same end */
		c->is_resp_done = 1;
		c->is_resp_keep_alive = 0;
		c->is_unclean_end = n != 0;
		return 0;
	}
	if (!c->is_resp_head_done && c->cout.len == 0) {
		if (conn_retry_fresh(c))
			return -1;
		if (n == 0)
			snprintf(msg, sizeof(msg),
			    "upstream closed without a response");
		else
			xport_error(&c->ux, msg, sizeof(msg));
		conn_upstream_failed(c, 502, msg);
		return -1;
	}
	conn_audit(c, "request", "error", "upstream closed mid-response");
	conn_abort(c, "upstream closed mid-response");
	return -1;
}

/*
 * The first byte an intercepted client sends after the 200 tells what it
 * speaks: a TLS handshake record (22), or else plain HTTP (the agent
 * CONNECTs for every port, port 80 too).  Plain HTTP is then inspected
 * as it comes, request by request, and goes to the upstream plain too.
 * 1 when it is TLS, 0 to wait or when c went plain, -1 when c closed.
 */
static int
conn_sniff_inner(struct conn *c)
{
	unsigned char first;
	ssize_t n;

	if (c->is_inner_known)
		return 1;
	n = recv(c->cfd, &first, 1, MSG_PEEK);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		c->c_ready &= ~(uint32_t)(EPOLLIN | EPOLLHUP | EPOLLERR);
		return 0;
	}
	if (n <= 0) {
		conn_close(c, n == 0 ? "client closed" : "client read error");
		return -1;
	}
	c->is_inner_known = 1;
	c->is_inner_plain = first != 22;
	conn_audit_connect(c);
	if (!c->is_inner_plain)
		return 1;
	xport_reset(&c->cx, 0); /* no TLS: c->cx is the plain socket */
	conn_reset_request(c);
	conn_set_state(c, CONN_READ_HEAD, LIMIT_HEAD_TIMEOUT_MS);
	c->c_ready |= EPOLLIN;
	return 0;
}

static void
conn_tls_accept_step(struct conn *c)
{
	const char *sni;
	char canon[LIMIT_HOSTNAME + 3], msg[200];
	int rc = conn_sniff_inner(c);

	if (rc != 1)
		return;
	rc = xport_handshake(&c->cx);
	if (rc == 0)
		return;
	if (rc == -1) {
		/* a client that does not trust our CA ends up here */
		conn_audit(c, "tls", "error", xport_error(&c->cx, msg,
		    sizeof(msg)));
		conn_close(c, "client TLS handshake failed");
		return;
	}
	sni = SSL_get_servername(c->cx.ssl, TLSEXT_NAMETYPE_host_name);
	if (sni != NULL && (match_host_canon(sni, strlen(sni), canon,
	    sizeof(canon)) == -1 || strcmp(canon, c->ihost) != 0)) {
		/* no domain fronting: the SNI must name the CONNECT host */
		c->status = 421;
		conn_audit(c, "tls", "deny",
		    "TLS server name differs from the CONNECT host");
		conn_respond_close(c, 421, "denied: TLS server name differs "
		    "from the CONNECT host");
		return;
	}
	conn_reset_request(c);
	conn_set_state(c, CONN_READ_HEAD, LIMIT_HEAD_TIMEOUT_MS);
	c->c_ready |= EPOLLIN;
}

static void
conn_tls_connect_step(struct conn *c)
{
	char msg[512], err[200];
	int rc = xport_handshake(&c->ux);

	if (rc == 0)
		return;
	if (rc == -1) {
		snprintf(msg, sizeof(msg), "upstream %s: %s", c->host,
		    xport_error(&c->ux, err, sizeof(err)));
		log_info("conn %llu: %s", (unsigned long long)c->id, msg);
		conn_upstream_failed(c, 502, msg);
		return;
	}
	if (SSL_session_reused(c->ux.ssl))
		counter_bump(&c->w->counters.tls_resumed);
	else
		counter_bump(&c->w->counters.tls_full);
	conn_set_state(c, CONN_FORWARD, LIMIT_IO_TIMEOUT_MS);
}

static void
conn_drive_forward(struct conn *c)
{
	int rc;

	if (conn_pump_request(c) == -1) {
		/* the upstream got a head whose body never comes: drop it */
		if (!c->is_resp_head_done && c->cout.len == 0) {
			conn_deny(c, 400, "invalid chunked request body");
			return;
		}
		c->status = 400;
		conn_audit(c, "request", "deny", "invalid chunked request body");
		conn_close(c, "invalid chunked request body");
		return;
	}
	rc = conn_pump_response(c);
	if (rc == -3)
		return; /* an OAuth refresh and replay are under way */
	if (rc == -2 && !c->is_resp_head_done) {
		conn_upstream_failed(c, 502, "malformed response from upstream");
		return;
	}
	if (rc < 0) {
		conn_audit(c, "request", "error",
		    "malformed response body from upstream");
		conn_abort(c, "malformed response body from upstream");
		return;
	}
	if (c->state == CONN_RELAY)
		return;
	if (conn_flush(c) == -1)
		return;
	if (c->is_resp_done && c->cout.len == 0) {
		if (c->is_req_done) {
			conn_finish_exchange(c);
			return;
		}
		/* answered before the body was sent: no reuse */
		conn_audit(c, "request", "allow",
		    "upstream answered before the request body ended");
		conn_close(c, "early response");
		return;
	}
	c->deadline_ms = ev_now(c->w->ev) + LIMIT_IO_TIMEOUT_MS;
}

static void
conn_drive_relay(struct conn *c)
{
	conn_pump_relay(c);
	if (conn_flush(c) == -1)
		return;
	/* an end passed on: close_notify where TLS, then FIN; the other
	 * direction goes on until its own end */
	if (c->cx.is_eof && c->cin.len == 0 && c->uout.len == 0 &&
	    !c->is_u_shut) {
		xport_shutdown(&c->ux);
		shutdown(c->ufd, SHUT_WR);
		c->is_u_shut = 1;
	}
	if (c->ux.is_eof && c->uin.len == 0 && c->cout.len == 0 &&
	    !c->is_c_shut) {
		xport_shutdown(&c->cx);
		shutdown(c->cfd, SHUT_WR);
		c->is_c_shut = 1;
	}
	if (c->is_u_shut && c->is_c_shut) {
		conn_close(c, "upgraded connection closed");
		return;
	}
	/* an error (a reset) on either side is a cut: both get a reset */
	if (c->cx.err || (c->ux.err && c->cout.len == 0)) {
		conn_abort(c, c->cx.err ? "client side error" :
		    "upstream side error");
		return;
	}
	c->deadline_ms = ev_now(c->w->ev) + LIMIT_TUNNEL_IDLE_MS;
}

/*
 * Move the connection as far as it can go now: flush, read, parse, relay.
 * Called again from inside (a request that starts its upstream, say), it
 * does not nest: the drive on the stack goes round once more.  A client
 * that keeps a fast upstream busy with back-to-back requests could
 * otherwise recurse once per request until the stack runs out.  After
 * CONN_DRIVE_ROUNDS rounds that all made progress the rest waits for the
 * next turn of the loop (the kick timer), after the other connections;
 * so do decrypted bytes left inside TLS that the connection can take.
 */
static void
conn_drive(struct conn *c)
{
	enum conn_state before;
	int rounds, is_progress = 0;

	if (c->is_driving) {
		c->is_drive_again = 1;
		return;
	}
	c->is_driving = 1;
	for (rounds = 0; rounds < CONN_DRIVE_ROUNDS && !c->is_closed;
	    rounds++) {
		before = c->state;
		c->is_drive_again = 0;
		if (conn_flush(c) == -1)
			break;
		switch (c->state) {
		case CONN_TLS_ACCEPT:
			conn_tls_accept_step(c);
			break;
		case CONN_TLS_CONNECT:
			conn_tls_connect_step(c);
			break;
		case CONN_READ_HEAD:
			if (conn_read_client(c) == -1)
				break;
			conn_process_head(c);
			break;
		case CONN_FORWARD:
			if (conn_read_client(c) == -1 ||
			    conn_read_upstream(c) == -1)
				break;
			conn_drive_forward(c);
			break;
		case CONN_RELAY:
			if (conn_read_client(c) == -1 ||
			    conn_read_upstream(c) == -1)
				break;
			conn_drive_relay(c);
			break;
		case CONN_TUNNEL:
			if (c->cout.len == 0 && c->uout.len == 0)
				conn_tunnel_io(c);
			break;
		case CONN_FLUSH_CLOSE:
			if (c->cout.len == 0) {
				/* lingering close: the client may still be
				 * sending, and a close with unread data would
				 * reset the connection before our answer is
				 * read */
				xport_reset(&c->cx, 1);
				shutdown(c->cfd, SHUT_WR);
				conn_set_state(c, CONN_DRAIN, CONN_DRAIN_MS);
			}
			break;
		default:
			break;
		}
		if (c->is_closed)
			break;
		is_progress = c->state != before || c->is_drive_again;
		if (!is_progress && !xport_pending(&c->cx) &&
		    !(c->ufd != -1 && xport_pending(&c->ux)))
			break;
	}
	c->is_driving = 0;
	if (c->is_closed)
		return;
	/* decrypted bytes held inside TLS get no socket event: read them on
	 * the next turn too */
	if ((rounds == CONN_DRIVE_ROUNDS && is_progress) ||
	    (xport_pending(&c->cx) && conn_wants_client_input(c)) ||
	    (c->ufd != -1 && xport_pending(&c->ux) &&
	    conn_wants_upstream_input(c)))
		ev_timer_arm(c->w->ev, &c->kick, 0);
	conn_update_events(c);
}

static void
conn_kick_cb(struct ev_timer *t)
{
	conn_drive(t->arg);
}

static void
conn_client_cb(struct ev_io *io, uint32_t events)
{
	struct conn *c = io->arg;
	char scratch[16384];
	ssize_t n;

	if (c->state == CONN_DRAIN) {
		n = read(c->cfd, scratch, sizeof(scratch));
		if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
			conn_close(c, "done");
			return;
		}
		if (n > 0) {
			c->drained += (uint64_t)n;
			if (c->drained > CONN_DRAIN_MAX)
				conn_close(c, "done");
		}
		return;
	}
	if (conn_reset_after_end(c, 1, events))
		return;
	c->c_ready |= events;
	conn_drive(c);
}

static void
conn_upstream_cb(struct ev_io *io, uint32_t events)
{
	struct conn *c = io->arg;

	if (c->state == CONN_CONNECT) {
		if (sock_connect_result(c->ufd) == -1) {
			ev_io_del(c->w->ev, &c->uio);
			close(c->ufd);
			c->ufd = -1;
			xport_init(&c->ux, -1);
			conn_dial_next(c);
			return;
		}
		conn_connected(c);
		return;
	}
	if (c->state == CONN_READ_HEAD) {
		/* idle keep-alive upstream: closed or sent junk; drop it */
		conn_close_upstream(c);
		conn_update_events(c);
		return;
	}
	if (conn_reset_after_end(c, 0, events))
		return;
	c->u_ready |= events;
	conn_drive(c);
}

/* ------------------------------------------------------- policy/time */

void
conn_rejudge_all(struct worker *w)
{
	struct proxy *px = w->px;
	struct conn *c, *next;
	int64_t now = parse_now_ms();

	/* parked upstreams carry no request to judge: one is taken only by a
	 * request judged under the policy of its client it was parked at
	 * (store_pool_generation); the others expire */
	proxy_judge_lock(px);
	for (c = w->conns; c != NULL; c = next) {
		const struct client *cl;
		struct policy_request prq;
		struct policy_verdict v;
		char msg[256];

		next = c->next;
		/* tunnels and upgraded (WebSocket) connections carry bytes
		 * nobody judges any more: judge them again now */
		if ((c->state != CONN_TUNNEL && c->state != CONN_RELAY) ||
		    c->judged_generation == px->store->generation)
			continue;
		cl = conn_client(c);
		memset(&v, 0, sizeof(v));
		if (cl != NULL) {
			memset(&prq, 0, sizeof(prq));
			prq.host = c->host;
			prq.port = c->port;
			prq.is_connect = c->state == CONN_TUNNEL;
			prq.method = prq.is_connect ? NULL : c->method;
			prq.path = prq.is_connect ? NULL : c->path;
			store_decide(px->store, cl, &prq, now, &v);
		}
		if (cl == NULL || !v.is_allowed ||
		    (c->state == CONN_TUNNEL && v.needs_intercept)) {
			snprintf(msg, sizeof(msg), "revoked: %s",
			    cl == NULL ? "client deleted" : v.reason);
			conn_close_as(c, c->state == CONN_RELAY ? "deny" :
			    "allow", msg);
			continue;
		}
		c->judged_generation = px->store->generation;
	}
	proxy_judge_unlock(px);
}

void
conn_sweep(struct worker *w)
{
	struct conn *c, *next;
	int64_t now = ev_now(w->ev);

	if (w->upool != NULL)
		upool_expire(w->upool, now);
	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (c->deadline_ms > now)
			continue;
		switch (c->state) {
		case CONN_READ_HEAD:
			if (c->cin.len > 0) {
				conn_reset_request(c);
				conn_deny(c, 408, "request head timed out");
			} else {
				conn_close(c, "idle timeout");
			}
			break;
		case CONN_LOCAL_DNS:
			conn_close(c, "dns lookup timed out");
			break;
		case CONN_TLS_ACCEPT:
			if (!c->is_inner_known) {
				/* e.g. a protocol whose server speaks first
				 * (SSH, SMTP) on a port a rule inspects */
				conn_audit_connect(c);
				conn_audit(c, "tls", "error", "client sent "
				    "nothing after the 200 (an inspected port "
				    "needs the client to speak first)");
				conn_close(c, "client sent nothing");
				break;
			}
			conn_audit(c, "tls", "error", "client TLS handshake timed out");
			conn_close(c, "client TLS handshake timed out");
			break;
		case CONN_TLS_CONNECT:
			conn_upstream_failed(c, 504, "upstream TLS handshake timed out");
			break;
		case CONN_RESOLVE:
		case CONN_CONNECT:
			c->status = 504;
			conn_audit(c, c->is_connect ? "connect" : "request",
			    "error", "upstream connect timed out");
			conn_respond_close(c, 504, "upstream connect timed out");
			break;
		case CONN_FORWARD:
			if (!c->is_resp_head_done && c->cout.len == 0) {
				c->status = 504;
				conn_audit(c, "request", "error",
				    "upstream timed out");
				conn_respond_close(c, 504, "upstream timed out");
			} else {
				conn_audit(c, "request", "error", "timed out");
				conn_abort(c, "timed out");
			}
			break;
		case CONN_TUNNEL:
			if ((c->is_first_judging ||
			    c->hello_watch == CONN_HELLO_CLIENT) &&
			    c->first_deadline_ms != 0) {
				/* a ClientHello or head begun, never ended:
				 * nothing of it passed */
				char msg[128];

				snprintf(msg, sizeof(msg),
				    c->is_first_judging ? "the client's first "
				    "bytes in the tunnel were not whole after "
				    "%d s (nothing passed)" : "the client's "
				    "second ClientHello in the tunnel was not "
				    "whole after %d s (none of it passed)",
				    LIMIT_TUNNEL_FIRST_MS / 1000);
				conn_close_as(c, "error", msg);
				break;
			}
			conn_close(c, "tunnel idle timeout");
			break;
		default:
			conn_close(c, "timed out");
			break;
		}
	}
}

void
conn_close_idle(struct worker *w)
{
	struct conn *c, *next;

	if (w->upool != NULL)
		upool_flush(w->upool);

	for (c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (c->state == CONN_READ_HEAD && c->cin.len == 0)
			conn_close(c, "draining");
	}
}

void
conn_close_all(struct worker *w)
{
	while (w->conns != NULL)
		conn_close(w->conns, "shutdown");
	/* after the connections: closing one may have parked its upstream */
	if (w->upool != NULL)
		upool_flush(w->upool);
}
