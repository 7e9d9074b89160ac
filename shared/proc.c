/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proc.c - child processes (see proc.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proc.h"

pid_t
proc_fork_piped(int pfd[2], char *err, size_t errsz)
{
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) == -1) {
		snprintf(err, errsz, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		snprintf(err, errsz, "fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		pfd[0] = pfd[1] = -1;
	}
	return pid;
}
