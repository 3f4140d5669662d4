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
            let iou = self.gatingIoU(t, p.box)
            return iou >= minIoU ? 1 - iou : nil
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
    /// that track no other region, with IoU >= `minIoU`, moves the track's box to it
    /// (box only: no label, no hit counted). Ambiguous pairs (objects touching or
    /// crossing) are left to propagation, so identities never swap here. Returns the
    /// number of tracks moved.
    @discardableResult
    public mutating func follow(_ boxes: [Box], minIoU: Float = 0.5) -> Int {
        let live = tracks.indices.filter { tracks[$0].state == .confirmed }
        guard !live.isEmpty, !boxes.isEmpty else { return 0 }
        var moved = 0
        for (bi, b) in boxes.enumerated() {
            // Visible parts: an object half out of the frame is compared by what shows.
            let touching = live.filter { visibleBox(tracks[$0]).iou(b) > 0.05 }
            guard touching.count == 1, let ti = touching.first, visibleBox(tracks[ti]).iou(b) >= minIoU else { continue }
            let others = boxes.indices.filter { $0 != bi && boxes[$0].iou(visibleBox(tracks[ti])) > 0.05 }
            guard others.isEmpty else { continue }
            tracks[ti].kalman.anchor(at: b)
            tracks[ti].box = b
            tracks[ti].motionFrames = 0
            moved += 1
        }
        return moved
    }
}
