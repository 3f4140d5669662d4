// Node/session/seq, connecting publishers and CURVE, piece by piece with real sockets and
// python3-zmq peers; the end-to-end fan-in is FanInTests.swift.
import Foundation
import Logging
import Testing
@testable import Daemon

#if canImport(Glibc)
import Glibc
#endif

@Suite("Sequence numbers, connecting publishers, CURVE")
struct CurveTests {
    @Test("SequenceTracker: joining mid-stream is no gap; a jump is a gap of the right size; a new session is one restart per node")
    func tracker() {
        var t = SequenceTracker()
        #expect(t.observe(topic: "regions.a", node: "n1", session: "s1", seq: 41).isEmpty)
        #expect(t.observe(topic: "regions.a", node: "n1", session: "s1", seq: 42).isEmpty)
        #expect(t.observe(topic: "status.a", node: "n1", session: "s1", seq: 7).isEmpty)
        #expect(t.observe(topic: "regions.a", node: "n1", session: "s1", seq: 45) == [.gap(topic: "regions.a", node: "n1", first: 43, missing: 2)])
        #expect(t.observe(topic: "regions.a", node: "n1", session: "s1", seq: 45) == [.backwards(topic: "regions.a", node: "n1", seq: 45, expected: 46)])
        #expect(t.observe(topic: "regions.b", node: "n2", session: "s9", seq: 0).isEmpty)
        #expect(t.observe(topic: "regions.a", node: "n1", session: "s2", seq: 0) == [.restart(node: "n1", from: "s1", to: "s2")])
        #expect(t.observe(topic: "status.a", node: "n1", session: "s2", seq: 0).isEmpty)  // one restart per node, seq starts again
        #expect(t.observe(topic: "regions.a", node: "n1", session: "s2", seq: 1).isEmpty)
        #expect(t.restarts == 1 && t.missing == 2)
        #expect(SequenceTracker.Event.gap(topic: "regions.a", node: "n1", first: 43, missing: 2).description
                == "-- gap: regions.a from n1: 2 messages missing (seq 43...44)")
    }

    @Test("a publisher that connects: a python3-zmq SUB that binds receives node, this session and seq 0, 1, 2 ... per topic")
    func connectingPublisher() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let port = freePort()
        let out = dir.file("sub.jsonl")
        let script = dir.write("bindsub.py", """
            import json, sys, zmq
            s = zmq.Context().socket(zmq.SUB); s.setsockopt(zmq.SUBSCRIBE, b""); s.bind(sys.argv[1])
            print("bound", flush=True)
            with open(sys.argv[2], "a", buffering=1) as f:
                while True:
                    t, p = s.recv_multipart(); d = json.loads(p)
                    f.write(json.dumps([t.decode(), d["node"], d["session"], d["seq"], d["schema"]]) + "\\n")
            """)
        let sub = try Child(Repo.python, [script, "tcp://127.0.0.1:\(port)", out], dir: dir, name: "bindsub")
        defer { sub.stop() }
        #expect(eventually(10) { sub.stdout.contains("bound") })
        let pub = try Publisher(options: .init(endpoints: [], connect: [ConnectEndpoint(endpoint: "tcp://127.0.0.1:\(port)")], node: "edge-7"))
        defer { pub.close() }
        #expect(pub.boundEndpoints.isEmpty)
        func lines() -> [[Any]] {
            ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [Any]
            }
        }
        usleep(300_000)  // the connection (a connecting PUB queues until then)
        for i in 0..<30 {
            try pub.publish(Samples.regions(frame: i))
            if i % 3 == 0 { try pub.publish(Samples.track(stream: "cam2")) }
        }
        #expect(eventually(10) { lines().count == 40 }, "\(lines().count) received")
        let got = lines()
        let regions = got.filter { $0[0] as? String == "regions.cam1" }.compactMap { $0[3] as? Int }
        let tracks = got.filter { $0[0] as? String == "tracks.cam2" }.compactMap { $0[3] as? Int }
        #expect(regions == Array(0..<30))
        #expect(tracks == Array(0..<10))
        #expect(got.allSatisfy { $0[1] as? String == "edge-7" && $0[2] as? String == Origin.session })
        #expect(Origin.session.count == 16 && Origin.session.allSatisfy(\.isHexDigit))
        #expect(Set(got.compactMap { $0[4] as? String }) == [SchemaVersion.regions, SchemaVersion.tracks])
    }

    @Test("messages the publisher's own queue drops are gaps in seq: the subscriber's missing count equals the queue_full counter")
    func queueDropsAreGaps() throws {
        let pub = try Publisher(options: .init(endpoints: ["tcp://127.0.0.1:*"], sendHighWaterMark: 100_000, queueCapacity: 8, node: "n"))
        defer { pub.close() }
        let sub = try Subscriber(endpoint: pub.boundEndpoints[0], topics: ["regions.", "warm"], receiveHighWaterMark: 100_000)
        defer { sub.close() }
        var warm = 0
        while sub.receive(timeoutMilliseconds: 20) == nil && warm < 250 { pub.publish(topic: "warm", payload: []); warm += 1 }
        while sub.receive(timeoutMilliseconds: 100) != nil {}
        let n = 3000
        for i in 0..<n { try pub.publish(Samples.regions(frame: i)) }
        while pub.stats.queued > 0 { usleep(10_000) }
        var tracker = SequenceTracker()
        var seqs: [UInt64] = []
        while let (topic, payload) = sub.receive(timeoutMilliseconds: 1000) {
            guard let o = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] else { continue }
            _ = tracker.observe(topic: topic, json: o)
            seqs.append((o["seq"] as? NSNumber)?.uint64Value ?? .max)
        }
        let dropped = pub.stats.droppedQueueFull
        #expect(dropped > 0, "the queue of 8 never overflowed; the test shows nothing")
        #expect(UInt64(seqs.count) + dropped == UInt64(n))
        // Whatever was dropped before the first or after the last received message is no gap.
        let edges = (seqs.first ?? 0) + (UInt64(n - 1) - (seqs.last ?? 0))
        #expect(tracker.missing + edges == dropped)
        #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count)
    }

    @Test("keygen: NAME.key mode 0600 and NAME.pub, a keypair python3-zmq agrees with; never overwritten, no key on stdout")
    func keygen() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let r = try Child.run(binary, ["keygen", dir.file("edge1")], dir: dir)
        #expect(r.status == 0, "\(r.stderr)")
        var st = stat()
        #expect(stat(dir.file("edge1.key"), &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(stat(dir.file("edge1.pub"), &st) == 0 && st.st_mode & 0o777 == 0o644)
        let keys = try CurveKeys.load(secretKeyFile: dir.file("edge1.key"))
        #expect(try Curve.readPublicKey(dir.file("edge1.pub")) == keys.publicKey)
        let check = try Child.run(Repo.python, ["-c", """
            import sys, zmq
            key = lambda p: [l.strip() for l in open(p) if l.strip() and not l.startswith("#")][0].encode()
            print(zmq.curve_public(key(sys.argv[1])) == key(sys.argv[2]))
            """, dir.file("edge1.key"), dir.file("edge1.pub")], dir: dir)
        #expect(check.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "True", "\(check.stderr)")
        #expect(!r.stdout.contains(keys.publicKey) && !r.stdout.contains(keys.secret))
        let again = try Child.run(binary, ["keygen", dir.file("edge1")], dir: dir)
        #expect(again.status == 1 && again.stderr.contains("edge1.key exists"))
        #expect(try CurveKeys.load(secretKeyFile: dir.file("edge1.key")).secret == keys.secret)
        chmod(dir.file("edge1.key"), 0o640)
        let e = try #require(throws: CurveError.self) { try CurveKeys.load(secretKeyFile: dir.file("edge1.key")) }
        #expect(e.description.contains("edge1.key may be read by group or others") && !e.description.contains(keys.secret))
    }

    @Test("external_boxes with CURVE: an unknown client's boxes never arrive and it is counted; an authorized one's do")
    func externalBoxes() throws {
        let dir = TempDir()
        defer { dir.remove() }
        try makeKeys(["server", "friend", "stranger"], authorized: ["friend"], in: dir)
        let registry = MetricsRegistry()
        let inbox = ExternalBoxInbox(capacityPerStream: 100)
        let rx = try ExternalBoxReceiver(endpoint: "tcp://127.0.0.1:*", curve: CurveConfig(secretKey: dir.file("server.key"), authorizedKeys: dir.file("auth")),
                                         inbox: inbox, knownStreams: { ["cam1"] }, metrics: registry,
                                         logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        defer { rx.close() }
        let script = dir.write("push.py", """
            import json, sys, time, zmq
            key = lambda p: [l.strip() for l in open(p) if l.strip() and not l.startswith("#")][0].encode()
            s = zmq.Context().socket(zmq.PUSH)
            if len(sys.argv) > 3:
                s.curve_serverkey = key(sys.argv[2]); sec = key(sys.argv[3])
                s.curve_secretkey = sec; s.curve_publickey = zmq.curve_public(sec)
            s.connect(sys.argv[1])
            for i in range(5):
                try: s.send(json.dumps({"schema": "regionspotd/external-boxes/1", "stream": "cam1", "frame": i, "boxes": []}).encode(), zmq.NOBLOCK)
                except zmq.Again: pass
                time.sleep(0.2)
            """)
        let ep = rx.boundEndpoint
        for (who, args) in [("stranger", [dir.file("server.pub"), dir.file("stranger.key")]), ("nokey", [])] {
            let r = try Child.run(Repo.python, [script, ep] + args, dir: dir, timeout: 20)
            #expect(r.status == 0, "\(who): \(r.stderr)")
        }
        #expect(rx.counts.accepted == 0 && inbox.count(stream: "cam1") == 0)
        #expect(eventually(5) { rx.zap!.refused.unknownKey >= 1 && rx.zap!.refused.handshake >= 1 }, "\(rx.zap!.refused)")
        let text = registry.render()
        #expect(text.contains("regionspotd_curve_refused_total{socket=\"external_boxes\",reason=\"unknown_key\"}"))
        let ok = try Child.run(Repo.python, [script, ep, dir.file("server.pub"), dir.file("friend.key")], dir: dir, timeout: 20)
        #expect(ok.status == 0)
        #expect(eventually(5) { rx.counts.accepted >= 3 }, "accepted \(rx.counts.accepted)")
        #expect(rx.zap!.accepted >= 1)
    }

    /// A python3-zmq XPUB that waits for a subscriber, then sends regions.cam1 from node n1:
    /// seq 0-4 and 7 in session a..., then seq 0-1 in session b... (a CURVE server with a key file).
    static let gappyPublisher = """
        import json, sys, zmq
        s = zmq.Context().socket(zmq.XPUB)
        if len(sys.argv) > 2:
            s.curve_server = True
            s.curve_secretkey = [l.strip() for l in open(sys.argv[2]) if l.strip() and not l.startswith("#")][0].encode()
        s.bind(sys.argv[1]); print("bound", flush=True)
        s.recv()  # the subscription
        for session, seqs in (("a" * 16, [0, 1, 2, 3, 4, 7]), ("b" * 16, [0, 1])):
            for q in seqs:
                m = {"schema": "regionspotd/regions/2", "stream": "cam1", "frame": q, "pts": q / 10, "time": "2026-01-01T00:00:00.000000Z",
                     "keyframe": False, "inferred": False, "regions": [], "node": "n1", "session": session, "seq": q}
                s.send_multipart([b"regions.cam1", json.dumps(m).encode()])
        import time; time.sleep(5)
        """

    @Test("tail prints a line for a gap in seq and for a restart (new session), plainly and over CURVE", arguments: [false, true])
    func tailGapsAndRestarts(curve: Bool) throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let ep = "tcp://127.0.0.1:\(freePort())"
        if curve { try makeKeys(["server", "client"], in: dir) }
        let pub = try Child(Repo.python, [dir.write("gappy.py", Self.gappyPublisher), ep] + (curve ? [dir.file("server.key")] : []), dir: dir, name: "gappy")
        defer { pub.stop() }
        #expect(eventually(10) { pub.stdout.contains("bound") })
        let keys = curve ? ["--server-key", dir.file("server.pub"), "--secret-key", dir.file("client.key")] : []
        let r = try Child.run(binary, ["tail", ep, "--count", "8", "--timeout", "10"] + keys, dir: dir, timeout: 20)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("00:00:00.000 regions.cam1 frame") }.count == 8)
        #expect(lines.filter { $0.hasPrefix("--") } == [
            "-- gap: regions.cam1 from n1: 2 messages missing (seq 5...6)",
            "-- restart: node n1 session aaaaaaaaaaaaaaaa -> bbbbbbbbbbbbbbbb",
        ])
        // Each note stands right before the message that revealed it.
        let gapAt = try #require(lines.firstIndex { $0.hasPrefix("-- gap") })
        #expect(lines[gapAt + 1].contains("frame 7 "))
    }

    static let base = "models: {directory: /m}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\n"

    @Test("config: node, bind and connect entries, security.curve; what is missing or contradictory is named")
    func config() throws {
        let c = try ConfigLoader.parse(yaml: Self.base + """
            node: edge-1.site
            publisher:
              endpoints: ["tcp://127.0.0.1:5556", {bind: "ipc:///run/x.sock"}, {connect: "tcp://agg:5555", server_key: keys/agg.pub}]
            security: {curve: {secret_key: keys/edge1.key, authorized_keys: keys/authorized}}
            """, file: "/etc/r/x.yaml", checkFiles: false)
        #expect(c.nodeName == "edge-1.site")
        #expect(c.publisher.endpoints == ["tcp://127.0.0.1:5556", "ipc:///run/x.sock"])
        #expect(c.publisher.connect == [ConnectEndpoint(endpoint: "tcp://agg:5555", serverKey: "/etc/r/keys/agg.pub")])
        #expect(c.curve == CurveConfig(secretKey: "/etc/r/keys/edge1.key", authorizedKeys: "/etc/r/keys/authorized"))
        let d = try ConfigLoader.parse(yaml: Self.base, file: "/etc/x.yaml", checkFiles: false)
        #expect(d.node == nil && d.nodeName == Origin.hostName && d.curve == nil)
        // Who the daemon is and who may connect change only with a restart.
        #expect(ReloadPlan(from: d, to: c).needsRestart == ["publisher", "node", "security"])

        let e = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: Self.base + """
                node: "bad node"
                publisher:
                  endpoints: ["tcp://0.0.0.0:5556", {connect: "tcp://agg:*"}, {bind: "tcp://a:1", connect: "tcp://b:2"}, {connect: "tcp://agg:5555"}]
                security: {curve: {secret_key: k.key}}
                """, file: "/etc/x.yaml", checkFiles: false)
        }
        let text = e.description
        #expect(text.contains("node: 'bad node' must be 1-64 characters"))
        #expect(text.contains("publisher.endpoints[1].connect: a connect endpoint needs a port"))
        #expect(text.contains("publisher.endpoints[2]: needs exactly one of bind or connect"))
        #expect(text.contains("security.curve.authorized_keys: required"))
        #expect(text.contains("connect tcp://agg:5555 needs server_key"))
    }

    @Test("binding beyond the loopback without CURVE: check-config warns and names the endpoint; loopback and CURVE do not")
    func exposureWarning() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let open = dir.write("open.yaml", Self.base + "publisher: {endpoints: [\"tcp://0.0.0.0:5556\"]}\nexternal_boxes: {endpoint: \"tcp://*:5557\"}\n")
        let r = try Child.run(binary, ["check-config", "--no-files", open], dir: dir)
        #expect(r.status == 0)
        #expect(r.stdout.contains("warning: publisher endpoint tcp://0.0.0.0:5556 is reachable beyond this host without CURVE"))
        #expect(r.stdout.contains("warning: external_boxes endpoint tcp://*:5557 is reachable beyond this host without CURVE"))
        let local = dir.write("local.yaml", Self.base + "publisher: {endpoints: [\"tcp://127.0.0.1:5556\", \"ipc:///tmp/x\"]}\n")
        let l = try Child.run(binary, ["check-config", "--no-files", local], dir: dir)
        #expect(l.status == 0 && !l.stdout.contains("warning"), "\(l.stdout)")
        #expect(SecurityAdvice.isLocal("tcp://[::1]:5556") && !SecurityAdvice.isLocal("tcp://10.0.0.5:5556"))
        // A secret key file others may read is a problem naming the file (never the key).
        try makeKeys(["k"], in: dir)
        chmod(dir.file("k.key"), 0o644)
        let curve = dir.write("curve.yaml", "models: {directory: \(dir.path)}\nvocabulary: [person]\nstreams: [{id: a, url: \"rtsp://h/x\"}]\n"
            + "publisher: {endpoints: [\"tcp://0.0.0.0:5556\"]}\nsecurity: {curve: {secret_key: k.key, authorized_keys: auth}}\n")
        let c = try Child.run(binary, ["check-config", curve], dir: dir)
        #expect(c.status == 78 && c.stderr.contains("k.key may be read by group or others"), "\(c.stderr)")
        chmod(dir.file("k.key"), 0o600)
        let empty = try Child.run(binary, ["check-config", curve], dir: dir)
        #expect(empty.status == 0 && empty.stdout.contains("warning: security.curve.authorized_keys \(dir.file("auth")) holds no *.pub file"), "\(empty.stdout)")
        try FileManager.default.copyItem(atPath: dir.file("k.pub"), toPath: dir.file("auth/k.pub"))
        let ok = try Child.run(binary, ["check-config", curve], dir: dir)
        #expect(ok.status == 0 && !ok.stdout.contains("warning") && ok.stdout.contains("CURVE: secret key"), "\(ok.stdout) \(ok.stderr)")
        // The daemon warns at start too (the service shell, `idle`, binds like `run`).
        let port = freePort()
        let exposed = dir.write("idle.yaml", Self.base + "publisher: {endpoints: [\"tcp://0.0.0.0:\(port)\"]}\n")
        let idle = try Child(binary, ["idle", "--config", exposed], dir: dir, name: "idle")
        defer { idle.stop() }
        #expect(eventually(20) { idle.stderr.contains("ready") }, "\(idle.stderr)")
        #expect(idle.stderr.contains("publisher endpoint tcp://0.0.0.0:\(port) is reachable beyond this host without CURVE"))
    }
}
