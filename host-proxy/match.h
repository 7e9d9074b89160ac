/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * match.h - host patterns, path normalisation and path patterns for allow
 * rules.  Pure functions; no allocation.
 *
 * Host patterns:
 *   "api.example.com"  exact, case-insensitive, one trailing dot ignored on
 *                      either side; IDNA names compare as sent (punycode
 *                      "xn--..." labels are plain ASCII here).
 *   "*.example.com"    any name with at least one more label ending in
 *                      ".example.com" (not "example.com" itself).
 *   "*"                any host (address checks still apply).
 *
 * Paths: a request path is normalised before it is matched and before it
 * is forwarded, so the policy and the upstream see the same thing:
 *   - percent-escapes of unreserved characters (ALPHA DIGIT - . _ ~) are
 *     decoded; every other escape is kept, hex upper-cased ("%2f" -> "%2F",
 *     so an encoded slash is never a separator);
 *   - "%00", a malformed escape, a byte outside the RFC 3986 path
 *     characters, or a backslash: invalid;
 *   - dot segments ("." and "..", including ones spelled with escapes) are
 *     removed (RFC 3986 5.2.4); ".." above the root is invalid;
 *   - empty path becomes "/"; repeated slashes are kept as they are.
 *
 * Path patterns (from --path):
 *   "/v1/chat/completions"  exact match of the normalised path
 *   "/v1/\*"                 a trailing "*" matches any rest, "/" included
 *                           ("/v1/" itself matches, "/v1" does not)
 *   "/repos/ * /issues"     (no spaces) a "*" elsewhere matches one or more
 *                           characters within one segment, never "/"
 * The query string is not part of the path and is not matched.
 */
#ifndef SLICER_MATCH_H
#define SLICER_MATCH_H

#include <stddef.h>

/*
 * Validate and canonicalise a host pattern from a rule or a secret:
 * lower-case, trailing dot removed.  Accepts "*", "*.suffix" (suffix with at
 * least one dot-free label, i.e. "*.com" is allowed but "*." and "*.*.x"
 * are not), host names (labels of letters, digits, '-', '_', 1..63 each,
 * total <= 253), IPv4 dotted quads and IPv6 literals (stored without
 * brackets, canonical form).  Returns 0 and writes out (size >= 256), or -1.
 */
int match_host_pattern_canon(const char *in, char *out, size_t outsz);

/*
 * Canonicalise a request host the same way (lower-case, trailing dot
 * dropped, IP literals in any spelling to canonical text).  Returns 0 or -1
 * for an invalid host.
 */
int match_host_canon(const char *in, size_t len, char *out, size_t outsz);

/* Does canonical host h match canonical pattern pat? 1 or 0. */
int match_host(const char *pat, const char *h);

/*
 * Normalise a request path (the path part only, no query) as described
 * above into out (NUL-terminated).  Returns the length, or -1 when the path
 * is invalid or does not fit in outsz.
 */
int match_path_normalize(const char *in, size_t len, char *out, size_t outsz);

/* Validate a path pattern: must start with '/', path characters and '*'
 * only, at most LIMIT_PATH bytes.  Returns 0 or -1. */
int match_path_pattern_valid(const char *pat);

/* Does normalised path p match pattern pat? 1 or 0. */
int match_path(const char *pat, const char *p);

#endif
