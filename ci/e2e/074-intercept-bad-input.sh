#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Failures around interception: upstreams with a wrong-name, unknown-CA,
# self-signed or expired certificate, or no TLS at all, get 502 naming the
# reason (and logged) and never see a request; garbage, plaintext or a
# truncated ClientHello inside an intercepted CONNECT closes that connection
# only; a client that does not trust the proxy CA is a logged "tls" event;
# malformed upstream responses (broken status line, CL+TE, two lengths, NUL,
# obs-fold, head over 64 KiB, no status line) get 502; a broken body ends the
# connection; slow and silent upstreams block no one; no descriptor leaks.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }

# ---- certificates the bench lacks ----
K=$DIR/pki
ossl() { openssl "$@" 2>>"$DIR/openssl.log"; }
mkleaf() { # NAME SUBJECT-CN SAN: key + CSR
	ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
		-keyout "$K/$1.key" -out "$K/$1.csr"
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\n' "$3" >"$K/$1.ext"
}
mkleaf wrong wrong.example DNS:wrong.example
ossl x509 -req -in "$K/wrong.csr" -CA "$K/ca.crt" -CAkey "$K/ca.key" -CAcreateserial -days 2 \
	-extfile "$K/wrong.ext" -out "$K/wrong.crt"
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=unknown CA" \
	-keyout "$K/ca2.key" -out "$K/ca2.crt"
mkleaf unk api.bench.test 'DNS:*.bench.test'
ossl x509 -req -in "$K/unk.csr" -CA "$K/ca2.crt" -CAkey "$K/ca2.key" -CAcreateserial -days 2 \
	-extfile "$K/unk.ext" -out "$K/unk.crt"
mkleaf self api.bench.test 'DNS:*.bench.test'
ossl x509 -req -in "$K/self.csr" -signkey "$K/self.key" -days 2 -extfile "$K/self.ext" -out "$K/self.crt"
mkleaf exp api.bench.test 'DNS:*.bench.test'
mkdir -p "$K/db" && : >"$K/db/index.txt" && echo 1000 >"$K/db/serial"
cat >"$K/ca.cnf" <<EOF
[ca]
default_ca = bench
[bench]
database = $K/db/index.txt
serial = $K/db/serial
new_certs_dir = $K/db
default_md = sha256
policy = any
[any]
commonName = supplied
EOF
ossl ca -batch -config "$K/ca.cnf" -cert "$K/ca.crt" -keyfile "$K/ca.key" -in "$K/exp.csr" -out "$K/exp.crt" \
	-startdate 20200101000000Z -enddate 20200201000000Z -extfile "$K/exp.ext" -notext
check "test certificates made (wrong name, unknown CA, self-signed, expired)" bash -c \
	"for c in wrong unk self exp; do openssl x509 -in '$K/'\$c.crt -noout || exit 1; done; ! openssl x509 -in '$K/exp.crt' -noout -checkend 0"

# ---- extra upstreams on 198.18.0.10, ports the bench does not use ----
xs() { # PORT LOGNAME [ARGS]: tls_bad.py in the net namespace
	local port=$1 name=$2
	shift 2
	spawn "$NNS" "$PY" "$SPX_CI/tls_bad.py" --addr 198.18.0.10 --port "$port" --ready "$DIR/$name.ready" \
		"$@" 2>>"$DIR/$name.log"
}
xs 9441 wrong --cert "$K/wrong.crt" --key "$K/wrong.key"
xs 9442 unk --cert "$K/unk.crt" --key "$K/unk.key"
xs 9443 self --cert "$K/self.crt" --key "$K/self.key"
xs 9444 exp --cert "$K/exp.crt" --key "$K/exp.key"
xs 9445 notls
xs 9450 bad --cert "$K/srv.crt" --key "$K/srv.key"
# a listener that accepts and never says a word
spawn "$NNS" "$PY" -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.10", 9446)); s.listen(16); open(sys.argv[1], "w").write("1\n")
held = []
while len(held) < 64:
    held.append(s.accept())
time.sleep(600)' "$DIR/mute.ready"
check "extra upstreams are up" wait_for 10 bash -c \
	"for n in wrong unk self exp notls bad mute; do test -s '$DIR/'\$n.ready || exit 1; done"

check "daemon starts" start_proxy --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
export T PCA
cli allow vm1 --host api.bench.test --inspect --port 443 --port 9441 --port 9442 --port 9443 --port 9444 \
	--port 9445 --port 9446 --port 9450 >/dev/null
icurl() { in_vm curl -q -sS -m 20 --cacert "$PCA" -x "http://proxy:$T@$PROXY_ADDR" "$@"; }
export -f icurl
# status_body URL: "CODE BODY" of a request through interception
status_body() { icurl -w ' %{http_code}' "$@" 2>&1 | tr '\n' ' '; echo; }
export -f status_body

# the silent upstream: started now, judged at the end (bounded by the connect timeout)
in_vm curl -q -s -m 30 --cacert "$PCA" -x "http://proxy:$T@$PROXY_ADDR" -o "$DIR/mute.body" \
	-w '%{http_code} %{time_total}' https://api.bench.test:9446/ok >"$DIR/mute.out" 2>&1 &
MUTE_CURL=$!
SPX_PIDS+=("$MUTE_CURL")
# clients that go quiet after the CONNECT's 200: one sends nothing (as for a
# protocol whose server speaks first), one half a ClientHello; judged at the
# end (the head timeout is 15 s)
quiet() { # HOW: prints how the connection ended and after how long
	vmpy - "$T" "$1" <<'EOF'
import socket, ssl, sys, time, spxclient
tok, how = sys.argv[1:3]
c = spxclient.Conn(timeout=30)
st, h, b = c.connect("api.bench.test:443", tok)
assert st == 200, st
if how == "half":
    hello = spxclient.client_hello("api.bench.test")
    c.send(hello[:len(hello) // 2])
t0 = time.time()
try:
    got = c.sock.recv(4096)
    print("closed after %d bytes, %.1f s" % (len(got), time.time() - t0))
except socket.timeout:
    print("still open after %.1f s" % (time.time() - t0))
EOF
}
quiet none >"$DIR/quiet-none.out" 2>&1 &
QUIET_NONE=$!
quiet half >"$DIR/quiet-half.out" 2>&1 &
QUIET_HALF=$!
SPX_PIDS+=("$QUIET_NONE" "$QUIET_HALF")
# inside an inspected tunnel, a kept-alive connection whose second head
# never ends (a header line a second): 408 15 s from its first bytes, not
# after the 60 s idle timeout; judged at the end
vmpy - "$T" "$PCA" >"$DIR/slow-ka.out" 2>&1 <<'EOF' &
import sys, time, spxclient
tok, ca = sys.argv[1:3]
c = spxclient.Conn(timeout=25)
st, h, b = c.connect("api.bench.test:443", tok)
assert st == 200, st
c.wrap_tls("api.bench.test", ca)
c.send(b"GET /ka-first HTTP/1.1\r\nHost: api.bench.test\r\n\r\n")
st, h, b = c.read_response()
print("first", st)
time.sleep(2)
c.send(b"GET /ka-second HTTP/1.1\r\nHost: api.bench.test\r\n")
dt = c.dribble(24)
st, h, b = c.read_response()
print("second %d after %.1f s, %s" % (st, dt, "closed" if c.wait_closed(5) else "open"))
EOF
SLOW_KA=$!
SPX_PIDS+=("$SLOW_KA")
check "sanity: a good upstream through interception" expect_re '"path": "/s"' icurl https://api.bench.test/s
# descriptors, less the upstream connections parked for reuse (each event
# loop keeps its own pool, so how many are parked depends on which loop
# took which connection)
fds_unpooled() {
	local n idle
	n=$(ls "/proc/$PROXY_PID/fd" | wc -l)
	idle=$(api GET /metrics | sed -n 's/^slicer_upstream_pool_idle \([0-9]*\)$/\1/p')
	echo $((n - ${idle:-0}))
}
FD0=$(fds_unpooled)

# ---- upstream certificates that do not verify ----
check "wrong-name upstream certificate: 502 naming verification" expect_re '502$' status_body https://api.bench.test:9441/ok
check "... the body names the reason" expect_re 'verif.*(hostname|name) mismatch|mismatch.*verif' \
	icurl https://api.bench.test:9441/ok
check "unknown-CA upstream certificate: 502, verify failed" expect_re 'verif.*(local issuer|unable to get).* 502$' \
	status_body https://api.bench.test:9442/ok
check "self-signed upstream certificate: 502, verify failed" expect_re 'verif.*self.signed.* 502$' \
	status_body https://api.bench.test:9443/ok
check "expired upstream certificate: 502, verify failed" expect_re 'verif.*expired.* 502$' \
	status_body https://api.bench.test:9444/ok
check "upstream without TLS (answers a ClientHello with HTTP 400): 502" expect_re '502$' \
	status_body https://api.bench.test:9445/ok
check "no request ever reached an upstream that failed verification" bash -c \
	"! grep -h ' REQ ' '$DIR/wrong.log' '$DIR/unk.log' '$DIR/self.log' '$DIR/exp.log'"
check "the plain server saw a TLS handshake, never an HTTP request from us" bash -c \
	"grep -q ' HELLO ' '$DIR/notls.log' && ! grep -q ' REQ ' '$DIR/notls.log'"
check "audit: verification failures are error records with status 502 and the reason" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for port in (9441, 9442, 9443, 9444):
    r = [r for r in rows if r["port"] == port and r["event"] == "request"]
    assert r, ("no record for", port)
    r = r[0]
    print(r)
    assert r["decision"] == "error" and r["status"] == 502 and "verif" in (r["reason"] or ""), r
    assert r["mode"] == "intercept" and r["client"] == "vm1", r
EOF

# ---- what the client sends inside an intercepted CONNECT ----
inner() { # EXPR [shut]: bytes sent after the CONNECT's 200; prints how it ended
	vmpy - "$T" "$@" <<'EOF'
import os, socket, ssl, sys, spxclient
tok, expr = sys.argv[1:3]
shut = len(sys.argv) > 3
c = spxclient.Conn(timeout=8)
st, h, b = c.connect("api.bench.test:443", tok)
assert st == 200, st
HELLO = spxclient.client_hello("api.bench.test")  # a real one, for cutting
c.send(eval(expr, {"HELLO": HELLO, "os": os}))
if shut:
    c.sock.shutdown(socket.SHUT_WR)
got = b""
try:
    while len(got) < 1 << 20:
        d = c.sock.recv(65536)
        if not d:
            break
        got += d
    print("closed after", len(got), "bytes:", got[:40])
except ConnectionResetError:
    print("reset after", len(got), "bytes")
except socket.timeout:
    print("still open after", len(got), "bytes")
    sys.exit(1)
assert b"HTTP/1.1 200" not in got and b'"path"' not in got, got[:200]
EOF
}
check "garbage instead of a ClientHello: connection closed" inner "os.urandom(3000)"
check "a TLS record header with a huge length then garbage: closed" inner "b'\\x16\\x03\\x01\\xff\\xff' + b'A' * 4000"
check "plain HTTP instead of TLS inside an intercepted CONNECT: closed" \
	inner "b'GET /plain-in-tls HTTP/1.1\\r\\nHost: api.bench.test\\r\\n\\r\\n'"
check "... and that request never reached the upstream" bash -c "! grep -q ' /plain-in-tls ' '$DIR/upstream.log'"
check "a truncated ClientHello then EOF: closed" inner "HELLO[:len(HELLO) // 2]" shut
check "a ClientHello cut after 5 bytes then EOF: closed" inner "HELLO[:5]" shut
stalled() {
	vmpy - "$T" "$PCA" <<'EOF'
import os, ssl, subprocess, sys, time, spxclient
tok, ca = sys.argv[1:3]
held = []
for n in range(10):
    c = spxclient.Conn(timeout=8)
    st, h, b = c.connect("api.bench.test:443", tok); assert st == 200, st
    c.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(20))  # a ClientHello cut short
    held.append(c)
t0 = time.time()
r = subprocess.run(["curl", "-q", "-sS", "-m", "5", "--cacert", ca, "-x",
                    "http://proxy:%s@192.168.222.1:3128" % tok, "-o", "/dev/null", "-w", "%{http_code}",
                    "https://api.bench.test/during"], capture_output=True, text=True)
dt = time.time() - t0
print(r.stdout, r.stderr, round(dt, 2))
assert r.stdout == "200" and dt < 3, (r.stdout, dt)
EOF
}
check "10 clients stalled mid-ClientHello do not block another client" stalled
check "a client that does not trust the proxy CA fails the handshake" expect_re '^60$' bash -c \
	"in_vm curl -q -s -m 5 --cacert '$CA' -x http://proxy:$T@$PROXY_ADDR -o /dev/null https://api.bench.test/untrusted; echo \$?"
check "... and that is an audit tls event with decision error" py_check "$AUDIT" <<'EOF'
import json, sys, time
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["event"] == "tls" and r["decision"] == "error" and r["host"] == "api.bench.test"]
print(r[-1:])
assert r and r[-1]["client"] == "vm1" and r[-1]["mode"] == "intercept", r[-1:]
EOF
check "a TLS 1.0-only client is refused" bash -c \
	"! in_vm timeout 10 openssl s_client -proxy $PROXY_ADDR -proxy_user proxy -proxy_pass pass:$T -connect api.bench.test:443 \
		-servername api.bench.test -tls1 -CAfile '$PCA' -verify_return_error </dev/null >/dev/null 2>&1"
check "the proxy still serves after the bad clients" expect_re '"path": "/after-bad"' icurl https://api.bench.test/after-bad

# ---- malformed upstream responses (port 9450) ----
B=https://api.bench.test:9450
check "sanity: the misbehaving server's good answer" expect "ok 200" bash -c "icurl -w '%{http_code}' $B/ok | tr '\n' ' ' | sed 's/ \$//'"
check "broken status line: 502" expect_re '502$' status_body $B/garbage
check "no response at all: 502" expect_re '502$' status_body $B/empty
check "connection reset instead of a response: 502" expect_re '502$' status_body $B/reset
check "Content-Length with Transfer-Encoding: 502" expect_re '502$' status_body $B/cl-te
check "two different Content-Length: 502" expect_re '502$' status_body $B/dup-cl
check "NUL in a response header: 502" expect_re '502$' status_body $B/nul
check "no status line at all (HTTP/0.9 style): 502" expect_re '502$' status_body $B/http09
fold() {
	local out
	out=$(icurl -D - -o /dev/null -w '%{http_code}' "$B/fold" 2>&1)
	echo "$out"
	case $out in *502) return 0 ;; esac
	# relayed: then never as a folded line
	! printf '%s' "$out" | grep -q $'^ two'
}
check "obs-fold in a response: 502, or unfolded" fold
check "response head of 70000 bytes (over 64 KiB): 502" expect_re '502$' status_body "$B/bighead?n=70000"
check "response head just over 64 KiB: 502" expect_re '502$' status_body "$B/bighead?n=65536"
check "response head of 60000 bytes (under 64 KiB): 200" expect_re ' 200$' status_body "$B/bighead?n=60000"
check "the bench upstream's 100 KB head: 502" expect_re '502$' status_body "https://api.bench.test/bighead?n=100000"
check "a response trickled one byte every 10 ms: whole" expect "trickled 200" bash -c \
	"icurl -w '%{http_code}' '$B/trickle?ms=10' | tr '\n' ' ' | sed 's/ \$//'"
check "bad chunk size mid-body: the client sees a broken transfer, not a whole response" bash -c \
	"out=\$(icurl -o '$DIR/badchunk.body' '$B/bad-chunk' 2>&1); rc=\$?; echo \"rc=\$rc \$out\"; [ \$rc != 0 ]"
check "body shorter than Content-Length: the client sees a broken transfer" bash -c \
	"out=\$(icurl -o '$DIR/short.body' '$B/short' 2>&1); rc=\$?; echo \"rc=\$rc \$out\"; [ \$rc = 18 ] || [ \$rc = 56 ] || [ \$rc = 92 ]"
check "audit: malformed responses are error records" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for p in ("/garbage", "/cl-te", "/dup-cl", "/bighead", "/bad-chunk"):
    r = [r for r in rows if r["port"] == 9450 and r["event"] == "request" and r.get("path") == p]
    assert r, ("no record for", p)
    print(r[0])
    assert r[0]["decision"] == "error" and r[0]["mode"] == "intercept", r[0]
    if p != "/bad-chunk":
        assert r[0]["status"] == 502, r[0]
EOF
check "the proxy still serves the misbehaving server's good answer" expect "ok 200" bash -c \
	"icurl -w '%{http_code}' $B/ok | tr '\n' ' ' | sed 's/ \$//'"

# ---- slow upstreams block no one ----
slow_py() {
	vmpy - "$T" "$PCA" <<'EOF'
import subprocess, sys, time
tok, ca = sys.argv[1:3]
base = ["curl", "-q", "-sS", "-m", "15", "--cacert", ca, "-x", "http://proxy:%s@192.168.222.1:3128" % tok,
        "-o", "/dev/null", "-w", "%{http_code}"]
slow = [subprocess.Popen(base + ["https://api.bench.test:9450/slowhead?ms=4000"], stdout=subprocess.PIPE, text=True)
        for _ in range(3)]
slow.append(subprocess.Popen(base + ["https://api.bench.test/slow?ms=4000"], stdout=subprocess.PIPE, text=True))
time.sleep(0.5)
times = []
for i in range(5):
    t0 = time.time()
    r = subprocess.run(base + ["https://api.bench.test:9450/ok"], capture_output=True, text=True)
    times.append(round(time.time() - t0, 2))
    assert r.stdout == "200", (i, r.stdout, r.stderr)
outs = [p.communicate(timeout=15)[0] for p in slow]
print(times, outs)
assert max(times) < 1.5, times
assert outs == ["200"] * 4, outs
EOF
}
check "four slow upstream answers (4 s) do not delay other clients" slow_py
mute() {
	local i
	for ((i = 0; i < 250; i++)); do kill -0 "$MUTE_CURL" 2>/dev/null || break; sleep 0.1; done
	cat "$DIR/mute.out"; echo; head -c 300 "$DIR/mute.body" 2>/dev/null
	grep -Eq '^(502|504) ' "$DIR/mute.out"
}
check "an upstream that never answers the TLS handshake: 502/504 within the connect timeout" mute
check "... and that timeout is an audit error record" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["port"] == 9446 and r["event"] == "request"]
print(r)
assert r and r[0]["decision"] == "error" and r[0]["status"] in (502, 504), r
EOF

quiet_closed() { # PID FILE
	local i
	for ((i = 0; i < 300; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	cat "$2"
	grep -Eq '^closed after 0 bytes, (1[4-9]|2[0-9])\.' "$2"
}
check "a client silent after the 200 of an inspected CONNECT: closed after the head timeout" \
	quiet_closed "$QUIET_NONE" "$DIR/quiet-none.out"
check "a client stalled in its ClientHello: closed after the head timeout" \
	quiet_closed "$QUIET_HALF" "$DIR/quiet-half.out"
slow_ka() {
	local i
	for ((i = 0; i < 300; i++)); do kill -0 "$SLOW_KA" 2>/dev/null || break; sleep 0.1; done
	cat "$DIR/slow-ka.out"
	grep -qx 'first 200' "$DIR/slow-ka.out" &&
		grep -Eq '^second 408 after 1[4-9]\.[0-9] s, closed$' "$DIR/slow-ka.out"
}
check "a kept-alive intercepted connection's next head that never ends: 408 15 s from its first bytes" slow_ka
check "... audited: the connect, then a tls error saying which" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t = [r for r in rows if r["event"] == "tls" and r["decision"] == "error" and
     r["reason"].startswith(("client TLS handshake timed out", "client sent nothing"))]
print(t)
why = sorted(r["reason"] for r in t)
assert len(t) == 2 and all(r["port"] == 443 and r["client"] == "vm1" for r in t), t
assert why[0] == "client TLS handshake timed out", why
assert why[1].startswith("client sent nothing after the 200"), why
for r in t:
    c = [x for x in rows if x["event"] == "connect" and x["conn"] == r["conn"]]
    assert len(c) == 1 and c[0]["decision"] == "allow" and rows.index(c[0]) < rows.index(r), (r, c)
EOF

# ---- no leaks ----
leak() {
	local i n
	for ((i = 0; i < 50; i++)); do
		n=$(fds_unpooled)
		[ "$n" -le $((FD0 + 2)) ] && { echo "fds (not parked): $FD0 -> $n"; return 0; }
		sleep 0.1
	done
	echo "fds (not parked): $FD0 -> $n"; ls -l "/proc/$PROXY_PID/fd" | tail -20
	in_host ss -tuanp | grep "pid=$PROXY_PID,"
	return 1
}
check "no descriptor left open after all the failures" leak
bench_finish
