// `regionspotd proxy` as systemd runs it (READY, WATCHDOG while the loop answers, STATUS,
// STOPPING on SIGTERM, exit 0) and its own status topic; the daemon's publisher as a
// CURVE server. Real sockets, python3-zmq peers, the schemas checked by python3-jsonschema.
import Foundation
import Testing
@testable import Daemon

#if canImport(Glibc)
import Glibc
#endif

@Suite("Proxy service and CURVE publisher")
struct ProxyServiceTests {
    @Test("proxy under systemd's protocol: READY=1, WATCHDOG=1, STATUS= counts, proxy.<node> messages valid and in seq; SIGTERM -> STOPPING=1, exit 0")
    func systemdProtocol() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let sock = try NotifySocket(path: dir.file("notify.sock"))
        let fe = freePort(), be = freePort()
        let proxy = try Child(binary, ["proxy", "--frontend", "tcp://127.0.0.1:\(fe)", "--backend", "tcp://127.0.0.1:\(be)", "--node", "agg-1",
                                       "--status-interval", "0.3"],
                              env: ["NOTIFY_SOCKET": sock.address, "WATCHDOG_USEC": "1000000"], dir: dir, name: "proxy")
        defer { proxy.stop() }
        let first = sock.collect(timeout: 10) { $0.contains { $0.hasPrefix("READY=1") } }
        #expect(first.last == "READY=1\nSTATUS=forwarding tcp://127.0.0.1:\(fe) -> tcp://127.0.0.1:\(be)", "\(first) \(proxy.stderr)")
        let sub = try FanInSubscriber("tcp://127.0.0.1:\(be)", dir: dir, name: "sub")  // everything: regions pass the publisher
        defer { sub.stop() }
        // A publisher through the frontend: its messages are counted on the way.
        let pub = try Publisher(options: .init(endpoints: [], connect: [ConnectEndpoint(endpoint: "tcp://127.0.0.1:\(fe)")], node: "edge"))
        defer { pub.close() }
        let running = sock.collect(timeout: 2.5) { _ in false }
        for i in 0..<20 { try pub.publish(Samples.regions(frame: i)) }
        #expect(running.filter { $0 == "WATCHDOG=1" }.count >= 2, "\(running)")
        #expect(running.contains { $0.hasPrefix("STATUS=") && $0.contains("messages in") }, "\(running)")
        #expect(eventually(10) { sub.messages.filter { $0.topic.hasPrefix("proxy.") }.count >= 5 })
        #expect(eventually(10) { sub.messages.filter { $0.topic == "regions.cam1" }.count == 20 })
        let got = sub.messages.filter { $0.topic.hasPrefix("proxy.") }
        #expect(got.allSatisfy { $0.topic == "proxy.agg-1" && $0.node == "agg-1" })
        let seqs = got.map(\.seq)
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $1 == $0 + 1 }, "\(seqs)")

        // The payloads validate against schema/proxy.schema.json and count what passed.
        let raw = try Subscriber(endpoint: "tcp://127.0.0.1:\(be)", topics: ["proxy."])
        defer { raw.close() }
        var docs: [(schema: String, json: String)] = []
        var last: [String: Any] = [:]
        let end = Date().addingTimeInterval(10)
        while docs.count < 3 && Date() < end {
            guard let (_, payload) = raw.receive(timeoutMilliseconds: 500) else { continue }
            docs.append(("proxy.schema.json", String(decoding: payload, as: UTF8.self)))
            last = (try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any]) ?? [:]
        }
        #expect(try SchemaCheck.validate(docs, dir: dir).allSatisfy { $0 == nil })
        let totals = try #require(last["totals"] as? [String: Any])
        #expect(((totals["frontend_messages"] as? NSNumber)?.intValue ?? 0) >= 20, "\(totals)")
        #expect(((totals["subscriptions"] as? NSNumber)?.intValue ?? 0) >= 2, "\(totals)")  // "" and "proxy."

        proxy.signal(SIGTERM)
        let stopping = sock.collect(timeout: 5) { $0.contains { $0.hasPrefix("STOPPING=1") } }
        #expect(stopping.contains { $0.hasPrefix("STOPPING=1") }, "\(stopping)")
        #expect(proxy.wait(timeout: 10) == 0, "\(proxy.stderr)")
    }

    @Test("the daemon's publisher with CURVE: an authorized subscriber gets stamped messages, an unknown key and a plain client get nothing and are counted")
    func curvePublisher() throws {
        let dir = TempDir()
        defer { dir.remove() }
        try makeKeys(["node", "reader", "stranger"], authorized: ["reader"], in: dir)
        let metrics = MetricsRegistry()
        let pub = try Publisher(options: .init(endpoints: ["tcp://127.0.0.1:*"], node: "n1",
                                               curve: CurveConfig(secretKey: dir.file("node.key"), authorizedKeys: dir.file("auth"))),
                                metrics: PublisherMetrics(registry: metrics))
        defer { pub.close() }
        let ep = pub.boundEndpoints[0]
        let reader = try FanInSubscriber(ep, dir: dir, name: "reader", serverKey: dir.file("node.pub"), secretKey: dir.file("reader.key"))
        defer { reader.stop() }
        let stranger = try FanInSubscriber(ep, dir: dir, name: "stranger", serverKey: dir.file("node.pub"), secretKey: dir.file("stranger.key"))
        defer { stranger.stop() }
        let plain = try FanInSubscriber(ep, dir: dir, name: "plain")
        defer { plain.stop() }
        var frame = 0
        #expect(eventually(15) {
            try? pub.publish(Samples.regions(frame: frame))
            frame += 1
            return reader.messages.count >= 10
        })
        #expect(reader.messages.allSatisfy { $0.node == "n1" && $0.session == Origin.session })
        #expect(stranger.lineCount == 0 && plain.lineCount == 0)
        let zap = try #require(pub.zap)
        #expect(zap.accepted >= 1 && zap.refused.unknownKey >= 1 && zap.refused.handshake >= 1, "\(zap.refused)")
        #expect(metrics.render().contains("regionspotd_curve_refused_total{socket=\"publisher\",reason=\"unknown_key\"}"))
    }
}
