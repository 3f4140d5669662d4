#!/usr/bin/env python3
"""How steady the published tracks of a replay are, on footage without ground truth.

Reads the JSON lines `regionspotd replay --out` writes (regions messages) and counts what a
viewer of the annotated video sees go wrong with identities and boxes:

- ids, published region-frames, encoder runs (frames marked inferred);
- gaps: a track unpublished for some frames between two it is published on (a standing
  person vanishing for a second), with the frames missing;
- jumps: a track's box centre moving more than 1.5 widths (of the wider box) and 30 px
  from one published frame to the next (an identity handed to someone else, or a box
  catching up with a person it had lost), listed largest first with --list.

    tools/track_stability.py vtest.jsonl [other.jsonl ...] [--list 10]

docs/quality.md (ninth step) compares runs with it; it measures steadiness, not truth:
scores against ground truth come from `regionspotd eval-video`.
"""
import argparse
import json


def read(path):
    """Per track: [(frame, box)] in publishing order; inferred frame count."""
    tracks, inferred = {}, 0
    with open(path) as f:
        for line in f:
            m = json.loads(line)
            if "regions" not in m:
                continue
            inferred += bool(m.get("inferred"))
            for r in m["regions"]:
                tracks.setdefault(r["track_id"], []).append((m["frame"], r["box"]))
    return tracks, inferred


def stability(tracks):
    gaps, missing, jumps = 0, 0, []
    for tid, seen in tracks.items():
        for (fa, a), (fb, b) in zip(seen, seen[1:]):
            if fb > fa + 1:
                gaps += 1
                missing += fb - fa - 1
            width = max(a[2] - a[0], b[2] - b[0])
            d = abs((a[0] + a[2] - b[0] - b[2]) / 2) + abs((a[1] + a[3] - b[1] - b[3]) / 2)
            if d > 1.5 * width and d > 30:
                jumps.append((round(d), tid, fa, fb))
    return gaps, missing, sorted(jumps, reverse=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", help="replay --out JSON lines")
    ap.add_argument("--list", type=int, default=0, help="list this many of the largest jumps")
    a = ap.parse_args()
    print("| run | ids | region-frames | encoder runs | gaps (frames missing) | jumps |")
    print("|---|---:|---:|---:|---:|---:|")
    listed = []
    for path in a.runs:
        tracks, inferred = read(path)
        gaps, missing, jumps = stability(tracks)
        regions = sum(len(v) for v in tracks.values())
        print(f"| {path} | {len(tracks)} | {regions} | {inferred} | {gaps} ({missing}) | {len(jumps)} |")
        listed += [(path, j) for j in jumps[: a.list]]
    for path, (d, tid, fa, fb) in listed:
        print(f"{path}: track {tid} moved {d} px from frame {fa} to {fb}")


if __name__ == "__main__":
    main()
