/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * secmem.c - buffers for secrets: mlocked where possible, kept out of core
 * dumps, wiped before free (see secmem.h).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/crypto.h>

#include "secmem.h"

void
secmem_wipe(void *p, size_t len)
{
	if (p != NULL && len > 0)
		OPENSSL_cleanse(p, len);
}

int
secmem_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

struct secmem *
secmem_new(const void *data, size_t len)
{
	struct secmem *s;
	size_t size = len + 1;

	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	/* a page-aligned block so madvise/mlock cover exactly it */
	size = (size + 4095) & ~(size_t)4095;
	s->p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s->p == MAP_FAILED) {
		free(s);
		return NULL;
	}
	(void)madvise(s->p, size, MADV_DONTDUMP);
	(void)mlock(s->p, size); /* best effort: RLIMIT_MEMLOCK may refuse */
	if (len > 0)
		memcpy(s->p, data, len);
	s->p[len] = '\0';
	s->len = len;
	return s;
}

void
secmem_free(struct secmem *s)
{
	size_t size;

	if (s == NULL)
		return;
	size = (s->len + 1 + 4095) & ~(size_t)4095;
	secmem_wipe(s->p, s->len + 1);
	munlock(s->p, size);
	munmap(s->p, size);
	free(s);
}
