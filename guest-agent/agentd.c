/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * agentd.c - the daemon behind `slicer-agent proxy run` (see agentd.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include "agentcfg.h"
#include "agentd.h"
#include "ev.h"
#include "fsops.h"
#include "log.h"
#include "nft.h"
#include "redirector.h"
#include "rules.h"
#include "sock.h"
#include "tlsc.h"

#if defined(AGENT_HAVE_DNS_STUB)
#include "dns_stub.h"
#endif

struct agentd {
	struct ev *ev;
	struct agentcfg cfg;
	struct rules_config rules;
	struct tlsc_ctx *tls;
	struct redir *redir;
#if defined(AGENT_HAVE_DNS_STUB)
	struct dns_stub *dns;
#endif
	struct nft_monitor *mon;
	struct ev_io mon_io;
	struct ev_timer check;
	int64_t last_apply;
	uint64_t reapplied;
	int sfd;
	struct ev_io sig_io;
	int stfd;
	struct ev_io st_io;
	int has_pidfile;
	const char *sched_applied; /* the policy in effect, for status */
};

/* ------------------------------------------------------------ rules */

static void
agentd_apply(struct agentd *d, const char *why)
{
	struct nft_error err;
	char msg[256];

	d->last_apply = ev_now(d->ev);
	if (rules_apply(&d->rules, &err) == -1) {
		log_warnx("cannot put the table back (%s): %s", why,
		    nft_error_format(&err, msg, sizeof(msg)));
		return;
	}
	d->reapplied++;
	log_info("table inet %s put back (%s)", RULES_TABLE, why);
}

static void
agentd_check_cb(struct ev_timer *t)
{
	struct agentd *d = t->arg;
	int64_t since = ev_now(d->ev) - d->last_apply;

	if (since < AGENTD_REAPPLY_MIN_MS) {
		ev_timer_arm(d->ev, &d->check, AGENTD_REAPPLY_MIN_MS - since);
		return;
	}
	if (rules_present() == 0)
		agentd_apply(d, "it was removed");
	ev_timer_arm(d->ev, &d->check, AGENTD_CHECK_MS);
}

static void
agentd_event_cb(const struct nft_event *e, void *arg)
{
	struct agentd *d = arg;

	if (e->type == NFT_MSG_DELTABLE && e->family == NFPROTO_INET &&
	    strcmp(e->table, RULES_TABLE) == 0)
		ev_timer_arm(d->ev, &d->check, 100);
}

static void
agentd_mon_cb(struct ev_io *io, uint32_t events)
{
	struct agentd *d = io->arg;
	int i, n;

	(void)events;
	for (i = 0; i < 64; i++) {
		n = nft_monitor_read(d->mon, agentd_event_cb, d);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == ENOBUFS || errno == ENOSPC) {
				/* events lost: look for ourselves */
				ev_timer_arm(d->ev, &d->check, 100);
				continue;
			}
			if (errno != EAGAIN && errno != EINTR)
				log_warn("nftables monitor");
			break;
		}
	}
}

#if defined(AGENT_HAVE_DNS_STUB)
/* redir_name_fn: the name the stub answered an address for. */
static int
agentd_name_for(void *arg, const struct netaddr *addr, char *name, size_t size)
{
	struct agentd *d = arg;

	return dns_stub_name_for(d->dns, addr, name, size);
}
#endif

/* ----------------------------------------------------------- status */

static void
agentd_status_cb(struct ev_io *io, uint32_t events)
{
	struct agentd *d = io->arg;
	struct redir_stats st;
	char text[1024];
	int fd, n;

	(void)events;
	fd = accept4(d->stfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd == -1)
		return;
	redir_get_stats(d->redir, &st);
	n = snprintf(text, sizeof(text),
	    "pid=%d\nuplink=%s\nrules_reapplied=%llu\naccepted=%llu\n"
	    "active=%llu\nby_name=%llu\nby_dns=%llu\nby_addr=%llu\n"
	    "tunnels=%llu\nrefused=%llu\nproxy_errors=%llu\nbad_dst=%llu\n"
	    "sched=%s\ndns_stub=%s\n",
	    (int)getpid(), d->cfg.uplink, (unsigned long long)d->reapplied,
	    (unsigned long long)st.accepted, (unsigned long long)st.active,
	    (unsigned long long)st.by_name, (unsigned long long)st.by_dns,
	    (unsigned long long)st.by_addr, (unsigned long long)st.tunnels,
	    (unsigned long long)st.refused,
	    (unsigned long long)st.proxy_errors,
	    (unsigned long long)st.bad_dst, d->sched_applied,
#if defined(AGENT_HAVE_DNS_STUB)
	    d->dns != NULL ? "running" : "failed"
#else
	    "not-built"
#endif
	);
#if defined(AGENT_HAVE_DNS_STUB)
	if (d->dns != NULL && n > 0 && (size_t)n < sizeof(text)) {
		struct dns_stub_stats ds;

		dns_stub_get_stats(d->dns, &ds);
		n += snprintf(text + n, sizeof(text) - (size_t)n,
		    "dns_queries=%llu\ndns_cached=%llu\ndns_forwarded=%llu\n"
		    "dns_denied=%llu\ndns_errors=%llu\ndns_limited=%llu\n"
		    "dns_upstream=%llu\n",
		    (unsigned long long)ds.queries,
		    (unsigned long long)ds.cached,
		    (unsigned long long)ds.forwarded,
		    (unsigned long long)ds.denied,
		    (unsigned long long)ds.errors,
		    (unsigned long long)ds.limited,
		    (unsigned long long)ds.upstream);
		if ((size_t)n >= sizeof(text))
			n = (int)sizeof(text) - 1;
	}
#endif
	if (n > 0 && write(fd, text, (size_t)n) < 0)
		log_debug("status: write failed");
	close(fd);
}

int
agentd_query(char *buf, size_t size)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	if (size == 0) {
		errno = EINVAL;
		return -1;
	}
	fd = sock_unix_connect(AGENTD_STATUS_SOCK);
	if (fd == -1)
		return -1;
	while (got + 1 < size) {
		n = read(fd, buf + got, size - got - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	buf[got] = '\0';
	close(fd);
	return got > 0 ? 0 : (errno = ECONNRESET, -1);
}

/* --------------------------------------------------------- lifecycle */

static void
agentd_sig_cb(struct ev_io *io, uint32_t events)
{
	struct agentd *d = io->arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(d->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			agentd_apply(d, "SIGHUP");
			continue;
		}
		log_info("signal %u: exiting (the table stays: fail closed)",
		    si.ssi_signo);
		ev_break(d->ev);
	}
}

/* Tell systemd (Type=notify) we are up. */
static void
agentd_sd_notify(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sun;
	socklen_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    strlen(path) >= sizeof(sun.sun_path))
		return;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if (path[0] == '@')
		sun.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return;
	if (sendto(fd, "READY=1", 7, MSG_NOSIGNAL, (struct sockaddr *)&sun,
		len) == -1)
		log_warn("sd_notify");
	close(fd);
}

static int
agentd_load(struct agentd *d, const char *path, char *err, size_t errsz)
{
	char *text = NULL, *ca = NULL, msg[256];
	size_t len, calen;
	int rc = -1;

	if (fsops_read(path, AGENTCFG_FILE_MAX, &text, &len, NULL) == -1) {
		snprintf(err, errsz, "cannot read %s: %s (run `slicer-agent "
		    "proxy install` first)", path, strerror(errno));
		goto out;
	}
	if (agentcfg_parse(text, len, &d->cfg, msg, sizeof(msg)) == -1) {
		snprintf(err, errsz, "%s: %s", path, msg);
		goto out;
	}
	agentcfg_rules(&d->cfg, &d->rules);
	if (d->cfg.url.is_tls) {
		if (d->cfg.ca_path[0] == '\0' ||
		    fsops_read(d->cfg.ca_path, FSOPS_FILE_MAX, &ca, &calen,
			NULL) == -1) {
			snprintf(err, errsz, "a TLS proxy needs its CA (%s)",
			    d->cfg.ca_path[0] ? d->cfg.ca_path : "none saved");
			goto out;
		}
		d->tls = tlsc_ctx_new(ca, calen, err, errsz);
		if (d->tls == NULL)
			goto out;
	}
	rc = 0;
out:
	if (text != NULL) {
		memset(text, 0, len);
		free(text);
	}
	free(ca);
	return rc;
}

static int
agentd_pidfile(struct agentd *d)
{
	char pid[32];
	int n;

	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (fsops_write(AGENTD_PID_FILE, pid, (size_t)n, 0644) == -1)
		return -1;
	d->has_pidfile = 1;
	return 0;
}

/*
 * The scheduling policy of the config (agentcfg.h says why batch is the
 * default).  Not being able to set it costs only speed: warned, and the
 * daemon runs on.
 */
static void
agentd_sched(struct agentd *d)
{
	struct sched_param sp = {.sched_priority = 0};
	int policy = d->cfg.sched == AGENTCFG_SCHED_NORMAL ? SCHED_OTHER :
	    SCHED_BATCH;

	if (sched_setscheduler(0, policy, &sp) == -1) {
		log_warn("cannot set the scheduling policy to %s",
		    agentcfg_sched_name(d->cfg.sched));
		d->sched_applied = "unchanged";
		return;
	}
	d->sched_applied = agentcfg_sched_name(d->cfg.sched);
}

static int
agentd_start(struct agentd *d, char *err, size_t errsz)
{
	struct redir_config rc;
	struct nft_error nerr;
	sigset_t mask;
	char msg[256];

	agentd_sched(d);
	d->ev = ev_new();
	if (d->ev == NULL) {
		snprintf(err, errsz, "cannot create the event loop");
		return -1;
	}
	if (mkdir(AGENTD_RUN_DIR, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errsz, "cannot create %s: %s", AGENTD_RUN_DIR,
		    strerror(errno));
		return -1;
	}
	/* the monitor first, so a flush right after the apply is seen */
	d->mon = nft_monitor_open();
	if (d->mon == NULL) {
		snprintf(err, errsz, "cannot watch nftables: %s",
		    strerror(errno));
		return -1;
	}
	if (rules_apply(&d->rules, &nerr) == -1) {
		snprintf(err, errsz, "cannot apply the nftables table: %s",
		    nft_error_format(&nerr, msg, sizeof(msg)));
		return -1;
	}
	d->last_apply = ev_now(d->ev);
	memset(&rc, 0, sizeof(rc));
	rc.url = &d->cfg.url;
	rc.tls = d->tls;
	rc.port = d->rules.redirect_port;
	rc.mark = d->rules.mark;
#if defined(AGENT_HAVE_DNS_STUB)
	/* other protocols, and TLS without SNI, go by the name the stub
	 * answered the address for (looked up when they connect) */
	rc.name_for = agentd_name_for;
	rc.name_arg = d;
#endif
	d->redir = redir_new(d->ev, &rc, err, errsz);
	if (d->redir == NULL)
		return -1;
#if defined(AGENT_HAVE_DNS_STUB)
	{
		struct dns_stub_config dc;

		memset(&dc, 0, sizeof(dc));
		dc.port = d->rules.dns_port;
		dc.proxy_addr = d->cfg.url.addr;
		dc.proxy_port = d->cfg.url.port;
		dc.token = d->cfg.url.token;
		dc.mark = d->rules.mark;
		/* https:// proxy URL: DoH over the same TLS port, CA pinned */
		dc.tls = d->tls;
		d->dns = dns_stub_new(d->ev, &dc, msg, sizeof(msg));
		if (d->dns == NULL)
			log_warnx("DNS stub: %s (DNS stays refused)", msg);
	}
#endif
	ev_io_init(&d->mon_io, agentd_mon_cb, d);
	ev_timer_init(&d->check, agentd_check_cb, d);
	if (ev_io_add(d->ev, &d->mon_io, nft_monitor_fd(d->mon), EPOLLIN) ==
	    -1) {
		snprintf(err, errsz, "cannot watch nftables");
		return -1;
	}
	ev_timer_arm(d->ev, &d->check, AGENTD_CHECK_MS);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	{
		/* every redirected connection is two sockets: take all the
		 * descriptors the hard limit allows */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
		    rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	d->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	ev_io_init(&d->sig_io, agentd_sig_cb, d);
	if (d->sfd == -1 || ev_io_add(d->ev, &d->sig_io, d->sfd, EPOLLIN) == -1) {
		snprintf(err, errsz, "signalfd: %s", strerror(errno));
		return -1;
	}
	d->stfd = sock_unix_listen(AGENTD_STATUS_SOCK, 0600, (uid_t)-1,
	    (gid_t)-1, 16);
	ev_io_init(&d->st_io, agentd_status_cb, d);
	if (d->stfd == -1 ||
	    ev_io_add(d->ev, &d->st_io, d->stfd, EPOLLIN) == -1) {
		snprintf(err, errsz, "cannot listen on %s: %s",
		    AGENTD_STATUS_SOCK,
		    errno == EADDRINUSE ? "in use by a running daemon" :
		    errno == EEXIST ? "exists and is not a socket" :
		    strerror(errno));
		return -1;
	}
	if (agentd_pidfile(d) == -1) {
		snprintf(err, errsz, "cannot write %s: %s", AGENTD_PID_FILE,
		    strerror(errno));
		return -1;
	}
	return 0;
}

static void
agentd_stop(struct agentd *d)
{
	if (d->stfd != -1) {
		ev_io_del(d->ev, &d->st_io);
		close(d->stfd);
		unlink(AGENTD_STATUS_SOCK);
	}
	if (d->has_pidfile)
		unlink(AGENTD_PID_FILE);
#if defined(AGENT_HAVE_DNS_STUB)
	dns_stub_free(d->dns);
#endif
	redir_free(d->redir);
	if (d->mon != NULL) {
		ev_io_del(d->ev, &d->mon_io);
		nft_monitor_close(d->mon);
	}
	if (d->sfd != -1) {
		ev_io_del(d->ev, &d->sig_io);
		close(d->sfd);
	}
	if (d->ev != NULL)
		ev_timer_stop(d->ev, &d->check);
	tlsc_ctx_free(d->tls);
	ev_free(d->ev);
	memset(&d->cfg, 0, sizeof(d->cfg));
}

int
agentd_main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"notify-fd", required_argument, NULL, 'n'},
	    {"verbose", no_argument, NULL, 'v'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = AGENTD_CONFIG;
	struct agentd *d;
	char err[512];
	int ch, verbose = 0, notify = -1, rc = 1;

	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":c:v", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'n':
			notify = atoi(optarg);
			break;
		case 'v':
			verbose++;
			break;
		default:
			fprintf(stderr,
			    "usage: slicer-agent proxy run [--config PATH] "
			    "[-v]\n");
			return 1;
		}
	}
	log_init("slicer-agent", verbose);
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		fprintf(stderr, "slicer-agent: out of memory\n");
		return 1;
	}
	d->sfd = d->stfd = -1;
	if (agentd_load(d, config, err, sizeof(err)) == -1 ||
	    agentd_start(d, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		if (notify >= 0) {
			dprintf(notify, "error: %s\n", err);
			close(notify);
		}
		goto out;
	}
	log_info("running: uplink %s, redirect port %u, table inet %s",
	    d->cfg.uplink, (unsigned int)d->rules.redirect_port, RULES_TABLE);
	if (notify >= 0) {
		dprintf(notify, "ready\n");
		close(notify);
	}
	agentd_sd_notify();
	rc = ev_run(d->ev) == 0 ? 0 : 1;
out:
	agentd_stop(d);
	free(d);
	return rc;
}
