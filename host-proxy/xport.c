/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * xport.c - plain or TLS byte streams over non-blocking sockets.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "netaddr.h"
#include "xport.h"

void
xport_init(struct xport *x, int fd)
{
	memset(x, 0, sizeof(*x));
	x->fd = fd;
}

void
xport_set_ssl(struct xport *x, SSL *ssl)
{
	x->ssl = ssl;
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_set_fd(ssl, x->fd);
}

void
xport_reset(struct xport *x, int send_close_notify)
{
	if (x->ssl != NULL) {
		if (send_close_notify && SSL_is_init_finished(x->ssl))
			(void)SSL_shutdown(x->ssl);
		SSL_free(x->ssl);
		x->ssl = NULL;
	}
	x->want_read = x->want_write = 0;
	ERR_clear_error();
}

/* Map an SSL result to our conventions. */
static int
xport_ssl_result(struct xport *x, int rc)
{
	int e = SSL_get_error(x->ssl, rc);

	x->want_read = x->want_write = 0;
	switch (e) {
	case SSL_ERROR_WANT_READ:
		x->want_read = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		x->want_write = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		x->is_eof = 1;
		return 0;
	case SSL_ERROR_SYSCALL:
		x->err = ERR_peek_last_error();
		if (x->err == 0 && errno == 0) {
			/* EOF without close_notify: treat as end of stream */
			x->is_eof = 1;
			return 0;
		}
		if (errno == 0)
			errno = EPROTO;
		return -1;
	default:
		x->err = ERR_peek_last_error();
		errno = EPROTO;
		return -1;
	}
}

void
xport_shutdown(struct xport *x)
{
	/* best effort: a close_notify that would block is not sent */
	if (x->ssl != NULL && SSL_is_init_finished(x->ssl) &&
	    !(SSL_get_shutdown(x->ssl) & SSL_SENT_SHUTDOWN))
		(void)SSL_shutdown(x->ssl);
	ERR_clear_error();
}

int
xport_handshake(struct xport *x)
{
	int rc;

	ERR_clear_error();
	errno = 0;
	rc = SSL_do_handshake(x->ssl);
	if (rc == 1) {
		x->want_read = x->want_write = 0;
		return 1;
	}
	if (xport_ssl_result(x, rc) == -1 && errno == EAGAIN)
		return 0;
	if (x->err == 0)
		x->err = ERR_peek_last_error();
	return -1;
}

ssize_t
xport_read(struct xport *x, struct buf *b)
{
	size_t want = buf_room(b), got = 0;
	char tmp[16384];
	int rc;

	x->is_drained = 0;
	if (x->ssl == NULL) {
		ssize_t n = buf_read_fd(b, x->fd);

		if (n == 0)
			x->is_eof = 1;
		x->is_drained = n > 0 && (size_t)n <
		    (want < BUF_READ_MAX ? want : BUF_READ_MAX);
		return n;
	}
	if (want == 0) {
		errno = ENOBUFS;
		return -1;
	}
	if (want > sizeof(tmp))
		want = sizeof(tmp);
	ERR_clear_error();
	errno = 0;
	rc = SSL_read_ex(x->ssl, tmp, want, &got);
	if (rc == 1) {
		x->want_read = x->want_write = 0;
		if (buf_append(b, tmp, got) == -1)
			return -1;
		x->is_drained = got < want && !SSL_has_pending(x->ssl);
		return (ssize_t)got;
	}
	return xport_ssl_result(x, 0);
}

ssize_t
xport_write(struct xport *x, struct buf *b)
{
	size_t done = 0;
	int rc;

	if (b->len == 0)
		return 0;
	if (x->ssl == NULL)
		return buf_write_fd(b, x->fd);
	ERR_clear_error();
	errno = 0;
	rc = SSL_write_ex(x->ssl, buf_ptr(b), b->len, &done);
	if (rc == 1) {
		x->want_read = x->want_write = 0;
		buf_consume(b, done);
		return (ssize_t)done;
	}
	rc = xport_ssl_result(x, 0);
	if (rc == 0) {
		errno = EPIPE;
		return -1;
	}
	return rc;
}

int
xport_pending(const struct xport *x)
{
	return x->ssl != NULL && SSL_pending(x->ssl) > 0;
}

int
xport_is_idle(const struct xport *x)
{
	if (x->is_eof || x->err != 0 || x->want_write)
		return 0;
	if (x->ssl == NULL)
		return 1;
	return SSL_is_init_finished(x->ssl) && SSL_get_shutdown(x->ssl) == 0 &&
	    !SSL_has_pending(x->ssl);
}

SSL *
xport_detach_ssl(struct xport *x)
{
	SSL *ssl = x->ssl;

	x->ssl = NULL;
	x->want_read = x->want_write = 0;
	return ssl;
}

void
xport_attach_ssl(struct xport *x, SSL *ssl)
{
	x->ssl = ssl;
	x->want_read = x->want_write = 0;
	x->is_eof = 0;
	x->err = 0;
}

int
xport_is_unexpected_eof(const struct xport *x)
{
	return x->ssl != NULL && x->err != 0 &&
	    ERR_GET_LIB(x->err) == ERR_LIB_SSL &&
	    ERR_GET_REASON(x->err) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

const char *
xport_error(const struct xport *x, char *buf, size_t size)
{
	long vr;

	if (x->ssl != NULL) {
		vr = SSL_get_verify_result(x->ssl);
		if (vr != X509_V_OK) {
			snprintf(buf, size, "certificate verify failed: %s",
			    X509_verify_cert_error_string(vr));
			return buf;
		}
	}
	if (x->err != 0) {
		const char *r = ERR_reason_error_string(x->err);

		snprintf(buf, size, "TLS error: %s", r ? r : "unknown");
		return buf;
	}
	snprintf(buf, size, "TLS error: %s", strerror(errno ? errno : EPROTO));
	return buf;
}

int
xport_expect_peer(SSL *ssl, const char *host)
{
	struct netaddr lit;

	if (netaddr_parse_literal(host, strlen(host), &lit) == 0)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
		    host) == 1 ? 0 : -1;
	return SSL_set_tlsext_host_name(ssl, host) == 1 &&
	    SSL_set1_host(ssl, host) == 1 ? 0 : -1;
}
