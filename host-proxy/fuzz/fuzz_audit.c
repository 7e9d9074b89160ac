/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_audit.c - libFuzzer target for what a VM's bytes reach first: the
 * audit line writer (audit.c: a path, host, method and reason as the guest
 * sent them, written as one JSON line) and the Proxy-Authorization parser
 * (token.c).  The input is split at its first two 0xff bytes into path,
 * host and the rest; the rest is also the Proxy-Authorization value.
 *
 * Besides ASan/UBSan it aborts when an invariant breaks:
 * - the line ends in one newline, holds no other, and is at most
 *   LIMIT_AUDIT_LINE bytes;
 * - it is a JSON object (jansson, which rejects invalid UTF-8) whose
 *   "event" and "time" are strings;
 * - an untruncated record gives back each value exactly, but for U+FFFD
 *   in place of each byte that is not part of valid UTF-8;
 * - a token from Proxy-Authorization is NUL-terminated, 1 to TOKEN_MAX
 *   bytes, and a Bearer token holds no space or control byte.
 *
 *   make fuzz RUN=audit SECS=120
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit.h"
#include "slicer_limits.h"
#include "token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct audit *fuzz_log;

struct fuzz_line {
	char buf[LIMIT_AUDIT_LINE + 2];
	size_t len;
	int count;
};

static void
fuzz_check(int ok)
{
	if (!ok)
		abort();
}

static void
fuzz_recent_cb(void *arg, const char *line, size_t len)
{
	struct fuzz_line *l = arg;

	/* the ring holds earlier lines too: keep the newest */
	fuzz_check(len <= LIMIT_AUDIT_LINE);
	memcpy(l->buf, line, len);
	l->buf[len] = '\0';
	l->len = len;
	l->count++;
}

/* Length of the valid UTF-8 sequence at s (as RFC 3629), or 0. */
static size_t
fuzz_utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return n >= 2 && (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		unsigned lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;

		return n >= 3 && s[1] >= lo && s[1] <= hi &&
		    (s[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		unsigned lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;

		return n >= 4 && s[1] >= lo && s[1] <= hi &&
		    (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

/* What the writer must give back for src: bytes that are not UTF-8
 * become U+FFFD each, the rest stays (NUL and controls as \u escapes,
 * which decode to themselves).  Returns the length written to out. */
static size_t
fuzz_expected(const unsigned char *src, size_t n, char *out)
{
	size_t i = 0, o = 0, k;

	while (i < n) {
		k = fuzz_utf8_len(src + i, n - i);
		if (k == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
		} else {
			memcpy(out + o, src + i, k);
			o += k;
			i += k;
		}
	}
	return o;
}

static void
fuzz_value(json_t *rec, const char *key, const uint8_t *src, size_t n)
{
	static char want[3 * (LIMIT_AUDIT_LINE + 16)];
	json_t *v = json_object_get(rec, key);
	size_t wlen;

	fuzz_check(json_is_string(v));
	wlen = fuzz_expected(src, n, want);
	fuzz_check(json_string_length(v) == wlen &&
	    memcmp(json_string_value(v), want, wlen) == 0);
}

static void
fuzz_audit(const uint8_t *path, size_t plen, const uint8_t *host,
    size_t hlen, const uint8_t *rest, size_t rlen)
{
	static struct audit_rec r;
	static struct fuzz_line l;
	json_error_t jerr;
	json_t *rec;

	if (fuzz_log == NULL) {
		char err[256];

		fuzz_log = audit_new(NULL, (uid_t)-1, err, sizeof(err));
		fuzz_check(fuzz_log != NULL);
	}
	audit_rec_begin(&r, "request");
	audit_rec_str(&r, "client", "vm1");
	audit_rec_strn(&r, "method", (const char *)rest,
	    rlen < 16 ? rlen : 16);
	audit_rec_strn(&r, "host", (const char *)host, hlen);
	audit_rec_int(&r, "port", 443);
	audit_rec_strn(&r, "path", (const char *)path, plen);
	audit_rec_str(&r, "decision", "deny");
	audit_rec_strn(&r, "reason", (const char *)rest, rlen);
	audit_rec_null(&r, "secret");
	audit_rec_emit(fuzz_log, &r);

	l.count = 0;
	audit_recent(fuzz_log, fuzz_recent_cb, &l);
	fuzz_check(l.count > 0 && l.len > 0 && l.buf[l.len - 1] == '\n');
	fuzz_check(memchr(l.buf, '\n', l.len - 1) == NULL);
	rec = json_loadb(l.buf, l.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	    &jerr);
	fuzz_check(json_is_object(rec));
	fuzz_check(json_is_string(json_object_get(rec, "event")) &&
	    strcmp(json_string_value(json_object_get(rec, "event")),
	    "request") == 0);
	fuzz_check(json_is_string(json_object_get(rec, "time")));
	if (!json_is_true(json_object_get(rec, "truncated"))) {
		fuzz_value(rec, "method", rest, rlen < 16 ? rlen : 16);
		fuzz_value(rec, "host", host, hlen);
		fuzz_value(rec, "path", path, plen);
		fuzz_value(rec, "reason", rest, rlen);
		fuzz_check(json_integer_value(json_object_get(rec, "port")) ==
		    443);
		fuzz_check(json_is_null(json_object_get(rec, "secret")));
	}
	json_decref(rec);
}

static void
fuzz_token(const uint8_t *data, size_t size)
{
	char tok[TOKEN_MAX + 1];
	int n, i;

	memset(tok, 'x', sizeof(tok));
	n = token_from_proxy_auth((const char *)data, size, tok);
	if (n < 0)
		return;
	fuzz_check(n >= 1 && n <= TOKEN_MAX && tok[n] == '\0' &&
	    strlen(tok) == (size_t)n);
	if (size > 7 && strncasecmp((const char *)data, "Bearer ", 7) == 0)
		for (i = 0; i < n; i++)
			fuzz_check((unsigned char)tok[i] > ' ' &&
			    tok[i] != 0x7f);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *a, *b;
	size_t plen, hlen;

	if (size > 4 * LIMIT_AUDIT_LINE)
		return 0;
	fuzz_token(data, size);
	a = memchr(data, 0xff, size);
	if (a == NULL) {
		fuzz_audit(data, size, (const uint8_t *)"", 0,
		    (const uint8_t *)"", 0);
		return 0;
	}
	plen = (size_t)(a - data);
	b = memchr(a + 1, 0xff, size - plen - 1);
	hlen = b == NULL ? size - plen - 1 : (size_t)(b - a - 1);
	fuzz_audit(data, plen, a + 1, hlen, b == NULL ? a + 1 + hlen : b + 1,
	    b == NULL ? 0 : size - (size_t)(b + 1 - data));
	return 0;
}
