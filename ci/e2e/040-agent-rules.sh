#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The guest agent's nftables table (`slicer-agent rules apply|remove`), in
# namespaces of its own: e2e040-vm (the guest, uplink eth0 = 192.0.2.2) and
# e2e040-host (192.0.2.1, the "proxy").  Checks the listed ruleset against the
# expected text, that applying twice gives the same table, what the rules do
# (TCP redirected with the original destination kept, DNS to the stub, UDP
# refused at once, the proxy and bypass CIDRs left alone, the listener
# unreachable directly), that nothing else leaves the uplink from the vm or
# from a routed "container" (e2e040-ctr: UDP-Lite, ping, a conntrack-invalid
# SYN+FIN, captured on the host's side of the link) while replies to the
# host, neighbour discovery and the proxy still pass, removal, misuse, and
# the static binary if built.
# Run from the repo root as root.
set -u
BUILD=${BUILD:-build}
A=${SLICER_AGENT:-$BUILD/slicer-agent}
case $A in /*) ;; *) A=$(pwd)/$A ;; esac
STATIC=${STATIC_AGENT:-build-static/slicer-agent}
SPX_CI=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
VM="ip netns exec e2e040-vm" H="ip netns exec e2e040-host" C="ip netns exec e2e040-ctr"
NSS="e2e040-vm e2e040-host e2e040-ctr"
CAP=$(mktemp /tmp/e2e040.XXXXXX)
# the system's python: the unprivileged user runs it too
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
PIDS=()
PASS=0 FAIL=0
LOG=$(mktemp /tmp/e2e040.XXXXXX)
EXPECTED=$(mktemp /tmp/e2e040.XXXXXX)

cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for n in $NSS; do ip netns del "$n" 2>/dev/null; done
	rm -f "$LOG" "$EXPECTED" "$CAP" "$CAP.ready" "$CAP.out"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
notok() {
	FAIL=$((FAIL + 1)); echo "not ok - $1"
	[ -s "$LOG" ] && sed 's/^/#   /' "$LOG" | tail -8
}
check() {
	local name=$1; shift
	if "$@" >"$LOG" 2>&1; then ok "$name"; else notok "$name"; fi
}
finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
	exit
}
wait_for() {
	local secs=$1 i; shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
fails_with() {
	local text=$1 out rc; shift
	out=$("$@" 2>&1)
	rc=$?
	echo "rc=$rc: $out"
	[ $rc -ne 0 ] && printf '%s\n' "$out" | grep -qF -- "$text"
}

if [ "$(id -u)" != 0 ]; then echo "not ok - needs root"; echo "0 passed, 1 failed"; exit 1; fi
for c in nft python3 ip; do
	command -v $c >/dev/null || { echo "not ok - needs $c"; echo "0 passed, 1 failed"; exit 1; }
done
[ -x "$A" ] || { echo "not ok - no binary $A"; echo "0 passed, 1 failed"; exit 1; }

APPLY=(rules apply --uplink eth0 --proxy 192.0.2.1:3128 --bypass 198.51.100.0/24
	--bypass fd12::/16 --allow-udp 123)

cat >"$EXPECTED" <<'EOF'
table inet slicer_agent {
	comment "slicer-agent"
	chain nat_output {
		type nat hook output priority -110; policy accept;
		meta mark 0x534c4900 return
		oifname "lo" return
		fib daddr type local return
		oifname != "eth0" return
		ip daddr 192.0.2.1 tcp dport 3128 return
		ip daddr 198.51.100.0/24 return
		ip6 daddr fd12::/16 return
		tcp dport 53 redirect to :15053
		udp dport 53 redirect to :15053
		meta l4proto tcp redirect to :15001
		udp dport 123 return
		meta l4proto udp redirect to :15054
	}

	chain nat_prerouting {
		type nat hook prerouting priority dstnat - 10; policy accept;
		iifname "eth0" return
		ip daddr 192.0.2.1 tcp dport 3128 return
		fib daddr type local return
		fib daddr oifname != "eth0" return
		ip daddr 198.51.100.0/24 return
		ip6 daddr fd12::/16 return
		tcp dport 53 redirect to :15053
		udp dport 53 redirect to :15053
		meta l4proto tcp redirect to :15001
	}

	chain filter_input {
		type filter hook input priority filter - 10; policy accept;
		tcp dport 15001 socket mark != 0x534c4900 drop
		tcp dport 15001 ct status dnat accept
		tcp dport 15001 drop
		tcp dport 15053 socket mark != 0x534c4900 drop
		tcp dport 15053 ct status dnat accept
		tcp dport 15053 drop
		udp dport 15053 socket mark != 0x534c4900 drop
		udp dport 15053 ct status dnat accept
		udp dport 15053 drop
		udp dport 15054 socket mark != 0x534c4900 reject
	}

	chain filter_output {
		type filter hook output priority filter; policy accept;
		ct state established,related accept
		oifname "lo" accept
		fib daddr type local accept
		meta mark 0x534c4900 accept
		oifname "eth0" ct state invalid drop
		ip daddr 198.51.100.0/24 accept
		ip6 daddr fd12::/16 accept
		oifname "eth0" udp dport 123 accept
		oifname "eth0" meta l4proto udp reject
		oifname "eth0" ip daddr 192.0.2.1 tcp dport 3128 accept
		oifname "eth0" icmp type destination-unreachable accept
		oifname "eth0" icmp type 11-12 accept
		oifname "eth0" icmpv6 type 1-4 accept
		oifname "eth0" icmpv6 type 131-133 accept
		oifname "eth0" icmpv6 type 135-136 accept
		oifname "eth0" icmpv6 type mld2-listener-report accept
		oifname "eth0" reject with icmpx admin-prohibited
	}

	chain filter_forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		iifname "eth0" accept
		oifname "eth0" ct state invalid drop
		ip daddr 198.51.100.0/24 accept
		ip6 daddr fd12::/16 accept
		oifname "eth0" udp dport 123 accept
		oifname "eth0" meta l4proto udp reject
		oifname "eth0" ip daddr 192.0.2.1 tcp dport 3128 accept
		oifname "eth0" icmp type destination-unreachable accept
		oifname "eth0" icmp type 11-12 accept
		oifname "eth0" icmpv6 type 1-4 accept
		oifname "eth0" icmpv6 type 131-133 accept
		oifname "eth0" icmpv6 type 135-136 accept
		oifname "eth0" icmpv6 type mld2-listener-report accept
		oifname "eth0" reject with icmpx admin-prohibited
	}
}
EOF

same_as_expected() {
	$VM nft list table inet slicer_agent >"$LOG.list" 2>&1
	diff -u "$EXPECTED" "$LOG.list"
	local r=$?
	rm -f "$LOG.list"
	return $r
}

# ---- topology: vm with uplink eth0 and a default route through it ----
for n in $NSS; do ip netns del "$n" 2>/dev/null; done
setup() {
	local n
	for n in $NSS; do ip netns add "$n" && ip -n "$n" link set lo up || return 1; done
	ip link add e2e040-h netns e2e040-host type veth peer name eth0 netns e2e040-vm || return 1
	$H ip addr add 192.0.2.1/24 dev e2e040-h && $H ip link set e2e040-h up &&
	$VM ip addr add 192.0.2.2/24 dev eth0 && $VM ip link set eth0 up &&
	$VM ip route add default via 192.0.2.1 || return 1
	$H ip addr add fd00:40::1/64 dev e2e040-h nodad &&
		$VM ip addr add fd00:40::2/64 dev eth0 nodad &&
		$VM ip -6 route add default via fd00:40::1 || return 1
	# a routed "container" behind the vm (its traffic goes through forward)
	ip link add ctr0 netns e2e040-vm type veth peer name eth0 netns e2e040-ctr || return 1
	$VM ip addr add 172.31.0.1/24 dev ctr0 && $VM ip addr add fd00:41::1/64 dev ctr0 nodad &&
		$VM ip link set ctr0 up && $C ip link set lo up &&
		$C ip addr add 172.31.0.2/24 dev eth0 && $C ip addr add fd00:41::2/64 dev eth0 nodad &&
		$C ip link set eth0 up && $C ip route add default via 172.31.0.1 &&
		$C ip -6 route add default via fd00:41::1 || return 1
	$VM sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 || return 1
	$H ip route add 172.31.0.0/24 via 192.0.2.2 || return 1
	# ping sockets for every user (unprivileged ICMP echo)
	$VM sysctl -qw net.ipv4.ping_group_range="0 2147483647" &&
		$C sysctl -qw net.ipv4.ping_group_range="0 2147483647" || return 1
	# the "proxy" on the host, and what stands in for the agent's listeners
	$H python3 -c '
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("192.0.2.1", 3128)); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(b"proxy\n"); c.close()' &
	PIDS+=($!)
	# a service in the vm the host connects to (as ssh would)
	$VM python3 -c '
import socket, threading
def serve(fam, addr):
    s = socket.socket(fam); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if fam == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, 2222)); s.listen(8)
    while True:
        c, _ = s.accept(); c.sendall(b"inbound\n"); c.close()
threading.Thread(target=serve, args=(socket.AF_INET6, "::"), daemon=True).start()
serve(socket.AF_INET, "0.0.0.0")' &
	PIDS+=($!)
	# UDP echo on the host: reachable only where the rules allow it
	$H python3 -c '
import socket, select
ss = []
for p in (123, 5353):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("192.0.2.1", p)); ss.append(s)
while True:
    for s in select.select(ss, [], [])[0]:
        d, peer = s.recvfrom(512); s.sendto(b"echo:" + d, peer)' &
	PIDS+=($!)
	# prints the original destination of each redirected connection; it
	# has the agent's mark, as redirected traffic reaches no other socket
	$VM python3 -c '
import socket, struct
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, 0x534c4900)
s.bind(("0.0.0.0", 15001)); s.listen(8)
while True:
    c, _ = s.accept()
    try:
        d = c.getsockopt(socket.SOL_IP, 80, 16)  # SO_ORIGINAL_DST
        port, ip = struct.unpack("!2xH4s8x", d)
        c.sendall(("redirected %s:%d\n" % (socket.inet_ntoa(ip), port)).encode())
    except OSError:
        c.sendall(b"direct\n")
    c.close()' &
	PIDS+=($!)
	# the DNS stub stand-in answers from the address it was asked on
	$VM python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, 8, 1)  # IP_PKTINFO
s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, 0x534c4900)
s.bind(("0.0.0.0", 15053))
while True:
    d, anc, _, peer = s.recvmsg(512, 256)
    s.sendmsg([b"stub:" + d], anc, 0, peer)' &
	PIDS+=($!)
	wait_for 10 $H bash -c 'exec 3<>/dev/tcp/192.0.2.1/3128' &&
		wait_for 10 $VM bash -c 'exec 3<>/dev/tcp/127.0.0.1/15001' &&
		wait_for 10 $VM bash -c 'exec 3<>/dev/tcp/127.0.0.1/2222'
}
check "topology up" setup || finish

# tcp HOST PORT: print the first line the server sends
tcp_line() {
	$VM python3 -c '
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2)
print(c.makefile().readline().strip())' "$1" "$2"
}
udp_query() {
	$VM python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
s.connect((sys.argv[1], int(sys.argv[2])))
try:
    s.send(b"q"); print(s.recv(100).decode())
except OSError as e:
    print("error", e.errno, e)' "$1" "$2"
}
# udp_fast_error HOST PORT: sending or the answer fails at once (no timeout)
udp_fast_error() {
	local out s e
	s=$(date +%s%N)
	out=$(udp_query "$1" "$2")
	e=$((($(date +%s%N) - s) / 1000000))
	echo "$out ($e ms)"
	case $out in "error 1 "* | "error 111 "*) [ "$e" -lt 1000 ] ;; *) return 1 ;; esac
}
# expect_out WANT CMD...: CMD prints exactly WANT
expect_out() {
	local want=$1 out; shift
	out=$("$@" 2>&1)
	echo "got: $out"
	[ "$out" = "$want" ]
}
# connect_result HOST PORT: "redirected ...", "refused", "timeout" or other
connect_result() {
	$VM python3 -c '
import socket, sys
try:
    c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1)
    print(c.makefile().readline().strip() or "connected")
except ConnectionRefusedError:
    print("refused")
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e)' "$1" "$2"
}
not_redirected() {
	local out
	out=$(connect_result "$1" "$2")
	echo "got: $out"
	case $out in redirected*) return 1 ;; esac
}
direct_listener_dropped() {
	$H python3 -c '
import socket, sys
try:
    socket.create_connection(("192.0.2.2", 15001), timeout=1)
except socket.timeout:
    sys.exit(0)
sys.exit(1)'
}
static_apply() {
	$VM "$STATIC" "${APPLY[@]}" && same_as_expected
}
static_in_empty_root() {
	local d rc
	d=$(mktemp -d)
	cp "$STATIC" "$d/a"
	$VM chroot "$d" /a rules status
	rc=$?
	rm -rf "$d"
	[ $rc = 0 ]
}

check "rules apply succeeds" $VM "$A" "${APPLY[@]}"
check "nft list matches the expected ruleset" same_as_expected
check "rules apply again succeeds" $VM "$A" "${APPLY[@]}"
check "applying twice gives the same table" same_as_expected
check "rules status says present" bash -c "$VM '$A' rules status | grep -q present"

check "TCP leaving the uplink is redirected, original destination kept" \
	expect_out "redirected 203.0.113.9:443" tcp_line 203.0.113.9 443
check "the proxy address and port are not redirected" expect_out proxy tcp_line 192.0.2.1 3128
check "DNS over UDP goes to the stub" expect_out stub:q udp_query 203.0.113.53 53
check "other UDP out the uplink is refused at once" udp_fast_error 203.0.113.9 443
check "an allowed UDP port goes out" expect_out echo:q udp_query 192.0.2.1 123
check "another UDP port to the same host is refused at once" udp_fast_error 192.0.2.1 5353
check "a bypass CIDR is not redirected" not_redirected 198.51.100.7 80
check "local addresses are left alone (refused, not redirected)" \
	expect_out refused connect_result 192.0.2.2 443
check "a direct connection to the listener port is dropped" direct_listener_dropped

# ---- nothing but what the rules allow leaves the uplink: UDP-Lite and
# ping (no privilege needed), a raw SYN+FIN (conntrack-invalid, so nat never
# sees it), from the vm and from the container; the host side of the link
# captures what arrives, and must see the allowed traffic sent meanwhile
PROBE='import socket, struct, sys
def send(name, fam, kind, proto, dst, data, port=443, opts=()):
    try:
        s = socket.socket(fam, kind, proto)
        for o in opts:
            s.setsockopt(*o)
        s.sendto(data, (dst, port))
        print(name, "sent")
    except OSError as e:
        print(name, "error", e.errno)
def csum(b):
    b += b"\0" * (len(b) % 2)
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff)
    return ~(t + (t >> 16)) & 0xffff
echo = struct.pack("!BBHHH", 8, 0, 0, 0, 1) + b"probe"
echo6 = struct.pack("!BBHHH", 128, 0, 0, 0, 1) + b"probe"
if sys.argv[1] == "user":
    send("udplite4", socket.AF_INET, socket.SOCK_DGRAM, 136, "203.0.113.9", b"probe")
    send("udplite6", socket.AF_INET6, socket.SOCK_DGRAM, 136, "2001:db8::9", b"probe")
    send("ping4", socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP, "203.0.113.9", echo, 0)
    send("ping6", socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6, "2001:db8::9", echo6, 0)
else:
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.connect(("203.0.113.9", 9))
    src = socket.inet_aton(u.getsockname()[0])
    tcp = struct.pack("!HHIIBBHHH", 40000, 80, 1, 0, 5 << 4, 0x03, 1024, 0, 0)
    pseudo = src + socket.inet_aton("203.0.113.9") + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    send("synfin4", socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP, "203.0.113.9", tcp, 0)
    tcp6 = tcp[:16] + b"\0\0" + tcp[18:]  # the kernel sums it (IPV6_CHECKSUM)
    send("synfin6", socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_TCP, "2001:db8::9", tcp6, 0,
         [(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, 16)])'
# probes: what each sender said in $CAP.out, what arrived in $CAP
probes() {
	local cap r=0
	rm -f "$CAP.ready"
	$H "$PY" "$SPX_CI/wirecap.py" e2e040-h 20 --ready "$CAP.ready" >"$CAP" 2>&1 &
	cap=$!
	wait_for 5 test -e "$CAP.ready" || { kill $cap; return 1; }
	{
		$VM setpriv --reuid 65534 --regid 65534 --clear-groups "$PY" -c "$PROBE" user &&
			$VM "$PY" -c "$PROBE" raw && $C "$PY" -c "$PROBE" user &&
			$C "$PY" -c "$PROBE" raw
	} >"$CAP.out" 2>&1 || r=1
	cat "$CAP.out"
	# allowed meanwhile: the vm and the container to the proxy
	tcp_line 192.0.2.1 3128 || r=1
	$C "$PY" -c 'import socket
print(socket.create_connection(("192.0.2.1", 3128), timeout=2).makefile().readline().strip())' || r=1
	sleep 0.5
	kill $cap
	wait $cap
	echo "--- on the wire:"
	cat "$CAP"
	[ $r = 0 ] && [ "$(grep -c ' sent$\| error ' "$CAP.out")" = 12 ]
}
check "probes sent, the capture ran" probes
check "the capture saw the vm's and the container's SYN to the proxy" bash -c \
	"grep -E 'v4 tcp 192.0.2.2 -> 192.0.2.1 dport 3128 flags S$' '$CAP' && grep -E 'v4 tcp 172.31.0.2 -> 192.0.2.1 dport 3128 flags S$' '$CAP'"
for src in 192.0.2.2:vm fd00:40::2:vm 172.31.0.2:container fd00:41::2:container; do
	a=${src%:*} who=${src##*:}
	check "UDP-Lite from $who ($a) does not reach the wire" bash -c "! grep -F ' udplite $a -> ' '$CAP'"
	check "ICMP echo from $who ($a) does not reach the wire" bash -c "! grep -E ' icmp(v6)? $a -> .* type (8|128)$' '$CAP'"
	check "a raw SYN+FIN from $who ($a) does not reach the wire" bash -c "! grep -E ' tcp $a -> .* flags FS$' '$CAP'"
done
check "a connection from the host into the vm gets its replies (IPv4)" \
	expect_out inbound $H python3 -c 'import socket
print(socket.create_connection(("192.0.2.2", 2222), timeout=2).makefile().readline().strip())'
check "a connection from the host into the vm gets its replies (IPv6)" \
	expect_out inbound $H python3 -c 'import socket
print(socket.create_connection(("fd00:40::2", 2222), timeout=2).makefile().readline().strip())'
check "neighbour discovery works both ways (IPv6 from the host, no neighbour entries)" bash -c \
	"$VM ip -6 neigh flush dev eth0; $H ip -6 neigh flush dev e2e040-h; $H $PY -c 'import socket
print(socket.create_connection((\"fd00:40::2\", 2222), timeout=3).makefile().readline().strip())' && $VM ip -6 neigh show dev eth0 | grep fd00:40::1"
check "the container's allowed UDP port goes out (forward)" expect_out echo:q $C python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.connect(("192.0.2.1", 123))
s.send(b"q"); print(s.recv(100).decode())'
check "the container's other UDP is refused (forward)" expect_out "error 111" $C python3 -c 'import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); s.connect(("192.0.2.1", 5353))
try:
    s.send(b"q"); print(s.recv(100))
except OSError as e:
    print("error", e.errno)'

check "rules remove succeeds" $VM "$A" rules remove
check "the table is gone" bash -c "! $VM nft list table inet slicer_agent"
check "rules remove again is fine" $VM "$A" rules remove
check "rules status says absent" bash -c "$VM '$A' rules status | grep -q absent"
check "without the table TCP goes out unredirected" not_redirected 203.0.113.9 443

# misuse: clear message, non-zero, nothing installed
check "a bad CIDR is refused with the value quoted" \
	fails_with "invalid CIDR: '10.0.0.1/33'" $VM "$A" rules apply --uplink eth0 --proxy 192.0.2.1:3128 --bypass 10.0.0.1/33
check "a bad proxy is refused" \
	fails_with "invalid proxy address: 'proxy:3128'" $VM "$A" rules apply --uplink eth0 --proxy proxy:3128
check "a missing uplink is refused" \
	fails_with "--uplink IF is required" $VM "$A" rules apply --proxy 192.0.2.1:3128
check "a missing proxy is refused" \
	fails_with "--proxy ADDR:PORT is required" $VM "$A" rules apply --uplink eth0
check "a bad uplink name is refused" \
	fails_with "invalid interface name: 'a/b'" $VM "$A" rules apply --uplink a/b --proxy 192.0.2.1:3128
check "nothing was installed by the refused commands" bash -c "! $VM nft list table inet slicer_agent"
check "IPv6 proxy in brackets" bash -c \
	"$VM '$A' rules apply --uplink eth0 --proxy '[fd00::1]:3129' && $VM nft list table inet slicer_agent | grep -q 'ip6 daddr fd00::1 tcp dport 3129 return' && $VM '$A' rules remove"
check "proxy install without a proxy URL: usage error (exit 1)" bash -c \
	"env -u HTTPS_PROXY -u HTTP_PROXY -u https_proxy -u http_proxy $VM '$A' proxy install --root /nonexistent; [ \$? = 1 ]"
check "unknown command: exit 1" bash -c "$VM '$A' frobnicate; [ \$? = 1 ]"

# the static binary, when built (make static)
if [ -x "$STATIC" ]; then
	check "static binary: file says statically linked" bash -c \
		"file '$STATIC' | grep -q 'statically linked'"
	check "static binary: stripped size under 2 MiB" bash -c \
		"[ \$(stat -c %s '$STATIC') -lt 2097152 ]"
	check "static binary: rules apply gives the same table" static_apply
	check "static binary: runs in an empty root" static_in_empty_root
	check "static binary: rules remove" $VM "$STATIC" rules remove
else
	ok "static binary checks skipped (no $STATIC; run make static)"
fi

finish
