import CFFmpeg
import Foundation

/// Everything that can go wrong opening, reading, decoding or converting a source.
/// Every case names the (redacted) source so a log line says which camera or file failed.
public enum DecodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libavformat could not open the input (missing file, refused connection, bad data).
    case openFailed(source: String, reason: String)
    /// Opening did not finish within the configured open timeout.
    case openTimedOut(source: String, seconds: Double)
    /// The input opened but holds no video stream (audio-only file, text, ...).
    case noVideoStream(source: String)
    /// The video stream's codec has no decoder in this FFmpeg build.
    case unsupportedCodec(source: String, codec: String)
    /// The decoder could not be set up or failed hard.
    case decoderFailed(source: String, reason: String)
    /// Reading packets failed (I/O error, network error, corrupt container).
    case readFailed(source: String, reason: String)
    /// The source ended without a single decodable frame.
    case noFrames(source: String, corruptPackets: Int)
    /// No packet arrived for `seconds`: the stall watchdog ended the read.
    case stalled(source: String, seconds: Double)
    /// The read was interrupted on purpose (`interrupt()` / `LiveReader.stop()`).
    case interrupted(source: String)
    /// swscale could not convert the frame.
    case conversionFailed(reason: String)
    /// A still image could not be decoded.
    case imageDecodeFailed(path: String, reason: String)

    public var description: String {
        switch self {
        case let .openFailed(s, r): return "cannot open \(s): \(r)"
        case let .openTimedOut(s, t): return "cannot open \(s): no answer within \(fmt(t)) s (open timeout)"
        case let .noVideoStream(s): return "\(s) has no video stream"
        case let .unsupportedCodec(s, c): return "\(s): unsupported video codec '\(c)' (no decoder in this FFmpeg build)"
        case let .decoderFailed(s, r): return "\(s): decoder failed: \(r)"
        case let .readFailed(s, r): return "\(s): read failed: \(r)"
        case let .noFrames(s, n): return "\(s): no decodable video frame" + (n > 0 ? " (\(n) corrupt packets skipped)" : "")
        case let .stalled(s, t): return "\(s) stalled: no packet for \(fmt(t)) s"
        case let .interrupted(s): return "\(s): interrupted"
        case let .conversionFailed(r): return "frame conversion failed: \(r)"
        case let .imageDecodeFailed(p, r): return "cannot decode image \(p): \(r)"
        }
    }
}

private func fmt(_ t: Double) -> String { String(format: "%.1f", t) }

/// FFmpeg's message for an error code (`av_err2str` is a macro Swift cannot import).
func averrorString(_ code: Int32) -> String {
    var buf = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buf, buf.count) < 0 { return "error \(code)" }
    return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
