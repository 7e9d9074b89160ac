/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * privs.c - drop root (see privs.h).  The capability check is made with
 * the raw capget system call so neither program needs libcap.
 */
#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "privs.h"

/* Does the process hold any capability, permitted or effective?  1, 0,
 * or -1 when it cannot tell. */
static int
privs_has_caps(void)
{
	struct __user_cap_header_struct hdr;
	struct __user_cap_data_struct data[2];

	memset(&hdr, 0, sizeof(hdr));
	memset(data, 0, sizeof(data));
	hdr.version = _LINUX_CAPABILITY_VERSION_3;
	hdr.pid = 0;
	if (syscall(SYS_capget, &hdr, data) == -1)
		return -1;
	return (data[0].permitted | data[0].effective | data[1].permitted |
	    data[1].effective) != 0;
}

int
privs_drop(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (uid == 0 || gid == 0) {
		errno = EINVAL;
		return -1;
	}
	if (setgroups(1, &gid) == -1)
		return -1;
	if (setresgid(gid, gid, gid) == -1)
		return -1;
	(void)prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	if (setresuid(uid, uid, uid) == -1)
		return -1;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return -1;
	/* the uid change left dumpable at fs.suid_dumpable: set it again */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		return -1;
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		return -1;
	if (ru == 0 || eu == 0 || su == 0 || rg == 0 || eg == 0 || sg == 0 ||
	    privs_has_caps() != 0) {
		errno = EPERM;
		return -1;
	}
	/* a regained root must be impossible */
	if (setuid(0) == 0) {
		errno = EPERM;
		return -1;
	}
	return 0;
}
