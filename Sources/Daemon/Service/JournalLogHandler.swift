// swift-log handler for journald: one line per event on stderr, prefixed with the syslog
// priority (`<3>` err ... `<7>` debug) that journald turns into PRIORITY=. Outside
// journald (JOURNAL_STREAM unset) each line also gets a UTC timestamp. Every line goes
// through `Redaction.redact`, so a URL with credentials cannot leak through a log.
import Decode
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let label: String
    let sink: LogSink

    public init(label: String, level: Logger.Level = .info, sink: LogSink = .standardError) {
        self.label = label
        self.logLevel = level
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// syslog(3) priorities: emerg 0 ... debug 7.
    public static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    public func log(event: LogEvent) {
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        let fields = all.sorted { $0.key < $1.key }.map { "\($0.key)=\(Self.quote("\($0.value)"))" }
        var line = "<\(Self.priority(event.level))>"
        if sink.timestamps { line += Self.timestamp() + " " }
        line += "\(label): \(event.message)"
        if !fields.isEmpty { line += " " + fields.joined(separator: " ") }
        // One event is one journal entry: newlines inside would split it.
        line = Redaction.redact(line).replacingOccurrences(of: "\n", with: "\\n") + "\n"
        sink.write(line)
    }

    static func quote(_ v: String) -> String {
        v.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) || v.isEmpty
            ? "\"" + v.replacingOccurrences(of: "\"", with: "\\\"") + "\"" : v
    }

    static func timestamp() -> String { RFC3339.format(Date()) }

    /// Bootstraps swift-log with this handler at `level` (call once, at startup).
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in JournalLogHandler(label: label, level: level) }
    }
}

/// Where log lines go: a file descriptor (stderr) or a capture buffer (tests).
public final class LogSink: @unchecked Sendable {
    let fd: Int32
    let timestamps: Bool
    private let lock = NSLock()
    private var captured: [String]?

    public static let standardError = LogSink(fd: 2, timestamps: ProcessInfo.processInfo.environment["JOURNAL_STREAM"] == nil)

    public init(fd: Int32, timestamps: Bool) { self.fd = fd; self.timestamps = timestamps }

    /// A sink that keeps lines in memory (for tests).
    public static func capture() -> LogSink {
        let s = LogSink(fd: -1, timestamps: false)
        s.captured = []
        return s
    }

    public var lines: [String] { lock.withLock { captured ?? [] } }

    func write(_ line: String) {
        lock.withLock {
            if captured != nil { captured!.append(line); return }
            var bytes = Array(line.utf8)
            var off = 0
            while off < bytes.count {
                let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { return }
                off += n
            }
        }
    }
}
