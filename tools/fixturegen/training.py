"""Training fixtures: PyTorch autograd references for every backward pass of the
RegionSpot head's training step, one AdamW step pair, and gradient clipping.

Small shapes (D=16, 4 heads, C=12, FFN 24, E=8, K=5 classes, 3 layers, two images with
3 and 2 boxes and CLIP maps of 4 and 6 tokens). Every input is drawn, rounded to float32
(what the file stores and Swift reads), then the reference runs in float64 from those
rounded values. The upstream gradient of each primitive is stored with it (`*.gy`).

Loss (regionspot.py `ce_loss` + `sigmoid_focal_loss`, see tools/REGIONSPOT_FACTS.md):
per image with logits (1, n, K), `loss.mean(1).sum() / n * n`; the batch loss is the sum
over images. The element-wise focal term is checked against
torchvision.ops.sigmoid_focal_loss(reduction="none").
Not a script: run `python tools/make_fixtures.py --only training`.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import sigmoid_focal_loss

from .common import FIXTURES, check, f32, save

SEED = 5005
D, HEADS, C, FFN, E, K, LAYERS = 16, 4, 12, 24, 8, 5, 3
BOXES = [3, 2]
MAPS = [4, 6]
LOGIT_SCALE = math.log(100.0)
LR, WD, BETAS, EPS = 1e-3, 1e-4, (0.9, 0.999), 1e-8


def rnd(g, *shape, scale=1.0, offset=0.0):
    """float64 tensor whose values are exactly float32-representable."""
    t = torch.randn(*shape, generator=g, dtype=torch.float64) * scale + offset
    return t.float().double()


def leaf(t):
    return t.clone().requires_grad_(True)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.to_clip = nn.Linear(C, D)
        layer = nn.TransformerDecoderLayer(D, HEADS, dim_feedforward=FFN, dropout=0.0, activation="relu",
                                           layer_norm_eps=1e-5, batch_first=True, norm_first=False)
        self.decoder = nn.TransformerDecoder(layer, LAYERS, norm=nn.LayerNorm(D))
        self.projector = nn.Linear(D, E)

    def forward(self, tokens, fm):
        """tokens (n, C), fm (L, D) of one image -> (n, E)"""
        return self.projector(self.decoder(self.to_clip(tokens)[None], fm[None]))[0]


def focal_image(logits, targets):
    """RegionSpot's loss for one image: logits (n, K), targets (n,) class ids."""
    x = logits[None]
    onehot = torch.zeros_like(x)
    onehot.scatter_(2, targets[None, :, None], 1)
    prob = x.sigmoid()
    ce = F.binary_cross_entropy_with_logits(x, onehot, reduction="none")
    p_t = prob * onehot + (1 - prob) * (1 - onehot)
    loss = ce * (1 - p_t) ** 2
    loss = (0.25 * onehot + 0.75 * (1 - onehot)) * loss
    check("focal term vs torchvision.ops.sigmoid_focal_loss", loss,
          sigmoid_focal_loss(x, onehot, alpha=0.25, gamma=2, reduction="none"), 1e-12)
    n = x.shape[1]
    return loss.mean(1).sum() / n * n


def normalize(x):
    return x / (x.norm(dim=-1, keepdim=True) + 1e-7)


def mha(x, mem, w_in, b_in, w_out, b_out, segs_q, segs_k):
    """torch MultiheadAttention per image (rows of x / mem per segment), concatenated."""
    outs = []
    for (q0, nq), (k0, nk) in zip(segs_q, segs_k):
        y, _ = F.multi_head_attention_forward(
            x[q0:q0 + nq][:, None], mem[k0:k0 + nk][:, None], mem[k0:k0 + nk][:, None], D, HEADS,
            w_in, b_in, None, None, False, 0.0, w_out, b_out, training=False, need_weights=False)
        outs.append(y[:, 0])
    return torch.cat(outs)


def segments(counts):
    out, o = [], 0
    for n in counts:
        out.append((o, n))
        o += n
    return out


def make(log) -> dict:
    g = torch.Generator().manual_seed(SEED)
    t: dict[str, torch.Tensor] = {}

    def grads(prefix, inputs: dict, out, gy):
        out.backward(gy)
        for k, v in inputs.items():
            t[f"{prefix}.{k}"] = f32(v)
            t[f"{prefix}.d{k}"] = f32(v.grad)
        t[f"{prefix}.gy"] = f32(gy)

    # linear
    x, w, b = leaf(rnd(g, 4, 6)), leaf(rnd(g, 5, 6, scale=0.4)), leaf(rnd(g, 5, scale=0.1))
    grads("linear", dict(x=x, w=w, b=b), F.linear(x, w, b), rnd(g, 4, 5))
    # layer norm (rows with offsets and scales)
    x, w, b = leaf(rnd(g, 4, 8, scale=3.0, offset=1.5)), leaf(rnd(g, 8, scale=0.2, offset=1.0)), leaf(rnd(g, 8, scale=0.1))
    grads("layernorm", dict(x=x, w=w, b=b), F.layer_norm(x, (8,), w, b, 1e-5), rnd(g, 4, 8))
    # ReLU FFN
    x = leaf(rnd(g, 4, 8))
    w1, b1 = leaf(rnd(g, 12, 8, scale=0.35)), leaf(rnd(g, 12, scale=0.1))
    w2, b2 = leaf(rnd(g, 8, 12, scale=0.3)), leaf(rnd(g, 8, scale=0.1))
    grads("ffn", dict(x=x, w1=w1, b1=b1, w2=w2, b2=b2), F.linear(F.relu(F.linear(x, w1, b1)), w2, b2), rnd(g, 4, 8))
    # self- and cross-attention over two images
    nq = sum(BOXES)
    for name, mem_rows in (("self_attn", None), ("cross_attn", sum(MAPS))):
        x = leaf(rnd(g, nq, D))
        w_in, b_in = leaf(rnd(g, 3 * D, D, scale=0.25)), leaf(rnd(g, 3 * D, scale=0.1))
        w_out, b_out = leaf(rnd(g, D, D, scale=0.25)), leaf(rnd(g, D, scale=0.1))
        inputs = dict(x=x, in_w=w_in, in_b=b_in, out_w=w_out, out_b=b_out)
        if mem_rows is None:
            y = mha(x, x, w_in, b_in, w_out, b_out, segments(BOXES), segments(BOXES))
        else:
            mem = leaf(rnd(g, mem_rows, D))
            inputs["mem"] = mem
            y = mha(x, mem, w_in, b_in, w_out, b_out, segments(BOXES), segments(MAPS))
        grads(name, inputs, y, rnd(g, nq, D))
    # x / (|x| + 1e-7)
    e = leaf(rnd(g, 4, E))
    grads("normalize", dict(e=e), normalize(e), rnd(g, 4, E))
    # scaled cosine logits against fixed text embeddings
    u = leaf(normalize(rnd(g, 4, E)).float().double())
    text = normalize(rnd(g, K, E)).float().double()
    t["logits.text"] = f32(text)
    grads("logits", dict(u=u), math.exp(LOGIT_SCALE) * u @ text.t(), rnd(g, 4, K))
    # focal loss, one image (n=4), logits spread over the saturating range
    x = leaf(rnd(g, 4, K, scale=4.0))
    tg = torch.tensor([0, 3, 3, 1])
    loss = focal_image(x, tg)
    loss.backward()
    t["focal.x"], t["focal.dx"], t["focal.targets"] = f32(x), f32(x.grad), tg.to(torch.int64)
    t["focal.loss"] = f32(loss.detach().reshape(1))

    # the whole head: 2 images, loss summed over images
    torch.manual_seed(SEED)
    head = Head().double()
    with torch.no_grad():
        for k, v in head.state_dict().items():
            v.copy_(v.float().double())  # float32-representable weights
            if k.endswith(".bias") or "norm" in k:
                v.add_(rnd(g, *v.shape, scale=0.1))  # non-trivial biases and norm weights
    tokens = rnd(g, nq, C)
    fms = rnd(g, sum(MAPS), D)
    text = normalize(rnd(g, K, E)).float().double()
    targets = torch.tensor([2, 0, 4, 1, 2])
    scale = math.exp(math.log(10.0))  # a mild scale keeps the head's gradients informative
    total, logits = 0.0, []
    for (q0, n), (k0, l) in zip(segments(BOXES), segments(MAPS)):
        lg = scale * normalize(head(tokens[q0:q0 + n], fms[k0:k0 + l])) @ text.t()
        logits.append(lg)
        total = total + focal_image(lg, targets[q0:q0 + n])
    total.backward()
    sd = {k: v.detach() for k, v in head.named_parameters()}
    for k, v in sd.items():
        t[f"head.param.{k}"] = f32(v)
        t[f"head.grad.{k}"] = f32(dict(head.named_parameters())[k].grad)
    t["head.tokens"], t["head.feature_maps"], t["head.text"] = f32(tokens), f32(fms), f32(text)
    t["head.targets"] = targets.to(torch.int64)
    t["head.loss"], t["head.logits"] = f32(total.detach().reshape(1)), f32(torch.cat(logits).detach())

    # clip_grad_norm_ at 1.0 on the head's gradients
    params = [p for _, p in head.named_parameters()]
    norm = torch.nn.utils.clip_grad_norm_(params, 1.0)
    t["clip.total_norm"] = f32(norm.reshape(1))
    for k, p in head.named_parameters():
        t[f"clip.grad.{k}"] = f32(p.grad)

    # two AdamW steps (first with the clipped head gradients, then with random ones)
    opt = torch.optim.AdamW(params, lr=LR, betas=BETAS, eps=EPS, weight_decay=WD)
    opt.step()
    for k, p in head.named_parameters():
        t[f"adamw.step1.{k}"] = f32(p.detach())
        p.grad = rnd(g, *p.shape, scale=0.01)
        t[f"adamw.grad2.{k}"] = f32(p.grad)
    # the stored grad2 is float32-exact, so Swift sees the same values
    opt.step()
    for k, p in head.named_parameters():
        t[f"adamw.step2.{k}"] = f32(p.detach())

    cfg = dict(d=D, heads=HEADS, tokens=C, ffn=FFN, embed=E, classes=K, layers=LAYERS, boxes=BOXES, maps=MAPS,
               head_logit_scale=math.log(10.0), logits_logit_scale=LOGIT_SCALE, lr=LR, weight_decay=WD,
               betas=list(BETAS), eps=EPS)
    save(FIXTURES / "training_grads.safetensors", t, {
        "format": "regionspotd-fixture-1", "config": cfg,
        "generator": "tools/make_fixtures.py --only training (torch autograd, float64)"})
    log(f"  wrote training_grads.safetensors ({len(t)} tensors)")
    return dict(config=cfg)


# ---------------------------------------------------------------------------------------
# Token rows for the synthetic shapes vocabulary. clip_a's token_embedding is zero except
# for the fixture prompts' tokens, so "red square" and "blue circle" would embed to the
# same vector (same length, all-zero word rows). These rows (2 N(0,1), F16-rounded like
# clip_a's storage) fill the shape/colour words' zero rows; Swift assembles
# clip.safetensors = clip_a + rows for the tiny shapes model (ShapesModel.assemble).

SHAPES_CLASSES = ["red square", "blue circle", "green triangle", "yellow star"]  # ShapesDataset.classes
SHAPES_SEED = 5006


def make_shapes_tokens(log) -> None:
    from open_clip.tokenizer import SimpleTokenizer

    from .clip import build_clip
    from .e2e import vocabulary_embeddings

    tok = SimpleTokenizer(context_length=77)
    model, _ = build_clip(tok)
    model = model.double()
    emb = model.token_embedding.weight
    ids = sorted({i for row in tok(SHAPES_CLASSES, context_length=77).tolist() for i in row if i != 0})
    ids = [i for i in ids if not bool(emb[i].abs().sum() > 0)]  # only rows still zero
    g = torch.Generator().manual_seed(SHAPES_SEED)
    rows = (2.0 * torch.randn(len(ids), emb.shape[1], generator=g, dtype=torch.float64)).half().double()
    _, before = vocabulary_embeddings(model, tok, SHAPES_CLASSES)
    with torch.no_grad():
        emb[ids] = rows
    _, vocab = vocabulary_embeddings(model, tok, SHAPES_CLASSES)
    cos_before = (before @ before.t() - torch.eye(4, dtype=torch.float64)).max().item()
    cos = (vocab @ vocab.t() - torch.eye(4, dtype=torch.float64)).max().item()
    log(f"  shapes vocabulary: max cosine between classes {cos_before:.6f} with clip_a's rows, {cos:.4f} with the filled rows")
    assert cos < 0.98, cos
    save(FIXTURES / "clip_shapes_tokens.safetensors", {
        "token_ids": torch.tensor(ids, dtype=torch.int64),
        "rows": f32(rows),                              # (n, text width)
        "vocab_text_embeddings": f32(vocab),            # (4, E) L2-normalized, 81-template mean
    }, {"format": "regionspotd-fixture-1", "class_names": SHAPES_CLASSES,
        "note": "clip_a token_embedding rows to fill (zero in clip_a) for the shapes class words"})
    log(f"  wrote clip_shapes_tokens.safetensors ({len(ids)} rows)")
