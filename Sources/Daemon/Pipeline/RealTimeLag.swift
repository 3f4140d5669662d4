// How far a stream's processing runs behind its own clock: a stream keeps real time when
// every frame is tracked no later than its timestamp says it was due. The anchor is the
// earliest wall time consistent with every frame seen so far, so the lag is measured from
// the stream's own best moment (network jitter that arrives early never counts as lag):
//   lag(frame) = (wall - anchor.wall) - (pts - anchor.pts) >= 0
// A frame that arrives "earlier" than the anchor predicts moves the anchor; timestamps
// that go backwards (a reconnect, a loop without shifted PTS) start a new anchor.

struct RealTimeLag {
    /// Frames at least this far behind are counted as late (a live camera's socket
    /// buffer holds roughly this much before the sender drops).
    static let lateThreshold = 0.5

    private var anchor: (wall: Double, pts: Double)?
    private(set) var maxLag = 0.0
    private(set) var lateFrames = 0

    /// Forget the anchor (the stream reconnected).
    mutating func reset() { anchor = nil }

    /// Seconds behind real time of a frame with timestamp `pts` tracked at `wall`.
    mutating func observe(pts: Double, wall: Double) -> Double {
        guard let a = anchor, pts >= a.pts else {
            anchor = (wall, pts)
            return 0
        }
        let lag = (wall - a.wall) - (pts - a.pts)
        if lag < 0 {
            anchor = (wall, pts)
            return 0
        }
        maxLag = max(maxLag, lag)
        if lag >= Self.lateThreshold { lateFrames += 1 }
        return lag
    }
}
