#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# README's first command, ci/demo.sh, run as a user runs it (less the
# package install and build: DEMO_NO_BUILD=1, with this run's binaries):
# it must end well, show what it promises (explicit proxy, secret
# injection, denials with reasons, the guest agent capturing programs
# with no proxy settings and undone, the audit log), never print the
# token, and leave no namespace, process or file behind.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
OUT=$DIR/demo.out

run_demo() {
	local rc
	DEMO_NO_BUILD=1 SPX_KEEP=1 timeout 300 bash "$SPX_CI/demo.sh" >"$OUT" 2>&1
	rc=$?
	tail -3 "$OUT"
	# the demo's work directory (kept for its proxy log), named by the
	# teardown however the demo ended; removed at the end of this script
	DEMO_DIR=$(grep -oE 'kept work dir /tmp/spx-demo\.[A-Za-z0-9]+$' "$OUT" | tail -1 | cut -d' ' -f4)
	[ "$rc" = 0 ] && grep -qx done "$OUT"
}
shows() { grep -qF -- "$1" "$OUT" || { echo "not in the output: $1"; return 1; }; }
shows_n() { # N TEXT: at least N lines with TEXT
	local n
	n=$(grep -cF -- "$2" "$OUT")
	echo "$n lines"
	[ "$n" -ge "$1" ]
}

check "the demo runs to the end" run_demo
check "the vm has no way out without the proxy" shows "curl: no way out (as intended)"
check "default deny: 403 with no rules" shows "HTTP 403"
check "a tunnelled HTTPS request reaches the upstream" shows "upstream 198.18.0.10 saw GET /v1/models over TLSv1.3"
check "plain HTTP: no proxy credentials passed on" shows "upstream saw GET /v1/status; Proxy-Authorization forwarded: False"
check "the secret is injected, explicitly and through the agent" shows_n 2 \
	"upstream saw POST /v1/chat/completions with Authorization: Bearer sk-demo-REAL-credential"
check "denials carry their reason" bash -c \
	"grep -qF 'denied: path /v1/admin not allowed for other.bench.test' '$OUT' &&
	grep -qF 'denied: method POST not allowed for plain.bench.test' '$OUT'"
check "a CONNECT to a host no rule names: 403 with the reason" bash -c \
	"grep -A2 -F 'https://exfil.example.com/' '$OUT' | tr -d '\r' | grep -qx '  HTTP/1.1 403 Forbidden' &&
	grep -qF 'denied: no rule allows exfil.example.com:443' '$OUT'"
check "metadata and loopback are refused" bash -c \
	"grep -q 'link-local address 169.254.169.254' '$OUT' && grep -q 'loopback address 127.0.0.1' '$OUT'"
check "the agent installs (token accepted, no proxy settings anywhere)" shows "token accepted (client demo-vm)"
check "the agent's DNS answers by policy" bash -c \
	"grep -qE '^  198\.18\.0\.11 +other\.bench\.test' '$OUT' && grep -q 'no answer: a name this vm may not reach' '$OUT'"
check "python3 with no proxy settings is captured" shows "  upstream saw GET /v1/status"
check "agent status: healthy, batch scheduling" bash -c \
	"grep -q 'status:  healthy' '$OUT' && grep -qE 'daemon:  running \(pid [0-9]+, sched batch\)' '$OUT'"
check "the agent uninstalls" shows "slicer-agent: uninstalled"
check "the audit log is shown" shows "407 missing or invalid proxy token"
check "no token in the output" bash -c "! grep -E 'spi_[A-Za-z0-9_-]{20,}' '$OUT'"
check "no sanitizer report in the demo's proxy output" bash -c \
	"[ -n '$DEMO_DIR' ] && [ -f '$DEMO_DIR/proxy.log' ] && ! grep -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' '$DEMO_DIR/proxy.log'"
# its namespaces (spx-demo-PID-*) and the agent's daemon, as the demo named them
left_behind() {
	local ns apid
	ns=$(grep -oE 'spx-demo-[0-9]+-' "$OUT" | head -1)
	apid=$(grep -oE 'daemon: running \(detached, pid [0-9]+\)' "$OUT" | grep -oE '[0-9]+' | head -1)
	echo "namespaces ${ns}*, agent pid ${apid:-none}"
	[ -n "$ns" ] || return 1
	! ip netns list | grep -q "^$ns" && { [ -z "$apid" ] || ! kill -0 "$apid" 2>/dev/null; }
}
check "no namespace or process of the demo is left" left_behind
case $DEMO_DIR in /tmp/spx-demo.?*) rm -rf "$DEMO_DIR" ;; esac
bench_finish
