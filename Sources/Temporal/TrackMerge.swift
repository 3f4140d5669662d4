// Duplicate tracks on one object merge into the older id after each keyframe. Two
// proposals of one object (a motion box and the track's own re-prompted box, a loose and
// a tight one) can both start or keep tracks; a subscriber must see one object once.

/// One merge: track `from` ended, its object is track `into` from now on.
public struct TrackMergeEvent: Sendable, Equatable {
    public var from: UInt64
    public var into: UInt64
}

extension Tracker {
    /// Merges live tracks that overlap as one object (config.mergeIoU, mergeContainment),
    /// the younger into the older. The survivor takes the box and observations of
    /// whichever of the two was seen on a keyframe most recently, and the longer label
    /// history. Merged ids are listed in `mergedTracks` (and `endedTrackIDs`).
    mutating func mergeDuplicates() {
        mergedTracks = []
        let c = config
        var i = 0
        while i < tracks.count {
            var j = i + 1
            while j < tracks.count {
                guard tracks[i].state != .ended, tracks[j].state != .ended,
                      tracks[i].state != .lost || tracks[j].state != .lost,
                      Self.sameObject(visibleBox(tracks[i]), visibleBox(tracks[j]), c) else { j += 1; continue }
                let (old, young) = tracks[i].id < tracks[j].id ? (i, j) : (j, i)
                absorb(young, into: old)
                mergedTracks.append(TrackMergeEvent(from: tracks[young].id, into: tracks[old].id))
                endedTrackIDs.append(tracks[young].id)
                tracks.remove(at: young)
                if young == i { j = i + 1; continue }  // i now holds the next track
            }
            i += 1
        }
    }

    static func sameObject(_ a: Box, _ b: Box, _ c: TrackerConfig) -> Bool {
        if a.iou(b) > c.mergeIoU { return true }
        let small = min(a.area, b.area), large = max(a.area, b.area)
        guard small > 0, large > 0, small / large >= c.mergeMinAreaRatio else { return false }
        return a.intersection(b) / small >= c.mergeContainment
    }

    /// Track `y`'s evidence folded into track `o` (both indices into `tracks`).
    mutating func absorb(_ y: Int, into o: Int) {
        let young = tracks[y]
        if young.lastSeenFrame > tracks[o].lastSeenFrame {
            tracks[o].box = young.box
            tracks[o].kalman = young.kalman
            tracks[o].lastSeenFrame = young.lastSeenFrame
            tracks[o].lastSeenBox = young.lastSeenBox
            tracks[o].lastSeenTime = young.lastSeenTime
            tracks[o].method = young.method
            tracks[o].motionFrames = young.motionFrames
            tracks[o].anchorVariance = young.anchorVariance
            tracks[o].source = young.source
            tracks[o].misses = min(tracks[o].misses, young.misses)
        }
        if tracks[o].lastInferredFrame == nil || (young.lastInferredFrame ?? -1) > (tracks[o].lastInferredFrame ?? -1) {
            tracks[o].regionToken = young.regionToken ?? tracks[o].regionToken
            tracks[o].embedding = young.embedding ?? tracks[o].embedding
            tracks[o].lastInferredFrame = young.lastInferredFrame ?? tracks[o].lastInferredFrame
            tracks[o].lastInferredTime = young.lastInferredTime ?? tracks[o].lastInferredTime
            tracks[o].lastInferredBox = young.lastInferredBox ?? tracks[o].lastInferredBox
        }
        if young.hits > tracks[o].hits && tracks[o].labels.label == nil { tracks[o].labels = young.labels }
        tracks[o].hits += young.hits
        if tracks[o].state != .confirmed && young.state == .confirmed { tracks[o].state = .confirmed }
    }
}
