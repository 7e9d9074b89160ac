/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * firstflight.h - judge the first bytes a client sends into a host-level
 * (spliced) CONNECT tunnel: a TLS ClientHello or an HTTP/1.x request must
 * not name another host than the CONNECT did, since one front (a CDN,
 * shared hosting) may serve both names.  HTTP/2 in the clear from the start
 * is refused: each of its requests names its own host.  Anything else
 * passes.
 *
 * Pure: (buf, len) in, a verdict and a reason out; no allocation, no I/O.
 */
#ifndef SLICER_FIRSTFLIGHT_H
#define SLICER_FIRSTFLIGHT_H

#include <stddef.h>
#include <stdint.h>

enum firstflight_verdict {
	FIRSTFLIGHT_MORE = 0,     /* cannot tell yet: read more */
	FIRSTFLIGHT_PASS,         /* splice it */
	FIRSTFLIGHT_PASS_HTTP,    /* an HTTP/1.x request that may pass: the
				   * tunnel's requests are judged one by one
				   * from here on (a later one could name
				   * another host) */
	FIRSTFLIGHT_REFUSE,       /* TLS (or unfinished): close */
	FIRSTFLIGHT_REFUSE_HTTP,  /* an HTTP request: answer it, then close */
};

/* flags of firstflight_judge */
#define FIRSTFLIGHT_ALLOW_ECH 0x1 /* --tunnel-ech allow */

/*
 * The first len bytes of the tunnel's client->upstream direction (the
 * caller looks at most SNI_PEEK_MAX of them); host is the CONNECT host in
 * canonical form (match_host_canon), port its port.  is_final: no more
 * bytes will come to decide with (the client ended its side, or
 * SNI_PEEK_MAX are there), so what is still undecided is refused.
 *
 * TLS: a ClientHello without server_name passes; one whose server name is
 * host passes when the hello parses to its end; refused are other names,
 * a server_name that is not exactly one valid host name, two server_name
 * extensions, encrypted_client_hello (its outer name hides the real one;
 * with FIRSTFLIGHT_ALLOW_ECH in flags it passes when that outer name is
 * host, as a browser's GREASE extension does) and a hello that does not
 * parse.  HTTP/1.x: the head must parse (the
 * forward path's parser), and the host it names (absolute-form or
 * authority-form target, else Host) must be host, with the port, when
 * given, port; FIRSTFLIGHT_PASS_HTTP then.  The HTTP/2 connection preface
 * (prior knowledge, RFC 9113 3.3) is refused.  A host that is an IP
 * literal: everything passes (the rule allowed the address, whatever name
 * is served there), as FIRSTFLIGHT_PASS.
 *
 * Returns an enum firstflight_verdict; on a refusal reason holds a short
 * text naming both names (canonical names only: nothing the client sent
 * verbatim).
 */
int firstflight_judge(const void *buf, size_t len, int is_final,
    const char *host, uint16_t port, unsigned flags, char *reason,
    size_t rsize);

/*
 * What the upstream sends first back through a TLS tunnel whose
 * ClientHello passed: is its first handshake message a HelloRetryRequest
 * (RFC 8446 4.1.3: a ServerHello whose random is the fixed value)?  The
 * client then sends a second ClientHello, which must be judged as the
 * first was.  The message may span records; a record of another type
 * first, or another message, is not one.
 */
enum firstflight_server {
	FIRSTFLIGHT_SERVER_MORE = 0, /* cannot tell yet */
	FIRSTFLIGHT_SERVER_HRR,      /* a HelloRetryRequest */
	FIRSTFLIGHT_SERVER_OTHER,    /* anything else: no second hello */
};
int firstflight_server_hello(const void *buf, size_t len);

/*
 * The client's bytes after a HelloRetryRequest, up to and including its
 * second ClientHello: whole records of change_cipher_spec (middlebox
 * compatibility) and application data (early data sent before the retry)
 * come first and pass; the first handshake record starts the second
 * ClientHello, judged as firstflight_judge judges a first one (host, port,
 * flags alike); an alert first (the client gives up) passes.  is_final:
 * no more bytes will come.  Returns FIRSTFLIGHT_MORE, FIRSTFLIGHT_PASS or
 * FIRSTFLIGHT_REFUSE (reason set; also for bytes that are not TLS records,
 * and for a client that ends in the middle of a record).
 */
int firstflight_judge_second(const void *buf, size_t len, int is_final,
    const char *host, uint16_t port, unsigned flags, char *reason,
    size_t rsize);

#endif
