// Decode: video in, frames out; RGB pictures in, MP4 out (FFmpeg 5.1 through the CFFmpeg
// shim; no other project module). The module's files:
//
//   Decode           version, one-time setup (network, redacting log), FFmpeg's log level  Decode.swift
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
        cffmpeg_install_redacting_log()
    }()

    public enum LogLevel: Int32, Sendable {
        case quiet = -8, panic = 0, fatal = 8, error = 16, warning = 24, info = 32, verbose = 40, debug = 48
    }

    /// FFmpeg's own log threshold (lines go to stderr, credentials redacted).
    public static func setLibraryLogLevel(_ level: LogLevel) {
        initialize()
        av_log_set_level(level.rawValue)
    }
}
