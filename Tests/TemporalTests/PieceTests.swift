import Testing
@testable import Temporal

/// A piece of a tracked object (TrackerConfig.pieceAreaRatio): the head or leg of someone
/// standing whose still body the background absorbed. vtest.avi's standing man became a
/// 9 px strip (his own track, collapsed onto his leg) and a head track of its own.
@Suite struct PieceTests {
    /// scores over two classes: 0 = person, 1 = bag
    static let person: [Float] = [0.9, 0.1], bag: [Float] = [0.2, 0.8]

    func standing() -> Tracker {
        var c = TrackerConfig()
        c.lostAfterMisses = 1; c.maxMisses = 5
        var t = Tracker(config: c)
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 100, 40, 120), score: 0.9, regionToken: token(0), classScores: Self.person)])
        return t
    }

    @Test("a leg inside a confirmed track's box: seen, box kept, no birth for it or for the head")
    func legAndHead() {
        var t = standing()
        let leg = box(120, 150, 12, 60), head = box(110, 102, 18, 18)
        t.update(frame: frameInfo(30), proposals: [Proposal(box: leg, score: 0.9, regionToken: token(0, noise: 0.1), classScores: Self.person),
                                                 Proposal(box: head, score: 0.9, regionToken: token(2), classScores: Self.person)])
        #expect(t.tracks.count == 1, "no track for a piece: \(t.tracks.map(\.box))")
        let man = t.tracks[0]
        #expect(man.box == box(100, 100, 40, 120) && man.misses == 0 && man.lastSeenFrame == 30 && man.state == .confirmed)
        #expect(man.lastInferredFrame == 30 && man.lastInferredBox == box(100, 100, 40, 120), "drift is measured from the kept box")
        #expect(man.regionToken == token(0), "a piece's token does not describe the object")
    }

    @Test("a smaller object of another class in front of a track is not a piece: it moves the box (the match is the tracker's usual)")
    func otherClass() {
        var t = standing()
        let bag = box(120, 150, 12, 60)
        t.update(frame: frameInfo(30), proposals: [Proposal(box: bag, score: 0.9, regionToken: token(0), classScores: Self.bag)])
        #expect(t.tracks[0].box == bag)
    }

    @Test("a lost track takes a piece only while its picture still shows it", arguments: [true, false])
    func lostTrack(still: Bool) {
        var t = standing()
        t.update(frame: frameInfo(30), proposals: [])  // missed: lost
        #expect(t.tracks[0].state == .lost)
        let leg = box(120, 150, 12, 60)
        t.update(frame: frameInfo(60), proposals: [Proposal(box: leg, score: 0.9, regionToken: token(0), classScores: Self.person)],
                 stillThere: { _ in still })
        let first = t.tracks.first { $0.id == 1 }
        #expect(first?.state == .confirmed)
        // still there: the man is seen where he stands; else the leg is what the track measures
        #expect(first?.box == (still ? box(100, 100, 40, 120) : leg))
    }

    @Test("pieceAreaRatio 0 switches the rule off")
    func off() {
        var c = TrackerConfig()
        c.pieceAreaRatio = 0
        var t = Tracker(config: c)
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 100, 40, 120), score: 0.9, regionToken: token(0), classScores: Self.person)])
        let leg = box(120, 150, 12, 60)
        t.update(frame: frameInfo(30), proposals: [Proposal(box: leg, score: 0.9, regionToken: token(0), classScores: Self.person)])
        #expect(t.tracks[0].box == leg)
    }
}
