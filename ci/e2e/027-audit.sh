#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Audit log: one JSON object per line with every field, for allowed and denied
# requests, tunnels and forwards, 407s; the path without its query, the rule
# id that allowed, upstream status, bytes both ways, duration; never a token;
# "logs" with --client, --denied and --follow; "--log -" writes to stdout.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client au1) T2=$(new_client au2)
R_API=$(cli allow au1 --host api.bench.test)
R_OK=$(cli allow au1 --host plain.bench.test --port 80 --method GET --path '/ok/*')
R_UP=$(cli allow au1 --host plain.bench.test --port 80 --method POST --path /up)
cli allow au2 --host '*' >/dev/null
head -c 1048576 /dev/urandom >"$DIR/home/up.bin"

# the traffic the log must describe
pcurl "$T" -o /dev/null 'https://api.bench.test/big?n=1048576&k=1' 2>/dev/null
http_code "$T" 'http://plain.bench.test/ok/1?token=querysecret' >/dev/null
http_code "$T" 'http://plain.bench.test/ok/1/../../nope' --path-as-is >/dev/null
http_code "$T" 'http://plain.bench.test/ok/2' -X POST -d x >/dev/null
connect_code "$T" https://other.bench.test/ >/dev/null
in_vm curl -q -s -o /dev/null -m 5 -x "http://$PROXY_ADDR" http://plain.bench.test/ok/noauth
connect_code spi_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA https://api.bench.test/ >/dev/null
http_code "$T" 'http://api.bench.test/status?code=404' >/dev/null
http_code "$T" 'http://api.bench.test/slow?ms=1200' >/dev/null
http_code "$T" http://plain.bench.test/up -H 'Expect:' --data-binary "@$DIR/home/up.bin" >/dev/null
http_code "$T2" http://meta.bench.test/ >/dev/null
http_code "$T" 'http://plain.bench.test/ok/a%22b%0Ac%5C' >/dev/null
sleep 1

check "every audit line is one JSON object" py_check "$AUDIT" <<'EOF'
import json, sys
n = 0
for line in open(sys.argv[1]):
    assert line.endswith("\n")
    o = json.loads(line)
    assert isinstance(o, dict), o
    n += 1
print(n, "lines")
assert n >= 12, n
EOF

# the checks on the content share one parser
audit_py() {
	py_check "$AUDIT" "$T" "$R_API" "$R_OK" "$R_UP" <<EOF
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
TOKEN, R_API, R_OK, R_UP = sys.argv[2:6]
FIELDS = ("time", "event", "client", "method", "scheme", "host", "port", "path", "decision",
          "rule", "reason", "status", "bytes_in", "bytes_out", "duration_ms", "secret", "mode")
def find(**kw):
    out = [r for r in rows if all(str(r.get(k)) == str(v) for k, v in kw.items())]
    assert out, ("no row with", kw, rows[-3:])
    return out
def one(**kw):
    return find(**kw)[-1]
$(cat)
EOF
}
check "every request row has every field" audit_py <<'EOF'
for r in rows:
    if r.get("method") or r.get("status"):
        missing = [f for f in FIELDS if f not in r]
        assert not missing, (missing, r)
EOF
check "time is a recent timestamp" audit_py <<'EOF'
import datetime, time
for r in rows:
    t = r["time"]
    if isinstance(t, (int, float)):
        ts = t / 1000 if t > 1e11 else t
    else:
        ts = datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()
    assert abs(time.time() - ts) < 600, r
EOF
check "tunnel: allowed, mode tunnel, rule id, bytes counted" audit_py <<'EOF'
r = max(find(method="CONNECT", host="api.bench.test", decision="allow", client="au1"),
        key=lambda r: int(r["bytes_in"] or 0) + int(r["bytes_out"] or 0))
print(r)
assert r["mode"] == "tunnel" and int(r["port"]) == 443 and r["rule"] == R_API, r
assert max(int(r["bytes_in"]), int(r["bytes_out"])) >= 1048576, r
assert min(int(r["bytes_in"]), int(r["bytes_out"])) > 0, r
EOF
check "forward: allowed, path without the query, mode forward, status 200" audit_py <<'EOF'
r = one(method="GET", host="plain.bench.test", path="/ok/1", decision="allow")
print(r)
assert r["mode"] == "forward" and r["scheme"] == "http" and int(r["port"]) == 80, r
assert r["rule"] == R_OK and int(r["status"]) == 200 and r["client"] == "au1", r
assert not any("querysecret" in json.dumps(x) for x in rows), "query string logged"
assert not any("?" in str(x.get("path") or "") for x in rows), "a path with a query"
EOF
check "dot-segment request logged with its normalised path, denied" audit_py <<'EOF'
r = one(path="/nope", decision="deny")
print(r)
assert int(r["status"]) == 403 and r["reason"], r
EOF
check "method denial logged with a reason" audit_py <<'EOF'
r = one(method="POST", path="/ok/2", decision="deny")
print(r)
assert int(r["status"]) == 403 and r["reason"] and not r.get("rule"), r
EOF
check "denied CONNECT logged" audit_py <<'EOF'
r = one(method="CONNECT", host="other.bench.test", decision="deny")
print(r)
assert int(r["status"]) == 403 and r["reason"] and int(r["port"]) == 443, r
EOF
check "407 without credentials logged" audit_py <<'EOF'
r = one(path="/ok/noauth")
print(r)
assert int(r["status"]) == 407 and r["decision"] == "deny" and not r.get("client"), r
EOF
check "407 with a bad token logged, without the token" audit_py <<'EOF'
rs = [r for r in rows if str(r.get("status")) == "407" and r.get("method") == "CONNECT"]
assert rs, "no 407 CONNECT row"
assert not any("spi_AAAA" in json.dumps(r) for r in rows)
EOF
check "upstream status recorded (404)" audit_py <<'EOF'
r = one(path="/status", decision="allow")
assert int(r["status"]) == 404, r
EOF
check "duration recorded (slow upstream, 1.2 s)" audit_py <<'EOF'
r = one(path="/slow", decision="allow")
print(r)
assert 1100 <= float(r["duration_ms"]) < 10000, r
EOF
check "upload bytes counted on a forward" audit_py <<'EOF'
r = one(method="POST", path="/up", decision="allow")
print(r)
assert r["rule"] == R_UP and max(int(r["bytes_in"]), int(r["bytes_out"])) >= 1048576, r
EOF
check "address denial logged with a reason" audit_py <<'EOF'
r = one(host="meta.bench.test", client="au2")
print(r)
assert r["decision"] == "deny" and int(r["status"]) == 403 and r["reason"], r
EOF
check "odd characters in a path keep the line valid" audit_py <<'EOF'
r = [x for x in rows if "/ok/a" in str(x.get("path"))]
assert r, "row missing"
print(r[-1]["path"])
EOF
check "no secret on rules without one" audit_py <<'EOF'
assert all(not r.get("secret") for r in rows), [r for r in rows if r.get("secret")]
EOF
check "tokens never in the audit log, proxy output or logs API" bash -c "
	b64=\$(printf 'proxy:%s' '$T' | base64 -w0)
	! grep -rqF -e '$T' -e '$T2' -e \"\$b64\" '$AUDIT' '$DIR/proxy.log' &&
	! $P logs --url $S | grep -qF -e '$T' -e '$T2'"

# ---- logs command ----
check "logs prints the audit lines as JSON" py_check "$P" "$S" <<'EOF'
import json, subprocess, sys
out = subprocess.run([sys.argv[1], "logs", "--url", sys.argv[2]], capture_output=True, check=True, timeout=10).stdout
rows = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
print(len(rows))
assert len(rows) >= 12 and any(r.get("decision") == "deny" for r in rows)
EOF
check "logs --client au2 shows only au2" py_check "$P" "$S" <<'EOF'
import json, subprocess, sys
out = subprocess.run([sys.argv[1], "logs", "--client", "au2", "--url", sys.argv[2]], capture_output=True, check=True, timeout=10).stdout
rows = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
assert rows and all(r.get("client") == "au2" for r in rows), rows
EOF
check "logs --denied shows only denials" py_check "$P" "$S" <<'EOF'
import json, subprocess, sys
out = subprocess.run([sys.argv[1], "logs", "--denied", "--url", sys.argv[2]], capture_output=True, check=True, timeout=10).stdout
rows = [json.loads(l) for l in out.decode().splitlines() if l.strip()]
assert len(rows) >= 5 and all(r.get("decision") == "deny" for r in rows), rows
EOF
check "logs --follow streams new lines" py_check "$P" "$S" "$VNS" "$T" "$PROXY_ADDR" <<'EOF'
import json, select, subprocess, sys, time
P, S, VNS, T, PA = sys.argv[1:6]
f = subprocess.Popen([P, "logs", "--follow", "--client", "au1", "--url", S], stdout=subprocess.PIPE)
try:
    time.sleep(0.5)
    subprocess.run(["ip", "netns", "exec", VNS, "curl", "-q", "-s", "-o", "/dev/null", "-m", "5", "-x",
                    "http://proxy:%s@%s" % (T, PA), "http://plain.bench.test/ok/followed"], check=True)
    end, buf = time.time() + 5, b""
    while time.time() < end and b"/ok/followed" not in buf:
        r, _, _ = select.select([f.stdout], [], [], 0.2)
        if r:
            d = f.stdout.read1(65536)
            if not d:
                break
            buf += d
    assert b"/ok/followed" in buf, buf[-500:]
    line = [l for l in buf.split(b"\n") if b"/ok/followed" in l][0]
    assert json.loads(line)["client"] == "au1"
finally:
    f.kill(); f.wait()
EOF

# ---- --log - ----
check "stop" stop_proxy
logdash() {
	spawn "$HNS" "$P" up --bind "$HOST_IP" --api "$DIR/d.sock" --state-dir "$DIR/state" --log - \
		>"$DIR/stdout.log" 2>"$DIR/stderr.log"
	local pid=$SPAWNED_PID rc=1
	wait_for 10 curl -q -sf --unix-socket "$DIR/d.sock" http://localhost/healthz &&
		wait_for 5 bash -c "ip netns exec $HNS ss -Hltn 'sport = :3128' | grep -q LISTEN" &&
		http_code "$T" http://plain.bench.test/ok/stdout >/dev/null &&
		wait_for 5 grep -q '/ok/stdout' "$DIR/stdout.log" &&
		"$PY" -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]' "$DIR/stdout.log" &&
		rc=0
	kill "$pid"; wait "$pid" 2>/dev/null
	cat "$DIR/stderr.log" >>"$DIR/proxy.log"
	return $rc
}
check "--log - writes JSON lines to stdout" logdash
# stdout a pipe whose reader never reads: records are dropped and counted,
# the proxy goes on serving and stops on SIGTERM
stuck() {
	local pid rc=1 i code t0 t1 reader
	mkfifo "$DIR/stuck.fifo"
	sleep 600 <"$DIR/stuck.fifo" &
	reader=$!
	SPX_PIDS+=("$reader")
	spawn "$HNS" "$P" up --bind "$HOST_IP" --api "$DIR/d.sock" --state-dir "$DIR/state" --log - \
		--workers 2 >"$DIR/stuck.fifo" 2>"$DIR/stuck.err"
	pid=$SPAWNED_PID
	wait_for 10 curl -q -sf --unix-socket "$DIR/d.sock" http://localhost/healthz || return 1
	wait_for 5 bash -c "ip netns exec $HNS ss -Hltn 'sport = :3128' | grep -q LISTEN" || return 1
	# some 400 records: well past what a pipe holds (64 KiB) and the
	# proxy's own buffer
	local n answered=0 stopped=0
	for ((n = 0; n < 400; n++)); do
		code=$(http_code "$T" "http://plain.bench.test/stuck/$n/$(printf '%0200d' 0)")
		case $code in 200 | 403) answered=$((answered + 1)) ;; *) echo "request $n: $code"; break ;; esac
	done
	t0=$(date +%s%N)
	code=$(curl -q -s -m 5 -o /dev/null -w '%{http_code}' --unix-socket "$DIR/d.sock" http://localhost/healthz)
	t1=$(date +%s%N)
	echo "$answered of 400 requests answered; then healthz $code in $(((t1 - t0) / 1000000)) ms"
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || { stopped=1; break; }; sleep 0.1; done
	[ $stopped = 1 ] || { echo "still running 10 s after SIGTERM"; kill -KILL "$pid"; }
	wait "$pid" 2>/dev/null
	kill "$reader" 2>/dev/null
	grep -m2 'dropped' "$DIR/stuck.err"
	cat "$DIR/stuck.err" >>"$DIR/proxy.log"
	[ $answered = 400 ] && [ "$code" = 200 ] && [ $stopped = 1 ] &&
		grep -q 'records dropped' "$DIR/stuck.err" && rc=0
	return $rc
}
check "--log - into a pipe nobody reads: records dropped and counted, requests served, SIGTERM stops it" stuck
# the log file is handed to the user the daemon runs as (nobody here), and
# SIGHUP reopens it after rotation
hup() {
	local pid rc=1 nobody
	nobody=$(id -u nobody)
	chmod 0711 "$DIR"
	mkdir -m 0700 "$DIR/logs" && chown "$nobody:$nobody" "$DIR/logs"
	spawn "$HNS" "$P" up --bind "$HOST_IP" --api "$DIR/d.sock" --state-dir "$DIR/state" \
		--log "$DIR/logs/a.jsonl" >"$DIR/hup.out" 2>&1
	pid=$SPAWNED_PID
	wait_for 10 curl -q -sf --unix-socket "$DIR/d.sock" http://localhost/healthz &&
		wait_for 5 bash -c "ip netns exec $HNS ss -Hltn 'sport = :3128' | grep -q LISTEN" &&
		http_code "$T" http://plain.bench.test/hup/before >/dev/null &&
		wait_for 5 grep -q /hup/before "$DIR/logs/a.jsonl" &&
		[ "$(stat -c %u "$DIR/logs/a.jsonl")" = "$nobody" ] &&
		mv "$DIR/logs/a.jsonl" "$DIR/logs/a.jsonl.1" &&
		kill -HUP "$pid" && sleep 0.5 &&
		http_code "$T" http://plain.bench.test/hup/after >/dev/null &&
		wait_for 5 grep -q /hup/after "$DIR/logs/a.jsonl" &&
		grep -q /hup/before "$DIR/logs/a.jsonl.1" && ! grep -q /hup/after "$DIR/logs/a.jsonl.1" &&
		[ "$(stat -c '%u %a' "$DIR/logs/a.jsonl")" = "$nobody 600" ] && rc=0
	ls -ln "$DIR/logs"
	kill "$pid"; wait "$pid" 2>/dev/null
	cat "$DIR/hup.out" >>"$DIR/proxy.log"
	return $rc
}
check "--log FILE: handed to the run-as user; SIGHUP reopens it after rotation" hup
bench_finish
