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

# connects TOKEN FIRST COUNT: CONNECT nFIRST.. with TOKEN, eight sockets
# at a time; prints the status codes, one per line
connects() {
	"$PY" - "$1" "$2" "$3" <<'PYEOF'
import base64, socket, sys
from concurrent.futures import ThreadPoolExecutor
tok, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
auth = base64.b64encode(("proxy:" + tok).encode()).decode()
def one(i):
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
    s.close()
    return line.split(b" ")[1].decode() if line.count(b" ") >= 1 else "none"
with ThreadPoolExecutor(8) as pool:
    for code in pool.map(one, range(first, first + n)):
        print(code)
PYEOF
}
export -f connects

# The bucket holds 200 and refills 50 a second: of a burst of 300 new
# names, 200 plus what refilled while the burst lasted may be signed (the
# bound is taken from the burst's own duration, so a slow machine or a
# sanitizer build does not make the limit look broken), the rest get 429.
check "a burst of 300 new names: 200 signed, then only as fast as the bucket refills, the rest 429" bash -c '
	t0=$(date +%s%N)
	out=$(in_vm bash -c "connects $T1 1 300") || exit 1
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	ok=$(grep -c "^200$" <<<"$out"); lim=$(grep -c "^429$" <<<"$out"); other=$((300 - ok - lim))
	max=$((200 + 50 * ms / 1000 + 5))
	echo "200: $ok  429: $lim  other: $other  in $ms ms: at most $max may be signed"
	echo "$lim" >"$DIR/leaf-limited"
	[ "$other" -eq 0 ] && [ "$ok" -ge 200 ] && [ "$ok" -le "$max" ] && [ "$lim" -ge 1 ]'
check "a name already signed still works for the limited client" bash -c '
	[ "$(in_vm bash -c "connects $T1 1 1")" = 200 ]'
check "another client is not held back" bash -c '
	out=$(in_vm bash -c "connects $T2 1000 20"); echo "$out" | sort | uniq -c
	[ "$(grep -c "^200$" <<<"$out")" -eq 20 ]'
check "the refusals are counted in /metrics, each once" bash -c '
	n=$(api GET /metrics | sed -n "s/^slicer_leaf_mint_limited_total //p"); want=$(cat "$DIR/leaf-limited")
	echo "limited=$n, 429s seen=$want"; [ -n "$n" ] && [ "$n" -eq "$want" ]'
check "the refusals are in the audit log with the reason" bash -c '
	cli logs --client spray --denied | grep -c "too many new intercepted host names" | grep -qv "^0$"'
sleep 1
check "after a second the bucket has refilled some" bash -c '
	out=$(in_vm bash -c "connects $T1 2000 20"); echo "$out" | sort | uniq -c
	[ "$(grep -c "^200$" <<<"$out")" -ge 20 ]'
check "the daemon is still up" kill -0 "$PROXY_PID"
bench_finish
