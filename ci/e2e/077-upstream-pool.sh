#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The pool of idle upstream connections: sequential client connections
# (one curl each) of one client to an intercepted upstream share one upstream
# connection, each request still judged and given its secret; plain http://
# forwarding pools too; two clients never share one; an upstream that closes
# a parked connection, or closes it just as it is taken (a GET is sent again
# on a new connection, a POST is not), costs no 502 for a GET;
# "Connection: close", HTTP/1.0 and read-until-close responses are never
# parked; a revoked rule denies the next request although a connection is
# parked; a change of the client's own rules or of the secrets retires its
# parked connections (the next handshake resumes), another client's change
# does not; no descriptor leaks; SIGTERM with parked connections exits
# cleanly; with two event loops each loop reuses its own connection.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
# -v: the pool's debug lines (parked, taken, closed while idle) go to the log;
# the pool is per event loop: one loop, so that every curl run finds what the
# one before it parked (several loops: (g) at the end)
check "daemon starts" start_proxy --workers 1 --https-port 3129 --upstream-ca "$CA" -v
[ -n "$PROXY_PID" ] || bench_finish
T1=$(new_client vm1)
T2=$(new_client vm2)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
export SEC=sek-pool-3f8a1c6e9b27d4
printf '%s\n' "$SEC" >"$DIR/sec.txt"
cli secret create pooltok --host api.bench.test --from-file "$DIR/sec.txt" >/dev/null
R1=$(cli allow vm1 --host api.bench.test --secret pooltok --path '/p/*')
cli allow vm1 --host api.bench.test --secret pooltok --path /eof --path /http10 --path /slow >/dev/null
cli allow vm2 --host api.bench.test --secret pooltok --path '/p/*' >/dev/null
cli allow vm1 --host plain.bench.test --port 80 >/dev/null
export T1 T2 PCA R1

# iget TOKEN PATH [CURL ARGS]: one curl run, so one new client TLS connection,
# to the intercepted upstream; prints the upstream's echo
iget() {
	local t=$1 p=$2
	shift 2
	in_vm curl -q -sS -m 15 --cacert "$PCA" -x "http://proxy:$t@$PROXY_ADDR" "$@" "https://api.bench.test$p"
}
# iconn TOKEN PATH [ARGS]: "CONN AUTH" of the upstream connection that served
# it and the Authorization the upstream got (exit 1 without an echo)
iconn() {
	iget "$@" | "$PY" -c '
import json, sys
j = json.load(sys.stdin)
print(j["conn"], j["headers"].get("authorization", "-").replace(" ", "_"))'
}
# icode TOKEN PATH [ARGS]: the status the client got
icode() { iget "$@" -o /dev/null -w '%{http_code}' 2>/dev/null; return 0; }
# upconns PORT: connections the upstream accepted from the proxy on that port
upconns() { grep -c " CONN 198\.18\.0\.10:$1 " "$DIR/upstream.log"; }
log_count() { grep -c -- "$1" "$DIR/proxy.log"; }
export -f iget iconn icode upconns log_count

# ---- (a) sequential client connections share one upstream connection ----
seq_share() {
	local i n0 out first="" want="Bearer_$SEC"
	n0=$(upconns 443)
	for i in 1 2 3 4 5 6; do
		out=$(iconn "$T1" "/p/seq$i") || return 1
		echo "request $i: $out"
		[ "${out#* }" = "$want" ] || { echo "secret not injected"; return 1; }
		[ -n "$first" ] || first=${out%% *}
		[ "${out%% *}" = "$first" ] || { echo "another upstream connection"; return 1; }
	done
	echo "upstream connections opened: $(($(upconns 443) - n0))"
	[ $(($(upconns 443) - n0)) -eq 1 ]
}
check "(a) six curl runs in a row use one upstream connection, secret injected in each" seq_share
check "(a) the upstream served them as requests 1..6 of one connection" py_check "$DIR/upstream.log" <<'EOF'
import re, sys
reqs = [l for l in open(sys.argv[1]) if re.search(r" REQ 198\.18\.0\.10:443 .* GET /p/seq\d ", l)]
conns = {re.search(r"conn=(\d+)", l).group(1) for l in reqs}
print(len(reqs), conns)
assert len(reqs) == 6 and len(conns) == 1
EOF
check "(a) the proxy parked and took it (debug log)" bash -c \
	'[ "$(log_count "upstream api.bench.test:443 parked")" -ge 5 ] && [ "$(log_count "upstream api.bench.test:443 from the pool")" -ge 5 ]'
check "(a) /metrics counts the pool: hits, parks and one idle connection" bash -c '
	m=$(api GET /metrics); echo "$m" | grep "^slicer_upstream_pool"
	h=$(sed -n "s/^slicer_upstream_pool_hits_total //p" <<<"$m")
	p=$(sed -n "s/^slicer_upstream_pool_parked_total //p" <<<"$m")
	i=$(sed -n "s/^slicer_upstream_pool_idle //p" <<<"$m")
	[ "${h:-0}" -ge 5 ] && [ "${p:-0}" -ge 6 ] && [ "${i:-0}" -ge 1 ] &&
		grep -q "^slicer_upstream_pool_closed_total{reason=\"flushed\"} " <<<"$m"'
check "(a) one audit record per request, all allowed 200 with the secret named" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["event"] == "request" and (r.get("path") or "").startswith("/p/seq")]
print(len(r), r[:1])
assert sorted(x["path"] for x in r) == ["/p/seq%d" % i for i in range(1, 7)], r
assert all(x["status"] == 200 and x["decision"] == "allow" and x["secret"] == "pooltok" for x in r), r
EOF

plain_share() {
	local n0 a b
	n0=$(upconns 80)
	a=$(pcurl "$T1" http://plain.bench.test/f1 | jget conn) || return 1
	b=$(pcurl "$T1" http://plain.bench.test/f2 | jget conn) || return 1
	echo "conns $a $b, opened $(($(upconns 80) - n0))"
	[ -n "$a" ] && [ "$a" = "$b" ] && [ $(($(upconns 80) - n0)) -eq 1 ]
}
check "(a) plain http:// forwarding: two curl runs share one upstream connection" plain_share

# ---- (b) clients never share ----
clients_apart() {
	local a1 b1 a2 b2
	a1=$(iconn "$T1" /p/c1) || return 1
	b1=$(iconn "$T2" /p/c2) || return 1
	a2=$(iconn "$T1" /p/c3) || return 1
	b2=$(iconn "$T2" /p/c4) || return 1
	echo "vm1: $a1 / $a2  vm2: $b1 / $b2"
	[ "${a1%% *}" != "${b1%% *}" ] && [ "${a1%% *}" = "${a2%% *}" ] &&
		[ "${b1%% *}" = "${b2%% *}" ] && [ "${a2%% *}" != "${b2%% *}" ]
}
check "(b) two clients each keep their own upstream connection, never the other's" clients_apart
check "(b) the upstream never saw vm1's and vm2's requests on one connection" py_check "$DIR/upstream.log" "$AUDIT" <<'EOF'
import json, re, sys
by_conn = {}
for l in open(sys.argv[1]):
    m = re.search(r" REQ 198\.18\.0\.10:443 conn=(\d+) GET (/p/c\d) ", l)
    if m:
        by_conn.setdefault(m.group(1), set()).add(m.group(2))
rows = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
who = {r["path"]: r["client"] for r in rows if r["event"] == "request" and (r.get("path") or "").startswith("/p/c")}
print(by_conn, who)
assert len(by_conn) == 2
for paths in by_conn.values():
    assert len({who[p] for p in paths}) == 1, paths
EOF

# ---- (c) the upstream closes idle or racing connections ----
idle_closed() {
	local a b i
	a=$(iconn "$T1" /p/idle -H 'X-Idle-Close-Ms: 300') || return 1
	# the upstream closes it after 300 ms; the pool sees that and drops it
	for i in $(seq 30); do
		[ "$(log_count "closed or spoke while idle")" -ge 1 ] && break
		sleep 0.1
	done
	b=$(iconn "$T1" /p/after-idle) || return 1
	echo "before $a, after $b"
	[ "$(log_count "closed or spoke while idle")" -ge 1 ] && [ "${a%% *}" != "${b%% *}" ]
}
check "(c) an upstream closing a parked connection: it leaves the pool, the next request gets a new one" idle_closed

raced_get() {
	local a b
	a=$(iconn "$T1" /p/arm -H 'X-Drop-Next: 1') || return 1
	# the next request on that connection is read and dropped unanswered
	b=$(iconn "$T1" /p/raced) || return 1
	echo "armed on $a, answered on $b"
	grep -E " DROP 198\.18\.0\.10:443 conn=${a%% *} GET /p/raced" "$DIR/upstream.log" &&
		[ "${a%% *}" != "${b%% *}" ] && [ "${b#* }" = "Bearer_$SEC" ]
}
check "(c) a GET on a pooled connection the upstream closes unanswered is sent again on a new one: 200" raced_get
check "(c) the resent GET has one audit record, 200" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r.get("path") == "/p/raced"]
print(r)
assert len(r) == 1 and r[0]["status"] == 200 and r[0]["decision"] == "allow", r
EOF
raced_post() {
	local a code
	a=$(iconn "$T1" /p/arm2 -H 'X-Drop-Next: 1') || return 1
	code=$(icode "$T1" /p/post -X POST -d 'once')
	echo "armed on $a, POST got $code"
	[ "$code" = 502 ] && [ "$(grep -c ' REQ .* POST /p/post ' "$DIR/upstream.log")" = 1 ]
}
check "(c) a POST in the same race is not sent twice: 502, the upstream saw it once" raced_post
check "(c) the proxy still serves after that" expect_re "^[0-9]+ Bearer_$SEC\$" iconn "$T1" /p/after-race

# ---- (d) what is never parked ----
# kept_apart TOKEN PATH [ARGS]: the request after PATH (on a new client
# connection) must get another upstream connection
kept_apart() {
	local a b t=$1 p=$2
	shift 2
	a=$(iconn "$t" "$p" "$@") || return 1
	b=$(iconn "$t" /p/next) || return 1
	echo "$p on $a, next on $b"
	[ "${a%% *}" != "${b%% *}" ]
}
export -f kept_apart
check "(d) 'Connection: close' from an upstream that keeps the connection open: not parked" \
	kept_apart "$T1" /p/co -H 'X-Close-Open: 1'
check "(d) an HTTP/1.0 keep-alive answer: not parked" kept_apart "$T1" /http10
check "(d) an answer read until the upstream closes: not parked, next request fine" kept_apart "$T1" /eof
check "(d) the response without framing reached the client whole" expect_re '"path": "/eof"' iget "$T1" /eof

# ---- (e) policy changes ----
revoke_denies() {
	local a code
	a=$(iconn "$T1" /p/before-revoke) || return 1
	cli revoke vm1 "$R1" >/dev/null || return 1
	code=$(icode "$T1" /p/revoked)
	echo "parked $a, after revoke: $code"
	[ "$code" = 403 ] && ! grep -q ' /p/revoked ' "$DIR/upstream.log"
}
check "(e) revoked while a connection is parked: the next request is 403 and never reaches the upstream" revoke_denies
R1=$(cli allow vm1 --host api.bench.test --secret pooltok --path '/p/*')
resumed() { api GET /metrics | sed -n 's/^slicer_upstream_tls_handshakes_total{resumed="yes"} //p'; }
export -f resumed
# retired CHANGE...: the CLI change (run), then the next request of vm1
# must go out on a new upstream connection that resumes the TLS session
retired() {
	local a b r0 r1
	a=$(iconn "$T1" /p/gen1) || return 1
	r0=$(resumed)
	cli "$@" >/dev/null || return 1
	b=$(iconn "$T1" /p/gen2) || return 1
	r1=$(resumed)
	echo "before the change $a, after $b; resumed handshakes $r0 -> $r1"
	[ "${a%% *}" != "${b%% *}" ] && [ "$r1" -ge $((r0 + 1)) ]
}
kept_across() {
	local a b
	a=$(iconn "$T1" /p/keep1) || return 1
	cli "$@" >/dev/null || return 1
	b=$(iconn "$T1" /p/keep2) || return 1
	echo "before the change $a, after $b"
	[ "${a%% *}" = "${b%% *}" ]
}
check "(e) another client's change (a new client) leaves vm1's parked connection in use" \
	kept_across client create flush-a
check "(e) another client's new rule leaves vm1's parked connection in use" \
	kept_across allow vm2 --host other.bench.test
check "(e) a change of vm1's own rules retires its parked connection; the new one resumes TLS" \
	retired allow vm1 --host plain.bench.test --port 8080
printf 'x\n' >"$DIR/sec2.txt"
check "(e) a new secret retires the parked connections; the new one resumes TLS" \
	retired secret create pool2 --host other.bench.test --from-file "$DIR/sec2.txt"
vm1_again() {
	local a b
	a=$(iconn "$T1" /p/before-delete) || return 1
	cli client delete vm1 >/dev/null || return 1
	T1=$(new_client vm1) || return 1
	R1=$(cli allow vm1 --host api.bench.test --secret pooltok --path '/p/*') || return 1
	cli allow vm1 --host api.bench.test --secret pooltok --path /eof --path /http10 \
		--path /slow >/dev/null || return 1
	cli allow vm1 --host plain.bench.test --port 80 >/dev/null || return 1
	export T1 R1
	b=$(iconn "$T1" /p/reborn) || return 1
	echo "the old vm1's last request $a, the new vm1's first $b"
	[ "${a%% *}" != "${b%% *}" ]
}
check "(e) a client deleted and made again under the same name never gets the old one's parked connection" vm1_again

# ---- (f) no descriptor leaks ----
# descriptors less the parked upstream connections (those are bounded by
# the pool's caps and expire; a leak is anything else that stays)
fdcount() {
	local n idle
	n=$(ls "/proc/$PROXY_PID/fd" | wc -l)
	idle=$(api GET /metrics | sed -n 's/^slicer_upstream_pool_idle \([0-9]*\)$/\1/p')
	echo $((n - ${idle:-0}))
}
export -f fdcount
fd_steady() {
	local before after i n
	sleep 0.3
	before=$(fdcount)
	for i in $(seq 8); do
		iget "$T1" "/p/loop$i" >/dev/null
		iget "$T2" "/p/loop$i" >/dev/null
		iget "$T1" "/p/arm$i" -H 'X-Drop-Next: 1' >/dev/null
		iget "$T1" "/p/raced$i" >/dev/null
		iget "$T1" /eof >/dev/null
		iget "$T1" "/p/co$i" -H 'X-Close-Open: 1' >/dev/null
		icode "$T1" /nope >/dev/null
		pcurl "$T1" "http://plain.bench.test/loop$i" >/dev/null
	done
	for n in $(seq 50); do
		after=$(fdcount)
		[ "$after" -le "$before" ] && break
		sleep 0.1
	done
	echo "descriptors (not parked) before $before, after $after"
	[ "$after" -le "$before" ]
}
check "(f) 64 requests of every kind leave no descriptor behind but parked ones" fd_steady
# CAP+8 at once, each held 1.5 s: CAP+8 upstream connections, CAP parked after
CAP=$(sed -n 's/^#define LIMIT_UPSTREAM_POOL_PER_KEY \([0-9]*\).*/\1/p' "$SPX_ROOT/shared/slicer_limits.h")
check "(f) $((CAP + 8)) parallel slow requests of one client: at most $CAP (the per-key cap) stay parked" \
	py_check "$T1" "$PCA" "$PROXY_PID" "$CAP" <<'EOF'
import os, subprocess, sys, time
tok, ca, pid, cap = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def fds():
    return len(os.listdir("/proc/%s/fd" % pid))
base = fds()
cmd = ["ip", "netns", "exec", os.environ["VNS"], "curl", "-q", "-sS", "-m", "20", "--cacert", ca,
       "-x", "http://proxy:%s@%s" % (tok, os.environ["PROXY_ADDR"]), "-o", "/dev/null"]
ps = [subprocess.Popen(cmd + ["https://api.bench.test/slow?ms=1500&i=%d" % i]) for i in range(cap + 8)]
assert all(p.wait(timeout=40) == 0 for p in ps)
for _ in range(50):
    if fds() <= base + cap:
        break
    time.sleep(0.1)
print("descriptors: base", base, "after", fds(), "cap", cap)
assert base < fds() <= base + cap
EOF

# ---- drain ----
iget "$T1" /p/last >/dev/null
drain_fast() {
	local t0 ms
	t0=$(date +%s%N)
	stop_proxy TERM || return 1
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "exit status ${PROXY_EXIT:-none} after $ms ms"
	[ "${PROXY_EXIT:-none}" = 0 ] && [ "$ms" -lt 5000 ]
}
check "SIGTERM with a parked connection: the daemon exits at once with status 0" drain_fast

# ---- (g) several event loops: each keeps a pool of its own ----
check "daemon starts again with --workers 2" start_proxy --workers 2 --https-port 3129 --upstream-ca "$CA"
per_loop() {
	local i n0 opened
	n0=$(upconns 443)
	for i in $(seq 1 12); do iconn "$T1" "/p/loop$i" >/dev/null || return 1; done
	opened=$(($(upconns 443) - n0))
	echo "upstream connections opened for 12 curl runs over 2 loops: $opened"
	[ "$opened" -ge 1 ] && [ "$opened" -le 2 ]
}
check "(g) two event loops: 12 curl runs in a row open at most one upstream connection per loop" per_loop
bench_finish
