#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Address policy on the address actually dialled: loopback, link-local
# (metadata), unspecified, multicast, broadcast and the proxy's own addresses
# always denied; private ranges denied unless --allow-cidr; --deny-cidr;
# IPv4 embedded in IPv6; IP literals in every spelling; names resolving to
# denied addresses; DNS answers that change between lookups (rebinding);
# a host with more addresses than a few hundred (each refused, however
# many; --allow-cidr covering them opens none).
# Canary listeners on loopback, the host's own addresses and 169.254.169.254
# must never see a connection.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client a1)
cli allow a1 --host '*' --port 80 --port 443 --port 22 --port 8080 --port 3128 >/dev/null
cli allow a1 --host 127.0.0.1 --port 80 >/dev/null

# rc_connect AUTHORITY / rc_get AUTHORITY: status of a raw CONNECT / absolute-form GET
rc_connect() {
	rawsend --token "$T" --send "b'CONNECT $1 HTTP/1.1\r\nHost: $1\r\n' + PB + b'\r\n'" | cut -d' ' -f2
}
rc_get() {
	rawsend --token "$T" --send "b'GET http://$1/ HTTP/1.1\r\nHost: $1\r\n' + PB + b'\r\n'" | cut -d' ' -f2
}

check "sanity: a public benchmark-range name is allowed" expect 200 connect_code "$T" https://api.bench.test/
check "sanity: IPv4 literal of an upstream" expect 200 rc_get 198.18.0.10
check "sanity: IPv6 literal of an upstream" expect 200 rc_connect '[2001:2::10]:443'

# names resolving to addresses that are always denied
for n in meta loop loop6 mapped mappedmeta nat64 self selfnet zero lan cgnat ula; do
	check "name $n.bench.test: CONNECT denied" expect 403 connect_code "$T" "https://$n.bench.test/"
	check "name $n.bench.test: GET denied" expect 403 http_code "$T" "http://$n.bench.test/"
done
check "explicit rule for 127.0.0.1 does not override the address check" expect "403|400" rc_get 127.0.0.1

# IP literals, every spelling
for a in 127.0.0.1:80 127.1:80 2130706433:80 0x7f.1:80 0x7f000001:80 017700000001:80 0177.0.0.1:80 \
	127.0.0.01:80 '[::1]:80' '[::ffff:127.0.0.1]:80' '[::ffff:7f00:1]:80' '[0:0:0:0:0:ffff:7f00:1]:80' \
	'[64:ff9b::7f00:1]:80' '[2002:7f00:1::1]:80' '[2001:0:4136:e378:8000:63bf:80ff:fffe]:80' \
	169.254.169.254:80 0xa9fea9fe:80 2852039166:80 '[::ffff:169.254.169.254]:80' '[::ffff:a9fe:a9fe]:80' \
	'[64:ff9b::a9fe:a9fe]:80' 0.0.0.0:80 0:80 '[::]:80' 224.0.0.1:80 255.255.255.255:80 '[ff02::1]:80' \
	192.168.222.1:3128 192.168.222.1:80 198.18.0.1:80 '[fd00:222::1]:80' '[2001:2::1]:80' \
	192.168.1.7:80 100.64.0.7:80 '[fd12:3456::7]:80' '[fe80::1]:80'; do
	check "CONNECT $a denied" expect "403|400" rc_connect "$a"
	check "GET http://$a/ denied" expect "403|400" rc_get "$a"
done
check "IPv4-compatible ::127.0.0.1 never reaches loopback" expect "403|400|502|504" rc_connect '[::127.0.0.1]:80'
check "curl with a decimal loopback URL is denied" expect "403|400" http_code "$T" http://2130706433/

# rebinding: rebind.bench.test flips between 198.18.0.10 and 127.0.0.1 on every lookup
rebind() {
	local i c out=""
	for i in 1 2 3 4 5 6; do
		# /close: the upstream ends each connection, so none is kept idle
		# for reuse and every request looks the name up again
		c=$(http_code "$T" http://rebind.bench.test/close)
		out="$out $c"
		case $c in 200|403|502|503) ;; *) echo "status $c:$out"; return 1 ;; esac
	done
	echo "statuses:$out"
}
check "a name whose answer flips to loopback never reaches loopback" rebind
check "... and the rebinding name was looked up by the proxy" bash -c "[ \$(grep -c ' A rebind' '$DIR/dnsflip.log') -ge 2 ]"
check "no canary saw a connection" expect 0 canary_hits

# one lookup per request: the dialled address is the checked one
before=$(dns_count plain.bench.test)
for i in 1 2 3; do http_code "$T" http://plain.bench.test/ >/dev/null; done
check "a name is looked up at most once (A and AAAA) per request" bash -c \
	"n=\$(( \$(grep -c 'query\[[A-Z]*\] plain.bench.test from' '$DIR/dns.log') - $before )); echo queries=\$n; [ \$n -ge 1 ] && [ \$n -le 6 ]"

# restart with --allow-cidr / --deny-cidr (state keeps the client and its rules)
check "stop" stop_proxy
check "restart with --allow-cidr and --deny-cidr" start_proxy \
	--allow-cidr 192.168.1.0/24 --allow-cidr 100.64.0.0/10 --allow-cidr fd12:3456::/64 \
	--allow-cidr 127.0.0.0/8 --allow-cidr 169.254.0.0/16 --allow-cidr 192.168.222.0/24 --allow-cidr ::1/128 \
	--deny-cidr 198.18.0.11/32 --deny-cidr 2001:2::10/128
[ -n "$PROXY_PID" ] || bench_finish
check "--allow-cidr: RFC 1918 upstream reachable" expect_re '"server": "192\.168\.1\.7"' pcurl "$T" http://lan.bench.test/
check "--allow-cidr: RFC 1918 upstream over CONNECT" expect 200 connect_code "$T" https://lan.bench.test/
check "--allow-cidr: 100.64/10 upstream reachable" expect_re '"server": "100\.64\.0\.7"' pcurl "$T" http://cgnat.bench.test/
check "--allow-cidr: fc00::/7 upstream reachable" expect_re '"server": "fd12:3456::7"' pcurl "$T" http://ula.bench.test/
check "--allow-cidr cannot open loopback" expect 403 http_code "$T" http://loop.bench.test/
check "--allow-cidr cannot open loopback (literal)" expect "403|400" rc_get 127.0.0.1
check "--allow-cidr cannot open loopback (IPv6)" expect "403|400" rc_get '[::1]'
check "--allow-cidr cannot open link-local metadata" expect 403 http_code "$T" http://meta.bench.test/
check "--allow-cidr cannot open the proxy's own address" expect "403|400" rc_connect 192.168.222.1:3128
check "--allow-cidr cannot open the proxy's own address (name)" expect 403 http_code "$T" http://self.bench.test/
check "--deny-cidr: a public address denied" expect 403 connect_code "$T" https://other.bench.test/
check "--deny-cidr: the same address as a literal" expect "403|400" rc_get 198.18.0.11
check "--deny-cidr: IPv6 address denied" expect 403 http_code "$T" http://v6.bench.test/
check "--deny-cidr: IPv4-mapped spelling of a denied address" expect "403|400" rc_get '[::ffff:198.18.0.11]'
check "--deny-cidr leaves other addresses alone" expect 200 connect_code "$T" https://api.bench.test/
check "still no canary saw a connection" expect 0 canary_hits
check "stop" stop_proxy
refused_up() { # ARGS: "up" must exit non-zero by itself (not be killed by timeout)
	in_host timeout 5 "$P" up --bind "$HOST_IP" --api "$DIR/x.sock" --state-dir "$DIR/state2" "$@" >/dev/null 2>&1
	local rc=$?
	echo "exit $rc"
	[ $rc -ne 0 ] && [ $rc -ne 124 ]
}
check "a bad --deny-cidr is refused at start" refused_up --deny-cidr 10.0.0.0/33
check "a bad --allow-cidr is refused at start" refused_up --allow-cidr banana
up_says() { # TEXT ARGS...: "up" exits 1 at once, naming what is wrong
	local text=$1 out rc
	shift
	out=$(in_host timeout 5 "$P" up "$@" 2>&1 >/dev/null)
	rc=$?
	printf '%s\n' "$out" | head -2
	[ $rc -eq 1 ] && printf '%s\n' "$out" | head -1 | grep -qF -- "$text"
}
check "up without --bind says it is required" up_says "slicer-proxy up: --bind ADDR is required" --api "$DIR/x.sock"
check "up with an unknown option names it" up_says "slicer-proxy up: unknown option: '--bogus'" --bind "$HOST_IP" --bogus
check "up with an option missing its value names it" up_says "slicer-proxy up: --workers needs a value" --bind "$HOST_IP" --workers
check "up with a stray argument names it" up_says "slicer-proxy up: unexpected argument: 'extra'" --bind "$HOST_IP" extra
up_hides_value() { # the option is named, what follows '=' is not printed
	local out rc
	out=$(in_host timeout 5 "$P" up --bind "$HOST_IP" --token=sk-never-echoed 2>&1 >/dev/null)
	rc=$?
	printf '%s\n' "$out" | head -1
	[ $rc -eq 1 ] && [ "$(printf '%s\n' "$out" | head -1)" = \
		"slicer-proxy up: unknown option, or one that takes no value: '--token'" ] &&
		! printf '%s\n' "$out" | grep -q sk-never-echoed
}
check "up with an unknown --option=VALUE names it without the value" up_hides_value

# ---- a host with many addresses (a VM tap each): every one is the proxy's
# own, also past the 256th, with --allow-cidr covering them all ----
in_host ip link add spx-many type ifb 2>/dev/null || in_host ip link add spx-many type dummy
# 10.9.0.1-200 and 10.9.1.1-100: with the bench's own, over 300 addresses
for i in $(seq 0 299); do echo "addr add 10.9.$((i / 200)).$((i % 200 + 1))/32 dev spx-many"; done |
	in_host ip -batch -
in_host ip link set spx-many up
check "the host has over 300 addresses" bash -c \
	"n=\$(ip netns exec $HNS ip -o addr show | wc -l); echo \$n; [ \$n -gt 300 ]"
rm -f "$DIR/canary-many.ready"
spawn "$HNS" "$PY" "$SPX_CI/upstream.py" --addr 10.9.0.5 --addr 10.9.1.100 --http-port 80 \
	--ready "$DIR/canary-many.ready" 2>>"$DIR/canary.log"
wait_for 10 test -s "$DIR/canary-many.ready"
check "restart with --allow-cidr 10.0.0.0/8" start_proxy --allow-cidr 10.0.0.0/8
[ -n "$PROXY_PID" ] || bench_finish
check "the first of them is the proxy's own: CONNECT denied" expect 403 rc_connect 10.9.0.5:80
check "the last (past the 256th): CONNECT denied" expect 403 rc_connect 10.9.1.100:80
check "  GET denied" expect 403 rc_get 10.9.1.100
check "  as the proxy's own address" bash -c \
	"grep '10.9.1.100' '$AUDIT' | tail -1; grep '10.9.1.100' '$AUDIT' | tail -1 | grep -q \"proxy's own address\""
check "no canary saw a connection" expect 0 canary_hits
check "stop" stop_proxy
bench_finish
