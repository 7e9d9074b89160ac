/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dns_stub.h - the guest's DNS stub.  nftables redirects udp and tcp port 53
 * (to any destination) to cfg->port; the stub answers every query through
 * the host proxy's DoH endpoint (POST /slicer/dns-query, RFC 8484 wire
 * format, Proxy-Authorization with the client token), over a small pool of
 * keep-alive connections marked with SO_MARK so the agent's own rules let
 * them out: plain HTTP to the proxy port, or TLS (mbed TLS, the proxy's
 * CA pinned, see tlsc.h) when the agent uses the proxy's TLS port.
 *
 * It listens on 0.0.0.0 and [::] (UDP and TCP) and answers UDP from the
 * address each query was sent to (IP_PKTINFO / IPV6_PKTINFO), as conntrack
 * needs for the redirected flows.  Answered locally: the Firefox canary
 * use-application-dns.net (NXDOMAIN), HTTPS/SVCB (empty NOERROR, so no ECH
 * or h3 hints), other classes and zone transfers (NOTIMP), malformed
 * queries (FORMERR, or nothing).  Positive answers are cached by TTL
 * (capped), NODATA for a moment, NXDOMAIN never: a name allowed on the host
 * resolves on the next query.  Answers too large for the client's UDP size
 * go back truncated (TC) so it retries over TCP.  An address seen in an
 * answer is remembered with the question name for the redirector
 * (dns_stub_name_for).
 *
 * Everything runs on the caller's ev loop (single thread); every count,
 * size and wait is bounded by the LIMIT_DNS_* values (slicer_limits.h).
 */
#ifndef SLICER_DNS_STUB_H
#define SLICER_DNS_STUB_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"
#include "slicer_limits.h"

struct ev;
struct dns_stub;
struct tlsc_ctx;

struct dns_stub_config {
	uint16_t port;             /* 15053: UDP and TCP, 0.0.0.0 and [::] */
	struct netaddr proxy_addr; /* the host proxy */
	uint16_t proxy_port;
	const char *token;    /* borrowed, read by dns_stub_new only */
	uint32_t mark;        /* SO_MARK of listeners and proxy
			       * connections; 0: none */
	struct tlsc_ctx *tls; /* borrowed, outlives the stub; NULL: plain */
};

struct dns_stub_stats {
	uint64_t queries;   /* well-formed queries received */
	uint64_t cached;    /* answered from the cache */
	uint64_t denied;    /* NXDOMAIN answers: the proxy's and the canary */
	uint64_t forwarded; /* queries sent to the proxy */
	uint64_t errors;    /* FORMERR/NOTIMP/SERVFAIL sent, bad datagrams,
			     * proxy failures */
	uint64_t limited;   /* refused by the per-source and total bounds */
	uint64_t upstream;  /* connections to the proxy that came up (with
			     * TLS: handshakes done) */
};

/*
 * Open the listeners and start serving on ev.  The token is copied (kept
 * in locked, wiped memory as a ready Proxy-Authorization header).  IPv6
 * listeners are skipped when the kernel has no IPv6; failing to bind IPv4
 * is an error.  Returns the stub, or NULL with a message in err.
 */
struct dns_stub *dns_stub_new(
    struct ev *ev, const struct dns_stub_config *cfg, char *err, size_t errsz);

/*
 * Close everything; queries in flight get no answer.  Call it before
 * ev_free(); the memory itself is released after the current batch of
 * events (ev_defer_free).  NULL is fine.
 */
void dns_stub_free(struct dns_stub *s);

/*
 * Was addr in an answer the stub passed on (not longer ago than
 * max(its TTL, LIMIT_DNS_NAME_MIN_TTL) seconds)?  Then copy the question
 * name of the latest such answer (text, lower case, no trailing dot; a
 * CNAME chain leads back to the name asked for) into name and return 1.
 * Otherwise, or when it does not fit in size, return 0.
 */
int dns_stub_name_for(const struct dns_stub *s, const struct netaddr *addr,
    char *name, size_t size);

/* Copy the counters (for `status`). */
void dns_stub_get_stats(const struct dns_stub *s, struct dns_stub_stats *st);

#endif
