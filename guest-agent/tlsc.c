/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * tlsc.c - TLS client and SHA-256 over mbed TLS 2.28 (see tlsc.h).  The
 * socket callbacks are our own: mbed TLS's net_sockets.o would drag
 * getaddrinfo into the static binary.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tlsc.h"

#ifdef AGENT_HAVE_MBEDTLS

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

struct tlsc_ctx {
	mbedtls_ssl_config conf;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt ca;
};

struct tlsc {
	mbedtls_ssl_context ssl;
	int fd;
	int wants_write;
	int last_err;
	size_t write_len;   /* a write that met WANT_WRITE/READ: its length */
};

int
tlsc_available(void)
{
	return 1;
}

struct tlsc_ctx *
tlsc_ctx_new(const void *ca, size_t len, char *err, size_t errsz)
{
	static const char pers[] = "slicer-agent";
	struct tlsc_ctx *c;
	unsigned char *copy = NULL;
	int rc;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(err, errsz, "out of memory");
		return NULL;
	}
	mbedtls_ssl_config_init(&c->conf);
	mbedtls_entropy_init(&c->entropy);
	mbedtls_ctr_drbg_init(&c->drbg);
	mbedtls_x509_crt_init(&c->ca);
	rc = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
	    (const unsigned char *)pers, sizeof(pers) - 1);
	if (rc == 0)
		rc = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
		    MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc != 0) {
		snprintf(err, errsz, "TLS setup failed (-0x%04x)", -rc);
		goto fail;
	}
	mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
	mbedtls_ssl_conf_min_version(&c->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	    MBEDTLS_SSL_MINOR_VERSION_3);
	if (ca == NULL) {
		mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
		return c;
	}
	/* PEM must be NUL-terminated, with the NUL counted */
	copy = malloc(len + 1);
	if (copy == NULL) {
		snprintf(err, errsz, "out of memory");
		goto fail;
	}
	memcpy(copy, ca, len);
	copy[len] = '\0';
	rc = mbedtls_x509_crt_parse(&c->ca, copy,
	    memmem(copy, len, "-----BEGIN", 10) ? len + 1 : len);
	free(copy);
	if (rc != 0) {
		snprintf(err, errsz, "cannot parse the proxy CA (-0x%04x)",
		    rc < 0 ? -rc : rc);
		goto fail;
	}
	mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
	return c;
fail:
	tlsc_ctx_free(c);
	return NULL;
}

void
tlsc_ctx_free(struct tlsc_ctx *c)
{
	if (c == NULL)
		return;
	mbedtls_x509_crt_free(&c->ca);
	mbedtls_ssl_config_free(&c->conf);
	mbedtls_ctr_drbg_free(&c->drbg);
	mbedtls_entropy_free(&c->entropy);
	free(c);
}

static int
tlsc_send_cb(void *arg, const unsigned char *buf, size_t len)
{
	struct tlsc *t = arg;
	ssize_t n;

	n = send(t->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int
tlsc_recv_cb(void *arg, unsigned char *buf, size_t len)
{
	struct tlsc *t = arg;
	ssize_t n;

	n = recv(t->fd, buf, len, 0);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

struct tlsc *
tlsc_new(struct tlsc_ctx *c, int fd)
{
	struct tlsc *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->fd = fd;
	mbedtls_ssl_init(&t->ssl);
	if (mbedtls_ssl_setup(&t->ssl, &c->conf) != 0) {
		mbedtls_ssl_free(&t->ssl);
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	mbedtls_ssl_set_bio(&t->ssl, t, tlsc_send_cb, tlsc_recv_cb, NULL);
	return t;
}

void
tlsc_free(struct tlsc *t)
{
	if (t == NULL)
		return;
	mbedtls_ssl_free(&t->ssl);
	free(t);
}

/* mbed TLS result -> -1 with errno, remembering what it wanted */
static int
tlsc_fail(struct tlsc *t, int rc)
{
	t->wants_write = 0;
	if (rc == MBEDTLS_ERR_SSL_WANT_READ) {
		errno = EAGAIN;
		return -1;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		t->wants_write = 1;
		errno = EAGAIN;
		return -1;
	}
	t->last_err = rc;
	errno = rc == MBEDTLS_ERR_NET_RECV_FAILED ||
			rc == MBEDTLS_ERR_NET_SEND_FAILED
		    ? ECONNRESET
		    : EPROTO;
	return -1;
}

int
tlsc_handshake(struct tlsc *t)
{
	int rc = mbedtls_ssl_handshake(&t->ssl);

	return rc == 0 ? 0 : tlsc_fail(t, rc);
}

ssize_t
tlsc_read(struct tlsc *t, void *buf, size_t len)
{
	int rc = mbedtls_ssl_read(&t->ssl, buf, len);

	if (rc >= 0)
		return rc;
	if (rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	return tlsc_fail(t, rc);
}

/*
 * A write that met WANT_WRITE (or WANT_READ) must be repeated with the same
 * length: mbed TLS built its record from the first call's bytes, and once
 * that record is out it answers the repeat with the repeat's length.  A
 * caller whose buffer grew meanwhile would take bytes never sent for sent,
 * so the repeat is cut to the first call's length here.
 */
ssize_t
tlsc_write(struct tlsc *t, const void *buf, size_t len)
{
	int rc;

	if (t->write_len > 0) {
		if (len < t->write_len) {
			errno = EINVAL; /* the bytes it holds are gone */
			return -1;
		}
		len = t->write_len;
	}
	rc = mbedtls_ssl_write(&t->ssl, buf, len);
	if (rc >= 0) {
		t->write_len = 0;
		return rc;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE || rc == MBEDTLS_ERR_SSL_WANT_READ)
		t->write_len = len;
	return tlsc_fail(t, rc);
}

int
tlsc_close_notify(struct tlsc *t)
{
	/* a call that met WANT_WRITE flushes the queued alert on the next */
	int rc = mbedtls_ssl_close_notify(&t->ssl);

	return rc == 0 ? 0 : tlsc_fail(t, rc);
}

int
tlsc_wants_write(const struct tlsc *t)
{
	return t->wants_write;
}

size_t
tlsc_pending(const struct tlsc *t)
{
	return mbedtls_ssl_get_bytes_avail(&t->ssl);
}

const char *
tlsc_error(const struct tlsc *t, char *buf, size_t size)
{
	uint32_t flags;

	flags = mbedtls_ssl_get_verify_result(&t->ssl);
	if (t->last_err == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED && flags != 0 &&
	    flags != (uint32_t)-1) {
		mbedtls_x509_crt_verify_info(buf, size, "", flags);
		buf[strcspn(buf, "\n")] = '\0';
		return buf;
	}
	mbedtls_strerror(t->last_err, buf, size);
	return buf;
}

int
tlsc_sha256(const void *data, size_t len, uint8_t out[32])
{
	return mbedtls_sha256_ret(data, len, out, 0) == 0 ? 0 : -1;
}

#else /* !AGENT_HAVE_MBEDTLS */

int
tlsc_available(void)
{
	return 0;
}

struct tlsc_ctx *
tlsc_ctx_new(const void *ca, size_t len, char *err, size_t errsz)
{
	(void)ca;
	(void)len;
	snprintf(err, errsz,
	    "this slicer-agent was built without TLS support (mbed TLS)");
	errno = ENOTSUP;
	return NULL;
}

void
tlsc_ctx_free(struct tlsc_ctx *c)
{
	(void)c;
}

struct tlsc *
tlsc_new(struct tlsc_ctx *c, int fd)
{
	(void)c;
	(void)fd;
	errno = ENOTSUP;
	return NULL;
}

void
tlsc_free(struct tlsc *t)
{
	(void)t;
}

int
tlsc_handshake(struct tlsc *t)
{
	(void)t;
	errno = ENOTSUP;
	return -1;
}

ssize_t
tlsc_read(struct tlsc *t, void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	errno = ENOTSUP;
	return -1;
}

ssize_t
tlsc_write(struct tlsc *t, const void *buf, size_t len)
{
	(void)t;
	(void)buf;
	(void)len;
	errno = ENOTSUP;
	return -1;
}

int
tlsc_close_notify(struct tlsc *t)
{
	(void)t;
	errno = ENOTSUP;
	return -1;
}

int
tlsc_wants_write(const struct tlsc *t)
{
	(void)t;
	return 0;
}

size_t
tlsc_pending(const struct tlsc *t)
{
	(void)t;
	return 0;
}

const char *
tlsc_error(const struct tlsc *t, char *buf, size_t size)
{
	(void)t;
	snprintf(buf, size, "no TLS support");
	return buf;
}

int
tlsc_sha256(const void *data, size_t len, uint8_t out[32])
{
	(void)data;
	(void)len;
	(void)out;
	errno = ENOTSUP;
	return -1;
}

#endif
