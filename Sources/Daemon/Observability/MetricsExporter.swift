// Getting metrics out: a node_exporter textfile (written atomically: temp file + rename
// in the same directory) and/or a tiny HTTP/1.0 endpoint serving GET /metrics (Prometheus
// text), GET /healthz (200 while no component is wedged) and the live pages (Daemon/Live).
// The listener thread only accepts; each connection is served on a thread of its own
// (HTTPConnection: read and send timeouts), at the lowest priority.
import Foundation
import Recognizer

#if canImport(Glibc)
import Glibc
#endif

public enum TextfileExporter {
    /// Writes `text` to `path` atomically (readers never see a partial file).
    public static func write(_ text: String, to path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        let tmp = (dir as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).\(getpid()).tmp")
        let data = Data(text.utf8)
        guard FileManager.default.createFile(atPath: tmp, contents: data, attributes: [.posixPermissions: 0o644]) else {
            throw PublisherError(description: "cannot write metrics file \(tmp): \(String(cString: strerror(errno)))")
        }
        if rename(tmp, path) != 0 {
            let e = String(cString: strerror(errno))
            unlink(tmp)
            throw PublisherError(description: "cannot rename \(tmp) to \(path): \(e)")
        }
    }
}

public final class MetricsHTTPServer: @unchecked Sendable {
    public let port: UInt16
    private let fd: Int32
    private let render: @Sendable () -> String
    private let healthy: @Sendable () -> (Bool, String)
    private let live: LiveBoard?
    private let token: String?
    /// Nice value of the connection threads (the lowest priority).
    static let connectionNice: Int32 = 19
    /// Connections served at once (each on its own thread); more are refused with 503.
    let maxConnections: Int
    private let stopLock = NSLock()
    private var stopped = false
    private var open = 0
    private let finished = DispatchSemaphore(value: 0)

    /// Binds `listen` ("host:port"; port 0 picks a free one) and starts serving GET
    /// /metrics, /healthz and, with `live`, the live pages. With `token`, every path but
    /// /healthz needs `Authorization: Bearer TOKEN` (or `?token=TOKEN` from a browser).
    public init(listen: String, render: @escaping @Sendable () -> String,
                healthy: @escaping @Sendable () -> (Bool, String) = { (true, "ok") },
                live: LiveBoard? = nil, token: String? = nil) throws {
        guard let (host, portText) = splitHostPort(listen), let wanted = UInt16(portText) else {
            throw PublisherError(description: "metrics listen address '\(listen)' is not HOST:PORT")
        }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var res: UnsafeMutablePointer<addrinfo>?
        let gai = getaddrinfo(host.isEmpty ? nil : host, String(wanted), &hints, &res)
        guard gai == 0, let ai = res else {
            throw PublisherError(description: "metrics listen address '\(listen)': \(String(cString: gai_strerror(gai)))")
        }
        defer { freeaddrinfo(res) }
        let s = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw PublisherError(description: "metrics socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0, Glibc.listen(s, 64) == 0 else {
            let e = String(cString: strerror(errno))
            close(s)
            throw PublisherError(description: "cannot listen for metrics on \(listen): \(e)")
        }
        var ss = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &ss) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &len) } }
        let family = Int32(ss.ss_family)
        port = withUnsafePointer(to: &ss) { p -> UInt16 in
            if family == AF_INET6 {
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
            }
            return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
        fd = s
        self.render = render
        self.healthy = healthy
        self.live = live
        self.token = token
        maxConnections = 16 + (live?.maxWatchers ?? 0)
        let t = Thread { [self] in
            nameCurrentThread("metrics-http")
            self.serve()
        }
        t.start()
    }

    public func stop() {
        let first = stopLock.withLock { () -> Bool in defer { stopped = true }; return !stopped }
        guard first else { return }
        _ = finished.wait(timeout: .now() + 2)
        close(fd)
    }

    var isStopped: Bool { stopLock.withLock { stopped } }

    /// Accepts and hands each connection to a thread of its own (at most `maxConnections`
    /// at once): a client that sends nothing, or reads slowly, holds only that thread.
    private func serve() {
        defer { finished.signal() }
        while !isStopped {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            var peer = sockaddr_storage()
            var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let c = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(fd, $0, &len) } }
            guard c >= 0 else { continue }
            _ = fcntl(c, F_SETFD, FD_CLOEXEC)
            let admitted = stopLock.withLock { () -> Bool in
                guard open < maxConnections else { return false }
                open += 1
                return true
            }
            guard admitted else {
                live?.refusedConnections.inc()
                HTTPConnection.refuse(c, "503 Service Unavailable", "too many connections\n")
                continue
            }
            let conn = HTTPConnection(fd: c, fromLoopback: HTTPConnection.isLoopback(peer))
            let t = Thread { [self] in
                nameCurrentThread("metrics-conn")
                // Drawing and encoding live pictures yield to decoding (nice 0) and to the
                // recognizer (limits.recognizer_nice): watching takes only spare CPU.
                Parallel.lowerCurrentThreadPriority(nice: MetricsHTTPServer.connectionNice)
                handle(conn)
                stopLock.withLock { open -= 1 }
            }
            t.start()
        }
    }

    private func handle(_ c: HTTPConnection) {
        guard let req = c.readRequest() else {
            c.respond("400 Bad Request", type: "text/plain", text: "bad request\n")
            return
        }
        guard req.method == "GET" else {
            c.respond("405 Method Not Allowed", type: "text/plain", text: "only GET\n")
            return
        }
        if req.path == "/healthz" {
            let (ok, text) = healthy()
            c.respond(ok ? "200 OK" : "503 Service Unavailable", type: "text/plain", text: text + "\n")
            return
        }
        if let token, !Self.authorized(req, token: token) {
            c.respond("401 Unauthorized", type: "text/plain", text: "a bearer token is needed (metrics.token)\n",
                      headers: ["WWW-Authenticate: Bearer realm=\"regionspotd\""])
            return
        }
        if req.path == "/metrics" {
            c.respond("200 OK", type: "text/plain; version=0.0.4; charset=utf-8", text: render())
        } else if let live, live.serve(req, on: c, stopped: { [weak self] in self?.isStopped ?? true }) {
            return
        } else {
            c.respond("404 Not Found", type: "text/plain", text: live == nil ? "try /metrics or /healthz\n" : "try /, /metrics or /healthz\n")
        }
    }

    /// `Authorization: Bearer TOKEN`, or `?token=TOKEN` (what a browser can send), compared
    /// in constant time.
    static func authorized(_ req: HTTPRequest, token: String) -> Bool {
        if let h = req.headers["authorization"], h.lowercased().hasPrefix("bearer ") {
            return constantTimeEqual(String(h.dropFirst(7)).trimmingCharacters(in: .whitespaces), token)
        }
        if let q = req.query["token"] { return constantTimeEqual(q.removingPercentEncoding ?? q, token) }
        return false
    }
}
