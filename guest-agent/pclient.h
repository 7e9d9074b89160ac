/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * pclient.h - one blocking request to the proxy's own endpoints
 * (GET /slicer/whoami, GET /slicer/ca.crt), plain or over TLS, for
 * install and status.  Bounded in time and size.  The socket carries the
 * agent's SO_MARK so the agent's own rules never redirect it.
 */
#ifndef SLICER_PCLIENT_H
#define SLICER_PCLIENT_H

#include <stddef.h>

#include "agentcfg.h"

struct tlsc_ctx;

/* The whole exchange must finish within this. */
#define PCLIENT_TIMEOUT_MS 5000
/* Largest response accepted (head and body). */
#define PCLIENT_RESPONSE_MAX (256 * 1024)

struct pclient_resp {
	int status;
	char *body; /* owned, NUL-terminated */
	size_t len;
};

/*
 * GET path from the proxy at u.  tls is the TLS context for an https://
 * proxy (NULL for plain).  with_auth adds Proxy-Authorization from u.
 * Returns 0 with r filled (any status), or -1 with a message (connection
 * refused, timeout, TLS failure, malformed response).
 */
int pclient_get(const struct agentcfg_url *u, struct tlsc_ctx *tls,
    const char *path, int with_auth, struct pclient_resp *r, char *err,
    size_t errsz);
void pclient_resp_free(struct pclient_resp *r);

/* Put the agent's mark (SO_MARK) on a socket: 0 or -1. */
int pclient_mark(int fd);

#endif
