/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nft.c - nf_tables batches, expression builders, queries and change
 * notifications on top of libnftnl and our mnl.c.
 *
 * A batch is one buffer: BATCH_BEGIN, the messages, BATCH_END, each with
 * NLM_F_ACK and consecutive sequence numbers, so every acknowledgement or
 * error maps back to the message (and its description) that caused it.
 * The kernel processes the whole batch inside sendmsg() and then applies
 * all of it or nothing.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_nat.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>

#include "nft.h"

#ifndef NETLINK_EXT_ACK
#define NETLINK_EXT_ACK 11
#endif
#ifndef NETLINK_CAP_ACK
#define NETLINK_CAP_ACK 10
#endif

/* Receive buffer for acknowledgements and dumps (one datagram). */
#define NFT_RECV_BUF (64 * 1024)

struct nft_batch {
	char *buf; /* owned */
	size_t len;
	size_t cap;
	char (*what)[NFT_WHAT_MAX]; /* owned, one per message */
	size_t n;
	size_t what_cap;
	uint32_t seq0; /* sequence number of the begin marker */
	int is_closed; /* end marker written */
	int is_broken; /* an append failed: never send */
};

/*
 * Batches
 */

static uint32_t
nft_seq_base(void)
{
	struct timespec ts;

	/* only needs to differ between runs; replies go to our own port */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)(ts.tv_sec * 1000 + ts.tv_nsec / 1000000) | 1u;
}

struct nft_batch *
nft_batch_new(void)
{
	struct nft_batch *b;

	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->cap = 2 * NFT_MSG_RESERVE;
	b->buf = malloc(b->cap);
	if (b->buf == NULL) {
		free(b);
		return NULL;
	}
	b->seq0 = nft_seq_base();
	nftnl_batch_begin(b->buf, b->seq0);
	b->len = ((struct nlmsghdr *)b->buf)->nlmsg_len;
	return b;
}

void
nft_batch_free(struct nft_batch *b)
{
	if (b == NULL)
		return;
	free(b->buf);
	free(b->what);
	free(b);
}

/* Make room for one more message; its header goes at b->buf + b->len. */
static int
nft_batch_reserve(struct nft_batch *b)
{
	char *nbuf;
	size_t ncap;
	void *nwhat;

	if (b->is_closed || b->is_broken) {
		errno = EINVAL;
		return -1;
	}
	if (b->n >= NFT_BATCH_MAX_MSGS || b->len > NFT_BATCH_MAX_BYTES) {
		b->is_broken = 1;
		errno = E2BIG;
		return -1;
	}
	if (b->cap - b->len < NFT_MSG_RESERVE) {
		ncap = b->len + 2 * NFT_MSG_RESERVE;
		nbuf = realloc(b->buf, ncap);
		if (nbuf == NULL) {
			b->is_broken = 1;
			return -1;
		}
		b->buf = nbuf;
		b->cap = ncap;
	}
	if (b->n == b->what_cap) {
		ncap = b->what_cap ? 2 * b->what_cap : 32;
		nwhat = realloc(b->what, ncap * sizeof(*b->what));
		if (nwhat == NULL) {
			b->is_broken = 1;
			return -1;
		}
		b->what = nwhat;
		b->what_cap = ncap;
	}
	return 0;
}

static struct nlmsghdr *
nft_batch_hdr(
    struct nft_batch *b, uint16_t type, uint16_t family, uint16_t flags)
{
	return nftnl_nlmsg_build_hdr(b->buf + b->len, type, family,
	    flags | NLM_F_ACK, b->seq0 + 1 + (uint32_t)b->n);
}

/* Account for the message just built at b->buf + b->len. */
static int
nft_batch_commit_msg(struct nft_batch *b, const char *what)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)(b->buf + b->len);

	if (nlh->nlmsg_len > NFT_MSG_RESERVE) {
		/* the builder ran past the reserve: memory is not ours */
		abort();
	}
	snprintf(b->what[b->n], NFT_WHAT_MAX, "%s", what ? what : "");
	b->len += MNL_ALIGN(nlh->nlmsg_len);
	b->n++;
	return 0;
}

int
nft_batch_add_table(struct nft_batch *b, uint16_t type, uint16_t flags,
    const struct nftnl_table *t, const char *what)
{
	struct nlmsghdr *nlh;

	if (nft_batch_reserve(b) == -1)
		return -1;
	nlh = nft_batch_hdr(b, type,
	    (uint16_t)nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), flags);
	nftnl_table_nlmsg_build_payload(nlh, t);
	return nft_batch_commit_msg(b, what);
}

int
nft_batch_add_chain(struct nft_batch *b, uint16_t type, uint16_t flags,
    const struct nftnl_chain *c, const char *what)
{
	struct nlmsghdr *nlh;

	if (nft_batch_reserve(b) == -1)
		return -1;
	nlh = nft_batch_hdr(b, type,
	    (uint16_t)nftnl_chain_get_u32(c, NFTNL_CHAIN_FAMILY), flags);
	nftnl_chain_nlmsg_build_payload(nlh, c);
	return nft_batch_commit_msg(b, what);
}

int
nft_batch_add_rule(struct nft_batch *b, uint16_t type, uint16_t flags,
    struct nftnl_rule *r, const char *what)
{
	struct nlmsghdr *nlh;

	if (nft_batch_reserve(b) == -1)
		return -1;
	nlh = nft_batch_hdr(
	    b, type, (uint16_t)nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY), flags);
	nftnl_rule_nlmsg_build_payload(nlh, r);
	return nft_batch_commit_msg(b, what);
}

int
nft_batch_add_set(struct nft_batch *b, uint16_t type, uint16_t flags,
    struct nftnl_set *s, const char *what)
{
	struct nlmsghdr *nlh;

	if (nft_batch_reserve(b) == -1)
		return -1;
	nlh = nft_batch_hdr(
	    b, type, (uint16_t)nftnl_set_get_u32(s, NFTNL_SET_FAMILY), flags);
	nftnl_set_nlmsg_build_payload(nlh, s);
	return nft_batch_commit_msg(b, what);
}

int
nft_batch_add_setelems(struct nft_batch *b, uint16_t type, uint16_t flags,
    struct nftnl_set *s, const char *what)
{
	struct nlmsghdr *nlh;

	if (nft_batch_reserve(b) == -1)
		return -1;
	nlh = nft_batch_hdr(
	    b, type, (uint16_t)nftnl_set_get_u32(s, NFTNL_SET_FAMILY), flags);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	return nft_batch_commit_msg(b, what);
}

int
nft_batch_put_rule(
    struct nft_batch *b, struct nftnl_rule *r, int built_ok, const char *what)
{
	int rc = -1;

	if (r == NULL)
		return -1;
	if (built_ok)
		rc = nft_batch_add_rule(
		    b, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, r, what);
	/* else errno is what the failing builder set */
	nftnl_rule_free(r);
	return rc;
}

size_t
nft_batch_count(const struct nft_batch *b)
{
	return b->n;
}

const char *
nft_batch_what(const struct nft_batch *b, size_t i)
{
	return i < b->n ? b->what[i] : NULL;
}

static void
nft_batch_close(struct nft_batch *b)
{
	struct nlmsghdr *nlh;

	if (b->is_closed)
		return;
	/* nft_batch_reserve left at least NFT_MSG_RESERVE free */
	nlh = nftnl_batch_end(b->buf + b->len, b->seq0 + 1 + (uint32_t)b->n);
	b->len += MNL_ALIGN(nlh->nlmsg_len);
	b->is_closed = 1;
}

const void *
nft_batch_data(struct nft_batch *b, size_t *len)
{
	nft_batch_close(b);
	*len = b->len;
	return b->buf;
}

/*
 * Sockets
 */

static struct mnl_socket *
nft_socket_open(size_t sndbuf, size_t rcvbuf)
{
	struct mnl_socket *nl;
	int one = 1, fd, v;

	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl == NULL)
		return NULL;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		int e = errno;

		mnl_socket_close(nl);
		errno = e;
		return NULL;
	}
	/* short acks (no copy of our message) and the kernel's error text */
	(void)mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one));
	(void)mnl_socket_setsockopt(nl, NETLINK_EXT_ACK, &one, sizeof(one));
	fd = mnl_socket_get_fd(nl);
	/* the whole batch is one datagram; every ack must fit while queued.
	 * FORCE needs CAP_NET_ADMIN, which changing nf_tables needs anyway. */
	if (sndbuf > 0) {
		v = (int)sndbuf;
		if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &v, sizeof(v)))
			(void)setsockopt(
			    fd, SOL_SOCKET, SO_SNDBUF, &v, sizeof(v));
	}
	if (rcvbuf > 0) {
		v = (int)rcvbuf;
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)))
			(void)setsockopt(
			    fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	}
	return nl;
}

static void
nft_error_set(struct nft_error *err, int error, int index, const char *what)
{
	if (err == NULL)
		return;
	err->error = error;
	err->index = index;
	snprintf(err->what, sizeof(err->what), "%s", what ? what : "");
}

/* The extended-ack message of an NLMSG_ERROR, if the kernel sent one. */
static void
nft_error_extack(const struct nlmsghdr *nlh, char *buf, size_t size)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	size_t off;
	const char *end = (const char *)nlh + nlh->nlmsg_len;

	buf[0] = '\0';
	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return;
	/* with NETLINK_CAP_ACK only the header of our message is echoed,
	 * unless the kernel ignored the option */
	off = sizeof(*e);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	a = mnl_nlmsg_get_payload_offset(nlh, off);
	while (mnl_attr_ok(a, (int)(end - (const char *)a))) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
			snprintf(buf, size, "%s", mnl_attr_get_str(a));
			return;
		}
		a = mnl_attr_next(a);
	}
}

static int
nft_poll_in(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	int n;

	do {
		n = poll(&p, 1, timeout_ms);
	} while (n == -1 && errno == EINTR);
	return n;
}

static int64_t
nft_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
nft_batch_commit(struct nft_batch *b, struct nft_error *err)
{
	struct mnl_socket *nl = NULL;
	unsigned char *acked = NULL;
	char *rbuf = NULL;
	size_t nacked = 0;
	int64_t deadline;
	uint32_t portid;
	int rc = -1, e = 0, fail_index = -2, fd, left;
	ssize_t n;
	char extmsg[sizeof(err->msg)] = "";

	if (err != NULL)
		memset(err, 0, sizeof(*err));
	if (b->is_broken) {
		nft_error_set(err, EINVAL, -1, "batch could not be built");
		errno = EINVAL;
		return -1;
	}
	nft_batch_close(b);
	acked = calloc(b->n + 1, 1);
	rbuf = malloc(NFT_RECV_BUF);
	if (acked == NULL || rbuf == NULL) {
		e = ENOMEM;
		nft_error_set(err, e, -1, "out of memory");
		goto out;
	}
	nl = nft_socket_open(b->len + 4096, 256 * 1024 + b->n * 2048);
	if (nl == NULL) {
		e = errno;
		nft_error_set(err, e, -1, "netlink socket");
		goto out;
	}
	fd = mnl_socket_get_fd(nl);
	portid = mnl_socket_get_portid(nl);
	n = mnl_socket_sendto(nl, b->buf, b->len);
	if (n == -1 || (size_t)n != b->len) {
		e = n == -1 ? errno : EMSGSIZE;
		nft_error_set(err, e, -1, "sending the batch");
		goto out;
	}
	deadline = nft_now_ms() + NFT_ACK_TIMEOUT_MS;
	while (nacked < b->n) {
		int64_t wait = deadline - nft_now_ms();
		const struct nlmsghdr *nlh;

		/* after an error the rest is already queued: do not wait */
		if (fail_index != -2)
			wait = 0;
		if (wait < 0)
			wait = 0;
		if (nft_poll_in(fd, (int)wait) <= 0) {
			if (fail_index != -2)
				break;
			e = ETIMEDOUT;
			nft_error_set(
			    err, e, (int)nacked, "no acknowledgement");
			goto out;
		}
		n = recv(fd, rbuf, NFT_RECV_BUF, MSG_DONTWAIT);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			e = errno;
			/* ENOBUFS: acks were dropped; the outcome is unknown */
			nft_error_set(err, e, -1, "reading acknowledgements");
			goto out;
		}
		left = (int)n;
		for (nlh = (const struct nlmsghdr *)rbuf;
		     mnl_nlmsg_ok(nlh, left);
		     nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *me;
			uint32_t d;
			int64_t idx;

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_pid != portid ||
			    nlh->nlmsg_len <
				mnl_nlmsg_size(sizeof(struct nlmsgerr)))
				continue;
			me = mnl_nlmsg_get_payload(nlh);
			/* unsigned: right across a sequence number wrap */
			d = nlh->nlmsg_seq - b->seq0 - 1;
			idx = d < b->n ? (int64_t)d : -1;
			if (me->error == 0) {
				if (idx >= 0 && !acked[idx]) {
					acked[idx] = 1;
					nacked++;
				}
				continue;
			}
			/* keep the first failing message in batch order; the
			 * begin marker (commit failure) or the end marker
			 * count as the whole batch (idx -1) */
			if (fail_index == -2 ||
			    (idx >= 0 &&
				(fail_index == -1 || idx < fail_index))) {
				fail_index = (int)idx;
				e = -me->error;
				nft_error_extack(nlh, extmsg, sizeof(extmsg));
			}
		}
	}
	if (fail_index != -2) {
		nft_error_set(err, e, fail_index,
		    fail_index >= 0 ? b->what[fail_index] : "batch");
		goto out;
	}
	rc = 0;
out:
	if (rc == -1 && err != NULL)
		snprintf(err->msg, sizeof(err->msg), "%s", extmsg);
	mnl_socket_close(nl);
	free(acked);
	free(rbuf);
	if (rc == -1)
		errno = e ? e : EIO;
	return rc;
}

const char *
nft_error_format(const struct nft_error *e, char *buf, size_t size)
{
	char where[NFT_WHAT_MAX + 32];

	if (e->index >= 0)
		snprintf(where, sizeof(where), "message %d (%s)", e->index + 1,
		    e->what);
	else
		snprintf(
		    where, sizeof(where), "%s", e->what[0] ? e->what : "batch");
	if (e->msg[0] != '\0')
		snprintf(buf, size, "%s: %s (%s)", where, strerror(e->error),
		    e->msg);
	else
		snprintf(buf, size, "%s: %s", where, strerror(e->error));
	return buf;
}

/*
 * Userdata comments
 */

int
nft_udata_comment_put(const char *comment, void *out, size_t size)
{
	size_t len = strlen(comment) + 1;
	unsigned char *p = out;

	if (len >= NFT_COMMENT_MAX || size < len + 2)
		return -1;
	p[0] = 0; /* NFTNL_UDATA_{TABLE,CHAIN,RULE}_COMMENT */
	p[1] = (unsigned char)len;
	memcpy(p + 2, comment, len);
	return (int)(len + 2);
}

int
nft_udata_comment_get(const void *data, size_t len, char *buf, size_t size)
{
	const unsigned char *p = data;
	size_t off = 0, l;

	while (off + 2 <= len) {
		l = p[off + 1];
		if (off + 2 + l > len)
			return -1;
		if (p[off] == 0) {
			if (l == 0 || p[off + 2 + l - 1] != '\0' ||
			    strlen((const char *)p + off + 2) + 1 != l ||
			    l > size)
				return -1;
			memcpy(buf, p + off + 2, l);
			return 0;
		}
		off += 2 + l;
	}
	return -1;
}

/*
 * Constructors
 */

struct nftnl_table *
nft_table_new(uint16_t family, const char *name, const char *comment)
{
	struct nftnl_table *t;
	unsigned char ud[NFT_COMMENT_MAX + 2];
	int n;

	t = nftnl_table_alloc();
	if (t == NULL)
		return NULL;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, family);
	if (nftnl_table_set_str(t, NFTNL_TABLE_NAME, name) < 0)
		goto fail;
	if (comment != NULL) {
		n = nft_udata_comment_put(comment, ud, sizeof(ud));
		if (n < 0 || nftnl_table_set_data(
				 t, NFTNL_TABLE_USERDATA, ud, (uint32_t)n) < 0)
			goto fail;
	}
	return t;
fail:
	nftnl_table_free(t);
	errno = EINVAL;
	return NULL;
}

struct nftnl_chain *
nft_chain_new(uint16_t family, const char *table, const char *name)
{
	struct nftnl_chain *c;

	c = nftnl_chain_alloc();
	if (c == NULL)
		return NULL;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
	if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table) < 0 ||
	    nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name) < 0) {
		nftnl_chain_free(c);
		return NULL;
	}
	return c;
}

struct nftnl_chain *
nft_chain_new_base(uint16_t family, const char *table, const char *name,
    const char *type, uint32_t hook, int32_t prio, uint32_t policy)
{
	struct nftnl_chain *c;

	c = nft_chain_new(family, table, name);
	if (c == NULL)
		return NULL;
	if (nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, type) < 0) {
		nftnl_chain_free(c);
		return NULL;
	}
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, hook);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, prio);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, policy);
	return c;
}

struct nftnl_rule *
nft_rule_new(
    uint16_t family, const char *table, const char *chain, const char *comment)
{
	struct nftnl_rule *r;
	unsigned char ud[NFT_COMMENT_MAX + 2];
	int n;

	r = nftnl_rule_alloc();
	if (r == NULL)
		return NULL;
	nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, family);
	if (nftnl_rule_set_str(r, NFTNL_RULE_TABLE, table) < 0)
		goto fail;
	if (chain != NULL && nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain) < 0)
		goto fail;
	if (comment != NULL) {
		n = nft_udata_comment_put(comment, ud, sizeof(ud));
		if (n < 0 || nftnl_rule_set_data(
				 r, NFTNL_RULE_USERDATA, ud, (uint32_t)n) < 0)
			goto fail;
	}
	return r;
fail:
	nftnl_rule_free(r);
	errno = EINVAL;
	return NULL;
}

/*
 * Expressions
 */

static struct nftnl_expr *
nft_expr_new(const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc(name);

	if (e == NULL)
		errno = ENOMEM;
	return e;
}

int
nft_expr_meta(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nft_expr_new("meta");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_cmp(struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nft_expr_new("cmp");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
	if (nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len) < 0) {
		nftnl_expr_free(e);
		errno = EINVAL;
		return -1;
	}
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_payload(
    struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len)
{
	struct nftnl_expr *e = nft_expr_new("payload");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
	nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_bitwise(
    struct nftnl_rule *r, const void *mask, const void *xorv, uint32_t len)
{
	struct nftnl_expr *e = nft_expr_new("bitwise");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
	if (nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, mask, len) < 0 ||
	    nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, xorv, len) < 0) {
		nftnl_expr_free(e);
		errno = EINVAL;
		return -1;
	}
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_fib(struct nftnl_rule *r, uint32_t flags, uint32_t result)
{
	struct nftnl_expr *e = nft_expr_new("fib");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_FLAGS, flags);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_RESULT, result);
	nftnl_expr_set_u32(e, NFTNL_EXPR_FIB_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_ct(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nft_expr_new("ct");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_socket(struct nftnl_rule *r, uint32_t key)
{
	struct nftnl_expr *e = nft_expr_new("socket");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_KEY, key);
	nftnl_expr_set_u32(e, NFTNL_EXPR_SOCKET_DREG, NFT_REG_1);
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_immediate(struct nftnl_rule *r, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nft_expr_new("immediate");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_1);
	if (nftnl_expr_set(e, NFTNL_EXPR_IMM_DATA, data, len) < 0) {
		nftnl_expr_free(e);
		errno = EINVAL;
		return -1;
	}
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_redir(struct nftnl_rule *r, uint16_t port)
{
	struct nftnl_expr *e;
	uint16_t nport = htons(port);

	if (nft_expr_immediate(r, &nport, sizeof(nport)) == -1)
		return -1;
	e = nft_expr_new("redir");
	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_REDIR_REG_PROTO_MIN, NFT_REG_1);
	nftnl_expr_set_u32(
	    e, NFTNL_EXPR_REDIR_FLAGS, NF_NAT_RANGE_PROTO_SPECIFIED);
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_reject(struct nftnl_rule *r, uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nft_expr_new("reject");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
	nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_verdict(struct nftnl_rule *r, int verdict, const char *chain)
{
	struct nftnl_expr *e;

	if ((verdict == NFT_JUMP || verdict == NFT_GOTO) != (chain != NULL)) {
		errno = EINVAL;
		return -1;
	}
	e = nft_expr_new("immediate");
	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	if (chain != NULL &&
	    nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain) < 0) {
		nftnl_expr_free(e);
		errno = ENOMEM;
		return -1;
	}
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_counter(struct nftnl_rule *r)
{
	struct nftnl_expr *e = nft_expr_new("counter");

	if (e == NULL)
		return -1;
	nftnl_rule_add_expr(r, e);
	return 0;
}

int
nft_expr_lookup(
    struct nftnl_rule *r, const char *set, uint32_t set_id, int is_vmap)
{
	struct nftnl_expr *e = nft_expr_new("lookup");

	if (e == NULL)
		return -1;
	nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	if (is_vmap)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
	if (set_id != 0)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, set_id);
	if (nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set) < 0) {
		nftnl_expr_free(e);
		errno = ENOMEM;
		return -1;
	}
	nftnl_rule_add_expr(r, e);
	return 0;
}

/*
 * Matches
 */

int
nft_match_ifname(
    struct nftnl_rule *r, uint32_t meta_key, uint32_t op, const char *name)
{
	char buf[IFNAMSIZ];
	size_t len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ) {
		errno = EINVAL;
		return -1;
	}
	/* nft compares all 16 bytes, zero padded */
	memset(buf, 0, sizeof(buf));
	memcpy(buf, name, len);
	if (nft_expr_meta(r, meta_key) == -1)
		return -1;
	return nft_expr_cmp(r, op, buf, sizeof(buf));
}

int
nft_match_l4proto(struct nftnl_rule *r, uint8_t proto)
{
	if (nft_expr_meta(r, NFT_META_L4PROTO) == -1)
		return -1;
	return nft_expr_cmp(r, NFT_CMP_EQ, &proto, sizeof(proto));
}

int
nft_match_dport(struct nftnl_rule *r, uint8_t proto, uint16_t port)
{
	uint16_t nport = htons(port);

	if (nft_match_l4proto(r, proto) == -1 ||
	    nft_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2) == -1)
		return -1;
	return nft_expr_cmp(r, NFT_CMP_EQ, &nport, sizeof(nport));
}

int
nft_match_daddr(struct nftnl_rule *r, int family, const void *addr, int prefix)
{
	uint8_t nfproto, mask[16], zero[16];
	uint32_t len, off;
	int i;

	if (family == AF_INET) {
		nfproto = NFPROTO_IPV4;
		len = 4;
		off = 16; /* struct iphdr daddr */
	} else if (family == AF_INET6) {
		nfproto = NFPROTO_IPV6;
		len = 16;
		off = 24; /* struct ipv6hdr daddr */
	} else {
		errno = EINVAL;
		return -1;
	}
	if (prefix < 0 || prefix > (int)len * 8) {
		errno = EINVAL;
		return -1;
	}
	memset(mask, 0, sizeof(mask));
	memset(zero, 0, sizeof(zero));
	for (i = 0; i < prefix; i++)
		mask[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	for (i = 0; i < (int)len; i++) {
		if (((const uint8_t *)addr)[i] & ~mask[i]) {
			errno = EINVAL; /* host bits set */
			return -1;
		}
	}
	if (nft_expr_meta(r, NFT_META_NFPROTO) == -1 ||
	    nft_expr_cmp(r, NFT_CMP_EQ, &nfproto, sizeof(nfproto)) == -1 ||
	    nft_expr_payload(r, NFT_PAYLOAD_NETWORK_HEADER, off, len) == -1)
		return -1;
	if (prefix < (int)len * 8 && nft_expr_bitwise(r, mask, zero, len) == -1)
		return -1;
	return nft_expr_cmp(r, NFT_CMP_EQ, addr, len);
}

int
nft_match_mark(struct nftnl_rule *r, uint32_t mark)
{
	if (nft_expr_meta(r, NFT_META_MARK) == -1)
		return -1;
	return nft_expr_cmp(r, NFT_CMP_EQ, &mark, sizeof(mark));
}

int
nft_match_socket_mark(struct nftnl_rule *r, uint32_t op, uint32_t mark)
{
	if (nft_expr_socket(r, NFT_SOCKET_MARK) == -1)
		return -1;
	return nft_expr_cmp(r, op, &mark, sizeof(mark));
}

int
nft_match_fib_daddr_type(struct nftnl_rule *r, uint32_t rtn_type)
{
	if (nft_expr_fib(r, NFTA_FIB_F_DADDR, NFT_FIB_RESULT_ADDRTYPE) == -1)
		return -1;
	return nft_expr_cmp(r, NFT_CMP_EQ, &rtn_type, sizeof(rtn_type));
}

int
nft_match_fib_daddr_oifname(struct nftnl_rule *r, uint32_t op, const char *name)
{
	char buf[IFNAMSIZ];
	size_t len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ) {
		errno = EINVAL;
		return -1;
	}
	memset(buf, 0, sizeof(buf));
	memcpy(buf, name, len);
	if (nft_expr_fib(r, NFTA_FIB_F_DADDR, NFT_FIB_RESULT_OIFNAME) == -1)
		return -1;
	return nft_expr_cmp(r, op, buf, sizeof(buf));
}

/* KEY & bits != 0, on a host-order u32 */
static int
nft_match_ct_bits(struct nftnl_rule *r, uint32_t key, uint32_t bits)
{
	uint32_t zero = 0;

	if (nft_expr_ct(r, key) == -1 ||
	    nft_expr_bitwise(r, &bits, &zero, sizeof(bits)) == -1)
		return -1;
	return nft_expr_cmp(r, NFT_CMP_NEQ, &zero, sizeof(zero));
}

int
nft_match_ct_state(struct nftnl_rule *r, uint32_t bits)
{
	return nft_match_ct_bits(r, NFT_CT_STATE, bits);
}

int
nft_match_ct_status(struct nftnl_rule *r, uint32_t bits)
{
	return nft_match_ct_bits(r, NFT_CT_STATUS, bits);
}

int
nft_match_icmpv6_type(struct nftnl_rule *r, uint8_t type)
{
	uint8_t nfproto = NFPROTO_IPV6;

	if (nft_expr_meta(r, NFT_META_NFPROTO) == -1 ||
	    nft_expr_cmp(r, NFT_CMP_EQ, &nfproto, sizeof(nfproto)) == -1 ||
	    nft_match_l4proto(r, IPPROTO_ICMPV6) == -1 ||
	    nft_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1) == -1)
		return -1;
	return nft_expr_cmp(r, NFT_CMP_EQ, &type, sizeof(type));
}

int
nft_match_icmp_type(
    struct nftnl_rule *r, int family, uint8_t first, uint8_t last)
{
	uint8_t nfproto, proto;

	if ((family != AF_INET && family != AF_INET6) || first > last) {
		errno = EINVAL;
		return -1;
	}
	nfproto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	proto = family == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
	if (nft_expr_meta(r, NFT_META_NFPROTO) == -1 ||
	    nft_expr_cmp(r, NFT_CMP_EQ, &nfproto, sizeof(nfproto)) == -1 ||
	    nft_match_l4proto(r, proto) == -1 ||
	    nft_expr_payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1) == -1)
		return -1;
	if (first == last)
		return nft_expr_cmp(r, NFT_CMP_EQ, &first, sizeof(first));
	/* a range is two compares, as nft writes it */
	if (nft_expr_cmp(r, NFT_CMP_GTE, &first, sizeof(first)) == -1)
		return -1;
	return nft_expr_cmp(r, NFT_CMP_LTE, &last, sizeof(last));
}

/*
 * Queries
 */

struct nft_dump {
	uint16_t msg; /* NFT_MSG_NEW* expected in the reply */
	int (*parse)(const struct nlmsghdr *nlh, struct nft_dump *d);
	const char *table; /* filter, may be NULL */
	const char *chain; /* filter, may be NULL */
	void *cb;          /* nft_*_cb */
	void *arg;
	int cb_rc;     /* non-zero: the callback stopped the walk */
	int found;     /* for single GETs */
	char *comment; /* for nft_table_get */
	size_t comment_size;
};

static int
nft_dump_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nft_dump *d = data;

	if (NFNL_MSG_TYPE(nlh->nlmsg_type) != d->msg ||
	    NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES)
		return MNL_CB_OK;
	if (d->cb_rc != 0)
		return MNL_CB_OK; /* drain the rest of the dump */
	return d->parse(nlh, d);
}

/*
 * Send one GET request and run the replies through d until the dump ends
 * (NLMSG_DONE) or the request is acknowledged.  Returns 0 or -1 + errno.
 */
static int
nft_query(uint16_t type, uint16_t family, uint16_t flags,
    const struct nftnl_table *t, const struct nftnl_chain *c,
    struct nftnl_rule *r, struct nft_dump *d)
{
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	char *buf;
	uint32_t seq, portid;
	ssize_t n;
	int ret, rc = -1, e = 0, i;

	buf = malloc(NFT_RECV_BUF);
	if (buf == NULL)
		return -1;
	nl = nft_socket_open(0, 0);
	if (nl == NULL) {
		e = errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	seq = nft_seq_base();
	nlh = nftnl_nlmsg_build_hdr(buf, type, family, flags | NLM_F_ACK, seq);
	if (t != NULL)
		nftnl_table_nlmsg_build_payload(nlh, t);
	else if (c != NULL)
		nftnl_chain_nlmsg_build_payload(nlh, c);
	else if (r != NULL)
		nftnl_rule_nlmsg_build_payload(nlh, r);
	if (mnl_socket_sendto(nl, buf, nlh->nlmsg_len) == -1) {
		e = errno;
		goto out;
	}
	/* bounded: a dump of even a huge ruleset is far fewer datagrams */
	for (i = 0; i < 1000000; i++) {
		if (nft_poll_in(mnl_socket_get_fd(nl), NFT_ACK_TIMEOUT_MS) <=
		    0) {
			e = ETIMEDOUT;
			goto out;
		}
		n = mnl_socket_recvfrom(nl, buf, NFT_RECV_BUF);
		if (n == -1) {
			e = errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, nft_dump_cb, d);
		if (ret == MNL_CB_ERROR) {
			e = errno;
			goto out;
		}
		if (ret == MNL_CB_STOP) {
			rc = 0;
			goto out;
		}
	}
	e = EIO;
out:
	mnl_socket_close(nl);
	free(buf);
	if (rc == -1)
		errno = e;
	return rc;
}

static int
nft_parse_table(const struct nlmsghdr *nlh, struct nft_dump *d)
{
	struct nftnl_table *t = nftnl_table_alloc();
	const char *name;
	const void *ud;
	uint32_t udlen = 0;
	int rc = MNL_CB_OK;

	if (t == NULL)
		return MNL_CB_ERROR;
	if (nftnl_table_nlmsg_parse(nlh, t) < 0)
		goto out;
	name = nftnl_table_get_str(t, NFTNL_TABLE_NAME);
	if (name == NULL)
		goto out;
	if (d->cb == NULL) {
		/* a single GET */
		d->found = 1;
		if (d->comment != NULL) {
			d->comment[0] = '\0';
			ud = nftnl_table_get_data(
			    t, NFTNL_TABLE_USERDATA, &udlen);
			if (ud != NULL)
				(void)nft_udata_comment_get(
				    ud, udlen, d->comment, d->comment_size);
		}
		goto out;
	}
	d->cb_rc = ((nft_table_cb)d->cb)(
	    (uint16_t)nftnl_table_get_u32(t, NFTNL_TABLE_FAMILY), name, d->arg);
out:
	nftnl_table_free(t);
	return rc;
}

int
nft_table_get(uint16_t family, const char *name, char *comment, size_t size)
{
	struct nft_dump d;
	struct nftnl_table *t;
	int rc;

	t = nft_table_new(family, name, NULL);
	if (t == NULL)
		return -1;
	memset(&d, 0, sizeof(d));
	d.msg = NFT_MSG_NEWTABLE;
	d.parse = nft_parse_table;
	d.comment = comment;
	d.comment_size = size;
	if (comment != NULL && size > 0)
		comment[0] = '\0';
	rc = nft_query(NFT_MSG_GETTABLE, family, 0, t, NULL, NULL, &d);
	nftnl_table_free(t);
	if (rc == 0 && !d.found) {
		errno = ENOENT;
		rc = -1;
	}
	return rc;
}

int
nft_table_delete(uint16_t family, const char *name, struct nft_error *err)
{
	struct nft_batch *b;
	struct nftnl_table *t;
	char what[NFT_WHAT_MAX];
	int rc = -1, e = 0;

	b = nft_batch_new();
	t = nft_table_new(family, name, NULL);
	if (b == NULL || t == NULL) {
		e = errno;
		nft_error_set(err, e, -1, "out of memory");
		goto out;
	}
	snprintf(what, sizeof(what), "delete table %s", name);
	if (nft_batch_add_table(b, NFT_MSG_DELTABLE, 0, t, what) == -1 ||
	    nft_batch_commit(b, err) == -1) {
		e = errno;
		goto out;
	}
	rc = 0;
out:
	nftnl_table_free(t);
	nft_batch_free(b);
	if (rc == -1)
		errno = e;
	return rc;
}

int
nft_table_list(uint16_t family, nft_table_cb cb, void *arg)
{
	struct nft_dump d;

	memset(&d, 0, sizeof(d));
	d.msg = NFT_MSG_NEWTABLE;
	d.parse = nft_parse_table;
	d.cb = (void *)cb;
	d.arg = arg;
	if (nft_query(NFT_MSG_GETTABLE, family, NLM_F_DUMP, NULL, NULL, NULL,
		&d) == -1)
		return -1;
	return d.cb_rc;
}

static int
nft_str_eq(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static int
nft_parse_chain(const struct nlmsghdr *nlh, struct nft_dump *d)
{
	struct nftnl_chain *c = nftnl_chain_alloc();

	if (c == NULL)
		return MNL_CB_ERROR;
	if (nftnl_chain_nlmsg_parse(nlh, c) == 0 &&
	    nft_str_eq(nftnl_chain_get_str(c, NFTNL_CHAIN_TABLE), d->table))
		d->cb_rc = ((nft_chain_cb)d->cb)(c, d->arg);
	nftnl_chain_free(c);
	return MNL_CB_OK;
}

int
nft_chain_list(uint16_t family, const char *table, nft_chain_cb cb, void *arg)
{
	struct nft_dump d;
	struct nftnl_chain *c;
	int rc;

	/* the table in the request; the callback filters by table too */
	c = nftnl_chain_alloc();
	if (c == NULL)
		return -1;
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, family);
	if (nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, table) < 0) {
		nftnl_chain_free(c);
		errno = ENOMEM;
		return -1;
	}
	memset(&d, 0, sizeof(d));
	d.msg = NFT_MSG_NEWCHAIN;
	d.parse = nft_parse_chain;
	d.table = table;
	d.cb = (void *)cb;
	d.arg = arg;
	rc = nft_query(NFT_MSG_GETCHAIN, family, NLM_F_DUMP, NULL, c, NULL, &d);
	nftnl_chain_free(c);
	return rc == -1 ? -1 : d.cb_rc;
}

static int
nft_parse_rule(const struct nlmsghdr *nlh, struct nft_dump *d)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (r == NULL)
		return MNL_CB_ERROR;
	if (nftnl_rule_nlmsg_parse(nlh, r) == 0 &&
	    nft_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_TABLE), d->table) &&
	    (d->chain == NULL ||
		nft_str_eq(nftnl_rule_get_str(r, NFTNL_RULE_CHAIN), d->chain)))
		d->cb_rc = ((nft_rule_cb)d->cb)(r, d->arg);
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

int
nft_rule_list(uint16_t family, const char *table, const char *chain,
    nft_rule_cb cb, void *arg)
{
	struct nft_dump d;
	struct nftnl_rule *r;
	int rc;

	r = nft_rule_new(family, table, chain, NULL);
	if (r == NULL)
		return -1;
	memset(&d, 0, sizeof(d));
	d.msg = NFT_MSG_NEWRULE;
	d.parse = nft_parse_rule;
	d.table = table;
	d.chain = chain;
	d.cb = (void *)cb;
	d.arg = arg;
	rc = nft_query(NFT_MSG_GETRULE, family, NLM_F_DUMP, NULL, NULL, r, &d);
	nftnl_rule_free(r);
	return rc == -1 ? -1 : d.cb_rc;
}

void
nft_rule_counters(
    const struct nftnl_rule *r, uint64_t *packets, uint64_t *bytes)
{
	struct nftnl_expr_iter *it;
	struct nftnl_expr *e;
	const char *name;

	*packets = 0;
	*bytes = 0;
	it = nftnl_expr_iter_create(r);
	if (it == NULL)
		return;
	while ((e = nftnl_expr_iter_next(it)) != NULL) {
		name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
		if (name == NULL || strcmp(name, "counter") != 0)
			continue;
		*packets += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_PACKETS);
		*bytes += nftnl_expr_get_u64(e, NFTNL_EXPR_CTR_BYTES);
	}
	nftnl_expr_iter_destroy(it);
}

int
nft_rule_comment(const struct nftnl_rule *r, char *buf, size_t size)
{
	const void *ud;
	uint32_t len = 0;

	ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
	if (ud == NULL)
		return -1;
	return nft_udata_comment_get(ud, len, buf, size);
}

/*
 * Change notifications
 */

struct nft_monitor {
	struct mnl_socket *nl; /* owned */
	char *buf;             /* owned, NFT_RECV_BUF */
};

struct nft_monitor *
nft_monitor_open(void)
{
	struct nft_monitor *m;
	int e;

	m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->buf = malloc(NFT_RECV_BUF);
	m->nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK);
	if (m->buf == NULL || m->nl == NULL)
		goto fail;
	if (mnl_socket_bind(
		m->nl, 1u << (NFNLGRP_NFTABLES - 1), MNL_SOCKET_AUTOPID) == -1)
		goto fail;
	return m;
fail:
	e = errno;
	nft_monitor_close(m);
	errno = e;
	return NULL;
}

int
nft_monitor_fd(const struct nft_monitor *m)
{
	return mnl_socket_get_fd(m->nl);
}

/* Table name: attribute 1 of every object message (NFTA_*_TABLE /
 * NFTA_TABLE_NAME); NEWGEN carries the generation id there instead. */
static void
nft_event_table(const struct nlmsghdr *nlh, char *buf, size_t size)
{
	const struct nlattr *a;
	const char *end = (const char *)nlh + nlh->nlmsg_len;

	buf[0] = '\0';
	if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWGEN)
		return;
	a = mnl_nlmsg_get_payload_offset(nlh, sizeof(struct nfgenmsg));
	while (mnl_attr_ok(a, (int)(end - (const char *)a))) {
		if (mnl_attr_get_type(a) == 1 &&
		    mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0) {
			snprintf(buf, size, "%s", mnl_attr_get_str(a));
			return;
		}
		a = mnl_attr_next(a);
	}
}

int
nft_monitor_read(struct nft_monitor *m, nft_event_cb cb, void *arg)
{
	const struct nlmsghdr *nlh;
	const struct nfgenmsg *g;
	struct nft_event ev;
	ssize_t n;
	int count = 0, left;

	n = mnl_socket_recvfrom(m->nl, m->buf, NFT_RECV_BUF);
	if (n == -1)
		return errno == EAGAIN ? 0 : -1;
	left = (int)n;
	for (nlh = (const struct nlmsghdr *)m->buf; mnl_nlmsg_ok(nlh, left);
	     nlh = mnl_nlmsg_next(nlh, &left)) {
		if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
		    nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*g)))
			continue;
		g = mnl_nlmsg_get_payload(nlh);
		memset(&ev, 0, sizeof(ev));
		ev.type = NFNL_MSG_TYPE(nlh->nlmsg_type);
		ev.family = g->nfgen_family;
		nft_event_table(nlh, ev.table, sizeof(ev.table));
		cb(&ev, arg);
		count++;
	}
	return count;
}

void
nft_monitor_close(struct nft_monitor *m)
{
	if (m == NULL)
		return;
	mnl_socket_close(m->nl);
	free(m->buf);
	free(m);
}
