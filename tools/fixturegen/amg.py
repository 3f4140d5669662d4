"""Everything-mode fixture: segment-anything 1.0's SamAutomaticMaskGenerator on SAM config
A (the committed sam_a.safetensors weights) at a small grid (imported by
tools/make_fixtures.py; run `python tools/make_fixtures.py --only amg`).

crop_n_layers = 0 and min_mask_region_area = 0, so the generator is: a point grid, multimask
decoding, predicted-IoU filter, stability score, boxes from masks, box NMS. Random weights
give noisy masks whose boxes span most of the picture, so the thresholds are set for them
(Sam.mask_threshold and the generator's own parameters; recorded in the metadata) so
that masks of different extents survive and NMS drops some of them. Records the candidates reaching NMS (captured from the library's own call) and the
generator's output (bbox xywh -> xyxy, predicted_iou, stability_score, point_coords).
Asserts that every decision has a margin (IoU and stability thresholds, box edges, score
order) far above the Swift tolerance, and that the float64 run decides the same.
"""
from __future__ import annotations

import numpy as np
import torch
import segment_anything.automatic_mask_generator as amg_mod
from safetensors.torch import load_file
from segment_anything import SamAutomaticMaskGenerator, SamPredictor
from segment_anything.utils.amg import batched_mask_to_box, build_point_grid
from torchvision.ops.boxes import batched_nms as tv_batched_nms

from . import sam as sam_fx
from .common import FIXTURES, make_image, save

IMAGE_HW = (150, 200)       # non-square: 200 -> 256 wide, 192 high + padding
IMAGE_SEED = 33
PARAMS = dict(points_per_side=10, points_per_batch=24, pred_iou_thresh=0.2,
              stability_score_thresh=0.4, stability_score_offset=0.02, box_nms_thresh=0.7)
MASK_THRESHOLD = 0.4         # the random model's logits are small (std ~0.2)
DELTA = 1e-4                 # logit / score perturbation every decision must survive


def _load_sam(dtype):
    sam = sam_fx.build_sam(sam_fx.CONFIG_A)
    sam.load_state_dict(load_file(str(FIXTURES / "sam_a.safetensors")))
    sam.mask_threshold = MASK_THRESHOLD
    return sam.to(dtype).eval()


def _run(dtype):
    """The library's generator; returns (candidates reaching NMS, output annotations)."""
    sam = _load_sam(dtype)
    captured = {}

    def spy(boxes, scores, idxs, iou_threshold):
        captured["boxes"], captured["scores"] = boxes.clone(), scores.clone()
        # float64 run: the library passes float32 boxes with float64 scores, which
        # torchvision refuses; boxes are integers, so the cast changes nothing.
        return tv_batched_nms(boxes.to(scores.dtype), scores, idxs, iou_threshold)

    orig = amg_mod.batched_nms
    amg_mod.batched_nms = spy
    try:
        gen = SamAutomaticMaskGenerator(sam, **PARAMS)
        ctx = sam_fx._pe_in_model_dtype() if dtype == torch.float64 else torch.no_grad()
        with ctx, torch.no_grad():
            anns = gen.generate(make_image(*IMAGE_HW, seed=IMAGE_SEED))
    finally:
        amg_mod.batched_nms = orig
    return captured, anns


def _margins(log):
    """Every mask decision of the float32 library path must survive logits +- DELTA."""
    sam = _load_sam(torch.float32)
    image = make_image(*IMAGE_HW, seed=IMAGE_SEED)
    pred = SamPredictor(sam)
    pred.set_image(image)
    n = PARAMS["points_per_side"]
    pts = build_point_grid(n) * np.array(IMAGE_HW[::-1])[None, :]
    tp = torch.as_tensor(pred.transform.apply_coords(pts, IMAGE_HW))
    with torch.no_grad():
        m, iou, _ = pred.predict_torch(tp[:, None], torch.ones(len(pts), 1, dtype=torch.int),
                                       multimask_output=True, return_logits=True)
    m, iou = m.flatten(0, 1).double(), iou.flatten(0, 1).double()
    it, st = PARAMS["pred_iou_thresh"], PARAMS["stability_score_thresh"]
    off, t = PARAMS["stability_score_offset"], MASK_THRESHOLD
    assert float((iou - it).abs().min()) > DELTA, "a predicted IoU sits on the threshold"
    passing = iou > it
    mk = m[passing]

    def count(x, thr):
        return (x > thr).sum((-1, -2)).double()
    s_min = count(mk, t + off + DELTA) / count(mk, t - off - DELTA)
    s_max = count(mk, t + off - DELTA) / count(mk, t - off + DELTA)
    s_min, s_max = s_min.nan_to_num(0), s_max.nan_to_num(0)
    assert bool(((s_min >= st) == (s_max >= st)).all()), "a stability score sits on the threshold"
    kept = s_min >= st
    lo = batched_mask_to_box(mk[kept] > t + DELTA)
    hi = batched_mask_to_box(mk[kept] > t - DELTA)
    assert torch.equal(lo, hi), "a box edge pixel sits on the mask threshold"
    log(f"  amg: {int(passing.sum())}/{len(iou)} masks pass IoU, {int(kept.sum())} pass stability; "
        f"decisions stable under logits +- {DELTA}")


def make(log) -> None:
    cand32, anns32 = _run(torch.float32)
    cand64, anns64 = _run(torch.float64)
    assert torch.equal(cand32["boxes"], cand64["boxes"].to(cand32["boxes"].dtype)), "f32/f64 candidates differ"
    assert [a["bbox"] for a in anns32] == [a["bbox"] for a in anns64], "f32/f64 kept boxes differ"
    _margins(log)
    scores = cand32["scores"].double()
    gaps = (scores[:, None] - scores[None, :]).abs() + torch.eye(len(scores), dtype=torch.float64)
    assert float(gaps.min()) > DELTA, "two candidate scores too close: NMS order fragile"
    kept_boxes = torch.tensor([[a["bbox"][0], a["bbox"][1], a["bbox"][0] + a["bbox"][2],
                                a["bbox"][1] + a["bbox"][3]] for a in anns32], dtype=torch.float32)
    io = {
        "image": torch.as_tensor(make_image(*IMAGE_HW, seed=IMAGE_SEED)),                # (H, W, 3) U8
        "candidate_boxes": cand32["boxes"].float(),                                        # (K, 4) xyxy, NMS input order
        "candidate_iou": cand32["scores"].float(),                                         # (K,)
        "boxes": kept_boxes,                                                               # (F, 4) xyxy, output order
        "predicted_iou": torch.tensor([a["predicted_iou"] for a in anns32], dtype=torch.float32),      # (F,)
        "stability_score": torch.tensor([a["stability_score"] for a in anns32], dtype=torch.float32),  # (F,)
        "point_coords": torch.tensor([a["point_coords"][0] for a in anns32], dtype=torch.float32),     # (F, 2) source px
    }
    meta = {
        "format": "regionspotd-fixture-1",
        "generator": "tools/make_fixtures.py --only amg (segment-anything 1.0 SamAutomaticMaskGenerator, float32 library run)",
        "weights": "sam_a.safetensors",
        "params": PARAMS, "mask_threshold": MASK_THRESHOLD, "crop_n_layers": 0,
        "note": "boxes xyxy (inclusive pixel indices) in source pixels; candidate_* = what reached box NMS",
    }
    save(FIXTURES / "amg_a_io.safetensors", io, meta)
    log(f"  wrote amg_a_io.safetensors: {len(cand32['scores'])} candidates, {len(anns32)} kept")
