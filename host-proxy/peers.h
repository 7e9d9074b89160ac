/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * peers.h - client connections open per peer address, on one event loop.
 *
 * A VM is one address on the proxy's side of its link: counting what each
 * address holds open bounds what one VM can take of the proxy's
 * connections and descriptors, so that a VM opening thousands of tunnels
 * leaves room for the others.  Each loop keeps its own table (no lock, no
 * shared line); the daemon gives each loop an even share of the limit.
 * An entry exists only while its address has a connection open.
 */
#ifndef SLICER_PEERS_H
#define SLICER_PEERS_H

#include "netaddr.h"

struct peers;

/* An empty table, or NULL when out of memory. */
struct peers *peers_new(void);
/* NULL is fine. */
void peers_free(struct peers *t);
/* One more connection from a: 0, or -1 when a holds limit already or
 * memory ran out (refused either way). */
int peers_take(struct peers *t, const struct netaddr *a, unsigned limit);
/* One fewer (after a peers_take that returned 0). */
void peers_give(struct peers *t, const struct netaddr *a);
/* Connections open from a. */
unsigned peers_count(const struct peers *t, const struct netaddr *a);
/* Addresses with a connection open. */
size_t peers_size(const struct peers *t);

#endif
