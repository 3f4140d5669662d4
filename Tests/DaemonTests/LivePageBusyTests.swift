// Recognition has priority over pictures: while the recognizer is busy the live pictures are
// held to metrics.live_fps_busy a second. The decision with computed times on real frames,
// then the built daemon playing the demo clip with the demo's tiny model recognizing back to
// back (max_interval 0.04, as tools/load_test.py runs it), watched over video.mjpeg and the
// event stream by a python3 client: with the throttle the pictures a second fall to about
// live_fps_busy and the recognizer_busy count rises; without it (live_fps_busy 0) the same
// daemon draws several times as many.
import Decode
import Foundation
import Testing
@testable import Daemon

@Suite("live pages while the recognizer is busy", .serialized)
struct LivePageBusyTests {
    @Test("the throttle decision: live_fps_busy once the recognizer has worked 1 s without a break (gaps under 0.2 s), live_fps otherwise; counted")
    func decision() throws {
        #expect(LiveView.allowedFPS(maxFPS: 5, busyFPS: 1, recognizerBusy: true) == 1)
        #expect(LiveView.allowedFPS(maxFPS: 5, busyFPS: 1, recognizerBusy: false) == 5)
        #expect(LiveView.allowedFPS(maxFPS: 5, busyFPS: 0, recognizerBusy: true) == 5, "0: no throttle")
        #expect(LiveView.allowedFPS(maxFPS: 2, busyFPS: 2, recognizerBusy: true) == 2)

        let activity = RecognizerActivity()
        #expect(!activity.busy(now: 100), "no job yet")
        activity.set(jobs: 1, now: 100)
        #expect(!activity.busy(now: 100.5), "working for 0.5 s: not yet busy (RecognizerActivity.sustain, 1 s)")
        #expect(activity.busy(now: 101))
        activity.ended(at: 101)
        activity.set(jobs: 0, now: 101)
        #expect(activity.busy(now: 101.1) && !activity.busy(now: 101.25), "busy for RecognizerActivity.grace (0.2 s) after a job ended")
        // back to back (gaps under the grace) the run of work goes on; a short job every
        // 0.5 s (the demo's tiny model) never makes the recognizer busy
        activity.set(jobs: 1, now: 101.15)
        #expect(activity.busy(now: 101.3))
        let light = RecognizerActivity()
        for k in 0..<10 {
            let t = 50 + 0.5 * Double(k)
            light.set(jobs: 1, now: t)
            #expect(!light.busy(now: t + 0.04))
            light.ended(at: t + 0.04)
            light.set(jobs: 0, now: t + 0.04)
        }
        activity.ended(at: 101.4)
        activity.set(jobs: 0, now: 101.4)

        let dir = TempDir()
        defer { dir.remove() }
        let f = try LivePageTests.frames(dir)
        let registry = MetricsRegistry()
        let drawn = registry.counter("drawn", help: "d"), unchanged = registry.counter("unchanged", help: "u")
        let rate = registry.counter("rate", help: "r"), busy = registry.counter("busy", help: "b")
        let view = LiveView(stream: "cam", url: "x", maxFPS: 5, framesDrawn: drawn, reused: (unchanged, rate),
                            busyFPS: 1, recognizer: activity, reusedBusy: busy)
        view.offer(f[0], LivePageTests.message(f[0]), nil)
        #expect(try view.jpeg(now: 200)?.frame == f[0].index, "idle: drawn")
        activity.set(jobs: 1, now: 199)
        #expect(view.slowed(now: 200.1))
        view.offer(f[1], LivePageTests.message(f[1]), nil)
        #expect(try view.jpeg(now: 200.1)?.frame == f[0].index)
        #expect(rate.value == 1 && busy.value == 0, "within 1/live_fps: the live_fps reason")
        #expect(try view.jpeg(now: 200.3)?.frame == f[0].index)
        #expect(try view.jpeg(now: 200.9)?.frame == f[0].index)
        #expect(drawn.value == 1 && busy.value == 2, "0.3 and 0.9 s after the last drawing, busy: held back, counted")
        #expect(try view.jpeg(now: 201)?.frame == f[1].index, "1/live_fps_busy after the last drawing: the new frame")
        #expect(drawn.value == 2)
        view.offer(f[0], LivePageTests.message(f[0]), nil)
        activity.ended(at: 201.1)
        activity.set(jobs: 0, now: 201.1)
        #expect(try view.jpeg(now: 201.25)?.frame == f[1].index, "0.15 s after the job ended: still busy")
        #expect(busy.value == 3)
        #expect(!view.slowed(now: 201.35))
        #expect(try view.jpeg(now: 201.35)?.frame == f[0].index, "idle again: live_fps")
        #expect(drawn.value == 3 && unchanged.value == 0 && rate.value == 1 && busy.value == 3)

        let free = LiveView(stream: "cam", url: "x", maxFPS: 5, framesDrawn: registry.counter("d2", help: "d"),
                            busyFPS: 0, recognizer: activity)
        activity.set(jobs: 1, now: 299)
        #expect(!free.slowed(now: 300), "live_fps_busy 0: never slowed")
    }

    /// Watches `stream` for `seconds` from its first picture, once it was recognized 3 times:
    /// MJPEG part times and the event stream's `pictures` events, as JSON.
    static let watcher = """
    import json, socket, sys, threading, time
    port, stream, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    def connect(path):
        end = time.time() + 60
        while True:
            try:
                s = socket.create_connection(("127.0.0.1", port), timeout=10)
                s.sendall(("GET /streams/%s/%s HTTP/1.1\\r\\n\\r\\n" % (stream, path)).encode())
                return s
            except OSError:
                if time.time() > end: raise
                time.sleep(0.2)
    # Once the recognizer has run a few times (its model loaded and warm).
    end = time.time() + 90
    while time.time() < end:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=10); s.sendall(b"GET /metrics HTTP/1.1\\r\\n\\r\\n"); m = b""
            while (c := s.recv(65536)): m += c
            s.close()
            line = [l for l in m.decode().split("\\n") if l.startswith('regionspotd_recognitions_total{stream="%s"}' % stream)]
            if line and float(line[0].split()[-1]) >= 3: break
        except OSError: pass
        time.sleep(0.2)
    events, parts = [], []
    def read_events():
        s = connect("events"); d = b""; end = time.time() + seconds + 30
        s.settimeout(0.5)
        while time.time() < end and not done.is_set():
            try: d += s.recv(65536)
            except socket.timeout: pass
        for block in d.decode("utf-8", "replace").split("\\n\\n"):
            if block.startswith("event: pictures"): events.append(json.loads(block.split("data: ", 1)[1]))
    done = threading.Event()
    t = threading.Thread(target=read_events); t.start()
    s = connect("video.mjpeg"); d = b""; first = None; s.settimeout(0.5)
    hard = time.time() + 90
    while time.time() < hard and (first is None or time.time() < first + seconds):
        try: chunk = s.recv(65536)
        except socket.timeout: continue
        if not chunk: break
        d += chunk
        while (i := d.find(b"Content-Type: image/jpeg")) >= 0:
            now = time.time(); first = first or now; parts.append(now - first); d = d[i + 24:]
    s.close(); done.set(); t.join()
    print(json.dumps({"parts": parts, "events": events}))
    """

    /// The demo stream played with `liveBusy` as metrics.live_fps_busy (live_fps 8),
    /// recognizing back to back, watched for 7 s from its first picture; `parts`: the
    /// pictures' times in the last 5 s.
    static func watch(_ dir: TempDir, liveBusy: Double) throws -> (parts: [Double], events: [[String: Any]], metrics: String) {
        let binary = try #require(Repo.binary)
        let pubPort = freePort(), httpPort = freePort()
        let cfg = LivePageBrowserTests.Demo.config(dir, name: "c\(liveBusy).yaml", keyframes: "min_interval: 0, max_interval: 0.04", pubPort: pubPort,
                                                   metrics: "listen: 127.0.0.1:\(httpPort), interval: 1, live_fps: 8, live_fps_busy: \(liveBusy)")
        let daemon = try Child(binary, ["run", "--config", cfg], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, name: "daemon")
        defer { daemon.stop() }
        let r = try Child.run(Repo.python, [dir.write("watch.py", watcher), "\(httpPort)", "demo", "7"], dir: dir, timeout: 150)
        try #require(r.status == 0, "watcher: \(r.stderr.suffix(1500)) daemon: \(daemon.stderr.suffix(1500))")
        let o = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)")
        let metrics = try Child.run(Repo.python, ["-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                                  "http://127.0.0.1:\(httpPort)/metrics"], dir: dir, timeout: 10).stdout
        return (((o["parts"] as? [Double]) ?? []).filter { $0 >= 2 }, (o["events"] as? [[String: Any]]) ?? [], metrics)
    }

    static func value(_ metrics: String, _ prefix: String) -> Double {
        metrics.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test("a daemon recognizing back to back draws about live_fps_busy pictures a second, counted and shown on the page; without the throttle, several times more")
    func busyDaemon() throws {
        let dir = TempDir()
        defer { dir.remove() }
        try EvalVideoFixture.make(dir, ["--video-frames", "60"])

        let held = try Self.watch(dir, liveBusy: 1)
        let recognized = Self.value(held.metrics, "regionspotd_recognitions_total{stream=\"demo\"}")
        let busyCount = Self.value(held.metrics, "regionspotd_live_frames_reused_total{stream=\"demo\",reason=\"recognizer_busy\"}")
        #expect(recognized >= 5, "the recognizer ran back to back: \(recognized) recognitions")
        // One a second (+1 for a stretch between jobs, +1 for the window's edges).
        #expect(held.parts.count >= 3 && held.parts.count <= 7, "pictures in 5 s with live_fps_busy 1: \(held.parts)")
        #expect(busyCount >= 5, "pictures held back counted: \(busyCount)")
        #expect(held.events.contains { ($0["slowed"] as? Bool) == true && ($0["fps"] as? Double) == 1 },
                "the page is told the pictures are slowed: \(held.events)")

        let free = try Self.watch(dir, liveBusy: 0)
        #expect(Self.value(free.metrics, "regionspotd_live_frames_reused_total{stream=\"demo\",reason=\"recognizer_busy\"}") == 0)
        #expect(free.parts.count >= 12, "pictures in 5 s without the throttle (live_fps 8): \(free.parts)")
        #expect(free.events.isEmpty, "never slowed: \(free.events)")
    }
}
