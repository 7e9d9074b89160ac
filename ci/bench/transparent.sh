# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034 # variables ci/bench.sh reads
# The transparent target for ci/bench.sh: vm -> slicer-agent -> slicer-proxy.
# `slicer-agent proxy install` runs in the bench's vm namespace inside a
# private mount namespace whose /etc, /usr, /var, /opt and /root are
# overlays and /run a tmpfs (as ci/e2e/041-agent-install.sh does), so this
# machine's own files are never touched.  The agent's ruleset captures the
# whole vm namespace: stop_spx-transparent uninstalls it (and removes the
# table if that failed) so later loads from the vm are not redirected.
# When the agent is missing or its install fails, the target is skipped
# with "agent not ready".

AGENT_BIN=$SPX_ROOT/$BUILD/slicer-agent
case $BUILD in /*) AGENT_BIN=$BUILD/slicer-agent ;; esac
GUEST_PID='' AGENT_PID='' GUEST_DIR='' GPID=''

# the guest (guest_up and in_guest of ci/lib.sh), and the bench's name in it
guest_make() {
	guest_up || return 1
	GUEST_PID=$GPID GUEST_DIR=$G
	in_guest sh -c "printf '%s %s\n' $FAST $HOST >>/etc/hosts"
}

start_spx-transparent() {
	local url out
	SKIP_WHY="agent not ready"
	[ -x "$AGENT_BIN" ] || { SKIP_WHY="agent not ready (no $AGENT_BIN)"; return 1; }
	spx_setup || { SKIP_WHY="slicer-proxy set-up failed"; return 1; }
	start_proxy --upstream-ca "$CA" --workers "$SPX_WORKERS" --max-conns-per-peer 16384 || { SKIP_WHY="slicer-proxy did not start"; return 1; }
	taskset -a -p -c "$PROXY_CPU" "$PROXY_PID" >/dev/null
	guest_make || { SKIP_WHY="could not build the guest's private file system"; return 1; }
	url="http://proxy:$TOK_TP@$PROXY_ADDR"
	# BENCH_AGENT_SCHED=normal: the agent without SCHED_BATCH
	out=$(in_guest timeout 60 "$AGENT_BIN" proxy install --proxy "$url" \
		--sched "${BENCH_AGENT_SCHED:-batch}" 2>&1)
	# shellcheck disable=SC2181
	if [ $? -ne 0 ]; then
		printf '%s\n' "$out" >"$DIR/agent-install.log"
		SKIP_WHY="agent not ready: $(printf '%s\n' "$out" | grep -v '^$' | tail -1 | cut -c1-120)"
		return 1
	fi
	AGENT_PID=$(in_guest cat /run/slicer-agent/agent.pid 2>/dev/null)
	if [ -z "$AGENT_PID" ] || ! kill -0 "$AGENT_PID" 2>/dev/null; then
		SKIP_WHY="agent not ready: no agent daemon after install"
		return 1
	fi
	# the agent runs inside the vm: it shares the vm's (the load) CPU
	taskset -a -p -c "$LOAD_CPU" "$AGENT_PID" >/dev/null
	KIND=transparent TREE=("$PROXY_PID") AGENT_TREE=("$AGENT_PID") PX_TOKEN='' PX='' PX_ADDR=''
	RUNNER=(in_guest) TCA=$CA TCA_NAME="bench upstream CA" SPX_CLIENT=tp
}

stop_spx-transparent() {
	if [ -n "$GUEST_PID" ] && kill -0 "$GUEST_PID" 2>/dev/null; then
		in_guest timeout 30 "$AGENT_BIN" proxy uninstall >/dev/null 2>&1
		in_guest nft delete table inet slicer_agent >/dev/null 2>&1
		[ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null
		stop_pid "$GUEST_PID"
	fi
	# nothing of the agent may stay in the vm namespace
	ip netns exec "$VNS" nft delete table inet slicer_agent >/dev/null 2>&1
	GUEST_PID='' AGENT_PID=''
	stop_proxy
}
