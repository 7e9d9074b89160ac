# SPDX-License-Identifier: GPL-2.0-or-later
# report.py --res DIR --out DIR: turn the bench's raw figures into
# OUT/latest.md (tables of medians with ratios to direct and to Squid) and
# OUT/latest.dat, OUT/latest-growth.dat (inputs of chart.gp).
#
# Input, all written by ci/bench.sh under --res:
#   raw.tsv      target, metric, run, value (one figure of one run)
#   growth.tsv   series, point, metric, run, value
#   meta.txt     "key text" lines (date, machine, params, versions, order)
#   checks.txt   one line per target: what the upstream saw
#   skipped.txt  target, reason
#   notes.txt    free lines added to the report
import argparse
import os
import statistics
import sys

# the Squid a target is compared with: a tunnel with a tunnel, TLS
# interception with ssl-bump
SQUID_OF = {
    "spx-tunnel": "squid-tunnel",
    "spx-transparent": "squid-tunnel",
    "tinyproxy": "squid-tunnel",
    "squid-tunnel": "squid-tunnel",
    "spx-intercept": "squid-bump",
    "squid-bump": "squid-bump",
    "mitmproxy": "squid-bump",
}
# direct's figure under hey, for the rates of the explicit proxies
HEY_OF = {"ka_rps": "ka_hey_rps", "nc_rps": "nc_hey_rps"}
MODE = {
    "direct": "none (physical limit)",
    "spx-tunnel": "explicit, tunnel",
    "spx-intercept": "explicit, TLS intercepted",
    "spx-transparent": "transparent (agent), tunnel",
    "squid-tunnel": "explicit, tunnel",
    "squid-bump": "explicit, TLS intercepted",
    "tinyproxy": "explicit, tunnel",
    "mitmproxy": "explicit, TLS intercepted",
}


def read_tsv(path, ncols):
    rows = []
    if not os.path.exists(path):
        return rows
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) == ncols:
                rows.append(p)
    return rows


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def medians(rows, keylen):
    """rows of (key..., metric, run, value) -> {key: {metric: median}}"""
    acc = {}
    for r in rows:
        key = tuple(r[:keylen]) if keylen > 1 else r[0]
        v = num(r[keylen + 2])
        if v is None:
            continue
        acc.setdefault(key, {}).setdefault(r[keylen], []).append(v)
    out = {}
    for key, ms in acc.items():
        out[key] = {m: statistics.median(vs) for m, vs in ms.items()}
        out[key]["_runs"] = {m: vs for m, vs in ms.items()}
    return out


def fmt(v, digits=None):
    if v is None:
        return "-"
    if digits is not None:
        return "%.*f" % (digits, v)
    a = abs(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    return "%.2f" % (a / b)


# The performance targets slicer-proxy is held to, in the order of its
# README: (what, target, metric, reference target, reference metric,
# scale, "min" or "max", limit, unit).  With a reference the figure is
# the ratio target/reference of the same run; scale turns the raw figure
# into the unit (CPU s per 10k requests x 100 = us per request).
TARGETS = [
    ("tunnel keep-alive rate", "spx-tunnel", "ka_rps", "direct", "ka_hey_rps", 1, "min", 0.95, "x direct"),
    ("tunnel CPU per keep-alive request", "spx-tunnel", "ka_cpu10k", None, None, 100, "max", 15, "us"),
    ("tunnel CPU per new connection", "spx-tunnel", "nc_cpu10k", None, None, 100, "max", 150, "us"),
    ("tunnel bulk rate", "spx-tunnel", "bulk_mbs", "direct", "bulk_mbs", 1, "min", 0.95, "x direct"),
    ("tunnel CPU per GB", "spx-tunnel", "bulk_cpugb", None, None, 1, "max", 0.3, "s"),
    ("intercepted keep-alive rate", "spx-intercept", "ka_rps", "direct", "ka_hey_rps", 1, "min", 0.8, "x direct"),
    ("intercepted CPU per keep-alive request", "spx-intercept", "ka_cpu10k", None, None, 100, "max", 25, "us"),
    ("CPU per new intercepted connection", "spx-intercept", "nc_cpu10k", None, None, 0.1, "max", 0.6, "ms"),
    ("intercepted bulk rate", "spx-intercept", "bulk_mbs", "direct", "bulk_mbs", 1, "min", 0.8, "x direct"),
    ("transparent keep-alive rate", "spx-transparent", "ka_rps", "spx-tunnel", "ka_rps", 1, "min", 0.9, "x tunnel"),
    ("agent CPU per keep-alive request", "spx-transparent", "ka_agentcpu10k", None, None, 100, "max", 10, "us"),
    ("proxy idle RSS", "spx-tunnel", "rss_start", None, None, 1, "max", 5, "MiB"),
    ("RSS per idle tunnel (5,000)", "spx-tunnel", "tun5000_kib", None, None, 1, "max", 20, "KiB"),
    ("idle tunnels that failed (5,000)", "spx-tunnel", "tun5000_failed", None, None, 1, "max", 0, ""),
]


def target_runs(med, t, m, rt, rm, scale):
    """per-run figures of one target (ratios pair runs of the same index)"""
    vs = med.get(t, {}).get("_runs", {}).get(m)
    if not vs:
        return []
    if rt is None:
        return [v * scale for v in vs]
    rs = med.get(rt, {}).get("_runs", {}).get(rm) or []
    return [v / r * scale for v, r in zip(vs, rs) if r]


def targets_section(med, grows):
    """the targets with this run's median, its runs' range and how many
    runs met each"""
    L = ["## Targets", "",
         "Each target with the median of this run's figures, the range over its"
         " runs and how many runs met it (ratios pair the runs of the same index)."
         " A target met by some runs and not others is on the line: the machine's"
         " noise decides it.", "",
         "| target | limit | median | runs | runs met | |",
         "|---|--:|--:|--:|--:|---|"]
    for what, t, m, rt, rm, scale, kind, limit, unit in TARGETS:
        vs = target_runs(med, t, m, rt, rm, scale)
        if not vs:
            continue
        ok = [(v >= limit) if kind == "min" else (v <= limit) for v in vs]
        mv = statistics.median(vs)
        mok = mv >= limit if kind == "min" else mv <= limit
        verdict = ("met" if all(ok) else "on the line" if any(ok) or mok
                   else "not met")
        L.append("| %s | %s %g%s | %s | %s | %d of %d | %s |" % (
            what, ">=" if kind == "min" else "<=", limit, " " + unit if unit else "",
            fmt(mv), fmt(vs[0]) if len(vs) == 1 else "%s-%s" % (fmt(min(vs)), fmt(max(vs))),
            sum(ok), len(ok), verdict))
    if grows:
        # the rate at the last point of each growth series against its first
        gm = medians(grows, 2)
        series = {}
        for r in grows:
            series.setdefault(r[0], [])
            if r[1] not in series[r[0]]:
                series[r[0]].append(r[1])
        for sname, points in series.items():
            f, last = gm.get((sname, points[0]), {}), gm.get((sname, points[-1]), {})
            for m, what in (("tnc_rps", "tunnel new conn/s"), ("ika_rps", "intercepted KA req/s")):
                if f.get(m) and last.get(m) is not None:
                    rel = last[m] / f[m]
                    L.append("| %s at %s %s against %s | >= 0.90 x | %.2f | - | - | %s |" % (
                        what, points[-1], sname, points[0], rel,
                        "met" if rel >= 0.9 else "not met"))
    L.append("")
    return L


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    meta = {}
    if os.path.exists(os.path.join(a.res, "meta.txt")):
        with open(os.path.join(a.res, "meta.txt")) as f:
            for line in f:
                k, _, v = line.rstrip("\n").partition(" ")
                meta[k] = v
    order = meta.get("targets", "").split()
    med = medians(read_tsv(os.path.join(a.res, "raw.tsv"), 4), 1)
    skipped = {r[0]: r[1] for r in read_tsv(os.path.join(a.res, "skipped.txt"), 2)}
    for t in list(med) + list(skipped):
        if t not in order:
            order.append(t)

    def g(t, m):
        return med.get(t, {}).get(m)

    def ref(t, m):
        """direct's figure that t's figure m is a ratio to: the explicit
        proxies are loaded by hey, so their rates are compared with direct
        under hey (which costs the shared load CPU more than wrk does)"""
        if MODE.get(t, "").startswith("explicit") and m in HEY_OF:
            h = g("direct", HEY_OF[m])
            if h is not None:
                return h
        return g("direct", m)

    def sq(t, m):
        s = SQUID_OF.get(t)
        return g(s, m) if s else None

    L = []
    L.append("# slicer-proxy comparison bench")
    L.append("")
    L.append("%s; %s; kernel %s." % (meta.get("date", "?"), meta.get("machine", "?"),
                                     meta.get("kernel", "?")))
    L.append("Parameters: %s." % meta.get("params", "?"))
    L.append("CPU idle: %s." % meta.get("idle", "?"))
    wc = meta.get("wakecost", "").split()
    if len(wc) == 4:
        L.append("Cross-CPU wake-ups here (ci/bench/wakecost.c, load CPU to proxy CPU):"
                 " a sender pays %s us of CPU per token when the thread it passes"
                 " it to sleeps on the other CPU (round trip %s us), %s us when that"
                 " thread spins (round trip %s us); the difference is what each"
                 " wake-up of a sleeping proxy costs the load CPU."
                 % (wc[1], wc[0], wc[3], wc[2]))
    L.append("Versions: %s." % meta.get("versions", "?"))
    L.append("")
    L.append("Every figure is the median of the runs (see params). `xdir` is the ratio to"
             " direct under the same load tool (hey for the explicit proxies, wrk for"
             " direct and the transparent path; curl for bulk and latency);"
             " `xsq` the ratio to the Squid of the same kind (squid-tunnel for"
             " tunnels, squid-bump for TLS interception). Load tools and nginx share CPU 0,"
             " the proxy has CPU 1. CPU is the proxy's process tree (utime+stime from /proc)"
             " per 10,000 requests that reached nginx.")
    L.append("")

    L += targets_section(med, read_tsv(os.path.join(a.res, "growth.tsv"), 5))

    L.append("## Rates (higher is better)")
    L.append("")
    L.append("| target | mode | KA req/s | xdir | xsq | new conn/s | xdir | xsq | 64 MiB MB/s | xdir | xsq |")
    L.append("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    for t in order:
        if t in skipped and t not in med:
            L.append("| %s | skipped: %s |  |  |  |  |  |  |  |  |  |" % (t, skipped[t]))
            continue
        row = [t, MODE.get(t, "?") + (", wrk" if t == "direct" else "")]
        for m in ("ka_rps", "nc_rps", "bulk_mbs"):
            v = g(t, m)
            row += [fmt(v, 0), ratio(v, ref(t, m)), ratio(v, sq(t, m))]
        L.append("| " + " | ".join(row) + " |")
        if t == "direct" and g(t, "ka_hey_rps") is not None:
            row = ["direct", MODE["direct"] + ", hey"]
            for m in ("ka_hey_rps", "nc_hey_rps"):
                row += [fmt(g(t, m), 0), ratio(g(t, m), g(t, m[:2] + "_rps")), "-"]
            row += ["", "", ""]
            L.append("| " + " | ".join(row) + " |")
    L.append("")

    L.append("## Latency, CPU and memory (lower is better)")
    L.append("")
    L.append("Latency: %s, keep-alive on one connection (curl"
             " time_total, first request dropped). CPU per 10k: seconds of proxy CPU."
             " Idle RSS: after start, before any load (in brackets its private,"
             " anonymous part; the rest is shared library pages)."
             " Peak RSS: after the rate, bulk and latency runs. Per idle tunnel: RSS"
             " growth divided by the tunnels held open (CONNECT, TLS handshake, one"
             " request, then idle)." % meta.get("lat", "paced"))
    L.append("")
    stages = meta.get("tunnels", "1000,5000").split(",")
    hdr = ("| target | p50 ms | p99 ms | p50 xdir | CPU s/10k KA req | xsq |"
           " CPU s/10k new conns | xsq | CPU s/GB | idle RSS MiB (private) |"
           " peak RSS MiB |")
    sep = "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    for st in stages:
        hdr += " KiB/tunnel @%s |" % st
        sep += "--:|"
    L.append(hdr)
    L.append(sep)
    for t in order:
        if t in skipped and t not in med:
            L.append("| %s | skipped: %s |" % (t, skipped[t]) + " |" * (9 + len(stages)))
            continue
        row = [t, fmt(g(t, "lat_p50"), 3), fmt(g(t, "lat_p99"), 3),
               ratio(g(t, "lat_p50"), g("direct", "lat_p50")),
               fmt(g(t, "ka_cpu10k"), 3), ratio(g(t, "ka_cpu10k"), sq(t, "ka_cpu10k")),
               fmt(g(t, "nc_cpu10k"), 2), ratio(g(t, "nc_cpu10k"), sq(t, "nc_cpu10k")),
               fmt(g(t, "bulk_cpugb"), 2),
               "-" if g(t, "rss_start") is None else "%s (%s)" % (
                   fmt(g(t, "rss_start"), 1), fmt(g(t, "anon_start"), 1)),
               fmt(g(t, "rss_peak"), 1)]
        for st in stages:
            row.append(fmt(g(t, "tun%s_kib" % st), 1))
        L.append("| " + " | ".join(row) + " |")
    L.append("")

    agents = [t for t in order if g(t, "ka_agentcpu10k") is not None]
    if agents:
        L.append("## The agent (transparent path; runs in the vm, on the load CPU)")
        L.append("")
        hdr = ("| target | agent CPU s/10k KA req | agent CPU s/10k new conns | agent runs/KA req"
               " | agent peak RSS MiB |")
        sep = "|---|--:|--:|--:|--:|"
        for st in stages:
            hdr += " agent KiB/tunnel @%s |" % st
            sep += "--:|"
        L.append(hdr)
        L.append(sep)
        for t in agents:
            row = [t, fmt(g(t, "ka_agentcpu10k"), 3), fmt(g(t, "nc_agentcpu10k"), 2),
                   fmt(g(t, "ka_agentwakes"), 2), fmt(g(t, "agent_rss_peak"), 1)]
            for st in stages:
                row.append(fmt(g(t, "tun%s_agent_kib" % st), 1))
            L.append("| " + " | ".join(row) + " |")
        L.append("")
        # the transparent path runs under wrk, the explicit tunnel under
        # hey: besides the plain ratio of rates, the ratio of their ratios
        # to direct under the same tool
        tun = "spx-tunnel"
        for m, what in (("ka_rps", "keep-alive"), ("nc_rps", "new connections")):
            v, e = g("spx-transparent", m), g(tun, m)
            if v is None or e is None:
                continue
            same = None
            if g("direct", m) and ref(tun, m):
                same = (v / g("direct", m)) / (e / ref(tun, m))
            L.append("- %s: spx-transparent at %s of %s's rate; %s as ratios to"
                     " direct under each one's load tool (wrk, hey)." % (
                         what, ratio(v, e), tun, "-" if same is None else "%.2f" % same))
        L.append("")

    L.append("## Sanity")
    L.append("")
    L.append("Errors: failed or non-200 requests summed over all runs. Upstream conns per"
             " request: connections nginx accepted per request it served (KA should be"
             " near 0, new connections 1.0; more means a proxy dials more than it"
             " relays).")
    L.append("")
    L.append("| target | errors KA | errors new conn | errors bulk | upstream conns/req KA | upstream conns/req new | tunnels failed |")
    L.append("|---|--:|--:|--:|--:|--:|--:|")
    for t in order:
        if t not in med:
            continue
        runs = med[t]["_runs"]
        failed = sum(sum(v) for m, v in runs.items() if m.startswith("tun") and m.endswith("_failed"))
        L.append("| %s | %d | %d | %d | %s | %s | %d |" % (
            t, sum(runs.get("ka_err", [0])), sum(runs.get("nc_err", [0])),
            sum(runs.get("bulk_err", [0])), fmt(g(t, "ka_upconn"), 4),
            fmt(g(t, "nc_upconn"), 3), failed))
    L.append("")

    L.append("## Where the CPUs go (keep-alive load)")
    L.append("")
    L.append("Busy: share of the load CPU and of the proxy CPU (/proc/stat, interrupts"
             " included) during the keep-alive runs; the load CPU is the limit when it"
             " is near 1.0. Wake-ups: times the proxy's threads were put on a CPU"
             " (schedstat), per request and per new connection; each one a sender on"
             " the load CPU has to pay for. Segments: TCP segments sent and received"
             " in the vm per request.")
    L.append("")
    L.append("| target | load CPU busy | proxy CPU busy | wake-ups/KA req | wake-ups/new conn | vm segments/KA req | vm segments/new conn |")
    L.append("|---|--:|--:|--:|--:|--:|--:|")
    for t in order:
        if t not in med:
            continue
        L.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            t, fmt(g(t, "ka_loadbusy"), 2), fmt(g(t, "ka_proxybusy"), 2),
            fmt(g(t, "ka_wakes"), 2), fmt(g(t, "nc_wakes"), 2),
            fmt(g(t, "ka_vmsegs"), 2), fmt(g(t, "nc_vmsegs"), 1)))
        if t == "direct" and g(t, "ka_hey_loadbusy") is not None:
            L.append("| direct, hey | %s | %s | - | - | %s | %s |" % (
                fmt(g(t, "ka_hey_loadbusy"), 2), fmt(g(t, "ka_hey_proxybusy"), 2),
                fmt(g(t, "ka_hey_vmsegs"), 2), fmt(g(t, "nc_hey_vmsegs"), 1)))
    L.append("")

    grows = read_tsv(os.path.join(a.res, "growth.tsv"), 5)
    if grows:
        gm = medians(grows, 2)
        L.append("## Growth (slicer-proxy)")
        L.append("")
        L.append("One client with a tunnel rule (fast.bench.test) and an intercept rule"
                 " (fasti.bench.test, the same nginx; path and secret). Tunnel new conn: one request per connection; each"
                 " CONNECT checks the token against every client and decides over the"
                 " client's rules. Intercepted KA: each request inside finds its client by"
                 " name and decides over the client's rules. CPU: proxy seconds per 10k"
                 " connections / requests; `rel` is that CPU relative to the series' first"
                 " point.")
        L.append("")
        L.append("| series | count | tunnel new conn/s | CPU s/10k conns | rel |"
                 " intercepted KA req/s | CPU s/10k req | rel | note |")
        L.append("|---|--:|--:|--:|--:|--:|--:|--:|---|")
        keys = []
        for r in grows:
            k = (r[0], r[1])
            if k not in keys:
                keys.append(k)
        first = {}
        for k in keys:
            first.setdefault(k[0], gm.get(k, {}))

        def rel(k, m):
            v, f = gm.get(k, {}).get(m), first[k[0]].get(m)
            return v / f if v is not None and f else None

        for k in keys:
            m = gm.get(k, {})
            L.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                k[0], k[1], fmt(m.get("tnc_rps"), 0), fmt(m.get("tnc_cpu10k"), 2),
                fmt(rel(k, "tnc_cpu10k"), 2), fmt(m.get("ika_rps"), 0),
                fmt(m.get("ika_cpu10k"), 3), fmt(rel(k, "ika_cpu10k"), 2),
                meta.get("growth-note-%s-%s" % k, "")))
        L.append("")
        with open(os.path.join(a.out, "latest-growth.dat"), "w") as f:
            f.write("# series count tnc_rps tnc_cpu10k tnc_rel ika_rps ika_cpu10k ika_rel\n")
            for k in keys:
                m = gm.get(k, {})
                vals = [m.get("tnc_rps"), m.get("tnc_cpu10k"), rel(k, "tnc_cpu10k"),
                        m.get("ika_rps"), m.get("ika_cpu10k"), rel(k, "ika_cpu10k")]
                f.write("%s %s %s\n" % (k[0], k[1], " ".join(
                    "%.6g" % v if v is not None else "NaN" for v in vals)))

    notes = []
    if os.path.exists(os.path.join(a.res, "notes.txt")):
        with open(os.path.join(a.res, "notes.txt")) as f:
            notes = [x.rstrip("\n") for x in f if x.strip()]
    if notes:
        L.append("## Notes")
        L.append("")
        L += ["- " + x for x in notes]
        L.append("")

    if os.path.exists(os.path.join(a.res, "checks.txt")):
        L.append("## Checks (one request to /v1/echo through each target before its load)")
        L.append("")
        L.append("```")
        with open(os.path.join(a.res, "checks.txt")) as f:
            L += [x.rstrip("\n") for x in f]
        L.append("```")
        L.append("")

    L.append("## Runs")
    L.append("")
    L.append("Every run's figure, to judge the spread (the machine is noisy: do not trust"
             " differences under ~15% without a rerun).")
    L.append("")
    L.append("```")
    for t in order:
        if t not in med:
            continue
        for m in sorted(med[t]["_runs"]):
            vs = med[t]["_runs"][m]
            if len(vs) > 1:
                L.append("%-16s %-22s %s" % (t, m, " ".join(fmt(v) for v in vs)))
    L.append("```")

    with open(os.path.join(a.out, "latest.md"), "w") as f:
        f.write("\n".join(L) + "\n")

    with open(os.path.join(a.out, "latest.dat"), "w") as f:
        f.write("# target ka_xdir nc_xdir bulk_xdir ka_cpu10k nc_cpu10k\n")
        for t in order:
            if t not in med or t == "direct":
                continue

            def rx(m):
                v, d = g(t, m), ref(t, m)
                return "%.4f" % (v / d) if v is not None and d else "NaN"

            def raw(m):
                v = g(t, m)
                return "%.6g" % v if v is not None else "NaN"

            f.write("%s %s %s %s %s %s\n" % (t, rx("ka_rps"), rx("nc_rps"), rx("bulk_mbs"),
                                             raw("ka_cpu10k"), raw("nc_cpu10k")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
