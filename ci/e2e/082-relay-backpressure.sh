#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Intercepted WebSocket relays under sustained backpressure, with real
# sockets (ci/ws_pump.py at both ends; a secret on the rule, so the proxy
# terminates TLS on both sides, and the upstream checks every upgrade
# carried it): 32 MiB echoed to a client that reads
# slowly and then fast, 32 MiB pushed by the upstream to a slow client,
# 16 MiB each way at once with the slow reader on either side, bursts of
# small frames each in its own TLS record and answered before the next
# burst (after the last record of a burst no socket event comes: bytes left
# inside TLS would wait forever), and ten mixed relays at once spread over
# both event loops (--workers 2).  Bulk frames of mixed sizes are written in
# pieces of random sizes, so TLS records split frames and frames split
# records.  Every byte
# must arrive intact and in order (SHA-256 at both ends, echoed frame sizes
# one by one); the proxy must have stopped reading a side while the other
# side's backlog was full (its receive queue grows: sampled with ss); each
# relay must then end at both ends (the upstream sees the end of stream and
# nothing after the close frame, the audit log has its close record counting
# every byte relayed) and leave the proxy idle.  The time limits only
# detect a hang: on one, the state of every relay and ss -tni of the three
# namespaces are printed.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
PORT=9470
SEC=sek-relay-4d2b9e61c07a
spawn "$NNS" "$PY" "$SPX_CI/ws_pump.py" serve --addr 198.18.0.10 --port $PORT \
	--cert "$DIR/pki/srv.crt" --key "$DIR/pki/srv.key" --ready "$DIR/pump.ready" \
	--auth-sha256 "$(printf 'Bearer %s' "$SEC" | sha256sum | cut -d' ' -f1)" 2>>"$DIR/pump.log"
check "pump upstream is up" wait_for 10 test -s "$DIR/pump.ready"
check "daemon starts with two event loops" start_proxy --workers 2 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
printf '%s' "$SEC" | cli secret create relaykey --host api.bench.test --value-stdin >/dev/null
cli allow vm1 --host api.bench.test --port $PORT --method GET --path '/ws/*' --secret relaykey >/dev/null

# what a hang prints besides the relays' state: every TCP socket of the
# proxy (host), the clients (vm) and the upstream (net), with TCP details
# shellcheck disable=SC2089 # a command line for the shell ws_pump.py starts
STALL_CMD="echo '--- ss -tni, host (proxy)'; ip netns exec $HNS ss -tni; \
echo '--- ss -tni, vm (clients)'; ss -tni; echo '--- ss -tni, net (upstream)'; ip netns exec $NNS ss -tni"

# ss_sample FILE: the proxy's TCP queues every 0.1 s (bounded: 3 min, and
# ends with the bench)
ss_sample() {
	local i
	for ((i = 0; i < 1800; i++)); do
		[ -e "/run/netns/$HNS" ] || break
		echo "# $i"
		in_host ss -Htn state established
		sleep 0.1
	done >"$1" 2>&1
}

# pump TAG ARGS...: the pump client in the vm against this bench's rule,
# with the proxy's queues sampled meanwhile; its output stays in
# $DIR/pump-TAG.out, the relays' results in $DIR/pump-TAG.json
pump() {
	local tag=$1 rc spid p keep=()
	shift
	ss_sample "$DIR/ss-$tag.log" &
	spid=$!
	SPX_PIDS+=("$spid")
	in_vm env PYTHONPATH="$SPX_CI" timeout -k 5 120 "$PY" "$SPX_CI/ws_pump.py" client \
		--token "$T" --ca "$PCA" --host api.bench.test --port $PORT --tag "$tag" \
		--need-auth --close-notify --limit 60 --stall 20 --on-stall "$STALL_CMD" \
		--json "$DIR/pump-$tag.json" "$@" >"$DIR/pump-$tag.out" 2>&1
	rc=$?
	kill "$spid" 2>/dev/null
	wait "$spid" 2>/dev/null
	for p in "${SPX_PIDS[@]}"; do [ "$p" = "$spid" ] || keep+=("$p"); done
	SPX_PIDS=("${keep[@]}")
	cat "$DIR/pump-$tag.out"
	return $rc
}

# queued TAG SIDE...: the proxy's receive queue on each SIDE (client: its
# sockets from the vm; upstream: its sockets to the pump) held 32 KiB or
# more in some sample: it stopped reading that side for a while
queued() {
	"$PY" - "$DIR/ss-$1.log" "$PORT" "${@:2}" <<'EOF'
import sys
f, port, sides = sys.argv[1], sys.argv[2], sys.argv[3:]
top = {"client": 0, "upstream": 0}
sendq = {"client": 0, "upstream": 0}
held = {"client": 0, "upstream": 0}
for line in open(f):
    w = line.split()
    if len(w) < 4 or line.startswith("#"):
        continue
    rq, sq, local, peer = int(w[0]), int(w[1]), w[2], w[3]
    k = "client" if local.endswith(":3128") else "upstream" if peer.endswith(":" + port) else None
    if k:
        top[k] = max(top[k], rq)
        sendq[k] = max(sendq[k], sq)
        held[k] += rq >= 32768
print("largest receive queue %s, samples with 32 KiB or more %s, largest send queue %s" %
      (top, held, sendq))
sys.exit(0 if all(top[s] >= 32768 for s in sides) else 1)
EOF
}

# audited TAG: the audit log's close record of every relay of that run
# counts exactly the bytes its client sent and got after the upgrade
audited() {
	"$PY" - "$DIR/pump-$1.json" "$AUDIT" <<'EOF'
import json, sys, time
res = json.load(open(sys.argv[1]))["relays"]
for _ in range(30):  # the log reaches the file when a loop is about to wait
    close = {}
    for l in open(sys.argv[2]):
        r = json.loads(l)
        if r["event"] == "close" and (r.get("path") or "").startswith("/ws/pump/"):
            close[r["path"][len("/ws/pump/"):]] = r
    bad = []
    for x in res:
        r = close.get(x["id"])
        if r is None:
            bad.append("%s: no close record" % x["id"])
        elif (r["bytes_in"], r["bytes_out"]) != (x["wire_tx"], x["wire_rx"]):
            bad.append("%s: audit in/out %d/%d, the client sent/got %d/%d" % (
                x["id"], r["bytes_in"], r["bytes_out"], x["wire_tx"], x["wire_rx"]))
    if not bad:
        break
    time.sleep(0.1)
print("%d relays" % len(res))
print("\n".join(bad))
sys.exit(1 if bad else 0)
EOF
}

# upstream_ended TAG: the upstream saw every relay of that run end (end of
# stream after the client's close frame, nothing after that frame)
upstream_ended() {
	"$PY" - "$DIR/pump-$1.json" "$DIR/pump.log" <<'EOF'
import json, sys, time
ids = [x["id"] for x in json.load(open(sys.argv[1]))["relays"]]
for _ in range(30):
    done = {}
    extra = []
    for l in open(sys.argv[2]):
        if " DONE " in l:
            d = json.loads(l.split(" DONE ", 1)[1])
            done[d["id"]] = d
        elif " EXTRA " in l:
            extra.append(l.strip())
    bad = ["%s: still open at the upstream" % i for i in ids if i not in done]
    bad += ["%s: %s" % (i, json.dumps(done[i])) for i in ids if i in done and
            (done[i]["err"] or done[i]["extra"])]
    if not bad:
        break
    time.sleep(0.1)
print("\n".join(bad[:6]))
print("\n".join(extra[:3]))
sys.exit(1 if bad else 0)
EOF
}

# proxy_idle: with no relay left, the proxy uses (almost) no CPU for 2 s
proxy_idle() {
	local t0 t1
	t0=$(awk '{ print $14 + $15 }' "/proc/$PROXY_PID/stat")
	sleep 2
	t1=$(awk '{ print $14 + $15 }' "/proc/$PROXY_PID/stat")
	echo "clock ticks used in 2 s: $((t1 - t0)) (of $((2 * $(getconf CLK_TCK))) a busy core would use)"
	in_host ss -tan | grep -v LISTEN
	[ $((t1 - t0)) -le 20 ]
}
# for the checks that run them in "bash -c"
export -f queued audited upstream_ended
export PORT

# ---- 1: echo, the client reads slowly (3 s), then fast ----
check "32 MiB echoed to a client reading slowly then fast: intact, in order" \
	pump echo --rcvbuf 131072 --relay echo,send=32M,slow=3
check "... the proxy stopped reading either side while the other's backlog was full" \
	queued echo upstream client
check "... the relay ended at the upstream, nothing came after the close frame" upstream_ended echo
check "... the relay ended at the proxy, the audit log counts every byte relayed" audited echo
check "... and the proxy is idle after it" proxy_idle

# ---- 2: the upstream pushes, the client reads slowly, then fast ----
check "32 MiB pushed by the upstream to a client reading slowly then fast: intact" \
	pump push --rcvbuf 131072 --relay push,recv=32M,slow=3
check "... the proxy stopped reading the upstream meanwhile" queued push upstream
check "... the relay ended at both ends, every byte counted" \
	bash -c "upstream_ended push && audited push"

# ---- 3: both ways at once, the slow reader on one side ----
check "16 MiB each way at once, the client reading slowly then fast: intact" \
	pump duplex-c --rcvbuf 131072 --relay duplex,send=16M,recv=16M,slow=3
check "... the proxy stopped reading the upstream meanwhile" queued duplex-c upstream
check "16 MiB each way at once, the upstream reading slowly then fast: intact" \
	pump duplex-u --relay duplex,send=16M,recv=16M,srx=3
check "... the proxy stopped reading the client meanwhile" queued duplex-u client
check "... both relays ended at both ends, every byte counted" \
	bash -c "upstream_ended duplex-c && upstream_ended duplex-u && audited duplex-c && audited duplex-u"

# ---- 4: bursts of small records, each answered before the next ----
check "300 bursts of 48 small frames, one TLS record each, echoed burst by burst: intact" \
	pump chatter --relay chatter,rounds=300,burst=48
check "... the relay ended at both ends, every byte counted" \
	bash -c "upstream_ended chatter && audited chatter"

# ---- 5: ten relays at once over two event loops ----
check "10 mixed relays at once (8 MiB each way, slow readers on both sides, bursts), 2 loops: intact" \
	pump many --rcvbuf 131072 --api-sock "$S" --spread 2 \
	--relay echo,send=8M,slow=2 --relay push,recv=8M,slow=2 \
	--relay duplex,send=8M,recv=8M,slow=2 --relay duplex,send=8M,recv=8M,srx=2 \
	--relay chatter,rounds=1000,burst=32 \
	--relay echo,send=8M,slow=2 --relay push,recv=8M,slow=2 \
	--relay duplex,send=8M,recv=8M,slow=2 --relay duplex,send=8M,recv=8M,srx=2 \
	--relay chatter,rounds=1000,burst=32
check "... both event loops carried some of them" \
	grep -Eq 'per event loop: \{"0": [1-9][0-9]*, "1": [1-9]' "$DIR/pump-many.out"
check "... the proxy stopped reading both sides meanwhile" queued many upstream client
check "... every relay ended at both ends, every byte counted" \
	bash -c "upstream_ended many && audited many"
check "... and the proxy is idle after them" proxy_idle

check "the secret never appears in the audit log or the proxy's output" \
	bash -c "! grep -qF '$SEC' '$AUDIT' '$DIR/proxy.log'"
bench_finish
