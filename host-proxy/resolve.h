/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * resolve.h - asynchronous name resolution with c-ares inside the event
 * loop.  No blocking resolver call ever runs in the daemon.
 */
#ifndef SLICER_RESOLVE_H
#define SLICER_RESOLVE_H

#include "ev.h"
#include "slicer_limits.h"
#include "netaddr.h"

struct resolver;
struct resolve_req;

/*
 * Result callback: status 0 and n >= 1 addresses (A and AAAA, at most
 * LIMIT_UPSTREAM_ADDRS, in the order c-ares' RFC 6724 sorting gives them:
 * addresses the host cannot route to last, IPv6 before IPv4 otherwise,
 * each family in the order of its answer), or status -1 with a static
 * reason.  Called at most once, possibly before resolve_start() returns
 * (answers from /etc/hosts or immediate failures).
 */
typedef void (*resolve_cb)(void *arg, int status, const struct netaddr *addrs,
    size_t n, const char *reason);

struct resolver *resolver_new(struct ev *ev);
/* Ends the lookups still pending: requests not cancelled get their
 * callback now (status -1, or the addresses of a family that answered). */
void resolver_free(struct resolver *r);

/*
 * Start resolving name (canonical: compared as is); returns a handle to
 * cancel, or NULL when the callback already ran (synchronously).  The A
 * and AAAA lookups go out side by side, and the answer when both have
 * answered; but once one family has answered with addresses, the other
 * gets LIMIT_DNS_RESOLUTION_DELAY_MS (RFC 8305 section 3) and the answer
 * goes out without it after that.  A family without addresses (NXDOMAIN,
 * NODATA) starts no delay.  An answer is kept for its TTL (the lowest of
 * its addresses and CNAMEs, at most LIMIT_RESOLVE_CACHE_TTL_MS) and then
 * given synchronously; failures and TTL 0 answers are not kept.  A family
 * that answers with addresses after the delay joins the kept answer
 * (within LIMIT_UPSTREAM_ADDRS, in the order above, kept for the lower of
 * the two TTLs); its failure changes nothing.  An answer from /etc/hosts
 * goes out at once as it is, and a family the file lacks for that name is
 * not asked of the DNS.  A call for a name whose lookup is in
 * flight joins it.  At most LIMIT_RESOLVE_CACHE names per
 * resolver, the least recently used answer evicted first.
 */
struct resolve_req *resolve_start(struct resolver *r, const char *name,
    resolve_cb cb, void *arg);
/*
 * Raw DNS lookup of (name, qtype, class IN) through the same channel: the
 * callback gets the upstream's answer message (status 0), or status -1 with
 * rcode set to DNS_RCODE_NXDOMAIN / SERVFAIL when no message is usable.
 * Same calling rules as resolve_start.
 */
typedef void (*resolve_raw_cb)(void *arg, int status, int rcode,
    const unsigned char *msg, size_t len);
struct resolve_req *resolve_query_raw(struct resolver *r, const char *name,
    int qtype, resolve_raw_cb cb, void *arg);

/* The callback will not be called; safe with NULL. */
void resolve_cancel(struct resolve_req *q);

/* Use these DNS servers ("ip:port[,ip:port]") instead of resolv.conf
 * (tests).  0 or -1. */
int resolver_set_servers(struct resolver *r, const char *csv);

struct resolve_stats {
	uint64_t hits;     /* resolve_start answered from the cache */
	uint64_t joined;   /* resolve_start joined a lookup in flight */
	uint64_t lookups;  /* names looked up (each an A and an AAAA lookup) */
	size_t cached;     /* names held: answers and lookups in flight */
};
/* Any thread (the counters are atomic). */
void resolver_get_stats(struct resolver *r, struct resolve_stats *st);

#endif
