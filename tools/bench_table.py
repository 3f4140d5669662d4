#!/usr/bin/env python3
"""Markdown table for BENCHMARKS.md from `regionspotd bench --json` and
`tools/bench_reference.py --json` outputs (one JSON object per line each).

    python3 tools/bench_table.py ours.jsonl reference.jsonl

Columns: GEMM GFLOP (ours), median ms ours / reference, speed-up (reference / ours),
our GFLOP/s and % of our run's sgemm ceiling (wall clock, and per CPU-second).
"""
from __future__ import annotations

import json
import sys


def load(path: str) -> dict[str, dict]:
    rows = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                r = json.loads(line)
                if "gflop" in r:  # skip {"name", "note"} lines
                    rows[r["name"]] = r
    return rows


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    ours, ref = load(sys.argv[1]), load(sys.argv[2])
    print("| row | GFLOP | ours ms | reference ms | speed-up | ours GFLOP/s | % ceiling | % ceiling (CPU time) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, o in ours.items():
        r = ref.get(name)
        rms = f"{r['median_ms']:.1f}" if r else "-"
        ratio = f"{r['median_ms'] / o['median_ms']:.2f}x" if r and o["median_ms"] > 0 else "-"
        if name == "sgemm_ceiling" and r:
            ratio = f"{o['gflops'] / r['gflops']:.2f}x" if r.get("gflops") else "-"
        cpu = f"{o['percent_of_ceiling_cpu']:.0f}%" if "percent_of_ceiling_cpu" in o else "-"
        print(f"| {name} | {o['gflop']:.2f} | {o['median_ms']:.1f} | {rms} | {ratio} | {o['gflops']:.1f} | "
              f"{o['percent_of_ceiling']:.0f}% | {cpu} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
