import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A real GStreamer RTSP server (scripts/rtsp-test-server.py under Debian's python3) on
/// 127.0.0.1 for tests: start, kill (dropped camera), SIGSTOP/SIGCONT (hung camera), restart
/// on the same port. Always `kill()` it in a `defer`; deinit kills it too.
final class RTSPTestServer: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("scripts/rtsp-test-server.py").path

    let port: Int
    var url: String { "rtsp://127.0.0.1:\(port)/live" }
    private var process: Process?

    init(port: Int? = nil) throws {
        self.port = try port ?? TestSocket.unusedPort()
    }

    deinit { kill() }

    /// Starts the server and waits (bounded) until it accepts RTSP connections.
    func start(timeout: Double = 20) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = [Self.script, "--port", "\(port)"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            guard p.isRunning else {
                throw TestMedia.ToolError(description: "RTSP test server exited with \(p.terminationStatus)")
            }
            if Self.canConnect(port: port) { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill()
        throw TestMedia.ToolError(description: "RTSP test server not listening on \(port) after \(timeout) s")
    }

    /// SIGKILL and reap (a dropped camera). Safe to call repeatedly.
    func kill() {
        guard let p = process else { return }
        process = nil
        if p.isRunning {
            Glibc.kill(p.processIdentifier, SIGCONT)
            Glibc.kill(p.processIdentifier, SIGKILL)
        }
        p.waitUntilExit()
    }

    /// Freezes the server (a hung camera: the socket stays open, nothing arrives).
    func pause() { if let p = process { Glibc.kill(p.processIdentifier, SIGSTOP) } }
    func resume() { if let p = process { Glibc.kill(p.processIdentifier, SIGCONT) } }

    static func canConnect(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// Collects a LiveReader's callbacks thread-safely and waits for conditions on them.
final class ReaderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var _events: [ReaderEventRecord] = []
    private var _frames = 0
    private var _lastPts: [Double] = []

    struct ReaderEventRecord { var state: String; var reason: String; var at: Date }

    func record(state: String, reason: String) {
        lock.lock(); _events.append(.init(state: state, reason: reason, at: Date())); lock.unlock()
    }
    private var _lastFrameAt: Date?
    func frame(pts: Double) { lock.lock(); _frames += 1; _lastPts.append(pts); _lastFrameAt = Date(); lock.unlock() }
    var lastFrameAt: Date? { lock.lock(); defer { lock.unlock() }; return _lastFrameAt }

    var events: [ReaderEventRecord] { lock.lock(); defer { lock.unlock() }; return _events }
    var frames: Int { lock.lock(); defer { lock.unlock() }; return _frames }
    var states: [String] { events.map(\.state) }

    /// Polls `condition` every 20 ms until it holds or `timeout` passes; returns whether it held.
    @discardableResult
    func wait(_ timeout: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date(timeIntervalSinceNow: timeout)
        while Date() < deadline {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }
}
