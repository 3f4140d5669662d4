// Every knob of the tracker in one place, with the defaults the synthetic evaluation
// (docs/temporal-results.md) was run with.

/// When a track asks the recognizer for a fresh look instead of reusing its label.
public struct RecognitionPolicy: Sendable, Equatable {
    /// Box area changed by more than this fraction since the last recognition.
    public var maxAreaChange: Float = 0.3
    /// IoU of the current box with the last recognized box below this.
    public var minIoUToInferred: Float = 0.5
    /// Drift asks only for a track whose box touched another track's since its last look
    /// (two objects crossing, merging or parting: an identity question); a lone object
    /// that changes size or place as it walks keeps its label.
    public var driftOnlyAfterMeeting = true
    /// Label margin (top-1 minus top-2 running score) below this.
    public var minMargin: Float = 0.15
    /// A low margin asks again only once the label is this many seconds old, doubled for
    /// each look in a row after which the margin stayed low (an ambiguous object seen the
    /// same way gives the same answer; the wait is still bounded by `maxLabelAge`).
    /// 0: ask on every keyframe while the margin is low. 2 s, not 1: a second later the
    /// look answered the same on every scene (30 shapes scenes: the same metrics, one run
    /// fewer), while vtest.avi with BB weights spent 5 of its 61 runs on it.
    public var lowMarginRetry: Double = 2
    /// Label older than this many seconds.
    public var maxLabelAge: Double = 10
    public init() {}
}

public struct TrackerConfig: Sendable, Equatable {
    /// Association cost = (iouWeight x (1 - IoU) + tokenWeight x clamp(1 - cos(tokens), 0, 1))
    /// / (iouWeight + tokenWeight). Without tokens on either side it is (1 - IoU) alone.
    public var iouWeight: Float = 0.5
    public var tokenWeight: Float = 0.5
    /// A pair is allowed only with IoU >= minIoU and cost <= maxCost.
    public var minIoU: Float = 0.1
    public var maxCost: Float = 0.75
    /// IoU for gating and cost is taken after moving the track's box toward the proposal
    /// by up to this many centre standard deviations of its Kalman filter.
    public var gateSigmas: Float = 2
    /// ByteTrack stages: proposals at or above highScore go first against all tracks;
    /// those in [lowScore, highScore) then go against the confirmed tracks left, by IoU.
    public var highScore: Float = 0.5
    public var lowScore: Float = 0.1
    /// Stage-two gate (IoU only).
    public var lowScoreMinIoU: Float = 0.4
    /// A confirmed track is published only while at least this fraction of its box is
    /// inside the picture: an object leaving the frame is not a 1-pixel sliver at the
    /// edge (vtest.avi published 0-6 px wide boxes for a few frames at each exit). The
    /// track lives on unpublished until the tracker ends it.
    public var minVisibleFraction: Float = 0.2
    /// A proposal matched to a confirmed track (or a lost one whose picture is unchanged)
    /// that is under this share of the track's box area, lies inside it (`pieceCoverage` of
    /// it) and has the track's label is a piece of the object: the head or leg of someone
    /// standing, whose still body the background absorbed. It says the object is there, not
    /// where its box is: the track is seen and keeps its box and region token, the look
    /// still labels it (the box no longer collapses onto the piece, and the other pieces,
    /// inside the box, are no births). 0: every match moves the box.
    public var pieceAreaRatio: Float = 0.25
    public var pieceCoverage: Float = 0.8
    /// Unmatched proposals at or above this start a tentative track.
    public var birthScore: Float = 0.6
    /// ...unless live tracks already cover at least this share of the proposal's area
    /// (a box around two tracked objects that touch is not a third object).
    public var birthMaxCoverage: Float = 0.9
    /// Two live tracks whose boxes overlap by more than this IoU after a keyframe are one
    /// object: the younger merges into the older id (`mergedTrackIDs`).
    public var mergeIoU: Float = 0.5
    /// ...or when this share of the smaller box lies inside the larger one and the smaller
    /// is at least `mergeMinAreaRatio` of the larger's area.
    public var mergeContainment: Float = 0.85
    public var mergeMinAreaRatio: Float = 0.15
    /// ...on this many consecutive keyframes, moving alike (velocities within
    /// `mergeVelocityTolerance` px/frame plus half the faster one's speed): objects that
    /// cross overlap for a moment and move differently; duplicates stay together.
    public var mergeAfterKeyframes: Int = 2
    public var mergeVelocityTolerance: Float = 1
    /// Consecutive keyframe hits to confirm a track (tracks born on the stream's first
    /// keyframe are confirmed at once, as ByteTrack does).
    public var birthHits: Int = 2
    /// A proposal at least this confident is confirmed at birth (with keyframes a second
    /// apart, N hits cost N-1 seconds of a visible object going unreported). > 1 disables.
    public var confirmScore: Float = 0.9
    /// Missed keyframes after which a confirmed track is lost (no longer published).
    public var lostAfterMisses: Int = 2
    /// A track inside a moving region holding two or more tracks (objects that touch or
    /// cross) counts no miss while unmatched, for up to this long since it was last seen.
    public var maxHeldSeconds: Double = 2
    /// Frames in a row on which nothing moves in a confirmed track's box and its picture is
    /// not what it was when last matched (`Tracker.noteVacant`) before the track goes
    /// unpublished: until a keyframe matches it or a frame's evidence says otherwise
    /// (something moves in its box again). Hidden, not lost: keyframes decide that.
    public var vacantFramesToHide = 3
    /// Missed keyframes after which a track ends.
    public var maxMisses: Int = 4
    /// A lost track can be re-identified by its region token for this many seconds.
    public var reidWindow: Double = 6
    /// Re-identification reach: a proposal farther than (1 + this x seconds since the track
    /// was last seen) box diagonals, plus the distance the track's own velocity covers in
    /// that time, from where it was last seen is not the same object (region tokens of
    /// look-alike objects can be close). A walking person covers under one diagonal (about
    /// his height) a second; the shapes scenes' objects 0.6 (median), 1.3 (90th percentile),
    /// and the faster ones carry their velocity. With 3 and no velocity term, tracks on
    /// vtest.avi jumped 440-670 px across the picture to look-alikes 2 s after they were
    /// last seen; with 1 alone, track-eval's fast objects lost 0.011-0.015 IDF1.
    public var reidDiagonalsPerSecond: Float = 1
    /// Re-identification of a track carried by motion vectors since its last look: its box
    /// is itself a sighting, so a proposal farther than this many diagonals from that box is
    /// someone else. Vector-carried boxes drift up to 1.4 diagonals over 4 s on track-eval's
    /// scenes; on vtest.avi, with no such limit, tracks moved 1.5-2.7 diagonals (150-280 px)
    /// in one frame to look-alike walkers while their own walker, merged into a neighbour's
    /// proposal, was still under the box.
    public var reidCarriedReach: Float = 1.5
    /// Re-identification size sanity: a proposal whose area differs from the track's last
    /// seen box by more than this factor (either way) is another object, or a fragment
    /// of one (a limb, an edge sliver), whatever its token says.
    public var reidMaxAreaRatio: Float = 2.5
    /// Minimum token cosine similarity to re-identify a lost track.
    public var reidMinSimilarity: Float = 0.75
    /// Re-identification cost = 1 - token similarity + this x (distance from the track's
    /// box now / its reach). Tokens of look-alike people differ by a few hundredths; by
    /// similarity alone a track lost 150 px away took a walker from his own track beside
    /// him (vtest.avi, 22 s), and the walker's track, lost, took a man entering at the
    /// other side of the picture a second later (490 px). With 0.25 vtest's published
    /// tracks jump 27 times instead of 33 and miss 357 frames inside their lives instead
    /// of 492; the shapes scenes (distinct classes) and track-eval are unchanged.
    public var reidDistanceWeight: Float = 0.25
    /// Re-identify a labelled track only with a proposal whose best class is its label.
    public var reidNeedsSameLabel: Bool = true
    /// Momentum of the running region token / embedding (weight on the old value).
    public var tokenMomentum: Float = 0.8
    /// Label history: weight of a new keyframe's class probabilities.
    public var labelAlpha: Float = 0.4
    /// Use the codec's motion vectors between keyframes (false: constant velocity only).
    public var useMotionVectors: Bool = true
    public var motion = MotionConfig()
    /// The Kalman velocity serves as the motion prior once its std is below this (px/frame).
    public var priorVelocityStd: Float = 1.0
    public var kalman = KalmanNoise()
    public var recognition = RecognitionPolicy()
    /// Classes listed in each region's `top`.
    public var topK: Int = 3
    public init() {}
}
