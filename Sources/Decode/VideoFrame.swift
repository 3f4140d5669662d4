import CFFmpeg
import Foundation

/// FFmpeg's picture type of a decoded frame (`AVFrame.pict_type`).
public enum PictureType: String, Sendable {
    case i = "I", p = "P", b = "B", s = "S", si = "SI", sp = "SP", bi = "BI", unknown = "?"

    init(_ t: AVPictureType) {
        switch t {
        case AV_PICTURE_TYPE_I: self = .i
        case AV_PICTURE_TYPE_P: self = .p
        case AV_PICTURE_TYPE_B: self = .b
        case AV_PICTURE_TYPE_S: self = .s
        case AV_PICTURE_TYPE_SI: self = .si
        case AV_PICTURE_TYPE_SP: self = .sp
        case AV_PICTURE_TYPE_BI: self = .bi
        default: self = .unknown
        }
    }
}

/// One block motion vector exported by the codec (`AVMotionVector`), in source pixels.
///
/// FFmpeg's convention: the block at `(x, y)` (its centre, in this frame) was predicted from
/// the block at `(sourceX, sourceY)` in the reference frame, and
/// `sourceX = x + motionX` (`motionX = motion_x / motion_scale`). For a past reference
/// (`reference == -1`) an object moving right by 4 px/frame therefore has `motionX == -4`;
/// `displacementX = -motionX` is how far the content moved from the reference to here.
public struct MotionVector: Sendable, Equatable {
    /// -1: the reference lies in the past, +1: in the future (B-frames).
    public var reference: Int8
    /// Block size in pixels (16, 8 or 4 for H.264).
    public var blockWidth: UInt8
    public var blockHeight: UInt8
    /// Block centre in this frame (AVMotionVector dst_x, dst_y).
    public var x: Float
    public var y: Float
    /// Block centre in the reference frame, sub-pixel exact.
    public var sourceX: Float
    public var sourceY: Float
    /// motion_x / motion_scale, motion_y / motion_scale: from this frame to the reference.
    public var motionX: Float
    public var motionY: Float

    /// Movement of the content from the reference frame to this one (= -motion).
    public var displacementX: Float { -motionX }
    public var displacementY: Float { -motionY }
}

/// A decoded video frame. Immutable; it keeps a reference-counted clone of the decoded
/// picture (`AVFrame`) so it can be converted later on any thread, and frees it in deinit.
public final class VideoFrame: @unchecked Sendable {
    /// 0-based ordinal among the frames this source yielded (continues across loops).
    public let index: Int
    /// Presentation time in seconds (stream time base; offset by whole passes when looping).
    public let pts: Double
    /// True when the frame had no timestamp and `pts` is an estimate (previous + 1/fps).
    public let ptsEstimated: Bool
    /// Wall-clock time at which the decoder delivered this frame.
    public let arrival: Date
    /// `AVFrame.key_frame` (FFmpeg 5.1).
    public let isKeyframe: Bool
    public let pictureType: PictureType
    public let width: Int
    public let height: Int
    /// Non-zero block motion vectors, or nil when motion vectors were not requested or the
    /// codec exported none for this frame (intra frames, HEVC).
    public let motionVectors: [MotionVector]?

    /// The decoded picture (owned; never mutated after init).
    let avFrame: UnsafeMutablePointer<AVFrame>

    init(cloning frame: UnsafePointer<AVFrame>, index: Int, pts: Double, ptsEstimated: Bool,
         arrival: Date, withMotionVectors: Bool) throws {
        guard let clone = av_frame_clone(frame) else {
            throw DecodeError.conversionFailed(reason: "out of memory cloning a frame")
        }
        self.avFrame = clone
        self.index = index
        self.pts = pts
        self.ptsEstimated = ptsEstimated
        self.arrival = arrival
        self.isKeyframe = frame.pointee.key_frame != 0
        self.pictureType = PictureType(frame.pointee.pict_type)
        self.width = Int(frame.pointee.width)
        self.height = Int(frame.pointee.height)
        self.motionVectors = withMotionVectors ? VideoFrame.motionVectors(of: frame) : nil
    }

    deinit {
        var f: UnsafeMutablePointer<AVFrame>? = avFrame
        av_frame_free(&f)
    }

    /// The AVFrame's pixel format name, e.g. "yuv420p".
    public var pixelFormat: String {
        guard let name = av_get_pix_fmt_name(AVPixelFormat(avFrame.pointee.format)) else { return "?" }
        return String(cString: name)
    }

    /// Reads AV_FRAME_DATA_MOTION_VECTORS side data, keeping the non-zero vectors.
    static func motionVectors(of frame: UnsafePointer<AVFrame>) -> [MotionVector]? {
        guard let sd = av_frame_get_side_data(frame, AV_FRAME_DATA_MOTION_VECTORS) else { return nil }
        let count = Int(sd.pointee.size) / MemoryLayout<AVMotionVector>.stride
        guard count > 0, let data = sd.pointee.data else { return [] }
        let mvs = UnsafeRawPointer(data).bindMemory(to: AVMotionVector.self, capacity: count)
        var out: [MotionVector] = []
        out.reserveCapacity(count / 4)
        for i in 0..<count {
            let m = mvs[i]
            guard m.motion_x != 0 || m.motion_y != 0, m.motion_scale != 0 else { continue }
            let scale = Float(m.motion_scale)
            let mx = Float(m.motion_x) / scale, my = Float(m.motion_y) / scale
            out.append(MotionVector(
                reference: m.source < 0 ? -1 : 1, blockWidth: m.w, blockHeight: m.h,
                x: Float(m.dst_x), y: Float(m.dst_y),
                sourceX: Float(m.dst_x) + mx, sourceY: Float(m.dst_y) + my,
                motionX: mx, motionY: my))
        }
        return out
    }
}
