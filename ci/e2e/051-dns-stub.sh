#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest's DNS stub after `slicer-agent proxy install`, with real
# resolvers: dig (UDP and TCP), getent (glibc), busybox nslookup, a
# getaddrinfo program linked with musl (when musl-gcc is installed),
# python3, curl by name.  A denied name is NXDOMAIN and never reaches a DNS
# server, also when sent to a hard-coded resolver (IPv4 and IPv6); a name
# allowed mid-flight resolves within 5 s; a revoked name keeps answering
# only from the stub's cache and stops when its TTL runs out; TTLs are
# capped at 60 s; a large answer is truncated over UDP and whole over TCP;
# HTTPS/SVCB empty; use-application-dns.net NXDOMAIN; malformed packets get
# FORMERR or nothing and the stub keeps serving; a flood from one source
# does not starve another's queries.  The redirector sends the name the
# stub answered for an address: an ssh-like client on port 22 (a rule for
# the name and that port, none for the address) and a TLS client without
# SNI get through.  A container behind a bridge resolves through the stub.
# With an https:// proxy URL the stub speaks TLS to the proxy's TLS port.
#
# The guest runs in the bench's vm namespace inside a private mount
# namespace over overlays (as in 042): this machine's files are never
# touched.  A second dnsmasq of this test (198.18.0.55) serves *.dns.test
# with real TTLs (the bench's have TTL 0) in front of the bench's server,
# and sends *.slow.dns.test to an address where nothing answers.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
CNS=spx-051-$$-ctr
# shellcheck disable=SC2154 # rc is set inside the trap
trap 'rc=$?; ip netns del "$CNS" 2>/dev/null; (exit $rc); bench_down' EXIT
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
case $BUILD in /*) A=$BUILD/slicer-agent ;; *) A=$SPX_ROOT/$BUILD/slicer-agent ;; esac
[ -x "$A" ] || { echo "no $A (make first)"; echo "0 passed, 1 failed"; exit 1; }

# ---- a DNS server of our own in front of the bench's, and an echo server on
# 198.18.0.10:22 that speaks first like ssh
net_extras_up() {
	local i
	ip -n "$NNS" addr add 198.18.0.55/32 dev eth0 || return 1
	for i in $(seq 1 100); do echo "198.18.1.$i many.dns.test"; done >"$DIR/dns5.hosts"
	: >"$DIR/dns5.log"
	spawn "$NNS" dnsmasq -k -C /dev/null --user=root --no-resolv --no-hosts --no-poll \
		--bind-interfaces --listen-address=198.18.0.55 --cache-size=0 \
		--server=198.18.0.53 --local=/dns.test/ --local-ttl=30 \
		--server=/slow.dns.test/198.18.0.57 \
		--host-record=t3600.dns.test,198.18.0.10,3600 \
		--host-record=t8.dns.test,198.18.0.11,8 \
		--addn-hosts="$DIR/dns5.hosts" \
		--log-queries --log-facility="$DIR/dns5.log" 2>>"$DIR/dnsmasq.err"
	wait_for 10 in_net dig +time=1 +tries=1 +short @198.18.0.55 t3600.dns.test || return 1
	printf 'nameserver 198.18.0.55\noptions timeout:1 attempts:2\n' >"/etc/netns/$HNS/resolv.conf"
	spawn "$NNS" "$PY" -c '
import socket, sys, threading
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("198.18.0.10", 22))
s.listen(16)
open(sys.argv[1], "w").write("ready\n")
def serve(c, peer):
    sys.stderr.write("ECHO CONN %s\n" % peer[0]); sys.stderr.flush()
    c.sendall(b"SSH-2.0-bench-echo\r\n")
    while True:
        d = c.recv(4096)
        if not d:
            break
        c.sendall(d)
    c.close()
while True:
    c, peer = s.accept()
    threading.Thread(target=serve, args=(c, peer), daemon=True).start()
' "$DIR/echo.ready" 2>>"$DIR/echo.log"
	wait_for 5 test -s "$DIR/echo.ready"
}
check "second DNS server and a port-22 echo server up" net_extras_up
check "proxy starts (TLS port)" start_proxy --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
for h in api.bench.test '*.wild.bench.test' t3600.dns.test many.dns.test dual.bench.test \
	'*.slow.dns.test'; do
	cli allow vm1 --host "$h" >/dev/null
done
# ssh to the git host: a rule for the name and port 22, none for the address
cli allow vm1 --host git.bench.test --port 22 >/dev/null
URL="http://proxy:$T@$PROXY_ADDR"
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA"

# ---- the guest
guest_up_stub_only
# counter NAME: one counter of `slicer-agent proxy status`
counter() { in_guest "$A" proxy status 2>/dev/null | grep -oE "(^| )$1=[0-9]+" | head -1 | cut -d= -f2; }
# dns_seen REGEX: queries for names matching REGEX that reached either DNS server
dns_seen() { cat "$DIR/dns.log" "$DIR/dns5.log" 2>/dev/null | grep -cE "query\[[A-Za-z0-9=]*\] $1 from" || true; }
# gdig ARGS...: dig in the guest, one try
gdig() { in_guest dig +tries=1 +time=3 "$@"; }
# doh NAME: the proxy's own answer for vm1, asked directly (no stub)
cat >"$DIR/doh.py" <<'EOF'
import base64, struct, sys, urllib.request
tok, name = sys.argv[1:3]
q = struct.pack(">HHHHHH", 0, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0" + struct.pack(">HH", 1, 1)
req = urllib.request.Request("http://192.168.222.1:3128/slicer/dns-query", data=q, method="POST",
    headers={"Content-Type": "application/dns-message",
             "Proxy-Authorization": "Basic " + base64.b64encode(("proxy:" + tok).encode()).decode()})
r = urllib.request.urlopen(req, timeout=5).read()
print("rcode=%d an=%d" % (r[3] & 15, struct.unpack(">H", r[6:8])[0]))
EOF
doh() { in_vm "$PY" "$DIR/doh.py" "$T" "$1"; }
export -f in_guest counter dns_seen gdig doh
export GPID A T DIR CNS PY

check "install" in_guest "$A" proxy install --proxy "$URL"
check "status: the stub runs" expect_re 'stub: +DNS stub running' in_guest "$A" proxy status

# ---- real resolvers
check "dig (UDP)" expect 198.18.0.10 gdig +short api.bench.test
check "dig +tcp" expect 198.18.0.10 gdig +short +tcp api.bench.test
check "dig AAAA" expect 2001:2::10 gdig +short dual.bench.test AAAA
check "getent hosts (glibc)" expect_re '^198\.18\.0\.10 +api\.bench\.test' in_guest getent hosts api.bench.test
if command -v busybox >/dev/null; then
	check "busybox nslookup (its own resolver)" bash -c '
		out=$(in_guest busybox nslookup api.bench.test 2>&1); echo "$out"
		echo "$out" | grep -A3 "^Name:" | grep -q "198.18.0.10"'
	check "busybox: a denied name fails" bash -c \
		'! in_guest busybox nslookup secret-data-8.exfil.bench.test | grep -A3 "^Name:" | grep -q Address'
else
	echo "note: busybox not installed (Debian busybox): its resolver checks skipped"
fi
if command -v musl-gcc >/dev/null; then
	cat >"$DIR/gai.c" <<'EOF'
/* getaddrinfo through musl's resolver (A and AAAA in parallel) */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
int main(int argc, char **argv)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *r, *p;
	char buf[64];
	int rc = argc > 1 ? getaddrinfo(argv[1], NULL, &hints, &r) : EAI_NONAME;
	if (rc != 0) { printf("error: %s\n", gai_strerror(rc)); return 2; }
	for (p = r; p != NULL; p = p->ai_next)
		printf("%s\n", inet_ntop(p->ai_family, p->ai_family == AF_INET ?
		    (void *)&((struct sockaddr_in *)p->ai_addr)->sin_addr :
		    (void *)&((struct sockaddr_in6 *)p->ai_addr)->sin6_addr, buf, sizeof(buf)));
	return 0;
}
EOF
	check "musl getaddrinfo (A and AAAA at once)" bash -c "
		musl-gcc -static -O2 -o '$DIR/musl-gai' '$DIR/gai.c' || exit 1
		out=\$(in_guest '$DIR/musl-gai' dual.bench.test); echo \"\$out\"
		echo \"\$out\" | grep -qx 198.18.0.10 && echo \"\$out\" | grep -qx 2001:2::10"
	check "musl: a denied name fails" bash -c "! in_guest '$DIR/musl-gai' secret-data-0.exfil.bench.test"
else
	echo "note: musl-gcc not installed (Debian musl-tools): musl resolver checks skipped"
fi
check "python3 socket.getaddrinfo" expect 198.18.0.10 in_guest python3 -c \
	'import socket; print(socket.getaddrinfo("api.bench.test", 80, type=socket.SOCK_STREAM)[0][4][0])'
check "curl by name, no proxy settings" expect_re '"path": "/by-name"' in_guest curl -sS -m 10 http://api.bench.test/by-name

# ---- the redirector sends the stub's name for the address
check "ssh-like client on port 22: through by name (no rule for the address)" bash -c '
	in_guest getent hosts git.bench.test | grep -q 198.18.0.10 || exit 1
	in_guest python3 -c "
import socket
s = socket.create_connection((\"198.18.0.10\", 22), timeout=10)
s.sendall(b\"SSH-2.0-client\r\n\")
b = b\"\"
while b.count(b\"\n\") < 2:
    d = s.recv(4096)
    if not d:
        break
    b += d
print(b.decode(errors=\"replace\"))" | tee /dev/stderr | grep -q "SSH-2.0-client" &&
	grep -q "ECHO CONN 198.18.0.1$" "$DIR/echo.log"'
check "a client that waits for the server to speak first" bash -c '
	in_guest python3 -c "
import socket
s = socket.create_connection((\"198.18.0.10\", 22), timeout=10)
s.settimeout(5)
print(s.recv(100).decode())" | grep -q "SSH-2.0-bench-echo"'
check "TLS without SNI: through by name" bash -c "
	in_guest getent hosts api.bench.test | grep -q 198.18.0.10 || exit 1
	out=\$(in_guest timeout 10 openssl s_client -noservername -connect 198.18.0.10:443 \
		-CAfile '$CA' -verify_return_error </dev/null 2>&1)
	echo \"\$out\" | grep -E 'Verify return|Protocol|errno|error' | head -5
	echo \"\$out\" | grep -q 'Verify return code: 0 (ok)'"
check "an address no answer named still goes by address (refused)" bash -c "
	! in_guest timeout 10 openssl s_client -noservername -connect 198.18.0.11:443 \
		-CAfile '$CA' -verify_return_error </dev/null >/dev/null 2>&1"
check "status counts connections sent by the stub's name" bash -c \
	'n=$(counter by_dns); echo "by_dns=$n"; [ "${n:-0}" -ge 3 ]'

# ---- denied names
check "denied name: NXDOMAIN" expect_re 'status: NXDOMAIN' gdig secret-data-1.exfil.bench.test
check "denied over TCP: NXDOMAIN" expect_re 'status: NXDOMAIN' gdig +tcp secret-data-2.exfil.bench.test
check "hard-coded resolver (the bench's own server): NXDOMAIN" expect_re 'status: NXDOMAIN' \
	gdig @198.18.0.53 secret-data-3.exfil.bench.test
check "hard-coded resolver (an address with no server): answered by the stub" bash -c '
	gdig @198.18.0.11 secret-data-4.exfil.bench.test | grep -q "status: NXDOMAIN" &&
	[ "$(gdig +short @198.18.0.11 api.bench.test)" = 198.18.0.10 ]'
check "hard-coded IPv6 resolver: NXDOMAIN, and allowed names answer" bash -c '
	gdig @2001:2::53 secret-data-5.exfil.bench.test | grep -q "status: NXDOMAIN" &&
	[ "$(gdig +short @2001:2::53 api.bench.test)" = 198.18.0.10 ]'
check "glibc and python: a denied name fails" bash -c '
	! in_guest getent hosts secret-data-6.exfil.bench.test &&
	! in_guest python3 -c "import socket; socket.getaddrinfo(\"secret-data-7.exfil.bench.test\", 80)" 2>/dev/null'
check "denied names never reached a DNS server" expect 0 dns_seen 'secret-data-[0-9]+\.exfil\.bench\.test'
check "  (allowed ones did)" bash -c '[ "$(dns_seen "api\.bench\.test")" -ge 1 ]'
check "denials audited on the host" bash -c "grep '\"event\":\"dns\"' '$AUDIT' | grep -q 'secret-data-1.exfil.bench.test'"
check "use-application-dns.net: NXDOMAIN" expect_re 'status: NXDOMAIN' gdig use-application-dns.net
check "HTTPS and SVCB: empty answers" bash -c '
	for t in HTTPS TYPE64; do
		out=$(gdig -t $t api.bench.test); echo "$out" | grep -E "status|ANSWER:"
		echo "$out" | grep -q "status: NOERROR" && echo "$out" | grep -q "ANSWER: 0," || exit 1
	done'

# ---- policy changes
check "allowed mid-flight: resolves within 5 s" bash -c '
	gdig other.bench.test | grep -q "status: NXDOMAIN" || exit 1
	t0=$(date +%s%N)
	cli allow vm1 --host other.bench.test >/dev/null || exit 1
	for i in $(seq 50); do
		[ "$(gdig +short other.bench.test)" = 198.18.0.11 ] && break
		sleep 0.1
	done
	ms=$(( ($(date +%s%N) - t0) / 1000000 )); echo "ms=$ms"
	[ "$(gdig +short other.bench.test)" = 198.18.0.11 ] && [ $ms -lt 5000 ]'
check "TTLs capped at 60 s (3600 upstream)" bash -c '
	ttl=$(gdig +noall +answer t3600.dns.test | awk "{print \$2}"); echo "ttl=$ttl"
	[ -n "$ttl" ] && [ "$ttl" -le 60 ] && [ "$ttl" -gt 0 ]'
check "a repeated query is answered from the stub's cache" bash -c '
	a=$(counter dns_cached); f=$(counter dns_forwarded)
	gdig +short t3600.dns.test | grep -q 198.18.0.10 || exit 1
	b=$(counter dns_cached); g=$(counter dns_forwarded); echo "cached $a->$b forwarded $f->$g"
	[ "$b" -gt "$a" ] && [ "$g" = "$f" ]'
RID=$(cli allow vm1 --host t8.dns.test | grep -oE 'r[0-9a-f]+' | head -1)
check "revoked: answered only from the stub's cache until the TTL (8 s) runs out" bash -c "
	t0=\$(date +%s%N)
	[ \"\$(gdig +short t8.dns.test)\" = 198.18.0.11 ] || exit 1
	cli revoke vm1 '$RID' >/dev/null || exit 1
	echo \"proxy now: \$(doh t8.dns.test)\"; doh t8.dns.test | grep -q rcode=3 || exit 1
	[ \"\$(gdig +short t8.dns.test)\" = 198.18.0.11 ] || { echo 'not from the cache'; exit 1; }
	left=\$(( 9000 - (\$(date +%s%N) - t0) / 1000000 )); [ \$left -gt 0 ] && sleep \$((left / 1000)).\$(printf %03d \$((left % 1000)))
	out=\$(gdig t8.dns.test); echo \"\$out\" | grep status
	echo \"\$out\" | grep -q 'status: NXDOMAIN'"

# ---- large answers
check "100 records: truncated over UDP" bash -c '
	out=$(gdig +ignore +notcp many.dns.test); echo "$out" | grep -E "flags|ANSWER:"
	echo "$out" | grep -qE "flags: qr[a-z ]* tc" && echo "$out" | grep -q "ANSWER: 0,"'
check "100 records: dig retries over TCP and gets them all" bash -c '
	n=$(gdig +short many.dns.test | grep -c "^198\.18\.1\."); echo "n=$n"; [ "$n" = 100 ]'
check "100 records: glibc falls back to TCP" bash -c '
	n=$(in_guest getent ahostsv4 many.dns.test | awk "{print \$1}" | sort -u | grep -c "^198\.18\.1\."); echo "n=$n"; [ "$n" = 100 ]'

# ---- malformed input
check "malformed packets: FORMERR or nothing, and the stub keeps serving" in_guest python3 -c '
import os, socket, struct, sys
def ask(pkt, wait=1.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(wait)
    s.sendto(pkt, ("198.18.0.53", 53))
    try:
        return s.recv(4096)
    except socket.timeout:
        return None
    finally:
        s.close()
r = ask(struct.pack(">HHHHHH", 0x4242, 0x0100, 2, 0, 0, 0))
assert r is not None and r[:2] == b"\x42\x42" and r[3] & 15 == 1, r
print("two questions: FORMERR")
q = b"\x77\x77\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x01a" + b"\xc0\x0c" + b"\x00\x01\x00\x01"
r = ask(q)
assert r is not None and r[3] & 15 == 1, r
print("pointer loop: FORMERR")
assert ask(b"\x01\x02\x03", 0.3) is None
print("runt: nothing")
assert ask(b"\x12\x34\x81\x80" + b"\x00" * 8, 0.3) is None
print("a response: nothing")
for i in range(200):
    ask(os.urandom(1 + i % 600), 0.01)
print("200 random datagrams sent")
t = socket.create_connection(("198.18.0.53", 53), timeout=3)
t.sendall(b"\x00\x05hello")
assert t.recv(10) == b""
print("tcp: a message under a header closes the connection")
for n in range(3):
    q = struct.pack(">HHHHHH", 0x5151, 0x0100, 1, 0, 0, 0) + b"\x03api\x05bench\x04test\x00\x00\x01\x00\x01"
    r = ask(q, 3.0)
    if r is not None:
        break
assert r is not None and r[3] & 15 == 0 and r[-4:] == bytes([198, 18, 0, 10]), r
print("still serving")
'

# ---- a container behind a bridge in the vm
container_up() {
	ip netns add "$CNS" || return 1
	ip -n "$CNS" link set lo up
	ip -n "$VNS" link add spxbr0 type bridge && ip -n "$VNS" link set spxbr0 up &&
		ip -n "$VNS" addr add 172.31.0.1/24 dev spxbr0 || return 1
	ip -n "$VNS" link add spxc0 type veth peer name eth0 netns "$CNS" || return 1
	ip -n "$VNS" link set spxc0 master spxbr0 && ip -n "$VNS" link set spxc0 up
	ip -n "$CNS" addr add 172.31.0.2/24 dev eth0 && ip -n "$CNS" link set eth0 up &&
		ip -n "$CNS" route add default via 172.31.0.1 || return 1
	ip netns exec "$VNS" sysctl -qw net.ipv4.ip_forward=1
}
check "container network up" container_up
check "container: dig (UDP and TCP) through the stub" bash -c '
	[ "$(ip netns exec "$CNS" dig +short +tries=1 +time=3 @198.18.0.53 api.bench.test)" = 198.18.0.10 ] &&
	[ "$(ip netns exec "$CNS" dig +short +tcp +tries=1 +time=3 @198.18.0.53 api.bench.test)" = 198.18.0.10 ]'
check "container: a denied name is NXDOMAIN" expect_re 'status: NXDOMAIN' \
	ip netns exec "$CNS" dig +tries=1 +time=3 @198.18.0.54 secret-data-9.exfil.bench.test
check "container: that never reached a DNS server" expect 0 dns_seen 'secret-data-9\.exfil\.bench\.test'

# ---- a flood from one source (the vm) next to another (the container)
cat >"$DIR/flood.py" <<'EOF'
import socket, struct, sys, time
# flood.py N SECS PREFIX: N queries for distinct names from one socket, spread
# over SECS: denied names, and allowed ones whose server never answers
n, secs, prefix = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setblocking(False)
t0 = time.monotonic()
for i in range(n):
    name = ("%s-%d.exfil.bench.test" if i % 2 else "%s-%d.slow.dns.test") % (prefix, i)
    q = struct.pack(">HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0\0\1\0\1"
    try:
        s.sendto(q, ("198.18.0.53", 53))
    except BlockingIOError:
        pass
    delay = t0 + secs * (i + 1) / n - time.monotonic()
    if delay > 0:
        time.sleep(delay)
got = 0
try:
    while True:
        s.recv(4096)
        got += 1
except BlockingIOError:
    pass
print("flood: sent %d in %.1f s" % (n, time.monotonic() - t0))
EOF
cat >"$DIR/victim.py" <<'EOF'
import socket, struct, sys, time
# victim.py N: N queries, one at a time, for distinct allowed names; latencies
n = int(sys.argv[1])
lat, lost = [], 0
for i in range(n):
    name = "v%d.wild.bench.test" % i
    q = struct.pack(">HHHHHH", 0x7000 + i, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0\0\1\0\1"
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(2.0)
    t = time.monotonic()
    s.sendto(q, ("198.18.0.53", 53))
    try:
        while True:
            r = s.recv(4096)
            if r[:2] == q[:2]:
                break
        ok = r[3] & 15 == 0 and r[-4:] == bytes([198, 18, 0, 10])
        lat.append(time.monotonic() - t if ok else 2.0)
        lost += not ok
    except socket.timeout:
        lat.append(2.0)
        lost += 1
    s.close()
    time.sleep(0.01)
lat.sort()
p99 = lat[int(len(lat) * 0.99) - 1] * 1000
print("victim: %d queries, %d failed, p50 %.1f ms, p99 %.1f ms" % (n, lost, lat[len(lat) // 2] * 1000, p99))
sys.exit(0 if lost == 0 and p99 < 500 else 1)
EOF
check "a flood from the vm (2000 queries in 2 s, half of them hanging upstream) does not starve the container" bash -c "
	in_guest python3 '$DIR/flood.py' 2000 2 flood >'$DIR/flood.out' 2>&1 &
	fp=\$!
	sleep 0.3
	ip netns exec '$CNS' '$PY' '$DIR/victim.py' 100; rc=\$?
	wait \$fp; cat '$DIR/flood.out'
	exit \$rc"
check "  the flood was limited, and none of it reached a DNS server" bash -c '
	n=$(counter dns_limited); echo "dns_limited=$n"
	[ "${n:-0}" -gt 0 ] && [ "$(dns_seen "flood-[0-9]+\.exfil\.bench\.test")" = 0 ]'
check "  the vm is answered again once its flood has timed out" bash -c '
	for i in $(seq 8); do
		[ "$(gdig +short +time=1 api.bench.test)" = 198.18.0.10 ] && exit 0
	done
	exit 1'

# ---- over the proxy's TLS port
if ! ldd "$A" 2>/dev/null | grep -q libmbedtls; then
	echo "note: $A was built without mbed TLS: TLS proxy port checks skipped"
	check "uninstall" in_guest "$A" proxy uninstall
	bench_finish
fi
check "no sanitizer report from the agent" bash -c \
	"in_guest test -e /run/slicer-agent/agent.log &&
	! in_guest grep -E 'ERROR: AddressSanitizer|runtime error:|SUMMARY: .*Sanitizer' /run/slicer-agent/agent.log"
SHA=$(openssl x509 -in "$PCA" -outform DER | sha256sum | cut -d' ' -f1)
check "reinstall with https://...:3129 (CA pinned)" bash -c "
	in_guest '$A' proxy uninstall >/dev/null &&
	in_guest '$A' proxy install --proxy 'https://proxy:$T@192.168.222.1:3129' --ca-sha256 '$SHA'"
check "TLS link: dig resolves (a fresh cache)" expect 198.18.0.10 gdig +short x1.wild.bench.test
check "TLS link: getent, and TCP queries" bash -c '
	in_guest getent hosts api.bench.test | grep -q 198.18.0.10 &&
	[ "$(gdig +short +tcp dual.bench.test AAAA)" = 2001:2::10 ]'
check "TLS link: denied is NXDOMAIN" expect_re 'status: NXDOMAIN' gdig secret-data-10.exfil.bench.test
check "TLS link: the stub holds a connection to the TLS port, none to 3128" bash -c '
	in_guest ss -Htn state established "( dport = :3129 )" | grep -q 192.168.222.1 &&
	! in_guest ss -Htn state established "( dport = :3128 )" | grep -q .'
check "TLS link: no stub errors" bash -c '
	e=$(counter dns_errors); u=$(counter dns_upstream); echo "errors=$e upstream=$u"
	[ "$e" = 0 ] && [ "${u:-0}" -ge 1 ]'
check "TLS link: no sanitizer report from the agent" bash -c \
	"in_guest test -e /run/slicer-agent/agent.log &&
	! in_guest grep -E 'ERROR: AddressSanitizer|runtime error:|SUMMARY: .*Sanitizer' /run/slicer-agent/agent.log"
check "uninstall" in_guest "$A" proxy uninstall
bench_finish
