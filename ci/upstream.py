#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Test-bench upstream server: HTTP/1.1 keep-alive, plain and TLS, IPv4 and IPv6.

Used only inside the bench's network namespaces.  Endpoints (any method):
  /big?n=BYTES        n zero bytes with Content-Length
  /file/NAME          a file from --files DIR with Content-Length
  /chunked[?trailer=1&early=1&coding=gzip]
                      chunked response of several chunks; early=1: a 103
                      Early Hints before it; coding=gzip: the body gzipped as a
                      transfer coding (Transfer-Encoding: gzip, chunked)
  /sse?n=3&ms=300     server-sent events, one every ms, chunked, flushed
  /slow?ms=N          sleeps N ms, then echoes
  /status?code=N      answers with status N
  /redirect           302 to http://other.bench.test/landed (never followed by a proxy)
  /close              echoes with Connection: close, then closes
  /eof                echoes without Content-Length or chunking (ends at close,
                      over TLS with close_notify)
  /http10             echoes as HTTP/1.0 with Connection: keep-alive, keeps the
                      connection open
  /bighead?n=BYTES    a response head with an n-byte header
  /garbage            a broken status line, then close
  /cut?framing=F&n=N&how=H
                      a 200 whose body is framed F (close: read until close,
                      length: Content-Length 1 MiB, chunked), then n bytes of
                      body, then the connection ends: how=rst (a reset),
                      fin (TCP close; over TLS without close_notify) or
                      notify (over TLS: close_notify first)
  /bodyend            reads the request's Content-Length body as it comes and
                      logs how it ended: "BODYEND ... got=N of=L end=E tcp=T"
                      with E complete, eof (an end of stream; the ssl module
                      reports a reset under TLS so too), ragged (TLS without
                      close_notify) or an errno name, and T the socket's TCP
                      state then: reset (CLOSE: a reset came), fin
                      (CLOSE_WAIT: an end came) or open; answers 200 only
                      when complete
  /git/...            git smart HTTP (git http-backend as CGI) from --git-root
  anything else       JSON echo of the request: method, raw request-target, path,
                      query, host, headers (dict, lower-case names) and header_list
                      (as received), body length and sha256 (chunked bodies decoded),
                      server address/port/scheme, peer address, connection id and the
                      request's number on that connection.
Request headers that steer the connection (any endpoint):
  X-Idle-Close-Ms: N  after this response, close the connection once it has
                      been idle N ms
  X-Drop-Next: 1      the next request on this connection is read, then the
                      connection closes without an answer ("DROP" in the log)
  X-Close-Open: 1     the response says Connection: close, but the server keeps
                      the connection open and serves what comes next on it
Every connection and request is logged to stderr ("CONN ...", "REQ ..."), so a
test can assert what reached an upstream (or that nothing did).
"""
import argparse
import errno
import gzip
import hashlib
import json
import os
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
COUNTERS = {"conn": 0}
ARGS = None


def log(msg):
    with LOCK:
        sys.stderr.write("%.3f %s\n" % (time.time(), msg))
        sys.stderr.flush()


class BadBody(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    # head and body go out as two writes: without this, Nagle holds the
    # body for the peer's delayed ACK (40 ms) once a keep-alive connection
    # leaves quick-ACK mode, as nginx's tcp_nodelay avoids
    disable_nagle_algorithm = True
    server_version = "bench-upstream"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        with LOCK:
            COUNTERS["conn"] += 1
            self.conn_id = COUNTERS["conn"]
        self.nreq = 0
        self.drop_next = False
        log("CONN %s:%d %s from %s" % (self.server.addr, self.server.port,
                                       self.server.scheme, self.client_address[0]))

    # ---- request body ----
    def read_body(self):
        te = self.headers.get("Transfer-Encoding", "")
        if te:
            if te.strip().lower() != "chunked":
                raise BadBody("unsupported transfer-encoding")
            out = []
            while True:
                line = self.rfile.readline(4096)
                if not line:
                    raise BadBody("eof in chunk size")
                n = int(line.split(b";")[0].strip(), 16)
                if n == 0:
                    while True:  # trailers
                        t = self.rfile.readline(4096)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    break
                out.append(self.rfile.read(n))
                self.rfile.readline(8)
            return b"".join(out), True
        n = int(self.headers.get("Content-Length") or 0)
        return (self.rfile.read(n) if n else b""), False

    # ---- helpers ----
    def send_simple(self, code, body=b"", ctype="text/plain", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        for k, v in extra:
            self.send_header(k, v)
        no_body = code in (204, 304) or 100 <= code < 200
        if not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and not no_body:
            self.wfile.write(body)

    def query(self):
        return urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)

    def qint(self, name, default):
        try:
            return int(self.query().get(name, [default])[0])
        except ValueError:
            return default

    def echo(self, body, chunked, extra=(), framed=True, http10=False):
        u = urllib.parse.urlsplit(self.path)
        tls = None
        if isinstance(self.connection, ssl.SSLSocket):
            tls = self.connection.version()
        out = json.dumps({
            "method": self.command,
            "target": self.path,
            "path": u.path,
            "query": u.query,
            "version": self.request_version,
            "host": self.headers.get("Host"),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "header_list": [[k, v] for k, v in self.headers.items()],
            "body_len": len(body),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "body_chunked": chunked,
            "server": self.server.addr,
            "port": self.server.port,
            "scheme": self.server.scheme,
            "tls": tls,
            "peer": self.client_address[0],
            "conn": self.conn_id,
            "conn_req": self.nreq,
        }, indent=1).encode() + b"\n"
        if http10:
            self.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n"
                             b"Connection: keep-alive\r\nContent-Length: %d\r\n\r\n" % len(out))
            if self.command != "HEAD":
                self.wfile.write(out)
            return
        if not framed:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(out)
            return
        self.send_simple(200, out, "application/json", extra)

    # ---- endpoints ----
    def do_any(self):
        self.nreq += 1
        log("REQ %s:%d conn=%d %s %s host=%s" % (
            self.server.addr, self.server.port, self.conn_id, self.command,
            self.path, self.headers.get("Host")))
        if self.drop_next:
            log("DROP %s:%d conn=%d %s %s" % (self.server.addr, self.server.port,
                                              self.conn_id, self.command, self.path))
            self.close_connection = True
            return
        self.drop_next = self.headers.get("X-Drop-Next") == "1"
        try:
            idle_ms = int(self.headers.get("X-Idle-Close-Ms") or 0)
        except ValueError:
            idle_ms = 0
        if idle_ms > 0:
            # the keep-alive wait for the next request times out: closed
            self.connection.settimeout(min(idle_ms, 60000) / 1000.0)
        self.do_dispatch()
        if self.headers.get("X-Close-Open") == "1":
            self.close_connection = False

    def do_dispatch(self):
        if urllib.parse.urlsplit(self.path).path == "/bodyend":
            return self.bodyend()
        try:
            body, chunked = self.read_body()
        except (BadBody, ValueError):
            self.close_connection = True
            self.send_simple(400, b"bad request body\n", extra=[("Connection", "close")])
            return
        path = urllib.parse.urlsplit(self.path).path
        if path == "/big":
            return self.big(self.qint("n", 1 << 20))
        if path.startswith("/file/"):
            return self.file(os.path.basename(path))
        if path == "/chunked":
            return self.chunked(self.qint("trailer", 0), self.qint("early", 0),
                                self.query().get("coding", [""])[0])
        if path == "/sse":
            return self.sse(self.qint("n", 3), self.qint("ms", 300))
        if path == "/slow":
            time.sleep(min(self.qint("ms", 1000), 30000) / 1000.0)
            return self.echo(body, chunked)
        if path == "/status":
            code = self.qint("code", 200)
            return self.send_simple(code, ("status %d\n" % code).encode())
        if path == "/redirect":
            return self.send_simple(302, b"", extra=[("Location", "http://other.bench.test/landed")])
        if path == "/close":
            self.close_connection = True
            return self.echo(body, chunked, [("Connection", "close")])
        if self.headers.get("X-Close-Open") == "1":
            return self.echo(body, chunked, [("Connection", "close")])
        if path == "/eof":
            self.close_connection = True
            self.echo(body, chunked, framed=False)
            return self.notify_close()
        if path == "/http10":
            return self.echo(body, chunked, http10=True)
        if path == "/bighead":
            n = min(self.qint("n", 100000), 1 << 22)
            return self.send_simple(200, b"ok\n", extra=[("X-Big", "b" * n)])
        if path == "/garbage":
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 2OO NOPE\r\nX: y\r\n\r\nbody")
            return
        if path == "/cut":
            return self.cut(self.query().get("framing", ["close"])[0],
                            min(self.qint("n", 1000), 1 << 20),
                            self.query().get("how", ["fin"])[0])
        if path.startswith("/git/") and ARGS.git_root:
            return self.git(path[len("/git"):], body)
        return self.echo(body, chunked)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = do_any

    def big(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        if self.command == "HEAD":
            return
        chunk = b"\0" * 65536
        while n > 0:
            k = min(n, len(chunk))
            self.wfile.write(chunk[:k])
            n -= k

    def bodyend(self):
        want = int(self.headers.get("Content-Length") or 0)
        got, end = 0, "complete"
        while got < want:
            try:
                d = self.rfile.read1(min(65536, want - got))
            except ssl.SSLEOFError:
                end = "ragged"
                break
            except OSError as e:
                end = errno.errorcode.get(e.errno, repr(e)) if e.errno else repr(e)
                break
            if not d:
                end = "eof"
                break
            got += len(d)
        state = self.connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
        tcp = {7: "reset", 8: "fin"}.get(state, "open")
        log("BODYEND %s:%d conn=%d got=%d of=%d end=%s tcp=%s" % (
            self.server.addr, self.server.port, self.conn_id, got, want, end, tcp))
        if end != "complete":
            self.close_connection = True
            return
        self.send_simple(200, b"complete\n")

    def cut(self, framing, n, how):
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if framing == "length":
            self.send_header("Content-Length", str(1 << 20))
        elif framing == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        body = b"c" * n
        if framing == "chunked":
            body = b"%x\r\n%s\r\n" % (n, body) if n else b""
        self.wfile.write(body)
        self.wfile.flush()
        time.sleep(0.2)  # the bytes reach the peer before the end does
        conn = self.connection
        log("CUT %s:%d conn=%d %s after %d bytes" % (
            self.server.addr, self.server.port, self.conn_id, how, n))
        if how == "rst":
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        elif how == "notify":
            conn = self.notify_close()
        # close the descriptor itself: over TLS no close_notify is sent
        try:
            os.close(conn.detach())
        except OSError:
            pass

    def notify_close(self):
        """Over TLS, end with close_notify (what a body read until close
        needs to be taken as complete); the plain socket is returned."""
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            self.wfile.flush()
            conn.settimeout(2)
            try:
                conn = conn.unwrap()
            except (ssl.SSLError, OSError):
                pass
        return conn

    def file(self, name):
        fn = os.path.join(ARGS.files or "/nonexistent", name)
        if not os.path.isfile(fn):
            return self.send_simple(404, b"no such file\n")
        size = os.path.getsize(fn)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return
        with open(fn, "rb") as f:
            self.connection.sendfile(f)

    def chunked(self, trailer, early=0, coding=""):
        if early:
            self.wfile.write(b"HTTP/1.1 103 Early Hints\r\n"
                             b"Link: </style.css>; rel=preload\r\n\r\n")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", coding + ", chunked" if coding else "chunked")
        if trailer:
            self.send_header("Trailer", "X-Checksum")
        self.end_headers()
        if self.command == "HEAD":
            return
        parts = [b"hello ", b"chunked ", b"x" * 5000, b" world\n"]
        sent = parts
        if coding == "gzip":
            sent = [gzip.compress(b"".join(parts))]
        for p in sent:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(p), p))
        if trailer:
            self.wfile.write(b"0\r\nX-Checksum: %s\r\n\r\n" %
                             hashlib.sha256(b"".join(parts)).hexdigest().encode())
        else:
            self.wfile.write(b"0\r\n\r\n")

    def sse(self, n, ms):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(min(n, 100)):
            data = ("data: %d %.3f\n\n" % (i, time.time())).encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            if i + 1 < n:
                time.sleep(ms / 1000.0)
        self.wfile.write(b"0\r\n\r\n")

    def git(self, path_info, body):
        u = urllib.parse.urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": ARGS.git_root,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_PROJECT_ROOT": ARGS.git_root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": urllib.parse.unquote(path_info),
            "QUERY_STRING": u.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
        }
        for h in ("Git-Protocol", "Content-Encoding"):
            if self.headers.get(h):
                env["HTTP_" + h.upper().replace("-", "_")] = self.headers[h]
        try:
            p = subprocess.run(["git", "http-backend"], input=body, env=env,
                               capture_output=True, timeout=60)
        except subprocess.TimeoutExpired:
            return self.send_simple(504, b"git timeout\n")
        out = p.stdout
        sep = out.find(b"\r\n\r\n")
        seplen = 4
        if sep < 0 or (out.find(b"\n\n") >= 0 and out.find(b"\n\n") < sep):
            sep, seplen = out.find(b"\n\n"), 2
        if sep < 0:
            return self.send_simple(502, b"bad cgi output\n")
        head, payload = out[:sep].decode("latin-1"), out[sep + seplen:]
        code, hdrs = 200, []
        for line in head.splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                code = int(v.strip().split()[0])
            elif k.lower() != "content-length":
                hdrs.append((k.strip(), v.strip()))
        ctype = dict((k.lower(), v) for k, v in hdrs).pop("content-type", "text/plain")
        hdrs = [(k, v) for k, v in hdrs if k.lower() != "content-type"]
        self.send_simple(code, payload, ctype, hdrs)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, addr, port, scheme, ctx):
        self.address_family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        self.addr, self.port, self.scheme, self.ctx = addr, port, scheme, ctx
        super().__init__((addr, port), Handler)

    def finish_request(self, request, client_address):
        if not self.ctx:
            return super().finish_request(request, client_address)
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log("TLSFAIL %s:%d %s" % (self.addr, self.port, e))
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        finally:
            tls.close()

    def handle_error(self, request, client_address):
        log("ERROR %s:%d %s" % (self.addr, self.port, sys.exc_info()[1]))


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--addr", action="append", required=True)
    ap.add_argument("--http-port", type=int, action="append", default=[])
    ap.add_argument("--https-port", type=int, action="append", default=[])
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--files")
    ap.add_argument("--git-root")
    ap.add_argument("--ready", help="file written once every listener is bound")
    ARGS = ap.parse_args()
    ctx = None
    if ARGS.https_port:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.key)
    servers = []
    for a in ARGS.addr:
        for p in ARGS.http_port:
            servers.append(Server(a, p, "http", None))
        for p in ARGS.https_port:
            servers.append(Server(a, p, "https", ctx))
    for s in servers:
        threading.Thread(target=s.serve_forever, daemon=True).start()
    if ARGS.ready:
        with open(ARGS.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    log("READY %d listeners" % len(servers))
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
