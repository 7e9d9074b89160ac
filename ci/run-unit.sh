#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run cmocka unit test binaries and print one closing "N passed, N failed".
set -u
pass=0 fail=0 bad=()
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out" | grep -E '^\[  (FAILED|PASSED|ERROR) |^\[  FAILED  \]|^\[ +(OK|FAILED) +\]' | grep -vE '^\[ +OK +\]' || true
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | awk '{s+=$1} END {print s+0}')
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		# crashed (sanitizer, abort) before cmocka could count
		printf '%s\n' "$out" | tail -30
		f=1
	fi
	echo "$(basename "$t"): $p passed, $f failed"
	pass=$((pass + p)); fail=$((fail + f))
	[ "$f" -gt 0 ] && bad+=("$(basename "$t")")
done
[ ${#bad[@]} -gt 0 ] && echo "failing: ${bad[*]}"
echo "unit: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
