#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""wirecap.py IFACE SECS [--ready FILE]: what arrives on IFACE (in the
network namespace it runs in), one line per IPv4 or IPv6 packet, until SECS
pass or SIGTERM:

    v4 tcp 192.0.2.2 -> 203.0.113.9 dport 443 flags SF
    v6 icmpv6 fd00::2 -> 2001:db8::9 type 128
    v4 proto136 192.0.2.2 -> 203.0.113.9

Packets the namespace sends out are left out.  Root (AF_PACKET); used only
inside the test namespaces.  --ready FILE is written once capturing."""
import argparse
import ipaddress
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4
NAMES = {1: "icmp", 6: "tcp", 17: "udp", 58: "icmpv6", 136: "udplite"}
TCP_FLAGS = "FSRPAU"


def describe(ver, proto, src, dst, l4):
    name = NAMES.get(proto, "proto%d" % proto)
    s = "%s %s %s -> %s" % (ver, name, src, dst)
    if proto in (6, 17, 136) and len(l4) >= 4:
        s += " dport %d" % struct.unpack("!H", l4[2:4])[0]
    if proto == 6 and len(l4) >= 14:
        s += " flags " + "".join(f for i, f in enumerate(TCP_FLAGS) if l4[13] & (1 << i))
    if proto in (1, 58) and l4:
        s += " type %d" % l4[0]
    return s


def parse(frame):
    if len(frame) < 14:
        return None
    etype = struct.unpack("!H", frame[12:14])[0]
    ip = frame[14:]
    if etype == 0x0800 and len(ip) >= 20:
        ihl = (ip[0] & 15) * 4
        return describe("v4", ip[9], socket.inet_ntop(socket.AF_INET, ip[12:16]),
                        socket.inet_ntop(socket.AF_INET, ip[16:20]), ip[ihl:])
    if etype == 0x86DD and len(ip) >= 40:
        # extension headers are not followed: the tests send none
        return describe("v6", ip[6], ipaddress.IPv6Address(ip[8:24]).compressed,
                        ipaddress.IPv6Address(ip[24:40]).compressed, ip[40:])
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("iface")
    ap.add_argument("secs", type=float)
    ap.add_argument("--ready")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((a.iface, 0))
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("ready\n")
    end = time.monotonic() + a.secs
    while True:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            frame, addr = s.recvfrom(65535)
        except socket.timeout:
            break
        if addr[2] == PACKET_OUTGOING:
            continue
        line = parse(frame)
        if line:
            print(line, flush=True)


if __name__ == "__main__":
    main()
