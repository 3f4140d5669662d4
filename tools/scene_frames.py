#!/usr/bin/env python3
"""Training pictures as the product sees them: frames decoded from crossing scenes' videos.

    tools/scene_frames.py BINARY OUT SEED_FROM SEED_TO STEP

Generates the crossing scenes SEED_FROM..SEED_TO-1 (`make-shapes --video-scene crossing`,
200 frames at 10 fps; sizes 320x240, 640x360, 400x300, 480x270, 560x316 and 2-5 shapes at a
time in turn), decodes every STEP-th frame of each H.264 video with the ffmpeg CLI (so the
pictures carry the codec's artifacts, the motion's positions and shapes crossing and touching)
and writes OUT/train.json (COCO, as make-shapes writes it): one image per decoded frame, one box per shape at least 30% visible
(the truth's visible box, as eval-video scores it), the four shape classes. Frames with no
such shape are left out. tools/eval_scenes.sh scores seeds 1000-1005 and 2000-2023 and the
head's video calibration uses 2-12: keep SEED_FROM..SEED_TO away from those.
"""
import json
import os
import subprocess
import sys

if len(sys.argv) != 6:
    sys.exit(__doc__)
binary, out, lo, hi, step = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
sizes = ["320x240", "640x360", "400x300", "480x270", "560x316"]
classes = ["red square", "blue circle", "green triangle", "yellow star"]
scored = set(range(1000, 1006)) | set(range(2000, 2024)) | set(range(2, 13))
if scored & set(range(lo, hi)):
    sys.exit(f"seeds {lo}..{hi - 1} include scenes that are scored or calibrated on: {sorted(scored & set(range(lo, hi)))}")
coco = {"images": [], "annotations": [], "categories": [{"id": i + 1, "name": c} for i, c in enumerate(classes)]}
os.makedirs(f"{out}/images", exist_ok=True)
for k, seed in enumerate(range(lo, hi)):
    width, height = sizes[k % len(sizes)].split("x")
    scene = f"{out}/scene-{seed}"
    if not os.path.exists(f"{scene}/video/video.json"):
        subprocess.run([binary, "make-shapes", "--out", scene, "--count", "1", "--seed", str(seed),
                        "--video-frames", "200", "--video-scene", "crossing", "--video-width", width,
                        "--video-height", height, "--video-objects", str(2 + k % 4), "--video-seed", str(seed)],
                       check=True, stdout=subprocess.DEVNULL)
    truth = json.load(open(f"{scene}/video/video.json"))
    # output picture n (1-based) is frame (n - 1) * step
    subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", f"{scene}/video/video.mp4",
                    "-vf", f"select=not(mod(n\\,{step}))", "-fps_mode", "vfr", f"{out}/images/s{seed}_%04d.png"],
                   check=True)
    n = 1
    while os.path.exists(f"{out}/images/s{seed}_{n:04d}.png"):
        frame = truth["frames"][(n - 1) * step]
        assert frame["index"] == (n - 1) * step, (seed, n, frame["index"])
        boxes = [(b, c) for b, c, v in zip(frame["boxes"], frame["labels"], frame["visibility"])
                 if v >= 0.3 and b[2] - b[0] >= 4 and b[3] - b[1] >= 4]
        if boxes:
            image = len(coco["images"]) + 1
            coco["images"].append({"id": image, "file_name": f"s{seed}_{n:04d}.png",
                                   "width": truth["width"], "height": truth["height"]})
            for b, c in boxes:
                coco["annotations"].append({"id": len(coco["annotations"]) + 1, "image_id": image,
                                            "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                                            "area": (b[2] - b[0]) * (b[3] - b[1]),
                                            "category_id": classes.index(c) + 1, "iscrowd": 0})
        n += 1
json.dump(coco, open(f"{out}/train.json", "w"))
print(f"{out}/train.json: {len(coco['images'])} frames of {hi - lo} scenes, {len(coco['annotations'])} boxes")
