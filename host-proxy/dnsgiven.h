/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dnsgiven.h - the addresses the proxy gave each client for a name at
 * /slicer/dns-query, remembered for a while.
 *
 * The agent pins a name-less connection (ssh, a database) to the address
 * the guest connected to (Slicer-Original-Destination), and the proxy
 * dials it only when the name resolves there.  A name whose answers move
 * from one query to the next (round-robin DNS handing out one address of
 * several, as github.com does) would then be refused whenever the proxy's
 * own lookup drew another address than the guest's.  What the proxy
 * itself answered this client for this name is as good a proof that the
 * name led there: the table keeps (client, name, address) for
 * DNSGIVEN_KEEP_MS after each answer.
 *
 * Entries are 16-byte fingerprints (SHA-256 of a random per-table key and
 * the triple), so a table holds no names and a client cannot aim its
 * entries at another's slots.  Fixed size, allocated once; an entry that
 * finds its few slots taken replaces the one closest to expiry there, so
 * a client that floods the table costs the others only their memory of
 * earlier answers (their pins then need the live lookup, as without the
 * table).  Safe to share between threads (a mutex of its own, a leaf in
 * the lock order).
 */
#ifndef SLICER_DNSGIVEN_H
#define SLICER_DNSGIVEN_H

#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

/* How long an answer is remembered: as long as a guest plausibly keeps
 * connecting to an address it was given (a connection pool's reconnects),
 * well past the 60 s TTL the answers carry. */
#define DNSGIVEN_KEEP_MS (10 * 60 * 1000)
/* Slots of the proxy's table (24 bytes each). */
#define DNSGIVEN_SLOTS 16384

struct dnsgiven;

/* A table of nslots (a power of two, at least 8); NULL when out of memory
 * or without randomness for its key. */
struct dnsgiven *dnsgiven_new(size_t nslots);
void dnsgiven_free(struct dnsgiven *t);

/*
 * Remember that client (its serial) was given addr for name (canonical,
 * as match_host_canon makes it) until expires_ms; an entry already there
 * keeps the later expiry.  now_ms tells expired slots.
 */
void dnsgiven_add(struct dnsgiven *t, uint64_t client, const char *name,
    const struct netaddr *addr, int64_t now_ms, int64_t expires_ms);

/* 1 when client was given addr for name and that has not expired by
 * now_ms; 0 otherwise (also for t NULL). */
int dnsgiven_has(struct dnsgiven *t, uint64_t client, const char *name,
    const struct netaddr *addr, int64_t now_ms);

#endif
