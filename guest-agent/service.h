/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * service.h - running `slicer-agent proxy run`: under systemd (Type=notify
 * unit), under OpenRC (supervise-daemon), or detached (double fork,
 * setsid, pid file in /run/slicer-agent) when there is no init system
 * to ask.  Only for the running system (root "/").
 */
#ifndef SLICER_SERVICE_H
#define SLICER_SERVICE_H

#include <stddef.h>
#include <sys/types.h>

#define SERVICE_NAME "slicer-agent"
/* The binary path the unit and the OpenRC script name. */
#define SERVICE_DEFAULT_BIN "/usr/local/bin/slicer-agent"
/* How long a start waits for the daemon to say it is up. */
#define SERVICE_READY_MS 10000

enum service_kind {
	SERVICE_DETACHED = 1,
	SERVICE_SYSTEMD,
	SERVICE_OPENRC,
};

/* Which init system runs this machine: systemd when /run/systemd/system
 * is a directory, OpenRC when /run/openrc is and openrc-run exists,
 * detached otherwise. */
enum service_kind service_detect(void);
const char *service_kind_name(enum service_kind k);
/* Parse a name back; 0 when unknown. */
enum service_kind service_kind_parse(const char *s);

/* The unit (SERVICE_SYSTEMD) or OpenRC script (SERVICE_OPENRC) text
 * with SERVICE_DEFAULT_BIN, as shipped in rootfs-hooks/. */
const char *service_unit_template(int kind);
/* The same with the binary path replaced by exe; malloc'd. */
char *service_unit_text(int kind, const char *exe);

/* The detached daemon's pid when one runs (pid file and /proc agree:
 * its command line is "... proxy run"), else 0. */
pid_t service_running_pid(void);

/*
 * Start the daemon: systemd (daemon-reload, enable, restart), OpenRC
 * (rc-update add, restart) or detached (stop an old one, double fork,
 * exec exe "proxy run", wait for it to say ready).  0, or -1 with a
 * message (the daemon's own error when it said one).
 */
int service_start(enum service_kind k, const char *exe, char *err,
    size_t errsz);
/* Stop (and for systemd/OpenRC disable) the daemon.  0 or -1. */
int service_stop(enum service_kind k, char *err, size_t errsz);

#endif
