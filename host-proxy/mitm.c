/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mitm.c - the interception CA (load or create ca.key/ca.crt in the state
 * directory) and a bounded, LRU-evicted cache of leaf certificates minted
 * from it, each with a server SSL_CTX made on demand.
 *
 * Owns: the CA key and cert in memory, the shared leaf key, the leaves and
 * their contexts.  Does not own: deciding when to intercept, handshakes,
 * SNI parsing or name canonicalisation (callers pass canonical names; this
 * file only checks them).
 *
 * The cache is a keyed-hash table (SipHash-2-4, random key, so names
 * chosen by a client cannot pile up in one chain) plus an LRU list; a hit
 * moves the leaf to the front and allocates nothing.  At max entries the
 * least recently used leaf is evicted and its slot reused.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "file.h"
#include "log.h"
#include "mitm.h"

#define MITM_KEY_FILE "ca.key"
#define MITM_KEY_TMP "ca.key.tmp"
#define MITM_CERT_FILE "ca.crt"
#define MITM_CERT_TMP "ca.crt.tmp"
/* CA validity: years forward, seconds backdated. */
#define MITM_CA_YEARS 10
#define MITM_CA_BACKDATE 86400
/* Serial numbers: exactly this many bits, top bit set, so positive. */
#define MITM_SERIAL_BITS 128
/* Smallest RSA CA key accepted when loading one we did not create. */
#define MITM_RSA_MIN_BITS 2048

enum mitm_file {
	MITM_FILE_OK,
	MITM_FILE_MISSING,
	MITM_FILE_BAD,
};

enum mitm_name {
	MITM_NAME_BAD,
	MITM_NAME_DNS,
	MITM_NAME_IP,
};

struct mitm_ca {
	EVP_PKEY *key; /* owned */
	X509 *cert;    /* owned */
	char *pem;     /* owned, NUL-terminated */
	size_t pem_len;
	char fingerprint[65];
};

struct mitm_leaf {
	struct mitm_leaf *hnext; /* hash chain */
	struct mitm_leaf *prev;  /* LRU list, most recent first */
	struct mitm_leaf *next;
	uint64_t hash;
	X509 *cert;   /* owned reference */
	SSL_CTX *ctx; /* owned reference, NULL until mitm_cache_ctx */
	time_t not_before;
	time_t not_after;
	size_t len;
	char name[MITM_NAME_MAX + 1];
};

struct mitm_cache {
	/* every entry point takes it: loops on several threads share the
	 * cache; a mint (one signature) runs under it, so two loops asking
	 * for one new name get one leaf */
	pthread_mutex_t lock;
	X509 *ca_cert;    /* owned reference */
	EVP_PKEY *ca_key; /* owned reference */
	EVP_PKEY *key;    /* owned: the one leaf key */
	/* owned: the extensions every leaf gets, copied in at mint */
	X509_EXTENSION *ext_bc;
	X509_EXTENSION *ext_ku;
	X509_EXTENSION *ext_eku;
	X509_EXTENSION *ext_akid;   /* NULL when the CA has no SKI */
	struct mitm_leaf **buckets; /* owned array, nbuckets long */
	size_t nbuckets;            /* power of two */
	struct mitm_leaf *head;     /* most recently used */
	struct mitm_leaf *tail;     /* next to evict */
	size_t count;
	size_t max;
	uint64_t mints;
	time_t fixed_now; /* 0: use the clock */
	unsigned char hash_key[16];
};

static void err_set(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
err_set(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errsz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
}

/* The first OpenSSL error on the queue as text (queue cleared). */
static const char *
ssl_err(char *buf, size_t len)
{
	unsigned long e = ERR_peek_error();

	if (e == 0)
		snprintf(buf, len, "unknown OpenSSL error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

/* Passphrase callback that refuses: an encrypted key is an error, never a
 * prompt on the terminal. */
static int
pem_no_pass(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* ---- files ---------------------------------------------------------- */

/*
 * Read dir/name (at most MITM_FILE_MAX bytes) into a new buffer *out,
 * NUL-terminated.  is_secret: the file must be ours alone (owner euid, no
 * group/world bits).  The fd is checked, not the path, so there is no
 * window between check and read.
 */
static enum mitm_file
file_read(int dfd, const char *dir, const char *name, int is_secret,
    unsigned char **out, size_t *outlen, char *err, size_t errsz)
{
	enum mitm_file rc = MITM_FILE_BAD;
	unsigned char *buf = NULL;
	struct stat sb;
	size_t len = 0;
	ssize_t n;
	int fd;

	*out = NULL;
	*outlen = 0;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return MITM_FILE_MISSING;
		if (errno == ELOOP)
			err_set(err, errsz, "%s/%s: is a symlink, refused", dir,
			    name);
		else
			err_set(err, errsz, "%s/%s: %s", dir, name,
			    strerror(errno));
		return MITM_FILE_BAD;
	}
	if (fstat(fd, &sb) == -1) {
		err_set(err, errsz, "%s/%s: %s", dir, name, strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		err_set(err, errsz, "%s/%s: not a regular file", dir, name);
		goto out;
	}
	if (is_secret && (sb.st_mode & 077) != 0) {
		err_set(err, errsz,
		    "%s/%s: mode %04o has group/world permission bits, "
		    "refused (chmod 600 it)",
		    dir, name, (unsigned)(sb.st_mode & 07777));
		goto out;
	}
	if (is_secret && sb.st_uid != geteuid()) {
		err_set(err, errsz,
		    "%s/%s: owned by uid %u, not uid %u, refused", dir, name,
		    (unsigned)sb.st_uid, (unsigned)geteuid());
		goto out;
	}
	if (sb.st_size > MITM_FILE_MAX) {
		err_set(err, errsz, "%s/%s: larger than %d bytes", dir, name,
		    MITM_FILE_MAX);
		goto out;
	}
	/* One spare byte shows a file that grew past the limit. */
	buf = malloc(MITM_FILE_MAX + 2);
	if (buf == NULL) {
		err_set(err, errsz, "%s/%s: out of memory", dir, name);
		goto out;
	}
	while (len < MITM_FILE_MAX + 1) {
		n = read(fd, buf + len, MITM_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_set(err, errsz, "%s/%s: read: %s", dir, name,
			    strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > MITM_FILE_MAX) {
		err_set(err, errsz, "%s/%s: larger than %d bytes", dir, name,
		    MITM_FILE_MAX);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
	rc = MITM_FILE_OK;
out:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, MITM_FILE_MAX + 2);
		free(buf);
	}
	close(fd);
	return rc;
}

/* Free a buffer from file_read, wiping it first (it may hold the key). */
static void
file_buf_free(unsigned char *buf, size_t len)
{
	if (buf == NULL)
		return;
	OPENSSL_cleanse(buf, len + 1);
	free(buf);
}

/* Open dir, creating it 0700 when missing. */
static int
dir_open(const char *dir, char *err, size_t errsz)
{
	int fd;

	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 && errno == ENOENT) {
		if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
			err_set(
			    err, errsz, "%s: mkdir: %s", dir, strerror(errno));
			return -1;
		}
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd == -1)
		err_set(err, errsz, "%s: %s", dir, strerror(errno));
	return fd;
}

/* ---- certificate building blocks ------------------------------------ */

/* A random serial of exactly MITM_SERIAL_BITS bits (top bit set: positive
 * and never zero). */
static int
cert_set_serial(X509 *x)
{
	BIGNUM *bn;
	int rc = -1;

	bn = BN_new();
	if (bn == NULL)
		return -1;
	if (BN_rand(
		bn, MITM_SERIAL_BITS, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY) != 1)
		goto out;
	if (BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	rc = 0;
out:
	BN_free(bn);
	return rc;
}

/* Add an extension from its configuration text (v3 may be NULL for ones
 * that need no issuer or subject). */
static int
cert_add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int rc;

	ext = X509V3_EXT_conf_nid(NULL, v3, nid, value);
	if (ext == NULL)
		return -1;
	rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* A self-signed CA certificate for key (see mitm_ca_open). */
static X509 *
ca_make_cert(EVP_PKEY *key)
{
	unsigned char id[4];
	char cn[64];
	X509V3_CTX v3;
	X509_NAME *name;
	struct tm tm;
	time_t now;
	X509 *x;
	int ok = 0;

	x = X509_new();
	if (x == NULL)
		return NULL;
	if (RAND_bytes(id, sizeof(id)) != 1)
		goto out;
	snprintf(cn, sizeof(cn), "slicer-proxy CA %02x%02x%02x%02x", id[0],
	    id[1], id[2], id[3]);
	name = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    cert_set_serial(x) == -1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
		(const unsigned char *)cn, -1, -1, 0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto out;
	now = time(NULL);
	if (gmtime_r(&now, &tm) == NULL)
		goto out;
	tm.tm_year += MITM_CA_YEARS;
	if (ASN1_TIME_set(X509_getm_notBefore(x), now - MITM_CA_BACKDATE) ==
		NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), timegm(&tm)) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	if (cert_add_ext(x, &v3, NID_basic_constraints,
		"critical,CA:TRUE,pathlen:0") == -1 ||
	    cert_add_ext(
		x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign") == -1 ||
	    cert_add_ext(x, &v3, NID_subject_key_identifier, "hash") == -1)
		goto out;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto out;
	ok = 1;
out:
	if (!ok) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* A CA key we can sign leaves with: EC, or RSA of a sane size. */
static int
ca_key_check(EVP_PKEY *key, const char *dir, char *err, size_t errsz)
{
	int id = EVP_PKEY_get_base_id(key);

	if (id == EVP_PKEY_EC)
		return 0;
	if (id == EVP_PKEY_RSA && EVP_PKEY_get_bits(key) >= MITM_RSA_MIN_BITS)
		return 0;
	err_set(err, errsz, "%s/%s: key must be EC or RSA >= %d bits", dir,
	    MITM_KEY_FILE, MITM_RSA_MIN_BITS);
	return -1;
}

/* Fill ca->pem and ca->fingerprint from ca->cert. */
static int
ca_fill(struct mitm_ca *ca)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	BIO *bio = NULL;
	char *data;
	long len;
	int rc = -1;

	if (X509_digest(ca->cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		goto out;
	for (i = 0; i < mdlen; i++)
		snprintf(ca->fingerprint + 2 * i, 3, "%02x", md[i]);
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509(bio, ca->cert) != 1)
		goto out;
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0)
		goto out;
	ca->pem = malloc((size_t)len + 1);
	if (ca->pem == NULL)
		goto out;
	memcpy(ca->pem, data, (size_t)len);
	ca->pem[len] = '\0';
	ca->pem_len = (size_t)len;
	rc = 0;
out:
	BIO_free(bio);
	return rc;
}

/* Generate a P-256 key and write it to dir/ca.key (0600, atomically). */
static EVP_PKEY *
ca_key_create(int dfd, const char *dir, char *err, size_t errsz)
{
	EVP_PKEY *key;
	BIO *bio = NULL;
	char *data, ebuf[256];
	long len;
	int ok = 0;

	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		err_set(err, errsz, "CA key generation: %s",
		    ssl_err(ebuf, sizeof(ebuf)));
		goto out;
	}
	/* Secure-heap BIO: the buffer is wiped when freed or grown. */
	bio = BIO_new(BIO_s_secmem());
	if (bio == NULL ||
	    PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) !=
		1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		err_set(err, errsz, "CA key encoding: %s",
		    ssl_err(ebuf, sizeof(ebuf)));
		goto out;
	}
	if (file_write_atomic(dfd, dir, MITM_KEY_FILE, MITM_KEY_TMP, data,
		(size_t)len, 0600, err, errsz) == -1)
		goto out;
	ok = 1;
out:
	BIO_free(bio);
	if (!ok) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

/* Make a CA cert for key and write it to dir/ca.crt (0600 like every file
 * of the state directory; it is served through the API and the proxy port,
 * atomically). */
static X509 *
ca_cert_create(int dfd, const char *dir, EVP_PKEY *key, char *err, size_t errsz)
{
	X509 *cert;
	BIO *bio = NULL;
	char *data, ebuf[256];
	long len;
	int ok = 0;

	cert = ca_make_cert(key);
	if (cert == NULL) {
		err_set(err, errsz, "CA certificate: %s",
		    ssl_err(ebuf, sizeof(ebuf)));
		goto out;
	}
	bio = BIO_new(BIO_s_mem());
	if (bio == NULL || PEM_write_bio_X509(bio, cert) != 1 ||
	    (len = BIO_get_mem_data(bio, &data)) <= 0) {
		err_set(err, errsz, "CA certificate encoding: %s",
		    ssl_err(ebuf, sizeof(ebuf)));
		goto out;
	}
	if (file_write_atomic(dfd, dir, MITM_CERT_FILE, MITM_CERT_TMP, data,
		(size_t)len, 0600, err, errsz) == -1)
		goto out;
	ok = 1;
out:
	BIO_free(bio);
	if (!ok) {
		X509_free(cert);
		cert = NULL;
	}
	return cert;
}

struct mitm_ca *
mitm_ca_open(const char *dir, char *err, size_t errsz)
{
	return mitm_ca_open_as(dir, dir, err, errsz);
}

struct mitm_ca *
mitm_ca_open_as(const char *path, const char *dir, char *err, size_t errsz)
{
	struct mitm_ca *ca = NULL;
	unsigned char *kbuf = NULL, *cbuf = NULL;
	size_t klen = 0, clen = 0;
	enum mitm_file kst, cst;
	int dfd, ok = 0, created = 0;
	char ebuf[256];
	BIO *bio;

	if (err != NULL && errsz > 0)
		err[0] = '\0';
	/* opened by path; from here on reached through dfd, and named in
	 * messages as dir */
	dfd = dir_open(path, err, errsz);
	if (dfd == -1)
		return NULL;
	ca = calloc(1, sizeof(*ca));
	if (ca == NULL) {
		err_set(err, errsz, "out of memory");
		goto out;
	}
	kst = file_read(dfd, dir, MITM_KEY_FILE, 1, &kbuf, &klen, err, errsz);
	if (kst == MITM_FILE_BAD)
		goto out;
	cst = file_read(dfd, dir, MITM_CERT_FILE, 0, &cbuf, &clen, err, errsz);
	if (cst == MITM_FILE_BAD)
		goto out;
	if (kst == MITM_FILE_MISSING && cst == MITM_FILE_OK) {
		err_set(err, errsz,
		    "%s/%s exists without %s: refused (move it away to "
		    "create a new CA)",
		    dir, MITM_CERT_FILE, MITM_KEY_FILE);
		goto out;
	}

	if (kst == MITM_FILE_MISSING) {
		ca->key = ca_key_create(dfd, dir, err, errsz);
		if (ca->key == NULL)
			goto out;
		created = 1;
	} else {
		bio = BIO_new_mem_buf(kbuf, (int)klen);
		if (bio != NULL)
			ca->key = PEM_read_bio_PrivateKey(
			    bio, NULL, pem_no_pass, NULL);
		BIO_free(bio);
		if (ca->key == NULL) {
			err_set(err, errsz, "%s/%s: not a PEM private key: %s",
			    dir, MITM_KEY_FILE, ssl_err(ebuf, sizeof(ebuf)));
			goto out;
		}
		if (ca_key_check(ca->key, dir, err, errsz) == -1)
			goto out;
	}

	if (cst == MITM_FILE_MISSING) {
		/* A new key, or a crash between writing the key and the cert:
		 * the cert has never been handed out, make it now. */
		ca->cert = ca_cert_create(dfd, dir, ca->key, err, errsz);
		if (ca->cert == NULL)
			goto out;
		created = 1;
	} else {
		bio = BIO_new_mem_buf(cbuf, (int)clen);
		if (bio != NULL)
			ca->cert =
			    PEM_read_bio_X509(bio, NULL, pem_no_pass, NULL);
		BIO_free(bio);
		if (ca->cert == NULL) {
			err_set(err, errsz, "%s/%s: not a PEM certificate: %s",
			    dir, MITM_CERT_FILE, ssl_err(ebuf, sizeof(ebuf)));
			goto out;
		}
	}

	if (X509_check_ca(ca->cert) != 1) {
		err_set(err, errsz, "%s/%s: not a CA certificate", dir,
		    MITM_CERT_FILE);
		goto out;
	}
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		ERR_clear_error();
		err_set(err, errsz, "%s/%s does not match %s/%s", dir,
		    MITM_CERT_FILE, dir, MITM_KEY_FILE);
		goto out;
	}
	if (ca_fill(ca) == -1) {
		err_set(err, errsz, "CA certificate encoding: %s",
		    ssl_err(ebuf, sizeof(ebuf)));
		goto out;
	}
	if (created)
		log_info("mitm: created CA %s/%s, sha256 %s", dir,
		    MITM_CERT_FILE, ca->fingerprint);
	ok = 1;
out:
	file_buf_free(kbuf, klen);
	file_buf_free(cbuf, clen);
	close(dfd);
	if (!ok) {
		ERR_clear_error();
		mitm_ca_free(ca);
		ca = NULL;
	}
	return ca;
}

void
mitm_ca_free(struct mitm_ca *ca)
{
	if (ca == NULL)
		return;
	EVP_PKEY_free(ca->key);
	X509_free(ca->cert);
	free(ca->pem);
	free(ca);
}

const char *
mitm_ca_pem(const struct mitm_ca *ca, size_t *len)
{
	if (len != NULL)
		*len = ca->pem_len;
	return ca->pem;
}

void
mitm_ca_fingerprint(const struct mitm_ca *ca, char out[65])
{
	memcpy(out, ca->fingerprint, 65);
}

X509 *
mitm_ca_cert(const struct mitm_ca *ca)
{
	return ca->cert;
}

/* ---- names ---------------------------------------------------------- */

/* A DNS name: [a-z0-9._-], labels 1..63, last label not all digits (a
 * client would take that for an IPv4 address in some other form). */
static int
name_dns_valid(const char *name, size_t len)
{
	size_t i, label = 0;
	int all_digits = 1;
	char ch;

	for (i = 0; i < len; i++) {
		ch = name[i];
		if (ch == '.') {
			if (label == 0)
				return 0;
			label = 0;
			all_digits = 1;
			continue;
		}
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
			ch == '-' || ch == '_'))
			return 0;
		if (!(ch >= '0' && ch <= '9'))
			all_digits = 0;
		if (++label > 63)
			return 0;
	}
	return label > 0 && !all_digits;
}

/* An IP literal in exactly the text inet_ntop gives back. */
static int
name_ip_valid(const char *name)
{
	unsigned char addr[16];
	char text[INET6_ADDRSTRLEN];
	int af = strchr(name, ':') != NULL ? AF_INET6 : AF_INET;

	if (inet_pton(af, name, addr) != 1)
		return 0;
	if (inet_ntop(af, addr, text, sizeof(text)) == NULL)
		return 0;
	return strcmp(text, name) == 0;
}

static enum mitm_name
name_classify(const char *name, size_t *lenp)
{
	size_t len;

	if (name == NULL)
		return MITM_NAME_BAD;
	len = strnlen(name, MITM_NAME_MAX + 1);
	*lenp = len;
	if (len == 0 || len > MITM_NAME_MAX)
		return MITM_NAME_BAD;
	if (name_ip_valid(name))
		return MITM_NAME_IP;
	if (name_dns_valid(name, len))
		return MITM_NAME_DNS;
	return MITM_NAME_BAD;
}

int
mitm_name_valid(const char *name)
{
	size_t len;

	return name_classify(name, &len) != MITM_NAME_BAD;
}

/* ---- SipHash-2-4 ---------------------------------------------------- */

static uint64_t
sip_rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static uint64_t
sip_load(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static void
sip_round(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = sip_rotl(v[1], 13);
	v[1] ^= v[0];
	v[0] = sip_rotl(v[0], 32);
	v[2] += v[3];
	v[3] = sip_rotl(v[3], 16);
	v[3] ^= v[2];
	v[0] += v[3];
	v[3] = sip_rotl(v[3], 21);
	v[3] ^= v[0];
	v[2] += v[1];
	v[1] = sip_rotl(v[1], 17);
	v[1] ^= v[2];
	v[2] = sip_rotl(v[2], 32);
}

static uint64_t
sip_hash(const unsigned char key[16], const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t k0 = sip_load(key), k1 = sip_load(key + 8), m, b;
	uint64_t v[4];
	size_t i, end = len - len % 8;

	v[0] = 0x736f6d6570736575ULL ^ k0;
	v[1] = 0x646f72616e646f6dULL ^ k1;
	v[2] = 0x6c7967656e657261ULL ^ k0;
	v[3] = 0x7465646279746573ULL ^ k1;
	for (i = 0; i < end; i += 8) {
		m = sip_load(p + i);
		v[3] ^= m;
		sip_round(v);
		sip_round(v);
		v[0] ^= m;
	}
	b = (uint64_t)len << 56;
	for (i = 0; i < len % 8; i++)
		b |= (uint64_t)p[end + i] << (8 * i);
	v[3] ^= b;
	sip_round(v);
	sip_round(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sip_round(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/* ---- server contexts ------------------------------------------------ */

/* Pick "http/1.1" from the client's ALPN list; refuse a list without it
 * (we speak nothing else).  Not called when the client offers no ALPN. */
static int
mitm_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const char h11[] = "http/1.1";
	unsigned int i = 0, n;

	(void)ssl;
	(void)arg;
	while (i < inlen) {
		n = in[i];
		if (n == 0 || n > inlen - i - 1)
			break;
		if (n == sizeof(h11) - 1 && memcmp(in + i + 1, h11, n) == 0) {
			*out = in + i + 1;
			*outlen = (unsigned char)n;
			return SSL_TLSEXT_ERR_OK;
		}
		i += n + 1;
	}
	return SSL_TLSEXT_ERR_ALERT_FATAL;
}

/* Session tickets are made as usual. */
static int
mitm_ticket_make(SSL *ssl, void *arg)
{
	(void)ssl;
	(void)arg;
	return 1;
}

/*
 * A ticket is taken under TLS 1.3 only.  A TLS 1.2 resumption takes the
 * server name from the session, not from the new ClientHello, so the
 * check that the name is the CONNECT host would see the old one; a TLS
 * 1.2 client gets a full handshake instead, its name checked each time.
 */
static SSL_TICKET_RETURN
mitm_ticket_take(SSL *ssl, SSL_SESSION *sess, const unsigned char *keyname,
    size_t keyname_len, SSL_TICKET_STATUS status, void *arg)
{
	(void)sess;
	(void)keyname;
	(void)keyname_len;
	(void)arg;
	if (SSL_version(ssl) < TLS1_3_VERSION)
		return SSL_TICKET_RETURN_IGNORE;
	switch (status) {
	case SSL_TICKET_SUCCESS:
		return SSL_TICKET_RETURN_USE;
	case SSL_TICKET_SUCCESS_RENEW:
		return SSL_TICKET_RETURN_USE_RENEW;
	case SSL_TICKET_EMPTY:
	case SSL_TICKET_NO_DECRYPT:
		return SSL_TICKET_RETURN_IGNORE_RENEW;
	default:
		return SSL_TICKET_RETURN_IGNORE;
	}
}

int
mitm_ctx_setup(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return -1;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_clear_options(ctx, SSL_OP_NO_TICKET);
	/* Tickets carry the session; no per-context session memory. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_session_ticket_cb(ctx, mitm_ticket_make,
	    mitm_ticket_take, NULL) != 1)
		return -1;
	SSL_CTX_set_alpn_select_cb(ctx, mitm_alpn_select, NULL);
	return 0;
}

/* ---- cache ---------------------------------------------------------- */

static time_t
cache_now(const struct mitm_cache *c)
{
	return c->fixed_now != 0 ? c->fixed_now : time(NULL);
}

static X509_EXTENSION *
ext_from_conf(int nid, const char *value)
{
	X509V3_CTX v3;

	X509V3_set_ctx(&v3, NULL, NULL, NULL, NULL, 0);
	return X509V3_EXT_conf_nid(NULL, &v3, nid, value);
}

/* authorityKeyIdentifier keyid = the CA's subjectKeyIdentifier. */
static X509_EXTENSION *
ext_akid(X509 *ca)
{
	const ASN1_OCTET_STRING *skid = X509_get0_subject_key_id(ca);
	AUTHORITY_KEYID *ak;
	X509_EXTENSION *ext = NULL;

	if (skid == NULL)
		return NULL;
	ak = AUTHORITY_KEYID_new();
	if (ak == NULL)
		return NULL;
	ak->keyid = ASN1_OCTET_STRING_dup(skid);
	if (ak->keyid != NULL)
		ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, ak);
	AUTHORITY_KEYID_free(ak);
	return ext;
}

struct mitm_cache *
mitm_cache_new(struct mitm_ca *ca, size_t max)
{
	struct mitm_cache *c = NULL;
	size_t n;
	int ok = 0;

	if (ca == NULL || max == 0 || max > MITM_CACHE_MAX) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->max = max;
	for (n = 16; n < max; n <<= 1)
		;
	c->nbuckets = n;
	c->buckets = calloc(n, sizeof(*c->buckets));
	if (c->buckets == NULL)
		goto out;
	if (RAND_bytes(c->hash_key, sizeof(c->hash_key)) != 1)
		goto out;
	X509_up_ref(ca->cert);
	c->ca_cert = ca->cert;
	EVP_PKEY_up_ref(ca->key);
	c->ca_key = ca->key;
	c->key = EVP_EC_gen("P-256");
	c->ext_bc = ext_from_conf(NID_basic_constraints, "critical,CA:FALSE");
	c->ext_ku = ext_from_conf(NID_key_usage, "critical,digitalSignature");
	c->ext_eku = ext_from_conf(NID_ext_key_usage, "serverAuth");
	c->ext_akid = ext_akid(ca->cert);
	if (c->key == NULL || c->ext_bc == NULL || c->ext_ku == NULL ||
	    c->ext_eku == NULL)
		goto out;
	ok = 1;
out:
	if (!ok) {
		ERR_clear_error();
		mitm_cache_free(c);
		c = NULL;
		errno = ENOMEM;
	}
	return c;
}

static void
leaf_clear(struct mitm_leaf *l)
{
	X509_free(l->cert);
	l->cert = NULL;
	SSL_CTX_free(l->ctx);
	l->ctx = NULL;
}

void
mitm_cache_free(struct mitm_cache *c)
{
	struct mitm_leaf *l, *next;

	if (c == NULL)
		return;
	for (l = c->head; l != NULL; l = next) {
		next = l->next;
		leaf_clear(l);
		free(l);
	}
	free(c->buckets);
	X509_EXTENSION_free(c->ext_bc);
	X509_EXTENSION_free(c->ext_ku);
	X509_EXTENSION_free(c->ext_eku);
	X509_EXTENSION_free(c->ext_akid);
	EVP_PKEY_free(c->key);
	EVP_PKEY_free(c->ca_key);
	X509_free(c->ca_cert);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* subjectAltName with the one name: DNS or IP.  critical when the subject
 * is empty (RFC 5280 4.2.1.6). */
static int
leaf_add_san(
    X509 *x, const char *name, size_t len, enum mitm_name kind, int critical)
{
	GENERAL_NAMES *gens;
	GENERAL_NAME *gn = NULL;
	ASN1_OCTET_STRING *ip;
	ASN1_IA5STRING *dns;
	int rc = -1;

	gens = sk_GENERAL_NAME_new_null();
	if (gens == NULL)
		return -1;
	gn = GENERAL_NAME_new();
	if (gn == NULL)
		goto out;
	if (kind == MITM_NAME_IP) {
		ip = a2i_IPADDRESS(name);
		if (ip == NULL)
			goto out;
		GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);
	} else {
		dns = ASN1_IA5STRING_new();
		if (dns == NULL)
			goto out;
		GENERAL_NAME_set0_value(gn, GEN_DNS, dns);
		if (ASN1_STRING_set(dns, name, (int)len) != 1)
			goto out;
	}
	if (sk_GENERAL_NAME_push(gens, gn) == 0)
		goto out;
	gn = NULL;
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, critical,
		X509V3_ADD_DEFAULT) != 1)
		goto out;
	rc = 0;
out:
	GENERAL_NAME_free(gn);
	GENERAL_NAMES_free(gens);
	return rc;
}

/* Mint the leaf for name, valid from now - BACKDATE to now + LIFETIME. */
static X509 *
leaf_mint(struct mitm_cache *c, const char *name, size_t len,
    enum mitm_name kind, time_t now)
{
	X509_NAME *subj;
	int has_cn = len <= MITM_CN_MAX, ok = 0;
	X509 *x;

	x = X509_new();
	if (x == NULL)
		return NULL;
	subj = X509_get_subject_name(x);
	if (X509_set_version(x, X509_VERSION_3) != 1 ||
	    cert_set_serial(x) == -1 ||
	    X509_set_issuer_name(x, X509_get_subject_name(c->ca_cert)) != 1)
		goto out;
	if (has_cn && X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC,
			  (const unsigned char *)name, (int)len, -1, 0) != 1)
		goto out;
	if (ASN1_TIME_set(X509_getm_notBefore(x), now - MITM_LEAF_BACKDATE) ==
		NULL ||
	    ASN1_TIME_set(X509_getm_notAfter(x), now + MITM_LEAF_LIFETIME) ==
		NULL ||
	    X509_set_pubkey(x, c->key) != 1)
		goto out;
	if (X509_add_ext(x, c->ext_bc, -1) != 1 ||
	    X509_add_ext(x, c->ext_ku, -1) != 1 ||
	    X509_add_ext(x, c->ext_eku, -1) != 1 ||
	    (c->ext_akid != NULL && X509_add_ext(x, c->ext_akid, -1) != 1) ||
	    leaf_add_san(x, name, len, kind, !has_cn) == -1)
		goto out;
	if (X509_sign(x, c->ca_key, EVP_sha256()) <= 0)
		goto out;
	c->mints++;
	ok = 1;
out:
	if (!ok) {
		log_warnx("mitm: minting a leaf for %s failed", name);
		ERR_clear_error();
		X509_free(x);
		x = NULL;
	}
	return x;
}

static void
lru_unlink(struct mitm_cache *c, struct mitm_leaf *l)
{
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		c->head = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	else
		c->tail = l->prev;
	l->prev = l->next = NULL;
}

static void
lru_push_front(struct mitm_cache *c, struct mitm_leaf *l)
{
	l->prev = NULL;
	l->next = c->head;
	if (c->head != NULL)
		c->head->prev = l;
	c->head = l;
	if (c->tail == NULL)
		c->tail = l;
}

static void
hash_unlink(struct mitm_cache *c, struct mitm_leaf *l)
{
	struct mitm_leaf **pp = &c->buckets[l->hash & (c->nbuckets - 1)];

	while (*pp != NULL && *pp != l)
		pp = &(*pp)->hnext;
	if (*pp == l)
		*pp = l->hnext;
	l->hnext = NULL;
}

/* The cached leaf for name (any age), or NULL. */
static struct mitm_leaf *
cache_find(const struct mitm_cache *c, const char *name, size_t len)
{
	struct mitm_leaf *l;
	uint64_t h = sip_hash(c->hash_key, name, len);

	for (l = c->buckets[h & (c->nbuckets - 1)]; l != NULL; l = l->hnext)
		if (l->hash == h && l->len == len &&
		    memcmp(l->name, name, len) == 0)
			return l;
	return NULL;
}

int
mitm_cache_fresh(struct mitm_cache *c, const char *name)
{
	const struct mitm_leaf *l;
	size_t len;
	time_t now;
	int is_fresh;

	if (name_classify(name, &len) == MITM_NAME_BAD)
		return 0;
	pthread_mutex_lock(&c->lock);
	l = cache_find(c, name, len);
	now = cache_now(c);
	is_fresh = l != NULL && now >= l->not_before &&
	    l->not_after - now >= MITM_LEAF_RENEW;
	pthread_mutex_unlock(&c->lock);
	return is_fresh;
}

/*
 * The leaf for name, fresh and at the front of the LRU list: found, renewed
 * or minted (evicting the least recently used one at max).  Borrowed.
 */
static struct mitm_leaf *
cache_leaf(struct mitm_cache *c, const char *name)
{
	struct mitm_leaf *l;
	enum mitm_name kind;
	uint64_t h;
	size_t len;
	time_t now;
	X509 *x;

	kind = name_classify(name, &len);
	if (kind == MITM_NAME_BAD) {
		errno = EINVAL;
		return NULL;
	}
	h = sip_hash(c->hash_key, name, len);
	l = cache_find(c, name, len);
	now = cache_now(c);
	if (l != NULL && now >= l->not_before &&
	    l->not_after - now >= MITM_LEAF_RENEW) {
		lru_unlink(c, l);
		lru_push_front(c, l);
		return l;
	}

	/* A miss, nearly expired, or the clock went back before notBefore. */
	x = leaf_mint(c, name, len, kind, now);
	if (x == NULL) {
		errno = EIO;
		return NULL;
	}
	if (l != NULL) {
		/* Renewal in place: same name, same hash chain. */
		leaf_clear(l);
		lru_unlink(c, l);
	} else {
		if (c->count == c->max) {
			/* Evict the least recently used, reuse its slot. */
			l = c->tail;
			lru_unlink(c, l);
			hash_unlink(c, l);
			leaf_clear(l);
			c->count--;
		} else {
			l = calloc(1, sizeof(*l));
			if (l == NULL) {
				X509_free(x);
				errno = ENOMEM;
				return NULL;
			}
		}
		l->hash = h;
		l->len = len;
		memcpy(l->name, name, len);
		l->name[len] = '\0';
		l->hnext = c->buckets[h & (c->nbuckets - 1)];
		c->buckets[h & (c->nbuckets - 1)] = l;
		c->count++;
	}
	l->cert = x;
	l->not_before = now - MITM_LEAF_BACKDATE;
	l->not_after = now + MITM_LEAF_LIFETIME;
	lru_push_front(c, l);
	return l;
}

X509 *
mitm_cache_get(struct mitm_cache *c, const char *name, EVP_PKEY **key)
{
	struct mitm_leaf *l;
	X509 *x = NULL;

	pthread_mutex_lock(&c->lock);
	l = cache_leaf(c, name);
	if (l == NULL)
		goto out;
	if (X509_up_ref(l->cert) != 1) {
		errno = ENOMEM;
		goto out;
	}
	if (key != NULL)
		*key = c->key;
	x = l->cert;
out:
	pthread_mutex_unlock(&c->lock);
	return x;
}

/* The server context for a leaf: cert, CA chain, shared key. */
static SSL_CTX *
leaf_ctx_new(struct mitm_cache *c, X509 *cert)
{
	SSL_CTX *ctx;
	int ok = 0;

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL)
		goto out;
	if (mitm_ctx_setup(ctx) == -1 ||
	    SSL_CTX_use_certificate(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey(ctx, c->key) != 1 ||
	    SSL_CTX_add1_chain_cert(ctx, c->ca_cert) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1)
		goto out;
	ok = 1;
out:
	if (!ok) {
		ERR_clear_error();
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

SSL_CTX *
mitm_cache_ctx(struct mitm_cache *c, const char *name)
{
	struct mitm_leaf *l;
	SSL_CTX *ctx = NULL;

	pthread_mutex_lock(&c->lock);
	l = cache_leaf(c, name);
	if (l == NULL)
		goto out;
	if (l->ctx == NULL) {
		l->ctx = leaf_ctx_new(c, l->cert);
		if (l->ctx == NULL) {
			log_warnx("mitm: server context for %s failed", name);
			errno = ENOMEM;
			goto out;
		}
	}
	if (SSL_CTX_up_ref(l->ctx) != 1) {
		errno = ENOMEM;
		goto out;
	}
	ctx = l->ctx;
out:
	pthread_mutex_unlock(&c->lock);
	return ctx;
}

size_t
mitm_cache_count(struct mitm_cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->count;
	pthread_mutex_unlock(&c->lock);
	return n;
}

uint64_t
mitm_cache_mints(struct mitm_cache *c)
{
	uint64_t n;

	pthread_mutex_lock(&c->lock);
	n = c->mints;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void
mitm_cache_set_time(struct mitm_cache *c, time_t t)
{
	pthread_mutex_lock(&c->lock);
	c->fixed_now = t;
	pthread_mutex_unlock(&c->lock);
}
