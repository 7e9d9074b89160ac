/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * testcert.h - a throwaway TLS server certificate for unit tests (the
 * agent's DNS stub and TLS client, the proxy's transport), made with
 * OpenSSL.
 * Include after cmocka.h (it asserts).
 */
#ifndef SLICER_TESTCERT_H
#define SLICER_TESTCERT_H

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

/*
 * A self-signed P-256 certificate that is also a CA (so a client pinning
 * it as its CA accepts it), for 127.0.0.1.  The key and certificate go
 * into ctx; the PEM is returned (malloc'd).
 */
static char *
tls_make_cert(SSL_CTX *ctx)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *name;
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	BIO *bio = BIO_new(BIO_s_mem());
	static const char *const exts[][2] = {
	    {"basicConstraints", "critical,CA:TRUE"},
	    {"keyUsage", "critical,keyCertSign,digitalSignature"},
	    {"subjectAltName", "IP:127.0.0.1"},
	};
	char *pem, *p;
	long n;
	size_t i;

	assert_non_null(key);
	assert_non_null(x);
	assert_non_null(bio);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), (long)getpid());
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	name = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"test doh", -1, -1, 0);
	X509_set_issuer_name(x, name);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		ext = X509V3_EXT_conf(NULL, &v3, exts[i][0], exts[i][1]);
		assert_non_null(ext);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	if (ctx != NULL) {
		assert_int_equal(SSL_CTX_use_certificate(ctx, x), 1);
		assert_int_equal(SSL_CTX_use_PrivateKey(ctx, key), 1);
	}
	assert_int_equal(PEM_write_bio_X509(bio, x), 1);
	n = BIO_get_mem_data(bio, &p);
	pem = calloc(1, (size_t)n + 1);
	assert_non_null(pem);
	memcpy(pem, p, (size_t)n);
	BIO_free(bio);
	X509_free(x);
	EVP_PKEY_free(key);
	return pem;
}

#endif
