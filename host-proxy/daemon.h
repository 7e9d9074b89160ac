/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon.h - `slicer-proxy up`.
 */
#ifndef SLICER_DAEMON_H
#define SLICER_DAEMON_H

/* argv[0] is "up".  Returns the exit status. */
int daemon_main(int argc, char **argv);

#endif
