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
#define LIMIT_CONNS_PER_PEER 4096 /* --max-conns-per-peer default */
/* Event loops (threads) of the proxy, --workers. */
#define LIMIT_WORKERS 64
/* File descriptors held back so accept() can shed load on EMFILE (one per
 * event loop). */
#define LIMIT_FD_RESERVE 1

/* Timeouts (milliseconds). */
#define LIMIT_HEAD_TIMEOUT_MS 15000   /* first request head must arrive */
/* a connection that has sent nothing waits in the kernel about this long
 * before accept(2) sees it (TCP_DEFER_ACCEPT), then LIMIT_HEAD_TIMEOUT_MS */
#define LIMIT_DEFER_ACCEPT_S 2
#define LIMIT_IDLE_TIMEOUT_MS 60000   /* keep-alive idle between requests */
#define LIMIT_RESOLVE_TIMEOUT_MS 8000 /* c-ares lookup */
#define LIMIT_CONNECT_TIMEOUT_MS 10000 /* upstream TCP connect */
#define LIMIT_IO_TIMEOUT_MS 120000    /* no progress on a request/response */
#define LIMIT_TUNNEL_IDLE_MS 3600000  /* a tunnel with no bytes either way */
/* a tunnel's first client bytes, once begun, must be whole (a TLS
 * ClientHello, an HTTP head: judged before they pass) within this */
#define LIMIT_TUNNEL_FIRST_MS 15000

/*
 * DNS: the wire format, the proxy's /slicer/dns-query endpoint and the
 * guest's stub.
 */
/* The wire format (shared/dns.c). */
/* Largest message: TCP and DoH carry a 16-bit length. */
#define LIMIT_DNS_MESSAGE 65535
/* One label (RFC 1035 2.3.4). */
#define LIMIT_DNS_LABEL 63
/* Compression pointers followed in one name; backwards-only pointers end
 * anyway, this bounds the work (a 255-byte name has at most 127 labels). */
#define LIMIT_DNS_POINTERS 127
/* Resource records walked in one message (a 64 KiB answer of minimal
 * records could hold ~5000; real answers hold tens). */
#define LIMIT_DNS_RRS 1024
/* CNAME hops followed from the question name (resolvers use 8-16). */
#define LIMIT_DNS_CNAME_CHAIN 16
/* UDP payload without EDNS, and the floor of an advertised EDNS size. */
#define LIMIT_DNS_UDP_MIN 512
/* Ceiling of the EDNS UDP size we honour (and of a UDP query we read). */
#define LIMIT_DNS_UDP_MAX 4096

/* The proxy's /slicer/dns-query endpoint (host-proxy/conn.c). */
/* Upstream DNS lookups one client may have in flight through
 * /slicer/dns-query; past it queries get SERVFAIL at once, so one VM's
 * flood cannot starve the resolver for the others. */
#define LIMIT_DNS_INFLIGHT_PER_CLIENT 64

/* The guest's stub (guest-agent/dns_stub.c). */
/* Connections to the proxy: one query in flight on each, so a slow answer
 * never holds up the others (musl sends A and AAAA together). */
#define LIMIT_DNS_UPSTREAM_CONNS 8
/* Connections one source address may occupy at once: two are always left
 * for everyone else. */
#define LIMIT_DNS_SOURCE_UPSTREAM (LIMIT_DNS_UPSTREAM_CONNS - 2)
/* Queries waiting for the proxy, all sources together. */
#define LIMIT_DNS_INFLIGHT 256
/* Queries waiting for the proxy from one source address; more are dropped
 * (UDP: the client retries) or answered SERVFAIL (TCP). */
#define LIMIT_DNS_SOURCE_INFLIGHT 32
/* Queries per second from one source address (token bucket, cache hits
 * included), and the burst it may spend at once. */
#define LIMIT_DNS_SOURCE_RATE 500
#define LIMIT_DNS_SOURCE_BURST 1000
/* Source addresses tracked for the two limits above (the VM, its
 * containers); when full, an idle one is forgotten. */
#define LIMIT_DNS_SOURCES 256
/* TCP client connections at once; past it new ones are closed. */
#define LIMIT_DNS_TCP_CLIENTS 64
/* Queries in flight on one TCP connection (RFC 7766 pipelining); reading
 * pauses at this many. */
#define LIMIT_DNS_TCP_PIPELINE 16
/* Answers queued for a TCP client that does not read; past it: closed. */
#define LIMIT_DNS_TCP_OUT (256 * 1024)
/* A TCP client with nothing in flight that neither completed a message
 * nor was sent anything for this long is closed (RFC 7766 6.2.3 suggests
 * seconds); bytes trickling in do not keep it open. */
#define LIMIT_DNS_TCP_IDLE_MS 10000
/* A query the proxy has not answered by then gets SERVFAIL: before the
 * 5 s retry timer of glibc and musl, so they move on at once. */
#define LIMIT_DNS_QUERY_TIMEOUT_MS 4000
/* TCP connect to the proxy, and the TLS handshake after it. */
#define LIMIT_DNS_UPSTREAM_CONNECT_MS 3000
/* An idle proxy connection is closed first by us, before the proxy's own
 * keep-alive timeout (LIMIT_IDLE_TIMEOUT_MS) can race a new query. */
#define LIMIT_DNS_UPSTREAM_IDLE_MS 30000
/* Cached answers (LRU), and their total size. */
#define LIMIT_DNS_CACHE_ENTRIES 1024
#define LIMIT_DNS_CACHE_BYTES (2 * 1024 * 1024)
/* Positive TTLs are capped at this (seconds), in the cache and in the
 * answers clients get; revoking access is the proxy's job, per connection. */
#define LIMIT_DNS_CACHE_TTL 60
/* NODATA (NOERROR, no answer) is cached this long (seconds). */
#define LIMIT_DNS_NODATA_TTL 2
/* Address -> name entries for the redirector (LRU), and the least time
 * one is kept (seconds): clients often connect after the TTL ran out. */
#define LIMIT_DNS_NAMES 4096
#define LIMIT_DNS_NAME_MIN_TTL 300
/* Datagrams read per wakeup of one UDP socket, so TCP and the proxy
 * connections get their turn under a flood. */
#define LIMIT_DNS_UDP_BATCH 64

/* Addresses tried for one upstream name. */
#define LIMIT_UPSTREAM_ADDRS 8
/* Upstream names whose answer (or lookup in flight) a resolver keeps, per
 * event loop, and the longest an answer is kept whatever its TTL. */
#define LIMIT_RESOLVE_CACHE 1024
#define LIMIT_RESOLVE_CACHE_TTL_MS 60000
/* The A and AAAA lookups of a name go out side by side.  Once one family
 * has answered with addresses, the other gets this long before the answer
 * goes out without it: the "Resolution Delay" of RFC 8305 section 3 (which
 * recommends 50 ms), so a resolver that drops one type of query costs 50 ms
 * instead of every retry of the lookup. */
#define LIMIT_DNS_RESOLUTION_DELAY_MS 50
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
/* Addresses of the proxy's own host (each VM's tap adds one or two, and a
 * host may run thousands): generous, since a host with more cannot have
 * them all refused, and the proxy then refuses to start.  24 bytes each;
 * looked up by binary search. */
#define LIMIT_OWN_ADDRS 65536

#endif
