// sd_notify(3) without libsystemd: one datagram per call to the AF_UNIX socket named by
// $NOTIFY_SOCKET (a leading '@' names the Linux abstract namespace).
import Foundation

#if canImport(Glibc)
import Glibc
#endif

public final class SystemdNotifier: Sendable {
    public let socketPath: String

    public init(socketPath: String) { self.socketPath = socketPath }

    /// The notifier systemd asked for, or nil when not run by systemd (NOTIFY_SOCKET unset).
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> SystemdNotifier? {
        guard let path = env["NOTIFY_SOCKET"], !path.isEmpty, path.hasPrefix("/") || path.hasPrefix("@") else { return nil }
        return SystemdNotifier(socketPath: path)
    }

    /// The watchdog timeout systemd set for this process (WATCHDOG_USEC, when WATCHDOG_PID
    /// is absent or is our pid); ping at half of it.
    public static func watchdogTimeout(_ env: [String: String] = ProcessInfo.processInfo.environment) -> Double? {
        guard let s = env["WATCHDOG_USEC"], let usec = UInt64(s), usec > 0 else { return nil }
        if let p = env["WATCHDOG_PID"], let pid = Int32(p), pid != getpid() { return nil }
        return Double(usec) / 1_000_000
    }

    /// Sends `state` ("READY=1", "STATUS=...", several joined by newlines). Returns false
    /// (never throws) when the socket is unreachable: notification is best effort.
    @discardableResult
    public func send(_ state: String) -> Bool {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard path.count <= capacity else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.enumerated() { raw[i] = b }
        }
        // Abstract names are not NUL-terminated: the length covers exactly the name.
        let len = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let bytes = Array(state.utf8)
        let sent = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                // Never block the daemon on a receiver that does not read (its queue full):
                // a notification that cannot be queued now is dropped.
                bytes.withUnsafeBytes { Glibc.sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT), sa, len) }
            }
        }
        return sent == bytes.count
    }

    public func ready(status: String? = nil) { send(["READY=1", status.map { "STATUS=\($0)" }].compactMap { $0 }.joined(separator: "\n")) }
    public func status(_ text: String) { send("STATUS=\(text.replacingOccurrences(of: "\n", with: " "))") }
    public func watchdog() { send("WATCHDOG=1") }
    public func stopping(status: String? = nil) { send(["STOPPING=1", status.map { "STATUS=\($0)" }].compactMap { $0 }.joined(separator: "\n")) }
    public func reloading() { send("RELOADING=1") }
}
