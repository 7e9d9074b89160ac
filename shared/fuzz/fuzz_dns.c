/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_dns.c - libFuzzer target for the DNS wire format: query and response
 * parsing, the record walker, TTL capping, the address filter (re-encoding),
 * address listing, EDNS option stripping and the replies built from a
 * parsed query.
 *
 * Besides the sanitizers it checks invariants: names within their limits
 * and character set, offsets inside the message, what we build parses back
 * with the same question, a filtered message walks cleanly and holds
 * exactly the records that were kept, capped TTLs are at most the cap.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "fuzz/fuzz.h"

/* Re-encoding expands compressed names: room for the worst case. */
static uint8_t out[1 << 20], out2[1 << 20], copy[LIMIT_DNS_MESSAGE + 1];

static void
check_name(const char *name, size_t len)
{
	size_t i, label = 0;

	CHECK(len == strlen(name));
	CHECK(len >= 1 && len <= LIMIT_HOSTNAME);
	if (strcmp(name, ".") == 0)
		return;
	CHECK(name[0] != '.' && name[len - 1] != '.');
	for (i = 0; i < len; i++) {
		char c = name[i];

		if (c == '.') {
			CHECK(label > 0);
			label = 0;
			continue;
		}
		CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_');
		label++;
		CHECK(label <= LIMIT_DNS_LABEL);
	}
}

struct counts {
	size_t addrs, total, opt;
	uint32_t max_ttl;
};

static int
count_cb(const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct counts *c = arg;

	(void)msg;
	CHECK(rr->off < rr->name_end && rr->name_end + 10 == rr->rdata);
	CHECK(rr->rdata + rr->rdlen == rr->end && rr->end <= len);
	CHECK(rr->index == c->total);
	CHECK(rr->section >= DNS_SECTION_ANSWER &&
	      rr->section <= DNS_SECTION_ADDITIONAL);
	c->total++;
	if (rr->rclass == DNS_CLASS_IN &&
	    (rr->type == DNS_TYPE_A || rr->type == DNS_TYPE_AAAA))
		c->addrs++;
	if (rr->type == DNS_TYPE_OPT)
		c->opt++;
	else if (rr->ttl > c->max_ttl)
		c->max_ttl = rr->ttl;
	return 0;
}

static uint32_t pred_seed;

/* Keep or drop by address bits and the input-derived seed. */
static int
pred_mixed(const struct netaddr *a, void *arg)
{
	const uint8_t *p =
	    a->family == AF_INET ? (const uint8_t *)&a->u.v4 : a->u.v6.s6_addr;

	(void)arg;
	return ((p[0] ^ pred_seed) & 1) == 0;
}

static int
pred_all(const struct netaddr *a, void *arg)
{
	(void)a;
	(void)arg;
	return 1;
}

static int
pred_none(const struct netaddr *a, void *arg)
{
	(void)a;
	(void)arg;
	return 0;
}

static void
addr_cb(const char *name, const struct netaddr *a, uint32_t ttl, void *arg)
{
	size_t *n = arg;

	(void)ttl;
	check_name(name, strlen(name));
	CHECK(a->family == AF_INET || a->family == AF_INET6);
	(*n)++;
}

static void
fuzz_query(const uint8_t *data, size_t size)
{
	struct dns_query q, r;
	size_t olen;
	int rc;

	rc = dns_parse_query(data, size, &q);
	CHECK(rc == DNS_OK || rc == DNS_BAD || rc == DNS_NOTIMP ||
	      rc == DNS_DROP);
	if (rc != DNS_OK) {
		CHECK(q.error != NULL);
		if (rc == DNS_DROP) {
			CHECK(dns_build_bare(data, size, DNS_RCODE_FORMERR, out,
				  sizeof(out), &olen) == -1);
			return;
		}
		CHECK(dns_build_bare(data, size,
			  rc == DNS_BAD ? DNS_RCODE_FORMERR : DNS_RCODE_NOTIMP,
			  out, sizeof(out), &olen) == 0);
		CHECK(olen == DNS_HEADER_LEN &&
		      dns_msg_id(out) == dns_msg_id(data));
		return;
	}
	check_name(q.name, q.name_len);
	CHECK(q.qdcount == 1 && q.question_end <= size);
	CHECK(dns_query_udp_limit(&q) >= LIMIT_DNS_UDP_MIN &&
	      dns_query_udp_limit(&q) <= LIMIT_DNS_UDP_MAX);

	CHECK(dns_build_reply(data, size, &q, DNS_RCODE_NXDOMAIN, out,
		  sizeof(out), &olen) == 0);
	CHECK(olen <= q.question_end + 11);
	CHECK(dns_parse_response(out, olen, &r) == 0);
	CHECK(r.id == q.id && r.qtype == q.qtype && r.qclass == q.qclass);
	CHECK(strcmp(r.name, q.name) == 0);
	CHECK(dns_msg_rcode(out) == DNS_RCODE_NXDOMAIN);
	CHECK(r.has_edns == q.has_edns);
	/* too small by one byte: refused, never overrun */
	CHECK(dns_build_reply(data, size, &q, DNS_RCODE_NXDOMAIN, out, olen - 1,
		  &olen) == -1);
}

static void
fuzz_response(const uint8_t *data, size_t size)
{
	struct counts c, c2;
	struct dns_query r;
	size_t olen, olen2, dropped, dropped2, n1, n2;
	uint32_t min;
	int walk_ok, rc;

	memset(&c, 0, sizeof(c));
	walk_ok = dns_walk(data, size, count_cb, &c) == 0;
	CHECK(!walk_ok || c.total <= LIMIT_DNS_RRS);
	CHECK(!walk_ok || c.opt <= 1);

	rc = dns_parse_response(data, size, &r);
	if (rc == 0) {
		CHECK(walk_ok);
		check_name(r.name, r.name_len);
	}

	/* TTL cap on a copy */
	if (size <= sizeof(copy)) {
		memcpy(copy, data, size);
		if (dns_cap_ttl(copy, size, 60, pred_seed & 0xff, &min) == 0) {
			CHECK(walk_ok);
			memset(&c2, 0, sizeof(c2));
			CHECK(dns_walk(copy, size, count_cb, &c2) == 0);
			CHECK(c2.max_ttl <= 60);
			CHECK(min == UINT32_MAX || min <= 60);
		} else {
			/* malformed, or broken by the rewrite itself (a
			 * name pointing into a TTL field) */
			CHECK(!walk_ok || memcmp(copy, data, size) != 0);
		}
	}

	/* EDNS options */
	if (size <= sizeof(copy)) {
		size_t slen = size;

		memcpy(copy, data, size);
		rc = dns_strip_opt(copy, &slen);
		/* also refused: a name that runs on into the options */
		CHECK(walk_ok || rc == -1);
		CHECK(rc == 0 || (slen == size && memcmp(copy, data, size) == 0));
		if (rc == 0) {
			CHECK(slen <= size);
			memset(&c2, 0, sizeof(c2));
			CHECK(dns_walk(copy, slen, count_cb, &c2) == 0);
			CHECK(c2.total == c.total && c2.opt == c.opt);
			if (slen == size) {
				CHECK(memcmp(copy, data, size) == 0);
			} else {
				/* only the OPT RDLENGTH (now 0) changed */
				CHECK(slen >= 2 &&
				      memcmp(copy, data, slen - 2) == 0);
				CHECK(
				    copy[slen - 2] == 0 && copy[slen - 1] == 0);
			}
		}
	}

	/* address filter */
	rc = dns_filter_addrs(
	    data, size, pred_mixed, NULL, out, sizeof(out), &olen, &dropped);
	CHECK((rc == 0) == walk_ok);
	if (rc == 0) {
		memset(&c2, 0, sizeof(c2));
		CHECK(dns_walk(out, olen, count_cb, &c2) == 0);
		CHECK(c2.total + dropped == c.total);
		CHECK(c2.addrs + dropped == c.addrs);
		CHECK(c2.opt == c.opt);
		if (dropped == 0)
			CHECK(olen == size && memcmp(out, data, size) == 0);
		/* the filter is idempotent */
		CHECK(dns_filter_addrs(out, olen, pred_mixed, NULL, out2,
			  sizeof(out2), &olen2, &dropped2) == 0);
		CHECK(dropped2 == 0);
		/* the same question either way */
		n1 = n2 = 0;
		if (dns_answer_addrs(data, size, addr_cb, &n1) >= 0)
			CHECK(dns_answer_addrs(out, olen, addr_cb, &n2) >= 0 &&
			      n2 <= n1);
	}
	CHECK(dns_filter_addrs(data, size, pred_all, NULL, out, sizeof(out),
		  &olen, &dropped) == (walk_ok ? 0 : -1));
	if (walk_ok)
		CHECK(dropped == 0 && olen == size);
	if (dns_filter_addrs(data, size, pred_none, NULL, out, sizeof(out),
		&olen, &dropped) == 0) {
		memset(&c2, 0, sizeof(c2));
		CHECK(dns_walk(out, olen, count_cb, &c2) == 0);
		CHECK(c2.addrs == 0 && dropped == c.addrs);
	}

	/* address listing */
	n1 = 0;
	rc = dns_answer_addrs(data, size, addr_cb, &n1);
	CHECK(rc == -1 || (size_t)rc == n1);
	CHECK(rc == -1 || (size_t)rc <= c.addrs);

	/* truncation */
	if (dns_truncate(data, size, out, sizeof(out), &olen) == 0) {
		CHECK(walk_ok);
		CHECK(olen <= LIMIT_DNS_UDP_MIN);
		CHECK(out[2] & (DNS_FLAG_TC >> 8));
		memset(&c2, 0, sizeof(c2));
		CHECK(dns_walk(out, olen, count_cb, &c2) == 0);
		CHECK(c2.total == c.opt);
	}
}

static void
fuzz_names(const uint8_t *data, size_t size)
{
	char name[DNS_NAME_SIZE];
	size_t off, nl, next, next2;

	/* every offset of small inputs, as a name start */
	if (size > 600)
		return;
	for (off = 0; off < size; off++) {
		if (dns_name_decode(
			data, size, off, name, sizeof(name), &nl, &next) == 0) {
			check_name(name, nl);
			CHECK(next > off && next <= size);
			CHECK(dns_name_decode(data, size, off, NULL, 0, NULL,
				  &next2) == 0 &&
			      next2 == next);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pred_seed = size > 0 ? data[size - 1] : 0;
	fuzz_query(data, size);
	fuzz_response(data, size);
	fuzz_names(data, size);
	return 0;
}
