#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# `make bench`: slicer-proxy against the direct path, measured in the same run
# on the namespace bench.  The upstream is nginx (198.18.0.20, fast.bench.test)
# in the net namespace; the "direct" client is the same vm namespace with its
# packets to that one address let through the host's forward chain, so both
# paths cross the same hops.  Measures:
#   - bulk download, HTTPS through a CONNECT tunnel vs direct (curl, median of runs)
#   - bulk download, plain HTTP forwarded vs direct
#   - keep-alive request rate, plain HTTP (wrk; absolute-form requests via the
#     proxy from a Lua script) and the proxy's CPU time per request
#   - new-connection request rate (ab, one connection per request)
#   - proxy RSS idle and with N idle CONNECT tunnels open
# Knobs: BENCH_RUNS (3), BENCH_SIZE_MB (256), BENCH_SECS (5), BENCH_TUNNELS (1000).
# Needs root, nginx, wrk, ab (apache2-utils).  Everything is bounded in time.
source "$(dirname "$(readlink -f "$0")")/lib.sh"
bench_init bench
RUNS=${BENCH_RUNS:-3} SIZE_MB=${BENCH_SIZE_MB:-256} SECS=${BENCH_SECS:-5} TUNNELS=${BENCH_TUNNELS:-1000}
FAST=198.18.0.20

fail() { echo "bench: $*" >&2; exit 1; }
bench_need nginx wrk ab curl || fail "install nginx, wrk and apache2-utils (ci/install-deps.sh)"
[ -x "$P" ] || fail "no $P: run make first"
# 2 fds per tunnel in the proxy, 1 in the holder and in nginx
ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"

echo "== setting up the bench" >&2
bench_up || fail "bench setup failed"

# ---- nginx upstream ----
mkdir -p "$DIR/www" "$DIR/nginx/tmp"
truncate -s "${SIZE_MB}M" "$DIR/www/big"
printf 'ok\n' >"$DIR/www/small"
cat >"$DIR/nginx/nginx.conf" <<EOF
daemon off;
user root;
worker_processes 1;
worker_rlimit_nofile 16384;
pid $DIR/nginx/nginx.pid;
error_log $DIR/nginx/error.log warn;
events { worker_connections 8192; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_requests 10000000;
	keepalive_timeout 120s;
	client_header_timeout 120s;
	default_type application/octet-stream;
	client_body_temp_path $DIR/nginx/tmp/body;
	proxy_temp_path $DIR/nginx/tmp/proxy;
	fastcgi_temp_path $DIR/nginx/tmp/fastcgi;
	uwsgi_temp_path $DIR/nginx/tmp/uwsgi;
	scgi_temp_path $DIR/nginx/tmp/scgi;
	ssl_protocols TLSv1.2 TLSv1.3;
	server {
		listen $FAST:80;
		listen $FAST:443 ssl;
		server_name fast.bench.test;
		ssl_certificate $DIR/pki/srv.crt;
		ssl_certificate_key $DIR/pki/srv.key;
		root $DIR/www;
	}
}
EOF
spawn "$NNS" nginx -e "$DIR/nginx/error.log" -c "$DIR/nginx/nginx.conf"
NGINX_PID=$SPAWNED_PID
wait_for 10 in_net curl -q -sf -o /dev/null "http://$FAST/small" || { cat "$DIR/nginx/error.log" >&2; fail "nginx did not start"; }

# the direct path: the vm may reach the nginx address (only it) through the host
in_host nft insert rule inet spx_isolate forward iifname "h-vm" ip daddr "$FAST" accept ||
	fail "could not open the direct path"

# many short connections in a row: let both paths reuse TIME_WAIT ports alike
for ns in "$VNS" "$HNS"; do
	ip netns exec "$ns" sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="10000 65000"
done

start_proxy || fail "slicer-proxy did not start"
TOKEN=$(cli client create bench) || fail "client create"
cli allow bench --host fast.bench.test >/dev/null || fail "allow"
PX="http://proxy:$TOKEN@$PROXY_ADDR"
AUTH=$(printf 'proxy:%s' "$TOKEN" | base64 -w0)
RESOLVE=(--resolve "fast.bench.test:443:$FAST" --resolve "fast.bench.test:80:$FAST")

# sanity: both paths answer, the proxy path really goes through the proxy
in_vm curl -q -sf -m 5 -o /dev/null --cacert "$CA" "${RESOLVE[@]}" https://fast.bench.test/small || fail "direct path broken"
in_vm curl -q -sf -m 5 -o /dev/null --cacert "$CA" -x "$PX" https://fast.bench.test/small || fail "proxy path broken"

median() { sort -g | awk '{a[NR] = $1} END {if (NR == 0) print 0; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }
proxy_cpu_ticks() { awk '{print $14 + $15}' "/proc/$PROXY_PID/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$PROXY_PID/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$PROXY_PID/status"; }
CLK=$(getconf CLK_TCK)
RESULTS=()
row() { RESULTS+=("$(printf '%-44s %12s %12s %7s' "$@")"); }

# ---- bulk download ----
dl() { # MODE URL -> MB/s
	local mode=$1 url=$2 v
	if [ "$mode" = direct ]; then
		v=$(in_vm curl -q -s -m 60 -o /dev/null -w '%{speed_download}' --cacert "$CA" "${RESOLVE[@]}" "$url")
	else
		v=$(in_vm curl -q -s -m 60 -o /dev/null -w '%{speed_download}' --cacert "$CA" -x "$PX" "$url")
	fi
	awk -v v="${v:-0}" 'BEGIN {printf "%.1f\n", v / 1e6}'
}
echo "== bulk download, ${SIZE_MB} MiB x $RUNS runs (after one warm-up each)" >&2
dl direct https://fast.bench.test/big >/dev/null
dl proxy https://fast.bench.test/big >/dev/null
for scheme in https http; do
	d=() p=()
	for ((i = 0; i < RUNS; i++)); do
		d+=("$(dl direct "$scheme://fast.bench.test/big")")
		p+=("$(dl proxy "$scheme://fast.bench.test/big")")
	done
	dm=$(printf '%s\n' "${d[@]}" | median) pm=$(printf '%s\n' "${p[@]}" | median)
	echo "   $scheme direct: ${d[*]} MB/s; via proxy: ${p[*]} MB/s" >&2
	if [ "$scheme" = https ]; then
		row "HTTPS download via CONNECT tunnel (MB/s)" "$dm" "$pm" "$(ratio "$pm" "$dm")"
	else
		row "HTTP download, forwarded (MB/s)" "$dm" "$pm" "$(ratio "$pm" "$dm")"
	fi
done
T0=$(proxy_cpu_ticks)
in_vm curl -q -s -m 60 -o /dev/null --cacert "$CA" -x "$PX" https://fast.bench.test/big
T1=$(proxy_cpu_ticks)
CPU_GB=$(awk -v t=$((T1 - T0)) -v c="$CLK" -v mb="$SIZE_MB" 'BEGIN {printf "%.0f", t / c * 1000 / (mb / 1024)}')

# ---- keep-alive request rate (wrk) ----
cat >"$DIR/proxy.lua" <<EOF
wrk.method = "GET"
wrk.path = "http://fast.bench.test/small"
wrk.headers["Host"] = "fast.bench.test"
wrk.headers["Proxy-Authorization"] = "Basic $AUTH"
EOF
wrk_rate() { # OUTFILE ARGS...
	local out=$1; shift
	in_vm timeout $((SECS + 20)) wrk -t1 -c32 -d"${SECS}s" --timeout 5s "$@" >"$out" 2>&1
	awk '/^Requests\/sec:/ {print $2}' "$out"
}
wrk_errors() { grep -E 'Non-2xx|Socket errors' "$1" | tr -s ' ' | paste -sd' '; }
echo "== keep-alive requests, wrk 32 connections, ${SECS}s x $RUNS" >&2
d=() p=() cpu=()
for ((i = 0; i < RUNS; i++)); do
	d+=("$(wrk_rate "$DIR/wrk-direct.txt" -H 'Host: fast.bench.test' "http://$FAST/small")")
	T0=$(proxy_cpu_ticks)
	r=$(wrk_rate "$DIR/wrk-proxy.txt" -s "$DIR/proxy.lua" "http://$PROXY_ADDR")
	T1=$(proxy_cpu_ticks)
	p+=("$r")
	cpu+=("$(awk -v t=$((T1 - T0)) -v c="$CLK" -v r="${r:-0}" -v s="$SECS" 'BEGIN {if (r > 0) printf "%.1f\n", t / c * 1e6 / (r * s); else print 0}')")
done
dm=$(printf '%s\n' "${d[@]}" | median) pm=$(printf '%s\n' "${p[@]}" | median)
echo "   direct: ${d[*]} req/s; via proxy: ${p[*]} req/s $(wrk_errors "$DIR/wrk-proxy.txt")" >&2
row "keep-alive plain HTTP (req/s, wrk)" "$dm" "$pm" "$(ratio "$pm" "$dm")"
row "proxy CPU per keep-alive request (us)" "-" "$(printf '%s\n' "${cpu[@]}" | median)" ""

# ---- new connection per request (ab) ----
ab_rate() { # OUTFILE ARGS...
	local out=$1; shift
	in_vm timeout $((SECS + 30)) ab -q -t "$SECS" -n 1000000 -c 8 -s 5 "$@" >"$out" 2>&1
	awk '/^Requests per second:/ {print $4}' "$out"
}
echo "== new connection per request, ab 8 concurrent, ${SECS}s x $RUNS" >&2
d=() p=()
for ((i = 0; i < RUNS; i++)); do
	d+=("$(ab_rate "$DIR/ab-direct.txt" -H 'Host: fast.bench.test' "http://$FAST/small")")
	p+=("$(ab_rate "$DIR/ab-proxy.txt" -X "$PROXY_ADDR" -P "proxy:$TOKEN" http://fast.bench.test/small)")
done
dm=$(printf '%s\n' "${d[@]}" | median) pm=$(printf '%s\n' "${p[@]}" | median)
echo "   direct: ${d[*]} req/s; via proxy: ${p[*]} req/s; $(grep -E '^(Failed|Non-2xx)' "$DIR/ab-proxy.txt" | tr -s ' ' | paste -sd' ')" >&2
row "new connection per request (req/s, ab)" "$dm" "$pm" "$(ratio "$pm" "$dm")"

# ---- memory with idle tunnels ----
proxy_fds() { ls "/proc/$PROXY_PID/fd" 2>/dev/null | wc -l; }
sleep 2
FDS0=$(proxy_fds)
echo "== $TUNNELS idle CONNECT tunnels" >&2
RSS0=$(rss_kib)
rm -f "$DIR/release"
in_vm bash -c "ulimit -n 16384; exec $PY - $TOKEN $TUNNELS $DIR/release" >"$DIR/holder.out" 2>&1 <<'EOF' &
import os, socket, sys, time
tok, n, release = sys.argv[1], int(sys.argv[2]), sys.argv[3]
req = ("CONNECT fast.bench.test:443 HTTP/1.1\r\nHost: fast.bench.test:443\r\n"
       "Proxy-Authorization: Bearer %s\r\n\r\n" % tok).encode()
held, bad, t0 = [], 0, time.time()
for i in range(n):
    try:
        s = socket.create_connection(("192.168.222.1", 3128), timeout=10)
        s.sendall(req)
        d = s.recv(4096)
        if not d.startswith(b"HTTP/1.1 200"):
            bad += 1
        held.append(s)
    except OSError as e:
        bad += 1
print("ready %d %d %.2f" % (len(held), bad, time.time() - t0), flush=True)
end = time.time() + 60
while time.time() < end and not os.path.exists(release):
    time.sleep(0.1)
EOF
HOLDER=$!
SPX_PIDS+=("$HOLDER")
wait_for 90 grep -q '^ready' "$DIR/holder.out"
sleep 1
RSSN=$(rss_kib) HWM=$(hwm_kib)
FDS=$(proxy_fds)
read -r _ OPENED BAD OPEN_SECS < <(grep '^ready' "$DIR/holder.out" || echo "ready 0 $TUNNELS 0")
touch "$DIR/release"
wait "$HOLDER" 2>/dev/null
sleep 1
FDS1=$(proxy_fds)
echo "   opened $OPENED tunnels ($BAD refused or failed) in ${OPEN_SECS}s; proxy fds: $FDS0 before, $FDS with them, $FDS1 after they closed" >&2
row "proxy RSS idle (MiB)" "-" "$(awk -v k="$RSS0" 'BEGIN {printf "%.1f", k / 1024}')" ""
row "proxy RSS with $OPENED idle tunnels (MiB)" "-" "$(awk -v k="$RSSN" 'BEGIN {printf "%.1f", k / 1024}')" ""
row "memory per idle tunnel (KiB)" "-" "$(awk -v a="$RSS0" -v b="$RSSN" -v n="$OPENED" 'BEGIN {if (n > 0) printf "%.1f", (b - a) / n; else print "-"}')" ""
row "proxy peak RSS over the run (MiB)" "-" "$(awk -v k="$HWM" 'BEGIN {printf "%.1f", k / 1024}')" ""
row "proxy CPU per GB through a tunnel (ms)" "-" "$CPU_GB" ""
row "proxy open fds: idle after the load runs" "-" "$FDS0" ""
row "proxy open fds: $OPENED tunnels open / closed" "-" "$FDS/$FDS1" ""

echo
echo "slicer-proxy bench ($(nproc) cores; upstream nginx; $RUNS runs, medians; ratio = via proxy / direct)"
printf '%-44s %12s %12s %7s\n' "measure" "direct" "via proxy" "ratio"
printf '%s\n' "${RESULTS[@]}"
[ "$BAD" = 0 ] || echo "note: $BAD of $TUNNELS tunnels were refused or failed"
grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$DIR/proxy.log" && echo "note: sanitizer report in the proxy log"
stop_proxy
exit 0
