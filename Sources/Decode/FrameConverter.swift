import CFFmpeg
import Foundation

/// Target geometry of a conversion.
public enum FrameLayout: Sendable, Hashable {
    /// The frame's own size.
    case native
    /// Exactly width x height, aspect not kept.
    case size(width: Int, height: Int)
}

/// Packed RGB24 pixels, row-major, `bytes.count == width * height * 3`.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var bytes: [UInt8]

    public init(width: Int, height: Int, bytes: [UInt8]) {
        self.width = width
        self.height = height
        self.bytes = bytes
    }
}

/// swscale flags; the default is bilinear with exact rounding and full-resolution chroma
/// interpolation: within 1 per channel of `ffmpeg -sws_flags
/// bilinear+accurate_rnd+full_chr_h_int -pix_fmt rgb24` (ConversionTests).
public struct ScaleFlags: OptionSet, Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let fastBilinear = ScaleFlags(rawValue: SWS_FAST_BILINEAR)
    public static let bilinear = ScaleFlags(rawValue: SWS_BILINEAR)
    public static let bicubic = ScaleFlags(rawValue: SWS_BICUBIC)
    public static let accurateRounding = ScaleFlags(rawValue: SWS_ACCURATE_RND)
    public static let fullChromaInterpolation = ScaleFlags(rawValue: SWS_FULL_CHR_H_INT)
    public static let fullChromaInput = ScaleFlags(rawValue: SWS_FULL_CHR_H_INP)
    public static let bitExact = ScaleFlags(rawValue: SWS_BITEXACT)
    public static let `default`: ScaleFlags = [.bilinear, .accurateRounding, .fullChromaInterpolation]
}

/// Converts decoded frames to RGB24 with swscale. Keeps one SwsContext per
/// (source geometry, target size) and reuses it. Not thread-safe: one converter per thread
/// (frames themselves may be converted on any thread).
public final class FrameConverter {
    public let flags: ScaleFlags
    private struct Key: Hashable { var sw, sh, sfmt, dw, dh: Int32; var range, space: Int32 }
    private var contexts: [Key: OpaquePointer] = [:]

    public init(flags: ScaleFlags = .default) { self.flags = flags }

    deinit { for ctx in contexts.values { sws_freeContext(ctx) } }

    /// RGB24 of `frame` in `layout`.
    public func rgb(_ frame: VideoFrame, _ layout: FrameLayout = .native) throws -> RGBImage {
        try rgb(frame.avFrame, layout)
    }

    /// Output size for a source of `w` x `h`.
    public static func geometry(width w: Int, height h: Int, _ layout: FrameLayout) -> (width: Int, height: Int) {
        switch layout {
        case .native: return (w, h)
        case let .size(dw, dh): return (dw, dh)
        }
    }

    func rgb(_ f: UnsafeMutablePointer<AVFrame>, _ layout: FrameLayout) throws -> RGBImage {
        let w = Int(f.pointee.width), h = Int(f.pointee.height)
        guard w > 0, h > 0 else { throw DecodeError.conversionFailed(reason: "frame has no picture (\(w)x\(h))") }
        let g = Self.geometry(width: w, height: h, layout)
        guard g.width > 0, g.height > 0, g.width <= 16384, g.height <= 16384 else {
            throw DecodeError.conversionFailed(reason: "bad target size \(g.width)x\(g.height)")
        }
        let ctx = try context(for: f, width: g.width, height: g.height)
        var bytes = [UInt8](repeating: 0, count: g.width * g.height * 3)
        let rows = bytes.withUnsafeMutableBufferPointer { buf in
            cffmpeg_sws_scale_frame_to(ctx, f, buf.baseAddress, Int32(g.width * 3))
        }
        guard rows == Int32(g.height) else {
            throw DecodeError.conversionFailed(reason: "sws_scale wrote \(rows) of \(g.height) rows")
        }
        return RGBImage(width: g.width, height: g.height, bytes: bytes)
    }

    /// A cached context from the frame's format to RGB24 at dw x dh. Legacy "yuvj" formats
    /// are mapped to their plain twin with full range; the YCbCr matrix follows the frame's
    /// colorspace (BT.601 when unspecified), as ffmpeg's scale filter does.
    private func context(for f: UnsafeMutablePointer<AVFrame>, width dw: Int, height dh: Int) throws -> OpaquePointer {
        var fmt = AVPixelFormat(f.pointee.format)
        var fullRange = f.pointee.color_range == AVCOL_RANGE_JPEG
        switch fmt {
        case AV_PIX_FMT_YUVJ420P: fmt = AV_PIX_FMT_YUV420P; fullRange = true
        case AV_PIX_FMT_YUVJ422P: fmt = AV_PIX_FMT_YUV422P; fullRange = true
        case AV_PIX_FMT_YUVJ444P: fmt = AV_PIX_FMT_YUV444P; fullRange = true
        case AV_PIX_FMT_YUVJ440P: fmt = AV_PIX_FMT_YUV440P; fullRange = true
        default: break
        }
        let space = Int32(f.pointee.colorspace.rawValue)
        let key = Key(sw: f.pointee.width, sh: f.pointee.height, sfmt: fmt.rawValue,
                      dw: Int32(dw), dh: Int32(dh), range: fullRange ? 1 : 0, space: space)
        if let ctx = contexts[key] { return ctx }
        guard let ctx = sws_getContext(f.pointee.width, f.pointee.height, fmt, Int32(dw), Int32(dh),
                                       AV_PIX_FMT_RGB24, flags.rawValue, nil, nil, nil) else {
            let name = av_get_pix_fmt_name(fmt).map { String(cString: $0) } ?? "\(fmt.rawValue)"
            throw DecodeError.conversionFailed(reason: "swscale cannot convert \(name) \(f.pointee.width)x\(f.pointee.height) to rgb24 \(dw)x\(dh)")
        }
        let isYUV = av_pix_fmt_desc_get(fmt).map { $0.pointee.flags & UInt64(AV_PIX_FMT_FLAG_RGB) == 0 } ?? true
        if isYUV {
            let table = sws_getCoefficients(space)
            _ = sws_setColorspaceDetails(ctx, table, fullRange ? 1 : 0, sws_getCoefficients(SWS_CS_DEFAULT), 1,
                                         0, 1 << 16, 1 << 16)
        }
        if contexts.count >= 8 {  // bound the cache; geometries rarely change
            for c in contexts.values { sws_freeContext(c) }
            contexts.removeAll()
        }
        contexts[key] = ctx
        return ctx
    }
}
