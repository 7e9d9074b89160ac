/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_service.c - the unit and OpenRC script the agent writes are the
 * ones shipped in rootfs-hooks/ (run from the repository root, as `make
 * test` does), the binary path substitution, and service kind names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fsops.h"
#include "service.h"

static void
same_as_file(int kind, const char *path)
{
	char *data;
	size_t len;

	if (fsops_read(path, 65536, &data, &len, NULL) == -1)
		fail_msg("cannot read %s (run from the repository root)", path);
	assert_string_equal(service_unit_template(kind), data);
	free(data);
}

static void
test_templates(void **state)
{
	(void)state;
	same_as_file(SERVICE_SYSTEMD, "rootfs-hooks/slicer-agent.service");
	same_as_file(SERVICE_OPENRC, "rootfs-hooks/slicer-agent.openrc");
	assert_null(service_unit_template(SERVICE_DETACHED));
	assert_non_null(strstr(service_unit_template(SERVICE_SYSTEMD),
	    "Restart=always"));
	assert_non_null(strstr(service_unit_template(SERVICE_SYSTEMD),
	    "Before=docker.service containerd.service"));
}

static void
test_substitute(void **state)
{
	char *t;

	(void)state;
	t = service_unit_text(SERVICE_SYSTEMD, "/opt/bin/sa");
	assert_non_null(t);
	assert_non_null(strstr(t, "ExecStart=/opt/bin/sa proxy run\n"));
	assert_null(strstr(t, SERVICE_DEFAULT_BIN));
	free(t);
	t = service_unit_text(SERVICE_OPENRC, SERVICE_DEFAULT_BIN);
	assert_string_equal(t, service_unit_template(SERVICE_OPENRC));
	free(t);
	assert_null(service_unit_text(SERVICE_DETACHED, "/x"));
}

static void
test_kinds(void **state)
{
	static const enum service_kind k[] = {
	    SERVICE_SYSTEMD, SERVICE_OPENRC, SERVICE_DETACHED};
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(
		    service_kind_parse(service_kind_name(k[i])), k[i]);
	assert_int_equal(service_kind_parse("upstart"), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_templates),
	    cmocka_unit_test(test_substitute),
	    cmocka_unit_test(test_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
