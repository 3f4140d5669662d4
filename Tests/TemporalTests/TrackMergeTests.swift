import Foundation
import Testing
@testable import Temporal

@Suite("Track merge and birth coverage")
struct TrackMergeTests {
    @Test("two tracks on one object merge into the older id after two keyframes together; crossing tracks do not")
    func merge() {
        var t = Tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 100, 60, 60), score: 0.9)])
        // A second box on the same object, starting a track of its own (birth suppression
        // off for the test), on two keyframes in a row.
        var c = t.config
        c.birthMaxCoverage = 1.1  // allow the duplicate birth for this test
        t.config = c
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(100, 100, 60, 60), score: 0.9),
                                                   Proposal(box: box(108, 104, 60, 60), score: 0.9)])
        // one keyframe of overlap could be two objects crossing: not yet merged
        #expect(t.liveTracks.count == 2 && t.mergedTracks.isEmpty)
        t.update(frame: frameInfo(60), proposals: [Proposal(box: box(100, 100, 60, 60), score: 0.9),
                                                   Proposal(box: box(108, 104, 60, 60), score: 0.9)])
        #expect(t.liveTracks.count == 1)
        #expect(t.mergedTracks == [TrackMergeEvent(from: 2, into: 1)])
        #expect(t.endedTrackIDs.contains(2))
        #expect(t.liveTracks.first?.id == 1)
        // Two objects crossing, 15 px per keyframe each way: boxes overlap (IoU > 0.5) on
        // one keyframe and move in opposite directions; both ids live on.
        var x = Tracker()
        for k in 0..<6 {
            x.update(frame: frameInfo(k), proposals: [Proposal(box: box(Float(100 + 15 * k), 100, 60, 60), score: 0.9),
                                                      Proposal(box: box(Float(200 - 15 * k), 100, 60, 60), score: 0.9)])
            #expect(x.mergedTracks.isEmpty, "keyframe \(k)")
        }
        #expect(x.liveTracks.count == 2)
        #expect(x.mergedTracks.isEmpty)
    }

    @Test("a box that live tracks already cover starts no track; a box beside them does")
    func coverage() {
        var t = Tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 100, 40, 40), score: 0.9),
                                                  Proposal(box: box(140, 100, 40, 40), score: 0.9)])
        #expect(t.liveTracks.count == 2)
        // one box around both (they touch): covered, no third track
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(100, 100, 40, 40), score: 0.9),
                                                   Proposal(box: box(140, 100, 40, 40), score: 0.9),
                                                   Proposal(box: box(100, 100, 80, 40), score: 0.9)])
        #expect(t.liveTracks.count == 2)
        #expect(Tracker.coverage(of: box(100, 100, 80, 40), by: [box(100, 100, 40, 40), box(140, 100, 40, 40)]) == 1)
        t.update(frame: frameInfo(60), proposals: [Proposal(box: box(100, 100, 40, 40), score: 0.9),
                                                   Proposal(box: box(140, 100, 40, 40), score: 0.9),
                                                   Proposal(box: box(300, 200, 40, 40), score: 0.9)])
        #expect(t.liveTracks.count == 3)
    }
}
