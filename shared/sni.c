/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sni.c - the server name from a TLS ClientHello or an HTTP/1.x request
 * head (see sni.h).
 *
 * TLS: the handshake message may be split over several records and each
 * record over several segments; the records' payloads are joined into a
 * stack buffer of SNI_MAX_HELLO bytes and the whole ClientHello is parsed
 * once it is there.  Anything malformed after the first record header is
 * "TLS without a name" (the caller falls back to the address); the
 * strict fields of struct sni_info say what a stricter reader must know
 * (the whole hello walked, a second server_name, ECH).
 * HTTP: a request line "METHOD SP target SP HTTP/1.d CRLF", then header
 * lines until the Host field or the empty line.
 */
#include <stdint.h>
#include <string.h>

#include "netaddr.h"
#include "sni.h"

#define SNI_TLS_HANDSHAKE 0x16
#define SNI_TLS_CLIENT_HELLO 0x01
#define SNI_TLS_RECORD_MAX 16384
#define SNI_EXT_SERVER_NAME 0x0000
#define SNI_NAME_TYPE_HOST 0x00
#define SNI_EXT_ECH 0xfe0d /* encrypted_client_hello */

static uint16_t
sni_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void
sni_info_reset(struct sni_info *info)
{
	info->proto = SNI_PROTO_UNKNOWN;
	info->name[0] = '\0';
	info->is_hello_whole = 0;
	info->has_server_name = 0;
	info->is_server_name_dup = 0;
	info->is_server_name_exact = 0;
	info->has_ech = 0;
}

int
sni_name_canon(const char *s, size_t len, char *out, size_t size)
{
	struct netaddr na;
	size_t i, label = 0;
	int all_numeric = 1;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0 || len > LIMIT_HOSTNAME || size <= len)
		return -1;
	if (netaddr_parse_literal(s, len, &na) == 0)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			out[i] = '.';
			continue;
		}
		if (c >= 'A' && c <= 'Z')
			c = (unsigned char)(c - 'A' + 'a');
		else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
			     c == '-' || c == '_'))
			return -1;
		if (!(c >= '0' && c <= '9'))
			all_numeric = 0;
		if (++label > 63)
			return -1;
		out[i] = (char)c;
	}
	if (label == 0 || all_numeric)
		return -1;
	out[len] = '\0';
	return 0;
}

/*
 * The server_name extension's body: 0 with the name, or -1.  The name is
 * the first host_name entry's; is_server_name_exact says whether that was
 * all there is (one entry, a host_name, nothing after it), as a server
 * reads it (OpenSSL takes exactly one host_name, nothing else).
 */
static int
sni_parse_server_name(const uint8_t *p, size_t n, struct sni_info *info)
{
	size_t pos = 2, list, entries = 0;
	int rc = -1, is_host_seen = 0;

	if (n < 2)
		return -1;
	list = sni_u16(p);
	if (list + 2 != n)
		return -1;
	while (pos + 3 <= n) {
		uint8_t type = p[pos];
		size_t nlen = sni_u16(p + pos + 1);

		pos += 3;
		if (nlen > n - pos)
			return rc;
		entries++;
		if (type == SNI_NAME_TYPE_HOST && !is_host_seen) {
			is_host_seen = 1;
			rc = sni_name_canon((const char *)p + pos, nlen,
			    info->name, sizeof(info->name));
		}
		pos += nlen;
	}
	info->is_server_name_exact = rc == 0 && entries == 1 && pos == n;
	return rc;
}

/*
 * A ClientHello body (after the 4-byte handshake header).  The result is
 * the first server_name's; the extensions after it are still walked for
 * the strict fields (a second server_name, ECH, the exact end).
 */
static int
sni_parse_hello(const uint8_t *h, size_t n, struct sni_info *info)
{
	size_t pos = 2 + 32, len, end;
	int rc = SNI_NO_NAME;

	if (n < pos + 1)
		return SNI_NO_NAME;
	len = h[pos]; /* session id */
	if (len > 32 || n - pos - 1 < len)
		return SNI_NO_NAME;
	pos += 1 + len;
	if (n - pos < 2)
		return SNI_NO_NAME;
	len = sni_u16(h + pos); /* cipher suites */
	if (len < 2 || (len & 1) || n - pos - 2 < len)
		return SNI_NO_NAME;
	pos += 2 + len;
	if (n - pos < 1)
		return SNI_NO_NAME;
	len = h[pos]; /* compression methods */
	if (len < 1 || n - pos - 1 < len)
		return SNI_NO_NAME;
	pos += 1 + len;
	if (n - pos < 2) {
		/* no extensions at all (or a stray byte) */
		info->is_hello_whole = n == pos;
		return SNI_NO_NAME;
	}
	len = sni_u16(h + pos);
	pos += 2;
	if (n - pos < len)
		return SNI_NO_NAME;
	end = pos + len;
	while (end - pos >= 4) {
		uint16_t type = sni_u16(h + pos);
		size_t elen = sni_u16(h + pos + 2);

		pos += 4;
		if (elen > end - pos) {
			pos = end + 1; /* not whole, below */
			break;
		}
		if (type == SNI_EXT_SERVER_NAME && info->has_server_name) {
			info->is_server_name_dup = 1;
		} else if (type == SNI_EXT_SERVER_NAME) {
			info->has_server_name = 1;
			rc = sni_parse_server_name(h + pos, elen, info) == 0
				 ? SNI_FOUND
				 : SNI_NO_NAME;
		} else if (type == SNI_EXT_ECH) {
			info->has_ech = 1;
		}
		pos += elen;
	}
	info->is_hello_whole = pos == end && end == n;
	if (rc != SNI_FOUND) {
		/* a name that failed may be half written */
		info->name[0] = '\0';
		info->is_server_name_exact = 0;
	}
	return rc;
}

int
sni_parse_tls(const void *buf, size_t len, struct sni_info *info)
{
	const uint8_t *p = buf;
	uint8_t hs[SNI_MAX_HELLO];
	size_t off = 0, hlen = 0, need = 0;

	sni_info_reset(info);
	if (len == 0)
		return SNI_INCOMPLETE;
	/* record header: handshake, legacy version 3.x (x <= 4) */
	if (p[0] != SNI_TLS_HANDSHAKE || (len > 1 && p[1] != 3) ||
	    (len > 2 && p[2] > 4))
		return SNI_OTHER;
	info->proto = SNI_PROTO_TLS;
	for (;;) {
		size_t rlen, avail;

		if (len - off < 5)
			return SNI_INCOMPLETE;
		if (p[off] != SNI_TLS_HANDSHAKE || p[off + 1] != 3)
			return SNI_NO_NAME;
		rlen = sni_u16(p + off + 3);
		if (rlen == 0 || rlen > SNI_TLS_RECORD_MAX)
			return SNI_NO_NAME;
		off += 5;
		avail = len - off < rlen ? len - off : rlen;
		if (need != 0 && avail > need - hlen)
			avail = need - hlen;
		if (avail > sizeof(hs) - hlen)
			return SNI_NO_NAME;
		memcpy(hs + hlen, p + off, avail);
		hlen += avail;
		if (need == 0 && hlen >= 4) {
			if (hs[0] != SNI_TLS_CLIENT_HELLO)
				return SNI_NO_NAME;
			need = 4 + ((size_t)hs[1] << 16 | (size_t)hs[2] << 8 |
					hs[3]);
			if (need > sizeof(hs))
				return SNI_NO_NAME;
		}
		if (need != 0 && hlen >= need)
			return sni_parse_hello(hs + 4, need - 4, info);
		if (len - off < rlen)
			return SNI_INCOMPLETE;
		off += rlen;
	}
}

static int
sni_is_method_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
}

static int
sni_lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* The request line.  Sets *end past its CRLF on SNI_FOUND (used here as
 * "complete"); SNI_INCOMPLETE or SNI_OTHER otherwise. */
static int
sni_http_request_line(const char *s, size_t len, size_t *end)
{
	static const char version[] = " HTTP/1.";
	size_t i = 0, j;

	while (i < len && sni_is_method_char((unsigned char)s[i])) {
		if (++i > LIMIT_METHOD)
			return SNI_OTHER;
	}
	if (i == len)
		return SNI_INCOMPLETE;
	if (i == 0 || s[i] != ' ')
		return SNI_OTHER;
	i++;
	j = i;
	while (i < len && (unsigned char)s[i] > ' ' && s[i] != 0x7f) {
		if (i > LIMIT_HTTP_REQUEST_LINE)
			return SNI_OTHER;
		i++;
	}
	if (i == len)
		return SNI_INCOMPLETE;
	if (i == j)
		return SNI_OTHER;
	for (j = 0; j < sizeof(version) - 1; j++, i++) {
		if (i == len)
			return SNI_INCOMPLETE;
		if (s[i] != version[j])
			return SNI_OTHER;
	}
	if (i == len)
		return SNI_INCOMPLETE;
	if (s[i] != '0' && s[i] != '1')
		return SNI_OTHER;
	if (++i == len)
		return SNI_INCOMPLETE;
	if (s[i] == '\r') {
		if (++i == len)
			return SNI_INCOMPLETE;
	}
	if (s[i] != '\n')
		return SNI_OTHER;
	*end = i + 1;
	return SNI_FOUND;
}

/* The Host field's value: "name", "name:port", "[v6]:port". */
static int
sni_http_host(const char *v, size_t n, struct sni_info *info)
{
	size_t i;

	if (n == 0 || v[0] == '[')
		return SNI_NO_NAME;
	for (i = n; i > 0; i--)
		if (v[i - 1] == ':')
			break;
	if (i > 0) {
		size_t k;

		if (i == n)
			return SNI_NO_NAME;
		for (k = i; k < n; k++)
			if (v[k] < '0' || v[k] > '9')
				return SNI_NO_NAME;
		n = i - 1;
	}
	return sni_name_canon(v, n, info->name, sizeof(info->name)) == 0
		   ? SNI_FOUND
		   : SNI_NO_NAME;
}

int
sni_parse_http(const void *buf, size_t len, struct sni_info *info)
{
	const char *s = buf;
	size_t pos, eol, colon, vb, ve;
	int rc;

	sni_info_reset(info);
	if (len == 0)
		return SNI_INCOMPLETE;
	rc = sni_http_request_line(s, len, &pos);
	if (rc != SNI_FOUND)
		return rc;
	info->proto = SNI_PROTO_HTTP;
	for (;;) {
		const char *nl = memchr(s + pos, '\n', len - pos);

		if (nl == NULL)
			return SNI_INCOMPLETE;
		eol = (size_t)(nl - s);
		ve = eol > pos && s[eol - 1] == '\r' ? eol - 1 : eol;
		if (ve == pos)
			return SNI_NO_NAME; /* end of head, no Host */
		colon = pos;
		while (colon < ve && s[colon] != ':')
			colon++;
		if (colon - pos == 4 && sni_lower(s[pos]) == 'h' &&
		    sni_lower(s[pos + 1]) == 'o' &&
		    sni_lower(s[pos + 2]) == 's' &&
		    sni_lower(s[pos + 3]) == 't' && colon < ve) {
			vb = colon + 1;
			while (vb < ve && (s[vb] == ' ' || s[vb] == '\t'))
				vb++;
			while (ve > vb && (s[ve - 1] == ' ' || s[ve - 1] == '\t'))
				ve--;
			return sni_http_host(s + vb, ve - vb, info);
		}
		pos = eol + 1;
	}
}

int
sni_peek(const void *buf, size_t len, struct sni_info *info)
{
	const unsigned char *p = buf;

	sni_info_reset(info);
	if (len == 0)
		return SNI_INCOMPLETE;
	if (p[0] == SNI_TLS_HANDSHAKE)
		return sni_parse_tls(buf, len, info);
	return sni_parse_http(buf, len, info);
}
