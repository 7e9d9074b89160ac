/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * service.c - how the daemon is run (see service.h).  The unit and the
 * OpenRC script are the ones in rootfs-hooks/ (a unit test compares).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agentd.h"
#include "fsops.h"
#include "parse.h"
#include "proc.h"
#include "service.h"

static const char service_unit[] =
    "# SPDX-License-Identifier: GPL-2.0-or-later\n"
    "# slicer-agent: transparent egress through slicer-proxy (nftables table,\n"
    "# redirector, DNS stub).  Installed by `slicer-agent proxy install` or\n"
    "# rootfs-hooks/bake-rootfs.sh.  Stopping it keeps the table: traffic is\n"
    "# refused until it is back (fail closed); `proxy uninstall` removes it.\n"
    "[Unit]\n"
    "Description=slicer-agent transparent egress redirector\n"
    "Wants=network-online.target\n"
    "After=network-online.target nftables.service firewalld.service\n"
    "Before=docker.service containerd.service podman.service\n"
    "# baked into an image: idle until `proxy install` has written the config\n"
    "ConditionPathExists=/etc/slicer-agent/agent.conf\n"
    "\n"
    "[Service]\n"
    "Type=notify\n"
    "ExecStart=/usr/local/bin/slicer-agent proxy run\n"
    "Restart=always\n"
    "RestartSec=1\n"
    "# every redirected connection is two sockets\n"
    "LimitNOFILE=65536\n"
    "\n"
    "[Install]\n"
    "WantedBy=multi-user.target\n";

static const char service_openrc[] =
    "#!/sbin/openrc-run\n"
    "# shellcheck shell=sh disable=SC2034 # openrc-run reads these variables\n"
    "# SPDX-License-Identifier: GPL-2.0-or-later\n"
    "# slicer-agent: transparent egress through slicer-proxy (OpenRC service).\n"
    "# Stopping it keeps the nftables table (fail closed).\n"
    "\n"
    "description=\"slicer-agent transparent egress redirector\"\n"
    "command=\"/usr/local/bin/slicer-agent\"\n"
    "command_args=\"proxy run\"\n"
    "supervisor=\"supervise-daemon\"\n"
    "respawn_delay=1\n"
    "\n"
    "start_pre() {\n"
    "	# baked into an image: idle until `proxy install` wrote the config\n"
    "	if [ ! -f /etc/slicer-agent/agent.conf ]; then\n"
    "		eerror \"not installed: run slicer-agent proxy install\"\n"
    "		return 1\n"
    "	fi\n"
    "}\n"
    "\n"
    "depend() {\n"
    "	need localmount\n"
    "	after net firewall nftables iptables\n"
    "	before docker containerd\n"
    "}\n";

const char *
service_unit_template(int kind)
{
	return kind == SERVICE_SYSTEMD ? service_unit
	       : kind == SERVICE_OPENRC ? service_openrc
					: NULL;
}

enum service_kind
service_detect(void)
{
	char tool[FSOPS_PATH_MAX];

	if (fsops_is_dir("/run/systemd/system") &&
	    fsops_find_tool("/", "systemctl", tool, sizeof(tool)) == 0)
		return SERVICE_SYSTEMD;
	if (fsops_is_dir("/run/openrc") &&
	    fsops_find_tool("/", "openrc-run", tool, sizeof(tool)) == 0)
		return SERVICE_OPENRC;
	return SERVICE_DETACHED;
}

const char *
service_kind_name(enum service_kind k)
{
	switch (k) {
	case SERVICE_SYSTEMD:
		return "systemd";
	case SERVICE_OPENRC:
		return "openrc";
	case SERVICE_DETACHED:
		return "detached";
	}
	return "?";
}

enum service_kind
service_kind_parse(const char *s)
{
	if (strcmp(s, "systemd") == 0)
		return SERVICE_SYSTEMD;
	if (strcmp(s, "openrc") == 0)
		return SERVICE_OPENRC;
	if (strcmp(s, "detached") == 0)
		return SERVICE_DETACHED;
	return 0;
}

char *
service_unit_text(int kind, const char *exe)
{
	const char *t = service_unit_template(kind), *p;
	size_t bl = strlen(SERVICE_DEFAULT_BIN), n;
	char *out;

	if (t == NULL)
		return NULL;
	out = malloc(strlen(t) + strlen(exe) + 1);
	if (out == NULL)
		return NULL;
	p = strstr(t, SERVICE_DEFAULT_BIN);
	if (p == NULL) {
		memcpy(out, t, strlen(t) + 1);
		return out;
	}
	n = (size_t)(p - t);
	memcpy(out, t, n);
	memcpy(out + n, exe, strlen(exe));
	memcpy(out + n + strlen(exe), p + bl, strlen(p + bl) + 1);
	return out;
}

pid_t
service_running_pid(void)
{
	char *text = NULL, path[64], cmd[256];
	size_t len;
	ssize_t n;
	long pid;
	int fd;

	if (fsops_read(AGENTD_PID_FILE, 64, &text, &len, NULL) == -1)
		return 0;
	pid = strtol(text, NULL, 10);
	free(text);
	if (pid <= 1)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = read(fd, cmd, sizeof(cmd) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	cmd[n] = '\0';
	/* argv: PATH \0 proxy \0 run \0 ... */
	{
		const char *a1 = cmd + strlen(cmd) + 1;
		const char *a2;

		if (a1 >= cmd + n)
			return 0;
		a2 = a1 + strlen(a1) + 1;
		if (a2 >= cmd + n || strcmp(a1, "proxy") != 0 ||
		    strcmp(a2, "run") != 0)
			return 0;
	}
	return (pid_t)pid;
}

static int
service_tool(const char *name, const char *a1, const char *a2,
    const char *a3, char *err, size_t errsz)
{
	char tool[FSOPS_PATH_MAX], out[512];
	const char *argv[5];
	int rc;

	if (fsops_find_tool("/", name, tool, sizeof(tool)) == -1) {
		snprintf(err, errsz, "%s not found", name);
		return -1;
	}
	argv[0] = tool;
	argv[1] = a1;
	argv[2] = a2;
	argv[3] = a3;
	argv[4] = NULL;
	rc = fsops_run("/", argv, out, sizeof(out));
	if (rc != 0) {
		out[strcspn(out, "\n")] = '\0';
		snprintf(err, errsz, "%s %s %s failed: %s", name, a1,
		    a2 ? a2 : "", rc == -1 ? strerror(errno) : out);
		return -1;
	}
	return 0;
}

static int
service_stop_detached(char *err, size_t errsz)
{
	pid_t pid = service_running_pid();
	int i;

	if (pid == 0)
		return 0;
	if (kill(pid, SIGTERM) == -1 && errno != ESRCH) {
		snprintf(err, errsz, "cannot stop the daemon (pid %d): %s",
		    (int)pid, strerror(errno));
		return -1;
	}
	for (i = 0; i < 50; i++) {
		if (kill(pid, 0) == -1)
			return 0;
		usleep(100000);
	}
	kill(pid, SIGKILL);
	usleep(100000);
	unlink(AGENTD_PID_FILE);
	unlink(AGENTD_STATUS_SOCK);
	return 0;
}

/* Fork twice; the grandchild runs the daemon with its readiness on a
 * pipe.  Waits for "ready" or the daemon's error. */
static int
service_start_detached(const char *exe, char *err, size_t errsz)
{
	int64_t deadline = parse_mono_ms() + SERVICE_READY_MS;
	char msg[512], fdarg[16];
	size_t got = 0;
	int pfd[2], status, fd;
	pid_t pid;

	if (service_stop_detached(err, errsz) == -1)
		return -1;
	if (mkdir(AGENTD_RUN_DIR, 0755) == -1 && errno != EEXIST) {
		snprintf(err, errsz, "cannot create %s: %s", AGENTD_RUN_DIR,
		    strerror(errno));
		return -1;
	}
	pid = proc_fork_piped(pfd, err, errsz);
	if (pid == -1)
		return -1;
	if (pid == 0) {
		close(pfd[0]);
		if (setsid() == -1)
			_exit(1);
		pid = fork();
		if (pid != 0)
			_exit(pid == -1 ? 1 : 0);
		fd = open("/dev/null", O_RDONLY);
		if (fd != -1 && fd != 0) {
			dup2(fd, 0);
			close(fd);
		}
		fd = open(AGENTD_LOG_FILE,
		    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd != -1) {
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		umask(022);
		if (chdir("/") == -1)
			_exit(1);
		/* the write end survives exec without CLOEXEC */
		fd = dup(pfd[1]);
		snprintf(fdarg, sizeof(fdarg), "%d", fd);
		execl(exe, exe, "proxy", "run", "--notify-fd", fdarg,
		    (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	msg[0] = '\0';
	for (;;) {
		struct pollfd p = {.fd = pfd[0], .events = POLLIN};
		int64_t left = deadline - parse_mono_ms();
		ssize_t n;

		if (left <= 0) {
			snprintf(err, errsz, "the daemon did not start within "
			    "%d s (see %s)", SERVICE_READY_MS / 1000,
			    AGENTD_LOG_FILE);
			close(pfd[0]);
			return -1;
		}
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		n = read(pfd[0], msg + got, sizeof(msg) - got - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		msg[got] = '\0';
		if (strchr(msg, '\n') != NULL)
			break;
	}
	close(pfd[0]);
	msg[strcspn(msg, "\n")] = '\0';
	if (strcmp(msg, "ready") == 0)
		return 0;
	snprintf(err, errsz, "the daemon failed to start: %s",
	    strncmp(msg, "error: ", 7) == 0 ? msg + 7
	    : msg[0]			    ? msg
					    : "it exited (see " AGENTD_LOG_FILE ")");
	return -1;
}

int
service_start(enum service_kind k, const char *exe, char *err, size_t errsz)
{
	switch (k) {
	case SERVICE_SYSTEMD:
		if (service_tool("systemctl", "daemon-reload", NULL, NULL, err,
			errsz) == -1 ||
		    service_tool("systemctl", "enable", SERVICE_NAME ".service",
			NULL, err, errsz) == -1 ||
		    service_tool("systemctl", "restart",
			SERVICE_NAME ".service", NULL, err, errsz) == -1)
			return -1;
		return 0;
	case SERVICE_OPENRC:
		if (service_tool("rc-update", "add", SERVICE_NAME, "default",
			err, errsz) == -1 ||
		    service_tool("rc-service", SERVICE_NAME, "restart", NULL,
			err, errsz) == -1)
			return -1;
		return 0;
	case SERVICE_DETACHED:
		return service_start_detached(exe, err, errsz);
	}
	snprintf(err, errsz, "unknown service kind");
	return -1;
}

int
service_stop(enum service_kind k, char *err, size_t errsz)
{
	switch (k) {
	case SERVICE_SYSTEMD:
		if (service_tool("systemctl", "disable", "--now",
			SERVICE_NAME ".service", err, errsz) == -1)
			return -1;
		return service_tool(
		    "systemctl", "daemon-reload", NULL, NULL, err, errsz);
	case SERVICE_OPENRC:
		service_tool("rc-service", SERVICE_NAME, "stop", NULL, err,
		    errsz);
		return service_tool("rc-update", "del", SERVICE_NAME,
		    "default", err, errsz);
	case SERVICE_DETACHED:
		return service_stop_detached(err, errsz);
	}
	return 0;
}
