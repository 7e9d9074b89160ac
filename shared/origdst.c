/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * origdst.c - the Slicer-Original-Destination field: written by
 * slicer-agent's redirector, read by the proxy (see origdst.h).
 *
 * One spelling per address is accepted: the text inet_ntop(3) writes.  A
 * value that parses but is spelled another way ("192.0.2.07",
 * "2001:DB8::7", "::ffff:c000:207" for "::ffff:192.0.2.7") is refused
 * rather than read, so that no two readers can take it for two addresses.
 */
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "origdst.h"

int
origdst_format(const struct netaddr *a, char *out, size_t size)
{
	char text[INET6_ADDRSTRLEN];
	size_t tlen, flen = sizeof(ORIGDST_FIELD) - 1, len;

	if (a == NULL || out == NULL ||
	    (a->family != AF_INET && a->family != AF_INET6) ||
	    netaddr_ntop(a, text, sizeof(text)) == NULL)
		return -1;
	tlen = strlen(text);
	len = flen + 2 + tlen + 2;
	if (len + 1 > size)
		return -1;
	memcpy(out, ORIGDST_FIELD, flen);
	memcpy(out + flen, ": ", 2);
	memcpy(out + flen + 2, text, tlen);
	memcpy(out + flen + 2 + tlen, "\r\n", 3);
	return (int)len;
}

/* The value as an address in its one accepted spelling; 0 or -1. */
static int
origdst_parse_value(struct http1_slice v, struct netaddr *out)
{
	char text[INET6_ADDRSTRLEN], canon[INET6_ADDRSTRLEN];
	struct netaddr a;
	int family;

	if (v.len == 0 || v.len >= sizeof(text))
		return -1;
	memcpy(text, v.p, v.len);
	text[v.len] = '\0';
	memset(&a, 0, sizeof(a));
	family = memchr(text, ':', v.len) != NULL ? AF_INET6 : AF_INET;
	if (inet_pton(family, text,
		family == AF_INET6 ? (void *)&a.u.v6 : (void *)&a.u.v4) != 1)
		return -1;
	a.family = family;
	if (netaddr_ntop(&a, canon, sizeof(canon)) == NULL ||
	    strcmp(canon, text) != 0)
		return -1;
	*out = a;
	return 0;
}

int
origdst_parse(const struct http1_header *hdrs, size_t n, struct netaddr *out,
    const char **why)
{
	const struct http1_header *h = NULL;
	size_t i;

	*why = NULL;
	for (i = 0; i < n; i++) {
		if (!origdst_is_field(hdrs[i].name))
			continue;
		if (h != NULL) {
			*why = "repeated " ORIGDST_FIELD " field";
			return ORIGDST_BAD;
		}
		h = &hdrs[i];
	}
	if (h == NULL)
		return ORIGDST_NONE;
	if (origdst_parse_value(h->value, out) == -1) {
		*why = "invalid " ORIGDST_FIELD ": want one IPv4 or IPv6 "
		       "address as inet_ntop writes it (192.0.2.7, "
		       "2001:db8::7)";
		return ORIGDST_BAD;
	}
	return ORIGDST_FOUND;
}

int
origdst_is_field(struct http1_slice name)
{
	return http1_slice_eq(name, ORIGDST_FIELD);
}
