/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * install.h - `slicer-agent proxy install | uninstall | status`.
 *
 * install checks the proxy and the token first and changes nothing when
 * either is wrong.  Then every change is made through one place that
 * remembers, for this run, what was there before (to roll back on a
 * failure part-way), and records in the manifest what uninstall must
 * undo (with a backup of every file it replaced).  Running it again
 * leaves the same state; the backups of the originals are kept.
 */
#ifndef SLICER_INSTALL_H
#define SLICER_INSTALL_H

/* Paths inside the root. */
#define INSTALL_STATE_DIR "/var/lib/slicer-agent"
#define INSTALL_BACKUP_DIR INSTALL_STATE_DIR "/backup"
#define INSTALL_MANIFEST INSTALL_STATE_DIR "/manifest"
#define INSTALL_CONF_DIR "/etc/slicer-agent"
#define INSTALL_CONF_FILE INSTALL_CONF_DIR "/agent.conf"
#define INSTALL_CA_FILE INSTALL_CONF_DIR "/ca.pem"
#define INSTALL_ENV_FILE "/etc/environment"
#define INSTALL_PROFILE_DIR "/etc/profile.d"
#define INSTALL_PROFILE INSTALL_PROFILE_DIR "/slicer-agent.sh"
/* Debian's Firefox ESR reads every file in its preferences directory;
 * Firefox's enterprise policy is one file. */
#define INSTALL_FIREFOX_PREFS_DIR "/etc/firefox-esr"
#define INSTALL_FIREFOX_PREFS INSTALL_FIREFOX_PREFS_DIR "/slicer-agent.js"
#define INSTALL_FIREFOX_POLICY "/etc/firefox/policies/policies.json"
#define INSTALL_UNIT "/etc/systemd/system/slicer-agent.service"
#define INSTALL_OPENRC "/etc/init.d/slicer-agent"
/* How long install waits for the daemon to say it is up. */
#define INSTALL_READY_MS 10000

int install_main(int argc, char **argv);
int install_uninstall_main(int argc, char **argv);
int install_status_main(int argc, char **argv);

#endif
