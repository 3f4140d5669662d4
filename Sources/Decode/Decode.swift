// Decode: video in, frames out; RGB pictures in, MP4 out (FFmpeg 5.1 through the CFFmpeg
// shim; no other project module). The module's files:
//
//   Decode           version, one-time setup (network, FFmpeg's log through Redaction),
//                    FFmpeg's log level                                        Decode.swift
//   LibraryLog       FFmpeg's log lines, whole and redacted, to the program's handler  LibraryLog.swift
//   VideoSource      open a path / file: / rtsp: / rtsps: URL, decode frames in presentation
//                    order (keyframes-only, motion vectors, looping, real-time pacing),
//                    open timeout + stall watchdog (AVIOInterruptCB)           VideoSource.swift
//   SourceOptions    how to open and read a source; StreamInfo, isLiveURL     SourceOptions.swift
//   Watchdog         the AVIOInterruptCB deadlines; CancelToken               Watchdog.swift
//   VideoFrame       index, pts (+estimated flag), arrival, key/pict type, size, motion
//                    vectors, and the ref-counted decoded picture                VideoFrame.swift
//   FrameConverter   swscale to RGB24: native size or WxH                     FrameConverter.swift
//   LiveReader       a source on its own thread with reconnect/backoff and states LiveReader.swift
//   FileMetadata     a file's creation time and frame count, header only     FileMetadata.swift
//   decodeImage      JPEG/PNG -> RGB24                                          ImageDecoder.swift
//   VideoEncoder     RGB24 pictures -> MP4, H.264 when built in (replay's annotated video)  VideoEncoder.swift
//   DecodeError                                                                 DecodeError.swift
//   Redaction        credentials and secret query parameters out of URLs in text  Redaction.swift
import CFFmpeg

/// FFmpeg's log callback: every line goes through `Redaction.redact` (URL credentials and
/// secret query parameters FFmpeg prints never reach a log), then to the handler the program
/// installed (`Decode.setLibraryLog`), or to stderr when none is.
private func redactingLogCallback(_ avcl: UnsafeMutableRawPointer?, _ level: Int32, _ fmt: UnsafePointer<CChar>?, _ vl: CVaListPointer?) {
    guard level <= av_log_get_level(), let vl, let fmt else { return }
    LibraryLogRouter.shared.receive(avcl, level, fmt, vl)
}

public enum Decode {
    /// libavformat's version string, e.g. "59.27.100".
    public static var version: String {
        let v = avformat_version()
        return "\(v >> 16).\((v >> 8) & 0xff).\(v & 0xff)"
    }

    /// One-time global setup: network (RTSP/TLS) and FFmpeg's log through a callback that
    /// redacts URL credentials. Called by every entry point; safe to call again.
    public static func initialize() { _ = setup }

    private static let setup: Void = {
        avformat_network_init()
        av_log_set_callback(redactingLogCallback)
    }()

    /// One FFmpeg log line as FFmpeg's default callback formats it (with the `[name @ ptr]`
    /// prefix), through `Redaction.redact`.
    public static func formattedLogLine(_ avcl: UnsafeMutableRawPointer?, _ level: Int32, _ fmt: UnsafePointer<CChar>, _ vl: CVaListPointer) -> String {
        var printPrefix: Int32 = 1
        return formattedLogPiece(avcl, level, fmt, vl, printPrefix: &printPrefix)
    }

    /// A piece of a log line: FFmpeg prints some lines in several calls, and `printPrefix`
    /// (which av_log_format_line2 keeps) says whether this piece starts a line.
    static func formattedLogPiece(_ avcl: UnsafeMutableRawPointer?, _ level: Int32, _ fmt: UnsafePointer<CChar>, _ vl: CVaListPointer,
                                  printPrefix: inout Int32) -> String {
        var line = [CChar](repeating: 0, count: 2048)
        _ = av_log_format_line2(avcl, level, fmt, vl, &line, Int32(line.count), &printPrefix)
        return Redaction.redact(String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    public enum LogLevel: Int32, Sendable, CaseIterable {
        case quiet = -8, panic = 0, fatal = 8, error = 16, warning = 24, info = 32, verbose = 40, debug = 48

        /// The level of an FFmpeg line: the named level at or above it in severity
        /// (AV_LOG_TRACE, 56, is `debug`).
        public init(library value: Int32) {
            self = LogLevel.allCases.last { $0.rawValue <= value } ?? .panic
        }
    }

    /// FFmpeg's own log threshold: lines above it are never formatted.
    public static func setLibraryLogLevel(_ level: LogLevel) {
        initialize()
        av_log_set_level(level.rawValue)
    }

    /// Where FFmpeg's log lines go: `handler` receives each complete line (redacted, without
    /// the context pointer FFmpeg prints, without the newline) with its level; lines above
    /// `level` are not formatted at all. `nil` restores stderr.
    public static func setLibraryLog(level: LogLevel, handler: LibraryLogHandler?) {
        initialize()
        LibraryLogRouter.shared.setHandler(handler)
        av_log_set_level(level.rawValue)
    }
}
