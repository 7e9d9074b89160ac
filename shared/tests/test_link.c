/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_link.c - interface names (pure, at and past their limits) and, as
 * root in a network namespace of the test's own, the dummy interface
 * life cycle and the lookup of the link into another namespace.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "link.h"

static int has_netns;

static void
test_name_valid(void **state)
{
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
	    {"eth0", 1},
	    {"vfy-h2v", 1},
	    {"br_0.100", 1},
	    {"abcdefghijklmno", 1},  /* IFNAMSIZ - 1 */
	    {"abcdefghijklmnop", 0}, /* IFNAMSIZ */
	    {"", 0},
	    {".", 0},
	    {"..", 0},
	    {"a/b", 0},
	    {"a b", 0},
	    {"a:b", 0},
	    {"a\"b", 0},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(link_name_valid(cases[i].name), cases[i].ok);
}

static void
test_hostgroup_ifname(void **state)
{
	static const struct {
		const char *group;
		int rc;
		const char *name; /* NULL: only check the shape */
	} cases[] = {
	    {"lab", 0, "slicer-lab"},
	    {"a", 0, "slicer-a"},
	    {"12345678", 0, "slicer-12345678"}, /* 8: fits as is */
	    {"123456789", 0, NULL},             /* 9: hashed */
	    {"production", 0, NULL},
	    {"", -1, NULL},
	    {"a.b", -1, NULL},
	    {"a/b", -1, NULL},
	    {"a b", -1, NULL},
	};
	char out[IFNAMSIZ], out2[IFNAMSIZ], group[LINK_GROUP_MAX + 2];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 0, sizeof(out));
		assert_int_equal(
		    link_hostgroup_ifname(cases[i].group, out, sizeof(out)),
		    cases[i].rc);
		if (cases[i].rc == 0) {
			assert_true(link_name_valid(out));
			assert_int_equal(strncmp(out, "slicer-", 7), 0);
		}
		if (cases[i].name != NULL)
			assert_string_equal(out, cases[i].name);
	}
	/* long names: prefix of 4 + 4 hex digits, 15 characters */
	assert_int_equal(
	    link_hostgroup_ifname("production", out, sizeof(out)), 0);
	assert_int_equal(strlen(out), IFNAMSIZ - 1);
	assert_int_equal(strncmp(out, "slicer-prod", 11), 0);
	assert_true(strspn(out + 11, "0123456789abcdef") == 4);
	/* same prefix, different names: different interfaces */
	assert_int_equal(
	    link_hostgroup_ifname("production-a", out2, sizeof(out2)), 0);
	assert_string_not_equal(out, out2);
	/* stable */
	assert_int_equal(
	    link_hostgroup_ifname("production", out2, sizeof(out2)), 0);
	assert_string_equal(out, out2);

	/* LINK_GROUP_MAX characters fit, one more does not */
	memset(group, 'g', sizeof(group));
	group[LINK_GROUP_MAX] = '\0';
	assert_int_equal(link_hostgroup_ifname(group, out, sizeof(out)), 0);
	group[LINK_GROUP_MAX] = 'g';
	group[LINK_GROUP_MAX + 1] = '\0';
	errno = 0;
	assert_int_equal(link_hostgroup_ifname(group, out, sizeof(out)), -1);
	assert_int_equal(errno, EINVAL);
	/* output buffer must hold IFNAMSIZ */
	assert_int_equal(link_hostgroup_ifname("lab", out, IFNAMSIZ - 1), -1);
}

static void
test_dummy_lifecycle(void **state)
{
	struct netaddr a4, a6;
	char kind[32];

	(void)state;
	if (!has_netns)
		skip();
	memset(&a4, 0, sizeof(a4));
	memset(&a6, 0, sizeof(a6));
	a4.family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &a4.u.v4);
	a6.family = AF_INET6;
	inet_pton(AF_INET6, "fd00:223::1", &a6.u.v6);

	assert_int_equal(link_exists("slicer-t"), 0);
	assert_int_equal(link_dummy_create("slicer-t"), 0);
	assert_int_equal(link_exists("slicer-t"), 1);
	errno = 0;
	assert_int_equal(link_dummy_create("slicer-t"), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(link_kind("slicer-t", kind, sizeof(kind)), 0);
	/* dummy, or ifb where the kernel has no dummy driver */
	assert_true(strcmp(kind, "dummy") == 0 || strcmp(kind, "ifb") == 0);
	/* no bridge or bond holds it */
	assert_int_equal(link_master("slicer-t", kind, sizeof(kind)), 0);
	assert_string_equal(kind, "");
	errno = 0;
	assert_int_equal(link_master("slicer-none", kind, sizeof(kind)), -1);
	assert_int_equal(errno, ENODEV);
	assert_int_equal(link_set_up("slicer-t"), 0);
	assert_int_equal(link_addr_add("slicer-t", &a4, 24), 0);
	assert_int_equal(link_addr_add("slicer-t", &a6, 64), 0);
	errno = 0;
	assert_int_equal(link_addr_add("slicer-t", &a4, 24), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(link_addr_add("slicer-t", &a4, 33), -1);
	assert_int_equal(link_addr_add("slicer-t", &a6, 129), -1);

	/* the addresses can be bound at once (no DAD for IPv6) */
	{
		struct sockaddr_in s4 = {.sin_family = AF_INET};
		struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
		int fd;

		s4.sin_addr = a4.u.v4;
		fd = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(
		    bind(fd, (struct sockaddr *)&s4, sizeof(s4)), 0);
		close(fd);
		s6.sin6_addr = a6.u.v6;
		fd = socket(AF_INET6, SOCK_STREAM, 0);
		assert_int_equal(
		    bind(fd, (struct sockaddr *)&s6, sizeof(s6)), 0);
		close(fd);
	}

	/* only our kind of interface is deleted */
	errno = 0;
	assert_int_equal(link_dummy_delete("lo"), -1);
	assert_int_equal(errno, EMEDIUMTYPE);
	assert_int_equal(link_exists("lo"), 1);
	assert_int_equal(link_dummy_delete("slicer-t"), 0);
	assert_int_equal(link_exists("slicer-t"), 0);
	errno = 0;
	assert_int_equal(link_dummy_delete("slicer-t"), -1);
	assert_int_equal(errno, ENODEV);
	errno = 0;
	assert_int_equal(link_set_up("slicer-t"), -1);
	assert_int_equal(errno, ENODEV);
	/* bad names never reach the kernel */
	errno = 0;
	assert_int_equal(link_dummy_create("a/b"), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(link_exists("abcdefghijklmnop"), -1);
}

/* A child process parked in a network namespace of its own. */
static pid_t
child_netns(void)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) == -1)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		if (unshare(CLONE_NEWNET) == -1)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		/* bounded: killed by the test, or gone after 60 s */
		sleep(60);
		_exit(0);
	}
	close(p[1]);
	if (pid > 0 && read(p[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(p[0]);
	return pid;
}

static void
test_peer_of_netns(void **state)
{
	char path[64], cmd[256], ifname[IFNAMSIZ];
	pid_t pid;

	(void)state;
	if (!has_netns || system("ip -V >/dev/null 2>&1") != 0)
		skip();
	errno = 0;
	assert_int_equal(
	    link_peer_of_netns("no-such-ns-here", ifname, sizeof(ifname)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(link_peer_of_netns("", ifname, sizeof(ifname)), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(link_peer_of_netns("..", ifname, sizeof(ifname)), -1);
	assert_int_equal(errno, EINVAL);

	pid = child_netns();
	assert_true(pid > 0);
	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	/* no link into it yet */
	errno = 0;
	assert_int_equal(link_peer_of_netns(path, ifname, sizeof(ifname)), -1);
	assert_int_equal(errno, ENODEV);

	snprintf(cmd, sizeof(cmd),
	    "ip link add t-h0 type veth peer name t-v0 netns %d", (int)pid);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(link_peer_of_netns(path, ifname, sizeof(ifname)), 0);
	assert_string_equal(ifname, "t-h0");

	/* two links into it: ambiguous */
	snprintf(cmd, sizeof(cmd),
	    "ip link add t-h1 type veth peer name t-v1 netns %d", (int)pid);
	assert_int_equal(system(cmd), 0);
	errno = 0;
	assert_int_equal(link_peer_of_netns(path, ifname, sizeof(ifname)), -1);
	assert_int_equal(errno, ENOTUNIQ);

	/* the pairs go with the child's namespace; ours dies with the test */
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int
setup_netns(void **state)
{
	(void)state;
	if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0)
		has_netns = 1;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_valid),
	    cmocka_unit_test(test_hostgroup_ifname),
	    cmocka_unit_test(test_dummy_lifecycle),
	    cmocka_unit_test(test_peer_of_netns),
	};

	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
