#!/usr/bin/env bash
# End-to-end quality of the product on held-out synthetic scenes: generates crossing scenes
# (make-shapes --video-scene crossing; seeds >= 1000, never used for training), runs
# `eval-video` on each with the given model arguments, and prints a Markdown table, one
# row per scene and the mean of each metric over each set of scenes.
#
# Two sets: the six scenes 1000-1005 that thirteen quality steps were judged on (and so
# tuned to), and 24 fresh ones, 2000-2023, added when their mean turned out far below the
# six's (docs/quality.md, fourteenth step). Judge a change on both. SCENES=6 runs the six
# alone (the tables in docs before that step).
#
#   tools/eval_scenes.sh BINARY [MODEL ARGS...]
#
# MODEL ARGS are eval-video's model options, e.g. `--config demo/regionspotd.yaml` or
# `--weights DIR --vocab "red square,blue circle,green triangle,yellow star"`. Without them:
# the demo configuration (demo/regionspotd.yaml: keyframes every 0.5-1 s) with demo/model
# if scripts/make-demo built it, else with the same tiny model built into the work dir.
# WORK_DIR=DIR keeps the scenes and reports there (default: a temp dir, removed).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:?usage: tools/eval_scenes.sh BINARY [MODEL ARGS...]}
shift
bin=$(realpath "$bin")
if [[ -n ${WORK_DIR:-} ]]; then
  work=$WORK_DIR
  mkdir -p "$work"
else
  work=$(mktemp -d /tmp/eval-scenes-XXXXXX)
  trap 'rm -rf "$work"' EXIT
fi
vocab="red square,blue circle,green triangle,yellow star"
if [[ $# -eq 0 ]]; then
  if [[ -f demo/model/head.safetensors ]]; then
    set -- --config demo/regionspotd.yaml
  else
    "$bin" make-shapes --out "$work/base" --count 1 --seed 7 --tiny-model "$work/model" \
      --tiny-head Tests/RecognizerTests/Fixtures/head_shapes.safetensors \
      --fixtures Tests/RecognizerTests/Fixtures >/dev/null
    set -- --config demo/regionspotd.yaml --weights "$work/model" --vocab "$vocab"
  fi
fi

# seed  size     objects frames: a mix of sizes and crowding, 15-20 s at 10 fps, GOP 10.
scenes=(
  "1000 320x240 2 150"
  "1001 640x360 3 180"
  "1002 320x240 4 200"
  "1003 640x360 5 180"
  "1004 320x240 3 180"
  "1005 640x360 4 200"
)
# the fresh set: sizes alternating, 2-5 shapes, 150/175/200 frames
if [[ ${SCENES:-30} != 6 ]]; then
  for i in $(seq 0 23); do
    if (( i % 2 )); then size=640x360; else size=320x240; fi
    scenes+=("$((2000 + i)) $size $((2 + i % 4)) $((150 + (i % 3) * 25))")
  done
fi
export XDG_CACHE_HOME=${XDG_CACHE_HOME:-$work/cache}
for s in "${scenes[@]}"; do
  read -r seed size objects frames <<<"$s"
  dir="$work/scene-$seed"
  "$bin" make-shapes --out "$dir" --count 1 --seed "$seed" --video-frames "$frames" --video-scene crossing \
    --video-width "${size%x*}" --video-height "${size#*x}" --video-objects "$objects" --video-seed "$seed" >/dev/null
  "$bin" eval-video "$dir/video/video.mp4" --truth "$dir/video/video.json" "$@" --quiet --json \
    --out "$dir/regions.jsonl" >"$dir/eval.json"
done

python3 - "$work" "${scenes[@]}" <<'EOF'
import json, sys
work, scenes = sys.argv[1], [s.split() for s in sys.argv[2:]]
cols = [("precision", "precision"), ("recall", "recall"), ("MOTA", "mota"), ("MOTP (1-IoU)", "motp"),
        ("IDF1", "idf1"), ("ID sw", "id_switches"), ("track ids", "unique_hypothesis_ids"),
        ("objects", "unique_truth_objects"), ("label acc", "label_accuracy"),
        ("regions/frame", "regions_per_frame"), ("truth/frame", "truth_per_frame"), ("ratio", "regions_per_truth")]
head = ["scene (seed)", "size", "shapes at a time", "frames"] + [c[0] for c in cols]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
values = {k: [] for _, k in cols}
counts = ("id_switches", "unique_hypothesis_ids", "unique_truth_objects")
per_frame = ("regions_per_frame", "truth_per_frame", "regions_per_truth")
def fmt(k, v, mean=False):
    if v is None:
        return "-"
    if k in counts:
        return f"{v:.1f}" if mean else str(int(v))
    return f"{v:.2f}" if k in per_frame else f"{v:.3f}"
runs = {}
for seed, size, objects, frames in scenes:
    e = json.load(open(f"{work}/scene-{seed}/eval.json"))
    s, runs[int(seed)] = e["score"], e["recognitions"]
    for _, k in cols:
        values[k].append((int(seed), s[k]))
    print(f"| {seed} | {size} | {objects} | {s['frames_scored']} | " + " | ".join(fmt(k, s[k]) for _, k in cols) + " |")
def mean_row(name, keep):
    mean = []
    for k in values:
        xs = [x for seed, x in values[k] if keep(seed) and x is not None]
        mean.append(sum(xs) / len(xs) if xs else None)
    print(f"| **{name}** | | | | " + " | ".join(fmt(k, m, mean=True) for (_, k), m in zip(cols, mean)) + " |")
sets = [("1000-1005", lambda seed: seed < 2000), ("2000-2023", lambda seed: seed >= 2000)]
if len(scenes) > 6:
    for name, keep in sets:
        mean_row(f"mean {name}", keep)
    mean_row("mean of all 30", lambda seed: True)
else:
    mean_row("mean", lambda seed: True)
print()
print("encoder runs: " + ", ".join(f"{sum(n for seed, n in runs.items() if keep(seed))} ({name})" for name, keep in sets
                                   if any(keep(seed) for seed in runs)))
EOF
