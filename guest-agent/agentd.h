/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agentd.h - `slicer-agent proxy run`: the daemon.  Reads the config
 * install wrote, (re)applies the nftables table, runs the redirector and
 * the DNS stub on one event loop, puts the table back when something
 * deletes it, answers `status` on a unix socket, and reports readiness
 * (a pipe from install, or systemd's NOTIFY_SOCKET).  On SIGTERM it
 * exits and leaves the table: clients are refused until it is back.
 */
#ifndef SLICER_AGENTD_H
#define SLICER_AGENTD_H

#include <stddef.h>

/* Run-time files (not under --root: they belong to the running system). */
#define AGENTD_RUN_DIR "/run/slicer-agent"
#define AGENTD_PID_FILE AGENTD_RUN_DIR "/agent.pid"
#define AGENTD_STATUS_SOCK AGENTD_RUN_DIR "/status.sock"
#define AGENTD_LOG_FILE AGENTD_RUN_DIR "/agent.log"
/* Default config file. */
#define AGENTD_CONFIG "/etc/slicer-agent/agent.conf"
/* Put the table back no more often than this. */
#define AGENTD_REAPPLY_MIN_MS 1000
/* Look for the table even without a change event this often. */
#define AGENTD_CHECK_MS 30000

/* `proxy run [--config PATH] [--notify-fd N] [-v]...`: exit status. */
int agentd_main(int argc, char **argv);

/*
 * Ask the running daemon for its counters (the status socket).  The
 * text ("key=value" lines) goes to buf.  0, or -1 with errno (ENOENT /
 * ECONNREFUSED: not running).
 */
int agentd_query(char *buf, size_t size);

#endif
