#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Every test this project has, as CI runs it (root, Debian 12):
# dependencies; every build (-Werror; the ASan+UBSan, ThreadSanitizer and
# libFuzzer ones too); README against the programs (ci/check-docs.sh);
# unit tests; then three lanes at once: the
# end-to-end tests, the ASan+UBSan build running unit and end-to-end tests
# again, and the ThreadSanitizer build running the unit tests and the
# end-to-end tests of the threaded paths (each end-to-end script makes its
# own namespaces, names and files, so lanes never share one); last, a short
# run of every fuzz target.  Each lane's output is printed whole when all
# have ended.  Ends with one "N passed, N failed" line.
#   SPX_TEST_LANES=1  the three lanes one after another instead
set -u
cd "$(dirname "$0")/.."
bash ci/install-deps.sh || exit 1
total_pass=0 total_fail=0
T0=$SECONDS
# tally NAME LOG RC: show the closing counts of a stage and add them up
tally() {
	local name=$1 log=$2 rc=$3 p f
	p=$(tail -5 "$log" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p' | tail -1)
	f=$(tail -5 "$log" | sed -n 's/.*\b\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p' | tail -1)
	p=${p:-0}; f=${f:-0}
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
	echo "=== $name: $p passed, $f failed ($((SECONDS - T0)) s into the run)"
	total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}
stage() { # NAME COMMAND...: run in the foreground, show its output
	local name=$1 log rc
	shift
	echo "=== $name"
	log=$(mktemp)
	"$@" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	tally "$name" "$log" "$rc"
	rm -f "$log"
}
LANE_DIR=$(mktemp -d)
trap 'rm -rf "$LANE_DIR"' EXIT
LANES=()
lane() { # NAME COMMAND...: run in the background, output to its log
	local name=$1
	shift
	LANES+=("$name")
	if [ "${SPX_TEST_LANES:-3}" = 1 ]; then
		stage "$name" "$@"
		return
	fi
	("$@" >"$LANE_DIR/$name.log" 2>&1; echo $? >"$LANE_DIR/$name.rc") &
}
lanes_end() {
	local name
	[ "${SPX_TEST_LANES:-3}" = 1 ] && return
	wait
	for name in "${LANES[@]}"; do
		echo "=== $name"
		cat "$LANE_DIR/$name.log"
		tally "$name" "$LANE_DIR/$name.log" "$(cat "$LANE_DIR/$name.rc" 2>/dev/null || echo 1)"
	done
}

stage build bash -c 'j=$(nproc); make -j"$j" all tests static &&
	make -j"$j" SANITIZE=address,undefined all tests && make -j"$j" tsan-build &&
	make -j"$j" fuzz && echo "1 passed, 0 failed"'
stage docs bash ci/check-docs.sh
stage unit make --no-print-directory test
# the lanes run beside each other: a script may take longer than alone
export E2E_SCRIPT_TIMEOUT=${E2E_SCRIPT_TIMEOUT:-600}
lane e2e make --no-print-directory e2e
lane asan make --no-print-directory asan
lane tsan make --no-print-directory tsan
lanes_end
stage fuzz make --no-print-directory fuzz-smoke SECS=${FUZZ_SECS:-15}
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
