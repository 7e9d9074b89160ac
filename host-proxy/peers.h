/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * peers.h - client connections open per peer address, on one event loop.
 *
 * A VM is one address on the proxy's side of its link: counting what each
 * address holds open bounds what one VM can take of the proxy's
 * connections and descriptors, so that a VM opening thousands of tunnels
 * leaves room for the others.  An IPv6 address counts with its network
 * of the given prefix length (64 by default: a host may use any address
 * in its /64).  Each loop keeps its own table (no lock, no
 * shared line); the daemon gives each loop an even share of the limit.
 * An entry exists only while its address has a connection open.
 */
#ifndef SLICER_PEERS_H
#define SLICER_PEERS_H

#include "netaddr.h"

struct peers;

/* An empty table in which an IPv6 address (not IPv4-mapped) counts with
 * its first prefix6 bits (1 to 128), or NULL when out of memory. */
struct peers *peers_new(unsigned prefix6);
/* NULL is fine. */
void peers_free(struct peers *t);
enum peer_slot {
	PEER_NONE,     /* refused without an answer: closed at once */
	PEER_OPEN,     /* served */
	PEER_REFUSING, /* refused with an answer, then closed */
};

/*
 * A slot for one more connection from a: PEER_OPEN while a holds fewer
 * than limit; else PEER_REFUSING while fewer than refusing of its
 * connections are being refused (an answer takes a moment to go out);
 * else, or when memory ran out, PEER_NONE.  So an address holds at most
 * limit + refusing connections, however fast it opens them.
 */
enum peer_slot peers_take(struct peers *t, const struct netaddr *a,
    unsigned limit, unsigned refusing);
/* Give back a slot peers_take gave (PEER_NONE: nothing to give). */
void peers_give(struct peers *t, const struct netaddr *a, enum peer_slot s);
/* Connections of a's served (PEER_OPEN) and being refused. */
unsigned peers_count(const struct peers *t, const struct netaddr *a);
unsigned peers_refusing(const struct peers *t, const struct netaddr *a);
/* Addresses with a connection open. */
size_t peers_size(const struct peers *t);

#endif
