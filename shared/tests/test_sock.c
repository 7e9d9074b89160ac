/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_sock.c - unit tests for the socket helpers (loopback only).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "sock.h"

static int
nodelay_of(int fd)
{
	int v = -1;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	return v;
}

static unsigned short
port_of(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* Wait (bounded) until fd is ready for events. */
static void
wait_ready(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	assert_int_equal(poll(&p, 1, 5000), 1);
}

/* A connection to the listener at addr:port: the accepted socket's fd
 * (the client's in *cfd). */
static int
accept_one(int lfd, const struct sockaddr *sa, socklen_t salen, int *cfd)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int afd;

	*cfd = sock_connect_start(sa, salen);
	assert_true(*cfd >= 0);
	wait_ready(lfd, POLLIN);
	afd = sock_accept(lfd, (struct sockaddr *)&peer, &plen);
	assert_true(afd >= 0);
	wait_ready(*cfd, POLLOUT);
	assert_int_equal(sock_connect_result(*cfd), 0);
	return afd;
}

/* Accepted sockets have TCP_NODELAY from the listener, with no call of
 * their own (a relay's small writes must not wait for a delayed ACK). */
static void
test_accepted_inherit_nodelay(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int lfd, afd, cfd;

	(void)state;
	lfd = sock_tcp_listen("127.0.0.1", 0, 16);
	assert_true(lfd >= 0);
	assert_int_equal(nodelay_of(lfd), 1);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port_of(lfd));
	afd = accept_one(lfd, (struct sockaddr *)&sin, sizeof(sin), &cfd);
	assert_int_equal(nodelay_of(afd), 1);
	/* a socket of our own making does not have it unless asked */
	assert_int_equal(nodelay_of(cfd), 0);
	sock_nodelay(cfd);
	assert_int_equal(nodelay_of(cfd), 1);
	close(afd);
	close(cfd);
	close(lfd);
}

static void
test_accepted_inherit_nodelay_v6(void **state)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	int lfd, afd, cfd;

	(void)state;
	lfd = sock_tcp_listen_opt("::1", 0, 16, 1);
	if (lfd == -1 && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT))
		skip(); /* no IPv6 loopback here */
	assert_true(lfd >= 0);
	sin6.sin6_addr = in6addr_loopback;
	sin6.sin6_port = htons(port_of(lfd));
	afd = accept_one(lfd, (struct sockaddr *)&sin6, sizeof(sin6), &cfd);
	assert_int_equal(nodelay_of(afd), 1);
	close(afd);
	close(cfd);
	close(lfd);
}

static uint32_t
mark_of(int fd)
{
	uint32_t v = 0;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_MARK, &v, &len), 0);
	return v;
}

/* A marked listener (SO_MARK needs CAP_NET_ADMIN: skipped without it)
 * hands its mark to every accepted socket, which the agent's input guard
 * relies on for every packet after the handshake. */
static void
test_accepted_inherit_mark(void **state)
{
	const uint32_t mark = 0x534c4900u;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int lfd, afd, cfd;

	(void)state;
	lfd = sock_tcp_listen_mark("127.0.0.1", 0, 16, mark);
	if (lfd == -1 && errno == EPERM)
		skip();
	assert_true(lfd >= 0);
	assert_int_equal(mark_of(lfd), mark);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port_of(lfd));
	afd = accept_one(lfd, (struct sockaddr *)&sin, sizeof(sin), &cfd);
	assert_int_equal(mark_of(afd), mark);
	assert_int_equal(mark_of(cfd), 0);
	assert_int_equal(sock_mark(cfd, 7), 0);
	assert_int_equal(mark_of(cfd), 7);
	close(afd);
	close(cfd);
	close(lfd);
}

static void
test_listen_bad_address(void **state)
{
	(void)state;
	errno = 0;
	assert_int_equal(sock_tcp_listen("not-an-address", 0, 16), -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(sock_tcp_listen("127.0.0.1 ", 0, 16), -1);
	assert_int_equal(errno, EINVAL);
}

/* A refused connect reports its error through sock_connect_result. */
static void
test_connect_refused(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int lfd, fd;

	(void)state;
	/* a port nobody listens on: one that was just closed */
	lfd = sock_tcp_listen("127.0.0.1", 0, 1);
	assert_true(lfd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port_of(lfd));
	close(lfd);
	fd = sock_connect_start((struct sockaddr *)&sin, sizeof(sin));
	if (fd == -1) {
		/* refused at once */
		assert_int_equal(errno, ECONNREFUSED);
		return;
	}
	wait_ready(fd, POLLOUT);
	errno = 0;
	assert_int_equal(sock_connect_result(fd), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted_inherit_nodelay),
	    cmocka_unit_test(test_accepted_inherit_nodelay_v6),
	    cmocka_unit_test(test_accepted_inherit_mark),
	    cmocka_unit_test(test_listen_bad_address),
	    cmocka_unit_test(test_connect_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
