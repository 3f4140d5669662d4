// FFmpeg's log through swift-log. Decode hands over whole, redacted lines (Decode's
// LibraryLog.swift); here they get a swift-log level, a rate limit and counters, and go out
// through the logger the command bootstrapped (journald priorities under systemd).
//
// Levels. An FFmpeg "error" is one packet, one frame or one request the library could not
// handle; the daemon recovers from it (reconnects, skips, counts) and says so itself, so to
// the daemon it is a warning. panic/fatal -> error, error -> warning, warning -> notice,
// info -> info, verbose -> debug, debug -> trace.
//
// Rate. A broken stream can make FFmpeg print hundreds of lines a second ("error while
// decoding MB ..."). At most `linesPerWindow` lines pass per window; the rest are counted
// (`regionspotd_ffmpeg_log_suppressed_total`) and the next line that passes says how many
// were held back.
import Decode
import Logging
import Synchronization

enum LibraryLog {
    static func level(_ l: Decode.LogLevel) -> Logger.Level {
        switch l {
        case .quiet, .panic, .fatal: return .error
        case .error: return .warning
        case .warning: return .notice
        case .info: return .info
        case .verbose: return .debug
        case .debug: return .trace
        }
    }

    /// The FFmpeg threshold that formats exactly the lines `threshold` would log.
    static func libraryThreshold(for threshold: Logger.Level) -> Decode.LogLevel {
        Decode.LogLevel.allCases.last { $0 != .quiet && level($0) >= threshold } ?? .quiet
    }

    /// For a one-shot command: FFmpeg's lines at `threshold` and above on a logger of their
    /// own ("ffmpeg") whose level lets them through the bootstrapped handler. `recognize`,
    /// `train` and `eval` use `.error`: their own error names the file FFmpeg could not
    /// read, and FFmpeg's version of it would only come first.
    static func installForCommand(threshold: Logger.Level) {
        var logger = Logger(label: "ffmpeg")
        logger.logLevel = threshold
        install(logger: logger, threshold: threshold)
    }

    /// Routes FFmpeg's log to `logger` (label "ffmpeg" is a good one) from now on. Lines
    /// below `threshold` are never formatted; `registry` gets the counters when given.
    static func install(logger: Logger, threshold: Logger.Level, registry: MetricsRegistry? = nil,
                        limiter: LogRateLimiter = LogRateLimiter()) {
        var perLevel: [Int32: CounterMetric] = [:]
        for l in Decode.LogLevel.allCases where l != .quiet {
            perLevel[l.rawValue] = registry?.counter("regionspotd_ffmpeg_log_lines_total", help: "FFmpeg log lines, by FFmpeg's level.",
                                                  labels: [("level", "\(l)")])
        }
        let lines = perLevel
        let suppressed = registry?.counter("regionspotd_ffmpeg_log_suppressed_total",
                                           help: "FFmpeg log lines held back by the rate limit.")
        Decode.setLibraryLog(level: libraryThreshold(for: threshold)) { l, line in
            lines[l.rawValue]?.inc()
            let (pass, held) = limiter.admit()
            guard pass else { suppressed?.inc(); return }
            let note = held > 0 ? " (\(held) FFmpeg lines held back by the rate limit before this one)" : ""
            logger.log(level: level(l), "\(line)\(note)")
        }
    }
}

/// At most `linesPerWindow` lines per `window` seconds; counts what it holds back and hands
/// the count to the next line that passes.
final class LogRateLimiter: Sendable {
    let linesPerWindow: Int
    let window: Double
    private let clock: @Sendable () -> Double
    private struct State { var windowStart = -Double.infinity; var passed = 0; var held = 0 }
    private let state = Mutex(State())

    init(linesPerWindow: Int = 20, window: Double = 10, clock: @escaping @Sendable () -> Double = { Double(monotonicNanos()) / 1e9 }) {
        self.linesPerWindow = linesPerWindow
        self.window = window
        self.clock = clock
    }

    /// Whether this line may pass, and (when it does) how many lines were held back before it.
    func admit() -> (pass: Bool, heldBefore: Int) {
        let now = clock()
        return state.withLock { s in
            if now - s.windowStart >= window {
                s.windowStart = now
                s.passed = 0
            }
            guard s.passed < linesPerWindow else {
                s.held += 1
                return (false, 0)
            }
            s.passed += 1
            defer { s.held = 0 }
            return (true, s.held)
        }
    }
}
