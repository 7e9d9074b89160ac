#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# TLS interception only where a rule needs it: a host-level rule is a plain
# tunnel (the upstream's own certificate and key reach the client, pinning
# works); --inspect, a secret, or methods/paths make the proxy answer the
# CONNECT with a leaf from its CA for that name (cached, P-256, ALPN
# http/1.1 only, IP SAN for IP literals); the CA endpoints; SNI fronting
# refused (also on a resumed session); the client leg resumes with tickets;
# every request inside judged, live revocation; audit records.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts with --https-port and --upstream-ca" start_proxy --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
export T PCA

# icurl ARGS: curl from the vm through the proxy, trusting only the proxy's CA
icurl() { in_vm curl -q -sS -m 15 --cacert "$PCA" -x "http://proxy:$T@$PROXY_ADDR" "$@"; }
# leaf HOST:PORT SNI [S_CLIENT ARGS]: the certificate the client sees through a CONNECT
leaf() {
	local hp=$1 sni=$2
	shift 2
	in_vm timeout 10 openssl s_client -proxy "$PROXY_ADDR" -proxy_user proxy -proxy_pass "pass:$T" \
		-connect "$hp" -servername "$sni" "$@" </dev/null 2>/dev/null | openssl x509 2>/dev/null
}
# sclient HOST:PORT SNI [ARGS]: the whole s_client transcript
sclient() {
	local hp=$1 sni=$2
	shift 2
	in_vm timeout 10 openssl s_client -proxy "$PROXY_ADDR" -proxy_user proxy -proxy_pass "pass:$T" \
		-connect "$hp" -servername "$sni" "$@" </dev/null 2>&1
}
export -f icurl leaf sclient

# ---- the CA ----
check "slicer-proxy ca prints a CA certificate" expect_re 'CA:TRUE' \
	bash -c "openssl x509 -in '$PCA' -noout -ext basicConstraints"
check "the CA is in the state dir, key 0600" expect 600 stat -c %a "$DIR/state/ca.key"
check "the guest fetches the same CA without a token at /slicer/ca.crt" bash -c \
	"in_vm curl -q -sS -m 5 http://$PROXY_ADDR/slicer/ca.crt | cmp - '$PCA'"
check "the API serves the same CA at /v1/proxy/ca.crt" bash -c \
	"curl -q -sS -m 5 --unix-socket '$S' http://localhost/v1/proxy/ca.crt | cmp - '$PCA'"

# ---- host-level rule: a plain tunnel ----
R_PLAIN=$(cli allow vm1 --host plain.bench.test)
UP_FP=$(openssl x509 -in "$DIR/pki/srv.crt" -noout -fingerprint -sha256)
PIN=$(openssl x509 -in "$DIR/pki/srv.crt" -pubkey -noout | openssl pkey -pubin -outform der 2>/dev/null |
	openssl dgst -sha256 -binary | base64)
check "tunnel: curl trusting only the bench CA works" expect_re '"host": "plain\.bench\.test"' \
	pcurl "$T" https://plain.bench.test/t1
check "tunnel: the client sees the upstream's own certificate" expect "$UP_FP" \
	bash -c "leaf plain.bench.test:443 plain.bench.test | openssl x509 -noout -fingerprint -sha256"
check "tunnel: openssl s_client shows the bench issuer" expect_re 'issuer=CN ?= ?spx bench upstream CA' \
	bash -c "leaf plain.bench.test:443 plain.bench.test | openssl x509 -noout -issuer"
check "tunnel: a pinned upstream public key works" expect 200 \
	http_code "$T" https://plain.bench.test/pin --pinnedpubkey "sha256//$PIN"
check "tunnel: a client trusting only the proxy CA fails (nothing intercepted)" bash -c \
	"! icurl -o /dev/null https://plain.bench.test/t2"
check "tunnel: the upstream saw TLS from the client" expect_re '"tls": "TLSv1\.3"' pcurl "$T" https://plain.bench.test/t3

# ---- --inspect: intercepted ----
R_API=$(cli allow vm1 --host api.bench.test --inspect)
check "inspect: curl trusting the proxy CA works" expect_re '"path": "/i1"' icurl https://api.bench.test/i1
check "inspect: curl trusting only the bench CA fails" bash -c "! pcurl '$T' -o /dev/null https://api.bench.test/i2"
leaf api.bench.test:443 api.bench.test >"$DIR/leaf-api-1.pem"
leaf api.bench.test:443 api.bench.test >"$DIR/leaf-api-2.pem"
check "inspect: the leaf is issued by the proxy CA and valid for the name" expect_re ': OK$' \
	in_vm openssl verify -CAfile "$PCA" -verify_hostname api.bench.test "$DIR/leaf-api-1.pem"
check "inspect: the leaf's issuer is the proxy CA's subject" expect "$(openssl x509 -in "$PCA" -noout -subject | sed 's/^subject=//')" \
	bash -c "openssl x509 -in '$DIR/leaf-api-1.pem' -noout -issuer | sed 's/^issuer=//'"
check "inspect: the leaf has DNS:api.bench.test in its SAN" expect_re 'DNS:api\.bench\.test' \
	openssl x509 -in "$DIR/leaf-api-1.pem" -noout -ext subjectAltName
check "inspect: the leaf is not a CA and is for serverAuth" expect_re 'CA:FALSE' \
	openssl x509 -in "$DIR/leaf-api-1.pem" -noout -ext basicConstraints
check "inspect: the leaf has serverAuth" expect_re 'TLS Web Server Authentication' \
	openssl x509 -in "$DIR/leaf-api-1.pem" -noout -ext extendedKeyUsage
check "inspect: the leaf key is ECDSA P-256" expect_re 'prime256v1|P-256' \
	bash -c "openssl x509 -in '$DIR/leaf-api-1.pem' -noout -text | grep -E 'ASN1 OID|NIST CURVE'"
check "inspect: the leaf is valid now" openssl x509 -in "$DIR/leaf-api-1.pem" -noout -checkend 3600
same_serial() {
	local a b
	a=$(openssl x509 -in "$1" -noout -serial 2>&1) b=$(openssl x509 -in "$2" -noout -serial 2>&1)
	echo "$a / $b"
	[[ $a =~ ^serial=[0-9A-F]+$ ]] && [ "$a" = "$b" ]
}
check "inspect: the leaf is cached (same serial on a second connection)" \
	same_serial "$DIR/leaf-api-1.pem" "$DIR/leaf-api-2.pem"
check "inspect: ALPN offering h2 negotiates http/1.1" expect_re '^ALPN protocol: http/1\.1' \
	bash -c "sclient api.bench.test:443 api.bench.test -alpn h2,http/1.1"
check "inspect: ALPN offering only h2 never gets h2" bash -c \
	"! sclient api.bench.test:443 api.bench.test -alpn h2 | grep -q '^ALPN protocol: h2'"
check "inspect: curl --http2 ends up on HTTP/1.1" expect 1.1 \
	icurl --http2 -o /dev/null -w '%{http_version}' https://api.bench.test/h2
check "inspect: TLS 1.2 client works" expect 200 \
	icurl --tls-max 1.2 -o /dev/null -w '%{http_code}' https://api.bench.test/tls12
check "inspect: the upstream leg is TLS (the proxy connected with TLS)" expect_re '"tls": "TLSv1\.[23]"' \
	icurl https://api.bench.test/i3
resumed() { api GET /metrics | sed -n 's/^slicer_upstream_tls_handshakes_total{resumed="yes"} //p'; }
R0=$(resumed)
# a new secret retires every client's parked upstream connections, so each
# request below dials again: those handshakes resume the session
printf 'x\n' >"$DIR/flush.txt"
cli secret create pool-flush1 --host other.bench.test --from-file "$DIR/flush.txt" >/dev/null
icurl -o /dev/null https://api.bench.test/r1
cli secret create pool-flush2 --host other.bench.test --from-file "$DIR/flush.txt" >/dev/null
icurl -o /dev/null https://api.bench.test/r2
check "inspect: later upstream handshakes resume the TLS session" bash -c \
	"r=\$(curl -q -s --unix-socket '$S' http://x/metrics | sed -n 's/^slicer_upstream_tls_handshakes_total{resumed=\"yes\"} //p'); echo \"before $R0 after \$r\"; [ \"\$r\" -ge \$(( ${R0:-0} + 1 )) ]"
check "inspect: without SNI the leaf is still for the CONNECT host" expect_re 'DNS:api\.bench\.test' \
	bash -c "in_vm timeout 10 openssl s_client -proxy $PROXY_ADDR -proxy_user proxy -proxy_pass pass:$T \
		-connect api.bench.test:443 -noservername </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName"

# another intercepted host: a different leaf for its name
cli allow vm1 --host other.bench.test --method GET --path '/x/*' >/dev/null
leaf other.bench.test:443 other.bench.test >"$DIR/leaf-other.pem"
check "methods/paths rule alone intercepts (leaf from the proxy CA)" expect_re ': OK$' \
	in_vm openssl verify -CAfile "$PCA" -verify_hostname other.bench.test "$DIR/leaf-other.pem"
check "another host gets its own leaf (different serial)" \
	bash -c "$(declare -f same_serial); ! same_serial $DIR/leaf-other.pem $DIR/leaf-api-1.pem && openssl x509 -in $DIR/leaf-other.pem -noout"
check "the other host's leaf does not name api.bench.test" bash -c \
	"! openssl x509 -in $DIR/leaf-other.pem -noout -ext subjectAltName | grep -q api.bench.test"
check "methods/paths rule: allowed path inside the tunnel" expect_re '"path": "/x/1"' icurl https://other.bench.test/x/1
check "methods/paths rule: other path inside the tunnel is 403" expect 403 \
	icurl -o /dev/null -w '%{http_code}' https://other.bench.test/y
check "methods/paths rule: other method inside the tunnel is 403" expect 403 \
	icurl -o /dev/null -w '%{http_code}' -X POST -d x https://other.bench.test/x/1
check "the denied requests never reached the upstream" bash -c "! grep -E ' REQ .* (GET /y|POST /x/1) ' '$DIR/upstream.log'"
check "403 inside the tunnel names the reason" expect_re 'slicer-proxy: .*denied' icurl https://other.bench.test/y

# IP literal and non-default port
cli allow vm1 --host 198.18.0.10 --inspect >/dev/null
check "IP literal: the leaf carries IP:198.18.0.10" expect_re 'IP Address:198\.18\.0\.10' \
	bash -c "leaf 198.18.0.10:443 198.18.0.10 | openssl x509 -noout -ext subjectAltName"
check "IP literal: curl verifies and gets through" expect_re '"server": "198\.18\.0\.10"' icurl https://198.18.0.10/ip
cli allow vm1 --host 2001:2::10 --inspect >/dev/null
# (python, not s_client: OpenSSL 3.0.19's s_client -proxy drops the
# brackets of an IPv6 CONNECT target, which the proxy refuses as ambiguous)
leaf6() {
	vmpy - "$T" "$PCA" <<'EOF' | openssl x509 2>/dev/null
import ssl, sys, spxclient
c = spxclient.Conn()
st, h, b = c.connect("[2001:2::10]:443", sys.argv[1])
assert st == 200, st
ctx = ssl.create_default_context(cafile=sys.argv[2])
ctx.check_hostname = False
s = ctx.wrap_socket(c.sock)
print(ssl.DER_cert_to_PEM_cert(s.getpeercert(binary_form=True)))
EOF
}
export -f leaf6
check "IPv6 literal: the leaf carries IP:2001:2::10" expect_re 'IP Address:2001:2:0:0:0:0:0:10|IP Address:2001:2::10' \
	bash -c "leaf6 | openssl x509 -noout -ext subjectAltName"
check "IPv6 literal: curl verifies and gets through" expect_re '"server": "2001:2::10"' icurl 'https://[2001:2::10]/ip6'
cli allow vm1 --host api.bench.test --port 8443 --inspect >/dev/null
check "non-default port 8443 intercepted, Host keeps the port" expect_re '"host": "api\.bench\.test:8443"' \
	icurl https://api.bench.test:8443/p
check "non-default port: upstream reached on 8443" expect_re '"port": 8443' icurl https://api.bench.test:8443/p

# ---- the client leg resumes: a session ticket from the proxy is taken ----
resume() {
	vmpy - "$T" "$PCA" <<'EOF'
import ssl, sys, spxclient
tok, ca = sys.argv[1:3]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False  # checked below; lets the ticket be offered under another name
sess, seen = None, []
for i in range(3):
    c = spxclient.Conn()
    st, h, b = c.connect("api.bench.test:443", tok)
    assert st == 200, st
    c.sock = ctx.wrap_socket(c.sock, server_hostname="api.bench.test", session=sess)
    c.send(b"GET /resume-%d HTTP/1.1\r\nHost: api.bench.test\r\n\r\n" % i)
    st, h, b = c.read_response()
    assert st == 200, st
    cn = dict(x[0] for x in c.sock.getpeercert()["subject"])["commonName"]
    seen.append((c.sock.version(), c.sock.session_reused, cn))
    sess = c.sock.session  # the ticket came with the response
    c.close()
# the ticket offered under another name (SNI) resumes nothing: refused
c = spxclient.Conn()
st, h, b = c.connect("api.bench.test:443", tok)
assert st == 200, st
try:
    c.sock = ctx.wrap_socket(c.sock, server_hostname="other.bench.test", session=sess)
    c.send(b"GET /resume-front HTTP/1.1\r\nHost: other.bench.test\r\n\r\n")
    st2, h, b = c.read_response()
    front = (st2, c.sock.session_reused)
except (spxclient.Closed, ssl.SSLError, ConnectionError, ValueError) as e:
    front = "closed: %s" % e
print(seen, front)
assert seen[0][1] is False and all(r for v, r, n in seen[1:]), seen
assert all(n == "api.bench.test" for v, r, n in seen), seen
assert isinstance(front, str) or front[0] in (400, 403, 421), front
EOF
}
check "intercepted: a second connection resumes the TLS session (ticket), and a third; not under another SNI" resume
check "the request under another SNI never reached an upstream" bash -c "! grep -q ' /resume-front ' '$DIR/upstream.log'"
# TLS 1.2 resumes from the session the ticket holds, whose server name is
# not the new ClientHello's: the proxy takes no TLS 1.2 ticket, so the
# server name is checked on every connection
resume12() {
	vmpy - "$T" "$PCA" <<'EOF'
import ssl, sys, spxclient
tok, ca = sys.argv[1:3]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
def one(sni, path, sess=None):
    c = spxclient.Conn()
    st, h, b = c.connect("api.bench.test:443", tok)
    assert st == 200, st
    try:
        c.sock = ctx.wrap_socket(c.sock, server_hostname=sni, session=sess)
        c.send(b"GET %s HTTP/1.1\r\nHost: api.bench.test\r\n\r\n" % path)
        st, h, b = c.read_response()
        r = (st, c.sock.version(), c.sock.session_reused, c.sock.session)
    except (spxclient.Closed, ssl.SSLError, ConnectionError, ValueError) as e:
        r = ("closed: %s" % e, None, None, None)
    c.close()
    return r
first = one("api.bench.test", b"/resume12-0")
again = one("api.bench.test", b"/resume12-1", first[3])
front = one("other.bench.test", b"/resume12-front", first[3])
print(first[:3], again[:3], front[:3])
assert first[0] == 200 and first[1] == "TLSv1.2", first
assert again[0] == 200 and again[2] is False, again
assert front[0] == 421 or str(front[0]).startswith("closed"), front
EOF
}
check "TLS 1.2: no resumption from a ticket, so a ticket under another SNI is refused too" resume12
check "the TLS 1.2 request under another SNI never reached an upstream" bash -c "! grep -q ' /resume12-front ' '$DIR/upstream.log'"

# ---- no fronting through SNI ----
sni_front() {
	vmpy - "$T" "$PCA" <<'EOF'
import ssl, sys, spxclient
tok, ca = sys.argv[1:3]
c = spxclient.Conn()
st, h, b = c.connect("api.bench.test:443", tok)
assert st == 200, st
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    c.sock = ctx.wrap_socket(c.sock, server_hostname="other.bench.test")
    c.send(b"GET /sni-front HTTP/1.1\r\nHost: other.bench.test\r\n\r\n")
    st, h, b = c.read_response()
except (spxclient.Closed, ssl.SSLError, ConnectionError) as e:
    print("closed:", e)
    sys.exit(0)
print(st, b[:200])
assert st in (400, 403, 421), st
EOF
}
check "SNI naming another host than the CONNECT is refused" sni_front
check "the SNI-fronted request never reached an upstream" bash -c "! grep -q ' /sni-front ' '$DIR/upstream.log'"
check "the SNI mismatch is in the audit log (tls event)" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r.get("event") == "tls" and r.get("host") == "api.bench.test" and r.get("decision") == "deny"]
print(r[-1:])
assert r
EOF

# ---- every request inside is judged, live ----
live_revoke() {
	vmpy - "$T" "$PCA" "$P" "$S" "$R_API" <<'EOF'
import json, subprocess, sys, spxclient
tok, ca, prog, sock, rid = sys.argv[1:6]
c = spxclient.Conn()
st, h, b = c.connect("api.bench.test:443", tok); assert st == 200, st
c.wrap_tls("api.bench.test", ca)
def get(p):
    c.send(("GET %s HTTP/1.1\r\nHost: api.bench.test\r\n\r\n" % p).encode())
    return c.read_response()
st, h, b = get("/live/1"); assert st == 200, st
st, h, b = get("/live/2"); assert st == 200, st
# the control socket is a path: reachable from any network namespace
subprocess.run([prog, "revoke", "vm1", rid, "--url", sock],
               check=True, capture_output=True)
try:
    st, h, b = get("/live/3")
    print("after revoke:", st, b[:200])
    assert st == 403, st
except (spxclient.Closed, ConnectionError) as e:
    print("closed after revoke:", e)
EOF
}
check "revoking the rule applies to the next request on an open intercepted connection" live_revoke
check "the request after the revocation never reached the upstream" bash -c "! grep -q ' /live/3 ' '$DIR/upstream.log'"
cli allow vm1 --host api.bench.test --inspect >/dev/null

# ---- audit ----
sleep 0.3
check "audit: intercept connect, request with mode, rule, status, bytes, duration" py_check "$AUDIT" "$R_API" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rid = sys.argv[2]
con = [r for r in rows if r["event"] == "connect" and r["host"] == "api.bench.test" and r["mode"] == "intercept"]
assert con, "no intercept connect record"
req = [r for r in rows if r["event"] == "request" and r.get("path") == "/i1"]
assert len(req) == 1, req
r = req[0]
print(r)
assert r["mode"] == "intercept", r
assert r["rule"] == rid, r
assert r["decision"] == "allow" and r["status"] == 200, r
assert r["method"] == "GET" and r["host"] == "api.bench.test" and r["port"] == 443, r
assert r["client"] == "vm1" and r["peer"] == "192.168.222.2", r
assert isinstance(r["bytes_out"], int) and r["bytes_out"] > 100, r
assert isinstance(r["bytes_in"], int), r
assert isinstance(r["duration_ms"], int) and 0 <= r["duration_ms"] < 10000, r
assert r["secret"] is None, r
EOF
check "audit: a denied request inside the tunnel is logged as deny 403, mode intercept" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["event"] == "request" and r.get("path") == "/y" and r["host"] == "other.bench.test"]
print(r)
assert r and r[0]["decision"] == "deny" and r[0]["status"] == 403 and r[0]["mode"] == "intercept", r
assert r[0]["method"] == "GET"
EOF
check "audit: the plain tunnel is mode tunnel, with a close record carrying bytes" py_check "$AUDIT" "$R_PLAIN" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
con = [r for r in rows if r["event"] == "connect" and r["host"] == "plain.bench.test"]
assert con and all(r["mode"] == "tunnel" for r in con), con
assert con[0]["rule"] == sys.argv[2], con[0]
cl = [r for r in rows if r["event"] == "close" and r["host"] == "plain.bench.test"]
print(cl[:1])
assert cl and cl[0]["bytes_out"] > 500 and cl[0]["bytes_in"] > 100, cl
assert not [r for r in rows if r["event"] == "request" and r["host"] == "plain.bench.test"], \
    "requests inside a plain tunnel cannot be seen"
EOF
check "proxy still serves after everything above" expect_re '"path": "/end"' icurl https://api.bench.test/end
bench_finish
