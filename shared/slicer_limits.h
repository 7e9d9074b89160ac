/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * slicer_limits.h - every size, count and timeout ceiling in one place.
 *
 * Each value says why it is what it is.  Anything a peer controls is
 * bounded by one of these; every ceiling has a test at and past it.
 */
#ifndef SLICER_LIMITS_H
#define SLICER_LIMITS_H

/* A request line longer than this is refused with 414 (nginx default 8k). */
#define LIMIT_HTTP_REQUEST_LINE 8192
/* Whole header block including the request line; past it: 431. */
#define LIMIT_HTTP_HEAD 32768
/* Header fields in one message; past it: 431. */
#define LIMIT_HTTP_HEADERS 100
/* Response head from an upstream; past it: 502. */
#define LIMIT_HTTP_RESPONSE_HEAD 65536
/* A chunk-size line (hex digits, extensions) longer than this is bad. */
#define LIMIT_HTTP_CHUNK_LINE 4096
/* Chunked trailer section. */
#define LIMIT_HTTP_TRAILERS 8192
/* Largest chunk size accepted (hex digits are checked for overflow). */
#define LIMIT_HTTP_CHUNK_SIZE (1ULL << 40)
/* Host names: RFC 1035 total length. */
#define LIMIT_HOSTNAME 253
/* Normalised request path kept for policy and the audit record. */
#define LIMIT_PATH 4096
/* Method token length (longest registered method is under 20). */
#define LIMIT_METHOD 32

/* Relay buffer per direction; reading stops while the other side's
 * pending output is at this size (backpressure). */
#define LIMIT_RELAY_BACKLOG (64 * 1024)
/* Pipe size for spliced tunnels. */
#define LIMIT_SPLICE_PIPE (64 * 1024)
/* Empty splice pipes kept for reuse; tunnels hold one only while bytes are
 * in flight. */
#define LIMIT_PIPE_POOL 64

/* Names, counts in the policy store. */
#define LIMIT_NAME 64
#define LIMIT_CLIENTS 16384
#define LIMIT_RULES_PER_CLIENT 131072
/* rules of all clients together (a rule costs ~250 bytes plus its strings) */
#define LIMIT_RULES_TOTAL 262144
/* items in one batch create call (rules or clients) */
#define LIMIT_API_BATCH 4096
/* Leaf certificates one client may have signed: a burst, then per second
 * (a cached leaf costs nothing; a new host name costs one ECDSA signature) */
#define LIMIT_LEAF_MINT_BURST 200
#define LIMIT_LEAF_MINTS_PER_SEC 50
#define LIMIT_SECRETS 1024
#define LIMIT_RULE_PORTS 16
#define LIMIT_RULE_METHODS 16
#define LIMIT_RULE_PATHS 32
#define LIMIT_SECRET_VALUE 16384
/* Header name for --type header secrets. */
#define LIMIT_HEADER_NAME 64

/* Control API: request head and body ceilings, idle timeout. */
#define LIMIT_API_BODY (1024 * 1024)
/* One answer (a client's rule list at the rule ceiling is ~35 MiB); the
 * buffer grows only as far as an answer needs. */
#define LIMIT_API_RESPONSE (64 * 1024 * 1024)
#define LIMIT_API_CONNS 64
#define LIMIT_API_IDLE_MS 30000

/* Audit records kept in memory for `logs` without --follow. */
#define LIMIT_AUDIT_RING 2048
/* One audit line, its newline included: a longer record is cut (and marked
 * "truncated":true) so that the line stays one valid JSON object. */
#define LIMIT_AUDIT_LINE 8192
/* Output queued for one `logs --follow` reader before it is dropped. */
#define LIMIT_AUDIT_FOLLOW_BACKLOG (1024 * 1024)

/* Client connections open at once (also bounded by RLIMIT_NOFILE). */
#define LIMIT_CONNS 16384
/* Event loops (threads) of the proxy, --workers. */
#define LIMIT_WORKERS 64
/* File descriptors held back so accept() can shed load on EMFILE (one per
 * event loop). */
#define LIMIT_FD_RESERVE 1

/* Timeouts (milliseconds). */
#define LIMIT_HEAD_TIMEOUT_MS 15000   /* first request head must arrive */
#define LIMIT_IDLE_TIMEOUT_MS 60000   /* keep-alive idle between requests */
#define LIMIT_RESOLVE_TIMEOUT_MS 8000 /* c-ares lookup */
#define LIMIT_CONNECT_TIMEOUT_MS 10000 /* upstream TCP connect */
#define LIMIT_IO_TIMEOUT_MS 120000    /* no progress on a request/response */
#define LIMIT_TUNNEL_IDLE_MS 3600000  /* a tunnel with no bytes either way */

/* Upstream DNS lookups one client may have in flight through
 * /slicer/dns-query; past it queries get SERVFAIL at once, so one VM's
 * flood cannot starve the resolver for the others. */
#define LIMIT_DNS_INFLIGHT_PER_CLIENT 64

/* Addresses tried for one upstream name. */
#define LIMIT_UPSTREAM_ADDRS 8
/* Upstream names whose answer (or lookup in flight) a resolver keeps, per
 * event loop, and the longest an answer is kept whatever its TTL. */
#define LIMIT_RESOLVE_CACHE 1024
#define LIMIT_RESOLVE_CACHE_TTL_MS 60000
/* Idle upstream connections kept for reuse by later client connections of
 * the same client (host-proxy/upool.c).  A parked connection closes after
 * this long: below common server keep-alive timeouts (nginx 75 s), so a
 * server rarely closes one just as it is taken; servers with shorter ones
 * (Apache 5 s) close it while parked, which the pool notices. */
#define LIMIT_UPSTREAM_POOL_IDLE_MS 30000
/* Parked connections per (client, host, port, TLS): room for the burst
 * of one guest's parallel connections to one API.  With 64 concurrent
 * one-request client connections (make bench), 8 left about a third of
 * the requests dialing anew, 32 about one in a hundred. */
#define LIMIT_UPSTREAM_POOL_PER_KEY 32
/* Parked connections in all, per event loop: each holds a descriptor and,
 * with TLS, its OpenSSL state (buffers released while idle); small next to
 * LIMIT_CONNS. */
#define LIMIT_UPSTREAM_POOL 1024
/* deny/allow CIDR entries from the command line. */
#define LIMIT_CIDRS 256

#endif
