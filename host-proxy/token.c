/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * token.c - client tokens (see token.h).
 */
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "secmem.h"
#include "token.h"

static const char token_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int
token_generate(char out[TOKEN_LEN + 1])
{
	unsigned char raw[32];
	size_t i, o = 0;
	unsigned int acc = 0;
	int bits = 0;

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		return -1;
	memcpy(out, "spi_", 4);
	o = 4;
	for (i = 0; i < sizeof(raw); i++) {
		acc = (acc << 8) | raw[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = token_b64url[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = token_b64url[(acc << (6 - bits)) & 63];
	out[o] = '\0';
	secmem_wipe(raw, sizeof(raw));
	return o == TOKEN_LEN ? 0 : -1;
}

void
token_hash(const char *tok, size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	EVP_Digest(tok, len, out, &n, EVP_sha256(), NULL);
}

int
token_from_proxy_auth(const char *value, size_t len, char out[TOKEN_MAX + 1])
{
	unsigned char dec[((TOKEN_MAX + 70) / 4) * 3 + 3];
	size_t i;
	int n, rc = -1;

	if (len > 6 && strncasecmp(value, "Basic ", 6) == 0) {
		const char *b = value + 6;
		size_t blen = len - 6, pad = 0;
		char *colon;

		while (blen > 0 && *b == ' ') {
			b++;
			blen--;
		}
		/* what it decodes to, and the NUL after it, fit in dec */
		if (blen == 0 || blen % 4 != 0 ||
		    blen > ((sizeof(dec) - 1) / 3) * 4)
			goto out;
		for (i = 0; i < blen; i++) {
			char ch = b[i];

			if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
			    (ch >= '0' && ch <= '9') || ch == '+' || ch == '/' ||
			    (ch == '=' && i >= blen - 2)))
				goto out;
		}
		/* '=' only as padding: "x=y=" or "xy=z" is not base64 */
		if (b[blen - 2] == '=' && b[blen - 1] != '=')
			goto out;
		if (b[blen - 1] == '=')
			pad++;
		if (b[blen - 2] == '=')
			pad++;
		n = EVP_DecodeBlock(dec, (const unsigned char *)b, (int)blen);
		if (n < 0 || (size_t)n < pad)
			goto out;
		n -= (int)pad;
		dec[n] = '\0';
		if (memchr(dec, '\0', (size_t)n) != NULL)
			goto out;
		colon = memchr(dec, ':', (size_t)n);
		if (colon == NULL)
			goto out;
		n -= (int)(colon + 1 - (char *)dec);
		if (n <= 0 || n > TOKEN_MAX)
			goto out;
		memcpy(out, colon + 1, (size_t)n);
		out[n] = '\0';
		rc = n;
	} else if (len > 7 && strncasecmp(value, "Bearer ", 7) == 0) {
		const char *t = value + 7;
		size_t tlen = len - 7;

		while (tlen > 0 && *t == ' ') {
			t++;
			tlen--;
		}
		if (tlen == 0 || tlen > TOKEN_MAX)
			goto out;
		for (i = 0; i < tlen; i++)
			if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f)
				goto out;
		memcpy(out, t, tlen);
		out[tlen] = '\0';
		rc = (int)tlen;
	}
out:
	secmem_wipe(dec, sizeof(dec));
	return rc;
}
