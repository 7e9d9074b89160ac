/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * sock.h - CLOEXEC non-blocking sockets: TCP and unix listeners, accept
 * with an fd reserve, non-blocking connect, socket options.
 */
#ifndef SLICER_SOCK_H
#define SLICER_SOCK_H

#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Listen on addr:port (IPv4 or IPv6 text address).  The listener has
 * TCP_NODELAY, which every accepted socket inherits (no call per
 * connection).  -1 on error. */
int sock_tcp_listen(const char *addr, unsigned short port, int backlog);
/* The same; is_reuseport sets SO_REUSEPORT first, so that several
 * sockets of this user share the port (the kernel spreads connections). */
int sock_tcp_listen_opt(const char *addr, unsigned short port, int backlog,
    int is_reuseport);
/* The same, the listener marked with SO_MARK mark (needs CAP_NET_ADMIN)
 * before it binds; every accepted socket inherits the mark. */
int sock_tcp_listen_mark(
    const char *addr, unsigned short port, int backlog, uint32_t mark);
/*
 * Listen on a unix socket at path with mode, owned by uid:gid ((uid_t)-1
 * or (gid_t)-1 leave that part as created).  The socket is bound, given its
 * owner and mode inside a private 0700 directory made next to path, then
 * renamed into place, so a user who may write path's directory cannot turn
 * any of these steps onto another file.  What is at path is replaced only
 * when it is a symbolic link (the link, not what it points to) or a socket
 * nobody accepts on.  Returns the listening fd, or -1 with errno: EEXIST
 * when something else is at path (left as it is), EADDRINUSE when a socket
 * at path accepts connections (another daemon serves it), ENOTSOCK when
 * the private directory or what is at path after the rename is not what was
 * just made (someone replaced it meanwhile), EINVAL for
 * a path without a name, ENAMETOOLONG, or the error of a system call.
 */
int sock_unix_listen(const char *path, unsigned int mode, uid_t uid,
    gid_t gid, int backlog);
/* Blocking connect to a unix socket (for the CLI).  -1 on error. */
int sock_unix_connect(const char *path);
/*
 * accept4 with CLOEXEC|NONBLOCK.  On EMFILE/ENFILE it closes the reserve
 * fd, accepts and closes one connection so the peer sees a close rather
 * than a hang, and reopens the reserve.  Returns the fd or -1.
 */
int sock_accept(int lfd, struct sockaddr *sa, socklen_t *salen);
/* Start a non-blocking connect; returns the fd (connect may be in
 * progress: wait for EPOLLOUT, then sock_connect_result) or -1. */
int sock_connect_start(const struct sockaddr *sa, socklen_t salen);
/* After EPOLLOUT: 0 when connected, else -1 with errno = the error. */
int sock_connect_result(int fd);
void sock_nodelay(int fd);
/* SO_MARK (needs CAP_NET_ADMIN).  0, or -1 with errno. */
int sock_mark(int fd, uint32_t mark);
/*
 * TCP_DEFER_ACCEPT on a listener whose clients always speak first: a
 * connection is handed to accept(2) once its first bytes are in, so the
 * loop wakes once for both.  One that sends nothing is handed over after
 * about secs.  Only an optimisation: errors are ignored.
 */
void sock_defer_accept(int lfd, int secs);

#endif
