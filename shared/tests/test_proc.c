/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_proc.c - unit tests for proc_fork_piped.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "proc.h"

/* The child writes through the pipe and exits; the parent reads what it
 * wrote, then the end of the pipe; both ends are close-on-exec. */
static void
test_fork_piped_roundtrip(void **state)
{
	char err[128] = "", buf[16];
	int pfd[2] = {-1, -1}, status;
	ssize_t n;
	pid_t pid;

	(void)state;
	pid = proc_fork_piped(pfd, err, sizeof(err));
	if (pid == 0) {
		close(pfd[0]);
		_exit(write(pfd[1], "ok", 2) == 2 ? 7 : 1);
	}
	assert_true(pid > 0);
	assert_string_equal(err, "");
	assert_true(fcntl(pfd[0], F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(pfd[1], F_GETFD) & FD_CLOEXEC);
	close(pfd[1]);
	n = read(pfd[0], buf, sizeof(buf));
	assert_int_equal(n, 2);
	assert_memory_equal(buf, "ok", 2);
	assert_int_equal(read(pfd[0], buf, sizeof(buf)), 0);
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 7);
}

/* Out of descriptors: -1 with the reason, and nothing left open. */
static void
test_fork_piped_no_fds(void **state)
{
	struct rlimit old, low;
	char err[128] = "";
	int pfd[2] = {5, 6};
	pid_t pid;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = 3; /* stdin, stdout, stderr: no room for a pipe */
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	pid = proc_fork_piped(pfd, err, sizeof(err));
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(pid, -1);
	assert_non_null(strstr(err, "pipe: "));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fork_piped_roundtrip),
	    cmocka_unit_test(test_fork_piped_no_fds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
