# SPDX-License-Identifier: GPL-2.0-or-later
"""Small HTTP/1.1 client for the end-to-end tests: raw bytes in, parsed
responses out, one socket kept across requests (keep-alive, pipelining,
CONNECT tunnels).  Python stdlib only; used inside the bench namespaces.
"""
import base64
import select
import socket
import ssl
import time

PROXY = ("192.168.222.1", 3128)


def client_hello(server_name):
    """The bytes of a real TLS ClientHello for server_name (for cutting)."""
    ctx = ssl.create_default_context()
    o, i = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(i, o, server_hostname=server_name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return o.read()


def basic(token, user="proxy"):
    return "Basic " + base64.b64encode(("%s:%s" % (user, token)).encode()).decode()


def bearer(token):
    return "Bearer " + token


class Closed(Exception):
    pass


class Conn:
    def __init__(self, host=PROXY[0], port=PROXY[1], timeout=10.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _fill(self):
        d = self.sock.recv(262144)
        if not d:
            raise Closed("connection closed")
        self.buf += d

    def _line(self, limit=1 << 20):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit:
                raise ValueError("line too long")
            self._fill()
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self):
        """Read one response head: (status:int, reason:str, headers:[(k,v)])."""
        while b"\r\n\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise ValueError("head too long")
            self._fill()
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ", 2)
        status = int(parts[1])
        reason = parts[2] if len(parts) > 2 else ""
        hdrs = []
        for l in lines[1:]:
            k, _, v = l.partition(":")
            hdrs.append((k.strip(), v.strip()))
        return status, reason, hdrs

    def read_response(self, method="GET", skip_1xx=True):
        """Read a full response; returns (status, headers dict lower-case, body)."""
        while True:
            status, reason, hdrs = self.read_head()
            if not (skip_1xx and 100 <= status < 200 and status != 101):
                break
        h = {}
        for k, v in hdrs:
            h[k.lower()] = v
        self.last_headers = hdrs
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200 or \
                (method == "CONNECT" and 200 <= status < 300):
            return status, h, b""
        if h.get("transfer-encoding", "").lower() == "chunked":
            body = []
            while True:
                n = int(self._line().split(b";")[0], 16)
                if n == 0:
                    while self._line() != b"":
                        pass
                    break
                body.append(self._exact(n))
                self._exact(2)
            return status, h, b"".join(body)
        if "content-length" in h:
            return status, h, self._exact(int(h["content-length"]))
        # close-delimited
        try:
            while True:
                self._fill()
        except (Closed, ConnectionError):
            pass
        body, self.buf = self.buf, b""
        return status, h, body

    def request(self, method, url, token=None, headers=(), body=None, auth=None):
        """Send an absolute-form request through the proxy and read the response."""
        host = url.split("://", 1)[1].split("/", 1)[0]
        lines = ["%s %s HTTP/1.1" % (method, url), "Host: %s" % host]
        if auth is None and token is not None:
            auth = basic(token)
        if auth:
            lines.append("Proxy-Authorization: " + auth)
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        if body is not None:
            lines.append("Content-Length: %d" % len(body))
        data = ("\r\n".join(lines) + "\r\n\r\n").encode()
        if body:
            data += body
        self.send(data)
        return self.read_response(method)

    def connect(self, target, token=None, auth=None, headers=()):
        if auth is None and token is not None:
            auth = basic(token)
        lines = ["CONNECT %s HTTP/1.1" % target, "Host: %s" % target]
        if auth:
            lines.append("Proxy-Authorization: " + auth)
        for k, v in headers:
            lines.append("%s: %s" % (k, v))
        self.send(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.read_response("CONNECT")

    def wrap_tls(self, server_name, cafile):
        """After a successful CONNECT: TLS to the upstream through the tunnel."""
        ctx = ssl.create_default_context(cafile=cafile)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=server_name)
        assert not self.buf
        return self

    def dribble(self, secs, every=1.0):
        """Send a header line every `every` s until the peer has something
        to read (an answer, or its close) or secs pass; returns the seconds
        it took."""
        t0 = time.time()
        i = 0
        while time.time() - t0 < secs:
            if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                break
            r, _, _ = select.select([self.sock], [], [], every)
            if r:
                break
            self.send(b"X-Dribble: %d\r\n" % i)
            i += 1
        return time.time() - t0

    def wait_closed(self, secs):
        """True if the peer closes (EOF or reset) within secs; unread data is discarded."""
        end = time.time() + secs
        while True:
            left = end - time.time()
            if left <= 0:
                return False
            if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                r = [self.sock]
            else:
                r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
            try:
                d = self.sock.recv(65536)
            except (ConnectionError, ssl.SSLError):
                return True
            except socket.timeout:
                return False
            if not d:
                return True
