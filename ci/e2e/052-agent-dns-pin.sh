#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A name from the agent's DNS stub holds only for the address the guest
# connected to (Slicer-Original-Destination).  A name-less TCP client in
# the guest (a postgres-like client on port 5432 that speaks first with no
# SNI or Host) goes to the proxy as CONNECT NAME:5432, NAME being the name
# the stub last answered for the address.  The name's answers may move on
# between the guest's lookup and the proxy's (round-robin DNS, or another
# process of the VM rebinding a name it controls, TTL 0): the stub was
# answered flip.pin.bench.test -> Y = 198.18.0.10, the proxy's own lookup
# gets Z = 198.18.0.11.  The connection goes to Y, which the proxy itself
# gave this VM for the name, and never to Z; another VM that was never
# given Y for it is refused.  With a name that keeps resolving to Y it
# goes through to Y.  A plain curl that sends the field itself can only
# narrow where the proxy dials: an address not among the name's answers,
# not the IP literal it CONNECTs to, or not well-formed is refused without
# a dial; an address among them that the address checks deny (metadata,
# LAN) stays denied; the pin holds for the requests inside an intercepted
# tunnel (IPv4 and IPv6 alike); a plain HTTP request's field is dropped,
# not forwarded.
#
# The guest runs in the bench's vm namespace inside a private mount
# namespace over overlays (as in 042 and 051): this machine's files are
# never touched.  The rebinding resolver is ci/dnsflip.py on
# 198.18.0.54:5360, behind the bench's dnsmasq for *.flip.pin.bench.test.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
Y=198.18.0.10 Z=198.18.0.11
# shellcheck disable=SC2034,SC2054 # read by bench_dns; the commas are dnsmasq's
SPX_DNS_ARGS=(
	--server=/flip.pin.bench.test/198.18.0.54#5360
	--server=/gone.pin.bench.test/198.18.0.54#5361
	"--host-record=stable.pin.bench.test,$Y"
)
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
case $BUILD in /*) A=$BUILD/slicer-agent ;; *) A=$SPX_ROOT/$BUILD/slicer-agent ;; esac
[ -x "$A" ] || { echo "no $A (make first)"; echo "0 passed, 1 failed"; exit 1; }

# ---- the rebinding resolver (Y once, then Z) and a name-less server on
# port 5432 of Y and of Z that logs every connection with its address
net_extras_up() {
	spawn "$NNS" "$PY" "$SPX_CI/dnsflip.py" --port 5360 198.18.0.54 \
		$Y $Z $Z $Z $Z $Z $Z $Z $Z $Z $Z $Z $Z $Z $Z $Z 2>>"$DIR/flip.log"
	# a name whose resolver fails after its first answer (each look-up
	# is asked again on SERVFAIL: enough of them for the whole script)
	# shellcheck disable=SC2046 # one word each
	spawn "$NNS" "$PY" "$SPX_CI/dnsflip.py" --port 5361 198.18.0.54 \
		$Y $(printf 'servfail %.0s' {1..200}) 2>>"$DIR/gone.log"
	spawn "$NNS" "$PY" -c '
import socket, sys, threading
ready, addrs = sys.argv[1], sys.argv[2:]
def serve(c, here, peer):
    sys.stderr.write("PG CONN %s from %s\n" % (here, peer[0])); sys.stderr.flush()
    try:
        c.settimeout(10)
        d = c.recv(100)
        if d:
            c.sendall(b"PONG " + here.encode() + b"\n")
    except OSError:
        pass
    c.close()
def listen(a):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((a, 5432))
    s.listen(16)
    return s
def loop(s, a):
    while True:
        c, peer = s.accept()
        threading.Thread(target=serve, args=(c, a, peer), daemon=True).start()
socks = [(listen(a), a) for a in addrs]
for s, a in socks:
    threading.Thread(target=loop, args=(s, a), daemon=True).start()
open(ready, "w").write("ready\n")
threading.Event().wait()
' "$DIR/pg.ready" $Y $Z 2>>"$DIR/pg.log"
	wait_for 5 test -s "$DIR/pg.ready" &&
		wait_for 10 in_net dig +time=1 +tries=1 -p 5360 @198.18.0.54 probe.invalid AAAA &&
		wait_for 10 in_net dig +time=1 +tries=1 -p 5361 @198.18.0.54 probe.invalid AAAA
}
check "rebinding resolver and port-5432 servers on Y and Z up" net_extras_up
check "proxy starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
# names under the VM's control (a hosting wildcard), port 5432; no rule
# for either address by itself
cli allow vm1 --host '*.pin.bench.test' --port 5432 >/dev/null
cli allow vm1 --host 198.18.0.10 --port 5432 >/dev/null
cli allow vm1 --host plain.bench.test --port 80 >/dev/null
cli allow vm1 --host meta.bench.test --port 80 >/dev/null
cli allow vm1 --host lan.bench.test --port 80 >/dev/null
cli allow vm1 --host dual.bench.test --port 80 >/dev/null
# a rule with a path: its CONNECTs are intercepted (plain HTTP inside)
cli allow vm1 --host git.bench.test --port 80 --path '/pin/*' >/dev/null
URL="http://proxy:$T@$PROXY_ADDR"

guest_up_stub_only
# pg_hits ADDR: connections the port-5432 server on ADDR saw
pg_hits() { grep -c "^PG CONN $1 " "$DIR/pg.log" 2>/dev/null || true; }
# hits: connections Y's and Z's servers saw, "Y Z"
hits() { echo "$(pg_hits $Y) $(pg_hits $Z)"; }
# pg_client ADDR: a name-less client in the guest: it speaks first ("PING",
# no TLS, no HTTP), prints the server's answer, EOF or RESET
cat >"$DIR/pg_client.py" <<'EOF'
import socket, sys
try:
    s = socket.create_connection((sys.argv[1], 5432), timeout=10)
    s.sendall(b"PING\n")
    d = s.recv(100)
    print(d.decode().strip() if d else "EOF")
except ConnectionResetError:
    print("RESET")
EOF
pg_client() { in_guest python3 "$DIR/pg_client.py" "$1"; }
# counter NAME: one counter of `slicer-agent proxy status`
counter() { in_guest "$A" proxy status 2>/dev/null | grep -oE "(^| )$1=[0-9]+" | head -1 | cut -d= -f2; }
# audit_has FIELD=VALUE... [FIELD~TEXT]: one audit record has every FIELD
# equal to VALUE, and TEXT in every FIELD given with ~
audit_has() {
	"$PY" - "$AUDIT" "$@" <<'EOF'
import json, sys
want = []
for a in sys.argv[2:]:
    op = "~" if "~" in a and ("=" not in a or a.index("~") < a.index("=")) else "="
    k, v = a.split(op, 1)
    want.append((k, op, v))
for line in open(sys.argv[1]):
    r = json.loads(line)
    if all((v in str(r.get(k))) if op == "~" else (str(r.get(k)) == v) for k, op, v in want):
        print(line.strip())
        sys.exit(0)
sys.exit(1)
EOF
}
# raw_connect HEAD-LINES...: a CONNECT head of our own from the vm, with the
# token ($TOK, else $T); prints the proxy's status line
raw_connect() {
	in_vm "$PY" - "${TOK:-$T}" "$@" <<'EOF'
import base64, socket, sys
tok, target, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
auth = base64.b64encode(("proxy:" + tok).encode()).decode()
head = "CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n" % (target, target, auth)
head += "".join(h + "\r\n" for h in extra) + "\r\n"
s = socket.create_connection(("192.168.222.1", 3128), timeout=10)
s.sendall(head.encode())
def status():
    b = b""
    while b"\r\n\r\n" not in b:
        d = s.recv(4096)
        if not d:
            break
        b += d
    print(b.split(b"\r\n", 1)[0].decode(errors="replace"))
    return b
b = status()
if b.startswith(b"HTTP/1.1 200") and target.endswith(":5432"):
    s.sendall(b"PING\n")
    print(s.recv(100).decode(errors="replace").strip())
elif b.startswith(b"HTTP/1.1 200") and target.endswith(":80"):
    # a request inside the tunnel (intercepted when a rule has a path)
    host = target.rsplit(":", 1)[0]
    s.sendall(("GET /pin/inner HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % host).encode())
    status()
EOF
}
export -f in_guest counter pg_hits hits pg_client audit_has raw_connect
export GPID A T DIR Y Z AUDIT

check "install" in_guest "$A" proxy install --proxy "$URL"

# ---- (b) the name keeps resolving to the address: through, to Y
check "the stub answers stable.pin.bench.test with Y" expect $Y \
	in_guest dig +short +tries=1 +time=3 stable.pin.bench.test
check "name-less client to Y after resolving a stable name: reaches Y" \
	expect "PONG $Y" pg_client $Y
# shellcheck disable=SC2016 # expanded by the inner shell
check "... sent by the stub's name" bash -c 'n=$(counter by_dns); echo "by_dns=$n"; [ "${n:-0}" -ge 1 ]'
check "... the proxy allowed it as stable.pin.bench.test:5432" \
	audit_has event=connect host=stable.pin.bench.test port=5432 decision=allow

# ---- (a) the name's answers move on after the guest's lookup (round-robin
# DNS; or another process of the VM rebinding a name it controls): the stub
# was answered Y for flip.pin.bench.test, the proxy's own lookup gets Z
check "another process resolves flip.pin.bench.test: Y (TTL 0)" expect $Y \
	in_guest dig +short +tries=1 +time=3 flip.pin.bench.test
y0=$(pg_hits $Y) z0=$(pg_hits $Z)
check "name-less client to Y now: reaches Y (the proxy gave this VM Y for the name)" \
	expect "PONG $Y" pg_client $Y
check "... the proxy looked the name up again (and got Z)" bash -c \
	"[ \$(grep -c ' A flip.pin.bench.test -> $Z' '$DIR/flip.log') -ge 1 ]; r=\$?; cat '$DIR/flip.log'; exit \$r"
check "... it never reached Z's server" expect "$z0" pg_hits $Z
check "... the proxy allowed it as flip.pin.bench.test:5432" \
	audit_has event=connect host=flip.pin.bench.test port=5432 decision=allow
# another VM, never given Y for that name: its pin must hold by the live
# lookup alone, which says Z
T2=$(new_client vm2 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
cli allow vm2 --host '*.pin.bench.test' --port 5432 >/dev/null
export T2
read -r y0 z0 < <(hits)
check "another VM pinning flip.pin.bench.test to Y, never given it: 403" \
	expect "HTTP/1.1 403 Forbidden" bash -c "TOK=\$T2 raw_connect flip.pin.bench.test:5432 'Slicer-Original-Destination: $Y'"
check "... never dialled: neither Y's nor Z's server saw it" expect "$y0 $z0" hits
check "... the audit record says why" audit_has event=connect client=vm2 \
	host=flip.pin.bench.test decision=deny status=403 \
	"reason~does not resolve to $Y, the address the client connected to"

# ---- (a') the proxy's own look-up fails after the guest's (its resolver
# down for a while): the address the proxy gave this VM for the name
# still goes; another VM's pin to it has nothing to stand on
check "the stub answers gone.pin.bench.test with Y" expect $Y \
	in_guest dig +short +tries=1 +time=3 gone.pin.bench.test
read -r y0 z0 < <(hits)
check "name-less client to Y while the name's look-up fails: reaches Y (given lately)" \
	expect "PONG $Y" pg_client $Y
check "... the proxy's look-up met SERVFAIL" bash -c \
	"[ \$(grep -c ' A gone.pin.bench.test -> servfail' '$DIR/gone.log') -ge 1 ]; r=\$?; cat '$DIR/gone.log'; exit \$r"
check "... Y's server saw it, Z's did not" expect "$((y0 + 1)) $z0" hits
check "... the proxy allowed it as gone.pin.bench.test:5432" \
	audit_has event=connect client=vm1 host=gone.pin.bench.test port=5432 decision=allow
check "another VM pinning gone.pin.bench.test to Y, never given it: 502" \
	expect_re '^HTTP/1.1 502 ' bash -c "TOK=\$T2 raw_connect gone.pin.bench.test:5432 'Slicer-Original-Destination: $Y'"
check "... never dialled" expect "$((y0 + 1)) $z0" hits

# ---- (c) the field sent by a plain client: it only ever narrows
read -r y0 z0 < <(hits)
check "curl CONNECT with a forged address (Z, not an answer of the name): 403" expect 403 \
	connect_code "$T" "http://stable.pin.bench.test:5432/" -p \
	--proxy-header "Slicer-Original-Destination: $Z"
check "... never dialled: neither Y's nor Z's server saw it" expect "$y0 $z0" hits
check "... the audit record names the address" audit_has host=stable.pin.bench.test \
	decision=deny "reason~does not resolve to $Z"
check "CONNECT with the name's own address: through to it" \
	expect "HTTP/1.1 200 Connection established
PONG $Y" raw_connect stable.pin.bench.test:5432 "Slicer-Original-Destination: $Y"
read -r y0 z0 < <(hits)
check "CONNECT to an IP literal with another address: 403" \
	expect_re '^HTTP/1.1 403 ' raw_connect $Y:5432 "Slicer-Original-Destination: $Z"
check "CONNECT to an IP literal with its own address: through" \
	expect "HTTP/1.1 200 Connection established
PONG $Y" raw_connect $Y:5432 "Slicer-Original-Destination: $Y"
check "... the audit record says so" audit_has host=$Y decision=deny \
	"reason~$Y is not $Z, the address the client connected to"
check "IPv6: one of a dual-stack name's answers: through" \
	expect "HTTP/1.1 200 Connection established
HTTP/1.1 200 OK" raw_connect dual.bench.test:80 "Slicer-Original-Destination: 2001:2::10"
check "IPv6: an address the name does not have: 403" expect_re '^HTTP/1.1 403 ' \
	raw_connect dual.bench.test:80 "Slicer-Original-Destination: 2001:2::11"
check "... the refused literal never dialled, the one let through once" \
	expect "$((y0 + 1)) $z0" hits
check "intercepted: a request inside a tunnel pinned to another address: 403" \
	expect "HTTP/1.1 200 Connection established
HTTP/1.1 403 Forbidden" raw_connect git.bench.test:80 "Slicer-Original-Destination: $Z"
check "... audited as a request that does not resolve there" audit_has event=request \
	host=git.bench.test decision=deny "reason~does not resolve to $Z"
check "intercepted: a request inside a tunnel pinned to the name's address: through" \
	expect "HTTP/1.1 200 Connection established
HTTP/1.1 200 OK" raw_connect git.bench.test:80 "Slicer-Original-Destination: $Y"
# the upstream pool: an unpinned request parks its upstream connection; a
# pinned one neither takes a parked one nor parks its own
pool() { api GET /metrics | sed -n "s/^slicer_upstream_pool_$1_total //p"; }
export -f pool
p0=$(pool parked)
check "intercepted, unpinned: its upstream connection is parked" \
	expect "HTTP/1.1 200 OK" bash -c "pcurl \$T -p -sS -o /dev/null -w 'HTTP/1.1 %{http_code} OK' http://git.bench.test/pin/unpinned; sleep 0.3"
check "... parked" expect $((p0 + 1)) pool parked
h0=$(pool hits)
check "intercepted, pinned: through" expect "HTTP/1.1 200 Connection established
HTTP/1.1 200 OK" raw_connect git.bench.test:80 "Slicer-Original-Destination: $Y"
check "... on a connection of its own: no pool hit, nothing parked" \
	bash -c "sleep 0.3; [ \"\$(pool hits) \$(pool parked)\" = '$h0 $((p0 + 1))' ]"
check "the metadata address, though the name resolves to it: still denied" \
	expect_re '^HTTP/1.1 403 ' raw_connect meta.bench.test:80 "Slicer-Original-Destination: 169.254.169.254"
check "... as a denied destination" audit_has host=meta.bench.test decision=deny \
	"reason~denied destination"
check "a LAN address, though the name resolves to it: still denied" \
	expect_re '^HTTP/1.1 403 ' raw_connect lan.bench.test:80 "Slicer-Original-Destination: 192.168.1.7"
read -r y0 z0 < <(hits)
for v in "198.18.0.010" "2001:DB8::7" "[$Y]" "$Y:5432" "$Y, $Z" "stable.pin.bench.test" ""; do
	check "malformed field '$v': 400" expect_re '^HTTP/1.1 400 ' \
		raw_connect stable.pin.bench.test:5432 "Slicer-Original-Destination: $v"
done
check "the field twice: 400" expect_re '^HTTP/1.1 400 ' raw_connect stable.pin.bench.test:5432 \
	"Slicer-Original-Destination: $Y" "Slicer-Original-Destination: $Y"
check "... none of those dialled" expect "$y0 $z0" hits
check "a plain HTTP request's field is dropped, not forwarded" \
	jpipe '"slicer-original-destination" not in H' 'j["server"] == "198.18.0.10"' -- \
	pcurl "$T" -H "Slicer-Original-Destination: $Z" http://plain.bench.test/pin-plain

bench_finish
