/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_sock.c - unit tests for the socket helpers (loopback only).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
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

/* ---- unix listeners ---- */

/* A directory of the test's own under /tmp, and paths in it. */
struct udir {
	char dir[64];
	char path[128];   /* the socket's path: dir/api.sock */
	char victim[128]; /* a file the listener must never change */
};

static void
udir_init(struct udir *u)
{
	snprintf(u->dir, sizeof(u->dir), "/tmp/test_sock.XXXXXX");
	assert_non_null(mkdtemp(u->dir));
	snprintf(u->path, sizeof(u->path), "%s/api.sock", u->dir);
	snprintf(u->victim, sizeof(u->victim), "%s/victim", u->dir);
}

/* Entries in the directory: what the listener leaves behind. */
static int
udir_count(const struct udir *u)
{
	DIR *d = opendir(u->dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Remove what the tests put there (nothing else may be left), then the
 * directory. */
static void
udir_free(struct udir *u)
{
	char p[160];

	unlink(u->path);
	unlink(u->victim);
	snprintf(p, sizeof(p), "%s/moved", u->dir);
	unlink(p);
	assert_int_equal(rmdir(u->dir), 0);
}

static void
write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	assert_int_equal(fchmod(fd, mode), 0);
	close(fd);
}

static void
assert_file_is(const char *path, const char *text, mode_t mode, uid_t uid,
    gid_t gid)
{
	struct stat st;
	char got[64];
	ssize_t n;
	int fd;

	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, mode);
	assert_int_equal(st.st_uid, uid);
	assert_int_equal(st.st_gid, gid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	n = read(fd, got, sizeof(got) - 1);
	close(fd);
	assert_true(n >= 0);
	got[n] = '\0';
	assert_string_equal(got, text);
}

/* The listener at path answers: a connection is accepted on lfd. */
static void
assert_serves(int lfd, const char *path)
{
	int cfd, afd;

	cfd = sock_unix_connect(path);
	assert_true(cfd >= 0);
	wait_ready(lfd, POLLIN);
	afd = sock_accept(lfd, NULL, NULL);
	assert_true(afd >= 0);
	close(afd);
	close(cfd);
}

/* A socket at path that nobody listens on any more (a daemon that died
 * without removing it). */
static void
make_stale(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_true(strlen(path) < sizeof(sun.sun_path));
	memcpy(sun.sun_path, path, strlen(path));
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	assert_int_equal(listen(fd, 1), 0);
	close(fd);
}

/* A group other than ours when we may give one (root), else ours. */
static gid_t
other_gid(void)
{
	return geteuid() == 0 ? (gid_t)4242 : getegid();
}

/* Mode and owner as asked, set before the socket is at its path; nothing
 * else left in the directory. */
static void
test_unix_listen_mode_owner(void **state)
{
	struct udir u;
	struct stat st;
	int lfd;

	(void)state;
	udir_init(&u);
	lfd = sock_unix_listen(u.path, 0600, (uid_t)-1, (gid_t)-1, 8);
	assert_true(lfd >= 0);
	assert_int_equal(lstat(u.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(udir_count(&u), 1);
	assert_serves(lfd, u.path);
	close(lfd);
	unlink(u.path);

	lfd = sock_unix_listen(u.path, 0660, geteuid(), other_gid(), 8);
	assert_true(lfd >= 0);
	assert_int_equal(lstat(u.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_gid, other_gid());
	assert_int_equal(udir_count(&u), 1);
	assert_serves(lfd, u.path);
	close(lfd);
	udir_free(&u);
}

/* A file (or directory) at the path is an operator's mistake: refused, left
 * as it was, and nothing of the attempt left behind. */
static void
test_unix_listen_refuses_non_socket(void **state)
{
	struct udir u;
	struct stat st;

	(void)state;
	udir_init(&u);
	write_file(u.path, "precious", 0644);
	errno = 0;
	assert_int_equal(sock_unix_listen(u.path, 0600, (uid_t)-1, (gid_t)-1,
	    8), -1);
	assert_int_equal(errno, EEXIST);
	assert_file_is(u.path, "precious", 0644, geteuid(), getegid());
	assert_int_equal(udir_count(&u), 1);
	unlink(u.path);

	assert_int_equal(mkdir(u.path, 0755), 0);
	errno = 0;
	assert_int_equal(sock_unix_listen(u.path, 0600, (uid_t)-1, (gid_t)-1,
	    8), -1);
	assert_int_equal(errno, EEXIST);
	assert_int_equal(lstat(u.path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(udir_count(&u), 1);
	assert_int_equal(rmdir(u.path), 0);
	udir_free(&u);
}

/* A socket someone accepts on belongs to a running daemon: a second one is
 * refused and the first keeps its socket. */
static void
test_unix_listen_refuses_live(void **state)
{
	struct udir u;
	struct stat before, after;
	int lfd;

	(void)state;
	udir_init(&u);
	lfd = sock_unix_listen(u.path, 0600, (uid_t)-1, (gid_t)-1, 8);
	assert_true(lfd >= 0);
	assert_int_equal(lstat(u.path, &before), 0);
	errno = 0;
	assert_int_equal(sock_unix_listen(u.path, 0600, (uid_t)-1, (gid_t)-1,
	    8), -1);
	assert_int_equal(errno, EADDRINUSE);
	assert_int_equal(lstat(u.path, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);
	assert_int_equal(udir_count(&u), 1);
	/* the first listener's accept consumed the probe; it still serves */
	assert_serves(lfd, u.path);
	close(lfd);
	udir_free(&u);
}

/* A socket nobody accepts on is left over: replaced. */
static void
test_unix_listen_replaces_stale(void **state)
{
	struct udir u;
	struct stat before, after;
	int lfd;

	(void)state;
	udir_init(&u);
	make_stale(u.path);
	assert_int_equal(lstat(u.path, &before), 0);
	lfd = sock_unix_listen(u.path, 0600, (uid_t)-1, (gid_t)-1, 8);
	assert_true(lfd >= 0);
	assert_int_equal(lstat(u.path, &after), 0);
	assert_true(S_ISSOCK(after.st_mode));
	assert_true(after.st_ino != before.st_ino);
	assert_int_equal(after.st_mode & 07777, 0600);
	assert_int_equal(udir_count(&u), 1);
	assert_serves(lfd, u.path);
	close(lfd);
	udir_free(&u);
}

/* A symlink at the path (put there by whoever may write the directory)
 * is replaced itself: the file it points to keeps its mode, owner and
 * content, and the path becomes the socket. */
static void
test_unix_listen_symlink_at_path(void **state)
{
	struct udir u;
	struct stat st;
	int lfd;

	(void)state;
	udir_init(&u);
	write_file(u.victim, "victim", 0640);
	assert_int_equal(symlink(u.victim, u.path), 0);
	lfd = sock_unix_listen(u.path, 0660, geteuid(), other_gid(), 8);
	assert_true(lfd >= 0);
	assert_file_is(u.victim, "victim", 0640, geteuid(), getegid());
	assert_int_equal(lstat(u.path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, other_gid());
	assert_int_equal(udir_count(&u), 2);
	assert_serves(lfd, u.path);
	close(lfd);
	udir_free(&u);
}

/*
 * Someone who may write the socket's directory wins every race: right after
 * each bind and rename the listener makes, every socket in that directory
 * is moved away and a symlink to the victim put in its place (--wrap of
 * bind and the renames).  The victim keeps its mode, owner and content;
 * the listener either serves at a socket of its own or fails.
 */
static const char *race_dir; /* the attacker acts when set */
static const char *race_victim;
static int race_swaps;

static void
race_attack(void)
{
	char p[PATH_MAX], moved[PATH_MAX];
	const char *dir = race_dir, *victim = race_victim;
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (dir == NULL)
		return;
	race_dir = NULL; /* not again from the calls below */
	d = opendir(dir);
	assert_non_null(d);
	snprintf(moved, sizeof(moved), "%s/moved", dir);
	while ((e = readdir(d)) != NULL) {
		if ((size_t)snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >=
		    sizeof(p))
			continue;
		if (lstat(p, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    strcmp(p, moved) != 0) {
			unlink(moved);
			assert_int_equal(rename(p, moved), 0);
			assert_int_equal(symlink(victim, p), 0);
			race_swaps++;
		}
	}
	closedir(d);
	race_dir = dir;
}

int __real_bind(int fd, const struct sockaddr *sa, socklen_t len);
int __wrap_bind(int fd, const struct sockaddr *sa, socklen_t len);
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);
int __real_renameat(int fd1, const char *from, int fd2, const char *to);
int __wrap_renameat(int fd1, const char *from, int fd2, const char *to);
int __real_renameat2(int fd1, const char *from, int fd2, const char *to,
    unsigned int flags);
int __wrap_renameat2(int fd1, const char *from, int fd2, const char *to,
    unsigned int flags);

int
__wrap_bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	int rc = __real_bind(fd, sa, len), saved = errno;

	race_attack();
	errno = saved;
	return rc;
}

int
__wrap_rename(const char *from, const char *to)
{
	int rc = __real_rename(from, to), saved = errno;

	race_attack();
	errno = saved;
	return rc;
}

int
__wrap_renameat(int fd1, const char *from, int fd2, const char *to)
{
	int rc = __real_renameat(fd1, from, fd2, to), saved = errno;

	race_attack();
	errno = saved;
	return rc;
}

int
__wrap_renameat2(int fd1, const char *from, int fd2, const char *to,
    unsigned int flags)
{
	int rc = __real_renameat2(fd1, from, fd2, to, flags), saved = errno;

	race_attack();
	errno = saved;
	return rc;
}

static void
test_unix_listen_race_in_directory(void **state)
{
	struct udir u;
	struct stat st;
	int lfd;

	(void)state;
	udir_init(&u);
	write_file(u.victim, "victim", 0640);
	race_victim = u.victim;
	race_swaps = 0;
	race_dir = u.dir;
	errno = 0;
	lfd = sock_unix_listen(u.path, 0660, geteuid(), other_gid(), 8);
	race_dir = NULL;
	assert_true(race_swaps > 0); /* the attacker did act */
	assert_file_is(u.victim, "victim", 0640, geteuid(), getegid());
	if (lfd == -1) {
		assert_int_equal(errno, ENOTSOCK);
	} else {
		assert_int_equal(lstat(u.path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		close(lfd);
	}
	/* no private directory left: victim, path and what was moved */
	assert_true(udir_count(&u) <= 3);
	udir_free(&u);
}

/* Paths that name no socket, or do not fit sun_path. */
static void
test_unix_listen_bad_path(void **state)
{
	char longp[200];

	(void)state;
	errno = 0;
	assert_int_equal(sock_unix_listen("", 0600, (uid_t)-1, (gid_t)-1, 8),
	    -1);
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_int_equal(sock_unix_listen("/tmp/", 0600, (uid_t)-1,
	    (gid_t)-1, 8), -1);
	assert_int_equal(errno, EINVAL);
	memset(longp, 'a', sizeof(longp) - 1);
	longp[0] = '/';
	longp[sizeof(longp) - 1] = '\0';
	errno = 0;
	assert_int_equal(sock_unix_listen(longp, 0600, (uid_t)-1, (gid_t)-1,
	    8), -1);
	assert_int_equal(errno, ENAMETOOLONG);
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
	    cmocka_unit_test(test_unix_listen_mode_owner),
	    cmocka_unit_test(test_unix_listen_refuses_non_socket),
	    cmocka_unit_test(test_unix_listen_refuses_live),
	    cmocka_unit_test(test_unix_listen_replaces_stale),
	    cmocka_unit_test(test_unix_listen_symlink_at_path),
	    cmocka_unit_test(test_unix_listen_race_in_directory),
	    cmocka_unit_test(test_unix_listen_bad_path),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
