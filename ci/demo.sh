#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The README demo: builds the three-namespace bench (a "vm" that can reach only
# the host, the host running slicer-proxy, a "net" with upstream servers), then
# walks through a client, its token, an allowed request, denied ones with their
# reasons, the guest agent capturing a vm's programs with no proxy settings
# (and undone), and the audit log; tears everything down at the end.
# Run from the repo root as root: it installs the packages it needs and
# builds first (DEMO_NO_BUILD=1 skips both).
if [ "${DEMO_NO_BUILD:-0}" != 1 ]; then
	cd "$(dirname "$(readlink -f "$0")")/.." || exit 1
	bash ci/install-deps.sh || exit 1
	make -s -j"$(nproc)" all || { echo "demo: build failed" >&2; exit 1; }
fi
source "$(dirname "$(readlink -f "$0")")/lib.sh"
bench_init demo

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# pcli ARGS: show and run a CLI command (the control socket option left out of the echo)
pcli() { printf '$ slicer-proxy'; printf ' %q' "$@"; printf '\n'; cli "$@"; }
fail() { echo "demo: $*" >&2; exit 1; }

[ -x "$P" ] || fail "no $P: run make first"
say "Building the bench: namespaces $VNS (the guest), $HNS (proxy), $NNS (the internet)"
bench_up 2>/dev/null || fail "bench setup failed"
echo "vm 192.168.222.2 -> host 192.168.222.1 (proxy :3128) -> net 198.18.0.0/15 (api.bench.test, other.bench.test, DNS)"
echo "The vm has no route past the host: only the proxy gets it anywhere."
printf '$ curl https://api.bench.test/   # from the vm, no proxy\n'
if in_vm curl -q -s -m 2 -o /dev/null https://api.bench.test/; then echo "(unexpected: reached it)"; else echo "curl: no way out (as intended)"; fi

say "Starting the proxy on 192.168.222.1:3128"
start_proxy --upstream-ca "$CA" || fail "slicer-proxy did not start (see $DIR/proxy.log)"
echo "slicer-proxy up --bind 192.168.222.1 --api $S --state-dir $DIR/state --log $AUDIT --upstream-ca <the bench CA>"

say "Creating a client: its token identifies the vm to the proxy"
printf '$ slicer-proxy client create demo-vm\n'
TOKEN=$(cli client create demo-vm) || fail "client create failed"
echo "${TOKEN:0:10}...(${#TOKEN} characters)"
echo "inside the vm: HTTPS_PROXY=http://proxy:\$TOKEN@192.168.222.1:3128"
PX="http://proxy:$TOKEN@$PROXY_ADDR"

say "Default deny: a valid token with no rules gets 403"
printf '$ curl -x $HTTPS_PROXY https://api.bench.test/v1/models\n'
in_vm curl -q -s -m 5 --cacert "$CA" -x "$PX" https://api.bench.test/v1/models -o /dev/null -w 'HTTP %{http_connect}\n'

say "Allowing the vm one host (HTTPS, tunnelled untouched) and a narrow plain-HTTP rule"
pcli allow demo-vm --host api.bench.test --port 443
pcli allow demo-vm --host plain.bench.test --port 80 --method GET --path '/v1/*' --ttl 10m
pcli rule list demo-vm

say "Allowed: HTTPS through a CONNECT tunnel (the upstream's own certificate, end to end)"
printf '$ curl -x $HTTPS_PROXY https://api.bench.test/v1/models\n'
in_vm curl -q -sS -m 5 --cacert "$CA" -x "$PX" https://api.bench.test/v1/models |
	"$PY" -c 'import json,sys; j=json.load(sys.stdin); print("upstream %s saw %s %s over %s" % (j["server"], j["method"], j["path"], j["tls"]))'

say "Allowed: plain HTTP GET under /v1/ (the upstream never sees the proxy credentials)"
printf '$ curl -x $HTTP_PROXY http://plain.bench.test/v1/status\n'
in_vm curl -q -sS -m 5 -x "$PX" http://plain.bench.test/v1/status |
	"$PY" -c 'import json,sys; j=json.load(sys.stdin); print("upstream saw %s %s; Proxy-Authorization forwarded: %s" % (j["method"], j["path"], "proxy-authorization" in j["headers"]))'

say "Secret injection: the vm calls an API with a credential it never holds"
printf 'sk-demo-REAL-credential\n' >"$DIR/llama-bearer.txt"
pcli secret create llama --host other.bench.test --from-file "$DIR/llama-bearer.txt"
pcli allow demo-vm --host other.bench.test --secret llama --method POST --path /v1/chat/completions
cli ca >"$DIR/proxy-ca.crt"
echo "(the vm trusts the proxy CA: slicer-proxy ca > proxy-ca.crt)"
printf '$ curl -x $HTTPS_PROXY https://other.bench.test/v1/chat/completions -H "Authorization: Bearer fake" -d ...\n'
in_vm curl -q -sS -m 5 --cacert "$DIR/proxy-ca.crt" -x "$PX" -H 'Authorization: Bearer fake' \
	-d '{"model":"local","messages":[{"role":"user","content":"Reply OK"}]}' \
	https://other.bench.test/v1/chat/completions |
	"$PY" -c 'import json,sys; j=json.load(sys.stdin); print("upstream saw %s %s with Authorization: %s" % (j["method"], j["path"], j["headers"].get("authorization")))'
printf '$ curl -x $HTTPS_PROXY https://other.bench.test/v1/admin   # another path: no secret, no request\n'
in_vm curl -q -s -m 5 --cacert "$DIR/proxy-ca.crt" -x "$PX" -X POST -d x https://other.bench.test/v1/admin -w '\nHTTP %{http_code}\n' | grep -v '^$' | sed 's/^/  /'

say "Denied, with the reason in the 403 body"
printf '$ curl -x $HTTPS_PROXY https://exfil.example.com/   # a host no rule names\n'
rawsend --all --token "$TOKEN" --send "b'CONNECT exfil.example.com:443 HTTP/1.1\r\nHost: exfil.example.com:443\r\n' + PB + b'\r\n'" |
	tr -d '\r' | sed -n '1p;/^$/,$p' | grep -v '^$' | sed 's/^/  /'
for args in "-X POST -d x http://plain.bench.test/v1/status" \
	"--path-as-is http://plain.bench.test/v1/../admin"; do
	printf '$ curl -x $HTTPS_PROXY %s\n' "$args"
	# shellcheck disable=SC2086
	out=$(in_vm curl -q -s -m 5 --cacert "$CA" -x "$PX" -w '\nHTTP %{http_code}' $args 2>&1)
	printf '%s\n' "$out" | grep -v '^$' | sed 's/^/  /'
done

say "The guest agent: every program in the vm goes through the proxy, with no proxy settings"
case $BUILD in /*) A=$BUILD/slicer-agent ;; *) A=$SPX_ROOT/$BUILD/slicer-agent ;; esac
# the vm's files: a private mount namespace over overlays (this machine's
# /etc is never touched), as in the agent's end-to-end tests
guest_up || fail "could not build the guest's private file system"
printf '$ slicer-agent proxy install --proxy http://proxy:$TOKEN@192.168.222.1:3128   # once, from userdata\n'
out=$(in_guest "$A" proxy install --proxy "$PX" 2>&1) || { printf '%s\n' "$out"; fail "agent install failed"; }
case $out in *"$TOKEN"*) fail "the token was printed" ;; esac
printf '%s\n' "$out" | sed 's/^/  /'
printf '$ getent hosts other.bench.test   # DNS: answered by the proxy, for names this vm may reach\n'
in_guest getent hosts other.bench.test | sed 's/^/  /'
printf '$ getent hosts exfil.example.com\n'
if out=$(in_guest getent hosts exfil.example.com); then
	printf '%s\n' "$out" | sed 's/^/  /'
else
	echo "  (no answer: a name this vm may not reach; the proxy logged the query)"
fi
printf '$ curl https://other.bench.test/v1/chat/completions -H "Authorization: Bearer fake" -d ...   # no -x, no --cacert\n'
in_guest curl -q -sS -m 5 -H 'Authorization: Bearer fake' \
	-d '{"model":"local","messages":[{"role":"user","content":"Reply OK"}]}' \
	https://other.bench.test/v1/chat/completions |
	"$PY" -c 'import json,sys; j=json.load(sys.stdin); print("  upstream saw %s %s with Authorization: %s" % (j["method"], j["path"], j["headers"].get("authorization")))'
printf '$ python3 -c "urllib.request.urlopen(\x27http://plain.bench.test/v1/status\x27)"\n'
in_guest python3 -c 'import json, urllib.request
j = json.load(urllib.request.urlopen("http://plain.bench.test/v1/status", timeout=5))
print("  upstream saw %s %s" % (j["method"], j["path"]))'
printf '$ curl https://other.bench.test/v1/admin   # still the proxy'"'"'s rules\n'
in_guest curl -q -s -m 5 -X POST -d x https://other.bench.test/v1/admin -w '\nHTTP %{http_code}\n' | grep -v '^$' | sed 's/^/  /'
printf '$ slicer-agent proxy status\n'
in_guest "$A" proxy status | sed 's/^/  /'
printf '$ slicer-agent proxy uninstall   # undoes all of it\n'
in_guest "$A" proxy uninstall 2>&1 | sed 's/^/  /'

say "Address checks: a rule for every host still cannot reach cloud metadata or loopback"
pcli allow demo-vm --host '*' --port 80
printf '$ curl -x $HTTP_PROXY http://meta.bench.test/   (resolves to 169.254.169.254)\n'
in_vm curl -q -s -m 5 -x "$PX" -w '\nHTTP %{http_code}\n' http://meta.bench.test/latest/meta-data/ | grep -v '^$' | sed 's/^/  /'
printf '$ curl -x $HTTP_PROXY http://2130706433/   (127.0.0.1 spelled as a number)\n'
in_vm curl -q -s -m 5 -x "$PX" -w '\nHTTP %{http_code}\n' http://2130706433/ | grep -v '^$' | sed 's/^/  /'

say "No token: 407"
printf '$ curl -x http://192.168.222.1:3128 https://api.bench.test/\n'
in_vm curl -q -s -m 5 -x "http://$PROXY_ADDR" https://api.bench.test/ -o /dev/null -w 'HTTP %{http_connect}\n'

say "The audit log: every decision, one JSON object per line, never a token"
printf '$ slicer-proxy logs | tail -6\n'
"$P" logs --url "$S" | tail -6 | "$PY" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    where = "%s:%s" % (r["host"], r.get("port")) if r.get("host") else "-"
    print("%-5s %-7s %-26s %-20s %s %s" % (r.get("decision"), r.get("method") or "-",
          where, r.get("path") or "-", r.get("status") or "-", r.get("reason") or ""))'
if grep -qF "$TOKEN" "$AUDIT"; then echo "token found in the audit log!"; exit 1; fi

say "Tearing down (namespaces, processes, files)"
stop_proxy
echo "done"
