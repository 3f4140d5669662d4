// Getting metrics out: a node_exporter textfile (written atomically: temp file + rename
// in the same directory) and/or a tiny HTTP/1.0 endpoint on its own thread serving
// GET /metrics (Prometheus text), GET /healthz (200 while no component is wedged) and,
// with a LiveBoard, the live pages (Daemon/Live), each of those on a thread of its own at
// the lowest priority, nice 19 and SCHED_IDLE (a picture is drawn there; an event stream
// stays there).
// Every connection gets one answer and is closed: 400 for a malformed or incomplete
// request, 405 for another method, 404 for another path, 408 when the request does not
// arrive within the timeout, 414 / 431 past the request-line / header limits.
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
    private let requestTimeout: Double
    private let live: LiveBoard?
    private let token: String?
    /// Live page requests served at once (each on its own thread); more are answered 503.
    let maxConnections: Int
    /// Nice value of the live page threads: drawing and encoding pictures yield to
    /// decoding (nice 0) and to the recognizer (limits.recognizer_nice). They also run in
    /// SCHED_IDLE (`idleCurrentThread`); the nice value is what holds if that is refused.
    static let connectionNice: Int32 = 19
    private var liveOpen = 0
    private let stopLock = NSLock()
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    /// Longest request line, and longest request line + headers, read (bytes).
    public static let maxRequestLine = 8192
    public static let maxHead = 16384
    /// Connections being read at once; one more closes the oldest.
    public static let maxClients = 256

    /// Binds `listen` ("host:port"; port 0 picks a free one) and starts serving. A client
    /// has `requestTimeout` seconds to send its request. With `token`, every path but
    /// /healthz needs `Authorization: Bearer TOKEN` (or `?token=TOKEN` from a browser).
    public init(listen: String, render: @escaping @Sendable () -> String,
                healthy: @escaping @Sendable () -> (Bool, String) = { (true, "ok") }, requestTimeout: Double = 2,
                live: LiveBoard? = nil, token: String? = nil, maxConnections: Int? = nil) throws {
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
        guard bind(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0, Glibc.listen(s, 128) == 0 else {
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
        self.requestTimeout = requestTimeout
        self.live = live
        self.token = token
        self.maxConnections = maxConnections ?? 16 + (live?.maxWatchers ?? 0)
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

    /// A connection whose request is still being read.
    private struct Client {
        var fd: Int32
        var bytes: [UInt8] = []
        var deadline: Double
        var fromLoopback = false
    }

    /// One thread reads every connection at once (poll), so a client that sends slowly or
    /// not at all holds nobody else up; each gets one answer, then the connection closes.
    private func serve() {
        defer { finished.signal() }
        var clients: [Client] = []
        defer { clients.forEach { close($0.fd) } }
        var buf = [UInt8](repeating: 0, count: 4096)
        while !isStopped {
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)] + clients.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), 100) >= 0 else { continue }
            var done: [(Int, RequestEnd)] = []
            let now = Service.now()
            for (i, c) in clients.enumerated() {
                if fds[i + 1].revents != 0 {
                    let n = buf.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n > 0 {
                        clients[i].bytes += buf[0..<n]
                        if Self.requestEnd(clients[i].bytes) != nil { done.append((i, .complete)) }
                    } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        done.append((i, .closed))
                    }
                } else if now >= c.deadline {
                    done.append((i, .timedOut))
                }
            }
            for (i, end) in done.reversed() {
                let c = clients.remove(at: i)
                if dispatch(c, Self.answer(c.bytes, end: end, live: live != nil)) { close(c.fd) }
            }
            if fds[0].revents & Int16(POLLIN) != 0 {
                var peer = sockaddr_storage()
                var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
                let c = withUnsafeMutablePointer(to: &peer) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(fd, $0, &len) } }
                if c >= 0 {
                    _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                    var tv = timeval(tv_sec: 2, tv_usec: 0)
                    setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
                    if clients.count >= Self.maxClients { close(clients.removeFirst().fd) }
                    clients.append(Client(fd: c, deadline: Service.now() + requestTimeout, fromLoopback: HTTPConnection.isLoopback(peer)))
                }
            }
        }
    }

    /// How reading a request ended.
    enum RequestEnd: Equatable { case complete, closed, timedOut }

    /// `.complete` once `bytes` hold a whole request (a line without an HTTP version, or a
    /// line and headers up to a blank line) or more than the limits allow; nil while more may come.
    static func requestEnd(_ bytes: [UInt8]) -> RequestEnd? {
        guard let lf = bytes.firstIndex(of: 10) else { return bytes.count > maxRequestLine ? .complete : nil }
        if bytes.count > maxHead { return .complete }
        let words = bytes[..<lf].split(separator: 32)
        if words.count < 3 { return .complete }  // HTTP/0.9 style or malformed: nothing more to read
        var i = lf + 1  // a blank line ("\r\n" or "\n") ends the headers
        while let next = bytes[i...].firstIndex(of: 10) {
            if next == i || (next == i + 1 && bytes[i] == 13) { return .complete }
            i = next + 1
        }
        return nil
    }

    /// What the listener answers to the request `bytes` (read until `end`).
    enum Answer: Equatable {
        case metrics, health
        /// A live page (`/`, `/streams/...`), served on a thread of its own.
        case page
        case error(status: String, body: String)
    }

    static func answer(_ bytes: [UInt8], end: RequestEnd, live: Bool = false) -> Answer {
        guard let lf = bytes.firstIndex(of: 10) else {
            if bytes.count > maxRequestLine { return .error(status: "414 URI Too Long", body: "request line longer than \(maxRequestLine) bytes\n") }
            if end == .timedOut { return .error(status: "408 Request Timeout", body: "request line not received in time\n") }
            return .error(status: "400 Bad Request", body: "incomplete request line\n")
        }
        let line = bytes[..<lf].last == 13 ? bytes[..<(lf - 1)] : bytes[..<lf]
        let words = line.split(separator: 32)
        guard words.count == 2 || (words.count == 3 && words[2].starts(with: Array("HTTP/".utf8))) else {
            return .error(status: "400 Bad Request", body: "bad request line\n")
        }
        if words.count == 3 && end != .complete {
            return end == .timedOut ? .error(status: "408 Request Timeout", body: "headers not received in time\n")
                                    : .error(status: "400 Bad Request", body: "incomplete headers\n")
        }
        if words.count == 3 && requestEnd(bytes) == .complete && bytes.count > maxHead {
            return .error(status: "431 Request Header Fields Too Large", body: "request headers longer than \(maxHead) bytes\n")
        }
        guard words[0].elementsEqual("GET".utf8) else { return .error(status: "405 Method Not Allowed", body: "only GET\n") }
        if words[1].elementsEqual("/metrics".utf8) { return .metrics }
        if words[1].elementsEqual("/healthz".utf8) { return .health }
        if live {
            let path = String(decoding: words[1].prefix { $0 != UInt8(ascii: "?") }, as: UTF8.self)
            if path == "/" || path.hasPrefix("/streams/") { return .page }
            return .error(status: "404 Not Found", body: "try /, /metrics or /healthz\n")
        }
        return .error(status: "404 Not Found", body: "try /metrics or /healthz\n")
    }

    /// Answers a finished request; false when a live page thread took the connection over
    /// (it closes it).
    private func dispatch(_ c: Client, _ answer: Answer) -> Bool {
        if let token, answer == .metrics || answer == .page {
            let authorized = HTTPRequest.parse(c.bytes, fromLoopback: c.fromLoopback).map { Self.authorized($0, token: token) } ?? false
            if !authorized {
                respond(c.fd, .error(status: "401 Unauthorized", body: "a bearer token is needed (metrics.token)\n"))
                return true
            }
        }
        guard answer == .page, let live else {
            respond(c.fd, answer)
            return true
        }
        guard let req = HTTPRequest.parse(c.bytes, fromLoopback: c.fromLoopback) else {
            respond(c.fd, .error(status: "400 Bad Request", body: "bad request line\n"))
            return true
        }
        let admitted = stopLock.withLock { () -> Bool in
            guard liveOpen < maxConnections else { return false }
            liveOpen += 1
            return true
        }
        guard admitted else {
            live.refusedConnections.inc()
            respond(c.fd, .error(status: "503 Service Unavailable", body: "too many connections\n"))
            return true
        }
        let conn = HTTPConnection(fd: c.fd, fromLoopback: c.fromLoopback)
        let t = Thread { [self] in
            nameCurrentThread("metrics-conn")
            Parallel.lowerCurrentThreadPriority(nice: Self.connectionNice)
            idleCurrentThread()
            if !live.serve(req, on: conn, stopped: { [weak self] in self?.isStopped ?? true }) {
                conn.respond("404 Not Found", text: "try /, /metrics or /healthz\n")
            }
            stopLock.withLock { liveOpen -= 1 }
        }
        t.start()
        return false
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

    private func respond(_ c: Int32, _ answer: Answer) {
        let status: String, type: String, body: String
        switch answer {
        case .metrics: (status, type, body) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", render())
        case .health:
            let (ok, text) = healthy()
            (status, type, body) = (ok ? "200 OK" : "503 Service Unavailable", "text/plain", text + "\n")
        case let .error(s, b): (status, type, body) = (s, "text/plain", b)
        case .page: (status, type, body) = ("404 Not Found", "text/plain", "no live pages here\n")
        }
        let bytes = Array(body.utf8)
        let head = "HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(bytes.count)\r\nConnection: close\r\n\r\n"
        let all = Array(head.utf8) + bytes
        var off = 0
        while off < all.count {
            let n = all.withUnsafeBytes { send(c, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { break }
            off += n
        }
        // Unread request bytes would turn close() into a reset that can discard the answer.
        shutdown(c, Int32(SHUT_WR))
        var sink = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 where sink.withUnsafeMutableBytes({ recv(c, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
    }
}
