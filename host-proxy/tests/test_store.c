/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_store.c - unit tests for the policy store: rule parsing, decisions,
 * tokens, rule and secret bookkeeping, JSON views, and the state directory
 * (round trip, file modes, refusals, corrupt files, kill -9 during saves).
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "slicer_limits.h"
#include "match.h"
#include "secmem.h"
#include "store.h"

#define NOW 1796046000000LL /* 2026-11-30T13:40:00Z */

/* ---- helpers ---- */

static void
token_hash(const char *token, unsigned char out[32])
{
	unsigned int len = 0;

	assert_int_equal(
	    EVP_Digest(token, strlen(token), out, &len, EVP_sha256(), NULL), 1);
	assert_int_equal(len, 32);
}

static struct client *
client_new(struct store *st, const char *name, const char *token)
{
	unsigned char h[32];
	char err[256] = "";

	token_hash(token, h);
	assert_int_equal(
	    store_client_add(st, name, h, NOW, err, sizeof(err)), 0);
	return store_client_find(st, name);
}

/* Parse a rule from JSON text: the return of store_rule_parse_json. */
static int
rule_parse_text(
    const char *text, int64_t now, struct rule *r, char *err, size_t errsz)
{
	json_error_t jerr;
	json_t *o;
	int rc;

	o = json_loads(text, JSON_ALLOW_NUL, &jerr);
	if (o == NULL)
		fail_msg("bad test JSON %s: %s", text, jerr.text);
	rc = store_rule_parse_json(o, now, r, err, errsz);
	json_decref(o);
	return rc;
}

/* Parse and add a rule; returns the stored rule. */
static const struct rule *
rule_new(struct store *st, struct client *c, const char *text, int64_t now)
{
	struct rule r;
	char err[256] = "", id[16];

	if (rule_parse_text(text, now, &r, err, sizeof(err)) != 0)
		fail_msg("rule %s: %s", text, err);
	if (store_rule_add(st, c, &r, id, err, sizeof(err)) != 0)
		fail_msg("rule add %s: %s", text, err);
	store_rule_free_fields(&r);
	assert_string_equal(c->rules[c->nrules - 1]->id, id);
	return c->rules[c->nrules - 1];
}

static void
secret_new(struct store *st, const char *name, const char *host,
    enum secret_type t, const char *header, const char *value)
{
	char err[256] = "";

	if (store_secret_add(st, name, host, t, header, value, strlen(value),
		NOW, err, sizeof(err)) != 0)
		fail_msg("secret %s: %s", name, err);
}

/* What the daemon's proxy_save does: value files first, then state.json. */
static int
commit(struct store *st, char *err, size_t errsz)
{
	if (store_secrets_flush(st, NULL, NULL, NULL, err, errsz) == -1)
		return -1;
	return store_save(st, err, errsz);
}

static char *
tmpdir_new(void)
{
	char tmpl[] = "/tmp/test_store.XXXXXX";
	char *d = mkdtemp(tmpl);

	assert_non_null(d);
	d = strdup(d);
	assert_non_null(d);
	return d;
}

static void
tmpdir_remove(char *d)
{
	char cmd[512];

	/* only ever a mkdtemp directory under /tmp made above */
	assert_true(strncmp(d, "/tmp/test_store.", 16) == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	assert_int_equal(system(cmd), 0);
	free(d);
}

static void
file_put(const char *dir, const char *name, const char *text, mode_t mode)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static mode_t
path_mode(const char *dir, const char *name)
{
	char path[1024];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_int_equal(lstat(path, &sb), 0);
	return sb.st_mode & 07777;
}

static int
path_exists(const char *dir, const char *name)
{
	char path[1024];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return lstat(path, &sb) == 0;
}

static void
verdict_get(const struct store *st, const struct client *c, const char *method,
    const char *host, uint16_t port, const char *path, int64_t now,
    struct policy_verdict *v)
{
	struct policy_request rq = {
	    .host = host,
	    .port = port,
	    .method = method,
	    .path = path,
	    .is_connect = method == NULL,
	};

	store_decide(st, c, &rq, now, v);
}

/* ---- names ---- */

static void
test_name_valid(void **state)
{
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
	    {"a", 1},
	    {"vm1", 1},
	    {"A.b_c-9", 1},
	    {"0", 1},
	    {"", 0},
	    {"-a", 0},
	    {".a", 0},
	    {"_a", 0},
	    {"a/b", 0},
	    {"a b", 0},
	    {"a\nb", 0},
	    {"a:b", 0},
	    {"ä", 0},
	};
	char name[80];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(store_name_valid(cases[i].name), cases[i].ok);
	assert_int_equal(store_name_valid(NULL), 0);
	/* 63 characters at most */
	memset(name, 'x', sizeof(name));
	name[63] = '\0';
	assert_int_equal(store_name_valid(name), 1);
	name[63] = 'x';
	name[64] = '\0';
	assert_int_equal(store_name_valid(name), 0);
}

/* ---- rule parsing ---- */

static void
test_rule_parse_full(void **state)
{
	struct rule r;
	char err[256] = "";

	(void)state;
	assert_int_equal(rule_parse_text("{\"host\": \"API.Example.COM.\", "
					 "\"ports\": [443, 8443, 443], "
					 "\"methods\": [\"post\", \"GET\", "
					 "\"Post\"], \"paths\": [\"/v1/*\", "
					 "\"/v2/x\", \"/v1/*\"], \"ttl\": "
					 "\"10m\", \"secret\": \"llama\", "
					 "\"inspect\": true, "
					 "\"allow_plaintext\": true}",
			     NOW, &r, err, sizeof(err)),
	    0);
	assert_string_equal(r.host, "api.example.com");
	assert_int_equal(r.nports, 2);
	assert_int_equal(r.ports[0], 443);
	assert_int_equal(r.ports[1], 8443);
	assert_int_equal(r.nmethods, 2);
	assert_string_equal(r.methods[0], "POST");
	assert_string_equal(r.methods[1], "GET");
	assert_int_equal(r.npaths, 2);
	assert_string_equal(r.paths[0], "/v1/*");
	assert_string_equal(r.paths[1], "/v2/x");
	assert_string_equal(r.secret, "llama");
	assert_int_equal(r.is_inspect, 1);
	assert_int_equal(r.is_allow_plaintext, 1);
	assert_true(r.created_ms == NOW);
	assert_true(r.expires_ms == NOW + 600000);
	assert_string_equal(r.id, "");
	store_rule_free_fields(&r);
	assert_int_equal(r.npaths, 0);
	/* a second free is harmless */
	store_rule_free_fields(&r);
}

static void
test_rule_parse_minimal(void **state)
{
	struct rule r;
	char err[256] = "";

	(void)state;
	assert_int_equal(rule_parse_text("{\"host\": \"*.Example.com\"}", NOW,
			     &r, err, sizeof(err)),
	    0);
	assert_string_equal(r.host, "*.example.com");
	assert_int_equal(r.nports, 0);
	assert_int_equal(r.nmethods, 0);
	assert_int_equal(r.npaths, 0);
	assert_string_equal(r.secret, "");
	assert_int_equal(r.is_inspect, 0);
	assert_int_equal(r.is_allow_plaintext, 0);
	assert_true(r.expires_ms == 0);
	store_rule_free_fields(&r);

	assert_int_equal(rule_parse_text("{\"host\": \"*\", \"ports\": [], "
					 "\"methods\": [], \"paths\": [], "
					 "\"inspect\": false}",
			     NOW, &r, err, sizeof(err)),
	    0);
	assert_string_equal(r.host, "*");
	store_rule_free_fields(&r);

	/* IPv6 literals are kept without brackets */
	assert_int_equal(rule_parse_text("{\"host\": \"[2001:DB8::1]\"}", NOW,
			     &r, err, sizeof(err)),
	    0);
	assert_string_equal(r.host, "2001:db8::1");
	store_rule_free_fields(&r);
	assert_int_equal(rule_parse_text("{\"host\": \"2001:DB8:0::1\"}", NOW,
			     &r, err, sizeof(err)),
	    0);
	assert_string_equal(r.host, "2001:db8::1");
	store_rule_free_fields(&r);
}

static void
test_rule_parse_ttl(void **state)
{
	static const struct {
		const char *json;
		int64_t ttl_ms; /* -1: error */
		const char *msg;
	} cases[] = {
	    {"{\"host\":\"a.test\",\"ttl\":\"10m\"}", 600000, NULL},
	    {"{\"host\":\"a.test\",\"ttl\":\"1h30m\"}", 5400000, NULL},
	    {"{\"host\":\"a.test\",\"ttl\":\"500ms\"}", 500, NULL},
	    {"{\"host\":\"a.test\",\"ttl\":\"90\"}", 90000, NULL},
	    {"{\"host\":\"a.test\",\"ttl\":\"366d\"}", 366LL * 86400000, NULL},
	    {"{\"host\":\"a.test\",\"ttl_seconds\":600}", 600000, NULL},
	    {"{\"host\":\"a.test\",\"ttl_seconds\":31622400}", 31622400000LL,
		NULL},
	    {"{\"host\":\"a.test\",\"ttl_seconds\":31622401}", -1,
		"invalid ttl_seconds: 31622401"},
	    {"{\"host\":\"a.test\",\"ttl\":\"banana\"}", -1,
		"invalid ttl: 'banana'"},
	    {"{\"host\":\"a.test\",\"ttl\":\"367d\"}", -1,
		"invalid ttl: '367d'"},
	    {"{\"host\":\"a.test\",\"ttl\":\"0s\"}", -1, "invalid ttl: '0s'"},
	    {"{\"host\":\"a.test\",\"ttl\":\"\"}", -1, "invalid ttl: ''"},
	    {"{\"host\":\"a.test\",\"ttl\":600}", -1,
		"invalid ttl: not a string"},
	    {"{\"host\":\"a.test\",\"ttl_seconds\":0}", -1,
		"invalid ttl_seconds: 0"},
	    {"{\"host\":\"a.test\",\"ttl_seconds\":-5}", -1,
		"invalid ttl_seconds: -5"},
	    {"{\"host\":\"a.test\",\"ttl_seconds\":\"600\"}", -1,
		"invalid ttl_seconds: not an integer"},
	    {"{\"host\":\"a.test\",\"ttl_seconds\":1.5}", -1,
		"invalid ttl_seconds: not an integer"},
	    {"{\"host\":\"a.test\",\"ttl\":\"10m\",\"ttl_seconds\":600}", -1,
		"not both"},
	};
	struct rule r;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (cases[i].ttl_ms < 0) {
			if (rule_parse_text(
				cases[i].json, NOW, &r, err, sizeof(err)) != -1)
				fail_msg("accepted %s", cases[i].json);
			if (strstr(err, cases[i].msg) == NULL)
				fail_msg("%s: error '%s', want '%s'",
				    cases[i].json, err, cases[i].msg);
			store_rule_free_fields(&r);
			continue;
		}
		if (rule_parse_text(cases[i].json, NOW, &r, err, sizeof(err)) !=
		    0)
			fail_msg("%s: %s", cases[i].json, err);
		assert_true(r.expires_ms == NOW + cases[i].ttl_ms);
		store_rule_free_fields(&r);
	}
}

static void
test_rule_parse_invalid(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
	    {"[]", "JSON object"},
	    {"{}", "host is required"},
	    {"{\"ports\":[443]}", "host is required"},
	    {"{\"host\":\"a.test\",\"colour\":1}", "unknown key: 'colour'"},
	    {"{\"host\":\"a.test\",\"Host\":\"b.test\"}",
		"unknown key: 'Host'"},
	    {"{\"host\":\"a.test\",\"id\":\"r000000000000\"}",
		"unknown key: 'id'"},
	    {"{\"host\":5}", "invalid host: not a string"},
	    {"{\"host\":null}", "invalid host: not a string"},
	    {"{\"host\":\"\"}", "invalid host: ''"},
	    {"{\"host\":\"bad host\"}", "invalid host: 'bad host'"},
	    {"{\"host\":\"*.\"}", "invalid host: '*.'"},
	    {"{\"host\":\"*.*.x\"}", "invalid host: '*.*.x'"},
	    {"{\"host\":\"a.*.x\"}", "invalid host: 'a.*.x'"},
	    {"{\"host\":\"a.test\\u0000b\"}", "invalid host: not a string"},
	    {"{\"host\":\"a.test\",\"ports\":[70000]}", "invalid port: 70000"},
	    {"{\"host\":\"a.test\",\"ports\":[0]}", "invalid port: 0"},
	    {"{\"host\":\"a.test\",\"ports\":[-1]}", "invalid port: -1"},
	    {"{\"host\":\"a.test\",\"ports\":[65536]}", "invalid port: 65536"},
	    {"{\"host\":\"a.test\",\"ports\":[\"443\"]}",
		"invalid port: '443'"},
	    {"{\"host\":\"a.test\",\"ports\":[443.0]}",
		"invalid port: not an integer"},
	    {"{\"host\":\"a.test\",\"ports\":[true]}",
		"invalid port: not an integer"},
	    {"{\"host\":\"a.test\",\"ports\":443}", "ports must be an array"},
	    {"{\"host\":\"a.test\",\"methods\":\"GET\"}",
		"methods must be an array"},
	    {"{\"host\":\"a.test\",\"methods\":[\"GE T\"]}",
		"invalid method: 'GE T'"},
	    {"{\"host\":\"a.test\",\"methods\":[\"\"]}", "invalid method: ''"},
	    {"{\"host\":\"a.test\",\"methods\":[\"G(ET\"]}",
		"invalid method: 'G(ET'"},
	    {"{\"host\":\"a.test\",\"methods\":[\"GET\\n\"]}",
		"invalid method: 'GET?'"},
	    {"{\"host\":\"a.test\",\"methods\":[1]}",
		"invalid method: not a string"},
	    {"{\"host\":\"a.test\",\"paths\":\"/x\"}",
		"paths must be an array"},
	    {"{\"host\":\"a.test\",\"paths\":[\"v1\"]}", "invalid path: 'v1'"},
	    {"{\"host\":\"a.test\",\"paths\":[\"\"]}", "invalid path: ''"},
	    {"{\"host\":\"a.test\",\"paths\":[\"/a b\"]}",
		"invalid path: '/a b'"},
	    {"{\"host\":\"a.test\",\"paths\":[\"/a\\\\b\"]}",
		"invalid path: '/a\\b'"},
	    {"{\"host\":\"a.test\",\"paths\":[\"/a/../b\"]}",
		"invalid path: '/a/../b'"},
	    {"{\"host\":\"a.test\",\"paths\":[\"/a?q=1\"]}",
		"invalid path: '/a?q=1'"},
	    {"{\"host\":\"a.test\",\"paths\":[\"/%00\"]}",
		"invalid path: '/%00'"},
	    {"{\"host\":\"a.test\",\"paths\":[null]}",
		"invalid path: not a string"},
	    {"{\"host\":\"a.test\",\"secret\":\"\"}",
		"invalid secret name: ''"},
	    {"{\"host\":\"a.test\",\"secret\":\"../x\"}",
		"invalid secret name: '../x'"},
	    {"{\"host\":\"a.test\",\"secret\":7}",
		"invalid secret name: not a string"},
	    {"{\"host\":\"a.test\",\"secret\":null}",
		"invalid secret name: not a string"},
	    {"{\"host\":\"a.test\",\"inspect\":1}",
		"inspect must be true or false"},
	    {"{\"host\":\"a.test\",\"inspect\":\"true\"}",
		"inspect must be true or false"},
	    {"{\"host\":\"a.test\",\"allow_plaintext\":null}",
		"allow_plaintext must be true or false"},
	    {"{\"host\":\"a.test\",\"paths\":[\"/ok\"],\"ttl\":\"x\"}",
		"invalid ttl: 'x'"},
	};
	struct rule r;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (rule_parse_text(cases[i].json, NOW, &r, err, sizeof(err)) !=
		    -1)
			fail_msg("accepted %s", cases[i].json);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("%s: error '%s', want '%s'", cases[i].json,
			    err, cases[i].msg);
		store_rule_free_fields(&r);
	}
}

/* A long bad value is cut in the message; control bytes are masked. */
static void
test_rule_parse_error_quoting(void **state)
{
	char json[600], host[300], err[256] = "";
	struct rule r;

	(void)state;
	memset(host, 'a', 299);
	host[299] = '\0';
	host[10] = ' ';
	snprintf(json, sizeof(json), "{\"host\":\"%s\"}", host);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid host: 'aaaaaaaaaa aaa"));
	assert_non_null(strstr(err, "...'"));
	assert_true(strlen(err) < 100);
	assert_int_equal(rule_parse_text("{\"host\":\"a\\u001bb\"}", NOW, &r,
			     err, sizeof(err)),
	    -1);
	assert_string_equal(err, "invalid host: 'a?b'");
}

/* "[pre1post,pre2post,...]" with n entries */
static void
json_list(char *buf, size_t size, const char *pre, const char *post, size_t n)
{
	size_t i, o = 0;

	o += (size_t)snprintf(buf + o, size - o, "[");
	for (i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, size - o, "%s%s%zu%s",
		    i ? "," : "", pre, i + 1, post);
	snprintf(buf + o, size - o, "]");
	assert_true(o + 1 < size);
}

static void
test_rule_parse_limits(void **state)
{
	char list[4096], json[LIMIT_PATH + 4200], err[256], m[64];
	char *path;
	struct rule r;

	(void)state;
	/* ports: at and past LIMIT_RULE_PORTS */
	json_list(list, sizeof(list), "", "", LIMIT_RULE_PORTS);
	snprintf(
	    json, sizeof(json), "{\"host\":\"a.test\",\"ports\":%s}", list);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), 0);
	assert_int_equal(r.nports, LIMIT_RULE_PORTS);
	store_rule_free_fields(&r);
	json_list(list, sizeof(list), "", "", LIMIT_RULE_PORTS + 1);
	snprintf(
	    json, sizeof(json), "{\"host\":\"a.test\",\"ports\":%s}", list);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many ports"));
	store_rule_free_fields(&r);

	/* methods */
	json_list(list, sizeof(list), "\"M", "\"", LIMIT_RULE_METHODS);
	snprintf(
	    json, sizeof(json), "{\"host\":\"a.test\",\"methods\":%s}", list);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), 0);
	assert_int_equal(r.nmethods, LIMIT_RULE_METHODS);
	store_rule_free_fields(&r);
	json_list(list, sizeof(list), "\"M", "\"", LIMIT_RULE_METHODS + 1);
	snprintf(
	    json, sizeof(json), "{\"host\":\"a.test\",\"methods\":%s}", list);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many methods"));
	store_rule_free_fields(&r);

	/* method length: LIMIT_METHOD - 1 characters fit */
	memset(m, 'X', sizeof(m));
	m[LIMIT_METHOD - 1] = '\0';
	snprintf(json, sizeof(json),
	    "{\"host\":\"a.test\",\"methods\":[\"%s\"]}", m);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), 0);
	assert_string_equal(r.methods[0], m);
	store_rule_free_fields(&r);
	m[LIMIT_METHOD - 1] = 'X';
	m[LIMIT_METHOD] = '\0';
	snprintf(json, sizeof(json),
	    "{\"host\":\"a.test\",\"methods\":[\"%s\"]}", m);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid method"));
	store_rule_free_fields(&r);

	/* paths (all allocated ones freed on the error path: ASan) */
	json_list(list, sizeof(list), "\"/p", "\"", LIMIT_RULE_PATHS);
	snprintf(
	    json, sizeof(json), "{\"host\":\"a.test\",\"paths\":%s}", list);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), 0);
	assert_int_equal(r.npaths, LIMIT_RULE_PATHS);
	assert_string_equal(r.paths[LIMIT_RULE_PATHS - 1], "/p32");
	store_rule_free_fields(&r);
	json_list(list, sizeof(list), "\"/p", "\"", LIMIT_RULE_PATHS + 1);
	snprintf(
	    json, sizeof(json), "{\"host\":\"a.test\",\"paths\":%s}", list);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many paths"));
	store_rule_free_fields(&r);
	json_list(list, sizeof(list), "\"/p", "\"", 3);
	snprintf(json, sizeof(json),
	    "{\"host\":\"a.test\",\"paths\":%s,\"ttl\":\"never\"}", list);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), -1);
	store_rule_free_fields(&r);

	/* path length: LIMIT_PATH bytes and one more */
	path = malloc(LIMIT_PATH + 2);
	assert_non_null(path);
	memset(path, 'p', LIMIT_PATH + 1);
	path[0] = '/';
	path[LIMIT_PATH] = '\0';
	snprintf(json, sizeof(json), "{\"host\":\"a.test\",\"paths\":[\"%s\"]}",
	    path);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), 0);
	assert_int_equal(strlen(r.paths[0]), LIMIT_PATH);
	store_rule_free_fields(&r);
	path[LIMIT_PATH] = 'p';
	path[LIMIT_PATH + 1] = '\0';
	snprintf(json, sizeof(json), "{\"host\":\"a.test\",\"paths\":[\"%s\"]}",
	    path);
	assert_int_equal(rule_parse_text(json, NOW, &r, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid path: '/ppp"));
	store_rule_free_fields(&r);
	free(path);

	/* port bounds */
	assert_int_equal(rule_parse_text("{\"host\":\"a.test\",\"ports\":[1,"
					 "65535]}",
			     NOW, &r, err, sizeof(err)),
	    0);
	assert_int_equal(r.ports[0], 1);
	assert_int_equal(r.ports[1], 65535);
	store_rule_free_fields(&r);
}

/* ---- rule bookkeeping ---- */

static void
test_rule_add_ids(void **state)
{
	struct store *st;
	struct client *c, *d;
	struct rule r;
	char err[256] = "", id[16];
	uint64_t gen;
	size_t i, j, k;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "tok-1");
	d = client_new(st, "vm2", "tok-2");
	for (i = 0; i < 200; i++)
		rule_new(st, i % 2 ? c : d, "{\"host\":\"a.test\"}", NOW);
	for (i = 0; i < c->nrules; i++) {
		const char *s = c->rules[i]->id;

		assert_int_equal(strlen(s), 13);
		assert_int_equal(s[0], 'r');
		for (k = 1; k < 13; k++)
			assert_non_null(strchr("0123456789abcdef", s[k]));
		for (j = 0; j < d->nrules; j++)
			assert_string_not_equal(s, d->rules[j]->id);
		for (j = i + 1; j < c->nrules; j++)
			assert_string_not_equal(s, c->rules[j]->id);
	}

	/* add takes the paths; the caller's copy owns nothing after */
	assert_int_equal(rule_parse_text("{\"host\":\"b.test\",\"paths\":[\"/"
					 "x\"]}",
			     NOW, &r, err, sizeof(err)),
	    0);
	gen = st->generation;
	assert_int_equal(store_rule_add(st, c, &r, id, err, sizeof(err)), 0);
	assert_int_equal(r.npaths, 0);
	assert_null(r.paths);
	assert_null(r.host);
	store_rule_free_fields(&r);
	assert_true(st->generation > gen);
	assert_string_equal(c->rules[c->nrules - 1]->id, id);
	assert_string_equal(c->rules[c->nrules - 1]->paths[0], "/x");
	store_free(st);
}

static void
test_rule_add_errors(void **state)
{
	struct store *st;
	struct client *c;
	struct rule r;
	char err[256] = "", id[16];
	uint64_t gen;
	size_t i;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "tok");

	/* a named secret must exist; paths are freed on failure too */
	assert_int_equal(rule_parse_text("{\"host\":\"a.test\",\"secret\":"
					 "\"nope\",\"paths\":[\"/a\"]}",
			     NOW, &r, err, sizeof(err)),
	    0);
	gen = st->generation;
	assert_int_equal(store_rule_add(st, c, &r, id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown secret: 'nope'"));
	assert_int_equal(r.npaths, 0);
	store_rule_free_fields(&r);
	assert_int_equal(c->nrules, 0);
	assert_true(st->generation == gen);

	/* LIMIT_RULES_PER_CLIENT rules fit, one more does not */
	for (i = 0; i < LIMIT_RULES_PER_CLIENT; i++)
		rule_new(st, c, "{\"host\":\"a.test\"}", NOW);
	assert_int_equal(c->nrules, LIMIT_RULES_PER_CLIENT);
	assert_int_equal(
	    rule_parse_text("{\"host\":\"a.test\"}", NOW, &r, err, sizeof(err)),
	    0);
	assert_int_equal(store_rule_add(st, c, &r, id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many rules"));
	store_rule_free_fields(&r);
	assert_int_equal(c->nrules, LIMIT_RULES_PER_CLIENT);
	store_free(st);
}

static void
test_rule_delete(void **state)
{
	struct store *st;
	struct client *c, *d;
	const struct rule *r1;
	char err[256] = "", id[16];
	uint64_t gen;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "t1");
	d = client_new(st, "vm2", "t2");
	r1 = rule_new(st, c, "{\"host\":\"a.test\"}", NOW);
	memcpy(id, r1->id, sizeof(id));
	rule_new(st, c, "{\"host\":\"b.test\"}", NOW);
	rule_new(st, c, "{\"host\":\"A.test\",\"ports\":[8080]}", NOW);
	rule_new(st, c, "{\"host\":\"*.a.test\"}", NOW);
	rule_new(st, d, "{\"host\":\"a.test\"}", NOW);

	/* by id: only that client's rule */
	gen = st->generation;
	assert_int_equal(store_rule_delete(st, d, id), 0);
	assert_true(st->generation == gen);
	assert_int_equal(store_rule_delete(st, c, id), 1);
	assert_true(st->generation > gen);
	assert_int_equal(store_rule_delete(st, c, id), 0);
	assert_int_equal(c->nrules, 3);

	/* by host: exact pattern only, given in any spelling */
	gen = st->generation;
	assert_int_equal(store_rule_delete_host(st, c, "nothing.test"), 0);
	assert_true(st->generation == gen);
	assert_int_equal(store_rule_delete_host(st, c, "A.TEST."), 1);
	assert_true(st->generation > gen);
	assert_int_equal(c->nrules, 2);
	assert_string_equal(c->rules[0]->host, "b.test");
	assert_string_equal(c->rules[1]->host, "*.a.test");
	assert_int_equal(d->nrules, 1);

	/* all */
	gen = st->generation;
	assert_int_equal(store_rule_delete_all(st, c), 2);
	assert_true(st->generation > gen);
	gen = st->generation;
	assert_int_equal(store_rule_delete_all(st, c), 0);
	assert_true(st->generation == gen);
	assert_int_equal(d->nrules, 1);
	store_free(st);
}

static void
test_expire(void **state)
{
	struct store *st;
	struct client *c, *d;
	char err[256] = "";
	uint64_t gen;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	assert_true(store_next_expiry(st) == 0);
	c = client_new(st, "vm1", "t1");
	d = client_new(st, "vm2", "t2");
	rule_new(st, c, "{\"host\":\"a.test\"}", NOW);
	assert_true(store_next_expiry(st) == 0);
	rule_new(st, c, "{\"host\":\"b.test\",\"ttl_seconds\":60}", NOW);
	rule_new(st, d, "{\"host\":\"c.test\",\"ttl_seconds\":30}", NOW);
	rule_new(st, d, "{\"host\":\"d.test\",\"ttl\":\"2m\"}", NOW);
	assert_true(store_next_expiry(st) == NOW + 30000);

	gen = st->generation;
	assert_int_equal(store_expire(st, NOW + 29999), 0);
	assert_true(st->generation == gen);
	/* expires_ms <= now goes */
	assert_int_equal(store_expire(st, NOW + 30000), 1);
	assert_true(st->generation > gen);
	assert_true(store_next_expiry(st) == NOW + 60000);
	assert_int_equal(store_expire(st, NOW + 1000000), 2);
	assert_true(store_next_expiry(st) == 0);
	assert_int_equal(c->nrules, 1);
	assert_string_equal(c->rules[0]->host, "a.test");
	assert_int_equal(d->nrules, 0);
	store_free(st);
}

/* ---- clients and tokens ---- */

static void
test_client_add_delete(void **state)
{
	struct store *st;
	unsigned char h[32];
	char err[256] = "", name[32];
	uint64_t gen;
	size_t i;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	token_hash("t", h);
	gen = st->generation;
	assert_int_equal(
	    store_client_add(st, "vm1", h, NOW, err, sizeof(err)), 0);
	assert_true(st->generation > gen);
	assert_non_null(store_client_find(st, "vm1"));
	assert_null(store_client_find(st, "vm2"));
	assert_true(store_client_find(st, "vm1")->created_ms == NOW);

	assert_int_equal(
	    store_client_add(st, "vm1", h, NOW, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "client already exists: 'vm1'"));
	assert_int_equal(
	    store_client_add(st, "bad name", h, NOW, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid client name: 'bad name'"));
	/* the same token twice would be ambiguous */
	assert_int_equal(
	    store_client_add(st, "vm2", h, NOW, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "token already in use"));

	gen = st->generation;
	assert_int_equal(store_client_delete(st, "nope"), -1);
	assert_true(st->generation == gen);
	assert_int_equal(store_client_delete(st, "vm1"), 0);
	assert_true(st->generation > gen);
	assert_null(store_client_find(st, "vm1"));

	/* LIMIT_CLIENTS fit, one more does not */
	for (i = 0; i < LIMIT_CLIENTS; i++) {
		snprintf(name, sizeof(name), "c%zu", i);
		memset(h, 0, sizeof(h));
		memcpy(h, &i, sizeof(i));
		assert_int_equal(
		    store_client_add(st, name, h, NOW, err, sizeof(err)), 0);
	}
	h[31] = 1;
	assert_int_equal(
	    store_client_add(st, "onemore", h, NOW, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many clients"));
	store_free(st);
}

static void
test_client_by_token(void **state)
{
	struct store *st;
	struct client *a, *b;
	char err[256] = "";
	const char *ta = "spi_0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
	const char *tb = "spi_ZYXWVUTSRQPONMLKJIHGFEDCBAzyxwvutsrqponmlkji";

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	assert_null(store_client_by_token(st, ta, strlen(ta)));
	a = client_new(st, "vm1", ta);
	b = client_new(st, "vm2", tb);
	assert_ptr_equal(store_client_by_token(st, ta, strlen(ta)), a);
	assert_ptr_equal(store_client_by_token(st, tb, strlen(tb)), b);
	/* wrong, prefix, longer, one byte changed, empty */
	assert_null(store_client_by_token(st, "spi_x", 5));
	assert_null(store_client_by_token(st, ta, strlen(ta) - 1));
	assert_null(store_client_by_token(st, ta, 4));
	assert_null(store_client_by_token(st, "", 0));
	assert_null(store_client_by_token(st, NULL, 0));
	{
		char t[64];

		snprintf(t, sizeof(t), "%sX", ta);
		assert_null(store_client_by_token(st, t, strlen(t)));
		snprintf(t, sizeof(t), "%s", ta);
		t[strlen(t) - 1] ^= 1;
		assert_null(store_client_by_token(st, t, strlen(t)));
	}
	/* the length given counts, not a NUL */
	{
		char t[128];

		snprintf(t, sizeof(t), "%s-trailing", ta);
		assert_ptr_equal(store_client_by_token(st, t, strlen(ta)), a);
	}
	assert_int_equal(store_client_delete(st, "vm1"), 0);
	assert_null(store_client_by_token(st, ta, strlen(ta)));
	assert_ptr_equal(store_client_by_token(st, tb, strlen(tb)), b);
	store_free(st);
}

/* ---- secrets ---- */

static void
test_secret_add(void **state)
{
	struct store *st;
	struct secret *s;
	char err[256] = "";
	uint64_t gen;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	gen = st->generation;
	assert_int_equal(
	    store_secret_add(st, "llama", "API.test.", SECRET_BEARER, NULL,
		"abc\n", 4, NOW, err, sizeof(err)),
	    0);
	assert_true(st->generation > gen);
	s = store_secret_find(st, "llama");
	assert_non_null(s);
	assert_string_equal(s->host, "api.test");
	assert_int_equal(s->type, SECRET_BEARER);
	assert_string_equal(s->header, "");
	assert_int_equal(s->value->len, 3);
	assert_memory_equal(s->value->p, "abc", 3);
	assert_true(s->created_ms == NOW);
	assert_null(store_secret_find(st, "other"));

	assert_int_equal(
	    store_secret_add(st, "llama", "api.test", SECRET_BEARER, NULL, "x",
		1, NOW, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "secret already exists: 'llama'"));
	/* a secret's host may be a wildcard */
	assert_int_equal(
	    store_secret_add(st, "wild", "*.Example.com", SECRET_HEADER,
		"X-Api-Key", "k", 1, NOW, err, sizeof(err)),
	    0);
	s = store_secret_find(st, "wild");
	assert_string_equal(s->host, "*.example.com");
	assert_string_equal(s->header, "X-Api-Key");
	assert_int_equal(store_secret_add(st, "basic", "a.test", SECRET_BASIC,
			     "", "user:pass\r\n", 11, NOW, err, sizeof(err)),
	    0);
	s = store_secret_find(st, "basic");
	assert_int_equal(s->value->len, 9);
	assert_memory_equal(s->value->p, "user:pass", 9);
	assert_int_equal(st->nsecrets, 3);
	store_free(st);
}

static void
test_secret_invalid(void **state)
{
	static const struct {
		const char *name, *host;
		enum secret_type type;
		const char *header;
		const char *value;
		size_t len;
		const char *msg;
	} cases[] = {
	    {"bad/name", "a.test", SECRET_BEARER, NULL, "v", 1,
		"invalid secret name"},
	    {"", "a.test", SECRET_BEARER, NULL, "v", 1, "invalid secret name"},
	    {"n", "bad host", SECRET_BEARER, NULL, "v", 1,
		"invalid host: 'bad host'"},
	    {"n", "", SECRET_BEARER, NULL, "v", 1, "invalid host"},
	    {"n", "a.test", SECRET_HEADER, NULL, "v", 1, "needs a header name"},
	    {"n", "a.test", SECRET_HEADER, "", "v", 1, "needs a header name"},
	    {"n", "a.test", SECRET_HEADER, "X Key", "v", 1,
		"invalid header name: 'X Key'"},
	    {"n", "a.test", SECRET_HEADER, "X-Key:", "v", 1,
		"invalid header name"},
	    {"n", "a.test", SECRET_HEADER, "Host", "v", 1,
		"invalid header name: 'Host'"},
	    {"n", "a.test", SECRET_HEADER, "content-length", "v", 1,
		"invalid header name"},
	    {"n", "a.test", SECRET_HEADER, "Transfer-Encoding", "v", 1,
		"invalid header name"},
	    {"n", "a.test", SECRET_HEADER, "Proxy-Authorization", "v", 1,
		"invalid header name"},
	    {"n", "a.test", SECRET_BEARER, "X-Key", "v", 1,
		"only for type header"},
	    {"n", "a.test", SECRET_BASIC, "X-Key", "u:p", 3,
		"only for type header"},
	    {"n", "a.test", (enum secret_type)9, NULL, "v", 1,
		"invalid secret type"},
	    {"n", "a.test", SECRET_BEARER, NULL, "", 0,
		"secret value is empty"},
	    {"n", "a.test", SECRET_BEARER, NULL, "\n", 1,
		"secret value is empty"},
	    {"n", "a.test", SECRET_BEARER, NULL, "\r\n", 2,
		"secret value is empty"},
	    {"n", "a.test", SECRET_BEARER, NULL, "a\0b", 3, "NUL, CR, LF"},
	    {"n", "a.test", SECRET_BEARER, NULL, "a\rb", 3, "NUL, CR, LF"},
	    {"n", "a.test", SECRET_BEARER, NULL, "a\nb", 3, "NUL, CR, LF"},
	    {"n", "a.test", SECRET_BEARER, NULL, "ab\n\n", 4, "NUL, CR, LF"},
	    {"n", "a.test", SECRET_BEARER, NULL, "ab\r", 3, "NUL, CR, LF"},
	    {"n", "a.test", SECRET_BEARER, NULL,
		"a\x1b"
		"b",
		3, "control character"},
	    {"n", "a.test", SECRET_BEARER, NULL, "a\x7f", 2,
		"control character"},
	    {"n", "a.test", SECRET_BASIC, NULL, "nocolon", 7, "user:password"},
	};
	struct store *st;
	char err[256], hdr[LIMIT_HEADER_NAME + 8];
	size_t i;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (store_secret_add(st, cases[i].name, cases[i].host,
			cases[i].type, cases[i].header, cases[i].value,
			cases[i].len, NOW, err, sizeof(err)) != -1)
			fail_msg("case %zu accepted", i);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: error '%s', want '%s'", i, err,
			    cases[i].msg);
	}
	assert_int_equal(st->nsecrets, 0);
	/* a tab inside is fine (a header value may hold one) */
	secret_new(st, "tab", "a.test", SECRET_BEARER, NULL, "a\tb");
	/* header names: LIMIT_HEADER_NAME - 1 characters fit */
	memset(hdr, 'h', sizeof(hdr));
	hdr[LIMIT_HEADER_NAME - 1] = '\0';
	secret_new(st, "h1", "a.test", SECRET_HEADER, hdr, "v");
	assert_string_equal(store_secret_find(st, "h1")->header, hdr);
	hdr[LIMIT_HEADER_NAME - 1] = 'h';
	hdr[LIMIT_HEADER_NAME] = '\0';
	assert_int_equal(store_secret_add(st, "h2", "a.test", SECRET_HEADER,
			     hdr, "v", 1, NOW, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "invalid header name"));
	store_free(st);
}

static void
test_secret_value_limits(void **state)
{
	struct store *st;
	char *v, err[256] = "", name[16];
	size_t n = LIMIT_SECRET_VALUE;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	v = malloc(n + 3);
	assert_non_null(v);
	memset(v, 'v', n + 3);
	assert_int_equal(store_secret_add(st, "s1", "a.test", SECRET_BEARER,
			     NULL, v, n, NOW, err, sizeof(err)),
	    0);
	assert_int_equal(store_secret_find(st, "s1")->value->len, n);
	assert_int_equal(store_secret_add(st, "s2", "a.test", SECRET_BEARER,
			     NULL, v, n + 1, NOW, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "too long"));
	/* the stripped newline does not count */
	v[n] = '\r';
	v[n + 1] = '\n';
	assert_int_equal(store_secret_add(st, "s3", "a.test", SECRET_BEARER,
			     NULL, v, n + 2, NOW, err, sizeof(err)),
	    0);
	assert_int_equal(store_secret_find(st, "s3")->value->len, n);
	free(v);

	/* LIMIT_SECRETS fit, one more does not */
	while (st->nsecrets < LIMIT_SECRETS) {
		snprintf(name, sizeof(name), "x%zu", st->nsecrets);
		secret_new(st, name, "a.test", SECRET_BEARER, NULL, "v");
	}
	assert_int_equal(store_secret_add(st, "last", "a.test", SECRET_BEARER,
			     NULL, "v", 1, NOW, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "too many secrets"));
	store_free(st);
}

static void
test_secret_delete(void **state)
{
	struct store *st;
	struct client *c;
	const struct rule *r;
	char err[256] = "", id[16];
	uint64_t gen;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "t");
	secret_new(st, "llama", "api.test", SECRET_BEARER, NULL, "v");
	r = rule_new(
	    st, c, "{\"host\":\"api.test\",\"secret\":\"llama\"}", NOW);
	memcpy(id, r->id, sizeof(id));
	gen = st->generation;
	assert_int_equal(
	    store_secret_delete(st, "llama", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is used by rule"));
	assert_non_null(strstr(err, id));
	assert_true(st->generation == gen);
	assert_non_null(store_secret_find(st, "llama"));
	/* an expired but unswept rule still holds it */
	assert_int_equal(store_rule_delete(st, c, id), 1);
	rule_new(st, c,
	    "{\"host\":\"api.test\",\"secret\":\"llama\","
	    "\"ttl\":\"1s\"}",
	    NOW - 5000);
	assert_int_equal(
	    store_secret_delete(st, "llama", err, sizeof(err)), -1);
	assert_int_equal(store_expire(st, NOW), 1);
	gen = st->generation;
	assert_int_equal(store_secret_delete(st, "llama", err, sizeof(err)), 0);
	assert_true(st->generation > gen);
	assert_null(store_secret_find(st, "llama"));
	assert_int_equal(
	    store_secret_delete(st, "llama", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no such secret"));
	store_free(st);
}

/* The oauth secrets are counted, so that requests skip the token-endpoint
 * check when there are none. */
static void
test_secret_oauth_count(void **state)
{
	struct store *st;
	const char *v;
	char err[256] = "";

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(st->noauth_secrets, 0);
	secret_new(st, "b", "a.test", SECRET_BEARER, NULL, "tok");
	assert_int_equal(st->noauth_secrets, 0);
	secret_new(st, "o1", "a.test", SECRET_OAUTH, NULL,
	    "{\"token_url\":\"https://a.test/t\"}");
	secret_new(st, "o2", "b.test", SECRET_OAUTH, NULL,
	    "{\"token_url\":\"https://b.test/t\"}");
	assert_int_equal(st->noauth_secrets, 2);
	/* the token endpoint is read from the value once, when it is set */
	assert_null(store_secret_find(st, "b")->token_url);
	assert_string_equal(
	    (const char *)store_secret_find(st, "o1")->token_url->p,
	    "https://a.test/t");
	v = "{\"token_url\":\"https://a.test/t2\"}";
	assert_int_equal(store_secret_set_value(st, store_secret_find(st, "o1"),
	    v, strlen(v), err, sizeof(err)), 0);
	assert_string_equal(
	    (const char *)store_secret_find(st, "o1")->token_url->p,
	    "https://a.test/t2");
	assert_int_equal(store_secret_set_value(st, store_secret_find(st, "o1"),
	    "{\"x\":1}", 7, err, sizeof(err)), 0);
	assert_null(store_secret_find(st, "o1")->token_url);
	/* a name taken: not added, not counted */
	assert_int_equal(store_secret_add(st, "o1", "c.test", SECRET_OAUTH,
			     NULL, "{}", 2, NOW, err, sizeof(err)),
	    -1);
	assert_int_equal(st->noauth_secrets, 2);
	assert_int_equal(store_secret_delete(st, "b", err, sizeof(err)), 0);
	assert_int_equal(st->noauth_secrets, 2);
	assert_int_equal(store_secret_delete(st, "o1", err, sizeof(err)), 0);
	assert_int_equal(st->noauth_secrets, 1);
	assert_int_equal(store_secret_delete(st, "o2", err, sizeof(err)), 0);
	assert_int_equal(st->noauth_secrets, 0);
	store_free(st);
}

/* A client's DNS look-ups in flight: taken up to the limit, given back,
 * never below zero. */
static void
test_client_dns_inflight(void **state)
{
	struct store *st;
	struct client *c;
	char err[256] = "";
	int i;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "t");
	for (i = 0; i < 3; i++)
		assert_int_equal(store_client_dns_take(c, 3), 0);
	assert_int_equal(store_client_dns_take(c, 3), -1);
	assert_int_equal(store_client_dns_take(c, 4), 0);
	store_client_dns_give(c);
	store_client_dns_give(c);
	assert_int_equal(store_client_dns_take(c, 3), 0);
	assert_int_equal(store_client_dns_take(c, 3), -1);
	for (i = 0; i < 10; i++)
		store_client_dns_give(c);
	assert_int_equal(atomic_load(&c->dns_inflight), 0);
	assert_int_equal(store_client_dns_take(c, 1), 0);
	assert_int_equal(store_client_dns_take(c, 1), -1);
	store_free(st);
}

/* Secrets are found by name through a hash table: all of the most a store
 * holds, each after others around it were deleted. */
static void
test_secret_find_many(void **state)
{
	struct store *st;
	char err[256] = "", name[32];
	int i;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	assert_null(store_secret_find(st, "none"));
	for (i = 0; i < LIMIT_SECRETS; i++) {
		snprintf(name, sizeof(name), "s%d", i);
		secret_new(st, name, "a.test", SECRET_BEARER, NULL, "v");
	}
	for (i = 0; i < LIMIT_SECRETS; i += 3) {
		snprintf(name, sizeof(name), "s%d", i);
		assert_int_equal(store_secret_delete(st, name, err,
		    sizeof(err)), 0);
	}
	for (i = 0; i < LIMIT_SECRETS; i++) {
		struct secret *s;

		snprintf(name, sizeof(name), "s%d", i);
		s = store_secret_find(st, name);
		if (i % 3 == 0) {
			assert_null(s);
		} else {
			assert_non_null(s);
			assert_string_equal(s->name, name);
		}
	}
	assert_null(store_secret_find(st, "s"));
	assert_null(store_secret_find(st, NULL));
	/* a name deleted can be created again */
	secret_new(st, "s0", "b.test", SECRET_BEARER, NULL, "w");
	assert_string_equal(store_secret_find(st, "s0")->host, "b.test");
	store_free(st);
}

static void
test_secret_type_names(void **state)
{
	static const struct {
		const char *s;
		enum secret_type t;
	} cases[] = {
	    {"bearer", SECRET_BEARER},
	    {"basic-auth", SECRET_BASIC},
	    {"header", SECRET_HEADER},
	    {"oauth", SECRET_OAUTH},
	};
	enum secret_type t;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(store_secret_type_parse(cases[i].s, &t), 0);
		assert_int_equal(t, cases[i].t);
		assert_string_equal(store_secret_type_name(t), cases[i].s);
	}
	assert_int_equal(store_secret_type_parse("Bearer", &t), -1);
	assert_int_equal(store_secret_type_parse("basic", &t), -1);
	assert_int_equal(store_secret_type_parse("", &t), -1);
	assert_int_equal(store_secret_type_parse(NULL, &t), -1);
	assert_string_equal(
	    store_secret_type_name((enum secret_type)42), "unknown");
}

/* ---- decisions ---- */

struct decide_fixture {
	struct store *st;
	struct client *c;
	const struct rule *rules[16];
};

static void
decide_fixture_init(struct decide_fixture *f)
{
	/* index: rule text, age in ms at NOW (older first within a host) */
	static const struct {
		const char *json;
		int64_t age;
	} rules[] = {
	    /* 0 */ {"{\"host\":\"api.test\"}", 100000},
	    /* 1 */ {"{\"host\":\"*.example.com\",\"ports\":[8443]}", 99999},
	    /* 2 */
	    {"{\"host\":\"plain.test\",\"ports\":[80],"
	     "\"methods\":[\"GET\"],\"paths\":[\"/ok/*\"]}",
		99998},
	    /* 3 */
	    {"{\"host\":\"llm.test\",\"methods\":[\"POST\"],"
	     "\"paths\":[\"/v1/chat/completions\"],\"secret\":\"llama\"}",
		99997},
	    /* 4 */
	    {"{\"host\":\"repo.test\",\"paths\":[\"/repos/*/issues\"]}", 99996},
	    /* 5 */ {"{\"host\":\"insp.test\",\"inspect\":true}", 99995},
	    /* 6 */ {"{\"host\":\"10.0.0.1\",\"ports\":[22]}", 99994},
	    /* 7: expired at NOW - 1, not swept */
	    {"{\"host\":\"old.test\",\"ttl_seconds\":1}", 1001},
	    /* 8, 9: host-level and method-only */
	    {"{\"host\":\"mixed.test\"}", 99993},
	    {"{\"host\":\"mixed.test\",\"methods\":[\"GET\"]}", 99992},
	    /* 10, 11: host-level and a secret (newer) */
	    {"{\"host\":\"sec.test\"}", 99991},
	    {"{\"host\":\"sec.test\",\"secret\":\"sec\"}", 99990},
	    /* 12 */ {"{\"host\":\"2001:db8::1\"}", 99989},
	    /* 13: expires exactly at NOW */
	    {"{\"host\":\"edge.test\",\"ttl_seconds\":10}", 10000},
	    /* 14 */
	    {"{\"host\":\"m.test\",\"methods\":[\"GET\",\"HEAD\"],"
	     "\"ports\":[443,8080]}",
		99988},
	};
	char err[256] = "";
	size_t i;

	f->st = store_open(NULL, err, sizeof(err));
	assert_non_null(f->st);
	f->c = client_new(f->st, "vm1", "tok");
	secret_new(f->st, "llama", "llm.test", SECRET_BEARER, NULL, "v");
	secret_new(f->st, "sec", "sec.test", SECRET_BEARER, NULL, "v");
	assert_true(sizeof(rules) / sizeof(rules[0]) <=
		    sizeof(f->rules) / sizeof(f->rules[0]));
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		f->rules[i] =
		    rule_new(f->st, f->c, rules[i].json, NOW - rules[i].age);
}

static void
test_decide_table(void **state)
{
	static const struct {
		const char *method; /* NULL: CONNECT */
		const char *host;
		uint16_t port;
		const char *path;
		int allowed;
		int intercept;
		int rule; /* index in the fixture, -1: none */
		const char *reason;
	} cases[] = {
	    /* host-level rule: plain tunnel on the default ports only */
	    {NULL, "api.test", 443, NULL, 1, 0, 0, "allowed by rule"},
	    {NULL, "api.test", 80, NULL, 1, 0, 0, NULL},
	    {NULL, "api.test", 8443, NULL, 0, 0, -1,
		"port 8443 not allowed for api.test"},
	    {NULL, "api.test", 22, NULL, 0, 0, -1,
		"port 22 not allowed for api.test"},
	    {"GET", "api.test", 443, "/anything", 1, 0, 0, NULL},
	    {"DELETE", "api.test", 80, "/", 1, 0, 0, NULL},
	    {NULL, "other.test", 443, NULL, 0, 0, -1,
		"no rule allows other.test:443"},
	    {"GET", "other.test", 80, "/", 0, 0, -1,
		"no rule allows other.test:80"},
	    {NULL, "sub.api.test", 443, NULL, 0, 0, -1,
		"no rule allows sub.api.test:443"},
	    /* wildcard with its own port */
	    {NULL, "a.example.com", 8443, NULL, 1, 0, 1, NULL},
	    {NULL, "x.y.example.com", 8443, NULL, 1, 0, 1, NULL},
	    {NULL, "example.com", 8443, NULL, 0, 0, -1,
		"no rule allows example.com:8443"},
	    {NULL, "a.example.com", 443, NULL, 0, 0, -1,
		"port 443 not allowed for a.example.com"},
	    /* method and path constraints */
	    {"GET", "plain.test", 80, "/ok/1", 1, 0, 2, NULL},
	    {"GET", "plain.test", 80, "/ok/", 1, 0, 2, NULL},
	    {"GET", "plain.test", 80, "/ok/a/b", 1, 0, 2, NULL},
	    {"POST", "plain.test", 80, "/ok/1", 0, 0, -1,
		"method POST not allowed for plain.test"},
	    {"get", "plain.test", 80, "/ok/1", 0, 0, -1,
		"method get not allowed for plain.test"},
	    {"GET", "plain.test", 80, "/admin", 0, 0, -1,
		"path /admin not allowed for plain.test"},
	    {"GET", "plain.test", 80, "/ok", 0, 0, -1, "path /ok not allowed"},
	    {"GET", "plain.test", 80, "/ok%2F..%2Fadmin", 0, 0, -1,
		"path /ok%2F..%2Fadmin not allowed"},
	    {"GET", "plain.test", 80, "/OK/1", 0, 0, -1, "path /OK/1"},
	    {"GET", "plain.test", 443, "/ok/1", 0, 0, -1,
		"port 443 not allowed for plain.test"},
	    {NULL, "plain.test", 80, NULL, 1, 1, 2, "(intercept)"},
	    {NULL, "plain.test", 443, NULL, 0, 0, -1, "port 443"},
	    /* secret rule */
	    {"POST", "llm.test", 443, "/v1/chat/completions", 1, 0, 3, NULL},
	    {"GET", "llm.test", 443, "/v1/chat/completions", 0, 0, -1,
		"method GET not allowed for llm.test"},
	    {"POST", "llm.test", 443, "/v1/chat/completions/x", 0, 0, -1,
		"path /v1/chat/completions/x not allowed"},
	    {NULL, "llm.test", 443, NULL, 1, 1, 3, NULL},
	    /* "*" within one segment */
	    {"GET", "repo.test", 443, "/repos/foo/issues", 1, 0, 4, NULL},
	    {"GET", "repo.test", 443, "/repos/a/b/issues", 0, 0, -1, "path"},
	    {"GET", "repo.test", 443, "/repos//issues", 0, 0, -1, "path"},
	    {NULL, "repo.test", 443, NULL, 1, 1, 4, NULL},
	    /* inspect */
	    {NULL, "insp.test", 443, NULL, 1, 1, 5, NULL},
	    {"PUT", "insp.test", 443, "/x", 1, 0, 5, NULL},
	    /* IP literal with a port */
	    {NULL, "10.0.0.1", 22, NULL, 1, 0, 6, NULL},
	    {NULL, "10.0.0.1", 443, NULL, 0, 0, -1,
		"port 443 not allowed for 10.0.0.1"},
	    {NULL, "10.0.0.2", 22, NULL, 0, 0, -1,
		"no rule allows 10.0.0.2:22"},
	    /* expired, not swept: as if absent */
	    {NULL, "old.test", 443, NULL, 0, 0, -1,
		"no rule allows old.test:443"},
	    {NULL, "edge.test", 443, NULL, 0, 0, -1, "no rule allows"},
	    /* host-level plus a method-only rule: still a plain tunnel */
	    {NULL, "mixed.test", 443, NULL, 1, 0, 8, NULL},
	    {"POST", "mixed.test", 443, "/", 1, 0, 8, NULL},
	    {"GET", "mixed.test", 443, "/", 1, 0, 8, NULL},
	    /* host-level plus a secret rule: intercept, secret preferred */
	    {NULL, "sec.test", 443, NULL, 1, 1, 11, NULL},
	    {"GET", "sec.test", 443, "/", 1, 0, 11, NULL},
	    /* IPv6 */
	    {NULL, "2001:db8::1", 443, NULL, 1, 0, 12, NULL},
	    {NULL, "2001:db8::2", 443, NULL, 0, 0, -1,
		"no rule allows [2001:db8::2]:443"},
	    /* several methods and ports */
	    {"HEAD", "m.test", 8080, "/", 1, 0, 14, NULL},
	    {"GET", "m.test", 443, "/", 1, 0, 14, NULL},
	    {"GET", "m.test", 80, "/", 0, 0, -1, "port 80"},
	    {"OPTIONS", "m.test", 8080, "/", 0, 0, -1, "method OPTIONS"},
	};
	struct decide_fixture f;
	struct policy_verdict v;
	size_t i;

	(void)state;
	decide_fixture_init(&f);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&v, 0x5a, sizeof(v));
		verdict_get(f.st, f.c, cases[i].method, cases[i].host,
		    cases[i].port, cases[i].path, NOW, &v);
		if (v.is_allowed != cases[i].allowed ||
		    v.needs_intercept != cases[i].intercept)
			fail_msg("case %zu %s %s:%u %s: allowed %d intercept "
				 "%d (%s)",
			    i, cases[i].method ? cases[i].method : "CONNECT",
			    cases[i].host, cases[i].port,
			    cases[i].path ? cases[i].path : "", v.is_allowed,
			    v.needs_intercept, v.reason);
		if (cases[i].rule >= 0 && v.rule != f.rules[cases[i].rule])
			fail_msg("case %zu: rule %s, want %s (%s)", i,
			    v.rule ? v.rule->id : "none",
			    f.rules[cases[i].rule]->id, v.reason);
		if (cases[i].rule < 0 && v.rule != NULL)
			fail_msg("case %zu: denied with a rule", i);
		if (cases[i].reason != NULL &&
		    strstr(v.reason, cases[i].reason) == NULL)
			fail_msg("case %zu: reason '%s', want '%s'", i,
			    v.reason, cases[i].reason);
		if (v.is_allowed)
			assert_non_null(strstr(v.reason, v.rule->id));
		assert_true(strlen(v.reason) < sizeof(v.reason));
	}
	/* the edge rule was alive a moment before */
	verdict_get(f.st, f.c, NULL, "edge.test", 443, NULL, NOW - 1, &v);
	assert_int_equal(v.is_allowed, 1);
	assert_ptr_equal(v.rule, f.rules[13]);
	store_free(f.st);
}

static void
test_decide_specificity(void **state)
{
	struct store *st;
	struct client *c;
	const struct rule *any, *tld, *sub, *exact, *s_old, *s_new, *s_sec;
	const struct rule *o_new, *o_old, *wrong_sec, *plain;
	struct policy_verdict v;
	char err[256] = "";

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "tok");
	secret_new(st, "k", "*.s.test", SECRET_BEARER, NULL, "v");
	secret_new(st, "elsewhere", "x.test", SECRET_BEARER, NULL, "v");
	any = rule_new(st, c, "{\"host\":\"*\"}", NOW - 10);
	tld = rule_new(st, c, "{\"host\":\"*.test\"}", NOW - 9);
	sub = rule_new(st, c, "{\"host\":\"*.a.test\"}", NOW - 8);
	exact = rule_new(st, c, "{\"host\":\"x.a.test\"}", NOW - 7);
	/* same host: a usable secret first, then the oldest */
	s_old = rule_new(st, c, "{\"host\":\"h.s.test\"}", NOW - 6);
	s_new = rule_new(
	    st, c, "{\"host\":\"h.s.test\",\"paths\":[\"/x\"]}", NOW - 5);
	s_sec = rule_new(
	    st, c, "{\"host\":\"h.s.test\",\"secret\":\"k\"}", NOW - 1);
	o_new = rule_new(
	    st, c, "{\"host\":\"o.test\",\"methods\":[\"GET\"]}", NOW - 2);
	o_old = rule_new(
	    st, c, "{\"host\":\"o.test\",\"paths\":[\"/*\"]}", NOW - 3);
	/* a secret that may not go to this host does not win */
	plain = rule_new(st, c, "{\"host\":\"w.test\"}", NOW - 4);
	wrong_sec = rule_new(
	    st, c, "{\"host\":\"w.test\",\"secret\":\"elsewhere\"}", NOW - 1);

	verdict_get(st, c, "GET", "x.a.test", 443, "/", NOW, &v);
	assert_ptr_equal(v.rule, exact);
	verdict_get(st, c, "GET", "y.a.test", 443, "/", NOW, &v);
	assert_ptr_equal(v.rule, sub);
	verdict_get(st, c, "GET", "b.test", 443, "/", NOW, &v);
	assert_ptr_equal(v.rule, tld);
	verdict_get(st, c, "GET", "a.test", 443, "/", NOW, &v);
	assert_ptr_equal(v.rule, tld);
	verdict_get(st, c, "GET", "other.org", 443, "/", NOW, &v);
	assert_ptr_equal(v.rule, any);
	verdict_get(st, c, NULL, "other.org", 443, NULL, NOW, &v);
	assert_ptr_equal(v.rule, any);
	assert_int_equal(v.needs_intercept, 0);

	verdict_get(st, c, "GET", "h.s.test", 443, "/x", NOW, &v);
	assert_ptr_equal(v.rule, s_sec);
	verdict_get(st, c, NULL, "h.s.test", 443, NULL, NOW, &v);
	assert_ptr_equal(v.rule, s_sec);
	assert_int_equal(v.needs_intercept, 1);
	(void)s_new;
	(void)s_old;

	verdict_get(st, c, "GET", "o.test", 443, "/y", NOW, &v);
	assert_ptr_equal(v.rule, o_old);
	verdict_get(st, c, "POST", "o.test", 443, "/y", NOW, &v);
	assert_ptr_equal(v.rule, o_old);
	verdict_get(st, c, "GET", "o.test", 443, "/", NOW, &v);
	assert_ptr_equal(v.rule, o_old);

	verdict_get(st, c, "GET", "w.test", 443, "/", NOW, &v);
	assert_ptr_equal(v.rule, plain);
	(void)wrong_sec;
	(void)o_new;

	/* a denied exact rule does not shadow an allowing wildcard */
	rule_new(st, c, "{\"host\":\"x.a.test\",\"ports\":[9]}", NOW);
	verdict_get(st, c, NULL, "x.a.test", 443, NULL, NOW, &v);
	assert_int_equal(v.is_allowed, 1);
	assert_ptr_equal(v.rule, exact);
	store_free(st);
}

static void
test_decide_edge(void **state)
{
	struct store *st;
	struct client *c, *empty;
	struct policy_verdict v;
	struct policy_request rq = {.host = "api.test", .port = 443};
	char err[256] = "", longhost[300], longpath[600];

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "tok");
	empty = client_new(st, "vm2", "tok2");
	rule_new(st, c, "{\"host\":\"*\",\"paths\":[\"/only\"]}", NOW);

	/* no client, no rules */
	store_decide(st, NULL, &rq, NOW, &v);
	assert_int_equal(v.is_allowed, 0);
	assert_null(v.rule);
	store_decide(st, empty, &rq, NOW, &v);
	assert_int_equal(v.is_allowed, 0);
	assert_string_equal(v.reason, "no rule allows api.test:443");

	/* a long host and path are cut to fit; NUL-terminated */
	memset(longhost, 'h', sizeof(longhost));
	longhost[250] = '\0';
	memset(longpath, 'p', sizeof(longpath));
	longpath[0] = '/';
	longpath[599] = '\0';
	verdict_get(st, c, "GET", longhost, 443, longpath, NOW, &v);
	assert_int_equal(v.is_allowed, 0);
	assert_true(strlen(v.reason) < sizeof(v.reason));
	assert_int_equal(strncmp(v.reason, "path /ppp", 9), 0);
	verdict_get(st, empty, NULL, longhost, 443, NULL, NOW, &v);
	assert_true(strlen(v.reason) < sizeof(v.reason));
	/* control bytes from a peer are masked in the reason */
	verdict_get(st, c, "GET", "a.test", 443, "/\x1b[2J", NOW, &v);
	assert_null(strchr(v.reason, '\x1b'));
	store_free(st);
}

static void
test_host_allowed(void **state)
{
	struct store *st;
	struct client *c, *d;
	char err[256] = "";

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "t1");
	d = client_new(st, "vm2", "t2");
	rule_new(st, c,
	    "{\"host\":\"api.test\",\"ports\":[8443],"
	    "\"methods\":[\"GET\"]}",
	    NOW);
	rule_new(st, c, "{\"host\":\"*.wild.test\"}", NOW);
	rule_new(st, c, "{\"host\":\"gone.test\",\"ttl\":\"1s\"}", NOW - 2000);
	assert_int_equal(store_host_allowed(st, c, "api.test", NOW), 1);
	assert_int_equal(store_host_allowed(st, c, "a.wild.test", NOW), 1);
	assert_int_equal(store_host_allowed(st, c, "wild.test", NOW), 0);
	assert_int_equal(store_host_allowed(st, c, "gone.test", NOW), 0);
	assert_int_equal(store_host_allowed(st, c, "gone.test", NOW - 1500), 1);
	assert_int_equal(store_host_allowed(st, c, "other.test", NOW), 0);
	assert_int_equal(store_host_allowed(st, d, "api.test", NOW), 0);
	assert_int_equal(store_host_allowed(st, NULL, "api.test", NOW), 0);
	rule_new(st, d, "{\"host\":\"*\"}", NOW);
	assert_int_equal(store_host_allowed(st, d, "anything.example", NOW), 1);
	store_free(st);
}

/* ---- JSON views ---- */

static void
test_json_views(void **state)
{
	struct store *st;
	struct client *c;
	const struct rule *r1, *r2;
	json_t *j;
	char err[256] = "", *text;
	const char *value = "TOPSECRET-value-123";

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "tok");
	secret_new(st, "llama", "api.test", SECRET_BEARER, NULL, value);
	secret_new(st, "hdr", "api.test", SECRET_HEADER, "X-Key", value);
	r1 = rule_new(st, c, "{\"host\":\"api.test\"}", NOW);
	r2 = rule_new(st, c,
	    "{\"host\":\"api.test\",\"ports\":[8443],"
	    "\"methods\":[\"post\"],\"paths\":[\"/v1/*\"],"
	    "\"secret\":\"llama\",\"inspect\":true,"
	    "\"allow_plaintext\":true,\"ttl\":\"90s\"}",
	    NOW);
	rule_new(st, c, "{\"host\":\"x.test\",\"ttl\":\"1s\"}", NOW - 5000);

	j = store_client_json(c, NOW);
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"created\":\"2026-11-30T13:40:00Z\","
				  "\"name\":\"vm1\",\"rules\":2}");
	free(text);
	json_decref(j);

	j = store_rule_json(r1, NOW);
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	{
		char want[512];

		snprintf(want, sizeof(want),
		    "{\"allow_plaintext\":false,\"created\":"
		    "\"2026-11-30T13:40:00Z\",\"expires\":null,\"host\":"
		    "\"api.test\",\"id\":\"%s\",\"inspect\":false,\"methods\":"
		    "[],\"paths\":[],\"ports\":[80,443],\"secret\":null,"
		    "\"ttl_remaining_s\":null}",
		    r1->id);
		assert_string_equal(text, want);
	}
	free(text);
	json_decref(j);

	j = store_rule_json(r2, NOW + 500);
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	{
		char want[512];

		snprintf(want, sizeof(want),
		    "{\"allow_plaintext\":true,\"created\":"
		    "\"2026-11-30T13:40:00Z\",\"expires\":"
		    "\"2026-11-30T13:41:30Z\",\"host\":\"api.test\",\"id\":"
		    "\"%s\",\"inspect\":true,\"methods\":[\"POST\"],\"paths\":"
		    "[\"/v1/*\"],\"ports\":[8443],\"secret\":\"llama\","
		    "\"ttl_remaining_s\":90}",
		    r2->id);
		assert_string_equal(text, want);
	}
	free(text);
	json_decref(j);
	j = store_rule_json(r2, NOW + 200000);
	assert_int_equal(
	    json_integer_value(json_object_get(j, "ttl_remaining_s")), 0);
	json_decref(j);

	j = store_secret_json(store_secret_find(st, "llama"));
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"created\":\"2026-11-30T13:40:00Z\","
				  "\"header\":null,\"host\":\"api.test\","
				  "\"name\":\"llama\",\"type\":\"bearer\"}");
	free(text);
	json_decref(j);
	j = store_secret_json(store_secret_find(st, "hdr"));
	text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
	assert_string_equal(text, "{\"created\":\"2026-11-30T13:40:00Z\","
				  "\"header\":\"X-Key\",\"host\":\"api.test\","
				  "\"name\":\"hdr\",\"type\":\"header\"}");
	assert_null(strstr(text, value));
	free(text);
	json_decref(j);
	store_free(st);
}

/* ---- state directory ---- */

/* Pooled upstream connections of a client outlive other clients' changes,
 * not its own rule changes, a secret change, or its deletion. */
static void
test_pool_generation(void **state)
{
	struct store *st;
	struct client *a, *b;
	char err[256] = "";
	uint64_t ga, gb, g;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	a = client_new(st, "a", "tok-a");
	b = client_new(st, "b", "tok-b");
	ga = store_pool_generation(st, a);
	gb = store_pool_generation(st, b);
	assert_true(ga != gb);
	/* b's rule: a unchanged, b moves on */
	rule_new(st, b, "{\"host\":\"x.test\"}", NOW);
	assert_true(store_pool_generation(st, a) == ga);
	assert_true(store_pool_generation(st, b) > gb);
	gb = store_pool_generation(st, b);
	/* a's rule deleted: only a moves on */
	rule_new(st, a, "{\"host\":\"y.test\"}", NOW);
	g = store_pool_generation(st, a);
	assert_true(g > ga);
	assert_int_equal(store_rule_delete_all(st, a), 1);
	assert_true(store_pool_generation(st, a) > g);
	assert_true(store_pool_generation(st, b) == gb);
	ga = store_pool_generation(st, a);
	/* a rule that expires counts as a change of its client */
	rule_new(st, b, "{\"host\":\"z.test\",\"ttl_seconds\":1}", NOW);
	gb = store_pool_generation(st, b);
	assert_int_equal(store_expire(st, NOW + 2000), 1);
	assert_true(store_pool_generation(st, b) > gb);
	assert_true(store_pool_generation(st, a) == ga);
	gb = store_pool_generation(st, b);
	/* a secret: everybody moves on */
	secret_new(st, "s", "api.test", SECRET_BEARER, NULL, "v");
	assert_true(store_pool_generation(st, a) > ga);
	assert_true(store_pool_generation(st, b) > gb);
	ga = store_pool_generation(st, a);
	assert_int_equal(store_secret_delete(st, "s", err, sizeof(err)), 0);
	assert_true(store_pool_generation(st, a) > ga);
	/* deleted and made again: never the old generation */
	ga = store_pool_generation(st, a);
	assert_int_equal(store_client_delete(st, "a"), 0);
	a = client_new(st, "a", "tok-a2");
	assert_true(store_pool_generation(st, a) > ga);
	store_free(st);
}

static void
test_persist_round_trip(void **state)
{
	struct store *st, *st2;
	struct client *c, *c2;
	struct secret *s, *s2;
	const struct rule *r, *q;
	char *dir, err[512] = "", bin[64];
	size_t i, j;

	(void)state;
	dir = tmpdir_new();
	st = store_open(dir, err, sizeof(err));
	if (st == NULL)
		fail_msg("open: %s", err);
	assert_int_equal(st->nclients, 0);
	c = client_new(st, "vm1", "tok-1");
	client_new(st, "vm2", "tok-2");
	secret_new(
	    st, "llama", "*.api.test", SECRET_BEARER, NULL, "bearer-value\n");
	secret_new(st, "hdr", "api.test", SECRET_HEADER, "X-Api-Key", "k\tv");
	secret_new(st, "basic", "api.test", SECRET_BASIC, NULL, "u:p w");
	rule_new(st, c, "{\"host\":\"api.test\"}", NOW);
	rule_new(st, c,
	    "{\"host\":\"*.api.test\",\"ports\":[443,8443],"
	    "\"methods\":[\"POST\",\"get\"],\"paths\":[\"/v1/*\","
	    "\"/repos/*/x\"],\"secret\":\"llama\",\"inspect\":true,"
	    "\"allow_plaintext\":true,\"ttl\":\"10m\"}",
	    NOW);
	rule_new(st, c, "{\"host\":\"2001:db8::1\",\"ttl_seconds\":5}", NOW);
	if (commit(st, err, sizeof(err)) != 0)
		fail_msg("save: %s", err);

	st2 = store_open(dir, err, sizeof(err));
	if (st2 == NULL)
		fail_msg("reopen: %s", err);
	assert_int_equal(st2->nclients, st->nclients);
	for (i = 0; i < st->nclients; i++) {
		c = st->clients[i];
		c2 = st2->clients[i];
		assert_string_equal(c->name, c2->name);
		assert_memory_equal(c->token_hash, c2->token_hash, 32);
		assert_true(c->created_ms == c2->created_ms);
		assert_int_equal(c->nrules, c2->nrules);
		for (j = 0; j < c->nrules; j++) {
			r = c->rules[j];
			q = c2->rules[j];
			assert_string_equal(r->id, q->id);
			assert_string_equal(r->host, q->host);
			assert_int_equal(r->nports, q->nports);
			assert_memory_equal(r->ports, q->ports,
			    r->nports * sizeof(r->ports[0]));
			assert_int_equal(r->nmethods, q->nmethods);
			for (size_t k = 0; k < r->nmethods; k++)
				assert_string_equal(r->methods[k], q->methods[k]);
			assert_int_equal(r->npaths, q->npaths);
			for (size_t k = 0; k < r->npaths; k++)
				assert_string_equal(r->paths[k], q->paths[k]);
			assert_true(r->created_ms == q->created_ms);
			assert_true(r->expires_ms == q->expires_ms);
			assert_string_equal(r->secret, q->secret);
			assert_int_equal(r->is_inspect, q->is_inspect);
			assert_int_equal(
			    r->is_allow_plaintext, q->is_allow_plaintext);
		}
	}
	assert_true(st2->clients[0]->rules[1]->expires_ms == NOW + 600000);
	assert_int_equal(st2->nsecrets, st->nsecrets);
	for (i = 0; i < st->nsecrets; i++) {
		s = st->secrets[i];
		s2 = st2->secrets[i];
		assert_string_equal(s->name, s2->name);
		assert_string_equal(s->host, s2->host);
		assert_int_equal(s->type, s2->type);
		assert_string_equal(s->header, s2->header);
		assert_true(s->created_ms == s2->created_ms);
		assert_int_equal(s->value->len, s2->value->len);
		assert_memory_equal(s->value->p, s2->value->p, s->value->len);
	}
	assert_memory_equal(
	    store_secret_find(st2, "llama")->value->p, "bearer-value", 12);
	/* tokens still work after the restart */
	assert_ptr_equal(
	    store_client_by_token(st2, "tok-2", 5), st2->clients[1]);

	/* state.json holds no secret value and no token */
	{
		char path[512], buf[8192];
		FILE *fp;
		size_t n;

		snprintf(path, sizeof(path), "%s/state.json", dir);
		fp = fopen(path, "r");
		assert_non_null(fp);
		n = fread(buf, 1, sizeof(buf) - 1, fp);
		fclose(fp);
		buf[n] = '\0';
		assert_null(strstr(buf, "bearer-value"));
		assert_null(strstr(buf, "u:p w"));
		assert_null(strstr(buf, "tok-1"));
		assert_non_null(strstr(buf, "\"version\": 1"));
	}
	/* the value file holds exactly the stripped value */
	{
		char path[512];
		int fd;
		ssize_t n;

		snprintf(path, sizeof(path), "%s/secrets/llama", dir);
		fd = open(path, O_RDONLY);
		assert_true(fd >= 0);
		n = read(fd, bin, sizeof(bin));
		close(fd);
		assert_int_equal(n, 12);
		assert_memory_equal(bin, "bearer-value", 12);
	}
	store_free(st2);

	/* delete: the value file goes at the next save */
	assert_int_equal(store_secret_delete(st, "hdr", err, sizeof(err)), 0);
	assert_true(path_exists(dir, "secrets/hdr"));
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	assert_false(path_exists(dir, "secrets/hdr"));
	assert_true(path_exists(dir, "secrets/llama"));
	store_free(st);
	st2 = store_open(dir, err, sizeof(err));
	assert_non_null(st2);
	assert_null(store_secret_find(st2, "hdr"));
	assert_int_equal(st2->nsecrets, 2);
	store_free(st2);
	tmpdir_remove(dir);
}

static void
test_persist_modes(void **state)
{
	struct store *st;
	char *dir, path[512], err[512] = "";
	mode_t old;

	(void)state;
	dir = tmpdir_new();
	/* created below a missing parent, mkdir -p style */
	snprintf(path, sizeof(path), "%s/a/b/state", dir);
	old = umask(0);
	st = store_open(path, err, sizeof(err));
	if (st == NULL)
		fail_msg("open: %s", err);
	client_new(st, "vm1", "t");
	secret_new(st, "s", "a.test", SECRET_BEARER, NULL, "v");
	/* no state.json names a secret before its file is written */
	assert_false(path_exists(path, "secrets/s"));
	assert_int_equal(store_save(st, err, sizeof(err)), -1);
	assert_string_equal(err, "secret 's' has no file yet");
	assert_false(path_exists(path, "state.json"));
	assert_int_equal(store_secrets_flush(st, NULL, NULL, NULL, err,
	    sizeof(err)), 0);
	assert_int_equal(path_mode(path, "secrets/s"), 0600);
	assert_int_equal(store_save(st, err, sizeof(err)), 0);
	umask(old);
	assert_int_equal(path_mode(dir, "a"), 0700);
	assert_int_equal(path_mode(dir, "a/b"), 0700);
	assert_int_equal(path_mode(path, "."), 0700);
	assert_int_equal(path_mode(path, "secrets"), 0700);
	assert_int_equal(path_mode(path, "state.json"), 0600);
	assert_int_equal(path_mode(path, "secrets/s"), 0600);
	assert_false(path_exists(path, "state.json.tmp"));
	assert_false(path_exists(path, "secrets/.s.tmp"));
	store_free(st);
	/* saving an in-memory store does nothing */
	st = store_open(NULL, err, sizeof(err));
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	store_free(st);
	tmpdir_remove(dir);
}

/* The lock a flush lets go around its I/O, as the daemon's would be. */
static int flush_is_held, flush_releases;

static void
flush_release(void *arg)
{
	assert_ptr_equal(arg, &flush_is_held);
	assert_int_equal(flush_is_held, 1);
	flush_is_held = 0;
	flush_releases++;
}

static void
flush_reacquire(void *arg)
{
	assert_ptr_equal(arg, &flush_is_held);
	assert_int_equal(flush_is_held, 0);
	flush_is_held = 1;
}

/* The whole content of dir/name, NUL-terminated, in buf. */
static const char *
file_text(const char *dir, const char *name, char *buf, size_t size)
{
	char path[1024];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/*
 * A value changed in memory (new OAuth tokens, on any thread) reaches its
 * file only through store_secrets_flush, which does its I/O with the lock
 * let go, leaves a failed write for the next call, and fills in a file
 * that went missing.  store_save never reads a value.
 */
static void
test_persist_value_flush(void **state)
{
	struct store *st;
	struct secret *s;
	char *dir, path[512], buf[256], err[512] = "";

	(void)state;
	dir = tmpdir_new();
	st = store_open(dir, err, sizeof(err));
	assert_non_null(st);
	secret_new(st, "tok", "a.test", SECRET_BEARER, NULL, "old-value");
	secret_new(st, "other", "b.test", SECRET_BEARER, NULL, "other-value");
	s = store_secret_find(st, "tok");
	assert_int_equal(store_secrets_unsaved(st), 2);
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	assert_int_equal(store_secrets_unsaved(st), 0);

	/* in memory only: nothing written yet, not even by store_save */
	assert_int_equal(store_secret_set_value(st, s, "new-value", 9, err,
	    sizeof(err)), 0);
	assert_memory_equal(s->value->p, "new-value", 9);
	assert_int_equal(store_secrets_unsaved(st), 1);
	assert_int_equal(store_save(st, err, sizeof(err)), 0);
	assert_string_equal(file_text(dir, "secrets/tok", buf, sizeof(buf)),
	    "old-value");

	/* a write that fails (its temporary name is taken by a directory)
	 * keeps the value due, and the lock is given back; the other
	 * secrets' values are still written, and state.json too, since it
	 * names no secret without a file */
	snprintf(path, sizeof(path), "%s/secrets/.tok.tmp", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(store_secret_set_value(st,
	    store_secret_find(st, "other"), "other-2", 7, err, sizeof(err)), 0);
	flush_is_held = 1;
	flush_releases = 0;
	assert_int_equal(store_secrets_flush(st, flush_release,
	    flush_reacquire, &flush_is_held, err, sizeof(err)), -1);
	assert_non_null(strstr(err, ".tok.tmp"));
	assert_null(strstr(err, "new-value"));
	assert_int_equal(flush_is_held, 1);
	assert_int_equal(store_secrets_unsaved(st), 1);
	assert_string_equal(file_text(dir, "secrets/tok", buf, sizeof(buf)),
	    "old-value");
	assert_string_equal(file_text(dir, "secrets/other", buf, sizeof(buf)),
	    "other-2");
	assert_int_equal(store_save(st, err, sizeof(err)), 0);
	assert_true(path_exists(dir, "secrets/.tok.tmp")); /* left alone */
	/* a new secret whose file cannot be written is not named */
	secret_new(st, "late", "c.test", SECRET_BEARER, NULL, "late-value");
	snprintf(buf, sizeof(buf), "%s/secrets/.late.tmp", dir);
	assert_int_equal(mkdir(buf, 0700), 0);
	assert_int_equal(store_secrets_flush(st, NULL, NULL, NULL, err,
	    sizeof(err)), -1);
	assert_int_equal(store_save(st, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "'late' has no file yet"));
	assert_int_equal(rmdir(buf), 0);
	assert_int_equal(store_secret_delete(st, "late", err, sizeof(err)), 0);

	/* the next call writes it, with the lock let go around the I/O */
	assert_int_equal(rmdir(path), 0);
	flush_releases = 0;
	assert_int_equal(store_secrets_flush(st, flush_release,
	    flush_reacquire, &flush_is_held, err, sizeof(err)), 0);
	assert_int_equal(flush_is_held, 1);
	assert_true(flush_releases >= 3); /* open, one stat, one write */
	assert_int_equal(store_secrets_unsaved(st), 0);
	assert_string_equal(file_text(dir, "secrets/tok", buf, sizeof(buf)),
	    "new-value");
	assert_int_equal(path_mode(dir, "secrets/tok"), 0600);
	assert_false(path_exists(dir, "secrets/.tok.tmp"));

	/* a file gone missing is written again; the others are left alone */
	snprintf(path, sizeof(path), "%s/secrets/other", dir);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(store_secrets_flush(st, NULL, NULL, NULL, err,
	    sizeof(err)), 0);
	assert_string_equal(file_text(dir, "secrets/other", buf, sizeof(buf)),
	    "other-2");

	/* two changes before a flush: the last one is written */
	assert_int_equal(store_secret_set_value(st, s, "v2", 2, err,
	    sizeof(err)), 0);
	assert_int_equal(store_secret_set_value(st, s, "v3", 2, err,
	    sizeof(err)), 0);
	assert_int_equal(store_secrets_flush(st, NULL, NULL, NULL, err,
	    sizeof(err)), 0);
	assert_string_equal(file_text(dir, "secrets/tok", buf, sizeof(buf)),
	    "v3");
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	store_free(st);

	/* and it is what a restart loads */
	st = store_open(dir, err, sizeof(err));
	if (st == NULL)
		fail_msg("open: %s", err);
	s = store_secret_find(st, "tok");
	assert_non_null(s);
	assert_int_equal(s->value->len, 2);
	assert_memory_equal(s->value->p, "v3", 2);
	store_free(st);
	/* an in-memory store has nothing to write */
	st = store_open(NULL, err, sizeof(err));
	secret_new(st, "m", "a.test", SECRET_BEARER, NULL, "x");
	assert_int_equal(store_secret_set_value(st, store_secret_find(st, "m"),
	    "y", 1, err, sizeof(err)), 0);
	assert_int_equal(store_secrets_unsaved(st), 0);
	assert_int_equal(store_secrets_flush(st, NULL, NULL, NULL, err,
	    sizeof(err)), 0);
	store_free(st);
	tmpdir_remove(dir);
}

static void
test_persist_refuse_modes(void **state)
{
	struct store *st;
	char *dir, err[512] = "", want[600];

	(void)state;
	dir = tmpdir_new();
	st = store_open(dir, err, sizeof(err));
	assert_non_null(st);
	client_new(st, "vm1", "t");
	secret_new(st, "s", "a.test", SECRET_BEARER, NULL, "v");
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	store_free(st);

	/* the directory */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_null(store_open(dir, err, sizeof(err)));
	snprintf(want, sizeof(want), "%s: mode 0755", dir);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s'", err);
	assert_non_null(strstr(err, "group/world"));
	assert_int_equal(chmod(dir, 0700), 0);

	/* state.json */
	snprintf(want, sizeof(want), "%s/state.json", dir);
	assert_int_equal(chmod(want, 0644), 0);
	assert_null(store_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "state.json: mode 0644"));
	assert_int_equal(chmod(want, 0600), 0);

	/* secrets/ and a value file */
	snprintf(want, sizeof(want), "%s/secrets", dir);
	assert_int_equal(chmod(want, 0750), 0);
	assert_null(store_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "secrets: mode 0750"));
	assert_int_equal(chmod(want, 0700), 0);
	snprintf(want, sizeof(want), "%s/secrets/s", dir);
	assert_int_equal(chmod(want, 0640), 0);
	assert_null(store_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "secrets/s: mode 0640"));
	assert_int_equal(chmod(want, 0600), 0);

	/* all well again */
	st = store_open(dir, err, sizeof(err));
	if (st == NULL)
		fail_msg("open: %s", err);
	store_free(st);

	/* a symlinked state.json is refused */
	snprintf(want, sizeof(want), "%s/state.json", dir);
	assert_int_equal(rename(want, "/tmp/test_store.moved.json"), 0);
	assert_int_equal(symlink("/tmp/test_store.moved.json", want), 0);
	assert_null(store_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "symbolic link"));
	unlink(want);
	unlink("/tmp/test_store.moved.json");

	/* a state dir that is a file */
	snprintf(want, sizeof(want), "%s/file", dir);
	file_put(dir, "file", "x", 0600);
	assert_null(store_open(want, err, sizeof(err)));
	tmpdir_remove(dir);
}

static void
test_persist_corrupt(void **state)
{
	static const struct {
		const char *json;
		const char *msg;
	} cases[] = {
	    {"{\"version\":1,", "state.json: line"},
	    {"", "state.json: line"},
	    {"[]", "not a JSON object"},
	    {"{\"version\":2}", "version"},
	    {"{\"version\":\"1\"}", "version"},
	    {"{}", "version"},
	    {"{\"version\":1,\"extra\":[]}", "unknown key: 'extra'"},
	    {"{\"version\":1,\"version\":1}", "duplicate"},
	    {"{\"version\":1,\"clients\":{}}", "clients must be an array"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"vm1\","
	     "\"token_sha256\":\"00\",\"created_ms\":1,\"rules\":[]}]}",
		"token_sha256"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"vm1\","
	     "\"token_sha256\":\"" /* upper-case hex */
	     "AA00000000000000000000000000000000000000000000000000000000000000"
	     "\",\"created_ms\":1,\"rules\":[]}]}",
		"token_sha256"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"bad name\","
	     "\"token_sha256\":\""
	     "0000000000000000000000000000000000000000000000000000000000000000"
	     "\",\"created_ms\":1,\"rules\":[]}]}",
		"invalid client name"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"vm1\","
	     "\"token_sha256\":\""
	     "0000000000000000000000000000000000000000000000000000000000000000"
	     "\",\"created_ms\":1,\"rules\":[],\"token\":\"x\"}]}",
		"clients[0]: unknown key: 'token'"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"vm1\","
	     "\"token_sha256\":\""
	     "0000000000000000000000000000000000000000000000000000000000000000"
	     "\",\"created_ms\":1,\"rules\":[{\"id\":\"r0123456789ab\","
	     "\"host\":\"a.test\",\"created_ms\":1,\"expires_ms\":0,"
	     "\"secret\":\"gone\"}]}]}",
		"unknown secret 'gone'"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"vm1\","
	     "\"token_sha256\":\""
	     "0000000000000000000000000000000000000000000000000000000000000000"
	     "\",\"created_ms\":1,\"rules\":[{\"id\":\"R0123456789ab\","
	     "\"host\":\"a.test\",\"created_ms\":1,\"expires_ms\":0}]}]}",
		"clients[0]: client 'vm1' rules[0]: invalid rule id"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"vm1\","
	     "\"token_sha256\":\""
	     "0000000000000000000000000000000000000000000000000000000000000000"
	     "\",\"created_ms\":1,\"rules\":[{\"id\":\"r0123456789ab\","
	     "\"host\":\"a.test\",\"created_ms\":1,\"expires_ms\":0,"
	     "\"ttl\":\"5m\"}]}]}",
		"unknown key: 'ttl'"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"vm1\","
	     "\"token_sha256\":\""
	     "0000000000000000000000000000000000000000000000000000000000000000"
	     "\",\"created_ms\":1,\"rules\":[{\"id\":\"r0123456789ab\","
	     "\"host\":\"a.test\",\"created_ms\":1,\"expires_ms\":0,"
	     "\"ports\":[99999]}]}]}",
		"invalid port: 99999"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"vm1\","
	     "\"token_sha256\":\""
	     "0000000000000000000000000000000000000000000000000000000000000000"
	     "\",\"created_ms\":1,\"rules\":[{\"id\":\"r0123456789ab\","
	     "\"host\":\"a.test\",\"created_ms\":1,\"expires_ms\":0},"
	     "{\"id\":\"r0123456789ab\",\"host\":\"b.test\","
	     "\"created_ms\":1,\"expires_ms\":0}]}]}",
		"duplicate rule id"},
	    {"{\"version\":1,\"clients\":[{\"name\":\"vm1\","
	     "\"token_sha256\":\""
	     "0000000000000000000000000000000000000000000000000000000000000000"
	     "\",\"created_ms\":-1,\"rules\":[]}]}",
		"created_ms must be an integer"},
	    {"{\"version\":1,\"secrets\":[{\"name\":\"nofile\",\"host\":"
	     "\"a.test\",\"type\":\"bearer\",\"created_ms\":1}]}",
		"secrets/nofile: No such file"},
	    {"{\"version\":1,\"secrets\":[{\"name\":\"x\",\"host\":"
	     "\"a.test\",\"type\":\"weird\",\"created_ms\":1}]}",
		"invalid secret type: 'weird'"},
	    {"{\"version\":1,\"secrets\":[{\"name\":\"x\",\"host\":"
	     "\"a.test\",\"type\":\"bearer\",\"created_ms\":1,"
	     "\"value\":\"leak\"}]}",
		"secrets[0]: unknown key: 'value'"},
	};
	struct store *st;
	char *dir, err[512];
	size_t i;

	(void)state;
	dir = tmpdir_new();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		file_put(dir, "state.json", cases[i].json, 0600);
		err[0] = '\0';
		st = store_open(dir, err, sizeof(err));
		if (st != NULL)
			fail_msg("case %zu opened", i);
		if (strstr(err, cases[i].msg) == NULL ||
		    strstr(err, "state.json") == NULL)
			fail_msg("case %zu: error '%s', want '%s'", i, err,
			    cases[i].msg);
	}
	/* a syntax error names the place, never the text near it (jansson
	 * quotes it: a hand-edited file may hold anything) */
	file_put(dir, "state.json", "{\"version\":1,\"clients\":\"sek-near-7c1",
	    0600);
	assert_null(store_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "line 1 column"));
	assert_non_null(strstr(err, "unexpected end of input"));
	assert_null(strstr(err, "sek-near"));
	file_put(dir, "state.json", "{\"version\":1,\"sek-bad-8d2\" 1}", 0600);
	assert_null(store_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "invalid syntax"));
	assert_null(strstr(err, "sek-bad"));
	/* a bad value file: named, value not shown */
	file_put(dir, "state.json",
	    "{\"version\":1,\"secrets\":[{\"name\":\"v\",\"host\":\"a.test\","
	    "\"type\":\"bearer\",\"created_ms\":1}]}",
	    0600);
	file_put(dir, "secrets/v", "in\nside\n", 0600);
	assert_null(store_open(dir, err, sizeof(err)));
	assert_non_null(strstr(err, "secrets/v"));
	assert_null(strstr(err, "inside"));
	/* a hand-written value with one trailing newline is fine */
	file_put(dir, "secrets/v", "value\n", 0600);
	st = store_open(dir, err, sizeof(err));
	if (st == NULL)
		fail_msg("open: %s", err);
	assert_int_equal(store_secret_find(st, "v")->value->len, 5);
	store_free(st);
	/* empty arrays and missing arrays are an empty store */
	file_put(dir, "state.json", "{\"version\":1}", 0600);
	st = store_open(dir, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(st->nclients, 0);
	store_free(st);
	tmpdir_remove(dir);
}

static void
test_persist_leftovers(void **state)
{
	struct store *st;
	char *dir, err[512] = "";

	(void)state;
	dir = tmpdir_new();
	st = store_open(dir, err, sizeof(err));
	assert_non_null(st);
	client_new(st, "vm1", "t");
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	store_free(st);

	/* a stale temporary from a crash: ignored, then replaced */
	file_put(dir, "state.json.tmp", "{garbage", 0644);
	file_put(dir, "secrets/.x.tmp", "partial", 0600);
	/* an orphan value (crash between value and state.json) */
	file_put(dir, "secrets/orphan", "v", 0600);
	st = store_open(dir, err, sizeof(err));
	if (st == NULL)
		fail_msg("open: %s", err);
	assert_int_equal(st->nclients, 1);
	assert_int_equal(st->nsecrets, 0);
	client_new(st, "vm2", "t2");
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	assert_false(path_exists(dir, "state.json.tmp"));
	assert_false(path_exists(dir, "secrets/.x.tmp"));
	assert_false(path_exists(dir, "secrets/orphan"));
	store_free(st);

	/* a stale tmp that is a symlink is removed, not followed */
	{
		char p[512];

		snprintf(p, sizeof(p), "%s/state.json.tmp", dir);
		assert_int_equal(symlink("/tmp/test_store.never", p), 0);
	}
	st = store_open(dir, err, sizeof(err));
	assert_non_null(st);
	assert_int_equal(st->nclients, 2);
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	assert_false(path_exists("/tmp", "test_store.never"));
	assert_int_equal(path_mode(dir, "state.json"), 0600);
	store_free(st);
	tmpdir_remove(dir);
}

/* Re-adding a deleted secret before the next save keeps the new value. */
static void
test_persist_secret_replace(void **state)
{
	struct store *st;
	char *dir, err[512] = "";

	(void)state;
	dir = tmpdir_new();
	st = store_open(dir, err, sizeof(err));
	assert_non_null(st);
	secret_new(st, "s", "a.test", SECRET_BEARER, NULL, "old");
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	assert_int_equal(store_secret_delete(st, "s", err, sizeof(err)), 0);
	secret_new(st, "s", "b.test", SECRET_BEARER, NULL, "new");
	assert_int_equal(commit(st, err, sizeof(err)), 0);
	store_free(st);
	st = store_open(dir, err, sizeof(err));
	assert_non_null(st);
	assert_string_equal(store_secret_find(st, "s")->host, "b.test");
	assert_memory_equal(store_secret_find(st, "s")->value->p, "new", 4);
	store_free(st);
	tmpdir_remove(dir);
}

/*
 * kill -9 a process in the middle of its saves, again and again: the
 * directory always opens, holding a prefix of what it was adding.
 */
static void
test_persist_kill9(void **state)
{
	char *dir, err[512] = "", name[32], val[32];
	struct store *st;
	unsigned int seed = (unsigned int)time(NULL);
	int round, status, kills = 0;
	size_t i, n, last = 0;
	pid_t pid;

	(void)state;
	dir = tmpdir_new();
	for (round = 0; round < 30; round++) {
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			/* no cmocka asserts in the child: it must only _exit */
			unsigned char h[32];
			unsigned int hl;

			st = store_open(dir, err, sizeof(err));
			if (st == NULL)
				_exit(2);
			/* bounded, and within the client/secret limits */
			for (i = 0; i < 100000 && st->nclients < 2000; i++) {
				n = st->nclients;
				snprintf(name, sizeof(name), "c%zu", n);
				snprintf(val, sizeof(val), "value-%zu", n);
				if (EVP_Digest(name, strlen(name), h, &hl,
					EVP_sha256(), NULL) != 1 ||
				    store_client_add(st, name, h, NOW, err,
					sizeof(err)) != 0)
					_exit(3);
				if (n % 4 == 0 &&
				    store_secret_add(st, name, "a.test",
					SECRET_BEARER, NULL, val, strlen(val),
					NOW, err, sizeof(err)) != 0)
					_exit(3);
				if (commit(st, err, sizeof(err)) != 0)
					_exit(3);
			}
			_exit(0);
		}
		usleep(1000 + rand_r(&seed) % 20000);
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
			fail_msg("child exited %d", WEXITSTATUS(status));
		if (WIFSIGNALED(status))
			kills++;
		st = store_open(dir, err, sizeof(err));
		if (st == NULL)
			fail_msg("round %d: open: %s", round, err);
		/* what was committed stays; names are a gapless prefix */
		assert_true(st->nclients >= last);
		assert_int_equal(st->nsecrets, (st->nclients + 3) / 4);
		for (i = 0; i < st->nclients; i++) {
			snprintf(name, sizeof(name), "c%zu", i);
			assert_string_equal(st->clients[i]->name, name);
			assert_ptr_equal(
			    store_client_by_token(st, name, strlen(name)),
			    st->clients[i]);
			if (i % 4 != 0)
				continue;
			snprintf(val, sizeof(val), "value-%zu", i);
			assert_string_equal(st->secrets[i / 4]->name, name);
			assert_int_equal(
			    st->secrets[i / 4]->value->len, strlen(val));
			assert_memory_equal(
			    st->secrets[i / 4]->value->p, val, strlen(val));
		}
		last = st->nclients;
		store_free(st);
	}
	assert_true(kills > 0);
	tmpdir_remove(dir);
}

static void
test_generation(void **state)
{
	struct store *st;
	struct client *c;
	char err[256] = "";
	uint64_t g;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	g = st->generation;
	c = client_new(st, "vm1", "t");
	assert_true(st->generation > g);
	g = st->generation;
	secret_new(st, "s", "a.test", SECRET_BEARER, NULL, "v");
	assert_true(st->generation > g);
	g = st->generation;
	rule_new(st, c, "{\"host\":\"a.test\",\"ttl\":\"1s\"}", NOW);
	assert_true(st->generation > g);
	g = st->generation;
	/* failed mutations and no-ops leave it alone */
	assert_int_equal(store_secret_add(st, "s", "a.test", SECRET_BEARER,
			     NULL, "v", 1, NOW, err, sizeof(err)),
	    -1);
	assert_int_equal(store_expire(st, NOW), 0);
	assert_int_equal(store_rule_delete(st, c, "r000000000000"), 0);
	assert_true(st->generation == g);
	assert_int_equal(store_expire(st, NOW + 1000), 1);
	assert_true(st->generation > g);
	g = st->generation;
	assert_int_equal(store_secret_delete(st, "s", err, sizeof(err)), 0);
	assert_true(st->generation > g);
	g = st->generation;
	assert_int_equal(store_client_delete(st, "vm1"), 0);
	assert_true(st->generation > g);
	store_free(st);
}


/* ---- indexes: the decisions equal a scan of every rule ---- */

/* The decision as a scan of every rule in order (the reference). */
static int
ref_secret_usable(const struct store *st, const struct rule *r,
    const char *host)
{
	const struct secret *s;

	if (r->secret[0] == '\0')
		return 0;
	s = store_secret_find(st, r->secret);
	return s != NULL && match_host(s->host, host);
}

static size_t
ref_rank(const struct rule *r)
{
	if (strcmp(r->host, "*") == 0)
		return 0;
	if (r->host[0] == '*')
		return strlen(r->host);
	return SIZE_MAX;
}

static int
ref_better(const struct store *st, const struct rule *a, const struct rule *b,
    const char *host)
{
	int sa, sb;

	if (b == NULL)
		return 1;
	if (ref_rank(a) != ref_rank(b))
		return ref_rank(a) > ref_rank(b);
	sa = ref_secret_usable(st, a, host);
	sb = ref_secret_usable(st, b, host);
	if (sa != sb)
		return sa > sb;
	return a->created_ms < b->created_ms; /* ties: the earlier in order */
}

static int
ref_list_has(const char *const *v, size_t n, const char *x, size_t stride)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp((const char *)v + i * stride, x) == 0)
			return 1;
	}
	return 0;
}

static void
ref_decide(const struct store *st, const struct client *c,
    const struct policy_request *rq, int64_t now, int *allowed,
    int *intercept, const struct rule **rule)
{
	const struct rule *r, *best = NULL, *plain = NULL;
	int wants = 0, ok;
	size_t i, k;

	for (i = 0; i < c->nrules; i++) {
		r = c->rules[i];
		if ((r->expires_ms != 0 && r->expires_ms <= now) ||
		    !match_host(r->host, rq->host))
			continue;
		ok = r->nports == 0 ? (rq->port == 80 || rq->port == 443) : 0;
		for (k = 0; k < r->nports; k++)
			ok |= r->ports[k] == rq->port;
		if (!ok)
			continue;
		if (rq->is_connect) {
			if (r->nmethods == 0 && r->npaths == 0 &&
			    r->secret[0] == '\0' && !r->is_inspect &&
			    ref_better(st, r, plain, rq->host))
				plain = r;
			if (r->secret[0] != '\0' || r->is_inspect)
				wants = 1;
		} else {
			if (r->nmethods > 0 &&
			    !ref_list_has((const char *const *)r->methods,
				r->nmethods, rq->method, LIMIT_METHOD))
				continue;
			ok = r->npaths == 0;
			for (k = 0; k < r->npaths; k++)
				ok |= match_path(r->paths[k], rq->path);
			if (!ok)
				continue;
		}
		if (ref_better(st, r, best, rq->host))
			best = r;
	}
	*allowed = best != NULL;
	*intercept = 0;
	*rule = best;
	if (best != NULL && rq->is_connect) {
		if (plain != NULL && !wants)
			*rule = plain;
		else
			*intercept = 1;
	}
}

static int
ref_host_allowed(const struct client *c, const char *host, int64_t now)
{
	size_t i;

	for (i = 0; i < c->nrules; i++) {
		if ((c->rules[i]->expires_ms == 0 ||
		    c->rules[i]->expires_ms > now) &&
		    match_host(c->rules[i]->host, host))
			return 1;
	}
	return 0;
}

static const char *const idx_hosts[] = {"a.test", "b.a.test", "c.b.a.test",
    "api.example.com", "x.api.example.com", "example.com", "other.org",
    "a-b.c_d.test", "10.0.0.1", "2001:db8::1", "com", "z.other.org"};
static const char *const idx_pats[] = {"a.test", "*.a.test", "*.test",
    "b.a.test", "*.b.a.test", "api.example.com", "*.example.com", "*.com",
    "*", "other.org", "*.other.org", "10.0.0.1", "2001:db8::1", "com",
    "*.c_d.test", "c.b.a.test"};
static const char *const idx_methods[] = {"GET", "POST", "PUT"};
static const char *const idx_paths[] = {"/v1/*", "/v1/x", "/a/*/b", "/"};
static const char *const idx_req_paths[] = {"/v1/x", "/v1/", "/a/q/b",
    "/", "/v2"};
static const uint16_t idx_ports[] = {80, 443, 8443};

static void
idx_compare_all(const struct store *st, const struct client *c, int64_t now)
{
	struct policy_request rq;
	struct policy_verdict v;
	const struct rule *want_rule;
	size_t h, p, m, q, conn;
	int want_ok, want_icpt;

	for (h = 0; h < sizeof(idx_hosts) / sizeof(idx_hosts[0]); h++) {
		assert_int_equal(store_host_allowed(st, c, idx_hosts[h], now),
		    ref_host_allowed(c, idx_hosts[h], now));
		for (p = 0; p < 3; p++)
			for (conn = 0; conn < 2; conn++)
				for (m = 0; m < 3; m++)
					for (q = 0; q < 5; q++) {
			memset(&rq, 0, sizeof(rq));
			rq.host = idx_hosts[h];
			rq.port = idx_ports[p];
			rq.is_connect = (int)conn;
			rq.method = conn ? NULL : idx_methods[m];
			rq.path = conn ? NULL : idx_req_paths[q];
			store_decide(st, c, &rq, now, &v);
			ref_decide(st, c, &rq, now, &want_ok, &want_icpt,
			    &want_rule);
			if (v.is_allowed != want_ok || v.rule != want_rule ||
			    v.needs_intercept != want_icpt)
				fail_msg("%s:%u %s %s: index %d/%s/%d, scan "
				    "%d/%s/%d", rq.host, rq.port,
				    rq.method ? rq.method : "CONNECT",
				    rq.path ? rq.path : "", v.is_allowed,
				    v.rule ? v.rule->id : "-",
				    v.needs_intercept, want_ok,
				    want_rule ? want_rule->id : "-", want_icpt);
		}
	}
}

/* Random rule sets over a small vocabulary, compared after every change. */
static void
test_index_equals_scan(void **state)
{
	struct store *st;
	struct client *c;
	char err[256] = "", text[512], id[16];
	struct rule r;
	size_t round, i, k, n;
	unsigned int seed = 12345;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	secret_new(st, "s_api", "api.example.com", SECRET_BEARER, NULL, "v");
	secret_new(st, "s_any", "*", SECRET_BEARER, NULL, "v");
	c = client_new(st, "vm1", "tok");
	for (round = 0; round < 30; round++) {
		n = 1 + (size_t)rand_r(&seed) % 12;
		for (i = 0; i < n; i++) {
			int len = snprintf(text, sizeof(text), "{\"host\":\"%s\"",
			    idx_pats[rand_r(&seed) % 16]);

			if (rand_r(&seed) % 3 == 0)
				len += snprintf(text + len, sizeof(text) - len,
				    ",\"ports\":[%u]",
				    (unsigned)idx_ports[rand_r(&seed) % 3]);
			if (rand_r(&seed) % 3 == 0)
				len += snprintf(text + len, sizeof(text) - len,
				    ",\"methods\":[\"%s\"]",
				    idx_methods[rand_r(&seed) % 3]);
			if (rand_r(&seed) % 3 == 0)
				len += snprintf(text + len, sizeof(text) - len,
				    ",\"paths\":[\"%s\"]",
				    idx_paths[rand_r(&seed) % 4]);
			k = (size_t)rand_r(&seed) % 6;
			if (k == 0)
				len += snprintf(text + len, sizeof(text) - len,
				    ",\"secret\":\"s_api\"");
			else if (k == 1)
				len += snprintf(text + len, sizeof(text) - len,
				    ",\"secret\":\"s_any\"");
			else if (k == 2)
				len += snprintf(text + len, sizeof(text) - len,
				    ",\"inspect\":true");
			if (rand_r(&seed) % 5 == 0)
				len += snprintf(text + len, sizeof(text) - len,
				    ",\"ttl_seconds\":5");
			snprintf(text + len, sizeof(text) - len, "}");
			/* a few share created_ms: the order breaks the tie */
			assert_int_equal(rule_parse_text(text,
			    NOW + (int64_t)(rand_r(&seed) % 3), &r, err,
			    sizeof(err)), 0);
			assert_int_equal(store_rule_add(st, c, &r, id, err,
			    sizeof(err)), 0);
		}
		idx_compare_all(st, c, NOW + 10);
		idx_compare_all(st, c, NOW + 60 * 1000); /* ttl 5 s gone */
		/* take some away: by id, by host, by expiry */
		if (c->nrules > 0) {
			memcpy(id, c->rules[(size_t)rand_r(&seed) % c->nrules]->id,
			    sizeof(id));
			assert_int_equal(store_rule_delete(st, c, id), 1);
			assert_null(store_rule_find(st, c, id));
		}
		if (round % 4 == 3)
			store_rule_delete_host(st, c,
			    idx_pats[rand_r(&seed) % 16]);
		if (round % 7 == 6)
			store_expire(st, NOW + 60 * 1000);
		idx_compare_all(st, c, NOW + 10);
	}
	store_free(st);
}

/* 100,000 rules: the right ones still decide, the others still do not. */
static void
test_index_many_rules(void **state)
{
	struct store *st;
	struct client *c, *d;
	struct rule *rs;
	struct policy_request rq = {.port = 443, .is_connect = 1};
	struct policy_verdict v;
	char err[256] = "", host[64];
	size_t i, n = 100000;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "tok1");
	d = client_new(st, "vm2", "tok2");
	rs = calloc(LIMIT_API_BATCH, sizeof(*rs));
	assert_non_null(rs);
	for (i = 0; i < n; i++) {
		struct rule *r = &rs[i % LIMIT_API_BATCH];

		snprintf(host, sizeof(host), i % 10 == 0 ? "*.w%zu.test" :
		    "h%zu.test", i);
		r->host = strdup(host);
		assert_non_null(r->host);
		r->created_ms = NOW;
		if (i % LIMIT_API_BATCH == LIMIT_API_BATCH - 1 || i == n - 1)
			assert_int_equal(store_rules_add(st, c, rs,
			    i % LIMIT_API_BATCH + 1, err, sizeof(err)), 0);
	}
	assert_int_equal(c->nrules, n);
	for (i = 0; i < n; i += 997) {
		snprintf(host, sizeof(host), i % 10 == 0 ? "x.w%zu.test" :
		    "h%zu.test", i);
		rq.host = host;
		store_decide(st, c, &rq, NOW, &v);
		assert_true(v.is_allowed);
		assert_string_equal(v.rule->host, c->rules[i]->host);
		store_decide(st, d, &rq, NOW, &v);
		assert_false(v.is_allowed);
	}
	rq.host = "w10.test"; /* "*.w10.test" does not cover itself */
	store_decide(st, c, &rq, NOW, &v);
	assert_false(v.is_allowed);
	rq.host = "h5.test";
	rq.port = 80;
	store_decide(st, c, &rq, NOW, &v);
	assert_true(v.is_allowed);
	rq.port = 22;
	store_decide(st, c, &rq, NOW, &v);
	assert_false(v.is_allowed);
	assert_non_null(strstr(v.reason, "port 22 not allowed"));
	/* removing by host takes the rule out of the index too */
	assert_int_equal(store_rule_delete_host(st, c, "h5.test"), 1);
	rq.port = 443;
	store_decide(st, c, &rq, NOW, &v);
	assert_false(v.is_allowed);
	assert_int_equal(store_rule_delete_all(st, c), (int)n - 1);
	rq.host = "h7.test";
	store_decide(st, c, &rq, NOW, &v);
	assert_false(v.is_allowed);
	free(rs);
	store_free(st);
}

/* A batch is added whole or not at all. */
static void
test_rules_add_batch(void **state)
{
	struct store *st;
	struct client *c;
	struct rule rs[3];
	char err[256] = "";
	uint64_t gen;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	c = client_new(st, "vm1", "tok");
	assert_int_equal(rule_parse_text("{\"host\":\"a.test\",\"paths\":"
	    "[\"/a\"]}", NOW, &rs[0], err, sizeof(err)), 0);
	assert_int_equal(rule_parse_text("{\"host\":\"b.test\",\"secret\":"
	    "\"nope\"}", NOW, &rs[1], err, sizeof(err)), 0);
	assert_int_equal(rule_parse_text("{\"host\":\"c.test\"}", NOW, &rs[2],
	    err, sizeof(err)), 0);
	gen = st->generation;
	assert_int_equal(store_rules_add(st, c, rs, 3, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rules[1]: unknown secret: 'nope'"));
	assert_int_equal(c->nrules, 0);
	assert_true(st->generation == gen);
	assert_null(rs[0].host);
	assert_null(rs[0].paths);

	assert_int_equal(rule_parse_text("{\"host\":\"a.test\"}", NOW, &rs[0],
	    err, sizeof(err)), 0);
	assert_int_equal(rule_parse_text("{\"host\":\"*.b.test\",\"methods\":"
	    "[\"get\"]}", NOW, &rs[1], err, sizeof(err)), 0);
	assert_int_equal(store_rules_add(st, c, rs, 2, err, sizeof(err)), 0);
	assert_int_equal(c->nrules, 2);
	assert_true(st->generation > gen);
	assert_string_equal(c->rules[1]->host, "*.b.test");
	assert_string_equal(c->rules[1]->methods[0], "GET");
	assert_true(store_host_allowed(st, c, "x.b.test", NOW));
	assert_false(store_host_allowed(st, c, "b.test", NOW));
	assert_non_null(store_rule_find(st, c, c->rules[0]->id));
	store_free(st);
}

/* The store-wide rule cap holds across clients. */
static void
test_rules_total_cap(void **state)
{
	struct store *st;
	struct client *c;
	struct rule *rs, r;
	char err[256] = "", name[16], tok[16], id[16];
	size_t i, k, added = 0;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	rs = calloc(LIMIT_API_BATCH, sizeof(*rs));
	assert_non_null(rs);
	for (k = 0; added < LIMIT_RULES_TOTAL; k++) {
		snprintf(name, sizeof(name), "vm%zu", k);
		snprintf(tok, sizeof(tok), "tok%zu", k);
		c = client_new(st, name, tok);
		while (c->nrules < LIMIT_RULES_PER_CLIENT &&
		    added < LIMIT_RULES_TOTAL) {
			size_t n = LIMIT_API_BATCH;

			if (n > LIMIT_RULES_PER_CLIENT - c->nrules)
				n = LIMIT_RULES_PER_CLIENT - c->nrules;
			if (n > LIMIT_RULES_TOTAL - added)
				n = LIMIT_RULES_TOTAL - added;
			for (i = 0; i < n; i++) {
				rs[i].host = strdup("a.test");
				assert_non_null(rs[i].host);
			}
			assert_int_equal(store_rules_add(st, c, rs, n, err,
			    sizeof(err)), 0);
			added += n;
		}
	}
	c = client_new(st, "last", "toklast");
	assert_int_equal(rule_parse_text("{\"host\":\"a.test\"}", NOW, &r, err,
	    sizeof(err)), 0);
	assert_int_equal(store_rule_add(st, c, &r, id, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many rules in all"));
	/* freeing a client's rules makes room again */
	assert_int_equal(store_client_delete(st, "vm0"), 0);
	assert_int_equal(rule_parse_text("{\"host\":\"a.test\"}", NOW, &r, err,
	    sizeof(err)), 0);
	assert_int_equal(store_rule_add(st, c, &r, id, err, sizeof(err)), 0);
	free(rs);
	store_free(st);
}

/* Tokens are found among many clients, and gone with their client. */
static void
test_token_many_clients(void **state)
{
	struct store *st;
	char err[256] = "", name[32], tok[32];
	size_t i, n = 5000;

	(void)state;
	st = store_open(NULL, err, sizeof(err));
	assert_non_null(st);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "c%zu", i);
		snprintf(tok, sizeof(tok), "token-%zu", i);
		client_new(st, name, tok);
	}
	for (i = 0; i < n; i += 7) {
		snprintf(tok, sizeof(tok), "token-%zu", i);
		snprintf(name, sizeof(name), "c%zu", i);
		assert_ptr_equal(store_client_by_token(st, tok, strlen(tok)),
		    store_client_find(st, name));
	}
	assert_null(store_client_by_token(st, "token-5000", 10));
	assert_null(store_client_by_token(st, "token-1 ", 8));
	/* delete every third: the rest still found, those not */
	for (i = 0; i < n; i += 3) {
		snprintf(name, sizeof(name), "c%zu", i);
		assert_int_equal(store_client_delete(st, name), 0);
	}
	for (i = 0; i < n; i++) {
		snprintf(tok, sizeof(tok), "token-%zu", i);
		snprintf(name, sizeof(name), "c%zu", i);
		if (i % 3 == 0) {
			assert_null(store_client_by_token(st, tok, strlen(tok)));
			assert_null(store_client_find(st, name));
		} else {
			assert_ptr_equal(
			    store_client_by_token(st, tok, strlen(tok)),
			    store_client_find(st, name));
			assert_string_equal(store_client_find(st, name)->name,
			    name);
		}
	}
	/* a deleted client's token may be given to a new one */
	client_new(st, "again", "token-0");
	assert_ptr_equal(store_client_by_token(st, "token-0", 7),
	    store_client_find(st, "again"));
	store_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test(test_rule_parse_full),
	    cmocka_unit_test(test_rule_parse_minimal),
	    cmocka_unit_test(test_rule_parse_ttl),
	    cmocka_unit_test(test_rule_parse_invalid),
	    cmocka_unit_test(test_rule_parse_error_quoting),
	    cmocka_unit_test(test_rule_parse_limits),
	    cmocka_unit_test(test_rule_add_ids),
	    cmocka_unit_test(test_rule_add_errors),
	    cmocka_unit_test(test_rule_delete),
	    cmocka_unit_test(test_expire),
	    cmocka_unit_test(test_client_add_delete),
	    cmocka_unit_test(test_client_by_token),
	    cmocka_unit_test(test_secret_add),
	    cmocka_unit_test(test_secret_invalid),
	    cmocka_unit_test(test_secret_value_limits),
	    cmocka_unit_test(test_secret_delete),
	    cmocka_unit_test(test_secret_oauth_count),
	    cmocka_unit_test(test_secret_find_many),
	    cmocka_unit_test(test_client_dns_inflight),
	    cmocka_unit_test(test_secret_type_names),
	    cmocka_unit_test(test_decide_table),
	    cmocka_unit_test(test_decide_specificity),
	    cmocka_unit_test(test_decide_edge),
	    cmocka_unit_test(test_host_allowed),
	    cmocka_unit_test(test_json_views),
	    cmocka_unit_test(test_pool_generation),
	    cmocka_unit_test(test_persist_round_trip),
	    cmocka_unit_test(test_persist_modes),
	    cmocka_unit_test(test_persist_value_flush),
	    cmocka_unit_test(test_persist_refuse_modes),
	    cmocka_unit_test(test_persist_corrupt),
	    cmocka_unit_test(test_persist_leftovers),
	    cmocka_unit_test(test_persist_secret_replace),
	    cmocka_unit_test(test_persist_kill9),
	    cmocka_unit_test(test_generation),
	    cmocka_unit_test(test_index_equals_scan),
	    cmocka_unit_test(test_index_many_rules),
	    cmocka_unit_test(test_rules_add_batch),
	    cmocka_unit_test(test_rules_total_cap),
	    cmocka_unit_test(test_token_many_clients),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
