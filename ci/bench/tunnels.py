# SPDX-License-Identifier: GPL-2.0-or-later
# Idle tunnels for the bench's memory figures.  Opens connections in stages
# (cumulative totals, e.g. 1000,5000); each one is a CONNECT through the
# proxy (or a direct TCP connection when --proxy is not given), a TLS
# handshake with the upstream name, one GET answered in full, then nothing:
# the state a pooled keep-alive connection leaves in a proxy, including
# both TLS sessions of an intercepting one.  After each stage it writes
# DIR/stage-N ("opened failed seconds") and waits for DIR/go-N; after the
# last it waits for DIR/release.  A stage gives up after --stage-secs (what
# is still opening counts as failed); every wait is bounded by --max-secs.
# DIR/pid holds its PID (it runs behind namespace wrappers).
import argparse
import asyncio
import base64
import os
import ssl
import sys
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--proxy", help="HOST:PORT of an explicit proxy")
    p.add_argument("--auth", help="token: Proxy-Authorization Basic proxy:TOKEN")
    p.add_argument("--host", default="fast.bench.test")
    p.add_argument("--port", type=int, default=443)
    p.add_argument("--path", default="/v1/small")
    p.add_argument("--stages", default="1000,5000")
    p.add_argument("--dir", required=True)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--timeout", type=float, default=20.0)
    p.add_argument("--stage-secs", type=float, default=90.0,
                   help="a stage gives up on what is still opening after this")
    p.add_argument("--max-secs", type=float, default=300.0)
    return p.parse_args()


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    if len(head) > 65536:
        raise ValueError("head too long")
    return head


def content_length(head):
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            return int(v.strip())
    return 0


async def open_one(a, ctx, held):
    if a.proxy:
        ph, _, pp = a.proxy.rpartition(":")
        reader, writer = await asyncio.open_connection(ph, int(pp))
        req = "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n" % (a.host, a.port, a.host, a.port)
        if a.auth:
            cred = base64.b64encode(("proxy:" + a.auth).encode()).decode()
            req += "Proxy-Authorization: Basic %s\r\n" % cred
        writer.write((req + "\r\n").encode())
        head = await read_head(reader)
        if not head.split(b"\r\n", 1)[0].split(b" ")[1:2] == [b"200"]:
            writer.close()
            raise ValueError("CONNECT answered %r" % head[:40])
        await writer.start_tls(ctx, server_hostname=a.host)
    else:
        reader, writer = await asyncio.open_connection(a.host, a.port, ssl=ctx,
                                                       server_hostname=a.host)
    writer.write(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (a.path, a.host)).encode())
    head = await read_head(reader)
    if not head.startswith(b"HTTP/1.1 200"):
        writer.close()
        raise ValueError("GET answered %r" % head[:40])
    await reader.readexactly(content_length(head))
    held.append(writer)


async def stage(a, ctx, held, n):
    sem = asyncio.Semaphore(a.concurrency)
    failed = 0

    async def one():
        nonlocal failed
        async with sem:
            try:
                await asyncio.wait_for(open_one(a, ctx, held), a.timeout)
            except (OSError, ValueError, asyncio.TimeoutError,
                    asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
                failed += 1

    tasks = [asyncio.ensure_future(one()) for _ in range(n)]
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=a.stage_secs)
        for t in pending:
            t.cancel()
        failed += len(pending)
        if pending:
            await asyncio.wait(pending, timeout=5)
    return failed


async def wait_file(path, deadline):
    while time.monotonic() < deadline and not os.path.exists(path):
        await asyncio.sleep(0.05)


async def main():
    a = parse_args()
    deadline = time.monotonic() + a.max_secs
    with open(os.path.join(a.dir, "pid"), "w") as f:
        f.write("%d\n" % os.getpid())
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    held = []
    total = 0
    for want in [int(x) for x in a.stages.split(",")]:
        t0 = time.monotonic()
        failed = await stage(a, ctx, held, max(0, want - total))
        total = want
        with open(os.path.join(a.dir, "stage-%d.tmp" % want), "w") as f:
            f.write("%d %d %.2f\n" % (len(held), failed, time.monotonic() - t0))
        os.rename(os.path.join(a.dir, "stage-%d.tmp" % want),
                  os.path.join(a.dir, "stage-%d" % want))
        await wait_file(os.path.join(a.dir, "go-%d" % want), deadline)
    await wait_file(os.path.join(a.dir, "release"), deadline)
    for w in held:
        w.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
