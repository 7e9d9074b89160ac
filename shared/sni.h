/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sni.h - learn the server name a client is about to talk to from the
 * first bytes it sent: the server_name extension of a TLS ClientHello, or
 * the Host header of an HTTP/1.x request.  For a transparent redirector
 * that peeks (MSG_PEEK) at a connection before it forwards the very same
 * bytes.
 *
 * Pure functions: (buf, len) in, a verdict out; no allocation, no I/O.
 * Lenient about what is not the name (a redirector relays whatever the
 * client sends; the server judges it), strict about the name itself:
 * a DNS host name, lower-cased, at most LIMIT_HOSTNAME characters.
 * IP literals are never returned as names (the caller has the address).
 *
 * What a strict reader needs besides (the proxy's check of a tunnel's
 * first bytes) is in struct sni_info's has_/is_ fields; they never change
 * the result above, which stops at the first server_name.
 */
#ifndef SLICER_SNI_H
#define SLICER_SNI_H

#include <stddef.h>

#include "slicer_limits.h"

/* A ClientHello (handshake message, all records joined) larger than this
 * is not parsed: the caller falls back to the address.  Real ones are
 * under 2 KiB, or about 8 KiB with post-quantum key shares. */
#define SNI_MAX_HELLO 16384
/* Peek at most this many bytes: a TLS record header plus the largest
 * ClientHello above, or an HTTP head as large as the proxy accepts. */
#define SNI_PEEK_MAX LIMIT_HTTP_HEAD

enum sni_result {
	SNI_FOUND = 0,      /* name set */
	SNI_INCOMPLETE = 1, /* could be either protocol: need more bytes */
	SNI_NO_NAME = 2,    /* TLS or HTTP, but no usable name in it */
	SNI_OTHER = 3,      /* neither TLS nor HTTP/1.x: use the address */
};

enum sni_proto {
	SNI_PROTO_UNKNOWN = 0,
	SNI_PROTO_TLS,
	SNI_PROTO_HTTP,
};

struct sni_info {
	enum sni_proto proto; /* what the bytes are, once known */
	char name[LIMIT_HOSTNAME + 1];
	/* TLS, once the whole ClientHello is there (any result but
	 * SNI_INCOMPLETE); all 0 otherwise */
	int is_hello_whole;   /* it parsed to its last byte: version,
			       * random, session id, suites, compression and
			       * an extensions block (or none) of exact
			       * lengths; 0 for a hello past SNI_MAX_HELLO */
	int has_server_name;  /* a server_name extension (type 0) is there */
	int is_server_name_dup; /* ... more than once */
	int is_server_name_exact; /* the first one holds exactly one entry,
				   * a host_name that is a valid DNS name
				   * (then it is name, and the result is
				   * SNI_FOUND) */
	int has_ech;          /* an encrypted_client_hello extension
			       * (0xfe0d): the name may be an outer one */
};

/*
 * Look at the first len bytes a client sent.  Returns an enum
 * sni_result; info->proto is set whenever the protocol was recognised
 * (also for SNI_INCOMPLETE and SNI_NO_NAME), info->name only for
 * SNI_FOUND, the TLS fields as described at struct sni_info.  len == 0
 * is SNI_INCOMPLETE.
 */
int sni_peek(const void *buf, size_t len, struct sni_info *info);

/* The same, for one protocol only. */
int sni_parse_tls(const void *buf, size_t len, struct sni_info *info);
int sni_parse_http(const void *buf, size_t len, struct sni_info *info);

/*
 * Is s[0..len) a DNS host name we would send (letters, digits, '-', '_'
 * and dots; labels of 1..63; at most LIMIT_HOSTNAME; one trailing dot
 * allowed and dropped; not all digits and dots, i.e. not an IPv4
 * literal)?  Writes the lower-cased name without the trailing dot to out
 * (size > LIMIT_HOSTNAME).  Returns 0 or -1.
 */
int sni_name_canon(const char *s, size_t len, char *out, size_t size);

#endif
