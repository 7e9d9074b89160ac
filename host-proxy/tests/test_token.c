/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_token.c - token generation and Proxy-Authorization parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "token.h"

static void
test_generate(void **state)
{
	char a[TOKEN_LEN + 1], b[TOKEN_LEN + 1];
	size_t i;

	(void)state;
	assert_int_equal(token_generate(a), 0);
	assert_int_equal(token_generate(b), 0);
	assert_int_equal(strlen(a), TOKEN_LEN);
	assert_memory_equal(a, "spi_", 4);
	assert_string_not_equal(a, b);
	for (i = 4; i < TOKEN_LEN; i++)
		assert_non_null(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklm"
		    "nopqrstuvwxyz0123456789-_", a[i]));
}

static void
test_hash(void **state)
{
	unsigned char h1[32], h2[32];
	/* SHA-256("abc") */
	static const unsigned char abc[32] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
		0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
		0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
	};

	(void)state;
	token_hash("abc", 3, h1);
	assert_memory_equal(h1, abc, 32);
	token_hash("abd", 3, h2);
	assert_memory_not_equal(h1, h2, 32);
}

static void
test_proxy_auth(void **state)
{
	static const struct {
		const char *hdr;
		int rc;
		const char *tok;
	} cases[] = {
		/* base64("proxy:spi_abc") */
		{ "Basic cHJveHk6c3BpX2FiYw==", 7, "spi_abc" },
		{ "basic cHJveHk6c3BpX2FiYw==", 7, "spi_abc" },
		/* base64(":spi_abc"): empty user is fine */
		{ "Basic OnNwaV9hYmM=", 7, "spi_abc" },
		/* base64("a:b:c"): the password may hold colons */
		{ "Basic YTpiOmM=", 3, "b:c" },
		{ "Bearer spi_abc", 7, "spi_abc" },
		{ "BEARER spi_abc", 7, "spi_abc" },
		{ "Bearer ", -1, NULL },
		{ "Bearer spi abc", -1, NULL },
		{ "Basic", -1, NULL },
		{ "Basic !!!!", -1, NULL },
		{ "Basic cHJveHk=", -1, NULL },      /* "proxy": no colon */
		{ "Basic cHJveHk6", -1, NULL },      /* bad length */
		{ "Basic cHJveHk6c3BpX2FiYw", -1, NULL }, /* missing padding */
		{ "Basic cHJveHk6", -1, NULL },
		{ "Basic cHJveHk6AGJj", -1, NULL },  /* NUL in the password */
		/* '=' anywhere but as padding */
		{ "Basic eDphYmNkWE=S", -1, NULL },  /* decoded "x:abcdX@" before */
		{ "Basic cHJveHk6c3Bp=2Fi", -1, NULL },
		{ "Basic cHJveHk6c3BpX2Fi", 6, "spi_ab" },
		{ "Digest abc", -1, NULL },
		{ "spi_abc", -1, NULL },
		{ "", -1, NULL },
	};
	char out[TOKEN_MAX + 1];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = token_from_proxy_auth(cases[i].hdr,
		    strlen(cases[i].hdr), out);

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): rc %d, want %d", i, cases[i].hdr,
			    rc, cases[i].rc);
		if (rc > 0)
			assert_string_equal(out, cases[i].tok);
	}
}

static void
test_proxy_auth_limits(void **state)
{
	char hdr[1024], tok[TOKEN_MAX + 2], out[TOKEN_MAX + 1];

	(void)state;
	/* a bearer token of exactly TOKEN_MAX bytes is read, one more is not */
	memset(tok, 'a', TOKEN_MAX);
	tok[TOKEN_MAX] = '\0';
	snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
	assert_int_equal(token_from_proxy_auth(hdr, strlen(hdr), out),
	    TOKEN_MAX);
	memset(tok, 'a', TOKEN_MAX + 1);
	tok[TOKEN_MAX + 1] = '\0';
	snprintf(hdr, sizeof(hdr), "Bearer %s", tok);
	assert_int_equal(token_from_proxy_auth(hdr, strlen(hdr), out), -1);
	/* an over-long Basic credential is refused, not truncated */
	memset(hdr, 'Q', sizeof(hdr) - 1);
	memcpy(hdr, "Basic ", 6);
	hdr[sizeof(hdr) - 1] = '\0';
	assert_int_equal(token_from_proxy_auth(hdr, 6 + 800, out), -1);
}

/* Base64 of "p:" and n bytes of 'a', without padding when it fits. */
static size_t
basic_of(char *hdr, size_t size, size_t n)
{
	unsigned char raw[512];

	assert_true(n + 2 <= sizeof(raw) && size > 6 + (n + 4) / 3 * 4 + 4);
	memcpy(raw, "p:", 2);
	memset(raw + 2, 'a', n);
	memcpy(hdr, "Basic ", 6);
	return 6 + (size_t)EVP_EncodeBlock((unsigned char *)hdr + 6, raw,
	    (int)(n + 2));
}

/* Every length of Basic credential around the decoder's buffer: the
 * longest that fits is read, longer ones are refused, none writes past
 * the buffer (ASan build). */
static void
test_proxy_auth_basic_bounds(void **state)
{
	char hdr[1024], out[TOKEN_MAX + 1];
	size_t n, len;
	int rc, longest = 0;

	(void)state;
	for (n = 1; n <= 300; n++) {
		len = basic_of(hdr, sizeof(hdr), n);
		rc = token_from_proxy_auth(hdr, len, out);
		if (rc == -1)
			continue;
		assert_int_equal(rc, (int)n);
		assert_int_equal(strspn(out, "a"), n);
		longest = (int)n;
	}
	/* 243 decoded bytes ("p:" and 241) in 324 characters */
	assert_int_equal(longest, 241);
	/* 328 characters decode to 246 bytes, the buffer's size */
	memset(hdr + 6, 'A', 328);
	assert_int_equal(token_from_proxy_auth(hdr, 6 + 328, out), -1);
	memset(hdr + 6, 'Q', 324);
	memcpy(hdr + 6, "cDp", 3);
	assert_int_equal(token_from_proxy_auth(hdr, 6 + 328, out), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generate),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_proxy_auth),
		cmocka_unit_test(test_proxy_auth_limits),
		cmocka_unit_test(test_proxy_auth_basic_bounds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
