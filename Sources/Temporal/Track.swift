// One tracked region of one stream: where it is, how it moves, what it is, and when it
// was last seen by the recognizer.

/// Life cycle: tentative (born, not yet confirmed by N consecutive keyframe hits) ->
/// confirmed (published) -> lost (missed keyframes, kept for re-identification) -> ended.
public enum TrackState: String, Sendable, Codable {
    case tentative, confirmed, lost, ended
}

/// How a track's box got to where it is on the current frame.
public enum PropagationMethod: String, Sendable, Codable {
    /// Matched to a proposal on this keyframe.
    case observed
    /// Moved by the codec's motion vectors.
    case motionVectors
    /// Constant-velocity Kalman prediction (no usable vectors).
    case kalman
}

public struct Track: Sendable {
    /// Monotonic within a stream, never reused.
    public let id: UInt64
    public internal(set) var state: TrackState
    /// Current box, xyxy source pixels.
    public internal(set) var box: Box
    public internal(set) var kalman: BoxKalman
    /// (vx, vy) pixels per frame, from the Kalman state.
    public var velocity: (x: Float, y: Float) { kalman.velocity }
    /// Running mean of the SAM region tokens of matched proposals (L2-normalized).
    public internal(set) var regionToken: [Float]?
    /// Running mean of the head's semantic embeddings (L2-normalized), for re-scoring.
    public internal(set) var embedding: [Float]?
    public internal(set) var labels: LabelHistory
    /// Frame, time and box of the last recognition result folded into the labels.
    public internal(set) var lastInferredFrame: Int?
    public internal(set) var lastInferredTime: Double?
    public internal(set) var lastInferredBox: Box?
    /// Whether the labels come only from views cut by the frame's edge (the object entering
    /// or leaving): a whole view then replaces them (Tracker.observeLabel).
    public internal(set) var labelsFromPartialView = false
    /// Looks in a row after which the label margin stayed below the policy's minimum
    /// (0 after a look that left it decided): the low-margin retry backs off with it.
    public internal(set) var lowMarginLooks = 0
    /// Whether its box touched another live track's since its last look: a size or place
    /// change is an identity question only then (Tracker.recognitionRequests).
    public internal(set) var metOthersSinceLook = false
    /// Whether the last propagation held the box where it was because the picture said
    /// nothing moved there (`Tracker.propagate`'s `still`: an object that stopped).
    public internal(set) var stoodStill = false
    /// Frame and time of the last keyframe match (any proposal).
    public internal(set) var lastSeenFrame: Int
    public internal(set) var lastSeenBox: Box
    public internal(set) var lastSeenTime: Double
    public internal(set) var lastFrame: Int
    /// Keyframe matches in total, consecutive matches, and consecutive missed keyframes.
    public internal(set) var hits: Int
    public internal(set) var consecutiveHits: Int
    public internal(set) var misses: Int
    public internal(set) var method: PropagationMethod
    /// Frames moved by motion vectors since the last keyframe match.
    public internal(set) var motionFrames = 0
    /// Variance of the last keyframe box, relative to the box height squared.
    public internal(set) var anchorVariance: Float = 0.0025
    /// Whether its box, at an edge of the picture, shrank the last time it followed a
    /// moving region (its object going out; Tracker.follow).
    public internal(set) var shrinkingAtEdge = false
    /// Consecutive frames on which the caller found nothing of its object in its box
    /// (`Tracker.noteVacant`): from `TrackerConfig.vacantFramesToHide` on it is not published.
    public internal(set) var vacantFrames = 0
    /// Source tag of the last matched proposal.
    public internal(set) var source: String

    init(id: UInt64, proposal: Proposal, frame: FrameInfo, noise: KalmanNoise) {
        self.id = id
        state = .tentative
        box = proposal.box
        kalman = BoxKalman(box: proposal.box, noise: noise)
        regionToken = proposal.regionToken.map(l2Normalized)
        embedding = proposal.embedding.map(l2Normalized)
        labels = LabelHistory()
        lastSeenFrame = frame.index; lastSeenBox = proposal.box; lastSeenTime = frame.time; lastFrame = frame.index
        hits = 1; consecutiveHits = 1; misses = 0
        method = .observed
        source = proposal.source
    }

    /// Blends a new vector into a running L2-normalized mean (momentum on the old one).
    static func blend(_ old: [Float]?, _ new: [Float]?, momentum: Float) -> [Float]? {
        guard let new else { return old }
        let n = l2Normalized(new)
        guard let old, old.count == n.count else { return n }
        var out = old
        for i in out.indices { out[i] = momentum * old[i] + (1 - momentum) * n[i] }
        return l2Normalized(out)
    }

    /// Whether motion vectors moved the box over most of the frames since its last keyframe
    /// match (to frame `index`): the box is then a sighting of the object, not a prediction.
    func carried(to index: Int) -> Bool { motionFrames * 2 >= max(1, index - lastSeenFrame) }

    /// Age of the label in seconds at `time` (nil if never recognized).
    public func labelAge(at time: Double) -> Double? { lastInferredTime.map { max(0, time - $0) } }

    /// `b` (a region or proposal: what shows inside a `width` x `height` picture) with the
    /// track's size kept along each axis where `b` and the track's box are both cut by the
    /// same edge and `b` is the smaller: an object going out keeps its size, its box sliding
    /// out of the picture, so the share still showing says when it has left
    /// (`TrackerConfig.minVisibleFraction`). Across the picture, or growing (an object coming
    /// in), `b` as it is.
    func keepingSize(_ b: Box, width: Float, height: Float) -> Box {
        let e = b.edges(width: width, height: height) & box.edges(width: width, height: height)
        var r = b
        if box.width > b.width {
            if e & 1 != 0 && e & 4 == 0 { r.x1 = b.x2 - box.width } else if e & 4 != 0 && e & 1 == 0 { r.x2 = b.x1 + box.width }
        }
        if box.height > b.height {
            if e & 2 != 0 && e & 8 == 0 { r.y1 = b.y2 - box.height } else if e & 8 != 0 && e & 2 == 0 { r.y2 = b.y1 + box.height }
        }
        return r
    }
}
