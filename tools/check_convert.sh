#!/usr/bin/env bash
# Check tools/convert_checkpoint.py on tiny RegionSpot-style checkpoints.
#
# How to run (needs the fixture environment, see tools/requirements-fixtures.txt):
#     tools/check_convert.sh            # uses .venv-fixtures/bin/python if present
#     PYTHON=python3 tools/check_convert.sh
#
# It regenerates the fixtures with tools/make_fixtures.py --only model (which also writes
# the tiny checkpoints to a temp dir), checks that the committed fixtures come out byte for
# byte, converts the checkpoints in four layouts (full checkpoint; head only with the
# 'model.' prefix + SAM .pth + TorchScript CLIP; head only without prefix + plain CLIP state
# dict; SAM + CLIP without a head) and compares every output with
# Tests/RecognizerTests/Fixtures/model_tiny/. It also checks that bad inputs give errors
# that name the problem. Prints "N passed, N failed" at the end; exit status 1 on failure.
set -uo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [[ -z "$PY" ]]; then
  if [[ -x .venv-fixtures/bin/python ]]; then PY=.venv-fixtures/bin/python; else PY=python3; fi
fi
TMP="$(mktemp -d /tmp/check_convert.XXXXXX)"
trap 'rm -rf "$TMP"' EXIT
FIX=Tests/RecognizerTests/Fixtures
BPE="$FIX/bpe_simple_vocab_16e6.txt.gz"
CONV=(env PYTHONWARNINGS=ignore "$PY" tools/convert_checkpoint.py)
pass=0; fail=0
ok()  { echo "ok   - $*"; pass=$((pass + 1)); }
bad() { echo "FAIL - $*"; fail=$((fail + 1)); }

before="$(git status --porcelain -- "$FIX")"
if env PYTHONWARNINGS=ignore "$PY" tools/make_fixtures.py --only model --checkpoint-dir "$TMP/ckpt" > "$TMP/make.log" 2>&1; then
  ok "make_fixtures.py --only model"
else
  bad "make_fixtures.py --only model (see below)"; cat "$TMP/make.log"
  echo "$pass passed, $fail failed"; exit 1
fi
if [[ "$(git status --porcelain -- "$FIX")" == "$before" ]] && git diff --quiet -- "$FIX"; then
  ok "committed fixtures reproduce byte for byte"
else
  bad "regenerated fixtures differ from the committed ones: git status -- $FIX"
fi

C="$TMP/ckpt"
convert() { # name, args...
  local name="$1"; shift
  if "${CONV[@]}" "$@" --out "$TMP/$name" > "$TMP/$name.log" 2>&1; then ok "convert $name"
  else bad "convert $name: $(cat "$TMP/$name.log")"; fi
}
convert full --regionspot "$C/regionspot_tiny_full.pth" --bpe "$BPE"
convert head_jit --regionspot "$C/regionspot_tiny_head.pth" --sam "$C/sam_tiny.pth" \
  --clip "$C/clip_tiny_jit.pt" --bpe "$BPE"
convert head_sd --regionspot "$C/regionspot_tiny_head_noprefix.pth" --sam "$C/sam_tiny.pth" \
  --clip "$C/clip_tiny_sd.pt" --bpe "$BPE"
convert nohead --sam "$C/sam_tiny.pth" --clip "$C/clip_tiny_sd.pt" --bpe "$BPE"

compare() { # dir, dtype-strict(1/0), expected variant
  env PYTHONWARNINGS=ignore "$PY" - "$TMP/$1" "$FIX/model_tiny" "$2" "$3" <<'EOF'
import json, sys, torch
from pathlib import Path
from safetensors.torch import load_file
out, ref, strict, variant = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3] == "1", sys.argv[4]
m, r = json.loads((out / "model.json").read_text()), json.loads((ref / "model.json").read_text())
assert m["variant"] == variant, f"variant {m['variant']!r}, expected {variant!r}"
for part in ("sam", "clip", "head", "clip_input_size"):
    if part in m:
        assert m[part] == r[part], f"model.json [{part}] differs: {m[part]} vs {r[part]}"
for part, f in m["files"].items():
    if f.endswith(".safetensors"):
        a, b = load_file(str(out / f)), load_file(str(ref / f))
        assert set(a) == set(b), f"{f}: names differ: {sorted(set(a) ^ set(b))[:5]}"
        for k in a:
            assert a[k].shape == b[k].shape, f"{f}:{k} shape {a[k].shape} vs {b[k].shape}"
            assert not strict or a[k].dtype == b[k].dtype, f"{f}:{k} dtype {a[k].dtype} vs {b[k].dtype}"
            assert torch.equal(a[k].double(), b[k].double()), f"{f}:{k} values differ"
    else:
        assert (out / f).read_bytes() == (ref / f).read_bytes(), f"{f} differs"
print(f"{out.name}: {m['variant']}, files {sorted(m['files'].values())}")
EOF
}
for spec in "full 1 RegionSpot-custom" "head_jit 0 RegionSpot-custom" "head_sd 1 RegionSpot-custom" \
            "nohead 1 SAM+CLIP (no RegionSpot head)"; do
  read -r name strict variant <<<"$spec"
  if [[ -d "$TMP/$name" ]] && compare "$name" "$strict" "$variant" > "$TMP/cmp_$name.log" 2>&1; then
    ok "$name matches model_tiny ($(tail -1 "$TMP/cmp_$name.log"))"
  else
    bad "$name vs model_tiny: $(tail -3 "$TMP/cmp_$name.log" 2>/dev/null)"
  fi
done

expect_error() { # name, expected substring, args...
  local name="$1" want="$2"; shift 2
  if "${CONV[@]}" "$@" --out "$TMP/err_$name" > "$TMP/err_$name.log" 2>&1; then
    bad "$name: conversion succeeded, expected an error"
  elif grep -q -- "$want" "$TMP/err_$name.log"; then
    ok "$name: $(grep -m1 -- "$want" "$TMP/err_$name.log")"
  else
    bad "$name: error does not mention '$want': $(cat "$TMP/err_$name.log")"
  fi
}
expect_error head_without_sam "pass --sam" --regionspot "$C/regionspot_tiny_head.pth" --bpe "$BPE"
expect_error head_without_clip "pass --clip" --regionspot "$C/regionspot_tiny_head.pth" \
  --sam "$C/sam_tiny.pth" --bpe "$BPE"
head -c 100000 "$C/regionspot_tiny_full.pth" > "$TMP/truncated.pth"
expect_error truncated "truncated.pth: cannot read" --regionspot "$TMP/truncated.pth" --bpe "$BPE"
expect_error missing_file "no such file" --sam "$TMP/nope.pth"
env PYTHONWARNINGS=ignore "$PY" -c "
import torch, collections, sys
class Opaque: pass
torch.save({'model': {'model.to_clip.weight': torch.zeros(2, 2)}, 'trainer': Opaque()}, sys.argv[1])
" "$TMP/pickled.pth" 2>/dev/null
expect_error needs_pickle "--trust-pickle" --regionspot "$TMP/pickled.pth" --sam "$C/sam_tiny.pth" \
  --clip "$C/clip_tiny_sd.pt" --bpe "$BPE"
"$PY" - "$C/sam_tiny.pth" "$TMP/sam_bad.pth" <<'EOF' 2>/dev/null
import sys, torch
sd = torch.load(sys.argv[1])
del sd["image_encoder.blocks.1.attn.rel_pos_h"]
torch.save(sd, sys.argv[2])
EOF
expect_error missing_tensor "image_encoder.blocks.1.attn.rel_pos_h" --sam "$TMP/sam_bad.pth"

echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
