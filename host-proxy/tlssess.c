/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tlssess.c - a small direct-mapped cache of client TLS sessions by
 * host:port (see tlssess.h).  Sessions come only from handshakes that
 * verified the upstream's chain and name, and are looked up by the same
 * host:port, so resuming never skips a check that would have mattered.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slicer_limits.h"
#include "tlssess.h"

#define TLSSESS_SLOTS 256

struct tlssess_slot {
	char key[LIMIT_HOSTNAME + 8]; /* "host:port" */
	SSL_SESSION *sess;            /* owned reference */
};

static struct tlssess_slot tlssess_slots[TLSSESS_SLOTS];
static int tlssess_idx = -1;
/* the slots are shared by every event loop's thread */
static pthread_mutex_t tlssess_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned int
tlssess_hash(const char *key)
{
	unsigned int h = 2166136261u;

	for (; *key != '\0'; key++)
		h = (h ^ (unsigned char)*key) * 16777619u;
	return h % TLSSESS_SLOTS;
}

static void
tlssess_key_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	free(ptr);
}

/* OpenSSL's new-session callback: keep the session under the SSL's key. */
static int
tlssess_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	const char *key = SSL_get_ex_data(ssl, tlssess_idx);
	struct tlssess_slot *slot;

	if (key == NULL)
		return 0; /* not ours: OpenSSL frees it */
	slot = &tlssess_slots[tlssess_hash(key)];
	pthread_mutex_lock(&tlssess_lock);
	if (slot->sess != NULL)
		SSL_SESSION_free(slot->sess);
	snprintf(slot->key, sizeof(slot->key), "%s", key);
	slot->sess = sess; /* we keep the reference OpenSSL gave us */
	pthread_mutex_unlock(&tlssess_lock);
	return 1;
}

int
tlssess_init(SSL_CTX *ctx)
{
	if (tlssess_idx == -1) {
		tlssess_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    tlssess_key_free);
		if (tlssess_idx == -1)
			return -1;
	}
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT |
	    SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, tlssess_new_cb);
	return 0;
}

void
tlssess_prepare(SSL *ssl, const char *host, uint16_t port)
{
	char key[LIMIT_HOSTNAME + 8];
	struct tlssess_slot *slot;
	char *copy;

	if (tlssess_idx == -1)
		return;
	snprintf(key, sizeof(key), "%s:%u", host, port);
	copy = strdup(key);
	if (copy == NULL || SSL_set_ex_data(ssl, tlssess_idx, copy) != 1) {
		free(copy);
		return;
	}
	slot = &tlssess_slots[tlssess_hash(key)];
	pthread_mutex_lock(&tlssess_lock);
	if (slot->sess != NULL && strcmp(slot->key, key) == 0 &&
	    SSL_SESSION_is_resumable(slot->sess))
		SSL_set_session(ssl, slot->sess); /* takes its own reference */
	pthread_mutex_unlock(&tlssess_lock);
}

void
tlssess_free_all(void)
{
	size_t i;

	pthread_mutex_lock(&tlssess_lock);
	for (i = 0; i < TLSSESS_SLOTS; i++) {
		SSL_SESSION_free(tlssess_slots[i].sess);
		tlssess_slots[i].sess = NULL;
		tlssess_slots[i].key[0] = '\0';
	}
	pthread_mutex_unlock(&tlssess_lock);
}
