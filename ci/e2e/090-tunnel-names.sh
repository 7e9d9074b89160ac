#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# A host-level (spliced) tunnel judges the client's first bytes before they
# pass: nginx serves fast.bench.test and evil.bench.test on one address (a
# CDN front, shared hosting), a rule allows only fast.bench.test.  A TLS
# ClientHello naming evil.bench.test through CONNECT fast.bench.test:443
# (sent after the 200 or with the CONNECT head), one carrying
# encrypted_client_hello, and a plain HTTP request with Host:
# evil.bench.test through CONNECT fast.bench.test:80 are refused, reach
# neither vhost, and are audited as deny naming both names and counted in
# /metrics.  Still working: the matching name (curl), TLS without a server
# name (openssl s_client -noservername), a CONNECT to the address with any
# name, a server-speaks-first service (SSH-like banner) and garbage first
# bytes, spliced as before.  A ClientHello begun and never finished ends
# after 15 s with nothing passed, while the upstream's bytes still flow.
# After a HelloRetryRequest (nginx on 8443 takes only P-256) the client's
# second ClientHello is judged as the first was, and one never finished
# ends after 15 s; a server whose first message never shows whether it is
# a retry (empty handshake records) is refused.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_need nginx || { echo "no nginx"; echo "0 passed, 1 failed"; exit 1; }
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish

# nginx in the net namespace: two names on one address, TLS and plain
bench_nginx "  ssl_certificate $DIR/pki/srv.crt;
  ssl_certificate_key $DIR/pki/srv.key;
  server { listen 198.18.0.20:443 ssl default_server; listen 198.18.0.20:80 default_server;
    server_name fast.bench.test; access_log $DIR/ngx/fast.log;
    return 200 \"allowed tenant\\n\"; }
  server { listen 198.18.0.20:443 ssl; listen 198.18.0.20:80;
    server_name evil.bench.test; access_log $DIR/ngx/evil.log;
    return 200 \"OTHER TENANT host=\$host\\n\"; }
  # TLS 1.3, P-256 only: a client that offers an X25519 key share first (OpenSSL,
  # curl, python) gets a HelloRetryRequest
  server { listen 198.18.0.20:8443 ssl default_server; ssl_ecdh_curve prime256v1; ssl_protocols TLSv1.3;
    server_name fast.bench.test; access_log $DIR/ngx/fast.log;
    return 200 \"allowed tenant\\n\"; }
  server { listen 198.18.0.20:8443 ssl; ssl_ecdh_curve prime256v1; ssl_protocols TLSv1.3;
    server_name evil.bench.test; access_log $DIR/ngx/evil.log;
    return 200 \"OTHER TENANT host=\$host\\n\"; }"
# hand-made servers on fast.bench.test's address, one per port, each with
# its log: 2222 speaks first (as SSH does), then echoes one read, and logs
# every byte it got (banner.log); 2223 closes each connection at once and
# logs each accept (closer.log); 2224 answers a ClientHello with empty
# handshake records only; 2225 answers one with a HelloRetryRequest split
# over three records, then logs the first bytes of what comes next (tls.log)
cat >"$DIR/servers.py" <<'PYEOF'
import socket, struct, sys, threading
banner_log, closer_log, tls_log = logs = [open(p, "a", buffering=1) for p in sys.argv[1:4]]
HRR = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")

def split_hrr():
    ext = struct.pack("!HHH", 0x2b, 2, 0x0304) + struct.pack("!HHH", 0x33, 2, 0x17)
    body = b"\x03\x03" + HRR + b"\x00\x13\x01\x00" + struct.pack("!H", len(ext)) + ext
    msg = b"\x02" + struct.pack("!I", len(body))[1:] + body
    return b"".join(b"\x16\x03\x03" + struct.pack("!H", len(p)) + p
                    for p in (msg[:10], msg[10:30], msg[30:]))

def banner(c):
    c.settimeout(40)
    c.sendall(b"SSH-2.0-bench_banner\r\n")
    d = c.recv(65536)
    banner_log.write("RECV %s\n" % (d.hex() if d else "EOF"))
    if d:
        c.sendall(b"echo:" + d)

def closer(c):
    closer_log.write("ACCEPT\n")

def empty_records(c):
    c.settimeout(30)
    if c.recv(65536):
        c.sendall(b"\x16\x03\x03\x00\x00" * 1000)
        c.recv(1)

def retry_split(c):
    c.settimeout(30)
    if c.recv(65536):
        c.sendall(split_hrr())
        d = c.recv(65536)
        tls_log.write("SECOND %s\n" % (d[:6].hex() if d else "EOF"))

def serve(c, fn):
    try:
        fn(c)
    except OSError as e:
        if fn is banner:
            banner_log.write("ERR %s\n" % e)
    c.close()

def loop(ls, fn):
    while True:
        c, _ = ls.accept()
        threading.Thread(target=serve, args=(c, fn), daemon=True).start()

for port, fn in ((2222, banner), (2223, closer), (2224, empty_records), (2225, retry_split)):
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("198.18.0.20", port))
    ls.listen(16)
    threading.Thread(target=loop, args=(ls, fn), daemon=True).start()
for log in logs:
    log.write("READY\n")
threading.Event().wait()
PYEOF
: >"$DIR/banner.log"
spawn "$NNS" "$PY" "$DIR/servers.py" "$DIR/banner.log" "$DIR/closer.log" "$DIR/tls.log"
wait_for 10 grep -q READY "$DIR/tls.log"
wait_for 10 in_net bash -c 'exec 3<>/dev/tcp/198.18.0.20/443'

T=$(new_client p1)
cli allow p1 --host fast.bench.test --port 443 --port 80 --port 2222 --port 2223 --port 2224 \
	--port 2225 --port 8443 >/dev/null
cli allow p1 --host 198.18.0.20 --port 443 >/dev/null
export T

# the client side, in the vm: one mode per way of using a tunnel
cat >"$DIR/t.py" <<'PYEOF'
import socket, ssl, struct, sys, time
import spxclient
mode, tok, target = sys.argv[1:4]
arg = sys.argv[4] if len(sys.argv) > 4 else ""
CA = "%s/pki/ca.crt" % sys.argv[5] if len(sys.argv) > 5 else None

def connect(early=b""):
    c = spxclient.Conn(timeout=30)
    c.send(("CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: %s\r\n\r\n"
            % (target, target, spxclient.basic(tok))).encode() + early)
    r = b""
    while b"\r\n\r\n" not in r:
        d = c.sock.recv(1)
        if not d:
            raise SystemExit("closed before the CONNECT answer")
        r += d
    assert r.startswith(b"HTTP/1.1 200"), r
    return c.sock

def rest(s):
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except OSError as e:
        out += ("<%s>" % e.__class__.__name__).encode()
    return out

def hello_retried(s):
    # a ClientHello naming the CONNECT host; did a HelloRetryRequest come
    # back (a ServerHello with RFC 8446's special random)?
    s.sendall(spxclient.client_hello(target.rsplit(":", 1)[0]))
    got = b""
    while len(got) < 43:
        d = s.recv(65536)
        if not d:
            break
        got += d
    hrr = bytes.fromhex("cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c")
    return got[0:1] == b"\x16" and got[5:6] == b"\x02" and got[11:43] == hrr

def with_ech(h):
    # one more extension, encrypted_client_hello (0xfe0d), at the end
    ext = struct.pack("!HH", 0xfe0d, 8) + b"\x00" * 8
    body = bytearray(h[9:])
    p = 34
    p += 1 + body[p]
    p += 2 + struct.unpack("!H", body[p:p + 2])[0]
    p += 1 + body[p]
    elen = struct.unpack("!H", body[p:p + 2])[0]
    body[p:p + 2] = struct.pack("!H", elen + len(ext))
    body += ext
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + bytes(body)
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs

if mode == "tls":          # full handshake naming arg
    s = connect()
    ctx = ssl.create_default_context(cafile=CA)
    try:
        t = ctx.wrap_socket(s, server_hostname=arg)
        t.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % arg).encode())
        print("answer:", rest(t).split(b"\r\n\r\n", 1)[-1].decode().strip())
    except ssl.SSLError as e:
        print("refused:", e.reason)
elif mode == "early":      # the hello sent with the CONNECT head
    s = connect(spxclient.client_hello(arg))
    print("got:", rest(s).hex() or "nothing")
elif mode == "ech":         # what comes back first: an alert, or the ServerHello
    s = connect()
    s.sendall(with_ech(spxclient.client_hello(arg)))
    s.settimeout(10)
    try:
        got = s.recv(65536)
    except OSError as e:
        got = b""
    got = got if not got.startswith(b"\x16") else got[:3]
    print("got:", got.hex() or "nothing")
elif mode == "http":       # a request with Host: arg
    s = connect()
    s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % arg).encode())
    out = rest(s)
    print(out.split(b"\r\n")[0].decode(), "~", out.split(b"\r\n\r\n", 1)[-1].decode().strip())
elif mode in ("keepalive", "pipelined"):
    # GET /ka with the CONNECT host, then with Host: arg, on one tunnel
    # (pipelined: both in one write); each answer as "status ~ body"
    s = connect()
    reqs = [("GET /ka HTTP/1.1\r\nHost: %s\r\n\r\n" % h).encode()
            for h in (target.rsplit(":", 1)[0], arg)]
    f = s.makefile("rb")
    if mode == "pipelined":
        s.sendall(b"".join(reqs))
    out = []
    for r in reqs:
        if mode == "keepalive":
            s.sendall(r)
        status = f.readline()
        if not status:
            out.append("closed")
            break
        n = 0
        while True:
            h = f.readline()
            if h in (b"\r\n", b"\n", b""):
                break
            k, _, v = h.decode().partition(":")
            if k.strip().lower() == "content-length":
                n = int(v)
        out.append("%s ~ %s" % (status.decode().split(" ", 1)[1].strip(),
                                f.read(n).decode().strip()))
    print(" ; ".join(out))
elif mode == "h2c":        # HTTP/2 prior knowledge: preface and SETTINGS
    s = connect()
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04" + bytes(5))
    print("got:", rest(s).hex() or "nothing")
elif mode == "hrr":        # a hello naming the CONNECT host; after the
    # server's HelloRetryRequest, a second one naming arg (after a CCS)
    s = connect()
    s.settimeout(10)
    print("retry:", "yes" if hello_retried(s) else "no")
    s.sendall(b"\x14\x03\x03\x00\x01\x01" + spxclient.client_hello(arg))
    try:
        got = s.recv(65536)
    except OSError:
        got = b""
    print("got:", got.hex() or "nothing")
elif mode == "hrr-stall":  # after the HelloRetryRequest, a CCS and a
    # second hello cut short, then nothing: how long until the close
    s = connect()
    retry = hello_retried(s)
    s.sendall(b"\x14\x03\x03\x00\x01\x01" + spxclient.client_hello(target.rsplit(":", 1)[0])[:60])
    t0 = time.monotonic()
    rest(s)
    print("retry: %s closed after %d s" % ("yes" if retry else "no", time.monotonic() - t0))
elif mode == "split-hrr":  # the server's first message whole, however
    # many records it came in, then a CCS and a second hello naming arg
    s = connect()
    s.sendall(spxclient.client_hello(target.rsplit(":", 1)[0]))
    s.settimeout(10)
    got, hs = b"", b""
    while len(hs) < 4 or len(hs) < 4 + int.from_bytes(hs[1:4], "big"):
        while len(got) < 5 or len(got) < 5 + struct.unpack("!H", got[3:5])[0]:
            d = s.recv(65536)
            if not d:
                raise SystemExit("closed in the server's first message")
            got += d
        n = struct.unpack("!H", got[3:5])[0]
        hs, got = hs + got[5:5 + n], got[5 + n:]
    print("retry:", "yes" if hs[0] == 2 and hs[6:38] == bytes.fromhex(
        "cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c") else "no")
    s.sendall(b"\x14\x03\x03\x00\x01\x01" + spxclient.client_hello(arg))
    print("got:", rest(s).hex() or "nothing")
elif mode == "banner":     # read the banner first, then send arg (hex)
    s = connect()
    b = b""
    while not b.endswith(b"\r\n"):
        b += s.recv(1)
    s.sendall(bytes.fromhex(arg))
    print(b.decode().strip(), "~", rest(s).decode(errors="replace"))
elif mode == "late-http":  # a request sent once the upstream has closed
    s = connect()
    time.sleep(0.5)
    s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % target).encode())
    print(rest(s).split(b"\r\n")[0].decode())
elif mode == "stall":      # a banner read, then a ClientHello cut short
    s = connect()
    b = b""
    while not b.endswith(b"\r\n"):
        b += s.recv(1)
    s.sendall(spxclient.client_hello("fast.bench.test")[:60])
    t0 = time.monotonic()
    rest(s)
    print("banner %s closed after %d s" % (b.decode().strip(), time.monotonic() - t0))
PYEOF
tpy() { vmpy "$DIR/t.py" "$@"; }
export -f tpy

# audit RE: a close record of a tunnel to fast.bench.test whose
# "decision reason" matches RE
audit() {
	"$PY" - "$AUDIT" "$1" <<'EOF'
import json, re, sys
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event") == "close" and r.get("mode") == "tunnel" and \
            re.search(sys.argv[2], "%s %s" % (r["decision"], r["reason"])):
        print("%s %s %s bytes_in=%s" % (r["host"], r["decision"], r["reason"], r["bytes_in"]))
        sys.exit(0)
sys.exit(1)
EOF
}
# audit_close_reason TEXT: a tunnel's close record gives TEXT as its reason
audit_close_reason() {
	"$PY" - "$AUDIT" "$1" <<'EOF'
import json, sys
sys.exit(0 if any(r.get("event") == "close" and r.get("reason") == sys.argv[2]
                  for r in map(json.loads, open(sys.argv[1]))) else 1)
EOF
}
hits() { wc -l <"$DIR/ngx/$1.log" 2>/dev/null || echo 0; }
refused() { api GET /metrics | sed -n 's/^slicer_tunnel_names_refused_total //p'; }
export -f audit audit_close_reason hits refused

check "the allowed name through its tunnel (curl)" expect "allowed tenant" \
	pcurl "$T" https://fast.bench.test/
check "TLS naming evil.bench.test in CONNECT fast.bench.test:443: refused" \
	expect_re "^refused: TLSV1_ALERT_ACCESS_DENIED" tpy tls "$T" fast.bench.test:443 evil.bench.test "$DIR"
check "  the same hello sent with the CONNECT head: refused" \
	expect "got: 15030300020231" tpy early "$T" fast.bench.test:443 evil.bench.test
check "  neither reached the other vhost" expect 0 hits evil
check "  audited: deny, both names, nothing passed" wait_for 5 audit \
	"^deny TLS server name evil.bench.test is not the CONNECT host fast.bench.test"
check "  the record says nothing passed" expect_re "bytes_in=0$" audit \
	"^deny TLS server name evil.bench.test"
check "ECH in the hello (the real name hidden): refused" \
	expect "got: 15030300020231" tpy ech "$T" fast.bench.test:443 fast.bench.test
check "  audited" wait_for 5 audit "^deny TLS ClientHello with encrypted_client_hello"
check "TLS without a server name passes (openssl s_client -noservername)" expect_re "allowed tenant" \
	bash -c "printf 'GET / HTTP/1.1\r\nHost: fast.bench.test\r\nConnection: close\r\n\r\n' |
	in_vm timeout 15 openssl s_client -quiet -noservername -CAfile '$CA' -connect fast.bench.test:443 \
		-proxy '$PROXY_ADDR' -proxy_user proxy -proxy_pass 'pass:$T' 2>&1"
check "plain HTTP, Host: evil.bench.test in CONNECT fast.bench.test:80: 403" \
	expect "HTTP/1.1 403 Forbidden ~ slicer-proxy: HTTP request host evil.bench.test is not the CONNECT host fast.bench.test" \
	tpy http "$T" fast.bench.test:80 evil.bench.test
check "  the other vhost still saw nothing" expect 0 hits evil
check "  audited" wait_for 5 audit "^deny HTTP request host evil.bench.test is not the CONNECT host"
check "plain HTTP naming the CONNECT host passes (curl -p)" expect "allowed tenant" \
	pcurl "$T" -p http://fast.bench.test/
check "refusals counted in slicer_tunnel_names_refused_total" expect 4 refused
# plain HTTP in a host-level tunnel is judged request by request: a later
# request on the kept-alive tunnel cannot name the other vhost either
check "kept-alive plain tunnel: a second request naming evil.bench.test gets 421" \
	expect "200 OK ~ allowed tenant ; 421 Misdirected Request ~ slicer-proxy: denied: the request names another host than the tunnel" \
	tpy keepalive "$T" fast.bench.test:80 evil.bench.test
check "  the same pipelined behind the first in one write" \
	expect "200 OK ~ allowed tenant ; 421 Misdirected Request ~ slicer-proxy: denied: the request names another host than the tunnel" \
	tpy pipelined "$T" fast.bench.test:80 evil.bench.test
check "  the other vhost saw neither" expect 0 hits evil
check "  two requests with the CONNECT host on one tunnel both pass" \
	expect "200 OK ~ allowed tenant ; 200 OK ~ allowed tenant" \
	tpy keepalive "$T" fast.bench.test:80 fast.bench.test
# audit_req PATH: "decision status reason mode" of the plain requests to
# fast.bench.test for PATH, one line each, and the count of connections
# they came on
audit_req() {
	"$PY" - "$AUDIT" "$1" <<'EOF'
import json, sys
conns = set()
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r.get("event") == "request" and r.get("scheme") == "http" and \
            r.get("host") == "fast.bench.test" and r.get("path") == sys.argv[2]:
        conns.add(r["conn"])
        print(r["decision"], r["status"], r["reason"], r["mode"])
print("conns", len(conns))
EOF
}
export -f audit_req
check "  curl -p with two URLs: one tunnel, each request audited" \
	expect "allowed tenant
allowed tenant" pcurl "$T" -p http://fast.bench.test/one http://fast.bench.test/one
check "  its records" wait_for 5 expect "allow 200 None intercept
allow 200 None intercept
conns 1" audit_req /one
check "HTTP/2 in the clear from the start (prior knowledge): refused" \
	expect "got: nothing" tpy h2c "$T" fast.bench.test:80
check "  audited" wait_for 5 audit "^deny HTTP/2 without TLS \\(prior knowledge\\) in a tunnel to fast.bench.test"
check "a server that speaks first: its banner before the client says anything" \
	expect "SSH-2.0-bench_banner ~ echo:SSH-2.0-client" tpy banner "$T" fast.bench.test:2222 \
	"$(printf 'SSH-2.0-client\r\n' | od -An -tx1 | tr -d ' \n')"
check "garbage first bytes pass as they are" \
	expect "SSH-2.0-bench_banner ~ echo:$(printf '\x01\x02junk')" tpy banner "$T" fast.bench.test:2222 01026a756e6b
# (the second hello's 15 s run meanwhile)
tpy hrr-stall "$T" fast.bench.test:8443 >"$DIR/hrr-stall.out" 2>&1 &
HRR_STALL_PID=$!
check "a ClientHello cut short and left: closed after 15 s, the banner got through" \
	expect_re "^banner SSH-2.0-bench_banner closed after 1[5-9] s" tpy stall "$T" fast.bench.test:2222
check "  nothing of it reached the upstream" expect 2 grep -c "^RECV [0-9a-f]" "$DIR/banner.log"
check "  audited" wait_for 5 audit "^error the client's first bytes in the tunnel were not whole"
wait "$HRR_STALL_PID"
check "a second ClientHello cut short and left after a HelloRetryRequest: closed after 15 s" \
	expect_re "^retry: yes closed after 1[5-9] s" cat "$DIR/hrr-stall.out"
check "  audited" wait_for 5 audit \
	"^error the client's second ClientHello in the tunnel was not whole after 15 s \\(none of it passed\\)"
# a server whose first message never shows whether it is a retry (empty
# handshake records, which RFC 8446 forbids): refused, none of it passed
check "a server answering with empty handshake records: refused with an alert" \
	expect "got: 15030300020231" tpy early "$T" fast.bench.test:2224 fast.bench.test
check "  audited" wait_for 5 audit \
	"^deny the server's first handshake message in the tunnel to fast.bench.test was not whole after 4096 bytes"
# a HelloRetryRequest split over three records is followed across them
check "a HelloRetryRequest in three records, then a second hello naming evil.bench.test: refused" \
	expect "retry: yes
got: 15030300020231" tpy split-hrr "$T" fast.bench.test:2225 evil.bench.test
check "  none of it reached the server" wait_for 5 grep -qx "SECOND EOF" "$DIR/tls.log"
check "  audited" wait_for 5 audit \
	"^deny after a HelloRetryRequest: TLS server name evil.bench.test is not the CONNECT host"
check "  a second hello naming the CONNECT host passes (its CCS first)" \
	expect "retry: yes
got: nothing" tpy split-hrr "$T" fast.bench.test:2225 fast.bench.test
check "  the server got it" wait_for 5 grep -qx "SECOND 140303000101" "$DIR/tls.log"
# a HelloRetryRequest: the second ClientHello is judged as the first was
check "HelloRetryRequest, then a second hello naming evil.bench.test: refused" \
	expect "retry: yes
got: 15030300020231" tpy hrr "$T" fast.bench.test:8443 evil.bench.test
check "  audited" wait_for 5 audit \
	"^deny after a HelloRetryRequest: TLS server name evil.bench.test is not the CONNECT host fast.bench.test"
check "  a second hello naming the CONNECT host passes on to the server" \
	expect_re "^retry: yes
got: 1503030002" tpy hrr "$T" fast.bench.test:8443 fast.bench.test
check "  a real client through the retry (curl, X25519 offered, P-256 taken)" \
	expect "allowed tenant" pcurl "$T" https://fast.bench.test:8443/
check "  python's ssl through the retry" \
	expect "answer: allowed tenant" tpy tls "$T" fast.bench.test:8443 fast.bench.test "$DIR"
check "  the other vhost saw none of it" expect 0 hits evil
check "an upstream that closed before the first HTTP request: its end reaches the client, as spliced" \
	expect "" tpy late-http "$T" fast.bench.test:2223
check "  and it is not dialled again for the request" expect 1 grep -c ACCEPT "$DIR/closer.log"
check "  audited" wait_for 5 audit_close_reason "tunnel: the upstream ended before the client's first request"
check "HTTP after the server spoke first: refused (no request came before it)" \
	expect_re "^SSH-2.0-bench_banner ~ HTTP/1.1 403 Forbidden" tpy banner "$T" fast.bench.test:2222 \
	"$(printf 'GET / HTTP/1.1\r\nHost: fast.bench.test:2222\r\n\r\n' | od -An -tx1 | tr -d ' \n')"
check "  nothing of it reached the upstream" expect 2 grep -c "^RECV [0-9a-f]" "$DIR/banner.log"
check "  audited" wait_for 5 audit "^deny the upstream spoke before the client's HTTP request"
check "refusals counted: five more" expect 9 refused
check "the other vhost never saw a request" expect 0 hits evil
check "a CONNECT to the address takes any name (its rule allowed the address)" \
	expect "answer: OTHER TENANT host=evil.bench.test" tpy tls "$T" 198.18.0.20:443 evil.bench.test "$DIR"
check "  (the one request the other vhost saw)" expect 1 hits evil

# --tunnel-ech allow: a browser's GREASE extension (the outer name is the
# real one) passes; an outer name that is another host is still refused
stop_proxy
check "restart with --tunnel-ech allow" start_proxy --tunnel-ech allow
check "ECH in a hello naming the CONNECT host: passes, the server answers" \
	expect_re "^got: 160303" tpy ech "$T" fast.bench.test:443 fast.bench.test
check "ECH in a hello naming another host: still refused" \
	expect "got: 15030300020231" tpy ech "$T" fast.bench.test:443 evil.bench.test
check "  the other vhost still saw only the one request" expect 1 hits evil
bad_ech() {
	local out rc
	out=$(ip netns exec "$HNS" timeout 5 "$P" up --bind 192.168.222.1 --http-port 3150 \
		--api "$DIR/bad.sock" --state-dir "$DIR/state-bad" --tunnel-ech maybe 2>&1)
	rc=$?
	echo "$out" | head -2
	[ $rc -eq 1 ] && echo "$out" | grep -qF -- "invalid --tunnel-ech: 'maybe' (refuse or allow)"
}
check "--tunnel-ech maybe is refused" bad_ech
bench_finish
