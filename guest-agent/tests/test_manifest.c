/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_manifest.c - the install manifest: add (first entry wins, limits),
 * find, remove, and the text form round trip with escaping, plus every
 * parse error and MANIFEST_MAX at and past the limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "manifest.h"

static void
test_add_find_remove(void **state)
{
	struct manifest *m = calloc(1, sizeof(*m));
	char longf[MANIFEST_FIELD_MAX + 1];

	(void)state;
	assert_non_null(m);
	manifest_init(m);
	assert_int_equal(manifest_add(m, MANIFEST_DIR, "/etc/slicer-agent",
			     NULL),
	    1);
	assert_int_equal(manifest_add(m, MANIFEST_FILE, "/etc/environment",
			     "/var/lib/slicer-agent/backup/etc_environment"),
	    1);
	/* a second record keeps the first backup */
	assert_int_equal(
	    manifest_add(m, MANIFEST_FILE, "/etc/environment", "/other"), 0);
	assert_string_equal(
	    manifest_find(m, MANIFEST_FILE, "/etc/environment")->b,
	    "/var/lib/slicer-agent/backup/etc_environment");
	/* same path, other kind: a separate entry */
	assert_int_equal(
	    manifest_add(m, MANIFEST_SNAPSHOT, "/etc/environment", "/b"), 1);
	assert_int_equal(m->n, 3);
	assert_null(manifest_find(m, MANIFEST_TOOL, "/etc/environment"));
	assert_int_equal(manifest_remove(m, MANIFEST_DIR, "/etc/slicer-agent"),
	    0);
	assert_int_equal(m->n, 2);
	assert_int_equal(m->e[0].kind, MANIFEST_FILE);
	assert_int_equal(manifest_remove(m, MANIFEST_DIR, "/x"), -1);
	/* bad input */
	assert_int_equal(manifest_add(m, 0, "/x", NULL), -1);
	assert_int_equal(manifest_add(m, MANIFEST_DIR, "", NULL), -1);
	memset(longf, 'a', sizeof(longf));
	longf[MANIFEST_FIELD_MAX - 1] = '\0';
	assert_int_equal(manifest_add(m, MANIFEST_DIR, longf, NULL), 1);
	longf[MANIFEST_FIELD_MAX - 1] = 'a';
	longf[MANIFEST_FIELD_MAX] = '\0';
	assert_int_equal(manifest_add(m, MANIFEST_DIR, longf, NULL), -1);
	assert_int_equal(errno, ENAMETOOLONG);
	assert_string_equal(manifest_kind_name(MANIFEST_SNAPSHOT), "snapshot");
	assert_null(manifest_kind_name(99));
	free(m);
}

static void
test_roundtrip(void **state)
{
	struct manifest *m = calloc(1, sizeof(*m)), *p = calloc(1, sizeof(*p));
	char *text = malloc(MANIFEST_TEXT_MAX), err[128], big[MANIFEST_FIELD_MAX];
	size_t i;
	int n;

	(void)state;
	assert_non_null(m);
	assert_non_null(p);
	assert_non_null(text);
	manifest_init(m);
	assert_int_equal(manifest_add(m, MANIFEST_DIR, "/etc/x y", NULL), 1);
	assert_int_equal(manifest_add(m, MANIFEST_FILE, "/a%b\tc\n", "-"), 1);
	assert_int_equal(manifest_add(m, MANIFEST_TOOL,
			     "/usr/sbin/update-ca-trust", "extract"),
	    1);
	assert_int_equal(manifest_add(m, MANIFEST_SERVICE, "detached", ""), 1);
	assert_int_equal(
	    manifest_add(m, MANIFEST_TABLE, "inet slicer_agent", NULL), 1);
	memset(big, '\xe9', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(manifest_add(m, MANIFEST_SNAPSHOT, big, big), 1);
	n = manifest_format(m, text, MANIFEST_TEXT_MAX);
	assert_true(n > 0);
	assert_non_null(strstr(text, "dir /etc/x%20y -\n"));
	assert_non_null(strstr(text, "file /a%25b%09c%0A %2D\n"));
	assert_int_equal(manifest_parse(text, (size_t)n, p, err, sizeof(err)),
	    0);
	assert_int_equal(p->n, m->n);
	for (i = 0; i < m->n; i++) {
		assert_int_equal(p->e[i].kind, m->e[i].kind);
		assert_string_equal(p->e[i].a, m->e[i].a);
		assert_string_equal(p->e[i].b, m->e[i].b);
	}
	/* too small an output */
	assert_int_equal(manifest_format(m, text, 40), -1);
	free(m);
	free(p);
	free(text);
}

static void
test_parse_errors(void **state)
{
	static const char *const bad[] = {
	    "",
	    "# not a manifest\n",
	    "# slicer-agent manifest v1\nfile /a -",
	    "# slicer-agent manifest v1\nbogus /a -\n",
	    "# slicer-agent manifest v1\nfile /a\n",
	    "# slicer-agent manifest v1\nfile /a - x\n",
	    "# slicer-agent manifest v1\nfile - -\n",
	    "# slicer-agent manifest v1\nfile /a%zz -\n",
	    "# slicer-agent manifest v1\nfile /a%00 -\n",
	    "# slicer-agent manifest v1\nfile /a%2 -\n",
	    "# slicer-agent manifest v1\nfile /a -\nfile /a -\n",
	};
	struct manifest *m = calloc(1, sizeof(*m));
	char err[128], *text;
	size_t i, o;

	(void)state;
	assert_non_null(m);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (manifest_parse(bad[i], strlen(bad[i]), m, err,
			sizeof(err)) != -1)
			fail_msg("case %zu parsed", i);
		assert_true(strlen(err) > 0);
	}
	assert_int_equal(manifest_parse("# slicer-agent manifest v1\n", 27, m,
			     err, sizeof(err)),
	    0);
	assert_int_equal(m->n, 0);
	/* MANIFEST_MAX entries, and one more */
	text = malloc(MANIFEST_TEXT_MAX);
	assert_non_null(text);
	o = (size_t)sprintf(text, "# slicer-agent manifest v1\n");
	for (i = 0; i < MANIFEST_MAX; i++)
		o += (size_t)sprintf(text + o, "dir /d%zu -\n", i);
	assert_int_equal(manifest_parse(text, o, m, err, sizeof(err)), 0);
	assert_int_equal(m->n, MANIFEST_MAX);
	assert_int_equal(manifest_add(m, MANIFEST_DIR, "/more", NULL), -1);
	assert_int_equal(errno, E2BIG);
	o += (size_t)sprintf(text + o, "dir /more -\n");
	assert_int_equal(manifest_parse(text, o, m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many"));
	free(text);
	free(m);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_find_remove),
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_parse_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
