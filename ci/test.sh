#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every test this project has, as CI runs it (root, Debian 12):
# dependencies, build with -Werror, unit tests, end-to-end tests, the
# ASan+UBSan build running unit and end-to-end tests again, the
# ThreadSanitizer build running the unit tests and the end-to-end tests of
# the threaded paths, and a short run of every fuzz target.  Ends with one
# "N passed, N failed" line.
set -u
cd "$(dirname "$0")/.."
bash ci/install-deps.sh || exit 1
total_pass=0 total_fail=0
stage() { # NAME COMMAND...: run, show its output, add its closing counts
	local name=$1 log rc p f
	shift
	echo "=== $name"
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	p=$(tail -5 "$log" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p' | tail -1)
	f=$(tail -5 "$log" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p' | tail -1)
	rm -f "$log"
	p=${p:-0}; f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	echo "=== $name: $p passed, $f failed"
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}
stage build bash -c 'make -j"$(nproc)" all tests static && echo "1 passed, 0 failed"'
stage unit make --no-print-directory test
stage e2e make --no-print-directory e2e
stage asan make --no-print-directory -j"$(nproc)" asan
stage tsan make --no-print-directory -j"$(nproc)" tsan
stage fuzz make --no-print-directory fuzz-smoke SECS=${FUZZ_SECS:-15}
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
