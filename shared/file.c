/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * file.c - whole writes and atomic file replacement (see file.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

int
file_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
file_write_atomic(int dfd, const char *where, const char *name,
    const char *tmp, const void *data, size_t len, mode_t mode, char *err,
    size_t errsz)
{
	int fd = -1, rc = -1;

	if (unlinkat(dfd, tmp, 0) == -1 && errno != ENOENT) {
		snprintf(err, errsz, "%s/%s: unlink: %s", where, tmp,
		    strerror(errno));
		goto out;
	}
	fd = openat(dfd, tmp,
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errsz, "%s/%s: %s", where, tmp, strerror(errno));
		goto out;
	}
	if (fchmod(fd, mode) == -1 || file_write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1) {
		snprintf(err, errsz, "%s/%s: write: %s", where, tmp,
		    strerror(errno));
		goto out;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errsz, "%s/%s: close: %s", where, tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, name) == -1) {
		snprintf(err, errsz, "%s/%s: rename: %s", where, name,
		    strerror(errno));
		goto out;
	}
	if (fsync(dfd) == -1) {
		snprintf(err, errsz, "%s: fsync: %s", where, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		unlinkat(dfd, tmp, 0);
	return rc;
}
