/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_isolate.c - `slicer-proxy isolate`.
 *
 * Pure: option parsing (defaults, limits at and past, every misuse), the
 * batches parsed back.  Kernel (root, own network namespace; skipped
 * otherwise): two interfaces isolated, one removed, the other untouched;
 * re-isolating replaces; a foreign table of the same name is refused;
 * --remove alone removes the table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "isolate.h"
#include "nft.h"

static int has_netns;

/* Parse a space-separated command line. */
static int
parse(const char *line, struct isolate_opts *o, char *err, size_t errlen)
{
	char buf[1024], *argv[64], *save = NULL, *tok;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (tok = strtok_r(buf, " ", &save); tok != NULL && argc < 63;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return isolate_parse_args(argc, argv, o, err, errlen);
}

static void
test_parse_cases(void **state)
{
	static const struct {
		const char *line;
		int rc;
		enum isolate_action action;
		const char *err; /* substring of the message */
	} cases[] = {
	    {"isolate --iface eth0", 0, ISOLATE_ADD, NULL},
	    {"isolate --netns vm1", 0, ISOLATE_ADD, NULL},
	    {"isolate --list", 0, ISOLATE_LIST, NULL},
	    {"isolate --remove", 0, ISOLATE_REMOVE_ALL, NULL},
	    {"isolate --remove --iface eth0", 0, ISOLATE_REMOVE, NULL},
	    {"isolate --remove --netns vm1", 0, ISOLATE_REMOVE, NULL},
	    {"isolate --help", 1, ISOLATE_ADD, NULL},
	    {"isolate", -1, 0, "is needed"},
	    {"isolate --iface", -1, 0, "needs a value"},
	    {"isolate --iface a/b", -1, 0, "'a/b'"},
	    {"isolate --iface abcdefghijklmnop", -1, 0,
		"invalid interface name"},
	    {"isolate --iface eth0 --iface eth1", -1, 0, "one --iface"},
	    {"isolate --iface eth0 --netns vm", -1, 0, "one --iface"},
	    {"isolate --iface eth0 --port 0", -1, 0, "invalid port: '0'"},
	    {"isolate --iface eth0 --port 70000", -1, 0, "'70000'"},
	    {"isolate --iface eth0 --port 3128x", -1, 0, "'3128x'"},
	    {"isolate --iface eth0 --proxy 1.2.3", -1, 0,
		"invalid proxy address: '1.2.3'"},
	    {"isolate --iface eth0 --proxy proxy.example", -1, 0,
		"invalid proxy address"},
	    {"isolate --iface eth0 --bogus", -1, 0,
		"unknown option: '--bogus'"},
	    {"isolate --iface eth0 extra", -1, 0,
		"unexpected argument: 'extra'"},
	    {"isolate --list --iface eth0", -1, 0, "--list takes"},
	    {"isolate --remove --port 1", -1, 0, "--remove takes"},
	};
	struct isolate_opts o;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].line, &o, err, sizeof(err));

		if (rc != cases[i].rc)
			fail_msg("'%s': rc %d, want %d (%s)", cases[i].line, rc,
			    cases[i].rc, err);
		if (rc == 0)
			assert_int_equal(o.action, cases[i].action);
		if (cases[i].err != NULL && strstr(err, cases[i].err) == NULL)
			fail_msg("'%s': message '%s' lacks '%s'", cases[i].line,
			    err, cases[i].err);
	}
}

static void
test_parse_defaults(void **state)
{
	struct isolate_opts o;
	char err[256], addr[INET6_ADDRSTRLEN];

	(void)state;
	assert_int_equal(
	    parse("isolate --iface vfy-h2v", &o, err, sizeof(err)), 0);
	assert_string_equal(o.iface, "vfy-h2v");
	assert_string_equal(o.netns, "");
	assert_int_equal(o.n_proxies, 1);
	assert_int_equal(o.proxies[0].family, AF_INET);
	inet_ntop(AF_INET, &o.proxies[0].u.v4, addr, sizeof(addr));
	assert_string_equal(addr, "192.168.222.1");
	assert_int_equal(o.n_ports, 2);
	assert_int_equal(o.ports[0], 3128);
	assert_int_equal(o.ports[1], 3129);

	/* given values replace the defaults; repeats are merged */
	assert_int_equal(parse("isolate --iface x --proxy fd00::1 --proxy "
			       "10.0.0.1 --proxy fd00::1 --port 8080 --port "
			       "8080 --port 1",
			     &o, err, sizeof(err)),
	    0);
	assert_int_equal(o.n_proxies, 2);
	assert_int_equal(o.proxies[0].family, AF_INET6);
	assert_int_equal(o.n_ports, 2);
	assert_int_equal(o.ports[0], 8080);
	assert_int_equal(o.ports[1], 1);

	/* a parse after another one starts from scratch (getopt reset) */
	assert_int_equal(parse("isolate --list", &o, err, sizeof(err)), 0);
	assert_int_equal(o.action, ISOLATE_LIST);
	assert_int_equal(o.n_ports, 0);
}

static void
test_parse_limits(void **state)
{
	struct isolate_opts o;
	char line[1024], err[256];
	size_t len;
	int i;

	(void)state;
	/* ISOLATE_MAX_PORTS distinct ports fit, one more does not */
	len = (size_t)snprintf(line, sizeof(line), "isolate --iface x");
	for (i = 1; i <= ISOLATE_MAX_PORTS; i++)
		len += (size_t)snprintf(
		    line + len, sizeof(line) - len, " --port %d", i);
	assert_int_equal(parse(line, &o, err, sizeof(err)), 0);
	assert_int_equal(o.n_ports, ISOLATE_MAX_PORTS);
	snprintf(line + len, sizeof(line) - len, " --port 65535");
	assert_int_equal(parse(line, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many --port"));

	len = (size_t)snprintf(line, sizeof(line), "isolate --iface x");
	for (i = 1; i <= ISOLATE_MAX_PROXIES; i++)
		len += (size_t)snprintf(
		    line + len, sizeof(line) - len, " --proxy 10.0.0.%d", i);
	assert_int_equal(parse(line, &o, err, sizeof(err)), 0);
	assert_int_equal(o.n_proxies, ISOLATE_MAX_PROXIES);
	snprintf(line + len, sizeof(line) - len, " --proxy 10.0.1.1");
	assert_int_equal(parse(line, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too many --proxy"));

	/* namespace names up to the buffer size */
	memset(line, 0, sizeof(line));
	len = (size_t)snprintf(line, sizeof(line), "isolate --netns ");
	memset(line + len, 'n', ISOLATE_NETNS_MAX - 1);
	assert_int_equal(parse(line, &o, err, sizeof(err)), 0);
	line[len + ISOLATE_NETNS_MAX - 1] = 'n';
	assert_int_equal(parse(line, &o, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "invalid namespace name"));
}

struct msgs {
	int n;
	uint16_t types[64];
	int iso_rules;
	int base_rules;
};

static void
parse_batch(struct nft_batch *b, struct msgs *m)
{
	const struct nlmsghdr *nlh;
	const void *data;
	size_t len;
	int left;

	memset(m, 0, sizeof(*m));
	data = nft_batch_data(b, &len);
	left = (int)len;
	for (nlh = data; mnl_nlmsg_ok(nlh, left);
	     nlh = mnl_nlmsg_next(nlh, &left)) {
		if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN ||
		    nlh->nlmsg_type == NFNL_MSG_BATCH_END)
			continue;
		assert_true(m->n < 64);
		m->types[m->n++] = NFNL_MSG_TYPE(nlh->nlmsg_type);
		if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWRULE) {
			struct nftnl_rule *r = nftnl_rule_alloc();
			const char *ch;

			assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
			ch = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
			if (strncmp(ch, "iso_", 4) == 0)
				m->iso_rules++;
			else
				m->base_rules++;
			nftnl_rule_free(r);
		}
	}
}

static void
test_build(void **state)
{
	struct isolate_opts o;
	struct nft_batch *b;
	struct msgs m;
	char err[256];

	(void)state;
	assert_int_equal(
	    parse("isolate --iface eth1", &o, err, sizeof(err)), 0);
	b = nft_batch_new();
	assert_int_equal(isolate_build_add(b, &o, "eth1", NULL), 0);
	parse_batch(b, &m);
	/* table, map, (chain, flush, vmap rule) x 2, chain, flush, rules,
	 * element */
	assert_int_equal(m.types[0], NFT_MSG_NEWTABLE);
	assert_int_equal(m.types[1], NFT_MSG_NEWSET);
	assert_int_equal(m.types[2], NFT_MSG_NEWCHAIN);
	assert_int_equal(m.types[3], NFT_MSG_DELRULE);
	assert_int_equal(m.types[4], NFT_MSG_NEWRULE);
	assert_int_equal(m.types[m.n - 1], NFT_MSG_NEWSETELEM);
	assert_int_equal(m.base_rules, 2);
	/* established, 1 proxy x 2 ports, tcp reset, reject */
	assert_int_equal(m.iso_rules, 5);
	assert_int_equal(m.n, 8 + 2 + 5 + 1);
	nft_batch_free(b);

	/* an IPv6 proxy adds neighbour discovery */
	assert_int_equal(parse("isolate --iface eth1 --proxy fd00::1 --proxy "
			       "192.0.2.1 --port 3128",
			     &o, err, sizeof(err)),
	    0);
	b = nft_batch_new();
	assert_int_equal(isolate_build_add(b, &o, "eth1", "vm1"), 0);
	parse_batch(b, &m);
	assert_int_equal(m.iso_rules, 1 + 2 + 2 + 2);
	nft_batch_free(b);

	b = nft_batch_new();
	assert_int_equal(isolate_build_remove(b, "eth1"), 0);
	parse_batch(b, &m);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.types[0], NFT_MSG_DELSETELEM);
	assert_int_equal(m.types[1], NFT_MSG_DELRULE);
	assert_int_equal(m.types[2], NFT_MSG_DELCHAIN);
	nft_batch_free(b);

	b = nft_batch_new();
	errno = 0;
	assert_int_equal(isolate_build_add(b, &o, "a/b", NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(isolate_build_remove(b, ""), -1);
	nft_batch_free(b);
}

/*
 * Kernel
 */

struct chains {
	int n;
	char names[8][32];
};

static int
chain_cb(const struct nftnl_chain *c, void *arg)
{
	struct chains *s = arg;

	if (s->n < 8)
		snprintf(s->names[s->n++], 32, "%s",
		    nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	return 0;
}

static int
has_chain(const char *name)
{
	struct chains s;
	int i;

	memset(&s, 0, sizeof(s));
	assert_int_equal(
	    nft_chain_list(NFPROTO_INET, ISOLATE_TABLE, chain_cb, &s), 0);
	for (i = 0; i < s.n; i++)
		if (strcmp(s.names[i], name) == 0)
			return 1;
	return 0;
}

static int
run(const char *line)
{
	char buf[512], *argv[32], *save = NULL, *tok;
	int argc = 0;

	snprintf(buf, sizeof(buf), "%s", line);
	for (tok = strtok_r(buf, " ", &save); tok != NULL && argc < 31;
	     tok = strtok_r(NULL, " ", &save))
		argv[argc++] = tok;
	argv[argc] = NULL;
	return isolate_main(argc, argv);
}

struct rcount {
	int n;
	char first[NFT_COMMENT_MAX];
};

static int
rule_cb(const struct nftnl_rule *r, void *arg)
{
	struct rcount *c = arg;

	if (c->n++ == 0)
		(void)nft_rule_comment(r, c->first, sizeof(c->first));
	return 0;
}

static void
test_kernel(void **state)
{
	struct nft_batch *b;
	struct nftnl_table *t;
	struct rcount rc;
	char comment[NFT_COMMENT_MAX];

	(void)state;
	if (!has_netns)
		skip();
	assert_int_equal(run("isolate --iface vm-a"), 0);
	assert_int_equal(run("isolate --iface vm-b --port 8080"), 0);
	assert_int_equal(nft_table_get(NFPROTO_INET, ISOLATE_TABLE, comment,
			     sizeof(comment)),
	    0);
	assert_string_equal(comment, ISOLATE_MARKER);
	assert_true(has_chain("iso_vm-a"));
	assert_true(has_chain("iso_vm-b"));
	assert_int_equal(run("isolate --list"), 0);

	/* re-isolating replaces the interface's rules, nothing doubles */
	assert_int_equal(
	    run("isolate --iface vm-a --port 1 --port 2 --port 3"), 0);
	memset(&rc, 0, sizeof(rc));
	assert_int_equal(nft_rule_list(NFPROTO_INET, ISOLATE_TABLE, "iso_vm-a",
			     rule_cb, &rc),
	    0);
	assert_int_equal(rc.n, 1 + 3 + 2);
	assert_string_equal(rc.first, "iface=vm-a");
	memset(&rc, 0, sizeof(rc));
	assert_int_equal(
	    nft_rule_list(NFPROTO_INET, ISOLATE_TABLE, "input", rule_cb, &rc),
	    0);
	assert_int_equal(rc.n, 1);

	/* removing one leaves the other */
	assert_int_equal(run("isolate --remove --iface vm-a"), 0);
	assert_false(has_chain("iso_vm-a"));
	assert_true(has_chain("iso_vm-b"));
	assert_int_equal(run("isolate --remove --iface vm-a"), 1);
	assert_int_equal(run("isolate --remove --iface never"), 1);
	/* --netns naming no namespace: a clear error, no change */
	assert_int_equal(run("isolate --netns no-such-ns-xyz"), 1);
	assert_true(has_chain("iso_vm-b"));

	/* --remove alone: the whole table; twice is fine */
	assert_int_equal(run("isolate --remove"), 0);
	errno = 0;
	assert_int_equal(
	    nft_table_get(NFPROTO_INET, ISOLATE_TABLE, NULL, 0), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(run("isolate --remove"), 0);
	assert_int_equal(run("isolate --list"), 0);

	/* a table of that name that is not ours is never touched */
	b = nft_batch_new();
	t = nft_table_new(NFPROTO_INET, ISOLATE_TABLE, NULL);
	assert_int_equal(
	    nft_batch_add_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, t, "add"),
	    0);
	assert_int_equal(nft_batch_commit(b, NULL), 0);
	nftnl_table_free(t);
	nft_batch_free(b);
	assert_int_equal(run("isolate --iface vm-c"), 1);
	assert_int_equal(run("isolate --list"), 1);
	assert_int_equal(run("isolate --remove"), 1);
	assert_int_equal(run("isolate --remove --iface vm-c"), 1);
	assert_int_equal(
	    nft_table_get(NFPROTO_INET, ISOLATE_TABLE, NULL, 0), 0);
	assert_false(has_chain("iso_vm-c"));
	assert_int_equal(
	    nft_table_delete(NFPROTO_INET, ISOLATE_TABLE, NULL), 0);
}

static int
setup_netns(void **state)
{
	(void)state;
	if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0)
		has_netns = 1;
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_cases),
	    cmocka_unit_test(test_parse_defaults),
	    cmocka_unit_test(test_parse_limits),
	    cmocka_unit_test(test_build),
	    cmocka_unit_test(test_kernel),
	};

	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
