// The live surfaces of one running daemon, fuzzed together: malformed external-box
// messages (counted and skipped), garbage on the metrics listener (answered and closed)
// and bad configurations on SIGHUP (refused with a log line, the old configuration kept),
// while two file streams must keep publishing throughout.
import Foundation
import FuzzSupport
import Testing
@testable import Daemon

#if canImport(Glibc)
import Glibc
#endif

@Suite("fuzz: a running daemon's live inputs", .serialized)
struct LiveFuzzTests {
    static func metric(_ port: Int, _ name: String) -> Double? {
        let text = RawHTTP.get(port: UInt16(port), "/metrics") ?? ""
        return text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test("malformed external boxes counted, HTTP garbage answered, bad reloads refused; both streams keep publishing")
    func live() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try ReplayFixture.clip(in: dir)
        let pub = freePort(), ext = freePort(), met = freePort()
        let good = """
            log_level: info
            models: {directory: \(ReplayFixture.model)}
            vocabulary: [person, car]
            streams:
              - {id: a, url: \(clip), loop: true, keyframes: {min_interval: 0.3, max_interval: 0.6}, proposals: {sources: [tracked, zones, external], zones: [{name: z, box: [0, 0, 160, 120]}]}}
              - {id: b, url: \(clip), loop: true, keyframes: {min_interval: 0.3, max_interval: 0.6}, proposals: {sources: [tracked, zones], zones: [{name: z, box: [0, 0, 160, 120]}]}}
            publisher: {endpoints: [tcp://127.0.0.1:\(pub)]}
            external_boxes: {endpoint: tcp://127.0.0.1:\(ext)}
            metrics: {listen: 127.0.0.1:\(met), interval: 1}
            """
        let config = dir.write("live.yaml", good)
        let sub = try PySubscriber(endpoint: "tcp://127.0.0.1:\(pub)", dir: dir)
        defer { sub.stop() }
        let daemon = try Child(binary, ["run", "--config", config], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, name: "daemon")
        defer { daemon.stop() }
        func regions(_ s: String) -> Int { sub.messages.filter { $0.topic == "regions.\(s)" }.count }
        /// Both streams publish at least `n` more regions messages within `timeout` seconds.
        func bothPublish(_ n: Int, _ timeout: Double = 20) -> Bool {
            let a = regions("a"), b = regions("b")
            return eventually(timeout) { regions("a") >= a + n && regions("b") >= b + n }
        }
        #expect(bothPublish(5, 60), "the streams did not start: \(daemon.stderr.suffix(2000))")

        // 1. External boxes: the seeded malformed cases of ExternalBoxesFuzzTests plus
        //    valid boxes far outside the picture, all pushed by a python3-zmq client.
        var dice = Dice(s: 5557)
        var payloads: [[UInt8]] = [], bad = 0
        for i in 0..<FuzzScale.count(240) {
            let (p, _, outcome) = ExternalBoxesFuzzTests.mutation(i, &dice)
            guard case .refused = outcome else { continue }
            var m = (try? JSONSerialization.jsonObject(with: Data(p))) as? [String: Any]
            if m?["stream"] as? String == "cam1" || m?["stream"] as? String == "cam2" { m?["stream"] = "a" }
            payloads.append(m.map { Array(try! JSONSerialization.data(withJSONObject: $0)) } ?? p)
            bad += 1
        }
        for f in 0..<20 {  // accepted: the keyframe clips them
            payloads.append(Array(#"{"schema":"regionspotd/external-boxes/1","stream":"a","frame":\#(f),"boxes":[{"box":[-1e300,-5,1e300,1e9]},{"box":[150,100,9000,9000],"score":1}]}"#.utf8))
        }
        let hex = dir.write("payloads.txt", payloads.map { $0.map { String(format: "%02x", $0) }.joined() }.joined(separator: "\n") + "\n")
        let push = dir.write("push.py", """
            import sys, zmq
            ctx = zmq.Context(); s = ctx.socket(zmq.PUSH); s.connect(sys.argv[1])
            for line in open(sys.argv[2]):
                s.send(bytes.fromhex(line.strip()))
            s.close(linger=5000); ctx.term()
            """)
        let pushed = try Child.run(Repo.python, [push, "tcp://127.0.0.1:\(ext)", hex], dir: dir)
        #expect(pushed.status == 0, "\(pushed.stderr)")
        let malformed = "regionspotd_external_messages_total{result=\"malformed\"}", accepted = "regionspotd_external_messages_total{result=\"accepted\"}"
        #expect(eventually(10) { Self.metric(met, malformed) == Double(bad) && Self.metric(met, accepted) == 20 },
                "external messages: malformed \(String(describing: Self.metric(met, malformed))) of \(bad), accepted \(String(describing: Self.metric(met, accepted))) of 20")
        #expect(bothPublish(5), "a stream stopped after the external boxes: \(daemon.stderr.suffix(2000))")
        #expect(daemon.stderr.contains("malformed message"), "logged (rate-limited)")

        // 2. The metrics listener: seeded cases of HTTPFuzzTests, then /healthz at once.
        for i in 0..<FuzzScale.count(36) {
            let (bytes, half, what, _) = HTTPFuzzTests.request(i, &dice)
            let status: Int?? = withDeadline(10) { RawHTTP.exchange(port: UInt16(met), bytes, halfClose: half).flatMap(RawHTTP.status) }
            guard let status else { Issue.record("HTTP case \(i) (\(what)): no close within 10 s"); continue }
            #expect(status == nil || HTTPFuzzTests.allowed(status), "HTTP case \(i) (\(what)): \(String(describing: status))")
        }
        let t0 = Date()
        #expect(Self.metric(met, malformed) != nil && Date().timeIntervalSince(t0) < 2, "/metrics after the garbage")
        #expect(bothPublish(3), "a stream stopped after the HTTP garbage")

        // 3. Bad configurations on SIGHUP: refused, logged, the old one kept.
        let bads: [(String, String)] = [
            ("unknown key", good + "\nbogus: 1\n"),
            ("broken YAML", good.replacingOccurrences(of: "streams:", with: "streams: [")),
            ("out of range", good.replacingOccurrences(of: "min_interval: 0.3", with: "min_interval: -1")),
            ("binary garbage", String(decoding: Dice(s: 1).bytesForGarbage(), as: UTF8.self)),
            ("no streams", good.components(separatedBy: "streams:")[0] + "streams: []\n"),
        ]
        func rejectLines() -> Int { daemon.stderr.components(separatedBy: "reload rejected: \(config)").count - 1 }
        for (k, (what, text)) in bads.enumerated() {
            let logged = rejectLines()
            try text.write(toFile: config, atomically: true, encoding: .utf8)
            daemon.signal(SIGHUP)
            let rejected = "regionspotd_reloads_total{result=\"rejected\"}"
            #expect(eventually(10) { Self.metric(met, rejected) == Double(k + 1) }, "reload \(what): \(String(describing: Self.metric(met, rejected))) rejected; \(daemon.stderr.suffix(1500))")
            #expect(eventually(5) { rejectLines() > logged }, "reload \(what): a log line naming the file")
            #expect(bothPublish(3), "a stream stopped after the bad reload \(what)")
        }
        #expect(daemon.process.isRunning)
        let published = sub.messages
        #expect(published.allSatisfy { FuzzOutput.numbers($0.json).allSatisfy(\.isFinite) && !FuzzOutput.hasNonFinite($0.raw) }, "a non-finite number published")
        fuzzReport("live daemon: \(bad) malformed + 20 accepted external-box messages, \(FuzzScale.count(36)) HTTP cases, \(bads.count) bad reloads; regions published a \(regions("a")), b \(regions("b"))")
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 10) == 0)
    }
}

extension Dice {
    /// 2 KB of bytes that are not UTF-8 text (a config overwritten by a binary file).
    func bytesForGarbage() -> [UInt8] { var d = self; return [0xff, 0xfe] + d.bytes(2048) }
}
