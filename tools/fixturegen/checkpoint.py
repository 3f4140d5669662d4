"""Tiny RegionSpot-style torch checkpoints (not committed) and the committed model_tiny/.

Writes into a checkpoint directory:
  regionspot_tiny_full.pth   {'model': {'model.sam.*', 'model.clip_model.*', 'model.to_clip.*',
                              'model.decoder.*', 'model.projector.*'}, 'iteration': ...}
  regionspot_tiny_head.pth   {'model': head tensors only, 'model.' prefix} (as re_save_ckpt.py)
  regionspot_tiny_head_noprefix.pth  {'model': head tensors only, no prefix}
  sam_tiny.pth               official SAM state dict (plain)
  clip_tiny_jit.pt           TorchScript archive of the open_clip model (OpenAI names +
                             input_resolution/context_length/vocab_size buffers, F32)
  clip_tiny_sd.pt            plain OpenAI-named state dict (F16 matrices as in clip_a)
and builds Tests/RecognizerTests/Fixtures/model_tiny/ (model.json from converting the full
checkpoint; weight and BPE files are symlinks to sam_a / clip_a / head_a / the BPE copy).
Not a script: run `python tools/make_fixtures.py --only model [--checkpoint-dir DIR]`.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from . import clip as clip_fx
from .common import FIXTURES, REPO

LINKS = {"sam.safetensors": "../sam_a.safetensors", "clip.safetensors": "../clip_a.safetensors",
         "head.safetensors": "../head_a.safetensors",
         "bpe_simple_vocab_16e6.txt.gz": "../bpe_simple_vocab_16e6.txt.gz"}


def write_checkpoints(state: dict, d: Path) -> None:
    sam_sd = state["sam_a"]["weights"]                    # F32, official names
    clip_sd = state["clip_a"]["stored"]                   # OpenAI names, F16/F32
    head_sd = state["head_a"]["stored"]
    full = {}
    full.update({f"model.sam.{k}": v for k, v in sam_sd.items()})
    full.update({f"model.clip_model.{k}": v for k, v in clip_sd.items()})
    full.update({f"model.{k}": v for k, v in head_sd.items()})
    torch.save({"model": full, "iteration": 449999}, d / "regionspot_tiny_full.pth")
    torch.save({"model": {f"model.{k}": v for k, v in head_sd.items()}},
               d / "regionspot_tiny_head.pth")
    torch.save({"model": dict(head_sd)}, d / "regionspot_tiny_head_noprefix.pth")
    torch.save(dict(sam_sd), d / "sam_tiny.pth")
    torch.save(dict(clip_sd), d / "clip_tiny_sd.pt")

    # TorchScript archive like OpenAI's: a traced model whose state dict has the OpenAI
    # names plus three bookkeeping tensors.
    model, _ = clip_fx.build_clip(state["clip_a"]["tok"])
    for k, v in (("input_resolution", 64), ("context_length", 77), ("vocab_size", 49408)):
        if hasattr(model, k):
            delattr(model, k)  # open_clip keeps these as plain ints; OpenAI's are tensors
        model.register_buffer(k, torch.tensor(v))
    pix = clip_fx.preprocess(state["clip_a"]["image"], 64, torch.float32)
    tokens = state["clip_a"]["tok"](["a dog"], context_length=77)
    with torch.no_grad():
        traced = torch.jit.trace(model, (pix, tokens), check_trace=False)
    traced.save(str(d / "clip_tiny_jit.pt"))


def make(state: dict, checkpoint_dir: str | None, log) -> None:
    d = Path(checkpoint_dir) if checkpoint_dir else Path(tempfile.mkdtemp(prefix="regionspot_tiny_"))
    d.mkdir(parents=True, exist_ok=True)
    write_checkpoints(state, d)
    log(f"  tiny RegionSpot checkpoints in {d}")

    out = d / "converted_full"
    subprocess.run([sys.executable, str(REPO / "tools" / "convert_checkpoint.py"),
                    "--regionspot", str(d / "regionspot_tiny_full.pth"),
                    "--bpe", str(FIXTURES / "bpe_simple_vocab_16e6.txt.gz"),
                    "--out", str(out)], check=True)
    model = json.loads((out / "model.json").read_text())
    assert model["variant"] == "RegionSpot-custom" and model["clip_input_size"] == 64, model

    tiny = FIXTURES / "model_tiny"
    tiny.mkdir(exist_ok=True)
    (tiny / "model.json").write_text((out / "model.json").read_text())
    for name, target in LINKS.items():
        p = tiny / name
        if p.is_symlink() or p.exists():
            p.unlink()
        os.symlink(target, p)
    log(f"  model_tiny/: model.json ({model['variant']}) + symlinks to sam_a/clip_a/head_a/BPE")
