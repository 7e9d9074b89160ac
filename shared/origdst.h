/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * origdst.h - the Slicer-Original-Destination field of a CONNECT request.
 *
 * When slicer-agent names a CONNECT target after its own DNS stub's
 * answers (a connection that carried no SNI or Host), the name alone would
 * let the proxy dial wherever the name resolves to next: another process
 * in the VM that made the stub map the address to a name it controls
 * could rebind that name and receive the connection.  So the agent also
 * sends the address the connection was made to:
 *
 *   Slicer-Original-Destination: 192.0.2.7
 *   Slicer-Original-Destination: 2001:db8::7
 *
 * The value is one IP address in its canonical text form, exactly as
 * inet_ntop(3) writes it: IPv4 as a dotted quad without leading zeros,
 * IPv6 as RFC 5952 (lower case, zeros compressed, no brackets, no zone).
 * The proxy then dials that address only, and only when it is one of the
 * name's own answers: the field can only narrow where a CONNECT goes.
 *
 * Pure code, no allocation or I/O.
 */
#ifndef SLICER_ORIGDST_H
#define SLICER_ORIGDST_H

#include <stddef.h>

#include "http1.h"
#include "netaddr.h"

#define ORIGDST_FIELD "Slicer-Original-Destination"

/* Longest "Slicer-Original-Destination: ADDR\r\n" line, with its NUL. */
#define ORIGDST_LINE_MAX (sizeof(ORIGDST_FIELD) + 2 + INET6_ADDRSTRLEN + 2)

enum origdst_result {
	ORIGDST_BAD = -1,  /* present but unusable: answer 400 */
	ORIGDST_NONE = 0,  /* absent */
	ORIGDST_FOUND = 1, /* one field, one address: *out set */
};

/*
 * Write the field's whole line ("Slicer-Original-Destination: ADDR\r\n")
 * for address a into out (size bytes, at least ORIGDST_LINE_MAX for any
 * address).  Returns the length written (without the NUL), or -1 when a
 * is not an IPv4 or IPv6 address or the line does not fit.
 */
int origdst_format(const struct netaddr *a, char *out, size_t size);

/*
 * Look for the field among a request's n headers.  ORIGDST_NONE when
 * absent; ORIGDST_FOUND with the address in *out when there is exactly one
 * such field whose whole value is one address in the canonical form above;
 * ORIGDST_BAD otherwise (repeated, empty, a name, a port, brackets, a zone,
 * another spelling of an address, a list), with a short static reason in
 * *why that never quotes the value.
 */
int origdst_parse(const struct http1_header *hdrs, size_t n,
    struct netaddr *out, const char **why);

/* Is a field named name the Slicer-Original-Destination field? */
int origdst_is_field(struct http1_slice name);

#endif
