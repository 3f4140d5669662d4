import Testing
@testable import Temporal

@Suite struct RecognitionPolicyTests {
    func v() throws -> TrackerVocabulary { try TrackerVocabulary(names: ["a", "b"], embeddings: token(0) + token(1), dim: 8, scale: 20) }

    @Test func reasonsToReRecognize() throws {
        var c = TrackerConfig()
        c.recognition.maxLabelAge = 2
        c.recognition.lowMarginRetry = 0   // ask on every keyframe while ambiguous (below: the back-off)
        c.recognition.driftOnlyAfterMeeting = false  // drift alone (below: only after meeting another track)
        var t = Tracker(config: c, vocabulary: try v())
        t.update(frame: frameInfo(0), proposals: [
            Proposal(box: box(10, 10, 80, 80), score: 0.9, embedding: token(0)),              // clear label
            Proposal(box: box(200, 10, 80, 80), score: 0.9, embedding: unit([1, 1, 0, 0, 0, 0, 0, 0])), // ambiguous
            Proposal(box: box(400, 10, 80, 80), score: 0.9),                                   // detector only
            Proposal(box: box(100, 200, 80, 80), score: 0.9, embedding: token(0)),            // will drift
        ])
        // Track 4 grows by 50 % through its motion vectors (inside the frame: at its edge
        // a change of size is an object entering or leaving, not drift).
        var b = box(100, 200, 80, 80)
        for f in 1...10 {
            t.propagate(to: frameInfo(f), motion: vectors(in: b, dx: 0, dy: 0, scale: 1.045))
            b = b.scaled(sx: 1.045, sy: 1.045)
        }
        var reasons = Dictionary(uniqueKeysWithValues: t.recognitionRequests().map { ($0.trackID, $0.reason) })
        #expect(reasons[1] == nil)
        #expect(reasons[2] == .lowMargin)
        #expect(reasons[3] == .neverRecognized)
        #expect(reasons[4] == .drift)
        // Three seconds later every label is stale.
        t.propagate(to: frameInfo(90), motion: nil)
        reasons = Dictionary(uniqueKeysWithValues: t.recognitionRequests().map { ($0.trackID, $0.reason) })
        #expect(reasons[1] == .stale)
    }

    /// A lone object changing size as it walks keeps its label; one whose box touched
    /// another track's since its last look (crossing, merging, parting) asks: that is an
    /// identity question. A look clears the mark.
    @Test("drift asks only after the track met another since its last look")
    func driftAfterMeeting() throws {
        var t = Tracker(vocabulary: try v())
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 200, 80, 80), score: 0.9, embedding: token(0)),
                                                  Proposal(box: box(400, 200, 80, 80), score: 0.9, embedding: token(1))])
        var lone = box(100, 200, 80, 80), walker = box(400, 200, 80, 80)
        for f in 1...10 {  // the first grows 50 % where nothing is near; the second walks left
            t.propagate(to: frameInfo(f), motion: vectors(in: lone, dx: 0, dy: 0, scale: 1.045) + vectors(in: walker, dx: -12, dy: 0))
            lone = lone.scaled(sx: 1.045, sy: 1.045); walker = walker.translated(dx: -12, dy: 0)
        }
        #expect(t.tracks.map(\.metOthersSinceLook) == [false, false])
        #expect(t.recognitionRequests().isEmpty, "alone, neither asks: \(t.recognitionRequests())")
        for f in 11...20 {  // the walker reaches the first one's box
            t.propagate(to: frameInfo(f), motion: vectors(in: lone, dx: 0, dy: 0) + vectors(in: walker, dx: -12, dy: 0))
            walker = walker.translated(dx: -12, dy: 0)
        }
        #expect(t.tracks.map(\.metOthersSinceLook) == [true, true])
        #expect(Set(t.recognitionRequests().map(\.reason)) == [.drift], "both changed since their look and met: \(t.recognitionRequests())")
        t.update(frame: frameInfo(21), proposals: [Proposal(box: lone, score: 0.9, embedding: token(0)),
                                                   Proposal(box: walker.translated(dx: -12, dy: 0), score: 0.9, embedding: token(1))])
        #expect(t.tracks.map(\.lastInferredFrame) == [21, 21] && t.tracks.map(\.metOthersSinceLook) == [false, false], "a look clears the mark")
        #expect(t.recognitionRequests().isEmpty)
    }

    @Test("a low margin asks again after 2 s, then 4 s, 8 s while looks leave it low; a decided look resets the wait")
    func lowMarginBacksOff() throws {
        let ambiguous = unit([1, 1, 0, 0, 0, 0, 0, 0]), b = box(200, 10, 80, 80)
        var t = Tracker(vocabulary: try v())   // defaults: lowMarginRetry 2 s, maxLabelAge 10 s
        func asks(at f: Int) -> [RecognitionReason] {
            t.propagate(to: frameInfo(f), motion: nil)
            return t.recognitionRequests().map(\.reason)
        }
        func look(at f: Int, _ e: [Float]) { t.update(frame: frameInfo(f), proposals: [Proposal(box: b, score: 0.9, embedding: e)]) }
        look(at: 0, ambiguous)                  // 30 frames a second
        #expect(t.tracks[0].labels.margin < 0.15 && t.tracks[0].lowMarginLooks == 1)
        #expect(asks(at: 59).isEmpty)            // 1.97 s
        #expect(asks(at: 60) == [.lowMargin])   // 2 s
        look(at: 60, ambiguous)
        #expect(t.tracks[0].lowMarginLooks == 2)
        #expect(asks(at: 179).isEmpty)           // 3.97 s after the second look
        #expect(asks(at: 180) == [.lowMargin])   // 4 s
        look(at: 180, ambiguous)
        #expect(asks(at: 419).isEmpty && asks(at: 420) == [.lowMargin])   // then 8 s
        // a clear look: the margin rises above 0.15 and the count starts again
        look(at: 420, token(0)); look(at: 423, token(0)); look(at: 426, token(0))
        #expect(t.tracks[0].labels.margin >= 0.15 && t.tracks[0].lowMarginLooks == 0)
        #expect(asks(at: 486).isEmpty)
    }

    @Test("a track labelled only while cut by the frame's edge asks for a look once it is wholly inside, and not after")
    func partialViewAsksOnceInside() throws {
        var t = Tracker(vocabulary: try v())
        var b = box(0, 100, 40, 60)   // cut by the left edge
        t.update(frame: frameInfo(0), proposals: [Proposal(box: b, score: 0.9, embedding: token(0))])
        t.update(frame: frameInfo(3), proposals: [Proposal(box: b, score: 0.9, embedding: token(0))])
        #expect(t.tracks[0].state == .confirmed)
        #expect(t.recognitionRequests().isEmpty)   // still at the edge: nothing better to see
        // it moves 5 px right: wholly inside, and not far enough to count as drift
        t.propagate(to: frameInfo(4), motion: vectors(in: b, dx: 5, dy: 0))
        b = box(5, 100, 40, 60)
        #expect(t.tracks[0].box.x1 > 2 && t.tracks[0].box.iou(b) > 0.9, "\(t.tracks[0].box)")
        #expect(t.recognitionRequests().map(\.reason) == [.partialView])
        t.update(frame: frameInfo(6), proposals: [Proposal(box: t.tracks[0].box, score: 0.9, embedding: token(0))])
        #expect(t.recognitionRequests().isEmpty)
    }

    @Test("at the frame's edge a leaving track does not ask for drift; one entering with labels from a sliver does")
    func driftAtTheEdge() throws {
        var t = Tracker(vocabulary: try v())
        let whole = box(10, 100, 40, 60)   // labelled wholly inside
        t.update(frame: frameInfo(0), proposals: [Proposal(box: whole, score: 0.9, embedding: token(0))])
        t.update(frame: frameInfo(3), proposals: [Proposal(box: whole, score: 0.9, embedding: token(0))])
        t.propagate(to: frameInfo(4), motion: nil)
        #expect(t.follow([box(0, 100, 40, 60)]) == 1)
        t.propagate(to: frameInfo(5), motion: nil)
        #expect(t.follow([box(0, 100, 20, 60)]) == 1)   // half of it left: area -50 %
        #expect(t.recognitionRequests().isEmpty)
        var u = Tracker(vocabulary: try v())
        let sliver = box(0, 200, 12, 60)
        u.update(frame: frameInfo(0), proposals: [Proposal(box: sliver, score: 0.9, embedding: token(0))])
        u.update(frame: frameInfo(3), proposals: [Proposal(box: sliver, score: 0.9, embedding: token(0))])
        u.propagate(to: frameInfo(4), motion: nil)
        #expect(u.follow([box(0, 200, 20, 60)]) == 1)   // more of it shows: area +67 %
        #expect(u.recognitionRequests().map(\.reason) == [.drift])
    }

    @Test func provenanceSaysInferredThenPropagated() throws {
        var t = Tracker(vocabulary: try v())
        let b = box(10, 10, 80, 80)
        t.propagate(to: frameInfo(30), motion: nil)
        t.update(frame: frameInfo(30), proposals: [Proposal(box: b, score: 0.9, embedding: token(1), source: "regionspot")])
        var r = t.regions()[0]
        #expect(r.provenance.kind == .inferred && r.provenance.sourceFrame == 30 && r.provenance.labelAge == 0)
        #expect(r.provenance.boxMethod == .observed)
        t.propagate(to: frameInfo(45), motion: nil)
        r = t.regions()[0]
        #expect(r.provenance.kind == .propagated && r.provenance.sourceFrame == 30)
        #expect(abs((r.provenance.labelAge ?? -1) - 0.5) < 1e-9)
        #expect(r.provenance.boxMethod == .kalman)
        #expect(r.labelName == "b")
        // A detector-only match refreshes the box but not the label's provenance.
        t.update(frame: frameInfo(60), proposals: [Proposal(box: b, score: 0.9, source: "detector")])
        r = t.regions()[0]
        #expect(r.provenance.kind == .propagated && r.provenance.sourceFrame == 30 && r.provenance.boxMethod == .observed)
        #expect(t.tracks[0].source == "detector")
    }
}
