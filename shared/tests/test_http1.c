/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_http1.c - unit tests for the HTTP/1.1 head parser and chunked scanner:
 * every syntax and framing rule valid and invalid, incremental feeding, each
 * limit at and past its ceiling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http1.h"

/* Scratch for heads built at the limits (largest: response head + 1). */
static char big[LIMIT_HTTP_RESPONSE_HEAD + 4096];
static struct http1_request req;
static struct http1_response resp;

static int
slice_is(struct http1_slice s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

#define assert_slice(s, want)                                                  \
	do {                                                                   \
		if (!slice_is((s), (want)))                                    \
			fail_msg("slice '%.*s' != '%s'", (int)(s).len,         \
			    (s).p != NULL ? (s).p : "", (want));               \
	} while (0)

/* ------------------------------------------------------------------ */
/* request table: result and status                                    */

struct req_case {
	const char *name;
	const char *raw;
	size_t len; /* 0: strlen(raw) */
	int rc;
	int status; /* on HTTP1_BAD */
};

#define H11 " HTTP/1.1\r\nHost: a.test\r\n"

static const struct req_case req_cases[] = {
    /* valid */
    {"simple get", "GET /" H11 "\r\n", 0, HTTP1_OK, 0},
    {"http/1.0 no host", "GET / HTTP/1.0\r\n\r\n", 0, HTTP1_OK, 0},
    {"post cl", "POST /x" H11 "Content-Length: 5\r\n\r\n", 0, HTTP1_OK, 0},
    {"post te", "POST /x" H11 "Transfer-Encoding: chunked\r\n\r\n", 0, HTTP1_OK,
	0},
    {"te case and ows",
	"POST /x" H11 "transfer-encoding: \t ChUnKeD \t\r\n\r\n", 0, HTTP1_OK,
	0},
    {"obs-text in value", "GET /" H11 "X-A: caf\xc3\xa9\xff\r\n\r\n", 0,
	HTTP1_OK, 0},
    {"empty value", "GET /" H11 "X-Empty:\r\n\r\n", 0, HTTP1_OK, 0},
    {"tab in value", "GET /" H11 "X-T: a\tb\r\n\r\n", 0, HTTP1_OK, 0},
    {"absolute", "GET http://a.test/p?q HTTP/1.1\r\nHost: a.test\r\n\r\n", 0,
	HTTP1_OK, 0},
    {"absolute default port",
	"GET http://a.test:80/ HTTP/1.1\r\n"
	"Host: A.TEST\r\n\r\n",
	0, HTTP1_OK, 0},
    {"absolute https default",
	"GET HTTPS://a.test/ HTTP/1.1\r\n"
	"Host: a.test:443\r\n\r\n",
	0, HTTP1_OK, 0},
    {"absolute 1.0 no host", "GET http://a.test/ HTTP/1.0\r\n\r\n", 0, HTTP1_OK,
	0},
    {"connect", "CONNECT a.test:443 HTTP/1.1\r\nHost: a.test:443\r\n\r\n", 0,
	HTTP1_OK, 0},
    {"connect no host", "CONNECT a.test:443 HTTP/1.1\r\n\r\n", 0, HTTP1_OK, 0},
    /* the CONNECT target decides; Host (often the proxy, from Node) is
     * never forwarded */
    {"connect host of the proxy",
	"CONNECT a.test:443 HTTP/1.1\r\nHost: 192.168.222.1:3128\r\n\r\n", 0,
	HTTP1_OK, 0},
    {"connect host no port",
	"CONNECT a.test:443 HTTP/1.1\r\n"
	"Host: a.test\r\n\r\n",
	0, HTTP1_OK, 0},
    {"connect cl 0",
	"CONNECT a.test:443 HTTP/1.1\r\n"
	"Content-Length: 0\r\n\r\n",
	0, HTTP1_OK, 0},
    {"connect ipv6",
	"CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
	"Host: [2001:db8::1]:443\r\n\r\n",
	0, HTTP1_OK, 0},
    {"options asterisk", "OPTIONS *" H11 "\r\n", 0, HTTP1_OK, 0},
    {"cl max", "POST /" H11 "Content-Length: 4611686018427387903\r\n\r\n", 0,
	HTTP1_OK, 0},
    {"cl leading zeros", "POST /" H11 "Content-Length: 007\r\n\r\n", 0,
	HTTP1_OK, 0},
    {"method 32", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF /" H11 "\r\n", 0, HTTP1_OK,
	0},
    {"tchar method", "M-!#$%&'*+.^_`|~ /" H11 "\r\n", 0, HTTP1_OK, 0},
    {"host ipv6", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", 0, HTTP1_OK, 0},

    /* request line */
    {"leading crlf", "\r\nGET /" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"bad method char", "G@T /" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"method 33", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG /" H11 "\r\n", 0,
	HTTP1_BAD, 400},
    {"double sp", "GET  /" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"tab separator", "GET\t/" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"missing version", "GET /\r\nHost: a\r\n\r\n", 0, HTTP1_BAD, 400},
    {"trailing sp", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n", 0, HTTP1_BAD, 400},
    {"http/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 0, HTTP1_BAD, 505},
    {"http/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 0, HTTP1_BAD, 505},
    {"http/0.9", "GET / HTTP/0.9\r\nHost: a\r\n\r\n", 0, HTTP1_BAD, 505},
    {"lower http", "GET / http/1.1\r\nHost: a\r\n\r\n", 0, HTTP1_BAD, 400},
    {"http/11", "GET / HTTP/11\r\nHost: a\r\n\r\n", 0, HTTP1_BAD, 400},
    {"http/2", "GET / HTTP/2\r\nHost: a\r\n\r\n", 0, HTTP1_BAD, 400},
    {"garbage version", "GET / FOO\r\nHost: a\r\n\r\n", 0, HTTP1_BAD, 400},
    {"ctl in target", "GET /\x01" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"del in target", "GET /\x7f" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"non-ascii target", "GET /caf\xc3\xa9" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"nul in target", "GET /a\0b" H11 "\r\n",
	sizeof("GET /a\0b" H11 "\r\n") - 1, HTTP1_BAD, 400},
    {"bare lf request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 0, HTTP1_BAD,
	400},
    {"bare cr request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 0, HTTP1_BAD,
	400},
    {"lone lf", "\n", 0, HTTP1_BAD, 400},
    {"fragment", "GET /a#b" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"asterisk get", "GET *" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"authority form get", "GET a.test:80" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"lower connect", "connect a.test:443 HTTP/1.1\r\nHost: a.test\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"lower options", "options *" H11 "\r\n", 0, HTTP1_BAD, 400},
    {"relative target", "GET a/b" H11 "\r\n", 0, HTTP1_BAD, 400},

    /* header syntax */
    {"bare lf header", "GET /" H11 "X: y\n\r\n", 0, HTTP1_BAD, 400},
    {"bare lf end", "GET /" H11 "\n", 0, HTTP1_BAD, 400},
    {"bare cr value", "GET /" H11 "X: a\rb\r\n\r\n", 0, HTTP1_BAD, 400},
    {"bare cr end", "GET /" H11 "\rX\r\n\r\n", 0, HTTP1_BAD, 400},
    {"nul in value", "GET /" H11 "X: a\0b\r\n\r\n",
	sizeof("GET /" H11 "X: a\0b\r\n\r\n") - 1, HTTP1_BAD, 400},
    {"nul in name", "GET /" H11 "X\0: b\r\n\r\n",
	sizeof("GET /" H11 "X\0: b\r\n\r\n") - 1, HTTP1_BAD, 400},
    {"ctl in value", "GET /" H11 "X: a\x1b b\r\n\r\n", 0, HTTP1_BAD, 400},
    {"del in value", "GET /" H11 "X: a\x7f\r\n\r\n", 0, HTTP1_BAD, 400},
    {"obs-fold", "GET /" H11 "X: a\r\n b\r\n\r\n", 0, HTTP1_BAD, 400},
    {"obs-fold tab", "GET /" H11 "X: a\r\n\tb\r\n\r\n", 0, HTTP1_BAD, 400},
    {"ws before first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"space before colon", "GET /" H11 "X : y\r\n\r\n", 0, HTTP1_BAD, 400},
    {"tab before colon", "GET /" H11 "X\t: y\r\n\r\n", 0, HTTP1_BAD, 400},
    {"empty name", "GET /" H11 ": y\r\n\r\n", 0, HTTP1_BAD, 400},
    {"no colon", "GET /" H11 "Xy\r\n\r\n", 0, HTTP1_BAD, 400},
    {"bad name char", "GET /" H11 "X(y): z\r\n\r\n", 0, HTTP1_BAD, 400},
    {"non-ascii name", "GET /" H11 "X\xc3\xa9: z\r\n\r\n", 0, HTTP1_BAD, 400},

    /* framing */
    {"cl and te",
	"POST /" H11 "Content-Length: 5\r\n"
	"Transfer-Encoding: chunked\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"te and cl",
	"POST /" H11 "Transfer-Encoding: chunked\r\n"
	"Content-Length: 5\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"cl twice same",
	"POST /" H11 "Content-Length: 5\r\n"
	"Content-Length: 5\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"cl list", "POST /" H11 "Content-Length: 5, 5\r\n\r\n", 0, HTTP1_BAD, 400},
    {"cl plus", "POST /" H11 "Content-Length: +5\r\n\r\n", 0, HTTP1_BAD, 400},
    {"cl negative", "POST /" H11 "Content-Length: -1\r\n\r\n", 0, HTTP1_BAD,
	400},
    {"cl hex", "POST /" H11 "Content-Length: 0x5\r\n\r\n", 0, HTTP1_BAD, 400},
    {"cl inner space", "POST /" H11 "Content-Length: 5 5\r\n\r\n", 0, HTTP1_BAD,
	400},
    {"cl empty", "POST /" H11 "Content-Length:\r\n\r\n", 0, HTTP1_BAD, 400},
    {"cl 2^62", "POST /" H11 "Content-Length: 4611686018427387904\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"cl uint64 overflow",
	"POST /" H11 "Content-Length: 99999999999999999999999\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"te gzip chunked", "POST /" H11 "Transfer-Encoding: gzip, chunked\r\n\r\n",
	0, HTTP1_BAD, 501},
    {"te gzip", "POST /" H11 "Transfer-Encoding: gzip\r\n\r\n", 0, HTTP1_BAD,
	501},
    {"te identity", "POST /" H11 "Transfer-Encoding: identity\r\n\r\n", 0,
	HTTP1_BAD, 501},
    {"te chunked twice",
	"POST /" H11 "Transfer-Encoding: chunked, chunked\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"te two headers",
	"POST /" H11 "Transfer-Encoding: chunked\r\n"
	"Transfer-Encoding: chunked\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"te params", "POST /" H11 "Transfer-Encoding: chunked;x=1\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"te empty elem", "POST /" H11 "Transfer-Encoding: ,chunked\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"te empty", "POST /" H11 "Transfer-Encoding:\r\n\r\n", 0, HTTP1_BAD, 400},
    {"te chunkedx", "POST /" H11 "Transfer-Encoding: chunkedx\r\n\r\n", 0,
	HTTP1_BAD, 501},
    {"te in 1.0",
	"POST / HTTP/1.0\r\n"
	"Transfer-Encoding: chunked\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"connect with cl",
	"CONNECT a.test:443 HTTP/1.1\r\n"
	"Content-Length: 5\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"connect with te",
	"CONNECT a.test:443 HTTP/1.1\r\n"
	"Transfer-Encoding: chunked\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"connection names cl",
	"POST /" H11 "Content-Length: 1\r\n"
	"Connection: close, Content-Length\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"connection names host", "GET /" H11 "Connection: host\r\n\r\n", 0,
	HTTP1_BAD, 400},

    /* Host */
    {"no host 1.1", "GET / HTTP/1.1\r\n\r\n", 0, HTTP1_BAD, 400},
    {"two hosts", "GET /" H11 "Host: a.test\r\n\r\n", 0, HTTP1_BAD, 400},
    {"two hosts 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"empty host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", 0, HTTP1_BAD, 400},
    {"host with space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 0, HTTP1_BAD,
	400},
    {"host trailing colon", "GET / HTTP/1.1\r\nHost: a:\r\n\r\n", 0, HTTP1_BAD,
	400},
    {"host userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 0, HTTP1_BAD, 400},
    {"host port 0", "GET / HTTP/1.1\r\nHost: a:0\r\n\r\n", 0, HTTP1_BAD, 400},
    {"absolute host mismatch",
	"GET http://a.test/ HTTP/1.1\r\n"
	"Host: b.test\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"absolute port mismatch",
	"GET http://a.test:8080/ HTTP/1.1\r\n"
	"Host: a.test\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"absolute https port 80",
	"GET https://a.test/ HTTP/1.1\r\n"
	"Host: a.test:80\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"absolute no host 1.1", "GET http://a.test/ HTTP/1.1\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"absolute userinfo",
	"GET http://u:p@a.test/ HTTP/1.1\r\n"
	"Host: a.test\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"absolute fragment",
	"GET http://a.test/#x HTTP/1.1\r\n"
	"Host: a.test\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"absolute ftp", "GET ftp://a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"absolute one slash",
	"GET http:/a.test/ HTTP/1.1\r\n"
	"Host: a.test\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"absolute empty authority",
	"GET http:///x HTTP/1.1\r\n"
	"Host: a.test\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"absolute bad port",
	"GET http://a.test:99999/ HTTP/1.1\r\n"
	"Host: a.test\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"connect origin form", "CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"connect absolute", "CONNECT http://a.test:443 HTTP/1.1\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"connect no port", "CONNECT a.test HTTP/1.1\r\nHost: a.test\r\n\r\n", 0,
	HTTP1_BAD, 400},
    {"connect empty port", "CONNECT a.test: HTTP/1.1\r\n\r\n", 0, HTTP1_BAD,
	400},
    {"connect bad host header",
	"CONNECT a.test:443 HTTP/1.1\r\n"
	"Host: b test\r\n\r\n",
	0, HTTP1_BAD, 400},
    {"connect userinfo", "CONNECT u@a.test:443 HTTP/1.1\r\n\r\n", 0, HTTP1_BAD,
	400},
};

static void
test_request_table(void **state)
{
	const struct req_case *tc;
	size_t i, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		tc = &req_cases[i];
		len = tc->len != 0 ? tc->len : strlen(tc->raw);
		rc = http1_parse_request(tc->raw, len, &req);
		if (rc != tc->rc)
			fail_msg("%s: rc %d want %d (%d %s)", tc->name, rc,
			    tc->rc, req.error_status,
			    req.error_reason != NULL ? req.error_reason : "");
		if (rc == HTTP1_BAD) {
			if (req.error_status != tc->status)
				fail_msg("%s: status %d want %d (%s)", tc->name,
				    req.error_status, tc->status,
				    req.error_reason);
			assert_non_null(req.error_reason);
		}
		if (rc == HTTP1_OK)
			assert_int_equal(req.head_len, len);
	}
}

/* Every proper prefix of a valid head is INCOMPLETE; the whole is OK. */
static void
test_request_prefixes(void **state)
{
	const struct req_case *tc;
	size_t i, k, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(req_cases) / sizeof(req_cases[0]); i++) {
		tc = &req_cases[i];
		if (tc->rc != HTTP1_OK)
			continue;
		len = strlen(tc->raw);
		for (k = 0; k < len; k++) {
			rc = http1_parse_request(tc->raw, k, &req);
			if (rc != HTTP1_INCOMPLETE)
				fail_msg("%s: prefix %zu rc %d (%s)", tc->name,
				    k, rc,
				    req.error_reason != NULL ? req.error_reason
							     : "");
		}
		assert_int_equal(
		    http1_parse_request(tc->raw, len, &req), HTTP1_OK);
	}
}

/* A bad line is reported as soon as it is complete, before the head is. */
static void
test_request_early_bad(void **state)
{
	(void)state;
	assert_int_equal(
	    http1_parse_request("GET / HTTP/3.0\r\n", 16, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 505);
	assert_int_equal(
	    http1_parse_request("GET / HTTP/1.1\r\nX : y\r\n", 23, &req),
	    HTTP1_BAD);
	assert_int_equal(req.error_status, 400);
	assert_int_equal(
	    http1_parse_request("GET / HTTP/1.1\r\nX: y\r\n", 22, &req),
	    HTTP1_INCOMPLETE);
}

/* Bytes that cannot start a head are refused before a line end. */
static void
test_early_prefix(void **state)
{
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03";
	char m[LIMIT_METHOD + 2];

	(void)state;
	assert_int_equal(
	    http1_parse_request(tls, sizeof(tls) - 1, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 400);
	assert_int_equal(http1_parse_request("GE@", 3, &req), HTTP1_BAD);
	assert_int_equal(http1_parse_request(" ", 1, &req), HTTP1_BAD);
	assert_int_equal(http1_parse_request("\r", 1, &req), HTTP1_BAD);
	assert_int_equal(http1_parse_request("GET", 3, &req), HTTP1_INCOMPLETE);
	assert_int_equal(
	    http1_parse_request("GET /\x01", 6, &req), HTTP1_INCOMPLETE);
	assert_int_equal(http1_parse_request("", 0, &req), HTTP1_INCOMPLETE);

	memset(m, 'M', sizeof(m));
	assert_int_equal(
	    http1_parse_request(m, LIMIT_METHOD, &req), HTTP1_INCOMPLETE);
	m[LIMIT_METHOD] = ' ';
	assert_int_equal(
	    http1_parse_request(m, LIMIT_METHOD + 1, &req), HTTP1_INCOMPLETE);
	m[LIMIT_METHOD] = 'M';
	assert_int_equal(
	    http1_parse_request(m, LIMIT_METHOD + 1, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 400);

	assert_int_equal(
	    http1_parse_response("\x16\x03", 2, 0, 0, &resp), HTTP1_BAD);
	assert_int_equal(resp.error_status, 502);
	assert_int_equal(
	    http1_parse_response("ICY", 3, 0, 0, &resp), HTTP1_BAD);
	assert_int_equal(
	    http1_parse_response("HTTP/2", 6, 0, 0, &resp), HTTP1_BAD);
	assert_int_equal(
	    http1_parse_response("HTTP/1", 6, 0, 0, &resp), HTTP1_INCOMPLETE);
	assert_int_equal(http1_parse_response("HTTP/1.1 2", 10, 0, 0, &resp),
	    HTTP1_INCOMPLETE);
	assert_int_equal(
	    http1_parse_response("", 0, 0, 0, &resp), HTTP1_INCOMPLETE);
}

/* Body bytes after the head are not part of it. */
static void
test_request_pipelined(void **state)
{
	static const char raw[] =
	    "POST /u HTTP/1.1\r\nHost: a.test\r\n"
	    "Content-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n";

	(void)state;
	assert_int_equal(
	    http1_parse_request(raw, sizeof(raw) - 1, &req), HTTP1_OK);
	assert_int_equal(
	    req.head_len, strlen(raw) - strlen("abcGET / HTTP/1.1\r\n"));
	assert_int_equal(req.framing, HTTP1_BODY_LENGTH);
	assert_int_equal(req.content_length, 3);
}

/* ------------------------------------------------------------------ */
/* request fields                                                      */

static void
test_request_fields_origin(void **state)
{
	static const char raw[] =
	    "GET /a/b?x=1&y HTTP/1.1\r\nHost: Example.test:8080\r\n"
	    "User-Agent:  ua  \r\nExpect: 100-Continue\r\n\r\n";

	(void)state;
	assert_int_equal(http1_parse_request(raw, strlen(raw), &req), HTTP1_OK);
	assert_slice(req.method, "GET");
	assert_slice(req.target, "/a/b?x=1&y");
	assert_int_equal(req.version_minor, 1);
	assert_int_equal(req.form, HTTP1_TARGET_ORIGIN);
	assert_slice(req.scheme, "");
	assert_slice(req.host, "Example.test");
	assert_int_equal(req.port, 8080);
	assert_slice(req.path, "/a/b");
	assert_slice(req.query, "?x=1&y");
	assert_int_equal(req.nheaders, 3);
	assert_slice(req.headers[0].name, "Host");
	assert_slice(req.headers[1].name, "User-Agent");
	assert_slice(req.headers[1].value, "ua");
	assert_int_equal(req.head_len, strlen(raw));
	assert_int_equal(req.framing, HTTP1_BODY_NONE);
	assert_int_equal(req.is_keep_alive, 1);
	assert_int_equal(req.has_expect_continue, 1);
	assert_int_equal(req.is_upgrade, 0);
}

static void
test_request_fields_absolute(void **state)
{
	static const char raw[] = "GET http://a.test:8080?q=1 HTTP/1.1\r\n"
				  "Host: a.test:8080\r\n\r\n";
	static const char raw2[] = "POST HTTPS://[::1]/p HTTP/1.1\r\n"
				   "Host: [::1]:443\r\n"
				   "Transfer-Encoding: chunked\r\n\r\n";
	static const char raw3[] = "GET http://a.test HTTP/1.1\r\n"
				   "Host: a.test\r\n\r\n";

	(void)state;
	assert_int_equal(http1_parse_request(raw, strlen(raw), &req), HTTP1_OK);
	assert_int_equal(req.form, HTTP1_TARGET_ABSOLUTE);
	assert_slice(req.scheme, "http");
	assert_slice(req.host, "a.test");
	assert_int_equal(req.port, 8080);
	assert_slice(req.path, "");
	assert_slice(req.query, "?q=1");

	assert_int_equal(
	    http1_parse_request(raw2, strlen(raw2), &req), HTTP1_OK);
	assert_slice(req.scheme, "HTTPS");
	assert_slice(req.host, "::1");
	assert_int_equal(req.port, 0);
	assert_slice(req.path, "/p");
	assert_slice(req.query, "");
	assert_int_equal(req.framing, HTTP1_BODY_CHUNKED);

	assert_int_equal(
	    http1_parse_request(raw3, strlen(raw3), &req), HTTP1_OK);
	assert_slice(req.path, "");
	assert_slice(req.query, "");
	assert_int_equal(req.port, 0);
}

static void
test_request_fields_connect(void **state)
{
	static const char raw[] = "CONNECT a.test:443 HTTP/1.1\r\n"
				  "Host: a.test:443\r\n"
				  "Proxy-Authorization: Basic eA==\r\n\r\n";

	(void)state;
	assert_int_equal(http1_parse_request(raw, strlen(raw), &req), HTTP1_OK);
	assert_int_equal(req.form, HTTP1_TARGET_AUTHORITY);
	assert_slice(req.method, "CONNECT");
	assert_slice(req.host, "a.test");
	assert_int_equal(req.port, 443);
	assert_slice(req.scheme, "");
	assert_slice(req.path, "");
	assert_slice(req.query, "");
	assert_int_equal(req.framing, HTTP1_BODY_NONE);
}

static void
test_request_fields_asterisk(void **state)
{
	static const char raw[] = "OPTIONS * HTTP/1.1\r\nHost: a.test\r\n\r\n";

	(void)state;
	assert_int_equal(http1_parse_request(raw, strlen(raw), &req), HTTP1_OK);
	assert_int_equal(req.form, HTTP1_TARGET_ASTERISK);
	assert_slice(req.target, "*");
	assert_slice(req.host, "a.test");
}

static void
test_request_fields_10(void **state)
{
	static const char raw[] = "GET /x HTTP/1.0\r\n\r\n";

	(void)state;
	assert_int_equal(http1_parse_request(raw, strlen(raw), &req), HTTP1_OK);
	assert_int_equal(req.version_minor, 0);
	assert_slice(req.host, "");
	assert_int_equal(req.port, 0);
	assert_int_equal(req.is_keep_alive, 0);
	assert_int_equal(req.nheaders, 0);
}

struct conn_case {
	const char *raw;
	int keep_alive;
	int upgrade;
	int expect;
};

static const struct conn_case conn_cases[] = {
    {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 1, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", 0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, CLOSE\r\n\r\n", 0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: foo\r\n"
     "Connection: close\r\n\r\n",
	0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: closed\r\n\r\n", 1, 0, 0},
    {"GET / HTTP/1.0\r\n\r\n", 0, 0, 0},
    {"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1, 0, 0},
    {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", 0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
     "Upgrade: websocket\r\n\r\n",
	1, 1, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
     "Upgrade: WebSocket\r\n\r\n",
	1, 1, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
     "Upgrade: websocket/13\r\n\r\n",
	1, 1, 0},
    /* only WebSocket: after a 101 nothing more is judged */
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\n"
     "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n",
	1, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
     "Upgrade: websocket, h2c\r\n\r\n",
	1, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
     "Upgrade: websocket\r\nUpgrade: h2c\r\n\r\n",
	1, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
     "Upgrade: websocketx\r\n\r\n",
	1, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n"
     "Upgrade: TLS/1.2\r\n\r\n",
	1, 0, 0},
    {"GET / HTTP/1.0\r\nConnection: Upgrade\r\n"
     "Upgrade: websocket\r\n\r\n",
	0, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n", 1, 0, 0},
    /* an HTTP/1.0 request's Upgrade is ignored (RFC 9110 7.8) */
    {"GET / HTTP/1.0\r\nConnection: Upgrade, keep-alive\r\n"
     "Upgrade: websocket\r\n\r\n",
	1, 0, 0},
    {"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n", 1, 0, 0},
    {"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
     "Content-Length: 1\r\n\r\n",
	1, 0, 1},
    {"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continuex\r\n\r\n", 1, 0, 0},
    {"PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", 0, 0, 0},
};

static void
test_request_connection(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(conn_cases) / sizeof(conn_cases[0]); i++) {
		const struct conn_case *tc = &conn_cases[i];

		if (http1_parse_request(tc->raw, strlen(tc->raw), &req) !=
		    HTTP1_OK)
			fail_msg("case %zu: not OK: %s", i, req.error_reason);
		if (req.is_keep_alive != tc->keep_alive ||
		    req.is_upgrade != tc->upgrade ||
		    req.has_expect_continue != tc->expect)
			fail_msg("case %zu: ka %d up %d ex %d", i,
			    req.is_keep_alive, req.is_upgrade,
			    req.has_expect_continue);
	}
}

struct reason_case {
	const char *raw;
	const char *reason;
};

static const struct reason_case reason_cases[] = {
    {"POST /" H11 "Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
	"Content-Length with Transfer-Encoding"},
    {"POST /" H11 "Content-Length: 1\r\nContent-Length: 1\r\n\r\n",
	"repeated Content-Length"},
    {"GET /" H11 "X: a\r\n b\r\n\r\n", "obsolete line folding"},
    {"GET /" H11 "X : a\r\n\r\n", "whitespace before colon in header field"},
    {"GET  /" H11 "\r\n", "empty request target"},
    {"GET http://u@a.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n",
	"userinfo in request target"},
    {"GET http://a.test/ HTTP/1.1\r\nHost: b.test\r\n\r\n",
	"Host does not match request target"},
    {"GET / HTTP/1.1\r\n\r\n", "missing Host"},
    {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", "repeated Host"},
    {"POST /" H11 "Transfer-Encoding: gzip\r\n\r\n",
	"unsupported transfer coding"},
    {"GET / HTTP/1.1\nHost: a\r\n\r\n", "bare LF in request line"},
};

static void
test_request_reasons(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(reason_cases) / sizeof(reason_cases[0]); i++) {
		const struct reason_case *tc = &reason_cases[i];

		assert_int_equal(
		    http1_parse_request(tc->raw, strlen(tc->raw), &req),
		    HTTP1_BAD);
		assert_string_equal(req.error_reason, tc->reason);
	}
}

/* ------------------------------------------------------------------ */
/* request limits                                                      */

/* "GET /aaa... HTTP/1.1" of exactly line_len bytes, then more. */
static size_t
build_request_line(size_t line_len, const char *rest)
{
	size_t tlen = line_len - strlen("GET  HTTP/1.1"), n = 0;

	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', tlen - 1);
	n = 4 + tlen;
	memcpy(big + n, " HTTP/1.1", 9);
	n += 9;
	memcpy(big + n, rest, strlen(rest));
	return n + strlen(rest);
}

static void
test_limit_request_line(void **state)
{
	size_t n;

	(void)state;
	n = build_request_line(LIMIT_HTTP_REQUEST_LINE, "\r\nHost: a\r\n\r\n");
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_OK);
	assert_int_equal(req.target.len, LIMIT_HTTP_REQUEST_LINE - 13);

	n = build_request_line(
	    LIMIT_HTTP_REQUEST_LINE + 1, "\r\nHost: a\r\n\r\n");
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 414);

	/* without its CRLF: at the limit it may still end, past it not */
	n = build_request_line(LIMIT_HTTP_REQUEST_LINE, "");
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_INCOMPLETE);
	n = build_request_line(LIMIT_HTTP_REQUEST_LINE, "\r");
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_INCOMPLETE);
	n = build_request_line(LIMIT_HTTP_REQUEST_LINE + 1, "");
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 414);
	n = build_request_line(LIMIT_HTTP_REQUEST_LINE, "X");
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 414);
	n = build_request_line(LIMIT_HTTP_REQUEST_LINE + 1, "\r");
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 414);

	/* a target that never ends is refused at the limit too */
	memset(big, 'x', LIMIT_HTTP_REQUEST_LINE + 1);
	memcpy(big, "GET /", 5);
	assert_int_equal(
	    http1_parse_request(big, LIMIT_HTTP_REQUEST_LINE, &req),
	    HTTP1_INCOMPLETE);
	assert_int_equal(
	    http1_parse_request(big, LIMIT_HTTP_REQUEST_LINE + 1, &req),
	    HTTP1_BAD);
	assert_int_equal(req.error_status, 414);
}

/* Request with nfields header fields (Host first), complete or not. */
static size_t
build_fields(size_t nfields, int complete)
{
	size_t n, i;

	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 1; i < nfields; i++)
		n += (size_t)sprintf(big + n, "X-%zu: v\r\n", i);
	if (complete)
		n += (size_t)sprintf(big + n, "\r\n");
	return n;
}

static void
test_limit_headers(void **state)
{
	size_t n;

	(void)state;
	n = build_fields(LIMIT_HTTP_HEADERS, 1);
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_OK);
	assert_int_equal(req.nheaders, LIMIT_HTTP_HEADERS);

	n = build_fields(LIMIT_HTTP_HEADERS + 1, 1);
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 431);

	/* detected while the extra field is still arriving */
	n = build_fields(LIMIT_HTTP_HEADERS, 0);
	big[n] = 'X';
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_INCOMPLETE);
	assert_int_equal(http1_parse_request(big, n + 1, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 431);
	big[n] = '\r';
	assert_int_equal(
	    http1_parse_request(big, n + 1, &req), HTTP1_INCOMPLETE);
}

/* Request head of exactly total bytes (a padded header), complete. */
static size_t
build_head(size_t total, int complete)
{
	static const char pre[] = "GET / HTTP/1.1\r\nHost: a\r\nX-Pad: ";
	size_t pad = total - strlen(pre) - 4;

	memcpy(big, pre, strlen(pre));
	memset(big + strlen(pre), 'p', pad);
	memcpy(big + strlen(pre) + pad, "\r\n\r\n", 4);
	return complete ? total : total - 4;
}

static void
test_limit_head(void **state)
{
	size_t n;

	(void)state;
	n = build_head(LIMIT_HTTP_HEAD, 1);
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_OK);
	assert_int_equal(req.head_len, LIMIT_HTTP_HEAD);

	n = build_head(LIMIT_HTTP_HEAD + 1, 1);
	assert_int_equal(http1_parse_request(big, n, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 431);
	/* at the limit with only the last byte missing: still incomplete */
	assert_int_equal(
	    http1_parse_request(big, LIMIT_HTTP_HEAD, &req), HTTP1_INCOMPLETE);

	/* an unfinished head is refused as soon as it passes the limit */
	n = build_head(LIMIT_HTTP_HEAD + 100, 0);
	assert_int_equal(
	    http1_parse_request(big, LIMIT_HTTP_HEAD, &req), HTTP1_INCOMPLETE);
	assert_int_equal(
	    http1_parse_request(big, LIMIT_HTTP_HEAD + 1, &req), HTTP1_BAD);
	assert_int_equal(req.error_status, 431);
	(void)n;
}

/* ------------------------------------------------------------------ */
/* responses                                                           */

struct resp_case {
	const char *name;
	const char *raw;
	int is_head;
	int is_connect;
	int rc;
	int status;
	enum http1_framing framing;
	uint64_t content_length;
	int keep_alive;
};

static const struct resp_case resp_cases[] = {
    {"200 cl", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", 0, 0, HTTP1_OK,
	200, HTTP1_BODY_LENGTH, 5, 1},
    {"200 no reason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, 0,
	HTTP1_OK, 200, HTTP1_BODY_LENGTH, 0, 1},
    {"200 empty reason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0, 0,
	HTTP1_OK, 200, HTTP1_BODY_LENGTH, 0, 1},
    {"until close", "HTTP/1.1 200 OK\r\n\r\n", 0, 0, HTTP1_OK, 200,
	HTTP1_BODY_UNTIL_CLOSE, 0, 0},
    {"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0,
	HTTP1_OK, 200, HTTP1_BODY_CHUNKED, 0, 1},
    {"204", "HTTP/1.1 204 No Content\r\n\r\n", 0, 0, HTTP1_OK, 204,
	HTTP1_BODY_NONE, 0, 1},
    {"304 with cl", "HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", 0,
	0, HTTP1_OK, 304, HTTP1_BODY_NONE, 0, 1},
    {"100", "HTTP/1.1 100 Continue\r\n\r\n", 0, 0, HTTP1_OK, 100,
	HTTP1_BODY_NONE, 0, 1},
    {"101",
	"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n"
	"Upgrade: websocket\r\n\r\n",
	0, 0, HTTP1_OK, 101, HTTP1_BODY_NONE, 0, 1},
    {"head with cl", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", 1, 0,
	HTTP1_OK, 200, HTTP1_BODY_NONE, 0, 1},
    {"head with te", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 1,
	0, HTTP1_OK, 200, HTTP1_BODY_NONE, 0, 1},
    {"connect 200", "HTTP/1.1 200 Connection established\r\n\r\n", 0, 1,
	HTTP1_OK, 200, HTTP1_BODY_NONE, 0, 1},
    {"connect 407", "HTTP/1.1 407 Auth\r\nContent-Length: 3\r\n\r\n", 0, 1,
	HTTP1_OK, 407, HTTP1_BODY_LENGTH, 3, 1},
    {"1.0 cl", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", 0, 0, HTTP1_OK,
	200, HTTP1_BODY_LENGTH, 1, 0},
    {"1.0 keep-alive",
	"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n"
	"Connection: keep-alive\r\n\r\n",
	0, 0, HTTP1_OK, 200, HTTP1_BODY_LENGTH, 1, 1},
    {"1.1 close",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	"Connection: close\r\n\r\n",
	0, 0, HTTP1_OK, 200, HTTP1_BODY_LENGTH, 1, 0},
    {"999", "HTTP/1.1 999 x\r\nContent-Length: 0\r\n\r\n", 0, 0, HTTP1_OK, 999,
	HTTP1_BODY_LENGTH, 0, 1},
    {"obs-text reason",
	"HTTP/1.1 200 \xc3\x89t\xe9\r\n"
	"Content-Length: 0\r\n\r\n",
	0, 0, HTTP1_OK, 200, HTTP1_BODY_LENGTH, 0, 1},

    {"status 2 digits", "HTTP/1.1 20 OK\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"status 099", "HTTP/1.1 099 OK\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"status 4 digits", "HTTP/1.1 2000 OK\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0,
	0},
    {"status letters", "HTTP/1.1 2x0 OK\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"tab after version", "HTTP/1.1\t200 OK\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0,
	0},
    {"double sp", "HTTP/1.1  200 OK\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"http/2", "HTTP/2.0 200 OK\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"garbage", "ICY 200 OK\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"ctl reason", "HTTP/1.1 200 O\x01K\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"bare lf status", "HTTP/1.1 200 OK\n\r\n", 0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"bare lf header", "HTTP/1.1 200 OK\r\nX: y\n\r\n", 0, 0, HTTP1_BAD, 0, 0,
	0, 0},
    {"obs-fold", "HTTP/1.1 200 OK\r\nX: y\r\n z\r\n\r\n", 0, 0, HTTP1_BAD, 0, 0,
	0, 0},
    {"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\n", 0,
	0, HTTP1_BAD, 0, 0, 0, 0},
    {"cl and te",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	"Transfer-Encoding: chunked\r\n\r\n",
	0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"cl twice",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	"Content-Length: 1\r\n\r\n",
	0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"cl bad", "HTTP/1.1 200 OK\r\nContent-Length: 1a\r\n\r\n", 0, 0, HTTP1_BAD,
	0, 0, 0, 0},
    {"te gzip chunked",
	"HTTP/1.1 200 OK\r\n"
	"Transfer-Encoding: gzip, chunked\r\n\r\n",
	0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"te not final",
	"HTTP/1.1 200 OK\r\n"
	"Transfer-Encoding: chunked, gzip\r\n\r\n",
	0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"te gzip only", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 0,
	HTTP1_BAD, 0, 0, 0, 0},
    {"te chunked twice",
	"HTTP/1.1 200 OK\r\n"
	"Transfer-Encoding: chunked, chunked\r\n\r\n",
	0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"te two headers",
	"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n"
	"Transfer-Encoding: chunked\r\n\r\n",
	0, 0, HTTP1_BAD, 0, 0, 0, 0},
    {"te in 1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", 0, 0,
	HTTP1_BAD, 0, 0, 0, 0},
    {"connection names cl",
	"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
	"Connection: content-length\r\n\r\n",
	0, 0, HTTP1_BAD, 0, 0, 0, 0},
};

static void
test_response_table(void **state)
{
	const struct resp_case *tc;
	size_t i, k, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(resp_cases) / sizeof(resp_cases[0]); i++) {
		tc = &resp_cases[i];
		len = strlen(tc->raw);
		rc = http1_parse_response(
		    tc->raw, len, tc->is_head, tc->is_connect, &resp);
		if (rc != tc->rc)
			fail_msg("%s: rc %d want %d (%s)", tc->name, rc, tc->rc,
			    resp.error_reason != NULL ? resp.error_reason : "");
		if (rc == HTTP1_BAD) {
			assert_int_equal(resp.error_status, 502);
			assert_non_null(resp.error_reason);
			continue;
		}
		if (resp.status != tc->status || resp.framing != tc->framing ||
		    resp.is_keep_alive != tc->keep_alive ||
		    (tc->framing == HTTP1_BODY_LENGTH &&
			resp.content_length != tc->content_length))
			fail_msg("%s: status %d framing %d ka %d cl %llu",
			    tc->name, resp.status, resp.framing,
			    resp.is_keep_alive,
			    (unsigned long long)resp.content_length);
		assert_int_equal(resp.head_len, len);
		for (k = 0; k < len; k++) {
			rc = http1_parse_response(
			    tc->raw, k, tc->is_head, tc->is_connect, &resp);
			if (rc != HTTP1_INCOMPLETE)
				fail_msg(
				    "%s: prefix %zu rc %d", tc->name, k, rc);
		}
	}
}

static void
test_response_fields(void **state)
{
	static const char raw[] = "HTTP/1.0 404 Not Found\r\n"
				  "Server: x\r\nContent-Length: 0\r\n\r\n"
				  "HTTP/1.1 200 OK\r\n";
	static const char raw2[] = "HTTP/1.1 200\r\n\r\n";

	(void)state;
	assert_int_equal(
	    http1_parse_response(raw, strlen(raw), 0, 0, &resp), HTTP1_OK);
	assert_int_equal(resp.version_minor, 0);
	assert_int_equal(resp.status, 404);
	assert_slice(resp.reason, "Not Found");
	assert_int_equal(resp.nheaders, 2);
	assert_slice(resp.headers[0].value, "x");
	assert_int_equal(
	    resp.head_len, strlen(raw) - strlen("HTTP/1.1 200 OK\r\n"));

	assert_int_equal(
	    http1_parse_response(raw2, strlen(raw2), 0, 0, &resp), HTTP1_OK);
	assert_slice(resp.reason, "");
	assert_int_equal(resp.version_minor, 1);
}

static void
test_response_1xx_then_final(void **state)
{
	static const char raw[] =
	    "HTTP/1.1 100 Continue\r\n\r\n"
	    "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n"
	    "\r\nok";
	size_t off;

	(void)state;
	assert_int_equal(
	    http1_parse_response(raw, strlen(raw), 0, 0, &resp), HTTP1_OK);
	assert_int_equal(resp.status, 100);
	assert_int_equal(resp.framing, HTTP1_BODY_NONE);
	off = resp.head_len;
	assert_int_equal(
	    http1_parse_response(raw + off, strlen(raw) - off, 0, 0, &resp),
	    HTTP1_OK);
	assert_int_equal(resp.status, 201);
	assert_int_equal(resp.framing, HTTP1_BODY_LENGTH);
	assert_int_equal(resp.content_length, 2);
}

static void
test_limit_response_head(void **state)
{
	static const char pre[] = "HTTP/1.1 200 OK\r\nX-Pad: ";
	size_t pad, n;

	(void)state;
	pad = LIMIT_HTTP_RESPONSE_HEAD - strlen(pre) - 4;
	memcpy(big, pre, strlen(pre));
	memset(big + strlen(pre), 'p', pad);
	memcpy(big + strlen(pre) + pad, "\r\n\r\n", 4);
	n = strlen(pre) + pad + 4;
	assert_int_equal(n, LIMIT_HTTP_RESPONSE_HEAD);
	assert_int_equal(http1_parse_response(big, n, 0, 0, &resp), HTTP1_OK);
	assert_int_equal(resp.head_len, LIMIT_HTTP_RESPONSE_HEAD);

	memset(big + strlen(pre), 'p', pad + 1);
	memcpy(big + strlen(pre) + pad + 1, "\r\n\r\n", 4);
	assert_int_equal(
	    http1_parse_response(big, n + 1, 0, 0, &resp), HTTP1_BAD);
	assert_int_equal(resp.error_status, 502);
	assert_int_equal(
	    http1_parse_response(big, n, 0, 0, &resp), HTTP1_INCOMPLETE);

	/* a status line that never ends */
	memset(big, 'r', LIMIT_HTTP_RESPONSE_HEAD + 1);
	memcpy(big, "HTTP/1.1 200 ", 13);
	assert_int_equal(
	    http1_parse_response(big, LIMIT_HTTP_RESPONSE_HEAD, 0, 0, &resp),
	    HTTP1_INCOMPLETE);
	assert_int_equal(http1_parse_response(
			     big, LIMIT_HTTP_RESPONSE_HEAD + 1, 0, 0, &resp),
	    HTTP1_BAD);

	/* field count */
	n = (size_t)sprintf(big, "HTTP/1.1 200 OK\r\n");
	for (pad = 0; pad < LIMIT_HTTP_HEADERS; pad++)
		n += (size_t)sprintf(big + n, "X-%zu: v\r\n", pad);
	memcpy(big + n, "\r\n", 2);
	assert_int_equal(
	    http1_parse_response(big, n + 2, 0, 0, &resp), HTTP1_OK);
	assert_int_equal(resp.nheaders, LIMIT_HTTP_HEADERS);
	memcpy(big + n, "Y: z\r\n\r\n", 8);
	assert_int_equal(
	    http1_parse_response(big, n + 8, 0, 0, &resp), HTTP1_BAD);
	assert_int_equal(resp.error_status, 502);
}

/* ------------------------------------------------------------------ */
/* chunked                                                             */

struct chunk_case {
	const char *name;
	const char *raw;
	int rc;
};

static const struct chunk_case chunk_cases[] = {
    {"one chunk", "5\r\nhello\r\n0\r\n\r\n", HTTP1_OK},
    {"empty body", "0\r\n\r\n", HTTP1_OK},
    {"zeros", "000\r\n\r\n", HTTP1_OK},
    {"hex upper", "A\r\n0123456789\r\n0\r\n\r\n", HTTP1_OK},
    {"hex lower", "a\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n", HTTP1_OK},
    {"leading zeros", "0005\r\nhello\r\n0\r\n\r\n", HTTP1_OK},
    {"ext", "5;a\r\nhello\r\n0;b=c\r\n\r\n", HTTP1_OK},
    {"ext multi", "5;a=1;b;c=\"x y\"\r\nhello\r\n0\r\n\r\n", HTTP1_OK},
    {"ext quoted escape", "1;a=\"x\\\"y\"\r\nz\r\n0\r\n\r\n", HTTP1_OK},
    {"trailers", "1\r\nz\r\n0\r\nX-T: a\r\nY:b\r\n\r\n", HTTP1_OK},
    {"crlf in data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", HTTP1_OK},

    {"no digits", "\r\n", HTTP1_BAD},
    {"ext no digits", ";a\r\n", HTTP1_BAD},
    {"non hex", "g\r\n", HTTP1_BAD},
    {"0x prefix", "0x5\r\n", HTTP1_BAD},
    {"sign", "+5\r\n", HTTP1_BAD},
    {"space after size", "5 \r\nhello\r\n0\r\n\r\n", HTTP1_BAD},
    {"space before size", " 5\r\n", HTTP1_BAD},
    {"bare lf size", "5\nhello\r\n0\r\n\r\n", HTTP1_BAD},
    {"bare cr size", "5\rhello\r\n", HTTP1_BAD},
    {"data too long", "5\r\nhelloX\r\n0\r\n\r\n", HTTP1_BAD},
    {"data junk then lf", "5\r\nhelloX\n0\r\n\r\n", HTTP1_BAD},
    {"data lf only", "5\r\nhello\n0\r\n\r\n", HTTP1_BAD},
    {"data cr only", "5\r\nhello\r0\r\n\r\n", HTTP1_BAD},
    {"over size limit", "10000000001\r\n", HTTP1_BAD},
    {"overflow", "fffffffffffffffffffff\r\n", HTTP1_BAD},
    {"ext token then more", "1;a=b;c;d=\"\";e\r\nz\r\n0\r\n\r\n", HTTP1_OK},
    {"ext quoted then more", "1;a=\"x\";b=c\r\nz\r\n0\r\n\r\n", HTTP1_OK},
    {"ext bad value start", "5;a=@\r\n", HTTP1_BAD},
    {"ext bad token value", "5;a=b@\r\n", HTTP1_BAD},
    {"ext escaped ctl", "5;a=\"\\\x01\"\r\n", HTTP1_BAD},
    {"ext equals twice", "5;a==b\r\n", HTTP1_BAD},
    {"ext empty name", "5;\r\n", HTTP1_BAD},
    {"ext empty value", "5;a=\r\n", HTTP1_BAD},
    {"ext space", "5; a\r\n", HTTP1_BAD},
    {"ext unterminated quote", "5;a=\"x\r\nhello\r\n", HTTP1_BAD},
    {"ext junk after quote", "5;a=\"x\"y\r\n", HTTP1_BAD},
    {"ext ctl", "5;a=\"\x01\"\r\n", HTTP1_BAD},
    {"last chunk bare lf end", "0\r\n\n", HTTP1_BAD},
    {"last chunk cr junk", "0\r\n\rX", HTTP1_BAD},
    {"trailer obs-fold", "0\r\nX: a\r\n b\r\n\r\n", HTTP1_BAD},
    {"trailer no name", "0\r\n: a\r\n\r\n", HTTP1_BAD},
    {"trailer space colon", "0\r\nX : a\r\n\r\n", HTTP1_BAD},
    {"trailer bare lf", "0\r\nX: a\n\r\n", HTTP1_BAD},
    {"trailer bare cr", "0\r\nX: a\rb\r\n\r\n", HTTP1_BAD},
    {"trailer nul", "0\r\nX: \x01\r\n\r\n", HTTP1_BAD},
    {"trailer no colon", "0\r\nX\r\n\r\n", HTTP1_BAD},
};

/* Scan raw in one piece, then one byte at a time; both must agree. */
static void
test_chunked_table(void **state)
{
	const struct chunk_case *tc;
	struct http1_chunked c;
	size_t i, k, len, consumed, total;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		tc = &chunk_cases[i];
		len = strlen(tc->raw);
		http1_chunked_init(&c);
		rc = http1_chunked_scan(&c, tc->raw, len, &consumed);
		if (rc != tc->rc)
			fail_msg("%s: rc %d want %d", tc->name, rc, tc->rc);
		if (rc == HTTP1_OK && consumed != len)
			fail_msg(
			    "%s: consumed %zu of %zu", tc->name, consumed, len);
		assert_true(consumed <= len);

		http1_chunked_init(&c);
		total = 0;
		rc = HTTP1_INCOMPLETE;
		for (k = 0; k < len && rc == HTTP1_INCOMPLETE; k++) {
			rc = http1_chunked_scan(&c, tc->raw + k, 1, &consumed);
			total += consumed;
			if (rc == HTTP1_INCOMPLETE)
				assert_int_equal(consumed, 1);
		}
		if (rc != tc->rc)
			fail_msg(
			    "%s: bytewise rc %d want %d", tc->name, rc, tc->rc);
		if (rc == HTTP1_OK && (total != len || k != len))
			fail_msg("%s: bytewise ended at %zu", tc->name, k);
	}
}

static void
test_chunked_pipelined(void **state)
{
	static const char raw[] =
	    "3\r\nabc\r\n0\r\nX: y\r\n\r\nGET / HTTP/1.1\r\n";
	size_t body = strlen(raw) - strlen("GET / HTTP/1.1\r\n");
	struct http1_chunked c;
	size_t consumed, k, total;
	int rc;

	(void)state;
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_scan(&c, raw, strlen(raw), &consumed), HTTP1_OK);
	assert_int_equal(consumed, body);
	/* once done it stays done and takes nothing more */
	assert_int_equal(
	    http1_chunked_scan(&c, raw + body, 3, &consumed), HTTP1_OK);
	assert_int_equal(consumed, 0);

	/* split at every point: the end is found at the same byte */
	for (k = 0; k <= strlen(raw); k++) {
		http1_chunked_init(&c);
		rc = http1_chunked_scan(&c, raw, k, &total);
		if (rc == HTTP1_INCOMPLETE) {
			assert_int_equal(total, k);
			rc = http1_chunked_scan(
			    &c, raw + k, strlen(raw) - k, &consumed);
			total += consumed;
		}
		assert_int_equal(rc, HTTP1_OK);
		assert_int_equal(total, body);
	}
}

/*
 * Decode raw fed in pieces of at most step bytes: the data goes to out.
 * Returns the last result; *used is the bytes taken.
 */
static int
decode_steps(const char *raw, size_t len, size_t step, char *out,
    size_t *outlen, size_t *used)
{
	struct http1_chunked c;
	size_t off = 0, n, consumed, data;
	int rc = HTTP1_INCOMPLETE;

	http1_chunked_init(&c);
	*outlen = 0;
	while (off < len && rc == HTTP1_INCOMPLETE) {
		n = len - off < step ? len - off : step;
		rc = http1_chunked_decode(&c, raw + off, n, &consumed, &data);
		assert_true(consumed <= n && data <= consumed);
		if (rc == HTTP1_INCOMPLETE)
			assert_true(consumed > 0);
		memcpy(out + *outlen, raw + off + consumed - data, data);
		*outlen += data;
		off += consumed;
	}
	*used = off;
	return rc;
}

/* Decoding agrees with the scan on every case, whole and bytewise, and
 * yields the data without the framing. */
static void
test_chunked_decode(void **state)
{
	static const struct {
		const char *raw, *data;
	} dec[] = {
	    {"5\r\nhello\r\n0\r\n\r\n", "hello"},
	    {"0\r\n\r\n", ""},
	    {"a\r\n0123456789\r\n1\r\nx\r\n0\r\n\r\n", "0123456789x"},
	    {"5;a=1;b;c=\"x y\"\r\nhello\r\n0;b=c\r\n\r\n", "hello"},
	    {"1\r\nz\r\n0\r\nX-T: a\r\nY:b\r\n\r\n", "z"},
	    {"4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n"},
	    {"3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "abc"},
	};
	struct http1_chunked c;
	char out[256];
	size_t i, k, len, outlen, used, scanned, step;
	int rc, want;

	(void)state;
	for (i = 0; i < sizeof(chunk_cases) / sizeof(chunk_cases[0]); i++) {
		len = strlen(chunk_cases[i].raw);
		http1_chunked_init(&c);
		want = http1_chunked_scan(&c, chunk_cases[i].raw, len, &scanned);
		for (k = 0; k < 2; k++) {
			step = k == 0 ? 1 : len; /* bytewise, then whole */
			rc = decode_steps(chunk_cases[i].raw, len, step, out,
			    &outlen, &used);
			if (rc != want)
				fail_msg("%s: step %zu rc %d want %d",
				    chunk_cases[i].name, step, rc, want);
			if (rc == HTTP1_OK && used != scanned)
				fail_msg("%s: step %zu used %zu of %zu",
				    chunk_cases[i].name, step, used, scanned);
		}
	}
	for (i = 0; i < sizeof(dec) / sizeof(dec[0]); i++) {
		len = strlen(dec[i].raw);
		for (step = 1; step <= len; step++) {
			rc = decode_steps(dec[i].raw, len, step, out, &outlen,
			    &used);
			assert_int_equal(rc, HTTP1_OK);
			assert_int_equal(outlen, strlen(dec[i].data));
			assert_memory_equal(out, dec[i].data, outlen);
			/* what follows the body is left */
			assert_true(used <= len);
			assert_int_equal(
			    len - used, strstr(dec[i].raw, "GET") != NULL ?
				strlen("GET / HTTP/1.1\r\n") : 0);
		}
	}
}

static void
test_chunked_sticky_bad(void **state)
{
	struct http1_chunked c;
	size_t consumed;

	(void)state;
	http1_chunked_init(&c);
	assert_int_equal(http1_chunked_scan(&c, "z", 1, &consumed), HTTP1_BAD);
	assert_int_equal(
	    http1_chunked_scan(&c, "0\r\n\r\n", 5, &consumed), HTTP1_BAD);
	assert_int_equal(consumed, 0);

	/* empty input: nothing to do */
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_scan(&c, "", 0, &consumed), HTTP1_INCOMPLETE);
	assert_int_equal(consumed, 0);
}

static void
test_chunked_large_chunk(void **state)
{
	struct http1_chunked c;
	size_t consumed;
	uint64_t left;
	size_t n;

	(void)state;
	/* exactly LIMIT_HTTP_CHUNK_SIZE is fine; one more is not */
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_scan(&c, "10000000000\r\n", 13, &consumed),
	    HTTP1_INCOMPLETE);
	assert_true(LIMIT_HTTP_CHUNK_SIZE == 0x10000000000ULL);
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_scan(&c, "10000000001\r\n", 13, &consumed),
	    HTTP1_BAD);

	/* a chunk of 3 * sizeof(big) bytes fed in pieces */
	http1_chunked_init(&c);
	n = (size_t)sprintf(big, "%zx\r\n", 3 * sizeof(big));
	assert_int_equal(
	    http1_chunked_scan(&c, big, n, &consumed), HTTP1_INCOMPLETE);
	memset(big, 'd', sizeof(big));
	for (left = 3 * sizeof(big); left > 0; left -= sizeof(big)) {
		assert_int_equal(
		    http1_chunked_scan(&c, big, sizeof(big), &consumed),
		    HTTP1_INCOMPLETE);
		assert_int_equal(consumed, sizeof(big));
	}
	assert_int_equal(
	    http1_chunked_scan(&c, "\r\n0\r\n\r\nX", 8, &consumed), HTTP1_OK);
	assert_int_equal(consumed, 7);
}

static void
test_limit_chunk_line(void **state)
{
	struct http1_chunked c;
	size_t consumed, n;

	(void)state;
	/* "1;" + name: line of exactly LIMIT_HTTP_CHUNK_LINE bytes */
	n = LIMIT_HTTP_CHUNK_LINE;
	memcpy(big, "1;", 2);
	memset(big + 2, 'e', n - 2);
	memcpy(big + n, "\r\nx\r\n0\r\n\r\n", 10);
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_scan(&c, big, n + 10, &consumed), HTTP1_OK);
	assert_int_equal(consumed, n + 10);

	memset(big + 2, 'e', n - 1);
	memcpy(big + n + 1, "\r\nx\r\n0\r\n\r\n", 10);
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_scan(&c, big, n + 11, &consumed), HTTP1_BAD);
	/* detected before the line ends */
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_scan(&c, big, n, &consumed), HTTP1_INCOMPLETE);
	assert_int_equal(
	    http1_chunked_scan(&c, big + n, 1, &consumed), HTTP1_BAD);

	/* leading zeros count against the line too */
	memset(big, '0', n + 1);
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_scan(&c, big, n, &consumed), HTTP1_INCOMPLETE);
	assert_int_equal(
	    http1_chunked_scan(&c, big + n, 1, &consumed), HTTP1_BAD);
}

static void
test_limit_trailers(void **state)
{
	struct http1_chunked c;
	size_t consumed, n, line;

	(void)state;
	/* trailer section of exactly LIMIT_HTTP_TRAILERS bytes (lines with
	 * their CRLF), then the final CRLF */
	memcpy(big, "0\r\n", 3);
	line = LIMIT_HTTP_TRAILERS;
	memcpy(big + 3, "X: ", 3);
	memset(big + 6, 'v', line - 5);
	memcpy(big + 3 + line - 2, "\r\n\r\n", 4);
	n = 3 + line + 2;
	http1_chunked_init(&c);
	assert_int_equal(http1_chunked_scan(&c, big, n, &consumed), HTTP1_OK);
	assert_int_equal(consumed, n);

	memset(big + 6, 'v', line - 4);
	memcpy(big + 3 + line - 1, "\r\n\r\n", 4);
	http1_chunked_init(&c);
	assert_int_equal(
	    http1_chunked_scan(&c, big, n + 1, &consumed), HTTP1_BAD);
}

/* ------------------------------------------------------------------ */
/* authority                                                           */

struct auth_case {
	const char *auth;
	int require_port;
	int rc;
	const char *host;
	uint16_t port;
};

static const struct auth_case auth_cases[] = {
    {"a.test", 0, 0, "a.test", 0},
    {"a.test:80", 0, 0, "a.test", 80},
    {"a.test:65535", 1, 0, "a.test", 65535},
    {"A-b_c.D9", 0, 0, "A-b_c.D9", 0},
    {"192.0.2.1:8080", 1, 0, "192.0.2.1", 8080},
    {"[::1]", 0, 0, "::1", 0},
    {"[2001:DB8::a]:443", 1, 0, "2001:DB8::a", 443},
    {"[::ffff:192.0.2.1]:1", 1, 0, "::ffff:192.0.2.1", 1},
    {"a.test", 1, -1, NULL, 0},
    {"[::1]", 1, -1, NULL, 0},
    {"", 0, -1, NULL, 0},
    {":80", 0, -1, NULL, 0},
    {"a.test:", 0, -1, NULL, 0},
    {"a.test:0", 0, -1, NULL, 0},
    {"a.test:65536", 0, -1, NULL, 0},
    {"a.test:+80", 0, -1, NULL, 0},
    {"a.test: 80", 0, -1, NULL, 0},
    {"a.test:080", 0, -1, NULL, 0},
    {"a.test:80x", 0, -1, NULL, 0},
    {"a.test:123456", 0, -1, NULL, 0},
    {"a.test:80:81", 0, -1, NULL, 0},
    {"u@a.test", 0, -1, NULL, 0},
    {"u:p@a.test:80", 0, -1, NULL, 0},
    {"a test", 0, -1, NULL, 0},
    {"a/b", 0, -1, NULL, 0},
    {"a%2eb", 0, -1, NULL, 0},
    {"caf\xc3\xa9", 0, -1, NULL, 0},
    {"[]", 0, -1, NULL, 0},
    {"[]:80", 0, -1, NULL, 0},
    {"[::1", 0, -1, NULL, 0},
    {"[::1]x", 0, -1, NULL, 0},
    {"[::1]:", 0, -1, NULL, 0},
    {"[g::1]", 0, -1, NULL, 0},
    {"[::1%25eth0]", 0, -1, NULL, 0},
    {"[1.2.3.4]", 0, -1, NULL, 0},
    {"::1", 0, -1, NULL, 0},
    {"a]b", 0, -1, NULL, 0},
};

static void
test_split_authority(void **state)
{
	const struct auth_case *tc;
	struct http1_slice auth, host;
	uint16_t port;
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(auth_cases) / sizeof(auth_cases[0]); i++) {
		tc = &auth_cases[i];
		auth.p = tc->auth;
		auth.len = strlen(tc->auth);
		port = 7;
		rc =
		    http1_split_authority(auth, tc->require_port, &host, &port);
		if (rc != tc->rc)
			fail_msg("'%s': rc %d want %d", tc->auth, rc, tc->rc);
		if (rc == 0) {
			assert_slice(host, tc->host);
			assert_int_equal(port, tc->port);
		}
	}
}

static void
test_split_authority_length(void **state)
{
	struct http1_slice auth, host;
	uint16_t port;

	(void)state;
	memset(big, 'h', LIMIT_HOSTNAME + 1);
	auth.p = big;
	auth.len = LIMIT_HOSTNAME;
	assert_int_equal(http1_split_authority(auth, 0, &host, &port), 0);
	assert_int_equal(host.len, LIMIT_HOSTNAME);
	auth.len = LIMIT_HOSTNAME + 1;
	assert_int_equal(http1_split_authority(auth, 0, &host, &port), -1);
}

/* ------------------------------------------------------------------ */
/* header helpers                                                      */

static void
test_header_helpers(void **state)
{
	static const char raw[] =
	    "GET / HTTP/1.1\r\nHost: a\r\nconnection: keep-alive, X-Drop\r\n"
	    "X-Drop: 1\r\nCONNECTION: ,, Other ,\r\nX-Keep: 2\r\n"
	    "Keep-Alive: timeout=5\r\nTE: trailers\r\n\r\n";
	const struct http1_header *h;
	struct http1_slice s;

	(void)state;
	assert_int_equal(http1_parse_request(raw, strlen(raw), &req), HTTP1_OK);

	h = http1_find_header(req.headers, req.nheaders, "x-keep");
	assert_non_null(h);
	assert_slice(h->value, "2");
	h = http1_find_header(req.headers, req.nheaders, "CONNECTION");
	assert_ptr_equal(h, &req.headers[1]);
	assert_null(http1_find_header(req.headers, req.nheaders, "x-kee"));
	assert_null(http1_find_header(req.headers, 0, "host"));

	s.p = "Content-Length";
	s.len = 14;
	assert_true(http1_slice_eq(s, "content-length"));
	assert_false(http1_slice_eq(s, "content-lengt"));
	assert_false(http1_slice_eq(s, "content-lengthx"));
	s.len = 0;
	assert_true(http1_slice_eq(s, ""));

	assert_true(
	    http1_connection_has(req.headers, req.nheaders, "KEEP-ALIVE"));
	assert_true(http1_connection_has(req.headers, req.nheaders, "x-drop"));
	assert_true(http1_connection_has(req.headers, req.nheaders, "other"));
	assert_false(http1_connection_has(req.headers, req.nheaders, "x-keep"));
	assert_false(http1_connection_has(req.headers, req.nheaders, "keep"));
	assert_false(http1_connection_has(req.headers, req.nheaders, ""));

	s.p = "X-Drop";
	s.len = 6;
	assert_true(http1_is_hop_by_hop(req.headers, req.nheaders, s));
	s.p = "x-keep";
	assert_false(http1_is_hop_by_hop(req.headers, req.nheaders, s));
	s.p = "Host";
	s.len = 4;
	assert_false(http1_is_hop_by_hop(req.headers, req.nheaders, s));
	s.p = "TE";
	s.len = 2;
	assert_true(http1_is_hop_by_hop(req.headers, req.nheaders, s));
	s.p = "Proxy-Authorization";
	s.len = strlen(s.p);
	assert_true(http1_is_hop_by_hop(NULL, 0, s));
	s.p = "transfer-encoding";
	s.len = strlen(s.p);
	assert_true(http1_is_hop_by_hop(NULL, 0, s));
	s.p = "Upgrade";
	s.len = strlen(s.p);
	assert_true(http1_is_hop_by_hop(NULL, 0, s));
	s.p = "Trailer";
	s.len = strlen(s.p);
	assert_true(http1_is_hop_by_hop(NULL, 0, s));
	s.p = "Proxy-Connection";
	s.len = strlen(s.p);
	assert_true(http1_is_hop_by_hop(NULL, 0, s));
	s.p = "Proxy-Authenticate";
	s.len = strlen(s.p);
	assert_true(http1_is_hop_by_hop(NULL, 0, s));
	s.p = "Keep-Alive";
	s.len = strlen(s.p);
	assert_true(http1_is_hop_by_hop(NULL, 0, s));
	s.p = "Trailers";
	s.len = strlen(s.p);
	assert_false(http1_is_hop_by_hop(NULL, 0, s));
	s.p = "";
	s.len = 0;
	assert_false(http1_is_hop_by_hop(req.headers, req.nheaders, s));
}

/* ------------------------------------------------------------------ */
/* every byte value in every position that has a character class      */

static int
ref_is_tchar(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int
ref_is_value(int c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
ref_is_host(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
}

static int
parse_fmt(const char *fmt, int c)
{
	char tmp[128];
	size_t n = 0, i;

	for (i = 0; fmt[i] != '\0'; i++)
		tmp[n++] = fmt[i] == '@' ? (char)c : fmt[i];
	return http1_parse_request(tmp, n, &req);
}

static int
scan_fmt(const char *fmt, int c)
{
	struct http1_chunked ch;
	char tmp[64];
	size_t n = 0, i, consumed;

	for (i = 0; fmt[i] != '\0'; i++)
		tmp[n++] = fmt[i] == '@' ? (char)c : fmt[i];
	http1_chunked_init(&ch);
	return http1_chunked_scan(&ch, tmp, n, &consumed);
}

static void
test_char_classes(void **state)
{
	int c, want;

	(void)state;
	for (c = 0; c < 256; c++) {
		want = ref_is_tchar(c) ? HTTP1_OK : HTTP1_BAD;
		if (parse_fmt("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", c) != want)
			fail_msg("method byte 0x%02x", c);
		if (parse_fmt("GET / HTTP/1.1\r\nHost: a\r\nX@Y: v\r\n\r\n",
			c) != (c == ':' ? HTTP1_OK : want))
			fail_msg("field name byte 0x%02x", c);
		if (scan_fmt("1;a@\r\nx\r\n0\r\n\r\n", c) != want)
			fail_msg("chunk ext byte 0x%02x", c);
		if (scan_fmt("1;a=b@\r\nx\r\n0\r\n\r\n", c) !=
		    (c == ';' ? HTTP1_BAD : want))
			fail_msg("chunk ext token byte 0x%02x", c);

		want = ref_is_value(c) ? HTTP1_OK : HTTP1_BAD;
		if (parse_fmt("GET / HTTP/1.1\r\nHost: a\r\nX: a@b\r\n\r\n",
			c) != want)
			fail_msg("field value byte 0x%02x", c);
		if (scan_fmt("0\r\nX: a@b\r\n\r\n", c) != want)
			fail_msg("trailer value byte 0x%02x", c);
		if (scan_fmt("1;a=\"@\"\r\nx\r\n0\r\n\r\n", c) !=
		    (c == '"' || c == '\\' ? HTTP1_BAD : want))
			fail_msg("chunk ext quoted byte 0x%02x", c);
		if (scan_fmt("1;a=\"\\@\"\r\nx\r\n0\r\n\r\n", c) != want)
			fail_msg("chunk ext escaped byte 0x%02x", c);

		want = c > 0x20 && c < 0x7f && c != '#' ? HTTP1_OK : HTTP1_BAD;
		if (parse_fmt("GET /@x HTTP/1.1\r\nHost: a\r\n\r\n", c) != want)
			fail_msg("target byte 0x%02x", c);

		want = ref_is_host(c) ? HTTP1_OK : HTTP1_BAD;
		if (parse_fmt("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", c) != want)
			fail_msg("host byte 0x%02x", c);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_request_table),
	    cmocka_unit_test(test_request_prefixes),
	    cmocka_unit_test(test_request_early_bad),
	    cmocka_unit_test(test_early_prefix),
	    cmocka_unit_test(test_request_pipelined),
	    cmocka_unit_test(test_request_fields_origin),
	    cmocka_unit_test(test_request_fields_absolute),
	    cmocka_unit_test(test_request_fields_connect),
	    cmocka_unit_test(test_request_fields_asterisk),
	    cmocka_unit_test(test_request_fields_10),
	    cmocka_unit_test(test_request_connection),
	    cmocka_unit_test(test_request_reasons),
	    cmocka_unit_test(test_limit_request_line),
	    cmocka_unit_test(test_limit_headers),
	    cmocka_unit_test(test_limit_head),
	    cmocka_unit_test(test_response_table),
	    cmocka_unit_test(test_response_fields),
	    cmocka_unit_test(test_response_1xx_then_final),
	    cmocka_unit_test(test_limit_response_head),
	    cmocka_unit_test(test_chunked_table),
	    cmocka_unit_test(test_chunked_pipelined),
	    cmocka_unit_test(test_chunked_decode),
	    cmocka_unit_test(test_chunked_sticky_bad),
	    cmocka_unit_test(test_chunked_large_chunk),
	    cmocka_unit_test(test_limit_chunk_line),
	    cmocka_unit_test(test_limit_trailers),
	    cmocka_unit_test(test_split_authority),
	    cmocka_unit_test(test_split_authority_length),
	    cmocka_unit_test(test_header_helpers),
	    cmocka_unit_test(test_char_classes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
