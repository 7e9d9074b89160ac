/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * api.c - JSON control API on a unix socket (see api.h).
 *
 * One request per connection (Connection: close), except log following,
 * which streams JSON lines until the client goes away.  Requests are parsed
 * by the same strict parser as proxy traffic and bounded by LIMIT_API_*.
 * Every mutation is written to the state directory before it is
 * acknowledged, then the proxy re-judges open tunnels.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "api.h"
#include "conn.h"
#include "audit.h"
#include "buf.h"
#include "http1.h"
#include "log.h"
#include "match.h"
#include "metrics.h"
#include "mitm.h"
#include "oauth.h"
#include "parse.h"
#include "resolve.h"
#include "secmem.h"
#include "sock.h"
#include "token.h"
#include "upool.h"
#include "worker.h"

struct api_conn {
	struct api *api;           /* borrowed */
	struct api_conn *next, *prev;
	int fd;
	struct ev_io io;
	struct buf in, out;        /* wiped on release: may hold secrets */
	int is_closing;            /* close once out is flushed */
	int is_following;
	int is_closed;
	int is_refused;            /* answered 403 once its request is in */
	uid_t peer_uid;
	struct audit_follower follower;
	int64_t deadline_ms;
};

struct api {
	struct proxy *px;          /* borrowed */
	char *path;                /* owned */
	int lfd;
	struct ev_io lio;
	struct api_conn *conns;
	size_t nconns;
	struct ev_timer sweep;
};

struct api_reply {
	int status;
	json_t *body;              /* owned; NULL for text */
	const char *text;          /* borrowed static or owned via text_owned */
	char *text_owned;
	const char *ctype;
};

/*
 * jansson allocations are wiped when freed: request bodies carry secret
 * values, and parsed JSON strings are copies of them.  Plain malloc
 * underneath, so a string from json_dumps() may still go to free().
 */
void *
api_json_malloc(size_t n)
{
	return malloc(n);
}

void
api_json_free(void *ptr)
{
	if (ptr == NULL)
		return;
	secmem_wipe(ptr, malloc_usable_size(ptr));
	free(ptr);
}

static void
api_buf_wipe_release(struct buf *b)
{
	if (b->data != NULL)
		secmem_wipe(b->data, b->cap);
	buf_release(b);
}

static void
api_conn_free(void *p)
{
	struct api_conn *ac = p;

	api_buf_wipe_release(&ac->in);
	api_buf_wipe_release(&ac->out);
	free(ac);
}

static void
api_conn_close(struct api_conn *ac)
{
	struct api *a = ac->api;

	if (ac->is_closed)
		return;
	ac->is_closed = 1;
	if (ac->is_following)
		audit_unfollow(a->px->audit, &ac->follower);
	ev_io_del(a->px->ev, &ac->io);
	close(ac->fd);
	if (ac->prev)
		ac->prev->next = ac->next;
	else
		a->conns = ac->next;
	if (ac->next)
		ac->next->prev = ac->prev;
	a->nconns--;
	ev_defer_free(a->px->ev, api_conn_free, ac);
}

static void
api_conn_update(struct api_conn *ac)
{
	uint32_t ev = 0;

	if (ac->is_closed)
		return;
	if (ac->out.len > 0)
		ev |= EPOLLOUT;
	if (!ac->is_closing || ac->is_following)
		ev |= EPOLLIN;
	ev_io_set(ac->api->px->ev, &ac->io, ev);
}

static void
api_conn_flush(struct api_conn *ac)
{
	ssize_t n;

	if (ac->out.len > 0) {
		n = buf_write_fd(&ac->out, ac->fd);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			api_conn_close(ac);
			return;
		}
	}
	if (ac->out.len == 0 && ac->is_closing && !ac->is_following) {
		api_conn_close(ac);
		return;
	}
	api_conn_update(ac);
}

static void
api_send(struct api_conn *ac, int status, const char *ctype, const char *body,
    size_t len)
{
	const char *text = status == 200 ? "OK" : status == 201 ? "Created" :
	    status == 400 ? "Bad Request" : status == 403 ? "Forbidden" :
	    status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" :
	    status == 409 ? "Conflict" : status == 411 ? "Length Required" :
	    status == 413 ? "Content Too Large" : "Internal Server Error";

	buf_printf(&ac->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n\r\n", status, text,
	    ctype, len);
	if (buf_append(&ac->out, body, len) == -1) {
		/* too large for the connection's buffer: say so instead */
		api_buf_wipe_release(&ac->out);
		buf_printf(&ac->out, "HTTP/1.1 500 Internal Server Error\r\n"
		    "Content-Type: application/json\r\nContent-Length: 32\r\n"
		    "Connection: close\r\n\r\n{\"error\":\"response too large\"}\n\n");
	}
	ac->is_closing = 1;
}

static void
api_send_json(struct api_conn *ac, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(j);
	if (s == NULL) {
		api_send(ac, 500, "application/json", "{\"error\":\"encode\"}\n", 19);
		return;
	}
	size_t len = strlen(s);
	/* append a newline for people reading with curl */
	char *t = malloc(len + 2);

	if (t != NULL) {
		memcpy(t, s, len);
		t[len] = '\n';
		t[len + 1] = '\0';
		api_send(ac, status, "application/json", t, len + 1);
		secmem_wipe(t, len + 1);
		free(t);
	}
	free(s);
}

static void
api_error(struct api_conn *ac, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
api_error(struct api_conn *ac, int status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	api_send_json(ac, status, json_pack("{s:s}", "error", msg));
}

/* Persist and apply a change; on failure answer 500 and return -1. */
static int
api_commit(struct api_conn *ac)
{
	char err[256];
	struct proxy *px = ac->api->px;

	if (proxy_save(px, err, sizeof(err)) == -1) {
		log_warnx("state: %s", err);
		api_error(ac, 500, "change applied in memory but not saved: %s",
		    err);
		proxy_policy_changed(px);
		return -1;
	}
	proxy_policy_changed(px);
	malloc_trim(0);
	return 0;
}

/*
 * Persist an addition (a client, rules, a secret); when state.json cannot
 * be written with it, take it back (undo) and answer 500, return -1.  An
 * addition the API did not acknowledge is then not in force, nor back
 * after a restart, and the same request may simply be sent again (a
 * client kept would hold a token nobody was shown; a rule, access the
 * operator was told failed).  Removals stay in force (api_commit).
 * undo returns 1 when the store must still be saved (a file of what it
 * took back may be on disk), else 0.
 */
static int
api_commit_new(struct api_conn *ac, int (*undo)(struct store *, void *),
    void *arg)
{
	char err[256];
	struct proxy *px = ac->api->px;
	uint64_t gen = atomic_load(&px->store->generation);
	int was_unsaved = px->is_state_unsaved;

	if (proxy_save(px, err, sizeof(err)) == 0)
		goto saved;
	log_warnx("state: %s", err);
	/* state.json has it; what failed after (removing a deleted
	 * secret's file) is retried with the rest */
	if (px->store->written_generation == gen)
		goto saved;
	/* nothing to retry for it, unless a file of it may be left */
	px->is_state_unsaved = undo(px->store, arg) || was_unsaved;
	api_error(ac, 500, "not saved, so not made: %s", err);
	proxy_policy_changed(px);
	return -1;
saved:
	proxy_policy_changed(px);
	malloc_trim(0);
	return 0;
}

static int
api_hex(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* Decode %XX in a query value into out.  -1 when malformed. */
static int
api_query_decode(const char *s, size_t len, char *out, size_t outsz)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -1;
			hi = api_hex(s[i + 1]);
			lo = api_hex(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			ch = (char)(hi * 16 + lo);
			i += 2;
		} else if (ch == '+') {
			ch = ' ';
		}
		if (o + 1 >= outsz)
			return -1;
		out[o++] = ch;
	}
	out[o] = '\0';
	return 0;
}

/* Find query parameter name; 1 when present (value decoded into out). */
static int
api_query_get(struct http1_slice q, const char *name, char *out,
    size_t outsz)
{
	const char *p = q.p, *end = q.p + q.len;
	size_t nlen = strlen(name);

	if (q.len > 0 && *p == '?')
		p++;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *seg_end = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(seg_end - p));
		const char *kend = eq ? eq : seg_end;

		if ((size_t)(kend - p) == nlen && memcmp(p, name, nlen) == 0) {
			if (eq == NULL) {
				out[0] = '\0';
				return 1;
			}
			if (api_query_decode(eq + 1, (size_t)(seg_end - eq - 1),
			    out, outsz) == -1)
				return -1;
			return 1;
		}
		p = seg_end + (amp ? 1 : 0);
	}
	return 0;
}

static int
api_query_flag(struct http1_slice q, const char *name)
{
	char v[16];

	if (api_query_get(q, name, v, sizeof(v)) != 1)
		return 0;
	return v[0] == '\0' || strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
}

/* ------------------------------------------------------------ logs */

static void
api_recent_cb(void *arg, const char *line, size_t len)
{
	struct api_conn *ac = arg;

	if (!audit_line_matches(line, ac->follower.client,
	    ac->follower.is_denied_only))
		return;
	if (ac->out.len + len < ac->out.max)
		buf_append(&ac->out, line, len);
}

static int
api_follow_write(void *arg, const char *line, size_t len)
{
	struct api_conn *ac = arg;

	/* a reader that does not keep up is dropped */
	if (ac->is_closed || ac->out.len + len > LIMIT_AUDIT_FOLLOW_BACKLOG ||
	    buf_append(&ac->out, line, len) == -1)
		return -1;
	api_conn_update(ac);
	return 0;
}

static void
api_follow_gone(void *arg)
{
	struct api_conn *ac = arg;

	ac->is_following = 0;
	ac->is_closing = 1;
	api_conn_update(ac);
}

static void
api_logs(struct api_conn *ac, struct http1_slice q)
{
	struct audit *au = ac->api->px->audit;
	int is_follow = api_query_flag(q, "follow");

	if (api_query_get(q, "client", ac->follower.client,
	    sizeof(ac->follower.client)) == -1) {
		api_error(ac, 400, "invalid client parameter");
		return;
	}
	ac->follower.is_denied_only = api_query_flag(q, "denied");
	buf_printf(&ac->out, "HTTP/1.1 200 OK\r\nContent-Type: "
	    "application/x-ndjson\r\nCache-Control: no-store\r\n"
	    "Connection: close\r\n\r\n");
	if (!is_follow)
		audit_recent(au, api_recent_cb, ac);
	ac->is_closing = 1;
	if (is_follow) {
		ac->follower.write = api_follow_write;
		ac->follower.gone = api_follow_gone;
		ac->follower.arg = ac;
		ac->is_following = 1;
		ac->deadline_ms = INT64_MAX;
		audit_follow(au, &ac->follower, api_query_flag(q, "history") ?
		    api_recent_cb : NULL, ac);
	}
}

/* --------------------------------------------------------- clients */

static void
api_clients_list(struct api_conn *ac)
{
	struct store *st = ac->api->px->store;
	json_t *arr = json_array();
	int64_t now = parse_now_ms();
	size_t i;

	for (i = 0; i < st->nclients; i++)
		json_array_append_new(arr, store_client_json(st->clients[i], now));
	api_send_json(ac, 200, json_pack("{s:o}", "clients", arr));
}

static int
api_client_undo(struct store *st, void *name)
{
	store_client_delete(st, name);
	return 0;
}

/* The clients of a batch request, every one of them added. */
static int
api_clients_undo(struct store *st, void *arr)
{
	const json_t *v;
	size_t i;

	json_array_foreach((json_t *)arr, i, v)
		store_client_delete(st, json_string_value(json_object_get(v,
		    "name")));
	return 0;
}

/*
 * {"clients": [{"name": "a"}, ...]}: create them all or none; the reply
 * carries each name with its token, the only time a token is shown.
 */
static void
api_clients_create_batch(struct api_conn *ac, const json_t *arr)
{
	struct store *st = ac->api->px->store;
	char tok[TOKEN_LEN + 1], err[256];
	unsigned char hash[32];
	const json_t *v;
	const char *name;
	json_t *out = NULL;
	size_t i, j, n = json_array_size(arr), done = 0;
	int64_t now = parse_now_ms();

	if (n == 0 || n > LIMIT_API_BATCH) {
		api_error(ac, 400, "clients: give 1 to %d of them",
		    LIMIT_API_BATCH);
		return;
	}
	if (st->nclients + n > LIMIT_CLIENTS) {
		api_error(ac, 400, "too many clients (at most %d)",
		    LIMIT_CLIENTS);
		return;
	}
	json_array_foreach(arr, i, v)
	{
		name = json_string_value(json_object_get(v, "name"));
		if (!json_is_object(v) || json_object_size(v) != 1 ||
		    name == NULL || !store_name_valid(name)) {
			api_error(ac, 400,
			    "clients[%zu]: expected {\"name\": \"...\"} with a "
			    "valid name", i);
			return;
		}
		if (store_client_find(st, name) != NULL) {
			api_error(ac, 409, "clients[%zu]: client already "
			    "exists: '%s'", i, name);
			return;
		}
		for (j = 0; j < i; j++) {
			if (strcmp(name, json_string_value(json_object_get(
			    json_array_get(arr, j), "name"))) == 0) {
				api_error(ac, 400, "clients[%zu]: '%s' is "
				    "named twice", i, name);
				return;
			}
		}
	}
	out = json_array();
	for (done = 0; done < n; done++) {
		name = json_string_value(json_object_get(
		    json_array_get(arr, done), "name"));
		if (token_generate(tok) == -1) {
			snprintf(err, sizeof(err), "no randomness for a token");
			goto undo;
		}
		token_hash(tok, strlen(tok), hash);
		if (store_client_add(st, name, hash, now, err,
		    sizeof(err)) == -1)
			goto undo;
		json_array_append_new(out, json_pack("{s:s,s:s}", "name", name,
		    "token", tok));
		secmem_wipe(tok, sizeof(tok));
	}
	if (api_commit_new(ac, api_clients_undo, (void *)arr) == -1) {
		json_decref(out);
		return;
	}
	api_send_json(ac, 201, json_pack("{s:o}", "clients", out));
	return;
undo:
	secmem_wipe(tok, sizeof(tok));
	for (j = 0; j < done; j++)
		store_client_delete(st, json_string_value(json_object_get(
		    json_array_get(arr, j), "name")));
	json_decref(out);
	api_error(ac, 500, "clients[%zu]: %s", done, err);
}

static void
api_client_create(struct api_conn *ac, json_t *body)
{
	struct store *st = ac->api->px->store;
	char tok[TOKEN_LEN + 1], err[256];
	unsigned char hash[32];
	const char *name;
	json_t *reply;

	if (json_is_object(body) && json_object_size(body) == 1 &&
	    json_is_array(json_object_get(body, "clients"))) {
		api_clients_create_batch(ac, json_object_get(body, "clients"));
		return;
	}
	if (!json_is_object(body) || json_object_size(body) != 1 ||
	    (name = json_string_value(json_object_get(body, "name"))) == NULL) {
		api_error(ac, 400, "expected {\"name\": \"...\"} or "
		    "{\"clients\": [{\"name\": \"...\"}, ...]}");
		return;
	}
	if (token_generate(tok) == -1) {
		api_error(ac, 500, "no randomness for a token");
		return;
	}
	token_hash(tok, strlen(tok), hash);
	if (store_client_add(st, name, hash, parse_now_ms(), err,
	    sizeof(err)) == -1) {
		secmem_wipe(tok, sizeof(tok));
		api_error(ac, store_client_find(st, name) ? 409 : 400, "%s", err);
		return;
	}
	if (api_commit_new(ac, api_client_undo, (void *)name) == -1) {
		secmem_wipe(tok, sizeof(tok));
		return;
	}
	reply = json_pack("{s:s,s:s}", "name", name, "token", tok);
	secmem_wipe(tok, sizeof(tok));
	api_send_json(ac, 201, reply);
}

static void
api_rules_list(struct api_conn *ac, struct client *c)
{
	json_t *arr = json_array();
	int64_t now = parse_now_ms();
	size_t i;

	for (i = 0; i < c->nrules; i++)
		if (c->rules[i]->expires_ms == 0 || c->rules[i]->expires_ms > now)
			json_array_append_new(arr,
			    store_rule_json(c->rules[i], now));
	api_send_json(ac, 200, json_pack("{s:s,s:o}", "client", c->name,
	    "rules", arr));
}

/* The rules a request added: the client's last n. */
struct api_rules_added {
	struct client *c;
	size_t n;
};

static int
api_rules_undo(struct store *st, void *arg)
{
	struct api_rules_added *added = arg;

	store_rules_undo(st, added->c, added->n);
	return 0;
}

/* {"rules": [rule, ...]}: add them all or none. */
static void
api_rules_add_batch(struct api_conn *ac, struct client *c, const json_t *arr)
{
	struct store *st = ac->api->px->store;
	struct api_rules_added undo;
	struct rule *rs = NULL;
	json_t *out;
	char err[256], why[256];
	int64_t now = parse_now_ms();
	size_t i, n = json_array_size(arr), parsed = 0;

	if (n == 0 || n > LIMIT_API_BATCH) {
		api_error(ac, 400, "rules: give 1 to %d of them",
		    LIMIT_API_BATCH);
		return;
	}
	rs = calloc(n, sizeof(*rs));
	if (rs == NULL) {
		api_error(ac, 500, "out of memory");
		return;
	}
	for (parsed = 0; parsed < n; parsed++) {
		if (store_rule_parse_json(json_array_get(arr, parsed), now,
		    &rs[parsed], why, sizeof(why)) == -1) {
			api_error(ac, 400, "rules[%zu]: %s", parsed, why);
			goto out;
		}
	}
	if (store_rules_add(st, c, rs, n, err, sizeof(err)) == -1) {
		api_error(ac, 400, "%s", err);
		goto out;
	}
	undo.c = c;
	undo.n = n;
	if (api_commit_new(ac, api_rules_undo, &undo) == -1)
		goto out;
	out = json_array();
	for (i = c->nrules - n; i < c->nrules; i++)
		json_array_append_new(out, store_rule_json(c->rules[i], now));
	api_send_json(ac, 201, json_pack("{s:s,s:o}", "client", c->name,
	    "rules", out));
out:
	for (i = 0; i < n; i++)
		store_rule_free_fields(&rs[i]);
	free(rs);
}

static void
api_rule_add(struct api_conn *ac, struct client *c, json_t *body)
{
	struct store *st = ac->api->px->store;
	struct api_rules_added undo;
	struct rule r, *nr;
	char err[256], id[16];
	int64_t now = parse_now_ms();

	if (json_is_object(body) && json_object_size(body) == 1 &&
	    json_is_array(json_object_get(body, "rules"))) {
		api_rules_add_batch(ac, c, json_object_get(body, "rules"));
		return;
	}
	memset(&r, 0, sizeof(r));
	if (store_rule_parse_json(body, now, &r, err, sizeof(err)) == -1) {
		store_rule_free_fields(&r);
		api_error(ac, 400, "%s", err);
		return;
	}
	if (store_rule_add(st, c, &r, id, err, sizeof(err)) == -1) {
		store_rule_free_fields(&r);
		api_error(ac, 400, "%s", err);
		return;
	}
	undo.c = c;
	undo.n = 1;
	if (api_commit_new(ac, api_rules_undo, &undo) == -1)
		return;
	nr = store_rule_find(st, c, id);
	if (nr == NULL) {
		api_error(ac, 500, "rule vanished");
		return;
	}
	api_send_json(ac, 201, store_rule_json(nr, now));
}

static void
api_rules_delete(struct api_conn *ac, struct client *c, const char *id,
    struct http1_slice q)
{
	struct store *st = ac->api->px->store;
	char host[300], canon[256];
	int n, rc;

	if (id != NULL) {
		n = store_rule_delete(st, c, id);
		if (n == 0) {
			api_error(ac, 404, "client %s has no rule %s", c->name, id);
			return;
		}
	} else if ((rc = api_query_get(q, "host", host, sizeof(host))) != 0) {
		if (rc == -1 || match_host_pattern_canon(host, canon,
		    sizeof(canon)) == -1) {
			api_error(ac, 400, "invalid host");
			return;
		}
		n = store_rule_delete_host(st, c, canon);
	} else if (api_query_flag(q, "all")) {
		n = store_rule_delete_all(st, c);
	} else {
		api_error(ac, 400, "say which rules: /rules/ID, ?host=H or ?all=1");
		return;
	}
	if (n > 0 && api_commit(ac) == -1)
		return;
	api_send_json(ac, 200, json_pack("{s:s,s:i}", "client", c->name,
	    "removed", n));
}

/* --------------------------------------------------------- secrets */

static void
api_secrets_list(struct api_conn *ac)
{
	struct store *st = ac->api->px->store;
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < st->nsecrets; i++)
		json_array_append_new(arr, store_secret_json(st->secrets[i]));
	api_send_json(ac, 200, json_pack("{s:o}", "secrets", arr));
}

static int
api_secret_undo(struct store *st, void *name)
{
	char err[256];

	/* no rule names it yet; its file, if written, goes at the next save */
	(void)store_secret_delete(st, name, err, sizeof(err));
	return 1;
}

static void
api_secret_create(struct api_conn *ac, json_t *body)
{
	struct store *st = ac->api->px->store;
	const char *name, *host, *type = "bearer", *header = NULL, *key;
	enum secret_type t;
	json_t *v, *val;
	char err[256];

	if (!json_is_object(body)) {
		api_error(ac, 400, "expected a JSON object");
		return;
	}
	json_object_foreach(body, key, v) {
		if (strcmp(key, "name") && strcmp(key, "host") &&
		    strcmp(key, "type") && strcmp(key, "header") &&
		    strcmp(key, "value")) {
			api_error(ac, 400, "unknown key: %.64s", key);
			return;
		}
		if (!json_is_string(v) && !(json_is_null(v) &&
		    strcmp(key, "header") == 0)) {
			api_error(ac, 400, "%s must be a string", key);
			return;
		}
	}
	name = json_string_value(json_object_get(body, "name"));
	host = json_string_value(json_object_get(body, "host"));
	val = json_object_get(body, "value");
	if (json_object_get(body, "type"))
		type = json_string_value(json_object_get(body, "type"));
	header = json_string_value(json_object_get(body, "header"));
	if (name == NULL || host == NULL || val == NULL) {
		api_error(ac, 400, "name, host and value are required");
		return;
	}
	if (store_secret_type_parse(type, &t) == -1) {
		api_error(ac, 400, "invalid type: '%.32s' (bearer, basic-auth, "
		    "header, oauth)", type);
		return;
	}
	if (t == SECRET_OAUTH) {
		struct buf norm;
		int rc;

		buf_init(&norm, LIMIT_SECRET_VALUE);
		rc = oauth_value_check(json_string_value(val),
		    json_string_length(val), &norm, err, sizeof(err));
		if (rc == 0)
			rc = store_secret_add(st, name, host, t, header,
			    buf_ptr(&norm), norm.len, parse_now_ms(), err,
			    sizeof(err));
		api_buf_wipe_release(&norm);
		if (rc == -1) {
			api_error(ac, store_secret_find(st, name) ? 409 : 400,
			    "%s", err);
			return;
		}
	} else if (store_secret_add(st, name, host, t, header,
	    json_string_value(val), json_string_length(val), parse_now_ms(), err,
	    sizeof(err)) == -1) {
		api_error(ac, store_secret_find(st, name) ? 409 : 400, "%s", err);
		return;
	}
	if (api_commit_new(ac, api_secret_undo, (void *)name) == -1)
		return;
	if (t == SECRET_OAUTH)
		oauth_forget(ac->api->px, name); /* a new secret's history */
	api_send_json(ac, 201, store_secret_json(store_secret_find(st, name)));
}

/* --------------------------------------------------------- metrics */

static void
api_metrics(struct api_conn *ac)
{
	char body[16384];
	size_t len;

	if (metrics_render(ac->api->px, body, sizeof(body), &len) == -1) {
		api_error(ac, 500, "metrics do not fit");
		return;
	}
	api_send(ac, 200, "text/plain; version=0.0.4", body, len);
}

/* --------------------------------------------------------- routing */

/* Split "/v1/proxy/a/b/c" after the prefix into up to 4 segments. */
static int
api_split(const char *path, char seg[4][128])
{
	int n = 0;
	const char *p = path;

	while (*p == '/')
		p++;
	while (*p != '\0') {
		const char *e = strchr(p, '/');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (n == 4 || len == 0 || len >= 128)
			return -1;
		memcpy(seg[n], p, len);
		seg[n][len] = '\0';
		n++;
		p += len;
		if (*p == '/')
			p++;
	}
	return n;
}

static void
api_route(struct api_conn *ac, const struct http1_request *req, json_t *body)
{
	struct store *st = ac->api->px->store;
	char path[512], seg[4][128];
	struct client *c;
	int n, is_get, is_post, is_del;

	if (req->path.len >= sizeof(path)) {
		api_error(ac, 404, "no such resource");
		return;
	}
	memcpy(path, req->path.p, req->path.len);
	path[req->path.len] = '\0';
	is_get = http1_slice_eq(req->method, "GET");
	is_post = http1_slice_eq(req->method, "POST");
	is_del = http1_slice_eq(req->method, "DELETE");

	if (strcmp(path, "/healthz") == 0 && is_get) {
		struct proxy *px = ac->api->px;

		/* saved: the policy and every secret's value are on disk */
		api_send_json(ac, 200, json_pack("{s:s,s:i,s:i,s:b}", "status",
		    "ok", "connections", (int)proxy_nconns(px), "workers",
		    (int)px->nworkers, "saved", !px->is_state_unsaved &&
		    store_secrets_unsaved(px->store) == 0));
		return;
	}
	if (strcmp(path, "/metrics") == 0 && is_get) {
		api_metrics(ac);
		return;
	}
	if (strcmp(path, "/v1/proxy/ca.crt") == 0 && is_get) {
		size_t len;
		const char *pem = mitm_ca_pem(ac->api->px->ca, &len);

		api_send(ac, 200, "application/x-pem-file", pem, len);
		return;
	}
	if (strncmp(path, "/v1/proxy/", 10) != 0 ||
	    (n = api_split(path + 10, seg)) < 1) {
		api_error(ac, 404, "no such resource: %.100s", path);
		return;
	}
	if (strcmp(seg[0], "logs") == 0 && n == 1 && is_get) {
		api_logs(ac, req->query);
		return;
	}
	if (strcmp(seg[0], "secrets") == 0) {
		char err[256];

		if (n == 1 && is_get)
			api_secrets_list(ac);
		else if (n == 1 && is_post)
			api_secret_create(ac, body);
		else if (n == 2 && is_get && store_secret_find(st, seg[1]))
			api_send_json(ac, 200,
			    store_secret_json(store_secret_find(st, seg[1])));
		else if (n == 2 && is_del) {
			if (store_secret_find(st, seg[1]) == NULL)
				api_error(ac, 404, "no secret named %.64s", seg[1]);
			else if (store_secret_delete(st, seg[1], err,
			    sizeof(err)) == -1)
				api_error(ac, 409, "%s", err);
			else if (api_commit(ac) == 0)
				api_send_json(ac, 200, json_pack("{s:s}",
				    "deleted", seg[1]));
		} else if (n == 2 && is_get)
			api_error(ac, 404, "no secret named %.64s", seg[1]);
		else
			api_error(ac, 405, "method not allowed");
		return;
	}
	if (strcmp(seg[0], "clients") != 0) {
		api_error(ac, 404, "no such resource: %.100s", path);
		return;
	}
	if (n == 1) {
		if (is_get)
			api_clients_list(ac);
		else if (is_post)
			api_client_create(ac, body);
		else
			api_error(ac, 405, "method not allowed");
		return;
	}
	c = store_client_find(st, seg[1]);
	if (c == NULL) {
		api_error(ac, 404, "no client named %.64s", seg[1]);
		return;
	}
	if (n == 2) {
		if (is_get)
			api_send_json(ac, 200, store_client_json(c,
			    parse_now_ms()));
		else if (is_del) {
			store_client_delete(st, seg[1]);
			if (api_commit(ac) == 0)
				api_send_json(ac, 200, json_pack("{s:s}",
				    "deleted", seg[1]));
		} else
			api_error(ac, 405, "method not allowed");
		return;
	}
	if (strcmp(seg[2], "rules") != 0) {
		api_error(ac, 404, "no such resource: %.100s", path);
		return;
	}
	if (n == 3 && is_get)
		api_rules_list(ac, c);
	else if (n == 3 && is_post)
		api_rule_add(ac, c, body);
	else if (n == 3 && is_del)
		api_rules_delete(ac, c, NULL, req->query);
	else if (n == 4 && is_del)
		api_rules_delete(ac, c, seg[3], req->query);
	else
		api_error(ac, 405, "method not allowed");
}

/* Parse one request from ac->in; returns when it is answered or incomplete. */
static void
api_handle(struct api_conn *ac)
{
	struct http1_request req;
	json_t *body = NULL;
	json_error_t jerr;
	int rc;

	rc = http1_parse_request(buf_ptr(&ac->in), ac->in.len, &req);
	if (rc == HTTP1_INCOMPLETE && ac->in.len < LIMIT_HTTP_HEAD)
		return;
	/* answered once its request head is in, so that it is reading */
	if (ac->is_refused) {
		if (ac->api->px->cfg.group != NULL)
			api_error(ac, 403, "not allowed: uid %u is not root, the "
			    "proxy's user or a member of group %s",
			    (unsigned)ac->peer_uid, ac->api->px->cfg.group);
		else
			api_error(ac, 403, "not allowed: uid %u is not root or "
			    "the proxy's user", (unsigned)ac->peer_uid);
		return;
	}
	if (rc == HTTP1_INCOMPLETE) {
		if (ac->in.len >= LIMIT_HTTP_HEAD)
			api_error(ac, 400, "request head too large");
		return;
	}
	if (rc == HTTP1_BAD) {
		api_error(ac, 400, "malformed request: %s", req.error_reason);
		return;
	}
	if (req.form != HTTP1_TARGET_ORIGIN) {
		api_error(ac, 400, "origin-form request expected");
		return;
	}
	if (req.framing == HTTP1_BODY_CHUNKED) {
		api_error(ac, 411, "send a Content-Length");
		return;
	}
	if (req.framing == HTTP1_BODY_LENGTH && req.content_length > 0) {
		if (req.content_length > LIMIT_API_BODY) {
			api_error(ac, 413, "body over %d bytes", LIMIT_API_BODY);
			return;
		}
		if (ac->in.len - req.head_len < req.content_length)
			return; /* wait for the rest */
		body = json_loadb(buf_ptr(&ac->in) + req.head_len,
		    (size_t)req.content_length, JSON_REJECT_DUPLICATES, &jerr);
		/* where and why only: jansson's text quotes the body, which
		 * may be a secret's value */
		if (body == NULL) {
			api_error(ac, 400, "invalid JSON: %s at line %d, "
			    "column %d", store_json_error_reason(&jerr),
			    jerr.line, jerr.column);
			return;
		}
	}
	/* the workers read the store meanwhile */
	proxy_lock(ac->api->px);
	api_route(ac, &req, body);
	proxy_unlock(ac->api->px);
	json_decref(body);
}

static void
api_conn_cb(struct ev_io *io, uint32_t events)
{
	struct api_conn *ac = io->arg;
	ssize_t n;

	if (events & EPOLLOUT) {
		api_conn_flush(ac);
		if (ac->is_closed)
			return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		if (ac->is_closing) {
			char scratch[512];

			n = read(ac->fd, scratch, sizeof(scratch));
			if (n == 0 || (n == -1 && errno != EAGAIN)) {
				api_conn_close(ac);
				return;
			}
		} else {
			n = buf_read_fd(&ac->in, ac->fd);
			if (n == 0 || (n == -1 && errno != EAGAIN &&
			    errno != ENOBUFS)) {
				api_conn_close(ac);
				return;
			}
			if (n == -1 && errno == ENOBUFS)
				api_error(ac, 413, "request too large");
			else
				api_handle(ac);
		}
	}
	api_conn_flush(ac);
}

/*
 * May the peer on fd drive the API?  Root, the daemon's own user, and with
 * --group a member of that group: its effective group, or one of its
 * supplementary groups (SO_PEERGROUPS: as they were when it connected,
 * like SO_PEERCRED, not as /proc says later), as the socket's mode lets
 * the same peers connect.
 */
static int
api_peer_allowed(const struct api *a, int fd, const struct ucred *cred)
{
	gid_t some[64], *groups = some;
	socklen_t len = sizeof(some);
	gid_t gid = a->px->cfg.api_gid;
	size_t i;
	int is_allowed = 0;

	if (cred->uid == 0 || cred->uid == geteuid())
		return 1;
	if (gid == (gid_t)-1)
		return 0;
	if (cred->gid == gid)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) == -1) {
		/* more groups than fit: len says how many bytes they need */
		if (errno != ERANGE || (groups = malloc(len)) == NULL)
			goto out;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups,
		    &len) == -1)
			goto out;
	}
	for (i = 0; i < len / sizeof(gid_t) && !is_allowed; i++)
		is_allowed = groups[i] == gid;
out:
	if (groups != some)
		free(groups);
	return is_allowed;
}

static void
api_accept_cb(struct ev_io *io, uint32_t events)
{
	struct api *a = io->arg;
	struct api_conn *ac;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd;

	(void)events;
	fd = sock_accept(a->lfd, NULL, NULL);
	if (fd == -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1 ||
	    a->nconns >= LIMIT_API_CONNS) {
		close(fd);
		return;
	}
	ac = calloc(1, sizeof(*ac));
	if (ac == NULL) {
		close(fd);
		return;
	}
	ac->api = a;
	ac->fd = fd;
	/* a peer that may not drive it is told so, not just cut off */
	ac->is_refused = !api_peer_allowed(a, fd, &cred);
	ac->peer_uid = cred.uid;
	buf_init(&ac->in, LIMIT_HTTP_HEAD + LIMIT_API_BODY);
	buf_init(&ac->out, LIMIT_API_RESPONSE);
	ac->deadline_ms = ev_now(a->px->ev) + LIMIT_API_IDLE_MS;
	ev_io_init(&ac->io, api_conn_cb, ac);
	if (ev_io_add(a->px->ev, &ac->io, fd, EPOLLIN) == -1) {
		close(fd);
		free(ac);
		return;
	}
	ac->next = a->conns;
	if (a->conns)
		a->conns->prev = ac;
	a->conns = ac;
	a->nconns++;
}

static void
api_sweep_cb(struct ev_timer *t)
{
	struct api *a = t->arg;
	struct api_conn *ac, *next;
	int64_t now = ev_now(a->px->ev);

	for (ac = a->conns; ac != NULL; ac = next) {
		next = ac->next;
		if (ac->deadline_ms <= now)
			api_conn_close(ac);
	}
	ev_timer_arm(a->px->ev, &a->sweep, 1000);
}

/* Warn when someone other than root (or the user who started the daemon)
 * may replace the control socket once it is in place: its directory
 * belongs to another user, or others may write it without the sticky
 * bit. */
static void
api_warn_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;
	size_t len;

	if (slash == NULL) {
		snprintf(dir, sizeof(dir), ".");
	} else {
		len = slash == path ? 1 : (size_t)(slash - path);
		if (len >= sizeof(dir))
			return;
		memcpy(dir, path, len);
		dir[len] = '\0';
	}
	if (stat(dir, &st) == -1)
		return;
	if (st.st_uid != 0 && st.st_uid != geteuid())
		log_warnx("api: the directory of %s belongs to uid %u, who "
		    "could replace the control socket", path,
		    (unsigned)st.st_uid);
	else if ((st.st_mode & 022) != 0 && (st.st_mode & S_ISVTX) == 0)
		log_warnx("api: the directory of %s is writable by others "
		    "without the sticky bit: they could replace the control "
		    "socket", path);
}

struct api *
api_new(struct proxy *px, const char *path, char *err, size_t errsz)
{
	struct api *a;

	a = calloc(1, sizeof(*a));
	if (a == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	a->px = px;
	a->path = strdup(path);
	if (a->path == NULL) {
		snprintf(err, errsz, "out of memory");
		free(a);
		return NULL;
	}
	api_warn_dir(path);
	/* root:GROUP 0660 with --group, else root 0600; owner and mode are
	 * set before the socket appears at path */
	if (px->cfg.api_gid != (gid_t)-1)
		a->lfd = sock_unix_listen(path, 0660, 0, px->cfg.api_gid, 64);
	else
		a->lfd = sock_unix_listen(path, 0600, (uid_t)-1, (gid_t)-1, 64);
	if (a->lfd == -1) {
		if (errno == EEXIST)
			snprintf(err, errsz, "cannot listen on %s: it exists "
			    "and is not a socket (not replacing it)", path);
		else if (errno == EADDRINUSE)
			snprintf(err, errsz, "cannot listen on %s: it is in "
			    "use by a running daemon", path);
		else if (errno == ENOTSOCK)
			snprintf(err, errsz, "cannot listen on %s: it was "
			    "replaced while being created", path);
		else
			snprintf(err, errsz, "cannot listen on %s: %s", path,
			    strerror(errno));
		free(a->path);
		free(a);
		return NULL;
	}
	ev_io_init(&a->lio, api_accept_cb, a);
	ev_io_add(px->ev, &a->lio, a->lfd, EPOLLIN);
	ev_timer_init(&a->sweep, api_sweep_cb, a);
	ev_timer_arm(px->ev, &a->sweep, 1000);
	return a;
}

void
api_free(struct api *a)
{
	if (a == NULL)
		return;
	while (a->conns != NULL)
		api_conn_close(a->conns);
	ev_timer_stop(a->px->ev, &a->sweep);
	ev_io_del(a->px->ev, &a->lio);
	close(a->lfd);
	unlink(a->path);
	free(a->path);
	free(a);
}
