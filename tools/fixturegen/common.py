"""Shared helpers for the fixture generators (imported by tools/make_fixtures.py).

Not a script: run `python tools/make_fixtures.py` (see its docstring).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
import struct

from safetensors.torch import load_file
from safetensors.torch import save as st_save

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "Tests" / "RecognizerTests" / "Fixtures"

# Tolerance the Swift side is held to: max|a-b| / (max|b| + 1e-6) <= 1e-4.
SWIFT_TOL = 1e-4


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    """max|a-b| / (max|b| + 1e-6), the project's parity measure (b is the reference)."""
    a = a.detach().double()
    b = b.detach().double()
    assert a.shape == b.shape, f"shape {tuple(a.shape)} vs {tuple(b.shape)}"
    return float((a - b).abs().max() / (b.abs().max() + 1e-6))


def check(name: str, a: torch.Tensor, b: torch.Tensor, tol: float) -> float:
    err = rel_err(a, b)
    if not err <= tol:
        raise AssertionError(f"{name}: relative error {err:.3g} > {tol:.1g}")
    return err


def seeded(seed: int) -> torch.Generator:
    g = torch.Generator().manual_seed(seed)
    return g


def _norm_weight_names(module: torch.nn.Module) -> set[str]:
    """Names of the weights of LayerNorm-like modules (any class named *LayerNorm* / *Norm*)."""
    names = set()
    for mname, m in module.named_modules():
        if "norm" in type(m).__name__.lower():
            names.add(f"{mname}.weight" if mname else "weight")
    return names


def randomize_(module: torch.nn.Module, seed: int) -> None:
    """Give every parameter and persistent buffer non-trivial random values.

    Rules (so LayerNorm weights are not ones, biases not zeros, tables not zeros):
      * weight of a LayerNorm-like module:             1 + 0.2 N(0,1)
      * rel_pos tables:                                0.5 N(0,1)
      * other 1-D tensors (biases, class embedding):   0.1 N(0,1)
      * 'weight' / 'in_proj_weight' of >=2 dims (linear, conv): N(0,1)/sqrt(fan_in),
        fan_in = product of the dims after the first
      * 'proj' / 'text_projection' (used as x @ P):    N(0,1)/sqrt(rows)
      * everything else (embeddings, position tables, tokens): 0.5 N(0,1)
    Values are drawn in state_dict() order from one generator seeded with `seed`.
    """
    g = seeded(seed)
    norms = _norm_weight_names(module)
    sd = module.state_dict()
    with torch.no_grad():
        for name, t in sd.items():
            if not t.is_floating_point():
                continue
            leaf = name.rsplit(".", 1)[-1]
            shape = tuple(t.shape)
            noise = torch.randn(shape, generator=g, dtype=torch.float64)
            if name in norms:
                v = 1.0 + 0.2 * noise
            elif "rel_pos" in leaf:
                v = 0.5 * noise
            elif len(shape) <= 1:
                v = 0.1 * noise
            elif leaf in ("proj", "text_projection"):
                v = noise / np.sqrt(shape[0])
            elif leaf in ("weight", "in_proj_weight") and "embed" not in name.replace("patch_embed", ""):
                v = noise / np.sqrt(int(np.prod(shape[1:])))
            else:
                v = 0.5 * noise
            t.copy_(v.to(t.dtype))
    # state_dict() tensors share storage with the parameters/buffers, so copy_ writes through.


def make_image(h: int, w: int, seed: int) -> np.ndarray:
    """A deterministic uint8 RGB picture: gradients, a disc, rectangles, a ring, stripes
    and a little noise. Shape (h, w, 3)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    gch = 255 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin((x + 2 * y) / (0.11 * (h + w)))
    img = np.stack([r, gch, b], axis=-1)
    # disc
    cy, cx, rad = 0.35 * h, 0.3 * w, 0.18 * min(h, w)
    img[(y - cy) ** 2 + (x - cx) ** 2 < rad ** 2] = (230, 40, 30)
    # rectangle touching the right border
    img[int(0.55 * h):int(0.85 * h), int(0.7 * w):] = (20, 200, 60)
    # dark rectangle at the top-left corner
    img[:int(0.15 * h), :int(0.2 * w)] = (15, 15, 40)
    # ring
    d = np.sqrt((y - 0.7 * h) ** 2 + (x - 0.4 * w) ** 2)
    img[(d > 0.1 * min(h, w)) & (d < 0.15 * min(h, w))] = (250, 250, 90)
    # stripes along the bottom
    stripe = ((x // 5) % 2 == 0) & (y > 0.9 * h)
    img[stripe] = (255, 255, 255)
    img += rng.normal(0, 6, img.shape)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def save(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    """Write a safetensors file with the `safetensors` package, then rewrite its JSON header
    with sorted keys: the package stores metadata in a hash map, so without this the bytes
    change from run to run. Metadata values must be strings (others are JSON-encoded)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {k: v.detach().contiguous().clone() for k, v in tensors.items()}
    meta = None
    if metadata:
        meta = {k: (v if isinstance(v, str) else json.dumps(v, sort_keys=True))
                for k, v in metadata.items()}
    blob = st_save(out, metadata=meta)
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + blob[8 + n:])
    back = load_file(str(path))
    assert set(back) == set(out) and all(torch.equal(back[k], out[k]) for k in out), path


def f32(t: torch.Tensor) -> torch.Tensor:
    return t.detach().to(torch.float32).contiguous()


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def describe(path: Path) -> list[str]:
    """Lines 'name dtype shape' for a safetensors file (for Fixtures/README.md)."""
    from safetensors import safe_open
    lines = []
    with safe_open(str(path), "pt") as f:
        for k in f.keys():
            sl = f.get_slice(k)
            lines.append(f"{k} {sl.get_dtype()} {list(sl.get_shape())}")
    return lines


def rel(path: Path) -> str:
    return os.path.relpath(path, REPO)
