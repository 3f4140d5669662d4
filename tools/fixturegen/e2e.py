"""End-to-end fixture: image + boxes + vocabulary -> SAM A region tokens -> CLIP A feature
map -> head A -> logits, softmax scores and arg-max labels, assembled from the reference
pieces as RegionSpot's predictor does (see tools/REGIONSPOT_FACTS.md).
Not a script: run `python tools/make_fixtures.py --only e2e`.
"""
from __future__ import annotations

import numpy as np
import torch

from . import clip as clip_fx
from . import head as head_fx
from . import sam as sam_fx
from .common import FIXTURES, f32, make_image, save
from .templates import E2E_CLASSES, TEMPLATES, clean_class_name

IMAGE_HW = (200, 300)  # non-square; SAM A shrinks it to 171x256, CLIP squashes it to 64x64
BOXES = [[10.0, 20.0, 140.0, 180.0], [150.0, 0.0, 300.0, 120.0], [0.0, 100.0, 300.0, 200.0],
         [60.5, 40.25, 220.75, 160.5], [250.0, 150.0, 299.0, 199.0]]


def vocabulary_embeddings(model, tok, classes: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """RegionSpot get_text_feat: per class, clean the name, fill the 81 templates, encode
    (unnormalized), average over templates; then L2-normalize each class mean (no eps).
    Returns (mean (K, E), normalized (K, E))."""
    means = []
    with torch.no_grad():
        for name in classes:
            prompts = [t.format(clean_class_name(name)) for t in TEMPLATES]
            feats = model.encode_text(tok(prompts, context_length=77))   # (81, E)
            means.append(feats.mean(dim=0))
    mean = torch.stack(means)
    return mean, mean / mean.norm(dim=-1, keepdim=True)


def make(state: dict, log) -> dict:
    sam_state, clip_state, head_state = state["sam_a"], state["clip_a"], state["head_a"]
    image = make_image(*IMAGE_HW, seed=55)
    boxes = np.array(BOXES, dtype=np.float64)
    ref = sam_fx.run_reference(sam_state["sam"], image, boxes, None, None)
    model = clip_state["model"]
    pix = clip_fx.preprocess(image, clip_fx.VISION["image_size"])
    fm, _, _ = clip_fx.run_clip(model, pix, None)
    vmean, vocab = vocabulary_embeddings(model, clip_state["tok"], E2E_CLASSES)
    head = head_state["head"]
    scale = model.logit_scale.detach().double().exp()
    with torch.no_grad():
        proj = head(ref["region_tokens"], fm)
        emb = head_fx.normalize(proj)
        logits = scale * emb @ vocab.t()                                  # (N, K)
        scores = torch.softmax(logits, dim=-1)
        top, labels = scores.max(dim=-1)
    names = [E2E_CLASSES[i] for i in labels.tolist()]
    # The arg-max must not hinge on float32 noise: top-2 logit margins well above 1e-4 x max.
    top2 = logits.topk(2, dim=-1).values
    margin = float((top2[:, 0] - top2[:, 1]).min())
    assert margin > 1e-2 * float(logits.abs().max()) * 1e-1, f"e2e label margin {margin}"
    log(f"  e2e smallest top-2 logit margin {margin:.3f} (max |logit| {float(logits.abs().max()):.2f})")
    log(f"  e2e labels: {names}, scores {[round(float(s), 4) for s in top]}")
    io = {
        "image": torch.as_tensor(image),                       # (200, 300, 3) U8
        "boxes": torch.as_tensor(boxes, dtype=torch.float32),  # (N, 4) xyxy source px
        "image_embedding": f32(ref["image_embedding"]),        # (1, 32, 16, 16) SAM A
        "region_tokens": f32(ref["region_tokens"]),            # (N, 32)
        "iou": f32(ref["iou"]),                                # (N, 1)
        "pixel_values": f32(pix),                              # (1, 3, 64, 64)
        "feature_map": f32(fm),                                # (1, 17, 128)
        "vocab_mean_embeddings": f32(vmean),                   # (K, 32) template mean
        "vocab_text_embeddings": f32(vocab),                   # (K, 32) L2-normalized
        "region_embeddings": f32(emb),                         # (N, 32) normalized
        "logits": f32(logits),                                 # (N, K)
        "scores": f32(scores),                                 # (N, K) softmax over K
        "labels": labels.to(torch.int64),                      # (N,) I64 arg-max
    }
    meta = {"format": "regionspotd-fixture-1",
            "generator": "tools/make_fixtures.py (SAM A + CLIP A + head A, float64)",
            "class_names": E2E_CLASSES,
            "cleaned_names": [clean_class_name(c) for c in E2E_CLASSES],
            "templates": TEMPLATES,
            "label_names": names,
            "logit_scale": float(scale.log()),
            "weights": {"sam": "sam_a.safetensors", "clip": "clip_a.safetensors",
                        "head": "head_a.safetensors", "model_dir": "model_tiny"},
            "note": "SAM: SamPredictor path, multimask_output=False, region token = mask "
                    "token 0. CLIP: whole image, F.interpolate bilinear to 64x64, feature map "
                    "with class token. Vocabulary: 81 templates, unnormalized mean, then "
                    "L2-normalize. Region embedding / (norm + 1e-7); logits = exp(logit_scale) "
                    "x cosine; scores = softmax over the vocabulary."}
    save(FIXTURES / "e2e_io.safetensors", io, meta)
    log("  wrote e2e_io.safetensors")
    return dict(image=image, boxes=boxes, logits=logits, labels=labels)
