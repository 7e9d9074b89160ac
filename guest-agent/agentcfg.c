/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agentcfg.c - proxy URL, Proxy-Authorization value and the config file
 * (see agentcfg.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "agentcfg.h"
#include "link.h"
#include "parse.h"

void
agentcfg_init(struct agentcfg *c)
{
	memset(c, 0, sizeof(*c));
}

static int agentcfg_err(char *err, size_t errsz, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
agentcfg_err(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

static int
agentcfg_hex(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s[0..len) into out (size); printable ASCII only, no
 * spaces.  0 or -1. */
static int
agentcfg_unescape(const char *s, size_t len, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < len; i++) {
		int c = (unsigned char)s[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return -1;
			hi = agentcfg_hex(s[i + 1]);
			lo = agentcfg_hex(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = hi << 4 | lo;
			i += 2;
		}
		if (c <= ' ' || c >= 0x7f || o + 1 >= size)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return 0;
}

int
agentcfg_parse_url(
    const char *s, struct agentcfg_url *u, char *err, size_t errsz)
{
	const char *p, *at, *host, *hend, *colon, *rest;
	char hbuf[INET6_ADDRSTRLEN + 1];
	size_t hlen;

	memset(u, 0, sizeof(*u));
	if (s == NULL || *s == '\0')
		return agentcfg_err(err, errsz,
		    "no proxy URL (give --proxy URL, or set HTTPS_PROXY or "
		    "HTTP_PROXY)");
	if (strlen(s) > AGENTCFG_URL_MAX)
		return agentcfg_err(
		    err, errsz, "proxy URL too long (over %d bytes)", AGENTCFG_URL_MAX);
	if (strncasecmp(s, "http://", 7) == 0) {
		p = s + 7;
		u->port = AGENTCFG_PORT_HTTP;
	} else if (strncasecmp(s, "https://", 8) == 0) {
		p = s + 8;
		u->is_tls = 1;
		u->port = AGENTCFG_PORT_HTTPS;
	} else {
		return agentcfg_err(err, errsz,
		    "invalid proxy URL: it must start with http:// or "
		    "https://");
	}
	/* userinfo ends at the last '@' before the path */
	rest = p + strcspn(p, "/?#");
	at = NULL;
	for (host = p; host < rest; host++)
		if (*host == '@')
			at = host;
	if (at == NULL)
		return agentcfg_err(err, errsz,
		    "invalid proxy URL: no token (want "
		    "http://proxy:TOKEN@ADDRESS:PORT)");
	colon = memchr(p, ':', (size_t)(at - p));
	if (colon != NULL) {
		if (agentcfg_unescape(p, (size_t)(colon - p), u->user,
			sizeof(u->user)) == -1 && colon != p)
			return agentcfg_err(err, errsz,
			    "invalid proxy URL: bad user name");
		if (colon == p)
			u->user[0] = '\0';
		p = colon + 1;
	}
	if (u->user[0] == '\0')
		snprintf(u->user, sizeof(u->user), "%s", AGENTCFG_DEFAULT_USER);
	if (at == p || agentcfg_unescape(p, (size_t)(at - p), u->token,
			   sizeof(u->token)) == -1)
		return agentcfg_err(err, errsz,
		    "invalid proxy URL: empty, too long or badly encoded "
		    "token");
	host = at + 1;
	if (*host == '[') {
		hend = memchr(host, ']', (size_t)(rest - host));
		if (hend == NULL)
			return agentcfg_err(err, errsz,
			    "invalid proxy URL: unterminated [IPv6] address");
		host++;
		hlen = (size_t)(hend - host);
		hend++;
	} else {
		hend = host;
		while (hend < rest && *hend != ':')
			hend++;
		hlen = (size_t)(hend - host);
	}
	if (hlen == 0 || hlen >= sizeof(hbuf))
		return agentcfg_err(err, errsz,
		    "invalid proxy URL: bad proxy address");
	memcpy(hbuf, host, hlen);
	hbuf[hlen] = '\0';
	if (inet_pton(AF_INET, hbuf, &u->addr.u.v4) == 1)
		u->addr.family = AF_INET;
	else if (inet_pton(AF_INET6, hbuf, &u->addr.u.v6) == 1 &&
		 host[-1] == '[')
		u->addr.family = AF_INET6;
	else
		return agentcfg_err(err, errsz,
		    "invalid proxy URL: the proxy address must be an IP "
		    "address, not '%s' (the agent does no DNS lookups)", hbuf);
	if (hend < rest) {
		char pbuf[8];
		size_t plen;

		if (*hend != ':')
			return agentcfg_err(err, errsz,
			    "invalid proxy URL: junk after the address");
		plen = (size_t)(rest - hend - 1);
		if (plen == 0 || plen >= sizeof(pbuf))
			return agentcfg_err(err, errsz,
			    "invalid proxy URL: bad port");
		memcpy(pbuf, hend + 1, plen);
		pbuf[plen] = '\0';
		if (parse_port(pbuf, &u->port) == -1)
			return agentcfg_err(err, errsz,
			    "invalid proxy URL: bad port '%s'", pbuf);
	}
	if (*rest != '\0' && strcmp(rest, "/") != 0)
		return agentcfg_err(err, errsz,
		    "invalid proxy URL: no path, query or fragment allowed");
	return 0;
}

const char *
agentcfg_url_hostport(const struct agentcfg_url *u, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN];

	netaddr_ntop(&u->addr, a, sizeof(a));
	snprintf(buf, size, u->addr.family == AF_INET6 ? "[%s]:%u" : "%s:%u",
	    a, (unsigned int)u->port);
	return buf;
}

int
agentcfg_b64_encode(const void *in, size_t len, char *out, size_t size)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = in;
	size_t i, o = 0;

	if (size < (len + 2) / 3 * 4 + 1)
		return -1;
	for (i = 0; i + 2 < len; i += 3) {
		out[o++] = tab[p[i] >> 2];
		out[o++] = tab[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = tab[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		out[o++] = tab[p[i + 2] & 63];
	}
	if (len - i == 1) {
		out[o++] = tab[p[i] >> 2];
		out[o++] = tab[(p[i] & 3) << 4];
		out[o++] = '=';
		out[o++] = '=';
	} else if (len - i == 2) {
		out[o++] = tab[p[i] >> 2];
		out[o++] = tab[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = tab[(p[i + 1] & 15) << 2];
		out[o++] = '=';
	}
	out[o] = '\0';
	return (int)o;
}

int
agentcfg_basic_auth(const struct agentcfg_url *u, char *out, size_t size)
{
	char plain[AGENTCFG_USER_MAX + AGENTCFG_TOKEN_MAX + 2];
	int n, rc = -1;

	n = snprintf(plain, sizeof(plain), "%s:%s", u->user, u->token);
	if (n < 0 || (size_t)n >= sizeof(plain) || size < 7)
		goto out;
	memcpy(out, "Basic ", 6);
	n = agentcfg_b64_encode(plain, (size_t)n, out + 6, size - 6);
	if (n >= 0)
		rc = n + 6;
out:
	memset(plain, 0, sizeof(plain));
	return rc;
}

int
agentcfg_format(const struct agentcfg *c, char *out, size_t size)
{
	char a[INET6_ADDRSTRLEN];
	size_t i, o = 0;
	int n;

#define AGENTCFG_PUT(...)                                                      \
	do {                                                                   \
		n = snprintf(out + o, size - o, __VA_ARGS__);                  \
		if (n < 0 || (size_t)n >= size - o)                            \
			return -1;                                             \
		o += (size_t)n;                                                \
	} while (0)

	if (size == 0)
		return -1;
	AGENTCFG_PUT("# slicer-agent configuration, written by `slicer-agent "
		     "proxy install`\n# (holds the proxy token: keep it "
		     "0600)\n");
	AGENTCFG_PUT("proxy=%s\nuplink=%s\n", c->url_text, c->uplink);
	for (i = 0; i < c->n_bypass; i++)
		AGENTCFG_PUT("bypass=%s/%d\n",
		    netaddr_ntop(&c->bypass[i].addr, a, sizeof(a)),
		    c->bypass[i].prefix);
	for (i = 0; i < c->n_allow_udp; i++)
		AGENTCFG_PUT("allow-udp=%u\n", (unsigned int)c->allow_udp[i]);
	if (c->ca_path[0] != '\0')
		AGENTCFG_PUT("ca=%s\n", c->ca_path);
	AGENTCFG_PUT("sched=%s\n", agentcfg_sched_name(c->sched));
#undef AGENTCFG_PUT
	return (int)o;
}

const char *
agentcfg_sched_name(enum agentcfg_sched s)
{
	return s == AGENTCFG_SCHED_NORMAL ? "normal" : "batch";
}

int
agentcfg_sched_parse(const char *s, enum agentcfg_sched *out)
{
	if (strcmp(s, "batch") == 0)
		*out = AGENTCFG_SCHED_BATCH;
	else if (strcmp(s, "normal") == 0)
		*out = AGENTCFG_SCHED_NORMAL;
	else
		return -1;
	return 0;
}

static int
agentcfg_line(struct agentcfg *c, const char *key, const char *val,
    unsigned int *seen, char *msg, size_t msgsz)
{
	if (strcmp(key, "proxy") == 0) {
		if (*seen & 1)
			return agentcfg_err(msg, msgsz, "proxy given twice");
		*seen |= 1;
		if (agentcfg_parse_url(val, &c->url, msg, msgsz) == -1)
			return -1;
		snprintf(c->url_text, sizeof(c->url_text), "%s", val);
	} else if (strcmp(key, "uplink") == 0) {
		if (*seen & 2)
			return agentcfg_err(msg, msgsz, "uplink given twice");
		*seen |= 2;
		if (!link_name_valid(val) || strcmp(val, "lo") == 0)
			return agentcfg_err(
			    msg, msgsz, "invalid uplink '%s'", val);
		snprintf(c->uplink, sizeof(c->uplink), "%s", val);
	} else if (strcmp(key, "bypass") == 0) {
		if (c->n_bypass == RULES_MAX_BYPASS)
			return agentcfg_err(
			    msg, msgsz, "too many bypass CIDRs");
		if (netaddr_parse_cidr(val, &c->bypass[c->n_bypass]) == -1)
			return agentcfg_err(
			    msg, msgsz, "invalid CIDR '%s'", val);
		c->n_bypass++;
	} else if (strcmp(key, "allow-udp") == 0) {
		if (c->n_allow_udp == RULES_MAX_UDP)
			return agentcfg_err(
			    msg, msgsz, "too many allow-udp ports");
		if (parse_port(val, &c->allow_udp[c->n_allow_udp]) == -1)
			return agentcfg_err(
			    msg, msgsz, "invalid port '%s'", val);
		c->n_allow_udp++;
	} else if (strcmp(key, "ca") == 0) {
		if (*seen & 4)
			return agentcfg_err(msg, msgsz, "ca given twice");
		*seen |= 4;
		if (val[0] != '/' || strlen(val) >= sizeof(c->ca_path))
			return agentcfg_err(
			    msg, msgsz, "invalid ca path '%s'", val);
		snprintf(c->ca_path, sizeof(c->ca_path), "%s", val);
	} else if (strcmp(key, "sched") == 0) {
		if (*seen & 8)
			return agentcfg_err(msg, msgsz, "sched given twice");
		*seen |= 8;
		if (agentcfg_sched_parse(val, &c->sched) == -1)
			return agentcfg_err(msg, msgsz,
			    "invalid sched '%s' (batch or normal)", val);
	} else {
		return agentcfg_err(msg, msgsz, "unknown key '%s'", key);
	}
	return 0;
}

int
agentcfg_parse(const char *text, size_t len, struct agentcfg *c, char *err,
    size_t errsz)
{
	char line[AGENTCFG_LINE_MAX + 1], msg[256];
	unsigned int seen = 0, lineno = 0;
	size_t pos = 0, n;
	char *eq;

	agentcfg_init(c);
	if (len > AGENTCFG_FILE_MAX) {
		snprintf(err, errsz, "config file too large");
		return -1;
	}
	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);

		n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		lineno++;
		if (n > AGENTCFG_LINE_MAX) {
			snprintf(err, errsz, "line %u: too long", lineno);
			return -1;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + (nl != NULL);
		if (n == 0 || line[0] == '#')
			continue;
		if (memchr(line, '\0', n) != NULL || strchr(line, '\r')) {
			snprintf(err, errsz, "line %u: bad characters", lineno);
			return -1;
		}
		eq = strchr(line, '=');
		if (eq == NULL) {
			snprintf(err, errsz, "line %u: want key=value", lineno);
			return -1;
		}
		*eq = '\0';
		if (agentcfg_line(c, line, eq + 1, &seen, msg, sizeof(msg)) ==
		    -1) {
			snprintf(err, errsz, "line %u: %s", lineno, msg);
			return -1;
		}
	}
	if ((seen & 3) != 3) {
		snprintf(err, errsz, "%s missing",
		    (seen & 1) ? "uplink" : "proxy");
		return -1;
	}
	return 0;
}

void
agentcfg_rules(const struct agentcfg *c, struct rules_config *r)
{
	size_t i;

	rules_config_init(r);
	snprintf(r->uplink, sizeof(r->uplink), "%s", c->uplink);
	r->proxies[0].addr = c->url.addr;
	r->proxies[0].port = c->url.port;
	r->n_proxies = 1;
	for (i = 0; i < c->n_bypass && i < RULES_MAX_BYPASS; i++)
		r->bypass[i] = c->bypass[i];
	r->n_bypass = i;
	for (i = 0; i < c->n_allow_udp && i < RULES_MAX_UDP; i++)
		r->allow_udp[i] = c->allow_udp[i];
	r->n_allow_udp = i;
}
