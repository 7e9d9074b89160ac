/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_match.c - host canonicalisation and host patterns, request path
 * normalisation (escapes, dot segments, the tricks used to slip past a
 * prefix rule) and path patterns, each limit at and past it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "slicer_limits.h"
#include "match.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct host_case {
	const char *in;
	const char *want; /* NULL: invalid */
};

static const struct host_case host_cases[] = {
	{"api.example.com", "api.example.com"},
	{"API.Example.COM.", "api.example.com"},
	{"a", "a"},
	{"localhost", "localhost"},
	{"xn--bcher-kva.example", "xn--bcher-kva.example"},
	{"_dmarc.example.com", "_dmarc.example.com"},
	{"-a-.example", "-a-.example"},
	{"1e100.net", "1e100.net"},
	{"deadbeef", "deadbeef"},
	{"cafe.example", "cafe.example"},
	{"123.example.com", "123.example.com"},
	/* IPv4 literals in any spelling */
	{"127.0.0.1", "127.0.0.1"},
	{"2130706433", "127.0.0.1"},
	{"0x7f.1", "127.0.0.1"},
	{"017700000001", "127.0.0.1"},
	{"127.1", "127.0.0.1"},
	{"0x7F000001", "127.0.0.1"},
	{"127.0.0.1.", "127.0.0.1"},
	{"0xdeadbeef", "222.173.190.239"},
	/* IPv6 literals */
	{"[::1]", "::1"},
	{"::1", "::1"},
	{"[::ffff:127.0.0.1]", "::ffff:127.0.0.1"},
	{"[2001:DB8:0::1]", "2001:db8::1"},
	{"[fe80::1%25eth0]", NULL},
	{"[fe80::1%eth0]", NULL},
	{"[::1].", NULL},
	{"[::1]:443", NULL},
	{"[127.0.0.1]", NULL},
	{"[example.com]", NULL},
	{"[::1", NULL},
	/* numbers that are not addresses are not names either */
	{"256.0.0.1", NULL},
	{"1.2.3.4.5", NULL},
	{"example.123", NULL},
	{"example.0x1f", NULL},
	{"0x", NULL},
	{"08", NULL},
	/* invalid names */
	{"", NULL},
	{".", NULL},
	{"..", NULL},
	{".example.com", NULL},
	{"a..example.com", NULL},
	{"example.com..", NULL},
	{"exa mple.com", NULL},
	{"example.com ", NULL},
	{" example.com", NULL},
	{"example.com/", NULL},
	{"user@example.com", NULL},
	{"example.com:443", NULL},
	{"exa*mple.com", NULL},
	{"*.example.com", NULL},
	{"*", NULL},
	{"example.com\\", NULL},
	{"ex%41mple.com", NULL},
	{"b\xc3\xbc" "cher.example", NULL},
	{"tab\t.example", NULL},
};

static void
test_host_canon(void **state)
{
	char out[256];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(host_cases); i++) {
		const struct host_case *t = &host_cases[i];

		memset(out, 'X', sizeof(out));
		rc = match_host_canon(t->in, strlen(t->in), out, sizeof(out));
		if (t->want == NULL) {
			if (rc != -1)
				fail_msg("'%s' accepted as '%s'", t->in, out);
			continue;
		}
		if (rc != 0)
			fail_msg("'%s' rejected", t->in);
		if (strcmp(out, t->want) != 0)
			fail_msg("'%s' -> '%s', want '%s'", t->in, out,
			    t->want);
		/* canonical form is a fixed point */
		assert_int_equal(match_host_canon(out, strlen(out), out,
		    sizeof(out)), 0);
		assert_string_equal(out, t->want);
	}
}

/* the length is what counts, not a NUL */
static void
test_host_canon_len(void **state)
{
	char out[256];

	(void)state;
	assert_int_equal(match_host_canon("example.com:443", 11, out,
	    sizeof(out)), 0);
	assert_string_equal(out, "example.com");
	assert_int_equal(match_host_canon("a\0b", 3, out, sizeof(out)), -1);
	assert_int_equal(match_host_canon("abc", 0, out, sizeof(out)), -1);
	assert_int_equal(match_host_canon(NULL, 3, out, sizeof(out)), -1);
	/* output buffer too small */
	assert_int_equal(match_host_canon("example.com", 11, out, 11), -1);
	assert_int_equal(match_host_canon("example.com", 11, out, 12), 0);
	assert_int_equal(match_host_canon("[2001:db8::1]", 13, out, 4), -1);
}

/* fill buf with n bytes of labels of lab bytes each, dot separated */
static void
make_name(char *buf, size_t n, size_t lab)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (i + 1) % (lab + 1) == 0 ? '.' : 'a';
	buf[n] = '\0';
}

static void
test_host_limits(void **state)
{
	char in[LIMIT_HOSTNAME + 8], out[512];

	(void)state;
	/* 63-byte label fine, 64 not */
	memset(in, 'a', 63);
	memcpy(in + 63, ".com", 5);
	assert_int_equal(match_host_canon(in, strlen(in), out, 256), 0);
	assert_string_equal(out, in);
	memset(in, 'a', 64);
	memcpy(in + 64, ".com", 5);
	assert_int_equal(match_host_canon(in, strlen(in), out, 256), -1);
	memset(in, 'a', 64);
	in[64] = '\0';
	assert_int_equal(match_host_canon(in, 64, out, 256), -1);

	/* LIMIT_HOSTNAME bytes fine, one more not (trailing dot free) */
	make_name(in, LIMIT_HOSTNAME, 63);
	assert_int_equal(in[LIMIT_HOSTNAME - 1] == '.', 0);
	assert_int_equal(match_host_canon(in, LIMIT_HOSTNAME, out, 256), 0);
	assert_int_equal(strlen(out), LIMIT_HOSTNAME);
	in[LIMIT_HOSTNAME] = '.';
	in[LIMIT_HOSTNAME + 1] = '\0';
	assert_int_equal(match_host_canon(in, LIMIT_HOSTNAME + 1, out, 256),
	    0);
	assert_int_equal(strlen(out), LIMIT_HOSTNAME);
	make_name(in, LIMIT_HOSTNAME + 1, 63);
	assert_int_equal(match_host_canon(in, LIMIT_HOSTNAME + 1, out, 256),
	    -1);
	/* the same limits for patterns */
	make_name(in, LIMIT_HOSTNAME, 63);
	assert_int_equal(match_host_pattern_canon(in, out, 256), 0);
	make_name(in, LIMIT_HOSTNAME + 1, 63);
	assert_int_equal(match_host_pattern_canon(in, out, 256), -1);
	/* "*." + 251 bytes is 253 */
	in[0] = '*';
	in[1] = '.';
	make_name(in + 2, LIMIT_HOSTNAME - 2, 50);
	assert_int_equal(match_host_pattern_canon(in, out, 256), 0);
	assert_int_equal(strlen(out), LIMIT_HOSTNAME);
	make_name(in + 2, LIMIT_HOSTNAME - 1, 50);
	assert_int_equal(match_host_pattern_canon(in, out, 256), -1);
}

static const struct host_case pattern_cases[] = {
	{"*", "*"},
	{"*.example.com", "*.example.com"},
	{"*.Example.COM.", "*.example.com"},
	{"*.com", "*.com"},
	{"API.example.com", "api.example.com"},
	{"127.0.0.1", "127.0.0.1"},
	{"2130706433", "127.0.0.1"},
	{"[::1]", "::1"},
	{"2001:db8::1", "2001:db8::1"},
	{"*.", NULL},
	{"*..", NULL},
	{"*.*.example.com", NULL},
	{"**.example.com", NULL},
	{"*example.com", NULL},
	{"a.*.example.com", NULL},
	{"example.*", NULL},
	{"*.1.2.3", NULL},
	{"*.[::1]", NULL},
	{"*.example..com", NULL},
	{"", NULL},
	{".", NULL},
	{"exa mple.com", NULL},
};

static void
test_host_pattern_canon(void **state)
{
	char out[256];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(pattern_cases); i++) {
		const struct host_case *t = &pattern_cases[i];

		rc = match_host_pattern_canon(t->in, out, sizeof(out));
		if (t->want == NULL) {
			if (rc != -1)
				fail_msg("'%s' accepted as '%s'", t->in, out);
			continue;
		}
		if (rc != 0)
			fail_msg("'%s' rejected", t->in);
		if (strcmp(out, t->want) != 0)
			fail_msg("'%s' -> '%s', want '%s'", t->in, out,
			    t->want);
	}
	assert_int_equal(match_host_pattern_canon(NULL, out, sizeof(out)), -1);
	assert_int_equal(match_host_pattern_canon("*", out, 1), -1);
}

struct host_match_case {
	const char *pat;
	const char *host;
	int want;
};

static const struct host_match_case host_match_cases[] = {
	{"api.example.com", "api.example.com", 1},
	{"api.example.com", "API.EXAMPLE.COM", 1},
	{"api.example.com", "api.example.com.", 1},
	{"api.example.com.", "api.example.com", 1},
	{"api.example.com", "api.example.co", 0},
	{"api.example.com", "xapi.example.com", 0},
	{"api.example.com", "a.api.example.com", 0},
	{"api.example.com", "api.example.com.evil", 0},
	{"*.example.com", "a.example.com", 1},
	{"*.example.com", "a.b.example.com", 1},
	{"*.example.com", "A.EXAMPLE.com", 1},
	{"*.example.com", "a.example.com.", 1},
	{"*.example.com", "example.com", 0},
	{"*.example.com", "badexample.com", 0},
	{"*.example.com", ".example.com", 0},
	{"*.example.com", "a..example.com", 0},
	{"*.example.com", "a.example.com.evil", 0},
	{"*.example.com", "example.com.a", 0},
	{"*.com", "example.com", 1},
	{"*.com", "com", 0},
	{"*", "anything.example", 1},
	{"*", "127.0.0.1", 1},
	{"*", "::1", 1},
	{"*", "", 0},
	{"127.0.0.1", "127.0.0.1", 1},
	{"127.0.0.1", "127.0.0.2", 0},
	{"::1", "::1", 1},
	{"", "", 0},
	{"", "a", 0},
};

static void
test_host_match(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(host_match_cases); i++) {
		const struct host_match_case *t = &host_match_cases[i];

		if (match_host(t->pat, t->host) != t->want)
			fail_msg("match_host('%s', '%s') != %d", t->pat,
			    t->host, t->want);
	}
	assert_int_equal(match_host(NULL, "a"), 0);
	assert_int_equal(match_host("a", NULL), 0);
}

/* a pattern and a request host both canonicalised, then matched */
static void
test_host_canon_then_match(void **state)
{
	char pat[256], host[256];

	(void)state;
	assert_int_equal(match_host_pattern_canon("127.0.0.1", pat,
	    sizeof(pat)), 0);
	assert_int_equal(match_host_canon("0x7f000001", 10, host,
	    sizeof(host)), 0);
	assert_true(match_host(pat, host));
	assert_int_equal(match_host_pattern_canon("*.Example.com", pat,
	    sizeof(pat)), 0);
	assert_int_equal(match_host_canon("WWW.EXAMPLE.COM.", 16, host,
	    sizeof(host)), 0);
	assert_true(match_host(pat, host));
	assert_int_equal(match_host_canon("EXAMPLE.COM.", 12, host,
	    sizeof(host)), 0);
	assert_false(match_host(pat, host));
}

struct path_case {
	const char *in;
	const char *want; /* NULL: invalid */
};

static const struct path_case path_cases[] = {
	{"", "/"},
	{"/", "/"},
	{"/v1/chat/completions", "/v1/chat/completions"},
	/* dot segments, plain and escaped */
	{"/v1/../admin", "/admin"},
	{"/v1/%2e%2e/admin", "/admin"},
	{"/v1/%2E%2E/admin", "/admin"},
	{"/v1/%2E./admin", "/admin"},
	{"/v1/.%2e/admin", "/admin"},
	{"/v1/./admin", "/v1/admin"},
	{"/v1/%2e/admin", "/v1/admin"},
	{"/a/./b", "/a/b"},
	{"/a/b/..", "/a/"},
	{"/a/b/.", "/a/b/"},
	{"/a/b/../", "/a/"},
	{"/a/..", "/"},
	{"/.", "/"},
	{"/./", "/"},
	{"/a/b/../../c", "/c"},
	{"/a/b/c/./../../g", "/a/g"},
	{"/a//../b", "/a/b"},
	{"//..", "/"},
	{"/...", "/..."},
	{"/.../a", "/.../a"},
	{"/..a/b", "/..a/b"},
	{"/a../b", "/a../b"},
	{"/.a", "/.a"},
	{"/../x", NULL},
	{"/..", NULL},
	{"/%2e%2e", NULL},
	{"/a/../../x", NULL},
	{"/a/../..", NULL},
	{"/./../x", NULL},
	/* an encoded slash is not a separator here, but a server that
	 * decodes it would see a dot segment beside it: refused */
	{"/v1/..%2fadmin", NULL},
	{"/v1/..%2Fadmin", NULL},
	{"/v1%2f..%2f..%2fadmin", NULL},
	{"/v1/%2e%2e%5cadmin", NULL},
	{"/v1/%2F.", NULL},
	{"/v1/.%2F", NULL},
	{"/v1/..a%2fb", "/v1/..a%2Fb"},
	{"/v1/a.%2f.b", "/v1/a.%2F.b"},
	{"/a%2fb", "/a%2Fb"},
	{"/a%5cb", "/a%5Cb"},
	/* path parameters on a dot segment */
	{"/v1/..;/admin", NULL},
	{"/v1/.;/admin", NULL},
	{"/v1/%2e%2e;x/admin", NULL},
	{"/v1/...;/admin", "/v1/...;/admin"},
	{"/v1/a;b/c", "/v1/a;b/c"},
	/* escapes: unreserved decoded, the rest upper-cased */
	{"/%41", "/A"},
	{"/%7e", "/~"},
	{"/%7E%2d%2E%5f", "/~-._"},
	{"/%30%39%61%7A", "/09az"},
	{"/%2f", "/%2F"},
	{"/%c3%a9", "/%C3%A9"},
	{"/%C3%A9", "/%C3%A9"},
	{"/%20", "/%20"},
	{"/%25", "/%25"},
	{"/%2541", "/%2541"},
	{"/%3f", "/%3F"},
	{"/%23", "/%23"},
	{"/%01", "/%01"},
	{"/%ff", "/%FF"},
	{"/%00", NULL},
	{"/a%00b", NULL},
	{"/%zz", NULL},
	{"/%g0", NULL},
	{"/%0g", NULL},
	{"/%", NULL},
	{"/a%", NULL},
	{"/a%4", NULL},
	{"/%%41", NULL},
	/* bytes outside RFC 3986 */
	{"/a\\b", NULL},
	{"/a\\..\\admin", NULL},
	{"/a b", NULL},
	{"/a\tb", NULL},
	{"/a\rb", NULL},
	{"/a\nb", NULL},
	{"/a\x7f", NULL},
	{"/a\x01", NULL},
	{"/caf\xc3\xa9", NULL},
	{"/a?b", NULL},
	{"/a#b", NULL},
	{"/a\"b", NULL},
	{"/a<b>", NULL},
	{"/a{b}", NULL},
	{"/a|b", NULL},
	{"/a^b", NULL},
	{"/a`b", NULL},
	{"/a[b]", NULL},
	/* every allowed character */
	{"/az-._~!$&'()*+,;=:@AZ09", "/az-._~!$&'()*+,;=:@AZ09"},
	/* repeated slashes kept */
	{"//a///b//", "//a///b//"},
	/* not an origin-form path */
	{"a/b", NULL},
	{"*", NULL},
	{"%2fa", NULL},
	{".", NULL},
};

static void
test_path_normalize(void **state)
{
	char out[LIMIT_PATH + 1], again[LIMIT_PATH + 1];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < NELEM(path_cases); i++) {
		const struct path_case *t = &path_cases[i];

		memset(out, 'X', sizeof(out));
		rc = match_path_normalize(t->in, strlen(t->in), out,
		    sizeof(out));
		if (t->want == NULL) {
			if (rc != -1)
				fail_msg("'%s' accepted as '%s'", t->in, out);
			continue;
		}
		if (rc < 0)
			fail_msg("'%s' rejected", t->in);
		if (strcmp(out, t->want) != 0)
			fail_msg("'%s' -> '%s', want '%s'", t->in, out,
			    t->want);
		assert_int_equal(rc, (int)strlen(t->want));
		/* normalising twice changes nothing */
		rc = match_path_normalize(out, strlen(out), again,
		    sizeof(again));
		assert_int_equal(rc, (int)strlen(t->want));
		assert_string_equal(again, t->want);
	}
}

static void
test_path_normalize_len(void **state)
{
	char out[64];

	(void)state;
	/* the length is what counts: a NUL inside is invalid */
	assert_int_equal(match_path_normalize("/a\0b", 4, out, sizeof(out)),
	    -1);
	assert_int_equal(match_path_normalize("/ab?q=1", 3, out, sizeof(out)),
	    3);
	assert_string_equal(out, "/ab");
	assert_int_equal(match_path_normalize(NULL, 0, out, sizeof(out)), -1);
	assert_int_equal(match_path_normalize("/", 1, NULL, 8), -1);
	assert_int_equal(match_path_normalize("/", 1, out, 0), -1);
	/* outsz must hold the NUL */
	assert_int_equal(match_path_normalize("/abc", 4, out, 4), -1);
	assert_int_equal(match_path_normalize("/abc", 4, out, 5), 4);
	assert_int_equal(match_path_normalize("", 0, out, 1), -1);
	assert_int_equal(match_path_normalize("", 0, out, 2), 1);
	assert_int_equal(match_path_normalize("/%2f", 4, out, 4), -1);
	assert_int_equal(match_path_normalize("/%2f", 4, out, 5), 4);
	/* a failed call leaves an empty string, not half a path */
	assert_int_equal(match_path_normalize("/a/../..", 8, out, sizeof(out)),
	    -1);
	assert_string_equal(out, "");
}

static void
test_path_normalize_limit(void **state)
{
	static char in[LIMIT_PATH + 64], out[LIMIT_PATH + 64];
	size_t n;

	(void)state;
	/* LIMIT_PATH bytes normalised: fine; one more: refused, even with a
	 * buffer big enough */
	memset(in, 'a', sizeof(in));
	in[0] = '/';
	assert_int_equal(match_path_normalize(in, LIMIT_PATH, out,
	    LIMIT_PATH + 1), LIMIT_PATH);
	assert_int_equal(strlen(out), LIMIT_PATH);
	assert_int_equal(match_path_normalize(in, LIMIT_PATH + 1, out,
	    LIMIT_PATH + 1), -1);
	assert_int_equal(match_path_normalize(in, LIMIT_PATH + 1, out,
	    sizeof(out)), -1);
	/* escapes that decode bring a longer input under the limit */
	memcpy(in + 1, "%41", 3);
	n = LIMIT_PATH + 2;
	assert_int_equal(match_path_normalize(in, n, out, sizeof(out)),
	    LIMIT_PATH);
	assert_int_equal(out[1], 'A');
	/* so do dot segments removed at the end */
	memset(in, 'a', sizeof(in));
	in[0] = '/';
	memcpy(in + LIMIT_PATH - 2, "/b/..", 5);
	assert_int_equal(match_path_normalize(in, LIMIT_PATH + 3, out,
	    sizeof(out)), LIMIT_PATH - 1);
	assert_int_equal(out[LIMIT_PATH - 2], '/');
}

struct pattern_valid_case {
	const char *pat;
	int want; /* 0 valid, -1 invalid */
};

static const struct pattern_valid_case pattern_valid_cases[] = {
	{"/", 0},
	{"/v1/chat/completions", 0},
	{"/v1/*", 0},
	{"/*", 0},
	{"/repos/*/issues", 0},
	{"/a/*.json", 0},
	{"/a/*-*/b", 0},
	{"/v1/%2F", 0},
	{"/v1/%C3%A9", 0},
	{"/az-._~!$&'()+,;=:@", 0},
	{"//a", 0},
	{"", -1},
	{"*", -1},
	{"v1/*", -1},
	{"/v1/**", -1},
	{"/**/x", -1},
	{"/v1/%2f", -1},
	{"/v1/%41", -1},
	{"/v1/%7E", -1},
	{"/v1/%00", -1},
	{"/v1/%zz", -1},
	{"/v1/%2", -1},
	{"/v1/%", -1},
	{"/v1/../admin", -1},
	{"/v1/./x", -1},
	{"/v1/..", -1},
	{"/..;/x", -1},
	{"/a b", -1},
	{"/a\\b", -1},
	{"/a?b", -1},
	{"/a#b", -1},
	{"/a\x01", -1},
	{"/caf\xc3\xa9", -1},
};

static void
test_path_pattern_valid(void **state)
{
	static char pat[LIMIT_PATH + 8];
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(pattern_valid_cases); i++) {
		const struct pattern_valid_case *t = &pattern_valid_cases[i];

		if (match_path_pattern_valid(t->pat) != t->want)
			fail_msg("pattern '%s' not %s", t->pat,
			    t->want == 0 ? "valid" : "invalid");
	}
	assert_int_equal(match_path_pattern_valid(NULL), -1);
	/* LIMIT_PATH bytes fine, one more not */
	memset(pat, 'a', sizeof(pat));
	pat[0] = '/';
	pat[LIMIT_PATH - 1] = '*';
	pat[LIMIT_PATH] = '\0';
	assert_int_equal(match_path_pattern_valid(pat), 0);
	pat[LIMIT_PATH - 1] = 'a';
	pat[LIMIT_PATH] = '*';
	pat[LIMIT_PATH + 1] = '\0';
	assert_int_equal(match_path_pattern_valid(pat), -1);
}

struct path_match_case {
	const char *pat;
	const char *path;
	int want;
};

static const struct path_match_case path_match_cases[] = {
	{"/v1/chat/completions", "/v1/chat/completions", 1},
	{"/v1/chat/completions", "/v1/chat/completions/", 0},
	{"/v1/chat/completions", "/v1/chat/completion", 0},
	{"/v1/chat/completions", "/v1/chat/completionsx", 0},
	{"/v1/chat/completions", "/V1/chat/completions", 0},
	{"/v1/*", "/v1/", 1},
	{"/v1/*", "/v1/a", 1},
	{"/v1/*", "/v1/a/b", 1},
	{"/v1/*", "/v1/a/b/", 1},
	{"/v1/*", "/v1//x", 1},
	{"/v1/*", "/v1", 0},
	{"/v1/*", "/v1x", 0},
	{"/v1/*", "/v1x/a", 0},
	{"/v1/*", "/v2/a", 0},
	{"/v1/*", "/admin", 0},
	{"/v1/*", "/", 0},
	{"/v1/*", "/v1/..%2Fadmin", 1},
	{"/*", "/", 1},
	{"/*", "/anything/at/all", 1},
	{"/v1*", "/v1", 1},
	{"/v1*", "/v1x/y", 1},
	{"/v1*", "/v2", 0},
	{"/repos/*/issues", "/repos/x/issues", 1},
	{"/repos/*/issues", "/repos/octo-cat/issues", 1},
	{"/repos/*/issues", "/repos//issues", 0},
	{"/repos/*/issues", "/repos/a/b/issues", 0},
	{"/repos/*/issues", "/repos/x/issues/", 0},
	{"/repos/*/issues", "/repos/x/issues/1", 0},
	{"/repos/*/issues", "/repos/x/issue", 0},
	{"/repos/*/issues/*", "/repos/x/issues/1/comments", 1},
	{"/repos/*/issues/*", "/repos/x/issues", 0},
	{"/repos/*/*/pulls", "/repos/o/r/pulls", 1},
	{"/repos/*/*/pulls", "/repos/o/pulls", 0},
	{"/a/*.json", "/a/x.json", 1},
	{"/a/*.json", "/a/.json", 0},
	{"/a/*.json", "/a/x.json.bak", 0},
	{"/a/*.json", "/a/x.y.json", 1},
	{"/a/*-*/b", "/a/x-y/b", 1},
	{"/a/*-*/b", "/a/x-/b", 0},
	{"/a/*-*/b", "/a/-y/b", 0},
	{"/a/*-*/b", "/a/x-y-z/b", 1},
	{"/a/*a*a*b/c", "/a/xaaaaaaaaaaaaaaaaaaab/c", 1},
	{"/a/*a*a*b/c", "/a/xaaaaaaaaaaaaaaaaaaaa/c", 0},
	{"/a/x*y*", "/a/xzyq/r", 1},
	{"/a/x*y*", "/a/xy", 0},
	{"/a/x*y*", "/a/xzy", 1},
	{"/a/*/", "/a/b/", 1},
	{"/a/*/", "/a/b", 0},
	{"/", "/", 1},
	{"/", "//", 0},
	{"//a", "//a", 1},
	{"//a", "/a", 0},
	/* '*' in a request path is plain text to a pattern */
	{"/a/*", "/a/*", 1},
	{"/a/b", "/a/*", 0},
	/* malformed input never matches */
	{"v1/*", "v1/a", 0},
	{"", "/", 0},
	{"/", "", 0},
};

static void
test_path_match(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NELEM(path_match_cases); i++) {
		const struct path_match_case *t = &path_match_cases[i];

		if (match_path(t->pat, t->path) != t->want)
			fail_msg("match_path('%s', '%s') != %d", t->pat,
			    t->path, t->want);
	}
	assert_int_equal(match_path(NULL, "/"), 0);
	assert_int_equal(match_path("/", NULL), 0);
}

/* the request tricks end to end: normalise, then match the v1 prefix */
static void
test_path_normalize_then_match(void **state)
{
	static const struct {
		const char *path;
		int want;
	} cases[] = {
		{"/v1/models", 1},
		{"/v1/../admin", 0},
		{"/v1/%2e%2e/admin", 0},
		{"/v1/%2E./admin", 0},
		{"/v1/.%2e/admin", 0},
		{"/v1/./../admin", 0},
		{"/v1/a/../../admin", 0},
		{"/v1/a/../b", 1},
		/* an encoded separator around a dot segment: a server that
		 * decodes it (nginx) resolves "..": refused */
		{"/v1/..%2fadmin", 0},
		{"/v1/..%2Fadmin", 0},
		{"/v1/%2e%2e%2fadmin", 0},
		{"/v1/x%2F..%2F..%2Fadmin", 0},
		{"/v1/.%2Fadmin", 0},
		{"/v1/..%5Cadmin", 0},
		{"/v1/a%2F..", 0},
		{"/v1/..;%2Fadmin", 0},
		/* other encoded separators stay as they are */
		{"/v1/group%2Fproject/issues", 1},
		{"/v1/a%2Fb%5Cc", 1},
		{"/v1/...%2Fx", 1},
		{"/%76%31/models", 1},
		{"/v1/..", 0},
		{"/v1/.", 1},
	};
	char out[LIMIT_PATH + 1];
	size_t i;
	int rc;

	(void)state;
	assert_int_equal(match_path_pattern_valid("/v1/*"), 0);
	for (i = 0; i < NELEM(cases); i++) {
		rc = match_path_normalize(cases[i].path, strlen(cases[i].path),
		    out, sizeof(out));
		if (rc < 0) {
			/* refused before any rule is asked */
			if (cases[i].want != 0)
				fail_msg("'%s' refused", cases[i].path);
			continue;
		}
		if (match_path("/v1/*", out) != cases[i].want)
			fail_msg("'%s' (normalised '%s') match != %d",
			    cases[i].path, out, cases[i].want);
	}
}

/* long segments and many stars finish (bounded work) */
static void
test_path_match_long(void **state)
{
	static char pat[LIMIT_PATH + 1], path[LIMIT_PATH + 1];
	size_t i;

	(void)state;
	pat[0] = '/';
	for (i = 1; i < LIMIT_PATH - 2; i += 2) {
		pat[i] = '*';
		pat[i + 1] = 'a';
	}
	pat[i] = 'b';
	pat[i + 1] = '\0';
	assert_int_equal(match_path_pattern_valid(pat), 0);
	memset(path, 'a', LIMIT_PATH);
	path[0] = '/';
	path[LIMIT_PATH] = '\0';
	assert_int_equal(match_path(pat, path), 0);
	path[LIMIT_PATH - 1] = 'b';
	assert_int_equal(match_path("/*b", path), 1);
	assert_int_equal(match_path("/*a", path), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_host_canon),
		cmocka_unit_test(test_host_canon_len),
		cmocka_unit_test(test_host_limits),
		cmocka_unit_test(test_host_pattern_canon),
		cmocka_unit_test(test_host_match),
		cmocka_unit_test(test_host_canon_then_match),
		cmocka_unit_test(test_path_normalize),
		cmocka_unit_test(test_path_normalize_len),
		cmocka_unit_test(test_path_normalize_limit),
		cmocka_unit_test(test_path_pattern_valid),
		cmocka_unit_test(test_path_match),
		cmocka_unit_test(test_path_normalize_then_match),
		cmocka_unit_test(test_path_match_long),
	};

	return cmocka_run_group_tests(tests, 0, NULL);
}
