/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * isolate.h - `slicer-proxy isolate`: the host nftables table
 * `inet slicer_proxy` that lets an isolated interface reach only the
 * proxy.
 *
 * Layout (one regular chain per isolated interface, selected by a verdict
 * map, so adding or removing one interface never touches the others):
 *
 *   table inet slicer_proxy {
 *     comment "slicer-proxy isolate"                    <- ownership marker
 *     map ifaces { type ifname : verdict; elements = { "IF" : jump iso_IF } }
 *     chain input   { type filter hook input priority filter - 10; ...
 *                     iifname vmap @ifaces }
 *     chain forward { type filter hook forward priority filter - 10; ...
 *                     iifname vmap @ifaces }
 *     chain iso_IF {
 *       ct state established,related accept comment "iface=IF"
 *       [icmpv6 type nd-neighbor-solicit/advert accept]  (IPv6 proxy only)
 *       ip daddr PROXY tcp dport PORT accept comment "proxy PROXY port PORT"
 *       meta l4proto tcp counter reject with tcp reset
 *       counter reject with icmpx admin-prohibited
 *     }
 *   }
 *
 * Both hooks jump to the same chain: a proxy address that is not local
 * (reached by forwarding) is allowed too.  Matching is by interface name,
 * so an interface can be isolated before it exists (before its VM starts)
 * and stays isolated when it is re-created.  Flows that were already
 * established before `isolate` keep going (conntrack); isolate before the
 * VM starts.
 *
 * --netns NS means "the namespace's uplink, enforced from outside": the
 * interface of the current (host) namespace whose veth peer lives in NS
 * is looked up (link_peer_of_netns) and isolated as with --iface.  Nothing
 * is installed inside NS, where root could remove it.
 */
#ifndef SLICER_ISOLATE_H
#define SLICER_ISOLATE_H

#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#include "netaddr.h"

#define ISOLATE_TABLE "slicer_proxy"
/* The table comment that marks the table as ours. */
#define ISOLATE_MARKER "slicer-proxy isolate"
#define ISOLATE_CHAIN_PREFIX "iso_"
#define ISOLATE_SET "ifaces"
#define ISOLATE_DEFAULT_PROXY "192.168.222.1"
#define ISOLATE_DEFAULT_PORT1 3128
#define ISOLATE_DEFAULT_PORT2 3129
/* --proxy given at most this often (e.g. one IPv4 and one IPv6). */
#define ISOLATE_MAX_PROXIES 4
/* --port given at most this often. */
#define ISOLATE_MAX_PORTS 16
/* Interfaces shown by --list. */
#define ISOLATE_MAX_IFACES 1024
/* --netns names (under /run/netns) or paths. */
#define ISOLATE_NETNS_MAX 256
/* Base chain priority: before the usual filter tables (0), so the
 * counters see what is rejected even if another table would drop it. */
#define ISOLATE_PRIORITY (-10)

enum isolate_action {
	ISOLATE_ADD = 0,
	ISOLATE_REMOVE,     /* --remove --iface/--netns */
	ISOLATE_REMOVE_ALL, /* --remove alone: the whole table */
	ISOLATE_LIST,
};

struct isolate_opts {
	enum isolate_action action;
	char iface[IFNAMSIZ];          /* "" with --netns */
	char netns[ISOLATE_NETNS_MAX]; /* "" with --iface */
	struct netaddr proxies[ISOLATE_MAX_PROXIES];
	size_t n_proxies;
	uint16_t ports[ISOLATE_MAX_PORTS];
	size_t n_ports;
};

/*
 * Parse the command line (argv[0] is "isolate"; options follow) into o,
 * with defaults filled in (proxy 192.168.222.1, ports 3128 and 3129).
 * Returns 0, 1 for --help (usage printed by the caller), or -1 with a
 * message quoting the offending value in err.
 */
int isolate_parse_args(
    int argc, char **argv, struct isolate_opts *o, char *err, size_t errlen);

/*
 * Build the batch that isolates ifname (table, map, base chains, the
 * interface's chain and map element), as described above.  netns may be
 * NULL; it is recorded in the first rule's comment.  Returns 0 or -1.
 */
struct nft_batch;
int isolate_build_add(struct nft_batch *b, const struct isolate_opts *o,
    const char *ifname, const char *netns);
/* The batch that removes ifname's element and chain. */
int isolate_build_remove(struct nft_batch *b, const char *ifname);

/*
 * `slicer-proxy isolate ...`: argv[0] is "isolate" (the proxy's main
 * calls isolate_main(argc - 1, argv + 1)).  Prints errors to stderr and
 * --list to stdout; returns the exit status (0 ok, 1 error or misuse).
 */
int isolate_main(int argc, char **argv);

#endif
