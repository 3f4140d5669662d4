// The per-stream tracker. On every decoded frame call `propagate` (with that frame's
// motion vectors, or nil on intra frames / codecs without vectors); on an inference
// keyframe then call `update` with the proposals for that same frame; read `regions()`
// (published boxes with provenance) and `recognitionRequests()` (which tracks want a fresh
// look at the next keyframe). `setVocabulary` re-scores every live track without any
// encoder. A value type: one per stream, owned by that stream's pipeline.

public struct Tracker: Sendable {
    public var config: TrackerConfig
    public private(set) var vocabulary: TrackerVocabulary?
    public internal(set) var tracks: [Track] = []
    /// Next id to hand out (ids are never reused).
    public private(set) var nextID: UInt64 = 1
    /// Tracks that ended in the last `update` (they are no longer in `tracks`), so a
    /// publisher can announce the end of each track once.
    public internal(set) var endedTrackIDs: [UInt64] = []
    /// Duplicate tracks merged in the last `update` (each also in `endedTrackIDs`).
    public internal(set) var mergedTracks: [TrackMergeEvent] = []
    /// Consecutive keyframes on which two tracks looked like one object (older id first).
    var overlapStreak: [TrackPair: Int] = [:]
    /// The last frame seen by `propagate` or `update`.
    public internal(set) var frame: FrameInfo?
    var keyframesSeen = 0
    var scratch = MotionScratch()

    public init(config: TrackerConfig = TrackerConfig(), vocabulary: TrackerVocabulary? = nil) {
        self.config = config
        self.vocabulary = vocabulary
    }

    mutating func makeID() -> UInt64 { defer { nextID += 1 }; return nextID }

    // MARK: propagation (every frame)

    /// Moves every live track to `frame`: by the median motion of the vectors inside its
    /// box when they are usable, otherwise by the constant-velocity Kalman prediction.
    /// `motion` is nil (or empty) on intra frames and for codecs without vectors.
    /// `still(box)`: nothing in the picture moved inside `box` since the last frame; a
    /// track without a motion estimate then stays where it is instead of coasting.
    public mutating func propagate(to frame: FrameInfo, motion: [MotionSample]?, still: (Box) -> Bool = { _ in false }) {
        let field: MotionField? =
            if config.useMotionVectors, let motion, !motion.isEmpty {
                MotionField(samples: motion, width: frame.width, height: frame.height, config: config.motion)
            } else { nil }
        propagate(to: frame, field: field, still: still)
    }

    /// As above with a field binned by the caller (lets one field serve several trackers).
    public mutating func propagate(to frame: FrameInfo, field: MotionField?, still: (Box) -> Bool = { _ in false }) {
        // Pass 1: predict every track and read its motion from the field. Vectors describe
        // one frame step, so they are only used between consecutive frames. The filter's
        // velocity serves as the prior once it is sure of it.
        var estimates = [MotionEstimate?](repeating: nil, count: tracks.count)
        var priors = [(dx: Float, dy: Float)?](repeating: nil, count: tracks.count)
        var previous = [Box](repeating: Box(x1: 0, y1: 0, x2: 0, y2: 0), count: tracks.count)
        var moving = [Bool](repeating: false, count: tracks.count)
        for t in tracks.indices where tracks[t].state != .ended {
            let dt = Float(frame.index - tracks[t].lastFrame)
            guard dt > 0 else { continue }
            moving[t] = true
            previous[t] = tracks[t].box
            tracks[t].kalman.predict(dt: dt)
            let k = tracks[t].kalman
            if k.velocityStd < config.priorVelocityStd { priors[t] = (k.velocity.x, k.velocity.y) }
            if dt == 1, let field {
                estimates[t] = field.estimate(for: previous[t], prior: priors[t], scratch: &scratch)
            }
        }
        // Pass 2: occlusion. A track whose vectors say it suddenly moves the way an
        // overlapping track is known to move is being covered by that track: it coasts
        // on its own prediction instead of being dragged along.
        for t in tracks.indices where moving[t] {
            guard let e = estimates[t], let p = priors[t], !Self.agrees(e, p, config.motion) else { continue }
            for u in tracks.indices where u != t && moving[u] {
                guard let q = priors[u], Self.agrees(e, q, config.motion),
                      previous[u].iou(previous[t]) > 0 else { continue }
                estimates[t] = nil
                break
            }
        }
        // Pass 3: move.
        for t in tracks.indices where moving[t] {
            if let m = estimates[t] {
                tracks[t].stoodStill = false
                let moved = m.apply(to: previous[t])
                tracks[t].kalman.update(moved, relativeStd: config.kalman.motion)
                tracks[t].box = moved
                tracks[t].method = .motionVectors
                tracks[t].motionFrames += 1
            } else {
                // consecutive frames only: a gap says nothing about what moved in it
                tracks[t].stoodStill = frame.index - tracks[t].lastFrame == 1 && still(previous[t])
                if tracks[t].stoodStill {
                    tracks[t].kalman.stop(at: previous[t])
                } else {
                    tracks[t].kalman.holdSize(previous[t])
                }
                tracks[t].box = tracks[t].kalman.box
                tracks[t].method = .kalman
            }
            tracks[t].lastFrame = frame.index
        }
        noteMeetings()
        self.frame = frame
    }

    /// Marks the live tracks whose boxes touch another's (`metOthersSinceLook`).
    mutating func noteMeetings() {
        let live = tracks.indices.filter { tracks[$0].state == .confirmed || tracks[$0].state == .tentative }
        for (n, a) in live.enumerated() {
            for b in live[(n + 1)...] where tracks[a].box.iou(tracks[b].box) > 0 {
                tracks[a].metOthersSinceLook = true
                tracks[b].metOthersSinceLook = true
            }
        }
    }

    /// True when a motion estimate matches an expected displacement (prior tolerance).
    static func agrees(_ e: MotionEstimate, _ p: (dx: Float, dy: Float), _ c: MotionConfig) -> Bool {
        let tol = c.priorPixels + c.priorSpread * (p.dx * p.dx + p.dy * p.dy).squareRoot()
        return abs(e.dx - p.dx) <= tol && abs(e.dy - p.dy) <= tol
    }

    // MARK: output

    /// Tracks published on the current frame (confirmed ones with a box still on screen),
    /// with provenance. Boxes are clipped to the frame here; internally a track keeps its
    /// whole box, so an object half out of the frame keeps its shape and can come back.
    public func regions() -> [TrackedRegion] {
        guard let frame else { return [] }
        return tracks.filter { t in
            guard t.state == .confirmed, t.vacantFrames < config.vacantFramesToHide else { return false }
            let visible = t.box.clipped(width: frame.width, height: frame.height).area
            return visible > 0 && visible >= config.minVisibleFraction * t.box.area
        }.map { region(for: $0, at: frame) }
    }

    func region(for t: Track, at frame: FrameInfo) -> TrackedRegion {
        let inferredNow = t.lastInferredFrame == frame.index
        let label = t.labels.label
        let name: String? =
            if let label, let v = vocabulary, label < v.count { v.names[label] } else { nil }
        return TrackedRegion(
            trackID: t.id, state: t.state, box: t.box.clipped(width: frame.width, height: frame.height), label: label, labelName: name,
            score: t.labels.score, margin: t.labels.margin, top: t.labels.top(config.topK),
            provenance: Provenance(
                kind: inferredNow ? .inferred : .propagated,
                sourceFrame: t.lastInferredFrame,
                labelAge: t.labelAge(at: frame.time),
                boxMethod: t.method))
    }

    /// The caller's evidence on this frame, per confirmed track: `vacant(track)` is true
    /// when nothing moves in its box and its picture is not what it was when last matched
    /// (its object walked out of it, leaving the box on still background). Counts such
    /// frames in a row (`Track.vacantFrames`); any other answer resets the count.
    public mutating func noteVacant(_ vacant: (Track) -> Bool) {
        for t in tracks.indices where tracks[t].state == .confirmed {
            tracks[t].vacantFrames = vacant(tracks[t]) ? tracks[t].vacantFrames + 1 : 0
        }
    }

    /// Live tracks (not ended), any state.
    public var liveTracks: [Track] { tracks.filter { $0.state != .ended } }

    // MARK: recognition

    /// Confirmed tracks whose label should be refreshed at the next keyframe: never
    /// recognized, drifted (area change or low IoU to the last recognized box), labelled
    /// only while cut by the frame's edge and now wholly inside it, low label margin, or a
    /// label older than the policy allows. The others reuse their label.
    public func recognitionRequests() -> [RecognitionRequest] {
        guard let frame else { return [] }
        let p = config.recognition
        var out: [RecognitionRequest] = []
        for t in tracks where t.state == .confirmed {
            let visible = t.box.clipped(width: frame.width, height: frame.height)
            // Wholly outside the picture: nothing to look at.
            guard visible.area > 0 else { continue }
            let atEdge = t.box.touchesEdge(width: frame.width, height: frame.height)
            let reason: RecognitionReason?
            if let inferred = t.lastInferredBox, let time = t.lastInferredTime {
                let areaChange = abs(t.box.area - inferred.area) / max(inferred.area, 1)
                // A box cut by the picture's edge changes size because the object enters
                // or leaves. Leaving, or already labelled from a whole view, another look
                // there sees less than the one before; entering with labels from a sliver
                // of it, a look at the larger part it now shows is worth having.
                let entering = t.labelsFromPartialView && visible.area > inferred.area * (1 + p.maxAreaChange)
                if (!atEdge || entering) && (areaChange > p.maxAreaChange || t.box.iou(inferred) < p.minIoUToInferred)
                    && (!p.driftOnlyAfterMeeting || t.metOthersSinceLook || entering) {
                    reason = .drift
                } else if t.labelsFromPartialView && !atEdge {
                    reason = .partialView
                } else if t.labels.margin < p.minMargin,
                          frame.time - time >= p.lowMarginRetry * Double(1 << min(max(t.lowMarginLooks - 1, 0), 16)) - 1e-3 {
                    reason = .lowMargin
                } else if frame.time - time > p.maxLabelAge {
                    reason = .stale
                } else { reason = nil }
            } else { reason = .neverRecognized }
            if let reason {
                out.append(RecognitionRequest(trackID: t.id, box: t.box.clipped(width: frame.width, height: frame.height),
                                              reason: reason))
            }
        }
        return out
    }

    /// Switches to a new vocabulary and re-scores every live track from its stored
    /// semantic embedding (no encoder run). Tracks without an embedding lose their label.
    public mutating func setVocabulary(_ v: TrackerVocabulary) {
        vocabulary = v
        for t in tracks.indices where tracks[t].state != .ended {
            if let e = tracks[t].embedding, let p = v.probabilities(for: e) {
                tracks[t].labels.reset(to: p)
            } else {
                tracks[t].labels = LabelHistory(alpha: config.labelAlpha)
            }
        }
    }
}
