#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""sockopts.py [--min N] PID...: TCP_NODELAY of every connected TCP socket
the processes hold, read from copies of their descriptors (pidfd_getfd(2),
root).  Prints a line per socket and a summary; exits 1 when fewer than N
connected sockets were found or any lacks TCP_NODELAY, 2 on other errors.
Listening and unconnected sockets are left out.  Nothing is written to the
sockets: the copies are only queried, then closed."""
import argparse
import ctypes
import errno
import os
import socket
import sys

SYS_PIDFD_GETFD = 438  # x86_64 and the generic table alike
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def fd_copy(pidfd, fd):
    r = libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
    if r < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))
    return r


def scan(pid):
    """(description, nodelay) for each connected TCP socket of pid"""
    out = []
    pidfd = os.pidfd_open(pid)
    try:
        for name in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"):
                    continue
                dup = fd_copy(pidfd, int(name))
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.EBADF):
                    continue  # closed meanwhile
                raise
            s = socket.socket(fileno=dup)
            try:
                if s.family not in (socket.AF_INET, socket.AF_INET6) or \
                        s.type != socket.SOCK_STREAM:
                    continue
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    continue
                try:
                    peer = s.getpeername()
                except OSError:
                    continue  # not connected (yet, or any more)
                nd = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
                out.append((f"pid {pid} fd {name} {s.getsockname()[:2]} -> {peer[:2]}", nd))
            finally:
                s.close()
    finally:
        os.close(pidfd)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--min", type=int, default=1)
    ap.add_argument("pids", type=int, nargs="+")
    a = ap.parse_args()
    try:
        found = [x for p in a.pids for x in scan(p)]
    except OSError as e:
        print(f"sockopts: {e}", file=sys.stderr)
        return 2
    bad = 0
    for desc, nd in found:
        print(f"{desc} nodelay={nd}")
        bad += nd == 0
    print(f"connected={len(found)} without_nodelay={bad}")
    return 1 if bad or len(found) < a.min else 0


if __name__ == "__main__":
    sys.exit(main())
