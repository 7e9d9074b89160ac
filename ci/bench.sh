#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make bench`: slicer-proxy against the direct path and against other
# proxies, all measured in the same run on the namespace bench (ci/lib.sh).
# Upstream: nginx with TLS 1.3 on fast.bench.test (198.18.0.20, net ns).
#
# Targets (ci/bench/README.md says what each one is):
#   direct           vm -> nginx, no proxy (the physical limit)
#   spx-tunnel       slicer-proxy, explicit CONNECT tunnel (host-level rule)
#   spx-intercept    slicer-proxy, TLS terminated (rule with a path and a secret)
#   spx-transparent  vm -> slicer-agent -> slicer-proxy (when the agent installs)
#   squid-tunnel     Squid CONNECT            squid-bump   Squid ssl-bump
#   mitmproxy        mitmdump, regular mode   tinyproxy    CONNECT
# Loads: wrk (direct, transparent), hey -x (explicit proxies; direct is
# measured under hey as well, and their ratios are to that), curl (bulk
# and latency).  The load tools and nginx run on CPU 0, the proxy under test
# on CPU 1.  Figures are medians of BENCH_RUNS runs; results go to
# bench/results/latest.md and latest.png.
#
# Knobs: BENCH_QUICK=1 (about 2 minutes: one run each, fewer targets),
# BENCH_RUNS, BENCH_SECS (seconds per rate run), BENCH_TARGETS (names,
# space separated), BENCH_GROWTH=0 (skip the growth series),
# BENCH_TUNNELS ("1000,5000"), BENCH_BULK_N (downloads of the 64 MiB file
# per bulk run, 4), BENCH_DNS_TTL (TTL of the bench's names, 60),
# BENCH_OUT (results directory), BENCH_PROFILE=1 (perf profiles of
# slicer-proxy and the agent under keep-alive load, to OUT/profile-*.txt),
# BENCH_AGENT_SCHED (the agent's --sched, batch by default),
# BENCH_HALT_POLL_NS (on a VM whose kernel idles with the haltpoll
# driver: how long an idle vCPU polls before it halts, for this run only;
# the machine's setting is put back at the end).
# Needs root.  Every loop and every load is bounded in time.

# shellcheck disable=SC2317,SC2034 # start_X / stop_X are called by name

# Debian packages this bench uses; installed below when missing.
BENCH_PKGS=(nginx-light wrk hey squid-openssl mitmproxy tinyproxy gnuplot-nox curl python3)

source "$(dirname "$(readlink -f "$0")")/lib.sh"
BENCH_DIR=$SPX_CI/bench
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	RUNS=${BENCH_RUNS:-1} SECS=${BENCH_SECS:-2} TUNNELS=${BENCH_TUNNELS:-1000}
	LAT_N=200 G_SECS=2
	TARGETS=${BENCH_TARGETS:-direct spx-tunnel spx-intercept squid-tunnel squid-bump spx-transparent}
else
	RUNS=${BENCH_RUNS:-3} SECS=${BENCH_SECS:-4} TUNNELS=${BENCH_TUNNELS:-1000,5000}
	LAT_N=400 G_SECS=3
	TARGETS=${BENCH_TARGETS:-direct spx-tunnel spx-intercept squid-tunnel squid-bump tinyproxy mitmproxy spx-transparent}
fi
GROWTH=${BENCH_GROWTH:-1}
OUT=${BENCH_OUT:-$SPX_ROOT/bench/results}
CONNS=64 LAT_RATE=200 HOST=fast.bench.test FAST=198.18.0.20
SMALL=/v1/small BIG=/v1/big ECHO=/v1/echo BIG_MB=64 BULK_N=${BENCH_BULK_N:-4}
SECRET_VALUE=bench-secret-token-7f3a9c
LOAD_CPU=0 PROXY_CPU=1
# the proxy gets one core, so one event loop; BENCH_WORKERS=N to compare
SPX_WORKERS=${BENCH_WORKERS:-1}
T_START=$SECONDS

fail() { echo "bench: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }
[ "$(id -u)" = 0 ] || fail "run as root (network namespaces)"

# ---- packages ----
pkg_ok() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
bench_pkgs() {
	local p miss=() svc
	command -v dpkg-query >/dev/null || return 0
	for p in "${BENCH_PKGS[@]}"; do pkg_ok "$p" || miss+=("$p"); done
	[ ${#miss[@]} -eq 0 ] && return 0
	say "installing: ${miss[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null 2>&1
	if ! apt-get install -y -qq --no-install-recommends "${miss[@]}" >/dev/null 2>&1; then
		# one by one: an unavailable package only costs its own targets
		for p in "${miss[@]}"; do
			apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
				echo "bench: package $p is not available" >&2
		done
	fi
	# the packages' own services are not wanted on the host
	for p in "${miss[@]}"; do
		case $p in squid-openssl) svc=squid ;; tinyproxy) svc=tinyproxy ;; *) continue ;; esac
		if pkg_ok "$p" && command -v systemctl >/dev/null && systemctl is-active -q "$svc" 2>/dev/null; then
			say "stopping and disabling the $svc service the package started"
			systemctl disable --now "$svc" >/dev/null 2>&1
		fi
	done
	return 0
}
bench_pkgs
bench_need nginx wrk curl "$PY" || fail "nginx, wrk, curl and python3 are required"
[ -x "$P" ] || fail "no $P: run make first"
HAVE_HEY=0 HAVE_GNUPLOT=0
command -v hey >/dev/null && HAVE_HEY=1
command -v gnuplot >/dev/null && HAVE_GNUPLOT=1
# every process started from here inherits this
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 16384 2>/dev/null
NOFILE=$(ulimit -n)

bench_init bench

# ---- the machine's cross-CPU wake-ups ----
# On a VM whose idle vCPUs halt at once, waking a thread that sleeps on
# the other CPU costs the waker a VM exit; a proxy that sleeps between
# events makes its clients and upstreams pay that per event.  The run
# reports what one costs here (ci/bench/wakecost.c) and the idle settings.
HALT_POLL=/sys/module/haltpoll/parameters/guest_halt_poll_ns
HALT_POLL_WAS=
if [ -n "${BENCH_HALT_POLL_NS:-}" ]; then
	[ -w "$HALT_POLL" ] || fail "BENCH_HALT_POLL_NS: no $HALT_POLL here (the haltpoll cpuidle driver)"
	case $BENCH_HALT_POLL_NS in *[!0-9]* | '') fail "BENCH_HALT_POLL_NS: nanoseconds, a number" ;; esac
	HALT_POLL_WAS=$(cat "$HALT_POLL")
	# put back by bench_down (ci/lib.sh), on any exit
	bench_on_exit() { echo "$HALT_POLL_WAS" >"$HALT_POLL"; }
	echo "$BENCH_HALT_POLL_NS" >"$HALT_POLL" || fail "cannot set $HALT_POLL"
fi
IDLE_DESC="cpuidle $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null || echo none)"
[ -r "$HALT_POLL" ] && IDLE_DESC="$IDLE_DESC, guest_halt_poll_ns=$(cat "$HALT_POLL")"
WAKE_COST=
if gcc -O2 -pthread -o "$DIR/wakecost" "$BENCH_DIR/wakecost.c" 2>"$DIR/wakecost.err"; then
	WAKE_COST=$("$DIR/wakecost" "$LOAD_CPU" "$PROXY_CPU" 20000 2>>"$DIR/wakecost.err")
fi
# the bench's names answer with a TTL of 60 s, as a typical API endpoint's
# do (dnsmasq's default for its own records is 0: slicer-proxy, which keeps
# an answer no longer than its TTL, would then look the name up for every
# new connection; Squid keeps any answer at least 60 s, negative_dns_ttl)
DNS_TTL=${BENCH_DNS_TTL:-60}
SPX_DNS_ARGS=(--local-ttl="$DNS_TTL")
say "setting up the bench (quick=$QUICK runs=$RUNS secs=$SECS targets: $TARGETS)"
bench_up >"$DIR/bench-up.log" 2>&1 || { cat "$DIR/bench-up.log" >&2; fail "bench setup failed"; }
# dnsmasq and the idle upstreams of lib.sh stay off the proxy's CPU
for p in "${SPX_PIDS[@]}"; do taskset -a -p -c "$LOAD_CPU" "$p" >/dev/null 2>&1; done
RES=$DIR/res RAW=$DIR/res/raw.tsv
mkdir -p "$RES" "$OUT"
# nothing of an earlier run may pass for this one's
rm -f "$OUT"/latest.md "$OUT"/latest.png "$OUT"/latest*.dat "$OUT"/latest-raw.tsv "$OUT"/profile-*.txt
: >"$RAW"
: >"$RES/checks.txt"
: >"$RES/skipped.txt"
: >"$RES/notes.txt"

# ---- namespaces: sysctls, the direct path ----
for ns in "$VNS" "$HNS" "$NNS"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="10000 65000" \
		net.core.somaxconn=8192 net.ipv4.tcp_max_syn_backlog=8192
done
# the direct path: the vm may reach the nginx address (only it) through the host
in_host nft insert rule inet spx_isolate forward iifname "h-vm" ip daddr "$FAST" accept ||
	fail "could not open the direct path"
# wrk and curl in the vm resolve the name through /etc/hosts (ip netns exec binds it)
printf '%s %s\n' "$FAST" "$HOST" >>"/etc/netns/$VNS/hosts"

# ---- PKI: the upstream's (lib.sh), a MITM CA for squid-bump and mitmproxy ----
mkdir -p "$DIR/mitm"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=bench MITM CA" -addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-keyout "$DIR/mitm/ca.key" -out "$DIR/mitm/ca.crt" 2>/dev/null || fail "MITM CA"
cat "$DIR/mitm/ca.key" "$DIR/mitm/ca.crt" >"$DIR/mitm/mitmproxy-ca.pem"
chmod 0644 "$DIR/mitm/ca.crt"

# ---- upstream: nginx on CPU 0 ----
NG=$DIR/nginx
mkdir -p "$NG/tmp" "$NG/www/v1"
head -c 100 /dev/zero | tr '\0' 'x' >"$NG/www/v1/small"
truncate -s "${BIG_MB}M" "$NG/www/v1/big"
sed -e "s|@DIR@|$NG|g" -e "s|@CERT@|$DIR/pki/srv.crt|g" -e "s|@KEY@|$DIR/pki/srv.key|g" \
	"$BENCH_DIR/nginx.conf.in" >"$NG/nginx.conf"
spawn "$NNS" taskset -c "$LOAD_CPU" nginx -e "$NG/error.log" -c "$NG/nginx.conf"
wait_for 10 in_net curl -q -sf -o /dev/null http://127.0.0.1:8081/status ||
	{ cat "$NG/error.log" >&2; fail "nginx did not start"; }
in_vm curl -q -sf -m 5 -o /dev/null --cacert "$CA" "https://$HOST$SMALL" || fail "direct path broken"

# ---- helpers ----
# L CMD...: a load tool in the target's client namespace, on the load CPU
L() { "${RUNNER[@]}" taskset -c "$LOAD_CPU" "$@"; }
# tree: "ticks rss_kib hwm_kib nprocs" of the proxy under test
ptree() { "$PY" "$BENCH_DIR/procstat.py" "$@"; }
# segs NS: TCP segments sent plus received so far in network namespace NS
segs() { ip netns exec "$1" nstat -asz TcpInSegs TcpOutSegs 2>/dev/null | awk '{n += $2} END {print n + 0}'; }
# cpubusy: "busy total" jiffies of the load CPU and of the proxy CPU
cpubusy() { awk -v a="cpu$LOAD_CPU" -v b="cpu$PROXY_CPU" '$1 == a || $1 == b {t = 0; for (i = 2; i <= 9; i++) t += $i; printf "%d %d ", t - $5 - $6, t}' /proc/stat; }
# nginx: "accepted requests" so far
nginx_counts() { in_net curl -q -s -m 2 http://127.0.0.1:8081/status | awk 'NR == 3 {print $1, $3}'; }
rec() { printf '%s\t%s\t%s\t%s\n' "$TGT" "$1" "$RUN" "$2" >>"${RAWF:-$RAW}"; }
calc() { awk "BEGIN {v = $1; printf \"%.6g\n\", v}"; }
skip() { echo "$1	$2" >>"$RES/skipped.txt"; say "skipped $1: $2"; }

# load_run OUT NEWCONN [URL] [TOOL]: SECS seconds of load, keep-alive
# (NEWCONN=0) or one request per TLS connection (1), from TOOL: hey (through
# PX for an explicit proxy) or wrk; by default hey for explicit proxies and
# wrk for the others.  Prints "req/s errors".
load_run() {
	local out=$1 newconn=$2 url=${3:-https://$HOST$SMALL} tool=$4
	[ -n "$tool" ] || { [ "$KIND" = explicit ] && tool=hey || tool=wrk; }
	if [ "$tool" = hey ]; then
		local ka=() px=()
		[ "$newconn" = 1 ] && ka=(-disable-keepalive)
		[ "$KIND" = explicit ] && px=(-x "$PX")
		L timeout $((SECS + 30)) hey -z "${SECS}s" -c "$CONNS" -t 0 "${ka[@]}" "${px[@]}" \
			"$url" >"$out" 2>&1
		awk '/Requests\/sec:/ {r = $2}
			/responses$/ && !/\[200\]/ {bad += $2} /^Error distribution:/ {e = 1}
			e && /^ *\[[0-9]+\]/ {gsub(/[\[\]]/, "", $1); bad += $1}
			END {printf "%s %d\n", (r == "" ? 0 : r), bad}' "$out"
	else
		local hdr=()
		[ "$newconn" = 1 ] && hdr=(-H "Connection: close")
		L timeout $((SECS + 30)) wrk -t1 -c"$CONNS" -d"${SECS}s" --timeout 10s "${hdr[@]}" \
			"$url" >"$out" 2>&1
		awk '/^Requests\/sec:/ {r = $2} /Non-2xx/ {bad += $NF}
			/Socket errors:/ {gsub(/,/, ""); bad += $4 + $6 + $8 + $10}
			END {printf "%s %d\n", (r == "" ? 0 : r), bad}' "$out"
	fi
}

# rate_series [NAME:NEWCONN:TOOL:URL]...: RUNS runs of each load (default:
# ka, the keep-alive load, and nc, one request per connection); rate, errors,
# upstream connections per request and CPU per 10k requests from /proc
rate_series() {
	local loads=("$@") ld kind nc url tool r e t0 t1 g0 g1 n0 n1 a0 a1 ra rr v0 v1 u0 u1
	local lb0 lt0 pb0 pt0 lb1 lt1 pb1 pt1 wt0 wt1 wg0 wg1
	[ ${#loads[@]} -gt 0 ] || loads=("ka:0::" "nc:1::")
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		for ld in "${loads[@]}"; do
			IFS=: read -r kind nc tool url <<<"$ld"
			read -r _ _ _ _ _ t0 wt0 <<<"$(ptree "${TREE[@]}")"
			read -r _ _ _ _ _ g0 wg0 <<<"$(ptree "${AGENT_TREE[@]}")"
			read -r a0 n0 <<<"$(nginx_counts)"
			v0=$(segs "$VNS") u0=$(segs "$NNS")
			read -r lb0 lt0 pb0 pt0 <<<"$(cpubusy)"
			read -r r e <<<"$(load_run "$RES/${TFILE:-$TGT}-$kind-$RUN.txt" "$nc" "$url" "$tool")"
			read -r _ _ _ _ _ t1 wt1 <<<"$(ptree "${TREE[@]}")"
			read -r _ _ _ _ _ g1 wg1 <<<"$(ptree "${AGENT_TREE[@]}")"
			read -r a1 n1 <<<"$(nginx_counts)"
			v1=$(segs "$VNS") u1=$(segs "$NNS")
			read -r lb1 lt1 pb1 pt1 <<<"$(cpubusy)"
			rec "${kind}_loadbusy" "$(calc "($lb1 - $lb0) / ($lt1 - $lt0 + 1e-9)")"
			rec "${kind}_proxybusy" "$(calc "($pb1 - $pb0) / ($pt1 - $pt0 + 1e-9)")"
			rr=$((n1 - n0)) ra=$((a1 - a0))
			rec "${kind}_rps" "$r"
			rec "${kind}_err" "$e"
			if [ "$rr" -gt 0 ]; then
				rec "${kind}_upconn" "$(calc "$ra / $rr")"
				# TCP segments per request in the vm and at nginx: the work
				# a path puts on the load CPU besides the load itself
				rec "${kind}_vmsegs" "$(calc "($v1 - $v0) / $rr")"
				rec "${kind}_upsegs" "$(calc "($u1 - $u0) / $rr")"
			fi
			if [ ${#TREE[@]} -gt 0 ] && [ "$rr" -gt 0 ]; then
				rec "${kind}_cpu10k" "$(calc "($t1 - $t0) / 1e9 / $rr * 10000")"
			fi
			if [ ${#TREE[@]} -gt 0 ] && [ "$rr" -gt 0 ]; then
				rec "${kind}_wakes" "$(calc "($wt1 - $wt0) / $rr")"
			fi
			if [ ${#AGENT_TREE[@]} -gt 0 ] && [ "$rr" -gt 0 ]; then
				rec "${kind}_agentcpu10k" "$(calc "($g1 - $g0) / 1e9 / $rr * 10000")"
				# times the agent was put on a CPU: it seldom sleeps under
				# load, so most of these are preemptions on the load CPU
				rec "${kind}_agentwakes" "$(calc "($wg1 - $wg0) / $rr")"
			fi
			say "  $TGT $kind run $RUN: $r req/s, $e errors, $rr upstream requests, $ra upstream conns"
		done
	done
}

# curl in the target's client namespace, through the target
tcurl() {
	local px=()
	[ "$KIND" = explicit ] && px=(-x "$PX")
	"${RUNNER[@]}" taskset -c "$LOAD_CPU" curl -q -s --cacert "$TCA" "${px[@]}" "$@"
}

bulk_series() {
	local v t0 t1 code i outs=() urls=() v0 v1 u0 u1 w0 w1 lb0 lt0 pb0 pt0 lb1 lt1 pb1 pt1
	# BULK_N downloads of the file on one connection per run: MB/s is
	# their bytes over their transfer time, CPU per GB is over all of them
	for ((i = 0; i < BULK_N; i++)); do
		outs+=(-o /dev/null) urls+=("https://$HOST$BIG")
	done
	tcurl -m 60 -o /dev/null "https://$HOST$BIG" # warm-up
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		read -r _ _ _ _ _ t0 w0 <<<"$(ptree "${TREE[@]}")"
		v0=$(segs "$VNS") u0=$(segs "$NNS")
		read -r lb0 lt0 pb0 pt0 <<<"$(cpubusy)"
		read -r v code <<<"$(tcurl -m 240 "${outs[@]}" \
			-w '%{size_download} %{time_total} %{http_code}\n' "${urls[@]}" |
			awk '{b += $1; t += $2} $3 != 200 {bad = 1}
				END {printf "%s %s\n", (t > 0 ? b / t : 0), (bad || NR != '"$BULK_N"' ? "bad" : 200)}')"
		read -r _ _ _ _ _ t1 w1 <<<"$(ptree "${TREE[@]}")"
		v1=$(segs "$VNS") u1=$(segs "$NNS")
		read -r lb1 lt1 pb1 pt1 <<<"$(cpubusy)"
		if [ "$code" != 200 ]; then
			rec bulk_err 1
			continue
		fi
		rec bulk_mbs "$(calc "$v / 1e6")"
		[ ${#TREE[@]} -gt 0 ] && rec bulk_cpugb "$(calc "($t1 - $t0) / 1e9 * 1024 / ($BIG_MB * $BULK_N)")"
		[ ${#TREE[@]} -gt 0 ] && rec bulk_wakesmb "$(calc "($w1 - $w0) / ($BIG_MB * $BULK_N)")"
		rec bulk_vmsegsmb "$(calc "($v1 - $v0) / ($BIG_MB * $BULK_N)")"
		rec bulk_upsegsmb "$(calc "($u1 - $u0) / ($BIG_MB * $BULK_N)")"
		rec bulk_loadbusy "$(calc "($lb1 - $lb0) / ($lt1 - $lt0 + 1e-9)")"
		rec bulk_proxybusy "$(calc "($pb1 - $pb0) / ($pt1 - $pt0 + 1e-9)")"
		say "  $TGT bulk run $RUN: $(calc "$v / 1e6") MB/s"
	done
}

# latency: LAT_N keep-alive requests on one connection, paced at LAT_RATE/s,
# microsecond resolution (curl time_total); the first (the handshake) is dropped
lat_series() {
	local i cfg=$RES/lat.curlrc
	for ((i = 1; i <= LAT_N + 1; i++)); do
		printf 'url = "https://%s%s?n=%d"\noutput = "/dev/null"\n' "$HOST" "$SMALL" "$i"
	done >"$cfg"
	for ((RUN = 1; RUN <= RUNS; RUN++)); do
		tcurl -m $((LAT_N / LAT_RATE + 30)) --rate "$LAT_RATE/s" -w '%{http_code} %{time_total}\n' \
			-K "$cfg" >"$RES/$TGT-lat-$RUN.txt"
		read -r p50 p99 _ <<<"$(tail -n +2 "$RES/$TGT-lat-$RUN.txt" |
			awk '$1 == 200 {print $2 * 1000; next} {bad++} END {if (bad) print "bad", bad > "/dev/stderr"}' |
			sort -g | awk '{a[NR] = $1} END {if (NR == 0) print "0 0 0";
				else printf "%.3f %.3f 0\n", a[int((NR + 1) / 2)], a[int(NR * 0.99 + 0.999)]}')"
		rec lat_p50 "$p50"
		rec lat_p99 "$p99"
		say "  $TGT latency run $RUN: p50 $p50 ms, p99 $p99 ms"
	done
}

# idle tunnels in stages; RSS of the tree before, and at each stage
tunnel_series() {
	local td=$RES/$TGT-tunnels st r0 r g0 g opened failed secs px=()
	mkdir -p "$td"
	RUN=1
	[ "$KIND" = explicit ] && px=(--proxy "$PX_ADDR")
	[ -n "${PX_TOKEN:-}" ] && px+=(--auth "$PX_TOKEN")
	sleep 1
	read -r _ r0 _ <<<"$(ptree "${TREE[@]}")"
	read -r _ g0 _ <<<"$(ptree "${AGENT_TREE[@]}")"
	rec rss_idle "$(calc "$r0 / 1024")"
	"${RUNNER[@]}" taskset -c "$LOAD_CPU" "$PY" "$BENCH_DIR/tunnels.py" "${px[@]}" \
		--host "$HOST" --path "$SMALL" --stages "$TUNNELS" --dir "$td" \
		--stage-secs 40 --timeout 10 --max-secs 200 >"$td/out" 2>&1 &
	local hp=$! pp=
	SPX_PIDS+=("$hp")
	wait_for 10 test -s "$td/pid" && pp=$(cat "$td/pid")
	[ -n "$pp" ] && SPX_PIDS+=("$pp")
	for st in ${TUNNELS//,/ }; do
		wait_for 60 test -e "$td/stage-$st" || { say "  $TGT: tunnel stage $st did not finish"; break; }
		sleep 1
		read -r _ r _ <<<"$(ptree "${TREE[@]}")"
		read -r _ g _ <<<"$(ptree "${AGENT_TREE[@]}")"
		read -r opened failed secs <"$td/stage-$st"
		if [ "$opened" -gt 0 ]; then
			rec "tun${st}_kib" "$(calc "($r - $r0) / $opened")"
			[ ${#AGENT_TREE[@]} -gt 0 ] && rec "tun${st}_agent_kib" "$(calc "($g - $g0) / $opened")"
		fi
		rec "tun${st}_failed" "$failed"
		[ "$failed" -gt 0 ] && echo "$TGT: $failed of $st idle tunnels could not be opened (per-tunnel RSS is over the $opened that were)" >>"$RES/notes.txt"
		say "  $TGT: $opened idle tunnels open ($failed failed, ${secs}s), RSS $((r / 1024)) MiB"
		touch "$td/go-$st"
	done
	touch "$td/release"
	wait_for 20 bash -c "! kill -0 $hp 2>/dev/null"
	[ -n "$pp" ] && stop_pid "$pp"
	stop_pid "$hp"
}

# check: one request to /v1/echo through the target, trusting only TCA
# (for slicer-proxy: and its audit log shows the request under the right client)
audit_count() { grep -c "\"client\":\"$1\"" "$AUDIT" 2>/dev/null || true; }
check_target() {
	local out code seen=ok a0=0
	[ -n "${SPX_CLIENT:-}" ] && a0=$(audit_count "$SPX_CLIENT")
	out=$(tcurl -m 10 -w '\n%{http_code}' "https://$HOST$ECHO" 2>&1)
	code=$(printf '%s\n' "$out" | tail -1)
	if [ -n "${SPX_CLIENT:-}" ]; then
		sleep 0.3
		[ "$(audit_count "$SPX_CLIENT")" -gt "$a0" ] || seen="NOT-IN-AUDIT-LOG"
		seen="audit=$seen(client $SPX_CLIENT)"
	else
		seen=
	fi
	printf 'check %s: code=%s trusted=%s %s upstream-saw: %s\n' "$TGT" "$code" "$TCA_NAME" "$seen" \
		"$(printf '%s\n' "$out" | head -1)" | tee -a "$RES/checks.txt" >&2
	[ "$code" = 200 ] && [ "$seen" != "audit=NOT-IN-AUDIT-LOG(client $SPX_CLIENT)" ]
}

# perf_record PID NAME LOAD...: perf record of PID into RES/perf-NAME.data
# for SECS seconds while the load command runs (its output in
# RES/NAME-load.txt)
perf_record() {
	local pid=$1 name=$2 hp
	shift 2
	L timeout $((SECS + 34)) "$@" >"$RES/$name-load.txt" 2>&1 &
	hp=$!
	sleep 2
	timeout $((SECS + 20)) perf record -q -o "$RES/perf-$name.data" -F 997 --call-graph dwarf,16384 \
		-p "$pid" -- sleep "$SECS" >/dev/null 2>&1
	wait "$hp" 2>/dev/null
}

# perf_under PID NAME LOAD...: perf_record, reported to OUT/profile-NAME.txt
# (self time by symbol) and OUT/profile-NAME-children.txt (with callees)
perf_under() {
	local name=$2 pd=$RES/perf-$2.data
	perf_record "$@"
	perf report -i "$pd" --no-children --sort dso,symbol --stdio --percent-limit 0.7 -g none 2>/dev/null |
		grep -v '^$' >"$OUT/profile-$name.txt"
	perf report -i "$pd" --children --sort symbol --stdio --percent-limit 3 -g none 2>/dev/null |
		grep -v '^$' >"$OUT/profile-$name-children.txt"
	echo "load during the profile: $(awk '/Requests\/sec:/ {print $2}' "$RES/$name-load.txt") req/s" \
		>>"$OUT/profile-$name.txt"
}

# strace_under PID NAME LOAD...: PID's system calls per request that
# reached nginx while the load command runs, to OUT/profile-NAME-syscalls.txt
# (strace slows the process; the counts still hold)
strace_under() {
	local pid=$1 name=$2 hp n0 n1
	shift 2
	command -v strace >/dev/null || return 0
	L timeout $((SECS + 34)) "$@" >"$RES/$name-strace-load.txt" 2>&1 &
	hp=$!
	sleep 2
	read -r _ n0 <<<"$(nginx_counts)"
	timeout -s INT 4 strace -c -f -p "$pid" -o "$RES/$name-strace.txt" >/dev/null 2>&1
	read -r _ n1 <<<"$(nginx_counts)"
	wait "$hp" 2>/dev/null
	{
		echo "$name: system calls per request that reached nginx ($((n1 - n0)) requests under strace):"
		awk -v n=$((n1 - n0)) '$1 ~ /^[0-9.]+$/ && NF >= 5 && n > 0 {
			printf "  %-16s %6.2f per request (%s errors)\n", $NF, $4 / n, (NF == 6 ? $5 : 0)}' "$RES/$name-strace.txt"
	} >"$OUT/profile-$name-syscalls.txt"
}

# perf_load_cpu NAME LOAD...: where the load CPU's time goes (every task on
# it, kernel included) while the load runs, per request that reached nginx,
# to OUT/profile-load-NAME.txt: with the load CPU the limit, what a proxy
# adds there is what its rate pays for
perf_load_cpu() {
	local name=$1 hp n0 n1 pd=$RES/perf-load-$1.data
	shift
	L timeout $((SECS + 34)) "$@" >"$RES/load-$name-load.txt" 2>&1 &
	hp=$!
	sleep 2
	read -r _ n0 <<<"$(nginx_counts)"
	timeout $((SECS + 20)) perf record -q -o "$pd" -F 4999 -C "$LOAD_CPU" -- sleep "$SECS" >/dev/null 2>&1
	read -r _ n1 <<<"$(nginx_counts)"
	wait "$hp" 2>/dev/null
	{
		echo "load CPU $LOAD_CPU over $SECS s, $((n1 - n0)) requests: $(awk -v n=$((n1 - n0)) -v s="$SECS" \
			'BEGIN {if (n > 0) printf "%.2f us of the load CPU per request", s * 1e6 / n}')"
		echo "by task and object:"
		perf report -i "$pd" --sort comm,dso --stdio --percent-limit 1 2>/dev/null | grep -v '^#' | grep -v '^$'
		echo "by symbol:"
		perf report -i "$pd" --sort comm,symbol --stdio --percent-limit 0.8 2>/dev/null | grep -v '^#' | grep -v '^$'
	} >"$OUT/profile-load-$name.txt"
}

# BENCH_PROFILE=1: perf profiles and system calls per request of
# slicer-proxy under the keep-alive load and under new connections (one
# request per connection), and its allocations; for spx-transparent, the
# same of the agent under wrk's loads of both kinds (OUT/profile-*.txt);
# for direct, the two Squids and our explicit targets, the load CPU too
profile_target() {
	local secs=$((SECS + 4)) small=https://$HOST$SMALL
	case $TGT in direct)
		command -v perf >/dev/null && [ "$HAVE_HEY" = 1 ] &&
			perf_load_cpu direct-hey hey -z "${secs}s" -c "$CONNS" -t 0 "$small"
		return 0 ;;
	squid-tunnel | squid-bump)
		command -v perf >/dev/null && perf_load_cpu "$TGT" hey -z "${secs}s" -c "$CONNS" -t 0 -x "$PX" "$small"
		return 0 ;;
	esac
	case $TGT in spx-tunnel | spx-intercept | spx-transparent) ;; *) return 0 ;; esac
	command -v perf >/dev/null || { echo "profile: perf is not installed" >>"$RES/notes.txt"; return 0; }
	if [ "$TGT" = spx-transparent ]; then
		say "  $TGT: perf profile and system calls of the agent under keep-alive load"
		perf_under "$AGENT_PID" spx-agent wrk -t1 -c"$CONNS" -d"${secs}s" "$small"
		strace_under "$AGENT_PID" spx-agent wrk -t1 -c"$CONNS" -d"${secs}s" "$small"
		perf_under "$AGENT_PID" spx-agent-newconn wrk -t1 -c"$CONNS" -d"${secs}s" -H "Connection: close" "$small"
		strace_under "$AGENT_PID" spx-agent-newconn wrk -t1 -c"$CONNS" -d"${secs}s" -H "Connection: close" "$small"
		return 0
	fi
	say "  $TGT: perf profile under keep-alive load and under new connections"
	perf_load_cpu "$TGT" hey -z "${secs}s" -c "$CONNS" -t 0 -x "$PX" "$small"
	perf_under "$PROXY_PID" "$TGT" hey -z "${secs}s" -c "$CONNS" -t 0 -x "$PX" "$small"
	perf_under "$PROXY_PID" "$TGT-newconn" hey -z "${secs}s" -c "$CONNS" -t 0 -disable-keepalive -x "$PX" "$small"
	strace_under "$PROXY_PID" "$TGT" hey -z "${secs}s" -c "$CONNS" -t 0 -x "$PX" "$small"
	strace_under "$PROXY_PID" "$TGT-newconn" hey -z "${secs}s" -c "$CONNS" -t 0 -disable-keepalive -x "$PX" "$small"
	profile_allocs
}

# allocations per keep-alive request: uprobes on libc's malloc, calloc and
# realloc in the proxy (perf probe), counted over a few seconds of load
profile_allocs() {
	local libc fn ev=() hp n0 n1 secs=$((SECS + 4))
	libc=$(awk '$NF ~ /\/libc\.so/ {print $NF; exit}' "/proc/$PROXY_PID/maps")
	[ -n "$libc" ] || return 0
	for fn in malloc calloc realloc; do
		perf probe -q -x "$libc" -a "spx_$fn=$fn" >/dev/null 2>&1
		perf probe -l 2>/dev/null | grep -q "spx_$fn" && ev+=(-e "probe_libc:spx_$fn")
	done
	[ ${#ev[@]} -gt 0 ] || { echo "profile: perf probe (uprobes) unavailable" >>"$RES/notes.txt"; return 0; }
	L timeout $((secs + 30)) hey -z "${secs}s" -c "$CONNS" -t 0 -x "$PX" "https://$HOST$SMALL" \
		>"$RES/$TGT-alloc-load.txt" 2>&1 &
	hp=$!
	sleep 2
	read -r _ n0 <<<"$(nginx_counts)"
	timeout $((SECS + 20)) perf stat -x, "${ev[@]}" -p "$PROXY_PID" -o "$RES/$TGT-allocs.csv" \
		-- sleep "$SECS" >/dev/null 2>&1
	read -r _ n1 <<<"$(nginx_counts)"
	# and where they come from: the callers, by share of the calls
	timeout $((SECS + 20)) perf record -q -o "$RES/perf-$TGT-allocs.data" "${ev[@]}" \
		--call-graph dwarf,8192 -p "$PROXY_PID" -- sleep 2 >/dev/null 2>&1
	wait "$hp" 2>/dev/null
	for fn in malloc calloc realloc; do perf probe -q -d "probe_libc:spx_$fn" >/dev/null 2>&1; done
	{
		echo "allocations per keep-alive request ($((n1 - n0)) requests, libc uprobes):"
		awk -F, -v n=$((n1 - n0)) '$1 ~ /^[0-9]+$/ && n > 0 {
			sub(/^probe_libc:spx_/, "", $3); t += $1
			printf "  %-8s %6.2f per request\n", $3, $1 / n}
			END {if (n > 0) printf "  %-8s %6.2f per request\n", "total", t / n}' "$RES/$TGT-allocs.csv"
		echo "callers (share of the calls, with callees' callers folded in):"
		perf report -i "$RES/perf-$TGT-allocs.data" --children --sort symbol --stdio \
			--percent-limit 2 -g none 2>/dev/null | grep -v '^#' | grep -v '^$'
	} >"$OUT/profile-$TGT-allocs.txt"
}

measure_target() {
	local rss anon
	# idle, before any load: the whole RSS and the private (anonymous) part
	# of it (the rest is shared library pages)
	if [ ${#TREE[@]} -gt 0 ]; then
		read -r _ rss _ _ anon _ <<<"$(ptree "${TREE[@]}")"
		RUN=1
		rec rss_start "$(calc "$rss / 1024")"
		rec anon_start "$(calc "${anon:-0} / 1024")"
	fi
	check_target || { skip "$TGT" "check request failed"; return 1; }
	if [ "$KIND" = direct ] && [ "$HAVE_HEY" = 1 ]; then
		# the explicit proxies are loaded by hey, which costs the load CPU
		# more than wrk: their ratios are to direct under hey (ka_hey, nc_hey)
		rate_series "ka:0:wrk:" "nc:1:wrk:" "ka_hey:0:hey:" "nc_hey:1:hey:"
	else
		rate_series
	fi
	bulk_series
	lat_series
	read -r _ _ hwm _ <<<"$(ptree "${TREE[@]}")"
	[ ${#TREE[@]} -gt 0 ] && { RUN=1; rec rss_peak "$(calc "$hwm / 1024")"; }
	if [ ${#AGENT_TREE[@]} -gt 0 ]; then
		read -r _ _ hwm _ <<<"$(ptree "${AGENT_TREE[@]}")"
		rec agent_rss_peak "$(calc "$hwm / 1024")"
	fi
	[ ${#TREE[@]} -gt 0 ] && tunnel_series
	[ "${BENCH_PROFILE:-0}" = 1 ] && profile_target
	# a proxy that died during the run shows only as load errors: say so
	local p
	for p in "${TREE[@]}"; do
		kill -0 "$p" 2>/dev/null && continue
		echo "$TGT: its process $p died during the run (see the load tools' errors)" >>"$RES/notes.txt"
		say "  $TGT: process $p died during the run"
	done
	return 0
}

# ---- the proxies under test ----
# Each start_X sets KIND (direct|explicit|transparent), TREE (root PIDs of
# the proxy), PX/PX_ADDR/PX_TOKEN (explicit), TCA (what the client trusts),
# RUNNER (client namespace); returns non-zero when the target cannot run.

# wait_port PORT: something listens on 192.168.222.1:PORT in the host namespace
wait_port() { wait_for "${2:-20}" bash -c "ip netns exec $HNS ss -Hltn 'sport = :$1' | grep -q LISTEN"; }
# stop_tree PID: TERM, bounded wait, KILL
stop_pid() {
	local p=$1 i
	[ -n "$p" ] || return 0
	kill "$p" 2>/dev/null
	for ((i = 0; i < 50; i++)); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	return 0
}

SPX_TOKENS_READY=0
spx_setup() {
	[ "$SPX_TOKENS_READY" = 1 ] && return 0
	start_proxy --upstream-ca "$CA" || return 1
	printf '%s' "$SECRET_VALUE" >"$DIR/secret.txt"
	cli secret create bench-token --host "$HOST" --from-file "$DIR/secret.txt" >/dev/null || return 1
	TOK_TUN=$(cli client create tun) || return 1
	TOK_MITM=$(cli client create mitm) || return 1
	TOK_TP=$(cli client create tp) || return 1
	cli allow tun --host "$HOST" --port 443 >/dev/null || return 1
	cli allow tp --host "$HOST" --port 443 >/dev/null || return 1
	cli allow mitm --host "$HOST" --port 443 --path '/v1/*' --secret bench-token >/dev/null || return 1
	cli ca >"$DIR/spx-ca.crt" || return 1
	stop_proxy
	SPX_TOKENS_READY=1
}
# every load comes from the one vm address, and the idle-tunnel run holds
# up to 5,000 tunnels at once: above the default --max-conns-per-peer
spx_start() { # TOKEN_VARIABLE
	spx_setup || return 1
	start_proxy --upstream-ca "$CA" --workers "$SPX_WORKERS" --max-conns-per-peer 16384 || return 1
	taskset -a -p -c "$PROXY_CPU" "$PROXY_PID" >/dev/null
	KIND=explicit TREE=("$PROXY_PID") PX_TOKEN=${!1}
	PX_ADDR=$PROXY_ADDR PX="http://proxy:$PX_TOKEN@$PROXY_ADDR"
}

start_direct() { KIND=direct TREE=() TCA=$CA TCA_NAME="bench upstream CA"; }
stop_direct() { :; }

start_spx-tunnel() { spx_start TOK_TUN && TCA=$CA TCA_NAME="bench upstream CA" SPX_CLIENT=tun; }
stop_spx-tunnel() { stop_proxy; }
start_spx-intercept() { spx_start TOK_MITM && TCA=$DIR/spx-ca.crt TCA_NAME="slicer-proxy CA" SPX_CLIENT=mitm; }
stop_spx-intercept() { stop_proxy; }

OTHER_PID=
squid_start() { # NAME PORT
	command -v squid >/dev/null || { SKIP_WHY="squid-openssl is not installed"; return 1; }
	local d=$DIR/$1
	mkdir -p "$d"
	sed -e "s|@DIR@|$d|g" "$BENCH_DIR/squid-common.conf.in" >"$d/common.conf"
	sed -e "s|@DIR@|$d|g" -e "s|@MITM_CRT@|$DIR/mitm/ca.crt|g" -e "s|@MITM_KEY@|$DIR/mitm/ca.key|g" \
		-e "s|@UPSTREAM_CA@|$CA|g" -e "s|@TOKEN@|$SECRET_VALUE|g" \
		"$BENCH_DIR/$1.conf.in" >"$d/squid.conf"
	chown -R proxy: "$d"
	if [ "$1" = squid-bump ]; then
		runuser -u proxy -- /usr/lib/squid/security_file_certgen -c -s "$d/ssl_db" -M 16MB >"$d/certgen.log" 2>&1 ||
			{ SKIP_WHY="security_file_certgen -c failed"; return 1; }
	fi
	spawn "$HNS" taskset -c "$PROXY_CPU" squid -N -f "$d/squid.conf"
	OTHER_PID=$SPAWNED_PID
	wait_port "$2" || { tail -5 "$d/cache.log" >&2; SKIP_WHY="squid did not start"; return 1; }
	KIND=explicit TREE=("$OTHER_PID") PX_TOKEN='' PX_ADDR=$HOST_IP:$2 PX="http://$HOST_IP:$2"
}
start_squid-tunnel() { squid_start squid-tunnel 3130 && TCA=$CA TCA_NAME="bench upstream CA"; }
stop_squid-tunnel() { stop_pid "$OTHER_PID"; }
start_squid-bump() { squid_start squid-bump 3131 && TCA=$DIR/mitm/ca.crt TCA_NAME="bench MITM CA"; }
stop_squid-bump() { stop_pid "$OTHER_PID"; }

start_tinyproxy() {
	command -v tinyproxy >/dev/null || { SKIP_WHY="tinyproxy is not installed"; return 1; }
	local d=$DIR/tinyproxy
	mkdir -p "$d"
	sed -e "s|@DIR@|$d|g" "$BENCH_DIR/tinyproxy.conf.in" >"$d/tinyproxy.conf"
	chown -R nobody: "$d"
	spawn "$HNS" taskset -c "$PROXY_CPU" tinyproxy -d -c "$d/tinyproxy.conf"
	OTHER_PID=$SPAWNED_PID
	wait_port 3132 || { SKIP_WHY="tinyproxy did not start"; return 1; }
	KIND=explicit TREE=("$OTHER_PID") PX_TOKEN='' PX_ADDR=$HOST_IP:3132 PX="http://$HOST_IP:3132"
	TCA=$CA TCA_NAME="bench upstream CA"
}
stop_tinyproxy() { stop_pid "$OTHER_PID"; }

start_mitmproxy() {
	command -v mitmdump >/dev/null || { SKIP_WHY="mitmproxy is not installed"; return 1; }
	spawn "$HNS" env BENCH_TOKEN="$SECRET_VALUE" PYTHONDONTWRITEBYTECODE=1 HOME="$DIR/home" \
		taskset -c "$PROXY_CPU" mitmdump -q --listen-host "$HOST_IP" -p 3133 \
		--set confdir="$DIR/mitm" --set ssl_verify_upstream_trusted_ca="$CA" \
		--set stream_large_bodies=1m -s "$BENCH_DIR/mitm_inject.py"
	OTHER_PID=$SPAWNED_PID
	wait_port 3133 30 || { SKIP_WHY="mitmdump did not start"; return 1; }
	KIND=explicit TREE=("$OTHER_PID") PX_TOKEN='' PX_ADDR=$HOST_IP:3133 PX="http://$HOST_IP:3133"
	TCA=$DIR/mitm/ca.crt TCA_NAME="bench MITM CA"
}
stop_mitmproxy() { stop_pid "$OTHER_PID"; }

source "$BENCH_DIR/transparent.sh"

# ---- the run ----
META=$RES/meta.txt
{
	echo "date $(date -u +%Y-%m-%dT%H:%MZ)"
	echo "machine $(nproc) CPUs, $(awk '/^model name/ {sub(/^[^:]*: /, ""); print; exit}' /proc/cpuinfo)"
	echo "kernel $(uname -r)"
	echo "idle $IDLE_DESC"
	[ -n "$WAKE_COST" ] && echo "wakecost $WAKE_COST"
	echo "targets $TARGETS"
	echo "lat $LAT_N requests at $LAT_RATE/s"
	echo "tunnels $TUNNELS"
	echo "params runs=$RUNS secs=$SECS conns=$CONNS lat=$LAT_N@$LAT_RATE/s tunnels=$TUNNELS quick=$QUICK nofile=$NOFILE dns-ttl=$DNS_TTL"
	echo "versions nginx $(nginx -v 2>&1 | sed 's|.*/||'), squid $(squid -v 2>/dev/null | awk 'NR == 1 {print $4}'), mitmproxy $(mitmdump --version 2>/dev/null | awk 'NR == 1 {print $2}'), tinyproxy $(tinyproxy -v 2>/dev/null | awk '{print $2}'), wrk $(wrk -v 2>&1 | awk 'NR == 1 {print $2}'), curl $(curl -V | awk 'NR == 1 {print $2}')"
} >"$META"

for TGT in $TARGETS; do
	if ! declare -F "start_$TGT" >/dev/null; then
		skip "$TGT" "unknown target"
		continue
	fi
	RUNNER=(in_vm) AGENT_TREE=() TREE=() SKIP_WHY="could not start" SPX_CLIENT=
	if [ "$TGT" != direct ] && [ "$TGT" != spx-transparent ] && [ "$HAVE_HEY" = 0 ]; then
		skip "$TGT" "hey is not installed (explicit proxies need it)"
		continue
	fi
	say "target $TGT ($((SECONDS - T_START)) s into the run)"
	if ! "start_$TGT"; then
		skip "$TGT" "$SKIP_WHY"
		"stop_$TGT"
		continue
	fi
	measure_target
	"stop_$TGT"
done

if [ "$GROWTH" = 1 ] && [ "$HAVE_HEY" = 1 ]; then
	source "$BENCH_DIR/growth.sh"
	growth_run
fi

# ---- report ----
say "writing $OUT/latest.md ($((SECONDS - T_START)) s into the run)"
"$PY" "$BENCH_DIR/report.py" --res "$RES" --out "$OUT" || fail "report failed"
if [ "$HAVE_GNUPLOT" = 1 ]; then
	(cd "$OUT" && gnuplot "$BENCH_DIR/chart.gp") >"$RES/gnuplot.log" 2>&1 ||
		{ say "gnuplot failed:"; cat "$RES/gnuplot.log" >&2; }
else
	say "gnuplot is not installed: no chart"
fi
cp "$RAW" "$OUT/latest-raw.tsv"
cat "$OUT/latest.md"
say "done in $((SECONDS - T_START)) s; chart: $OUT/latest.png"
exit 0
