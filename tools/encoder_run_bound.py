#!/usr/bin/env python3
"""Lower bounds on encoder runs for a scene with ground truth (make-shapes video.json).

Encoders on demand (issue 21) can skip a keyframe only when nothing new is in view. How few
runs could any policy make on a scene? Looks happen on a grid of `step` seconds (the
keyframe window's min_interval) and no two runs may be more than `max_interval` apart.

- once-while-inside: every object is looked at once while wholly inside the picture (or,
  if it never is, while visible at all), at any time: the optimal points stabbing each
  object's interval (greedy by interval end). It ignores how long a newcomer waits.
- first-look: every newcomer is looked at on the first look after it appears, as the
  published recall asks (a newcomer waiting one second misses ten frames of its track).

    tools/encoder_run_bound.py --step 1 --max-interval 10 DIR/scene-1000/video/video.json ...
"""
import argparse
import json
import math


def fill(looks, duration, max_interval):
    """Runs at `looks` plus the ones max_interval forces between them (a run at 0 first)."""
    points = sorted(set([0.0] + looks))
    n, prev = len(points), 0.0
    for p in points[1:] + [duration]:
        n += max(0, math.ceil((p - prev) / max_interval - 1e-9) - 1)
        prev = p
    return n


def bounds(path, step, max_interval):
    d = json.load(open(path))
    fps, w, h = d["fps"], d["width"], d["height"]
    spans = {}  # track -> [first, last, first inside, last inside]
    for f in d["frames"]:
        t = f["index"] / fps
        for b, tid in zip(f["boxes"], f["tracks"]):
            s = spans.setdefault(tid, [t, t, None, None])
            s[1] = t
            if b[0] >= 1 and b[1] >= 1 and b[2] <= w - 1 and b[3] <= h - 1:
                s[2] = t if s[2] is None else s[2]
                s[3] = t
    duration = len(d["frames"]) / fps
    grid = [k * step for k in range(int(duration / step) + 1)]
    intervals = []
    for first, last, a, b in spans.values():
        lo, hi = (a, b) if a is not None else (first, last)
        on = [g for g in grid if lo - 1e-9 <= g <= hi + 1e-9]
        if on:
            intervals.append((on[0], on[-1]))
    stab = []
    for lo, hi in sorted(intervals, key=lambda x: x[1]):
        if not stab or stab[-1] < lo:
            stab.append(hi)
    first_looks = sorted(set(math.ceil(s[0] / step - 1e-9) * step for s in spans.values()))
    return len(spans), fill(stab, duration, max_interval), fill(first_looks, duration, max_interval)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--step", type=float, required=True, help="seconds between looks (min_interval)")
    ap.add_argument("--max-interval", type=float, required=True, help="keyframes.max_interval")
    ap.add_argument("truth", nargs="+", help="video.json files")
    a = ap.parse_args()
    total = [0, 0, 0]
    print("| scene | objects | once while inside | first look |")
    print("|---|---:|---:|---:|")
    for p in a.truth:
        r = bounds(p, a.step, a.max_interval)
        total = [x + y for x, y in zip(total, r)]
        print(f"| {p} | {r[0]} | {r[1]} | {r[2]} |")
    print(f"| **all** | {total[0]} | {total[1]} | {total[2]} |")


if __name__ == "__main__":
    main()
