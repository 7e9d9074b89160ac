/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * isolate.c - `slicer-proxy isolate`: install, remove and list the host
 * table that lets an isolated interface reach only the proxy (layout and
 * meaning of --netns in isolate.h).
 *
 * Every change is one nf_tables batch with all acknowledgements read; a
 * table of the same name that lacks our comment is never touched.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <netinet/icmp6.h>

#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "isolate.h"
#include "link.h"
#include "nft.h"
#include "parse.h"

/* nft's datatype number for interface names (TYPE_IFNAME), so that
 * `nft list` prints the map's keys as names. */
#define ISOLATE_TYPE_IFNAME 41
/* Set id of the map within the batch that creates it. */
#define ISOLATE_SET_ID 1

static const char isolate_usage[] =
    "usage: slicer-proxy isolate --iface IF | --netns NS [--proxy ADDR]... "
    "[--port N]...\n"
    "       slicer-proxy isolate --remove [--iface IF | --netns NS]\n"
    "       slicer-proxy isolate --list\n"
    "\n"
    "Let traffic arriving from an interface reach only the proxy (TCP to\n"
    "ADDR on the ports, default " ISOLATE_DEFAULT_PROXY " ports 3128 and "
    "3129);\n"
    "everything else is counted and rejected at once.  --netns NS isolates\n"
    "the interface here whose peer lives in namespace NS.  --remove alone\n"
    "deletes the whole table inet " ISOLATE_TABLE ".\n";

/*
 * Options
 */

static int
isolate_add_proxy(
    struct isolate_opts *o, const char *s, char *err, size_t errlen)
{
	struct netaddr a;
	size_t i;

	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, &a.u.v4) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, s, &a.u.v6) == 1)
		a.family = AF_INET6;
	else {
		snprintf(err, errlen, "invalid proxy address: '%s'", s);
		return -1;
	}
	for (i = 0; i < o->n_proxies; i++)
		if (o->proxies[i].family == a.family &&
		    memcmp(&o->proxies[i].u, &a.u, sizeof(a.u)) == 0)
			return 0;
	if (o->n_proxies == ISOLATE_MAX_PROXIES) {
		snprintf(err, errlen, "too many --proxy addresses (at most %d)",
		    ISOLATE_MAX_PROXIES);
		return -1;
	}
	o->proxies[o->n_proxies++] = a;
	return 0;
}

static int
isolate_add_port(
    struct isolate_opts *o, const char *s, char *err, size_t errlen)
{
	uint16_t port;
	size_t i;

	if (parse_port(s, &port) == -1) {
		snprintf(err, errlen, "invalid port: '%s'", s);
		return -1;
	}
	for (i = 0; i < o->n_ports; i++)
		if (o->ports[i] == port)
			return 0;
	if (o->n_ports == ISOLATE_MAX_PORTS) {
		snprintf(err, errlen, "too many --port values (at most %d)",
		    ISOLATE_MAX_PORTS);
		return -1;
	}
	o->ports[o->n_ports++] = port;
	return 0;
}

int
isolate_parse_args(
    int argc, char **argv, struct isolate_opts *o, char *err, size_t errlen)
{
	static const struct option longopts[] = {
	    {"iface", required_argument, NULL, 'i'},
	    {"netns", required_argument, NULL, 'n'},
	    {"proxy", required_argument, NULL, 'p'},
	    {"port", required_argument, NULL, 'P'},
	    {"remove", no_argument, NULL, 'r'},
	    {"list", no_argument, NULL, 'l'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c, is_remove = 0, is_list = 0;

	memset(o, 0, sizeof(*o));
	err[0] = '\0';
	optind = 0; /* full reset: the caller may have used getopt */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			if (o->iface[0] != '\0' || o->netns[0] != '\0')
				goto twice;
			if (!link_name_valid(optarg)) {
				snprintf(err, errlen,
				    "invalid interface name: '%s'", optarg);
				return -1;
			}
			snprintf(o->iface, sizeof(o->iface), "%s", optarg);
			break;
		case 'n':
			if (o->iface[0] != '\0' || o->netns[0] != '\0')
				goto twice;
			if (optarg[0] == '\0' ||
			    strlen(optarg) >= sizeof(o->netns)) {
				snprintf(err, errlen,
				    "invalid namespace name: '%s'", optarg);
				return -1;
			}
			snprintf(o->netns, sizeof(o->netns), "%s", optarg);
			break;
		case 'p':
			if (isolate_add_proxy(o, optarg, err, errlen) == -1)
				return -1;
			break;
		case 'P':
			if (isolate_add_port(o, optarg, err, errlen) == -1)
				return -1;
			break;
		case 'r':
			is_remove = 1;
			break;
		case 'l':
			is_list = 1;
			break;
		case 'h':
			return 1;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value",
			    argv[optind - 1]);
			return -1;
		default:
			snprintf(err, errlen, "unknown option: '%s'",
			    argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		snprintf(
		    err, errlen, "unexpected argument: '%s'", argv[optind]);
		return -1;
	}
	if (is_list) {
		if (is_remove || o->iface[0] || o->netns[0] || o->n_proxies ||
		    o->n_ports) {
			snprintf(err, errlen, "--list takes no other option");
			return -1;
		}
		o->action = ISOLATE_LIST;
		return 0;
	}
	if (is_remove) {
		if (o->n_proxies || o->n_ports) {
			snprintf(err, errlen,
			    "--remove takes only --iface or --netns");
			return -1;
		}
		o->action = o->iface[0] || o->netns[0] ? ISOLATE_REMOVE
						       : ISOLATE_REMOVE_ALL;
		return 0;
	}
	if (o->iface[0] == '\0' && o->netns[0] == '\0') {
		snprintf(err, errlen,
		    "one of --iface, --netns, --remove or "
		    "--list is needed");
		return -1;
	}
	o->action = ISOLATE_ADD;
	if (o->n_proxies == 0)
		(void)isolate_add_proxy(o, ISOLATE_DEFAULT_PROXY, err, errlen);
	if (o->n_ports == 0) {
		o->ports[o->n_ports++] = ISOLATE_DEFAULT_PORT1;
		o->ports[o->n_ports++] = ISOLATE_DEFAULT_PORT2;
	}
	return 0;
twice:
	snprintf(err, errlen, "give one --iface or one --netns");
	return -1;
}

/*
 * Batches
 */

static void
isolate_chain_name(const char *ifname, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s", ISOLATE_CHAIN_PREFIX, ifname);
}

static struct nftnl_set *
isolate_set_new(void)
{
	/* nft's userdata for such a map: key byte order host, data byte
	 * order unset, not an interval map (u32 values, host order) */
	static const uint8_t ud_tmpl[] = {
	    0, 4, 0, 0, 0, 0, 1, 4, 0, 0, 0, 0, 6, 4, 0, 0, 0, 0};
	uint8_t ud[sizeof(ud_tmpl)];
	uint32_t host = 1;
	struct nftnl_set *s;

	s = nftnl_set_alloc();
	if (s == NULL)
		return NULL;
	memcpy(ud, ud_tmpl, sizeof(ud));
	memcpy(ud + 2, &host, sizeof(host));
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	if (nftnl_set_set_str(s, NFTNL_SET_TABLE, ISOLATE_TABLE) < 0 ||
	    nftnl_set_set_str(s, NFTNL_SET_NAME, ISOLATE_SET) < 0 ||
	    nftnl_set_set_data(s, NFTNL_SET_USERDATA, ud, sizeof(ud)) < 0) {
		nftnl_set_free(s);
		return NULL;
	}
	nftnl_set_set_u32(s, NFTNL_SET_ID, ISOLATE_SET_ID);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, NFT_SET_MAP);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, ISOLATE_TYPE_IFNAME);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, IFNAMSIZ);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	nftnl_set_set_u32(s, NFTNL_SET_DATA_LEN, 16);
	return s;
}

/* The map with the one element ifname -> jump iso_ifname. */
static struct nftnl_set *
isolate_set_elem(const char *ifname, int with_verdict)
{
	struct nftnl_set *s;
	struct nftnl_set_elem *e;
	char key[IFNAMSIZ], chain[NFT_NAME_MAX];

	s = isolate_set_new();
	e = nftnl_set_elem_alloc();
	if (s == NULL || e == NULL)
		goto fail;
	memset(key, 0, sizeof(key));
	memcpy(key, ifname, strnlen(ifname, IFNAMSIZ - 1));
	if (nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, sizeof(key)) < 0)
		goto fail;
	if (with_verdict) {
		isolate_chain_name(ifname, chain, sizeof(chain));
		nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
		if (nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain) < 0)
			goto fail;
	}
	nftnl_set_elem_add(s, e);
	return s;
fail:
	nftnl_set_elem_free(e);
	nftnl_set_free(s);
	return NULL;
}

/* Flush a chain: DELRULE with only table and chain. */
static int
isolate_put_flush(struct nft_batch *b, const char *chain, const char *what)
{
	struct nftnl_rule *r;
	int rc;

	r = nft_rule_new(NFPROTO_INET, ISOLATE_TABLE, chain, NULL);
	if (r == NULL)
		return -1;
	rc = nft_batch_add_rule(b, NFT_MSG_DELRULE, 0, r, what);
	nftnl_rule_free(r);
	return rc;
}

static int
isolate_put_chain(struct nft_batch *b, struct nftnl_chain *c, const char *what)
{
	int rc;

	if (c == NULL)
		return -1;
	rc = nft_batch_add_chain(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, c, what);
	nftnl_chain_free(c);
	return rc;
}

/* The table, the map and the two base chains with their one vmap rule;
 * re-creating what exists is harmless and repairs what is missing. */
static int
isolate_build_base(struct nft_batch *b)
{
	static const struct {
		const char *name;
		uint32_t hook;
	} hooks[] = {
	    {"input", NF_INET_LOCAL_IN},
	    {"forward", NF_INET_FORWARD},
	};
	struct nftnl_table *t;
	struct nftnl_set *s;
	struct nftnl_rule *r;
	char what[NFT_WHAT_MAX];
	size_t i;
	int rc;

	t = nft_table_new(NFPROTO_INET, ISOLATE_TABLE, ISOLATE_MARKER);
	if (t == NULL)
		return -1;
	rc = nft_batch_add_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, t,
	    "add table inet " ISOLATE_TABLE);
	nftnl_table_free(t);
	if (rc == -1)
		return -1;
	s = isolate_set_new();
	if (s == NULL)
		return -1;
	rc = nft_batch_add_set(
	    b, NFT_MSG_NEWSET, NLM_F_CREATE, s, "add map " ISOLATE_SET);
	nftnl_set_free(s);
	if (rc == -1)
		return -1;
	for (i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		snprintf(what, sizeof(what), "add chain %s", hooks[i].name);
		if (isolate_put_chain(b,
			nft_chain_new_base(NFPROTO_INET, ISOLATE_TABLE,
			    hooks[i].name, "filter", hooks[i].hook,
			    ISOLATE_PRIORITY, NF_ACCEPT),
			what) == -1)
			return -1;
		snprintf(what, sizeof(what), "flush chain %s", hooks[i].name);
		if (isolate_put_flush(b, hooks[i].name, what) == -1)
			return -1;
		r = nft_rule_new(
		    NFPROTO_INET, ISOLATE_TABLE, hooks[i].name, NULL);
		snprintf(what, sizeof(what), "add rule %s: iifname vmap",
		    hooks[i].name);
		if (nft_batch_put_rule(b, r,
			r && nft_expr_meta(r, NFT_META_IIFNAME) == 0 &&
			    nft_expr_lookup(
				r, ISOLATE_SET, ISOLATE_SET_ID, 1) == 0,
			what) == -1)
			return -1;
	}
	return 0;
}

/* ip/ip6 daddr ADDR tcp dport PORT accept comment "proxy ADDR port PORT" */
static int
isolate_put_allow(struct nft_batch *b, const char *chain,
    const struct netaddr *a, uint16_t port)
{
	char addr[INET6_ADDRSTRLEN], comment[NFT_COMMENT_MAX - 1],
	    what[NFT_WHAT_MAX];
	struct nftnl_rule *r;
	int ok;

	inet_ntop(a->family, &a->u, addr, sizeof(addr));
	snprintf(comment, sizeof(comment), "proxy %s port %u", addr,
	    (unsigned int)port);
	snprintf(what, sizeof(what), "add rule %.19s: %.64s", chain, comment);
	r = nft_rule_new(NFPROTO_INET, ISOLATE_TABLE, chain, comment);
	ok = r != NULL &&
	     nft_match_daddr(
		 r, a->family, &a->u, a->family == AF_INET ? 32 : 128) == 0 &&
	     nft_match_dport(r, IPPROTO_TCP, port) == 0 &&
	     nft_expr_verdict(r, NF_ACCEPT, NULL) == 0;
	return nft_batch_put_rule(b, r, ok, what);
}

int
isolate_build_add(struct nft_batch *b, const struct isolate_opts *o,
    const char *ifname, const char *netns)
{
	/* one less than the limit: a long --netns path is cut, not refused */
	char chain[NFT_NAME_MAX], comment[NFT_COMMENT_MAX - 1],
	    what[NFT_WHAT_MAX];
	const uint32_t est =
	    NF_CT_STATE_BIT(IP_CT_ESTABLISHED) | NF_CT_STATE_BIT(IP_CT_RELATED);
	struct nftnl_rule *r;
	struct nftnl_set *s;
	size_t i, j;
	int has_v6 = 0, rc;

	if (!link_name_valid(ifname)) {
		errno = EINVAL;
		return -1;
	}
	isolate_chain_name(ifname, chain, sizeof(chain));
	if (isolate_build_base(b) == -1)
		return -1;
	snprintf(what, sizeof(what), "add chain %.19s", chain);
	if (isolate_put_chain(b,
		nft_chain_new(NFPROTO_INET, ISOLATE_TABLE, chain), what) == -1)
		return -1;
	snprintf(what, sizeof(what), "flush chain %.19s", chain);
	if (isolate_put_flush(b, chain, what) == -1)
		return -1;

	/* replies to what the host opened, and the rest of allowed flows */
	if (netns != NULL && netns[0] != '\0')
		snprintf(comment, sizeof(comment), "iface=%s netns=%s", ifname,
		    netns);
	else
		snprintf(comment, sizeof(comment), "iface=%s", ifname);
	r = nft_rule_new(NFPROTO_INET, ISOLATE_TABLE, chain, comment);
	snprintf(what, sizeof(what), "add rule %.19s: ct state", chain);
	if (nft_batch_put_rule(b, r,
		r && nft_match_ct_state(r, est) == 0 &&
		    nft_expr_verdict(r, NF_ACCEPT, NULL) == 0,
		what) == -1)
		return -1;

	for (i = 0; i < o->n_proxies; i++)
		if (o->proxies[i].family == AF_INET6)
			has_v6 = 1;
	if (has_v6) {
		/* an IPv6 proxy needs neighbour discovery with the host */
		static const uint8_t nd[] = {
		    ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT};

		for (j = 0; j < sizeof(nd); j++) {
			r = nft_rule_new(
			    NFPROTO_INET, ISOLATE_TABLE, chain, NULL);
			snprintf(what, sizeof(what), "add rule %.19s: icmpv6",
			    chain);
			if (nft_batch_put_rule(b, r,
				r && nft_match_icmpv6_type(r, nd[j]) == 0 &&
				    nft_expr_verdict(r, NF_ACCEPT, NULL) == 0,
				what) == -1)
				return -1;
		}
	}

	for (i = 0; i < o->n_proxies; i++)
		for (j = 0; j < o->n_ports; j++)
			if (isolate_put_allow(
				b, chain, &o->proxies[i], o->ports[j]) == -1)
				return -1;

	/* the rest: counted, and refused so that clients fail at once */
	r = nft_rule_new(NFPROTO_INET, ISOLATE_TABLE, chain, NULL);
	snprintf(what, sizeof(what), "add rule %.19s: tcp reset", chain);
	if (nft_batch_put_rule(b, r,
		r && nft_match_l4proto(r, IPPROTO_TCP) == 0 &&
		    nft_expr_counter(r) == 0 &&
		    nft_expr_reject(r, NFT_REJECT_TCP_RST, 0) == 0,
		what) == -1)
		return -1;
	r = nft_rule_new(NFPROTO_INET, ISOLATE_TABLE, chain, NULL);
	snprintf(what, sizeof(what), "add rule %.19s: reject", chain);
	if (nft_batch_put_rule(b, r,
		r && nft_expr_counter(r) == 0 &&
		    nft_expr_reject(r, NFT_REJECT_ICMPX_UNREACH,
			NFT_REJECT_ICMPX_ADMIN_PROHIBITED) == 0,
		what) == -1)
		return -1;

	s = isolate_set_elem(ifname, 1);
	if (s == NULL)
		return -1;
	snprintf(
	    what, sizeof(what), "add element %s to map " ISOLATE_SET, ifname);
	rc = nft_batch_add_setelems(
	    b, NFT_MSG_NEWSETELEM, NLM_F_CREATE, s, what);
	nftnl_set_free(s);
	return rc;
}

int
isolate_build_remove(struct nft_batch *b, const char *ifname)
{
	char chain[NFT_NAME_MAX], what[NFT_WHAT_MAX];
	struct nftnl_set *s;
	struct nftnl_chain *c;
	int rc;

	if (!link_name_valid(ifname)) {
		errno = EINVAL;
		return -1;
	}
	isolate_chain_name(ifname, chain, sizeof(chain));
	s = isolate_set_elem(ifname, 0);
	if (s == NULL)
		return -1;
	snprintf(what, sizeof(what), "delete element %s from map " ISOLATE_SET,
	    ifname);
	rc = nft_batch_add_setelems(b, NFT_MSG_DELSETELEM, 0, s, what);
	nftnl_set_free(s);
	if (rc == -1)
		return -1;
	snprintf(what, sizeof(what), "flush chain %.19s", chain);
	if (isolate_put_flush(b, chain, what) == -1)
		return -1;
	c = nft_chain_new(NFPROTO_INET, ISOLATE_TABLE, chain);
	if (c == NULL)
		return -1;
	snprintf(what, sizeof(what), "delete chain %.19s", chain);
	rc = nft_batch_add_chain(b, NFT_MSG_DELCHAIN, 0, c, what);
	nftnl_chain_free(c);
	return rc;
}

/*
 * Commands
 */

/* 0: no table; 1: our table; -1: error printed (foreign table ...). */
static int
isolate_check_table(void)
{
	char comment[NFT_COMMENT_MAX];

	if (nft_table_get(
		NFPROTO_INET, ISOLATE_TABLE, comment, sizeof(comment)) == -1) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr,
		    "isolate: cannot read nftables table inet %s: %s%s\n",
		    ISOLATE_TABLE, strerror(errno),
		    errno == EPERM ? " (needs root / CAP_NET_ADMIN)" : "");
		return -1;
	}
	if (strcmp(comment, ISOLATE_MARKER) != 0) {
		fprintf(stderr,
		    "isolate: table inet %s exists but was not created by "
		    "slicer-proxy (%s%s%s, not \"%s\"); refusing to change "
		    "it: remove or rename it first\n",
		    ISOLATE_TABLE,
		    comment[0] ? "its comment is \"" : "it has no comment",
		    comment, comment[0] ? "\"" : "", ISOLATE_MARKER);
		return -1;
	}
	return 1;
}

static int
isolate_commit(struct nft_batch *b, const char *doing)
{
	struct nft_error err;
	char buf[512];

	if (nft_batch_commit(b, &err) == 0)
		return 0;
	fprintf(stderr, "isolate: %s failed at %s\n", doing,
	    nft_error_format(&err, buf, sizeof(buf)));
	return -1;
}

/* The interface a command acts on: --iface, or the peer of --netns. */
static int
isolate_resolve(const struct isolate_opts *o, char *ifname, size_t size)
{
	if (o->iface[0] != '\0') {
		snprintf(ifname, size, "%s", o->iface);
		return 0;
	}
	if (link_peer_of_netns(o->netns, ifname, size) == 0)
		return 0;
	switch (errno) {
	case ENOENT:
		fprintf(stderr, "isolate: no network namespace '%s'%s\n",
		    o->netns,
		    strchr(o->netns, '/') ? "" : " (looked in /run/netns)");
		break;
	case ENODEV:
		fprintf(stderr,
		    "isolate: no interface in this namespace leads into "
		    "namespace '%s' (a veth peer); use --iface\n",
		    o->netns);
		break;
	case ENOTUNIQ:
		fprintf(stderr,
		    "isolate: several interfaces lead into namespace '%s'; "
		    "use --iface for each\n",
		    o->netns);
		break;
	default:
		fprintf(stderr, "isolate: namespace '%s': %s\n", o->netns,
		    strerror(errno));
		break;
	}
	return -1;
}

static int
isolate_do_add(const struct isolate_opts *o)
{
	struct nft_batch *b = NULL;
	char ifname[IFNAMSIZ], master[IFNAMSIZ];
	int rc = 1;

	if (isolate_check_table() == -1 ||
	    isolate_resolve(o, ifname, sizeof(ifname)) == -1)
		goto out;
	/* the inet hooks see a bridge port's traffic under the bridge's
	 * name, and what the bridge switches between its ports not at all:
	 * rules for the port would hold nothing back */
	if (link_master(ifname, master, sizeof(master)) == 1) {
		fprintf(stderr, "isolate: %s is a port of %s: what it sends is "
		    "seen as %s's, or switched to the other ports unseen; "
		    "isolate %s itself, or give the VM a routed interface\n",
		    ifname, master, master, master);
		goto out;
	}
	b = nft_batch_new();
	if (b == NULL || isolate_build_add(b, o, ifname,
			     o->netns[0] ? o->netns : NULL) == -1) {
		fprintf(stderr, "isolate: cannot build the rules: %s\n",
		    strerror(errno));
		goto out;
	}
	if (isolate_commit(b, "isolating") == -1)
		goto out;
	if (link_exists(ifname) == 0)
		fprintf(stderr,
		    "isolate: note: interface %s does not exist (yet); the "
		    "rules apply once it appears\n",
		    ifname);
	rc = 0;
out:
	nft_batch_free(b);
	return rc;
}

static int
isolate_do_remove(const struct isolate_opts *o)
{
	struct nft_batch *b = NULL;
	struct nft_error err;
	char ifname[IFNAMSIZ], buf[512];
	int rc = 1, st;

	st = isolate_check_table();
	if (st == -1)
		goto out;
	if (o->action == ISOLATE_REMOVE_ALL) {
		if (st == 0) {
			rc = 0; /* nothing there: already removed */
			goto out;
		}
		if (nft_table_delete(NFPROTO_INET, ISOLATE_TABLE, &err) == -1 &&
		    err.error != ENOENT) {
			fprintf(stderr,
			    "isolate: removing table failed at %s\n",
			    nft_error_format(&err, buf, sizeof(buf)));
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (isolate_resolve(o, ifname, sizeof(ifname)) == -1)
		goto out;
	if (st == 0) {
		fprintf(stderr, "isolate: %s is not isolated\n", ifname);
		goto out;
	}
	b = nft_batch_new();
	if (b == NULL || isolate_build_remove(b, ifname) == -1) {
		fprintf(stderr, "isolate: cannot build the batch: %s\n",
		    strerror(errno));
		goto out;
	}
	if (nft_batch_commit(b, &err) == -1) {
		if (err.error == ENOENT && err.index == 0)
			fprintf(
			    stderr, "isolate: %s is not isolated\n", ifname);
		else
			fprintf(stderr, "isolate: removing %s failed at %s\n",
			    ifname, nft_error_format(&err, buf, sizeof(buf)));
		goto out;
	}
	rc = 0;
out:
	nft_batch_free(b);
	return rc;
}

/*
 * --list
 */

struct isolate_entry {
	char iface[IFNAMSIZ];
	char netns[NFT_COMMENT_MAX];
	char proxies[ISOLATE_MAX_PROXIES * 2][INET6_ADDRSTRLEN];
	size_t n_proxies;
	uint16_t ports[ISOLATE_MAX_PORTS * 2];
	size_t n_ports;
	uint64_t packets;
	uint64_t bytes;
};

struct isolate_list {
	char (*chains)[NFT_NAME_MAX];
	size_t n;
	int is_full;
};

static int
isolate_list_chain_cb(const struct nftnl_chain *c, void *arg)
{
	struct isolate_list *l = arg;
	const char *name = nftnl_chain_get_str(c, NFTNL_CHAIN_NAME);
	size_t plen = strlen(ISOLATE_CHAIN_PREFIX);

	if (name == NULL || strncmp(name, ISOLATE_CHAIN_PREFIX, plen) != 0 ||
	    !link_name_valid(name + plen))
		return 0;
	if (l->n == ISOLATE_MAX_IFACES) {
		l->is_full = 1;
		return 0;
	}
	snprintf(l->chains[l->n++], NFT_NAME_MAX, "%s", name);
	return 0;
}

static void
isolate_entry_proxy(struct isolate_entry *e, const char *addr, unsigned port)
{
	size_t i;

	for (i = 0; i < e->n_proxies; i++)
		if (strcmp(e->proxies[i], addr) == 0)
			break;
	if (i == e->n_proxies && e->n_proxies < ISOLATE_MAX_PROXIES * 2)
		snprintf(e->proxies[e->n_proxies++], INET6_ADDRSTRLEN, "%.45s",
		    addr);
	for (i = 0; i < e->n_ports; i++)
		if (e->ports[i] == port)
			return;
	if (e->n_ports < ISOLATE_MAX_PORTS * 2)
		e->ports[e->n_ports++] = (uint16_t)port;
}

static int
isolate_list_rule_cb(const struct nftnl_rule *r, void *arg)
{
	struct isolate_entry *e = arg;
	char comment[NFT_COMMENT_MAX], addr[INET6_ADDRSTRLEN + 1];
	const char *p;
	uint64_t pk, by;
	unsigned int port;

	nft_rule_counters(r, &pk, &by);
	e->packets += pk;
	e->bytes += by;
	if (nft_rule_comment(r, comment, sizeof(comment)) == -1)
		return 0;
	if (sscanf(comment, "proxy %46s port %u", addr, &port) == 2 &&
	    port > 0 && port <= 65535)
		isolate_entry_proxy(e, addr, port);
	else if ((p = strstr(comment, "netns=")) != NULL)
		snprintf(e->netns, sizeof(e->netns), "%s", p + 6);
	return 0;
}

static void
isolate_entry_print(const struct isolate_entry *e)
{
	size_t i;

	printf("%s proxy=", e->iface);
	for (i = 0; i < e->n_proxies; i++)
		printf("%s%s", i ? "," : "", e->proxies[i]);
	printf(" ports=");
	for (i = 0; i < e->n_ports; i++)
		printf("%s%u", i ? "," : "", (unsigned int)e->ports[i]);
	printf(" rejected_packets=%llu rejected_bytes=%llu",
	    (unsigned long long)e->packets, (unsigned long long)e->bytes);
	if (e->netns[0] != '\0')
		printf(" netns=%s", e->netns);
	printf("\n");
}

static int
isolate_do_list(void)
{
	struct isolate_list l;
	struct isolate_entry e;
	size_t i;
	int rc = 1, st;

	memset(&l, 0, sizeof(l));
	st = isolate_check_table();
	if (st <= 0)
		return st == 0 ? 0 : 1;
	l.chains = calloc(ISOLATE_MAX_IFACES, sizeof(*l.chains));
	if (l.chains == NULL) {
		fprintf(stderr, "isolate: out of memory\n");
		goto out;
	}
	if (nft_chain_list(
		NFPROTO_INET, ISOLATE_TABLE, isolate_list_chain_cb, &l) == -1) {
		fprintf(
		    stderr, "isolate: listing chains: %s\n", strerror(errno));
		goto out;
	}
	for (i = 0; i < l.n; i++) {
		memset(&e, 0, sizeof(e));
		snprintf(e.iface, sizeof(e.iface), "%s",
		    l.chains[i] + strlen(ISOLATE_CHAIN_PREFIX));
		if (nft_rule_list(NFPROTO_INET, ISOLATE_TABLE, l.chains[i],
			isolate_list_rule_cb, &e) == -1) {
			fprintf(stderr, "isolate: listing rules of %s: %s\n",
			    l.chains[i], strerror(errno));
			goto out;
		}
		isolate_entry_print(&e);
	}
	if (l.is_full)
		fprintf(stderr, "isolate: only the first %d interfaces shown\n",
		    ISOLATE_MAX_IFACES);
	rc = 0;
out:
	free(l.chains);
	return rc;
}

int
isolate_main(int argc, char **argv)
{
	struct isolate_opts o;
	char err[256];
	int st;

	st = isolate_parse_args(argc, argv, &o, err, sizeof(err));
	if (st == 1) {
		fputs(isolate_usage, stdout);
		return 0;
	}
	if (st == -1) {
		fprintf(stderr, "isolate: %s\n%s", err, isolate_usage);
		return 1;
	}
	switch (o.action) {
	case ISOLATE_ADD:
		return isolate_do_add(&o);
	case ISOLATE_REMOVE:
	case ISOLATE_REMOVE_ALL:
		return isolate_do_remove(&o);
	case ISOLATE_LIST:
		return isolate_do_list();
	}
	return 1;
}
