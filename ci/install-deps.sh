#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Install every Debian 12 package needed to build, test, fuzz and benchmark.
set -euo pipefail
PKGS=(
	build-essential pkg-config clang libclang-rt-14-dev
	libssl-dev libnftnl-dev libmnl-dev libc-ares-dev libjansson-dev libcmocka-dev
	iproute2 nftables dnsmasq procps psmisc file util-linux coreutils
	curl wget dnsutils git python3 python3-requests nodejs openssl
	libmbedtls-dev busybox musl-tools
	apache2-utils wrk nginx-light strace chromium firefox-esr
)
if [ "$(id -u)" -ne 0 ]; then
	echo "ci/install-deps.sh: run as root (apt-get)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "dependencies ok"
