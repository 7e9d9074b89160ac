#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The test bench itself, without the proxy: isolation of the vm namespace,
# the bench DNS, and every upstream endpoint the other tests rely on.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
SHA=$(bench_file f1 4)

check "vm cannot reach the net namespace directly (IPv4)" \
	bash -c "! ip netns exec $VNS curl -q -s -m 1 -o /dev/null http://198.18.0.10/"
check "vm cannot reach the net namespace directly (IPv6)" \
	bash -c "! ip netns exec $VNS curl -q -s -m 1 -o /dev/null 'http://[2001:2::10]/'"
check "vm cannot reach the bench DNS" \
	bash -c "! ip netns exec $VNS dig +time=1 +tries=1 @198.18.0.53 api.bench.test"
check "vm reaches the host address" in_vm bash -c "exec 3<>/dev/tcp/192.168.222.1/80"
check "vm reaches the host over IPv6" in_vm bash -c "exec 3<>/dev/tcp/fd00:222::1/80"
check "host resolves api.bench.test" expect 198.18.0.10 in_host dig +short api.bench.test
check "v6.bench.test has AAAA only" expect "2001:2::10" in_host dig +short v6.bench.test AAAA
check "v6.bench.test has no A" expect "" in_host dig +short v6.bench.test A
check "mapped.bench.test is ::ffff:127.0.0.1" expect "::ffff:127.0.0.1" in_host dig +short mapped.bench.test AAAA
check "wildcard zone answers" expect 198.18.0.10 in_host dig +short a.b.wild.bench.test
check "unknown name is NXDOMAIN, not forwarded" expect_re 'status: NXDOMAIN' in_host dig evilbench.test
check "rebind name flips between answers" bash -c "
	a=\$(ip netns exec $HNS dig +short rebind.bench.test); b=\$(ip netns exec $HNS dig +short rebind.bench.test)
	echo \"\$a \$b\"; [ \"\$a\" != \"\$b\" ]"
check "DNS queries are logged" bash -c "[ \$(grep -c 'query\[A\] api.bench.test from' '$DIR/dns.log') -ge 1 ]"

hc() { in_host curl -q -sS -m 10 --cacert "$CA" "$@"; }
check "echo: JSON with method, target, headers, body hash" py_check <<EOF
import json, subprocess, hashlib
out = subprocess.run(["ip", "netns", "exec", "$HNS", "curl", "-q", "-sS", "-m", "5",
    "-H", "X-Test: one", "--data-binary", "hello", "http://api.bench.test/p/a?q=1"],
    capture_output=True, check=True).stdout
j = json.loads(out)
assert j["method"] == "POST" and j["target"] == "/p/a?q=1" and j["path"] == "/p/a", j
assert j["headers"]["x-test"] == "one" and j["host"] == "api.bench.test", j
assert j["body_len"] == 5 and j["body_sha256"] == hashlib.sha256(b"hello").hexdigest(), j
assert j["server"] == "198.18.0.10" and j["scheme"] == "http" and j["peer"] == "198.18.0.1", j
EOF
check "echo decodes a chunked request body" expect_re '"body_len": 5,' \
	hc -H 'Transfer-Encoding: chunked' --data-binary hello http://api.bench.test/
check "HTTPS upstream verifies with the bench CA (443, 8443, IPv6)" bash -c "
	ip netns exec $HNS curl -q -sf -m 5 --cacert $CA https://other.bench.test/ | grep -q '\"tls\": \"TLSv1.3\"' &&
	ip netns exec $HNS curl -q -sf -m 5 --cacert $CA https://api.bench.test:8443/ | grep -q '\"port\": 8443' &&
	ip netns exec $HNS curl -q -sf -m 5 --cacert $CA 'https://[2001:2::10]/' | grep -q '\"server\": \"2001:2::10\"'"
check "HTTP on 8080" expect_re '"port": 8080' hc http://plain.bench.test:8080/
check "/big streams n bytes" expect 3000000 hc -o /dev/null -w '%{size_download}' 'http://api.bench.test/big?n=3000000'
check "/file serves a file intact" expect "$SHA" bash -c "ip netns exec $HNS curl -q -sS -m 10 --cacert $CA https://api.bench.test/file/f1 | sha256sum | cut -d' ' -f1"
check "/chunked is chunked, with trailer" bash -c "
	ip netns exec $HNS curl -q -sS -m 5 -D - -o /dev/null 'http://api.bench.test/chunked?trailer=1' | grep -qi 'transfer-encoding: chunked' &&
	[ \$(ip netns exec $HNS curl -q -sS -m 5 'http://api.bench.test/chunked?trailer=1' | wc -c) = 5021 ]"
check "/status answers the code asked for" expect 418 hc -o /dev/null -w '%{http_code}' 'http://api.bench.test/status?code=418'
check "/redirect is a 302 to another host" expect "302 http://other.bench.test/landed" \
	hc -o /dev/null -w '%{http_code} %{redirect_url}' http://api.bench.test/redirect
check "/slow waits" bash -c "t=\$(ip netns exec $HNS curl -q -sS -m 5 -o /dev/null -w '%{time_total}' 'http://api.bench.test/slow?ms=700'); echo \$t; awk -v t=\$t 'BEGIN{exit !(t >= 0.7)}'"
check "/sse events arrive spread out" py_check <<EOF
import subprocess, time
p = subprocess.Popen(["ip", "netns", "exec", "$HNS", "curl", "-q", "-sN", "-m", "5",
    "http://api.bench.test/sse?n=3&ms=400"], stdout=subprocess.PIPE)
t0 = time.time(); first = p.stdout.readline(); t1 = time.time()
rest = p.stdout.read(); t2 = time.time(); p.wait()
print(first, t1 - t0, t2 - t0)
assert first.startswith(b"data: 0") and t1 - t0 < 0.35 and t2 - t0 > 0.7
EOF
check "keep-alive: two requests share an upstream connection" py_check <<EOF
import json, subprocess
out = subprocess.run(["ip", "netns", "exec", "$HNS", "curl", "-q", "-sS", "-m", "5",
    "http://api.bench.test/a", "http://api.bench.test/b"], capture_output=True, check=True).stdout
dec = json.JSONDecoder(); s = out.decode().strip(); a, i = dec.raw_decode(s); b, _ = dec.raw_decode(s[i:].strip())
assert a["conn"] == b["conn"] and b["conn_req"] == 2, (a, b)
EOF
check "git clone from the bench git server (direct)" bash -c "
	rm -rf $DIR/direct-clone; ip netns exec $HNS env HOME=$DIR/home git clone -q http://git.bench.test/git/repo.git $DIR/direct-clone &&
	[ \$(git -C $DIR/direct-clone rev-parse HEAD) = \$(cat $DIR/git/HEAD) ]"
check "canary listeners answer on loopback and metadata" bash -c "
	ip netns exec $HNS curl -q -sf -m 3 http://127.0.0.1:22/ >/dev/null &&
	ip netns exec $HNS curl -q -sf -m 3 'http://[::1]/' >/dev/null &&
	ip netns exec $HNS curl -q -sf -m 3 http://169.254.169.254/ >/dev/null &&
	[ \$(grep -c ' CONN ' $DIR/canary.log) -ge 3 ]"
check "rawsend prints the first response line" expect "HTTP/1.1 200 OK" \
	in_host "$PY" "$SPX_CI/rawsend.py" --host 198.18.0.10 --port 80 \
	--send "b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'"
check "rawsend sees a close" expect "HTTP/1.1 200 OK
closed" in_host "$PY" "$SPX_CI/rawsend.py" --host 198.18.0.10 --port 80 --wait-close 3 \
	--send "b'GET /close HTTP/1.1\r\nHost: x\r\n\r\n'"
check "rawsend sees an open keep-alive connection" expect "HTTP/1.1 200 OK
open" in_host "$PY" "$SPX_CI/rawsend.py" --host 198.18.0.10 --port 80 --wait-close 1 \
	--send "b'GET / HTTP/1.1\r\nHost: x\r\n\r\n'"
bench_finish
