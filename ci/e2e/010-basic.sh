#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Explicit proxy basics: daemon and control socket, client tokens, 407/403,
# CONNECT tunnels and plain-HTTP forwarding (headers, keep-alive both sides,
# pipelining, large bodies both ways, chunked, SSE, redirects not followed,
# upstream status codes), IPv6 upstreams, openssl s_client, clean shutdown.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
BIG_SHA=$(bench_file big 32)
UP_SHA=$(bench_file up 8)
cp "$DIR/files/up" "$DIR/home/up"

check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
check "GET /healthz on the control socket" expect_re '^200$' bash -c "api GET /healthz | tail -1"
check "control socket mode is 0600" expect 600 stat -c %a "$S"

TOKEN=$(cli client create vm1 2>"$DIR/cli.err")
check "client create prints only the token" expect_re '^spi_[A-Za-z0-9_-]{43}$' echo "$TOKEN"
check "client create prints one line" expect 1 bash -c "printf '%s\n' '$TOKEN' | wc -l"
check "client list shows vm1" expect_re '(^|[^a-z])vm1([^a-z0-9]|$)' cli client list
check "client list does not print the token" bash -c "! $P client list --url $S | grep -q spi_"

# ---- authentication ----
check "CONNECT without credentials: 407" expect 407 bash -c \
	"ip netns exec $VNS curl -q -s -m 5 -o /dev/null -w '%{http_connect}' -x http://$PROXY_ADDR https://api.bench.test/"
check "GET without credentials: 407" expect 407 bash -c \
	"ip netns exec $VNS curl -q -s -m 5 -o /dev/null -w '%{http_code}' -x http://$PROXY_ADDR http://api.bench.test/"
check "407 carries Proxy-Authenticate" expect_re '^Proxy-Authenticate: ' bash -c \
	"rawsend --all --send \"b'CONNECT api.bench.test:443 HTTP/1.1\r\nHost: api.bench.test:443\r\n\r\n'\" | tr -d '\r' | grep -i '^proxy-authenticate:' | sed 's/^[^:]*:/Proxy-Authenticate:/'"
check "wrong token: 407" expect 407 connect_code spi_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA https://api.bench.test/
check "token of the right form but one character off: 407" expect 407 \
	connect_code "${TOKEN%?}$( [ "${TOKEN: -1}" = A ] && echo B || echo A)" https://api.bench.test/
check "empty Basic password: 407" expect 407 connect_code "" https://api.bench.test/
check "Bearer with an unknown token: 407" expect 407 bash -c \
	"rawsend --token spi_nope --send \"b'CONNECT api.bench.test:443 HTTP/1.1\r\nHost: api.bench.test:443\r\n' + PA + b'\r\n'\" | cut -d' ' -f2"
check "valid token, no rules: CONNECT 403" expect 403 connect_code "$TOKEN" https://api.bench.test/
check "valid token, no rules: GET 403" expect 403 http_code "$TOKEN" http://api.bench.test/
check "Bearer token is accepted (403, not 407)" expect 403 bash -c \
	"rawsend --token '$TOKEN' --send \"b'CONNECT api.bench.test:443 HTTP/1.1\r\nHost: api.bench.test:443\r\n' + PA + b'\r\n'\" | cut -d' ' -f2"
check "Basic with any user name is accepted (403, not 407)" expect 403 \
	in_vm curl -q -s -m 5 -o /dev/null -w '%{http_connect}' -x "http://someone-else:$TOKEN@$PROXY_ADDR" https://api.bench.test/
check "403 body names the reason (CONNECT)" expect_re 'api\.bench\.test' bash -c \
	"rawsend --all --token '$TOKEN' --send \"b'CONNECT api.bench.test:443 HTTP/1.1\r\nHost: api.bench.test:443\r\n' + PB + b'\r\n'\" | tr -d '\r' | sed '1,/^\$/d'"
check "403 body names the reason (GET)" expect_re 'api\.bench\.test' pcurl "$TOKEN" http://api.bench.test/x

# ---- a host rule ----
RID=$(cli allow vm1 --host api.bench.test 2>>"$DIR/cli.err")
check "allow prints only the rule id" expect_re '^[A-Za-z0-9_-]{4,40}$' echo "$RID"
check "rule list shows the rule" expect_re "$RID" cli rule list vm1
check "CONNECT to an allowed host reaches the upstream over TLS" expect_re '"tls": "TLSv1\.[23]"' \
	pcurl "$TOKEN" https://api.bench.test/x
check "HTTPS upstream saw the right server" expect_re '"server": "198\.18\.0\.10"' pcurl "$TOKEN" https://api.bench.test/
check "plain GET to an allowed host (port 80 by default)" expect 200 http_code "$TOKEN" http://api.bench.test/x
check "Bearer auth for a plain GET" expect 200 http_code "$TOKEN" http://api.bench.test/x \
	--proxy-header "Proxy-Authorization: Bearer $TOKEN" -x "http://$PROXY_ADDR"
check "other host still denied" expect 403 connect_code "$TOKEN" https://other.bench.test/
check "port 8443 not in a default rule" expect 403 connect_code "$TOKEN" https://api.bench.test:8443/
check "port 8080 not in a default rule" expect 403 http_code "$TOKEN" http://api.bench.test:8080/
check "upper-case host name matches the rule" expect 200 http_code "$TOKEN" http://API.Bench.Test/x

# ---- what the upstream sees on a forwarded request ----
fwd_headers() {
	vmpy - "$TOKEN" "$@" <<'EOF'
import json, sys, spxclient
tok, auth = sys.argv[1], sys.argv[2]
c = spxclient.Conn()
a = spxclient.basic(tok) if auth == "basic" else spxclient.bearer(tok)
st, h, body = c.request("GET", "http://api.bench.test/h/1?q=a%20b", auth=a, headers=[
    ("Proxy-Connection", "keep-alive"), ("Connection", "keep-alive, X-Hop"),
    ("X-Hop", "must-not-pass"), ("Keep-Alive", "timeout=5"), ("TE", "trailers"),
    ("User-Agent", "spx-e2e/1"), ("X-End", "kept")])
assert st == 200, st
j = json.loads(body)
hd = j["headers"]
print(json.dumps(hd))
for bad in ("proxy-authorization", "proxy-connection", "x-hop", "keep-alive", "te"):
    assert bad not in hd, bad
assert hd.get("x-end") == "kept" and hd.get("user-agent") == "spx-e2e/1", hd
assert j["host"] == "api.bench.test", j["host"]
assert j["target"] == "/h/1?q=a%20b", j["target"]
assert j["version"] == "HTTP/1.1", j["version"]
assert [k for k, v in j["header_list"]].count("Host") == 1, j["header_list"]
EOF
}
check "forwarded request: no proxy or hop-by-hop headers reach the upstream (Basic)" fwd_headers basic
check "forwarded request: no proxy or hop-by-hop headers reach the upstream (Bearer)" fwd_headers bearer
check "forwarded request is origin-form with the query kept" expect_re '"target": "/a/b\?x=1&y=2"' \
	pcurl "$TOKEN" 'http://api.bench.test/a/b?x=1&y=2'
cli allow vm1 --host api.bench.test --port 8080 >/dev/null
check "non-default port: Host carries it" expect_re '"host": "api\.bench\.test:8080"' pcurl "$TOKEN" http://api.bench.test:8080/
check "tunnelled request never shows Proxy-Authorization to the upstream" bash -c \
	"! ip netns exec $VNS curl -q -sS -m 5 --cacert $CA -x http://proxy:$TOKEN@$PROXY_ADDR https://api.bench.test/ | grep -qi proxy-auth"

# ---- keep-alive and pipelining ----
check "keep-alive: three requests on one client connection, one upstream connection" vmpy - "$TOKEN" <<'EOF'
import json, sys, spxclient
c = spxclient.Conn()
ids = []
for i in range(3):
    st, h, body = c.request("GET", "http://api.bench.test/ka/%d" % i, sys.argv[1])
    assert st == 200, st
    j = json.loads(body)
    assert j["path"] == "/ka/%d" % i
    ids.append((j["conn"], j["conn_req"]))
print(ids)
assert ids[0][0] == ids[1][0] == ids[2][0], "upstream connection not reused"
assert [r for _, r in ids] == [ids[0][1], ids[0][1] + 1, ids[0][1] + 2]
EOF
cli allow vm1 --host other.bench.test --port 80 >/dev/null
check "keep-alive: next request to another host on the same client connection" vmpy - "$TOKEN" <<'EOF'
import json, sys, spxclient
c = spxclient.Conn()
st, h, b = c.request("GET", "http://api.bench.test/1", sys.argv[1]); assert st == 200
st, h, b = c.request("GET", "http://other.bench.test/2", sys.argv[1]); assert st == 200, st
assert json.loads(b)["server"] == "198.18.0.11"
st, h, b = c.request("GET", "http://api.bench.test/3", sys.argv[1]); assert st == 200
assert json.loads(b)["server"] == "198.18.0.10"
EOF
check "pipelined requests are answered in order" vmpy - "$TOKEN" <<'EOF'
import json, sys, spxclient
c = spxclient.Conn()
a = spxclient.basic(sys.argv[1])
req = "".join("GET http://api.bench.test/pipe/%d HTTP/1.1\r\nHost: api.bench.test\r\n"
              "Proxy-Authorization: %s\r\n\r\n" % (i, a) for i in range(4))
c.send(req)
for i in range(4):
    st, h, b = c.read_response()
    assert st == 200 and json.loads(b)["path"] == "/pipe/%d" % i, (i, st, b[:100])
EOF
check "a denied request keeps the client connection usable" vmpy - "$TOKEN" <<'EOF'
import sys, spxclient
c = spxclient.Conn()
st, h, b = c.request("GET", "http://exfil.bench.test/", sys.argv[1]); assert st == 403, st
try:
    st, h, b = c.request("GET", "http://api.bench.test/after", sys.argv[1])
    assert st == 200, st
except spxclient.Closed:
    pass  # closing after a 403 is allowed too; the answer must not be wrong
EOF
check "Connection: close from the client closes after the response" expect "HTTP/1.1 200 OK
closed" rawsend --token "$TOKEN" --wait-close 3 \
	--send "b'GET http://api.bench.test/ HTTP/1.1\r\nHost: api.bench.test\r\nConnection: close\r\n' + PB + b'\r\n'"
check "HTTP/1.0 request without keep-alive is closed after the response" expect_re '^HTTP/1\.[01] 200 .*
closed$' rawsend --token "$TOKEN" --wait-close 3 \
	--send "b'GET http://api.bench.test/ HTTP/1.0\r\nHost: api.bench.test\r\n' + PB + b'\r\n'"
ka10() { # an HTTP/1.0 client asking for keep-alive: kept open only if the response says so
	local out
	out=$(rawsend --token "$TOKEN" --all --wait-close 2 --send \
		"b'GET http://api.bench.test/ka10 HTTP/1.0\r\nHost: api.bench.test\r\nConnection: keep-alive\r\n' + PB + b'\r\n'")
	echo "$out" | head -8
	case $(echo "$out" | tail -1) in
	closed) return 0 ;;
	open) echo "$out" | tr -d '\r' | grep -qi '^connection: *keep-alive' ;;
	*) return 1 ;;
	esac
}
check "HTTP/1.0 keep-alive: kept open only when the response says keep-alive" ka10
check "HTTP/1.0 client, chunked response: no 103, the body without chunk framing, ended by the close" \
	vmpy - "$TOKEN" <<'EOF'
import sys, spxclient
want = b"hello chunked " + b"x" * 5000 + b" world\n"
for q in ("early=1", "early=1&trailer=1"):
    c = spxclient.Conn()
    c.send("GET http://api.bench.test/chunked?%s HTTP/1.0\r\nHost: api.bench.test\r\n"
           "Connection: keep-alive\r\nProxy-Authorization: %s\r\n\r\n" % (q, spxclient.basic(sys.argv[1])))
    data = b""
    while True:  # to the close (a timeout if it stays open)
        d = c.sock.recv(65536)
        if not d:
            break
        data += d
    head, _, body = data.partition(b"\r\n\r\n")
    print(q, head.decode().split("\r\n"), len(body), body[:40])
    assert head.startswith(b"HTTP/1.1 200 "), head
    assert b"transfer-encoding" not in head.lower() and b"\r\nconnection: close" in head.lower(), head
    assert body == want, body[:80]
# an HTTP/1.1 client gets the 103 and the chunked framing
c = spxclient.Conn()
c.send("GET http://api.bench.test/chunked?early=1 HTTP/1.1\r\nHost: api.bench.test\r\n"
       "Proxy-Authorization: %s\r\n\r\n" % spxclient.basic(sys.argv[1]))
st, h, b = c.read_response(skip_1xx=False)
assert st == 103, st
st, h, b = c.read_response()
assert st == 200 and h.get("transfer-encoding") == "chunked" and b == want, (st, h)
EOF
check "an idle keep-alive client connection stays open for a while" expect "HTTP/1.1 200 OK
open" rawsend --token "$TOKEN" --wait-close 2 \
	--send "b'GET http://api.bench.test/ HTTP/1.1\r\nHost: api.bench.test\r\n' + PB + b'\r\n'"

# ---- bodies both ways ----
sha_of() { "$@" | sha256sum | cut -d' ' -f1; }
check "32 MiB download through a CONNECT tunnel is intact" expect "$BIG_SHA" \
	sha_of pcurl "$TOKEN" -m 60 https://api.bench.test/file/big
check "32 MiB download through plain forwarding is intact" expect "$BIG_SHA" \
	sha_of pcurl "$TOKEN" -m 60 http://api.bench.test/file/big
check "8 MiB upload through a CONNECT tunnel is intact" expect_re "\"body_sha256\": \"$UP_SHA\"" \
	pcurl "$TOKEN" -m 60 --data-binary "@$DIR/home/up" https://api.bench.test/upload
check "8 MiB upload through plain forwarding (Content-Length) is intact" expect_re "\"body_sha256\": \"$UP_SHA\"" \
	pcurl "$TOKEN" -m 60 -H 'Expect:' --data-binary "@$DIR/home/up" http://api.bench.test/upload
check "8 MiB upload with Expect: 100-continue is intact" expect_re "\"body_sha256\": \"$UP_SHA\"" \
	pcurl "$TOKEN" -m 60 --data-binary "@$DIR/home/up" http://api.bench.test/upload
check "8 MiB chunked upload through plain forwarding is intact" expect_re "\"body_sha256\": \"$UP_SHA\"" \
	pcurl "$TOKEN" -m 60 -H 'Expect:' -H 'Transfer-Encoding: chunked' --data-binary "@$DIR/home/up" http://api.bench.test/upload
check "PUT with an empty body" expect_re '"body_len": 0,' pcurl "$TOKEN" -X PUT -H 'Content-Length: 0' http://api.bench.test/e
check "chunked response through plain forwarding" expect 5021 bash -c \
	"pcurl '$TOKEN' 'http://api.bench.test/chunked?trailer=1' | wc -c"
check "chunked response keeps the connection usable (python client)" vmpy - "$TOKEN" <<'EOF'
import sys, spxclient
c = spxclient.Conn()
for q in ("", "?trailer=1", ""):
    st, h, b = c.request("GET", "http://api.bench.test/chunked" + q, sys.argv[1])
    assert st == 200 and len(b) == 5021 and b.startswith(b"hello chunked "), (st, len(b))
st, h, b = c.request("GET", "http://api.bench.test/after", sys.argv[1]); assert st == 200
EOF
sse_check() { # URL: the first event arrives well before the last is sent
	vmpy - "$TOKEN" "$1" "$CA" <<'EOF'
import subprocess, sys, time
tok, url, ca = sys.argv[1:4]
p = subprocess.Popen(["curl", "-q", "-sN", "-m", "10", "--cacert", ca, "-x",
    "http://proxy:%s@192.168.222.1:3128" % tok, url], stdout=subprocess.PIPE)
t0 = time.time(); first = p.stdout.readline(); t1 = time.time()
rest = p.stdout.read(); t2 = time.time(); p.wait()
print(first, round(t1 - t0, 3), round(t2 - t0, 3), rest)
assert first.startswith(b"data: 0") and t1 - t0 < 0.6 and t2 - t0 > 0.9
assert b"data: 2" in rest
EOF
}
check "SSE events are relayed as they come (plain forwarding)" sse_check "http://api.bench.test/sse?n=3&ms=600"
check "SSE events are relayed as they come (tunnel)" sse_check "https://api.bench.test/sse?n=3&ms=600"

# ---- upstream answers pass through untouched ----
check "a redirect is returned, not followed" expect "302 http://other.bench.test/landed" \
	pcurl "$TOKEN" -o /dev/null -w '%{http_code} %{redirect_url}' http://api.bench.test/redirect
check "the proxy did not fetch the redirect target" bash -c "! grep -q ' REQ .* /landed ' '$DIR/upstream.log'"
check "upstream 404 passes through" expect 404 http_code "$TOKEN" 'http://api.bench.test/status?code=404'
check "upstream 500 passes through" expect 500 http_code "$TOKEN" 'http://api.bench.test/status?code=500'
check "upstream 204 then another request on the same connection" vmpy - "$TOKEN" <<'EOF'
import sys, spxclient
c = spxclient.Conn()
st, h, b = c.request("GET", "http://api.bench.test/status?code=204", sys.argv[1]); assert st == 204, st
st, h, b = c.request("HEAD", "http://api.bench.test/big?n=5000", sys.argv[1])
assert st == 200 and h.get("content-length") == "5000" and b == b"", (st, h)
st, h, b = c.request("GET", "http://api.bench.test/status?code=304", sys.argv[1]); assert st == 304, st
st, h, b = c.request("GET", "http://api.bench.test/last", sys.argv[1]); assert st == 200, st
EOF
check "a slow upstream (2 s) is waited for" expect 200 http_code "$TOKEN" 'http://api.bench.test/slow?ms=2000'
# the client half-closes after its request: its end of stream reaches the
# proxy while the response is out, and must not keep waking it meanwhile
T0=$(awk '{ print $14 + $15 }' "/proc/$PROXY_PID/stat")
OUT=$(rawsend --host "${PROXY_ADDR%:*}" --port "${PROXY_ADDR##*:}" --token "$TOKEN" --shut-wr --timeout 8 \
	--send 'b"GET http://api.bench.test/slow?ms=2000 HTTP/1.1\r\nHost: api.bench.test\r\n" + PB + b"\r\n"')
T1=$(awk '{ print $14 + $15 }' "/proc/$PROXY_PID/stat")
check "a client that half-closes after its request gets the slow upstream's answer" \
	expect "HTTP/1.1 200 OK" echo "$OUT"
check "the proxy idles while that answer is out ($((T1 - T0)) clock ticks in 2 s; a busy core: $((2 * $(getconf CLK_TCK))))" \
	test $((T1 - T0)) -le 20
cli allow vm1 --host api.bench.test --port 9 >/dev/null
check "refused upstream connection: 502" expect "502|504" http_code "$TOKEN" http://api.bench.test:9/
check "refused upstream connection on CONNECT: 502" expect "502|504" connect_code "$TOKEN" https://api.bench.test:9/
cli allow vm1 --host nosuch.bench.test >/dev/null
check "name that does not resolve: 502/503/504" expect "502|503|504" connect_code "$TOKEN" https://nosuch.bench.test/

# ---- IPv6 upstreams ----
cli allow vm1 --host v6.bench.test >/dev/null
cli allow vm1 --host 2001:2::10 >/dev/null
cli allow vm1 --host dual.bench.test >/dev/null
check "AAAA-only name through a tunnel" expect_re '"server": "2001:2::10"' pcurl "$TOKEN" https://v6.bench.test/
check "AAAA-only name through plain forwarding" expect_re '"server": "2001:2::10"' pcurl "$TOKEN" http://v6.bench.test/
check "IPv6 literal through a tunnel" expect_re '"server": "2001:2::10"' pcurl "$TOKEN" 'https://[2001:2::10]/'
check "IPv6 literal through plain forwarding keeps the Host brackets" expect_re '"host": "\[2001:2::10\]"' \
	pcurl "$TOKEN" 'http://[2001:2::10]/'
check "name with A and AAAA works" expect 200 http_code "$TOKEN" https://dual.bench.test/

# ---- openssl s_client through the proxy ----
check "openssl s_client -proxy: verified TLS through a raw CONNECT" expect_re 'Verify return code: 0 \(ok\)' bash -c "
	printf 'GET /s HTTP/1.1\r\nHost: api.bench.test\r\nConnection: close\r\n\r\n' |
	ip netns exec $VNS timeout 10 openssl s_client -proxy $PROXY_ADDR -proxy_user proxy -proxy_pass pass:$TOKEN \
		-connect api.bench.test:443 -servername api.bench.test -CAfile $CA -verify_return_error -ign_eof 2>&1"
check "openssl s_client without credentials is refused" bash -c "
	! ip netns exec $VNS timeout 10 openssl s_client -proxy $PROXY_ADDR -connect api.bench.test:443 \
		-servername api.bench.test -CAfile $CA -verify_return_error </dev/null >/dev/null 2>&1"

# ---- a connection is handed to the proxy with its first bytes ----
accepted() { api GET /metrics | awk '/^slicer_worker_connections_total/ {n += $2} END {print n + 0}'; }
quiet_then_request() {
	local a0 a1 a2
	a0=$(accepted)
	PROXY_ADDR=$PROXY_ADDR TOKEN=$TOKEN vmpy - <<'PY' >"$DIR/quiet.out" &
import os, socket, time
h, p = os.environ["PROXY_ADDR"].rsplit(":", 1)
s = socket.create_connection((h, int(p)), timeout=10)
time.sleep(0.8)
print("quiet", flush=True)
time.sleep(0.8)
s.sendall(b"GET http://api.bench.test/q HTTP/1.1\r\nHost: api.bench.test\r\n"
          b"Proxy-Authorization: Bearer " + os.environ["TOKEN"].encode() +
          b"\r\nConnection: close\r\n\r\n")
print(s.recv(100).split(b"\r\n")[0].decode(), flush=True)
PY
	local py=$!
	wait_for 5 grep -q quiet "$DIR/quiet.out"
	a1=$(accepted)
	wait "$py"
	a2=$(accepted)
	echo "$((a1 - a0)) $((a2 - a0)) $(tail -1 "$DIR/quiet.out")"
}
check "a connection that has sent nothing is not accepted yet; its request then is" \
	expect_re '^0 1 HTTP/1.1 (200|403)' quiet_then_request

check "token never in the proxy's output or the audit log" bash -c "! grep -rqF '$TOKEN' '$DIR/proxy.log' '$AUDIT'"
check "SIGTERM stops the proxy within 10 s" stop_proxy TERM
check "the control socket is gone or refuses after shutdown" bash -c "! curl -q -s -m 2 --unix-socket '$S' http://localhost/healthz"
bench_finish
