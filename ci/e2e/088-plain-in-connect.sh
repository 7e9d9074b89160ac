#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Plain HTTP inside a CONNECT that a rule inspects (paths, a secret): the
# proxy tells TLS from plain HTTP by the client's first byte and inspects
# plain HTTP request by request, as the agent needs for port 80 and as
# `curl -p` does for http:// URLs.  Paths decide, a secret goes only with
# --allow-plaintext, the request must name the tunnel's host and port and
# no https:// URL, keep-alive and pipelining both work, the audit log says
# http, a TLS client on the same rule is still intercepted, and through
# the agent a plain HTTP request gets the rule's verdict.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
SEC=plain-in-connect-$RANDOM$RANDOM
printf '%s' "$SEC" | cli secret create psec --host plain.bench.test --value-stdin >/dev/null 2>>"$DIR/cli.err"
printf '%s' "$SEC" | cli secret create asec --host api.bench.test --value-stdin >/dev/null 2>>"$DIR/cli.err"
cli allow vm1 --host api.bench.test --port 80 --port 443 --path '/v1/*' >/dev/null
cli allow vm1 --host api.bench.test --port 80 --path /sec --secret asec >/dev/null
cli allow vm1 --host plain.bench.test --port 80 --path /sec --secret psec --allow-plaintext >/dev/null
export T PCA SEC

# tcurl ARGS...: curl through a CONNECT (-p) for http:// URLs too
tcurl() { in_vm curl -q -sS -m 10 -p --cacert "$PCA" -x "http://proxy:$T@$PROXY_ADDR" "$@"; }
tcode() { tcurl -o /dev/null -w '%{http_code}' "$@" 2>/dev/null; }
export -f tcurl tcode
# audit_last PATH: the last request record for PATH, as "scheme mode decision"
audit_last() {
	"$PY" - "$AUDIT" "$1" <<'EOF'
import json, sys
last = None
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event") == "request" and r.get("path") == sys.argv[2]:
        last = r
print(last and "%s %s %s" % (last["scheme"], last["mode"], last["decision"]))
EOF
}
# connect_scheme PATH: the scheme of the connect record of the connection
# that carried the last request for PATH
connect_scheme() {
	"$PY" - "$AUDIT" "$1" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
req = [r for r in rows if r.get("event") == "request" and r.get("path") == sys.argv[2]]
con = [r for r in rows if req and r.get("event") == "connect" and r["conn"] == req[-1]["conn"]]
print(len(con) == 1 and con[0]["scheme"])
EOF
}
# raw_tunnel HOSTPORT BYTES [CAFILE]: CONNECT, then BYTES (a python bytes
# literal) in the clear, or over TLS verified with CAFILE; prints the
# status line of the answer inside.  b'' sends nothing and closes.
raw_tunnel() {
	vmpy - "$T" "$@" <<'EOF'
import ast, sys, spxclient
tok, target, data = sys.argv[1], sys.argv[2], ast.literal_eval(sys.argv[3])
c = spxclient.Conn()
st, h, b = c.connect(target, tok)
assert st == 200, st
if len(sys.argv) > 4:
    c.wrap_tls(target.rsplit(":", 1)[0], sys.argv[4])
if not data:
    c.sock.close()
    sys.exit(0)
c.sock.sendall(data)
print(c.sock.recv(4096).split(b"\r\n")[0].decode())
EOF
}
# last_connect: "scheme mode port" of the last connect record
last_connect() {
	"$PY" - "$AUDIT" <<'EOF'
import json, sys
con = [r for r in map(json.loads, open(sys.argv[1])) if r.get("event") == "connect"]
print(con[-1]["scheme"], con[-1]["mode"], con[-1]["port"])
EOF
}

# ---- paths decide on plain HTTP in a tunnel ----
check "a path the rule allows: 200" expect 200 tcode http://api.bench.test/v1/ok
check "... it reached the upstream as /v1/ok" bash -c "grep -q ' /v1/ok ' '$DIR/upstream.log'"
check "... audited as http, intercepted, allowed" expect "http intercept allow" audit_last /v1/ok
check "... and so is its CONNECT (once its first byte said so)" expect http connect_scheme /v1/ok
check "a path the rule does not allow: 403" expect 403 tcode http://api.bench.test/other
check "... and it never reached the upstream" bash -c "! grep -q ' /other ' '$DIR/upstream.log'"
check "... audited as a denial" expect "http intercept deny" audit_last /other
check "two requests on one connection, one CONNECT" expect "200 200" bash -c \
	"tcurl -o /dev/null -o /dev/null -w '%{http_code} ' http://api.bench.test/v1/a http://api.bench.test/v1/b | sed 's/ \$//'"
check "... both went out on one upstream connection" bash -c "
	a=\$(grep ' /v1/a ' '$DIR/upstream.log' | grep -o 'conn=[0-9]*'); b=\$(grep ' /v1/b ' '$DIR/upstream.log' | grep -o 'conn=[0-9]*')
	echo \"\$a \$b\"; [ -n \"\$a\" ] && [ \"\$a\" = \"\$b\" ]"
check "pipelined allowed, denied: answered in order, then closed" expect "HTTP/1.1 200 HTTP/1.1 403" bash -c "
	vmpy - '$T' <<'EOF'
import re, sys, spxclient
c = spxclient.Conn()
st, h, b = c.connect('api.bench.test:80', sys.argv[1]); assert st == 200, st
c.sock.sendall(b'GET /v1/p1 HTTP/1.1\r\nHost: api.bench.test\r\n\r\n'
               b'GET /nope HTTP/1.1\r\nHost: api.bench.test\r\n\r\n')
out = b''
while True:
    d = c.sock.recv(65536)
    if not d:
        break
    out += d
print(' '.join(x.decode() for x in re.findall(rb'HTTP/1\.1 [0-9]{3}', out)))
EOF"

# ---- secrets: only with --allow-plaintext ----
check "a secret on a rule without --allow-plaintext: 403" expect 403 tcode http://api.bench.test/sec
check "... the 403 says why" expect_re 'only over TLS' tcurl http://api.bench.test/sec
check "... nothing reached the upstream" bash -c "! grep -q ' /sec ' '$DIR/upstream.log'"
check "with --allow-plaintext the secret is injected, the client's credential replaced" jpipe \
	"H['authorization'] == 'Bearer ' + E['SEC']" "j['scheme'] == 'http'" \
	-- tcurl -H 'Authorization: Bearer client-own' http://plain.bench.test/sec
check "the secret is in no log line" bash -c "! grep -rqF '$SEC' '$DIR/proxy.log' '$AUDIT'"

# ---- the tunnel's host and port, no https:// inside ----
check "a request naming another host: 421" expect_re '^HTTP/1.1 421' \
	raw_tunnel api.bench.test:80 "b'GET /v1/x HTTP/1.1\r\nHost: other.bench.test\r\n\r\n'"
check "a Host with another port: 421" expect_re '^HTTP/1.1 421' \
	raw_tunnel api.bench.test:80 "b'GET /v1/x HTTP/1.1\r\nHost: api.bench.test:8080\r\n\r\n'"
check "an https:// URL inside a plain tunnel: 421" expect_re '^HTTP/1.1 421' \
	raw_tunnel api.bench.test:80 "b'GET https://api.bench.test/v1/x HTTP/1.1\r\nHost: api.bench.test\r\n\r\n'"
check "an http:// URL naming the tunnel's host: answered" expect_re '^HTTP/1.1 200' \
	raw_tunnel api.bench.test:80 "b'GET http://api.bench.test/v1/abs HTTP/1.1\r\nHost: api.bench.test\r\n\r\n'"
check "bytes that are neither TLS nor HTTP: 400" expect_re '^HTTP/1.1 400' \
	raw_tunnel api.bench.test:80 "b'\\x00\\x01\\x02 not http\r\n\r\n'"
check "a CONNECT inside: 400" expect_re '^HTTP/1.1 400' \
	raw_tunnel api.bench.test:80 "b'CONNECT api.bench.test:443 HTTP/1.1\r\nHost: api.bench.test:443\r\n\r\n'"

# ---- TLS on the same rule is intercepted as before ----
check "TLS client on the same rule: intercepted (leaf from the proxy CA)" expect_re '"tls": "TLSv1' \
	tcurl https://api.bench.test/v1/tls
check "... audited as https" expect "https intercept allow" audit_last /v1/tls
check "... and so is its CONNECT" expect https connect_scheme /v1/tls
raw_tunnel api.bench.test:80 "b''"
sleep 0.3
check "a CONNECT closed before its first byte: its record says no scheme" \
	expect "None intercept 80" last_connect
check "an http:// URL inside a TLS tunnel is still refused" expect_re '^HTTP/1.1 421' \
	raw_tunnel api.bench.test:443 "b'GET http://api.bench.test/v1/x HTTP/1.1\r\nHost: api.bench.test\r\n\r\n'" "$PCA"

# ---- through the agent: port 80 is a CONNECT with plain HTTP inside ----
case $BUILD in /*) A=$BUILD/slicer-agent ;; *) A=$SPX_ROOT/$BUILD/slicer-agent ;; esac
if guest_up; then
	check "agent installs" in_guest "$A" proxy install --proxy "http://proxy:$T@$PROXY_ADDR"
	check "agent: plain HTTP to an allowed path: 200" expect 200 \
		in_guest curl -q -s -m 10 -o /dev/null -w '%{http_code}' http://api.bench.test/v1/agent
	check "... audited as http, intercepted" expect "http intercept allow" audit_last /v1/agent
	check "agent: plain HTTP to a path the rule does not allow: 403" expect 403 \
		in_guest curl -q -s -m 10 -o /dev/null -w '%{http_code}' http://api.bench.test/agent-denied
	check "agent: the secret goes with --allow-plaintext" jpipe "H['authorization'] == 'Bearer ' + E['SEC']" \
		-- in_guest curl -q -s -m 10 http://plain.bench.test/sec
	check "agent uninstalls" in_guest "$A" proxy uninstall
else
	check "a private guest file system for the agent" false
fi

check "the proxy goes on serving" expect 200 tcode http://api.bench.test/v1/after
bench_finish
