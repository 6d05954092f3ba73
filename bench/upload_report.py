#!/usr/bin/env python3
"""Markdown tables of `bash bench/run.sh upload` (issue 25): per scenario
and tool, the medians of the wall time, the throughput (the upload's size
over the wall time), the client's CPU time (user + system), the servers'
CPU time and the client's peak RSS, with every tool's ratios to curl to
the same tus server (`curl-tus`, the issue's yardstick: within 10% of its
throughput) and to curl's plain PUT to nginx (`curl-put`, the upper bound).

    python3 bench/upload_report.py --results FILE.tsv --server FILE.server.tsv \\
        --machine FILE.machine.txt [--out FILE.md]
"""

import argparse
import csv
import statistics
import sys
from collections import defaultdict

TOOLS = {
    "qmgr": "`qmgr upload FILE URL` (tus, in-memory job)",
    "qmgr-state": "`qmgr --state DIR upload FILE URL` (tus, the job on disk)",
    "qmgr-before": "`qmgr upload FILE URL`, the build before (QMGR_BASELINE)",
    "curl-tus": "curl to the tus server: POST, then `curl -T FILE -X PATCH`",
    "curl-put": "`curl -T FILE URL` to nginx (plain PUT, dav module)",
    "tuspy": "tuspy (`TusClient(URL).uploader(FILE).upload()`)",
}
TITLES = {
    "upload": "Loopback (servers on 127.0.0.1)",
    "upload_wan": "Through the WAN proxy (50 ms round trip)",
}


def read_machine(path):
    out = {}
    with open(path) as f:
        for line in f:
            if "=" in line:
                k, v = line.rstrip("\n").split("=", 1)
                out[k] = v
    return out


def order(t):
    return list(TOOLS).index(t) if t in TOOLS else 99


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--machine", required=True)
    ap.add_argument("--out")
    a = ap.parse_args()
    machine = read_machine(a.machine)
    size = int(machine.get("upload_bytes", "0"))
    runs = defaultdict(list)
    with open(a.results) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if int(row["run"]) == 0 or not row["scenario"].startswith("upload"):
                continue
            runs[(row["scenario"], row["tool"])].append(
                {
                    "wall": float(row["wall_s"]),
                    "cpu": float(row["user_s"]) + float(row["sys_s"]),
                    "rss": int(row["maxrss_kib"]) / 1024,
                    "others": int(row["others_pct"]),
                }
            )
    server = defaultdict(list)
    with open(a.server) as f:
        for row in csv.DictReader(f, delimiter="\t"):
            server[(row["scenario"], row["tool"])].append(float(row["server_s"]))

    others_max = int(machine.get("others_max", "25"))
    if others_max >= 100 * int(machine.get("nproc", "1")):
        redone = (f"no run was done again for the others' load (OTHERS_MAX={others_max}: the machine "
                  f"was never quiet; the interleaving shares the load among the tools)")
    else:
        redone = (f"{machine.get('discarded', '0')} runs thrown away and done again because other "
                  f"processes took more than {others_max}% of a CPU meanwhile")
    lines = []
    w = lines.append
    w(f"Measured {machine.get('date', '?')} on {machine.get('nproc', '?')} CPUs "
      f"({machine.get('cpu', '?')}, shared with other work: {machine.get('busy_before', '?')}% busy "
      f"before, load average {machine.get('load_before', '?')} before and "
      f"{machine.get('load_after', '?')} after), {machine.get('runs', '?')} runs per tool, the tools "
      f"interleaved within each round, medians; {redone}. One file of "
      f"{size / 2**20:.0f} MiB (random bytes, from the page cache), stored by the servers on "
      f"{machine.get('store_fs', '?')}. {machine.get('qmgr', '')}; {machine.get('curl', '')}; "
      f"{machine.get('tuspy', '')}; tus server: {machine.get('tus_server', '')}; "
      f"{machine.get('nginx', '')}. MB/s is 10^6 bytes per second of wall time; servers' CPU is "
      f"node's (or nginx's) and the WAN proxy's for the run; others is what the rest of the machine "
      f"used meanwhile, in % of one CPU.")
    w("")
    for scenario in ("upload", "upload_wan"):
        tools = sorted((t for (s, t) in runs if s == scenario), key=order)
        if not tools:
            continue
        w(f"### {TITLES.get(scenario, scenario)}")
        w("")
        w("| tool | wall s | MB/s | vs curl-tus | vs curl-put | client CPU s | servers' CPU s | peak RSS MiB | others % |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        med = {}
        for t in tools:
            rs = runs[(scenario, t)]
            m = {
                "wall": statistics.median(r["wall"] for r in rs),
                "cpu": statistics.median(r["cpu"] for r in rs),
                "rss": statistics.median(r["rss"] for r in rs),
                "others": statistics.median(r["others"] for r in rs),
                "server": statistics.median(server[(scenario, t)]) if server[(scenario, t)] else float("nan"),
                "n": len(rs),
            }
            m["mbps"] = size / m["wall"] / 1e6
            med[t] = m
        ct, cp = med.get("curl-tus"), med.get("curl-put")
        for t in tools:
            m = med[t]
            vt = f"{m['mbps'] / ct['mbps']:.2f}x" if ct else "-"
            vp = f"{m['mbps'] / cp['mbps']:.2f}x" if cp else "-"
            w(f"| {TOOLS.get(t, t)} | {m['wall']:.2f} | {m['mbps']:.0f} | {vt} | {vp} | {m['cpu']:.2f} | "
              f"{m['server']:.2f} | {m['rss']:.1f} | {m['others']:.0f} |")
        w("")
        q = med.get("qmgr")
        if q and ct:
            r = q["mbps"] / ct["mbps"]
            w(f"- qmgr's throughput is {r:.2f}x curl's to the same tus server "
              f"(goal: at least 0.90x): {'met' if r >= 0.9 else 'not met'}.")
        if q and cp:
            w(f"- against curl's plain PUT to nginx (the upper bound): {q['mbps'] / cp['mbps']:.2f}x.")
        tp = med.get("tuspy")
        if q and tp:
            w(f"- against tuspy: {q['mbps'] / tp['mbps']:.2f}x the throughput, "
              f"{q['rss'] / tp['rss']:.2f}x the peak RSS.")
        w("")
    text = "\n".join(lines)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main())
