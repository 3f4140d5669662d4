// The live pages in a real browser: the built daemon plays the demo (make-shapes clip and
// the demo's tiny model) in a loop; Debian's chromium, headless, driven through
// chromium-driver's WebDriver HTTP API (python3 urllib, no selenium), loads `/` and
// `/streams/demo`; a python3-zmq subscriber records what the daemon publishes meanwhile.
import Decode
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

enum Chromium {
    static let browser = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }
    static let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A WebDriver session script: each line of stdout is one JSON result of the steps
    /// given on the command line ("get URL", "sleep S", "shot FILE", "js SCRIPT", "until SCRIPT", "html").
    static let script = """
    import base64, json, socket, subprocess, sys, time, urllib.request
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    drv = subprocess.Popen([sys.argv[1], "--port=%d" % port], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    def call(method, path, body=None):
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        return json.loads(urllib.request.urlopen(req, timeout=60).read())["value"]
    try:
        for _ in range(100):
            try: call("GET", "/status"); break
            except Exception: time.sleep(0.1)
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1100,700"]
        sid = call("POST", "/session", {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"binary": sys.argv[2], "args": args}}}})["sessionId"]
        for step in sys.argv[3:]:
            verb, _, arg = step.partition(" ")
            if verb == "get": call("POST", "/session/%s/url" % sid, {"url": arg}); out = arg
            elif verb == "sleep": time.sleep(float(arg)); out = arg
            elif verb == "shot":
                open(arg, "wb").write(base64.b64decode(call("GET", "/session/%s/screenshot" % sid))); out = arg
            elif verb == "js": out = call("POST", "/session/%s/execute/sync" % sid, {"script": arg, "args": []})
            elif verb == "until":  # polls the script until it returns something true (30 s at most)
                end = time.time() + 30
                while not (out := call("POST", "/session/%s/execute/sync" % sid, {"script": arg, "args": []})) and time.time() < end:
                    time.sleep(0.2)
            elif verb == "html": out = call("GET", "/session/%s/source" % sid)
            print(json.dumps({"step": verb, "time": time.time(), "value": out}), flush=True)
        call("DELETE", "/session/%s" % sid)
    finally:
        drv.kill()  # SIGKILL: SIGTERM may be ignored, inherited from a test process whose signal handling set it so
        drv.wait()
    """

    /// Runs the steps; one (time, value) per step.
    static func run(_ steps: [String], dir: TempDir) throws -> [(time: Double, value: Any)] {
        let browser = try #require(browser, "chromium is not installed: run scripts/install-deps (apt-get install chromium chromium-driver)")
        let driver = try #require(driver, "chromedriver is not installed: run scripts/install-deps (apt-get install chromium-driver)")
        let path = dir.write("webdriver.py", script)
        let r = try Child.run(Repo.python, [path, driver, browser] + steps, dir: dir, timeout: 120)
        try #require(r.status == 0, "webdriver: \(r.stderr.suffix(2000))")
        return r.stdout.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let t = o["time"] as? Double else { return nil }
            return (t, o["value"] ?? NSNull())
        }
    }

    /// The rectangle [x, y, w, h] of `#frame` in page pixels (JS for the "js" step).
    static let frameRect = "const r = document.getElementById('frame').getBoundingClientRect(); return [r.x, r.y, r.width, r.height, document.getElementById('frame').naturalWidth];"
    /// True once the picture and the tracks table have both arrived (the live pictures are
    /// drawn at the lowest priority: on a busy machine the first takes a while).
    static let loaded = "return document.getElementById('frame').naturalWidth > 0 && document.querySelectorAll('#tracks tbody tr').length > 0;"
    /// The tracks table: the frame it shows and its track ids.
    static let table = "return [document.getElementById('info').textContent, Array.from(document.querySelectorAll('#tracks tbody tr')).map(r => Number(r.dataset.track))];"
}

/// Luma of `image` inside the rectangle.
func lumaCrop(_ image: RGBImage, x: Int, y: Int, w: Int, h: Int) -> [Double] {
    var out: [Double] = []
    for yy in max(0, y)..<min(image.height, y + h) {
        for xx in max(0, x)..<min(image.width, x + w) {
            let i = (yy * image.width + xx) * 3
            out.append(0.299 * Double(image.bytes[i]) + 0.587 * Double(image.bytes[i + 1]) + 0.114 * Double(image.bytes[i + 2]))
        }
    }
    return out
}

func variance(_ v: [Double]) -> Double {
    guard !v.isEmpty else { return 0 }
    let m = v.reduce(0, +) / Double(v.count)
    return v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count)
}

@Suite("live pages in chromium", .serialized)
struct LivePageBrowserTests {
    /// The built daemon playing the demo clip (stream `demo`) with `metrics` settings added,
    /// a python3-zmq subscriber on its publisher, running once regions were published.
    struct Demo {
        let daemon: Child
        let sub: PySubscriber
        let base: String
        func regions() -> [[String: Any]] { sub.messages.filter { $0.topic == "regions.demo" }.map(\.json) }
        /// The value of one line of /metrics (0 when absent).
        func metric(_ name: String, dir: TempDir) throws -> Double {
            let text = try Child.run(Repo.python, ["-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                                   "\(base)/metrics"], dir: dir, timeout: 5).stdout
            let line = text.split(separator: "\n").first { $0.hasPrefix(name + " ") }
            return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        }
        func stop() { daemon.stop(); sub.stop() }

        /// A config playing the demo clip (stream `demo`, looped) with the demo model.
        static func config(_ dir: TempDir, name: String, keyframes: String, pubPort: Int, metrics: String) -> String {
            dir.write(name, """
            models: { directory: \(dir.file("model")) }
            vocabulary: [\(EvalVideoFixture.vocab)]
            streams:
              - id: demo
                url: \(dir.file("shapes/video/video.mp4"))
                loop: true
                keyframes: { \(keyframes) }
            publisher: { endpoints: [tcp://127.0.0.1:\(pubPort)] }
            metrics: { \(metrics) }
            """)
        }

        init(_ dir: TempDir, metrics: String) throws {
            let binary = try #require(Repo.binary)
            _ = try #require(Chromium.browser, "chromium is not installed: run scripts/install-deps (apt-get install chromium chromium-driver)")
            try EvalVideoFixture.make(dir, ["--video-frames", "60"])
            let pubPort = freePort(), httpPort = freePort()
            let cfg = Self.config(dir, name: "c.yaml", keyframes: "min_interval: 0.5, max_interval: 1, prefer_codec_keyframes: true",
                                  pubPort: pubPort, metrics: "listen: 127.0.0.1:\(httpPort), interval: 1, live_fps: 4\(metrics)")
            sub = try PySubscriber(endpoint: "tcp://127.0.0.1:\(pubPort)", dir: dir)
            daemon = try Child(binary, ["run", "--config", cfg], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, name: "daemon")
            base = "http://127.0.0.1:\(httpPort)"
            let (sub, daemon) = (sub, daemon)
            let published = eventually(60) {
                sub.messages.contains { $0.topic == "regions.demo" && !(($0.json["regions"] as? [Any]) ?? []).isEmpty }
            }
            if !published { daemon.stop(); sub.stop() }
            try #require(published, "no regions published: \(daemon.stderr.suffix(1500))")
        }
    }

    /// The page's picture in two screenshots 2 s apart (`rect`: `Chromium.frameRect`'s
    /// x, y, width, height): expects it on screen, not blank, and changed in between.
    static func expectChangingFrame(_ shotA: String, _ shotB: String, rect: [Double]) throws -> (variance: Double, changed: Int, pixels: Int) {
        let a = try decodeImage(path: shotA), b = try decodeImage(path: shotB)
        let (x, y, w, h) = (Int(rect[0]), Int(rect[1]), Int(rect[2]), Int(rect[3]))
        let ca = lumaCrop(a, x: x, y: y, w: w, h: h), cb = lumaCrop(b, x: x, y: y, w: w, h: h)
        #expect(ca.count > 10_000 && ca.count == cb.count, "frame rect \(rect) in \(a.width)x\(a.height)")
        #expect(variance(ca) > 100, "the frame looks blank: variance \(variance(ca))")
        let changed = zip(ca, cb).filter { abs($0 - $1) > 16 }.count
        #expect(changed > ca.count / 200, "the later screenshot shows the same frame: \(changed) of \(ca.count) pixels changed")
        return (variance(ca), changed, ca.count)
    }

    @Test("/ lists the stream; /streams/demo shows a live annotated frame and the tracks ZeroMQ publishes")
    func browser() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let demo = try Demo(dir, metrics: "")
        defer { demo.stop() }
        let (daemon, base) = (demo.daemon, demo.base)
        func regions() -> [[String: Any]] { demo.regions() }
        usleep(1_500_000)  // one metrics interval: the index shows rates

        let shotA = dir.file("a.png"), shotB = dir.file("b.png")
        let steps = try Chromium.run(["get \(base)/", "html", "get \(base)/streams/demo", "until \(Chromium.loaded)", "js \(Chromium.frameRect)",
                                      "shot \(shotA)", "js \(Chromium.table)", "sleep 2", "shot \(shotB)", "js \(Chromium.table)",
                                      "js return document.getElementById('frame').src"], dir: dir)
        try #require(steps.count == 11, "webdriver steps: \(steps)")

        // The index: one row for the stream, streaming, linking to its page.
        let index = try #require(steps[1].value as? String)
        #expect(index.contains("data-stream=\"demo\""), "\(index.prefix(2000))")
        #expect(index.contains("streaming"), "\(index.prefix(2000))")
        #expect(index.contains("href=\"/streams/demo\""), "\(index.prefix(2000))")

        // The picture: loaded, not blank, changed two seconds later.
        let rect = try #require(steps[4].value as? [Double])
        #expect(rect[4] > 0, "the frame image did not load: \(rect)")
        let src = try #require(steps[10].value as? String)
        #expect(src.contains("/streams/demo/video.mjpeg"), "the page shows the MJPEG stream, not polled pictures: \(src)")
        let seen = try Self.expectChangingFrame(shotA, shotB, rect: rect)
        print("live page: frame \(Int(rect[2]))x\(Int(rect[3])) px on screen, luma variance \(Int(seen.variance)), \(seen.changed) of \(seen.pixels) pixels changed in 2 s")
        // docs/live-page.png is this screenshot (REGIONSPOTD_KEEP_SCREENSHOT=path keeps it).
        if let keep = ProcessInfo.processInfo.environment["REGIONSPOTD_KEEP_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: shotB, toPath: keep)
        }

        // The tracks table: the ids of the very message ZeroMQ published for that frame.
        let published = regions()
        for step in [steps[6], steps[9]] {
            let t = try #require(step.value as? [Any])
            let info = try #require(t[0] as? String), ids = Set(((t[1] as? [Any]) ?? []).compactMap { ($0 as? NSNumber)?.uint64Value })
            let frame = try #require(info.split(separator: " ").dropFirst().first.flatMap { Int($0) }, "table info: \(info)")
            let m = try #require(published.first { ($0["frame"] as? Int) == frame }, "frame \(frame) was not published")
            let pubIDs = Set(((m["regions"] as? [[String: Any]]) ?? []).compactMap { ($0["track_id"] as? NSNumber)?.uint64Value })
            #expect(ids == pubIDs, "table of frame \(frame): \(ids.sorted()), published: \(pubIDs.sorted())")
            #expect(!ids.isEmpty, "the tracks table is empty at frame \(frame)")
            print("live page: table at frame \(frame) lists \(ids.sorted()), ZeroMQ published \(pubIDs.sorted())")
        }
        let count = try demo.metric("regionspotd_live_frames_drawn_total{stream=\"demo\"}", dir: dir)
        // Watched from the page's load to the last step, at live_fps 4: never more than 4
        // pictures a second (the page asks for the next as soon as one arrived).
        let watched = steps[9].time - steps[2].time + 1
        #expect(count >= 2 && count <= (watched * 4).rounded(.up) + 1, "frames drawn in \(watched) s: \(count)")
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 10) == 0, "\(daemon.stderr.suffix(1000))")
    }

    @Test("when video.mjpeg is refused (every watcher's place taken) the page polls frame.jpg, and the picture still changes")
    func pollingFallback() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let demo = try Demo(dir, metrics: ", max_watchers: 1")
        defer { demo.stop() }
        // Another client's event stream holds the only watcher's place: the page's MJPEG
        // stream (and its event stream) are answered 503. It draws no pictures, so every
        // picture drawn below was one the page polled.
        let holder = try Child(Repo.python, ["-c", """
            import sys, urllib.request
            r = urllib.request.urlopen(sys.argv[1], timeout=60)
            print("open", flush=True)
            while r.readline(): pass
            """, "\(demo.base)/streams/demo/events"], dir: dir, name: "holder")
        defer { holder.stop() }
        try #require(eventually(10) { (try? demo.metric("regionspotd_live_watchers", dir: dir)) == 1 }, "the holder did not become a watcher: \(holder.stderr)")
        let drawnBefore = try demo.metric("regionspotd_live_frames_drawn_total{stream=\"demo\"}", dir: dir)

        let shotA = dir.file("a.png"), shotB = dir.file("b.png")
        let requests = "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname);"
        let steps = try Chromium.run(["get \(demo.base)/streams/demo", "until return document.getElementById('frame').naturalWidth > 0",
                                      "js \(Chromium.frameRect)", "shot \(shotA)", "sleep 2", "shot \(shotB)",
                                      "js return document.getElementById('frame').src", "js \(requests)"], dir: dir)
        try #require(steps.count == 8, "webdriver steps: \(steps)")
        #expect(steps[1].value as? Bool == true, "no picture loaded after the MJPEG stream was refused")
        let src = try #require(steps[6].value as? String)
        #expect(src.contains("/streams/demo/frame.jpg"), "the page did not fall back to polling frame.jpg: \(src)")
        let paths = (steps[7].value as? [String]) ?? []
        let polled = paths.filter { $0 == "/streams/demo/frame.jpg" }.count
        #expect(paths.contains("/streams/demo/video.mjpeg"), "the page never tried the MJPEG stream: \(paths)")
        // 2 s and more at live_fps 4, the next request once a picture arrived
        #expect(polled >= 4, "frame.jpg fetched \(polled) times: \(paths)")

        // The polled picture changes like the MJPEG one.
        let rect = try #require(steps[2].value as? [Double])
        let seen = try Self.expectChangingFrame(shotA, shotB, rect: rect)
        print("live page fallback: \(polled) frame.jpg requests, \(seen.changed) of \(seen.pixels) pixels changed in 2 s")

        // The refusals were counted; the pictures drawn are the polled ones.
        #expect(try demo.metric("regionspotd_live_refused_total{reason=\"max_watchers\"}", dir: dir) >= 1)
        let drawn = try demo.metric("regionspotd_live_frames_drawn_total{stream=\"demo\"}", dir: dir) - drawnBefore
        // (a request or two more may leave between the last step and the browser closing)
        #expect(drawn >= 2 && drawn <= Double(polled + 2), "pictures drawn while the page polled \(polled) times: \(drawn)")
        #expect(try demo.metric("regionspotd_live_watchers", dir: dir) == 1, "the refused page must not hold a watcher's place")
    }
}
