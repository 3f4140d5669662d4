#!/usr/bin/env python3
"""Writes Tests/TemporalTests/Fixtures/motchallenge/: a small MOTChallenge sequence
(gt.txt with conf-0 "don't care" rows, hyp.txt in the same format, classes.txt) and the
numbers `regionspotd eval-video` must report for it, computed by PyPI motmetrics 1.4.0.
The Swift test (MOTChallengeTruthTests) reads the same files with eval-video's parser and
scorer and must agree.

Run (versions pinned; motmetrics 1.4.0 does not work with numpy 2 / pandas 2+):
    python3 -m venv /tmp/mmvenv
    /tmp/mmvenv/bin/pip install motmetrics==1.4.0 numpy==1.26.4 pandas==1.5.3 scipy==1.11.4
    /tmp/mmvenv/bin/python tools/check_motmetrics_gt.py

What is computed here, as eval-video does it:
- gt.txt and hyp.txt are read by motmetrics' own MOTChallenge reader
  (mm.io.loadtxt(fmt="mot15-2D"), which also moves the 1-based coordinates to 0-based);
- frames 1..N are scored, N the last frame of either file;
- don't care (the MOTChallenge devkit's rule): per frame, hypotheses are assigned one to one
  to all truth boxes (scipy's linear_sum_assignment on 1 - IoU, pairs with IoU < 0.5 not
  allowed); a hypothesis assigned to a conf-0 box is dropped; conf-0 boxes are not scored;
- MOT metrics by mm.metrics on mm.distances.iou_matrix(max_iou=0.5) of what remains;
- label accuracy on motmetrics' MATCH/SWITCH events: the hypothesis' class name equals the
  object's (classes.txt line k names class k; an object of an unnamed class is left out);
- unique hypothesis ids, regions per frame: over every hypothesis row (before dropping).
"""
import json
import os
import sys

import numpy as np
import motmetrics as mm
from scipy.optimize import linear_sum_assignment

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TemporalTests", "Fixtures", "motchallenge")
CLASSES = ["red square", "blue circle", "", "yellow star"]  # class 3 deliberately unnamed
MIN_IOU = 0.5


def make_sequence(rng, frames=24, objects=5):
    """gt rows [frame, id, x, y, w, h, conf, class, visibility] (1-based pixels), hyp rows
    [frame, id, x, y, w, h, score, class, -1]."""
    gt, hyp = [], []
    pos = rng.uniform(20, 300, size=(objects, 2))
    vel = rng.uniform(-5, 5, size=(objects, 2))
    size = rng.uniform(30, 70, size=(objects, 2))
    classes = [1, 2, 3, 4, 1][:objects]
    alive = [(1, frames), (1, 16), (5, frames), (3, 20), (8, frames)][:objects]
    dont_care_object = 4  # object 4 is conf 0 throughout (a distractor)
    hyp_id = {o: 10 + o for o in range(objects)}
    for f in range(1, frames + 1):
        pos += vel
        if f == 12:  # an identity swap between objects 0 and 2
            hyp_id[0], hyp_id[2] = hyp_id[2], hyp_id[0]
        if f == 18:  # a fragment: object 1 gets a new hypothesis id
            hyp_id[1] = 40
        for o in range(objects):
            if not (alive[o][0] <= f <= alive[o][1]):
                continue
            x, y = round(float(pos[o][0])), round(float(pos[o][1]))
            w, h = round(float(size[o][0])), round(float(size[o][1]))
            conf = 0 if (o == dont_care_object or (o == 3 and 9 <= f <= 11)) else 1
            gt.append([f, o + 1, x, y, w, h, conf, classes[o], round(float(rng.uniform(0.3, 1)), 2)])
            if rng.random() < 0.15:
                continue  # a miss
            j = rng.normal(0, 0.08, size=4) * np.array([w, h, w, h])
            label = classes[o] if rng.random() > 0.2 else 1 + (classes[o] % 4)  # 20 % wrong labels
            hyp.append([f, hyp_id[o], round(x + float(j[0]), 2), round(y + float(j[1]), 2),
                        round(max(5.0, w + float(j[2])), 2), round(max(5.0, h + float(j[3])), 2),
                        round(float(rng.uniform(0.3, 1)), 2), label, -1])
        for k in range(int(rng.poisson(0.6))):  # false positives, one id per frame and slot
            x, y = rng.uniform(0, 350, size=2)
            w, h = rng.uniform(20, 60, size=2)
            hyp.append([f, 90 + k, round(float(x), 2), round(float(y), 2), round(float(w), 2), round(float(h), 2),
                        round(float(rng.uniform(0.1, 0.6)), 2), int(rng.integers(1, 5)), -1])
    return gt, hyp


def write_rows(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(",".join(str(v) for v in r) + "\n")


def evaluate(gt_path, hyp_path):
    gt = mm.io.loadtxt(gt_path, fmt="mot15-2D")
    hyp = mm.io.loadtxt(hyp_path, fmt="mot15-2D")
    last = int(max(gt.index.get_level_values(0).max(), hyp.index.get_level_values(0).max()))
    acc = mm.MOTAccumulator(auto_id=False)
    gt_class, hyp_class = {}, {}
    dont_care = dropped = cared = published = 0
    hyp_ids = set()
    for f in range(1, last + 1):
        g = gt.loc[f] if f in gt.index.get_level_values(0) else gt.iloc[0:0]
        h = hyp.loc[f] if f in hyp.index.get_level_values(0) else hyp.iloc[0:0]
        gb = g[["X", "Y", "Width", "Height"]].values
        hb = h[["X", "Y", "Width", "Height"]].values
        gids, hids = list(g.index), list(h.index)
        published += len(hids)
        hyp_ids.update(hids)
        care = (g["Confidence"].values != 0)
        dont_care += int((~care).sum())
        keep = np.ones(len(hids), dtype=bool)
        if (~care).any() and len(hids):
            d = mm.distances.iou_matrix(hb, gb, max_iou=1 - MIN_IOU)  # hypotheses x truth
            cost = np.where(np.isfinite(d), d, 1e6)
            for r, c in zip(*linear_sum_assignment(cost)):
                if np.isfinite(d[r, c]) and not care[c]:
                    keep[r] = False
        dropped += int((~keep).sum())
        cared += int(care.sum())
        for o, c in zip(gids, g["ClassId"].values):
            gt_class[(f, o)] = int(c)
        for i, c in zip(hids, h["ClassId"].values):
            hyp_class[(f, i)] = int(c)
        d = mm.distances.iou_matrix(gb[care], hb[keep], max_iou=1 - MIN_IOU)
        acc.update([o for o, k in zip(gids, care) if k], [i for i, k in zip(hids, keep) if k], d, frameid=f)
    names = ["num_frames", "num_objects", "num_predictions", "num_matches", "num_switches", "num_false_positives",
             "num_misses", "num_unique_objects", "mota", "motp", "idtp", "idf1", "idp", "idr", "precision", "recall"]
    s = mm.metrics.create().compute(acc, metrics=names, name="seq")
    m = {k: float(s[k].iloc[0]) for k in names}
    ev = acc.mot_events
    pairs = correct = 0
    for (f, _), row in ev[ev["Type"].isin(["MATCH", "SWITCH"])].iterrows():
        name = CLASSES[gt_class[(f, row["OId"])] - 1]
        if not name:
            continue
        pairs += 1
        hname = CLASSES[hyp_class[(f, row["HId"])] - 1]
        correct += int(hname == name)
    assert cared == m["num_objects"] and published - dropped == m["num_predictions"]
    return {
        "frames_scored": int(m["num_frames"]), "truth_objects": int(m["num_objects"]),
        "dont_care_objects": dont_care, "published_regions": published, "regions_on_dont_care": dropped,
        "predictions": int(m["num_predictions"]), "true_positives": int(m["num_matches"] + m["num_switches"]),
        "false_positives": int(m["num_false_positives"]), "misses": int(m["num_misses"]),
        "id_switches": int(m["num_switches"]), "precision": m["precision"], "recall": m["recall"],
        "mota": m["mota"], "motp": m["motp"], "idf1": m["idf1"], "idp": m["idp"], "idr": m["idr"],
        "unique_truth_objects": int(m["num_unique_objects"]), "unique_hypothesis_ids": len(hyp_ids),
        "label_pairs": pairs, "label_correct": correct, "label_accuracy": correct / pairs if pairs else None,
        "regions_per_frame": published / m["num_frames"], "truth_per_frame": cared / m["num_frames"],
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261204)
    gt, hyp = make_sequence(rng)
    gt_path, hyp_path = os.path.join(OUT, "gt.txt"), os.path.join(OUT, "hyp.txt")
    write_rows(gt_path, gt)
    write_rows(hyp_path, hyp)
    with open(os.path.join(OUT, "classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    expected = evaluate(gt_path, hyp_path)
    doc = {"generator": "tools/check_motmetrics_gt.py", "motmetrics": mm.__version__, "numpy": np.__version__,
           "min_iou": MIN_IOU, "expected": expected}
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print(json.dumps(expected, indent=1, sort_keys=True))
    print("wrote", os.path.normpath(OUT), file=sys.stderr)


if __name__ == "__main__":
    main()
