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
    @Test("/ lists the stream; /streams/demo shows a live annotated frame and the tracks ZeroMQ publishes")
    func browser() throws {
        let binary = try #require(Repo.binary)
        _ = try #require(Chromium.browser, "chromium is not installed: run scripts/install-deps (apt-get install chromium chromium-driver)")
        let dir = TempDir()
        defer { dir.remove() }
        try EvalVideoFixture.make(dir, ["--video-frames", "60"])
        let pubPort = freePort(), httpPort = freePort()
        let cfg = dir.write("c.yaml", """
        models: { directory: \(dir.file("model")) }
        vocabulary: [\(EvalVideoFixture.vocab)]
        streams:
          - id: demo
            url: \(dir.file("shapes/video/video.mp4"))
            loop: true
            keyframes: { min_interval: 0.5, max_interval: 1, prefer_codec_keyframes: true }
        publisher: { endpoints: [tcp://127.0.0.1:\(pubPort)] }
        metrics: { listen: 127.0.0.1:\(httpPort), interval: 1, live_fps: 4 }
        """)
        let sub = try PySubscriber(endpoint: "tcp://127.0.0.1:\(pubPort)", dir: dir)
        defer { sub.stop() }
        let daemon = try Child(binary, ["run", "--config", cfg], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, name: "daemon")
        defer { daemon.stop() }
        func regions() -> [[String: Any]] { sub.messages.filter { $0.topic == "regions.demo" }.map(\.json) }
        try #require(eventually(60) { regions().contains { !(($0["regions"] as? [Any]) ?? []).isEmpty } },
                     "no regions published: \(daemon.stderr.suffix(1500))")
        usleep(1_500_000)  // one metrics interval: the index shows rates

        let base = "http://127.0.0.1:\(httpPort)"
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
        let a = try decodeImage(path: shotA), b = try decodeImage(path: shotB)
        let (x, y, w, h) = (Int(rect[0]), Int(rect[1]), Int(rect[2]), Int(rect[3]))
        let ca = lumaCrop(a, x: x, y: y, w: w, h: h), cb = lumaCrop(b, x: x, y: y, w: w, h: h)
        #expect(ca.count > 10_000 && ca.count == cb.count, "frame rect \(rect) in \(a.width)x\(a.height)")
        #expect(variance(ca) > 100, "the frame looks blank: variance \(variance(ca))")
        let changed = zip(ca, cb).filter { abs($0 - $1) > 16 }.count
        #expect(changed > ca.count / 200, "the later screenshot shows the same frame: \(changed) of \(ca.count) pixels changed")
        print("live page: frame \(w)x\(h) px on screen, luma variance \(Int(variance(ca))), \(changed) of \(ca.count) pixels changed in 2 s")
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
        let drawn = try Child.run(Repo.python, ["-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                                "\(base)/metrics"], dir: dir, timeout: 5).stdout
        let line = drawn.split(separator: "\n").first { $0.hasPrefix("regionspotd_live_frames_drawn_total{stream=\"demo\"}") }
        let count = line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        // Watched from the page's load to the last step, at live_fps 4: never more than 4
        // pictures a second (the page asks for the next as soon as one arrived).
        let watched = steps[9].time - steps[2].time + 1
        #expect(count >= 2 && count <= (watched * 4).rounded(.up) + 1, "frames drawn in \(watched) s: \(line.map(String.init) ?? "none")")
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 10) == 0, "\(daemon.stderr.suffix(1000))")
    }
}
