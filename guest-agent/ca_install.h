/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ca_install.h - where the proxy's CA goes in a guest: which trust store
 * convention a root directory follows, and the pure text work (PEM to
 * DER, the fingerprint given with --ca-sha256, marked blocks in a bundle
 * or in /etc/environment).  The file writes themselves are install.c's,
 * so that each one is recorded and can be undone.
 *
 * Detection, first match wins (paths inside the root):
 *   fedora    update-ca-trust        /etc/pki/ca-trust/source/anchors/
 *   arch      trust + /etc/ca-certificates/trust-source/anchors/
 *   opensuse  update-ca-certificates + /etc/pki/trust/anchors/
 *   debian    update-ca-certificates /usr/local/share/ca-certificates/
 *             (also Alpine with the ca-certificates package: "alpine")
 *   bundle    no tool: the first regular file of Go's bundle list gets
 *             a marked block appended (Alpine with only
 *             ca-certificates-bundle, distroless, busybox images)
 */
#ifndef SLICER_CA_INSTALL_H
#define SLICER_CA_INSTALL_H

#include <stddef.h>
#include <stdint.h>

/* Largest CA certificate accepted from the proxy (PEM). */
#define CA_PEM_MAX 16384
/* Name of our files in the trust stores. */
#define CA_FILE_NAME "slicer-agent"

#define CA_BLOCK_BEGIN "# slicer-agent CA begin\n"
#define CA_BLOCK_END "# slicer-agent CA end\n"
#define CA_ENV_BEGIN "# slicer-agent begin\n"
#define CA_ENV_END "# slicer-agent end\n"

struct ca_store {
	const char *name;   /* "debian", "alpine", "fedora", ... "bundle" */
	char anchor[256];   /* our file, inside the root ("" for bundle) */
	char tool[256];     /* the tool, inside the root ("" for none) */
	const char *arg;    /* its argument (NULL for none) */
	char bundle[256];   /* the file that ends up holding the CA */
};

/*
 * Which convention root follows.  0, or -1 with a message when there is
 * no trust store at all.
 */
int ca_store_detect(const char *root, struct ca_store *s, char *err,
    size_t errsz);

/*
 * The first CERTIFICATE block of pem as DER (malloc'd into *der).
 * 0, or -1 (EINVAL: no or a malformed block).
 */
int ca_pem_to_der(const char *pem, size_t len, uint8_t **der, size_t *derlen);

/* A SHA-256 fingerprint: 64 hex digits, optionally in pairs separated
 * by ':' (as openssl prints them), optionally "sha256:" in front.
 * 0, or -1. */
int ca_parse_sha256(const char *s, uint8_t out[32]);

/*
 * Remove every block from a line equal to begin to a line equal to end
 * (both included, each ending in '\n') from text.  Writes the result to
 * out (malloc'd, NUL-terminated).  Returns 0, or -1 (ENOMEM, or EINVAL
 * for a begin without an end).
 */
int ca_strip_block(const char *text, size_t len, const char *begin,
    const char *end, char **out, size_t *outlen);

/*
 * Does bundle now hold every certificate bundle then held, and more
 * (certificates added since, e.g. by an administrator)?  1 or 0; 0 also
 * when either is not a PEM bundle or on ENOMEM.  Certificates compare by
 * their base64 bodies, line breaks aside.
 */
int ca_bundle_adds(const char *then, size_t thenlen, const char *now,
    size_t nowlen);

/* Does text contain the base64 body of the certificate in pem (its
 * first full line)?  1 or 0. */
int ca_text_has_cert(const char *text, size_t len, const char *pem,
    size_t pemlen);

/*
 * Chromium-family browsers trust neither the system store nor, from
 * M146, a predictable per-user NSS database; they do read managed policy
 * files, one directory per brand (Chromium, Google Chrome, Chrome for
 * Testing as Playwright ships it).  Our file in each, NULL-terminated.
 */
extern const char *const ca_browser_policy_files[];

/*
 * The policy file's text (malloc'd, NUL-terminated): ECH off, so that a
 * browser's ECH GREASE does not get a host-level tunnel refused, and
 * when der is not NULL, the CA trusted (CACertificates, the DER in
 * base64 as Chrome wants it).  0, or -1 (ENOMEM).
 */
int ca_browser_policy(const uint8_t *der, size_t derlen, char **out,
    size_t *outlen);

#endif
