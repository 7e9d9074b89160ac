/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_ca_install.c - trust store detection over hand-built root
 * layouts (Fedora, Arch, openSUSE, Debian, Alpine, bundle only, none),
 * PEM to DER (checked against the SHA-256 openssl printed), fingerprint
 * parsing, marked blocks and finding a CA in a bundle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ca_install.h"
#include "fsops.h"
#include "tlsc.h"

static const char ca_pem_text[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBejCCAR+gAwIBAgIUMZskFMMTJleHGscFnEmOWLLNYAYwCgYIKoZIzj0EAwIw\n"
    "EjEQMA4GA1UEAwwHdGVzdCBDQTAeFw0yNjExMzAxNDEwMTdaFw0zNjExMjcxNDEw\n"
    "MTdaMBIxEDAOBgNVBAMMB3Rlc3QgQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n"
    "AATxIy+qbbxm7yVurNXqpwjSiSwSF3p0UVePS7w6IMq9QkTB/yAtfQEObDAoKYaa\n"
    "lewsxbu52e8Ab7fO770ny8Bdo1MwUTAdBgNVHQ4EFgQUXd6kBrNN/lHxEmwC3MNS\n"
    "1xnQQPcwHwYDVR0jBBgwFoAUXd6kBrNN/lHxEmwC3MNS1xnQQPcwDwYDVR0TAQH/\n"
    "BAUwAwEB/zAKBggqhkjOPQQDAgNJADBGAiEA3D6bQgX/k0+wYSHxNeRsHPSHCJla\n"
    "bcTki2pvKkb59o0CIQCNE1BokCghEBkgnlAZENb9PiG4jgHiHQcWYuW80JrjQw==\n"
    "-----END CERTIFICATE-----\n"
    ;
/* openssl x509 -outform DER | sha256sum */
static const char test_sha[] =
    "e324b17eb497d4381aafd5e00d744d95d3751ffcff3b9ee48bc9bb7aa7fc4102";

static void
mk(const char *root, const char *rel, int is_exec)
{
	char p[512], *s;

	snprintf(p, sizeof(p), "%s%s", root, rel);
	for (s = p + strlen(root) + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	if (is_exec < 0) {
		mkdir(p, 0755);
		return;
	}
	assert_int_equal(fsops_write(p, "#!/bin/sh\n", 10,
			     is_exec ? 0755 : 0644),
	    0);
}

static char *
newroot(void)
{
	char *t = strdup("/tmp/test_ca.XXXXXX");

	assert_non_null(t);
	assert_non_null(mkdtemp(t));
	return t;
}

static void
rmroot(char *root)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(root);
}

static void
test_detect(void **state)
{
	struct ca_store s;
	char err[256], *r;

	(void)state;
	/* Debian: update-ca-certificates */
	r = newroot();
	mk(r, "/usr/sbin/update-ca-certificates", 1);
	mk(r, "/etc/debian_version", 0);
	assert_int_equal(ca_store_detect(r, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "debian");
	assert_string_equal(s.anchor,
	    "/usr/local/share/ca-certificates/slicer-agent.crt");
	assert_string_equal(s.tool, "/usr/sbin/update-ca-certificates");
	assert_string_equal(s.bundle, "/etc/ssl/certs/ca-certificates.crt");
	rmroot(r);
	/* Alpine with the ca-certificates package */
	r = newroot();
	mk(r, "/usr/sbin/update-ca-certificates", 1);
	mk(r, "/etc/alpine-release", 0);
	assert_int_equal(ca_store_detect(r, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "alpine");
	rmroot(r);
	/* Fedora */
	r = newroot();
	mk(r, "/usr/bin/update-ca-trust", 1);
	mk(r, "/etc/pki/tls/certs/ca-bundle.crt", 0);
	assert_int_equal(ca_store_detect(r, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "fedora");
	assert_string_equal(s.arg, "extract");
	assert_string_equal(s.anchor,
	    "/etc/pki/ca-trust/source/anchors/slicer-agent.pem");
	assert_string_equal(s.bundle, "/etc/pki/tls/certs/ca-bundle.crt");
	rmroot(r);
	/* Arch */
	r = newroot();
	mk(r, "/usr/bin/trust", 1);
	mk(r, "/etc/ca-certificates/trust-source/anchors", -1);
	assert_int_equal(ca_store_detect(r, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "arch");
	assert_string_equal(s.arg, "extract-compat");
	rmroot(r);
	/* openSUSE */
	r = newroot();
	mk(r, "/usr/sbin/update-ca-certificates", 1);
	mk(r, "/etc/pki/trust/anchors", -1);
	assert_int_equal(ca_store_detect(r, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "opensuse");
	assert_string_equal(s.anchor, "/etc/pki/trust/anchors/slicer-agent.pem");
	rmroot(r);
	/* a tool that is not executable does not count; a bundle does */
	r = newroot();
	mk(r, "/usr/sbin/update-ca-certificates", 0);
	mk(r, "/etc/ssl/cert.pem", 0);
	mk(r, "/etc/pki/tls/cacert.pem", 0);
	assert_int_equal(ca_store_detect(r, &s, err, sizeof(err)), 0);
	assert_string_equal(s.name, "bundle");
	assert_string_equal(s.tool, "");
	assert_string_equal(s.bundle, "/etc/pki/tls/cacert.pem");
	rmroot(r);
	/* nothing at all */
	r = newroot();
	assert_int_equal(ca_store_detect(r, &s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "--no-ca"));
	rmroot(r);
}

static void
test_pem(void **state)
{
	uint8_t *der, sha[32], want[32];
	size_t len;
	char bad[sizeof(ca_pem_text)];

	(void)state;
	assert_int_equal(
	    ca_pem_to_der(ca_pem_text, strlen(ca_pem_text), &der, &len), 0);
	assert_int_equal(len, 382);
	assert_int_equal(der[0], 0x30);
	if (tlsc_available()) {
		assert_int_equal(tlsc_sha256(der, len, sha), 0);
		assert_int_equal(ca_parse_sha256(test_sha, want), 0);
		assert_memory_equal(sha, want, 32);
	}
	free(der);
	/* no block, no end, junk inside */
	assert_int_equal(ca_pem_to_der("hello", 5, &der, &len), -1);
	assert_int_equal(ca_pem_to_der(ca_pem_text, 40, &der, &len), -1);
	memcpy(bad, ca_pem_text, sizeof(bad));
	bad[40] = '*';
	assert_int_equal(ca_pem_to_der(bad, strlen(bad), &der, &len), -1);
}

static void
test_sha_parse(void **state)
{
	uint8_t out[32];
	char colons[200];
	size_t i, o = 0;

	(void)state;
	assert_int_equal(ca_parse_sha256(test_sha, out), 0);
	assert_int_equal(out[0], 0xe3);
	assert_int_equal(out[31], 0x02);
	for (i = 0; i < 64; i += 2) {
		if (i > 0)
			colons[o++] = ':';
		colons[o++] = (char)(test_sha[i] - 32 * (test_sha[i] >= 'a'));
		colons[o++] = test_sha[i + 1];
	}
	colons[o] = '\0';
	assert_int_equal(ca_parse_sha256(colons, out), 0);
	assert_int_equal(out[0], 0xe3);
	snprintf(colons, sizeof(colons), "sha256:%s", test_sha);
	assert_int_equal(ca_parse_sha256(colons, out), 0);
	/* 62 and 66 digits, a bad digit, empty */
	snprintf(colons, sizeof(colons), "%.62s", test_sha);
	assert_int_equal(ca_parse_sha256(colons, out), -1);
	snprintf(colons, sizeof(colons), "%sab", test_sha);
	assert_int_equal(ca_parse_sha256(colons, out), -1);
	snprintf(colons, sizeof(colons), "%.63sg", test_sha);
	assert_int_equal(ca_parse_sha256(colons, out), -1);
	assert_int_equal(ca_parse_sha256("", out), -1);
}

static void
test_blocks(void **state)
{
	static const char text[] = "A=1\n" CA_ENV_BEGIN "X=2\n" CA_ENV_END
				   "B=3\n" CA_ENV_BEGIN CA_ENV_END "C";
	char *out;
	size_t len;

	(void)state;
	assert_int_equal(ca_strip_block(text, strlen(text), CA_ENV_BEGIN,
			     CA_ENV_END, &out, &len),
	    0);
	assert_string_equal(out, "A=1\nB=3\nC");
	assert_int_equal(len, 9);
	free(out);
	/* nothing to strip */
	assert_int_equal(
	    ca_strip_block("", 0, CA_ENV_BEGIN, CA_ENV_END, &out, &len), 0);
	assert_int_equal(len, 0);
	free(out);
	/* a begin line inside another line is not a begin */
	assert_int_equal(ca_strip_block("x# slicer-agent begin\n", 22,
			     CA_ENV_BEGIN, CA_ENV_END, &out, &len),
	    0);
	assert_int_equal(len, 22);
	free(out);
	/* unterminated */
	assert_int_equal(ca_strip_block(CA_ENV_BEGIN "x\n",
			     strlen(CA_ENV_BEGIN) + 2, CA_ENV_BEGIN,
			     CA_ENV_END, &out, &len),
	    -1);
}

static void
test_has_cert(void **state)
{
	char bundle[4096];

	(void)state;
	snprintf(bundle, sizeof(bundle), "other\n%s", ca_pem_text);
	assert_int_equal(ca_text_has_cert(bundle, strlen(bundle), ca_pem_text,
			     strlen(ca_pem_text)),
	    1);
	assert_int_equal(ca_text_has_cert("-----BEGIN CERTIFICATE-----\n", 28,
			     ca_pem_text, strlen(ca_pem_text)),
	    0);
	assert_int_equal(ca_text_has_cert(bundle, strlen(bundle), "junk", 4),
	    0);
}

/* A bundle that kept every certificate and gained one, however its lines
 * are broken, "adds"; one that lost one, is the same or is no bundle,
 * does not. */
static void
test_bundle_adds(void **state)
{
	static const char a[] = "-----BEGIN CERTIFICATE-----\nQUFB\nQUFB\n"
				"-----END CERTIFICATE-----\n";
	static const char b[] = "-----BEGIN CERTIFICATE-----\nQkJC\n"
				"-----END CERTIFICATE-----\n";
	static const char a_rewrapped[] = "# base\n-----BEGIN CERTIFICATE-----"
					  "\r\nQUFBQUFB\r\n-----END "
					  "CERTIFICATE-----\r\n";
	char ab[256], ba[256];

	(void)state;
	snprintf(ab, sizeof(ab), "%s%s", a, b);
	snprintf(ba, sizeof(ba), "%s%s", b, a_rewrapped);
	assert_int_equal(ca_bundle_adds(a, strlen(a), ab, strlen(ab)), 1);
	assert_int_equal(ca_bundle_adds(a, strlen(a), ba, strlen(ba)), 1);
	assert_int_equal(ca_bundle_adds(a_rewrapped, strlen(a_rewrapped), ab,
			     strlen(ab)),
	    1);
	/* the same, or one lost */
	assert_int_equal(ca_bundle_adds(a, strlen(a), a_rewrapped,
			     strlen(a_rewrapped)),
	    0);
	assert_int_equal(ca_bundle_adds(ab, strlen(ab), b, strlen(b)), 0);
	assert_int_equal(ca_bundle_adds(a, strlen(a), b, strlen(b)), 0);
	/* no PEM (a Java keystore), or an unterminated block */
	assert_int_equal(ca_bundle_adds("\xfe\xed\xfe\xed", 4, ab,
			     strlen(ab)),
	    0);
	assert_int_equal(ca_bundle_adds(a, strlen(a), "\xfe\xed\xfe\xed", 4),
	    0);
	assert_int_equal(ca_bundle_adds(a, strlen(a), ab, strlen(ab) - 20), 0);
}

/* The policy text: exact, every padding case, and the PEM's own body
 * back (Chrome wants the DER in one unbroken base64 string). */
static void
test_browser_policy(void **state)
{
	static const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x05};
	static const struct {
		size_t len;
		const char *b64;
	} pads[] = {{1, "MA=="}, {2, "MAM="}, {3, "MAMC"}, {5, "MAMCAQU="}};
	char *text, want[1024];
	const char *cert;
	uint8_t *d;
	size_t len, dlen, i;

	(void)state;
	assert_int_equal(ca_browser_policy(NULL, 0, &text, &len), 0);
	assert_string_equal(text,
	    "{\n  \"EncryptedClientHelloEnabled\": false\n}\n");
	assert_int_equal(len, strlen(text));
	free(text);
	for (i = 0; i < sizeof(pads) / sizeof(pads[0]); i++) {
		assert_int_equal(ca_browser_policy(der, pads[i].len, &text,
				     &len),
		    0);
		snprintf(want, sizeof(want),
		    "{\n  \"EncryptedClientHelloEnabled\": false,\n"
		    "  \"CACertificates\": [\"%s\"]\n}\n",
		    pads[i].b64);
		assert_string_equal(text, want);
		assert_int_equal(len, strlen(text));
		free(text);
	}
	/* a real certificate: its PEM body, line breaks removed */
	assert_int_equal(ca_pem_to_der(ca_pem_text, strlen(ca_pem_text), &d,
			     &dlen),
	    0);
	assert_int_equal(ca_browser_policy(d, dlen, &text, &len), 0);
	cert = strstr(ca_pem_text, "-----\n") + 6;
	for (i = 0, len = 0; cert[i] != '-'; i++)
		if (cert[i] != '\n')
			want[len++] = cert[i];
	want[len] = '\0';
	assert_true(len > 400);
	assert_non_null(strstr(text, want));
	free(text);
	free(d);
	/* the path of each brand, all ours */
	for (i = 0; ca_browser_policy_files[i] != NULL; i++)
		assert_non_null(strstr(ca_browser_policy_files[i],
		    "/policies/managed/slicer-agent.json"));
	assert_int_equal(i, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_detect),
	    cmocka_unit_test(test_pem),
	    cmocka_unit_test(test_sha_parse),
	    cmocka_unit_test(test_blocks),
	    cmocka_unit_test(test_has_cert),
	    cmocka_unit_test(test_bundle_adds),
	    cmocka_unit_test(test_browser_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
