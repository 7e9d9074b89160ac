/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fuzz_sni.c - libFuzzer target for the ClientHello / Host peek parser.
 *
 * Besides the sanitizers it checks: the result is in range; a name, when
 * found, is non-empty, canonical (sni_name_canon gives it back unchanged)
 * and NUL-terminated in bounds; a verdict on a prefix other than
 * INCOMPLETE never changes once more bytes arrive (a redirector that
 * peeks again must not get a different answer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sni.h"
#include "fuzz/fuzz.h"

static void
check_info(int rc, const struct sni_info *info)
{
	char again[LIMIT_HOSTNAME + 1];
	size_t n;

	CHECK(rc >= SNI_FOUND && rc <= SNI_OTHER);
	/* the strict fields: only of a whole TLS hello, an exact name only
	 * with the name found, a duplicate only with a first one */
	if (rc == SNI_INCOMPLETE || info->proto != SNI_PROTO_TLS)
		CHECK(!info->is_hello_whole && !info->has_server_name &&
		    !info->has_ech && !info->is_server_name_exact);
	if (info->is_server_name_exact)
		CHECK(rc == SNI_FOUND && info->has_server_name);
	if (info->is_server_name_dup)
		CHECK(info->has_server_name);
	if (rc != SNI_FOUND)
		return;
	n = strnlen(info->name, sizeof(info->name));
	CHECK(n > 0 && n <= LIMIT_HOSTNAME);
	CHECK(sni_name_canon(info->name, n, again, sizeof(again)) == 0);
	CHECK(strcmp(again, info->name) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sni_info whole, part;
	size_t cut;
	int rc, prc, i;

	if (size > SNI_PEEK_MAX)
		size = SNI_PEEK_MAX;
	rc = sni_peek(data, size, &whole);
	check_info(rc, &whole);
	for (i = 0; i < 4 && size > 0; i++) {
		cut = (size_t)data[i % size] * 131 % (size + 1);
		if (i == 0)
			cut = size / 2;
		prc = sni_peek(data, cut, &part);
		check_info(prc, &part);
		if (prc == SNI_INCOMPLETE)
			continue;
		CHECK(prc == rc);
		/* a whole hello in the prefix is the same hello */
		CHECK(part.is_hello_whole == whole.is_hello_whole &&
		    part.has_ech == whole.has_ech &&
		    part.is_server_name_dup == whole.is_server_name_dup &&
		    part.is_server_name_exact == whole.is_server_name_exact);
		if (rc == SNI_FOUND)
			CHECK(strcmp(part.name, whole.name) == 0);
	}
	return 0;
}
