/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proxy.h - the daemon's shared state and the entry points between its
 * parts: connections (conn.c), resolver (resolve.c), control API (api.c),
 * audit log (audit.c) and the daemon itself (daemon.c).
 *
 * Threads: one worker (worker.h) per core, each with its own event loop,
 * listeners and connections.  Worker 0's loop is the main loop: it also
 * runs the control API, signals, OAuth refreshes and rule expiry.  What
 * the workers share is guarded by the policy lock (proxy_lock and
 * proxy_judge_lock, below); counters are atomic.
 */
#ifndef SLICER_PROXY_H
#define SLICER_PROXY_H

#include <pthread.h>
#include <stdatomic.h>
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
struct dnsgiven;
struct resolver;
struct audit;
struct api;
struct worker;

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
	unsigned workers;          /* --workers: event loops (threads) */
	unsigned max_conns_per_peer; /* --max-conns-per-peer */
	unsigned peer_prefix6;     /* --peer-prefix6: IPv6 bits a peer is */
	int is_tunnel_ech_allowed; /* --tunnel-ech allow */
};

struct proxy {
	struct ev *ev;             /* the main loop (worker 0's) */
	struct proxy_config cfg;

	/*
	 * Recursive; with every loop's judge mutex, held briefly by any
	 * thread that changes the store (clients, rules, secrets), the
	 * OAuth token state, own or front_ctx; alone (nested in a judge
	 * section) for the runtime fields decisions share.  Never held
	 * across a wait.  Lock order: the judge mutexes (loop order), then
	 * lock, then the leaf cache's or the audit log's own.
	 */
	pthread_mutex_t lock;
	struct store *store;       /* owned; changed on the main loop only */
	struct audit *audit;       /* owned; locks itself */
	struct api *api;           /* owned; main loop only */
	struct mitm_ca *ca;        /* owned; read-only after start */
	struct dnsgiven *dnsgiven; /* owned: what /slicer/dns-query answered
				    * each client, for its pinned dials;
				    * locks itself */
	struct mitm_cache *leaves; /* owned: leaf certificates by name; locks
				    * itself */
	SSL_CTX *upstream_ctx;     /* owned: TLS client to upstreams */
	SSL_CTX *front_ctx;        /* owned: TLS proxy port (NULL: none) */
	struct netaddr_set own;    /* the proxy's own addresses */

	struct worker **workers;   /* owned; [0] runs on the main loop */
	unsigned nworkers;
	atomic_uint_fast64_t next_conn_id; /* ids handed out in blocks:
					    * proxy_next_conn_id */

	struct ev_timer sweep;     /* 1 s: drain, own-address refresh */
	atomic_int is_draining;    /* SIGTERM: no new connections */
	int64_t drain_deadline_ms;
	char hostgroup_if[16];     /* interface we created; "" if none */
	pid_t hostgroup_keeper;    /* removes it when we are gone; 0: none */
	int hostgroup_keeper_fd;   /* our end of its pipe; -1: none */
	int hostgroup_lock_fd;     /* flock of the interface's owner (until
				    * handed to the keeper); -1: none */
	char hostgroup_lock_path[96]; /* its file, removed by the last owner */
	struct ev_timer expiry;    /* next rule TTL expiry */
	int64_t own_refreshed_ms;
	int64_t own_warned_ms;     /* last failed refresh logged, 0: none */
	int64_t front_refreshed_ms;
	int is_state_unsaved;      /* main loop: a change not yet written */
	int64_t state_warned_ms;   /* main loop: last retry failure logged */

};

/*
 * What /metrics counts, kept per loop (struct worker's counters) and
 * summed when read (proxy_counts_sum), so that no loop writes a cache
 * line another loop writes.  X(field, metric, labels, help): the metric
 * it is shown as (metrics.c), with labels when several fields are samples
 * of one metric (help NULL on all but the first of them).
 */
#define PROXY_COUNTERS(X)                                                   \
	X(requests, "slicer_requests_total", NULL,                          \
	    "Requests judged against the policy: each CONNECT, plain HTTP " \
	    "request and request inside an intercepted connection.")        \
	X(denied, "slicer_denied_total", NULL,                              \
	    "Requests and CONNECTs refused with an error status (403 by "   \
	    "policy, 4xx for bad requests, 503); 407s are in "              \
	    "slicer_auth_failed_total.")                                    \
	X(auth_failed, "slicer_auth_failed_total", NULL,                    \
	    "Requests with a missing or unknown proxy token (407; 401 at "  \
	    "/slicer/dns-query).")                                          \
	X(tunnels, "slicer_tunnels_total", NULL,                            \
	    "CONNECTs answered 200 and spliced to the upstream (not "       \
	    "intercepted).")                                                \
	X(tunnel_refused, "slicer_tunnel_names_refused_total", NULL,        \
	    "Tunnels refused for the client's first bytes, before they "    \
	    "reached the upstream: a TLS ClientHello (or the second, "      \
	    "after a HelloRetryRequest) or HTTP request that named "        \
	    "another host than the CONNECT or hid the name (ECH, HTTP/2 "   \
	    "in the clear), or HTTP after the upstream had spoken.")        \
	X(intercepts, "slicer_intercepts_total", NULL,                      \
	    "CONNECTs answered 200 whose TLS the proxy terminates (a rule " \
	    "needs to see inside).")                                        \
	X(dns_queries, "slicer_dns_queries_total", NULL,                    \
	    "DNS queries at /slicer/dns-query.")                            \
	X(dns_denied, "slicer_dns_denied_total", NULL,                      \
	    "DNS queries for names no rule of the client allows (answered " \
	    "NXDOMAIN).")                                                   \
	X(dns_limited, "slicer_dns_limited_total", NULL,                    \
	    "DNS queries refused (SERVFAIL): too many of the client's "     \
	    "lookups in flight.")                                           \
	X(tls_full, "slicer_upstream_tls_handshakes_total",                 \
	    "resumed=\"no\"",                                               \
	    "TLS handshakes with upstreams of intercepted connections, by " \
	    "whether the session was resumed.")                             \
	X(tls_resumed, "slicer_upstream_tls_handshakes_total",              \
	    "resumed=\"yes\"", NULL)                                        \
	X(leaf_limited, "slicer_leaf_mint_limited_total", NULL,             \
	    "CONNECTs refused because leaf certificates were being signed " \
	    "too fast.")                                                    \
	X(peer_limited, "slicer_peer_limited_total", NULL,                  \
	    "Connections refused (429) because their address held "         \
	    "--max-conns-per-peer already.")                                \
	X(conns_limited, "slicer_conns_limited_total", NULL,                \
	    "Connections closed at once because the proxy held its most "   \
	    "(16384) already.")

#define PROXY_COUNTER_ATOMIC(name, metric, labels, help) \
	atomic_uint_fast64_t name;
#define PROXY_COUNTER_PLAIN(name, metric, labels, help) uint64_t name;
/* One loop's: written by that loop only, with counter_bump. */
struct loop_counters {
	PROXY_COUNTERS(PROXY_COUNTER_ATOMIC)
};
/* Summed over the loops. */
struct proxy_counts {
	PROXY_COUNTERS(PROXY_COUNTER_PLAIN)
};

/* Add one to a counter only the calling thread writes: a relaxed load and
 * store, with no locked instruction (readers on other threads see some
 * recent value, never a torn one). */
static inline void
counter_bump(atomic_uint_fast64_t *n)
{
	atomic_store_explicit(n, atomic_load_explicit(n,
	    memory_order_relaxed) + 1, memory_order_relaxed);
}

/* The counters of every loop, summed; any thread. */
void proxy_counts_sum(const struct proxy *px, struct proxy_counts *out);
/* A connection id for a connection accepted on w's loop: unique over the
 * loops, rising within each (ids are taken from next_conn_id in blocks). */
uint64_t proxy_next_conn_id(struct worker *w);

/*
 * The policy lock, in two strengths.
 *
 * proxy_judge_lock: taken by a loop for one decision (conn_handle_request)
 * and for sections that only read what writers change (the store, own,
 * front_ctx; an oauth secret's token endpoint and access token, which a
 * refresh stores as a writer).  It is the calling loop's own mutex, so
 * the loops' decisions run side by side and touch no shared cache line.
 * Taken while the thread holds proxy_lock, it is that lock taken once
 * more.
 *
 * proxy_lock: everything else.  Outside a judge section it takes every
 * loop's judge mutex, in loop order, then px->lock: it excludes every
 * decision, so it may change anything decisions read.  Inside a judge
 * section (nested) it takes px->lock only: it then excludes writers and
 * other nested sections, but not other loops' decisions, so what it
 * changes must be something plain judge sections never read (the
 * runtime counters: the leaf-mint bucket; OAuth waiters).
 *
 * Order: judge mutexes (loop order) before px->lock; a judge mutex is
 * never taken while px->lock is held.  Both are recursive.
 */
void proxy_lock(struct proxy *px);
void proxy_unlock(struct proxy *px);
void proxy_judge_lock(struct proxy *px);
void proxy_judge_unlock(struct proxy *px);
/* The loop the calling thread runs (its judge mutex); before any lock. */
void proxy_thread_bind(struct worker *w);
/*
 * Write the store to the state directory (store_save).  Main loop only,
 * with the lock held once: it is let go for the writes and fsyncs, so the
 * workers go on judging requests meanwhile, and held again on return.
 * 0 once state.json holds the policy, even when a changed secret value
 * could not be written yet (proxy_save_secrets retries it, and /healthz
 * says "saved": false until then); -1 with err otherwise.
 */
int proxy_save(struct proxy *px, char *err, size_t errsz);
/* Main loop, lock not held: write what an earlier proxy_save could not
 * (every second from the sweep, and at shutdown).  A failure is logged
 * once a minute. */
void proxy_retry_save(struct proxy *px);
/* A secret's value changed in memory (any thread): have the main loop
 * write its file. */
void proxy_secrets_changed(struct proxy *px);
/* Write the files of changed secret values; main loop, lock not held.
 * A failure is logged and tried again by the next call (every second). */
void proxy_save_secrets(struct proxy *px);
/* Client connections open on all workers. */
size_t proxy_nconns(struct proxy *px);

/* conn.c: takes ownership of fd; peer is the client's address, for logs.
 * Returns the connection, or NULL when it was refused or ended at once
 * (fd closed). */
struct conn *conn_accept(struct worker *w, int fd,
    const struct sockaddr *peer);
/* Close every tunnel of w that the current policy no longer allows. */
void conn_rejudge_all(struct worker *w);
/* Close connections past their deadline. */
void conn_sweep(struct worker *w);
void conn_close_all(struct worker *w);
/* Draining: close connections idle between requests. */
void conn_close_idle(struct worker *w);

/* daemon.c: called after every policy change (any thread): every worker
 * judges its tunnels again, the main loop re-arms rule expiry. */
void proxy_policy_changed(struct proxy *px);
/* daemon.c, main loop: arm the timer of the next rule expiry. */
void proxy_arm_expiry(struct proxy *px);

#endif
