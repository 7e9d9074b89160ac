/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * manifest.h - what `proxy install` changed, so `uninstall` can undo it
 * exactly: files it wrote (with a backup of what was there), files a
 * trust store tool rewrote as a side effect (snapshots), directories it
 * created, tools to re-run, the service it registered, the nftables
 * table.  Kept as text lines in the state directory.
 *
 * Pure functions: an in-memory list, its text form and back.  Entries are
 * kept in the order they were recorded; recording an entry that is
 * already there (same kind and path) keeps the first one, so a second
 * install never replaces the backup of the original with a backup of
 * its own output.
 */
#ifndef SLICER_MANIFEST_H
#define SLICER_MANIFEST_H

#include <stddef.h>

/* Entries in one manifest; an install records about 20. */
#define MANIFEST_MAX 64
/* A path or value in an entry, including the NUL. */
#define MANIFEST_FIELD_MAX 256
/* The text form: a line per entry, each field at most 3x escaped. */
#define MANIFEST_TEXT_MAX (MANIFEST_MAX * (MANIFEST_FIELD_MAX * 6 + 32) + 64)

enum manifest_kind {
	MANIFEST_DIR = 1,  /* a: directory created; removed when empty */
	MANIFEST_FILE,     /* a: file written; b: backup path, "" if it was absent */
	MANIFEST_SNAPSHOT, /* a: file a tool rewrites; b: its backup */
	MANIFEST_TOOL,     /* a: trust tool to re-run after the removal */
	MANIFEST_SERVICE,  /* a: "systemd", "openrc" or "detached" */
	MANIFEST_TABLE,    /* a: "inet slicer_agent" */
};

struct manifest_entry {
	enum manifest_kind kind;
	char a[MANIFEST_FIELD_MAX];
	char b[MANIFEST_FIELD_MAX];
};

struct manifest {
	struct manifest_entry e[MANIFEST_MAX];
	size_t n;
};

void manifest_init(struct manifest *m);

/*
 * Record an entry (b may be NULL for "").  Returns 1 when added, 0 when
 * an entry of the same kind and a was already there (left unchanged),
 * -1 with errno: E2BIG when full, ENAMETOOLONG for a field too long,
 * EINVAL for an empty a or a field with a NUL-free but unprintable byte
 * other than the ones escaped.
 */
int manifest_add(struct manifest *m, enum manifest_kind kind, const char *a,
    const char *b);

/* The entry of that kind and a, or NULL. */
const struct manifest_entry *manifest_find(
    const struct manifest *m, enum manifest_kind kind, const char *a);

/* Drop the entry of that kind and a (keeping the order); 0 or -1. */
int manifest_remove(struct manifest *m, enum manifest_kind kind, const char *a);

/* Name of a kind ("file"), or NULL. */
const char *manifest_kind_name(enum manifest_kind kind);

/*
 * Text form: a header line, then "KIND A B" per entry with fields
 * percent-escaped (space, '%', control and non-ASCII bytes) and "-" for
 * an empty B.  Returns the length, or -1 when out is too small.
 */
int manifest_format(const struct manifest *m, char *out, size_t size);

/* Parse the text form.  Unknown kinds, bad escapes, a missing header,
 * too many entries or fields too long fail.  0, or -1 with a message. */
int manifest_parse(const char *text, size_t len, struct manifest *m,
    char *err, size_t errsz);

#endif
