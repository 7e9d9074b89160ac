/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * http1.c - strict HTTP/1.1 message head parser and chunked body scanner.
 *
 * Parses the caller's buffer in place and returns slices into it; keeps no
 * state between calls except what the caller holds in struct http1_chunked.
 * Anything that could make two parsers disagree about where a message ends
 * is refused (RFC 9112 6.3, 11.2).  It does not decode bodies, normalise
 * paths, judge methods or decide policy: callers do that on the parsed view.
 */
#include <string.h>

#include "http1.h"

/* Largest Content-Length accepted: below 2^62. */
#define HTTP1_CL_MAX ((UINT64_C(1) << 62) - 1)

/* Internal outcome of a parsing step, mapped to a status by the caller. */
enum http1_step {
	STEP_OK = 0,
	STEP_INCOMPLETE,
	STEP_BAD,   /* syntax: 400 for requests */
	STEP_LIMIT, /* a ceiling: 431 for requests */
};

/* Chunked scanner states (struct http1_chunked.state). */
enum http1_chunked_state {
	CH_SIZE = 0,       /* hex digits of chunk-size */
	CH_EXT_NAME_START, /* after ';' */
	CH_EXT_NAME,
	CH_EXT_VAL_START, /* after '=' */
	CH_EXT_VAL_TOKEN,
	CH_EXT_VAL_QUOTED,
	CH_EXT_VAL_QESC, /* after '\' in a quoted-string */
	CH_EXT_VAL_QEND, /* after the closing quote */
	CH_SIZE_LF,      /* CR seen, LF must follow */
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER_START, /* start of a trailer line or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_END_LF,
	CH_DONE,
	CH_BAD,
};

static int
char_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
char_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
char_hex_value(unsigned char c)
{
	if (char_is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* tchar (RFC 9110 5.6.2): ALPHA, DIGIT and !#$%&'*+-.^_`|~ */
static int
char_is_tchar(unsigned char c)
{
	/* bit c of this 128-bit map is set for each tchar */
	static const uint64_t map[2] = {
	    UINT64_C(0x03ff6cfa00000000),
	    UINT64_C(0x57ffffffc7fffffe),
	};

	return c < 128 && ((map[c >> 6] >> (c & 63)) & 1) != 0;
}

/* field-vchar / SP / HTAB: VCHAR, obs-text, SP, HTAB; no CTL, no DEL. */
static int
char_is_value(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int
char_is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static unsigned char
char_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

static int
mem_eq_nocase(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (char_lower((unsigned char)a[i]) !=
		    char_lower((unsigned char)b[i]))
			return 0;
	}
	return 1;
}

static int
slice_eq_mem(struct http1_slice s, const char *p, size_t n)
{
	return s.len == n && mem_eq_nocase(s.p, p, n);
}

static struct http1_slice
slice_make(const char *p, size_t len)
{
	struct http1_slice s;

	s.p = p;
	s.len = len;
	return s;
}

/* Remove leading and trailing OWS. */
static struct http1_slice
slice_trim(struct http1_slice s)
{
	while (s.len > 0 && char_is_ows((unsigned char)s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && char_is_ows((unsigned char)s.p[s.len - 1]))
		s.len--;
	return s;
}

/*
 * Next element of a comma-separated list starting at *pos in v; the element
 * has OWS trimmed and may be empty.  Returns 0 when v is exhausted.
 */
static int
list_next(struct http1_slice v, size_t *pos, struct http1_slice *elem)
{
	const char *comma;
	size_t start = *pos, end;

	if (start > v.len)
		return 0;
	comma = memchr(v.p + start, ',', v.len - start);
	end = comma != NULL ? (size_t)(comma - v.p) : v.len;
	*elem = slice_trim(slice_make(v.p + start, end - start));
	*pos = end + 1;
	return 1;
}

static int
slice_is_token(struct http1_slice s)
{
	size_t i;

	if (s.len == 0)
		return 0;
	for (i = 0; i < s.len; i++) {
		if (!char_is_tchar((unsigned char)s.p[i]))
			return 0;
	}
	return 1;
}

int
http1_slice_eq(struct http1_slice s, const char *str)
{
	return slice_eq_mem(s, str, strlen(str));
}

const struct http1_header *
http1_find_header(const struct http1_header *hdrs, size_t n, const char *name)
{
	size_t i, nlen = strlen(name);

	for (i = 0; i < n; i++) {
		if (slice_eq_mem(hdrs[i].name, name, nlen))
			return &hdrs[i];
	}
	return NULL;
}

static int
connection_has_mem(
    const struct http1_header *hdrs, size_t n, const char *tok, size_t toklen)
{
	struct http1_slice elem;
	size_t i, pos;

	for (i = 0; i < n; i++) {
		if (!http1_slice_eq(hdrs[i].name, "connection"))
			continue;
		pos = 0;
		while (list_next(hdrs[i].value, &pos, &elem)) {
			if (elem.len > 0 && slice_eq_mem(elem, tok, toklen))
				return 1;
		}
	}
	return 0;
}

int
http1_connection_has(const struct http1_header *hdrs, size_t n, const char *tok)
{
	return connection_has_mem(hdrs, n, tok, strlen(tok));
}

int
http1_is_hop_by_hop(
    const struct http1_header *hdrs, size_t n, struct http1_slice name)
{
	static const char *const fixed[] = {
	    "connection",
	    "keep-alive",
	    "proxy-connection",
	    "proxy-authorization",
	    "proxy-authenticate",
	    "te",
	    "trailer",
	    "transfer-encoding",
	    "upgrade",
	};
	size_t i;

	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		if (http1_slice_eq(name, fixed[i]))
			return 1;
	}
	if (name.len == 0)
		return 0;
	return connection_has_mem(hdrs, n, name.p, name.len);
}

/* What the checks need from the header fields, gathered in one pass. */
struct head_info {
	const struct http1_header *cl, *te, *host, *expect, *upgrade;
	size_t ncl, nte, nhost, nupgrade;
	/* Connection tokens */
	int is_close, is_keep_alive, is_upgrade;
	/* Connection lists Content-Length or Host */
	int names_framing;
};

#define SLICE_IS(s, lit) slice_eq_mem((s), (lit), sizeof(lit) - 1)

static void
head_info_connection(struct head_info *hi, struct http1_slice v)
{
	struct http1_slice e;
	size_t pos = 0;

	while (list_next(v, &pos, &e)) {
		if (SLICE_IS(e, "close"))
			hi->is_close = 1;
		else if (SLICE_IS(e, "keep-alive"))
			hi->is_keep_alive = 1;
		else if (SLICE_IS(e, "upgrade"))
			hi->is_upgrade = 1;
		else if (SLICE_IS(e, "content-length") || SLICE_IS(e, "host"))
			hi->names_framing = 1;
	}
}

static void
head_info_scan(struct head_info *hi, const struct http1_header *h, size_t n)
{
	size_t i;

	memset(hi, 0, sizeof(*hi));
	for (i = 0; i < n; i++) {
		if (SLICE_IS(h[i].name, "host")) {
			if (hi->nhost++ == 0)
				hi->host = &h[i];
		} else if (SLICE_IS(h[i].name, "content-length")) {
			if (hi->ncl++ == 0)
				hi->cl = &h[i];
		} else if (SLICE_IS(h[i].name, "transfer-encoding")) {
			if (hi->nte++ == 0)
				hi->te = &h[i];
		} else if (SLICE_IS(h[i].name, "connection")) {
			head_info_connection(hi, h[i].value);
		} else if (SLICE_IS(h[i].name, "expect")) {
			if (hi->expect == NULL)
				hi->expect = &h[i];
		} else if (SLICE_IS(h[i].name, "upgrade")) {
			if (hi->nupgrade++ == 0)
				hi->upgrade = &h[i];
		}
	}
}

/*
 * An upgrade to WebSocket, and to nothing else: after a 101 the
 * connection is relayed as bytes no one judges, so a protocol that
 * carries requests of its own (h2c) must not get one.  One Upgrade field
 * with the one token "websocket" (a version after a slash is allowed),
 * Connection: upgrade, HTTP/1.1.  Any other Upgrade is dropped as the
 * hop-by-hop field it is, and the request goes as a plain one.
 */
static int
head_info_is_websocket(const struct head_info *hi, int version_minor)
{
	struct http1_slice e, name;
	size_t pos = 0;
	const char *slash;

	if (!hi->is_upgrade || hi->nupgrade != 1 || version_minor != 1)
		return 0;
	if (!list_next(hi->upgrade->value, &pos, &e) ||
	    list_next(hi->upgrade->value, &pos, &name))
		return 0; /* none, or more than one protocol */
	name = e;
	slash = memchr(e.p, '/', e.len);
	if (slash != NULL)
		name.len = (size_t)(slash - e.p);
	return SLICE_IS(name, "websocket");
}

/* Keep-alive per version and Connection (RFC 9112 9.3). */
static int
head_info_keep_alive(const struct head_info *hi, int version_minor)
{
	if (hi->is_close)
		return 0;
	return version_minor == 1 || hi->is_keep_alive;
}

/* Strict decimal port 1..65535 without sign or leading zero. */
static int
port_parse(const char *p, size_t n, uint16_t *port)
{
	uint32_t v = 0;
	size_t i;

	if (n == 0 || n > 5 || p[0] == '0')
		return -1;
	for (i = 0; i < n; i++) {
		if (!char_is_digit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (uint32_t)(p[i] - '0');
	}
	if (v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

int
http1_split_authority(struct http1_slice auth, int require_port,
    struct http1_slice *host, uint16_t *port)
{
	const char *p = auth.p, *end;
	size_t n = auth.len, i, hlen, rest;
	int rc = -1, ncolon = 0;
	unsigned char c;

	*port = 0;
	*host = slice_make(p, 0);
	if (n == 0 || p == NULL)
		goto out;
	if (p[0] == '[') {
		end = memchr(p, ']', n);
		if (end == NULL)
			goto out;
		hlen = (size_t)(end - p) - 1;
		if (hlen == 0 || hlen > LIMIT_HOSTNAME)
			goto out;
		for (i = 1; i <= hlen; i++) {
			c = (unsigned char)p[i];
			if (c == ':')
				ncolon++;
			else if (c != '.' && char_hex_value(c) < 0)
				goto out;
		}
		if (ncolon == 0)
			goto out;
		*host = slice_make(p + 1, hlen);
		i = hlen + 2;
	} else {
		for (i = 0; i < n && p[i] != ':'; i++) {
			c = (unsigned char)p[i];
			if (!char_is_alpha(c) && !char_is_digit(c) &&
			    c != '-' && c != '.' && c != '_')
				goto out;
		}
		if (i == 0 || i > LIMIT_HOSTNAME)
			goto out;
		*host = slice_make(p, i);
	}
	/* i is at the end or at the ':' before the port */
	if (i == n) {
		if (require_port)
			goto out;
		rc = 0;
		goto out;
	}
	if (p[i] != ':')
		goto out;
	rest = n - i - 1;
	if (port_parse(p + i + 1, rest, port) < 0)
		goto out;
	rc = 0;
out:
	if (rc < 0) {
		*port = 0;
		*host = slice_make(p, 0);
	}
	return rc;
}

/*
 * Parse "HTTP/1.x" (exactly 8 bytes).  Returns 0, 400 for something that is
 * not an HTTP-version, or 505 for a version other than 1.0 and 1.1.
 */
static int
version_parse(const char *p, size_t n, int *minor)
{
	if (n != 8 || memcmp(p, "HTTP/", 5) != 0 ||
	    !char_is_digit((unsigned char)p[5]) || p[6] != '.' ||
	    !char_is_digit((unsigned char)p[7]))
		return 400;
	if (p[5] != '1' || (p[7] != '0' && p[7] != '1'))
		return 505;
	*minor = p[7] - '0';
	return 0;
}

/* One header field line without its CRLF. */
static int
field_parse(const char *p, size_t n, struct http1_header *h, const char **why)
{
	size_t i = 0, start, end;
	unsigned char c;

	while (i < n && char_is_tchar((unsigned char)p[i]))
		i++;
	if (i == n) {
		*why = "header field without colon";
		return STEP_BAD;
	}
	if (p[i] != ':') {
		if (char_is_ows((unsigned char)p[i]))
			*why = "whitespace before colon in header field";
		else
			*why = "invalid character in header field name";
		return STEP_BAD;
	}
	if (i == 0) {
		*why = "empty header field name";
		return STEP_BAD;
	}
	h->name = slice_make(p, i);
	i++;
	while (i < n && char_is_ows((unsigned char)p[i]))
		i++;
	start = i;
	for (; i < n; i++) {
		c = (unsigned char)p[i];
		if (!char_is_value(c)) {
			*why = c == '\r'
				   ? "bare CR in header field"
				   : "invalid character in header field value";
			return STEP_BAD;
		}
	}
	end = n;
	while (end > start && char_is_ows((unsigned char)p[end - 1]))
		end--;
	h->value = slice_make(p + start, end - start);
	return STEP_OK;
}

/*
 * Parse header field lines from *offp up to and including the empty line
 * that ends the head.  The head may not extend past limit bytes: when len
 * is over limit and the end was not found within it, that is STEP_LIMIT.
 * On STEP_OK *offp is the head length.
 */
static int
fields_parse(const char *buf, size_t len, size_t limit, size_t *offp,
    struct http1_header *hdrs, size_t *np, const char **why)
{
	size_t off = *offp, cap = len < limit ? len : limit, eol;
	const char *lf;
	int rc;

	for (;;) {
		if (off >= cap)
			goto incomplete;
		if (buf[off] == '\r') {
			if (off + 1 >= cap)
				goto incomplete;
			if (buf[off + 1] != '\n') {
				*why = "bare CR in header section";
				return STEP_BAD;
			}
			*offp = off + 2;
			return STEP_OK;
		}
		if (*np == LIMIT_HTTP_HEADERS) {
			*why = "too many header fields";
			return STEP_LIMIT;
		}
		if (char_is_ows((unsigned char)buf[off])) {
			*why = "obsolete line folding";
			return STEP_BAD;
		}
		lf = memchr(buf + off, '\n', cap - off);
		if (lf == NULL)
			goto incomplete;
		eol = (size_t)(lf - buf);
		if (eol == off || buf[eol - 1] != '\r') {
			*why = "bare LF in header section";
			return STEP_BAD;
		}
		rc = field_parse(buf + off, eol - 1 - off, &hdrs[*np], why);
		if (rc != STEP_OK)
			return rc;
		(*np)++;
		off = eol + 1;
	}
incomplete:
	if (len > limit) {
		*why = "message head too large";
		return STEP_LIMIT;
	}
	return STEP_INCOMPLETE;
}

/*
 * Transfer-Encoding value.  Returns 0 when it is exactly "chunked" (no
 * other coding: the proxy relays a message's coding only as chunked, so
 * another one would reach the next hop unnamed).  Else a status: 400
 * malformed or chunked misplaced, 501 a coding we do not relay.
 */
static int
te_check(struct http1_slice v, const char **why)
{
	struct http1_slice elem;
	size_t pos = 0, nchunked = 0, nother = 0;
	int last_is_chunked = 0;

	while (list_next(v, &pos, &elem)) {
		if (!slice_is_token(elem)) {
			*why = "malformed Transfer-Encoding";
			return 400;
		}
		last_is_chunked = http1_slice_eq(elem, "chunked");
		if (last_is_chunked)
			nchunked++;
		else
			nother++;
	}
	if (nother > 0) {
		*why = "unsupported transfer coding";
		return 501;
	}
	if (!last_is_chunked) {
		*why = "chunked is not the final transfer coding";
		return 400;
	}
	if (nchunked > 1) {
		*why = "chunked applied more than once";
		return 400;
	}
	return 0;
}

/* Content-Length: 1*DIGIT, value below 2^62. */
static int
content_length_parse(struct http1_slice v, uint64_t *out)
{
	uint64_t val = 0;
	unsigned d;
	size_t i;

	if (v.len == 0)
		return -1;
	for (i = 0; i < v.len; i++) {
		if (!char_is_digit((unsigned char)v.p[i]))
			return -1;
		d = (unsigned)(v.p[i] - '0');
		if (val > (HTTP1_CL_MAX - d) / 10)
			return -1;
		val = val * 10 + d;
	}
	*out = val;
	return 0;
}

/* Split path and query of origin-form or the part of absolute-form after
 * the authority. */
static void
request_split_path(struct http1_request *req, const char *p, size_t n)
{
	const char *q = memchr(p, '?', n);
	size_t plen = q != NULL ? (size_t)(q - p) : n;

	req->path = slice_make(p, plen);
	req->query = slice_make(p + plen, n - plen);
}

/* Classify and split the request-target.  Returns 0 or sets *why. */
static int
request_parse_target(struct http1_request *req, const char **why)
{
	const char *t = req->target.p, *sep, *end = t + req->target.len;
	size_t n = req->target.len, slen, alen, i;
	/* methods are case-sensitive (RFC 9110 9.1) */
	int is_connect =
	    req->method.len == 7 && memcmp(req->method.p, "CONNECT", 7) == 0;
	int is_options =
	    req->method.len == 7 && memcmp(req->method.p, "OPTIONS", 7) == 0;
	struct http1_slice auth;

	req->scheme = slice_make(t, 0);
	req->host = slice_make(t, 0);
	req->path = slice_make(end, 0);
	req->query = slice_make(end, 0);
	if (memchr(t, '#', n) != NULL) {
		*why = "fragment in request target";
		return -1;
	}
	if (is_connect) {
		req->form = HTTP1_TARGET_AUTHORITY;
		if (http1_split_authority(
			req->target, 1, &req->host, &req->port) < 0) {
			*why = "CONNECT target is not host:port";
			return -1;
		}
		return 0;
	}
	if (t[0] == '/') {
		req->form = HTTP1_TARGET_ORIGIN;
		request_split_path(req, t, n);
		return 0;
	}
	if (n == 1 && t[0] == '*') {
		if (!is_options) {
			*why = "asterisk target without OPTIONS";
			return -1;
		}
		req->form = HTTP1_TARGET_ASTERISK;
		return 0;
	}
	/* absolute-form: http[s]://authority[/path][?query] */
	sep = n >= 3 ? memchr(t, ':', n) : NULL;
	if (sep == NULL || (size_t)(end - sep) < 3 || sep[1] != '/' ||
	    sep[2] != '/') {
		*why = "invalid request target";
		return -1;
	}
	slen = (size_t)(sep - t);
	req->scheme = slice_make(t, slen);
	if (!http1_slice_eq(req->scheme, "http") &&
	    !http1_slice_eq(req->scheme, "https")) {
		*why = "unsupported scheme in request target";
		return -1;
	}
	req->form = HTTP1_TARGET_ABSOLUTE;
	auth.p = sep + 3;
	alen = (size_t)(end - auth.p);
	for (i = 0; i < alen && auth.p[i] != '/' && auth.p[i] != '?'; i++) {
		if (auth.p[i] == '@') {
			*why = "userinfo in request target";
			return -1;
		}
	}
	auth.len = i;
	if (http1_split_authority(auth, 0, &req->host, &req->port) < 0) {
		*why = "invalid authority in request target";
		return -1;
	}
	request_split_path(req, auth.p + i, alen - i);
	return 0;
}

/* Request line without its CRLF.  Returns 0 or a status with *why. */
static int
request_parse_line(
    struct http1_request *req, const char *p, size_t n, const char **why)
{
	size_t i = 0, start;
	int status;

	while (i < n && char_is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i == n || p[i] != ' ') {
		*why = "invalid method";
		return 400;
	}
	if (i > LIMIT_METHOD) {
		*why = "method too long";
		return 400;
	}
	req->method = slice_make(p, i);
	start = ++i;
	while (
	    i < n && (unsigned char)p[i] > 0x20 && (unsigned char)p[i] < 0x7f)
		i++;
	if (i == start) {
		*why = "empty request target";
		return 400;
	}
	if (i == n) {
		*why = "missing HTTP version";
		return 400;
	}
	if (p[i] != ' ') {
		*why = "invalid character in request target";
		return 400;
	}
	req->target = slice_make(p + start, i - start);
	i++;
	status = version_parse(p + i, n - i, &req->version_minor);
	if (status != 0) {
		*why = status == 505 ? "HTTP version not supported"
				     : "invalid HTTP version";
		return status;
	}
	if (request_parse_target(req, why) < 0)
		return 400;
	return 0;
}

/* Host header rules; fills host/port for origin- and asterisk-form. */
static int
request_check_host(
    struct http1_request *req, const struct head_info *hi, const char **why)
{
	struct http1_slice hhost;
	uint16_t hport, tport, dport;

	if (hi->nhost > 1) {
		*why = "repeated Host";
		return -1;
	}
	if (hi->nhost == 0) {
		if (req->version_minor == 1 &&
		    req->form != HTTP1_TARGET_AUTHORITY) {
			*why = "missing Host";
			return -1;
		}
		return 0;
	}
	if (http1_split_authority(hi->host->value, 0, &hhost, &hport) < 0) {
		*why = "invalid Host";
		return -1;
	}
	switch (req->form) {
	case HTTP1_TARGET_ORIGIN:
	case HTTP1_TARGET_ASTERISK:
		req->host = hhost;
		req->port = hport;
		break;
	case HTTP1_TARGET_ABSOLUTE:
		dport = http1_slice_eq(req->scheme, "https") ? 443 : 80;
		tport = req->port != 0 ? req->port : dport;
		if (hport == 0)
			hport = dport;
		if (!slice_eq_mem(req->host, hhost.p, hhost.len) ||
		    hport != tport) {
			*why = "Host does not match request target";
			return -1;
		}
		break;
	case HTTP1_TARGET_AUTHORITY:
		/*
		 * The CONNECT target alone says where the tunnel goes; some
		 * clients (Node's http.request) send the proxy's own address
		 * as Host.  It is never forwarded, so it cannot mislead
		 * anybody: accept any well-formed Host.
		 */
		break;
	}
	return 0;
}

/* Content-Length / Transfer-Encoding of a request.  Returns 0 or status. */
static int
request_check_framing(
    struct http1_request *req, const struct head_info *hi, const char **why)
{
	const struct http1_header *cl = hi->cl, *te = hi->te;
	int status;

	req->framing = HTTP1_BODY_NONE;
	if (cl != NULL && te != NULL) {
		*why = "Content-Length with Transfer-Encoding";
		return 400;
	}
	if (hi->ncl > 1) {
		*why = "repeated Content-Length";
		return 400;
	}
	if (hi->nte > 1) {
		*why = "repeated Transfer-Encoding";
		return 400;
	}
	if (te != NULL) {
		if (req->version_minor == 0) {
			*why = "Transfer-Encoding in HTTP/1.0";
			return 400;
		}
		if (req->form == HTTP1_TARGET_AUTHORITY) {
			*why = "CONNECT with a body";
			return 400;
		}
		status = te_check(te->value, why);
		if (status != 0)
			return status;
		req->framing = HTTP1_BODY_CHUNKED;
	} else if (cl != NULL) {
		if (content_length_parse(cl->value, &req->content_length) < 0) {
			*why = "invalid Content-Length";
			return 400;
		}
		if (req->form == HTTP1_TARGET_AUTHORITY) {
			/* CONNECT has no content; CL: 0 is harmless */
			if (req->content_length != 0) {
				*why = "CONNECT with a body";
				return 400;
			}
		} else {
			req->framing = HTTP1_BODY_LENGTH;
		}
	}
	return 0;
}

/*
 * Before its line end arrives: can these bytes no longer start a request
 * line?  Refusing early spares a peer that sent, say, a TLS ClientHello
 * the head timeout.
 */
static int
request_prefix_is_bad(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len && i <= LIMIT_METHOD; i++) {
		if (buf[i] == ' ')
			return i == 0;
		if (!char_is_tchar((unsigned char)buf[i]))
			return 1;
	}
	return i > LIMIT_METHOD;
}

static int
request_bad(struct http1_request *req, int status, const char *why)
{
	req->error_status = status;
	req->error_reason = why;
	return HTTP1_BAD;
}

int
http1_parse_request(const char *buf, size_t len, struct http1_request *req)
{
	struct head_info hi;
	const char *why = NULL, *lf;
	size_t cap, eol, off;
	int status, step;

	memset(req, 0, sizeof(*req));
	cap = len < LIMIT_HTTP_REQUEST_LINE + 2 ? len
						: LIMIT_HTTP_REQUEST_LINE + 2;
	lf = cap > 0 ? memchr(buf, '\n', cap) : NULL;
	if (lf == NULL) {
		/* LIMIT bytes of line may still be followed by CRLF */
		if (len > LIMIT_HTTP_REQUEST_LINE + 1 ||
		    (len == LIMIT_HTTP_REQUEST_LINE + 1 &&
			buf[LIMIT_HTTP_REQUEST_LINE] != '\r'))
			return request_bad(req, 414, "request line too long");
		if (request_prefix_is_bad(buf, len))
			return request_bad(req, 400, "invalid method");
		return HTTP1_INCOMPLETE;
	}
	eol = (size_t)(lf - buf);
	if (eol == 0 || buf[eol - 1] != '\r')
		return request_bad(req, 400, "bare LF in request line");
	status = request_parse_line(req, buf, eol - 1, &why);
	if (status != 0)
		return request_bad(req, status, why);

	off = eol + 1;
	step = fields_parse(buf, len, LIMIT_HTTP_HEAD, &off, req->headers,
	    &req->nheaders, &why);
	if (step == STEP_INCOMPLETE)
		return HTTP1_INCOMPLETE;
	if (step != STEP_OK)
		return request_bad(req, step == STEP_LIMIT ? 431 : 400, why);
	req->head_len = off;

	head_info_scan(&hi, req->headers, req->nheaders);
	if (request_check_host(req, &hi, &why) < 0)
		return request_bad(req, 400, why);
	status = request_check_framing(req, &hi, &why);
	if (status != 0)
		return request_bad(req, status, why);
	/*
	 * A relay honouring the Connection list would drop a field that
	 * frames or routes the message and disagree with the next hop.
	 */
	if (hi.names_framing)
		return request_bad(
		    req, 400, "Connection names a framing field");

	req->is_keep_alive = head_info_keep_alive(&hi, req->version_minor);
	req->is_upgrade = head_info_is_websocket(&hi, req->version_minor);
	/* HTTP/1.0 clients do not wait for 100 (RFC 9110 10.1.1) */
	req->has_expect_continue = req->version_minor == 1 &&
				   hi.expect != NULL &&
				   SLICE_IS(hi.expect->value, "100-continue");
	return HTTP1_OK;
}

/* Status line without its CRLF.  Returns 0 or sets *why. */
static int
response_parse_line(
    struct http1_response *resp, const char *p, size_t n, const char **why)
{
	size_t i;

	if (n < 12 || p[8] != ' ') {
		*why = "invalid status line";
		return -1;
	}
	if (version_parse(p, 8, &resp->version_minor) != 0) {
		*why = "unsupported HTTP version in response";
		return -1;
	}
	if (p[9] < '1' || p[9] > '9' || !char_is_digit((unsigned char)p[10]) ||
	    !char_is_digit((unsigned char)p[11])) {
		*why = "invalid status code";
		return -1;
	}
	resp->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if (n == 12) {
		resp->reason = slice_make(p + 12, 0);
		return 0;
	}
	if (p[12] != ' ') {
		*why = "invalid status code";
		return -1;
	}
	for (i = 13; i < n; i++) {
		if (!char_is_value((unsigned char)p[i])) {
			*why = "invalid character in reason phrase";
			return -1;
		}
	}
	resp->reason = slice_make(p + 13, n - 13);
	return 0;
}

/* Body framing of a response (RFC 9112 6.3).  Returns 0 or sets *why. */
static int
response_check_framing(struct http1_response *resp, const struct head_info *hi,
    int method_is_head, int method_is_connect, const char **why)
{
	const struct http1_header *cl = hi->cl, *te = hi->te;
	int st = resp->status;

	resp->framing = HTTP1_BODY_NONE;
	if (method_is_head || (st >= 100 && st < 200) || st == 204 || st == 304)
		return 0;
	if (method_is_connect && st >= 200 && st < 300)
		return 0;
	if (cl != NULL && te != NULL) {
		*why = "Content-Length with Transfer-Encoding";
		return -1;
	}
	if (hi->nte > 1) {
		*why = "repeated Transfer-Encoding";
		return -1;
	}
	if (hi->ncl > 1) {
		*why = "repeated Content-Length";
		return -1;
	}
	if (te != NULL) {
		if (resp->version_minor == 0) {
			*why = "Transfer-Encoding in HTTP/1.0";
			return -1;
		}
		if (te_check(te->value, why) != 0)
			return -1;
		resp->framing = HTTP1_BODY_CHUNKED;
	} else if (cl != NULL) {
		if (content_length_parse(cl->value, &resp->content_length) <
		    0) {
			*why = "invalid Content-Length";
			return -1;
		}
		resp->framing = HTTP1_BODY_LENGTH;
	} else {
		resp->framing = HTTP1_BODY_UNTIL_CLOSE;
	}
	return 0;
}

static int
response_bad(struct http1_response *resp, const char *why)
{
	resp->error_status = 502;
	resp->error_reason = why;
	return HTTP1_BAD;
}

int
http1_parse_response(const char *buf, size_t len, int method_is_head,
    int method_is_connect, struct http1_response *resp)
{
	struct head_info hi;
	const char *why = NULL, *lf;
	size_t cap, eol, off;
	int step;

	memset(resp, 0, sizeof(*resp));
	cap = len < LIMIT_HTTP_RESPONSE_HEAD ? len : LIMIT_HTTP_RESPONSE_HEAD;
	lf = cap > 0 ? memchr(buf, '\n', cap) : NULL;
	if (lf == NULL) {
		if (len > LIMIT_HTTP_RESPONSE_HEAD)
			return response_bad(resp, "response head too large");
		/* the same early refusal as for requests */
		if (memcmp(buf, "HTTP/1.", len < 7 ? len : 7) != 0)
			return response_bad(resp, "invalid status line");
		return HTTP1_INCOMPLETE;
	}
	eol = (size_t)(lf - buf);
	if (eol == 0 || buf[eol - 1] != '\r')
		return response_bad(resp, "bare LF in status line");
	if (response_parse_line(resp, buf, eol - 1, &why) < 0)
		return response_bad(resp, why);

	off = eol + 1;
	step = fields_parse(buf, len, LIMIT_HTTP_RESPONSE_HEAD, &off,
	    resp->headers, &resp->nheaders, &why);
	if (step == STEP_INCOMPLETE)
		return HTTP1_INCOMPLETE;
	if (step != STEP_OK)
		return response_bad(resp, why);
	resp->head_len = off;

	head_info_scan(&hi, resp->headers, resp->nheaders);
	if (response_check_framing(
		resp, &hi, method_is_head, method_is_connect, &why) < 0)
		return response_bad(resp, why);
	if (hi.names_framing)
		return response_bad(resp, "Connection names a framing field");
	resp->is_keep_alive = resp->framing != HTTP1_BODY_UNTIL_CLOSE &&
			      head_info_keep_alive(&hi, resp->version_minor);
	return HTTP1_OK;
}

void
http1_chunked_init(struct http1_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

/* Chunk-size line byte (size, extensions), CR excluded.  0 or -1. */
static int
chunked_line_byte(struct http1_chunked *c, unsigned char ch)
{
	int d;

	if (ch == '\r') {
		switch (c->state) {
		case CH_SIZE:
			if (!c->saw_digit)
				return -1;
			break;
		case CH_EXT_NAME:
		case CH_EXT_VAL_TOKEN:
		case CH_EXT_VAL_QEND:
			break;
		default:
			return -1;
		}
		c->state = CH_SIZE_LF;
		return 0;
	}
	if (++c->line_len > LIMIT_HTTP_CHUNK_LINE)
		return -1;
	switch (c->state) {
	case CH_SIZE:
		if (ch == ';' && c->saw_digit) {
			c->state = CH_EXT_NAME_START;
			return 0;
		}
		d = char_hex_value(ch);
		if (d < 0)
			return -1;
		c->saw_digit = 1;
		/* remaining <= 2^40 here, so this cannot overflow */
		c->remaining = c->remaining * 16 + (uint64_t)d;
		if (c->remaining > LIMIT_HTTP_CHUNK_SIZE)
			return -1;
		return 0;
	case CH_EXT_NAME_START:
		if (!char_is_tchar(ch))
			return -1;
		c->state = CH_EXT_NAME;
		return 0;
	case CH_EXT_NAME:
		if (ch == ';')
			c->state = CH_EXT_NAME_START;
		else if (ch == '=')
			c->state = CH_EXT_VAL_START;
		else if (!char_is_tchar(ch))
			return -1;
		return 0;
	case CH_EXT_VAL_START:
		if (ch == '"')
			c->state = CH_EXT_VAL_QUOTED;
		else if (char_is_tchar(ch))
			c->state = CH_EXT_VAL_TOKEN;
		else
			return -1;
		return 0;
	case CH_EXT_VAL_TOKEN:
		if (ch == ';')
			c->state = CH_EXT_NAME_START;
		else if (!char_is_tchar(ch))
			return -1;
		return 0;
	case CH_EXT_VAL_QUOTED:
		/* qdtext: HTAB, SP, VCHAR except '"' and '\', obs-text */
		if (ch == '"')
			c->state = CH_EXT_VAL_QEND;
		else if (ch == '\\')
			c->state = CH_EXT_VAL_QESC;
		else if (!char_is_value(ch))
			return -1;
		return 0;
	case CH_EXT_VAL_QESC:
		if (!char_is_value(ch))
			return -1;
		c->state = CH_EXT_VAL_QUOTED;
		return 0;
	case CH_EXT_VAL_QEND:
		if (ch != ';')
			return -1;
		c->state = CH_EXT_NAME_START;
		return 0;
	default:
		return -1;
	}
}

/* Trailer section byte.  Returns 0, 1 when the body ended, or -1. */
static int
chunked_trailer_byte(struct http1_chunked *c, unsigned char ch)
{
	if (c->state == CH_TRAILER_START && ch == '\r') {
		c->state = CH_END_LF;
		return 0;
	}
	if (c->state == CH_END_LF) {
		if (ch != '\n')
			return -1;
		c->state = CH_DONE;
		return 1;
	}
	if (++c->trailer_len > LIMIT_HTTP_TRAILERS)
		return -1;
	switch (c->state) {
	case CH_TRAILER_START:
		if (!char_is_tchar(ch))
			return -1;
		c->state = CH_TRAILER_NAME;
		return 0;
	case CH_TRAILER_NAME:
		if (ch == ':')
			c->state = CH_TRAILER_VALUE;
		else if (!char_is_tchar(ch))
			return -1;
		return 0;
	case CH_TRAILER_VALUE:
		if (ch == '\r')
			c->state = CH_TRAILER_LF;
		else if (!char_is_value(ch))
			return -1;
		return 0;
	case CH_TRAILER_LF:
		if (ch != '\n')
			return -1;
		c->state = CH_TRAILER_START;
		return 0;
	default:
		return -1;
	}
}

/*
 * The scanner; with data_len it also stops after the first run of chunk
 * data, which is then the last *data_len of the *consumed bytes.
 */
static int
chunked_run(struct http1_chunked *c, const char *buf, size_t len,
    size_t *consumed, size_t *data_len)
{
	size_t i = 0, n;
	unsigned char ch;
	int rc = HTTP1_INCOMPLETE, r;

	if (data_len != NULL)
		*data_len = 0;
	if (c->state == CH_DONE) {
		rc = HTTP1_OK;
		goto out;
	}
	if (c->state == CH_BAD) {
		rc = HTTP1_BAD;
		goto out;
	}
	while (i < len) {
		if (c->state == CH_DATA) {
			n = len - i;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			if (data_len != NULL) {
				*data_len = n;
				goto out;
			}
			continue;
		}
		ch = (unsigned char)buf[i++];
		switch (c->state) {
		case CH_SIZE_LF:
			if (ch != '\n')
				goto bad;
			c->state =
			    c->remaining == 0 ? CH_TRAILER_START : CH_DATA;
			break;
		case CH_DATA_CR:
			if (ch != '\r')
				goto bad;
			c->state = CH_DATA_LF;
			break;
		case CH_DATA_LF:
			if (ch != '\n')
				goto bad;
			c->state = CH_SIZE;
			c->remaining = 0;
			c->line_len = 0;
			c->saw_digit = 0;
			break;
		case CH_TRAILER_START:
		case CH_TRAILER_NAME:
		case CH_TRAILER_VALUE:
		case CH_TRAILER_LF:
		case CH_END_LF:
			r = chunked_trailer_byte(c, ch);
			if (r < 0)
				goto bad;
			if (r == 1) {
				rc = HTTP1_OK;
				goto out;
			}
			break;
		default:
			if (chunked_line_byte(c, ch) < 0)
				goto bad;
			break;
		}
	}
	goto out;
bad:
	c->state = CH_BAD;
	rc = HTTP1_BAD;
out:
	*consumed = i;
	return rc;
}

int
http1_chunked_scan(
    struct http1_chunked *c, const char *buf, size_t len, size_t *consumed)
{
	return chunked_run(c, buf, len, consumed, NULL);
}

int
http1_chunked_decode(struct http1_chunked *c, const char *buf, size_t len,
    size_t *consumed, size_t *data_len)
{
	return chunked_run(c, buf, len, consumed, data_len);
}
