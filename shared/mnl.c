/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * mnl.c - the part of the libmnl API (netlink sockets, message and
 * attribute helpers, message batches, the receive callback loop) that
 * libnftnl and our own netlink code use, written against the declarations
 * in the installed <libmnl/libmnl.h>.
 *
 * Both programs link this instead of -lmnl: Debian ships no libmnl.a, and
 * the static guest agent needs these functions from libnftnl.a.  In the
 * dynamic build the definitions in the executable take precedence over the
 * ones in libmnl.so.0, which libnftnl.so still pulls in.
 *
 * Not here: mnl_nlmsg_fprintf (debug printer).  Sockets are opened with
 * SOCK_CLOEXEC.  Builders trust the caller to have sized the buffer
 * (the *_check variants do not); parsers never read past the length given.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>

struct mnl_socket {
	int fd;
	struct sockaddr_nl addr;
};

struct mnl_nlmsg_batch {
	char *buf;     /* borrowed: caller's buffer */
	size_t limit;  /* size the batch may grow to */
	size_t buflen; /* bytes of complete messages */
	char *cur;     /* where the next message is built */
	bool overflow; /* the message at cur did not fit */
};

/*
 * Sockets
 */

struct mnl_socket *
mnl_socket_open2(int bus, int flags)
{
	struct mnl_socket *nl;
	int fd;

	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | flags, bus);
	if (fd == -1)
		return NULL;
	nl = calloc(1, sizeof(*nl));
	if (nl == NULL) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	nl->fd = fd;
	return nl;
}

struct mnl_socket *
mnl_socket_open(int bus)
{
	return mnl_socket_open2(bus, 0);
}

struct mnl_socket *
mnl_socket_fdopen(int fd)
{
	struct mnl_socket *nl;
	struct sockaddr_nl addr;
	socklen_t len = sizeof(addr);

	memset(&addr, 0, sizeof(addr));
	if (getsockname(fd, (struct sockaddr *)&addr, &len) == -1)
		return NULL;
	if (len != sizeof(addr) || addr.nl_family != AF_NETLINK) {
		errno = EINVAL;
		return NULL;
	}
	nl = calloc(1, sizeof(*nl));
	if (nl == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	nl->fd = fd;
	nl->addr = addr;
	return nl;
}

int
mnl_socket_bind(struct mnl_socket *nl, unsigned int groups, pid_t pid)
{
	struct sockaddr_nl addr;
	socklen_t len = sizeof(addr);

	memset(&addr, 0, sizeof(addr));
	addr.nl_family = AF_NETLINK;
	addr.nl_groups = groups;
	addr.nl_pid = (__u32)pid;
	if (bind(nl->fd, (struct sockaddr *)&addr, sizeof(addr)) == -1)
		return -1;
	/* the kernel picks the port id when pid is MNL_SOCKET_AUTOPID */
	if (getsockname(nl->fd, (struct sockaddr *)&addr, &len) == -1)
		return -1;
	if (len != sizeof(addr) || addr.nl_family != AF_NETLINK) {
		errno = EINVAL;
		return -1;
	}
	nl->addr = addr;
	return 0;
}

int
mnl_socket_close(struct mnl_socket *nl)
{
	int rc;

	if (nl == NULL)
		return 0;
	rc = close(nl->fd);
	free(nl);
	return rc;
}

int
mnl_socket_get_fd(const struct mnl_socket *nl)
{
	return nl->fd;
}

unsigned int
mnl_socket_get_portid(const struct mnl_socket *nl)
{
	return nl->addr.nl_pid;
}

ssize_t
mnl_socket_sendto(const struct mnl_socket *nl, const void *req, size_t siz)
{
	struct sockaddr_nl kernel;

	memset(&kernel, 0, sizeof(kernel));
	kernel.nl_family = AF_NETLINK;
	return sendto(nl->fd, req, siz, 0, (const struct sockaddr *)&kernel,
	    sizeof(kernel));
}

ssize_t
mnl_socket_recvfrom(const struct mnl_socket *nl, void *buf, size_t siz)
{
	struct sockaddr_nl from;
	struct iovec iov = {.iov_base = buf, .iov_len = siz};
	struct msghdr msg;
	ssize_t n;

	memset(&msg, 0, sizeof(msg));
	memset(&from, 0, sizeof(from));
	msg.msg_name = &from;
	msg.msg_namelen = sizeof(from);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	n = recvmsg(nl->fd, &msg, 0);
	if (n == -1)
		return -1;
	if (msg.msg_flags & MSG_TRUNC) {
		/* a datagram larger than the buffer: never parse half of it */
		errno = ENOSPC;
		return -1;
	}
	if (msg.msg_namelen != sizeof(from)) {
		errno = EINVAL;
		return -1;
	}
	return n;
}

int
mnl_socket_setsockopt(
    const struct mnl_socket *nl, int type, void *buf, socklen_t len)
{
	return setsockopt(nl->fd, SOL_NETLINK, type, buf, len);
}

int
mnl_socket_getsockopt(
    const struct mnl_socket *nl, int type, void *buf, socklen_t *len)
{
	return getsockopt(nl->fd, SOL_NETLINK, type, buf, len);
}

/*
 * Messages
 */

size_t
mnl_nlmsg_size(size_t len)
{
	return len + MNL_NLMSG_HDRLEN;
}

size_t
mnl_nlmsg_get_payload_len(const struct nlmsghdr *nlh)
{
	return nlh->nlmsg_len - MNL_NLMSG_HDRLEN;
}

struct nlmsghdr *
mnl_nlmsg_put_header(void *buf)
{
	struct nlmsghdr *nlh = buf;

	memset(buf, 0, MNL_NLMSG_HDRLEN);
	nlh->nlmsg_len = MNL_NLMSG_HDRLEN;
	return nlh;
}

void *
mnl_nlmsg_put_extra_header(struct nlmsghdr *nlh, size_t size)
{
	char *p = (char *)nlh + nlh->nlmsg_len;
	size_t len = MNL_ALIGN(size);

	nlh->nlmsg_len += len;
	memset(p, 0, len);
	return p;
}

bool
mnl_nlmsg_ok(const struct nlmsghdr *nlh, int len)
{
	return len >= (int)sizeof(struct nlmsghdr) &&
	       nlh->nlmsg_len >= sizeof(struct nlmsghdr) &&
	       nlh->nlmsg_len <= (unsigned int)len;
}

struct nlmsghdr *
mnl_nlmsg_next(const struct nlmsghdr *nlh, int *len)
{
	*len -= (int)MNL_ALIGN(nlh->nlmsg_len);
	return (struct nlmsghdr *)((char *)nlh + MNL_ALIGN(nlh->nlmsg_len));
}

bool
mnl_nlmsg_seq_ok(const struct nlmsghdr *nlh, unsigned int seq)
{
	return nlh->nlmsg_seq == 0 || seq == 0 || nlh->nlmsg_seq == seq;
}

bool
mnl_nlmsg_portid_ok(const struct nlmsghdr *nlh, unsigned int portid)
{
	return nlh->nlmsg_pid == 0 || portid == 0 || nlh->nlmsg_pid == portid;
}

void *
mnl_nlmsg_get_payload(const struct nlmsghdr *nlh)
{
	return (char *)nlh + MNL_NLMSG_HDRLEN;
}

void *
mnl_nlmsg_get_payload_offset(const struct nlmsghdr *nlh, size_t offset)
{
	return (char *)nlh + MNL_NLMSG_HDRLEN + MNL_ALIGN(offset);
}

void *
mnl_nlmsg_get_payload_tail(const struct nlmsghdr *nlh)
{
	return (char *)nlh + MNL_ALIGN(nlh->nlmsg_len);
}

/*
 * Batches: messages built back to back in one caller buffer.  A message
 * that takes the batch past its limit is kept at the current position and
 * becomes the first message after mnl_nlmsg_batch_reset().
 */

struct mnl_nlmsg_batch *
mnl_nlmsg_batch_start(void *buf, size_t limit)
{
	struct mnl_nlmsg_batch *b;

	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	b->buf = buf;
	b->limit = limit;
	b->cur = buf;
	return b;
}

void
mnl_nlmsg_batch_stop(struct mnl_nlmsg_batch *b)
{
	free(b);
}

bool
mnl_nlmsg_batch_next(struct mnl_nlmsg_batch *b)
{
	struct nlmsghdr *nlh = (struct nlmsghdr *)b->cur;

	if (b->buflen + nlh->nlmsg_len > b->limit) {
		b->overflow = true;
		return false;
	}
	b->buflen += nlh->nlmsg_len;
	b->cur = b->buf + b->buflen;
	return true;
}

void
mnl_nlmsg_batch_reset(struct mnl_nlmsg_batch *b)
{
	struct nlmsghdr *nlh;

	if (b->overflow) {
		nlh = (struct nlmsghdr *)b->cur;
		memmove(b->buf, b->cur, nlh->nlmsg_len);
		b->buflen = nlh->nlmsg_len;
		b->cur = b->buf + b->buflen;
		b->overflow = false;
	} else {
		b->buflen = 0;
		b->cur = b->buf;
	}
}

size_t
mnl_nlmsg_batch_size(struct mnl_nlmsg_batch *b)
{
	return b->buflen;
}

void *
mnl_nlmsg_batch_head(struct mnl_nlmsg_batch *b)
{
	return b->buf;
}

void *
mnl_nlmsg_batch_current(struct mnl_nlmsg_batch *b)
{
	return b->cur;
}

bool
mnl_nlmsg_batch_is_empty(struct mnl_nlmsg_batch *b)
{
	return b->buflen == 0;
}

/*
 * Attributes
 */

uint16_t
mnl_attr_get_type(const struct nlattr *attr)
{
	return attr->nla_type & NLA_TYPE_MASK;
}

uint16_t
mnl_attr_get_len(const struct nlattr *attr)
{
	return attr->nla_len;
}

uint16_t
mnl_attr_get_payload_len(const struct nlattr *attr)
{
	return (uint16_t)(attr->nla_len - MNL_ATTR_HDRLEN);
}

void *
mnl_attr_get_payload(const struct nlattr *attr)
{
	return (char *)attr + MNL_ATTR_HDRLEN;
}

uint8_t
mnl_attr_get_u8(const struct nlattr *attr)
{
	return *(const uint8_t *)mnl_attr_get_payload(attr);
}

uint16_t
mnl_attr_get_u16(const struct nlattr *attr)
{
	uint16_t v;

	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

uint32_t
mnl_attr_get_u32(const struct nlattr *attr)
{
	uint32_t v;

	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

uint64_t
mnl_attr_get_u64(const struct nlattr *attr)
{
	uint64_t v;

	/* only 4-byte alignment is guaranteed */
	memcpy(&v, mnl_attr_get_payload(attr), sizeof(v));
	return v;
}

const char *
mnl_attr_get_str(const struct nlattr *attr)
{
	return mnl_attr_get_payload(attr);
}

bool
mnl_attr_ok(const struct nlattr *attr, int len)
{
	return len >= (int)sizeof(struct nlattr) &&
	       attr->nla_len >= sizeof(struct nlattr) &&
	       (int)attr->nla_len <= len;
}

struct nlattr *
mnl_attr_next(const struct nlattr *attr)
{
	return (struct nlattr *)((char *)attr + MNL_ALIGN(attr->nla_len));
}

int
mnl_attr_type_valid(const struct nlattr *attr, uint16_t maxtype)
{
	if (mnl_attr_get_type(attr) > maxtype) {
		errno = EOPNOTSUPP;
		return -1;
	}
	return 1;
}

/* Minimum payload sizes of the fixed-size types; 0 = no minimum. */
static const size_t mnl_attr_min_len[MNL_TYPE_MAX] = {
    [MNL_TYPE_U8] = sizeof(uint8_t),
    [MNL_TYPE_U16] = sizeof(uint16_t),
    [MNL_TYPE_U32] = sizeof(uint32_t),
    [MNL_TYPE_U64] = sizeof(uint64_t),
    [MNL_TYPE_MSECS] = sizeof(uint64_t),
};

static int
mnl_attr_check(
    const struct nlattr *attr, enum mnl_attr_data_type type, size_t exp_len)
{
	size_t len = mnl_attr_get_payload_len(attr);
	const char *p = mnl_attr_get_payload(attr);

	if ((unsigned int)type >= MNL_TYPE_MAX) {
		errno = EINVAL;
		return -1;
	}
	if (attr->nla_len < MNL_ATTR_HDRLEN) {
		errno = ERANGE;
		return -1;
	}
	switch (type) {
	case MNL_TYPE_FLAG:
		if (len != 0)
			goto range;
		break;
	case MNL_TYPE_STRING:
		if (len == 0)
			goto range;
		break;
	case MNL_TYPE_NUL_STRING:
		if (len == 0)
			goto range;
		if (p[len - 1] != '\0') {
			errno = EINVAL;
			return -1;
		}
		break;
	case MNL_TYPE_NESTED:
		/* empty, or room for at least one attribute header */
		if (len != 0 && len < MNL_ATTR_HDRLEN)
			goto range;
		break;
	default:
		if (len < mnl_attr_min_len[type])
			goto range;
		break;
	}
	if (exp_len != 0 && len < exp_len)
		goto range;
	return 0;
range:
	errno = ERANGE;
	return -1;
}

int
mnl_attr_validate(const struct nlattr *attr, enum mnl_attr_data_type type)
{
	return mnl_attr_check(attr, type, 0);
}

int
mnl_attr_validate2(
    const struct nlattr *attr, enum mnl_attr_data_type type, size_t len)
{
	return mnl_attr_check(attr, type, len);
}

int
mnl_attr_parse_payload(
    const void *payload, size_t payload_len, mnl_attr_cb_t cb, void *data)
{
	const struct nlattr *attr = payload;
	const char *end = (const char *)payload + payload_len;
	int ret;

	while (mnl_attr_ok(attr, (int)(end - (const char *)attr))) {
		ret = cb(attr, data);
		if (ret <= MNL_CB_STOP)
			return ret;
		attr = mnl_attr_next(attr);
	}
	return MNL_CB_OK;
}

int
mnl_attr_parse(const struct nlmsghdr *nlh, unsigned int offset,
    mnl_attr_cb_t cb, void *data)
{
	const char *start = mnl_nlmsg_get_payload_offset(nlh, offset);
	const char *end = (const char *)nlh + nlh->nlmsg_len;

	if (start >= end)
		return MNL_CB_OK;
	return mnl_attr_parse_payload(start, (size_t)(end - start), cb, data);
}

int
mnl_attr_parse_nested(const struct nlattr *attr, mnl_attr_cb_t cb, void *data)
{
	return mnl_attr_parse_payload(mnl_attr_get_payload(attr),
	    mnl_attr_get_payload_len(attr), cb, data);
}

void
mnl_attr_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data)
{
	struct nlattr *attr = mnl_nlmsg_get_payload_tail(nlh);
	size_t total = MNL_ATTR_HDRLEN + len;
	size_t pad = MNL_ALIGN(total) - total;

	attr->nla_type = type;
	attr->nla_len = (uint16_t)total;
	if (len > 0)
		memcpy(mnl_attr_get_payload(attr), data, len);
	if (pad > 0)
		memset((char *)attr + total, 0, pad);
	nlh->nlmsg_len = MNL_ALIGN(nlh->nlmsg_len) + MNL_ALIGN(total);
}

void
mnl_attr_put_u8(struct nlmsghdr *nlh, uint16_t type, uint8_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void
mnl_attr_put_u16(struct nlmsghdr *nlh, uint16_t type, uint16_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void
mnl_attr_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void
mnl_attr_put_u64(struct nlmsghdr *nlh, uint16_t type, uint64_t data)
{
	mnl_attr_put(nlh, type, sizeof(data), &data);
}

void
mnl_attr_put_str(struct nlmsghdr *nlh, uint16_t type, const char *data)
{
	mnl_attr_put(nlh, type, strlen(data), data);
}

void
mnl_attr_put_strz(struct nlmsghdr *nlh, uint16_t type, const char *data)
{
	mnl_attr_put(nlh, type, strlen(data) + 1, data);
}

/* Would an attribute with len payload bytes still fit in buflen? */
static bool
mnl_attr_fits(const struct nlmsghdr *nlh, size_t buflen, size_t len)
{
	size_t used = MNL_ALIGN(nlh->nlmsg_len);

	if (len > UINT16_MAX - MNL_ATTR_HDRLEN)
		return false;
	return used <= buflen &&
	       MNL_ALIGN(MNL_ATTR_HDRLEN + len) <= buflen - used;
}

bool
mnl_attr_put_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type,
    size_t len, const void *data)
{
	if (!mnl_attr_fits(nlh, buflen, len))
		return false;
	mnl_attr_put(nlh, type, len, data);
	return true;
}

bool
mnl_attr_put_u8_check(
    struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint8_t data)
{
	return mnl_attr_put_check(nlh, buflen, type, sizeof(data), &data);
}

bool
mnl_attr_put_u16_check(
    struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint16_t data)
{
	return mnl_attr_put_check(nlh, buflen, type, sizeof(data), &data);
}

bool
mnl_attr_put_u32_check(
    struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint32_t data)
{
	return mnl_attr_put_check(nlh, buflen, type, sizeof(data), &data);
}

bool
mnl_attr_put_u64_check(
    struct nlmsghdr *nlh, size_t buflen, uint16_t type, uint64_t data)
{
	return mnl_attr_put_check(nlh, buflen, type, sizeof(data), &data);
}

bool
mnl_attr_put_str_check(
    struct nlmsghdr *nlh, size_t buflen, uint16_t type, const char *data)
{
	return mnl_attr_put_check(nlh, buflen, type, strlen(data), data);
}

bool
mnl_attr_put_strz_check(
    struct nlmsghdr *nlh, size_t buflen, uint16_t type, const char *data)
{
	return mnl_attr_put_check(nlh, buflen, type, strlen(data) + 1, data);
}

struct nlattr *
mnl_attr_nest_start(struct nlmsghdr *nlh, uint16_t type)
{
	struct nlattr *start = mnl_nlmsg_get_payload_tail(nlh);

	start->nla_type = NLA_F_NESTED | type;
	start->nla_len = MNL_ATTR_HDRLEN;
	nlh->nlmsg_len = MNL_ALIGN(nlh->nlmsg_len) + MNL_ATTR_HDRLEN;
	return start;
}

struct nlattr *
mnl_attr_nest_start_check(struct nlmsghdr *nlh, size_t buflen, uint16_t type)
{
	if (!mnl_attr_fits(nlh, buflen, 0))
		return NULL;
	return mnl_attr_nest_start(nlh, type);
}

void
mnl_attr_nest_end(struct nlmsghdr *nlh, struct nlattr *start)
{
	start->nla_len =
	    (uint16_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start);
}

void
mnl_attr_nest_cancel(struct nlmsghdr *nlh, struct nlattr *start)
{
	nlh->nlmsg_len -=
	    (uint32_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)start);
}

/*
 * The receive loop
 */

static int
mnl_cb_error(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	/* error 0 is an acknowledgement */
	if (err->error == 0)
		return MNL_CB_STOP;
	errno = err->error < 0 ? -err->error : err->error;
	return MNL_CB_ERROR;
}

static int
mnl_cb_control(const struct nlmsghdr *nlh, mnl_cb_t *cb_ctl,
    unsigned int cb_ctl_len, void *data)
{
	if (cb_ctl != NULL && nlh->nlmsg_type < cb_ctl_len &&
	    cb_ctl[nlh->nlmsg_type] != NULL)
		return cb_ctl[nlh->nlmsg_type](nlh, data);
	switch (nlh->nlmsg_type) {
	case NLMSG_ERROR:
		return mnl_cb_error(nlh);
	case NLMSG_DONE:
		return MNL_CB_STOP;
	default: /* NLMSG_NOOP, NLMSG_OVERRUN, unknown control types */
		return MNL_CB_OK;
	}
}

int
mnl_cb_run2(const void *buf, size_t numbytes, unsigned int seq,
    unsigned int portid, mnl_cb_t cb_data, void *data, mnl_cb_t *cb_ctl_array,
    unsigned int cb_ctl_array_len)
{
	const struct nlmsghdr *nlh = buf;
	int len = numbytes > INT32_MAX ? INT32_MAX : (int)numbytes;
	int ret = MNL_CB_OK;

	while (mnl_nlmsg_ok(nlh, len)) {
		if (!mnl_nlmsg_portid_ok(nlh, portid)) {
			errno = ESRCH;
			return MNL_CB_ERROR;
		}
		if (!mnl_nlmsg_seq_ok(nlh, seq)) {
			errno = EPROTO;
			return MNL_CB_ERROR;
		}
		/* a dump that changed under us: the caller must retry */
		if (nlh->nlmsg_flags & NLM_F_DUMP_INTR) {
			errno = EINTR;
			return MNL_CB_ERROR;
		}
		if (nlh->nlmsg_type >= NLMSG_MIN_TYPE) {
			if (cb_data != NULL) {
				ret = cb_data(nlh, data);
				if (ret <= MNL_CB_STOP)
					return ret;
			}
		} else {
			ret = mnl_cb_control(
			    nlh, cb_ctl_array, cb_ctl_array_len, data);
			if (ret <= MNL_CB_STOP)
				return ret;
		}
		nlh = mnl_nlmsg_next(nlh, &len);
	}
	return ret;
}

int
mnl_cb_run(const void *buf, size_t numbytes, unsigned int seq,
    unsigned int portid, mnl_cb_t cb_data, void *data)
{
	return mnl_cb_run2(buf, numbytes, seq, portid, cb_data, data, NULL, 0);
}
