/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_rules.c - the agent's ruleset.
 *
 * Pure: config checks at and past every limit; the batch parsed back
 * (replace prologue, chains with hooks and priorities, rule counts per
 * chain, the ports in the redirects).
 * Kernel (root, own network namespace; skipped otherwise): apply, apply
 * again (same rules), a failing batch leaves the previous table as it
 * was, remove (twice).
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
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>

#include "nft.h"
#include "rules.h"

static int has_netns;

static void
config_basic(struct rules_config *c)
{
	rules_config_init(c);
	snprintf(c->uplink, sizeof(c->uplink), "eth0");
	c->proxies[0].addr.family = AF_INET;
	inet_pton(AF_INET, "192.168.222.1", &c->proxies[0].addr.u.v4);
	c->proxies[0].port = 3128;
	c->n_proxies = 1;
}

static void
test_config_defaults(void **state)
{
	struct rules_config c;
	char err[128];

	(void)state;
	rules_config_init(&c);
	assert_int_equal(c.redirect_port, 15001);
	assert_int_equal(c.dns_port, 15053);
	assert_int_equal(c.udp_sink_port, 15054);
	assert_int_equal(c.mark, 0x534c4900u);
	assert_int_equal(c.n_proxies, 0);
	/* no uplink, no proxy: incomplete */
	assert_int_equal(rules_config_check(&c, err, sizeof(err)), -1);
	config_basic(&c);
	assert_int_equal(rules_config_check(&c, err, sizeof(err)), 0);
}

enum mutation {
	M_NONE,
	M_NO_UPLINK,
	M_UPLINK_LO,
	M_UPLINK_BAD,
	M_NO_PROXY,
	M_PROXY_PORT0,
	M_PROXY_FAMILY,
	M_SAME_PORTS,
	M_REDIR0,
	M_MARK0,
	M_BYPASS_MAX,
	M_BYPASS_PAST,
	M_BYPASS_PREFIX,
	M_UDP_MAX,
	M_UDP_PAST,
	M_UDP_DUP,
	M_UDP_ZERO,
	M_PROXIES_MAX,
	M_PROXIES_PAST,
	M_SINK_REDIR,
	M_SINK_DNS,
	M_SINK_OFF,
};

static void
mutate(struct rules_config *c, enum mutation m)
{
	size_t i;

	switch (m) {
	case M_NONE:
		break;
	case M_NO_UPLINK:
		c->uplink[0] = '\0';
		break;
	case M_UPLINK_LO:
		snprintf(c->uplink, sizeof(c->uplink), "lo");
		break;
	case M_UPLINK_BAD:
		snprintf(c->uplink, sizeof(c->uplink), "eth/0");
		break;
	case M_NO_PROXY:
		c->n_proxies = 0;
		break;
	case M_PROXY_PORT0:
		c->proxies[0].port = 0;
		break;
	case M_PROXY_FAMILY:
		c->proxies[0].addr.family = AF_UNIX;
		break;
	case M_SAME_PORTS:
		c->dns_port = c->redirect_port;
		break;
	case M_REDIR0:
		c->redirect_port = 0;
		break;
	case M_MARK0:
		c->mark = 0;
		break;
	case M_BYPASS_MAX:
	case M_BYPASS_PAST:
		for (i = 0; i < RULES_MAX_BYPASS; i++) {
			c->bypass[i].addr.family = AF_INET;
			c->bypass[i].addr.u.v4.s_addr =
			    htonl(0x0a000000u + ((uint32_t)i << 8));
			c->bypass[i].prefix = 24;
		}
		c->n_bypass = RULES_MAX_BYPASS + (m == M_BYPASS_PAST);
		break;
	case M_BYPASS_PREFIX:
		c->bypass[0].addr.family = AF_INET;
		c->bypass[0].prefix = 33;
		c->n_bypass = 1;
		break;
	case M_UDP_MAX:
	case M_UDP_PAST:
		for (i = 0; i < RULES_MAX_UDP; i++)
			c->allow_udp[i] = (uint16_t)(1000 + i);
		c->n_allow_udp = RULES_MAX_UDP + (m == M_UDP_PAST);
		break;
	case M_UDP_DUP:
		c->allow_udp[0] = 123;
		c->allow_udp[1] = 123;
		c->n_allow_udp = 2;
		break;
	case M_UDP_ZERO:
		c->allow_udp[0] = 0;
		c->n_allow_udp = 1;
		break;
	case M_PROXIES_MAX:
	case M_PROXIES_PAST:
		for (i = 1; i < RULES_MAX_PROXIES; i++)
			c->proxies[i] = c->proxies[0];
		c->n_proxies = RULES_MAX_PROXIES + (m == M_PROXIES_PAST);
		break;
	case M_SINK_REDIR:
		c->udp_sink_port = c->redirect_port;
		break;
	case M_SINK_DNS:
		c->udp_sink_port = c->dns_port;
		break;
	case M_SINK_OFF:
		c->udp_sink_port = 0;
		break;
	}
}

static void
test_config_check(void **state)
{
	static const struct {
		enum mutation m;
		int rc;
	} cases[] = {
	    {M_NONE, 0},
	    {M_NO_UPLINK, -1},
	    {M_UPLINK_LO, -1},
	    {M_UPLINK_BAD, -1},
	    {M_NO_PROXY, -1},
	    {M_PROXY_PORT0, -1},
	    {M_PROXY_FAMILY, -1},
	    {M_SAME_PORTS, -1},
	    {M_REDIR0, -1},
	    {M_MARK0, -1},
	    {M_BYPASS_MAX, 0},
	    {M_BYPASS_PAST, -1},
	    {M_BYPASS_PREFIX, -1},
	    {M_UDP_MAX, 0},
	    {M_UDP_PAST, -1},
	    {M_UDP_DUP, -1},
	    {M_UDP_ZERO, -1},
	    {M_PROXIES_MAX, 0},
	    {M_PROXIES_PAST, -1},
	    {M_SINK_REDIR, -1},
	    {M_SINK_DNS, -1},
	    {M_SINK_OFF, 0},
	};
	struct rules_config c;
	struct nft_batch *b;
	char err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		config_basic(&c);
		mutate(&c, cases[i].m);
		err[0] = '\0';
		assert_int_equal(
		    rules_config_check(&c, err, sizeof(err)), cases[i].rc);
		if (cases[i].rc == -1)
			assert_true(err[0] != '\0');
		/* rules_build refuses exactly what the check refuses */
		b = nft_batch_new();
		assert_int_equal(rules_build(&c, b), cases[i].rc);
		nft_batch_free(b);
	}
}

/* What the batch holds, parsed back. */
struct parsed {
	uint16_t first[3];
	int nchains;
	char chains[8][32];
	uint32_t hooks[8];
	int32_t prios[8];
	int rules[8]; /* per chain, in order */
	uint16_t redir_ports[32];
	int nredir;
	int total;
};

static void
rule_redir_ports(const struct nftnl_rule *r, struct parsed *p)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	uint16_t port = 0;
	uint32_t len;
	const void *d;

	while ((e = nftnl_expr_iter_next(it)) != NULL) {
		const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

		if (strcmp(name, "immediate") == 0 &&
		    nftnl_expr_get_u32(e, NFTNL_EXPR_IMM_DREG) == NFT_REG_1) {
			d = nftnl_expr_get(e, NFTNL_EXPR_IMM_DATA, &len);
			assert_int_equal(len, 2);
			memcpy(&port, d, 2);
		}
		if (strcmp(name, "redir") == 0 && p->nredir < 32)
			p->redir_ports[p->nredir++] = ntohs(port);
	}
	nftnl_expr_iter_destroy(it);
}

static void
parse_batch(struct nft_batch *b, struct parsed *p)
{
	const struct nlmsghdr *nlh;
	const void *data;
	size_t len;
	int left, i = 0;

	memset(p, 0, sizeof(*p));
	data = nft_batch_data(b, &len);
	left = (int)len;
	for (nlh = data; mnl_nlmsg_ok(nlh, left);
	     nlh = mnl_nlmsg_next(nlh, &left), i++) {
		uint16_t type = NFNL_MSG_TYPE(nlh->nlmsg_type);

		if (nlh->nlmsg_type == NFNL_MSG_BATCH_BEGIN ||
		    nlh->nlmsg_type == NFNL_MSG_BATCH_END)
			continue;
		p->total++;
		if (p->total <= 3)
			p->first[p->total - 1] = type;
		if (type == NFT_MSG_NEWCHAIN) {
			struct nftnl_chain *c = nftnl_chain_alloc();

			assert_int_equal(nftnl_chain_nlmsg_parse(nlh, c), 0);
			assert_true(p->nchains < 8);
			snprintf(p->chains[p->nchains], 32, "%s",
			    nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
			p->hooks[p->nchains] =
			    nftnl_chain_get_u32(c, NFTNL_CHAIN_HOOKNUM);
			p->prios[p->nchains] =
			    nftnl_chain_get_s32(c, NFTNL_CHAIN_PRIO);
			p->nchains++;
			nftnl_chain_free(c);
		} else if (type == NFT_MSG_NEWRULE) {
			struct nftnl_rule *r = nftnl_rule_alloc();

			assert_int_equal(nftnl_rule_nlmsg_parse(nlh, r), 0);
			assert_true(p->nchains > 0);
			/* rules come right after their chain */
			assert_string_equal(
			    nftnl_rule_get_str(r, NFTNL_RULE_CHAIN),
			    p->chains[p->nchains - 1]);
			p->rules[p->nchains - 1]++;
			rule_redir_ports(r, p);
			nftnl_rule_free(r);
		}
	}
	assert_int_equal(left, 0);
}

static void
test_build_basic(void **state)
{
	static const struct {
		const char *name;
		uint32_t hook;
		int32_t prio;
		int rules;
	} want[] = {
	    {"nat_output", NF_INET_LOCAL_OUT, -110, 9},
	    {"nat_prerouting", NF_INET_PRE_ROUTING, -110, 7},
	    {"filter_input", NF_INET_LOCAL_IN, -10, 10},
	    {"filter_output", NF_INET_LOCAL_OUT, 0, 14},
	    {"filter_forward", NF_INET_FORWARD, 0, 12},
	};
	struct rules_config c;
	struct nft_batch *b;
	struct parsed p;
	int i;

	(void)state;
	config_basic(&c);
	b = nft_batch_new();
	assert_int_equal(rules_build(&c, b), 0);
	parse_batch(b, &p);
	/* the atomic replace prologue */
	assert_int_equal(p.first[0], NFT_MSG_NEWTABLE);
	assert_int_equal(p.first[1], NFT_MSG_DELTABLE);
	assert_int_equal(p.first[2], NFT_MSG_NEWTABLE);
	assert_int_equal(p.nchains, 5);
	for (i = 0; i < 5; i++) {
		assert_string_equal(p.chains[i], want[i].name);
		assert_int_equal(p.hooks[i], want[i].hook);
		assert_int_equal(p.prios[i], want[i].prio);
		assert_int_equal(p.rules[i], want[i].rules);
	}
	assert_int_equal(p.total, 3 + 5 + 52);
	/* per nat chain: tcp 53, udp 53 -> stub, then tcp -> redirector;
	 * nat output then sends other UDP to the closed sink port */
	assert_int_equal(p.nredir, 7);
	assert_int_equal(p.redir_ports[0], 15053);
	assert_int_equal(p.redir_ports[1], 15053);
	assert_int_equal(p.redir_ports[2], 15001);
	assert_int_equal(p.redir_ports[3], 15054);
	assert_int_equal(p.redir_ports[4], 15053);
	assert_int_equal(p.redir_ports[5], 15053);
	assert_int_equal(p.redir_ports[6], 15001);
	nft_batch_free(b);
}

static void
test_build_options(void **state)
{
	struct rules_config c;
	struct nft_batch *b;
	struct parsed p;

	(void)state;
	config_basic(&c);
	c.proxies[1].addr.family = AF_INET6;
	inet_pton(AF_INET6, "fd00:222::1", &c.proxies[1].addr.u.v6);
	c.proxies[1].port = 3128;
	c.n_proxies = 2;
	c.bypass[0].addr.family = AF_INET;
	inet_pton(AF_INET, "10.0.0.0", &c.bypass[0].addr.u.v4);
	c.bypass[0].prefix = 8;
	c.bypass[1].addr.family = AF_INET6;
	inet_pton(AF_INET6, "fd12::", &c.bypass[1].addr.u.v6);
	c.bypass[1].prefix = 16;
	c.bypass[2].addr.family = AF_INET;
	inet_pton(AF_INET, "172.16.5.4", &c.bypass[2].addr.u.v4);
	c.bypass[2].prefix = 32;
	c.n_bypass = 3;
	c.allow_udp[0] = 123;
	c.allow_udp[1] = 4789;
	c.n_allow_udp = 2;
	c.redirect_port = 16001;
	c.dns_port = 16053;
	b = nft_batch_new();
	assert_int_equal(rules_build(&c, b), 0);
	parse_batch(b, &p);
	/* + the allowed UDP ports return before the sink */
	assert_int_equal(p.rules[0], 9 + 1 + 3 + 2);
	assert_int_equal(p.rules[1], 7 + 1 + 3);
	assert_int_equal(p.rules[2], 10);
	/* + the second proxy let out, bypass CIDRs, allowed ports */
	assert_int_equal(p.rules[3], 14 + 1 + 3 + 2);
	assert_int_equal(p.rules[4], 12 + 1 + 3 + 2);
	assert_int_equal(p.redir_ports[0], 16053);
	assert_int_equal(p.redir_ports[2], 16001);
	assert_int_equal(p.redir_ports[3], 15054);
	nft_batch_free(b);

	/* no sink: no UDP redirect, no allowed-port returns in nat */
	c.udp_sink_port = 0;
	b = nft_batch_new();
	assert_int_equal(rules_build(&c, b), 0);
	parse_batch(b, &p);
	assert_int_equal(p.rules[0], 8 + 1 + 3);
	/* nor the sink's owner check */
	assert_int_equal(p.rules[2], 9);
	nft_batch_free(b);
	c.udp_sink_port = RULES_DEFAULT_UDP_SINK_PORT;

	/* a bypass CIDR with host bits set is refused by the builder */
	c.bypass[0].addr.u.v4.s_addr = htonl(0x0a000001u);
	b = nft_batch_new();
	assert_int_equal(rules_build(&c, b), -1);
	nft_batch_free(b);
}

struct count {
	int n;
};

static int
count_cb(const struct nftnl_rule *r, void *arg)
{
	struct count *c = arg;

	(void)r;
	c->n++;
	return 0;
}

static void
test_kernel_apply_remove(void **state)
{
	struct rules_config c;
	struct nft_error err;
	struct nft_batch *b;
	struct nftnl_rule *r;
	struct count n;
	int round;

	(void)state;
	if (!has_netns)
		skip();
	config_basic(&c);
	assert_int_equal(rules_present(), 0);
	for (round = 0; round < 2; round++) {
		assert_int_equal(rules_apply(&c, &err), 0);
		assert_int_equal(rules_present(), 1);
		memset(&n, 0, sizeof(n));
		assert_int_equal(nft_rule_list(NFPROTO_INET, RULES_TABLE, NULL,
				     count_cb, &n),
		    0);
		/* applying again replaces, never duplicates */
		assert_int_equal(n.n, 52);
	}

	/* a batch that fails part-way leaves the previous table */
	b = nft_batch_new();
	c.redirect_port = 16001;
	assert_int_equal(rules_build(&c, b), 0);
	r = nft_rule_new(NFPROTO_INET, RULES_TABLE, "filter_output", NULL);
	assert_int_equal(
	    nft_batch_put_rule(
		b, r, nft_expr_verdict(r, NFT_JUMP, "missing") == 0, "bad"),
	    0);
	assert_int_equal(nft_batch_commit(b, &err), -1);
	assert_string_equal(err.what, "bad");
	nft_batch_free(b);
	memset(&n, 0, sizeof(n));
	assert_int_equal(
	    nft_rule_list(NFPROTO_INET, RULES_TABLE, NULL, count_cb, &n), 0);
	assert_int_equal(n.n, 52);

	assert_int_equal(rules_remove(&err), 0);
	assert_int_equal(rules_present(), 0);
	/* removing what is gone is fine */
	assert_int_equal(rules_remove(&err), 0);
	assert_int_equal(err.error, 0);

	/* an invalid config never reaches the kernel */
	c.mark = 0;
	errno = 0;
	assert_int_equal(rules_apply(&c, &err), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(rules_present(), 0);
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
	    cmocka_unit_test(test_config_defaults),
	    cmocka_unit_test(test_config_check),
	    cmocka_unit_test(test_build_basic),
	    cmocka_unit_test(test_build_options),
	    cmocka_unit_test(test_kernel_apply_remove),
	};

	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
