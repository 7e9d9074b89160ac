#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# State across restarts: kill -9 and SIGTERM keep clients (tokens still
# valid), rules (same ids), secrets (names only) and TTL expiry; deletes and
# revokes stay done; a TTL that ran out while the proxy was down is expired at
# start; the state directory is private and holds no token.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T1=$(new_client p1) T2=$(new_client p2) T3=$(new_client p3)
R1=$(cli allow p1 --host api.bench.test)
R1B=$(cli allow p1 --host plain.bench.test --port 80 --method GET --path '/ok/*')
R2=$(cli allow p2 --host other.bench.test --ttl 12s)
TTL_T0=$(date +%s.%N)
cli allow p3 --host api.bench.test >/dev/null
R3X=$(cli allow p3 --host other.bench.test)
printf 'sk-persist-%s\n' "$RANDOM$RANDOM" >"$DIR/secret.txt"
SECRET=$(head -1 "$DIR/secret.txt")
check "secret create" cli secret create s1 --host api.bench.test --from-file "$DIR/secret.txt"
check "rules work before the restart" expect "200 200 200 200" bash -c \
	"echo \$(connect_code $T1 https://api.bench.test/) \$(http_code $T1 http://plain.bench.test/ok/1) \$(connect_code $T2 https://other.bench.test/) \$(connect_code $T3 https://other.bench.test/)"
check "revoke one of p3's rules" cli revoke p3 "$R3X"
check "delete a client" cli client delete p3
check "state directory is 0700" expect 700 stat -c %a "$DIR/state"
check "no state file readable by group or others (certificates aside)" expect "" \
	find "$DIR/state" -perm /077 ! -type l ! -name '*.crt' ! -name '*.pem'
check "the state directory holds no world-writable file" expect "" find "$DIR/state" -perm /022
check "no token is stored in the state directory" bash -c "! grep -rqF -e '$T1' -e '$T2' -e '$T3' '$DIR/state'"
check "no token is stored without its spi_ prefix either" bash -c "! grep -rqF -e '${T1#spi_}' -e '${T2#spi_}' '$DIR/state'"

rules_of() { cli rule list "$1" --json | "$PY" -c '
import json, sys
j = json.load(sys.stdin); j = j if isinstance(j, list) else j["rules"]
print(" ".join(sorted(r["id"] for r in j)))'; }
BEFORE_P1=$(rules_of p1)

check "kill -9" stop_proxy KILL
check "restart after kill -9" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
check "tokens still valid after kill -9" expect "200 200" bash -c \
	"echo \$(connect_code $T1 https://api.bench.test/) \$(http_code $T1 http://plain.bench.test/ok/1)"
check "a constrained rule kept its constraints" expect 403 http_code "$T1" http://plain.bench.test/nope
check "rule ids unchanged" expect "$BEFORE_P1" rules_of p1
check "rule ids are the ones allow printed" expect "$(printf '%s\n' "$R1" "$R1B" | sort | tr '\n' ' ' | sed 's/ $//')" rules_of p1
check "TTL rule still allows before its time" expect 200 connect_code "$T2" https://other.bench.test/
check "a deleted client stays deleted" expect 407 connect_code "$T3" https://api.bench.test/
check "client list after restart" expect_re 'p1' cli client list
check "client list does not show the deleted client" bash -c "! $P client list --url $S | grep -qw p3"
check "secret survives (name listed)" expect_re 's1' cli secret list
check "secret value is not listed" bash -c "! $P secret list --json --url $S | grep -qF '$SECRET'"

# wait out the TTL (12 s from creation)
left=$("$PY" -c "import time; print(max(0.0, 12.6 - (time.time() - $TTL_T0)))")
sleep "$left"
check "TTL rule expires on time after a restart" expect 403 connect_code "$T2" https://other.bench.test/

check "SIGTERM" stop_proxy TERM
check "restart after SIGTERM" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
check "tokens still valid after SIGTERM restart" expect 200 connect_code "$T1" https://api.bench.test/
check "expired TTL rule stays gone" expect 403 connect_code "$T2" https://other.bench.test/

cli allow p2 --host other.bench.test --ttl 2s >/dev/null
check "a fresh TTL rule allows" expect 200 connect_code "$T2" https://other.bench.test/
check "kill -9 with a TTL rule pending" stop_proxy KILL
sleep 2.5
check "restart after the TTL ran out while down" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
check "a TTL that ran out while the proxy was down is expired" expect 403 connect_code "$T2" https://other.bench.test/
check "the other client is unaffected" expect 200 connect_code "$T1" https://api.bench.test/

# a new secret's file cannot be written (its temporary name is taken): the
# secret is not made (no state.json names a secret without its file), the
# answer says so, and the same request works once the file can be written
mkdir "$DIR/state/secrets/.s2.tmp"
OUT=$(cli secret create s2 --host api.bench.test --from-file "$DIR/secret.txt" 2>&1; echo "rc=$?")
check "secret create with its file unwritable fails, saying it is not saved, so not made" \
	expect_re 'not saved, so not made.*\.s2\.tmp.*rc=[1-9]' echo $OUT
check "  the secret is not there" bash -c "! $P secret list --url $S | grep -qw s2"
check "state.json does not name it" bash -c "! grep -q '\"s2\"' '$DIR/state/state.json'"
check "its value is in no log line" bash -c "! grep -qF '$SECRET' '$DIR/proxy.log' '$AUDIT'"
rmdir "$DIR/state/secrets/.s2.tmp"
check "once the file can be written, the same request makes it" \
	cli secret create s2 --host api.bench.test --from-file "$DIR/secret.txt"
check "  its file written and state.json naming it" bash -c \
	"test -f '$DIR/state/secrets/s2' && grep -q '\"s2\"' '$DIR/state/state.json'"
check "kill -9 with it saved" stop_proxy KILL
check "restart" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
check "the secret is there after a restart" expect_re 's2' cli secret list

# state.json itself cannot be written: an addition (clients, rules, a
# secret) is taken back and answered as not made, so a retry works; a
# removal is in force, reported as not saved, retried every second, and
# saved once it can be without another change (kill -9 then loses nothing)
healthz_saved() { api GET /healthz | sed '$d' | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["saved"])'; }
check "/healthz says saved" expect True healthz_saved
mkdir "$DIR/state/state.json.tmp"
OUT=$(cli client create p8 2>&1; echo "rc=$?")
check "a client create that cannot be saved is answered as not made" \
	expect_re 'not saved, so not made.*state\.json\.tmp.*rc=[1-9]' echo $OUT
check "  no token printed" bash -c "! printf '%s' '$OUT' | grep -q spi_"
check "  and the client is not there" bash -c "! $P client list --url $S | grep -qw p8"
check "a batch of clients: 500, none of them there" bash -c \
	"api POST /v1/proxy/clients '{\"clients\":[{\"name\":\"p9\"},{\"name\":\"p10\"}]}' | tail -1 | grep -qx 500 &&
	 ! $P client list --url $S | grep -qwE 'p9|p10'"
OUT=$(cli allow p1 --host other.bench.test 2>&1; echo "rc=$?")
check "an allow that cannot be saved is answered as not made" \
	expect_re 'not saved, so not made.*rc=[1-9]' echo $OUT
check "  and the rule is not in force" expect 403 connect_code "$T1" https://other.bench.test/
check "a batch of rules: 500, the client's rules as they were" bash -c \
	"before=\$($(declare -f rules_of); P='$P' S='$S' PY='$PY'; rules_of p1)
	 api POST /v1/proxy/clients/p1/rules '{\"rules\":[{\"host\":\"other.bench.test\"},{\"host\":\"wild.bench.test\"}]}' | tail -1 | grep -qx 500 &&
	 [ \"\$($(declare -f rules_of); P='$P' S='$S' PY='$PY'; rules_of p1)\" = \"\$before\" ]"
OUT=$(cli secret create s3 --host api.bench.test --from-file "$DIR/secret.txt" 2>&1; echo "rc=$?")
check "a secret create: not made" expect_re 'not saved, so not made.*rc=[1-9]' echo $OUT
check "  and not there" bash -c "! $P secret list --url $S | grep -qw s3"
OUT=$(cli revoke p1 "$R1B" 2>&1; echo "rc=$?")
check "a revoke that cannot be saved is answered as such" \
	expect_re 'change applied in memory but not saved.*state\.json\.tmp.*rc=[1-9]' echo $OUT
check "it is in force" expect 403 http_code "$T1" http://plain.bench.test/ok/1
check "state.json still has the rule" grep -q "$R1B" "$DIR/state/state.json"
check "/healthz says not saved" expect False healthz_saved
sleep 2.2
check "the retries are logged once, not every second" expect 1 \
	grep -c 'changes in force but not saved' "$DIR/proxy.log"
rmdir "$DIR/state/state.json.tmp"
check "once it can be, state.json is written without another change" \
	wait_for 5 bash -c "! grep -q '$R1B' '$DIR/state/state.json'"
check "the log says so" wait_for 3 grep -q 'state: changes saved' "$DIR/proxy.log"
check "/healthz says saved again" expect True healthz_saved
check "the client create sent again makes it" expect_re '^spi_' cli client create p8
check "and the allow" expect_re '^r[0-9a-f]+$' cli allow p1 --host other.bench.test
check "kill -9 after the retry" stop_proxy KILL
check "restart" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
check "the changes survived" expect_re 'p8' cli client list
check "  the revoke too" expect 403 http_code "$T1" http://plain.bench.test/ok/1
check "  and the allow sent again" expect 200 connect_code "$T1" https://other.bench.test/

check "stop" stop_proxy TERM
chmod 0755 "$DIR/state"
check "a state directory open to others is refused" bash -c "
	ip netns exec $HNS timeout 5 $P up --bind $HOST_IP --api $DIR/y.sock --state-dir $DIR/state >/dev/null 2>&1
	rc=\$?; echo exit \$rc; [ \$rc -ne 0 ] && [ \$rc -ne 124 ]"
chmod 0700 "$DIR/state"
check "a fresh state directory starts empty" bash -c "
	ip netns exec $HNS $P up --bind $HOST_IP --api $DIR/z.sock --state-dir $DIR/fresh >$DIR/fresh.log 2>&1 & pid=\$!
	for i in \$(seq 100); do [ -S $DIR/z.sock ] && break; sleep 0.1; done
	out=\$($P client list --json --url $DIR/z.sock); rc=\$?
	kill \$pid; wait \$pid
	echo \"\$out\"; [ \$rc = 0 ] && ! echo \"\$out\" | grep -q p1"
bench_finish
