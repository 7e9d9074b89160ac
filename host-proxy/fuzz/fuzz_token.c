/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_token.c - libFuzzer target for token_from_proxy_auth, the parser that
 * reads every Proxy-Authorization value before any token is checked.
 *
 * The value is passed in a buffer of exactly its size (so ASan sees any read
 * past it) and the output in one of exactly TOKEN_MAX + 1 bytes.  Besides the
 * sanitizers it checks the result against a reference reading written here
 * independently: the length in range and NUL-terminated, a Bearer token the
 * value's own bytes after the scheme and spaces, a Basic one what follows the
 * first ':' of the value's base64 decoded by a plain decoder, and a value
 * either form accepts never refused.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "token.h"
#include "fuzz/fuzz.h"

static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard padded base64 (RFC 4648 section 4), nothing else accepted:
 * length a multiple of 4, '=' only as the last one or two characters.
 * Returns the decoded length or -1. */
static long
b64_decode(const char *s, size_t n, unsigned char *out)
{
	size_t i, o = 0, pad = 0;

	if (n == 0 || n % 4 != 0)
		return -1;
	if (s[n - 1] == '=')
		pad++;
	if (n >= 2 && s[n - 2] == '=')
		pad++;
	for (i = 0; i < n; i += 4) {
		int v[4], k;

		for (k = 0; k < 4; k++) {
			if (s[i + k] == '=' && i + k >= n - pad)
				v[k] = 0;
			else if ((v[k] = b64_value(s[i + k])) < 0)
				return -1;
		}
		out[o++] = (unsigned char)(v[0] << 2 | v[1] >> 4);
		out[o++] = (unsigned char)((v[1] & 15) << 4 | v[2] >> 2);
		out[o++] = (unsigned char)((v[2] & 3) << 6 | v[3]);
	}
	return (long)(o - pad);
}

/* The reference reading: the token, its length, or -1. */
static long
reference(const char *v, size_t len, const char **tok)
{
	static unsigned char dec[65536];
	size_t skip, i;

	if (len > 6 && strncasecmp(v, "Basic ", 6) == 0) {
		const unsigned char *colon;
		long n;

		for (skip = 6; skip < len && v[skip] == ' '; skip++)
			;
		n = b64_decode(v + skip, len - skip, dec);
		if (n < 0 || memchr(dec, '\0', (size_t)n) != NULL)
			return -1;
		colon = memchr(dec, ':', (size_t)n);
		if (colon == NULL)
			return -1;
		*tok = (const char *)colon + 1;
		n -= (long)(colon + 1 - dec);
		return n <= 0 || n > TOKEN_MAX ? -1 : n;
	}
	if (len > 7 && strncasecmp(v, "Bearer ", 7) == 0) {
		for (skip = 7; skip < len && v[skip] == ' '; skip++)
			;
		if (skip == len || len - skip > TOKEN_MAX)
			return -1;
		for (i = skip; i < len; i++)
			if ((unsigned char)v[i] <= ' ' || v[i] == 0x7f)
				return -1;
		*tok = v + skip;
		return (long)(len - skip);
	}
	return -1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *value = malloc(size ? size : 1);
	char *out = malloc(TOKEN_MAX + 1);
	const char *want = NULL;
	long ref;
	int rc;

	if (value == NULL || out == NULL)
		abort();
	memcpy(value, data, size);
	rc = token_from_proxy_auth(value, size, out);
	ref = reference(value, size, &want);
	CHECK(rc >= -1 && rc <= TOKEN_MAX);
	if (rc >= 0) {
		CHECK(rc > 0);
		CHECK(out[rc] == '\0');
		CHECK(memchr(out, '\0', (size_t)rc) == NULL);
	}
	/* the parser accepts exactly what the reference reads, and reads the
	 * same token; except that it may refuse a long Basic value (over 300
	 * base64 characters, 225 bytes of user:token), which its buffer bounds */
	if (rc >= 0) {
		CHECK(ref == rc);
		CHECK(memcmp(out, want, (size_t)rc) == 0);
	} else if (ref >= 0) {
		size_t skip = 6;

		CHECK(size > 6 && strncasecmp(value, "Basic ", 6) == 0);
		while (skip < size && value[skip] == ' ')
			skip++;
		CHECK(size - skip > 300);
	}
	free(value);
	free(out);
	return 0;
}
