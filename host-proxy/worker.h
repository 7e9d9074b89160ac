/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * worker.h - one event loop of the proxy and what it owns: its listeners
 * (SO_REUSEPORT, one set per loop), client connections, resolver, splice
 * pipes and idle upstream pool.  Worker 0 runs on the main loop in the
 * main thread; the others each in a thread of their own.  Other threads
 * reach a worker only through worker_signal and worker_post.
 */
#ifndef SLICER_WORKER_H
#define SLICER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "ev.h"
#include "proxy.h"
#include "relay.h"

struct conn;
struct front;
struct resolver;
struct peers;
struct upool;
struct worker_msg;

/* worker_signal: what to do at the next wake-up */
#define WORKER_REJUDGE 0x1u /* the policy changed: judge tunnels again */
#define WORKER_DRAIN 0x2u   /* stop accepting, close idle connections */
#define WORKER_STOP 0x4u    /* leave the loop */
#define WORKER_SAVE_SECRETS 0x8u /* worker 0: write changed secret values */

struct worker {
	struct proxy *px;          /* borrowed */
	unsigned idx;
	struct ev *ev;             /* owned, except worker 0's (px->ev) */
	struct resolver *resolver; /* owned */
	struct relay_pool pipes;   /* empty splice pipes for tunnels */
	struct upool *upool;       /* owned */
	struct peers *peers;       /* owned: connections per peer address */
	unsigned peer_limit;       /* this loop's share of --max-conns-per-peer */
	struct conn *conns;        /* client connections (list head) */
	atomic_size_t nconns;      /* read by other threads */
	struct front *fronts;      /* TLS proxy port sessions (list head) */
	atomic_uint_fast64_t n_accepted;

	int http_fd;               /* listeners; -1 when none */
	struct ev_io http_io;
	int https_fd;
	struct ev_io https_io;
	int is_listen_paused;
	struct ev_timer listen_resume;
	struct ev_timer sweep;     /* 1 s: deadlines, pool expiry, draining */

	int wake_fd;               /* eventfd */
	struct ev_io wake_io;
	atomic_uint pending;       /* WORKER_* bits */
	pthread_mutex_t mbox_lock;
	struct worker_msg *mbox;   /* posted calls, newest first */
	/* proxy_judge_lock's mutex of this loop (recursive); on a line of
	 * its own, since only this loop takes it for its decisions */
	pthread_mutex_t judge_lock __attribute__((aligned(64)));
	/* what this loop counts for /metrics, and its block of connection
	 * ids (proxy_next_conn_id); written by this loop only, on lines of
	 * their own */
	struct loop_counters counters __attribute__((aligned(64)));
	uint64_t conn_id_next, conn_id_end;
	pthread_t thread;
	int has_thread;
};

/*
 * Worker idx of px, with listeners on fds http_fd/https_fd (taken over;
 * https_fd -1: none).  Worker 0 uses px->ev; the others get a loop of
 * their own.  NULL on failure (the fds are closed).
 */
struct worker *worker_new(struct proxy *px, unsigned idx, int http_fd,
    int https_fd);
/* Run a worker other than 0 in a thread of its own.  0 or -1. */
int worker_start(struct worker *w);
/* Ask w to do the WORKER_* things in what; any thread. */
void worker_signal(struct worker *w, unsigned what);
/* Have fn(w, arg) called on w's loop; any thread.  0, or -1 when out of
 * memory (fn is not called).  arg must come from malloc: a call that
 * never runs (the worker was freed first) frees it. */
int worker_post(struct worker *w, void (*fn)(struct worker *, void *),
    void *arg);
/* Stop accepting; called on w's loop. */
void worker_listen_close(struct worker *w);
/* Stop a started worker's thread and wait for it (its connections are
 * closed by the thread).  For worker 0, closes its connections. */
void worker_stop(struct worker *w);
/* After worker_stop; NULL is fine. */
void worker_free(struct worker *w);

#endif
