/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * http1.h - strict HTTP/1.1 message head parser and chunked body scanner.
 *
 * Pure functions: (buf, len) in; OK / INCOMPLETE / BAD out; no allocation,
 * no I/O.  Results point into the caller's buffer (slices).  Stricter than a
 * server needs to be, because the proxy must never disagree with the
 * upstream about where a message ends (RFC 9112 section 6.3, 11.2):
 *
 *  - Content-Length and Transfer-Encoding together: BAD (400)
 *  - repeated or non-numeric Content-Length (even when equal): BAD
 *  - Transfer-Encoding other than exactly "chunked": BAD (501 for codings
 *    we do not know, 400 for malformed; in a response 502 as for any BAD)
 *  - obs-fold, bare CR, bare LF line ends, NUL, control characters, space or
 *    tab between field name and colon, empty field name, invalid token chars
 *    in method or field name: BAD (400)
 *  - request line over LIMIT_HTTP_REQUEST_LINE: BAD (414)
 *  - head over LIMIT_HTTP_HEAD or more than LIMIT_HTTP_HEADERS fields: BAD (431)
 *  - only HTTP/1.0 and HTTP/1.1: otherwise BAD (505)
 *  - absolute-form target whose authority disagrees with Host: BAD (400);
 *    HTTP/1.1 request without exactly one Host: BAD (400)
 *  - CONNECT target must be authority-form host:port: otherwise BAD (400)
 */
#ifndef SLICER_HTTP1_H
#define SLICER_HTTP1_H

#include <stddef.h>
#include <stdint.h>

#include "slicer_limits.h"

enum http1_result {
	HTTP1_BAD = -1,
	HTTP1_OK = 0,
	HTTP1_INCOMPLETE = 1,
};

struct http1_slice {
	const char *p; /* borrowed: points into the parsed buffer */
	size_t len;
};

struct http1_header {
	struct http1_slice name;
	struct http1_slice value; /* leading/trailing OWS stripped */
};

enum http1_target_form {
	HTTP1_TARGET_ORIGIN = 1,    /* /path?query */
	HTTP1_TARGET_ABSOLUTE,      /* http://host[:port]/path?query */
	HTTP1_TARGET_AUTHORITY,     /* host:port (CONNECT only) */
	HTTP1_TARGET_ASTERISK,      /* * (OPTIONS only) */
};

/* Body framing of a message, derived from its headers (RFC 9112 6.3). */
enum http1_framing {
	HTTP1_BODY_NONE = 0,   /* no body */
	HTTP1_BODY_LENGTH,     /* Content-Length bytes follow */
	HTTP1_BODY_CHUNKED,    /* chunked; scan with http1_chunked_scan */
	HTTP1_BODY_UNTIL_CLOSE /* responses only: read until the peer closes */
};

struct http1_request {
	struct http1_slice method;
	struct http1_slice target;  /* raw request-target */
	int version_minor;          /* 0 or 1 */
	enum http1_target_form form;

	/*
	 * Authority, for absolute-form and authority-form targets; for
	 * origin-form it is taken from the Host header.  host excludes the
	 * brackets of an IPv6 literal.  port is 0 when none was given.
	 * scheme is "http" / "https" for absolute-form, empty otherwise.
	 */
	struct http1_slice scheme;
	struct http1_slice host;
	uint16_t port;
	/* path and query of the target (origin-form or absolute-form); the
	 * query includes its leading '?'.  Empty path in absolute-form: "". */
	struct http1_slice path;
	struct http1_slice query;

	struct http1_header headers[LIMIT_HTTP_HEADERS];
	size_t nheaders;
	size_t head_len; /* bytes of the head including the final CRLF CRLF */

	enum http1_framing framing;
	uint64_t content_length; /* for HTTP1_BODY_LENGTH */
	int is_keep_alive;        /* per version and Connection header */
	int has_expect_continue;  /* Expect: 100-continue */
	int is_upgrade;           /* Connection: upgrade + Upgrade: websocket
				   * (HTTP/1.1, one field, one protocol) */

	/* On HTTP1_BAD: status to answer with and a short static reason. */
	int error_status;
	const char *error_reason;
};

struct http1_response {
	int version_minor;
	int status;
	struct http1_slice reason;
	struct http1_header headers[LIMIT_HTTP_HEADERS];
	size_t nheaders;
	size_t head_len;
	/*
	 * Framing follows RFC 9112 6.3 given the request method and status:
	 * HEAD requests, 1xx, 204 and 304 have no body; 2xx to CONNECT has
	 * none here either (a tunnel follows).  Without CL or TE: until close.
	 */
	enum http1_framing framing;
	uint64_t content_length;
	int is_keep_alive;
	int error_status;         /* 502 on BAD */
	const char *error_reason;
};

/*
 * Parse a request head at the start of buf.  Leading empty lines (CRLF) before
 * the request line are NOT skipped: they are BAD, except that the caller may
 * strip them itself.  On HTTP1_OK every field above is set; on HTTP1_BAD
 * error_status and error_reason are set; on HTTP1_INCOMPLETE nothing is
 * promised, but the limits are already enforced on the bytes seen so far
 * (an over-long request line without its CRLF is BAD 414 at once).
 */
int http1_parse_request(const char *buf, size_t len, struct http1_request *req);

/*
 * Parse a response head.  method_is_head and method_is_connect select the
 * framing rules that depend on the request.  Limit: LIMIT_HTTP_RESPONSE_HEAD.
 * 1xx responses parse as OK with framing NONE; the caller relays them and
 * parses the next head.
 */
int http1_parse_response(const char *buf, size_t len, int method_is_head,
    int method_is_connect, struct http1_response *resp);

/* First header named name (case-insensitive), or NULL. */
const struct http1_header *http1_find_header(const struct http1_header *hdrs,
    size_t n, const char *name);

/* Case-insensitive compare of a slice with a C string. */
int http1_slice_eq(struct http1_slice s, const char *str);

/*
 * Does a Connection header value list token tok (case-insensitive)?
 * Used to find hop-by-hop fields named in Connection.
 */
int http1_connection_has(const struct http1_header *hdrs, size_t n,
    const char *tok);

/*
 * Is this field hop-by-hop (RFC 9110 7.6.1): Connection, Keep-Alive,
 * Proxy-Connection, Proxy-Authorization, Proxy-Authenticate, TE, Trailer,
 * Transfer-Encoding, Upgrade, or a name listed in a Connection header?
 */
int http1_is_hop_by_hop(const struct http1_header *hdrs, size_t n,
    struct http1_slice name);

/*
 * Incremental scanner for a chunked body: it does not decode, it finds where
 * the body ends so the bytes can be relayed unchanged.  Feed it successive
 * pieces of the stream.
 */
struct http1_chunked {
	int state;             /* private */
	uint64_t remaining;    /* private: bytes left in the current chunk */
	size_t line_len;       /* private: bytes of the current size/trailer line */
	size_t trailer_len;    /* private: bytes of trailers so far */
	int saw_digit;         /* private */
};

void http1_chunked_init(struct http1_chunked *c);

/*
 * Scan len bytes of body.  *consumed is set to the bytes that belong to the
 * body.  Returns HTTP1_OK when the last chunk and trailers ended within
 * *consumed bytes (bytes after that belong to the next message),
 * HTTP1_INCOMPLETE when all len bytes were consumed and more are needed,
 * HTTP1_BAD on an invalid chunk-size line (non-hex, overflow, over
 * LIMIT_HTTP_CHUNK_SIZE, line over LIMIT_HTTP_CHUNK_LINE, bare CR/LF),
 * a missing CRLF after chunk data, or trailers over LIMIT_HTTP_TRAILERS.
 */
int http1_chunked_scan(struct http1_chunked *c, const char *buf, size_t len,
    size_t *consumed);

/*
 * The same scan, for a relay that passes on the body without its chunked
 * framing: it also stops after the first run of chunk data, which is then
 * the last *data_len of the *consumed bytes (0 when none came).  Returns
 * HTTP1_INCOMPLETE while the body goes on, also when it stopped short of
 * len: call again with the rest.  Trailers are scanned and dropped.
 */
int http1_chunked_decode(struct http1_chunked *c, const char *buf, size_t len,
    size_t *consumed, size_t *data_len);

/*
 * Split an authority "host:port", "[v6]:port" or "host" into host (without
 * brackets) and port.  Returns 0, or -1 when it is not a valid authority:
 * empty host, bad characters (only letters, digits, '-', '.', '_' in names,
 * hex/':'/'.' inside brackets), port not 1..65535 or with a sign/leading
 * junk, userinfo ('@') present.  *port is 0 when none was given and
 * require_port is 0; with require_port a missing port is an error.
 */
int http1_split_authority(struct http1_slice auth, int require_port,
    struct http1_slice *host, uint16_t *port);

#endif
