"""CLIP parity fixtures: OpenAI-style CLIP built with open_clip (QuickGELU), random weights,
plus a transformers CLIPModel copy under Hugging Face names.

Storage: every tensor with >= 2 dims is stored as F16 (the model computes with exactly those
F16-rounded values upcast), 1-D tensors and logit_scale as F32. token_embedding rows are
zero except for the ids the fixture prompts use, so the (49408, 64) table compresses to
almost nothing in git. Not a script: run `python tools/make_fixtures.py --only clip`.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from open_clip.model import CLIP
from open_clip.tokenizer import SimpleTokenizer
from transformers import CLIPConfig, CLIPModel

from .common import FIXTURES, check, f32, make_image, randomize_, save
from .templates import E2E_CLASSES, TEMPLATES, clean_class_name

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)

EMBED_DIM = 32
VISION = dict(layers=2, width=128, head_width=64, patch_size=16, image_size=64)
TEXT = dict(context_length=77, vocab_size=49408, width=64, heads=1, layers=2)
SEED = 3003
LOGIT_SCALE = math.log(100.0)  # OpenAI's trained value (exp = 100)
IMAGE_HW = (90, 120)
INTERP_SIZE = 96  # position-embedding interpolation check: grid 4 -> 6

TEXTS = ["a photo of a cat.", "a dog", "two cars on a wet street at night, seen from above!",
         "traffic light", ""]


def preprocess(image: np.ndarray, size: int, dtype=torch.float64) -> torch.Tensor:
    """RegionSpot_Predictor.resize_norm: uint8 HWC -> float/255 -> F.interpolate bilinear
    (align_corners=False, no antialias) to size x size -> CLIP mean/std. (1, 3, size, size)"""
    x = torch.from_numpy(image).permute(2, 0, 1).to(dtype) / 255.0
    x = F.interpolate(x[None], size=(size, size), mode="bilinear", align_corners=False)[0]
    mean = torch.tensor(CLIP_MEAN, dtype=dtype)[:, None, None]
    std = torch.tensor(CLIP_STD, dtype=dtype)[:, None, None]
    return ((x - mean) / std)[None]


def used_token_ids(tok: SimpleTokenizer) -> list[int]:
    prompts = list(TEXTS)
    prompts += [t.format(clean_class_name(c)) for c in E2E_CLASSES for t in TEMPLATES]
    ids = set()
    for row in tok(prompts, context_length=77).tolist():
        ids.update(row)
    ids.discard(0)
    return sorted(ids)


def storage_dtype(t: torch.Tensor) -> torch.dtype:
    return torch.float16 if t.dim() >= 2 else torch.float32


def build_clip(tok: SimpleTokenizer, image_size: int = VISION["image_size"]) -> tuple[CLIP, dict]:
    """The model (float32, values already F16-rounded where stored as F16) and its
    OpenAI-named state dict in storage dtypes."""
    model = CLIP(embed_dim=EMBED_DIM, vision_cfg=dict(VISION), text_cfg=dict(TEXT), quick_gelu=True)
    randomize_(model, SEED)
    sd = model.state_dict()
    with torch.no_grad():
        keep = torch.zeros(TEXT["vocab_size"], dtype=torch.bool)
        keep[used_token_ids(tok)] = True
        sd["token_embedding.weight"][~keep] = 0.0
        sd["logit_scale"].fill_(LOGIT_SCALE)
        stored = {}
        for k, v in sd.items():
            s = v.to(storage_dtype(v))
            v.copy_(s.to(v.dtype))  # the model computes with the stored values
            stored[k] = s.clone()
    model.eval()
    return model, stored


def interpolate_pos(pos: torch.Tensor, new_grid: int) -> torch.Tensor:
    """RegionSpot clip/model.py build_model: class token kept, grid part resized with
    F.interpolate(mode='bicubic', align_corners=False). (1+g*g, W) -> (1+n*n, W)"""
    g = int(round(math.sqrt(pos.shape[0] - 1)))
    grid = pos[1:].reshape(g, g, -1).permute(2, 0, 1)[None]
    grid = F.interpolate(grid, size=(new_grid, new_grid), mode="bicubic", align_corners=False)
    return torch.cat([pos[:1], grid[0].permute(1, 2, 0).reshape(new_grid * new_grid, -1)], dim=0)


def run_clip(model: CLIP, pixel_values: torch.Tensor, tokens: torch.Tensor | None):
    """feature_map (hook on visual.transformer: all tokens, before ln_post), pooled image
    embedding, text embeddings (unnormalized)."""
    store = {}
    h = model.visual.transformer.register_forward_hook(lambda _m, _i, o: store.__setitem__("fm", o))
    with torch.no_grad():
        img = model.encode_image(pixel_values)
        txt = model.encode_text(tokens) if tokens is not None else None
    h.remove()
    fm = store["fm"]
    # The pooled embedding is ln_post(class token of the feature map) @ proj.
    again = model.visual.ln_post(fm[:, 0]) @ model.visual.proj
    check("pooled from feature map", again, img, 1e-12 if img.dtype == torch.float64 else 1e-6)
    return fm, img, txt


# ---- Hugging Face transformers naming ------------------------------------------------

def hf_config() -> CLIPConfig:
    return CLIPConfig(
        text_config=dict(vocab_size=TEXT["vocab_size"], hidden_size=TEXT["width"],
                         intermediate_size=4 * TEXT["width"], num_hidden_layers=TEXT["layers"],
                         num_attention_heads=TEXT["width"] // 64,
                         max_position_embeddings=TEXT["context_length"], hidden_act="quick_gelu",
                         layer_norm_eps=1e-5, bos_token_id=49406, eos_token_id=49407, pad_token_id=0),
        vision_config=dict(hidden_size=VISION["width"], intermediate_size=4 * VISION["width"],
                           num_hidden_layers=VISION["layers"],
                           num_attention_heads=VISION["width"] // 64,
                           image_size=VISION["image_size"], patch_size=VISION["patch_size"],
                           hidden_act="quick_gelu", layer_norm_eps=1e-5),
        projection_dim=EMBED_DIM, logit_scale_init_value=LOGIT_SCALE)


def openai_to_hf(sd: dict) -> dict:
    """OpenAI CLIP names -> transformers CLIPModel names (q/k/v split from in_proj,
    projections transposed)."""
    out = {}

    def block(src: str, dst: str):
        layers = sorted({int(k[len(src):].split(".")[0]) for k in sd if k.startswith(src)})
        for i in layers:
            p, q = f"{src}{i}.", f"{dst}{i}."
            w, b = sd[p + "attn.in_proj_weight"], sd[p + "attn.in_proj_bias"]
            for j, n in enumerate(("q_proj", "k_proj", "v_proj")):
                d = w.shape[0] // 3
                out[q + f"self_attn.{n}.weight"] = w[j * d:(j + 1) * d].clone()
                out[q + f"self_attn.{n}.bias"] = b[j * d:(j + 1) * d].clone()
            for a, z in (("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"),
                         ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
                out[q + z + ".weight"] = sd[p + a + ".weight"]
                out[q + z + ".bias"] = sd[p + a + ".bias"]

    v, t = "vision_model.", "text_model."
    out[v + "embeddings.class_embedding"] = sd["visual.class_embedding"]
    out[v + "embeddings.patch_embedding.weight"] = sd["visual.conv1.weight"]
    out[v + "embeddings.position_embedding.weight"] = sd["visual.positional_embedding"]
    for a, z in (("visual.ln_pre", v + "pre_layrnorm"), ("visual.ln_post", v + "post_layernorm"),
                 ("ln_final", t + "final_layer_norm")):
        out[z + ".weight"], out[z + ".bias"] = sd[a + ".weight"], sd[a + ".bias"]
    block("visual.transformer.resblocks.", v + "encoder.layers.")
    block("transformer.resblocks.", t + "encoder.layers.")
    out[t + "embeddings.token_embedding.weight"] = sd["token_embedding.weight"]
    out[t + "embeddings.position_embedding.weight"] = sd["positional_embedding"]
    out["visual_projection.weight"] = sd["visual.proj"].t().contiguous()
    out["text_projection.weight"] = sd["text_projection"].t().contiguous()
    out["logit_scale"] = sd["logit_scale"]
    return out


def run_hf(stored_hf: dict, pixel_values: torch.Tensor, tokens: torch.Tensor):
    cfg = hf_config()
    cfg._attn_implementation = "sdpa"  # eager attention does its softmax in float32
    model = CLIPModel(cfg).eval()
    model.load_state_dict({k: v.float() for k, v in stored_hf.items()}, strict=True)
    model = model.double()
    with torch.no_grad():
        vo = model.vision_model(pixel_values=pixel_values, output_hidden_states=True)
        fm = vo.hidden_states[-1]                           # last layer, before post_layernorm
        img = model.visual_projection(vo.pooler_output)     # post_layernorm(class) @ proj
        txt = model.text_projection(model.text_model(input_ids=tokens).pooler_output)
    return fm, img, txt


def make(log) -> dict:
    tok = SimpleTokenizer(context_length=77)
    model, stored = build_clip(tok)
    model = model.double()
    image = make_image(*IMAGE_HW, seed=33)
    pix = preprocess(image, VISION["image_size"])
    tokens = tok(TEXTS, context_length=77)
    fm, img, txt = run_clip(model, pix, tokens)

    # float32 open_clip run agrees far inside the Swift tolerance
    m32, _ = build_clip(tok)
    fm32, img32, txt32 = run_clip(m32, preprocess(image, VISION["image_size"], torch.float32), tokens)
    for n, a, b in (("feature_map", fm32, fm), ("image_embedding", img32, img),
                    ("text_embeddings", txt32, txt)):
        log(f"  clip_a: float32 open_clip vs float64 {n}: {check(n, a, b, 2e-5):.2e}")

    # Position-embedding interpolation (RegionSpot build_model) for a 96x96 input.
    pos96 = interpolate_pos(model.visual.positional_embedding.detach(), INTERP_SIZE // 16)
    m96 = CLIP(embed_dim=EMBED_DIM, vision_cfg=dict(VISION, image_size=INTERP_SIZE),
               text_cfg=dict(TEXT), quick_gelu=True).double().eval()
    sd96 = {k: v for k, v in model.state_dict().items()}
    sd96["visual.positional_embedding"] = pos96
    m96.load_state_dict(sd96)
    pix96 = preprocess(image, INTERP_SIZE)
    fm96, img96, _ = run_clip(m96, pix96, None)

    io = {
        "image": torch.as_tensor(image),                  # (H, W, 3) U8
        "pixel_values": f32(pix),                         # (1, 3, 64, 64)
        "feature_map": f32(fm),                           # (1, 17, 128) last block, all tokens
        "image_embedding": f32(img),                      # (1, 32) ln_post(class) @ proj
        "text_tokens": tokens.to(torch.int64),            # (T, 77) I64
        "text_embeddings": f32(txt),                      # (T, 32) unnormalized
        "pos_embed_96": f32(pos96),                       # (37, 128) bicubic-interpolated
        "pixel_values_96": f32(pix96),                    # (1, 3, 96, 96)
        "feature_map_96": f32(fm96),                      # (1, 37, 128)
        "image_embedding_96": f32(img96),                 # (1, 32)
    }
    meta = {"format": "regionspotd-fixture-1",
            "generator": "tools/make_fixtures.py (open_clip 3.3.0, float64 reference)",
            "config": {"embed_dim": EMBED_DIM, "vision": VISION, "text": TEXT,
                       "quick_gelu": True, "logit_scale": LOGIT_SCALE},
            "texts": TEXTS,
            "note": "pixel_values: uint8/255, F.interpolate bilinear align_corners=False, "
                    "CLIP mean/std. feature_map = output of the last residual block for all "
                    "tokens (class first), before ln_post. *_96: same image at 96x96 with the "
                    "position embedding interpolated bicubically (RegionSpot build_model)."}
    stored_hf = openai_to_hf(stored)
    hfm, himg, htxt = run_hf(stored_hf, pix, tokens)
    e = [check("HF feature map", hfm, fm, 1e-5), check("HF image embedding", himg, img, 1e-5),
         check("HF text embeddings", htxt, txt, 1e-5)]
    log("  transformers CLIPModel strict load OK; rel. errors " + ", ".join(f"{x:.1e}" for x in e))
    io.update({"hf_feature_map": f32(hfm), "hf_image_embedding": f32(himg),
               "hf_text_embeddings": f32(htxt)})
    save(FIXTURES / "clip_a_hf.safetensors", stored_hf,
         {"format": "clip-huggingface-state-dict", "config": hf_config().to_json_string()})
    save(FIXTURES / "clip_a.safetensors", stored,
         {"format": "clip-openai-state-dict", "config": meta["config"]})
    save(FIXTURES / "clip_a_io.safetensors", io, meta)
    log(f"  wrote clip_a.safetensors ({len(stored)} tensors), clip_a_io.safetensors, "
        "clip_a_hf.safetensors")
    return dict(model=model, stored=stored, tok=tok, image=image, feature_map=fm,
                text_embeddings=txt)
