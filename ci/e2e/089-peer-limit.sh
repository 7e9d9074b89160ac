#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One address (a VM) holds at most --max-conns-per-peer client connections,
# spread over the event loops: beyond that a new connection is answered 429
# at once (on the plain and the TLS port), audited and counted, while
# another address is served as before; beyond 64 refusals in progress per
# loop, further connections are closed unanswered (counted only); the
# slots come back as connections close; bad values of the option are
# refused by name.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts with --max-conns-per-peer 20 and two loops" \
	start_proxy --workers 2 --max-conns-per-peer 20 --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
cli allow vm1 --host api.bench.test >/dev/null
cli allow vm1 --host plain.bench.test >/dev/null
# a second address of the vm, for "another VM"
ip -n "$VNS" addr add 192.168.222.3/24 dev eth0
metric() { api GET /metrics | sed -n "s/^$1 \([0-9][0-9]*\)\$/\1/p"; }

# hold.py N SRC HOLD_FILE: N CONNECTs to api.bench.test:443 from SRC at once;
# prints "200 n" / "429 n" counts and the first 429 body; keeps the 200s
# open until HOLD_FILE is gone (bounded: 60 s)
cat >"$DIR/hold.py" <<'EOF'
import os, socket, sys, threading, time, spxclient
tok, n, src, hold = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
res, conns = [None] * n, [None] * n
def one(i):
    try:
        # one connection from src (spxclient.Conn would make its own)
        c = spxclient.Conn.__new__(spxclient.Conn)
        c.sock = socket.create_connection(spxclient.PROXY, timeout=10,
                                          source_address=(src, 0))
        c.buf, c.timeout = b"", 10.0
        st, h, b = c.connect("api.bench.test:443", tok)
        res[i] = (st, b.decode(errors="replace").strip())
        conns[i] = c
    except Exception as e:
        res[i] = ("error", repr(e))
th = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in th: t.start()
for t in th: t.join(30)
codes = {}
for r in res:
    codes[str(r[0])] = codes.get(str(r[0]), 0) + 1
print(" ".join("%s %d" % kv for kv in sorted(codes.items())))
print("body:", next((r[1] for r in res if r[0] == 429), "-"))
sys.stdout.flush()
end = time.time() + 60
while os.path.exists(hold) and time.time() < end:
    time.sleep(0.05)
EOF
touch "$DIR/hold1"
in_vm env PYTHONPATH="$SPX_CI" "$PY" "$DIR/hold.py" "$T" 60 192.168.222.2 "$DIR/hold1" >"$DIR/hold1.out" 2>&1 &
H1=$!
SPX_PIDS+=("$H1")
wait_for 30 grep -q '^body:' "$DIR/hold1.out"
check "60 CONNECTs at once from one address: 20 held (200), 40 answered 429" bash -c \
	"cat '$DIR/hold1.out'; head -1 '$DIR/hold1.out' | grep -qx '200 20 429 40'"
check "  the 429 says why, naming the address and the limit" \
	grep -q 'body: slicer-proxy: too many connections from 192.168.222.2 (at most 20)' "$DIR/hold1.out"
check "  another address is served meanwhile (5 of 5)" bash -c \
	"touch '$DIR/hold2'; (sleep 1; rm -f '$DIR/hold2') & in_vm env PYTHONPATH='$SPX_CI' '$PY' '$DIR/hold.py' '$T' 5 192.168.222.3 '$DIR/hold2' | tee /dev/stderr | head -1 | grep -qx '200 5'"
check "  the TLS port refuses the full address too (429 inside TLS)" bash -c "
	in_vm curl -q -sS -m 10 --proxy-cacert '$PCA' -x 'https://proxy:$T@192.168.222.1:3129' \
		-o /dev/null -w '%{http_code}' http://plain.bench.test/x | tee /dev/stderr | grep -qx 429"
check "  /metrics counts each refusal" expect 41 metric slicer_peer_limited_total
check "  each one is audited (event limit)" bash -c \
	"[ \"\$(grep -c '\"event\":\"limit\".*too many connections from 192.168.222.2' '$AUDIT')\" = 41 ]"
# the TLS port under a burst: a connection refused with an answer gets its
# handshake and the 429; one beyond the refusals in progress is closed
# before any handshake (no TLS work spent on it, nothing kept)
check "200 at once on the TLS port: each one answered 429 or closed before its handshake" bash -c "
	in_vm '$PY' - '$T' '$PCA' '$DIR/tls429' <<'EOF'
import base64, socket, ssl, sys, threading, time
tok, ca, keep = sys.argv[1:4]
ctx = ssl.create_default_context(cafile=ca)
auth = 'Basic ' + base64.b64encode(('proxy:' + tok).encode()).decode()
res, socks = [None] * 200, []
def one(i):
    s = socket.create_connection(('192.168.222.1', 3129), timeout=10)
    socks.append(s)
    try:
        t = ctx.wrap_socket(s, server_hostname='192.168.222.1')
    except (ssl.SSLError, OSError) as e:
        res[i] = 'no-handshake'
        return
    socks.append(t)
    try:
        t.sendall(('GET http://plain.bench.test/x HTTP/1.1\\r\\nHost: plain.bench.test\\r\\n'
                   'Proxy-Authorization: %s\\r\\n\\r\\n' % auth).encode())
        d = t.recv(200)
        res[i] = d.split(b' ')[1].decode() if d.startswith(b'HTTP/1.1 ') else 'no-answer'
    except (ssl.SSLError, OSError):
        res[i] = 'no-answer'
th = [threading.Thread(target=one, args=(i,)) for i in range(200)]
for t in th: t.start()
for t in th: t.join(30)
out = {}
for r in res:
    out[r] = out.get(r, 0) + 1
print(out)
open(keep, 'w').write('%d' % out.get('429', 0))
assert set(out) <= {'429', 'no-handshake'}, out
assert 1 <= out.get('429', 0) <= 128 and out.get('no-handshake', 0) >= 72, out
EOF
"
# refusals take a moment each (the answer goes out, the close lingers for
# what the client still sends): at most 64 at once per loop and address;
# beyond that a connection is closed without an answer, and only counted
check "400 more at once: 64 per loop answered 429, the rest closed unanswered; all counted" bash -c "
	touch '$DIR/hold5'; (sleep 2; rm -f '$DIR/hold5') &
	out=\$(in_vm env PYTHONPATH='$SPX_CI' '$PY' '$DIR/hold.py' '$T' 400 192.168.222.2 '$DIR/hold5' | head -1)
	echo \"\$out\"
	a=\$(echo \"\$out\" | grep -o '429 [0-9]*' | cut -d' ' -f2); e=\$(echo \"\$out\" | grep -o 'error [0-9]*' | cut -d' ' -f2)
	m=\$(curl -q -sS -m 10 --unix-socket '$S' http://x/metrics | sed -n 's/^slicer_peer_limited_total //p')
	l=\$(grep -c '\"event\":\"limit\"' '$AUDIT')
	t=\$(cat '$DIR/tls429')
	echo \"answered \$a dropped \$e metric \$m audited \$l\"
	[ \$((a + e)) = 400 ] && [ \"\$a\" -ge 64 ] && [ \"\$a\" -le 128 ] && [ \"\$e\" -ge 272 ] &&
		[ \"\$m\" = \$((241 + 400)) ] && [ \"\$l\" = \$((41 + t + a)) ]"
rm -f "$DIR/hold1"
wait "$H1"
wait_for 10 bash -c "[ \"\$(api GET /healthz | grep -o '\"connections\": *[0-9]*' | grep -o '[0-9]*\$')\" = 0 ]"
check "once they close, the address gets its 20 again" bash -c \
	"touch '$DIR/hold3'; (sleep 1; rm -f '$DIR/hold3') & in_vm env PYTHONPATH='$SPX_CI' '$PY' '$DIR/hold.py' '$T' 60 192.168.222.2 '$DIR/hold3' | tee /dev/stderr | head -1 | grep -qx '200 20 429 40'"
stop_proxy TERM

# bad_value V: up refuses it at once, naming the option
# bad_value V [OPTION RANGE]: up refuses V for OPTION at once, naming it
bad_value() {
	local out rc opt=${2:---max-conns-per-peer} range=${3:-1 to 16384}
	out=$(ip netns exec "$HNS" timeout 5 "$P" up --bind 192.168.222.1 --http-port 3150 \
		--api "$DIR/bad.sock" --state-dir "$DIR/state-bad" "$opt" "$1" 2>&1)
	rc=$?
	echo "$out" | head -2
	[ $rc -eq 1 ] && echo "$out" | grep -qF -- "invalid $opt: '$1' ($range)"
}
check "--max-conns-per-peer 0 is refused" bad_value 0
check "--max-conns-per-peer 16385 is refused" bad_value 16385
check "--max-conns-per-peer x is refused" bad_value x
for v in 31 129 x; do
	check "--peer-prefix6 $v is refused" bad_value "$v" --peer-prefix6 "32 to 128"
done
# the default (4096 per address) leaves what the bench holds (100 tunnels)
check "restart with --peer-prefix6 128" start_proxy --workers 2 --peer-prefix6 128
stop_proxy TERM
check "restart with the default" start_proxy --workers 2
check "default: 100 tunnels from one address at once, all held" bash -c \
	"touch '$DIR/hold4'; (sleep 1; rm -f '$DIR/hold4') & in_vm env PYTHONPATH='$SPX_CI' '$PY' '$DIR/hold.py' '$T' 100 192.168.222.2 '$DIR/hold4' | tee /dev/stderr | head -1 | grep -qx '200 100'"
bench_finish
