#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Intercepted upstreams verified against the system trust store (no
# --upstream-ca).  Each proxy runs in its own mount namespace with a
# directory of this script's making over /etc/ssl/certs: from a hashed
# directory a CA is read when a chain needs it (the bundle beside it is not
# parsed); a directory with only the bundle file, or SSL_CERT_FILE, is read
# whole; an upstream whose CA is in none of them is refused (502,
# certificate verify failed).
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }

REAL_P=$P
# the proxy sees only what each case sets (these would select the bundle)
unset SSL_CERT_FILE SSL_CERT_DIR
# the proxy, with SPX_TRUST bind-mounted over /etc/ssl/certs; ip netns exec
# gives every proxy a mount namespace of its own, and exec keeps the PID
WRAP=$DIR/proxy-trust.sh
cat >"$WRAP" <<EOF
#!/bin/bash
if [ -n "\$SPX_TRUST" ]; then
	mount --bind "\$SPX_TRUST" /etc/ssl/certs || exit 1
fi
exec "$REAL_P" "\$@"
EOF
chmod 755 "$WRAP"

# an unrelated CA, for the "not trusted" cases
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj "/CN=other test CA" -keyout "$DIR/other.key" -out "$DIR/other.crt" >/dev/null 2>&1

# trust_dir NAME MODE CERT...: a directory of CERTs; MODE hashed (one
# HHHHHHHH.0 file per CA, as update-ca-certificates leaves them) or bundle
# (only ca-certificates.crt, all of them concatenated)
trust_dir() {
	local d=$DIR/trust-$1 mode=$2 c
	shift 2
	mkdir -p "$d"
	for c in "$@"; do
		if [ "$mode" = hashed ]; then
			cp "$c" "$d/$(openssl x509 -in "$c" -noout -hash).0"
		else
			cat "$c" >>"$d/ca-certificates.crt"
		fi
	done
	chmod -R a+rX "$d"
	echo "$d"
}

# run_case TRUST_DIR [ENV=VALUE...]: start the proxy on that trust store,
# with those ENV in its environment only
run_case() {
	local e rc names=(SPX_TRUST)
	export SPX_TRUST=$1
	shift
	for e in "$@"; do names+=("${e%%=*}"); export "${e?}"; done
	P=$WRAP
	start_proxy
	rc=$?
	P=$REAL_P
	for e in "${names[@]}"; do unset "$e"; done
	[ $rc -eq 0 ] && [ -n "$PROXY_PID" ]
}

T=""
setup_client() {
	T=$(new_client "vm$1")
	cli allow "vm$1" --host api.bench.test --inspect >/dev/null
	PCA=$DIR/proxy-ca-$1.crt
	cli ca >"$PCA"
}
# icode PATH: status of an intercepted request from the vm
icode() {
	in_vm curl -q -sS -m 15 --cacert "$PCA" -x "http://proxy:$T@$PROXY_ADDR" \
		-o /dev/null -w '%{http_code}' "https://api.bench.test$1"
}
# ibody PATH: body of an intercepted request from the vm
ibody() {
	in_vm curl -q -sS -m 15 --cacert "$PCA" -x "http://proxy:$T@$PROXY_ADDR" \
		"https://api.bench.test$1"
}

# ---- hashed directory: the bench CA among others ----
D=$(trust_dir hashed hashed "$DIR/other.crt" "$CA")
check "hashed store: the proxy starts" run_case "$D"
setup_client 1
check "hashed store: an upstream signed by a CA in it is verified (200)" expect 200 icode /h1
check "hashed store: the request reached the upstream" expect_re '"path": "/h2"' ibody /h2
check "hashed store: the audit log has no verify failure" \
	bash -c "! grep -q 'certificate verify failed' '$AUDIT'"
stop_proxy

# ---- hashed directory with the bench CA only in the bundle beside it ----
# (the hashes are used; the bundle is not parsed at start)
D=$(trust_dir hashed-bundle hashed "$DIR/other.crt")
cat "$CA" >"$D/ca-certificates.crt"
chmod a+r "$D/ca-certificates.crt"
check "hashed store, CA only in the bundle: the proxy starts" run_case "$D"
check "hashed store, CA only in the bundle: refused (the bundle is not read)" expect 502 icode /hb1
stop_proxy

# ---- hashed directory without the bench CA: refused ----
D=$(trust_dir hashed-other hashed "$DIR/other.crt")
check "hashed store without the CA: the proxy starts" run_case "$D"
check "hashed store without the CA: the upstream is refused (502)" expect 502 icode /n1
check "hashed store without the CA: the 502 says why" expect_re 'certificate verify failed' ibody /n2
check "hashed store without the CA: audited as a verify failure" \
	expect_re 'certificate verify failed' cat "$AUDIT"
stop_proxy

# ---- only a bundle file (no hashes): read whole ----
: >"$AUDIT"
D=$(trust_dir bundle bundle "$DIR/other.crt" "$CA")
check "bundle only: the proxy starts" run_case "$D"
check "bundle only: an upstream signed by a CA in the bundle is verified (200)" expect 200 icode /b1
stop_proxy
D=$(trust_dir bundle-other bundle "$DIR/other.crt")
check "bundle without the CA: the proxy starts" run_case "$D"
check "bundle without the CA: the upstream is refused (502)" expect 502 icode /b2
stop_proxy

# ---- SSL_CERT_FILE: the administrator's bundle wins over the directory ----
cp "$CA" "$DIR/env-bundle.pem"
chmod a+r "$DIR/env-bundle.pem"
D=$(trust_dir env-dir hashed "$DIR/other.crt")
check "SSL_CERT_FILE: the proxy starts" run_case "$D" SSL_CERT_FILE="$DIR/env-bundle.pem"
check "SSL_CERT_FILE: its CA verifies the upstream (200)" expect 200 icode /e1
stop_proxy

# ---- the state of this machine's trust store is untouched ----
check "the host's /etc/ssl/certs was not covered" bash -c \
	"! grep -qs ' /etc/ssl/certs ' /proc/self/mountinfo"

bench_finish
