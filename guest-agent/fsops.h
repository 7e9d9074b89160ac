/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * fsops.h - the file system work of install/uninstall, relative to a root
 * directory ("/" or --root DIR): read a whole file, write one atomically,
 * find a tool, run it (chrooted into the root when that is not "/").
 */
#ifndef SLICER_FSOPS_H
#define SLICER_FSOPS_H

#include <stddef.h>
#include <sys/types.h>

/* Largest file install reads or writes whole (a CA bundle is ~200 KiB;
 * a Java keystore ~200 KiB). */
#define FSOPS_FILE_MAX (8 * 1024 * 1024)
/* A trust store tool must finish within this (Debian's runs Java). */
#define FSOPS_RUN_TIMEOUT_MS 180000
#define FSOPS_PATH_MAX 512

/* root + "/" + rel (rel starts with '/').  0, or -1 (ENAMETOOLONG). */
int fsops_join(const char *root, const char *rel, char *out, size_t size);

/*
 * Read a regular file whole (at most max bytes) into a new buffer with a
 * NUL after the data.  mode (may be NULL) gets its permission bits.
 * Returns 0, or -1 with errno (ENOENT, EFBIG past max, EISDIR...).
 */
int fsops_read(const char *path, size_t max, char **data, size_t *len,
    mode_t *mode);

/* Write atomically: a temporary file beside path, fsync, rename; mode
 * set exactly (umask ignored).  0, or -1 with errno. */
int fsops_write(const char *path, const void *data, size_t len, mode_t mode);

/* 1 when path is a regular file (not following a final symlink), a
 * directory, or exists at all; 0 otherwise. */
int fsops_is_file(const char *path);
int fsops_is_dir(const char *path);
int fsops_exists(const char *path);

/* The first of /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin,
 * /sbin, /bin holding an executable name under root, as a path inside
 * the root ("/usr/sbin/update-ca-certificates").  0, or -1 (ENOENT). */
int fsops_find_tool(const char *root, const char *name, char *out, size_t size);

/*
 * Run argv[0] (a path inside root) with a fixed PATH, stdin from
 * /dev/null, stdout and stderr captured into out (truncated, NUL
 * terminated; out may be NULL), chrooted into root when root is not "/".
 * Killed after FSOPS_RUN_TIMEOUT_MS.  Returns the exit status (0..255),
 * or -1 with errno when it could not run or was killed.
 */
int fsops_run(const char *root, const char *const argv[], char *out,
    size_t outsz);

/*
 * Make root this process's root directory (chroot, then chdir "/"), so
 * that every path install and uninstall touch afterwards resolves inside
 * it, symbolic links included: an image's absolute link (/etc/opt ->
 * /srv/opt) then leads to the image's /srv/opt, never this machine's.
 * /dev/null is opened first for the tools run later.  0, or -1 with
 * errno.
 */
int fsops_enter_root(const char *root);

#endif
