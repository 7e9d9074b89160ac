/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * redirector.h - the transparent redirector of `slicer-agent proxy run`.
 *
 * Listens on 0.0.0.0 and [::] (separate sockets, IPV6_V6ONLY) on the
 * redirect port.  For each connection nftables redirected there: the
 * original destination (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST), refused
 * when it is local or the listener itself; the server name from the TLS
 * ClientHello or the HTTP Host header, peeked (MSG_PEEK, never consumed)
 * for at most REDIR_PEEK_MS; then `CONNECT name:port` with the token to
 * the proxy, from a socket marked with the agent's SO_MARK.  The name is
 * the peeked one; else (another protocol such as ssh, a ClientHello
 * without SNI, HTTP without Host) the one the DNS stub answered the
 * original destination address for (redir_config.name_for); else the
 * address itself.  A name from the DNS stub goes with the address the
 * client connected to (Slicer-Original-Destination), which the proxy
 * dials only if the name resolves to it: a name another process of the VM
 * had the stub map to this address cannot send the connection elsewhere.
 * On 2xx the bytes are spliced both ways (through
 * userspace when the proxy link is TLS).  On a refusal the
 * client is closed at once; an HTTP client first gets the proxy's answer.
 * A refused or reset proxy connection is retried a few times before the
 * client is given up, so a proxy restart costs a delay, not a failure.
 *
 * Everything runs on the caller's event loop; no connection can block
 * another (every state has a deadline).
 */
#ifndef SLICER_REDIRECTOR_H
#define SLICER_REDIRECTOR_H

#include <stddef.h>
#include <stdint.h>

#include "agentcfg.h"
#include "netaddr.h"

struct ev;
struct tlsc_ctx;
struct redir;

/* How long to wait for the first bytes that name the server. */
#define REDIR_PEEK_MS 1000
/* Connecting to the proxy and getting its answer to CONNECT. */
#define REDIR_CONNECT_MS 10000
/* Attempts at the proxy when it refuses or drops the connection. */
#define REDIR_ATTEMPTS 4
/* Pause before the n-th retry: n * this. */
#define REDIR_RETRY_MS 250
/* Draining a refused HTTP client after the answer (avoids an RST that
 * would destroy the answer). */
#define REDIR_LINGER_MS 2000
/* Connections at once: each holds its two sockets (pipes only while bytes
 * are in flight), so 16384 needs about 33,000 descriptors; the agent raises
 * its soft limit to the hard one and its service unit sets 65536. */
#define REDIR_MAX_CONNS 16384

/*
 * The name addr was looked up by (the DNS stub's dns_stub_name_for): 1
 * with the name, lower case and without a trailing dot, in name; 0 when
 * unknown or when it does not fit in size.
 */
typedef int (*redir_name_fn)(
    void *arg, const struct netaddr *addr, char *name, size_t size);

struct redir_config {
	const struct agentcfg_url *url; /* borrowed: proxy address, port */
	struct tlsc_ctx *tls;           /* borrowed; NULL for plain */
	uint16_t port;                  /* listen port */
	uint32_t mark;                  /* SO_MARK of listeners, proxy
					 * connections */
	redir_name_fn name_for;         /* NULL: names only from the peek */
	void *name_arg;                 /* borrowed, for name_for */
};

/* Where the name of a CONNECT target came from. */
enum redir_by {
	REDIR_BY_PEEK = 1, /* TLS server_name or HTTP Host */
	REDIR_BY_DNS,      /* the DNS answer the address came from */
	REDIR_BY_ADDR,     /* no name: the address */
};

struct redir_stats {
	uint64_t accepted;     /* connections accepted */
	uint64_t active;       /* open now */
	uint64_t by_name;      /* sent as CONNECT name:port, name peeked */
	uint64_t by_dns;       /* name:port, the name from the DNS stub */
	uint64_t by_addr;      /* sent as CONNECT address:port */
	uint64_t tunnels;      /* the proxy said 2xx */
	uint64_t refused;      /* the proxy said no (403, 407, 502 ...) */
	uint64_t proxy_errors; /* the proxy could not be reached / spoke garbage */
	uint64_t bad_dst;      /* no or a local original destination */
};

/*
 * The CONNECT authority for a connection to odst:oport whose first len
 * bytes were peek (len 0: nothing arrived): "name:port" with the name from
 * sni_peek, else with a valid host name from name_for (may be NULL), else
 * "addr:port" ("[v6]:port").  *is_http (may be NULL) is set when the
 * bytes are HTTP.  target must hold LIMIT_HOSTNAME + 16 bytes.  Returns an
 * enum redir_by.
 */
int redir_target(const void *peek, size_t len, const struct netaddr *odst,
    uint16_t oport, redir_name_fn name_for, void *arg, char *target,
    size_t size, int *is_http);

/* Room for the whole CONNECT head: two targets, the Proxy-Authorization
 * line (redir.auth), the Slicer-Original-Destination line and the rest. */
#define REDIR_HEAD_MAX 2048

/*
 * The CONNECT request head for target (from redir_target, which said by)
 * into out (size bytes): the request line, Host, auth (a whole
 * "Proxy-Authorization: ...\r\n" line, or ""), User-Agent.  A target
 * named after the DNS stub's answers (REDIR_BY_DNS) also carries
 * "Slicer-Original-Destination: ODST" (origdst.h), so that the proxy dials
 * only the address the client connected to, and only when the name still
 * resolves to it; a peeked name or an address target never does.  Returns
 * the length, or -1 when it does not fit.  The head holds the token: the
 * caller wipes out.
 */
int redir_connect_head(char *out, size_t size, const char *target, int by,
    const struct netaddr *odst, const char *auth);

/* Listen and start.  NULL with a message on failure (port in use...). */
struct redir *redir_new(struct ev *ev, const struct redir_config *cfg,
    char *err, size_t errsz);
/* Close every connection and the listeners. */
void redir_free(struct redir *r);
void redir_get_stats(const struct redir *r, struct redir_stats *s);

#endif
