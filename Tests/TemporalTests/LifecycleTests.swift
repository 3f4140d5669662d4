import Testing
@testable import Temporal

@Suite struct LifecycleTests {
    @Test func firstKeyframeConfirmsLaterBirthsNeedConsecutiveHits() {
        var t = Tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(10, 10, 50, 50), score: 0.8)])
        #expect(t.tracks.map(\.state) == [.confirmed])
        #expect(t.regions().map(\.trackID) == [1])
        // A new object later: tentative (score below confirmScore), not published.
        let b = box(300, 100, 60, 60)
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(10, 10, 50, 50), score: 0.8),
                                                   Proposal(box: b, score: 0.7)])
        #expect(t.tracks.first { $0.id == 2 }?.state == .tentative)
        #expect(t.regions().map(\.trackID) == [1])
        // Second consecutive hit confirms it (birthHits = 2).
        t.update(frame: frameInfo(60), proposals: [Proposal(box: box(10, 10, 50, 50), score: 0.8),
                                                   Proposal(box: b, score: 0.7)])
        #expect(t.tracks.first { $0.id == 2 }?.state == .confirmed)
        #expect(Set(t.regions().map(\.trackID)) == [1, 2])
    }

    @Test func tentativeTrackDiesOnFirstMiss() {
        var t = Tracker()
        t.update(frame: frameInfo(0), proposals: [])
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(100, 100, 40, 40), score: 0.7)])
        #expect(t.tracks.count == 1 && t.tracks[0].state == .tentative)
        t.update(frame: frameInfo(60), proposals: [])
        #expect(t.tracks.isEmpty)
    }

    @Test func confirmedTrackIsLostThenEndsAndIDsAreNeverReused() {
        var c = TrackerConfig()
        c.lostAfterMisses = 2; c.maxMisses = 3; c.reidWindow = 100
        var t = Tracker(config: c)
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(10, 10, 50, 50), score: 0.9)])
        t.update(frame: frameInfo(30), proposals: [])
        #expect(t.tracks[0].state == .confirmed && t.tracks[0].misses == 1)
        #expect(t.regions().count == 1)     // one missed keyframe: still published
        t.update(frame: frameInfo(60), proposals: [])
        #expect(t.tracks[0].state == .lost)
        #expect(t.regions().isEmpty)
        #expect(t.endedTrackIDs.isEmpty)
        t.update(frame: frameInfo(90), proposals: [])
        #expect(t.tracks.isEmpty)           // ended after maxMisses
        #expect(t.endedTrackIDs == [1])
        t.update(frame: frameInfo(120), proposals: [Proposal(box: box(10, 10, 50, 50), score: 0.95)])
        #expect(t.tracks.map(\.id) == [2])  // a fresh id, never 1 again
        #expect(t.nextID == 3)
    }

    /// Objects that cross are one moving region, which the pipeline drops (KeyframePlan.crowded):
    /// a track the caller says is held inside it counts no miss, so it stays published until
    /// the objects part, but only for `maxHeldSeconds`, only once labelled from a whole view,
    /// and never as a box lying inside another track's.
    @Test func heldTracksCountNoMiss() {
        var c = TrackerConfig()
        c.lostAfterMisses = 1; c.maxMisses = 2; c.reidWindow = 100
        func start() -> Tracker {
            var t = Tracker(config: c)
            t.update(frame: frameInfo(0), proposals: [
                Proposal(box: box(100, 100, 60, 60), score: 0.95, classScores: [0.9, 0.1]),
                Proposal(box: box(140, 110, 60, 60), score: 0.95, classScores: [0.1, 0.9]),
                Proposal(box: box(400, 100, 60, 60), score: 0.95, classScores: [0.9, 0.1]),
                Proposal(box: box(600, 0, 40, 8), score: 0.95, classScores: [0.9, 0.1]),  // a sliver at the edge
            ])
            #expect(t.tracks.map(\.state) == [.confirmed, .confirmed, .confirmed, .confirmed])
            #expect(t.tracks[3].labelsFromPartialView && !t.tracks[0].labelsFromPartialView)
            return t
        }
        // Nothing matched at 1 s: the held pair stays confirmed, the others are lost.
        var t = start()
        t.update(frame: frameInfo(30), proposals: [], held: { $0.id != 3 })
        #expect(t.tracks.map(\.misses) == [0, 0, 1, 1])
        #expect(Set(t.regions().map(\.trackID)) == [1, 2])
        // Held past maxHeldSeconds (2 s since last seen): missed.
        t.update(frame: frameInfo(60), proposals: [], held: { _ in true })
        #expect(t.tracks.first { $0.id == 1 }?.misses == 0)
        t.update(frame: frameInfo(90), proposals: [], held: { _ in true })
        #expect(t.tracks.first { $0.id == 1 }?.state == .lost)
        // Without the caller's word every unmatched track misses, as before.
        t = start()
        t.update(frame: frameInfo(30), proposals: [])
        #expect(t.tracks.allSatisfy { $0.misses == 1 } && t.regions().isEmpty)
        // A box lying inside another track's is a piece or a duplicate of it: missed.
        var u = Tracker(config: c)
        u.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 100, 100, 100), score: 0.95, classScores: [0.9, 0.1]),
                                                  Proposal(box: box(120, 120, 30, 30), score: 0.95, classScores: [0.9, 0.1])])
        #expect(u.tracks.count == 2)
        u.update(frame: frameInfo(30), proposals: [], held: { _ in true })
        #expect(u.tracks.map(\.misses) == [0, 1])
    }

    /// A box its object walked out of (vtest.avi at 5.6 s: a man crossing behind another
    /// left his box on a sign) goes unpublished after `vacantFramesToHide` frames in a row
    /// of the caller's evidence, and comes back when a keyframe matches it.
    @Test func vacantBoxesGoUnpublished() {
        var t = Tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(10, 10, 50, 50), score: 0.95),
                                                  Proposal(box: box(200, 10, 50, 50), score: 0.95)])
        func step(_ i: Int, vacant: Set<UInt64>) -> Set<UInt64> {
            t.propagate(to: frameInfo(i), motion: nil)
            t.noteVacant { vacant.contains($0.id) }
            return Set(t.regions().map(\.trackID))
        }
        #expect(step(1, vacant: [1]) == [1, 2])
        #expect(step(2, vacant: [1]) == [1, 2])
        #expect(step(3, vacant: [2]) == [1, 2], "a frame with something in the box starts the count again")
        #expect(step(4, vacant: [1, 2]) == [1, 2])
        #expect(step(5, vacant: [1, 2]) == [1], "three frames in a row: track 2 is hidden")
        #expect(step(6, vacant: [1, 2]) == [])
        #expect(t.tracks.allSatisfy { $0.state == .confirmed }, "hidden, not lost: a keyframe decides that")
        #expect(step(7, vacant: [1]) == [2], "something in track 2's box again: published again")
        t.update(frame: frameInfo(8), proposals: [Proposal(box: box(12, 10, 50, 50), score: 0.95)])
        #expect(t.tracks.first { $0.id == 1 }?.vacantFrames == 0, "matched at a keyframe")
        #expect(Set(t.regions().map(\.trackID)) == [1, 2])
    }

    @Test func hitsMissesAndTimesAreKept() {
        var t = Tracker()
        for k in 0..<3 {
            t.propagate(to: frameInfo(k * 30), motion: nil)
            t.update(frame: frameInfo(k * 30), proposals: [Proposal(box: box(10, 10, 50, 50), score: 0.9)])
        }
        let tr = t.tracks[0]
        #expect(tr.hits == 3 && tr.consecutiveHits == 3 && tr.misses == 0)
        #expect(tr.lastSeenFrame == 60 && abs(tr.lastSeenTime - 2) < 1e-9)
    }

    @Test func lowScoreProposalsOnlyExtendConfirmedTracks() {
        var t = Tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(10, 10, 50, 50), score: 0.9)])
        // Stage two: a low-score proposal keeps the confirmed track alive ...
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(12, 10, 50, 50), score: 0.3),
                                                   Proposal(box: box(400, 200, 50, 50), score: 0.3)])
        #expect(t.tracks.count == 1 && t.tracks[0].misses == 0)
        #expect(abs(t.tracks[0].box.x1 - 12) < 1e-4)
        // ... but never starts a track.
        #expect(t.tracks.allSatisfy { $0.id == 1 })
    }
}
