/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.c - slicer-proxy: subcommand table.
 *
 *   up                         run the daemon (daemon.c)
 *   client|allow|revoke|rule|secret|logs   operator commands (cli.c)
 *   isolate                    host-side nftables isolation (isolate.c)
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "daemon.h"
#include "isolate.h"

struct main_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct main_cmd main_cmds[] = {
	{ "up", daemon_main, "run the proxy daemon" },
	{ "client", cli_main, "create, list or delete clients" },
	{ "allow", cli_main, "add an allow rule for a client" },
	{ "revoke", cli_main, "remove allow rules" },
	{ "rule", cli_main, "list a client's rules" },
	{ "secret", cli_main, "create, list or delete secrets" },
	{ "logs", cli_main, "print or follow the audit log" },
	{ "ca", cli_main, "print the proxy's CA certificate (PEM)" },
	{ "isolate", isolate_main, "host nftables: let a VM reach only the proxy" },
};

static void
main_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: slicer-proxy COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		fprintf(f, "  %-8s %s\n", main_cmds[i].name, main_cmds[i].help);
	fprintf(f, "\n`slicer-proxy COMMAND --help` for a command's options.\n");
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		main_usage(stderr);
		return 1;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		main_usage(stdout);
		return 0;
	}
	for (i = 0; i < sizeof(main_cmds) / sizeof(main_cmds[0]); i++)
		if (strcmp(argv[1], main_cmds[i].name) == 0)
			return main_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "slicer-proxy: unknown command '%s'\n", argv[1]);
	main_usage(stderr);
	return 1;
}
