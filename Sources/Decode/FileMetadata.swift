// What a recorded file says about itself before decoding: its creation time tag and how
// many video frames it holds (replay's start time and progress total). Reads the header
// only (no decoding).
import CFFmpeg
import Foundation

public struct FileMetadata: Sendable, Equatable {
    /// The container's (else the video stream's) `creation_time` tag as written,
    /// e.g. "2024-05-01T12:00:00.000000Z"; nil when absent.
    public var creationTime: String?
    /// Video frames: the stream's frame count, else duration x frame rate; nil if unknown.
    public var frameCount: Int?
    /// Duration in seconds when known.
    public var duration: Double?
    /// The video stream's average frame rate; nil when unknown.
    public var frameRate: Double?

    /// Reads the header of `path`. Throws `DecodeError.openFailed` naming the file.
    public static func read(path: String) throws -> FileMetadata {
        Decode.initialize()
        let name = Redaction.redact(path)
        var fmt: UnsafeMutablePointer<AVFormatContext>?
        var dict: OpaquePointer?
        av_dict_set(&dict, "pattern_type", "none", 0)
        let target = path.contains(":") && !path.contains("://") && !path.hasPrefix("file:") ? "file:" + path : path
        let r = avformat_open_input(&fmt, target, nil, &dict)
        av_dict_free(&dict)
        guard r >= 0, let ctx = fmt else { throw DecodeError.openFailed(source: name, reason: averrorString(r)) }
        defer { avformat_close_input(&fmt) }
        var out = FileMetadata()
        func tag(_ d: OpaquePointer?) -> String? {
            guard let d, let e = av_dict_get(d, "creation_time", nil, 0), let v = e.pointee.value else { return nil }
            return String(cString: v)
        }
        out.creationTime = tag(ctx.pointee.metadata)
        let d = ctx.pointee.duration
        if d > 0 && d != cffmpeg_nopts_value() { out.duration = Double(d) / Double(AV_TIME_BASE) }
        let video = (0..<Int(ctx.pointee.nb_streams)).first {
            ctx.pointee.streams[$0]!.pointee.codecpar.pointee.codec_type == AVMEDIA_TYPE_VIDEO
        }
        if let v = video, let st = ctx.pointee.streams[v] {
            if out.creationTime == nil { out.creationTime = tag(st.pointee.metadata) }
            let rate = [st.pointee.avg_frame_rate, st.pointee.r_frame_rate].first { $0.num > 0 && $0.den > 0 }
            out.frameRate = rate.map { Double($0.num) / Double($0.den) }
            if st.pointee.nb_frames > 0 {
                out.frameCount = Int(st.pointee.nb_frames)
            } else if let dur = out.duration, let fps = out.frameRate {
                out.frameCount = Int((dur * fps).rounded())
            }
        }
        return out
    }
}
