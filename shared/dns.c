/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * dns.c - DNS wire format: query and response parsing, the record walker
 * (TTL capping, address filtering, address listing) and the replies the
 * stub and the proxy build themselves (see dns.h).
 *
 * Pure: no allocation, no I/O, no state.  Every read is bounds-checked
 * against len before it happens.
 */
#include <string.h>
#include <sys/socket.h>

#include "dns.h"

/* Labels in a name of LIMIT_HOSTNAME characters (1-byte labels). */
#define DNS_MAX_LABELS ((LIMIT_HOSTNAME + 1) / 2 + 1)
/* The OPT record we write: root owner, TYPE, CLASS, TTL, RDLENGTH. */
#define DNS_OPT_LEN 11

static uint16_t
dns_rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t
dns_rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void
dns_wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
dns_wr32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static int
dns_label_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_';
}

static uint8_t
dns_lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/*
 * Follow the name at off.  When lp is given, the offsets of its label
 * length bytes are stored there (*nlabels of them).  Text as in
 * dns_name_decode.  *why gets a static reason on -1.
 */
static int
dns_name_scan(const uint8_t *msg, size_t len, size_t off, char *name,
    size_t namesz, size_t *name_len, size_t *next, size_t *lp, size_t *nlabels,
    const char **why)
{
	size_t pos = off, seg = off, tl = 0, nl = 0, i;
	int hops = 0, jumped = 0;

	for (;;) {
		uint8_t c;

		if (pos >= len) {
			*why = "name runs past the end";
			return -1;
		}
		c = msg[pos];
		if ((c & 0xc0) == 0xc0) {
			size_t target;

			if (pos + 1 >= len) {
				*why = "name runs past the end";
				return -1;
			}
			target = (size_t)(c & 0x3f) << 8 | msg[pos + 1];
			if (!jumped) {
				*next = pos + 2;
				jumped = 1;
			}
			if (target < DNS_HEADER_LEN) {
				*why = "compression pointer into the header";
				return -1;
			}
			if (target >= seg) {
				*why = "compression pointer not backwards";
				return -1;
			}
			if (++hops > LIMIT_DNS_POINTERS) {
				*why = "too many compression pointers";
				return -1;
			}
			seg = pos = target;
			continue;
		}
		if ((c & 0xc0) != 0) {
			*why = "label over 63 bytes";
			return -1;
		}
		if (c == 0) {
			if (!jumped)
				*next = pos + 1;
			break;
		}
		if (pos + 1 + c > len) {
			*why = "name runs past the end";
			return -1;
		}
		if (tl + (tl > 0) + c > LIMIT_HOSTNAME) {
			*why = "name over 253 characters";
			return -1;
		}
		if (name != NULL) {
			if (tl + (tl > 0) + c >= namesz) {
				*why = "name buffer too small";
				return -1;
			}
			if (tl > 0)
				name[tl] = '.';
			for (i = 0; i < c; i++) {
				uint8_t ch = msg[pos + 1 + i];

				if (!dns_label_char_ok(ch)) {
					*why = "character not allowed in a "
					       "name";
					return -1;
				}
				name[tl + (tl > 0) + i] = (char)dns_lower(ch);
			}
		}
		tl += (tl > 0) + c;
		if (lp != NULL)
			lp[nl] = pos;
		nl++;
		pos += 1 + (size_t)c;
	}
	if (name != NULL) {
		if (tl == 0) {
			if (namesz < 2) {
				*why = "name buffer too small";
				return -1;
			}
			name[0] = '.';
			tl = 1;
		}
		name[tl] = '\0';
	}
	if (name_len != NULL)
		*name_len = tl;
	if (nlabels != NULL)
		*nlabels = nl;
	return 0;
}

int
dns_name_decode(const uint8_t *msg, size_t len, size_t off, char *name,
    size_t namesz, size_t *name_len, size_t *next)
{
	const char *why;

	return dns_name_scan(
	    msg, len, off, name, namesz, name_len, next, NULL, NULL, &why);
}

int
dns_name_eq(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (dns_lower((uint8_t)*a) != dns_lower((uint8_t)*b))
			return 0;
	return *a == *b;
}

/* A name inside RDATA must end exactly at want. */
static int
dns_rdata_name(const uint8_t *msg, size_t len, size_t off, size_t limit,
    size_t *next, const char **why)
{
	if (off >= limit) {
		*why = "record data too short for its name";
		return -1;
	}
	if (dns_name_scan(
		msg, len, off, NULL, 0, NULL, next, NULL, NULL, why) == -1)
		return -1;
	if (*next > limit) {
		*why = "name runs past its record";
		return -1;
	}
	return 0;
}

/* Type-specific checks of one record's data. */
static int
dns_rr_check(const uint8_t *msg, size_t len, const struct dns_rr *rr,
    int *seen_opt, const char **why)
{
	size_t next;

	switch (rr->type) {
	case DNS_TYPE_A:
	case DNS_TYPE_AAAA:
		if (rr->rclass == DNS_CLASS_IN &&
		    rr->rdlen != (rr->type == DNS_TYPE_A ? 4 : 16)) {
			*why = "address record of the wrong size";
			return -1;
		}
		break;
	case DNS_TYPE_OPT:
		if (rr->section != DNS_SECTION_ADDITIONAL) {
			*why = "OPT outside the additional section";
			return -1;
		}
		if (*seen_opt) {
			*why = "more than one OPT record";
			return -1;
		}
		if (rr->name_end != rr->off + 1) {
			*why = "OPT owner is not the root";
			return -1;
		}
		*seen_opt = 1;
		for (next = rr->rdata; next < rr->end;) {
			if (rr->end - next < 4 ||
			    rr->end - next - 4 < dns_rd16(msg + next + 2)) {
				*why = "EDNS option runs past its record";
				return -1;
			}
			next += 4 + (size_t)dns_rd16(msg + next + 2);
		}
		break;
	case DNS_TYPE_CNAME:
	case DNS_TYPE_NS:
	case DNS_TYPE_PTR:
	case DNS_TYPE_DNAME:
		if (dns_rdata_name(msg, len, rr->rdata, rr->end, &next, why) ==
		    -1)
			return -1;
		if (next != rr->end) {
			*why = "bytes after the name in a record";
			return -1;
		}
		break;
	case DNS_TYPE_MX:
		if (rr->rdlen < 3) {
			*why = "MX record too short";
			return -1;
		}
		if (dns_rdata_name(
			msg, len, rr->rdata + 2, rr->end, &next, why) == -1)
			return -1;
		if (next != rr->end) {
			*why = "bytes after the name in a record";
			return -1;
		}
		break;
	case DNS_TYPE_SOA:
		if (dns_rdata_name(msg, len, rr->rdata, rr->end, &next, why) ==
			-1 ||
		    dns_rdata_name(msg, len, next, rr->end, &next, why) == -1)
			return -1;
		if (rr->end - next != 20) {
			*why = "SOA record of the wrong size";
			return -1;
		}
		break;
	default:
		break;
	}
	return 0;
}

/* Offset just past the question section (QDCOUNT 0 or 1). */
static int
dns_question_end(const uint8_t *msg, size_t len, size_t *qend, const char **why)
{
	uint16_t qd;
	size_t next;

	if (len < DNS_HEADER_LEN) {
		*why = "shorter than a header";
		return -1;
	}
	qd = dns_rd16(msg + 4);
	if (qd > 1) {
		*why = "more than one question";
		return -1;
	}
	*qend = DNS_HEADER_LEN;
	if (qd == 0)
		return 0;
	if (dns_name_scan(msg, len, DNS_HEADER_LEN, NULL, 0, NULL, &next, NULL,
		NULL, why) == -1)
		return -1;
	if (len - next < 4) {
		*why = "question runs past the end";
		return -1;
	}
	*qend = next + 4;
	return 0;
}

static int
dns_walk_why(
    const uint8_t *msg, size_t len, dns_rr_cb cb, void *arg, const char **why)
{
	size_t pos, total, i, counts[3];
	struct dns_rr rr;
	int seen_opt = 0, s;

	if (dns_question_end(msg, len, &pos, why) == -1)
		return -1;
	counts[0] = dns_rd16(msg + 6);
	counts[1] = dns_rd16(msg + 8);
	counts[2] = dns_rd16(msg + 10);
	total = counts[0] + counts[1] + counts[2];
	if (total > LIMIT_DNS_RRS) {
		*why = "too many records";
		return -1;
	}
	i = 0;
	for (s = 0; s < 3; s++) {
		size_t k;

		for (k = 0; k < counts[s]; k++, i++) {
			memset(&rr, 0, sizeof(rr));
			rr.section = (enum dns_section)(DNS_SECTION_ANSWER + s);
			rr.index = i;
			rr.off = pos;
			if (dns_name_scan(msg, len, pos, NULL, 0, NULL,
				&rr.name_end, NULL, NULL, why) == -1)
				return -1;
			if (len - rr.name_end < 10) {
				*why = "record runs past the end";
				return -1;
			}
			rr.type = dns_rd16(msg + rr.name_end);
			rr.rclass = dns_rd16(msg + rr.name_end + 2);
			rr.ttl = dns_rd32(msg + rr.name_end + 4);
			rr.rdlen = dns_rd16(msg + rr.name_end + 8);
			rr.rdata = rr.name_end + 10;
			if (len - rr.rdata < rr.rdlen) {
				*why = "record data runs past the end";
				return -1;
			}
			rr.end = rr.rdata + rr.rdlen;
			if (dns_rr_check(msg, len, &rr, &seen_opt, why) == -1)
				return -1;
			if (cb != NULL && cb(msg, len, &rr, arg) != 0) {
				*why = "stopped";
				return -1;
			}
			pos = rr.end;
		}
	}
	if (pos != len) {
		*why = "bytes after the last record";
		return -1;
	}
	return 0;
}

int
dns_walk(const uint8_t *msg, size_t len, dns_rr_cb cb, void *arg)
{
	const char *why;

	return dns_walk_why(msg, len, cb, arg, &why);
}

/* Record the OPT record's fields in the query. */
static int
dns_walk_opt(const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct dns_query *q = arg;

	(void)msg;
	(void)len;
	if (rr->type != DNS_TYPE_OPT)
		return 0;
	q->has_edns = 1;
	q->edns_size = rr->rclass;
	q->edns_version = (uint8_t)(rr->ttl >> 16);
	q->edns_do = (rr->ttl & DNS_EDNS_DO) != 0;
	return 0;
}

/* Header and question common to queries and responses. */
static int
dns_parse_question(const uint8_t *msg, size_t len, struct dns_query *q)
{
	size_t next;

	if (dns_name_scan(msg, len, DNS_HEADER_LEN, q->name, sizeof(q->name),
		&q->name_len, &next, NULL, NULL, &q->error) == -1)
		return -1;
	if (len - next < 4) {
		q->error = "question runs past the end";
		return -1;
	}
	q->qtype = dns_rd16(msg + next);
	q->qclass = dns_rd16(msg + next + 2);
	q->question_end = next + 4;
	return 0;
}

static void
dns_parse_header(const uint8_t *msg, struct dns_query *q)
{
	memset(q, 0, sizeof(*q));
	q->id = dns_rd16(msg);
	q->flags = dns_rd16(msg + 2);
	q->qdcount = dns_rd16(msg + 4);
	q->ancount = dns_rd16(msg + 6);
	q->nscount = dns_rd16(msg + 8);
	q->arcount = dns_rd16(msg + 10);
}

int
dns_parse_query(const uint8_t *msg, size_t len, struct dns_query *q)
{
	if (len < DNS_HEADER_LEN) {
		memset(q, 0, sizeof(*q));
		q->error = "shorter than a header";
		return DNS_DROP;
	}
	dns_parse_header(msg, q);
	if (q->flags & DNS_FLAG_QR) {
		q->error = "not a query (QR set)";
		return DNS_DROP;
	}
	if ((q->flags & DNS_FLAG_OPCODE) != 0) {
		q->error = "opcode not QUERY";
		return DNS_NOTIMP;
	}
	if (q->qdcount != 1) {
		q->error = "QDCOUNT is not 1";
		return DNS_BAD;
	}
	if (q->ancount != 0 || q->nscount != 0) {
		q->error = "answer or authority records in a query";
		return DNS_BAD;
	}
	if (dns_parse_question(msg, len, q) == -1)
		return DNS_BAD;
	if (dns_walk_why(msg, len, dns_walk_opt, q, &q->error) == -1)
		return DNS_BAD;
	q->error = NULL;
	return DNS_OK;
}

int
dns_parse_response(const uint8_t *msg, size_t len, struct dns_query *q)
{
	if (len < DNS_HEADER_LEN) {
		memset(q, 0, sizeof(*q));
		q->error = "shorter than a header";
		return -1;
	}
	dns_parse_header(msg, q);
	if (!(q->flags & DNS_FLAG_QR)) {
		q->error = "not a response (QR clear)";
		return -1;
	}
	if (q->qdcount != 1) {
		q->error = "QDCOUNT is not 1";
		return -1;
	}
	if (dns_parse_question(msg, len, q) == -1)
		return -1;
	if (dns_walk_why(msg, len, dns_walk_opt, q, &q->error) == -1)
		return -1;
	q->error = NULL;
	return 0;
}

size_t
dns_query_udp_limit(const struct dns_query *q)
{
	if (!q->has_edns || q->edns_size <= LIMIT_DNS_UDP_MIN)
		return LIMIT_DNS_UDP_MIN;
	if (q->edns_size >= LIMIT_DNS_UDP_MAX)
		return LIMIT_DNS_UDP_MAX;
	return q->edns_size;
}

/* ---- TTLs ---- */

struct dns_ttl_ctx {
	size_t off[LIMIT_DNS_RRS]; /* TTL fields to rewrite */
	uint32_t ttl[LIMIT_DNS_RRS];
	uint8_t is_answer[LIMIT_DNS_RRS];
	size_t n;
};

static int
dns_walk_ttl(const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct dns_ttl_ctx *c = arg;

	(void)msg;
	(void)len;
	if (rr->type == DNS_TYPE_OPT || c->n >= LIMIT_DNS_RRS)
		return 0;
	c->off[c->n] = rr->name_end + 4;
	c->ttl[c->n] = rr->ttl;
	c->is_answer[c->n] = rr->section == DNS_SECTION_ANSWER;
	c->n++;
	return 0;
}

int
dns_cap_ttl(
    uint8_t *msg, size_t len, uint32_t max_ttl, uint32_t age, uint32_t *min_ttl)
{
	struct dns_ttl_ctx c;
	uint32_t min = UINT32_MAX;
	size_t i;

	/*
	 * Find every TTL first and rewrite after: a name may point into an
	 * earlier record's TTL bytes, and rewriting while walking would
	 * change what the rest of the walk reads.  The result must walk too.
	 */
	c.n = 0;
	if (dns_walk(msg, len, dns_walk_ttl, &c) == -1)
		return -1;
	for (i = 0; i < c.n; i++) {
		uint32_t ttl = c.ttl[i];

		if (ttl > 0x7fffffffU)
			ttl = 0;
		ttl = ttl > age ? ttl - age : 0;
		if (ttl > max_ttl)
			ttl = max_ttl;
		dns_wr32(msg + c.off[i], ttl);
		if (c.is_answer[i] && ttl < min)
			min = ttl;
	}
	if (c.n > 0 && dns_walk(msg, len, NULL, NULL) == -1)
		return -1;
	if (min_ttl != NULL)
		*min_ttl = min;
	return 0;
}

/* ---- EDNS options ---- */

struct dns_strip_ctx {
	int found;
	size_t rdlen_off, rdata, end;
};

static int
dns_walk_last_opt(
    const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct dns_strip_ctx *c = arg;

	(void)msg;
	(void)len;
	c->found = rr->type == DNS_TYPE_OPT;
	if (c->found) {
		c->rdlen_off = rr->name_end + 8;
		c->rdata = rr->rdata;
		c->end = rr->end;
	}
	return 0;
}

int
dns_strip_opt(uint8_t *msg, size_t *len)
{
	struct dns_strip_ctx c;

	memset(&c, 0, sizeof(c));
	if (dns_walk(msg, *len, dns_walk_last_opt, &c) == -1)
		return -1;
	/* the last record walked was the OPT one, and it ends the message */
	if (!c.found || c.end != *len || c.rdata == c.end)
		return 0;
	dns_wr16(msg + c.rdlen_off, 0);
	/* an earlier name that runs on (after a backward pointer) into the
	 * options' bytes would not parse without them: such a message is
	 * refused as malformed, left as it was */
	if (dns_walk(msg, c.rdata, NULL, NULL) == -1) {
		dns_wr16(msg + c.rdlen_off, (uint16_t)(c.end - c.rdata));
		return -1;
	}
	*len = c.rdata;
	return 0;
}

/* ---- address filter ---- */

static int
dns_rr_addr(const uint8_t *msg, const struct dns_rr *rr, struct netaddr *a)
{
	if (rr->rclass != DNS_CLASS_IN ||
	    (rr->type != DNS_TYPE_A && rr->type != DNS_TYPE_AAAA))
		return 0;
	memset(a, 0, sizeof(*a));
	if (rr->type == DNS_TYPE_A) {
		a->family = AF_INET;
		memcpy(&a->u.v4, msg + rr->rdata, 4);
	} else {
		a->family = AF_INET6;
		memcpy(&a->u.v6, msg + rr->rdata, 16);
	}
	return 1;
}

struct dns_filter_ctx {
	dns_addr_pred pred;
	void *arg;
	uint8_t drop[(LIMIT_DNS_RRS + 7) / 8]; /* bit per record index */
	size_t ndropped;
	size_t kept[3]; /* per section */

	/* re-encoding */
	uint8_t *out;
	size_t outsz, o;
	size_t qlp[DNS_MAX_LABELS]; /* question label offsets (same in out) */
	size_t nq;
};

static int
dns_walk_mark(
    const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct dns_filter_ctx *c = arg;
	struct netaddr a;

	(void)len;
	if (dns_rr_addr(msg, rr, &a) && !c->pred(&a, c->arg)) {
		c->drop[rr->index / 8] |= (uint8_t)(1u << (rr->index % 8));
		c->ndropped++;
	} else {
		c->kept[rr->section - DNS_SECTION_ANSWER]++;
	}
	return 0;
}

static int
dns_out_put(struct dns_filter_ctx *c, const void *p, size_t n)
{
	if (c->outsz - c->o < n)
		return -1;
	memcpy(c->out + c->o, p, n);
	c->o += n;
	return 0;
}

/* Do k labels at msg offsets a[] and b[] match byte for byte? */
static int
dns_labels_eq(const uint8_t *msg, const size_t *a, const size_t *b, size_t k)
{
	size_t i;

	for (i = 0; i < k; i++)
		if (msg[a[i]] != msg[b[i]] ||
		    memcmp(msg + a[i] + 1, msg + b[i] + 1, msg[a[i]]) != 0)
			return 0;
	return 1;
}

/* Write the name at off in full, or up to a suffix shared with the
 * question followed by a pointer to it. */
static int
dns_out_name(
    struct dns_filter_ctx *c, const uint8_t *msg, size_t len, size_t off)
{
	size_t lp[DNS_MAX_LABELS], n, i, j, next;
	const char *why;
	uint8_t ptr[2], zero = 0;

	if (dns_name_scan(msg, len, off, NULL, 0, NULL, &next, lp, &n, &why) ==
	    -1)
		return -1;
	for (i = 0; i < n; i++) {
		if (n - i <= c->nq) {
			j = c->nq - (n - i);
			if (dns_labels_eq(msg, lp + i, c->qlp + j, n - i)) {
				dns_wr16(ptr, (uint16_t)(0xc000 | c->qlp[j]));
				return dns_out_put(c, ptr, 2);
			}
		}
		if (dns_out_put(c, msg + lp[i], 1 + (size_t)msg[lp[i]]) == -1)
			return -1;
	}
	return dns_out_put(c, &zero, 1);
}

static int
dns_walk_copy(
    const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct dns_filter_ctx *c = arg;
	size_t rdstart, next;
	const char *why;

	if (c->drop[rr->index / 8] & (1u << (rr->index % 8)))
		return 0;
	if (dns_out_name(c, msg, len, rr->off) == -1 ||
	    dns_out_put(c, msg + rr->name_end, 8) == -1)
		return -1;
	if (c->outsz - c->o < 2)
		return -1;
	c->o += 2; /* RDLENGTH, filled below */
	rdstart = c->o;
	switch (rr->type) {
	case DNS_TYPE_CNAME:
	case DNS_TYPE_NS:
	case DNS_TYPE_PTR:
	case DNS_TYPE_DNAME:
		if (dns_out_name(c, msg, len, rr->rdata) == -1)
			return -1;
		break;
	case DNS_TYPE_MX:
		if (dns_out_put(c, msg + rr->rdata, 2) == -1 ||
		    dns_out_name(c, msg, len, rr->rdata + 2) == -1)
			return -1;
		break;
	case DNS_TYPE_SOA:
		if (dns_name_scan(msg, len, rr->rdata, NULL, 0, NULL, &next,
			NULL, NULL, &why) == -1 ||
		    dns_out_name(c, msg, len, rr->rdata) == -1 ||
		    dns_out_name(c, msg, len, next) == -1 ||
		    dns_out_put(c, msg + rr->end - 20, 20) == -1)
			return -1;
		break;
	default:
		if (dns_out_put(c, msg + rr->rdata, rr->rdlen) == -1)
			return -1;
		break;
	}
	if (c->o - rdstart > 0xffff)
		return -1;
	dns_wr16(c->out + rdstart - 2, (uint16_t)(c->o - rdstart));
	return 0;
}

int
dns_filter_addrs(const uint8_t *msg, size_t len, dns_addr_pred pred, void *arg,
    uint8_t *out, size_t outsz, size_t *outlen, size_t *ndropped)
{
	struct dns_filter_ctx c;
	size_t qend, next;
	const char *why;
	int s;

	memset(&c, 0, sizeof(c));
	c.pred = pred;
	c.arg = arg;
	if (dns_walk(msg, len, dns_walk_mark, &c) == -1)
		return -1;
	if (ndropped != NULL)
		*ndropped = c.ndropped;
	if (c.ndropped == 0) {
		if (outsz < len)
			return -1;
		memcpy(out, msg, len);
		*outlen = len;
		return 0;
	}
	if (dns_question_end(msg, len, &qend, &why) == -1 || outsz < qend)
		return -1;
	if (qend > DNS_HEADER_LEN &&
	    dns_name_scan(msg, len, DNS_HEADER_LEN, NULL, 0, NULL, &next, c.qlp,
		&c.nq, &why) == -1)
		return -1;
	memcpy(out, msg, qend);
	for (s = 0; s < 3; s++)
		dns_wr16(out + 6 + 2 * s, (uint16_t)c.kept[s]);
	c.out = out;
	c.outsz = outsz;
	c.o = qend;
	if (dns_walk(msg, len, dns_walk_copy, &c) == -1)
		return -1;
	*outlen = c.o;
	return 0;
}

/* ---- address listing ---- */

struct dns_chain_ctx {
	char names[LIMIT_DNS_CNAME_CHAIN + 1][DNS_NAME_SIZE];
	uint32_t ttls[LIMIT_DNS_CNAME_CHAIN + 1];
	size_t n;
	int found;
	dns_addr_cb cb;
	void *arg;
	int count;
};

static int
dns_chain_index(const struct dns_chain_ctx *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->n; i++)
		if (dns_name_eq(c->names[i], name))
			return (int)i;
	return -1;
}

/* Find the CNAME whose owner is the last name of the chain. */
static int
dns_walk_cname(
    const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct dns_chain_ctx *c = arg;
	char owner[DNS_NAME_SIZE], target[DNS_NAME_SIZE];
	size_t nl, next;
	uint32_t ttl;

	if (c->found || rr->section != DNS_SECTION_ANSWER ||
	    rr->type != DNS_TYPE_CNAME || rr->rclass != DNS_CLASS_IN)
		return 0;
	if (dns_name_decode(
		msg, len, rr->off, owner, sizeof(owner), &nl, &next) == -1 ||
	    !dns_name_eq(owner, c->names[c->n - 1]))
		return 0;
	c->found = 1;
	if (dns_name_decode(msg, len, rr->rdata, target, sizeof(target), &nl,
		&next) == -1 ||
	    dns_chain_index(c, target) >= 0)
		return 0; /* a name we cannot use, or a loop: stop here */
	ttl = rr->ttl > 0x7fffffffU ? 0 : rr->ttl;
	memcpy(c->names[c->n], target, nl + 1);
	c->ttls[c->n] = ttl < c->ttls[c->n - 1] ? ttl : c->ttls[c->n - 1];
	c->n++;
	return 0;
}

static int
dns_walk_addrs(
    const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct dns_chain_ctx *c = arg;
	char owner[DNS_NAME_SIZE];
	struct netaddr a;
	size_t nl, next;
	uint32_t ttl;
	int i;

	if (rr->section != DNS_SECTION_ANSWER || !dns_rr_addr(msg, rr, &a))
		return 0;
	if (dns_name_decode(
		msg, len, rr->off, owner, sizeof(owner), &nl, &next) == -1)
		return 0;
	i = dns_chain_index(c, owner);
	if (i < 0)
		return 0;
	ttl = rr->ttl > 0x7fffffffU ? 0 : rr->ttl;
	if (c->ttls[i] < ttl)
		ttl = c->ttls[i];
	c->cb(c->names[0], &a, ttl, c->arg);
	c->count++;
	return 0;
}

int
dns_answer_addrs(const uint8_t *msg, size_t len, dns_addr_cb cb, void *arg)
{
	struct dns_chain_ctx c;
	struct dns_query q;

	if (dns_parse_response(msg, len, &q) == -1)
		return -1;
	memset(&c, 0, sizeof(c));
	memcpy(c.names[0], q.name, q.name_len + 1);
	c.ttls[0] = UINT32_MAX;
	c.n = 1;
	while (c.n <= LIMIT_DNS_CNAME_CHAIN) {
		size_t before = c.n;

		c.found = 0;
		if (dns_walk(msg, len, dns_walk_cname, &c) == -1)
			return -1;
		if (c.n == before)
			break;
	}
	c.cb = cb;
	c.arg = arg;
	if (dns_walk(msg, len, dns_walk_addrs, &c) == -1)
		return -1;
	return c.count;
}

/* ---- building ---- */

/* Header and question of a reply to q; returns the offset after them. */
static int
dns_reply_head(const uint8_t *query, size_t qlen, const struct dns_query *q,
    int rcode, uint16_t ancount, uint8_t *out, size_t outsz, size_t *o)
{
	uint16_t flags;

	if (q->question_end < DNS_HEADER_LEN || q->question_end > qlen ||
	    outsz < q->question_end)
		return -1;
	flags = DNS_FLAG_QR | DNS_FLAG_RA |
		(q->flags & (DNS_FLAG_RD | DNS_FLAG_CD)) |
		(uint16_t)(rcode & DNS_FLAG_RCODE);
	dns_wr16(out, q->id);
	dns_wr16(out + 2, flags);
	dns_wr16(out + 4, 1);
	dns_wr16(out + 6, ancount);
	dns_wr16(out + 8, 0);
	dns_wr16(out + 10, q->has_edns ? 1 : 0);
	memcpy(out + DNS_HEADER_LEN, query + DNS_HEADER_LEN,
	    q->question_end - DNS_HEADER_LEN);
	*o = q->question_end;
	return 0;
}

static int
dns_put_opt(uint8_t *out, size_t outsz, size_t *o, uint16_t size, uint32_t ttl)
{
	if (outsz - *o < DNS_OPT_LEN)
		return -1;
	out[*o] = 0;
	dns_wr16(out + *o + 1, DNS_TYPE_OPT);
	dns_wr16(out + *o + 3, size);
	dns_wr32(out + *o + 5, ttl);
	dns_wr16(out + *o + 9, 0);
	*o += DNS_OPT_LEN;
	return 0;
}

static int
dns_reply_opt(const struct dns_query *q, uint8_t *out, size_t outsz, size_t *o)
{
	if (!q->has_edns)
		return 0;
	return dns_put_opt(
	    out, outsz, o, DNS_EDNS_UDP_SIZE, q->edns_do ? DNS_EDNS_DO : 0);
}

int
dns_build_reply(const uint8_t *query, size_t qlen, const struct dns_query *q,
    int rcode, uint8_t *out, size_t outsz, size_t *outlen)
{
	size_t o;

	if (dns_reply_head(query, qlen, q, rcode, 0, out, outsz, &o) == -1 ||
	    dns_reply_opt(q, out, outsz, &o) == -1)
		return -1;
	*outlen = o;
	return 0;
}

int
dns_build_answer(const uint8_t *query, size_t qlen, const struct dns_query *q,
    const struct netaddr *addrs, size_t naddrs, uint32_t ttl, uint8_t *out,
    size_t outsz, size_t *outlen)
{
	size_t o, i, n = 0, alen;
	int family;

	if (q->qtype == DNS_TYPE_A) {
		family = AF_INET;
		alen = 4;
	} else if (q->qtype == DNS_TYPE_AAAA) {
		family = AF_INET6;
		alen = 16;
	} else {
		family = 0;
		alen = 0;
	}
	for (i = 0; i < naddrs && family != 0; i++)
		if (addrs[i].family == family)
			n++;
	if (n > LIMIT_DNS_RRS)
		return -1;
	if (dns_reply_head(query, qlen, q, DNS_RCODE_NOERROR, (uint16_t)n, out,
		outsz, &o) == -1)
		return -1;
	for (i = 0; i < naddrs && family != 0; i++) {
		if (addrs[i].family != family)
			continue;
		if (outsz - o < 12 + alen)
			return -1;
		dns_wr16(out + o, 0xc000 | DNS_HEADER_LEN);
		dns_wr16(out + o + 2, q->qtype);
		dns_wr16(out + o + 4, DNS_CLASS_IN);
		dns_wr32(out + o + 6, ttl > 0x7fffffffU ? 0x7fffffffU : ttl);
		dns_wr16(out + o + 10, (uint16_t)alen);
		memcpy(out + o + 12,
		    family == AF_INET ? (const void *)&addrs[i].u.v4
				      : (const void *)&addrs[i].u.v6,
		    alen);
		o += 12 + alen;
	}
	if (dns_reply_opt(q, out, outsz, &o) == -1)
		return -1;
	*outlen = o;
	return 0;
}

int
dns_build_bare(const uint8_t *msg, size_t len, int rcode, uint8_t *out,
    size_t outsz, size_t *outlen)
{
	uint16_t flags;

	if (len < DNS_HEADER_LEN || outsz < DNS_HEADER_LEN)
		return -1;
	flags = dns_rd16(msg + 2);
	if (flags & DNS_FLAG_QR)
		return -1;
	flags = DNS_FLAG_QR | DNS_FLAG_RA |
		(flags & (DNS_FLAG_OPCODE | DNS_FLAG_RD)) |
		(uint16_t)(rcode & DNS_FLAG_RCODE);
	memset(out, 0, DNS_HEADER_LEN);
	out[0] = msg[0];
	out[1] = msg[1];
	dns_wr16(out + 2, flags);
	*outlen = DNS_HEADER_LEN;
	return 0;
}

struct dns_opt_ctx {
	int found;
	uint16_t size;
	uint32_t ttl;
};

static int
dns_walk_find_opt(
    const uint8_t *msg, size_t len, const struct dns_rr *rr, void *arg)
{
	struct dns_opt_ctx *c = arg;

	(void)msg;
	(void)len;
	if (rr->type == DNS_TYPE_OPT) {
		c->found = 1;
		c->size = rr->rclass;
		c->ttl = rr->ttl;
	}
	return 0;
}

int
dns_truncate(
    const uint8_t *msg, size_t len, uint8_t *out, size_t outsz, size_t *outlen)
{
	struct dns_opt_ctx opt;
	const char *why;
	size_t qend, o;

	memset(&opt, 0, sizeof(opt));
	if (dns_walk(msg, len, dns_walk_find_opt, &opt) == -1 ||
	    dns_question_end(msg, len, &qend, &why) == -1 || outsz < qend)
		return -1;
	memcpy(out, msg, qend);
	out[2] |= DNS_FLAG_TC >> 8;
	dns_wr16(out + 6, 0);
	dns_wr16(out + 8, 0);
	dns_wr16(out + 10, opt.found ? 1 : 0);
	o = qend;
	if (opt.found && dns_put_opt(out, outsz, &o, opt.size, opt.ttl) == -1)
		return -1;
	*outlen = o;
	return 0;
}
