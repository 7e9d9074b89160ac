#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# HTTP/1.1 inside an intercepted tunnel: keep-alive on both legs, pipelining,
# 5 MiB bodies both ways (Content-Length, chunked, Expect: 100-continue) with
# their sha256 intact, chunked responses with trailers, HEAD / 204 / 304
# without bodies, Connection: close either side, large heads at the limits,
# hop-by-hop and proxy fields removed, path normalisation, many requests on
# one connection and many connections at once.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
BIG_SHA=$(bench_file big5 5)
head -c 5242880 /dev/urandom >"$DIR/home/up5"
UP_SHA=$(sha256sum "$DIR/home/up5" | cut -d' ' -f1)
check "daemon starts" start_proxy --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
export T PCA
R=$(cli allow vm1 --host api.bench.test --inspect)
icurl() { in_vm curl -q -sS -m 20 --cacert "$PCA" -x "http://proxy:$T@$PROXY_ADDR" "$@"; }
export -f icurl
check "sanity: intercepted (leaf from the proxy CA)" expect_re '"tls": "TLSv1' icurl https://api.bench.test/sanity

# tunnel_py: python on stdin with c = an spxclient.Conn already inside an
# intercepted TLS tunnel to api.bench.test, and req(method, path, headers, body)
tunnel_py() {
	local code
	code=$(cat)
	vmpy - "$T" "$PCA" "$@" <<EOF
import json, socket, sys, time, spxclient
tok, ca = sys.argv[1:3]
ARGS = sys.argv[3:]
c = spxclient.Conn(timeout=15)
st, h, b = c.connect("api.bench.test:443", tok)
assert st == 200, st
c.wrap_tls("api.bench.test", ca)
def raw(method, path, headers=(), body=None):
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: api.bench.test"]
    lines += ["%s: %s" % kv for kv in headers]
    if body is not None:
        lines.append("Content-Length: %d" % len(body))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")
def req(method, path, headers=(), body=None):
    c.send(raw(method, path, headers, body))
    return c.read_response(method)
$code
EOF
}

# ---- keep-alive and pipelining ----
check "keep-alive (http.client): three requests, one client and one upstream connection" vmpy - "$T" "$PCA" <<'EOF'
import base64, http.client, json, ssl, sys
tok, ca = sys.argv[1:3]
ctx = ssl.create_default_context(cafile=ca)
c = http.client.HTTPSConnection("192.168.222.1", 3128, context=ctx, timeout=10)
c.set_tunnel("api.bench.test", 443, headers={"Proxy-Authorization": "Basic " +
             base64.b64encode(("proxy:" + tok).encode()).decode()})
seen, socks = [], set()
for i in range(3):
    c.request("GET", "/ka/%d" % i)
    r = c.getresponse()
    j = json.loads(r.read())
    assert r.status == 200 and j["path"] == "/ka/%d" % i, (r.status, j)
    seen.append((j["conn"], j["conn_req"]))
    socks.add(id(c.sock))
print(seen)
assert len(socks) == 1, "client connection not kept"
assert len({s[0] for s in seen}) == 1, "upstream connection not reused"
assert [s[1] for s in seen] == [seen[0][1], seen[0][1] + 1, seen[0][1] + 2], seen
EOF
check "pipelined requests in one write are answered in order" tunnel_py <<'EOF'
c.send(b"".join(raw("GET", "/pipe/%d" % i) for i in range(5)))
for i in range(5):
    st, h, b = c.read_response()
    assert st == 200 and json.loads(b)["path"] == "/pipe/%d" % i, (i, st, b[:80])
EOF
check "pipelined POSTs with bodies keep their bodies apart" tunnel_py <<'EOF'
bodies = [b"a" * 10, b"", b"b" * 70000, b"c"]
c.send(b"".join(raw("POST", "/pb/%d" % i, body=x) for i, x in enumerate(bodies)))
import hashlib
for i, x in enumerate(bodies):
    st, h, b = c.read_response()
    j = json.loads(b)
    assert st == 200 and j["path"] == "/pb/%d" % i and j["body_sha256"] == hashlib.sha256(x).hexdigest(), (i, j)
EOF
check "60 requests on one intercepted connection" tunnel_py <<'EOF'
for i in range(60):
    st, h, b = req("GET", "/many/%d" % i)
    assert st == 200, (i, st)
EOF

# ---- bodies ----
sha_of() { "$@" | sha256sum | cut -d' ' -f1; }
check "5 MiB download (Content-Length) is intact" expect "$BIG_SHA" sha_of icurl https://api.bench.test/file/big5
check "5 MiB upload with Content-Length is intact" expect_re "\"body_sha256\": \"$UP_SHA\"" \
	icurl -H 'Expect:' --data-binary "@$DIR/home/up5" https://api.bench.test/up-cl
check "5 MiB chunked upload is intact" expect_re "\"body_sha256\": \"$UP_SHA\"" \
	icurl -H 'Expect:' -H 'Transfer-Encoding: chunked' --data-binary "@$DIR/home/up5" https://api.bench.test/up-chunked
check "5 MiB PUT echoes the length" expect_re '"body_len": 5242880,' \
	icurl -H 'Expect:' -T "$DIR/home/up5" https://api.bench.test/up-put
expect100() {
	local out
	out=$(icurl -v --expect100-timeout 6 -m 12 --data-binary "@$DIR/home/up5" -H 'Expect: 100-continue' \
		https://api.bench.test/up-100 2>&1)
	echo "$out" | grep -E '^(< HTTP|> Expect|  "body_sha256")'
	echo "$out" | grep -q '^< HTTP/1.1 100' && echo "$out" | grep -q "\"body_sha256\": \"$UP_SHA\""
}
check "Expect: 100-continue: the 100 reaches the client, 5 MiB intact" expect100
check "chunked response with a trailer" expect 5021 bash -c "icurl 'https://api.bench.test/chunked?trailer=1' | wc -c"
check "HTTP/1.0 client, chunked response: no 103, the body without chunk framing, ended by the close" tunnel_py <<'EOF'
want = b"hello chunked " + b"x" * 5000 + b" world\n"
c.send(b"GET /chunked?early=1&trailer=1 HTTP/1.0\r\nHost: api.bench.test\r\n"
       b"Connection: keep-alive\r\n\r\n")
data = b""
while True:  # to the close (a timeout if it stays open)
    d = c.sock.recv(65536)
    if not d:
        break
    data += d
head, _, body = data.partition(b"\r\n\r\n")
print(head.decode().split("\r\n"), len(body), body[:40])
assert head.startswith(b"HTTP/1.1 200 "), head
assert b"transfer-encoding" not in head.lower() and b"\r\nconnection: close" in head.lower(), head
assert body == want, body[:80]
EOF
check "HTTP/1.0 client: its Upgrade is not passed on (upgrades need HTTP/1.1)" tunnel_py <<'EOF'
c.send(b"GET /up10 HTTP/1.0\r\nHost: api.bench.test\r\nConnection: Upgrade\r\n"
       b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
       b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
st, h, b = c.read_response()
j = json.loads(b)
print(st, j["headers"])
assert st == 200 and "upgrade" not in j["headers"], (st, j["headers"])
assert "upgrade" not in j["headers"].get("connection", "").lower(), j["headers"]
EOF
check "a response with Transfer-Encoding gzip, chunked: 502" expect 502 \
	icurl -o /dev/null -w '%{http_code}' 'https://api.bench.test/chunked?coding=gzip'
check "chunked responses keep the connection usable" tunnel_py <<'EOF'
for q in ("", "?trailer=1", ""):
    st, h, b = req("GET", "/chunked" + q)
    assert st == 200 and len(b) == 5021 and b.startswith(b"hello chunked "), (st, len(b))
st, h, b = req("GET", "/after"); assert st == 200
EOF

# ---- responses without bodies ----
check "HEAD, 204 and 304 carry no body; the connection goes on" tunnel_py <<'EOF'
st, h, b = req("HEAD", "/big?n=5000")
assert st == 200 and h.get("content-length") == "5000" and b == b"", (st, h)
st, h, b = req("GET", "/status?code=204"); assert st == 204 and b == b"", st
st, h, b = req("GET", "/status?code=304"); assert st == 304 and b == b"", st
st, h, b = req("HEAD", "/chunked"); assert st == 200 and b == b"", st
st, h, b = req("GET", "/last")
assert st == 200 and json.loads(b)["path"] == "/last", (st, b[:80])
assert not c.buf, c.buf[:80]
EOF
check "HEAD with curl shows the length and no body" expect_re 'Content-Length: 5000' \
	bash -c "icurl -I 'https://api.bench.test/big?n=5000' | tr -d '\r'"
check "upstream status codes pass through (404, 500, 418)" expect "404 500 418" bash -c \
	"echo \$(icurl -o /dev/null -w '%{http_code}' 'https://api.bench.test/status?code=404') \
	\$(icurl -o /dev/null -w '%{http_code}' 'https://api.bench.test/status?code=500') \
	\$(icurl -o /dev/null -w '%{http_code}' 'https://api.bench.test/status?code=418')"

# ---- Connection: close ----
check "Connection: close from the client: answered, then the TLS connection closes" tunnel_py <<'EOF'
st, h, b = req("GET", "/cc", [("Connection", "close")])
assert st == 200, st
assert c.wait_closed(5), "still open"
EOF
check "Connection: close from the upstream: full body, then the next request works or the connection closes" tunnel_py <<'EOF'
st, h, b = req("GET", "/close")
assert st == 200 and json.loads(b)["path"] == "/close", st
try:
    st, h, b = req("GET", "/after-close")
    assert st == 200 and json.loads(b)["path"] == "/after-close", st
    print("kept")
except (spxclient.Closed, ConnectionError):
    print("closed")
EOF

# ---- what reaches the upstream ----
check "hop-by-hop and proxy fields are removed inside the tunnel" tunnel_py <<'EOF'
st, h, b = req("GET", "/hop?q=1", [("Connection", "keep-alive, X-Hop"), ("X-Hop", "no"),
    ("Keep-Alive", "timeout=5"), ("Proxy-Authorization", "Basic c2VjcmV0"), ("Proxy-Connection", "keep-alive"),
    ("TE", "trailers"), ("X-End", "kept"), ("User-Agent", "spx-e2e/072")])
j = json.loads(b)
hd = j["headers"]
print(hd)
for bad in ("x-hop", "keep-alive", "proxy-authorization", "proxy-connection", "te"):
    assert bad not in hd, bad
assert hd["x-end"] == "kept" and hd["user-agent"] == "spx-e2e/072", hd
assert j["host"] == "api.bench.test" and j["target"] == "/hop?q=1", j
assert [k.lower() for k, v in j["header_list"]].count("host") == 1
EOF
check "the path is normalised, the query kept" expect_re '"target": "/a/c\?x=1&y=%2F"' \
	icurl --path-as-is 'https://api.bench.test/a/./b/../c?x=1&y=%2F'
check "an encoded slash stays encoded" expect_re '"path": "/a%2Fb"' icurl 'https://api.bench.test/a%2fb'
check "a 30 KB request header goes through" expect_re '"path": "/bigreq"' \
	icurl -H "X-Big: $(head -c 30000 /dev/zero | tr '\0' a)" https://api.bench.test/bigreq
check "a request head over 32 KiB gets 431" expect 431 \
	icurl -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 33000 /dev/zero | tr '\0' a)" https://api.bench.test/toobig
check "a 60 KB response header (under 64 KiB) goes through" expect 60000 bash -c \
	"icurl -D - -o /dev/null 'https://api.bench.test/bighead?n=60000' | tr -d '\r' | grep -i '^x-big:' | cut -d' ' -f2 | tr -d '\n' | wc -c"
check "a slow upstream (1.5 s) is waited for" expect 200 icurl -o /dev/null -w '%{http_code}' 'https://api.bench.test/slow?ms=1500'

# ---- many at once ----
check "20 intercepted connections at once, each with 5 requests" vmpy - "$T" "$PCA" <<'EOF'
import json, sys, threading, spxclient
tok, ca = sys.argv[1:3]
errs = []
def one(n):
    try:
        c = spxclient.Conn(timeout=20)
        st, h, b = c.connect("api.bench.test:443", tok); assert st == 200, st
        c.wrap_tls("api.bench.test", ca)
        for i in range(5):
            c.send(("GET /par/%d/%d HTTP/1.1\r\nHost: api.bench.test\r\n\r\n" % (n, i)).encode())
            st, h, b = c.read_response()
            assert st == 200 and json.loads(b)["path"] == "/par/%d/%d" % (n, i), (st, b[:80])
        c.close()
    except Exception as e:
        errs.append(repr(e))
ts = [threading.Thread(target=one, args=(n,)) for n in range(20)]
for t in ts: t.start()
for t in ts: t.join(40)
print(errs)
assert not errs and not any(t.is_alive() for t in ts)
EOF
check "audit: a 5 MiB upload's record has the bytes and mode intercept" py_check "$AUDIT" "$R" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["event"] == "request" and r.get("path") == "/up-cl"]
print(r)
assert r and r[0]["bytes_in"] == 5242880 and r[0]["mode"] == "intercept" and r[0]["rule"] == sys.argv[2], r
d = [r for r in rows if r["event"] == "request" and r.get("path") == "/file/big5"]
assert d and d[0]["bytes_out"] >= 5242880, d
EOF
bench_finish
