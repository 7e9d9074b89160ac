#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Streams through interception: WebSocket upgrades judged as requests (a path
# not allowed is 403 and never reaches the server; a secret is injected into
# the upgrade request), then relayed both ways (text, 200 KB binary, ping);
# an upgrade the upstream declines leaves an HTTP connection that is judged
# again; an Upgrade to anything but WebSocket alone is dropped (h2c would
# carry requests no one judges); revoking the rule ends an open WebSocket; WebSocket through a plain
# tunnel; server-sent events arrive as they are sent, intercepted, with a
# secret, and through the TLS proxy port.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
spawn "$NNS" "$PY" "$SPX_CI/tls_ws.py" --addr 198.18.0.10 --port 9460 \
	--cert "$DIR/pki/srv.crt" --key "$DIR/pki/srv.key" --ready "$DIR/ws.ready" 2>>"$DIR/ws.log"
spawn "$NNS" "$PY" "$SPX_CI/tls_ws.py" --addr 198.18.0.10 --port 9461 \
	--ready "$DIR/ws-plain.ready" 2>>"$DIR/ws.log"
check "WebSocket echo server is up" wait_for 10 test -s "$DIR/ws.ready"
check "... and its plain twin" wait_for 10 test -s "$DIR/ws-plain.ready"
check "daemon starts" start_proxy --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
export T PCA
export SEC=sek-ws-8c1e5a7d3f20b9
printf '%s' "$SEC" | cli secret create wsk --host api.bench.test --value-stdin >/dev/null
R_WS=$(cli allow vm1 --host api.bench.test --port 9460 --method GET --path /ws/echo --path /plain)
cli allow vm1 --host api.bench.test --port 9460 --method GET --path /ws/auth --secret wsk >/dev/null
cli allow vm1 --host plain.bench.test --port 9460 >/dev/null
cli allow vm1 --host plain.bench.test --port 9461 >/dev/null

# ws_py HOST PORT CAFILE PATH: python on stdin with ws = an open WebSocket
# (upgrade done through the proxy, first server message in ws.hello);
# CAFILE none: plain HTTP inside the CONNECT
ws_py() {
	local code
	code=$(cat)
	vmpy - "$T" "$@" <<EOF
import base64, json, os, socket, ssl, struct, sys, time, spxclient
tok, host, port, ca, path = sys.argv[1:6]
class WS:
    def __init__(self):
        self.c = spxclient.Conn(timeout=10)
        st, h, b = self.c.connect("%s:%s" % (host, port), tok)
        assert st == 200, ("CONNECT", st)
        if ca != "none":
            self.c.wrap_tls(host, ca)
    def upgrade(self, path, extra=()):
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: %s:%s" % (host, port), "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        lines += ["%s: %s" % kv for kv in extra]
        self.c.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.c.read_response(skip_1xx=False)
    def send(self, op, data):
        mask = os.urandom(4)
        n = len(data)
        h = bytes([0x80 | op]) + (bytes([0x80 | n]) if n < 126 else
            struct.pack("!BH", 0x80 | 126, n) if n < 65536 else struct.pack("!BQ", 0x80 | 127, n))
        self.c.send(h + mask + bytes(b ^ mask[i & 3] for i, b in enumerate(data)))
    def recv(self):
        b0, b1 = self.c._exact(2)
        n = b1 & 0x7F
        if n == 126: n = struct.unpack("!H", self.c._exact(2))[0]
        elif n == 127: n = struct.unpack("!Q", self.c._exact(8))[0]
        assert not b1 & 0x80, "server frames are not masked"
        return b0 & 0x0F, self.c._exact(n)
ws = WS()
if path != "-":
    st, h, b = ws.upgrade(path)
    assert st == 101, (st, b[:200])
    op, hello = ws.recv()
    ws.hello = json.loads(hello)
$code
EOF
}

# ---- WebSocket through interception ----
check "WebSocket: upgraded, echoes text, 200 KB binary and ping, closes cleanly" \
	ws_py api.bench.test 9460 "$PCA" /ws/echo <<'EOF'
assert ws.hello["target"] == "/ws/echo" and ws.hello["host"] == "api.bench.test:9460", ws.hello
ws.send(1, b"hello through the proxy")
assert ws.recv() == (1, b"hello through the proxy")
blob = os.urandom(200000)
ws.send(2, blob)
op, got = ws.recv()
assert op == 2 and got == blob, (op, len(got))
for i in range(20):
    ws.send(1, b"m%d" % i)
for i in range(20):
    assert ws.recv() == (1, b"m%d" % i)
ws.send(9, b"pi")
assert ws.recv() == (10, b"pi")
ws.send(8, struct.pack("!H", 1000))
op, d = ws.recv()
assert op == 8, op
assert ws.c.wait_closed(5), "not closed after the close handshake"
EOF
check "WebSocket: the leaf the client verified was the proxy's (intercepted)" \
	ws_py api.bench.test 9460 "$PCA" - <<'EOF'
cert = ws.c.sock.getpeercert()
print(cert["issuer"])
assert "spx bench" not in json.dumps(cert["issuer"])
EOF
check "WebSocket path not allowed: 403, never reaches the server" ws_py api.bench.test 9460 "$PCA" - <<'EOF'
st, h, b = ws.upgrade("/ws/other")
print(st, b[:200])
assert st == 403, st
EOF
check "... the server saw no request for it" bash -c "! grep -q ' /ws/other ' '$DIR/ws.log'"
check "WebSocket upgrade with POST (rule says GET): 403" ws_py api.bench.test 9460 "$PCA" - <<'EOF'
ws.c.send(b"POST /ws/echo HTTP/1.1\r\nHost: api.bench.test:9460\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n")
st, h, b = ws.c.read_response(skip_1xx=False)
assert st == 403, st
EOF
check "WebSocket with a secret: injected into the upgrade request, the client's replaced" \
	ws_py api.bench.test 9460 "$PCA" - <<'EOF'
st, h, b = ws.upgrade("/ws/auth", [("Authorization", "Bearer client-own")])
assert st == 101, st
op, hello = ws.recv()
hd = json.loads(hello)["headers"]
print(hd)
assert hd["authorization"] == "Bearer " + os.environ["SEC"], hd
ws.send(1, b"x")
assert ws.recv() == (1, b"x")
EOF
check "an upgrade the upstream declines: the connection stays HTTP and is judged again" \
	ws_py api.bench.test 9460 "$PCA" - <<'EOF'
st, h, b = ws.upgrade("/plain")
assert st == 200 and json.loads(b)["target"] == "/plain", (st, b[:100])
ws.c.send(b"GET /not-allowed HTTP/1.1\r\nHost: api.bench.test:9460\r\n\r\n")
st, h, b = ws.c.read_response()
assert st == 403, st
EOF
check "... the request after it never reached the server" bash -c "! grep -q ' /not-allowed ' '$DIR/ws.log'"
check "an Upgrade other than WebSocket alone (h2c, websocket) is dropped: the request goes plain, the next is judged" \
	ws_py api.bench.test 9460 "$PCA" - <<'EOF'
ws.c.send(b"GET /ws/echo HTTP/1.1\r\nHost: api.bench.test:9460\r\nUpgrade: h2c, websocket\r\n"
          b"Connection: Upgrade, HTTP2-Settings\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n"
          b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
st, h, b = ws.c.read_response(skip_1xx=False)
print(st, b[:300])
assert st == 200, st
seen = json.loads(b)["headers"]
assert "upgrade" not in seen and "http2-settings" not in seen, seen
assert "upgrade" not in seen.get("connection", "").lower(), seen
ws.c.send(b"DELETE /ws/echo HTTP/1.1\r\nHost: api.bench.test:9460\r\n\r\n")
st, h, b = ws.c.read_response()
assert st == 403, st
EOF
check "... the DELETE never reached the server" bash -c "! grep -q 'DELETE /ws/echo' '$DIR/ws.log'"
revoke_ws() {
	ws_py api.bench.test 9460 "$PCA" /ws/echo <<'EOF'
import subprocess
ws.send(1, b"before")
assert ws.recv() == (1, b"before")
subprocess.run([os.environ["P"], "revoke", "vm1", os.environ["R_WS"], "--url", os.environ["S"]], check=True,
               capture_output=True)
t0 = time.time()
try:
    for i in range(30):
        ws.send(1, b"after")
        ws.c.sock.settimeout(0.2)
        try:
            if ws.recv() == (1, b"after") and time.time() - t0 > 3:
                raise AssertionError("still relaying 3 s after the revocation")
        except socket.timeout:
            pass
        time.sleep(0.1)
    raise AssertionError("still open 3 s after the revocation")
except (spxclient.Closed, ConnectionError, ssl.SSLError, BrokenPipeError) as e:
    print("closed %.2f s after the revocation: %r" % (time.time() - t0, e))
EOF
}
export R_WS S
check "revoking the rule ends an open intercepted WebSocket" revoke_ws
check "WebSocket through a plain tunnel (the upstream's own certificate)" \
	ws_py plain.bench.test 9460 "$CA" /ws/echo <<'EOF'
ws.send(1, b"tunnelled")
assert ws.recv() == (1, b"tunnelled")
assert "spx bench" in json.dumps(ws.c.sock.getpeercert()["issuer"])
EOF
check "WebSocket over plain HTTP through a host-level tunnel: the upgrade judged, then relayed" \
	ws_py plain.bench.test 9461 none /ws/echo <<'EOF'
ws.send(1, b"plain tunnelled")
assert ws.recv() == (1, b"plain tunnelled")
ws.send(2, os.urandom(70000))
assert ws.recv()[0] == 2
EOF
check "... its upgrade is a request record (scheme http, 101)" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["event"] == "request" and r.get("port") == 9461]
print(r[:2])
assert r and r[0]["scheme"] == "http" and r[0]["status"] == 101 and r[0]["path"] == "/ws/echo", r[:1]
EOF

# ---- server-sent events ----
cli allow vm1 --host api.bench.test --inspect --path /sse >/dev/null
sse_py() { # MODE: events must arrive as they are sent (first within 0.5 s, ~0.3 s apart)
	vmpy - "$T" "$PCA" "$1" <<'EOF'
import base64, http.client, os, ssl, subprocess, sys, time
tok, ca, mode = sys.argv[1:4]
times = []
t0 = time.time()
if mode == "tls-port":
    p = subprocess.Popen(["curl", "-q", "-sN", "-m", "10", "--cacert", ca, "--proxy-cacert", ca, "-x",
                          "https://proxy:%s@192.168.222.1:3129" % tok, "https://api.bench.test/sse?n=4&ms=300"],
                         stdout=subprocess.PIPE)
    for line in p.stdout:
        if line.startswith(b"data:"):
            times.append(time.time() - t0)
    p.wait()
else:
    ctx = ssl.create_default_context(cafile=ca)
    c = http.client.HTTPSConnection("192.168.222.1", 3128, context=ctx, timeout=5)
    c.set_tunnel("api.bench.test", 443, headers={"Proxy-Authorization": "Basic " +
                 base64.b64encode(("proxy:" + tok).encode()).decode()})
    hdrs = {"Authorization": "Bearer x"} if mode == "secret" else {}
    c.request("GET", "/sse?n=4&ms=300", headers=hdrs)
    r = c.getresponse()
    assert r.status == 200, r.status
    while True:
        line = r.readline()  # chunked decoding; b"" at the last chunk
        if not line:
            break
        if line.startswith(b"data:"):
            times.append(time.time() - t0)
    # the stream ended with its last chunk: the connection goes on, or is
    # closed cleanly (never left hanging)
    try:
        c.request("GET", "/sse?n=1&ms=0", headers=hdrs)
        r = c.getresponse()
        assert r.status == 200 and r.read().startswith(b"data: 0"), r.status
        print("connection reused after the stream")
    except (http.client.RemoteDisconnected, ConnectionError, ssl.SSLEOFError) as e:
        print("connection closed after the stream:", repr(e))
gaps = [round(b - a, 3) for a, b in zip(times, times[1:])]
print([round(t, 3) for t in times], gaps)
assert len(times) == 4, times
assert times[0] < 0.5, times
assert all(0.15 < g < 0.6 for g in gaps), gaps
EOF
}
check "SSE through interception: events arrive as sent, the stream ends cleanly" sse_py plain
check "SSE through the TLS proxy port (TLS in TLS): events arrive as sent" sse_py tls-port
cli revoke vm1 --host api.bench.test >/dev/null
cli allow vm1 --host api.bench.test --secret wsk --path /sse >/dev/null
check "SSE on a secret rule: events arrive as sent, the stream ends cleanly" sse_py secret
check "audit: the upgrade is a request record (intercept, 101)" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["event"] == "request" and r.get("path") == "/ws/echo" and r["port"] == 9460]
print(r[:2])
assert r and r[0]["mode"] == "intercept" and r[0]["status"] == 101 and r[0]["decision"] == "allow", r[:1]
a = [r for r in rows if r["event"] == "request" and r.get("path") == "/ws/auth"]
assert a and a[0]["secret"] == "wsk", a[:1]
EOF
check "the secret never appears in the audit log or the proxy's output" bash -c "! grep -qF '$SEC' '$AUDIT' '$DIR/proxy.log'"
bench_finish
