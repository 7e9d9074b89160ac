/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * cli.c - the operator commands (client, allow, revoke, rule, secret, logs):
 * a thin client of the control API on the unix socket.  Errors from the
 * API are printed as they come and the command exits non-zero.  Secret
 * values are read, sent once over the socket and wiped; never printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "cli.h"
#include "http1.h"
#include "slicer_limits.h"
#include "parse.h"
#include "secmem.h"
#include "sock.h"

struct cli {
	const char *url;   /* control socket path */
	int is_json;       /* print raw JSON */
};

static void
cli_usage(FILE *f)
{
	fprintf(f,
	    "usage:\n"
	    "  slicer-proxy client create NAME\n"
	    "  slicer-proxy client list [--json]\n"
	    "  slicer-proxy client delete NAME\n"
	    "  slicer-proxy allow CLIENT --host H [--port N]... [--method M]...\n"
	    "               [--path P]... [--ttl DURATION] [--secret NAME]\n"
	    "               [--inspect] [--allow-plaintext]\n"
	    "  slicer-proxy revoke CLIENT RULE_ID | --host H | --all\n"
	    "  slicer-proxy rule list CLIENT [--json]\n"
	    "  slicer-proxy rule import CLIENT FILE|-   (JSON array or lines of rule objects)\n"
	    "  slicer-proxy secret create NAME --host H (--from-file F | "
	    "--from-env VAR |\n"
	    "               --value-stdin) [--type bearer|basic-auth|header|oauth]\n"
	    "               [--header NAME]\n"
	    "  slicer-proxy secret list [--json]\n"
	    "  slicer-proxy secret delete NAME\n"
	    "  slicer-proxy logs [--follow] [--client NAME] [--denied]\n"
	    "  slicer-proxy ca\n"
	    "every command takes --url SOCKET (default $SLICER_URL, then "
	    "./slicer.sock)\n");
}

/* Misuse: say what is wrong, then the usage; the exit status is 1. */
static int
cli_misuse(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
cli_misuse(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "slicer-proxy%s%s: ", cmd[0] != '\0' ? " " : "", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	cli_usage(stderr);
	return 1;
}

/* getopt_long (optstring ":...", opterr 0) reported ch for argv[optind-1] */
static int
cli_bad_option(const char *cmd, int ch, char **argv)
{
	const char *a = argv[optind - 1];
	/* a long option by its name only: what follows '=' may be a value
	 * meant as a secret (--value=...), never echoed */
	int namelen = (int)strcspn(a, "=");

	if (ch == ':')
		return cli_misuse(cmd, "%.*s needs a value", namelen, a);
	if (strncmp(a, "--", 2) != 0) /* a short one, maybe in a cluster */
		return cli_misuse(cmd, "unknown option: '-%c'", optopt);
	if (a[namelen] == '=')
		return cli_misuse(cmd, "unknown option, or one that takes no "
		    "value: '%.*s'", namelen, a);
	return cli_misuse(cmd, "unknown option: '%s'", a);
}

static void
cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void
cli_die(const char *fmt, ...)
{
	va_list ap;

	fputs("slicer-proxy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Percent-encode s for a path segment or query value. */
static void
cli_encode(const char *s, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (o + 4 >= outsz)
			cli_die("argument too long");
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~' || ch == '*') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

/*
 * Connect to the control socket, and make sure the daemon is behind it:
 * the process that listens must be root or this user.  Anything else at
 * the path (another user's socket in a shared directory, or at the
 * default ./slicer.sock of whatever directory the CLI runs in) would
 * receive the secret values and tokens the CLI sends, and could answer
 * with a CA or tokens of its own.
 */
static int
cli_connect(const struct cli *cli)
{
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	int fd = sock_unix_connect(cli->url);

	if (fd == -1)
		cli_die("cannot reach the proxy at %s: %s (is `slicer-proxy up` "
		    "running? use --url or SLICER_URL)", cli->url,
		    strerror(errno));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == -1)
		cli_die("%s: cannot tell who listens there: %s", cli->url,
		    strerror(errno));
	if (cred.uid != 0 && cred.uid != geteuid())
		cli_die("%s: the process listening there runs as uid %u, not "
		    "root or you: not slicer-proxy's control socket (nothing "
		    "was sent)", cli->url, (unsigned)cred.uid);
	return fd;
}

/*
 * One request over the control socket; takes the reference to body.
 * Returns the HTTP status and the parsed JSON body in *out (NULL if the
 * body is not JSON).  With stream set, the body is copied to stdout as it
 * arrives (logs --follow).
 */
static int
cli_request(const struct cli *cli, const char *method, const char *path,
    json_t *body, json_t **out, int stream)
{
	struct http1_response r;
	struct buf b;
	char *payload = NULL, head[1024];
	size_t plen = 0, off;
	int fd, n, status = -1, is_head_done = 0;

	*out = NULL;
	fd = cli_connect(cli);
	if (body != NULL) {
		payload = json_dumps(body, JSON_COMPACT);
		if (payload == NULL)
			cli_die("cannot encode the request");
		plen = strlen(payload);
	}
	n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\nHost: slicer\r\n"
	    "Content-Type: application/json\r\nContent-Length: %zu\r\n"
	    "Connection: close\r\n\r\n", method, path, plen);
	if (n < 0 || (size_t)n >= sizeof(head))
		cli_die("request too long");
	if (write(fd, head, (size_t)n) != n ||
	    (plen > 0 && write(fd, payload, plen) != (ssize_t)plen))
		cli_die("write to %s: %s", cli->url, strerror(errno));
	if (payload != NULL) {
		secmem_wipe(payload, plen);
		free(payload);
	}
	json_decref(body);
	buf_init(&b, 64 * 1024 * 1024);
	for (;;) {
		ssize_t k;

		if (!is_head_done && b.len > 0 &&
		    http1_parse_response(buf_ptr(&b), b.len, 0, 0, &r) ==
		    HTTP1_OK) {
			is_head_done = 1;
			status = r.status;
			if (stream && status == 200) {
				fwrite(buf_ptr(&b) + r.head_len, 1,
				    b.len - r.head_len, stdout);
				fflush(stdout);
				buf_consume(&b, b.len);
			}
		}
		k = buf_read_fd(&b, fd);
		if (k == 0)
			break;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			cli_die("read from %s: %s", cli->url, strerror(errno));
		}
		if (stream && is_head_done && status == 200) {
			fwrite(buf_ptr(&b), 1, b.len, stdout);
			fflush(stdout);
			buf_consume(&b, b.len);
		}
	}
	close(fd);
	if (!is_head_done) {
		if (b.len == 0 ||
		    http1_parse_response(buf_ptr(&b), b.len, 0, 0, &r) !=
		    HTTP1_OK)
			cli_die("malformed answer from %s", cli->url);
		status = r.status;
		is_head_done = 1;
	} else if (stream && status == 200) {
		buf_release(&b);
		return status;
	}
	off = r.head_len;
	if (b.len > off)
		*out = json_loadb(buf_ptr(&b) + off, b.len - off, 0, NULL);
	if (stream && status == 200 && b.len > off)
		fwrite(buf_ptr(&b) + off, 1, b.len - off, stdout);
	buf_release(&b);
	return status;
}

/* Print the API's error and exit, for any non-2xx answer. */
static void
cli_check(int status, json_t *reply)
{
	const char *msg;

	if (status >= 200 && status < 300)
		return;
	msg = json_string_value(json_object_get(reply, "error"));
	cli_die("%s", msg ? msg : "request failed");
}

static void
cli_print_json(json_t *j)
{
	char *s = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	if (s != NULL) {
		puts(s);
		free(s);
	}
}

/* Pull the global options (--url, --json) out of argv in place. */
static int
cli_globals(struct cli *cli, int argc, char **argv)
{
	int i, o = 0;

	cli->url = getenv("SLICER_URL");
	if (cli->url == NULL || cli->url[0] == '\0')
		cli->url = "./slicer.sock";
	for (i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
			cli->url = argv[++i];
		} else if (strncmp(argv[i], "--url=", 6) == 0) {
			cli->url = argv[i] + 6;
		} else if (strcmp(argv[i], "--json") == 0) {
			cli->is_json = 1;
		} else if (strcmp(argv[i], "--url") == 0) {
			cli_die("--url needs a socket path");
		} else {
			argv[o++] = argv[i];
		}
	}
	argv[o] = NULL;
	return o;
}

/* --------------------------------------------------------- clients */

static int
cli_client(const struct cli *cli, int argc, char **argv)
{
	char path[256], enc[200];
	json_t *reply, *arr, *v;
	size_t i;
	int status;

	if (argc >= 3 && strcmp(argv[1], "create") == 0 && argc == 3) {
		status = cli_request(cli, "POST", "/v1/proxy/clients",
		    json_pack("{s:s}", "name", argv[2]), &reply, 0);
		cli_check(status, reply);
		if (cli->is_json)
			cli_print_json(reply);
		else
			printf("%s\n", json_string_value(json_object_get(reply,
			    "token")));
		json_decref(reply);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		status = cli_request(cli, "GET", "/v1/proxy/clients", NULL,
		    &reply, 0);
		cli_check(status, reply);
		if (cli->is_json) {
			cli_print_json(reply);
		} else {
			printf("%-32s %6s  %s\n", "NAME", "RULES", "CREATED");
			arr = json_object_get(reply, "clients");
			json_array_foreach(arr, i, v)
				printf("%-32s %6lld  %s\n",
				    json_string_value(json_object_get(v, "name")),
				    (long long)json_integer_value(
				    json_object_get(v, "rules")),
				    json_string_value(json_object_get(v,
				    "created")) ?: "");
		}
		json_decref(reply);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "delete") == 0) {
		cli_encode(argv[2], enc, sizeof(enc));
		snprintf(path, sizeof(path), "/v1/proxy/clients/%s", enc);
		status = cli_request(cli, "DELETE", path, NULL, &reply, 0);
		cli_check(status, reply);
		printf("client %s deleted\n", argv[2]);
		json_decref(reply);
		return 0;
	}
	return cli_misuse("client", "expected create NAME, list or delete NAME");
}

/* ----------------------------------------------------------- rules */

static int
cli_allow(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "method", required_argument, NULL, 'm' },
		{ "path", required_argument, NULL, 'P' },
		{ "ttl", required_argument, NULL, 't' },
		{ "secret", required_argument, NULL, 's' },
		{ "inspect", no_argument, NULL, 'i' },
		{ "allow-plaintext", no_argument, NULL, 'x' },
		{ NULL, 0, NULL, 0 },
	};
	json_t *rule = json_object(), *ports = json_array(),
	    *methods = json_array(), *paths = json_array(), *reply;
	char path[256], enc[200];
	const char *client;
	uint16_t port;
	int64_t ms;
	int ch, status;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			json_object_set_new(rule, "host", json_string(optarg));
			break;
		case 'p':
			if (parse_port(optarg, &port) == -1)
				cli_die("invalid port: '%s'", optarg);
			json_array_append_new(ports, json_integer(port));
			break;
		case 'm':
			json_array_append_new(methods, json_string(optarg));
			break;
		case 'P':
			json_array_append_new(paths, json_string(optarg));
			break;
		case 't':
			if (parse_duration_ms(optarg, &ms) == -1)
				cli_die("invalid ttl: '%s' (e.g. 90s, 10m, 1h30m)",
				    optarg);
			json_object_set_new(rule, "ttl", json_string(optarg));
			break;
		case 's':
			json_object_set_new(rule, "secret", json_string(optarg));
			break;
		case 'i':
			json_object_set_new(rule, "inspect", json_true());
			break;
		case 'x':
			json_object_set_new(rule, "allow_plaintext", json_true());
			break;
		default:
			return cli_bad_option("allow", ch, argv);
		}
	}
	/* misuse ends the process: what was built is not freed */
	if (optind + 1 < argc)
		return cli_misuse("allow", "unexpected argument: '%s'",
		    argv[optind + 1]);
	if (optind + 1 != argc || json_object_get(rule, "host") == NULL)
		return cli_misuse("allow", "needs CLIENT and --host H");
	client = argv[optind];
	if (json_array_size(ports) > 0)
		json_object_set(rule, "ports", ports);
	if (json_array_size(methods) > 0)
		json_object_set(rule, "methods", methods);
	if (json_array_size(paths) > 0)
		json_object_set(rule, "paths", paths);
	json_decref(ports);
	json_decref(methods);
	json_decref(paths);
	cli_encode(client, enc, sizeof(enc));
	snprintf(path, sizeof(path), "/v1/proxy/clients/%s/rules", enc);
	status = cli_request(cli, "POST", path, rule, &reply, 0);
	cli_check(status, reply);
	if (cli->is_json)
		cli_print_json(reply);
	else
		printf("%s\n", json_string_value(json_object_get(reply, "id")));
	json_decref(reply);
	return 0;
}

static int
cli_revoke(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	char path[1024], enc[200], ehost[400];
	const char *host = NULL, *id = NULL;
	int ch, all = 0, status;
	json_t *reply;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			host = optarg;
			break;
		case 'a':
			all = 1;
			break;
		default:
			return cli_bad_option("revoke", ch, argv);
		}
	}
	if (optind >= argc)
		return cli_misuse("revoke", "needs CLIENT");
	if (argc - optind > 2)
		return cli_misuse("revoke", "unexpected argument: '%s'",
		    argv[optind + 2]);
	if (argc - optind == 2)
		id = argv[optind + 1];
	if ((id != NULL) + (host != NULL) + all != 1) {
		fprintf(stderr, "slicer-proxy: revoke needs exactly one of "
		    "RULE_ID, --host H, --all\n");
		return 1;
	}
	cli_encode(argv[optind], enc, sizeof(enc));
	if (id != NULL) {
		char eid[64];

		cli_encode(id, eid, sizeof(eid));
		snprintf(path, sizeof(path), "/v1/proxy/clients/%s/rules/%s",
		    enc, eid);
	} else if (host != NULL) {
		cli_encode(host, ehost, sizeof(ehost));
		snprintf(path, sizeof(path),
		    "/v1/proxy/clients/%s/rules?host=%s", enc, ehost);
	} else {
		snprintf(path, sizeof(path), "/v1/proxy/clients/%s/rules?all=1",
		    enc);
	}
	status = cli_request(cli, "DELETE", path, NULL, &reply, 0);
	cli_check(status, reply);
	if (cli->is_json)
		cli_print_json(reply);
	else
		printf("%lld rule(s) revoked\n", (long long)json_integer_value(
		    json_object_get(reply, "removed")));
	json_decref(reply);
	return 0;
}

static void
cli_join(json_t *arr, char *out, size_t outsz, const char *empty)
{
	size_t i, o = 0;
	json_t *v;

	out[0] = '\0';
	json_array_foreach(arr, i, v) {
		char item[300];
		int n;

		if (json_is_integer(v))
			snprintf(item, sizeof(item), "%lld",
			    (long long)json_integer_value(v));
		else
			snprintf(item, sizeof(item), "%s",
			    json_string_value(v) ?: "");
		n = snprintf(out + o, outsz - o, "%s%s", i ? "," : "", item);
		if (n < 0 || (size_t)n >= outsz - o)
			break;
		o += (size_t)n;
	}
	if (o == 0)
		snprintf(out, outsz, "%s", empty);
}

/* Send one batch; on refusal say what stays and exit. */
static void
cli_rule_batch(const struct cli *cli, const char *path, json_t *batch,
    size_t first, size_t *imported)
{
	json_t *reply = NULL;
	const char *msg;
	size_t n = json_array_size(batch);
	int status;

	status = cli_request(cli, "POST", path, json_pack("{s:O}", "rules",
	    batch), &reply, 0);
	if (status < 200 || status >= 300) {
		msg = json_string_value(json_object_get(reply, "error"));
		/* the API numbers rules within the batch: "rules[K]: ..." */
		if (msg != NULL && strncmp(msg, "rules[", 6) == 0 &&
		    strchr(msg, ']') != NULL) {
			const char *rest = strchr(msg, ']') + 1;

			if (rest[0] == ':' && rest[1] == ' ')
				rest += 2;
			cli_die("rule %zu of the file: %s (imported before it: "
			    "%zu; they stay)", first + strtoul(msg + 6, NULL,
			    10) + 1, rest, *imported);
		}
		cli_die("%s (imported before it: %zu; they stay)",
		    msg ? msg : "request failed", *imported);
	}
	*imported += n;
	json_decref(reply);
	json_array_clear(batch);
}

/* Largest rule file `rule import` reads. */
#define CLI_IMPORT_MAX (256 * 1024 * 1024)

/*
 * rule import CLIENT FILE: rule objects as one JSON array or one per line
 * (or concatenated), sent in batches of LIMIT_API_BATCH.  Each batch is
 * all or nothing; a refused batch stops the import and says how far it got.
 */
static int
cli_rule_import(const struct cli *cli, const char *client, const char *file)
{
	char path[256], enc[200];
	json_t *v, *batch = json_array(), *all = json_array(), *e;
	json_error_t jerr;
	size_t i, off = 0, imported = 0;
	struct buf in;
	int fd;

	fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		cli_die("cannot open %s: %s", file, strerror(errno));
	buf_init(&in, CLI_IMPORT_MAX);
	for (;;) {
		ssize_t k = buf_read_fd(&in, fd);

		if (k == 0)
			break;
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			cli_die("cannot read %s: %s", file, errno == ENOBUFS ?
			    "larger than 256 MiB" : strerror(errno));
	}
	if (fd != 0)
		close(fd);
	/* the whole file is read and parsed before anything is sent */
	for (;;) {
		while (off < in.len && strchr(" \t\r\n", buf_ptr(&in)[off]))
			off++;
		if (off == in.len)
			break;
		v = json_loadb(buf_ptr(&in) + off, in.len - off,
		    JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &jerr);
		if (v == NULL)
			cli_die("%s: byte %zu: %s (nothing imported)", file,
			    off + (size_t)jerr.position, jerr.text);
		off += (size_t)jerr.position;
		if (json_is_array(v)) {
			json_array_extend(all, v);
			json_decref(v);
		} else {
			json_array_append_new(all, v);
		}
	}
	buf_release(&in);
	cli_encode(client, enc, sizeof(enc));
	snprintf(path, sizeof(path), "/v1/proxy/clients/%s/rules", enc);
	json_array_foreach(all, i, e) {
		json_array_append(batch, e);
		if (json_array_size(batch) == LIMIT_API_BATCH ||
		    i + 1 == json_array_size(all))
			cli_rule_batch(cli, path, batch, imported, &imported);
	}
	json_decref(all);
	json_decref(batch);
	if (cli->is_json)
		printf("{\"imported\": %zu}\n", imported);
	else
		printf("imported %zu rules\n", imported);
	return 0;
}

static int
cli_rule(const struct cli *cli, int argc, char **argv)
{
	char path[256], enc[200], ports[128], methods[256], paths[1024];
	json_t *reply, *arr, *v;
	size_t i;
	int status;

	if (argc == 4 && strcmp(argv[1], "import") == 0)
		return cli_rule_import(cli, argv[2], argv[3]);
	if (argc != 3 || strcmp(argv[1], "list") != 0) {
		return cli_misuse(
		    "rule", "expected list CLIENT or import CLIENT FILE|-");
	}
	cli_encode(argv[2], enc, sizeof(enc));
	snprintf(path, sizeof(path), "/v1/proxy/clients/%s/rules", enc);
	status = cli_request(cli, "GET", path, NULL, &reply, 0);
	cli_check(status, reply);
	if (cli->is_json) {
		cli_print_json(reply);
		json_decref(reply);
		return 0;
	}
	printf("%-14s %-28s %-10s %-10s %-20s %-10s %s\n", "ID", "HOST",
	    "PORTS", "METHODS", "PATHS", "SECRET", "EXPIRES");
	arr = json_object_get(reply, "rules");
	json_array_foreach(arr, i, v) {
		const char *secret = json_string_value(json_object_get(v,
		    "secret"));
		const char *exp = json_string_value(json_object_get(v,
		    "expires"));

		cli_join(json_object_get(v, "ports"), ports, sizeof(ports), "-");
		cli_join(json_object_get(v, "methods"), methods,
		    sizeof(methods), "any");
		cli_join(json_object_get(v, "paths"), paths, sizeof(paths),
		    "any");
		printf("%-14s %-28s %-10s %-10s %-20s %-10s %s\n",
		    json_string_value(json_object_get(v, "id")),
		    json_string_value(json_object_get(v, "host")), ports,
		    methods, paths, secret ? secret : "-", exp ? exp : "never");
	}
	json_decref(reply);
	return 0;
}

/* --------------------------------------------------------- secrets */

/* Read a secret value from a file (bounded); the caller wipes and frees. */
static char *
cli_read_secret_fd(int fd, const char *what, size_t *len)
{
	char *buf = malloc(LIMIT_SECRET_VALUE + 2);
	size_t n = 0;

	if (buf == NULL)
		cli_die("out of memory");
	for (;;) {
		ssize_t k = read(fd, buf + n, LIMIT_SECRET_VALUE + 1 - n);

		if (k == 0)
			break;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			cli_die("cannot read %s: %s", what, strerror(errno));
		}
		n += (size_t)k;
		if (n > LIMIT_SECRET_VALUE) {
			secmem_wipe(buf, n);
			cli_die("%s: secret over %d bytes", what,
			    LIMIT_SECRET_VALUE);
		}
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* How often the --value-stdin prompt looks for a signal that ended it. */
#define CLI_TTY_POLL_MS 100

/* The terminal's settings while a secret is typed with echo off; put back
 * by cli_tty_restore, also from a signal that ends the command. */
static struct termios cli_tty_saved;
static volatile sig_atomic_t cli_tty_is_changed;
static volatile sig_atomic_t cli_tty_signal; /* the one that ended it */

static void
cli_tty_restore(void)
{
	if (cli_tty_is_changed) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &cli_tty_saved);
		cli_tty_is_changed = 0;
	}
}

/* The echo comes back at once; the prompt's loop sees the flag (or the
 * read's EINTR) and ends, and the signal is raised again, with its
 * default action, outside the handler. */
static void
cli_tty_on_signal(int sig)
{
	cli_tty_restore();
	cli_tty_signal = sig;
}

/* --value-stdin on a terminal: the value is typed, so it is one line read
 * with echo off after a prompt on stderr (as passwd and ssh-keygen do),
 * and never shown. */
static char *
cli_read_secret_tty(const char *name, size_t *len)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa, old[sizeof(sigs) / sizeof(sigs[0])];
	struct termios quiet;
	char *buf = malloc(LIMIT_SECRET_VALUE + 2);
	size_t n = 0, i;
	int is_line = 0, is_long = 0, read_errno = 0;

	if (buf == NULL)
		cli_die("out of memory");
	if (tcgetattr(STDIN_FILENO, &cli_tty_saved) == -1)
		cli_die("standard input: cannot read the terminal's settings: "
		    "%s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = cli_tty_on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, &old[i]);
	quiet = cli_tty_saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	cli_tty_is_changed = 1;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == -1) {
		cli_tty_is_changed = 0;
		cli_die("standard input: cannot turn the terminal's echo off: "
		    "%s", strerror(errno));
	}
	fprintf(stderr, "value of secret %s (not shown; Enter ends it): ",
	    name);
	fflush(stderr);
	while (!is_line && cli_tty_signal == 0) {
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		char c;
		ssize_t k;

		/* the flag is looked at every slice, so a signal ends the
		 * prompt however its delivery and the read interleave */
		k = poll(&pfd, 1, CLI_TTY_POLL_MS);
		if (k == 0 || (k < 0 && errno == EINTR))
			continue;
		if (k < 0) {
			read_errno = errno;
			break;
		}
		k = read(STDIN_FILENO, &c, 1);
		if (k == 0)
			break;
		if (k < 0) {
			if (errno == EINTR && cli_tty_signal == 0)
				continue;
			read_errno = errno;
			break;
		}
		if (c == '\n')
			is_line = 1;
		else if (n < LIMIT_SECRET_VALUE)
			buf[n++] = c;
		else
			is_long = 1;
	}
	cli_tty_restore();
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &old[i], NULL);
	fputc('\n', stderr);
	if (cli_tty_signal != 0) {
		int sig = cli_tty_signal;

		secmem_wipe(buf, n);
		signal(sig, SIG_DFL);
		raise(sig);
		_exit(128 + sig);
	}
	if (read_errno != 0 || is_long) {
		secmem_wipe(buf, n);
		if (is_long)
			cli_die("standard input: secret over %d bytes",
			    LIMIT_SECRET_VALUE);
		cli_die("cannot read standard input: %s", strerror(read_errno));
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static int
cli_secret(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "from-file", required_argument, NULL, 'f' },
		{ "from-env", required_argument, NULL, 'e' },
		{ "value-stdin", no_argument, NULL, 'S' },
		{ "type", required_argument, NULL, 't' },
		{ "header", required_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *host = NULL, *file = NULL, *env = NULL, *type = NULL,
	    *header = NULL;
	char path[256], enc[200], *value = NULL;
	size_t vlen = 0, i;
	int ch, from_stdin = 0, status, sources;
	json_t *reply, *req, *arr, *v;

	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		status = cli_request(cli, "GET", "/v1/proxy/secrets", NULL,
		    &reply, 0);
		cli_check(status, reply);
		if (cli->is_json) {
			cli_print_json(reply);
		} else {
			printf("%-24s %-32s %-11s %s\n", "NAME", "HOST", "TYPE",
			    "HEADER");
			arr = json_object_get(reply, "secrets");
			json_array_foreach(arr, i, v)
				printf("%-24s %-32s %-11s %s\n",
				    json_string_value(json_object_get(v, "name")),
				    json_string_value(json_object_get(v, "host")),
				    json_string_value(json_object_get(v, "type")),
				    json_string_value(json_object_get(v,
				    "header")) ?: "-");
		}
		json_decref(reply);
		return 0;
	}
	if (argc == 3 && strcmp(argv[1], "delete") == 0) {
		cli_encode(argv[2], enc, sizeof(enc));
		snprintf(path, sizeof(path), "/v1/proxy/secrets/%s", enc);
		status = cli_request(cli, "DELETE", path, NULL, &reply, 0);
		cli_check(status, reply);
		printf("secret %s deleted\n", argv[2]);
		json_decref(reply);
		return 0;
	}
	if (argc < 3 || strcmp(argv[1], "create") != 0)
		return cli_misuse("secret",
		    "expected create NAME ..., list or delete NAME");
	optind = 2;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			host = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'e':
			env = optarg;
			break;
		case 'S':
			from_stdin = 1;
			break;
		case 't':
			type = optarg;
			break;
		case 'h':
			header = optarg;
			break;
		default:
			return cli_bad_option("secret create", ch, argv);
		}
	}
	if (optind + 1 != argc || host == NULL) {
		fprintf(stderr, "slicer-proxy: secret create needs NAME and "
		    "--host\n");
		return 1;
	}
	sources = (file != NULL) + (env != NULL) + from_stdin;
	if (sources != 1)
		cli_die("give exactly one of --from-file, --from-env, "
		    "--value-stdin");
	if (file != NULL) {
		int fd = open(file, O_RDONLY | O_CLOEXEC);

		if (fd == -1)
			cli_die("cannot open %s: %s", file, strerror(errno));
		value = cli_read_secret_fd(fd, file, &vlen);
		close(fd);
	} else if (env != NULL) {
		const char *e = getenv(env);

		if (e == NULL)
			cli_die("environment variable %s is not set", env);
		vlen = strlen(e);
		if (vlen > LIMIT_SECRET_VALUE)
			cli_die("%s: secret over %d bytes", env,
			    LIMIT_SECRET_VALUE);
		value = malloc(vlen + 1);
		if (value == NULL)
			cli_die("out of memory");
		memcpy(value, e, vlen + 1);
	} else if (isatty(STDIN_FILENO)) {
		value = cli_read_secret_tty(argv[optind], &vlen);
	} else {
		value = cli_read_secret_fd(STDIN_FILENO, "standard input",
		    &vlen);
	}
	req = json_object();
	json_object_set_new(req, "name", json_string(argv[optind]));
	json_object_set_new(req, "host", json_string(host));
	if (type != NULL)
		json_object_set_new(req, "type", json_string(type));
	if (header != NULL)
		json_object_set_new(req, "header", json_string(header));
	v = json_stringn(value, vlen);
	secmem_wipe(value, vlen);
	free(value);
	if (v == NULL)
		cli_die("the secret is not valid UTF-8 text");
	json_object_set_new(req, "value", v);
	status = cli_request(cli, "POST", "/v1/proxy/secrets", req, &reply, 0);
	cli_check(status, reply);
	if (cli->is_json)
		cli_print_json(reply);
	else
		printf("secret %s created for %s\n", argv[optind],
		    json_string_value(json_object_get(reply, "host")));
	json_decref(reply);
	return 0;
}

/* ------------------------------------------------------------ logs */

static int
cli_logs(const struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "follow", no_argument, NULL, 'f' },
		{ "client", required_argument, NULL, 'c' },
		{ "denied", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	char path[512], enc[200];
	const char *client = NULL;
	int ch, follow = 0, denied = 0, status;
	json_t *reply;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":f", opts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			follow = 1;
			break;
		case 'c':
			client = optarg;
			break;
		case 'd':
			denied = 1;
			break;
		default:
			return cli_bad_option("logs", ch, argv);
		}
	}
	if (optind != argc)
		return cli_misuse("logs", "unexpected argument: '%s'",
		    argv[optind]);
	snprintf(path, sizeof(path), "/v1/proxy/logs?follow=%d&denied=%d%s",
	    follow, denied, follow ? "&history=1" : "");
	if (client != NULL) {
		cli_encode(client, enc, sizeof(enc));
		strncat(path, "&client=", sizeof(path) - strlen(path) - 1);
		strncat(path, enc, sizeof(path) - strlen(path) - 1);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	status = cli_request(cli, "GET", path, NULL, &reply, 1);
	cli_check(status, reply);
	json_decref(reply);
	return 0;
}

/* Print the CA certificate (PEM) as the API serves it. */
static int
cli_ca(const struct cli *cli)
{
	struct http1_response r;
	struct buf b;
	int fd, status;
	static const char req[] = "GET /v1/proxy/ca.crt HTTP/1.1\r\n"
	    "Host: slicer\r\nConnection: close\r\n\r\n";

	fd = cli_connect(cli);
	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		cli_die("write to %s: %s", cli->url, strerror(errno));
	buf_init(&b, 1024 * 1024);
	while (buf_read_fd(&b, fd) > 0)
		;
	close(fd);
	if (b.len == 0 || http1_parse_response(buf_ptr(&b), b.len, 0, 0, &r) !=
	    HTTP1_OK)
		cli_die("malformed answer from %s", cli->url);
	status = r.status;
	if (status != 200)
		cli_die("the proxy answered %d", status);
	fwrite(buf_ptr(&b) + r.head_len, 1, b.len - r.head_len, stdout);
	buf_release(&b);
	return 0;
}

/* --help or -h anywhere: no value of these commands is spelled so */
static int
cli_wants_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	return 0;
}

int
cli_main(int argc, char **argv)
{
	struct cli cli;

	if (cli_wants_help(argc, argv)) {
		cli_usage(stdout);
		return 0;
	}
	memset(&cli, 0, sizeof(cli));
	argc = cli_globals(&cli, argc, argv);
	if (argc < 1)
		return cli_misuse("", "no command");
	if (strcmp(argv[0], "client") == 0)
		return cli_client(&cli, argc, argv);
	if (strcmp(argv[0], "allow") == 0)
		return cli_allow(&cli, argc, argv);
	if (strcmp(argv[0], "revoke") == 0)
		return cli_revoke(&cli, argc, argv);
	if (strcmp(argv[0], "rule") == 0)
		return cli_rule(&cli, argc, argv);
	if (strcmp(argv[0], "secret") == 0)
		return cli_secret(&cli, argc, argv);
	if (strcmp(argv[0], "logs") == 0)
		return cli_logs(&cli, argc, argv);
	if (strcmp(argv[0], "ca") == 0 && argc == 1)
		return cli_ca(&cli);
	return cli_misuse(argv[0], "unexpected argument: '%s'", argv[1]);
}
