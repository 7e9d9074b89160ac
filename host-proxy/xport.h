/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xport.h - one side of a connection as a byte stream: a plain socket, or
 * TLS over it (OpenSSL, non-blocking).  HTTP code reads and writes through
 * this and never calls OpenSSL itself.
 */
#ifndef SLICER_XPORT_H
#define SLICER_XPORT_H

#include <stdint.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "buf.h"

struct xport {
	int fd;        /* borrowed: the connection owns and closes it */
	SSL *ssl;      /* owned; NULL for plain */
	int want_write; /* last TLS operation needs the socket writable */
	int want_read;  /* last TLS operation needs the socket readable */
	int is_eof;     /* peer closed (TLS close_notify or TCP FIN) */
	int is_drained; /* the last read got less than it asked for: the
			 * socket had nothing more then (see xport_read) */
	unsigned long err; /* last OpenSSL error code on failure */
};

void xport_init(struct xport *x, int fd);
/* Wrap the socket in TLS (takes ownership of ssl). */
void xport_set_ssl(struct xport *x, SSL *ssl);
/* Free the TLS state (after a best-effort close_notify when sent). */
void xport_reset(struct xport *x, int send_close_notify);

/* End our direction: close_notify (TLS), while still reading what the
 * peer sends until its own end.  Plain: nothing (the caller shuts the
 * socket's write side). */
void xport_shutdown(struct xport *x);
/* Drive the handshake: 1 done, 0 in progress (see want_*), -1 failed. */
int xport_handshake(struct xport *x);
/* Read into b up to its ceiling: >0 bytes, 0 end of stream, -1 with errno
 * EAGAIN (would block), ENOBUFS (buffer full) or another error.  After >0,
 * is_drained says the read got less than it asked for: plain, the socket
 * was empty; TLS (no read-ahead: OpenSSL reads a record and no further),
 * the record ended short and nothing decrypted is left, so the next record
 * is not there yet or will be reported by epoll. */
ssize_t xport_read(struct xport *x, struct buf *b);
/* Write from the front of b, consuming what was written: >=0 bytes, -1 with
 * errno EAGAIN or an error. */
ssize_t xport_write(struct xport *x, struct buf *b);
/* Decrypted bytes already buffered inside TLS (no socket event will come). */
int xport_pending(const struct xport *x);
/*
 * Between two messages and fit for another: not at end of stream, no
 * failure seen, and with TLS the handshake done, no close_notify sent or
 * received and no decrypted or raw record bytes held inside OpenSSL.
 */
int xport_is_idle(const struct xport *x);
/* Hand the TLS object (still bound to the socket) to the caller, for an
 * idle connection kept for later; x is left plain.  NULL for plain. */
SSL *xport_detach_ssl(struct xport *x);
/* Take back a TLS object from xport_detach_ssl, bound to x->fd. */
void xport_attach_ssl(struct xport *x, SSL *ssl);
/* Short text for the last TLS failure, for 502 bodies and logs. */
/* The last read failed because the peer closed TCP without close_notify. */
int xport_is_unexpected_eof(const struct xport *x);
const char *xport_error(const struct xport *x, char *buf, size_t size);

/* A client SSL verifies its peer as host (an IP literal against the
 * certificate's addresses, a name against its names, with SNI): 0, or
 * -1 when that could not be set (the handshake must not start). */
int xport_expect_peer(SSL *ssl, const char *host);

#endif
