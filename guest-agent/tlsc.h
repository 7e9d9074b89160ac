/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tlsc.h - TLS client connections to the proxy's TLS port, and SHA-256,
 * over mbed TLS (small enough for the static agent; OpenSSL is not).
 *
 * Built only when mbed TLS is installed (AGENT_HAVE_MBEDTLS); otherwise
 * every call fails with ENOTSUP and tlsc_available() is 0.
 *
 * The peer is verified against one pinned CA (the proxy's own, fetched at
 * install and optionally checked with --ca-sha256): any certificate that
 * CA signed is the proxy, so no host name check is made (the proxy's
 * certificate names an IP address).  TLS 1.2 or later.
 */
#ifndef SLICER_TLSC_H
#define SLICER_TLSC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct tlsc_ctx;
struct tlsc;

/* 1 when built with TLS support. */
int tlsc_available(void);

/*
 * A client context trusting ca (PEM or DER, len bytes); ca NULL means no
 * verification at all (only to fetch the CA itself).  NULL with a
 * message on failure.
 */
struct tlsc_ctx *tlsc_ctx_new(
    const void *ca, size_t len, char *err, size_t errsz);
void tlsc_ctx_free(struct tlsc_ctx *c);

/* A connection over the connected non-blocking socket fd (borrowed). */
struct tlsc *tlsc_new(struct tlsc_ctx *c, int fd);
void tlsc_free(struct tlsc *t);

/*
 * Drive the handshake, read, write.  -1 with errno EAGAIN when the
 * socket must become readable (tlsc_wants_write() == 0) or writable (1)
 * first; other errno on failure (EPROTO, ECONNRESET; tlsc_error() says
 * more).  tlsc_read returns 0 at the peer's close_notify or EOF.
 */
int tlsc_handshake(struct tlsc *t);
ssize_t tlsc_read(struct tlsc *t, void *buf, size_t len);
ssize_t tlsc_write(struct tlsc *t, const void *buf, size_t len);
/*
 * Send close_notify: the end of what this side sends (the peer may still
 * send; reading goes on).  0 once it is out; -1 with errno EAGAIN: call
 * again when the socket is writable (tlsc_wants_write()).
 */
int tlsc_close_notify(struct tlsc *t);
int tlsc_wants_write(const struct tlsc *t);
/* Bytes already decrypted and buffered (readable without the socket). */
size_t tlsc_pending(const struct tlsc *t);
/* Text of the last TLS error. */
const char *tlsc_error(const struct tlsc *t, char *buf, size_t size);

/* SHA-256 of len bytes.  0, or -1 (ENOTSUP without TLS support). */
int tlsc_sha256(const void *data, size_t len, uint8_t out[32]);

#endif
