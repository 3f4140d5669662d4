"""SAM parity fixtures from PyPI `segment-anything` 1.0 (imported by tools/make_fixtures.py).

Builds Sam from the library's own classes at small configurations with random weights,
runs the SamPredictor path (ResizeLongestSide through PIL, normalize, pad, apply_boxes /
apply_coords, multimask_output=False) and records the region token = mask token 0 after
the two-way transformer (hs[:, 1, :] in MaskDecoder.predict_masks).
Not a script: run `python tools/make_fixtures.py --only sam`.
"""
from __future__ import annotations

import contextlib

from dataclasses import dataclass, field
from functools import partial

import numpy as np
import torch
from segment_anything import SamPredictor
from segment_anything.modeling import (ImageEncoderViT, MaskDecoder, PromptEncoder, Sam,
                                       TwoWayTransformer)
from segment_anything.modeling.prompt_encoder import PositionEmbeddingRandom

from .common import FIXTURES, check, f32, make_image, randomize_, save


@dataclass
class SamCfg:
    name: str
    img_size: int
    embed_dim: int
    depth: int
    heads: int
    window: int
    global_attn: tuple[int, ...]
    out_chans: int          # = prompt embed dim = two-way transformer dim
    dec_heads: int          # 8 in both (SAM's builder fixes it; shapes cannot tell it)
    dec_mlp: int
    iou_hidden: int
    mask_in_chans: int
    image_hw: tuple[int, int]
    boxes: list[list[float]]
    points: list[list[float]]
    point_labels: list[int]
    seed: int
    image_seed: int
    patch: int = 16
    extra: dict = field(default_factory=dict)


CONFIG_A = SamCfg(
    name="sam_a", img_size=256, embed_dim=64, depth=3, heads=4, window=5, global_attn=(2,),
    out_chans=32, dec_heads=8, dec_mlp=64, iou_hidden=32, mask_in_chans=16,
    image_hw=(240, 240),  # square source, enlarged 240 -> 256 (PIL bilinear upsampling)
    boxes=[[20.0, 30.0, 120.0, 140.0], [100.5, 60.25, 230.0, 200.75], [5.0, 150.0, 90.0, 235.0],
           [60.0, 10.0, 180.0, 110.0]],
    points=[[[70.0, 80.0]], [[180.5, 120.25]], [[30.0, 200.0]]],
    point_labels=[1, 1, 0],
    seed=1001, image_seed=11)

CONFIG_B = SamCfg(
    name="sam_b", img_size=192, embed_dim=48, depth=4, heads=2, window=4, global_attn=(1, 3),
    out_chans=48, dec_heads=8, dec_mlp=40, iou_hidden=20, mask_in_chans=8,
    image_hw=(150, 230),  # non-square source, shrunk 230 -> 192 (antialiased) and padded
    boxes=[[0.0, 0.0, 100.0, 80.0], [130.0, 50.0, 230.0, 150.0], [0.0, 20.5, 229.5, 149.0],
           [40.0, 0.0, 160.0, 150.0], [200.0, 100.0, 230.0, 150.0]],
    points=[[[0.0, 0.0]], [[229.0, 149.0]], [[115.5, 75.5]], [[60.0, 120.0]]],
    point_labels=[1, 0, 1, 1],
    seed=2002, image_seed=22)


def build_sam(c: SamCfg) -> Sam:
    g = c.img_size // c.patch
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=c.img_size, patch_size=c.patch, in_chans=3, embed_dim=c.embed_dim,
            depth=c.depth, num_heads=c.heads, mlp_ratio=4.0, out_chans=c.out_chans,
            qkv_bias=True, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_abs_pos=True, use_rel_pos=True, window_size=c.window,
            global_attn_indexes=c.global_attn),
        prompt_encoder=PromptEncoder(
            embed_dim=c.out_chans, image_embedding_size=(g, g),
            input_image_size=(c.img_size, c.img_size), mask_in_chans=c.mask_in_chans),
        mask_decoder=MaskDecoder(
            transformer_dim=c.out_chans,
            transformer=TwoWayTransformer(depth=2, embedding_dim=c.out_chans,
                                          num_heads=c.dec_heads, mlp_dim=c.dec_mlp),
            num_multimask_outputs=3, iou_head_depth=3, iou_head_hidden_dim=c.iou_hidden),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375])
    randomize_(sam, c.seed)
    sam.eval()
    return sam


def _capture_tokens(sam: Sam):
    """Forward hook on the two-way transformer: keeps hs (B, T, C) of the last call."""
    store = {}

    def hook(_m, _inp, out):
        store["hs"] = out[0].detach().clone()
    handle = sam.mask_decoder.transformer.register_forward_hook(hook)
    return store, handle


def _replay_decoder(sam: Sam, emb, image_pe, sparse, dense):
    """Re-run MaskDecoder.predict_masks step by step; returns (masks0, iou0, hs).
    Used to prove the captured region token is the one the library's masks come from."""
    md = sam.mask_decoder
    out_tok = torch.cat([md.iou_token.weight, md.mask_tokens.weight], dim=0)
    out_tok = out_tok.unsqueeze(0).expand(sparse.size(0), -1, -1)
    tokens = torch.cat((out_tok, sparse), dim=1)                      # (N, 5+k, C)
    src = torch.repeat_interleave(emb, tokens.shape[0], dim=0) + dense
    pos = torch.repeat_interleave(image_pe, tokens.shape[0], dim=0)
    b, c, h, w = src.shape
    hs, src = md.transformer(src, pos, tokens)
    region = hs[:, 1, :]                                              # mask token 0
    up = md.output_upscaling(src.transpose(1, 2).view(b, c, h, w))    # (N, C/8, 4h, 4w)
    hyper = md.output_hypernetworks_mlps[0](region)                   # (N, C/8)
    bu, cu, hu, wu = up.shape
    mask0 = (hyper.unsqueeze(1) @ up.view(bu, cu, hu * wu)).view(bu, 1, hu, wu)
    iou0 = md.iou_prediction_head(hs[:, 0, :])[:, :1]
    return mask0, iou0, hs


@contextlib.contextmanager
def _pe_in_model_dtype():
    """segment-anything casts prompt coordinates and the dense-PE grid to float32 before
    the Fourier projection (prompt_encoder.py: forward_with_coords `.to(torch.float)`,
    forward `dtype=torch.float32`). For the float64 reference, cast them to the gaussian
    matrix's dtype instead; the float32 run uses the library unpatched."""
    orig = PositionEmbeddingRandom._pe_encoding

    def patched(self, coords):
        return orig(self, coords.to(self.positional_encoding_gaussian_matrix.dtype))
    PositionEmbeddingRandom._pe_encoding = patched
    try:
        yield
    finally:
        PositionEmbeddingRandom._pe_encoding = orig


def run_reference(sam, *args, dtype=torch.float64):
    if dtype == torch.float64:
        with _pe_in_model_dtype():
            return _run_reference(sam, *args, dtype=dtype)
    return _run_reference(sam, *args, dtype=dtype)


def _run_reference(sam: Sam, image: np.ndarray, boxes: np.ndarray | None,
                  points: np.ndarray | None, labels: np.ndarray | None, dtype=torch.float64):
    """The SamPredictor path in `dtype`. Returns a dict of outputs."""
    sam = sam.to(dtype)
    pred = SamPredictor(sam)
    pred.set_image(image)  # apply_image (PIL bilinear resize) -> preprocess -> encoder
    resized = pred.transform.apply_image(image)
    inp = sam.preprocess(torch.as_tensor(resized).permute(2, 0, 1)[None].to(dtype))
    orig = image.shape[:2]
    bt = pt = lt = None
    if boxes is not None:
        # SamPredictor.predict would cast to float32; keep dtype so the float64 run stays
        # float64 (the float32 run casts exactly like predict()).
        bt = torch.as_tensor(pred.transform.apply_boxes(boxes, orig), dtype=dtype)
    if points is not None:
        pt = torch.as_tensor(pred.transform.apply_coords(points, orig), dtype=dtype)
        lt = torch.as_tensor(labels, dtype=torch.int)
    store, handle = _capture_tokens(sam)
    with torch.no_grad():
        masks, iou, low = pred.predict_torch(pt, lt, bt, None, multimask_output=False,
                                             return_logits=True)
        handle.remove()
        hs_hook = store["hs"]
        sparse, dense = sam.prompt_encoder(points=(pt, lt) if pt is not None else None,
                                           boxes=bt, masks=None)
        image_pe = sam.prompt_encoder.get_dense_pe()
        mask0, iou0, hs = _replay_decoder(sam, pred.features, image_pe, sparse, dense)
    # The captured token path reproduces the library's own outputs.
    check("replayed low-res mask", mask0, low, 1e-12 if dtype == torch.float64 else 1e-5)
    check("replayed iou", iou0, iou, 1e-12 if dtype == torch.float64 else 1e-5)
    check("hooked vs replayed hs", hs_hook, hs, 0.0)
    return dict(input=inp, resized=torch.as_tensor(resized), image_embedding=pred.features,
                image_pe=image_pe, sparse_embeddings=sparse, region_tokens=hs[:, 1, :],
                iou=iou, low_res_masks=low, masks=masks, scaled_boxes=bt, scaled_points=pt)


def make(c: SamCfg, log) -> dict:
    sam = build_sam(c)
    image = make_image(*c.image_hw, seed=c.image_seed)
    boxes = np.array(c.boxes, dtype=np.float64)
    points = np.array(c.points, dtype=np.float64)
    labels = np.array(c.point_labels, dtype=np.int64)[:, None]

    weights = {k: f32(v) for k, v in sam.state_dict().items()}
    ref = run_reference(sam, image, boxes, None, None)
    refp = run_reference(sam, image, None, points, labels)
    # Sensitivity: the float32 library run must agree with the float64 one far inside the
    # Swift tolerance, or the fixture would be too fragile to test against.
    sam32 = build_sam(c).float()
    r32 = run_reference(sam32, image, boxes, None, None, dtype=torch.float32)
    for k in ("image_embedding", "region_tokens", "iou", "low_res_masks"):
        e = check(f"{c.name} f32 vs f64 {k}", r32[k], ref[k], 2e-5)
        log(f"  {c.name}: float32 library vs float64 reference {k}: {e:.2e}")

    g = c.img_size // c.patch
    meta = {
        "format": "regionspotd-fixture-1",
        "generator": "tools/make_fixtures.py (segment-anything 1.0, float64 reference)",
        "config": {k: v for k, v in c.__dict__.items() if k not in ("extra",)},
        "resized_hw": list(ref["resized"].shape[:2]),
        "grid": g,
        "note": "region_tokens = mask token 0 after the two-way transformer (multimask off); "
                "boxes/points in source pixels; iou/low_res_masks for mask 0",
    }
    io = {
        "image": torch.as_tensor(image),                               # (H, W, 3) U8
        "boxes": torch.as_tensor(boxes, dtype=torch.float32),          # (N, 4) xyxy source px
        "scaled_boxes": f32(ref["scaled_boxes"]),                      # (N, 4) after apply_boxes
        "resized": ref["resized"],                                     # (h', w', 3) U8 (PIL)
        "input": f32(ref["input"]),                                    # (1, 3, S, S)
        "image_embedding": f32(ref["image_embedding"]),                # (1, C, g, g)
        "image_pe": f32(ref["image_pe"]),                              # (1, C, g, g)
        "sparse_embeddings": f32(ref["sparse_embeddings"]),            # (N, 2, C)
        "region_tokens": f32(ref["region_tokens"]),                    # (N, C)
        "iou": f32(ref["iou"]),                                        # (N, 1)
        "low_res_masks": f32(ref["low_res_masks"]),                    # (N, 1, 4g, 4g)
        "points": torch.as_tensor(points, dtype=torch.float32),        # (P, 1, 2) source px
        "point_labels": torch.as_tensor(labels, dtype=torch.int32),    # (P, 1)
        "point_sparse_embeddings": f32(refp["sparse_embeddings"]),     # (P, 2, C) (pad point)
        "point_region_tokens": f32(refp["region_tokens"]),             # (P, C)
        "point_iou": f32(refp["iou"]),                                 # (P, 1)
        "point_low_res_masks": f32(refp["low_res_masks"]),             # (P, 1, 4g, 4g)
    }
    wpath = FIXTURES / f"{c.name}.safetensors"
    save(wpath, weights, {"format": "sam-official-state-dict", "config": meta["config"]})
    save(FIXTURES / f"{c.name}_io.safetensors", io, meta)
    log(f"  wrote {wpath.name} ({len(weights)} tensors) and {c.name}_io.safetensors")
    refp["labels"] = torch.as_tensor(labels, dtype=torch.int)
    return dict(sam=sam, image=image, boxes=boxes, ref=ref, ref_points=refp, weights=weights, cfg=c)
