/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * store.c - the policy store: clients, their allow rules and secrets in
 * memory; the decision function over them; their JSON views; and the state
 * directory they persist to (state.json plus one file per secret value).
 *
 * Owns every client, rule and secret it holds.  Does no logging and no
 * networking: errors go back to the caller as text, which never contains
 * a token or a secret value.  The API layer calls store_save after each
 * mutation and before it answers.
 *
 * Crash safety: every file is written as a temporary, fsync'd, renamed over
 * the old one and the directory fsync'd.  A secret's value file is written
 * (by store_secret_add) before the state.json that names it, and removed
 * (by store_save) only after a state.json without it is in place, so a
 * kill -9 at any point leaves either the old or the new state; at worst an
 * orphan value file, which is ignored on load and removed on the next save.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "buf.h"
#include "file.h"
#include "slicer_limits.h"
#include "parse.h"
#include "secmem.h"
#include "match.h"
#include "store.h"

#define STORE_VERSION 1
#define STORE_STATE "state.json"
#define STORE_STATE_TMP "state.json.tmp"
/* ceiling of the text built for state.json: far above what the limits on
 * clients and rules allow (some 100 MB) */
#define STORE_STATE_MAX ((size_t)1 << 30)
#define STORE_SECRETS "secrets"
/* the same ceiling parse_duration_ms applies to "ttl" */
#define STORE_TTL_MAX_S (366LL * 24 * 3600)
/* a quoted value in an error message is cut at this many bytes */
#define STORE_QUOTE_MAX 64
/* random rule id attempts before giving up (a clash is ~2^-48 each) */
#define STORE_ID_TRIES 16
/*
 * Room for the state directory path plus "/secrets/NAME".
 */
#define STORE_PATH_MAX 4096

static void err_set(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err_set(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/*
 * Copy s into buf for an error message: printable ASCII kept, anything else
 * shown as '?', cut at STORE_QUOTE_MAX bytes with "...".  Never used for
 * secret values.
 */
static const char *
str_quote(const char *s, char *buf, size_t size)
{
	size_t i, n = 0;

	if (s == NULL) {
		snprintf(buf, size, "(none)");
		return buf;
	}
	/* s[0..i) are not NUL, so s[i] may be read after the loop */
	for (i = 0; i < STORE_QUOTE_MAX && n + 4 < size && s[i] != '\0'; i++)
		buf[n++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	if (s[i] != '\0' && n + 4 <= size) {
		memcpy(buf + n, "...", 3);
		n += 3;
	}
	buf[n] = '\0';
	return buf;
}

static int
char_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

/* RFC 9110 tchar */
static int
char_is_tchar(char c)
{
	return char_is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static int
token_valid(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i] != '\0'; i++) {
		if (i >= max || !char_is_tchar(s[i]))
			return 0;
	}
	return i > 0;
}

int
store_name_valid(const char *name)
{
	size_t i;

	if (name == NULL || !char_is_alnum(name[0]))
		return 0;
	for (i = 1; name[i] != '\0'; i++) {
		if (i >= LIMIT_NAME - 1)
			return 0;
		if (!char_is_alnum(name[i]) && name[i] != '_' &&
		    name[i] != '.' && name[i] != '-')
			return 0;
	}
	return 1;
}

static int
rule_id_valid(const char *id)
{
	size_t i;

	if (id[0] != 'r')
		return 0;
	for (i = 1; i <= 12; i++) {
		if (!((id[i] >= '0' && id[i] <= '9') ||
			(id[i] >= 'a' && id[i] <= 'f')))
			return 0;
	}
	return id[13] == '\0';
}

static void
hex_encode(const unsigned char *p, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int
hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Exactly 2*len lower-case hex digits.  0 or -1. */
static int
hex_decode(const char *s, unsigned char *out, size_t len)
{
	size_t i;
	int hi, lo;

	if (strlen(s) != 2 * len)
		return -1;
	for (i = 0; i < len; i++) {
		hi = hex_nibble(s[2 * i]);
		lo = hex_nibble(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static void
time_format(int64_t ms, char *buf, size_t size)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, size, "1970-01-01T00:00:00Z");
}

/* ---- JSON helpers ---- */

/* A JSON string without embedded NULs, or NULL. */
static const char *
json_str(const json_t *v)
{
	const char *s;

	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	if (strlen(s) != json_string_length(v))
		return NULL;
	return s;
}

/* First key of obj not in the NULL-terminated list known, or NULL. */
static const char *
json_key_unknown(const json_t *obj, const char *const *known)
{
	/* jansson's iterator wants a mutable object; nothing is modified */
	json_t *o = (json_t *)(uintptr_t)obj;
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach(o, key, v)
	{
		for (i = 0; known[i] != NULL; i++) {
			if (strcmp(key, known[i]) == 0)
				break;
		}
		if (known[i] == NULL)
			return key;
	}
	return NULL;
}

static int
json_check_keys(
    const json_t *obj, const char *const *known, char *err, size_t errsz)
{
	const char *key;
	char q[STORE_QUOTE_MAX + 8];

	key = json_key_unknown(obj, known);
	if (key != NULL) {
		err_set(err, errsz, "unknown key: '%s'",
		    str_quote(key, q, sizeof(q)));
		return -1;
	}
	return 0;
}

/* An integer field >= 0.  0 or -1. */
static int
json_get_ms(
    const json_t *obj, const char *key, int64_t *out, char *err, size_t errsz)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL) {
		err_set(err, errsz, "%s is required", key);
		return -1;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		err_set(err, errsz, "%s must be an integer >= 0", key);
		return -1;
	}
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* ---- rules ---- */

void
store_rule_free_fields(struct rule *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->npaths; i++)
		free(r->paths[i]);
	free(r->paths);
	r->paths = NULL;
	r->npaths = 0;
	free(r->methods);
	r->methods = NULL;
	r->nmethods = 0;
	free(r->host);
	r->host = NULL;
}

static void
rule_free(struct rule *r)
{
	if (r == NULL)
		return;
	store_rule_free_fields(r);
	free(r);
}

static int
rule_parse_ports(const json_t *a, struct rule *r, char *err, size_t errsz)
{
	const json_t *v;
	json_int_t n;
	size_t i, j;
	char q[STORE_QUOTE_MAX + 8];

	if (!json_is_array(a)) {
		err_set(err, errsz, "ports must be an array of integers");
		return -1;
	}
	if (json_array_size(a) > LIMIT_RULE_PORTS) {
		err_set(err, errsz, "too many ports: %zu (at most %d)",
		    json_array_size(a), LIMIT_RULE_PORTS);
		return -1;
	}
	json_array_foreach(a, i, v)
	{
		if (json_is_string(v)) {
			err_set(err, errsz,
			    "invalid port: '%s' (not an integer)",
			    str_quote(json_string_value(v), q, sizeof(q)));
			return -1;
		}
		if (!json_is_integer(v)) {
			err_set(err, errsz, "invalid port: not an integer");
			return -1;
		}
		n = json_integer_value(v);
		if (n < 1 || n > 65535) {
			err_set(err, errsz, "invalid port: %lld", (long long)n);
			return -1;
		}
		for (j = 0; j < r->nports; j++) {
			if (r->ports[j] == (uint16_t)n)
				break;
		}
		if (j == r->nports)
			r->ports[r->nports++] = (uint16_t)n;
	}
	return 0;
}

static int
rule_parse_methods(const json_t *a, struct rule *r, char *err, size_t errsz)
{
	const json_t *v;
	const char *s;
	char m[LIMIT_METHOD], (*mv)[LIMIT_METHOD];
	char q[STORE_QUOTE_MAX + 8];
	size_t i, j, k;

	if (!json_is_array(a)) {
		err_set(err, errsz, "methods must be an array of strings");
		return -1;
	}
	if (json_array_size(a) > LIMIT_RULE_METHODS) {
		err_set(err, errsz, "too many methods: %zu (at most %d)",
		    json_array_size(a), LIMIT_RULE_METHODS);
		return -1;
	}
	json_array_foreach(a, i, v)
	{
		s = json_str(v);
		if (s == NULL) {
			err_set(err, errsz, "invalid method: not a string");
			return -1;
		}
		if (!token_valid(s, LIMIT_METHOD - 1)) {
			err_set(err, errsz, "invalid method: '%s'",
			    str_quote(s, q, sizeof(q)));
			return -1;
		}
		for (k = 0; s[k] != '\0'; k++)
			m[k] = (s[k] >= 'a' && s[k] <= 'z') ? s[k] - 'a' + 'A'
							    : s[k];
		m[k] = '\0';
		for (j = 0; j < r->nmethods; j++) {
			if (strcmp(r->methods[j], m) == 0)
				break;
		}
		if (j < r->nmethods)
			continue;
		mv = realloc(r->methods, (r->nmethods + 1) * sizeof(*mv));
		if (mv == NULL) {
			err_set(err, errsz, "out of memory");
			return -1;
		}
		r->methods = mv;
		memcpy(r->methods[r->nmethods++], m, k + 1);
	}
	return 0;
}

static int
rule_parse_paths(const json_t *a, struct rule *r, char *err, size_t errsz)
{
	const json_t *v;
	const char *s;
	char q[STORE_QUOTE_MAX + 8], **pv;
	size_t i, j;

	if (!json_is_array(a)) {
		err_set(err, errsz, "paths must be an array of strings");
		return -1;
	}
	if (json_array_size(a) > LIMIT_RULE_PATHS) {
		err_set(err, errsz, "too many paths: %zu (at most %d)",
		    json_array_size(a), LIMIT_RULE_PATHS);
		return -1;
	}
	json_array_foreach(a, i, v)
	{
		s = json_str(v);
		if (s == NULL) {
			err_set(err, errsz, "invalid path: not a string");
			return -1;
		}
		if (strlen(s) > LIMIT_PATH ||
		    match_path_pattern_valid(s) != 0) {
			err_set(err, errsz, "invalid path: '%s'",
			    str_quote(s, q, sizeof(q)));
			return -1;
		}
		for (j = 0; j < r->npaths; j++) {
			if (strcmp(r->paths[j], s) == 0)
				break;
		}
		if (j < r->npaths)
			continue;
		pv = realloc(r->paths, (r->npaths + 1) * sizeof(*pv));
		if (pv == NULL) {
			err_set(err, errsz, "out of memory");
			return -1;
		}
		r->paths = pv;
		r->paths[r->npaths] = strdup(s);
		if (r->paths[r->npaths] == NULL) {
			err_set(err, errsz, "out of memory");
			return -1;
		}
		r->npaths++;
	}
	return 0;
}

static int
rule_parse_bool(
    const json_t *obj, const char *key, int *out, char *err, size_t errsz)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v)) {
		err_set(err, errsz, "%s must be true or false", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* The fields an API rule and a stored rule share. */
static int
rule_parse_common(const json_t *obj, struct rule *r, char *err, size_t errsz)
{
	const json_t *v;
	const char *s;
	char q[STORE_QUOTE_MAX + 8], canon[256];

	v = json_object_get(obj, "host");
	if (v == NULL) {
		err_set(err, errsz, "host is required");
		return -1;
	}
	s = json_str(v);
	if (s == NULL) {
		err_set(err, errsz, "invalid host: not a string");
		return -1;
	}
	if (match_host_pattern_canon(s, canon, sizeof(canon)) != 0) {
		err_set(err, errsz, "invalid host: '%s'",
		    str_quote(s, q, sizeof(q)));
		return -1;
	}
	r->host = strdup(canon);
	if (r->host == NULL) {
		err_set(err, errsz, "out of memory");
		return -1;
	}
	v = json_object_get(obj, "ports");
	if (v != NULL && rule_parse_ports(v, r, err, errsz) == -1)
		return -1;
	v = json_object_get(obj, "methods");
	if (v != NULL && rule_parse_methods(v, r, err, errsz) == -1)
		return -1;
	v = json_object_get(obj, "paths");
	if (v != NULL && rule_parse_paths(v, r, err, errsz) == -1)
		return -1;
	v = json_object_get(obj, "secret");
	if (v != NULL) {
		s = json_str(v);
		if (s == NULL) {
			err_set(
			    err, errsz, "invalid secret name: not a string");
			return -1;
		}
		if (!store_name_valid(s)) {
			err_set(err, errsz, "invalid secret name: '%s'",
			    str_quote(s, q, sizeof(q)));
			return -1;
		}
		memcpy(r->secret, s, strlen(s) + 1);
	}
	if (rule_parse_bool(obj, "inspect", &r->is_inspect, err, errsz) == -1 ||
	    rule_parse_bool(obj, "allow_plaintext", &r->is_allow_plaintext, err,
		errsz) == -1)
		return -1;
	return 0;
}

static int
rule_parse_ttl(const json_t *obj, int64_t *ttl_ms, char *err, size_t errsz)
{
	const json_t *ttl, *secs;
	const char *s;
	json_int_t n;
	char q[STORE_QUOTE_MAX + 8];

	*ttl_ms = 0;
	ttl = json_object_get(obj, "ttl");
	secs = json_object_get(obj, "ttl_seconds");
	if (ttl != NULL && secs != NULL) {
		err_set(err, errsz, "give ttl or ttl_seconds, not both");
		return -1;
	}
	if (ttl != NULL) {
		s = json_str(ttl);
		if (s == NULL) {
			err_set(err, errsz, "invalid ttl: not a string");
			return -1;
		}
		if (parse_duration_ms(s, ttl_ms) != 0 || *ttl_ms <= 0) {
			err_set(err, errsz, "invalid ttl: '%s'",
			    str_quote(s, q, sizeof(q)));
			return -1;
		}
	} else if (secs != NULL) {
		if (!json_is_integer(secs)) {
			err_set(
			    err, errsz, "invalid ttl_seconds: not an integer");
			return -1;
		}
		n = json_integer_value(secs);
		if (n < 1 || n > STORE_TTL_MAX_S) {
			err_set(err, errsz, "invalid ttl_seconds: %lld",
			    (long long)n);
			return -1;
		}
		*ttl_ms = (int64_t)n * 1000;
	}
	return 0;
}

int
store_rule_parse_json(const json_t *obj, int64_t now_ms, struct rule *out,
    char *err, size_t errsz)
{
	static const char *const known[] = {"host", "ports", "methods", "paths",
	    "ttl", "ttl_seconds", "secret", "inspect", "allow_plaintext", NULL};
	int64_t ttl_ms;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj)) {
		err_set(err, errsz, "rule must be a JSON object");
		goto out;
	}
	if (json_check_keys(obj, known, err, errsz) == -1 ||
	    rule_parse_common(obj, out, err, errsz) == -1 ||
	    rule_parse_ttl(obj, &ttl_ms, err, errsz) == -1)
		goto out;
	out->created_ms = now_ms;
	out->expires_ms = ttl_ms > 0 ? now_ms + ttl_ms : 0;
	rc = 0;
out:
	if (rc == -1)
		store_rule_free_fields(out);
	return rc;
}

/* A rule as written in state.json: the common fields plus id and times. */
static int
rule_parse_state(const json_t *obj, struct rule *out, char *err, size_t errsz)
{
	static const char *const known[] = {"id", "host", "ports", "methods",
	    "paths", "secret", "inspect", "allow_plaintext", "created_ms",
	    "expires_ms", NULL};
	const char *id;
	char q[STORE_QUOTE_MAX + 8];
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!json_is_object(obj)) {
		err_set(err, errsz, "rule must be a JSON object");
		goto out;
	}
	if (json_check_keys(obj, known, err, errsz) == -1)
		goto out;
	id = json_str(json_object_get(obj, "id"));
	if (id == NULL || !rule_id_valid(id)) {
		err_set(err, errsz, "invalid rule id: '%s'",
		    id != NULL ? str_quote(id, q, sizeof(q)) : "");
		goto out;
	}
	memcpy(out->id, id, strlen(id) + 1);
	if (rule_parse_common(obj, out, err, errsz) == -1 ||
	    json_get_ms(obj, "created_ms", &out->created_ms, err, errsz) ==
		-1 ||
	    json_get_ms(obj, "expires_ms", &out->expires_ms, err, errsz) == -1)
		goto out;
	rc = 0;
out:
	if (rc == -1)
		store_rule_free_fields(out);
	return rc;
}

/* ---- rule indexes ---- */

/*
 * FNV-1a over the key, seeded, then a 64-bit finaliser so the low bits (the
 * bucket) depend on every byte.  Keys are host patterns and ids the admin
 * chose or the store made; the seed keeps bucket placement unpredictable
 * from outside anyway.
 */
static uint64_t
hash_str(uint64_t seed, const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	h ^= h >> 33;
	return h;
}

enum rule_key { RULE_BY_HOST, RULE_BY_ID };

static struct rule **
rule_link(struct rule *r, enum rule_key k)
{
	return k == RULE_BY_HOST ? &r->host_next : &r->id_next;
}

static uint64_t
rule_hash(const struct rule *r, enum rule_key k)
{
	return k == RULE_BY_HOST ? r->host_hash : r->id_hash;
}

static const char *
rule_key_str(const struct rule *r, enum rule_key k)
{
	return k == RULE_BY_HOST ? r->host : r->id;
}

static void
rule_table_free(struct rule_table *t)
{
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* Double the slots (at least 16) and rechain every rule.  0 or -1. */
static int
rule_table_grow(struct rule_table *t, enum rule_key k)
{
	size_t nslots = t->slots == NULL ? 16 : (t->mask + 1) * 2, i;
	struct rule **slots, *r, *next;

	slots = calloc(nslots, sizeof(*slots));
	if (slots == NULL)
		return -1;
	for (i = 0; t->slots != NULL && i <= t->mask; i++) {
		for (r = t->slots[i]; r != NULL; r = next) {
			next = *rule_link(r, k);
			*rule_link(r, k) = slots[rule_hash(r, k) & (nslots - 1)];
			slots[rule_hash(r, k) & (nslots - 1)] = r;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->mask = nslots - 1;
	return 0;
}

/* Insert r (its hash already set); room was reserved. */
static void
rule_table_insert(struct rule_table *t, struct rule *r, enum rule_key k)
{
	struct rule **head = &t->slots[rule_hash(r, k) & t->mask];

	*rule_link(r, k) = *head;
	*head = r;
	t->count++;
}

static void
rule_table_remove(struct rule_table *t, struct rule *r, enum rule_key k)
{
	struct rule **pp;

	if (t->slots == NULL)
		return;
	for (pp = &t->slots[rule_hash(r, k) & t->mask]; *pp != NULL;
	     pp = rule_link(*pp, k)) {
		if (*pp == r) {
			*pp = *rule_link(r, k);
			*rule_link(r, k) = NULL;
			t->count--;
			return;
		}
	}
}

/* First rule of the chain whose key is key (len bytes); continue with
 * rule_table_next.  NULL when none. */
static struct rule *
rule_table_scan(const struct rule *r, enum rule_key k, uint64_t h,
    const char *key, size_t len)
{
	const char *rk;

	for (; r != NULL; r = *rule_link((struct rule *)r, k)) {
		rk = rule_key_str(r, k);
		if (rule_hash(r, k) == h && strncmp(rk, key, len) == 0 &&
		    rk[len] == '\0')
			return (struct rule *)r;
	}
	return NULL;
}

static struct rule *
rule_table_first(const struct rule_table *t, enum rule_key k, uint64_t h,
    const char *key, size_t len)
{
	if (t->slots == NULL)
		return NULL;
	return rule_table_scan(t->slots[h & t->mask], k, h, key, len);
}

static struct rule *
rule_table_next(const struct rule *r, enum rule_key k, const char *key,
    size_t len)
{
	return rule_table_scan(*rule_link((struct rule *)r, k), k,
	    rule_hash(r, k), key, len);
}

static const struct rule *
rule_find_id(const struct store *st, const char *id)
{
	size_t len = strlen(id);

	return rule_table_first(&st->by_id, RULE_BY_ID,
	    hash_str(st->hash_seed, id, len), id, len);
}

struct rule *
store_rule_find(const struct store *st, const struct client *c,
    const char *id)
{
	const struct rule *r = rule_find_id(st, id);
	size_t i;

	if (r == NULL || c == NULL)
		return NULL;
	/* ids are unique over the store: check it is one of c's */
	for (i = c->nrules; i > 0; i--) {
		if (c->rules[i - 1] == r)
			return c->rules[i - 1];
	}
	return NULL;
}

static int
rule_id_new(const struct store *st, char id[16], char *err, size_t errsz)
{
	unsigned char b[6];
	int i;

	for (i = 0; i < STORE_ID_TRIES; i++) {
		if (RAND_bytes(b, sizeof(b)) != 1) {
			err_set(err, errsz, "random number generator failed");
			return -1;
		}
		id[0] = 'r';
		hex_encode(b, sizeof(b), id + 1);
		if (rule_find_id(st, id) == NULL)
			return 0;
	}
	err_set(err, errsz, "could not find a free rule id");
	return -1;
}

/*
 * Make room in every structure a new rule of c goes into, so that linking
 * it in cannot fail half-way.  0 or -1 (out of memory).
 */
static int
client_rule_reserve(struct store *st, struct client *c, size_t more)
{
	struct rule **v;
	size_t cap;

	if (c->nrules + more > c->rules_cap) {
		cap = c->rules_cap == 0 ? 8 : c->rules_cap;
		while (cap < c->nrules + more)
			cap *= 2;
		v = realloc(c->rules, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		c->rules = v;
		c->rules_cap = cap;
	}
	while (c->by_host.slots == NULL ||
	    c->by_host.count + more > c->by_host.mask + 1) {
		if (rule_table_grow(&c->by_host, RULE_BY_HOST) == -1)
			return -1;
	}
	while (st->by_id.slots == NULL ||
	    st->by_id.count + more > st->by_id.mask + 1) {
		if (rule_table_grow(&st->by_id, RULE_BY_ID) == -1)
			return -1;
	}
	return 0;
}

/* Link an allocated rule (id set) into c and the indexes; room reserved. */
static void
client_rule_link(struct store *st, struct client *c, struct rule *r)
{
	r->seq = st->rule_seq++;
	r->host_hash = hash_str(st->hash_seed, r->host, strlen(r->host));
	r->id_hash = hash_str(st->hash_seed, r->id, strlen(r->id));
	rule_table_insert(&c->by_host, r, RULE_BY_HOST);
	rule_table_insert(&st->by_id, r, RULE_BY_ID);
	c->rules[c->nrules++] = r;
	st->nrules_total++;
}

/* Unlink r from the indexes and free it (the caller fixes c->rules). */
static void
client_rule_unlink_free(struct store *st, struct client *c, struct rule *r)
{
	rule_table_remove(&c->by_host, r, RULE_BY_HOST);
	rule_table_remove(&st->by_id, r, RULE_BY_ID);
	st->nrules_total--;
	rule_free(r);
}

/* Room for n more rules under the per-client and store-wide caps? */
static int
rule_room_check(const struct store *st, const struct client *c, size_t n,
    char *err, size_t errsz)
{
	if (c->nrules + n > LIMIT_RULES_PER_CLIENT) {
		err_set(err, errsz,
		    "client '%s' has too many rules (at most %d)", c->name,
		    LIMIT_RULES_PER_CLIENT);
		return -1;
	}
	if (st->nrules_total + n > LIMIT_RULES_TOTAL) {
		err_set(err, errsz, "too many rules in all (at most %d)",
		    LIMIT_RULES_TOTAL);
		return -1;
	}
	return 0;
}

/* Checks a parsed rule must pass before it is added. */
static int
rule_add_check(const struct store *st, const struct rule *r, char *err,
    size_t errsz)
{
	char q[STORE_QUOTE_MAX + 8];

	if (r->host == NULL || r->host[0] == '\0') {
		err_set(err, errsz, "host is required");
		return -1;
	}
	if (r->secret[0] != '\0' && store_secret_find(st, r->secret) == NULL) {
		err_set(err, errsz, "unknown secret: '%s'",
		    str_quote(r->secret, q, sizeof(q)));
		return -1;
	}
	return 0;
}

/*
 * Move *r into a new rule with a fresh id, linked into c; room reserved.
 * On return *r owns nothing.  NULL with err on failure.
 */
static struct rule *
rule_adopt(struct store *st, struct client *c, struct rule *r, char *err,
    size_t errsz)
{
	struct rule *nr;

	nr = malloc(sizeof(*nr));
	if (nr == NULL) {
		err_set(err, errsz, "out of memory");
		return NULL;
	}
	*nr = *r;
	memset(r, 0, sizeof(*r));
	if (rule_id_new(st, nr->id, err, errsz) == -1) {
		rule_free(nr);
		return NULL;
	}
	client_rule_link(st, c, nr);
	return nr;
}

/*
 * On return, success or not, *r owns nothing any more (its strings moved
 * into the store or freed), so a following store_rule_free_fields is
 * harmless.
 */
int
store_rule_add(struct store *st, struct client *c, struct rule *r,
    char id_out[16], char *err, size_t errsz)
{
	struct rule *nr;
	int rc = -1;

	if (rule_room_check(st, c, 1, err, errsz) == -1 ||
	    rule_add_check(st, r, err, errsz) == -1)
		goto out;
	if (client_rule_reserve(st, c, 1) == -1) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	nr = rule_adopt(st, c, r, err, errsz);
	if (nr == NULL)
		goto out;
	if (id_out != NULL)
		memcpy(id_out, nr->id, sizeof(nr->id));
	c->pool_generation = ++st->generation;
	rc = 0;
out:
	store_rule_free_fields(r);
	return rc;
}

/* Remove c's last n rules (undo of a partial batch). */
static void
client_rules_pop(struct store *st, struct client *c, size_t n)
{
	while (n-- > 0 && c->nrules > 0) {
		c->nrules--;
		client_rule_unlink_free(st, c, c->rules[c->nrules]);
	}
}

void
store_rules_undo(struct store *st, struct client *c, size_t n)
{
	client_rules_pop(st, c, n);
	/* no pooled connection made under them is used again */
	c->pool_generation = ++st->generation;
}

int
store_rules_add(struct store *st, struct client *c, struct rule *rs,
    size_t n, char *err, size_t errsz)
{
	char why[256];
	size_t i, done = 0;
	int rc = -1;

	if (rule_room_check(st, c, n, err, errsz) == -1)
		goto out;
	for (i = 0; i < n; i++) {
		if (rule_add_check(st, &rs[i], why, sizeof(why)) == -1) {
			err_set(err, errsz, "rules[%zu]: %s", i, why);
			goto out;
		}
	}
	if (client_rule_reserve(st, c, n) == -1) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	for (done = 0; done < n; done++) {
		if (rule_adopt(st, c, &rs[done], why, sizeof(why)) == NULL) {
			err_set(err, errsz, "rules[%zu]: %s", done, why);
			client_rules_pop(st, c, done);
			goto out;
		}
	}
	if (n > 0)
		c->pool_generation = ++st->generation;
	rc = 0;
out:
	for (i = 0; i < n; i++)
		store_rule_free_fields(&rs[i]);
	return rc;
}

/*
 * Remove every rule of c for which drop() says so, keeping the order of the
 * rest: one pass, so removing many rules stays linear.  Count removed.
 */
static int
client_rules_filter(struct store *st, struct client *c,
    int (*drop)(const struct rule *, const void *), const void *arg)
{
	size_t i, kept = 0;
	int n = 0;

	for (i = 0; i < c->nrules; i++) {
		if (drop(c->rules[i], arg)) {
			client_rule_unlink_free(st, c, c->rules[i]);
			n++;
		} else {
			c->rules[kept++] = c->rules[i];
		}
	}
	c->nrules = kept;
	if (n > 0)
		c->pool_generation = ++st->generation;
	return n;
}

static int
rule_drop_id(const struct rule *r, const void *id)
{
	return strcmp(r->id, id) == 0;
}

static int
rule_drop_host(const struct rule *r, const void *host)
{
	return strcmp(r->host, host) == 0;
}

static int
rule_drop_any(const struct rule *r, const void *unused)
{
	(void)r;
	(void)unused;
	return 1;
}

static int
rule_is_live(const struct rule *r, int64_t now_ms)
{
	return r->expires_ms == 0 || r->expires_ms > now_ms;
}

static int
rule_drop_expired(const struct rule *r, const void *now_ms)
{
	return !rule_is_live(r, *(const int64_t *)now_ms);
}

int
store_rule_delete(struct store *st, struct client *c, const char *id)
{
	if (store_rule_find(st, c, id) == NULL)
		return 0;
	return client_rules_filter(st, c, rule_drop_id, id);
}

int
store_rule_delete_host(struct store *st, struct client *c, const char *host)
{
	char canon[256];
	const char *h = host;

	if (match_host_pattern_canon(host, canon, sizeof(canon)) == 0)
		h = canon;
	return client_rules_filter(st, c, rule_drop_host, h);
}

int
store_rule_delete_all(struct store *st, struct client *c)
{
	return client_rules_filter(st, c, rule_drop_any, NULL);
}

int
store_expire(struct store *st, int64_t now_ms)
{
	size_t i;
	int n = 0;

	for (i = 0; i < st->nclients; i++)
		n += client_rules_filter(st, st->clients[i], rule_drop_expired,
		    &now_ms);
	return n;
}

int64_t
store_next_expiry(const struct store *st)
{
	const struct rule *r;
	int64_t next = 0;
	size_t i, j;

	for (i = 0; i < st->nclients; i++) {
		for (j = 0; j < st->clients[i]->nrules; j++) {
			r = st->clients[i]->rules[j];
			if (r->expires_ms != 0 &&
			    (next == 0 || r->expires_ms < next))
				next = r->expires_ms;
		}
	}
	return next;
}

/* ---- clients ---- */

static size_t
token_slot_in(uint64_t seed, const unsigned char hash[32], size_t mask)
{
	uint64_t h;

	memcpy(&h, hash, sizeof(h));
	h ^= seed;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & mask;
}

static size_t
token_slot(const struct store *st, const unsigned char hash[32])
{
	return token_slot_in(st->hash_seed, hash, st->token_mask);
}

static size_t
name_slot(const struct store *st, const char *name)
{
	return (size_t)hash_str(st->hash_seed, name, strlen(name)) &
	       st->token_mask;
}

/* Make room in the token and name tables for one more client.  0 or -1. */
static int
client_tables_reserve(struct store *st)
{
	struct client **slots, **nslots_v, *c;
	size_t nslots, i, j;

	if (st->token_slots != NULL && st->nclients < st->token_mask + 1)
		return 0;
	nslots = st->token_slots == NULL ? 16 : (st->token_mask + 1) * 2;
	slots = calloc(nslots, sizeof(*slots));
	nslots_v = calloc(nslots, sizeof(*nslots_v));
	if (slots == NULL || nslots_v == NULL) {
		free(slots);
		free(nslots_v);
		return -1;
	}
	free(st->token_slots);
	free(st->name_slots);
	st->token_slots = slots;
	st->name_slots = nslots_v;
	st->token_mask = nslots - 1;
	for (i = 0; i < st->nclients; i++) {
		c = st->clients[i];
		j = token_slot(st, c->token_hash);
		c->token_next = slots[j];
		slots[j] = c;
		j = name_slot(st, c->name);
		c->name_next = nslots_v[j];
		nslots_v[j] = c;
	}
	return 0;
}

static void
client_tables_remove(struct store *st, struct client *c)
{
	struct client **pp;

	if (st->token_slots == NULL)
		return;
	for (pp = &st->token_slots[token_slot(st, c->token_hash)]; *pp != NULL;
	     pp = &(*pp)->token_next) {
		if (*pp == c) {
			*pp = c->token_next;
			c->token_next = NULL;
			break;
		}
	}
	for (pp = &st->name_slots[name_slot(st, c->name)]; *pp != NULL;
	     pp = &(*pp)->name_next) {
		if (*pp == c) {
			*pp = c->name_next;
			c->name_next = NULL;
			break;
		}
	}
}

/*
 * The client whose token hash is hash, or NULL.  Every client on the chain
 * is compared in full with CRYPTO_memcmp, whatever matched before.
 */
static struct client *
token_table_find(const struct store *st, const unsigned char hash[32])
{
	struct client *c, *found = NULL;
	int eq;

	if (st->token_slots == NULL)
		return NULL;
	for (c = st->token_slots[token_slot(st, hash)]; c != NULL;
	     c = c->token_next) {
		eq = CRYPTO_memcmp(hash, c->token_hash, 32) == 0;
		if (eq && found == NULL)
			found = c;
	}
	return found;
}

/* Free c and its rules, taking them out of the store-wide id index. */
static void
client_free(struct store *st, struct client *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nrules; i++) {
		rule_table_remove(&st->by_id, c->rules[i], RULE_BY_ID);
		st->nrules_total--;
		rule_free(c->rules[i]);
	}
	free(c->rules);
	rule_table_free(&c->by_host);
	free(c);
}

struct client *
store_client_find(const struct store *st, const char *name)
{
	struct client *c;

	if (st->name_slots == NULL || name == NULL)
		return NULL;
	for (c = st->name_slots[name_slot(st, name)]; c != NULL;
	     c = c->name_next) {
		if (strcmp(c->name, name) == 0)
			return c;
	}
	return NULL;
}

int
store_client_dns_take(struct client *c, unsigned limit)
{
	unsigned n = atomic_load_explicit(&c->dns_inflight,
	    memory_order_relaxed);

	do {
		if (n >= limit)
			return -1;
	} while (!atomic_compare_exchange_weak_explicit(&c->dns_inflight, &n,
	    n + 1, memory_order_relaxed, memory_order_relaxed));
	return 0;
}

void
store_client_dns_give(struct client *c)
{
	unsigned n = atomic_load_explicit(&c->dns_inflight,
	    memory_order_relaxed);

	do {
		if (n == 0)
			return;
	} while (!atomic_compare_exchange_weak_explicit(&c->dns_inflight, &n,
	    n - 1, memory_order_relaxed, memory_order_relaxed));
}

/* Append a new client (no rules); NULL with err on failure. */
static struct client *
client_insert(struct store *st, const char *name,
    const unsigned char token_hash[32], int64_t created_ms, char *err,
    size_t errsz)
{
	struct client *c = NULL, **v;
	char q[STORE_QUOTE_MAX + 8];
	size_t j;

	if (!store_name_valid(name)) {
		err_set(err, errsz, "invalid client name: '%s'",
		    str_quote(name, q, sizeof(q)));
		return NULL;
	}
	if (store_client_find(st, name) != NULL) {
		err_set(err, errsz, "client already exists: '%s'", name);
		return NULL;
	}
	if (st->nclients >= LIMIT_CLIENTS) {
		err_set(
		    err, errsz, "too many clients (at most %d)", LIMIT_CLIENTS);
		return NULL;
	}
	if (token_table_find(st, token_hash) != NULL) {
		err_set(err, errsz, "token already in use by a client");
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	v = realloc(st->clients, (st->nclients + 1) * sizeof(*v));
	if (v != NULL)
		st->clients = v;
	if (c == NULL || v == NULL || client_tables_reserve(st) == -1) {
		free(c);
		err_set(err, errsz, "out of memory");
		return NULL;
	}
	memcpy(c->name, name, strlen(name) + 1);
	memcpy(c->token_hash, token_hash, 32);
	c->created_ms = created_ms;
	c->serial = ++st->client_serial;
	j = token_slot(st, token_hash);
	c->token_next = st->token_slots[j];
	st->token_slots[j] = c;
	j = name_slot(st, c->name);
	c->name_next = st->name_slots[j];
	st->name_slots[j] = c;
	st->clients[st->nclients++] = c;
	return c;
}

uint64_t
store_pool_generation(const struct store *st, const struct client *c)
{
	return c->pool_generation > st->secrets_generation ?
	    c->pool_generation : st->secrets_generation;
}

int
store_client_add(struct store *st, const char *name,
    const unsigned char token_hash[32], int64_t now_ms, char *err, size_t errsz)
{
	struct client *c;

	c = client_insert(st, name, token_hash, now_ms, err, errsz);
	if (c == NULL)
		return -1;
	/* a client of a name used before never gets its connections */
	c->pool_generation = ++st->generation;
	return 0;
}

int
store_client_delete(struct store *st, const char *name)
{
	size_t i;

	for (i = 0; i < st->nclients; i++) {
		if (strcmp(st->clients[i]->name, name) == 0) {
			client_tables_remove(st, st->clients[i]);
			client_free(st, st->clients[i]);
			memmove(&st->clients[i], &st->clients[i + 1],
			    (st->nclients - i - 1) * sizeof(st->clients[0]));
			st->nclients--;
			st->generation++;
			return 0;
		}
	}
	return -1;
}

struct client *
store_client_by_token(const struct store *st, const char *token, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	struct client *found = NULL;

	if (token == NULL || len == 0)
		return NULL;
	if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		goto out;
	found = token_table_find(st, md);
out:
	OPENSSL_cleanse(md, sizeof(md));
	return found;
}

/* ---- secrets ---- */

static const char *const secret_type_names[] = {
    [SECRET_BEARER] = "bearer",
    [SECRET_BASIC] = "basic-auth",
    [SECRET_HEADER] = "header",
    [SECRET_OAUTH] = "oauth",
};

int
store_secret_type_parse(const char *s, enum secret_type *out)
{
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < sizeof(secret_type_names) / sizeof(*secret_type_names);
	     i++) {
		if (strcmp(s, secret_type_names[i]) == 0) {
			*out = (enum secret_type)i;
			return 0;
		}
	}
	return -1;
}

const char *
store_secret_type_name(enum secret_type t)
{
	if ((unsigned)t >=
	    sizeof(secret_type_names) / sizeof(*secret_type_names))
		return "unknown";
	return secret_type_names[t];
}

/*
 * A header we inject must not change how the message is framed or routed,
 * nor act on the hop to the proxy.
 */
static int
secret_header_valid(const char *h)
{
	static const char *const refused[] = {"host", "content-length",
	    "transfer-encoding", "connection", "keep-alive", "te", "trailer",
	    "upgrade", "proxy-authorization", "proxy-connection", NULL};
	size_t i;

	if (h == NULL || !token_valid(h, LIMIT_HEADER_NAME - 1))
		return 0;
	for (i = 0; refused[i] != NULL; i++) {
		if (strcasecmp(h, refused[i]) == 0)
			return 0;
	}
	return 1;
}

/*
 * Check a secret value, stripping one trailing LF or CRLF from *len.  The
 * value goes into a header: no control characters but HTAB.  Messages
 * never show the value.
 */
static int
secret_value_check(const unsigned char *v, size_t *len, enum secret_type t,
    char *err, size_t errsz)
{
	size_t i, n = *len;
	int has_colon = 0;

	if (n > 0 && v[n - 1] == '\n') {
		n--;
		if (n > 0 && v[n - 1] == '\r')
			n--;
	}
	if (n == 0) {
		err_set(err, errsz, "secret value is empty");
		return -1;
	}
	if (n > LIMIT_SECRET_VALUE) {
		err_set(err, errsz,
		    "secret value too long: %zu bytes (at most %d)", n,
		    LIMIT_SECRET_VALUE);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((v[i] < 0x20 && v[i] != '\t') || v[i] == 0x7f) {
			err_set(err, errsz,
			    "secret value contains a NUL, CR, LF or other "
			    "control character");
			return -1;
		}
		if (v[i] == ':')
			has_colon = 1;
	}
	if (t == SECRET_BASIC && !has_colon) {
		err_set(err, errsz,
		    "basic-auth secret value must be user:password");
		return -1;
	}
	*len = n;
	return 0;
}

/* Secrets by name: a fixed table at most half full, since a request with
 * a secret looks its secret up by name. */
#define STORE_SECRET_SLOTS (2 * LIMIT_SECRETS)
_Static_assert((STORE_SECRET_SLOTS & (STORE_SECRET_SLOTS - 1)) == 0,
    "STORE_SECRET_SLOTS must be a power of two");

static size_t
secret_slot(const struct store *st, const char *name)
{
	return (size_t)hash_str(st->hash_seed, name, strlen(name)) &
	       (STORE_SECRET_SLOTS - 1);
}

struct secret *
store_secret_find(const struct store *st, const char *name)
{
	struct secret *s;

	if (st->secret_slots == NULL || name == NULL)
		return NULL;
	for (s = st->secret_slots[secret_slot(st, name)]; s != NULL;
	     s = s->name_next) {
		if (strcmp(s->name, name) == 0)
			return s;
	}
	return NULL;
}

static void
secret_free(struct secret *s)
{
	if (s == NULL)
		return;
	secmem_free(s->value);
	secmem_free(s->token_url);
	free(s);
}

/*
 * An oauth secret's token endpoint, read from its value (a JSON object
 * with "token_url") once, when the value is set, so that requests compare
 * strings instead of parsing every oauth secret.  0 with *url a copy (NULL:
 * not oauth, or no token_url), -1 when out of memory.  The copy is kept
 * as the value is (a URL may carry a credential in its query).
 */
static int
secret_token_url(enum secret_type type, const struct secmem *v,
    struct secmem **url)
{
	json_t *j, *u;
	int rc = 0;

	*url = NULL;
	if (type != SECRET_OAUTH)
		return 0;
	j = json_loadb((const char *)v->p, v->len, 0, NULL);
	u = json_object_get(j, "token_url");
	if (json_is_string(u) && (*url = secmem_new(json_string_value(u),
	    json_string_length(u))) == NULL)
		rc = -1;
	json_decref(j);
	return rc;
}

/* Validate the metadata of a secret into s (value not touched). */
static int
secret_meta_set(struct secret *s, const char *name, const char *host,
    enum secret_type type, const char *header, char *err, size_t errsz)
{
	char q[STORE_QUOTE_MAX + 8];

	if (!store_name_valid(name)) {
		err_set(err, errsz, "invalid secret name: '%s'",
		    str_quote(name, q, sizeof(q)));
		return -1;
	}
	if (host == NULL ||
	    match_host_pattern_canon(host, s->host, sizeof(s->host)) != 0) {
		err_set(err, errsz, "invalid host: '%s'",
		    str_quote(host, q, sizeof(q)));
		return -1;
	}
	if ((unsigned)type >=
	    sizeof(secret_type_names) / sizeof(*secret_type_names)) {
		err_set(err, errsz, "invalid secret type");
		return -1;
	}
	if (type == SECRET_HEADER) {
		if (header == NULL || header[0] == '\0') {
			err_set(
			    err, errsz, "a header secret needs a header name");
			return -1;
		}
		if (!secret_header_valid(header)) {
			err_set(err, errsz, "invalid header name: '%s'",
			    str_quote(header, q, sizeof(q)));
			return -1;
		}
		memcpy(s->header, header, strlen(header) + 1);
	} else if (header != NULL && header[0] != '\0') {
		err_set(err, errsz, "a header name is only for type header");
		return -1;
	}
	memcpy(s->name, name, strlen(name) + 1);
	s->type = type;
	return 0;
}

static int
secret_append(struct store *st, struct secret *s)
{
	struct secret **v;
	size_t j;

	if (s->token_url == NULL &&
	    secret_token_url(s->type, s->value, &s->token_url) == -1)
		return -1;
	if (st->secret_slots == NULL && (st->secret_slots = calloc(
	    STORE_SECRET_SLOTS, sizeof(*st->secret_slots))) == NULL)
		return -1;
	v = realloc(st->secrets, (st->nsecrets + 1) * sizeof(*v));
	if (v == NULL)
		return -1;
	st->secrets = v;
	st->secrets[st->nsecrets++] = s;
	s->serial = ++st->secret_serial;
	j = secret_slot(st, s->name);
	s->name_next = st->secret_slots[j];
	st->secret_slots[j] = s;
	st->noauth_secrets += s->type == SECRET_OAUTH;
	return 0;
}

/* ---- files ---- */

/* A file or directory we keep state in: ours (or root's), no group/world
 * bits. */
static int
stat_check(const struct stat *sb, const char *path, int is_dir, char *err,
    size_t errsz)
{
	if (is_dir ? !S_ISDIR(sb->st_mode) : !S_ISREG(sb->st_mode)) {
		err_set(err, errsz, "%s: not a %s", path,
		    is_dir ? "directory" : "regular file");
		return -1;
	}
	if ((sb->st_mode & 077) != 0) {
		err_set(err, errsz,
		    "%s: mode %04o has group/world permission bits (want %s)",
		    path, (unsigned)(sb->st_mode & 07777),
		    is_dir ? "0700" : "0600");
		return -1;
	}
	if (sb->st_uid != 0 && sb->st_uid != geteuid()) {
		err_set(err, errsz,
		    "%s: owned by uid %u, not by root or uid %u", path,
		    (unsigned)sb->st_uid, (unsigned)geteuid());
		return -1;
	}
	return 0;
}

/* mkdir -p, each created component 0700. */
static int
dir_make(const char *dir, char *err, size_t errsz)
{
	char path[STORE_PATH_MAX];
	size_t i, len = strlen(dir);

	if (len == 0 || len >= sizeof(path)) {
		err_set(err, errsz, "invalid state directory");
		return -1;
	}
	memcpy(path, dir, len + 1);
	for (i = 1; i <= len; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			err_set(
			    err, errsz, "mkdir %s: %s", path, strerror(errno));
			return -1;
		}
		if (i < len)
			path[i] = '/';
	}
	return 0;
}

/* Open (creating when missing) a directory below dfd and check it. */
static int
dir_open_at(
    int dfd, const char *name, const char *path, char *err, size_t errsz)
{
	struct stat sb;
	int fd;

	if (mkdirat(dfd, name, 0700) == -1 && errno != EEXIST) {
		err_set(err, errsz, "mkdir %s: %s", path, strerror(errno));
		return -1;
	}
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		err_set(err, errsz, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		err_set(err, errsz, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (stat_check(&sb, path, 1, err, errsz) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Open the state directory and its secrets/ directory, checked. */
static int
state_dirs_open(
    const struct store *st, int *dfd, int *sfd, char *err, size_t errsz)
{
	char path[STORE_PATH_MAX];
	struct stat sb;

	*dfd = *sfd = -1;
	*dfd = open(st->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*dfd == -1) {
		err_set(err, errsz, "%s: %s", st->shown, strerror(errno));
		goto fail;
	}
	if (fstat(*dfd, &sb) == -1) {
		err_set(err, errsz, "%s: %s", st->shown, strerror(errno));
		goto fail;
	}
	if (stat_check(&sb, st->shown, 1, err, errsz) == -1)
		goto fail;
	snprintf(path, sizeof(path), "%s/%s", st->shown, STORE_SECRETS);
	*sfd = dir_open_at(*dfd, STORE_SECRETS, path, err, errsz);
	if (*sfd == -1)
		goto fail;
	return 0;
fail:
	if (*dfd != -1)
		close(*dfd);
	*dfd = -1;
	return -1;
}

/* Read secrets/NAME (checked like state files) into a new secmem. */
static int
secret_file_read(const char *dir, int sfd, const char *name,
    enum secret_type type, struct secmem **out, char *err, size_t errsz)
{
	unsigned char buf[LIMIT_SECRET_VALUE + 3];
	char path[STORE_PATH_MAX], why[160];
	struct stat sb;
	size_t len = 0;
	ssize_t n;
	int fd, rc = -1;

	snprintf(path, sizeof(path), "%s/%s/%s", dir, STORE_SECRETS, name);
	fd = openat(sfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		err_set(err, errsz, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (fstat(fd, &sb) == -1) {
		err_set(err, errsz, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (stat_check(&sb, path, 0, err, errsz) == -1)
		goto out;
	/* one byte more than a value may hold tells "too long" apart */
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set(
			    err, errsz, "%s: read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (secret_value_check(buf, &len, type, why, sizeof(why)) == -1) {
		err_set(err, errsz, "%s: %s", path, why);
		goto out;
	}
	*out = secmem_new(buf, len);
	if (*out == NULL) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	rc = 0;
out:
	secmem_wipe(buf, sizeof(buf));
	if (fd != -1)
		close(fd);
	return rc;
}

/*
 * Remove value files of secrets the store no longer holds, and stale
 * temporaries.  Entries that are neither are left alone.
 */
static int
secrets_sweep(const struct store *st, int sfd, char *err, size_t errsz)
{
	struct dirent *de;
	DIR *d;
	int fd, rc = 0;
	size_t len;

	fd = dup(sfd);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		err_set(err, errsz, "%s/%s: %s", st->shown, STORE_SECRETS,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (store_name_valid(de->d_name)) {
			if (store_secret_find(st, de->d_name) != NULL)
				continue;
		} else if (!(de->d_name[0] == '.' && len > 5 &&
			       strcmp(de->d_name + len - 4, ".tmp") == 0)) {
			continue;
		}
		/* a directory holds no value (and blocks only its own
		 * secret's writes): left alone */
		if (unlinkat(sfd, de->d_name, 0) == -1 && errno != ENOENT &&
		    errno != EISDIR) {
			err_set(err, errsz, "%s/%s/%s: unlink: %s", st->shown,
			    STORE_SECRETS, de->d_name, strerror(errno));
			rc = -1;
		}
	}
	closedir(d);
	if (rc == 0 && fsync(sfd) == -1) {
		err_set(err, errsz, "%s/%s: fsync: %s", st->shown, STORE_SECRETS,
		    strerror(errno));
		rc = -1;
	}
	return rc;
}

/* ---- secrets API ---- */

int
store_secret_add(struct store *st, const char *name, const char *host,
    enum secret_type type, const char *header, const void *value, size_t len,
    int64_t now_ms, char *err, size_t errsz)
{
	struct secret *s = NULL;
	char q[STORE_QUOTE_MAX + 8];
	int rc = -1;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	if (secret_meta_set(s, name, host, type, header, err, errsz) == -1)
		goto out;
	if (store_secret_find(st, name) != NULL) {
		err_set(err, errsz, "secret already exists: '%s'",
		    str_quote(name, q, sizeof(q)));
		goto out;
	}
	if (st->nsecrets >= LIMIT_SECRETS) {
		err_set(
		    err, errsz, "too many secrets (at most %d)", LIMIT_SECRETS);
		goto out;
	}
	if (value == NULL ||
	    secret_value_check(value, &len, type, err, errsz) == -1) {
		if (value == NULL)
			err_set(err, errsz, "secret value is empty");
		goto out;
	}
	s->value = secmem_new(value, len);
	if (s->value == NULL) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	s->created_ms = now_ms;
	/* its file is written by store_secrets_flush, before any state.json
	 * names it (store_save checks) */
	if (secret_append(st, s) == -1) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	s = NULL;
	st->secrets_generation = ++st->generation;
	rc = 0;
out:
	secret_free(s);
	return rc;
}

int
store_secret_set_value(struct store *st, struct secret *s, const void *value,
    size_t len, char *err, size_t errsz)
{
	struct secmem *nv, *old, *url;

	(void)st;
	if (value == NULL ||
	    secret_value_check(value, &len, s->type, err, errsz) == -1)
		return -1;
	nv = secmem_new(value, len);
	if (nv == NULL || secret_token_url(s->type, nv, &url) == -1) {
		secmem_free(nv);
		err_set(err, errsz, "out of memory");
		return -1;
	}
	secmem_free(s->token_url);
	s->token_url = url;
	old = s->value;
	s->value = nv;
	s->value_gen++;
	secmem_free(old);
	return 0;
}

size_t
store_secrets_unsaved(const struct store *st)
{
	size_t i, n = 0;

	if (st->dir == NULL)
		return 0;
	for (i = 0; i < st->nsecrets; i++)
		n += !st->secrets[i]->is_on_disk ||
		    st->secrets[i]->value_gen != st->secrets[i]->saved_gen;
	return n;
}

int
store_secrets_flush(struct store *st, void (*release)(void *),
    void (*reacquire)(void *), void *arg, char *err, size_t errsz)
{
	char where[STORE_PATH_MAX], tmp[LIMIT_NAME + 8], later[256];
	struct secret *s;
	struct secmem *copy;
	struct stat sb;
	uint64_t gen;
	size_t i;
	int dfd = -1, sfd = -1, rc = -1, is_due, is_failed = 0;

	if (st->dir == NULL)
		return 0;
	snprintf(where, sizeof(where), "%s/%s", st->shown, STORE_SECRETS);
	if (release != NULL)
		release(arg);
	rc = state_dirs_open(st, &dfd, &sfd, err, errsz);
	if (reacquire != NULL)
		reacquire(arg);
	if (rc == -1)
		return -1;
	rc = -1;
	/* the list and the names hold still: only this loop changes them */
	for (i = 0; i < st->nsecrets; i++) {
		s = st->secrets[i];
		is_due = !s->is_on_disk || s->value_gen != s->saved_gen;
		if (!is_due) {
			if (release != NULL)
				release(arg);
			is_due = fstatat(sfd, s->name, &sb,
			    AT_SYMLINK_NOFOLLOW) == -1 && errno == ENOENT;
			if (reacquire != NULL)
				reacquire(arg);
		}
		if (!is_due)
			continue;
		gen = s->value_gen;
		copy = secmem_new(s->value->p, s->value->len);
		if (copy == NULL) {
			err_set(err, errsz, "out of memory");
			rc = -1;
			goto out;
		}
		snprintf(tmp, sizeof(tmp), ".%s.tmp", s->name);
		if (release != NULL)
			release(arg);
		/* the first failure is the one reported; the others are
		 * still written */
		rc = file_write_atomic(sfd, where, s->name, tmp, copy->p,
		    copy->len, 0600, is_failed ? later : err,
		    is_failed ? sizeof(later) : errsz);
		secmem_free(copy);
		if (reacquire != NULL)
			reacquire(arg);
		if (rc == -1) {
			is_failed = 1;
			continue;
		}
		s->saved_gen = gen;
		s->is_on_disk = 1;
	}
	rc = is_failed ? -1 : 0;
out:
	close(sfd);
	close(dfd);
	return rc;
}

/* The value file goes at the next store_save, after state.json. */
int
store_secret_delete(struct store *st, const char *name, char *err, size_t errsz)
{
	const struct client *c;
	char q[STORE_QUOTE_MAX + 8];
	size_t i, j;

	for (i = 0; i < st->nclients; i++) {
		c = st->clients[i];
		for (j = 0; j < c->nrules; j++) {
			if (strcmp(c->rules[j]->secret, name) == 0) {
				err_set(err, errsz,
				    "secret '%s' is used by rule %s of client "
				    "'%s'",
				    str_quote(name, q, sizeof(q)),
				    c->rules[j]->id, c->name);
				return -1;
			}
		}
	}
	for (i = 0; i < st->nsecrets; i++) {
		if (strcmp(st->secrets[i]->name, name) == 0) {
			struct secret **pp;

			for (pp = &st->secret_slots[secret_slot(st, name)];
			     *pp != st->secrets[i]; pp = &(*pp)->name_next)
				;
			*pp = st->secrets[i]->name_next;
			st->noauth_secrets -= st->secrets[i]->type ==
			    SECRET_OAUTH;
			secret_free(st->secrets[i]);
			memmove(&st->secrets[i], &st->secrets[i + 1],
			    (st->nsecrets - i - 1) * sizeof(st->secrets[0]));
			st->nsecrets--;
			st->secrets_generation = ++st->generation;
			return 0;
		}
	}
	err_set(
	    err, errsz, "no such secret: '%s'", str_quote(name, q, sizeof(q)));
	return -1;
}

/* ---- state.json ---- */

/*
 * state.json is written straight into one buffer (no JSON tree: at 100,000
 * rules building and freeing one cost most of a save), one rule per line.
 * Strings are escaped as jansson escapes them; every string here came in
 * as valid UTF-8 JSON through the API or state.json, so bytes from 0x80 up
 * pass unchanged.
 */
static int
state_put(struct buf *b, const char *text)
{
	return buf_append(b, text, strlen(text));
}

static int
state_put_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;
	char esc[6];

	if (buf_append(b, "\"", 1) == -1)
		return -1;
	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;
		size_t elen = 2;

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		if (buf_append(b, run, (size_t)(s - run)) == -1)
			return -1;
		run = s + 1;
		esc[0] = '\\';
		switch (ch) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 15];
			elen = 6;
			break;
		}
		if (buf_append(b, esc, elen) == -1)
			return -1;
	}
	if (buf_append(b, run, (size_t)(s - run)) == -1 ||
	    buf_append(b, "\"", 1) == -1)
		return -1;
	return 0;
}

/* "key": "value" with a leading ", " unless first. */
static int
state_put_member(struct buf *b, const char *key, const char *val, int first)
{
	if ((!first && buf_append(b, ", ", 2) == -1) ||
	    state_put_str(b, key) == -1 || buf_append(b, ": ", 2) == -1)
		return -1;
	return val != NULL ? state_put_str(b, val) : 0;
}

static int
state_put_strings(struct buf *b, const char *key, char *const *v, size_t n)
{
	size_t i;

	if (state_put_member(b, key, NULL, 0) == -1 ||
	    buf_append(b, "[", 1) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if ((i > 0 && buf_append(b, ", ", 2) == -1) ||
		    state_put_str(b, v[i]) == -1)
			return -1;
	return buf_append(b, "]", 1);
}

static int
state_put_rule(struct buf *b, const struct rule *r)
{
	size_t i;

	if (buf_append(b, "{", 1) == -1 ||
	    state_put_member(b, "id", r->id, 1) == -1 ||
	    state_put_member(b, "host", r->host, 0) == -1 ||
	    state_put_member(b, "ports", NULL, 0) == -1 ||
	    buf_append(b, "[", 1) == -1)
		return -1;
	for (i = 0; i < r->nports; i++)
		if (buf_printf(b, i > 0 ? ", %u" : "%u",
		    (unsigned)r->ports[i]) == -1)
			return -1;
	if (buf_append(b, "]", 1) == -1 ||
	    state_put_member(b, "methods", NULL, 0) == -1 ||
	    buf_append(b, "[", 1) == -1)
		return -1;
	for (i = 0; i < r->nmethods; i++)
		if ((i > 0 && buf_append(b, ", ", 2) == -1) ||
		    state_put_str(b, r->methods[i]) == -1)
			return -1;
	if (buf_append(b, "]", 1) == -1 ||
	    state_put_strings(b, "paths", r->paths, r->npaths) == -1 ||
	    (r->secret[0] != '\0' &&
	    state_put_member(b, "secret", r->secret, 0) == -1) ||
	    buf_printf(b, ", \"inspect\": %s, \"allow_plaintext\": %s, "
	    "\"created_ms\": %lld, \"expires_ms\": %lld}",
	    r->is_inspect ? "true" : "false",
	    r->is_allow_plaintext ? "true" : "false",
	    (long long)r->created_ms, (long long)r->expires_ms) == -1)
		return -1;
	return 0;
}

/* The whole of state.json into b (NUL-terminated).  0, or -1 when out of
 * memory. */
static int
state_text(const struct store *st, struct buf *b)
{
	const struct client *c;
	const struct secret *s;
	char hex[65];
	size_t i, j;

	if (buf_printf(b, "{\n \"version\": %d,\n \"clients\": [",
	    STORE_VERSION) == -1)
		return -1;
	for (i = 0; i < st->nclients; i++) {
		c = st->clients[i];
		hex_encode(c->token_hash, 32, hex);
		if (state_put(b, i > 0 ? ",\n  {" : "\n  {") == -1 ||
		    state_put_member(b, "name", c->name, 1) == -1 ||
		    state_put_member(b, "token_sha256", hex, 0) == -1 ||
		    buf_printf(b, ", \"created_ms\": %lld, \"rules\": [",
		    (long long)c->created_ms) == -1)
			return -1;
		for (j = 0; j < c->nrules; j++)
			if (state_put(b, j > 0 ? ",\n   " : "\n   ") == -1 ||
			    state_put_rule(b, c->rules[j]) == -1)
				return -1;
		if (state_put(b, c->nrules > 0 ? "\n  ]}" : "]}") == -1)
			return -1;
	}
	if (state_put(b, st->nclients > 0 ? "\n ],\n \"secrets\": [" :
	    "],\n \"secrets\": [") == -1)
		return -1;
	for (i = 0; i < st->nsecrets; i++) {
		s = st->secrets[i];
		if (state_put(b, i > 0 ? ",\n  {" : "\n  {") == -1 ||
		    state_put_member(b, "name", s->name, 1) == -1 ||
		    state_put_member(b, "host", s->host, 0) == -1 ||
		    state_put_member(b, "type",
		    store_secret_type_name(s->type), 0) == -1 ||
		    (s->type == SECRET_HEADER &&
		    state_put_member(b, "header", s->header, 0) == -1) ||
		    buf_printf(b, ", \"created_ms\": %lld}",
		    (long long)s->created_ms) == -1)
			return -1;
	}
	if (state_put(b, st->nsecrets > 0 ? "\n ]\n}\n" : "]\n}\n") == -1)
		return -1;
	return buf_append(b, "", 1); /* the NUL */
}

int
store_save(struct store *st, char *err, size_t errsz)
{
	struct buf text;
	size_t i;
	int dfd = -1, sfd = -1, rc = -1;

	if (st->dir == NULL)
		return 0;
	buf_init(&text, STORE_STATE_MAX);
	/* values are not read here (another thread may be changing one):
	 * store_secrets_flush writes their files, and must have written
	 * each new secret's before state.json names it */
	for (i = 0; i < st->nsecrets; i++) {
		if (!st->secrets[i]->is_on_disk) {
			err_set(err, errsz, "secret '%s' has no file yet",
			    st->secrets[i]->name);
			goto out;
		}
	}
	if (state_dirs_open(st, &dfd, &sfd, err, errsz) == -1)
		goto out;
	if (state_text(st, &text) == -1) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	if (file_write_atomic(dfd, st->shown, STORE_STATE, STORE_STATE_TMP,
	    buf_ptr(&text), text.len - 1, 0600, err, errsz) == -1)
		goto out;
	st->written_generation = atomic_load(&st->generation);
	/* only now that no state.json names them */
	if (secrets_sweep(st, sfd, err, errsz) == -1)
		goto out;
	rc = 0;
out:
	buf_release(&text);
	if (sfd != -1)
		close(sfd);
	if (dfd != -1)
		close(dfd);
	return rc;
}

const char *
store_json_error_reason(const json_error_t *e)
{
	switch (json_error_code(e)) {
	case json_error_out_of_memory:
		return "out of memory";
	case json_error_stack_overflow:
		return "nested too deeply";
	case json_error_invalid_utf8:
		return "invalid UTF-8";
	case json_error_premature_end_of_input:
		return "unexpected end of input";
	case json_error_end_of_input_expected:
		return "text after the end";
	case json_error_null_character:
		return "a NUL character";
	case json_error_null_byte_in_key:
		return "a NUL byte in a key";
	case json_error_duplicate_key:
		return "a duplicate key";
	case json_error_numeric_overflow:
		return "a number out of range";
	default:
		return "invalid syntax";
	}
}

static int
state_load_secret(
    struct store *st, int sfd, const json_t *o, char *err, size_t errsz)
{
	static const char *const known[] = {
	    "name", "host", "type", "header", "created_ms", NULL};
	struct secret *s = NULL;
	const json_t *hv;
	const char *name, *host, *type, *header = NULL;
	enum secret_type t;
	char q[STORE_QUOTE_MAX + 8];
	int rc = -1;

	if (!json_is_object(o)) {
		err_set(err, errsz, "secret must be a JSON object");
		goto out;
	}
	if (json_check_keys(o, known, err, errsz) == -1)
		goto out;
	name = json_str(json_object_get(o, "name"));
	host = json_str(json_object_get(o, "host"));
	type = json_str(json_object_get(o, "type"));
	if (name == NULL || host == NULL || type == NULL) {
		err_set(err, errsz, "name, host and type must be strings");
		goto out;
	}
	if (store_secret_type_parse(type, &t) == -1) {
		err_set(err, errsz, "invalid secret type: '%s'",
		    str_quote(type, q, sizeof(q)));
		goto out;
	}
	hv = json_object_get(o, "header");
	if (hv != NULL && !json_is_null(hv)) {
		header = json_str(hv);
		if (header == NULL) {
			err_set(err, errsz, "header must be a string");
			goto out;
		}
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	if (secret_meta_set(s, name, host, t, header, err, errsz) == -1 ||
	    json_get_ms(o, "created_ms", &s->created_ms, err, errsz) == -1)
		goto out;
	if (store_secret_find(st, name) != NULL) {
		err_set(err, errsz, "duplicate secret: '%s'", name);
		goto out;
	}
	if (st->nsecrets >= LIMIT_SECRETS) {
		err_set(
		    err, errsz, "too many secrets (at most %d)", LIMIT_SECRETS);
		goto out;
	}
	if (secret_file_read(
		st->shown, sfd, s->name, s->type, &s->value, err, errsz) == -1)
		goto out;
	s->is_on_disk = 1;
	if (secret_append(st, s) == -1) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	s = NULL;
	rc = 0;
out:
	secret_free(s);
	return rc;
}

static int
state_load_client(struct store *st, const json_t *o, char *err, size_t errsz)
{
	static const char *const known[] = {
	    "name", "token_sha256", "created_ms", "rules", NULL};
	unsigned char hash[32];
	struct client *c;
	struct rule r, *nr;
	const json_t *rules, *v;
	const char *name, *tok;
	int64_t created;
	char why[256], q[STORE_QUOTE_MAX + 8];
	size_t i;

	if (!json_is_object(o)) {
		err_set(err, errsz, "client must be a JSON object");
		return -1;
	}
	if (json_check_keys(o, known, err, errsz) == -1)
		return -1;
	name = json_str(json_object_get(o, "name"));
	if (name == NULL) {
		err_set(err, errsz, "name must be a string");
		return -1;
	}
	tok = json_str(json_object_get(o, "token_sha256"));
	if (tok == NULL || hex_decode(tok, hash, sizeof(hash)) == -1) {
		err_set(err, errsz,
		    "client '%s': token_sha256 must be 64 lower-case hex "
		    "digits",
		    str_quote(name, q, sizeof(q)));
		return -1;
	}
	if (json_get_ms(o, "created_ms", &created, err, errsz) == -1)
		return -1;
	rules = json_object_get(o, "rules");
	if (rules != NULL && !json_is_array(rules)) {
		err_set(err, errsz, "rules must be an array");
		return -1;
	}
	if (json_array_size(rules) > LIMIT_RULES_PER_CLIENT) {
		err_set(err, errsz, "client '%s': too many rules (at most %d)",
		    str_quote(name, q, sizeof(q)), LIMIT_RULES_PER_CLIENT);
		return -1;
	}
	if (st->nrules_total + json_array_size(rules) > LIMIT_RULES_TOTAL) {
		err_set(err, errsz, "too many rules in all (at most %d)",
		    LIMIT_RULES_TOTAL);
		return -1;
	}
	c = client_insert(st, name, hash, created, err, errsz);
	if (c == NULL)
		return -1;
	json_array_foreach(rules, i, v)
	{
		if (rule_parse_state(v, &r, why, sizeof(why)) == -1) {
			err_set(err, errsz, "client '%s' rules[%zu]: %s",
			    c->name, i, why);
			return -1;
		}
		if (rule_find_id(st, r.id) != NULL) {
			err_set(err, errsz, "client '%s': duplicate rule id %s",
			    c->name, r.id);
			store_rule_free_fields(&r);
			return -1;
		}
		if (r.secret[0] != '\0' &&
		    store_secret_find(st, r.secret) == NULL) {
			err_set(err, errsz,
			    "client '%s' rule %s: unknown secret '%s'", c->name,
			    r.id, r.secret);
			store_rule_free_fields(&r);
			return -1;
		}
		nr = malloc(sizeof(*nr));
		if (nr == NULL || client_rule_reserve(st, c, 1) == -1) {
			free(nr);
			store_rule_free_fields(&r);
			err_set(err, errsz, "out of memory");
			return -1;
		}
		*nr = r;
		client_rule_link(st, c, nr);
	}
	return 0;
}

static int
state_load(struct store *st, int dfd, int sfd, char *err, size_t errsz)
{
	static const char *const known[] = {
	    "version", "clients", "secrets", NULL};
	char path[STORE_PATH_MAX], why[512];
	json_error_t jerr;
	json_t *root = NULL;
	const json_t *ver, *a, *v;
	struct stat sb;
	char *text = NULL;
	size_t i, got = 0;
	int fd, rc = -1;

	snprintf(path, sizeof(path), "%s/%s", st->shown, STORE_STATE);
	fd = openat(dfd, STORE_STATE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1) {
		err_set(err, errsz, "%s: %s", path,
		    errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) == -1) {
		err_set(err, errsz, "%s: %s", path, strerror(errno));
		goto out;
	}
	if (stat_check(&sb, path, 0, err, errsz) == -1)
		goto out;
	/* read whole, then parsed (json_loadfd reads a byte per call) */
	if (sb.st_size < 0 || (uint64_t)sb.st_size > STORE_STATE_MAX) {
		err_set(err, errsz, "%s: larger than %zu bytes", path,
		    STORE_STATE_MAX);
		goto out;
	}
	text = malloc((size_t)sb.st_size + 1);
	if (text == NULL) {
		err_set(err, errsz, "%s: out of memory", path);
		goto out;
	}
	while (got < (size_t)sb.st_size) {
		ssize_t n = read(fd, text + got, (size_t)sb.st_size - got);

		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			err_set(err, errsz, "%s: %s", path, n == 0 ?
			    "shorter than its size" : strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	root = json_loadb(text, got, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* jansson's text quotes the input near the error */
		err_set(err, errsz, "%s: line %d column %d: %s", path,
		    jerr.line, jerr.column, store_json_error_reason(&jerr));
		goto out;
	}
	if (!json_is_object(root)) {
		err_set(err, errsz, "%s: not a JSON object", path);
		goto out;
	}
	if (json_check_keys(root, known, why, sizeof(why)) == -1) {
		err_set(err, errsz, "%s: %s", path, why);
		goto out;
	}
	ver = json_object_get(root, "version");
	if (!json_is_integer(ver) || json_integer_value(ver) != STORE_VERSION) {
		err_set(err, errsz,
		    "%s: unsupported or missing version "
		    "(want %d)",
		    path, STORE_VERSION);
		goto out;
	}
	/* secrets first: rules name them */
	a = json_object_get(root, "secrets");
	if (a != NULL && !json_is_array(a)) {
		err_set(err, errsz, "%s: secrets must be an array", path);
		goto out;
	}
	json_array_foreach(a, i, v)
	{
		if (state_load_secret(st, sfd, v, why, sizeof(why)) == -1) {
			err_set(
			    err, errsz, "%s: secrets[%zu]: %s", path, i, why);
			goto out;
		}
	}
	a = json_object_get(root, "clients");
	if (a != NULL && !json_is_array(a)) {
		err_set(err, errsz, "%s: clients must be an array", path);
		goto out;
	}
	json_array_foreach(a, i, v)
	{
		if (state_load_client(st, v, why, sizeof(why)) == -1) {
			err_set(
			    err, errsz, "%s: clients[%zu]: %s", path, i, why);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(root);
	free(text); /* names and hashes, never a secret value */
	close(fd);
	return rc;
}

struct store *
store_open(const char *dir, char *err, size_t errsz)
{
	return store_open_as(dir, dir, err, errsz);
}

struct store *
store_open_as(const char *dir, const char *shown, char *err, size_t errsz)
{
	struct store *st;
	int dfd = -1, sfd = -1, rc = -1;

	st = calloc(1, sizeof(*st));
	if (st == NULL) {
		err_set(err, errsz, "out of memory");
		return NULL;
	}
	st->generation = 1;
	if (RAND_bytes((unsigned char *)&st->hash_seed,
	    sizeof(st->hash_seed)) != 1) {
		err_set(err, errsz, "random number generator failed");
		goto out;
	}
	if (dir == NULL)
		return st;
	if (dir[0] == '\0' || strlen(dir) >= STORE_PATH_MAX - LIMIT_NAME - 16) {
		err_set(err, errsz, "invalid state directory");
		goto out;
	}
	st->dir = strdup(dir);
	st->shown = strdup(shown != NULL ? shown : dir);
	if (st->dir == NULL || st->shown == NULL) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	if (dir_make(dir, err, errsz) == -1 ||
	    state_dirs_open(st, &dfd, &sfd, err, errsz) == -1 ||
	    state_load(st, dfd, sfd, err, errsz) == -1)
		goto out;
	rc = 0;
out:
	if (sfd != -1)
		close(sfd);
	if (dfd != -1)
		close(dfd);
	if (rc == -1) {
		store_free(st);
		return NULL;
	}
	return st;
}

void
store_free(struct store *st)
{
	size_t i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nclients; i++)
		client_free(st, st->clients[i]);
	free(st->clients);
	free(st->token_slots);
	free(st->name_slots);
	rule_table_free(&st->by_id);
	for (i = 0; i < st->nsecrets; i++)
		secret_free(st->secrets[i]);
	free(st->secrets);
	free(st->secret_slots);
	free(st->dir);
	free(st->shown);
	free(st);
}

/* ---- JSON views ---- */

json_t *
store_client_json(const struct client *c, int64_t now_ms)
{
	char ts[32];
	size_t i, n = 0;
	json_t *o;

	for (i = 0; i < c->nrules; i++) {
		if (rule_is_live(c->rules[i], now_ms))
			n++;
	}
	time_format(c->created_ms, ts, sizeof(ts));
	o = json_object();
	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "created", json_string(ts));
	json_object_set_new(o, "rules", json_integer((json_int_t)n));
	return o;
}

json_t *
store_rule_json(const struct rule *r, int64_t now_ms)
{
	char ts[32];
	json_t *o, *a;
	int64_t left;
	size_t i;

	o = json_object();
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "host", json_string(r->host));
	a = json_array();
	if (r->nports == 0) {
		json_array_append_new(a, json_integer(80));
		json_array_append_new(a, json_integer(443));
	}
	for (i = 0; i < r->nports; i++)
		json_array_append_new(a, json_integer(r->ports[i]));
	json_object_set_new(o, "ports", a);
	a = json_array();
	for (i = 0; i < r->nmethods; i++)
		json_array_append_new(a, json_string(r->methods[i]));
	json_object_set_new(o, "methods", a);
	a = json_array();
	for (i = 0; i < r->npaths; i++)
		json_array_append_new(a, json_string(r->paths[i]));
	json_object_set_new(o, "paths", a);
	json_object_set_new(o, "secret",
	    r->secret[0] != '\0' ? json_string(r->secret) : json_null());
	json_object_set_new(o, "inspect", json_boolean(r->is_inspect));
	json_object_set_new(
	    o, "allow_plaintext", json_boolean(r->is_allow_plaintext));
	time_format(r->created_ms, ts, sizeof(ts));
	json_object_set_new(o, "created", json_string(ts));
	if (r->expires_ms == 0) {
		json_object_set_new(o, "expires", json_null());
		json_object_set_new(o, "ttl_remaining_s", json_null());
	} else {
		time_format(r->expires_ms, ts, sizeof(ts));
		json_object_set_new(o, "expires", json_string(ts));
		left = r->expires_ms > now_ms
			   ? (r->expires_ms - now_ms + 999) / 1000
			   : 0;
		json_object_set_new(o, "ttl_remaining_s", json_integer(left));
	}
	return o;
}

json_t *
store_secret_json(const struct secret *s)
{
	char ts[32];
	json_t *o;

	time_format(s->created_ms, ts, sizeof(ts));
	o = json_object();
	json_object_set_new(o, "name", json_string(s->name));
	json_object_set_new(o, "host", json_string(s->host));
	json_object_set_new(
	    o, "type", json_string(store_secret_type_name(s->type)));
	json_object_set_new(o, "header",
	    s->type == SECRET_HEADER ? json_string(s->header) : json_null());
	json_object_set_new(o, "created", json_string(ts));
	return o;
}

/* ---- decisions ---- */

static int
rule_port_ok(const struct rule *r, uint16_t port)
{
	size_t i;

	if (r->nports == 0)
		return port == 80 || port == 443;
	for (i = 0; i < r->nports; i++) {
		if (r->ports[i] == port)
			return 1;
	}
	return 0;
}

static int
rule_method_ok(const struct rule *r, const char *method)
{
	size_t i;

	if (r->nmethods == 0)
		return 1;
	if (method == NULL)
		return 0;
	for (i = 0; i < r->nmethods; i++) {
		if (strcmp(r->methods[i], method) == 0)
			return 1;
	}
	return 0;
}

static int
rule_path_ok(const struct rule *r, const char *path)
{
	size_t i;

	if (r->npaths == 0)
		return 1;
	if (path == NULL)
		return 0;
	for (i = 0; i < r->npaths; i++) {
		if (match_path(r->paths[i], path))
			return 1;
	}
	return 0;
}

/* Allows a whole host: a CONNECT it matches needs no interception. */
static int
rule_is_host_level(const struct rule *r)
{
	return r->nmethods == 0 && r->npaths == 0 && r->secret[0] == '\0' &&
	       !r->is_inspect;
}

/* exact host > longer wildcard suffix > "*" */
static size_t
rule_host_rank(const struct rule *r)
{
	if (strcmp(r->host, "*") == 0)
		return 0;
	if (r->host[0] == '*')
		return strlen(r->host);
	return SIZE_MAX;
}

/* Has a secret that exists and may be sent to host. */
static int
rule_secret_usable(
    const struct store *st, const struct rule *r, const char *host)
{
	const struct secret *s;

	if (st == NULL || r->secret[0] == '\0')
		return 0;
	s = store_secret_find(st, r->secret);
	return s != NULL && match_host(s->host, host);
}

/* Is a a better match than b (NULL) for host? */
static int
rule_better(const struct store *st, const struct rule *a, const struct rule *b,
    const char *host)
{
	size_t ra, rb;
	int sa, sb;

	if (b == NULL)
		return 1;
	ra = rule_host_rank(a);
	rb = rule_host_rank(b);
	if (ra != rb)
		return ra > rb;
	sa = rule_secret_usable(st, a, host);
	sb = rule_secret_usable(st, b, host);
	if (sa != sb)
		return sa > sb;
	if (a->created_ms != b->created_ms)
		return a->created_ms < b->created_ms;
	return a->seq < b->seq;
}

/* "host:port", IPv6 literals in brackets, cut to fit a reason. */
static void
hostport_format(const char *host, uint16_t port, char *buf, size_t size)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, size, "[%.100s]:%u", host, (unsigned)port);
	else
		snprintf(buf, size, "%.100s:%u", host, (unsigned)port);
}

/*
 * Call fn for every rule of c whose host pattern can match host: the
 * patterns equal to host, "*.S" for every proper suffix ".S" of host, and
 * "*" — a handful of hash look-ups however many rules c has.  Each
 * candidate is confirmed with match_host, so the set is exactly what a scan
 * of every rule would give.  fn returns 1 to stop.
 */
static int
client_rules_for_key(const struct store *st, const struct client *c,
    const char *host, const char *key, size_t klen,
    int (*fn)(const struct rule *, void *), void *arg)
{
	const struct rule *r;
	uint64_t h = hash_str(st->hash_seed, key, klen);

	for (r = rule_table_first(&c->by_host, RULE_BY_HOST, h, key, klen);
	     r != NULL; r = rule_table_next(r, RULE_BY_HOST, key, klen)) {
		if (match_host(r->host, host) && fn(r, arg))
			return 1;
	}
	return 0;
}

static void
client_rules_for_host(const struct store *st, const struct client *c,
    const char *host, int (*fn)(const struct rule *, void *), void *arg)
{
	char lower[LIMIT_HOSTNAME + 8], wild[LIMIT_HOSTNAME + 8];
	size_t hlen, j;

	hlen = strlen(host);
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (hlen == 0 || hlen >= sizeof(lower))
		return;
	/* the patterns are canonical: lower case, no trailing dot */
	for (j = 0; j < hlen; j++)
		lower[j] = (host[j] >= 'A' && host[j] <= 'Z')
			       ? (char)(host[j] - 'A' + 'a')
			       : host[j];
	if (client_rules_for_key(st, c, host, lower, hlen, fn, arg))
		return;
	for (j = 1; j < hlen; j++) {
		if (lower[j] != '.' || lower[j - 1] == '.')
			continue;
		wild[0] = '*';
		memcpy(wild + 1, lower + j, hlen - j);
		if (client_rules_for_key(st, c, host, wild, hlen - j + 1, fn,
		    arg))
			return;
	}
	if (hlen == 1 && lower[0] == '*')
		return; /* "*" was the exact key */
	client_rules_for_key(st, c, host, "*", 1, fn, arg);
}

/*
 * For a CONNECT: a host-level rule gives a plain tunnel, unless some
 * matching rule carries a secret or asks for inspection; that one can only
 * act on an intercepted tunnel (the host-level rule still allows every
 * request inside it).
 */
struct decide_walk {
	const struct store *st;
	const struct policy_request *rq;
	int64_t now_ms;
	const struct rule *best, *plain;
	int host_hit, port_hit, method_hit, wants_intercept;
};

static int
decide_visit(const struct rule *r, void *arg)
{
	struct decide_walk *w = arg;
	const struct policy_request *rq = w->rq;

	if (!rule_is_live(r, w->now_ms))
		return 0;
	w->host_hit = 1;
	if (!rule_port_ok(r, rq->port))
		return 0;
	w->port_hit = 1;
	if (rq->is_connect) {
		if (rule_is_host_level(r) &&
		    rule_better(w->st, r, w->plain, rq->host))
			w->plain = r;
		if (r->secret[0] != '\0' || r->is_inspect)
			w->wants_intercept = 1;
	} else {
		if (!rule_method_ok(r, rq->method))
			return 0;
		w->method_hit = 1;
		if (!rule_path_ok(r, rq->path))
			return 0;
	}
	if (rule_better(w->st, r, w->best, rq->host))
		w->best = r;
	return 0;
}

void
store_decide(const struct store *st, const struct client *c,
    const struct policy_request *rq, int64_t now_ms, struct policy_verdict *v)
{
	struct decide_walk w;
	char hp[128], q[STORE_QUOTE_MAX + 8];

	memset(v, 0, sizeof(*v));
	if (c == NULL || rq == NULL || rq->host == NULL) {
		snprintf(v->reason, sizeof(v->reason), "no client");
		return;
	}
	memset(&w, 0, sizeof(w));
	w.st = st;
	w.rq = rq;
	w.now_ms = now_ms;
	client_rules_for_host(st, c, rq->host, decide_visit, &w);
	if (w.best != NULL) {
		v->is_allowed = 1;
		v->rule = w.best;
		if (rq->is_connect) {
			if (w.plain != NULL && !w.wants_intercept)
				v->rule = w.plain;
			else
				v->needs_intercept = 1;
		}
		snprintf(v->reason, sizeof(v->reason), "allowed by rule %s%s",
		    v->rule->id, v->needs_intercept ? " (intercept)" : "");
		return;
	}
	if (!w.host_hit) {
		hostport_format(rq->host, rq->port, hp, sizeof(hp));
		snprintf(v->reason, sizeof(v->reason), "no rule allows %s", hp);
	} else if (!w.port_hit) {
		snprintf(v->reason, sizeof(v->reason),
		    "port %u not allowed for %.100s", (unsigned)rq->port,
		    rq->host);
	} else if (!w.method_hit) {
		snprintf(v->reason, sizeof(v->reason),
		    "method %s not allowed for %.100s",
		    str_quote(rq->method, q, sizeof(q)), rq->host);
	} else {
		snprintf(v->reason, sizeof(v->reason),
		    "path %s not allowed for %.80s",
		    str_quote(rq->path, q, sizeof(q)), rq->host);
	}
}

struct live_walk {
	int64_t now_ms;
	int is_found;
};

static int
live_visit(const struct rule *r, void *arg)
{
	struct live_walk *w = arg;

	if (!rule_is_live(r, w->now_ms))
		return 0;
	w->is_found = 1;
	return 1;
}

int
store_host_allowed(const struct store *st, const struct client *c,
    const char *host, int64_t now_ms)
{
	struct live_walk w = {.now_ms = now_ms};

	if (st == NULL || c == NULL || host == NULL)
		return 0;
	client_rules_for_host(st, c, host, live_visit, &w);
	return w.is_found;
}
