/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_nft.c - nf_tables batches and helpers.
 *
 * Pure tests: batch framing (begin/end markers, sequence numbers, ACK
 * flags), the message limit at and past it, userdata comments at and past
 * their limit, builder argument checks, the expressions a match compiles
 * to, error formatting.
 * Kernel tests (root: the process moves into a network namespace of its
 * own first; skipped otherwise): commit and read back, a failing message
 * reported by index with nothing applied, deletes, counters, listing, and
 * change notifications.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>

#include "link.h"
#include "nft.h"

static int has_netns;

#define NEED_NETNS()                                                           \
	do {                                                                   \
		if (!has_netns)                                                \
			skip();                                                \
	} while (0)

/* Expression names of a rule, comma separated. */
static void
rule_expr_names(const struct nftnl_rule *r, char *buf, size_t size)
{
	struct nftnl_expr_iter *it = nftnl_expr_iter_create(r);
	struct nftnl_expr *e;
	size_t len = 0;

	buf[0] = '\0';
	while ((e = nftnl_expr_iter_next(it)) != NULL) {
		len += (size_t)snprintf(buf + len, size - len, "%s%s",
		    len ? "," : "", nftnl_expr_get_str(e, NFTNL_EXPR_NAME));
		assert_true(len < size);
	}
	nftnl_expr_iter_destroy(it);
}

static void
test_batch_framing(void **state)
{
	struct nft_batch *b;
	struct nftnl_table *t;
	struct nftnl_chain *c;
	const struct nlmsghdr *nlh;
	const void *data;
	size_t len;
	uint32_t seq0;
	int left, i = 0;
	uint16_t types[8];

	(void)state;
	b = nft_batch_new();
	assert_non_null(b);
	t = nft_table_new(NFPROTO_INET, "t", "c");
	c = nft_chain_new(NFPROTO_INET, "t", "ch");
	assert_int_equal(nft_batch_add_table(
			     b, NFT_MSG_NEWTABLE, NLM_F_CREATE, t, "add table"),
	    0);
	assert_int_equal(nft_batch_add_chain(
			     b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, c, "add chain"),
	    0);
	assert_int_equal(
	    nft_batch_add_table(b, NFT_MSG_DELTABLE, 0, t, NULL), 0);
	assert_int_equal(nft_batch_count(b), 3);
	assert_string_equal(nft_batch_what(b, 0), "add table");
	assert_string_equal(nft_batch_what(b, 1), "add chain");
	assert_string_equal(nft_batch_what(b, 2), "");
	assert_null(nft_batch_what(b, 3));

	data = nft_batch_data(b, &len);
	left = (int)len;
	nlh = data;
	seq0 = nlh->nlmsg_seq;
	for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
		assert_true(i < 8);
		types[i] = nlh->nlmsg_type;
		/* consecutive sequence numbers map acks to messages */
		assert_int_equal(nlh->nlmsg_seq, seq0 + (uint32_t)i);
		if (i > 0 && i < 4) {
			assert_true(nlh->nlmsg_flags & NLM_F_ACK);
			assert_true(nlh->nlmsg_flags & NLM_F_REQUEST);
		}
		i++;
	}
	assert_int_equal(left, 0);
	assert_int_equal(i, 5);
	assert_int_equal(types[0], NFNL_MSG_BATCH_BEGIN);
	assert_int_equal(
	    types[1], (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWTABLE);
	assert_int_equal(
	    types[2], (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWCHAIN);
	assert_int_equal(
	    types[3], (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE);
	assert_int_equal(types[4], NFNL_MSG_BATCH_END);

	/* closed: nothing can be added any more */
	errno = 0;
	assert_int_equal(
	    nft_batch_add_table(b, NFT_MSG_NEWTABLE, 0, t, "x"), -1);
	assert_int_equal(errno, EINVAL);
	/* asking again returns the same bytes */
	assert_ptr_equal(nft_batch_data(b, &len), data);
	nftnl_table_free(t);
	nftnl_chain_free(c);
	nft_batch_free(b);
	nft_batch_free(NULL);
}

static void
test_batch_limit(void **state)
{
	struct nft_batch *b;
	struct nftnl_table *t;
	struct nft_error err;
	size_t i;

	(void)state;
	b = nft_batch_new();
	t = nft_table_new(NFPROTO_INET, "t", NULL);
	assert_non_null(b);
	assert_non_null(t);
	for (i = 0; i < NFT_BATCH_MAX_MSGS; i++)
		assert_int_equal(
		    nft_batch_add_table(b, NFT_MSG_NEWTABLE, 0, t, "add table"),
		    0);
	assert_int_equal(nft_batch_count(b), NFT_BATCH_MAX_MSGS);
	errno = 0;
	assert_int_equal(
	    nft_batch_add_table(b, NFT_MSG_NEWTABLE, 0, t, "x"), -1);
	assert_int_equal(errno, E2BIG);
	assert_int_equal(nft_batch_count(b), NFT_BATCH_MAX_MSGS);
	/* a batch that could not be built completely is never sent */
	assert_int_equal(nft_batch_commit(b, &err), -1);
	assert_int_equal(err.error, EINVAL);
	assert_int_equal(err.index, -1);
	nftnl_table_free(t);
	nft_batch_free(b);
}

static void
test_batch_what_truncated(void **state)
{
	struct nft_batch *b = nft_batch_new();
	struct nftnl_table *t = nft_table_new(NFPROTO_INET, "t", NULL);
	char what[NFT_WHAT_MAX + 10];

	(void)state;
	memset(what, 'w', sizeof(what) - 1);
	what[sizeof(what) - 1] = '\0';
	assert_int_equal(
	    nft_batch_add_table(b, NFT_MSG_NEWTABLE, 0, t, what), 0);
	assert_int_equal(strlen(nft_batch_what(b, 0)), NFT_WHAT_MAX - 1);
	nftnl_table_free(t);
	nft_batch_free(b);
}

static void
test_udata_comment(void **state)
{
	unsigned char ud[NFT_COMMENT_MAX + 8];
	char big[NFT_COMMENT_MAX + 1], out[NFT_COMMENT_MAX];
	int n;

	(void)state;
	n = nft_udata_comment_put("hello", ud, sizeof(ud));
	assert_int_equal(n, 8);
	assert_int_equal(ud[0], 0);
	assert_int_equal(ud[1], 6);
	assert_int_equal(
	    nft_udata_comment_get(ud, (size_t)n, out, sizeof(out)), 0);
	assert_string_equal(out, "hello");
	/* the buffer for the text: exactly enough, one short */
	assert_int_equal(nft_udata_comment_get(ud, (size_t)n, out, 6), 0);
	assert_int_equal(nft_udata_comment_get(ud, (size_t)n, out, 5), -1);
	/* out too small for put */
	assert_int_equal(nft_udata_comment_put("hello", ud, 7), -1);
	assert_int_equal(nft_udata_comment_put("hello", ud, 8), 8);

	/* the limit: NFT_COMMENT_MAX - 2 characters fit, one more does not */
	memset(big, 'c', sizeof(big));
	big[NFT_COMMENT_MAX - 2] = '\0';
	assert_int_equal(
	    nft_udata_comment_put(big, ud, sizeof(ud)), NFT_COMMENT_MAX + 1);
	big[NFT_COMMENT_MAX - 2] = 'c';
	big[NFT_COMMENT_MAX - 1] = '\0';
	assert_int_equal(nft_udata_comment_put(big, ud, sizeof(ud)), -1);

	/* found after another TLV */
	{
		const unsigned char two[] = {1, 2, 'x', 'y', 0, 3, 'a', 'b', 0};

		assert_int_equal(
		    nft_udata_comment_get(two, sizeof(two), out, sizeof(out)),
		    0);
		assert_string_equal(out, "ab");
		/* truncated input */
		assert_int_equal(nft_udata_comment_get(
				     two, sizeof(two) - 1, out, sizeof(out)),
		    -1);
	}
	/* absent, empty, no NUL, NUL inside */
	{
		const unsigned char other[] = {1, 1, 'x'};
		const unsigned char empty[] = {0, 0};
		const unsigned char nonul[] = {0, 2, 'a', 'b'};
		const unsigned char inner[] = {0, 3, 'a', 0, 0};

		assert_int_equal(nft_udata_comment_get(
				     other, sizeof(other), out, sizeof(out)),
		    -1);
		assert_int_equal(nft_udata_comment_get(
				     empty, sizeof(empty), out, sizeof(out)),
		    -1);
		assert_int_equal(nft_udata_comment_get(
				     nonul, sizeof(nonul), out, sizeof(out)),
		    -1);
		assert_int_equal(nft_udata_comment_get(
				     inner, sizeof(inner), out, sizeof(out)),
		    -1);
		assert_int_equal(
		    nft_udata_comment_get(NULL, 0, out, sizeof(out)), -1);
	}
	/* a comment too long for the constructors */
	memset(big, 'c', sizeof(big));
	big[NFT_COMMENT_MAX - 1] = '\0';
	assert_null(nft_table_new(NFPROTO_INET, "t", big));
	assert_null(nft_rule_new(NFPROTO_INET, "t", "c", big));
}

static void
test_builder_args(void **state)
{
	struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, "t", "c", NULL);
	struct in_addr a4;
	struct in6_addr a6;

	(void)state;
	assert_non_null(r);
	errno = 0;
	assert_int_equal(
	    nft_match_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ, ""), -1);
	assert_int_equal(errno, EINVAL);
	/* IFNAMSIZ - 1 characters fit, IFNAMSIZ do not */
	assert_int_equal(nft_match_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ,
			     "abcdefghijklmno"),
	    0);
	assert_int_equal(nft_match_ifname(r, NFT_META_IIFNAME, NFT_CMP_EQ,
			     "abcdefghijklmnop"),
	    -1);
	assert_int_equal(
	    nft_match_fib_daddr_oifname(r, NFT_CMP_NEQ, "abcdefghijklmnop"),
	    -1);

	inet_pton(AF_INET, "10.0.0.0", &a4);
	assert_int_equal(nft_match_daddr(r, AF_INET, &a4, 8), 0);
	assert_int_equal(nft_match_daddr(r, AF_INET, &a4, 32), 0);
	assert_int_equal(nft_match_daddr(r, AF_INET, &a4, 33), -1);
	assert_int_equal(nft_match_daddr(r, AF_INET, &a4, -1), -1);
	inet_pton(AF_INET, "10.0.0.1", &a4);
	/* host bits set */
	errno = 0;
	assert_int_equal(nft_match_daddr(r, AF_INET, &a4, 31), -1);
	assert_int_equal(errno, EINVAL);
	inet_pton(AF_INET6, "fd00::", &a6);
	assert_int_equal(nft_match_daddr(r, AF_INET6, &a6, 128), 0);
	assert_int_equal(nft_match_daddr(r, AF_INET6, &a6, 129), -1);
	assert_int_equal(nft_match_daddr(r, AF_UNIX, &a6, 8), -1);

	/* jump and goto need a chain; other verdicts must not have one */
	assert_int_equal(nft_expr_verdict(r, NFT_JUMP, NULL), -1);
	assert_int_equal(nft_expr_verdict(r, NF_ACCEPT, "c"), -1);
	assert_int_equal(nft_expr_verdict(r, NFT_GOTO, "c"), 0);
	nftnl_rule_free(r);
}

static void
test_match_exprs(void **state)
{
	static const struct {
		int family;
		const char *addr;
		int prefix;
		const char *exprs;
	} cases[] = {
	    {AF_INET, "10.1.2.0", 23, "meta,cmp,payload,bitwise,cmp"},
	    {AF_INET, "192.168.222.1", 32, "meta,cmp,payload,cmp"},
	    {AF_INET6, "fd00::", 8, "meta,cmp,payload,bitwise,cmp"},
	    {AF_INET6, "::1", 128, "meta,cmp,payload,cmp"},
	    {AF_INET, "0.0.0.0", 0, "meta,cmp,payload,bitwise,cmp"},
	};
	struct nftnl_rule *r;
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	char names[256], comment[NFT_COMMENT_MAX];
	unsigned char addr[16];
	uint64_t p, by;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = nft_rule_new(NFPROTO_INET, "t", "c", NULL);
		assert_int_equal(
		    inet_pton(cases[i].family, cases[i].addr, addr), 1);
		assert_int_equal(
		    nft_match_daddr(r, cases[i].family, addr, cases[i].prefix),
		    0);
		rule_expr_names(r, names, sizeof(names));
		assert_string_equal(names, cases[i].exprs);
		nftnl_rule_free(r);
	}

	r = nft_rule_new(NFPROTO_INET, "t", "c", "hello");
	assert_int_equal(nft_match_dport(r, IPPROTO_TCP, 53), 0);
	assert_int_equal(nft_expr_redir(r, 15053), 0);
	assert_int_equal(nft_expr_counter(r), 0);
	rule_expr_names(r, names, sizeof(names));
	assert_string_equal(
	    names, "meta,cmp,payload,cmp,immediate,redir,counter");
	assert_int_equal(nft_rule_comment(r, comment, sizeof(comment)), 0);
	assert_string_equal(comment, "hello");
	nft_rule_counters(r, &p, &by);
	assert_true(p == 0 && by == 0);
	nftnl_rule_free(r);

	r = nft_rule_new(NFPROTO_INET, "t", "c", NULL);
	assert_int_equal(nft_rule_comment(r, comment, sizeof(comment)), -1);
	assert_int_equal(nft_match_ct_state(r, 6), 0);
	assert_int_equal(nft_match_icmpv6_type(r, 135), 0);
	assert_int_equal(nft_match_fib_daddr_type(r, 2), 0);
	assert_int_equal(nft_expr_lookup(r, "s", 1, 1), 0);
	rule_expr_names(r, names, sizeof(names));
	assert_string_equal(names, "ct,bitwise,cmp,meta,cmp,meta,cmp,payload,"
				   "cmp,fib,cmp,lookup");
	nftnl_rule_free(r);

	/* one ICMP type is one compare, a range two; a bad family or an
	 * empty range is refused */
	r = nft_rule_new(NFPROTO_INET, "t", "c", NULL);
	assert_int_equal(nft_match_icmp_type(r, AF_INET, 3, 3), 0);
	assert_int_equal(nft_match_icmp_type(r, AF_INET6, 1, 4), 0);
	assert_int_equal(nft_match_icmp_type(r, AF_UNIX, 1, 4), -1);
	assert_int_equal(nft_match_icmp_type(r, AF_INET6, 4, 1), -1);
	rule_expr_names(r, names, sizeof(names));
	assert_string_equal(names, "meta,cmp,meta,cmp,payload,cmp,"
				   "meta,cmp,meta,cmp,payload,cmp,cmp");
	nftnl_rule_free(r);

	r = nft_rule_new(NFPROTO_INET, "t", "c", NULL);
	assert_int_equal(nft_match_socket_mark(r, NFT_CMP_NEQ, 0x534c4900u), 0);
	rule_expr_names(r, names, sizeof(names));
	assert_string_equal(names, "socket,cmp");
	it = nftnl_expr_iter_create(r);
	e = nftnl_expr_iter_next(it);
	assert_int_equal(
	    nftnl_expr_get_u32(e, NFTNL_EXPR_SOCKET_KEY), NFT_SOCKET_MARK);
	assert_int_equal(
	    nftnl_expr_get_u32(e, NFTNL_EXPR_SOCKET_DREG), NFT_REG_1);
	nftnl_expr_iter_destroy(it);
	nftnl_rule_free(r);
}

static void
test_error_format(void **state)
{
	struct nft_error e;
	char buf[256];

	(void)state;
	memset(&e, 0, sizeof(e));
	e.error = ENOENT;
	e.index = 2;
	snprintf(e.what, sizeof(e.what), "add rule x");
	assert_string_equal(nft_error_format(&e, buf, sizeof(buf)),
	    "message 3 (add rule x): No such file or directory");
	snprintf(e.msg, sizeof(e.msg), "detail");
	assert_string_equal(nft_error_format(&e, buf, sizeof(buf)),
	    "message 3 (add rule x): No such file or directory (detail)");
	e.index = -1;
	e.msg[0] = '\0';
	e.what[0] = '\0';
	e.error = EPERM;
	assert_string_equal(nft_error_format(&e, buf, sizeof(buf)),
	    "batch: Operation not permitted");
	/* a short buffer is cut, not overrun */
	nft_error_format(&e, buf, 6);
	assert_string_equal(buf, "batch");
}

/*
 * Kernel tests
 */

static int
put_table_chain_rule(
    struct nft_batch *b, const char *table, const char *jump_to)
{
	struct nftnl_table *t = nft_table_new(NFPROTO_INET, table, "mine");
	struct nftnl_chain *c = nft_chain_new_base(NFPROTO_INET, table, "out",
	    "filter", NF_INET_LOCAL_OUT, 0, NF_ACCEPT);
	struct nftnl_rule *r = nft_rule_new(NFPROTO_INET, table, "out", "r1");
	int rc;

	rc = nft_batch_add_table(
		 b, NFT_MSG_NEWTABLE, NLM_F_CREATE, t, "add table") |
	     nft_batch_add_chain(
		 b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, c, "add chain") |
	     nft_batch_put_rule(b, r,
		 nft_match_ifname(r, NFT_META_OIFNAME, NFT_CMP_EQ, "lo") == 0 &&
		     nft_expr_counter(r) == 0 &&
		     nft_expr_verdict(
			 r, jump_to ? NFT_JUMP : NF_ACCEPT, jump_to) == 0,
		 "add rule r1");
	nftnl_table_free(t);
	nftnl_chain_free(c);
	return rc;
}

struct seen {
	int n;
	char names[8][NFT_NAME_MAX];
};

static int
table_cb(uint16_t family, const char *name, void *arg)
{
	struct seen *s = arg;

	if (family == NFPROTO_INET && s->n < 8)
		snprintf(s->names[s->n++], NFT_NAME_MAX, "%s", name);
	return 0;
}

static int
chain_cb(const struct nftnl_chain *c, void *arg)
{
	struct seen *s = arg;

	if (s->n < 8)
		snprintf(s->names[s->n++], NFT_NAME_MAX, "%s",
		    nftnl_chain_get_str(c, NFTNL_CHAIN_NAME));
	return 0;
}

struct rule_seen {
	int n;
	char comment[NFT_COMMENT_MAX];
	uint64_t packets;
};

static int
rule_cb(const struct nftnl_rule *r, void *arg)
{
	struct rule_seen *s = arg;
	uint64_t p, b;

	s->n++;
	(void)nft_rule_comment(r, s->comment, sizeof(s->comment));
	nft_rule_counters(r, &p, &b);
	s->packets += p;
	return 0;
}

static void
test_kernel_commit(void **state)
{
	struct nft_batch *b;
	struct nft_error err;
	struct seen s;
	struct rule_seen rs;
	char comment[NFT_COMMENT_MAX];
	int fd;
	struct sockaddr_in sin;

	(void)state;
	NEED_NETNS();
	b = nft_batch_new();
	assert_int_equal(put_table_chain_rule(b, "t1", NULL), 0);
	assert_int_equal(nft_batch_commit(b, &err), 0);
	assert_int_equal(err.error, 0);
	nft_batch_free(b);

	assert_int_equal(
	    nft_table_get(NFPROTO_INET, "t1", comment, sizeof(comment)), 0);
	assert_string_equal(comment, "mine");
	assert_int_equal(nft_table_get(NFPROTO_INET, "t1", NULL, 0), 0);
	errno = 0;
	assert_int_equal(nft_table_get(NFPROTO_INET, "nope", NULL, 0), -1);
	assert_int_equal(errno, ENOENT);
	/* same name, other family */
	assert_int_equal(nft_table_get(NFPROTO_IPV4, "t1", NULL, 0), -1);

	memset(&s, 0, sizeof(s));
	assert_int_equal(nft_table_list(NFPROTO_UNSPEC, table_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "t1");
	memset(&s, 0, sizeof(s));
	assert_int_equal(nft_chain_list(NFPROTO_INET, "t1", chain_cb, &s), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.names[0], "out");

	/* traffic over lo moves the counter */
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true(
	    sendto(fd, "x", 1, 0, (struct sockaddr *)&sin, sizeof(sin)) == 1);
	close(fd);
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(
	    nft_rule_list(NFPROTO_INET, "t1", "out", rule_cb, &rs), 0);
	assert_int_equal(rs.n, 1);
	assert_string_equal(rs.comment, "r1");
	assert_true(rs.packets >= 1);
	memset(&rs, 0, sizeof(rs));
	assert_int_equal(
	    nft_rule_list(NFPROTO_INET, "t1", NULL, rule_cb, &rs), 0);
	assert_int_equal(rs.n, 1);
	memset(&rs, 0, sizeof(rs));
	/* a chain that does not exist has no rules */
	assert_int_equal(
	    nft_rule_list(NFPROTO_INET, "t1", "nochain", rule_cb, &rs), 0);
	assert_int_equal(rs.n, 0);

	assert_int_equal(nft_table_delete(NFPROTO_INET, "t1", &err), 0);
	errno = 0;
	assert_int_equal(nft_table_get(NFPROTO_INET, "t1", NULL, 0), -1);
	assert_int_equal(errno, ENOENT);
	/* deleting what is not there: ENOENT on message 1 */
	assert_int_equal(nft_table_delete(NFPROTO_INET, "t1", &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(err.error, ENOENT);
	assert_int_equal(err.index, 0);
	assert_string_equal(err.what, "delete table t1");
}

static void
test_kernel_error_index(void **state)
{
	struct nft_batch *b;
	struct nft_error err;
	struct nftnl_rule *r;
	char what[32];
	int i;

	(void)state;
	NEED_NETNS();
	/* messages 0..2 fine, then good rules, the bad one at index 6 */
	b = nft_batch_new();
	assert_int_equal(put_table_chain_rule(b, "t2", NULL), 0);
	for (i = 0; i < 3; i++) {
		r = nft_rule_new(NFPROTO_INET, "t2", "out", NULL);
		snprintf(what, sizeof(what), "good %d", i);
		assert_int_equal(
		    nft_batch_put_rule(b, r, nft_expr_counter(r) == 0, what),
		    0);
	}
	r = nft_rule_new(NFPROTO_INET, "t2", "out", NULL);
	assert_int_equal(
	    nft_batch_put_rule(b, r,
		nft_expr_verdict(r, NFT_JUMP, "missing") == 0, "bad jump"),
	    0);
	r = nft_rule_new(NFPROTO_INET, "t2", "out", NULL);
	assert_int_equal(
	    nft_batch_put_rule(b, r, nft_expr_counter(r) == 0, "after"), 0);
	errno = 0;
	assert_int_equal(nft_batch_commit(b, &err), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(err.error, ENOENT);
	assert_int_equal(err.index, 6);
	assert_string_equal(err.what, "bad jump");
	nft_batch_free(b);
	/* all or nothing: the table from the same batch is not there */
	assert_int_equal(nft_table_get(NFPROTO_INET, "t2", NULL, 0), -1);
	assert_int_equal(errno, ENOENT);

	/* an unsupported hook for the expression: fib oifname in output */
	b = nft_batch_new();
	assert_int_equal(put_table_chain_rule(b, "t3", NULL), 0);
	r = nft_rule_new(NFPROTO_INET, "t3", "out", NULL);
	assert_int_equal(
	    nft_batch_put_rule(b, r,
		nft_match_fib_daddr_oifname(r, NFT_CMP_NEQ, "eth0") == 0,
		"fib oifname"),
	    0);
	assert_int_equal(nft_batch_commit(b, &err), -1);
	assert_int_equal(err.index, 3);
	assert_string_equal(err.what, "fib oifname");
	assert_int_equal(err.error, EOPNOTSUPP);
	nft_batch_free(b);
	assert_int_equal(nft_table_get(NFPROTO_INET, "t3", NULL, 0), -1);
}

static void
test_kernel_replace(void **state)
{
	struct nft_batch *b;
	struct nft_error err;
	struct nftnl_table *t;
	struct rule_seen rs;
	int round;

	(void)state;
	NEED_NETNS();
	/* add; delete; add: the same result whether it existed or not */
	for (round = 0; round < 2; round++) {
		b = nft_batch_new();
		t = nft_table_new(NFPROTO_INET, "t4", "mine");
		assert_int_equal(nft_batch_add_table(b, NFT_MSG_NEWTABLE,
				     NLM_F_CREATE, t, "add"),
		    0);
		assert_int_equal(
		    nft_batch_add_table(b, NFT_MSG_DELTABLE, 0, t, "del"), 0);
		assert_int_equal(put_table_chain_rule(b, "t4", NULL), 0);
		nftnl_table_free(t);
		assert_int_equal(nft_batch_commit(b, &err), 0);
		nft_batch_free(b);
		memset(&rs, 0, sizeof(rs));
		assert_int_equal(
		    nft_rule_list(NFPROTO_INET, "t4", "out", rule_cb, &rs), 0);
		assert_int_equal(rs.n, 1);
	}
	assert_int_equal(nft_table_delete(NFPROTO_INET, "t4", NULL), 0);
}

struct events {
	int newtable;
	int deltable;
	int newgen;
	int other;
};

static void
event_cb(const struct nft_event *ev, void *arg)
{
	struct events *e = arg;

	if (ev->type == NFT_MSG_NEWGEN)
		e->newgen++;
	else if (strcmp(ev->table, "t5") != 0 || ev->family != NFPROTO_INET)
		e->other++;
	else if (ev->type == NFT_MSG_NEWTABLE)
		e->newtable++;
	else if (ev->type == NFT_MSG_DELTABLE)
		e->deltable++;
}

static void
test_kernel_monitor(void **state)
{
	struct nft_monitor *m;
	struct nft_batch *b;
	struct nftnl_table *t;
	struct events ev;
	struct pollfd p;
	int i, n;

	(void)state;
	NEED_NETNS();
	m = nft_monitor_open();
	assert_non_null(m);
	memset(&ev, 0, sizeof(ev));
	/* nothing pending yet */
	assert_int_equal(nft_monitor_read(m, event_cb, &ev), 0);

	b = nft_batch_new();
	t = nft_table_new(NFPROTO_INET, "t5", NULL);
	assert_int_equal(
	    nft_batch_add_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, t, "add"),
	    0);
	assert_int_equal(nft_batch_commit(b, NULL), 0);
	nft_batch_free(b);
	nftnl_table_free(t);
	assert_int_equal(nft_table_delete(NFPROTO_INET, "t5", NULL), 0);

	p.fd = nft_monitor_fd(m);
	p.events = POLLIN;
	for (i = 0; i < 50 && (ev.deltable == 0 || ev.newgen < 2); i++) {
		if (poll(&p, 1, 100) <= 0)
			continue;
		n = nft_monitor_read(m, event_cb, &ev);
		assert_true(n >= 0);
	}
	assert_int_equal(ev.newtable, 1);
	assert_int_equal(ev.deltable, 1);
	assert_true(ev.newgen >= 2);
	nft_monitor_close(m);
	nft_monitor_close(NULL);
}

static int
setup_netns(void **state)
{
	(void)state;
	if (geteuid() == 0 && unshare(CLONE_NEWNET) == 0) {
		has_netns = 1;
		/* lo is down in a new namespace */
		if (link_set_up("lo") == -1)
			return -1;
	}
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batch_framing),
	    cmocka_unit_test(test_batch_limit),
	    cmocka_unit_test(test_batch_what_truncated),
	    cmocka_unit_test(test_udata_comment),
	    cmocka_unit_test(test_builder_args),
	    cmocka_unit_test(test_match_exprs),
	    cmocka_unit_test(test_error_format),
	    cmocka_unit_test(test_kernel_commit),
	    cmocka_unit_test(test_kernel_error_index),
	    cmocka_unit_test(test_kernel_replace),
	    cmocka_unit_test(test_kernel_monitor),
	};

	return cmocka_run_group_tests(tests, setup_netns, NULL);
}
