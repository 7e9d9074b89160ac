/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dnsgiven.c - answers given to clients, remembered (see dnsgiven.h).
 *
 * Open addressing: an entry lives in one of DNSGIVEN_PROBE slots from the
 * index its fingerprint picks.  Adding takes the slot that holds the same
 * fingerprint, else an empty or expired one, else the one that expires
 * first; nothing is ever chained or allocated after dnsgiven_new.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "dnsgiven.h"

#define DNSGIVEN_PROBE 8
#define DNSGIVEN_FP 16

struct dnsgiven_slot {
	unsigned char fp[DNSGIVEN_FP];
	int64_t expires_ms; /* 0: empty */
};

struct dnsgiven {
	pthread_mutex_t lock;
	unsigned char key[32];
	size_t mask;
	struct dnsgiven_slot *slots;
};

struct dnsgiven *
dnsgiven_new(size_t nslots)
{
	struct dnsgiven *t;

	if (nslots < DNSGIVEN_PROBE || (nslots & (nslots - 1)) != 0)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->slots = calloc(nslots, sizeof(*t->slots));
	if (t->slots == NULL || RAND_bytes(t->key, sizeof(t->key)) != 1) {
		ERR_clear_error();
		free(t->slots);
		free(t);
		return NULL;
	}
	t->mask = nslots - 1;
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void
dnsgiven_free(struct dnsgiven *t)
{
	if (t == NULL)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t->slots);
	free(t);
}

/* The fingerprint of (client, name, addr) under t's key.  0, or -1 when
 * the digest fails (then nothing is added or found). */
static int
dnsgiven_fp(const struct dnsgiven *t, uint64_t client, const char *name,
    const struct netaddr *addr, unsigned char fp[DNSGIVEN_FP])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char fam = addr->family == AF_INET6 ? 6 : 4;
	size_t alen = fam == 6 ? sizeof(addr->u.v6) : sizeof(addr->u.v4);
	unsigned int mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok;

	/* the name is last and alone of variable length: no two triples
	 * give the same bytes */
	ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, t->key, sizeof(t->key)) == 1 &&
	    EVP_DigestUpdate(ctx, &client, sizeof(client)) == 1 &&
	    EVP_DigestUpdate(ctx, &fam, 1) == 1 &&
	    EVP_DigestUpdate(ctx, &addr->u, alen) == 1 &&
	    EVP_DigestUpdate(ctx, name, strlen(name)) == 1 &&
	    EVP_DigestFinal_ex(ctx, md, &mdlen) == 1 && mdlen >= DNSGIVEN_FP;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		ERR_clear_error();
		return -1;
	}
	memcpy(fp, md, DNSGIVEN_FP);
	return 0;
}

static size_t
dnsgiven_index(const struct dnsgiven *t, const unsigned char *fp)
{
	uint64_t h;

	memcpy(&h, fp, sizeof(h));
	return (size_t)h & t->mask;
}

void
dnsgiven_add(struct dnsgiven *t, uint64_t client, const char *name,
    const struct netaddr *addr, int64_t now_ms, int64_t expires_ms)
{
	unsigned char fp[DNSGIVEN_FP];
	struct dnsgiven_slot *s, *pick = NULL;
	size_t i, at;

	if (t == NULL || dnsgiven_fp(t, client, name, addr, fp) == -1)
		return;
	at = dnsgiven_index(t, fp);
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < DNSGIVEN_PROBE; i++) {
		s = &t->slots[(at + i) & t->mask];
		if (s->expires_ms != 0 && memcmp(s->fp, fp, DNSGIVEN_FP) == 0) {
			if (s->expires_ms < expires_ms)
				s->expires_ms = expires_ms;
			pthread_mutex_unlock(&t->lock);
			return;
		}
		/* the first free slot, else the soonest to expire */
		if (pick == NULL || (pick->expires_ms > now_ms &&
		    s->expires_ms < pick->expires_ms))
			pick = s;
	}
	memcpy(pick->fp, fp, DNSGIVEN_FP);
	pick->expires_ms = expires_ms;
	pthread_mutex_unlock(&t->lock);
}

int
dnsgiven_has(struct dnsgiven *t, uint64_t client, const char *name,
    const struct netaddr *addr, int64_t now_ms)
{
	unsigned char fp[DNSGIVEN_FP];
	const struct dnsgiven_slot *s;
	size_t i, at;
	int found = 0;

	if (t == NULL || dnsgiven_fp(t, client, name, addr, fp) == -1)
		return 0;
	at = dnsgiven_index(t, fp);
	pthread_mutex_lock(&t->lock);
	for (i = 0; i < DNSGIVEN_PROBE && !found; i++) {
		s = &t->slots[(at + i) & t->mask];
		found = s->expires_ms > now_ms &&
		    memcmp(s->fp, fp, DNSGIVEN_FP) == 0;
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}
