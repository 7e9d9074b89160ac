/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_tlsc.c - the agent's TLS client (tlsc.c) against an OpenSSL
 * server over a socketpair, both ends non-blocking and driven by hand, so
 * the cases that depend on a full socket buffer happen every time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../shared/tests/testcert.h"
#include "tlsc.h"

#define STREAM_MAX (8u << 20) /* bound on what one test sends */
#define CHUNK 1000

/* The byte at offset i of the stream: no short period, so a lost or
 * repeated block shows. */
static uint8_t
stream_byte(size_t i)
{
	return (uint8_t)(i * 131u + (i >> 10) * 7u + (i >> 17));
}

struct pair {
	SSL_CTX *sctx;
	SSL *srv;
	struct tlsc_ctx *cctx;
	struct tlsc *cli;
	int cfd, sfd;
	uint8_t *out;      /* the stream the client sends */
	size_t sent;       /* bytes tlsc_write reported sent */
	size_t received;   /* bytes the server read, checked */
};

static void
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	assert_true(fl >= 0);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

static void
pair_open(struct pair *p)
{
	int sv[2], i, crc = -1, src = -1, small = 16384;
	char err[256];
	char *pem;

	memset(p, 0, sizeof(*p));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	p->cfd = sv[0];
	p->sfd = sv[1];
	set_nonblock(p->cfd);
	set_nonblock(p->sfd);
	/* a small buffer fills within a few records */
	assert_int_equal(setsockopt(p->cfd, SOL_SOCKET, SO_SNDBUF, &small,
			     sizeof(small)), 0);
	p->sctx = SSL_CTX_new(TLS_server_method());
	assert_non_null(p->sctx);
	pem = tls_make_cert(p->sctx);
	p->srv = SSL_new(p->sctx);
	assert_non_null(p->srv);
	assert_int_equal(SSL_set_fd(p->srv, p->sfd), 1);
	SSL_set_accept_state(p->srv);
	p->cctx = tlsc_ctx_new(pem, strlen(pem), err, sizeof(err));
	free(pem);
	assert_non_null(p->cctx);
	p->cli = tlsc_new(p->cctx, p->cfd);
	assert_non_null(p->cli);
	for (i = 0; i < 100 && (crc != 0 || src != 1); i++) {
		if (crc != 0) {
			crc = tlsc_handshake(p->cli);
			assert_true(crc == 0 || errno == EAGAIN);
		}
		if (src != 1) {
			src = SSL_do_handshake(p->srv);
			assert_true(src == 1 ||
			    SSL_get_error(p->srv, src) == SSL_ERROR_WANT_READ);
		}
	}
	assert_int_equal(crc, 0);
	assert_int_equal(src, 1);
	p->out = malloc(STREAM_MAX);
	assert_non_null(p->out);
	for (size_t k = 0; k < STREAM_MAX; k++)
		p->out[k] = stream_byte(k);
}

static void
pair_close(struct pair *p)
{
	tlsc_free(p->cli);
	tlsc_ctx_free(p->cctx);
	SSL_free(p->srv);
	SSL_CTX_free(p->sctx);
	close(p->cfd);
	close(p->sfd);
	free(p->out);
}

/* The server reads all the socket holds; every byte must be the next of
 * the stream.  Returns how many it read. */
static size_t
server_drain(struct pair *p)
{
	uint8_t buf[16384];
	size_t total = 0;
	int n;

	for (;;) {
		n = SSL_read(p->srv, buf, sizeof(buf));
		if (n <= 0) {
			assert_int_equal(SSL_get_error(p->srv, n),
			    SSL_ERROR_WANT_READ);
			return total;
		}
		assert_true(p->received + (size_t)n <= STREAM_MAX);
		assert_memory_equal(buf, p->out + p->received, (size_t)n);
		p->received += (size_t)n;
		total += (size_t)n;
	}
}

/* Write CHUNK-byte pieces until one meets a full socket; returns the
 * length of that piece (the one now half out). */
static size_t
client_fill(struct pair *p)
{
	ssize_t n;

	while (p->sent + CHUNK <= STREAM_MAX) {
		n = tlsc_write(p->cli, p->out + p->sent, CHUNK);
		if (n < 0) {
			assert_int_equal(errno, EAGAIN);
			assert_int_equal(tlsc_wants_write(p->cli), 1);
			return CHUNK;
		}
		assert_int_equal(n, CHUNK);
		p->sent += (size_t)n;
	}
	fail_msg("the socket never filled");
	return 0;
}

/* tlsc_write of len bytes from where the stream is; it must report want
 * bytes sent, which then count as sent. */
static void
client_write(struct pair *p, size_t len, size_t want)
{
	ssize_t n = tlsc_write(p->cli, p->out + p->sent, len);

	assert_int_equal(n, (ssize_t)want);
	p->sent += want;
}

/* The server reads the rest: every byte counted as sent arrived, once. */
static void
pair_finish(struct pair *p)
{
	server_drain(p);
	assert_int_equal(p->received, p->sent);
	pair_close(p);
}

/*
 * A write that met a full socket, repeated with more bytes (the caller's
 * buffer grew meanwhile), reports only the first call's length: the
 * record was built from those bytes, and the rest were never sent.
 */
static void
test_repeat_longer_counts_first_length(void **state)
{
	struct pair p;
	size_t first;

	(void)state;
	pair_open(&p);
	first = client_fill(&p);
	server_drain(&p);
	client_write(&p, first + 4000, first);
	/* what follows carries on from where the repeat ended */
	client_write(&p, 3000, 3000);
	pair_finish(&p);
}

/* A shorter repeat cannot be honoured (the record holds bytes beyond it):
 * refused, and the full repeat still goes out once. */
static void
test_repeat_shorter_refused(void **state)
{
	struct pair p;
	size_t first;
	ssize_t n;

	(void)state;
	pair_open(&p);
	first = client_fill(&p);
	n = tlsc_write(p.cli, p.out + p.sent, first - 1);
	assert_int_equal(n, -1);
	assert_int_equal(errno, EINVAL);
	server_drain(&p);
	client_write(&p, first, first);
	pair_finish(&p);
}

/* A repeat that still meets a full socket keeps the first length; many
 * rounds of fill, partial drain and growing repeats lose no byte. */
static void
test_many_rounds_lose_nothing(void **state)
{
	struct pair p;
	size_t first;
	ssize_t n;
	int round, tries;

	(void)state;
	pair_open(&p);
	for (round = 0; round < 50; round++) {
		first = client_fill(&p);
		n = tlsc_write(p.cli, p.out + p.sent, first + 10);
		assert_int_equal(n, -1);
		assert_int_equal(errno, EAGAIN);
		for (tries = 0; tries < 100; tries++) {
			server_drain(&p);
			n = tlsc_write(p.cli, p.out + p.sent,
			    first + 100u * (unsigned)(tries + 1));
			if (n >= 0)
				break;
			assert_int_equal(errno, EAGAIN);
		}
		assert_int_equal(n, (ssize_t)first);
		p.sent += (size_t)n;
	}
	assert_true(p.sent > 50u * CHUNK);
	pair_finish(&p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_repeat_longer_counts_first_length),
	    cmocka_unit_test(test_repeat_shorter_refused),
	    cmocka_unit_test(test_many_rounds_lose_nothing),
	};

	if (!tlsc_available()) {
		printf("test_tlsc: built without TLS support, nothing to test\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
