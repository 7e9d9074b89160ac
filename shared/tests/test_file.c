/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_file.c - whole writes and atomic replacement: content and mode,
 * a stale temporary file, a symlink planted at the temporary name, and a
 * failure that must leave the old file and no temporary behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"

struct dir {
	char path[64];
	int fd;
};

static void
dir_open(struct dir *d)
{
	snprintf(d->path, sizeof(d->path), "/tmp/test_file.XXXXXX");
	assert_non_null(mkdtemp(d->path));
	d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(d->fd != -1);
}

static void
dir_close(struct dir *d)
{
	char cmd[128];

	close(d->fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
	assert_int_equal(system(cmd), 0);
}

/* The file's content into buf (NUL-terminated); its length, -1 if none. */
static ssize_t
read_name(const struct dir *d, const char *name, char *buf, size_t size)
{
	int fd = openat(d->fd, name, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd == -1)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

static int
exists(const struct dir *d, const char *name)
{
	struct stat sb;

	return fstatat(d->fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0;
}

static void
test_write_all(void **state)
{
	static char big[1 << 20];
	int p[2], n;
	size_t got = 0;
	char buf[4096];
	pid_t pid;

	(void)state;
	memset(big, 'x', sizeof(big));
	/* more than a pipe holds, written while the reader drains it */
	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		close(p[0]);
		_exit(file_write_all(p[1], big, sizeof(big)) == 0 ? 0 : 1);
	}
	close(p[1]);
	while ((n = (int)read(p[0], buf, sizeof(buf))) > 0)
		got += (size_t)n;
	close(p[0]);
	assert_int_equal(got, sizeof(big));
	/* a closed descriptor fails with errno set */
	errno = 0;
	assert_int_equal(file_write_all(p[1], "x", 1), -1);
	assert_int_equal(errno, EBADF);
}

static void
test_replace(void **state)
{
	struct dir d;
	char err[256] = "", buf[64];
	struct stat sb;

	(void)state;
	dir_open(&d);
	assert_int_equal(file_write_atomic(d.fd, d.path, "f", "f.tmp", "one", 3,
	    0600, err, sizeof(err)), 0);
	assert_int_equal(read_name(&d, "f", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "one");
	assert_int_equal(fstatat(d.fd, "f", &sb, 0), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* replaced whole, with the mode asked for, no temporary left */
	assert_int_equal(file_write_atomic(d.fd, d.path, "f", "f.tmp", "second",
	    6, 0640, err, sizeof(err)), 0);
	assert_int_equal(read_name(&d, "f", buf, sizeof(buf)), 6);
	assert_string_equal(buf, "second");
	assert_int_equal(fstatat(d.fd, "f", &sb, 0), 0);
	assert_int_equal(sb.st_mode & 07777, 0640);
	assert_false(exists(&d, "f.tmp"));
	/* empty content is a valid file */
	assert_int_equal(file_write_atomic(d.fd, d.path, "f", "f.tmp", "", 0,
	    0600, err, sizeof(err)), 0);
	assert_int_equal(read_name(&d, "f", buf, sizeof(buf)), 0);
	dir_close(&d);
}

static void
test_stale_and_symlink_tmp(void **state)
{
	struct dir d;
	char err[256] = "", buf[64];
	int fd;

	(void)state;
	dir_open(&d);
	/* a stale temporary from a crash is replaced, not appended to */
	fd = openat(d.fd, "f.tmp", O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "stale-stale", 11), 11);
	close(fd);
	assert_int_equal(file_write_atomic(d.fd, d.path, "f", "f.tmp", "new", 3,
	    0600, err, sizeof(err)), 0);
	assert_int_equal(read_name(&d, "f", buf, sizeof(buf)), 3);
	/* a symlink planted at the temporary name is removed, never
	 * written through */
	fd = openat(d.fd, "victim", O_WRONLY | O_CREAT, 0600);
	assert_true(fd != -1);
	assert_int_equal(write(fd, "keep", 4), 4);
	close(fd);
	assert_int_equal(symlinkat("victim", d.fd, "f.tmp"), 0);
	assert_int_equal(file_write_atomic(d.fd, d.path, "f", "f.tmp", "safe", 4,
	    0600, err, sizeof(err)), 0);
	assert_int_equal(read_name(&d, "victim", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "keep");
	assert_int_equal(read_name(&d, "f", buf, sizeof(buf)), 4);
	assert_string_equal(buf, "safe");
	dir_close(&d);
}

static void
test_failure_keeps_old(void **state)
{
	struct dir d;
	char err[256] = "", buf[64];

	(void)state;
	dir_open(&d);
	assert_int_equal(file_write_atomic(d.fd, d.path, "f", "f.tmp", "old", 3,
	    0600, err, sizeof(err)), 0);
	/* the rename cannot happen (name is a non-empty directory): the old
	 * file stays, the temporary goes, the message names the step */
	assert_int_equal(mkdirat(d.fd, "dir", 0700), 0);
	assert_int_equal(mkdirat(d.fd, "dir/sub", 0700), 0);
	assert_int_equal(file_write_atomic(d.fd, d.path, "dir", "f.tmp", "new",
	    3, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "rename"));
	assert_non_null(strstr(err, d.path));
	assert_false(exists(&d, "f.tmp"));
	assert_int_equal(read_name(&d, "f", buf, sizeof(buf)), 3);
	assert_string_equal(buf, "old");
	/* a temporary name in a missing directory: refused with a message */
	err[0] = '\0';
	assert_int_equal(file_write_atomic(d.fd, d.path, "f", "nodir/f.tmp",
	    "x", 1, 0600, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "nodir/f.tmp"));
	assert_int_equal(read_name(&d, "f", buf, sizeof(buf)), 3);
	dir_close(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_all),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_stale_and_symlink_tmp),
		cmocka_unit_test(test_failure_keeps_old),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
