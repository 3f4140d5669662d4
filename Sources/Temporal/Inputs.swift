// What the tracker consumes. Temporal imports neither Decode nor Recognizer: the daemon
// converts their outputs into these plain types.

/// One codec motion vector, read forward: a block whose centre was at (`x`, `y`) in the
/// previous frame is at (`x + dx`, `y + dy`) in this one. Source pixels.
/// From FFmpeg's AVMotionVector with source < 0: (x, y) = (src_x, src_y),
/// (dx, dy) = (dst_x - src_x, dst_y - src_y).
public struct MotionSample: Sendable, Equatable {
    public var x: Float
    public var y: Float
    public var dx: Float
    public var dy: Float
    /// Block area in pixels (16x16 = 256), 0 when unknown. Lets the field count the
    /// blocks a decoder left out (see `MotionConfig.missingBlocksAreStatic`).
    public var area: Float
    public init(x: Float, y: Float, dx: Float, dy: Float, area: Float = 0) {
        self.x = x; self.y = y; self.dx = dx; self.dy = dy; self.area = area
    }
}

/// A region proposal on a keyframe: a box and what the recognizer (or a detector) said.
public struct Proposal: Sendable {
    /// xyxy, source pixels.
    public var box: Box
    /// Detection or recognition confidence in 0...1; splits ByteTrack's two stages.
    public var score: Float
    /// The SAM region token (256-d for RegionSpot), used for association and re-id.
    public var regionToken: [Float]?
    /// The head's projected region embedding (text dim), used to re-score labels.
    public var embedding: [Float]?
    /// Per-class probabilities over the current vocabulary, if the caller has them;
    /// otherwise they are computed from `embedding` and the tracker's vocabulary.
    public var classScores: [Float]?
    /// Where the proposal came from ("regionspot", "detector", "truth+noise", ...).
    public var source: String

    public init(box: Box, score: Float, regionToken: [Float]? = nil, embedding: [Float]? = nil,
                classScores: [Float]? = nil, source: String = "") {
        self.box = box; self.score = score; self.regionToken = regionToken
        self.embedding = embedding; self.classScores = classScores; self.source = source
    }

    /// The index of the largest of `classScores` (nil without them).
    public var bestClass: Int? { classScores.flatMap { s in s.indices.max(by: { s[$0] < s[$1] }) } }

    /// True when the proposal carries a recognition result (so it refreshes a label).
    public var isRecognized: Bool { embedding != nil || classScores != nil }
}

/// A frame's geometry and clock, given to every tracker step.
public struct FrameInfo: Sendable, Equatable {
    public var index: Int
    /// Seconds (stream time: PTS x time base).
    public var time: Double
    public var width: Float
    public var height: Float
    public init(index: Int, time: Double, width: Float, height: Float) {
        self.index = index; self.time = time; self.width = width; self.height = height
    }
}
