#!/usr/bin/env python3
"""Start-up time, peak memory and shutdown time of `regionspotd run`, as BENCHMARKS.md
reports them ("The daemon with RegionSpot-BB shapes").

    python3 tools/measure_daemon.py --config /tmp/bb.yaml --seconds 60 [--binary PATH]

Listens on a NOTIFY_SOCKET of its own (the daemon's sd_notify datagrams, as systemd would
receive them), starts the daemon, and prints one JSON object: seconds to READY=1, VmHWM
(peak RSS) and the VmRSS range over the run, the size of the model directory's
.safetensors files, and seconds from SIGTERM to exit with the exit status. Standard
library only.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def weights_mib(config: str) -> float | None:
    """Sum of the .safetensors files under the config's models.directory (one-line YAML form)."""
    import re
    text = open(config).read()
    m = re.search(r"models:\s*\{\s*directory:\s*([^\s},]+)", text) or re.search(r"directory:\s*(\S+)", text)
    if not m:
        return None
    d = m.group(1)
    total = 0
    for root, _, files in os.walk(d):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files if f.endswith(".safetensors"))
    return total / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True)
    ap.add_argument("--seconds", type=float, default=60, help="how long to run after READY")
    ap.add_argument("--binary", default=".build/release/regionspotd")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="rsd-measure-")
    path = os.path.join(tmp, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.settimeout(0.05)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    t0 = time.monotonic()
    proc = subprocess.Popen([args.binary, "run", "--config", args.config], env=env,
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "stderr"), "w"))
    ready = None
    rss: list[int] = []
    deadline = t0 + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            msg = sock.recv(4096).decode(errors="replace")
            if ready is None and "READY=1" in msg.split("\n"):
                ready = time.monotonic() - t0
                deadline = time.monotonic() + args.seconds
        except socket.timeout:
            pass
        r = status_kib(proc.pid, "VmRSS")
        if r:
            rss.append(r)
    hwm = status_kib(proc.pid, "VmHWM")
    t1 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        code = None
    stop = time.monotonic() - t1
    w = weights_mib(args.config)
    out = {"ready_s": ready, "peak_rss_mib": hwm / 1024 if hwm else None,
           "rss_min_mib": min(rss) / 1024 if rss else None, "rss_max_mib": max(rss) / 1024 if rss else None,
           "weights_mib": w, "peak_over_weights_mib": (hwm / 1024 - w) if hwm and w else None,
           "sigterm_to_exit_s": stop, "exit_status": code, "stderr": os.path.join(tmp, "stderr")}
    print(json.dumps(out))
    return 0 if ready is not None and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
