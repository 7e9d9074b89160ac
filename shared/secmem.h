/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * secmem.h - secret-holding buffers and constant-time helpers.
 *
 * A secmem buffer is allocated once at its final size, locked against swap
 * where possible (mlock, best effort), excluded from core dumps
 * (MADV_DONTDUMP) and wiped before it is freed.  Never realloc'd, never
 * logged.
 */
#ifndef SLICER_SECMEM_H
#define SLICER_SECMEM_H

#include <stddef.h>

struct secmem {
	unsigned char *p; /* owned, len bytes followed by a NUL */
	size_t len;
};

/* Copy len bytes into a new secmem buffer.  NULL on allocation failure. */
struct secmem *secmem_new(const void *data, size_t len);
/* Wipe and free; NULL is fine. */
void secmem_free(struct secmem *s);
/* Wipe memory so the compiler cannot elide it. */
void secmem_wipe(void *p, size_t len);
/* Constant-time equality of two equal-length byte strings: 1 if equal. */
int secmem_equal(const void *a, const void *b, size_t len);

#endif
