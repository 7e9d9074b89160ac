/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_http1.c - libFuzzer target for the HTTP/1.1 head parser, the chunked
 * scanner and decoder and http1_split_authority.
 *
 * The input is parsed as a request, as a response (all four method flag
 * combinations), as a chunked body (whole, split at input-derived points,
 * and byte by byte) and as an authority; a request's
 * Slicer-Original-Destination is read and written back the same.  Besides
 * the sanitizers it checks invariants: results in range, slices inside the
 * head, limits respected, and that a parse of a prefix never contradicts
 * a parse of the whole.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http1.h"
#include "origdst.h"
#include "fuzz/fuzz.h"

static struct http1_request req, req2;
static struct http1_response resp, resp2;

static void
check_slice(struct http1_slice s, const char *buf, size_t len)
{
	CHECK(s.p != NULL || s.len == 0);
	if (s.p == NULL)
		return;
	CHECK(s.p >= buf && s.p <= buf + len);
	CHECK(s.len <= (size_t)(buf + len - s.p));
}

static void
check_headers(
    const struct http1_header *h, size_t n, const char *buf, size_t len)
{
	size_t i;

	CHECK(n <= LIMIT_HTTP_HEADERS);
	for (i = 0; i < n; i++) {
		check_slice(h[i].name, buf, len);
		check_slice(h[i].value, buf, len);
		CHECK(h[i].name.len > 0);
		CHECK(memchr(h[i].value.p, '\r', h[i].value.len) == NULL);
		CHECK(memchr(h[i].value.p, '\n', h[i].value.len) == NULL);
		CHECK(memchr(h[i].value.p, '\0', h[i].value.len) == NULL);
		if (h[i].value.len > 0) {
			CHECK(h[i].value.p[0] != ' ');
			CHECK(h[i].value.p[h[i].value.len - 1] != ' ');
		}
	}
}

/* The lookup helpers agree with each other on a parsed head. */
static void
check_helpers(const struct http1_header *h, size_t n)
{
	const struct http1_header *f;
	char name[64];
	size_t i;

	for (i = 0; i < n; i++) {
		if (h[i].name.len >= sizeof(name))
			continue;
		memcpy(name, h[i].name.p, h[i].name.len);
		name[h[i].name.len] = '\0';
		f = http1_find_header(h, n, name);
		CHECK(f != NULL && f <= &h[i]);
		CHECK(http1_slice_eq(f->name, name));
		if (http1_connection_has(h, n, name))
			CHECK(http1_is_hop_by_hop(h, n, h[i].name));
		if (http1_slice_eq(h[i].name, "connection") ||
		    http1_slice_eq(h[i].name, "transfer-encoding"))
			CHECK(http1_is_hop_by_hop(h, n, h[i].name));
		if (http1_slice_eq(h[i].name, "content-length") ||
		    http1_slice_eq(h[i].name, "host"))
			CHECK(!http1_is_hop_by_hop(h, n, h[i].name));
	}
}

/* Deterministic split points derived from the input. */
static uint32_t
mix(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	x ^= x >> 16;
	return x;
}

static uint32_t
seed_of(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261U;
	size_t i;

	for (i = 0; i < size && i < 64; i++)
		h = (h ^ data[i]) * 16777619U;
	return h ^ (uint32_t)size;
}

static void
check_request_ok(const char *buf, size_t size)
{
	size_t hl = req.head_len;

	CHECK(hl >= 4 && hl <= size && hl <= LIMIT_HTTP_HEAD);
	CHECK(memcmp(buf + hl - 4, "\r\n\r\n", 4) == 0);
	CHECK(req.version_minor == 0 || req.version_minor == 1);
	CHECK(req.form >= HTTP1_TARGET_ORIGIN &&
	      req.form <= HTTP1_TARGET_ASTERISK);
	CHECK(req.framing == HTTP1_BODY_NONE ||
	      req.framing == HTTP1_BODY_LENGTH ||
	      req.framing == HTTP1_BODY_CHUNKED);
	CHECK(req.content_length < (UINT64_C(1) << 62));
	CHECK(req.method.len > 0 && req.method.len <= LIMIT_METHOD);
	CHECK(req.target.len > 0 && req.target.len <= LIMIT_HTTP_REQUEST_LINE);
	check_slice(req.method, buf, hl);
	check_slice(req.target, buf, hl);
	check_slice(req.scheme, buf, hl);
	check_slice(req.host, buf, hl);
	check_slice(req.path, buf, hl);
	check_slice(req.query, buf, hl);
	check_headers(req.headers, req.nheaders, buf, hl);
	check_helpers(req.headers, req.nheaders);
	CHECK(req.host.len <= LIMIT_HOSTNAME);
	if (req.form == HTTP1_TARGET_AUTHORITY) {
		CHECK(req.port != 0 && req.host.len > 0);
		CHECK(req.framing == HTTP1_BODY_NONE);
	}
	if (req.form == HTTP1_TARGET_ABSOLUTE)
		CHECK(req.host.len > 0 && req.scheme.len >= 4);
	if (req.form == HTTP1_TARGET_ORIGIN)
		CHECK(req.path.len > 0 && req.path.p[0] == '/');
	if (req.query.len > 0)
		CHECK(req.query.p[0] == '?');
	if (req.version_minor == 1 && req.form != HTTP1_TARGET_AUTHORITY)
		CHECK(req.host.len > 0);
	if (req.framing == HTTP1_BODY_CHUNKED)
		CHECK(req.version_minor == 1);
	CHECK(req.error_status == 0 && req.error_reason == NULL);
}

/* Slicer-Original-Destination: what is read is written back the same. */
static void
check_origdst(void)
{
	const struct http1_header *h;
	char line[ORIGDST_LINE_MAX];
	struct netaddr a;
	const char *why = NULL;
	int rc, n;

	rc = origdst_parse(req.headers, req.nheaders, &a, &why);
	CHECK(rc == ORIGDST_NONE || rc == ORIGDST_FOUND || rc == ORIGDST_BAD);
	CHECK((rc == ORIGDST_BAD) == (why != NULL));
	if (rc != ORIGDST_FOUND)
		return;
	h = http1_find_header(req.headers, req.nheaders, ORIGDST_FIELD);
	CHECK(h != NULL);
	n = origdst_format(&a, line, sizeof(line));
	CHECK(n > 0);
	CHECK((size_t)n == sizeof(ORIGDST_FIELD) - 1 + 2 + h->value.len + 2);
	CHECK(memcmp(line + sizeof(ORIGDST_FIELD) + 1, h->value.p,
	    h->value.len) == 0);
}

static void
fuzz_request(const char *buf, size_t size, uint32_t seed)
{
	size_t k;
	int rc, rc2;

	rc = http1_parse_request(buf, size, &req);
	CHECK(rc == HTTP1_OK || rc == HTTP1_BAD || rc == HTTP1_INCOMPLETE);
	if (rc == HTTP1_BAD) {
		CHECK(req.error_reason != NULL);
		CHECK(req.error_status == 400 || req.error_status == 414 ||
		      req.error_status == 431 || req.error_status == 501 ||
		      req.error_status == 505);
	} else if (rc == HTTP1_INCOMPLETE) {
		CHECK(size <= LIMIT_HTTP_HEAD);
	} else {
		check_request_ok(buf, size);
		check_origdst();
		/* the head alone parses the same; one byte less does not */
		rc2 = http1_parse_request(buf, req.head_len, &req2);
		CHECK(rc2 == HTTP1_OK && req2.head_len == req.head_len);
		CHECK(req2.framing == req.framing &&
		      req2.nheaders == req.nheaders);
		rc2 = http1_parse_request(buf, req.head_len - 1, &req2);
		CHECK(rc2 == HTTP1_INCOMPLETE);
	}
	/* a prefix never contradicts the whole */
	if (size == 0)
		return;
	k = seed % size;
	rc2 = http1_parse_request(buf, k, &req2);
	if (rc2 == HTTP1_OK) {
		CHECK(rc == HTTP1_OK && req2.head_len == req.head_len);
	} else if (rc2 == HTTP1_BAD) {
		CHECK(rc == HTTP1_BAD);
	} else if (rc == HTTP1_OK) {
		CHECK(k < req.head_len);
	}
}

static void
check_response_ok(const char *buf, size_t size, int is_head, int is_connect)
{
	size_t hl = resp.head_len;

	CHECK(hl >= 4 && hl <= size && hl <= LIMIT_HTTP_RESPONSE_HEAD);
	CHECK(memcmp(buf + hl - 4, "\r\n\r\n", 4) == 0);
	CHECK(resp.version_minor == 0 || resp.version_minor == 1);
	CHECK(resp.status >= 100 && resp.status <= 999);
	check_slice(resp.reason, buf, hl);
	check_headers(resp.headers, resp.nheaders, buf, hl);
	check_helpers(resp.headers, resp.nheaders);
	CHECK(resp.content_length < (UINT64_C(1) << 62));
	if (is_head || resp.status < 200 || resp.status == 204 ||
	    resp.status == 304 ||
	    (is_connect && resp.status >= 200 && resp.status < 300))
		CHECK(resp.framing == HTTP1_BODY_NONE);
	if (resp.framing == HTTP1_BODY_UNTIL_CLOSE)
		CHECK(resp.is_keep_alive == 0);
	CHECK(resp.error_status == 0 && resp.error_reason == NULL);
}

static void
fuzz_response(
    const char *buf, size_t size, int is_head, int is_connect, uint32_t seed)
{
	size_t k;
	int rc, rc2;

	rc = http1_parse_response(buf, size, is_head, is_connect, &resp);
	CHECK(rc == HTTP1_OK || rc == HTTP1_BAD || rc == HTTP1_INCOMPLETE);
	if (rc == HTTP1_BAD) {
		CHECK(resp.error_status == 502 && resp.error_reason != NULL);
	} else if (rc == HTTP1_INCOMPLETE) {
		CHECK(size <= LIMIT_HTTP_RESPONSE_HEAD);
	} else {
		check_response_ok(buf, size, is_head, is_connect);
		rc2 = http1_parse_response(
		    buf, resp.head_len - 1, is_head, is_connect, &resp2);
		CHECK(rc2 == HTTP1_INCOMPLETE);
	}
	if (size == 0)
		return;
	k = seed % size;
	rc2 = http1_parse_response(buf, k, is_head, is_connect, &resp2);
	if (rc2 == HTTP1_OK)
		CHECK(rc == HTTP1_OK && resp2.head_len == resp.head_len);
	else if (rc2 == HTTP1_BAD)
		CHECK(rc == HTTP1_BAD);
}

/* Scan in pieces of input-derived sizes; returns rc, *total consumed. */
static int
chunked_pieces(
    const char *buf, size_t size, uint32_t seed, size_t maxpiece, size_t *total)
{
	struct http1_chunked c;
	size_t off = 0, piece, consumed;
	int rc = HTTP1_INCOMPLETE;

	http1_chunked_init(&c);
	*total = 0;
	while (off < size) {
		seed = mix(seed + 1);
		piece = maxpiece == 1 ? 1 : 1 + seed % maxpiece;
		if (piece > size - off)
			piece = size - off;
		rc = http1_chunked_scan(&c, buf + off, piece, &consumed);
		CHECK(consumed <= piece);
		*total += consumed;
		if (rc != HTTP1_INCOMPLETE)
			break;
		CHECK(consumed == piece);
		off += piece;
	}
	if (rc == HTTP1_OK) {
		/* done is final and takes nothing more */
		CHECK(http1_chunked_scan(&c, buf, size, &consumed) == HTTP1_OK);
		CHECK(consumed == 0);
	} else if (rc == HTTP1_BAD) {
		CHECK(
		    http1_chunked_scan(&c, buf, size, &consumed) == HTTP1_BAD);
	}
	return rc;
}

/* Decoding ends where the scan does; its data lie within what it took. */
static void
chunked_decode_agrees(const char *buf, size_t size, int rc, size_t consumed)
{
	struct http1_chunked c;
	size_t off = 0, used, data, ndata = 0;
	int rc2 = HTTP1_INCOMPLETE;

	http1_chunked_init(&c);
	while (off < size && rc2 == HTTP1_INCOMPLETE) {
		rc2 = http1_chunked_decode(
		    &c, buf + off, size - off, &used, &data);
		CHECK(used <= size - off && data <= used);
		if (rc2 == HTTP1_INCOMPLETE)
			CHECK(used > 0);
		off += used;
		ndata += data;
	}
	CHECK(rc2 == rc);
	if (rc != HTTP1_BAD)
		CHECK(off == consumed);
	CHECK(ndata <= off);
}

static void
fuzz_chunked(const char *buf, size_t size, uint32_t seed)
{
	struct http1_chunked c;
	size_t consumed, total;
	int rc, rc2;

	http1_chunked_init(&c);
	rc = http1_chunked_scan(&c, buf, size, &consumed);
	CHECK(rc == HTTP1_OK || rc == HTTP1_BAD || rc == HTTP1_INCOMPLETE);
	CHECK(consumed <= size);
	if (rc == HTTP1_INCOMPLETE)
		CHECK(consumed == size);
	if (rc == HTTP1_OK)
		CHECK(consumed >= 5 &&
		      memcmp(buf + consumed - 2, "\r\n", 2) == 0);

	chunked_decode_agrees(buf, size, rc, consumed);
	rc2 = chunked_pieces(buf, size, seed, 17, &total);
	CHECK(rc2 == rc && total == consumed);
	rc2 = chunked_pieces(buf, size, seed ^ 0x5bd1e995U, 4096, &total);
	CHECK(rc2 == rc && total == consumed);
	if (size <= 4096) {
		rc2 = chunked_pieces(buf, size, seed, 1, &total);
		CHECK(rc2 == rc && total == consumed);
	}
}

static void
fuzz_authority(const char *buf, size_t size)
{
	struct http1_slice auth, host;
	uint16_t port;
	int req_port;

	if (size > 512)
		return;
	auth.p = buf;
	auth.len = size;
	for (req_port = 0; req_port <= 1; req_port++) {
		if (http1_split_authority(auth, req_port, &host, &port) < 0)
			continue;
		check_slice(host, buf, size);
		CHECK(host.len > 0 && host.len <= LIMIT_HOSTNAME);
		CHECK(memchr(host.p, '@', host.len) == NULL);
		CHECK(memchr(host.p, '[', host.len) == NULL);
		if (req_port)
			CHECK(port != 0);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	uint32_t seed = seed_of(data, size);
	int rc;

	fuzz_request(buf, size, seed);
	fuzz_response(buf, size, 0, 0, seed);
	fuzz_response(buf, size, 1, 0, mix(seed));
	fuzz_response(buf, size, 0, 1, mix(seed + 1));
	fuzz_response(buf, size, 1, 1, mix(seed + 2));
	fuzz_chunked(buf, size, seed);
	fuzz_authority(buf, size);

	/* a chunked request followed by its body */
	rc = http1_parse_request(buf, size, &req);
	if (rc == HTTP1_OK && req.framing == HTTP1_BODY_CHUNKED)
		fuzz_chunked(
		    buf + req.head_len, size - req.head_len, mix(seed + 3));
	rc = http1_parse_response(buf, size, 0, 0, &resp);
	if (rc == HTTP1_OK && resp.framing == HTTP1_BODY_CHUNKED)
		fuzz_chunked(
		    buf + resp.head_len, size - resp.head_len, mix(seed + 4));
	return 0;
}
