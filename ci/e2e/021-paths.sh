#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Path normalisation: the path is judged and forwarded in the same normalised
# form.  Dot segments (also spelled with %2e) cannot climb out of an allowed
# prefix; escapes of unreserved characters are decoded; an encoded slash stays
# encoded; malformed escapes are refused; the query is untouched.  Raw request
# bytes come from python so no client tidies them first.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client p1)
cli allow p1 --host plain.bench.test --port 80 --method GET --path '/ok/*' >/dev/null
cli allow p1 --host api.bench.test --port 80 >/dev/null

# fwd TARGET [HOST]: send "GET http://HOST TARGET" raw; print "STATUS upstream-target"
fwd() {
	vmpy - "$T" "$1" "${2:-plain.bench.test}" <<'EOF'
import json, sys, spxclient
tok, target, host = sys.argv[1:4]
c = spxclient.Conn()
c.send("GET http://%s%s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: %s\r\n\r\n"
       % (host, target, host, spxclient.basic(tok)))
try:
    st, h, b = c.read_response()
except spxclient.Closed:
    print("closed"); sys.exit(0)
if st == 200:
    print(st, json.loads(b)["target"])
else:
    print(st)
EOF
}

# denied escapes: 403 (judged as the path outside /ok/) or 400 (refused)
for t in '/ok/../nope' '/ok/%2e%2e/nope' '/ok/%2E%2E/nope' '/ok/.%2e/nope' '/ok/%2e./nope' \
	'/ok/./../nope' '/ok/sub/../../nope' '/ok/..' '/ok/%2e%2e' '/ok/%2e%2e/%2e%2e/ok/../nope'; do
	check "escape attempt $t is denied" expect "403|400" fwd "$t"
done

# allowed, forwarded in normalised form
check "/ok/./1 is forwarded as /ok/1" expect "200 /ok/1" fwd '/ok/./1'
check "/ok/x/../1 is forwarded as /ok/1" expect "200 /ok/1" fwd '/ok/x/../1'
check "/ok/x/%2e%2e/1 is forwarded as /ok/1" expect "200 /ok/1" fwd '/ok/x/%2e%2e/1'
check "/%6fk/1 (escaped unreserved) is judged and forwarded as /ok/1" expect "200 /ok/1" fwd '/%6fk/1'
check "/ok/%7euser is forwarded as /ok/~user" expect "200 /ok/~user" fwd '/ok/%7euser'
check "/ok/%41%2d%5f is forwarded as /ok/A-_" expect "200 /ok/A-_" fwd '/ok/%41%2d%5f'
check "/ok/%2e alone becomes /ok/" expect "200 /ok/" fwd '/ok/%2e'
check "an encoded slash stays encoded (upper-case hex)" expect "200 /ok/a%2Fb" fwd '/ok/a%2fb'
check "an encoded slash in a name stays: /ok/..a%2fb" expect "200 /ok/..a%2Fb" fwd '/ok/..a%2fb'
for t in '/ok/..%2fnope' '/ok/..%2F..%2Fnope' '/ok/%2e%2e%2fnope' '/ok/x%2F..%2F..%2Fnope' '/ok/..%5cnope'; do
	check "an encoded separator next to a dot segment ($t) is refused, never sent" expect "400" fwd "$t"
done
check "reserved escapes are kept (%20, %3F)" expect "200 /ok/a%20b%3F" fwd '/ok/a%20b%3f'
check "the query is not normalised" expect "200 /ok/1?x=../../etc&y=%2e%2e" fwd '/ok/1?x=../../etc&y=%2e%2e'
check "dot segments in the query do not change the path" expect "403|400" fwd '/nope?/ok/1'

# refused outright
for t in '/ok/%zz' '/ok/%4' '/ok/%' '/ok/%00' '/ok/%2' '/ok/a\b'; do
	check "malformed path $t is refused" expect "400|403" fwd "$t"
done
check "dot segments above the root: refused or resolved to /ok/1" expect "400|403|200 /ok/1" fwd '/../ok/1'
check "upper-case path does not match a lower-case rule" expect 403 fwd '/OK/1'

# request-target forms (rule without paths on api.bench.test)
check "empty path becomes /" expect "200 /" fwd '' api.bench.test
check "empty path with a query becomes /?q" expect "200 /?x=1" fwd '?x=1' api.bench.test
check "double slashes are kept" expect "200 /a//b//c" fwd '/a//b//c' api.bench.test
check "a fragment is refused or dropped" expect "400|200 /f" fwd '/f#frag' api.bench.test
check "userinfo in the URL is refused or not forwarded" py_check <<EOF
import subprocess
out = subprocess.run(["ip", "netns", "exec", "$VNS", "$PY", "$SPX_CI/rawsend.py", "--token", "$T", "--all",
    "--send", "b'GET http://user:pw@api.bench.test/u HTTP/1.1\\\\r\\\\nHost: api.bench.test\\\\r\\\\n' + PB + b'\\\\r\\\\n'"],
    capture_output=True, text=True).stdout
print(out[:400])
first = out.split("\n")[0]
assert " 400 " in first or " 403 " in first or (" 200 " in first and "user:pw" not in out), first
EOF
check "lower-case method is not GET" expect "400|403|405|501" bash -c \
	"rawsend --token '$T' --send \"b'get http://plain.bench.test/ok/1 HTTP/1.1\r\nHost: plain.bench.test\r\n' + PB + b'\r\n'\" | cut -d' ' -f2"
check "curl --path-as-is /ok/../nope is denied" expect "403|400" \
	http_code "$T" http://plain.bench.test/ok/../nope --path-as-is
check "curl /ok/%2e%2e/nope is denied" expect "403|400" \
	http_code "$T" 'http://plain.bench.test/ok/%2e%2e/nope' --path-as-is
no_dots() { ! grep -E ' REQ [^ ]+ conn=[0-9]+ GET (/nope|[^ ?]*(/\.\.?(/| |\?)|%2[eE]))' "$DIR/upstream.log"; }
check "no dot segment and no escaped path ever reached the upstream" no_dots

# ---- against nginx, which decodes %2F before it resolves dot segments ----
bench_nginx "  access_log $DIR/ngx/access.log;
  server {
    listen 198.18.0.20:80;
    location /v1/ { return 200 \"v1 uri=\$uri\\n\"; }
    location /admin/ { return 200 \"ADMIN uri=\$uri\\n\"; }
    location / { return 404 \"none uri=\$uri\\n\"; }
  }"
cli allow p1 --host fast.bench.test --port 80 --method GET --path '/v1/*' >/dev/null
# ngx PATH: the status, and for a 200 the path nginx's handler saw
ngx() {
	vmpy - "$T" "$1" <<'EOF'
import sys, spxclient
tok, target = sys.argv[1:3]
c = spxclient.Conn()
c.send("GET http://fast.bench.test%s HTTP/1.1\r\nHost: fast.bench.test\r\nProxy-Authorization: %s\r\n\r\n"
       % (target, spxclient.basic(tok)))
st, h, b = c.read_response()
print(st, b.decode(errors="replace").strip()) if st == 200 else print(st)
EOF
}
export -f ngx
check "nginx: /v1/models is served by its /v1/ handler" expect "200 v1 uri=/v1/models" ngx /v1/models
check "nginx: an encoded slash inside a name reaches /v1/" expect "200 v1 uri=/v1/group/project/issues" \
	ngx /v1/group%2fproject/issues
for t in '/v1/..%2Fadmin/users' '/v1/x%2F..%2F..%2Fadmin/users' '/v1/%2e%2e%2fadmin/users' '/admin/users'; do
	check "nginx: $t is refused" expect "400|403" ngx "$t"
done
check "nginx: its /admin/ handler was never reached" bash -c "! grep -q ' /admin\| /v1/[^ ]*%2[fF]\.\.\|\.\.%2[fF]' '$DIR/ngx/access.log'"
bench_finish
