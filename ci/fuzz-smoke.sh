#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run every built fuzz target for SECS seconds each: ci/fuzz-smoke.sh SECS BIN...
set -u
secs=$1; shift
pass=0 fail=0
for b in "$@"; do
	name=${b##*/fuzz_}
	if bash ci/run-fuzz.sh "$name" "$secs" | grep -v 'passed,'; then :; fi
	if [ "${PIPESTATUS[0]}" -eq 0 ]; then pass=$((pass + 1)); else fail=$((fail + 1)); fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
