#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the figures bench/run.sh gathered.

Inputs: the per-run results (TSV), the machine and version facts
(key=value lines), criterion's output directory, the JSON of the
`transfer_with_poller` measurement, and an optional hand-written analysis
(Markdown, included verbatim). Standard library only.
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import sys

MIB = 1024 * 1024

SCENARIO_TITLES = {
    "big": "1. One 1 GiB file, written to the disk",
    "big_shm": "1b. One 1 GiB file, written to tmpfs",
    "small": "2. 1,000 files of 64 KiB in one job, written to the disk",
    "small_shm": "2b. 1,000 files of 64 KiB in one job, written to tmpfs",
    "limit": "3. The 1 GiB file limited to 50 MiB/s, written to the disk",
    "wan_small": "4. Over an emulated WAN (50 ms round trip): 200 files of 64 KiB in one job",
    "wan_capped": "5. Over the emulated WAN, each connection capped at 4 MiB/s: one 32 MiB file",
}

TOOL_COMMANDS = {
    "big": {
        "qmgr": "`qmgr transfer URL PATH --quiet`",
        "curl": "`curl -sS --fail -o PATH URL`",
        "wget": "`wget -q -O PATH URL`",
        "aria2c": "`aria2c -x1 -s1 -j1 --file-allocation=none -d DIR -o NAME URL`",
    },
    "small": {
        "qmgr": "`qmgr transfer URL1 PATH1 … URL1000 PATH1000 --quiet` (one job)",
        "curl": "`curl -sS --fail --remote-name-all --output-dir DIR URL1 … URL1000` (one process, one reused connection)",
        "aria2c": "`aria2c --file-allocation=none -d DIR -i LIST` (default: 5 downloads at once)",
    },
    "wan_small": {
        "qmgr": "`qmgr transfer URL1 PATH1 … URL200 PATH200 --quiet` (its defaults: 6 connections)",
        "qmgr-16": "the same with `--connections 16`",
        "curl": "`curl -sS --fail --remote-name-all --output-dir DIR URL1 … URL200` (one connection, sequential)",
        "curl-16": "`curl … --parallel --parallel-max 16 …`",
        "aria2c-16": "`aria2c -j16 --file-allocation=none -d DIR -i LIST`",
    },
    "wan_capped": {
        "qmgr": "`qmgr transfer URL PATH --quiet` (its defaults)",
        "qmgr-8": "the same with `--connections 8`",
        "curl": "`curl -sS --fail -o PATH URL`",
        "aria2c-8": "`aria2c -x8 -s8 -k1M -j1 --file-allocation=none -d DIR -o NAME URL`",
    },
    "limit": {
        "qmgr": "`qmgr transfer URL PATH --max-bandwidth 52428800 --quiet`",
        "curl": "`curl -sS --fail --limit-rate 52428800 -o PATH URL`",
        "aria2c": "`aria2c -x1 -s1 -j1 --max-download-limit=52428800 …`",
    },
}

CRITERION_BENCHES = [
    ("get_progress", "idle_1_thread", "`qm_job_get_progress(SIZE_DONE)`, idle job, one thread"),
    ("get_progress", "idle_1_thread_percent", "`qm_job_get_progress(PERCENT_DONE)`, idle job, one thread"),
    (
        "get_progress",
        "transfer_2_threads",
        "`qm_job_get_progress(SIZE_DONE)` while the job copies a file and a second thread polls the same job in a tight loop (per call, on the measuring thread)",
    ),
    ("job", "create_add_file_cancel_close", "`qm_job_create` + `qm_job_add_file` + `qm_job_cancel` + `qm_job_close`"),
    ("enum_jobs_10000", "count", "`qm_manager_enum_jobs` count query (`cap = 0`), 10,000 jobs"),
    (
        "enum_jobs_10000",
        "list_and_close",
        "`qm_manager_enum_jobs` full listing of 10,000 jobs + `qm_job_close` of the 10,000 handles",
    ),
]


def read_machine(path):
    facts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                facts[k] = v
    return facts


def read_results(path):
    runs = {}
    with open(path, encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            key = (row["scenario"], row["tool"])
            runs.setdefault(key, []).append(
                {
                    "run": int(row["run"]),
                    "wall": float(row["wall_s"]),
                    "cpu": float(row["user_s"]) + float(row["sys_s"]),
                    "user": float(row["user_s"]),
                    "sys": float(row["sys_s"]),
                    "rss": int(row["maxrss_kib"]) / 1024.0,
                    "others": int(row.get("others_pct") or 0),
                }
            )
    return runs


def summarize(runs):
    walls = [r["wall"] for r in runs]
    return {
        "n": len(runs),
        "wall": statistics.median(walls),
        "wall_min": min(walls),
        "wall_max": max(walls),
        "cpu": statistics.median([r["cpu"] for r in runs]),
        "user": statistics.median([r["user"] for r in runs]),
        "sys": statistics.median([r["sys"] for r in runs]),
        "rss": statistics.median([r["rss"] for r in runs]),
    }


def pct(ratio):
    return f"{(ratio - 1) * 100:+.1f}%"


def fmt_time_ns(ns):
    if ns < 1e3:
        return f"{ns:.1f} ns"
    if ns < 1e6:
        return f"{ns / 1e3:.2f} µs"
    if ns < 1e9:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e9:.3f} s"


def read_criterion(root, group, bench):
    path = os.path.join(root, group, bench, "new", "estimates.json")
    try:
        with open(path, encoding="utf-8") as f:
            est = json.load(f)
    except (OSError, ValueError):
        return None
    med = est["median"]
    return {
        "median": med["point_estimate"],
        "low": med["confidence_interval"]["lower_bound"],
        "high": med["confidence_interval"]["upper_bound"],
    }


def criterion_summary(root):
    """The medians of every benchmark of CRITERION_BENCHES found under root."""
    out = {}
    for group, bench, _ in CRITERION_BENCHES:
        est = read_criterion(root, group, bench)
        if est:
            out[f"{group}/{bench}"] = est
    return out


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(
        description="Writes BENCHMARKS.md. With no input options it re-renders the "
        "figures of the last run, kept in bench/results/."
    )
    ap.add_argument("--results", help="per-run TSV of bench/run.sh")
    ap.add_argument("--machine", help="key=value facts of bench/run.sh")
    ap.add_argument("--criterion", help="criterion's output directory (target/criterion)")
    ap.add_argument("--impact", help="JSON of the transfer_with_poller measurement")
    ap.add_argument("--save", help="copy the inputs (and criterion's medians) into this directory")
    ap.add_argument("--from", dest="src", default=os.path.join(here, "results"),
                    help="read the inputs kept by --save (default bench/results)")
    ap.add_argument("--analysis", default=os.path.join(here, "analysis.md"))
    ap.add_argument("--out", default=os.path.join(os.path.dirname(here), "BENCHMARKS.md"))
    a = ap.parse_args()
    if a.results is None:
        a.results = os.path.join(a.src, "results.tsv")
        a.machine = os.path.join(a.src, "machine.txt")
        a.impact = os.path.join(a.src, "impact.json")
        with open(os.path.join(a.src, "criterion.json"), encoding="utf-8") as f:
            crit_all = json.load(f)
    else:
        if not (a.machine and a.criterion and a.impact):
            ap.error("--results needs --machine, --criterion and --impact")
        crit_all = criterion_summary(a.criterion)
    if a.save:
        os.makedirs(a.save, exist_ok=True)
        for src, name in [(a.results, "results.tsv"), (a.machine, "machine.txt"), (a.impact, "impact.json")]:
            dst = os.path.join(a.save, name)
            if os.path.exists(src):
                if os.path.abspath(src) != os.path.abspath(dst):
                    shutil.copyfile(src, dst)
            elif os.path.exists(dst):
                os.remove(dst)
        with open(os.path.join(a.save, "criterion.json"), "w", encoding="utf-8") as f:
            json.dump(crit_all, f, indent=1, sort_keys=True)
            f.write("\n")

    m = read_machine(a.machine)
    runs = read_results(a.results)
    big_mib = int(m["big_bytes"]) / MIB
    small_count = int(m["small_count"])
    small_mib = small_count * int(m["small_bytes"]) / MIB
    limit_mib = int(m["limit_bytes"]) / MIB
    example = m.get("qmgr_mode") == "example"

    out = []
    w = out.append
    w("# Benchmarks")
    w("")
    w(
        "qmgr against the tools its users would otherwise pick, measured side by side "
        f"in one run of `bench/run.sh` ({m['date']}). Every figure is the median of "
        f"{m['runs']} runs per tool; the tools alternated run by run (the first tool "
        "rotating), every run downloaded into an empty directory that was deleted "
        "afterwards, and every output was checked (size on every run, SHA-256 on each "
        "tool's first run of a scenario)."
    )
    w("")
    if example:
        w(
            "**The `qmgr` CLI did not build when this ran**: the qmgr row of scenario 1 is "
            "the quickstart example (`cargo run --release --example quickstart -- URL DEST`), "
            "which polls progress every 200 ms; scenarios 2 and 3 were not measured."
        )
        w("")

    w("## Machine and versions")
    w("")
    w("| | |")
    w("|---|---|")
    for key, label in [
        ("cpu", "CPU"),
        ("nproc", "cores (nproc)"),
        ("memory", "memory"),
        ("kernel", "kernel"),
        ("os", "OS"),
        ("out_fs", "downloads written to"),
        ("busy_before", "CPU busy with other work just before measuring (HTTP / criterion)"),
        ("load_before", "load average before / after the HTTP scenarios"),
        ("qmgr", "qmgr"),
        ("qmgr_before", "qmgr-before (QMGR_BASELINE: the build compared against)"),
        ("rustc", "rustc"),
        ("curl", "curl"),
        ("wget", "wget"),
        ("aria2c", "aria2c"),
        ("nginx", "nginx (server, 127.0.0.1, `sendfile on`, 1 worker)"),
        ("hyperfine", "hyperfine"),
        ("time", "timing"),
    ]:
        v = m.get(key, "")
        if key == "qmgr_before" and not v:
            continue
        if key == "busy_before":
            v = f"{m.get('busy_before', '?')}% / {m.get('busy_before_criterion') or '–'}%"
        if key == "load_before":
            v = f"{m.get('load_before', '')} / {m.get('load_after_http', '')}"
        if key == "time":
            v = (
                f"{v}: user+sys CPU and peak RSS per run (`/usr/bin/time -f '%U %S %M'`); wall "
                "from the shell's nanosecond clock around it"
            )
        if key == "hyperfine":
            v = (
                f"{v} (installed as asked, not used for timing: it runs one command's runs "
                "back to back and reports no peak RSS, and these runs must alternate)"
            )
        w(f"| {label} | {v} |")
    w("")
    w(
        "Wall time covers the whole process: start-up, connection, transfer, and for qmgr "
        "the `fsync` of every file and of its directory and the atomic rename into place "
        "(its durability guarantee; curl, wget and aria2c do not sync). CPU is the "
        "client's user + system time; nginx's is not counted. Ratios compare qmgr with "
        "each tool: **speed** = qmgr's throughput ÷ the tool's (above 1: qmgr is faster), "
        "**CPU** and **RSS** = qmgr's ÷ the tool's (below 1: qmgr uses less)."
    )
    w("")

    def table(scenario, unit_label, unit_of):
        tools = [t for (s, t) in runs if s == scenario]
        if not tools:
            w("Not measured in this run.")
            w("")
            return None
        order = ["qmgr", "qmgr-before", "curl", "wget", "aria2c"]
        tools.sort(key=lambda t: order.index(t) if t in order else 99)
        sums = {t: summarize(runs[(scenario, t)]) for t in tools}
        q = sums.get("qmgr")
        w(
            f"| tool | wall median s (min–max) | {unit_label} | user+sys s (user / sys) | "
            "peak RSS MiB | qmgr speed ratio | qmgr CPU ratio | qmgr RSS ratio |"
        )
        w("|---|---|---|---|---|---|---|---|")
        for t in tools:
            s = sums[t]
            if q and t != "qmgr":
                speed = f"{s['wall'] / q['wall']:.2f}"
                cpu = f"{q['cpu'] / s['cpu']:.2f}" if s["cpu"] > 0 else "–"
                rss = f"{q['rss'] / s['rss']:.2f}" if s["rss"] > 0 else "–"
            else:
                speed = cpu = rss = "–"
            name = "qmgr (quickstart example)" if (t == "qmgr" and example) else t
            w(
                f"| {name} | {s['wall']:.3f} ({s['wall_min']:.3f}–{s['wall_max']:.3f}) | "
                f"{unit_of(s['wall'])} | {s['cpu']:.2f} ({s['user']:.2f} / {s['sys']:.2f}) | "
                f"{s['rss']:.1f} | {speed} | {cpu} | {rss} |"
            )
        others = [r["others"] for t in tools for r in runs[(scenario, t)]]
        w("")
        w(
            f"Other processes took {statistics.median(others):.0f}% of one CPU during the median "
            f"run of this scenario (at most {max(others)}%)."
        )
        w("")
        w("Commands:")
        w("")
        for t in tools:
            command = TOOL_COMMANDS[scenario.removesuffix("_shm")].get(t, "")
            if t == "qmgr-before":
                command = "the qmgr command above, run with the binary of `QMGR_BASELINE`"
            w(f"- {t}: {command}")
        w("")
        return sums

    w("## " + SCENARIO_TITLES["big"])
    w("")
    big = table("big", "MiB/s", lambda wall: f"{big_mib / wall:.0f}")

    w("## " + SCENARIO_TITLES["big_shm"])
    w("")
    w(
        "The same downloads into `/dev/shm`: no disk, no journal, and `fsync` costs "
        "nothing, so this is the clients' own cost."
    )
    w("")
    big_shm = table("big_shm", "MiB/s", lambda wall: f"{big_mib / wall:.0f}")

    w("## " + SCENARIO_TITLES["small"])
    w("")
    def files_rate(wall):
        return f"{small_count / wall:.0f} ({small_mib / wall:.0f})"

    small = table("small", "files/s (MiB/s)", files_rate)

    w("## " + SCENARIO_TITLES["small_shm"])
    w("")
    w("The same downloads into `/dev/shm`.")
    w("")
    small_shm = table("small_shm", "files/s (MiB/s)", files_rate)

    wan_count = int(m.get("wan_count", 0) or 0)
    wan_mib = int(m.get("wan_big_bytes", 0) or 0) / 2**20
    w("## " + SCENARIO_TITLES["wan_small"])
    w("")
    w(
        "Through `bench/wanproxy.py` on 127.0.0.1, which forwards every chunk 25 ms later "
        "in each direction: a 50 ms round trip, so every request costs at least one."
    )
    w("")
    table("wan_small", "files/s", lambda wall: f"{wan_count / wall:.0f}" if wan_count else "–")

    w("## " + SCENARIO_TITLES["wan_capped"])
    w("")
    w(
        "The same proxy, holding each connection's downstream to 4 MiB/s: one connection "
        "cannot go faster, several can."
    )
    w("")
    table("wan_capped", "MiB/s", lambda wall: f"{wan_mib / wall:.1f}" if wan_mib else "–")

    w("## " + SCENARIO_TITLES["limit"])
    w("")
    w(
        f"The limit is {limit_mib:.0f} MiB/s = {int(m['limit_bytes']):,} bytes/s; the "
        "achieved rate is the file's size over the median wall time (so it includes "
        "start-up, and for qmgr the final `fsync`)."
    )
    w("")
    limit = table(
        "limit",
        "achieved MiB/s (error vs limit)",
        lambda wall: f"{big_mib / wall:.2f} ({(big_mib / wall / limit_mib - 1) * 100:+.1f}%)",
    )

    w("## Micro-benchmarks (criterion, `cargo bench -p qmgr-bench --bench abi`)")
    w("")
    crit = {}
    rows = []
    for group, bench, what in CRITERION_BENCHES:
        est = crit_all.get(f"{group}/{bench}")
        crit[(group, bench)] = est
        if est:
            rows.append(
                f"| {what} | {fmt_time_ns(est['median'])} | "
                f"{fmt_time_ns(est['low'])} – {fmt_time_ns(est['high'])} |"
            )
        else:
            rows.append(f"| {what} | not measured | |")
    w("| what (time per iteration) | median | 95% interval of the median |")
    w("|---|---|---|")
    for r in rows:
        w(r)
    w("")
    impact = None
    try:
        with open(a.impact, encoding="utf-8") as f:
            impact = json.load(f)
    except (OSError, ValueError):
        pass
    if impact:
        w(
            f"**A transfer while another thread polls it** (`transfer_with_poller`): a "
            f"{impact['mib']:.0f} MiB local copy of real (random) data through one job, "
            f"source and destination on {impact['dir']}, timed from `qm_job_resume` to "
            f"TRANSFERRED; {impact['runs']} runs each, alternating, of the copy alone, with "
            "a second thread calling `qm_job_get_progress` on the job in a tight loop, and "
            "with a second thread spinning in a loop that never calls qmgr (the control: "
            "what any busy thread costs a transfer on this machine)."
        )
        w("")
        w("| copy | median MiB/s | throughput lost vs alone |")
        w("|---|---|---|")
        w(f"| alone | {impact['mib_s_alone']:.0f} | – |")
        w(
            f"| with a thread polling `qm_job_get_progress` | {impact['mib_s_polled']:.0f} | "
            f"{impact['loss_percent']:.1f}% |"
        )
        w(
            f"| with a thread spinning without qmgr (control) | {impact['mib_s_spinner']:.0f} | "
            f"{impact['loss_spinner_percent']:.1f}% |"
        )
        w("")
        w(
            f"Throughput lost to polling compared with merely spinning: "
            f"{impact['loss_vs_spinner_percent']:.1f}% (the part that the polling itself causes; "
            "a negative figure means none)."
        )
    else:
        w("The transfer-while-polled measurement did not run.")
    w("")

    # ------------------------------------------------------------ targets
    w("## Targets")
    w("")
    w("| target | figure | verdict |")
    w("|---|---|---|")

    def verdict(ok, missed_by=""):
        return "**met**" if ok else f"**missed**{(' by ' + missed_by) if missed_by else ''}"

    def big_rows(sums, where):
        if not (sums and "qmgr" in sums and "curl" in sums) or example:
            w(f"| 1 GiB ({where}): throughput ≥ curl's, CPU ≤ curl's | qmgr CLI not measured | not measured |")
            return
        q, c = sums["qmgr"], sums["curl"]
        qr, cr = big_mib / q["wall"], big_mib / c["wall"]
        w(
            f"| 1 GiB ({where}): throughput ≥ curl's | qmgr {qr:.0f} MiB/s, curl {cr:.0f} MiB/s "
            f"({pct(qr / cr)}) | {verdict(qr >= cr, f'{(1 - qr / cr) * 100:.1f}%')} |"
        )
        over = "{:.1f}% ({:.2f} s)".format((q["cpu"] / c["cpu"] - 1) * 100, q["cpu"] - c["cpu"])
        w(
            f"| 1 GiB ({where}): CPU ≤ curl's | qmgr {q['cpu']:.2f} s, curl {c['cpu']:.2f} s "
            f"({pct(q['cpu'] / c['cpu'])}) | {verdict(q['cpu'] <= c['cpu'], over)} |"
        )

    def small_row(sums, where):
        if not (sums and "qmgr" in sums and "curl" in sums):
            w(f"| 1,000 × 64 KiB ({where}): files/s ≥ curl's | not measured | not measured |")
            return
        q, c = sums["qmgr"], sums["curl"]
        qf, cf = small_count / q["wall"], small_count / c["wall"]
        w(
            f"| 1,000 × 64 KiB ({where}): files/s ≥ curl's | qmgr {qf:.0f}/s, curl {cf:.0f}/s "
            f"({pct(qf / cf)}) | {verdict(qf >= cf, f'{(1 - qf / cf) * 100:.1f}%')} |"
        )

    big_rows(big, "disk")
    big_rows(big_shm, "tmpfs")
    small_row(small, "disk")
    small_row(small_shm, "tmpfs")
    if limit and "qmgr" in limit:
        rate = big_mib / limit["qmgr"]["wall"]
        err = (rate / limit_mib - 1) * 100
        w(
            f"| throttled rate within ±5% of {limit_mib:.0f} MiB/s | qmgr {rate:.2f} MiB/s "
            f"({err:+.1f}%) | {verdict(abs(err) <= 5, f'{abs(err) - 5:.1f} points')} |"
        )
    else:
        w("| throttled rate within ±5% | not measured | not measured |")
    est = crit.get(("get_progress", "idle_1_thread"))
    if est:
        ns = est["median"]
        w(
            f"| `qm_job_get_progress` ≤ 25 ns, one thread | {ns:.1f} ns | "
            f"{verdict(ns <= 25, f'{ns - 25:.1f} ns ({(ns / 25 - 1) * 100:.0f}%)')} |"
        )
    else:
        w("| `qm_job_get_progress` ≤ 25 ns, one thread | not measured | not measured |")
    if impact:
        loss = impact["loss_percent"]
        spin = impact["loss_spinner_percent"]
        lost = f"{loss:.1f}% lost" if loss > 0 else f"nothing lost: the polled copy was {-loss:.1f}% faster"
        spun = f"{spin:.1f}% lost" if spin > 0 else f"{-spin:.1f}% faster"
        w(
            f"| a transfer loses ≤ 5% while another thread polls it | {lost} "
            f"(the control, a thread spinning without calling qmgr: {spun}) | "
            f"{verdict(loss <= 5, f'{loss - 5:.1f} points')} |"
        )
    else:
        w("| a transfer loses ≤ 5% while another thread polls it | not measured | not measured |")
    w("")
    est2 = crit.get(("get_progress", "transfer_2_threads"))
    if est and est2:
        w(
            f"For information: with a transfer running and a second thread polling the same "
            f"job, one `qm_job_get_progress` call takes {est2['median']:.1f} ns "
            f"({est2['median'] / est['median']:.1f}× the idle single-thread figure). "
            f"The machine has {m['nproc']} cores, so the worker, the second poller and the "
            "measuring thread share them."
        )
        w("")

    if a.analysis and os.path.exists(a.analysis):
        w("The next section says what made these figures, and where qmgr's time goes.")
        w("")
    if a.analysis and os.path.exists(a.analysis):
        with open(a.analysis, encoding="utf-8") as f:
            text = f.read().strip()
        if text:
            w(text)
            w("")

    w("## The service, qmgrd")
    w("")
    w("The same C calls in the process and through a `qmgrd` (1,000 jobs, call latency, a")
    w("1 GiB file, the idle daemon's memory) are in [BENCHMARKS-qmgrd.md](BENCHMARKS-qmgrd.md),")
    w("written by `bash bench/run.sh daemon`.")
    w("")
    w("## Background means yielding")
    w("")
    w("How much a background download slows the user's own 256 KiB fetch over a slow link")
    w("with a deep queue (curl, aria2c and qmgr's priorities side by side, in network")
    w("namespaces), and how fast a background job takes the idle link back, are in")
    w("[BENCHMARKS-yield.md](BENCHMARKS-yield.md), written by `bash bench/yield.sh` (root).")
    w("")
    w("## Delta downloads")
    w("")
    w("qmgr's delta downloads (`transfer --seed`) against the zsync 0.6.2 client")
    w("on a 256 MiB image, bytes fetched, wall and CPU time, on loopback and")
    w("through the WAN proxy, are in [BENCHMARKS-delta.md](BENCHMARKS-delta.md),")
    w("written by `bash bench/run.sh delta`.")
    w("")
    w("## How to reproduce")
    w("")
    w("```sh")
    w("bash bench/run.sh              # installs nginx, aria2, hyperfine, curl, wget, time if missing")
    w("RUNS=9 bash bench/run.sh       # more runs per tool")
    w("cargo bench -p qmgr-bench --bench abi        # the micro-benchmarks alone")
    w("bash bench/run.sh daemon       # qmgrd against in-process (BENCHMARKS-qmgrd.md)")
    w("sudo bash bench/yield.sh       # yielding over a shaped link (BENCHMARKS-yield.md)")
    w("bash bench/run.sh delta        # delta downloads against zsync 0.6.2 (BENCHMARKS-delta.md)")
    w("```")
    w("")

    w("<details><summary>Every timed run</summary>")
    w("")
    w(
        "“others” is the CPU time the rest of the machine used during the run (all busy time "
        "less the tool's and nginx's), in % of one CPU. A run during which it exceeded 25% was "
        f"thrown away and done again; {m.get('discarded', '0')} runs were, in this run of the script."
    )
    w("")
    w("| scenario | tool | run | wall s | user s | sys s | peak RSS MiB | others, % of a CPU |")
    w("|---|---|---|---|---|---|---|---|")
    for (scenario, tool), rs in runs.items():
        for r in sorted(rs, key=lambda r: r["run"]):
            w(
                f"| {scenario} | {tool} | {r['run']} | {r['wall']:.3f} | {r['user']:.2f} | "
                f"{r['sys']:.2f} | {r['rss']:.1f} | {r['others']} |"
            )
    w("")
    w("</details>")
    w("")

    with open(a.out, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
