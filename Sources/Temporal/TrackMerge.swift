// Duplicate tracks on one object merge into the older id after each keyframe. Two
// proposals of one object (a motion box and the track's own re-prompted box, a loose and
// a tight one) can both start or keep tracks; a subscriber must see one object once.

/// One merge: track `from` ended, its object is track `into` from now on.
public struct TrackMergeEvent: Sendable, Equatable {
    public var from: UInt64
    public var into: UInt64
}

struct TrackPair: Hashable, Sendable {
    var a: UInt64, b: UInt64
    init(_ x: UInt64, _ y: UInt64) { a = min(x, y); b = max(x, y) }
}

extension Tracker {
    /// Merges live tracks that overlap as one object (config.mergeIoU, mergeContainment)
    /// on `mergeAfterKeyframes` consecutive keyframes while moving alike, the younger into
    /// the older. The survivor takes the box and observations of whichever of the two was
    /// seen on a keyframe most recently. Merged ids are listed in `mergedTracks` (and
    /// `endedTrackIDs`).
    mutating func mergeDuplicates() {
        mergedTracks = []
        let c = config
        var streak: [TrackPair: Int] = [:]
        for i in tracks.indices where tracks[i].state != .ended {
            for j in tracks.indices where j > i && tracks[j].state != .ended {
                guard tracks[i].state != .lost || tracks[j].state != .lost,
                      Self.sameObject(visibleBox(tracks[i]), visibleBox(tracks[j]), c),
                      Self.moveAlike(tracks[i], tracks[j], c) else { continue }
                let key = TrackPair(tracks[i].id, tracks[j].id)
                streak[key] = (overlapStreak[key] ?? 0) + 1
            }
        }
        overlapStreak = streak
        var i = 0
        while i < tracks.count {
            var j = i + 1
            while j < tracks.count {
                guard tracks[i].state != .ended, tracks[j].state != .ended,
                      (overlapStreak[TrackPair(tracks[i].id, tracks[j].id)] ?? 0) >= c.mergeAfterKeyframes else { j += 1; continue }
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

    static func moveAlike(_ a: Track, _ b: Track, _ c: TrackerConfig) -> Bool {
        let va = a.velocity, vb = b.velocity
        let fastest = max((va.x * va.x + va.y * va.y).squareRoot(), (vb.x * vb.x + vb.y * vb.y).squareRoot())
        let tol = c.mergeVelocityTolerance + 0.5 * fastest
        return abs(va.x - vb.x) <= tol && abs(va.y - vb.y) <= tol
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
