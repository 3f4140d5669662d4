// The ZeroMQ PUB socket: multipart [topic, JSON], one owner thread fed by a bounded queue.
// Producers (stream pipelines) never block: `publish` enqueues or drops (counted); the
// owner sends with ZMQ_DONTWAIT under a send high-water mark, so a slow subscriber can
// neither stall decoding nor grow memory.
//
// Slow subscribers and what is counted: by default (nodrop false) libzmq drops messages
// for a subscriber that is at its HWM and keeps serving the others; libzmq does not report
// those drops. With nodrop true (ZMQ_XPUB_NODROP) a message is refused with EAGAIN when
// any subscriber is at its HWM; every refusal is counted (reason "hwm"), but then one stuck
// subscriber makes every subscriber miss messages.
//
// Endpoints are bound or connected (to an aggregator's proxy; libzmq reconnects). Every
// message is stamped with node, session and its topic's next seq (Origin.swift) under
// that topic's lock, so seq order is queue order; a message dropped anywhere after that
// is a gap a subscriber sees. With CURVE, bound endpoints are CURVE servers checked by
// the context's ZAP handler and connected ones CURVE clients.
import CZMQ
import Foundation
import Recognizer
import Synchronization

public struct PublisherError: Error, CustomStringConvertible {
    public var description: String
}

public final class Publisher: @unchecked Sendable {
    public struct Options: Sendable {
        public var endpoints: [String]
        public var sendHighWaterMark: Int32
        public var lingerMilliseconds: Int32
        public var queueCapacity: Int
        public var overflow: OverflowPolicy
        public var nodrop: Bool
        public var connect: [ConnectEndpoint]
        public var node: String
        public var curve: CurveConfig?

        public init(endpoints: [String] = ["tcp://127.0.0.1:5556"], sendHighWaterMark: Int32 = 1000,
                    lingerMilliseconds: Int32 = 1000, queueCapacity: Int = 4096,
                    overflow: OverflowPolicy = .dropOldest, nodrop: Bool = false,
                    connect: [ConnectEndpoint] = [], node: String = Origin.hostName, curve: CurveConfig? = nil) {
            self.endpoints = endpoints
            self.connect = connect
            self.node = node
            self.curve = curve
            self.sendHighWaterMark = sendHighWaterMark
            self.lingerMilliseconds = lingerMilliseconds
            self.queueCapacity = queueCapacity
            self.overflow = overflow
            self.nodrop = nodrop
        }

        public init(_ c: DaemonConfig) {
            self.init(endpoints: c.publisher.endpoints, sendHighWaterMark: Int32(c.publisher.sendHighWaterMark),
                      lingerMilliseconds: Int32(c.publisher.linger * 1000), queueCapacity: c.limits.publishQueue,
                      overflow: c.publisher.overflow, nodrop: c.publisher.nodrop, connect: c.publisher.connect,
                      node: c.nodeName, curve: c.curve)
        }
    }

    public struct Stats: Sendable, Equatable {
        public var published: UInt64
        public var droppedQueueFull: UInt64
        public var droppedHWM: UInt64
        public var sendErrors: UInt64
        public var queued: Int
        public var dropped: UInt64 { droppedQueueFull + droppedHWM + sendErrors }
    }

    struct Outgoing { var topic: String; var payload: [UInt8] }

    public let options: Options
    /// Endpoints as bound (a `tcp://host:*` endpoint resolved to its port).
    public let boundEndpoints: [String]
    private let context: UnsafeMutableRawPointer
    private let socket: UnsafeMutableRawPointer
    private let metrics: PublisherMetrics?
    /// The ZAP handler of the publisher's context (bound endpoints with CURVE).
    public let zap: ZAPHandler?
    private let sequences = Mutex<[String: TopicSequence]>([:])

    private let cond = NSCondition()
    private var queue: RingBuffer<Outgoing>
    private var stopping = false
    private let finished = DispatchSemaphore(value: 0)

    private let published = Atomic<UInt64>(0)
    private let droppedQueueFull = Atomic<UInt64>(0)
    private let droppedHWM = Atomic<UInt64>(0)
    private let sendErrors = Atomic<UInt64>(0)

    /// Creates the socket, binds and connects every endpoint (an error names the endpoint
    /// or the key file) and starts the owner thread.
    public init(options: Options, metrics: PublisherMetrics? = nil) throws {
        guard !options.endpoints.isEmpty || !options.connect.isEmpty else { throw PublisherError(description: "no publisher endpoints") }
        self.options = options
        self.metrics = metrics
        queue = RingBuffer(capacity: max(1, options.queueCapacity))
        guard let ctx = zmq_ctx_new() else { throw PublisherError(description: "zmq_ctx_new failed: \(zmqError())") }
        guard let sock = zmq_socket(ctx, ZMQ_PUB) else {
            let e = zmqError()
            zmq_ctx_term(ctx)
            throw PublisherError(description: "zmq_socket(PUB) failed: \(e)")
        }
        context = ctx
        socket = sock
        var bound: [String] = []
        var zap: ZAPHandler?
        var extras: [UnsafeMutableRawPointer] = []
        do {
            try setOption(sock, ZMQ_SNDHWM, options.sendHighWaterMark)
            try setOption(sock, ZMQ_LINGER, options.lingerMilliseconds)
            if options.nodrop { try setOption(sock, ZMQ_XPUB_NODROP, 1) }
            // ZMTP heartbeats drop subscribers whose host vanished (no FIN) within ~30 s.
            try setOption(sock, ZMQ_HEARTBEAT_IVL, 10_000)
            try setOption(sock, ZMQ_HEARTBEAT_TIMEOUT, 30_000)
            if (options.endpoints + options.connect.map(\.endpoint)).contains(where: { $0.contains("[") }) { try setOption(sock, ZMQ_IPV6, 1) }
            let keys = try options.curve.map { try CurveKeys.load(secretKeyFile: $0.secretKey) }
            if let keys, !options.endpoints.isEmpty {
                // The handler first: a context without one lets every CURVE client in.
                let dir = try options.curve?.authorizedKeys ?? { throw PublisherError(description: "security.curve.authorized_keys is needed to bind with CURVE") }()
                zap = try ZAPHandler(context: ctx, authorized: try Curve.authorizedKeys(directory: dir), label: "publisher",
                                     metrics: metrics?.registry)
                try Curve.server(sock, keys)
                try zap?.watch(sock)
            }
            for ep in options.endpoints {
                if zmq_bind(sock, ep) != 0 {
                    throw PublisherError(description: "cannot bind publisher to \(ep): \(zmqError())")
                }
                bound.append(lastEndpoint(sock) ?? ep)
            }
            // A PUB socket is a server or a client for all its connections: connected
            // endpoints with CURVE need a socket of their own.
            for c in options.connect {
                let target = try Self.connectSocket(ctx, c, options, keys, sock, &extras)
                if zmq_connect(target, c.endpoint) != 0 {
                    throw PublisherError(description: "cannot connect publisher to \(c.endpoint): \(zmqError())")
                }
            }
        } catch {
            for s in extras { zmq_close(s) }
            zmq_close(sock)
            zap?.close()
            zmq_ctx_term(ctx)
            throw error
        }
        self.zap = zap
        extraSockets = extras
        boundEndpoints = bound
        let thread = Thread { [self] in
            nameCurrentThread("zmq-publisher")
            self.ownerLoop()
        }
        thread.start()
    }

    /// Sockets besides the main one (connected endpoints with CURVE); each gets every
    /// message. `published` counts the main socket's sends; a refusal on any socket is
    /// counted as a drop of its own.
    private let extraSockets: [UnsafeMutableRawPointer]

    private static func connectSocket(_ ctx: UnsafeMutableRawPointer, _ c: ConnectEndpoint, _ o: Options, _ keys: CurveKeys?,
                                      _ main: UnsafeMutableRawPointer, _ extraSockets: inout [UnsafeMutableRawPointer]) throws -> UnsafeMutableRawPointer {
        guard let keys else { return main }
        guard let keyFile = c.serverKey else { throw PublisherError(description: "connect \(c.endpoint): server_key is needed with CURVE") }
        guard let s = zmq_socket(ctx, ZMQ_PUB) else { throw PublisherError(description: "zmq_socket(PUB) failed: \(zmqError())") }
        extraSockets.append(s)
        try setOption(s, ZMQ_SNDHWM, o.sendHighWaterMark)
        try setOption(s, ZMQ_LINGER, o.lingerMilliseconds)
        if o.nodrop { try setOption(s, ZMQ_XPUB_NODROP, 1) }
        try setOption(s, ZMQ_HEARTBEAT_IVL, 10_000)
        try setOption(s, ZMQ_HEARTBEAT_TIMEOUT, 30_000)
        if c.endpoint.contains("[") { try setOption(s, ZMQ_IPV6, 1) }
        try Curve.client(s, keys, serverKey: try Curve.readPublicKey(keyFile))
        return s
    }

    /// Queues one message; never blocks. Returns false when the message (or, with
    /// drop_oldest, an older one) was dropped because the queue was full.
    @discardableResult
    public func publish(topic: String, payload: [UInt8]) -> Bool {
        cond.lock()
        if stopping { cond.unlock(); return false }
        var evicted: Outgoing?
        var accepted = true
        if queue.isFull {
            switch options.overflow {
            case .dropOldest: evicted = queue.popFirst()
            case .dropNewest: accepted = false
            }
        }
        if accepted { queue.append(Outgoing(topic: topic, payload: payload)) }
        cond.signal()
        cond.unlock()
        if let evicted { countQueueDrop(evicted.topic) }
        if !accepted { countQueueDrop(topic) }
        return accepted && evicted == nil
    }

    /// Stamps (node, session, the topic's next seq), encodes and queues a message.
    @discardableResult
    public func publish<M: Stamped>(_ message: M, topic: String) throws -> Bool {
        let sequence = sequences.withLock { s in
            if let t = s[topic] { return t }
            let t = TopicSequence()
            if s.count < 10_000 { s[topic] = t }
            return t
        }
        return try sequence.lock.withLock {
            var m = message
            m.node = options.node
            m.session = Origin.session
            m.seq = sequence.next
            let payload = try MessageCoding.encode(m)
            sequence.next += 1
            return publish(topic: topic, payload: payload)
        }
    }

    public func publish(_ m: RegionsMessage) throws { try publish(m, topic: Topic.regions(m.stream)) }
    public func publish(_ m: TrackMessage) throws { try publish(m, topic: Topic.tracks(m.stream)) }
    public func publish(_ m: StatusMessage) throws { try publish(m, topic: Topic.status(m.stream)) }

    public var stats: Stats {
        Stats(published: published.load(ordering: .relaxed), droppedQueueFull: droppedQueueFull.load(ordering: .relaxed),
              droppedHWM: droppedHWM.load(ordering: .relaxed), sendErrors: sendErrors.load(ordering: .relaxed),
              queued: cond.withLock { queue.count })
    }

    /// Stops accepting, sends what is queued (non-blocking), closes the socket (libzmq
    /// lingers at most the configured linger) and waits for the owner thread up to
    /// `timeout` seconds. Returns whether it finished in time. Idempotent.
    @discardableResult
    public func close(timeout: Double = 5) -> Bool {
        cond.lock()
        let first = !stopping
        stopping = true
        cond.signal()
        cond.unlock()
        guard first else { return true }
        return finished.wait(timeout: .now() + timeout) == .success
    }

    private func countQueueDrop(_ topic: String) {
        droppedQueueFull.add(1, ordering: .relaxed)
        metrics?.dropped(topic: topic, reason: "queue_full").inc()
    }

    private func ownerLoop() {
        var batch: [Outgoing] = []
        var counters: [String: CounterMetric] = [:]  // published, per topic (owner thread only)
        while true {
            cond.lock()
            while queue.isEmpty && !stopping { cond.wait() }
            let done = stopping
            queue.drain(into: &batch)
            cond.unlock()
            for m in batch { send(m, &counters) }
            batch.removeAll(keepingCapacity: true)
            if done { break }
        }
        zmq_close(socket)
        for s in extraSockets { zmq_close(s) }
        zap?.close()
        zmq_ctx_term(context)  // returns once linger expired or everything was flushed
        finished.signal()
    }

    private func send(_ m: Outgoing, _ counters: inout [String: CounterMetric]) {
        send(m, on: socket, &counters)
        for s in extraSockets { send(m, on: s, &counters, count: false) }
    }

    private func send(_ m: Outgoing, on socket: UnsafeMutableRawPointer, _ counters: inout [String: CounterMetric], count: Bool = true) {
        let flags = ZMQ_DONTWAIT
        let rc = m.topic.utf8CString.withUnsafeBufferPointer { t in
            zmq_send(socket, t.baseAddress, t.count - 1, flags | ZMQ_SNDMORE)
        }
        if rc < 0 {
            let err = zmq_errno()
            if err == EAGAIN {
                droppedHWM.add(1, ordering: .relaxed)
                metrics?.dropped(topic: m.topic, reason: "hwm").inc()
            } else {
                sendErrors.add(1, ordering: .relaxed)
                metrics?.dropped(topic: m.topic, reason: "error").inc()
            }
            return
        }
        // Once the first part is accepted libzmq accepts the rest of the message.
        let rc2 = m.payload.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
        if rc2 < 0 {
            sendErrors.add(1, ordering: .relaxed)
            metrics?.dropped(topic: m.topic, reason: "error").inc()
            return
        }
        guard count else { return }
        published.add(1, ordering: .relaxed)
        if let metrics {
            if let c = counters[m.topic] { c.inc() } else {
                let c = metrics.published(topic: m.topic)
                if counters.count < 10_000 { counters[m.topic] = c }
                c.inc()
            }
        }
    }
}

/// A topic's next seq and the lock that keeps stamping and queueing in seq order.
final class TopicSequence: @unchecked Sendable {
    let lock = NSLock()
    var next: UInt64 = 0
}

func zmqError() -> String { String(cString: zmq_strerror(zmq_errno())) }

func setOption(_ sock: UnsafeMutableRawPointer, _ option: Int32, _ value: Int32) throws {
    var v = value
    if zmq_setsockopt(sock, option, &v, MemoryLayout<Int32>.size) != 0 {
        throw PublisherError(description: "zmq_setsockopt(\(option)) failed: \(zmqError())")
    }
}

func lastEndpoint(_ sock: UnsafeMutableRawPointer) -> String? {
    var buf = [CChar](repeating: 0, count: 1024)
    var len = buf.count
    guard zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, &buf, &len) == 0 else { return nil }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
