// A live page connection, handed by the metrics listener (which read its request) to a
// thread of its own: responses written with a send timeout, so a client that stops
// reading only ever holds its own thread (never the listener, never a pipeline).
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct HTTPRequest: Sendable {
    var method: String
    /// The path without the query, e.g. "/streams/cam1".
    var path: String
    /// Query parameters (the last of repeated names wins; no percent-decoding but '+').
    var query: [String: String]
    /// Header names lowercased.
    var headers: [String: String]
    /// The peer is on the loopback interface.
    var fromLoopback: Bool

    /// Parses the request line and headers; nil when malformed.
    static func parse(_ bytes: [UInt8], fromLoopback: Bool) -> HTTPRequest? {
        // Lines split on LF bytes ("\r\n" is one Character to Swift's String).
        var lines = bytes.split(separator: 10, omittingEmptySubsequences: false).map { line in
            String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)[...]
        }
        guard !lines.isEmpty else { return nil }
        let first = lines.removeFirst().split(separator: " ")
        guard first.count == 2 || first.count == 3, first[1].hasPrefix("/") else { return nil }
        let target = first[1]
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var query: [String: String] = [:]
        if path.count == 2 {
            for pair in path[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                query[String(kv[0])] = kv.count == 2 ? String(kv[1]).replacingOccurrences(of: "+", with: " ") : ""
            }
        }
        var headers: [String: String] = [:]
        for line in lines {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return HTTPRequest(method: String(first[0]), path: String(path[0]), query: query, headers: headers, fromLoopback: fromLoopback)
    }
}

final class HTTPConnection: @unchecked Sendable {
    let fd: Int32
    let fromLoopback: Bool
    /// Seconds a client gets to send its request, and to take each write.
    static let timeout = 2

    init(fd: Int32, fromLoopback: Bool) {
        self.fd = fd
        self.fromLoopback = fromLoopback
        var tv = timeval(tv_sec: Self.timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    /// A whole response; false when the client did not take it within the timeout.
    @discardableResult
    func respond(_ status: String, type: String, body: [UInt8], headers: [String] = []) -> Bool {
        var head = "HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\n"
        for h in headers { head += h + "\r\n" }
        head += "Connection: close\r\n\r\n"
        return write(Array(head.utf8) + body)
    }

    func respond(_ status: String, type: String = "text/plain; charset=utf-8", text: String, headers: [String] = []) {
        respond(status, type: type, body: Array(text.utf8), headers: headers)
    }

    /// Writes all of `bytes`; false when the peer closed or stalled past the send timeout.
    func write(_ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    /// True once the peer closed its side (or the connection failed): what an event
    /// stream checks between events, so a closed tab frees its watcher place at once.
    var peerClosed: Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN) | pollRDHUP, revents: 0)
        guard poll(&p, 1, 0) > 0 else { return false }
        if p.revents & (Int16(POLLHUP) | Int16(POLLERR) | pollRDHUP) != 0 { return true }
        var b: UInt8 = 0
        return recv(fd, &b, 1, Int32(MSG_PEEK | MSG_DONTWAIT)) == 0
    }

    /// True for 127.0.0.0/8, ::1 and ::ffff:127.0.0.0/104.
    static func isLoopback(_ ss: sockaddr_storage) -> Bool {
        var ss = ss
        return withUnsafePointer(to: &ss) { p -> Bool in
            switch Int32(p.pointee.ss_family) {
            case AF_INET:
                return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) >> 24 == 127 }
            case AF_INET6:
                return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a -> Bool in
                    let b = withUnsafeBytes(of: a.pointee.sin6_addr) { Array($0) }
                    if b[0..<15].allSatisfy({ $0 == 0 }) && b[15] == 1 { return true }
                    return b[0..<10].allSatisfy({ $0 == 0 }) && b[10] == 0xff && b[11] == 0xff && b[12] == 127
                }
            default:
                return false
            }
        }
    }
}

/// Compares a presented secret with the expected one in time that depends only on the
/// expected one's length (no early exit at the first differing byte).
func constantTimeEqual(_ presented: String, _ expected: String) -> Bool {
    let a = Array(presented.utf8), b = Array(expected.utf8)
    var diff = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<b.count { diff |= b[i] ^ (i < a.count ? a[i] : 0) }
    return diff == 0
}

/// True when a `metrics.listen` address binds loopback only (127.0.0.0/8, ::1, localhost).
func isLoopbackListen(_ listen: String) -> Bool {
    guard let (host, _) = splitHostPort(listen) else { return false }
    return host == "localhost" || host == "::1" || host.hasPrefix("127.")
}

/// Linux's POLLRDHUP (peer shut down its writing side); Glibc hides it behind _GNU_SOURCE.
private let pollRDHUP: Int16 = 0x2000
