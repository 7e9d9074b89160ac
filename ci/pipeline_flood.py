#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Pipeline N requests on one connection to the proxy in one burst, then
read every response and check each one, in order.  Used only inside the
bench namespaces.

Kinds: dns (GET /slicer/dns-query for NAME: the proxy answers itself) and
get (GET http://NAME/pN through the proxy: forwarded upstream).  Prints
"ok N" when all N responses came back with the expected status in order,
otherwise what went wrong; exit status 0 only for "ok".

usage: pipeline_flood.py --token T --kind dns|get --name NAME --count N
                         [--status CODE] [--timeout S]
"""
import argparse
import base64
import socket
import struct
import sys
import time


def dns_query(name, qid):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack(">HH", 1, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="192.168.222.1")
    ap.add_argument("--port", type=int, default=3128)
    ap.add_argument("--token", required=True)
    ap.add_argument("--kind", choices=("dns", "get"), required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=60)
    a = ap.parse_args()
    auth = "Basic " + base64.b64encode(("proxy:" + a.token).encode()).decode()
    reqs = []
    for i in range(a.count):
        if a.kind == "dns":
            enc = base64.urlsafe_b64encode(dns_query(a.name, i & 0xFFFF)).decode().rstrip("=")
            reqs.append("GET /slicer/dns-query?dns=%s HTTP/1.1\r\nHost: proxy\r\n"
                        "Proxy-Authorization: %s\r\nAccept: application/dns-message\r\n\r\n"
                        % (enc, auth))
        else:
            reqs.append("GET http://%s/p%d HTTP/1.1\r\nHost: %s\r\n"
                        "Proxy-Authorization: %s\r\n\r\n" % (a.name, i, a.name, auth))
    data = "".join(reqs).encode()
    s = socket.create_connection((a.host, a.port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    deadline = time.monotonic() + a.timeout
    sent = 0
    buf = b""
    got = 0
    s.setblocking(False)
    import selectors
    sel = selectors.DefaultSelector()
    sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    while got < a.count:
        left = deadline - time.monotonic()
        if left <= 0:
            print("timeout after %d of %d responses (%d of %d bytes sent)"
                  % (got, a.count, sent, len(data)))
            return 1
        for key, ev in sel.select(min(left, 1.0)):
            if ev & selectors.EVENT_WRITE and sent < len(data):
                try:
                    sent += s.send(data[sent:sent + 65536])
                except BlockingIOError:
                    pass
                if sent == len(data):
                    sel.modify(s, selectors.EVENT_READ)
            if ev & selectors.EVENT_READ:
                try:
                    chunk = s.recv(262144)
                except BlockingIOError:
                    continue
                except ConnectionResetError:
                    print("reset after %d of %d responses" % (got, a.count))
                    return 1
                if not chunk:
                    print("closed after %d of %d responses" % (got, a.count))
                    return 1
                buf += chunk
                # take whole responses off the front
                while True:
                    end = buf.find(b"\r\n\r\n")
                    if end < 0:
                        break
                    head = buf[:end].decode("latin-1")
                    lines = head.split("\r\n")
                    parts = lines[0].split(" ")
                    clen = 0
                    for h in lines[1:]:
                        k, _, v = h.partition(":")
                        if k.strip().lower() == "content-length":
                            clen = int(v.strip())
                        if k.strip().lower() == "transfer-encoding":
                            print("unexpected chunked response")
                            return 1
                    if len(buf) < end + 4 + clen:
                        break
                    body = buf[end + 4:end + 4 + clen]
                    buf = buf[end + 4 + clen:]
                    if len(parts) < 2 or int(parts[1]) != a.status:
                        print("response %d: %s" % (got, lines[0]))
                        return 1
                    if a.kind == "dns" and (len(body) < 2 or
                                            struct.unpack(">H", body[:2])[0] != (got & 0xFFFF)):
                        print("response %d: DNS id out of order" % got)
                        return 1
                    if a.kind == "get" and ("/p%d\"" % got).encode() not in body:
                        print("response %d: not for /p%d: %r" % (got, got, body[:200]))
                        return 1
                    got += 1
    print("ok %d" % got)
    return 0


if __name__ == "__main__":
    sys.exit(main())
