// `regionspotd bench --filter stamped` (all three rows): messages per second through
// the publisher (stamped with node/session/seq and encoded under the topic's lock, or
// encoded unstamped as before sequence numbers) to a SUB socket in the same process, and
// through a `regionspotd proxy` loop (FanInProxy) on loopback TCP. The median ms of a row
// is the time for `count` messages, published and all received.
import Foundation

extension BenchCommand {
    func messagingRows(_ bench: Bench) {
        let names = ["publish_unstamped", "publish_stamped", "proxy_stamped"]
        guard names.contains(where: bench.wants) else { return }
        let count = quick ? 2000 : 10_000
        let message = Self.sampleRegions()
        for name in names where bench.wants(name) {
            do {
                try messagingRow(bench, name: name, count: count, message: message)
            } catch {
                bench.note(name, "skipped: \(error)")
            }
        }
    }

    private func messagingRow(_ bench: Bench, name: String, count: Int, message: RegionsMessage) throws {
        var proxy: FanInProxy?
        defer { proxy?.stop() }
        var options = Publisher.Options(endpoints: ["tcp://127.0.0.1:*"], sendHighWaterMark: 1_000_000, queueCapacity: count, node: "bench")
        var subscribeTo: String
        if name.hasPrefix("proxy") {
            let p = try FanInProxy(options: FanInProxy.Options(frontend: ["tcp://127.0.0.1:*"], backend: ["tcp://127.0.0.1:*"]))
            proxy = p
            options.endpoints = []
            options.connect = [ConnectEndpoint(endpoint: p.boundFrontend[0])]
            subscribeTo = p.boundBackend[0]
        } else {
            subscribeTo = ""
        }
        let pub = try Publisher(options: options)
        defer { pub.close(timeout: 1) }
        if subscribeTo.isEmpty { subscribeTo = pub.boundEndpoints[0] }
        let sub = try Subscriber(endpoint: subscribeTo, topics: ["regions.", "warm"], receiveHighWaterMark: 1_000_000)
        defer { sub.close() }
        // Until the subscription has reached the publisher (through the proxy if any).
        var warm = 0
        while sub.receive(timeoutMilliseconds: 20) == nil && warm < 500 { pub.publish(topic: "warm", payload: []); warm += 1 }
        while sub.receive(timeoutMilliseconds: 100) != nil {}
        let topic = Topic.regions(message.stream)
        var received = 0
        bench.row(name, reps: quick ? 2 : 5) {
            for _ in 0..<count {
                if name == "publish_unstamped" {
                    pub.publish(topic: topic, payload: (try? MessageCoding.encode(message)) ?? [])
                } else {
                    _ = try? pub.publish(message)
                }
            }
            received = 0
            while received < count, sub.receive(timeoutMilliseconds: 2000) != nil { received += 1 }
        }
        bench.note(name, "\(count) regions messages of \((try? MessageCoding.encode(message).count) ?? 0) bytes per rep, \(received) received in the last rep"
            + (name.hasPrefix("proxy") ? "; publisher -> proxy -> subscriber on loopback TCP" : "; publisher -> subscriber on loopback TCP"))
    }

    /// A regions message of typical size: three regions with top-3 labels.
    static func sampleRegions() -> RegionsMessage {
        let regions = (0..<3).map { i in
            RegionRecord(trackID: UInt64(i + 1), box: [Double(i) * 100, 50, Double(i) * 100 + 80, 210], label: "person", score: 0.9,
                         top: [LabelScore(label: "person", score: 0.9), LabelScore(label: "dog", score: 0.05), LabelScore(label: "car", score: 0.02)],
                         source: .tracked, inferredFrame: 100, labelAge: 0.4, recognizer: "regionspot")
        }
        return RegionsMessage(stream: "bench", frame: 110, pts: 4.4, time: 1_795_000_000, keyframe: false, inferred: false,
                              latency: 0.01, regions: regions)
    }
}
