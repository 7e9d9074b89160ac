#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# One event loop per core (--workers 4): a mixed burst of plain forwarding,
# spliced tunnels, intercepted HTTPS with a secret and the TLS proxy port
# loses and doubles nothing; every worker accepts connections and /metrics
# counts each one once; a policy change is seen by every loop as soon as
# the API answers (fresh connections and held tunnels on all workers);
# concurrent first connections to a new intercepted name sign one leaf;
# policy changes made while decisions are in flight on every loop are seen
# whole (steady rules never refuse, a churned one only allows or refuses,
# the upstream sees each allowed request once and no refused one);
# /healthz and /metrics report the workers; bad --workers values are refused,
# one worker and the default still serve.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
NW=4

# an upstream of our own on 198.18.0.10 and .11, ports 9080 (http) and 9443
# (https): answers any GET with a small JSON (the id, the path and a hash of
# the Authorization it got, never the value) and logs one line per request
WLOG=$DIR/wup.log
: >"$WLOG"
cat >"$DIR/wup.py" <<'EOF'
import hashlib, json, socket, ssl, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
cert, key, logf, ready = sys.argv[1:5]
LOCK = threading.Lock()
OUT = open(logf, "a", buffering=1)
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def do_GET(self):
        auth = self.headers.get("Authorization")
        ah = hashlib.sha256(auth.encode()).hexdigest() if auth is not None else None
        with LOCK:
            OUT.write("REQ %s %d %s %s\n" % (self.server.scheme, self.server.server_port,
                                             self.path, ah or "-"))
        body = json.dumps({"path": self.path, "id": self.path.rsplit("/", 1)[-1],
                           "auth_sha256": ah, "scheme": self.server.scheme,
                           "host": self.headers.get("Host")}).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True
    def __init__(self, addr, port, ctx):
        self.ctx, self.scheme = ctx, "https" if ctx else "http"
        super().__init__((addr, port), H)
    def finish_request(self, request, client_address):
        if self.ctx:
            request.settimeout(10)
            try:
                request = self.ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        self.RequestHandlerClass(request, client_address, self)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv = [S(a, p, c) for a in ("198.18.0.10", "198.18.0.11") for p, c in ((9080, None), (9443, ctx))]
for s in srv:
    threading.Thread(target=s.serve_forever, daemon=True).start()
open(ready, "w").write("up\n")
threading.Event().wait()
EOF
spawn "$NNS" "$PY" "$DIR/wup.py" "$DIR/pki/srv.crt" "$DIR/pki/srv.key" "$WLOG" "$DIR/wup.ready" 2>>"$DIR/wup.err"
wait_for 10 test -s "$DIR/wup.ready" || {
	cat "$DIR/wup.err"; echo "bench setup failed (upstream)"; echo "0 passed, 1 failed"; exit 1; }

check "daemon starts with --workers $NW" start_proxy --workers "$NW" --https-port 3129 --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA" 2>>"$DIR/cli.err"
export SEC=sek-workers-7c1e9a4d2b8f36
printf '%s' "$SEC" | cli secret create wsec --host api.bench.test --value-stdin >/dev/null
cli allow vm1 --host plain.bench.test --port 9080 >/dev/null
cli allow vm1 --host api.bench.test --port 9443 --secret wsec >/dev/null
R_TUN=$(cli allow vm1 --host other.bench.test --port 9443)
cli allow vm1 --host '*.wild.bench.test' --inspect >/dev/null
export T PCA R_TUN

# metric NAME: its value; wconns: "K N" per worker
metric() { api GET /metrics | sed -n "s/^$1 \([0-9][0-9]*\)\$/\1/p"; }
wconns() { api GET /metrics | sed -n 's/^slicer_worker_connections_total{worker="\([0-9]*\)"} \([0-9]*\)$/\1 \2/p'; }

# wpy ARGS: python in the vm (script on stdin) with the helpers below
wpy() {
	vmpy - "$T" "$PCA" "$CA" "$SEC" "$P" "$S" "$@" <<EOF
import hashlib, json, re, ssl, subprocess, sys, threading, time, spxclient
TOK, PCA, BCA, SEC, PROG, SOCK = sys.argv[1:7]
ARGS = sys.argv[7:]
def cli(*a):
    r = subprocess.run([PROG] + list(a) + ["--url", SOCK], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, (a, r.stderr)
    return r.stdout.strip()
def metrics():
    r = subprocess.run(["curl", "-q", "-sS", "-m", "10", "--unix-socket", SOCK, "http://x/metrics"],
                       capture_output=True, text=True, timeout=20)
    out = {}
    for l in r.stdout.splitlines():
        m = re.match(r'^([a-z_]+(?:\{[^}]*\})?) ([0-9]+)$', l)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out
def per_worker(m):
    return {int(k.split('"')[1]): v for k, v in m.items() if k.startswith("slicer_worker_connections_total{")}
def run_all(fn, n):
    """fn(i) in n threads at once; its results (or the exception) by index"""
    res = [None] * n
    def go(i):
        try:
            res[i] = fn(i)
        except Exception as e:
            res[i] = "error: %r" % (e,)
    th = [threading.Thread(target=go, args=(i,)) for i in range(n)]
    for t in th: t.start()
    for t in th: t.join(60)
    return res
def connect_status(target):
    c = spxclient.Conn()
    try:
        return c.connect(target, TOK)[0]
    except (spxclient.Closed, ConnectionError):
        return "closed"
    finally:
        c.close()
$(cat)
EOF
}

# ---- (a) a mixed burst: nothing lost, nothing doubled ----
wconns >"$DIR/w0"
counts() { echo "$(metric slicer_requests_total) $(metric slicer_tunnels_total) $(metric slicer_intercepts_total) $(metric slicer_denied_total)"; }
C0=$(counts)
burst() {
	wpy 300 30 "$DIR/burst.conns" "$DIR/burst.ids" <<'EOF'
import uuid
from concurrent.futures import ThreadPoolExecutor
n, par, conns_file, ids_file = int(ARGS[0]), int(ARGS[1]), ARGS[2], ARGS[3]
KINDS = ("plain", "tunnel", "intercept", "tlsport")
RUN = uuid.uuid4().hex[:8]
want_sec = hashlib.sha256(("Bearer " + SEC).encode()).hexdigest()
lock = threading.Lock()
nconn = [0]
def h(s):
    return hashlib.sha256(s.encode()).hexdigest()
def get_tls(c, host, rid, auth):
    c.send("GET /w/%s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n\r\n" % (rid, host, auth))
    return c.read_response()
def one(i):
    kind = KINDS[i % len(KINDS)]
    rid = "%s-%d-%s" % (kind, i, RUN)
    own = "Bearer own-%d" % i
    c = spxclient.Conn(port=3129 if kind == "tlsport" else 3128)
    with lock:
        nconn[0] += 1
    try:
        if kind == "plain":
            st, hd, b = c.request("GET", "http://plain.bench.test:9080/w/" + rid, TOK,
                                  headers=[("Authorization", own)])
            want_auth, scheme = h(own), "http"
        elif kind == "tlsport":
            ctx = ssl.create_default_context(cafile=PCA)
            c.sock = ctx.wrap_socket(c.sock, server_hostname="192.168.222.1")
            st, hd, b = c.request("GET", "http://plain.bench.test:9080/w/" + rid, TOK,
                                  headers=[("Authorization", own)])
            want_auth, scheme = h(own), "http"
        else:
            host = "other.bench.test" if kind == "tunnel" else "api.bench.test"
            cst = c.connect(host + ":9443", TOK)[0]
            if cst != 200:
                return (rid, kind, "CONNECT %s" % cst)
            c.wrap_tls(host, BCA if kind == "tunnel" else PCA)
            st, hd, b = get_tls(c, host + ":9443", rid, own)
            want_auth = h(own) if kind == "tunnel" else want_sec
            scheme = "https"
        if st != 200:
            return (rid, kind, "status %s %r" % (st, b[:100]))
        if SEC.encode() in b or SEC in json.dumps(hd):
            return (rid, kind, "the client saw the secret")
        j = json.loads(b)
        if j["id"] != rid or j["path"] != "/w/" + rid or j["scheme"] != scheme:
            return (rid, kind, "wrong answer %r" % j)
        if j["auth_sha256"] != want_auth:
            return (rid, kind, "upstream got the wrong Authorization")
        return (rid, kind, None)
    finally:
        c.close()
with ThreadPoolExecutor(max_workers=par) as ex:
    futs = [ex.submit(one, i) for i in range(n)]
    res = []
    for f in futs:
        try:
            res.append(f.result(timeout=60))
        except Exception as e:
            res.append(("?", "?", "error: %r" % (e,)))
open(conns_file, "w").write("%d\n" % nconn[0])
open(ids_file, "w").write("".join("%s %s\n" % (r[0], r[1]) for r in res))
bad = [r for r in res if r[2]]
print("requests", n, "connections", nconn[0], "bad", len(bad), bad[:5])
assert not bad and len(res) == n
EOF
}
check "(a) 300 requests, 30 at a time (plain, tunnel, intercepted with secret, TLS port): each answered right" burst
check "(a) the upstream saw every id exactly once, intercepted ones with the injected secret" \
	py_check "$WLOG" "$DIR/burst.ids" "$SEC" <<'EOF'
import collections, hashlib, sys
log, ids, sec = sys.argv[1:4]
want = dict(l.split() for l in open(ids) if l.strip())
seen = collections.Counter()
auth = {}
for l in open(log):
    p = l.split()
    if len(p) == 5 and p[3].startswith("/w/"):
        rid = p[3][3:]
        seen[rid] += 1
        auth[rid] = p[4]
wsec = hashlib.sha256(("Bearer " + sec).encode()).hexdigest()
missing = [i for i in want if seen[i] == 0]
double = [i for i in want if seen[i] > 1]
extra = [i for i in seen if i not in want]
nosec = [i for i, k in want.items() if k == "intercept" and auth.get(i) != wsec]
print("ids", len(want), "seen", len(seen), "missing", missing[:5], "doubled", double[:5],
      "unexpected", extra[:5], "intercepted without the secret", nosec[:5])
assert len(want) == 300 and not missing and not double and not extra and not nosec
EOF
wconns >"$DIR/w1"

C1=$(counts)
# each kind 75 times: plain and TLS-port requests 1 decision each, a tunnel
# 1 (its CONNECT), an intercepted request 2 (the CONNECT, the GET inside)
check "(a) /metrics, summed over the loops' own counters: 375 decisions, 75 tunnels, 75 intercepts, none denied" \
	bash -c "read r0 t0 i0 d0 <<<'$C0'; read r1 t1 i1 d1 <<<'$C1'; d=\"\$((r1-r0)) \$((t1-t0)) \$((i1-i0)) \$((d1-d0))\"; echo \"\$d\"; [ \"\$d\" = '375 75 75 0' ]"

# ---- (b) every worker accepted connections, each counted once ----
check "(b) every worker accepted some of the burst; the counts add up to the connections made" \
	py_check "$DIR/w0" "$DIR/w1" "$DIR/burst.conns" "$NW" <<'EOF'
import sys
w0 = dict(map(int, l.split()) for l in open(sys.argv[1]) if l.strip())
w1 = dict(map(int, l.split()) for l in open(sys.argv[2]) if l.strip())
n = int(open(sys.argv[3]).read())
nw = int(sys.argv[4])
d = {k: w1.get(k, 0) - w0.get(k, 0) for k in w1}
print("per worker", d, "sum", sum(d.values()), "connections made", n)
assert sorted(w1) == list(range(nw)), w1
assert all(d[k] > 0 for k in range(nw)), d
assert sum(d.values()) == n, (sum(d.values()), n)
EOF

# ---- (c) a policy change reaches every loop at once ----
check "(c) revoke: 16 held tunnels on several workers closed within 3 s, 40 fresh CONNECTs all 403 at once" \
	wpy "$R_TUN" <<'EOF'
rid = ARGS[0]
m0 = per_worker(metrics())
held = []
for i in range(16):
    c = spxclient.Conn()
    st = c.connect("other.bench.test:9443", TOK)[0]
    assert st == 200, st
    c.wrap_tls("other.bench.test", BCA)
    c.send("GET /w/hold-%d HTTP/1.1\r\nHost: other.bench.test:9443\r\n\r\n" % i)
    assert c.read_response()[0] == 200
    held.append(c)
m1 = per_worker(metrics())
spread = {k: m1[k] - m0.get(k, 0) for k in m1 if m1[k] - m0.get(k, 0) > 0}
print("held tunnels per worker", spread)
assert len(spread) >= 2, "the 16 tunnels are all on one worker"
cli("revoke", "vm1", rid)
t0 = time.time()
# no sleep: the API has answered, every loop must judge by the new policy
codes = []
th = threading.Thread(target=lambda: codes.extend(run_all(lambda i: connect_status("other.bench.test:9443"), 40)))
th.start()
closed = [c.wait_closed(max(0.0, t0 + 3 - time.time())) for c in held]
took = time.time() - t0
th.join(30)
print("fresh CONNECTs:", sorted(set(map(str, codes))), "held closed:", closed.count(True), "of", len(held),
      "after %.2f s" % took)
assert len(codes) == 40 and all(c == 403 for c in codes), codes
assert all(closed), closed
EOF
check "(c) allow again: 40 fresh CONNECTs at once, all 200" wpy <<'EOF'
cli("allow", "vm1", "--host", "other.bench.test", "--port", "9443")
codes = run_all(lambda i: connect_status("other.bench.test:9443"), 40)
print(sorted(set(map(str, codes))))
assert all(c == 200 for c in codes), codes
EOF

# ---- (d) the leaf cache is shared: one mint per name ----
# leafrun NAMES PER: PER connections to each name, released together; each
# verifies the chain and the name, and all of one name get the same leaf
leafrun() {
	wpy "$1" "$2" <<'EOF'
names = ARGS[0].split(",")
per = int(ARGS[1])
n = len(names) * per
m0 = metrics()
bar = threading.Barrier(n, timeout=20)
def one(i):
    name = names[i % len(names)]
    c = spxclient.Conn()
    try:
        bar.wait()
        st = c.connect(name + ":443", TOK)[0]
        if st != 200:
            return ("CONNECT", st)
        c.wrap_tls(name, PCA)
        der = c.sock.getpeercert(binary_form=True)
        c.send("GET /leaf-%d HTTP/1.1\r\nHost: %s\r\n\r\n" % (i, name))
        st = c.read_response()[0]
        return (name, hashlib.sha256(der).hexdigest()) if st == 200 else ("GET", st)
    finally:
        c.close()
res = run_all(one, n)
m1 = metrics()
mints = m1["slicer_leaf_mints_total"] - m0["slicer_leaf_mints_total"]
certs = m1["slicer_leaf_certs"] - m0["slicer_leaf_certs"]
bad = [r for r in res if not isinstance(r, tuple) or r[0] not in names]
leaves = {}
for r in res:
    if isinstance(r, tuple) and r[0] in names:
        leaves.setdefault(r[0], set()).add(r[1])
print("connections", n, "failed", bad[:5], "mints", mints, "cached leaves +%d" % certs,
      "distinct leaves per name", sorted(len(v) for v in leaves.values()))
assert not bad
assert all(len(v) == 1 for v in leaves.values()) and len(leaves) == len(names)
assert mints == len(names) and certs == len(names)
EOF
}
check "(d) 32 concurrent first connections to one new name: all verify, one leaf signed" \
	leafrun one.wild.bench.test 32
check "(d) 8 new names, 4 concurrent connections each: 8 leaves signed" \
	leafrun "$(echo n{1..8}.wild.bench.test | tr ' ' ,)" 4

# ---- (e) changes meet decisions in flight ----
# While 8 keep-alive clients run on all loops, the API changes vm1's policy
# 120 times (a path rule on exfil.bench.test allowed and revoked, with an
# unrelated rule added and revoked beside it).  Each change waits for the
# decisions in flight and none sees half of one: the hosts whose rules never
# change are answered 200 every time (with the secret injected where the
# rule says), the churned host only 200 or 403 (or a close when its CONNECT
# is refused), and the upstream sees every answered request once and no
# refused one.
R_EX=$(cli allow vm1 --host exfil.bench.test --port 9443 --path '/c/*')
check "(e) 120 changes during 8 keep-alive clients on all loops: steady hosts always 200, churned only 200/403, both seen" \
	wpy "$DIR/churn.ids" "$R_EX" <<'EOF'
import uuid
ids_file = ARGS[0]
RUN = uuid.uuid4().hex[:8]
want_sec = hashlib.sha256(("Bearer " + SEC).encode()).hexdigest()
stop = threading.Event()
HOSTS = ("api.bench.test", "exfil.bench.test", "plain.bench.test", "exfil.bench.test")
def client(k):
    host, out, n = HOSTS[k % 4], [], 0
    while not stop.is_set() and n < 3000:
        c = spxclient.Conn()
        n += 1
        try:
            if host != "plain.bench.test":
                st = c.connect(host + ":9443", TOK)[0]
                if st != 200:
                    out.append(("-", host, "CONNECT %s" % st))
                    continue
                c.wrap_tls(host, PCA)
            for _ in range(25):
                rid = "churn-%d-%d-%s" % (k, n, RUN)
                n += 1
                if host == "plain.bench.test":
                    st, hd, b = c.request("GET", "http://plain.bench.test:9080/c/" + rid, TOK)
                else:
                    c.send("GET /c/%s HTTP/1.1\r\nHost: %s:9443\r\n\r\n" % (rid, host))
                    st, hd, b = c.read_response()
                if st == 200:
                    j = json.loads(b)
                    ok = j["id"] == rid and (host != "api.bench.test" or j["auth_sha256"] == want_sec)
                    out.append((rid, host, "200" if ok else "wrong answer %r" % j))
                else:
                    out.append((rid, host, str(st)))
                    break
        except (spxclient.Closed, ConnectionError, ssl.SSLError, OSError) as e:
            out.append(("-", host, "closed %r" % (e,)))
        finally:
            c.close()
    return out
res = []
th = threading.Thread(target=lambda: res.extend(run_all(client, 8)))
th.start()
time.sleep(0.2)
rid = ARGS[1]
t0 = time.time()
for i in range(30):
    cli("revoke", "vm1", rid)
    side = cli("allow", "vm1", "--host", "side-%d.bench.test" % i)
    rid = cli("allow", "vm1", "--host", "exfil.bench.test", "--port", "9443", "--path", "/c/*")
    cli("revoke", "vm1", side)
    time.sleep(0.02)
took = time.time() - t0
stop.set()
th.join(120)
flat = [r for per in res if isinstance(per, list) for r in per]
errors = [per for per in res if not isinstance(per, list)]
by = {}
for rid, host, o in flat:
    by.setdefault(host, {}).setdefault(o.split(" ")[0] if o.startswith(("CONNECT", "closed")) else o, 0)
    by[host][o.split(" ")[0] if o.startswith(("CONNECT", "closed")) else o] += 1
print("outcomes by host", by, "client errors", errors[:3], "changes took %.2f s" % took)
bad = [r for r in flat if r[1] != "exfil.bench.test" and r[2] != "200"]
bad += [r for r in flat if r[1] == "exfil.bench.test" and r[2] not in ("200", "403", "CONNECT 403")]
print("unexpected", len(bad), bad[:5])
open(ids_file, "w").write("".join("%s %s %s\n" % (r[0], r[1], r[2].replace(" ", "_"))
                                  for r in flat if r[0] != "-"))
assert not errors and not bad
assert by["exfil.bench.test"].get("200", 0) > 0 and by["exfil.bench.test"].get("403", 0) > 0, by
assert by["api.bench.test"].get("200", 0) > 50 and by["plain.bench.test"].get("200", 0) > 50, by
EOF
check "(e) the upstream saw every answered request once and no refused one" \
	py_check "$WLOG" "$DIR/churn.ids" <<'EOF'
import collections, sys
log, ids = sys.argv[1:3]
want = {}
for l in open(ids):
    rid, host, o = l.split()
    want[rid] = o
seen = collections.Counter(p[3][3:] for p in (l.split() for l in open(log))
                           if len(p) == 5 and p[3].startswith("/c/churn-"))
missing = [i for i, o in want.items() if o == "200" and seen[i] != 1]
leaked = [i for i, o in want.items() if o != "200" and seen[i] != 0]
extra = [i for i in seen if i not in want]
print("answered", sum(1 for o in want.values() if o == "200"), "refused", sum(1 for o in want.values() if o != "200"),
      "not seen once", missing[:5], "refused but seen", leaked[:5], "unexpected", extra[:5])
assert want and not missing and not leaked and not extra
EOF

# ---- (f) workers in status and /metrics; the option's limits ----
check "/metrics: slicer_workers $NW" expect "$NW" metric slicer_workers
healthz_workers() { curl -q -sS -m 10 --unix-socket "$S" http://x/healthz | jget workers; }
check "/healthz (the status answer) says workers $NW" expect "$NW" healthz_workers
# bad_workers VALUE: up on other ports, sockets and state must refuse it at
# once with an error naming the option (bounded: it is killed if it starts)
bad_workers() {
	local rc
	in_host timeout -k 2 5 "$P" up --bind "$HOST_IP" --http-port 3140 --https-port 3141 \
		--api "$DIR/bad.sock" --state-dir "$DIR/bad-state" --log "$DIR/bad-audit.jsonl" \
		--workers "$1" >"$DIR/bad.out" 2>&1
	rc=$?
	echo "exit $rc: $(head -c 300 "$DIR/bad.out")"
	[ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 137 ] && grep -qi 'workers' "$DIR/bad.out" &&
		! grep -qiE 'unrecognized|unknown option' "$DIR/bad.out"
}
check "--workers 0 is refused with an error" bad_workers 0
check "--workers 65 is refused with an error" bad_workers 65
check "--workers x is refused with an error" bad_workers x
check "--workers '' is refused with an error" bad_workers ''

stop_proxy TERM
check "daemon starts without --workers" start_proxy --https-port 3129 --upstream-ca "$CA"
NCPU=$(getconf _NPROCESSORS_ONLN)
[ "$NCPU" -gt 64 ] && NCPU=64
check "default: one worker per online CPU ($NCPU)" expect "$NCPU" metric slicer_workers
stop_proxy TERM
check "daemon starts with --workers 1" start_proxy --workers 1 --https-port 3129 --upstream-ca "$CA"
check "--workers 1: plain, tunnel and intercepted requests served" wpy <<'EOF'
c = spxclient.Conn()
st, h, b = c.request("GET", "http://plain.bench.test:9080/w/one-plain", TOK)
assert st == 200 and json.loads(b)["id"] == "one-plain", (st, b)
for host, ca in (("other.bench.test", BCA), ("api.bench.test", PCA)):
    c = spxclient.Conn()
    assert c.connect(host + ":9443", TOK)[0] == 200
    c.wrap_tls(host, ca)
    c.send("GET /w/one-%s HTTP/1.1\r\nHost: %s:9443\r\n\r\n" % (host, host))
    st, h, b = c.read_response()
    assert st == 200 and json.loads(b)["id"] == "one-" + host, (st, b)
m = metrics()
print(m.get("slicer_workers"), per_worker(m))
assert m.get("slicer_workers") == 1 and list(per_worker(m)) == [0] and per_worker(m)[0] == 3
EOF
bench_finish
