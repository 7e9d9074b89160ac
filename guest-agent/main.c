/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * main.c - slicer-agent: the subcommand table and its dispatch.
 *
 *   slicer-agent proxy install [--proxy URL] [--ca-sha256 HEX]
 *                      [--bypass CIDR]... [--allow-udp PORT]... [--no-ca]
 *                      [--no-browser-policy] [--sched batch|normal]
 *                      [--root DIR]
 *   slicer-agent proxy uninstall [--root DIR] | status | run
 *   slicer-agent rules apply --uplink IF --proxy ADDR:PORT
 *                      [--bypass CIDR]... [--allow-udp PORT]...
 *                      [--redirect-port N] [--dns-port N]
 *   slicer-agent rules remove | status
 *
 * `rules` is a developer command to install and test the ruleset on its
 * own.  Misuse prints usage to stderr and exits 1; --help or -h anywhere
 * prints it to stdout and exits 0.
 * The agent never resolves names or looks up users (no NSS): it must
 * run as a fully static binary in any guest.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "agentd.h"
#include "install.h"
#include "link.h"
#include "netaddr.h"
#include "nft.h"
#include "parse.h"
#include "rules.h"

struct agent_cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static int agent_proxy(int argc, char **argv);
static int agent_rules(int argc, char **argv);
static int agent_help(int argc, char **argv);

static const struct agent_cmd agent_cmds[] = {
    {"proxy", agent_proxy,
	"proxy install [--proxy URL] [--ca-sha256 HEX] [--bypass CIDR]...\n"
	"        [--allow-udp PORT]... [--no-ca] [--no-browser-policy]\n"
	"        [--sched batch|normal] [--root DIR]\n"
	"                                      set up the transparent proxy\n"
	"  proxy uninstall [--root DIR]        undo everything install did\n"
	"  proxy status                        rules, daemon, stub, proxy\n"
	"  proxy run [--config PATH] [-v]      the daemon (install starts it)"},
    {"rules", agent_rules,
	"rules apply --uplink IF --proxy ADDR:PORT [--bypass CIDR]... "
	"[--allow-udp PORT]...\n"
	"        [--redirect-port N] [--dns-port N]\n"
	"                                      install the nftables table "
	"inet " RULES_TABLE "\n"
	"  rules remove | status               remove it / say whether it "
	"is there"},
    {"help", agent_help, "help                                this text"},
};

#define AGENT_NCMDS (sizeof(agent_cmds) / sizeof(agent_cmds[0]))

static void
agent_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: slicer-agent COMMAND ...\n");
	for (i = 0; i < AGENT_NCMDS; i++)
		fprintf(f, "  %s\n", agent_cmds[i].help);
}

static int
agent_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	agent_usage(stdout);
	return 0;
}

static int
agent_proxy(int argc, char **argv)
{
	static const char usage[] =
	    "usage: slicer-agent proxy install|uninstall|status|run ...\n";

	if (argc < 2) {
		fputs(usage, stderr);
		return 1;
	}
	if (strcmp(argv[1], "install") == 0)
		return install_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "uninstall") == 0)
		return install_uninstall_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "status") == 0)
		return install_status_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") == 0)
		return agentd_main(argc - 1, argv + 1);
	fprintf(stderr, "slicer-agent proxy: unknown command: '%s'\n%s",
	    argv[1], usage);
	return 1;
}

/* "192.168.222.1:3128", "[fd00::1]:3128"; no port means 3128. */
static int
agent_parse_proxy(const char *s, struct rules_proxy *p)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL, *end;
	size_t len;

	memset(p, 0, sizeof(*p));
	p->port = RULES_DEFAULT_PROXY_PORT;
	if (s[0] == '[') {
		end = strchr(s, ']');
		if (end == NULL || (end[1] != '\0' && end[1] != ':'))
			return -1;
		len = (size_t)(end - s - 1);
		if (end[1] == ':')
			port = end + 2;
		s++;
	} else {
		end = strchr(s, ':');
		if (end != NULL && strchr(end + 1, ':') != NULL)
			return -1; /* bare IPv6 with a port is ambiguous */
		len = end ? (size_t)(end - s) : strlen(s);
		if (end != NULL)
			port = end + 1;
	}
	if (len == 0 || len >= sizeof(host))
		return -1;
	memcpy(host, s, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, &p->addr.u.v4) == 1)
		p->addr.family = AF_INET;
	else if (inet_pton(AF_INET6, host, &p->addr.u.v6) == 1)
		p->addr.family = AF_INET6;
	else
		return -1;
	if (port != NULL && parse_port(port, &p->port) == -1)
		return -1;
	return 0;
}

static const char agent_rules_usage[] =
    "usage: slicer-agent rules apply --uplink IF --proxy ADDR:PORT "
    "[--bypass CIDR]... [--allow-udp PORT]...\n"
    "                          [--redirect-port N] [--dns-port N]\n"
    "       slicer-agent rules remove | status\n";

static int
agent_bad(char *err, size_t errlen, const char *what, const char *arg)
{
	snprintf(err, errlen, "invalid %s: '%s'", what, arg);
	return -1;
}

static int
agent_many(char *err, size_t errlen, const char *opt, int max)
{
	snprintf(err, errlen, "too many %s (at most %d)", opt, max);
	return -1;
}

/* One option of `rules apply` into c; 0, or -1 with a message in err. */
static int
agent_rules_option(
    struct rules_config *c, int ch, const char *arg, char *err, size_t errlen)
{
	switch (ch) {
	case 'u':
		if (!link_name_valid(arg))
			return agent_bad(err, errlen, "interface name", arg);
		snprintf(c->uplink, sizeof(c->uplink), "%s", arg);
		break;
	case 'p':
		if (c->n_proxies == RULES_MAX_PROXIES)
			return agent_many(
			    err, errlen, "--proxy", RULES_MAX_PROXIES);
		if (agent_parse_proxy(arg, &c->proxies[c->n_proxies]) == -1)
			return agent_bad(err, errlen, "proxy address", arg);
		c->n_proxies++;
		break;
	case 'b':
		if (c->n_bypass == RULES_MAX_BYPASS)
			return agent_many(
			    err, errlen, "--bypass", RULES_MAX_BYPASS);
		if (netaddr_parse_cidr(arg, &c->bypass[c->n_bypass]) == -1)
			return agent_bad(err, errlen, "CIDR", arg);
		c->n_bypass++;
		break;
	case 'a':
		if (c->n_allow_udp == RULES_MAX_UDP)
			return agent_many(
			    err, errlen, "--allow-udp", RULES_MAX_UDP);
		if (parse_port(arg, &c->allow_udp[c->n_allow_udp]) == -1)
			return agent_bad(err, errlen, "port", arg);
		c->n_allow_udp++;
		break;
	case 'r':
		if (parse_port(arg, &c->redirect_port) == -1)
			return agent_bad(err, errlen, "port", arg);
		break;
	case 'd':
		if (parse_port(arg, &c->dns_port) == -1)
			return agent_bad(err, errlen, "port", arg);
		break;
	default:
		return agent_bad(err, errlen, "option", arg);
	}
	return 0;
}

static int
agent_rules_apply(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"uplink", required_argument, NULL, 'u'},
	    {"proxy", required_argument, NULL, 'p'},
	    {"bypass", required_argument, NULL, 'b'},
	    {"allow-udp", required_argument, NULL, 'a'},
	    {"redirect-port", required_argument, NULL, 'r'},
	    {"dns-port", required_argument, NULL, 'd'},
	    {NULL, 0, NULL, 0},
	};
	struct rules_config *c;
	struct nft_error err;
	char msg[512];
	int ch, rc = 1;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		fprintf(stderr, "slicer-agent: out of memory\n");
		return 1;
	}
	rules_config_init(c);
	optind = 0; /* full reset */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		if (ch == ':' || ch == '?') {
			snprintf(msg, sizeof(msg), "%s: '%.*s'",
			    ch == ':' ? "option needs a value"
				      : "unknown option",
			    (int)strcspn(argv[optind - 1], "="),
			    argv[optind - 1]);
			goto usage;
		}
		if (agent_rules_option(c, ch, optarg, msg, sizeof(msg)) == -1)
			goto usage;
	}
	if (optind < argc) {
		snprintf(msg, sizeof(msg), "unexpected argument: '%s'",
		    argv[optind]);
		goto usage;
	}
	if (c->uplink[0] == '\0' || c->n_proxies == 0) {
		snprintf(msg, sizeof(msg), "%s is required",
		    c->uplink[0] == '\0' ? "--uplink IF" : "--proxy ADDR:PORT");
		goto usage;
	}
	if (rules_config_check(c, msg, sizeof(msg)) == -1)
		goto usage;
	if (rules_apply(c, &err) == -1) {
		fprintf(stderr, "slicer-agent rules apply: %s\n",
		    nft_error_format(&err, msg, sizeof(msg)));
		goto out;
	}
	if (link_exists(c->uplink) == 0)
		fprintf(stderr,
		    "slicer-agent: note: uplink %s does not exist\n",
		    c->uplink);
	rc = 0;
	goto out;
usage:
	fprintf(
	    stderr, "slicer-agent rules apply: %s\n%s", msg, agent_rules_usage);
out:
	free(c);
	return rc;
}

static int
agent_rules(int argc, char **argv)
{
	struct nft_error err;
	char msg[512];
	int st;

	if (argc < 2) {
		fputs(agent_rules_usage, stderr);
		return 1;
	}
	if (strcmp(argv[1], "apply") == 0)
		return agent_rules_apply(argc - 1, argv + 1);
	if (argc != 2) {
		fputs(agent_rules_usage, stderr);
		return 1;
	}
	if (strcmp(argv[1], "remove") == 0) {
		if (rules_remove(&err) == -1) {
			fprintf(stderr, "slicer-agent rules remove: %s\n",
			    nft_error_format(&err, msg, sizeof(msg)));
			return 1;
		}
		return 0;
	}
	if (strcmp(argv[1], "status") == 0) {
		st = rules_present();
		if (st == -1) {
			fprintf(stderr, "slicer-agent rules status: %s\n",
			    strerror(errno));
			return 1;
		}
		printf("table inet %s: %s\n", RULES_TABLE,
		    st ? "present" : "absent");
		return st ? 0 : 3;
	}
	fprintf(stderr, "slicer-agent rules: unknown command: '%s'\n%s",
	    argv[1], agent_rules_usage);
	return 1;
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		agent_usage(stderr);
		return 1;
	}
	/* --help or -h anywhere: no value the agent takes is spelled so */
	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			agent_usage(stdout);
			return 0;
		}
	}
	for (i = 0; i < AGENT_NCMDS; i++)
		if (strcmp(argv[1], agent_cmds[i].name) == 0)
			return agent_cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "slicer-agent: unknown command: '%s'\n", argv[1]);
	agent_usage(stderr);
	return 1;
}
