#!/usr/bin/env python3
"""How many 1080p25 streams keep real time while the recognizer runs back to back.

For each stream count N: runs `regionspotd run` with N copies of a looping 1080p25 H.264
file (paced by PTS, like cameras), every frame eligible for recognition (the recognizer
never idles), scrapes /metrics every second for --seconds after READY, and reports per N:
decoded frames per second per stream (25 = real time), the largest lag behind the streams'
timestamps (regionspotd_stream_lag_max_seconds), frames 0.5 s or more late, and keyframes
recognized. Python standard library only.

  tools/load_test.py --model /tmp/bb [--video FILE] [--streams 1,2,4,6] [--seconds 60] [--nice 10]
                     [--workers 1] [--blas-threads 0] [--watchers 0,1] [--live-fps 5]

--watchers W,...: each stream count runs once per W with W live-page watchers (what the
page does: an event stream of /streams/camK/events read to the end, and
/streams/camK/frame.jpg fetched again as soon as the last arrived, at most --live-fps a
second), watcher i on stream cam(i mod N + 1); reports the pictures drawn per second too.
--alternate W [--phase S --cycles K]: one daemon per stream count, K pairs of S-second
phases without and with W watchers (paired phases: other load on the machine hits both).

--workers W --blas-threads T sets limits.recognizer_workers / blas_threads (W > 1 needs
T <= 1): e.g. 1 worker x 2 threads against 2 workers x 1 thread.
"""
import argparse, os, re, signal, subprocess, sys, tempfile, threading, time, urllib.request

def watch(port, stream, fps, stop, got):
    """One live-page watcher: an event stream plus frame.jpg polled at most fps a second."""
    base = f"http://127.0.0.1:{port}/streams/{stream}"
    def events():
        try:
            with urllib.request.urlopen(base + "/events", timeout=10) as r:
                while not stop.is_set() and r.readline(): pass
        except OSError: pass
    threading.Thread(target=events, daemon=True).start()
    while not stop.is_set():
        t = time.time()
        try:
            urllib.request.urlopen(base + "/frame.jpg", timeout=10).read(); got[0] += 1
        except OSError: pass
        stop.wait(max(0, 1 / fps - (time.time() - t)))

def make_video(path):
    subprocess.run(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1920x1080:rate=25",
                    "-t", "20", "-c:v", "libx264", "-preset", "veryfast", "-b:v", "6M", "-g", "50",
                    "-pix_fmt", "yuv420p", path], check=True)

def scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    out = {}
    for line in text.splitlines():
        m = re.match(r'^(\w+)\{([^}]*)\} (\S+)$', line)
        if not m: continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if "stream" in labels:
            out[(m.group(1), labels["stream"])] = float(m.group(3))
    return out

def run(n, args, video, work, watchers=0):
    port = 19100 + n + 20 * watchers
    cfg = os.path.join(work, f"load{n}.yaml")
    streams = "\n".join(f"  - {{ id: cam{i + 1}, url: {video}, loop: true, keyframes: {{ min_interval: 0, max_interval: 0.04 }} }}"
                        for i in range(n))
    with open(cfg, "w") as f:
        f.write(f"""log_level: warning
models: {{ directory: {args.model} }}
vocabulary: [person, car, bicycle, dog, cat, truck, bus, motorcycle, backpack, umbrella]
streams:
{streams}
publisher: {{ endpoints: ["tcp://127.0.0.1:{port + 100}"] }}
metrics: {{ listen: "127.0.0.1:{port}", live_fps: {args.live_fps}, max_watchers: {max(1, watchers)} }}
limits: {{ recognizer_nice: {args.nice}, recognizer_workers: {args.workers}, blas_threads: {args.blas_threads} }}
""")
    p = subprocess.Popen([args.binary, "run", "--config", cfg], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while True:
            if p.poll() is not None:
                sys.exit(f"regionspotd exited with {p.returncode}: {p.stderr.read().decode()[-2000:]}")
            try:
                first = scrape(port)
                if all(("regionspotd_frames_decoded_total", f"cam{i + 1}") in first and
                       first[("regionspotd_frames_decoded_total", f"cam{i + 1}")] > 25 for i in range(n)):
                    break
            except OSError:
                pass
            if time.time() > deadline: sys.exit("no frames within 120 s")
            time.sleep(0.5)
        if args.alternate:
            return alternating(port, n, args, p.pid)
        stop, got = threading.Event(), [0]
        for w in range(watchers):
            threading.Thread(target=watch, args=(port, f"cam{w % n + 1}", args.live_fps, stop, got), daemon=True).start()
        # Skip the start-up second (anchors settle), then measure.
        time.sleep(2)
        t0, first = time.time(), scrape(port)
        lag_max = {i: 0.0 for i in range(n)}
        while time.time() - t0 < args.seconds:
            time.sleep(1)
            m = scrape(port)
            for i in range(n):
                lag_max[i] = max(lag_max[i], m.get(("regionspotd_stream_lag_seconds", f"cam{i + 1}"), 0))
        t1, last = time.time(), scrape(port)
        stop.set()
    finally:
        p.send_signal(signal.SIGTERM)
        try: p.wait(30)
        except subprocess.TimeoutExpired: p.kill()
    def delta(name, i): return last.get((name, f"cam{i + 1}"), 0) - first.get((name, f"cam{i + 1}"), 0)
    secs = t1 - t0
    fps = [delta("regionspotd_frames_decoded_total", i) / secs for i in range(n)]
    late = sum(delta("regionspotd_frames_late_total", i) for i in range(n))
    recog = sum(delta("regionspotd_recognitions_total", i) for i in range(n))
    drawn = sum(delta("regionspotd_live_frames_drawn_total", i) for i in range(n))
    draw_s = sum(delta("regionspotd_live_draw_seconds_sum", i) for i in range(n))
    return {"streams": n, "watchers": watchers, "drawn_per_s": drawn / secs, "draw_ms": 1000 * draw_s / drawn if drawn else 0,
            "seconds": secs, "fps_min": min(fps), "fps_mean": sum(fps) / n,
            "lag_max": max(lag_max.values()), "late_frames": late, "keyframes_per_min": recog / secs * 60}

def thread_cpu(pid):
    """CPU seconds so far of the daemon's threads, summed by name ('decode cam1' -> 'decode')."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{t}/stat").read()
        except OSError:
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")].split(" ")[0]
        f = stat[stat.rindex(")") + 2:].split()
        out[name] = out.get(name, 0) + (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    return out

def alternating(port, n, args, pid):
    """--alternate W: in one daemon, phases of --phase seconds without and with W watchers,
    --cycles times; per phase decoded fps (mean of the streams), keyframes recognized a
    minute and pictures drawn a second. Paired phases minutes apart cancel most of what
    other load on the machine does to both."""
    def rates(a, b, secs, ca, cb):
        d = lambda name: sum(b.get((name, f"cam{i + 1}"), 0) - a.get((name, f"cam{i + 1}"), 0) for i in range(n))
        frames = d("regionspotd_frames_decoded_total")
        cpu = lambda name: cb.get(name, 0) - ca.get(name, 0)
        return (frames / secs / n, d("regionspotd_recognitions_total") / secs * 60,
                d("regionspotd_live_frames_drawn_total") / secs, d("regionspotd_frames_late_total"),
                1000 * cpu("decode") / max(1, frames), cpu("recognizer") / secs)
    time.sleep(2)
    rows = []
    for c in range(args.cycles):
        for watchers in (0, args.alternate):
            stop = threading.Event()
            for w in range(watchers):
                threading.Thread(target=watch, args=(port, f"cam{w % n + 1}", args.live_fps, stop, [0]), daemon=True).start()
            time.sleep(1 if watchers else 0)  # the watchers connect
            t0, a, ca = time.time(), scrape(port), thread_cpu(pid)
            time.sleep(args.phase)
            rows.append((c, watchers) + rates(a, scrape(port), time.time() - t0, ca, thread_cpu(pid)))
            stop.set()
            time.sleep(0.5)
    return rows

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model directory (e.g. regionspotd models synthesize /tmp/bb)")
    ap.add_argument("--video", help="1080p25 H.264 file (default: generated with ffmpeg testsrc2, 6 Mbit/s)")
    ap.add_argument("--streams", default="1,2,4,6")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--binary", default=".build/release/regionspotd")
    ap.add_argument("--nice", type=int, default=10, help="limits.recognizer_nice (0 = recognizer at decoding's priority)")
    ap.add_argument("--workers", type=int, default=1, help="limits.recognizer_workers")
    ap.add_argument("--blas-threads", type=int, default=0, help="limits.blas_threads (0 = OpenBLAS's default)")
    ap.add_argument("--watchers", default="0", help="live-page watchers, one run per value (e.g. 0,1,4)")
    ap.add_argument("--live-fps", type=float, default=5, help="metrics.live_fps")
    ap.add_argument("--alternate", type=int, default=0, help="W: one daemon per stream count, phases without and with W watchers")
    ap.add_argument("--phase", type=float, default=15, help="seconds per phase with --alternate")
    ap.add_argument("--cycles", type=int, default=4, help="phase pairs with --alternate")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="regionspotd-load-")
    video = args.video or os.path.join(work, "1080p25.mp4")
    if not args.video: make_video(video)
    if args.alternate:
        print("| streams | cycle | watchers | decoded fps per stream | keyframes recognized / min | pictures drawn / s | frames >= 0.5 s late | decode thread CPU ms / frame | recognizer CPU s / s |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in [int(x) for x in args.streams.split(",")]:
            rows = run(n, args, video, work, args.alternate)
            for c, w, fps, kf, drawn, late, dms, rcpu in rows:
                print(f"| {n} | {c + 1} | {w} | {fps:.2f} | {kf:.0f} | {drawn:.1f} | {late:.0f} | {dms:.2f} | {rcpu:.2f} |", flush=True)
            for w in (0, args.alternate):
                sel = [r for r in rows if r[1] == w]
                print(f"| {n} | all | {w} | {sum(r[2] for r in sel) / len(sel):.2f} | {sum(r[3] for r in sel) / len(sel):.0f} | "
                      f"{sum(r[4] for r in sel) / len(sel):.1f} | {sum(r[5] for r in sel):.0f} | {sum(r[6] for r in sel) / len(sel):.2f} | "
                      f"{sum(r[7] for r in sel) / len(sel):.2f} |", flush=True)
        return
    print("| streams | watchers | s | decoded fps per stream (min / mean) | max lag s | frames >= 0.5 s late | keyframes recognized / min | pictures drawn / s | ms per picture |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in [int(x) for x in args.streams.split(",")]:
        for w in [int(x) for x in args.watchers.split(",")]:
            r = run(n, args, video, work, w)
            print(f"| {r['streams']} | {r['watchers']} | {r['seconds']:.0f} | {r['fps_min']:.2f} / {r['fps_mean']:.2f} | {r['lag_max']:.2f} | "
                  f"{r['late_frames']:.0f} | {r['keyframes_per_min']:.1f} | {r['drawn_per_s']:.1f} | {r['draw_ms']:.1f} |", flush=True)

if __name__ == "__main__":
    main()
