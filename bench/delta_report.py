#!/usr/bin/env python3
"""Markdown tables of `bash bench/run.sh delta` (issue 24): per scenario and
tool, the medians of the bytes nginx sent, the wall time, the CPU time
(user + system) and the peak RSS, with qmgr's ratios to the zsync 0.6.2
client and to a full download.

    python3 bench/delta_report.py --results FILE.tsv --sent FILE.sent.tsv \\
        --machine FILE.machine.txt [--out FILE.md]
"""

import argparse
import csv
import statistics
import sys
from collections import defaultdict

TOOLS = {
    "qmgr": "`qmgr transfer URL PATH --seed OLD`",
    "qmgr-before": "the same, the build before (`QMGR_BASELINE`)",
    "zsync": "`zsync -i OLD -o PATH URL.zsync` (0.6.2)",
    "qmgr-full": "`qmgr transfer URL PATH` (no seed: a full download)",
    "qmgr-https": "`qmgr transfer https://... --seed OLD` (zsync 0.6.2 has no HTTPS)",
}
TITLES = {
    "delta": "Loopback (nginx on 127.0.0.1)",
    "delta_wan": "Through the WAN proxy (50 ms round trip)",
}


def read_machine(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--sent", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--out")
    a = ap.parse_args()
    machine = read_machine(a.machine)
    runs = defaultdict(list)
    with open(a.results) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if int(row["run"]) == 0:
                continue
            runs[(row["scenario"], row["tool"])].append(
                {
                    "wall": float(row["wall_s"]),
                    "cpu": float(row["user_s"]) + float(row["sys_s"]),
                    "rss": int(row["maxrss_kib"]) / 1024,
                }
            )
    sent = defaultdict(list)
    body = defaultdict(list)
    with open(a.sent) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 4:
                sent[(parts[0], parts[1])].append(int(parts[3]))
            if len(parts) >= 5:
                body[(parts[0], parts[1])].append(int(parts[4]))

    lines = []
    w = lines.append
    image = int(machine.get("image_bytes", "0"))
    w(f"Measured {machine.get('date', '?')} on {machine.get('nproc', '?')} CPUs "
      f"({machine.get('cpu', '?')}), {machine.get('runs', '?')} runs per tool, medians. "
      f"A {image / 2**20:.0f} MiB image whose old version differs in "
      f"{machine.get('changed_pct', '?')}% of it (64 KiB stretches at random offsets) and "
      f"has 64 KiB inserted at its start; control file: {machine.get('control', '?')}, "
      f"{int(machine.get('control_bytes', '0')) / 1024:.0f} KiB. {machine.get('qmgr', '')}; "
      f"{machine.get('zsync', '')}; {machine.get('nginx', '')}. Bytes are what nginx sent "
      f"for the run (`$bytes_sent`: headers and the control file included; bodies alone: "
      f"`$body_bytes_sent`, where a multipart body's part headers count). A full download's "
      f"bytes sent include what nginx wrote to sockets that the client then closed (a "
      f"segment taken over by another connection).")
    w("")
    for scenario in ("delta", "delta_wan"):
        tools = [t for (s, t) in runs if s == scenario]
        if not tools:
            continue
        w(f"### {TITLES.get(scenario, scenario)}")
        w("")
        w("| tool | bytes sent | of which bodies | wall s | CPU s | peak RSS MiB |")
        w("|---|---:|---:|---:|---:|---:|")
        med = {}
        for t in sorted(tools, key=lambda t: list(TOOLS).index(t) if t in TOOLS else 99):
            rs = runs[(scenario, t)]
            b = statistics.median(sent[(scenario, t)]) if sent[(scenario, t)] else float("nan")
            bb = statistics.median(body[(scenario, t)]) if body[(scenario, t)] else float("nan")
            m = {
                "bytes": b,
                "body": bb,
                "wall": statistics.median(r["wall"] for r in rs),
                "cpu": statistics.median(r["cpu"] for r in rs),
                "rss": statistics.median(r["rss"] for r in rs),
                "n": len(rs),
            }
            med[t] = m
            w(f"| {TOOLS.get(t, t)} | {m['bytes']:,.0f} | {m['body']:,.0f} | {m['wall']:.2f} | {m['cpu']:.2f} | {m['rss']:.1f} |")
        w("")
        q, z, full = med.get("qmgr"), med.get("zsync"), med.get("qmgr-full")
        if q and z:
            w(f"- qmgr against zsync: {q['bytes'] / z['bytes']:.3f}x the bytes sent, "
              f"{q['body'] / z['body']:.3f}x the body bytes (goal: at most 1x), "
              f"{q['wall'] / z['wall']:.2f}x the wall time (goal: at most 0.5x), "
              f"{q['cpu'] / z['cpu']:.2f}x the CPU time.")
        before = med.get("qmgr-before")
        if before and z:
            w(f"- the build before against zsync: {before['body'] / z['body']:.3f}x the body bytes, "
              f"{before['wall'] / z['wall']:.2f}x the wall time, {before['cpu'] / z['cpu']:.2f}x the CPU time; "
              f"qmgr against the build before: {q['wall'] / before['wall']:.2f}x the wall time.")
        if q and full:
            w(f"- qmgr with a seed against a full download: {q['bytes'] / full['bytes']:.3f}x the bytes, "
              f"{q['wall'] / full['wall']:.2f}x the wall time.")
        w("")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
