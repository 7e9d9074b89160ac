/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cli.h - operator commands, a thin client of the control API.
 */
#ifndef SLICER_CLI_H
#define SLICER_CLI_H

/* argv[0] is the command ("client", "allow", ...).  Returns exit status. */
int cli_main(int argc, char **argv);

#endif
