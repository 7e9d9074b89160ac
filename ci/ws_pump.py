#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""WebSocket pump for relays under backpressure (e2e 082), stdlib only.

Both ends of an upgraded connection that moves megabytes each way, with
readers that may be slow for a while, and checks that every byte arrives
intact and in order.  Used only inside the bench's network namespaces.

  ws_pump.py serve --addr A --port N --cert F --key F [--ready FILE]
                   [--auth-sha256 HEX]
      TLS upstream.  "GET /ws/pump/ID?mode=echo|push&n=BYTES&seed=S&srx=SECS
      &qmax=BYTES&rec=frame" with "Upgrade: websocket" gets 101, then:
        echo  every data frame comes back with the same opcode and payload;
              the server stops reading while qmax bytes wait to be sent
        push  the server sends n payload bytes (frames of mixed sizes from
              seed) and reads what the client sends at the same time
      srx: for this many seconds the server reads slowly (small reads with
      pauses); rec=frame: every frame in a write of its own (one TLS
      record).  After the client's close frame the server sends a text
      frame {"rx_len","rx_sha256","rx_frames","tx_len","tx_sha256",
      "auth_ok"}, a close frame and its TLS close_notify, then reads until
      end of stream.  One "DONE {json}" line per connection on stderr (bytes that
      came after the client's close frame are "extra").

  ws_pump.py client --token T --ca F --host H --port N --relay SPEC ...
      Opens every relay through the proxy (CONNECT, TLS to the proxy's leaf,
      upgrade), then runs them all at once in one poll loop.  SPEC:
      "KIND,key=val,...", KIND echo|push|duplex|chatter:
        send=SIZE   payload the client sends (echo, duplex), K/M suffixes
        recv=SIZE   payload the server pushes (push, duplex)
        slow=SECS   the client reads slowly this long after the start
        srx=SECS    the server reads slowly this long
        rounds=N, burst=M  (chatter) N bursts of M small frames (1 to 40
                    bytes), each frame one TLS record both ways; a burst
                    is sent only when every echo of the last one is back
      A slow reader takes --slow-chunk bytes every --slow-pause seconds.
      Bulk frames are written in pieces of random sizes (1 byte to 64 KiB,
      many of them not a multiple of the TLS record size), so records
      split frames and frames split records.
      --limit SECS bounds the whole run and --stall SECS the time without a
      byte moving on any relay (hang detectors, not performance limits);
      then --on-stall CMD (a shell command, e.g. ss -tni in the proxy's
      namespace) is run and, last, the state of every relay is printed.
      --close-notify: a client that got the server's close frame and end of
      stream answers with its own TLS close_notify before closing.
      --api-sock S --spread K: after opening, read the proxy's /metrics and
      open more relays (up to 16) until K event loops accepted at least one.
      Prints one JSON line per relay (--json FILE too); exit 0 only if every
      relay is intact.
"""
import argparse
import collections
import hashlib
import json
import os
import random
import re
import select
import socket
import ssl
import struct
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import peerlib  # noqa: E402
from peerlib import PROXY, Tally, gen_bursts, gen_frames, size_arg  # noqa: E402

CUTS = [1, 5, 517, 4096, 16383, 16384, 16385, 16389, 32768, 65536]
FILL = 1 << 20          # payload generated ahead of the socket


def log(msg):
    with peerlib.LOCK:
        sys.stderr.write("%.3f %s\n" % (time.time(), msg))
        sys.stderr.flush()


def xor_mask(data, mask):
    n = len(data)
    if n == 0:
        return data
    k = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def frame(op, payload, masked):
    n = len(payload)
    b1 = 0x80 if masked else 0
    if n < 126:
        h = struct.pack("!BB", 0x80 | op, b1 | n)
    elif n < 65536:
        h = struct.pack("!BBH", 0x80 | op, b1 | 126, n)
    else:
        h = struct.pack("!BBQ", 0x80 | op, b1 | 127, n)
    if not masked:
        return h + payload
    mask = os.urandom(4)
    return h + mask + xor_mask(payload, mask)


class ProtoError(Exception):
    pass


class Pump:
    """One end of an upgraded TLS connection, non-blocking: a write queue cut
    into pieces of random sizes, a frame parser, and a read pace."""

    def __init__(self, sock, rest, seed, slow, chunk, pause):
        self.sock = sock
        self.fd = sock.fileno()
        self.obuf = bytearray()
        self.cur = None             # piece in flight: retried as it is
        self.per_frame = False      # one write (one TLS record) per frame
        self.bounds = collections.deque()
        self.ibuf = bytearray(rest)
        self.wire_tx = 0
        self.wire_rx = len(rest)
        self.cuts = random.Random(seed ^ 0x5A5A)
        self.slow, self.chunk, self.pause = slow, chunk, pause
        self.t0 = self.slow_end = self.next_read = 0.0
        self.last = time.monotonic()
        self.eof = False
        self.done = False
        self.err = None
        self.tx_blocked = 0.0       # seconds with a piece waiting for room
        self.blocked_at = None
        self.slow_rx = 0            # bytes read in the slow phase
        self.max_gap = 0.0          # longest time without a byte moved
        self.parsing = True         # off: bytes read are only counted

    def start(self, now):
        self.t0 = self.last = now
        self.slow_end = now + self.slow
        self.next_read = now

    def queue(self, data):
        self.obuf += data
        if self.per_frame:
            self.bounds.append(len(data))

    # what the subclass provides
    def refill(self):
        pass

    def rx_open(self):
        return True

    def on_frame(self, op, payload, masked):
        pass

    def on_eof(self):
        pass

    def step(self, now):
        pass

    # the loop's view
    def want_write(self):
        if self.cur is None and not self.obuf and not self.done:
            self.refill()
        return self.cur is not None or len(self.obuf) > 0

    def can_read(self, now):
        return not self.eof and not self.done and self.rx_open() and now >= self.next_read

    def pending(self):
        return isinstance(self.sock, ssl.SSLSocket) and self.sock.pending() > 0

    def fail(self, msg):
        if self.err is None:
            self.err = msg
        self.finish()

    def finish(self):
        if self.done:
            return
        self.done = True
        try:
            self.sock.close()
        except OSError:
            pass

    def do_write(self, now):
        for _ in range(256):
            if self.cur is None:
                self.refill()
                if not self.obuf:
                    return
                if self.per_frame:
                    u = self.bounds.popleft()
                else:
                    u = self.cuts.choice(CUTS) if self.cuts.random() < 0.5 else \
                        self.cuts.randint(1, 65536)
                self.cur = bytes(self.obuf[:u])
                del self.obuf[:u]
            try:
                n = self.sock.send(self.cur)
            except (ssl.SSLWantWriteError, ssl.SSLWantReadError, BlockingIOError):
                if self.blocked_at is None:
                    self.blocked_at = now
                return
            except (OSError, ssl.SSLError) as e:
                self.fail("write: %r" % e)
                return
            if self.blocked_at is not None:
                self.tx_blocked += now - self.blocked_at
                self.blocked_at = None
            self.wire_tx += n
            self.max_gap = max(self.max_gap, now - self.last)
            self.last = now
            self.cur = self.cur[n:] or None

    def do_read(self, now):
        slow = now < self.slow_end
        for _ in range(1 if slow else 16):
            try:
                d = self.sock.recv(self.chunk if slow else 262144)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError):
                return
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError, ConnectionResetError) as e:
                d = b""
                self.eof_why = repr(e)
            except (OSError, ssl.SSLError) as e:
                self.fail("read: %r" % e)
                return
            if not d:
                self.eof = True
                self.on_eof()
                return
            self.wire_rx += len(d)
            self.max_gap = max(self.max_gap, now - self.last)
            self.last = now
            if slow:
                self.slow_rx += len(d)
                self.next_read = now + self.pause
            if not self.parsing:
                continue
            self.ibuf += d
            try:
                self.parse()
            except ProtoError as e:
                self.fail(str(e))
                return
            if slow or self.done or not self.rx_open():
                return

    def parse(self):
        b = self.ibuf
        while len(b) >= 2:
            n, off = b[1] & 0x7F, 2
            if n == 126:
                if len(b) < 4:
                    return
                n, off = struct.unpack_from("!H", b, 2)[0], 4
            elif n == 127:
                if len(b) < 10:
                    return
                n, off = struct.unpack_from("!Q", b, 2)[0], 10
            if n > 1 << 24:
                raise ProtoError("frame of %d bytes" % n)
            masked = b[1] & 0x80
            if masked:
                off += 4
            if len(b) < off + n:
                return
            op = b[0] & 0x0F
            if not b[0] & 0x80:
                raise ProtoError("fragmented frame")
            payload = bytes(b[off:off + n])
            if masked:
                payload = xor_mask(payload, bytes(b[off - 4:off]))
            del b[:off + n]
            self.on_frame(op, payload, bool(masked))
            if self.done:
                return

    def state(self, now):
        return {"tx_queued": len(self.obuf) + (len(self.cur) if self.cur else 0),
                "wire_tx": self.wire_tx, "wire_rx": self.wire_rx,
                "eof": self.eof, "done": self.done, "pending": self.pending() if not self.done else 0,
                "can_read": self.can_read(now), "idle_s": round(now - self.last, 2),
                "slow_phase": now < self.slow_end}


def run(pumps, limit, stall, report):
    """Poll loop over every pump until all are done; False on a hang."""
    poll = select.poll()
    reg = {}
    byfd = {}
    t_end = time.monotonic() + limit
    now = time.monotonic()
    for p in pumps:
        p.start(now)
    while True:
        now = time.monotonic()
        live = [p for p in pumps if not p.done]
        for fd in [fd for fd in reg if fd not in {p.fd for p in live}]:
            poll.unregister(fd)
            del reg[fd]
        if not live:
            return True
        if now > t_end:
            report("TIMEOUT after %d s" % limit, now)
            return False
        if now - max(p.last for p in live) > stall:
            report("STALL: no byte moved on any relay for %d s" % stall, now)
            return False
        timeout = 0.2
        soon = []
        for p in live:
            ev = 0
            if p.can_read(now):
                ev |= select.POLLIN
                if p.pending():
                    soon.append(p)
            elif not p.eof and p.next_read > now:
                timeout = min(timeout, p.next_read - now)
            if p.want_write():
                ev |= select.POLLOUT
            if p.fd not in reg:
                poll.register(p.fd, ev)
            elif reg[p.fd] != ev:
                poll.modify(p.fd, ev)
            reg[p.fd] = ev
            byfd[p.fd] = p
        if soon:
            timeout = 0
        for fd, ev in poll.poll(max(timeout, 0) * 1000):
            p = byfd[fd]
            now = time.monotonic()
            if p.done:
                continue
            if ev & (select.POLLOUT | select.POLLERR):
                p.do_write(now)
            if ev & (select.POLLIN | select.POLLHUP | select.POLLERR) and p.can_read(now):
                p.do_read(now)
            if not reg[fd] and ev & (select.POLLHUP | select.POLLERR):
                time.sleep(0.01)  # nothing wanted yet: do not spin on a hang-up
        now = time.monotonic()
        for p in soon:
            if p.can_read(now):
                p.do_read(now)
        for p in live:
            if not p.done:
                p.step(now)


# ------------------------------------------------------------------ server

class ServerPump(Pump):
    def __init__(self, sock, rest, q, auth_ok):
        self.mode = q.get("mode", "echo")
        self.id = q.get("id", "?")
        self.qmax = int(q.get("qmax", 262144))
        super().__init__(sock, rest, int(q.get("seed", 1)), float(q.get("srx", 0)),
                         int(q.get("chunk", 1500)), float(q.get("pause", 0.002)))
        self.auth_ok = auth_ok
        self.per_frame = q.get("rec") == "frame"
        self.gen = gen_frames(int(q.get("seed", 1)), int(q.get("n", 0))) \
            if self.mode == "push" else None
        self.rx, self.tx = Tally(), Tally()
        self.rx_frames = 0
        self.got_close = False
        self.sent_close = False
        self.shut = False
        self.rx_at_close = 0        # wire bytes up to the client's close frame

    def refill(self):
        while self.gen is not None and len(self.obuf) < FILL:
            p = next(self.gen, None)
            if p is None:
                self.gen = None
                break
            self.tx.add(p)
            self.queue(frame(2, p, False))

    def rx_open(self):
        return self.mode != "echo" or self.got_close or len(self.obuf) < self.qmax

    def on_frame(self, op, payload, masked):
        if self.got_close:
            return
        if not masked:
            raise ProtoError("client frame not masked")
        if op in (1, 2):
            self.rx.add(payload)
            self.rx_frames += 1
            if self.mode == "echo":
                self.tx.add(payload)
                self.queue(frame(op, payload, False))
        elif op == 9:
            self.queue(frame(10, payload, False))
        elif op == 8:
            # the end: whatever comes after it is only counted
            self.got_close = True
            self.parsing = False
            self.rx_at_close = self.wire_rx - len(self.ibuf)
            self.ibuf.clear()

    def extra(self):
        return self.wire_rx - self.rx_at_close if self.got_close else 0

    def do_read(self, now):
        before = self.extra()
        super().do_read(now)
        if self.extra() > before:
            log("EXTRA id=%s %d bytes after the close frame" % (self.id, self.extra()))

    def step(self, now):
        if self.got_close and not self.sent_close and self.gen is None:
            summary = {"id": self.id, "rx_len": self.rx.n, "rx_sha256": self.rx.hex(),
                       "rx_frames": self.rx_frames, "tx_len": self.tx.n,
                       "tx_sha256": self.tx.hex(), "auth_ok": self.auth_ok}
            self.queue(frame(1, json.dumps(summary).encode(), False))
            self.queue(frame(8, struct.pack("!H", 1000), False))
            self.sent_close = True
        if self.sent_close and not self.shut and not self.want_write():
            self.shut = True
            try:
                self.sock.unwrap()  # close_notify; reading goes on
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass
            except (OSError, ssl.SSLError, ValueError):
                pass
            self.last = now

    def on_eof(self):
        if not self.got_close:
            self.err = "end of stream before the close frame"
        self.finish()


def read_head(sock):
    return peerlib.read_head(peerlib.sock_recv(sock), closed=ProtoError, too_long=ProtoError)


def serve_one(s, args, n):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(10)
    try:
        t = args.ctx.wrap_socket(s, server_side=True)
        lines, rest = read_head(t)
        method, target, _ = lines[0].split(" ", 2)
        h = peerlib.headers(lines[1:])
        u = urllib.parse.urlsplit(target)
        q = dict(urllib.parse.parse_qsl(u.query))
        log("REQ conn=%d %s %s" % (n, method, target))
        if not u.path.startswith("/ws/pump/") or "sec-websocket-key" not in h or \
                "websocket" not in h.get("upgrade", "").lower():
            t.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        auth = h.get("authorization")
        auth_ok = None
        if args.auth_sha256:
            auth_ok = auth is not None and \
                hashlib.sha256(auth.encode()).hexdigest() == args.auth_sha256
        t.sendall(peerlib.switching_protocols(peerlib.ws_accept(h["sec-websocket-key"])))
        t.setblocking(False)
        q["id"] = u.path[len("/ws/pump/"):]
        p = ServerPump(t, rest, q, auth_ok)

        def report(why, now):
            log("HANG id=%s %s %s" % (p.id, why, json.dumps(p.state(now))))
        run([p], 170, 120, report)
        log("DONE " + json.dumps({
            "id": p.id, "mode": p.mode, "err": p.err, "rx_len": p.rx.n,
            "rx_frames": p.rx_frames, "tx_len": p.tx.n, "wire_rx": p.wire_rx,
            "wire_tx": p.wire_tx, "extra": p.extra(), "slow_rx": p.slow_rx,
            "tx_blocked_s": round(p.tx_blocked, 2)}))
    except (ProtoError, OSError, ssl.SSLError, ValueError) as e:
        log("END conn=%d %r" % (n, e))
    finally:
        try:
            s.close()
        except OSError:
            pass


def serve(args):
    args.ctx = peerlib.tls_server_ctx(args.cert, args.key)
    ls = peerlib.listen_tcp(args.addr, args.port)
    peerlib.write_ready(args.ready, "%d\n" % os.getpid())
    log("READY %s:%d" % (args.addr, args.port))
    peerlib.accept_forever(
        [(ls, None)], lambda s, peer, tag, n: serve_one(s, args, n),
        note=lambda s, peer, tag, n: log("CONN conn=%d from %s:%d" % (n, peer[0], peer[1])))


# ------------------------------------------------------------------ client

class ClientPump(Pump):
    def __init__(self, sock, rest, spec, args):
        self.spec = spec
        self.id = spec["id"]
        self.kind = spec["kind"]
        super().__init__(sock, rest, spec["cseed"], spec["slow"], args.slow_chunk, args.slow_pause)
        self.gen = gen_frames(spec["cseed"], spec["send"]) if self.kind != "chatter" else \
            gen_bursts(spec["cseed"], spec["rounds"], spec["burst"])
        self.per_frame = self.kind == "chatter"
        self.waiting = 0            # chatter: echoes of the last burst still due
        self.rounds_done = 0
        self.sent = Tally()
        self.sent_lens = collections.deque()
        self.rx = Tally()
        self.rx_frames = 0
        self.sent_close = False
        self.summary = None
        self.got_close = False
        self.t_done = None
        self.close_notify = args.close_notify
        self.want_push = Tally(gen_frames(spec["sseed"], spec["recv"])).key()

    def refill(self):
        while self.gen is not None and len(self.obuf) < FILL and not self.waiting:
            p = next(self.gen, None)
            if p is None:
                self.gen = None
                self.queue(frame(8, struct.pack("!H", 1000), True))
                self.sent_close = True
                break
            if self.kind == "chatter":
                # a burst, then nothing until every echo of it is back
                for b in p:
                    self.sent.add(b)
                    self.sent_lens.append(len(b))
                    self.queue(frame(2, b, True))
                self.waiting = len(p)
                break
            self.sent.add(p)
            self.sent_lens.append(len(p))
            self.queue(frame(2, p, True))

    def on_frame(self, op, payload, masked):
        if masked:
            raise ProtoError("server frame masked")
        if self.got_close:
            raise ProtoError("frame after the close frame")
        if op == 2:
            if self.kind in ("echo", "chatter"):
                if not self.sent_lens:
                    raise ProtoError("echo of a frame never sent (%d bytes)" % len(payload))
                w = self.sent_lens.popleft()
                if w != len(payload):
                    raise ProtoError("echoed frame %d: %d bytes, sent %d" %
                                     (self.rx_frames, len(payload), w))
            self.rx.add(payload)
            self.rx_frames += 1
            if self.waiting:
                self.waiting -= 1
                self.rounds_done += not self.waiting
        elif op == 1:
            self.summary = json.loads(payload)
        elif op == 8:
            self.got_close = True
        else:
            raise ProtoError("unexpected opcode %d" % op)

    def on_eof(self):
        if not self.got_close:
            self.err = "end of stream before the close frame (%s)" % getattr(self, "eof_why", "eof")
        self.t_done = time.monotonic()
        if self.close_notify:
            try:
                self.sock.unwrap()  # our close_notify, then the socket closes
            except (OSError, ssl.SSLError, ValueError):
                pass
        self.finish()

    def result(self):
        r = {"id": self.id, "kind": self.kind, "send": self.spec["send"],
             "recv_push": self.spec["recv"], "slow": self.spec["slow"], "srx": self.spec["srx"],
             "port": self.spec["lport"], "wire_tx": self.wire_tx, "wire_rx": self.wire_rx,
             "rx_len": self.rx.n, "rx_frames": self.rx_frames, "slow_rx": self.slow_rx,
             "rounds_done": self.rounds_done,
             "tx_blocked_s": round(self.tx_blocked, 2), "max_gap_s": round(self.max_gap, 2),
             "secs": round((self.t_done or time.monotonic()) - self.t0, 2),
             "after_slow_s": round((self.t_done or time.monotonic()) - self.slow_end, 2),
             "issuer": self.spec["issuer"]}
        errs = []
        if self.err:
            errs.append(self.err)
        if self.kind in ("echo", "chatter"):
            if self.rx.key() != self.sent.key():
                errs.append("echo differs: got %d bytes, sent %d" % (self.rx.n, self.sent.n))
        elif self.rx.key() != self.want_push:
            errs.append("pushed stream differs: got %d bytes of %d" % (self.rx.n, self.want_push[0]))
        s = self.summary or {}
        if not self.summary:
            errs.append("no summary from the server")
        elif (s.get("rx_len"), s.get("rx_sha256")) != self.sent.key():
            errs.append("server received %s bytes, sent %d (or a different hash)" %
                        (s.get("rx_len"), self.sent.n))
        if self.summary and self.spec["need_auth"] and s.get("auth_ok") is not True:
            errs.append("the secret did not reach the upstream: auth_ok=%r" % s.get("auth_ok"))
        r["ok"] = not errs
        r["errors"] = errs
        return r


def parse_spec(text, i):
    kind, *kv = text.split(",")
    if kind not in ("echo", "push", "duplex", "chatter"):
        raise ValueError("relay kind %r" % kind)
    sp = {"kind": kind, "send": 0, "recv": 0, "slow": 0.0, "srx": 0.0, "rounds": 100,
          "burst": 32}
    for item in kv:
        k, _, v = item.partition("=")
        if k in ("send", "recv"):
            sp[k] = size_arg(v)
        elif k in ("rounds", "burst"):
            sp[k] = int(v)
        elif k in ("slow", "srx"):
            sp[k] = float(v)
        else:
            raise ValueError("relay option %r" % k)
    if kind in ("echo", "chatter"):
        sp["recv"] = 0
    if kind == "push":
        sp["send"] = 0
    sp["cseed"] = 1000 + i
    sp["sseed"] = 5000 + i
    return sp


def open_relay(args, sp):
    s = peerlib.dial(PROXY, args.rcvbuf)
    sp["lport"] = s.getsockname()[1]
    hp = "%s:%d" % (args.host, args.port)
    s.sendall(peerlib.connect_request(hp, args.token))
    lines, rest = read_head(s)
    if peerlib.status(lines) != "200" or rest:
        raise ProtoError("CONNECT: %s" % lines[0])
    ctx = ssl.create_default_context(cafile=args.ca)
    t = ctx.wrap_socket(s, server_hostname=args.host)
    iss = dict(x[0] for x in t.getpeercert()["issuer"])
    sp["issuer"] = iss.get("commonName", "?")
    q = {"mode": "echo" if sp["kind"] in ("echo", "chatter") else "push",
         "n": sp["recv"], "seed": sp["sseed"], "srx": sp["srx"]}
    if sp["kind"] == "chatter":
        q["rec"] = "frame"
    q = urllib.parse.urlencode(q)
    t.sendall(peerlib.upgrade_request("/ws/pump/%s?%s" % (sp["id"], q), hp))
    lines, rest = read_head(t)
    if peerlib.status(lines) != "101":
        raise ProtoError("upgrade %s: %s" % (sp["id"], lines[0]))
    t.setblocking(False)
    return ClientPump(t, rest, sp, args)


def worker_counts(path):
    u = socket.socket(socket.AF_UNIX)
    u.settimeout(5)
    u.connect(path)
    u.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    buf = b""
    while True:
        d = u.recv(65536)
        if not d:
            break
        buf += d
    u.close()
    return {int(w): int(v) for w, v in
            re.findall(rb'slicer_worker_connections_total\{worker="(\d+)"\} (\d+)', buf)}


def client(args):
    specs = [parse_spec(t, i) for i, t in enumerate(args.relay)]
    for i, sp in enumerate(specs):
        sp["id"] = "%s-%d-%s" % (args.tag, i, sp["kind"])
        sp["need_auth"] = args.need_auth
    before = worker_counts(args.api_sock) if args.spread else None
    pumps = [open_relay(args, sp) for sp in specs]
    spread = None
    if args.spread:
        for extra in range(17):
            now = worker_counts(args.api_sock)
            spread = {w: now.get(w, 0) - before.get(w, 0) for w in now}
            if sum(1 for v in spread.values() if v > 0) >= args.spread or extra == 16:
                break
            sp = parse_spec(args.relay[extra % len(args.relay)], len(specs))
            sp["id"] = "%s-%d-%s" % (args.tag, len(specs), sp["kind"])
            sp["need_auth"] = args.need_auth
            specs.append(sp)
            pumps.append(open_relay(args, sp))

    hang = []

    def report(why, now):
        # the sockets as the hang left them, then (last, for a short tail)
        # the state of every relay
        if args.on_stall:
            r = subprocess.run(args.on_stall, shell=True, capture_output=True, text=True, timeout=30)
            print(r.stdout + r.stderr)
        hang.append("HANG: %s" % why)
        for p in pumps:
            st = p.state(now)
            st.update({"id": p.id, "port": p.spec["lport"], "rx_len": p.rx.n,
                       "sent_len": p.sent.n, "sent_close": p.sent_close,
                       "rounds_done": p.rounds_done, "echoes_due": p.waiting,
                       "got_close": p.got_close})
            hang.append("  relay " + json.dumps(st))

    ok = run(pumps, args.limit, args.stall, report)
    res = [p.result() for p in pumps]
    out = {"relays": res, "spread": spread, "finished": ok}
    peerlib.print_json(res)
    for line in hang:
        print(line)
    if spread is not None:
        print("connections accepted per event loop: %s" % json.dumps(spread))
    peerlib.dump_json(args.json, out)
    bad = [r["id"] for r in res if not r["ok"]]
    if bad or not ok:
        print("FAILED: %s" % (" ".join(bad) or "hang"))
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--addr", required=True)
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--ready")
    s.add_argument("--auth-sha256")
    c = sub.add_parser("client")
    c.add_argument("--token", required=True)
    c.add_argument("--ca", required=True)
    c.add_argument("--host", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--relay", action="append", required=True)
    c.add_argument("--tag", default="r")
    c.add_argument("--need-auth", action="store_true")
    c.add_argument("--slow-chunk", type=int, default=1500)
    c.add_argument("--slow-pause", type=float, default=0.002)
    c.add_argument("--rcvbuf", type=int, default=0)
    c.add_argument("--close-notify", action="store_true")
    c.add_argument("--limit", type=float, default=60)
    c.add_argument("--stall", type=float, default=20)
    c.add_argument("--on-stall")
    c.add_argument("--api-sock")
    c.add_argument("--spread", type=int, default=0)
    c.add_argument("--json")
    args = ap.parse_args()
    if args.cmd == "serve":
        serve(args)
        return 0
    return client(args)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(130)
