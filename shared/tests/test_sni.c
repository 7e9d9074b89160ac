/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_sni.c - server names from TLS ClientHellos and HTTP heads.
 *
 * A ClientHello curl sent (and the same one cut into records of every
 * size); synthetic hellos at and past SNI_MAX_HELLO, names at and past
 * LIMIT_HOSTNAME and 63-character labels; every prefix of a complete
 * message is INCOMPLETE; HTTP request lines and Host fields, methods at
 * and past LIMIT_METHOD; other protocols are OTHER at once.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sni.h"

/* curl 7.88 to https://Www.Example.COM:PORT/ */
static const uint8_t curl_hello[] = {
0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0x93,
0x64, 0x55, 0xca, 0xe0, 0xbd, 0xa1, 0xb9, 0xe7, 0xa1, 0xca, 0x24, 0xb5,
0x56, 0xe0, 0x2d, 0xeb, 0xb3, 0x7e, 0xf0, 0x96, 0x06, 0xa0, 0x29, 0x7d,
0xfd, 0x16, 0xc2, 0x02, 0x6b, 0xa4, 0x46, 0x20, 0x64, 0x2f, 0x98, 0x81,
0xe7, 0x42, 0x3d, 0x62, 0x87, 0x30, 0x0d, 0x1e, 0xad, 0x98, 0x99, 0x44,
0xc0, 0xb2, 0x95, 0x8a, 0x02, 0xfe, 0xc7, 0x01, 0x1f, 0x4f, 0xc8, 0x2f,
0xad, 0xc3, 0x21, 0xd3, 0x00, 0x3e, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
0xc0, 0x2c, 0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa,
0xc0, 0x2b, 0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b,
0xc0, 0x23, 0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39,
0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d,
0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x01, 0x75,
0x00, 0x00, 0x00, 0x14, 0x00, 0x12, 0x00, 0x00, 0x0f, 0x77, 0x77, 0x77,
0x2e, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x63, 0x6f, 0x6d,
0x00, 0x0b, 0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x16,
0x00, 0x14, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18,
0x01, 0x00, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x04, 0x00, 0x10,
0x00, 0x0e, 0x00, 0x0c, 0x02, 0x68, 0x32, 0x08, 0x68, 0x74, 0x74, 0x70,
0x2f, 0x31, 0x2e, 0x31, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00,
0x00, 0x31, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a, 0x00, 0x28, 0x04, 0x03,
0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a,
0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01,
0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02, 0x04, 0x02, 0x05, 0x02,
0x06, 0x02, 0x00, 0x2b, 0x00, 0x09, 0x08, 0x03, 0x04, 0x03, 0x03, 0x03,
0x02, 0x03, 0x01, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01, 0x00, 0x33, 0x00,
0x26, 0x00, 0x24, 0x00, 0x1d, 0x00, 0x20, 0x9f, 0x47, 0xe7, 0xe0, 0x21,
0x56, 0x6f, 0xd6, 0x6d, 0x56, 0x0f, 0xd3, 0x5b, 0x8e, 0x68, 0x46, 0x48,
0xcc, 0x8a, 0xb5, 0x18, 0xf9, 0x5e, 0x5c, 0x39, 0x31, 0x58, 0x02, 0x49,
0x6d, 0xef, 0x2e, 0x00, 0x15, 0x00, 0xae, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
0x00
};

/* Cut a single-record TLS message into records of at most rsize bytes. */
static size_t
resplit(const uint8_t *in, size_t inlen, size_t rsize, uint8_t *out)
{
	size_t pos = 5, o = 0, n;

	while (pos < inlen) {
		n = inlen - pos < rsize ? inlen - pos : rsize;
		out[o++] = 0x16;
		out[o++] = 0x03;
		out[o++] = 0x01;
		out[o++] = (uint8_t)(n >> 8);
		out[o++] = (uint8_t)n;
		memcpy(out + o, in + pos, n);
		o += n;
		pos += n;
	}
	return o;
}

static void
put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * A ClientHello in records of at most rsize bytes, with a padding
 * extension of pad bytes and (name != NULL) a server_name extension of
 * name type ntype.  with_ext 0: no extensions block at all.  Returns the
 * length written to out (malloc'd by the caller, large enough).
 */
static size_t
make_hello(uint8_t *out, const char *name, uint8_t ntype, size_t pad,
    int with_ext, size_t rsize)
{
	uint8_t *body = calloc(1, 70000 + pad);
	uint8_t *msg = calloc(1, 70010 + pad);
	size_t b = 0, ext0, nlen = name ? strlen(name) : 0, len;

	assert_non_null(body);
	assert_non_null(msg);
	body[b++] = 3;
	body[b++] = 3;
	b += 32; /* random */
	body[b++] = 0; /* session id */
	put16(body + b, 2);
	b += 2;
	body[b++] = 0x13;
	body[b++] = 0x01;
	body[b++] = 1; /* compression: null */
	body[b++] = 0;
	if (with_ext) {
		ext0 = b;
		b += 2;
		if (pad > 0) {
			put16(body + b, 0x15);
			put16(body + b + 2, pad);
			b += 4 + pad;
		}
		if (name != NULL) {
			put16(body + b, 0);
			put16(body + b + 2, nlen + 5);
			put16(body + b + 4, nlen + 3);
			body[b + 6] = ntype;
			put16(body + b + 7, nlen);
			memcpy(body + b + 9, name, nlen);
			b += 9 + nlen;
		}
		put16(body + ext0, b - ext0 - 2);
	}
	msg[0] = 0x16;
	msg[1] = 3;
	msg[2] = 1;
	put16(msg + 3, 0); /* not used by resplit */
	msg[5] = 1;
	msg[6] = (uint8_t)(b >> 16);
	msg[7] = (uint8_t)(b >> 8);
	msg[8] = (uint8_t)b;
	memcpy(msg + 9, body, b);
	len = resplit(msg, b + 9, rsize, out);
	free(body);
	free(msg);
	return len;
}

/* Every strict prefix is INCOMPLETE, the whole is want (name if FOUND). */
static void
check_prefixes(const uint8_t *buf, size_t len, int want, const char *name)
{
	struct sni_info info;
	size_t i;
	int rc;

	for (i = 0; i < len; i++) {
		rc = sni_peek(buf, i, &info);
		if (rc != SNI_INCOMPLETE)
			fail_msg("prefix %zu of %zu: %d, want INCOMPLETE", i,
			    len, rc);
	}
	rc = sni_peek(buf, len, &info);
	assert_int_equal(rc, want);
	if (want == SNI_FOUND)
		assert_string_equal(info.name, name);
}

static void
test_tls_curl(void **state)
{
	static uint8_t split[sizeof(curl_hello) * 8];
	struct sni_info info;
	size_t r, n;

	(void)state;
	check_prefixes(curl_hello, sizeof(curl_hello), SNI_FOUND,
	    "www.example.com");
	assert_int_equal(sni_peek(curl_hello, 3, &info), SNI_INCOMPLETE);
	assert_int_equal(info.proto, SNI_PROTO_TLS);
	/* the handshake cut into records of every size */
	for (r = 1; r <= sizeof(curl_hello); r += (r < 16 ? 1 : 37)) {
		n = resplit(curl_hello, sizeof(curl_hello), r, split);
		assert_int_equal(sni_peek(split, n, &info), SNI_FOUND);
		assert_string_equal(info.name, "www.example.com");
		assert_int_equal(info.proto, SNI_PROTO_TLS);
	}
	n = resplit(curl_hello, sizeof(curl_hello), 7, split);
	check_prefixes(split, n, SNI_FOUND, "www.example.com");
	/* bytes after the hello do not matter */
	memcpy(split, curl_hello, sizeof(curl_hello));
	memset(split + sizeof(curl_hello), 0xff, 100);
	assert_int_equal(sni_peek(split, sizeof(curl_hello) + 100, &info),
	    SNI_FOUND);
}

static void
test_tls_synthetic(void **state)
{
	uint8_t *buf = malloc(200000);
	char name[300];
	struct sni_info info;
	size_t n, pad;

	(void)state;
	assert_non_null(buf);
	n = make_hello(buf, "api.bench.test", 0, 0, 1, 16384);
	check_prefixes(buf, n, SNI_FOUND, "api.bench.test");
	/* no server_name; no extensions; another name type */
	n = make_hello(buf, NULL, 0, 10, 1, 16384);
	check_prefixes(buf, n, SNI_NO_NAME, NULL);
	n = make_hello(buf, NULL, 0, 0, 0, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	assert_int_equal(info.proto, SNI_PROTO_TLS);
	n = make_hello(buf, "api.bench.test", 1, 0, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	/* IP literals and bad names are not names */
	n = make_hello(buf, "198.18.0.10", 0, 0, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	n = make_hello(buf, "a b.test", 0, 0, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	/* the hello at SNI_MAX_HELLO (4-byte header included) and past it */
	pad = SNI_MAX_HELLO - 4 - 43 - 4 - 9 - strlen("big.test");
	n = make_hello(buf, "big.test", 0, pad, 1, 1000);
	assert_int_equal(sni_peek(buf, n, &info), SNI_FOUND);
	assert_string_equal(info.name, "big.test");
	n = make_hello(buf, "big.test", 0, pad + 1, 1, 1000);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	/* a name of LIMIT_HOSTNAME characters, and one more */
	memset(name, 'a', sizeof(name));
	for (n = 63; n < LIMIT_HOSTNAME; n += 64)
		name[n] = '.';
	name[LIMIT_HOSTNAME] = '\0';
	n = make_hello(buf, name, 0, 0, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_FOUND);
	assert_int_equal(strlen(info.name), LIMIT_HOSTNAME);
	name[LIMIT_HOSTNAME] = 'a';
	name[LIMIT_HOSTNAME + 1] = '\0';
	n = make_hello(buf, name, 0, 0, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	free(buf);
}

static void
test_tls_records(void **state)
{
	uint8_t buf[sizeof(curl_hello)];
	struct sni_info info;

	(void)state;
	/* not a handshake record, SSLv2-style, bad versions: OTHER */
	memcpy(buf, curl_hello, sizeof(buf));
	buf[0] = 0x17;
	assert_int_equal(sni_peek(buf, sizeof(buf), &info), SNI_OTHER);
	memcpy(buf, curl_hello, sizeof(buf));
	buf[1] = 2;
	assert_int_equal(sni_peek(buf, sizeof(buf), &info), SNI_OTHER);
	assert_int_equal(sni_peek(buf, 1, &info), SNI_INCOMPLETE);
	assert_int_equal(sni_peek(buf, 2, &info), SNI_OTHER);
	memcpy(buf, curl_hello, sizeof(buf));
	buf[2] = 5;
	assert_int_equal(sni_peek(buf, sizeof(buf), &info), SNI_OTHER);
	/* a handshake that is not a ClientHello */
	memcpy(buf, curl_hello, sizeof(buf));
	buf[5] = 2;
	assert_int_equal(sni_peek(buf, sizeof(buf), &info), SNI_NO_NAME);
	/* record lengths 0 and past 2^14 */
	memcpy(buf, curl_hello, sizeof(buf));
	buf[3] = buf[4] = 0;
	assert_int_equal(sni_peek(buf, sizeof(buf), &info), SNI_NO_NAME);
	buf[3] = 0x40;
	buf[4] = 0x01;
	assert_int_equal(sni_peek(buf, sizeof(buf), &info), SNI_NO_NAME);
	/* the hello claims more than SNI_MAX_HELLO */
	memcpy(buf, curl_hello, sizeof(buf));
	buf[6] = 0;
	buf[7] = 0x40;
	buf[8] = 0x00;
	assert_int_equal(sni_peek(buf, sizeof(buf), &info), SNI_NO_NAME);
	/* lengths inside the hello that run past it */
	memcpy(buf, curl_hello, sizeof(buf));
	buf[9 + 34] = 33; /* session id length */
	assert_int_equal(sni_peek(buf, sizeof(buf), &info), SNI_NO_NAME);
}

/*
 * The strict fields: the result stays the lenient one (the agent's), the
 * fields tell a stricter reader about ECH, a second server_name, a list of
 * more than one name, a name that is no host name and a hello that does
 * not parse to its end.
 */
static void
check_strict_at(int line, const struct sni_info *info, int whole, int has, int dup,
    int exact, int ech)
{
	if (info->is_hello_whole != whole || info->has_server_name != has ||
	    info->is_server_name_dup != dup ||
	    info->is_server_name_exact != exact || info->has_ech != ech)
		fail_msg("line %d: whole %d has %d dup %d exact %d ech %d", line,
		    info->is_hello_whole, info->has_server_name,
		    info->is_server_name_dup, info->is_server_name_exact,
		    info->has_ech);
	assert_int_equal(info->is_hello_whole, whole);
	assert_int_equal(info->has_server_name, has);
	assert_int_equal(info->is_server_name_dup, dup);
	assert_int_equal(info->is_server_name_exact, exact);
	assert_int_equal(info->has_ech, ech);
}

#define check_strict(...) check_strict_at(__LINE__, __VA_ARGS__)

static void
test_tls_strict(void **state)
{
	uint8_t *buf = malloc(200000);
	uint8_t cut[sizeof(curl_hello) + 100];
	struct sni_info info;
	size_t n, ext;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(sni_peek(curl_hello, sizeof(curl_hello), &info),
	    SNI_FOUND);
	check_strict(&info, 1, 1, 0, 1, 0);
	/* bytes after the hello are not the hello's */
	memcpy(cut, curl_hello, sizeof(curl_hello));
	memset(cut + sizeof(curl_hello), 0xff, 100);
	assert_int_equal(sni_peek(cut, sizeof(cut), &info), SNI_FOUND);
	check_strict(&info, 1, 1, 0, 1, 0);
	/* incomplete: nothing said yet */
	assert_int_equal(sni_peek(curl_hello, 100, &info), SNI_INCOMPLETE);
	check_strict(&info, 0, 0, 0, 0, 0);
	/* no server_name; no extensions at all */
	n = make_hello(buf, NULL, 0, 10, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	check_strict(&info, 1, 0, 0, 0, 0);
	n = make_hello(buf, NULL, 0, 0, 0, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	check_strict(&info, 1, 0, 0, 0, 0);
	/* a server_name that is no host name: present, not exact, no name */
	n = make_hello(buf, "198.18.0.10", 0, 0, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	check_strict(&info, 1, 1, 0, 0, 0);
	assert_string_equal(info.name, "");
	n = make_hello(buf, "ok.test..", 0, 0, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	check_strict(&info, 1, 1, 0, 0, 0);
	assert_string_equal(info.name, "");
	n = make_hello(buf, "", 0, 0, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	check_strict(&info, 1, 1, 0, 0, 0);
	n = make_hello(buf, "api.bench.test", 1, 0, 1, 16384);
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	check_strict(&info, 1, 1, 0, 0, 0);
	/* the padding extension (before server_name) made ECH: the name
	 * is still found, and ECH is seen */
	n = make_hello(buf, "api.bench.test", 0, 8, 1, 16384);
	ext = 5 + 4 + 2 + 32 + 1 + 2 + 2 + 1 + 1 + 2;
	assert_int_equal(buf[ext], 0x00);
	assert_int_equal(buf[ext + 1], 0x15);
	buf[ext] = 0xfe;
	buf[ext + 1] = 0x0d;
	assert_int_equal(sni_peek(buf, n, &info), SNI_FOUND);
	assert_string_equal(info.name, "api.bench.test");
	check_strict(&info, 1, 1, 0, 1, 1);
	/* ... and a server_name of its own: the first (garbage) one is the
	 * agent's answer, as before, the second makes a duplicate */
	buf[ext] = 0x00;
	buf[ext + 1] = 0x00;
	assert_int_equal(sni_peek(buf, n, &info), SNI_NO_NAME);
	check_strict(&info, 1, 1, 1, 0, 0);
	/* extensions that run past their block: the walk stops, the name
	 * before them stands (the agent's answer), the hello is not whole */
	n = make_hello(buf, "api.bench.test", 0, 0, 1, 16384);
	memcpy(cut, buf, n);
	cut[3] = (uint8_t)((n - 5 + 4) >> 8); /* record */
	cut[4] = (uint8_t)(n - 5 + 4);
	cut[8] = (uint8_t)(cut[8] + 4); /* handshake */
	cut[ext - 1] = (uint8_t)(cut[ext - 1] + 4); /* extensions block */
	cut[n] = 0x00;
	cut[n + 1] = 0x2b;
	cut[n + 2] = 0x00;
	cut[n + 3] = 0x09; /* 9 bytes promised, none there */
	assert_int_equal(sni_peek(cut, n + 4, &info), SNI_FOUND);
	check_strict(&info, 0, 1, 0, 1, 0);
	/* a stray byte after the extensions block */
	cut[n + 3] = 0x00;
	cut[ext - 1] = (uint8_t)(cut[ext - 1] - 1);
	assert_int_equal(sni_peek(cut, n + 4, &info), SNI_FOUND);
	check_strict(&info, 0, 1, 0, 1, 0);
	/* lengths inside the hello that run past it */
	memcpy(cut, curl_hello, sizeof(curl_hello));
	cut[9 + 34] = 33;
	assert_int_equal(sni_peek(cut, sizeof(curl_hello), &info), SNI_NO_NAME);
	check_strict(&info, 0, 0, 0, 0, 0);
	free(buf);
}

struct http_case {
	const char *in;
	int rc;
	const char *name;
};

static void
test_http(void **state)
{
	static const struct http_case cases[] = {
	    {"GET / HTTP/1.1\r\nHost: Plain.Bench.Test\r\n\r\n", SNI_FOUND,
		"plain.bench.test"},
	    {"GET /x HTTP/1.1\r\nUser-Agent: a\r\nhOsT:\t example.com:8080 "
	     "\r\n\r\n",
		SNI_FOUND, "example.com"},
	    {"POST /x HTTP/1.0\nHost: example.com.\n\n", SNI_FOUND,
		"example.com"},
	    {"M-SEARCH * HTTP/1.1\r\nHost: a.b\r\n", SNI_FOUND, "a.b"},
	    {"GET / HTTP/1.0\r\n\r\n", SNI_NO_NAME, NULL},
	    {"GET / HTTP/1.1\r\nHost: 198.18.0.10\r\n\r\n", SNI_NO_NAME, NULL},
	    {"GET / HTTP/1.1\r\nHost: 198.18.0.10:80\r\n\r\n", SNI_NO_NAME,
		NULL},
	    {"GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", SNI_NO_NAME, NULL},
	    {"GET / HTTP/1.1\r\nHost: a:b:80\r\n\r\n", SNI_NO_NAME, NULL},
	    {"GET / HTTP/1.1\r\nHost: a.test:\r\n\r\n", SNI_NO_NAME, NULL},
	    {"GET / HTTP/1.1\r\nHost:\r\n\r\n", SNI_NO_NAME, NULL},
	    {"GET / HTTP/1.1\r\nHostname: a.test\r\n\r\n", SNI_NO_NAME, NULL},
	    {"GET / HTTP/1.1\r\nHost: a..test\r\n\r\n", SNI_NO_NAME, NULL},
	    {"SSH-2.0-OpenSSH_9.2p1\r\n", SNI_OTHER, NULL},
	    {"get / HTTP/1.1\r\n", SNI_OTHER, NULL},
	    {"GET  / HTTP/1.1\r\n", SNI_OTHER, NULL},
	    {"GET / HTTP/2.0\r\n", SNI_OTHER, NULL},
	    {"GET / HTTP/1.2\r\n", SNI_OTHER, NULL},
	    {"GET / HTTP/1.1\rX", SNI_OTHER, NULL},
	    {"\x00\x01\x02", SNI_OTHER, NULL},
	    {"EHLO x\r\n", SNI_OTHER, NULL},
	};
	struct sni_info info;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct http_case *c = &cases[i];
		int rc = sni_peek(c->in, strlen(c->in) ? strlen(c->in) : 3,
		    &info);

		if (rc != c->rc)
			fail_msg("case %zu: %d, want %d", i, rc, c->rc);
		if (c->name != NULL)
			assert_string_equal(info.name, c->name);
		if (rc == SNI_FOUND || rc == SNI_NO_NAME)
			assert_int_equal(info.proto, SNI_PROTO_HTTP);
	}
	check_prefixes((const uint8_t *)"GET / HTTP/1.1\r\nA: b\r\nHost: x.y\r\n",
	    strlen("GET / HTTP/1.1\r\nA: b\r\nHost: x.y\r\n"), SNI_FOUND,
	    "x.y");
}

static void
test_http_limits(void **state)
{
	char buf[LIMIT_HTTP_REQUEST_LINE + 100];
	struct sni_info info;
	size_t n;

	(void)state;
	/* a method of LIMIT_METHOD characters, and one more */
	memset(buf, 'A', LIMIT_METHOD);
	n = LIMIT_METHOD;
	n += (size_t)sprintf(buf + n, " / HTTP/1.1\r\nHost: m.test\r\n\r\n");
	assert_int_equal(sni_peek(buf, n, &info), SNI_FOUND);
	memset(buf, 'A', LIMIT_METHOD + 1);
	n = LIMIT_METHOD + 1;
	n += (size_t)sprintf(buf + n, " / HTTP/1.1\r\nHost: m.test\r\n\r\n");
	assert_int_equal(sni_peek(buf, n, &info), SNI_OTHER);
	assert_int_equal(sni_peek(buf, LIMIT_METHOD + 1, &info), SNI_OTHER);
	assert_int_equal(sni_peek(buf, LIMIT_METHOD, &info), SNI_INCOMPLETE);
	/* a request target running past LIMIT_HTTP_REQUEST_LINE */
	memcpy(buf, "GET /", 5);
	memset(buf + 5, 'x', sizeof(buf) - 5);
	assert_int_equal(sni_peek(buf, sizeof(buf), &info), SNI_OTHER);
}

struct canon_case {
	const char *in;
	int rc;
	const char *out;
};

static void
test_canon(void **state)
{
	static const struct canon_case cases[] = {
	    {"Api.Bench.TEST", 0, "api.bench.test"},
	    {"a-b_c.d", 0, "a-b_c.d"},
	    {"x.", 0, "x"},
	    {"localhost", 0, "localhost"},
	    {"1.example", 0, "1.example"},
	    {"", -1, NULL},
	    {".", -1, NULL},
	    {"..", -1, NULL},
	    {".a", -1, NULL},
	    {"a..b", -1, NULL},
	    {"127.0.0.1", -1, NULL},
	    {"2130706433", -1, NULL},
	    {"0x7f.1", -1, NULL},
	    {"::1", -1, NULL},
	    {"a/b", -1, NULL},
	    {"a b", -1, NULL},
	    {"\xc3\xa9.test", -1, NULL},
	};
	char out[LIMIT_HOSTNAME + 1], label[70];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = sni_name_canon(cases[i].in, strlen(cases[i].in), out,
		    sizeof(out));

		if (rc != cases[i].rc)
			fail_msg("case %zu (%s): %d", i, cases[i].in, rc);
		if (rc == 0)
			assert_string_equal(out, cases[i].out);
	}
	/* labels of 63 and 64 characters */
	memset(label, 'l', 63);
	memcpy(label + 63, ".t", 3);
	assert_int_equal(sni_name_canon(label, strlen(label), out, sizeof(out)),
	    0);
	memset(label, 'l', 64);
	memcpy(label + 64, ".t", 3);
	assert_int_equal(
	    sni_name_canon(label, strlen(label), out, sizeof(out)), -1);
	/* the output must fit */
	assert_int_equal(sni_name_canon("abc", 3, out, 3), -1);
	assert_int_equal(sni_name_canon("abc", 3, out, 4), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tls_curl),
	    cmocka_unit_test(test_tls_synthetic),
	    cmocka_unit_test(test_tls_records),
	    cmocka_unit_test(test_tls_strict),
	    cmocka_unit_test(test_http),
	    cmocka_unit_test(test_http_limits),
	    cmocka_unit_test(test_canon),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
