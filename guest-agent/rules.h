/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * rules.h - the agent's nftables table `inet slicer_agent`: transparent
 * redirect of TCP leaving the uplink to the local redirector, DNS (udp and
 * tcp 53) to the local stub, UDP and every other protocol out the uplink
 * refused (but for the proxy, ICMP errors and neighbour discovery),
 * listener ports reachable only through the redirect and only in sockets
 * with the agent's mark.
 *
 * The table is replaced in one batch (add table; delete table; add table;
 * chains; rules) with every ACK read, so it is either the new ruleset or
 * the old one, never half.  It has no owner flag: it outlives the agent
 * process, and with the agent gone clients get refused at once (fail
 * closed).  Only rules_remove() deletes it.
 */
#ifndef SLICER_RULES_H
#define SLICER_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "netaddr.h"

struct nft_batch;
struct nft_error;

#define RULES_TABLE "slicer_agent"
/* Table comment, so `nft list` says whose it is. */
#define RULES_COMMENT "slicer-agent"
#define RULES_DEFAULT_PROXY_PORT 3128
#define RULES_DEFAULT_REDIRECT_PORT 15001
#define RULES_DEFAULT_DNS_PORT 15053
/* The VM's own UDP out the uplink (not DNS, not allowed) is redirected to
 * this local port, where nothing listens: the kernel answers ICMP port
 * unreachable and the sender gets ECONNREFUSED at once (a reject in
 * filter output would give EPERM on send instead). */
#define RULES_DEFAULT_UDP_SINK_PORT 15054
/* SO_MARK of the agent's own sockets ("SLI\0"): its upstream
 * connections (let out) and its listeners (the only sockets redirected
 * traffic may reach). */
#define RULES_DEFAULT_MARK 0x534c4900u
/* nat chains run before Docker's iptables-nft nat (-100). */
#define RULES_NAT_PRIORITY (-110)
/* The listener guard runs before the usual filter tables. */
#define RULES_INPUT_PRIORITY (-10)
/* Proxy addresses (one per family is the usual case). */
#define RULES_MAX_PROXIES 4
/* --bypass CIDRs and --allow-udp ports. */
#define RULES_MAX_BYPASS 64
#define RULES_MAX_UDP 32

struct rules_proxy {
	struct netaddr addr;
	uint16_t port;
};

struct rules_config {
	char uplink[IFNAMSIZ]; /* the interface to the host */
	struct rules_proxy proxies[RULES_MAX_PROXIES];
	size_t n_proxies;
	uint16_t redirect_port; /* transparent TCP redirector */
	uint16_t dns_port;      /* DNS stub, udp and tcp */
	uint16_t udp_sink_port; /* closed local port for refused UDP; 0: none */
	uint32_t mark;          /* SO_MARK of the agent's own sockets */
	/* destinations left alone: not redirected, UDP allowed */
	struct netaddr_cidr bypass[RULES_MAX_BYPASS];
	size_t n_bypass;
	uint16_t allow_udp[RULES_MAX_UDP]; /* UDP dports allowed out */
	size_t n_allow_udp;
};

/* Defaults: no uplink, no proxy, ports 15001/15053/15054, mark
 * 0x534c4900. */
void rules_config_init(struct rules_config *c);

/* Is the config complete and consistent?  0, or -1 with a message. */
int rules_config_check(const struct rules_config *c, char *err, size_t errlen);

/*
 * Append the replace batch for c to b.  Pure (no I/O).  Returns 0, or -1
 * with errno (EINVAL for a config rules_config_check refuses).
 */
int rules_build(const struct rules_config *c, struct nft_batch *b);

/* Build and commit.  0, or -1 with errno and *err filled (err may be
 * NULL). */
int rules_apply(const struct rules_config *c, struct nft_error *err);

/* Delete the table.  0 when it is gone (also when it was not there), -1
 * with errno and *err. */
int rules_remove(struct nft_error *err);

/* 1 when the table is present, 0 when not, -1 on error. */
int rules_present(void);

#endif
