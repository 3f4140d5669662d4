// `regionspotd tail`: a ZeroMQ SUB client that prints what the daemon publishes, with a
// line for every restart of a publisher (a new session) and every gap in a topic's seq.
import ArgumentParser
import CZMQ
import Decode
import Foundation

struct TailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tail",
        abstract: "Print what a running daemon publishes (one line per message, or raw JSON).")

    @Argument(help: "Publisher endpoint to connect to.") var endpoint = "tcp://127.0.0.1:5556"
    @Option(help: "Only topics starting with this prefix (repeatable), e.g. regions.cam1 or status.")
    var topic: [String] = []
    @Flag(help: "Print the JSON payload as published, one per line.") var raw = false
    @Option(help: "Exit after this many messages.") var count: Int?
    @Option(help: "Exit with status 1 if no message arrives for this many seconds.") var timeout: Double?
    @Option(help: "CURVE: the server's public key file (connect with encryption).") var serverKey: String?
    @Option(help: "CURVE: this client's secret key file (its public key must be authorized by the server).") var secretKey: String?

    func validate() throws {
        if (serverKey == nil) != (secretKey == nil) { throw ValidationError("--server-key and --secret-key go together") }
    }

    func run() async throws {
        let cmd = self
        try await onThread("tail") { try cmd.receive() }  // zmq_recv blocks
    }

    func receive() throws {
        var curve: (CurveKeys, String)?
        if let serverKey, let secretKey { curve = (try CurveKeys.load(secretKeyFile: secretKey), try Curve.readPublicKey(serverKey)) }
        let sub = try Subscriber(endpoint: endpoint, topics: topic, curve: curve)
        defer { sub.close() }
        var tracker = SequenceTracker()
        var received = 0
        var last = Date()
        while count.map({ received < $0 }) ?? true {
            guard let (t, payload) = sub.receive(timeoutMilliseconds: 200) else {
                if let timeout, Date().timeIntervalSince(last) > timeout {
                    FileHandle.standardError.write(Data("tail: nothing received from \(Redaction.redact(endpoint)) for \(timeout) s\n".utf8))
                    throw ExitCode(1)
                }
                continue
            }
            last = Date()
            received += 1
            let line = raw ? String(decoding: payload, as: UTF8.self) : TailFormat.line(topic: t, payload: payload)
            if let obj = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] {
                let notes = tracker.observe(topic: t, json: obj).map { "\($0)\n" }.joined()
                (raw ? FileHandle.standardError : FileHandle.standardOutput).write(Data(notes.utf8))
            }
            FileHandle.standardOutput.write(Data((line + "\n").utf8))  // unbuffered: one line per message
        }
    }
}

/// A SUB socket (used by `tail` and tests).
public final class Subscriber: @unchecked Sendable {
    private let context: UnsafeMutableRawPointer
    private let socket: UnsafeMutableRawPointer

    /// `curve`: this client's keys and the server's public key.
    public init(endpoint: String, topics: [String] = [], receiveHighWaterMark: Int32? = nil, curve: (CurveKeys, String)? = nil) throws {
        guard let ctx = zmq_ctx_new(), let sock = zmq_socket(ctx, ZMQ_SUB) else {
            throw PublisherError(description: "cannot create a ZeroMQ SUB socket: \(zmqError())")
        }
        context = ctx
        socket = sock
        try setOption(sock, ZMQ_LINGER, 0)
        if let hwm = receiveHighWaterMark { try setOption(sock, ZMQ_RCVHWM, hwm) }
        if endpoint.contains("[") { try setOption(sock, ZMQ_IPV6, 1) }
        if let (keys, server) = curve { try Curve.client(sock, keys, serverKey: server) }
        for t in topics.isEmpty ? [""] : topics {
            let bytes = Array(t.utf8)
            _ = bytes.withUnsafeBytes { zmq_setsockopt(sock, ZMQ_SUBSCRIBE, $0.baseAddress, $0.count) }
        }
        if zmq_connect(sock, endpoint) != 0 {
            let e = zmqError()
            close()
            throw PublisherError(description: "cannot connect to \(Redaction.redact(endpoint)): \(e)")
        }
    }

    /// The next [topic, payload] message, or nil after the timeout.
    public func receive(timeoutMilliseconds: Int) -> (String, [UInt8])? {
        var item = zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        guard zmq_poll(&item, 1, timeoutMilliseconds) > 0 else { return nil }
        guard let parts = receiveParts(socket) else { return nil }
        guard parts.count >= 2 else { return (String(decoding: parts.first ?? [], as: UTF8.self), []) }
        return (String(decoding: parts[0], as: UTF8.self), parts[1])
    }

    public func close() {
        zmq_close(socket)
        zmq_ctx_term(context)
    }
}

/// One readable line per message for operators.
enum TailFormat {
    static func line(topic: String, payload: [UInt8]) -> String {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] else {
            return "\(topic) \(String(decoding: payload, as: UTF8.self))"
        }
        let time = (obj["time"] as? String).map(clock) ?? "--:--:--"
        switch topic.split(separator: ".").first {
        case "regions":
            let regions = obj["regions"] as? [[String: Any]] ?? []
            var flags: [String] = []
            if obj["keyframe"] as? Bool == true { flags.append("key") }
            if obj["inferred"] as? Bool == true { flags.append("inferred") }
            let pts = (obj["pts"] as? Double).map { String(format: " pts %.3f", $0) } ?? ""
            let shown = regions.prefix(6).map(region).joined(separator: "; ")
            let more = regions.count > 6 ? "; +\(regions.count - 6) more" : ""
            return "\(time) \(topic) frame \(obj["frame"] ?? "?")\(pts)\(flags.isEmpty ? "" : " [" + flags.joined(separator: ",") + "]")"
                + " \(regions.count) region\(regions.count == 1 ? "" : "s")\(regions.isEmpty ? "" : ": ")\(shown)\(more)"
        case "tracks":
            let prev = (obj["previous_label"] as? String).map { " (was \($0))" } ?? ""
            return "\(time) \(topic) \(obj["event"] ?? "?") #\(obj["track_id"] ?? "?") \(obj["label"] ?? "?")\(prev) \(box(obj["box"])) frame \(obj["frame"] ?? "?")"
        case "status":
            let state = obj["state"] as? String ?? "?"
            if let r = obj["rates"] as? [String: Any] {
                let lat = (r["recognition_latency"] as? Double).map { String(format: ", latency %.3f s", $0) } ?? ""
                return "\(time) \(topic) \(state): " + String(format: "%.1f fps decoded, %.1f published, %.2f recognitions/s",
                                                             num(r["decoded_fps"]), num(r["published_fps"]), num(r["recognitions_per_second"]))
                    + "\(lat), \(r["live_tracks"] ?? 0) tracks, \(r["recognitions_skipped"] ?? 0) skipped, \(r["frames_dropped"] ?? 0) dropped"
                    + (r["encoder_runs"].map { ", encoders ran \($0) / rested \(r["encoder_rests"] ?? 0)" } ?? "")
            }
            return "\(time) \(topic) \(state)" + ((obj["reason"] as? String).map { ": \($0)" } ?? "")
        case "proxy":
            let t = obj["totals"] as? [String: Any] ?? [:]
            return "\(time) \(topic) " + String(format: "%.1f messages/s", num(obj["messages_per_second"]))
                + "; since start \(t["frontend_messages"] ?? 0) in, \(t["backend_messages"] ?? 0) out, \(t["subscriptions"] ?? 0) subscription changes, \(t["refused"] ?? 0) refused"
        default:
            return "\(time) \(topic) \(String(decoding: payload, as: UTF8.self))"
        }
    }

    static func region(_ r: [String: Any]) -> String {
        let age = num(r["label_age"])
        return "#\(r["track_id"] ?? "?") \(r["label"] ?? "?") " + String(format: "%.2f", num(r["score"]))
            + " \(box(r["box"])) \(r["source"] ?? "?")" + (age > 0 ? String(format: " age %.1fs", age) : "")
    }

    static func box(_ v: Any?) -> String {
        guard let b = v as? [Any], b.count == 4 else { return "[?]" }
        return "[" + b.map { String(format: "%.0f", num($0)) }.joined(separator: ",") + "]"
    }

    static func num(_ v: Any?) -> Double {
        if let d = v as? Double { return d }
        if let i = v as? Int { return Double(i) }
        if let n = v as? NSNumber { return n.doubleValue }
        return 0
    }

    /// "2026-11-27T06:43:24.123456Z" -> "06:43:24.123"
    static func clock(_ t: String) -> String {
        guard let tIdx = t.firstIndex(of: "T") else { return t }
        return String(t[t.index(after: tIdx)...].prefix(12))
    }
}
