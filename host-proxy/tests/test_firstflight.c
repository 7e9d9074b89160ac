/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_firstflight.c - the first bytes of a host-level tunnel: TLS server
 * names and HTTP hosts that are the CONNECT host pass, others (and hidden,
 * doubled or malformed ones) are refused, other protocols pass, every
 * prefix waits, an unfinished one at the end is refused, an IP-literal
 * CONNECT takes anything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "firstflight.h"
#include "sni.h"

#define HOST "fast.bench.test"

struct ext {
	uint16_t type;
	const uint8_t *data;
	size_t len;
};

static void
put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * One TLS record holding a ClientHello with these extensions (ne < 0: no
 * extensions block at all), and trail stray bytes after the block.
 */
static size_t
hello(uint8_t *out, const struct ext *e, int ne, size_t trail)
{
	uint8_t *b = out + 9;
	size_t n = 0, ext0, i;

	b[n++] = 3;
	b[n++] = 3;
	memset(b + n, 0x5a, 32);
	n += 32;
	b[n++] = 0;    /* session id */
	put16(b + n, 2);
	n += 2;
	b[n++] = 0x13; /* TLS_AES_128_GCM_SHA256 */
	b[n++] = 0x01;
	b[n++] = 1;
	b[n++] = 0;
	if (ne >= 0) {
		ext0 = n;
		n += 2;
		for (i = 0; i < (size_t)ne; i++) {
			put16(b + n, e[i].type);
			put16(b + n + 2, e[i].len);
			memcpy(b + n + 4, e[i].data, e[i].len);
			n += 4 + e[i].len;
		}
		put16(b + ext0, n - ext0 - 2);
	}
	memset(b + n, 0, trail);
	n += trail;
	out[0] = 0x16;
	out[1] = 3;
	out[2] = 1;
	put16(out + 3, n + 4);
	out[5] = 1;
	out[6] = 0;
	put16(out + 7, n);
	return n + 9;
}

/* A server_name extension body with one entry of type t. */
static size_t
sn(uint8_t *out, const char *name, uint8_t t)
{
	size_t len = strlen(name);

	put16(out, len + 3);
	out[2] = t;
	put16(out + 3, len);
	memcpy(out + 5, name, len);
	return len + 5;
}

static int
judge(const void *buf, size_t len, int is_final, const char *host,
    uint16_t port, char *reason)
{
	return firstflight_judge(buf, len, is_final, host, port, 0, reason,
	    300);
}

/* Every strict prefix waits (or is refused at the end), the whole is want. */
static void
check_whole(const uint8_t *buf, size_t len, int want, const char *why)
{
	char reason[300];
	size_t i;
	int rc;

	for (i = 1; i < len; i++) {
		rc = judge(buf, i, 0, HOST, 443, reason);
		if (rc != FIRSTFLIGHT_MORE)
			fail_msg("prefix %zu of %zu: %d, want MORE", i, len, rc);
		rc = judge(buf, i, 1, HOST, 443, reason);
		if (rc == FIRSTFLIGHT_MORE || rc == FIRSTFLIGHT_PASS)
			fail_msg("final prefix %zu of %zu: %d", i, len, rc);
	}
	rc = judge(buf, len, 0, HOST, 443, reason);
	assert_int_equal(rc, want);
	if (why != NULL)
		assert_string_equal(reason, why);
}

static void
test_tls(void **state)
{
	static uint8_t buf[4096];
	uint8_t s1[300], s2[300], ech[8] = { 0 }, grease[4] = { 0 };
	struct ext e[4];
	char reason[300];
	size_t n;

	(void)state;
	/* the CONNECT host, in any spelling a server takes */
	e[0] = (struct ext){ 0, s1, sn(s1, HOST, 0) };
	e[1] = (struct ext){ 0x0a0a, grease, sizeof(grease) };
	n = hello(buf, e, 2, 0);
	check_whole(buf, n, FIRSTFLIGHT_PASS, "");
	e[0].len = sn(s1, "Fast.Bench.Test.", 0);
	assert_int_equal(judge(buf, hello(buf, e, 2, 0), 0, HOST, 443, reason),
	    FIRSTFLIGHT_PASS);
	/* another host on the same front */
	e[0].len = sn(s1, "evil.bench.test", 0);
	n = hello(buf, e, 2, 0);
	check_whole(buf, n, FIRSTFLIGHT_REFUSE, "TLS server name "
	    "evil.bench.test is not the CONNECT host fast.bench.test");
	/* ... which the CONNECT of an address allows */
	assert_int_equal(judge(buf, n, 0, "198.18.0.20", 443, reason),
	    FIRSTFLIGHT_PASS);
	assert_int_equal(judge(buf, n, 0, "2001:db8::1", 443, reason),
	    FIRSTFLIGHT_PASS);
	/* no server_name, no extensions at all: the server's default */
	n = hello(buf, e + 1, 1, 0);
	check_whole(buf, n, FIRSTFLIGHT_PASS, "");
	n = hello(buf, NULL, -1, 0);
	check_whole(buf, n, FIRSTFLIGHT_PASS, "");
	/* ECH: the name seen is an outer one */
	e[0].len = sn(s1, HOST, 0);
	e[1] = (struct ext){ 0xfe0d, ech, sizeof(ech) };
	n = hello(buf, e, 2, 0);
	check_whole(buf, n, FIRSTFLIGHT_REFUSE, "TLS ClientHello with "
	    "encrypted_client_hello (its server name hides the real one) in a "
	    "tunnel to fast.bench.test");
	/* --tunnel-ech allow: an outer name that is the CONNECT host passes
	 * (a browser's GREASE), another is still refused */
	assert_int_equal(firstflight_judge(buf, n, 0, HOST, 443,
	    FIRSTFLIGHT_ALLOW_ECH, reason, sizeof(reason)), FIRSTFLIGHT_PASS);
	e[0].len = sn(s1, "cloudflare-ech.com", 0);
	n = hello(buf, e, 2, 0);
	assert_int_equal(firstflight_judge(buf, n, 0, HOST, 443,
	    FIRSTFLIGHT_ALLOW_ECH, reason, sizeof(reason)), FIRSTFLIGHT_REFUSE);
	assert_string_equal(reason, "TLS server name cloudflare-ech.com is "
	    "not the CONNECT host fast.bench.test");
	e[0].len = sn(s1, HOST, 0);
	/* two server_name extensions, the second naming another host */
	e[1] = (struct ext){ 0, s2, sn(s2, "evil.bench.test", 0) };
	n = hello(buf, e, 2, 0);
	check_whole(buf, n, FIRSTFLIGHT_REFUSE, "TLS ClientHello with two "
	    "server_name extensions in a tunnel to fast.bench.test");
	/* server_name present but no usable host name */
	{
		static const char *bad[] = { "198.18.0.20", "", "a b.test",
			"x..test", "[::1]" };
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			e[0].len = sn(s1, bad[i], 0);
			n = hello(buf, e, 1, 0);
			assert_int_equal(judge(buf, n, 0, HOST, 443, reason),
			    FIRSTFLIGHT_REFUSE);
			assert_string_equal(reason, "TLS server name is not "
			    "one valid host name in a tunnel to "
			    "fast.bench.test");
		}
	}
	e[0].len = sn(s1, HOST, 1); /* not host_name */
	assert_int_equal(judge(buf, hello(buf, e, 1, 0), 0, HOST, 443, reason),
	    FIRSTFLIGHT_REFUSE);
	/* two entries in one server_name: the first is ours */
	n = sn(s1, HOST, 0);
	n += sn(s2, "evil.bench.test", 0) - 2;
	memcpy(s1 + sn(s1, HOST, 0), s2 + 2, n - sn(s1, HOST, 0));
	put16(s1, n - 2);
	e[0].len = n;
	assert_int_equal(judge(buf, hello(buf, e, 1, 0), 0, HOST, 443, reason),
	    FIRSTFLIGHT_REFUSE);
	/* a stray byte after the extensions: not a hello a server takes */
	e[0].len = sn(s1, HOST, 0);
	n = hello(buf, e, 1, 1);
	assert_int_equal(judge(buf, n, 0, HOST, 443, reason),
	    FIRSTFLIGHT_REFUSE);
	assert_string_equal(reason,
	    "malformed TLS ClientHello in a tunnel to fast.bench.test");
	/* a handshake that is not a ClientHello */
	n = hello(buf, e, 1, 0);
	buf[5] = 2;
	assert_int_equal(judge(buf, n, 0, HOST, 443, reason),
	    FIRSTFLIGHT_REFUSE);
}

static void
test_http(void **state)
{
	static const struct {
		const char *in;
		uint16_t port;
		int want;
		const char *why;
	} cases[] = {
		{ "GET / HTTP/1.1\r\nHost: fast.bench.test\r\n\r\n", 80,
		    FIRSTFLIGHT_PASS_HTTP, "" },
		{ "GET / HTTP/1.1\r\nHost: FAST.bench.test.:80\r\n\r\n", 80,
		    FIRSTFLIGHT_PASS_HTTP, "" },
		{ "GET / HTTP/1.0\r\n\r\n", 80, FIRSTFLIGHT_PASS_HTTP, "" },
		{ "GET http://fast.bench.test/x HTTP/1.1\r\n"
		  "Host: fast.bench.test\r\n\r\n", 80, FIRSTFLIGHT_PASS_HTTP, "" },
		{ "POST /x HTTP/1.1\r\nHost: fast.bench.test:8080\r\n"
		  "Content-Length: 3\r\n\r\nabc", 8080, FIRSTFLIGHT_PASS_HTTP, "" },
		{ "GET / HTTP/1.1\r\nHost: evil.bench.test\r\n\r\n", 80,
		    FIRSTFLIGHT_REFUSE_HTTP, "HTTP request host evil.bench.test "
		    "is not the CONNECT host fast.bench.test" },
		{ "GET http://evil.bench.test/ HTTP/1.1\r\n"
		  "Host: evil.bench.test\r\n\r\n", 80, FIRSTFLIGHT_REFUSE_HTTP,
		    "HTTP request host evil.bench.test is not the CONNECT host "
		    "fast.bench.test" },
		{ "GET http://evil.bench.test/ HTTP/1.0\r\n\r\n", 80,
		    FIRSTFLIGHT_REFUSE_HTTP, "HTTP request host evil.bench.test "
		    "is not the CONNECT host fast.bench.test" },
		{ "GET / HTTP/1.1\r\nHost: fast.bench.test:8080\r\n\r\n", 80,
		    FIRSTFLIGHT_REFUSE_HTTP,
		    "HTTP request port 8080 is not the CONNECT port 80" },
		{ "GET / HTTP/1.1\r\nHost: 198.18.0.20\r\n\r\n", 80,
		    FIRSTFLIGHT_REFUSE_HTTP, "HTTP request host 198.18.0.20 is "
		    "not the CONNECT host fast.bench.test" },
		{ "GET / HTTP/1.1\r\nHost: fast.bench.test\r\n"
		  "Host: evil.bench.test\r\n\r\n", 80, FIRSTFLIGHT_REFUSE_HTTP,
		    NULL },
		{ "GET / HTTP/1.1\r\n\r\n", 80, FIRSTFLIGHT_REFUSE_HTTP, NULL },
		{ "GET http://fast.bench.test/ HTTP/1.1\r\n"
		  "Host: evil.bench.test\r\n\r\n", 80, FIRSTFLIGHT_REFUSE_HTTP,
		    NULL },
	};
	char reason[300];
	size_t i, j, len;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = strlen(cases[i].in);
		rc = judge(cases[i].in, len, 0, HOST, cases[i].port, reason);
		if (rc != cases[i].want)
			fail_msg("case %zu: %d, want %d (%s)", i, rc,
			    cases[i].want, reason);
		if (cases[i].why != NULL)
			assert_string_equal(reason, cases[i].why);
		/* an IP-literal CONNECT: whatever the request names */
		assert_int_equal(judge(cases[i].in, len, 0, "198.18.0.20",
		    cases[i].port, reason), FIRSTFLIGHT_PASS);
		/* the head cut anywhere waits; refused when that is all */
		for (j = 1; j < len && cases[i].want == FIRSTFLIGHT_PASS_HTTP; j++) {
			if (strstr(cases[i].in, "\r\n\r\n") + 4 <=
			    cases[i].in + j)
				break; /* the body */
			assert_int_equal(judge(cases[i].in, j, 0, HOST,
			    cases[i].port, reason), FIRSTFLIGHT_MORE);
			rc = judge(cases[i].in, j, 1, HOST, cases[i].port,
			    reason);
			assert_true(rc == FIRSTFLIGHT_REFUSE ||
			    rc == FIRSTFLIGHT_REFUSE_HTTP);
		}
	}
}

static void
test_other(void **state)
{
	static char big[SNI_PEEK_MAX + 100];
	static const uint8_t garbage[] = { 0x00, 0x01, 0xff, 0x16 };
	static const uint8_t ssl2[] = { 0x80, 0x2e, 0x01, 0x00, 0x02 };
	const char *ssh = "SSH-2.0-OpenSSH_9.2p1\r\n";
	char reason[300];
	size_t n;

	(void)state;
	assert_int_equal(judge(ssh, strlen(ssh), 0, HOST, 22, reason),
	    FIRSTFLIGHT_PASS);
	assert_int_equal(judge(garbage, sizeof(garbage), 0, HOST, 443, reason),
	    FIRSTFLIGHT_PASS);
	assert_int_equal(judge(ssl2, sizeof(ssl2), 0, HOST, 443, reason),
	    FIRSTFLIGHT_PASS);
	assert_int_equal(judge("\x16\x02", 2, 0, HOST, 443, reason),
	    FIRSTFLIGHT_PASS);
	/* could be HTTP yet: wait; at the end, refused */
	assert_int_equal(judge("GE", 2, 0, HOST, 80, reason),
	    FIRSTFLIGHT_MORE);
	assert_int_equal(judge("GE", 2, 1, HOST, 80, reason),
	    FIRSTFLIGHT_REFUSE);
	assert_string_equal(reason, "the client stopped in the middle of its "
	    "first bytes in a tunnel to fast.bench.test");
	/* an HTTP head still open at SNI_PEEK_MAX bytes: refused */
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'a', sizeof(big) - n);
	assert_int_equal(judge(big, SNI_PEEK_MAX - 1, 0, HOST, 80, reason),
	    FIRSTFLIGHT_MORE);
	assert_int_equal(judge(big, sizeof(big), 0, HOST, 80, reason),
	    FIRSTFLIGHT_REFUSE_HTTP);
}

/* HTTP/2 in the clear from the start: refused once its preface is whole */
static void
test_h2_preface(void **state)
{
	static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
	static const char frames[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
	    "\x00\x00\x00\x04\x00\x00\x00\x00\x00";
	const char *pri_h1 = "PRI / HTTP/1.1\r\nHost: fast.bench.test\r\n\r\n";
	char reason[300];
	size_t j;

	(void)state;
	assert_int_equal(judge(preface, sizeof(preface) - 1, 0, HOST, 80,
	    reason), FIRSTFLIGHT_REFUSE);
	assert_string_equal(reason, "HTTP/2 without TLS (prior knowledge) in "
	    "a tunnel to fast.bench.test: its requests name their hosts in "
	    "frames a tunnel does not read");
	assert_int_equal(judge(frames, sizeof(frames) - 1, 0, HOST, 8080,
	    reason), FIRSTFLIGHT_REFUSE);
	for (j = 1; j < sizeof(preface) - 1; j++) {
		assert_int_equal(judge(preface, j, 0, HOST, 80, reason),
		    FIRSTFLIGHT_MORE);
		assert_int_equal(judge(preface, j, 1, HOST, 80, reason),
		    FIRSTFLIGHT_REFUSE);
		assert_string_equal(reason, "the client stopped in the middle "
		    "of its first bytes in a tunnel to fast.bench.test");
	}
	/* a method PRI in HTTP/1.1 is HTTP/1.1; a CONNECT to an address
	 * takes anything */
	assert_int_equal(judge(pri_h1, strlen(pri_h1), 0, HOST, 80, reason),
	    FIRSTFLIGHT_PASS_HTTP);
	assert_int_equal(judge(preface, sizeof(preface) - 1, 0, "198.18.0.20",
	    80, reason), FIRSTFLIGHT_PASS);
}

/* A ServerHello record: the HelloRetryRequest random, or another. */
static size_t
server_hello(uint8_t *out, int is_hrr)
{
	static const uint8_t hrr[32] = {
		0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11,
		0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
		0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
		0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
	};
	size_t body = 2 + 32 + 1 + 2 + 1 + 2;

	out[0] = 0x16;
	out[1] = 3;
	out[2] = 3;
	put16(out + 3, 4 + body);
	out[5] = 2;
	out[6] = 0;
	put16(out + 7, body);
	out[9] = 3;
	out[10] = 3;
	memcpy(out + 11, hrr, 32);
	if (!is_hrr)
		out[11 + 31] ^= 1;
	memset(out + 43, 0, body - 34);
	return 9 + body;
}

static void
test_server_hello(void **state)
{
	uint8_t sh[128], split[160], alert[] = { 0x15, 3, 3, 0, 2, 2, 40 };
	size_t n, i, at;

	(void)state;
	n = server_hello(sh, 1);
	assert_int_equal(firstflight_server_hello(sh, n),
	    FIRSTFLIGHT_SERVER_HRR);
	for (i = 0; i < 43; i++)
		assert_int_equal(firstflight_server_hello(sh, i),
		    FIRSTFLIGHT_SERVER_MORE);
	n = server_hello(sh, 0);
	assert_int_equal(firstflight_server_hello(sh, n),
	    FIRSTFLIGHT_SERVER_OTHER);
	/* the message split over three records, cut anywhere: it waits */
	n = server_hello(sh, 1);
	memcpy(split, sh, 5 + 10);
	put16(split + 3, 10);
	memcpy(split + 15, (const uint8_t[]){ 0x16, 3, 3, 0, 20 }, 5);
	memcpy(split + 20, sh + 15, 20);
	memcpy(split + 40, (const uint8_t[]){ 0x16, 3, 3 }, 3);
	put16(split + 43, n - 35);
	memcpy(split + 45, sh + 35, n - 35);
	at = 45 + n - 35;
	assert_int_equal(firstflight_server_hello(split, at),
	    FIRSTFLIGHT_SERVER_HRR);
	for (i = 0; i < 48; i++)
		assert_int_equal(firstflight_server_hello(split, i),
		    FIRSTFLIGHT_SERVER_MORE);
	/* an alert, another record type, another handshake message, not
	 * TLS at all */
	assert_int_equal(firstflight_server_hello(alert, sizeof(alert)),
	    FIRSTFLIGHT_SERVER_OTHER);
	assert_int_equal(firstflight_server_hello(alert, 1),
	    FIRSTFLIGHT_SERVER_OTHER);
	n = server_hello(sh, 1);
	sh[5] = 11; /* certificate */
	assert_int_equal(firstflight_server_hello(sh, 6),
	    FIRSTFLIGHT_SERVER_OTHER);
	assert_int_equal(firstflight_server_hello("HTTP/1.1 400", 12),
	    FIRSTFLIGHT_SERVER_OTHER);
	/* a record split in the middle of the random */
	n = server_hello(sh, 1);
	memcpy(split, sh, 5 + 20);
	put16(split + 3, 20);
	assert_int_equal(firstflight_server_hello(split, 25),
	    FIRSTFLIGHT_SERVER_MORE);
	split[25] = 0x17; /* then application data: not a ServerHello */
	memcpy(split + 26, (const uint8_t[]){ 3, 3, 0, 1, 0 }, 5);
	assert_int_equal(firstflight_server_hello(split, 31),
	    FIRSTFLIGHT_SERVER_OTHER);
	assert_int_equal(firstflight_server_hello(sh, 0),
	    FIRSTFLIGHT_SERVER_MORE);
}

static int
judge2(const void *buf, size_t len, int is_final, char *reason)
{
	return firstflight_judge_second(buf, len, is_final, HOST, 443, 0,
	    reason, 300);
}

static void
test_second_hello(void **state)
{
	static uint8_t buf[4096], big[SNI_PEEK_MAX + 64];
	static const uint8_t ccs[] = { 0x14, 3, 3, 0, 1, 1 };
	static const uint8_t early[] = { 0x17, 3, 3, 0, 3, 'a', 'b', 'c' };
	static const uint8_t alert[] = { 0x15, 3, 3, 0, 2, 1, 0 };
	uint8_t s1[300];
	struct ext e[1];
	char reason[300];
	size_t n, h, i;

	(void)state;
	/* CCS, early data, then the hello naming the host: passes; every
	 * prefix waits, and is refused when that is all */
	n = 0;
	memcpy(buf, ccs, sizeof(ccs));
	n += sizeof(ccs);
	memcpy(buf + n, early, sizeof(early));
	n += sizeof(early);
	e[0] = (struct ext){ 0, s1, sn(s1, HOST, 0) };
	h = hello(buf + n, e, 1, 0);
	n += h;
	assert_int_equal(judge2(buf, n, 0, reason), FIRSTFLIGHT_PASS);
	for (i = 1; i < n; i++) {
		assert_int_equal(judge2(buf, i, 0, reason), FIRSTFLIGHT_MORE);
		if (i == sizeof(ccs) || i == sizeof(ccs) + sizeof(early))
			continue; /* ended between records: nothing to judge */
		assert_int_equal(judge2(buf, i, 1, reason), FIRSTFLIGHT_REFUSE);
	}
	assert_int_equal(judge2(buf, sizeof(ccs), 1, reason), FIRSTFLIGHT_PASS);
	assert_int_equal(judge2(buf, 0, 0, reason), FIRSTFLIGHT_MORE);
	/* the second hello names another host */
	e[0] = (struct ext){ 0, s1, sn(s1, "evil.bench.test", 0) };
	h = hello(buf + sizeof(ccs), e, 1, 0);
	assert_int_equal(judge2(buf, sizeof(ccs) + h, 0, reason),
	    FIRSTFLIGHT_REFUSE);
	assert_string_equal(reason, "TLS server name evil.bench.test is not "
	    "the CONNECT host fast.bench.test");
	/* directly, without CCS */
	assert_int_equal(judge2(buf + sizeof(ccs), h, 0, reason),
	    FIRSTFLIGHT_REFUSE);
	/* an alert: the client gives up */
	assert_int_equal(judge2(alert, sizeof(alert), 0, reason),
	    FIRSTFLIGHT_PASS);
	/* not TLS records */
	assert_int_equal(judge2("GET / HTTP/1.1\r\n", 16, 0, reason),
	    FIRSTFLIGHT_REFUSE);
	assert_string_equal(reason, "the client sent no TLS records after a "
	    "HelloRetryRequest in a tunnel to fast.bench.test");
	/* early data past the limit, the hello never seen */
	for (n = 0; n + 5 <= sizeof(big); n += 5 + 1000) {
		memcpy(big + n, (const uint8_t[]){ 0x17, 3, 3 }, 3);
		put16(big + n + 3, 1000);
	}
	assert_int_equal(judge2(big, SNI_PEEK_MAX - 1, 0, reason),
	    FIRSTFLIGHT_MORE);
	assert_int_equal(judge2(big, sizeof(big), 0, reason),
	    FIRSTFLIGHT_REFUSE);
	assert_string_equal(reason, "the client's second TLS ClientHello in "
	    "a tunnel to fast.bench.test was not whole");
	assert_int_equal(judge2(big, 32 * 1005, 1, reason),
	    FIRSTFLIGHT_PASS);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tls),
		cmocka_unit_test(test_http),
		cmocka_unit_test(test_other),
		cmocka_unit_test(test_h2_preface),
		cmocka_unit_test(test_server_hello),
		cmocka_unit_test(test_second_hello),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
