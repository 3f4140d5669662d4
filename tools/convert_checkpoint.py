#!/usr/bin/env python3
"""Convert SAM / OpenAI CLIP / RegionSpot torch checkpoints into a regionspotd model directory.

How to run (needs only `torch` and `safetensors`, see tools/requirements-fixtures.txt):

    # a released RegionSpot checkpoint (frozen parts stripped) + the public SAM and CLIP:
    python tools/convert_checkpoint.py --regionspot regionspot_bb.pth \
        --sam sam_vit_b_01ec64.pth --clip ViT-B-16.pt --bpe bpe_simple_vocab_16e6.txt.gz \
        --out models/regionspot-bb
    # a full RegionSpot checkpoint (model.sam.*, model.clip_model.* included):
    python tools/convert_checkpoint.py --regionspot model_final.pth --bpe ... --out DIR
    # no head (SAM + CLIP only, for the clip-crop fallback), or SAM alone:
    python tools/convert_checkpoint.py --sam sam_vit_b_01ec64.pth --clip ViT-B-16.pt --out DIR
    python tools/convert_checkpoint.py --sam sam_vit_b_01ec64.pth --out DIR

Output DIR: sam.safetensors (official SAM names), clip.safetensors (OpenAI CLIP names),
head.safetensors (to_clip.*, decoder.layers.K.*, decoder.norm.*, projector.*), the
tokenizer (bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt with --hf-tokenizer),
and model.json with every dimension inferred from tensor shapes. Tensor dtypes are kept.
A RegionSpot checkpoint is a torch file whose 'model' entry is the state dict (keys
sam.*, clip_model.*, to_clip.*, decoder.*, projector.*, possibly prefixed 'model.'); CLIP
.pt files may be TorchScript archives (OpenAI's) or plain state dicts. Files that need
full unpickling (not just tensors) are refused unless --trust-pickle is given.
"""
from __future__ import annotations

import argparse
import json
import math
import pickle
import re
import shutil
import struct
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as st_save

CLIP_META_KEYS = ("input_resolution", "context_length", "vocab_size")  # OpenAI jit extras
SAM_TWO_WAY_HEADS = 8     # fixed in SAM's builder; not visible in tensor shapes
HEAD_HEADS = 8            # RegionSpot build_decoder's nhead; not visible in shapes


class ConvertError(Exception):
    pass


# ---- loading --------------------------------------------------------------------------

def load_torch(path: Path, trust_pickle: bool) -> dict[str, torch.Tensor]:
    """Tensors of a torch checkpoint: TorchScript archive, plain state dict, or a dict
    with a 'model' / 'state_dict' entry."""
    if not path.is_file():
        raise ConvertError(f"{path}: no such file")
    try:
        obj = torch.jit.load(str(path), map_location="cpu").state_dict()
    except Exception:
        try:
            obj = torch.load(str(path), map_location="cpu", weights_only=True)
        except pickle.UnpicklingError as e:
            if not trust_pickle:
                raise ConvertError(f"{path}: holds more than tensors (weights-only load refused: "
                                   f"{str(e).splitlines()[0][:120]}); if you trust the file, "
                                   "pass --trust-pickle") from None
            obj = torch.load(str(path), map_location="cpu", weights_only=False)
        except Exception as e:
            raise ConvertError(f"{path}: cannot read as a torch checkpoint ({type(e).__name__}: "
                               f"{str(e).splitlines()[0][:160]})") from None
    for entry in ("model", "state_dict"):
        if isinstance(obj, dict) and isinstance(obj.get(entry), dict):
            obj = obj[entry]
            break
    if not isinstance(obj, dict):
        raise ConvertError(f"{path}: expected a state dict, found {type(obj).__name__}")
    out = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not out:
        raise ConvertError(f"{path}: holds no tensors")
    return out


def strip(sd: dict, prefix: str) -> dict:
    return {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}


def need(sd: dict, key: str, where: str) -> torch.Tensor:
    if key not in sd:
        raise ConvertError(f"{where}: missing tensor '{key}'")
    return sd[key]


def indices(sd: dict, prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in sd if (m := pat.match(k))})


# ---- dimension inference ---------------------------------------------------------------

def infer_sam(sd: dict, where: str) -> dict:
    pw = need(sd, "image_encoder.patch_embed.proj.weight", where)     # (C, 3, p, p)
    embed, patch = pw.shape[0], pw.shape[-1]
    grid = need(sd, "image_encoder.pos_embed", where).shape[1]         # (1, g, g, C)
    blocks = indices(sd, "image_encoder.blocks.")
    if not blocks or blocks != list(range(len(blocks))):
        raise ConvertError(f"{where}: image_encoder.blocks.* missing or not numbered 0..N-1")
    heads, windows, global_idx = set(), set(), []
    for i in blocks:
        rp = need(sd, f"image_encoder.blocks.{i}.attn.rel_pos_h", where)   # (2w-1, head_dim)
        heads.add(embed // rp.shape[1])
        if rp.shape[0] == 2 * grid - 1:
            global_idx.append(i)
        else:
            windows.add((rp.shape[0] + 1) // 2)
    if len(heads) != 1 or len(windows) > 1:
        raise ConvertError(f"{where}: inconsistent rel_pos tables (heads {heads}, windows {windows})")
    dec = "mask_decoder."
    tdim = need(sd, dec + "iou_token.weight", where).shape[1]
    cross_q = need(sd, dec + "transformer.layers.0.cross_attn_token_to_image.q_proj.weight", where)
    cfg = {
        "image_size": grid * patch, "patch_size": patch, "embed_dim": embed,
        "depth": len(blocks), "num_heads": heads.pop(),
        "window_size": windows.pop() if windows else 0, "global_attn_indexes": global_idx,
        "mlp_dim": need(sd, "image_encoder.blocks.0.mlp.lin1.weight", where).shape[0],
        "out_chans": need(sd, "image_encoder.neck.0.weight", where).shape[0],
        "prompt_embed_dim": need(sd, "prompt_encoder.no_mask_embed.weight", where).shape[1],
        "mask_in_chans": need(sd, "prompt_encoder.mask_downscaling.3.weight", where).shape[0],
        "decoder": {
            "transformer_dim": tdim,
            "depth": len(indices(sd, dec + "transformer.layers.")),
            "num_heads": SAM_TWO_WAY_HEADS,
            "mlp_dim": need(sd, dec + "transformer.layers.0.mlp.lin1.weight", where).shape[0],
            "attention_downsample_rate": tdim // cross_q.shape[0],
            "num_mask_tokens": need(sd, dec + "mask_tokens.weight", where).shape[0],
            "iou_head_depth": len(indices(sd, dec + "iou_prediction_head.layers.")),
            "iou_head_hidden_dim": need(sd, dec + "iou_prediction_head.layers.0.weight", where).shape[0],
        },
    }
    known = {(768, 12, 12, (2, 5, 8, 11)): "vit_b", (1024, 24, 16, (5, 11, 17, 23)): "vit_l",
             (1280, 32, 16, (7, 15, 23, 31)): "vit_h"}
    cfg["name"] = known.get((embed, cfg["depth"], cfg["num_heads"], tuple(global_idx)), "custom")
    return cfg


def infer_clip(sd: dict, where: str) -> dict:
    if "visual.layer1.0.conv1.weight" in sd:
        raise ConvertError(f"{where}: ResNet CLIP models are not supported (need a ViT)")
    cw = need(sd, "visual.conv1.weight", where)                        # (W, 3, p, p)
    width, patch = cw.shape[0], cw.shape[-1]
    npos = need(sd, "visual.positional_embedding", where).shape[0]
    grid = int(round(math.sqrt(npos - 1)))
    if grid * grid + 1 != npos:
        raise ConvertError(f"{where}: visual.positional_embedding has {npos} rows, not 1 + g*g")
    twidth = need(sd, "ln_final.weight", where).shape[0]
    cfg = {
        "image_size": grid * patch, "patch_size": patch, "vision_width": width,
        "vision_layers": len(indices(sd, "visual.transformer.resblocks.")),
        "vision_heads": width // 64,
        "embed_dim": need(sd, "text_projection", where).shape[1],
        "context_length": need(sd, "positional_embedding", where).shape[0],
        "vocab_size": need(sd, "token_embedding.weight", where).shape[0],
        "text_width": twidth, "text_heads": twidth // 64,
        "text_layers": len(indices(sd, "transformer.resblocks.")),
        "activation": "quick_gelu",
    }
    if need(sd, "visual.proj", where).shape != (width, cfg["embed_dim"]):
        raise ConvertError(f"{where}: visual.proj shape {tuple(sd['visual.proj'].shape)} does not "
                           f"match width {width} x embed_dim {cfg['embed_dim']}")
    known = {(768, 12, 16, 224): "ViT-B/16", (768, 12, 32, 224): "ViT-B/32",
             (1024, 24, 14, 224): "ViT-L/14", (1024, 24, 14, 336): "ViT-L/14@336px"}
    cfg["name"] = known.get((width, cfg["vision_layers"], patch, cfg["image_size"]), "custom")
    return cfg


def infer_head(sd: dict, where: str) -> dict:
    tc = need(sd, "to_clip.weight", where)                             # (D, C_sam)
    pj = need(sd, "projector.weight", where)                           # (E, D)
    layers = indices(sd, "decoder.layers.")
    if not layers:
        raise ConvertError(f"{where}: no decoder.layers.* tensors")
    need(sd, "decoder.norm.weight", where)
    return {"sam_dim": tc.shape[1], "d_model": tc.shape[0], "text_dim": pj.shape[0],
            "num_layers": len(layers), "num_heads": HEAD_HEADS,
            "dim_feedforward": need(sd, "decoder.layers.0.linear1.weight", where).shape[0],
            "activation": "relu", "norm_first": False, "layer_norm_eps": 1e-5}


def variant(sam: dict | None, clip: dict | None, head: dict | None) -> str:
    if head is None:
        return "+".join(p for p, c in (("SAM", sam), ("CLIP", clip)) if c) + " (no RegionSpot head)"
    names = {"ViT-B/16": "BB", "ViT-L/14": "BL", "ViT-L/14@336px": "BL@336"}
    if sam and sam["name"] == "vit_b" and clip and clip["name"] in names:
        return "RegionSpot-" + names[clip["name"]]
    return "RegionSpot-custom"


# ---- writing ---------------------------------------------------------------------------

def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict) -> None:
    """safetensors with a key-sorted header, so equal inputs give equal bytes."""
    blob = st_save({k: v.contiguous().clone() for k, v in sorted(tensors.items())},
                   metadata={k: json.dumps(v, sort_keys=True) for k, v in metadata.items()})
    (n,) = struct.unpack("<Q", blob[:8])
    text = json.dumps(json.loads(blob[8:8 + n]), sort_keys=True, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + blob[8 + n:])
    back = load_file(str(path))
    if set(back) != set(tensors):
        raise ConvertError(f"{path}: written file does not read back")


def default_bpe() -> Path | None:
    try:
        from open_clip.tokenizer import default_bpe as ob
        return Path(ob())
    except Exception:
        return None


def convert(args) -> dict:
    trust = args.trust_pickle
    sam = clip = head = None
    ignored: list[str] = []
    if args.regionspot:
        where = str(args.regionspot)
        rs = load_torch(Path(args.regionspot), trust)
        if any(k.startswith("model.") for k in rs):
            rs = {k[len("model."):] if k.startswith("model.") else k: v for k, v in rs.items()}
        sam = strip(rs, "sam.") or None
        clip = strip(rs, "clip_model.") or None
        head = {k: v for k, v in rs.items()
                if k.startswith(("to_clip.", "decoder.", "projector."))}
        ignored = sorted(k for k in rs if not k.startswith(
            ("sam.", "clip_model.", "to_clip.", "decoder.", "projector.")))
        if not head:
            raise ConvertError(f"{where}: no RegionSpot head tensors (to_clip.*, decoder.*, projector.*)")
    if args.sam:
        if sam is not None:
            print(f"note: --sam {args.sam} replaces the SAM weights inside the RegionSpot checkpoint")
        sam = load_torch(Path(args.sam), trust)
        if any(k.startswith("sam.") for k in sam):
            sam = strip(sam, "sam.")
    if args.clip:
        if clip is not None:
            print(f"note: --clip {args.clip} replaces the CLIP weights inside the RegionSpot checkpoint")
        clip = load_torch(Path(args.clip), trust)
    if clip is not None:
        # bookkeeping tensors of TorchScript archives and the (derivable) causal mask
        clip = {k: v for k, v in clip.items()
                if k not in CLIP_META_KEYS and k != "attn_mask" and not k.endswith(".attn_mask")}
    if args.regionspot and sam is None:
        raise ConvertError(f"{args.regionspot}: holds no SAM weights (sam.*); pass --sam FILE")
    if args.regionspot and clip is None:
        raise ConvertError(f"{args.regionspot}: holds no CLIP weights (clip_model.*); pass --clip FILE")
    if sam is None and clip is None:
        raise ConvertError("nothing to convert: give --regionspot, --sam and/or --clip")

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = {"format": "regionspotd-model", "version": 1, "files": {}}
    scfg = ccfg = hcfg = None
    if sam is not None:
        scfg = infer_sam(sam, f"SAM weights ({args.sam or args.regionspot})")
        write_safetensors(out / "sam.safetensors", sam, {"naming": "sam-official", "config": scfg})
        model["files"]["sam"] = "sam.safetensors"
        model["sam"] = scfg
    if clip is not None:
        ccfg = infer_clip(clip, f"CLIP weights ({args.clip or args.regionspot})")
        write_safetensors(out / "clip.safetensors", clip, {"naming": "clip-openai", "config": ccfg})
        model["files"]["clip"] = "clip.safetensors"
        model["clip"] = ccfg
        if args.clip_input_size and args.clip_input_size % ccfg["patch_size"] != 0:
            # regionspotd resizes the position embedding to (size / patch)^2 positions
            raise ConvertError(f"--clip-input-size {args.clip_input_size}: not a multiple of CLIP's "
                               f"{ccfg['patch_size']}-pixel patches")
        model["clip_input_size"] = args.clip_input_size or ccfg["image_size"]
        if args.hf_tokenizer:
            d = Path(args.hf_tokenizer)
            for f in ("vocab.json", "merges.txt"):
                if not (d / f).is_file():
                    raise ConvertError(f"{d}: missing {f}")
                shutil.copyfile(d / f, out / f)
            model["files"].update({"vocab": "vocab.json", "merges": "merges.txt"})
        else:
            bpe = Path(args.bpe) if args.bpe else default_bpe()
            if bpe is None or not bpe.is_file():
                raise ConvertError(f"{bpe or '--bpe'}: the CLIP BPE file is needed "
                                   "(bpe_simple_vocab_16e6.txt.gz); pass --bpe FILE")
            shutil.copyfile(bpe, out / "bpe_simple_vocab_16e6.txt.gz")
            model["files"]["bpe"] = "bpe_simple_vocab_16e6.txt.gz"
    if head:
        hcfg = infer_head(head, f"RegionSpot head ({args.regionspot})")
        checks = [("to_clip input", hcfg["sam_dim"], "SAM prompt_embed_dim", scfg["prompt_embed_dim"]),
                  ("decoder d_model", hcfg["d_model"], "CLIP vision width", ccfg["vision_width"]),
                  ("projector output", hcfg["text_dim"], "CLIP embed_dim", ccfg["embed_dim"])]
        for a, x, b, y in checks:
            if x != y:
                raise ConvertError(f"{args.regionspot}: head {a} is {x} but {b} is {y}")
        write_safetensors(out / "head.safetensors", head, {"naming": "regionspot-head", "config": hcfg})
        model["files"]["head"] = "head.safetensors"
        model["head"] = hcfg
        model["acceptance"] = dict(RELEASED_ACCEPTANCE)
    model["variant"] = variant(scfg, ccfg, hcfg)
    if ignored:
        model["ignored_keys"] = ignored
    (out / "model.json").write_text(json.dumps(model, indent=1, sort_keys=True) + "\n")
    return model


# What "an object is in this box" means for RegionSpot's released heads (the daemon reads
# it from model.json; docs/config.md, models.acceptance, says why each value is what it is):
# the released heads were trained on ground-truth boxes only, so their sigmoid is no
# objectness (min_score 0); SAM's predicted IoU of a box prompt's mask is the signal left
# (SAM's own automatic generator keeps >= 0.88 for point prompts; 0.8 leaves room for the
# looser boxes of motion); and the stuff surveillance scenes are made of, scored as
# background prompts, rejects boxes on it.
RELEASED_ACCEPTANCE = {
    "min_score": 0.0,
    "min_mask_iou": 0.8,
    "background": ["grass", "road", "pavement", "wall", "floor", "ground", "sky", "building", "fence", "shadow"],
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Convert SAM/CLIP/RegionSpot checkpoints into a "
                                             "regionspotd model directory.")
    ap.add_argument("--regionspot", help="RegionSpot torch checkpoint (.pth)")
    ap.add_argument("--sam", help="official SAM checkpoint (.pth state dict)")
    ap.add_argument("--clip", help="OpenAI CLIP checkpoint (.pt, TorchScript or state dict)")
    ap.add_argument("--bpe", help="bpe_simple_vocab_16e6.txt.gz (default: open_clip's copy if installed)")
    ap.add_argument("--hf-tokenizer", help="directory with Hugging Face vocab.json + merges.txt")
    ap.add_argument("--clip-input-size", type=int, default=None,
                    help="CLIP input size RegionSpot was trained with (default: CLIP's native size) "
                         "(a multiple of the patch size; regionspotd resizes the position embedding as RegionSpot does)")
    ap.add_argument("--trust-pickle", action="store_true",
                    help="allow full unpickling of checkpoints that are not plain tensors")
    ap.add_argument("--out", required=True, help="output model directory")
    args = ap.parse_args(argv)
    try:
        model = convert(args)
    except ConvertError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"{args.out}: {model['variant']} ({', '.join(sorted(model['files'].values()))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
