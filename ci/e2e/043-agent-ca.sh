#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The CA part of `slicer-agent proxy install --root DIR` against hand-built
# root file systems in the work directory (nothing outside it is written):
#   debian   update-ca-certificates (a stand-in run chrooted with busybox)
#   alpine   the same tool name, /etc/alpine-release
#   fedora   update-ca-trust extract (a stand-in)
#   bundle   Alpine with only ca-certificates-bundle: a block appended
#   none     no trust store at all
# Each: the CA ends up in the bundle, /etc/environment and profile.d name
# it, a second install changes nothing, uninstall restores the tree byte
# for byte (modes and symlinks too), a second uninstall is a no-op; a line
# and a CA an administrator adds after install survive uninstall.  Also
# --ca-sha256, a read-only trust store (rolled back), --no-ca, nothing
# installed for the running system (no table) with --root, and an image
# whose absolute links are followed inside it, never out of it.
source "$(dirname "$(readlink -f "$0")")/../lib.sh"
bench_init
bench_up || { echo "bench setup failed"; echo "0 passed, 1 failed"; exit 1; }
case $BUILD in /*) A=$BUILD/slicer-agent ;; *) A=$SPX_ROOT/$BUILD/slicer-agent ;; esac
[ -x "$A" ] || { echo "no $A (make first)"; echo "0 passed, 1 failed"; exit 1; }
check "proxy starts" start_proxy
[ -n "$PROXY_PID" ] || bench_finish
T=$(new_client vm1 | grep -oE 'spi_[A-Za-z0-9_-]+' | head -1)
URL="http://proxy:$T@$PROXY_ADDR"
PCA=$DIR/proxy-ca.crt
cli ca >"$PCA"
SHA=$(openssl x509 -in "$PCA" -outform DER | sha256sum | cut -d' ' -f1)
R=$DIR/roots
export A URL PCA R SHA

# busybox and its libraries, so stand-in tools can run chrooted
with_busybox() {
	local root=$1 l a
	mkdir -p "$root/bin"
	cp /usr/bin/busybox "$root/bin/busybox"
	for l in $(ldd /usr/bin/busybox | grep -oE '/[^ ]+'); do
		mkdir -p "$root$(dirname "$l")"
		cp -L "$l" "$root$l"
	done
	for a in sh cat mv ln basename; do ln -sf busybox "$root/bin/$a"; done
}
base_certs() {
	local root=$1 bundle=$2
	mkdir -p "$root/usr/share/ca-certificates" "$(dirname "$root$bundle")"
	cp "$CA" "$root/usr/share/ca-certificates/base.crt"
	cp "$CA" "$root$bundle"
	printf 'LANG=C.UTF-8\n' >"$root/etc/environment"
	chmod 0640 "$root/etc/environment"
	mkdir -p "$root/etc/profile.d"
}
make_debian() {
	local root=$R/$1
	mkdir -p "$root/etc/ssl/certs" "$root/usr/sbin" "$root/usr/local/share/ca-certificates"
	with_busybox "$root"
	base_certs "$root" /etc/ssl/certs/ca-certificates.crt
	ln -s /usr/share/ca-certificates/base.crt "$root/etc/ssl/certs/base.pem"
	cat >"$root/usr/sbin/update-ca-certificates" <<-'EOF'
		#!/bin/sh
		# stand-in: bundle = base + local CAs, a symlink per local CA
		set -e
		b=/etc/ssl/certs/ca-certificates.crt
		cat /usr/share/ca-certificates/base.crt >"$b.new"
		for f in /usr/local/share/ca-certificates/*.crt; do
			[ -f "$f" ] || continue
			cat "$f" >>"$b.new"
			ln -sf "$f" "/etc/ssl/certs/$(basename "$f" .crt).pem"
		done
		mv "$b.new" "$b"
	EOF
	chmod 755 "$root/usr/sbin/update-ca-certificates"
	if [ "$1" = alpine ]; then echo 3.20.0 >"$root/etc/alpine-release"; else echo 12.0 >"$root/etc/debian_version"; fi
}
make_fedora() {
	local root=$R/fedora
	mkdir -p "$root/etc/pki/ca-trust/source/anchors" "$root/etc/pki/tls/certs" "$root/usr/bin"
	with_busybox "$root"
	base_certs "$root" /etc/pki/tls/certs/ca-bundle.crt
	cat >"$root/usr/bin/update-ca-trust" <<-'EOF'
		#!/bin/sh
		set -e
		[ "$1" = extract ]
		b=/etc/pki/tls/certs/ca-bundle.crt
		cat /usr/share/ca-certificates/base.crt >"$b.new"
		for f in /etc/pki/ca-trust/source/anchors/*.pem; do [ -f "$f" ] && cat "$f" >>"$b.new"; done
		mv "$b.new" "$b"
	EOF
	chmod 755 "$root/usr/bin/update-ca-trust"
}
make_bundle() {
	local root=$R/bundle
	mkdir -p "$root/etc/ssl/certs"
	base_certs "$root" /etc/ssl/certs/ca-certificates.crt
	ln -s certs/ca-certificates.crt "$root/etc/ssl/cert.pem"
	echo 3.20.0 >"$root/etc/alpine-release"
}
tree() {
	(cd "$1" && find . -printf '%p %y %m %l\n' | sort && find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}
export -f tree

check "hand-built roots" bash -c "$(declare -f with_busybox base_certs make_debian make_fedora make_bundle);
	make_debian debian && make_debian alpine && make_fedora && make_bundle && mkdir -p '$R/none/etc'"

layout() {
	local name=$1 bundle=$2 what=$3
	local root=$R/$name
	tree "$root" >"$DIR/$name.before"
	check "$name: install --root" bash -c "in_vm '$A' proxy install --root '$root' --proxy '$URL' >'$DIR/$name.out' 2>&1; rc=\$?; cat '$DIR/$name.out'; exit \$rc"
	check "$name: reports $what" grep -qF "$what" "$DIR/$name.out"
	check "$name: the CA verifies against the bundle" openssl verify -CAfile "$root$bundle" "$PCA"
	check "$name: /etc/environment keeps its line and names the CA" bash -c \
		"grep -qx 'LANG=C.UTF-8' '$root/etc/environment' && grep -qx 'SSL_CERT_FILE=$bundle' '$root/etc/environment' && grep -qx 'NODE_EXTRA_CA_CERTS=/etc/slicer-agent/ca.pem' '$root/etc/environment'"
	check "$name: profile.d script" grep -q "export REQUESTS_CA_BUNDLE=$bundle" "$root/etc/profile.d/slicer-agent.sh"
	check "$name: the browsers' policy files, in the root" bash -c \
		"grep -q CACertificates '$root/etc/chromium/policies/managed/slicer-agent.json' && grep -q /etc/slicer-agent/ca.pem '$root/etc/firefox/policies/policies.json'"
	check "$name: config 0600, manifest, no table" bash -c \
		"[ \$(stat -c %a '$root/etc/slicer-agent/agent.conf') = 600 ] && test -s '$root/var/lib/slicer-agent/manifest' && ! grep -q '^table' '$root/var/lib/slicer-agent/manifest' && ! in_vm nft list table inet slicer_agent"
	tree "$root" >"$DIR/$name.after1"
	check "$name: install twice" in_vm "$A" proxy install --root "$root" --proxy "$URL"
	check "$name: install twice leaves the same tree" bash -c "tree '$root' >'$DIR/$name.after2'; diff '$DIR/$name.after1' '$DIR/$name.after2'"
	check "$name: uninstall --root" in_vm "$A" proxy uninstall --root "$root"
	check "$name: the tree is back byte for byte" bash -c "tree '$root' >'$DIR/$name.after3'; diff '$DIR/$name.before' '$DIR/$name.after3'"
	check "$name: uninstall twice is a no-op" expect_re 'nothing to do' in_vm "$A" proxy uninstall --root "$root"
}
layout debian /etc/ssl/certs/ca-certificates.crt "CA installed (debian"
layout alpine /etc/ssl/certs/ca-certificates.crt "CA installed (alpine"
layout fedora /etc/pki/tls/certs/ca-bundle.crt "CA installed (fedora"
layout bundle /etc/ssl/certs/ca-certificates.crt "CA appended to /etc/ssl/certs/ca-certificates.crt"

# ---- an image whose links are absolute (/etc/opt -> $DIR/o): they lead
# to the image's own $DIR/o, never this machine's, for install and
# uninstall alike
E=$R/links
check "an image with absolute links for /etc/opt and /etc/profile.d" bash -c "$(declare -f with_busybox base_certs make_debian);
	make_debian links && rm -rf '$E/etc/opt' '$E/etc/profile.d' &&
	mkdir -p '$E$DIR/o' '$E$DIR/pd' '$DIR/o' '$DIR/pd' &&
	ln -s '$DIR/o' '$E/etc/opt' && ln -s '$DIR/pd' '$E/etc/profile.d'"
tree "$E" >"$DIR/links.before"
check "links: install --root" in_vm "$A" proxy install --root "$E" --proxy "$URL"
check "  nothing written through them on this machine" bash -c \
	"[ -z \"\$(ls -A '$DIR/o' '$DIR/pd' | grep -v ':\$')\" ] || { ls -laR '$DIR/o' '$DIR/pd'; exit 1; }"
check "  the files are where the links lead inside the image" bash -c \
	"test -f '$E$DIR/o/chrome/policies/managed/slicer-agent.json' && test -f '$E$DIR/pd/slicer-agent.sh'"
check "links: uninstall --root, the image as it was" bash -c \
	"in_vm '$A' proxy uninstall --root '$E' && tree '$E' | diff '$DIR/links.before' -"

# ---- the edges
tree "$R/none" >"$DIR/none.before"
check "no trust store: refused, nothing changed" bash -c \
	"out=\$(in_vm '$A' proxy install --root '$R/none' --proxy '$URL' 2>&1); rc=\$?; echo \"\$out\"; [ \$rc != 0 ] && echo \"\$out\" | grep -q 'no trust store found' && tree '$R/none' | diff '$DIR/none.before' -"
check "no trust store with --no-ca: config only" bash -c \
	"in_vm '$A' proxy install --root '$R/none' --proxy '$URL' --no-ca && test -s '$R/none/etc/slicer-agent/agent.conf' && ! test -e '$R/none/etc/environment'"
check "--no-ca: uninstall restores" bash -c "in_vm '$A' proxy uninstall --root '$R/none' && tree '$R/none' | diff '$DIR/none.before' -"
if ldd "$A" 2>/dev/null | grep -q libmbedtls; then
check "--ca-sha256 (openssl's colon form) accepted" in_vm "$A" proxy install --root "$R/debian" --proxy "$URL" \
	--ca-sha256 "$(openssl x509 -in "$PCA" -noout -fingerprint -sha256 | cut -d= -f2)"
check "--ca-sha256: uninstall" in_vm "$A" proxy uninstall --root "$R/debian"
check "--ca-sha256 mismatch: refused, nothing changed" bash -c \
	"out=\$(in_vm '$A' proxy install --root '$R/debian' --proxy '$URL' --ca-sha256 $(printf '%064d' 1) 2>&1); rc=\$?; echo \"\$out\"; [ \$rc != 0 ] && echo \"\$out\" | grep -q 'does not match' && tree '$R/debian' | diff '$DIR/debian.before' -"
else
	echo "note: $A was built without mbed TLS: --ca-sha256 checks skipped"
fi
check "a read-only trust store: refused part-way, rolled back" bash -c \
	"in_vm unshare --mount sh -c \"mount --bind -o ro '$R/bundle/etc/ssl/certs' '$R/bundle/etc/ssl/certs' && '$A' proxy install --root '$R/bundle' --proxy '$URL'\" >'$DIR/ro.out' 2>&1; rc=\$?; cat '$DIR/ro.out'; [ \$rc != 0 ] && grep -q 'rolled back' '$DIR/ro.out' && tree '$R/bundle' | diff '$DIR/bundle.before' -"
check "--root must be a directory" bash -c "! in_vm '$A' proxy install --root '$R/missing' --proxy '$URL'"
# ---- what the administrator changed after install survives uninstall
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=corp CA" \
	-keyout "$DIR/corp.key" -out "$DIR/corp.crt" 2>/dev/null
later() { # NAME: install, then a line in /etc/environment and a CA added
	local root=$R/$1
	in_vm "$A" proxy install --root "$root" --proxy "$URL" >/dev/null || return 1
	echo CORP_SETTING=1 >>"$root/etc/environment"
	if [ "$1" = debian ]; then
		cp "$DIR/corp.crt" "$root/usr/local/share/ca-certificates/corp.crt"
		chroot "$root" /usr/sbin/update-ca-certificates
	else
		cat "$DIR/corp.crt" >>"$root/etc/ssl/certs/ca-certificates.crt"
	fi
	in_vm "$A" proxy uninstall --root "$root"
}
for L in debian bundle; do
	B=$R/$L/etc/ssl/certs/ca-certificates.crt
	check "$L: changes made after install (a line, a CA): uninstall keeps them" later $L
	check "  /etc/environment keeps the new line and the old, and nothing of ours" bash -c \
		"cat '$R/$L/etc/environment'; grep -qx CORP_SETTING=1 '$R/$L/etc/environment' && grep -qx LANG=C.UTF-8 '$R/$L/etc/environment' && ! grep -q slicer-agent '$R/$L/etc/environment'"
	check "  the bundle holds the new CA and the old, not ours" bash -c \
		"openssl verify -CAfile '$B' '$DIR/corp.crt' && openssl verify -CAfile '$B' '$CA' && ! openssl verify -CAfile '$B' '$PCA'"
done
check "  debian: the new CA's link is still there" test -L "$R/debian/etc/ssl/certs/corp.pem"

bench_finish
