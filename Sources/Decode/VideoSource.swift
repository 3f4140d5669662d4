import CFFmpeg
import Foundation

/// One opened video source (file or network stream) and its decoder.
///
/// Not thread-safe: create it, call `nextFrame()` and drop it on one thread (a blocking
/// reader thread you own, not the cooperative pool). Only `interrupt()` may be called from
/// another thread. Everything FFmpeg allocated is freed in deinit.
public final class VideoSource: @unchecked Sendable {
    /// The source as it may be logged (credentials redacted).
    public let name: String
    public let info: StreamInfo
    public let options: SourceOptions

    /// Frames yielded so far.
    public private(set) var framesDecoded = 0
    /// Keyframes among them.
    public private(set) var keyframesDecoded = 0
    /// Packets the decoder rejected as invalid (corrupt data is skipped, not fatal).
    public private(set) var corruptPackets = 0
    /// Frames the decoder flagged corrupt (still yielded).
    public private(set) var corruptFrames = 0

    private let handles: Handles
    private var watchdog: Watchdog { handles.watchdog }
    private let streamIndex: Int32
    private let timeBase: Double
    private let frameDuration: Double

    private var draining = false
    private var lastPts: Double?
    // Looping: PTS of this pass are shifted by `passOffset`.
    private var passOffset = 0.0
    private var passFirstPts: Double?
    private var passMaxPts: Double?
    private var passFrames = 0
    // Real-time pacing anchor: (wall, pts).
    private var paceAnchor: (wall: Double, pts: Double)?

    /// Opens `url` (a path, `file:`, `rtsp:`, `rtsps:` or anything libavformat opens) and
    /// its video decoder. Throws a `DecodeError` naming the problem; never crashes on bad input.
    /// `cancel`, when given, interrupts the open and every later read once cancelled.
    public init(url: String, options: SourceOptions = SourceOptions(), cancel: CancelToken? = nil) throws {
        Decode.initialize()
        let name = Redaction.redact(url)
        self.name = name
        self.options = options
        let live = isLiveURL(url)
        // Owns every FFmpeg allocation; frees them when init throws or the source goes away.
        let h = Handles(watchdog: Watchdog(token: cancel))
        let watchdog = h.watchdog

        // Demuxer, with the watchdog in the I/O path.
        guard let fmt = avformat_alloc_context() else {
            throw DecodeError.openFailed(source: name, reason: "out of memory")
        }
        fmt.pointee.interrupt_callback = AVIOInterruptCB(
            callback: { opaque in
                guard let opaque else { return 0 }
                return Unmanaged<Watchdog>.fromOpaque(opaque).takeUnretainedValue().shouldInterrupt() ? 1 : 0
            },
            opaque: Unmanaged.passUnretained(watchdog).toOpaque())
        var dict: OpaquePointer?
        defer { av_dict_free(&dict) }
        let scheme = url.range(of: "://").map { url[..<$0.lowerBound].lowercased() } ?? ""
        if !live {
            // image2 would read '%d' in a file name as a sequence pattern; a path is a path.
            av_dict_set(&dict, "pattern_type", "none", 0)
        }
        if scheme == "rtsp" || scheme == "rtsps" {
            av_dict_set(&dict, "rtsp_transport", options.transport.rawValue, 0)
            // Socket I/O timeout in microseconds; the watchdog bounds the rest.
            av_dict_set(&dict, "timeout", String(Int64(options.openTimeout * 1_000_000)), 0)
        }
        watchdog.arm(.openTimeout, seconds: options.openTimeout)
        var fmtOpt: UnsafeMutablePointer<AVFormatContext>? = fmt
        // A local path with a ':' ("cam1:2024.mp4") would be read as a protocol name.
        let target = !live && url.contains(":") && !url.contains("://") && !url.hasPrefix("file:")
            && FileManager.default.fileExists(atPath: url) ? "file:" + url : url
        let openResult = avformat_open_input(&fmtOpt, target, nil, &dict)
        if openResult < 0 {
            // avformat_open_input frees the context on failure.
            if watchdog.fired == .openTimeout { throw DecodeError.openTimedOut(source: name, seconds: options.openTimeout) }
            if watchdog.fired == .aborted { throw DecodeError.interrupted(source: name) }
            throw DecodeError.openFailed(source: name, reason: averrorString(openResult))
        }
        h.format = fmtOpt
        // From here on `h` releases whatever was allocated, also when init throws.
        let infoResult = avformat_find_stream_info(fmt, nil)
        if infoResult < 0 {
            let fired = watchdog.fired
            if fired == .openTimeout { throw DecodeError.openTimedOut(source: name, seconds: options.openTimeout) }
            if fired == .aborted { throw DecodeError.interrupted(source: name) }
            throw DecodeError.openFailed(source: name, reason: "cannot read stream info: \(averrorString(infoResult))")
        }
        watchdog.disarm()

        // The best video stream and its decoder.
        var decoder: UnsafePointer<AVCodec>?
        let best = av_find_best_stream(fmt, AVMEDIA_TYPE_VIDEO, -1, -1, &decoder, 0)
        if best < 0 {
            let videoIndex = (0..<Int(fmt.pointee.nb_streams)).first {
                fmt.pointee.streams[$0]!.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO
            }
            if best == cffmpeg_averror_decoder_not_found(), let i = videoIndex {
                throw DecodeError.unsupportedCodec(source: name, codec: Self.codecDescription(fmtOpt!, i))
            }
            throw DecodeError.noVideoStream(source: name)
        }
        streamIndex = best
        let stream = fmt.pointee.streams[Int(best)]!
        for i in 0..<Int(fmt.pointee.nb_streams) where i != Int(best) {
            fmt.pointee.streams[i]!.pointee.discard = AVDISCARD_ALL  // read video only
        }
        let tb = stream.pointee.time_base
        timeBase = tb.den != 0 ? Double(tb.num) / Double(tb.den) : 1.0 / 90_000
        let rate = [stream.pointee.avg_frame_rate, stream.pointee.r_frame_rate]
            .first { $0.num > 0 && $0.den > 0 }
        let fps = rate.map { Double($0.num) / Double($0.den) } ?? 0
        frameDuration = fps > 0 ? 1 / fps : 1.0 / 25

        guard let ctx = avcodec_alloc_context3(decoder) else {
            throw DecodeError.decoderFailed(source: name, reason: "out of memory")
        }
        h.codec = ctx
        var r = avcodec_parameters_to_context(ctx, stream.pointee.codecpar)
        if r < 0 { throw DecodeError.decoderFailed(source: name, reason: averrorString(r)) }
        ctx.pointee.pkt_timebase = tb
        ctx.pointee.thread_count = Int32(max(0, options.decoderThreads))
        if options.motionVectors { ctx.pointee.flags2 |= cffmpeg_flag2_export_mvs() }
        if options.keyframesOnly { ctx.pointee.skip_frame = AVDISCARD_NONKEY }
        r = avcodec_open2(ctx, decoder, nil)
        if r < 0 { throw DecodeError.decoderFailed(source: name, reason: "cannot open decoder: \(averrorString(r))") }
        h.packet = av_packet_alloc()
        h.frame = av_frame_alloc()
        if h.packet == nil || h.frame == nil { throw DecodeError.decoderFailed(source: name, reason: "out of memory") }

        let par = stream.pointee.codecpar.pointee
        let duration = fmt.pointee.duration
        info = StreamInfo(
            codec: String(cString: avcodec_get_name(par.codec_id)),
            width: Int(par.width), height: Int(par.height), frameRate: fps,
            duration: duration > 0 && duration != cffmpeg_nopts_value() ? Double(duration) / Double(AV_TIME_BASE) : nil,
            isLive: live,
            container: fmt.pointee.iformat.map { String(cString: $0.pointee.name) } ?? "?")
        handles = h
    }


    /// Ends a pending or future blocking read from any thread: it throws `.interrupted`.
    public func interrupt() { watchdog.abort() }

    /// Frees the demuxer and decoder now (deinit does it otherwise); later reads throw
    /// `.interrupted`. Closing an RTSP session sends TEARDOWN, bounded to 1 s, or none
    /// after a stall (the server is not answering anyway).
    public func close() { handles.close() }

    /// The next decoded frame in presentation order, or nil at the end of the source
    /// (never for looping files; `.noFrames` if the source ended without any frame). Throws `.stalled` when no packet arrived within
    /// `options.stallTimeout`, `.readFailed` on I/O errors, `.interrupted` after `interrupt()`.
    public func nextFrame() throws -> VideoFrame? {
        guard let format = handles.format, let codec = handles.codec,
              let packet = handles.packet, let frame = handles.frame else { throw DecodeError.interrupted(source: name) }
        while true {
            if watchdog.isAborted { throw DecodeError.interrupted(source: name) }
            let received = avcodec_receive_frame(codec, frame)
            if received == 0 {
                defer { av_frame_unref(frame) }
                return try deliver(frame)
            }
            if received == cffmpeg_averror_eof() {
                if options.loop && !info.isLive && passFrames > 0 {
                    try rewind(format, codec)
                    continue
                }
                return try end()
            }
            if received != cffmpeg_averror_eagain() {
                throw DecodeError.decoderFailed(source: name, reason: averrorString(received))
            }
            if draining { return try end() }  // EAGAIN while draining should not happen; end cleanly.

            watchdog.arm(.stall, seconds: options.stallTimeout)
            let read = av_read_frame(format, packet)
            watchdog.disarm()
            // libavformat may turn the interrupt into EOF or hand out a packet its parser still
            // held (RTP H.264): the watchdog's verdict wins over the return code.
            if let fired = watchdog.fired, fired == .stall || fired == .aborted {
                av_packet_unref(packet)
                if fired == .aborted { throw DecodeError.interrupted(source: name) }
                handles.stalled = true
                throw DecodeError.stalled(source: name, seconds: options.stallTimeout)
            }
            if read == cffmpeg_averror_eof() {
                draining = true
                _ = avcodec_send_packet(codec, nil)  // flush: the decoder returns what it holds, then EOF
                continue
            }
            if read < 0 {
                throw DecodeError.readFailed(source: name, reason: averrorString(read))
            }
            defer { av_packet_unref(packet) }
            guard packet.pointee.stream_index == streamIndex else { continue }
            applyDiscard(codec, keyPacket: packet.pointee.flags & cffmpeg_pkt_flag_key() != 0)
            let sent = avcodec_send_packet(codec, packet)
            if sent < 0 && sent != cffmpeg_averror_eagain() { corruptPackets += 1 }
        }
    }

    /// Frames the decoder skips from the next packet on (`FrameDiscard`); set it between
    /// `nextFrame()` calls, on the reading thread. `keyframesOnly` always holds.
    public var discard: FrameDiscard = .none
    private lazy var appliedDiscard: FrameDiscard = options.keyframesOnly ? .nonKey : .none

    private func applyDiscard(_ codec: UnsafeMutablePointer<AVCodecContext>, keyPacket: Bool) {
        let wanted = options.keyframesOnly ? .nonKey : discard
        let applied = appliedDiscard
        guard wanted != applied, wanted > applied || applied != .nonKey || keyPacket else { return }
        switch wanted {
        case .none: codec.pointee.skip_frame = AVDISCARD_DEFAULT
        case .nonReference: codec.pointee.skip_frame = AVDISCARD_NONREF
        case .nonKey: codec.pointee.skip_frame = AVDISCARD_NONKEY
        }
        appliedDiscard = wanted
    }

    /// End of the source: nil, or an error when it never produced a frame.
    private func end() throws -> VideoFrame? {
        if framesDecoded == 0 { throw DecodeError.noFrames(source: name, corruptPackets: corruptPackets) }
        return nil
    }

    /// Wraps the decoder's current frame: PTS in seconds, estimate if missing, pacing.
    private func deliver(_ frame: UnsafeMutablePointer<AVFrame>) throws -> VideoFrame {
        let ts = frame.pointee.best_effort_timestamp
        var estimated = false
        var pts: Double
        if ts != cffmpeg_nopts_value() {
            pts = Double(ts) * timeBase + passOffset
        } else {
            estimated = true
            pts = (lastPts.map { $0 + frameDuration }) ?? passOffset
        }
        if passFirstPts == nil { passFirstPts = pts }
        passMaxPts = max(passMaxPts ?? pts, pts)
        lastPts = pts
        passFrames += 1
        if frame.pointee.flags & cffmpeg_frame_flag_corrupt() != 0 || frame.pointee.decode_error_flags != 0 {
            corruptFrames += 1
        }
        if options.pacing == .realTime { try pace(pts) }
        let out = try VideoFrame(
            cloning: frame, index: framesDecoded, pts: pts, ptsEstimated: estimated,
            arrival: Date(), withMotionVectors: options.motionVectors)
        framesDecoded += 1
        if out.isKeyframe { keyframesDecoded += 1 }
        return out
    }

    /// Sleeps until `pts` is due relative to the first paced frame (re-anchors when more
    /// than a second late, so a slow consumer does not cause a burst afterwards).
    private func pace(_ pts: Double) throws {
        let now = Watchdog.now()
        guard let anchor = paceAnchor else { paceAnchor = (now, pts); return }
        let due = anchor.wall + (pts - anchor.pts)
        if due < now - 1 || pts < anchor.pts { paceAnchor = (now, pts); return }
        var wait = due - now
        while wait > 0 {
            if watchdog.isAborted { throw DecodeError.interrupted(source: name) }
            Thread.sleep(forTimeInterval: min(wait, 0.05))
            wait = due - Watchdog.now()
        }
    }

    /// Loops a file: seek to the start, flush the decoder, shift the next pass's PTS.
    private func rewind(_ format: UnsafeMutablePointer<AVFormatContext>, _ codec: UnsafeMutablePointer<AVCodecContext>) throws {
        let start = format.pointee.start_time == cffmpeg_nopts_value() ? 0 : format.pointee.start_time
        let r = av_seek_frame(format, -1, start, AVSEEK_FLAG_BACKWARD)
        if r < 0 { throw DecodeError.readFailed(source: name, reason: "cannot seek to the start to loop: \(averrorString(r))") }
        avcodec_flush_buffers(codec)
        if let first = passFirstPts, let last = passMaxPts {
            passOffset += last + frameDuration - first
        }
        passFirstPts = nil
        passMaxPts = nil
        passFrames = 0
        draining = false
    }


    private static func codecDescription(_ fmt: UnsafeMutablePointer<AVFormatContext>, _ i: Int) -> String {
        let par = fmt.pointee.streams[i]!.pointee.codecpar.pointee
        let name = String(cString: avcodec_get_name(par.codec_id))
        guard par.codec_tag != 0 else { return name }
        let tag = (0..<4).map { UInt8(truncatingIfNeeded: par.codec_tag >> (8 * UInt32($0))) }
        let printable = tag.allSatisfy { $0 >= 0x20 && $0 < 0x7f }
        return printable ? "\(name), fourcc \(String(decoding: tag, as: UTF8.self))" : name
    }
}

/// The FFmpeg objects of one source; deinit frees them (the watchdog outlives the demuxer).
private final class Handles {
    let watchdog: Watchdog
    init(watchdog: Watchdog) { self.watchdog = watchdog }
    var format: UnsafeMutablePointer<AVFormatContext>?
    var codec: UnsafeMutablePointer<AVCodecContext>?
    var packet: UnsafeMutablePointer<AVPacket>?
    var frame: UnsafeMutablePointer<AVFrame>?

    var stalled = false

    deinit { close() }

    func close() {
        // Closing an RTSP session sends TEARDOWN; never let a hung server block that long.
        watchdog.arm(.closing, seconds: stalled ? 0 : 1)
        if packet != nil { av_packet_free(&packet) }
        if frame != nil { av_frame_free(&frame) }
        if codec != nil { avcodec_free_context(&codec) }
        if format != nil { avformat_close_input(&format) }
    }
}
