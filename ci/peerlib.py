# SPDX-License-Identifier: GPL-2.0-or-later
"""What the bench's two-ended test peers share (ws_pump.py, ends_peer.py,
agent_ends_peer.py), stdlib only: sockets (listeners, the accept loop,
dialing, resets), the proxy's CONNECT and the HTTP upgrade handshake,
deterministic byte streams and SHA-256 tallies, bounded waits, and
JSON-lines logs and results.  Used only inside the bench's network
namespaces.
"""
import base64
import errno
import functools
import hashlib
import json
import os
import random
import re
import select
import socket
import ssl
import struct
import threading
import time

PROXY = ("192.168.222.1", 3128)    # the proxy's address as the bench's vm sees it
HEAD_LIMIT = 65536                 # longest HTTP head (or first line) read
LOCK = threading.Lock()            # one writer at a time on a log


# ------------------------------------------------------------------ sockets

def tcp_socket(rcvbuf=0, timeout=10):
    """A TCP socket with a receive buffer of rcvbuf bytes (0: the
    default) and a timeout, not yet connected."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(timeout)
    return s


def dial(addr, rcvbuf=0):
    """A TCP connection to addr with TCP_NODELAY (timeout 10 s)."""
    s = tcp_socket(rcvbuf)
    s.connect(addr)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def listen_tcp(addr, port, backlog=128):
    """A listening TCP socket on addr (IPv6 when it has a colon)."""
    ls = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(backlog)
    return ls


def write_ready(path, text):
    """Tell the bench the listeners are up (path may be None)."""
    if path:
        with open(path, "w") as f:
            f.write(text)


def accept_forever(listeners, handle, note=None):
    """Accept on every listener, a list of (socket, tag), until the
    process is stopped (each wait at most 1 s).  Every connection runs
    handle(sock, peer, tag, n) in a daemon thread of its own, n counting
    them from 1; note(sock, peer, tag, n), when given, runs first, in this
    thread.  The sockets handed on are blocking."""
    byfd = {}
    p = select.poll()
    for ls, tag in listeners:
        ls.setblocking(False)
        byfd[ls.fileno()] = (ls, tag)
        p.register(ls.fileno(), select.POLLIN)
    n = 0
    while True:
        for fd, _ in p.poll(1000):
            ls, tag = byfd[fd]
            try:
                s, peer = ls.accept()
            except BlockingIOError:
                continue
            s.setblocking(True)
            n += 1
            if note is not None:
                note(s, peer, tag, n)
            threading.Thread(target=handle, args=(s, peer, tag, n), daemon=True).start()


def tls_server_ctx(cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx


def reset(sock):
    """Close with SO_LINGER 0: the kernel sends a reset."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def err_name(e, plain=repr, unknown=str):
    """The errno name of an OSError (ECONNRESET, EPIPE, ...): unknown(e)
    for an errno without a name, plain(e) for an exception without an
    errno."""
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno) or unknown(e)
    return plain(e)


def cpu_ticks(pid):
    """User and system clock ticks a process has used (OSError, ValueError
    or IndexError when it cannot be read)."""
    with open("/proc/%d/stat" % pid) as f:
        w = f.read().rsplit(")", 1)[1].split()
    return int(w[11]) + int(w[12])


# ---------------------------------------------------------------- HTTP heads

def read_until(recv, sep, what, buf=b"", limit=HEAD_LIMIT, closed=ConnectionError,
               too_long=ValueError):
    """Read with recv() (blocking, no argument) until sep: (what came
    before it, what came after).  At an end of stream first:
    closed("closed in the WHAT"); past limit bytes: too_long("WHAT too
    long")."""
    while sep not in buf:
        d = recv()
        if not d:
            raise closed("closed in the " + what)
        buf += d
        if len(buf) > limit:
            raise too_long(what + " too long")
    before, _, after = buf.partition(sep)
    return before, after


def read_head(recv, **kw):
    """An HTTP head: (its lines, the bytes after it); see read_until."""
    head, rest = read_until(recv, b"\r\n\r\n", "head", **kw)
    return head.decode("latin-1").split("\r\n"), rest


def sock_recv(sock, n=65536):
    """recv for read_until: up to n bytes from sock."""
    return functools.partial(sock.recv, n)


def status(lines):
    """The status code of a response head's lines, as text."""
    return lines[0].split(" ")[1]


def headers(lines):
    """A request head's header lines as a dict, names in lower case."""
    h = {}
    for l in lines:
        k, _, v = l.partition(":")
        h[k.strip().lower()] = v.strip()
    return h


def basic_auth(token):
    """The Proxy-Authorization credentials of a client token."""
    return base64.b64encode(("proxy:" + token).encode()).decode()


def connect_request(hostport, token):
    return ("CONNECT %s HTTP/1.1\r\nHost: %s\r\nProxy-Authorization: Basic %s\r\n\r\n" %
            (hostport, hostport, basic_auth(token))).encode()


def upgrade_request(target, host, extra=""):
    """A WebSocket upgrade request for target, with a fresh key; extra:
    header lines (each ending in CRLF) that go right after Host."""
    return ("GET %s HTTP/1.1\r\nHost: %s\r\n%sUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" %
            (target, host, extra, base64.b64encode(os.urandom(16)).decode())).encode()


def ws_accept(key):
    """Sec-WebSocket-Accept (bytes) for a Sec-WebSocket-Key (text)."""
    return base64.b64encode(hashlib.sha1(key.encode() +
                                         b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())


def switching_protocols(accept=None):
    """The 101 answer to an upgrade, with Sec-WebSocket-Accept when given."""
    return (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\n" +
            (b"Sec-WebSocket-Accept: " + accept + b"\r\n" if accept is not None else b"") +
            b"\r\n")


# -------------------------------------------------------------- byte streams

class Pattern:
    """A deterministic byte stream in blocks of blk bytes: block j is
    random.Random(seed_of(j)).randbytes(blk).  The block made last is
    kept, so a stream whose blocks share a seed repeats one block."""

    def __init__(self, seed_of, blk):
        self.seed_of, self.blk = seed_of, blk
        self.key, self.cur = None, b""

    def block(self, j):
        k = self.seed_of(j)
        if k != self.key:
            self.key, self.cur = k, random.Random(k).randbytes(self.blk)
        return self.cur

    def at(self, off, n):
        """The n bytes at offset off."""
        j, o = divmod(off, self.blk)
        if o + n <= self.blk:
            return self.block(j)[o:o + n]
        out = bytearray()
        while n > 0:
            j, o = divmod(off, self.blk)
            k = min(n, self.blk - o)
            out += self.block(j)[o:o + k]
            off += k
            n -= k
        return bytes(out)


def blocks(seed, blk):
    """Blocks of blk bytes, each from a seed of its own."""
    return Pattern(lambda j: seed * 1000003 + j, blk)


def periodic(seed, period):
    """One block of period bytes, repeated."""
    return Pattern(lambda j: seed, period)


class Source:
    """The bytes one end sends: its pattern from offset 0 on."""

    def __init__(self, pat):
        self.pat, self.off = pat, 0

    def peek(self, n):
        return self.pat.at(self.off, n)

    def take(self, n):
        d = self.peek(n)
        self.off += n
        return d


class Sink:
    """What arrived must be the peer's pattern from its start: counted (n),
    and where a block first differed remembered (bad_at)."""

    def __init__(self, pat):
        self.pat, self.n, self.bad_at = pat, 0, None

    def feed(self, d):
        i = 0
        while i < len(d):
            k = min(len(d) - i, self.pat.blk - self.n % self.pat.blk)
            if self.bad_at is None and d[i:i + k] != self.pat.at(self.n, k):
                self.bad_at = self.n
            self.n += k
            i += k


SIZES = [1, 2, 7, 125, 126, 127, 1000, 4095, 4097, 16383, 16384, 16385, 16397,
         32769, 65535, 65536, 65537, 100003, 262147, 1048573]


def gen_frames(seed, total):
    """Payloads of mixed sizes, total bytes in all, the same for a seed."""
    r = random.Random(seed)
    left = total
    while left > 0:
        n = r.choice(SIZES) if r.random() < 0.5 else r.randint(1, 70000)
        n = min(n, left)
        left -= n
        yield r.randbytes(n)


def gen_bursts(seed, rounds, burst):
    """Bursts of small payloads (1 to 40 bytes), the same for a seed."""
    r = random.Random(seed)
    for _ in range(rounds):
        yield [r.randbytes(r.randint(1, 40)) for _ in range(burst)]


class Tally:
    """Bytes counted (n) and hashed (SHA-256) as they pass."""

    def __init__(self, chunks=()):
        self.n, self.h = 0, hashlib.sha256()
        for c in chunks:
            self.add(c)

    def add(self, data):
        self.h.update(data)
        self.n += len(data)

    def hex(self):
        return self.h.hexdigest()

    def key(self):
        return (self.n, self.hex())


def size_arg(s):
    """A byte count with an optional K or M suffix (either case)."""
    m = re.fullmatch(r"(\d+)([KkMm]?)", s)
    if not m:
        raise ValueError("bad size %r" % s)
    return int(m.group(1)) << {"": 0, "k": 10, "m": 20}[m.group(2).lower()]


# ------------------------------------------------------------- waits, logs

def wait_until(fn, secs, done=bool, every=0.1):
    """fn() every `every` s until done(its value) or secs have passed;
    its last value."""
    t0 = time.monotonic()
    while True:
        v = fn()
        if done(v) or time.monotonic() - t0 > secs:
            return v
        time.sleep(every)


def append_line(path, line):
    """One line onto a log file, one writer at a time."""
    with LOCK:
        with open(path, "a") as f:
            f.write(line + "\n")


def log_json(path, rec):
    """A JSON-lines record, stamped with the time ("t")."""
    rec["t"] = round(time.time(), 3)
    append_line(path, json.dumps(rec))


def read_json_lines(path, prefix="", skip_bad=True):
    """The records of a log's lines that start with prefix (JSON after it);
    none when there is no log.  A line that does not parse is skipped, or
    with skip_bad=False raises ValueError."""
    out = []
    try:
        with open(path) as f:
            for l in f:
                if not l.startswith(prefix):
                    continue
                try:
                    out.append(json.loads(l[len(prefix):]))
                except ValueError:
                    if not skip_bad:
                        raise
    except OSError:
        pass
    return out


def print_json(recs):
    for r in recs:
        print(json.dumps(r))


def dump_json(path, obj):
    """obj as JSON into path (when path is given)."""
    if path:
        with open(path, "w") as f:
            json.dump(obj, f)

