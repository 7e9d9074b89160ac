#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A response cut short never reaches the client as a complete one.  The
# upstream (ci/upstream.py /cut) sends a head and part of a body, then ends:
# with a reset, with a plain close (over TLS without close_notify) or with
# close_notify.  Through the forward proxy (plain HTTP), interception (TLS
# at both ends), a CONNECT tunnel and the agent (transparent, its link
# plain), with the body read until close, with Content-Length and chunked:
# a reset or a cut inside a framed body reaches the client as a reset (curl
# exit 56, "reset by peer"), an until-close body ended without close_notify
# reaches it without close_notify (for the client to judge, as it would
# directly), and only a clean end is a clean end (every byte).  The audit
# log tells them apart, and the proxy goes on serving.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy --upstream-ca "$CA" --https-port 3129
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
# 80: forwarded; 443: intercepted; 8443: a plain tunnel
cli allow vm1 --host api.bench.test --port 80 --port 443 --inspect >/dev/null
cli allow vm1 --host api.bench.test --port 8443 >/dev/null
export T PCA

# cut URL [CAFILE]: "EXIT BYTES" of curl through the proxy (its error in
# $DIR/cut.err)
cut() {
	local out rc
	out=$(in_vm curl -q -sS -m 15 --cacert "${2:-$PCA}" -x "http://proxy:$T@$PROXY_ADDR" \
		-o /dev/null -w '%{size_download}' "$1" 2>"$DIR/cut.err")
	rc=$?
	echo "$rc $out"
}
# tls_end PORT CAFILE PATH: one GET over TLS to api.bench.test:PORT through
# a CONNECT (or, with TLS_END_IN=guestpy TLS_END_TOKEN=-, straight from the
# guest, where the agent redirects it), read to its end with TLS run over
# the socket's raw bytes, so that the end is seen as it is and not as the
# ssl module reports a ragged one: "clean|unclean|reset BODY_BYTES" (an end
# with close_notify, a FIN without it, a reset)
tls_end() {
	${TLS_END_IN:-vmpy} - "${TLS_END_TOKEN:-$T}" "$@" <<'EOF2'
import socket, ssl, sys, time, spxclient
tok, port, ca, path = sys.argv[1:5]
if tok == "-":  # no proxy in sight: the agent redirects the connection
    sock = socket.create_connection(("api.bench.test", int(port)), timeout=10)
else:
    c = spxclient.Conn(timeout=10)
    st, h, b = c.connect("api.bench.test:%s" % port, tok)
    assert st == 200, st
    sock = c.sock
inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
ctx = ssl.create_default_context(cafile=ca)
t = ctx.wrap_bio(inc, out, server_hostname="api.bench.test")
def flush():
    d = out.read()
    if d:
        sock.sendall(d)
def feed():
    """raw bytes into TLS: None, or how the socket ended"""
    try:
        d = sock.recv(65536)
    except ConnectionResetError:
        return "reset"
    if not d:
        inc.write_eof()
        return "eof"
    inc.write(d)
    return None
for _ in range(100):
    try:
        t.do_handshake()
        break
    except ssl.SSLWantReadError:
        flush()
        assert feed() is None, "ended in the handshake"
flush()
t.write(("GET %s HTTP/1.1\r\nHost: api.bench.test\r\n\r\n" % path).encode())
flush()
data, how = b"", None
deadline = time.time() + 10
while how is None and time.time() < deadline:
    try:
        d = t.read(65536)
        if not d:  # close_notify
            how = "clean"
        data += d
        continue
    except ssl.SSLWantReadError:
        pass
    except ssl.SSLZeroReturnError:
        how = "clean"
        break
    flush()
    # read() drains TLS before more raw bytes come: a close_notify is seen
    # before the socket's end, so an end reached first is one without it
    end = feed()
    if end == "reset":
        how = "reset"
    elif end == "eof":
        how = "unclean"
print(how, len(data.partition(b"\r\n\r\n")[2]))
EOF2
}
# reset_seen URL: curl fails with "reset by peer"
reset_seen() {
	local r
	r=$(cut "$1")
	cat "$DIR/cut.err"
	echo "$r"
	[ "${r%% *}" = 56 ] && grep -qi 'reset by peer' "$DIR/cut.err"
}
# audit_has PORT DECISION REASON-PART: a request record for /cut on that
# port (the audit log keeps no query string)
AUDIT_HAS='
import json, sys
path, port, dec, reason = sys.argv[1:5]
for line in open(path):
    try:
        r = json.loads(line)
    except ValueError:
        continue
    if r.get("event") == "request" and r.get("path") == "/cut" and str(r.get("port")) == port \
            and r.get("decision") == dec and reason in (r.get("reason") or ""):
        sys.exit(0)
sys.exit(1)'
audit_has() { wait_for 5 "$PY" -c "$AUDIT_HAS" "$AUDIT" "$@"; }
export AUDIT_HAS
# body_cut http|https rst|fin: a POST of a 100000-byte body cut after 5000
# bytes by a reset or an end (over TLS: close_notify), forwarded (http) or
# intercepted (https); prints how the upstream saw its body end
body_cut() {
	local n
	n=$(grep -c ' BODYEND ' "$DIR/upstream.log")
	vmpy - "$T" "$PCA" "$1" "$2" <<'EOF2'
import socket, struct, sys, time, spxclient
tok, ca, scheme, how = sys.argv[1:5]
c = spxclient.Conn(timeout=10)
head = "POST %s HTTP/1.1\r\nHost: api.bench.test\r\nContent-Length: 100000\r\n"
if scheme == "http":
    data = (head % "http://api.bench.test/bodyend" + "Proxy-Authorization: %s\r\n\r\n"
            % spxclient.basic(tok)).encode()
else:
    st, h, b = c.connect("api.bench.test:443", tok)
    assert st == 200, st
    c.wrap_tls("api.bench.test", ca)
    data = (head % "/bodyend" + "\r\n").encode()
c.sock.sendall(data + b"b" * 5000)
time.sleep(0.5)
if how == "rst":
    raw = c.sock
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
else:
    try:
        if scheme == "https":
            c.sock = c.sock.unwrap()  # close_notify (the proxy resets us)
        c.sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    time.sleep(1)
    c.sock.close()
EOF2
	wait_for 5 bash -c "[ \$(grep -c ' BODYEND ' '$DIR/upstream.log') -gt $n ]"
	grep ' BODYEND ' "$DIR/upstream.log" | tail -1 | grep -o 'got=.*'
}
export -f cut reset_seen audit_has tls_end body_cut

H=http://api.bench.test
S=https://api.bench.test
U=https://api.bench.test:8443

# ---- forward (plain HTTP)
check "forward, read until close, clean close: complete" expect "0 5000" cut "$H/cut?framing=close&n=5000&how=fin"
check "forward, read until close, reset: the client gets a reset" reset_seen "$H/cut?framing=close&n=5000&how=rst"
check "forward, Content-Length cut by a close: a reset" reset_seen "$H/cut?framing=length&n=5000&how=fin"
check "forward, chunked cut by a reset: a reset" reset_seen "$H/cut?framing=chunked&n=5000&how=rst"
check "audit: the forward cut is an error" audit_has 80 error "upstream closed mid-response"

# ---- intercepted (TLS both ends)
check "intercepted, read until close, close_notify: complete" expect "0 5000" cut "$S/cut?framing=close&n=5000&how=notify"
check "intercepted, read until close, close_notify: passed on" expect "clean 5000" tls_end 443 "$PCA" "/cut?framing=close&n=5000&how=notify"
check "intercepted, read until close, no close_notify: none to the client either" expect "unclean 5000" tls_end 443 "$PCA" "/cut?framing=close&n=5000&how=fin"
check "audit: allowed, the end without close_notify noted" audit_has 443 allow "without close_notify"
check "intercepted, read until close, reset: a reset" reset_seen "$S/cut?framing=close&n=5000&how=rst"
check "intercepted, Content-Length cut with close_notify: a reset" reset_seen "$S/cut?framing=length&n=5000&how=notify"
check "intercepted, chunked cut without close_notify: a reset" reset_seen "$S/cut?framing=chunked&n=5000&how=fin"
check "audit: the intercepted cut is an error" audit_has 443 error "upstream closed mid-response"

# ---- a request body cut short by the client reaches the upstream as a
# reset: it must not take what it got for the whole request
check "forward, the client resets mid-body: the upstream gets a reset" \
	expect_re 'got=5000 of=100000 end=.* tcp=reset' body_cut http rst
check "forward, the client ends mid-body: the upstream gets a reset" \
	expect_re 'got=5000 of=100000 end=.* tcp=reset' body_cut http fin
check "intercepted, the client resets mid-body: the upstream gets a reset" \
	expect_re 'got=5000 of=100000 end=.* tcp=reset' body_cut https rst
check "intercepted, the client's close_notify mid-body: the upstream gets a reset" \
	expect_re 'got=5000 of=100000 end=.* tcp=reset' body_cut https fin
check "audit: the request cut by the client is an error" bash -c \
	"grep '\"path\":\"/bodyend\"' '$AUDIT' | grep -c '\"decision\":\"error\"' | grep -qx 4"

# ---- tunnel: the upstream's reset is passed on as a reset
check "tunnel, the upstream resets: the client gets a reset" expect "reset 5000" tls_end 8443 "$CA" "/cut?framing=close&n=5000&how=rst"
check "tunnel, an end without close_notify stays so" expect "unclean 5000" tls_end 8443 "$CA" "/cut?framing=close&n=5000&how=fin"
check "tunnel, a clean end stays clean" expect "clean 5000" tls_end 8443 "$CA" "/cut?framing=close&n=5000&how=notify"

# ---- through the agent (transparent, its link to the proxy plain): a
# reset goes on as a reset there too
case $BUILD in /*) A=$BUILD/slicer-agent ;; *) A=$SPX_ROOT/$BUILD/slicer-agent ;; esac
GUEST_ENV=
for v in ASAN_OPTIONS UBSAN_OPTIONS; do
	[ -n "${!v:-}" ] && GUEST_ENV="$GUEST_ENV $v=${!v}"
done
guestpy() { in_guest env PYTHONPATH="$SPX_CI" "$PY" "$@"; }
export -f guestpy
CUTS=13 # the cuts above: each ' CUT ' line of the upstream's log
# guest_reset_seen URL: curl in the guest (the agent redirects it) fails
# with "reset by peer"
guest_reset_seen() {
	local r
	r=$(in_guest curl -q -sS -m 15 -o /dev/null -w '%{size_download}' "$1" 2>"$DIR/cut.err")
	echo "exit $? after $r bytes"
	cat "$DIR/cut.err"
	grep -qi 'reset by peer' "$DIR/cut.err"
}
export -f guest_reset_seen
# agent_cuts LINK: the cuts through the agent, its link to the proxy LINK
agent_cuts() {
	local l=$1
	export TLS_END_IN=guestpy TLS_END_TOKEN=-
	check "agent ($l link), the upstream resets: the client gets a reset" expect "reset 5000" tls_end 8443 "$CA" "/cut?framing=close&n=5000&how=rst"
	check "agent ($l link), an end without close_notify stays so" expect "unclean 5000" tls_end 8443 "$CA" "/cut?framing=close&n=5000&how=fin"
	check "agent ($l link), a clean end stays clean" expect "clean 5000" tls_end 8443 "$CA" "/cut?framing=close&n=5000&how=notify"
	unset TLS_END_IN TLS_END_TOKEN
	check "agent ($l link), plain HTTP read until close, reset: the client gets a reset" \
		guest_reset_seen "$H/cut?framing=close&n=5000&how=rst"
	check "agent ($l link), plain HTTP, Content-Length cut: a reset" \
		guest_reset_seen "$H/cut?framing=length&n=5000&how=fin"
}
if guest_up; then
	check "agent installs (link to the proxy plain)" in_guest "$A" proxy install \
		--proxy "http://proxy:$T@$PROXY_ADDR"
	agent_cuts plain
	CUTS=$((CUTS + 5))
	check "agent uninstalls" in_guest "$A" proxy uninstall
	# over the proxy's TLS port a cut cannot go through the socketpair
	# behind it as an end: the TLS connection to the agent is reset
	if ldd "$A" 2>/dev/null | grep -q libmbedtls; then
		SHA=$(openssl x509 -in "$PCA" -outform DER | sha256sum | awk '{print $1}')
		check "agent installs (TLS link, CA pinned)" in_guest "$A" proxy install \
			--proxy "https://proxy:$T@$HOST_IP:3129" --ca-sha256 "$SHA"
		agent_cuts TLS
		CUTS=$((CUTS + 5))
		check "agent uninstalls (TLS link)" in_guest "$A" proxy uninstall
	else
		echo "note: the TLS link is not tested (the agent is built without mbed TLS)"
	fi
else
	check "a private guest file system for the agent" false
fi

check "the proxy goes on serving" expect_re '"path": "/after"' \
	in_vm curl -q -sS -m 10 --cacert "$PCA" -x "http://proxy:$T@$PROXY_ADDR" "$S/after"
check "the upstream saw every cut" expect "$CUTS" bash -c "grep -c ' CUT ' '$DIR/upstream.log'"
bench_finish
