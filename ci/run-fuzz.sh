#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Run one libFuzzer target for SECS seconds on its corpus:
#   ci/run-fuzz.sh NAME SECS
set -u
name=$1 secs=${2:-60}
bin=build-fuzz/fuzz_$name
[ -x "$bin" ] || { echo "no fuzz target $bin"; exit 1; }
corpus=$(find shared host-proxy guest-agent -type d -path "*/fuzz/corpus/$name" 2>/dev/null | head -1)
dict=$(find shared host-proxy guest-agent -name "$name.dict" -path '*/fuzz/*' 2>/dev/null | head -1)
work=$(mktemp -d)
log=$(mktemp)
trap 'rm -rf "$work" "$log"' EXIT
[ -n "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
args=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -print_final_stats=0)
[ -n "$dict" ] && args+=(-dict="$dict")
if "$bin" "${args[@]}" "$work" >"$log" 2>&1; then
	echo "fuzz $name: ${secs}s clean"
	echo "1 passed, 0 failed"
else
	tail -40 "$log"
	echo "fuzz $name: crash"
	echo "0 passed, 1 failed"
	exit 1
fi
