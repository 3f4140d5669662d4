// Decode: video in, frames out; RGB pictures in, MP4 out (FFmpeg 5.1 through the CFFmpeg
// shim; no other project module). The module's files:
//
//   Decode           version, one-time setup (network, FFmpeg's log through Redaction),
//                    FFmpeg's log level                                        Decode.swift
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
#if canImport(Glibc)
import Glibc
#endif

/// FFmpeg's log callback: its lines reach stderr only through `Redaction.redact`, so URL
/// credentials and secret query parameters FFmpeg prints never do.
private func redactingLogCallback(_ avcl: UnsafeMutableRawPointer?, _ level: Int32, _ fmt: UnsafePointer<CChar>?, _ vl: CVaListPointer?) {
    guard level <= av_log_get_level(), let vl, let fmt else { return }
    let line = Decode.formattedLogLine(avcl, level, fmt, vl)
    var bytes = Array(line.utf8)
    while !bytes.isEmpty {  // stderr, unbuffered as FFmpeg's own callback writes it
        let n = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        bytes.removeFirst(n)
    }
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
        var line = [CChar](repeating: 0, count: 2048)
        var printPrefix: Int32 = 1
        _ = av_log_format_line2(avcl, level, fmt, vl, &line, Int32(line.count), &printPrefix)
        return Redaction.redact(String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    public enum LogLevel: Int32, Sendable {
        case quiet = -8, panic = 0, fatal = 8, error = 16, warning = 24, info = 32, verbose = 40, debug = 48
    }

    /// FFmpeg's own log threshold (lines go to stderr, credentials redacted).
    public static func setLibraryLogLevel(_ level: LogLevel) {
        initialize()
        av_log_set_level(level.rawValue)
    }
}
