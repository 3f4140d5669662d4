#!/usr/bin/env python3
"""How 1080p25 streams share 2 cores with the recognizer: real time, labels, shedding.

For each stream count N: runs `regionspotd run` with N copies of a looping 1080p25 H.264
file (paced by PTS, like cameras), every frame eligible for recognition (the recognizer
never idles), scrapes /metrics every second for --seconds after the streams run, and
reports per N, all from one daemon run:
- decoded frames per second per stream (25 = real time) and frames 0.5 s or more late;
- recognitions per minute per stream (min / mean / max over the streams) and streams
  never recognized while measured;
- label age (seconds since the keyframe of a stream's newest labels,
  regionspotd_label_age_now_seconds sampled every second over all streams): p50, p95, max;
- frames shed under overload by reason (tracking / non_reference / non_key) and the shed
  levels at the end (limits.max_label_age, docs/config.md "Overload");
- whether the overload was said: `overload` lines in the log, `overload` events on the
  status topics (needs python3-zmq; "-" without), and /healthz's body at the end.
Python standard library (plus python3-zmq when present).

  tools/load_test.py --model /tmp/bb [--video FILE] [--streams 1,4,8,12] [--seconds 60] [--nice 10]
                     [--workers 1] [--blas-threads 0] [--max-label-age S] [--watchers 0,1] [--live-fps 5] [--live-width 640]

--watchers W,...: each stream count runs once per W with W live-page watchers (what the
page does: an event stream of /streams/camK/events and the MJPEG stream
/streams/camK/video.mjpeg, both read to the end; with --poll /streams/camK/frame.jpg
fetched again as soon as the last arrived, at most --live-fps a second, instead of the
MJPEG stream), watcher i on stream cam(i mod N + 1); reports the pictures drawn per second too
(and the wall time each took, on its nice-19 thread, waiting for CPU included).
--alternate W [--phase S --cycles K]: one daemon per stream count, K pairs of S-second
phases without and with W watchers (paired phases: other load on the machine hits both);
per phase also where the CPU went (the daemon's threads, the watchers' clients, the
machine's idle time) and the recognizer threads' run-queue wait, sleeps and preemptions.
--clients-idle: the watchers' client threads at SCHED_IDLE (a browser would not share the
daemon's cores).

--workers W --blas-threads T sets limits.recognizer_workers / blas_threads (W > 1 needs
T <= 1): e.g. 1 worker x 2 threads against 2 workers x 1 thread.
"""
import argparse, os, re, signal, subprocess, sys, tempfile, threading, time, urllib.request

def idle_thread():
    """The calling thread at SCHED_IDLE (--clients-idle): runs only on CPU nothing else wants,
    as a browser on another machine would (Linux: pid 0 is the calling thread)."""
    os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))

def watch(port, stream, fps, stop, got, poll=False, idle=False):
    """One live-page watcher: an event stream plus the MJPEG stream, or frame.jpg polled at
    most fps a second (poll)."""
    base = f"http://127.0.0.1:{port}/streams/{stream}"
    if idle: idle_thread()
    def events():
        if idle: idle_thread()
        try:
            with urllib.request.urlopen(base + "/events", timeout=10) as r:
                while not stop.is_set() and r.readline(): pass
        except OSError: pass
    threading.Thread(target=events, daemon=True).start()
    if not poll:
        try:
            with urllib.request.urlopen(base + "/video.mjpeg", timeout=10) as r:
                while not stop.is_set():
                    line = r.readline()
                    if not line: break
                    if line.lower().startswith(b"content-length:"):
                        while r.readline() not in (b"\r\n", b"\n", b""): pass  # the part's other headers
                        r.read(int(line.split(b":")[1])); got[0] += 1
        except OSError: pass
        return
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
            out[(m.group(1), labels["stream"], labels.get("reason", ""))] = float(m.group(3))
    return out

def healthz(port):
    try:
        r = urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)
        return r.status, r.read().decode().strip()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode().strip()

class StatusListener:
    """Counts `overload` events per state on status.* (python3-zmq), in a thread."""
    def __init__(self, endpoint):
        self.events, self.ok, self.stop = {}, False, False
        try:
            import zmq, json
        except ImportError:
            return
        self.ok = True
        ctx = zmq.Context.instance()
        s = ctx.socket(zmq.SUB)
        s.setsockopt(zmq.SUBSCRIBE, b"status.")
        s.setsockopt(zmq.RCVTIMEO, 200)
        s.connect(endpoint)
        def loop():
            while not self.stop:
                try: _, payload = s.recv_multipart()
                except zmq.Again: continue
                m = json.loads(payload)
                if m.get("event") == "overload":
                    st = m["overload"]["state"]
                    self.events[st] = self.events.get(st, 0) + 1
            s.close(0)
        self.thread = threading.Thread(target=loop, daemon=True)
        self.thread.start()
    def close(self):
        self.stop = True
        if self.ok: self.thread.join(2)

def percentile(xs, q):
    if not xs: return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]

def run(n, args, video, work, watchers=0):
    port = 19100 + n + 20 * watchers
    cfg = os.path.join(work, f"load{n}.yaml")
    streams = "\n".join(f"  - {{ id: cam{i + 1}, url: {video}, loop: true, keyframes: {{ min_interval: 0, max_interval: 0.04 }} }}"
                        for i in range(n))
    mla = f", max_label_age: {args.max_label_age}" if args.max_label_age else ""
    busy = f", live_fps_busy: {args.live_fps_busy}" if args.live_fps_busy is not None else ""
    with open(cfg, "w") as f:
        f.write(f"""log_level: info
models: {{ directory: {args.model} }}
vocabulary: [person, car, bicycle, dog, cat, truck, bus, motorcycle, backpack, umbrella]
streams:
{streams}
publisher: {{ endpoints: ["tcp://127.0.0.1:{port + 100}"] }}
metrics: {{ listen: "127.0.0.1:{port}", live_fps: {args.live_fps}, live_width: {args.live_width}, max_watchers: {max(1, 2 * watchers)}{busy} }}
limits: {{ recognizer_nice: {args.nice}, recognizer_workers: {args.workers}, blas_threads: {args.blas_threads}{mla} }}
""")
    log = open(os.path.join(work, f"load{n}.log"), "w+")
    p = subprocess.Popen([args.binary, "run", "--config", cfg], stdout=subprocess.DEVNULL, stderr=log)
    listener = StatusListener(f"tcp://127.0.0.1:{port + 100}")
    cams = [f"cam{i + 1}" for i in range(n)]
    try:
        deadline = time.time() + 120
        while True:
            if p.poll() is not None:
                log.seek(0)
                sys.exit(f"regionspotd exited with {p.returncode}: {log.read()[-2000:]}")
            try:
                first = scrape(port)
                if all(first.get(("regionspotd_frames_decoded_total", c, ""), 0) > 25 for c in cams):
                    break
            except OSError:
                pass
            if time.time() > deadline: sys.exit("no frames within 120 s")
            time.sleep(0.5)
        if args.alternate:
            return alternating(port, n, args, p.pid)
        stop, got = threading.Event(), [0]
        for w in range(watchers):
            threading.Thread(target=watch, args=(port, f"cam{w % n + 1}", args.live_fps, stop, got, args.poll), daemon=True).start()
        # Skip the start-up second (anchors settle), then measure.
        time.sleep(2)
        t0, first = time.time(), scrape(port)
        ages = []
        age_max = {c: 0.0 for c in cams}
        while time.time() - t0 < args.seconds:
            time.sleep(1)
            m = scrape(port)
            for c in cams:
                a = m.get(("regionspotd_label_age_now_seconds", c, ""))
                if a is not None:
                    ages.append(a)
                    age_max[c] = max(age_max[c], a)
        t1, last = time.time(), scrape(port)
        health = healthz(port)
        stop.set()
    finally:
        p.send_signal(signal.SIGTERM)
        try: p.wait(30)
        except subprocess.TimeoutExpired: p.kill()
        listener.close()
    def delta(name, c, reason=""): return last.get((name, c, reason), 0) - first.get((name, c, reason), 0)
    secs = t1 - t0
    fps = [delta("regionspotd_frames_decoded_total", c) / secs for c in cams]
    per_min = [delta("regionspotd_recognitions_total", c) / secs * 60 for c in cams]
    shed = {r: sum(delta("regionspotd_frames_shed_total", c, r) for c in cams) for r in ["tracking", "non_reference", "non_key"]}
    levels = [int(last.get(("regionspotd_shed_level", c, ""), 0)) for c in cams]
    drawn = sum(delta("regionspotd_live_frames_drawn_total", c) for c in cams)
    draw_s = sum(delta("regionspotd_live_draw_seconds_sum", c) for c in cams)
    log.seek(0)
    lines = [l for l in log.read().splitlines() if "overload" in l]
    return {"streams": n, "seconds": secs, "fps_min": min(fps), "fps_mean": sum(fps) / n,
            "late": sum(delta("regionspotd_frames_late_total", c) for c in cams),
            "rpm_min": min(per_min), "rpm_mean": sum(per_min) / n, "rpm_max": max(per_min),
            "never": sum(1 for x in per_min if x == 0),
            "age_p50": percentile(ages, 0.5), "age_p95": percentile(ages, 0.95), "age_max": max(age_max.values()),
            "shed": shed, "levels": levels, "log_lines": len(lines),
            "events": listener.events if listener.ok else None, "healthz": health,
            "watchers": watchers, "drawn_per_s": drawn / secs, "draw_ms": 1000 * draw_s / drawn if drawn else 0}

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

def process_cpu(pid):
    """CPU seconds so far of the whole daemon, threads that have exited included."""
    f = open(f"/proc/{pid}/stat").read()
    f = f[f.rindex(")") + 2:].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

def sched(pid):
    """Per thread name (as thread_cpu): [run-queue wait s, voluntary and involuntary context
    switches] so far, from /proc/PID/task/TID/schedstat and status: how long the threads
    were ready but not running, and how often they slept (waited) or were preempted."""
    out = {}
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            name = open(f"/proc/{pid}/task/{t}/comm").read().strip().split(" ")[0]
            wait = int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[1]) / 1e9
            st = dict(l.split(":\t") for l in open(f"/proc/{pid}/task/{t}/status").read().splitlines() if ":\t" in l)
        except (OSError, ValueError):
            continue
        o = out.setdefault(name, [0.0, 0, 0])
        o[0] += wait; o[1] += int(st["voluntary_ctxt_switches"]); o[2] += int(st["nonvoluntary_ctxt_switches"])
    return out

def idle_cpu():
    """Seconds so far that the machine's CPUs were idle (all of them: /proc/stat)."""
    f = open("/proc/stat").readline().split()
    return (int(f[4]) + int(f[5])) / os.sysconf("SC_CLK_TCK")

def own_cpu():
    """CPU seconds so far of this script (the watchers' threads are in it)."""
    t = os.times()
    return t.user + t.system

def alternating(port, n, args, pid):
    """--alternate W: in one daemon, phases of --phase seconds without and with W watchers,
    --cycles times; per phase decoded fps (mean of the streams), keyframes recognized a
    minute and pictures drawn a second, and where the CPU went: the daemon's threads other
    than decoding and recognition (its pool's included: the live pictures, HTTP, ticker,
    publisher, threads that have exited too) and this
    script (the watchers' HTTP clients, on the same machine). Paired phases minutes apart
    cancel most of what other load on the machine does to both."""
    def recognizing(k): return k.startswith("recognizer")
    main = open(f"/proc/{pid}/comm").read().strip().split(" ")[0]
    def rates(a, b, secs, ca, cb, pa, pb, oa, ob, sa, sb, ia, ib):
        d = lambda name: sum(b.get((name, f"cam{i + 1}", ""), 0) - a.get((name, f"cam{i + 1}", ""), 0) for i in range(n))
        frames = d("regionspotd_frames_decoded_total")
        cpu = lambda name: cb.get(name, 0) - ca.get(name, 0)
        drawn = d("regionspotd_live_frames_drawn_total")
        return (frames / secs / n, d("regionspotd_recognitions_total") / secs * 60,
                drawn / secs, d("regionspotd_frames_late_total"),
                1000 * cpu("decode") / max(1, frames), cpu("recognizer") / secs,
                1000 * d("regionspotd_live_draw_seconds_sum") / drawn if drawn else 0,
                (pb - pa - sum(cpu(k) for k in cb if k == "decode" or k.startswith("recognizer"))) / secs, (ob - oa) / secs,
                # the recognizer's threads (its own and its kernel pool's): ms a second ready
                # but waiting for a CPU, sleeps and preemptions a second
                1000 * sum(sb[k][0] - sa.get(k, [0, 0, 0])[0] for k in sb if recognizing(k)) / secs,
                sum(sb[k][1] - sa.get(k, [0, 0, 0])[1] for k in sb if recognizing(k)) / secs,
                sum(sb[k][2] - sa.get(k, [0, 0, 0])[2] for k in sb if recognizing(k)) / secs, (ib - ia) / secs,
                # all the recognizer's CPU: its threads and OpenBLAS's (unnamed: the process's name)
                sum(cpu(k) for k in cb if recognizing(k) or k == main) / secs)
    time.sleep(2)
    rows = []
    for c in range(args.cycles):
        for watchers in (0, args.alternate):
            stop = threading.Event()
            for w in range(watchers):
                threading.Thread(target=watch, args=(port, f"cam{w % n + 1}", args.live_fps, stop, [0], args.poll, args.clients_idle),
                                 daemon=True).start()
            time.sleep(1 if watchers else 0)  # the watchers connect
            t0, a, ca, pa, oa, sa, ia = time.time(), scrape(port), thread_cpu(pid), process_cpu(pid), own_cpu(), sched(pid), idle_cpu()
            time.sleep(args.phase)
            rows.append((c, watchers) + rates(a, scrape(port), time.time() - t0, ca, thread_cpu(pid), pa, process_cpu(pid), oa, own_cpu(),
                                              sa, sched(pid), ia, idle_cpu()))
            stop.set()
            time.sleep(0.5)
    return rows

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="model directory (e.g. regionspotd models synthesize /tmp/bb)")
    ap.add_argument("--video", help="1080p25 H.264 file (default: generated with ffmpeg testsrc2, 6 Mbit/s)")
    ap.add_argument("--streams", default="1,4,8,12")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--binary", default=".build/release/regionspotd")
    ap.add_argument("--nice", type=int, default=10, help="limits.recognizer_nice (0 = recognizer at decoding's priority)")
    ap.add_argument("--workers", type=int, default=1, help="limits.recognizer_workers")
    ap.add_argument("--blas-threads", type=int, default=0, help="limits.blas_threads (0 = OpenBLAS's default)")
    ap.add_argument("--max-label-age", type=float, help="limits.max_label_age (default: the daemon's)")
    ap.add_argument("--watchers", default="0", help="live-page watchers, one run per value (e.g. 0,1,4)")
    ap.add_argument("--live-fps", type=float, default=5, help="metrics.live_fps")
    ap.add_argument("--live-fps-busy", type=float, help="metrics.live_fps_busy (default: the daemon's, 1; 0 = pictures not held back while the recognizer is busy)")
    ap.add_argument("--poll", action="store_true", help="watchers poll frame.jpg instead of reading video.mjpeg")
    ap.add_argument("--live-width", type=int, default=640, help="metrics.live_width (1920: the 1080p frames at their own size)")
    ap.add_argument("--alternate", type=int, default=0, help="W: one daemon per stream count, phases without and with W watchers")
    ap.add_argument("--phase", type=float, default=15, help="seconds per phase with --alternate")
    ap.add_argument("--cycles", type=int, default=4, help="phase pairs with --alternate")
    ap.add_argument("--clients-idle", action="store_true",
                    help="the watchers' client threads at SCHED_IDLE (they share the daemon's cores; a browser would not)")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="regionspotd-load-")
    video = args.video or os.path.join(work, "1080p25.mp4")
    if not args.video: make_video(video)
    if args.alternate:
        print("| streams | cycle | watchers | decoded fps per stream | keyframes recognized / min | pictures drawn / s | frames >= 0.5 s late | decode thread CPU ms / frame | recognizer CPU s / s | ms per picture | daemon's other CPU s / s | watchers' client CPU s / s "
              "| recognizer threads' run-queue wait ms / s | their sleeps / s | their preemptions / s | idle CPU s / s (machine) "
              "| recognizer and BLAS threads' CPU s / s |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for n in [int(x) for x in args.streams.split(",")]:
            rows = run(n, args, video, work, args.alternate)
            for c, w, fps, kf, drawn, late, dms, rcpu, pms, other, client, rq, vol, inv, idle, allr in rows:
                print(f"| {n} | {c + 1} | {w} | {fps:.2f} | {kf:.1f} | {drawn:.1f} | {late:.0f} | {dms:.2f} | {rcpu:.2f} | {pms:.0f} | "
                      f"{other:.3f} | {client:.3f} | {rq:.1f} | {vol:.0f} | {inv:.0f} | {idle:.2f} | {allr:.3f} |", flush=True)
            for w in (0, args.alternate):
                sel = [r for r in rows if r[1] == w]
                print(f"| {n} | all | {w} | {sum(r[2] for r in sel) / len(sel):.2f} | {sum(r[3] for r in sel) / len(sel):.1f} | "
                      f"{sum(r[4] for r in sel) / len(sel):.1f} | {sum(r[5] for r in sel):.0f} | {sum(r[6] for r in sel) / len(sel):.2f} | "
                      f"{sum(r[7] for r in sel) / len(sel):.2f} | {sum(r[8] for r in sel) / len(sel):.0f} | "
                      f"{sum(r[9] for r in sel) / len(sel):.3f} | {sum(r[10] for r in sel) / len(sel):.3f} | "
                      f"{sum(r[11] for r in sel) / len(sel):.1f} | {sum(r[12] for r in sel) / len(sel):.0f} | {sum(r[13] for r in sel) / len(sel):.0f} | "
                      f"{sum(r[14] for r in sel) / len(sel):.2f} | {sum(r[15] for r in sel) / len(sel):.3f} |",
                      flush=True)
        return
    print("| streams | s | decoded fps per stream (min / mean) | frames >= 0.5 s late | recognitions / min per stream (min / mean / max) "
          "| streams not recognized | label age s (p50 / p95 / max) | frames shed (tracking / non_ref / non_key) "
          "| shed level at end (0-3, per stream) | overload log lines / status events | /healthz at end | watchers | pictures drawn / s (ms each) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---:|---:|")
    for n, w in [(int(x), int(y)) for x in args.streams.split(",") for y in args.watchers.split(",")]:
        r = run(n, args, video, work, w)
        ev = "-" if r["events"] is None else (", ".join(f"{k} {v}" for k, v in sorted(r["events"].items())) or "0")
        s = r["shed"]
        print(f"| {r['streams']} | {r['seconds']:.0f} | {r['fps_min']:.2f} / {r['fps_mean']:.2f} | {r['late']:.0f} | "
              f"{r['rpm_min']:.2f} / {r['rpm_mean']:.2f} / {r['rpm_max']:.2f} | {r['never']} | "
              f"{r['age_p50']:.1f} / {r['age_p95']:.1f} / {r['age_max']:.1f} | "
              f"{s['tracking']:.0f} / {s['non_reference']:.0f} / {s['non_key']:.0f} | {''.join(map(str, r['levels']))} | "
              f"{r['log_lines']} / {ev} | {r['healthz'][0]} {r['healthz'][1][:80]} | "
              f"{r['watchers']} | {r['drawn_per_s']:.1f} ({r['draw_ms']:.0f}) |", flush=True)

if __name__ == "__main__":
    main()
