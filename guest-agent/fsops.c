/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fsops.c - files and tools under a root directory (see fsops.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsops.h"
#include "parse.h"

int
fsops_join(const char *root, const char *rel, char *out, size_t size)
{
	int n;

	if (strcmp(root, "/") == 0)
		root = "";
	n = snprintf(out, size, "%s%s", root, rel);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
fsops_read(const char *path, size_t max, char **data, size_t *len,
    mode_t *mode)
{
	struct stat st;
	char *p = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, rc = -1, e = 0;

	*data = NULL;
	*len = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1) {
		e = errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		e = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		goto out;
	}
	if ((size_t)st.st_size > max) {
		e = EFBIG;
		goto out;
	}
	p = malloc((size_t)st.st_size + 1);
	if (p == NULL) {
		e = ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, p + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n == 0 ? EIO : errno;
			goto out;
		}
		got += (size_t)n;
	}
	p[got] = '\0';
	if (mode != NULL)
		*mode = st.st_mode & 07777;
	*data = p;
	*len = got;
	p = NULL;
	rc = 0;
out:
	free(p);
	close(fd);
	if (rc == -1)
		errno = e;
	return rc;
}

int
fsops_write(const char *path, const void *data, size_t len, mode_t mode)
{
	char tmp[FSOPS_PATH_MAX + 32];
	const char *p = data;
	size_t done = 0;
	ssize_t n;
	int fd, rc = -1, e = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.slicer-tmp.%d", path,
		(int)getpid()) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1)
		return -1;
	while (done < len) {
		n = write(fd, p + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n == 0 ? EIO : errno;
			goto out;
		}
		done += (size_t)n;
	}
	if (fchmod(fd, mode) == -1 || fsync(fd) == -1) {
		e = errno;
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		e = errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		e = errno;
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1) {
		unlink(tmp);
		errno = e;
	}
	return rc;
}

int
fsops_is_file(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int
fsops_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int
fsops_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int
fsops_find_tool(const char *root, const char *name, char *out, size_t size)
{
	static const char *const dirs[] = {"/usr/local/sbin", "/usr/local/bin",
	    "/usr/sbin", "/usr/bin", "/sbin", "/bin"};
	char rel[FSOPS_PATH_MAX], abs[FSOPS_PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		if (snprintf(rel, sizeof(rel), "%s/%s", dirs[i], name) >=
			(int)sizeof(rel) ||
		    fsops_join(root, rel, abs, sizeof(abs)) == -1)
			continue;
		/* a symlink inside the root may point at an absolute path
		 * meant for the root: accept it when it exists at all */
		if (lstat(abs, &st) == -1)
			continue;
		if (S_ISREG(st.st_mode) && !(st.st_mode & 0111))
			continue;
		if (S_ISDIR(st.st_mode))
			continue;
		if ((size_t)snprintf(out, size, "%s", rel) >= size)
			continue;
		return 0;
	}
	errno = ENOENT;
	return -1;
}

/* /dev/null, opened before fsops_enter_root (an image may have none) */
static int fsops_devnull = -1;

int
fsops_enter_root(const char *root)
{
	if (fsops_devnull == -1)
		fsops_devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (chroot(root) == -1 || chdir("/") == -1)
		return -1;
	return 0;
}

/* In the child: never returns. */
static void
fsops_child(const char *root, const char *const argv[], int outfd)
{
	static char *const env[] = {
	    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	    "LANG=C", "LC_ALL=C", NULL};
	int nul;

	nul = fsops_devnull != -1 ? dup(fsops_devnull) :
				     open("/dev/null", O_RDONLY);
	if (nul != -1) {
		dup2(nul, 0);
		if (nul != 0)
			close(nul);
	}
	dup2(outfd, 1);
	dup2(outfd, 2);
	if (outfd > 2)
		close(outfd);
	if (strcmp(root, "/") != 0 && (chroot(root) == -1 || chdir("/") == -1))
		_exit(126);
	if (strcmp(root, "/") == 0 && chdir("/") == -1)
		_exit(126);
	execve(argv[0], (char *const *)argv, env);
	_exit(127);
}

int
fsops_run(const char *root, const char *const argv[], char *out, size_t outsz)
{
	int64_t deadline = parse_mono_ms() + FSOPS_RUN_TIMEOUT_MS;
	char sink[512];
	size_t got = 0;
	int pfd[2], status, rc = -1, e = 0, killed = 0;
	pid_t pid;

	if (out != NULL && outsz > 0)
		out[0] = '\0';
	if (pipe2(pfd, O_CLOEXEC) == -1)
		return -1;
	pid = fork();
	if (pid == -1) {
		e = errno;
		close(pfd[0]);
		close(pfd[1]);
		errno = e;
		return -1;
	}
	if (pid == 0) {
		close(pfd[0]);
		fsops_child(root, argv, pfd[1]);
	}
	close(pfd[1]);
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int64_t left = deadline - parse_mono_ms();
		ssize_t n;

		if (left <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left)) <= 0)
			continue;
		if (out != NULL && got + 1 < outsz)
			n = read(pfd[0], out + got, outsz - got - 1);
		else
			n = read(pfd[0], sink, sizeof(sink));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (out != NULL && got + 1 < outsz && n > 0) {
			got += (size_t)n;
			out[got] = '\0';
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1) {
		if (errno != EINTR) {
			e = errno;
			goto out;
		}
	}
	if (killed) {
		e = ETIMEDOUT;
		goto out;
	}
	if (WIFEXITED(status)) {
		rc = WEXITSTATUS(status);
		if (rc == 127) {
			rc = -1;
			e = ENOEXEC;
		}
	} else {
		e = EINTR;
	}
out:
	if (rc == -1)
		errno = e;
	return rc;
}
