/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * front.c - TLS proxy port: client TLS <-> socketpair <-> struct conn.
 *
 * The client's TLS session ends here (certificate from the proxy's CA with
 * the bind address in its SAN).  The plaintext goes through a socketpair to
 * a struct conn that sees a plain proxy client, with the real peer address
 * for the audit log.  A close on either side is passed on to the other.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "front.h"
#include "worker.h"
#include "slicer_limits.h"
#include "log.h"
#include "sock.h"
#include "xport.h"

struct front {
	struct worker *w;        /* the loop it lives on; borrowed */
	struct front *next, *prev; /* w->fronts */
	int fd;                  /* client socket */
	struct ev_io io;
	struct xport x;
	int sp;                  /* our end of the socketpair */
	struct conn *conn;       /* at the other end; NULL once it closed */
	struct ev_io spio;
	struct buf to_sp;        /* decrypted from the client */
	struct buf to_client;    /* from the connection, to encrypt */
	int is_handshaken;
	int is_client_eof, is_sp_eof, is_sp_shut, is_client_shut;
	int is_closed;
	struct ev_timer timer;   /* handshake deadline; once the connection
				  * is gone, the deadline for the rest */
};

/*
 * The connection behind a front holds the VM's slot of the peer limit and
 * of the proxy's connection count; once it has closed, the front holds
 * two descriptors counted nowhere.  It passes on what is left and the
 * end, then goes when its client makes no progress for this long (reads
 * nothing, or keeps its socket open after the end).
 */
#define FRONT_ORPHAN_IDLE_MS 5000

static void front_drive(struct front *f);

static void
front_free(void *p)
{
	struct front *f = p;

	buf_release(&f->to_sp);
	buf_release(&f->to_client);
	free(f);
}

static void
front_close(struct front *f)
{
	if (f->is_closed)
		return;
	f->is_closed = 1;
	if (f->conn != NULL) {
		f->conn->front = NULL;
		f->conn = NULL;
	}
	ev_timer_stop(f->w->ev, &f->timer);
	xport_reset(&f->x, 1);
	ev_io_del(f->w->ev, &f->io);
	ev_io_del(f->w->ev, &f->spio);
	close(f->fd);
	close(f->sp);
	if (f->prev)
		f->prev->next = f->next;
	else
		f->w->fronts = f->next;
	if (f->next)
		f->next->prev = f->prev;
	ev_defer_free(f->w->ev, front_free, f);
}

/*
 * The client's connection failed (a reset, a TLS error, an end without
 * close_notify): its connection ends as on a reset of its own client
 * socket, not with the end of stream closing the socketpair would pass.
 */
static void
front_client_cut(struct front *f)
{
	struct conn *c = f->conn;

	front_close(f);
	if (c != NULL)
		conn_client_reset(c);
}

void
front_conn_closed(struct front *f, int is_abort)
{
	static const struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	f->conn = NULL;
	if (!is_abort) {
		/* its end of stream comes through the socketpair */
		ev_timer_arm(f->w->ev, &f->timer, FRONT_ORPHAN_IDLE_MS);
		return;
	}
	(void)setsockopt(f->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	xport_reset(&f->x, 0);
	front_close(f);
}

static void
front_update(struct front *f)
{
	uint32_t ce = 0, se = 0;

	if (!f->is_handshaken) {
		ce = f->x.want_write ? EPOLLOUT : EPOLLIN;
	} else {
		if (!f->is_client_eof && buf_room(&f->to_sp) > 0)
			ce |= EPOLLIN;
		if (f->to_client.len > 0)
			ce |= EPOLLOUT;
		if (f->x.want_read)
			ce |= EPOLLIN;
		if (f->x.want_write)
			ce |= EPOLLOUT;
		if (!f->is_sp_eof && buf_room(&f->to_client) > 0)
			se |= EPOLLIN;
		if (f->to_sp.len > 0)
			se |= EPOLLOUT;
	}
	/* nothing wanted: edge-triggered, so that EPOLLHUP and EPOLLERR,
	 * reported whatever is asked for, wake the loop once, not forever */
	ev_io_set(f->w->ev, &f->io, ce != 0 ? ce : EPOLLET);
	ev_io_set(f->w->ev, &f->spio, se != 0 ? se : EPOLLET);
}

static void
front_drive(struct front *f)
{
	ssize_t n;
	int rounds;

	if (!f->is_handshaken) {
		int rc = xport_handshake(&f->x);

		if (rc == -1) {
			char msg[200];

			log_debug("tls port: handshake failed: %s",
			    xport_error(&f->x, msg, sizeof(msg)));
			front_close(f);
			return;
		}
		if (rc == 0) {
			front_update(f);
			return;
		}
		f->is_handshaken = 1;
		ev_timer_stop(f->w->ev, &f->timer);
	}
	for (rounds = 0; rounds < 8; rounds++) {
		int progress = 0;

		if (!f->is_client_eof && buf_room(&f->to_sp) > 0) {
			n = xport_read(&f->x, &f->to_sp);
			if (n > 0)
				progress = 1;
			else if (n == 0)
				f->is_client_eof = 1;
			else if (errno != EAGAIN && errno != ENOBUFS) {
				front_client_cut(f);
				return;
			}
		}
		if (f->to_sp.len > 0) {
			n = buf_write_fd(&f->to_sp, f->sp);
			if (n > 0)
				progress = 1;
			else if (n == -1 && errno != EAGAIN) {
				front_close(f);
				return;
			}
		}
		if (!f->is_sp_eof && buf_room(&f->to_client) > 0) {
			n = buf_read_fd(&f->to_client, f->sp);
			if (n > 0)
				progress = 1;
			else if (n == 0)
				f->is_sp_eof = 1;
			else if (errno != EAGAIN && errno != ENOBUFS) {
				front_close(f);
				return;
			}
		}
		if (f->to_client.len > 0) {
			n = xport_write(&f->x, &f->to_client);
			if (n > 0)
				progress = 1;
			else if (n == -1 && errno != EAGAIN) {
				front_client_cut(f);
				return;
			}
		}
		if (progress && f->conn == NULL)
			/* orphaned: moving on, so not idle */
			ev_timer_arm(f->w->ev, &f->timer, FRONT_ORPHAN_IDLE_MS);
		if (!progress && !xport_pending(&f->x))
			break;
	}
	if (f->is_client_eof && f->to_sp.len == 0 && !f->is_sp_shut) {
		shutdown(f->sp, SHUT_WR);
		f->is_sp_shut = 1;
	}
	/* each end passed on alone (close_notify, then FIN): the other
	 * direction goes on until its own end */
	if (f->is_sp_eof && f->to_client.len == 0 && !f->is_client_shut) {
		xport_shutdown(&f->x);
		shutdown(f->fd, SHUT_WR);
		f->is_client_shut = 1;
	}
	if (f->is_client_shut && f->is_sp_shut) {
		front_close(f);
		return;
	}
	if (f->to_sp.len == 0)
		buf_release(&f->to_sp);
	if (f->to_client.len == 0)
		buf_release(&f->to_client);
	front_update(f);
}

static void
front_io_cb(struct ev_io *io, uint32_t events)
{
	struct front *f = io->arg;

	/* the client reset after its end: nothing of it is left to pass
	 * on, and no read would see the error */
	if ((events & EPOLLERR) && io == &f->io && f->is_client_eof &&
	    sock_connect_result(f->fd) == -1) {
		front_close(f);
		return;
	}
	front_drive(f);
}

static void
front_timer_cb(struct ev_timer *t)
{
	front_close(t->arg);
}

void
front_accept(struct worker *w, int fd, const struct sockaddr *peer)
{
	struct proxy *px = w->px;
	struct front *f;
	SSL *ssl = NULL;
	int sv[2];

	proxy_judge_lock(px); /* the main loop renews front_ctx */
	if (px->front_ctx != NULL)
		ssl = SSL_new(px->front_ctx);
	proxy_judge_unlock(px);
	if (ssl == NULL) {
		close(fd);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		SSL_free(ssl);
		close(fd);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL) {
		SSL_free(ssl);
		close(sv[0]);
		close(sv[1]);
		close(fd);
		return;
	}
	f->w = w;
	f->fd = fd;
	f->sp = sv[0];
	buf_init(&f->to_sp, LIMIT_RELAY_BACKLOG);
	buf_init(&f->to_client, LIMIT_RELAY_BACKLOG);
	xport_init(&f->x, fd);
	xport_set_ssl(&f->x, ssl);
	SSL_set_accept_state(ssl);
	ev_io_init(&f->io, front_io_cb, f);
	ev_io_init(&f->spio, front_io_cb, f);
	ev_timer_init(&f->timer, front_timer_cb, f);
	if (ev_io_add(w->ev, &f->io, fd, EPOLLIN) == -1 ||
	    ev_io_add(w->ev, &f->spio, f->sp, 0) == -1) {
		ev_io_del(w->ev, &f->io);
		xport_reset(&f->x, 0);
		close(sv[0]);
		close(sv[1]);
		close(fd);
		free(f);
		return;
	}
	f->next = w->fronts;
	if (w->fronts)
		w->fronts->prev = f;
	w->fronts = f;
	ev_timer_arm(w->ev, &f->timer, LIMIT_HEAD_TIMEOUT_MS);
	f->conn = conn_accept(w, sv[1], peer);
	if (f->conn == NULL) {
		/* refused (the proxy is full, or the address holds its most
		 * and its refusals): no handshake, nothing kept */
		front_close(f);
		return;
	}
	conn_set_front(f->conn, f);
	front_drive(f);
}

void
front_close_all(struct worker *w)
{
	while (w->fronts != NULL)
		front_close(w->fronts);
}
