/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * firstflight.c - the names in a host-level tunnel's first bytes (see
 * firstflight.h).
 *
 * sni.c tells TLS from HTTP from anything else and reads the ClientHello;
 * it is lenient for the guest agent, so the strict part (ECH, a second
 * server_name, a hello that does not parse to its end) is read here from
 * its sni_info fields.  HTTP heads go through http1.c, the parser the
 * forward path uses, so the Host judged is the Host a server would see
 * (a repeated Host, say, is refused rather than guessed at).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "firstflight.h"
#include "http1.h"
#include "match.h"
#include "netaddr.h"
#include "slicer_limits.h"
#include "sni.h"

static int firstflight_refuse(int verdict, char *reason, size_t rsize,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Write the reason; returns verdict. */
static int
firstflight_refuse(int verdict, char *reason, size_t rsize, const char *fmt,
    ...)
{
	va_list ap;

	va_start(ap, fmt);
	(void)vsnprintf(reason, rsize, fmt, ap);
	va_end(ap);
	return verdict;
}

static int
firstflight_tls(const struct sni_info *info, int rc, const char *host,
    unsigned flags, char *reason, size_t rsize)
{
	char canon[LIMIT_HOSTNAME + 3];

	if (!info->is_hello_whole)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason, rsize,
		    "malformed TLS ClientHello in a tunnel to %s", host);
	if (info->has_ech && !(flags & FIRSTFLIGHT_ALLOW_ECH))
		return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason, rsize,
		    "TLS ClientHello with encrypted_client_hello (its server "
		    "name hides the real one) in a tunnel to %s", host);
	if (info->is_server_name_dup)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason, rsize,
		    "TLS ClientHello with two server_name extensions in a "
		    "tunnel to %s", host);
	if (!info->has_server_name)
		return FIRSTFLIGHT_PASS; /* the server's default, as direct */
	if (rc != SNI_FOUND || !info->is_server_name_exact ||
	    match_host_canon(info->name, strlen(info->name), canon,
	    sizeof(canon)) == -1)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason, rsize,
		    "TLS server name is not one valid host name in a tunnel "
		    "to %s", host);
	if (strcmp(canon, host) != 0)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason, rsize,
		    "TLS server name %s is not the CONNECT host %s", canon,
		    host);
	return FIRSTFLIGHT_PASS;
}

static int
firstflight_http(const void *buf, size_t len, int is_final, const char *host,
    uint16_t port, char *reason, size_t rsize)
{
	struct http1_request req;
	char raw[LIMIT_HOSTNAME + 3], canon[LIMIT_HOSTNAME + 3];
	int rc;

	rc = http1_parse_request(buf, len, &req);
	if (rc == HTTP1_INCOMPLETE && !is_final)
		return FIRSTFLIGHT_MORE;
	if (rc == HTTP1_INCOMPLETE)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE_HTTP, reason,
		    rsize, "unfinished HTTP request head in a tunnel to %s",
		    host);
	if (rc == HTTP1_BAD)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE_HTTP, reason,
		    rsize, "malformed HTTP request in a tunnel to %s (%s)", host,
		    req.error_reason != NULL ? req.error_reason : "bad head");
	if (req.host.len == 0)
		return FIRSTFLIGHT_PASS_HTTP; /* HTTP/1.0 without Host */
	if (req.host.len < sizeof(raw)) {
		memcpy(raw, req.host.p, req.host.len);
		raw[req.host.len] = '\0';
	}
	if (req.host.len >= sizeof(raw) ||
	    match_host_canon(raw, req.host.len, canon, sizeof(canon)) == -1)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE_HTTP, reason,
		    rsize, "HTTP request names an invalid host in a tunnel to "
		    "%s", host);
	if (strcmp(canon, host) != 0)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE_HTTP, reason,
		    rsize, "HTTP request host %s is not the CONNECT host %s",
		    canon, host);
	if (req.port != 0 && req.port != port) {
		return firstflight_refuse(FIRSTFLIGHT_REFUSE_HTTP, reason,
		    rsize, "HTTP request port %u is not the CONNECT port %u",
		    (unsigned)req.port, (unsigned)port);
	}
	return FIRSTFLIGHT_PASS_HTTP;
}

#define FIRSTFLIGHT_H2_PREFACE "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
#define FIRSTFLIGHT_H2_PREFACE_LEN (sizeof(FIRSTFLIGHT_H2_PREFACE) - 1)

/*
 * The HTTP/2 connection preface a client sends when it speaks HTTP/2 in the
 * clear without an upgrade (RFC 9113 3.3).  1 when buf begins with that
 * preface or is a beginning of it, 0 when it is not.
 */
static int
firstflight_is_h2_preface(const void *buf, size_t len)
{
	size_t n = len < FIRSTFLIGHT_H2_PREFACE_LEN ? len :
	    FIRSTFLIGHT_H2_PREFACE_LEN;

	return n > 0 && memcmp(buf, FIRSTFLIGHT_H2_PREFACE, n) == 0;
}

int
firstflight_judge(const void *buf, size_t len, int is_final,
    const char *host, uint16_t port, unsigned flags, char *reason,
    size_t rsize)
{
	struct sni_info info;
	struct netaddr na;
	int rc;

	if (rsize > 0)
		reason[0] = '\0';
	if (netaddr_parse_literal(host, strlen(host), &na) == 0)
		return FIRSTFLIGHT_PASS;
	if (len > SNI_PEEK_MAX) {
		len = SNI_PEEK_MAX;
		is_final = 1;
	}
	if (firstflight_is_h2_preface(buf, len)) {
		if (len < FIRSTFLIGHT_H2_PREFACE_LEN && !is_final)
			return FIRSTFLIGHT_MORE;
		if (len < FIRSTFLIGHT_H2_PREFACE_LEN)
			return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason,
			    rsize, "the client stopped in the middle of its "
			    "first bytes in a tunnel to %s", host);
		return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason, rsize,
		    "HTTP/2 without TLS (prior knowledge) in a tunnel to %s: "
		    "its requests name their hosts in frames a tunnel does not "
		    "read", host);
	}
	rc = sni_peek(buf, len, &info);
	if (info.proto == SNI_PROTO_HTTP)
		return firstflight_http(buf, len, is_final, host, port, reason,
		    rsize);
	if (rc == SNI_INCOMPLETE && !is_final)
		return FIRSTFLIGHT_MORE;
	if (rc == SNI_INCOMPLETE)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason, rsize,
		    "the client stopped in the middle of its first bytes in a "
		    "tunnel to %s", host);
	if (info.proto == SNI_PROTO_TLS)
		return firstflight_tls(&info, rc, host, flags, reason, rsize);
	return FIRSTFLIGHT_PASS; /* SSH, a database, anything else */
}

/* The random of a HelloRetryRequest: SHA-256 of "HelloRetryRequest". */
static const unsigned char firstflight_hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
	0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
	0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* TLS record content types (RFC 8446 5.1) */
#define FF_CHANGE_CIPHER_SPEC 20
#define FF_ALERT 21
#define FF_HANDSHAKE 22
#define FF_APPLICATION_DATA 23
#define FF_RECORD_HEADER 5

static size_t
firstflight_record_len(const unsigned char *r)
{
	return (size_t)r[3] << 8 | r[4];
}

int
firstflight_server_hello(const void *buf, size_t len)
{
	/* msg_type, length (3), legacy_version (2), random (32) */
	unsigned char head[1 + 3 + 2 + 32];
	const unsigned char *b = buf;
	size_t pos = 0, got = 0, take, rlen;

	while (got < sizeof(head) && pos + FF_RECORD_HEADER <= len) {
		if (b[pos] != FF_HANDSHAKE)
			return FIRSTFLIGHT_SERVER_OTHER;
		rlen = firstflight_record_len(b + pos);
		pos += FF_RECORD_HEADER;
		take = rlen;
		if (take > len - pos)
			take = len - pos;
		if (take > sizeof(head) - got)
			take = sizeof(head) - got;
		memcpy(head + got, b + pos, take);
		got += take;
		if (got > 0 && head[0] != 2) /* server_hello */
			return FIRSTFLIGHT_SERVER_OTHER;
		if (rlen > len - pos)
			break; /* the rest of this record is still to come */
		pos += rlen;
	}
	if (got == 0 && pos < len && b[pos] != FF_HANDSHAKE)
		return FIRSTFLIGHT_SERVER_OTHER;
	if (got < sizeof(head))
		return FIRSTFLIGHT_SERVER_MORE;
	return memcmp(head + 6, firstflight_hrr_random,
	    sizeof(firstflight_hrr_random)) == 0 ? FIRSTFLIGHT_SERVER_HRR :
	    FIRSTFLIGHT_SERVER_OTHER;
}

int
firstflight_judge_second(const void *buf, size_t len, int is_final,
    const char *host, uint16_t port, unsigned flags, char *reason,
    size_t rsize)
{
	const unsigned char *b = buf;
	size_t pos = 0, rlen;

	if (rsize > 0)
		reason[0] = '\0';
	if (len > SNI_PEEK_MAX) {
		len = SNI_PEEK_MAX;
		is_final = 1;
	}
	while (pos + FF_RECORD_HEADER <= len) {
		switch (b[pos]) {
		case FF_HANDSHAKE:
			return firstflight_judge(b + pos, len - pos, is_final,
			    host, port, flags, reason, rsize);
		case FF_ALERT:
			return FIRSTFLIGHT_PASS;
		case FF_CHANGE_CIPHER_SPEC:
		case FF_APPLICATION_DATA:
			break;
		default:
			return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason,
			    rsize, "the client sent no TLS records after a "
			    "HelloRetryRequest in a tunnel to %s", host);
		}
		rlen = firstflight_record_len(b + pos);
		if (rlen > len - pos - FF_RECORD_HEADER)
			break;
		pos += FF_RECORD_HEADER + rlen;
	}
	if (!is_final)
		return FIRSTFLIGHT_MORE;
	if (pos == len && len < SNI_PEEK_MAX)
		return FIRSTFLIGHT_PASS; /* it ended between records */
	if (pos == len)
		return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason, rsize,
		    "over %d bytes before the client's second TLS ClientHello "
		    "in a tunnel to %s", SNI_PEEK_MAX, host);
	return firstflight_refuse(FIRSTFLIGHT_REFUSE, reason, rsize,
	    "the client's second TLS ClientHello in a tunnel to %s was not "
	    "whole", host);
}
