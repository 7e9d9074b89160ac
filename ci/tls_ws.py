#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test-bench WebSocket echo server (RFC 6455), TLS or plain, stdlib only.

Used only inside the bench's network namespaces.  A GET with
"Upgrade: websocket" to a path under /ws gets 101; the server then sends one
text message with the JSON of the request (path, headers as received), and
echoes every data message back with the same opcode (ping gets pong, close
gets close).  Any other request gets 200 with a JSON echo (no upgrade).
Every connection and request is logged to stderr ("CONN ...", "REQ ...",
"MSG ..."), so a test can assert what reached it (or that nothing did).

usage: tls_ws.py --addr A --port N [--cert F --key F] [--ready FILE]
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
LOCK = threading.Lock()


def log(msg):
    with LOCK:
        sys.stderr.write("%.3f %s\n" % (time.time(), msg))
        sys.stderr.flush()


class Closed(Exception):
    pass


class Peer:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def fill(self):
        d = self.sock.recv(65536)
        if not d:
            raise Closed()
        self.buf += d

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def head(self):
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 65536:
                raise Closed()
            self.fill()
        h, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = h.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        hdrs = []
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs.append((k.strip(), v.strip()))
        return method, target, hdrs

    def frame(self):
        b0, b1 = self.exact(2)
        op, masked, n = b0 & 0x0F, b1 & 0x80, b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", self.exact(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", self.exact(8))[0]
        if n > 1 << 24:
            raise Closed()
        key = self.exact(4) if masked else None
        data = self.exact(n)
        if key:
            data = bytes(c ^ key[i & 3] for i, c in enumerate(data))
        return b0 & 0x80, op, bool(masked), data


def send_frame(sock, op, data):
    n = len(data)
    if n < 126:
        h = struct.pack("!BB", 0x80 | op, n)
    elif n < 65536:
        h = struct.pack("!BBH", 0x80 | op, 126, n)
    else:
        h = struct.pack("!BBQ", 0x80 | op, 127, n)
    sock.sendall(h + data)


def handle(sock, addr, port, conn_id):
    p = Peer(sock)
    while True:
        method, target, hdrs = p.head()
        h = {k.lower(): v for k, v in hdrs}
        log("REQ %s:%d conn=%d %s %s host=%s" % (addr, port, conn_id, method, target,
                                                  h.get("host")))
        n = int(h.get("content-length", "0") or 0)
        if n:
            p.exact(n)
        info = {"method": method, "target": target, "host": h.get("host"),
                "headers": h, "header_list": hdrs, "conn": conn_id}
        up = "websocket" in h.get("upgrade", "").lower() and \
            "upgrade" in h.get("connection", "").lower()
        if not (up and target.startswith("/ws") and method == "GET" and
                "sec-websocket-key" in h):
            body = json.dumps(info).encode() + b"\n"
            sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            continue
        acc = base64.b64encode(hashlib.sha1(h["sec-websocket-key"].encode() +
                                            GUID).digest())
        sock.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                     b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n")
        send_frame(sock, 1, json.dumps(info).encode())
        while True:
            fin, op, masked, data = p.frame()
            log("MSG conn=%d op=%d len=%d masked=%d" % (conn_id, op, len(data), masked))
            if not masked:  # clients must mask (RFC 6455 5.1)
                send_frame(sock, 8, struct.pack("!H", 1002))
                return
            if op == 8:
                send_frame(sock, 8, data[:2])
                return
            if op == 9:
                send_frame(sock, 10, data)
            elif op in (1, 2):
                send_frame(sock, op, data)


def serve(a):
    fam = socket.AF_INET6 if ":" in a.addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((a.addr, a.port))
    ls.listen(128)
    ctx = None
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(a.cert, a.key)
    if a.ready:
        with open(a.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    log("READY %s:%d" % (a.addr, a.port))
    n = 0
    while True:
        s, peer = ls.accept()
        n += 1
        log("CONN %s:%d from %s" % (a.addr, a.port, peer[0]))
        threading.Thread(target=run, args=(s, ctx, a, n), daemon=True).start()


def run(s, ctx, a, n):
    s.settimeout(30)
    try:
        if ctx:
            s = ctx.wrap_socket(s, server_side=True)
        handle(s, a.addr, a.port, n)
    except (Closed, OSError, ValueError, ssl.SSLError) as e:
        log("END conn=%d %s" % (n, type(e).__name__))
    finally:
        try:
            s.close()
        except OSError:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--ready")
    serve(ap.parse_args())


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
