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
# Fillers are created over the control socket in batches of $G_BATCH;
# the time that takes is in the notes.

G_BATCH=${G_BATCH:-4096} # items per API batch (the proxy takes up to 4096)

# growth_fill SERIES HAVE WANT: create WANT-HAVE fillers over the control
# socket in batches ({"rules": [...]} / {"clients": [...]}, each all or
# nothing, one save per batch); prints how many were created
growth_fill() {
	local series=$1 have=$2 want=$3 i n got=0 f=$RES/growth-fill.json path key code
	[ "$want" -gt "$have" ] || { echo 0; return; }
	if [ "$series" = clients ]; then
		path=/v1/proxy/clients key=clients
	else
		path=/v1/proxy/clients/g/rules key=rules
	fi
	i=$((have + 1))
	while [ "$i" -le "$want" ]; do
		n=$((want - i + 1))
		[ "$n" -gt "$G_BATCH" ] && n=$G_BATCH
		"$PY" - "$series" "$i" "$n" >"$f" <<-'PYEOF'
			import json, sys
			series, first, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
			if series == "clients":
			    items = [{"name": "fill-%d" % k} for k in range(first, first + n)]
			    print(json.dumps({"clients": items}))
			else:
			    items = [{"host": "filler-%d.bench.invalid" % k, "ports": [443]}
			             for k in range(first, first + n)]
			    print(json.dumps({"rules": items}))
		PYEOF
		code=$(timeout 120 curl -q -s -o /dev/null -w '%{http_code}' --unix-socket "$S" \
			-H 'Content-Type: application/json' --data-binary "@$f" "http://localhost$path")
		[ "$code" = 201 ] || break
		got=$((got + n))
		i=$((i + n))
	done
	echo "$got"
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
		rate_series "tnc:1::https://$HOST$SMALL" "ika:0::https://$IHOST$SMALL"
		TGT='' TFILE='' RAWF=$RAW
		[ "${BENCH_PROFILE:-0}" = 1 ] && [ "$want" = "${!#}" ] && growth_profile "$series" "$n"
	done
}

# growth_profile SERIES COUNT: where the policy look-ups stand in a perf
# profile (BENCH_PROFILE=1): for rules the intercepted keep-alive load,
# for clients the tunnel new-connection load
growth_profile() {
	local pd=$RES/perf-growth-$1.data out=$OUT/profile-growth-$1-$2.txt load
	local args=(-x "$PX" "https://$IHOST$SMALL")
	load="intercepted keep-alive"
	[ "$1" = clients ] && args=(-disable-keepalive -x "$PX" "https://$HOST$SMALL") load="tunnel new-connection"
	command -v perf >/dev/null || return 0
	perf_record "$PROXY_PID" "growth-$1" hey -z "$((SECS + 4))s" -c "$CONNS" -t 0 "${args[@]}"
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
	start_proxy --upstream-ca "$CA" --workers "$SPX_WORKERS" --max-conns-per-peer 16384 || { echo "growth	slicer-proxy did not start" >>"$RES/skipped.txt"; return 1; }
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
