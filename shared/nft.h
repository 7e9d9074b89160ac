/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * nft.h - nf_tables over netlink with libnftnl: one atomic batch with an
 * ACK read for every message, the expression builders both rule sets use,
 * table/chain/rule queries, and the NFNLGRP_NFTABLES change subscription.
 *
 * All register use is fixed: matches load into NFT_REG_1 and compare it.
 * Addresses, ports and marks are given in host order unless a parameter
 * says otherwise; the builders convert to what the kernel expects.
 * Nothing here knows about either program's tables.
 */
#ifndef SLICER_NFT_H
#define SLICER_NFT_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

struct nftnl_table;
struct nftnl_chain;
struct nftnl_rule;
struct nftnl_set;

/* Messages in one batch (begin/end not counted); more is a bug. */
#define NFT_BATCH_MAX_MSGS 1024
/* Bytes of one batch; the kernel takes far more, our tables need ~20k. */
#define NFT_BATCH_MAX_BYTES (1024 * 1024)
/* Room kept free before building one message.  libnftnl builders do not
 * check bounds; our largest message (a rule of <= 32 expressions with a
 * 128-byte comment) is under 4 KiB. */
#define NFT_MSG_RESERVE (64 * 1024)
/* How long to wait for the kernel's acknowledgements. */
#define NFT_ACK_TIMEOUT_MS 5000
/* Description kept per message for error reports. */
#define NFT_WHAT_MAX 96
/* nf_tables object names (NFT_NAME_MAXLEN) including the NUL. */
#define NFT_NAME_MAX 256
/* Comments (nft's NFTNL_UDATA_COMMENT_MAXLEN) including the NUL. */
#define NFT_COMMENT_MAX 128

/*
 * The outcome of a batch.  error is a positive errno (0: success).
 * index is the failing message's number (0 = first message after the
 * batch begin marker), -1 when the whole batch failed (begin or commit).
 * what is that message's description; msg the kernel's extended-ack text.
 */
struct nft_error {
	int error;
	int index;
	char what[NFT_WHAT_MAX];
	char msg[128];
};

struct nft_batch;

/* A new empty batch (begin marker written).  NULL with errno on failure. */
struct nft_batch *nft_batch_new(void);
void nft_batch_free(struct nft_batch *b);

/*
 * Append one message.  type is NFT_MSG_NEW... / NFT_MSG_DEL...; flags are
 * NLM_F_CREATE / NLM_F_EXCL / NLM_F_APPEND as wanted (NLM_F_ACK is always
 * added).  The object is only read.  what (may be NULL) describes the
 * message in error reports and is copied, truncated to NFT_WHAT_MAX - 1.
 * Returns 0, or -1 with errno (E2BIG past the limits, ENOMEM).  After a
 * failed append the batch refuses to commit.
 */
int nft_batch_add_table(struct nft_batch *b, uint16_t type, uint16_t flags,
    const struct nftnl_table *t, const char *what);
int nft_batch_add_chain(struct nft_batch *b, uint16_t type, uint16_t flags,
    const struct nftnl_chain *c, const char *what);
int nft_batch_add_rule(struct nft_batch *b, uint16_t type, uint16_t flags,
    struct nftnl_rule *r, const char *what);
int nft_batch_add_set(struct nft_batch *b, uint16_t type, uint16_t flags,
    struct nftnl_set *s, const char *what);
/* The set's elements (NFT_MSG_NEWSETELEM / NFT_MSG_DELSETELEM). */
int nft_batch_add_setelems(struct nft_batch *b, uint16_t type, uint16_t flags,
    struct nftnl_set *s, const char *what);

/*
 * Append rule r (NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND) and free
 * it.  built_ok == 0 means building r failed: r is freed, nothing is
 * appended, -1 returned.  r == NULL returns -1.  Lets a caller write
 *   r = nft_rule_new(...);
 *   ok = r && nft_match_...(r, ...) == 0 && nft_expr_verdict(...) == 0;
 *   if (nft_batch_put_rule(b, r, ok, "what") == -1) ...
 */
int nft_batch_put_rule(
    struct nft_batch *b, struct nftnl_rule *r, int built_ok, const char *what);

/* Messages appended so far (begin/end not counted). */
size_t nft_batch_count(const struct nft_batch *b);
/* The description given for message i, or NULL. */
const char *nft_batch_what(const struct nft_batch *b, size_t i);
/* The whole batch as it would be sent (begin .. end markers), for tests.
 * The end marker is appended on first call; no message can be added
 * afterwards. */
const void *nft_batch_data(struct nft_batch *b, size_t *len);

/*
 * Send the batch on a new NETLINK_NETFILTER socket in the current network
 * namespace and read the acknowledgement of every message until all are
 * acknowledged or one fails.  The kernel applies all or nothing.
 * Returns 0, or -1 with errno set and *err filled (err may be NULL).
 */
int nft_batch_commit(struct nft_batch *b, struct nft_error *err);

/* "message 3 (add rule nat_output): No such file or directory (...)". */
const char *nft_error_format(const struct nft_error *e, char *buf, size_t size);

/*
 * Object constructors.  NULL on allocation failure.  comment (may be
 * NULL) is stored as the object's userdata comment, as nft does, and must
 * be shorter than NFT_COMMENT_MAX.
 */
struct nftnl_table *nft_table_new(
    uint16_t family, const char *name, const char *comment);
/* A regular chain (jump target). */
struct nftnl_chain *nft_chain_new(
    uint16_t family, const char *table, const char *name);
/* A base chain: type "filter"/"nat", hook NF_INET_*, priority, policy
 * NF_ACCEPT / NF_DROP. */
struct nftnl_chain *nft_chain_new_base(uint16_t family, const char *table,
    const char *name, const char *type, uint32_t hook, int32_t prio,
    uint32_t policy);
/* An empty rule for table/chain; add expressions with the helpers below.
 * With a NULL chain only the table is set (for a table-wide flush). */
struct nftnl_rule *nft_rule_new(
    uint16_t family, const char *table, const char *chain, const char *comment);

/*
 * Expression builders: append to rule r; 0 or -1 (ENOMEM, EINVAL).
 */
/* meta load KEY (NFT_META_*) => reg 1 */
int nft_expr_meta(struct nftnl_rule *r, uint32_t key);
/* cmp OP (NFT_CMP_*) reg 1, data (network order / raw bytes) */
int nft_expr_cmp(
    struct nftnl_rule *r, uint32_t op, const void *data, uint32_t len);
/* payload load LEN bytes @ BASE (NFT_PAYLOAD_*) + OFFSET => reg 1 */
int nft_expr_payload(
    struct nftnl_rule *r, uint32_t base, uint32_t offset, uint32_t len);
/* bitwise reg 1 = (reg 1 & mask) ^ xorv, len bytes */
int nft_expr_bitwise(
    struct nftnl_rule *r, const void *mask, const void *xorv, uint32_t len);
/* fib FLAGS (NFTA_FIB_F_*) RESULT (NFT_FIB_RESULT_*) => reg 1 */
int nft_expr_fib(struct nftnl_rule *r, uint32_t flags, uint32_t result);
/* ct load KEY (NFT_CT_*) => reg 1 */
int nft_expr_ct(struct nftnl_rule *r, uint32_t key);
/* socket load KEY (NFT_SOCKET_*) of the local socket the packet goes to
 * => reg 1.  With no such socket the rule stops there (no match). */
int nft_expr_socket(struct nftnl_rule *r, uint32_t key);
/* immediate data => reg 1 */
int nft_expr_immediate(struct nftnl_rule *r, const void *data, uint32_t len);
/* redirect to :port (immediate port => reg 1; redir proto_min reg 1) */
int nft_expr_redir(struct nftnl_rule *r, uint16_t port);
/* reject: type NFT_REJECT_*, code (ICMPx code, 0 for TCP reset) */
int nft_expr_reject(struct nftnl_rule *r, uint32_t type, uint8_t code);
/* verdict NF_ACCEPT, NF_DROP, NFT_RETURN, NFT_JUMP/NFT_GOTO with chain */
int nft_expr_verdict(struct nftnl_rule *r, int verdict, const char *chain);
int nft_expr_counter(struct nftnl_rule *r);
/* lookup reg 1 in set (by name; set_id for a set added in the same batch,
 * 0 otherwise).  is_vmap: the set is a verdict map (dreg = verdict). */
int nft_expr_lookup(
    struct nftnl_rule *r, const char *set, uint32_t set_id, int is_vmap);

/*
 * Matches built from the expressions above (what nft generates).
 */
/* iifname/oifname (meta_key NFT_META_IIFNAME/OIFNAME) op "name" */
int nft_match_ifname(
    struct nftnl_rule *r, uint32_t meta_key, uint32_t op, const char *name);
/* meta l4proto PROTO */
int nft_match_l4proto(struct nftnl_rule *r, uint8_t proto);
/* tcp/udp dport PORT (meta l4proto + transport header + 2) */
int nft_match_dport(struct nftnl_rule *r, uint8_t proto, uint16_t port);
/* ip/ip6 daddr ADDR/PREFIX; family AF_INET/AF_INET6, addr in network
 * order (struct in_addr / in6_addr); host bits must be clear. */
int nft_match_daddr(
    struct nftnl_rule *r, int family, const void *addr, int prefix);
/* meta mark MARK */
int nft_match_mark(struct nftnl_rule *r, uint32_t mark);
/* socket mark op MARK (NFT_CMP_EQ / NFT_CMP_NEQ); input, prerouting and
 * output only.  A packet with no socket (or a request or time-wait one)
 * matches neither op. */
int nft_match_socket_mark(struct nftnl_rule *r, uint32_t op, uint32_t mark);
/* fib daddr type TYPE (RTN_LOCAL ...) */
int nft_match_fib_daddr_type(struct nftnl_rule *r, uint32_t rtn_type);
/* fib daddr oifname op "name" (prerouting, input, forward only) */
int nft_match_fib_daddr_oifname(
    struct nftnl_rule *r, uint32_t op, const char *name);
/* ct state & bits != 0 (NF_CT_STATE_BIT(IP_CT_ESTABLISHED) ...) */
int nft_match_ct_state(struct nftnl_rule *r, uint32_t bits);
/* ct status & bits != 0 (IPS_DST_NAT = "ct status dnat") */
int nft_match_ct_status(struct nftnl_rule *r, uint32_t bits);
/* icmpv6 type TYPE */
int nft_match_icmpv6_type(struct nftnl_rule *r, uint8_t type);
/* icmp type FIRST-LAST (family AF_INET) or icmpv6 type FIRST-LAST
 * (AF_INET6); FIRST == LAST for one type. */
int nft_match_icmp_type(
    struct nftnl_rule *r, int family, uint8_t first, uint8_t last);

/*
 * Userdata comments ([type 0][len][text NUL], as nft writes them).
 * put: writes into out (size >= strlen + 3); returns the length or -1.
 * get: finds the comment in data; copies it into buf; 0, or -1 when
 * absent or malformed.
 */
int nft_udata_comment_put(const char *comment, void *out, size_t size);
int nft_udata_comment_get(const void *data, size_t len, char *buf, size_t size);

/*
 * Queries (on a new socket in the current network namespace).
 * nft_table_get: 0 when the table exists, comment (may be NULL) gets its
 * comment or ""; -1 with errno ENOENT when it does not, other errno on
 * failure.
 */
int nft_table_get(
    uint16_t family, const char *name, char *comment, size_t size);
/* Delete a table in its own batch.  0, or -1 with errno (ENOENT). */
int nft_table_delete(uint16_t family, const char *name, struct nft_error *err);

typedef int (*nft_table_cb)(uint16_t family, const char *name, void *arg);
typedef int (*nft_chain_cb)(const struct nftnl_chain *c, void *arg);
typedef int (*nft_rule_cb)(const struct nftnl_rule *r, void *arg);
/* Call cb for each table of family (NFPROTO_UNSPEC: all); each chain of a
 * table; each rule of a chain (chain NULL: whole table), in kernel order.
 * cb returns 0 to go on, anything else stops the walk and is returned.
 * Returns 0 / cb's value, or -1 with errno (EINTR: changed during the
 * dump, try again). */
int nft_table_list(uint16_t family, nft_table_cb cb, void *arg);
int nft_chain_list(
    uint16_t family, const char *table, nft_chain_cb cb, void *arg);
int nft_rule_list(uint16_t family, const char *table, const char *chain,
    nft_rule_cb cb, void *arg);

/* Sum of the rule's counter expressions; 0 when it has none. */
void nft_rule_counters(
    const struct nftnl_rule *r, uint64_t *packets, uint64_t *bytes);
/* The rule's comment into buf; 0, or -1 when it has none. */
int nft_rule_comment(const struct nftnl_rule *r, char *buf, size_t size);

/*
 * Change notifications (NFNLGRP_NFTABLES).  One event per object message:
 * type is NFT_MSG_NEWTABLE, NFT_MSG_DELTABLE, NFT_MSG_DELCHAIN, ...,
 * NFT_MSG_NEWGEN after each committed transaction; table is "" for
 * NEWGEN.  The socket is non-blocking: poll nft_monitor_fd().
 */
struct nft_event {
	uint16_t type;
	uint16_t family;
	char table[NFT_NAME_MAX];
};
typedef void (*nft_event_cb)(const struct nft_event *ev, void *arg);

struct nft_monitor;
struct nft_monitor *nft_monitor_open(void);
int nft_monitor_fd(const struct nft_monitor *m);
/*
 * Read one pending datagram and call cb per event in it.  Returns the
 * number of events (0 when nothing was pending), or -1 with errno.
 * ENOBUFS (socket overrun) or ENOSPC (datagram too large) mean events
 * were lost: the caller must re-check the state it cares about (e.g.
 * nft_table_get) and may go on reading.
 */
int nft_monitor_read(struct nft_monitor *m, nft_event_cb cb, void *arg);
void nft_monitor_close(struct nft_monitor *m);

#endif
