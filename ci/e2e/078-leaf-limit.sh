#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Leaf signing is rate-limited per client: a client allowed to intercept
# "*.leaf.bench.test" that asks for hundreds of new host names at once gets
# its burst (LIMIT_LEAF_MINT_BURST, 200) and then 429 for new names, while a
# name whose leaf is cached still works for it and another client is not
# held back.  The counter shows in /metrics.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
check "daemon starts" start_proxy --upstream-ca "$CA"
[ -n "$PROXY_PID" ] || bench_finish
T1=$(new_client spray)
T2=$(new_client calm)
cli allow spray --host '*.leaf.bench.test' --inspect >/dev/null
cli allow calm --host '*.leaf.bench.test' --inspect >/dev/null
export T1 T2

# connects TOKEN FIRST COUNT: CONNECT nFIRST.. with TOKEN as fast as one
# socket after another goes; prints the status codes, one per line
connects() {
	"$PY" - "$1" "$2" "$3" <<'PYEOF'
import base64, socket, sys
tok, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
auth = base64.b64encode(("proxy:" + tok).encode()).decode()
for i in range(first, first + n):
    s = socket.create_connection(("192.168.222.1", 3128), timeout=10)
    name = "n%d.leaf.bench.test:443" % i
    s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n"
               % (name, name, auth)).encode())
    line = b""
    while not line.endswith(b"\n"):
        b = s.recv(1)
        if not b:
            break
        line += b
    print(line.split(b" ")[1].decode() if line.count(b" ") >= 1 else "none")
    s.close()
PYEOF
}
export -f connects

check "a burst of 300 new names: the first ~200 signed, the rest 429" bash -c '
	out=$(in_vm bash -c "connects $T1 1 300") || exit 1
	ok=$(grep -c "^200$" <<<"$out"); lim=$(grep -c "^429$" <<<"$out"); other=$((300 - ok - lim))
	echo "200: $ok  429: $lim  other: $other"
	[ "$other" -eq 0 ] && [ "$ok" -ge 200 ] && [ "$ok" -le 260 ] && [ "$lim" -ge 40 ]'
check "a name already signed still works for the limited client" bash -c '
	[ "$(in_vm bash -c "connects $T1 1 1")" = 200 ]'
check "another client is not held back" bash -c '
	out=$(in_vm bash -c "connects $T2 1000 20"); echo "$out" | sort | uniq -c
	[ "$(grep -c "^200$" <<<"$out")" -eq 20 ]'
check "the refusals are counted in /metrics" bash -c '
	n=$(api GET /metrics | sed -n "s/^slicer_leaf_mint_limited_total //p"); echo "limited=$n"; [ "${n:-0}" -ge 40 ]'
check "the refusals are in the audit log with the reason" bash -c '
	cli logs --client spray --denied | grep -c "too many new intercepted host names" | grep -qv "^0$"'
sleep 1
check "after a second the bucket has refilled some" bash -c '
	out=$(in_vm bash -c "connects $T1 2000 20"); echo "$out" | sort | uniq -c
	[ "$(grep -c "^200$" <<<"$out")" -ge 20 ]'
check "the daemon is still up" kill -0 "$PROXY_PID"
bench_finish
