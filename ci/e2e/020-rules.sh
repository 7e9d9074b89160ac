#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Allow rules: exact, wildcard and "*" hosts, ports, methods, paths (exact,
# trailing "*", one-segment "*"), several rules on one host (a union of rules,
# not of fields), CONNECT vs constrained rules, TTL, rule list, revoke by id /
# host / all, clients kept apart, client delete, bad CLI input refused.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T1=$(new_client c1) T2=$(new_client c2) T3=$(new_client c3) T4=$(new_client c4)
check "four clients, four different tokens" expect 4 bash -c "printf '%s\n' $T1 $T2 $T3 $T4 | grep '^spi_' | sort -u | wc -l"

# ---- hosts (client c1) ----
cli allow c1 --host api.bench.test >/dev/null
cli allow c1 --host '*.wild.bench.test' >/dev/null
check "exact host: allowed" expect 200 connect_code "$T1" https://api.bench.test/
check "exact host: another host denied" expect 403 connect_code "$T1" https://other.bench.test/
check "exact host: a subdomain is not the host" expect 403 connect_code "$T1" https://x.api.bench.test/
check "exact host: trailing dot is the same host" expect 200 http_code "$T1" http://api.bench.test./
check "wildcard: one label" expect 200 connect_code "$T1" https://a.wild.bench.test/
check "wildcard: two labels" expect 200 http_code "$T1" http://x.y.wild.bench.test/
check "wildcard: not the apex" expect 403 connect_code "$T1" https://wild.bench.test/
check "wildcard: not a name that merely ends the same" expect 403 connect_code "$T1" https://notwild.bench.test/
check "a host denied by policy is never looked up in DNS" bash -c "
	ip netns exec $VNS curl -q -s -m 5 -o /dev/null -x http://proxy:$T1@$PROXY_ADDR http://leak-a1b2c3.bench.test/ ;
	ip netns exec $VNS curl -q -s -m 5 -o /dev/null -x http://proxy:$T1@$PROXY_ADDR https://leak-d4e5f6.bench.test/ ;
	! grep -E 'leak-(a1b2c3|d4e5f6)' '$DIR/dns.log'"
cli allow c3 --host '*' >/dev/null
check "host '*': any name" expect "200 200 200" bash -c "echo \$(connect_code $T3 https://other.bench.test/) \$(http_code $T3 http://plain.bench.test/) \$(connect_code $T3 https://q.wild.bench.test/)"
check "host '*': still default ports only" expect 403 connect_code "$T3" https://other.bench.test:8443/

# ---- ports (client c2) ----
cli allow c2 --host plain.bench.test --port 8080 --port 8443 >/dev/null
check "listed port 8080 allowed" expect 200 http_code "$T2" http://plain.bench.test:8080/
check "listed port 8443 allowed (CONNECT)" expect 200 connect_code "$T2" https://plain.bench.test:8443/
check "unlisted default port 80 denied" expect 403 http_code "$T2" http://plain.bench.test/
check "unlisted default port 443 denied" expect 403 connect_code "$T2" https://plain.bench.test/
check "explicit :80 in the URL is port 80" expect 403 http_code "$T2" http://plain.bench.test:80/

# ---- methods and paths (client c4, plain http) ----
cli allow c4 --host plain.bench.test --port 80 --method GET --method HEAD --path '/ok/*' --path /exact >/dev/null
cli allow c4 --host plain.bench.test --port 80 --method POST --path /post-only >/dev/null
cli allow c4 --host plain.bench.test --port 80 --path '/repos/*/issues' >/dev/null
m() { http_code "$T4" "http://plain.bench.test$2" -X "$1" "${@:3}"; }
check "GET /ok/1" expect 200 m GET /ok/1
check "GET /ok/a/b (trailing * spans segments)" expect 200 m GET /ok/a/b
check "GET /ok/ (trailing * matches empty rest)" expect 200 m GET /ok/
check "GET /ok (no slash) denied" expect 403 m GET /ok
check "GET /okay/1 denied" expect 403 m GET /okay/1
check "GET /OK/1 denied (paths are case-sensitive)" expect 403 m GET /OK/1
check "HEAD /ok/1" expect 200 m HEAD /ok/1 -I
check "POST /ok/1 denied (method)" expect 403 m POST /ok/1 -d x
check "DELETE /ok/1 denied" expect 403 m DELETE /ok/1
check "GET /exact" expect 200 m GET /exact
check "GET /exact?q=1 (query is not part of the path)" expect 200 m GET '/exact?q=1'
check "GET /exact/x denied" expect 403 m GET /exact/x
check "GET /exactly denied" expect 403 m GET /exactly
check "POST /post-only (second rule)" expect 200 m POST /post-only -d x
check "GET /post-only denied (rules are not mixed field by field)" expect 403 m GET /post-only
check "POST /exact denied (rules are not mixed field by field)" expect 403 m POST /exact -d x
check "GET /repos/abc/issues (one-segment *)" expect 200 m GET /repos/abc/issues
check "DELETE /repos/abc/issues (rule without methods: any method)" expect 200 m DELETE /repos/abc/issues
check "GET /repos/a/b/issues denied (* stays in one segment)" expect 403 m GET /repos/a/b/issues
check "GET /repos//issues denied (* needs a character)" expect 403 m GET /repos//issues
check "GET /other denied" expect 403 m GET /other
check "denied upstream path never reached the upstream" bash -c "! grep -qE ' REQ .* (/okay/1|/other|/exactly) ' '$DIR/upstream.log'"
check "403 names the path" expect_re '/other' pcurl "$T4" http://plain.bench.test/other
cli allow c4 --host api.bench.test --method GET >/dev/null
check "a method-only rule allows plain GET on port 80" expect 200 http_code "$T4" http://api.bench.test/
check "a method-only rule: plain POST denied" expect 403 http_code "$T4" http://api.bench.test/ -d x
check "403 names the method" expect_re 'POST' pcurl "$T4" -X POST -d x http://api.bench.test/
# a CONNECT that only method/path rules match can be judged only by intercepting
# it: it is refused (403), or intercepted, but never an unjudged plain tunnel
not_plain_tls() {
	local code rc
	code=$(pcurl "$T4" -o /dev/null -w '%{http_connect}' https://api.bench.test/ 2>/dev/null)
	rc=$?
	echo "connect=$code curl_exit=$rc"
	[ "$code" = 403 ] && return 0
	# intercepted: the client no longer sees the upstream's own certificate
	[ "$code" = 200 ] && { [ $rc = 60 ] || [ $rc = 35 ]; }
}
not_plain_80() {
	local out
	out=$(pcurl "$T4" --proxytunnel -o /dev/null -w '%{http_connect} %{http_code}' http://plain.bench.test/nope 2>/dev/null)
	echo "$out"
	# refused, judged inside, or cut off: never relayed untouched to the upstream
	grep -q ' REQ .* GET /nope ' "$DIR/upstream.log" && return 1
	case $out in "403 "*|"200 403"|"200 000") return 0 ;; esac
	return 1
}
check "CONNECT when only a method/path rule matches: 403 or intercepted, never a plain tunnel" not_plain_tls
check "CONNECT to port 80 when only a path rule matches: 403 or judged inside" not_plain_80

# ---- rule list ----
check "rule list --json is JSON with every rule of the client" py_check "$P" "$S" <<'EOF'
import json, subprocess, sys
p, s = sys.argv[1:3]
out = subprocess.run([p, "rule", "list", "c4", "--json", "--url", s], capture_output=True, check=True).stdout
j = json.loads(out)
rules = j if isinstance(j, list) else j.get("rules")
assert isinstance(rules, list) and len(rules) == 4, j
hosts = sorted(r["host"] for r in rules)
assert hosts == ["api.bench.test", "plain.bench.test", "plain.bench.test", "plain.bench.test"], hosts
r = [r for r in rules if r.get("paths") == ["/post-only"]][0]
assert r["methods"] == ["POST"] and r["ports"] == [80], r
assert all(r.get("id") for r in rules)
EOF
check "rule list of an unknown client fails" bash -c "! $P rule list nosuch --url $S >/dev/null 2>&1"

# ---- TTL ----
TID=$(cli allow c1 --host other.bench.test --ttl 2s)
check "ttl rule allows at first" expect 200 connect_code "$T1" https://other.bench.test/
check "ttl rule is listed with an expiry" py_check "$P" "$S" "$TID" <<'EOF'
import json, subprocess, sys
p, s, rid = sys.argv[1:4]
j = json.loads(subprocess.run([p, "rule", "list", "c1", "--json", "--url", s], capture_output=True, check=True).stdout)
rules = j if isinstance(j, list) else j.get("rules")
r = [r for r in rules if r["id"] == rid][0]
assert any(k in r and r[k] for k in ("expires", "expires_at", "expires_ms", "expiry", "ttl_seconds", "expires_in")), r
EOF
sleep 2.6
check "ttl rule expired after its time" expect 403 connect_code "$T1" https://other.bench.test/
check "expired rule no longer allows plain http either" expect 403 http_code "$T1" http://other.bench.test/
check "--ttl 1m is accepted" bash -c "$P allow c1 --host ttl.bench.test --ttl 1m --url $S >/dev/null"
for bad in banana -5s 5x ""; do
	check "--ttl '$bad' is refused" bash -c "! $P allow c1 --host x.bench.test --ttl '$bad' --url $S >/dev/null 2>&1"
done

# ---- revoke ----
check "revoke by id" bash -c "$P revoke c3 \$($P rule list c3 --json --url $S | $PY -c 'import json,sys; j=json.load(sys.stdin); j=j if isinstance(j,list) else j[\"rules\"]; print(j[0][\"id\"])') --url $S"
check "revoked rule denies at once" expect 403 connect_code "$T3" https://other.bench.test/
check "revoke an unknown rule id fails" bash -c "! $P revoke c1 r000000000000 --url $S >/dev/null 2>&1"
cli allow c1 --host plain.bench.test --port 80 >/dev/null
cli allow c1 --host plain.bench.test --port 8080 >/dev/null
check "two rules for one host allow" expect "200 200" bash -c "echo \$(http_code $T1 http://plain.bench.test/) \$(http_code $T1 http://plain.bench.test:8080/)"
check "revoke --host removes every rule for the host" cli revoke c1 --host plain.bench.test
check "after revoke --host: both ports denied" expect "403 403" bash -c "echo \$(http_code $T1 http://plain.bench.test/) \$(http_code $T1 http://plain.bench.test:8080/)"
check "revoke --host left the other hosts alone" expect 200 connect_code "$T1" https://api.bench.test/
check "revoke --all" cli revoke c1 --all
check "after revoke --all: everything denied" expect "403 403" bash -c "echo \$(connect_code $T1 https://api.bench.test/) \$(connect_code $T1 https://a.wild.bench.test/)"
check "after revoke --all: rule list is empty" expect_re '^\[\]$|"rules": ?\[\]' bash -c "$P rule list c1 --json --url $S | tr -d ' \n'"

# ---- clients are kept apart ----
check "c2's rules do not apply to c1" expect 403 http_code "$T1" http://plain.bench.test:8080/
check "c1's token is not c2's" expect 200 http_code "$T2" http://plain.bench.test:8080/
check "client delete" cli client delete c2
check "a deleted client's token gives 407" expect 407 http_code "$T2" http://plain.bench.test:8080/
check "other clients still work after a delete" expect 200 http_code "$T4" http://plain.bench.test/ok/1
T2B=$(cli client create c2)
check "re-created client gets a new token" bash -c "[ -n '$T2B' ] && [ '$T2B' != '$T2' ]"
check "the old token stays invalid" expect 407 http_code "$T2" http://plain.bench.test:8080/
check "a re-created client starts with no rules" expect 403 http_code "$T2B" http://plain.bench.test:8080/

# ---- bad CLI input ----
refused() { ! "$P" "$@" --url "$S" >/dev/null 2>"$DIR/err.txt" && [ -s "$DIR/err.txt" ]; }
check "duplicate client name refused" refused client create c1
check "client name with a slash refused" refused client create 'a/b'
check "client name with a space refused" refused client create 'a b'
check "over-long client name refused" refused client create "$(printf 'a%.0s' $(seq 80))"
check "allow for an unknown client refused" refused allow nosuch --host api.bench.test
check "allow without --host refused" refused allow c1
check "allow with a bad host refused (*.*.x)" refused allow c1 --host '*.*.bench.test'
check "allow with a bad host refused (space)" refused allow c1 --host 'a b.test'
check "allow with port 0 refused" refused allow c1 --host api.bench.test --port 0
check "allow with port 70000 refused" refused allow c1 --host api.bench.test --port 70000
check "allow with a path not starting with / refused" refused allow c1 --host api.bench.test --path 'ok/*'
check "allow with a bad method refused" refused allow c1 --host api.bench.test --method 'GE T'
check "allow with an unknown secret refused" refused allow c1 --host api.bench.test --secret nosuch
check "delete of an unknown client refused" refused client delete nosuch
check "unknown command refused" refused frobnicate
check "nothing was added by refused commands" expect_re '^\[\]$|"rules": ?\[\]' bash -c "$P rule list c1 --json --url $S | tr -d ' \n'"
bench_finish
