#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Both ends of relayed connections that end in every order (e2e 085),
stdlib only.  Used only inside the bench's network namespaces.

  ends_peer.py serve --port-raw N --port-tls N --port-http N --slots K
                     --cert F --key F --log FILE [--ready FILE]
      The upstream.  Three kinds of listener, K ports each (N .. N+K-1) on
      every address: raw (bytes from the first byte: what a CONNECT tunnel
      carries), tls (TLS, then an HTTP upgrade request answered 101, then
      bytes) and http (a plain HTTP upgrade request: answered 101 when it
      still carries "Upgrade:" or the path has ?force101=1, else 426 and
      close).  After the upgrade, the client's first line is
      "ENDS {json}": the connection's id, the upstream's script and the seeds
      of both byte streams; the script runs from there.  The log gets JSON
      lines: {"ev": "start"|"head"|"done", "id", ...}; "done" carries the
      upstream's result (see Engine.result).

  ends_peer.py run --path tunnel|intercept|forward --case NAME [--case NAME]...
                   --token T --proxy-pid PID --hns NS --audit FILE --log FILE
                   [--ca PROXY-CA] [--slot0 N] [--json FILE]
      Runs the named cases (table CASES), all at once when there are
      several (one port slot each), against this bench's rules, then checks
      each: the bytes of every direction that stayed open arrived intact and
      complete with their end of stream, those of a direction cut by a reset
      are an intact prefix; both ends saw the connection end within the time
      limits; neither of the proxy's two sockets for it is left (ss -tanp in
      the proxy's namespace: none held by any process, none in a state but
      TIME-WAIT unless the case's peer stays half-open on purpose; and no
      socket the proxy held before the run was opened is still open);
      the audit log's close record of the connection counts the bytes
      relayed (exactly, or between what one end received and the other
      sent when a reset cut a direction); the proxy then uses almost no CPU
      for 2 s.  Prints a JSON summary per case and the failures; exit 0
      only if every check passed.

Scripts are lists of steps, run in order while the end keeps reading
whatever comes (and verifying it against the peer's seed):
  ["send", N]   queue N bytes of this end's stream     ["drain"]  wait until sent
  ["fin"]       drain, then end this direction (TLS: close_notify; then FIN)
  ["eof"]       wait for the peer's end of stream      ["rx", N]  wait for N bytes
  ["sleep", S]  keep reading for S seconds             ["rst"]    SO_LINGER 0 close
  ["hold", S]   read nothing for the next S seconds (does not wait itself),
                with a receive buffer of 16 KiB from then on
  ["close"]     close() as it is                       ["end"]    wait for the
                peer's end (end of stream or error), then close
  ["idle", S]   (client) sample the proxy's CPU over S seconds
  ["gone", S]   (client) wait up to S s until the proxy holds no socket of
                this connection
  ["state", SIDE, STATE, S]  (client) wait up to S s until ss shows the
                proxy's socket of SIDE ("c" or "u") in STATE
  ["held"]      (client) the proxy must still hold a socket of this
                connection now (else the case did not set up as meant)
  ["fill", S]   (client) send 16 KiB at a time until the proxy has stopped
                reading this end (its socket's receive queue holds bytes,
                unchanged for 0.6 s), at most S seconds
A step that waits gives up at the end of the stream, on an error or at the
connection's time limit; the result says which steps were cut short.
"""
import argparse
import errno
import functools
import json
import os
import random
import select
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import peerlib  # noqa: E402
from peerlib import PROXY, cpu_ticks, err_name, log_json, wait_until  # noqa: E402

HOST_TUNNEL = "api.bench.test"     # 198.18.0.10: a host rule, so a tunnel
HOST_TLS = "other.bench.test"      # 198.18.0.11: a path rule, so interception
UP_ADDR = {HOST_TUNNEL: "198.18.0.10", HOST_TLS: "198.18.0.11"}
PROXY_UP_IP = "198.18.0.1"         # the proxy's address towards the upstreams
BLK = 65536
MIB = 1 << 20
LIMIT = 40.0                       # seconds a connection may take, whatever it does
IDLE_TICKS = 20                    # CPU ticks in 2 s that still count as idle
AFTER_CLOSE = ("sleep", "idle", "gone", "state", "held")  # steps that still run once this end closed


# ------------------------------------------------------------ byte streams
#
# Each end's stream: blocks of BLK bytes, each from a seed of its own
# (peerlib.blocks); a receiver remembers the offset of the first block
# that differs.

class Stream:
    """A non-blocking byte stream over a socket, plain or TLS (an SSLObject
    over memory BIOs, so that a half close, a reset and reading after our
    own close_notify are all in our hands)."""

    def __init__(self, sock, ctx=None, server_side=False, hostname=None):
        self.sock = sock
        self.obj = None
        self.wire = bytearray()          # bytes for the socket, not yet taken
        self.fin_wanted = self.fin_sent = False
        self.eof = None                  # "fin", "close_notify" or "ragged"
        self.closed = False
        if ctx is not None:
            self.inbio, self.outbio = ssl.MemoryBIO(), ssl.MemoryBIO()
            self.obj = ctx.wrap_bio(self.inbio, self.outbio, server_side=server_side,
                                    server_hostname=hostname)

    def fileno(self):
        return self.sock.fileno()

    def _pull(self):
        if self.obj is not None:
            d = self.outbio.read()
            if d:
                self.wire += d

    # blocking, for the handshake and the HTTP heads (sock has a timeout)
    def handshake(self):
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            self._pull()
            self.sock.sendall(self.wire)
            self.wire.clear()
            d = self.sock.recv(65536)
            if not d:
                raise ConnectionError("closed during the TLS handshake")
            self.inbio.write(d)
        self._pull()
        self.sock.sendall(self.wire)
        self.wire.clear()

    def send_all(self, data):
        if self.obj is None:
            self.sock.sendall(data)
            return
        self.obj.write(data)
        self._pull()
        self.sock.sendall(self.wire)
        self.wire.clear()

    def recv_some(self):
        if self.obj is None:
            return self.sock.recv(65536)
        while True:
            try:
                return self.obj.read(65536)
            except ssl.SSLWantReadError:
                pass
            self._pull()
            if self.wire:
                self.sock.sendall(self.wire)
                self.wire.clear()
            d = self.sock.recv(65536)
            if not d:
                return b""
            self.inbio.write(d)

    def read_head(self):
        return peerlib.read_head(self.recv_some)

    def read_line(self, rest):
        return peerlib.read_until(self.recv_some, b"\n", "first line", buf=rest)

    # non-blocking, for the engine
    def room(self):
        return len(self.wire) < 262144 and not self.fin_wanted

    def put(self, data):
        if self.obj is None:
            self.wire += data
        else:
            self.obj.write(data)
            self._pull()

    def want_write(self):
        return bool(self.wire) or (self.fin_wanted and not self.fin_sent)

    def flush(self):
        """Write what the socket takes; OSError on an error."""
        while self.wire:
            try:
                n = self.sock.send(self.wire)
            except BlockingIOError:
                return
            del self.wire[:n]
        if self.fin_wanted and not self.fin_sent:
            self.sock.shutdown(socket.SHUT_WR)
            self.fin_sent = True

    def read(self):
        """Plain bytes that arrived (maybe none); sets eof; OSError on an error."""
        try:
            d = self.sock.recv(262144)
        except BlockingIOError:
            d = None
        if self.obj is None:
            if d == b"":
                self.eof = "fin"
            return d or b""
        if d == b"":
            self.inbio.write_eof()
        elif d:
            self.inbio.write(d)
        out = bytearray()
        while True:
            try:
                d = self.obj.read(262144)
                if not d:
                    # Python returns b"" for a close_notify when we have
                    # not sent ours, and raises when we have
                    self.eof = "close_notify"
                    break
                out += d
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                self.eof = "close_notify"
                break
            except ssl.SSLEOFError:
                self.eof = "ragged"
                break
            except ssl.SSLError as e:
                raise OSError(errno.EPROTO, "TLS: %s" % e)
        self._pull()
        return bytes(out)

    def shut_wr(self):
        if self.obj is not None:
            try:
                self.obj.unwrap()
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass              # close_notify is out; theirs may come later
            except ssl.SSLError:
                pass
            self._pull()
        self.fin_wanted = True

    def rst(self):
        if not self.closed:
            peerlib.reset(self.sock)
            self.closed = True

    def close(self):
        if not self.closed:
            self.sock.close()
            self.closed = True


class Engine:
    """Runs one end's script over a stream, reading all the while."""

    def __init__(self, st, script, tx_seed, rx_seed, rx_pre=b"", pid=None, gone=None,
                 sockets=None, limit=LIMIT):
        self.st, self.script = st, script
        self.gen = peerlib.Source(peerlib.blocks(tx_seed, BLK))
        self.ver = peerlib.Sink(peerlib.blocks(rx_seed, BLK))
        self.rx_pre = rx_pre
        self.pid, self.gone, self.sockets = pid, gone, sockets
        self.fill_q = [None, 0]   # "fill": the receive queue last seen, how often
        self.fill_s = []          # seconds each "fill" took
        self.state_missed = []    # "state" steps whose state never showed
        self.limit = limit
        self.tx_left = 0          # bytes queued by "send" not yet given to the stream
        self.tx = 0               # bytes given to the stream (sent or on their way)
        self.rx_err = self.tx_err = None
        self.i = 0
        self.step_t0 = None
        self.cut = []             # steps that gave up waiting
        self.idle = []            # CPU ticks of the proxy per "idle" step
        self.gone_s = []          # seconds until the proxy had let go ("gone" steps)
        self.gone_left = None     # what it still held when a "gone" step gave up
        self.hold_until = 0.0
        self.hold_end = None      # wall clock: when the last "hold" ended
        self.idle_end = None      # wall clock: when the last "idle" step ended
        self.how = None           # how this end closed
        self.timeout = False
        self.t0 = time.monotonic()
        self.t_end = None         # when the peer's end (eof or error) was seen
        self.ticks0 = None

    def ended_rx(self):
        return self.st.eof is not None or self.rx_err is not None

    def result(self):
        return {"tx": self.tx, "rx": self.ver.n, "rx_bad_at": self.ver.bad_at,
                "eof": self.st.eof, "rx_err": self.rx_err, "tx_err": self.tx_err,
                "how": self.how, "timeout": self.timeout, "cut": self.cut,
                "idle_ticks": self.idle, "gone_s": self.gone_s, "gone_left": self.gone_left,
                "peer_end_s": None if self.t_end is None else round(self.t_end - self.t0, 2),
                "steps_done": self.i, "steps": len(self.script),
                "hold_end": self.hold_end, "idle_end": self.idle_end,
                "state_missed": self.state_missed, "fill_s": self.fill_s}

    def do_read(self):
        try:
            d = self.st.read()
        except OSError as e:
            self.rx_err = err_name(e)
            self.t_end = time.monotonic()
            return
        if d:
            self.ver.feed(d)
        if self.st.eof is not None:
            self.t_end = time.monotonic()

    def do_write(self):
        try:
            while self.tx_left > 0 and self.st.room():
                k = min(self.tx_left, BLK)
                self.st.put(self.gen.take(k))
                self.tx += k
                self.tx_left -= k
            self.st.flush()
        except OSError as e:
            self.tx_err = err_name(e)
            self.tx_left = 0
            self.st.wire.clear()

    def drained(self):
        return self.tx_err is not None or (self.tx_left == 0 and not self.st.wire)

    def step(self, now):
        """Advance the current step; True when it is done."""
        s = self.script[self.i]
        op = s[0]
        if self.step_t0 is None:
            self.step_t0 = now
            if op == "send":
                if self.tx_err is None:
                    self.tx_left += s[1]
                return True
            if op == "hold":
                # a receive buffer that stays small: the window this end
                # offers stops growing, so that what it does not read
                # soon fills every buffer up to the proxy
                self.st.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
                self.hold_until = now + s[1]
                self.hold_end = time.time() + s[1]
                return True
            if op == "idle" and self.pid:
                self.ticks0 = cpu_ticks(self.pid)
        if op == "drain":
            return self.drained()
        if op == "fin":
            if not self.drained():
                return False
            if self.tx_err is not None:
                return True
            if not self.st.fin_wanted:
                self.st.shut_wr()
                self.do_write()
            return self.st.fin_sent or self.tx_err is not None
        if op == "eof":
            return self.ended_rx()
        if op == "rx":
            if self.ver.n >= s[1]:
                return True
            if self.ended_rx():
                self.cut.append(self.i)
                return True
            return False
        if op in ("sleep", "idle"):
            if now - self.step_t0 < s[1]:
                return False
            if op == "idle" and self.pid:
                self.idle.append(cpu_ticks(self.pid) - self.ticks0)
                self.idle_end = time.time()
            return True
        if op == "gone":
            left = self.gone()
            if not left:
                self.gone_s.append(round(now - self.step_t0, 2))
                return True
            if now - self.step_t0 >= s[1]:
                self.gone_s.append(None)
                self.gone_left = left
                return True
            time.sleep(0.05)
            return False
        if op == "state":
            if s[2] in [x[0] for x in self.sockets(s[1])]:
                return True
            if now - self.step_t0 >= s[3]:
                self.state_missed.append(s[1:3])
                return True
            time.sleep(0.05)
            return False
        if op == "fill":
            if not self.drained():
                return False
            if self.tx_err is not None or now - self.step_t0 >= s[1]:
                self.state_missed.append(["fill", self.i])
                return True
            q = sum(x[1] for x in self.sockets("c"))
            if q > 0 and q == self.fill_q[0]:
                self.fill_q[1] += 1
                if self.fill_q[1] >= 3:
                    self.fill_q = [None, 0]
                    self.fill_s.append(round(now - self.step_t0, 2))
                    return True
            else:
                self.fill_q = [q, 0]
            if q == 0:
                self.tx_left += 16384
            else:
                time.sleep(0.2)
            return False
        if op == "held":
            if not self.gone():
                self.state_missed.append(["held", self.i])
            return True
        if op == "rst":
            self.st.rst()
            self.how = "rst"
            return True
        if op == "close":
            self.st.close()
            self.how = "close"
            return True
        if op == "end":
            if not self.ended_rx() or not self.drained():
                return False
            self.st.close()
            self.how = "end"
            return True
        raise ValueError("unknown step %r" % (s,))

    def run(self):
        if self.rx_pre:
            self.ver.feed(self.rx_pre)
        end = self.t0 + self.limit
        while True:
            now = time.monotonic()
            while self.i < len(self.script) and \
                    (not self.st.closed or self.script[self.i][0] in AFTER_CLOSE) and \
                    self.step(now):
                self.i += 1
                self.step_t0 = None
            if self.st.closed:
                if self.i < len(self.script) and self.script[self.i][0] in AFTER_CLOSE \
                        and now <= end:
                    time.sleep(0.02)
                    continue
                return self.result()
            if self.i == len(self.script):
                self.script = self.script + [["end"]]
                continue
            if now > end:
                self.timeout = True
                self.st.rst()
                self.how = "timeout"
                return self.result()
            self.do_write()
            r = [self.st] if not self.ended_rx() and now >= self.hold_until else []
            w = [self.st] if self.st.want_write() and self.tx_err is None else []
            if not r and not w:
                time.sleep(0.02)
                continue
            try:
                rr, ww, _ = select.select(r, w, [], 0.05)
            except (OSError, ValueError):
                rr, ww = [], []
            if ww:
                self.do_write()
            if rr:
                self.do_read()


# ------------------------------------------------------------------ server

def serve_one(args, kind, s, peer, lport):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.settimeout(10)
    cid = None
    info = {"kind": kind, "lport": lport, "pip": peer[0], "pport": peer[1]}
    try:
        st = Stream(s, args.ctx if kind == "tls" else None, server_side=True)
        if kind == "tls":
            st.handshake()
        rest = b""
        if kind in ("tls", "http"):
            lines, rest = st.read_head()
            target = lines[0].split(" ")[1]
            u = urllib.parse.urlsplit(target)
            hd = peerlib.headers(lines[1:])
            up = "websocket" in hd.get("upgrade", "").lower()
            cid = u.path.rsplit("/", 1)[-1]
            log_json(args.log, dict(info, ev="head", id=cid,
                                    target=target, upgrade=up, headers=hd))
            if not up and "force101=1" not in u.query:
                st.send_all(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n"
                            b"Connection: close\r\n\r\n")
                s.shutdown(socket.SHUT_WR)
                s.settimeout(5)
                while st.recv_some():
                    pass
                return
            st.send_all(peerlib.switching_protocols())
        line, rest = st.read_line(rest)
        if not line.startswith(b"ENDS "):
            raise ValueError("no ENDS line: %r" % line[:80])
        ctl = json.loads(line[5:])
        cid = ctl["id"]
        log_json(args.log, dict(info, ev="start", id=cid))
        s.setblocking(False)
        e = Engine(st, ctl["script"], ctl["useed"], ctl["cseed"], rx_pre=rest)
        r = e.run()
        log_json(args.log, dict(info, ev="done", id=cid, res=r))
    except (OSError, ValueError, ssl.SSLError) as ex:
        log_json(args.log, dict(info, ev="error", id=cid, err=repr(ex)))
    finally:
        try:
            s.close()
        except OSError:
            pass


def serve(args):
    args.ctx = peerlib.tls_server_ctx(args.cert, args.key)
    listeners = []
    for kind, base in (("raw", args.port_raw), ("tls", args.port_tls), ("http", args.port_http)):
        for k in range(args.slots):
            listeners.append((peerlib.listen_tcp("0.0.0.0", base + k, 64), (kind, base + k)))
    peerlib.write_ready(args.ready, "%d\n" % os.getpid())
    peerlib.accept_forever(listeners, lambda s, peer, tag, n: serve_one(args, tag[0], s, peer,
                                                                          tag[1]))


# ------------------------------------------------------------------ cases
#
# c: the client's script, u: the upstream's.  c2u / u2c: what must hold for
# each direction: "full" (every byte, then its end of stream), "exact"
# (every byte; the end may be a reset), "prefix" (an intact prefix: a reset
# cut it).  audit: "exact" or "range".  allow: a socket state the proxy may
# leave for the upstream ("u") or client ("c") side because that peer stays
# half-open on purpose (an orphan: no process holds it).  c_end / u_end:
# how that side's reading must end, "reset" or "eof" (unset: either; a side
# that is still writing when the reset comes may meet it on a write and
# then read an end of stream, so only a side that only reads is held to it).
# c_tx_err / u_tx_err: the errors that side's writing must end with (a
# side that read the other's end cannot see a later reset by reading:
# only a write tells it).

CASES = {
    "a": dict(title="the client half-closes first, the upstream goes on sending",
              c=[["send", 300000], ["fin"], ["rx", 200000], ["idle", 2], ["eof"], ["close"]],
              u=[["send", 200000], ["drain"], ["eof"], ["sleep", 2.5], ["send", 500000],
                 ["fin"], ["end"]],
              c2u="full", u2c="full", audit="exact"),
    "b": dict(title="the upstream half-closes first, the client goes on sending",
              c=[["send", 100000], ["rx", 200000], ["eof"], ["idle", 2], ["send", 400000],
                 ["fin"], ["end"]],
              u=[["send", 200000], ["fin"], ["eof"], ["close"]],
              c2u="full", u2c="full", audit="exact"),
    "b0": dict(title="the upstream half-closes at once, the client then sends",
               c=[["eof"], ["send", 300000], ["fin"], ["end"]],
               u=[["fin"], ["eof"], ["close"]],
               c2u="full", u2c="full", audit="exact"),
    "c": dict(title="both half-close at once",
              c=[["send", 300000], ["fin"], ["end"]],
              u=[["send", 300000], ["fin"], ["end"]],
              c2u="full", u2c="full", audit="exact"),
    "d": dict(title="the client resets",
              c=[["send", 100000], ["rx", 100000], ["rst"]],
              u=[["rx", 100000], ["send", 100000], ["drain"], ["end"]],
              c2u="exact", u2c="exact", audit="exact", u_end={"reset"}),
    "d2": dict(title="the client resets while the upstream sends a lot",
               c=[["rx", MIB], ["rst"]],
               u=[["send", 32 * MIB], ["fin"], ["end"]],
               c2u="exact", u2c="prefix", audit="range"),
    "e": dict(title="the upstream resets",
              c=[["send", 100000], ["rx", 100000], ["send", 1], ["drain"], ["end"]],
              u=[["rx", 100000], ["send", 100000], ["rx", 100001], ["rst"]],
              c2u="exact", u2c="exact", audit="exact", c_end={"reset"}),
    "e2": dict(title="the upstream resets while the client sends a lot",
               c=[["send", 32 * MIB], ["fin"], ["end"]],
               u=[["rx", MIB], ["rst"]],
               c2u="prefix", u2c="exact", audit="range"),
    "f": dict(title="the client closes (close()) while the upstream sends a lot",
              c=[["rx", MIB], ["close"]],
              u=[["send", 32 * MIB], ["fin"], ["end"]],
              c2u="exact", u2c="prefix", audit="range"),
    "f2": dict(title="the client closes with nothing unread (a FIN), then the upstream sends",
               c=[["rx", 100000], ["close"]],
               u=[["send", 100000], ["drain"], ["sleep", 1], ["send", 4 * MIB], ["fin"], ["end"]],
               c2u="exact", u2c="prefix", audit="range", c_rx=100000),
    "b2": dict(title="the upstream half-closes and reads nothing for 6 s, the client sends "
                     "until the proxy stops reading it, then half-closes (its FIN reaching the proxy "
                     "meanwhile)",
               c=[["eof"], ["fill", 3], ["send", 1000], ["fin"], ["state", "c", "TIME-WAIT", 2],
                  ["held"], ["idle", 2], ["held"], ["end"]],
               u=[["fin"], ["hold", 6], ["eof"], ["close"]],
               c2u="full", u2c="full", audit="exact", blocked=True),
    "d3": dict(title="the client resets while the upstream reads nothing for 6 s",
               c=[["fill", 3], ["held"], ["rst"], ["idle", 2]],
               u=[["hold", 6], ["end"]],
               c2u="prefix", u2c="exact", audit="range", blocked=True, u_end={"reset"}),
    "g": dict(title="the client half-closes, then resets, the upstream silent",
              c=[["send", 1000], ["fin"], ["sleep", 0.5], ["rst"], ["idle", 2], ["gone", 2]],
              u=[["rx", 1000], ["eof"], ["sleep", 6], ["send", 1000], ["end"]],
              c2u="full", u2c="prefix", audit="range"),
    "g2": dict(title="the client half-closes, then resets; the upstream sends 2 s later",
               c=[["send", 1000], ["fin"], ["sleep", 0.5], ["rst"], ["idle", 2], ["gone", 2]],
               u=[["rx", 1000], ["eof"], ["sleep", 2], ["send", 1000], ["drain"], ["end"]],
               c2u="full", u2c="prefix", audit="range", u_tx_err={"EPIPE", "ECONNRESET"}),
    "h2": dict(title="the upstream half-closes, then resets; the client sends 2 s later",
               c=[["rx", 1000], ["eof"], ["sleep", 2], ["send", 1000], ["drain"], ["end"]],
               u=[["send", 1000], ["fin"], ["sleep", 0.5], ["rst"]],
               c2u="prefix", u2c="full", audit="range", c_tx_err={"EPIPE", "ECONNRESET"}),
    "h": dict(title="the upstream half-closes, then resets, the client silent",
              c=[["rx", 1000], ["eof"], ["gone", 5], ["idle", 2], ["send", 1000], ["end"]],
              u=[["send", 1000], ["fin"], ["sleep", 0.5], ["rst"]],
              c2u="prefix", u2c="full", audit="range"),
}


read_log = peerlib.read_json_lines


def ss_lines(hns):
    r = subprocess.run(["ip", "netns", "exec", hns, "ss", "-Htanp"], capture_output=True,
                       text=True, timeout=10)
    return r.stdout.splitlines()


def sock_inodes(pid):
    out = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                t = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if t.startswith("socket:["):
                out.add(int(t[8:-1]))
    except OSError:
        pass
    return out


def other_inodes(pid):
    """Inodes of the proxy's sockets that are not TCP connections:
    UDP, unix, netlink, and TCP listeners."""
    out = set()
    for name, col in (("udp", 9), ("udp6", 9), ("raw", 9), ("raw6", 9), ("unix", 6),
                      ("netlink", 8)):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for l in f:
                    w = l.split()
                    if len(w) > col and w[col].isdigit():
                        out.add(int(w[col]))
        except (OSError, StopIteration):
            pass
    for name in ("tcp", "tcp6"):
        try:
            with open("/proc/%d/net/%s" % (pid, name)) as f:
                next(f)
                for l in f:
                    w = l.split()
                    if len(w) > 9 and w[3] == "0A":
                        out.add(int(w[9]))
        except (OSError, StopIteration):
            pass
    return out


class Case:
    def __init__(self, args, name, slot, solo):
        self.args, self.name, self.slot = args, name, slot
        self.spec = CASES[name]
        self.solo = solo
        self.id = "%s-%s-%d-%06x" % (args.path, name, slot, random.getrandbits(24))
        self.cseed = random.getrandbits(30)
        self.useed = random.getrandbits(30)
        self.fail = []
        self.info = {}
        self.res_c = self.res_u = None
        self.lport = None
        self.status = None

    # the proxy's two sockets of this connection, as ss shows them
    def tuples(self):
        t = []
        if self.lport:
            t.append(("c", "%s:%d" % PROXY, "192.168.222.2:%d" % self.lport))
        st = self.upstream_start()
        if st:
            t.append(("u", "%s:%d" % (PROXY_UP_IP, st["pport"]),
                      "%s:%d" % (UP_ADDR[self.host], st["lport"])))
        return t

    def upstream_start(self):
        for r in read_log(self.args.log):
            if r.get("id") == self.id and r["ev"] in ("start", "head"):
                return r
        return None

    def upstream_done(self):
        for r in read_log(self.args.log):
            if r.get("id") == self.id and r["ev"] in ("done", "error"):
                return r
        return None

    def left(self, final):
        """What the proxy still has of this connection, a list of strings:
        sockets it holds, and when final, those left in a state but
        TIME-WAIT (or the case's allowance)."""
        bad = []
        lines = ss_lines(self.args.hns)
        allow = self.spec.get("allow", {}) if final else {}
        for side, loc, peer in self.tuples():
            for l in lines:
                w = l.split()
                if len(w) < 5 or w[3] != loc or w[4] != peer:
                    continue
                held = "users:" in l
                if held or (final and w[0] != "TIME-WAIT" and w[0] not in allow.get(side, [])):
                    bad.append("%s side %s %s -> %s%s" % (side, w[0], loc, peer,
                                                          " (held by a process)" if held else ""))
        return bad

    def gone(self):
        return self.left(False)

    def sockets(self, side):
        """(state, receive queue) of the proxy's sockets of one side, as ss
        shows them."""
        lines = ss_lines(self.args.hns)
        out = []
        for sd, loc, peer in self.tuples():
            if sd != side:
                continue
            for l in lines:
                w = l.split()
                if len(w) >= 5 and w[3] == loc and w[4] == peer:
                    out.append((w[0], int(w[1])))
        return out

    def open(self):
        a = self.args
        s = peerlib.dial(PROXY)
        self.lport = s.getsockname()[1]
        if a.path == "forward":
            self.host, self.port = HOST_TUNNEL, a.port_http + self.slot
            hp = "%s:%d" % (self.host, self.port)
            q = "?force101=1" if self.name == "probe101" else ""
            s.sendall(peerlib.upgrade_request(
                "http://%s/ends/%s%s" % (hp, self.id, q), hp,
                "Proxy-Authorization: Basic %s\r\n" % peerlib.basic_auth(a.token)))
            st = Stream(s)
            lines, rest = st.read_head()
            self.status = int(peerlib.status(lines))
            return st, rest
        if a.path == "tunnel":
            self.host, self.port = HOST_TUNNEL, a.port_raw + self.slot
        else:
            self.host, self.port = HOST_TLS, a.port_tls + self.slot
        hp = "%s:%d" % (self.host, self.port)
        s.sendall(peerlib.connect_request(hp, a.token))
        lines, rest = Stream(s).read_head()
        self.status = int(peerlib.status(lines))
        if self.status != 200 or rest:
            raise ValueError("CONNECT: %s" % lines[0])
        if a.path == "tunnel":
            return Stream(s), b""
        ctx = ssl.create_default_context(cafile=a.ca)
        st = Stream(s, ctx, hostname=self.host)
        st.handshake()
        st.send_all(peerlib.upgrade_request("/ends/%s" % self.id, hp))
        lines, rest = st.read_head()
        self.status = int(peerlib.status(lines))
        if self.status != 101:
            raise ValueError("upgrade: %s" % lines[0])
        return st, rest

    # phase 1: the connection, until the client's end is done and the
    # proxy has let go of it (or 5 s passed)
    def phase1(self):
        try:
            st, rest = self.open()
        except (OSError, ValueError, ssl.SSLError) as e:
            self.fail.append("open: %s (status %s)" % (err_name(e), self.status))
            return
        if self.args.path == "forward" and self.status != 101:
            self.info["status"] = self.status
            st.sock.settimeout(5)
            t0 = time.monotonic()
            try:
                while st.recv_some():
                    pass
                self.info["client_end"] = "eof"
            except OSError as e:
                self.info["client_end"] = err_name(e)
            self.info["client_end_s"] = round(time.monotonic() - t0, 2)
            st.close()
            self.settle()
            return
        ctl = b"ENDS " + json.dumps({"id": self.id, "script": self.spec["u"],
                                     "cseed": self.cseed, "useed": self.useed}).encode() + b"\n"
        self.ctl_len = len(ctl)
        st.sock.setblocking(False)
        st.put(ctl)
        script = self.spec["c"]
        if not self.solo:
            script = [x for x in script if x[0] != "idle"]
        e = Engine(st, script, self.cseed, self.useed, rx_pre=rest, pid=self.args.proxy_pid,
                   gone=self.gone, sockets=self.sockets)
        # the ctl line goes out with the first writes; it is not stream bytes
        self.res_c = e.run()
        self.settle()

    def settle(self):
        t0 = time.monotonic()
        bad = wait_until(functools.partial(self.left, True), 5, done=lambda b: not b)
        if not bad:
            self.info["proxy_let_go_s"] = round(time.monotonic() - t0, 2)
        else:
            self.fail.append("5 s after the client's end the proxy still has: " + "; ".join(bad))

    # phase 2: the upstream's result, the bytes, the audit record
    def phase2(self, audit_off):
        if self.args.path == "forward" and self.status != 101:
            return self.check_refused(audit_off)
        if self.res_c is None:
            return
        d = wait_until(self.upstream_done, 20)
        if d is None:
            self.fail.append("the upstream's end never finished")
            return
        if d["ev"] == "error":
            self.fail.append("upstream: %s" % d.get("err"))
            return
        self.res_u = u = d["res"]
        c = self.res_c
        sp = self.spec
        for who, r in (("client", c), ("upstream", u)):
            if r["timeout"]:
                self.fail.append("%s: timed out at step %d of %d" % (who, r["steps_done"],
                                                                   r["steps"]))
            if r["rx_bad_at"] is not None:
                self.fail.append("%s: bytes received differ from what was sent at offset %d" %
                                 (who, r["rx_bad_at"]))
        for d_name, snd, rcv, rule in (("client->upstream", c, u, sp["c2u"]),
                                       ("upstream->client", u, c, sp["u2c"])):
            if rcv["rx"] > snd["tx"]:
                self.fail.append("%s: %d bytes arrived, %d were sent" % (d_name, rcv["rx"],
                                                                          snd["tx"]))
            if rule in ("full", "exact") and rcv["rx"] != snd["tx"]:
                self.fail.append("%s: %d of %d bytes arrived" % (d_name, rcv["rx"], snd["tx"]))
            if rule == "full" and (rcv["eof"] is None or rcv["rx_err"]):
                self.fail.append("%s: no clean end of stream after the bytes (eof %s, error %s)"
                                 % (d_name, rcv["eof"], rcv["rx_err"]))
            if rule == "full" and snd["tx_err"]:
                self.fail.append("%s: the sender got %s" % (d_name, snd["tx_err"]))
        for who, r in (("client", c), ("upstream", u)):
            want = sp.get(who[0] + "_end")
            got = "reset" if r["rx_err"] == "ECONNRESET" else \
                "eof" if r["eof"] is not None and not r["rx_err"] else r["rx_err"]
            if want and got not in want:
                self.fail.append("%s: its reading ended with %s, want %s" %
                                 (who, got, " or ".join(sorted(want))))
            want = sp.get(who[0] + "_tx_err")
            if want and r["tx_err"] not in want:
                self.fail.append("%s: its writing ended with %s, want %s" %
                                 (who, r["tx_err"], " or ".join(sorted(want))))
        if "c_rx" in sp and c["rx"] != sp["c_rx"]:
            self.fail.append("client: got %d bytes, want %d" % (c["rx"], sp["c_rx"]))
        if c["cut"]:
            self.fail.append("client: steps %s ended early (eof %s, error %s)" %
                             (c["cut"], c["eof"], c["rx_err"]))
        if u["cut"]:
            self.fail.append("upstream: steps %s ended early (eof %s, error %s)" %
                             (u["cut"], u["eof"], u["rx_err"]))
        if sp.get("blocked") and c["idle_end"] and u["hold_end"] and \
                c["idle_end"] > u["hold_end"]:
            self.fail.append("not the case meant: the client's idle window ended %.1f s after "
                             "the upstream read again" % (c["idle_end"] - u["hold_end"]))
        for side, state in c["state_missed"]:
            if side == "held":
                self.fail.append("not the case meant: at step %d the proxy held no socket of "
                                 "the connection any more" % state)
            elif side == "fill":
                self.fail.append("not the case meant: step %d never saw the proxy stop "
                                 "reading the client" % state)
            else:
                self.fail.append("not the case meant: the proxy's %s side never showed %s" %
                                 ("client" if side == "c" else "upstream", state))
        for t in c["idle_ticks"]:
            if t > IDLE_TICKS:
                self.fail.append("the proxy used %d CPU ticks in 2 s while the connection "
                                 "was half-open" % t)
        for g in c["gone_s"]:
            if g is None:
                self.fail.append("the proxy still held the connection well after the "
                                 "reset: " + "; ".join(c["gone_left"] or []))
        self.check_audit(audit_off, c, u)

    def audit_close(self, audit_off):
        """The close record of this connection, or None."""
        try:
            with open(self.args.audit) as f:
                f.seek(audit_off)
                recs = [json.loads(l) for l in f if l.strip()]
        except (OSError, ValueError):
            return None, []
        mine = []
        for r in recs:
            if self.args.path == "intercept":
                ok = (r.get("path") or "") == "/ends/" + self.id
            else:
                ok = r.get("host") == self.host and r.get("port") == self.port
            if ok:
                mine.append(r)
        close = [r for r in mine if r.get("event") == "close"]
        return (close[-1] if close else None), mine

    def check_audit(self, audit_off, c, u):
        rec, mine = wait_until(functools.partial(self.audit_close, audit_off), 5,
                               done=lambda v: v[0])
        if rec is None:
            self.fail.append("no close record in the audit log (records of it: %s)" %
                             json.dumps([{k: r.get(k) for k in ("event", "decision", "reason",
                                                                "bytes_in", "bytes_out")}
                                         for r in mine]))
            return
        self.info["audit"] = {k: rec.get(k) for k in ("event", "reason", "bytes_in", "bytes_out",
                                                      "mode")}
        got_in, got_out = rec.get("bytes_in"), rec.get("bytes_out")
        if self.spec["audit"] == "exact":
            want_in, want_out = self.ctl_len + c["tx"], u["tx"]
            if (got_in, got_out) != (want_in, want_out) or u["rx"] != c["tx"] or \
                    c["rx"] != u["tx"]:
                self.fail.append("audit in/out %s/%s, the client sent %d (and the line) and "
                                 "got %d, the upstream sent %d and got %d" %
                                 (got_in, got_out, c["tx"], c["rx"], u["tx"], u["rx"]))
        else:
            lo_in, hi_in = self.ctl_len + u["rx"], self.ctl_len + c["tx"]
            lo_out, hi_out = c["rx"], u["tx"]
            if not (isinstance(got_in, int) and lo_in <= got_in <= hi_in and
                    isinstance(got_out, int) and lo_out <= got_out <= hi_out):
                self.fail.append("audit in/out %s/%s, want in [%d, %d] (what the upstream got, "
                                 "what the client sent) and out [%d, %d]" %
                                 (got_in, got_out, lo_in, hi_in, lo_out, hi_out))

    def check_refused(self, audit_off):
        """A plain upgrade the forward proxy does not relay."""
        heads = [r for r in read_log(self.args.log)
                 if r.get("id") == self.id and r["ev"] == "head"]
        self.info["upstream_saw_upgrade"] = heads[0]["upgrade"] if heads else None
        if self.name == "probe":
            if not heads:
                self.fail.append("the request never reached the upstream")
            elif heads[0]["upgrade"]:
                self.fail.append("the upstream saw Upgrade but the client got %s" % self.status)
            elif self.status != 426:
                self.fail.append("the client got %s, not the upstream's 426" % self.status)
        elif self.status != 502:
            self.fail.append("an upstream's unasked 101: the client got %s, not 502" % self.status)
        if self.info.get("client_end") != "eof" or self.info.get("client_end_s", 9) > 3:
            self.fail.append("the client's connection did not end (%s after %s s)" %
                             (self.info.get("client_end"), self.info.get("client_end_s")))
        d = wait_until(self.upstream_done, 10,
                       done=lambda v: v is not None or self.name == "probe")
        if self.name == "probe101" and (d is None or "no ENDS" not in d.get("err", "") and
                                        "closed" not in d.get("err", "")):
            self.fail.append("the upstream connection did not end: %s" % (d,))
        rec = None
        t0 = time.monotonic()
        while rec is None and time.monotonic() - t0 < 5:
            _, mine = self.audit_close(audit_off)
            rec = mine[-1] if mine else None
            time.sleep(0.1)
        self.info["audit"] = rec and {k: rec.get(k) for k in ("event", "decision", "status",
                                                               "reason")}
        if rec is None:
            self.fail.append("no audit record")

    def summary(self):
        out = {"case": self.name, "id": self.id, "title": self.spec["title"],
               "status": self.status}
        out.update(self.info)
        for who, r in (("client", self.res_c), ("upstream", self.res_u)):
            if r:
                out[who] = {k: r[k] for k in ("tx", "rx", "eof", "rx_err", "tx_err", "how",
                                               "peer_end_s", "idle_ticks", "gone_s",
                                               "gone_left", "fill_s")}
        out["fail"] = self.fail
        return out


def proxy_leaks(pid, before):
    """Sockets the proxy opened since before that are still open and are not
    UDP, unix, netlink or listeners: TCP connections it still holds."""
    now = sock_inodes(pid)
    return sorted((now - before) - other_inodes(pid))


def run(args):
    CASES["probe"] = dict(title="a plain Upgrade through the forward proxy", c=[], u=[],
                          c2u="exact", u2c="exact", audit="exact")
    CASES["probe101"] = dict(title="a plain Upgrade, the upstream answering 101 anyway",
                             c=[], u=[], c2u="exact", u2c="exact", audit="exact")
    solo = len(args.case) == 1
    cases = [Case(args, n, args.slot0 + i, solo) for i, n in enumerate(args.case)]
    try:
        audit_off = os.path.getsize(args.audit)
    except OSError:
        audit_off = 0
    before = sock_inodes(args.proxy_pid)
    ths = [threading.Thread(target=c.phase1) for c in cases]
    for t in ths:
        t.start()
    for t in ths:
        t.join(LIMIT + 30)
    fails = []
    if any(t.is_alive() for t in ths):
        fails.append("a case did not finish in %d s" % (LIMIT + 30))
    # no socket of these connections left inside the proxy (those ss cannot
    # see too: a reset socket is in no table but still holds a descriptor)
    leak = wait_until(lambda: proxy_leaks(args.proxy_pid, before), 5, done=lambda v: not v)
    if leak:
        fails.append("the proxy still holds %d TCP socket(s) it opened for these connections"
                     % len(leak))
    t1 = cpu_ticks(args.proxy_pid)
    time.sleep(2)
    idle = cpu_ticks(args.proxy_pid) - t1
    if idle > IDLE_TICKS:
        fails.append("the proxy used %d CPU ticks in the 2 s after (idle: <= %d)" %
                     (idle, IDLE_TICKS))
    ths = [threading.Thread(target=c.phase2, args=(audit_off,)) for c in cases]
    for t in ths:
        t.start()
    for t in ths:
        t.join(60)
    res = [c.summary() for c in cases]
    peerlib.print_json(res)
    print(json.dumps({"proxy_idle_ticks_2s": idle, "leaked_sockets": len(leak)}))
    peerlib.dump_json(args.json, {"cases": res, "idle": idle, "leak": len(leak)})
    for r in res:
        for m in r["fail"]:
            fails.append("%s: %s" % (r["case"], m))
    if fails:
        print("FAILED:\n  " + "\n  ".join(fails))
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    r = sub.add_parser("run")
    for p in (s, r):
        p.add_argument("--port-raw", type=int, default=9600)
        p.add_argument("--port-tls", type=int, default=9620)
        p.add_argument("--port-http", type=int, default=9640)
        p.add_argument("--log", required=True)
    s.add_argument("--slots", type=int, default=8)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--ready")
    r.add_argument("--path", required=True, choices=("tunnel", "intercept", "forward"))
    r.add_argument("--case", action="append", required=True)
    r.add_argument("--slot0", type=int, default=0)
    r.add_argument("--token", required=True)
    r.add_argument("--ca")
    r.add_argument("--proxy-pid", type=int, required=True)
    r.add_argument("--hns", required=True)
    r.add_argument("--audit", required=True)
    r.add_argument("--json")
    a = ap.parse_args()
    if a.cmd == "serve":
        serve(a)
        return 0
    return run(a)


if __name__ == "__main__":
    sys.exit(main())
