/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proxy.h - the daemon's shared state and the entry points between its
 * parts: connections (conn.c), resolver (resolve.c), control API (api.c),
 * audit log (audit.c) and the daemon itself (daemon.c).
 *
 * One single-threaded event loop owns everything here; nothing is locked.
 */
#ifndef SLICER_PROXY_H
#define SLICER_PROXY_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "relay.h"
#include "ev.h"
#include "netaddr.h"
#include "store.h"

struct conn;
struct mitm_ca;
struct mitm_cache;
struct resolver;
struct audit;
struct api;

struct proxy_config {
	const char *bind_addr;     /* borrowed from argv */
	uint16_t http_port;
	uint16_t https_port;       /* 0: no TLS proxy port */
	const char *upstream_ca;   /* PEM bundle; NULL: system trust store */
	const char *api_path;
	const char *state_dir;
	const char *log_target;    /* file path, "-" for stdout, NULL: none */
	struct netaddr_set deny;   /* --deny-cidr */
	struct netaddr_set allow;  /* --allow-cidr */
	int verbosity;
	const char *hostgroup;     /* --hostgroup: interface to carry bind_addr */
	const char *user;          /* --user to run as after set-up */
	const char *group;         /* --group allowed on the control socket */
	gid_t api_gid;             /* resolved --group; (gid_t)-1: none */
	int64_t drain_ms;          /* --drain-timeout */
	int is_dns_forward;        /* --dns-mode forward: resolve any name */
};

struct proxy {
	struct ev *ev;
	struct proxy_config cfg;
	struct store *store;       /* owned */
	struct resolver *resolver; /* owned */
	struct audit *audit;       /* owned */
	struct api *api;           /* owned */
	struct mitm_ca *ca;        /* owned */
	struct mitm_cache *leaves; /* owned: leaf certificates by name */
	SSL_CTX *upstream_ctx;     /* owned: TLS client to upstreams */
	SSL_CTX *front_ctx;        /* owned: TLS proxy port (NULL: none) */
	struct netaddr_set own;    /* the proxy's own addresses */

	int http_fd;               /* listener */
	struct ev_io http_io;
	int https_fd;              /* TLS proxy port listener, -1: none */
	struct ev_io https_io;
	int is_listen_paused;
	struct ev_timer listen_resume;

	struct relay_pool pipes;   /* empty splice pipes for tunnels */
	struct conn *conns;        /* all client connections (list head) */
	size_t nconns;
	uint64_t next_conn_id;
	uint64_t judged_generation; /* store generation tunnels were checked at */

	struct ev_timer sweep;     /* 1 s: deadlines, own-address refresh */
	int is_draining;           /* SIGTERM: no new connections */
	int64_t drain_deadline_ms;
	char hostgroup_if[16];     /* interface we created; "" if none */
	struct ev_timer expiry;    /* next rule TTL expiry */
	int64_t own_refreshed_ms;
	int64_t front_refreshed_ms;

	/* counters for /metrics and status */
	uint64_t n_requests, n_denied, n_auth_failed, n_tunnels, n_intercepts;
	uint64_t n_dns_queries, n_dns_denied, n_dns_limited;
	uint64_t n_tls_full, n_tls_resumed; /* upstream handshakes */
	uint64_t n_leaf_limited;   /* CONNECTs refused: leaf mint rate */
};

/* conn.c: takes ownership of fd; peer is the client's address, for logs */
void conn_accept(struct proxy *px, int fd, const struct sockaddr *peer);
/* Close every tunnel that the current policy no longer allows. */
void conn_rejudge_all(struct proxy *px);
/* Close connections past their deadline. */
void conn_sweep(struct proxy *px);
void conn_close_all(struct proxy *px);
/* Draining: close connections idle between requests. */
void conn_close_idle(struct proxy *px);

/* daemon.c: called after every policy change made through the API. */
void proxy_policy_changed(struct proxy *px);

#endif
