// `regionspotd run` overloaded on purpose, with real parts: the built binary, the tiny
// fixture model, three looping files, a real python3-zmq subscriber, /metrics and /healthz
// over HTTP. limits.max_label_age is far below what three streams' recognitions take, so
// the daemon must shed (lowest priority first), say so everywhere, and still recognize
// every stream.
import Foundation
import Testing

@Suite("Overload end to end")
struct OverloadRunTests {
    /// (status code, body) of GET `url`.
    static func get(_ url: String, dir: TempDir) -> (Int, String) {
        let r = try? Child.run("/usr/bin/python3", ["-c", """
            import sys, urllib.request, urllib.error
            try:
                r = urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status); print(r.read().decode())
            except urllib.error.HTTPError as e:
                print(e.code); print(e.read().decode())
            """, url], dir: dir, timeout: 10)
        let lines = (r?.stdout ?? "").split(separator: "\n", maxSplits: 1).map(String.init)
        return (Int(lines.first ?? "") ?? 0, lines.count > 1 ? lines[1] : "")
    }

    static func metric(_ text: String, _ name: String, stream: String, reason: String? = nil) -> Double {
        let head = "\(name){stream=\"\(stream)\"" + (reason.map { ",reason=\"\($0)\"" } ?? "") + "}"
        return text.split(separator: "\n").first { $0.hasPrefix(head + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
    }

    @Test("three streams, max_label_age far too short: lowest priority sheds first, status/metrics/log/healthz say it, every stream recognized")
    func overloaded() throws {
        let binary = try #require(Repo.binary, "build regionspotd first")
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try RunEndToEndTests.makeClip(dir)
        let pubPort = freePort(), metricsPort = freePort()
        let cfg = dir.write("c.yaml", RunEndToEndTests.zoneStreams(
            clip: clip, streams: [("door", 10), ("hall", 0), ("lot", -5)].map { ($0, "priority: \($1), keyframes: { min_interval: 0, max_interval: 0.02 }") },
            publisher: pubPort, metrics: metricsPort, extra: "limits: { max_label_age: 0.02 }\nservice: { healthz_overloaded: 503 }"))
        let sub = try PySubscriber(endpoint: "tcp://127.0.0.1:\(pubPort)", dir: dir)
        defer { sub.stop() }
        let daemon = try Child(binary, ["run", "--config", cfg], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, name: "daemon")
        defer { daemon.stop() }
        let started = Date()
        let ids = ["door", "hall", "lot"]
        func metrics() -> String { Self.get("http://127.0.0.1:\(metricsPort)/metrics", dir: dir).1 }

        // the overload is published on status.<stream>, with what was shed
        func overloadEvents() -> [[String: Any]] {
            sub.messages.filter { $0.topic.hasPrefix("status.") && ($0.json["event"] as? String) == "overload" }
                .compactMap { $0.json["overload"] as? [String: Any] }
        }
        #expect(eventually(60) { overloadEvents().contains { ($0["overloaded"] as? Bool) == true && ($0["shed"] as? String) == "keyframes_only" } },
                "overload events: \(overloadEvents().prefix(5)); stderr: \(daemon.stderr.suffix(1500))")
        // ...and every stream keeps being recognized
        #expect(eventually(60) { let m = metrics(); return ids.allSatisfy { Self.metric(m, "regionspotd_recognitions_total", stream: $0) >= 3 } },
                "every stream recognized: \(metrics().split(separator: "\n").filter { $0.hasPrefix("regionspotd_recognitions_total") })")
        // one step a second: after ~9 s the doorway too decodes keyframes only
        #expect(eventually(60) { Self.metric(metrics(), "regionspotd_shed_level", stream: "door") == 3 }, "door fully shed")
        let m = metrics()
        #expect(ids.allSatisfy { Self.metric(m, "regionspotd_frames_shed_total", stream: $0, reason: "tracking") > 0 }, "frames shed by tracking")
        // frames the decoder skipped are counted at the next keyframe (1 s GOP)
        #expect(eventually(10) { let m = metrics(); return ids.allSatisfy { Self.metric(m, "regionspotd_frames_shed_total", stream: $0, reason: "non_key") > 0 } },
                "frames not decoded: \(metrics().split(separator: "\n").filter { $0.hasPrefix("regionspotd_frames_shed_total") })")
        #expect(ids.allSatisfy { Self.metric(m, "regionspotd_shed_level", stream: $0) == 3 })
        #expect(m.contains("regionspotd_label_age_seconds_bucket{stream=\"door\""), "label-age histogram per stream")
        // healthz answers 503 as configured, naming the overload
        let health = Self.get("http://127.0.0.1:\(metricsPort)/healthz", dir: dir)
        #expect(health.0 == 503 && health.1.hasPrefix("overloaded:"), "healthz: \(health)")
        // the log: the first stream to shed is the lowest priority, then the next; a summary once per change
        let steps = daemon.stderr.split(separator: "\n").filter { $0.contains("sheds ") }
        #expect(steps.first?.contains("stream lot sheds tracking") == true, "first step: \(steps.first ?? "none")")
        #expect(steps.dropFirst().first?.contains("stream lot sheds non_reference") == true, "second step: \(steps.dropFirst().first ?? "none")")
        #expect(daemon.stderr.contains("overloaded: "))
        let summaries = daemon.stderr.split(separator: "\n").filter { $0.contains("regionspotd: overloaded: ") }.count
        // (labels this young flip between fresh and stale all the time: still at most one a second)
        #expect(summaries <= Int(Date().timeIntervalSince(started)) + 2, "a summary per change, not per frame: \(summaries)")

        // every status message validates against status/4
        let docs = sub.messages.filter { $0.topic.hasPrefix("status.") }.map { (schema: "status.schema.json", json: $0.raw) }
        let results = try SchemaCheck.validate(docs, dir: dir)
        #expect(results.allSatisfy { $0 == nil }, "invalid: \(zip(docs, results).first { $0.1 != nil }.map { "\($0.0.json) -> \($0.1!)" } ?? "")")
        #expect(docs.contains { $0.json.contains("\"overload\":{") && $0.json.contains("\"event\":\"rates\"") }, "rates carry the overload too")
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 8) == 0)
    }
}
