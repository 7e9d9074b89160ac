/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rules.c - build, apply and remove the agent's table `inet slicer_agent`
 * (see rules.h).  The ruleset follows the verified one in the design
 * notes, with tcp dport 53 to the stub, IPv6 proxy addresses, bypass
 * CIDRs, allowed UDP ports and a guard on every listener port:
 *
 *   nat_output      (nat output -110): leave alone the agent's own marked
 *                   sockets, loopback, local destinations, anything not
 *                   routed out the uplink, the proxy, bypass CIDRs; then
 *                   tcp/udp 53 -> stub, other TCP -> redirector,
 *                   other UDP (not allowed) -> a closed local port, so
 *                   the sender gets ECONNREFUSED rather than EPERM.
 *   nat_prerouting  (nat prerouting -110): the same for bridges and
 *                   containers, with `iifname uplink` and
 *                   `fib daddr oifname != uplink` instead of oifname.
 *   filter_input    (filter input -10): the listener ports accept only
 *                   redirected (ct status dnat) flows, and only into a
 *                   socket with the agent's mark; the UDP sink port
 *                   refuses a socket without it too.
 *   filter_output / filter_forward (filter 0): what leaves the uplink
 *                   is replies, the agent's own (marked) sockets, bypass
 *                   CIDRs, allowed UDP ports, TCP to the proxy, ICMP
 *                   errors and IPv6 neighbour discovery; conntrack-invalid
 *                   packets are dropped, other UDP is rejected at once
 *                   (port unreachable), anything else too (administratively
 *                   prohibited): UDP-Lite, ping, other IP protocols.  DNS
 *                   and redirected TCP are not affected (they go to local
 *                   ports, see `fib daddr type local accept`).
 *
 * Redirected packets still show the pre-NAT oifname in filter output
 * (design notes 1.1), hence `fib daddr type local` there, not oifname.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <netinet/icmp6.h>
#include <netinet/ip_icmp.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <libnftnl/chain.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "link.h"
#include "nft.h"
#include "rules.h"

#define RULES_FAMILY NFPROTO_INET
/* RFC 3810; not in every libc's <netinet/icmp6.h> */
#define RULES_MLD2_LISTENER_REPORT 143

void
rules_config_init(struct rules_config *c)
{
	memset(c, 0, sizeof(*c));
	c->redirect_port = RULES_DEFAULT_REDIRECT_PORT;
	c->dns_port = RULES_DEFAULT_DNS_PORT;
	c->udp_sink_port = RULES_DEFAULT_UDP_SINK_PORT;
	c->mark = RULES_DEFAULT_MARK;
}

int
rules_config_check(const struct rules_config *c, char *err, size_t errlen)
{
	size_t i, j;
	int max;

	if (!link_name_valid(c->uplink)) {
		snprintf(
		    err, errlen, "invalid uplink interface: '%s'", c->uplink);
		return -1;
	}
	if (strcmp(c->uplink, "lo") == 0) {
		snprintf(err, errlen, "the uplink cannot be 'lo'");
		return -1;
	}
	if (c->n_proxies == 0 || c->n_proxies > RULES_MAX_PROXIES) {
		snprintf(err, errlen, "give 1 to %d proxy addresses",
		    RULES_MAX_PROXIES);
		return -1;
	}
	for (i = 0; i < c->n_proxies; i++) {
		if (c->proxies[i].port == 0 ||
		    (c->proxies[i].addr.family != AF_INET &&
			c->proxies[i].addr.family != AF_INET6)) {
			snprintf(err, errlen, "invalid proxy address");
			return -1;
		}
	}
	if (c->redirect_port == 0 || c->dns_port == 0 ||
	    c->redirect_port == c->dns_port) {
		snprintf(err, errlen,
		    "redirect and DNS ports must be set and differ");
		return -1;
	}
	if (c->udp_sink_port != 0 && (c->udp_sink_port == c->redirect_port ||
					 c->udp_sink_port == c->dns_port)) {
		snprintf(err, errlen, "the UDP sink port must differ from the "
				      "redirect and DNS ports");
		return -1;
	}
	if (c->mark == 0) {
		snprintf(err, errlen, "the socket mark must not be 0");
		return -1;
	}
	if (c->n_bypass > RULES_MAX_BYPASS) {
		snprintf(err, errlen, "too many bypass CIDRs (at most %d)",
		    RULES_MAX_BYPASS);
		return -1;
	}
	for (i = 0; i < c->n_bypass; i++) {
		const struct netaddr_cidr *b = &c->bypass[i];

		max = b->addr.family == AF_INET    ? 32
		      : b->addr.family == AF_INET6 ? 128
						   : -1;
		if (b->prefix < 0 || b->prefix > max) {
			snprintf(err, errlen, "invalid bypass CIDR");
			return -1;
		}
	}
	if (c->n_allow_udp > RULES_MAX_UDP) {
		snprintf(err, errlen, "too many allowed UDP ports (at most %d)",
		    RULES_MAX_UDP);
		return -1;
	}
	for (i = 0; i < c->n_allow_udp; i++) {
		if (c->allow_udp[i] == 0) {
			snprintf(err, errlen, "invalid UDP port: 0");
			return -1;
		}
		for (j = 0; j < i; j++)
			if (c->allow_udp[j] == c->allow_udp[i]) {
				snprintf(err, errlen, "UDP port %u given twice",
				    (unsigned int)c->allow_udp[i]);
				return -1;
			}
	}
	return 0;
}

/*
 * Rule helpers: each builds one rule and appends it.
 */

struct rules_ctx {
	const struct rules_config *c;
	struct nft_batch *b;
	const char *chain;
	char what[NFT_WHAT_MAX];
};

static struct nftnl_rule *
rules_new(struct rules_ctx *x, const char *what)
{
	snprintf(x->what, sizeof(x->what), "add rule %s: %s", x->chain, what);
	return nft_rule_new(RULES_FAMILY, RULES_TABLE, x->chain, NULL);
}

static int
rules_put(struct rules_ctx *x, struct nftnl_rule *r, int ok)
{
	return nft_batch_put_rule(x->b, r, ok, x->what);
}

static int
rules_verdict(struct nftnl_rule *r, int verdict)
{
	return nft_expr_verdict(r, verdict, NULL);
}

/* meta mark M VERDICT */
static int
rules_mark(struct rules_ctx *x, int verdict)
{
	struct nftnl_rule *r = rules_new(x, "meta mark");

	return rules_put(x, r,
	    r && nft_match_mark(r, x->c->mark) == 0 &&
		rules_verdict(r, verdict) == 0);
}

/* iifname/oifname [!=] NAME VERDICT */
static int
rules_ifname(struct rules_ctx *x, uint32_t key, uint32_t op, const char *name,
    int verdict)
{
	struct nftnl_rule *r = rules_new(x, "ifname");

	return rules_put(x, r,
	    r && nft_match_ifname(r, key, op, name) == 0 &&
		rules_verdict(r, verdict) == 0);
}

/* fib daddr type local VERDICT */
static int
rules_local(struct rules_ctx *x, int verdict)
{
	struct nftnl_rule *r = rules_new(x, "fib daddr type local");

	return rules_put(x, r,
	    r && nft_match_fib_daddr_type(r, RTN_LOCAL) == 0 &&
		rules_verdict(r, verdict) == 0);
}

/* [oifname OIF] ip/ip6 daddr PROXY tcp dport PORT VERDICT, for every
 * proxy; oif NULL: any interface */
static int
rules_proxies(struct rules_ctx *x, const char *oif, int verdict)
{
	struct nftnl_rule *r;
	size_t i;

	for (i = 0; i < x->c->n_proxies; i++) {
		const struct rules_proxy *p = &x->c->proxies[i];

		r = rules_new(x, "proxy address");
		if (rules_put(x, r,
			r &&
			    (oif == NULL ||
				nft_match_ifname(r, NFT_META_OIFNAME,
				    NFT_CMP_EQ, oif) == 0) &&
			    nft_match_daddr(r, p->addr.family, &p->addr.u,
				p->addr.family == AF_INET ? 32 : 128) == 0 &&
			    nft_match_dport(r, IPPROTO_TCP, p->port) == 0 &&
			    rules_verdict(r, verdict) == 0) == -1)
			return -1;
	}
	return 0;
}

/* ip/ip6 daddr CIDR VERDICT, for every bypass CIDR */
static int
rules_bypass(struct rules_ctx *x, int verdict)
{
	struct nftnl_rule *r;
	size_t i;

	for (i = 0; i < x->c->n_bypass; i++) {
		const struct netaddr_cidr *b = &x->c->bypass[i];

		r = rules_new(x, "bypass");
		if (rules_put(x, r,
			r &&
			    nft_match_daddr(r, b->addr.family, &b->addr.u,
				b->prefix) == 0 &&
			    rules_verdict(r, verdict) == 0) == -1)
			return -1;
	}
	return 0;
}

/* tcp dport 53 / udp dport 53 -> stub; other TCP -> redirector */
static int
rules_redirects(struct rules_ctx *x)
{
	static const uint8_t dns_protos[] = {IPPROTO_TCP, IPPROTO_UDP};
	struct nftnl_rule *r;
	size_t i;

	for (i = 0; i < sizeof(dns_protos); i++) {
		r = rules_new(x, "dns redirect");
		if (rules_put(x, r,
			r && nft_match_dport(r, dns_protos[i], 53) == 0 &&
			    nft_expr_redir(r, x->c->dns_port) == 0) == -1)
			return -1;
	}
	r = rules_new(x, "tcp redirect");
	return rules_put(x, r,
	    r && nft_match_l4proto(r, IPPROTO_TCP) == 0 &&
		nft_expr_redir(r, x->c->redirect_port) == 0);
}

/*
 * PROTO dport PORT socket mark != MARK drop (or reject): the port number
 * is anyone's (>= 1024), the mark only the agent's (SO_MARK needs
 * CAP_NET_ADMIN), so a socket of another user holding the port gets
 * nothing, whether the agent runs or not.  With no socket there the rule
 * does not match and the kernel refuses as it would.  A kernel without
 * nft_socket refuses the whole batch at this rule.
 */
static int
rules_owner(struct rules_ctx *x, uint8_t proto, uint16_t port, int is_reject)
{
	struct nftnl_rule *r;

	r = rules_new(x, "listener owner: socket mark (needs nft_socket)");
	return rules_put(x, r,
	    r && nft_match_dport(r, proto, port) == 0 &&
		nft_match_socket_mark(r, NFT_CMP_NEQ, x->c->mark) == 0 &&
		(is_reject ? nft_expr_reject(r, NFT_REJECT_ICMPX_UNREACH,
				 NFT_REJECT_ICMPX_PORT_UNREACH)
			   : rules_verdict(r, NF_DROP)) == 0);
}

/* the owner check; PROTO dport PORT ct status dnat accept;
 * PROTO dport PORT drop */
static int
rules_guard(struct rules_ctx *x, uint8_t proto, uint16_t port)
{
	struct nftnl_rule *r;

	if (rules_owner(x, proto, port, 0) == -1)
		return -1;
	r = rules_new(x, "listener guard");
	if (rules_put(x, r,
		r && nft_match_dport(r, proto, port) == 0 &&
		    nft_match_ct_status(r, IPS_DST_NAT) == 0 &&
		    rules_verdict(r, NF_ACCEPT) == 0) == -1)
		return -1;
	r = rules_new(x, "listener guard");
	return rules_put(x, r,
	    r && nft_match_dport(r, proto, port) == 0 &&
		rules_verdict(r, NF_DROP) == 0);
}

/* ct state established,related accept */
static int
rules_established(struct rules_ctx *x)
{
	struct nftnl_rule *r = rules_new(x, "ct state");

	return rules_put(x, r,
	    r &&
		nft_match_ct_state(r, NF_CT_STATE_BIT(IP_CT_ESTABLISHED) |
					  NF_CT_STATE_BIT(IP_CT_RELATED)) ==
		    0 &&
		rules_verdict(r, NF_ACCEPT) == 0);
}

/* oifname UPLINK udp dport P accept (allowed ports), then
 * oifname UPLINK meta l4proto udp reject */
static int
rules_udp_out(struct rules_ctx *x)
{
	struct nftnl_rule *r;
	size_t i;

	for (i = 0; i < x->c->n_allow_udp; i++) {
		r = rules_new(x, "allowed udp port");
		if (rules_put(x, r,
			r &&
			    nft_match_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ,
				x->c->uplink) == 0 &&
			    nft_match_dport(
				r, IPPROTO_UDP, x->c->allow_udp[i]) == 0 &&
			    rules_verdict(r, NF_ACCEPT) == 0) == -1)
			return -1;
	}
	r = rules_new(x, "udp reject");
	return rules_put(x, r,
	    r &&
		nft_match_ifname(
		    r, NFT_META_OIFNAME, NFT_CMP_EQ, x->c->uplink) == 0 &&
		nft_match_l4proto(r, IPPROTO_UDP) == 0 &&
		nft_expr_reject(r, NFT_REJECT_ICMPX_UNREACH,
		    NFT_REJECT_ICMPX_PORT_UNREACH) == 0);
}

/* oifname UPLINK ct state invalid drop: conntrack could not place it (a
 * SYN+FIN, a RST or FIN of no connection), so the nat chains never saw
 * it.  In output it comes after the agent's own sockets: only root can
 * mark one, and root can change these rules anyway. */
static int
rules_invalid(struct rules_ctx *x)
{
	struct nftnl_rule *r = rules_new(x, "ct state invalid");

	return rules_put(x, r,
	    r &&
		nft_match_ifname(
		    r, NFT_META_OIFNAME, NFT_CMP_EQ, x->c->uplink) == 0 &&
		nft_match_ct_state(r, NF_CT_STATE_INVALID_BIT) == 0 &&
		rules_verdict(r, NF_DROP) == 0);
}

/*
 * After the UDP rules, what else may leave the uplink: TCP to the proxy
 * (explicit-proxy clients; other TCP was redirected to a local port, or
 * is the agent's own), ICMP errors, and what IPv6 needs to keep the link
 * (router solicitation, neighbour discovery, MLD reports).  Everything
 * else - UDP-Lite, SCTP, ping, any other IP protocol - is refused
 * (administratively prohibited), so its sender fails at once.
 */
static int
rules_uplink_rest(struct rules_ctx *x)
{
	static const struct {
		int family;
		uint8_t first, last;
	} icmp[] = {
	    {AF_INET, ICMP_DEST_UNREACH, ICMP_DEST_UNREACH},
	    {AF_INET, ICMP_TIME_EXCEEDED, ICMP_PARAMETERPROB},
	    {AF_INET6, ICMP6_DST_UNREACH, ICMP6_PARAM_PROB},
	    {AF_INET6, MLD_LISTENER_REPORT, ND_ROUTER_SOLICIT},
	    {AF_INET6, ND_NEIGHBOR_SOLICIT, ND_NEIGHBOR_ADVERT},
	    {AF_INET6, RULES_MLD2_LISTENER_REPORT, RULES_MLD2_LISTENER_REPORT},
	};
	const char *up = x->c->uplink;
	struct nftnl_rule *r;
	size_t i;

	if (rules_proxies(x, up, NF_ACCEPT) == -1)
		return -1;
	for (i = 0; i < sizeof(icmp) / sizeof(icmp[0]); i++) {
		r = rules_new(x, "icmp type");
		if (rules_put(x, r,
			r &&
			    nft_match_ifname(
				r, NFT_META_OIFNAME, NFT_CMP_EQ, up) == 0 &&
			    nft_match_icmp_type(r, icmp[i].family,
				icmp[i].first, icmp[i].last) == 0 &&
			    rules_verdict(r, NF_ACCEPT) == 0) == -1)
			return -1;
	}
	r = rules_new(x, "uplink reject");
	return rules_put(x, r,
	    r && nft_match_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, up) == 0 &&
		nft_expr_reject(r, NFT_REJECT_ICMPX_UNREACH,
		    NFT_REJECT_ICMPX_ADMIN_PROHIBITED) == 0);
}

static int
rules_chain(struct rules_ctx *x, const char *name, const char *type,
    uint32_t hook, int32_t prio)
{
	struct nftnl_chain *ch;
	char what[NFT_WHAT_MAX];
	int rc;

	x->chain = name;
	ch = nft_chain_new_base(
	    RULES_FAMILY, RULES_TABLE, name, type, hook, prio, NF_ACCEPT);
	if (ch == NULL)
		return -1;
	snprintf(what, sizeof(what), "add chain %s", name);
	rc =
	    nft_batch_add_chain(x->b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, ch, what);
	nftnl_chain_free(ch);
	return rc;
}

static int rules_udp_sink(struct rules_ctx *x);

static int
rules_build_nat_output(struct rules_ctx *x)
{
	const char *up = x->c->uplink;

	if (rules_chain(x, "nat_output", "nat", NF_INET_LOCAL_OUT,
		RULES_NAT_PRIORITY) == -1 ||
	    rules_mark(x, NFT_RETURN) == -1 ||
	    rules_ifname(x, NFT_META_OIFNAME, NFT_CMP_EQ, "lo", NFT_RETURN) ==
		-1 ||
	    rules_local(x, NFT_RETURN) == -1 ||
	    /* the route is already chosen: only what leaves the uplink */
	    rules_ifname(x, NFT_META_OIFNAME, NFT_CMP_NEQ, up, NFT_RETURN) ==
		-1 ||
	    rules_proxies(x, NULL, NFT_RETURN) == -1 ||
	    rules_bypass(x, NFT_RETURN) == -1 || rules_redirects(x) == -1)
		return -1;
	/* after the DNS redirect: the VM's other UDP is refused at once */
	return rules_udp_sink(x);
}

/* udp dport P return (allowed ports); meta l4proto udp redirect to :SINK */
static int
rules_udp_sink(struct rules_ctx *x)
{
	struct nftnl_rule *r;
	size_t i;

	if (x->c->udp_sink_port == 0)
		return 0;
	for (i = 0; i < x->c->n_allow_udp; i++) {
		r = rules_new(x, "allowed udp port");
		if (rules_put(x, r,
			r &&
			    nft_match_dport(
				r, IPPROTO_UDP, x->c->allow_udp[i]) == 0 &&
			    rules_verdict(r, NFT_RETURN) == 0) == -1)
			return -1;
	}
	r = rules_new(x, "udp sink");
	return rules_put(x, r,
	    r && nft_match_l4proto(r, IPPROTO_UDP) == 0 &&
		nft_expr_redir(r, x->c->udp_sink_port) == 0);
}

static int
rules_build_nat_prerouting(struct rules_ctx *x)
{
	const char *up = x->c->uplink;
	struct nftnl_rule *r;

	if (rules_chain(x, "nat_prerouting", "nat", NF_INET_PRE_ROUTING,
		RULES_NAT_PRIORITY) == -1 ||
	    /* inbound from the host: ssh, published ports */
	    rules_ifname(x, NFT_META_IIFNAME, NFT_CMP_EQ, up, NFT_RETURN) ==
		-1 ||
	    rules_proxies(x, NULL, NFT_RETURN) == -1 ||
	    rules_local(x, NFT_RETURN) == -1)
		return -1;
	/* container to container, on this or another bridge */
	r = rules_new(x, "fib daddr oifname");
	if (rules_put(x, r,
		r && nft_match_fib_daddr_oifname(r, NFT_CMP_NEQ, up) == 0 &&
		    rules_verdict(r, NFT_RETURN) == 0) == -1)
		return -1;
	if (rules_bypass(x, NFT_RETURN) == -1)
		return -1;
	return rules_redirects(x);
}

static int
rules_build_filter(struct rules_ctx *x)
{
	const char *up = x->c->uplink;

	if (rules_chain(x, "filter_input", "filter", NF_INET_LOCAL_IN,
		RULES_INPUT_PRIORITY) == -1 ||
	    rules_guard(x, IPPROTO_TCP, x->c->redirect_port) == -1 ||
	    rules_guard(x, IPPROTO_TCP, x->c->dns_port) == -1 ||
	    rules_guard(x, IPPROTO_UDP, x->c->dns_port) == -1)
		return -1;
	/* nothing listens on the sink: the kernel's port unreachable is the
	 * answer, and a socket there must not get the VM's UDP instead; a
	 * reject fails the sender at once just the same */
	if (x->c->udp_sink_port != 0 &&
	    rules_owner(x, IPPROTO_UDP, x->c->udp_sink_port, 1) == -1)
		return -1;
	if (rules_chain(x, "filter_output", "filter", NF_INET_LOCAL_OUT, 0) ==
		-1 ||
	    /* the stub's UDP replies to containers need this */
	    rules_established(x) == -1 ||
	    rules_ifname(x, NFT_META_OIFNAME, NFT_CMP_EQ, "lo", NF_ACCEPT) ==
		-1 ||
	    rules_local(x, NF_ACCEPT) == -1 || rules_mark(x, NF_ACCEPT) == -1 ||
	    rules_invalid(x) == -1 || rules_bypass(x, NF_ACCEPT) == -1 ||
	    rules_udp_out(x) == -1 || rules_uplink_rest(x) == -1)
		return -1;
	if (rules_chain(x, "filter_forward", "filter", NF_INET_FORWARD, 0) ==
		-1 ||
	    rules_established(x) == -1 ||
	    rules_ifname(x, NFT_META_IIFNAME, NFT_CMP_EQ, up, NF_ACCEPT) ==
		-1 ||
	    rules_invalid(x) == -1 || rules_bypass(x, NF_ACCEPT) == -1 ||
	    rules_udp_out(x) == -1 || rules_uplink_rest(x) == -1)
		return -1;
	return 0;
}

int
rules_build(const struct rules_config *c, struct nft_batch *b)
{
	struct rules_ctx x;
	struct nftnl_table *t;
	char err[128];
	int rc;

	if (rules_config_check(c, err, sizeof(err)) == -1) {
		errno = EINVAL;
		return -1;
	}
	memset(&x, 0, sizeof(x));
	x.c = c;
	x.b = b;
	t = nft_table_new(RULES_FAMILY, RULES_TABLE, RULES_COMMENT);
	if (t == NULL)
		return -1;
	/* add; delete; add: an atomic replace whether or not it existed */
	rc = nft_batch_add_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, t,
	    "add table inet " RULES_TABLE);
	if (rc == 0)
		rc = nft_batch_add_table(b, NFT_MSG_DELTABLE, 0, t,
		    "delete table inet " RULES_TABLE);
	if (rc == 0)
		rc = nft_batch_add_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, t,
		    "add table inet " RULES_TABLE);
	nftnl_table_free(t);
	if (rc == -1 || rules_build_nat_output(&x) == -1 ||
	    rules_build_nat_prerouting(&x) == -1 ||
	    rules_build_filter(&x) == -1)
		return -1;
	return 0;
}

int
rules_apply(const struct rules_config *c, struct nft_error *err)
{
	struct nft_batch *b;
	int rc = -1, e = 0;

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	b = nft_batch_new();
	if (b == NULL || rules_build(c, b) == -1) {
		e = errno;
		if (err != NULL) {
			err->error = e;
			err->index = -1;
			snprintf(err->what, sizeof(err->what),
			    "building the ruleset");
		}
		goto out;
	}
	if (nft_batch_commit(b, err) == -1) {
		e = errno;
		goto out;
	}
	rc = 0;
out:
	nft_batch_free(b);
	if (rc == -1)
		errno = e;
	return rc;
}

int
rules_remove(struct nft_error *err)
{
	if (nft_table_delete(RULES_FAMILY, RULES_TABLE, err) == 0)
		return 0;
	if (errno == ENOENT) {
		if (err != NULL)
			memset(err, 0, sizeof(*err));
		return 0;
	}
	return -1;
}

int
rules_present(void)
{
	if (nft_table_get(RULES_FAMILY, RULES_TABLE, NULL, 0) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
}
