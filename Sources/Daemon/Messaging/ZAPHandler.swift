// The ZAP handler (ZeroMQ RFC 27) of one ZeroMQ context: a REP socket on
// inproc://zeromq.zap.01, answered on a thread of its own ("zmq-auth"). A CURVE client is
// let in only when its public key is one of the authorized keys; anything else is refused
// and counted (reason unknown_key). Clients that fail before ZAP is asked (no CURVE at
// all, or a wrong server key) are seen through a socket monitor on the watched sockets
// and counted too (reason handshake). It must be bound before the server sockets: a
// context without a ZAP handler lets every CURVE client in.
import CZMQ
import Foundation
import Recognizer
import Synchronization

public final class ZAPHandler: @unchecked Sendable {
    public let label: String
    private let context: UnsafeMutableRawPointer
    private let rep: UnsafeMutableRawPointer
    private let authorized: Set<[UInt8]>
    private let refusedKey: CounterMetric
    private let refusedHandshake: CounterMetric
    private let acceptedCount: CounterMetric
    private let monitorLock = NSLock()
    private var newMonitors: [UnsafeMutableRawPointer] = []  // under monitorLock
    private let stopFlag = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    private static let monitorIDs = Atomic<Int>(0)

    /// Binds the handler in `context` and starts its thread. `label` names the socket kind
    /// in the metrics (publisher, external_boxes, proxy).
    public init(context: UnsafeMutableRawPointer, authorized: Set<[UInt8]>, label: String, metrics: MetricsRegistry?) throws {
        self.context = context
        self.authorized = authorized
        self.label = label
        let registry = metrics ?? MetricsRegistry()
        let help = "ZeroMQ clients refused by CURVE authentication."
        refusedKey = registry.counter("regionspotd_curve_refused_total", help: help, labels: [("socket", label), ("reason", "unknown_key")])
        refusedHandshake = registry.counter("regionspotd_curve_refused_total", help: help, labels: [("socket", label), ("reason", "handshake")])
        acceptedCount = registry.counter("regionspotd_curve_accepted_total", help: "ZeroMQ clients let in by CURVE authentication.", labels: [("socket", label)])
        guard let sock = zmq_socket(context, ZMQ_REP) else { throw CurveError(description: "cannot create the ZAP socket: \(zmqError())") }
        try setOption(sock, ZMQ_LINGER, 0)
        guard zmq_bind(sock, "inproc://zeromq.zap.01") == 0 else {
            let e = zmqError()
            zmq_close(sock)
            throw CurveError(description: "cannot bind the ZAP handler: \(e)")
        }
        rep = sock
        let t = Thread { [self] in
            nameCurrentThread("zmq-auth")
            loop()
        }
        t.start()
    }

    public var refused: (unknownKey: UInt64, handshake: UInt64) { (refusedKey.value, refusedHandshake.value) }
    public var accepted: UInt64 { acceptedCount.value }

    /// Counts failed handshakes on `sock` (before bind/connect; from the socket's owner).
    public func watch(_ sock: UnsafeMutableRawPointer) throws {
        let endpoint = "inproc://regionspotd-monitor-\(Self.monitorIDs.add(1, ordering: .relaxed).newValue)"
        let events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
        guard zmq_socket_monitor(sock, endpoint, events) == 0, let pair = zmq_socket(context, ZMQ_PAIR) else {
            throw CurveError(description: "cannot monitor a socket: \(zmqError())")
        }
        try setOption(pair, ZMQ_LINGER, 0)
        guard zmq_connect(pair, endpoint) == 0 else {
            zmq_close(pair)
            throw CurveError(description: "cannot connect the socket monitor: \(zmqError())")
        }
        monitorLock.withLock { newMonitors.append(pair) }  // handed to the handler's thread
    }

    /// Stops the thread and closes its sockets (before the context is terminated).
    public func close() {
        guard !stopFlag.exchange(true, ordering: .relaxed) else { return }
        _ = finished.wait(timeout: .now() + 2)
    }

    private func loop() {
        var monitors: [UnsafeMutableRawPointer] = []
        while !stopFlag.load(ordering: .relaxed) {
            monitors += monitorLock.withLock { () -> [UnsafeMutableRawPointer] in defer { newMonitors.removeAll() }; return newMonitors }
            var items = [zmq_pollitem_t(socket: rep, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)]
                + monitors.map { zmq_pollitem_t(socket: $0, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
            guard zmq_poll(&items, Int32(items.count), 100) > 0 else { continue }
            if items[0].revents & Int16(ZMQ_POLLIN) != 0, let request = receiveParts(rep) { answer(request) }
            for (i, m) in monitors.enumerated() where items[i + 1].revents & Int16(ZMQ_POLLIN) != 0 {
                // [event (u16) + value (u32), endpoint]
                while let parts = receiveParts(m), let head = parts.first, head.count >= 2 {
                    let event = Int32(UInt16(head[0]) | UInt16(head[1]) << 8)
                    if event & (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL) != 0 { refusedHandshake.inc() }
                }
            }
        }
        for m in monitors + monitorLock.withLock({ newMonitors }) { zmq_close(m) }
        zmq_close(rep)
        finished.signal()
    }

    /// Request: [version, request id, domain, address, identity, mechanism, credentials...].
    private func answer(_ r: [[UInt8]]) {
        guard r.count >= 6 else { reply(r.count > 1 ? r[1] : [], "500", "malformed ZAP request"); return }
        let mechanism = String(decoding: r[5], as: UTF8.self)
        if mechanism == "CURVE", r.count >= 7, r[6].count == 32, authorized.contains(r[6]) {
            acceptedCount.inc()
            reply(r[1], "200", "OK")
        } else {
            refusedKey.inc()
            reply(r[1], "400", mechanism == "CURVE" ? "unknown client key" : "CURVE required")
        }
    }

    private func reply(_ requestID: [UInt8], _ code: String, _ text: String) {
        let parts: [[UInt8]] = [Array("1.0".utf8), requestID, Array(code.utf8), Array(text.utf8), [], []]
        for (i, p) in parts.enumerated() {
            _ = p.withUnsafeBytes { zmq_send(rep, $0.baseAddress, $0.count, i < parts.count - 1 ? ZMQ_SNDMORE : 0) }
        }
    }
}

/// Every part of the next message on `sock`, or nil when none is waiting.
func receiveParts(_ sock: UnsafeMutableRawPointer, maxParts: Int = 64) -> [[UInt8]]? {
    var parts: [[UInt8]] = []
    repeat {
        var msg = zmq_msg_t()
        zmq_msg_init(&msg)
        defer { zmq_msg_close(&msg) }
        guard zmq_msg_recv(&msg, sock, ZMQ_DONTWAIT) >= 0 else { return parts.isEmpty ? nil : parts }
        let n = zmq_msg_size(&msg)
        parts.append(n == 0 ? [] : Array(UnsafeBufferPointer(start: zmq_msg_data(&msg)!.assumingMemoryBound(to: UInt8.self), count: n)))
        if zmq_msg_more(&msg) == 0 { break }
    } while parts.count < maxParts
    return parts
}
