#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The TLS proxy port (--https-port 3129): its certificate (from the proxy CA,
# IP SAN of the bind address); HTTPS_PROXY=https://proxy:TOKEN@ADDR:3129 for
# plain tunnels, intercepted HTTPS (TLS in TLS) with secrets, and plain
# http:// requests; 407 without a token; the guest endpoints; bad clients on
# that port (plain HTTP, garbage, silence, an untrusting client) do not stop
# it; the audit log has the real peer.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
BIG_SHA=$(bench_file big5 5)
check "daemon starts with --https-port 3129" start_proxy --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
check "port 3129 is listening on the bind address only" expect_re '^192\.168\.222\.1:3129$' \
	bash -c "in_host ss -Hltn 'sport = :3129' | awk '{print \$4}'"
T=$(new_client vm1)
# clients that finish the TLS handshake and then say nothing, and keep
# their sockets open after the proxy's end: started now, judged at the end
# (the connection's idle timeout is 15 s)
vmpy - "$DIR/orphans.ready" >"$DIR/orphans.out" 2>&1 <<'EOF' &
import socket, ssl, sys, time
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
socks = [ctx.wrap_socket(socket.create_connection(("192.168.222.1", 3129), timeout=30)) for _ in range(3)]
t0 = time.time()
for s in socks:
    try:
        print("end after %.1f s: %r" % (time.time() - t0, s.recv(100)))
    except (ssl.SSLError, OSError) as e:
        print("end after %.1f s: %s" % (time.time() - t0, e))
time.sleep(8)
open(sys.argv[1], "w").write("1\n")  # still open: what does the proxy hold?
time.sleep(20)
EOF
ORPHANS=$!
SPX_PIDS+=("$ORPHANS")
T2=$(new_client vm2)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
cat "$PCA" "$CA" >"$DIR/both.crt"
export T PCA
SEC=sek-tlsport-4d8e2a9c71b3
printf '%s' "$SEC" | cli secret create tp --host api.bench.test --value-stdin >/dev/null
R_PLAIN=$(cli allow vm1 --host plain.bench.test)
cli allow vm1 --host api.bench.test --inspect >/dev/null
cli allow vm1 --host api.bench.test --secret tp --method POST --path /v1/tp >/dev/null
cli allow vm1 --host plain.bench.test --port 80 >/dev/null
TX="https://proxy:$T@192.168.222.1:3129"
# tcurl ARGS: curl from the vm through the TLS proxy port (trusting the proxy CA for it)
tcurl() { in_vm curl -q -sS -m 15 --proxy-cacert "$PCA" -x "$TX" "$@"; }
export -f tcurl
export TX

# ---- the port's certificate ----
in_vm timeout 10 openssl s_client -connect 192.168.222.1:3129 </dev/null 2>/dev/null | openssl x509 >"$DIR/front.pem" 2>/dev/null
check "the TLS port's certificate is issued by the proxy CA" expect_re ': OK$' \
	openssl verify -CAfile "$PCA" "$DIR/front.pem"
check "... and has IP:192.168.222.1 in its SAN" expect_re 'IP Address:192\.168\.222\.1' \
	openssl x509 -in "$DIR/front.pem" -noout -ext subjectAltName
check "... and verifies for that IP" expect_re ': OK$' openssl verify -CAfile "$PCA" -verify_ip 192.168.222.1 "$DIR/front.pem"
check "openssl s_client verifies the port (no SNI needed)" expect_re 'Verify return code: 0 \(ok\)' \
	bash -c "in_vm timeout 10 openssl s_client -connect 192.168.222.1:3129 -CAfile '$PCA' -verify_ip 192.168.222.1 -verify_return_error </dev/null 2>&1"

# ---- three kinds of request through it ----
check "plain tunnel through the TLS port: the upstream's own certificate" expect_re '"host": "plain\.bench\.test"' \
	tcurl --cacert "$CA" https://plain.bench.test/tp1
check "plain tunnel: pinning the upstream key works" expect 200 tcurl --cacert "$CA" -o /dev/null -w '%{http_code}' \
	--pinnedpubkey "sha256//$(openssl x509 -in "$DIR/pki/srv.crt" -pubkey -noout | openssl pkey -pubin -outform der 2>/dev/null | openssl dgst -sha256 -binary | base64)" \
	https://plain.bench.test/tp2
check "intercepted HTTPS through the TLS port (TLS in TLS)" expect_re '"path": "/tp3"' \
	tcurl --cacert "$PCA" https://api.bench.test/tp3
check "intercepted: trusting only the bench CA fails (it is the proxy's leaf)" bash -c \
	"! tcurl --cacert '$CA' -o /dev/null https://api.bench.test/tp4"
check "secret injected through the TLS port" expect_re "\"authorization\": \"Bearer $SEC\"" \
	tcurl --cacert "$PCA" -X POST -d '{}' -H 'Authorization: Bearer fake' https://api.bench.test/v1/tp
check "another path (allowed by --inspect only) goes without the secret" bash -c \
	"out=\$(tcurl --cacert '$PCA' -X POST -d '{}' https://api.bench.test/v1/other); echo \"\$out\" | grep -q '/v1/other' && ! echo \"\$out\" | grep -qF '$SEC'"
check "plain http:// request through the TLS port" expect_re '"scheme": "http"' tcurl http://plain.bench.test/tp5
check "plain http:// request: no proxy credential reaches the upstream" bash -c \
	"! tcurl http://plain.bench.test/tp6 | grep -qi 'proxy-auth'"
check "5 MiB through a tunnel in the TLS port is intact" expect "$BIG_SHA" \
	bash -c "tcurl --cacert '$CA' https://plain.bench.test/file/big5 | sha256sum | cut -d' ' -f1"
check "5 MiB through interception in the TLS port is intact" expect "$BIG_SHA" \
	bash -c "tcurl --cacert '$PCA' https://api.bench.test/file/big5 | sha256sum | cut -d' ' -f1"
check "curl reuses one TLS-port connection for two intercepted URLs" expect "1 0" bash -c \
	"echo \$(tcurl --cacert '$PCA' -o /dev/null -o /dev/null -w '%{num_connects}\n' https://api.bench.test/r1 https://api.bench.test/r2)"
check "keep-alive: three http:// requests on one TLS-port connection" vmpy - "$T" <<'EOF'
import base64, json, socket, ssl, sys
tok = sys.argv[1]
ctx = ssl.create_default_context(cafile="%s" % __import__("os").environ["PCA"])
s = ctx.wrap_socket(socket.create_connection(("192.168.222.1", 3129), timeout=10), server_hostname="192.168.222.1")
import spxclient
c = spxclient.Conn.__new__(spxclient.Conn)
c.sock, c.buf, c.timeout = s, b"", 10
for i in range(3):
    st, h, b = c.request("GET", "http://plain.bench.test/ka/%d" % i, tok)
    assert st == 200 and json.loads(b)["path"] == "/ka/%d" % i, (st, b[:80])
EOF

# ---- authentication and guest endpoints ----
check "no token on the TLS port: 407" expect 407 bash -c \
	"in_vm curl -q -s -m 5 --proxy-cacert '$PCA' -x https://192.168.222.1:3129 -o /dev/null -w '%{http_connect}' https://plain.bench.test/"
check "wrong token on the TLS port: 407" expect 407 bash -c \
	"in_vm curl -q -s -m 5 --proxy-cacert '$PCA' -x https://proxy:spi_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA@192.168.222.1:3129 -o /dev/null -w '%{http_connect}' https://plain.bench.test/"
check "another client's token: its own (empty) rules, 403" expect 403 bash -c \
	"in_vm curl -q -s -m 5 --proxy-cacert '$PCA' -x https://proxy:$T2@192.168.222.1:3129 -o /dev/null -w '%{http_connect}' https://plain.bench.test/"
check "/slicer/ca.crt on the TLS port is the CA" bash -c \
	"in_vm curl -q -sS -m 5 --cacert '$PCA' https://192.168.222.1:3129/slicer/ca.crt | cmp - '$PCA'"
check "/slicer/whoami on the TLS port names the client" expect_re '"client": ?"vm1"' \
	in_vm curl -q -sS -m 5 --cacert "$PCA" -H "Proxy-Authorization: Bearer $T" https://192.168.222.1:3129/slicer/whoami
check "python requests with an https:// proxy" vmpy - "$T" "$DIR/both.crt" <<'EOF'
import json, sys, requests
tok, bundle = sys.argv[1:3]
px = "https://proxy:%s@192.168.222.1:3129" % tok
r = requests.get("https://api.bench.test/req", proxies={"https": px, "http": px}, verify=bundle, timeout=10)
assert r.status_code == 200 and r.json()["path"] == "/req", (r.status_code, r.text[:200])
r = requests.get("http://plain.bench.test/req2", proxies={"https": px, "http": px}, verify=bundle, timeout=10)
assert r.status_code == 200 and r.json()["path"] == "/req2", (r.status_code, r.text[:200])
EOF

# ---- bad clients on the TLS port ----
check "a client that does not trust the proxy CA fails the handshake" bash -c \
	"! in_vm curl -q -sS -m 5 -x '$TX' --cacert '$CA' -o /dev/null https://plain.bench.test/"
check "plain HTTP to the TLS port gets no HTTP answer" bash -c \
	"out=\$(rawsend --port 3129 --token '$T' --timeout 5 --send \"b'GET http://plain.bench.test/nope HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'\"); echo \"\$out\"; case \$out in HTTP/1.1\ 200*|TIMEOUT) exit 1;; esac"
check "... and it never reached the upstream" bash -c "! grep -q ' /nope ' '$DIR/upstream.log'"
check "garbage to the TLS port: closed" expect "EOF|RESET" bash -c \
	"rawsend --port 3129 --timeout 5 --send 'bytes(range(256)) * 8' | cut -c1-5 | grep -E '^(EOF|RESET)' || echo got-something"
silent() {
	vmpy - "$T" <<'EOF'
import os, socket, ssl, subprocess, sys, time
tok = sys.argv[1]
idle = [socket.create_connection(("192.168.222.1", 3129), timeout=5) for _ in range(20)]
half = socket.create_connection(("192.168.222.1", 3129), timeout=5)
half.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")  # a ClientHello cut short
t0 = time.time()
r = subprocess.run(["curl", "-q", "-sS", "-m", "5", "--proxy-cacert", os.environ["PCA"], "-x", os.environ["TX"],
                    "-o", "/dev/null", "-w", "%{http_code}", "http://plain.bench.test/during"],
                   capture_output=True, text=True)
dt = time.time() - t0
print(r.stdout, r.stderr, round(dt, 2))
assert r.stdout == "200" and dt < 3, (r.stdout, dt)
EOF
}
check "20 silent connections and a cut-short handshake do not block another client" silent
check "the TLS port still serves after all that" expect_re '"path": "/end"' tcurl --cacert "$PCA" https://api.bench.test/end

orphans() {
	local n
	wait_for 40 test -s "$DIR/orphans.ready" || { cat "$DIR/orphans.out"; return 1; }
	cat "$DIR/orphans.out"
	n=$(ip netns exec "$HNS" ss -Htnp state connected '( sport = :3129 )' | grep -c "pid=$PROXY_PID,")
	echo "proxy sockets on :3129: $n"
	[ "$n" -eq 0 ]
}
check "clients silent after the handshake, kept open after the proxy's end: the TLS port lets them go" orphans

# ---- audit ----
sleep 0.3
check "audit: requests via the TLS port carry the real peer and their mode" py_check "$AUDIT" "$R_PLAIN" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t = [r for r in rows if r["event"] == "connect" and r["host"] == "plain.bench.test" and r["port"] == 443]
i = [r for r in rows if r["event"] == "request" and r.get("path") == "/tp3"]
f = [r for r in rows if r["event"] == "request" and r.get("path") == "/tp5"]
s = [r for r in rows if r["event"] == "request" and r.get("path") == "/v1/tp"]
print(t[:1], i, f, s)
assert t and t[0]["mode"] == "tunnel" and t[0]["peer"] == "192.168.222.2" and t[0]["rule"] == sys.argv[2], t
assert i and i[0]["mode"] == "intercept" and i[0]["peer"] == "192.168.222.2" and i[0]["status"] == 200, i
assert f and f[0]["mode"] == "forward" and f[0]["peer"] == "192.168.222.2", f
assert s and s[0]["secret"] == "tp" and s[0]["status"] == 200, s
EOF
check "the secret never appears in the audit log or the proxy's output" bash -c "! grep -qF '$SEC' '$AUDIT' '$DIR/proxy.log'"
bench_finish
