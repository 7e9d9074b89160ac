/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dns.h - DNS wire format (RFC 1035, EDNS0 RFC 6891) for the guest's stub
 * and the proxy's /slicer/dns-query endpoint.
 *
 * Pure functions: (buf, len) in, results out; no allocation, no I/O.
 * Messages are byte arrays; offsets are from the start of the message.
 *
 * Names.  A name is followed through compression pointers only backwards:
 * every pointer must point before the start of the labels being read (so
 * a loop or a forward pointer is an error, and decoding always ends), never
 * into the header, and at most LIMIT_DNS_POINTERS times.  A label over 63
 * bytes (the 0x40 and 0x80 label types) or a name over LIMIT_HOSTNAME
 * characters in text form (255 bytes on the wire) is an error.  Text names
 * (dns_name_decode, the question of dns_parse_query) are lower-cased, have
 * no trailing dot, and the root is "."; their labels may hold only letters,
 * digits, '-' and '_', so the text form is unambiguous (no '.' or escape
 * inside a label) and safe to log and to match against policy.
 *
 * Answers from upstream are walked strictly: counts must match the
 * records, no trailing bytes, A and AAAA data of 4 and 16 bytes, at most
 * one OPT record and only in the additional section with the root as
 * owner, names inside CNAME/NS/PTR/DNAME/MX/SOA data well formed.
 */
#ifndef SLICER_DNS_H
#define SLICER_DNS_H

#include <stddef.h>
#include <stdint.h>

#include "slicer_limits.h"
#include "netaddr.h"

/* The ceilings (LIMIT_DNS_*) are in slicer_limits.h. */

/* UDP payload size we advertise in the OPT records we write (DNS flag day
 * 2020 value: no fragmentation on any usual path). */
#define DNS_EDNS_UDP_SIZE 1232

/* Text name buffer: LIMIT_HOSTNAME characters and a NUL. */
#define DNS_NAME_SIZE (LIMIT_HOSTNAME + 1)

#define DNS_HEADER_LEN 12

/* Header flags (second 16-bit word). */
#define DNS_FLAG_QR 0x8000
#define DNS_FLAG_OPCODE 0x7800
#define DNS_FLAG_AA 0x0400
#define DNS_FLAG_TC 0x0200
#define DNS_FLAG_RD 0x0100
#define DNS_FLAG_RA 0x0080
#define DNS_FLAG_AD 0x0020
#define DNS_FLAG_CD 0x0010
#define DNS_FLAG_RCODE 0x000f

#define DNS_OPCODE_QUERY 0

#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5

#define DNS_TYPE_A 1
#define DNS_TYPE_NS 2
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_SOA 6
#define DNS_TYPE_PTR 12
#define DNS_TYPE_MX 15
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_TYPE_SRV 33
#define DNS_TYPE_DNAME 39
#define DNS_TYPE_OPT 41
#define DNS_TYPE_SVCB 64
#define DNS_TYPE_HTTPS 65
#define DNS_TYPE_IXFR 251
#define DNS_TYPE_AXFR 252
#define DNS_TYPE_ANY 255

#define DNS_CLASS_IN 1
#define DNS_CLASS_ANY 255

/* EDNS DNSSEC OK bit, in the OPT record's TTL field. */
#define DNS_EDNS_DO 0x8000

enum dns_parse_result {
	DNS_DROP = -3,   /* send nothing: shorter than a header, or QR set */
	DNS_NOTIMP = -2, /* answer NOTIMP (dns_build_bare): opcode not QUERY */
	DNS_BAD = -1,    /* answer FORMERR (dns_build_bare) */
	DNS_OK = 0,
};

/* A parsed query, or the question and header of a parsed response. */
struct dns_query {
	uint16_t id;
	uint16_t flags; /* header flags word, DNS_FLAG_* */
	uint16_t qdcount, ancount, nscount, arcount;
	char name[DNS_NAME_SIZE]; /* question name, text form (see above) */
	size_t name_len;
	uint16_t qtype;
	uint16_t qclass;
	/* the question is bytes [DNS_HEADER_LEN, question_end) */
	size_t question_end;
	int has_edns;       /* an OPT record was present */
	uint16_t edns_size; /* its UDP payload size, as sent */
	uint8_t edns_version;
	int edns_do;       /* DNSSEC OK */
	const char *error; /* static reason when not DNS_OK / -1 */
};

enum dns_section {
	DNS_SECTION_ANSWER = 1,
	DNS_SECTION_AUTHORITY,
	DNS_SECTION_ADDITIONAL,
};

/* One resource record as dns_walk sees it (offsets into the message). */
struct dns_rr {
	enum dns_section section;
	size_t index;    /* 0-based, over all three sections */
	size_t off;      /* owner name */
	size_t name_end; /* TYPE field */
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;
	uint16_t rdlen;
	size_t rdata; /* RDATA */
	size_t end;   /* just past RDATA */
};

/* Return 0 to go on; anything else stops the walk, which returns -1. */
typedef int (*dns_rr_cb)(
    const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg);
/* Keep this address?  1 keeps the record, 0 drops it. */
typedef int (*dns_addr_pred)(const struct netaddr *addr, void *arg);
/* One (question name, address, ttl) triple of an answer. */
typedef void (*dns_addr_cb)(
    const char *name, const struct netaddr *addr, uint32_t ttl, void *arg);

/* Message header accessors; the caller checks len >= DNS_HEADER_LEN. */
static inline uint16_t
dns_msg_id(const uint8_t *msg)
{
	return (uint16_t)(msg[0] << 8 | msg[1]);
}

static inline void
dns_msg_set_id(uint8_t *msg, uint16_t id)
{
	msg[0] = (uint8_t)(id >> 8);
	msg[1] = (uint8_t)id;
}

static inline int
dns_msg_rcode(const uint8_t *msg)
{
	return msg[3] & DNS_FLAG_RCODE;
}

/* ANCOUNT (the number of answer records as the header says). */
static inline uint16_t
dns_msg_ancount(const uint8_t *msg)
{
	return (uint16_t)(msg[6] << 8 | msg[7]);
}

/*
 * Decode the name at off into name (namesz >= DNS_NAME_SIZE is always
 * enough), lower-cased; *name_len gets its length and *next the offset just
 * past the name where it sits (after its first pointer).  name may be NULL
 * to only check and skip the name (then label characters are not checked).
 * Returns 0, or -1 on any of the errors listed at the top.
 */
int dns_name_decode(const uint8_t *msg, size_t len, size_t off, char *name,
    size_t namesz, size_t *name_len, size_t *next);

/* ASCII case-insensitive equality of two text names: 1 or 0. */
int dns_name_eq(const char *a, const char *b);

/*
 * Parse a query: QR clear (else DNS_DROP), opcode QUERY (else DNS_NOTIMP),
 * QDCOUNT exactly 1, ANCOUNT and NSCOUNT 0, a question name as above,
 * QTYPE and QCLASS present, additional records well formed with at most
 * one OPT (its size, version and DO bit recorded), nothing after the last
 * record (else DNS_BAD).  Shorter than a header: DNS_DROP.  q->error says
 * why on anything but DNS_OK.
 */
int dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q);

/*
 * Parse a response for its header and question: QR set, QDCOUNT exactly 1
 * with a question name as above, the whole message walks cleanly (see
 * dns_walk).  Fills q like dns_parse_query (has_edns from the OPT record).
 * Returns 0 or -1 (q->error says why).
 */
int dns_parse_response(const uint8_t *msg, size_t len, struct dns_query *q);

/* The UDP payload size a query allows for its answer: 512 without EDNS,
 * else the advertised size clamped to [512, LIMIT_DNS_UDP_MAX]. */
size_t dns_query_udp_limit(const struct dns_query *q);

/*
 * Walk every resource record of a message (QDCOUNT 0 or 1, any QR) in
 * order, checking the structure described at the top, calling cb (may be
 * NULL) for each.  More than LIMIT_DNS_RRS records is an error.  Returns 0,
 * or -1 when malformed or when cb stopped the walk.
 */
int dns_walk(const uint8_t *msg, size_t len, dns_rr_cb cb, void *arg);

/*
 * In place: every record's TTL (not OPT's) becomes min(ttl - age, max_ttl),
 * floored at 0; a TTL with the top bit set counts as 0 (RFC 2181 8).
 * *min_ttl (may be NULL) gets the smallest resulting TTL of the answer
 * section, or UINT32_MAX when it has no records.  Returns 0 or -1:
 * malformed (nothing written), or no longer well formed after the rewrite
 * because a name pointed into a TTL field (then the TTLs are rewritten).
 */
int dns_cap_ttl(uint8_t *msg, size_t len, uint32_t max_ttl, uint32_t age,
    uint32_t *min_ttl);

/*
 * Copy msg to out (outsz bytes) without the A and AAAA records (class IN,
 * any section) whose address pred rejects; the counts are fixed.  When a
 * record is dropped the message is re-encoded: owner names and the names
 * inside CNAME, NS, PTR, DNAME, MX and SOA data are written out in full,
 * compressed only against the question name; other data is copied as is.
 * *ndropped (may be NULL) gets the number of records dropped.  Returns 0
 * with *outlen set, or -1 when msg is malformed or out is too small.
 * Nothing dropped: out is a byte copy of msg.
 */
int dns_filter_addrs(const uint8_t *msg, size_t len, dns_addr_pred pred,
    void *arg, uint8_t *out, size_t outsz, size_t *outlen, size_t *ndropped);

/*
 * For every A or AAAA record (class IN) of the answer section that the
 * question name reaches through CNAME records (at most LIMIT_DNS_CNAME_CHAIN
 * hops, names compared case-insensitively, loops stop), call cb with the
 * question name, the address and the smallest TTL along the way.  Returns
 * the number of addresses reported, or -1 when msg is not a well-formed
 * response (dns_parse_response).
 */
int dns_answer_addrs(const uint8_t *msg, size_t len, dns_addr_cb cb, void *arg);

/*
 * In place: drop the options (cookies, padding, client subnet...) of the
 * OPT record when it is the last record of the message, and shrink *len.
 * Options are per hop: a cookie the proxy echoed must not reach another
 * client from the cache.  An OPT record followed by others (TSIG) is left
 * as is.  Returns 0 (also when there is nothing to drop), or -1 when msg
 * is malformed, or a name in it runs on into the options (msg unchanged).
 */
int dns_strip_opt(uint8_t *msg, size_t *len);

/*
 * Answer a parsed query (query/qlen the message dns_parse_query accepted)
 * with rcode and no records: same ID and question, QR and RA set, RD and
 * CD copied, opcode QUERY; an OPT record (size DNS_EDNS_UDP_SIZE, DO
 * copied) when the query had one.  NXDOMAIN carries no SOA, so resolvers
 * do not cache the denial.  With DNS_RCODE_NOERROR it is an empty NODATA
 * answer (used for HTTPS/SVCB so clients see no ECH or h3 hints).
 * Returns 0 with *outlen set, or -1 when out is too small.
 */
int dns_build_reply(const uint8_t *query, size_t qlen,
    const struct dns_query *q, int rcode, uint8_t *out, size_t outsz,
    size_t *outlen);

/*
 * Answer a parsed query with one A (qtype A) or AAAA (qtype AAAA) record
 * per address of that family in addrs, all with ttl, owner compressed to
 * the question; other families are skipped.  Header and OPT as in
 * dns_build_reply with NOERROR.  Returns 0 or -1 (out too small).
 */
int dns_build_answer(const uint8_t *query, size_t qlen,
    const struct dns_query *q, const struct netaddr *addrs, size_t naddrs,
    uint32_t ttl, uint8_t *out, size_t outsz, size_t *outlen);

/*
 * A header-only reply (QDCOUNT 0) to a message dns_parse_query refused:
 * FORMERR for DNS_BAD, NOTIMP for DNS_NOTIMP.  Same ID and opcode, RD
 * copied, QR and RA set.  Returns 0 with *outlen = DNS_HEADER_LEN, or -1
 * when msg must not be answered (shorter than a header, or a response).
 */
int dns_build_bare(const uint8_t *msg, size_t len, int rcode, uint8_t *out,
    size_t outsz, size_t *outlen);

/*
 * The truncated form of a response for UDP: header with TC set and
 * ANCOUNT = NSCOUNT = 0, the question, and the OPT record (without
 * options) when the response had one; the client retries over TCP.
 * Returns 0 or -1 (malformed, or out too small).
 */
int dns_truncate(
    const uint8_t *msg, size_t len, uint8_t *out, size_t outsz, size_t *outlen);

#endif
