/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * oauth.c - OAuth secrets (see oauth.h): the refresh client and the token
 * endpoint rewrite.
 *
 * The refresh is an HTTPS POST made by the proxy itself, inside the event
 * loop: c-ares lookup, the same address checks as any upstream, TLS
 * verified like intercepted upstreams, HTTP/1.0 with Connection: close so
 * the answer ends with the connection.  Requests that need the new token
 * wait on the secret's refresh; one refresh serves them all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "audit.h"
#include "http1.h"
#include "log.h"
#include "match.h"
#include "oauth.h"
#include "worker.h"
#include "parse.h"
#include "resolve.h"
#include "secmem.h"
#include "sock.h"
#include "xport.h"

#define OAUTH_FETCH_TIMEOUT_MS 10000
#define OAUTH_URL_MAX 512

struct oauth_wait {
	struct oauth_wait *next;
	oauth_cb cb;
	void *arg;
};

struct oauth_fetch;

struct oauth_tok {
	struct oauth_tok *next;
	char name[LIMIT_NAME];
	int64_t last_forced_ms;
	int64_t refused_ms;          /* a request replayed with fresh tokens
				      * got 401 again (oauth_refresh_refused) */
	int64_t failed_ms;           /* the last refresh failed; 0: it did not */
	char failed_reason[160];
	struct oauth_fetch *fetch;   /* in flight, owned */
	struct oauth_wait *waiters;  /* owned */
};

enum oauth_fetch_state {
	OAUTH_RESOLVE,
	OAUTH_CONNECT,
	OAUTH_TLS,
	OAUTH_IO,
};

struct oauth_fetch {
	struct proxy *px;
	struct oauth_tok *tok;
	enum oauth_fetch_state state;
	char host[LIMIT_HOSTNAME + 3];
	uint16_t port;
	struct resolve_req *rq;
	struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
	size_t naddrs, idx;
	int fd;
	struct ev_io io;
	struct xport x;
	struct buf out, in;          /* wiped: they carry tokens */
	struct ev_timer timer;
	uint64_t secret_serial;      /* the secret the refresh is for */
	int is_done;
};

/* The per-proxy list of secrets with refresh state. */
static struct oauth_tok *oauth_toks;

static struct oauth_tok *
oauth_tok_get(const char *name)
{
	struct oauth_tok *t;

	for (t = oauth_toks; t != NULL; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	snprintf(t->name, sizeof(t->name), "%s", name);
	t->next = oauth_toks;
	oauth_toks = t;
	return t;
}

/* Split "https://host[:port]/path" (https only).  0 or -1. */
static int
oauth_url_split(const char *url, char *host, size_t hostsz, uint16_t *port,
    char *path, size_t pathsz)
{
	struct http1_slice auth, h;
	const char *p, *slash;
	char raw[LIMIT_HOSTNAME + 3];

	if (strncmp(url, "https://", 8) != 0)
		return -1;
	p = url + 8;
	slash = strchr(p, '/');
	auth.p = p;
	auth.len = slash ? (size_t)(slash - p) : strlen(p);
	if (http1_split_authority(auth, 0, &h, port) == -1 ||
	    h.len >= sizeof(raw))
		return -1;
	memcpy(raw, h.p, h.len);
	raw[h.len] = '\0';
	if (match_host_canon(raw, h.len, host, hostsz) == -1)
		return -1;
	if (*port == 0)
		*port = 443;
	if (snprintf(path, pathsz, "%s", slash ? slash : "/") >= (int)pathsz)
		return -1;
	if (strchr(path, '#') != NULL)
		return -1;
	return 0;
}

static const char *
oauth_json_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int
oauth_value_check(const char *value, size_t len, struct buf *out, char *err,
    size_t errsz)
{
	static const char *const known[] = { "access_token", "refresh_token",
		"token_url", "client_id", "client_secret", "expires_at", NULL };
	char host[LIMIT_HOSTNAME + 3], path[OAUTH_URL_MAX];
	const char *key, *url;
	json_error_t jerr;
	json_t *j, *v;
	uint16_t port;
	char *s = NULL;
	int rc = -1, i;

	j = json_loadb(value, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(j)) {
		snprintf(err, errsz, j ? "oauth secret must be a JSON object" :
		    "oauth secret must be a JSON object: %s at line %d, "
		    "column %d", store_json_error_reason(&jerr), jerr.line,
		    jerr.column);
		goto out;
	}
	json_object_foreach(j, key, v) {
		for (i = 0; known[i] != NULL; i++)
			if (strcmp(key, known[i]) == 0)
				break;
		if (known[i] == NULL) {
			snprintf(err, errsz, "oauth secret: unknown key '%.40s'",
			    key);
			goto out;
		}
		if (strcmp(key, "expires_at") == 0 ? !json_is_integer(v) :
		    (!json_is_string(v) || json_string_length(v) == 0)) {
			snprintf(err, errsz, "oauth secret: bad %s", key);
			goto out;
		}
	}
	for (i = 0; i < 4; i++) {
		if (json_object_get(j, known[i]) == NULL) {
			snprintf(err, errsz, "oauth secret: %s is required",
			    known[i]);
			goto out;
		}
	}
	url = oauth_json_str(j, "token_url");
	if (strlen(url) >= OAUTH_URL_MAX || oauth_url_split(url, host,
	    sizeof(host), &port, path, sizeof(path)) == -1) {
		snprintf(err, errsz, "oauth secret: token_url must be an "
		    "https:// URL");
		goto out;
	}
	s = json_dumps(j, JSON_COMPACT);
	if (s == NULL || buf_append(out, s, strlen(s)) == -1) {
		snprintf(err, errsz, "oauth secret too large");
		goto out;
	}
	rc = 0;
out:
	if (s != NULL) {
		secmem_wipe(s, strlen(s));
		free(s);
	}
	json_decref(j);
	return rc;
}

/* The secret's value as JSON (new reference) or NULL. */
static json_t *
oauth_load(struct proxy *px, const char *name, struct secret **secp)
{
	struct secret *sec = store_secret_find(px->store, name);

	if (secp != NULL)
		*secp = sec;
	if (sec == NULL || sec->type != SECRET_OAUTH)
		return NULL;
	return json_loadb((const char *)sec->value->p, sec->value->len, 0, NULL);
}

static int
oauth_append_auth_locked(struct proxy *px, const char *name, struct buf *b,
    char *err, size_t errsz)
{
	json_t *j = oauth_load(px, name, NULL), *exp;
	const char *tok;
	int rc = -1;

	if (j == NULL) {
		snprintf(err, errsz, "oauth secret %s is unusable", name);
		return -1;
	}
	exp = json_object_get(j, "expires_at");
	if (json_is_integer(exp) && json_integer_value(exp) * 1000 <=
	    parse_now_ms() + OAUTH_REFRESH_EARLY_MS) {
		rc = 1;
		goto out;
	}
	tok = oauth_json_str(j, "access_token");
	if (tok == NULL || buf_append(b, "Authorization: Bearer ", 22) == -1 ||
	    buf_append(b, tok, strlen(tok)) == -1 ||
	    buf_append(b, "\r\n", 2) == -1) {
		snprintf(err, errsz, "oauth secret %s: no room for the token",
		    name);
		goto out;
	}
	rc = 0;
out:
	json_decref(j);
	return rc;
}

int
oauth_append_auth(struct proxy *px, const char *name, struct buf *b,
    char *err, size_t errsz)
{
	int r;

	/* reads the store only: a decision's lock (writers store tokens) */
	proxy_judge_lock(px);
	r = oauth_append_auth_locked(px, name, b, err, errsz);
	proxy_judge_unlock(px);
	return r;
}

/* ------------------------------------------------------ refresh client */

static void oauth_fetch_drive(struct oauth_fetch *f);
static void oauth_fetch_dial(struct oauth_fetch *f);

static void
oauth_buf_wipe_release(struct buf *b)
{
	if (b->data != NULL)
		secmem_wipe(b->data, b->cap);
	buf_release(b);
}

static void
oauth_fetch_free(void *p)
{
	struct oauth_fetch *f = p;

	oauth_buf_wipe_release(&f->out);
	oauth_buf_wipe_release(&f->in);
	free(f);
}

/* Is the secret f refreshes still the one of that name? */
static int
oauth_is_current(const struct oauth_fetch *f)
{
	const struct secret *sec = store_secret_find(f->px->store,
	    f->tok->name);

	return sec != NULL && sec->serial == f->secret_serial;
}

/* End the fetch: tell every waiter, free everything. */
static void
oauth_fetch_finish(struct oauth_fetch *f, int ok, const char *reason)
{
	struct oauth_tok *t = f->tok;
	struct oauth_wait *w, *next;
	json_t *rec;

	if (f->is_done)
		return;
	f->is_done = 1;
	if (f->rq != NULL)
		resolve_cancel(f->rq);
	ev_timer_stop(f->px->ev, &f->timer);
	xport_reset(&f->x, 0);
	if (f->fd != -1) {
		ev_io_del(f->px->ev, &f->io);
		close(f->fd);
		f->fd = -1;
	}
	rec = json_pack("{s:s,s:s,s:s,s:s,s:s}", "event", "oauth", "decision",
	    ok ? "allow" : "error", "secret", t->name, "host", f->host,
	    "reason", reason);
	audit_emit(f->px->audit, rec);
	if (!ok)
		log_warnx("oauth %s: refresh failed: %s", t->name, reason);
	/* a refresh that failed is not tried again at once for every
	 * request that needs one (of the secret it was for, not of one
	 * made again under the name meanwhile) */
	if (ok || oauth_is_current(f)) {
		t->failed_ms = ok ? 0 : parse_now_ms();
		snprintf(t->failed_reason, sizeof(t->failed_reason), "%s",
		    ok || reason == NULL ? "" : reason);
	}
	t->fetch = NULL;
	w = t->waiters;
	t->waiters = NULL;
	for (; w != NULL; w = next) {
		next = w->next;
		w->cb(w->arg, ok, reason);
		free(w);
	}
	ev_defer_free(f->px->ev, oauth_fetch_free, f);
}

/* Append "key=urlencoded(value)" to b. */
static int
oauth_form_add(struct buf *b, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";

	if (b->len > 0 && buf_append(b, "&", 1) == -1)
		return -1;
	if (buf_append(b, key, strlen(key)) == -1 || buf_append(b, "=", 1) == -1)
		return -1;
	for (; *value != '\0'; value++) {
		unsigned char ch = (unsigned char)*value;
		char e[3];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~') {
			if (buf_append(b, value, 1) == -1)
				return -1;
			continue;
		}
		e[0] = '%';
		e[1] = hex[ch >> 4];
		e[2] = hex[ch & 15];
		if (buf_append(b, e, 3) == -1)
			return -1;
	}
	return 0;
}

/* The new tokens arrived: store them (atomically) with the old fields. */
/* Store the tokens of answer as the secret's; serial 0: whichever secret
 * has the name now, else only the one of that serial. */
static int
oauth_store_tokens(struct proxy *px, const char *name, uint64_t serial,
    json_t *answer, const char **why)
{
	struct secret *sec;
	json_t *j = oauth_load(px, name, &sec), *v;
	struct buf out;
	char err[256], *s = NULL;
	int rc = -1;

	buf_init(&out, LIMIT_SECRET_VALUE);
	if (j == NULL || (serial != 0 && sec->serial != serial)) {
		/* a secret made again under the name has tokens of its own */
		*why = "the secret was deleted";
		goto out;
	}
	v = json_object_get(answer, "access_token");
	if (!json_is_string(v) || json_string_length(v) == 0) {
		*why = "the token endpoint sent no access_token";
		goto out;
	}
	json_object_set(j, "access_token", v);
	v = json_object_get(answer, "refresh_token");
	if (json_is_string(v) && json_string_length(v) > 0)
		json_object_set(j, "refresh_token", v);
	v = json_object_get(answer, "expires_in");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		json_object_set_new(j, "expires_at", json_integer(
		    parse_now_ms() / 1000 + json_integer_value(v)));
	else
		json_object_del(j, "expires_at");
	s = json_dumps(j, JSON_COMPACT);
	if (s == NULL || store_secret_set_value(px->store, sec, s, strlen(s),
	    err, sizeof(err)) == -1) {
		log_warnx("oauth %s: cannot store the new tokens: %s", name,
		    s ? err : "encode");
		*why = "cannot store the new tokens";
		goto out;
	}
	proxy_secrets_changed(px); /* the file is written on the main loop */
	rc = 0;
out:
	if (s != NULL) {
		secmem_wipe(s, strlen(s));
		free(s);
	}
	json_decref(j);
	oauth_buf_wipe_release(&out);
	return rc;
}

static void
oauth_fetch_parse(struct oauth_fetch *f)
{
	struct http1_response r;
	json_t *answer;
	const char *why = "refreshed";
	size_t blen;

	if (http1_parse_response(buf_ptr(&f->in), f->in.len, 0, 0, &r) !=
	    HTTP1_OK) {
		oauth_fetch_finish(f, 0, "malformed answer from the token "
		    "endpoint");
		return;
	}
	if (r.status != 200) {
		char msg[96];

		snprintf(msg, sizeof(msg), "the token endpoint answered %d",
		    r.status);
		oauth_fetch_finish(f, 0, msg);
		return;
	}
	blen = f->in.len - r.head_len;
	if (r.framing == HTTP1_BODY_LENGTH && r.content_length < blen)
		blen = (size_t)r.content_length;
	answer = json_loadb(buf_ptr(&f->in) + r.head_len, blen, 0, NULL);
	if (!json_is_object(answer)) {
		json_decref(answer);
		oauth_fetch_finish(f, 0, "the token endpoint sent no JSON "
		    "object");
		return;
	}
	if (oauth_store_tokens(f->px, f->tok->name, f->secret_serial, answer,
	    &why) == -1) {
		json_decref(answer);
		oauth_fetch_finish(f, 0, why);
		return;
	}
	json_decref(answer);
	oauth_fetch_finish(f, 1, why);
}

/* Is the whole answer here (a Content-Length body)?  Then there is no need
 * to wait for the server to close. */
static int
oauth_fetch_complete(const struct oauth_fetch *f)
{
	struct http1_response r;

	if (http1_parse_response(buf_ptr(&f->in), f->in.len, 0, 0, &r) !=
	    HTTP1_OK)
		return 0;
	return r.framing == HTTP1_BODY_NONE ||
	    (r.framing == HTTP1_BODY_LENGTH &&
	    f->in.len - r.head_len >= r.content_length);
}

static void
oauth_fetch_update(struct oauth_fetch *f)
{
	uint32_t ev = 0;

	if (f->fd == -1)
		return;
	if (f->state == OAUTH_CONNECT)
		ev = EPOLLOUT;
	else if (f->x.want_write || (f->state == OAUTH_IO && f->out.len > 0))
		ev = EPOLLOUT;
	else
		ev = EPOLLIN;
	ev_io_set(f->px->ev, &f->io, ev);
}

static void
oauth_fetch_drive(struct oauth_fetch *f)
{
	char msg[512];
	ssize_t n;
	int rc, rounds;

	for (rounds = 0; rounds < 16 && !f->is_done; rounds++) {
		switch (f->state) {
		case OAUTH_CONNECT:
			if (sock_connect_result(f->fd) == -1) {
				ev_io_del(f->px->ev, &f->io);
				close(f->fd);
				f->fd = -1;
				oauth_fetch_dial(f);
				return;
			}
			f->state = OAUTH_TLS;
			break;
		case OAUTH_TLS:
			rc = xport_handshake(&f->x);
			if (rc == 0) {
				oauth_fetch_update(f);
				return;
			}
			if (rc == -1) {
				char why[128];

				snprintf(msg, sizeof(msg), "token endpoint %s: %s",
				    f->host, xport_error(&f->x, why, sizeof(why)));
				oauth_fetch_finish(f, 0, msg);
				return;
			}
			f->state = OAUTH_IO;
			break;
		case OAUTH_IO:
			if (f->out.len > 0) {
				n = xport_write(&f->x, &f->out);
				if (n == -1 && errno != EAGAIN) {
					oauth_fetch_finish(f, 0, "write to the "
					    "token endpoint failed");
					return;
				}
				if (f->out.len > 0) {
					oauth_fetch_update(f);
					return;
				}
			}
			n = xport_read(&f->x, &f->in);
			if (n > 0) {
				if (oauth_fetch_complete(f)) {
					oauth_fetch_parse(f);
					return;
				}
				continue;
			}
			if (n == 0 || (n == -1 && errno == ENOBUFS)) {
				oauth_fetch_parse(f);
				return;
			}
			if (errno != EAGAIN) {
				oauth_fetch_finish(f, 0, "read from the token "
				    "endpoint failed");
				return;
			}
			oauth_fetch_update(f);
			return;
		default:
			return;
		}
	}
	oauth_fetch_update(f);
}

/* The fetch runs on the main loop; what it touches is under the lock. */
static void
oauth_fetch_io_cb(struct ev_io *io, uint32_t events)
{
	struct oauth_fetch *f = io->arg;
	struct proxy *px = f->px;

	(void)events;
	proxy_lock(px);
	oauth_fetch_drive(f);
	proxy_unlock(px);
}

static void
oauth_fetch_timer_cb(struct ev_timer *t)
{
	struct oauth_fetch *f = t->arg;
	struct proxy *px = f->px;

	proxy_lock(px);
	oauth_fetch_finish(f, 0, "the token endpoint timed out");
	proxy_unlock(px);
}

static void
oauth_fetch_dial(struct oauth_fetch *f)
{
	struct sockaddr_storage ss;
	unsigned int sslen;
	SSL *ssl;

	while (f->idx < f->naddrs) {
		netaddr_to_sockaddr(&f->addrs[f->idx++], f->port, &ss, &sslen);
		f->fd = sock_connect_start((struct sockaddr *)&ss, sslen);
		if (f->fd == -1)
			continue;
		ssl = SSL_new(f->px->upstream_ctx);
		if (ssl == NULL || xport_expect_peer(ssl, f->host) == -1) {
			SSL_free(ssl);
			close(f->fd);
			f->fd = -1;
			break;
		}
		xport_init(&f->x, f->fd);
		xport_set_ssl(&f->x, ssl);
		SSL_set_connect_state(ssl);
		ev_io_init(&f->io, oauth_fetch_io_cb, f);
		if (ev_io_add(f->px->ev, &f->io, f->fd, EPOLLOUT) == -1) {
			xport_reset(&f->x, 0);
			close(f->fd);
			f->fd = -1;
			continue;
		}
		f->state = OAUTH_CONNECT;
		return;
	}
	oauth_fetch_finish(f, 0, "cannot connect to the token endpoint");
}

static void
oauth_fetch_resolved_locked(void *arg, int status,
    const struct netaddr *addrs, size_t n, const char *reason)
{
	struct oauth_fetch *f = arg;
	const char *why = NULL;
	size_t i;

	f->rq = NULL;
	if (status != 0) {
		oauth_fetch_finish(f, 0, reason);
		return;
	}
	for (i = 0; i < n; i++)
		if (netaddr_check(&addrs[i], &f->px->own, &f->px->cfg.deny,
		    &f->px->cfg.allow, &why))
			f->addrs[f->naddrs++] = addrs[i];
	if (f->naddrs == 0) {
		oauth_fetch_finish(f, 0, "the token endpoint resolves to a "
		    "denied address");
		return;
	}
	oauth_fetch_dial(f);
}

static void
oauth_fetch_resolved(void *arg, int status, const struct netaddr *addrs,
    size_t n, const char *reason)
{
	struct proxy *px = ((struct oauth_fetch *)arg)->px;

	proxy_lock(px);
	oauth_fetch_resolved_locked(arg, status, addrs, n, reason);
	proxy_unlock(px);
}

/* Start a refresh of t; 0, or -1 after telling the waiters why not. */
static void
oauth_fetch_start(struct proxy *px, struct oauth_tok *t)
{
	struct oauth_fetch *f;
	struct buf form;
	char path[OAUTH_URL_MAX];
	json_t *j = oauth_load(px, t->name, NULL);
	const char *url, *rt, *cid, *cs;
	struct netaddr lit;
	struct secret *sec;

	f = calloc(1, sizeof(*f));
	if (f == NULL || j == NULL)
		goto fail;
	sec = store_secret_find(px->store, t->name);
	f->secret_serial = sec != NULL ? sec->serial : 0;
	f->px = px;
	f->tok = t;
	f->fd = -1;
	t->fetch = f;
	buf_init(&f->out, 16384);
	buf_init(&f->in, OAUTH_BODY_MAX + LIMIT_HTTP_RESPONSE_HEAD);
	buf_init(&form, 12288);
	ev_timer_init(&f->timer, oauth_fetch_timer_cb, f);
	url = oauth_json_str(j, "token_url");
	rt = oauth_json_str(j, "refresh_token");
	cid = oauth_json_str(j, "client_id");
	cs = oauth_json_str(j, "client_secret");
	if (url == NULL || rt == NULL || cid == NULL ||
	    oauth_url_split(url, f->host, sizeof(f->host), &f->port, path,
	    sizeof(path)) == -1 ||
	    oauth_form_add(&form, "grant_type", "refresh_token") == -1 ||
	    oauth_form_add(&form, "refresh_token", rt) == -1 ||
	    oauth_form_add(&form, "client_id", cid) == -1 ||
	    (cs != NULL && oauth_form_add(&form, "client_secret", cs) == -1) ||
	    buf_printf(&f->out, "POST %s HTTP/1.0\r\nHost: %s\r\n"
	    "Content-Type: application/x-www-form-urlencoded\r\n"
	    "Accept: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", path, f->host, form.len) == -1 ||
	    buf_append(&f->out, buf_ptr(&form), form.len) == -1) {
		oauth_buf_wipe_release(&form);
		json_decref(j);
		oauth_fetch_finish(f, 0, "cannot build the refresh request");
		return;
	}
	oauth_buf_wipe_release(&form);
	json_decref(j);
	ev_timer_arm(px->ev, &f->timer, OAUTH_FETCH_TIMEOUT_MS);
	f->state = OAUTH_RESOLVE;
	if (netaddr_parse_literal(f->host, strlen(f->host), &lit) == 0)
		oauth_fetch_resolved(f, 0, &lit, 1, NULL);
	else
		f->rq = resolve_start(px->workers[0]->resolver, f->host,
		    oauth_fetch_resolved, f);
	return;
fail:
	json_decref(j);
	free(f);
	t->fetch = NULL;
	{
		struct oauth_wait *w = t->waiters, *next;

		t->waiters = NULL;
		for (; w != NULL; w = next) {
			next = w->next;
			w->cb(w->arg, 0, "oauth secret is unusable");
			free(w);
		}
	}
}

static struct oauth_wait *
oauth_refresh_locked(struct proxy *px, const char *name, int force,
    oauth_cb cb, void *arg)
{
	struct oauth_tok *t = oauth_tok_get(name);
	struct oauth_wait *w;
	int64_t now = parse_now_ms();

	if (t == NULL || (w = calloc(1, sizeof(*w))) == NULL) {
		cb(arg, 0, "out of memory");
		return NULL;
	}
	if (t->fetch == NULL && t->failed_ms != 0 &&
	    now - t->failed_ms < OAUTH_FAILED_WAIT_MS) {
		char why[sizeof(t->failed_reason) + 64];

		free(w);
		snprintf(why, sizeof(why), "%s (the last refresh failed; the "
		    "next within %d s)", t->failed_reason,
		    OAUTH_FAILED_WAIT_MS / 1000);
		cb(arg, 0, why);
		return NULL;
	}
	/* no loop: each request is replayed at most once, and requests that
	 * need a token while a refresh is in flight all wait for that one */
	if (force)
		t->last_forced_ms = now;
	w->cb = cb;
	w->arg = arg;
	w->next = t->waiters;
	t->waiters = w;
	if (t->fetch == NULL)
		oauth_fetch_start(px, t);
	/* the waiter may already have been called (and freed) */
	for (struct oauth_wait *x = t->waiters; x != NULL; x = x->next)
		if (x == w)
			return w;
	return NULL;
}

struct oauth_wait *
oauth_refresh(struct proxy *px, const char *name, int force, oauth_cb cb,
    void *arg)
{
	struct oauth_wait * r;

	proxy_lock(px);
	r = oauth_refresh_locked(px, name, force, cb, arg);
	proxy_unlock(px);
	return r;
}

void
oauth_refresh_refused(struct proxy *px, const char *name)
{
	struct oauth_tok *t;

	proxy_lock(px);
	if ((t = oauth_tok_get(name)) != NULL)
		t->refused_ms = parse_now_ms();
	proxy_unlock(px);
}

void
oauth_forget(struct proxy *px, const char *name)
{
	struct oauth_tok *t;

	proxy_lock(px);
	for (t = oauth_toks; t != NULL; t = t->next)
		if (strcmp(t->name, name) == 0)
			t->last_forced_ms = t->refused_ms = t->failed_ms = 0;
	proxy_unlock(px);
}

int
oauth_refresh_is_futile(struct proxy *px, const char *name)
{
	struct oauth_tok *t;
	int64_t now = parse_now_ms();
	int r = 0;

	proxy_lock(px);
	for (t = oauth_toks; t != NULL; t = t->next)
		if (strcmp(t->name, name) == 0)
			break;
	if (t != NULL && t->refused_ms != 0 &&
	    now - t->refused_ms < OAUTH_FORCE_INTERVAL_MS)
		r = 1;
	proxy_unlock(px);
	return r;
}

static void
oauth_cancel_locked(struct proxy *px, struct oauth_wait *w)
{
	struct oauth_tok *t;
	struct oauth_wait **pp;

	(void)px;
	if (w == NULL)
		return;
	for (t = oauth_toks; t != NULL; t = t->next) {
		for (pp = &t->waiters; *pp != NULL; pp = &(*pp)->next) {
			if (*pp == w) {
				*pp = w->next;
				free(w);
				return;
			}
		}
	}
}

void
oauth_cancel(struct proxy *px, struct oauth_wait *w)
{
	proxy_lock(px);
	oauth_cancel_locked(px, w);
	proxy_unlock(px);
}

/* ---------------------------------------------------- token endpoint */

/*
 * The path as a server that merges '/', ignores ';' parameters, a
 * trailing '/' and letter case would route it: what it names.
 */
static void
oauth_path_key(const char *path, char *out, size_t size)
{
	size_t o = 0;
	const char *p;

	for (p = path; *p != '\0' && *p != '?' && o + 1 < size; p++) {
		if (*p == ';') {
			while (p[1] != '\0' && p[1] != '/' && p[1] != '?')
				p++;
			continue;
		}
		if (*p == '/' && o > 0 && out[o - 1] == '/')
			continue;
		out[o++] = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	}
	while (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
}

/* Does a rule of cl inject the secret name? */
static int
oauth_client_uses(const struct client *cl, const char *name)
{
	size_t i;

	for (i = 0; i < cl->nrules; i++)
		if (strcmp(cl->rules[i]->secret, name) == 0)
			return 1;
	return 0;
}

static enum oauth_call
oauth_token_endpoint_locked(struct proxy *px, const struct client *cl,
    const char *host, uint16_t port, const char *path, char name[LIMIT_NAME],
    uint64_t *serial)
{
	char h[LIMIT_HOSTNAME + 3], p[OAUTH_URL_MAX], want[OAUTH_URL_MAX];
	char key[OAUTH_URL_MAX];
	enum oauth_call call = OAUTH_CALL_NONE;
	size_t i, nused = 0;
	uint16_t pt;

	oauth_path_key(path, key, sizeof(key));
	for (i = 0; i < px->store->nsecrets; i++) {
		struct secret *sec = px->store->secrets[i];

		/* the URL was read from the value when it was set */
		if (sec->type != SECRET_OAUTH || sec->token_url == NULL ||
		    oauth_url_split((const char *)sec->token_url->p, h,
		    sizeof(h), &pt, p, sizeof(p)) == -1)
			continue;
		oauth_path_key(p, want, sizeof(want));
		if (strcmp(h, host) != 0 || pt != port ||
		    strcmp(want, key) != 0)
			continue;
		call = OAUTH_CALL_REDACT;
		if (cl != NULL && oauth_client_uses(cl, sec->name) &&
		    nused++ == 0) {
			snprintf(name, LIMIT_NAME, "%s", sec->name);
			*serial = sec->serial;
		}
	}
	secmem_wipe(p, sizeof(p));
	secmem_wipe(want, sizeof(want));
	if (call == OAUTH_CALL_REDACT && nused == 1)
		return OAUTH_CALL_KEEP;
	name[0] = '\0';
	*serial = 0;
	return call;
}

enum oauth_call
oauth_token_endpoint(struct proxy *px, const struct client *cl,
    const char *host, uint16_t port, const char *path, char name[LIMIT_NAME],
    uint64_t *serial)
{
	enum oauth_call r = OAUTH_CALL_NONE;

	/* every plain and intercepted request asks: it reads the store
	 * only, under the loop's own lock, and most stores have no oauth
	 * secret to parse */
	name[0] = '\0';
	*serial = 0;
	proxy_judge_lock(px);
	if (px->store->noauth_secrets > 0)
		r = oauth_token_endpoint_locked(px, cl, host, port, path,
		    name, serial);
	proxy_judge_unlock(px);
	return r;
}

static int
oauth_rewrite_answer_locked(struct proxy *px, const char *name,
    uint64_t serial, const char *body, size_t len, struct buf *out)
{
	static const char *const keys[] = { "access_token", "refresh_token",
		"id_token", NULL };
	json_t *j = json_loadb(body, len, 0, NULL);
	const char *why = NULL;
	char *s;
	int i, rc = -1, is_kept = 0;

	if (!json_is_object(j))
		goto out;
	/* the client asked for tokens: keep the real ones for ourselves
	 * (for the secret it uses; from another client, for none) */
	if (name != NULL && json_is_string(json_object_get(j,
	    "access_token"))) {
		if (oauth_store_tokens(px, name, serial, j, &why) == -1)
			log_warnx("oauth %s: %s", name, why);
		else
			is_kept = 1;
	}
	for (i = 0; keys[i] != NULL; i++)
		if (json_object_get(j, keys[i]) != NULL)
			json_object_set_new(j, keys[i],
			    json_string(OAUTH_PLACEHOLDER));
	s = json_dumps(j, JSON_COMPACT);
	if (s == NULL)
		goto out;
	rc = buf_append(out, s, strlen(s)) == -1 ? -1 : is_kept;
	secmem_wipe(s, strlen(s));
	free(s);
out:
	json_decref(j);
	return rc;
}

int
oauth_rewrite_answer(struct proxy *px, const char *name, uint64_t serial,
    const char *body, size_t len, struct buf *out)
{
	int r;

	proxy_lock(px);
	r = oauth_rewrite_answer_locked(px, name, serial, body, len, out);
	proxy_unlock(px);
	return r;
}

static void
oauth_free_all_locked(struct proxy *px)
{
	struct oauth_tok *t, *next;

	for (t = oauth_toks; t != NULL; t = next) {
		next = t->next;
		if (t->fetch != NULL)
			oauth_fetch_finish(t->fetch, 0, "shutting down");
		free(t);
	}
	oauth_toks = NULL;
	(void)px;
}

void
oauth_free_all(struct proxy *px)
{
	proxy_lock(px);
	oauth_free_all_locked(px);
	proxy_unlock(px);
}
