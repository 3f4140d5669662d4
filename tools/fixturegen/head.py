"""RegionSpot head fixtures with torch.nn.TransformerDecoder (the reference module layout).

RegionSpot's head (regionspot/modeling/regionspot.py + decoder.py, see
tools/REGIONSPOT_FACTS.md): to_clip Linear(C_sam -> D); 3 post-norm DETR decoder layers
(batch_first, 8 heads, ReLU FFN, no positional embeddings) over tgt = the image's N region
tokens (1, N, D) and memory = CLIP feature map (1, L, D) with the class token; final
LayerNorm; projector Linear(D -> E); normalize with eps 1e-7; logits = exp(logit_scale) x
cosine. Names match nn.TransformerDecoderLayer, so torch's module is used here and
checked against a step-by-step replay in RegionSpot's forward_post order.
Not a script: run `python tools/make_fixtures.py --only head`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .common import FIXTURES, check, f32, randomize_, save

NHEAD = 8
FFN = 256  # RegionSpot: 2048; small here (the loader reads it from linear1's shape)
LAYERS = 3
SEED = 4008  # among 4004..4015 the first whose e2e labels differ between boxes, scores unsaturated


class Head(nn.Module):
    """Parameter layout of RegionSpot's trained module: to_clip, decoder, projector."""

    def __init__(self, sam_dim: int, d_model: int, text_dim: int):
        super().__init__()
        self.to_clip = nn.Linear(sam_dim, d_model)
        layer = nn.TransformerDecoderLayer(d_model, NHEAD, dim_feedforward=FFN, dropout=0.0,
                                           activation="relu", layer_norm_eps=1e-5,
                                           batch_first=True, norm_first=False)
        self.decoder = nn.TransformerDecoder(layer, LAYERS, norm=nn.LayerNorm(d_model))
        self.projector = nn.Linear(d_model, text_dim)

    def forward(self, region_tokens: torch.Tensor, feature_map: torch.Tensor) -> torch.Tensor:
        """region_tokens (N, C_sam), feature_map (1, L, D) -> projected (N, E)."""
        q = self.to_clip(region_tokens)[None]                  # (1, N, D)
        return self.projector(self.decoder(q, feature_map))[0]  # (N, E)


def replay(head: Head, region_tokens: torch.Tensor, fm: torch.Tensor) -> torch.Tensor:
    """RegionSpot TransformerDecoderLayer.forward_post, spelled out (pos = query_pos = None)."""
    tgt = head.to_clip(region_tokens)[None]
    for layer in head.decoder.layers:
        t2 = layer.self_attn(tgt, tgt, value=tgt, need_weights=False)[0]
        tgt = layer.norm1(tgt + t2)
        t2 = layer.multihead_attn(query=tgt, key=fm, value=fm, need_weights=False)[0]
        tgt = layer.norm2(tgt + t2)
        t2 = layer.linear2(F.relu(layer.linear1(tgt)))
        tgt = layer.norm3(tgt + t2)
    return head.projector(head.decoder.norm(tgt))[0]


def normalize(x: torch.Tensor) -> torch.Tensor:
    """RegionSpot get_logits: x / (||x|| + 1e-7)."""
    return x / (x.norm(dim=-1, keepdim=True) + 1e-7)


def build_head(sam_dim: int, d_model: int, text_dim: int) -> tuple[Head, dict]:
    head = Head(sam_dim, d_model, text_dim)
    randomize_(head, SEED)
    stored = {}
    with torch.no_grad():
        # With unit-scale random attention outputs, three post-norm layers wash out what
        # distinguishes the regions (embeddings end up with cosine > 0.99). Scaling the
        # attention output projections by 0.3 keeps the regions apart, as trained weights do.
        for layer in head.decoder.layers:
            layer.self_attn.out_proj.weight.mul_(0.3)
            layer.multihead_attn.out_proj.weight.mul_(0.3)
        for k, v in head.state_dict().items():
            s = v.to(torch.float16 if v.dim() >= 2 else torch.float32)
            v.copy_(s.to(v.dtype))
            stored[k] = s.clone()
    return head.eval(), stored


def make(clip_state: dict, sam_state: dict, log) -> dict:
    clip_model = clip_state["model"]
    sam_dim = sam_state["cfg"].out_chans
    d_model = clip_model.visual.conv1.weight.shape[0]
    text_dim = clip_model.text_projection.shape[1]
    head, stored = build_head(sam_dim, d_model, text_dim)
    head = head.double()
    tokens = sam_state["ref"]["region_tokens"].double()          # (N, C_sam) from sam_a_io
    fm = clip_state["feature_map"].double()                      # (1, L, D) from clip_a_io
    text = clip_state["text_embeddings"].double()                # (K, E) clip_a_io texts
    text = text / text.norm(dim=-1, keepdim=True)
    scale = clip_model.logit_scale.detach().double().exp()
    with torch.no_grad():
        proj = head(tokens, fm)
        check("TransformerDecoder vs RegionSpot forward_post replay", replay(head, tokens, fm), proj, 1e-12)
        emb = normalize(proj)
        logits = scale * emb @ text.t()
    io = {
        "region_tokens": f32(tokens),        # (N, C_sam)
        "feature_map": f32(fm),              # (1, L, D)
        "projected": f32(proj),              # (N, E) projector output, before normalizing
        "region_embeddings": f32(emb),       # (N, E) / (norm + 1e-7)
        "text_embeddings": f32(text),        # (K, E) L2-normalized
        "logits": f32(logits),               # (N, K) exp(logit_scale) * cosine
    }
    cfg = {"sam_dim": sam_dim, "d_model": d_model, "text_dim": text_dim, "nhead": NHEAD,
           "dim_feedforward": FFN, "num_layers": LAYERS, "logit_scale": float(scale.log())}
    save(FIXTURES / "head_a.safetensors", stored, {"format": "regionspot-head-state-dict", "config": cfg})
    save(FIXTURES / "head_a_io.safetensors", io, {
        "format": "regionspotd-fixture-1", "config": cfg,
        "generator": "tools/make_fixtures.py (torch.nn.TransformerDecoder, float64)",
        "note": "region_tokens = sam_a_io region_tokens; feature_map = clip_a_io feature_map; "
                "text_embeddings = clip_a_io text_embeddings L2-normalized; logit scale from clip_a"})
    log(f"  wrote head_a.safetensors ({len(stored)} tensors) and head_a_io.safetensors")
    return dict(head=head, stored=stored, cfg=cfg)
