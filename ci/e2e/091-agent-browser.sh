#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real browsers in the guest: headless Chromium and Firefox ESR behind
# slicer-agent, with no proxy settings and no certificate flags.  Neither
# reads the system trust store, and both send ECH GREASE to every name,
# which a host-level tunnel refuses.  The agent's browser files (the
# managed policy /etc/chromium/policies/managed/slicer-agent.json, and the
# Chrome and Chrome for Testing ones; Firefox's /etc/firefox-esr
# preferences file and enterprise policy) turn ECH off and trust the
# proxy's CA, so: an intercepted host loads with its secret injected and
# the leaf trusted, a spliced host's ClientHello passes its tunnel.
# Without those files the same spliced load is refused, audited as an
# encrypted_client_hello refusal (the GREASE is real and the files are
# what fix it), and the intercepted one fails on the certificate.
# --no-browser-policy writes none; uninstall removes the files and the
# directories install made; a Firefox policy file of the owner's is left
# untouched, and install says what to add to it.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_need chromium firefox-esr || { echo "no chromium or firefox-esr"; echo "0 passed, 1 failed"; exit 1; }
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
case $BUILD in /*) A=$BUILD/slicer-agent ;; *) A=$SPX_ROOT/$BUILD/slicer-agent ;; esac
[ -x "$A" ] || { echo "no $A (make first)"; echo "0 passed, 1 failed"; exit 1; }
check "proxy starts (upstream CA)" start_proxy --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
printf 'browser-secret-%s' "$$" >"$DIR/secret.txt"
cli secret create tok --host api.bench.test --from-file "$DIR/secret.txt" >/dev/null
# api: intercepted (its secret); plain: a host-level (spliced) tunnel
cli allow vm1 --host api.bench.test --path '/*' --secret tok >/dev/null
cli allow vm1 --host plain.bench.test --port 443 >/dev/null
URL="http://proxy:$T@$PROXY_ADDR"
POL=/etc/chromium/policies/managed/slicer-agent.json

if ! guest_up ||
	! in_guest sh -c 'printf "127.0.0.1 localhost\n198.18.0.11 api.bench.test\n198.18.0.10 plain.bench.test\n" >/etc/hosts'; then
	echo "FAIL could not build the private guest file system: stopping before any install"
	echo "0 passed, 1 failed"
	exit 1
fi
# browse URL [FLAG...]: the page Chromium rendered (stdout) and its complaints
# (stderr), a fresh profile each time; bounded, and whatever it leaves in
# the vm namespace is killed by PID when the bench goes down
# (Chromium abandons a load when the machine's addresses change, as the
# vm's link-local ones do when their duplicate address detection ends:
# net::ERR_NETWORK_CHANGED, which is retried once)
browse() {
	local prof try out
	for try in 1 2; do
		prof=$(mktemp -d "$DIR/chr.XXXXXX")
		out=$(in_guest timeout -k 5 60 chromium --headless=new --no-sandbox \
			--no-first-run --disable-gpu --user-data-dir="$prof" \
			"${@:2}" --dump-dom "$1" 2>"$prof.err")
		grep -q 'net::ERR_NETWORK_CHANGED' "$prof.err" || break
	done
	printf '%s\n' "$out"
	grep -ohE 'net::ERR_[A-Z_]+' "$prof.err" | head -1
}
# ffbrowse URL COND...: Firefox loads URL (a screenshot, a fresh profile)
# until COND holds (polled, at most 30 s), then is stopped (it stays on an
# error page); 0 when COND held
ffbrowse() {
	local prof pid i rc=1
	prof=$(mktemp -d "$DIR/ff.XXXXXX")
	in_guest env HOME="$prof" sh -c 'echo $$ >"$1.pid"; exec timeout -k 3 60 firefox-esr --headless --no-remote --screenshot "$1/shot.png" "$2"' \
		sh "$prof" "$1" >"$prof.out" 2>&1 &
	shift
	for i in $(seq 150); do
		if "$@"; then rc=0; break; fi
		sleep 0.2
	done
	pid=$(cat "$prof.pid" 2>/dev/null)
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	wait_for 10 bash -c "! kill -0 $pid 2>/dev/null" || kill -9 "$pid" 2>/dev/null
	return $rc
}
# records HOST RE: how many audit records of HOST match "event decision
# reason" RE
records() {
	"$PY" - "$AUDIT" "$1" "$2" <<'EOF'
import json, re, sys
n = 0
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("host") == sys.argv[2] and re.search(sys.argv[3], "%s %s %s" % (
            r.get("event"), r.get("decision"), r.get("reason", ""))):
        n += 1
print(n)
EOF
}
# more_records HOST RE N: more than N such records now
more_records() { [ "$(records "$1" "$2")" -gt "$3" ]; }
# audit RE: a tunnel's close record to plain.bench.test whose "decision
# reason" matches RE
audit() {
	"$PY" - "$AUDIT" "$1" <<'EOF'
import json, re, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event") == "close" and r.get("mode") == "tunnel" and \
            r.get("host") == "plain.bench.test" and \
            re.search(sys.argv[2], "%s %s" % (r["decision"], r["reason"])):
        print("%s %s %s" % (r["host"], r["decision"], r["reason"]))
        sys.exit(0)
sys.exit(1)
EOF
}
refused() { api GET /metrics | sed -n 's/^slicer_tunnel_names_refused_total //p'; }
export -f in_guest browse ffbrowse records more_records audit refused wait_for upstream_saw
export GPID A URL T G DIR POL

# the vm's addresses settled (no duplicate address detection running)
wait_for 10 bash -c "[ -z \"\$(ip -n '$VNS' -6 addr show tentative)\" ]"
check "install" in_guest "$A" proxy install --proxy "$URL"
check "the policy files are there, each as the first" bash -c '
	for f in /etc/chromium/policies/managed /etc/opt/chrome/policies/managed \
		/etc/opt/chrome_for_testing/policies/managed; do
		in_guest cmp "$POL" "$f/slicer-agent.json" || exit 1
	done'
cli ca >"$DIR/proxy-ca.pem"
in_guest cat "$POL" >"$DIR/policy.json"
check "the policy: ECH off, the proxy CA as DER in base64" py_check "$DIR/proxy-ca.pem" "$DIR/policy.json" <<'EOF'
import base64, json, subprocess, sys
der = subprocess.run(["openssl", "x509", "-outform", "DER", "-in", sys.argv[1]],
                     capture_output=True, check=True).stdout
p = json.load(open(sys.argv[2]))
print(p)
assert p["EncryptedClientHelloEnabled"] is False
assert p["CACertificates"] == [base64.b64encode(der).decode()]
EOF

# ---- with the policy (plain.bench.test's own certificate is from the
# bench CA, which only the spliced loads are told to overlook: what is
# judged there is the ClientHello)
check "intercepted: the page loads, leaf trusted, secret injected" bash -c '
	out=$(browse https://api.bench.test/chromium); echo "$out" | tail -c 600
	echo "$out" | grep -q "\"path\": \"/chromium\"" &&
	echo "$out" | grep -q "Bearer $(cat "$DIR/secret.txt")"'
R0=$(refused)
check "spliced: the page loads through the host-level tunnel" bash -c '
	out=$(browse https://plain.bench.test/spliced-ok --ignore-certificate-errors); echo "$out" | tail -c 400
	echo "$out" | grep -q "\"path\": \"/spliced-ok\""'
check "  audited as an allowed tunnel, nothing refused" bash -c \
	"audit '^allow' && [ \"\$(refused)\" = '$R0' ]"

# ---- without it: what the policy is for
in_guest mv "$POL" "$G/pol.aside"
check "no policy, spliced: refused (ECH GREASE)" bash -c '
	out=$(browse https://plain.bench.test/spliced-grease --ignore-certificate-errors); echo "$out" | tail -c 300
	! echo "$out" | grep -q spliced-grease'
check "  audited as an encrypted_client_hello refusal, counted" bash -c \
	"wait_for 5 audit '^deny TLS ClientHello with encrypted_client_hello' && [ \"\$(refused)\" -gt '$R0' ]"
check "no policy, intercepted: the leaf is not trusted" expect_re 'ERR_CERT_AUTHORITY_INVALID' \
	browse https://api.bench.test/untrusted
in_guest mv "$G/pol.aside" "$POL"

# ---- Firefox: its preferences (ECH GREASE off) and its enterprise policy
# (the CA); the bench CA is not in it, so for the spliced host what is
# checked is the proxy's verdict on the ClientHello
check "Firefox: the preferences file and the policy naming the CA file" bash -c '
	in_guest grep -qxF "pref(\"security.tls.ech.grease_probability\", 0);" /etc/firefox-esr/slicer-agent.js &&
	in_guest cat /etc/firefox/policies/policies.json | "$PY" -c "
import json, sys; p = json.load(sys.stdin)
assert p == {\"policies\": {\"Certificates\": {\"Install\": [\"/etc/slicer-agent/ca.pem\"]}}}, p"'
check "Firefox, intercepted: the request reaches the upstream (leaf trusted)" \
	ffbrowse https://api.bench.test/firefox-intercepted upstream_saw /firefox-intercepted
N=$(records plain.bench.test '^close allow')
check "Firefox, spliced: the tunnel lets its ClientHello through" \
	ffbrowse https://plain.bench.test/firefox-spliced more_records plain.bench.test '^close allow' "$N"
in_guest mv /etc/firefox-esr/slicer-agent.js "$G/ffprefs.aside"
in_guest mv /etc/firefox/policies/policies.json "$G/ffpolicy.aside"
N=$(records plain.bench.test '^close deny TLS ClientHello with encrypted_client_hello')
check "Firefox without them, spliced: refused (ECH GREASE)" \
	ffbrowse https://plain.bench.test/firefox-grease more_records plain.bench.test '^close deny TLS ClientHello with encrypted_client_hello' "$N"
N=$(records api.bench.test '^tls error .*unknown ca')
check "Firefox without them, intercepted: the leaf refused (unknown ca), nothing reaches the upstream" bash -c "
	ffbrowse https://api.bench.test/firefox-untrusted more_records api.bench.test '^tls error .*unknown ca' $N && ! upstream_saw /firefox-untrusted"
in_guest mv "$G/ffprefs.aside" /etc/firefox-esr/slicer-agent.js
in_guest mv "$G/ffpolicy.aside" /etc/firefox/policies/policies.json

# ---- uninstall, and install without the policy
check "uninstall" in_guest "$A" proxy uninstall
check "  the policy files and the directories install made are gone" bash -c '
	for f in /etc/chromium/policies /etc/opt/chrome /etc/opt/chrome_for_testing \
		/etc/firefox-esr/slicer-agent.js /etc/firefox; do
		in_guest test -e "$f" && { echo "left $f"; exit 1; }
	done
	in_guest test -d /etc/chromium'
check "install --no-browser-policy" in_guest "$A" proxy install --proxy "$URL" --no-browser-policy
check "  no policy file" bash -c '! in_guest test -e "$POL" && ! in_guest test -e /etc/opt/chrome && ! in_guest test -e /etc/firefox && ! in_guest test -e /etc/firefox-esr/slicer-agent.js'
check "uninstall again" in_guest "$A" proxy uninstall
# a Firefox policy file of the owner's: left as it is, and said so
in_guest sh -c 'mkdir -p /etc/firefox/policies && printf "{\"policies\": {\"DisableTelemetry\": true}}\n" >/etc/firefox/policies/policies.json'
in_guest cat /etc/firefox/policies/policies.json >"$DIR/own-policy.json"
check "install beside the owner's Firefox policy: says how to add the CA" expect_re \
	'/etc/firefox/policies/policies.json is not ours, so the CA is not in it' \
	in_guest "$A" proxy install --proxy "$URL"
check "  the owner's policy untouched" bash -c 'in_guest cat /etc/firefox/policies/policies.json | cmp - "$DIR/own-policy.json"'
check "uninstall: the owner's policy still there" bash -c \
	'in_guest "$A" proxy uninstall && in_guest cat /etc/firefox/policies/policies.json | cmp - "$DIR/own-policy.json"'
# ours, then changed by the owner: kept by uninstall, and said so
in_guest rm -f /etc/firefox/policies/policies.json
check "install writes the Firefox policy again" bash -c \
	'in_guest "$A" proxy install --proxy "$URL" >/dev/null && in_guest grep -q slicer-agent/ca.pem /etc/firefox/policies/policies.json'
in_guest sed -i 's/"policies": {/"policies": {"DisableTelemetry": true,/' /etc/firefox/policies/policies.json
in_guest cat /etc/firefox/policies/policies.json >"$DIR/edited-policy.json"
check "uninstall keeps the policy the owner changed since" expect_re \
	'policies.json changed since install: kept' in_guest "$A" proxy uninstall
check "  as the owner left it" bash -c 'in_guest cat /etc/firefox/policies/policies.json | cmp - "$DIR/edited-policy.json"'
bench_finish
