#!/usr/bin/env python3
"""Prints the Markdown of `bash bench/run.sh daemon`: in-process against
through qmgrd, medians and ratios.

Inputs: the per-run figures (TSV: case, mode, run, metric, value; modes
`inproc` and `qmgrd`, and for case `rss` the moment the memory was read)
and the machine and version facts (key=value lines). Standard library
only. With --out the Markdown goes to that file as well.
"""

import argparse
import csv
import statistics
import sys

MIB = 1024 * 1024
RSS_GOAL_KIB = 4 * 1024


def read_machine(path):
    facts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            key, sep, value = line.rstrip("\n").partition("=")
            if sep:
                facts[key] = value
    return facts


def read_results(path):
    """{(case, mode, metric): [value of each run, in run order]}"""
    out = {}
    with open(path, encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f, delimiter="\t"), key=lambda r: int(r["run"]))
        for row in rows:
            key = (row["case"], row["mode"], row["metric"])
            out.setdefault(key, []).append(float(row["value"]))
    return out


def fmt_ns(ns):
    if ns < 1e3:
        return f"{ns:.1f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.1f} µs"
    return f"{ns / 1e6:.2f} ms"


def fmt_s(s):
    return f"{s * 1e3:.0f} ms" if s < 1 else f"{s:.3f} s"


def fmt_ratio(daemon, inproc):
    if not inproc > 0:
        return "–"
    r = daemon / inproc
    return f"{r:,.0f}×" if r >= 100 else f"{r:.1f}×" if r >= 10 else f"{r:.2f}×"


def fmt_mib(kib):
    return f"{kib / 1024:.2f} MiB"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, help="per-run TSV of bench/run.sh daemon")
    ap.add_argument("--machine", required=True, help="key=value facts of bench/run.sh daemon")
    ap.add_argument("--out", help="write the Markdown to this file too")
    a = ap.parse_args()
    m = read_machine(a.machine)
    res = read_results(a.results)

    def runs(case, mode, metric):
        return res.get((case, mode, metric), [])

    def med(case, mode, metric):
        v = runs(case, mode, metric)
        return statistics.median(v) if v else None

    out = []
    w = out.append
    w("## qmgrd: in-process against through the daemon")
    w("")
    w(
        f"`bash bench/run.sh daemon`, {m['date']}: the same C calls (`bench/daemon.c`) on a "
        "manager in the process (`qm_manager_open` with a state directory, a new one each run) "
        "and on one connected to a `qmgrd --user` (`qm_manager_connect`), the two alternating "
        "run by run after an untimed warm-up of each (whose outputs were checked by SHA-256; "
        "every run's by size). Files come from nginx on loopback "
        f"({m['nginx'].replace('nginx version: ', '')}) and land on {m['out_fs']}; both state "
        f"directories are on {m['state_fs'].split(' ')[0]}. {m['nproc']} cores ({m['cpu']}), "
        f"{m['kernel']}; {m['qmgrd']}. The CPUs were {m['busy_before']}% busy with other "
        f"work just before; load average {m['load_before']} before, {m['load_after']} after."
    )
    w("")

    def timed_table(case, unit_rows, part_rows=()):
        """Rows: wall, its parts (label, in-process and qmgrd medians), the
        case's own rows (functions of the wall time), CPU, others, every run."""
        w("| | in-process | through qmgrd | qmgrd / in-process |")
        w("|---|---:|---:|---:|")
        i, d = med(case, "inproc", "seconds"), med(case, "qmgrd", "seconds")
        w(f"| wall time | {fmt_s(i)} | {fmt_s(d)} | {fmt_ratio(d, i)} |")
        for label, pi, pd in part_rows:
            w(f"| {label} | {fmt_s(pi)} | {fmt_s(pd)} | {fmt_ratio(pd, pi)} |")
        for label, f in unit_rows:
            w(f"| {label} | {f(i)} | {f(d)} | |")
        ci, cd = med(case, "inproc", "cpu_s"), med(case, "qmgrd", "cpu_s")
        w(f"| CPU: the client's user + system, and qmgrd's | {ci:.2f} s | {cd:.2f} s | {fmt_ratio(cd, ci)} |")
        oi, od = med(case, "inproc", "others_pct"), med(case, "qmgrd", "others_pct")
        w(f"| other processes meanwhile (% of a CPU) | {oi:.0f}% | {od:.0f}% | |")
        every = [", ".join(f"{s:.3f}" for s in runs(case, mode, "seconds")) for mode in ("inproc", "qmgrd")]
        w(f"| every run (wall, s) | {every[0]} | {every[1]} | |")
        w("")

    section = 0
    if runs("jobs", "inproc", "seconds"):
        section += 1
        n = int(m["jobs"])
        w(f"### {section}. {n:,} jobs of one {int(m['small_bytes']) // 1024} KiB file each (medians of {m['runs']})")
        w("")
        w(
            "Every job created (`qm_job_create`), given its file (`qm_job_add_file`) and resumed; "
            "then each in turn waited for (`qm_job_wait`) and completed (`qm_job_complete`, which "
            "fsyncs and renames the file) and closed. Through the daemon each of those calls is "
            "one round trip; the transfers (4 jobs at once, the default) run in qmgrd."
        )
        w("")
        si, sd = med("jobs", "inproc", "submit_seconds"), med("jobs", "qmgrd", "submit_seconds")
        timed_table(
            "jobs",
            [
                ("per job", lambda s: fmt_ns(s * 1e9 / n)),
                ("jobs/s", lambda s: f"{n / s:,.0f}"),
            ],
            [("of which creating, adding and resuming them all", si, sd)],
        )

    if runs("progress", "inproc", "progress_cached_ns"):
        section += 1
        w(f"### {section}. Call latency on an idle job (median of {m['runs']} runs' medians)")
        w("")
        w("| call | in-process | through qmgrd | qmgrd / in-process |")
        w("|---|---:|---:|---:|")
        rows = [
            (
                "progress_cached_ns",
                "`qm_job_get_progress(SIZE_DONE)`, the proxy's copy of the job fresh (median over "
                f"batches of 1,000 calls, {int(m['calls']):,} calls a run)",
            ),
            (
                "progress_stale_ns",
                "the same call right after a change made by this process: the proxy fetches the "
                f"job again (`GetJob`), an uncached call ({int(m['changes']):,} a run)",
            ),
            (
                "round_trip_ns",
                "`qm_manager_get_max_active_jobs`, which a connected manager always asks the "
                "daemon (`GetSettings`): the bare round trip",
            ),
            (
                "change_ns",
                "that change, `qm_job_set_description` (`SetJob`; durable in the state "
                "directory before it returns)",
            ),
        ]
        for metric, label in rows:
            i, d = med("progress", "inproc", metric), med("progress", "qmgrd", metric)
            w(f"| {label} | {fmt_ns(i)} | {fmt_ns(d)} | {fmt_ratio(d, i)} |")
        clock = med("progress", "inproc", "clock_ns")
        w("")
        w(
            "All but the first row are timed call by call, so they include two readings of the "
            f"clock ({clock:.0f} ns). Through the daemon the copy is also refreshed once it is "
            "older than the job's notification interval (500 ms by default; a tight loop pays "
            "that round trip once per interval, which the first row's median leaves out), or by "
            "the daemon's events while a callback is set."
        )
        w("")

    if runs("transfer", "inproc", "seconds"):
        section += 1
        mib = int(m["big_bytes"]) / MIB
        size = f"{mib / 1024:.0f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"
        w(f"### {section}. One {size} file (medians of {m['big_runs']})")
        w("")
        w(
            "One job, one file from nginx, resumed, waited for and completed (fsync and rename "
            "included). The bytes move inside whichever process runs the job; the figures "
            "should agree within the noise."
        )
        w("")
        timed_table("transfer", [("throughput", lambda s: f"{mib / s:,.0f} MiB/s")])

    if runs("rss", "start", "VmRSS"):
        section += 1
        idle = m["idle_s"]
        w(f"### {section}. qmgrd's memory (goal: an idle daemon's VmRSS ≤ 4 MiB)")
        w("")
        w(
            "| qmgrd | VmRSS | its binary | shared libraries | [heap] | anonymous mappings "
            "| other | peak (VmHWM) | threads | goal |"
        )
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
        moments = [
            ("start", "a fresh one, 1 s after it serves"),
            ("one_job", f"the same after one connection and one job (one 64 KiB file, completed), then {idle} s idle"),
            ("after_cases", f"the one of the cases above, after them, then {idle} s idle"),
        ]
        for mode, label in moments:
            rss = med("rss", mode, "VmRSS")
            if rss is None:
                continue
            verdict = "met" if rss <= RSS_GOAL_KIB else f"over by {fmt_mib(rss - RSS_GOAL_KIB)}"
            parts = " | ".join(
                fmt_mib(med("rss", mode, k)) for k in ("rss_binary", "rss_libs", "rss_heap", "rss_anon_maps", "rss_other")
            )
            w(
                f"| {label} | {fmt_mib(rss)} | {parts} | {fmt_mib(med('rss', mode, 'VmHWM'))} | "
                f"{med('rss', mode, 'Threads'):.0f} | {verdict} |"
            )
        w("")
        stops = []
        for mode, who in [("one_job", "the fresh one"), ("after_cases", "the cases' one")]:
            s, rc = med("rss", mode, "stop_s"), med("rss", mode, "exit")
            if s is not None:
                stops.append(f"{who} {s:.2f} s (exit status {rc:.0f})")
        w(
            "VmRSS, VmHWM and the threads from /proc/PID/status; the resident pages by mapping "
            f"from /proc/PID/smaps: qmgrd's own (a {int(m['qmgrd_bytes']) / MIB:.1f} MiB binary), "
            "the shared libraries' (libc, ld.so), the [heap]'s (the main thread's malloc "
            "arena), and the anonymous mappings' (thread stacks, and glibc's malloc arenas of "
            "the other threads); other: [stack], [vdso] and the like. SIGTERM to exit: "
            + "; ".join(stops) + "."
        )
        w("")

    text = "\n".join(out)
    sys.stdout.write(text)
    if a.out:
        with open(a.out, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
