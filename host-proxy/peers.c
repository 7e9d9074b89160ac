/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * peers.c - connections open per peer address (see peers.h).
 *
 * A chained hash of the addresses with a connection open, keyed with a
 * random seed so that a client cannot line its addresses up in one chain.
 * Entries come and go with their first and last connection.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/random.h>

#include "peers.h"

#define PEERS_SLOTS 256 /* a power of two */

struct peer {
	struct netaddr addr;
	unsigned nconns;     /* PEER_OPEN slots */
	unsigned nrefusing;  /* PEER_REFUSING slots */
	struct peer *next;
};

struct peers {
	uint64_t seed;
	unsigned prefix6;  /* bits of an IPv6 address that count */
	size_t size;
	struct peer *slots[PEERS_SLOTS];
};

struct peers *
peers_new(unsigned prefix6)
{
	struct peers *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->prefix6 = prefix6 < 1 ? 1 : prefix6 > 128 ? 128 : prefix6;
	/* placement only: a failed read leaves a fixed seed, still correct */
	if (getrandom(&t->seed, sizeof(t->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(t->seed))
		t->seed = 0x9e3779b97f4a7c15ULL;
	return t;
}

void
peers_free(struct peers *t)
{
	struct peer *p, *next;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < PEERS_SLOTS; i++)
		for (p = t->slots[i]; p != NULL; p = next) {
			next = p->next;
			free(p);
		}
	free(t);
}

/*
 * The key an address counts under: an IPv6 address by its network of
 * t->prefix6 bits (by default its /64, the smallest network a host is
 * given: a VM can pick any address in it), an IPv4 one (or an
 * IPv4-mapped IPv6 one) whole.
 */
static struct netaddr
peers_key(const struct peers *t, const struct netaddr *a)
{
	struct netaddr k = *a;
	unsigned bits = t->prefix6, i;

	if (k.family != AF_INET6 || IN6_IS_ADDR_V4MAPPED(&k.u.v6))
		return k;
	for (i = bits / 8; i < 16; i++) {
		if (i == bits / 8 && bits % 8 != 0)
			k.u.v6.s6_addr[i] &= (uint8_t)(0xff << (8 - bits % 8));
		else
			k.u.v6.s6_addr[i] = 0;
	}
	return k;
}

static size_t
peers_slot(const struct peers *t, const struct netaddr *a)
{
	const unsigned char *b = a->family == AF_INET ?
	    (const unsigned char *)&a->u.v4 : (const unsigned char *)&a->u.v6;
	size_t i, n = a->family == AF_INET ? 4 : 16;
	uint64_t h = t->seed ^ (uint64_t)a->family;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h & (PEERS_SLOTS - 1);
}

static int
peers_same(const struct netaddr *x, const struct netaddr *y)
{
	if (x->family != y->family)
		return 0;
	return x->family == AF_INET ?
	    memcmp(&x->u.v4, &y->u.v4, sizeof(x->u.v4)) == 0 :
	    memcmp(&x->u.v6, &y->u.v6, sizeof(x->u.v6)) == 0;
}

static struct peer **
peers_find(struct peers *t, const struct netaddr *a)
{
	struct netaddr k = peers_key(t, a);
	struct peer **pp;

	for (pp = &t->slots[peers_slot(t, &k)]; *pp != NULL;
	     pp = &(*pp)->next)
		if (peers_same(&(*pp)->addr, &k))
			return pp;
	return pp; /* the end of a's chain: *pp == NULL */
}

enum peer_slot
peers_take(struct peers *t, const struct netaddr *a, unsigned limit,
    unsigned refusing)
{
	struct peer **pp = peers_find(t, a), *p = *pp;

	if (p == NULL) {
		if ((limit == 0 && refusing == 0) ||
		    (p = calloc(1, sizeof(*p))) == NULL)
			return PEER_NONE;
		p->addr = peers_key(t, a);
		*pp = p;
		t->size++;
	}
	if (p->nconns < limit) {
		p->nconns++;
		return PEER_OPEN;
	}
	if (p->nrefusing < refusing) {
		p->nrefusing++;
		return PEER_REFUSING;
	}
	return PEER_NONE; /* p has a slot of some kind: it stays */
}

void
peers_give(struct peers *t, const struct netaddr *a, enum peer_slot s)
{
	struct peer **pp = peers_find(t, a), *p = *pp;

	if (p == NULL)
		return;
	if (s == PEER_OPEN && p->nconns > 0)
		p->nconns--;
	else if (s == PEER_REFUSING && p->nrefusing > 0)
		p->nrefusing--;
	if (p->nconns == 0 && p->nrefusing == 0) {
		*pp = p->next;
		free(p);
		t->size--;
	}
}

unsigned
peers_count(const struct peers *t, const struct netaddr *a)
{
	struct peer *const *pp = peers_find((struct peers *)t, a);

	return *pp != NULL ? (*pp)->nconns : 0;
}

unsigned
peers_refusing(const struct peers *t, const struct netaddr *a)
{
	struct peer *const *pp = peers_find((struct peers *)t, a);

	return *pp != NULL ? (*pp)->nrefusing : 0;
}

size_t
peers_size(const struct peers *t)
{
	return t->size;
}
