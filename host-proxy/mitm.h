/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mitm.h - the proxy's certificate authority and the bounded cache of leaf
 * certificates (and server SSL_CTXs) it mints for TLS interception.
 *
 * The CA is loaded from (or created in) the state directory once at
 * startup and is read-only afterwards.  A cache is shared by every event
 * loop: each entry point takes the cache's mutex (a mint, one signature,
 * runs under it, so loops asking at once for one new name get one leaf).
 * Nothing here does network I/O.
 */
#ifndef SLICER_MITM_H
#define SLICER_MITM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>
#include <openssl/x509.h>

/* Largest cache mitm_cache_new accepts.  A leaf costs about 3 KiB, plus
 * about 14 KiB once its SSL_CTX exists. */
#define MITM_CACHE_MAX 65536
/* Longest name a leaf is minted for (RFC 1035 total length). */
#define MITM_NAME_MAX 253
/* Longest name also put in the subject CN (X.509 ub-common-name). */
#define MITM_CN_MAX 64
/* Largest ca.key / ca.crt file read. */
#define MITM_FILE_MAX (64 * 1024)
/* Leaf lifetime, backdating and the re-mint threshold, in seconds. */
#define MITM_LEAF_LIFETIME (7 * 86400)
#define MITM_LEAF_BACKDATE 3600
#define MITM_LEAF_RENEW 86400

struct mitm_ca;

/*
 * Load dir/ca.key and dir/ca.crt, or create them on first use (dir is
 * created 0700 if missing): ECDSA P-256 key (file 0600, written atomically:
 * tmp + fsync + rename + fsync dir), self-signed CA cert
 * "CN=slicer-proxy CA <8 hex>", basicConstraints critical CA:TRUE
 * pathlen:0, keyUsage critical keyCertSign,cRLSign, subjectKeyIdentifier,
 * 10 years validity (notBefore backdated 1 day), random 128-bit serial.
 * A key without a cert (a crash between the two renames) gets a new cert.
 * A cert without a key is refused.  The key file is refused when it is not
 * a regular file, is a symlink, has group/world permission bits or is not
 * owned by the current euid; the pair is refused when the cert is not a CA
 * or does not match the key.  Returns NULL with a message in err.
 */
struct mitm_ca *mitm_ca_open(const char *dir, char *err, size_t errsz);
/* The same for the directory at path, named dir in messages and logs
 * (path may be a /proc/self/fd one the daemon keeps after dropping root). */
struct mitm_ca *mitm_ca_open_as(const char *path, const char *dir,
    char *err, size_t errsz);
/* NULL is fine. */
void mitm_ca_free(struct mitm_ca *ca);
/* PEM of the CA certificate, NUL-terminated (owned by ca); *len without the
 * NUL when len is not NULL. */
const char *mitm_ca_pem(const struct mitm_ca *ca, size_t *len);
/* SHA-256 fingerprint of the CA cert DER as 64 lower-case hex chars. */
void mitm_ca_fingerprint(const struct mitm_ca *ca, char out[65]);
/* The CA certificate (borrowed: valid while ca lives). */
X509 *mitm_ca_cert(const struct mitm_ca *ca);

struct mitm_cache;

/*
 * A cache of at most max leaves (1..MITM_CACHE_MAX, else NULL with errno
 * EINVAL).  It takes its own references to the CA cert and key, so ca may
 * be freed first.  One EC P-256 leaf key pair is generated here and shared
 * by all leaves, so minting is one ECDSA signature.
 */
struct mitm_cache *mitm_cache_new(struct mitm_ca *ca, size_t max);
/* Drops the cache's references; certs and SSL_CTXs handed out stay valid
 * until their holders free them.  NULL is fine. */
void mitm_cache_free(struct mitm_cache *c);

/*
 * 1 if name is acceptable to mitm_cache_get: a lower-case DNS name of
 * [a-z0-9._-] (1..253 chars, labels 1..63, last label not all digits, no
 * '*'), or an IP literal in canonical text (IPv4 dotted quad, IPv6 as
 * inet_ntop prints it, without brackets).  0 otherwise.
 */
int mitm_name_valid(const char *name);

/*
 * Leaf for name (see mitm_name_valid): cached by name, LRU-evicted at max;
 * minted on a miss or when less than MITM_LEAF_RENEW is left: subject
 * CN=name (only when it fits MITM_CN_MAX chars; otherwise an empty subject
 * and a critical SAN), SAN DNS:name or IP:addr only, EKU serverAuth,
 * keyUsage critical digitalSignature, basicConstraints critical CA:FALSE,
 * authorityKeyIdentifier, notBefore now-1h, notAfter now+7d, random
 * 128-bit serial, ECDSA-SHA256 by the CA.  A hit allocates nothing.
 * Returns a new reference (caller X509_free) and sets *key (if key is not
 * NULL) to the shared leaf key (borrowed: valid while c lives).  NULL with
 * errno EINVAL for an invalid name, ENOMEM/EIO when minting failed.
 */
X509 *mitm_cache_get(struct mitm_cache *c, const char *name, EVP_PKEY **key);

/*
 * Server SSL_CTX for name's leaf (made on first use, kept with the leaf):
 * leaf cert + CA chain + shared key, set up by mitm_ctx_setup.  Returns a
 * new reference: the caller SSL_CTX_free()s it (an SSL made from it, or
 * switched to it with SSL_set_SSL_CTX, holds its own).  NULL as for
 * mitm_cache_get.
 */
SSL_CTX *mitm_cache_ctx(struct mitm_cache *c, const char *name);

/*
 * 1 when a leaf for name is cached and fresh, so that mitm_cache_ctx will
 * not mint (sign) one; 0 otherwise.  Lets the caller rate-limit mints.
 */
int mitm_cache_fresh(struct mitm_cache *c, const char *name);

/*
 * The settings every interception server context gets: TLS 1.2 minimum,
 * no renegotiation, ALPN select callback that picks "http/1.1" (a client
 * offering ALPN without it is refused with no_application_protocol; a
 * client offering no ALPN is fine), session tickets on, stateful session
 * cache off (tickets need no server memory).  Usable on a front context
 * whose servername callback switches to a leaf context.  0 or -1.
 */
int mitm_ctx_setup(SSL_CTX *ctx);

/* Leaves held now (<= max). */
size_t mitm_cache_count(struct mitm_cache *c);
/* Leaves minted since mitm_cache_new (misses and renewals). */
uint64_t mitm_cache_mints(struct mitm_cache *c);
/* Use t instead of time(NULL) for validity and renewal; 0 restores the
 * clock.  For tests. */
void mitm_cache_set_time(struct mitm_cache *c, time_t t);

#endif
