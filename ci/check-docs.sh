#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# README is the contract: every command and option the two programs accept
# (as their --help texts list them) and every make target the Makefile
# lists must be in README.md, and --help must work for each command (usage
# on stdout, exit 0).  BUILD=dir selects the binaries (default build).
#   bash ci/check-docs.sh
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
PROXY=$B/slicer-proxy AGENT=$B/slicer-agent
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
for x in "$PROXY" "$AGENT"; do
	[ -x "$x" ] || { echo "no $x (make first)"; echo "0 passed, 1 failed"; exit 1; }
done
HELP=$(mktemp) TEXTS=$(mktemp)
trap 'rm -f "$HELP" "$HELP.err" "$TEXTS"' EXIT

# help PROGRAM ARGS...: usage on stdout, nothing on stderr, exit 0; the
# usage text is kept for the option check below
help() {
	local rc
	"$@" >"$HELP" 2>"$HELP.err"
	rc=$?
	if [ $rc -eq 0 ] && [ -s "$HELP" ] && [ ! -s "$HELP.err" ] && grep -q usage "$HELP"; then
		ok
		cat "$HELP" >>"$TEXTS"
	else
		bad "'$*': rc=$rc, stdout $(wc -c <"$HELP") bytes, stderr: $(head -1 "$HELP.err")"
	fi
}

help "$PROXY" --help
cmds=$("$PROXY" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p')
[ -n "$cmds" ] || bad "no commands in slicer-proxy --help"
for c in $cmds; do
	help "$PROXY" "$c" --help
	help "$PROXY" "$c" -h
done
for sub in "client create" "client list" "secret create" "rule import" "logs" "allow vm1"; do
	# shellcheck disable=SC2086 # two words on purpose
	help "$PROXY" $sub --help
done
help "$AGENT" --help
help "$AGENT" help
for sub in "proxy" "proxy install" "proxy uninstall" "proxy status" "proxy run" \
	"rules" "rules apply" "rules remove" "rules status"; do
	# shellcheck disable=SC2086
	help "$AGENT" $sub --help
done

# every command and every option in README
for c in $cmds; do
	if grep -q "slicer-proxy $c\b" README.md; then ok; else bad "README never shows 'slicer-proxy $c'"; fi
done
for c in "proxy install" "proxy uninstall" "proxy status" "proxy run" "rules apply" "rules remove" "rules status"; do
	w1=${c% *} w2=${c#* }
	if grep -qE "slicer-agent $w1 ([a-z| ]*\| ?)?$w2\b" README.md; then ok; else bad "README never shows 'slicer-agent $c'"; fi
done
for f in $(grep -oE -- '--[a-z][a-z0-9-]+' "$TEXTS" | sort -u); do
	if grep -q -- "$f\b" README.md; then ok; else bad "README never mentions $f"; fi
done
for t in $(sed -n '1,/^$/p' Makefile | grep -oE 'make [a-z0-9-]+' | awk '{print $2}' | sort -u); do
	if grep -q "make $t\b" README.md; then ok; else bad "README never mentions 'make $t'"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
