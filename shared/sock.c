/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sock.c - socket helpers (see sock.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <stdatomic.h>
#include <unistd.h>

#include "sock.h"

/* one per process; threads take it in turn (whoever finds it spends it) */
static atomic_int sock_reserve_fd = -1;

static void
sock_reserve_open(void)
{
	int fd, none = -1;

	if (atomic_load(&sock_reserve_fd) != -1)
		return;
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd != -1 &&
	    !atomic_compare_exchange_strong(&sock_reserve_fd, &none, fd))
		close(fd);
}

static int
sock_tcp_listen_with(const char *addr, unsigned short port, int backlog,
    int is_reuseport, uint32_t mark)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	int fd, one = 1;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sslen = sizeof(*sin);
	} else if (inet_pton(AF_INET6, addr,
	    &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sslen = sizeof(*sin6);
	} else {
		errno = EINVAL;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (is_reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	/* the mark before bind: the port is never held without it.
	 * TCP_NODELAY is inherited by every accepted socket: a relay's small
	 * writes must not wait for the peer's delayed ACK */
	if ((mark != 0 && sock_mark(fd, mark) == -1) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    bind(fd, (struct sockaddr *)&ss, sslen) == -1 ||
	    listen(fd, backlog) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	sock_reserve_open();
	return fd;
}

int
sock_tcp_listen(const char *addr, unsigned short port, int backlog)
{
	return sock_tcp_listen_with(addr, port, backlog, 0, 0);
}

int
sock_tcp_listen_opt(const char *addr, unsigned short port, int backlog,
    int is_reuseport)
{
	return sock_tcp_listen_with(addr, port, backlog, is_reuseport, 0);
}

int
sock_tcp_listen_mark(
    const char *addr, unsigned short port, int backlog, uint32_t mark)
{
	return sock_tcp_listen_with(addr, port, backlog, 0, mark);
}

/* The private directory made next to the socket's path, and the socket's
 * name inside it: short, so that a path with a name of ten or more
 * characters fits sun_path this way too. */
#define SOCK_PRIV_TEMPLATE ".sock.XXXXXX"
#define SOCK_PRIV_NAME "s"

/*
 * What is at base (in the directory pfd; path names the same place) before
 * a socket is put there.  0 when nothing is (*is_empty set) or something
 * that may be replaced: a symbolic link (the rename replaces the link, never
 * what it points to) or a socket nobody accepts on (left by a daemon that
 * ended without removing it).  -1 with errno EEXIST for anything else (a
 * file, a directory), EADDRINUSE for a socket that accepts a connection,
 * or the error of the look-up.
 */
static int
sock_unix_check_old(int pfd, const char *base, const char *path,
    int *is_empty)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd = -1, rc = -1, saved;

	*is_empty = 0;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == -1) {
		if (errno == ENOENT) {
			*is_empty = 1;
			rc = 0;
		}
		goto out;
	}
	if (S_ISLNK(st.st_mode)) {
		rc = 0;
		goto out;
	}
	if (!S_ISSOCK(st.st_mode)) {
		errno = EEXIST;
		goto out;
	}
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path)); /* length checked by caller */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto out;
	/* non-blocking: a live daemon with a full backlog answers EAGAIN */
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0 ||
	    errno == EAGAIN || errno == EINPROGRESS) {
		errno = EADDRINUSE;
		goto out;
	}
	if (errno == ECONNREFUSED || errno == ENOENT)
		rc = 0;
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	errno = saved;
	return rc;
}

int
sock_unix_listen(const char *path, unsigned int mode, uid_t uid, gid_t gid,
    int backlog)
{
	struct sockaddr_un sun;
	struct stat st, made;
	char priv[sizeof(sun.sun_path)];
	const char *slash, *base, *privname = NULL;
	size_t plen, dlen;
	int fd = -1, pfd = -1, dfd = -1, is_empty, is_renamed = 0, rc = -1;
	int n, saved;

	plen = strlen(path);
	slash = strrchr(path, '/');
	base = slash != NULL ? slash + 1 : path;
	if (plen == 0 || *base == '\0' || strcmp(base, ".") == 0 ||
	    strcmp(base, "..") == 0) {
		errno = EINVAL;
		return -1;
	}
	if (plen >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	dlen = slash != NULL ? (size_t)(base - path) : 0;
	/* the directory the socket goes in, "dir/" ("/" for the root) */
	n = snprintf(priv, sizeof(priv), "%.*s", (int)dlen, path);
	if (n < 0 || (size_t)n >= sizeof(priv)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	pfd = open(dlen > 0 ? priv : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (pfd == -1 || sock_unix_check_old(pfd, base, path, &is_empty) == -1)
		goto out;
	/*
	 * Everything that follows symlinks or could meet a name swapped by
	 * whoever may write the socket's directory happens inside a directory
	 * of our own, mode 0700, in the same directory (so the rename stays on
	 * one filesystem): bind, owner, mode.  Then one rename puts the socket
	 * in place; it replaces what is at path (a link itself, never what it
	 * points to).  No umask is needed: no one reaches the socket before
	 * its mode is set.
	 */
	n = snprintf(priv, sizeof(priv), "%.*s%s", (int)dlen, path,
	    SOCK_PRIV_TEMPLATE);
	if (n < 0 || (size_t)n + strlen("/" SOCK_PRIV_NAME) >= sizeof(priv)) {
		errno = ENAMETOOLONG;
		goto out;
	}
	if (mkdtemp(priv) == NULL)
		goto out;
	privname = priv + dlen;
	dfd = openat(pfd, privname, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (dfd == -1 || fstat(dfd, &st) == -1)
		goto out;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0) {
		/* not the directory just made: it was moved and replaced */
		errno = ENOTSOCK;
		goto out;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto out;
	/* bound through the directory's descriptor, so that a name swapped
	 * in the socket's directory meanwhile cannot send the bind elsewhere;
	 * by name only where /proc is missing (an empty chroot) */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/%s",
	    dfd, SOCK_PRIV_NAME);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path) ||
	    bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		if (n > 0 && (size_t)n < sizeof(sun.sun_path) &&
		    errno != ENOENT)
			goto out;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", priv,
		    SOCK_PRIV_NAME);
		if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
			errno = ENAMETOOLONG;
			goto out;
		}
		if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1)
			goto out;
	}
	if (listen(fd, backlog) == -1)
		goto out;
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(dfd, SOCK_PRIV_NAME, uid, gid, AT_SYMLINK_NOFOLLOW) == -1)
		goto out;
	if (fchmodat(dfd, SOCK_PRIV_NAME, mode, 0) == -1 ||
	    fstatat(dfd, SOCK_PRIV_NAME, &made, AT_SYMLINK_NOFOLLOW) == -1)
		goto out;
	if (!S_ISSOCK(made.st_mode) || (made.st_mode & 07777) != mode ||
	    (uid != (uid_t)-1 && made.st_uid != uid) ||
	    (gid != (gid_t)-1 && made.st_gid != gid)) {
		/* nothing but us writes there: a broken invariant */
		errno = ENOTSOCK;
		goto out;
	}
	/* where nothing was, nothing may be replaced: of two daemons started
	 * at once on one path, the second fails here */
	n = -1;
	if (is_empty)
		n = renameat2(dfd, SOCK_PRIV_NAME, pfd, base, RENAME_NOREPLACE);
	/* a filesystem without RENAME_NOREPLACE: a plain rename */
	if (!is_empty || (n == -1 && (errno == EINVAL || errno == ENOSYS)))
		n = renameat(dfd, SOCK_PRIV_NAME, pfd, base);
	if (n == -1)
		goto out;
	is_renamed = 1;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == -1)
		goto out;
	if (!S_ISSOCK(st.st_mode) || st.st_ino != made.st_ino ||
	    st.st_dev != made.st_dev || st.st_uid != made.st_uid ||
	    st.st_gid != made.st_gid || st.st_mode != made.st_mode) {
		/* replaced as soon as it was put there: not ours to remove */
		errno = ENOTSOCK;
		goto out;
	}
	rc = 0;
out:
	saved = errno;
	if (privname != NULL) {
		if (!is_renamed && dfd != -1)
			(void)unlinkat(dfd, SOCK_PRIV_NAME, 0);
		(void)unlinkat(pfd, privname, AT_REMOVEDIR);
	}
	if (dfd != -1)
		close(dfd);
	if (pfd != -1)
		close(pfd);
	if (rc == -1) {
		if (fd != -1)
			close(fd);
		fd = -1;
	} else {
		sock_reserve_open();
	}
	errno = saved;
	return fd;
}

int
sock_unix_connect(const char *path)
{
	struct sockaddr_un sun;
	int fd;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
sock_accept(int lfd, struct sockaddr *sa, socklen_t *salen)
{
	int fd, reserve;

	fd = accept4(lfd, sa, salen, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd == -1 && (errno == EMFILE || errno == ENFILE) &&
	    (reserve = atomic_exchange(&sock_reserve_fd, -1)) != -1) {
		int saved = errno, shed;

		close(reserve);
		shed = accept(lfd, NULL, NULL);
		if (shed != -1)
			close(shed);
		sock_reserve_open();
		errno = saved;
	}
	return fd;
}

int
sock_connect_start(const struct sockaddr *sa, socklen_t salen)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);

	if (fd == -1)
		return -1;
	if (connect(fd, sa, salen) == -1 && errno != EINPROGRESS) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int
sock_connect_result(int fd)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		return -1;
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}

int
sock_mark(int fd, uint32_t mark)
{
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
}

void
sock_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void
sock_defer_accept(int lfd, int secs)
{
	setsockopt(lfd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs, sizeof(secs));
}
