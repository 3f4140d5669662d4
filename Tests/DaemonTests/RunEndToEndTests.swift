// `regionspotd run` end to end with real parts: the built binary, the tiny fixture models,
// a real GStreamer RTSP server on 127.0.0.1 and a looping file, a real python3-zmq
// subscriber, sd_notify datagrams on a socket the test binds, JSON Schema validation.
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A python3-zmq SUB socket that appends every [topic, payload] to a JSONL file.
final class PySubscriber {
    let child: Child
    let out: String
    init(endpoint: String, dir: TempDir) throws {
        out = dir.file("sub-\(UUID().uuidString.prefix(6)).jsonl")
        let script = dir.write("sub.py", """
        import json, sys, zmq
        ctx = zmq.Context()
        s = ctx.socket(zmq.SUB)
        s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(sys.argv[1])
        with open(sys.argv[2], "a", buffering=1) as f:
            while True:
                topic, payload = s.recv_multipart()
                f.write(json.dumps({"topic": topic.decode(), "payload": payload.decode()}) + "\\n")
        """)
        child = try Child(Repo.python, [script, endpoint, out], dir: dir, name: "sub")
    }
    /// (topic, parsed payload, raw payload) received so far.
    var messages: [(topic: String, json: [String: Any], raw: String)] {
        guard let text = try? String(contentsOfFile: out, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let t = o["topic"] as? String, let p = o["payload"] as? String,
                  let j = try? JSONSerialization.jsonObject(with: Data(p.utf8)) as? [String: Any] else { return nil }
            return (t, j, p)
        }
    }
    func stop() { child.stop() }
}

func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

/// Name, nice value and CPU time (utime + stime, clock ticks) of every thread of `pid`.
func threadStats(_ pid: Int32) -> [(name: String, nice: Int, cpuTicks: Int)] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    return tasks.compactMap { t in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/task/\(t)/stat", encoding: .utf8),
              let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { return nil }
        let name = String(stat[stat.index(after: open)..<close])
        let f = stat[stat.index(after: close)...].split(separator: " ")  // field 3 (state) is f[0]
        guard f.count > 16, let nice = Int(f[16]), let u = Int(f[11]), let s = Int(f[12]) else { return nil }
        return (name, nice, u + s)
    }
}

/// Polls `cond` every 100 ms for up to `timeout` seconds.
func eventually(_ timeout: Double, _ cond: () -> Bool) -> Bool {
    let end = Date().addingTimeInterval(timeout)
    while Date() < end {
        if cond() { return true }
        usleep(100_000)
    }
    return cond()
}

@Suite("regionspotd run end to end", .serialized)
struct RunEndToEndTests {
    static let model = Repo.root.appendingPathComponent("Tests/RecognizerTests/Fixtures/model_tiny").path

    /// A short textured clip with a moving object (flat colours give no motion vectors).
    static func makeClip(_ dir: TempDir) throws -> String {
        let path = dir.file("clip.mp4")
        let r = try Child.run("/usr/bin/ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i",
            "testsrc2=s=320x240:r=10:d=4,geq=lum='lum(X,Y)*0.3+40':cb=128:cr=128[bg];testsrc=s=64x64:r=10:d=4[fg];[bg][fg]overlay=x='20+t*30':y=80",
            "-c:v", "libx264", "-g", "10", "-bf", "0", "-pix_fmt", "yuv420p", path], dir: dir, timeout: 60)
        try #require(r.status == 0, "ffmpeg: \(r.stderr)")
        return path
    }

    /// A daemon configuration of streams looping `clip`, each recognizing one zone
    /// (`keys`: more of the stream's keys), with a metrics listener and `extra` sections.
    static func zoneStreams(clip: String, streams: [(id: String, keys: String)], publisher: Int, metrics: Int, extra: String) -> String {
        let list = streams.map { s in
            "  - { id: \(s.id), url: \(clip), loop: true, \(s.keys), proposals: { sources: [zones], zones: [{ name: z, box: [20, 20, 300, 220] }] } }"
        }.joined(separator: "\n")
        return """
        models: { directory: \(model) }
        vocabulary: [person, car]
        streams:
        \(list)
        publisher: { endpoints: [tcp://127.0.0.1:\(publisher)] }
        metrics: { listen: 127.0.0.1:\(metrics), interval: 1 }
        \(extra)
        """
    }

    static func config(clip: String, rtsp: String, endpoint: String, vocabulary: String) -> String {
        """
        log_level: info
        models:
          directory: \(model)
        vocabulary: [\(vocabulary)]
        streams:
          - id: file1
            url: \(clip)
            loop: true
            keyframes: { min_interval: 0.5, max_interval: 1 }
            proposals:
              sources: [tracked, zones, motion]
              zones: [{ name: left, box: [0, 0, 160, 240] }]
          - id: cam
            url: \(rtsp)
            keyframes: { min_interval: 0.5, max_interval: 1 }
            proposals:
              sources: [tracked, zones]
              zones: [{ name: all, box: [40, 40, 280, 200] }]
        publisher:
          endpoints: [\(endpoint)]
        service:
          drain_timeout: 5
        """
    }

    @Test("streams, schemas, sd_notify, reconnect, SIGHUP vocabulary, SIGTERM")
    func daemon() throws {
        let binary = try #require(Repo.binary, "build regionspotd first")
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try Self.makeClip(dir)
        let rtspPort = freePort(), pubPort = freePort()
        let serverScript = Repo.root.appendingPathComponent("scripts/rtsp-test-server.py").path
        var server = try Child(Repo.python, [serverScript, "--port", "\(rtspPort)", "--fps", "10", "--gop", "10"], dir: dir, name: "rtsp")
        defer { server.stop() }
        #expect(eventually(20) { server.stdout.contains("READY") }, "RTSP server did not start: \(server.stderr)")
        let endpoint = "tcp://127.0.0.1:\(pubPort)"
        let cfgPath = dir.write("regionspotd.yaml", Self.config(clip: clip, rtsp: "rtsp://viewer:secret@127.0.0.1:\(rtspPort)/live",
                                                                endpoint: endpoint, vocabulary: "person, car, traffic light, dog, bicycle"))
        let notify = try NotifySocket(path: dir.file("notify.sock"))
        let sub = try PySubscriber(endpoint: endpoint, dir: dir)
        defer { sub.stop() }
        let daemon = try Child(binary, ["run", "--config", cfgPath],
                               env: ["NOTIFY_SOCKET": notify.address, "WATCHDOG_USEC": "2000000", "CACHE_DIRECTORY": dir.file("cache")],
                               dir: dir, name: "daemon")
        defer { daemon.stop() }

        // READY=1 after models and sockets, then WATCHDOG=1 and STATUS= while streams progress
        let early = notify.collect(timeout: 30) { got in got.contains { $0.contains("READY=1") } && got.contains { $0.contains("WATCHDOG=1") } }
        #expect(early.contains { $0.contains("READY=1") }, "no READY=1; stderr: \(daemon.stderr)")
        #expect(early.contains { $0.contains("WATCHDOG=1") })
        #expect(early.contains { $0.contains("STATUS=") })

        // regions from both streams, with labels from the vocabulary
        func regions(_ stream: String) -> [[String: Any]] { sub.messages.filter { $0.topic == "regions.\(stream)" }.map(\.json) }
        func labelled(_ stream: String) -> [String] {
            regions(stream).flatMap { ($0["regions"] as? [[String: Any]] ?? []).compactMap { $0["label"] as? String } }
        }
        #expect(eventually(30) { !labelled("file1").isEmpty && !labelled("cam").isEmpty }, "no labelled regions; stderr: \(daemon.stderr.suffix(2000))")
        let vocab: Set = ["person", "car", "traffic light", "dog", "bicycle"]
        #expect(Set(labelled("file1") + labelled("cam")).isSubset(of: vocab))
        #expect(sub.messages.contains { $0.topic == "tracks.file1" && ($0.json["event"] as? String) == "started" })
        #expect(sub.messages.contains { $0.topic == "status.cam" && ($0.json["state"] as? String) == "streaming" })
        let inferred = regions("file1").filter { ($0["inferred"] as? Bool) == true }
        #expect(!inferred.isEmpty, "a recognized frame says inferred")

        // the camera drops: reconnecting reported, the file stream never stops; then it returns
        server.signal(SIGKILL)
        _ = server.wait(timeout: 5)
        #expect(eventually(20) { sub.messages.contains { $0.topic == "status.cam" && ["reconnecting", "stalled"].contains($0.json["state"] as? String ?? "") } })
        let fileFramesDuringOutage = regions("file1").count
        #expect(eventually(5) { regions("file1").count > fileFramesDuringOutage + 10 }, "file stream kept publishing")
        let camBefore = regions("cam").count
        server = try Child(Repo.python, [serverScript, "--port", "\(rtspPort)", "--fps", "10", "--gop", "10"], dir: dir, name: "rtsp2")
        #expect(eventually(40) { regions("cam").count > camBefore + 5 }, "camera regions resume after the server returns")
        #expect(!daemon.stderr.contains("secret"), "credentials never reach the log")
        #expect(!sub.messages.contains { $0.raw.contains("secret") })

        // SIGHUP with a new vocabulary: labels change, streams keep running
        let connectsBefore = sub.messages.filter { $0.topic == "status.file1" && ($0.json["state"] as? String) == "connecting" }.count
        dir.write("regionspotd.yaml", Self.config(clip: clip, rtsp: "rtsp://viewer:secret@127.0.0.1:\(rtspPort)/live",
                                                  endpoint: endpoint, vocabulary: "red square, blue circle"))
        let mark = sub.messages.count
        daemon.signal(SIGHUP)
        let newVocab: Set = ["red square", "blue circle"]
        #expect(eventually(20) {
            sub.messages.dropFirst(mark).contains { m in
                m.topic == "regions.file1" && (m.json["regions"] as? [[String: Any]] ?? []).contains { newVocab.contains($0["label"] as? String ?? "") }
            }
        }, "labels from the new vocabulary after SIGHUP; stderr: \(daemon.stderr.suffix(3000))")
        #expect(sub.messages.filter { $0.topic == "status.file1" && ($0.json["state"] as? String) == "connecting" }.count == connectsBefore,
                "the file stream was not restarted by the vocabulary change")

        // every message validates against its schema
        let docs = sub.messages.map { m -> (schema: String, json: String) in
            (String(m.topic.split(separator: ".")[0]) + ".schema.json", m.raw)
        }
        let results = try SchemaCheck.validate(docs, dir: dir)
        let invalid = zip(docs, results).filter { $0.1 != nil }
        #expect(invalid.isEmpty, "invalid: \(invalid.prefix(3).map { "\($0.0.json.prefix(300)) -> \($0.1!)" })")
        #expect(Set(docs.map(\.schema)) == ["regions.schema.json", "tracks.schema.json", "status.schema.json"])

        // SIGTERM: STOPPING=1, drain, exit 0 within the bound. Read what queued up first,
        // as systemd would have (the daemon drops notifications a full socket cannot take).
        let pings = notify.collect(timeout: 1.5) { _ in false }
        #expect(pings.contains { $0.contains("WATCHDOG=1") }, "watchdog pings continue while every stream progresses")
        daemon.signal(SIGTERM)
        let status = daemon.wait(timeout: 8)
        #expect(status == 0, "exit status \(String(describing: status)); stderr: \(daemon.stderr.suffix(1500))")
        let late = notify.collect(timeout: 2) { got in got.contains { $0.contains("STOPPING=1") } }
        #expect(late.contains { $0.contains("STOPPING=1") })
    }

    @Test("run with a broken configuration exits 78 naming the key")
    func brokenConfig() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let cfg = dir.write("bad.yaml", "models:\n  directory: \(Self.model)\nvocabulary: [a]\nstreams:\n  - id: x\n    url: /nonexistent.mp4\n    keyframes: { min_interval: -1 }\n")
        let r = try Child.run(binary, ["run", "--config", cfg], dir: dir)
        #expect(r.status == 78)
        #expect(r.stderr.contains("min_interval"), "\(r.stderr)")
    }
}

@Suite("regionspotd run with a subscriber that never reads")
struct SlowSubscriberTests {
    @Test("two recognizer workers share four streams: every stream recognized, each worker its own named thread")
    func twoWorkers() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try RunEndToEndTests.makeClip(dir)
        let pubPort = freePort(), metricsPort = freePort()
        let cfg = dir.write("c.yaml", RunEndToEndTests.zoneStreams(
            clip: clip, streams: (1...4).map { ("s\($0)", "keyframes: { min_interval: 0.3, max_interval: 0.5 }") },
            publisher: pubPort, metrics: metricsPort, extra: "limits: { recognizer_workers: 2, blas_threads: 1 }"))
        let daemon = try Child(binary, ["run", "--config", cfg], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, name: "daemon")
        defer { daemon.stop() }
        func recognitions() -> [String: Double] {
            let r = try? Child.run("/usr/bin/python3", ["-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                                       "http://127.0.0.1:\(metricsPort)/metrics"], dir: dir, timeout: 5)
            var out: [String: Double] = [:]
            for line in (r?.stdout ?? "").split(separator: "\n") where line.hasPrefix("regionspotd_recognitions_total{") {
                guard let s = line.split(separator: "\"").dropFirst().first, let v = Double(line.split(separator: " ").last ?? "") else { continue }
                out[String(s)] = v
            }
            return out
        }
        #expect(eventually(60) { let r = recognitions(); return (1...4).allSatisfy { (r["s\($0)"] ?? 0) >= 3 } },
                "every stream recognized: \(recognitions()) \(daemon.stderr.suffix(1500))")
        let names = Set(threadStats(daemon.pid).map(\.name))
        #expect(names.contains("recognizer") && names.contains("recognizer 2"), "thread names: \(names)")
        #expect(daemon.stderr.contains("2 recognizer workers, one thread each"))
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 8) == 0)
    }

    @Test("memory stays flat and the drop counter rises while decoding goes on")
    func neverReads() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        // 400 fps (paced in real time) so the kernel buffers between the sockets fill in seconds
        let clip = dir.file("fast.mp4")
        let ff = try Child.run("/usr/bin/ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i",
            "testsrc2=s=320x240:r=400:d=4,geq=lum='lum(X,Y)*0.3+40':cb=128:cr=128[bg];testsrc=s=64x64:r=400:d=4[fg];[bg][fg]overlay=x='20+t*30':y=80",
            "-c:v", "libx264", "-g", "50", "-bf", "0", "-pix_fmt", "yuv420p", clip], dir: dir, timeout: 60)
        try #require(ff.status == 0)
        let pubPort = freePort(), metricsPort = freePort()
        let cfg = dir.write("c.yaml", """
        models: { directory: \(RunEndToEndTests.model) }
        vocabulary: [person, car]
        streams:
          - id: fast
            url: \(clip)
            loop: true
            keyframes: { min_interval: 1, max_interval: 2 }
            proposals: { sources: [tracked, zones], zones: [{ name: z, box: [0, 0, 320, 240] }] }
        publisher: { endpoints: [tcp://127.0.0.1:\(pubPort)], send_hwm: 10, nodrop: true }
        metrics: { listen: 127.0.0.1:\(metricsPort), interval: 1 }
        """)
        // a subscriber that connects and never reads
        let script = dir.write("stuck.py", "import sys, time, zmq\ns = zmq.Context().socket(zmq.SUB)\ns.setsockopt(zmq.RCVHWM, 10)\ns.setsockopt(zmq.SUBSCRIBE, b'')\ns.connect(sys.argv[1])\ntime.sleep(600)\n")
        let stuck = try Child(Repo.python, [script, "tcp://127.0.0.1:\(pubPort)"], dir: dir, name: "stuck")
        defer { stuck.stop() }
        let daemon = try Child(binary, ["run", "--config", cfg], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, name: "daemon")
        defer { daemon.stop() }

        func rssKB() -> Int? {
            guard let s = try? String(contentsOfFile: "/proc/\(daemon.pid)/status", encoding: .utf8),
                  let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) else { return nil }
            return Int(line.split(separator: " ").dropFirst().first ?? "")
        }
        func metric(_ prefix: String) -> Double {
            let r = try? Child.run("/usr/bin/python3", ["-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                                       "http://127.0.0.1:\(metricsPort)/metrics"], dir: dir, timeout: 5)
            return (r?.stdout ?? "").split(separator: "\n").filter { $0.hasPrefix(prefix) }
                .compactMap { Double($0.split(separator: " ").last ?? "") }.reduce(0, +)
        }
        #expect(eventually(30) { metric("regionspotd_frames_decoded_total") > 200 }, "decoding started: \(daemon.stderr.suffix(1500))")
        #expect(eventually(30) { metric("regionspotd_messages_dropped_total") > 0 }, "drops are counted")
        // The recognizer's threads run at limits.recognizer_nice (default 10), the rest at 0.
        let nices = threadStats(daemon.pid).map(\.nice)
        #expect(nices.contains(10) && nices.contains(0), "thread nice values: \(nices)")
        #expect(nices.allSatisfy { $0 == 0 || $0 == 10 || $0 == -4 }, "thread nice values: \(nices)")  // -4: GCD's overcommit thread
        // Started without OPENBLAS_THREAD_TIMEOUT, the daemon re-executed itself (same PID) with
        // OpenBLAS's idle workers set to sleep at once.
        let environ = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(daemon.pid)/environ"))) ?? Data()
        #expect(environ.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "OPENBLAS_THREAD_TIMEOUT=4" })
        #expect((try? String(contentsOfFile: "/proc/\(daemon.pid)/comm", encoding: .utf8)) == "regionspotd\n", "process name kept")
        // threads carry their names to the kernel (top -H, ps -L)
        let names = Set(threadStats(daemon.pid).map(\.name))
        #expect(["recognizer", "zmq-publisher", "service-ticker", "metrics-http", "decode fast"].allSatisfy(names.contains), "thread names: \(names)")
        let lagged = (try? Child.run("/usr/bin/python3", ["-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                                         "http://127.0.0.1:\(metricsPort)/metrics"], dir: dir, timeout: 5))?.stdout ?? ""
        #expect(lagged.contains("regionspotd_stream_lag_seconds{stream=\"fast\"}") && lagged.contains("regionspotd_frames_late_total{stream=\"fast\"}"))
        sleep(3)
        let rss1 = try #require(rssKB())
        let dropped1 = metric("regionspotd_messages_dropped_total"), frames1 = metric("regionspotd_frames_decoded_total")
        sleep(25)
        let rss2 = try #require(rssKB())
        let dropped2 = metric("regionspotd_messages_dropped_total"), frames2 = metric("regionspotd_frames_decoded_total")
        #expect(frames2 > frames1 + 4000, "decoding never stalls behind the subscriber (\(frames1) -> \(frames2))")
        #expect(dropped2 > dropped1 + 500, "the drop counter keeps rising (\(dropped1) -> \(dropped2))")
        #expect(rss2 - rss1 < 16 * 1024, "resident memory flat: \(rss1) kB -> \(rss2) kB")
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 8) == 0)
    }
}
