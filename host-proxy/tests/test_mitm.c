/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mitm.c - the interception CA (create, reload, refusals, fields) and
 * the leaf cache (fields, verification, names, hits, LRU bound, renewal),
 * ending with real in-process TLS handshakes over BIO pairs.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "mitm.h"

#define PATHSZ 512
#define DAY 86400
/* Seconds a test may take between reading the clock and minting. */
#define SLACK 30

static char test_root[PATHSZ];
static int test_dirs;

/* ---- helpers -------------------------------------------------------- */

static int
rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
group_setup(void **state)
{
	(void)state;
	snprintf(test_root, sizeof(test_root), "/tmp/test_mitm.XXXXXX");
	if (mkdtemp(test_root) == NULL)
		return -1;
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	return nftw(test_root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A fresh, not yet existing directory path under the test root. */
static void
dir_fresh(char out[PATHSZ])
{
	int n;

	n = snprintf(out, PATHSZ, "%s/d%d", test_root, test_dirs++);
	assert_true(n > 0 && n < PATHSZ);
}

static void
path_join(char out[PATHSZ], const char *dir, const char *name)
{
	int n;

	n = snprintf(out, PATHSZ, "%s/%s", dir, name);
	assert_true(n > 0 && n < PATHSZ);
}

static struct mitm_ca *
ca_open_ok(const char *dir)
{
	char err[512] = "";
	struct mitm_ca *ca;

	ca = mitm_ca_open(dir, err, sizeof(err));
	if (ca == NULL)
		fail_msg("mitm_ca_open(%s): %s", dir, err);
	return ca;
}

/* mitm_ca_open must fail with a message containing want. */
static void
ca_open_refused(const char *dir, const char *want)
{
	char err[512] = "";
	struct mitm_ca *ca;

	ca = mitm_ca_open(dir, err, sizeof(err));
	if (ca != NULL) {
		mitm_ca_free(ca);
		fail_msg("mitm_ca_open(%s) succeeded, want '%s'", dir, want);
	}
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
}

/* A new CA in a fresh directory; its path in dir. */
static struct mitm_ca *
ca_fresh(char dir[PATHSZ])
{
	dir_fresh(dir);
	return ca_open_ok(dir);
}

static void
file_write(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	assert_true(fd >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

/* Read a whole small file into a new NUL-terminated buffer. */
static char *
file_slurp(const char *path, size_t *len)
{
	char *buf;
	FILE *f;
	long n;

	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	if (len != NULL)
		*len = (size_t)n;
	return buf;
}

static EVP_PKEY *
key_read(const char *dir)
{
	char path[PATHSZ];
	EVP_PKEY *key;
	FILE *f;

	path_join(path, dir, "ca.key");
	f = fopen(path, "r");
	assert_non_null(f);
	key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(key);
	return key;
}

static X509 *
cert_read(const char *dir)
{
	char path[PATHSZ];
	X509 *x;
	FILE *f;

	path_join(path, dir, "ca.crt");
	f = fopen(path, "r");
	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static void
key_write(const char *dir, EVP_PKEY *key)
{
	char path[PATHSZ];
	FILE *f;

	path_join(path, dir, "ca.key");
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fchmod(fileno(f), 0600), 0);
	assert_int_equal(
	    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
}

static void
cert_write(const char *dir, X509 *x)
{
	char path[PATHSZ];
	FILE *f;

	path_join(path, dir, "ca.crt");
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
}

/* A self-signed cert for key, a CA or not. */
static X509 *
cert_self_signed(EVP_PKEY *key, int is_ca)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	X509 *x;

	x = X509_new();
	assert_non_null(x);
	assert_int_equal(X509_set_version(x, X509_VERSION_3), 1);
	assert_int_equal(ASN1_INTEGER_set(X509_get_serialNumber(x), 7), 1);
	assert_int_equal(
	    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
		MBSTRING_ASC, (const unsigned char *)"t", -1, -1, 0),
	    1);
	assert_int_equal(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -DAY));
	assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), DAY));
	assert_int_equal(X509_set_pubkey(x, key), 1);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
	    is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	assert_non_null(ext);
	assert_int_equal(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
	if (is_ca) {
		ext = X509V3_EXT_conf_nid(
		    NULL, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
		assert_int_equal(X509_add_ext(x, ext, -1), 1);
		X509_EXTENSION_free(ext);
	}
	assert_true(X509_sign(x, key, EVP_sha256()) > 0);
	return x;
}

static int
ext_critical(X509 *x, int nid)
{
	int i = X509_get_ext_by_NID(x, nid, -1);

	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

/* Seconds from now to t (negative: in the past). */
static long
time_from(const ASN1_TIME *t, time_t now)
{
	ASN1_TIME *base;
	int days = 0, secs = 0;

	base = ASN1_TIME_set(NULL, now);
	assert_non_null(base);
	assert_int_equal(ASN1_TIME_diff(&days, &secs, base, t), 1);
	ASN1_TIME_free(base);
	return (long)days * DAY + secs;
}

static int
serial_bits(X509 *x)
{
	BIGNUM *bn;
	int bits;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(bn);
	assert_false(BN_is_negative(bn));
	bits = BN_num_bits(bn);
	BN_free(bn);
	return bits;
}

/* Verify leaf against only the CA; host or ip (or neither) expected.
 * Returns the X509_V_* result. */
static int
leaf_verify(X509 *ca, X509 *leaf, const char *host, const char *ip, time_t at)
{
	X509_STORE *store;
	X509_STORE_CTX *sctx;
	X509_VERIFY_PARAM *param;
	int rc;

	store = X509_STORE_new();
	sctx = X509_STORE_CTX_new();
	assert_non_null(store);
	assert_non_null(sctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(sctx, store, leaf, NULL), 1);
	param = X509_STORE_CTX_get0_param(sctx);
	assert_int_equal(
	    X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER), 1);
	if (host != NULL)
		assert_int_equal(
		    X509_VERIFY_PARAM_set1_host(param, host, 0), 1);
	if (ip != NULL)
		assert_int_equal(X509_VERIFY_PARAM_set1_ip_asc(param, ip), 1);
	if (at != 0)
		X509_VERIFY_PARAM_set_time(param, at);
	rc = X509_verify_cert(sctx) == 1 ? X509_V_OK
					 : X509_STORE_CTX_get_error(sctx);
	X509_STORE_CTX_free(sctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

/* The leaf's one SAN entry: its type; its value copied to val (SANSZ),
 * length in vlen. */
#define SANSZ 256
static int
leaf_san(X509 *leaf, unsigned char *val, int *vlen)
{
	const ASN1_STRING *str;
	GENERAL_NAMES *gens;
	GENERAL_NAME *gn;
	int type;

	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	gn = sk_GENERAL_NAME_value(gens, 0);
	type = gn->type;
	if (type == GEN_DNS) {
		str = gn->d.dNSName;
	} else {
		assert_int_equal(type, GEN_IPADD);
		str = gn->d.iPAddress;
	}
	*vlen = ASN1_STRING_length(str);
	assert_true(*vlen >= 0 && *vlen < SANSZ);
	memcpy(val, ASN1_STRING_get0_data(str), (size_t)*vlen);
	GENERAL_NAMES_free(gens);
	return type;
}

/* A name of exactly len chars: labels of 31 letters, never ending in '.'. */
static void
name_of_len(char *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = (i % 32 == 31) ? '.' : (char)('a' + i % 26);
	if (len > 0 && out[len - 1] == '.')
		out[len - 1] = 'z';
	out[len] = '\0';
}

/* ---- CA ------------------------------------------------------------- */

static void
test_ca_create_reopen(void **state)
{
	char dir[PATHSZ], path[PATHSZ], fp1[65], fp2[65], want[65];
	unsigned char md[32];
	unsigned int mdlen = 0, i;
	struct mitm_ca *ca, *ca2;
	const char *pem, *pem2;
	size_t len, len2, flen;
	EVP_PKEY *key;
	struct stat sb;
	char *file;

	(void)state;
	ca = ca_fresh(dir);
	/* the directory was made 0700 */
	assert_int_equal(stat(dir, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700);

	path_join(path, dir, "ca.key");
	assert_int_equal(lstat(path, &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_uid, geteuid());
	path_join(path, dir, "ca.key.tmp");
	assert_int_equal(access(path, F_OK), -1);
	path_join(path, dir, "ca.crt.tmp");
	assert_int_equal(access(path, F_OK), -1);

	/* the key file: EC P-256, matching the cert */
	key = key_read(dir);
	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
	{
		char group[64];
		size_t glen = 0;

		assert_int_equal(
		    EVP_PKEY_get_group_name(key, group, sizeof(group), &glen),
		    1);
		assert_string_equal(group, "prime256v1");
	}
	assert_int_equal(X509_check_private_key(mitm_ca_cert(ca), key), 1);
	EVP_PKEY_free(key);

	/* ca.crt is the PEM we hand out */
	pem = mitm_ca_pem(ca, &len);
	assert_int_equal(strlen(pem), len);
	assert_non_null(strstr(pem, "-----BEGIN CERTIFICATE-----"));
	path_join(path, dir, "ca.crt");
	file = file_slurp(path, &flen);
	assert_int_equal(flen, len);
	assert_memory_equal(file, pem, len);
	free(file);

	/* fingerprint: SHA-256 of the DER, lower-case hex */
	mitm_ca_fingerprint(ca, fp1);
	assert_int_equal(strlen(fp1), 64);
	assert_int_equal(
	    X509_digest(mitm_ca_cert(ca), EVP_sha256(), md, &mdlen), 1);
	assert_int_equal(mdlen, 32);
	for (i = 0; i < 32; i++)
		snprintf(want + 2 * i, 3, "%02x", md[i]);
	assert_string_equal(fp1, want);

	/* reopen: the same CA */
	ca2 = ca_open_ok(dir);
	pem2 = mitm_ca_pem(ca2, &len2);
	assert_int_equal(len2, len);
	assert_string_equal(pem2, pem);
	mitm_ca_fingerprint(ca2, fp2);
	assert_string_equal(fp2, fp1);
	assert_int_equal(X509_cmp(mitm_ca_cert(ca), mitm_ca_cert(ca2)), 0);
	mitm_ca_free(ca2);
	mitm_ca_free(ca);

	/* a different directory is a different CA */
	ca = ca_fresh(dir);
	mitm_ca_fingerprint(ca, fp2);
	assert_string_not_equal(fp2, fp1);
	mitm_ca_free(ca);
	mitm_ca_free(NULL);
}

static void
test_ca_fields(void **state)
{
	const ASN1_OCTET_STRING *skid;
	char dir[PATHSZ], cn[128];
	struct mitm_ca *ca;
	time_t now = time(NULL);
	long d;
	size_t i;
	X509 *x;

	(void)state;
	ca = ca_fresh(dir);
	x = mitm_ca_cert(ca);
	assert_int_equal(X509_get_version(x), X509_VERSION_3);
	assert_int_equal(X509_check_ca(x), 1);
	assert_int_equal(X509_get_pathlen(x), 0);
	assert_int_equal(ext_critical(x, NID_basic_constraints), 1);
	assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_int_equal(ext_critical(x, NID_key_usage), 1);
	skid = X509_get0_subject_key_id(x);
	assert_non_null(skid);
	assert_int_equal(ASN1_STRING_length(skid), 20);
	assert_int_equal(serial_bits(x), 128);
	assert_int_equal(X509_get_signature_nid(x), NID_ecdsa_with_SHA256);
	assert_int_equal(
	    X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)),
	    0);
	assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
			NID_commonName, cn, sizeof(cn)) > 0);
	assert_int_equal(strlen(cn), strlen("slicer-proxy CA ") + 8);
	assert_memory_equal(cn, "slicer-proxy CA ", 16);
	for (i = 16; i < strlen(cn); i++)
		assert_non_null(strchr("0123456789abcdef", cn[i]));
	/* one day back, ten calendar years forward */
	d = time_from(X509_get0_notBefore(x), now);
	assert_true(d >= -DAY && d <= -DAY + SLACK);
	d = time_from(X509_get0_notAfter(x), now);
	assert_true(d >= 3652L * DAY && d <= 3653L * DAY + SLACK);
	mitm_ca_free(ca);
}

static void
test_ca_refuse_mode(void **state)
{
	static const mode_t bad[] = {
	    0640,
	    0604,
	    0644,
	    0620,
	    0602,
	    0610,
	    0601,
	    0666,
	    0660,
	};
	char dir[PATHSZ], path[PATHSZ];
	struct mitm_ca *ca;
	size_t i;

	(void)state;
	ca = ca_fresh(dir);
	mitm_ca_free(ca);
	path_join(path, dir, "ca.key");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		ca_open_refused(dir, "group/world permission bits");
	}
	/* owner-only bits are fine; the refusals above were the mode */
	assert_int_equal(chmod(path, 0400), 0);
	mitm_ca_free(ca_open_ok(dir));
	assert_int_equal(chmod(path, 0600), 0);
	mitm_ca_free(ca_open_ok(dir));
}

static void
test_ca_refuse_owner(void **state)
{
	char dir[PATHSZ], path[PATHSZ];
	struct mitm_ca *ca;

	(void)state;
	if (geteuid() != 0)
		skip();
	ca = ca_fresh(dir);
	mitm_ca_free(ca);
	path_join(path, dir, "ca.key");
	assert_int_equal(chown(path, 65534, 65534), 0);
	ca_open_refused(dir, "owned by uid 65534");
	assert_int_equal(chown(path, 0, 0), 0);
	mitm_ca_free(ca_open_ok(dir));
}

static void
test_ca_refuse_files(void **state)
{
	char dir[PATHSZ], path[PATHSZ], other[PATHSZ], odir[PATHSZ];
	struct mitm_ca *ca;
	char *pem;
	size_t len;

	(void)state;
	ca = ca_fresh(dir);
	mitm_ca_free(ca);
	path_join(path, dir, "ca.key");

	/* a symlink to a perfectly good key */
	path_join(other, dir, "real.key");
	assert_int_equal(rename(path, other), 0);
	assert_int_equal(symlink(other, path), 0);
	ca_open_refused(dir, "symlink");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rename(other, path), 0);
	mitm_ca_free(ca_open_ok(dir));

	/* a directory where the key should be */
	assert_int_equal(rename(path, other), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	ca_open_refused(dir, "not a regular file");
	assert_int_equal(rmdir(path), 0);

	/* the cert without its key: never silently replaced */
	ca_open_refused(dir, "exists without ca.key");
	assert_int_equal(rename(other, path), 0);
	mitm_ca_free(ca_open_ok(dir));

	/* not PEM */
	pem = file_slurp(path, &len);
	file_write(path, "garbage\n", 8, 0600);
	ca_open_refused(dir, "not a PEM private key");
	file_write(path, pem, len, 0600);
	mitm_ca_free(ca_open_ok(dir));
	path_join(other, dir, "ca.crt");
	{
		static const char bad[] = "-----BEGIN CERTIFICATE-----\n"
					  "AAAA\n-----END CERTIFICATE-----\n";
		size_t clen;
		char *crt = file_slurp(other, &clen);

		file_write(other, bad, strlen(bad), 0644);
		ca_open_refused(dir, "not a PEM certificate");
		file_write(other, crt, clen, 0644);
		free(crt);
	}
	mitm_ca_free(ca_open_ok(dir));

	/* another CA's cert with this key */
	ca = ca_fresh(odir);
	mitm_ca_free(ca);
	{
		X509 *x = cert_read(odir);

		cert_write(dir, x);
		X509_free(x);
	}
	ca_open_refused(dir, "does not match");
	free(pem);
}

/* The file size ceiling, at and past it. */
static void
test_ca_file_limit(void **state)
{
	char dir[PATHSZ], path[PATHSZ];
	struct mitm_ca *ca;
	char *pem, *big;
	size_t len;

	(void)state;
	ca = ca_fresh(dir);
	mitm_ca_free(ca);
	path_join(path, dir, "ca.key");
	pem = file_slurp(path, &len);
	big = malloc(MITM_FILE_MAX + 1);
	assert_non_null(big);
	memcpy(big, pem, len);
	/* text after the PEM block is ignored by the parser */
	memset(big + len, '\n', MITM_FILE_MAX + 1 - len);
	file_write(path, big, MITM_FILE_MAX, 0600);
	mitm_ca_free(ca_open_ok(dir));
	file_write(path, big, MITM_FILE_MAX + 1, 0600);
	ca_open_refused(dir, "larger than");
	file_write(path, pem, len, 0600);
	mitm_ca_free(ca_open_ok(dir));
	free(big);
	free(pem);
}

/* A key without a cert (crash between the two renames) gets a new cert
 * for the same key. */
static void
test_ca_key_without_cert(void **state)
{
	char dir[PATHSZ], path[PATHSZ];
	struct mitm_ca *ca;
	X509 *old;

	(void)state;
	ca = ca_fresh(dir);
	old = X509_dup(mitm_ca_cert(ca));
	mitm_ca_free(ca);
	path_join(path, dir, "ca.crt");
	assert_int_equal(unlink(path), 0);
	ca = ca_open_ok(dir);
	assert_int_not_equal(X509_cmp(old, mitm_ca_cert(ca)), 0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(old),
			     X509_get0_pubkey(mitm_ca_cert(ca))),
	    1);
	assert_int_equal(access(path, F_OK), 0);
	mitm_ca_free(ca);
	X509_free(old);
}

/* Keys and certs we did not make: not a CA, encrypted, RSA sizes. */
static void
test_ca_foreign(void **state)
{
	char dir[PATHSZ], path[PATHSZ];
	struct mitm_ca *ca;
	EVP_PKEY *key;
	X509 *x;
	FILE *f;

	(void)state;
	ca = ca_fresh(dir);
	mitm_ca_free(ca);
	key = key_read(dir);

	/* a matching cert that is not a CA */
	x = cert_self_signed(key, 0);
	cert_write(dir, x);
	X509_free(x);
	ca_open_refused(dir, "not a CA certificate");
	x = cert_self_signed(key, 1);
	cert_write(dir, x);
	X509_free(x);
	mitm_ca_free(ca_open_ok(dir));

	/* an encrypted key: an error, never a passphrase prompt */
	path_join(path, dir, "ca.key");
	unlink(path);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fchmod(fileno(f), 0600), 0);
	assert_int_equal(PEM_write_PrivateKey(f, key, EVP_aes_256_cbc(),
			     (const unsigned char *)"pw", 2, NULL, NULL),
	    1);
	fclose(f);
	ca_open_refused(dir, "not a PEM private key");
	EVP_PKEY_free(key);

	/* RSA: 2048 bits accepted, 2047 refused */
	key = EVP_RSA_gen(2048);
	assert_non_null(key);
	key_write(dir, key);
	x = cert_self_signed(key, 1);
	cert_write(dir, x);
	X509_free(x);
	ca = ca_open_ok(dir);
	{
		struct mitm_cache *c = mitm_cache_new(ca, 2);
		X509 *leaf;

		assert_non_null(c);
		leaf = mitm_cache_get(c, "rsa.example", NULL);
		assert_non_null(leaf);
		assert_int_equal(
		    X509_get_signature_nid(leaf), NID_sha256WithRSAEncryption);
		assert_int_equal(
		    leaf_verify(mitm_ca_cert(ca), leaf, "rsa.example", NULL, 0),
		    X509_V_OK);
		X509_free(leaf);
		mitm_cache_free(c);
	}
	mitm_ca_free(ca);
	EVP_PKEY_free(key);
	key = EVP_RSA_gen(2047);
	assert_non_null(key);
	key_write(dir, key);
	x = cert_self_signed(key, 1);
	cert_write(dir, x);
	X509_free(x);
	ca_open_refused(dir, "EC or RSA >= 2048");
	EVP_PKEY_free(key);
}

/* ---- leaves --------------------------------------------------------- */

struct fixture {
	char dir[PATHSZ];
	struct mitm_ca *ca;
	struct mitm_cache *c;
};

static int
fixture_setup(void **state)
{
	struct fixture *fx;

	fx = calloc(1, sizeof(*fx));
	if (fx == NULL)
		return -1;
	fx->ca = ca_fresh(fx->dir);
	fx->c = mitm_cache_new(fx->ca, 8);
	if (fx->c == NULL)
		return -1;
	*state = fx;
	return 0;
}

static int
fixture_teardown(void **state)
{
	struct fixture *fx = *state;

	mitm_cache_free(fx->c);
	mitm_ca_free(fx->ca);
	free(fx);
	return 0;
}

static void
test_leaf_dns(void **state)
{
	struct fixture *fx = *state;
	const char *name = "api.example.com";
	unsigned char val[SANSZ];
	const ASN1_OCTET_STRING *akid;
	X509 *ca = mitm_ca_cert(fx->ca), *leaf;
	BASIC_CONSTRAINTS *bc;
	EVP_PKEY *key = NULL;
	time_t now = time(NULL);
	char cn[128];
	int vlen;
	long d;

	leaf = mitm_cache_get(fx->c, name, &key);
	assert_non_null(leaf);
	assert_non_null(key);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(leaf), key), 1);
	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);

	/* verifies against the CA, for this name only */
	assert_int_equal(leaf_verify(ca, leaf, name, NULL, 0), X509_V_OK);
	assert_int_equal(leaf_verify(ca, leaf, "other.example.com", NULL, 0),
	    X509_V_ERR_HOSTNAME_MISMATCH);
	assert_int_equal(X509_check_host(leaf, name, 0, 0, NULL), 1);
	assert_int_equal(
	    X509_check_host(leaf, "other.example.com", 0, 0, NULL), 0);
	assert_int_equal(X509_check_host(leaf, "example.com", 0, 0, NULL), 0);
	assert_int_equal(
	    X509_check_host(leaf, "x.api.example.com", 0, 0, NULL), 0);
	/* not by another CA */
	{
		char odir[PATHSZ];
		struct mitm_ca *other = ca_fresh(odir);

		assert_int_not_equal(
		    leaf_verify(mitm_ca_cert(other), leaf, name, NULL, 0),
		    X509_V_OK);
		mitm_ca_free(other);
	}

	/* fields */
	assert_int_equal(X509_get_version(leaf), X509_VERSION_3);
	assert_int_equal(X509_check_ca(leaf), 0);
	bc = X509_get_ext_d2i(leaf, NID_basic_constraints, NULL, NULL);
	assert_non_null(bc);
	assert_int_equal(bc->ca, 0);
	BASIC_CONSTRAINTS_free(bc);
	assert_int_equal(ext_critical(leaf, NID_basic_constraints), 1);
	assert_int_equal(X509_get_key_usage(leaf), KU_DIGITAL_SIGNATURE);
	assert_int_equal(ext_critical(leaf, NID_key_usage), 1);
	assert_int_equal(X509_get_extended_key_usage(leaf), XKU_SSL_SERVER);
	akid = X509_get0_authority_key_id(leaf);
	assert_non_null(akid);
	assert_int_equal(
	    ASN1_OCTET_STRING_cmp(akid, X509_get0_subject_key_id(ca)), 0);
	assert_int_equal(leaf_san(leaf, val, &vlen), GEN_DNS);
	assert_int_equal(vlen, strlen(name));
	assert_memory_equal(val, name, strlen(name));
	assert_int_equal(ext_critical(leaf, NID_subject_alt_name), 0);
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(leaf),
			NID_commonName, cn, sizeof(cn)) > 0);
	assert_string_equal(cn, name);
	assert_int_equal(X509_NAME_entry_count(X509_get_subject_name(leaf)), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_issuer_name(leaf),
			     X509_get_subject_name(ca)),
	    0);
	assert_int_equal(serial_bits(leaf), 128);
	assert_int_equal(X509_get_signature_nid(leaf), NID_ecdsa_with_SHA256);
	d = time_from(X509_get0_notBefore(leaf), now);
	assert_true(d >= -3600 && d <= -3600 + SLACK);
	d = time_from(X509_get0_notAfter(leaf), now);
	assert_true(d >= 7L * DAY && d <= 7L * DAY + SLACK);
	X509_free(leaf);

	/* every leaf has its own serial, all share the key */
	{
		X509 *a = mitm_cache_get(fx->c, "a.example", NULL);
		X509 *b = mitm_cache_get(fx->c, "b.example", NULL);

		assert_non_null(a);
		assert_non_null(b);
		assert_int_not_equal(ASN1_INTEGER_cmp(X509_get0_serialNumber(a),
					 X509_get0_serialNumber(b)),
		    0);
		assert_int_equal(
		    EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)), 1);
		X509_free(a);
		X509_free(b);
	}
}

static void
test_leaf_ip(void **state)
{
	static const struct {
		const char *ip;
		const char *other;
		int len;
		unsigned char bytes[16];
	} cases[] = {
	    {"192.0.2.7", "192.0.2.8", 4, {192, 0, 2, 7}},
	    {"2001:db8::1", "2001:db8::2", 16,
		{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
	    {"::1", "127.0.0.1", 16,
		{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}},
	};
	struct fixture *fx = *state;
	X509 *ca = mitm_ca_cert(fx->ca), *leaf;
	unsigned char val[SANSZ];
	size_t i;
	int vlen;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		leaf = mitm_cache_get(fx->c, cases[i].ip, NULL);
		assert_non_null(leaf);
		assert_int_equal(leaf_san(leaf, val, &vlen), GEN_IPADD);
		assert_int_equal(vlen, cases[i].len);
		assert_memory_equal(val, cases[i].bytes, (size_t)vlen);
		assert_int_equal(X509_check_ip_asc(leaf, cases[i].ip, 0), 1);
		assert_int_equal(X509_check_ip_asc(leaf, cases[i].other, 0), 0);
		assert_int_equal(
		    leaf_verify(ca, leaf, NULL, cases[i].ip, 0), X509_V_OK);
		assert_int_equal(leaf_verify(ca, leaf, NULL, cases[i].other, 0),
		    X509_V_ERR_IP_ADDRESS_MISMATCH);
		X509_free(leaf);
	}
}

/* CN only up to MITM_CN_MAX chars; without one the SAN is critical.  The
 * longest name still gets a leaf that verifies. */
static void
test_leaf_long_names(void **state)
{
	static const size_t lens[] = {
	    MITM_CN_MAX, MITM_CN_MAX + 1, MITM_NAME_MAX};
	struct fixture *fx = *state;
	char name[MITM_NAME_MAX + 1], cn[128];
	unsigned char val[SANSZ];
	X509 *leaf;
	size_t i;
	int vlen, has_cn;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		name_of_len(name, lens[i]);
		assert_int_equal(strlen(name), lens[i]);
		assert_true(mitm_name_valid(name));
		leaf = mitm_cache_get(fx->c, name, NULL);
		assert_non_null(leaf);
		has_cn = lens[i] <= MITM_CN_MAX;
		assert_int_equal(
		    X509_NAME_entry_count(X509_get_subject_name(leaf)), has_cn);
		if (has_cn) {
			assert_true(X509_NAME_get_text_by_NID(
					X509_get_subject_name(leaf),
					NID_commonName, cn, sizeof(cn)) > 0);
			assert_string_equal(cn, name);
		}
		assert_int_equal(
		    ext_critical(leaf, NID_subject_alt_name), !has_cn);
		assert_int_equal(leaf_san(leaf, val, &vlen), GEN_DNS);
		assert_int_equal(vlen, lens[i]);
		assert_int_equal(
		    leaf_verify(mitm_ca_cert(fx->ca), leaf, name, NULL, 0),
		    X509_V_OK);
		X509_free(leaf);
	}
}

static void
test_names(void **state)
{
	static const struct {
		const char *name;
		int ok;
	} cases[] = {
	    {"a", 1},
	    {"example.com", 1},
	    {"api.example.com", 1},
	    {"a-b.c_d.example", 1},
	    {"xn--bcher-kva.example", 1},
	    {"0.example", 1},
	    {"123abc", 1},
	    {"192.0.2.1", 1},
	    {"0.0.0.0", 1},
	    {"255.255.255.255", 1},
	    {"::1", 1},
	    {"2001:db8::1", 1},
	    {"::ffff:192.0.2.1", 1},
	    {"", 0},
	    {"Example.com", 0},
	    {"EXAMPLE.COM", 0},
	    {"*.example.com", 0},
	    {"*", 0},
	    {"a*b.example", 0},
	    {"exa mple.com", 0},
	    {"example.com.", 0},
	    {".example.com", 0},
	    {"a..b", 0},
	    {".", 0},
	    {"exam/ple", 0},
	    {"exam:ple", 0},
	    {"host\n", 0},
	    {"h\xc3\xa9.example", 0},
	    {"example.com:443", 0},
	    {"[::1]", 0},
	    {"2001:DB8::1", 0},
	    {"2001:db8:0:0:0:0:0:1", 0},
	    {"::", 1},
	    {"192.0.2.01", 0},
	    {"192.0.2", 0},
	    {"1.2.3.256", 0},
	    {"123", 0},
	    {"example.123", 0},
	    {"fe80::1%eth0", 0},
	};
	struct fixture *fx = *state;
	char name[MITM_NAME_MAX + 2], label[70];
	uint64_t mints = mitm_cache_mints(fx->c);
	size_t i;
	X509 *leaf;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (mitm_name_valid(cases[i].name) != cases[i].ok)
			fail_msg("mitm_name_valid('%s') != %d", cases[i].name,
			    cases[i].ok);
		if (cases[i].ok)
			continue;
		errno = 0;
		leaf = mitm_cache_get(fx->c, cases[i].name, NULL);
		assert_null(leaf);
		assert_int_equal(errno, EINVAL);
		assert_null(mitm_cache_ctx(fx->c, cases[i].name));
	}
	assert_int_equal(mitm_cache_mints(fx->c), mints);
	assert_false(mitm_name_valid(NULL));

	/* total length: at and past MITM_NAME_MAX */
	name_of_len(name, MITM_NAME_MAX);
	assert_true(mitm_name_valid(name));
	name_of_len(name, MITM_NAME_MAX + 1);
	assert_false(mitm_name_valid(name));
	assert_null(mitm_cache_get(fx->c, name, NULL));
	/* label length: at and past 63 */
	memset(label, 'a', 63);
	label[63] = '\0';
	snprintf(name, sizeof(name), "%s.example", label);
	assert_true(mitm_name_valid(name));
	memset(label, 'a', 64);
	label[64] = '\0';
	snprintf(name, sizeof(name), "%s.example", label);
	assert_false(mitm_name_valid(name));
	assert_int_equal(mitm_cache_mints(fx->c), mints);
}

/* ---- cache ---------------------------------------------------------- */

static void
test_cache_hit(void **state)
{
	struct fixture *fx = *state;
	EVP_PKEY *k1 = NULL, *k2 = NULL;
	X509 *a, *b;
	SSL_CTX *ctx, *ctx2;

	assert_int_equal(mitm_cache_count(fx->c), 0);
	assert_int_equal(mitm_cache_mints(fx->c), 0);
	a = mitm_cache_get(fx->c, "hit.example", &k1);
	assert_non_null(a);
	assert_int_equal(mitm_cache_mints(fx->c), 1);
	b = mitm_cache_get(fx->c, "hit.example", &k2);
	assert_ptr_equal(a, b);
	assert_ptr_equal(k1, k2);
	assert_int_equal(mitm_cache_mints(fx->c), 1);
	assert_int_equal(mitm_cache_count(fx->c), 1);

	/* the context is made once, holds the cached leaf, mints nothing */
	ctx = mitm_cache_ctx(fx->c, "hit.example");
	assert_non_null(ctx);
	ctx2 = mitm_cache_ctx(fx->c, "hit.example");
	assert_ptr_equal(ctx, ctx2);
	assert_ptr_equal(SSL_CTX_get0_certificate(ctx), a);
	assert_ptr_equal(SSL_CTX_get0_privatekey(ctx), k1);
	assert_int_equal(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	assert_int_equal(
	    SSL_CTX_get_session_cache_mode(ctx), SSL_SESS_CACHE_OFF);
	assert_true(SSL_CTX_get_options(ctx) & SSL_OP_NO_RENEGOTIATION);
	assert_false(SSL_CTX_get_options(ctx) & SSL_OP_NO_TICKET);
	{
		STACK_OF(X509) *chain = NULL;

		assert_int_equal(SSL_CTX_get0_chain_certs(ctx, &chain), 1);
		assert_int_equal(sk_X509_num(chain), 1);
		assert_int_equal(
		    X509_cmp(sk_X509_value(chain, 0), mitm_ca_cert(fx->ca)), 0);
	}
	assert_int_equal(mitm_cache_mints(fx->c), 1);
	assert_int_equal(mitm_cache_count(fx->c), 1);
	/* a context first asked for mints once too */
	ctx2 = mitm_cache_ctx(fx->c, "ctx-first.example");
	assert_non_null(ctx2);
	assert_int_equal(mitm_cache_mints(fx->c), 2);
	b = mitm_cache_get(fx->c, "ctx-first.example", NULL);
	assert_ptr_equal(SSL_CTX_get0_certificate(ctx2), b);
	assert_int_equal(mitm_cache_mints(fx->c), 2);
	X509_free(b);
	SSL_CTX_free(ctx2);

	SSL_CTX_free(ctx);
	SSL_CTX_free(ctx);
	X509_free(a);
	X509_free(a);
}

static void
test_cache_lru(void **state)
{
	struct fixture *fx = *state;
	static const char *names[] = {"a.test", "b.test", "c.test", "d.test"};
	struct mitm_cache *c;
	uint64_t m;
	size_t i;
	X509 *x;

	c = mitm_cache_new(fx->ca, 4);
	assert_non_null(c);
	for (i = 0; i < 4; i++) {
		x = mitm_cache_get(c, names[i], NULL);
		assert_non_null(x);
		X509_free(x);
	}
	assert_int_equal(mitm_cache_count(c), 4);
	assert_int_equal(mitm_cache_mints(c), 4);
	/* a is now the most recent: e evicts b */
	X509_free(mitm_cache_get(c, "a.test", NULL));
	assert_int_equal(mitm_cache_mints(c), 4);
	X509_free(mitm_cache_get(c, "e.test", NULL));
	assert_int_equal(mitm_cache_mints(c), 5);
	assert_int_equal(mitm_cache_count(c), 4);
	m = mitm_cache_mints(c);
	X509_free(mitm_cache_get(c, "a.test", NULL));
	X509_free(mitm_cache_get(c, "c.test", NULL));
	X509_free(mitm_cache_get(c, "d.test", NULL));
	X509_free(mitm_cache_get(c, "e.test", NULL));
	assert_int_equal(mitm_cache_mints(c), m);
	/* b was evicted: minted again, evicting a (least recent now) */
	X509_free(mitm_cache_get(c, "b.test", NULL));
	assert_int_equal(mitm_cache_mints(c), m + 1);
	X509_free(mitm_cache_get(c, "c.test", NULL));
	assert_int_equal(mitm_cache_mints(c), m + 1);
	X509_free(mitm_cache_get(c, "a.test", NULL));
	assert_int_equal(mitm_cache_mints(c), m + 2);
	assert_int_equal(mitm_cache_count(c), 4);
	mitm_cache_free(c);
}

/* A spray of distinct names never holds more than max leaves; what the
 * caller still holds stays valid after eviction. */
static void
test_cache_bound(void **state)
{
	enum { MAX = 16 };
	struct fixture *fx = *state;
	struct mitm_cache *c;
	char name[64];
	SSL_CTX *held;
	SSL *ssl;
	X509 *first, *x;
	size_t i;

	c = mitm_cache_new(fx->ca, MAX);
	assert_non_null(c);
	held = mitm_cache_ctx(c, "n0.spray.test");
	assert_non_null(held);
	first = mitm_cache_get(c, "n0.spray.test", NULL);
	for (i = 1; i < 3 * MAX; i++) {
		snprintf(name, sizeof(name), "n%zu.spray.test", i);
		x = mitm_cache_get(c, name, NULL);
		assert_non_null(x);
		X509_free(x);
		assert_int_equal(mitm_cache_count(c), i < MAX ? i + 1 : MAX);
	}
	assert_int_equal(mitm_cache_mints(c), 3 * MAX);
	/* the last MAX names are hits */
	for (i = 2 * MAX; i < 3 * MAX; i++) {
		snprintf(name, sizeof(name), "n%zu.spray.test", i);
		X509_free(mitm_cache_get(c, name, NULL));
	}
	assert_int_equal(mitm_cache_mints(c), 3 * MAX);
	/* an evicted name is minted again, with a new cert */
	x = mitm_cache_get(c, "n0.spray.test", NULL);
	assert_non_null(x);
	assert_int_equal(mitm_cache_mints(c), 3 * MAX + 1);
	assert_int_equal(mitm_cache_count(c), MAX);
	assert_int_not_equal(X509_cmp(x, first), 0);
	X509_free(x);
	/* the evicted context and cert the caller held still work */
	assert_ptr_equal(SSL_CTX_get0_certificate(held), first);
	ssl = SSL_new(held);
	assert_non_null(ssl);
	SSL_free(ssl);
	SSL_CTX_free(held);
	X509_free(first);
	mitm_cache_free(c);
}

static void
test_cache_limits(void **state)
{
	struct fixture *fx = *state;
	struct mitm_cache *c;

	errno = 0;
	assert_null(mitm_cache_new(fx->ca, 0));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(mitm_cache_new(fx->ca, MITM_CACHE_MAX + 1));
	assert_int_equal(errno, EINVAL);
	assert_null(mitm_cache_new(NULL, 4));
	c = mitm_cache_new(fx->ca, MITM_CACHE_MAX);
	assert_non_null(c);
	X509_free(mitm_cache_get(c, "big.test", NULL));
	assert_int_equal(mitm_cache_count(c), 1);
	mitm_cache_free(c);
	/* max 1: every new name replaces the one leaf */
	c = mitm_cache_new(fx->ca, 1);
	assert_non_null(c);
	X509_free(mitm_cache_get(c, "one.test", NULL));
	X509_free(mitm_cache_get(c, "one.test", NULL));
	X509_free(mitm_cache_get(c, "two.test", NULL));
	X509_free(mitm_cache_get(c, "one.test", NULL));
	assert_int_equal(mitm_cache_count(c), 1);
	assert_int_equal(mitm_cache_mints(c), 3);
	mitm_cache_free(c);
	mitm_cache_free(NULL);
}

/* Re-minted when less than MITM_LEAF_RENEW is left, or when the clock has
 * gone back before notBefore. */
static void
test_cache_renew(void **state)
{
	struct fixture *fx = *state;
	const time_t t0 = 1800000000; /* 2027-01-15 */
	X509 *ca = mitm_ca_cert(fx->ca), *a, *b;
	SSL_CTX *ctx, *ctx2;

	mitm_cache_set_time(fx->c, t0);
	/* mitm_cache_fresh says whether the next look-up would mint */
	assert_false(mitm_cache_fresh(fx->c, "renew.test"));
	assert_false(mitm_cache_fresh(fx->c, "bad..name"));
	a = mitm_cache_get(fx->c, "renew.test", NULL);
	assert_non_null(a);
	assert_true(mitm_cache_fresh(fx->c, "renew.test"));
	assert_false(mitm_cache_fresh(fx->c, "other.test"));
	assert_int_equal(
	    time_from(X509_get0_notBefore(a), t0), -MITM_LEAF_BACKDATE);
	assert_int_equal(
	    time_from(X509_get0_notAfter(a), t0), MITM_LEAF_LIFETIME);
	assert_int_equal(leaf_verify(ca, a, "renew.test", NULL, t0), X509_V_OK);
	ctx = mitm_cache_ctx(fx->c, "renew.test");
	assert_int_equal(mitm_cache_mints(fx->c), 1);

	/* exactly MITM_LEAF_RENEW left: still good */
	mitm_cache_set_time(fx->c, t0 + MITM_LEAF_LIFETIME - MITM_LEAF_RENEW);
	assert_true(mitm_cache_fresh(fx->c, "renew.test"));
	b = mitm_cache_get(fx->c, "renew.test", NULL);
	assert_ptr_equal(a, b);
	X509_free(b);
	assert_int_equal(mitm_cache_mints(fx->c), 1);

	/* one second less: a new leaf, and a new context with it */
	mitm_cache_set_time(
	    fx->c, t0 + MITM_LEAF_LIFETIME - MITM_LEAF_RENEW + 1);
	assert_false(mitm_cache_fresh(fx->c, "renew.test"));
	b = mitm_cache_get(fx->c, "renew.test", NULL);
	assert_true(mitm_cache_fresh(fx->c, "renew.test"));
	assert_non_null(b);
	assert_ptr_not_equal(a, b);
	assert_int_equal(mitm_cache_mints(fx->c), 2);
	assert_int_equal(mitm_cache_count(fx->c), 1);
	assert_int_equal(time_from(X509_get0_notAfter(b),
			     t0 + MITM_LEAF_LIFETIME - MITM_LEAF_RENEW + 1),
	    MITM_LEAF_LIFETIME);
	ctx2 = mitm_cache_ctx(fx->c, "renew.test");
	assert_ptr_not_equal(ctx, ctx2);
	assert_ptr_equal(SSL_CTX_get0_certificate(ctx2), b);
	assert_ptr_equal(SSL_CTX_get0_certificate(ctx), a);
	SSL_CTX_free(ctx2);
	X509_free(b);

	/* the clock went back before notBefore: minted again */
	mitm_cache_set_time(fx->c, t0 - MITM_LEAF_BACKDATE - 1);
	assert_false(mitm_cache_fresh(fx->c, "renew.test"));
	b = mitm_cache_get(fx->c, "renew.test", NULL);
	assert_int_equal(mitm_cache_mints(fx->c), 3);
	assert_int_equal(
	    leaf_verify(ca, b, "renew.test", NULL, t0 - MITM_LEAF_BACKDATE - 1),
	    X509_V_OK);
	X509_free(b);
	SSL_CTX_free(ctx);
	X509_free(a);

	/* back to the real clock */
	mitm_cache_set_time(fx->c, 0);
	b = mitm_cache_get(fx->c, "renew.test", NULL);
	assert_int_equal(mitm_cache_mints(fx->c), 4);
	assert_int_equal(leaf_verify(ca, b, "renew.test", NULL, 0), X509_V_OK);
	X509_free(b);
}

/* The cache holds its own references: the CA may go first. */
static void
test_cache_outlives_ca(void **state)
{
	char dir[PATHSZ];
	struct mitm_cache *c;
	struct mitm_ca *ca;
	X509 *cacert, *leaf;

	(void)state;
	ca = ca_fresh(dir);
	cacert = X509_dup(mitm_ca_cert(ca));
	c = mitm_cache_new(ca, 2);
	assert_non_null(c);
	mitm_ca_free(ca);
	leaf = mitm_cache_get(c, "late.test", NULL);
	assert_non_null(leaf);
	assert_int_equal(
	    leaf_verify(cacert, leaf, "late.test", NULL, 0), X509_V_OK);
	X509_free(leaf);
	mitm_cache_free(c);
	X509_free(cacert);
}

/* ---- TLS handshakes ------------------------------------------------- */

/* Drive both ends over a BIO pair until both finish or one fails; bounded.
 * 0 when both completed. */
static int
tls_pump(SSL *cli, SSL *srv)
{
	int i, r, e, done_c = 0, done_s = 0;

	for (i = 0; i < 64 && !(done_c && done_s); i++) {
		if (!done_c) {
			r = SSL_do_handshake(cli);
			if (r == 1) {
				done_c = 1;
			} else {
				e = SSL_get_error(cli, r);
				if (e != SSL_ERROR_WANT_READ &&
				    e != SSL_ERROR_WANT_WRITE)
					return -1;
			}
		}
		if (!done_s) {
			r = SSL_do_handshake(srv);
			if (r == 1) {
				done_s = 1;
			} else {
				e = SSL_get_error(srv, r);
				if (e != SSL_ERROR_WANT_READ &&
				    e != SSL_ERROR_WANT_WRITE)
					return -1;
			}
		}
	}
	return done_c && done_s ? 0 : -1;
}

/* Client context trusting only the CA. */
static SSL_CTX *
client_ctx(struct mitm_ca *ca)
{
	SSL_CTX *cctx;

	cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(cctx);
	assert_int_equal(
	    X509_STORE_add_cert(SSL_CTX_get_cert_store(cctx), mitm_ca_cert(ca)),
	    1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	return cctx;
}

struct tls_case {
	const char *name;   /* leaf the server presents */
	const char *expect; /* name the client verifies */
	const char *sni;    /* SNI sent, NULL for none */
	const unsigned char *alpn;
	unsigned int alpn_len;
	int max_version; /* client's, 0 for default */
	int ok;
	const char *alpn_selected; /* NULL: none */
	long verify;               /* client's verify result */
};

static const unsigned char alpn_h2_h11[] = "\x02h2\x08http/1.1";
static const unsigned char alpn_h2[] = "\x02h2";
static const unsigned char alpn_h11_h10[] = "\x08http/1.0\x08http/1.1";

static const struct tls_case tls_cases[] = {
    {"api.example.com", "api.example.com", "api.example.com", alpn_h2_h11,
	sizeof(alpn_h2_h11) - 1, 0, 1, "http/1.1", X509_V_OK},
    {"api.example.com", "api.example.com", "api.example.com", alpn_h11_h10,
	sizeof(alpn_h11_h10) - 1, 0, 1, "http/1.1", X509_V_OK},
    {"api.example.com", "api.example.com", "api.example.com", NULL, 0, 0, 1,
	NULL, X509_V_OK},
    {"api.example.com", "api.example.com", "api.example.com", alpn_h2_h11,
	sizeof(alpn_h2_h11) - 1, TLS1_2_VERSION, 1, "http/1.1", X509_V_OK},
    /* a client that can only speak h2 is told so */
    {"api.example.com", "api.example.com", "api.example.com", alpn_h2,
	sizeof(alpn_h2) - 1, 0, 0, NULL, X509_V_OK},
    /* the client expects another name */
    {"api.example.com", "other.example.com", "other.example.com", alpn_h2_h11,
	sizeof(alpn_h2_h11) - 1, 0, 0, NULL, X509_V_ERR_HOSTNAME_MISMATCH},
    {"api.example.com", "other.example.com", "other.example.com", NULL, 0,
	TLS1_2_VERSION, 0, NULL, X509_V_ERR_HOSTNAME_MISMATCH},
    /* IP literals: no SNI */
    {"192.0.2.7", "192.0.2.7", NULL, alpn_h2_h11, sizeof(alpn_h2_h11) - 1, 0, 1,
	"http/1.1", X509_V_OK},
    {"2001:db8::7", "2001:db8::7", NULL, NULL, 0, 0, 1, NULL, X509_V_OK},
    {"192.0.2.7", "192.0.2.8", NULL, NULL, 0, 0, 0, NULL,
	X509_V_ERR_IP_ADDRESS_MISMATCH},
};

/* One client+server pair over a BIO pair.  *sess in: resume it; out: the
 * client's session after reading the server's tickets (if asked). */
static void
tls_connect(SSL_CTX *cctx, SSL_CTX *sctx, const struct tls_case *tc, int *ok,
    SSL_SESSION **sess, int *reused)
{
	const unsigned char *sel = NULL;
	unsigned int sel_len = 0;
	BIO *bc = NULL, *bs = NULL;
	SSL *cli, *srv;
	char buf[16], sni[MITM_NAME_MAX + 1];
	int r;

	cli = SSL_new(cctx);
	srv = SSL_new(sctx);
	assert_non_null(cli);
	assert_non_null(srv);
	assert_int_equal(BIO_new_bio_pair(&bc, 0, &bs, 0), 1);
	SSL_set_bio(cli, bc, bc);
	SSL_set_bio(srv, bs, bs);
	SSL_set_connect_state(cli);
	SSL_set_accept_state(srv);
	assert_int_equal(SSL_set1_host(cli, tc->expect), 1);
	if (tc->sni != NULL) {
		/* a writable copy: the OpenSSL macro casts const away */
		snprintf(sni, sizeof(sni), "%s", tc->sni);
		assert_int_equal(SSL_set_tlsext_host_name(cli, sni), 1);
	}
	if (tc->alpn != NULL)
		assert_int_equal(
		    SSL_set_alpn_protos(cli, tc->alpn, tc->alpn_len), 0);
	if (tc->max_version != 0)
		assert_int_equal(
		    SSL_set_max_proto_version(cli, tc->max_version), 1);
	if (sess != NULL && *sess != NULL)
		assert_int_equal(SSL_set_session(cli, *sess), 1);

	*ok = tls_pump(cli, srv) == 0;
	if (*ok != tc->ok)
		fail_msg("%s as %s: handshake %s", tc->name, tc->expect,
		    *ok ? "succeeded" : "failed");
	assert_int_equal(SSL_get_verify_result(cli), tc->verify);
	if (*ok) {
		SSL_get0_alpn_selected(cli, &sel, &sel_len);
		if (tc->alpn_selected == NULL) {
			assert_int_equal(sel_len, 0);
		} else {
			assert_int_equal(sel_len, strlen(tc->alpn_selected));
			assert_memory_equal(sel, tc->alpn_selected, sel_len);
		}
		/* the leaf for tc->name, chained to the CA */
		assert_int_equal(
		    X509_cmp(SSL_get0_peer_certificate(cli),
			SSL_CTX_get0_certificate(SSL_get_SSL_CTX(srv))),
		    0);
		/* application data both ways; the client also takes in
		 * the server's session tickets here */
		assert_int_equal(SSL_write(srv, "ping", 4), 4);
		assert_int_equal(SSL_read(cli, buf, sizeof(buf)), 4);
		assert_memory_equal(buf, "ping", 4);
		assert_int_equal(SSL_write(cli, "pong", 4), 4);
		assert_int_equal(SSL_read(srv, buf, sizeof(buf)), 4);
		assert_memory_equal(buf, "pong", 4);
		r = SSL_read(cli, buf, sizeof(buf));
		assert_int_equal(r, -1);
		assert_int_equal(SSL_get_error(cli, r), SSL_ERROR_WANT_READ);
		/* a full handshake sends the leaf and the CA */
		if (!SSL_session_reused(cli))
			assert_int_equal(
			    sk_X509_num(SSL_get_peer_cert_chain(cli)), 2);
		if (reused != NULL)
			*reused = SSL_session_reused(cli);
		if (sess != NULL) {
			SSL_SESSION_free(*sess);
			*sess = SSL_get1_session(cli);
		}
		/* a clean close: SSL_free on an unfinished connection marks
		 * its session not resumable */
		assert_int_equal(SSL_shutdown(cli), 0);
		assert_int_equal(SSL_shutdown(srv), 0);
		assert_int_equal(SSL_shutdown(srv), 1);
		assert_int_equal(SSL_shutdown(cli), 1);
	}
	ERR_clear_error();
	SSL_free(cli);
	SSL_free(srv);
}

static void
test_tls_handshake(void **state)
{
	struct fixture *fx = *state;
	const struct tls_case *tc;
	SSL_CTX *cctx, *sctx;
	int ok;
	size_t i;

	cctx = client_ctx(fx->ca);
	for (i = 0; i < sizeof(tls_cases) / sizeof(tls_cases[0]); i++) {
		tc = &tls_cases[i];
		sctx = mitm_cache_ctx(fx->c, tc->name);
		assert_non_null(sctx);
		tls_connect(cctx, sctx, tc, &ok, NULL, NULL);
		SSL_CTX_free(sctx);
	}
	SSL_CTX_free(cctx);
}

/* Session tickets: a second connection resumes under TLS 1.3, not 1.2. */
static void
test_tls_resume(void **state)
{
	static const int versions[] = {0, TLS1_2_VERSION};
	struct fixture *fx = *state;
	struct tls_case tc = tls_cases[0];
	SSL_SESSION *sess = NULL;
	SSL_CTX *cctx, *sctx;
	int ok, reused, is12;
	size_t i;

	cctx = client_ctx(fx->ca);
	sctx = mitm_cache_ctx(fx->c, tc.name);
	assert_non_null(sctx);
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		tc.max_version = versions[i];
		/* TLS 1.2 would take the server name from the session, not
		 * from the ClientHello: no ticket is given or taken */
		is12 = versions[i] == TLS1_2_VERSION;
		tls_connect(cctx, sctx, &tc, &ok, &sess, &reused);
		assert_non_null(sess);
		assert_int_equal(SSL_SESSION_is_resumable(sess), !is12);
		assert_int_equal(SSL_SESSION_has_ticket(sess), !is12);
		assert_int_equal(reused, 0);
		tls_connect(cctx, sctx, &tc, &ok, &sess, &reused);
		assert_int_equal(ok, 1);
		assert_int_equal(reused, !is12);
		SSL_SESSION_free(sess);
		sess = NULL;
	}
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

/* SNI switching: a front context with no certificate whose servername
 * callback moves the SSL to the leaf's context. */
static int
sni_switch(SSL *ssl, int *alert, void *arg)
{
	struct mitm_cache *c = arg;
	const char *name;
	SSL_CTX *ctx;

	name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	if (name == NULL)
		return SSL_TLSEXT_ERR_NOACK;
	ctx = mitm_cache_ctx(c, name);
	if (ctx == NULL) {
		*alert = SSL_AD_UNRECOGNIZED_NAME;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	/* SSL_set_SSL_CTX takes its own reference */
	if (SSL_set_SSL_CTX(ssl, ctx) != ctx) {
		SSL_CTX_free(ctx);
		*alert = SSL_AD_INTERNAL_ERROR;
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	}
	SSL_CTX_free(ctx);
	return SSL_TLSEXT_ERR_OK;
}

static void
test_tls_sni_switch(void **state)
{
	struct fixture *fx = *state;
	struct tls_case tc;
	SSL_SESSION *sess = NULL;
	SSL_CTX *cctx, *front;
	int ok, reused;
	size_t i;

	cctx = client_ctx(fx->ca);
	front = SSL_CTX_new(TLS_server_method());
	assert_non_null(front);
	/* settings taken from the first context stay with the SSL (version
	 * range, tickets): give the front the same ones */
	assert_int_equal(mitm_ctx_setup(front), 0);
	SSL_CTX_set_tlsext_servername_callback(front, sni_switch);
	SSL_CTX_set_tlsext_servername_arg(front, fx->c);
	for (i = 0; i < sizeof(tls_cases) / sizeof(tls_cases[0]); i++) {
		tc = tls_cases[i];
		if (tc.sni == NULL)
			continue;
		/* the SNI picks the leaf */
		tc.name = tc.sni;
		if (strcmp(tc.expect, "other.example.com") == 0) {
			tc.sni = "api.example.com";
			tc.name = tc.sni;
		}
		tls_connect(cctx, front, &tc, &ok, NULL, NULL);
	}
	/* ALPN comes from the leaf context after the switch: a front with
	 * no ALPN callback still selects http/1.1 */
	SSL_CTX_set_alpn_select_cb(front, NULL, NULL);
	tc = tls_cases[0];
	tls_connect(cctx, front, &tc, &ok, NULL, NULL);
	tc = tls_cases[4];
	tls_connect(cctx, front, &tc, &ok, NULL, NULL);
	/* an invalid SNI name is refused */
	tc = tls_cases[2];
	tc.sni = "Bad_Name*";
	tc.ok = 0;
	tc.verify = X509_V_OK;
	tls_connect(cctx, front, &tc, &ok, NULL, NULL);
	/* resumption: tickets are the front context's */
	tc = tls_cases[0];
	tls_connect(cctx, front, &tc, &ok, &sess, &reused);
	assert_int_equal(reused, 0);
	tls_connect(cctx, front, &tc, &ok, &sess, &reused);
	assert_int_equal(reused, 1);
	SSL_SESSION_free(sess);
	SSL_CTX_free(front);
	SSL_CTX_free(cctx);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ca_create_reopen),
	    cmocka_unit_test(test_ca_fields),
	    cmocka_unit_test(test_ca_refuse_mode),
	    cmocka_unit_test(test_ca_refuse_owner),
	    cmocka_unit_test(test_ca_refuse_files),
	    cmocka_unit_test(test_ca_file_limit),
	    cmocka_unit_test(test_ca_key_without_cert),
	    cmocka_unit_test(test_ca_foreign),
	    cmocka_unit_test_setup_teardown(
		test_leaf_dns, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_leaf_ip, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_leaf_long_names, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_names, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_cache_hit, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_cache_lru, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_cache_bound, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_cache_limits, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_cache_renew, fixture_setup, fixture_teardown),
	    cmocka_unit_test(test_cache_outlives_ca),
	    cmocka_unit_test_setup_teardown(
		test_tls_handshake, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_tls_resume, fixture_setup, fixture_teardown),
	    cmocka_unit_test_setup_teardown(
		test_tls_sni_switch, fixture_setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
