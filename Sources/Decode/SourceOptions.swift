import Foundation

/// How to open and read a source. The defaults suit an RTSP camera on a LAN.
public struct SourceOptions: Sendable, Equatable {
    public enum Transport: String, Sendable, CaseIterable { case tcp, udp }
    public enum Pacing: String, Sendable {
        /// Decode as fast as the CPU allows (scanning, benchmarks).
        case asFastAsPossible
        /// Hold each frame until its PTS is due on the wall clock (replay a file as if live).
        case realTime
    }

    /// RTSP lower transport (`rtsp_transport`). TCP survives NAT and loss; UDP has less latency.
    public var transport: Transport = .tcp
    /// Seconds allowed for opening (connect, DESCRIBE/SETUP/PLAY, stream info).
    public var openTimeout: Double = 10
    /// Seconds without a packet after which a read ends with `DecodeError.stalled`.
    public var stallTimeout: Double = 5
    /// Decoder threads; 0 lets FFmpeg choose.
    public var decoderThreads: Int = 0
    /// Decode keyframes only (`skip_frame = AVDISCARD_NONKEY`): fast scanning.
    public var keyframesOnly: Bool = false
    /// Export the codec's motion vectors (`flags2 +export_mvs`) into `VideoFrame.motionVectors`.
    public var motionVectors: Bool = false
    /// Files only: start again at the end (PTS keep increasing across passes).
    public var loop: Bool = false
    public var pacing: Pacing = .asFastAsPossible

    public init(transport: Transport = .tcp, openTimeout: Double = 10, stallTimeout: Double = 5,
                decoderThreads: Int = 0, keyframesOnly: Bool = false, motionVectors: Bool = false,
                loop: Bool = false, pacing: Pacing = .asFastAsPossible) {
        self.transport = transport
        self.openTimeout = openTimeout
        self.stallTimeout = stallTimeout
        self.decoderThreads = decoderThreads
        self.keyframesOnly = keyframesOnly
        self.motionVectors = motionVectors
        self.loop = loop
        self.pacing = pacing
    }
}

/// Frames the decoder may skip while it runs (`skip_frame`), to save CPU under overload.
/// Raising it applies at once; leaving `nonKey` waits for the next keyframe packet (the
/// frames after it refer to pictures that were never decoded).
public enum FrameDiscard: Int, Sendable, Equatable, Comparable, CaseIterable {
    /// Decode every frame.
    case none = 0
    /// Skip frames no other frame refers to (`AVDISCARD_NONREF`: B-frames, usually).
    case nonReference
    /// Decode keyframes only (`AVDISCARD_NONKEY`).
    case nonKey

    public static func < (a: FrameDiscard, b: FrameDiscard) -> Bool { a.rawValue < b.rawValue }
}

/// What an opened source holds.
public struct StreamInfo: Sendable, Equatable {
    /// Decoder codec name, e.g. "h264", "hevc".
    public var codec: String
    public var width: Int
    public var height: Int
    /// Average frame rate (falls back to the stream's real base rate); 0 when unknown.
    public var frameRate: Double
    /// Container duration in seconds, nil when unknown (live sources).
    public var duration: Double?
    /// True for network streams (rtsp, rtmp, udp, srt, ...): EOF means "disconnected".
    public var isLive: Bool
    /// Container format name, e.g. "mov,mp4,m4a,3gp,3g2,mj2", "rtsp".
    public var container: String
}

/// True when `url` names a live network stream rather than a file.
public func isLiveURL(_ url: String) -> Bool {
    guard let r = url.range(of: "://") else { return false }
    let scheme = url[..<r.lowerBound].lowercased()
    return ["rtsp", "rtsps", "rtmp", "rtmps", "rtp", "udp", "srt", "tcp"].contains(scheme)
}
