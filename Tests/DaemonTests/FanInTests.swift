// Fan-in end to end with real parts: three `regionspotd run` daemons (tiny fixture
// models, looping clips) connect with CURVE to a `regionspotd proxy`; python3-zmq
// subscribers read the proxy's backend. Every stream arrives without a seq gap, a
// restarted daemon shows a new session while the others go on, subscriptions reach the
// publishers, and subscribers without an authorized key receive nothing and are counted.
import Foundation
import Testing
@testable import Daemon

#if canImport(Glibc)
import Glibc
#endif

/// A python3-zmq SUB client writing {topic, node, session, seq, t} per message to a JSONL
/// file; with key files it is a CURVE client.
final class FanInSubscriber {
    static let script = """
        import json, sys, time, zmq
        endpoint, out, topic = sys.argv[1], sys.argv[2], sys.argv[3]
        def key(path):
            return [l.strip() for l in open(path) if l.strip() and not l.startswith("#")][0].encode()
        s = zmq.Context().socket(zmq.SUB)
        if len(sys.argv) > 5:
            s.curve_serverkey = key(sys.argv[4])
            secret = key(sys.argv[5])
            s.curve_secretkey = secret
            s.curve_publickey = zmq.curve_public(secret)
        s.setsockopt(zmq.SUBSCRIBE, topic.encode())
        s.connect(endpoint)
        with open(out, "a", buffering=1) as f:
            while True:
                t, payload = s.recv_multipart()
                d = json.loads(payload)
                f.write(json.dumps({"topic": t.decode(), "node": d.get("node"), "session": d.get("session"),
                                    "seq": d.get("seq"), "t": time.time()}) + "\\n")
        """

    let child: Child
    let out: String

    init(_ endpoint: String, dir: TempDir, name: String, topic: String = "", serverKey: String? = nil, secretKey: String? = nil) throws {
        out = dir.file("\(name).jsonl")
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        let script = dir.write("fanin-sub.py", Self.script)
        child = try Child(Repo.python, [script, endpoint, out, topic] + [serverKey, secretKey].compactMap { $0 }, dir: dir, name: name)
    }

    struct Message { var topic: String; var node: String; var session: String; var seq: UInt64; var t: Double }

    var messages: [Message] {
        ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap { line in
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let topic = o["topic"] as? String, let node = o["node"] as? String, let session = o["session"] as? String,
                  let seq = (o["seq"] as? NSNumber)?.uint64Value, let t = o["t"] as? Double else { return nil }
            return Message(topic: topic, node: node, session: session, seq: seq, t: t)
        }
    }

    /// Lines written at all (messages of any shape).
    var lineCount: Int { ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").count }

    func stop() { child.stop() }
}

/// `regionspotd keygen` for each of `names` in `dir` (NAME.key, NAME.pub); the public keys
/// of `authorized` are copied into dir/auth (the authorized keys directory).
func makeKeys(_ names: [String], authorized: [String] = [], in dir: TempDir) throws {
    let binary = try #require(Repo.binary)
    try FileManager.default.createDirectory(atPath: dir.file("auth"), withIntermediateDirectories: true)
    for n in names {
        let r = try Child.run(binary, ["keygen", dir.file(n)], dir: dir)
        try #require(r.status == 0, "keygen: \(r.stderr)")
        if authorized.contains(n) { try FileManager.default.copyItem(atPath: dir.file("\(n).pub"), toPath: dir.file("auth/\(n).pub")) }
    }
}

/// GET /metrics of a listener, as text ("" when unreachable).
func scrape(_ port: Int, dir: TempDir) -> String {
    let r = try? Child.run(Repo.python, ["-c", "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())",
                                         "http://127.0.0.1:\(port)/metrics"], dir: dir, timeout: 10)
    return r?.stdout ?? ""
}

/// The value of the first metric line starting with `prefix` (0 when absent).
func metricValue(_ text: String, _ prefix: String) -> Double {
    text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { $0.split(separator: " ").last }.flatMap { Double($0) } ?? 0
}

@Suite("Fan-in: daemons -> proxy -> subscribers", .serialized)
struct FanInTests {
    static func daemonConfig(node: String, clip: String, frontend: Int, dir: TempDir) -> String {
        dir.write("\(node).yaml", """
        node: \(node)
        models: { directory: \(ReplayFixture.model) }
        vocabulary: [person, car]
        streams:
          - id: cam-\(node)
            url: \(clip)
            loop: true
            keyframes: { min_interval: 1, max_interval: 2 }
            proposals: { sources: [tracked, motion] }
        publisher:
          endpoints: [{ connect: "tcp://127.0.0.1:\(frontend)", server_key: proxy.pub }]
        security:
          curve: { secret_key: \(node).key }
        metrics: { interval: 1 }
        """)
    }

    @Test("three daemons with CURVE -> proxy: every stream without a seq gap; a restart is a new session while the others go on; filtered and unauthorized subscribers")
    func threeDaemons() throws {
        let binary = try #require(Repo.binary, "build regionspotd first")
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try ReplayFixture.clip(in: dir)
        try makeKeys(["proxy", "edge1", "edge2", "edge3", "reader", "stranger"], authorized: ["edge1", "edge2", "edge3", "reader"], in: dir)
        let fe = freePort(), be = freePort(), mp = freePort()
        let proxy = try Child(binary, ["proxy", "--frontend", "tcp://127.0.0.1:\(fe)", "--backend", "tcp://127.0.0.1:\(be)",
                                       "--node", "agg", "--secret-key", dir.file("proxy.key"), "--authorized-keys", dir.file("auth"),
                                       "--metrics-listen", "127.0.0.1:\(mp)", "--status-interval", "1"], dir: dir, name: "proxy")
        defer { proxy.stop() }
        let backend = "tcp://127.0.0.1:\(be)"
        let reader = try FanInSubscriber(backend, dir: dir, name: "reader", serverKey: dir.file("proxy.pub"), secretKey: dir.file("reader.key"))
        defer { reader.stop() }
        let only2 = try FanInSubscriber(backend, dir: dir, name: "only2", topic: "regions.cam-edge2",
                                        serverKey: dir.file("proxy.pub"), secretKey: dir.file("reader.key"))
        defer { only2.stop() }
        let stranger = try FanInSubscriber(backend, dir: dir, name: "stranger", serverKey: dir.file("proxy.pub"), secretKey: dir.file("stranger.key"))
        defer { stranger.stop() }
        let plain = try FanInSubscriber(backend, dir: dir, name: "plain")
        defer { plain.stop() }

        var daemons: [String: Child] = [:]
        func start(_ node: String) throws {
            daemons[node] = try Child(binary, ["run", "--config", Self.daemonConfig(node: node, clip: clip, frontend: fe, dir: dir)],
                                      env: ["XDG_CACHE_HOME": dir.file("cache")], dir: dir, name: "\(node)-\(daemons.count)")
        }
        defer { for d in daemons.values { d.stop() } }
        for n in ["edge1", "edge2", "edge3"] { try start(n) }
        func regions(_ node: String) -> [FanInSubscriber.Message] { reader.messages.filter { $0.topic == "regions.cam-\(node)" } }
        #expect(eventually(90) { ["edge1", "edge2", "edge3"].allSatisfy { regions($0).count >= 20 } },
                "regions per node: \(["edge1", "edge2", "edge3"].map { regions($0).count }); edge1: \(daemons["edge1"]!.stderr.suffix(600))")

        // Restart edge2 (SIGKILL: no drain, as a crash).
        let firstSession = try #require(regions("edge2").last?.session)
        let killedAt = Date().timeIntervalSince1970
        daemons["edge2"]!.stop()
        try start("edge2")
        #expect(eventually(90) { regions("edge2").contains { $0.session != firstSession } }, "edge2 never came back: \(daemons["edge2"]!.stderr.suffix(600))")
        #expect(eventually(30) { regions("edge2").filter { $0.session != firstSession }.count >= 10 })
        let backAt = regions("edge2").first { $0.session != firstSession }?.t ?? 0

        let all = reader.messages
        var tracker = SequenceTracker()
        var events: [SequenceTracker.Event] = []
        for m in all { events += tracker.observe(topic: m.topic, node: m.node, session: m.session, seq: m.seq) }
        #expect(!events.contains { if case .gap = $0 { return true }; return false }, "gaps: \(events)")
        #expect(!events.contains { if case .backwards = $0 { return true }; return false }, "\(events)")
        let restarts = events.compactMap { e -> String? in if case let .restart(node, _, _) = e { return node }; return nil }
        #expect(restarts == ["edge2"])
        // The other streams went on while edge2 was down: no pause of 3 s or more.
        for node in ["edge1", "edge3"] {
            let times = regions(node).map(\.t).filter { $0 >= killedAt - 1 && $0 <= backAt + 1 }
            let longest = zip(times, times.dropFirst()).map { $1 - $0 }.max() ?? .infinity
            #expect(times.count > 10 && longest < 3, "\(node): \(times.count) messages while edge2 was down, longest pause \(longest) s")
        }
        // Messages from all three nodes, the proxy's own status included; the filtered
        // subscriber got exactly its topic.
        #expect(Set(all.map(\.node)) == ["edge1", "edge2", "edge3", "agg"])
        #expect(all.contains { $0.topic == "proxy.agg" })
        let filtered = only2.messages
        #expect(filtered.count >= 10 && filtered.allSatisfy { $0.topic == "regions.cam-edge2" }, "\(Set(filtered.map(\.topic)))")

        // Unauthorized subscribers: nothing received, every attempt counted.
        #expect(stranger.lineCount == 0 && plain.lineCount == 0)
        let metrics = scrape(mp, dir: dir)
        #expect(metricValue(metrics, "regionspotd_curve_refused_total{socket=\"proxy\",reason=\"unknown_key\"}") >= 1, "\(metrics)")
        #expect(metricValue(metrics, "regionspotd_curve_refused_total{socket=\"proxy\",reason=\"handshake\"}") >= 1)
        #expect(metricValue(metrics, "regionspotd_proxy_messages_total{side=\"frontend\",direction=\"in\"}") >= Double(all.count - 50))

        // SIGTERM: the proxy terminates its loop and exits 0.
        proxy.signal(SIGTERM)
        #expect(proxy.wait(timeout: 10) == 0, "proxy: \(proxy.stderr)")
        #expect(proxy.stderr.contains("proxy stopped"))
        for key in ["proxy", "edge1", "reader"] {
            let secret = try String(contentsOfFile: dir.file("\(key).key"), encoding: .utf8).split(separator: "\n").last.map(String.init) ?? "?"
            #expect(!proxy.stderr.contains(secret) && !daemons["edge1"]!.stderr.contains(secret))
        }
    }
}
