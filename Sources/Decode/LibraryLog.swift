// FFmpeg's log, routed. FFmpeg prints some lines in several calls (a stream dump, a
// "Last message repeated" tail); the router joins the pieces into whole lines, drops the
// `@ 0x55d0...` context pointer from the `[h264 @ 0x55d0...]` prefix (an address says
// nothing to an operator and makes every line unique), redacts credentials, and hands each
// line with its level to the program's handler: the daemon's swift-log (see Daemon's
// Observability/LibraryLog.swift). Without a handler, lines go to stderr as FFmpeg's own
// callback writes them.
import CFFmpeg
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Receives one whole FFmpeg log line (redacted, no trailing newline) with its level.
public typealias LibraryLogHandler = @Sendable (_ level: Decode.LogLevel, _ line: String) -> Void

final class LibraryLogRouter: Sendable {
    static let shared = LibraryLogRouter()

    private struct State {
        var handler: LibraryLogHandler?
        var pending = ""
        var pendingLevel = Int32.max
        var printPrefix: Int32 = 1
    }
    private let state = Mutex(State())

    func setHandler(_ handler: LibraryLogHandler?) { state.withLock { $0.handler = handler } }

    /// One av_log call. Formatted under the lock so that the prefix state carries from one
    /// piece to the next, as FFmpeg's own callback keeps it in a static.
    func receive(_ avcl: UnsafeMutableRawPointer?, _ level: Int32, _ fmt: UnsafePointer<CChar>, _ vl: CVaListPointer) {
        let (handler, lines) = state.withLock { st -> (LibraryLogHandler?, [(Int32, String)]) in
            st.pending += Decode.formattedLogPiece(avcl, level, fmt, vl, printPrefix: &st.printPrefix)
            st.pendingLevel = min(st.pendingLevel, level)
            guard st.pending.hasSuffix("\n") || st.pending.utf8.count > 4096 else { return (st.handler, []) }
            let text = st.pending, lineLevel = st.pendingLevel
            st.pending = ""
            st.pendingLevel = .max
            let lines = text.split(separator: "\n", omittingEmptySubsequences: true)
                .map { Self.withoutContextPointers(String($0)) }
                .filter { !$0.allSatisfy(\.isWhitespace) }
            return (st.handler, lines.map { (lineLevel, $0) })
        }
        for (l, line) in lines {
            if let handler { handler(Decode.LogLevel(library: l), line) } else { Self.writeStandardError(line + "\n") }
        }
    }

    /// `[h264 @ 0x55d0c0a0b1c0] [in#0 @ 0x1] text` -> `[h264] [in#0] text`.
    static func withoutContextPointers(_ line: String) -> String {
        var out = Substring(line)
        var result = ""
        while let at = out.range(of: " @ 0x") {
            let digits = out[at.upperBound...].prefix { $0.isHexDigit }
            let after = out[at.upperBound...].dropFirst(digits.count)
            if !digits.isEmpty, after.first == "]" {
                result += out[..<at.lowerBound]
                out = after
            } else {
                result += out[..<at.upperBound]
                out = out[at.upperBound...]
            }
        }
        return result + out
    }

    static func writeStandardError(_ text: String) {
        var bytes = Array(text.utf8)
        while !bytes.isEmpty {  // unbuffered, as FFmpeg's own callback writes
            let n = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            if n <= 0 { return }
            bytes.removeFirst(n)
        }
    }
}
