/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * match.c - host names and host patterns in canonical form, request path
 * normalisation (RFC 3986 escapes and dot segments) and path patterns.
 *
 * Pure functions, no allocation: the caller passes every buffer.  The
 * policy and the upstream must see the same path, so the normalised path
 * is both what is matched and what is forwarded.  Anything ambiguous (NUL,
 * backslash, bytes outside RFC 3986, ".." above the root, "..;" segments
 * that some servers read as "..") is invalid rather than guessed at.
 */
#include <stdint.h>
#include <string.h>

#include "slicer_limits.h"
#include "netaddr.h"
#include "match.h"

/* DNS label length (RFC 1035). */
#define MATCH_LABEL_MAX 63

static const char match_hex_upper[] = "0123456789ABCDEF";

static int
match_is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int
match_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
match_hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char
match_lower(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return (unsigned char)(c - 'A' + 'a');
	return c;
}

/* RFC 3986 unreserved: ALPHA DIGIT - . _ ~ */
static int
match_is_unreserved(unsigned char c)
{
	return match_is_alpha(c) || match_is_digit(c) || c == '-' ||
	    c == '.' || c == '_' || c == '~';
}

/* RFC 3986 pchar without pct-encoded: unreserved, sub-delims, ':', '@'. */
static int
match_is_pchar(unsigned char c)
{
	if (match_is_unreserved(c))
		return 1;
	switch (c) {
	case '!':
	case '$':
	case '&':
	case '\'':
	case '(':
	case ')':
	case '*':
	case '+':
	case ',':
	case ';':
	case '=':
	case ':':
	case '@':
		return 1;
	default:
		return 0;
	}
}

static int
match_is_label_char(unsigned char c)
{
	return match_is_alpha(c) || match_is_digit(c) || c == '-' || c == '_';
}

/* ASCII case-insensitive comparison of n bytes; 1 when equal. */
static int
match_equal_nocase(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (match_lower((unsigned char)a[i]) !=
		    match_lower((unsigned char)b[i]))
			return 0;
	return 1;
}

/*
 * Does a label look like a number?  A last label that does is an IPv4
 * literal that failed to parse ("1.2.3.256", "0x1.0x"), not a name: URL
 * parsers and resolvers disagree about such hosts, so they are refused.
 */
static int
match_label_is_numeric(const char *s, size_t n)
{
	size_t i = 0;
	int hex = 0;

	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		hex = 1;
		i = 2;
	}
	for (; i < n; i++) {
		if (hex ? match_hex_value((unsigned char)s[i]) < 0 :
			  !match_is_digit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/*
 * A host name (no trailing dot here): labels of letters, digits, '-' and
 * '_', 1..63 bytes each, total 1..LIMIT_HOSTNAME, written lower-case.
 */
static int
match_name_canon(const char *in, size_t len, char *out, size_t outsz)
{
	size_t i, label = 0, last = 0;

	if (len == 0 || len > LIMIT_HOSTNAME || outsz <= len)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];

		if (c == '.') {
			if (label == 0)
				return -1;
			label = 0;
			last = i + 1;
		} else if (match_is_label_char(c)) {
			if (++label > MATCH_LABEL_MAX)
				return -1;
		} else {
			return -1;
		}
		out[i] = (char)match_lower(c);
	}
	if (label == 0)
		return -1;
	if (match_label_is_numeric(in + last, len - last))
		return -1;
	out[len] = '\0';
	return 0;
}

int
match_host_canon(const char *in, size_t len, char *out, size_t outsz)
{
	struct netaddr a;

	if (in == NULL || out == NULL || outsz == 0 || len == 0)
		return -1;
	if (in[0] == '[') {
		/* brackets only around an IPv6 literal, nothing after */
		if (in[len - 1] != ']' ||
		    netaddr_parse_literal(in, len, &a) == -1 ||
		    a.family != AF_INET6)
			return -1;
		return netaddr_ntop(&a, out, outsz) != NULL ? 0 : -1;
	}
	if (in[len - 1] == '.')
		len--;
	if (len == 0)
		return -1;
	if (netaddr_parse_literal(in, len, &a) == 0)
		return netaddr_ntop(&a, out, outsz) != NULL ? 0 : -1;
	return match_name_canon(in, len, out, outsz);
}

int
match_host_pattern_canon(const char *in, char *out, size_t outsz)
{
	size_t len;

	if (in == NULL || out == NULL || outsz == 0)
		return -1;
	len = strnlen(in, LIMIT_HOSTNAME + 2);
	if (len == 0 || len > LIMIT_HOSTNAME + 1)
		return -1;
	if (len == 1 && in[0] == '*') {
		if (outsz < 2)
			return -1;
		memcpy(out, "*", 2);
		return 0;
	}
	if (in[0] == '*') {
		/* "*." and a host name; the whole pattern fits a host name */
		if (len < 3 || in[1] != '.' || outsz < 3)
			return -1;
		if (in[len - 1] == '.')
			len--;
		if (len > LIMIT_HOSTNAME)
			return -1;
		if (match_name_canon(in + 2, len - 2, out + 2, outsz - 2))
			return -1;
		out[0] = '*';
		out[1] = '.';
		return 0;
	}
	return match_host_canon(in, len, out, outsz);
}

int
match_host(const char *pat, const char *h)
{
	size_t plen, hlen;

	if (pat == NULL || h == NULL)
		return 0;
	plen = strlen(pat);
	hlen = strlen(h);
	if (plen > 0 && pat[plen - 1] == '.')
		plen--;
	if (hlen > 0 && h[hlen - 1] == '.')
		hlen--;
	if (plen == 0 || hlen == 0)
		return 0;
	if (plen == 1 && pat[0] == '*')
		return 1;
	if (plen >= 2 && pat[0] == '*' && pat[1] == '.') {
		/* ".example.com" must be a proper suffix of h */
		const char *suffix = pat + 1;
		size_t slen = plen - 1;

		if (hlen <= slen || h[hlen - slen - 1] == '.')
			return 0;
		return match_equal_nocase(h + hlen - slen, suffix, slen);
	}
	return plen == hlen && match_equal_nocase(pat, h, plen);
}

/* Append one byte to out, keeping room for the NUL. */
static int
match_put(char *out, size_t outsz, size_t *o, char c)
{
	if (*o + 1 >= outsz)
		return -1;
	out[(*o)++] = c;
	return 0;
}

/*
 * Kind of a decoded path segment: 1 for ".", 2 for "..", 0 for any other,
 * -1 for "." or ".." with ';' parameters after it, which some servers
 * (Tomcat, Jetty) take for the dot segment itself.
 */
static int
match_dot_kind(const char *s, size_t n)
{
	size_t dots = 0;

	while (dots < n && dots < 3 && s[dots] == '.')
		dots++;
	if (dots == 0 || dots > 2)
		return 0;
	if (dots == n)
		return (int)dots;
	return s[dots] == ';' ? -1 : 0;
}

/*
 * Dot segments are removed as they are met, so a path whose segments
 * before removal do not fit in outsz is refused even if ".." would have
 * shortened it.
 */
int
match_path_normalize(const char *in, size_t len, char *out, size_t outsz)
{
	size_t i = 0, o = 0, seg, sub;
	int has_enc_sep;
	int rc = -1, kind, hi, lo, v;

	if (in == NULL || out == NULL || outsz == 0)
		return -1;
	if (len == 0) {
		if (match_put(out, outsz, &o, '/'))
			goto out;
		goto done;
	}
	if (in[0] != '/')
		goto out;
	while (i < len) {
		i++; /* the '/' that starts this segment */
		seg = o;
		if (match_put(out, outsz, &o, '/'))
			goto out;
		sub = seg;
		has_enc_sep = 0;
		while (i < len && in[i] != '/') {
			unsigned char c = (unsigned char)in[i];

			if (c != '%') {
				if (!match_is_pchar(c) ||
				    match_put(out, outsz, &o, (char)c))
					goto out;
				i++;
				continue;
			}
			if (len - i < 3)
				goto out;
			hi = match_hex_value((unsigned char)in[i + 1]);
			lo = match_hex_value((unsigned char)in[i + 2]);
			if (hi < 0 || lo < 0)
				goto out;
			v = hi * 16 + lo;
			if (v == 0)
				goto out;
			if (v == '/' || v == '\\') {
				/* an encoded separator: what sits between it and the
				 * last one must not be a dot segment for a server
				 * that decodes it (nginx does) */
				if (match_dot_kind(out + sub + 1, o - sub - 1) != 0)
					goto out;
				has_enc_sep = 1;
				sub = o + 2; /* the 'F'/'C' of this escape */
			}
			if (match_is_unreserved((unsigned char)v)) {
				if (match_put(out, outsz, &o, (char)v))
					goto out;
			} else if (match_put(out, outsz, &o, '%') ||
			    match_put(out, outsz, &o, match_hex_upper[hi]) ||
			    match_put(out, outsz, &o, match_hex_upper[lo])) {
				goto out;
			}
			i += 3;
		}
		if (has_enc_sep && match_dot_kind(out + sub + 1, o - sub - 1) != 0)
			goto out;
		kind = match_dot_kind(out + seg + 1, o - seg - 1);
		if (kind < 0)
			goto out;
		if (kind == 0)
			continue;
		o = seg;
		if (kind == 2) {
			/* drop the previous segment; none left: above root */
			if (o == 0)
				goto out;
			while (out[--o] != '/')
				;
		}
		/* "/a/b/.." is "/a/": a final dot segment leaves a '/' */
		if (i == len && match_put(out, outsz, &o, '/'))
			goto out;
	}
done:
	if (o > LIMIT_PATH)
		goto out;
	out[o] = '\0';
	rc = (int)o;
out:
	if (rc < 0)
		out[0] = '\0';
	return rc;
}

int
match_path_pattern_valid(const char *pat)
{
	size_t len, i, seg = 0;
	int hi, lo, v;

	if (pat == NULL)
		return -1;
	len = strnlen(pat, LIMIT_PATH + 1);
	if (len == 0 || len > LIMIT_PATH || pat[0] != '/')
		return -1;
	/* i walks the pattern; seg is where the current segment starts */
	for (i = 0; i <= len; i++) {
		unsigned char c = (unsigned char)pat[i];

		if (i == len || c == '/') {
			/* a normalised path never holds these, so a pattern
			 * with them could never match */
			if (i > 0 && match_dot_kind(pat + seg, i - seg) != 0)
				return -1;
			seg = i + 1;
			continue;
		}
		if (c == '*') {
			if (pat[i + 1] == '*')
				return -1;
			continue;
		}
		if (c != '%') {
			if (!match_is_pchar(c))
				return -1;
			continue;
		}
		/* escapes as match_path_normalize writes them */
		if (len - i < 3)
			return -1;
		hi = match_hex_value((unsigned char)pat[i + 1]);
		lo = match_hex_value((unsigned char)pat[i + 2]);
		if (hi < 0 || lo < 0 || pat[i + 1] != match_hex_upper[hi] ||
		    pat[i + 2] != match_hex_upper[lo])
			return -1;
		v = hi * 16 + lo;
		if (v == 0 || match_is_unreserved((unsigned char)v))
			return -1;
		i += 2;
	}
	return 0;
}

/*
 * Glob one segment: '*' matches one or more bytes.  With open_end the
 * pattern need only match a prefix of s.  Greedy with one backtrack point,
 * O(pn * sn) at worst.
 */
static int
match_segment(const char *p, size_t pn, const char *s, size_t sn,
    int open_end)
{
	size_t pi = 0, si = 0, star = SIZE_MAX, mark = 0;

	while (si < sn) {
		if (pi == pn && open_end)
			return 1;
		if (pi < pn && p[pi] == '*') {
			/* the star takes s[si] at once: one or more */
			star = pi++;
			mark = ++si;
			continue;
		}
		if (pi < pn && p[pi] == s[si]) {
			pi++;
			si++;
			continue;
		}
		if (star == SIZE_MAX)
			return 0;
		/* let the star take one more byte and retry after it */
		pi = star + 1;
		si = ++mark;
	}
	return pi == pn;
}

int
match_path(const char *pat, const char *p)
{
	const char *pp, *pe, *sp, *se, *pseg, *sseg;
	size_t plen;
	int trailing = 0, p_last, s_last;

	if (pat == NULL || p == NULL || pat[0] != '/' || p[0] != '/')
		return 0;
	plen = strlen(pat);
	if (pat[plen - 1] == '*') {
		trailing = 1;
		plen--;
	}
	pp = pat;
	pe = pat + plen;
	sp = p;
	se = p + strlen(p);
	for (;;) {
		pseg = memchr(pp, '/', (size_t)(pe - pp));
		if (pseg == NULL)
			pseg = pe;
		sseg = memchr(sp, '/', (size_t)(se - sp));
		if (sseg == NULL)
			sseg = se;
		p_last = pseg == pe;
		s_last = sseg == se;
		if (p_last && trailing)
			return match_segment(pp, (size_t)(pseg - pp), sp,
			    (size_t)(sseg - sp), 1);
		if (!match_segment(pp, (size_t)(pseg - pp), sp,
			(size_t)(sseg - sp), 0))
			return 0;
		if (p_last || s_last)
			return p_last && s_last;
		pp = pseg + 1;
		sp = sseg + 1;
	}
}
