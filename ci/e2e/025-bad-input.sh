#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Strict parsing: every ambiguous or malformed request is refused with 400
# (414 / 431 / 501 / 505 where they fit) and its connection closed; nothing of
# it (nor anything pipelined behind it) reaches an upstream; limits hold at and
# past their values; bad upstream answers give 502; stalled clients do not
# block anyone else.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client b1)
cli allow b1 --host plain.bench.test --port 80 >/dev/null
cli allow b1 --host api.bench.test >/dev/null

# bad CODES EXPR: the first response line has one of CODES ("400|501") and the
# proxy closes the connection afterwards
bad() {
	local codes=$1 out first last code
	out=$(rawsend --token "$T" --wait-close 3 --send "$2")
	first=${out%%$'\n'*}
	last=${out##*$'\n'}
	code=$(echo "$first" | cut -d' ' -f2)
	echo "got: $out"
	[[ "|$codes|" == *"|$code|"* ]] && [ "$last" = closed ]
}
# a request head to plain.bench.test with credentials; the caller adds the rest
G="b'GET http://plain.bench.test/ok HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB"
PO="b'POST http://plain.bench.test/ok HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB"

check "sanity: a good request" expect "HTTP/1.1 200 OK" rawsend --token "$T" --send "$G + b'\r\n'"

# a head that never ends: started now, judged at the end (the head timeout is 15 s)
SLOW_T0=$(date +%s)
(rawsend --token "$T" --timeout 30 --wait-close 5 --send "$G" >"$DIR/slow-head.out" 2>&1
	echo "$(($(date +%s) - SLOW_T0)) s" >>"$DIR/slow-head.out") &
SLOW_HEAD=$!
SPX_PIDS+=("$SLOW_HEAD")
# the same on a kept-alive connection: a second head that never ends (a
# header line a second) gets the 15 s from its first bytes, not the 60 s
# idle timeout
vmpy - "$T" >"$DIR/slow-ka.out" 2>&1 <<'EOF' &
import sys, time, spxclient
c = spxclient.Conn(timeout=25)
st, h, b = c.request("GET", "http://plain.bench.test/ka-first", sys.argv[1])
print("first", st)
time.sleep(2)
c.send("GET http://plain.bench.test/ka-second HTTP/1.1\r\nHost: plain.bench.test\r\n")
dt = c.dribble(24)
st, h, b = c.read_response()
print("second %d after %.1f s, %s" % (st, dt, "closed" if c.wait_closed(5) else "open"))
EOF
SLOW_KA=$!
SPX_PIDS+=("$SLOW_KA")

# framing
check "conflicting Content-Length" bad 400 "$PO + b'Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd'"
check "duplicate Content-Length" bad 400 "$PO + b'Content-Length: 4\r\nContent-Length: 4\r\n\r\nabcd'"
check "Content-Length list" bad 400 "$PO + b'Content-Length: 4, 4\r\n\r\nabcd'"
check "Content-Length with a sign" bad 400 "$PO + b'Content-Length: +4\r\n\r\nabcd'"
check "negative Content-Length" bad 400 "$PO + b'Content-Length: -1\r\n\r\nabcd'"
check "Content-Length with junk" bad 400 "$PO + b'Content-Length: 4x\r\n\r\nabcd'"
check "empty Content-Length" bad 400 "$PO + b'Content-Length: \r\n\r\nabcd'"
check "Content-Length past 64 bits" bad "400|413" "$PO + b'Content-Length: 99999999999999999999999\r\n\r\nabcd'"
check "Content-Length and Transfer-Encoding together" bad 400 \
	"$PO + b'Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'"
check "Transfer-Encoding gzip" bad "400|501" "$PO + b'Transfer-Encoding: gzip\r\n\r\nabcd'"
check "Transfer-Encoding chunked not last" bad "400|501" "$PO + b'Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n'"
check "Transfer-Encoding chunked twice" bad "400|501" "$PO + b'Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'"
check "Transfer-Encoding identity" bad "400|501" "$PO + b'Transfer-Encoding: identity\r\n\r\nabcd'"
check "Transfer-Encoding with junk" bad "400|501" "$PO + b'Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n'"
check "no request with bad framing or header syntax reached an upstream" bash -c "! grep ' REQ .* POST /ok ' '$DIR/upstream.log'"
check "invalid chunk size" bad 400 "$PO + b'Transfer-Encoding: chunked\r\n\r\nzz\r\nabcd\r\n0\r\n\r\n'"
check "chunk size past 64 bits" bad 400 "$PO + b'Transfer-Encoding: chunked\r\n\r\nfffffffffffffffffff\r\nabcd\r\n0\r\n\r\n'"
check "negative chunk size" bad 400 "$PO + b'Transfer-Encoding: chunked\r\n\r\n-4\r\nabcd\r\n0\r\n\r\n'"
check "chunk data without its CRLF" bad 400 "$PO + b'Transfer-Encoding: chunked\r\n\r\n4\r\nabcdXX0\r\n\r\n'"
# header syntax
check "obs-fold (continuation line)" bad 400 "$G + b'X-A: one\r\n two\r\n\r\n'"
check "bare CR in a header value" bad 400 "$G + b'X-A: one\rtwo\r\n\r\n'"
check "bare CR in the request line" bad 400 "b'GET http://plain.bench.test/o\rk HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'"
check "NUL in a header value" bad 400 "$G + b'X-A: one\x00two\r\n\r\n'"
check "space before the colon" bad 400 "$G + b'X-A : one\r\n\r\n'"
check "tab before the colon" bad 400 "$G + b'X-A\t: one\r\n\r\n'"
check "space in a header name" bad 400 "$G + b'X A: one\r\n\r\n'"
check "empty header name" bad 400 "$G + b': one\r\n\r\n'"
check "header line without a colon" bad 400 "$G + b'X-A one\r\n\r\n'"
check "Host with a space before the colon" bad 400 "b'GET http://plain.bench.test/ok HTTP/1.1\r\nHost : plain.bench.test\r\n' + PB + b'\r\n'"
# request line
check "absolute-form host differs from Host" bad 400 \
	"b'GET http://plain.bench.test/ok HTTP/1.1\r\nHost: other.bench.test\r\n' + PB + b'\r\n'"
check "two Host headers" bad 400 \
	"b'GET http://plain.bench.test/ok HTTP/1.1\r\nHost: plain.bench.test\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'"
check "double space in the request line" bad 400 "b'GET  http://plain.bench.test/ok HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'"
check "space after the version" bad 400 "b'GET http://plain.bench.test/ok HTTP/1.1 \r\nHost: plain.bench.test\r\n' + PB + b'\r\n'"
check "unknown HTTP version" bad "400|505" "b'GET http://plain.bench.test/ok HTTP/9.9\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'"
check "not HTTP at all" bad 400 "b'HELLO THERE\r\n\r\n'"
check "scheme other than http in absolute-form" bad "400|403|501" "b'GET ftp://plain.bench.test/ok HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'"
check "CONNECT without a port" bad 400 "b'CONNECT api.bench.test HTTP/1.1\r\nHost: api.bench.test\r\n' + PB + b'\r\n'"
check "CONNECT to a URL" bad 400 "b'CONNECT https://api.bench.test/ HTTP/1.1\r\nHost: api.bench.test\r\n' + PB + b'\r\n'"
check "CONNECT to port 0" bad 400 "b'CONNECT api.bench.test:0 HTTP/1.1\r\nHost: api.bench.test:0\r\n' + PB + b'\r\n'"
check "CONNECT to port 99999" bad 400 "b'CONNECT api.bench.test:99999 HTTP/1.1\r\nHost: api.bench.test:99999\r\n' + PB + b'\r\n'"
check "CONNECT with an empty host" bad 400 "b'CONNECT :443 HTTP/1.1\r\nHost: :443\r\n' + PB + b'\r\n'"
check "CONNECT with a bad host name" bad 400 "b'CONNECT a..b:443 HTTP/1.1\r\nHost: a..b:443\r\n' + PB + b'\r\n'"
check "TLS bytes on the proxy port" expect_re '^(HTTP/1\.1 400 .*|EOF|RESET)$' \
	rawsend --send "b'\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03' + b'\x00' * 64 + b'\r\n\r\n'"

# limits (shared/limits.h): request line 8192 -> 414, head 32768 -> 431, 100 headers -> 431
check "request line past 8 KiB: 414" bad 414 "b'GET http://plain.bench.test/' + b'a' * 9000 + b' HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'"
check "a path of 4000 bytes is served" expect "HTTP/1.1 200 OK" \
	rawsend --token "$T" --send "b'GET http://plain.bench.test/' + b'a' * 3999 + b' HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'"
check "a path past 4 KiB in a request line under 8 KiB: 414 or 400" bad "414|400" \
	"b'GET http://plain.bench.test/' + b'a' * 6000 + b' HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'"
check "header block past 32 KiB: 431" bad 431 "$G + b''.join(b'X-F%d: %s\r\n' % (i, b'v' * 1000) for i in range(40)) + b'\r\n'"
check "one 40 KiB header: 431" bad 431 "$G + b'X-Big: ' + b'v' * 40000 + b'\r\n\r\n'"
check "150 header fields: 431" bad 431 "$G + b''.join(b'X-F%d: v\r\n' % i for i in range(150)) + b'\r\n'"
check "a 28 KiB header block is served" expect "HTTP/1.1 200 OK" \
	rawsend --token "$T" --send "$G + b''.join(b'X-F%d: %s\r\n' % (i, b'v' * 1000) for i in range(28)) + b'\r\n'"
check "90 header fields are served" expect "HTTP/1.1 200 OK" \
	rawsend --token "$T" --send "$G + b''.join(b'X-F%d: v\r\n' % i for i in range(90)) + b'\r\n'"
check "a huge header without credentials: 431 or 400, not 407 after reading it all" bad "431|400|407" \
	"b'GET http://plain.bench.test/ HTTP/1.1\r\nHost: plain.bench.test\r\nX: ' + b'a' * 200000 + b'\r\n\r\n'"

# nothing of a bad request reaches an upstream
check "a request smuggled in a CL+TE body never reaches the upstream" bash -c "
	rawsend --token '$T' --send \"b'POST http://plain.bench.test/ok HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'Content-Length: 80\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET http://plain.bench.test/smuggled1 HTTP/1.1\r\nHost: plain.bench.test\r\n\r\n'\" >/dev/null
	sleep 0.5; ! grep -q smuggled1 '$DIR/upstream.log'"
check "a request pipelined behind a bad one is not served" bash -c "
	rawsend --token '$T' --send \"b'POST http://plain.bench.test/ok HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'Content-Length: 1\r\nContent-Length: 2\r\n\r\nxGET http://plain.bench.test/smuggled2 HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'\" >/dev/null
	sleep 0.5; ! grep -q smuggled2 '$DIR/upstream.log'"
check "only the three good GET /ok reached an upstream" bash -c "n=\$(grep -c ' REQ .* GET /ok host=' '$DIR/upstream.log'); echo \$n; [ \$n = 3 ]"

# bad upstream answers
check "response head past the limit from the upstream: 502" expect 502 http_code "$T" 'http://plain.bench.test/bighead?n=100000'
check "garbage status line from the upstream: 502" expect 502 http_code "$T" http://plain.bench.test/garbage
check "a modest response header passes" expect 200 http_code "$T" 'http://plain.bench.test/bighead?n=2000'
# a coding besides chunked is refused as in requests: relayed as plain
# chunked, the client would get a gzip body that nothing names
check "a response with Transfer-Encoding gzip, chunked: 502" expect 502 \
	http_code "$T" 'http://plain.bench.test/chunked?coding=gzip'

# slow and stalled clients
check "a stalled head does not block another client" vmpy - "$T" <<'EOF'
import sys, time, spxclient
tok = sys.argv[1]
stalled = spxclient.Conn()
stalled.send("GET http://plain.bench.test/ok HTTP/1.1\r\nHo")
time.sleep(0.2)
t0 = time.time()
c = spxclient.Conn()
st = c.request("GET", "http://plain.bench.test/other", tok)[0]
dt = time.time() - t0
print("served in", round(dt, 3), "s")
assert st == 200 and dt < 2, (st, dt)
assert not stalled.wait_closed(0.5), "stalled client dropped far too early"
EOF
check "fifty stalled clients (head or body) do not block another" vmpy - "$T" <<'EOF'
import sys, time, spxclient
tok = sys.argv[1]
hold = []
for i in range(25):
    c = spxclient.Conn(); c.send("GET http://plain.bench.test/ok HTTP/1.1\r\nHost: pla"); hold.append(c)
for i in range(25):
    c = spxclient.Conn()
    c.send("POST http://plain.bench.test/ok HTTP/1.1\r\nHost: plain.bench.test\r\n"
           "Proxy-Authorization: %s\r\nContent-Length: 100\r\n\r\n0123456789" % spxclient.basic(tok))
    hold.append(c)
time.sleep(0.3)
t0 = time.time()
for i in range(3):
    c = spxclient.Conn()
    assert c.request("GET", "http://plain.bench.test/x%d" % i, tok)[0] == 200
    c.close()
dt = time.time() - t0
print("3 requests in", round(dt, 3), "s")
assert dt < 3
EOF
check "a head dribbled over 2 s is still served" vmpy - "$T" <<'EOF'
import sys, time, spxclient
req = ("GET http://plain.bench.test/dribble HTTP/1.1\r\nHost: plain.bench.test\r\n"
       "Proxy-Authorization: %s\r\n\r\n" % spxclient.basic(sys.argv[1])).encode()
c = spxclient.Conn()
step = max(1, len(req) // 40)
for i in range(0, len(req), step):
    c.send(req[i:i + step]); time.sleep(0.05)
st = c.read_response()[0]
assert st == 200, st
EOF
# the CLI: misuse names what is wrong on its first line and exits 1,
# before anything reaches the proxy; --help is usage on stdout, exit 0
cli_says() { # TEXT ARGS...
	local text=$1 out rc
	shift
	out=$(cli "$@" 2>&1 >/dev/null)
	rc=$?
	printf '%s\n' "$out" | head -2
	[ $rc -eq 1 ] && [ "$(printf '%s\n' "$out" | head -1)" = "$text" ]
}
check "cli: an unknown option is named" cli_says "slicer-proxy allow: unknown option: '--bogus'" allow b1 --host x.test --bogus
check "cli: an option without its value is named" cli_says "slicer-proxy allow: --path needs a value" allow b1 --host x.test --path
check "cli: allow without --host" cli_says "slicer-proxy allow: needs CLIENT and --host H" allow b1
check "cli: a stray argument is named" cli_says "slicer-proxy revoke: unexpected argument: 'r2'" revoke b1 r1 r2
check "cli: an unknown subcommand" cli_says "slicer-proxy secret: expected create NAME ..., list or delete NAME" secret rotate s1
check "cli: a value after '=' of an unknown option is never echoed (it may be a secret)" bash -c \
	"out=\$(cli secret create s9 --host x.test --value=sk-never-echoed 2>&1); rc=\$?; echo \"\$out\" | head -1
	[ \$rc -eq 1 ] && echo \"\$out\" | head -1 | grep -qxF \"slicer-proxy secret create: unknown option, or one that takes no value: '--value'\" &&
	! echo \"\$out\" | grep -q sk-never-echoed"
check "cli: none of those added a rule" bash -c \
	"out=\$(cli rule list b1); echo \"\$out\"; echo \"\$out\" | grep -q api.bench.test && ! echo \"\$out\" | grep -q x.test"
check "cli: --help anywhere is usage on stdout, exit 0" bash -c \
	"out=\$(cli allow b1 --help 2>/dev/null) && echo \"\$out\" | grep -q '^usage:'"
slow_head() {
	local i
	for ((i = 0; i < 300; i++)); do kill -0 "$SLOW_HEAD" 2>/dev/null || break; sleep 0.1; done
	cat "$DIR/slow-head.out"
	head -1 "$DIR/slow-head.out" | grep -q '^HTTP/1.1 408 ' && grep -qx closed "$DIR/slow-head.out" &&
		[ "$(sed -n 's/^\([0-9]*\) s$/\1/p' "$DIR/slow-head.out")" -ge 14 ]
}
check "a request head that never ends: 408 after the 15 s head timeout, then closed" slow_head
slow_ka() {
	local i
	for ((i = 0; i < 300; i++)); do kill -0 "$SLOW_KA" 2>/dev/null || break; sleep 0.1; done
	cat "$DIR/slow-ka.out"
	grep -qx 'first 200' "$DIR/slow-ka.out" &&
		grep -Eq '^second 408 after 1[4-9]\.[0-9] s, closed$' "$DIR/slow-ka.out"
}
check "... also the next head on a kept-alive connection (15 s from its first bytes, not the 60 s idle timeout)" slow_ka
check "... audited: a denied request with status 408 and the reason" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["status"] == 408]
print(r)
# the heads never ended, so they named no client: the records have the peer
assert len(r) == 2, r
for x in r:
    assert x["event"] == "request" and x["decision"] == "deny", x
    assert x["peer"] == "192.168.222.2" and x["reason"] == "request head timed out", x
EOF
check "still serving after all the bad input" expect 200 connect_code "$T" https://api.bench.test/
check "still serving plain requests" expect 200 http_code "$T" http://plain.bench.test/final
bench_finish
