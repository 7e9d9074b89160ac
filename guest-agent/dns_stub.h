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
 * size and wait is bounded by the LIMIT_DNS_* values below.
 */
#ifndef SLICER_DNS_STUB_H
#define SLICER_DNS_STUB_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

struct ev;
struct dns_stub;
struct tlsc_ctx;

/*
 * Ceilings.  XXX: these belong in shared/limits.h; guarded so they can move
 * there unchanged.
 */
#ifndef LIMIT_DNS_UPSTREAM_CONNS
/* Connections to the proxy: one query in flight on each, so a slow answer
 * never holds up the others (musl sends A and AAAA together). */
#define LIMIT_DNS_UPSTREAM_CONNS 8
#endif
#ifndef LIMIT_DNS_SOURCE_UPSTREAM
/* Connections one source address may occupy at once: two are always left
 * for everyone else. */
#define LIMIT_DNS_SOURCE_UPSTREAM (LIMIT_DNS_UPSTREAM_CONNS - 2)
#endif
#ifndef LIMIT_DNS_INFLIGHT
/* Queries waiting for the proxy, all sources together. */
#define LIMIT_DNS_INFLIGHT 256
#endif
#ifndef LIMIT_DNS_SOURCE_INFLIGHT
/* Queries waiting for the proxy from one source address; more are dropped
 * (UDP: the client retries) or answered SERVFAIL (TCP). */
#define LIMIT_DNS_SOURCE_INFLIGHT 32
#endif
#ifndef LIMIT_DNS_SOURCE_RATE
/* Queries per second from one source address (token bucket, cache hits
 * included), and the burst it may spend at once. */
#define LIMIT_DNS_SOURCE_RATE 500
#define LIMIT_DNS_SOURCE_BURST 1000
#endif
#ifndef LIMIT_DNS_SOURCES
/* Source addresses tracked for the two limits above (the VM, its
 * containers); when full, an idle one is forgotten. */
#define LIMIT_DNS_SOURCES 256
#endif
#ifndef LIMIT_DNS_TCP_CLIENTS
/* TCP client connections at once; past it new ones are closed. */
#define LIMIT_DNS_TCP_CLIENTS 64
#endif
#ifndef LIMIT_DNS_TCP_PIPELINE
/* Queries in flight on one TCP connection (RFC 7766 pipelining); reading
 * pauses at this many. */
#define LIMIT_DNS_TCP_PIPELINE 16
#endif
#ifndef LIMIT_DNS_TCP_OUT
/* Answers queued for a TCP client that does not read; past it: closed. */
#define LIMIT_DNS_TCP_OUT (256 * 1024)
#endif
#ifndef LIMIT_DNS_TCP_IDLE_MS
/* A TCP client with nothing in flight that neither completed a message
 * nor was sent anything for this long is closed (RFC 7766 6.2.3 suggests
 * seconds); bytes trickling in do not keep it open. */
#define LIMIT_DNS_TCP_IDLE_MS 10000
#endif
#ifndef LIMIT_DNS_QUERY_TIMEOUT_MS
/* A query the proxy has not answered by then gets SERVFAIL: before the
 * 5 s retry timer of glibc and musl, so they move on at once. */
#define LIMIT_DNS_QUERY_TIMEOUT_MS 4000
#endif
#ifndef LIMIT_DNS_UPSTREAM_CONNECT_MS
/* TCP connect to the proxy, and the TLS handshake after it. */
#define LIMIT_DNS_UPSTREAM_CONNECT_MS 3000
#endif
#ifndef LIMIT_DNS_UPSTREAM_IDLE_MS
/* An idle proxy connection is closed first by us, before the proxy's own
 * keep-alive timeout (LIMIT_IDLE_TIMEOUT_MS) can race a new query. */
#define LIMIT_DNS_UPSTREAM_IDLE_MS 30000
#endif
#ifndef LIMIT_DNS_CACHE_ENTRIES
/* Cached answers (LRU), and their total size. */
#define LIMIT_DNS_CACHE_ENTRIES 1024
#define LIMIT_DNS_CACHE_BYTES (2 * 1024 * 1024)
#endif
#ifndef LIMIT_DNS_CACHE_TTL
/* Positive TTLs are capped at this (seconds), in the cache and in the
 * answers clients get; revoking access is the proxy's job, per connection. */
#define LIMIT_DNS_CACHE_TTL 60
#endif
#ifndef LIMIT_DNS_NODATA_TTL
/* NODATA (NOERROR, no answer) is cached this long (seconds). */
#define LIMIT_DNS_NODATA_TTL 2
#endif
#ifndef LIMIT_DNS_NAMES
/* Address -> name entries for the redirector (LRU), and the least time
 * one is kept (seconds): clients often connect after the TTL ran out. */
#define LIMIT_DNS_NAMES 4096
#define LIMIT_DNS_NAME_MIN_TTL 300
#endif
#ifndef LIMIT_DNS_UDP_BATCH
/* Datagrams read per wakeup of one UDP socket, so TCP and the proxy
 * connections get their turn under a flood. */
#define LIMIT_DNS_UDP_BATCH 64
#endif

struct dns_stub_config {
	uint16_t port;             /* 15053: UDP and TCP, 0.0.0.0 and [::] */
	struct netaddr proxy_addr; /* the host proxy */
	uint16_t proxy_port;
	const char *token;    /* borrowed, read by dns_stub_new only */
	uint32_t mark;        /* SO_MARK of proxy connections; 0: none */
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
