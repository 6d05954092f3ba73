#!/usr/bin/env python3
"""The helper of bench/yield.sh (issue 23, "Background means yielding").

Three subcommands:

  sample    runs in the client's network namespace (under `ip netns exec`,
            which mounts that namespace's /sys) and writes, every INTERVAL
            seconds, a line "t rx d0 d1 ..." to OUT: the wall clock (the same
            clock as bash's $EPOCHREALTIME), the link counter
            /sys/class/net/DEV/statistics/COUNTER, and the bytes each
            directory DIR holds (allocated blocks, so that a sparse file
            set to its full length up front, as qmgr's partial file is,
            counts what has arrived). It stops after DURATION seconds, on
            SIGTERM/SIGINT, or (--until-rate) once the link rate over the
            last WINDOW seconds, all of them after the time written to
            AFTER_FILE, reaches RATE bytes/s (LINGER seconds later), or
            MAX_AFTER seconds after that time. With --until-dir N, the rate
            watched is the Nth directory's growth, as frames on the link
            (FRAME_PER_PAYLOAD), instead of the link's.
  analyze   turns one scenario's raw files (samples.tsv, marks, fetches.tsv
            in DIR) into figures: appends rows "rate shape scenario row run
            metric value" to RESULTS, prints a one-line summary, and exits 3
            when a check fails (a background that did not grow, a fetch that
            was not HTTP 200 with the right size).
  report    renders the Markdown report from RESULTS and the machine file.

The figures and how they are computed are described in bench/yield.sh's
header comment, and in the report itself.
"""

import argparse
import bisect
import math
import os
import signal
import statistics
import sys
import time

SMALL_BYTES = 262144
# A full segment's frame over its payload (Ethernet 14, IPv4 20, TCP with
# timestamps 32, payload 1448): what a file's growth weighs on the link.
FRAME_PER_PAYLOAD = 1514 / 1448


# ---------------------------------------------------------------- sampling
def dir_bytes(path):
    total = 0
    try:
        with os.scandir(path) as it:
            for e in it:
                try:
                    st = e.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                total += st.st_blocks * 512
    except FileNotFoundError:
        pass
    return total


def window_start(ts, i, window):
    """The index of the first sample at or after ts[i] - window."""
    return bisect.bisect_left(ts, ts[i] - window - 1e-9)


def cmd_sample(a):
    counter = f"/sys/class/net/{a.dev}/statistics/{a.counter}"
    dirs = a.dir or []
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    ts, rxs = [], []  # rxs: the series --until-rate watches
    after = None
    reached = None
    with open(counter, "rb") as cf, open(a.out, "w", buffering=1) as out:
        out.write("t\trx" + "".join(f"\td{i}" for i in range(len(dirs))) + "\n")
        t0 = time.time()
        next_t = t0
        while not stop:
            cf.seek(0)
            rx = int(cf.read())
            now = time.time()
            sizes = [dir_bytes(d) for d in dirs]
            out.write(f"{now:.6f}\t{rx}" + "".join(f"\t{s}" for s in sizes) + "\n")
            ts.append(now)
            rxs.append(rx if a.until_dir < 0 else sizes[a.until_dir] * FRAME_PER_PAYLOAD)
            if a.duration and now - t0 >= a.duration:
                break
            if a.until_rate:
                if after is None and a.after_file and os.path.exists(a.after_file):
                    try:
                        with open(a.after_file) as f:
                            after = float(f.read().strip())
                    except ValueError:
                        after = None
                if after is not None:
                    i = len(ts) - 1
                    if reached is None and now >= after + a.window:
                        j = window_start(ts, i, a.window)
                        if j < i and ts[j] >= after and ts[i] - ts[j] >= 0.8 * a.window:
                            if (rxs[i] - rxs[j]) / (ts[i] - ts[j]) >= a.until_rate:
                                reached = now
                    if reached is not None and now - reached >= a.linger:
                        break
                    if now - after >= a.max_after:
                        break
            next_t += a.interval
            delay = next_t - time.time()
            if delay > 0:
                time.sleep(delay)
            elif delay < -a.interval:
                next_t = time.time()  # fell behind: do not burst to catch up
    return 0


# ---------------------------------------------------------------- analysis
class Samples:
    def __init__(self, path):
        self.t, self.rx, self.d = [], [], []
        with open(path) as f:
            head = f.readline().split()
            n = len(head) - 2
            self.d = [[] for _ in range(n)]
            for line in f:
                p = line.split()
                if len(p) != n + 2:
                    continue  # a line cut by SIGTERM
                self.t.append(float(p[0]))
                self.rx.append(int(p[1]))
                for k in range(n):
                    self.d[k].append(int(p[2 + k]))
        if len(self.t) < 2:
            fail(f"{path}: fewer than 2 samples")

    def cut(self, t):
        """Drops the samples after t (which may have been taken while the
        processes were being stopped: qmgr deletes its partial file)."""
        n = max(2, bisect.bisect_right(self.t, t))
        self.t, self.rx = self.t[:n], self.rx[:n]
        self.d = [x[:n] for x in self.d]

    def at(self, series, t):
        """The series' value at time t, interpolated between samples."""
        ts = self.t
        if t <= ts[0]:
            return series[0]
        if t >= ts[-1]:
            return series[-1]
        i = bisect.bisect_left(ts, t)
        t0, t1 = ts[i - 1], ts[i]
        v0, v1 = series[i - 1], series[i]
        return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1

    def rate(self, series, a, b):
        """Bytes per second of series between times a and b."""
        if b <= a:
            return 0.0
        return (self.at(series, b) - self.at(series, a)) / (b - a)

    def first_window(self, start, window, threshold, limit, series=None):
        """Seconds from start to the end of the first window of `window`
        seconds, wholly at or after start, whose link rate (or series'
        rate) reaches threshold (bytes/s); inf if none does within limit
        seconds."""
        ts = self.t
        rx = self.rx if series is None else series
        for i in range(len(ts)):
            if ts[i] < start + window:
                continue
            if ts[i] - start > limit:
                break
            j = window_start(ts, i, window)
            if j >= i or ts[j] < start or ts[i] - ts[j] < 0.8 * window:
                continue
            if (rx[i] - rx[j]) / (ts[i] - ts[j]) >= threshold:
                return ts[i] - start
        return math.inf


def read_marks(path):
    marks = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 2:
                marks[p[0]] = float(p[1])
    return marks


def fail(msg):
    print(f"check failed: {msg}", file=sys.stderr)
    sys.exit(3)


def mbit(bytes_per_s):
    return bytes_per_s * 8 / 1e6


def cmd_analyze(a):
    d = a.dir
    cap = a.cap_bps / 8.0  # bytes/s of the bottleneck
    s = Samples(os.path.join(d, "samples.tsv"))
    m = read_marks(os.path.join(d, "marks"))
    rows = []

    def rec(metric, value):
        rows.append((a.rate, a.shape, a.scenario, a.row, a.run, metric, value))

    if a.scenario == "fetch":
        # "get CODE SIZE SECONDS" for a fetch, "put ..." for an upload (SHAPE=up).
        times = {"get": [], "put": []}
        with open(os.path.join(d, "fetches.tsv")) as f:
            for line in f:
                kind, code, size, total = line.split()
                if code not in ("200" if kind == "get" else ("201", "204")) or int(size) != SMALL_BYTES:
                    fail(f"{d}: a {kind} returned HTTP {code} with {size} bytes")
                times[kind].append(float(total))
        if len(times["get"]) != a.fetches or len(times["put"]) not in (0, a.fetches):
            fail(f"{d}: {len(times['get'])} fetches and {len(times['put'])} uploads recorded, {a.fetches} expected")
        f0, f1 = m["fetch_start"], m["fetch_end"]
        s.cut(f1)
        link = s.rate(s.rx, f0, f1)
        summary = ""
        for kind, name, metric in (("get", "fetch", "fetch"), ("put", "upload", "put")):
            ts = times[kind]
            if not ts:
                continue
            med = statistics.median(ts)
            rec(f"{metric}_median_s", f"{med:.4f}")
            rec(f"{metric}_min_s", f"{min(ts):.4f}")
            rec(f"{metric}_max_s", f"{max(ts):.4f}")
            summary += f"{name} median {med:.3f} s ({min(ts):.3f}-{max(ts):.3f}), "
        rec("link_pct", f"{100 * link / cap:.1f}")
        summary += f"link {100 * link / cap:.0f}%"
        if a.row != "idle":
            b0 = m["bg_start"]
            grew_warm = s.at(s.d[0], f0) - s.at(s.d[0], b0)
            grew_all = s.at(s.d[0], f1) - s.at(s.d[0], b0)
            if grew_warm <= 0 or grew_all <= 0:
                fail(f"{d}: the background {a.row} did not grow (warm-up {grew_warm:.0f} B, all {grew_all:.0f} B)")
            bg = s.rate(s.d[0], f0, f1)
            warm = s.rate(s.d[0], b0 + 1, f0) if f0 > b0 + 1 else 0.0
            rec("bg_pct", f"{100 * bg / cap:.1f}")
            rec("bg_warm_pct", f"{100 * warm / cap:.1f}")
            summary += f", background {100 * bg / cap:.0f}% during the fetches ({100 * warm / cap:.0f}% in its warm-up)"
    elif a.scenario == "alone":
        b0 = m["bg_start"]
        if s.t[-1] < b0 + a.alone_s - 0.2:
            fail(f"{d}: sampled {s.t[-1] - b0:.1f} s, not {a.alone_s} s")
        grew = s.at(s.d[0], b0 + a.alone_s) - s.at(s.d[0], b0)
        if grew <= 0:
            fail(f"{d}: {a.row}'s file did not grow")
        t85 = s.first_window(b0, 1.0, a.threshold * cap, a.alone_s)
        half = a.alone_s / 2
        mean = s.rate(s.rx, b0 + half, b0 + a.alone_s)
        rec("t85_s", f"{t85:.2f}" if math.isfinite(t85) else "inf")
        rec("mean_late_pct", f"{100 * mean / cap:.1f}")
        rec("payload_late_pct", f"{100 * s.rate(s.d[0], b0 + half, b0 + a.alone_s) / cap:.1f}")
        t85s = f"{t85:.1f} s" if math.isfinite(t85) else f">{a.alone_s:g} s"
        summary = f"85% after {t85s}, link {100 * mean / cap:.0f}% from {half:g} to {a.alone_s:g} s"
    elif a.scenario == "regain":
        b0, u0, u1 = m["bg_start"], m["user_start"], m["user_stop"]
        if s.at(s.d[0], u0) - s.at(s.d[0], b0) <= 0:
            fail(f"{d}: {a.row}'s file did not grow before the user's download")
        q = s.at(s.d[0], u1) - s.at(s.d[0], u0)
        c = s.at(s.d[1], u1) - s.at(s.d[1], u0)
        if c <= 0:
            fail(f"{d}: the user's curl did not download anything")
        share = 100 * q / (q + c) if q + c > 0 else 0.0
        # Uploads: the job's own rate (its growth on the server, as frames),
        # not the link's: the user's killed upload leaves up to the queue's
        # 400 ms of packets behind, which alone fill a first 0.5 s window.
        own = [x * FRAME_PER_PAYLOAD for x in s.d[0]] if a.shape == "up" else None
        regain = s.first_window(u1, a.window, a.threshold * cap, a.regain_max, own)
        if s.t[-1] - u1 < min(a.regain_max, regain if math.isfinite(regain) else a.regain_max) - 0.3:
            fail(f"{d}: sampled only {s.t[-1] - u1:.1f} s after the user stopped")
        after = s.rate(s.d[0], u1, s.t[-1])
        rec("regain_s", f"{regain:.2f}" if math.isfinite(regain) else "inf")
        rec("share_pct", f"{share:.1f}")
        rec("user_pct", f"{100 * c / (u1 - u0) / cap:.1f}")
        rs = f"{regain:.1f} s" if math.isfinite(regain) else f">{a.regain_max:g} s"
        summary = (f"qmgr {share:.0f}% of the bytes while the user ran "
                   f"(user {100 * c / (u1 - u0) / cap:.0f}% of the link), back at 85% {rs} after; "
                   f"qmgr {100 * after / cap:.0f}% after")
    elif a.scenario == "calibrate":
        b0, e = m["bg_start"], s.t[-1]
        grew = s.at(s.d[0], e) - s.at(s.d[0], b0)
        if grew <= 0:
            fail(f"{d}: the calibration download did not grow")
        lo = b0 + (e - b0) / 2
        link = s.rate(s.rx, lo, e)
        payload = s.rate(s.d[0], lo, e)
        rec("link_mbit", f"{mbit(link):.2f}")
        rec("link_pct", f"{100 * link / cap:.1f}")
        rec("payload_mbit", f"{mbit(payload):.2f}")
        summary = (f"plain curl: link {mbit(link):.2f} Mbit/s = {100 * link / cap:.1f}% of "
                   f"{mbit(cap):.2f}, payload {mbit(payload):.2f} Mbit/s")
        if not (a.cal_min <= 100 * link / cap <= a.cal_max):
            print(summary)
            fail(f"the bottleneck gives {100 * link / cap:.1f}% of its rate to a plain curl "
                 f"(expected {a.cal_min:g}-{a.cal_max:g}%)")
    else:
        fail(f"unknown scenario {a.scenario}")
    with open(a.results, "a") as f:
        for r in rows:
            f.write("\t".join(str(x) for x in r) + "\n")
    print(summary)
    return 0


# ---------------------------------------------------------------- report
def num(v):
    return math.inf if v == "inf" else float(v)


def fmt_s(v):
    if not math.isfinite(v):
        return "∞"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


def fmt_range(vals, f, unit=""):
    """median (min–max) of vals."""
    med = statistics.median(vals)
    if len(vals) == 1:
        return f"{f(med)}{unit}"
    return f"{f(med)}{unit} ({f(min(vals))}–{f(max(vals))})"


def fmt_t(limit):
    def f(v):
        return f">{limit:g}" if not math.isfinite(v) else f"{v:.1f}"
    return f


def rate_key(r):
    for unit, mult in (("gbit", 1e9), ("mbit", 1e6), ("kbit", 1e3), ("bit", 1)):
        if r.lower().endswith(unit):
            try:
                return float(r[: -len(unit)]) * mult
            except ValueError:
                break
    return 0.0


def cmd_report(a):
    meta = {}
    with open(a.machine) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                meta[k] = v
    data = {}  # (rate, shape, scenario, row, metric) -> {run: value}
    with open(a.results) as f:
        next(f)
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) != 7:
                continue
            rate, shape, scen, row, run, metric, value = p
            data.setdefault((rate, shape, scen, row, metric), {})[int(run)] = num(value)
    rates = meta.get("rates", "").split() or sorted({k[0] for k in data}, key=rate_key)
    shapes = meta.get("shapes", "").split() or sorted({k[1] for k in data})
    rows = ["idle"] + meta.get("backgrounds", "").split()
    up_rows = ["idle"] + meta.get("up_backgrounds", "").split()
    alone_rows = meta.get("alone_rows", "").split()
    regain_rows = meta.get("regain_rows", "").split()
    alone_s = float(meta.get("alone_s", 20))
    regain_max = float(meta.get("regain_max_s", 20))
    second = meta.get("second_pct", "80")
    labels = {
        "idle": "none (idle link)",
        "curl": "curl",
        "aria2c": "aria2c -x4 -s4",
        "qmgr-low": "qmgr LOW",
        "qmgr-normal": "qmgr NORMAL",
        "qmgr-high": "qmgr HIGH",
        "qmgr-foreground": "qmgr FOREGROUND",
        "qmgr-low-noyield": "qmgr LOW --no-yield",
    }

    def get(rate, shape, scen, row, metric):
        return data.get((rate, shape, scen, row, metric), {})

    def label(row, shape):
        if shape == "up":
            return {"idle": "none (idle link)", "curl": "curl (tus: POST, then one PATCH)"}.get(
                row, labels.get(row, row) + " upload")
        return labels.get(row, row)

    def timing(r, sh, row, metric):
        """The user's median time and its slowdown over the same run's idle median."""
        med = get(r, sh, "fetch", row, metric)
        idle = get(r, sh, "fetch", "idle", metric)
        slow = [med[k] / idle[k] for k in med if k in idle and idle[k] > 0]
        return (f"{fmt_range(list(med.values()), fmt_s, ' s')} | "
                f"{fmt_range(slow, lambda v: f'{v:.1f}', '×') if slow and row != 'idle' else '1×'}")

    def use(r, sh, row):
        link = list(get(r, sh, "fetch", row, "link_pct").values())
        bg = list(get(r, sh, "fetch", row, "bg_pct").values())
        return (f"{fmt_range(link, lambda v: f'{v:.0f}', '%')} | "
                f"{fmt_range(bg, lambda v: f'{v:.0f}', '%') if bg else '—'}")

    def where(rate, shape):
        return f"{rate}, {shape}"

    out = []
    w = out.append
    w("# qmgr: does background mean yielding? (issue 23)")
    w("")
    w(f"Measured by `bench/yield.sh` on {meta.get('date', '?')}, in {meta.get('elapsed', '?')}.")
    w("")
    w(f"- commit: `{meta.get('commit', '?')}`; qmgr: `{meta.get('qmgr', '?')}` ({meta.get('qmgr_bin', '?')}); "
      f"`--no-yield`: {meta.get('no_yield', '?')}")
    w(f"- kernel: {meta.get('kernel', '?')}; {meta.get('nproc', '?')} CPUs ({meta.get('cpu', '?')})")
    if meta.get("retried", "0") != "0":
        w(f"- {meta['retried']} scenario(s) started again: a signal from outside the script ended a background")
    w(f"- tools: {meta.get('curl', '?')}; {meta.get('aria2c', '?')}; {meta.get('nginx', '?')}"
      + (f"; tus server: {meta['tus']}" if meta.get("tus") else ""))
    w(f"- parameters: RATES=\"{meta.get('rates')}\" SHAPES=\"{meta.get('shapes')}\" RUNS={meta.get('runs')} "
      f"FETCHES={meta.get('fetches')} WARMUP={meta.get('warmup')} BACKGROUNDS=\"{meta.get('backgrounds')}\" "
      + (f"UP_BACKGROUNDS=\"{meta['up_backgrounds']}\" " if meta.get("up_backgrounds") else "")
      + f"SCENARIOS=\"{meta.get('scenarios')}\" TCP_CC={meta.get('cc')} BOTTLENECK={meta.get('bottleneck')}"
      + (f" SERVER_TIMESTAMPS={meta['server_timestamps']}" if meta.get("server_timestamps", "1") != "1" else ""))
    w(f"- the senders' TCP congestion control (the server's and the client's routes): "
      f"{meta.get('cc_effective', '?')}; big file "
      f"{int(meta.get('big_bytes', 0)) / 1e6:.0f} MB, the user's file 256 KiB")
    w(f"- topology: {meta.get('topology', '?')}")
    w("")
    w("Every figure is the median over the runs, with the runs' minimum–maximum in "
      "parentheses. Rates are in % of the bottleneck: RATE with shape `one`, "
      f"{second}% of RATE with shape `two` (its second, slower queue); the link "
      "rate is the client's received bytes (the server's with shape `up`: RATE) "
      "including the Ethernet, IP and TCP headers (a file's own bytes reach at most about 95% of it).")
    w("")

    cal = [(r, sh) for r in rates for sh in shapes if get(r, sh, "calibrate", "curl", "link_pct")]
    if cal:
        w("## The bottleneck, checked with a plain curl download (a curl tus upload with shape `up`)")
        w("")
        w("| RATE, shape | bottleneck | link rate (2nd half of the check) | % of the bottleneck | curl's payload |")
        w("|---|---|---|---|---|")
        for r, sh in cal:
            cap = meta.get(f"cap_{r}_{sh}", "?")
            lm = list(get(r, sh, "calibrate", "curl", "link_mbit").values())
            lp = list(get(r, sh, "calibrate", "curl", "link_pct").values())
            pm = list(get(r, sh, "calibrate", "curl", "payload_mbit").values())
            w(f"| {where(r, sh)} | {cap} | {fmt_range(lm, lambda v: f'{v:.2f}', ' Mbit/s')} | "
              f"{fmt_range(lp, lambda v: f'{v:.1f}', '%')} | {fmt_range(pm, lambda v: f'{v:.2f}', ' Mbit/s')} |")
        w("")

    fetch_cfg = [(r, sh) for r in rates for sh in shapes
                 if sh != "up" and get(r, sh, "fetch", "idle", "fetch_median_s")]
    if fetch_cfg:
        w("## The user's 256 KiB fetch, with and without a background download")
        w("")
        w(f"`curl` fetches 256 KiB {meta.get('fetches')} times, 1 s apart, "
          f"{meta.get('warmup')} s after the background download started; a run's figure is "
          "the median of its fetches. The slowdown is each run's median over the same "
          "run's idle median. Link use is everything the client received during the "
          "fetches (background and fetches); the background's rate is its own file's "
          "growth in that time.")
        w("")
        w("| RATE, shape | background | user's 256 KiB fetch (median, min–max) | slowdown vs idle | "
          "link use during fetches | background's own rate then |")
        w("|---|---|---|---|---|---|")
        for r, sh in fetch_cfg:
            for row in rows:
                if get(r, sh, "fetch", row, "fetch_median_s"):
                    w(f"| {where(r, sh)} | {label(row, sh)} | {timing(r, sh, row, 'fetch_median_s')} | "
                      f"{use(r, sh, row)} |")
        w("")

    up_cfg = [r for r in rates if "up" in shapes and get(r, "up", "fetch", "idle", "fetch_median_s")]
    if up_cfg:
        w("## The user's 256 KiB fetch and upload, with and without a background upload")
        w("")
        w("Shape `up`: the bottleneck is on the way out, toward the server. Each of the user's "
          f"{meta.get('fetches')} turns is a 256 KiB fetch (`curl -o`; its request and ACKs cross "
          "the queue) and, 1 s later, a 256 KiB upload (`curl -T`, a PUT to nginx), 1 s apart, "
          f"starting {meta.get('warmup')} s after the background upload (to a tus server in the "
          "server's namespace) started; a run's figure is the median of its turns, the slowdown "
          "each run's median over the same run's idle median. Link use is everything the server "
          "received during the turns; the background's rate is its upload's growth on the server.")
        w("")
        w("| RATE, shape | background upload | user's 256 KiB fetch | slowdown | user's 256 KiB upload | "
          "slowdown | link use during the turns | background's own rate then |")
        w("|---|---|---|---|---|---|---|---|")
        for r in up_cfg:
            for row in up_rows:
                if get(r, "up", "fetch", row, "fetch_median_s"):
                    w(f"| {where(r, 'up')} | {label(row, 'up')} | {timing(r, 'up', row, 'fetch_median_s')} | "
                      f"{timing(r, 'up', row, 'put_median_s')} | {use(r, 'up', row)} |")
        w("")

    qrows = alone_rows + [x for x in regain_rows if x not in alone_rows]
    qcfg = [(r, sh) for r in rates for sh in shapes
            if any(get(r, sh, "alone", x, "t85_s") or get(r, sh, "regain", x, "regain_s") for x in qrows)]
    if qcfg:
        w("## qmgr alone, and after the user's own download")
        w("")
        w(f"Alone: the job runs by itself for {alone_s:g} s; the time (from its start) until the "
          f"link rate over a sliding 1 s window first reaches 85% of the bottleneck (so at least 1 s), and the mean "
          f"link rate from {alone_s / 2:g} to {alone_s:g} s. Regain: the job runs alone "
          f"{meta.get('regain_alone_s')} s, then the user's curl downloads the big file for "
          f"{meta.get('regain_user_s')} s and is killed; the time from the kill until the link "
          f"rate over a 0.5 s window (wholly after the kill; so at least 0.5 s) is back at 85% "
          f"(at most {regain_max:g} s), and qmgr's share of the two downloads' bytes while the "
          "user's ran. `>N` means never within the limit."
          + (" With shape `up` the job is an upload, the link rate the server's received bytes, "
             "and the user's own transfer a curl tus upload of the big file (to a second tus server); "
             "regain there is the time until qmgr's own rate (its upload's growth on the server, "
             "counted as full frames) is back at 85%: the user's killed upload leaves up to 400 ms "
             "of packets in the queue, which alone fill the link's first 0.5 s window."
             if "up" in shapes else ""))
        w("")
        w("| RATE, shape | qmgr job | time to 85% alone | mean rate "
          f"{alone_s / 2:g}–{alone_s:g} s | regain 85% after user stops | share while user ran |")
        w("|---|---|---|---|---|---|")
        for r, sh in qcfg:
            for row in qrows:
                t85 = list(get(r, sh, "alone", row, "t85_s").values())
                mean = list(get(r, sh, "alone", row, "mean_late_pct").values())
                reg = list(get(r, sh, "regain", row, "regain_s").values())
                share = list(get(r, sh, "regain", row, "share_pct").values())
                if not (t85 or reg):
                    continue
                w(f"| {where(r, sh)} | {label(row, sh)} | "
                  f"{fmt_range(t85, fmt_t(alone_s), ' s') if t85 else '—'} | "
                  f"{fmt_range(mean, lambda v: f'{v:.0f}', '%') if mean else '—'} | "
                  f"{fmt_range(reg, fmt_t(regain_max), ' s') if reg else '—'} | "
                  f"{fmt_range(share, lambda v: f'{v:.0f}', '%') if share else '—'} |")
        w("")
    text = "\n".join(out) + "\n"
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    sys.stdout.write(text)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--dev", required=True)
    s.add_argument("--counter", default="rx_bytes")
    s.add_argument("--dir", action="append")
    s.add_argument("--out", required=True)
    s.add_argument("--interval", type=float, default=0.1)
    s.add_argument("--duration", type=float, default=0)
    s.add_argument("--until-rate", type=float, default=0, help="bytes/s")
    s.add_argument("--until-dir", type=int, default=-1, help="watch this --dir's growth, not the link")
    s.add_argument("--window", type=float, default=0.5)
    s.add_argument("--after-file")
    s.add_argument("--max-after", type=float, default=20)
    s.add_argument("--linger", type=float, default=0.5)
    an = sub.add_parser("analyze")
    an.add_argument("scenario", choices=["fetch", "alone", "regain", "calibrate"])
    an.add_argument("--dir", required=True)
    an.add_argument("--results", required=True)
    an.add_argument("--rate", required=True)
    an.add_argument("--shape", required=True)
    an.add_argument("--row", required=True)
    an.add_argument("--run", type=int, required=True)
    an.add_argument("--cap-bps", type=float, required=True)
    an.add_argument("--fetches", type=int, default=0)
    an.add_argument("--threshold", type=float, default=0.85)
    an.add_argument("--alone-s", type=float, default=20)
    an.add_argument("--window", type=float, default=0.5)
    an.add_argument("--regain-max", type=float, default=20)
    an.add_argument("--cal-min", type=float, default=85)
    an.add_argument("--cal-max", type=float, default=105)
    r = sub.add_parser("report")
    r.add_argument("--results", required=True)
    r.add_argument("--machine", required=True)
    r.add_argument("--out")
    a = p.parse_args()
    return {"sample": cmd_sample, "analyze": cmd_analyze, "report": cmd_report}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
