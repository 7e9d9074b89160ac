/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * proc.h - child processes.
 */
#ifndef SLICER_PROC_H
#define SLICER_PROC_H

#include <stddef.h>
#include <sys/types.h>

/*
 * A pipe (both ends close-on-exec) and a fork.  Returns the child's pid in
 * the parent and 0 in the child, each with both ends in pfd (each side
 * closes the end it does not use), or -1 with a message in err and nothing
 * left open.
 */
pid_t proc_fork_piped(int pfd[2], char *err, size_t errsz);

#endif
