# SPDX-License-Identifier: GPL-2.0-or-later
# procstat.py ROOT_PID...: CPU and memory of process trees, from /proc.
# Prints "TICKS RSS_KIB HWM_KIB NPROCS ANON_KIB NS RUNS" summed over every ROOT and all
# its descendants: TICKS is utime+stime+cutime+cstime (clock ticks; a helper
# that exited and was reaped is in its parent's cutime), NS the same CPU time
# in nanoseconds from each live thread's schedstat (a tick is 10 ms: too
# coarse for a run of a tenth of a second) plus the reaped children's ticks,
# never less than TICKS says (a thread that exited is only there), RSS is VmRSS,
# HWM is VmHWM (each process's peak; the sum is an upper bound of the
# tree's peak), ANON is RssAnon (the private part of RSS; the rest is
# shared library and file pages), RUNS the times the live threads were put on
# a CPU (schedstat's third field: about one per wake-up of an event loop).
# A root that is gone counts as nothing.
import os
import sys


def stat_fields(pid):
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    # the command name may hold spaces and parentheses: fields follow the last ')'
    return s[s.rindex(")") + 2:].split()


def status_kib(pid, key):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def task_sched(pid):
    """(CPU nanoseconds, times run) of the live threads of pid (0, 0
    without schedstat)."""
    ns = runs = 0
    try:
        tasks = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0, 0
    for t in tasks:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, t)) as f:
                v = f.read().split()
            ns += int(v[0])
            runs += int(v[2])
        except (OSError, ValueError, IndexError):
            continue
    return ns, runs


def main():
    tick_ns = 1e9 / os.sysconf("SC_CLK_TCK")
    roots = [int(x) for x in sys.argv[1:] if x.isdigit()]
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(stat_fields(int(d))[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    seen, todo = set(), list(roots)
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        todo.extend(kids.get(p, []))
    ticks = rss = hwm = n = anon = ns = runs = 0
    for p in seen:
        try:
            f = stat_fields(p)
            t = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
            r = status_kib(p, "VmRSS")
            h = status_kib(p, "VmHWM")
            a = status_kib(p, "RssAnon")
            live_ns, live_runs = task_sched(p)
            own_ns = live_ns + (int(f[13]) + int(f[14])) * tick_ns
        except (OSError, ValueError, IndexError):
            continue
        ns += max(own_ns, t * tick_ns)
        ticks += t
        rss += r
        hwm += h
        anon += a
        runs += live_runs
        n += 1
    print(ticks, rss, hwm, n, anon, int(ns), runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
