#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The control API over the unix socket, driven with curl --unix-socket as a
# program would: clients, rules, secrets, logs (plain and follow), errors as
# {"error": ...} with the right status; secret values never come back; the
# socket refuses other users; the CLI's --json, $SLICER_URL and error exits.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish

# japi WANT_STATUS METHOD PATH [JSON] [PYTHON-ASSERTION on j]: status must be one of
# WANT_STATUS ("200|201"), the body JSON, and the assertion true
japi() {
	local want=$1 m=$2 p=$3 body=${4-} cond=${5:-True} out code
	if [ -n "$body" ]; then out=$(api "$m" "$p" "$body"); else out=$(api "$m" "$p"); fi
	code=$(printf '%s\n' "$out" | tail -1)
	out=$(printf '%s\n' "$out" | sed '$d')
	echo "status $code: $(printf '%s' "$out" | head -c 400)"
	[[ "|$want|" == *"|$code|"* ]] || return 1
	printf '%s' "$out" | "$PY" -c "
import json, sys
j = json.load(sys.stdin)
assert $cond, j" || return 1
	printf '%s' "$out" >"$DIR/last.json"
}
ERR='isinstance(j.get("error"), str) and j["error"]'

check "GET /healthz" japi 200 GET /healthz
# Prometheus text format: every sample's metric has its HELP and TYPE
# first, once each; sample values are numbers; README lists every metric
metrics_ok() {
	curl -q -sS -m 10 --unix-socket "$S" http://localhost/metrics >"$DIR/metrics.txt" || return 1
	"$PY" - "$DIR/metrics.txt" "$SPX_ROOT/README.md" <<'PYEOF'
import re, sys
helps, types, names = set(), {}, set()
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# HELP "):
        n = line.split()[2]
        assert n not in helps and len(line.split(None, 3)) == 4, line
        helps.add(n)
    elif line.startswith("# TYPE "):
        _, _, n, t = line.split()
        assert n not in types and t in ("counter", "gauge"), line
        types[n] = t
    else:
        m = re.fullmatch(r'([a-z_]+)(\{[a-z]+="[^"]*"\})? ([0-9]+)', line)
        assert m, line
        n = m.group(1)
        assert n in helps and n in types, "no HELP/TYPE before " + line
        assert (types[n] == "counter") == n.endswith("_total"), line
        names.add(n)
readme = open(sys.argv[2]).read()
missing = [n for n in sorted(names) if not re.search("`" + n + "[`{]", readme)]
assert not missing, "not in README: %s" % missing
print("%d metrics" % len(names))
PYEOF
}
check "GET /metrics: Prometheus text, HELP and TYPE for each, all in README" metrics_ok
check "create a client" japi "200|201" POST /v1/proxy/clients '{"name": "api1"}' \
	'j["token"].startswith("spi_") and len(j["token"]) == 47'
TOK=$(jget token <"$DIR/last.json")
check "the API token works on the proxy port" expect 403 connect_code "$TOK" https://api.bench.test/
check "duplicate client: 409 with an error" japi "409|400" POST /v1/proxy/clients '{"name": "api1"}' "$ERR"
check "malformed JSON: 400 with an error" japi 400 POST /v1/proxy/clients '{"name": ' "$ERR"
check "not an object: 400" japi 400 POST /v1/proxy/clients '["api2"]' "$ERR"
check "name of the wrong type: 400" japi 400 POST /v1/proxy/clients '{"name": 5}' "$ERR"
check "invalid name: 400" japi 400 POST /v1/proxy/clients '{"name": "../etc"}' "$ERR"
check "empty body: 400" japi "400|411" POST /v1/proxy/clients '' "$ERR"
check "list clients, no token in it" japi 200 GET /v1/proxy/clients '' \
	'any(c["name"] == "api1" for c in j["clients"]) and "spi_" not in json.dumps(j)'
check "unknown client: 404" japi 404 GET /v1/proxy/clients/nosuch/rules '' "$ERR"

# rules
check "no rules yet" japi 200 GET /v1/proxy/clients/api1/rules '' 'j["rules"] == []'
check "add a host rule" japi "200|201" POST /v1/proxy/clients/api1/rules '{"host": "api.bench.test"}' \
	'j["id"] and j["host"] == "api.bench.test" and sorted(j["ports"]) == [80, 443]'
RID=$(jget id <"$DIR/last.json")
check "the rule applies" expect 200 connect_code "$TOK" https://api.bench.test/
check "add a full rule" japi "200|201" POST /v1/proxy/clients/api1/rules \
	'{"host": "plain.bench.test", "ports": [80], "methods": ["GET"], "paths": ["/ok/*"], "ttl": "10m"}' \
	'j["methods"] == ["GET"] and j["paths"] == ["/ok/*"] and j["ports"] == [80] and j.get("expires")'
check "the full rule applies" expect "200 403" bash -c \
	"echo \$(http_code $TOK http://plain.bench.test/ok/1) \$(http_code $TOK http://plain.bench.test/no)"
check "rule with host of the wrong type: 400" japi 400 POST /v1/proxy/clients/api1/rules '{"host": 5}' "$ERR"
check "rule without host: 400" japi 400 POST /v1/proxy/clients/api1/rules '{}' "$ERR"
check "rule with an unknown key: 400" japi 400 POST /v1/proxy/clients/api1/rules '{"host": "a.test", "hots": 1}' "$ERR"
check "rule with port 0: 400" japi 400 POST /v1/proxy/clients/api1/rules '{"host": "a.test", "ports": [0]}' "$ERR"
check "rule with a bad ttl: 400" japi 400 POST /v1/proxy/clients/api1/rules '{"host": "a.test", "ttl": "soon"}' "$ERR"
check "rule with a bad path: 400" japi 400 POST /v1/proxy/clients/api1/rules '{"host": "a.test", "paths": ["x"]}' "$ERR"
check "rule with malformed JSON: 400" japi 400 POST /v1/proxy/clients/api1/rules '{"host": "a.test",' "$ERR"
check "rule for an unknown client: 404" japi 404 POST /v1/proxy/clients/nosuch/rules '{"host": "a.test"}' "$ERR"
check "list rules" japi 200 GET /v1/proxy/clients/api1/rules '' 'len(j["rules"]) == 2'
check "delete a rule by id" japi "200|204" DELETE "/v1/proxy/clients/api1/rules/$RID" '' 'True'
check "the deleted rule no longer applies" expect 403 connect_code "$TOK" https://api.bench.test/
check "the deleted rule is not listed" japi 200 GET /v1/proxy/clients/api1/rules '' \
	"all(r['id'] != '$RID' for r in j['rules'])"
check "delete an unknown rule: 404" japi 404 DELETE "/v1/proxy/clients/api1/rules/$RID" '' "$ERR"

# batches: all or nothing, one save
check "batch of clients: names and distinct tokens" japi 201 POST /v1/proxy/clients \
	'{"clients": [{"name": "b1"}, {"name": "b2"}, {"name": "b3"}]}' \
	'[c["name"] for c in j["clients"]] == ["b1", "b2", "b3"] and len({c["token"] for c in j["clients"]}) == 3'
B2TOK=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["clients"][1]["token"])' <"$DIR/last.json")
B3TOK=$("$PY" -c 'import json,sys; print(json.load(sys.stdin)["clients"][2]["token"])' <"$DIR/last.json")
check "a batch client's token works" expect 403 connect_code "$B2TOK" https://api.bench.test/
check "batch naming an existing client: 409, none made" japi 409 POST /v1/proxy/clients \
	'{"clients": [{"name": "b4"}, {"name": "b1"}]}' "$ERR and 'clients[1]' in j['error']"
check "batch naming one twice: 400" japi 400 POST /v1/proxy/clients \
	'{"clients": [{"name": "b5"}, {"name": "b5"}]}' "$ERR"
check "nothing of the refused batches exists" japi 200 GET /v1/proxy/clients '' \
	'not {"b4", "b5"} & {c["name"] for c in j["clients"]}'
check "batch of rules" japi 201 POST /v1/proxy/clients/b2/rules \
	'{"rules": [{"host": "api.bench.test"}, {"host": "*.bench.test", "ports": [8443]}]}' \
	'len(j["rules"]) == 2 and j["rules"][1]["host"] == "*.bench.test" and j["client"] == "b2"'
check "a batch rule applies" expect 200 connect_code "$B2TOK" https://api.bench.test/
check "batch with a bad rule: 400 naming it, none added" japi 400 POST /v1/proxy/clients/b2/rules \
	'{"rules": [{"host": "c.test"}, {"host": "d.test"}, {"host": "e.test", "ports": [0]}]}' \
	"$ERR and j['error'].startswith('rules[2]')"
check "the refused batch added nothing" japi 200 GET /v1/proxy/clients/b2/rules '' 'len(j["rules"]) == 2'
check "empty batch: 400" japi 400 POST /v1/proxy/clients/b2/rules '{"rules": []}' "$ERR"
check "batch rules are saved" bash -c "grep -c '\"\\*.bench.test\"' $DIR/state/state.json"
import_n() { # FILE: rule import into b3 of a generated file of N rules
	"$PY" -c "
import json
rules = [{'host': 'imp-%d.bench.test' % i, 'ports': [443]} for i in range($2)]
open('$1', 'w').write(json.dumps(rules) if $3 else '\n'.join(map(json.dumps, rules)) + '\n')"
}
import_n "$DIR/imp.json" 5000 1
check "rule import: a 5000-rule array in two batches" bash -c \
	"cli rule import b3 $DIR/imp.json | grep -qx 'imported 5000 rules'"
import_n "$DIR/imp.jsonl" 2 0
echo '{"host": "api.bench.test"}' >>"$DIR/imp.jsonl"
check "rule import: JSON lines" bash -c "cli rule import b3 - <$DIR/imp.jsonl | grep -qx 'imported 3 rules'"
check "imported rules are listed" japi 200 GET /v1/proxy/clients/b3/rules '' 'len(j["rules"]) == 5003'
printf '{"host": "ok.bench.test"}\n{"host": "bad.test", "ports": [0]}\n' >"$DIR/imp-bad.jsonl"
check "rule import: a bad rule is named, nothing of its batch added" bash -c "
	out=\$(cli rule import b3 $DIR/imp-bad.jsonl 2>&1); rc=\$?; echo \"\$out\"
	[ \$rc -ne 0 ] && [[ \$out == *'rule 2 of the file: invalid port: 0'* ]]"
check "the refused import added nothing" japi 200 GET /v1/proxy/clients/b3/rules '' 'len(j["rules"]) == 5003'
printf '{"host": "x.test"}\n{"host": \n' >"$DIR/imp-broken.jsonl"
check "rule import: broken JSON is refused before anything is sent" bash -c "
	! cli rule import b3 $DIR/imp-broken.jsonl 2>/dev/null"
check "rule import: decisions see the imported rules" expect 200 connect_code "$B3TOK" https://api.bench.test/

# secrets
check "create a secret" japi "200|201" POST /v1/proxy/secrets \
	'{"name": "s1", "host": "api.bench.test", "type": "bearer", "value": "sk-VALUE-8f3a"}' \
	'j["name"] == "s1" and "sk-VALUE-8f3a" not in json.dumps(j)'
check "create a header secret" japi "200|201" POST /v1/proxy/secrets \
	'{"name": "s2", "host": "*.bench.test", "type": "header", "header": "X-Api-Key", "value": "hk-VALUE-77"}' \
	'"hk-VALUE-77" not in json.dumps(j)'
check "secret list has names, never values" japi 200 GET /v1/proxy/secrets '' \
	'sorted(s["name"] for s in j["secrets"]) == ["s1", "s2"] and "VALUE" not in json.dumps(j)'
check "secret with an unknown type: 400" japi 400 POST /v1/proxy/secrets \
	'{"name": "s3", "host": "a.test", "type": "magic", "value": "x"}' "$ERR"
check "secret without a value: 400" japi 400 POST /v1/proxy/secrets '{"name": "s3", "host": "a.test"}' "$ERR"
check "duplicate secret: 409" japi "409|400" POST /v1/proxy/secrets \
	'{"name": "s1", "host": "api.bench.test", "value": "other"}' "$ERR"
# a value with a bad escape: the error says where, and nothing of the value
check "a secret value with a bad escape: 400 naming the place, not the value" japi 400 POST /v1/proxy/secrets \
	'{"name": "s4", "host": "a.test", "value": "sk-live-TOPSECRET\x"}' \
	'"line 1, column " in j["error"] and "TOPSECRET" not in json.dumps(j) and "sk-live" not in json.dumps(j)'
printf '{"access_token": "at-TOPSECRET\\q", "refresh_token": "rt-1", "token_url": "https://a.test/t", "client_id": "c"}\n' \
	>"$DIR/bad-oauth.json"
check "an OAuth token file with a bad escape: the CLI says where, not what" bash -c \
	"out=\$('$P' secret create o4 --host a.test --type oauth --from-file '$DIR/bad-oauth.json' --url '$S' 2>&1); rc=\$?
	 echo \"rc=\$rc \$out\"; [ \$rc -ne 0 ] && printf '%s' \"\$out\" | grep -q 'line 1, column ' &&
	 ! printf '%s' \"\$out\" | grep -qE 'TOPSECRET|at-'"
check "  and neither is in the proxy's output" bash -c "! grep -qF TOPSECRET '$DIR/proxy.log' '$AUDIT'"
check "a rule can name a secret" japi "200|201" POST /v1/proxy/clients/api1/rules \
	'{"host": "api.bench.test", "secret": "s1"}' 'j["secret"] == "s1"'
check "a rule naming an unknown secret: 400" japi "400|404" POST /v1/proxy/clients/api1/rules \
	'{"host": "api.bench.test", "secret": "nosuch"}' "$ERR"
check "delete a secret" japi "200|204" DELETE /v1/proxy/secrets/s2 '' 'True'
check "delete an unknown secret: 404" japi 404 DELETE /v1/proxy/secrets/s2 '' "$ERR"
check "secret values never in the proxy's output or the audit log" bash -c \
	"! grep -rqF -e sk-VALUE-8f3a -e hk-VALUE-77 '$DIR/proxy.log' '$AUDIT'"
check "secret files are 0600" bash -c "
	found=\$(find '$DIR/state' -type f -exec grep -lF sk-VALUE-8f3a {} +); echo \"files: \$found\"
	for f in \$found; do [ \$(stat -c %a \$f) = 600 ] || exit 1; done"

# CLI secret input forms
printf 'from-file-VALUE\n' >"$DIR/sec.txt"
check "secret create --from-file" cli secret create f1 --host api.bench.test --from-file "$DIR/sec.txt"
check "secret create --from-env" env SPX_SEC=from-env-VALUE "$P" secret create f2 --host api.bench.test --from-env SPX_SEC --url "$S"
check "secret create --value-stdin" bash -c "printf 'from-stdin-VALUE' | $P secret create f3 --host api.bench.test --value-stdin --url $S"
check "secret create --type basic-auth" bash -c "printf 'user:pw-VALUE' | $P secret create f4 --host api.bench.test --type basic-auth --value-stdin --url $S"
check "secret create --type header --header" bash -c "printf 'hdr-VALUE' | $P secret create f5 --host api.bench.test --type header --header X-Key --value-stdin --url $S"
check "secret create from a missing env var fails" bash -c "! env -u SPX_NOPE $P secret create f6 --host a.test --from-env SPX_NOPE --url $S 2>/dev/null"
check "secret create from a missing file fails" bash -c "! $P secret create f6 --host a.test --from-file /nonexistent --url $S 2>/dev/null"
check "secret list (CLI) never prints values" bash -c "
	out=\$($P secret list --url $S; $P secret list --json --url $S); echo \"\$out\" | grep -q f3 && ! echo \"\$out\" | grep -q VALUE"
check "secret list --json is JSON" bash -c "$P secret list --json --url $S | $PY -c 'import json,sys; json.load(sys.stdin)'"
check "secret delete (CLI)" cli secret delete f1
check "a secret used by a rule cannot be deleted" bash -c "! $P secret delete s1 --url $S 2>/dev/null"

# logs
http_code "$TOK" http://plain.bench.test/ok/api-log >/dev/null
http_code "$TOK" http://plain.bench.test/denied-api-log >/dev/null
sleep 0.3
logs_ok() { # QUERY PYTHON-CONDITION-ON-rows
	curl -q -sS -m 5 --unix-socket "$S" "http://localhost/v1/proxy/logs$1" | "$PY" -c "
import json, sys
rows = [json.loads(l) for l in sys.stdin if l.strip()]
print(len(rows))
assert $2, rows[-3:]"
}
check "GET /v1/proxy/logs is JSON lines" logs_ok '' 'any(r.get("path") == "/ok/api-log" for r in rows)'
check "logs?client=api1" logs_ok '?client=api1' 'rows and all(r.get("client") == "api1" for r in rows)'
check "logs?denied=1" logs_ok '?denied=1' 'rows and all(r.get("decision") == "deny" for r in rows) and any(r.get("path") == "/denied-api-log" for r in rows)'
follow_ok() {
	local f=$DIR/follow.out pid
	curl -q -sS -N -m 8 --unix-socket "$S" 'http://localhost/v1/proxy/logs?follow=1&client=api1' >"$f" 2>/dev/null &
	pid=$!
	sleep 0.5
	http_code "$TOK" http://plain.bench.test/ok/follow-api >/dev/null
	wait_for 5 grep -q /ok/follow-api "$f"
	local rc=$?
	kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
	head -c 300 "$f"
	return $rc
}
check "logs?follow=1 streams" follow_ok

# errors and misuse
check "unknown resource: 404" japi 404 GET /v1/proxy/nothing '' "$ERR"
check "wrong method: 405 (or 404)" japi "405|404" PUT /v1/proxy/clients '{"name": "x"}' "$ERR"
check "oversized body refused" bash -c "
	head -c 3000000 /dev/zero | tr '\0' a | sed 's/^/{\"name\": \"/; s/\$/\"}/' >$DIR/huge.json
	code=\$(curl -q -s -o /dev/null -w '%{http_code}' -m 10 --unix-socket $S -X POST -H 'Content-Type: application/json' --data-binary @$DIR/huge.json http://localhost/v1/proxy/clients)
	echo \$code; [ \$code = 413 ] || [ \$code = 400 ]"
par_clients() {
	local i pids=()
	for i in $(seq 20); do
		curl -q -s -m 10 --unix-socket "$S" -X POST --data-binary "{\"name\": \"par$i\"}" \
			http://localhost/v1/proxy/clients >"$DIR/par$i.json" &
		pids+=($!)
	done
	wait "${pids[@]}"
	"$PY" - "$DIR" <<'EOF'
import glob, json, sys
toks = [json.load(open(f))["token"] for f in glob.glob(sys.argv[1] + "/par*.json")]
print(len(toks), len(set(toks)))
assert len(toks) == 20 and len(set(toks)) == 20
EOF
}
check "20 clients created in parallel, all distinct" par_clients
check "delete a client" japi "200|204" DELETE /v1/proxy/clients/par1 '' 'True'
check "delete an unknown client: 404" japi 404 DELETE /v1/proxy/clients/par1 '' "$ERR"
check "the deleted client's token is refused" expect 407 connect_code "$(jget token <"$DIR/par1.json")" https://api.bench.test/
check "the socket refuses another user" bash -c "
	! setpriv --reuid=65534 --regid=65534 --clear-groups curl -q -s -m 3 --unix-socket $S http://localhost/healthz"

# a socket of another user where the CLI looks (a shared directory): the CLI
# refuses it before sending anything
mkdir -p "$DIR/shared" && chmod 1777 "$DIR/shared" && chmod o+x "$DIR"
cat >"$DIR/fake.py" <<'EOF'
import os, socket, sys
path, log = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.bind(path)
s.listen(4)
open(path + ".ready", "w").close()
while True:
    c, _ = s.accept()
    c.settimeout(2)
    try:
        d = c.recv(65536)
    except OSError:
        d = b""
    open(log, "ab").write(d)
    try:
        c.sendall(b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                  b"Content-Length: 44\r\nConnection: close\r\n\r\n"
                  b'{"name":"stolen","host":"h.test","type":"x"}')
    except OSError:
        pass
    c.close()
EOF
: >"$DIR/fake.log" && chmod 666 "$DIR/fake.log"
setpriv --reuid=65534 --regid=65534 --clear-groups "$PY" "$DIR/fake.py" "$DIR/shared/slicer.sock" "$DIR/fake.log" &
SPX_PIDS+=($!)
wait_for 10 test -e "$DIR/shared/slicer.sock.ready"
fake_refused() {
	local out rc
	out=$(cd "$DIR/shared" && printf 'sek-fake-5e0d1c' | "$P" secret create stolen --host h.test --value-stdin 2>&1)
	rc=$?
	echo "rc=$rc $out"
	[ $rc -ne 0 ] && echo "$out" | grep -q "runs as uid 65534, not root or you" && ! grep -q sek-fake "$DIR/fake.log"
}
check "the CLI refuses a socket another user listens on (./slicer.sock in a shared directory); nothing sent" fake_refused
check "... slicer-proxy ca too" bash -c "out=\$(cd '$DIR/shared' && '$P' ca 2>&1); echo \"\$out\"; echo \"\$out\" | grep -q 'not root or you' && [ ! -s '$DIR/fake.log' ]"

# the CLI
check "\$SLICER_URL is used when --url is absent" bash -c "SLICER_URL=$S $P client list | grep -q api1"
check "client list --json is the API JSON" bash -c "$P client list --json --url $S | $PY -c '
import json, sys
j = json.load(sys.stdin)
cl = j[\"clients\"] if isinstance(j, dict) else j
assert any(c[\"name\"] == \"api1\" for c in cl)'"
check "CLI against a missing socket: non-zero exit and a message" bash -c "
	out=\$($P client list --url $DIR/nonexistent.sock 2>&1 >/dev/null); rc=\$?; echo \"rc=\$rc \$out\"; [ \$rc -ne 0 ] && [ -n \"\$out\" ]"
check "CLI error from the API: non-zero exit and the message" bash -c "
	out=\$($P allow api1 --host 'a b' --url $S 2>&1 >/dev/null); rc=\$?; echo \"rc=\$rc \$out\"; [ \$rc -ne 0 ] && [ -n \"\$out\" ]"
check "the control socket still answers after all that" japi 200 GET /healthz
bench_finish
