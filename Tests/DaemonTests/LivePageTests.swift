// The live pages' server side without a browser: the picture is replay's drawing, drawn at
// most live_fps times a second; the listener's token, watcher cap and bad requests, spoken
// to over real sockets by python3.
import Decode
import Foundation
import Synchronization
import Testing
@testable import Daemon

#if canImport(Glibc)
import Glibc
#endif

@Suite("live pages", .serialized)
struct LivePageTests {
    /// Two frames of a real H.264 clip.
    static func frames(_ dir: TempDir) throws -> [VideoFrame] {
        let clip = try RunEndToEndTests.makeClip(dir)
        let source = try VideoSource(url: clip, options: SourceOptions(decoderThreads: 1))
        return [try #require(try source.nextFrame()), try #require(try source.nextFrame())]
    }

    static func message(_ frame: VideoFrame) -> RegionsMessage {
        RegionsMessage(stream: "cam", frame: frame.index, pts: frame.pts, time: 0, keyframe: frame.isKeyframe, inferred: false, latency: nil,
                       regions: [RegionRecord(trackID: 3, box: [40, 40, 200, 180], label: "person", score: 0.9, top: [],
                                              source: .motion, inferredFrame: 0, labelAge: 0.4, recognizer: "regionspot")])
    }

    /// Mean absolute difference per channel of two pictures over a rectangle.
    static func meanDiff(_ a: RGBImage, _ b: RGBImage, rows: Range<Int>, cols: Range<Int>) -> Double {
        var s = 0.0, n = 0.0
        for y in rows { for x in cols { for c in 0..<3 {
            s += abs(Double(a.bytes[(y * a.width + x) * 3 + c]) - Double(b.bytes[(y * b.width + x) * 3 + c])); n += 1
        } } }
        return s / n
    }

    @Test("frame.jpg is FrameAnnotator's drawing of the latest frame, drawn at most live_fps a second")
    func picture() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let f = try Self.frames(dir)
        let registry = MetricsRegistry()
        let drawn = registry.counter("drawn", help: "d")
        let unchanged = registry.counter("unchanged", help: "u"), rate = registry.counter("rate", help: "r")
        let view = LiveView(stream: "cam", url: "x", maxFPS: 2, framesDrawn: drawn, reused: (unchanged, rate))
        #expect(try view.jpeg() == nil)
        view.offer(f[0], Self.message(f[0]), nil)
        let p = try #require(try view.jpeg(now: 100))
        let path = dir.file("p.jpg")
        _ = FileManager.default.createFile(atPath: path, contents: Data(p.jpeg))
        let got = try decodeImage(path: path)
        let plain = try FrameConverter(flags: LiveView.scaleFlags).rgb(f[0])
        let want = FrameAnnotator().draw(plain, message: Self.message(f[0]), recognized: nil)
        #expect(got.width == 320 && got.height == 240, "a 320x240 stream is drawn at its own size, not enlarged to live_width")
        #expect(got.width == want.width && got.height == want.height)
        func meanDiff(_ a: RGBImage, _ b: RGBImage, rows: Range<Int>, cols: Range<Int>) -> Double { Self.meanDiff(a, b, rows: rows, cols: cols) }
        // The box outline (track 3's colour, 1 px at 240p) is where the drawing differs
        // from the plain frame; the JPEG follows the drawing there.
        let band = (40..<180, 40..<42)
        #expect(meanDiff(got, want, rows: band.0, cols: band.1) < 30, "JPEG vs drawing on the box's left edge")
        #expect(meanDiff(plain, want, rows: band.0, cols: band.1) > 60, "the drawing has no box there")
        #expect(meanDiff(got, want, rows: 0..<got.height, cols: 0..<got.width) < 6, "JPEG vs drawing overall")
        #expect(drawn.value == 1)

        // A newer frame within 1/live_fps: the same picture; later: the new frame.
        view.offer(f[1], Self.message(f[1]), nil)
        #expect(try view.jpeg(now: 100.2)?.frame == f[0].index)
        #expect(drawn.value == 1 && rate.value == 1 && unchanged.value == 0)
        #expect(try view.jpeg(now: 100.6)?.frame == f[1].index)
        #expect(drawn.value == 2)
        #expect(try view.jpeg(now: 200)?.frame == f[1].index, "the frame already drawn is not drawn again")
        #expect(try view.jpeg(now: 300)?.jpeg == view.jpeg(now: 400)?.jpeg)
        #expect(drawn.value == 2 && unchanged.value == 3 && rate.value == 1, "nothing offered since: the same JPEG, counted")
    }

    @Test("pictures are at most live_width wide with the frame's aspect; the boxes are scaled with them")
    func scaledPicture() throws {
        #expect(LiveView.pictureSize(width: 1920, height: 1080, maxWidth: 640) == (640, 360))
        #expect(LiveView.pictureSize(width: 704, height: 576, maxWidth: 640) == (640, 524))
        #expect(LiveView.pictureSize(width: 1080, height: 1920, maxWidth: 640) == (640, 1138))
        #expect(LiveView.pictureSize(width: 320, height: 240, maxWidth: 640) == (320, 240))
        #expect(LiveView.pictureSize(width: 641, height: 481, maxWidth: 641) == (641, 481))

        let dir = TempDir()
        defer { dir.remove() }
        let clip = dir.file("hd.mp4")
        let made = try Child.run("/usr/bin/ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i",
            "testsrc2=s=1920x1080:r=10:d=0.3,geq=lum='lum(X,Y)*0.3+40':cb=128:cr=128",
            "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", clip], dir: dir, timeout: 60)
        try #require(made.status == 0, "ffmpeg: \(made.stderr)")
        let source = try VideoSource(url: clip, options: SourceOptions(decoderThreads: 1))
        let frame = try #require(try source.nextFrame())
        try #require(frame.width == 1920 && frame.height == 1080)
        // Track 3 (amber) around the middle of the full-HD frame.
        var message = Self.message(frame)
        message.regions[0].box = [600, 300, 1200, 900]

        for (liveWidth, want) in [(640, (640, 360)), (480, (480, 270))] {
            var mc = MetricsConfig()
            if liveWidth != 640 { mc.liveWidth = liveWidth }  // 640 is the default
            let registry = MetricsRegistry()
            let board = LiveBoard(config: mc, registry: registry, statuses: { [] })
            let view = board.view(stream: "hd\(liveWidth)", url: "x")
            view.offer(frame, message, nil)
            let p = try #require(try view.jpeg(now: 100))
            let path = dir.file("hd\(liveWidth).jpg")
            _ = FileManager.default.createFile(atPath: path, contents: Data(p.jpeg))
            let got = try decodeImage(path: path)  // FFmpeg's mjpeg decoder
            #expect(got.width <= liveWidth && got.width == want.0 && got.height == want.1, "\(got.width)x\(got.height) at live_width \(liveWidth)")
            #expect(abs(Double(got.height) / Double(got.width) - 1080.0 / 1920) < 0.01, "aspect \(got.width)x\(got.height)")

            // The drawing is replay's, on the scaled picture: the box's left edge sits at
            // 600 x scale, 2 px wide (a fresh label; the picture is below 480 px high).
            let plain = try FrameConverter(flags: LiveView.scaleFlags).rgb(frame, .size(width: want.0, height: want.1))
            let drawing = FrameAnnotator().draw(plain, message: message, recognized: nil, source: (1920, 1080))
            let f = Double(want.0) / 1920
            let x = Int(600 * f), rows = Int(300 * f) + 4..<Int(900 * f) - 4  // clear of the top and bottom edges
            func mean(_ a: RGBImage, _ b: RGBImage, _ rows: Range<Int>, _ cols: Range<Int>) -> Double { Self.meanDiff(a, b, rows: rows, cols: cols) }
            #expect(mean(plain, drawing, rows, x..<(x + 1)) > 60, "the drawing has the box's edge at x \(x)")
            #expect(mean(plain, drawing, rows, (x + 8)..<(x + 9)) < 1, "and nothing 8 px inside it")
            #expect(mean(got, drawing, rows, x..<(x + 1)) < 40, "JPEG vs drawing on the box's left edge")
            #expect(mean(got, drawing, 0..<got.height, 0..<got.width) < 6, "JPEG vs drawing overall")
            #expect(registry.render().contains("regionspotd_live_frames_drawn_total{stream=\"hd\(liveWidth)\"} 1"))
            _ = try view.jpeg(now: 200)
            #expect(registry.render().contains("regionspotd_live_frames_reused_total{stream=\"hd\(liveWidth)\",reason=\"unchanged\"} 1"))
        }
    }

    /// python3 speaking raw HTTP: one line per request, "STATUS first-body-line".
    static let client = """
    import socket, sys, time
    port = int(sys.argv[1])
    def req(raw, wait=5):
        s = socket.create_connection(("127.0.0.1", port), timeout=wait)
        s.sendall(raw.encode()); data = b""
        try:
            while True:
                d = s.recv(65536)
                if not d: break
                data += d
                if b"text/event-stream" in data and b"\\n\\n" in data.split(b"\\r\\n\\r\\n", 1)[-1]: break
        except socket.timeout: pass
        return s, data.decode(errors="replace")
    def line(data):
        head, _, body = data.partition("\\r\\n\\r\\n")
        return head.split(" ", 2)[1] + " " + (body.splitlines() or [""])[0]
    out = []
    for a in sys.argv[2:]:
        if a == "silent":       # a client that connects and sends nothing, kept open
            out.append(socket.create_connection(("127.0.0.1", port))); print("silent", flush=True); continue
        if a.startswith("watch "):  # an event stream kept open
            s, d = req("GET %s HTTP/1.1\\r\\n\\r\\n" % a[6:]); out.append(s); print(line(d), flush=True); continue
        if a == "close-watchers":
            for s in out: s.close()
            out = []; time.sleep(0.5); print("closed", flush=True); continue
        raw = a.replace("\\\\r", "\\r").replace("\\\\n", "\\n")
        if not raw.startswith(("GET", "POST", "HEAD", "garbage")): raw = "GET %s HTTP/1.1\\r\\n\\r\\n" % raw
        t = time.time(); s, d = req(raw); s.close()
        print(line(d) if d else "closed", flush=True)
    """

    @Test("token, watcher cap, unknown stream, bad and silent clients")
    func listener() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let f = try Self.frames(dir)
        var mc = MetricsConfig()
        mc.maxWatchers = 2
        mc.token = "s3cret-token-0123456789"
        let registry = MetricsRegistry()
        let status = StreamStatus(stream: "cam", metrics: StreamMetrics(registry: registry, stream: "cam"), registry: registry, publisher: nil)
        let board = LiveBoard(config: mc, registry: registry, statuses: { [status] })
        let view = board.view(stream: "cam", url: "rtsp://admin:hunter2@10.0.0.5/live")
        view.offer(f[0], Self.message(f[0]), nil)
        let server = try MetricsHTTPServer(listen: "127.0.0.1:0", render: { registry.render() }, live: board, token: mc.token)
        defer { server.stop() }
        let script = dir.write("client.py", Self.client)
        let t = "?token=\(mc.token!)"
        let r = try Child.run(Repo.python, [script, "\(server.port)",
            "silent", "/metrics", "GET /metrics HTTP/1.1\\r\\nAuthorization: Bearer \(mc.token!)\\r\\n\\r\\n",
            "GET /metrics HTTP/1.1\\r\\nAuthorization: Bearer wrong\\r\\n\\r\\n", "/healthz", "garbage\\r\\n\\r\\n",
            "POST /metrics HTTP/1.1\\r\\n\\r\\n", "/\(t)", "/streams/cam\(t)", "/streams/nope\(t)", "/streams/cam/frame.jpg\(t)",
            "watch /streams/cam/events\(t)", "watch /streams/cam/events\(t)", "watch /streams/cam/events\(t)", "GET /metrics HTTP/1.1\\r\\nAuthorization: Bearer \(mc.token!)\\r\\n\\r\\n",
            "close-watchers", "watch /streams/cam/events\(t)"], dir: dir, timeout: 60)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 17, "\(lines)")
        #expect(lines[0] == "silent")
        #expect(lines[1] == "401 a bearer token is needed (metrics.token)", "a silent client does not hold the listener")
        #expect(lines[2].hasPrefix("200 # HELP"))
        #expect(lines[3].hasPrefix("401"))
        #expect(lines[4] == "200 ok")
        #expect(lines[5] == "400 bad request line")
        #expect(lines[6] == "405 only GET")
        #expect(lines[7].hasPrefix("200 <!doctype html>"))
        #expect(lines[8].hasPrefix("200 <!doctype html>"))
        #expect(lines[9] == "404 no such stream")
        #expect(lines[10].hasPrefix("200 "), "frame.jpg: \(lines[10])")
        #expect(lines[11] == "200 retry: 1000" && lines[12] == "200 retry: 1000")
        #expect(lines[13] == "503 too many watchers (metrics.max_watchers 2)")
        #expect(lines[15] == "closed" && lines[16] == "200 retry: 1000", "a closed watcher frees its place")
        // The refused third watcher is counted.
        #expect(lines[14].hasPrefix("200 "))
        #expect(registry.render().contains("regionspotd_live_refused_total{reason=\"max_watchers\"} 1"))
        #expect(board.watchers.value <= 1)
    }

    @Test("a watcher's thread is named metrics-conn and runs at nice 19 in SCHED_IDLE (only CPU nothing else wants)")
    func watcherThreadPriority() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let f = try Self.frames(dir)
        let registry = MetricsRegistry()
        let board = LiveBoard(config: MetricsConfig(), registry: registry, statuses: { [] })
        board.view(stream: "cam", url: "x").offer(f[0], Self.message(f[0]), nil)
        let server = try MetricsHTTPServer(listen: "127.0.0.1:0", render: { registry.render() }, live: board)
        defer { server.stop() }
        let holder = try Child(Repo.python, ["-c", """
            import sys, urllib.request
            r = urllib.request.urlopen(sys.argv[1], timeout=30)
            while r.readline(): pass
            """, "http://127.0.0.1:\(server.port)/streams/cam/events"], dir: dir, name: "watcher")
        defer { holder.stop() }
        try #require(eventually(10) { board.watchers.value == 1 }, "no watcher: \(holder.stderr)")
        // /proc/self/task/TID/stat after the command's ")": field 3 first, so nice (19) is
        // at 16 and the scheduling policy (41; SCHED_IDLE is 5) at 38.
        let threads = try FileManager.default.contentsOfDirectory(atPath: "/proc/self/task").compactMap { tid -> [String]? in
            guard let comm = try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8),
                  comm.trimmingCharacters(in: .newlines) == "metrics-conn",
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { return nil }
            return stat[stat.index(close, offsetBy: 2)...].split(separator: " ").map(String.init)
        }
        // (other tests' live page threads may be in this process too: the same holds for them)
        try #require(!threads.isEmpty, "no metrics-conn thread")
        for t in threads {
            #expect(t[16] == "19", "nice \(t[16])")
            #expect(t[38] == "5", "scheduling policy \(t[38]), not SCHED_IDLE (5)")
        }
    }

    @Test("live page requests past the connection cap are refused at once and counted; a closed watcher frees its place")
    func connectionCap() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let f = try Self.frames(dir)
        var mc = MetricsConfig()
        mc.maxWatchers = 4
        let registry = MetricsRegistry()
        let board = LiveBoard(config: mc, registry: registry, statuses: { [] })
        board.view(stream: "cam", url: "x").offer(f[0], Self.message(f[0]), nil)
        #expect(try MetricsHTTPServer(listen: "127.0.0.1:0", render: { "" }, live: board).maxConnections == 20)
        let server = try MetricsHTTPServer(listen: "127.0.0.1:0", render: { registry.render() }, live: board, maxConnections: 2)
        defer { server.stop() }
        let r = try Child.run(Repo.python, [dir.write("cap.py", Self.client), "\(server.port)",
            "watch /streams/cam/events", "watch /streams/cam/events", "/", "/healthz", "/metrics", "close-watchers", "/"], dir: dir, timeout: 30)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        try #require(lines.count == 7, "\(lines) \(r.stderr)")
        #expect(lines[0] == "200 retry: 1000" && lines[1] == "200 retry: 1000")
        #expect(lines[2] == "503 too many connections")
        #expect(lines[3] == "200 ok" && lines[4].hasPrefix("200 "), "the listener's own answers do not wait for live page threads")
        #expect(lines[6].hasPrefix("200 <!doctype html>"), "closed watchers free their places")
        #expect(registry.render().contains("regionspotd_live_refused_total{reason=\"max_connections\"} 1"))
    }

    @Test("video.mjpeg: ffmpeg reads the pictures as MJPEG, each a new frame at most live_fps a second; a still frame is sent once; a watcher")
    func mjpeg() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let f = try Self.frames(dir)
        var mc = MetricsConfig()
        mc.liveFPS = 4
        mc.maxWatchers = 1
        let registry = MetricsRegistry()
        let board = LiveBoard(config: mc, registry: registry, statuses: { [] })
        let view = board.view(stream: "cam", url: "x")
        view.offer(f[0], Self.message(f[0]), nil)
        let server = try MetricsHTTPServer(listen: "127.0.0.1:0", render: { registry.render() }, live: board)
        defer { server.stop() }
        let url = "http://127.0.0.1:\(server.port)/streams/cam/video.mjpeg"

        // A still frame: one part in 1.5 s, and the only watcher's place is taken meanwhile.
        let still = """
        import socket, sys, time
        s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
        s.sendall(b"GET /streams/cam/video.mjpeg HTTP/1.1\\r\\n\\r\\n"); d = b""; end = time.time() + 1.5
        s.settimeout(0.2)
        while time.time() < end:
            try: d += s.recv(65536)
            except socket.timeout: pass
            if time.time() > end - 1 and b"other" not in d:
                o = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
                o.sendall(b"GET /streams/cam/events HTTP/1.1\\r\\n\\r\\n"); r = o.recv(4096); o.close(); d += b"other " + r.split(b" ", 2)[1]
        print(d.split(b"\\r\\n", 1)[0].decode(), d.count(b"Content-Type: image/jpeg"), b"boundary=regionspotd-picture" in d, d.decode("latin-1").split("other ")[1][:3])
        """
        let r = try Child.run(Repo.python, [dir.write("still.py", still), "\(server.port)"], dir: dir, timeout: 30)
        #expect(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "HTTP/1.0 200 OK 1 True 503", "\(r.stdout) \(r.stderr)")

        // The still stream's place frees when its thread sees the closed connection.
        try #require(eventually(5) { board.watchers.value == 0 }, "the closed MJPEG stream still holds its place")

        // New frames every 40 ms: ffmpeg's mpjpeg demuxer takes 6 pictures, at most 4 a second.
        final class Switch: Sendable { let on = Atomic(true) }
        let feeding = Switch()
        let feeder = Thread {
            var i = 0
            while feeding.on.load(ordering: .relaxed) {
                i += 1
                view.offer(f[i % 2], Self.message(f[i % 2]), nil)
                usleep(40_000)
            }
        }
        feeder.start()
        defer { feeding.on.store(false, ordering: .relaxed) }
        let t0 = Date()
        let got = try Child.run("/usr/bin/ffmpeg", ["-loglevel", "error", "-y", "-f", "mpjpeg", "-i", url, "-frames:v", "6", "-c", "copy",
                                                    dir.file("part%d.jpg")], dir: dir, timeout: 60)
        let seconds = Date().timeIntervalSince(t0)
        try #require(got.status == 0, "ffmpeg: \(got.stderr)")
        for i in 1...6 {
            let picture = try decodeImage(path: dir.file("part\(i).jpg"))
            #expect(picture.width == 320 && picture.height == 240, "part \(i): \(picture.width)x\(picture.height)")
        }
        let drawn = registry.render().split(separator: "\n").first { $0.hasPrefix("regionspotd_live_frames_drawn_total{stream=\"cam\"}") }
        let count = drawn.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        #expect(count >= 6 && count <= (seconds * 4).rounded(.up) + 2, "\(drawn.map(String.init) ?? "none") in \(seconds) s")
        #expect(eventually(5) { board.watchers.value == 0 }, "ffmpeg's connection left its place")
    }

    /// A non-loopback IPv4 address of this host (nil when it has none).
    static let hostAddress: String? = {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return nil }
        defer { freeifaddrs(list) }
        var p = list
        while let a = p {
            defer { p = a.pointee.ifa_next }
            guard let sa = a.pointee.ifa_addr, Int32(sa.pointee.sa_family) == AF_INET else { continue }
            var addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr }
            guard UInt32(bigEndian: addr.s_addr) >> 24 != 127 else { continue }
            var buf = [CChar](repeating: 0, count: 64)
            inet_ntop(AF_INET, &addr, &buf, 64)
            return String(nulTerminated: buf)
        }
        return nil
    }()

    @Test("without a token the pages answer loopback peers only; /metrics stays open", .enabled(if: hostAddress != nil))
    func loopbackOnly() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let host = try #require(Self.hostAddress)
        let board = LiveBoard(config: MetricsConfig(), registry: MetricsRegistry(), statuses: { [] })
        let server = try MetricsHTTPServer(listen: "0.0.0.0:0", render: { "up 1\n" }, live: board)
        defer { server.stop() }
        let script = """
        import socket, sys
        for host in sys.argv[2:]:
            for path in ["/", "/metrics"]:
                s = socket.create_connection((host, int(sys.argv[1])), timeout=5)
                s.sendall(("GET %s HTTP/1.0\\r\\n\\r\\n" % path).encode()); d = b""
                while True:
                    x = s.recv(65536)
                    if not x: break
                    d += x
                head, _, body = d.decode().partition("\\r\\n\\r\\n")
                print(head.split(" ", 2)[1], body.splitlines()[0])
        """
        let r = try Child.run(Repo.python, [dir.write("peer.py", script), "\(server.port)", "127.0.0.1", host], dir: dir, timeout: 30)
        #expect(r.stdout.split(separator: "\n") == ["200 <!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">",
                                                   "200 up 1", "403 the live pages answer other hosts only with metrics.token set", "200 up 1"],
                "\(r.stdout) \(r.stderr)")
    }

    @Test("the stream page names its source redacted and escapes what it shows")
    func page() throws {
        let html = LivePages.stream(id: "a<b", url: Redaction.redact("rtsp://admin:hunter2@10.0.0.5/live?token=abc"), tokenQuery: "", fps: 5)
        #expect(!html.contains("hunter2") && !html.contains("token=abc"))
        #expect(html.contains("rtsp://***@10.0.0.5/live?token=***"))
        #expect(html.contains("a&lt;b") && !html.contains("a<b"))
        #expect(html.contains("/streams/a%3Cb"))
    }

    @Test("the token is compared in full; loopback peers are told apart")
    func helpers() {
        #expect(constantTimeEqual("abc", "abc"))
        #expect(!constantTimeEqual("abd", "abc") && !constantTimeEqual("ab", "abc") && !constantTimeEqual("abcd", "abc") && !constantTimeEqual("", "abc"))
        func v4(_ a: String) -> sockaddr_storage {
            var ss = sockaddr_storage()
            withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                p.pointee.sin_family = sa_family_t(AF_INET); p.pointee.sin_addr.s_addr = inet_addr(a) } }
            return ss
        }
        #expect(HTTPConnection.isLoopback(v4("127.0.0.1")) && HTTPConnection.isLoopback(v4("127.3.2.1")))
        #expect(!HTTPConnection.isLoopback(v4("10.0.0.1")) && !HTTPConnection.isLoopback(v4("192.168.1.127")))
    }
}
