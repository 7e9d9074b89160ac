/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_audit.c - the audit log: the JSON line writer (escapes, invalid
 * UTF-8, numbers, cuts at and past LIMIT_AUDIT_LINE), the ring of recent
 * lines, follower filters, batched output (file, a full stdout pipe, the
 * event loop hook) and audit_emit() with a jansson record.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit.h"
#include "log.h"
#include "ev.h"
#include "slicer_limits.h"

/* `,"time":"YYYY-MM-DDTHH:MM:SS.mmmZ"}` and the newline */
#define TAIL_LEN 36

static struct audit_rec rec; /* big: not on the test's stack */

/* ---------------------------------------------------------- helpers */

struct lines {
	char **v;
	size_t n;
};

static void
lines_add(struct lines *l, const char *line, size_t len)
{
	char *copy = malloc(len + 1);

	assert_non_null(copy);
	memcpy(copy, line, len);
	copy[len] = '\0';
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	assert_non_null(l->v);
	l->v[l->n++] = copy;
}

static void
lines_free(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void
recent_cb(void *arg, const char *line, size_t len)
{
	/* the ring hands out NUL-terminated lines */
	assert_int_equal(strlen(line), len);
	lines_add(arg, line, len);
}

/* The newest line in the ring, copied (free it). */
static char *
last_line(struct audit *a)
{
	struct lines l = { 0 };
	char *line;

	audit_recent(a, recent_cb, &l);
	assert_true(l.n > 0);
	line = l.v[l.n - 1];
	l.v[l.n - 1] = NULL;
	l.n--;
	lines_free(&l);
	return line;
}

/* "time" is the last member, RFC 3339 UTC with ms, and recent. */
static void
check_time(const char *line)
{
	size_t len = strlen(line);
	const char *t;
	struct tm tm;
	size_t i;

	assert_true(len > TAIL_LEN);
	assert_memory_equal(line + len - TAIL_LEN, ",\"time\":\"", 9);
	assert_string_equal(line + len - 3, "\"}\n");
	t = line + len - TAIL_LEN + 9;
	for (i = 0; i < 24; i++) {
		if (i == 4 || i == 7)
			assert_int_equal(t[i], '-');
		else if (i == 10)
			assert_int_equal(t[i], 'T');
		else if (i == 13 || i == 16)
			assert_int_equal(t[i], ':');
		else if (i == 19)
			assert_int_equal(t[i], '.');
		else if (i == 23)
			assert_int_equal(t[i], 'Z');
		else
			assert_true(t[i] >= '0' && t[i] <= '9');
	}
	memset(&tm, 0, sizeof(tm));
	assert_non_null(strptime(t, "%Y-%m-%dT%H:%M:%S", &tm));
	assert_true(llabs((long long)(timegm(&tm) - time(NULL))) < 600);
}

/* Parse one line: an object, newline-terminated, valid time; "time" is
 * taken out so that the rest can be compared. */
static json_t *
parse_line(const char *line)
{
	json_error_t err;
	json_t *j;

	assert_true(strlen(line) <= LIMIT_AUDIT_LINE);
	assert_int_equal(line[strlen(line) - 1], '\n');
	assert_ptr_equal(strchr(line, '\n'), line + strlen(line) - 1);
	j = json_loads(line, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		fail_msg("not JSON: %s: %.200s", err.text, line);
	assert_true(json_is_object(j));
	check_time(line);
	assert_int_equal(json_object_del(j, "time"), 0);
	return j;
}

static struct audit *
audit_mem(void)
{
	char err[256];
	struct audit *a = audit_new(NULL, (uid_t)-1, err, sizeof(err));

	assert_non_null(a);
	return a;
}

/* The line without its "time", as jansson's compact dump would write it. */
static char *
line_sans_time(const char *line)
{
	size_t len = strlen(line);
	char *s = malloc(len);

	assert_non_null(s);
	memcpy(s, line, len - TAIL_LEN);
	s[len - TAIL_LEN] = '}';
	s[len - TAIL_LEN + 1] = '\0';
	return s;
}

static void
assert_same_as_jansson(const char *line, json_t *want)
{
	char *dump = json_dumps(want, JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *mine = line_sans_time(line);

	assert_non_null(dump);
	assert_string_equal(mine, dump);
	free(dump);
	free(mine);
}

/* Read a file's lines into l; returns how many. */
static size_t
file_lines(const char *path, struct lines *l)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	assert_non_null(f);
	while ((n = getline(&line, &cap, f)) > 0)
		lines_add(l, line, (size_t)n);
	free(line);
	fclose(f);
	return l->n;
}

static size_t
file_count(const char *path)
{
	struct lines l = { 0 };
	size_t n = file_lines(path, &l);

	lines_free(&l);
	return n;
}

/* ---------------------------------------------------------- strings */

#define FFFD "\xef\xbf\xbd"

static const struct {
	const char *name;
	const char *in;
	const char *want;
} strings[] = {
	{ "plain", "/v1/chat/completions", "/v1/chat/completions" },
	{ "empty", "", "" },
	{ "quote and backslash", "a\"b\\c", "a\"b\\c" },
	{ "slash stays", "a/b", "a/b" },
	{ "short escapes", "\b\f\n\r\t", "\b\f\n\r\t" },
	{ "other control characters", "\x01\x1f\x7f x", "\x01\x1f\x7f x" },
	{ "valid UTF-8, 2 to 4 bytes", "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e",
	    "\xc3\xa9\xe2\x82\xac\xf0\x9d\x84\x9e" },
	{ "highest code point", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf" },
	{ "lone 0xff", "a\xff" "b", "a" FFFD "b" },
	{ "lone continuation byte", "\x80", FFFD },
	{ "sequence cut at the end", "a\xc3", "a" FFFD },
	{ "sequence cut by ASCII", "\xe2\x82x", FFFD FFFD "x" },
	{ "overlong 2-byte", "\xc0\xaf", FFFD FFFD },
	{ "overlong 3-byte", "\xe0\x80\xaf", FFFD FFFD FFFD },
	{ "overlong 4-byte", "\xf0\x80\x80\xaf", FFFD FFFD FFFD FFFD },
	{ "surrogate", "\xed\xa0\x80", FFFD FFFD FFFD },
	{ "past U+10FFFF", "\xf4\x90\x80\x80", FFFD FFFD FFFD FFFD },
	{ "0xf5 lead", "\xf5\x80\x80\x80", FFFD FFFD FFFD FFFD },
	{ "valid after invalid", "\xfe\xc3\xa9", FFFD "\xc3\xa9" },
};

static void
test_strings(void **state)
{
	struct audit *a = audit_mem();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		json_t *got, *want;
		char *line;

		audit_rec_begin(&rec, "t");
		audit_rec_str(&rec, "v", strings[i].in);
		audit_rec_emit(a, &rec);
		line = last_line(a);
		got = parse_line(line);
		want = json_pack("{s:s,s:s}", "event", "t", "v",
		    strings[i].want);
		assert_non_null(want);
		if (!json_equal(got, want))
			fail_msg("%s: got %s", strings[i].name, line);
		/* valid input: byte for byte what jansson wrote before */
		if (strcmp(strings[i].in, strings[i].want) == 0)
			assert_same_as_jansson(line, want);
		else
			assert_non_null(strstr(line, "\\ufffd"));
		json_decref(got);
		json_decref(want);
		free(line);
	}
	audit_free(a);
}

static void
test_null_and_integers(void **state)
{
	static const long long ints[] = { 0, 1, -1, 1234567890123LL,
	    LLONG_MAX, LLONG_MIN };
	struct audit *a = audit_mem();
	json_t *got, *want;
	char key[16], *line;
	size_t i;

	(void)state;
	audit_rec_begin(&rec, NULL);
	audit_rec_str(&rec, "s", NULL);
	audit_rec_null(&rec, "z");
	want = json_pack("{s:n,s:n,s:n}", "event", "s", "z");
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		snprintf(key, sizeof(key), "i%zu", i);
		audit_rec_int(&rec, key, ints[i]);
		json_object_set_new(want, key, json_integer(ints[i]));
	}
	audit_rec_emit(a, &rec);
	assert_false(rec.is_truncated);
	line = last_line(a);
	got = parse_line(line);
	assert_true(json_equal(got, want));
	assert_int_equal(json_integer_value(json_object_get(got, "i4")),
	    LLONG_MAX);
	assert_int_equal(json_integer_value(json_object_get(got, "i5")),
	    LLONG_MIN);
	assert_same_as_jansson(line, want);
	json_decref(got);
	json_decref(want);
	free(line);
	audit_free(a);
}

/* The members conn_audit writes, in its order: the line is what jansson
 * wrote before (plus "time" at the end, as before). */
static void
test_conn_record_shape(void **state)
{
	struct audit *a = audit_mem();
	json_t *want;
	char *line;

	(void)state;
	audit_rec_begin(&rec, "request");
	audit_rec_int(&rec, "conn", 42);
	audit_rec_str(&rec, "peer", "192.0.2.10:51234");
	audit_rec_str(&rec, "client", "vm1");
	audit_rec_str(&rec, "method", "GET");
	audit_rec_str(&rec, "scheme", "https");
	audit_rec_str(&rec, "host", "api.example.test");
	audit_rec_int(&rec, "port", 443);
	audit_rec_str(&rec, "path", "/v1/a%22b");
	audit_rec_str(&rec, "decision", "allow");
	audit_rec_str(&rec, "rule", "r_1");
	audit_rec_str(&rec, "reason", NULL);
	audit_rec_int(&rec, "status", 200);
	audit_rec_int(&rec, "bytes_in", 123);
	audit_rec_int(&rec, "bytes_out", 4567);
	audit_rec_int(&rec, "duration_ms", 12);
	audit_rec_str(&rec, "secret", NULL);
	audit_rec_str(&rec, "mode", "intercept");
	audit_rec_emit(a, &rec);
	want = json_object();
	json_object_set_new(want, "event", json_string("request"));
	json_object_set_new(want, "conn", json_integer(42));
	json_object_set_new(want, "peer", json_string("192.0.2.10:51234"));
	json_object_set_new(want, "client", json_string("vm1"));
	json_object_set_new(want, "method", json_string("GET"));
	json_object_set_new(want, "scheme", json_string("https"));
	json_object_set_new(want, "host", json_string("api.example.test"));
	json_object_set_new(want, "port", json_integer(443));
	json_object_set_new(want, "path", json_string("/v1/a%22b"));
	json_object_set_new(want, "decision", json_string("allow"));
	json_object_set_new(want, "rule", json_string("r_1"));
	json_object_set_new(want, "reason", json_null());
	json_object_set_new(want, "status", json_integer(200));
	json_object_set_new(want, "bytes_in", json_integer(123));
	json_object_set_new(want, "bytes_out", json_integer(4567));
	json_object_set_new(want, "duration_ms", json_integer(12));
	json_object_set_new(want, "secret", json_null());
	json_object_set_new(want, "mode", json_string("intercept"));
	line = last_line(a);
	json_decref(parse_line(line));
	assert_same_as_jansson(line, want);
	json_decref(want);
	free(line);
	audit_free(a);
}

/* ---------------------------------------------------------- cuts */

static char *
repeat(const char *unit, size_t n)
{
	size_t ulen = strlen(unit), i;
	char *s = malloc(ulen * n + 1);

	assert_non_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + i * ulen, unit, ulen);
	s[ulen * n] = '\0';
	return s;
}

/* Emit {"event":"t","v":<v>,"after":"x"}; return the line. */
static char *
emit_v_after(struct audit *a, const char *v)
{
	audit_rec_begin(&rec, "t");
	audit_rec_str(&rec, "v", v);
	audit_rec_str(&rec, "after", "x");
	audit_rec_emit(a, &rec);
	return last_line(a);
}

/* {"event":"t","v":<v>} and, with nw > 0, short members w0..w<nw-1> of
 * wlen bytes each, the last one wlen_last bytes; then int n if has_n. */
static char *
emit_filled(struct audit *a, const char *v, int nw, size_t wlen,
    size_t wlen_last, int has_n)
{
	char key[8], *w;
	int i;

	audit_rec_begin(&rec, "t");
	audit_rec_str(&rec, "v", v);
	for (i = 0; i < nw; i++) {
		w = repeat("w", i == nw - 1 ? wlen_last : wlen);
		snprintf(key, sizeof(key), "w%d", i);
		audit_rec_str(&rec, key, w);
		free(w);
	}
	if (has_n)
		audit_rec_int(&rec, "n", 7);
	audit_rec_emit(a, &rec);
	return last_line(a);
}

static void
test_cut_at_and_past_limit(void **state)
{
	/* four short members of this value length fill AUDIT_SHORT_ROOM:
	 * `,"wN":"` and `"` are 8 bytes */
	const size_t wlen = AUDIT_SHORT_ROOM / 4 - 8;
	struct audit *a = audit_mem();
	size_t base, n;
	char *line, *v;
	const char *got;
	json_t *j;

	(void)state;
	assert_int_equal(AUDIT_SHORT_ROOM % 4, 0);
	assert_true(wlen <= AUDIT_LONG_VALUE);
	line = emit_filled(a, "", 0, 0, 0, 0);
	base = strlen(line);
	free(line);
	/* the longest long value that needs no cut */
	n = LIMIT_AUDIT_LINE - AUDIT_TRUNC_RESERVE - AUDIT_SHORT_ROOM - base;

	/* a long value at its mark: whole */
	v = repeat("a", n);
	line = emit_filled(a, v, 0, 0, 0, 0);
	assert_int_equal(strlen(line),
	    LIMIT_AUDIT_LINE - AUDIT_TRUNC_RESERVE - AUDIT_SHORT_ROOM);
	assert_false(rec.is_truncated);
	j = parse_line(line);
	assert_string_equal(json_string_value(json_object_get(j, "v")), v);
	assert_null(json_object_get(j, "truncated"));
	json_decref(j);
	free(line);

	/* and short members up to the line limit: the longest whole line */
	line = emit_filled(a, v, 4, wlen, wlen, 0);
	assert_int_equal(strlen(line), LIMIT_AUDIT_LINE - AUDIT_TRUNC_RESERVE);
	assert_false(rec.is_truncated);
	j = parse_line(line);
	assert_string_equal(json_string_value(json_object_get(j, "v")), v);
	assert_int_equal(json_string_length(json_object_get(j, "w3")), wlen);
	json_decref(j);
	free(line);

	/* one byte past: the last short member becomes null */
	line = emit_filled(a, v, 4, wlen, wlen + 1, 0);
	assert_true(rec.is_truncated);
	assert_true(strlen(line) <= LIMIT_AUDIT_LINE);
	j = parse_line(line);
	assert_string_equal(json_string_value(json_object_get(j, "v")), v);
	assert_int_equal(json_string_length(json_object_get(j, "w2")), wlen);
	assert_true(json_is_null(json_object_get(j, "w3")));
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	free(line);

	/* full, then a number: left out; the line is exactly at the limit */
	line = emit_filled(a, v, 4, wlen, wlen, 1);
	assert_true(rec.is_truncated);
	assert_int_equal(strlen(line), LIMIT_AUDIT_LINE);
	j = parse_line(line);
	assert_int_equal(json_string_length(json_object_get(j, "w3")), wlen);
	assert_null(json_object_get(j, "n"));
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	free(line);
	free(v);

	/* a long value one byte past its mark is cut there; the short
	 * members after it keep their room */
	v = repeat("a", n + 1);
	line = emit_filled(a, v, 4, wlen, wlen, 1);
	assert_true(rec.is_truncated);
	assert_true(strlen(line) <= LIMIT_AUDIT_LINE);
	j = parse_line(line);
	got = json_string_value(json_object_get(j, "v"));
	assert_non_null(got);
	assert_int_equal(strlen(got), n);
	assert_memory_equal(got, v, n);
	assert_int_equal(json_string_length(json_object_get(j, "w3")), wlen);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	free(line);
	free(v);
	audit_free(a);
}

/* Cuts never split an escape or a character. */
static void
test_cut_keeps_json_valid(void **state)
{
	static const struct {
		const char *unit;
		const char *decoded;
	} units[] = {
		{ "\x01", "\x01" },     /* \u0001: six bytes each */
		{ "\"", "\"" },         /* \" */
		{ "\xe2\x82\xac", "\xe2\x82\xac" }, /* three-byte character */
		{ "\xff", FFFD },       /* \ufffd */
		{ "ab\n", "ab\n" },
	};
	struct audit *a = audit_mem();
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		char *v = repeat(units[i].unit, LIMIT_AUDIT_LINE);
		char *line = emit_v_after(a, v);
		json_t *j = parse_line(line);
		const char *got = json_string_value(json_object_get(j, "v"));
		size_t dlen = strlen(units[i].decoded), k;

		assert_true(rec.is_truncated);
		assert_true(strlen(line) <= LIMIT_AUDIT_LINE);
		assert_non_null(got);
		assert_true(strlen(got) > 0);
		assert_int_equal(strlen(got) % dlen, 0);
		for (k = 0; k < strlen(got); k += dlen)
			assert_memory_equal(got + k, units[i].decoded, dlen);
		assert_string_equal(json_string_value(json_object_get(j,
		    "after")), "x");
		json_decref(j);
		free(line);
		free(v);
	}
	audit_free(a);
}

/* Many long members: the line stays valid and bounded, members keep
 * their order, and the short ones after the cut still make it. */
static void
test_cut_many_members(void **state)
{
	struct audit *a = audit_mem();
	char *v = repeat("b", 2000), key[8], *line;
	const char *k, *prev = NULL;
	json_t *j, *val;
	int i, nfull = 0, ncut = 0, nnull = 0;

	(void)state;
	audit_rec_begin(&rec, "t");
	for (i = 0; i < 12; i++) {
		snprintf(key, sizeof(key), "m%02d", i);
		audit_rec_str(&rec, key, v);
	}
	audit_rec_str(&rec, "decision", "deny");
	audit_rec_int(&rec, "n", 5);
	audit_rec_emit(a, &rec);
	line = last_line(a);
	assert_true(strlen(line) <= LIMIT_AUDIT_LINE);
	j = parse_line(line);
	json_object_foreach(j, k, val) {
		if (k[0] != 'm')
			continue;
		if (prev != NULL)
			assert_true(strcmp(prev, k) < 0);
		prev = k;
		if (json_is_null(val)) {
			nnull++;
			continue;
		}
		assert_memory_equal(json_string_value(val), v,
		    json_string_length(val));
		if (json_string_length(val) == 2000)
			nfull++;
		else
			ncut++;
	}
	/* whole while they end before the short members' room, one cut
	 * there, the rest null */
	assert_int_equal(nfull + ncut + nnull, 12);
	assert_int_equal(ncut, 1);
	/* `{"event":"t"` is 12 bytes, each `,"mNN":"<2000>"` 2009 */
	assert_int_equal(nfull, (LIMIT_AUDIT_LINE - TAIL_LEN -
	    AUDIT_TRUNC_RESERVE - AUDIT_SHORT_ROOM - 12) / 2009);
	assert_string_equal(json_string_value(json_object_get(j, "decision")),
	    "deny");
	assert_int_equal(json_integer_value(json_object_get(j, "n")), 5);
	assert_true(json_is_true(json_object_get(j, "truncated")));
	json_decref(j);
	free(line);
	free(v);
	audit_free(a);
}

/* ---------------------------------------------------------- audit_emit */

static void
test_emit_json(void **state)
{
	struct audit *a = audit_mem();
	json_t *rec_j, *want, *got;
	char *line, *big;

	(void)state;
	rec_j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:b,s:b,s:n,s:[i,s],s:f}",
	    "event", "oauth", "decision", "allow", "secret", "gh",
	    "host", "auth.example.test", "reason", "refreshed \"ok\"\n",
	    "rules", 3, "yes", 1, "no", 0, "none", "list", 1, "x",
	    "real", 0.5);
	assert_non_null(rec_j);
	json_object_set_new(rec_j, "time", json_string("ignored"));
	want = json_deep_copy(rec_j);
	json_object_del(want, "time");
	audit_emit(a, rec_j); /* takes the reference */
	line = last_line(a);
	got = parse_line(line);
	assert_true(json_equal(got, want));
	assert_same_as_jansson(line, want);
	json_decref(got);
	json_decref(want);
	free(line);

	/* a long string through the jansson path is cut the same way */
	big = repeat("z", 3 * LIMIT_AUDIT_LINE);
	audit_emit(a, json_pack("{s:s,s:s,s:s}", "event", "expire",
	    "reason", big, "decision", "revoke"));
	line = last_line(a);
	got = parse_line(line);
	assert_true(json_is_true(json_object_get(got, "truncated")));
	assert_string_equal(json_string_value(json_object_get(got,
	    "decision")), "revoke");
	json_decref(got);
	free(line);
	free(big);

	audit_emit(a, NULL); /* a failed json_pack: nothing happens */
	audit_free(a);
}

/* ---------------------------------------------------------- ring */

static void
test_ring_order_and_reuse(void **state)
{
	struct audit *a = audit_mem();
	struct lines l = { 0 };
	char *big;
	size_t i, total = LIMIT_AUDIT_RING + 5;
	json_t *j;

	(void)state;
	for (i = 0; i < total; i++) {
		audit_rec_begin(&rec, "t");
		audit_rec_int(&rec, "seq", (long long)i);
		audit_rec_emit(a, &rec);
	}
	audit_recent(a, recent_cb, &l);
	assert_int_equal(l.n, LIMIT_AUDIT_RING);
	for (i = 0; i < l.n; i++) {
		j = parse_line(l.v[i]);
		assert_int_equal(json_integer_value(json_object_get(j, "seq")),
		    i + 5);
		json_decref(j);
	}
	lines_free(&l);

	/* a longer line into a reused slot, then short ones over it */
	big = repeat("q", 6000);
	audit_rec_begin(&rec, "big");
	audit_rec_str(&rec, "v", big);
	audit_rec_emit(a, &rec);
	audit_recent(a, recent_cb, &l);
	assert_int_equal(l.n, LIMIT_AUDIT_RING);
	j = parse_line(l.v[l.n - 1]);
	assert_string_equal(json_string_value(json_object_get(j, "v")), big);
	json_decref(j);
	j = parse_line(l.v[0]);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 6);
	json_decref(j);
	lines_free(&l);
	for (i = 0; i < LIMIT_AUDIT_RING; i++) {
		audit_rec_begin(&rec, "t");
		audit_rec_int(&rec, "seq", (long long)i);
		audit_rec_emit(a, &rec);
	}
	audit_recent(a, recent_cb, &l);
	assert_int_equal(l.n, LIMIT_AUDIT_RING);
	j = parse_line(l.v[0]);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 0);
	json_decref(j);
	lines_free(&l);
	free(big);
	audit_free(a);
}

/* ---------------------------------------------------------- followers */

struct fol {
	struct audit_follower f;
	struct lines got;
	int fail_at; /* return -1 on this delivery (1-based); 0 never */
	int gone;
};

static int
fol_write(void *arg, const char *line, size_t len)
{
	struct fol *fo = arg;

	assert_int_equal(line[len - 1], '\n');
	lines_add(&fo->got, line, len);
	return (int)fo->got.n == fo->fail_at ? -1 : 0;
}

static void
fol_gone(void *arg)
{
	struct fol *fo = arg;

	fo->gone++;
}

static void
fol_init(struct fol *fo, const char *client, int denied_only, int fail_at)
{
	memset(fo, 0, sizeof(*fo));
	fo->f.write = fol_write;
	fo->f.gone = fol_gone;
	fo->f.arg = fo;
	snprintf(fo->f.client, sizeof(fo->f.client), "%s", client);
	fo->f.is_denied_only = denied_only;
	fo->fail_at = fail_at;
}

static void
test_followers(void **state)
{
	static const struct {
		const char *client;
		const char *decision;
	} recs[] = {
		{ "c1", "allow" },
		{ "c2", "deny" },
		{ NULL, "deny" },
		{ "c1", "deny" },
		{ "c10", "allow" },
		{ "c1", "error" },
		{ "", "deny" },
		{ "c1", NULL },
	};
	struct audit *a = audit_mem();
	struct fol all, c1, denied, c1denied, dropped;
	struct fol *fols[] = { &all, &c1, &denied, &c1denied, &dropped };
	size_t i, k;

	(void)state;
	fol_init(&all, "", 0, 0);
	fol_init(&c1, "c1", 0, 0);
	fol_init(&denied, "", 1, 0);
	fol_init(&c1denied, "c1", 1, 0);
	fol_init(&dropped, "", 0, 2);
	for (k = 0; k < 5; k++)
		audit_follow(a, &fols[k]->f, NULL, NULL);
	for (i = 0; i < sizeof(recs) / sizeof(recs[0]); i++) {
		audit_rec_begin(&rec, "request");
		audit_rec_str(&rec, "client", recs[i].client);
		audit_rec_str(&rec, "decision", recs[i].decision);
		audit_rec_int(&rec, "seq", (long long)i);
		audit_rec_emit(a, &rec);
	}
	/* the jansson path filters the same way */
	audit_emit(a, json_pack("{s:s,s:s,s:s}", "event", "oauth",
	    "client", "c1", "decision", "deny"));
	/* followers are fed when the owner's loop is about to wait */
	assert_int_equal(all.got.n, 0);
	audit_flush_hook(a);

	assert_int_equal(all.got.n, 9);
	assert_int_equal(c1.got.n, 5);
	assert_int_equal(denied.got.n, 5);
	assert_int_equal(c1denied.got.n, 2);
	/* dropped after its second line, told once, sent nothing more */
	assert_int_equal(dropped.got.n, 2);
	assert_int_equal(dropped.gone, 1);

	/* the filters agree with audit_line_matches() on every line */
	for (i = 0; i < all.got.n; i++) {
		const char *line = all.got.v[i];
		int in_c1 = 0, in_d = 0, in_c1d = 0;

		for (k = 0; k < c1.got.n; k++)
			in_c1 |= strcmp(c1.got.v[k], line) == 0;
		for (k = 0; k < denied.got.n; k++)
			in_d |= strcmp(denied.got.v[k], line) == 0;
		for (k = 0; k < c1denied.got.n; k++)
			in_c1d |= strcmp(c1denied.got.v[k], line) == 0;
		assert_int_equal(in_c1, audit_line_matches(line, "c1", 0));
		assert_int_equal(in_d, audit_line_matches(line, "", 1));
		assert_int_equal(in_c1d, audit_line_matches(line, "c1", 1));
		json_decref(parse_line(line));
	}

	audit_unfollow(a, &all.f);
	audit_free(a);
	assert_int_equal(all.gone, 0);
	assert_int_equal(c1.gone, 1);
	assert_int_equal(denied.gone, 1);
	assert_int_equal(c1denied.gone, 1);
	assert_int_equal(dropped.gone, 1);
	for (k = 0; k < 5; k++)
		lines_free(&fols[k]->got);
}

/* Lines emitted on another thread: one wake-up, fed on the owner's. */
struct emitter {
	struct audit *a;
	int n;
};

static void *
emitter_run(void *arg)
{
	struct emitter *e = arg;
	struct audit_rec *r = malloc(sizeof(*r));
	int i;

	assert_non_null(r);
	for (i = 0; i < e->n; i++) {
		audit_rec_begin(r, "request");
		audit_rec_str(r, "client", "c1");
		audit_rec_int(r, "seq", i);
		audit_rec_emit(e->a, r);
	}
	free(r);
	return NULL;
}

static int wakes;

static void
count_wake(void *arg)
{
	(void)arg;
	wakes++;
}

static void
test_followers_other_thread(void **state)
{
	struct audit *a = audit_mem();
	struct emitter e = { a, 3 };
	struct fol all, late;
	pthread_t t;
	char want[32];
	size_t i;

	(void)state;
	wakes = 0;
	audit_set_wake(a, count_wake, NULL);
	fol_init(&all, "", 0, 0);
	audit_follow(a, &all.f, NULL, NULL);
	assert_int_equal(pthread_create(&t, NULL, emitter_run, &e), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	/* woken once for the three lines; nothing fed off the owner thread */
	assert_int_equal(wakes, 1);
	assert_int_equal(all.got.n, 0);
	/* a follower that comes later gets only what comes after it */
	fol_init(&late, "", 0, 0);
	audit_follow(a, &late.f, NULL, NULL);
	assert_int_equal(all.got.n, 3);
	for (i = 0; i < all.got.n; i++) {
		snprintf(want, sizeof(want), "\"seq\":%zu,", i);
		assert_non_null(strstr(all.got.v[i], want));
	}
	e.n = 2;
	assert_int_equal(pthread_create(&t, NULL, emitter_run, &e), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(wakes, 2);
	audit_flush_hook(a);
	assert_int_equal(all.got.n, 5);
	assert_int_equal(late.got.n, 2);
	audit_unfollow(a, &all.f);
	audit_unfollow(a, &late.f);
	audit_free(a);
	lines_free(&all.got);
	lines_free(&late.got);
}

/* ---------------------------------------------------------- output */

static void
emit_seq(struct audit *a, long long seq)
{
	audit_rec_begin(&rec, "request");
	audit_rec_int(&rec, "seq", seq);
	audit_rec_str(&rec, "path", "/some/path/to/make/the/line/longer");
	audit_rec_emit(a, &rec);
}

/* Every line parses and seq counts up from 0 without a gap. */
static void
check_seq_lines(struct lines *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		json_t *j = parse_line(l->v[i]);

		assert_int_equal(json_integer_value(json_object_get(j, "seq")),
		    i);
		json_decref(j);
	}
}

static void
test_file_batched(void **state)
{
	char path[] = "/tmp/test_audit.XXXXXX", rotated[64], err[256];
	struct lines l = { 0 };
	struct audit *a;
	long long seq = 0;
	size_t n;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd != -1);
	close(fd);
	a = audit_new(path, (uid_t)-1, err, sizeof(err));
	assert_non_null(a);

	/* no loop hook yet: each record is written at once */
	emit_seq(a, seq++);
	assert_int_equal(file_count(path), 1);

	/* the hook switches to batching */
	audit_flush_hook(a);
	emit_seq(a, seq++);
	assert_int_equal(file_count(path), 1);
	audit_flush(a);
	assert_int_equal(file_count(path), 2);

	/* more than the buffer holds: written as it fills, all after flush */
	while (seq < 3000)
		emit_seq(a, seq++);
	n = file_count(path);
	assert_true(n > 2 && n < 3000);
	audit_flush(a);
	n = file_lines(path, &l);
	assert_int_equal(n, 3000);
	check_seq_lines(&l);
	lines_free(&l);

	/* audit_reopen writes the old file's lines to the old file */
	emit_seq(a, seq++);
	snprintf(rotated, sizeof(rotated), "%s.1", path);
	assert_int_equal(rename(path, rotated), 0);
	assert_int_equal(audit_reopen(a), 0);
	assert_int_equal(file_count(rotated), 3001);
	assert_int_equal(file_count(path), 0);

	/* audit_free writes what is left */
	emit_seq(a, seq++);
	emit_seq(a, seq++);
	assert_int_equal(file_count(path), 0);
	audit_free(a);
	assert_int_equal(file_count(path), 2);
	assert_int_equal(unlink(rotated), 0);
	assert_int_equal(unlink(path), 0);
}

static size_t
drain(int fd, char **buf, size_t *len, size_t *cap)
{
	size_t got = 0;

	for (;;) {
		ssize_t n;

		if (*cap - *len < 65536) {
			*cap = *cap * 2 + 65536;
			*buf = realloc(*buf, *cap);
			assert_non_null(*buf);
		}
		n = read(fd, *buf + *len, *cap - *len);
		if (n <= 0)
			break;
		*len += (size_t)n;
		got += (size_t)n;
	}
	return got;
}

/* stdout is a full non-blocking pipe: short writes and EAGAIN keep lines,
 * a full buffer drops new ones (counted, warned about once), nothing is
 * lost or torn otherwise. */
static void
test_stdout_blocked(void **state)
{
	char errpath[] = "/tmp/test_audit_err.XXXXXX", err[256];
	char *out = NULL, *p, *nl, *warn = NULL;
	size_t len = 0, cap = 0, wcap = 0, nwarn = 0;
	struct lines l = { 0 };
	int pp[2], saved_out, saved_err, errfd, tries;
	unsigned long long drops = 0;
	struct audit *a;
	long long seq = 0;
	FILE *f;

	(void)state;
	assert_int_equal(pipe2(pp, O_NONBLOCK | O_CLOEXEC), 0);
	(void)fcntl(pp[1], F_SETPIPE_SZ, 4096);
	errfd = mkstemp(errpath);
	assert_true(errfd != -1);
	fflush(stdout);
	fflush(stderr);
	saved_out = dup(STDOUT_FILENO);
	saved_err = dup(STDERR_FILENO);
	assert_true(saved_out != -1 && saved_err != -1);
	assert_int_equal(dup2(pp[1], STDOUT_FILENO), STDOUT_FILENO);
	assert_int_equal(dup2(errfd, STDERR_FILENO), STDERR_FILENO);

	/* nothing may print to the real stdout from here to the restore */
	a = audit_new("-", (uid_t)-1, err, sizeof(err));
	if (a != NULL) {
		audit_flush_hook(a);
		while (seq < 100000 && audit_drops(a) == 0)
			emit_seq(a, seq++);
		/* drop a few more, within the same warning second or not */
		for (tries = 0; tries < 10; tries++)
			emit_seq(a, seq++);
		drops = audit_drops(a);
		/* the reader catches up: the rest arrives, untorn */
		for (tries = 0; tries < 1000; tries++) {
			drain(pp[0], &out, &len, &cap);
			audit_flush(a);
			if (drain(pp[0], &out, &len, &cap) == 0)
				break;
		}
		audit_free(a);
		drain(pp[0], &out, &len, &cap);
	}
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	close(saved_out);
	close(saved_err);
	close(pp[0]);
	close(pp[1]);
	close(errfd);

	assert_non_null(a);
	assert_true(drops >= 10);
	assert_true(len > 0 && out[len - 1] == '\n');
	for (p = out; p < out + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(out + len - p));
		assert_non_null(nl);
		lines_add(&l, p, (size_t)(nl - p + 1));
	}
	/* the first lines came through in order, the later ones dropped */
	assert_int_equal(l.n + drops, (size_t)seq);
	check_seq_lines(&l);
	lines_free(&l);
	free(out);

	/* at most one drop warning a second */
	f = fopen(errpath, "r");
	assert_non_null(f);
	while (getline(&warn, &wcap, f) > 0)
		nwarn += strstr(warn, "records dropped") != NULL;
	free(warn);
	fclose(f);
	unlink(errpath);
	assert_true(nwarn >= 1 && nwarn <= 2);
}

/* The event loop flushes the log right before it waits. */
struct loop {
	struct ev *ev;
	struct ev_timer t;
	struct audit *a;
	const char *path;
	size_t seen[3];
	int step;
};

static void
loop_timer_cb(struct ev_timer *t)
{
	struct loop *lp = t->arg;

	lp->seen[lp->step] = file_count(lp->path);
	if (lp->step == 0)
		emit_seq(lp->a, 0);
	if (++lp->step == 3) {
		ev_break(lp->ev);
		return;
	}
	/* 1 ms: a 0 ms timer re-armed in its callback fires again in the
	 * same pass, without a wait in between */
	ev_timer_arm(lp->ev, &lp->t, 1);
}

static void
test_loop_hook(void **state)
{
	char path[] = "/tmp/test_audit.XXXXXX", err[256];
	struct loop lp;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd != -1);
	close(fd);
	memset(&lp, 0, sizeof(lp));
	lp.path = path;
	lp.ev = ev_new();
	assert_non_null(lp.ev);
	lp.a = audit_new(path, (uid_t)-1, err, sizeof(err));
	assert_non_null(lp.a);
	ev_on_wait(lp.ev, audit_flush_hook, lp.a);
	ev_timer_init(&lp.t, loop_timer_cb, &lp);
	ev_timer_arm(lp.ev, &lp.t, 0);
	assert_int_equal(ev_run(lp.ev), 0);
	/* emitted in step 0 (batched: not yet in the file), written before
	 * the next wait */
	assert_int_equal(lp.seen[0], 0);
	assert_int_equal(lp.seen[1], 1);
	assert_int_equal(lp.seen[2], 1);
	ev_free(lp.ev);
	audit_free(lp.a);
	unlink(path);
}

/* A record still buffered when the daemon dies of a fatal error is
 * written by the log_on_fatal hook; without the hook it is lost. */
static size_t
fatal_child_lines(int with_hook)
{
	char path[] = "/tmp/test_audit.XXXXXX", err[256], buf[4096];
	struct audit *a;
	size_t lines = 0;
	ssize_t n, i;
	pid_t pid;
	int fd, st;

	fd = mkstemp(path);
	assert_true(fd != -1);
	close(fd);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		a = audit_new(path, (uid_t)-1, err, sizeof(err));
		if (a == NULL)
			_exit(3);
		audit_flush_hook(a); /* batched from now on */
		audit_rec_begin(&rec, "request");
		audit_rec_str(&rec, "client", "c1");
		audit_rec_emit(a, &rec);
		if (with_hook)
			log_on_fatal(audit_flush_last, a);
		fatalx("test: dying with a record in the buffer");
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 1);
	fd = open(path, O_RDONLY);
	assert_true(fd != -1);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	unlink(path);
	return lines;
}

static void
test_fatal_flush(void **state)
{
	(void)state;
	assert_int_equal(fatal_child_lines(0), 0);
	assert_int_equal(fatal_child_lines(1), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_null_and_integers),
		cmocka_unit_test(test_conn_record_shape),
		cmocka_unit_test(test_cut_at_and_past_limit),
		cmocka_unit_test(test_cut_keeps_json_valid),
		cmocka_unit_test(test_cut_many_members),
		cmocka_unit_test(test_emit_json),
		cmocka_unit_test(test_ring_order_and_reuse),
		cmocka_unit_test(test_followers),
		cmocka_unit_test(test_followers_other_thread),
		cmocka_unit_test(test_file_batched),
		cmocka_unit_test(test_stdout_blocked),
		cmocka_unit_test(test_loop_hook),
		cmocka_unit_test(test_fatal_flush),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
