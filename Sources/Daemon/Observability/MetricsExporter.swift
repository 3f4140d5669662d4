// Getting metrics out: a node_exporter textfile (written atomically: temp file + rename
// in the same directory) and/or a tiny HTTP/1.0 endpoint on its own thread serving
// GET /metrics (Prometheus text) and GET /healthz (200 while no component is wedged).
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
    private let stopLock = NSLock()
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    /// Binds `listen` ("host:port"; port 0 picks a free one) and starts serving.
    public init(listen: String, render: @escaping @Sendable () -> String,
                healthy: @escaping @Sendable () -> (Bool, String) = { (true, "ok") }) throws {
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
        guard bind(s, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0, Glibc.listen(s, 16) == 0 else {
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

    private var isStopped: Bool { stopLock.withLock { stopped } }

    private func serve() {
        defer { finished.signal() }
        while !isStopped {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 200) > 0 else { continue }
            let c = accept(fd, nil, nil)
            guard c >= 0 else { continue }
            handle(c)
            close(c)
        }
    }

    /// One request per connection; a client gets 2 s to send its request line.
    private func handle(_ c: Int32) {
        var tv = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var request = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 2048)
        while request.count < 8192 {
            let n = buf.withUnsafeMutableBytes { recv(c, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            request += buf[0..<n]
            if request.count >= 4, request.suffix(4).elementsEqual("\r\n\r\n".utf8) || request.contains(10) { break }
        }
        let line = String(decoding: request.prefix { $0 != 13 && $0 != 10 }, as: UTF8.self)
        let parts = line.split(separator: " ")
        let status: String, type: String, body: String
        if parts.count < 2 {
            (status, type, body) = ("400 Bad Request", "text/plain", "bad request\n")
        } else if parts[0] != "GET" {
            (status, type, body) = ("405 Method Not Allowed", "text/plain", "only GET\n")
        } else if parts[1] == "/metrics" {
            (status, type, body) = ("200 OK", "text/plain; version=0.0.4; charset=utf-8", render())
        } else if parts[1] == "/healthz" {
            let (ok, text) = healthy()
            (status, type, body) = (ok ? "200 OK" : "503 Service Unavailable", "text/plain", text + "\n")
        } else {
            (status, type, body) = ("404 Not Found", "text/plain", "try /metrics or /healthz\n")
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
    }
}
