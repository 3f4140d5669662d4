import Foundation
import Testing
@testable import Temporal

@Suite("Following moving regions between keyframes")
struct FollowTests {
    func tracker(_ boxes: [Box]) -> Tracker {
        var t = Tracker()
        t.update(frame: frameInfo(0), proposals: boxes.map { Proposal(box: $0, score: 0.9) })
        return t
    }

    @Test("a track alone with its region takes the region's box")
    func alone() {
        var t = tracker([box(100, 100, 50, 50), box(400, 100, 50, 50)])
        t.propagate(to: frameInfo(1), motion: nil)
        #expect(t.follow([box(106, 102, 50, 52)]) == 1)
        #expect(t.liveTracks[0].box == box(106, 102, 50, 52))
        #expect(t.liveTracks[1].box == box(400, 100, 50, 50))
        #expect(t.liveTracks[0].hits == 1)  // no keyframe hit counted
    }

    @Test("ambiguous pairs are left alone: a region touching two tracks, two regions on one track, too little overlap")
    func ambiguous() {
        var t = tracker([box(100, 100, 50, 50), box(140, 100, 50, 50)])
        t.propagate(to: frameInfo(1), motion: nil)
        #expect(t.follow([box(100, 100, 90, 50)]) == 0)
        var u = tracker([box(100, 100, 50, 50)])
        u.propagate(to: frameInfo(1), motion: nil)
        #expect(u.follow([box(100, 100, 30, 50), box(125, 100, 25, 50)]) == 0)
        #expect(u.follow([box(130, 100, 50, 50)]) == 0)  // IoU 0.25 < 0.5
        #expect(u.liveTracks[0].box == box(100, 100, 50, 50))
    }

    @Test("reanchor on a keyframe without encoders: matched tracks move, nothing is born, only tracks said gone miss")
    func reanchor() {
        var t = tracker([box(100, 100, 50, 50), box(400, 100, 50, 50), box(250, 250, 50, 50)])
        let ids = t.liveTracks.map(\.id)
        let moved = t.reanchor(frame: frameInfo(30), boxes: [box(110, 100, 50, 50), box(600, 300, 40, 40)],
                               gone: { $0.id == ids[1] })
        #expect(moved == [ids[0]])
        #expect(t.liveTracks.count == 3)  // the unmatched box at 600,300 starts nothing
        #expect(t.liveTracks.first { $0.id == ids[0] }?.box == box(110, 100, 50, 50))
        #expect(t.liveTracks.first { $0.id == ids[1] }?.misses == 1)
        #expect(t.liveTracks.first { $0.id == ids[2] }?.misses == 0)
        #expect(t.liveTracks.first { $0.id == ids[0] }?.lastInferredFrame == nil)  // box only: no recognition folded in
        // missed again: lost (not published), then ended
        t.reanchor(frame: frameInfo(60), boxes: [], gone: { $0.id == ids[1] })
        #expect(t.regions().map(\.trackID).contains(ids[1]) == false)
    }
}
