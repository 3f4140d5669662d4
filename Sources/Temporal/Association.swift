// Keyframe association, ByteTrack-style in stages, each an optimal assignment:
//  1. confident proposals against every live track, cost mixing (1 - IoU) and region-token
//     cosine distance;
//  2. low-score proposals against the confirmed tracks still unmatched, by IoU alone
//     (their tokens are less trustworthy);
//  3. confident proposals still unmatched against unmatched confirmed or lost tracks
//     (within the re-id window) by region-token similarity, the nearer of look-alikes
//     first (reidCost): re-identification.
// Then births (tentative tracks, confirmed after N consecutive hits) and deaths (after M
// missed keyframes).

extension Tracker {
    /// Folds a keyframe's proposals into the tracks. Call after `propagate(to:)` for the
    /// same frame (if it was not, the tracks are moved by Kalman prediction first).
    /// `stillThere(track)`: the picture inside the track's box still shows what it showed
    /// when the track was last matched (the caller keeps the pictures): its object has not
    /// gone anywhere, so re-identification (stage 3) never moves it to a box elsewhere.
    /// `held(track)`: the caller has evidence the track's object is still where it is
    /// though no proposal may show it (inside a moving region that holds two or more
    /// tracks, one box over objects that touch or cross): unmatched, it counts no miss.
    public mutating func update(frame: FrameInfo, proposals: [Proposal], stillThere: ((Track) -> Bool)? = nil,
                                held: (Track) -> Bool = { _ in false }) {
        if self.frame?.index != frame.index { propagate(to: frame, field: nil) }
        keyframesSeen += 1
        let firstKeyframe = keyframesSeen == 1
        let c = config

        var proposalUsed = [Bool](repeating: false, count: proposals.count)
        var trackUsed = [Bool](repeating: false, count: tracks.count)
        let high = proposals.indices.filter { proposals[$0].score >= c.highScore }
        let low = proposals.indices.filter { proposals[$0].score >= c.lowScore && proposals[$0].score < c.highScore }

        // Stage 1: confident proposals x live tracks, IoU + token.
        let live = tracks.indices.filter { tracks[$0].state != .ended }
        for (pi, ti) in assign(proposals, high, live, cost: { p, t in self.mixedCost(p, t) }) {
            let track = tracks[ti]
            match(track: ti, proposal: proposals[pi], frame: frame, stillThere: { stillThere?(track) ?? false })
            proposalUsed[pi] = true; trackUsed[ti] = true
        }
        // Stage 2: low-score proposals x unmatched confirmed tracks, IoU only.
        let confirmedLeft = tracks.indices.filter { !trackUsed[$0] && tracks[$0].state == .confirmed }
        for (pi, ti) in assign(proposals, low, confirmedLeft, cost: { p, t in
            let iou = self.gatingIoU(t, p.box)
            return iou >= c.lowScoreMinIoU ? 1 - iou : nil
        }) {
            match(track: ti, proposal: proposals[pi], frame: frame)  // confirmed tracks: stillThere is not asked
            proposalUsed[pi] = true; trackUsed[ti] = true
        }
        // Stage 3: re-identification by region token.
        let highLeft = high.filter { !proposalUsed[$0] }
        let reidable = tracks.indices.filter {
            !trackUsed[$0] && (tracks[$0].state == .confirmed || tracks[$0].state == .lost)
                && frame.time - tracks[$0].lastSeenTime <= c.reidWindow
                && !(stillThere?(tracks[$0]) ?? false)
        }
        for (pi, ti) in assign(proposals, highLeft, reidable, cost: { p, t in self.reidCost(p, t, at: frame) }) {
            // The box jumps to the proposal: restart the motion model there, with the mean
            // velocity since the track was last seen.
            let last = tracks[ti].lastSeenBox, newBox = proposals[pi].box
            let frames = Float(max(1, frame.index - tracks[ti].lastSeenFrame))
            tracks[ti].kalman = BoxKalman(box: newBox, noise: c.kalman)
            tracks[ti].kalman.setVelocity(x: (newBox.cx - last.cx) / frames, y: (newBox.cy - last.cy) / frames)
            match(track: ti, proposal: proposals[pi], frame: frame)
            proposalUsed[pi] = true; trackUsed[ti] = true
        }
        // Misses and deaths.
        for ti in tracks.indices where !trackUsed[ti] && tracks[ti].state != .ended && !(canHold(tracks[ti], at: frame) && held(tracks[ti])) {
            registerMiss(ti, frame: frame)
        }
        removeEndedTracks()
        // Births, except where live tracks already cover the proposal (a box around two
        // tracked objects that touch is not a third object).
        let liveBoxes = tracks.filter { $0.state != .ended }.map { visibleBox($0) }
        for pi in high where !proposalUsed[pi] && proposals[pi].score >= c.birthScore {
            if Self.coverage(of: proposals[pi].box, by: liveBoxes) >= c.birthMaxCoverage { continue }
            var t = Track(id: makeID(), proposal: proposals[pi], frame: frame, noise: c.kalman)
            t.labels = LabelHistory(alpha: c.labelAlpha)
            if firstKeyframe || c.birthHits <= 1 || proposals[pi].score >= c.confirmScore { t.state = .confirmed }
            tracks.append(t)
            observeLabel(track: tracks.count - 1, proposal: proposals[pi], frame: frame)
        }
        self.frame = frame
        mergeDuplicates()
    }

    /// Whether `t`, said to be held (`update`'s `held`), counts no miss while unmatched at
    /// `frame`: confirmed, seen within `maxHeldSeconds`, labelled from a whole view (two
    /// slivers of one object coming in, each a track, lie in one region too), and not a box
    /// lying inside another live track's (`mergeContainment`: a piece or a duplicate of
    /// that object, or an object hidden behind it). Scene 1003 with the demo configuration
    /// held both slivers of a star for 2 s without the last two rules.
    public func canHold(_ t: Track, at frame: FrameInfo) -> Bool {
        guard t.state == .confirmed, !t.labelsFromPartialView, frame.time - t.lastSeenTime <= config.maxHeldSeconds,
              t.box.area > 0 else { return false }
        return !tracks.contains { u in
            u.id != t.id && u.state != .ended && Self.coverage(of: t.box, by: [u.box]) >= config.mergeContainment
        }
    }

    /// Ended tracks leave `tracks`; their ids are `endedTrackIDs` (announced once).
    mutating func removeEndedTracks() {
        endedTrackIDs = tracks.filter { $0.state == .ended }.map(\.id)
        tracks.removeAll { $0.state == .ended }
    }

    /// A keyframe on which track `ti` was not seen: tentative tracks end, confirmed ones
    /// are lost after `lostAfterMisses` and end after `maxMisses` (or a re-id window).
    mutating func registerMiss(_ ti: Int, frame: FrameInfo) {
        let c = config
        tracks[ti].misses += 1
        tracks[ti].consecutiveHits = 0
        switch tracks[ti].state {
        case .tentative:
            tracks[ti].state = .ended
        case .confirmed where tracks[ti].misses >= c.lostAfterMisses:
            tracks[ti].state = .lost
        default: break
        }
        if tracks[ti].misses >= c.maxMisses
            || (tracks[ti].state == .lost && frame.time - tracks[ti].lastSeenTime > c.reidWindow) {
            tracks[ti].state = .ended
        }
    }

    /// Share of `box`'s area inside the union of `others` (upper bound: overlaps among the
    /// others count twice; capped at 1).
    public static func coverage(of box: Box, by others: [Box]) -> Float {
        guard box.area > 0 else { return 0 }
        var inside: Float = 0
        for o in others { inside += box.intersection(o) }
        return min(1, inside / box.area)
    }

    /// The track's box clipped to the current frame (proposals never leave the frame).
    func visibleBox(_ t: Track) -> Box {
        guard let f = frame else { return t.box }
        return t.box.clipped(width: f.width, height: f.height)
    }

    /// IoU of a proposal with the track's box, where the box may first move toward the
    /// proposal by up to `gateSigmas` x the filter's centre std (capped at one box size):
    /// a track that coasted on its prediction for a long time is uncertain, one carried by
    /// motion vectors is not, and the gate follows.
    func gatingIoU(_ t: Track, _ p: Box) -> Float {
        let b = visibleBox(t)
        let iou = b.iou(p)
        let slack = min(config.gateSigmas * t.kalman.centreStd, max(b.width, b.height))
        guard slack > 0 else { return iou }
        let dx = min(max(p.cx - b.cx, -slack), slack), dy = min(max(p.cy - b.cy, -slack), slack)
        return max(iou, b.translated(dx: dx, dy: dy).iou(p))
    }

    /// Stage 3's cost of giving proposal `p` to track `t` (re-identification), or nil when
    /// the pair is ruled out: 1 - token similarity, plus `reidDistanceWeight` x the
    /// proposal's distance from the track's box now over the track's reach.
    func reidCost(_ p: Proposal, _ t: Track, at frame: FrameInfo) -> Float? {
        let c = config
        guard let a = p.regionToken, let b = t.regionToken else { return nil }
        // Spatial sanity: no farther from where it was last seen than it could have gone.
        let last = t.lastSeenBox
        let diagonal = last.diagonal
        let elapsed = Float(max(0, frame.time - t.lastSeenTime))
        // plus the way its own velocity carries it (a fast object's reach grows with it)
        let v = t.kalman.velocity
        let travelled = (v.x * v.x + v.y * v.y).squareRoot() * Float(max(1, frame.index - t.lastSeenFrame))
        let reach = diagonal * (1 + c.reidDiagonalsPerSecond * elapsed) + travelled
        guard p.box.centreDistance(to: last) <= reach else { return nil }
        // Carried by motion vectors since its last look, the track's box is itself a
        // sighting of its object (TrackerConfig.reidCarriedReach): the object is under
        // it (its proposal merged with a neighbour's, or rejected), not at a look-alike
        // a walker's reach away from the last look.
        let here = self.visibleBox(t)
        if t.carried(to: frame.index) {
            guard p.box.centreDistance(to: here) <= c.reidCarriedReach * here.diagonal else { return nil }
        }
        // Last seen at the frame's edge, it left there: it comes back through the same
        // edge, not through another one (a newcomer of the same class entering elsewhere
        // is new). Seen again wholly inside, it may have been hidden by something near
        // the edge: allowed (track-eval's 0.5 s row lost an identity without that), but
        // not once its coasting box has gone out of the picture (under half of it
        // inside): then it left, and someone wholly inside is someone else (vtest.avi:
        // a track that left by the left edge was given a walker 430 px inside, 4 s on).
        let exits = last.edges(width: frame.width, height: frame.height)
        let enters = p.box.edges(width: frame.width, height: frame.height)
        let left = here.area < 0.5 * t.box.area
        guard exits == 0 || (enters == 0 && !left) || exits & enters != 0 else { return nil }
        let ratio = p.box.area / max(last.area, 1)
        guard ratio <= c.reidMaxAreaRatio && ratio >= 1 / c.reidMaxAreaRatio else { return nil }
        // The same object is the same class: a labelled track takes back only a
        // proposal whose best class is its label (region tokens describe a mask's
        // shape more than an object's identity).
        if c.reidNeedsSameLabel, let label = t.labels.label, let best = p.bestClass, best != label { return nil }
        let sim = cosineSimilarity(a, b)
        guard sim >= c.reidMinSimilarity else { return nil }
        // Look-alikes' tokens are close: of two, the one nearer to where its track is now
        // takes the proposal (TrackerConfig.reidDistanceWeight).
        return 1 - sim + c.reidDistanceWeight * min(1, p.box.centreDistance(to: here) / max(reach, 1))
    }

    /// Combined cost, or nil when gated out. Both terms lie in 0...1.
    func mixedCost(_ p: Proposal, _ t: Track) -> Float? {
        var iou = gatingIoU(t, p.box)
        // An object entering the picture grows: a track that has seen it only cut by the
        // edge takes a larger view that contains its box (a sliver at the bottom edge
        // inside the whole object a second later), however small their IoU.
        if iou < config.minIoU && t.labelsFromPartialView && Self.coverage(of: visibleBox(t), by: [p.box]) >= config.pieceCoverage {
            iou = config.minIoU
        }
        guard iou >= config.minIoU else { return nil }
        // going out of the picture, it is not half as large again at the next look
        if t.shrinkingAtEdge && p.box.area > 1.5 * visibleBox(t).area { return nil }
        var cost = 1 - iou
        if let a = p.regionToken, let b = t.regionToken, a.count == b.count {
            let tokenDistance = min(max(1 - cosineSimilarity(a, b), 0), 1)
            let w = config.iouWeight + config.tokenWeight
            if w > 0 { cost = (config.iouWeight * cost + config.tokenWeight * tokenDistance) / w }
        }
        return cost <= config.maxCost ? cost : nil
    }

    /// Optimal assignment of `proposalIndices` to `trackIndices` under `cost` (nil = gated).
    /// Returns (proposal index, track index) pairs.
    func assign(_ proposals: [Proposal], _ proposalIndices: [Int], _ trackIndices: [Int],
                cost: (Proposal, Track) -> Float?) -> [(Int, Int)] {
        guard !proposalIndices.isEmpty, !trackIndices.isEmpty else { return [] }
        let cols = trackIndices.count
        var m = [Double](repeating: .infinity, count: proposalIndices.count * cols)
        for (r, pi) in proposalIndices.enumerated() {
            for (k, ti) in trackIndices.enumerated() {
                if let x = cost(proposals[pi], tracks[ti]) { m[r * cols + k] = Double(x) }
            }
        }
        return Assignment.solve(costs: m, rows: proposalIndices.count, cols: cols)
            .map { (proposalIndices[$0.row], trackIndices[$0.col]) }
    }

    /// `stillThere`: whether the lost track's picture still shows its object (a piece can
    /// match it; asked only then).
    mutating func match(track ti: Int, proposal p: Proposal, frame: FrameInfo, stillThere: () -> Bool = { false }) {
        // A piece of the object (TrackerConfig.pieceAreaRatio): seen where it was, its box
        // and region token kept; the look still labels it, and drift is measured from the box.
        if isPiece(p, of: ti, stillThere: stillThere) {
            let kept = tracks[ti].box
            seen(track: ti, at: kept, frame: frame)
            observeLabel(track: ti, proposal: p, frame: frame)
            tracks[ti].lastInferredBox = kept
            return
        }
        // The filter learns the velocity from the residual; the box re-anchors on the
        // proposal (motion-vector drift is correlated, so the filter's own variance is
        // too optimistic to average it with the proposal).
        // When motion vectors carried the box most of the way here, its velocity already
        // comes from them, and the residual is mostly accumulated drift (or an occluder's
        // pull), not a velocity error: the filter only re-anchors. Otherwise (constant
        // velocity, intra frames) the residual is what teaches the filter the velocity.
        // An object seen going out by an edge (Track.shrinkingAtEdge, as it followed its
        // region) keeps its size (Track.keepingSize); a smaller proposal at the edge of one
        // not seen so may be a jittered box or an object coming back (track-eval's bouncing
        // shapes lost an identity when every one kept its size).
        let measured = tracks[ti].shrinkingAtEdge ? tracks[ti].keepingSize(p.box, width: frame.width, height: frame.height) : p.box
        let carried = tracks[ti].carried(to: frame.index)
        if !carried {
            tracks[ti].kalman.update(measured, relativeStd: config.kalman.proposal)
        }
        // The new box: a vector-carried box is itself a measurement of the object, as good
        // as the last anchor plus the drift of every vector step since; fuse the two by
        // their variances (relative to the box height squared). A carried box that hardly
        // overlaps the proposal was dragged off (occlusion): the proposal alone counts.
        let zVar = config.kalman.proposal * config.kalman.proposal
        var newBox = measured
        var newVar = zVar
        let predicted = tracks[ti].box
        if carried && predicted.iou(measured) >= 0.5 {
            let drift = config.kalman.motionDrift
            let pVar = tracks[ti].anchorVariance + Float(tracks[ti].motionFrames) * drift * drift
            let k = pVar / (pVar + zVar)
            newBox = Box(x1: predicted.x1 + k * (measured.x1 - predicted.x1), y1: predicted.y1 + k * (measured.y1 - predicted.y1),
                         x2: predicted.x2 + k * (measured.x2 - predicted.x2), y2: predicted.y2 + k * (measured.y2 - predicted.y2))
            newVar = (1 - k) * pVar
        }
        tracks[ti].anchorVariance = newVar
        seen(track: ti, at: newBox, frame: frame)
        tracks[ti].lastSeenBox = p.box
        tracks[ti].source = p.source
        tracks[ti].regionToken = Track.blend(tracks[ti].regionToken, p.regionToken, momentum: config.tokenMomentum)
        tracks[ti].embedding = Track.blend(tracks[ti].embedding, p.embedding, momentum: config.tokenMomentum)
        if tracks[ti].state == .tentative && tracks[ti].consecutiveHits >= config.birthHits { tracks[ti].state = .confirmed }
        observeLabel(track: ti, proposal: p, frame: frame)
    }

    /// Whether proposal `p` is a piece of track `ti`'s object (`TrackerConfig.pieceAreaRatio`):
    /// a confirmed track, or a lost one whose picture is unchanged (`stillThere`: missed
    /// while only its pieces moved), and a proposal whose best class is the track's label
    /// (a smaller object of another class passing in front is not a piece).
    func isPiece(_ p: Proposal, of ti: Int, stillThere: () -> Bool) -> Bool {
        let t = tracks[ti].box
        guard tracks[ti].state == .confirmed || tracks[ti].state == .lost, p.box.area < config.pieceAreaRatio * t.area,
              Self.coverage(of: p.box, by: [t]) >= config.pieceCoverage else { return false }
        if tracks[ti].state == .lost && !stillThere() { return false }
        guard let label = tracks[ti].labels.label, let best = p.bestClass else { return true }
        return best == label
    }

    /// Track `ti` observed at this keyframe with its box anchored at `box`: hits counted,
    /// misses cleared, a lost track confirmed again.
    mutating func seen(track ti: Int, at box: Box, frame: FrameInfo) {
        tracks[ti].kalman.anchor(at: box)
        tracks[ti].motionFrames = 0
        tracks[ti].box = box
        tracks[ti].method = .observed
        tracks[ti].hits += 1
        tracks[ti].consecutiveHits += 1
        tracks[ti].misses = 0
        tracks[ti].vacantFrames = 0
        tracks[ti].lastSeenFrame = frame.index
        tracks[ti].lastSeenBox = box
        tracks[ti].lastSeenTime = frame.time
        tracks[ti].lastFrame = frame.index
        if tracks[ti].state == .lost { tracks[ti].state = .confirmed }
    }

    /// Folds a recognition result into the track's label history.
    mutating func observeLabel(track ti: Int, proposal p: Proposal, frame: FrameInfo) {
        guard p.isRecognized else { return }
        let probs = p.classScores ?? p.embedding.flatMap { vocabulary?.probabilities(for: $0) }
        // A box cut by the frame's edge shows part of its object, which the encoders label
        // less reliably (on the shapes scenes 40 % of labels inferred at the edge were
        // wrong, 15 % inside): the first whole view replaces labels taken only from
        // partial views. (Ignoring partial views after a whole one was tried: worse, a
        // track that catches a newcomer at the edge then keeps the old label longer.)
        let partial = p.box.touchesEdge(width: frame.width, height: frame.height)
        if let probs {
            // no labels yet counts as partial views only: the first view sets them either way
            let onlyPartial = tracks[ti].labelsFromPartialView || tracks[ti].labels.observations == 0
            // so does a view of twice as much of it while it enters (a sliver at the edge
            // says little about what the rest is)
            let larger = tracks[ti].lastInferredBox.map { p.box.area >= 2 * $0.area } ?? false
            if onlyPartial && (!partial || larger) {
                tracks[ti].labels.reset(to: probs)
            } else {
                tracks[ti].labels.observe(probs)
            }
            tracks[ti].labelsFromPartialView = onlyPartial && partial
            tracks[ti].lowMarginLooks = tracks[ti].labels.margin < config.recognition.minMargin ? tracks[ti].lowMarginLooks + 1 : 0
        }
        tracks[ti].lastInferredFrame = frame.index
        tracks[ti].lastInferredTime = frame.time
        tracks[ti].lastInferredBox = p.box
        tracks[ti].metOthersSinceLook = false
    }
}
