/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agentcfg.h - the agent's configuration: the proxy URL
 * (http://USER:TOKEN@ADDR:PORT or https://...), the Proxy-Authorization
 * value made from it, and the config file `install` writes and `run`
 * reads (key=value lines).
 *
 * Pure functions: no I/O.  The proxy host must be an IP literal: the
 * agent does no name lookups (no NSS, and DNS is what it redirects).
 */
#ifndef SLICER_AGENTCFG_H
#define SLICER_AGENTCFG_H

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "netaddr.h"
#include "rules.h"

/* A proxy URL, and a token in it (the proxy's are 36 characters). */
#define AGENTCFG_URL_MAX 1024
#define AGENTCFG_TOKEN_MAX 256
#define AGENTCFG_USER_MAX 64
/* Longest line of the config file, and the whole file. */
#define AGENTCFG_LINE_MAX 1100
#define AGENTCFG_FILE_MAX 16384
#define AGENTCFG_PATH_MAX 256
/* Default ports of the proxy: plain and TLS. */
#define AGENTCFG_PORT_HTTP 3128
#define AGENTCFG_PORT_HTTPS 3129
/* User name sent when the URL has only a token. */
#define AGENTCFG_DEFAULT_USER "proxy"

struct agentcfg_url {
	int is_tls;                          /* https:// */
	char user[AGENTCFG_USER_MAX + 1];    /* decoded */
	char token[AGENTCFG_TOKEN_MAX + 1];  /* decoded */
	struct netaddr addr;
	uint16_t port;
};

/*
 * How the daemon is scheduled (sched(7)).  batch (SCHED_BATCH, the
 * default): traffic that wakes it does not preempt the task that is
 * running, so under load it relays what many wake-ups brought in one
 * turn instead of a few bytes per context switch; a guest whose CPU is
 * saturated by other work waits up to a scheduler slice (milliseconds)
 * per hop.  normal (SCHED_OTHER): woken traffic preempts at once.
 */
enum agentcfg_sched {
	AGENTCFG_SCHED_BATCH = 0,
	AGENTCFG_SCHED_NORMAL,
};

struct agentcfg {
	char url_text[AGENTCFG_URL_MAX + 1]; /* as given (holds the token) */
	struct agentcfg_url url;
	char uplink[IFNAMSIZ];
	struct netaddr_cidr bypass[RULES_MAX_BYPASS];
	size_t n_bypass;
	uint16_t allow_udp[RULES_MAX_UDP];
	size_t n_allow_udp;
	char ca_path[AGENTCFG_PATH_MAX]; /* "" with --no-ca */
	enum agentcfg_sched sched;
};

void agentcfg_init(struct agentcfg *c);

/*
 * Parse a proxy URL: scheme http or https; userinfo USER:TOKEN or TOKEN
 * (percent-encoding decoded; the token is required); host an IPv4
 * literal or a bracketed IPv6 literal; optional port (default 3128 for
 * http, 3129 for https); optional "/" path; nothing else.  Returns 0, or
 * -1 with a message in err that never contains the token.
 */
int agentcfg_parse_url(
    const char *s, struct agentcfg_url *u, char *err, size_t errsz);

/* "ADDR:PORT" / "[ADDR]:PORT" of the proxy into buf. */
const char *agentcfg_url_hostport(
    const struct agentcfg_url *u, char *buf, size_t size);

/*
 * The value of a Proxy-Authorization field: "Basic " +
 * base64(user ":" token).  Returns its length, or -1 when out (size) is
 * too small.
 */
int agentcfg_basic_auth(const struct agentcfg_url *u, char *out, size_t size);

/* Standard base64 with padding.  Returns the length written (plus a NUL),
 * or -1 when out is too small. */
int agentcfg_b64_encode(
    const void *in, size_t len, char *out, size_t size);

/* "batch" or "normal"; and back (0, or -1 for any other text). */
const char *agentcfg_sched_name(enum agentcfg_sched s);
int agentcfg_sched_parse(const char *s, enum agentcfg_sched *out);

/*
 * The config file text for c into out.  Returns the length, or -1 when
 * it does not fit.  Round-trips through agentcfg_parse.
 */
int agentcfg_format(const struct agentcfg *c, char *out, size_t size);

/*
 * Parse config file text: "key=value" lines, '#' comments, blank lines.
 * Keys: proxy (required, once), uplink (required, once), bypass and
 * allow-udp (repeatable, bounded), ca and sched (at most once; sched
 * batch when absent).  Unknown keys,
 * repeats and over-long lines fail.  Returns 0, or -1 with a message
 * (quoting the line number, never a token).
 */
int agentcfg_parse(const char *text, size_t len, struct agentcfg *c,
    char *err, size_t errsz);

/* The ruleset for c (redirect and DNS ports, mark: the defaults). */
void agentcfg_rules(const struct agentcfg *c, struct rules_config *r);

#endif
