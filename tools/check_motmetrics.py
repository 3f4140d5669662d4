#!/usr/bin/env python3
"""Writes Tests/TemporalTests/Fixtures/motmetrics_expected.json: a few small random
tracking sequences (truth + noisy hypotheses with misses, false positives, id switches and
fragments) and the MOT metrics PyPI motmetrics computes on them. The Swift test
(MOTMetricsTests) recomputes the metrics from the same boxes and must agree.

Run (versions pinned; motmetrics 1.4.0 does not work with numpy 2 / pandas 2+):
    python3 -m venv /tmp/mmvenv
    /tmp/mmvenv/bin/pip install motmetrics==1.4.0 numpy==1.26.4 pandas==1.5.3 scipy==1.11.4
    /tmp/mmvenv/bin/python tools/check_motmetrics.py
Boxes are xyxy in the JSON (motmetrics takes xywh; converted here). Distance: 1 - IoU,
pairs above 0.5 not allowed (mm.distances.iou_matrix(max_iou=0.5)).
"""
import json
import os
import sys

import numpy as np
import motmetrics as mm

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TemporalTests", "Fixtures",
                   "motmetrics_expected.json")
METRICS = ["num_frames", "num_objects", "num_predictions", "num_matches", "num_switches",
           "num_false_positives", "num_misses", "mota", "motp", "idtp", "idf1", "idp", "idr"]


def make_sequence(rng, frames, objects, miss, fp, swap_every):
    truth = []  # per frame: list of [id, x1, y1, x2, y2]
    hyps = []
    pos = rng.uniform(0, 400, size=(objects, 2))
    vel = rng.uniform(-6, 6, size=(objects, 2))
    size = rng.uniform(20, 60, size=(objects, 2))
    alive = [(int(rng.integers(0, frames // 3)), int(rng.integers(2 * frames // 3, frames + 1)))
             for _ in range(objects)]
    hyp_id = {o: 100 + o for o in range(objects)}
    next_hyp = 200
    for f in range(frames):
        pos += vel
        tf, hf = [], []
        if swap_every and f > 0 and f % swap_every == 0:
            a, b = rng.choice(objects, size=2, replace=False)
            hyp_id[a], hyp_id[b] = hyp_id[b], hyp_id[a]
        if rng.random() < 0.05:  # a fragment: one object gets a fresh hypothesis id
            o = int(rng.integers(0, objects))
            hyp_id[o] = next_hyp
            next_hyp += 1
        for o in range(objects):
            if not (alive[o][0] <= f < alive[o][1]):
                continue
            x1, y1 = pos[o]
            box = [round(float(x1), 2), round(float(y1), 2),
                   round(float(x1 + size[o][0]), 2), round(float(y1 + size[o][1]), 2)]
            tf.append([o] + box)
            if rng.random() < miss:
                continue
            j = rng.normal(0, 0.12, size=4) * np.array([size[o][0], size[o][1]] * 2)
            hb = [round(box[k] + float(j[k]), 2) for k in range(4)]
            hb = [min(hb[0], hb[2] - 1), min(hb[1], hb[3] - 1), hb[2], hb[3]]
            hf.append([hyp_id[o]] + hb)
        for _ in range(int(rng.poisson(fp))):
            x, y = rng.uniform(0, 400, size=2)
            w, h = rng.uniform(20, 60, size=2)
            hf.append([int(rng.integers(900, 905))] +
                      [round(float(v), 2) for v in (x, y, x + w, y + h)])
            # one FP id per frame at most
            ids = [h_[0] for h_ in hf]
            if len(set(ids)) != len(ids):
                hf.pop()
        truth.append(tf)
        hyps.append(hf)
    return truth, hyps


def evaluate(truth, hyps):
    acc = mm.MOTAccumulator(auto_id=True)
    for tf, hf in zip(truth, hyps):
        o = np.array([[b[1], b[2], b[3] - b[1], b[4] - b[2]] for b in tf]).reshape(-1, 4)
        h = np.array([[b[1], b[2], b[3] - b[1], b[4] - b[2]] for b in hf]).reshape(-1, 4)
        d = mm.distances.iou_matrix(o, h, max_iou=0.5)
        acc.update([b[0] for b in tf], [b[0] for b in hf], d)
    mh = mm.metrics.create()
    summary = mh.compute(acc, metrics=METRICS, name="seq")
    return {k: float(summary[k].iloc[0]) for k in METRICS}


def main():
    rng = np.random.default_rng(20261127)
    sequences = []
    settings = [(30, 4, 0.1, 0.3, 0), (40, 5, 0.2, 0.8, 9), (50, 6, 0.05, 0.5, 13), (30, 3, 0.4, 1.5, 5)]
    for frames, objects, miss, fp, swap in settings:
        truth, hyps = make_sequence(rng, frames, objects, miss, fp, swap)
        sequences.append({"truth": truth, "hypotheses": hyps, "expected": evaluate(truth, hyps)})
    doc = {"generator": "tools/check_motmetrics.py",
           "motmetrics": mm.__version__, "numpy": np.__version__,
           "boxes": "per frame [id, x1, y1, x2, y2]; distance 1 - IoU, max 0.5",
           "sequences": sequences}
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    for i, s in enumerate(sequences):
        print(i, {k: round(v, 4) for k, v in s["expected"].items()})
    print("wrote", os.path.normpath(OUT), os.path.getsize(OUT), "bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
