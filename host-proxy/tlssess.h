/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tlssess.h - resumable TLS sessions to intercepted upstreams, one per
 * host:port, so a new intercepted connection skips the full handshake to
 * an upstream it has verified before.
 */
#ifndef SLICER_TLSSESS_H
#define SLICER_TLSSESS_H

#include <stdint.h>

#include <openssl/ssl.h>

/* Make ctx hand its new client sessions to this cache.  0 or -1. */
int tlssess_init(SSL_CTX *ctx);
/* Tag ssl with host:port and offer a cached session for it, if any. */
void tlssess_prepare(SSL *ssl, const char *host, uint16_t port);
/* Forget everything (shutdown). */
void tlssess_free_all(void);

#endif
