/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * metrics.c - the daemon's counters in the Prometheus text format.
 *
 * The values are read without the policy lock: counters are per-loop or
 * atomic, and a scrape may see one loop's count a moment older than
 * another's, never a torn one.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"
#include "mitm.h"
#include "proxy.h"
#include "resolve.h"
#include "upool.h"
#include "worker.h"

static void __attribute__((format(printf, 2, 3)))
metrics_printf(struct metrics_out *mo, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (mo->is_full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(mo->buf + mo->len, mo->cap - mo->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= mo->cap - mo->len) {
		mo->is_full = 1;
		return;
	}
	mo->len += (size_t)n;
}

static int
metric_is_counter(const char *name)
{
	size_t len = strlen(name);

	return len > 6 && strcmp(name + len - 6, "_total") == 0;
}

static uint64_t
metric_value(const struct metric *row, const void *counts)
{
	const char *at = (const char *)counts + row->offset;
	uint64_t u64;
	size_t sz;

	if (row->width == METRIC_SIZE) {
		memcpy(&sz, at, sizeof(sz));
		return sz;
	}
	memcpy(&u64, at, sizeof(u64));
	return u64;
}

void
metrics_write(struct metrics_out *mo, const struct metric *rows, size_t n,
    const void *counts)
{
	const struct metric *row;
	size_t i;

	for (i = 0; i < n; i++) {
		row = &rows[i];
		if (row->help != NULL)
			metrics_printf(mo, "# HELP %s %s\n# TYPE %s %s\n",
			    row->name, row->help, row->name,
			    metric_is_counter(row->name) ? "counter" :
			    "gauge");
		metrics_printf(mo, "%s%s%s%s %llu\n", row->name,
		    row->labels != NULL ? "{" : "",
		    row->labels != NULL ? row->labels : "",
		    row->labels != NULL ? "}" : "",
		    (unsigned long long)metric_value(row, counts));
	}
}

#define ROWS(a) (sizeof(a) / sizeof((a)[0]))

static const struct metric counter_rows[] = {
#define PROXY_COUNTER_ROW(field, metric, labels, help) \
	{ metric, labels, help, offsetof(struct proxy_counts, field), \
	    METRIC_U64 },
	PROXY_COUNTERS(PROXY_COUNTER_ROW)
#undef PROXY_COUNTER_ROW
};

/* Read here and now, not counted by the loops. */
struct proxy_gauges {
	size_t connections, clients, leaf_certs, workers;
	uint64_t generation, leaf_mints;
};

#define GAUGE(field, width) offsetof(struct proxy_gauges, field), width
static const struct metric gauge_rows[] = {
	{ "slicer_connections", NULL, "Client connections open.",
	    GAUGE(connections, METRIC_SIZE) },
	{ "slicer_clients", NULL, "Clients in the policy.",
	    GAUGE(clients, METRIC_SIZE) },
	{ "slicer_policy_generation", NULL,
	    "Generation of the policy; each change raises it.",
	    GAUGE(generation, METRIC_U64) },
	{ "slicer_leaf_certs", NULL, "Leaf certificates in the cache.",
	    GAUGE(leaf_certs, METRIC_SIZE) },
	{ "slicer_leaf_mints_total", NULL, "Leaf certificates signed.",
	    GAUGE(leaf_mints, METRIC_U64) },
	{ "slicer_workers", NULL, "Event loops (worker threads).",
	    GAUGE(workers, METRIC_SIZE) },
};
#undef GAUGE

#define POOL(field, width) offsetof(struct upool_stats, field), width
static const struct metric pool_rows[] = {
	{ "slicer_upstream_pool_hits_total", NULL,
	    "Intercepted requests served over a parked upstream "
	    "connection.", POOL(hits, METRIC_U64) },
	{ "slicer_upstream_pool_misses_total", NULL,
	    "Intercepted requests that found no parked upstream "
	    "connection.", POOL(misses, METRIC_U64) },
	{ "slicer_upstream_pool_parked_total", NULL,
	    "Upstream connections parked for reuse.",
	    POOL(parked, METRIC_U64) },
	{ "slicer_upstream_pool_closed_total", "reason=\"evicted\"",
	    "Parked upstream connections closed, by reason: evicted (a "
	    "cap), expired (idle), dropped (the upstream closed or spoke), "
	    "flushed (a policy change), refused (closed at once when "
	    "parked).", POOL(evicted, METRIC_U64) },
	{ "slicer_upstream_pool_closed_total", "reason=\"expired\"", NULL,
	    POOL(expired, METRIC_U64) },
	{ "slicer_upstream_pool_closed_total", "reason=\"dropped\"", NULL,
	    POOL(dropped, METRIC_U64) },
	{ "slicer_upstream_pool_closed_total", "reason=\"flushed\"", NULL,
	    POOL(flushed, METRIC_U64) },
	{ "slicer_upstream_pool_closed_total", "reason=\"refused\"", NULL,
	    POOL(refused, METRIC_U64) },
	{ "slicer_upstream_pool_idle", NULL, "Upstream connections parked "
	    "now.", POOL(idle, METRIC_SIZE) },
};
#undef POOL

#define RESOLVE(field, width) offsetof(struct resolve_stats, field), width
static const struct metric resolve_rows[] = {
	{ "slicer_resolve_cache_hits_total", NULL,
	    "Name lookups answered from the resolver cache.",
	    RESOLVE(hits, METRIC_U64) },
	{ "slicer_resolve_joined_total", NULL,
	    "Name lookups that joined one already in flight.",
	    RESOLVE(joined, METRIC_U64) },
	{ "slicer_resolve_lookups_total", NULL, "Name lookups sent to DNS.",
	    RESOLVE(lookups, METRIC_U64) },
	{ "slicer_resolve_cached", NULL, "Names in the resolver cache.",
	    RESOLVE(cached, METRIC_SIZE) },
};
#undef RESOLVE

/* Adds each row's value in one to the same field of sum. */
static void
metrics_add(const struct metric *rows, size_t n, void *sum,
    const void *one)
{
	uint64_t u64, add;
	size_t i, sz;
	char *at;

	for (i = 0; i < n; i++) {
		at = (char *)sum + rows[i].offset;
		add = metric_value(&rows[i], one);
		if (rows[i].width == METRIC_SIZE) {
			memcpy(&sz, at, sizeof(sz));
			sz += (size_t)add;
			memcpy(at, &sz, sizeof(sz));
		} else {
			memcpy(&u64, at, sizeof(u64));
			u64 += add;
			memcpy(at, &u64, sizeof(u64));
		}
	}
}

int
metrics_render(struct proxy *px, char *buf, size_t cap, size_t *len)
{
	struct metrics_out mo = { buf, cap, 0, 0 };
	struct proxy_counts counts;
	struct proxy_gauges gauges;
	struct upool_stats pool, pool_one;
	struct resolve_stats resolve, resolve_one;
	uint64_t accepted;
	unsigned i;

	proxy_counts_sum(px, &counts);
	memset(&pool, 0, sizeof(pool));
	memset(&resolve, 0, sizeof(resolve));
	for (i = 0; i < px->nworkers; i++) {
		upool_get_stats(px->workers[i]->upool, &pool_one);
		metrics_add(pool_rows, ROWS(pool_rows), &pool, &pool_one);
		resolver_get_stats(px->workers[i]->resolver, &resolve_one);
		metrics_add(resolve_rows, ROWS(resolve_rows), &resolve,
		    &resolve_one);
	}
	gauges.connections = proxy_nconns(px);
	gauges.clients = px->store->nclients;
	gauges.generation = px->store->generation;
	gauges.leaf_certs = mitm_cache_count(px->leaves);
	gauges.leaf_mints = mitm_cache_mints(px->leaves);
	gauges.workers = px->nworkers;

	metrics_write(&mo, counter_rows, ROWS(counter_rows), &counts);
	metrics_write(&mo, gauge_rows, ROWS(gauge_rows), &gauges);
	metrics_write(&mo, pool_rows, ROWS(pool_rows), &pool);
	metrics_write(&mo, resolve_rows, ROWS(resolve_rows), &resolve);
	metrics_printf(&mo, "# HELP slicer_worker_connections_total "
	    "Connections accepted, by event loop.\n"
	    "# TYPE slicer_worker_connections_total counter\n");
	for (i = 0; i < px->nworkers; i++) {
		accepted = atomic_load(&px->workers[i]->n_accepted);
		metrics_printf(&mo,
		    "slicer_worker_connections_total{worker=\"%u\"} %llu\n", i,
		    (unsigned long long)accepted);
	}
	*len = mo.len;
	return mo.is_full ? -1 : 0;
}
