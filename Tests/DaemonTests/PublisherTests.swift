import Foundation
import Testing
@testable import Daemon

@Suite("ZeroMQ publisher")
struct PublisherTests {
    static let subscriberScript = """
        import json, sys, time, zmq, jsonschema
        endpoint, schema_dir = sys.argv[1], sys.argv[2]
        validators = {k: jsonschema.Draft202012Validator(json.load(open(f"{schema_dir}/{k}.schema.json")))
                      for k in ("regions", "tracks", "status")}
        ctx = zmq.Context()
        everything = ctx.socket(zmq.SUB); everything.setsockopt(zmq.SUBSCRIBE, b""); everything.connect(endpoint)
        only = ctx.socket(zmq.SUB); only.setsockopt(zmq.SUBSCRIBE, b"tracks.cam2"); only.connect(endpoint)
        need = {"regions": 3, "tracks": 3, "status": 3}
        counts = {k: 0 for k in need}
        filtered = []
        deadline = time.time() + 20
        poller = zmq.Poller(); poller.register(everything, zmq.POLLIN); poller.register(only, zmq.POLLIN)
        while time.time() < deadline and (any(counts[k] < need[k] for k in need) or len(filtered) < 2):
            for sock, _ in poller.poll(200):
                parts = sock.recv_multipart()
                topic = parts[0].decode()
                if sock is only:
                    filtered.append(topic); continue
                kind = topic.split(".")[0]
                doc = json.loads(parts[1])
                errors = [e.message for e in validators[kind].iter_errors(doc)]
                counts[kind] += 1
                print(json.dumps({"topic": topic, "parts": len(parts), "stream": doc.get("stream"), "errors": errors}), flush=True)
        print(json.dumps({"filtered": filtered}), flush=True)
        """

    @Test("a python3-zmq subscriber receives [topic, JSON] messages that validate against the schemas")
    func pythonSubscriber() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let pub = try Publisher(options: .init(endpoints: ["tcp://127.0.0.1:*"]))
        defer { pub.close() }
        let endpoint = try #require(pub.boundEndpoints.first)
        #expect(endpoint.hasPrefix("tcp://127.0.0.1:") && !endpoint.hasSuffix(":*"))
        let script = dir.write("sub.py", Self.subscriberScript)
        let child = try Child(Repo.python, [script, endpoint, Repo.root.appendingPathComponent("schema").path], dir: dir, name: "sub")
        defer { child.stop() }
        // PUB/SUB has no delivery before the subscription arrives: publish until the subscriber is satisfied.
        var frame = 0
        let end = Date().addingTimeInterval(20)
        while child.process.isRunning && Date() < end {
            try pub.publish(Samples.regions(frame: 100 + frame))
            try pub.publish(Samples.track(stream: frame % 2 == 0 ? "cam1" : "cam2"))
            for s in Samples.status() { try pub.publish(s) }
            frame += 1
            usleep(20_000)
        }
        #expect(child.wait(timeout: 5) == 0, "subscriber: \(child.stderr)")
        let lines = child.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let received = lines.filter { $0["topic"] != nil }
        #expect(received.count >= 9)
        for r in received {
            #expect((r["errors"] as? [String])?.isEmpty == true, "\(r)")
            #expect(r["parts"] as? Int == 2)
            let topic = r["topic"] as! String
            #expect(topic.hasSuffix("." + (r["stream"] as! String)))
        }
        let kinds = Set(received.map { ($0["topic"] as! String).split(separator: ".")[0] })
        #expect(kinds == ["regions", "tracks", "status"])
        let filtered = try #require(lines.last?["filtered"] as? [String])
        #expect(filtered.count >= 2)
        #expect(filtered.allSatisfy { $0 == "tracks.cam2" })
        #expect(pub.stats.dropped == 0)
    }

    @Test("regionspotd tail prints one line per message, or the raw JSON")
    func tail() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let pub = try Publisher(options: .init(endpoints: ["tcp://127.0.0.1:*"]))
        defer { pub.close() }
        let ep = pub.boundEndpoints[0]
        let pretty = try Child(binary, ["tail", ep, "--topic", "regions.", "--topic", "status.", "--count", "12", "--timeout", "20"], dir: dir, name: "pretty")
        defer { pretty.stop() }
        let raw = try Child(binary, ["tail", ep, "--topic", "tracks.cam1", "--raw", "--count", "1"], dir: dir, name: "raw")
        defer { raw.stop() }
        let end = Date().addingTimeInterval(20)
        while (pretty.process.isRunning || raw.process.isRunning) && Date() < end {
            try pub.publish(Samples.regions())
            try pub.publish(Samples.track())
            for s in Samples.status() { try pub.publish(s) }
            usleep(50_000)
        }
        #expect(pretty.wait(timeout: 2) == 0)
        #expect(raw.wait(timeout: 2) == 0)
        let lines = pretty.stdout.split(separator: "\n").map(String.init)
        // tail's two subscriptions reach the publisher one after the other: with one regions and four
        // status messages a round, twelve lines hold at least one regions line whichever lands first.
        #expect(lines.count == 12)
        #expect(lines.contains("11:06:40.250 regions.cam1 frame 120 pts 4.800 [inferred] 2 regions: #7 person 0.91 [10,20,110,220] tracked; #9 car 0.00 [300,40,420,200] motion age 1.0s"))
        #expect(lines.contains("11:06:40.250 status.cam1 reconnecting: EOF from rtsp://***@cam/live"))
        #expect(lines.contains("11:06:40.250 status.cam1 streaming: 25.0 fps decoded, 24.9 published, 0.50 recognitions/s, latency 0.300 s, 3 tracks, 1 skipped, 0 dropped, encoders ran 0 / rested 0"))
        #expect(!lines.contains { $0.contains("tracks.") })
        // The JSON as published: the message stamped with node, session and its seq.
        var got = try JSONDecoder().decode(TrackMessage.self, from: Data(raw.stdout.utf8))
        #expect(raw.stdout.hasSuffix("}\n") && raw.stdout.split(separator: "\n").count == 1)
        #expect(got.node == Origin.hostName && got.session == Origin.session && got.seq != nil)
        #expect(raw.stdout == String(decoding: try MessageCoding.encode(got), as: UTF8.self) + "\n")
        got.node = nil; got.session = nil; got.seq = nil
        #expect(got == Samples.track())
    }

    /// A subscriber that connects and never reads.
    static let stuckScript = """
        import sys, time, zmq
        ctx = zmq.Context(); s = ctx.socket(zmq.SUB)
        s.setsockopt(zmq.RCVHWM, 10); s.setsockopt(zmq.RCVBUF, 4096); s.setsockopt(zmq.SUBSCRIBE, b"")
        s.connect(sys.argv[1]); print("connected", flush=True); time.sleep(60)
        """

    @Test("a subscriber that never reads: memory stays flat, every message is published or counted as dropped")
    func stuckSubscriberNodrop() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let metrics = MetricsRegistry()
        let pub = try Publisher(options: .init(endpoints: ["tcp://127.0.0.1:*"], sendHighWaterMark: 50, queueCapacity: 256, nodrop: true),
                                metrics: PublisherMetrics(registry: metrics))
        let stuck = try Child(Repo.python, [dir.write("stuck.py", Self.stuckScript), pub.boundEndpoints[0]], dir: dir, name: "stuck")
        defer { stuck.stop() }
        let payload = [UInt8](repeating: UInt8(ascii: "x"), count: 16 * 1024)
        var attempted: UInt64 = 0
        func flood(_ seconds: Double) {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                for _ in 0..<200 { pub.publish(topic: "regions.cam1", payload: payload); attempted += 1 }
                usleep(1000)
            }
        }
        while stuck.stdout.isEmpty && stuck.process.isRunning { usleep(20_000) }
        usleep(300_000)
        flood(1.0)  // fill the socket buffers and the HWM
        let before = try #require(residentMemoryBytes())
        let droppedBefore = pub.stats.dropped
        flood(2.5)
        let after = try #require(residentMemoryBytes())
        let s = pub.stats
        #expect(s.droppedHWM > 1000, "\(s)")
        #expect(s.dropped > droppedBefore + 1000)
        // 2.5 s of flooding offers several hundred MB; the daemon must keep none of it.
        #expect(after - before < 48 << 20, "resident memory grew by \((after - before) >> 20) MB")
        #expect(pub.close(timeout: 5))
        let final = pub.stats
        #expect(final.published + final.dropped == attempted)
        let text = metrics.render()
        #expect(text.contains("regionspotd_messages_dropped_total{stream=\"cam1\",kind=\"regions\",reason=\"hwm\"} \(final.droppedHWM)"))
    }

    /// nodrop false (default): the stuck subscriber loses its own messages, the reader gets
    /// every one. nodrop true: the stuck subscriber at its HWM makes the reader miss
    /// messages too (which also proves the stuck one really was at its HWM).
    /// Deterministic: the stuck subscriber's pipe is filled first with a topic the reader
    /// does not subscribe to; then fewer messages than the HWM go to both, so the reader
    /// cannot lose any for its own slowness, however loaded the machine is.
    @Test("a stuck subscriber does not make a reading subscriber lose messages (unless nodrop)", arguments: [false, true])
    func stuckDoesNotStarveOthers(nodrop: Bool) throws {
        let dir = TempDir()
        defer { dir.remove() }
        let hwm: Int32 = 2000
        let pub = try Publisher(options: .init(endpoints: ["tcp://127.0.0.1:*"], sendHighWaterMark: hwm, nodrop: nodrop))
        defer { pub.close() }
        let ep = pub.boundEndpoints[0]
        let stuck = try Child(Repo.python, [dir.write("stuck.py", Self.stuckScript), ep], dir: dir, name: "stuck")
        defer { stuck.stop() }
        let reader = try Subscriber(endpoint: ep, topics: ["regions."], receiveHighWaterMark: 100_000)
        defer { reader.close() }
        while stuck.stdout.isEmpty && stuck.process.isRunning { usleep(20_000) }
        // Wait until both subscriptions are in place (the stuck one subscribes to everything).
        var warm = 0
        while reader.receive(timeoutMilliseconds: 20) == nil && warm < 250 {
            pub.publish(topic: "regions.warmup", payload: [])
            warm += 1
        }
        usleep(200_000)
        while reader.receive(timeoutMilliseconds: 100) != nil {}
        // Fill the stuck subscriber's pipe and socket buffers (4 KB x 20,000 = 80 MB offered).
        let payload = [UInt8](repeating: 0x41, count: 4096)
        for i in 0..<20_000 {
            pub.publish(topic: "fill.stuck", payload: payload)
            if i % 500 == 499 { usleep(2_000) }
        }
        while pub.stats.queued > 0 { usleep(10_000) }
        usleep(300_000)
        let droppedBefore = pub.stats.droppedHWM
        let count = Int(hwm) / 2
        for _ in 0..<count { pub.publish(topic: "regions.cam1", payload: payload) }
        var received = 0
        while received < count, reader.receive(timeoutMilliseconds: 1500) != nil { received += 1 }
        if nodrop {
            #expect(received == 0)
            #expect(pub.stats.droppedHWM - droppedBefore == UInt64(count))
        } else {
            #expect(received == count)
            #expect(pub.stats.droppedHWM == 0)  // lossy mode never refuses (queue_full drops may occur while filling)
        }
    }

    @Test("binding an endpoint in use fails naming it")
    func bindError() throws {
        let a = try Publisher(options: .init(endpoints: ["tcp://127.0.0.1:*"]))
        defer { a.close() }
        let ep = a.boundEndpoints[0]
        let e = try #require(throws: PublisherError.self) { try Publisher(options: .init(endpoints: [ep])) }
        #expect(e.description.contains("cannot bind publisher to \(ep)"))
        #expect(e.description.contains("in use"))
    }

    @Test("bounded queue keeps the newest (drop_oldest) in order")
    func ring() {
        var r = RingBuffer<Int>(capacity: 3)
        for i in 0..<3 { r.append(i) }
        #expect(r.isFull)
        #expect(r.popFirst() == 0)
        r.append(3)
        var out: [Int] = []
        r.drain(into: &out)
        #expect(out == [1, 2, 3])
        #expect(r.isEmpty)
    }
}
