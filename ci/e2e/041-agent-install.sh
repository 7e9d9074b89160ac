#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `slicer-agent proxy install | status | uninstall` in the bench's vm
# namespace, inside a private mount namespace whose /etc, /usr, /var, /opt
# and /root are overlays (and /run a tmpfs): this machine's own files,
# trust store and ruleset are never touched.  Checks: every bad input fails
# with a clear message and changes nothing (bad or missing URL, token
# rejected, proxy unreachable, CA hash mismatch, a conflicting table, a
# read-only trust store and a daemon that cannot start - the last two fail
# part-way and must roll back); install works, twice gives the same state,
# status is healthy with counts; the daemon's scheduling policy (batch,
# normal, and refused by the kernel); a killed daemon leaves the rules (fail
# closed); a flushed ruleset is put back; uninstall restores /etc, /usr and
# the ruleset byte for byte, and a second uninstall is a no-op.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
case $BUILD in /*) A=$BUILD/slicer-agent ;; *) A=$SPX_ROOT/$BUILD/slicer-agent ;; esac
[ -x "$A" ] || { echo "no $A (make first)"; echo "0 passed, 1 failed"; exit 1; }
check "proxy starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
cli allow vm1 --host api.bench.test >/dev/null
cli allow vm1 --host plain.bench.test --port 80 >/dev/null
URL="http://proxy:$T@$PROXY_ADDR"

# ---- the guest: a process holding a private mount namespace in the vm
if ! guest_up; then
	echo "FAIL could not build the private guest file system: stopping before any install"
	rm -f /etc/.spx-guest-marker 2>/dev/null
	echo "0 passed, 1 failed"
	exit 1
fi
export -f in_guest
export GPID A URL T G

# state snapshots: the files install may touch, and the ruleset; files of
# 4 MiB or more (none the agent writes: a toolkit someone put in
# /usr/local, say) by size, time and inode instead of their bytes
snap() {
	in_guest bash -c 'cd / && find etc usr/local var/lib/slicer-agent -path etc/netns -prune -o \
		-type f -size -4096k -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum 2>/dev/null; \
		find etc usr/local var/lib/slicer-agent -path etc/netns -prune -o \
		-type f -size +4095k -printf "%p %s %T@ %i\n" 2>/dev/null | sort; \
		find etc usr/local -type l -printf "%p -> %l\n" 2>/dev/null | sort; \
		find etc usr/local var/lib/slicer-agent -path etc/netns -prune -o -printf "%p %m\n" 2>/dev/null | sort'
	in_guest nft list ruleset
}
snap >"$G/before" 2>&1
same_as_before() { snap >"$G/now" 2>&1; diff "$G/before" "$G/now" | head -20; cmp -s "$G/before" "$G/now"; }
export -f snap same_as_before

# fails_with TEXT CMD...: non-zero exit and TEXT in the output
fails_with() {
	local text=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	echo "rc=$rc: $out"
	[ $rc -ne 0 ] && printf '%s\n' "$out" | grep -qF -- "$text"
}
export -f fails_with

# ---- bad input: a clear message, a non-zero exit, nothing changed
check "no proxy URL: refused" fails_with "no proxy URL" in_guest "$A" proxy install
check "a proxy host name (not an IP) is refused" fails_with "must be an IP address" \
	in_guest "$A" proxy install --proxy "http://proxy:$T@proxy.bench.test:3128"
check "a URL without a token is refused" fails_with "no token" \
	in_guest "$A" proxy install --proxy "http://$PROXY_ADDR"
check "a rejected token is refused (407)" fails_with "rejected the token" \
	in_guest env HTTPS_PROXY="http://proxy:spi_wrong@$PROXY_ADDR" "$A" proxy install
check "an unreachable proxy is refused" fails_with "cannot reach the proxy" \
	in_guest "$A" proxy install --proxy "http://proxy:$T@192.168.222.1:3999"
check "a CA hash mismatch is refused" fails_with "does not match --ca-sha256" \
	in_guest "$A" proxy install --proxy "$URL" --ca-sha256 "$(printf '%064d' 0)"
check "a bad --ca-sha256 is refused" fails_with "invalid --ca-sha256" \
	in_guest "$A" proxy install --proxy "$URL" --ca-sha256 xyz
in_guest nft add table inet slicer_agent '{ comment "someone else" ; }'
check "a table of the same name that is not ours is refused" fails_with "not ours" \
	in_guest "$A" proxy install --proxy "$URL"
in_guest nft delete table inet slicer_agent
check "a bad --sched is refused" fails_with "invalid --sched: 'fifo'" \
	in_guest "$A" proxy install --proxy "$URL" --sched fifo
# misuse with the URL in the wrong place: refused without echoing the token
never_echoes_token() { # TEXT ARGS...
	local text=$1 out
	shift
	out=$(in_guest "$A" proxy install "$@" 2>&1) && return 1
	printf '%s\n' "$out" | head -1
	printf '%s\n' "$out" | grep -qF -- "$text" && ! printf '%s\n' "$out" | grep -qF -- "$T"
}
export -f never_echoes_token
check "an unknown --option=URL is named without its value (no token echoed)" \
	never_echoes_token "unknown option: '--proxyurl'" "--proxyurl=$URL"
check "the URL given as an argument is refused without quoting it" \
	never_echoes_token "unexpected argument (the proxy URL goes in --proxy URL" "$URL"
check "after all those: nothing changed" same_as_before

# part-way failures roll back
in_guest mount --bind -o ro /usr/local/share/ca-certificates /usr/local/share/ca-certificates 2>/dev/null ||
	{ in_guest mkdir -p /usr/local/share/ca-certificates && snap >"$G/before" 2>&1 &&
		in_guest mount --bind -o ro /usr/local/share/ca-certificates /usr/local/share/ca-certificates; }
check "a read-only trust store: refused, rolled back" fails_with "rolled back" \
	in_guest "$A" proxy install --proxy "$URL"
in_guest umount /usr/local/share/ca-certificates
check "after the trust store failure: nothing changed" same_as_before
spawn "$VNS" "$PY" -c 'import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 15001)); s.listen(1); time.sleep(60)'
BLOCKER=$SPAWNED_PID
wait_for 5 bash -c "ip netns exec $VNS ss -Hltn 'sport = :15001' | grep -q LISTEN"
check "a daemon that cannot start: refused with its reason" fails_with "cannot listen on 0.0.0.0:15001" \
	in_guest "$A" proxy install --proxy "$URL"
kill "$BLOCKER" 2>/dev/null
wait_for 5 bash -c "! ip netns exec $VNS ss -Hltn 'sport = :15001' | grep -q LISTEN"
check "after the daemon failure: no table, files as before" same_as_before

# ---- install
check "install succeeds (URL from HTTPS_PROXY)" bash -c \
	"in_guest env HTTPS_PROXY='$URL' '$A' proxy install >'$G/install1.out' 2>&1; rc=\$?; cat '$G/install1.out'; exit \$rc"
check "install says what it did" expect_re 'token accepted \(client vm1\)' cat "$G/install1.out"
check "the table is there" in_guest nft list table inet slicer_agent
check "config is 0600 and holds the URL" bash -c \
	"[ \$(in_guest stat -c %a /etc/slicer-agent/agent.conf) = 600 ] && in_guest grep -qF 'proxy=$URL' /etc/slicer-agent/agent.conf"
check "the CA is in the system bundle" bash -c \
	"in_guest openssl verify -CAfile /etc/ssl/certs/ca-certificates.crt /etc/slicer-agent/ca.pem"
check "/etc/environment names the CA for Node and Python" bash -c \
	"in_guest grep -q '^NODE_EXTRA_CA_CERTS=/etc/slicer-agent/ca.pem' /etc/environment && in_guest grep -q '^REQUESTS_CA_BUNDLE=' /etc/environment"
check "profile.d script exports them" in_guest grep -q 'export SSL_CERT_FILE=' /etc/profile.d/slicer-agent.sh
check "a manifest was written" in_guest grep -q '^table inet' /var/lib/slicer-agent/manifest
check "transparent HTTP works" expect_re '"path": "/after-install"' \
	in_guest curl -sS -m 10 --resolve plain.bench.test:80:198.18.0.10 http://plain.bench.test/after-install
check "status: healthy, exit 0, with counts" bash -c \
	"out=\$(in_guest '$A' proxy status); rc=\$?; echo \"\$out\"; [ \$rc = 0 ] && echo \"\$out\" | grep -q 'tunnels=1' && echo \"\$out\" | grep -q 'proxy: .*ok (client vm1)'"
check "README explains every count status shows" bash -c '
	keys=$(in_guest "$A" proxy status | sed -n "s/^counts: *//p" | tr " " "\n" | cut -d= -f1)
	echo $keys; [ -n "$keys" ] || exit 1
	for k in $keys; do grep -q "\`$k\`" "$SPX_ROOT/README.md" || { echo "not in README: $k"; exit 1; }; done'
# the kernel's word on the daemon's policy, and status's
sched_is() { # POLICY NAME
	local pid out
	pid=$(in_guest cat /run/slicer-agent/agent.pid) || return 1
	out=$(chrt -p "$pid"; in_guest "$A" proxy status | grep '^daemon:')
	echo "$out"
	echo "$out" | grep -q "scheduling policy: $1\$" &&
		echo "$out" | grep -qx "daemon: *running (pid $pid, sched $2)"
}
export -f sched_is
check "the daemon runs SCHED_BATCH by default, and status says so" sched_is SCHED_BATCH batch
check "the config names it" in_guest grep -qx 'sched=batch' /etc/slicer-agent/agent.conf
snap >"$G/installed1" 2>&1
in_guest cp /var/lib/slicer-agent/manifest "$G/manifest1"
check "install twice succeeds" in_guest "$A" proxy install --proxy "$URL"
snap >"$G/installed2" 2>&1
check "install twice leaves the same state (files, manifest, table)" bash -c \
	"diff '$G/installed1' '$G/installed2' | head; cmp -s '$G/installed1' '$G/installed2' && in_guest cmp /var/lib/slicer-agent/manifest '$G/manifest1'"

# ---- fail closed, and the table comes back
DPID=$(in_guest cat /run/slicer-agent/agent.pid)
check "the daemon flushed away: the table is put back" bash -c \
	"in_guest nft flush ruleset; for i in \$(seq 50); do in_guest nft list table inet slicer_agent >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1"
check "after the flush, traffic is captured again" expect_re '"path": "/after-flush"' \
	in_guest curl -sS -m 10 --resolve plain.bench.test:80:198.18.0.10 http://plain.bench.test/after-flush
in_guest kill -9 "$DPID"
wait_for 5 bash -c "! kill -0 $DPID 2>/dev/null"
check "daemon killed: the table stays" in_guest nft list table inet slicer_agent
check "daemon killed: connections are refused at once (fail closed)" bash -c \
	"t0=\$(date +%s%N); in_guest curl -sS -m 5 --resolve plain.bench.test:80:198.18.0.10 http://plain.bench.test/x; rc=\$?; t=\$(( (\$(date +%s%N) - t0) / 1000000 )); echo rc=\$rc ms=\$t; [ \$rc = 7 ] && [ \$t -lt 2000 ]"
check "status says the daemon is down (exit 1)" bash -c "in_guest '$A' proxy status; [ \$? = 1 ]"
check "install again (--sched normal) restarts it" in_guest "$A" proxy install --proxy "$URL" --sched normal
check "status healthy again" in_guest "$A" proxy status
check "--sched normal: SCHED_OTHER, in status and the config" bash -c \
	"sched_is SCHED_OTHER normal && in_guest grep -qx 'sched=normal' /etc/slicer-agent/agent.conf"
check "traffic is captured with it" expect_re '"path": "/normal"' \
	in_guest curl -sS -m 10 --resolve plain.bench.test:80:198.18.0.10 http://plain.bench.test/normal

# the kernel refuses the policy (a seccomp filter the daemon inherits from
# install): the daemon warns, runs on as it was, and status says so
check "install with the policy refused by the kernel succeeds" \
	in_guest "$PY" "$SPX_ROOT/ci/deny_syscall.py" sched_setscheduler -- "$A" proxy install --proxy "$URL" --sched batch
check "refused: the daemon keeps SCHED_OTHER, status says 'sched unchanged'" sched_is SCHED_OTHER unchanged
check "refused: the log says what could not be set, and why" \
	in_guest grep -q 'cannot set the scheduling policy to batch: Operation not permitted' /run/slicer-agent/agent.log
check "refused: traffic is captured all the same" expect_re '"path": "/sched-refused"' \
	in_guest curl -sS -m 10 --resolve plain.bench.test:80:198.18.0.10 http://plain.bench.test/sched-refused

# ---- uninstall
check "uninstall succeeds" in_guest "$A" proxy uninstall
check "uninstall removed the table" bash -c "! in_guest nft list table inet slicer_agent"
check "uninstall restored /etc, /usr/local, /var/lib and the ruleset byte for byte" same_as_before
check "no daemon left" bash -c "! in_guest test -e /run/slicer-agent/agent.pid && ! ps -o args= -p \"\$(ip netns pids $VNS | paste -sd,)\" | grep -q 'proxy run'"
check "uninstall twice is a no-op" expect_re 'nothing to do' in_guest "$A" proxy uninstall
check "after the second uninstall: still as before" same_as_before
check "status after uninstall: not healthy (exit 1)" bash -c "in_guest '$A' proxy status; [ \$? = 1 ]"
bench_finish
