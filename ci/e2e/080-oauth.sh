#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# OAuth secrets: the proxy injects the access token, refreshes it itself on
# a 401 (once, replaying the request and its small body) and before it
# expires, stores the new tokens, and never lets a client see a real token,
# not even from the token endpoint.  Real upstream: ci/oauth_server.py over
# TLS in the net namespace.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
OLOG=$DIR/oauth.log
: >"$OLOG"
spawn "$NNS" "$PY" "$SPX_CI/oauth_server.py" 198.18.0.11 9443 "$DIR/pki/srv.crt" \
	"$DIR/pki/srv.key" "$OLOG"
wait_for 10 in_net bash -c 'exec 3<>/dev/tcp/198.18.0.11/9443'
check "daemon starts" start_proxy --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
cli ca >"$DIR/proxy-ca.crt"
TOKEN=$(new_client vm1)
URL=https://other.bench.test:9443
ocurl() { in_vm curl -q -sS -m 15 --cacert "$DIR/proxy-ca.crt" -x "http://proxy:$TOKEN@$PROXY_ADDR" "$@"; }
# what the API saw last
last_auth() { grep '"/api/' "$OLOG" | tail -1 | jget authorization; }
refreshes() { grep -c 'grant_type=refresh_token' "$OLOG"; }

printf '{\n  "access_token": "at-1",\n  "refresh_token": "rt-1",\n  "token_url": "%s/oauth/token",\n  "client_id": "cid"\n}\n' "$URL" >"$DIR/gh.json"
check "secret create --type oauth from a pretty-printed JSON file" \
	cli secret create gh --host other.bench.test --type oauth --from-file "$DIR/gh.json"
check "secret list shows the type, no token" bash -c \
	"cli secret list --json | grep -q '\"oauth\"' && ! cli secret list --json | grep -q 'at-1\|rt-1'"
printf '{"access_token": "x", "token_url": "http://insecure/", "client_id": "c"}' >"$DIR/bad.json"
check "an oauth secret without refresh_token or with an http:// token_url is refused" \
	bash -c "! cli secret create bad --host other.bench.test --type oauth --from-file $DIR/bad.json"
check "allow the API paths with the secret" \
	cli allow vm1 --host other.bench.test --port 9443 --secret gh --path '/api/*'

check "first request: the access token is injected" expect 200 \
	bash -c "$(declare -f ocurl); TOKEN=$TOKEN DIR=$DIR PROXY_ADDR=$PROXY_ADDR ocurl -o /dev/null -w '%{http_code}' $URL/api/me"
check "the API saw Bearer at-1" expect "Bearer at-1" last_auth
check "no refresh yet" expect 0 refreshes

in_net curl -q -sk -m 5 -X POST https://198.18.0.11:9443/admin/expire >/dev/null
OUT=$(ocurl -w '\n%{http_code}' $URL/api/after-expiry 2>&1)
check "after the upstream expires the token: 200 (refreshed and replayed)" \
	expect_re '200$' echo "$OUT"
check "the proxy refreshed once, with the stored refresh token" expect 1 refreshes
check "the refresh sent rt-1 and client_id" bash -c "grep grant_type=refresh_token '$OLOG' | grep -q 'refresh_token=rt-1&client_id=cid'"
check "the replayed request carried the new token" expect "Bearer at-2" last_auth
check "the client never saw a token" bash -c "! printf '%s' '$OUT' | grep -qE 'at-[0-9]|rt-[0-9]'"

in_net curl -q -sk -m 5 -X POST https://198.18.0.11:9443/admin/expire >/dev/null
check "a POST with a small body is replayed with its body" expect_re '"body_len": 11' \
	ocurl -X POST --data-binary 'hello world' $URL/api/post
check "second refresh used the rotated refresh token rt-2" bash -c \
	"grep grant_type=refresh_token '$OLOG' | tail -1 | grep -q 'refresh_token=rt-2'"
check "new tokens were stored in the state directory (file 0600)" bash -c \
	"grep -q 'at-3' '$DIR/state/secrets/gh' && [ \$(stat -c %a '$DIR/state/secrets/gh') = 600 ]"

# restart: the refreshed tokens survive
stop_proxy TERM
check "restart" start_proxy --upstream-ca "$CA"
check "after restart the stored token (at-3) is used" expect 200 \
	bash -c "$(declare -f ocurl); TOKEN=$TOKEN DIR=$DIR PROXY_ADDR=$PROXY_ADDR ocurl -o /dev/null -w '%{http_code}' $URL/api/me"
check "the API saw at-3" expect "Bearer at-3" last_auth

# the client calls the token endpoint itself: placeholders only
cli allow vm1 --host other.bench.test --port 9443 --inspect --path /oauth/token >/dev/null
OUT=$(ocurl -X POST -d grant_type=client_credentials $URL/oauth/token)
check "the token endpoint answer reaches the client" expect_re '"access_token": ?"slicer-proxy-placeholder"' echo "$OUT"
check "its refresh_token is a placeholder too" expect_re '"refresh_token": ?"slicer-proxy-placeholder"' echo "$OUT"
check "no real token in it" bash -c "! printf '%s' '$OUT' | grep -qE 'at-[0-9]|rt-[0-9]'"
check "the tokens the client fetched are now the proxy's (at-4 used next)" bash -c \
	"$(declare -f ocurl last_auth jget); TOKEN=$TOKEN DIR=$DIR PROXY_ADDR=$PROXY_ADDR OLOG=$OLOG PY=$PY; ocurl -o /dev/null $URL/api/me; last_auth | grep -qx 'Bearer at-4'"

# the secret's file cannot be written (its temporary name is taken): the
# new tokens are the proxy's at once all the same, the proxy says so, and
# the file follows once it can be written
mkdir "$DIR/state/secrets/.gh.tmp"
OUT=$(ocurl -X POST -d grant_type=client_credentials $URL/oauth/token)
check "a token answer while the secret's file is unwritable: placeholders" \
	expect_re '"access_token": ?"slicer-proxy-placeholder"' echo "$OUT"
check "the new token (at-5) is used at once" bash -c \
	"$(declare -f ocurl last_auth jget); TOKEN=$TOKEN DIR=$DIR PROXY_ADDR=$PROXY_ADDR OLOG=$OLOG PY=$PY; ocurl -o /dev/null $URL/api/me; last_auth | grep -qx 'Bearer at-5'"
check "the file still holds the old tokens" bash -c \
	"grep -q at-4 '$DIR/state/secrets/gh' && ! grep -q at-5 '$DIR/state/secrets/gh'"
check "the proxy says it cannot write the value, naming no token" bash -c \
	"grep -q \"cannot write a secret's new value.*\\.gh\\.tmp\" '$DIR/proxy.log' && ! grep -qE 'at-[0-9]|rt-[0-9]' '$DIR/proxy.log'"
check "  naming the file in the state directory as given (not the descriptor path it uses)" bash -c \
	"grep \"cannot write a secret's new value\" '$DIR/proxy.log' | tail -1; grep -qF '$DIR/state/secrets/.gh.tmp' '$DIR/proxy.log' && ! grep -q /proc/self/fd '$DIR/proxy.log'"
# the value that cannot be written holds up nothing else
check "meanwhile a new rule is saved: the API answers 201 and state.json holds it" bash -c \
	"out=\$(curl -q -sS -m 10 --unix-socket '$S' -w '\n%{http_code}' -X POST -d '{\"host\":\"held.bench.test\"}' http://x/v1/proxy/clients/vm1/rules); printf '%s\n' \"\$out\"; [ \"\$(printf '%s\n' \"\$out\" | tail -1)\" = 201 ] && grep -q held.bench.test '$DIR/state/state.json'"
check "  and a new secret too, its file written" bash -c \
	"printf 'sk-other-5' | '$P' secret create other --host other2.bench.test --value-stdin --url '$S' && grep -q '\"other\"' '$DIR/state/state.json' && [ -s '$DIR/state/secrets/other' ]"
check "  while the value that cannot be written is still reported (healthz saved false until it is)" bash -c \
	"curl -q -sS -m 10 --unix-socket '$S' http://x/healthz | tee /dev/stderr | grep -q '\"saved\": *false'"
rmdir "$DIR/state/secrets/.gh.tmp"
check "once it can, the file gets the new tokens (within seconds)" \
	wait_for 5 grep -q '"at-5"' "$DIR/state/secrets/gh"
check "and the proxy says the values are written" wait_for 5 grep -q "secret values written" "$DIR/proxy.log"
check "  and /healthz says saved again" bash -c \
	"curl -q -sS -m 10 --unix-socket '$S' http://x/healthz | tee /dev/stderr | grep -q '\"saved\": *true'"

# the token endpoint called by a client whose rules do not use the secret:
# placeholders for it, and the secret's tokens stay the secret's
cli allow vm1 --host other.bench.test --port 9443 --inspect --path '/oauth/*' >/dev/null
TOKEN2=$(new_client vm2)
cli allow vm2 --host other.bench.test --port 9443 --inspect --path /oauth/token >/dev/null
ocurl -o /dev/null $URL/api/before-other
BEFORE=$(last_auth)
OUT=$(TOKEN=$TOKEN2 ocurl -X POST -d 'grant_type=client_credentials&client_id=other' $URL/oauth/token)
check "another client's call to the token endpoint: placeholders for it" \
	expect_re '"access_token": ?"slicer-proxy-placeholder"' echo "$OUT"
check "  no real token in it" bash -c "! printf '%s' '$OUT' | grep -qE 'oat-|ort-'"
check "  the secret's token is not replaced by the other client's ($BEFORE used next)" bash -c \
	"$(declare -f ocurl last_auth jget); TOKEN=$TOKEN DIR=$DIR PROXY_ADDR=$PROXY_ADDR OLOG=$OLOG PY=$PY
	test \"\$(ocurl -w '%{http_code}' -o /dev/null $URL/api/after-other)\" = 200 && last_auth | grep -qxF '$BEFORE'"
check "  nor in the state directory" bash -c "! grep -qE 'oat-|ort-' '$DIR/state/secrets/gh'"
check "  and the audit log has no oauth record for vm2, one for vm1's own calls" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
o = [r for r in rows if r["event"] == "oauth" and r.get("client")]
print(o)
assert o and all(r["client"] == "vm1" and r["secret"] == "gh" and r["decision"] == "allow" for r in o), o
EOF

# the endpoint as servers route it: a trailing '/', ';' parameters
for v in /oauth/token/ '/oauth/token;x'; do
	OUT=$(ocurl -X POST -d grant_type=client_credentials "$URL$v")
	check "the token endpoint called as $v: placeholders" \
		expect_re '"access_token": ?"slicer-proxy-placeholder"' echo "$OUT"
	check "  no real token in it" bash -c "! printf '%s' '$OUT' | grep -qE 'at-[0-9]|rt-[0-9]'"
done
OUT=$(ocurl -X POST -d grant_type=client_credentials "$URL/oauth/token?chunked=1")
check "a chunked token endpoint answer: placeholders" \
	expect_re '"access_token": ?"slicer-proxy-placeholder"' echo "$OUT"
check "  no real token in it" bash -c "! printf '%s' '$OUT' | grep -qE 'at-[0-9]|rt-[0-9]'"
check "  and the last tokens fetched are the secret's (the next request gets 200)" expect 200 \
	bash -c "$(declare -f ocurl); TOKEN=$TOKEN DIR=$DIR PROXY_ADDR=$PROXY_ADDR ocurl -o /dev/null -w '%{http_code}' $URL/api/after-variants"

# an upstream that answers 401 whatever the token: one forced refresh (the
# replay with fresh tokens gets 401 too), then the 401 goes to the client
# without another for a while
R0=$(refreshes)
for i in 1 2 3; do ocurl -o /dev/null -w '%{http_code}\n' $URL/api/deny; done >"$DIR/deny.out" 2>&1
check "401 whatever the token: the client gets the 401 each time" bash -c \
	"cat '$DIR/deny.out'; [ \"\$(grep -c '^401$' '$DIR/deny.out')\" = 3 ]"
check "  after one forced refresh, not one per 401" expect $((R0 + 1)) refreshes

# a token near expiry is refreshed before use
NOW=$(date +%s)
# the tokens the upstream holds now are the ones the proxy stored last
read -r AT RT < <("$PY" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(j["access_token"], j["refresh_token"])' \
	"$DIR/state/secrets/gh")
printf '{"access_token":"%s","refresh_token":"%s","token_url":"%s/oauth/token","client_id":"cid","expires_at":%d}' \
	"$AT" "$RT" "$URL" $((NOW + 20)) >"$DIR/near.json"
cli revoke vm1 --all >/dev/null
check "the secret can be deleted once no rule uses it" cli secret delete gh
cli secret create gh --host other.bench.test --type oauth --from-file "$DIR/near.json" >/dev/null
cli allow vm1 --host other.bench.test --port 9443 --secret gh --path '/api/*' >/dev/null
R0=$(refreshes)
check "a token expiring within a minute is refreshed before the request" expect 200 \
	bash -c "$(declare -f ocurl); TOKEN=$TOKEN DIR=$DIR PROXY_ADDR=$PROXY_ADDR ocurl -o /dev/null -w '%{http_code}' $URL/api/soon"
check "exactly one refresh happened for it" expect $((R0 + 1)) refreshes
check "and the request carried the fresh token" expect "Bearer at-$((${AT#at-} + 1))" last_auth

# remake_gh NAME [ALLOW-OPTIONS...]: delete the secret gh and make it again
# with tokens at-NAME / rt-NAME, vm1's rule for it, and with options one
# more rule of vm1's on the same host and port
remake_gh() {
	local name=$1
	shift
	cli revoke vm1 --all >/dev/null
	cli secret delete gh >/dev/null
	printf '{"access_token":"at-%s","refresh_token":"rt-%s","token_url":"%s/oauth/token","client_id":"cid"}' \
		"$name" "$name" "$URL" >"$DIR/$name.json"
	cli secret create gh --host other.bench.test --type oauth --from-file "$DIR/$name.json" >/dev/null
	cli allow vm1 --host other.bench.test --port 9443 --secret gh --path '/api/*' >/dev/null
	[ $# -eq 0 ] || cli allow vm1 --host other.bench.test --port 9443 "$@" >/dev/null
}

# the secret deleted and made again while its refresh is on its way: the
# refresh's tokens are not the new secret's, and its requests get 502
in_net curl -q -sk -m 5 -X POST 'https://198.18.0.11:9443/admin/slow=3' >/dev/null
in_net curl -q -sk -m 5 -X POST https://198.18.0.11:9443/admin/expire >/dev/null
R0=$(refreshes)
ocurl -w '\n%{http_code}\n' $URL/api/inflight >"$DIR/inflight.out" 2>&1 &
INFLIGHT=$!
SPX_PIDS+=("$INFLIGHT")
wait_for 5 bash -c "[ \$(grep -c grant_type=refresh_token '$OLOG') -gt $R0 ]"
remake_gh new
wait "$INFLIGHT"
check "a refresh that ends after its secret was made again: its request gets 502" bash -c \
	"cat '$DIR/inflight.out'; tail -1 '$DIR/inflight.out' | grep -qx 502 && grep -q 'the secret was deleted' '$DIR/inflight.out'"
check "  and the new secret keeps its own tokens" bash -c \
	"grep -q at-new '$DIR/state/secrets/gh' && grep -q rt-new '$DIR/state/secrets/gh'"
# the same for the client's own call to the token endpoint
R0=$(grep -c 'slow=1' "$OLOG")
cli allow vm1 --host other.bench.test --port 9443 --inspect --path '/oauth/*' >/dev/null
ocurl -X POST -d grant_type=client_credentials "$URL/oauth/token?slow=1" >"$DIR/slowcall.out" 2>&1 &
INFLIGHT=$!
SPX_PIDS+=("$INFLIGHT")
wait_for 5 bash -c "[ \$(grep -c 'slow=1' '$OLOG') -gt $R0 ]"
remake_gh new2 --inspect --path '/oauth/*'
wait "$INFLIGHT"
check "a client's token call answered after its secret was made again: placeholders" \
	expect_re '"access_token": ?"slicer-proxy-placeholder"' cat "$DIR/slowcall.out"
check "  and the new secret keeps its own tokens" bash -c \
	"grep -q at-new2 '$DIR/state/secrets/gh' && grep -q rt-new2 '$DIR/state/secrets/gh'"
in_net curl -q -sk -m 5 -X POST 'https://198.18.0.11:9443/admin/slow=0' >/dev/null

# refresh refused by the token endpoint: 502 naming the reason, no loop
in_net curl -q -sk -m 5 -X POST https://198.18.0.11:9443/admin/refuse >/dev/null
R0=$(refreshes)
OUT=$(ocurl -w '\n%{http_code}' $URL/api/refused 2>&1)
check "a refused refresh gives 502 naming the reason" expect_re 'oauth refresh failed.*400' echo "$OUT"
check "only one refresh attempt for it" expect $((R0 + 1)) refreshes
for i in 1 2 3 4 5; do ocurl -w '\n%{http_code}\n' $URL/api/refused-again 2>&1; done >"$DIR/refused-again.out"
check "requests right after it: 502 at once with its reason, no new attempt each" bash -c \
	"cat '$DIR/refused-again.out'; [ \"\$(grep -c '^502$' '$DIR/refused-again.out')\" = 5 ] &&
	grep -q 'the last refresh failed; the next within 5 s' '$DIR/refused-again.out'"
check "  still one refresh attempt in all" expect $((R0 + 1)) refreshes
check "audit log names the secret and never a token" bash -c \
	"grep -q '\"secret\":\"gh\"' '$AUDIT' && ! grep -qE 'at-[0-9]|rt-[0-9]' '$AUDIT' '$DIR/proxy.log'"
bench_finish
