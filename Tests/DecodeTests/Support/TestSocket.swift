import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Plain TCP sockets on 127.0.0.1 for network tests (free ports, a server that never answers).
struct TestSocket {
    let fd: Int32
    let port: Int

    /// A socket listening on 127.0.0.1 at a free port that never accepts or answers.
    static func listening() throws -> TestSocket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestMedia.ToolError(description: "socket() failed") }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 16) == 0 else {
            Glibc.close(fd)
            throw TestMedia.ToolError(description: "bind/listen failed")
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return TestSocket(fd: fd, port: Int(UInt16(bigEndian: addr.sin_port)))
    }

    /// A port that was free a moment ago (bound, then released).
    static func unusedPort() throws -> Int {
        let s = try listening()
        s.close()
        return s.port
    }

    func close() { _ = Glibc.close(fd) }
}
