#!/usr/bin/env bash
# Memory soak: replays one file in a loop for DURATION seconds and samples the process's
# resident memory every INTERVAL seconds (the target: no growth over a one-hour replay loop).
#
#   tools/soak.sh MODEL_DIR VIDEO [DURATION=3600] [INTERVAL=30] [OUT=soak.tsv]
#
# MODEL_DIR: a model directory, e.g. from `regionspotd models synthesize /tmp/bb` (BB shapes).
# Prints one line per sample (seconds, VmRSS MiB, VmHWM MiB) into OUT and a summary at the
# end: RSS in the first and last 10 minutes (or thirds, for short runs) and the slope of a
# least-squares line through the samples after warm-up.
set -euo pipefail
model=${1:?model directory}; video=${2:?video file}
duration=${3:-3600}; interval=${4:-30}; out=${5:-soak.tsv}
bin=${REGIONSPOTD:-.build/release/regionspotd}
vocab=${VOCAB:-person,car,bicycle,dog,cat,truck,bus,motorcycle,backpack,umbrella,handbag,suitcase,bottle,chair,bench,traffic light,stop sign,bird,horse,sheep}

"$bin" replay --weights "$model" --vocab "$vocab" --loop --duration "$duration" --out /dev/null "$video" 2> "${out%.tsv}.log" &
pid=$!
trap 'kill $pid 2>/dev/null || true' INT TERM
printf 'seconds\trss_mib\thwm_mib\n' > "$out"
start=$(date +%s)
while kill -0 $pid 2>/dev/null; do
  if [[ -r /proc/$pid/status ]]; then
    rss=$(awk '/^VmRSS/ {print int($2/1024)}' /proc/$pid/status 2>/dev/null || true)
    hwm=$(awk '/^VmHWM/ {print int($2/1024)}' /proc/$pid/status 2>/dev/null || true)
    [[ -n "$rss" ]] && printf '%d\t%s\t%s\n' $(( $(date +%s) - start )) "$rss" "$hwm" >> "$out"
  fi
  sleep "$interval" & wait $! || true
done
wait $pid && status=0 || status=$?
cat "${out%.tsv}.log"
python3 - "$out" "$status" <<'PY'
import sys
rows = [tuple(map(float, l.split('\t'))) for l in open(sys.argv[1]).read().splitlines()[1:] if l.strip()]
if len(rows) < 4:
    sys.exit(f"soak: only {len(rows)} samples")
t_end = rows[-1][0]
win = 600 if t_end >= 1800 else t_end / 3
first = [r[1] for r in rows if r[0] <= win]
last = [r[1] for r in rows if r[0] >= t_end - win]
warm = [r for r in rows if r[0] >= min(300, t_end / 4)]
n = len(warm); mt = sum(r[0] for r in warm) / n; mr = sum(r[1] for r in warm) / n
slope = sum((r[0] - mt) * (r[1] - mr) for r in warm) / max(1e-9, sum((r[0] - mt) ** 2 for r in warm))
print(f"soak: {t_end:.0f} s, {len(rows)} samples, exit status {sys.argv[2]}")
print(f"  RSS first {win:.0f} s: {min(first):.0f}-{max(first):.0f} MiB; last {win:.0f} s: {min(last):.0f}-{max(last):.0f} MiB")
print(f"  peak (VmHWM) {rows[-1][2]:.0f} MiB; slope after warm-up {slope * 3600:+.1f} MiB/hour")
PY
