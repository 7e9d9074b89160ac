/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_dns.c - unit tests for the DNS wire format: query parsing (every
 * header, question, name and EDNS rule, each limit at and past it),
 * compression pointers (loops, forward, into the header, hop limit), the
 * record walker, TTL capping, A/AAAA filtering with re-encoding, address
 * listing through CNAME chains, and the replies we build (parsed back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dns.h"

/* ------------------------------------------------------------------ */
/* message builder                                                     */

struct mb {
	uint8_t b[LIMIT_DNS_MESSAGE + 1024];
	size_t n;
};

static struct mb m;
static uint8_t out[LIMIT_DNS_MESSAGE + 1024];

static void
mb_u8(struct mb *x, unsigned v)
{
	x->b[x->n++] = (uint8_t)v;
}

static void
mb_u16(struct mb *x, unsigned v)
{
	mb_u8(x, v >> 8);
	mb_u8(x, v);
}

static void
mb_u32(struct mb *x, uint32_t v)
{
	mb_u16(x, v >> 16);
	mb_u16(x, v & 0xffff);
}

static void
mb_bytes(struct mb *x, const void *p, size_t n)
{
	memcpy(x->b + x->n, p, n);
	x->n += n;
}

/* Labels of a dotted name, without the terminating root. */
static void
mb_labels(struct mb *x, const char *name)
{
	const char *p = name, *dot;

	while (*p != '\0') {
		dot = strchr(p, '.');
		if (dot == NULL)
			dot = p + strlen(p);
		mb_u8(x, (unsigned)(dot - p));
		mb_bytes(x, p, (size_t)(dot - p));
		p = *dot == '.' ? dot + 1 : dot;
	}
}

static void
mb_name(struct mb *x, const char *name)
{
	if (strcmp(name, ".") != 0)
		mb_labels(x, name);
	mb_u8(x, 0);
}

static void
mb_ptr(struct mb *x, size_t off)
{
	mb_u16(x, 0xc000 | (unsigned)off);
}

static void
mb_header(struct mb *x, unsigned id, unsigned flags, unsigned qd, unsigned an,
    unsigned ns, unsigned ar)
{
	x->n = 0;
	mb_u16(x, id);
	mb_u16(x, flags);
	mb_u16(x, qd);
	mb_u16(x, an);
	mb_u16(x, ns);
	mb_u16(x, ar);
}

static void
mb_question(struct mb *x, const char *name, unsigned type, unsigned cls)
{
	mb_name(x, name);
	mb_u16(x, type);
	mb_u16(x, cls);
}

/* Record header after the owner name has been written. */
static void
mb_rr_tail(
    struct mb *x, unsigned type, unsigned cls, uint32_t ttl, unsigned rdlen)
{
	mb_u16(x, type);
	mb_u16(x, cls);
	mb_u32(x, ttl);
	mb_u16(x, rdlen);
}

static void
mb_a(struct mb *x, uint32_t ttl, const char *addr)
{
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, addr, a), 1);
	mb_rr_tail(x, DNS_TYPE_A, DNS_CLASS_IN, ttl, 4);
	mb_bytes(x, a, 4);
}

static void
mb_aaaa(struct mb *x, uint32_t ttl, const char *addr)
{
	uint8_t a[16];

	assert_int_equal(inet_pton(AF_INET6, addr, a), 1);
	mb_rr_tail(x, DNS_TYPE_AAAA, DNS_CLASS_IN, ttl, 16);
	mb_bytes(x, a, 16);
}

static void
mb_opt(struct mb *x, unsigned size, uint32_t ttl)
{
	mb_u8(x, 0);
	mb_rr_tail(x, DNS_TYPE_OPT, size, ttl, 0);
}

static void
mb_set16(struct mb *x, size_t off, unsigned v)
{
	x->b[off] = (uint8_t)(v >> 8);
	x->b[off + 1] = (uint8_t)v;
}

/* A query for name/type, RD set, optional OPT. */
static void
mb_query(struct mb *x, const char *name, unsigned type, int edns)
{
	mb_header(x, 0x1234, DNS_FLAG_RD, 1, 0, 0, edns ? 1 : 0);
	mb_question(x, name, type, DNS_CLASS_IN);
	if (edns)
		mb_opt(x, 1232, 0);
}

/* A dotted name of n characters made of 63-byte labels. */
static void
long_name(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (i % 64 == 63) ? '.' : 'a';
	buf[n] = '\0';
	/* never end on a dot */
	if (n > 0 && buf[n - 1] == '.')
		buf[n - 1] = 'b';
}

/* ------------------------------------------------------------------ */
/* query parsing: table                                                */

static void
q_simple(void)
{
	mb_query(&m, "www.example.com", DNS_TYPE_A, 0);
}

static void
q_mixed_case(void)
{
	mb_query(&m, "WwW.ExAmPlE.CoM", DNS_TYPE_AAAA, 0);
}

static void
q_root(void)
{
	mb_query(&m, ".", DNS_TYPE_NS, 0);
}

static void
q_underscore(void)
{
	mb_query(&m, "_dmarc.mail-1.example", DNS_TYPE_TXT, 0);
}

static void
q_edns(void)
{
	mb_header(&m, 1, DNS_FLAG_RD, 1, 0, 0, 1);
	mb_question(&m, "a.test", DNS_TYPE_A, DNS_CLASS_IN);
	mb_opt(&m, 4096, DNS_EDNS_DO);
}

static void
q_edns_cookie(void)
{
	mb_header(&m, 1, DNS_FLAG_RD, 1, 0, 0, 1);
	mb_question(&m, "a.test", DNS_TYPE_A, DNS_CLASS_IN);
	mb_u8(&m, 0);
	mb_rr_tail(&m, DNS_TYPE_OPT, 1232, 0, 12);
	mb_u16(&m, 10); /* COOKIE */
	mb_u16(&m, 8);
	mb_bytes(&m, "\1\2\3\4\5\6\7\10", 8);
}

static void
q_edns_option_overrun(void)
{
	q_edns_cookie();
	mb_set16(&m, m.n - 10, 9); /* option length 9 > 8 left */
}

static void
q_two_opt(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 2);
	mb_question(&m, "a.test", DNS_TYPE_A, DNS_CLASS_IN);
	mb_opt(&m, 1232, 0);
	mb_opt(&m, 1232, 0);
}

static void
q_opt_owner(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 1);
	mb_question(&m, "a.test", DNS_TYPE_A, DNS_CLASS_IN);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_OPT, 1232, 0, 0);
}

static void
q_tsig_like(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 1);
	mb_question(&m, "a.test", DNS_TYPE_A, DNS_CLASS_IN);
	mb_name(&m, "key.test");
	mb_rr_tail(&m, 250, DNS_CLASS_ANY, 0, 3);
	mb_bytes(&m, "xyz", 3);
}

static void
q_qd0(void)
{
	mb_header(&m, 1, 0, 0, 0, 0, 0);
}

static void
q_qd2(void)
{
	mb_header(&m, 1, 0, 2, 0, 0, 0);
	mb_question(&m, "a.test", DNS_TYPE_A, DNS_CLASS_IN);
	mb_question(&m, "b.test", DNS_TYPE_A, DNS_CLASS_IN);
}

static void
q_an1(void)
{
	mb_header(&m, 1, 0, 1, 1, 0, 0);
	mb_question(&m, "a.test", DNS_TYPE_A, DNS_CLASS_IN);
	mb_ptr(&m, 12);
	mb_a(&m, 1, "192.0.2.1");
}

static void
q_ns1(void)
{
	mb_header(&m, 1, 0, 1, 0, 1, 0);
	mb_question(&m, "a.test", DNS_TYPE_A, DNS_CLASS_IN);
	mb_ptr(&m, 12);
	mb_a(&m, 1, "192.0.2.1");
}

static void
q_qr(void)
{
	mb_query(&m, "a.test", DNS_TYPE_A, 0);
	m.b[2] |= 0x80;
}

static void
q_short11(void)
{
	mb_query(&m, "a.test", DNS_TYPE_A, 0);
	m.n = 11;
}

static void
q_empty(void)
{
	m.n = 0;
}

static void
q_header_only(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 0);
}

static void
q_notify(void)
{
	mb_query(&m, "a.test", DNS_TYPE_SOA, 0);
	mb_set16(&m, 2, 4 << 11);
}

static void
q_update(void)
{
	mb_query(&m, "a.test", DNS_TYPE_SOA, 0);
	mb_set16(&m, 2, 5 << 11);
}

static void
q_label_cut(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 0);
	mb_u8(&m, 10);
	mb_bytes(&m, "abc", 3);
}

static void
q_no_root(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 0);
	mb_labels(&m, "a.test");
}

static void
q_no_class(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 0);
	mb_name(&m, "a.test");
	mb_u16(&m, DNS_TYPE_A);
}

static void
q_trailing(void)
{
	mb_query(&m, "a.test", DNS_TYPE_A, 0);
	mb_u8(&m, 0);
}

static void
q_ar_missing(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 1);
	mb_question(&m, "a.test", DNS_TYPE_A, DNS_CLASS_IN);
}

static void
q_label63(void)
{
	char name[80];

	memset(name, 'x', 63);
	strcpy(name + 63, ".test");
	mb_query(&m, name, DNS_TYPE_A, 0);
}

static void
q_label64(void)
{
	char name[80];

	memset(name, 'x', 64);
	strcpy(name + 64, ".test");
	mb_query(&m, name, DNS_TYPE_A, 0); /* length byte 0x40: label type */
}

static void
q_label_type80(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 0);
	mb_u8(&m, 0x80);
	mb_u8(&m, 0);
	mb_u16(&m, 1);
	mb_u16(&m, 1);
}

static void
q_name253(void)
{
	char name[300];

	long_name(name, 253);
	mb_query(&m, name, DNS_TYPE_A, 0);
}

static void
q_name254(void)
{
	char name[300];

	long_name(name, 254);
	mb_query(&m, name, DNS_TYPE_A, 0);
}

static void
q_ptr_self(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 0);
	mb_ptr(&m, 12);
	mb_u16(&m, 1);
	mb_u16(&m, 1);
}

static void
q_ptr_loop_in_name(void)
{
	/* "a" then a pointer back to the "a": a.a.a.a... */
	mb_header(&m, 1, 0, 1, 0, 0, 0);
	mb_u8(&m, 1);
	mb_u8(&m, 'a');
	mb_ptr(&m, 12);
	mb_u16(&m, 1);
	mb_u16(&m, 1);
}

static void
q_ptr_header(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 0);
	mb_ptr(&m, 4);
	mb_u16(&m, 1);
	mb_u16(&m, 1);
}

static void
q_bad_char_space(void)
{
	mb_query(&m, "a b.test", DNS_TYPE_A, 0);
}

static void
q_bad_char_dot(void)
{
	/* one label "a.b": would read as two labels in text */
	mb_header(&m, 1, 0, 1, 0, 0, 0);
	mb_u8(&m, 3);
	mb_bytes(&m, "a.b", 3);
	mb_name(&m, "test");
	mb_u16(&m, 1);
	mb_u16(&m, 1);
}

static void
q_bad_char_nul(void)
{
	mb_header(&m, 1, 0, 1, 0, 0, 0);
	mb_u8(&m, 2);
	mb_bytes(&m, "a\0", 2);
	mb_u8(&m, 0);
	mb_u16(&m, 1);
	mb_u16(&m, 1);
}

struct query_case {
	const char *desc;
	void (*build)(void);
	int rc;
	const char *name; /* on DNS_OK */
	unsigned qtype;
};

static const struct query_case query_cases[] = {
    {"simple A", q_simple, DNS_OK, "www.example.com", DNS_TYPE_A},
    {"mixed case lowered", q_mixed_case, DNS_OK, "www.example.com",
	DNS_TYPE_AAAA},
    {"root", q_root, DNS_OK, ".", DNS_TYPE_NS},
    {"underscore and hyphen", q_underscore, DNS_OK, "_dmarc.mail-1.example",
	DNS_TYPE_TXT},
    {"EDNS", q_edns, DNS_OK, "a.test", DNS_TYPE_A},
    {"EDNS with cookie option", q_edns_cookie, DNS_OK, "a.test", DNS_TYPE_A},
    {"EDNS option overrun", q_edns_option_overrun, DNS_BAD, NULL, 0},
    {"two OPT records", q_two_opt, DNS_BAD, NULL, 0},
    {"OPT owner not root", q_opt_owner, DNS_BAD, NULL, 0},
    {"other additional record", q_tsig_like, DNS_OK, "a.test", DNS_TYPE_A},
    {"QDCOUNT 0", q_qd0, DNS_BAD, NULL, 0},
    {"QDCOUNT 2", q_qd2, DNS_BAD, NULL, 0},
    {"ANCOUNT 1", q_an1, DNS_BAD, NULL, 0},
    {"NSCOUNT 1", q_ns1, DNS_BAD, NULL, 0},
    {"QR set", q_qr, DNS_DROP, NULL, 0},
    {"11 bytes", q_short11, DNS_DROP, NULL, 0},
    {"empty", q_empty, DNS_DROP, NULL, 0},
    {"header only, QDCOUNT 1", q_header_only, DNS_BAD, NULL, 0},
    {"NOTIFY", q_notify, DNS_NOTIMP, NULL, 0},
    {"UPDATE", q_update, DNS_NOTIMP, NULL, 0},
    {"label cut short", q_label_cut, DNS_BAD, NULL, 0},
    {"name without root", q_no_root, DNS_BAD, NULL, 0},
    {"no QCLASS", q_no_class, DNS_BAD, NULL, 0},
    {"trailing byte", q_trailing, DNS_BAD, NULL, 0},
    {"ARCOUNT without record", q_ar_missing, DNS_BAD, NULL, 0},
    {"label of 63", q_label63, DNS_OK, NULL, DNS_TYPE_A},
    {"label of 64", q_label64, DNS_BAD, NULL, 0},
    {"label type 0x80", q_label_type80, DNS_BAD, NULL, 0},
    {"name of 253", q_name253, DNS_OK, NULL, DNS_TYPE_A},
    {"name of 254", q_name254, DNS_BAD, NULL, 0},
    {"pointer to itself", q_ptr_self, DNS_BAD, NULL, 0},
    {"pointer loop inside the name", q_ptr_loop_in_name, DNS_BAD, NULL, 0},
    {"pointer into the header", q_ptr_header, DNS_BAD, NULL, 0},
    {"space in a label", q_bad_char_space, DNS_BAD, NULL, 0},
    {"dot in a label", q_bad_char_dot, DNS_BAD, NULL, 0},
    {"NUL in a label", q_bad_char_nul, DNS_BAD, NULL, 0},
};

static void
test_parse_query_table(void **state)
{
	struct dns_query q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]); i++) {
		const struct query_case *c = &query_cases[i];
		int rc;

		c->build();
		rc = dns_parse_query(m.b, m.n, &q);
		if (rc != c->rc)
			fail_msg("%s: rc %d, want %d (%s)", c->desc, rc, c->rc,
			    q.error != NULL ? q.error : "-");
		if (rc != DNS_OK) {
			if (q.error == NULL)
				fail_msg("%s: no reason", c->desc);
			continue;
		}
		if (c->name != NULL && strcmp(q.name, c->name) != 0)
			fail_msg("%s: name '%s', want '%s'", c->desc, q.name,
			    c->name);
		if (q.name_len != strlen(q.name))
			fail_msg("%s: name_len %zu", c->desc, q.name_len);
		if (q.qtype != c->qtype)
			fail_msg("%s: qtype %u", c->desc, q.qtype);
	}
}

static void
test_parse_query_fields(void **state)
{
	struct dns_query q;
	char name[300];

	(void)state;
	q_edns();
	assert_int_equal(dns_parse_query(m.b, m.n, &q), DNS_OK);
	assert_int_equal(q.id, 1);
	assert_int_equal(q.qclass, DNS_CLASS_IN);
	assert_true(q.has_edns);
	assert_int_equal(q.edns_size, 4096);
	assert_int_equal(q.edns_version, 0);
	assert_true(q.edns_do);
	assert_int_equal(q.question_end, 12 + 8 + 4);
	assert_int_equal(q.arcount, 1);
	assert_null(q.error);

	q_simple();
	assert_int_equal(dns_parse_query(m.b, m.n, &q), DNS_OK);
	assert_false(q.has_edns);
	assert_int_equal(q.id, 0x1234);
	assert_true(q.flags & DNS_FLAG_RD);

	/* the longest name comes back whole */
	long_name(name, 253);
	mb_query(&m, name, DNS_TYPE_A, 0);
	assert_int_equal(dns_parse_query(m.b, m.n, &q), DNS_OK);
	assert_string_equal(q.name, name);
	assert_int_equal(q.name_len, 253);

	/* every prefix of a good query is refused, never read past */
	mb_query(&m, "www.example.com", DNS_TYPE_A, 1);
	for (size_t n = 0; n < m.n; n++) {
		int rc = dns_parse_query(m.b, n, &q);

		assert_true(rc == (n < 12 ? DNS_DROP : DNS_BAD));
	}
}

/* ------------------------------------------------------------------ */
/* names and pointers                                                  */

static void
test_name_pointers(void **state)
{
	char name[DNS_NAME_SIZE];
	size_t nl, next, p1, p2;

	(void)state;
	/* a.test at 12, "b" + ptr(12) at p1, "x" + ptr(p1) at p2 */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 0, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	p1 = m.n;
	mb_u8(&m, 1);
	mb_u8(&m, 'B');
	mb_ptr(&m, 12);
	p2 = m.n;
	mb_u8(&m, 1);
	mb_u8(&m, 'x');
	mb_ptr(&m, p1);
	assert_int_equal(
	    dns_name_decode(m.b, m.n, p2, name, sizeof(name), &nl, &next), 0);
	assert_string_equal(name, "x.b.a.test");
	assert_int_equal(nl, 10);
	assert_int_equal(next, p2 + 4);
	/* skipping without text gives the same end */
	next = 0;
	assert_int_equal(
	    dns_name_decode(m.b, m.n, p2, NULL, 0, NULL, &next), 0);
	assert_int_equal(next, p2 + 4);

	/* a forward pointer */
	mb_header(&m, 1, DNS_FLAG_QR, 0, 0, 0, 0);
	p1 = m.n;
	mb_ptr(&m, p1 + 2);
	mb_name(&m, "a.test");
	assert_int_equal(
	    dns_name_decode(m.b, m.n, p1, name, sizeof(name), &nl, &next), -1);

	/* two pointers pointing at each other */
	mb_header(&m, 1, DNS_FLAG_QR, 0, 0, 0, 0);
	p1 = m.n;
	mb_ptr(&m, p1 + 2);
	mb_ptr(&m, p1);
	assert_int_equal(
	    dns_name_decode(m.b, m.n, p1 + 2, name, sizeof(name), &nl, &next),
	    -1);
	assert_int_equal(
	    dns_name_decode(m.b, m.n, p1, name, sizeof(name), &nl, &next), -1);

	/* a pointer cut in half */
	mb_header(&m, 1, DNS_FLAG_QR, 0, 0, 0, 0);
	mb_name(&m, "a");
	p1 = m.n;
	mb_u8(&m, 0xc0);
	assert_int_equal(
	    dns_name_decode(m.b, m.n, p1, name, sizeof(name), &nl, &next), -1);

	/* offset past the end */
	assert_int_equal(
	    dns_name_decode(m.b, m.n, m.n, name, sizeof(name), &nl, &next), -1);

	/* the text buffer too small is an error, not an overflow */
	mb_header(&m, 1, DNS_FLAG_QR, 0, 0, 0, 0);
	mb_name(&m, "abc.test");
	assert_int_equal(
	    dns_name_decode(m.b, m.n, 12, name, 8, &nl, &next), -1);
	assert_int_equal(dns_name_decode(m.b, m.n, 12, name, 9, &nl, &next), 0);
	assert_string_equal(name, "abc.test");
}

/* A chain of hops pointers, each pointing 2 bytes back, ending at root. */
static size_t
pointer_chain(size_t hops)
{
	size_t i, last = 12;

	mb_header(&m, 1, DNS_FLAG_QR, 0, 0, 0, 0);
	mb_u8(&m, 0); /* root at 12 */
	for (i = 0; i < hops; i++) {
		size_t here = m.n;

		mb_ptr(&m, last);
		last = here;
	}
	return last;
}

static void
test_name_pointer_limit(void **state)
{
	char name[DNS_NAME_SIZE];
	size_t nl, next, start;

	(void)state;
	start = pointer_chain(LIMIT_DNS_POINTERS);
	assert_int_equal(
	    dns_name_decode(m.b, m.n, start, name, sizeof(name), &nl, &next),
	    0);
	assert_string_equal(name, ".");
	start = pointer_chain(LIMIT_DNS_POINTERS + 1);
	assert_int_equal(
	    dns_name_decode(m.b, m.n, start, name, sizeof(name), &nl, &next),
	    -1);
}

static void
test_name_length_through_pointers(void **state)
{
	char name[DNS_NAME_SIZE], base[300];
	size_t nl, next, p;

	(void)state;
	/* 251-char base + "x." through a pointer = 253: fine; "xy." = 254 */
	long_name(base, 251);
	mb_header(&m, 1, DNS_FLAG_QR, 0, 0, 0, 0);
	mb_name(&m, base);
	p = m.n;
	mb_u8(&m, 1);
	mb_u8(&m, 'x');
	mb_ptr(&m, 12);
	assert_int_equal(
	    dns_name_decode(m.b, m.n, p, name, sizeof(name), &nl, &next), 0);
	assert_int_equal(nl, LIMIT_HOSTNAME);
	p = m.n;
	mb_u8(&m, 2);
	mb_bytes(&m, "xy", 2);
	mb_ptr(&m, 12);
	assert_int_equal(
	    dns_name_decode(m.b, m.n, p, name, sizeof(name), &nl, &next), -1);
	/* the check holds without a text buffer too */
	assert_int_equal(
	    dns_name_decode(m.b, m.n, p, NULL, 0, NULL, &next), -1);
}

static void
test_name_eq(void **state)
{
	(void)state;
	assert_true(dns_name_eq("Example.COM", "example.com"));
	assert_true(dns_name_eq("", ""));
	assert_false(dns_name_eq("example.com", "example.co"));
	assert_false(dns_name_eq("example.co", "example.com"));
	assert_false(dns_name_eq("a-b", "a_b"));
	/* only ASCII letters fold */
	assert_false(dns_name_eq("\xc0", "\xe0"));
}

/* ------------------------------------------------------------------ */
/* responses and the walker                                            */

/* www.a.test -> CNAME edge.cdn.test -> 2 A; an AAAA; OPT */
static void
r_cname_answer(void)
{
	size_t cname_rdata;

	mb_header(&m, 7, DNS_FLAG_QR | DNS_FLAG_RD | DNS_FLAG_RA, 1, 4, 0, 1);
	mb_question(&m, "www.a.test", DNS_TYPE_A, DNS_CLASS_IN);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 600, 15);
	cname_rdata = m.n;
	mb_name(&m, "edge.cdn.test");
	mb_ptr(&m, cname_rdata);
	mb_a(&m, 300, "192.0.2.10");
	mb_ptr(&m, cname_rdata);
	mb_a(&m, 120, "10.1.2.3");
	mb_ptr(&m, cname_rdata);
	mb_aaaa(&m, 90, "2001:db8::1");
	mb_opt(&m, 1232, 0);
}

struct walk_count {
	size_t n, per[4], opt;
};

static int
count_cb(const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct walk_count *w = arg;

	assert_true(rr->end <= len && rr->rdata + rr->rdlen == rr->end);
	assert_true(msg != NULL);
	assert_int_equal(rr->index, w->n);
	w->n++;
	w->per[rr->section]++;
	if (rr->type == DNS_TYPE_OPT)
		w->opt++;
	return 0;
}

static int
stop_cb(const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	(void)msg;
	(void)len;
	(void)arg;
	return rr->index == 1;
}

static void
test_walk(void **state)
{
	struct walk_count w;
	struct dns_query q;

	(void)state;
	r_cname_answer();
	memset(&w, 0, sizeof(w));
	assert_int_equal(dns_walk(m.b, m.n, count_cb, &w), 0);
	assert_int_equal(w.n, 5);
	assert_int_equal(w.per[DNS_SECTION_ANSWER], 4);
	assert_int_equal(w.per[DNS_SECTION_ADDITIONAL], 1);
	assert_int_equal(w.opt, 1);
	assert_int_equal(dns_walk(m.b, m.n, stop_cb, NULL), -1);
	assert_int_equal(dns_walk(m.b, m.n, NULL, NULL), 0);

	assert_int_equal(dns_parse_response(m.b, m.n, &q), 0);
	assert_string_equal(q.name, "www.a.test");
	assert_int_equal(q.ancount, 4);
	assert_true(q.has_edns);
	/* a query is not a response */
	q_simple();
	assert_int_equal(dns_parse_response(m.b, m.n, &q), -1);
	assert_non_null(q.error);

	/* every prefix of a good response is refused */
	r_cname_answer();
	for (size_t n = 0; n < m.n; n++)
		assert_int_equal(dns_walk(m.b, n, NULL, NULL), -1);
}

static void
w_a_rdlen5(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_A, DNS_CLASS_IN, 1, 5);
	mb_bytes(&m, "12345", 5);
}

static void
w_aaaa_rdlen4(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 28, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_AAAA, DNS_CLASS_IN, 1, 4);
	mb_bytes(&m, "1234", 4);
}

static void
w_count_mismatch(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 2, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_a(&m, 1, "192.0.2.1");
}

static void
w_opt_in_answer(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_opt(&m, 512, 0);
}

static void
w_cname_trailing(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 1, 4);
	mb_name(&m, "b");
	mb_u8(&m, 0);
}

static void
w_cname_past_rdata(void)
{
	/* the CNAME's name runs into the next record */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 2, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 1, 2);
	mb_name(&m, "bb");
	mb_ptr(&m, 12);
	mb_a(&m, 1, "192.0.2.1");
}

static void
w_soa_short(void)
{
	mb_header(&m, 1, DNS_FLAG_QR | 3, 1, 0, 1, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_name(&m, "test");
	mb_rr_tail(&m, DNS_TYPE_SOA, DNS_CLASS_IN, 1, 4 + 19);
	mb_ptr(&m, 12);
	mb_ptr(&m, 12);
	mb_bytes(&m, "0123456789012345678", 19);
}

static void
w_soa_ok(void)
{
	mb_header(&m, 1, DNS_FLAG_QR | 3, 1, 0, 1, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_name(&m, "test");
	mb_rr_tail(&m, DNS_TYPE_SOA, DNS_CLASS_IN, 1, 4 + 20);
	mb_ptr(&m, 12);
	mb_ptr(&m, 12);
	mb_bytes(&m, "01234567890123456789", 20);
}

static void
w_mx_short(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 15, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_MX, DNS_CLASS_IN, 1, 2);
	mb_u16(&m, 10);
}

static void
w_mx_ok(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 15, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_MX, DNS_CLASS_IN, 1, 4);
	mb_u16(&m, 10);
	mb_ptr(&m, 12);
}

static void
w_rdata_past_end(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 16, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_TXT, DNS_CLASS_IN, 1, 10);
	mb_bytes(&m, "\3abc", 4);
}

static void
w_rr_head_cut(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_u16(&m, 1);
	mb_u16(&m, 1);
	mb_u16(&m, 0);
}

static void
w_owner_loop(void)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, m.n); /* the owner points at itself */
	mb_a(&m, 1, "192.0.2.1");
}

static void
w_a_class_chaos(void)
{
	/* address size rules apply to class IN only */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 1, 3);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_A, 3, 1, 2);
	mb_u16(&m, 0);
}

struct walk_case {
	const char *desc;
	void (*build)(void);
	int rc;
};

static const struct walk_case walk_cases[] = {
    {"A of 5 bytes", w_a_rdlen5, -1},
    {"AAAA of 4 bytes", w_aaaa_rdlen4, -1},
    {"ANCOUNT past the records", w_count_mismatch, -1},
    {"OPT in the answer section", w_opt_in_answer, -1},
    {"CNAME data after the name", w_cname_trailing, -1},
    {"CNAME name past its data", w_cname_past_rdata, -1},
    {"SOA of 19 fixed bytes", w_soa_short, -1},
    {"SOA", w_soa_ok, 0},
    {"MX of 2 bytes", w_mx_short, -1},
    {"MX", w_mx_ok, 0},
    {"RDATA past the end", w_rdata_past_end, -1},
    {"record head cut", w_rr_head_cut, -1},
    {"owner pointer loop", w_owner_loop, -1},
    {"class CHAOS A of 2 bytes", w_a_class_chaos, 0},
    {"CNAME answer", r_cname_answer, 0},
};

static void
test_walk_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(walk_cases) / sizeof(walk_cases[0]); i++) {
		walk_cases[i].build();
		if (dns_walk(m.b, m.n, NULL, NULL) != walk_cases[i].rc)
			fail_msg("%s: want %d", walk_cases[i].desc,
			    walk_cases[i].rc);
	}
}

/* n A records, all owned by the question name. */
static void
many_records(size_t n)
{
	size_t i;

	mb_header(&m, 1, DNS_FLAG_QR, 1, (unsigned)n, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	for (i = 0; i < n; i++) {
		char a[32];

		snprintf(a, sizeof(a), "10.0.%zu.%zu", i / 256, i % 256);
		mb_ptr(&m, 12);
		mb_a(&m, 60, a);
	}
}

static void
test_walk_record_limit(void **state)
{
	struct walk_count w;

	(void)state;
	many_records(LIMIT_DNS_RRS);
	memset(&w, 0, sizeof(w));
	assert_int_equal(dns_walk(m.b, m.n, count_cb, &w), 0);
	assert_int_equal(w.n, LIMIT_DNS_RRS);
	many_records(LIMIT_DNS_RRS + 1);
	assert_int_equal(dns_walk(m.b, m.n, NULL, NULL), -1);
}

/* ------------------------------------------------------------------ */
/* TTLs                                                                */

struct ttl_list {
	uint32_t ttl[16];
	size_t n;
};

static int
ttl_cb(const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct ttl_list *t = arg;

	(void)msg;
	(void)len;
	t->ttl[t->n++] = rr->ttl;
	return 0;
}

static void
ttls_of(struct ttl_list *t)
{
	memset(t, 0, sizeof(*t));
	assert_int_equal(dns_walk(m.b, m.n, ttl_cb, t), 0);
}

static void
test_cap_ttl(void **state)
{
	struct ttl_list t;
	uint32_t min;

	(void)state;
	r_cname_answer(); /* 600, 300, 120, 90; OPT ttl 0 */
	assert_int_equal(dns_cap_ttl(m.b, m.n, 200, 0, &min), 0);
	ttls_of(&t);
	assert_int_equal(t.n, 5);
	assert_int_equal(t.ttl[0], 200);
	assert_int_equal(t.ttl[1], 200);
	assert_int_equal(t.ttl[2], 120);
	assert_int_equal(t.ttl[3], 90);
	assert_int_equal(t.ttl[4], 0);
	assert_int_equal(min, 90);

	/* age: 200 - 100, 120 - 100, 90 - 100 -> 0 */
	assert_int_equal(dns_cap_ttl(m.b, m.n, 1000, 100, &min), 0);
	ttls_of(&t);
	assert_int_equal(t.ttl[0], 100);
	assert_int_equal(t.ttl[2], 20);
	assert_int_equal(t.ttl[3], 0);
	assert_int_equal(min, 0);

	/* the OPT "TTL" (extended rcode, version, DO) is never touched */
	r_cname_answer();
	m.b[m.n - 4] = 0x80; /* DO bit in the OPT TTL field */
	assert_int_equal(dns_cap_ttl(m.b, m.n, 5, 0, NULL), 0);
	ttls_of(&t);
	assert_int_equal(t.ttl[4], 0x8000);

	/* top bit set counts as 0 */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_a(&m, 0x80000000U, "192.0.2.1");
	assert_int_equal(dns_cap_ttl(m.b, m.n, 60, 0, &min), 0);
	assert_int_equal(min, 0);

	/* no answers: UINT32_MAX */
	w_soa_ok();
	assert_int_equal(dns_cap_ttl(m.b, m.n, 60, 0, &min), 0);
	assert_int_equal(min, UINT32_MAX);

	/* malformed: -1 */
	w_a_rdlen5();
	assert_int_equal(dns_cap_ttl(m.b, m.n, 60, 0, &min), -1);
}

/*
 * A second record whose owner name points into the first record's TTL
 * field (found by fuzzing): the TTLs are found before any is rewritten, so
 * the result does not depend on the rewrite order, and a rewrite that
 * breaks the message is reported.
 */
static void
ttl_self_reference(uint32_t ttl1)
{
	mb_header(&m, 1, DNS_FLAG_QR, 1, 2, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_TXT, DNS_CLASS_IN, ttl1, 1);
	mb_u8(&m, 0);
	mb_ptr(&m, 12 + 12 + 2 + 4); /* the TTL of the first record */
	mb_a(&m, 5, "192.0.2.1");
}

static void
test_cap_ttl_self_reference(void **state)
{
	uint8_t before[64];
	uint32_t min;

	(void)state;
	/* TTL bytes 01 'a' c0 0c read as the name "a.a.test" */
	ttl_self_reference(0x0161c00cU);
	assert_int_equal(dns_walk(m.b, m.n, NULL, NULL), 0);
	/* capped to 01 'a' c0 00: a pointer into the header */
	assert_int_equal(dns_cap_ttl(m.b, m.n, 0x0161c000U, 0, &min), -1);
	/* capped to 60: the name becomes the root, still well formed */
	ttl_self_reference(0x0161c00cU);
	assert_int_equal(dns_cap_ttl(m.b, m.n, 60, 0, &min), 0);
	assert_int_equal(dns_walk(m.b, m.n, NULL, NULL), 0);
	assert_int_equal(min, 5);

	/* TTL bytes 40 00 00 00 (label type 0x40): malformed as it is, even
	 * though the rewrite would make it well formed; nothing is written */
	ttl_self_reference(0x40000000U);
	assert_int_equal(dns_walk(m.b, m.n, NULL, NULL), -1);
	memcpy(before, m.b, m.n);
	assert_int_equal(dns_cap_ttl(m.b, m.n, 60, 0, &min), -1);
	assert_memory_equal(before, m.b, m.n);
}

static void
test_strip_opt(void **state)
{
	struct dns_query r;
	size_t len, before;

	(void)state;
	/* an answer whose OPT carries a cookie: the option goes */
	r_cname_answer();
	before = m.n;
	m.b[m.n - 1] = 12;
	mb_u16(&m, 10);
	mb_u16(&m, 8);
	mb_bytes(&m, "12345678", 8);
	len = m.n;
	assert_int_equal(dns_walk(m.b, len, NULL, NULL), 0);
	assert_int_equal(dns_strip_opt(m.b, &len), 0);
	assert_int_equal(len, before);
	assert_int_equal(dns_parse_response(m.b, len, &r), 0);
	assert_true(r.has_edns);
	assert_int_equal(r.edns_size, 1232);
	assert_int_equal(m.b[len - 1], 0);
	/* again: nothing left to drop */
	assert_int_equal(dns_strip_opt(m.b, &len), 0);
	assert_int_equal(len, before);

	/* no OPT */
	many_records(2);
	len = m.n;
	assert_int_equal(dns_strip_opt(m.b, &len), 0);
	assert_int_equal(len, m.n);

	/* OPT followed by another record (TSIG): left alone */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 0, 0, 2);
	mb_question(&m, "a.test", 1, 1);
	mb_u8(&m, 0);
	mb_rr_tail(&m, DNS_TYPE_OPT, 1232, 0, 4);
	mb_u16(&m, 12);
	mb_u16(&m, 0);
	mb_name(&m, "key.test");
	mb_rr_tail(&m, 250, DNS_CLASS_ANY, 0, 0);
	len = m.n;
	assert_int_equal(dns_strip_opt(m.b, &len), 0);
	assert_int_equal(len, m.n);

	/* malformed */
	w_a_rdlen5();
	len = m.n;
	assert_int_equal(dns_strip_opt(m.b, &len), -1);
	/* a name that runs on, after a backward pointer, into the OPT's
	 * options (found by fuzz_dns): cutting them would leave a message
	 * that does not parse; refused, left as it was */
	{
		static const uint8_t runon[] = {
	    0x02, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01,
	    0x03, 0x77, 0x77, 0x77, 0x01, 0x61, 0x04, 0x74, 0x65, 0x73, 0x74, 0x01,
	    0x5a, 0x00, 0x00, 0x01, 0x00, 0x01, 0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01,
	    0x00, 0x00, 0x02, 0x58, 0x00, 0x0f, 0x04, 0x65, 0x64, 0x67, 0x65, 0x03,
	    0x63, 0x64, 0x6e, 0x04, 0x74, 0x65, 0x73, 0x74, 0x00, 0xc0, 0x28, 0x00,
	    0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 0xc0, 0x00, 0x02,
	    0x0a, 0xc0, 0x28, 0x00, 0x01, 0x00, 0xf5, 0x00, 0x00, 0x00, 0x78, 0x00,
	    0x04, 0x0a, 0x01, 0x02, 0x03, 0xc0, 0x58, 0x00, 0x1c, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x29, 0x04, 0xd0, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x28, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	    0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
		};
		uint8_t copy[sizeof(runon)];

		memcpy(copy, runon, sizeof(runon));
		assert_int_equal(dns_walk(copy, sizeof(copy), NULL, NULL), 0);
		len = sizeof(copy);
		assert_int_equal(dns_strip_opt(copy, &len), -1);
		assert_int_equal(len, sizeof(copy));
		assert_memory_equal(copy, runon, sizeof(runon));
	}
	/* a query works the same way */
	q_edns_cookie();
	len = m.n;
	assert_int_equal(dns_strip_opt(m.b, &len), 0);
	assert_int_equal(len, m.n - 12);
}

/* ------------------------------------------------------------------ */
/* address filter                                                      */

/* Keeps addresses outside 10.0.0.0/8 and fc00::/7. */
static int
pred_public(const struct netaddr *a, void *arg)
{
	int *calls = arg;

	if (calls != NULL)
		(*calls)++;
	if (a->family == AF_INET)
		return ((const uint8_t *)&a->u.v4)[0] != 10;
	return (a->u.v6.s6_addr[0] & 0xfe) != 0xfc;
}

static int
pred_none(const struct netaddr *a, void *arg)
{
	(void)a;
	(void)arg;
	return 0;
}

struct addr_list {
	char name[DNS_NAME_SIZE];
	char addr[16][64];
	uint32_t ttl[16];
	size_t n;
};

static void
addr_cb(const char *name, const struct netaddr *a, uint32_t ttl, void *arg)
{
	struct addr_list *l = arg;

	assert_true(l->n < 16);
	snprintf(l->name, sizeof(l->name), "%s", name);
	inet_ntop(a->family,
	    a->family == AF_INET ? (const void *)&a->u.v4
				 : (const void *)&a->u.v6,
	    l->addr[l->n], sizeof(l->addr[0]));
	l->ttl[l->n] = ttl;
	l->n++;
}

static int
addrs_of(const uint8_t *msg, size_t len, struct addr_list *l)
{
	memset(l, 0, sizeof(*l));
	return dns_answer_addrs(msg, len, addr_cb, l);
}

static void
test_filter_nothing_dropped(void **state)
{
	size_t olen, dropped = 99;
	int calls = 0;

	(void)state;
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_a(&m, 60, "192.0.2.1");
	assert_int_equal(dns_filter_addrs(m.b, m.n, pred_public, &calls, out,
			     sizeof(out), &olen, &dropped),
	    0);
	assert_int_equal(calls, 1);
	assert_int_equal(dropped, 0);
	assert_int_equal(olen, m.n);
	assert_memory_equal(out, m.b, m.n);
	/* out too small even for a copy */
	assert_int_equal(dns_filter_addrs(m.b, m.n, pred_public, NULL, out,
			     m.n - 1, &olen, NULL),
	    -1);
}

static void
test_filter_drop(void **state)
{
	struct addr_list l;
	struct dns_query q;
	size_t olen, dropped;

	(void)state;
	r_cname_answer(); /* 192.0.2.10 kept, 10.1.2.3 dropped */
	assert_int_equal(dns_filter_addrs(m.b, m.n, pred_public, NULL, out,
			     sizeof(out), &olen, &dropped),
	    0);
	assert_int_equal(dropped, 1);
	assert_int_equal(dns_parse_response(out, olen, &q), 0);
	assert_int_equal(q.ancount, 3);
	assert_int_equal(q.arcount, 1);
	assert_true(q.has_edns);
	assert_int_equal(q.id, 7);
	assert_int_equal(addrs_of(out, olen, &l), 2);
	assert_string_equal(l.name, "www.a.test");
	assert_string_equal(l.addr[0], "192.0.2.10");
	assert_string_equal(l.addr[1], "2001:db8::1");
	/* TTL along the chain: min(CNAME 600, A 300) */
	assert_int_equal(l.ttl[0], 300);

	/* drop all addresses: the CNAME stays, ANCOUNT 1 */
	assert_int_equal(dns_filter_addrs(m.b, m.n, pred_none, NULL, out,
			     sizeof(out), &olen, &dropped),
	    0);
	assert_int_equal(dropped, 3);
	assert_int_equal(dns_parse_response(out, olen, &q), 0);
	assert_int_equal(q.ancount, 1);
	assert_int_equal(addrs_of(out, olen, &l), 0);
}

static void
test_filter_dangling_pointer(void **state)
{
	struct addr_list l;
	struct dns_query q;
	size_t olen, dropped, first;

	(void)state;
	/* second A's owner points into the first A's literal owner name */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 3, 0, 0);
	mb_question(&m, "x.test", 1, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 50, 12);
	mb_name(&m, "host.other");
	first = m.n;
	mb_name(&m, "host.other"); /* literal owner, to be dropped */
	mb_a(&m, 40, "10.0.0.1");
	mb_ptr(&m, first);
	mb_a(&m, 30, "198.51.100.7");
	assert_int_equal(dns_walk(m.b, m.n, NULL, NULL), 0);
	assert_int_equal(dns_filter_addrs(m.b, m.n, pred_public, NULL, out,
			     sizeof(out), &olen, &dropped),
	    0);
	assert_int_equal(dropped, 1);
	assert_int_equal(dns_parse_response(out, olen, &q), 0);
	assert_int_equal(q.ancount, 2);
	assert_int_equal(addrs_of(out, olen, &l), 1);
	assert_string_equal(l.name, "x.test");
	assert_string_equal(l.addr[0], "198.51.100.7");
	assert_int_equal(l.ttl[0], 30);
	/* the re-encoded message walks cleanly and keeps the CNAME target */
	assert_int_equal(dns_walk(out, olen, NULL, NULL), 0);
}

static void
test_filter_sections(void **state)
{
	struct dns_query q;
	size_t olen, dropped, ns_rdata;

	(void)state;
	/* answer: 1 public A; authority: NS + MX-like; additional glue:
	 * private A, public A, ULA AAAA, OPT */
	mb_header(&m, 9, DNS_FLAG_QR, 1, 1, 2, 4);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_a(&m, 60, "192.0.2.1");
	mb_ptr(&m, 14); /* "test" */
	mb_rr_tail(&m, DNS_TYPE_NS, DNS_CLASS_IN, 60, 5);
	ns_rdata = m.n;
	mb_u8(&m, 2);
	mb_bytes(&m, "ns", 2);
	mb_ptr(&m, 14);
	mb_ptr(&m, 14);
	mb_rr_tail(&m, DNS_TYPE_MX, DNS_CLASS_IN, 60, 4);
	mb_u16(&m, 5);
	mb_ptr(&m, ns_rdata);
	mb_ptr(&m, ns_rdata);
	mb_a(&m, 60, "10.9.9.9");
	mb_ptr(&m, ns_rdata);
	mb_a(&m, 60, "192.0.2.53");
	mb_ptr(&m, ns_rdata);
	mb_aaaa(&m, 60, "fd00::53");
	mb_opt(&m, 1232, 0);
	assert_int_equal(dns_walk(m.b, m.n, NULL, NULL), 0);
	assert_int_equal(dns_filter_addrs(m.b, m.n, pred_public, NULL, out,
			     sizeof(out), &olen, &dropped),
	    0);
	assert_int_equal(dropped, 2);
	assert_int_equal(dns_parse_response(out, olen, &q), 0);
	assert_int_equal(q.ancount, 1);
	assert_int_equal(q.nscount, 2);
	assert_int_equal(q.arcount, 2);
	assert_true(q.has_edns);

	/* every smaller output buffer fails cleanly */
	for (size_t sz = 0; sz < olen; sz++)
		assert_int_equal(dns_filter_addrs(m.b, m.n, pred_public, NULL,
				     out, sz, &olen, &dropped),
		    -1);
	/* malformed input */
	w_a_rdlen5();
	assert_int_equal(dns_filter_addrs(m.b, m.n, pred_public, NULL, out,
			     sizeof(out), &olen, &dropped),
	    -1);
}

static void
test_filter_compression(void **state)
{
	struct addr_list l;
	size_t olen, dropped;

	(void)state;
	/* owners equal to the question compress to a 2-byte pointer */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 3, 0, 0);
	mb_question(&m, "www.a.test", 1, 1);
	mb_name(&m, "www.a.test"); /* written out in full by the server */
	mb_a(&m, 60, "10.0.0.1");
	mb_name(&m, "www.a.test");
	mb_a(&m, 60, "192.0.2.1");
	mb_name(&m, "mail.a.test"); /* shares the "a.test" suffix */
	mb_a(&m, 60, "192.0.2.2");
	assert_int_equal(dns_filter_addrs(m.b, m.n, pred_public, NULL, out,
			     sizeof(out), &olen, &dropped),
	    0);
	assert_int_equal(dropped, 1);
	/* header 12 + question 16 + (2 + 14) + (1 + 4 + 2 + 14) */
	assert_int_equal(olen, 12 + 16 + 16 + 21);
	assert_int_equal(out[28], 0xc0);
	assert_int_equal(out[29], 12);
	assert_int_equal(addrs_of(out, olen, &l), 1);
	assert_string_equal(l.addr[0], "192.0.2.1");
}

/* ------------------------------------------------------------------ */
/* address listing                                                     */

/* A chain q.test -> c1.test -> ... -> c<hops>.test -> A */
static void
cname_chain(size_t hops)
{
	size_t i;
	char owner[32], target[32];

	mb_header(&m, 1, DNS_FLAG_QR, 1, (unsigned)hops + 1, 0, 0);
	mb_question(&m, "q.test", 1, 1);
	for (i = 0; i < hops; i++) {
		if (i == 0)
			snprintf(owner, sizeof(owner), "Q.TEST");
		else
			snprintf(owner, sizeof(owner), "c%zu.test", i);
		snprintf(target, sizeof(target), "c%zu.test", i + 1);
		mb_name(&m, owner);
		mb_rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 1000 - (uint32_t)i,
		    (unsigned)strlen(target) + 2);
		mb_name(&m, target);
	}
	if (hops == 0)
		snprintf(target, sizeof(target), "q.test");
	mb_name(&m, target);
	mb_a(&m, 5000, "192.0.2.99");
}

static void
test_answer_addrs_chain(void **state)
{
	struct addr_list l;

	(void)state;
	cname_chain(0);
	assert_int_equal(addrs_of(m.b, m.n, &l), 1);
	assert_int_equal(l.ttl[0], 5000);
	cname_chain(2);
	assert_int_equal(addrs_of(m.b, m.n, &l), 1);
	assert_string_equal(l.name, "q.test");
	assert_int_equal(l.ttl[0], 999);
	cname_chain(LIMIT_DNS_CNAME_CHAIN);
	assert_int_equal(addrs_of(m.b, m.n, &l), 1);
	assert_int_equal(l.ttl[0], 1000 - (LIMIT_DNS_CNAME_CHAIN - 1));
	cname_chain(LIMIT_DNS_CNAME_CHAIN + 1);
	assert_int_equal(addrs_of(m.b, m.n, &l), 0);
}

static void
test_answer_addrs_other(void **state)
{
	struct addr_list l;

	(void)state;
	/* a CNAME loop and an unrelated A: nothing */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 3, 0, 0);
	mb_question(&m, "a.test", 1, 1);
	mb_ptr(&m, 12);
	mb_rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 10, 8);
	mb_name(&m, "b.test");
	mb_name(&m, "b.test");
	mb_rr_tail(&m, DNS_TYPE_CNAME, DNS_CLASS_IN, 10, 2);
	mb_ptr(&m, 12);
	mb_name(&m, "other.test");
	mb_a(&m, 10, "192.0.2.5");
	assert_int_equal(addrs_of(m.b, m.n, &l), 0);

	/* AAAA, owner in upper case */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 2, 0, 0);
	mb_question(&m, "v6.test", 28, 1);
	mb_name(&m, "V6.TEST");
	mb_aaaa(&m, 20, "2001:db8::5");
	mb_ptr(&m, 12);
	mb_aaaa(&m, 10, "2001:db8::6");
	assert_int_equal(addrs_of(m.b, m.n, &l), 2);
	assert_string_equal(l.addr[0], "2001:db8::5");
	assert_string_equal(l.addr[1], "2001:db8::6");
	assert_int_equal(l.ttl[1], 10);

	/* not a response */
	q_simple();
	assert_int_equal(addrs_of(m.b, m.n, &l), -1);
	/* malformed */
	w_count_mismatch();
	assert_int_equal(addrs_of(m.b, m.n, &l), -1);
}

/* ------------------------------------------------------------------ */
/* building                                                            */

static void
test_build_reply(void **state)
{
	struct dns_query q, r;
	size_t olen;

	(void)state;
	mb_query(&m, "Denied.Example", DNS_TYPE_A, 0);
	assert_int_equal(dns_parse_query(m.b, m.n, &q), DNS_OK);
	assert_int_equal(dns_build_reply(m.b, m.n, &q, DNS_RCODE_NXDOMAIN, out,
			     sizeof(out), &olen),
	    0);
	assert_int_equal(olen, m.n);
	assert_int_equal(dns_msg_id(out), 0x1234);
	assert_int_equal(dns_msg_rcode(out), DNS_RCODE_NXDOMAIN);
	assert_int_equal(
	    out[2], (DNS_FLAG_QR | DNS_FLAG_RD) >> 8); /* QR, opcode 0, RD */
	assert_int_equal(out[3], (DNS_FLAG_RA | 3) & 0xff);
	/* the question bytes are the query's, case and all */
	assert_memory_equal(out + 12, m.b + 12, m.n - 12);
	assert_int_equal(dns_parse_response(out, olen, &r), 0);
	assert_int_equal(r.ancount + r.nscount + r.arcount, 0);
	assert_string_equal(r.name, "denied.example");

	/* with EDNS: an OPT with our size, DO copied */
	mb_header(&m, 5, 0, 1, 0, 0, 1);
	mb_question(&m, "h.test", DNS_TYPE_HTTPS, DNS_CLASS_IN);
	mb_opt(&m, 4096, DNS_EDNS_DO);
	assert_int_equal(dns_parse_query(m.b, m.n, &q), DNS_OK);
	assert_int_equal(dns_build_reply(m.b, m.n, &q, DNS_RCODE_NOERROR, out,
			     sizeof(out), &olen),
	    0);
	assert_int_equal(dns_parse_response(out, olen, &r), 0);
	assert_int_equal(dns_msg_rcode(out), 0);
	assert_int_equal(r.ancount, 0);
	assert_int_equal(r.arcount, 1);
	assert_true(r.has_edns);
	assert_true(r.edns_do);
	assert_int_equal(r.edns_size, DNS_EDNS_UDP_SIZE);
	assert_int_equal(r.qtype, DNS_TYPE_HTTPS);
	assert_false(out[2] & (DNS_FLAG_RD >> 8));

	/* out too small: -1 at every size below */
	for (size_t sz = 0; sz < olen; sz++)
		assert_int_equal(dns_build_reply(m.b, m.n, &q,
				     DNS_RCODE_SERVFAIL, out, sz, &olen),
		    -1);
}

static void
test_build_bare(void **state)
{
	size_t olen;

	(void)state;
	q_qd2();
	m.b[2] |= DNS_FLAG_RD >> 8;
	assert_int_equal(dns_build_bare(m.b, m.n, DNS_RCODE_FORMERR, out,
			     sizeof(out), &olen),
	    0);
	assert_int_equal(olen, 12);
	assert_int_equal(dns_msg_id(out), 1);
	assert_int_equal(dns_msg_rcode(out), DNS_RCODE_FORMERR);
	assert_int_equal(out[2], (DNS_FLAG_QR | DNS_FLAG_RD) >> 8);
	assert_int_equal(out[5] | out[7] | out[9] | out[11], 0);
	/* opcode echoed with NOTIMP */
	q_notify();
	assert_int_equal(
	    dns_build_bare(m.b, m.n, DNS_RCODE_NOTIMP, out, sizeof(out), &olen),
	    0);
	assert_int_equal((out[2] >> 3) & 0xf, 4);
	assert_int_equal(dns_msg_rcode(out), DNS_RCODE_NOTIMP);
	/* never answer a response or a runt */
	q_qr();
	assert_int_equal(dns_build_bare(m.b, m.n, DNS_RCODE_FORMERR, out,
			     sizeof(out), &olen),
	    -1);
	assert_int_equal(
	    dns_build_bare(m.b, 11, DNS_RCODE_FORMERR, out, sizeof(out), &olen),
	    -1);
	q_simple();
	assert_int_equal(
	    dns_build_bare(m.b, m.n, DNS_RCODE_FORMERR, out, 11, &olen), -1);
}

static void
test_build_answer(void **state)
{
	struct netaddr addrs[3];
	struct addr_list l;
	struct dns_query q, r;
	size_t olen;

	(void)state;
	memset(addrs, 0, sizeof(addrs));
	addrs[0].family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &addrs[0].u.v4);
	addrs[1].family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &addrs[1].u.v6);
	addrs[2].family = AF_INET;
	inet_pton(AF_INET, "192.0.2.2", &addrs[2].u.v4);

	mb_query(&m, "api.test", DNS_TYPE_A, 1);
	assert_int_equal(dns_parse_query(m.b, m.n, &q), DNS_OK);
	assert_int_equal(dns_build_answer(m.b, m.n, &q, addrs, 3, 30, out,
			     sizeof(out), &olen),
	    0);
	assert_int_equal(dns_parse_response(out, olen, &r), 0);
	assert_int_equal(r.ancount, 2);
	assert_true(r.has_edns);
	assert_int_equal(addrs_of(out, olen, &l), 2);
	assert_string_equal(l.name, "api.test");
	assert_string_equal(l.addr[0], "192.0.2.1");
	assert_string_equal(l.addr[1], "192.0.2.2");
	assert_int_equal(l.ttl[1], 30);

	mb_query(&m, "api.test", DNS_TYPE_AAAA, 0);
	assert_int_equal(dns_parse_query(m.b, m.n, &q), DNS_OK);
	assert_int_equal(dns_build_answer(m.b, m.n, &q, addrs, 3, 30, out,
			     sizeof(out), &olen),
	    0);
	assert_int_equal(addrs_of(out, olen, &l), 1);
	assert_string_equal(l.addr[0], "2001:db8::1");

	/* another type: an empty answer */
	mb_query(&m, "api.test", DNS_TYPE_TXT, 0);
	assert_int_equal(dns_parse_query(m.b, m.n, &q), DNS_OK);
	assert_int_equal(dns_build_answer(m.b, m.n, &q, addrs, 3, 30, out,
			     sizeof(out), &olen),
	    0);
	assert_int_equal(dns_msg_ancount(out), 0);

	/* too small */
	mb_query(&m, "api.test", DNS_TYPE_A, 0);
	assert_int_equal(dns_parse_query(m.b, m.n, &q), DNS_OK);
	assert_int_equal(dns_build_answer(m.b, m.n, &q, addrs, 3, 30, out,
			     m.n + 16 + 15, &olen),
	    -1);
}

static void
test_truncate(void **state)
{
	struct dns_query r;
	size_t olen, qend;

	(void)state;
	many_records(40); /* 28 + 40 * 16 = 668 bytes */
	mb_set16(&m, 10, 1);
	mb_opt(&m, 1232, DNS_EDNS_DO);
	assert_true(m.n > 512);
	assert_int_equal(dns_truncate(m.b, m.n, out, sizeof(out), &olen), 0);
	qend = 12 + 8 + 4;
	assert_int_equal(olen, qend + 11);
	assert_true(out[2] & (DNS_FLAG_TC >> 8));
	assert_true(out[2] & (DNS_FLAG_QR >> 8));
	assert_int_equal(dns_parse_response(out, olen, &r), 0);
	assert_int_equal(r.ancount, 0);
	assert_int_equal(r.nscount, 0);
	assert_int_equal(r.arcount, 1);
	assert_true(r.edns_do);
	assert_int_equal(r.edns_size, 1232);
	assert_string_equal(r.name, "a.test");
	assert_int_equal(dns_msg_id(out), 1);

	/* no OPT in the response, none in the truncated copy */
	many_records(40);
	assert_int_equal(dns_truncate(m.b, m.n, out, sizeof(out), &olen), 0);
	assert_int_equal(olen, qend);
	assert_int_equal(dns_truncate(m.b, m.n, out, qend - 1, &olen), -1);
	/* malformed */
	w_a_rdlen5();
	assert_int_equal(dns_truncate(m.b, m.n, out, sizeof(out), &olen), -1);
}

static void
test_udp_limit(void **state)
{
	static const struct {
		int edns;
		uint16_t size;
		size_t want;
	} cases[] = {
	    {0, 0, 512},
	    {0, 4096, 512},
	    {1, 0, 512},
	    {1, 100, 512},
	    {1, 512, 512},
	    {1, 513, 513},
	    {1, 1232, 1232},
	    {1, LIMIT_DNS_UDP_MAX - 1, LIMIT_DNS_UDP_MAX - 1},
	    {1, LIMIT_DNS_UDP_MAX, LIMIT_DNS_UDP_MAX},
	    {1, LIMIT_DNS_UDP_MAX + 1, LIMIT_DNS_UDP_MAX},
	    {1, 65535, LIMIT_DNS_UDP_MAX},
	};
	struct dns_query q;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&q, 0, sizeof(q));
		q.has_edns = cases[i].edns;
		q.edns_size = cases[i].size;
		assert_int_equal(dns_query_udp_limit(&q), cases[i].want);
	}
}

/* A largest-size message walks; one byte over the TCP limit never
 * matters because every length is checked against len. */
static void
test_large_message(void **state)
{
	size_t n, olen;
	struct dns_query r;

	(void)state;
	/* one TXT record filling the message to LIMIT_DNS_MESSAGE bytes */
	mb_header(&m, 1, DNS_FLAG_QR, 1, 1, 0, 0);
	mb_question(&m, "a.test", 16, 1);
	mb_ptr(&m, 12);
	n = LIMIT_DNS_MESSAGE - m.n - 10;
	mb_rr_tail(&m, DNS_TYPE_TXT, DNS_CLASS_IN, 1, (unsigned)n);
	memset(m.b + m.n, 'x', n);
	m.n += n;
	assert_int_equal(m.n, LIMIT_DNS_MESSAGE);
	assert_int_equal(dns_parse_response(m.b, m.n, &r), 0);
	assert_int_equal(dns_truncate(m.b, m.n, out, sizeof(out), &olen), 0);
	assert_int_equal(olen, 12 + 12);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_query_table),
	    cmocka_unit_test(test_parse_query_fields),
	    cmocka_unit_test(test_name_pointers),
	    cmocka_unit_test(test_name_pointer_limit),
	    cmocka_unit_test(test_name_length_through_pointers),
	    cmocka_unit_test(test_name_eq),
	    cmocka_unit_test(test_walk),
	    cmocka_unit_test(test_walk_table),
	    cmocka_unit_test(test_walk_record_limit),
	    cmocka_unit_test(test_cap_ttl),
	    cmocka_unit_test(test_cap_ttl_self_reference),
	    cmocka_unit_test(test_strip_opt),
	    cmocka_unit_test(test_filter_nothing_dropped),
	    cmocka_unit_test(test_filter_drop),
	    cmocka_unit_test(test_filter_dangling_pointer),
	    cmocka_unit_test(test_filter_sections),
	    cmocka_unit_test(test_filter_compression),
	    cmocka_unit_test(test_answer_addrs_chain),
	    cmocka_unit_test(test_answer_addrs_other),
	    cmocka_unit_test(test_build_reply),
	    cmocka_unit_test(test_build_bare),
	    cmocka_unit_test(test_build_answer),
	    cmocka_unit_test(test_truncate),
	    cmocka_unit_test(test_udp_limit),
	    cmocka_unit_test(test_large_message),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
