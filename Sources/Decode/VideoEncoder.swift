// Encode: RGB24 pictures in, an MP4 file out (replay's annotated video).
//
//   RGB24 (any size) --swscale--> encoder pixel format at the output size --libavcodec-->
//   packets --(rescaled timestamps)--> libavformat MP4 muxer
//
// The encoder is the first of `Options.codecs` this FFmpeg build has: libx264 (H.264) on
// Debian, else libopenh264, else FFmpeg's own mpeg4. Timestamps come from the caller in
// seconds (the source PTS), so the output keeps the source's timing, variable frame rate
// included. Not thread-safe: create, write and finish on one thread.
import CFFmpeg
import Foundation

public struct EncodeError: Error, CustomStringConvertible, Sendable {
    public var description: String
    init(_ path: String, _ what: String) { description = "\(path): \(what)" }
}

public final class VideoEncoder {
    public struct Options: Sendable {
        /// Encoder names in order of preference.
        public var codecs = ["libx264", "libopenh264", "mpeg4"]
        /// libx264 constant rate factor (lower = better; 18 is visually near lossless).
        public var crf = 20
        /// libx264 speed preset.
        public var preset = "veryfast"
        /// Bit rate for encoders without CRF (mpeg4), bits per pixel per second of frame rate.
        public var bitsPerPixel = 0.25
        /// Container tags, e.g. ["creation_time": "2024-05-01T12:00:00.000000Z"].
        public var metadata: [String: String] = [:]
        public init() {}
    }

    public let path: String
    /// The encoder in use, e.g. "libx264".
    public let codecName: String
    /// Output size (even, as 4:2:0 needs).
    public let width: Int
    public let height: Int
    public private(set) var framesWritten = 0

    private var format: UnsafeMutablePointer<AVFormatContext>?
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var scaler: OpaquePointer?
    private let stream: UnsafeMutablePointer<AVStream>
    private let timeBase: AVRational
    private var lastPTS: Int64 = Int64.min
    private var finished = false

    /// Creates `path` (overwriting it) for `width` x `height` pictures at about
    /// `frameRate` frames per second (a hint for rate control; timestamps rule).
    public init(path: String, width: Int, height: Int, frameRate: Double, options: Options = Options()) throws {
        Decode.initialize()
        guard width > 0, height > 0, width <= 16384, height <= 16384 else {
            throw EncodeError(path, "bad picture size \(width)x\(height)")
        }
        self.path = path
        // 1/30000 s: exact for 24, 25, 30, 50, 60 and 30000/1001 fps, and within MPEG-4
        // part 2's limit (denominator <= 65535) for the mpeg4 fallback.
        timeBase = AVRational(num: 1, den: 30_000)

        // Locals until everything is open; `cleanup` frees them if init throws.
        var fmtOpt: UnsafeMutablePointer<AVFormatContext>?
        var ctxOpt: UnsafeMutablePointer<AVCodecContext>?
        var frameOpt: UnsafeMutablePointer<AVFrame>?
        var packetOpt: UnsafeMutablePointer<AVPacket>?
        var opened = false
        var ok = false
        defer {
            if !ok {
                if opened, let f = fmtOpt { avio_closep(&f.pointee.pb) }
                var none: OpaquePointer? = nil
                Self.free(&fmtOpt, &ctxOpt, &frameOpt, &packetOpt, &none)
            }
        }
        var r = avformat_alloc_output_context2(&fmtOpt, nil, "mp4", path)
        guard r >= 0, let fmt = fmtOpt else { throw EncodeError(path, "cannot set up the MP4 muxer: \(averrorString(r))") }
        var chosen: UnsafePointer<AVCodec>?
        for name in options.codecs {
            if let c = avcodec_find_encoder_by_name(name) { chosen = c; break }
        }
        guard let enc = chosen else {
            throw EncodeError(path, "none of the encoders \(options.codecs.joined(separator: ", ")) is in this FFmpeg build")
        }
        let name = String(cString: enc.pointee.name)
        ctxOpt = avcodec_alloc_context3(enc)
        guard let st = avformat_new_stream(fmt, nil), let ctx = ctxOpt else { throw EncodeError(path, "out of memory") }

        // Pixel format: yuv420p when the encoder takes it (every player does), else its first.
        var pixfmt = AV_PIX_FMT_YUV420P
        if var p = enc.pointee.pix_fmts {
            var supported: [AVPixelFormat] = []
            while p.pointee != AV_PIX_FMT_NONE { supported.append(p.pointee); p += 1 }
            if !supported.contains(AV_PIX_FMT_YUV420P), let first = supported.first { pixfmt = first }
        }
        let w = max(2, width & ~1), h = max(2, height & ~1)
        let fps = frameRate.isFinite && frameRate > 0 ? frameRate : 25
        ctx.pointee.width = Int32(w)
        ctx.pointee.height = Int32(h)
        ctx.pointee.pix_fmt = pixfmt
        ctx.pointee.time_base = timeBase
        ctx.pointee.framerate = av_d2q(fps, 100_000)
        ctx.pointee.gop_size = Int32(max(1, min(300, Int(fps.rounded()) * 2)))
        ctx.pointee.sample_aspect_ratio = AVRational(num: 1, den: 1)
        if name == "libx264" {
            av_opt_set(ctx.pointee.priv_data, "preset", options.preset, 0)
            av_opt_set(ctx.pointee.priv_data, "crf", String(options.crf), 0)
        } else {
            ctx.pointee.bit_rate = Int64(Double(w * h) * fps * options.bitsPerPixel)
            ctx.pointee.max_b_frames = 0
        }
        if fmt.pointee.oformat.pointee.flags & cffmpeg_fmt_globalheader() != 0 {
            ctx.pointee.flags |= cffmpeg_codec_flag_global_header()
        }
        r = avcodec_open2(ctx, enc, nil)
        if r < 0 { throw EncodeError(path, "cannot open the \(name) encoder: \(averrorString(r))") }
        r = avcodec_parameters_from_context(st.pointee.codecpar, ctx)
        st.pointee.time_base = timeBase
        st.pointee.avg_frame_rate = ctx.pointee.framerate
        frameOpt = av_frame_alloc()
        packetOpt = av_packet_alloc()
        guard r >= 0, let picture = frameOpt, packetOpt != nil else { throw EncodeError(path, "out of memory") }
        picture.pointee.format = pixfmt.rawValue
        picture.pointee.width = Int32(w)
        picture.pointee.height = Int32(h)
        r = av_frame_get_buffer(picture, 0)
        if r < 0 { throw EncodeError(path, "cannot allocate a picture: \(averrorString(r))") }
        if fmt.pointee.oformat.pointee.flags & cffmpeg_fmt_nofile() == 0 {
            r = avio_open(&fmt.pointee.pb, path, cffmpeg_avio_flag_write())
            if r < 0 { throw EncodeError(path, "cannot create: \(averrorString(r))") }
            opened = true
        }
        for (k, v) in options.metadata.sorted(by: { $0.key < $1.key }) { av_dict_set(&fmt.pointee.metadata, k, v, 0) }
        r = avformat_write_header(fmt, nil)
        if r < 0 { throw EncodeError(path, "cannot write the MP4 header: \(averrorString(r))") }
        ok = true
        self.width = w
        self.height = h
        codecName = name
        stream = st
        format = fmt
        codec = ctx
        frame = picture
        packet = packetOpt
    }

    deinit {
        if !finished, let fmt = format {
            // Abandoned: close the file (unfinished MP4) and free everything.
            avio_closep(&fmt.pointee.pb)
        }
        Self.free(&format, &codec, &frame, &packet, &scaler)
    }

    /// Encodes one picture shown at `pts` seconds. Timestamps must increase; a repeated or
    /// earlier one is moved just after the previous frame.
    public func write(_ image: RGBImage, pts: Double) throws {
        guard !finished, let ctx = codec, let frame else { throw EncodeError(path, "write after finish") }
        guard image.width > 0, image.height > 0, image.bytes.count >= image.width * image.height * 3 else {
            throw EncodeError(path, "bad picture \(image.width)x\(image.height) with \(image.bytes.count) bytes")
        }
        // A source that changes size mid-stream is scaled to the output size.
        scaler = sws_getCachedContext(scaler, Int32(image.width), Int32(image.height), AV_PIX_FMT_RGB24,
                                      Int32(width), Int32(height), ctx.pointee.pix_fmt, SWS_BILINEAR, nil, nil, nil)
        guard let scaler else { throw EncodeError(path, "swscale cannot convert rgb24 to the encoder's format") }
        var r = av_frame_make_writable(frame)
        if r < 0 { throw EncodeError(path, "picture not writable: \(averrorString(r))") }
        let rows = image.bytes.withUnsafeBufferPointer { buf in
            cffmpeg_sws_scale_packed_to_frame(scaler, buf.baseAddress, Int32(image.width * 3), Int32(image.height), frame)
        }
        if rows <= 0 { throw EncodeError(path, "swscale failed") }
        var ts = Int64((pts * Double(timeBase.den) / Double(timeBase.num)).rounded())
        if ts <= lastPTS { ts = lastPTS + 1 }
        lastPTS = ts
        frame.pointee.pts = ts
        r = avcodec_send_frame(ctx, frame)
        if r < 0 { throw EncodeError(path, "\(codecName) refused a picture: \(averrorString(r))") }
        try drain()
        framesWritten += 1
    }

    /// Flushes the encoder and completes the file (trailer, moov atom). Idempotent.
    public func finish() throws {
        guard !finished, let ctx = codec, let fmt = format else { return }
        finished = true
        defer {
            avio_closep(&fmt.pointee.pb)
            Self.free(&format, &codec, &frame, &packet, &scaler)
        }
        var r = avcodec_send_frame(ctx, nil)
        if r < 0 { throw EncodeError(path, "cannot flush \(codecName): \(averrorString(r))") }
        try drain()
        r = av_write_trailer(fmt)
        if r < 0 { throw EncodeError(path, "cannot finish the MP4: \(averrorString(r))") }
    }

    /// Moves every packet the encoder has ready into the muxer.
    private func drain() throws {
        guard let ctx = codec, let fmt = format, let packet else { return }
        while true {
            let r = avcodec_receive_packet(ctx, packet)
            if r == cffmpeg_averror_eagain() || r == cffmpeg_averror_eof() { return }
            if r < 0 { throw EncodeError(path, "\(codecName) failed: \(averrorString(r))") }
            av_packet_rescale_ts(packet, ctx.pointee.time_base, stream.pointee.time_base)
            packet.pointee.stream_index = stream.pointee.index
            let w = av_interleaved_write_frame(fmt, packet)  // takes the packet's reference
            if w < 0 { throw EncodeError(path, "cannot write: \(averrorString(w))") }
        }
    }

    private static func free(_ format: UnsafeMutablePointer<UnsafeMutablePointer<AVFormatContext>?>,
                             _ codec: UnsafeMutablePointer<UnsafeMutablePointer<AVCodecContext>?>,
                             _ frame: UnsafeMutablePointer<UnsafeMutablePointer<AVFrame>?>,
                             _ packet: UnsafeMutablePointer<UnsafeMutablePointer<AVPacket>?>,
                             _ scaler: UnsafeMutablePointer<OpaquePointer?>) {
        avcodec_free_context(codec)
        av_frame_free(frame)
        av_packet_free(packet)
        if let s = scaler.pointee { sws_freeContext(s); scaler.pointee = nil }
        if let f = format.pointee { avformat_free_context(f); format.pointee = nil }
    }
}
