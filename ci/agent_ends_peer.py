#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""Both ends of a plain TCP connection that ends in a chosen order (e2e 086),
stdlib only.  Used only inside the bench's network namespaces.

  agent_ends_peer.py serve --addr A --port N --log FILE --dir D [--ready F]
      The upstream.  A connection starts with one header line from the
      client, "#AE1 ID STEPS [WATCH]\\n" (no HTTP, no TLS: the guest agent
      names the CONNECT by address); the server then runs STEPS (below)
      and appends "DONE {json}" with its side's record to FILE.

  agent_ends_peer.py run --case NAME --id ID --addr A --port N --dir D
                         [--watch NAME=PID,...]
      The client: connects, sends the header with the case's server steps,
      runs the case's client steps, prints its own record (JSON).

  agent_ends_peer.py verify --case NAME --id ID --client F --log FILE
                            [--stop-at EPOCH]
      Waits (bounded) for the server's record of ID and checks both records
      against the case's expectations.  Exit 0 when they hold.

  agent_ends_peer.py cases
      The case names, one a line.

Each direction carries a stream of bytes derived from the ID and the
direction; a receiver compares every byte with it at its offset, so a byte
lost, added, duplicated or reordered shows (rx_ok false, or a length that
differs from what the sender sent).

Steps, comma-separated, run in order while the peer keeps reading (unless
told not to):
  send:N     send N bytes (K/M suffixes)      stream:T  send until T s pass,
  fin        shutdown(SHUT_WR)                          a write fails or the
  rst        SO_LINGER 0 and close (a reset)            read side fails (an
                                                        end of stream does
                                                        not stop it)
  close      close()                          waiteof   until the read side
  waitrx:N   until N bytes came in                      ended (end of stream,
  sleep:T    wait T s                                   reset or error)
  nord, rd   stop / resume reading            cpu0,cpu1 CPU ticks of the
  mark       create D/mark-ID                           watched processes
  hold:T     create D/held-ID-ROLE, then wait until D/release-ID exists (or
             T s pass)
After the steps, a peer that has not closed waits (bounded) for its read
side to end, then closes.  Every wait is bounded by a deadline.
"""
import argparse
import json
import os
import select
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.realpath(__file__)))
import peerlib  # noqa: E402

PERIOD = (1 << 20) + 7  # the stream repeats after this many bytes
CHUNK = 65536
RCHUNK = 262144
DEADLINE = 30.0  # a peer gives up after this long (a hang)
AFTER = 10.0  # after its steps, a peer waits this long for the end

# A peer that stops reading for 4.5 s after the steps given, and meanwhile
# samples the CPU the agent and the proxy use (from 2.5 s to 4.5 s: the
# other side has done what it does by then)
PAUSE_C = "%snord,sleep:2.5,cpu0,sleep:2,cpu1,rd,waiteof"
PAUSE_S = PAUSE_C

# Each case: client steps, server steps, and what must hold.
#   c2s/s2c: "exact" (every byte sent arrived, nothing else),
#            "prefix" (what arrived is a correct prefix of what was sent),
#            "any"    (the receiver may not even have seen the connection)
#   c_end/s_end: how each side's read side may end: eof, reset (or another
#            error name), closed (the peer closed first, on purpose),
#            timeout (never: a hang).  A side that is still writing when
#            a reset comes may meet it on a write, and its read then sees
#            eof: only a side that only reads must see the reset itself.
#   c_within/s_within: seconds from the other side's last act (rst/close/
#            fin) to this side seeing the end (read side or a write error)
#   c_wr_err: the client's last writes must fail (the path is dead)
CASES = {
    # a. the client half-closes first; the upstream keeps sending after it
    "a1": dict(client="send:1M,fin,waiteof",
               server="send:1M,waiteof,send:4M,fin",
               c2s="exact", s2c="exact", c_end={"eof"}, s_end={"eof"}),
    # a, with a client that stops reading for 4.5 s after its FIN while the
    # upstream sends and ends: where the bytes pile up (whose pipe is full
    # when the FIN comes) depends on the amount: 1 MiB fills the agent's,
    # 8 MiB the proxy's
    "a2": dict(client=PAUSE_C % "send:256K,fin,", server="waiteof,send:1M,fin",
               c2s="exact", s2c="exact", c_end={"eof"}, s_end={"eof"},
               rcvbuf=8192),
    "a3": dict(client=PAUSE_C % "send:256K,fin,", server="waiteof,send:8M,fin",
               c2s="exact", s2c="exact", c_end={"eof"}, s_end={"eof"},
               rcvbuf=8192),
    # b. the upstream half-closes first; the client keeps sending after it
    "b1": dict(client="send:1M,waiteof,send:4M,fin",
               server="send:1M,fin,waiteof",
               c2s="exact", s2c="exact", c_end={"eof"}, s_end={"eof"}),
    # b, with an upstream that stops reading for 4.5 s after its FIN while
    # the client sends and ends (the proxy's pipe fills)
    "b2": dict(client="waiteof,send:1M,fin", server=PAUSE_S % "fin,",
               c2s="exact", s2c="exact", c_end={"eof"}, s_end={"eof"}),
    # c. both at once, with data and without
    "c1": dict(client="send:2M,fin,waiteof", server="send:2M,fin,waiteof",
               c2s="exact", s2c="exact", c_end={"eof"}, s_end={"eof"}),
    "c2": dict(client="fin,waiteof", server="fin,waiteof",
               c2s="exact", s2c="exact", c_end={"eof"}, s_end={"eof"}),
    # d. the client resets: in the middle of a stream both ways; after its
    # own FIN, the upstream silent; while idle
    "d1": dict(client="send:512K,waitrx:512K,rst", server="stream:15",
               c2s="prefix", s2c="prefix", c_end={"closed"},
               s_end={"eof", "reset"}, s_within=5),
    "d2": dict(client="send:64K,fin,sleep:0.5,rst", server="waiteof,hold:20",
               c2s="exact", s2c="exact", c_end={"closed"}, s_end={"eof"},
               hold="server"),
    "d3": dict(client="waitrx:16,rst", server="send:16,waiteof",
               c2s="exact", s2c="exact", c_end={"closed"},
               s_end={"reset"}, s_within=5),
    # d, the client streams at an upstream that stops reading, then resets
    # (the agent's pipe toward the upstream is full)
    "d4": dict(client="stream:2,rst", server=PAUSE_S % "",
               c2s="prefix", s2c="exact", c_end={"closed"},
               s_end={"eof", "reset"}),
    # e. the upstream resets: in the middle of a stream both ways; after
    # its own FIN, the client silent (then it writes: that must fail);
    # at once
    "e1": dict(client="stream:15", server="send:512K,waitrx:512K,rst",
               c2s="prefix", s2c="prefix", c_end={"eof", "reset"},
               s_end={"closed"}, c_within=5),
    "e2": dict(client="waiteof,hold:20,stream:5",
               server="send:256K,fin,sleep:0.5,rst",
               c2s="prefix", s2c="exact", c_end={"eof"}, s_end={"closed"},
               c_wr_err=True, hold="client"),
    "e3": dict(client="waiteof", server="rst",
               c2s="prefix", s2c="exact", c_end={"reset"},
               s_end={"closed"}, c_within=5),
    # e, the upstream streams at a client that stops reading, then resets
    # (the proxy's pipe toward the client is full)
    "e4": dict(client=PAUSE_C % "", server="stream:2,rst",
               c2s="exact", s2c="prefix", c_end={"eof", "reset"},
               s_end={"closed"}),
    # f. the client closes (unread bytes: the kernel resets) while the
    # upstream still sends a lot; and after its own FIN
    "f1": dict(client="send:64K,waitrx:1M,close", server="stream:15",
               c2s="prefix", s2c="prefix", c_end={"closed"},
               s_end={"eof", "reset"}, s_within=5),
    "f2": dict(client="send:64K,fin,waitrx:1M,close", server="stream:15",
               c2s="exact", s2c="prefix", c_end={"closed"},
               s_end={"eof"}, s_within=5),
    # g. the proxy goes away (the script stops it after "mark"): an idle
    # relay, and one the upstream streams into
    "g1": dict(client="send:64K,waitrx:64K,mark,waiteof",
               server="send:64K,waiteof",
               c2s="exact", s2c="exact", c_end={"eof", "reset"},
               s_end={"eof", "reset"}, stop_within=5),
    "g2": dict(client="waitrx:256K,mark,waiteof", server="stream:25",
               c2s="exact", s2c="prefix", c_end={"eof", "reset"},
               s_end={"eof", "reset"}, stop_within=5),
}


size = peerlib.size_arg


def now():
    return time.time()


def stream(seed):
    """The bytes of one direction: a seeded pattern, repeated."""
    return peerlib.periodic(seed, PERIOD)


def ticks(pid):
    try:
        return peerlib.cpu_ticks(pid)
    except (OSError, ValueError, IndexError):
        return None


def ename(e):
    if isinstance(e, ConnectionResetError):
        return "reset"
    return peerlib.err_name(e, plain=str, unknown=lambda x: str(x.errno))


class Peer:
    """One end of a connection running its steps."""

    def __init__(self, sock, role, cid, steps, txseed, rxseed, watch, d):
        self.s = sock
        self.role = role
        self.id = cid
        self.steps = [x for x in steps.split(",") if x]
        self.tx = peerlib.Source(stream(txseed))
        self.rx = peerlib.Sink(stream(rxseed))
        self.watch = watch
        self.dir = d
        self.r = dict(id=cid, role=role, steps=steps, tx=0, rx=0, rx_ok=True,
                      rx_end=None, rx_end_at=None, wr_err=None,
                      wr_err_at=None, fin_at=None, rst_at=None,
                      close_at=None, cpu={}, err=None, done=0,
                      t0=now())
        self.reading = True
        self.closed = False
        self.sent = 0  # in the current send step
        self.t_step = None
        self.cpu0 = None
        self.entered = -1  # the step whose entry action ran

    # ---- i/o

    def do_read(self):
        try:
            b = self.s.recv(RCHUNK)
        except BlockingIOError:
            return
        except OSError as e:
            self.end_rx(ename(e))
            return
        if not b:
            self.end_rx("eof")
            return
        self.rx.feed(b)
        if self.rx.bad_at is not None:
            self.r["rx_ok"] = False
        self.r["rx"] += len(b)

    def end_rx(self, how):
        if self.r["rx_end"] is None:
            self.r["rx_end"] = how
            self.r["rx_end_at"] = now()

    def do_write(self, limit):
        try:
            n = self.s.send(self.tx.peek(min(limit, CHUNK)))
        except BlockingIOError:
            return 0
        except OSError as e:
            if self.r["wr_err"] is None:
                self.r["wr_err"] = ename(e)
                self.r["wr_err_at"] = now()
            return -1
        self.tx.off += n
        self.r["tx"] += n
        return n

    def close(self, key, linger0=False):
        if self.closed:
            return
        t = now()  # before the act: the other side reacts to it
        if linger0:
            peerlib.reset(self.s)
        else:
            self.s.close()
        self.closed = True
        self.r[key] = t
        if self.r["rx_end"] is None:
            self.r["rx_end"] = "closed"

    def cpu(self):
        return {k: ticks(p) for k, p in self.watch.items()}

    # ---- steps

    def step(self, st, t_in):
        """Advance step st.  Returns (done, wants_write)."""
        name, _, arg = st.partition(":")
        rx_end = self.r["rx_end"]
        if name == "send":
            left = size(arg) - self.sent
            if left <= 0:
                return True, False
            return False, True
        if name == "stream":
            if (t_in >= float(arg) or self.r["wr_err"] is not None or
                    rx_end not in (None, "eof")):
                return True, False
            return False, True
        if name == "fin":
            self.r["fin_at"] = now()
            try:
                self.s.shutdown(socket.SHUT_WR)
            except OSError as e:
                self.r["err"] = "fin: " + ename(e)
            return True, False
        if name == "rst":
            self.close("rst_at", linger0=True)
            return True, False
        if name == "close":
            self.close("close_at")
            return True, False
        if name == "waiteof":
            return rx_end is not None, False
        if name == "waitrx":
            if self.r["rx"] >= size(arg):
                return True, False
            if rx_end is not None:
                raise RuntimeError("ended after %d bytes, waiting for %s" %
                                   (self.r["rx"], arg))
            return False, False
        if name == "sleep":
            return t_in >= float(arg), False
        if name == "nord":
            self.reading = False
            return True, False
        if name == "rd":
            self.reading = True
            return True, False
        if name == "cpu0":
            self.cpu0 = (now(), self.cpu())
            return True, False
        if name == "cpu1":
            t0, c0 = self.cpu0
            c1 = self.cpu()
            self.r["cpu"] = {k: dict(ticks=(c1[k] - c0[k]) if None not in
                                     (c0[k], c1[k]) else None,
                                     secs=round(now() - t0, 3))
                             for k in c1}
            return True, False
        if name == "mark":
            open(os.path.join(self.dir, "mark-%s" % self.id), "w").close()
            return True, False
        if name == "hold":
            if self.entered != self.r["done"]:
                self.entered = self.r["done"]
                open(os.path.join(self.dir, "held-%s-%s" % (self.id, self.role)),
                     "w").close()
            rel = os.path.exists(os.path.join(self.dir, "release-%s" % self.id))
            return rel or t_in >= float(arg), False
        raise RuntimeError("unknown step " + st)

    def run(self):
        self.s.setblocking(False)
        start = time.monotonic()
        deadline = start + DEADLINE
        i = 0
        t_start = start
        after = None
        try:
            while True:
                mono = time.monotonic()
                if mono > deadline:
                    self.r["err"] = "deadline in step %d" % i
                    break
                if self.closed:
                    break
                want_w = False
                if i < len(self.steps):
                    done, want_w = self.step(self.steps[i], mono - t_start)
                    if done:
                        i += 1
                        self.r["done"] = i
                        t_start = time.monotonic()
                        self.sent = 0
                        continue
                else:
                    # steps done: wait for the read side to end, then close
                    if self.r["rx_end"] is not None:
                        break
                    if after is None:
                        after = mono + AFTER
                    elif mono > after:
                        self.end_rx("timeout")
                        break
                rl = [self.s] if (self.reading and
                                  self.r["rx_end"] is None) else []
                wl = [self.s] if want_w else []
                r, w, _ = select.select(rl, wl, [], 0.05)
                if r:
                    self.do_read()
                if w:
                    name, _, arg = self.steps[i].partition(":")
                    left = size(arg) - self.sent if name == "send" else CHUNK
                    n = self.do_write(left)
                    if n > 0:
                        self.sent += n
                    elif n < 0 and name == "send":
                        raise RuntimeError("write failed: " +
                                           self.r["wr_err"])
        except RuntimeError as e:
            self.r["err"] = "step %d (%s): %s" % (i, self.steps[i], e)
        except OSError as e:
            self.r["err"] = "step %d: %s" % (i, e)
        if not self.closed:
            self.close("close_at")
        return self.r


def parse_watch(s):
    w = {}
    for x in (s or "").split(","):
        if "=" in x:
            k, v = x.split("=", 1)
            if v.isdigit():
                w[k] = int(v)
    return w


# ------------------------------------------------------------- server

def serve_one(conn, log, d):
    cid = "?"
    try:
        conn.settimeout(10)
        head = b""
        while b"\n" not in head:
            b = conn.recv(1024, socket.MSG_PEEK)
            if not b or len(b) >= 1024 and b"\n" not in b:
                raise OSError("no header")
            if b"\n" in b:
                head = conn.recv(b.index(b"\n") + 1)
                break
            time.sleep(0.01)
        w = head.decode().split()
        if len(w) < 3 or w[0] != "#AE1":
            raise OSError("bad header %r" % head[:80])
        cid, steps = w[1], w[2]
        watch = parse_watch(w[3] if len(w) > 3 else "")
        r = Peer(conn, "server", cid, "" if steps == "-" else steps,
                 "s2c:" + cid, "c2s:" + cid, watch, d).run()
    except OSError as e:
        r = dict(id=cid, role="server", err="header: %s" % e)
        conn.close()
    peerlib.append_line(log, "DONE %s" % json.dumps(r))


def serve(a):
    ls = peerlib.listen_tcp(a.addr, a.port)
    peerlib.write_ready(a.ready, "ok\n")
    peerlib.accept_forever([(ls, None)],
                           lambda c, peer, tag, n: serve_one(c, a.log, a.dir))


# ------------------------------------------------------------- client

def run(a):
    c = CASES[a.case]
    watch = parse_watch(a.watch)
    s = peerlib.tcp_socket(c.get("rcvbuf"))
    r = None
    try:
        s.connect((a.addr, a.port))
        s.sendall(("#AE1 %s %s %s\n" % (a.id, c["server"] or "-", a.watch or
                                       "-")).encode())
    except OSError as e:
        r = dict(id=a.id, role="client", err="connect: %s" % e)
    if r is None:
        r = Peer(s, "client", a.id, c["client"], "c2s:" + a.id,
                 "s2c:" + a.id, watch, a.dir).run()
    r["case"] = a.case
    print(json.dumps(r))
    return 0


# ------------------------------------------------------------- verify

def verify(a):
    c = CASES[a.case]
    with open(a.client) as f:
        cr = json.load(f)

    def server_record():  # the last the upstream logged of this ID
        m = [x for x in peerlib.read_json_lines(a.log, "DONE ", skip_bad=False)
             if x.get("id") == a.id]
        return m[-1] if m else None

    sr = peerlib.wait_until(server_record, a.wait, done=lambda x: x is not None)
    bad = []
    if sr is None:
        if c["c2s"] != "any":
            bad.append("the upstream never finished the connection")
        sr = {}
    for who, r in (("client", cr), ("server", sr)):
        if r.get("err"):
            bad.append("%s: %s" % (who, r["err"]))

    def direction(name, snd, rcv, how):
        tx, rx, ok = snd.get("tx", 0), rcv.get("rx", 0), rcv.get("rx_ok", True)
        if not ok:
            bad.append("%s: bytes changed (the receiver's copy differs)" % name)
        if how == "exact" and rx != tx:
            bad.append("%s: %d bytes sent, %d arrived" % (name, tx, rx))
        if how in ("prefix", "any") and rx > tx:
            bad.append("%s: %d bytes sent, %d arrived (added)" % (name, tx, rx))
        return "%s %d/%d%s" % (name, rx, tx, "" if ok else " CHANGED")

    info = [direction("c2s", cr, sr, c["c2s"]),
            direction("s2c", sr, cr, c["s2c"])]
    ce, se = cr.get("rx_end"), sr.get("rx_end")
    if ce not in c["c_end"]:
        bad.append("client read side ended by %s, want %s" %
                   (ce, "/".join(sorted(c["c_end"]))))
    if sr and se not in c["s_end"]:
        bad.append("upstream read side ended by %s, want %s" %
                   (se, "/".join(sorted(c["s_end"]))))
    info.append("client end %s, upstream end %s" % (ce, se))

    def seen(r, t0):  # when a side first saw the end, at or after t0
        t = []
        if r.get("rx_end") not in (None, "closed", "timeout"):
            t.append(r.get("rx_end_at"))
        t.append(r.get("wr_err_at"))
        t = [x for x in t if x is not None and t0 is not None and x >= t0]
        return min(t) if t else None

    def last_act(r):
        t = [x for x in (r.get("rst_at"), r.get("close_at"), r.get("fin_at"))
             if x is not None]
        return max(t) if t else None

    for key, who, r, other in (("c_within", "client", cr, sr),
                               ("s_within", "upstream", sr, cr)):
        if key not in c:
            continue
        t0 = last_act(other)
        t1 = seen(r, t0)
        if t0 is None or t1 is None:
            bad.append("%s: no time to compare (%s, %s)" % (who, t0, t1))
        else:
            info.append("%s saw the end %.2f s after the other side's act" %
                        (who, t1 - t0))
            if t1 - t0 > c[key]:
                bad.append("%s saw the end %.2f s late" % (who, t1 - t0))
    if c.get("stop_within"):
        t1 = cr.get("rx_end_at")
        if a.stop_at is None or t1 is None:
            bad.append("no time to compare for the stop (%s, %s)" %
                       (a.stop_at, t1))
        else:
            info.append("client saw the end %.2f s after the stop began" %
                        (t1 - a.stop_at))
            if t1 - a.stop_at > c["stop_within"]:
                bad.append("the client saw the end %.2f s after the stop" %
                           (t1 - a.stop_at))
    if c.get("c_wr_err") and not cr.get("wr_err"):
        bad.append("the client's writes to a dead path did not fail")
    if c.get("c_wr_err"):
        info.append("client write error %s" % cr.get("wr_err"))
    for who, r in (("client", cr), ("upstream", sr)):
        for k, v in (r.get("cpu") or {}).items():
            t, secs = v.get("ticks"), v.get("secs") or 1
            hz = os.sysconf("SC_CLK_TCK")
            info.append("%s's pause: %s used %s ticks in %.1f s" %
                        (who, k, t, secs))
            if t is None or t > 0.1 * hz * secs:
                bad.append("while the %s paused, %s used %s ticks in %.1f s "
                           "(a busy core: %d)" % (who, k, t, secs, hz * secs))
    print("; ".join(info))
    for b in bad:
        print("BAD " + b)
    if bad:
        print("client: " + json.dumps(cr))
        print("server: " + json.dumps(sr))
    return 1 if bad else 0


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("serve")
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--ready")
    p = sub.add_parser("run")
    p.add_argument("--case", required=True, choices=sorted(CASES))
    p.add_argument("--id", required=True)
    p.add_argument("--addr", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--watch")
    p = sub.add_parser("verify")
    p.add_argument("--case", required=True, choices=sorted(CASES))
    p.add_argument("--id", required=True)
    p.add_argument("--client", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--wait", type=float, default=10)
    p.add_argument("--stop-at", type=float)
    sub.add_parser("cases")
    a = ap.parse_args()
    if a.cmd == "serve":
        return serve(a)
    if a.cmd == "run":
        return run(a)
    if a.cmd == "verify":
        return verify(a)
    print("\n".join(CASES))
    return 0


if __name__ == "__main__":
    sys.exit(main())
