// Encode: one RGB24 picture in, one JPEG out (the live page's frames), through
// libavcodec's mjpeg encoder.
//
//   RGB24 [h, w, 3] --swscale (BT.601, full range)--> yuvj420p [h & ~1, w & ~1] (odd sizes scaled)
//   --mjpeg at a fixed quantizer--> one JFIF packet
//
// The codec context is kept between pictures of the same size and reopened when the size
// changes. Not thread-safe: one encoder per thread (or behind a lock).
import CFFmpeg
import Foundation

public final class JPEGEncoder {
    /// mjpeg's quantizer, 2 (best) ... 31 (smallest).
    public let quality: Int
    private var codec: UnsafeMutablePointer<AVCodecContext>?
    private var frame: UnsafeMutablePointer<AVFrame>?
    private var packet: UnsafeMutablePointer<AVPacket>?
    private var scaler: OpaquePointer?
    private var size: (width: Int, height: Int) = (0, 0)
    private var pictures = 0

    public init(quality: Int = 5) {
        Decode.initialize()
        self.quality = max(2, min(31, quality))
    }

    deinit { close() }

    /// The JPEG file bytes of `image` (an odd width or height is scaled to the even size below).
    public func encode(_ image: RGBImage) throws -> [UInt8] {
        guard image.width >= 2, image.height >= 2, image.width <= 16384, image.height <= 16384,
              image.bytes.count >= image.width * image.height * 3 else {
            throw EncodeError("jpeg", "bad picture \(image.width)x\(image.height) with \(image.bytes.count) bytes")
        }
        let w = image.width & ~1, h = image.height & ~1
        if size != (w, h) || codec == nil { try open(width: w, height: h) }
        guard let ctx = codec, let frame, let packet else { throw EncodeError("jpeg", "encoder not open") }
        // yuv420p's layout is yuvj420p's; full range is asked for explicitly (swscale
        // warns about the deprecated "j" formats).
        let previous = scaler
        scaler = sws_getCachedContext(scaler, Int32(image.width), Int32(image.height), AV_PIX_FMT_RGB24,
                                      Int32(w), Int32(h), AV_PIX_FMT_YUV420P, SWS_BILINEAR, nil, nil, nil)
        guard let scaler else { throw EncodeError("jpeg", "swscale cannot convert rgb24 to yuv420p") }
        if scaler != previous {
            let bt601 = sws_getCoefficients(SWS_CS_ITU601)
            _ = sws_setColorspaceDetails(scaler, bt601, 1, bt601, 1, 0, 1 << 16, 1 << 16)
        }
        var r = av_frame_make_writable(frame)
        if r < 0 { throw EncodeError("jpeg", "picture not writable: \(averrorString(r))") }
        let rows = image.bytes.withUnsafeBufferPointer { buf in
            cffmpeg_sws_scale_packed_to_frame(scaler, buf.baseAddress, Int32(image.width * 3), Int32(image.height), frame)
        }
        if rows <= 0 { throw EncodeError("jpeg", "swscale failed") }
        frame.pointee.quality = ctx.pointee.global_quality
        frame.pointee.pts = Int64(pictures)  // mjpeg refuses a timestamp that does not increase
        pictures += 1
        r = avcodec_send_frame(ctx, frame)
        if r < 0 { throw EncodeError("jpeg", "mjpeg refused a picture: \(averrorString(r))") }
        r = avcodec_receive_packet(ctx, packet)
        if r < 0 { throw EncodeError("jpeg", "mjpeg gave no packet: \(averrorString(r))") }
        defer { av_packet_unref(packet) }
        guard let data = packet.pointee.data, packet.pointee.size > 0 else { throw EncodeError("jpeg", "empty packet") }
        return Array(UnsafeBufferPointer(start: data, count: Int(packet.pointee.size)))
    }

    private func open(width w: Int, height h: Int) throws {
        close()
        guard let enc = avcodec_find_encoder(AV_CODEC_ID_MJPEG) else {
            throw EncodeError("jpeg", "this FFmpeg build has no mjpeg encoder")
        }
        guard let ctx = avcodec_alloc_context3(enc) else { throw EncodeError("jpeg", "out of memory") }
        codec = ctx
        ctx.pointee.width = Int32(w)
        ctx.pointee.height = Int32(h)
        ctx.pointee.pix_fmt = AV_PIX_FMT_YUVJ420P
        ctx.pointee.color_range = AVCOL_RANGE_JPEG
        ctx.pointee.time_base = AVRational(num: 1, den: 25)
        ctx.pointee.flags |= Int32(AV_CODEC_FLAG_QSCALE)
        ctx.pointee.global_quality = Int32(quality) * Int32(FF_QP2LAMBDA)
        var r = avcodec_open2(ctx, enc, nil)
        if r < 0 { throw EncodeError("jpeg", "cannot open the mjpeg encoder: \(averrorString(r))") }
        frame = av_frame_alloc()
        packet = av_packet_alloc()
        guard let picture = frame, packet != nil else { throw EncodeError("jpeg", "out of memory") }
        picture.pointee.format = AV_PIX_FMT_YUVJ420P.rawValue
        picture.pointee.width = Int32(w)
        picture.pointee.height = Int32(h)
        picture.pointee.color_range = AVCOL_RANGE_JPEG
        r = av_frame_get_buffer(picture, 0)
        if r < 0 { throw EncodeError("jpeg", "cannot allocate a picture: \(averrorString(r))") }
        size = (w, h)
    }

    private func close() {
        avcodec_free_context(&codec)
        av_frame_free(&frame)
        av_packet_free(&packet)
        if let s = scaler { sws_freeContext(s); scaler = nil }
        size = (0, 0)
    }
}
