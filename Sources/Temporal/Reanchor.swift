// A keyframe on which the encoders do not run: moving regions still re-anchor the tracks
// they measure (boxes only: no token, no label), so a track follows its object without an
// encoder run. Nothing is born; a track misses only where the caller has evidence that its
// object is gone (its picture changed and no region matched it).

extension Tracker {
    /// Matches `boxes` (xyxy, source pixels) to confirmed tracks by IoU
    /// (>= `minIoU`, one box per track, optimal assignment) and moves each matched track
    /// to its box as a keyframe match would (labels untouched). Returns the matched track
    /// ids. Call after `propagate(to:)` for the same frame.
    /// `gone` lists tracks the caller has evidence against (the picture inside a track's
    /// box no longer looks like it and no box matched it): each counts a missed keyframe,
    /// as an encoder run that did not see it would; tracks that end are in `endedTrackIDs`.
    @discardableResult
    public mutating func reanchor(frame: FrameInfo, boxes: [Box], minIoU: Float = 0.3,
                                  gone: (Track) -> Bool = { _ in false }) -> [UInt64] {
        endedTrackIDs = []
        mergedTracks = []
        if self.frame?.index != frame.index { propagate(to: frame, field: nil) }
        let proposals = boxes.map { Proposal(box: $0, score: 1) }
        let live = tracks.indices.filter { tracks[$0].state == .confirmed }
        var matched: [UInt64] = []
        for (pi, ti) in assign(proposals, Array(proposals.indices), live, cost: { p, t in
            self.restingCost(t, p.box, minIoU: minIoU)
        }) {
            let source = tracks[ti].source
            match(track: ti, proposal: proposals[pi], frame: frame)
            tracks[ti].source = source  // provenance stays with the last recognized source
            matched.append(tracks[ti].id)
        }
        for ti in tracks.indices where tracks[ti].state == .confirmed && !matched.contains(tracks[ti].id) && gone(tracks[ti]) {
            registerMiss(ti, frame: frame)
        }
        removeEndedTracks()
        self.frame = frame
        return matched
    }
}

extension Tracker {
    /// Between keyframes: each moving region that overlaps exactly one confirmed track, and
    /// that track no other region, moves the track's box to it (box only: no label, no hit
    /// counted) when they overlap by IoU >= `minIoU` and are of comparable size (areas
    /// within `maxAreaRatio` of each other, as `restingCost` pairs them), or by IoU >=
    /// `minIoUResized` otherwise. A walking person's region jumps 20-30 px in one frame as a
    /// stride or an arm swings out (vtest.avi at 0:22.5: IoU 0.33); with 0.5 the box stayed
    /// on the ground he had left, where the vectors (still background, zeroed) held it.
    /// Ambiguous pairs (objects touching or crossing) are left to propagation, so
    /// identities never swap here, and so is a region suddenly a quarter larger than a box
    /// going out at the picture's edge (`Track.shrinkingAtEdge`: someone coming in beside
    /// it). A sliver's box at the edge grows into a region at that edge holding most of it,
    /// up to `maxEntryGrowth` times its area, whatever their IoU (an object coming in).
    /// Returns the number of tracks moved.
    @discardableResult
    public mutating func follow(_ boxes: [Box], minIoU: Float = 0.3, minIoUResized: Float = 0.5, maxAreaRatio: Float = 2,
                                maxEntryGrowth: Float = 4) -> Int {
        let live = tracks.indices.filter { tracks[$0].state == .confirmed }
        guard !live.isEmpty, !boxes.isEmpty else { return 0 }
        var moved = 0
        for (bi, b) in boxes.enumerated() {
            // Visible parts: an object half out of the frame is compared by what shows.
            let touching = live.filter { visibleBox(tracks[$0]).iou(b) > 0.05 }
            guard touching.count == 1, let ti = touching.first else { continue }
            let v = visibleBox(tracks[ti])
            let edges = frame.map { v.edges(width: $0.width, height: $0.height) } ?? 0
            let atEdge = edges != 0
            // An object coming in at the edge grows faster than an overlap keeps up with: a
            // sliver's box (scene 1001: 8 px of a square at the top) mostly inside a region
            // at the same edge, at most `maxEntryGrowth` times its area, grows into it.
            let comingIn = atEdge && b.area > v.area && b.area <= maxEntryGrowth * v.area
                && b.intersection(v) >= 0.5 * v.area
                && (frame.map { b.edges(width: $0.width, height: $0.height) & edges != 0 } ?? false)
            guard comingIn || v.iou(b) >= (v.hasComparableArea(to: b, within: maxAreaRatio) ? minIoU : minIoUResized) else { continue }
            let others = boxes.indices.filter { $0 != bi && boxes[$0].iou(v) > 0.05 }
            guard others.isEmpty else { continue }
            // A box at the picture's edge that shrank as it followed its region is an object
            // going out; a region suddenly a quarter larger there is something else coming
            // in beside it (scene 1002: a star entering at the corner a triangle left by, whose
            // track then followed the star and kept the triangle's label). An entering
            // object's box grows and follows on.
            if atEdge && tracks[ti].shrinkingAtEdge && b.area > 1.25 * v.area { continue }
            tracks[ti].shrinkingAtEdge = atEdge && b.area < v.area
            let whole = frame.map { tracks[ti].keepingSize(b, width: $0.width, height: $0.height) } ?? b
            tracks[ti].kalman.anchor(at: whole)
            tracks[ti].box = whole
            tracks[ti].motionFrames = 0
            moved += 1
        }
        return moved
    }
}

extension Tracker {
    /// Which of `boxes` (xyxy, source pixels, a keyframe's moving regions) the live tracks
    /// account for without an encoder run (`regions`: their indices), and which held tracks'
    /// boxes hold two objects (`spread`: their ids). A region is accounted for when it is
    /// - paired with a confirmed or tentative track by the optimal one-to-one assignment at
    ///   `restingCost` (the pairing `reanchor` makes: the object moved on, its track lags);
    /// - a piece of a track: under half its box's area, its centre within one box size of
    ///   the track's (a head, a leg, a swinging bag seen apart from the body), and at no
    ///   edge of the picture the track's box does not reach (there it is something entering),
    ///   unless the track's box is spread: it has two such pieces apart, each over
    ///   `largePieceShare` of it, or each over `sizablePieceShare` and together spanning
    ///   `spanShare` of it (two objects under one box, as a circle and a triangle that came
    ///   in together and part inside a box that grew over both: a piece of neither, and the
    ///   caller lets that box cover neither);
    /// - a group of tracks: the tracks whose centres lie inside it (grown by a quarter)
    ///   cover at least half its area (people walking together, their tracks a step behind).
    /// A region holding a tracked object and about as much again that no track holds is
    /// none of these: maybe someone new walking beside it. Regions in `apart` (cut from one
    /// by their motion: objects that touch, moving apart) count only by the pairing: a
    /// track over both is not either one.
    public func explanation(_ boxes: [Box], apart: Set<Int> = [], minIoU: Float = 0.3) -> (regions: Set<Int>, spread: Set<UInt64>) {
        let held = tracks.indices.filter { tracks[$0].state == .confirmed || tracks[$0].state == .tentative }
        let proposals = boxes.map { Proposal(box: $0, score: 1) }
        var out = Set(assign(proposals, Array(proposals.indices), held) { p, t in self.restingCost(t, p.box, minIoU: minIoU) }.map(\.0))
        let shown = held.filter { visibleBox(tracks[$0]).area > 0 }
        let visible = shown.map { visibleBox(tracks[$0]) }
        let open = boxes.indices.filter { !out.contains($0) && !apart.contains($0) && boxes[$0].area > 0 }
        func isPiece(_ b: Box, of v: Box) -> Bool {
            let reach = max(v.width, v.height)
            guard b.area < 0.5 * v.area && v.centreDistance(to: b) <= reach else { return false }
            // At an edge of the picture the track's box does not reach, the region is
            // something entering there, not a piece of it
            guard let f = frame else { return true }
            return b.edges(width: f.width, height: f.height) & ~v.edges(width: f.width, height: f.height) == 0
        }
        // A box with two large pieces apart from each other holds two objects, not one
        // (one box over a triangle and a square that entered together and now part): it
        // explains neither. A person's arms or legs are smaller, or span less of the box.
        let spread = visible.map { v in
            let sizable = open.filter { boxes[$0].area >= Self.sizablePieceShare * v.area && isPiece(boxes[$0], of: v) }
            return sizable.contains { a in sizable.contains { b in
                guard boxes[a].intersection(boxes[b]) == 0 else { return false }
                if min(boxes[a].area, boxes[b].area) >= Self.largePieceShare * v.area { return true }
                return union(boxes[a], boxes[b]).intersection(v) >= Self.spanShare * v.area
            } }
        }
        for k in open {
            let b = boxes[k]
            let piece = visible.indices.contains { !spread[$0] && isPiece(b, of: visible[$0]) }
            let grown = Box(x1: b.x1 - b.width / 8, y1: b.y1 - b.height / 8, x2: b.x2 + b.width / 8, y2: b.y2 + b.height / 8)
            let inside = visible.filter { $0.cx >= grown.x1 && $0.cx <= grown.x2 && $0.cy >= grown.y1 && $0.cy <= grown.y2 }
            let group = inside.count >= 2 && inside.reduce(0) { $0 + $1.area } >= 0.5 * b.area
            if piece || group { out.insert(k) }
        }
        return (out, Set(shown.indices.filter { spread[$0] }.map { tracks[shown[$0]].id }))
    }

    /// Share of a track's box a piece must cover to count as a second object when another
    /// such piece lies apart from it (`explanation`); or `sizablePieceShare` when the two
    /// together span `spanShare` of the box (their enclosing box's overlap with it).
    static let largePieceShare: Float = 0.25
    static let sizablePieceShare: Float = 0.15
    static let spanShare: Float = 0.6

    /// The cost of pairing a track with a moving region when the encoders rest, or nil: a
    /// region of comparable size (area ratio at most 2: a blob that swallowed a second
    /// object is not its track) that overlaps the track's gated box by `minIoU` (cost
    /// 1 - IoU), or else whose centre lies within one box size of the track's (cost 0.7 to
    /// 1, so overlaps are preferred): between looks a second or more apart the track's
    /// box lags a walking person by more than an overlap allows.
    func restingCost(_ t: Track, _ b: Box, minIoU: Float) -> Float? {
        let v = visibleBox(t)
        guard v.hasComparableArea(to: b, within: 2) else { return nil }
        let iou = gatingIoU(t, b)
        if iou >= minIoU { return 1 - iou }
        let reach = max(v.width, v.height, b.width, b.height)
        let d = v.centreDistance(to: b) / reach
        return d <= 1 ? 0.7 + 0.3 * d : nil
    }
}
