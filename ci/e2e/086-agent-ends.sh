#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every order in which a transparently captured TCP connection can end,
# through slicer-agent (nftables redirect, splice relay) and slicer-proxy
# (a plain CONNECT tunnel, allowed by address).  The guest runs in the
# bench's vm namespace inside a private mount namespace (as in 042); the
# client just connects to the upstream's address, and the upstream is
# ci/agent_ends_peer.py, which runs the other half of each case.  Cases
# (the steps are in agent_ends_peer.py):
#   a  the client half-closes first, the upstream keeps sending (a reader
#      that is fast, and one that stops reading for a while: with 1 MiB the
#      bytes pile up in the agent, with 8 MiB in the proxy)
#   b  the upstream half-closes first, the client keeps sending (same two,
#      the bytes piling up in the proxy)
#   c  both at once, with data and without
#   d  the client resets: mid-stream, after its own FIN with the upstream
#      silent, while idle, after streaming at an upstream that stopped
#      reading
#   e  the upstream resets: mid-stream, after its own FIN with the client
#      silent (whose later writes must fail), at once, after streaming at a
#      client that stopped reading
#   f  the client closes with unread bytes while the upstream sends a lot,
#      also after its own FIN
#   g  the proxy goes away (SIGTERM with a 1 s drain; SIGKILL) while a
#      relay is open: the client sees the end within a few seconds
# and eight of them at once.  All of it twice: with the agent's link to
# the proxy plain (spliced), then over the proxy's TLS port (https://, CA
# pinned; an end goes on as close_notify, then FIN, a reset as a reset of
# the TLS connection) when the agent was built with mbed TLS.  A reset must
# reach a side that only reads as a reset over either link (d3, e3; a side
# still writing may meet it on a write instead).  For each: every byte sent
# in a direction that stays open arrives, in order, nothing added (each
# receiver compares every byte with the sender's stream; a reset direction
# may lose its tail but never gain or change a byte); each side sees the
# end it should, in time; the agent's and the proxy's sockets for it are
# gone within 5 s (nothing left but TIME-WAIT); then both use almost no
# CPU for 2 s, and the agent's open files are back to what they were (its
# pool of empty splice pipes aside).  Where one side holds a connection
# open or stops reading, the agent and the proxy must be idle meanwhile too
# (a relay that waits on a peer must not spin), and an agent whose client
# reset must have closed its sockets.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
case $BUILD in /*) A=$BUILD/slicer-agent ;; *) A=$SPX_ROOT/$BUILD/slicer-agent ;; esac
[ -x "$A" ] || { echo "no $A (make first)"; echo "0 passed, 1 failed"; exit 1; }
PORT=9486
UP=198.18.0.10
PEER=$SPX_CI/agent_ends_peer.py
M=$DIR/marks
mkdir -p "$M"
HZ=$(getconf CLK_TCK)

spawn "$NNS" "$PY" "$PEER" serve --addr $UP --port $PORT --log "$DIR/peer.log" \
	--dir "$M" --ready "$DIR/peer.ready" 2>>"$DIR/peer.err"
check "upstream peer is up" wait_for 10 test -s "$DIR/peer.ready"
PROXY_ARGS=(--drain-timeout 1s --https-port 3129)
check "proxy starts" start_proxy "${PROXY_ARGS[@]}"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
cli allow vm1 --host $UP --port $PORT >/dev/null
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA"

# a sanitized agent gets the sanitizer options of this run
GUEST_ENV=
for v in ASAN_OPTIONS UBSAN_OPTIONS; do
	[ -n "${!v:-}" ] && GUEST_ENV="$GUEST_ENV $v=${!v}"
done
if ! guest_up; then
	echo "FAIL could not build the private guest file system: stopping before any install"
	echo "0 passed, 1 failed"
	exit 1
fi

# agent_up ARGS...: install with ARGS; the daemon's PID (APID) and the
# redirector's port (RPORT: its listener that is not DNS); 1 on failure
agent_up() {
	APID=
	in_guest "$A" proxy install "$@" || return 1
	APID=$(in_guest cat /run/slicer-agent/agent.pid 2>/dev/null)
	if [ -z "$APID" ] || [ ! -e "/proc/$APID" ]; then
		echo "no daemon (pid '$APID')"
		APID=
		return 1
	fi
	RPORT=$(ip netns exec "$VNS" ss -Hltnp | grep "pid=$APID," | awk '{ print $4 }' |
		sed 's/.*://' | grep -vx 53 | sort -u | head -1)
	RPORT=${RPORT:-15001}
	echo "agent pid $APID, redirector port $RPORT"
}

# ---- measurements

# relay_sockets: the agent's (vm) and the proxy's (host) TCP sockets of
# relays, in any state but LISTEN and TIME-WAIT, with their owners
relay_sockets() {
	ip netns exec "$VNS" ss -Htanp "( sport = :$RPORT or dport = :$PROXY_PORT or dport = :3129 )" |
		grep -vE '^(LISTEN|TIME-WAIT) ' | sed 's/^/vm   /'
	in_host ss -Htanp "( sport = :$PROXY_PORT or sport = :3129 or dport = :$PORT )" |
		grep -vE '^(LISTEN|TIME-WAIT) ' | sed 's/^/host /'
}
relays_gone() { [ -z "$(relay_sockets)" ]; }
# sockets_gone: within 5 s no relay socket is left
sockets_gone() {
	wait_for 5 relays_gone && return 0
	echo "left after 5 s:"
	relay_sockets
	return 1
}
# agent_relay_fds: the agent's own TCP sockets of relays (any state)
agent_relay_fds() {
	ip netns exec "$VNS" ss -Htanp "( sport = :$RPORT or dport = :$PROXY_PORT or dport = :3129 )" |
		grep -v '^LISTEN ' | grep "pid=$APID,"
}
agent_free() { ! agent_relay_fds | grep -q .; }
agent_closed() {
	wait_for 5 agent_free && return 0
	echo "the agent still holds:"
	agent_relay_fds
	return 1
}
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# idle: the agent and the proxy (when it runs) use at most 10% of a core
# for 2 s
idle() {
	local a0 a1 p0 p1 rc=0 lim=$((HZ / 5)) pp=$PROXY_PID
	a0=$(ticks "$APID")
	[ -n "$pp" ] && p0=$(ticks "$pp")
	sleep 2
	a1=$(ticks "$APID")
	echo "agent: $((a1 - a0)) clock ticks in 2 s (a busy core: $((2 * HZ)))"
	[ $((a1 - a0)) -le $lim ] || rc=1
	if [ -n "$pp" ]; then
		p1=$(ticks "$pp")
		echo "proxy: $((p1 - p0)) clock ticks in 2 s"
		[ $((p1 - p0)) -le $lim ] || rc=1
	fi
	[ $rc = 0 ] || relay_sockets
	return $rc
}
# agent_fds: "OTHER PIPES": the agent's open files that are not pipes,
# and its pipe ends
agent_fds() {
	find "/proc/$APID/fd" -mindepth 1 -printf '%l\n' 2>/dev/null |
		awk '{ if ($0 ~ /^pipe:/) p++; else o++ } END { print o + 0, p + 0 }'
}
# fds_back: within 3 s the agent's open files other than pipes are what
# they were before any case, and the pipes it added are at most its pool
# of empty splice pipes (LIMIT_PIPE_POOL, 64: 128 ends)
fds_are_back() {
	local now=$1 p
	p=$((${now#* } - FDP0))
	[ "${now% *}" = "$FD0" ] && [ $p -ge 0 ] && [ $p -le 128 ]
}
fds_back() {
	local now
	for _ in $(seq 30); do
		now=$(agent_fds)
		fds_are_back "$now" && break
		sleep 0.1
	done
	echo "agent's open files: $now (other, pipe ends); before any case: $FD0 $FDP0"
	fds_are_back "$now"
}

quiet() { relays_gone && idle; }

# ---- running a case
SEQ=0

# client CASE ID: the case's client in the guest, its record in $DIR/c-ID.json
client() {
	in_guest timeout -k 3 45 python3 "$PEER" run --case "$1" --id "$2" --addr $UP \
		--port $PORT --dir "$M" --watch "agent=$APID,proxy=${PROXY_PID:-0}" \
		>"$DIR/c-$2.json" 2>"$DIR/c-$2.err"
}
verify() { # CASE ID [STOP-AT]
	"$PY" "$PEER" verify --case "$1" --id "$2" --client "$DIR/c-$2.json" \
		--log "$DIR/peer.log" ${3:+--stop-at "$3"} || { cat "$DIR/c-$2.err"; return 1; }
}
# after CASE-TEXT: the checks every case ends with
after() {
	check "$1: the agent's and the proxy's sockets for it are gone" sockets_gone
	check "$1: then the agent and the proxy are idle" idle
	check "$1: the agent's open files are back" fds_back
}
# ends CASE TEXT [HOLDER]: one case; HOLDER (client|upstream) holds the
# connection open until the checks made meanwhile are done
ends() {
	local cs=$1 what="$L$1: $2" holder=${3:-} id=$1-$((++SEQ)) cpid role
	client "$cs" "$id" &
	cpid=$!
	if [ -n "$holder" ]; then
		role=$holder
		[ "$role" = upstream ] && role=server
		check "$what: the $holder holds it open" wait_for 20 test -e "$M/held-$id-$role"
		sleep 1 # past the other side's reset
		if [ "$holder" = upstream ]; then
			check "$what: meanwhile the agent closed its sockets for the reset client" agent_closed
		fi
		check "$what: meanwhile the agent and the proxy are idle" idle
		touch "$M/release-$id"
	fi
	wait "$cpid"
	check "$what: bytes intact, each side saw its end" verify "$cs" "$id"
	after "$L$cs"
}
# gone CASE TEXT SIGNAL: the proxy is stopped with SIGNAL once the relay
# is up; the client must see the end within 5 s; then the proxy restarts
gone() {
	local cs=$1 what="$L$1: $2" sig=$3 id=$1-$((++SEQ)) cpid t0
	client "$cs" "$id" &
	cpid=$!
	check "$what: the relay is up" wait_for 20 test -e "$M/mark-$id"
	t0=$EPOCHREALTIME
	check "$what: the proxy stops" stop_proxy "$sig"
	wait "$cpid"
	check "$what: the client saw the end in time, bytes intact" verify "$cs" "$id" "$t0"
	after "$L$cs"
	check "$what: the proxy starts again" start_proxy "${PROXY_ARGS[@]}"
}
verify_all() {
	local cs rc=0
	for cs in "${CONC[@]}"; do
		echo "== $cs"
		verify "$cs" "$cs-x8-$SEQ" || rc=1
	done
	return $rc
}

# all_cases: every case once, over the link installed; check names start
# with $L
all_cases() {
	local cs p
	check "${L}before any case: no relay socket, the agent and the proxy idle" quiet
	FD0=$(agent_fds)
	FDP0=${FD0#* } FD0=${FD0% *}

	# ---- a. the client half-closes first
	ends a1 "client FIN first, 4 MiB more from the upstream after it, then its FIN"
	ends a2 "client FIN first, then it reads nothing for 4.5 s while the upstream sends 1 MiB and ends"
	ends a3 "client FIN first, then it reads nothing for 4.5 s while the upstream sends 8 MiB and ends"
	# ---- b. the upstream half-closes first
	ends b1 "upstream FIN first, 4 MiB more from the client after it, then its FIN"
	ends b2 "upstream FIN first, then it reads nothing for 4.5 s while the client sends 1 MiB and ends"
	# ---- c. both at once
	ends c1 "both send 2 MiB and FIN at once"
	ends c2 "both FIN at once, no data"
	# ---- d. the client resets
	ends d1 "client RST mid-stream, the upstream streaming"
	ends d2 "client FIN, then RST, the upstream silent" upstream
	ends d3 "client RST while idle"
	ends d4 "client RST after streaming at an upstream that reads nothing for 4.5 s"
	# ---- e. the upstream resets
	ends e1 "upstream RST mid-stream, the client streaming"
	ends e2 "upstream FIN, then RST, the client silent (its later writes fail)" client
	ends e3 "upstream RST at once"
	ends e4 "upstream RST after streaming at a client that reads nothing for 4.5 s"
	# ---- f. the client closes with unread bytes
	ends f1 "client close() while the upstream sends a lot"
	ends f2 "client FIN, then close() while the upstream sends a lot"

	# ---- eight at once
	((++SEQ))
	CPIDS=()
	for cs in "${CONC[@]}"; do
		client "$cs" "$cs-x8-$SEQ" &
		CPIDS+=($!)
	done
	for p in "${CPIDS[@]}"; do wait "$p"; done
	check "${L}8 at once (${CONC[*]}): bytes intact, each side saw its end" verify_all
	after "${L}8 at once"

	# ---- g. the proxy goes away while a relay is open
	gone g1 "SIGTERM (1 s drain) with an idle relay open" TERM
	gone g2 "SIGKILL while the upstream streams" KILL
	ends a1 "again, after the restarts"
	check "${L}the agent never stopped" test -e "/proc/$APID"
	check "${L}uninstall" in_guest "$A" proxy uninstall
	# what the daemon wrote, its exit included
	in_guest cat /run/slicer-agent/agent.log >>"$DIR/agent.log" 2>/dev/null
}
CONC=(a1 b1 c1 c2 d1 d3 e1 f1)

# ---- the agent's link to the proxy plain
L=
check "install (plain link)" agent_up --proxy "http://proxy:$T@$PROXY_ADDR"
[ -n "$APID" ] && all_cases

# ---- over the proxy's TLS port (needs an agent built with mbed TLS)
if ldd "$A" 2>/dev/null | grep -q libmbedtls; then
	L="tls: "
	SHA=$(openssl x509 -in "$PCA" -outform DER | sha256sum | cut -d' ' -f1)
	check "install (TLS link, CA pinned)" agent_up \
		--proxy "https://proxy:$T@$HOST_IP:3129" --ca-sha256 "$SHA"
	[ -n "$APID" ] && all_cases
else
	echo "note: the TLS link is not tested (the agent is built without mbed TLS)"
fi

check "no sanitizer report in the agent's log" bash -c \
	"! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' '$DIR/agent.log'"
bench_finish
