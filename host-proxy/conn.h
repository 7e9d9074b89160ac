/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * conn.h - one client connection on the proxy port: request heads, policy,
 * upstream dial, plain-HTTP forwarding with keep-alive on both sides, and
 * CONNECT tunnels spliced in the kernel.  Idle upstream connections of
 * forwarded and intercepted HTTP outlive their client connection in a pool
 * (upool.h) for the same client's next one.
 */
#ifndef SLICER_CONN_H
#define SLICER_CONN_H

#include <stdint.h>

#include "buf.h"
#include "xport.h"
#include "ev.h"
#include "http1.h"
#include "slicer_limits.h"
#include "netaddr.h"
#include "proxy.h"
#include "upool.h"

enum conn_state {
	CONN_READ_HEAD = 0, /* waiting for (the next) request head */
	CONN_RESOLVE,       /* c-ares lookup of the upstream name */
	CONN_CONNECT,       /* non-blocking connect to the upstream */
	CONN_TLS_ACCEPT,    /* intercept: TLS handshake with the client */
	CONN_TLS_CONNECT,   /* intercept: TLS handshake with the upstream */
	CONN_FORWARD,       /* relaying one HTTP exchange */
	CONN_RELAY,         /* after a 101 upgrade: bytes both ways */
	CONN_TUNNEL,        /* CONNECT tunnel, spliced */
	CONN_LOCAL_DNS,     /* /slicer/dns-query: lookup in flight */
	CONN_OAUTH_WAIT,    /* waiting for an OAuth token refresh */
	CONN_FLUSH_CLOSE,   /* writing our last response, then close */
	CONN_DRAIN,         /* write side shut; discard input briefly */
};

struct resolve_req;
struct front;
struct oauth_wait;

/*
 * A TLS tunnel after its ClientHello passed: the upstream may answer with
 * a HelloRetryRequest, and the client's second ClientHello must then name
 * the host too (conn.c: conn_tunnel_server_first, conn_tunnel_second_hello).
 */
enum conn_hello_watch {
	CONN_HELLO_NONE = 0,
	CONN_HELLO_SERVER,   /* the upstream's first bytes are read into uin
			      * (the client's bytes wait in its socket) */
	CONN_HELLO_CLIENT,   /* they were a HelloRetryRequest: the client's
			      * bytes are read into cin up to its second
			      * ClientHello and judged (uc flows) */
};

struct conn {
	struct proxy *px;           /* borrowed */
	struct worker *w;           /* the loop it lives on; borrowed */
	struct conn *next, *prev;   /* w->conns list */
	uint64_t id;
	enum conn_state state;
	int64_t deadline_ms;        /* monotonic; swept by conn_sweep */
	int is_idle_wait;           /* kept alive between requests: the idle
				     * timeout runs until the next head's
				     * first bytes, then the head timeout */
	int is_closed;
	int is_abort;               /* closing on a cut: resets, no close_notify */
	int is_unclean_end;         /* the upstream ended a body read until
				     * close without close_notify: so does the
				     * client's end */
	int is_driving;             /* conn_drive is on the stack */
	int is_drive_again;         /* asked for while driving: go round */
	struct ev_timer kick;       /* drive again on the next loop turn */

	struct front *front;        /* the TLS port's end of cfd (a
				     * socketpair), NULL when none or gone:
				     * told of a cut, which a socketpair
				     * cannot carry */
	int cfd;                    /* client socket */
	struct ev_io cio;
	struct xport cx;            /* client stream (TLS when intercepting) */
	uint32_t c_ready;           /* epoll events seen, not yet consumed */
	int ufd;                    /* upstream socket, -1 when none */
	struct ev_io uio;
	struct xport ux;            /* upstream stream */
	uint32_t u_ready;

	/* interception: the tunnel's target, fixed for the connection */
	int is_intercept;
	int is_inner_known;         /* its first byte was seen */
	int is_inner_plain;         /* it spoke plain HTTP, not TLS */
	int is_tunnel_inspect;      /* a host-level tunnel whose first bytes
				     * were HTTP: inspected from then on */
	int is_connect_audit_due;   /* its connect record waits for that */
	char ihost[LIMIT_HOSTNAME + 3];
	uint16_t iport;
	/* the CONNECT's Slicer-Original-Destination (origdst.h): the one
	 * address its tunnel, and every request inside it, may be dialled
	 * at, and only while the host resolves to it (never from the
	 * upstream pool, never parked in it) */
	int has_pin;
	struct netaddr pin;
	int has_secret_bytes;       /* uout held a credential: wipe it */
	struct buf cin, cout;       /* from / to the client */
	struct buf uin, uout;       /* from / to the upstream */
	char peer[64];              /* client address, for logs */
	struct netaddr peer_addr;   /* counted in w->peers: */
	int peer_slot;              /* enum peer_slot (PEER_NONE: not counted) */

	/* the request being handled */
	char client[LIMIT_NAME];    /* authenticated client; "" before */
	uint64_t client_serial;     /* its serial (struct client) */
	char method[LIMIT_METHOD + 1];
	char host[LIMIT_HOSTNAME + 3]; /* canonical */
	uint16_t port;
	char *path;                 /* owned, LIMIT_PATH + 1 bytes: the
				     * normalised path; allocated for the first
				     * HTTP request, so tunnels never hold it */
	char rule_id[16];
	char secret[LIMIT_NAME];    /* name of the secret injected, "" none */
	int is_connect;
	int is_upgrade;             /* request asked for a protocol upgrade */
	int is_head;
	int64_t started_ms;
	uint64_t bytes_up, bytes_down; /* body/tunnel bytes each way */
	int status;                 /* status sent to the client */
	uint64_t judged_generation;

	/* request body relay */
	enum http1_framing req_framing;
	uint64_t req_remaining;
	struct http1_chunked req_chunked;
	int is_req_done;
	int is_req_keep_alive;
	int is_req_http10;          /* HTTP/1.0 client: keep-alive is explicit */

	/* response relay */
	int is_resp_head_done;
	enum http1_framing resp_framing;
	uint64_t resp_remaining;
	struct http1_chunked resp_chunked;
	int is_resp_done;
	int is_resp_keep_alive;

	/* upstream selection */
	struct resolve_req *rq;
	struct netaddr addrs[LIMIT_UPSTREAM_ADDRS];
	size_t naddrs, addr_idx;
	char deny_reason[96];       /* last address refused, for the 403 */
	char up_host[LIMIT_HOSTNAME + 3]; /* identity of the open upstream */
	uint16_t up_port;
	char up_client[LIMIT_NAME]; /* the client it serves */
	uint64_t up_client_serial;
	int is_up_reusable;         /* idle at a message boundary */
	int is_up_poolable;         /* and fit to park for a later client
				     * connection of up_client (HTTP/1.1, no
				     * upgrade asked) */
	uint64_t up_generation;     /* pool generation of its last request
				     * (store_pool_generation) */

	/* upstream pool (upool.h) */
	uint64_t req_generation;    /* policy generation the request was
				     * judged at */
	uint64_t req_pool_generation; /* its client's pool generation then */
	int is_resp_http11;
	int is_up_pooled;           /* the request went out on a pooled
				     * connection and no response byte came
				     * back yet: a close now may be the race
				     * with the upstream's idle close */
	int is_pool_skip;           /* resending: on a new connection */
	struct buf retry;           /* the request as sent on a pooled
				     * connection, for one resend (wiped on
				     * release; bodiless idempotent only) */

	/* OAuth secrets */
	int is_oauth;               /* the request carries an oauth token */
	struct oauth_wait *ow;      /* refresh we wait for */
	int is_ow_remote;           /* ow only tags a refresh running on the
				     * main loop for this (another) loop */
	struct buf replay;          /* upstream head without the credential,
				     * then the body: for one replay after a
				     * 401 (wiped on release) */
	size_t replay_head_len;
	int is_replayable, is_replayed;
	int is_token_call;          /* answer from a token endpoint: rewrite */
	char token_secret[LIMIT_NAME];
	uint64_t token_secret_serial;

	/* /slicer/dns-query */
	unsigned char *dnsq;        /* owned: the query being answered */
	size_t dnsq_len;
	int is_dns_inflight;        /* counted in its client's dns_inflight */

	/* tunnel */
	struct relay_dir cu, uc;    /* tunnel directions; pipes from w->pipes */
	int is_first_judging;       /* the client's first bytes are read into
				     * cin and judged (firstflight.h) before
				     * cu splices anything; uc flows */
	int64_t first_deadline_ms;  /* once some came, they are whole by
				     * then (0: none yet) */
	int hello_watch;            /* CONN_HELLO_*: a TLS tunnel whose
				     * ClientHello passed, until it is known
				     * whether a second one comes */
	int is_u_shut, is_c_shut;
	uint64_t drained;
};

/*
 * The TLS port (front.c) is c's client end.  conn_set_front links the two;
 * each side unlinks itself when it closes.  conn_client_reset: the TLS
 * port's client reset its connection, so c ends as on a reset of its own
 * client socket (the upstream gets a reset, nothing passes for an end).
 */
void conn_set_front(struct conn *c, struct front *f);
void conn_client_reset(struct conn *c);

#endif
