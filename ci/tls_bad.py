#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test-bench upstream that misbehaves on purpose, TLS or plain, stdlib only.

Used only inside the bench's network namespaces.  Reads a request head (and a
Content-Length body), then answers by path with raw bytes:
  /ok                 200, Content-Length, keep-alive (a well-formed answer)
  /garbage            a broken status line, then close
  /empty              close without a byte
  /reset              close with a TCP reset
  /cl-te              Content-Length and Transfer-Encoding together
  /dup-cl             two different Content-Length fields
  /nul                a NUL byte in a header value
  /fold               an obs-fold continuation line
  /bighead?n=BYTES    one header of n bytes
  /manyheads?n=N      N small headers
  /bad-chunk          a good head, then an invalid chunk size
  /short              Content-Length 100, 10 bytes, then close
  /trickle?ms=N       the whole response one byte every N ms (keep-alive)
  /slowhead?ms=N      N ms of silence, then /ok's answer
  /http09             "hello" with no status line at all, then close
Without --cert, a TLS ClientHello gets an HTTP 400 and a close (as HTTP
servers answer one).  Every connection and request is logged to stderr
("CONN ...", "REQ ...", "HELLO ...").

usage: tls_bad.py --addr A --port N [--cert F --key F] [--ready FILE]
"""
import argparse
import os
import socket
import ssl
import struct
import sys
import threading
import time
import urllib.parse

LOCK = threading.Lock()


def log(msg):
    with LOCK:
        sys.stderr.write("%.3f %s\n" % (time.time(), msg))
        sys.stderr.flush()


class Closed(Exception):
    pass


def read_head(sock, buf):
    while b"\r\n\r\n" not in buf:
        if len(buf) > 65536:
            raise Closed()
        d = sock.recv(65536)
        if not d:
            raise Closed()
        buf += d
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    h = {}
    for l in lines[1:]:
        k, _, v = l.partition(":")
        h[k.strip().lower()] = v.strip()
    n = int(h.get("content-length", "0") or 0)
    while len(rest) < n:
        d = sock.recv(65536)
        if not d:
            raise Closed()
        rest += d
    return method, target, h, rest[n:]


def ok(body=b"ok\n", extra=b""):
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" + extra +
            b"Content-Length: %d\r\n\r\n" % len(body) + body)


def answer(sock, method, target):
    """Send the answer; return True to keep the connection."""
    u = urllib.parse.urlsplit(target)
    q = urllib.parse.parse_qs(u.query)

    def qi(name, d):
        try:
            return int(q.get(name, [d])[0])
        except ValueError:
            return d

    p = u.path
    if p == "/ok":
        sock.sendall(ok())
        return True
    if p == "/garbage":
        sock.sendall(b"HTTP/1.1 2OO NOPE\r\nX: y\r\n\r\nbody")
        return False
    if p == "/empty":
        return False
    if p == "/reset":
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False
    if p == "/cl-te":
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        return False
    if p == "/dup-cl":
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n"
                     b"Content-Length: 4\r\n\r\nabcd")
        return False
    if p == "/nul":
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-A: one\x00two\r\nContent-Length: 3\r\n\r\nabc")
        return False
    if p == "/fold":
        sock.sendall(b"HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 3\r\n\r\nabc")
        return False
    if p == "/bighead":
        n = min(qi("n", 70000), 1 << 22)
        sock.sendall(ok(extra=b"X-Big: " + b"b" * n + b"\r\n"))
        return False
    if p == "/manyheads":
        n = min(qi("n", 50), 100000)
        sock.sendall(ok(extra=b"".join(b"X-H%d: v\r\n" % i for i in range(n))))
        return False
    if p == "/bad-chunk":
        sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\nzz\r\nabcd\r\n0\r\n\r\n")
        return False
    if p == "/short":
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789")
        return False
    if p == "/trickle":
        ms = min(qi("ms", 20), 1000)
        for b in ok(b"trickled\n"):
            sock.sendall(bytes([b]))
            time.sleep(ms / 1000.0)
        return True
    if p == "/slowhead":
        time.sleep(min(qi("ms", 1000), 30000) / 1000.0)
        sock.sendall(ok(b"slow ok\n"))
        return True
    if p == "/http09":
        sock.sendall(b"hello\n")
        return False
    sock.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    return True


def run(s, ctx, a, n):
    s.settimeout(40)
    try:
        if ctx:
            s = ctx.wrap_socket(s, server_side=True)
        elif s.recv(1, socket.MSG_PEEK) == b"\x16":
            # a TLS ClientHello to a plain server: answer as HTTP servers do
            log("HELLO %s:%d conn=%d a TLS handshake on a plain port" % (a.addr, a.port, n))
            s.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        buf = b""
        while True:
            method, target, h, buf = read_head(s, buf)
            log("REQ %s:%d conn=%d %s %s host=%s" % (a.addr, a.port, n, method, target,
                                                      h.get("host")))
            if not answer(s, method, target):
                break
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
    a = ap.parse_args()
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


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
