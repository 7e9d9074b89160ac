#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# ci/bench/dnsperf.sh - throughput and latency of the guest's DNS stub,
# measured with dnsperf (Debian package dnsperf) on the namespace bench
# (ci/lib.sh).  Standalone: `bash ci/bench/dnsperf.sh` (root) builds the
# bench, starts slicer-proxy, installs slicer-agent in the vm namespace
# inside a private mount namespace over overlays (as ci/e2e/042 does: this
# machine's files are never touched), and runs, for the plain proxy link
# and the TLS one (https://...:3129):
#
#   cached   100 names the stub has cached (TTL 3600 upstream, 60 s in the
#            stub), queried round-robin
#   misses   distinct names with TTL 0: every query goes through the stub's
#            pool of proxy connections, the proxy's policy check, c-ares
#            and a dnsmasq in the net namespace
#   one-src  cached names from one source address with no rate limit: shows
#            the stub's per-source limit (LIMIT_DNS_SOURCE_RATE) at work
#
# The stub limits each source address to LIMIT_DNS_SOURCE_RATE queries/s,
# so load comes from DNSPERF_SOURCES addresses added to the vm's interface,
# each paced at DNSPERF_QPS (under that limit).  Printed per run: answered
# queries/s, lost queries, p50 and p99 latency (from dnsperf -v).
#
# Knobs: DNSPERF_SECS (10), DNSPERF_SOURCES (8), DNSPERF_QPS (450 per
# source), DNSPERF_LINKS ("plain tls"), DNSPERF_OUT (a file the result
# lines are appended to, tab separated: link run sources qps lost p50_ms
# p99_ms).  Every load is bounded by DNSPERF_SECS; the whole run takes
# about 3 * DNSPERF_SECS per link plus 30 s.
SECS=${DNSPERF_SECS:-10}
NSRC=${DNSPERF_SOURCES:-8}
QPS=${DNSPERF_QPS:-450}
LINKS=${DNSPERF_LINKS:-plain tls}
OUTF=${DNSPERF_OUT:-}

source "$(dirname "$(readlink -f "$0")")/../lib.sh"
say() { echo "== $*" >&2; }
fail() { echo "dnsperf bench: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (network namespaces)"
case "$SECS$NSRC$QPS" in *[!0-9]*) fail "DNSPERF_SECS, DNSPERF_SOURCES and DNSPERF_QPS are numbers" ;; esac
[ "$NSRC" -ge 1 ] && [ "$NSRC" -le 50 ] || fail "DNSPERF_SOURCES: 1 to 50"
[ "$SECS" -ge 1 ] && [ "$SECS" -le 120 ] || fail "DNSPERF_SECS: 1 to 120"
if ! command -v dnsperf >/dev/null; then
	say "installing dnsperf"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq dnsperf >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq dnsperf >/dev/null; } ||
		fail "cannot install the Debian package dnsperf"
fi
cd "$SPX_ROOT" || exit 1
say "building"
make -s all >/dev/null || fail "make failed"
A=$SPX_ROOT/$BUILD/slicer-agent
case $BUILD in /*) A=$BUILD/slicer-agent ;; esac
[ -x "$A" ] || fail "no $A"

bench_init dnsperf
bench_up || fail "bench setup failed"

# ---- names: a dnsmasq of our own in front of the bench's (whose answers
# have TTL 0 and whose query log would slow it down)
ip -n "$NNS" addr add 198.18.0.55/32 dev eth0 || fail "address"
recs=()
for i in $(seq 0 99); do recs+=("--host-record=c$i.cache.dns.test,198.18.0.10,3600"); done
spawn "$NNS" dnsmasq -k -C /dev/null --user=root --no-resolv --no-hosts --no-poll \
	--bind-interfaces --listen-address=198.18.0.55 --cache-size=0 --dns-forward-max=1000 \
	--server=198.18.0.53 --local=/dns.test/ --local-ttl=0 \
	--address=/miss.dns.test/198.18.0.10 "${recs[@]}" 2>>"$DIR/dnsmasq.err"
wait_for 10 in_net dig +time=1 +tries=1 +short @198.18.0.55 c0.cache.dns.test || fail "dnsmasq did not come up"
printf 'nameserver 198.18.0.55\noptions timeout:1 attempts:2\n' >"/etc/netns/$HNS/resolv.conf"

start_proxy --https-port 3129 || fail "slicer-proxy did not start"
T=$(new_client vm1 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
cli allow vm1 --host '*.cache.dns.test' >/dev/null || fail "rule"
cli allow vm1 --host '*.miss.dns.test' >/dev/null || fail "rule"
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA"
SHA=$(openssl x509 -in "$PCA" -outform DER | sha256sum | cut -d' ' -f1)

# ---- the guest
guest_up || fail "could not build the guest's private file system"
# load sources: addresses of the vm's own
for i in $(seq 1 "$NSRC"); do
	ip -n "$VNS" addr add "192.168.222.$((100 + i))/24" dev eth0 nodad 2>/dev/null ||
		fail "cannot add a source address"
done

for i in $(seq 0 99); do echo "c$i.cache.dns.test A"; done >"$DIR/cached.txt"

# load NAME DATAFILE_PREFIX SOURCES QPS SECS: dnsperf from SOURCES addresses at
# once (QPS 0: no limit); one result line
load() {
	local run=$1 data=$2 n=$3 q=$4 s=$5 i pids=() qarg=()
	[ "$q" -gt 0 ] && qarg=(-Q "$q")
	for i in $(seq 1 "$n"); do
		local f=$data
		[ -e "$data.$i" ] && f=$data.$i
		in_guest timeout $((s + 15)) dnsperf -s 198.18.0.53 -a "192.168.222.$((100 + i))" \
			-d "$f" -l "$s" "${qarg[@]}" -c 1 -q 100 -t 2 -v >"$DIR/perf.$run.$i" 2>&1 &
		pids+=($!)
	done
	wait "${pids[@]}"
	"$PY" - "$run" "$n" "$DIR"/perf."$run".* <<'EOF'
import re, sys
run, n, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
lat, done, lost, secs = [], 0, 0, 0.0
for f in files:
    for line in open(f, errors="replace"):
        m = re.match(r"> (\S+) \S+ \S+ ([0-9.]+)$", line.strip())
        if m and m.group(1) == "NOERROR":
            lat.append(float(m.group(2)) * 1000)
        m = re.match(r"\s*Queries completed:\s+(\d+)", line)
        if m:
            done += int(m.group(1))
        m = re.match(r"\s*Queries lost:\s+(\d+)", line)
        if m:
            lost += int(m.group(1))
        m = re.match(r"\s*Run time \(s\):\s+([0-9.]+)", line)
        if m:
            secs = max(secs, float(m.group(1)))
lat.sort()
pct = lambda p: lat[min(len(lat) - 1, int(len(lat) * p))] if lat else float("nan")
print("%s\t%d\t%.0f\t%d\t%.3f\t%.3f" % (run, n, done / secs if secs else 0, lost, pct(0.50), pct(0.99)))
EOF
}

results=()
for link in $LINKS; do
	case $link in
	plain) url="http://proxy:$T@$PROXY_ADDR" extra=() ;;
	tls) url="https://proxy:$T@192.168.222.1:3129" extra=(--ca-sha256 "$SHA") ;;
	*) fail "DNSPERF_LINKS: plain and/or tls" ;;
	esac
	say "$link link: installing the agent"
	in_guest "$A" proxy uninstall >/dev/null 2>&1
	in_guest timeout 60 "$A" proxy install --proxy "$url" "${extra[@]}" >"$DIR/install.log" 2>&1 ||
		{ cat "$DIR/install.log" >&2; fail "agent install failed"; }
	# misses: a file of distinct names per source
	for i in $(seq 1 "$NSRC"); do
		seq 1 $((QPS * SECS + 1000)) | sed "s/.*/m$link$i-&.miss.dns.test A/" >"$DIR/miss.txt.$i"
	done
	say "$link link: cached names, $NSRC sources x $QPS/s, $SECS s"
	in_guest timeout 20 dnsperf -s 198.18.0.53 -a 192.168.222.101 -d "$DIR/cached.txt" -n 1 >/dev/null 2>&1
	results+=("$link	$(load "cached-$link" "$DIR/cached.txt" "$NSRC" "$QPS" "$SECS")")
	say "$link link: misses, $NSRC sources x $QPS/s, $SECS s"
	results+=("$link	$(load "misses-$link" "$DIR/miss.txt" "$NSRC" "$QPS" "$SECS")")
	say "$link link: cached names, one source, no rate limit, $SECS s"
	results+=("$link	$(load "onesrc-$link" "$DIR/cached.txt" 1 0 "$SECS")")
	in_guest "$A" proxy status | grep -E '^counts' | tr ' ' '\n' | grep '^dns_' | tr '\n' ' ' >&2
	echo >&2
	in_guest "$A" proxy uninstall >/dev/null 2>&1
done

echo
echo "DNS stub (slicer-agent) under dnsperf, $SECS s per run"
printf '%-6s %-14s %8s %10s %8s %9s %9s\n' link run sources "answered/s" lost "p50 ms" "p99 ms"
for r in "${results[@]}"; do
	IFS=$'\t' read -r link run n qps lost p50 p99 <<<"$r"
	printf '%-6s %-14s %8s %10s %8s %9s %9s\n' "$link" "${run%-*}" "$n" "$qps" "$lost" "$p50" "$p99"
	[ -n "$OUTF" ] && printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$link" "${run%-*}" "$n" "$qps" "$lost" "$p50" "$p99" >>"$OUTF"
done
echo "(one source is held to the stub's per-source limit of $(grep -m1 -oE 'LIMIT_DNS_SOURCE_RATE [0-9]+' \
	"$SPX_ROOT/shared/slicer_limits.h" | cut -d' ' -f2)/s after a burst)"
exit 0
