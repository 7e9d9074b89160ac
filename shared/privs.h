/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * privs.h - drop root after the privileged set-up is done.
 */
#ifndef SLICER_PRIVS_H
#define SLICER_PRIVS_H

#include <sys/types.h>

/*
 * Become uid/gid for good: setgroups (only gid), setresgid, setresuid,
 * PR_SET_NO_NEW_PRIVS, not dumpable (no core file, no ptrace by that
 * user), then verify with getresuid/getresgid that no id is 0 any more
 * and with capget that no capability is left.  Returns 0, or -1 with
 * errno; on -1 the process must not go on.
 */
int privs_drop(uid_t uid, gid_t gid);

#endif
