/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * ca_install.c - trust store conventions and CA text helpers (see
 * ca_install.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ca_install.h"
#include "fsops.h"

#define CA_PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define CA_PEM_END "-----END CERTIFICATE-----"

static int
ca_dir(const char *root, const char *rel)
{
	char p[FSOPS_PATH_MAX];

	return fsops_join(root, rel, p, sizeof(p)) == 0 && fsops_is_dir(p);
}

static int
ca_file(const char *root, const char *rel)
{
	char p[FSOPS_PATH_MAX];

	return fsops_join(root, rel, p, sizeof(p)) == 0 && fsops_is_file(p);
}

static void
ca_set(struct ca_store *s, const char *name, const char *anchor,
    const char *arg, const char *bundle)
{
	s->name = name;
	snprintf(s->anchor, sizeof(s->anchor), "%s", anchor);
	s->arg = arg;
	snprintf(s->bundle, sizeof(s->bundle), "%s", bundle);
}

int
ca_store_detect(const char *root, struct ca_store *s, char *err, size_t errsz)
{
	static const char *const bundles[] = {
	    "/etc/ssl/certs/ca-certificates.crt",
	    "/etc/pki/tls/certs/ca-bundle.crt",
	    "/etc/ssl/ca-bundle.pem",
	    "/etc/pki/tls/cacert.pem",
	    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	    "/etc/ssl/cert.pem",
	};
	size_t i;

	memset(s, 0, sizeof(*s));
	if (fsops_find_tool(root, "update-ca-trust", s->tool,
		sizeof(s->tool)) == 0) {
		ca_set(s, "fedora",
		    "/etc/pki/ca-trust/source/anchors/" CA_FILE_NAME ".pem",
		    "extract",
		    ca_file(root, "/etc/pki/tls/certs/ca-bundle.crt")
			? "/etc/pki/tls/certs/ca-bundle.crt"
			: "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem");
		return 0;
	}
	if (ca_dir(root, "/etc/ca-certificates/trust-source/anchors") &&
	    fsops_find_tool(root, "trust", s->tool, sizeof(s->tool)) == 0) {
		ca_set(s, "arch",
		    "/etc/ca-certificates/trust-source/anchors/" CA_FILE_NAME
		    ".crt",
		    "extract-compat", "/etc/ssl/certs/ca-certificates.crt");
		return 0;
	}
	if (fsops_find_tool(root, "update-ca-certificates", s->tool,
		sizeof(s->tool)) == 0) {
		if (ca_dir(root, "/etc/pki/trust/anchors")) {
			ca_set(s, "opensuse",
			    "/etc/pki/trust/anchors/" CA_FILE_NAME ".pem", NULL,
			    "/etc/ssl/ca-bundle.pem");
			return 0;
		}
		ca_set(s,
		    ca_file(root, "/etc/alpine-release") ? "alpine" : "debian",
		    "/usr/local/share/ca-certificates/" CA_FILE_NAME ".crt",
		    NULL, "/etc/ssl/certs/ca-certificates.crt");
		return 0;
	}
	s->tool[0] = '\0';
	for (i = 0; i < sizeof(bundles) / sizeof(bundles[0]); i++) {
		if (ca_file(root, bundles[i])) {
			ca_set(s, "bundle", "", NULL, bundles[i]);
			return 0;
		}
	}
	snprintf(err, errsz,
	    "no trust store found (no update-ca-certificates, "
	    "update-ca-trust or trust, and no CA bundle file); use --no-ca "
	    "to skip the CA");
	return -1;
}

static int
ca_b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
ca_pem_to_der(const char *pem, size_t len, uint8_t **der, size_t *derlen)
{
	const char *b, *e, *p;
	uint8_t *out;
	uint32_t acc = 0;
	size_t o = 0;
	int bits = 0, pad = 0, v;

	*der = NULL;
	*derlen = 0;
	b = memmem(pem, len, CA_PEM_BEGIN, strlen(CA_PEM_BEGIN));
	if (b == NULL)
		goto bad;
	b += strlen(CA_PEM_BEGIN);
	e = memmem(b, len - (size_t)(b - pem), CA_PEM_END, strlen(CA_PEM_END));
	if (e == NULL || e - b < 4)
		goto bad;
	out = malloc((size_t)(e - b) / 4 * 3 + 3);
	if (out == NULL)
		return -1;
	for (p = b; p < e; p++) {
		unsigned char c = (unsigned char)*p;

		if (c == '\n' || c == '\r' || c == ' ' || c == '\t')
			continue;
		if (c == '=') {
			pad++;
			continue;
		}
		v = ca_b64val(c);
		if (v < 0 || pad > 0) {
			free(out);
			goto bad;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	/* DER of a certificate starts with a SEQUENCE */
	if (pad > 2 || o < 16 || out[0] != 0x30) {
		free(out);
		goto bad;
	}
	*der = out;
	*derlen = o;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

const char *const ca_browser_policy_files[] = {
    "/etc/chromium/policies/managed/" CA_FILE_NAME ".json",
    "/etc/opt/chrome/policies/managed/" CA_FILE_NAME ".json",
    "/etc/opt/chrome_for_testing/policies/managed/" CA_FILE_NAME ".json",
    NULL,
};

int
ca_browser_policy(const uint8_t *der, size_t derlen, char **out,
    size_t *outlen)
{
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static const char head[] = "{\n  \"EncryptedClientHelloEnabled\": false";
	static const char ca_head[] = ",\n  \"CACertificates\": [\"";
	static const char ca_tail[] = "\"]";
	static const char tail[] = "\n}\n";
	size_t cap, o, i;
	uint32_t v;
	char *p;

	*out = NULL;
	*outlen = 0;
	cap = sizeof(head) + sizeof(ca_head) + sizeof(ca_tail) + sizeof(tail);
	if (der != NULL) {
		if (derlen > CA_PEM_MAX) {
			errno = EINVAL;
			return -1;
		}
		cap += (derlen + 2) / 3 * 4;
	}
	p = malloc(cap);
	if (p == NULL)
		return -1;
	memcpy(p, head, sizeof(head) - 1);
	o = sizeof(head) - 1;
	if (der != NULL) {
		memcpy(p + o, ca_head, sizeof(ca_head) - 1);
		o += sizeof(ca_head) - 1;
		for (i = 0; i < derlen; i += 3) {
			v = (uint32_t)der[i] << 16;
			if (i + 1 < derlen)
				v |= (uint32_t)der[i + 1] << 8;
			if (i + 2 < derlen)
				v |= der[i + 2];
			p[o++] = b64[v >> 18 & 63];
			p[o++] = b64[v >> 12 & 63];
			p[o++] = i + 1 < derlen ? b64[v >> 6 & 63] : '=';
			p[o++] = i + 2 < derlen ? b64[v & 63] : '=';
		}
		memcpy(p + o, ca_tail, sizeof(ca_tail) - 1);
		o += sizeof(ca_tail) - 1;
	}
	memcpy(p + o, tail, sizeof(tail));
	o += sizeof(tail) - 1;
	*out = p;
	*outlen = o;
	return 0;
}

static int
ca_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
ca_parse_sha256(const char *s, uint8_t out[32])
{
	size_t i = 0, n = 0;
	int hi, lo;

	if (strncasecmp(s, "sha256:", 7) == 0)
		s += 7;
	while (s[i] != '\0') {
		if (n == 32)
			return -1;
		if (n > 0 && s[i] == ':')
			i++;
		if (s[i] == '\0' || s[i + 1] == '\0')
			return -1;
		hi = ca_hexval(s[i]);
		lo = ca_hexval(s[i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		i += 2;
	}
	return n == 32 ? 0 : -1;
}

int
ca_strip_block(const char *text, size_t len, const char *begin,
    const char *end, char **out, size_t *outlen)
{
	size_t pos = 0, o = 0, bl = strlen(begin), el = strlen(end);
	int inside = 0;
	char *r;

	r = malloc(len + 1);
	if (r == NULL)
		return -1;
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) + 1 : len - pos;

		if (!inside && n == bl && memcmp(text + pos, begin, bl) == 0)
			inside = 1;
		else if (inside && n == el && memcmp(text + pos, end, el) == 0)
			inside = 0;
		else if (!inside) {
			memcpy(r + o, text + pos, n);
			o += n;
		}
		pos += n;
	}
	if (inside) {
		free(r);
		errno = EINVAL;
		return -1;
	}
	r[o] = '\0';
	*out = r;
	*outlen = o;
	return 0;
}

int
ca_text_has_cert(const char *text, size_t len, const char *pem, size_t pemlen)
{
	const char *b, *nl;
	char line[80];
	size_t n;

	b = memmem(pem, pemlen, CA_PEM_BEGIN, strlen(CA_PEM_BEGIN));
	if (b == NULL)
		return 0;
	b += strlen(CA_PEM_BEGIN);
	while (b < pem + pemlen && (*b == '\r' || *b == '\n'))
		b++;
	/* the second line of base64: past the common ASN.1 prefix */
	nl = memchr(b, '\n', (size_t)(pem + pemlen - b));
	if (nl == NULL)
		return 0;
	b = nl + 1;
	nl = memchr(b, '\n', (size_t)(pem + pemlen - b));
	if (nl == NULL)
		return 0;
	n = (size_t)(nl - b);
	if (n > 0 && b[n - 1] == '\r')
		n--;
	if (n < 16 || n >= sizeof(line))
		return 0;
	memcpy(line, b, n);
	return memmem(text, len, line, n) != NULL;
}

/* The certificates of a PEM bundle: each body without its line breaks. */
struct pem_list {
	char **body;
	size_t n;
};

static void
pem_list_free(struct pem_list *l)
{
	while (l->n > 0)
		free(l->body[--l->n]);
	free(l->body);
	l->body = NULL;
}

static int
pem_list_read(const char *text, size_t len, struct pem_list *l)
{
	const char *b, *e, *end = text + len;
	char *body, **grown;
	size_t o;

	memset(l, 0, sizeof(*l));
	while ((b = memmem(text, (size_t)(end - text), CA_PEM_BEGIN,
	    strlen(CA_PEM_BEGIN))) != NULL) {
		b += strlen(CA_PEM_BEGIN);
		e = memmem(b, (size_t)(end - b), CA_PEM_END,
		    strlen(CA_PEM_END));
		if (e == NULL)
			break;
		body = malloc((size_t)(e - b) + 1);
		grown = realloc(l->body, (l->n + 1) * sizeof(*grown));
		if (grown != NULL)
			l->body = grown;
		if (body == NULL || grown == NULL) {
			free(body);
			pem_list_free(l);
			return -1;
		}
		for (o = 0; b < e; b++)
			if (*b != '\n' && *b != '\r' && *b != ' ' &&
			    *b != '\t')
				body[o++] = *b;
		body[o] = '\0';
		l->body[l->n++] = body;
		text = e + strlen(CA_PEM_END);
	}
	return 0;
}

static int
pem_list_has(const struct pem_list *l, const char *body)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		if (strcmp(l->body[i], body) == 0)
			return 1;
	return 0;
}

int
ca_bundle_adds(const char *then, size_t thenlen, const char *now,
    size_t nowlen)
{
	struct pem_list a, b;
	size_t i;
	int r = 0;

	if (pem_list_read(then, thenlen, &a) == -1)
		return 0;
	if (pem_list_read(now, nowlen, &b) == -1) {
		pem_list_free(&a);
		return 0;
	}
	if (a.n > 0 && b.n > a.n) {
		r = 1;
		for (i = 0; r && i < a.n; i++)
			r = pem_list_has(&b, a.body[i]);
	}
	pem_list_free(&a);
	pem_list_free(&b);
	return r;
}
