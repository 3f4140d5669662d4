// The external-boxes input: a ZeroMQ PULL socket the daemon binds; an upstream
// detector PUSHes JSON (schema/external-boxes.schema.json), single-part or [stream, JSON].
// One owner thread receives, checks and files each message in a per-stream bounded inbox;
// the keyframe scheduler takes what is due with `take(stream:frame:pts:)`. Malformed
// messages are counted and logged (at most one log line per 10 s), never fatal. With
// security.curve the socket is a CURVE server: only authorized clients may push.
import CZMQ
import Foundation
import Recognizer
import Logging
import Synchronization

/// Per-stream bounded store of external boxes waiting for a keyframe.
public final class ExternalBoxInbox: Sendable {
    public let capacityPerStream: Int
    private let boxes = Mutex<[String: [ExternalBoxes]]>([:])
    private let dropped = Atomic<UInt64>(0)

    public init(capacityPerStream: Int) { self.capacityPerStream = max(1, capacityPerStream) }

    /// Files a message; when the stream's queue is full the oldest message is dropped.
    public func put(_ m: ExternalBoxes) {
        let overflow = boxes.withLock { b -> Bool in
            var q = b[m.stream, default: []]
            q.append(m)
            let over = q.count > capacityPerStream
            if over { q.removeFirst() }
            b[m.stream] = q
            return over
        }
        if overflow { dropped.add(1, ordering: .relaxed) }
    }

    /// Removes and returns the messages due on a keyframe at `frame` / `pts`: those whose
    /// frame (or, without a frame, pts) is at or before it. Later ones stay queued.
    public func take(stream: String, frame: Int, pts: Double) -> [ExternalBoxes] {
        boxes.withLock { b in
            guard let q = b[stream], !q.isEmpty else { return [] }
            let due: (ExternalBoxes) -> Bool = { m in m.frame.map { $0 <= frame } ?? (m.pts.map { $0 <= pts + 1e-6 } ?? true) }
            b[stream] = q.filter { !due($0) }
            return q.filter(due)
        }
    }

    public var droppedCount: UInt64 { dropped.load(ordering: .relaxed) }
    public func count(stream: String) -> Int { boxes.withLock { $0[stream]?.count ?? 0 } }
}

public final class ExternalBoxReceiver: @unchecked Sendable {
    public let endpoint: String
    public let boundEndpoint: String
    public let inbox: ExternalBoxInbox
    private let context: UnsafeMutableRawPointer
    private let socket: UnsafeMutableRawPointer
    private let knownStreams: @Sendable () -> Set<String>
    private let logger: Logger
    private let accepted: CounterMetric
    private let malformed: CounterMetric
    private let progress: ProgressToken?
    private let stopFlag = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    public let zap: ZAPHandler?

    /// Largest message accepted (bytes); larger ones are refused by libzmq.
    public static let maxMessageBytes: Int64 = 1 << 20

    public init(endpoint: String, curve: CurveConfig? = nil, inbox: ExternalBoxInbox, knownStreams: @escaping @Sendable () -> Set<String>,
                metrics: MetricsRegistry, logger: Logger, progress: ProgressToken? = nil) throws {
        self.endpoint = endpoint
        self.inbox = inbox
        self.knownStreams = knownStreams
        self.logger = logger
        self.progress = progress
        accepted = metrics.counter("regionspotd_external_messages_total", help: "External-box messages received.", labels: [("result", "accepted")])
        malformed = metrics.counter("regionspotd_external_messages_total", help: "External-box messages received.", labels: [("result", "malformed")])
        guard let ctx = zmq_ctx_new(), let sock = zmq_socket(ctx, ZMQ_PULL) else {
            throw PublisherError(description: "cannot create the external-boxes socket: \(zmqError())")
        }
        context = ctx
        socket = sock
        var zap: ZAPHandler?
        do {
            if let curve {
                guard let dir = curve.authorizedKeys else { throw CurveError(description: "security.curve.authorized_keys is needed for external_boxes") }
                let keys = try CurveKeys.load(secretKeyFile: curve.secretKey)
                zap = try ZAPHandler(context: ctx, authorized: try Curve.authorizedKeys(directory: dir), label: "external_boxes", metrics: metrics)
                try Curve.server(sock, keys)
                try zap?.watch(sock)
            }
            try setOption(sock, ZMQ_LINGER, 0)
            try setOption(sock, ZMQ_RCVHWM, 1000)
            var maxSize = Self.maxMessageBytes
            zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxSize, MemoryLayout<Int64>.size)
            if endpoint.contains("[") { try setOption(sock, ZMQ_IPV6, 1) }
            guard zmq_bind(sock, endpoint) == 0 else {
                throw PublisherError(description: "cannot bind external_boxes to \(endpoint): \(zmqError())")
            }
        } catch {
            zmq_close(sock)
            zap?.close()
            zmq_ctx_term(ctx)
            throw error
        }
        self.zap = zap
        boundEndpoint = lastEndpoint(sock) ?? endpoint
        let t = Thread { [self] in
            nameCurrentThread("external-boxes")
            loop()
        }
        t.start()
    }

    public var counts: (accepted: UInt64, malformed: UInt64) { (accepted.value, malformed.value) }

    public func close() {
        guard !stopFlag.exchange(true, ordering: .relaxed) else { return }
        _ = finished.wait(timeout: .now() + 2)
    }

    private func loop() {
        var lastLog = 0.0
        var unlogged = 0
        var lastError = ""
        while !stopFlag.load(ordering: .relaxed) {
            progress?.beat()
            var item = zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
            guard zmq_poll(&item, 1, 200) > 0 else { continue }
            // Drain what is there (bounded per round so `stop` stays responsive).
            for _ in 0..<1000 {
                guard let parts = receiveParts(socket, maxParts: 8) else { break }
                do {
                    let m = try ExternalBoxes.parse(parts.last ?? [], knownStreams: knownStreams())
                    if parts.count > 1, String(decoding: parts[0], as: UTF8.self) != m.stream {
                        throw ExternalBoxesError(description: "first frame '\(String(decoding: parts[0].prefix(64), as: UTF8.self))' is not the stream '\(m.stream)'")
                    }
                    inbox.put(m)
                    accepted.inc()
                } catch {
                    malformed.inc()
                    unlogged += 1
                    lastError = "\(error)"
                }
                if unlogged > 0, Service.now() - lastLog >= 10 {
                    logger.warning("external boxes: \(unlogged) malformed message\(unlogged == 1 ? "" : "s") ignored; last: \(lastError)")
                    lastLog = Service.now()
                    unlogged = 0
                }
            }
        }
        progress?.finish()
        zmq_close(socket)
        zap?.close()
        zmq_ctx_term(context)
        finished.signal()
    }
}
