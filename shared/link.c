/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * link.c - rtnetlink requests for interfaces and addresses: create, set
 * up, address and delete a dummy interface, name host-group interfaces,
 * and find the local end of a link into another network namespace.
 *
 * Each call opens its own NETLINK_ROUTE socket, sends one request with
 * NLM_F_ACK and reads until the acknowledgement or the end of the dump.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <sys/socket.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/net_namespace.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>

#include "link.h"

/* One request and its replies; dumps of a few hundred interfaces fit in
 * far fewer than LINK_MAX_READS datagrams. */
#define LINK_BUF (32 * 1024)
#define LINK_MAX_READS 100000
#define LINK_TIMEOUT_MS 5000

static int
link_char_ok(char c, int allow_dot)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' ||
	       (allow_dot && c == '.');
}

int
link_name_valid(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ || strcmp(name, ".") == 0 ||
	    strcmp(name, "..") == 0)
		return 0;
	for (i = 0; i < len; i++)
		if (!link_char_ok(name[i], 1))
			return 0;
	return 1;
}

int
link_hostgroup_ifname(const char *group, char *out, size_t size)
{
	const size_t room = IFNAMSIZ - 1 - (sizeof(LINK_HOSTGROUP_PREFIX) - 1);
	size_t i, len = strlen(group);
	uint32_t h = 2166136261u; /* FNV-1a */

	if (len == 0 || len > LINK_GROUP_MAX || size < IFNAMSIZ) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (!link_char_ok(group[i], 0)) {
			errno = EINVAL;
			return -1;
		}
		h = (h ^ (uint8_t)group[i]) * 16777619u;
	}
	if (len <= room)
		snprintf(out, size, "%s%s", LINK_HOSTGROUP_PREFIX, group);
	else
		snprintf(out, size, "%s%.*s%04x", LINK_HOSTGROUP_PREFIX,
		    (int)(room - 4), group,
		    (unsigned int)((h ^ (h >> 16)) & 0xffff));
	return 0;
}

/*
 * Send req and feed every reply to cb (may be NULL) until the ack, the
 * end of a dump, or an error.  Returns 0 or -1 with errno.
 */
static int
link_talk(struct nlmsghdr *req, mnl_cb_t cb, void *arg)
{
	struct mnl_socket *nl;
	struct pollfd p;
	char *buf;
	uint32_t portid;
	ssize_t n;
	int ret, rc = -1, e = 0, i;

	buf = malloc(LINK_BUF);
	if (buf == NULL)
		return -1;
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		e = errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	req->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	req->nlmsg_seq = (uint32_t)getpid() ^ 0x5a5a0000u;
	if (mnl_socket_sendto(nl, req, req->nlmsg_len) == -1) {
		e = errno;
		goto out;
	}
	p.fd = mnl_socket_get_fd(nl);
	p.events = POLLIN;
	for (i = 0; i < LINK_MAX_READS; i++) {
		ret = poll(&p, 1, LINK_TIMEOUT_MS);
		if (ret == -1 && errno == EINTR)
			continue;
		if (ret <= 0) {
			e = ret == 0 ? ETIMEDOUT : errno;
			goto out;
		}
		n = mnl_socket_recvfrom(nl, buf, LINK_BUF);
		if (n == -1) {
			e = errno;
			goto out;
		}
		ret =
		    mnl_cb_run(buf, (size_t)n, req->nlmsg_seq, portid, cb, arg);
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
link_index(const char *name)
{
	unsigned int idx;

	if (!link_name_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	idx = if_nametoindex(name);
	if (idx == 0) {
		errno = ENODEV;
		return -1;
	}
	return (int)idx;
}

static int
link_create(const char *name, const char *kind)
{
	char buf[512];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct nlattr *info;

	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_str(nlh, IFLA_INFO_KIND, kind);
	mnl_attr_nest_end(nlh, info);
	return link_talk(nlh, NULL, NULL);
}

int
link_dummy_create(const char *name)
{
	if (!link_name_valid(name)) {
		errno = EINVAL;
		return -1;
	}
	if (link_create(name, "dummy") == 0)
		return 0;
	/* no dummy driver in this kernel: an ifb is the same for us (no
	 * ARP, never forwards, carrier up) */
	if (errno != EOPNOTSUPP)
		return -1;
	return link_create(name, "ifb");
}

int
link_set_up(const char *name)
{
	char buf[256];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int idx = link_index(name);

	if (idx == -1)
		return -1;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = idx;
	ifi->ifi_flags = IFF_UP;
	ifi->ifi_change = IFF_UP;
	return link_talk(nlh, NULL, NULL);
}

int
link_addr_add(const char *name, const struct netaddr *addr, int prefix)
{
	char buf[256];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	int idx, max;
	size_t alen;

	if (addr->family == AF_INET) {
		max = 32;
		alen = sizeof(addr->u.v4);
	} else if (addr->family == AF_INET6) {
		max = 128;
		alen = sizeof(addr->u.v6);
	} else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (prefix < 0 || prefix > max) {
		errno = EINVAL;
		return -1;
	}
	idx = link_index(name);
	if (idx == -1)
		return -1;
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (uint8_t)addr->family;
	ifa->ifa_prefixlen = (uint8_t)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)idx;
	/* a tentative IPv6 address cannot be bound: skip DAD */
	if (addr->family == AF_INET6)
		ifa->ifa_flags = IFA_F_NODAD;
	mnl_attr_put(nlh, IFA_LOCAL, alen, &addr->u);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, &addr->u);
	return link_talk(nlh, NULL, NULL);
}

int
link_exists(const char *name)
{
	if (link_index(name) == -1)
		return errno == ENODEV ? 0 : -1;
	return 1;
}

struct link_kind_arg {
	char *buf;
	size_t size;
};

static int
link_kind_info_cb(const struct nlattr *a, void *data)
{
	struct link_kind_arg *k = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND &&
	    mnl_attr_validate(a, MNL_TYPE_STRING) == 0)
		snprintf(k->buf, k->size, "%.*s",
		    (int)strnlen(
			mnl_attr_get_str(a), mnl_attr_get_payload_len(a)),
		    mnl_attr_get_str(a));
	return MNL_CB_OK;
}

static int
link_kind_attr_cb(const struct nlattr *a, void *data)
{
	if (mnl_attr_get_type(a) == IFLA_LINKINFO &&
	    mnl_attr_validate(a, MNL_TYPE_NESTED) == 0)
		return mnl_attr_parse_nested(a, link_kind_info_cb, data);
	return MNL_CB_OK;
}

/* What link_get parses the attributes of a link's answer with. */
struct link_get_arg {
	mnl_attr_cb_t attr_cb;
	void *data;
};

static int
link_get_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct link_get_arg *g = data;

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
		return MNL_CB_OK;
	return mnl_attr_parse(nlh, sizeof(struct ifinfomsg), g->attr_cb,
	    g->data);
}

/* Ask for the link named name; each attribute of the answer goes to
 * attr_cb(attr, data).  0, or -1 with errno (ENODEV). */
static int
link_get(const char *name, mnl_attr_cb_t attr_cb, void *data)
{
	char req[256];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	struct link_get_arg g = {attr_cb, data};
	int idx = link_index(name);

	if (idx == -1)
		return -1;
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = idx;
	return link_talk(nlh, link_get_cb, &g);
}

int
link_kind(const char *name, char *buf, size_t size)
{
	struct link_kind_arg k = {buf, size};

	if (size == 0)
		return -1;
	buf[0] = '\0';
	return link_get(name, link_kind_attr_cb, &k);
}

static int
link_master_attr_cb(const struct nlattr *a, void *data)
{
	uint32_t *master = data;

	if (mnl_attr_get_type(a) == IFLA_MASTER &&
	    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		*master = mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

int
link_master(const char *name, char *buf, size_t size)
{
	char master_name[IF_NAMESIZE];
	uint32_t master = 0;

	if (size == 0)
		return -1;
	buf[0] = '\0';
	if (link_get(name, link_master_attr_cb, &master) == -1)
		return -1;
	if (master == 0)
		return 0;
	if (if_indextoname(master, master_name) == NULL)
		snprintf(master_name, sizeof(master_name), "#%u", master);
	snprintf(buf, size, "%s", master_name);
	return 1;
}

int
link_dummy_delete(const char *name)
{
	char req[256], kind[32];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;
	int idx;

	if (link_kind(name, kind, sizeof(kind)) == -1)
		return -1;
	if (strcmp(kind, "dummy") != 0 && strcmp(kind, "ifb") != 0) {
		errno = EMEDIUMTYPE;
		return -1;
	}
	idx = link_index(name);
	if (idx == -1)
		return -1;
	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_DELLINK;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = idx;
	return link_talk(nlh, NULL, NULL);
}

/*
 * Peer lookup
 */

struct link_peer {
	int32_t nsid; /* wanted IFLA_LINK_NETNSID */
	int found;
	char name[IFNAMSIZ];
};

struct link_attrs {
	const char *name;
	int has_nsid;
	int32_t nsid;
};

static int
link_peer_attr_cb(const struct nlattr *a, void *data)
{
	struct link_attrs *la = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		if (mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
			la->name = mnl_attr_get_str(a);
		break;
	case IFLA_LINK_NETNSID:
		if (mnl_attr_validate(a, MNL_TYPE_U32) == 0) {
			la->has_nsid = 1;
			la->nsid = (int32_t)mnl_attr_get_u32(a);
		}
		break;
	default:
		break;
	}
	return MNL_CB_OK;
}

static int
link_peer_cb(const struct nlmsghdr *nlh, void *data)
{
	struct link_peer *p = data;
	struct link_attrs la = {NULL, 0, 0};

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct ifinfomsg))
		return MNL_CB_OK;
	if (mnl_attr_parse(nlh, sizeof(struct ifinfomsg), link_peer_attr_cb,
		&la) == MNL_CB_ERROR)
		return MNL_CB_ERROR;
	if (la.name == NULL || !la.has_nsid || la.nsid < 0)
		return MNL_CB_OK;
	/* p->nsid < 0: first pass, only let the kernel assign ids */
	if (p->nsid >= 0 && la.nsid == p->nsid) {
		if (p->found++ == 0)
			snprintf(p->name, sizeof(p->name), "%s", la.name);
	}
	return MNL_CB_OK;
}

static int
link_dump_peers(struct link_peer *p)
{
	char req[256];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifi;

	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_DUMP;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	return link_talk(nlh, link_peer_cb, p);
}

static int
link_nsid_attr_cb(const struct nlattr *a, void *data)
{
	int32_t *nsid = data;

	if (mnl_attr_get_type(a) == NETNSA_NSID &&
	    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		*nsid = (int32_t)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int
link_nsid_cb(const struct nlmsghdr *nlh, void *data)
{
	if (nlh->nlmsg_type != RTM_NEWNSID ||
	    mnl_nlmsg_get_payload_len(nlh) < sizeof(struct rtgenmsg))
		return MNL_CB_OK;
	return mnl_attr_parse(
	    nlh, sizeof(struct rtgenmsg), link_nsid_attr_cb, data);
}

/* The id this namespace uses for the namespace open at fd, or -1. */
static int
link_netns_id(int fd, int32_t *nsid)
{
	char req[256];
	struct nlmsghdr *nlh;
	struct rtgenmsg *g;

	nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETNSID;
	g = mnl_nlmsg_put_extra_header(nlh, sizeof(*g));
	g->rtgen_family = AF_UNSPEC;
	mnl_attr_put_u32(nlh, NETNSA_FD, (uint32_t)fd);
	*nsid = NETNSA_NSID_NOT_ASSIGNED;
	return link_talk(nlh, link_nsid_cb, nsid);
}

int
link_peer_of_netns(const char *netns, char *ifname, size_t size)
{
	char path[4096];
	struct link_peer p;
	int fd = -1, rc = -1, e = 0;

	if (netns[0] == '\0' || strchr(netns, '/') == NULL) {
		if (netns[0] == '\0' || strcmp(netns, ".") == 0 ||
		    strcmp(netns, "..") == 0) {
			errno = EINVAL;
			return -1;
		}
		snprintf(path, sizeof(path), "/run/netns/%s", netns);
	} else {
		snprintf(path, sizeof(path), "%s", netns);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		e = errno;
		goto out;
	}
	/* listing the links makes the kernel assign ids to the namespaces
	 * they lead to; only then does RTM_GETNSID know this one */
	memset(&p, 0, sizeof(p));
	p.nsid = -1;
	if (link_dump_peers(&p) == -1 || link_netns_id(fd, &p.nsid) == -1) {
		e = errno;
		goto out;
	}
	if (p.nsid < 0) {
		e = ENODEV;
		goto out;
	}
	if (link_dump_peers(&p) == -1) {
		e = errno;
		goto out;
	}
	if (p.found == 0 || size < IFNAMSIZ) {
		e = p.found == 0 ? ENODEV : EINVAL;
		goto out;
	}
	if (p.found > 1) {
		e = ENOTUNIQ;
		goto out;
	}
	snprintf(ifname, size, "%s", p.name);
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	if (rc == -1)
		errno = e;
	return rc;
}
