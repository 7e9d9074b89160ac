#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# slicer userdata (a shell script run once at first boot): point the VM's
# traffic at slicer-proxy.  Replace TOKEN with the output of
# `slicer-proxy client create NAME`; the agent must be in the image
# (rootfs-hooks/bake-rootfs.sh) or copied in beforehand.
HTTPS_PROXY=http://proxy:TOKEN@192.168.222.1:3128 /usr/local/bin/slicer-agent proxy install
