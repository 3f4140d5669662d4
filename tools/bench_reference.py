#!/usr/bin/env python3
"""PyTorch reference timings for the rows of `regionspotd bench` (same names, same shapes).

    /path/to/.venv-fixtures/bin/python tools/bench_reference.py [--threads 2] [--quick] [--json] [--filter NAME]

Environment: tools/requirements-fixtures.txt (torch 2.15.0, segment-anything 1.0,
open-clip-torch 3.3.0), CPU only, fp32, random weights (timing does not depend on them),
torch.set_num_threads(--threads). Each row: one warm-up run, then the median of N runs,
inside torch.inference_mode(). Rows:

  sgemm_ceiling         torch.mm [4096, 768] x [768, 3072]
  sam_vit_b_encoder     segment_anything ViT-B image encoder, 1x3x1024x1024
  sam_decoder_tokens_16 prompt encoder + mask decoder for 16 boxes, multimask off (SAM's
                        decoder always upscales; there is no tokens-only path)
  sam_decoder_masks_16  the same call (masks are produced either way)
  clip_b16_vision       open_clip ViT-B-16 visual tower, 1x3x224x224
  text_class_81         open_clip ViT-B-16 text tower, 81 templates x one class, padded to 77
  head_16               RegionSpot head (torch TransformerDecoder, 3 post-norm layers, 8 heads,
                        FFN 2048, width 768) for 16 region tokens over the 197-token feature map
  keyframe_bb_16        encoder + CLIP-B/16 vision + decoder (16 boxes) + head, back to back
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))


def timeit(fn, reps: int) -> list[float]:
    fn()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return sorted(out)


class Head(nn.Module):
    """RegionSpot's head layout: to_clip, post-norm DETR decoder layers, final norm, projector."""

    def __init__(self, sam_dim=256, d_model=768, text_dim=512, layers=3, ffn=2048):
        super().__init__()
        self.to_clip = nn.Linear(sam_dim, d_model)
        layer = nn.TransformerDecoderLayer(d_model, 8, dim_feedforward=ffn, dropout=0.0, activation="relu",
                                           batch_first=True, norm_first=False)
        self.decoder = nn.TransformerDecoder(layer, layers, norm=nn.LayerNorm(d_model))
        self.projector = nn.Linear(d_model, text_dim)

    def forward(self, region_tokens, feature_map):
        return self.projector(self.decoder(self.to_clip(region_tokens)[None], feature_map))[0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--filter", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    reps = 2 if args.quick else 5

    def wants(name: str) -> bool:
        return args.filter is None or args.filter in name or name == "sgemm_ceiling"

    ceiling = 0.0

    def row(name: str, gflop: float, fn, n: int | None = None) -> None:
        nonlocal ceiling
        if not wants(name):
            return
        t = timeit(fn, n or reps)
        med = statistics.median(t)
        gflops = gflop / (med / 1000) if gflop else 0.0
        if name == "sgemm_ceiling":
            ceiling = gflops
        if args.json:
            print(json.dumps({"name": name, "median_ms": med, "min_ms": t[0], "max_ms": t[-1], "gflop": gflop,
                              "gflops": gflops, "ceiling_gflops": ceiling, "threads": args.threads,
                              "impl": f"torch {torch.__version__}"}), flush=True)
        else:
            print(f"{name:26s}{gflop:9.2f} {med:11.2f} {t[0]:10.2f} {t[-1]:10.2f}", flush=True)

    if not args.json:
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
        print("name                          GFLOP   median ms     min ms     max ms")
    a, b, c = torch.randn(4096, 768), torch.randn(768, 3072), torch.empty(4096, 3072)
    with torch.inference_mode():
        # into a preallocated output: only the GEMM is timed, as in `regionspotd bench`
        row("sgemm_ceiling", 2 * 4096 * 768 * 3072 / 1e9, lambda: torch.mm(a, b, out=c), 3 if args.quick else 7)

        sam = None
        if any(wants(n) for n in ("sam_vit_b_encoder", "sam_decoder_tokens_16", "keyframe_bb_16")):
            from segment_anything import sam_model_registry
            sam = sam_model_registry["vit_b"]().eval()
            img = torch.randn(1, 3, 1024, 1024)
            emb = sam.image_encoder(img)
            boxes = torch.tensor([[x, y, x + 60 + (i % 5) * 20, y + 80 + (i % 3) * 30]
                                  for i in range(16) for x, y in [(float((i * 97) % 900), float((i * 61) % 600))]])

            def decode(e):
                sparse, dense = sam.prompt_encoder(points=None, boxes=boxes, masks=None)
                return sam.mask_decoder(image_embeddings=e, image_pe=sam.prompt_encoder.get_dense_pe(),
                                        sparse_prompt_embeddings=sparse, dense_prompt_embeddings=dense,
                                        multimask_output=False)

            row("sam_vit_b_encoder", 0, lambda: sam.image_encoder(img), 1 if args.quick else 3)
            row("sam_decoder_tokens_16", 0, lambda: decode(emb))
            row("sam_decoder_masks_16", 0, lambda: decode(emb))

        import open_clip
        clip = open_clip.create_model("ViT-B-16", pretrained=None).eval()
        pixels = torch.randn(1, 3, 224, 224)
        row("clip_b16_vision", 0, lambda: clip.visual(pixels))
        if wants("text_class_81"):
            from fixturegen.templates import TEMPLATES
            tok = open_clip.get_tokenizer("ViT-B-16")
            text = tok([t.format("traffic light") for t in TEMPLATES])  # [81, 77]
            row("text_class_81", 0, lambda: clip.encode_text(text))
        head = Head().eval()
        fm = torch.randn(1, 197, 768)
        tokens = torch.randn(16, 256)
        row("head_16", 0, lambda: head(tokens, fm))
        if sam is not None:
            def keyframe():
                e = sam.image_encoder(img)
                clip.visual(pixels)
                decode(e)
                head(tokens, fm)
            row("keyframe_bb_16", 0, keyframe, 1 if args.quick else 3)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
