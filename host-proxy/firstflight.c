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
