#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The proxy's DNS endpoint /slicer/dns-query (RFC 8484), asked directly from
# the vm namespace with raw requests (no agent): POST and GET, on the plain
# and the TLS port, several queries on one keep-alive connection; names no
# rule of the client matches are NXDOMAIN without an SOA and never reach a
# DNS server; wildcard rules; another client's rules do not count; CNAME
# chains; TTLs capped at 60 s; addresses the proxy would not dial removed
# from answers; HTTPS/SVCB answered empty and never asked upstream;
# use-application-dns.net NXDOMAIN; a 100-record answer (the proxy's
# resolver falls back to TCP); at most 64 lookups in flight per client
# (the rest SERVFAIL at once, counted); revocation applies to the next
# query; bad requests refused; no or a wrong token: 401; every decision
# audited.
#
# A second dnsmasq of this test (198.18.0.55 in the net namespace) serves
# *.dns.test with real TTLs (the bench's answers have TTL 0) and forwards
# everything else to the bench's server; the proxy's namespace resolves
# through it.  Both servers log their queries.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }

# ---- a DNS server of our own in front of the bench's
dns5_up() {
	local i
	ip -n "$NNS" addr add 198.18.0.55/32 dev eth0 || return 1
	for i in $(seq 1 100); do echo "198.18.1.$i many.dns.test"; done >"$DIR/dns5.hosts"
	printf '198.18.0.10 mixed.dns.test\n192.168.1.7 mixed.dns.test\n' >>"$DIR/dns5.hosts"
	: >"$DIR/dns5.log"
	spawn "$NNS" dnsmasq -k -C /dev/null --user=root --no-resolv --no-hosts --no-poll \
		--bind-interfaces --listen-address=198.18.0.55 --cache-size=0 \
		--server=198.18.0.53 --local=/dns.test/ --local-ttl=30 \
		--host-record=t3600.dns.test,198.18.0.10,3600 \
		--host-record=t8.dns.test,198.18.0.11,8 \
		--cname=alias.dns.test,t3600.dns.test \
		--addn-hosts="$DIR/dns5.hosts" \
		--server=/slow.dns.test/198.18.0.55#5354 \
		--log-queries --log-facility="$DIR/dns5.log" 2>>"$DIR/dnsmasq.err"
	wait_for 10 in_net dig +time=1 +tries=1 +short @198.18.0.55 t3600.dns.test || return 1
	# what the proxy (started after this) resolves with
	printf 'nameserver 198.18.0.55\noptions timeout:1 attempts:2\n' >"/etc/netns/$HNS/resolv.conf"
}
check "second DNS server up" dns5_up
check "proxy starts (TLS port)" start_proxy --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
T2=$(new_client vm2 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
for h in api.bench.test '*.wild.bench.test' t3600.dns.test alias.dns.test many.dns.test \
	mixed.dns.test lan.bench.test meta.bench.test loop.bench.test dual.bench.test mapped.bench.test; do
	cli allow vm1 --host "$h" >/dev/null
done
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA"
export T T2 PCA

# doh.py [--get] [--tls] [--token T|--no-token] [--id N] [--raw HEX] [--ctype C] NAME [TYPE]...
# One connection, one request per TYPE (keep-alive); per answer one line:
#   status=200 id=4660 rcode=0 tc=0 an=1 ns=0 maxage=60 ttl=60 addrs=198.18.0.10 types=A
cat >"$DIR/doh.py" <<'EOF'
import argparse, base64, http.client, re, ssl, struct, sys
ap = argparse.ArgumentParser()
ap.add_argument("--get", action="store_true")
ap.add_argument("--tls", action="store_true")
ap.add_argument("--token")
ap.add_argument("--no-token", action="store_true")
ap.add_argument("--id", type=int, default=0x1234)
ap.add_argument("--raw")
ap.add_argument("--ctype", default="application/dns-message")
ap.add_argument("name")
ap.add_argument("types", nargs="*", default=["A"])
a = ap.parse_args()
TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "SVCB": 64, "HTTPS": 65}
RTYPES = {v: k for k, v in TYPES.items()}

def query(name, qtype):
    q = struct.pack(">HHHHHH", a.id, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)

def skip_name(m, o):
    while True:
        n = m[o]
        if n & 0xC0 == 0xC0:
            return o + 2
        if n == 0:
            return o + 1
        o += 1 + n

def parse(m):
    qid, flags, qd, an, ns, ar = struct.unpack(">HHHHHH", m[:12])
    o = 12
    for _ in range(qd):
        o = skip_name(m, o) + 4
    addrs, ttls, types = [], [], []
    for _ in range(an):
        o = skip_name(m, o)
        t, c, ttl, rdlen = struct.unpack(">HHIH", m[o:o + 10])
        o += 10
        rd = m[o:o + rdlen]
        o += rdlen
        types.append(RTYPES.get(t, str(t)))
        ttls.append(ttl)
        if t == 1:
            addrs.append(".".join(str(b) for b in rd))
        elif t == 28:
            import ipaddress
            addrs.append(str(ipaddress.IPv6Address(rd)))
    return "id=%d rcode=%d tc=%d an=%d ns=%d ttl=%s addrs=%s types=%s" % (
        qid, flags & 15, (flags >> 9) & 1, an, ns, max(ttls) if ttls else "-",
        ",".join(addrs) or "-", ",".join(types) or "-")

if a.tls:
    ctx = ssl.create_default_context(cafile=sys.argv[0].rsplit("/", 1)[0] + "/proxy-ca.crt")
    ctx.check_hostname = False
    c = http.client.HTTPSConnection("192.168.222.1", 3129, timeout=10, context=ctx)
else:
    c = http.client.HTTPConnection("192.168.222.1", 3128, timeout=10)
hdr = {}
if not a.no_token:
    hdr["Proxy-Authorization"] = "Basic " + base64.b64encode(("proxy:" + a.token).encode()).decode()
for t in a.types:
    body = bytes.fromhex(a.raw) if a.raw else query(a.name, TYPES.get(t) or int(t))
    if a.get:
        enc = base64.urlsafe_b64encode(body).decode().rstrip("=")
        c.request("GET", "/slicer/dns-query?dns=" + enc, headers=dict(hdr, Accept="application/dns-message"))
    else:
        c.request("POST", "/slicer/dns-query", body=body, headers=dict(hdr, **{"Content-Type": a.ctype}))
    r = c.getresponse()
    data = r.read()
    line = "status=%d" % r.status
    cc = r.getheader("Cache-Control") or ""
    mm = re.search(r"max-age=(\d+)", cc)
    line += " maxage=%s" % (mm.group(1) if mm else "-")
    if r.status == 200 and r.getheader("Content-Type") == "application/dns-message":
        line += " " + parse(data)
    print(line)
    if r.getheader("Connection", "").lower() == "close":
        c.close()
EOF
doh() { in_vm "$PY" "$DIR/doh.py" --token "$T" "$@"; }
# dns_seen NAME: queries for NAME (any type) that reached either DNS server
dns_seen() { cat "$DIR/dns.log" "$DIR/dns5.log" 2>/dev/null | grep -c "query\[[A-Za-z0-9=]*\] $1 from" || true; }
export -f doh dns_seen

# ---- answers
check "POST: an allowed name" expect_re '^status=200 maxage=[0-9]+ id=4660 rcode=0 tc=0 an=1 ns=0 ttl=[0-9]+ addrs=198.18.0.10 types=A$' \
	doh api.bench.test A
check "GET ?dns=: an allowed name" expect_re 'status=200 .*rcode=0 .*addrs=198.18.0.10' doh --get api.bench.test A
check "the client's ID comes back" expect_re 'id=48879 rcode=0' doh --id 48879 api.bench.test A
check "TLS port: an allowed name" expect_re 'status=200 .*rcode=0 .*addrs=198.18.0.10' doh --tls api.bench.test A
check "several queries on one keep-alive connection (plain and TLS)" bash -c '
	for m in "" --tls; do
		n=$(doh $m api.bench.test A AAAA A HTTPS A | grep -c "^status=200 ")
		echo "$m: $n answers"; [ "$n" = 5 ] || exit 1
	done'
check "AAAA: an address of its own" expect_re 'rcode=0 .*addrs=2001:2::10 types=AAAA' doh dual.bench.test AAAA
check "wildcard rule: a deeper name resolves" expect_re 'rcode=0 .*addrs=198.18.0.10' doh x.y.wild.bench.test A
check "CNAME chain: alias to a capped TTL" expect_re 'maxage=30 .*rcode=0 tc=0 an=2 ns=0 ttl=60 addrs=198.18.0.10 types=CNAME,A$' \
	doh alias.dns.test A

# ---- denied names
check "a name no rule matches: NXDOMAIN without SOA" expect_re '^status=200 maxage=0 id=4660 rcode=3 tc=0 an=0 ns=0 ' \
	doh secret-data-1.exfil.bench.test A
check "GET, TLS and other types: NXDOMAIN too" bash -c '
	doh --get secret-data-2.exfil.bench.test A | grep -q "rcode=3" &&
	doh --tls secret-data-3.exfil.bench.test AAAA | grep -q "rcode=3" &&
	doh secret-data-4.exfil.bench.test TXT | grep -q "rcode=3" &&
	doh secret-data-5.exfil.bench.test HTTPS | grep -q "rcode=3"'
check "a wildcard does not match its own apex" expect_re 'rcode=3' doh wild.bench.test A
check "another client's rules do not count" expect_re 'rcode=3' in_vm "$PY" "$DIR/doh.py" --token "$T2" api.bench.test A
check "denied names never reached a DNS server" expect 0 dns_seen 'secret-data-[0-9].exfil.bench.test'
check "  (and the allowed ones did)" bash -c '[ "$(dns_seen api.bench.test)" -ge 1 ]'
check "denials are audited as dns events" bash -c \
	"grep '\"event\":\"dns\"' '$AUDIT' | grep 'secret-data-1.exfil.bench.test' | grep -q '\"decision\":\"deny\"'"

# ---- what answers may carry
check "TTL capped at 60 s (3600 upstream), Cache-Control too" expect_re 'status=200 maxage=(60|59) .*rcode=0 .*ttl=(60|59) ' \
	doh t3600.dns.test A
check "private, metadata and loopback addresses removed" bash -c '
	for n in lan.bench.test meta.bench.test loop.bench.test; do
		out=$(doh $n A); echo "$n: $out"
		echo "$out" | grep -q "rcode=0 tc=0 an=0 " || exit 1
	done
	out=$(doh mapped.bench.test AAAA); echo "mapped: $out"; echo "$out" | grep -q "an=0 "'
check "a mixed answer keeps only the public address" expect_re 'rcode=0 tc=0 an=1 .*addrs=198.18.0.10 types=A$' doh mixed.dns.test A
check "HTTPS and SVCB answered empty" bash -c '
	out=$(doh api.bench.test HTTPS SVCB); echo "$out"
	[ "$(echo "$out" | grep -c "rcode=0 tc=0 an=0 ")" = 2 ]'
check "  and never asked upstream" bash -c "! grep -E 'query\\[(type=)?(65|64|HTTPS|SVCB)\\]' '$DIR/dns.log' '$DIR/dns5.log'"
check "use-application-dns.net: NXDOMAIN" expect_re 'rcode=3' doh use-application-dns.net A
check "a 100-record answer (upstream over TCP)" expect_re 'rcode=0 tc=0 an=100 ' doh many.dns.test A

# ---- bad requests
check "no token: 401" expect_re '^status=401' in_vm "$PY" "$DIR/doh.py" --no-token api.bench.test A
check "GET without token: 401" expect_re '^status=401' in_vm "$PY" "$DIR/doh.py" --no-token --get api.bench.test A
check "a wrong token: 401" expect_re '^status=401' in_vm "$PY" "$DIR/doh.py" --token spi_wrongwrongwrongwrongwrongwrongwrongwrongwro api.bench.test A
check "  and nothing was resolved for them" bash -c "[ \"\$(grep -c '\"event\":\"dns\".*\"decision\":\"deny\".*token' '$AUDIT')\" -ge 3 ]"
check "two questions: FORMERR" expect_re 'status=200 .*rcode=1 ' doh --raw 123401000002000000000000 x
check "a response sent as a query: refused" expect_re '^status=400' doh --raw 123481800001000000000000036170690562656e636804746573740000010001 x
check "wrong Content-Type: 415" expect_re '^status=415' doh --ctype text/plain api.bench.test A
check "a body over 4 KiB: 413" expect_re '^status=413' doh --raw "$(printf '00%.0s' $(seq 4200))" x

# ---- lookups in flight per client: at most 64, from every loop at once
# A server of our own for *.slow.dns.test holds every query until told to
# answer.  80 queries for different names at once: 64 reach it, the other
# 16 are answered SERVFAIL at once and counted; once it answers, the
# client's count is back to zero.
cat >"$DIR/slowdns.py" <<'EOF'
import os, select, socket, struct, sys
addr, port, release, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, port))
open(log, "w").write("up\n")
def qname_end(q):
    i = 12
    while q[i]:
        i += 1 + q[i]
    return i + 1
def answer(q):
    e = qname_end(q) + 4
    return (q[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0) + q[12:e] +
            b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + socket.inet_aton("198.18.0.10"))
pending, most = {}, 0
while True:
    r, _, _ = select.select([s], [], [], 0.05)
    if r:
        q, a = s.recvfrom(4096)
        pending.setdefault(q[12:qname_end(q)], []).append((q, a))
        most = max(most, len(pending))
        open(log, "w").write("pending %d most %d\n" % (len(pending), most))
    if os.path.exists(release) and pending:
        for lst in pending.values():
            for q, a in lst:
                s.sendto(answer(q), a)
        pending.clear()
        open(log, "w").write("pending 0 most %d\n" % most)
EOF
spawn "$NNS" "$PY" "$DIR/slowdns.py" 198.18.0.55 5354 "$DIR/slowdns.release" "$DIR/slowdns.log" 2>>"$DIR/slowdns.err"
wait_for 10 test -s "$DIR/slowdns.log"
cli allow vm1 --host '*.slow.dns.test' >/dev/null
metric() { api GET /metrics | sed -n "s/^$1 \([0-9][0-9]*\)\$/\1/p"; }
L0=$(metric slicer_dns_limited_total)
cat >"$DIR/burst.py" <<'EOF'
import base64, http.client, struct, sys, threading, time, os
tok, n, release, log, refused, tag = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                     sys.argv[4], int(sys.argv[5]), sys.argv[6])
def pending():
    try:
        return int(open(log).read().split()[1])
    except (OSError, IndexError, ValueError):
        return -1
auth = "Basic " + base64.b64encode(("proxy:" + tok).encode()).decode()
def query(name, qid):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for l in name.split("."):
        q += bytes([len(l)]) + l.encode()
    return q + b"\x00" + struct.pack(">HH", 1, 1)
res = [None] * n
def one(i):
    try:
        c = http.client.HTTPConnection("192.168.222.1", 3128, timeout=20)
        c.request("POST", "/slicer/dns-query", query("%s%d.slow.dns.test" % (tag, i), i),
                  {"Content-Type": "application/dns-message", "Proxy-Authorization": auth})
        r = c.getresponse()
        b = r.read()
        res[i] = (r.status, b[3] & 0x0f, struct.unpack(">H", b[6:8])[0])
    except Exception as e:
        res[i] = ("error", repr(e), 0)
th = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in th:
    t.start()
# the refused ones come back at once, the others wait at the server;
# then it may answer
end = time.time() + 15
while time.time() < end and (sum(1 for r in res if r is not None) < refused or
                             pending() < n - refused):
    time.sleep(0.02)
print("held at the server:", pending())
open(release, "w").write("go\n")
for t in th:
    t.join(30)
ok = sum(1 for r in res if r == (200, 0, 1))
servfail = sum(1 for r in res if r is not None and r[:2] == (200, 2))
print("answered", ok, "servfail", servfail, "other", [r for r in res if r not in ((200, 0, 1),) and (r is None or r[:2] != (200, 2))][:5])
print("RESULT", ok, servfail)
EOF
in_vm "$PY" "$DIR/burst.py" "$T" 80 "$DIR/slowdns.release" "$DIR/slowdns.log" 16 q >"$DIR/burst.out" 2>&1
L1=$(metric slicer_dns_limited_total)
check "80 lookups at once: 64 in flight answered, 16 refused at once (SERVFAIL)" bash -c \
	"cat '$DIR/burst.out' '$DIR/slowdns.log'; grep -qx 'RESULT 64 16' '$DIR/burst.out' && grep -qx 'pending 0 most 64' '$DIR/slowdns.log'"
check "  /metrics counts the 16" expect 16 echo $((L1 - L0))
check "  refused ones are in the audit log with the reason" bash -c \
	"[ \"\$(grep -c '\"event\":\"dns\".*slow.dns.test.*too many lookups in flight' '$AUDIT')\" = 16 ]"
rm -f "$DIR/slowdns.release"
check "  and the client's count is back to zero: 64 more held at once, none refused" bash -c \
	"in_vm '$PY' '$DIR/burst.py' '$T' 64 '$DIR/slowdns.release' '$DIR/slowdns.log' 0 r | tee /dev/stderr | grep -qx 'RESULT 64 0'"

# ---- revocation
check "revoke: the next query is NXDOMAIN" bash -c '
	doh api.bench.test A | grep -q "rcode=0 " || exit 1
	cli revoke vm1 --host api.bench.test >/dev/null || exit 1
	doh api.bench.test A | grep -q "rcode=3 "'
bench_finish
