/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * install.c - install, uninstall and status of the transparent proxy
 * (see install.h).
 *
 * Every change install makes goes through inst_write / inst_mkdirs /
 * inst_snapshot / inst_tool, which
 *   - keep what was there before in memory (the undo list of this run:
 *     a failure part-way restores it, newest first), and
 *   - record in the manifest what uninstall must undo, with a backup of
 *     the original in the state directory (first install only: a second
 *     install keeps the backups of the originals).
 * The manifest is saved after each step, so even a crash leaves a
 * manifest that uninstall can work from.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <linux/netfilter.h>

#include "agentcfg.h"
#include "agentd.h"
#include "ca_install.h"
#include "fsops.h"
#include "install.h"
#include "manifest.h"
#include "nft.h"
#include "parse.h"
#include "pclient.h"
#include "route.h"
#include "rules.h"
#include "service.h"
#include "tlsc.h"

/* Changes one run can undo. */
#define INST_UNDO_MAX 128
/* Regular files beside the bundle saved before a tool runs. */
#define INST_CERTDIR_FILES 16

enum inst_undo_kind {
	UNDO_FILE = 1, /* restore old content, or remove */
	UNDO_DIR,      /* remove the directory */
};

struct inst_undo {
	enum inst_undo_kind kind;
	char path[FSOPS_PATH_MAX]; /* absolute */
	char *old;                 /* owned; NULL: did not exist */
	size_t oldlen;
	mode_t mode;
};

struct inst {
	const char *root;
	int is_live;                 /* root is "/": rules, daemon too */
	struct manifest *m;          /* owned */
	char *old_manifest;          /* owned: text before this run */
	size_t old_manifest_len;
	int had_manifest;
	struct inst_undo undo[INST_UNDO_MAX];
	size_t n_undo;
	char tool[FSOPS_PATH_MAX];   /* ran this run (for a rollback) */
	const char *tool_arg;
	int table_applied;           /* this run applied the table */
	int table_was_there;
	struct rules_config *old_rules; /* owned: the previous config's */
	int daemon_stopped;          /* an old daemon was stopped */
	enum service_kind old_service;
	char exe[FSOPS_PATH_MAX];
	int is_quiet;
};

struct inst_opts {
	const char *root;
	const char *proxy;
	const char *ca_sha256;
	int no_ca;
	int no_browser_policy;
	struct agentcfg cfg;
};

static int
inst_fail(char *err, size_t errsz, const char *what, const char *path)
{
	snprintf(err, errsz, "%s %s: %s", what, path, strerror(errno));
	return -1;
}

static void
inst_say(const struct inst *in, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
inst_say(const struct inst *in, const char *fmt, ...)
{
	va_list ap;

	if (in->is_quiet)
		return;
	va_start(ap, fmt);
	fputs("slicer-agent: ", stdout);
	vprintf(fmt, ap);
	fputc('\n', stdout);
	va_end(ap);
}

/* ---------------------------------------------------------- recording */

static int
inst_manifest_save(struct inst *in, char *err, size_t errsz)
{
	char path[FSOPS_PATH_MAX], *text;
	int n, rc = -1;

	text = malloc(MANIFEST_TEXT_MAX);
	if (text == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	n = manifest_format(in->m, text, MANIFEST_TEXT_MAX);
	if (n < 0 || fsops_join(in->root, INSTALL_MANIFEST, path,
			 sizeof(path)) == -1) {
		snprintf(err, errsz, "manifest too large");
		goto out;
	}
	if (fsops_write(path, text, (size_t)n, 0600) == -1) {
		inst_fail(err, errsz, "cannot write", path);
		goto out;
	}
	rc = 0;
out:
	free(text);
	return rc;
}

static int
inst_record(struct inst *in, enum manifest_kind k, const char *a,
    const char *b, char *err, size_t errsz)
{
	if (manifest_add(in->m, k, a, b) == -1) {
		snprintf(err, errsz, "manifest: %s: %s", a, strerror(errno));
		return -1;
	}
	return 0;
}

static struct inst_undo *
inst_undo_new(struct inst *in, enum inst_undo_kind k, const char *abs,
    char *err, size_t errsz)
{
	struct inst_undo *u;

	if (in->n_undo == INST_UNDO_MAX) {
		snprintf(err, errsz, "too many changes in one run");
		return NULL;
	}
	u = &in->undo[in->n_undo++];
	memset(u, 0, sizeof(*u));
	u->kind = k;
	snprintf(u->path, sizeof(u->path), "%s", abs);
	return u;
}

/* mkdir -p rel inside the root, recording each directory created. */
static int
inst_mkdirs(struct inst *in, const char *rel, mode_t mode, char *err,
    size_t errsz)
{
	char part[FSOPS_PATH_MAX], abs[FSOPS_PATH_MAX];
	size_t i, len = strlen(rel);

	if (len >= sizeof(part)) {
		snprintf(err, errsz, "path too long: %s", rel);
		return -1;
	}
	for (i = 1; i <= len; i++) {
		if (i < len && rel[i] != '/')
			continue;
		memcpy(part, rel, i);
		part[i] = '\0';
		if (fsops_join(in->root, part, abs, sizeof(abs)) == -1)
			return inst_fail(err, errsz, "bad path", part);
		if (mkdir(abs, mode) == -1) {
			if (errno == EEXIST && fsops_is_dir(abs))
				continue;
			return inst_fail(err, errsz, "cannot create", abs);
		}
		if (chmod(abs, mode) == -1 ||
		    inst_undo_new(in, UNDO_DIR, abs, err, errsz) == NULL ||
		    inst_record(in, MANIFEST_DIR, part, NULL, err, errsz) == -1)
			return -1;
	}
	return 0;
}

/* "/etc/ssl/certs/x.crt" -> INSTALL_BACKUP_DIR "/etc_ssl_certs_x.crt" */
static void
inst_backup_name(const char *rel, char *out, size_t size)
{
	size_t o, i;

	o = (size_t)snprintf(out, size, "%s/", INSTALL_BACKUP_DIR);
	for (i = 1; rel[i] != '\0' && o + 1 < size; i++)
		out[o++] = rel[i] == '/' ? '_' : rel[i];
	out[o] = '\0';
}

/* Write data to abs, remembering what was there for a rollback. */
static int
inst_write_abs(struct inst *in, const char *abs, const void *data,
    size_t len, mode_t mode, char *err, size_t errsz)
{
	struct inst_undo *u;
	char *old = NULL;
	size_t oldlen = 0;
	mode_t oldmode = 0;

	if (fsops_read(abs, FSOPS_FILE_MAX, &old, &oldlen, &oldmode) == -1 &&
	    errno != ENOENT)
		return inst_fail(err, errsz, "cannot read", abs);
	u = inst_undo_new(in, UNDO_FILE, abs, err, errsz);
	if (u == NULL) {
		free(old);
		return -1;
	}
	u->old = old;
	u->oldlen = oldlen;
	u->mode = oldmode;
	if (fsops_write(abs, data, len, mode) == -1)
		return inst_fail(err, errsz, "cannot write", abs);
	return 0;
}

/* Save a backup of rel (when it exists and none was saved before) and
 * record it under kind.  0 or -1. */
static int
inst_backup(struct inst *in, enum manifest_kind kind, const char *rel,
    char *err, size_t errsz)
{
	char abs[FSOPS_PATH_MAX], brel[FSOPS_PATH_MAX], babs[FSOPS_PATH_MAX];
	char *data = NULL;
	size_t len;
	mode_t mode;
	int rc = -1;

	if (manifest_find(in->m, MANIFEST_FILE, rel) != NULL ||
	    manifest_find(in->m, MANIFEST_SNAPSHOT, rel) != NULL)
		return 0;
	if (fsops_join(in->root, rel, abs, sizeof(abs)) == -1)
		return inst_fail(err, errsz, "bad path", rel);
	if (fsops_read(abs, FSOPS_FILE_MAX, &data, &len, &mode) == -1) {
		if (errno != ENOENT)
			return inst_fail(err, errsz, "cannot read", abs);
		if (kind == MANIFEST_SNAPSHOT)
			return 0;
		return inst_record(in, kind, rel, NULL, err, errsz);
	}
	inst_backup_name(rel, brel, sizeof(brel));
	if (fsops_join(in->root, brel, babs, sizeof(babs)) == -1 ||
	    inst_write_abs(in, babs, data, len, mode, err, errsz) == -1 ||
	    inst_record(in, kind, rel, brel, err, errsz) == -1)
		goto out;
	rc = 0;
out:
	free(data);
	return rc;
}

/* Write a file inside the root: backup, record, write. */
static int
inst_write(struct inst *in, const char *rel, const void *data, size_t len,
    mode_t mode, char *err, size_t errsz)
{
	char abs[FSOPS_PATH_MAX];

	if (fsops_join(in->root, rel, abs, sizeof(abs)) == -1)
		return inst_fail(err, errsz, "bad path", rel);
	if (inst_backup(in, MANIFEST_FILE, rel, err, errsz) == -1 ||
	    inst_write_abs(in, abs, data, len, mode, err, errsz) == -1 ||
	    inst_manifest_save(in, err, errsz) == -1)
		return -1;
	return 0;
}

/* A file a tool is about to rewrite: backup for uninstall, and its
 * current content for a rollback of this run. */
static int
inst_snapshot(struct inst *in, const char *rel, char *err, size_t errsz)
{
	char abs[FSOPS_PATH_MAX];
	struct inst_undo *u;

	if (fsops_join(in->root, rel, abs, sizeof(abs)) == -1 ||
	    !fsops_is_file(abs))
		return 0;
	if (inst_backup(in, MANIFEST_SNAPSHOT, rel, err, errsz) == -1)
		return -1;
	u = inst_undo_new(in, UNDO_FILE, abs, err, errsz);
	if (u == NULL)
		return -1;
	if (fsops_read(abs, FSOPS_FILE_MAX, &u->old, &u->oldlen, &u->mode) ==
	    -1)
		return inst_fail(err, errsz, "cannot read", abs);
	return inst_manifest_save(in, err, errsz);
}

static int
inst_run_tool(const char *root, const char *tool, const char *arg, char *err,
    size_t errsz)
{
	const char *argv[3] = {tool, arg, NULL};
	char out[1024];
	int rc;

	rc = fsops_run(root, argv, out, sizeof(out));
	if (rc == 0)
		return 0;
	out[strcspn(out, "\n")] = '\0';
	snprintf(err, errsz, "%.200s%s%.40s failed: %.300s", tool, arg ? " " : "",
	    arg ? arg : "",
	    rc == -1 ? strerror(errno) : (out[0] ? out : "exit status"));
	return -1;
}

/* Names in a directory, as one '/'-separated string ("" when none). */
static char *
inst_list_dir(const char *abs)
{
	struct dirent *de;
	size_t len = 1, cap = 4096;
	char *out;
	DIR *d;

	out = calloc(1, cap);
	if (out == NULL)
		return NULL;
	out[0] = '/';
	d = opendir(abs);
	if (d == NULL)
		return out;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);

		if (len + n + 2 > cap) {
			char *bigger = realloc(out, cap * 2 + n);

			if (bigger == NULL)
				break;
			out = bigger;
			cap = cap * 2 + n;
		}
		memcpy(out + len, de->d_name, n);
		len += n;
		out[len++] = '/';
		out[len] = '\0';
	}
	closedir(d);
	return out;
}

/*
 * Entries a tool created in dir (relative to the root) since before
 * (inst_list_dir's string): recorded as files we wrote that did not
 * exist, so uninstall and a rollback remove them (Debian's
 * update-ca-certificates leaves its symlinks to a removed local CA).
 */
static int
inst_record_new(struct inst *in, const char *dir, const char *before,
    char *err, size_t errsz)
{
	char abs[FSOPS_PATH_MAX], rel[FSOPS_PATH_MAX], key[FSOPS_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (fsops_join(in->root, dir, abs, sizeof(abs)) == -1)
		return 0;
	d = opendir(abs);
	if (d == NULL)
		return 0;
	while (rc == 0 && (de = readdir(d)) != NULL) {
		struct inst_undo *u;

		snprintf(key, sizeof(key), "/%.256s/", de->d_name);
		if (strstr(before, key) != NULL)
			continue;
		snprintf(rel, sizeof(rel), "%.250s/%.250s", dir, de->d_name);
		if (manifest_find(in->m, MANIFEST_FILE, rel) != NULL)
			continue;
		if (fsops_join(in->root, rel, abs, sizeof(abs)) == -1 ||
		    (u = inst_undo_new(in, UNDO_FILE, abs, err, errsz)) ==
			NULL ||
		    inst_record(in, MANIFEST_FILE, rel, NULL, err, errsz) == -1)
			rc = -1;
	}
	closedir(d);
	return rc == 0 ? inst_manifest_save(in, err, errsz) : -1;
}

/*
 * The regular files in dir (inside the root), before a tool runs: the
 * tool may replace one with a symlink (Debian's does, for a local CA
 * someone copied there by hand), and uninstall must put it back.
 */
static int
inst_snapshot_dir(struct inst *in, const char *dir, char *err, size_t errsz)
{
	char abs[FSOPS_PATH_MAX], rel[FSOPS_PATH_MAX];
	struct dirent *de;
	int n = 0, rc = 0;
	DIR *d;

	if (fsops_join(in->root, dir, abs, sizeof(abs)) == -1)
		return 0;
	d = opendir(abs);
	if (d == NULL)
		return 0;
	while (rc == 0 && n < INST_CERTDIR_FILES && (de = readdir(d)) != NULL) {
		snprintf(rel, sizeof(rel), "%.250s/%.250s", dir, de->d_name);
		if (fsops_join(in->root, rel, abs, sizeof(abs)) == -1 ||
		    !fsops_is_file(abs))
			continue;
		n++;
		rc = inst_snapshot(in, rel, err, errsz);
	}
	closedir(d);
	return rc;
}

/* ----------------------------------------------------------- rollback */

static void
inst_rollback(struct inst *in)
{
	char err[512], path[FSOPS_PATH_MAX];
	struct nft_error nerr;
	size_t i;

	if (in->table_applied) {
		if (in->table_was_there && in->old_rules != NULL)
			rules_apply(in->old_rules, &nerr);
		else if (!in->table_was_there)
			rules_remove(&nerr);
	}
	for (i = in->n_undo; i-- > 0;) {
		struct inst_undo *u = &in->undo[i];

		if (u->kind == UNDO_FILE) {
			if (u->old == NULL)
				unlink(u->path);
			else
				fsops_write(u->path, u->old, u->oldlen, u->mode);
		}
	}
	if (in->tool[0] != '\0')
		inst_run_tool(in->root, in->tool, in->tool_arg, err, sizeof(err));
	/* the tool may have rewritten snapshot files again: restore */
	for (i = in->n_undo; i-- > 0;) {
		struct inst_undo *u = &in->undo[i];

		if (u->kind == UNDO_FILE && u->old != NULL)
			fsops_write(u->path, u->old, u->oldlen, u->mode);
	}
	if (fsops_join(in->root, INSTALL_MANIFEST, path, sizeof(path)) == 0) {
		if (in->had_manifest)
			fsops_write(path, in->old_manifest,
			    in->old_manifest_len, 0600);
		else
			unlink(path);
	}
	for (i = in->n_undo; i-- > 0;)
		if (in->undo[i].kind == UNDO_DIR)
			rmdir(in->undo[i].path);
	if (in->daemon_stopped && in->is_live)
		service_start(in->old_service, in->exe, err, sizeof(err));
}

static void
inst_free(struct inst *in)
{
	size_t i;

	for (i = 0; i < in->n_undo; i++)
		free(in->undo[i].old);
	free(in->m);
	free(in->old_manifest);
	free(in->old_rules);
}

/* ------------------------------------------------------------- checks */

static int
inst_whoami(const struct agentcfg_url *u, struct tlsc_ctx *tls, char *client,
    size_t csize, char *err, size_t errsz)
{
	struct pclient_resp r;
	char hp[80], msg[256];
	const char *p, *q;
	int rc = -1;

	agentcfg_url_hostport(u, hp, sizeof(hp));
	if (pclient_get(u, tls, "/slicer/whoami", 1, &r, msg, sizeof(msg)) ==
	    -1) {
		snprintf(err, errsz, "%s", msg);
		return -1;
	}
	if (r.status == 407) {
		snprintf(err, errsz,
		    "the proxy at %s rejected the token (407): check the "
		    "TOKEN in the proxy URL (slicer-proxy client create)",
		    hp);
		goto out;
	}
	if (r.status != 200) {
		snprintf(err, errsz,
		    "unexpected answer %d from the proxy at %s to "
		    "/slicer/whoami (is it a slicer-proxy?)",
		    r.status, hp);
		goto out;
	}
	p = strstr(r.body, "\"client\"");
	p = p ? strchr(p + 8, '"') : NULL;
	q = p ? strchr(p + 1, '"') : NULL;
	if (q == NULL || (size_t)(q - p - 1) >= csize) {
		snprintf(err, errsz, "malformed /slicer/whoami answer from %s",
		    hp);
		goto out;
	}
	memcpy(client, p + 1, (size_t)(q - p - 1));
	client[q - p - 1] = '\0';
	rc = 0;
out:
	pclient_resp_free(&r);
	return rc;
}

static int
inst_fetch_ca(const struct agentcfg_url *u, struct tlsc_ctx *tls,
    const char *want_sha, char **pem, size_t *pemlen, char *err, size_t errsz)
{
	uint8_t want[32], got[32], *der = NULL;
	char hex[65], hp[80], msg[256];
	struct pclient_resp r;
	size_t derlen, i;
	int rc = -1;

	agentcfg_url_hostport(u, hp, sizeof(hp));
	if (want_sha != NULL && ca_parse_sha256(want_sha, want) == -1) {
		snprintf(err, errsz,
		    "invalid --ca-sha256: '%s' (want 64 hex digits)", want_sha);
		return -1;
	}
	if (pclient_get(u, tls, "/slicer/ca.crt", 0, &r, msg, sizeof(msg)) ==
	    -1) {
		snprintf(err, errsz, "fetching the CA: %s", msg);
		return -1;
	}
	if (r.status != 200) {
		snprintf(err, errsz,
		    "fetching the CA from %s: answer %d to /slicer/ca.crt", hp,
		    r.status);
		goto out;
	}
	if (r.len > CA_PEM_MAX ||
	    ca_pem_to_der(r.body, r.len, &der, &derlen) == -1) {
		snprintf(err, errsz,
		    "the CA from %s is not a PEM certificate", hp);
		goto out;
	}
	if (want_sha != NULL) {
		if (tlsc_sha256(der, derlen, got) == -1) {
			snprintf(err, errsz, "--ca-sha256 needs a build with "
			    "TLS support (mbed TLS)");
			goto out;
		}
		if (memcmp(want, got, sizeof(got)) != 0) {
			for (i = 0; i < 32; i++)
				snprintf(hex + 2 * i, 3, "%02x", got[i]);
			snprintf(err, errsz,
			    "the proxy's CA does not match --ca-sha256: its "
			    "SHA-256 is %s", hex);
			goto out;
		}
	}
	*pem = r.body;
	*pemlen = r.len;
	r.body = NULL;
	rc = 0;
out:
	free(der);
	pclient_resp_free(&r);
	return rc;
}

/* ---------------------------------------------------------- the steps */

static int
inst_step_config(struct inst *in, struct inst_opts *o, const char *pem,
    size_t pemlen, char *err, size_t errsz)
{
	char *text;
	int n, rc = -1;

	if (inst_mkdirs(in, INSTALL_CONF_DIR, 0755, err, errsz) == -1)
		return -1;
	if (pem != NULL) {
		snprintf(o->cfg.ca_path, sizeof(o->cfg.ca_path), "%s",
		    INSTALL_CA_FILE);
		if (inst_write(in, INSTALL_CA_FILE, pem, pemlen, 0644, err,
			errsz) == -1)
			return -1;
	}
	text = malloc(AGENTCFG_FILE_MAX);
	if (text == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	n = agentcfg_format(&o->cfg, text, AGENTCFG_FILE_MAX);
	if (n < 0)
		snprintf(err, errsz, "config too large");
	else if (inst_write(in, INSTALL_CONF_FILE, text, (size_t)n, 0600, err,
		     errsz) == 0)
		rc = 0;
	memset(text, 0, AGENTCFG_FILE_MAX);
	free(text);
	return rc;
}

/* Append our marked block to a file's text (an old block removed). */
static int
inst_with_block(struct inst *in, const char *rel, const char *begin,
    const char *end, const char *body, char **out, size_t *outlen,
    mode_t *mode, char *err, size_t errsz)
{
	char abs[FSOPS_PATH_MAX], *old = NULL, *stripped = NULL;
	size_t oldlen = 0, slen, need;
	int rc = -1;

	*mode = 0644;
	if (fsops_join(in->root, rel, abs, sizeof(abs)) == -1)
		return inst_fail(err, errsz, "bad path", rel);
	if (fsops_read(abs, FSOPS_FILE_MAX, &old, &oldlen, mode) == -1 &&
	    errno != ENOENT)
		return inst_fail(err, errsz, "cannot read", abs);
	if (ca_strip_block(old ? old : "", oldlen, begin, end, &stripped,
		&slen) == -1) {
		snprintf(err, errsz, "%s: an unterminated slicer-agent block",
		    abs);
		goto out;
	}
	need = slen + 1 + strlen(begin) + strlen(body) + strlen(end) + 1;
	*out = malloc(need);
	if (*out == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	memcpy(*out, stripped, slen);
	*outlen = slen;
	if (slen > 0 && stripped[slen - 1] != '\n')
		(*out)[(*outlen)++] = '\n';
	*outlen += (size_t)snprintf(*out + *outlen, need - *outlen, "%s%s%s",
	    begin, body, end);
	rc = 0;
out:
	free(old);
	free(stripped);
	return rc;
}

static int
inst_write_block(struct inst *in, const char *rel, const char *begin,
    const char *end, const char *body, char *err, size_t errsz)
{
	char *text = NULL;
	size_t len;
	mode_t mode;
	int rc;

	if (inst_with_block(in, rel, begin, end, body, &text, &len, &mode, err,
		errsz) == -1)
		return -1;
	rc = inst_write(in, rel, text, len, mode, err, errsz);
	free(text);
	return rc;
}

/* A keytool that manages a keystore the system store does not. */
static void
inst_java(struct inst *in)
{
	char tool[FSOPS_PATH_MAX], ks[FSOPS_PATH_MAX];
	char err[512], *slash, *rks, *real;
	const char *del[] = {tool, "-delete", "-noprompt", "-cacerts",
	    "-storepass", "changeit", "-alias", CA_FILE_NAME, NULL};
	const char *imp[] = {tool, "-importcert", "-noprompt", "-cacerts",
	    "-storepass", "changeit", "-alias", CA_FILE_NAME, "-file",
	    INSTALL_CA_FILE, NULL};
	int rc;

	if (!in->is_live || fsops_find_tool("/", "keytool", tool,
				 sizeof(tool)) == -1 ||
	    (real = realpath(tool, NULL)) == NULL)
		return;
	/* JAVA_HOME/bin/keytool -> JAVA_HOME/lib/security/cacerts */
	slash = strrchr(real, '/');
	if (slash != NULL) {
		*slash = '\0';
		slash = strrchr(real, '/');
	}
	if (slash == NULL) {
		free(real);
		return;
	}
	*slash = '\0';
	snprintf(ks, sizeof(ks), "%.400s/lib/security/cacerts", real);
	free(real);
	rks = realpath(ks, NULL);
	if (rks == NULL)
		return;
	/* Debian and RHEL generate it from the system store */
	if (strcmp(rks, "/etc/ssl/certs/java/cacerts") == 0 ||
	    strncmp(rks, "/etc/pki/ca-trust/", 18) == 0) {
		free(rks);
		return;
	}
	if (inst_snapshot(in, rks, err, sizeof(err)) == -1) {
		free(rks);
		return;
	}
	free(rks);
	fsops_run("/", del, NULL, 0);
	rc = fsops_run("/", imp, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "slicer-agent: note: keytool import failed "
				"(Java keeps its own roots)\n");
	else
		inst_say(in, "Java keystore: CA imported (%s)", ks);
}

static int
inst_step_ca(struct inst *in, const char *pem, size_t pemlen, char *err,
    size_t errsz)
{
	char abs[FSOPS_PATH_MAX], dir[FSOPS_PATH_MAX], body[1024];
	char certdir[FSOPS_PATH_MAX], *before = NULL;
	struct ca_store s;
	char *bundle = NULL;
	size_t blen;
	int rc = -1;

	if (ca_store_detect(in->root, &s, err, errsz) == -1)
		return -1;
	if (s.tool[0] != '\0') {
		if (inst_snapshot(in, s.bundle, err, errsz) == -1 ||
		    inst_snapshot(in, "/etc/ssl/certs/java/cacerts", err,
			errsz) == -1)
			return -1;
		snprintf(certdir, sizeof(certdir), "%s", s.bundle);
		*strrchr(certdir, '/') = '\0';
		if (inst_snapshot_dir(in, certdir, err, errsz) == -1)
			return -1;
		if (fsops_join(in->root, certdir, abs, sizeof(abs)) == -1 ||
		    (before = inst_list_dir(abs)) == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		snprintf(dir, sizeof(dir), "%s", s.anchor);
		*strrchr(dir, '/') = '\0';
		if (inst_mkdirs(in, dir, 0755, err, errsz) == -1 ||
		    inst_write(in, s.anchor, pem, pemlen, 0644, err, errsz) ==
			-1)
			goto out;
		snprintf(in->tool, sizeof(in->tool), "%s", s.tool);
		in->tool_arg = s.arg;
		if (inst_record(in, MANIFEST_TOOL, s.tool, s.arg, err, errsz) ==
			-1 ||
		    inst_manifest_save(in, err, errsz) == -1 ||
		    inst_run_tool(in->root, s.tool, s.arg, err, errsz) == -1 ||
		    inst_record_new(in, certdir, before, err, errsz) == -1)
			goto out;
		if (fsops_join(in->root, s.bundle, abs, sizeof(abs)) == -1 ||
		    fsops_read(abs, FSOPS_FILE_MAX, &bundle, &blen, NULL) ==
			-1 ||
		    !ca_text_has_cert(bundle, blen, pem, pemlen)) {
			snprintf(err, errsz,
			    "%s ran, but %s does not hold the CA", s.tool,
			    s.bundle);
			goto out;
		}
		inst_say(in, "CA installed (%s: %s, %s)", s.name, s.anchor,
		    s.tool);
	} else {
		char *block;

		block = malloc(pemlen + 2);
		if (block == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		memcpy(block, pem, pemlen);
		block[pemlen] = '\0';
		if (pemlen > 0 && pem[pemlen - 1] != '\n')
			strcat(block, "\n");
		rc = inst_write_block(in, s.bundle, CA_BLOCK_BEGIN, CA_BLOCK_END,
		    block, err, errsz);
		free(block);
		if (rc == -1)
			return -1;
		rc = -1;
		inst_say(in, "CA appended to %s (no trust store tool; a "
			     "backup is kept)", s.bundle);
	}
	/* runtimes that do not read the system store */
	snprintf(body, sizeof(body),
	    "NODE_EXTRA_CA_CERTS=%s\nSSL_CERT_FILE=%s\nREQUESTS_CA_BUNDLE=%s\n"
	    "PIP_CERT=%s\n",
	    INSTALL_CA_FILE, s.bundle, s.bundle, s.bundle);
	if (inst_write_block(in, INSTALL_ENV_FILE, CA_ENV_BEGIN, CA_ENV_END,
		body, err, errsz) == -1)
		goto out;
	snprintf(body, sizeof(body),
	    "# slicer-agent: CA for runtimes that ignore the system store\n"
	    "export NODE_EXTRA_CA_CERTS=%s\nexport SSL_CERT_FILE=%s\n"
	    "export REQUESTS_CA_BUNDLE=%s\nexport PIP_CERT=%s\n",
	    INSTALL_CA_FILE, s.bundle, s.bundle, s.bundle);
	if (inst_mkdirs(in, INSTALL_PROFILE_DIR, 0755, err, errsz) == -1 ||
	    inst_write(in, INSTALL_PROFILE, body, strlen(body), 0644, err,
		errsz) == -1)
		goto out;
	inst_say(in, "environment: %s, %s (NODE_EXTRA_CA_CERTS, SSL_CERT_FILE,"
		     " REQUESTS_CA_BUNDLE, PIP_CERT)",
	    INSTALL_ENV_FILE, INSTALL_PROFILE);
	inst_java(in);
	rc = 0;
out:
	free(before);
	free(bundle);
	return rc;
}

/*
 * Firefox: ECH GREASE off through Debian's preferences directory (its
 * enterprise policy cannot set that preference), and the CA through the
 * enterprise policy file, which is one file for every policy: written
 * only when there is none, or when it is the one we wrote.
 */
static const char firefox_policy[] =
    "{\n  \"policies\": {\n    \"Certificates\": {\n"
    "      \"Install\": [\"" INSTALL_CA_FILE "\"]\n    }\n  }\n}\n";

/* Is the Firefox policy file at abs (absolute) the one we wrote, byte for
 * byte?  1 or 0. */
static int
firefox_policy_is_ours(const char *abs)
{
	char *text = NULL;
	size_t len;
	int is_ours;

	if (fsops_read(abs, FSOPS_FILE_MAX, &text, &len, NULL) == -1)
		return 0;
	is_ours = len == sizeof(firefox_policy) - 1 &&
	    memcmp(text, firefox_policy, len) == 0;
	free(text);
	return is_ours;
}

static int
inst_step_firefox(struct inst *in, int with_ca, char *err, size_t errsz)
{
	static const char prefs[] =
	    "// slicer-agent: no ECH GREASE (a host-level tunnel refuses "
	    "ECH)\n"
	    "pref(\"security.tls.ech.grease_probability\", 0);\n";
	char abs[FSOPS_PATH_MAX];
	struct stat st;

	if (inst_mkdirs(in, INSTALL_FIREFOX_PREFS_DIR, 0755, err, errsz) ==
		-1 ||
	    inst_write(in, INSTALL_FIREFOX_PREFS, prefs, sizeof(prefs) - 1,
		0644, err, errsz) == -1)
		return -1;
	if (!with_ca) {
		inst_say(in, "Firefox: %s (ECH off)", INSTALL_FIREFOX_PREFS);
		return 0;
	}
	if (fsops_join(in->root, INSTALL_FIREFOX_POLICY, abs, sizeof(abs)) ==
		-1)
		return inst_fail(err, errsz, "bad path",
		    INSTALL_FIREFOX_POLICY);
	/* anything there (a symbolic link too) that is not our own file as
	 * we wrote it stays as it is */
	if (lstat(abs, &st) == 0 &&
	    (manifest_find(in->m, MANIFEST_FILE, INSTALL_FIREFOX_POLICY) ==
		    NULL ||
		!S_ISREG(st.st_mode) || !firefox_policy_is_ours(abs))) {
		inst_say(in, "Firefox: %s (ECH off); %s is not ours, so the CA "
			     "is not in it: add \"Certificates\": {\"Install\": "
			     "[\"%s\"]} to its policies", INSTALL_FIREFOX_PREFS,
		    INSTALL_FIREFOX_POLICY, INSTALL_CA_FILE);
		return 0;
	}
	snprintf(abs, sizeof(abs), "%s", INSTALL_FIREFOX_POLICY);
	*strrchr(abs, '/') = '\0';
	if (inst_mkdirs(in, abs, 0755, err, errsz) == -1 ||
	    inst_write(in, INSTALL_FIREFOX_POLICY, firefox_policy,
		sizeof(firefox_policy) - 1, 0644, err, errsz) == -1)
		return -1;
	inst_say(in, "Firefox: %s (ECH off), %s (CA trusted)",
	    INSTALL_FIREFOX_PREFS, INSTALL_FIREFOX_POLICY);
	return 0;
}

/*
 * The managed policy of Chromium-family browsers: ECH off (a host-level
 * tunnel refuses ECH, and Chrome sends it as GREASE to every name), and
 * with the CA, the CA trusted (Chrome reads no system store).
 */
static int
inst_step_browsers(struct inst *in, const char *pem, size_t pemlen,
    char *err, size_t errsz)
{
	char dir[FSOPS_PATH_MAX], *text = NULL;
	uint8_t *der = NULL;
	size_t len, i;
	int rc = -1;

	if (pem != NULL && ca_pem_to_der(pem, pemlen, &der, &len) == -1) {
		snprintf(err, errsz, "the proxy's CA is not a PEM "
		    "certificate");
		return -1;
	}
	if (ca_browser_policy(der, der != NULL ? len : 0, &text, &len) == -1) {
		snprintf(err, errsz, "cannot build the browser policy: %s",
		    strerror(errno));
		goto out;
	}
	for (i = 0; ca_browser_policy_files[i] != NULL; i++) {
		snprintf(dir, sizeof(dir), "%s", ca_browser_policy_files[i]);
		*strrchr(dir, '/') = '\0';
		if (inst_mkdirs(in, dir, 0755, err, errsz) == -1 ||
		    inst_write(in, ca_browser_policy_files[i], text, len, 0644,
			err, errsz) == -1)
			goto out;
	}
	inst_say(in, "browser policy: %s and the Chrome, Chrome for Testing "
		     "ones (ECH off%s)", ca_browser_policy_files[0],
	    der != NULL ? ", CA trusted" : "");
	if (inst_step_firefox(in, der != NULL, err, errsz) == -1)
		goto out;
	rc = 0;
out:
	free(der);
	free(text);
	return rc;
}

/* The previous config's ruleset, to put back on a rollback. */
static void
inst_old_rules(struct inst *in)
{
	char abs[FSOPS_PATH_MAX], msg[256], *text = NULL;
	struct agentcfg *c;
	size_t len;

	if (fsops_join(in->root, INSTALL_CONF_FILE, abs, sizeof(abs)) == -1 ||
	    fsops_read(abs, AGENTCFG_FILE_MAX, &text, &len, NULL) == -1)
		return;
	c = calloc(1, sizeof(*c));
	in->old_rules = calloc(1, sizeof(*in->old_rules));
	if (c != NULL && in->old_rules != NULL &&
	    agentcfg_parse(text, len, c, msg, sizeof(msg)) == 0)
		agentcfg_rules(c, in->old_rules);
	else {
		free(in->old_rules);
		in->old_rules = NULL;
	}
	free(c);
	memset(text, 0, len);
	free(text);
}

static int
inst_step_rules(struct inst *in, const struct agentcfg *cfg, char *err,
    size_t errsz)
{
	struct rules_config rc;
	struct nft_error nerr;
	char msg[256];

	agentcfg_rules(cfg, &rc);
	in->table_applied = 1;
	if (rules_apply(&rc, &nerr) == -1) {
		snprintf(err, errsz, "nftables: %s",
		    nft_error_format(&nerr, msg, sizeof(msg)));
		return -1;
	}
	if (inst_record(in, MANIFEST_TABLE, "inet " RULES_TABLE, NULL, err,
		errsz) == -1 ||
	    inst_manifest_save(in, err, errsz) == -1)
		return -1;
	inst_say(in, "nftables: table inet %s (uplink %s; TCP to :%u, DNS "
		     "to :%u, other UDP and protocols refused)",
	    RULES_TABLE, cfg->uplink, (unsigned int)rc.redirect_port,
	    (unsigned int)rc.dns_port);
	return 0;
}

static int
inst_step_daemon(struct inst *in, char *err, size_t errsz)
{
	enum service_kind k = service_detect();
	const char *rel = NULL;
	char *unit;
	pid_t pid;
	int rc;

	if (k != SERVICE_DETACHED) {
		rel = k == SERVICE_SYSTEMD ? INSTALL_UNIT : INSTALL_OPENRC;
		unit = service_unit_text(k, in->exe);
		if (unit == NULL) {
			snprintf(err, errsz, "out of memory");
			return -1;
		}
		rc = inst_write(in, rel, unit, strlen(unit),
		    k == SERVICE_OPENRC ? 0755 : 0644, err, errsz);
		free(unit);
		if (rc == -1)
			return -1;
	}
	if (in->old_service != 0 && in->old_service != k) {
		service_stop(in->old_service, err, errsz);
		in->daemon_stopped = 1;
	} else if (service_running_pid() != 0) {
		in->daemon_stopped = 1;
	}
	if (inst_record(in, MANIFEST_SERVICE, service_kind_name(k), NULL, err,
		errsz) == -1 ||
	    inst_manifest_save(in, err, errsz) == -1)
		return -1;
	if (service_start(k, in->exe, err, errsz) == -1)
		return -1;
	pid = service_running_pid();
	if (pid != 0)
		inst_say(in, "daemon: running (%s, pid %d)",
		    service_kind_name(k), (int)pid);
	else
		inst_say(in, "daemon: running (%s)", service_kind_name(k));
	return 0;
}

/* ------------------------------------------------------------ options */

static const char install_usage[] =
    "usage: slicer-agent proxy install [--proxy URL] [--ca-sha256 HEX]\n"
    "           [--bypass CIDR]... [--allow-udp PORT]... [--no-ca]\n"
    "           [--no-browser-policy] [--sched batch|normal] [--root DIR]\n"
    "  URL: http://proxy:TOKEN@192.168.222.1:3128 (or https://...:3129);\n"
    "  default from HTTPS_PROXY, then HTTP_PROXY\n"
    "  --sched: the daemon's scheduling policy (default batch)\n";

static int
inst_parse(int argc, char **argv, struct inst_opts *o, char *err,
    size_t errsz)
{
	static const struct option longopts[] = {
	    {"proxy", required_argument, NULL, 'p'},
	    {"ca-sha256", required_argument, NULL, 's'},
	    {"bypass", required_argument, NULL, 'b'},
	    {"allow-udp", required_argument, NULL, 'a'},
	    {"no-ca", no_argument, NULL, 'n'},
	    {"no-browser-policy", no_argument, NULL, 'B'},
	    {"sched", required_argument, NULL, 'S'},
	    {"root", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	struct agentcfg *c = &o->cfg;
	const char *const envs[] = {
	    "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"};
	size_t i;
	int ch;

	memset(o, 0, sizeof(*o));
	o->root = "/";
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p':
			o->proxy = optarg;
			break;
		case 's':
			o->ca_sha256 = optarg;
			break;
		case 'n':
			o->no_ca = 1;
			break;
		case 'B':
			o->no_browser_policy = 1;
			break;
		case 'r':
			o->root = optarg;
			break;
		case 'S':
			if (agentcfg_sched_parse(optarg, &c->sched) == -1) {
				snprintf(err, errsz, "invalid --sched: '%s' "
				    "(batch or normal)", optarg);
				return -1;
			}
			break;
		case 'b':
			if (c->n_bypass == RULES_MAX_BYPASS) {
				snprintf(err, errsz, "too many --bypass");
				return -1;
			}
			if (netaddr_parse_cidr(optarg,
				&c->bypass[c->n_bypass]) == -1) {
				snprintf(err, errsz, "invalid CIDR: '%s'",
				    optarg);
				return -1;
			}
			c->n_bypass++;
			break;
		case 'a':
			if (c->n_allow_udp == RULES_MAX_UDP) {
				snprintf(err, errsz, "too many --allow-udp");
				return -1;
			}
			if (parse_port(optarg,
				&c->allow_udp[c->n_allow_udp]) == -1) {
				snprintf(err, errsz, "invalid port: '%s'",
				    optarg);
				return -1;
			}
			c->n_allow_udp++;
			break;
		case ':':
			snprintf(err, errsz, "option needs a value: '%s'",
			    argv[optind - 1]);
			return -1;
		default:
			/* the name only: what follows '=' may hold the
			 * token (--proxyurl=http://proxy:TOKEN@...) */
			snprintf(err, errsz, "unknown option: '%.*s'",
			    (int)strcspn(argv[optind - 1], "="),
			    argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		/* not quoted: it may be the proxy URL, token and all */
		snprintf(err, errsz, "unexpected argument (the proxy URL goes "
		    "in --proxy URL or HTTPS_PROXY)");
		return -1;
	}
	for (i = 0; o->proxy == NULL && i < sizeof(envs) / sizeof(envs[0]);
	     i++) {
		const char *v = getenv(envs[i]);

		if (v != NULL && v[0] != '\0')
			o->proxy = v;
	}
	if (o->root[0] != '/' || !fsops_is_dir(o->root)) {
		snprintf(err, errsz, "--root: '%s' is not a directory "
		    "(give an absolute path)", o->root);
		return -1;
	}
	if (agentcfg_parse_url(o->proxy, &c->url, err, errsz) == -1)
		return -1;
	if (c->url.is_tls && !tlsc_available()) {
		snprintf(err, errsz, "an https:// proxy needs TLS support, and "
		    "this slicer-agent was built without mbed TLS");
		return -1;
	}
	snprintf(c->url_text, sizeof(c->url_text), "%s", o->proxy);
	return 0;
}

static int
inst_load_manifest(struct inst *in, char *err, size_t errsz)
{
	char abs[FSOPS_PATH_MAX], msg[256];

	in->m = calloc(1, sizeof(*in->m));
	if (in->m == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	if (fsops_join(in->root, INSTALL_MANIFEST, abs, sizeof(abs)) == -1)
		return inst_fail(err, errsz, "bad path", INSTALL_MANIFEST);
	if (fsops_read(abs, MANIFEST_TEXT_MAX, &in->old_manifest,
		&in->old_manifest_len, NULL) == -1) {
		if (errno == ENOENT)
			return 0;
		return inst_fail(err, errsz, "cannot read", abs);
	}
	in->had_manifest = 1;
	if (manifest_parse(in->old_manifest, in->old_manifest_len, in->m, msg,
		sizeof(msg)) == -1) {
		snprintf(err, errsz, "%s: %s (remove it to start over)", abs,
		    msg);
		return -1;
	}
	return 0;
}

int
install_main(int argc, char **argv)
{
	struct inst_opts *o;
	struct inst *in;
	struct tlsc_ctx *tls = NULL, *probe = NULL;
	const struct manifest_entry *e;
	char err[1024], client[128], hp[80], comment[NFT_COMMENT_MAX];
	char *pem = NULL;
	size_t pemlen = 0;
	ssize_t n;
	int rc = 1;

	o = calloc(1, sizeof(*o));
	in = calloc(1, sizeof(*in));
	if (o == NULL || in == NULL) {
		fprintf(stderr, "slicer-agent: out of memory\n");
		goto out;
	}
	if (inst_parse(argc, argv, o, err, sizeof(err)) == -1) {
		fprintf(stderr, "slicer-agent proxy install: %s\n%s", err,
		    install_usage);
		goto out;
	}
	in->root = o->root;
	in->is_live = strcmp(o->root, "/") == 0;
	n = readlink("/proc/self/exe", in->exe, sizeof(in->exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "slicer-agent: cannot find my own binary\n");
		goto out;
	}
	in->exe[n] = '\0';
	agentcfg_url_hostport(&o->cfg.url, hp, sizeof(hp));
	/* 1. checks that change nothing */
	if (in->is_live) {
		if (nft_table_get(NFPROTO_INET, RULES_TABLE, comment,
			sizeof(comment)) == 0) {
			if (strcmp(comment, RULES_COMMENT) != 0) {
				snprintf(err, sizeof(err),
				    "a table inet %s that is not ours "
				    "exists (comment '%s'): remove it first",
				    RULES_TABLE, comment);
				goto fail_early;
			}
		} else if (errno != ENOENT) {
			snprintf(err, sizeof(err),
			    "nftables is not available: %s (needs root and a "
			    "kernel with nf_tables)", strerror(errno));
			goto fail_early;
		}
		if (route_uplink(&o->cfg.url.addr, o->cfg.uplink,
			sizeof(o->cfg.uplink)) == -1) {
			snprintf(err, sizeof(err),
			    "no route to the proxy address %s: %s", hp,
			    strerror(errno));
			goto fail_early;
		}
		if (strcmp(o->cfg.uplink, "lo") == 0) {
			snprintf(err, sizeof(err),
			    "the proxy address %s is this machine's own", hp);
			goto fail_early;
		}
	} else {
		snprintf(o->cfg.uplink, sizeof(o->cfg.uplink), "eth0");
	}
	if (o->cfg.url.is_tls) {
		/* the CA first (unverified, pinned by --ca-sha256 when
		 * given), then everything else verified against it */
		probe = tlsc_ctx_new(NULL, 0, err, sizeof(err));
		if (probe == NULL ||
		    inst_fetch_ca(&o->cfg.url, probe, o->ca_sha256, &pem,
			&pemlen, err, sizeof(err)) == -1)
			goto fail_early;
		tls = tlsc_ctx_new(pem, pemlen, err, sizeof(err));
		if (tls == NULL)
			goto fail_early;
	}
	if (inst_whoami(&o->cfg.url, tls, client, sizeof(client), err,
		sizeof(err)) == -1)
		goto fail_early;
	printf("slicer-agent: proxy %s%s ok, token accepted (client %s)\n",
	    o->cfg.url.is_tls ? "https://" : "", hp, client);
	if (pem == NULL && (!o->no_ca || o->ca_sha256 != NULL) &&
	    inst_fetch_ca(&o->cfg.url, NULL, o->ca_sha256, &pem, &pemlen, err,
		sizeof(err)) == -1)
		goto fail_early;
	/* an image's paths resolve inside it, its absolute links too (the
	 * proxy is done with: nothing after this needs this machine's
	 * files) */
	if (!in->is_live) {
		if (fsops_enter_root(o->root) == -1) {
			snprintf(err, sizeof(err), "--root: cannot make %s the "
			    "root directory: %s", o->root, strerror(errno));
			goto fail_early;
		}
		in->root = "/";
	}
	if (!o->no_ca) {
		struct ca_store s;

		if (ca_store_detect(in->root, &s, err, sizeof(err)) == -1)
			goto fail_early;
	}
	/* 2. changes, undone on failure */
	if (inst_load_manifest(in, err, sizeof(err)) == -1)
		goto fail_early;
	e = NULL;
	for (size_t i = 0; i < in->m->n; i++)
		if (in->m->e[i].kind == MANIFEST_SERVICE)
			e = &in->m->e[i];
	if (e != NULL)
		in->old_service = service_kind_parse(e->a);
	if (in->is_live) {
		in->table_was_there = rules_present() == 1;
		inst_old_rules(in);
	}
	if (inst_mkdirs(in, INSTALL_BACKUP_DIR, 0700, err, sizeof(err)) == -1 ||
	    inst_manifest_save(in, err, sizeof(err)) == -1 ||
	    inst_step_config(in, o, pem, pemlen, err, sizeof(err)) == -1)
		goto fail;
	printf("slicer-agent: config %s%s (0600)\n",
	    in->is_live ? "" : o->root, INSTALL_CONF_FILE);
	if (!o->no_ca &&
	    inst_step_ca(in, pem, pemlen, err, sizeof(err)) == -1)
		goto fail;
	if (!o->no_browser_policy &&
	    inst_step_browsers(in, o->no_ca ? NULL : pem, pemlen, err,
		sizeof(err)) == -1)
		goto fail;
	if (in->is_live && (inst_step_rules(in, &o->cfg, err, sizeof(err)) ==
				   -1 ||
			       inst_step_daemon(in, err, sizeof(err)) == -1))
		goto fail;
	if (!in->is_live)
		printf("slicer-agent: --root %s: no nftables table or daemon "
		       "(they belong to the running system)\n",
		    o->root);
	printf("slicer-agent: installed; undo with `slicer-agent proxy "
	       "uninstall%s%s`\n",
	    in->is_live ? "" : " --root ", in->is_live ? "" : o->root);
	rc = 0;
	goto out;
fail:
	inst_rollback(in);
	fprintf(stderr, "slicer-agent proxy install: %s\n"
			"slicer-agent: rolled back: nothing was installed\n",
	    err);
	goto out;
fail_early:
	fprintf(stderr, "slicer-agent proxy install: %s\n"
			"slicer-agent: nothing was changed\n",
	    err);
out:
	if (in != NULL)
		inst_free(in);
	free(in);
	if (o != NULL)
		memset(o, 0, sizeof(*o));
	free(o);
	free(pem);
	tlsc_ctx_free(tls);
	tlsc_ctx_free(probe);
	return rc;
}

/* ---------------------------------------------------------- uninstall */

static int
uninst_restore(const char *root, const char *rel, const char *brel,
    int *errors)
{
	char abs[FSOPS_PATH_MAX], babs[FSOPS_PATH_MAX], *data = NULL;
	size_t len;
	mode_t mode;

	if (fsops_join(root, rel, abs, sizeof(abs)) == -1)
		return -1;
	if (brel[0] == '\0') {
		if (unlink(abs) == -1 && errno != ENOENT) {
			fprintf(stderr, "slicer-agent: cannot remove %s: %s\n",
			    abs, strerror(errno));
			(*errors)++;
		}
		return 0;
	}
	if (fsops_join(root, brel, babs, sizeof(babs)) == -1 ||
	    fsops_read(babs, FSOPS_FILE_MAX, &data, &len, &mode) == -1 ||
	    fsops_write(abs, data, len, mode) == -1) {
		fprintf(stderr, "slicer-agent: cannot restore %s from %s: %s\n",
		    abs, babs, strerror(errno));
		(*errors)++;
		free(data);
		return -1;
	}
	free(data);
	return 0;
}

/* text without our marked blocks (CA bundle, environment); 1 when it had
 * one, 0 when not, -1 on error */
static int
uninst_strip_ours(const char *text, size_t len, char **out, size_t *outlen)
{
	static const char *const marks[][2] = {
	    {CA_BLOCK_BEGIN, CA_BLOCK_END}, {CA_ENV_BEGIN, CA_ENV_END}};
	char *cur, *next;
	size_t i, curlen, nextlen;

	cur = malloc(len + 1);
	if (cur == NULL)
		return -1;
	memcpy(cur, text, len);
	cur[len] = '\0';
	curlen = len;
	for (i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
		if (ca_strip_block(cur, curlen, marks[i][0], marks[i][1], &next,
			&nextlen) == -1) {
			free(cur);
			return -1;
		}
		free(cur);
		cur = next;
		curlen = nextlen;
	}
	*out = cur;
	*outlen = curlen;
	return curlen != len;
}

/*
 * A file install wrote: a file it added its marked block to loses that
 * block and keeps what else was changed since (a line an administrator
 * added); one unchanged since is restored from its backup byte for byte,
 * as is any other file install wrote (or removed when install made it).
 */
static void
uninst_file(const char *root, const char *rel, const char *brel, int *errors)
{
	char abs[FSOPS_PATH_MAX], babs[FSOPS_PATH_MAX];
	char *now = NULL, *kept = NULL, *then = NULL;
	size_t nowlen, keptlen, thenlen = 0;
	mode_t mode;
	int had, is_same;

	if (fsops_join(root, rel, abs, sizeof(abs)) == -1 ||
	    fsops_read(abs, FSOPS_FILE_MAX, &now, &nowlen, &mode) == -1 ||
	    (had = uninst_strip_ours(now, nowlen, &kept, &keptlen)) != 1) {
		free(now);
		free(kept);
		uninst_restore(root, rel, brel, errors);
		return;
	}
	if (brel[0] != '\0' && (fsops_join(root, brel, babs,
	    sizeof(babs)) == -1 || fsops_read(babs, FSOPS_FILE_MAX, &then,
	    &thenlen, NULL) == -1)) {
		free(now);
		free(kept);
		uninst_restore(root, rel, brel, errors); /* says why */
		return;
	}
	/* install put a newline before its block when the file lacked one */
	is_same = brel[0] != '\0' && (keptlen == thenlen ||
	    (keptlen == thenlen + 1 && kept[thenlen] == '\n')) &&
	    memcmp(kept, then, thenlen) == 0;
	if (is_same || (brel[0] == '\0' && strspn(kept, " \t\n") == keptlen))
		uninst_restore(root, rel, brel, errors);
	else if (fsops_write(abs, kept, keptlen, mode) == -1) {
		fprintf(stderr, "slicer-agent: cannot rewrite %s: %s\n", abs,
		    strerror(errno));
		(*errors)++;
	} else
		printf("slicer-agent: %s: our lines removed, the changes made "
		    "since install kept\n", abs);
	free(now);
	free(kept);
	free(then);
}

/*
 * A trust-store bundle a tool rewrote, after the tool ran again without
 * our CA: restored as it was before install, unless the tool's new one
 * holds every certificate of that and more (a CA added since install,
 * which restoring would drop).
 */
static void
uninst_snapshot(const char *root, const char *rel, const char *brel,
    int *errors)
{
	char abs[FSOPS_PATH_MAX], babs[FSOPS_PATH_MAX];
	char *now = NULL, *then = NULL;
	size_t nowlen, thenlen;
	int is_grown = 0;

	if (brel[0] != '\0' && fsops_join(root, rel, abs, sizeof(abs)) == 0 &&
	    fsops_join(root, brel, babs, sizeof(babs)) == 0 &&
	    fsops_read(abs, FSOPS_FILE_MAX, &now, &nowlen, NULL) == 0 &&
	    fsops_read(babs, FSOPS_FILE_MAX, &then, &thenlen, NULL) == 0)
		is_grown = ca_bundle_adds(then, thenlen, now, nowlen);
	free(now);
	free(then);
	if (is_grown)
		printf("slicer-agent: %s: kept as the tool made it (it holds "
		    "certificates added since install)\n", abs);
	else
		uninst_restore(root, rel, brel, errors);
}

static const char uninstall_usage[] =
    "usage: slicer-agent proxy uninstall [--root DIR]\n";

static int
uninst_root(int argc, char **argv, const char **root)
{
	static const struct option longopts[] = {
	    {"root", required_argument, NULL, 'r'},
	    {NULL, 0, NULL, 0},
	};
	int ch;

	*root = "/";
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (ch != 'r')
			return -1;
		*root = optarg;
	}
	if (optind < argc || (*root)[0] != '/' || !fsops_is_dir(*root))
		return -1;
	return 0;
}

int
install_uninstall_main(int argc, char **argv)
{
	char abs[FSOPS_PATH_MAX], err[512], *text = NULL;
	struct manifest *m = NULL;
	struct nft_error nerr;
	const char *root;
	size_t len, i;
	int errors = 0, is_live, rc = 1;

	if (uninst_root(argc, argv, &root) == -1) {
		fputs(uninstall_usage, stderr);
		return 1;
	}
	is_live = strcmp(root, "/") == 0;
	if (!is_live) {
		/* as install: the image's links resolve inside it */
		if (fsops_enter_root(root) == -1) {
			fprintf(stderr, "slicer-agent: --root: cannot make %s "
			    "the root directory: %s\n", root, strerror(errno));
			return 1;
		}
		root = "/";
	}
	m = calloc(1, sizeof(*m));
	if (m == NULL || fsops_join(root, INSTALL_MANIFEST, abs,
			     sizeof(abs)) == -1)
		goto out;
	if (fsops_read(abs, MANIFEST_TEXT_MAX, &text, &len, NULL) == -1) {
		if (errno != ENOENT) {
			fprintf(stderr, "slicer-agent: cannot read %s: %s\n",
			    abs, strerror(errno));
			goto out;
		}
		/* nothing recorded; only a daemon or table of ours */
		if (is_live) {
			service_stop(SERVICE_DETACHED, err, sizeof(err));
			if (nft_table_get(NFPROTO_INET, RULES_TABLE, err,
				sizeof(err)) == 0 &&
			    strcmp(err, RULES_COMMENT) == 0)
				rules_remove(&nerr);
		}
		printf("slicer-agent: not installed (no %s): nothing to do\n",
		    abs);
		rc = 0;
		goto out;
	}
	if (manifest_parse(text, len, m, err, sizeof(err)) == -1) {
		fprintf(stderr, "slicer-agent: %s: %s\n", abs, err);
		goto out;
	}
	/* 1. the daemon, 2. the table: before the files they read */
	for (i = 0; i < m->n; i++) {
		if (m->e[i].kind != MANIFEST_SERVICE || !is_live)
			continue;
		if (service_stop(service_kind_parse(m->e[i].a), err,
			sizeof(err)) == -1) {
			fprintf(stderr, "slicer-agent: %s\n", err);
			errors++;
		} else {
			printf("slicer-agent: daemon stopped (%s)\n",
			    m->e[i].a);
		}
	}
	if (is_live)
		service_stop(SERVICE_DETACHED, err, sizeof(err));
	for (i = 0; i < m->n; i++) {
		if (m->e[i].kind != MANIFEST_TABLE || !is_live)
			continue;
		if (rules_remove(&nerr) == -1) {
			fprintf(stderr, "slicer-agent: nftables: %s\n",
			    nft_error_format(&nerr, err, sizeof(err)));
			errors++;
		} else {
			printf("slicer-agent: table inet %s removed\n",
			    RULES_TABLE);
		}
	}
	/* 3. files we wrote, newest first; Firefox's policy file, which
	 * holds every policy, only when no one changed it since */
	for (i = m->n; i-- > 0;) {
		char f[FSOPS_PATH_MAX];

		if (m->e[i].kind != MANIFEST_FILE)
			continue;
		if (strcmp(m->e[i].a, INSTALL_FIREFOX_POLICY) == 0 &&
		    fsops_join(root, m->e[i].a, f, sizeof(f)) == 0 &&
		    access(f, F_OK) == 0 && !firefox_policy_is_ours(f)) {
			printf("slicer-agent: %s changed since install: kept "
			       "(the CA named in it is gone)\n", f);
			continue;
		}
		uninst_file(root, m->e[i].a, m->e[i].b, &errors);
	}
	/* 4. the trust store tools, now without our CA */
	for (i = 0; i < m->n; i++) {
		if (m->e[i].kind != MANIFEST_TOOL)
			continue;
		if (inst_run_tool(root, m->e[i].a,
			m->e[i].b[0] ? m->e[i].b : NULL, err,
			sizeof(err)) == -1) {
			fprintf(stderr, "slicer-agent: %s\n", err);
			errors++;
		}
	}
	/* 5. what the tools rewrote, as it was (or as they made it again) */
	for (i = m->n; i-- > 0;)
		if (m->e[i].kind == MANIFEST_SNAPSHOT)
			uninst_snapshot(root, m->e[i].a, m->e[i].b, &errors);
	printf("slicer-agent: files restored (CA, environment, config)\n");
	/* 6. backups and the manifest, 7. directories we created */
	for (i = 0; i < m->n; i++) {
		char b[FSOPS_PATH_MAX];

		if ((m->e[i].kind == MANIFEST_FILE ||
			m->e[i].kind == MANIFEST_SNAPSHOT) &&
		    m->e[i].b[0] != '\0' &&
		    fsops_join(root, m->e[i].b, b, sizeof(b)) == 0)
			unlink(b);
	}
	if (errors == 0 && unlink(abs) == -1) {
		fprintf(stderr, "slicer-agent: cannot remove %s: %s\n", abs,
		    strerror(errno));
		errors++;
	}
	for (i = m->n; errors == 0 && i-- > 0;) {
		char d[FSOPS_PATH_MAX];

		if (m->e[i].kind != MANIFEST_DIR ||
		    fsops_join(root, m->e[i].a, d, sizeof(d)) == -1)
			continue;
		if (rmdir(d) == -1 && errno != ENOENT)
			fprintf(stderr,
			    "slicer-agent: note: left %s (%s)\n", d,
			    strerror(errno));
	}
	if (errors > 0) {
		fprintf(stderr, "slicer-agent: uninstall incomplete (%d "
				"errors); the manifest %s is kept\n",
		    errors, abs);
		goto out;
	}
	printf("slicer-agent: uninstalled\n");
	rc = 0;
out:
	free(text);
	free(m);
	return rc;
}

/* ------------------------------------------------------------- status */

int
install_status_main(int argc, char **argv)
{
	char abs[FSOPS_PATH_MAX], msg[512], counters[1024], client[128];
	char hp[80], *text = NULL, *ca = NULL;
	struct agentcfg *c;
	struct tlsc_ctx *tls = NULL;
	size_t len, calen;
	pid_t pid;
	int bad = 0, st;

	(void)argv;
	if (argc > 1) {
		fputs("usage: slicer-agent proxy status\n", stderr);
		return 1;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return 1;
	snprintf(abs, sizeof(abs), "%s", INSTALL_CONF_FILE);
	if (fsops_read(abs, AGENTCFG_FILE_MAX, &text, &len, NULL) == -1 ||
	    agentcfg_parse(text, len, c, msg, sizeof(msg)) == -1) {
		printf("config:  %s missing or invalid: not installed\n", abs);
		bad++;
	}
	st = rules_present();
	printf("rules:   table inet %s %s\n", RULES_TABLE,
	    st == 1 ? "present" : st == 0 ? "MISSING" : "unknown (nftables?)");
	if (st != 1)
		bad++;
	pid = service_running_pid();
	if (agentd_query(counters, sizeof(counters)) == 0) {
		char *p, *dns = strstr(counters, "dns_stub=");
		char sched[32] = "";

		p = strstr(counters, "\nsched=");
		if (p != NULL)
			snprintf(sched, sizeof(sched), "%.*s",
			    (int)strcspn(p + 7, "\n"), p + 7);
		printf("daemon:  running");
		if (pid)
			printf(" (pid %d%s%s)", (int)pid, sched[0] ? ", sched " :
			    "", sched);
		else if (sched[0])
			printf(" (sched %s)", sched);
		printf("\n");
		if (dns != NULL) {
			dns += 9;
			dns[strcspn(dns, "\n")] = '\0';
			printf("stub:    DNS stub %s\n",
			    strcmp(dns, "running") == 0 ? "running"
			    : strcmp(dns, "not-built") == 0
				? "not built (DNS is refused like other UDP)"
				: "FAILED (DNS is refused)");
			if (strcmp(dns, "failed") == 0)
				bad++;
			dns[strlen(dns)] = '\n';
		}
		printf("counts: ");
		for (p = strtok(counters, "\n"); p != NULL;
		     p = strtok(NULL, "\n"))
			if (strncmp(p, "pid=", 4) != 0 &&
			    strncmp(p, "sched=", 6) != 0 &&
			    strncmp(p, "dns_stub=", 9) != 0)
				printf(" %s", p);
		printf("\n");
	} else {
		printf("daemon:  NOT RUNNING (%s)\n", strerror(errno));
		bad++;
	}
	if (c->url.addr.family != 0) {
		agentcfg_url_hostport(&c->url, hp, sizeof(hp));
		if (c->url.is_tls && c->ca_path[0] != '\0' &&
		    fsops_read(c->ca_path, FSOPS_FILE_MAX, &ca, &calen, NULL) ==
			0)
			tls = tlsc_ctx_new(ca, calen, msg, sizeof(msg));
		if (c->url.is_tls && tls == NULL) {
			printf("proxy:   %s: no TLS context (%s)\n", hp, msg);
			bad++;
		} else if (inst_whoami(&c->url, tls, client, sizeof(client),
			       msg, sizeof(msg)) == -1) {
			printf("proxy:   %s: FAILED: %s\n", hp, msg);
			bad++;
		} else {
			printf("proxy:   %s ok (client %s)\n", hp, client);
		}
	}
	printf("status:  %s\n", bad ? "NOT HEALTHY" : "healthy");
	if (text != NULL)
		memset(text, 0, len);
	free(text);
	free(ca);
	tlsc_ctx_free(tls);
	memset(c, 0, sizeof(*c));
	free(c);
	return bad ? 1 : 0;
}
