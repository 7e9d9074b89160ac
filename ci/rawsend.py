#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Send raw bytes to the proxy and print what came back: the first response
line (or EOF / TIMEOUT / RESET), and with --wait-close whether the proxy then
closed the connection ("closed") or kept it open ("open").

Each --send is a Python expression giving bytes; the names T (the token, str),
PA (b"Proxy-Authorization: Bearer T\\r\\n") and PB (the same, Basic) are
defined.  With several --send, --pause MS separates them.  Used only inside
the bench namespaces.

usage: rawsend.py [--host H] [--port N] [--token T] --send EXPR [--send EXPR]...
                  [--pause MS] [--timeout S] [--wait-close S] [--all] [--no-read]
"""
import argparse
import base64
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="192.168.222.1")
    ap.add_argument("--port", type=int, default=3128)
    ap.add_argument("--token", default="")
    ap.add_argument("--send", action="append", default=[])
    ap.add_argument("--pause", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=8.0)
    ap.add_argument("--wait-close", type=float, default=0)
    ap.add_argument("--all", action="store_true", help="print the whole response")
    ap.add_argument("--shut-wr", action="store_true", help="half-close after sending")
    a = ap.parse_args()
    names = {
        "T": a.token,
        "PA": ("Proxy-Authorization: Bearer %s\r\n" % a.token).encode(),
        "PB": ("Proxy-Authorization: Basic %s\r\n" %
               base64.b64encode(("proxy:" + a.token).encode()).decode()).encode(),
    }
    c = socket.create_connection((a.host, a.port), timeout=a.timeout)
    data = b""
    try:
        for i, e in enumerate(a.send):
            if i and a.pause:
                time.sleep(a.pause / 1000.0)
            c.sendall(eval(e, names))
        if a.shut_wr:
            c.shutdown(socket.SHUT_WR)
        while b"\r\n" not in data or (a.all and b"\r\n\r\n" not in data):
            d = c.recv(65536)
            if not d:
                break
            data += d
        if a.all and b"\r\n\r\n" in data:
            # the body too: by Content-Length, else whatever comes within 1 s
            head, _, body = data.partition(b"\r\n\r\n")
            n = None
            for l in head.split(b"\r\n")[1:]:
                k, _, v = l.partition(b":")
                if k.strip().lower() == b"content-length" and v.strip().isdigit():
                    n = int(v.strip())
            c.settimeout(1.0 if n is None else a.timeout)
            try:
                while n is None or len(body) < n:
                    d = c.recv(65536)
                    if not d:
                        break
                    body += d
            except socket.timeout:
                pass
            c.settimeout(a.timeout)
            data = head + b"\r\n\r\n" + body
    except socket.timeout:
        print("TIMEOUT" if not data else data.split(b"\r\n")[0].decode("latin-1"))
        return
    except ConnectionError:
        if not data:
            print("RESET")
            return
    if not data:
        print("EOF")
        return
    if a.all:
        print(data.decode("latin-1"))
    else:
        print(data.split(b"\r\n")[0].decode("latin-1"))
    if a.wait_close:
        end = time.time() + a.wait_close
        c.settimeout(0.2)
        state = "open"
        while time.time() < end:
            try:
                d = c.recv(65536)
            except socket.timeout:
                continue
            except ConnectionError:
                state = "closed"
                break
            if not d:
                state = "closed"
                break
        print(state)


if __name__ == "__main__":
    sys.exit(main())
