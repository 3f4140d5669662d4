#!/usr/bin/env python3
"""Regenerate every committed parity fixture under Tests/RecognizerTests/Fixtures/.

How to run (CI never does; the outputs are committed):

    python3.11 -m venv .venv-fixtures && . .venv-fixtures/bin/activate
    pip install -r tools/requirements-fixtures.txt
    python tools/make_fixtures.py            # everything, ~1-2 min on 2 cores
    python tools/make_fixtures.py --only sam # or: sam,sam_hf,clip,tokenizer,head,e2e,model,amg,training

Everything uses random weights at small configurations drawn from fixed seeds, so the
output is deterministic (same bytes on a re-run with the pinned versions). References are
computed in float64 by the reference libraries (segment-anything, open_clip, transformers,
torch.nn.TransformerDecoder) and stored as float32. Each part asserts inside this script
that its captured path reproduces the library's own outputs. A tiny RegionSpot-style
torch checkpoint is also written to a temporary directory (not committed) for
tools/check_convert.sh. See Tests/RecognizerTests/Fixtures/README.md for the file list.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

PARTS = ["sam", "sam_hf", "clip", "tokenizer", "head", "e2e", "model", "amg", "training"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default=",".join(PARTS),
                    help="comma-separated parts: " + ",".join(PARTS))
    ap.add_argument("--checkpoint-dir", default=None,
                    help="where the tiny RegionSpot .pth goes (default: a temp dir, printed)")
    args = ap.parse_args()
    parts = [p.strip() for p in args.only.split(",") if p.strip()]
    for p in parts:
        if p not in PARTS:
            ap.error(f"unknown part {p!r}; known: {', '.join(PARTS)}")
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)

    def log(msg: str) -> None:
        print(msg, flush=True)

    # Parts depend on each other (head needs SAM A and CLIP A, ...); a prerequisite is
    # regenerated (and rewritten, byte-identical) whenever a later part needs it.
    need = set(parts)
    if need & {"head", "e2e", "model"}:
        need |= {"sam", "clip", "head"}
    if "sam_hf" in need:
        need.add("sam")
    from fixturegen import sam as sam_fx
    state: dict = {}
    t0 = time.time()
    if "sam" in need:
        log("SAM config A / B")
        state["sam_a"] = sam_fx.make(sam_fx.CONFIG_A, log)
        state["sam_b"] = sam_fx.make(sam_fx.CONFIG_B, log)
    if "sam_hf" in need:
        from fixturegen import sam_hf
        log("SAM config A in Hugging Face naming")
        sam_hf.make(state["sam_a"], log)
    if "tokenizer" in need:
        from fixturegen import tokenizer
        log("BPE tokenizer cases")
        tokenizer.make(log)
    if "clip" in need:
        from fixturegen import clip as clip_fx
        log("CLIP A (open_clip, OpenAI naming) + Hugging Face copy")
        state["clip_a"] = clip_fx.make(log)
    if "head" in need:
        from fixturegen import head as head_fx
        log("RegionSpot head A")
        state["head_a"] = head_fx.make(state["clip_a"], state["sam_a"], log)
    if need & {"e2e", "model"}:
        from fixturegen import e2e
        log("End to end (SAM A + CLIP A + head A)")
        state["e2e"] = e2e.make(state, log)
    if "model" in need:
        from fixturegen import checkpoint
        log("Tiny RegionSpot checkpoint -> model_tiny/")
        checkpoint.make(state, args.checkpoint_dir, log)
    if "amg" in need:   # reads the committed sam_a.safetensors (regenerate `sam` first if it changed)
        from fixturegen import amg
        log("SAM automatic mask generator on SAM A")
        amg.make(log)
    if "training" in need:
        from fixturegen import training
        log("Training: autograd references for the head's backward passes, AdamW, clipping")
        training.make(log)
        training.make_shapes_tokens(log)
    log(f"done in {time.time() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
