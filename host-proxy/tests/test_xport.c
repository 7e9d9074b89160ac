/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_xport.c - the transport's read: is_drained, which lets a
 * connection wait for epoll instead of reading on to EAGAIN, is set only
 * when nothing the peer sent is held where epoll cannot see it.  Plain:
 * a read that got less than it asked for.  TLS: a record that ended short
 * with nothing decrypted left in OpenSSL (read-ahead off, so the next
 * record is still in the socket, where poll(2) reports it).
 */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../shared/tests/testcert.h"
#include "buf.h"
#include "xport.h"

static int
is_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void
pair_open(int sv[2])
{
	int big = 1 << 20;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0, sv), 0);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
}

static void
write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = write(fd, c, n);

		assert_true(w > 0);
		c += w;
		n -= (size_t)w;
	}
}

static void
test_plain(void **state)
{
	static char big[100000];
	struct xport x;
	struct buf b;
	int sv[2];

	(void)state;
	pair_open(sv);
	xport_init(&x, sv[0]);
	buf_init(&b, 1 << 20);

	write_all(sv[1], "0123456789", 10);
	assert_int_equal(xport_read(&x, &b), 10);
	assert_true(x.is_drained);
	assert_false(is_readable(sv[0]));

	/* a read that fills what it asked for may have left more */
	memset(big, 'x', sizeof(big));
	write_all(sv[1], big, sizeof(big));
	assert_int_equal(xport_read(&x, &b), BUF_READ_MAX);
	assert_false(x.is_drained);
	assert_int_equal(xport_read(&x, &b), sizeof(big) - BUF_READ_MAX);
	assert_true(x.is_drained);

	buf_release(&b);
	close(sv[0]);
	close(sv[1]);
}

struct tls_pair {
	int sv[2];
	SSL_CTX *sctx, *cctx;
	SSL *server;       /* on sv[1], driven directly */
	struct xport x;    /* the client, on sv[0] */
};

static void
tls_pair_open(struct tls_pair *t)
{
	int i, is_c_done = 0, is_s_done = 0;

	memset(t, 0, sizeof(*t));
	pair_open(t->sv);
	t->sctx = SSL_CTX_new(TLS_server_method());
	t->cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(t->sctx);
	assert_non_null(t->cctx);
	free(tls_make_cert(t->sctx));
	SSL_CTX_set_verify(t->cctx, SSL_VERIFY_NONE, NULL);
	t->server = SSL_new(t->sctx);
	assert_non_null(t->server);
	SSL_set_fd(t->server, t->sv[1]);
	SSL_set_accept_state(t->server);
	xport_init(&t->x, t->sv[0]);
	xport_set_ssl(&t->x, SSL_new(t->cctx));
	assert_non_null(t->x.ssl);
	SSL_set_connect_state(t->x.ssl);
	for (i = 0; i < 100 && !(is_c_done && is_s_done); i++) {
		if (!is_c_done) {
			int rc = xport_handshake(&t->x);

			assert_int_not_equal(rc, -1);
			is_c_done = rc == 1;
		}
		if (!is_s_done) {
			int rc = SSL_do_handshake(t->server);

			is_s_done = rc == 1;
			if (rc != 1) {
				int e = SSL_get_error(t->server, rc);

				assert_true(e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE);
			}
		}
	}
	assert_true(is_c_done && is_s_done);
}

static void
tls_pair_close(struct tls_pair *t)
{
	xport_reset(&t->x, 0);
	SSL_free(t->server);
	SSL_CTX_free(t->sctx);
	SSL_CTX_free(t->cctx);
	close(t->sv[0]);
	close(t->sv[1]);
}

/* The server's application data, one record per call. */
static void
server_send(struct tls_pair *t, char fill, size_t n)
{
	static char rec[16384];
	size_t done = 0;

	assert_true(n <= sizeof(rec));
	memset(rec, fill, n);
	while (done < n) {
		size_t w = 0;

		assert_int_equal(SSL_write_ex(t->server, rec + done, n - done,
		    &w), 1);
		done += w;
	}
}

/* Read until application data arrives (TLS 1.3 sends session tickets
 * first, which a read consumes and answers with EAGAIN). */
static ssize_t
client_read(struct tls_pair *t, struct buf *b)
{
	ssize_t n;
	int i;

	for (i = 0; i < 10; i++) {
		n = xport_read(&t->x, b);
		if (n != -1 || errno != EAGAIN)
			return n;
	}
	return n;
}

static void
test_tls_short_record(void **state)
{
	struct tls_pair t;
	struct buf b;

	(void)state;
	tls_pair_open(&t);
	buf_init(&b, 1 << 20);

	/* two short records at once: the first read takes one, and the
	 * other is left in the socket, where poll sees it */
	server_send(&t, 'a', 100);
	server_send(&t, 'b', 100);
	assert_int_equal(client_read(&t, &b), 100);
	assert_true(t.x.is_drained);
	assert_true(is_readable(t.sv[0]));
	assert_int_equal(xport_read(&t.x, &b), 100);
	assert_true(t.x.is_drained);
	assert_false(is_readable(t.sv[0]));
	assert_int_equal(b.len, 200);
	assert_int_equal(buf_ptr(&b)[199], 'b');

	buf_release(&b);
	tls_pair_close(&t);
}

static void
test_tls_full_record(void **state)
{
	struct tls_pair t;
	struct buf b;

	(void)state;
	tls_pair_open(&t);
	buf_init(&b, 1 << 20);

	/* a full record (bulk) fills what was asked: read on */
	server_send(&t, 'c', 16384);
	assert_int_equal(client_read(&t, &b), 16384);
	assert_false(t.x.is_drained);
	buf_release(&b);

	/* less room than the record: the rest is decrypted and held in
	 * OpenSSL, where epoll cannot see it, so not drained */
	buf_init(&b, 300);
	server_send(&t, 'd', 1000);
	assert_int_equal(client_read(&t, &b), 300);
	assert_false(t.x.is_drained);
	assert_false(is_readable(t.sv[0]));
	buf_consume(&b, b.len);
	assert_int_equal(xport_read(&t.x, &b), 300);
	assert_false(t.x.is_drained);

	buf_release(&b);
	tls_pair_close(&t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_tls_short_record),
		cmocka_unit_test(test_tls_full_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
