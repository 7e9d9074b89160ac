/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * token.h - client tokens: generation ("spi_" + base64url of 32 CSPRNG
 * bytes), hashing, and extraction from a Proxy-Authorization value.
 */
#ifndef SLICER_TOKEN_H
#define SLICER_TOKEN_H

#include <stddef.h>

#define TOKEN_LEN 47 /* "spi_" + 43 base64url characters */
#define TOKEN_MAX 256 /* longest credential we look at */

/* Write a new token (NUL-terminated) into out[TOKEN_LEN + 1].  0 or -1. */
int token_generate(char out[TOKEN_LEN + 1]);
/* SHA-256 of a token. */
void token_hash(const char *tok, size_t len, unsigned char out[32]);
/*
 * Extract the token from a Proxy-Authorization value: "Basic
 * base64(user:TOKEN)" (user ignored) or "Bearer TOKEN", scheme
 * case-insensitive.  Writes at most TOKEN_MAX bytes to out (NUL-terminated)
 * and returns its length, or -1 when the value is malformed.  The caller
 * wipes out after use.
 */
int token_from_proxy_auth(const char *value, size_t len,
    char out[TOKEN_MAX + 1]);

#endif
