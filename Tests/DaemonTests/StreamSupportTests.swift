import Foundation
import Logging
import Testing
@testable import Daemon

@Suite("Stream status, throttle, external boxes")
struct StreamSupportTests {
    @Test("status: one message per state change, rates from counter deltas")
    func status() throws {
        let registry = MetricsRegistry()
        let pub = try Publisher(options: .init(endpoints: ["tcp://127.0.0.1:*"]), metrics: PublisherMetrics(registry: registry))
        defer { pub.close() }
        let sub = try Subscriber(endpoint: pub.boundEndpoints[0], topics: ["status.cam1"])
        defer { sub.close() }
        let st = StreamStatus(stream: "cam1", metrics: StreamMetrics(registry: registry, stream: "cam1"), registry: registry, publisher: pub)
        // Wait for the subscription: probe with state changes until one arrives.
        var probe = 0
        repeat {
            st.set(.connecting, reason: "probe \(probe)")
            probe += 1
        } while sub.receive(timeoutMilliseconds: 50) == nil && probe < 100
        while sub.receive(timeoutMilliseconds: 50) != nil {}

        st.set(.streaming)
        st.set(.streaming)  // unchanged: not published again
        st.set(.reconnecting, reason: "EOF from rtsp://u:pw@cam/x")
        st.metrics.framesDecoded.inc(50)
        st.recognized(latency: 0.25)
        st.metrics.liveTracks.set(2)
        st.metrics.keyframeRan(.newMotion); st.metrics.keyframeRan(.maxInterval)
        st.metrics.keyframesRested.inc(3)
        usleep(100_000)
        let rates = st.publishRates()
        #expect(rates.decodedFPS > 50 && rates.decodedFPS < 600)
        #expect(rates.recognitionLatency == 0.25)
        #expect(rates.liveTracks == 2)
        #expect(rates.encoderRuns == 2 && rates.encoderRests == 3)
        #expect(st.publishRates().encoderRuns == 0)  // per interval: deltas of the counters
        var got: [[String: Any]] = []
        while let (_, payload) = sub.receive(timeoutMilliseconds: 500) {
            got.append(try JSONSerialization.jsonObject(with: Data(payload)) as! [String: Any])
            if got.count == 3 { break }
        }
        #expect(got.map { $0["event"] as? String } == ["state", "state", "rates"])
        #expect((got[2]["rates"] as? [String: Any])?["encoder_runs"] as? Int == 2)
        #expect(got.map { $0["state"] as? String } == ["streaming", "reconnecting", "reconnecting"])
        #expect(got[1]["reason"] as? String == "EOF from rtsp://***@cam/x")
        #expect(st.summary == "cam1 reconnecting")
        #expect(registry.render().contains("regionspotd_recognitions_total{stream=\"cam1\"} 1"))
    }

    @Test("publish_rate throttle works in stream time; recognized frames always pass")
    func throttle() {
        var t = RegionsThrottle(maxPerSecond: 2)
        let frames = (0..<25).map { Double($0) / 10 }  // 10 fps for 2.5 s
        let passed = frames.filter { t.shouldPublish(streamTime: $0, inferred: false) }
        #expect(passed == [0, 0.5, 1.0, 1.5, 2.0])
        let a = t.shouldPublish(streamTime: 2.1, inferred: true)
        let b = t.shouldPublish(streamTime: 2.2, inferred: false)
        let c = t.shouldPublish(streamTime: 2.6, inferred: false)
        #expect([a, b, c] == [true, false, true])
        var all = RegionsThrottle(maxPerSecond: 0)
        let everyFrame = frames.filter { all.shouldPublish(streamTime: $0, inferred: false) }
        #expect(everyFrame == frames)
    }

    @Test("inbox: bounded per stream, boxes due at or before the keyframe are taken")
    func inbox() {
        let inbox = ExternalBoxInbox(capacityPerStream: 3)
        func m(_ frame: Int?, _ pts: Double?, _ stream: String = "a") -> ExternalBoxes {
            ExternalBoxes(schema: SchemaVersion.externalBoxes, stream: stream, frame: frame, pts: pts, boxes: [])
        }
        inbox.put(m(10, nil))
        inbox.put(m(nil, 2.0))
        inbox.put(m(30, nil))
        inbox.put(m(5, nil, "b"))
        #expect(inbox.take(stream: "a", frame: 20, pts: 1.0).map(\.frame) == [10])
        #expect(inbox.take(stream: "a", frame: 25, pts: 2.0).map(\.pts) == [2.0])
        #expect(inbox.count(stream: "a") == 1)
        for f in 40..<44 { inbox.put(m(f, nil)) }
        #expect(inbox.droppedCount == 2)
        #expect(inbox.take(stream: "a", frame: 100, pts: 9).map(\.frame) == [41, 42, 43])
        #expect(inbox.take(stream: "b", frame: 5, pts: 0).count == 1)
    }

    @Test("external boxes from a real PUSH client reach the inbox; a malformed flood is counted, not fatal")
    func receiver() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let registry = MetricsRegistry()
        let inbox = ExternalBoxInbox(capacityPerStream: 64)
        let logs = LogSink.capture()
        let logger = Logger(label: "t") { JournalLogHandler(label: $0, sink: logs) }
        let rx = try ExternalBoxReceiver(endpoint: "tcp://127.0.0.1:*", inbox: inbox, knownStreams: { ["cam1"] },
                                         metrics: registry, logger: logger)
        defer { rx.close() }
        let script = dir.write("push.py", """
            import json, sys, zmq
            ctx = zmq.Context(); s = ctx.socket(zmq.PUSH); s.connect(sys.argv[1])
            for i in range(2000):
                s.send(b"\\xff garbage" if i % 2 else json.dumps({"schema": "regionspotd/external-boxes/1", "stream": "nope", "frame": i, "boxes": []}).encode())
            s.send(json.dumps({"schema": "regionspotd/external-boxes/1", "stream": "cam1", "frame": 7,
                               "boxes": [{"box": [1, 2, 30, 40], "label": "car", "score": 0.9}]}).encode())
            s.send_multipart([b"cam1", json.dumps({"schema": "regionspotd/external-boxes/1", "stream": "cam1", "pts": 1.5,
                                                   "boxes": [{"box": [5, 5, 6, 6]}]}).encode()])
            s.close(linger=5000); ctx.term()
            """)
        let push = try Child.run(Repo.python, [script, rx.boundEndpoint], dir: dir)
        #expect(push.status == 0, "\(push.stderr)")
        let end = Date().addingTimeInterval(10)
        while rx.counts.accepted < 2 && Date() < end { usleep(20_000) }
        #expect(rx.counts.accepted == 2)
        #expect(rx.counts.malformed == 2000)
        let due = inbox.take(stream: "cam1", frame: 100, pts: 10)
        #expect(due.count == 2)
        #expect(due.first?.boxes.first == ExternalBox(box: [1, 2, 30, 40], label: "car", score: 0.9, id: nil))
        #expect(logs.lines.count == 1)  // rate-limited
        #expect(logs.lines.first?.contains("external boxes: 1 malformed message ignored") == true)
        #expect(registry.render().contains("regionspotd_external_messages_total{result=\"malformed\"} 2000"))
    }
}
