# SPDX-License-Identifier: GPL-2.0-or-later
# shellcheck shell=bash disable=SC2034 # variables ci/bench.sh reads
# Growth series for ci/bench.sh (slicer-proxy only), written to
# res/growth.tsv as "series count metric run value".  One client, "g",
# has two rules: fast.bench.test host-level (a tunnel) and fasti.bench.test
# with a path and a secret (intercepted).  Both names are nginx: the second
# is in the host namespace's /etc/hosts, which the proxy's resolver reads
# (a port other than 443 would not do: hey puts the port in the TLS server
# name).  Each point measures
#   tnc  tunnel, one request per connection: each CONNECT checks the
#        token against every client and decides over the client's rules
#   ika  intercepted, keep-alive: each request inside finds its client by
#        name and decides over the client's rules
#   series rules    g has 10, 1,000 and 100,000 rules (fillers name other hosts)
#   series clients  1, 100 and 10,000 clients (g and fillers)
# Counts past the proxy's caps are refused by its API; the series then
# measures at the count it reached and the report says where it stopped.
# Fillers are created over the control socket, many requests per curl;
# the time that takes is in the notes.

# api_batch FILE: POST each "PATH<TAB>JSON" line of FILE; prints the number
# of 2xx answers
api_batch() {
	local f=$1 cfg=$1.curlrc path body
	while IFS=$'\t' read -r path body; do
		# "next" resets every option: each request names its socket
		printf 'unix-socket = "%s"\n' "$S"
		printf 'max-time = 30\n'
		printf 'url = "http://localhost%s"\n' "$path"
		printf 'data = "%s"\n' "${body//\"/\\\"}"
		printf 'header = "Content-Type: application/json"\n'
		printf 'output = "/dev/null"\n'
		printf 'write-out = "%%{http_code}\\n"\n'
		printf 'fail\n'
		printf 'next\n'
	done <"$f" >"$cfg"
	# --fail-early: the first refusal (a cap) ends the batch
	timeout 600 curl -q -s --fail-early -K "$cfg" 2>/dev/null | grep -c '^2'
}

# growth_fill SERIES HAVE WANT: create WANT-HAVE fillers; prints how many took
growth_fill() {
	local series=$1 have=$2 want=$3 i f=$RES/growth-fill.txt
	[ "$want" -gt "$have" ] || { echo 0; return; }
	for ((i = have + 1; i <= want; i++)); do
		if [ "$series" = clients ]; then
			printf '/v1/proxy/clients\t{"name":"fill-%d"}\n' "$i"
		else
			printf '/v1/proxy/clients/g/rules\t{"host":"filler-%d.bench.invalid","ports":[443]}\n' "$i"
		fi
	done >"$f"
	api_batch "$f"
}

# growth_series SERIES POINTS...: fill up to each point, measure there
growth_series() {
	local series=$1 have=1 want got n t0
	shift
	[ "$series" = rules ] && have=2
	for want in "$@"; do
		t0=$SECONDS
		got=$(growth_fill "$series" "$have" "$want")
		n=$((have + got))
		[ "$want" -gt "$have" ] &&
			echo "growth: $got $series created over the API in $((SECONDS - t0)) s (to $n; $((want - have)) asked)" >>"$RES/notes.txt"
		[ "$n" -lt "$want" ] &&
			echo "growth-note-$series-$n $want requested: the API refused past $n" >>"$RES/meta.txt"
		have=$n
		TGT="$series	$n" TFILE="growth-$series-$n" RAWF=$RES/growth.tsv
		say "growth: $series = $n"
		rate_series "tnc:1:https://$HOST$SMALL" "ika:0:https://$IHOST$SMALL"
		TGT='' TFILE='' RAWF=$RAW
		[ "${BENCH_PROFILE:-0}" = 1 ] && [ "$want" = "${!#}" ] && growth_profile "$series" "$n"
	done
}

# growth_profile SERIES COUNT: where the policy look-ups stand in a perf
# profile (BENCH_PROFILE=1): for rules the intercepted keep-alive load,
# for clients the tunnel new-connection load
growth_profile() {
	local pd=$RES/perf-growth-$1.data hp out=$OUT/profile-growth-$1-$2.txt load
	local args=(-x "$PX" "https://$IHOST$SMALL")
	load="intercepted keep-alive"
	[ "$1" = clients ] && args=(-disable-keepalive -x "$PX" "https://$HOST$SMALL") load="tunnel new-connection"
	command -v perf >/dev/null || return 0
	L timeout $((SECS + 34)) hey -z "$((SECS + 4))s" -c "$CONNS" -t 0 "${args[@]}" >/dev/null 2>&1 &
	hp=$!
	sleep 2
	timeout $((SECS + 20)) perf record -q -o "$pd" -F 997 --call-graph dwarf,16384 -p "$PROXY_PID" \
		-- sleep "$SECS" >/dev/null 2>&1
	wait "$hp" 2>/dev/null
	{
		echo "$load load with $2 $1: share of proxy CPU (with callees)"
		perf report -i "$pd" --children --sort symbol --stdio -g none 2>/dev/null |
			grep -E '\] (store_[a-z_]+|match_[a-z_]+|CRYPTO_memcmp|conn_authenticate|audit_emit|SSL_read_ex|SSL_write_ex|SSL_do_handshake|conn_drive) ' |
			awk '{printf "  %-28s %s\n", $4, $1}'
	} >"$out"
}

growth_run() {
	local c secs_save=$SECS
	IHOST=fasti.bench.test
	grep -q " $IHOST\$" "/etc/netns/$HNS/hosts" || printf '%s %s\n' "$FAST" "$IHOST" >>"/etc/netns/$HNS/hosts"
	spx_setup || { echo "growth	slicer-proxy set-up failed" >>"$RES/skipped.txt"; return 1; }
	start_proxy --upstream-ca "$CA" || { echo "growth	slicer-proxy did not start" >>"$RES/skipped.txt"; return 1; }
	taskset -a -p -c "$PROXY_CPU" "$PROXY_PID" >/dev/null
	for c in tun mitm tp; do cli client delete "$c" >/dev/null 2>&1; done
	TOK_G=$(cli client create g) || { echo "growth	client create failed" >>"$RES/skipped.txt"; return 1; }
	cli secret create growth-token --host "$IHOST" --from-file "$DIR/secret.txt" >/dev/null
	g_rules() {
		cli allow g --host "$HOST" --port 443 >/dev/null &&
			cli allow g --host "$IHOST" --port 443 --path '/v1/*' --secret growth-token >/dev/null
	}
	g_rules || { echo "growth	allow failed" >>"$RES/skipped.txt"; return 1; }
	SECS=$G_SECS KIND=explicit TREE=("$PROXY_PID") AGENT_TREE=() RUNNER=(in_vm)
	PX_TOKEN=$TOK_G PX="http://proxy:$TOK_G@$PROXY_ADDR"
	if [ "$QUICK" = 1 ]; then
		growth_series rules 10 100000
	else
		growth_series rules 10 1000 100000
	fi
	# back to the two rules, then more clients
	cli revoke g --all >/dev/null && g_rules
	if [ "$QUICK" = 1 ]; then
		growth_series clients 1 10000
	else
		growth_series clients 1 100 10000
	fi
	SECS=$secs_save
	stop_proxy
}
