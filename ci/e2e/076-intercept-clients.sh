#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real clients through interception, each trusting the proxy CA the way it
# is usually configured: curl with https_proxy and CURL_CA_BUNDLE, python3
# urllib, python3 requests (REQUESTS_CA_BUNDLE), node (a CONNECT with http,
# then tls.connect over the socket), wget, git clone over smart HTTP (both
# intercepted with a path rule and as a plain tunnel), openssl s_client
# -proxy.  Secrets are injected for each, and a path outside the rule is 403.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
export SEC=sek-clients-5a9d2c7e1b84f3
printf '%s\n' "$SEC" >"$DIR/sec.txt"
cli secret create llm --host api.bench.test --from-file "$DIR/sec.txt" >/dev/null
cli allow vm1 --host api.bench.test --secret llm --method POST --path /v1/chat/completions >/dev/null
cli allow vm1 --host api.bench.test --inspect --method GET --path '/get/*' >/dev/null
cli allow vm1 --host git.bench.test --method GET --method POST --path '/git/repo.git/*' >/dev/null
cli allow vm1 --host plain.bench.test >/dev/null
PX="http://proxy:$T@$PROXY_ADDR"
export T PCA PX
# venv NAME=VALUE... CMD: in the vm with the usual proxy environment
venv() { in_vm env https_proxy="$PX" HTTPS_PROXY="$PX" http_proxy="$PX" "$@"; }
export -f venv
WANT_AUTH="\"authorization\": ?\"Bearer $SEC\""

# ---- curl ----
check "curl (https_proxy, CURL_CA_BUNDLE): secret injected" expect_re "$WANT_AUTH" \
	venv CURL_CA_BUNDLE="$PCA" curl -q -sS -m 10 -X POST -d '{}' https://api.bench.test/v1/chat/completions
check "curl: a path outside the rules is 403" expect 403 \
	venv CURL_CA_BUNDLE="$PCA" curl -q -s -m 10 -o /dev/null -w '%{http_code}' https://api.bench.test/v2/other

# ---- python3 urllib ----
check "python3 urllib through the proxy: secret injected, 403 elsewhere" vmpy - "$PX" "$PCA" <<'EOF'
import json, os, ssl, sys, urllib.error, urllib.request
px, ca = sys.argv[1:3]
op = urllib.request.build_opener(urllib.request.ProxyHandler({"https": px}),
                                 urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca)))
r = op.open(urllib.request.Request("https://api.bench.test/v1/chat/completions", data=b"{}", method="POST"), timeout=10)
j = json.loads(r.read())
assert j["headers"]["authorization"] == "Bearer " + os.environ["SEC"], j["headers"]
r = op.open("https://api.bench.test/get/u", timeout=10)
assert json.loads(r.read())["path"] == "/get/u"
try:
    op.open("https://api.bench.test/v2/other", timeout=10)
    raise AssertionError("not refused")
except urllib.error.HTTPError as e:
    assert e.code == 403, e.code
EOF

# ---- python3 requests ----
check "python3 requests (HTTPS_PROXY, REQUESTS_CA_BUNDLE): secret injected, session reused" \
	venv REQUESTS_CA_BUNDLE="$PCA" "$PY" - <<'EOF'
import os, requests
s = requests.Session()
r = s.post("https://api.bench.test/v1/chat/completions", json={"model": "m"}, headers={"Authorization": "Bearer own"},
           timeout=10)
assert r.status_code == 200, r.status_code
j = r.json()
assert j["headers"]["authorization"] == "Bearer " + os.environ["SEC"] and j["body_len"] == 14, j
conns = {s.get("https://api.bench.test/get/%d" % i, timeout=10).json()["conn"] for i in range(3)}
assert len(conns) == 1, conns
r = s.get("https://api.bench.test/v2/other", timeout=10)
assert r.status_code == 403, r.status_code
EOF
check "python3 requests without the proxy CA fails verification" bash -c "! venv \"$PY\" -c '
import requests; requests.get(\"https://api.bench.test/get/x\", timeout=10)' 2>/dev/null"

# ---- node ----
check "node: CONNECT then tls.connect over the socket; ALPN h2 offered, http/1.1 chosen; secret injected" \
	in_vm node -e '
const http = require("http"), https = require("https"), tls = require("tls"), fs = require("fs");
const tok = process.env.T, ca = fs.readFileSync(process.env.PCA), sec = process.env.SEC;
function tunnel(cb) {
	const r = http.request({ host: "192.168.222.1", port: 3128, method: "CONNECT", path: "api.bench.test:443",
		headers: { "Host": "api.bench.test:443",
			"Proxy-Authorization": "Basic " + Buffer.from("proxy:" + tok).toString("base64") } });
	r.on("connect", (res, sock) => {
		if (res.statusCode !== 200) { console.error("CONNECT", res.statusCode); process.exit(1); }
		const t = tls.connect({ socket: sock, servername: "api.bench.test", ca: ca,
			ALPNProtocols: ["h2", "http/1.1"] }, () => cb(t));
		t.on("error", (e) => { console.error("tls", e.message); process.exit(1); });
	});
	r.on("error", (e) => { console.error("proxy", e.message); process.exit(1); });
	r.end();
}
setTimeout(() => { console.error("timeout"); process.exit(1); }, 10000).unref();
tunnel((t) => {
	if (t.alpnProtocol !== "http/1.1") { console.error("alpn", t.alpnProtocol); process.exit(1); }
	// without an agent node would write "Host: api.bench.test:80": say the port is the default
	const req = https.request({ host: "api.bench.test", port: 443, defaultPort: 443, path: "/v1/chat/completions",
		method: "POST", createConnection: () => t, headers: { "Content-Type": "application/json" } }, (res) => {
		let b = "";
		res.on("data", (d) => b += d);
		res.on("end", () => {
			const j = JSON.parse(b);
			console.log(res.statusCode, j.headers.authorization === "Bearer " + sec);
			process.exit(res.statusCode === 200 && j.headers.authorization === "Bearer " + sec ? 0 : 1);
		});
	});
	req.end("{}");
});'
check "node: a client without the proxy CA gets a verification error" expect_re 'certificate|issuer' \
	in_vm node -e '
const http = require("http"), tls = require("tls");
const r = http.request({ host: "192.168.222.1", port: 3128, method: "CONNECT", path: "api.bench.test:443",
	headers: { "Host": "api.bench.test:443",
		"Proxy-Authorization": "Basic " + Buffer.from("proxy:" + process.env.T).toString("base64") } });
r.on("connect", (res, sock) => {
	if (res.statusCode !== 200) { console.log("CONNECT", res.statusCode); process.exit(1); }
	const t = tls.connect({ socket: sock, servername: "api.bench.test" }, () => { console.log("trusted?!"); process.exit(1); });
	t.on("error", (e) => { console.log(e.message); process.exit(0); });
});
r.end();
setTimeout(() => process.exit(1), 10000).unref();'

# ---- wget ----
if command -v wget >/dev/null; then
	check "wget (https_proxy, --ca-certificate)" expect_re '"path": "/get/wget"' \
		venv wget -q -O - -T 10 --ca-certificate="$PCA" https://api.bench.test/get/wget
else
	echo "skip wget: not installed"
fi

# ---- git over smart HTTP ----
check "git clone through interception (path rule, GIT_SSL_CAINFO)" bash -c "
	in_vm env GIT_SSL_CAINFO='$PCA' GIT_TERMINAL_PROMPT=0 timeout 60 git -c http.proxy='$PX' \
		clone -q https://git.bench.test/git/repo.git '$DIR/clone1' &&
	[ \"\$(git -C '$DIR/clone1' rev-parse HEAD)\" = \"\$(cat '$DIR/git/HEAD')\" ] &&
	git -C '$DIR/clone1' fsck --strict >/dev/null"
check "git: the clone's working tree is intact" bash -c "cmp '$DIR/clone1/data.txt' '$DIR/git/work/data.txt'"
check "git: a repository outside the path rule is refused" expect_re '403' bash -c "
	in_vm env GIT_SSL_CAINFO='$PCA' GIT_TERMINAL_PROMPT=0 timeout 30 git -c http.proxy='$PX' \
		ls-remote https://git.bench.test/git/other.git 2>&1"
check "git: push (receive-pack) is refused by the rule or the server" bash -c "
	cd '$DIR/clone1' && echo x >>README && git -c user.name=t -c user.email=t@t commit -qam x &&
	! in_vm env GIT_SSL_CAINFO='$PCA' GIT_TERMINAL_PROMPT=0 timeout 30 git -c http.proxy='$PX' push -q origin HEAD:main 2>&1"
check "git clone through a plain tunnel (host-level rule, the bench CA)" bash -c "
	in_vm env GIT_SSL_CAINFO='$CA' GIT_TERMINAL_PROMPT=0 timeout 60 git -c http.proxy='$PX' \
		clone -q https://plain.bench.test/git/repo.git '$DIR/clone2' &&
	[ \"\$(git -C '$DIR/clone2' rev-parse HEAD)\" = \"\$(cat '$DIR/git/HEAD')\" ]"
check "git clone through the TLS proxy port" bash -c "
	in_vm env GIT_SSL_CAINFO='$PCA' GIT_TERMINAL_PROMPT=0 timeout 60 git -c http.proxy='https://proxy:$T@192.168.222.1:3129' \
		-c http.proxySSLCAInfo='$PCA' clone -q https://git.bench.test/git/repo.git '$DIR/clone3' &&
	[ \"\$(git -C '$DIR/clone3' rev-parse HEAD)\" = \"\$(cat '$DIR/git/HEAD')\" ]"

# ---- openssl s_client ----
check "openssl s_client -proxy: verified against the proxy CA, request answered" expect_re '"path": "/get/ossl"' bash -c "
	printf 'GET /get/ossl HTTP/1.1\r\nHost: api.bench.test\r\nConnection: close\r\n\r\n' |
	in_vm timeout 10 openssl s_client -quiet -proxy $PROXY_ADDR -proxy_user proxy -proxy_pass pass:$T \
		-connect api.bench.test:443 -servername api.bench.test -CAfile '$PCA' -verify_return_error -ign_eof 2>&1"
check "openssl s_client -proxy: Verify return code 0" expect_re 'Verify return code: 0 \(ok\)' bash -c "
	in_vm timeout 10 openssl s_client -proxy $PROXY_ADDR -proxy_user proxy -proxy_pass pass:$T \
		-connect api.bench.test:443 -servername api.bench.test -CAfile '$PCA' -verify_return_error </dev/null 2>&1"

# ---- audit ----
sleep 0.3
check "audit: the git clone was judged request by request (intercept)" py_check "$AUDIT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
g = [r for r in rows if r["event"] == "request" and r["host"] == "git.bench.test"]
print(len(g), [(r["method"], r["path"], r["status"]) for r in g][:6])
assert any(r["path"] == "/git/repo.git/info/refs" and r["status"] == 200 and r["mode"] == "intercept" for r in g), g
assert any(r["path"] == "/git/repo.git/git-upload-pack" and r["method"] == "POST" and r["status"] == 200 for r in g), g
assert any(r["path"].startswith("/git/other.git") and r["status"] == 403 for r in g), g
EOF
check "the secret never appears in the audit log or the proxy's output" bash -c "! grep -qF '$SEC' '$AUDIT' '$DIR/proxy.log'"
bench_finish
