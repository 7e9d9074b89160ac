/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_match.c - libFuzzer target for match.c and the netaddr parsers it
 * relies on.  The input is "A\nB": A is tried as a host, host pattern, path
 * pattern, CIDR and IP literal; B as a request path for pattern A.  The
 * whole input is also tried as a request path and a request host.  Besides
 * memory errors it checks invariants: canonical forms are fixed points,
 * normalised paths hold no dot segments, a path matches itself, a pattern
 * without '*' matches only itself, literals and CIDRs round-trip.
 *
 *   make fuzz RUN=match SECS=120
 *   build-fuzz/fuzz_match -dict=host-proxy/fuzz/match.dict \
 *       host-proxy/fuzz/corpus/match
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "slicer_limits.h"
#include "netaddr.h"
#include "match.h"

#define FUZZ_MAX (2 * LIMIT_PATH + 64)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static int
fuzz_is_unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

static void
fuzz_path(const char *in, size_t len)
{
	static char out[LIMIT_PATH + 1], again[LIMIT_PATH + 1];
	size_t i, seg;
	int rc, rc2;

	rc = match_path_normalize(in, len, out, sizeof(out));
	if (rc < 0)
		return;
	fuzz_check(rc >= 1 && rc <= LIMIT_PATH);
	fuzz_check((size_t)rc == strlen(out));
	fuzz_check(out[0] == '/');
	/* no dot segments, escapes upper-case and never of unreserved */
	seg = 1;
	for (i = 1; i <= (size_t)rc; i++) {
		if (i == (size_t)rc || out[i] == '/') {
			size_t n = i - seg;

			fuzz_check(!(n == 1 && out[seg] == '.'));
			fuzz_check(!(n == 2 && out[seg] == '.' &&
			    out[seg + 1] == '.'));
			seg = i + 1;
			continue;
		}
		fuzz_check(out[i] != '\\' && out[i] != '?' && out[i] != '#');
		fuzz_check((unsigned char)out[i] > 0x20 &&
		    (unsigned char)out[i] < 0x7f);
		if (out[i] == '%') {
			unsigned int v;
			char hex[3] = {out[i + 1], out[i + 2], '\0'};

			fuzz_check(i + 2 < (size_t)rc);
			fuzz_check(strspn(hex, "0123456789ABCDEF") == 2);
			v = (unsigned int)strtoul(hex, NULL, 16);
			fuzz_check(v != 0 && !fuzz_is_unreserved(v));
		}
	}
	/* normalising is idempotent */
	rc2 = match_path_normalize(out, (size_t)rc, again, sizeof(again));
	fuzz_check(rc2 == rc && memcmp(out, again, (size_t)rc + 1) == 0);
	/* a path, read as a pattern, matches itself */
	if (match_path_pattern_valid(out) == 0)
		fuzz_check(match_path(out, out) == 1);
}

static void
fuzz_host(const char *in, size_t len)
{
	static char out[256], again[256];
	size_t i, n;

	if (match_host_canon(in, len, out, sizeof(out)) != 0)
		return;
	n = strlen(out);
	fuzz_check(n > 0 && n <= LIMIT_HOSTNAME);
	for (i = 0; i < n; i++)
		fuzz_check(!(out[i] >= 'A' && out[i] <= 'Z'));
	fuzz_check(out[n - 1] != '.');
	fuzz_check(match_host_canon(out, n, again, sizeof(again)) == 0);
	fuzz_check(strcmp(out, again) == 0);
	fuzz_check(match_host(out, out) == 1);
	fuzz_check(match_host("*", out) == 1);
	fuzz_check(match_host_pattern_canon(out, again, sizeof(again)) == 0);
	fuzz_check(strcmp(out, again) == 0);
}

static void
fuzz_addr(const char *a, size_t alen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	struct netaddr n, m, v4;
	struct netaddr_cidr c, d;
	struct netaddr_set set;
	const char *reason = NULL;
	enum netaddr_class cls;
	int allowed;

	if (netaddr_parse_literal(a, alen, &n) == 0) {
		fuzz_check(netaddr_ntop(&n, buf, sizeof(buf)) != NULL);
		fuzz_check(netaddr_parse_literal(buf, strlen(buf), &m) == 0);
		fuzz_check(m.family == n.family);
		fuzz_check(memcmp(&m.u, &n.u, n.family == AF_INET ?
		    sizeof(n.u.v4) : sizeof(n.u.v6)) == 0);
		cls = netaddr_classify(&n);
		(void)netaddr_class_name(cls);
		allowed = netaddr_check(&n, NULL, NULL, NULL, &reason);
		fuzz_check(allowed == (cls == NETADDR_PUBLIC));
		fuzz_check(allowed || reason != NULL);
		if (netaddr_embedded_v4(&n, &v4))
			fuzz_check(v4.family == AF_INET);
		/* an address denied by a /128 or /32 of itself */
		memset(&set, 0, sizeof(set));
		memset(&c, 0, sizeof(c));
		c.addr = n;
		c.prefix = n.family == AF_INET ? 32 : 128;
		fuzz_check(netaddr_set_add(&set, &c) == 0);
		fuzz_check(netaddr_check(&n, NULL, &set, NULL, &reason) == 0);
		/* and so by the sorted set of hosts */
		netaddr_set_sort(&set);
		fuzz_check(netaddr_check(&n, &set, NULL, NULL, &reason) == 0);
		netaddr_set_free(&set);
	}
	if (alen < 64 && memchr(a, '\0', alen) == NULL &&
	    netaddr_parse_cidr(a, &c) == 0) {
		char text[INET6_ADDRSTRLEN + 8];
		size_t tl;

		fuzz_check(netaddr_ntop(&c.addr, buf, sizeof(buf)) != NULL);
		tl = strlen(buf);
		memcpy(text, buf, tl);
		text[tl++] = '/';
		if (c.prefix >= 100)
			text[tl++] = (char)('0' + c.prefix / 100);
		if (c.prefix >= 10)
			text[tl++] = (char)('0' + c.prefix / 10 % 10);
		text[tl++] = (char)('0' + c.prefix % 10);
		text[tl] = '\0';
		fuzz_check(netaddr_parse_cidr(text, &d) == 0);
		fuzz_check(d.prefix == c.prefix && d.addr.family ==
		    c.addr.family);
		fuzz_check(memcmp(&d.addr.u, &c.addr.u, sizeof(c.addr.u)) == 0);
		memset(&set, 0, sizeof(set));
		fuzz_check(netaddr_set_add(&set, &c) == 0);
		fuzz_check(netaddr_set_contains(&set, &c.addr) == 1);
		netaddr_set_free(&set);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char a[FUZZ_MAX + 1], b[FUZZ_MAX + 1];
	static char pat[256], host[256];
	static char norm[LIMIT_PATH + 1];
	const char *nl;
	size_t alen, blen;
	int rc;

	if (size > FUZZ_MAX)
		return 0;
	fuzz_path((const char *)data, size);
	fuzz_host((const char *)data, size);

	nl = memchr(data, '\n', size);
	alen = nl != NULL ? (size_t)(nl - (const char *)data) : size;
	blen = nl != NULL ? size - alen - 1 : 0;
	memcpy(a, data, alen);
	a[alen] = '\0';
	memcpy(b, data + size - blen, blen);
	b[blen] = '\0';

	fuzz_addr(a, alen);
	fuzz_host(b, blen);

	/* host pattern against host */
	if (match_host_pattern_canon(a, pat, sizeof(pat)) == 0) {
		static char again[256];

		fuzz_check(match_host_pattern_canon(pat, again,
		    sizeof(again)) == 0);
		fuzz_check(strcmp(pat, again) == 0);
		if (match_host_canon(b, blen, host, sizeof(host)) == 0) {
			rc = match_host(pat, host);
			if (pat[0] != '*')
				fuzz_check(rc == (strcmp(pat, host) == 0));
			else if (pat[1] == '.' && rc)
				fuzz_check(strlen(host) > strlen(pat) - 1);
		}
	}

	/* path pattern against path; matching never trips on bad input */
	(void)match_path(a, b);
	if (match_path_pattern_valid(a) == 0) {
		rc = match_path_normalize(b, blen, norm, sizeof(norm));
		if (rc >= 0) {
			int m = match_path(a, norm);

			if (strchr(a, '*') == NULL)
				fuzz_check(m == (strcmp(a, norm) == 0));
		}
	}
	return 0;
}
