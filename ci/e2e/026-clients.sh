#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real clients in the vm, configured the way users configure them: curl (proxy
# environment variables, --proxy-user, --proxy-anyauth, HTTP/1.0 CONNECT,
# --proxytunnel, parallel transfers), wget, python3 urllib and http.client,
# git clone/fetch over http and https, ApacheBench with keep-alive.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
SHA=$(bench_file big 16)
check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client apps)
cli allow apps --host api.bench.test >/dev/null
cli allow apps --host git.bench.test >/dev/null
cli allow apps --host plain.bench.test --port 80 >/dev/null
PURL="http://proxy:$T@$PROXY_ADDR"
GIT_HEAD=$(cat "$DIR/git/HEAD")
venv() { in_vm env "http_proxy=$PURL" "https_proxy=$PURL" "HTTPS_PROXY=$PURL" "$@"; }

# ---- curl ----
check "curl https via HTTPS_PROXY" expect_re '"server": "198\.18\.0\.10"' \
	venv curl -q -sS -m 10 --cacert "$CA" https://api.bench.test/curl-env
check "curl http via http_proxy" expect_re '"path": "/curl-env"' venv curl -q -sS -m 10 http://plain.bench.test/curl-env
check "curl --proxy-user" expect 200 in_vm curl -q -s -o /dev/null -w '%{http_code}' -m 10 --cacert "$CA" \
	-x "http://$PROXY_ADDR" --proxy-user "proxy:$T" https://api.bench.test/
check "curl --proxy-anyauth (407 challenge, then Basic)" expect 200 in_vm curl -q -s -o /dev/null -w '%{http_code}' -m 10 \
	--cacert "$CA" -x "http://$PROXY_ADDR" --proxy-user "proxy:$T" --proxy-anyauth https://api.bench.test/
check "curl --proxy-anyauth for plain http" expect 200 in_vm curl -q -s -o /dev/null -w '%{http_code}' -m 10 \
	-x "http://$PROXY_ADDR" --proxy-user "proxy:$T" --proxy-anyauth http://plain.bench.test/
check "curl --proxy1.0 (HTTP/1.0 CONNECT)" expect 200 in_vm curl -q -s -o /dev/null -w '%{http_code}' -m 10 \
	--cacert "$CA" --proxy1.0 "$PROXY_ADDR" --proxy-user "proxy:$T" https://api.bench.test/
check "curl --proxytunnel to port 80" expect_re '"scheme": "http"' pcurl "$T" --proxytunnel http://plain.bench.test/tunnel80
check "curl Bearer via --proxy-header" expect 200 in_vm curl -q -s -o /dev/null -w '%{http_code}' -m 10 --cacert "$CA" \
	-x "http://$PROXY_ADDR" --proxy-header "Proxy-Authorization: Bearer $T" https://api.bench.test/
check "curl PUT -T a file through a tunnel" expect_re "\"body_sha256\": \"$SHA\"" \
	pcurl "$T" -m 30 -T "$DIR/files/big" https://api.bench.test/put
check "curl 24 parallel transfers (-Z), mixed http/https" bash -c "
	urls=''; for i in \$(seq 12); do urls=\"\$urls https://api.bench.test/p\$i http://plain.bench.test/q\$i\"; done
	out=\$(ip netns exec $VNS curl -q -s -Z --parallel-max 24 -m 20 --cacert $CA -x $PURL -o /dev/null -w '%{http_code}\n' \$urls)
	echo \"\$out\" | sort | uniq -c; [ \$(echo \"\$out\" | grep -c '^200$') = 24 ]"
check "curl: denied host gives 403 with the reason" expect_re 'other\.bench\.test' pcurl "$T" http://other.bench.test/

# ---- wget ----
check "wget https via https_proxy" expect_re '"server": "198\.18\.0\.10"' \
	venv wget -q -O - -T 10 --tries=1 --ca-certificate="$CA" https://api.bench.test/wget
check "wget http via http_proxy" expect_re '"path": "/wget"' venv wget -q -O - -T 10 --tries=1 http://plain.bench.test/wget
check "wget --proxy-user/--proxy-password" expect_re '"path": "/wget2"' in_vm env "https_proxy=http://$PROXY_ADDR" \
	wget -q -O - -T 10 --tries=1 --ca-certificate="$CA" --proxy-user=proxy --proxy-password="$T" https://api.bench.test/wget2
check "wget 16 MiB download through a tunnel is intact" expect "$SHA" bash -c \
	"ip netns exec $VNS env https_proxy=$PURL wget -q -O - -T 30 --tries=1 --ca-certificate=$CA https://api.bench.test/file/big | sha256sum | cut -d' ' -f1"
check "wget sees 403 for a denied host" expect_re '403|Forbidden' bash -c \
	"ip netns exec $VNS env https_proxy=$PURL wget -O /dev/null -T 10 --tries=1 --ca-certificate=$CA https://other.bench.test/ 2>&1"

# ---- python ----
check "python3 urllib: http and https via ProxyHandler" vmpy - "$PURL" "$CA" <<'EOF'
import json, ssl, sys, urllib.request
purl, ca = sys.argv[1:3]
op = urllib.request.build_opener(urllib.request.ProxyHandler({"http": purl, "https": purl}),
                                 urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=ca)))
j = json.load(op.open("http://plain.bench.test/py?x=1", timeout=10))
assert j["target"] == "/py?x=1" and "proxy-authorization" not in j["headers"], j
j = json.load(op.open("https://api.bench.test/pys", timeout=10))
assert j["scheme"] == "https" and j["server"] == "198.18.0.10", j
j = json.load(op.open(urllib.request.Request("https://api.bench.test/post", data=b"x" * 100000), timeout=10))
assert j["method"] == "POST" and j["body_len"] == 100000, j
EOF
check "python3 urllib: proxy from the environment" vmpy - "$PURL" "$CA" <<'EOF'
import json, os, ssl, sys, urllib.request
purl, ca = sys.argv[1:3]
os.environ["https_proxy"] = purl
ctx = ssl.create_default_context(cafile=ca)
j = json.load(urllib.request.urlopen("https://api.bench.test/env", timeout=10, context=ctx))
assert j["path"] == "/env", j
EOF
check "python3 urllib: 403 for a denied host raises HTTPError 403" vmpy - "$PURL" "$CA" <<'EOF'
import sys, urllib.error, urllib.request
op = urllib.request.build_opener(urllib.request.ProxyHandler({"http": sys.argv[1]}))
try:
    op.open("http://other.bench.test/", timeout=10)
    raise SystemExit("no error")
except urllib.error.HTTPError as e:
    assert e.code == 403, e.code
EOF
check "python3 http.client set_tunnel with Proxy-Authorization" vmpy - "$T" "$CA" <<'EOF'
import http.client, json, ssl, sys, spxclient
tok, ca = sys.argv[1:3]
c = http.client.HTTPSConnection("192.168.222.1", 3128, timeout=10,
                                context=ssl.create_default_context(cafile=ca))
c.set_tunnel("api.bench.test", 443, headers={"Proxy-Authorization": spxclient.bearer(tok)})
for i in range(3):
    c.request("GET", "/tunnel/%d" % i)
    r = c.getresponse()
    j = json.loads(r.read())
    assert r.status == 200 and j["path"] == "/tunnel/%d" % i, (r.status, j)
assert j["conn_req"] >= 3  # one TLS connection, kept alive through the tunnel
EOF

# ---- git ----
gitvm() { in_vm env GIT_SSL_CAINFO="$CA" git -c "http.proxy=$PURL" "$@"; }
check "git clone over http through the proxy" bash -c "
	rm -rf $DIR/home/c1
	ip netns exec $VNS env HOME=$DIR/home git -c http.proxy=$PURL clone -q http://git.bench.test/git/repo.git $DIR/home/c1 &&
	[ \$(git -C $DIR/home/c1 rev-parse HEAD) = $GIT_HEAD ] && [ -s $DIR/home/c1/data.txt ]"
check "git clone over https through the proxy" bash -c "
	rm -rf $DIR/home/c2
	ip netns exec $VNS env HOME=$DIR/home GIT_SSL_CAINFO=$CA git -c http.proxy=$PURL clone -q https://git.bench.test/git/repo.git $DIR/home/c2 &&
	[ \$(git -C $DIR/home/c2 rev-parse HEAD) = $GIT_HEAD ]"
check "git clone with https_proxy from the environment" bash -c "
	rm -rf $DIR/home/c3
	ip netns exec $VNS env HOME=$DIR/home https_proxy=$PURL GIT_SSL_CAINFO=$CA git clone -q https://git.bench.test/git/repo.git $DIR/home/c3 &&
	[ \$(git -C $DIR/home/c3 rev-parse HEAD) = $GIT_HEAD ]"
check "git ls-remote through the proxy" expect_re "^$GIT_HEAD" gitvm ls-remote http://git.bench.test/git/repo.git HEAD
check "git fetch after new commits" bash -c "
	w=$DIR/git/work
	HOME=$DIR/home git -C \$w -c user.name=b -c user.email=b@b.test commit -q --allow-empty -m third &&
	HOME=$DIR/home git -C \$w push -q $DIR/git/repo.git main &&
	new=\$(git -C $DIR/git/repo.git rev-parse HEAD) &&
	ip netns exec $VNS env HOME=$DIR/home git -C $DIR/home/c1 -c http.proxy=$PURL fetch -q origin &&
	[ \$(git -C $DIR/home/c1 rev-parse origin/main) = \$new ]"
check "git against a host without a rule fails" bash -c "
	! ip netns exec $VNS env HOME=$DIR/home git -c http.proxy=$PURL ls-remote http://other.bench.test/git/repo.git >/dev/null 2>&1"
check "git without credentials fails" bash -c "
	! ip netns exec $VNS env HOME=$DIR/home GIT_TERMINAL_PROMPT=0 git -c http.proxy=http://$PROXY_ADDR ls-remote http://git.bench.test/git/repo.git >/dev/null 2>&1"

# ---- ApacheBench (HTTP/1.0 keep-alive through the proxy; a fixed-size body,
# since ab counts a length change as a failure) ----
if command -v ab >/dev/null; then
	check "ab -k: 500 requests through the proxy, none failed" bash -c "
		out=\$(ip netns exec $VNS timeout 20 ab -q -s 5 -k -n 500 -c 8 -X $PROXY_ADDR -P proxy:$T http://plain.bench.test/big?n=512 2>&1)
		echo \"\$out\" | grep -E 'Complete requests|Failed requests|Non-2xx|Keep-Alive requests'
		echo \"\$out\" | grep -qE '^Complete requests: +500' && echo \"\$out\" | grep -qE '^Failed requests: +0' &&
		! echo \"\$out\" | grep -q 'Non-2xx'"
fi
bench_finish
