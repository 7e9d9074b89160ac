#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The resolver's cache of answers, seen from the DNS server: sequential
# CONNECTs to a name with TTL 60 cost one A and one AAAA query; 20 CONNECTs
# sent together cost one pair (joined or answered from the cache); a TTL 0
# name is asked on every CONNECT; /metrics counts hits, joins and lookups;
# a cached name does not bypass policy (a revoked rule denies, a cached
# denied address is still refused); with two workers, at most one lookup
# per loop.  A name whose AAAA queries a resolver drops (ci/dnsflip.py
# --drop 28 behind dnsmasq) is answered with its A address after the
# resolution delay (RFC 8305 section 3): CONNECTs to it succeed well under
# c-ares' first retry (2 s), and a burst of them joins the one lookup.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
# names only this script uses, with a TTL (dnsmasq's own records are TTL 0)
# shellcheck disable=SC2034,SC2054 # read by bench_dns; the commas are dnsmasq's
SPX_DNS_ARGS=(
	--host-record=cttl.bench.test,198.18.0.10,60
	--host-record=cseq.bench.test,198.18.0.10,60
	--host-record=cburst.bench.test,198.18.0.10,60
	--host-record=czero.bench.test,198.18.0.10
	--host-record=cmeta.bench.test,169.254.169.254,60
	--host-record=cwork.bench.test,198.18.0.10,60
	--server=/noaaaa.bench.test/198.18.0.54#5354
)
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
# noaaaa.bench.test and the names under it: A 198.18.0.10 (TTL 60), AAAA
# never answered
spawn "$NNS" "$PY" "$SPX_CI/dnsflip.py" --port 5354 --ttl 60 --drop 28 \
	198.18.0.54 198.18.0.10 2>>"$DIR/noaaaa.log"

# dns_n TYPE NAME: queries of that type for NAME that reached dnsmasq
dns_n() { grep -c "query\[$1\] $2 from" "$DIR/dns.log" 2>/dev/null || true; }
# dns_pair NAME: "A AAAA" query counts
dns_pair() { echo "$(dns_n A "$1") $(dns_n AAAA "$1")"; }
# snap: the three resolver counters, "hits joined lookups"
snap() {
	api GET /metrics | awk '
		/^slicer_resolve_cache_hits_total / { h = $2 }
		/^slicer_resolve_joined_total / { j = $2 }
		/^slicer_resolve_lookups_total / { l = $2 }
		END { print h + 0, j + 0, l + 0 }'
}
# delta BEFORE: "hits joined lookups" since the snapshot BEFORE
delta() {
	local h0 j0 l0 h1 j1 l1
	read -r h0 j0 l0 <<<"$1"
	read -r h1 j1 l1 <<<"$(snap)"
	echo "$((h1 - h0)) $((j1 - j0)) $((l1 - l0))"
}
# codes N URL: the CONNECT status of N curl runs, one after the other
codes() {
	local i out=""
	for ((i = 0; i < $1; i++)); do out="$out $(connect_code "$T" "$2")"; done
	echo "${out# }"
}
repeat() { local i out=""; for ((i = 0; i < $1; i++)); do out="$out $2"; done; echo "${out# }"; }

check "dnsmasq answers this script's names with their TTL" expect_re \
	'^cttl\.bench\.test\.[[:space:]]+60[[:space:]]+IN[[:space:]]+A[[:space:]]+198\.18\.0\.10$' \
	in_net dig +time=1 +tries=1 +noall +answer @198.18.0.53 cttl.bench.test A
check "the AAAA-dropping resolver answers A through dnsmasq" wait_for 10 \
	bash -c "[ \"\$(ip netns exec '$NNS' dig +time=1 +tries=1 +short @198.18.0.53 probe.noaaaa.bench.test A)\" = 198.18.0.10 ]"
check "... and never AAAA" bash -c \
	"! ip netns exec '$NNS' dig +time=1 +tries=1 @198.18.0.53 probe.noaaaa.bench.test AAAA >/dev/null"

check "daemon starts with --workers 1" start_proxy --workers 1
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client cache1)
RID=$(cli allow cache1 --host cseq.bench.test --port 443 2>>"$DIR/cli.err")
for n in cburst czero cmeta cwork noaaaa burst.noaaaa; do
	cli allow cache1 --host "$n.bench.test" --port 443 >/dev/null 2>>"$DIR/cli.err"
done
check "/metrics has the resolver counters" expect_re '^[0-9]+ [0-9]+ [0-9]+$' snap

# ---- sequential CONNECTs to a name with TTL 60 ----
S0=$(snap)
check "10 sequential CONNECTs to a TTL 60 name: all 200" \
	expect "$(repeat 10 200)" codes 10 https://cseq.bench.test/
check "... dnsmasq saw one A and one AAAA query for it" expect "1 1" dns_pair cseq.bench.test
check "... /metrics: 9 cache hits, no join, 1 lookup" expect "9 0 1" delta "$S0"

# ---- 20 CONNECTs sent together to another name ----
burst() {
	vmpy - "$T" <<'EOF'
import sys, spxclient
tok = sys.argv[1]
conns = [spxclient.Conn() for _ in range(20)]
req = ("CONNECT cburst.bench.test:443 HTTP/1.1\r\nHost: cburst.bench.test:443\r\n"
       "Proxy-Authorization: %s\r\n\r\n" % spxclient.basic(tok)).encode()
# connected first, then the 20 requests back to back
for c in conns:
    c.send(req)
codes = [c.read_head()[0] for c in conns]
for c in conns:
    c.close()
print(" ".join(map(str, codes)))
EOF
}
S0=$(snap)
check "20 CONNECTs sent together: all 200" expect "$(repeat 20 200)" burst
check "... dnsmasq saw one A and one AAAA query for that name" expect "1 1" dns_pair cburst.bench.test
joined_ok() { # one lookup; the 19 others joined it or hit the cache
	local h j l
	read -r h j l <<<"$(delta "$1")"
	echo "hits $h joined $j lookups $l"
	[ "$l" -eq 1 ] && [ $((h + j)) -eq 19 ]
}
check "... /metrics: 1 lookup, 19 joined or cache hits" joined_ok "$S0"

# ---- a name whose AAAA queries are dropped ----
# timed_connect URL: "CODE MS", the CONNECT status and how long curl took
timed_connect() {
	local t0 code
	t0=${EPOCHREALTIME/./}
	code=$(connect_code "$T" "$1")
	echo "$code $(((${EPOCHREALTIME/./} - t0) / 1000))"
}
fast_ok() { # 200 in under a second (c-ares' first retry is at 2 s)
	local code ms
	read -r code ms <<<"$(timed_connect "$1")"
	echo "code $code in $ms ms"
	[ "$code" = 200 ] && [ "$ms" -lt 1000 ]
}
S0=$(snap)
check "CONNECT to a name whose AAAA is dropped: 200 in under 1 s" fast_ok https://noaaaa.bench.test/
check "... its AAAA query went to the resolver that drops it" \
	grep -q 'type28 noaaaa.bench.test -> dropped' "$DIR/noaaaa.log"
check "... again: 200 in under 1 s" fast_ok https://noaaaa.bench.test/
check "... the A answer was kept: one A query" expect 1 dns_n A noaaaa.bench.test
check "... /metrics: 1 hit, no join, 1 lookup" expect "1 0 1" delta "$S0"
burst_noaaaa() { # 20 CONNECTs together: their status codes
	vmpy - "$T" <<'EOF'
import sys, spxclient
tok = sys.argv[1]
conns = [spxclient.Conn() for _ in range(20)]
req = ("CONNECT burst.noaaaa.bench.test:443 HTTP/1.1\r\n"
       "Host: burst.noaaaa.bench.test:443\r\n"
       "Proxy-Authorization: %s\r\n\r\n" % spxclient.basic(tok)).encode()
for c in conns:
    c.send(req)
codes = [c.read_head()[0] for c in conns]
for c in conns:
    c.close()
print(" ".join(map(str, codes)))
EOF
}
joined_noaaaa() { # the lookup stays in flight for the delay: joined
	local h j l
	read -r h j l <<<"$(delta "$1")"
	echo "hits $h joined $j lookups $l"
	[ "$l" -eq 1 ] && [ "$j" -ge 1 ] && [ $((h + j)) -eq 19 ]
}
S0=$(snap)
check "20 CONNECTs together to another name whose AAAA is dropped: all 200" \
	expect "$(repeat 20 200)" burst_noaaaa
check "... one A query for it" expect 1 dns_n A burst.noaaaa.bench.test
check "... /metrics: 1 lookup, joined by some, the rest cache hits" joined_noaaaa "$S0"

# ---- a TTL 0 name is asked every time ----
S0=$(snap)
check "3 CONNECTs to a TTL 0 name: all 200" expect "200 200 200" codes 3 https://czero.bench.test/
check "... dnsmasq was asked each time" expect "3 3" dns_pair czero.bench.test
check "... /metrics: 3 lookups, no hit" expect "0 0 3" delta "$S0"

# ---- the cache does not bypass policy ----
S0=$(snap)
check "a name resolving to 169.254.169.254 (TTL 60): CONNECT 403" expect 403 \
	connect_code "$T" https://cmeta.bench.test/
check "... again, answered from the cache: still 403" expect 403 connect_code "$T" https://cmeta.bench.test/
check "... the second answer came from the cache" expect "1 1" dns_pair cmeta.bench.test
check "... /metrics: 1 hit, 1 lookup" expect "1 0 1" delta "$S0"
check "revoke the rule of the cached name" cli revoke cache1 "$RID"
check "... CONNECT to the cached name now 403" expect 403 connect_code "$T" https://cseq.bench.test/
check "... other rules still allow (cached name, 200)" expect 200 connect_code "$T" https://cburst.bench.test/

# ---- two workers: at most one lookup per loop ----
check "stop" stop_proxy
check "restart with --workers 2" start_proxy --workers 2
[ -n "$PROXY_PID" ] || bench_finish
S0=$(snap)
check "12 sequential CONNECTs to a fresh TTL 60 name: all 200" \
	expect "$(repeat 12 200)" codes 12 https://cwork.bench.test/
check "... dnsmasq asked at most twice per type (one per loop)" bash -c \
	"a=\$(grep -c 'query\[A\] cwork.bench.test from' '$DIR/dns.log'); q=\$(grep -c 'query\[AAAA\] cwork.bench.test from' '$DIR/dns.log')
	echo \"A \$a AAAA \$q\"; [ \$a -ge 1 ] && [ \$a -le 2 ] && [ \$q -ge 1 ] && [ \$q -le 2 ]"
loops_ok() { # /metrics sums the loops: every CONNECT counted once
	local h j l
	read -r h j l <<<"$(delta "$1")"
	echo "hits $h joined $j lookups $l"
	[ $((h + j + l)) -eq 12 ] && [ "$l" -ge 1 ] && [ "$l" -le 2 ]
}
check "... /metrics (summed over both loops): 12 resolves, at most 2 lookups" loops_ok "$S0"

# ---- resolv.conf's search list is not applied to a judged name ----
# nosearch.test does not exist; nosearch.test.wild.bench.test does
stop_proxy
printf 'nameserver 198.18.0.53\nsearch wild.bench.test\noptions timeout:1 attempts:1 ndots:5\n' \
	>"/etc/netns/$HNS/resolv.conf"
check "daemon restarted with a search list in resolv.conf" start_proxy
T=$(new_client vmsearch)
cli allow vmsearch --host nosearch.test --port 80 >/dev/null
check "a name that does not exist: 502, not NAME.<search domain>'s address" \
	expect 502 http_code "$T" http://nosearch.test/searched
check "... the search domain was never asked" bash -c \
	"! grep -q 'nosearch.test.wild.bench.test' '$DIR/dns.log'"
check "... and nothing reached an upstream" bash -c "! grep -q '/searched' '$DIR/upstream.log'"
bench_finish
