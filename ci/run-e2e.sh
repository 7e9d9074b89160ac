#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run the end-to-end tests: every ci/e2e/*.sh in order (or the ones given as
# arguments), each bounded in time.  Sums their "N passed, N failed" lines and
# ends with the total; exits non-zero if any check failed or a script ended
# badly without a summary.  Needs root (network namespaces).
#   BUILD=build-asan bash ci/run-e2e.sh            all, against another build
#   bash ci/run-e2e.sh ci/e2e/010-basic.sh         one script
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
cd "$ROOT" || exit 1
export BUILD=${BUILD:-build}
LIMIT=${E2E_SCRIPT_TIMEOUT:-240}

if [ "$(id -u)" != 0 ]; then
	echo "run-e2e: needs root (network namespaces)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi

if [ $# -gt 0 ]; then
	scripts=("$@")
else
	scripts=()
	for f in "$HERE"/e2e/*.sh; do [ -e "$f" ] && scripts+=("$f"); done
fi

pass=0 fail=0 bad=()
start=$(date +%s)
for s in "${scripts[@]}"; do
	name=$(basename "$s" .sh)
	echo "=== $name"
	out=$(mktemp)
	t0=$(date +%s)
	timeout -k 10 "$LIMIT" bash "$s" 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	t1=$(date +%s)
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
	rm -f "$out"
	if [ -n "$line" ]; then
		p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
		f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
		pass=$((pass + p))
		fail=$((fail + f))
		if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
			fail=$((fail + 1))
			bad+=("$name(exit $rc)")
		elif [ "$f" != 0 ]; then
			bad+=("$name")
		fi
	else
		fail=$((fail + 1))
		if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
			bad+=("$name(timeout ${LIMIT}s)")
		else
			bad+=("$name(exit $rc, no summary)")
		fi
	fi
	echo "--- $name: $((t1 - t0)) s"
done
echo "=== e2e: ${#scripts[@]} scripts in $(($(date +%s) - start)) s"
[ ${#bad[@]} -gt 0 ] && echo "failing: ${bad[*]}"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
