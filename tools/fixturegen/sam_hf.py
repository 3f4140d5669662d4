"""SAM config A in Hugging Face transformers naming (facebook/sam-vit-* checkpoints).

Writes sam_a_hf.safetensors and sam_hf_names.json, and proves that transformers' SamModel
built from a matching SamConfig loads the file with strict=True and reproduces the
official model's image embedding, IoU and low-res masks (boxes and points).
Not a script: run `python tools/make_fixtures.py --only sam_hf`.
"""
from __future__ import annotations

import json
import re

import torch
from transformers import SamConfig, SamModel

from .common import FIXTURES, check, save

# Official (segment-anything) -> transformers renames, applied in order on each name.
# Derived from the two state_dict layouts; proven below by a strict load + equal outputs.
_RULES = [
    (r"^image_encoder\.", "vision_encoder."),
    (r"\.blocks\.", ".layers."),
    (r"\.patch_embed\.proj\.", ".patch_embed.projection."),
    (r"\.neck\.0\.", ".neck.conv1."),
    (r"\.neck\.1\.", ".neck.layer_norm1."),
    (r"\.neck\.2\.", ".neck.conv2."),
    (r"\.neck\.3\.", ".neck.layer_norm2."),
    (r"\.norm(\d)\.", r".layer_norm\1."),
    (r"\.norm_final_attn\.", ".layer_norm_final_attn."),
    (r"^prompt_encoder\.pe_layer\.positional_encoding_gaussian_matrix$",
     "shared_image_embedding.positional_embedding"),
    (r"\.point_embeddings\.", ".point_embed."),
    (r"\.mask_downscaling\.0\.", ".mask_embed.conv1."),
    (r"\.mask_downscaling\.1\.", ".mask_embed.layer_norm1."),
    (r"\.mask_downscaling\.3\.", ".mask_embed.conv2."),
    (r"\.mask_downscaling\.4\.", ".mask_embed.layer_norm2."),
    (r"\.mask_downscaling\.6\.", ".mask_embed.conv3."),
    (r"\.output_upscaling\.0\.", ".upscale_conv1."),
    (r"\.output_upscaling\.1\.", ".upscale_layer_norm."),
    (r"\.output_upscaling\.3\.", ".upscale_conv2."),
    # 3-layer MLPs (hypernetworks, IoU head): layers.0 -> proj_in, 1 -> layers.0, 2 -> proj_out
    (r"(mlps\.\d+|iou_prediction_head)\.layers\.0\.", r"\1.proj_in."),
    (r"(mlps\.\d+|iou_prediction_head)\.layers\.2\.", r"\1.proj_out."),
    (r"(mlps\.\d+|iou_prediction_head)\.layers\.1\.", r"\1.layers.0."),
]
# transformers ties this parameter to shared_image_embedding.positional_embedding; its
# state_dict (and so a strict load) lists both names.
TIED = {"prompt_encoder.shared_embedding.positional_embedding":
        "shared_image_embedding.positional_embedding"}


def official_to_hf(name: str) -> str:
    for pat, rep in _RULES:
        name = re.sub(pat, rep, name)
    return name


def hf_config(c) -> SamConfig:
    return SamConfig(
        vision_config=dict(hidden_size=c.embed_dim, output_channels=c.out_chans,
                           num_hidden_layers=c.depth, num_attention_heads=c.heads,
                           image_size=c.img_size, patch_size=c.patch, window_size=c.window,
                           global_attn_indexes=list(c.global_attn), num_pos_feats=c.out_chans // 2,
                           mlp_ratio=4.0, layer_norm_eps=1e-6, qkv_bias=True, use_rel_pos=True),
        prompt_encoder_config=dict(hidden_size=c.out_chans, image_size=c.img_size,
                                   patch_size=c.patch, mask_input_channels=c.mask_in_chans),
        mask_decoder_config=dict(hidden_size=c.out_chans, mlp_dim=c.dec_mlp,
                                 num_attention_heads=c.dec_heads, num_hidden_layers=2,
                                 attention_downsample_rate=2, num_multimask_outputs=3,
                                 iou_head_depth=3, iou_head_hidden_dim=c.iou_hidden,
                                 # segment-anything's TwoWayTransformer LayerNorms use torch's
                                 # default eps 1e-5; transformers' default here is 1e-6 (the
                                 # final-attention norm is 1e-5 in both).
                                 layer_norm_eps=1e-5))


def make(sam_state: dict, log) -> None:
    c = sam_state["cfg"]
    weights = sam_state["weights"]
    mapping = {k: official_to_hf(k) for k in weights}
    hf_sd = {mapping[k]: v for k, v in weights.items()}
    for dup, src in TIED.items():
        hf_sd[dup] = hf_sd[src].clone()

    model = SamModel(hf_config(c)).eval()
    expected = model.state_dict()
    missing = sorted(set(expected) - set(hf_sd))
    extra = sorted(set(hf_sd) - set(expected))
    assert not missing and not extra, f"HF names: missing {missing} unexpected {extra}"
    for k, v in hf_sd.items():
        assert tuple(v.shape) == tuple(expected[k].shape), f"{k}: {v.shape} vs {expected[k].shape}"

    path = FIXTURES / "sam_a_hf.safetensors"
    save(path, hf_sd, {"format": "sam-huggingface-state-dict", "config": hf_config(c).to_json_string()})
    from safetensors.torch import load_file
    model.load_state_dict(load_file(str(path)), strict=True)
    model.config._attn_implementation = "sdpa"
    model = model.double()

    ref = sam_state["ref"]
    with torch.no_grad():
        pix = ref["input"].double()
        emb = model.get_image_embeddings(pix)
        check("HF image embedding", emb, ref["image_embedding"], 1e-5)
        out = model(image_embeddings=emb, input_boxes=ref["scaled_boxes"].double()[None],
                    multimask_output=False)
        e2 = check("HF iou (boxes)", out.iou_scores[0], ref["iou"], 1e-5)
        e3 = check("HF low-res masks (boxes)", out.pred_masks[0], ref["low_res_masks"], 1e-5)
        refp = sam_state["ref_points"]
        outp = model(image_embeddings=emb, input_points=refp["scaled_points"].double()[None],
                     input_labels=refp["labels"][None], multimask_output=False)
        e4 = check("HF iou (points)", outp.iou_scores[0], refp["iou"], 1e-5)
    e1 = check("HF image embedding", emb, ref["image_embedding"], 1e-5)
    log(f"  transformers SamModel strict load OK; rel. errors: embedding {e1:.1e}, "
        f"iou {e2:.1e}, masks {e3:.1e}, point iou {e4:.1e}")

    doc = {
        "official_to_hf": mapping,
        "hf_tied_duplicates": TIED,
        "note": "transformers ties prompt_encoder.shared_embedding.positional_embedding to "
                "shared_image_embedding.positional_embedding; files saved by transformers may "
                "hold one or both names. sam_a_hf.safetensors holds both (strict load).",
    }
    (FIXTURES / "sam_hf_names.json").write_text(json.dumps(doc, indent=1) + "\n")
    log(f"  wrote {path.name} ({len(hf_sd)} tensors) and sam_hf_names.json")
