/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * file.h - writing the files the daemon keeps (state, secrets, CA): whole
 * writes and atomic replacement that survives a crash at any point.
 */
#ifndef SLICER_FILE_H
#define SLICER_FILE_H

#include <stddef.h>
#include <sys/types.h>

/* Write all of data to fd, retrying after EINTR.  0, or -1 with errno. */
int file_write_all(int fd, const void *data, size_t len);

/*
 * Replace name in the directory dfd atomically: tmp (a stale one is
 * removed first; created exclusively, never through a symlink) gets data
 * and mode, is fsynced and renamed over name, then dfd is fsynced.  A
 * failure leaves name as it was and removes tmp.  where names the
 * directory in messages.  0, or -1 with err set.
 */
int file_write_atomic(int dfd, const char *where, const char *name,
    const char *tmp, const void *data, size_t len, mode_t mode, char *err,
    size_t errsz);

#endif
