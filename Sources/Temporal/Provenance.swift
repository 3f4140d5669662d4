// What the tracker hands out per frame: every region says where its box and its label
// came from.

public struct Provenance: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// The recognizer ran on this frame and its result was matched to this track.
        case inferred
        /// Carried from an earlier frame.
        case propagated
    }
    public var kind: Kind
    /// Frame whose recognition produced the label (this frame when inferred); nil if the
    /// track was never recognized (detector-only proposals).
    public var sourceFrame: Int?
    /// Seconds since that recognition (0 when inferred on this frame).
    public var labelAge: Double?
    /// How the box got here on this frame.
    public var boxMethod: PropagationMethod
}

public struct TrackedRegion: Sendable {
    public var trackID: UInt64
    public var state: TrackState
    /// xyxy, source pixels, clipped to the frame.
    public var box: Box
    /// Index into the current vocabulary (nil before any recognition).
    public var label: Int?
    public var labelName: String?
    /// Running score of the label, and its margin over the runner-up.
    public var score: Float
    public var margin: Float
    /// Best classes with their running scores, best first.
    public var top: [(index: Int, score: Float)]
    public var provenance: Provenance
}

/// Why a track asks for a fresh recognition.
public enum RecognitionReason: String, Sendable, Codable {
    case neverRecognized, drift, partialView, lowMargin, stale
}

public struct RecognitionRequest: Sendable, Equatable {
    public var trackID: UInt64
    public var box: Box
    public var reason: RecognitionReason
}
