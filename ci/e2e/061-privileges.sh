#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Host enforcement around the daemon: the host group interface appears with
# the bind address and goes away on a clean shutdown (also when the stop
# comes during set-up) and when the daemon is killed, removed by a keeper
# process, so the daemon keeps no capability; the daemon gives up
# root after set-up (to the user slicer-proxy, else nobody; with neither it
# refuses to start), the control socket refuses an unprivileged local user
# and with --group serves members of the group (effective or supplementary),
# --api refuses a file that is not a socket and a socket another daemon
# serves, and a user who may write the socket's directory cannot turn the
# daemon's set-up onto another file,
# SIGTERM drains (an in-flight large download finishes, new connections are
# refused), and with the guest's own rules flushed by "the workload", the
# host-side isolate table still leaves only the proxy.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
BIG_SHA=$(bench_file big 48)

# ---- host group interface (its own daemon on another address) ----
HG_S=$DIR/hg.sock
spawn "$HNS" "$P" up --bind 192.168.223.1 --hostgroup e2e061 --http-port 3138 \
	--api "$HG_S" --state-dir "$DIR/state-hg" >>"$DIR/proxy-hg.log" 2>&1
HG_PID=$SPAWNED_PID
# ready (set-up done, root given up) once it says where it listens
wait_for 10 grep -q 'listening on' "$DIR/proxy-hg.log"
check "hostgroup interface slicer-e2e061 exists" in_host ip link show slicer-e2e061
check "it carries the bind address" bash -c "ip netns exec $HNS ip -o addr show dev slicer-e2e061 | grep -q '192.168.223.1/32'"
check "the daemon listens on it" bash -c "ip netns exec $HNS ss -Hltn 'sport = :3138' | grep -q 192.168.223.1"
check "hostgroup daemon is not root" bash -c "u=\$(ps -o euid= -p $HG_PID | tr -d ' '); echo euid=\$u; [ -n \"\$u\" ] && [ \"\$u\" != 0 ]"
check "hostgroup daemon keeps no capability (CAP_NET_ADMIN neither)" bash -c \
	"grep -E '^Cap(Eff|Prm):' /proc/$HG_PID/status | tee /dev/stderr | grep -c ':.0000000000000000$' | grep -qx 2"
# its keeper: the child that removes the interface once the daemon is gone
HG_K=$(cat /proc/$HG_PID/task/*/children 2>/dev/null | tr -s ' ' '\n' | head -1)
check "a keeper (the daemon's child, slicer-hostgrp) holds nothing but stdio, its pipe and the interface's lock" bash -c \
	"echo pid=$HG_K; [ -n '$HG_K' ] && grep -qx slicer-hostgrp /proc/$HG_K/comm &&
	 f=\$(ls /proc/$HG_K/fd | sort -n | tr '\n' ' ') && echo \"fds: \$f\" &&
	 [ \$(echo \$f | wc -w) = 5 ] && set -- \$f && [ \"\$1 \$2 \$3\" = '0 1 2' ] &&
	 readlink /proc/$HG_K/fd/\$4 /proc/$HG_K/fd/\$5 | sort | tr '\n' ' ' | tee /dev/stderr |
	 grep -qE '^/run/slicer-proxy/hostgroup-[0-9]+-slicer-e2e061.lock pipe:'"
kill -TERM "$HG_PID"
wait_for 10 bash -c "! kill -0 $HG_PID 2>/dev/null"
check "SIGTERM: the daemon exits" bash -c "! kill -0 $HG_PID 2>/dev/null"
check "the interface it created is gone" bash -c "! ip netns exec $HNS ip link show slicer-e2e061 2>/dev/null"
check "  and so is the keeper" bash -c "[ -n '$HG_K' ] && ! kill -0 $HG_K 2>/dev/null"
# a daemon killed outright (SIGKILL, a crash): the keeper still removes it
spawn "$HNS" "$P" up --bind 192.168.227.1 --hostgroup e2e064 --http-port 3141 \
	--api "$DIR/hg5.sock" --state-dir "$DIR/state-hg5" >>"$DIR/proxy-hg5.log" 2>&1
HG5_PID=$SPAWNED_PID
wait_for 10 grep -q 'listening on' "$DIR/proxy-hg5.log"
check "SIGKILL: the interface was there" in_host ip link show slicer-e2e064
kill -KILL "$HG5_PID"
check "  and is gone soon after the daemon" wait_for 5 bash -c "! ip netns exec $HNS ip link show slicer-e2e064 2>/dev/null"
# one owner per host group interface: a second daemon while the first runs
# is refused; after a crash, a daemon started at once waits for the dead
# one's keeper (stopped here, so that it still holds the interface) to
# remove it, then makes its own and keeps it
# hg7_args NAME: a daemon for host group e2e065, its socket, state and log
# NAME's
hg7_args() {
	echo up --bind 192.168.229.1 --hostgroup e2e065 --http-port 3143 \
		--api "$DIR/hg7-$1.sock" --state-dir "$DIR/state-hg7-$1"
}
# shellcheck disable=SC2046 # the arguments are split on purpose
spawn "$HNS" "$P" $(hg7_args a) >>"$DIR/proxy-hg7-a.log" 2>&1
HG7A_PID=$SPAWNED_PID
wait_for 10 grep -q 'listening on' "$DIR/proxy-hg7-a.log"
hg7_second() {
	local rc
	# shellcheck disable=SC2046
	ip netns exec "$HNS" timeout 15 "$P" $(hg7_args b) >>"$DIR/proxy-hg7-b.log" 2>&1; rc=$?
	tail -1 "$DIR/proxy-hg7-b.log"
	[ $rc = 1 ] && grep -q "interface slicer-e2e065 is another slicer-proxy's" "$DIR/proxy-hg7-b.log" &&
		ip netns exec "$HNS" ss -Hltn 'sport = :3143' | grep -q 192.168.229.1
}
check "a second daemon for a host group in use: refused after waiting, the first undisturbed" hg7_second
HG7_K=$(cat /proc/$HG7A_PID/task/*/children 2>/dev/null | tr -s ' ' '\n' | head -1)
check "the first daemon's keeper found" test -n "$HG7_K"
[ -n "$HG7_K" ] && kill -STOP "$HG7_K"
kill -KILL "$HG7A_PID"
# shellcheck disable=SC2046
spawn "$HNS" "$P" $(hg7_args c) >>"$DIR/proxy-hg7-c.log" 2>&1
HG7C_PID=$SPAWNED_PID
check "after a crash, a daemon started at once waits while the old keeper holds the interface" \
	bash -c "sleep 1.5; grep -q 'belongs to another slicer-proxy or its keeper: waiting' '$DIR/proxy-hg7-c.log' &&
		! grep -q 'listening on' '$DIR/proxy-hg7-c.log'"
[ -n "$HG7_K" ] && kill -CONT "$HG7_K"
hg7_serves() {
	wait_for 8 bash -c "grep -q 'listening on' '$DIR/proxy-hg7-c.log' && ! kill -0 $HG7_K 2>/dev/null &&
		ip netns exec $HNS ss -Hltn 'sport = :3143' | grep -q 192.168.229.1" && return 0
	tail -5 "$DIR/proxy-hg7-c.log"
	return 1
}
check "  the old keeper removed it and went; the new daemon made its own and serves" hg7_serves
check "  and keeps it" bash -c "sleep 1; ip netns exec $HNS ip -o addr show dev slicer-e2e065 | grep -q '192.168.229.1/32'"
kill -TERM "$HG7C_PID"
check "  gone when that daemon stops" wait_for 10 bash -c "! ip netns exec $HNS ip link show slicer-e2e065 2>/dev/null"
# a stop that comes during set-up, right after the interface appears: the
# same clean shutdown (the signal waits for the loop), the interface gone
spawn "$HNS" "$P" up --bind 192.168.226.1 --hostgroup e2e063 --http-port 3140 \
	--api "$DIR/hg4.sock" --state-dir "$DIR/state-hg4" >>"$DIR/proxy-hg4.log" 2>&1
HG4_PID=$SPAWNED_PID
for ((i = 0; i < 2000; i++)); do
	ip netns exec "$HNS" ip link show slicer-e2e063 >/dev/null 2>&1 && break
done
kill -TERM "$HG4_PID"
wait_for 10 bash -c "! kill -0 $HG4_PID 2>/dev/null"
check "SIGTERM during set-up: the daemon exits" bash -c "! kill -0 $HG4_PID 2>/dev/null"
check "  and the interface it had created is gone" bash -c \
	"! ip netns exec $HNS ip link show slicer-e2e063 2>/dev/null; s=\$?; tail -3 '$DIR/proxy-hg4.log'; exit \$s"
check "an existing interface is used and left in place" bash -c "
	ip netns exec $HNS ip link add slicer-e2e062 type ifb 2>/dev/null || ip netns exec $HNS ip link add slicer-e2e062 type dummy
	ip netns exec $HNS ip addr add 192.168.224.1/32 dev slicer-e2e062 && ip netns exec $HNS ip link set slicer-e2e062 up
	ip netns exec $HNS '$P' up --bind 192.168.224.1 --hostgroup e2e062 --http-port 3139 --api '$DIR/hg2.sock' --state-dir '$DIR/state-hg2' >>'$DIR/proxy-hg.log' 2>&1 &
	pid=\$!; for i in \$(seq 50); do [ -S '$DIR/hg2.sock' ] && break; sleep 0.1; done
	kill -TERM \$pid; wait \$pid
	ip netns exec $HNS ip link show slicer-e2e062 >/dev/null"
check "  the host groups' lock files are gone with their owners" wait_for 5 bash -c \
	"! ls /run/slicer-proxy/ 2>/dev/null | grep -E -- '-slicer-e2e06[1-4].lock$'"
check "an invalid hostgroup name is refused" bash -c \
	"! ip netns exec $HNS '$P' up --bind 192.168.225.1 --hostgroup 'bad name!' --api '$DIR/hg3.sock' --state-dir '$DIR/state-hg3' 2>&1 | tee /dev/stderr | grep -q 'listening'"
# the host group lock's directory, in a private mount namespace over a
# tmpfs /run (this machine's /run is not touched): one that others may
# write, and one that cannot be made, refuse the start with the cause;
# no interface is made
lockdir_refusal() { # SET_UP_RUN EXPECTED_MESSAGE
	timeout 20 ip netns exec "$HNS" unshare --mount --propagation private sh -c \
		"mount -t tmpfs tmpfs /run && $1 && exec '$P' up --bind 192.168.225.1 --hostgroup e2e066 \
		--http-port 3144 --api '$DIR/hg6.sock' --state-dir '$DIR/state-hg6'" 2>&1 |
		tee /dev/stderr | grep -qF -- "$2" &&
		! ip netns exec "$HNS" ip link show slicer-e2e066 2>/dev/null
}
check "a /run/slicer-proxy that others may write: refused" lockdir_refusal \
	"mkdir -m 0777 /run/slicer-proxy" "/run/slicer-proxy is not a directory of root's that only root may write"
check "a /run where it cannot be made: refused, saying why" lockdir_refusal \
	"mount -o remount,ro /run" "cannot make /run/slicer-proxy for the host group's lock: Read-only file system"

# ---- files under a root-only (0700) directory stay usable after the drop ----
PRIV=$DIR/private
mkdir -m 0700 "$PRIV" && cp "$CA" "$PRIV/upstream-ca.crt"
spawn "$HNS" "$P" up --bind 192.168.222.1 --http-port 3140 --api "$PRIV/s.sock" \
	--state-dir "$PRIV/state" --log "$PRIV/audit.jsonl" --upstream-ca "$PRIV/upstream-ca.crt" \
	>>"$DIR/proxy-priv.log" 2>&1
PRIV_PID=$SPAWNED_PID
wait_for 10 bash -c "curl -q -sf -m 2 --unix-socket '$PRIV/s.sock' http://x/healthz"
check "state dir, --upstream-ca and --log inside a 0700 root directory: the daemon serves" \
	bash -c "curl -q -sf -m 2 --unix-socket '$PRIV/s.sock' http://x/healthz | grep -q ok"
check "and it can write its state there after dropping root" bash -c \
	"'$P' client create p1 --url '$PRIV/s.sock' | grep -q '^spi_' && grep -q '\"p1\"' '$PRIV/state/state.json'"
check "the run-as user was looked up in a child: no NSS module in the daemon" bash -c \
	"grep -c . /proc/$PRIV_PID/maps && ! grep -E 'libnss_' /proc/$PRIV_PID/maps"
kill -TERM "$PRIV_PID"
wait_for 10 bash -c "! kill -0 $PRIV_PID 2>/dev/null"

# ---- --user and --group ----
up_fails() { # TEXT ARGS...: "up" exits 1 at once with TEXT
	local text=$1 out rc
	shift
	out=$(ip netns exec "$HNS" timeout 5 "$P" up --bind 192.168.222.1 --http-port 3142 \
		--api "$DIR/ug.sock" --state-dir "$DIR/state-ug" "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | head -2
	[ $rc -eq 1 ] && printf '%s\n' "$out" | grep -qF -- "$text"
}
check "--user that does not exist: refused by name" up_fails "no such user: 'spx-no-such-user'" --user spx-no-such-user
check "--group that does not exist: refused by name" up_fails "no such group: 'spx-no-such-group'" --group spx-no-such-group
GRP=$(getent group nogroup >/dev/null && echo nogroup || echo daemon)
GRP_GID=$(getent group "$GRP" | cut -d: -f3)
spawn "$HNS" "$P" up --bind 192.168.222.1 --http-port 3142 --api "$DIR/ug.sock" \
	--state-dir "$DIR/state-ug" --user nobody --group "$GRP" >>"$DIR/proxy-ug.log" 2>&1
UG_PID=$SPAWNED_PID
wait_for 10 grep -q 'listening on' "$DIR/proxy-ug.log"
check "--user nobody: the daemon runs as nobody" bash -c \
	"u=\$(ps -o euid= -p $UG_PID | tr -d ' '); echo euid=\$u; [ \"\$u\" = \$(id -u nobody) ]"
check "--group $GRP: the control socket is root:$GRP_GID 0660" expect "0:$GRP_GID 660" stat -c '%u:%g %a' "$DIR/ug.sock"
check "  and no NSS module in the daemon" bash -c "! grep -E 'libnss_' /proc/$UG_PID/maps"
# peers of another user (64998, not the daemon's): a member of the group
# may use the socket whether the group is its effective one or only a
# supplementary one; others cannot connect, and one that gets past the
# socket's mode all the same (CAP_DAC_OVERRIDE) is answered 403
OTHER_GID=64997
as_peer() { setpriv --reuid=64998 "$@"; }
ug_health() { curl -q -sS -m 3 --unix-socket "$DIR/ug.sock" -w '\n%{http_code}\n' http://x/healthz; }
check "--group: a peer whose effective group it is may use the socket" \
	expect_re '"status": "ok"' as_peer --regid="$GRP_GID" --clear-groups curl -q -sS -m 3 \
	--unix-socket "$DIR/ug.sock" http://x/healthz
check "--group: a peer with it only as a supplementary group may use the socket" \
	expect_re '"status": "ok"' as_peer --regid="$OTHER_GID" --groups="$GRP_GID" curl -q -sS -m 3 \
	--unix-socket "$DIR/ug.sock" http://x/healthz
check "  and drive it with the CLI (client create prints a token)" \
	expect_re '^spi_' as_peer --regid="$OTHER_GID" --groups="$GRP_GID" "$P" client create g1 \
	--url "$DIR/ug.sock"
check "--group: a peer outside the group cannot connect" bash -c \
	"! setpriv --reuid=64998 --regid=$OTHER_GID --clear-groups curl -q -sf -m 3 --unix-socket '$DIR/ug.sock' http://x/healthz"
check "--group: a peer outside the group that gets past the mode is answered 403, not cut off" \
	expect_re '"error": "not allowed: uid 64998 is not root, the proxy.s user or a member of group '"$GRP"'".* 403 $' \
	as_peer --regid="$OTHER_GID" --clear-groups --inh-caps=+dac_override --ambient-caps=+dac_override \
	bash -c "$(declare -f ug_health); DIR='$DIR' ug_health | tr '\n' ' '; echo"
# a second daemon given the same --api (on another port) while this one
# runs is refused, and the first keeps its socket and answers
UG_INO=$(stat -c %i "$DIR/ug.sock")
check "a second up with the same --api while one runs: refused" \
	up_fails "cannot listen on $DIR/ug.sock: it is in use by a running daemon" \
	--http-port 3144 --state-dir "$DIR/state-ug2"
check "  and the first keeps its socket and answers" bash -c \
	"[ \"\$(stat -c %i '$DIR/ug.sock')\" = '$UG_INO' ] && curl -q -sf -m 3 --unix-socket '$DIR/ug.sock' http://x/healthz | grep -q ok"
kill -TERM "$UG_PID"
wait_for 10 bash -c "! kill -0 $UG_PID 2>/dev/null"

# ---- what is at the --api path ----
# an ordinary file there is an operator's mistake: refused, left as it was
printf 'precious\n' >"$DIR/precious.txt"
check "--api at a regular file: refused by name" \
	up_fails "cannot listen on $DIR/precious.txt: it exists and is not a socket" \
	--api "$DIR/precious.txt"
check "  and the file is unchanged" expect "regular file 644 precious" \
	bash -c "stat -c '%F %a' '$DIR/precious.txt' | tr '\n' ' '; cat '$DIR/precious.txt'"
# The socket's directory belongs to the run-as user (so that the daemon may
# remove its socket at exit), and that user swaps names in it: a symlink
# to a root-owned file already at the --api path is replaced itself.
RD=$DIR/apidir
mkdir -m 0755 "$RD" && chown nobody "$RD"
printf 'victim\n' >"$DIR/victim" && chmod 0644 "$DIR/victim"
setpriv --reuid=65534 --regid=65534 --clear-groups ln -s "$DIR/victim" "$RD/l.sock"
spawn "$HNS" "$P" up --bind 192.168.222.1 --http-port 3145 --api "$RD/l.sock" \
	--state-dir "$DIR/state-sl" --user nobody --group "$GRP" >>"$DIR/proxy-sl.log" 2>&1
SL_PID=$SPAWNED_PID
wait_for 10 grep -q 'listening on' "$DIR/proxy-sl.log"
check "a symlink to a root file at --api (with --group): the file keeps owner and mode" \
	expect "0:0 644 victim" bash -c "stat -c '%u:%g %a' '$DIR/victim' | tr '\n' ' '; cat '$DIR/victim'"
check "  and the path is the daemon's socket, root:$GRP_GID 0660" \
	expect "socket 0:$GRP_GID 660 ok" bash -c \
	"stat -c '%F %u:%g %a' '$RD/l.sock' | tr '\n' ' '; curl -q -sf -m 3 --unix-socket '$RD/l.sock' http://x/healthz | grep -o ok"
check "  and the daemon warned that the directory's owner could replace the socket" \
	grep -q "belongs to uid $(id -u nobody), who could replace the control socket" "$DIR/proxy-sl.log"
kill -TERM "$SL_PID"
wait_for 10 bash -c "! kill -0 $SL_PID 2>/dev/null"
# The same user racing the daemon: each of the daemon's chmod, chown and
# rename calls is held 300 ms (strace), and meanwhile every socket that
# shows up in the directory is moved away and replaced by a symlink to the
# victim.  Whether the daemon starts or refuses, the victim is unchanged.
if command -v strace >/dev/null; then
	cat >"$DIR/swapper.py" <<'PYEOF'
import os, stat, sys, time
d, victim = sys.argv[1], sys.argv[2]
end, n = time.monotonic() + 20, 0
while time.monotonic() < end:
    for e in os.scandir(d):
        try:
            if stat.S_ISSOCK(os.lstat(e.path).st_mode) and not e.name.startswith("moved"):
                os.rename(e.path, os.path.join(d, "moved%d" % n))
                os.symlink(victim, e.path)
                n += 1
                print("swapped", e.name, flush=True)
        except OSError:
            pass
    time.sleep(0.001)
PYEOF
	rm -f "$RD/l.sock"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" "$DIR/swapper.py" "$RD" "$DIR/victim" \
		>"$DIR/swapper.log" 2>&1 &
	SW_PID=$!
	SPX_PIDS+=("$SW_PID")
	SC='chmod,fchmodat,chown,lchown,fchownat,rename,renameat,renameat2'
	spawn "$HNS" strace -f -qq -o /dev/null -e trace="$SC" -e inject="$SC":delay_enter=300000 \
		"$P" up --bind 192.168.222.1 --http-port 3146 --api "$RD/r.sock" \
		--state-dir "$DIR/state-race" --user nobody --group "$GRP" >>"$DIR/proxy-race.log" 2>&1
	RACE_PID=$SPAWNED_PID
	wait_for 20 bash -c "grep -q -e 'listening on' -e 'cannot listen' '$DIR/proxy-race.log' || ! kill -0 $RACE_PID"
	check "a user of the socket's directory racing the daemon's set-up: the victim keeps owner and mode" \
		expect "0:0 644 victim" bash -c "stat -c '%u:%g %a' '$DIR/victim' | tr '\n' ' '; cat '$DIR/victim'"
	check "  (the swapper did replace sockets in the directory)" bash -c \
		"tail -2 '$DIR/proxy-race.log'; grep -q swapped '$DIR/swapper.log'"
	# the daemon under strace: stop it (a child of strace) by its PID
	RD_PID=$(pgrep -P "$RACE_PID" | head -1)
	[ -n "$RD_PID" ] && kill -TERM "$RD_PID"
	wait_for 10 bash -c "! kill -0 $RACE_PID 2>/dev/null"
	kill "$SW_PID" 2>/dev/null
	wait "$SW_PID" 2>/dev/null
else
	echo "skip: no strace for the race check"
fi

# ---- the default user: slicer-proxy, else nobody, else refuse ----
# Each run sees its own /etc/passwd and /etc/nsswitch.conf ("files" only:
# systemd's module would make up a nobody), bind-mounted in a private mount
# namespace; the machine's files are never touched.
grep -vE '^(slicer-proxy|nobody):' /etc/passwd >"$DIR/passwd-none"
{ cat "$DIR/passwd-none"; echo 'slicer-proxy:x:64999:64999::/nonexistent:/usr/sbin/nologin'; } >"$DIR/passwd-spx"
printf 'passwd: files\ngroup: files\nshadow: files\n' >"$DIR/nsswitch-files"
up_as() { # PASSWD ARGS...: "up" with that passwd file, bounded; its output
	local pw=$1
	shift
	unshare -m bash -c 'mount --bind "$1" /etc/passwd && mount --bind "$2" /etc/nsswitch.conf && shift 2 && exec "$@"' \
		_ "$pw" "$DIR/nsswitch-files" ip netns exec "$HNS" timeout 5 "$P" up --bind 192.168.222.1 \
		--http-port 3143 --api "$DIR/du.sock" --state-dir "$DIR/state-du" "$@" 2>&1
}
check "neither slicer-proxy nor nobody exists: refused, saying what to do" bash -c "
	out=\$($(declare -f up_as); DIR='$DIR' HNS='$HNS' P='$P'; up_as '$DIR/passwd-none'); rc=\$?
	printf '%s\n' \"\$out\" | head -2
	[ \$rc -eq 1 ] && printf '%s\n' \"\$out\" | grep -qF 'no user to run as (create a system user slicer-proxy, or pass --user)' &&
	! printf '%s\n' \"\$out\" | grep -q 'listening on'"
check "  and nothing was left listening" bash -c "! ip netns exec $HNS ss -Hltn 'sport = :3143' | grep -q LISTEN"
# euid_as PASSWD LOG: start "up" with that passwd file (output to LOG) and
# print the euid it runs as, then stop it
euid_as() {
	local i pid
	up_as "$1" >"$2" &
	for i in $(seq 50); do grep -qs 'listening on' "$2" && break; sleep 0.1; done
	pid=$(ip netns exec "$HNS" ss -Hltnp 'sport = :3143' | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
	ps -o euid= -p "$pid" | tr -d ' '
	kill -TERM "$pid"
	wait
}
check "a system user slicer-proxy exists: the daemon runs as it" \
	expect 64999 euid_as "$DIR/passwd-spx" "$DIR/proxy-du.log"
check "  and says nothing of running as nobody" bash -c "! grep -q \"running as 'nobody'\" '$DIR/proxy-du.log'"
{ cat "$DIR/passwd-none"; grep '^nobody:' /etc/passwd; } >"$DIR/passwd-nobody"
rm -rf "$DIR/state-du" "$DIR/du.sock"
check "only nobody exists: the daemon runs as nobody" \
	expect "$(id -u nobody)" euid_as "$DIR/passwd-nobody" "$DIR/proxy-dn.log"
check "  warning that other processes of nobody can read its state" grep -qF \
	"running as 'nobody' (no user slicer-proxy): any other process of that user can read the state directory" \
	"$DIR/proxy-dn.log"

# ---- started by an unprivileged user (nothing to drop): still no core
# file, and its memory closed to that user (not dumpable) ----
chmod 0711 "$DIR"
NOB=$DIR/nobody
mkdir -m 0700 "$NOB" && chown 65534:65534 "$NOB"
spawn "$HNS" setpriv --reuid=65534 --regid=65534 --clear-groups "$P" up --bind 192.168.222.1 \
	--http-port 3141 --api "$NOB/s.sock" --state-dir "$NOB/state" >>"$DIR/proxy-nobody.log" 2>&1
NOB_PID=$SPAWNED_PID
wait_for 10 test -S "$NOB/s.sock"
check "a daemon started unprivileged: core file size limit 0, soft and hard" \
	grep -qE '^Max core file size +0 +0 ' "/proc/$NOB_PID/limits"
check "  and its /proc/PID/mem and environ belong to root, not to its user" \
	expect "0 0" bash -c "stat -c %u /proc/$NOB_PID/mem /proc/$NOB_PID/environ | tr '\n' ' ' | sed 's/ \$//'"
# memread.py PID: one byte of PID's first mapping, through /proc/PID/mem
cat >"$NOB/memread.py" <<'EOF'
import sys
pid = sys.argv[1]
start = int(open("/proc/%s/maps" % pid).readline().split("-")[0], 16)
with open("/proc/%s/mem" % pid, "rb") as f:
    f.seek(start)
    print(len(f.read(1)))
EOF
chmod 0755 "$NOB"
check "  and that user cannot read its memory (root can)" bash -c \
	"'$PY' '$NOB/memread.py' $NOB_PID | grep -qx 1 &&
	 ! setpriv --reuid=65534 --regid=65534 --clear-groups '$PY' '$NOB/memread.py' $NOB_PID"
kill -TERM "$NOB_PID"
wait_for 10 bash -c "! kill -0 $NOB_PID 2>/dev/null"
chmod 0700 "$DIR"

check "invalid --http-port / --https-port are refused by name" bash -c \
	"'$P' up --bind 127.0.0.1 --http-port 0 2>&1 | grep -q \"invalid port: '0'\" &&
	 '$P' up --bind 127.0.0.1 --https-port 70000 2>&1 | grep -q \"invalid port: '70000'\""

# ---- the main daemon ----
check "daemon starts" start_proxy --drain-timeout 20s
[ -n "$PROXY_PID" ] || bench_finish
check "effective uid after start is not 0" bash -c "u=\$(ps -o euid= -p $PROXY_PID | tr -d ' '); echo euid=\$u; [ \"\$u\" != 0 ]"
check "no capability left (no interface to remove)" bash -c \
	"grep -E '^CapEff:' /proc/$PROXY_PID/status | tee /dev/stderr | grep -q '0000000000000000'"
check "no_new_privs is set" bash -c "grep -qE '^NoNewPrivs:[[:space:]]+1' /proc/$PROXY_PID/status"
check "not dumpable after the drop: its /proc/PID/mem belongs to root, no core file" bash -c \
	"[ \$(stat -c %u /proc/$PROXY_PID/mem) = 0 ] && grep -qE '^Max core file size +0 +0 ' /proc/$PROXY_PID/limits"
check "the state directory belongs to the daemon's user, mode 0700" bash -c \
	"u=\$(ps -o euid= -p $PROXY_PID | tr -d ' '); [ \$(stat -c %u '$DIR/state') = \$u ] && [ \$(stat -c %a '$DIR/state') = 700 ]"
check "control socket is root-owned 0600" expect "0 600" stat -c '%u %a' "$S"
check "an unprivileged local user cannot use the control socket" bash -c \
	"! setpriv --reuid=65534 --regid=65534 --clear-groups curl -q -sf -m 3 --unix-socket '$S' http://x/healthz"
check "root can" bash -c "curl -q -sf -m 3 --unix-socket '$S' http://x/healthz | grep -q ok"
TOKEN=$(new_client vm1)
cli allow vm1 --host api.bench.test >/dev/null

# ---- as root, the daemon takes over only what it could have made itself ----
# up_owned TEXT ARGS...: "up --user nobody" exits 1 at once with TEXT
up_owned() {
	local text=$1 out rc
	shift
	out=$(ip netns exec "$HNS" timeout 5 "$P" up --bind 192.168.222.1 --http-port 3143 \
		--api "$DIR/own.sock" --user nobody "$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | head -2
	[ $rc -eq 1 ] && printf '%s\n' "$out" | grep -qF -- "$text"
}
export -f up_owned
mkdir -m 0755 "$DIR/state-open"
check "a state dir open to others: refused before it changes hands" bash -c \
	"up_owned 'mode 0755 has group/world permission bits' --state-dir '$DIR/state-open' &&
	[ \"\$(stat -c %u '$DIR/state-open')\" = 0 ]"
mkdir -m 0700 "$DIR/state-hl" "$DIR/state-hl/secrets"
echo root-only >"$DIR/victim" && chmod 600 "$DIR/victim"
ln "$DIR/victim" "$DIR/state-hl/secrets/zz"
check "a hard link in secrets/ (to a file elsewhere): refused, that file still root's" bash -c \
	"up_owned 'secrets/zz: a file with more than one link' --state-dir '$DIR/state-hl' &&
	[ \"\$(stat -c %u:%a '$DIR/victim')\" = 0:600 ]"
rm -f "$DIR/state-hl/secrets/zz"
mkdir -m 0700 -p "$DIR/state-lg"
: >"$DIR/other.log" && chown 12345 "$DIR/other.log" && chmod 666 "$DIR/other.log"
check "an audit log another user made (0666): refused, left as it was" bash -c \
	"up_owned 'owned by another user' --state-dir '$DIR/state-lg' --log '$DIR/other.log' &&
	[ \"\$(stat -c %u:%a '$DIR/other.log')\" = 12345:666 ]"
mkfifo "$DIR/fifo.log"
check "a FIFO at --log: refused at once, no hang" \
	up_owned "cannot open audit log $DIR/fifo.log" --state-dir "$DIR/state-lg" --log "$DIR/fifo.log"
: >"$DIR/prev.log" && chown 65534 "$DIR/prev.log" && chmod 644 "$DIR/prev.log"
# started with a root-only file open on descriptor 7, as a careless
# starter might leave one: it is not kept past the start
spawn "$HNS" "$P" up --bind 192.168.222.1 --http-port 3143 --api "$DIR/own.sock" --user nobody \
	--state-dir "$DIR/state-lg" --log "$DIR/prev.log" >>"$DIR/proxy-own.log" 2>&1 7<"$DIR/victim"
OWN_PID=$SPAWNED_PID
wait_for 10 grep -q 'listening on' "$DIR/proxy-own.log"
check "the log of an earlier run (its user's, 0644) is taken, and made 0600" \
	expect "65534:600" stat -c %u:%a "$DIR/prev.log"
check "a descriptor the starter left open is closed in the daemon" bash -c \
	"ls -l /proc/$OWN_PID/fd | tee '$DIR/own-fds.txt' | grep -q prev.log && ! grep -q victim '$DIR/own-fds.txt'"
kill -TERM "$OWN_PID"
wait_for 10 bash -c "! kill -0 $OWN_PID 2>/dev/null"

# ---- the workload flushes the guest's rules: the host table still holds ----
check "isolate the vm's veth" bash -c "ip netns exec $HNS '$P' isolate --iface \$(ip netns exec $HNS ip -o link show | awk -F': ' '/h-vm/{print \$2}' | cut -d@ -f1 | head -1) --proxy 192.168.222.1"
in_vm nft flush ruleset 2>/dev/null
check "after the workload's nft flush, a direct connection still fails fast" bash -c \
	"s=\$(date +%s%N); ! ip netns exec $VNS curl -q -s -o /dev/null -m 3 http://198.18.0.10/; e=\$(( (\$(date +%s%N)-s)/1000000 )); echo \$e ms; [ \$e -lt 1500 ]"
check "the proxy path still works" expect_re '"server": ?"198.18.0.10"' pcurl "$TOKEN" https://api.bench.test/x

# ---- SIGTERM drains ----
in_vm curl -q -sS -m 60 --cacert "$CA" -x "http://proxy:$TOKEN@$PROXY_ADDR" --limit-rate 8M \
	-o "$DIR/drain.out" https://api.bench.test/file/big 2>"$DIR/drain.err" &
DL=$!
SPX_PIDS+=("$DL")
wait_for 10 bash -c "[ -s '$DIR/drain.out' ]"
kill -TERM "$PROXY_PID"
wait_for 5 bash -c "! ip netns exec $HNS ss -Hltn 'sport = :3128' | grep -q LISTEN"
check "while draining: the listener is closed (new connections refused)" bash -c \
	"! ip netns exec $VNS bash -c 'exec 3<>/dev/tcp/192.168.222.1/3128' 2>/dev/null"
wait "$DL"
check "the in-flight 48 MiB download finished intact" expect "$BIG_SHA" bash -c "sha256sum '$DIR/drain.out' | cut -d' ' -f1"
wait_for 10 bash -c "! kill -0 $PROXY_PID 2>/dev/null"
check "then the daemon exited" bash -c "! kill -0 $PROXY_PID 2>/dev/null"
check "the drain was logged" grep -q 'draining' "$DIR/proxy.log"
PROXY_PID=
ip netns exec "$HNS" "$P" isolate --remove >/dev/null 2>&1
bench_finish
