#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Long pipelines on one connection: thousands of requests sent in one burst
# and answered in order, whether the proxy answers them itself (DNS queries
# for names no rule allows: NXDOMAIN at once) or forwards them to a fast
# upstream; the proxy stays up and serves another client meanwhile.  A
# connection's requests are driven in a loop, never one call deeper per
# request, so no pipeline runs the stack out.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }

check "daemon starts with --workers 1" start_proxy --workers 1
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1)
T2=$(new_client vm2)
cli allow vm1 --host plain.bench.test --port 80 >/dev/null
cli allow vm2 --host api.bench.test --port 443 >/dev/null

# flood ARGS: pipeline_flood.py from the vm
flood() { in_vm "$PY" "$SPX_CI/pipeline_flood.py" "$@"; }
alive() { kill -0 "$PROXY_PID" 2>/dev/null; }

check "5,000 pipelined DNS queries the proxy answers itself: all answered, in order" \
	expect "ok 5000" flood --token "$T" --kind dns --name denied.bench.test --count 5000 --status 200
check "the proxy is still running" alive
check "another client is served" expect 200 connect_code "$T2" https://api.bench.test/after-dns
check "3,000 pipelined forwarded requests: all answered, in order" \
	expect "ok 3000" flood --token "$T" --kind get --name plain.bench.test --count 3000
check "the proxy is still running after the forwarded pipeline" alive
check "4 pipelines of 3,000 DNS queries at once: all answered" bash -c '
	pids=()
	for i in 1 2 3 4; do
		in_vm "$PY" "$SPX_CI/pipeline_flood.py" --token "$0" --kind dns --name denied.bench.test \
			--count 3000 >"$1/flood-$i.out" 2>&1 &
		pids+=($!)
	done
	rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	cat "$1"/flood-*.out
	exit $rc' "$T" "$DIR"
check "the proxy is still running after the concurrent pipelines" alive
check "the DNS denials are audited" expect_re '"event":"dns"' cat "$AUDIT"

bench_finish
