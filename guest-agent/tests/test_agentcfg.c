/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * test_agentcfg.c - proxy URLs (every part, at and past the token and URL
 * limits), the Basic credential, base64, and the config file (round
 * trip, unknown keys, repeats, limits).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "agentcfg.h"

struct url_case {
	const char *in;
	int rc;
	int is_tls;
	const char *user;
	const char *token;
	const char *addr;
	int port;
};

static void
test_parse_url(void **state)
{
	static const struct url_case cases[] = {
	    {"http://proxy:spi_abc@192.168.222.1:3128", 0, 0, "proxy",
		"spi_abc", "192.168.222.1", 3128},
	    {"http://proxy:spi_abc@192.168.222.1", 0, 0, "proxy", "spi_abc",
		"192.168.222.1", 3128},
	    {"https://proxy:spi_abc@192.168.222.1:3129/", 0, 1, "proxy",
		"spi_abc", "192.168.222.1", 3129},
	    {"HTTPS://x:t@192.168.222.1", 0, 1, "x", "t", "192.168.222.1",
		3129},
	    {"http://spi_tok@10.0.0.1:8080", 0, 0, "proxy", "spi_tok",
		"10.0.0.1", 8080},
	    {"http://:spi_tok@10.0.0.1:8080", 0, 0, "proxy", "spi_tok",
		"10.0.0.1", 8080},
	    {"http://u:a%40b%3A@[fd00:222::1]:3128", 0, 0, "u", "a@b:",
		"fd00:222::1", 3128},
	    {"http://u:t@[fd00:222::1]", 0, 0, "u", "t", "fd00:222::1", 3128},
	    {"", -1, 0, NULL, NULL, NULL, 0},
	    {"ftp://u:t@1.2.3.4", -1, 0, NULL, NULL, NULL, 0},
	    {"http://192.168.222.1:3128", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:@192.168.222.1", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t@proxy.example:3128", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t@fd00::1:3128", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t@[fd00::1:3128", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t@1.2.3.4:0", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t@1.2.3.4:65536", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t@1.2.3.4:", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t@1.2.3.4/path", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t@1.2.3.4?q", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t%zz@1.2.3.4", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t%0a@1.2.3.4", -1, 0, NULL, NULL, NULL, 0},
	    {"http://u:t t@1.2.3.4", -1, 0, NULL, NULL, NULL, 0},
	};
	struct agentcfg_url u;
	char err[256], a[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct url_case *c = &cases[i];
		int rc = agentcfg_parse_url(c->in, &u, err, sizeof(err));

		if (rc != c->rc)
			fail_msg("case %zu (%s): %d (%s)", i, c->in, rc, err);
		if (rc != 0) {
			/* a message, never the token */
			assert_true(strlen(err) > 0);
			assert_null(strstr(err, "t%0a"));
			continue;
		}
		assert_int_equal(u.is_tls, c->is_tls);
		assert_string_equal(u.user, c->user);
		assert_string_equal(u.token, c->token);
		assert_string_equal(netaddr_ntop(&u.addr, a, sizeof(a)), c->addr);
		assert_int_equal(u.port, c->port);
	}
	assert_int_equal(agentcfg_parse_url(NULL, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "HTTPS_PROXY"));
}

static void
test_url_limits(void **state)
{
	char url[AGENTCFG_URL_MAX + 64], err[256];
	struct agentcfg_url u;
	int n;

	(void)state;
	/* a token of AGENTCFG_TOKEN_MAX characters, and one more */
	n = snprintf(url, sizeof(url), "http://p:");
	memset(url + n, 'k', AGENTCFG_TOKEN_MAX);
	snprintf(url + n + AGENTCFG_TOKEN_MAX, sizeof(url) - (size_t)n -
	    AGENTCFG_TOKEN_MAX, "@1.2.3.4");
	assert_int_equal(agentcfg_parse_url(url, &u, err, sizeof(err)), 0);
	assert_int_equal(strlen(u.token), AGENTCFG_TOKEN_MAX);
	memset(url + n, 'k', AGENTCFG_TOKEN_MAX + 1);
	snprintf(url + n + AGENTCFG_TOKEN_MAX + 1, sizeof(url) - (size_t)n -
	    AGENTCFG_TOKEN_MAX - 1, "@1.2.3.4");
	assert_int_equal(agentcfg_parse_url(url, &u, err, sizeof(err)), -1);
	/* the whole URL at and past AGENTCFG_URL_MAX */
	memset(url, 'x', sizeof(url));
	memcpy(url, "http://", 7);
	url[AGENTCFG_URL_MAX + 1] = '\0';
	assert_int_equal(agentcfg_parse_url(url, &u, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
}

static void
test_b64_and_auth(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
	    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
	    {"foobar", "Zm9vYmFy"},
	};
	struct agentcfg_url u;
	char out[64], err[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(agentcfg_b64_encode(cases[i].in,
				     strlen(cases[i].in), out, sizeof(out)),
		    (int)strlen(cases[i].out));
		assert_string_equal(out, cases[i].out);
	}
	/* output exactly large enough, and one byte short */
	assert_int_equal(agentcfg_b64_encode("foo", 3, out, 5), 4);
	assert_int_equal(agentcfg_b64_encode("foo", 3, out, 4), -1);
	assert_int_equal(agentcfg_parse_url("http://proxy:spi_x@1.2.3.4", &u,
			     err, sizeof(err)),
	    0);
	/* base64("proxy:spi_x") */
	assert_int_equal(agentcfg_basic_auth(&u, out, sizeof(out)), 22);
	assert_string_equal(out, "Basic cHJveHk6c3BpX3g=");
	assert_int_equal(agentcfg_basic_auth(&u, out, 22), -1);
	assert_string_equal(agentcfg_url_hostport(&u, out, sizeof(out)),
	    "1.2.3.4:3128");
	assert_int_equal(agentcfg_parse_url("https://t@[fd00::1]", &u, err,
			     sizeof(err)),
	    0);
	assert_string_equal(agentcfg_url_hostport(&u, out, sizeof(out)),
	    "[fd00::1]:3129");
}

static void
test_config_roundtrip(void **state)
{
	struct agentcfg *c = calloc(1, sizeof(*c)), *d = calloc(1, sizeof(*d));
	struct rules_config r;
	char text[AGENTCFG_FILE_MAX], err[256];
	int n;

	(void)state;
	assert_non_null(c);
	assert_non_null(d);
	agentcfg_init(c);
	snprintf(c->url_text, sizeof(c->url_text),
	    "http://proxy:spi_a@192.168.222.1:3128");
	assert_int_equal(
	    agentcfg_parse_url(c->url_text, &c->url, err, sizeof(err)), 0);
	snprintf(c->uplink, sizeof(c->uplink), "eth0");
	assert_int_equal(netaddr_parse_cidr("10.0.0.0/8", &c->bypass[0]), 0);
	assert_int_equal(netaddr_parse_cidr("fd12::/16", &c->bypass[1]), 0);
	c->n_bypass = 2;
	c->allow_udp[0] = 123;
	c->n_allow_udp = 1;
	snprintf(c->ca_path, sizeof(c->ca_path), "/etc/slicer-agent/ca.pem");
	c->sched = AGENTCFG_SCHED_NORMAL;
	n = agentcfg_format(c, text, sizeof(text));
	assert_true(n > 0);
	assert_int_equal(agentcfg_parse(text, (size_t)n, d, err, sizeof(err)),
	    0);
	assert_string_equal(d->url_text, c->url_text);
	assert_string_equal(d->uplink, "eth0");
	assert_int_equal(d->n_bypass, 2);
	assert_int_equal(d->bypass[1].prefix, 16);
	assert_int_equal(d->n_allow_udp, 1);
	assert_int_equal(d->allow_udp[0], 123);
	assert_string_equal(d->ca_path, c->ca_path);
	assert_int_equal(d->sched, AGENTCFG_SCHED_NORMAL);
	assert_non_null(strstr(text, "\nsched=normal\n"));
	/* and the default, batch, is written out too */
	c->sched = AGENTCFG_SCHED_BATCH;
	n = agentcfg_format(c, text, sizeof(text));
	assert_true(n > 0);
	assert_non_null(strstr(text, "\nsched=batch\n"));
	d->sched = AGENTCFG_SCHED_NORMAL;
	assert_int_equal(agentcfg_parse(text, (size_t)n, d, err, sizeof(err)),
	    0);
	assert_int_equal(d->sched, AGENTCFG_SCHED_BATCH);
	agentcfg_rules(d, &r);
	assert_string_equal(r.uplink, "eth0");
	assert_int_equal(r.n_proxies, 1);
	assert_int_equal(r.proxies[0].port, 3128);
	assert_int_equal(r.n_bypass, 2);
	assert_int_equal(r.allow_udp[0], 123);
	/* too small an output buffer */
	assert_int_equal(agentcfg_format(c, text, 40), -1);
	free(c);
	free(d);
}

static void
test_config_errors(void **state)
{
	static const struct {
		const char *text;
		const char *msg;
	} cases[] = {
	    {"uplink=eth0\n", "proxy missing"},
	    {"proxy=http://p:t@1.2.3.4\n", "uplink missing"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=eth0\nfoo=1\n", "unknown key"},
	    {"proxy=http://p:t@1.2.3.4\nproxy=http://p:t@1.2.3.4\n", "twice"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=lo\n", "invalid uplink"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=eth0\nbypass=1.2.3.4/33\n",
		"invalid CIDR"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=eth0\nallow-udp=0\n",
		"invalid port"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=eth0\nca=relative\n",
		"invalid ca"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=eth0\nnoequals\n",
		"key=value"},
	    {"proxy=http://p:t@1.2.3.4\r\nuplink=eth0\n", "bad characters"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=eth0\nsched=fifo\n",
		"invalid sched"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=eth0\nsched=\n",
		"invalid sched"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=eth0\nsched=Batch\n",
		"invalid sched"},
	    {"proxy=http://p:t@1.2.3.4\nuplink=eth0\nsched=batch\n"
	     "sched=normal\n", "sched given twice"},
	};
	struct agentcfg *c = calloc(1, sizeof(*c));
	char big[AGENTCFG_FILE_MAX + 2], err[256];
	size_t i;

	(void)state;
	assert_non_null(c);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(agentcfg_parse(cases[i].text,
				     strlen(cases[i].text), c, err, sizeof(err)),
		    -1);
		if (strstr(err, cases[i].msg) == NULL)
			fail_msg("case %zu: '%s'", i, err);
	}
	/* comments and blank lines are fine; no sched line means batch (a
	 * config written before the key existed) */
	c->sched = AGENTCFG_SCHED_NORMAL;
	assert_int_equal(agentcfg_parse("# x\n\nproxy=http://p:t@1.2.3.4\n"
					"uplink=eth0",
			     41, c, err, sizeof(err)),
	    0);
	assert_int_equal(c->sched, AGENTCFG_SCHED_BATCH);
	/* a line of AGENTCFG_LINE_MAX + 1 characters, and the file limit */
	memset(big, '#', sizeof(big));
	big[AGENTCFG_LINE_MAX + 1] = '\n';
	assert_int_equal(agentcfg_parse(big, AGENTCFG_LINE_MAX + 2, c, err,
			     sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(agentcfg_parse(big, sizeof(big), c, err, sizeof(err)),
	    -1);
	/* bypass CIDRs up to RULES_MAX_BYPASS, not past */
	{
		char *t = malloc(65536);
		size_t o = 0;

		assert_non_null(t);
		o += (size_t)sprintf(t, "proxy=http://p:t@1.2.3.4\nuplink=e\n");
		for (i = 0; i < RULES_MAX_BYPASS; i++)
			o += (size_t)sprintf(t + o, "bypass=10.%zu.0.0/16\n", i);
		assert_int_equal(agentcfg_parse(t, o, c, err, sizeof(err)), 0);
		assert_int_equal(c->n_bypass, RULES_MAX_BYPASS);
		o += (size_t)sprintf(t + o, "bypass=11.0.0.0/16\n");
		assert_int_equal(agentcfg_parse(t, o, c, err, sizeof(err)), -1);
		free(t);
	}
	free(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_url),
	    cmocka_unit_test(test_url_limits),
	    cmocka_unit_test(test_b64_and_auth),
	    cmocka_unit_test(test_config_roundtrip),
	    cmocka_unit_test(test_config_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
