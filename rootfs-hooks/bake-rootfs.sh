#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# bake-rootfs.sh ROOTFS [AGENT]: put slicer-agent into a root file system
# directory (an unpacked image, before it is made into a disk) and enable
# its service, so the VM only needs `slicer-agent proxy install` (from
# userdata) on first boot.
#   ROOTFS  the directory; AGENT defaults to build-static/slicer-agent
# Installs /usr/local/bin/slicer-agent (0755); with systemd in the image,
# /etc/systemd/system/slicer-agent.service enabled for multi-user.target;
# with OpenRC, /etc/init.d/slicer-agent added to the default runlevel.
# The service starts only once install has written its config.
set -eu

usage() {
	echo "usage: $0 ROOTFS [AGENT]" >&2
	exit 1
}
if [ $# -lt 1 ] || [ $# -gt 2 ]; then usage; fi
root=$1
here=$(cd "$(dirname "$0")" && pwd)
agent=${2:-$here/../build-static/slicer-agent}
[ -d "$root" ] || { echo "$0: $root is not a directory" >&2; exit 1; }
[ -f "$agent" ] || { echo "$0: no agent binary at $agent (make static)" >&2; exit 1; }

mkdir -p "$root/usr/local/bin"
install -m 0755 "$agent" "$root/usr/local/bin/slicer-agent"
echo "installed $root/usr/local/bin/slicer-agent"

if [ -d "$root/etc/systemd/system" ] || [ -d "$root/lib/systemd/system" ] ||
	[ -d "$root/usr/lib/systemd/system" ]; then
	mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
	install -m 0644 "$here/slicer-agent.service" "$root/etc/systemd/system/slicer-agent.service"
	# what `systemctl enable` does, without running systemctl on the host
	ln -sf ../slicer-agent.service \
		"$root/etc/systemd/system/multi-user.target.wants/slicer-agent.service"
	echo "enabled systemd unit slicer-agent.service"
fi
if [ -d "$root/etc/init.d" ] && [ -e "$root/sbin/openrc-run" ]; then
	install -m 0755 "$here/slicer-agent.openrc" "$root/etc/init.d/slicer-agent"
	mkdir -p "$root/etc/runlevels/default"
	ln -sf /etc/init.d/slicer-agent "$root/etc/runlevels/default/slicer-agent"
	echo "enabled OpenRC service slicer-agent (default runlevel)"
fi
