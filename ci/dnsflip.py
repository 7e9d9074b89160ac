#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test-bench DNS responder for rebinding tests: each A query for any name is
answered with the next address of a fixed list, TTL 0 (so a resolver that asks
twice gets two different answers).  An entry "servfail" in that list answers
that query with SERVFAIL instead.  Other query types get an empty NOERROR.
UDP only.  Used only inside the bench's network namespaces.

Options: --port N listens on another port than 53; --ttl N gives the A
records that TTL; --drop TYPE (repeatable, e.g. 28 for AAAA) never answers
queries of that type, as a middlebox that drops them.

usage: dnsflip.py [--port N] [--ttl N] [--drop TYPE]... LISTEN_ADDR ADDR1 [ADDR2 ...]
"""
import argparse
import socket
import struct
import sys
import time


def parse_question(msg):
    """Return (qname_wire_end, qtype) for the first question, or None."""
    if len(msg) < 12:
        return None
    qd = struct.unpack("!H", msg[4:6])[0]
    if qd != 1:
        return None
    i = 12
    labels = []
    while i < len(msg):
        n = msg[i]
        if n == 0:
            i += 1
            break
        if n & 0xC0 or i + 1 + n > len(msg):
            return None
        labels.append(msg[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += 1 + n
    if i + 4 > len(msg):
        return None
    qtype = struct.unpack("!H", msg[i:i + 2])[0]
    return i + 4, qtype, ".".join(labels)


def main():
    ap = argparse.ArgumentParser(description="rebinding / dropping DNS responder")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--ttl", type=int, default=0)
    ap.add_argument("--drop", type=int, action="append", default=[])
    ap.add_argument("listen")
    ap.add_argument("addrs", nargs="+")
    opt = ap.parse_args()
    listen, addrs = opt.listen, opt.addrs
    s = socket.socket(socket.AF_INET6 if ":" in listen else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((listen, opt.port))
    k = 0
    while True:
        msg, peer = s.recvfrom(4096)
        q = parse_question(msg)
        if not q:
            continue
        end, qtype, name = q
        if qtype in opt.drop:
            sys.stderr.write("%.3f type%d %s -> dropped\n" % (time.time(), qtype, name))
            sys.stderr.flush()
            continue
        # header: same id, QR=1, AA=1, RD copied, RA=1, rcode 0
        flags = 0x8400 | (struct.unpack("!H", msg[2:4])[0] & 0x0100) | 0x0080
        answers = b""
        an = 0
        if qtype == 1 and addrs[k % len(addrs)] == "servfail":
            k += 1
            flags |= 2
            sys.stderr.write("%.3f A %s -> servfail\n" % (time.time(), name))
        elif qtype == 1:
            a = addrs[k % len(addrs)]
            k += 1
            answers = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, opt.ttl, 4) +
                       socket.inet_aton(a))
            an = 1
            sys.stderr.write("%.3f A %s -> %s\n" % (time.time(), name, a))
        else:
            sys.stderr.write("%.3f type%d %s -> nodata\n" % (time.time(), qtype, name))
        sys.stderr.flush()
        hdr = msg[0:2] + struct.pack("!HHHHH", flags, 1, an, 0, 0)
        s.sendto(hdr + msg[12:end] + answers, peer)


if __name__ == "__main__":
    main()
