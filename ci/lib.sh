# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash
# ci/lib.sh - the network-namespace test bench for the end-to-end tests,
# the demo and the benchmark.  Source it, then:
#
#   bench_init [TAG]     names (spx-TAG-host/-vm/-net), work dir, cleanup trap
#   bench_up             namespaces, addresses, isolation, DNS, certs, upstreams
#   start_proxy [ARGS]   slicer-proxy up in the host namespace, waits for it
#   check NAME CMD...    run one check, count it; bench_finish prints the summary
#
# Topology (all inside namespaces this file creates; nothing leaves them):
#   vm   192.168.222.2/24  fd00:222::2/64   default via the host
#   host 192.168.222.1/24  fd00:222::1/64   slicer-proxy; forwards, but an nft
#        198.18.0.1/15     2001:2::1/48     rule drops whatever the vm sends past it
#   net  198.18.0.2/15     2001:2::2/48     the "internet": upstreams on
#        198.18.0.10, .11, 2001:2::10 (and, for address-policy tests, 192.168.1.7,
#        100.64.0.7, fd12:3456::7; 198.18.0.20 is left for ci/bench.sh's nginx);
#        dnsmasq on 198.18.0.53 / 2001:2::53 for *.bench.test; a flipping
#        resolver (ci/dnsflip.py) on 198.18.0.54.
# Canary listeners that must never see a connection from the proxy: the host's
# own addresses and loopback, and 169.254.169.254 in net (canary.log).
set -u

SPX_CI=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPX_ROOT=$(cd "$SPX_CI/.." && pwd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
BUILD=${BUILD:-build}
case $BUILD in /*) P=$BUILD/slicer-proxy ;; *) P=$SPX_ROOT/$BUILD/slicer-proxy ;; esac
VM_IP=192.168.222.2 HOST_IP=192.168.222.1 PROXY_PORT=3128
PROXY_ADDR=$HOST_IP:$PROXY_PORT
# the machine's own proxy settings never leak into a test
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
export GIT_CONFIG_NOSYSTEM=1

SPX_PIDS=()
SPX_PASS=0 SPX_FAIL=0 SPX_FAILED=()
PROXY_PID=
SPX_PROXY_STARTED=0

bench_log() { echo "[$SPX_TAG] $*" >&2; }

# bench_init [TAG]: TAG defaults to the number in front of the script's name
bench_init() {
	local t=${1:-}
	if [ -z "$t" ]; then t=$(basename "$0"); t=${t%%-*}; t=${t%.sh}; fi
	SPX_TAG=$t
	# the script's PID in the names: runs of the same script never collide, and
	# a leftover of a run that died is recognised (its PID is gone) and reaped
	HNS=spx-$t-$$-host VNS=spx-$t-$$-vm NNS=spx-$t-$$-net
	DIR=$(mktemp -d "/tmp/spx-$t.XXXXXX")
	# traversable (not listable) by others: the daemon may drop to an unprivileged user
	chmod 0711 "$DIR"
	S=$DIR/s.sock CA=$DIR/pki/ca.crt AUDIT=$DIR/audit.jsonl
	mkdir -p "$DIR/home" "$DIR/files"
	: >"$DIR/checks.log"
	export SPX_TAG HNS VNS NNS DIR S CA AUDIT
	trap bench_down EXIT
	trap 'exit 130' INT TERM
}

in_host() { ip netns exec "$HNS" "$@"; }
in_net() { ip netns exec "$NNS" "$@"; }
# the guest: a clean environment with its own HOME (no ~/.curlrc, ~/.gitconfig)
in_vm() { ip netns exec "$VNS" env HOME="$DIR/home" GIT_CONFIG_NOSYSTEM=1 "$@"; }

# spawn NS CMD...: run in the background in a namespace, remember the PID
spawn() {
	local ns=$1; shift
	ip netns exec "$ns" "$@" &
	SPAWNED_PID=$!
	SPX_PIDS+=("$SPAWNED_PID")
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

# bench_nginx HTTP_BODY: nginx in the net namespace (one worker; its logs
# and pid under $DIR/ngx) with HTTP_BODY inside its http { } block; waits
# until it listens on 198.18.0.20:80 (the address ci/bench.sh leaves free)
bench_nginx() {
	mkdir -p "$DIR/ngx/logs"
	cat >"$DIR/ngx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $DIR/ngx/nginx.pid;
error_log $DIR/ngx/error.log;
events { worker_connections 64; }
http {
$1
}
NGX
	spawn "$NNS" nginx -c "$DIR/ngx/nginx.conf" -p "$DIR/ngx"
	wait_for 10 in_net bash -c "ss -Hltn 'sport = :80' | grep -q 198.18.0.20"
}

# guest_up: a guest inside the vm namespace for the agent tests: a process
# (GPID) holding a private mount namespace there, with /etc (over a copy,
# so nothing else changing this machine's /etc shows in the guest), /usr,
# /var, /opt and /root as overlays whose upper layers live in $G, and /run
# a tmpfs.  Checks that a file made in the guest's /etc is not in this
# machine's.  1 when any of it fails.
guest_up() {
	local d k low
	G=$DIR/guest
	mkdir -p "$G"
	spawn "$VNS" unshare --mount --propagation private sleep 3600
	GPID=$SPAWNED_PID
	GUEST_ENV=${GUEST_ENV:-}
	export G GPID GUEST_ENV
	wait_for 5 test -e "/proc/$GPID/ns/mnt" || return 1
	cp -a /etc "$G/etc-lower" 2>/dev/null
	for d in /etc /usr /var /opt /root; do
		k=$(echo "$d" | tr / _)
		low=$d
		[ "$d" = /etc ] && low=$G/etc-lower
		mkdir -p "$G/up$k" "$G/wk$k"
		in_guest mount -t overlay overlay -o "lowerdir=$low,upperdir=$G/up$k,workdir=$G/wk$k" "$d" || return 1
	done
	in_guest mount -t tmpfs tmpfs /run || return 1
	in_guest touch /etc/.spx-guest-marker || return 1
	if [ -e /etc/.spx-guest-marker ]; then
		rm -f /etc/.spx-guest-marker
		return 1
	fi
	in_guest rm -f /etc/.spx-guest-marker
}
# in_guest CMD...: the guest's mount and network namespaces with a clean
# environment (no proxy variables), plus $GUEST_ENV (NAME=VALUE words)
# guest_up_stub_only: guest_up, with a resolv.conf naming a resolver the vm
# cannot reach (only the agent's DNS stub can answer) and a bare
# /etc/hosts; with a clear stop when the guest cannot be built
guest_up_stub_only() {
	if guest_up &&
		in_guest sh -c 'rm -f /etc/resolv.conf; printf "nameserver 198.18.0.53\noptions timeout:2 attempts:2\n" >/etc/resolv.conf' &&
		in_guest sh -c 'printf "127.0.0.1 localhost\n::1 localhost\n" >/etc/hosts'; then
		return 0
	fi
	echo "FAIL could not build the private guest file system: stopping before any install"
	echo "0 passed, 1 failed"
	exit 1
}

in_guest() {
	# shellcheck disable=SC2086 # GUEST_ENV is a list of words
	nsenter -t "$GPID" -m -n -- env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		HOME=/root LANG=C ${GUEST_ENV:-} "$@"
}

bench_need() {
	local c miss=()
	for c in "$@"; do command -v "$c" >/dev/null || miss+=("$c"); done
	[ ${#miss[@]} -eq 0 ] && return 0
	echo "missing commands: ${miss[*]} (run ci/install-deps.sh)" >&2
	return 1
}

bench_certs() {
	local d=$DIR/pki
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-subj "/CN=spx bench upstream CA" -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null || return 1
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-subj "/CN=api.bench.test" -keyout "$d/srv.key" -out "$d/srv.csr" 2>/dev/null || return 1
	{
		printf 'subjectAltName=DNS:*.bench.test,DNS:bench.test,DNS:*.wild.bench.test,'
		printf 'IP:198.18.0.10,IP:198.18.0.11,IP:2001:2::10,IP:192.168.1.7,IP:100.64.0.7,IP:fd12:3456::7\n'
		printf 'extendedKeyUsage=serverAuth\n'
	} >"$d/ext"
	openssl x509 -req -in "$d/srv.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial \
		-days 2 -extfile "$d/ext" -out "$d/srv.crt" 2>/dev/null
}

# a small repository served by git http-backend at http://git.bench.test/git/repo.git
bench_gitrepo() {
	local w=$DIR/git/work g
	g() { HOME="$DIR/home" git -c user.name=bench -c user.email=bench@bench.test \
		-c init.defaultBranch=main "$@"; }
	mkdir -p "$w"
	g init -q "$w" || return 1
	echo "bench repository" >"$w/README"
	head -c 300000 /dev/urandom | base64 >"$w/data.txt"
	g -C "$w" add -A && g -C "$w" commit -qm "first" || return 1
	echo "second" >>"$w/README"
	g -C "$w" commit -qam "second" || return 1
	g clone -q --bare "$w" "$DIR/git/repo.git" || return 1
	g -C "$DIR/git/repo.git" rev-parse HEAD >"$DIR/git/HEAD"
	unset -f g
}

# bench_file NAME MIB: a random file the upstreams serve at /file/NAME
bench_file() {
	head -c "$(($2 * 1048576))" /dev/urandom >"$DIR/files/$1"
	sha256sum "$DIR/files/$1" | cut -d' ' -f1
}

# bench_del_ns NAME...: kill what runs inside (by PID), delete the namespace and its /etc/netns
bench_del_ns() {
	local n p
	for n in "$@"; do
		if [ -e "/run/netns/$n" ]; then
			for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
			ip netns del "$n" 2>/dev/null
		fi
		rm -rf "/etc/netns/$n"
	done
	return 0
}

bench_down_quiet() { bench_del_ns "$HNS" "$VNS" "$NNS"; }

# bench_reap: namespaces left by bench runs that died (their PID is gone)
bench_reap() {
	local f n pid
	for f in /run/netns/spx-* /etc/netns/spx-*; do
		[ -e "$f" ] || continue
		n=${f##*/}
		[[ $n =~ ^spx-[A-Za-z0-9]+-([0-9]+)-(host|vm|net)$ ]] || continue
		pid=${BASH_REMATCH[1]}
		kill -0 "$pid" 2>/dev/null && continue
		bench_del_ns "$n"
	done
}

bench_up() {
	bench_need ip nft dnsmasq openssl curl git "$PY" || return 1
	bench_reap
	bench_certs || { bench_log "certificate setup failed"; return 1; }
	bench_gitrepo || { bench_log "git repository setup failed"; return 1; }
	local n
	for n in "$HNS" "$VNS" "$NNS"; do ip netns add "$n" && ip -n "$n" link set lo up || return 1; done
	ip -n "$HNS" link add h-vm type veth peer name eth0 netns "$VNS" || return 1
	ip -n "$HNS" link add h-net type veth peer name eth0 netns "$NNS" || return 1
	# host
	ip -n "$HNS" addr add 192.168.222.1/24 dev h-vm
	ip -n "$HNS" addr add fd00:222::1/64 dev h-vm nodad
	ip -n "$HNS" addr add 198.18.0.1/15 dev h-net
	ip -n "$HNS" addr add 2001:2::1/48 dev h-net nodad
	ip -n "$HNS" link set h-vm up
	ip -n "$HNS" link set h-net up
	for n in 192.168.1.7/32 100.64.0.7/32 169.254.169.254/32; do
		ip -n "$HNS" route add "$n" via 198.18.0.2
	done
	ip -n "$HNS" -6 route add fd12:3456::7/128 via 2001:2::2
	in_host sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	# isolated mode: the vm reaches the host's own addresses and nothing past them
	in_host nft -f - <<-'EOF' || return 1
		table inet spx_isolate {
			chain forward {
				type filter hook forward priority 0; policy accept;
				iifname "h-vm" counter drop
			}
		}
	EOF
	# vm
	ip -n "$VNS" addr add 192.168.222.2/24 dev eth0
	ip -n "$VNS" addr add fd00:222::2/64 dev eth0 nodad
	ip -n "$VNS" link set eth0 up
	ip -n "$VNS" route add default via 192.168.222.1
	ip -n "$VNS" -6 route add default via fd00:222::1
	# net
	ip -n "$NNS" addr add 198.18.0.2/15 dev eth0
	ip -n "$NNS" addr add 2001:2::2/48 dev eth0 nodad
	for n in 198.18.0.10 198.18.0.11 198.18.0.20 198.18.0.53 198.18.0.54 192.168.1.7 100.64.0.7 169.254.169.254; do
		ip -n "$NNS" addr add "$n/32" dev eth0
	done
	for n in 2001:2::10 2001:2::53 fd12:3456::7; do ip -n "$NNS" addr add "$n/128" dev eth0 nodad; done
	ip -n "$NNS" link set eth0 up
	ip -n "$NNS" route add default via 198.18.0.1
	ip -n "$NNS" -6 route add default via 2001:2::1
	for n in "$HNS" "$VNS" "$NNS"; do
		mkdir -p "/etc/netns/$n"
		# the vm cannot reach this server (isolation): keep accidental lookups short
		printf 'nameserver 198.18.0.53\noptions timeout:1 attempts:1\n' >"/etc/netns/$n/resolv.conf"
		printf '127.0.0.1 localhost\n::1 localhost ip6-localhost\n127.0.1.1 %s\n' \
			"$(hostname)" >"/etc/netns/$n/hosts"
	done
	bench_dns || return 1
	bench_upstreams || return 1
	bench_log "bench up: $HNS $VNS $NNS, work dir $DIR"
}

# bench_dns: SPX_DNS_ARGS (an array a script may set before bench_up) adds
# dnsmasq options, e.g. records of names only that script uses
bench_dns() {
	: >"$DIR/dns.log"
	spawn "$NNS" "$PY" "$SPX_CI/dnsflip.py" 198.18.0.54 198.18.0.10 127.0.0.1 2>>"$DIR/dnsflip.log"
	spawn "$NNS" dnsmasq -k -C /dev/null --user=root --no-resolv --no-hosts --no-poll \
		--pid-file="$DIR/dnsmasq.pid" \
		--bind-interfaces --listen-address=198.18.0.53 --listen-address=2001:2::53 \
		--cache-size=0 --log-queries --log-facility="$DIR/dns.log" \
		--local=/test/ --server=/rebind.bench.test/198.18.0.54 \
		--host-record=api.bench.test,198.18.0.10 \
		--host-record=plain.bench.test,198.18.0.10 \
		--host-record=git.bench.test,198.18.0.10 \
		--host-record=other.bench.test,198.18.0.11 \
		--host-record=exfil.bench.test,198.18.0.11 \
		--host-record=fast.bench.test,198.18.0.20 \
		--host-record=dual.bench.test,198.18.0.10,2001:2::10 \
		--host-record=v6.bench.test,2001:2::10 \
		--host-record=lan.bench.test,192.168.1.7 \
		--host-record=cgnat.bench.test,100.64.0.7 \
		--host-record=ula.bench.test,fd12:3456::7 \
		--host-record=meta.bench.test,169.254.169.254 \
		--host-record=loop.bench.test,127.0.0.1 \
		--host-record=loop6.bench.test,::1 \
		--host-record=mapped.bench.test,::ffff:127.0.0.1 \
		--host-record=mappedmeta.bench.test,::ffff:169.254.169.254 \
		--host-record=nat64.bench.test,64:ff9b::7f00:1 \
		--host-record=self.bench.test,192.168.222.1 \
		--host-record=selfnet.bench.test,198.18.0.1 \
		--host-record=zero.bench.test,0.0.0.0 \
		--address=/wild.bench.test/198.18.0.10 \
		${SPX_DNS_ARGS[@]+"${SPX_DNS_ARGS[@]}"} \
		2>>"$DIR/dnsmasq.err"
	wait_for 10 in_net dig +time=1 +tries=1 +short @198.18.0.53 api.bench.test || {
		bench_log "dnsmasq did not come up"; cat "$DIR/dnsmasq.err" >&2; return 1; }
}

bench_upstreams() {
	rm -f "$DIR/up.ready" "$DIR/canary-net.ready" "$DIR/canary-host.ready"
	spawn "$NNS" "$PY" "$SPX_CI/upstream.py" \
		--addr 198.18.0.10 --addr 198.18.0.11 --addr 2001:2::10 \
		--addr 192.168.1.7 --addr 100.64.0.7 --addr fd12:3456::7 \
		--http-port 80 --http-port 8080 --https-port 443 --https-port 8443 \
		--cert "$DIR/pki/srv.crt" --key "$DIR/pki/srv.key" \
		--files "$DIR/files" --git-root "$DIR/git" --ready "$DIR/up.ready" \
		2>>"$DIR/upstream.log"
	UPSTREAM_PID=$SPAWNED_PID
	spawn "$NNS" "$PY" "$SPX_CI/upstream.py" --addr 169.254.169.254 \
		--http-port 80 --http-port 22 --https-port 443 \
		--cert "$DIR/pki/srv.crt" --key "$DIR/pki/srv.key" --ready "$DIR/canary-net.ready" \
		2>>"$DIR/canary.log"
	spawn "$HNS" "$PY" "$SPX_CI/upstream.py" \
		--addr 127.0.0.1 --addr ::1 --addr 198.18.0.1 --addr 2001:2::1 \
		--addr 192.168.222.1 --addr fd00:222::1 \
		--http-port 80 --http-port 8080 --http-port 22 --https-port 443 \
		--cert "$DIR/pki/srv.crt" --key "$DIR/pki/srv.key" --ready "$DIR/canary-host.ready" \
		2>>"$DIR/canary.log"
	wait_for 15 test -s "$DIR/up.ready" -a -s "$DIR/canary-net.ready" -a -s "$DIR/canary-host.ready" || {
		bench_log "upstreams did not come up"; tail -20 "$DIR/upstream.log" "$DIR/canary.log" >&2; return 1; }
}

# canary_hits: connections the canary listeners saw (must stay 0)
canary_hits() { grep -c ' CONN ' "$DIR/canary.log" 2>/dev/null || true; }
# dns_count NAME: queries for NAME that reached the bench DNS server
dns_count() { grep -c "query\[[A-Z]*\] $1 from" "$DIR/dns.log" 2>/dev/null || true; }
# upstream_saw REGEX: did an upstream log a request line matching REGEX?
upstream_saw() { grep -E " REQ .*$1" "$DIR/upstream.log" >/dev/null; }

bench_down() {
	local rc=$? p
	trap - EXIT
	if [ -n "$PROXY_PID" ]; then kill "$PROXY_PID" 2>/dev/null; fi
	for p in "${SPX_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in $(seq 20); do
		local alive=0 q
		for q in "${SPX_PIDS[@]}"; do kill -0 "$q" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for p in "${SPX_PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	for p in "${SPX_PIDS[@]}"; do wait "$p" 2>/dev/null; done
	bench_down_quiet
	if declare -F bench_on_exit >/dev/null; then bench_on_exit; fi
	if [ "${SPX_KEEP:-0}" = 1 ] || { [ "$rc" != 0 ] && [ "${SPX_KEEP_ON_FAIL:-0}" = 1 ]; }; then
		bench_log "kept work dir $DIR"
	else
		rm -rf "$DIR"
	fi
	exit "$rc"
}

# ---- the proxy ----

proxy_listening() { in_host ss -Hltn "sport = :$PROXY_PORT" | grep -q LISTEN; }

# start_proxy [ARGS...]: slicer-proxy up in the host namespace; waits for the
# control socket and the proxy port (bounded); returns non-zero if it died
start_proxy() {
	[ -x "$P" ] || { bench_log "no binary $P (make first)"; return 1; }
	echo "=== start $(date +%T) $*" >>"$DIR/proxy.log"
	spawn "$HNS" "$P" up --bind "$HOST_IP" --api "$S" --state-dir "$DIR/state" \
		--log "$AUDIT" "$@" >>"$DIR/proxy.log" 2>&1
	PROXY_PID=$SPAWNED_PID
	SPX_PROXY_STARTED=1
	local i
	for ((i = 0; i < 150; i++)); do
		if ! kill -0 "$PROXY_PID" 2>/dev/null; then
			bench_log "slicer-proxy exited; log tail:"; tail -5 "$DIR/proxy.log" >&2
			PROXY_PID=; return 1
		fi
		if [ -S "$S" ] && proxy_listening &&
			curl -q -sf -m 2 -o /dev/null --unix-socket "$S" http://localhost/healthz; then
			return 0
		fi
		sleep 0.1
	done
	bench_log "slicer-proxy did not come up in 15 s"
	return 1
}

# stop_proxy [SIGNAL]: signal the proxy (default TERM), wait up to 10 s for it
stop_proxy() {
	local sig=${1:-TERM} pid=$PROXY_PID i
	[ -n "$pid" ] || return 0
	kill "-$sig" "$pid" 2>/dev/null
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	wait "$pid" 2>/dev/null
	PROXY_EXIT=$?
	kill -0 "$pid" 2>/dev/null && { kill -9 "$pid"; return 1; }
	PROXY_PID=
	wait_for 5 bash -c "! ip netns exec $HNS ss -Hltn 'sport = :$PROXY_PORT' | grep -q LISTEN"
	return 0
}

# cli ARGS...: the CLI against this bench's control socket
cli() { "$P" "$@" --url "$S"; }

# new_client NAME: create a client, print its token
new_client() { cli client create "$1"; }

# api METHOD PATH [JSON]: control API; prints the body, then the status on its own line
api() {
	local m=$1 p=$2
	shift 2
	if [ $# -gt 0 ]; then
		curl -q -sS -m 10 --unix-socket "$S" -X "$m" -H 'Content-Type: application/json' \
			--data-binary "$1" -w '\n%{http_code}\n' "http://localhost$p"
	else
		curl -q -sS -m 10 --unix-socket "$S" -X "$m" -w '\n%{http_code}\n' "http://localhost$p"
	fi
}

# ---- clients in the vm ----

# pcurl TOKEN CURL-ARGS...: curl from the vm through the proxy (Basic auth in the proxy URL)
pcurl() {
	local t=$1; shift
	in_vm curl -q -sS -m 15 --cacert "$CA" -x "http://proxy:$t@$PROXY_ADDR" "$@"
}
# http_code TOKEN URL [ARGS]: status of a request through the proxy
http_code() {
	local t=$1 u=$2; shift 2
	pcurl "$t" -o /dev/null -w '%{http_code}' "$@" "$u" 2>/dev/null
	return 0
}
# connect_code TOKEN URL [ARGS]: status of the proxy's answer to curl's CONNECT
connect_code() {
	local t=$1 u=$2; shift 2
	pcurl "$t" -o /dev/null -w '%{http_connect}' "$@" "$u" 2>/dev/null
	return 0
}
# rawsend ARGS...: ci/rawsend.py from the vm (see that file)
rawsend() { in_vm "$PY" "$SPX_CI/rawsend.py" "$@"; }
# jpipe EXPR... -- CMD...: CMD prints an upstream echo (JSON); every python EXPR
# must hold, with j (the echo), H (headers, lower-case names), L (header list,
# lower-case names) and E (environment)
jpipe() {
	local ex=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do ex+=("$1"); shift; done
	shift
	"$@" | "$PY" -c '
import json, os, sys
raw = sys.stdin.read()
print(raw[:2000])
j = json.loads(raw)
H, E = j["headers"], os.environ
L = [(k.lower(), v) for k, v in j["header_list"]]
for e in sys.argv[1:]:
    assert eval(e), e' "${ex[@]}"
}
# vmpy ARGS...: python in the vm with ci/ on the path (script on stdin with "-")
vmpy() { in_vm env PYTHONPATH="$SPX_CI" "$PY" "$@"; }

# jget FIELD: read JSON on stdin, print a field (dotted path; lists by index)
jget() {
	"$PY" -c '
import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    v = v[int(k)] if isinstance(v, list) else v.get(k)
print(v if not isinstance(v, (dict, list)) else json.dumps(v))' "$1"
}

# helpers usable from "bash -c" inside checks
export P PY SPX_CI SPX_ROOT PROXY_ADDR
export -f in_host in_net in_vm in_guest cli api pcurl http_code connect_code rawsend vmpy jget

# ---- checks ----

# check NAME CMD...: run CMD (output to checks.log), count pass/fail
check() {
	local name=$1 rc out t0 dt
	shift
	t0=${EPOCHREALTIME/./}
	"$@" >"$DIR/check.out" 2>&1
	rc=$?
	dt=$(((${EPOCHREALTIME/./} - t0) / 100000))
	# slow checks show their time (tenths of a second)
	[ "$dt" -ge 30 ] && name="$name ($((dt / 10)).$((dt % 10)) s)"
	out=$(cat "$DIR/check.out")
	{ echo "=== $name (rc=$rc)"; printf '%s\n' "$out"; } >>"$DIR/checks.log"
	if [ $rc -eq 0 ]; then
		SPX_PASS=$((SPX_PASS + 1))
		echo "ok   $name"
	else
		SPX_FAIL=$((SPX_FAIL + 1))
		SPX_FAILED+=("$name")
		echo "FAIL $name"
		[ -n "$out" ] && printf '%s\n' "$out" | tail -8 | sed 's/^/       | /'
	fi
	return 0
}

# expect WANT CMD...: CMD's output (trimmed) must equal WANT, or match one of
# several alternatives given as "a|b"; prints what it got
expect() {
	local want=$1 got alt
	shift
	got=$("$@" 2>&1 | tr -d '\r' | sed -e 's/[[:space:]]*$//')
	[ -z "$want" ] && [ -z "$got" ] && return 0
	local IFS='|'
	for alt in $want; do
		[ "$got" = "$alt" ] && return 0
	done
	echo "want: $want"
	echo "got:  $(printf '%s' "$got" | head -c 600)"
	return 1
}

# expect_re REGEX CMD...: CMD's output must match the extended regex
expect_re() {
	local re=$1 got
	shift
	got=$("$@" 2>&1)
	printf '%s\n' "$got" | grep -Eq -- "$re" && return 0
	echo "want /$re/"
	echo "got:  $(printf '%s' "$got" | head -c 600)"
	return 1
}

# py_check: run python from stdin (for check "name" py_check ARGS <<'EOF')
py_check() { "$PY" - "$@"; }

# proxy_sanitized: is $P built with a sanitizer that reports at run time?
proxy_sanitized() { grep -aqE '__(tsan|asan)_init' "$P" 2>/dev/null; }

bench_finish() {
	if [ "$SPX_PROXY_STARTED" = 1 ]; then
		check "no connection ever reached a canary (loopback, own addresses, metadata)" \
			expect 0 canary_hits
		# a sanitized proxy is stopped here, so that what it reports while
		# shutting down (threads joined, caches freed) is in the log too
		if [ -n "$PROXY_PID" ] && proxy_sanitized; then
			check "the sanitized proxy stops on SIGTERM" stop_proxy TERM
		fi
		check "no sanitizer report in the proxy's output" \
			bash -c "! grep -E 'ERROR: (Address|Leak)Sanitizer|(WARNING|ERROR|FATAL): ThreadSanitizer|runtime error:|SUMMARY: .*Sanitizer' '$DIR/proxy.log'"
	fi
	if [ "$SPX_FAIL" -gt 0 ]; then
		echo "failed: ${SPX_FAILED[*]}"
		if [ -s "$DIR/proxy.log" ]; then
			echo "--- proxy log tail"
			tail -15 "$DIR/proxy.log" | cut -c1-300
		fi
	fi
	echo "$SPX_PASS passed, $SPX_FAIL failed"
	[ "$SPX_FAIL" -eq 0 ]
	exit $?
}
