// The metrics listener, fuzzed: request bytes through the reader/router it uses
// (MetricsHTTPServer.answer) in one process, then raw TCP clients against a real listener:
// garbage, oversized request lines and headers, partial requests (left open or
// half-closed), path traversal, idle connections held open. Each case has one answer
// (200/400/404/405/408/414/431, then close); /healthz answers promptly after each case
// and while idle connections are held.
import Foundation
import FuzzSupport
import Testing
@testable import Daemon

#if canImport(Glibc)
import Glibc
#endif

/// A raw TCP client of 127.0.0.1:`port`.
struct RawHTTP {
    let fd: Int32
    init?(port: UInt16) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = port.bigEndian
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard rc == 0 else { Glibc.close(fd); return nil }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }
    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + off, $0.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }
    func halfClose() { shutdown(fd, Int32(SHUT_WR)) }
    /// Everything until the server closes (or 5 s pass).
    func readAll() -> String {
        var out = [UInt8](), buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
    func close() { Glibc.close(fd) }

    /// One exchange on a fresh connection: `bytes` sent (then half-closed if asked), the
    /// whole answer read; nil when no connection was made.
    static func exchange(port: UInt16, _ bytes: [UInt8], halfClose: Bool = false) -> String? {
        guard let c = RawHTTP(port: port) else { return nil }
        defer { c.close() }
        c.send(bytes)
        if halfClose { c.halfClose() }
        return c.readAll()
    }

    /// GET `path` (HTTP/1.0): the answer.
    static func get(port: UInt16, _ path: String) -> String? { exchange(port: port, Array("GET \(path) HTTP/1.0\r\n\r\n".utf8)) }

    /// The status code of a full exchange, or nil when the server closed without one.
    static func status(_ response: String) -> Int? {
        guard response.hasPrefix("HTTP/1.0 ") else { return nil }
        return Int(response.dropFirst(9).prefix(3))
    }
}

@Suite("fuzz: HTTP metrics listener", .serialized)
struct HTTPFuzzTests {
    enum Kind: Int, CaseIterable { case metrics, health, traversal, method, noSpace, longLine, longHead, garbage, halfClosed }

    static let traversal = ["/../../etc/passwd", "/metrics/../healthz", "/%2e%2e/%2e%2e/etc/shadow", "//metrics", "/metrics/", "/healthz?x=1",
                            "/METRICS", "/\u{0}", "/metrics%00", "http://127.0.0.1/metrics", "*", "/./healthz", "\\..\\..\\windows"]

    /// Case `i`: bytes to send, whether to half-close, what was done and the one status expected.
    static func request(_ i: Int, _ dice: inout Dice) -> ([UInt8], Bool, String, Int) {
        let kind = Kind(rawValue: i % Kind.allCases.count)!
        let version = dice.pick([" HTTP/1.0", " HTTP/1.1", ""])
        let head = version.isEmpty ? "\r\n" : "\r\nHost: x\r\nUser-Agent: fuzz\r\n\r\n"
        switch kind {
        case .metrics: return (Array("GET /metrics\(version)\(head)".utf8), false, "GET /metrics", 200)
        case .health: return (Array("GET /healthz\(version)\(head)".utf8), false, "GET /healthz", 200)
        case .traversal:
            let p = dice.pick(traversal)
            return (Array("GET \(p)\(version)\(head)".utf8), false, "GET \(p.debugDescription)", 404)
        case .method:
            let m = dice.pick(["POST", "PUT", "DELETE", "HEAD", "get", "OPTIONS", "CONNECT", "G\u{7f}T"])
            return (Array("\(m) /metrics\(version)\(head)".utf8), false, "method \(m.debugDescription)", 405)
        case .noSpace:  // a request line of one word
            let word = String(decoding: dice.bytes(1 + dice.int(200)).map { b -> UInt8 in [10, 13, 32].contains(b) ? 65 : b }, as: UTF8.self)
            return (Array((word + "\r\n\r\n").utf8), false, "one-word line \(word.utf8.count) bytes", 400)
        case .longLine:  // no line end within the limit
            let n = MetricsHTTPServer.maxRequestLine + dice.int(20_000)
            return (Array("GET /".utf8) + [UInt8](repeating: 0x61, count: n), false, "request line of \(n) bytes", 414)
        case .longHead:  // a request line, then headers past the limit
            let n = MetricsHTTPServer.maxHead + dice.int(60_000)
            return (Array("GET /healthz HTTP/1.1\r\n".utf8) + Array(String(repeating: "X-Fill: \(String(repeating: "y", count: 90))\r\n", count: n / 100 + 1).utf8),
                    false, "headers of \(n) bytes", 431)
        case .garbage:  // random bytes ending in a blank line: whatever the line says, answered and closed
            var b = dice.bytes(1 + dice.int(3000))
            b += [13, 10, 13, 10]
            return (b, false, "\(b.count) random bytes", -1)
        case .halfClosed:  // the client stops before the line ends
            let full = Array("GET /healthz HTTP/1.0\r\n".utf8)
            let cut = dice.int(full.count - 1)
            return (Array(full.prefix(cut)), true, "half-closed after \(cut) bytes", 400)
        }
    }

    static func allowed(_ status: Int?) -> Bool { [200, 400, 404, 405, 408, 414, 431].contains(status ?? 0) }

    @Test("every request gets its one status and a close; /healthz answers after each (seeded; REGIONSPOTD_FUZZ_SCALE multiplies the count)")
    func requests() throws {
        let server = try MetricsHTTPServer(listen: "127.0.0.1:0", render: { "regionspotd_up 1\n" }, requestTimeout: 0.5)
        defer { server.stop() }
        let seed: UInt64 = 9464
        var dice = Dice(s: seed)
        var statuses: [Int: Int] = [:]
        for i in 0..<FuzzScale.count(450) {
            let (bytes, half, what, expected) = Self.request(i, &dice)
            let tag = "seed \(seed) case \(i) (\(what))"
            let got: Int?? = withDeadline(10) { RawHTTP.exchange(port: server.port, bytes, halfClose: half).flatMap(RawHTTP.status) }
            guard let got else { Issue.record("\(tag): no close within 10 s"); continue }
            statuses[got ?? 0, default: 0] += 1
            if expected > 0 { #expect(got == expected, "\(tag): \(String(describing: got))") } else { #expect(Self.allowed(got), "\(tag): \(String(describing: got))") }
            if i % 10 == 9 {
                let t0 = Date()
                let health = withDeadline(2) { RawHTTP.get(port: server.port, "/healthz").flatMap(RawHTTP.status) }
                #expect(health == 200, "\(tag): /healthz after it: \(String(describing: health)) in \(Date().timeIntervalSince(t0)) s")
            }
        }
        fuzzReport("HTTP: \(FuzzScale.count(450)) requests, statuses \(statuses.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))")
        #expect(statuses[200, default: 0] >= FuzzScale.count(100) && statuses[404, default: 0] >= FuzzScale.count(40), "\(statuses)")
    }

    @Test("partial requests left open time out with 408; /healthz answers while 200 idle connections are held")
    func slowClients() throws {
        let server = try MetricsHTTPServer(listen: "127.0.0.1:0", render: { "regionspotd_up 1\n" }, requestTimeout: 1.5)
        defer { server.stop() }
        var idle: [RawHTTP] = []
        defer { idle.forEach { $0.close() } }
        for i in 0..<200 {
            guard let c = RawHTTP(port: server.port) else { continue }
            if i % 2 == 0 { c.send(Array("GET /metr".utf8)) }
            idle.append(c)
        }
        #expect(idle.count == 200)
        let t0 = Date()
        let health = withDeadline(3) { RawHTTP.get(port: server.port, "/healthz").flatMap(RawHTTP.status) }
        let took = Date().timeIntervalSince(t0)
        #expect(health == 200 && took < 1.0, "/healthz: \(String(describing: health)) after \(took) s with 200 idle connections")
        // The held partial requests end with 408 at the timeout (or were closed to make room).
        let answers = idle.prefix(20).map { RawHTTP.status($0.readAll()) }
        #expect(answers.allSatisfy { $0 == 408 || $0 == nil }, "\(answers)")
        #expect(answers.contains(408), "\(answers)")
    }
}
