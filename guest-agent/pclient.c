/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pclient.c - a blocking GET to the proxy (see pclient.h): non-blocking
 * socket, poll with one deadline for connect, TLS handshake, request and
 * response.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http1.h"
#include "parse.h"
#include "pclient.h"
#include "rules.h"
#include "sock.h"
#include "tlsc.h"

int
pclient_mark(int fd)
{
	unsigned int mark = RULES_DEFAULT_MARK;

	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark));
}

void
pclient_resp_free(struct pclient_resp *r)
{
	if (r == NULL)
		return;
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

/* Wait for events on fd until deadline: 0, or -1 (ETIMEDOUT). */
static int
pclient_wait(int fd, short events, int64_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int64_t left;
	int n;

	for (;;) {
		left = deadline - parse_mono_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 0;
		if (n == -1 && errno != EINTR)
			return -1;
	}
}

static ssize_t
pclient_io(int fd, struct tlsc *t, void *buf, size_t len, int is_write,
    int64_t deadline)
{
	ssize_t n;

	for (;;) {
		if (t != NULL)
			n = is_write ? tlsc_write(t, buf, len)
				     : tlsc_read(t, buf, len);
		else
			n = is_write ? send(fd, buf, len, MSG_NOSIGNAL)
				     : recv(fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno != EAGAIN && errno != EINTR)
			return -1;
		if (pclient_wait(fd,
			(t != NULL ? tlsc_wants_write(t) : is_write) ? POLLOUT
								     : POLLIN,
			deadline) == -1)
			return -1;
	}
}

int
pclient_get(const struct agentcfg_url *u, struct tlsc_ctx *tls,
    const char *path, int with_auth, struct pclient_resp *r, char *err,
    size_t errsz)
{
	int64_t deadline = parse_mono_ms() + PCLIENT_TIMEOUT_MS;
	char hp[80], auth[512], req[1024], tmsg[160];
	struct http1_response *resp = NULL;
	struct sockaddr_storage ss;
	unsigned int sslen;
	struct tlsc *t = NULL;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd = -1, rc = -1, len;

	memset(r, 0, sizeof(*r));
	agentcfg_url_hostport(u, hp, sizeof(hp));
	auth[0] = '\0';
	if (with_auth) {
		memcpy(auth, "Proxy-Authorization: ", 21);
		if (agentcfg_basic_auth(u, auth + 21, sizeof(auth) - 23) == -1) {
			snprintf(err, errsz, "token too long");
			goto out;
		}
		strcat(auth, "\r\n");
	}
	len = snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\n%sUser-Agent: slicer-agent\r\n"
	    "Connection: close\r\n\r\n",
	    path, hp, auth);
	memset(auth, 0, sizeof(auth));
	if (len < 0 || (size_t)len >= sizeof(req)) {
		snprintf(err, errsz, "request too long");
		goto out;
	}
	netaddr_to_sockaddr(&u->addr, u->port, &ss, &sslen);
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		goto out;
	}
	pclient_mark(fd);
	sock_nodelay(fd);
	if (connect(fd, (struct sockaddr *)&ss, sslen) == -1 &&
	    errno != EINPROGRESS) {
		snprintf(err, errsz, "cannot reach the proxy at %s: %s", hp,
		    strerror(errno));
		goto out;
	}
	if (pclient_wait(fd, POLLOUT, deadline) == -1 ||
	    sock_connect_result(fd) == -1) {
		snprintf(err, errsz, "cannot reach the proxy at %s: %s", hp,
		    strerror(errno));
		goto out;
	}
	if (tls != NULL) {
		t = tlsc_new(tls, fd);
		if (t == NULL) {
			snprintf(err, errsz, "TLS: %s", strerror(errno));
			goto out;
		}
		while (tlsc_handshake(t) == -1) {
			if (errno != EAGAIN ||
			    pclient_wait(fd, tlsc_wants_write(t) ? POLLOUT : POLLIN,
				deadline) == -1) {
				snprintf(err, errsz,
				    "TLS handshake with the proxy at %s failed: "
				    "%s",
				    hp,
				    errno == ETIMEDOUT
					? "timed out"
					: tlsc_error(t, tmsg, sizeof(tmsg)));
				goto out;
			}
		}
	}
	for (size_t done = 0; done < (size_t)len; done += (size_t)n) {
		n = pclient_io(fd, t, req + done, (size_t)len - done, 1,
		    deadline);
		if (n <= 0) {
			snprintf(err, errsz, "sending to the proxy at %s: %s",
			    hp, n == 0 ? "closed" : strerror(errno));
			goto out;
		}
	}
	buf = malloc(PCLIENT_RESPONSE_MAX + 1);
	resp = calloc(1, sizeof(*resp));
	if (buf == NULL || resp == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	for (;;) {
		if (got == PCLIENT_RESPONSE_MAX) {
			snprintf(err, errsz, "the proxy's answer is too large");
			goto out;
		}
		n = pclient_io(fd, t, buf + got, PCLIENT_RESPONSE_MAX - got, 0,
		    deadline);
		if (n == -1 && got > 0 && errno == ECONNRESET)
			n = 0;
		if (n == -1) {
			snprintf(err, errsz,
			    "no answer from the proxy at %s: %s", hp,
			    errno == ETIMEDOUT ? "timed out" : strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (http1_parse_response(buf, got, 0, 0, resp) != HTTP1_OK) {
		snprintf(err, errsz,
		    "the proxy at %s gave a malformed answer (is it a "
		    "slicer-proxy%s?)",
		    hp, u->is_tls ? "" : ", and not its TLS port");
		goto out;
	}
	r->status = resp->status;
	r->len = got - resp->head_len;
	if (resp->framing == HTTP1_BODY_LENGTH &&
	    resp->content_length < r->len)
		r->len = (size_t)resp->content_length;
	r->body = malloc(r->len + 1);
	if (r->body == NULL) {
		snprintf(err, errsz, "out of memory");
		goto out;
	}
	memcpy(r->body, buf + resp->head_len, r->len);
	r->body[r->len] = '\0';
	rc = 0;
out:
	tlsc_free(t);
	if (fd != -1)
		close(fd);
	free(buf);
	free(resp);
	return rc;
}
