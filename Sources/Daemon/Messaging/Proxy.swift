// The fan-in proxy (`regionspotd proxy`): publishers (daemons whose publisher.endpoints
// connect here) reach an XSUB socket bound on the frontend endpoints; subscribers connect
// to an XPUB socket on the backend endpoints. libzmq's zmq_proxy_steerable moves messages
// down and subscriptions up (a subscriber to regions.cam3 makes the publishers send only
// that) on the thread "zmq-proxy". The thread "proxy-control" owns the control socket: it
// asks STATISTICS every interval (an answer proves the proxy loop is alive), publishes
// the counts as `proxy.<node>` through the proxy itself (a PUB socket on an inproc
// endpoint of the frontend), and sends TERMINATE on stop. With CURVE both sides are
// CURVE servers and one ZAP handler checks publishers and subscribers alike.
import CZMQ
import Foundation
import Recognizer
import Synchronization

public final class FanInProxy: @unchecked Sendable {
    public struct Options: Sendable {
        public var frontend: [String]
        public var backend: [String]
        public var node: String = Origin.hostName
        public var curve: CurveConfig?
        public var statusInterval: Double = 10
        public var highWaterMark: Int32 = 10_000
        public init(frontend: [String], backend: [String]) { self.frontend = frontend; self.backend = backend }
    }

    public let options: Options
    public private(set) var boundFrontend: [String] = []
    public private(set) var boundBackend: [String] = []
    public let zap: ZAPHandler?
    private let context: UnsafeMutableRawPointer
    private let frontend: UnsafeMutableRawPointer, backend: UnsafeMutableRawPointer
    private let controlProxySide: UnsafeMutableRawPointer, control: UnsafeMutableRawPointer
    private let statusPub: UnsafeMutableRawPointer
    private let metrics: MetricsRegistry
    private let counters: [String: CounterMetric]
    private let stopFlag = Atomic<Bool>(false)
    private let lastAnswer = Atomic<UInt64>(0)  // monotonic ns of the last STATISTICS answer
    private let proxyDone = DispatchSemaphore(value: 0)
    private let controlDone = DispatchSemaphore(value: 0)
    private let wake = DispatchSemaphore(value: 0)
    private let latest = Mutex<ProxyCounts?>(nil)
    private let started = Service.now()

    /// Binds everything (errors name the endpoint or key file) and starts both threads.
    public init(options: Options, metrics: MetricsRegistry = MetricsRegistry()) throws {
        guard !options.frontend.isEmpty, !options.backend.isEmpty else { throw PublisherError(description: "proxy needs a frontend and a backend endpoint") }
        self.options = options
        self.metrics = metrics
        let help = "Messages through the proxy (a multipart message counts once)."
        var c: [String: CounterMetric] = [:]
        for (key, side, dir) in [("fm", "frontend", "in"), ("bm", "backend", "out"), ("sub", "backend", "in")] {
            c[key] = metrics.counter("regionspotd_proxy_messages_total", help: help, labels: [("side", side), ("direction", dir)])
        }
        c["fb"] = metrics.counter("regionspotd_proxy_bytes_total", help: "Bytes through the proxy.", labels: [("side", "frontend"), ("direction", "in")])
        c["bb"] = metrics.counter("regionspotd_proxy_bytes_total", help: "Bytes through the proxy.", labels: [("side", "backend"), ("direction", "out")])
        counters = c
        guard let ctx = zmq_ctx_new() else { throw PublisherError(description: "zmq_ctx_new failed: \(zmqError())") }
        context = ctx
        var made: [UnsafeMutableRawPointer] = []
        func socket(_ type: Int32) throws -> UnsafeMutableRawPointer {
            guard let s = zmq_socket(ctx, type) else { throw PublisherError(description: "zmq_socket failed: \(zmqError())") }
            made.append(s)
            try setOption(s, ZMQ_LINGER, 0)
            return s
        }
        var zap: ZAPHandler?
        var fe: [String] = [], be: [String] = []
        do {
            frontend = try socket(ZMQ_XSUB)
            backend = try socket(ZMQ_XPUB)
            controlProxySide = try socket(ZMQ_PAIR)
            control = try socket(ZMQ_PAIR)
            statusPub = try socket(ZMQ_PUB)
            try setOption(frontend, ZMQ_RCVHWM, options.highWaterMark)
            try setOption(backend, ZMQ_SNDHWM, options.highWaterMark)
            for s in [frontend, backend] {
                try setOption(s, ZMQ_HEARTBEAT_IVL, 10_000)
                try setOption(s, ZMQ_HEARTBEAT_TIMEOUT, 30_000)
                if (options.frontend + options.backend).contains(where: { $0.contains("[") }) { try setOption(s, ZMQ_IPV6, 1) }
            }
            if let curve = options.curve {
                guard let dir = curve.authorizedKeys else { throw CurveError(description: "proxy with CURVE needs the authorized keys directory") }
                let keys = try CurveKeys.load(secretKeyFile: curve.secretKey)
                zap = try ZAPHandler(context: ctx, authorized: try Curve.authorizedKeys(directory: dir), label: "proxy", metrics: metrics)
                for s in [frontend, backend] {
                    try Curve.server(s, keys)
                    try zap?.watch(s)
                }
            }
            for (sock, eps, side) in [(frontend, options.frontend, "frontend"), (backend, options.backend, "backend")] {
                for ep in eps {
                    guard zmq_bind(sock, ep) == 0 else { throw PublisherError(description: "cannot bind proxy \(side) to \(ep): \(zmqError())") }
                    if side == "frontend" { fe.append(lastEndpoint(sock) ?? ep) } else { be.append(lastEndpoint(sock) ?? ep) }
                }
            }
            let id = UInt(bitPattern: ctx)
            for (a, b, name) in [(frontend, statusPub, "status"), (controlProxySide, control, "control")] {
                let ep = "inproc://regionspotd-proxy-\(name)-\(id)"
                guard zmq_bind(a, ep) == 0, zmq_connect(b, ep) == 0 else { throw PublisherError(description: "proxy \(name) socket: \(zmqError())") }
            }
        } catch {
            for s in made { zmq_close(s) }
            zap?.close()
            zmq_ctx_term(ctx)
            throw error
        }
        self.zap = zap
        boundFrontend = fe
        boundBackend = be
        Thread { [self] in
            nameCurrentThread("zmq-proxy")
            _ = zmq_proxy_steerable(frontend, backend, nil, controlProxySide)  // until TERMINATE
            for s in [frontend, backend, controlProxySide] { zmq_close(s) }
            proxyDone.signal()
        }.start()
        Thread { [self] in
            nameCurrentThread("proxy-control")
            controlLoop()
        }.start()
    }

    /// The counts of the last STATISTICS answer (nil before the first).
    public var counts: ProxyCounts? { latest.withLock { $0 } }

    /// Whether the proxy loop answered within `seconds` (the watchdog's test).
    public func answered(within seconds: Double) -> Bool {
        let t = lastAnswer.load(ordering: .relaxed)
        return t > 0 && Double(monotonicNanos() - t) / 1e9 <= seconds
    }

    /// TERMINATE, then every socket closed and the context ended. Idempotent.
    public func stop(timeout: Double = 5) {
        guard !stopFlag.exchange(true, ordering: .relaxed) else { return }
        wake.signal()
        _ = controlDone.wait(timeout: .now() + timeout)
    }

    private func controlLoop() {
        var seq: UInt64 = 0
        var previous: (at: Double, messages: UInt64)?
        while !stopFlag.load(ordering: .relaxed) {
            if let totals = statistics() {
                let now = Service.now()
                let interval = previous.map { now - $0.at } ?? (now - started)
                let rate = Double(totals.frontendMessages &- (previous?.messages ?? 0)) / max(1e-3, interval)
                previous = (now, totals.frontendMessages)
                var m = ProxyStatusMessage(time: RFC3339.now(), uptime: now - started, interval: interval, messagesPerSecond: rate, totals: totals)
                m.node = options.node
                m.session = Origin.session
                m.seq = seq
                seq += 1
                if let payload = try? MessageCoding.encode(m) { send(statusPub, [Array(Topic.proxy(options.node).utf8), payload]) }
            }
            _ = wake.wait(timeout: .now() + options.statusInterval)
        }
        send(control, [Array("TERMINATE".utf8)])
        _ = proxyDone.wait(timeout: .now() + 5)
        zmq_close(control)
        zmq_close(statusPub)
        zap?.close()
        zmq_ctx_term(context)
        controlDone.signal()
    }

    /// STATISTICS: eight uint64 frames (frontend in msgs/bytes, out msgs/bytes, backend the same).
    private func statistics() -> ProxyCounts? {
        send(control, [Array("STATISTICS".utf8)])
        var item = zmq_pollitem_t(socket: control, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
        guard zmq_poll(&item, 1, 2000) > 0, let parts = receiveParts(control), parts.count == 8, parts.allSatisfy({ $0.count == 8 }) else { return nil }
        let v = parts.map { p in p.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) } }
        let refused = zap.map { $0.refused.unknownKey + $0.refused.handshake } ?? 0
        // Frontend in = from the publishers; backend out = to the subscribers; backend in = subscriptions.
        let totals = ProxyCounts(frontendMessages: v[0], frontendBytes: v[1], backendMessages: v[6], backendBytes: v[7],
                                 subscriptions: v[4], refused: refused)
        let old = latest.withLock { l in defer { l = totals }; return l }
        for (key, new, before) in [("fm", v[0], old?.frontendMessages), ("fb", v[1], old?.frontendBytes), ("bm", v[6], old?.backendMessages),
                                   ("bb", v[7], old?.backendBytes), ("sub", v[4], old?.subscriptions)] {
            counters[key]?.inc(new &- (before ?? 0))
        }
        lastAnswer.store(monotonicNanos(), ordering: .relaxed)
        return totals
    }

    private func send(_ sock: UnsafeMutableRawPointer, _ parts: [[UInt8]]) {
        for (i, p) in parts.enumerated() {
            _ = p.withUnsafeBytes { zmq_send(sock, $0.baseAddress, $0.count, i < parts.count - 1 ? ZMQ_SNDMORE : 0) }
        }
    }
}
