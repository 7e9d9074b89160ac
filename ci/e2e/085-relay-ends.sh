#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Relayed connections ending in every order, on the CONNECT tunnel (splice,
# a host rule, plain bytes inside) and on the upgraded connection of an
# intercepted request (101, then raw bytes both ways, TLS at both ends),
# with ci/ends_peer.py at both ends and --workers 2: the client half-closes
# first while the upstream goes on sending (and the other way round, also
# at once, also with the upstream half-closing before anything is sent),
# both half-close at once, either end resets (after an exchange, or while
# the other sends 32 MiB), the client close()s while the upstream sends
# 32 MiB, or with nothing unread and the upstream sends after it, an end
# half-closes and then resets while the other stays silent (or writes 2 s
# later, and must meet the reset passed on); and, with an
# upstream that reads nothing for 6 s so that the proxy stops reading the
# client, the client half-closes (its FIN reaching the proxy meanwhile) or
# resets.  For each: every byte of a direction still open arrives intact,
# then its end of stream, and what a reset cut is an intact prefix; the
# proxy lets go of both its sockets within 5 s (ss -tanp: none held,
# nothing but TIME-WAIT left unless a peer stays half-open on purpose; no
# TCP socket it opened still held), the audit log's close record counts
# the bytes relayed (exactly, or between what one end got and the other
# sent when a reset cut a direction), and the proxy uses almost no CPU for
# 2 s after, and while a connection is half-open or blocked.  Then eight of
# them at once on each path.  Last, a plain Upgrade through the forward
# proxy: it is not relayed (Upgrade is not passed on; an upstream's 101
# anyway gets 502), and that ends cleanly too.  ENDS_CASES / ENDS_PATHS
# (words) run a subset.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
PLOG=$DIR/peer.log
spawn "$NNS" "$PY" "$SPX_CI/ends_peer.py" serve --log "$PLOG" --slots 8 \
	--cert "$DIR/pki/srv.crt" --key "$DIR/pki/srv.key" --ready "$DIR/peer.ready" 2>>"$DIR/peer.err"
check "the upstream is up" wait_for 10 test -s "$DIR/peer.ready"
check "daemon starts with two event loops" start_proxy --workers 2 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
# tunnels (raw, 9600-9607) and plain requests (9640-9647) to api.bench.test
# by a host rule; other.bench.test (TLS, 9620-9627) intercepted by a path rule
PORTS=()
for i in 0 1 2 3 4 5 6 7; do PORTS+=(--port $((9600 + i)) --port $((9640 + i))); done
cli allow vm1 --host api.bench.test "${PORTS[@]}" >/dev/null
PORTS=()
for i in 0 1 2 3 4 5 6 7; do PORTS+=(--port $((9620 + i))); done
cli allow vm1 --host other.bench.test "${PORTS[@]}" --method GET --path '/ends/*' >/dev/null

# ends ARGS...: the driver in the vm (ci/ends_peer.py run); its output
# (one JSON line per case, then the failures) stays in $DIR/ends.out
ends() {
	in_vm timeout -k 5 200 "$PY" "$SPX_CI/ends_peer.py" run --token "$T" --ca "$PCA" \
		--proxy-pid "$PROXY_PID" --hns "$HNS" --audit "$AUDIT" --log "$PLOG" "$@" \
		>"$DIR/ends.out" 2>&1
	local rc=$?
	cat "$DIR/ends.out" >>"$DIR/ends.all"
	cat "$DIR/ends.out"
	return $rc
}

declare -A TITLE=(
	[a]="the client half-closes first, the upstream goes on sending"
	[b]="the upstream half-closes first, the client goes on sending"
	[b0]="the upstream half-closes at once, the client sends after it"
	[b2]="the upstream half-closes and reads nothing for 6 s, the client sends until the proxy stops reading it, then half-closes"
	[c]="both half-close at once"
	[d]="the client resets after an exchange"
	[d2]="the client resets while the upstream sends 32 MiB"
	[d3]="the client resets while the upstream reads nothing for 6 s (the proxy blocked)"
	[e]="the upstream resets after an exchange"
	[e2]="the upstream resets while the client sends 32 MiB"
	[f]="the client close()s while the upstream sends 32 MiB"
	[f2]="the client close()s with nothing unread (a FIN), then the upstream sends"
	[g]="the client half-closes, then resets; the upstream silent"
	[h]="the upstream half-closes, then resets; the client silent"
	[g2]="the client half-closes, then resets; the upstream's write 2 s later meets the reset"
	[h2]="the upstream half-closes, then resets; the client's write 2 s later meets the reset"
)
read -ra CASE_LIST <<<"${ENDS_CASES:-a b b0 b2 c d d2 d3 e e2 f f2 g h g2 h2}"
read -ra PATHS <<<"${ENDS_PATHS:-tunnel intercept}"
MANY=(a b c d e f d2 e2)

for path in "${PATHS[@]}"; do
	for c in "${CASE_LIST[@]}"; do
		check "$path, ${TITLE[$c]}: bytes intact, both ends and the proxy's sockets closed, audited, idle" \
			ends --path "$path" --case "$c"
	done
	args=()
	for c in "${MANY[@]}"; do args+=(--case "$c"); done
	check "$path, eight at once (${MANY[*]}): the same for each" ends --path "$path" "${args[@]}"
done

# ---- a plain Upgrade through the forward proxy ----
check "plain Upgrade through the forward proxy: not passed on, the upstream's 426 reaches the client, both ends closed" \
	ends --path forward --case probe
check "an upstream that answers it 101 anyway: 502, both ends closed, the proxy idle" \
	ends --path forward --case probe101

check "both event loops carried connections" expect_re \
	'slicer_worker_connections_total\{worker="0"\} [1-9][0-9]*.*slicer_worker_connections_total\{worker="1"\} [1-9]' \
	bash -c "api GET /metrics | tr '\n' ' '"
bench_finish
