/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * manifest.c - the install manifest as a list and as text (see
 * manifest.h).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "manifest.h"

#define MANIFEST_HEADER "# slicer-agent manifest v1"

static const char *const manifest_names[] = {
    [MANIFEST_DIR] = "dir",
    [MANIFEST_FILE] = "file",
    [MANIFEST_SNAPSHOT] = "snapshot",
    [MANIFEST_TOOL] = "tool",
    [MANIFEST_SERVICE] = "service",
    [MANIFEST_TABLE] = "table",
};

#define MANIFEST_NKINDS (sizeof(manifest_names) / sizeof(manifest_names[0]))

void
manifest_init(struct manifest *m)
{
	memset(m, 0, sizeof(*m));
}

const char *
manifest_kind_name(enum manifest_kind kind)
{
	if ((size_t)kind >= MANIFEST_NKINDS || kind == 0)
		return NULL;
	return manifest_names[kind];
}

const struct manifest_entry *
manifest_find(const struct manifest *m, enum manifest_kind kind, const char *a)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->e[i].kind == kind && strcmp(m->e[i].a, a) == 0)
			return &m->e[i];
	return NULL;
}

int
manifest_add(struct manifest *m, enum manifest_kind kind, const char *a,
    const char *b)
{
	struct manifest_entry *e;

	if (b == NULL)
		b = "";
	if (manifest_kind_name(kind) == NULL || a == NULL || a[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if (strlen(a) >= MANIFEST_FIELD_MAX || strlen(b) >= MANIFEST_FIELD_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (manifest_find(m, kind, a) != NULL)
		return 0;
	if (m->n == MANIFEST_MAX) {
		errno = E2BIG;
		return -1;
	}
	e = &m->e[m->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	memcpy(e->a, a, strlen(a) + 1);
	memcpy(e->b, b, strlen(b) + 1);
	return 1;
}

int
manifest_remove(struct manifest *m, enum manifest_kind kind, const char *a)
{
	size_t i;

	for (i = 0; i < m->n; i++) {
		if (m->e[i].kind != kind || strcmp(m->e[i].a, a) != 0)
			continue;
		memmove(&m->e[i], &m->e[i + 1],
		    (m->n - i - 1) * sizeof(m->e[0]));
		m->n--;
		return 0;
	}
	errno = ENOENT;
	return -1;
}

/* Escape s into out at *o; -1 when it does not fit. */
static int
manifest_escape(const char *s, char *out, size_t size, size_t *o)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;

	if (*p == '\0') {
		if (size - *o < 2)
			return -1;
		out[(*o)++] = '-';
		return 0;
	}
	for (; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '%' ||
		    (p == (const unsigned char *)s && *p == '-' && p[1] == '\0')) {
			if (size - *o < 4)
				return -1;
			out[(*o)++] = '%';
			out[(*o)++] = hex[*p >> 4];
			out[(*o)++] = hex[*p & 15];
		} else {
			if (size - *o < 2)
				return -1;
			out[(*o)++] = (char)*p;
		}
	}
	return 0;
}

int
manifest_format(const struct manifest *m, char *out, size_t size)
{
	size_t i, o;
	int n;

	n = snprintf(out, size, "%s\n", MANIFEST_HEADER);
	if (n < 0 || (size_t)n >= size)
		return -1;
	o = (size_t)n;
	for (i = 0; i < m->n; i++) {
		const char *k = manifest_kind_name(m->e[i].kind);

		if (k == NULL || size - o < strlen(k) + 2)
			return -1;
		memcpy(out + o, k, strlen(k));
		o += strlen(k);
		out[o++] = ' ';
		if (manifest_escape(m->e[i].a, out, size, &o) == -1 ||
		    size - o < 2)
			return -1;
		out[o++] = ' ';
		if (manifest_escape(m->e[i].b, out, size, &o) == -1 ||
		    size - o < 2)
			return -1;
		out[o++] = '\n';
	}
	out[o] = '\0';
	return (int)o;
}

static int
manifest_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Unescape s[0..len) into out (MANIFEST_FIELD_MAX); "-" is "". */
static int
manifest_unescape(const char *s, size_t len, char *out)
{
	size_t i, o = 0;

	if (len == 1 && s[0] == '-') {
		out[0] = '\0';
		return 0;
	}
	if (len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i], hi, lo;

		if (c == '%') {
			if (len - i < 3)
				return -1;
			hi = manifest_hexval(s[i + 1]);
			lo = manifest_hexval(s[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return -1;
			c = hi << 4 | lo;
			i += 2;
		} else if (c <= ' ' || c >= 0x7f) {
			return -1;
		}
		if (o + 1 >= MANIFEST_FIELD_MAX)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int
manifest_parse(const char *text, size_t len, struct manifest *m, char *err,
    size_t errsz)
{
	char a[MANIFEST_FIELD_MAX], b[MANIFEST_FIELD_MAX];
	size_t pos = 0, lineno = 0, hl = strlen(MANIFEST_HEADER);

	manifest_init(m);
	if (len < hl + 1 || memcmp(text, MANIFEST_HEADER "\n", hl + 1) != 0) {
		snprintf(err, errsz, "not a slicer-agent manifest");
		return -1;
	}
	pos = hl + 1;
	lineno = 1;
	while (pos < len) {
		const char *line = text + pos, *nl, *s1, *s2;
		size_t n, k, klen;
		int kind = 0;

		nl = memchr(line, '\n', len - pos);
		lineno++;
		if (nl == NULL) {
			snprintf(err, errsz, "line %zu: unterminated", lineno);
			return -1;
		}
		n = (size_t)(nl - line);
		pos += n + 1;
		s1 = memchr(line, ' ', n);
		s2 = s1 ? memchr(s1 + 1, ' ', (size_t)(nl - s1 - 1)) : NULL;
		if (s1 == NULL || s2 == NULL ||
		    memchr(s2 + 1, ' ', (size_t)(nl - s2 - 1)) != NULL) {
			snprintf(err, errsz, "line %zu: want KIND A B", lineno);
			return -1;
		}
		klen = (size_t)(s1 - line);
		for (k = 1; k < MANIFEST_NKINDS; k++)
			if (strlen(manifest_names[k]) == klen &&
			    memcmp(manifest_names[k], line, klen) == 0)
				kind = (int)k;
		if (kind == 0) {
			snprintf(err, errsz, "line %zu: unknown kind", lineno);
			return -1;
		}
		if (manifest_unescape(s1 + 1, (size_t)(s2 - s1 - 1), a) == -1 ||
		    a[0] == '\0' ||
		    manifest_unescape(s2 + 1, (size_t)(nl - s2 - 1), b) == -1) {
			snprintf(err, errsz, "line %zu: bad field", lineno);
			return -1;
		}
		if (manifest_add(m, (enum manifest_kind)kind, a, b) != 1) {
			snprintf(err, errsz, "line %zu: %s", lineno,
			    m->n == MANIFEST_MAX ? "too many entries"
						 : "repeated entry");
			return -1;
		}
	}
	return 0;
}
