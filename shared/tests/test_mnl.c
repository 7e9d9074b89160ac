/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_mnl.c - our libmnl subset: attribute put/get/parse/validate,
 * nesting, bounds-checked putters at and past the buffer end, message
 * iteration, batches (overflow and reset), the receive callback loop, and
 * one real NETLINK_ROUTE round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <cmocka.h>
#include <libmnl/libmnl.h>

/* A message buffer aligned for struct nlmsghdr. */
union msgbuf {
	struct nlmsghdr nlh;
	char buf[1024];
};

static void
test_header(void **state)
{
	union msgbuf m;
	struct nlmsghdr *nlh;
	uint32_t *extra;

	(void)state;
	memset(&m, 0xaa, sizeof(m));
	nlh = mnl_nlmsg_put_header(m.buf);
	assert_ptr_equal(nlh, m.buf);
	assert_int_equal(nlh->nlmsg_len, MNL_NLMSG_HDRLEN);
	assert_int_equal(nlh->nlmsg_type, 0);
	assert_int_equal(nlh->nlmsg_flags, 0);
	assert_int_equal(nlh->nlmsg_seq, 0);
	/* extra header: aligned up and zeroed */
	extra = mnl_nlmsg_put_extra_header(nlh, 3);
	assert_ptr_equal(extra, m.buf + MNL_NLMSG_HDRLEN);
	assert_int_equal(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + 4);
	assert_int_equal(*extra, 0);
	assert_int_equal(mnl_nlmsg_get_payload_len(nlh), 4);
	assert_ptr_equal(mnl_nlmsg_get_payload(nlh), extra);
	assert_ptr_equal(
	    mnl_nlmsg_get_payload_offset(nlh, 3), m.buf + MNL_NLMSG_HDRLEN + 4);
	assert_ptr_equal(mnl_nlmsg_get_payload_tail(nlh), m.buf + 20);
	assert_int_equal(mnl_nlmsg_size(4), MNL_NLMSG_HDRLEN + 4);
}

static void
test_attr_put_get(void **state)
{
	union msgbuf m;
	struct nlmsghdr *nlh;
	struct nlattr *a;
	uint64_t big = 0x0102030405060708ULL;

	(void)state;
	memset(&m, 0xaa, sizeof(m));
	nlh = mnl_nlmsg_put_header(m.buf);
	mnl_attr_put_u8(nlh, 1, 0x11);
	mnl_attr_put_u16(nlh, 2, 0x2222);
	mnl_attr_put_u32(nlh, 3, 0x33333333);
	mnl_attr_put_u64(nlh, 4, big);
	mnl_attr_put_str(nlh, 5, "abc");
	mnl_attr_put_strz(nlh, 6, "abc");
	mnl_attr_put(nlh, 7, 0, NULL);
	/* 16 + 8 + 8 + 8 + 12 + 8 + 8 + 4 */
	assert_int_equal(nlh->nlmsg_len, 72);

	a = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(mnl_attr_get_type(a), 1);
	assert_int_equal(mnl_attr_get_len(a), 5);
	assert_int_equal(mnl_attr_get_payload_len(a), 1);
	assert_int_equal(mnl_attr_get_u8(a), 0x11);
	/* padding is zeroed, not left as it was */
	assert_int_equal(((unsigned char *)a)[5], 0);
	assert_int_equal(((unsigned char *)a)[7], 0);
	a = mnl_attr_next(a);
	assert_int_equal(mnl_attr_get_u16(a), 0x2222);
	a = mnl_attr_next(a);
	assert_int_equal(mnl_attr_get_u32(a), 0x33333333);
	a = mnl_attr_next(a);
	assert_true(mnl_attr_get_u64(a) == big);
	a = mnl_attr_next(a);
	assert_int_equal(mnl_attr_get_payload_len(a), 3);
	assert_memory_equal(mnl_attr_get_str(a), "abc", 3);
	a = mnl_attr_next(a);
	assert_int_equal(mnl_attr_get_payload_len(a), 4);
	assert_string_equal(mnl_attr_get_str(a), "abc");
	a = mnl_attr_next(a);
	assert_int_equal(mnl_attr_get_type(a), 7);
	assert_int_equal(mnl_attr_get_payload_len(a), 0);
	a = mnl_attr_next(a);
	assert_ptr_equal(a, mnl_nlmsg_get_payload_tail(nlh));
}

static void
test_attr_type_flags(void **state)
{
	union msgbuf m;
	struct nlmsghdr *nlh;
	struct nlattr *a;

	(void)state;
	nlh = mnl_nlmsg_put_header(m.buf);
	mnl_attr_put_u32(nlh, NLA_F_NESTED | NLA_F_NET_BYTEORDER | 9, 1);
	a = mnl_nlmsg_get_payload(nlh);
	/* flags are not part of the type */
	assert_int_equal(mnl_attr_get_type(a), 9);
	assert_int_equal(mnl_attr_type_valid(a, 9), 1);
	errno = 0;
	assert_int_equal(mnl_attr_type_valid(a, 8), -1);
	assert_int_equal(errno, EOPNOTSUPP);
}

static void
test_attr_nest(void **state)
{
	union msgbuf m;
	struct nlmsghdr *nlh;
	struct nlattr *outer, *inner, *a;
	int n = 0;

	(void)state;
	nlh = mnl_nlmsg_put_header(m.buf);
	mnl_attr_put_u32(nlh, 1, 7);
	outer = mnl_attr_nest_start(nlh, 2);
	mnl_attr_put_u32(nlh, 10, 100);
	inner = mnl_attr_nest_start(nlh, 11);
	mnl_attr_put_strz(nlh, 20, "x");
	mnl_attr_nest_end(nlh, inner);
	mnl_attr_nest_end(nlh, outer);
	assert_true(outer->nla_type & NLA_F_NESTED);
	assert_int_equal(mnl_attr_get_type(outer), 2);
	/* 4 (hdr) + 8 (u32) + 4 (hdr) + 8 ("x\0" padded) */
	assert_int_equal(mnl_attr_get_len(outer), 24);
	assert_int_equal(mnl_attr_get_len(inner), 12);
	assert_int_equal(mnl_attr_validate(outer, MNL_TYPE_NESTED), 0);
	mnl_attr_for_each_nested(a, outer) n++;
	assert_int_equal(n, 2);

	/* cancel drops what was added since the start */
	outer = mnl_attr_nest_start(nlh, 3);
	mnl_attr_put_u32(nlh, 1, 1);
	mnl_attr_nest_cancel(nlh, outer);
	assert_int_equal(nlh->nlmsg_len, MNL_NLMSG_HDRLEN + 8 + 24);
}

static void
test_attr_put_check(void **state)
{
	union msgbuf m;
	struct nlmsghdr *nlh;
	size_t room;
	char data[64];

	(void)state;
	memset(data, 'x', sizeof(data));
	nlh = mnl_nlmsg_put_header(m.buf);
	/* exactly fits: header 16 + attr 4 + 8 = 28 */
	assert_true(mnl_attr_put_check(nlh, 28, 1, 8, data));
	assert_int_equal(nlh->nlmsg_len, 28);
	/* one byte past: refused and nothing changed */
	assert_false(mnl_attr_put_check(nlh, 28 + 7, 1, 4, data));
	assert_int_equal(nlh->nlmsg_len, 28);
	assert_true(mnl_attr_put_check(nlh, 28 + 8, 1, 4, data));
	/* padding counts: 5 bytes need 12 */
	room = nlh->nlmsg_len;
	assert_false(mnl_attr_put_check(nlh, room + 11, 1, 5, data));
	assert_true(mnl_attr_put_check(nlh, room + 12, 1, 5, data));
	/* typed variants */
	room = nlh->nlmsg_len;
	assert_false(mnl_attr_put_u64_check(nlh, room + 11, 1, 1));
	assert_true(mnl_attr_put_u64_check(nlh, room + 12, 1, 1));
	room = nlh->nlmsg_len;
	assert_false(mnl_attr_put_strz_check(nlh, room + 7, 1, "abcd"));
	assert_true(mnl_attr_put_strz_check(nlh, room + 12, 1, "abcd"));
	room = nlh->nlmsg_len;
	assert_null(mnl_attr_nest_start_check(nlh, room + 3, 1));
	assert_non_null(mnl_attr_nest_start_check(nlh, room + 4, 1));
	/* a payload that cannot be described in nla_len */
	assert_false(mnl_attr_put_check(nlh, 1 << 20, 1, 65535, data));
	/* buffer already smaller than the message */
	assert_false(mnl_attr_put_u8_check(nlh, 8, 1, 1));
}

static void
test_attr_validate(void **state)
{
	static const struct {
		enum mnl_attr_data_type type;
		size_t len;
		int rc;
	} cases[] = {
	    {MNL_TYPE_U8, 1, 0},
	    {MNL_TYPE_U8, 0, -1},
	    {MNL_TYPE_U16, 2, 0},
	    {MNL_TYPE_U16, 1, -1},
	    {MNL_TYPE_U32, 4, 0},
	    {MNL_TYPE_U32, 3, -1},
	    {MNL_TYPE_U64, 8, 0},
	    {MNL_TYPE_U64, 7, -1},
	    {MNL_TYPE_MSECS, 8, 0},
	    {MNL_TYPE_MSECS, 4, -1},
	    {MNL_TYPE_FLAG, 0, 0},
	    {MNL_TYPE_FLAG, 1, -1},
	    {MNL_TYPE_STRING, 1, 0},
	    {MNL_TYPE_STRING, 0, -1},
	    {MNL_TYPE_BINARY, 0, 0},
	    {MNL_TYPE_NESTED, 0, 0},
	    {MNL_TYPE_NESTED, 2, -1},
	    {MNL_TYPE_NESTED, 4, 0},
	};
	union msgbuf m;
	struct nlmsghdr *nlh;
	struct nlattr *a;
	char zero[16];
	size_t i;

	(void)state;
	memset(zero, 0, sizeof(zero));
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		nlh = mnl_nlmsg_put_header(m.buf);
		mnl_attr_put(nlh, 1, cases[i].len, zero);
		a = mnl_nlmsg_get_payload(nlh);
		errno = 0;
		assert_int_equal(
		    mnl_attr_validate(a, cases[i].type), cases[i].rc);
		if (cases[i].rc == -1)
			assert_int_equal(errno, ERANGE);
	}

	/* NUL_STRING: must end in NUL */
	nlh = mnl_nlmsg_put_header(m.buf);
	mnl_attr_put_strz(nlh, 1, "ab");
	a = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), 0);
	nlh = mnl_nlmsg_put_header(m.buf);
	mnl_attr_put_str(nlh, 1, "ab");
	a = mnl_nlmsg_get_payload(nlh);
	errno = 0;
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_NUL_STRING), -1);
	assert_int_equal(errno, EINVAL);
	/* unknown type */
	errno = 0;
	assert_int_equal(mnl_attr_validate(a, MNL_TYPE_MAX), -1);
	assert_int_equal(errno, EINVAL);
	/* validate2: at least len */
	nlh = mnl_nlmsg_put_header(m.buf);
	mnl_attr_put(nlh, 1, 6, zero);
	a = mnl_nlmsg_get_payload(nlh);
	assert_int_equal(mnl_attr_validate2(a, MNL_TYPE_BINARY, 6), 0);
	assert_int_equal(mnl_attr_validate2(a, MNL_TYPE_BINARY, 7), -1);
}

struct collect {
	int n;
	uint16_t types[8];
	int stop_at; /* return STOP at this attribute (1-based), 0 never */
};

static int
collect_cb(const struct nlattr *a, void *data)
{
	struct collect *c = data;

	if (c->n < 8)
		c->types[c->n] = mnl_attr_get_type(a);
	c->n++;
	return c->n == c->stop_at ? MNL_CB_STOP : MNL_CB_OK;
}

static void
test_attr_parse(void **state)
{
	union msgbuf m;
	struct nlmsghdr *nlh;
	struct collect c;
	uint32_t *extra;

	(void)state;
	nlh = mnl_nlmsg_put_header(m.buf);
	extra = mnl_nlmsg_put_extra_header(nlh, sizeof(*extra));
	*extra = 0xdeadbeef;
	mnl_attr_put_u32(nlh, 1, 1);
	mnl_attr_put_u32(nlh, 2, 2);
	mnl_attr_put_u32(nlh, 3, 3);

	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    mnl_attr_parse(nlh, sizeof(*extra), collect_cb, &c), MNL_CB_OK);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.types[0], 1);
	assert_int_equal(c.types[2], 3);

	memset(&c, 0, sizeof(c));
	c.stop_at = 2;
	assert_int_equal(
	    mnl_attr_parse(nlh, sizeof(*extra), collect_cb, &c), MNL_CB_STOP);
	assert_int_equal(c.n, 2);

	/* a truncated last attribute is not visited */
	nlh->nlmsg_len -= 2;
	memset(&c, 0, sizeof(c));
	assert_int_equal(
	    mnl_attr_parse(nlh, sizeof(*extra), collect_cb, &c), MNL_CB_OK);
	assert_int_equal(c.n, 2);

	/* an attribute claiming more than is there is not visited */
	nlh = mnl_nlmsg_put_header(m.buf);
	mnl_attr_put_u32(nlh, 1, 1);
	((struct nlattr *)mnl_nlmsg_get_payload(nlh))->nla_len = 200;
	memset(&c, 0, sizeof(c));
	assert_int_equal(mnl_attr_parse(nlh, 0, collect_cb, &c), MNL_CB_OK);
	assert_int_equal(c.n, 0);

	/* nla_len below the header size stops the walk */
	((struct nlattr *)mnl_nlmsg_get_payload(nlh))->nla_len = 2;
	assert_int_equal(mnl_attr_parse(nlh, 0, collect_cb, &c), MNL_CB_OK);
	assert_int_equal(c.n, 0);

	/* an offset past the end: nothing to parse */
	assert_int_equal(mnl_attr_parse(nlh, 64, collect_cb, &c), MNL_CB_OK);
	assert_int_equal(c.n, 0);
}

static void
test_nlmsg_iter(void **state)
{
	char buf[256] __attribute__((aligned(4)));
	struct nlmsghdr *nlh;
	int len, n = 0;

	(void)state;
	nlh = mnl_nlmsg_put_header(buf);
	mnl_attr_put_u8(nlh, 1, 1); /* 16 + 8 */
	nlh = mnl_nlmsg_put_header(buf + 24);
	mnl_attr_put_u32(nlh, 1, 1);
	len = 48;
	for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, len);
	     nlh = mnl_nlmsg_next(nlh, &len))
		n++;
	assert_int_equal(n, 2);
	assert_int_equal(len, 0);

	nlh = (struct nlmsghdr *)buf;
	assert_false(mnl_nlmsg_ok(nlh, 15));
	assert_false(mnl_nlmsg_ok(nlh, 23));
	assert_true(mnl_nlmsg_ok(nlh, 24));
	nlh->nlmsg_len = 8; /* shorter than a header */
	assert_false(mnl_nlmsg_ok(nlh, 24));

	nlh->nlmsg_seq = 5;
	nlh->nlmsg_pid = 7;
	assert_true(mnl_nlmsg_seq_ok(nlh, 5));
	assert_false(mnl_nlmsg_seq_ok(nlh, 6));
	assert_true(mnl_nlmsg_seq_ok(nlh, 0));
	assert_true(mnl_nlmsg_portid_ok(nlh, 7));
	assert_false(mnl_nlmsg_portid_ok(nlh, 8));
	nlh->nlmsg_pid = 0; /* from the kernel */
	assert_true(mnl_nlmsg_portid_ok(nlh, 8));
}

static void
test_batch(void **state)
{
	char buf[128] __attribute__((aligned(4)));
	struct mnl_nlmsg_batch *b;
	struct nlmsghdr *nlh;

	(void)state;
	b = mnl_nlmsg_batch_start(buf, 64);
	assert_non_null(b);
	assert_true(mnl_nlmsg_batch_is_empty(b));
	assert_ptr_equal(mnl_nlmsg_batch_head(b), buf);
	assert_ptr_equal(mnl_nlmsg_batch_current(b), buf);

	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	mnl_attr_put_u32(nlh, 1, 1); /* 24 */
	assert_true(mnl_nlmsg_batch_next(b));
	assert_int_equal(mnl_nlmsg_batch_size(b), 24);
	assert_false(mnl_nlmsg_batch_is_empty(b));
	assert_ptr_equal(mnl_nlmsg_batch_current(b), buf + 24);

	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	mnl_attr_put_u32(nlh, 2, 2); /* 24 more: 48 <= 64 */
	assert_true(mnl_nlmsg_batch_next(b));

	/* the limit is reached: 48 + 24 > 64; the message stays pending */
	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	mnl_attr_put_u32(nlh, 3, 3);
	assert_false(mnl_nlmsg_batch_next(b));
	assert_int_equal(mnl_nlmsg_batch_size(b), 48);

	/* after a reset the pending message is the first one */
	mnl_nlmsg_batch_reset(b);
	assert_int_equal(mnl_nlmsg_batch_size(b), 24);
	nlh = mnl_nlmsg_batch_head(b);
	assert_int_equal(mnl_attr_get_u32(mnl_nlmsg_get_payload(nlh)), 3);
	assert_ptr_equal(mnl_nlmsg_batch_current(b), buf + 24);

	/* a reset without overflow empties it */
	mnl_nlmsg_batch_reset(b);
	assert_true(mnl_nlmsg_batch_is_empty(b));
	assert_ptr_equal(mnl_nlmsg_batch_current(b), buf);

	/* exactly at the limit is fine */
	nlh = mnl_nlmsg_put_header(mnl_nlmsg_batch_current(b));
	mnl_attr_put(nlh, 1, 44, buf + 64); /* 16 + 48 = 64 */
	assert_true(mnl_nlmsg_batch_next(b));
	assert_int_equal(mnl_nlmsg_batch_size(b), 64);
	mnl_nlmsg_batch_stop(b);
}

static int
data_cb(const struct nlmsghdr *nlh, void *data)
{
	int *n = data;

	(*n)++;
	return nlh->nlmsg_type == 99 ? MNL_CB_STOP : MNL_CB_OK;
}

/* Put a message of type at p: seq, pid, flags given. */
static struct nlmsghdr *
put_msg(char *p, uint16_t type, uint32_t seq, uint32_t pid, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(p);

	nlh->nlmsg_type = type;
	nlh->nlmsg_seq = seq;
	nlh->nlmsg_pid = pid;
	nlh->nlmsg_flags = flags;
	return nlh;
}

static struct nlmsghdr *
put_err(char *p, uint32_t seq, int error)
{
	struct nlmsghdr *nlh = put_msg(p, NLMSG_ERROR, seq, 0, 0);
	struct nlmsgerr *e = mnl_nlmsg_put_extra_header(nlh, sizeof(*e));

	e->error = error;
	return nlh;
}

static void
test_cb_run(void **state)
{
	char buf[512] __attribute__((aligned(4)));
	struct nlmsghdr *nlh;
	size_t len;
	int n;

	(void)state;
	/* two data messages and DONE */
	len = 0;
	put_msg(buf, 20, 1, 0, NLM_F_MULTI);
	len += 16;
	put_msg(buf + len, 20, 1, 0, NLM_F_MULTI);
	len += 16;
	put_msg(buf + len, NLMSG_DONE, 1, 0, 0);
	len += 16;
	n = 0;
	assert_int_equal(mnl_cb_run(buf, len, 1, 42, data_cb, &n), MNL_CB_STOP);
	assert_int_equal(n, 2);
	/* without DONE: more is expected */
	n = 0;
	assert_int_equal(mnl_cb_run(buf, 32, 1, 42, data_cb, &n), MNL_CB_OK);
	assert_int_equal(n, 2);
	/* the data callback can stop */
	put_msg(buf, 99, 1, 0, 0);
	n = 0;
	assert_int_equal(mnl_cb_run(buf, len, 1, 42, data_cb, &n), MNL_CB_STOP);
	assert_int_equal(n, 1);

	/* ack: stop; error: errno from it */
	put_err(buf, 3, 0);
	assert_int_equal(mnl_cb_run(buf, 36, 3, 0, NULL, NULL), MNL_CB_STOP);
	put_err(buf, 3, -ENOENT);
	errno = 0;
	assert_int_equal(mnl_cb_run(buf, 36, 3, 0, NULL, NULL), MNL_CB_ERROR);
	assert_int_equal(errno, ENOENT);
	/* an error message too short to hold struct nlmsgerr */
	nlh = put_msg(buf, NLMSG_ERROR, 3, 0, 0);
	nlh->nlmsg_len = 20;
	errno = 0;
	assert_int_equal(mnl_cb_run(buf, 20, 3, 0, NULL, NULL), MNL_CB_ERROR);
	assert_int_equal(errno, EBADMSG);

	/* wrong sequence number, wrong port, interrupted dump */
	put_msg(buf, 20, 4, 0, 0);
	errno = 0;
	assert_int_equal(mnl_cb_run(buf, 16, 5, 0, data_cb, &n), MNL_CB_ERROR);
	assert_int_equal(errno, EPROTO);
	put_msg(buf, 20, 4, 9, 0);
	errno = 0;
	assert_int_equal(mnl_cb_run(buf, 16, 4, 8, data_cb, &n), MNL_CB_ERROR);
	assert_int_equal(errno, ESRCH);
	put_msg(buf, 20, 4, 0, NLM_F_DUMP_INTR);
	errno = 0;
	assert_int_equal(mnl_cb_run(buf, 16, 4, 0, data_cb, &n), MNL_CB_ERROR);
	assert_int_equal(errno, EINTR);

	/* noop is skipped; a truncated message ends the walk */
	put_msg(buf, NLMSG_NOOP, 0, 0, 0);
	put_msg(buf + 16, 20, 0, 0, 0);
	n = 0;
	assert_int_equal(mnl_cb_run(buf, 32, 0, 0, data_cb, &n), MNL_CB_OK);
	assert_int_equal(n, 1);
	n = 0;
	assert_int_equal(mnl_cb_run(buf, 31, 0, 0, data_cb, &n), MNL_CB_OK);
	assert_int_equal(n, 0);
}

static int
ctl_cb(const struct nlmsghdr *nlh, void *data)
{
	int *n = data;

	(void)nlh;
	(*n) += 100;
	return MNL_CB_OK;
}

static void
test_cb_run2_ctl(void **state)
{
	char buf[64] __attribute__((aligned(4)));
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {NULL};
	int n = 0;

	(void)state;
	ctl[NLMSG_ERROR] = ctl_cb;
	put_err(buf, 1, -EPERM);
	/* our own control callback replaces the default error handling */
	assert_int_equal(
	    mnl_cb_run2(buf, 36, 1, 0, NULL, &n, ctl, NLMSG_MIN_TYPE),
	    MNL_CB_OK);
	assert_int_equal(n, 100);
}

static int
link_count_cb(const struct nlmsghdr *nlh, void *data)
{
	int *n = data;

	if (nlh->nlmsg_type == RTM_NEWLINK)
		(*n)++;
	return MNL_CB_OK;
}

/* A real round trip: dump the interfaces (needs no privilege). */
static void
test_socket_route_dump(void **state)
{
	char buf[16384] __attribute__((aligned(4)));
	struct mnl_socket *nl;
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;
	unsigned int portid;
	ssize_t n;
	int ret = MNL_CB_OK, links = 0, i;

	(void)state;
	nl = mnl_socket_open(NETLINK_ROUTE);
	assert_non_null(nl);
	assert_true(mnl_socket_get_fd(nl) >= 0);
	assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	portid = mnl_socket_get_portid(nl);
	assert_true(portid != 0);

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1234;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	assert_int_equal(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len),
	    (ssize_t)nlh->nlmsg_len);
	for (i = 0; i < 1000 && ret == MNL_CB_OK; i++) {
		n = mnl_socket_recvfrom(nl, buf, sizeof(buf));
		assert_true(n > 0);
		ret = mnl_cb_run(
		    buf, (size_t)n, 1234, portid, link_count_cb, &links);
	}
	assert_int_equal(ret, MNL_CB_STOP);
	assert_true(links >= 1); /* lo at least */

	/* a buffer too small for the datagram: refused, not half-parsed */
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	nlh->nlmsg_seq = 1235;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	assert_true(mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) > 0);
	errno = 0;
	assert_int_equal(mnl_socket_recvfrom(nl, buf, 16), -1);
	assert_int_equal(errno, ENOSPC);
	assert_int_equal(mnl_socket_close(nl), 0);
	assert_int_equal(mnl_socket_close(NULL), 0);
}

static void
test_socket_fdopen(void **state)
{
	struct mnl_socket *nl, *nl2;
	int one = 1, v = 0;
	socklen_t len = sizeof(v);

	(void)state;
	nl = mnl_socket_open(NETLINK_ROUTE);
	assert_non_null(nl);
	assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
	nl2 = mnl_socket_fdopen(mnl_socket_get_fd(nl));
	assert_non_null(nl2);
	assert_int_equal(mnl_socket_get_portid(nl2), mnl_socket_get_portid(nl));
	assert_int_equal(
	    mnl_socket_setsockopt(nl, NETLINK_CAP_ACK, &one, sizeof(one)), 0);
	assert_int_equal(
	    mnl_socket_getsockopt(nl, NETLINK_CAP_ACK, &v, &len), 0);
	assert_int_equal(v, 1);
	/* nl2 shares the fd: free it without closing twice */
	mnl_socket_close(nl);
	/* the fd is closed now: fdopen of a non-socket fails */
	assert_null(mnl_socket_fdopen(-1));
	free(nl2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_header),
	    cmocka_unit_test(test_attr_put_get),
	    cmocka_unit_test(test_attr_type_flags),
	    cmocka_unit_test(test_attr_nest),
	    cmocka_unit_test(test_attr_put_check),
	    cmocka_unit_test(test_attr_validate),
	    cmocka_unit_test(test_attr_parse),
	    cmocka_unit_test(test_nlmsg_iter),
	    cmocka_unit_test(test_batch),
	    cmocka_unit_test(test_cb_run),
	    cmocka_unit_test(test_cb_run2_ctl),
	    cmocka_unit_test(test_socket_route_dump),
	    cmocka_unit_test(test_socket_fdopen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
