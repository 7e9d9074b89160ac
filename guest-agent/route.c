/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * route.c - RTM_GETROUTE for one address (see route.h).
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include <libmnl/libmnl.h>

#include "route.h"

#define ROUTE_BUF 8192
#define ROUTE_TIMEOUT_MS 2000
#define ROUTE_MAX_READS 8

struct route_result {
	int oif;
	int got;
};

static int
route_attr_cb(const struct nlattr *a, void *data)
{
	struct route_result *res = data;

	if (mnl_attr_get_type(a) == RTA_OIF &&
	    mnl_attr_validate(a, MNL_TYPE_U32) == 0)
		res->oif = (int)mnl_attr_get_u32(a);
	return MNL_CB_OK;
}

static int
route_msg_cb(const struct nlmsghdr *nlh, void *data)
{
	struct route_result *res = data;

	if (nlh->nlmsg_type != RTM_NEWROUTE)
		return MNL_CB_OK;
	res->got = 1;
	return mnl_attr_parse(nlh, sizeof(struct rtmsg), route_attr_cb, data);
}

int
route_uplink(const struct netaddr *dst, char *ifname, size_t size)
{
	struct route_result res = {0, 0};
	struct mnl_socket *nl = NULL;
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;
	struct pollfd p;
	char *buf, name[IF_NAMESIZE];
	uint32_t portid, seq;
	ssize_t n;
	int ret, rc = -1, e = EIO, i;

	buf = malloc(ROUTE_BUF);
	if (buf == NULL)
		return -1;
	memset(buf, 0, ROUTE_BUF);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = RTM_GETROUTE;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	seq = (uint32_t)getpid() ^ 0x52540000u;
	nlh->nlmsg_seq = seq;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)dst->family;
	if (dst->family == AF_INET) {
		rtm->rtm_dst_len = 32;
		mnl_attr_put(nlh, RTA_DST, 4, &dst->u.v4);
	} else {
		rtm->rtm_dst_len = 128;
		mnl_attr_put(nlh, RTA_DST, 16, &dst->u.v6);
	}
	nl = mnl_socket_open(NETLINK_ROUTE);
	if (nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		e = errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) == -1) {
		e = errno;
		goto out;
	}
	p.fd = mnl_socket_get_fd(nl);
	p.events = POLLIN;
	for (i = 0; i < ROUTE_MAX_READS; i++) {
		ret = poll(&p, 1, ROUTE_TIMEOUT_MS);
		if (ret == -1 && errno == EINTR)
			continue;
		if (ret <= 0) {
			e = ret == 0 ? ETIMEDOUT : errno;
			goto out;
		}
		n = mnl_socket_recvfrom(nl, buf, ROUTE_BUF);
		if (n == -1) {
			e = errno;
			goto out;
		}
		ret = mnl_cb_run(buf, (size_t)n, seq, portid, route_msg_cb,
		    &res);
		if (ret == MNL_CB_ERROR) {
			e = errno;
			goto out;
		}
		if (ret == MNL_CB_STOP || res.got)
			break;
	}
	if (!res.got) {
		e = ENETUNREACH;
		goto out;
	}
	if (res.oif <= 0 || if_indextoname((unsigned int)res.oif, name) == NULL) {
		e = ENODEV;
		goto out;
	}
	if ((size_t)snprintf(ifname, size, "%s", name) >= size) {
		e = ENAMETOOLONG;
		goto out;
	}
	rc = 0;
out:
	if (nl != NULL)
		mnl_socket_close(nl);
	free(buf);
	if (rc == -1)
		errno = e;
	return rc;
}
