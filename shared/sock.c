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

int
sock_unix_listen(const char *path, unsigned int mode, int backlog)
{
	struct sockaddr_un sun;
	char tmp[sizeof(sun.sun_path)];
	mode_t old;
	int fd, rc, n;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	/* bound and listening under a temporary name first, then renamed:
	 * a client that sees the path never gets ECONNREFUSED */
	n = snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, tmp);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	unlink(tmp);
	old = umask(0777 & ~mode);
	rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc == -1 || chmod(tmp, mode) == -1 || listen(fd, backlog) == -1 ||
	    rename(tmp, path) == -1) {
		int saved = errno;

		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	sock_reserve_open();
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
