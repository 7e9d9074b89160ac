#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `slicer-proxy isolate`: the host table that lets a vm reach only the proxy.
# Namespaces of its own: e2e060-host forwards between e2e060-vm
# (192.168.222.2, via veth e2e060-h2v) and e2e060-net (198.18.0.10, an HTTP
# server).  Checks: direct access fails fast once isolated, the proxy address
# and port still work, --list shows the interface and its counter, several
# interfaces coexist, --netns finds the vm's uplink, --remove restores access,
# a foreign table of the same name is refused.  Run from the repo root as root.
set -u
BUILD=${BUILD:-build}
P=${SLICER_PROXY:-$BUILD/slicer-proxy}
case $P in /*) ;; *) P=$(pwd)/$P ;; esac
H="ip netns exec e2e060-host" VM="ip netns exec e2e060-vm" NET="ip netns exec e2e060-net"
NSS="e2e060-host e2e060-vm e2e060-net"
PIDS=()
PASS=0 FAIL=0
LOG=$(mktemp /tmp/e2e060.XXXXXX)

cleanup() {
	local p n
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	for n in $NSS; do ip netns del "$n" 2>/dev/null; done
	rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
notok() {
	FAIL=$((FAIL + 1)); echo "not ok - $1"
	[ -s "$LOG" ] && sed 's/^/#   /' "$LOG" | tail -5
}
# check NAME CMD...: run CMD, count it
check() {
	local name=$1; shift
	if "$@" >"$LOG" 2>&1; then ok "$name"; else notok "$name"; fi
}
finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
	exit
}

# wait_for SECS CMD...: poll CMD every 0.1 s until it succeeds or SECS pass
wait_for() {
	local secs=$1 i; shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# ms_fail MAXMS CMD...: CMD must fail, and within MAXMS milliseconds
ms_fail() {
	local max=$1 s e; shift
	s=$(date +%s%N)
	if "$@"; then echo "succeeded, should have failed"; return 1; fi
	e=$((($(date +%s%N) - s) / 1000000))
	echo "failed after $e ms"
	[ "$e" -lt "$max" ]
}

# fails_with TEXT CMD...: CMD must exit non-zero and say TEXT
fails_with() {
	local text=$1 out rc; shift
	out=$("$@" 2>&1)
	rc=$?
	echo "rc=$rc: $out"
	[ $rc -ne 0 ] && printf '%s\n' "$out" | grep -qF -- "$text"
}

direct() { $VM curl -s -o /dev/null -m 3 http://198.18.0.10/; }
direct6() { $VM curl -s -o /dev/null -m 3 'http://[fd00:18::10]/'; }
# the proxy over IPv6 with empty neighbour caches: needs ND through the rules
via_proxy6() {
	$VM ip -6 neigh flush all
	$H ip -6 neigh flush dev e2e060-h2v
	$VM curl -s -o /dev/null -m 3 'http://[fd00:222::1]:3128/'
}
via_proxy_addr() { $VM curl -s -o /dev/null -m 3 http://192.168.222.1:3128/; }
# a connected UDP socket gets the ICMP error back at once
udp_refused() {
	$VM python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.connect(("198.18.0.10", 5353))
try:
    s.send(b"x")
    s.recv(10)
except socket.timeout:
    print("timeout"); sys.exit(1)
except OSError as e:
    print("refused:", e); sys.exit(0)
sys.exit(1)'
}

if [ "$(id -u)" != 0 ]; then echo "not ok - needs root"; echo "0 passed, 1 failed"; exit 1; fi
for c in nft curl python3 ip; do
	command -v $c >/dev/null || { echo "not ok - needs $c"; echo "0 passed, 1 failed"; exit 1; }
done
[ -x "$P" ] || { echo "not ok - no binary $P"; echo "0 passed, 1 failed"; exit 1; }

# ---- topology ----
for n in $NSS; do ip netns del "$n" 2>/dev/null; done
setup() {
	local n
	for n in $NSS; do ip netns add "$n" && ip -n "$n" link set lo up || return 1; done
	ip link add e2e060-h2v netns e2e060-host type veth peer name eth0 netns e2e060-vm || return 1
	ip link add e2e060-h2n netns e2e060-host type veth peer name eth0 netns e2e060-net || return 1
	$H ip addr add 192.168.222.1/24 dev e2e060-h2v && $H ip link set e2e060-h2v up &&
	$H ip addr add 198.18.0.1/15 dev e2e060-h2n && $H ip link set e2e060-h2n up &&
	$VM ip addr add 192.168.222.2/24 dev eth0 && $VM ip link set eth0 up &&
	$VM ip route add default via 192.168.222.1 &&
	$NET ip addr add 198.18.0.10/15 dev eth0 && $NET ip link set eth0 up &&
	$NET ip route add default via 198.18.0.1 &&
	$H sysctl -qw net.ipv4.ip_forward=1 || return 1
	# IPv6 too (no DAD, so the addresses are usable at once)
	$H ip addr add fd00:222::1/64 dev e2e060-h2v nodad &&
	$H ip addr add fd00:18::1/64 dev e2e060-h2n nodad &&
	$VM ip addr add fd00:222::2/64 dev eth0 nodad &&
	$VM ip -6 route add default via fd00:222::1 &&
	$NET ip addr add fd00:18::10/64 dev eth0 nodad &&
	$NET ip -6 route add default via fd00:18::1 &&
	$H sysctl -qw net.ipv6.conf.all.forwarding=1 || return 1
	# the "internet" and a stand-in for the proxy on the host
	$NET python3 -m http.server --bind 198.18.0.10 80 >/dev/null 2>&1 &
	PIDS+=($!)
	$H python3 -m http.server --bind 192.168.222.1 3128 >/dev/null 2>&1 &
	PIDS+=($!)
	$NET python3 -m http.server --bind fd00:18::10 80 >/dev/null 2>&1 &
	PIDS+=($!)
	$H python3 -m http.server --bind fd00:222::1 3128 >/dev/null 2>&1 &
	PIDS+=($!)
	wait_for 10 $NET curl -s -o /dev/null -m 1 http://198.18.0.10/ &&
		wait_for 10 $H curl -s -o /dev/null -m 1 http://192.168.222.1:3128/ &&
		wait_for 10 $NET curl -s -o /dev/null -m 1 'http://[fd00:18::10]/' &&
		wait_for 10 $H curl -s -o /dev/null -m 1 'http://[fd00:222::1]:3128/'
}
check "topology up" setup || finish

check "before isolate the vm reaches the upstream directly" direct
check "isolate --iface succeeds" $H "$P" isolate --iface e2e060-h2v --proxy 192.168.222.1
check "direct TCP from the vm fails fast (< 1.5 s)" ms_fail 1500 direct
check "direct UDP from the vm is refused, not dropped" udp_refused
check "TCP to another host port fails fast" ms_fail 1500 \
	$VM curl -s -o /dev/null -m 3 http://192.168.222.1:8080/
check "TCP to the proxy address and port still works" via_proxy_addr
check "isolate --list shows the interface" bash -c \
	"$H '$P' isolate --list | grep -E '^e2e060-h2v proxy=192.168.222.1 ports=3128,3129 rejected_packets=[1-9]'"
check "the table carries our marker" bash -c \
	"$H nft list table inet slicer_proxy | grep -q 'comment \"slicer-proxy isolate\"'"

# a second interface does not disturb the first
check "isolate a second interface" $H "$P" isolate --iface e2e060-x2 --port 8080
check "--list shows both" bash -c \
	"$H '$P' isolate --list | grep -c '^e2e060-' | grep -qx 2"
check "first interface still isolated" ms_fail 1500 direct
check "remove the second interface" $H "$P" isolate --remove --iface e2e060-x2
check "first interface still isolated after that" ms_fail 1500 direct
check "--list shows only the first" bash -c \
	"out=\$($H '$P' isolate --list); echo \"\$out\"; [ \"\$(echo \"\$out\" | wc -l)\" = 1 ] && echo \"\$out\" | grep -q '^e2e060-h2v '"
check "removing an interface that is not isolated fails clearly" \
	fails_with "e2e060-x2 is not isolated" $H "$P" isolate --remove --iface e2e060-x2

# IPv6: an IPv6 proxy address, everything else over IPv6 refused
check "before isolating IPv6 the vm reaches the upstream over IPv6" bash -c \
	"$H '$P' isolate --remove --iface e2e060-h2v && $VM curl -s -o /dev/null -m 3 'http://[fd00:18::10]/'"
check "isolate with an IPv4 and an IPv6 proxy address" \
	$H "$P" isolate --iface e2e060-h2v --proxy 192.168.222.1 --proxy fd00:222::1
check "direct IPv6 from the vm fails fast" ms_fail 1500 direct6
check "direct IPv4 from the vm still fails fast" ms_fail 1500 direct
check "the IPv6 proxy address works (neighbour discovery allowed)" via_proxy6
check "the IPv4 proxy address works" via_proxy_addr
check "--list shows both proxy addresses" bash -c \
	"$H '$P' isolate --list | grep -q '^e2e060-h2v proxy=192.168.222.1,fd00:222::1 ports=3128,3129 '"

check "isolate --remove --iface restores access" $H "$P" isolate --remove --iface e2e060-h2v
check "direct access works again" direct

# --netns: the interface whose peer lives in the namespace
check "isolate --netns e2e060-vm succeeds" $H "$P" isolate --netns e2e060-vm
check "--netns isolated the vm's uplink" bash -c \
	"$H '$P' isolate --list | grep -E '^e2e060-h2v .* netns=e2e060-vm$'"
check "after --netns, direct access fails fast" ms_fail 1500 direct
check "after --netns, the proxy address still works" via_proxy_addr
check "--netns for a namespace with no link here fails clearly" \
	fails_with "no interface in this namespace leads into namespace 'e2e060-host'" \
	$H "$P" isolate --netns e2e060-host
check "--netns for a missing namespace fails clearly" \
	fails_with "no network namespace 'e2e060-none'" $H "$P" isolate --netns e2e060-none
check "isolate --remove --netns restores access" $H "$P" isolate --remove --netns e2e060-vm
check "direct access works again after --remove --netns" direct

check "isolate --remove removes the table" bash -c \
	"$H '$P' isolate --remove && ! $H nft list table inet slicer_proxy >/dev/null 2>&1"
check "isolate --remove twice is fine" $H "$P" isolate --remove

# misuse
check "bad port is refused with the value quoted" \
	fails_with "invalid port: '70000'" $H "$P" isolate --iface e2e060-h2v --port 70000
check "no table was created by the refused command" bash -c \
	"! $H nft list table inet slicer_proxy >/dev/null 2>&1"
# a port of a bridge: the inet hooks see the bridge, so rules for the port
# would hold nothing back; refused, nothing installed
bridged() {
	$H ip link add e2e060-br type bridge || return 1
	$H ip link add e2e060-bp type veth peer name e2e060-bq || return 1
	$H ip link set e2e060-bp master e2e060-br || return 1
	fails_with "isolate: e2e060-bp is a port of e2e060-br" $H "$P" isolate --iface e2e060-bp
}
check "a bridge port is refused, naming its bridge" bridged
check "  and nothing was installed" bash -c "! $H nft list table inet slicer_proxy >/dev/null 2>&1"
$H ip link del e2e060-bp 2>/dev/null
$H ip link del e2e060-br 2>/dev/null

# a table of the same name that is not ours
foreign() {
	$H nft add table inet slicer_proxy || return 1
	$H nft add chain inet slicer_proxy keep || return 1
	fails_with "table inet slicer_proxy exists but was not created by slicer-proxy" \
		$H "$P" isolate --iface e2e060-h2v
}
check "a foreign table inet slicer_proxy gives a clear error" foreign
check "--list and --remove refuse the foreign table too" bash -c \
	"! $H '$P' isolate --list && ! $H '$P' isolate --remove"
check "the foreign table is left as it was" bash -c \
	"$H nft list table inet slicer_proxy | grep -q 'chain keep' && ! $H nft list table inet slicer_proxy | grep -q iso_"
check "direct access still works (foreign table untouched)" direct

finish
