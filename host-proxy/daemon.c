/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * daemon.c - `slicer-proxy up`: options, listeners, the event loop, signals,
 * rule expiry and the periodic sweep.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/ssl.h>

#include "api.h"
#include "audit.h"
#include "conn.h"
#include "daemon.h"
#include "dnsgiven.h"
#include "front.h"
#include "link.h"
#include "log.h"
#include "match.h"
#include "mitm.h"
#include "oauth.h"
#include "proc.h"
#include "parse.h"
#include "privs.h"
#include "resolve.h"
#include "sock.h"
#include "tlssess.h"
#include "worker.h"

#define DAEMON_OWN_REFRESH_MS 30000
#define DAEMON_LEAF_CACHE 1024
#define DAEMON_FRONT_REFRESH_MS (3600 * 1000)
/* How long a daemon waits for another owner of its --hostgroup interface
 * (a keeper removing it after a crash) to let it go. */
#define DAEMON_HOSTGROUP_LOCK_WAIT_MS 5000
/* The owners' locks, one file per network namespace and interface. */
#define DAEMON_HOSTGROUP_LOCK_DIR "/run/slicer-proxy"
/* How long a clean shutdown waits for --hostgroup's interface to go. */
#define DAEMON_KEEPER_WAIT_MS 3000

static void daemon_refresh_front(struct proxy *px);

static void
daemon_usage(FILE *f)
{
	fprintf(f,
	    "usage: slicer-proxy up --bind ADDR [--http-port 3128] "
	    "[--https-port 3129]\n"
	    "         [--api ./slicer.sock] [--state-dir DIR] "
	    "[--deny-cidr CIDR]...\n"
	    "         [--allow-cidr CIDR]... [--upstream-ca FILE] "
	    "[--log FILE|-] [-v]\n"
	    "         [--workers N] [--hostgroup NAME] [--user USER] "
	    "[--group GROUP]\n"
	    "         [--drain-timeout DUR] [--dns-mode policy|forward]\n"
	    "         [--max-conns-per-peer N] [--peer-prefix6 LEN] "
	    "[--tunnel-ech refuse|allow]\n");
}

/*
 * The proxy's own addresses, which no request may reach: every address of
 * the host, and the bind address.  A set that cannot be had whole is not
 * used: at start the daemon refuses to run (-1, err says why); later the
 * set it has is kept (the addresses it misses are those added since) and
 * the failure logged.
 */
static int
daemon_refresh_own(struct proxy *px, char *err, size_t errsz)
{
	struct netaddr_set fresh, old;
	struct netaddr_cidr c;

	if (netaddr_local_addrs(&fresh) == -1 ||
	    (netaddr_parse_cidr(px->cfg.bind_addr, &c) == 0 &&
	    netaddr_set_add(&fresh, &c) == -1)) {
		if (errno == E2BIG || errno == ENOSPC)
			snprintf(err, errsz, "the host has more than %d "
			    "addresses: cannot tell them all from others",
			    LIMIT_OWN_ADDRS);
		else
			snprintf(err, errsz, "cannot list the host's own "
			    "addresses: %s", strerror(errno));
		netaddr_set_free(&fresh);
		return -1;
	}
	netaddr_set_sort(&fresh);
	proxy_lock(px);
	old = px->own;
	px->own = fresh;
	proxy_unlock(px);
	netaddr_set_free(&old);
	return 0;
}

/* The sweep's refresh: a failure keeps the set in force, said once a
 * minute at most. */
static void
daemon_refresh_own_again(struct proxy *px)
{
	char err[256];
	int64_t now = ev_now(px->ev);

	px->own_refreshed_ms = now;
	if (daemon_refresh_own(px, err, sizeof(err)) == 0) {
		if (px->own_warned_ms != 0)
			log_info("own addresses: listed again");
		px->own_warned_ms = 0;
		return;
	}
	if (px->own_warned_ms == 0 || now - px->own_warned_ms >= 60000) {
		log_warnx("own addresses: %s; the set listed before stays in "
		    "force", err);
		px->own_warned_ms = now;
	}
}

/* The calling thread's view of the policy lock (proxy.h). */
static __thread struct worker *proxy_tl_worker; /* its loop, NULL: none */
static __thread unsigned proxy_tl_depth;        /* px->lock holds */
static __thread unsigned proxy_tl_judge_depth;  /* own judge mutex holds */
static __thread int proxy_tl_is_writer;         /* holds every judge mutex */

void
proxy_thread_bind(struct worker *w)
{
	proxy_tl_worker = w;
}

void
proxy_lock(struct proxy *px)
{
	unsigned i;

	if (proxy_tl_depth == 0 && proxy_tl_judge_depth == 0) {
		for (i = 0; i < px->nworkers; i++)
			pthread_mutex_lock(&px->workers[i]->judge_lock);
		proxy_tl_is_writer = 1;
	}
	pthread_mutex_lock(&px->lock);
	proxy_tl_depth++;
}

void
proxy_unlock(struct proxy *px)
{
	unsigned i;

	proxy_tl_depth--;
	pthread_mutex_unlock(&px->lock);
	if (proxy_tl_depth == 0 && proxy_tl_is_writer) {
		proxy_tl_is_writer = 0;
		for (i = px->nworkers; i-- > 0;)
			pthread_mutex_unlock(&px->workers[i]->judge_lock);
	}
}

void
proxy_judge_lock(struct proxy *px)
{
	/* under px->lock already (a writer or a nested section), or on a
	 * thread without a loop: the full lock, as before */
	if (proxy_tl_depth > 0 || proxy_tl_worker == NULL) {
		proxy_lock(px);
		return;
	}
	pthread_mutex_lock(&proxy_tl_worker->judge_lock);
	proxy_tl_judge_depth++;
}

void
proxy_judge_unlock(struct proxy *px)
{
	if (proxy_tl_depth > 0 || proxy_tl_worker == NULL) {
		proxy_unlock(px);
		return;
	}
	proxy_tl_judge_depth--;
	pthread_mutex_unlock(&proxy_tl_worker->judge_lock);
}

static void
proxy_release(void *arg)
{
	proxy_unlock(arg);
}

static void
proxy_reacquire(void *arg)
{
	proxy_lock(arg);
}

/* Secret value files first (a state.json never names a secret whose file
 * is missing), each value copied under the lock and written without it. */
static int
proxy_flush_secrets(struct proxy *px, char *err, size_t errsz)
{
	int is_once = proxy_tl_depth == 1; /* the caller's own hold */

	return store_secrets_flush(px->store, is_once ? proxy_release : NULL,
	    is_once ? proxy_reacquire : NULL, px, err, errsz);
}

int
proxy_save(struct proxy *px, char *err, size_t errsz)
{
	char serr[256];
	int rc, is_flushed;

	px->is_state_unsaved = 1;
	/* a value file that cannot be written holds up nothing else: it is
	 * retried every second (proxy_save_secrets), and state.json goes
	 * out as long as every secret it names has a file (store_save) */
	is_flushed = proxy_flush_secrets(px, err, errsz) == 0;
	/*
	 * Only the main loop adds or deletes anything in the store, and it
	 * is busy here, so what state.json holds stands still without the
	 * lock: the workers only read it (a worker may change a secret's
	 * value, which store_save does not read).  Held more than once (a
	 * caller up the stack), it stays held.
	 */
	if (proxy_tl_depth != 1) {
		rc = store_save(px->store, serr, sizeof(serr));
	} else {
		proxy_unlock(px);
		rc = store_save(px->store, serr, sizeof(serr));
		proxy_lock(px);
	}
	if (rc == 0)
		px->is_state_unsaved = 0;
	else if (is_flushed) /* else the write that failed first says why */
		snprintf(err, errsz, "%s", serr);
	return rc;
}

void
proxy_retry_save(struct proxy *px)
{
	char err[256];
	int64_t now;

	if (!px->is_state_unsaved)
		return;
	proxy_lock(px);
	if (proxy_save(px, err, sizeof(err)) == -1) {
		now = parse_now_ms();
		if (px->state_warned_ms == 0 ||
		    now - px->state_warned_ms >= 60000) {
			log_warnx("state: changes in force but not saved "
			    "(retrying every second): %s", err);
			px->state_warned_ms = now;
		}
	} else {
		log_info("state: changes saved");
		px->state_warned_ms = 0;
	}
	proxy_unlock(px);
}

void
proxy_secrets_changed(struct proxy *px)
{
	worker_signal(px->workers[0], WORKER_SAVE_SECRETS);
}

void
proxy_save_secrets(struct proxy *px)
{
	static int64_t warned_ms; /* main loop only */
	char err[256];
	int64_t now;

	proxy_lock(px);
	if (store_secrets_unsaved(px->store) == 0) {
		proxy_unlock(px);
		return;
	}
	if (proxy_flush_secrets(px, err, sizeof(err)) == -1) {
		/* kept in memory and in use; tried again every second */
		now = parse_now_ms();
		if (warned_ms == 0 || now - warned_ms >= 60000) {
			log_warnx("state: cannot write a secret's new value "
			    "(in use, not yet on disk; retrying): %s", err);
			warned_ms = now;
		}
	} else if (warned_ms != 0) {
		log_info("state: secret values written");
		warned_ms = 0;
	}
	proxy_unlock(px);
}

size_t
proxy_nconns(struct proxy *px)
{
	size_t n = 0;
	unsigned i;

	for (i = 0; i < px->nworkers; i++)
		n += atomic_load(&px->workers[i]->nconns);
	return n;
}

void
proxy_counts_sum(const struct proxy *px, struct proxy_counts *out)
{
	const struct loop_counters *lc;
	unsigned i;

	memset(out, 0, sizeof(*out));
	for (i = 0; i < px->nworkers; i++) {
		lc = &px->workers[i]->counters;
#define PROXY_COUNTER_ADD(name, metric, labels, help) out->name += atomic_load_explicit( \
	&lc->name, memory_order_relaxed);
		PROXY_COUNTERS(PROXY_COUNTER_ADD)
#undef PROXY_COUNTER_ADD
	}
}

/* ids a loop takes from next_conn_id at a time */
#define CONN_ID_BLOCK 1024

uint64_t
proxy_next_conn_id(struct worker *w)
{
	if (w->conn_id_next == w->conn_id_end) {
		w->conn_id_next = atomic_fetch_add(&w->px->next_conn_id,
		    CONN_ID_BLOCK) + 1;
		w->conn_id_end = w->conn_id_next + CONN_ID_BLOCK;
	}
	return w->conn_id_next++;
}

/* A line for `logs --follow` was emitted on another loop's thread. */
static void
daemon_audit_wake(void *arg)
{
	struct proxy *px = arg;

	worker_signal(px->workers[0], 0);
}

void
proxy_arm_expiry(struct proxy *px)
{
	int64_t next, now = parse_now_ms();

	proxy_lock(px);
	next = store_next_expiry(px->store);
	proxy_unlock(px);
	if (next == 0) {
		ev_timer_stop(px->ev, &px->expiry);
		return;
	}
	ev_timer_arm(px->ev, &px->expiry, next > now ? next - now : 0);
}

void
proxy_policy_changed(struct proxy *px)
{
	unsigned i;

	for (i = 0; i < px->nworkers; i++)
		worker_signal(px->workers[i], WORKER_REJUDGE);
}

static void
daemon_expiry_cb(struct ev_timer *t)
{
	struct proxy *px = t->arg;
	char err[256];
	int n;

	proxy_lock(px);
	n = store_expire(px->store, parse_now_ms());
	if (n > 0) {
		json_t *rec = json_pack("{s:s,s:s,s:i}", "event", "expire",
		    "decision", "revoke", "rules", n);

		audit_emit(px->audit, rec);
		if (proxy_save(px, err, sizeof(err)) == -1)
			log_warnx("state: %s", err);
	}
	proxy_unlock(px);
	proxy_policy_changed(px);
}

static void
daemon_sweep_cb(struct ev_timer *t)
{
	struct proxy *px = t->arg;

	if (atomic_load(&px->is_draining)) {
		size_t n = proxy_nconns(px);

		if (n == 0 || ev_now(px->ev) >= px->drain_deadline_ms) {
			log_info("drained: %zu connection(s) cut", n);
			ev_break(px->ev);
			return;
		}
		/* the workers close their idle connections themselves */
		ev_timer_arm(px->ev, &px->sweep, 100);
		return;
	}
	if (ev_now(px->ev) - px->own_refreshed_ms >= DAEMON_OWN_REFRESH_MS)
		daemon_refresh_own_again(px);
	if (ev_now(px->ev) - px->front_refreshed_ms >= DAEMON_FRONT_REFRESH_MS)
		daemon_refresh_front(px);
	proxy_save_secrets(px); /* a value whose write failed */
	proxy_retry_save(px);   /* a change whose save failed */
	ev_timer_arm(px->ev, &px->sweep, 1000);
}

/* The TLS client context for intercepted upstreams: verified, TLS 1.2+,
 * http/1.1 only, sessions cached for resumption. */
/* A certificate directory in OpenSSL's hashed layout (c_rehash,
 * update-ca-certificates): it has at least one HHHHHHHH.N entry. */
static int
daemon_is_hashed_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	size_t i;
	int found = 0;

	if (d == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		const char *n = de->d_name;

		for (i = 0; i < 8 && isxdigit((unsigned char)n[i]) &&
		    !isupper((unsigned char)n[i]); i++)
			;
		found = i == 8 && n[8] == '.' &&
		    isdigit((unsigned char)n[9]);
	}
	closedir(d);
	return found;
}

/*
 * The system trust store.  From a hashed directory a CA is read when a
 * chain first needs it, and kept: an idle proxy holds none of the ~150
 * certificates of the bundle (about 1 MiB of heap when parsed at start).
 * SSL_CERT_FILE or SSL_CERT_DIR in the environment, or a directory
 * without hashes, fall back to OpenSSL's default paths (the bundle file,
 * read whole).  -1 on failure.
 */
static int
daemon_load_system_trust(SSL_CTX *ctx)
{
	const char *dir = X509_get_default_cert_dir();

	if (getenv(X509_get_default_cert_file_env()) == NULL &&
	    getenv(X509_get_default_cert_dir_env()) == NULL &&
	    daemon_is_hashed_dir(dir))
		return SSL_CTX_load_verify_dir(ctx, dir) == 1 ? 0 : -1;
	return SSL_CTX_set_default_verify_paths(ctx) == 1 ? 0 : -1;
}

static SSL_CTX *
daemon_upstream_ctx(const char *cafile, char *err, size_t errsz)
{
	static const unsigned char alpn[] = "\x08http/1.1";
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (ctx == NULL) {
		snprintf(err, errsz, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
	if (tlssess_init(ctx) == -1) {
		snprintf(err, errsz, "cannot set up the TLS session cache");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (cafile != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			snprintf(err, errsz, "cannot load --upstream-ca %s",
			    cafile);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (daemon_load_system_trust(ctx) == -1) {
		snprintf(err, errsz, "cannot load the system trust store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* (Re)load the TLS proxy port's certificate: a leaf for the bind address,
 * re-minted by the cache before it expires. */
static void
daemon_refresh_front(struct proxy *px)
{
	char canon[LIMIT_HOSTNAME + 3];
	SSL_CTX *ctx;

	if (px->cfg.https_port == 0)
		return;
	if (match_host_canon(px->cfg.bind_addr, strlen(px->cfg.bind_addr),
	    canon, sizeof(canon)) == -1)
		return;
	ctx = mitm_cache_ctx(px->leaves, canon);
	if (ctx == NULL) {
		log_warnx("cannot mint the TLS proxy port certificate");
		return;
	}
	proxy_lock(px);
	SSL_CTX_free(px->front_ctx);
	px->front_ctx = ctx;
	proxy_unlock(px);
	px->front_refreshed_ms = ev_now(px->ev);
}

/* SIGTERM: stop accepting, let what is in flight finish, then exit. */
static void
daemon_drain(struct proxy *px)
{
	unsigned i;

	log_info("draining: no new connections, %zu open, up to %lld s",
	    proxy_nconns(px), (long long)(px->cfg.drain_ms / 1000));
	atomic_store(&px->is_draining, 1);
	px->drain_deadline_ms = ev_now(px->ev) + px->cfg.drain_ms;
	for (i = 0; i < px->nworkers; i++)
		worker_signal(px->workers[i], WORKER_DRAIN);
	ev_timer_arm(px->ev, &px->sweep, 0);
}

/*
 * Hand one entry of the state directory to uid:gid, by a descriptor of its
 * own (O_PATH, so that nothing is opened for real: not a FIFO, not a
 * device), and only when it is what the daemon keeps there: a directory
 * for "secrets", otherwise a regular file with one link (a hard link to a
 * file elsewhere, say /etc/shadow, would have that file chowned), owned by
 * root or uid.  ENOENT is fine.  0, or -1 with err set.
 */
static int
daemon_chown_entry(int dfd, const char *dir, const char *sub,
    const char *name, int is_dir, uid_t uid, gid_t gid, char *err,
    size_t errsz)
{
	struct stat sb;
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	const char *why = NULL;

	if (fd == -1 && errno == ENOENT)
		return 0;
	if (fd == -1 || fstat(fd, &sb) == -1) {
		snprintf(err, errsz, "cannot open %s%s/%s: %s", dir, sub, name,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (is_dir ? !S_ISDIR(sb.st_mode) : !S_ISREG(sb.st_mode))
		why = is_dir ? "not a directory" : "not a regular file";
	else if (!is_dir && sb.st_nlink != 1)
		why = "a file with more than one link";
	else if (sb.st_uid != 0 && sb.st_uid != uid)
		why = "owned by another user";
	if (why != NULL) {
		snprintf(err, errsz, "%s%s/%s: %s (refused: the daemon would "
		    "hand it to its user)", dir, sub, name, why);
		close(fd);
		return -1;
	}
	if (fchownat(fd, "", uid, gid, AT_EMPTY_PATH) == -1) {
		snprintf(err, errsz, "chown %s%s/%s: %s", dir, sub, name,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Hand the state directory (and the files we keep in it) to the user the
 * daemon will run as.  Refuses a directory owned by anybody but root or
 * that user, or open to group or others, before anything is handed over;
 * each entry must be what the daemon keeps there (daemon_chown_entry).
 * Symlinks are never followed.
 */
static int
daemon_chown_state(const char *dir, uid_t uid, gid_t gid, char *err,
    size_t errsz)
{
	static const char *const files[] = { "state.json", "ca.key", "ca.crt",
		"secrets", NULL };
	struct stat sb;
	int dfd, sfd, i;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		snprintf(err, errsz, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1 || fstat(dfd, &sb) == -1) {
		snprintf(err, errsz, "cannot open %s: %s", dir, strerror(errno));
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	if (sb.st_uid != 0 && sb.st_uid != uid) {
		snprintf(err, errsz, "%s is owned by uid %u, not root or the "
		    "daemon's user", dir, (unsigned)sb.st_uid);
		close(dfd);
		return -1;
	}
	/* checked here too, before the directory changes hands (the store
	 * would refuse it after) */
	if ((sb.st_mode & 077) != 0) {
		snprintf(err, errsz, "%s: mode %04o has group/world permission "
		    "bits (want 0700)", dir, (unsigned)(sb.st_mode & 07777));
		close(dfd);
		return -1;
	}
	if (fchown(dfd, uid, gid) == -1) {
		snprintf(err, errsz, "chown %s: %s", dir, strerror(errno));
		close(dfd);
		return -1;
	}
	for (i = 0; files[i] != NULL; i++) {
		if (daemon_chown_entry(dfd, dir, "", files[i],
		    strcmp(files[i], "secrets") == 0, uid, gid, err,
		    errsz) == -1) {
			close(dfd);
			return -1;
		}
	}
	sfd = openat(dfd, "secrets", O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (sfd != -1) {
		DIR *d = fdopendir(sfd);
		struct dirent *de;
		int rc = 0;

		if (d != NULL) {
			while (rc == 0 && (de = readdir(d)) != NULL)
				if (de->d_name[0] != '.')
					rc = daemon_chown_entry(sfd, dir,
					    "/secrets", de->d_name, 0, uid,
					    gid, err, errsz);
			closedir(d);
		} else {
			close(sfd);
		}
		if (rc == -1) {
			close(dfd);
			return -1;
		}
	}
	close(dfd);
	return 0;
}

/*
 * --hostgroup, as root: become the one owner of interface ifname in this
 * network namespace, an exclusive flock on a file in a root-only
 * directory held for as long as the daemon uses the interface and then by
 * its keeper until the interface is gone.  Another daemon's keeper still
 * removing the interface after a crash is waited for (up to
 * DAEMON_HOSTGROUP_LOCK_WAIT_MS), so that a daemon started at once does
 * not take the interface that is about to vanish; a daemon still running
 * with it is an error.  The descriptor, or -1 after saying why.
 */
static int
daemon_hostgroup_lock(const char *ifname, char *path, size_t pathsz)
{
	struct stat ns, dir, held, named;
	int64_t deadline;
	int fd, is_said = 0;

	if ((mkdir(DAEMON_HOSTGROUP_LOCK_DIR, 0700) == -1 && errno != EEXIST) ||
	    lstat(DAEMON_HOSTGROUP_LOCK_DIR, &dir) == -1) {
		fprintf(stderr, "slicer-proxy: cannot make %s for the host "
		    "group's lock: %s\n", DAEMON_HOSTGROUP_LOCK_DIR,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(dir.st_mode) || dir.st_uid != 0 ||
	    (dir.st_mode & 022) != 0) {
		fprintf(stderr, "slicer-proxy: %s is not a directory of root's "
		    "that only root may write\n", DAEMON_HOSTGROUP_LOCK_DIR);
		return -1;
	}
	if (stat("/proc/self/ns/net", &ns) == -1) {
		fprintf(stderr, "slicer-proxy: cannot read the network "
		    "namespace (/proc/self/ns/net): %s\n", strerror(errno));
		return -1;
	}
	snprintf(path, pathsz, "%s/hostgroup-%llu-%s.lock",
	    DAEMON_HOSTGROUP_LOCK_DIR, (unsigned long long)ns.st_ino, ifname);
	deadline = parse_mono_ms() + DAEMON_HOSTGROUP_LOCK_WAIT_MS;
	for (;;) {
		fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
		    0600);
		if (fd == -1) {
			fprintf(stderr, "slicer-proxy: cannot open %s: %s\n",
			    path, strerror(errno));
			return -1;
		}
		while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
			if ((errno != EWOULDBLOCK && errno != EINTR) ||
			    parse_mono_ms() >= deadline) {
				fprintf(stderr, "slicer-proxy: interface %s is "
				    "%s\n", ifname, errno == EWOULDBLOCK ?
				    "another slicer-proxy's (or its keeper's, "
				    "still removing it)" : strerror(errno));
				close(fd);
				return -1;
			}
			if (!is_said)
				log_info("interface %s belongs to another "
				    "slicer-proxy or its keeper: waiting up to "
				    "%d s", ifname,
				    DAEMON_HOSTGROUP_LOCK_WAIT_MS / 1000);
			is_said = 1;
			(void)usleep(20000);
		}
		/* the owner before removes the file as it lets go: a lock
		 * on the file it removed is no lock */
		if (fstat(fd, &held) == 0 && stat(path, &named) == 0 &&
		    held.st_ino == named.st_ino && held.st_dev == named.st_dev)
			return fd;
		close(fd);
	}
}

/* The last owner of a host group interface lets go: the lock's file goes
 * first (while still held), then the lock. */
static void
daemon_hostgroup_unlock(int fd, const char *path)
{
	if (fd == -1)
		return;
	(void)unlink(path);
	close(fd);
}

/* --hostgroup: a dummy interface carrying the bind address, created when it
 * does not exist (and then removed at shutdown). */
static int
daemon_hostgroup_up(struct proxy *px)
{
	struct netaddr a;
	char ifname[16];

	if (link_hostgroup_ifname(px->cfg.hostgroup, ifname,
	    sizeof(ifname)) == -1) {
		fprintf(stderr, "slicer-proxy: invalid --hostgroup: '%s'\n",
		    px->cfg.hostgroup);
		return -1;
	}
	if (geteuid() == 0) {
		px->hostgroup_lock_fd = daemon_hostgroup_lock(ifname,
		    px->hostgroup_lock_path, sizeof(px->hostgroup_lock_path));
		if (px->hostgroup_lock_fd == -1)
			return -1;
	}
	if (link_exists(ifname) == 1) {
		log_info("hostgroup %s: using existing interface %s",
		    px->cfg.hostgroup, ifname);
		return 0;
	}
	if (netaddr_parse_literal(px->cfg.bind_addr, strlen(px->cfg.bind_addr),
	    &a) == -1 || link_dummy_create(ifname) == -1) {
		fprintf(stderr, "slicer-proxy: cannot create interface %s: %s\n",
		    ifname, strerror(errno));
		return -1;
	}
	snprintf(px->hostgroup_if, sizeof(px->hostgroup_if), "%s", ifname);
	if (link_addr_add(ifname, &a, a.family == AF_INET ? 32 : 128) == -1 ||
	    link_set_up(ifname) == -1) {
		fprintf(stderr, "slicer-proxy: cannot configure %s: %s\n",
		    ifname, strerror(errno));
		return -1;
	}
	log_info("hostgroup %s: created interface %s with %s",
	    px->cfg.hostgroup, ifname, px->cfg.bind_addr);
	return 0;
}

/* Close every descriptor from low to high (close_range, else one by one). */
static void
daemon_close_range(unsigned int low, unsigned int high)
{
	long max;
	unsigned int fd;

	if (low > high || syscall(SYS_close_range, low, high, 0U) == 0)
		return;
	max = sysconf(_SC_OPEN_MAX);
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = low; fd <= high && fd < (unsigned int)max; fd++)
		(void)close((int)fd);
}

/* Close every descriptor from low up. */
static void
daemon_close_from(unsigned int low)
{
	daemon_close_range(low, ~0U);
}

/* Close every descriptor from 3 up but a and b (either -1: none). */
static void
daemon_close_except(int a, int b)
{
	int lo = a < b ? a : b, hi = a < b ? b : a;
	unsigned int from = 3;

	if (lo >= 3) {
		daemon_close_range(from, (unsigned int)lo - 1);
		from = (unsigned int)lo + 1;
	}
	if (hi >= 3 && hi != lo) {
		daemon_close_range(from, (unsigned int)hi - 1);
		from = (unsigned int)hi + 1;
	}
	daemon_close_from(from);
}

/*
 * --hostgroup, when the daemon drops root: a keeper, forked while still
 * root, removes the interface the daemon made once the daemon is gone (its
 * end of a pipe closes: a clean exit, a crash or SIGKILL alike), so the
 * daemon itself keeps no capability, CAP_NET_ADMIN included (which would
 * let a compromised daemon rewrite the host's firewall); then it lets go
 * of the interface's lock (daemon_hostgroup_lock), which it holds from the
 * fork on, an interface the daemon found included.  The keeper holds
 * nothing else: its descriptors are closed and it ignores the signals that
 * stop the daemon (a service manager sends them to every process of the
 * service).  0, or -1.
 */
static int
daemon_hostgroup_keeper(struct proxy *px)
{
	char c, err[128];
	int pfd[2];
	pid_t pid;

	if (px->hostgroup_if[0] == '\0' && px->hostgroup_lock_fd == -1)
		return 0;
	pid = proc_fork_piped(pfd, err, sizeof(err));
	if (pid == -1)
		return -1;
	if (pid == 0) {
		signal(SIGTERM, SIG_IGN);
		signal(SIGINT, SIG_IGN);
		signal(SIGHUP, SIG_IGN);
		/* all but its end of the pipe, wherever that is (nothing
		 * here can fail and leave the daemon trusting a keeper that
		 * is gone) */
		daemon_close_except(pfd[0], px->hostgroup_lock_fd);
		(void)prctl(PR_SET_NAME, "slicer-hostgrp", 0, 0, 0);
		while (read(pfd[0], &c, 1) == -1 && errno == EINTR)
			;
		if (px->hostgroup_if[0] == '\0')
			; /* an interface it found: left in place */
		else if (link_dummy_delete(px->hostgroup_if) == -1)
			log_warn("cannot remove interface %s",
			    px->hostgroup_if);
		else
			log_info("removed interface %s", px->hostgroup_if);
		daemon_hostgroup_unlock(px->hostgroup_lock_fd,
		    px->hostgroup_lock_path);
		_exit(0);
	}
	close(pfd[0]);
	/* the lock is the keeper's now: it goes when the interface does */
	if (px->hostgroup_lock_fd != -1)
		close(px->hostgroup_lock_fd);
	px->hostgroup_lock_fd = -1;
	px->hostgroup_keeper = pid;
	px->hostgroup_keeper_fd = pfd[1];
	px->hostgroup_if[0] = '\0';
	return 0;
}

static void
daemon_hostgroup_down(struct proxy *px)
{
	int64_t deadline;
	int status;

	if (px->hostgroup_keeper > 0) {
		/* the keeper removes it now; wait a while, so that whoever
		 * stopped the daemon finds the interface gone */
		close(px->hostgroup_keeper_fd);
		px->hostgroup_keeper_fd = -1;
		deadline = parse_mono_ms() + DAEMON_KEEPER_WAIT_MS;
		while (waitpid(px->hostgroup_keeper, &status, WNOHANG) == 0) {
			if (parse_mono_ms() >= deadline) {
				log_warnx("the interface's keeper (pid %d) "
				    "has not finished: exiting without it",
				    (int)px->hostgroup_keeper);
				break;
			}
			(void)usleep(10000);
		}
		px->hostgroup_keeper = 0;
		return;
	}
	if (px->hostgroup_if[0] == '\0')
		return;
	if (link_dummy_delete(px->hostgroup_if) == -1)
		log_warn("cannot remove interface %s", px->hostgroup_if);
	else
		log_info("removed interface %s", px->hostgroup_if);
	px->hostgroup_if[0] = '\0';
}

/* getopt_long refused arg (opterr 0): say so without what follows '='. */
static void
daemon_bad_option(const char *arg)
{
	int namelen = (int)strcspn(arg, "=");

	if (strncmp(arg, "--", 2) != 0) /* a short one, maybe in a cluster */
		fprintf(stderr, "slicer-proxy up: unknown option: '-%c'\n",
		    optopt);
	else if (arg[namelen] == '=')
		fprintf(stderr, "slicer-proxy up: unknown option, or one that "
		    "takes no value: '%.*s'\n", namelen, arg);
	else
		fprintf(stderr, "slicer-proxy up: unknown option: '%s'\n", arg);
}

/* What a look-up child found. */
struct daemon_ids {
	int has_user, has_group;
	int is_nobody;   /* the user is the fallback "nobody" */
	uid_t uid;
	gid_t gid;       /* the user's primary group */
	gid_t group_gid; /* of the group asked for */
};

/*
 * Look up a user (NULL: "slicer-proxy", else "nobody") and a group (NULL:
 * none) by name in a short-lived child: NSS modules (libnss_systemd and
 * what it pulls in) are loaded there, never into the daemon, which keeps
 * their code and memory out of the long-running process.  Called before
 * any thread starts.  0 with ids filled (has_* say what was found), or -1.
 */
static int
daemon_lookup_ids(const char *user, const char *group, struct daemon_ids *ids,
    char *err, size_t errsz)
{
	struct daemon_ids got;
	int pfd[2], status;
	ssize_t n;
	pid_t pid;

	pid = proc_fork_piped(pfd, err, errsz);
	if (pid == -1)
		return -1;
	if (pid == 0) {
		struct passwd *pw = NULL;
		struct group *gr;

		close(pfd[0]);
		memset(&got, 0, sizeof(got));
		if (user != NULL)
			pw = getpwnam(user);
		else if ((pw = getpwnam("slicer-proxy")) == NULL &&
		    (pw = getpwnam("nobody")) != NULL)
			got.is_nobody = 1;
		if (pw != NULL) {
			got.has_user = 1;
			got.uid = pw->pw_uid;
			got.gid = pw->pw_gid;
		}
		if (group != NULL && (gr = getgrnam(group)) != NULL) {
			got.has_group = 1;
			got.group_gid = gr->gr_gid;
		}
		_exit(write(pfd[1], &got, sizeof(got)) == (ssize_t)sizeof(got) ?
		    0 : 1);
	}
	close(pfd[1]);
	do
		n = read(pfd[0], &got, sizeof(got));
	while (n == -1 && errno == EINTR);
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (n != (ssize_t)sizeof(got) || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		snprintf(err, errsz, "user and group look-up failed");
		return -1;
	}
	*ids = got;
	return 0;
}

struct daemon_signals {
	struct ev_io io;
	struct proxy *px;
	int fd;
};

static void
daemon_signal_cb(struct ev_io *io, uint32_t events)
{
	struct daemon_signals *s = io->arg;
	struct signalfd_siginfo si;

	(void)events;
	while (read(s->fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
			if (!atomic_load(&s->px->is_draining)) {
				daemon_drain(s->px);
				break;
			}
			/* a second SIGTERM: stop now */
			/* FALLTHROUGH */
		case SIGINT:
			log_info("signal %u: shutting down", si.ssi_signo);
			ev_break(s->px->ev);
			break;
		case SIGHUP:
			if (audit_reopen(s->px->audit) == -1)
				log_warn("reopen audit log");
			break;
		default:
			break;
		}
	}
}

/*
 * One listener per event loop on port, into fds[0..workers-1].  Several
 * loops share the port through SO_REUSEPORT; a first bind without it
 * makes sure no other process holds the port already.  0, or -1 with a
 * message on stderr.
 */
static int
daemon_listen(struct proxy *px, uint16_t port, int *fds)
{
	unsigned i;
	int fd;

	if (px->cfg.workers > 1) {
		fd = sock_tcp_listen(px->cfg.bind_addr, port, 1);
		if (fd == -1)
			goto fail;
		close(fd);
	}
	for (i = 0; i < px->cfg.workers; i++) {
		fds[i] = sock_tcp_listen_opt(px->cfg.bind_addr, port, 1024,
		    px->cfg.workers > 1);
		if (fds[i] == -1)
			goto fail;
		/* a proxy client (request line) and a TLS client (ClientHello)
		 * speak first */
		sock_defer_accept(fds[i], LIMIT_DEFER_ACCEPT_S);
	}
	return 0;
fail:
	fprintf(stderr, "slicer-proxy: cannot listen on %s port %u: %s\n",
	    px->cfg.bind_addr, port, strerror(errno));
	return -1;
}

int
daemon_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bind", required_argument, NULL, 'b' },
		{ "http-port", required_argument, NULL, 'p' },
		{ "https-port", required_argument, NULL, 'P' },
		{ "upstream-ca", required_argument, NULL, 'C' },
		{ "api", required_argument, NULL, 'a' },
		{ "url", required_argument, NULL, 'a' },
		{ "state-dir", required_argument, NULL, 's' },
		{ "deny-cidr", required_argument, NULL, 'd' },
		{ "allow-cidr", required_argument, NULL, 'A' },
		{ "log", required_argument, NULL, 'l' },
		{ "hostgroup", required_argument, NULL, 'g' },
		{ "user", required_argument, NULL, 'u' },
		{ "group", required_argument, NULL, 'G' },
		{ "drain-timeout", required_argument, NULL, 'D' },
		{ "dns-mode", required_argument, NULL, 'M' },
		{ "workers", required_argument, NULL, 'W' },
		{ "max-conns-per-peer", required_argument, NULL, 'm' },
		{ "peer-prefix6", required_argument, NULL, '6' },
		{ "tunnel-ech", required_argument, NULL, 'E' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct proxy px;
	struct daemon_signals sigs;
	struct netaddr_cidr cidr;
	struct netaddr probe;
	sigset_t mask;
	char err[512];
	uid_t uid = 0;
	gid_t gid = 0;
	char state_path[PATH_MAX];
	int http_fds[LIMIT_WORKERS], https_fds[LIMIT_WORKERS];
	pthread_mutexattr_t ma;
	unsigned i, n_loops;
	long ncpu;
	int ch, rc = 1, is_dropping, is_nobody = 0, state_fd = -1;

	memset(&px, 0, sizeof(px));
	px.hostgroup_keeper_fd = -1;
	px.hostgroup_lock_fd = -1;
	for (i = 0; i < LIMIT_WORKERS; i++)
		http_fds[i] = https_fds[i] = -1;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&px.lock, &ma);
	pthread_mutexattr_destroy(&ma);
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	px.cfg.workers = ncpu < 1 ? 1 : ncpu > LIMIT_WORKERS ? LIMIT_WORKERS :
	    (unsigned)ncpu;
	px.cfg.http_port = 3128;
	px.cfg.api_path = getenv("SLICER_URL") ? getenv("SLICER_URL") :
	    "./slicer.sock";
	px.cfg.state_dir = "/var/lib/slicer-proxy";
	px.cfg.api_gid = (gid_t)-1;
	px.cfg.drain_ms = 30000;
	px.cfg.max_conns_per_peer = LIMIT_CONNS_PER_PEER;
	px.cfg.peer_prefix6 = 64;
	sigs.fd = -1;
	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":vh", opts, NULL)) != -1) {
		switch (ch) {
		case 'b':
			px.cfg.bind_addr = optarg;
			break;
		case 'p':
		case 'P':
			if (parse_port(optarg, ch == 'p' ? &px.cfg.http_port :
			    &px.cfg.https_port) == -1) {
				fprintf(stderr, "slicer-proxy: invalid port: "
				    "'%s'\n", optarg);
				return 1;
			}
			break;
		case 'C':
			px.cfg.upstream_ca = optarg;
			break;
		case 'a':
			px.cfg.api_path = optarg;
			break;
		case 's':
			px.cfg.state_dir = optarg;
			break;
		case 'd':
		case 'A':
			if (netaddr_parse_cidr(optarg, &cidr) == -1 ||
			    netaddr_set_add(ch == 'd' ? &px.cfg.deny :
			    &px.cfg.allow, &cidr) == -1) {
				fprintf(stderr, "slicer-proxy: invalid CIDR: "
				    "'%s'\n", optarg);
				return 1;
			}
			break;
		case 'l':
			px.cfg.log_target = optarg;
			break;
		case 'g':
			px.cfg.hostgroup = optarg;
			break;
		case 'u':
			px.cfg.user = optarg;
			break;
		case 'G':
			px.cfg.group = optarg;
			break;
		case 'E':
			if (strcmp(optarg, "allow") == 0)
				px.cfg.is_tunnel_ech_allowed = 1;
			else if (strcmp(optarg, "refuse") != 0) {
				fprintf(stderr, "slicer-proxy: invalid "
				    "--tunnel-ech: '%s' (refuse or allow)\n",
				    optarg);
				return 1;
			}
			break;
		case 'M':
			if (strcmp(optarg, "forward") == 0)
				px.cfg.is_dns_forward = 1;
			else if (strcmp(optarg, "policy") != 0) {
				fprintf(stderr, "slicer-proxy: invalid --dns-mode: "
				    "'%s' (policy or forward)\n", optarg);
				return 1;
			}
			break;
		case 'W': {
			uint64_t n;

			if (parse_u64(optarg, strlen(optarg), LIMIT_WORKERS,
			    &n) == -1 || n < 1) {
				fprintf(stderr, "slicer-proxy: invalid "
				    "--workers: '%s' (1 to %d)\n", optarg,
				    LIMIT_WORKERS);
				return 1;
			}
			px.cfg.workers = (unsigned)n;
			break;
		}
		case 'm': {
			uint64_t n;

			if (parse_u64(optarg, strlen(optarg), LIMIT_CONNS,
			    &n) == -1 || n < 1) {
				fprintf(stderr, "slicer-proxy: invalid "
				    "--max-conns-per-peer: '%s' (1 to %d)\n",
				    optarg, LIMIT_CONNS);
				return 1;
			}
			px.cfg.max_conns_per_peer = (unsigned)n;
			break;
		}
		case '6': {
			uint64_t n;

			if (parse_u64(optarg, strlen(optarg), 128, &n) == -1 ||
			    n < 32) {
				fprintf(stderr, "slicer-proxy: invalid "
				    "--peer-prefix6: '%s' (32 to 128)\n",
				    optarg);
				return 1;
			}
			px.cfg.peer_prefix6 = (unsigned)n;
			break;
		}
		case 'D':
			if (parse_duration_ms(optarg, &px.cfg.drain_ms) == -1) {
				fprintf(stderr, "slicer-proxy: invalid "
				    "--drain-timeout: '%s'\n", optarg);
				return 1;
			}
			break;
		case 'v':
			px.cfg.verbosity++;
			break;
		case 'h':
			daemon_usage(stdout);
			return 0;
		case ':':
			fprintf(stderr, "slicer-proxy up: %s needs a value\n",
			    argv[optind - 1]);
			daemon_usage(stderr);
			return 1;
		default:
			daemon_bad_option(argv[optind - 1]);
			daemon_usage(stderr);
			return 1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "slicer-proxy up: unexpected argument: '%s'\n",
		    argv[optind]);
		daemon_usage(stderr);
		return 1;
	}
	if (px.cfg.bind_addr == NULL) {
		fprintf(stderr, "slicer-proxy up: --bind ADDR is required (the "
		    "address the VMs reach the proxy at)\n");
		daemon_usage(stderr);
		return 1;
	}
	if (netaddr_parse_literal(px.cfg.bind_addr, strlen(px.cfg.bind_addr),
	    &probe) == -1) {
		fprintf(stderr, "slicer-proxy: invalid bind address: '%s'\n",
		    px.cfg.bind_addr);
		return 1;
	}
	/* nothing the starter left open (a root-only file, a socket of its
	 * own) outlives the drop of root: only standard input, output and
	 * error are kept */
	daemon_close_from(3);
	log_init("slicer-proxy", px.cfg.verbosity);
	json_set_alloc_funcs(api_json_malloc, api_json_free);
	{
		/* every tunnel is two sockets: take all the descriptors the
		 * hard limit allows */
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
	}
	{
		/* secrets also pass through ordinary buffers (a request
		 * being written, OAuth JSON): no core file, and no ptrace
		 * or /proc/PID/mem for processes of the daemon's own user */
		struct rlimit rl = { 0, 0 };

		(void)setrlimit(RLIMIT_CORE, &rl);
		(void)prctl(PR_SET_DUMPABLE, 0);
	}
	signal(SIGPIPE, SIG_IGN);
	/*
	 * The signals that stop the daemon wait from here until the loop reads
	 * them (signalfd, below): one during set-up still gets the clean
	 * shutdown (the hostgroup interface removed), and no thread started
	 * meanwhile takes one with the default action.
	 */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	umask(077);

	px.ev = ev_new();
	if (px.ev == NULL)
		fatal("epoll");

	snprintf(state_path, sizeof(state_path), "%s", px.cfg.state_dir);

	/* ---- privileged set-up: interface, ports, sockets, files ---- */
	is_dropping = geteuid() == 0 &&
	    !(px.cfg.user != NULL && strcmp(px.cfg.user, "root") == 0);
	if (is_dropping || px.cfg.group != NULL) {
		struct daemon_ids ids;

		/* the user to become: --user, else a dedicated "slicer-proxy",
		 * else "nobody" */
		if (daemon_lookup_ids(px.cfg.user, px.cfg.group, &ids, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "slicer-proxy: %s\n", err);
			goto out;
		}
		if (is_dropping && !ids.has_user) {
			if (px.cfg.user != NULL)
				fprintf(stderr, "slicer-proxy: no such user: "
				    "'%s'\n", px.cfg.user);
			else
				fprintf(stderr, "slicer-proxy: no user to run "
				    "as (create a system user slicer-proxy, or "
				    "pass --user)\n");
			goto out;
		}
		if (px.cfg.group != NULL && !ids.has_group) {
			fprintf(stderr, "slicer-proxy: no such group: '%s'\n",
			    px.cfg.group);
			goto out;
		}
		uid = ids.uid;
		gid = ids.gid;
		is_nobody = is_dropping && ids.is_nobody;
		if (px.cfg.group != NULL)
			px.cfg.api_gid = ids.group_gid;
	}
	if (px.cfg.hostgroup != NULL && daemon_hostgroup_up(&px) == -1)
		goto out;
	px.audit = audit_new(px.cfg.log_target, is_dropping ? uid : (uid_t)-1,
	    err, sizeof(err));
	if (px.audit == NULL) {
		fprintf(stderr, "slicer-proxy: %s\n", err);
		goto out;
	}
	/* audit lines are written in batches, when the loop is about to wait,
	 * and on the way out of a fatal error */
	ev_on_wait(px.ev, audit_flush_hook, px.audit);
	log_on_fatal(audit_flush_last, px.audit);
	if (daemon_listen(&px, px.cfg.http_port, http_fds) == -1)
		goto out;
	if (px.cfg.https_port != 0 &&
	    daemon_listen(&px, px.cfg.https_port, https_fds) == -1)
		goto out;
	px.api = api_new(&px, px.cfg.api_path, err, sizeof(err));
	if (px.api == NULL) {
		fprintf(stderr, "slicer-proxy: %s\n", err);
		goto out;
	}
	/* --upstream-ca is read while its directory is still reachable */
	px.upstream_ctx = daemon_upstream_ctx(px.cfg.upstream_ca, err,
	    sizeof(err));
	if (px.upstream_ctx == NULL) {
		fprintf(stderr, "slicer-proxy: %s\n", err);
		goto out;
	}
	if (is_dropping) {
		if (daemon_chown_state(px.cfg.state_dir, uid, gid, err,
		    sizeof(err)) == -1) {
			fprintf(stderr, "slicer-proxy: %s\n", err);
			goto out;
		}
		/*
		 * Opened now, reached later through /proc/self/fd: the
		 * unprivileged daemon needs no search permission on the
		 * directories above it (a 0700 root-owned parent is fine).
		 */
		state_fd = open(px.cfg.state_dir, O_RDONLY | O_DIRECTORY |
		    O_NOFOLLOW | O_CLOEXEC);
		if (state_fd == -1) {
			fprintf(stderr, "slicer-proxy: cannot open %s: %s\n",
			    px.cfg.state_dir, strerror(errno));
			goto out;
		}
		snprintf(state_path, sizeof(state_path), "/proc/self/fd/%d/.",
		    state_fd);
		/* the file opened, not whatever its path names by now */
		if (audit_chown(px.audit, uid, gid) == -1)
			log_warn("chown %s", px.cfg.log_target);
		if (daemon_hostgroup_keeper(&px) == -1) {
			fprintf(stderr, "slicer-proxy: cannot start the host "
			    "group's keeper: %s\n", strerror(errno));
			goto out;
		}
		if (privs_drop(uid, gid) == -1) {
			fprintf(stderr, "slicer-proxy: cannot drop privileges: "
			    "%s\n", strerror(errno));
			goto out;
		}
		log_info("running as uid %u gid %u", (unsigned)uid,
		    (unsigned)gid);
		if (is_nobody)
			log_warnx("running as 'nobody' (no user slicer-proxy): "
			    "any other process of that user can read the "
			    "state directory, secrets and CA key included; "
			    "create a system user slicer-proxy or pass --user");
	}

	/* ---- unprivileged from here on ---- */
	px.store = store_open_as(state_path, px.cfg.state_dir, err,
	    sizeof(err));
	if (px.store == NULL) {
		fprintf(stderr, "slicer-proxy: %s\n", err);
		goto out;
	}
	px.ca = mitm_ca_open_as(state_path, px.cfg.state_dir, err,
	    sizeof(err));
	if (px.ca == NULL) {
		fprintf(stderr, "slicer-proxy: %s\n", err);
		goto out;
	}
	px.leaves = mitm_cache_new(px.ca, DAEMON_LEAF_CACHE);
	if (px.leaves == NULL) {
		fprintf(stderr, "slicer-proxy: cannot create the certificate "
		    "cache\n");
		goto out;
	}
	px.dnsgiven = dnsgiven_new(DNSGIVEN_SLOTS);
	if (px.dnsgiven == NULL) {
		fprintf(stderr, "slicer-proxy: cannot create the table of DNS "
		    "answers given\n");
		goto out;
	}
	if (px.cfg.https_port != 0) {
		daemon_refresh_front(&px);
		if (px.front_ctx == NULL) {
			fprintf(stderr, "slicer-proxy: no certificate for the "
			    "TLS proxy port\n");
			goto out;
		}
	}
	/* before any loop runs: the own-address check needs it, whole */
	if (daemon_refresh_own(&px, err, sizeof(err)) == -1) {
		fprintf(stderr, "slicer-proxy: %s\n", err);
		goto out;
	}
	px.own_refreshed_ms = ev_now(px.ev);
	ev_timer_init(&px.sweep, daemon_sweep_cb, &px);
	ev_timer_arm(px.ev, &px.sweep, 1000);
	ev_timer_init(&px.expiry, daemon_expiry_cb, &px);
	/* every loop: its own listeners, resolver, pipes and pool */
	px.workers = calloc(px.cfg.workers, sizeof(*px.workers));
	if (px.workers == NULL)
		fatal("calloc");
	for (i = 0; i < px.cfg.workers; i++) {
		px.workers[i] = worker_new(&px, i, http_fds[i], https_fds[i]);
		http_fds[i] = https_fds[i] = -1;
		if (px.workers[i] == NULL) {
			fprintf(stderr, "slicer-proxy: cannot set up event "
			    "loop %u\n", i);
			goto out;
		}
		px.nworkers++;
	}
	proxy_thread_bind(px.workers[0]); /* this thread runs loop 0 */
	audit_set_wake(px.audit, daemon_audit_wake, &px);
	daemon_expiry_cb(&px.expiry); /* drop rules that expired while down */

	sigs.px = &px;
	sigs.fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sigs.fd == -1)
		fatal("signalfd");
	ev_io_init(&sigs.io, daemon_signal_cb, &sigs);
	ev_io_add(px.ev, &sigs.io, sigs.fd, EPOLLIN);
	for (i = 1; i < px.nworkers; i++) {
		if (worker_start(px.workers[i]) == -1) {
			fprintf(stderr, "slicer-proxy: cannot start a thread: "
			    "%s\n", strerror(errno));
			goto out;
		}
	}


	log_info("listening on %s port %u (http)%s, %u event loop(s), api %s, "
	    "state %s", px.cfg.bind_addr, px.cfg.http_port,
	    px.cfg.https_port ? " and a TLS port" : "", px.nworkers,
	    px.cfg.api_path, px.cfg.state_dir);
	if (ev_run(px.ev) == -1)
		log_warn("event loop");
	rc = 0;
out:
	if (sigs.fd != -1) {
		ev_io_del(px.ev, &sigs.io);
		close(sigs.fd);
	}
	for (i = 0; i < LIMIT_WORKERS; i++) {
		if (http_fds[i] != -1)
			close(http_fds[i]);
		if (https_fds[i] != -1)
			close(https_fds[i]);
	}
	/* the threads first (each closes its connections), then loop 0 */
	for (i = px.nworkers; i-- > 0;)
		worker_stop(px.workers[i]);
	/* new tokens that arrived last are not lost */
	if (px.store != NULL && px.nworkers > 0) {
		proxy_save_secrets(&px);
		proxy_retry_save(&px);
		if (px.is_state_unsaved)
			log_warnx("state: exiting with changes not saved");
	}
	if (px.ev != NULL) {
		oauth_free_all(&px);
		api_free(px.api);
		ev_timer_stop(px.ev, &px.sweep);
		ev_timer_stop(px.ev, &px.expiry);
	}
	/* no lock takes their judge mutexes any more */
	proxy_thread_bind(NULL);
	n_loops = px.nworkers;
	px.nworkers = 0;
	for (i = 0; i < n_loops; i++)
		worker_free(px.workers[i]);
	free(px.workers);
	if (px.ev != NULL)
		ev_free(px.ev);
	log_on_fatal(NULL, NULL);
	audit_free(px.audit);
	store_free(px.store);
	SSL_CTX_free(px.front_ctx);
	tlssess_free_all();
	SSL_CTX_free(px.upstream_ctx);
	mitm_cache_free(px.leaves);
	dnsgiven_free(px.dnsgiven);
	mitm_ca_free(px.ca);
	daemon_hostgroup_down(&px);
	/* after the interface went (its file stays when root was given up:
	 * the next owner takes it as it is) */
	daemon_hostgroup_unlock(px.hostgroup_lock_fd, px.hostgroup_lock_path);
	netaddr_set_free(&px.own);
	netaddr_set_free(&px.cfg.deny);
	netaddr_set_free(&px.cfg.allow);
	if (state_fd != -1)
		close(state_fd);
	pthread_mutex_destroy(&px.lock);
	return rc;
}
