import Testing
@testable import Temporal

@Suite struct ReidentificationTests {
    func tracker() -> Tracker {
        var c = TrackerConfig()
        c.lostAfterMisses = 1; c.maxMisses = 5; c.reidWindow = 4
        return Tracker(config: c)
    }

    @Test func lostTrackComesBackByItsToken() {
        var t = tracker()
        t.update(frame: frameInfo(0), proposals: [
            Proposal(box: box(50, 50, 60, 60), score: 0.9, regionToken: token(0)),
            Proposal(box: box(400, 50, 60, 60), score: 0.9, regionToken: token(1)),
        ])
        // Object 0 is hidden for two keyframes; object 1 stays.
        for k in 1...2 {
            t.update(frame: frameInfo(30 * k), proposals: [Proposal(box: box(400, 50, 60, 60), score: 0.9, regionToken: token(1))])
        }
        #expect(t.tracks.first { $0.id == 1 }?.state == .lost)
        // It reappears far from where it was (no IoU), with a similar token.
        t.update(frame: frameInfo(90), proposals: [
            Proposal(box: box(400, 50, 60, 60), score: 0.9, regionToken: token(1)),
            Proposal(box: box(200, 250, 60, 60), score: 0.9, regionToken: token(0, noise: 0.3)),
        ])
        let back = t.tracks.first { $0.box.iou(box(200, 250, 60, 60)) > 0.9 }
        #expect(back?.id == 1)
        #expect(back?.state == .confirmed)
        #expect(t.nextID == 3)   // no new track was born
    }

    /// The same reappearance, but the caller says object 0's box still shows what it
    /// showed when last matched (a person standing there, unmatched on this look): the
    /// look-alike elsewhere is a newcomer, not object 0 jumping.
    @Test func aTrackWhoseObjectIsStillThereIsNotMovedByItsToken() {
        var t = tracker()
        t.update(frame: frameInfo(0), proposals: [
            Proposal(box: box(50, 50, 60, 60), score: 0.9, regionToken: token(0)),
            Proposal(box: box(400, 50, 60, 60), score: 0.9, regionToken: token(1)),
        ])
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(400, 50, 60, 60), score: 0.9, regionToken: token(1))])
        var asked: [UInt64] = []
        t.update(frame: frameInfo(60), proposals: [
            Proposal(box: box(400, 50, 60, 60), score: 0.9, regionToken: token(1)),
            Proposal(box: box(200, 250, 60, 60), score: 0.9, regionToken: token(0, noise: 0.3)),
        ], stillThere: { asked.append($0.id); return $0.id == 1 })
        #expect(asked == [1], "asked about the unmatched track only: \(asked)")
        #expect(t.tracks.first { $0.id == 1 }.map { $0.box.iou(box(50, 50, 60, 60)) > 0.5 } == true, "track 1 stays where its object is")
        #expect(t.tracks.first { $0.box.iou(box(200, 250, 60, 60)) > 0.9 }?.id == 3, "the look-alike is a new track")
    }

    @Test func differentTokenOrExpiredWindowGivesNewTrack() {
        var t = tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(50, 50, 60, 60), score: 0.95, regionToken: token(0))])
        t.update(frame: frameInfo(30), proposals: [])
        // A different object appears elsewhere: new id.
        t.update(frame: frameInfo(60), proposals: [Proposal(box: box(200, 250, 60, 60), score: 0.95, regionToken: token(2))])
        #expect(t.tracks.contains { $0.id == 2 })
        // Past the re-id window the old track is gone even with the right token.
        for k in 3...7 { t.update(frame: frameInfo(30 * k), proposals: [Proposal(box: box(200, 250, 60, 60), score: 0.95, regionToken: token(2))]) }
        t.update(frame: frameInfo(240), proposals: [
            Proposal(box: box(200, 250, 60, 60), score: 0.95, regionToken: token(2)),
            Proposal(box: box(500, 50, 60, 60), score: 0.95, regionToken: token(0)),
        ])
        #expect(!t.tracks.contains { $0.id == 1 })
        #expect(t.tracks.contains { $0.id == 3 })
    }

    @Test func reidNeedsTheObjectWithinReach() {
        var t = tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(10, 10, 40, 40), score: 0.95, regionToken: token(0))])
        t.update(frame: frameInfo(15), proposals: [])
        // Half a second later, same token, 560 px away: farther than (1 + 1 x 0.5 s) x 57 px.
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(570, 300, 40, 40), score: 0.95, regionToken: token(0))])
        #expect(t.tracks.contains { $0.id == 2 && $0.box.x1 == 570 })
        #expect(t.tracks.first { $0.id == 1 }?.state == .lost)
    }

    @Test("a person lost for 2 s is not re-identified 440 px away (vtest.avi), but 300 px away he is")
    func reidReachIsAWalkersReach() {
        for (x, back) in [(Float(180), true), (40, false)] {
            var t = tracker()
            // a person 33 x 117 (diagonal 122), last seen at x 500
            t.update(frame: frameInfo(0), proposals: [Proposal(box: box(500, 100, 33, 117), score: 0.95, regionToken: token(0))])
            t.update(frame: frameInfo(30), proposals: [])
            // 2 s after: 320 px from where he was, within (1 + 1 x 2) x 122 = 366, or 460 px
            t.update(frame: frameInfo(60), proposals: [Proposal(box: box(x, 110, 33, 117), score: 0.95, regionToken: token(0, noise: 0.1))])
            #expect(t.tracks.contains { $0.id == 1 && $0.box.x1 == x } == back, "x \(x): \(t.tracks.map { ($0.id, $0.box) })")
        }
    }

    /// Two look-alikes (vtest.avi, 22 s): a walker's own track beside him and another one
    /// lost 160 px away whose token happens to be a little closer. By similarity alone the
    /// far one takes him (stage 3's assignment picks the lower cost); with the distance
    /// term the near one does.
    @Test("of two look-alike tracks, the nearer one costs less to re-identify")
    func nearerLookAlikeWins() {
        let near = unit([1, 0.25, 0, 0, 0, 0, 0, 0]), far = unit([1, 0.05, 0, 0, 0, 0, 0, 0]), seen = unit([1, 0, 0, 0, 0, 0, 0, 0])
        for weight: Float in [0.25, 0] {
            var c = TrackerConfig()
            c.lostAfterMisses = 1; c.maxMisses = 5; c.reidWindow = 4; c.reidDistanceWeight = weight
            var t = Tracker(config: c)
            t.update(frame: frameInfo(0), proposals: [Proposal(box: box(140, 100, 33, 117), score: 0.95, regionToken: near),
                                                      Proposal(box: box(360, 100, 33, 117), score: 0.95, regionToken: far)])
            t.update(frame: frameInfo(30), proposals: [])
            t.propagate(to: frameInfo(60), motion: nil)
            #expect(t.tracks.map(\.state) == [.lost, .lost])
            // 60 px beside track 1, 160 px from track 2
            let p = Proposal(box: box(200, 100, 33, 117), score: 0.95, regionToken: seen)
            let costs = t.tracks.map { t.reidCost(p, $0, at: frameInfo(60)) }
            #expect(costs.allSatisfy { $0 != nil }, "both within reach: \(costs)")
            let cheaper = costs[0]! < costs[1]! ? 1 : 2
            #expect(cheaper == (weight > 0 ? 1 : 2), "weight \(weight): costs \(costs)")
        }
    }

    @Test("a track that left by the bottom edge comes back only through the bottom edge")
    func exitsAreExits() {
        // frames are 640x360; the object leaves at the bottom (y2 = 360)
        var t = tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(550, 320, 60, 40), score: 0.95, regionToken: token(0))])
        t.update(frame: frameInfo(15), proposals: [])
        // the same token enters by the right edge 165 px away (within reach): a newcomer
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(600, 150, 40, 60), score: 0.95, regionToken: token(0))])
        #expect(t.tracks.contains { $0.id == 2 && $0.box.x2 == 640 })
        #expect(t.tracks.first { $0.id == 1 }?.state == .lost)
        // through the bottom edge again, near where it left: the same object
        t.update(frame: frameInfo(45), proposals: [
            Proposal(box: box(600, 150, 40, 60), score: 0.95, regionToken: token(2)),
            Proposal(box: box(500, 330, 60, 30), score: 0.95, regionToken: token(0)),
        ])
        #expect(t.tracks.first { $0.id == 1 }.map { $0.state == .confirmed && $0.box.y2 == 360 } == true)
    }

    @Test("wholly inside the picture: the track hidden near the edge comes back, the one that went out of it does not", arguments: [true, false])
    func leftOrHidden(walkingOut: Bool) {
        // a person last seen at the left edge (frames 640x360), walking out at 5 px a frame
        // or standing there
        var t = tracker()
        for k in 0..<3 {
            let x: Float = walkingOut ? 30 - 15 * Float(k) : 0
            t.update(frame: frameInfo(3 * k), proposals: [Proposal(box: box(x, 150, 30, 80), score: 0.95, regionToken: token(0))])
        }
        for f in 7...40 { t.propagate(to: frameInfo(f), motion: nil) }
        // well over a second later the same token is seen wholly inside, 100 px from the edge
        t.update(frame: frameInfo(40), proposals: [Proposal(box: box(100, 150, 30, 80), score: 0.95, regionToken: token(0, noise: 0.1))])
        let back = t.tracks.first { $0.box.x1 == 100 }
        #expect((back?.id == 1) == !walkingOut, "\(t.tracks.map { ($0.id, $0.box, $0.state) })")
    }

    @Test("a look-alike 1.8 diagonals from the box motion vectors carried is someone else; from a coasting box, it may be the track", arguments: [true, false])
    func carriedBoxIsASighting(carried: Bool) {
        // a walker at 2 px a frame for a second, his box carried by vectors (or coasting
        // without them); at the next look his own proposal is missing (merged with a
        // neighbour's) and a look-alike stands 150 px behind him, within a walker's reach
        // of where he was last seen
        var t = tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 150, 30, 80), score: 0.95, regionToken: token(0))])
        for f in 1...30 {
            let here = box(100 + 2 * Float(f - 1), 150, 30, 80)
            t.propagate(to: frameInfo(f), motion: carried ? vectors(in: here, dx: 2, dy: 0) : nil)
        }
        #expect(t.tracks[0].carried(to: 30) == carried)
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(10, 150, 30, 80), score: 0.95, regionToken: token(0, noise: 0.1))])
        let atLookAlike = t.tracks.first { $0.box.x1 == 10 }
        #expect((atLookAlike?.id == 1) == !carried, "\(t.tracks.map { ($0.id, $0.box, $0.state) })")
        #expect(t.tracks.count == (carried ? 2 : 1))
    }

    @Test func reidNeedsAnObjectOfItsSize() {
        // Within reach and with its token, but a sliver a tenth of its size (a limb, an
        // edge fragment): not the object. A box of its size is.
        var t = tracker()
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 100, 30, 90), score: 0.95, regionToken: token(0))])
        t.update(frame: frameInfo(15), proposals: [])
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(300, 150, 15, 18), score: 0.95, regionToken: token(0))])
        #expect(t.tracks.first { $0.id == 1 }?.state == .lost)
        #expect(t.tracks.contains { $0.id == 2 && $0.box.x1 == 300 })
        t.update(frame: frameInfo(45), proposals: [Proposal(box: box(100, 330, 34, 80), score: 0.95, regionToken: token(0))])
        #expect(t.tracks.first { $0.id == 1 }.map { $0.state == .confirmed && $0.box.y1 == 330 } == true)
    }

    @Test func tokensKeepIdentitiesWhenBoxesSwapPlaces() {
        // Two tracks whose predicted boxes both overlap both proposals: the token term
        // decides, not IoU alone.
        var t = tracker()
        t.update(frame: frameInfo(0), proposals: [
            Proposal(box: box(100, 100, 60, 60), score: 0.9, regionToken: token(0)),
            Proposal(box: box(130, 100, 60, 60), score: 0.9, regionToken: token(1)),
        ])
        t.update(frame: frameInfo(30), proposals: [
            Proposal(box: box(100, 100, 60, 60), score: 0.9, regionToken: token(1)),
            Proposal(box: box(130, 100, 60, 60), score: 0.9, regionToken: token(0)),
        ])
        #expect(t.tracks.first { $0.id == 1 }.map { abs($0.box.x1 - 130) < 1 } == true)
        #expect(t.tracks.first { $0.id == 2 }.map { abs($0.box.x1 - 100) < 1 } == true)
    }
}
