import Testing
@testable import Temporal

@Suite struct LabelTests {
    let dim = 8
    func vocab(_ names: [String], _ rows: [[Float]]) throws -> TrackerVocabulary {
        try TrackerVocabulary(names: names, embeddings: rows.flatMap { $0 }, dim: dim, scale: 20)
    }

    @Test func oneNoisyKeyframeDoesNotFlipTheLabel() throws {
        let v = try vocab(["cat", "dog"], [token(0), token(1)])
        var t = Tracker(vocabulary: v)
        let b = box(100, 100, 60, 60)
        for k in 0..<3 { t.update(frame: frameInfo(30 * k), proposals: [Proposal(box: b, score: 0.9, embedding: token(0))]) }
        #expect(t.regions()[0].labelName == "cat")
        // One keyframe says "dog" (mildly).
        t.update(frame: frameInfo(90), proposals: [Proposal(box: b, score: 0.9, embedding: unit([0.45, 0.55, 0, 0, 0, 0, 0, 0]))])
        #expect(t.regions()[0].labelName == "cat")
        #expect(t.regions()[0].margin > 0)
    }

    @Test("labels from views cut by the frame's edge give way to the first whole view; a whole view's label is smoothed as before")
    func wholeViewReplacesPartialViews() throws {
        let v = try vocab(["cat", "dog"], [token(0), token(1)])
        var t = Tracker(vocabulary: v)
        // entering at the left edge (x1 = 0): seen as a dog twice
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(0, 100, 30, 60), score: 0.9, embedding: token(1))])
        t.propagate(to: frameInfo(30), motion: nil)
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(0, 100, 45, 60), score: 0.9, embedding: token(1))])
        #expect(t.regions()[0].labelName == "dog")
        #expect(t.tracks[0].labelsFromPartialView)
        // wholly inside: a cat, and one whole view is enough
        t.propagate(to: frameInfo(60), motion: nil)
        t.update(frame: frameInfo(60), proposals: [Proposal(box: box(10, 100, 60, 60), score: 0.9, embedding: unit([0.8, 0.6, 0, 0, 0, 0, 0, 0]))])
        #expect(t.regions()[0].labelName == "cat")
        #expect(!t.tracks[0].labelsFromPartialView)
        #expect(t.tracks[0].labels.observations == 1)
        // leaving by the left edge again, seen as a dog once: folded in (alpha 0.4), still a cat
        t.propagate(to: frameInfo(90), motion: nil)
        t.update(frame: frameInfo(90), proposals: [Proposal(box: box(0, 100, 50, 60), score: 0.9, embedding: unit([0.6, 0.8, 0, 0, 0, 0, 0, 0]))])
        #expect(t.tracks.count == 1 && t.tracks[0].labels.observations == 2 && !t.tracks[0].labelsFromPartialView)
        #expect(t.regions()[0].labelName == "cat")
        // a track born wholly inside never counts as partial
        var u = Tracker(vocabulary: v)
        u.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 100, 60, 60), score: 0.9, embedding: token(0))])
        #expect(!u.tracks[0].labelsFromPartialView)
    }

    @Test("entering: a sliver's label gives way to a view of twice as much of the object, and that track takes the larger view however small their IoU")
    func slivers() throws {
        let v = try vocab(["cat", "dog"], [token(0), token(1)])
        var t = Tracker(vocabulary: v)
        // a 5 px sliver at the bottom edge (360), seen as a dog
        t.update(frame: frameInfo(0), proposals: [Proposal(box: box(100, 355, 60, 5), score: 0.9, regionToken: token(2), embedding: token(1))])
        t.propagate(to: frameInfo(30), motion: nil)
        // a second on, 60 px of it show (still cut by the edge): a cat (IoU 0.08; the region
        // token agrees)
        t.update(frame: frameInfo(30), proposals: [Proposal(box: box(100, 300, 60, 60), score: 0.9, regionToken: token(2), embedding: unit([0.8, 0.6, 0, 0, 0, 0, 0, 0]))])
        #expect(t.tracks.count == 1, "\(t.tracks.map { ($0.id, $0.box) })")
        #expect(t.tracks[0].box.iou(box(100, 300, 60, 60)) > 0.9)
        #expect(t.regions()[0].labelName == "cat")
        #expect(t.tracks[0].labelsFromPartialView)
        // a view under twice the last one is folded in as before (alpha 0.4): still a cat
        t.propagate(to: frameInfo(60), motion: nil)
        t.update(frame: frameInfo(60), proposals: [Proposal(box: box(100, 280, 60, 80), score: 0.9, regionToken: token(2), embedding: unit([0.6, 0.8, 0, 0, 0, 0, 0, 0]))])
        #expect(t.regions()[0].labelName == "cat")
        #expect(t.tracks[0].labels.observations == 2)
    }

    @Test func vocabularyChangeRescoresFromStoredEmbedding() throws {
        var t = Tracker(vocabulary: try vocab(["cat", "dog"], [token(0), token(1)]))
        t.update(frame: frameInfo(0), proposals: [
            Proposal(box: box(10, 10, 60, 60), score: 0.9, embedding: unit([1, 0, 0.2, 0, 0, 0, 0, 0])),
            Proposal(box: box(300, 10, 60, 60), score: 0.9, embedding: unit([0, 0, 0, 1, 0, 0, 0, 0])),
            Proposal(box: box(300, 200, 60, 60), score: 0.9),   // never recognized
        ])
        t.propagate(to: frameInfo(5), motion: nil)
        // New vocabulary: "truck" matches the second track's embedding, "tabby" the first.
        t.setVocabulary(try vocab(["truck", "tabby", "bird"], [token(3), unit([1, 0, 0.2, 0, 0, 0, 0, 0]), token(5)]))
        let r = t.regions().sorted { $0.trackID < $1.trackID }
        #expect(r.map(\.labelName) == ["tabby", "truck", nil])
        #expect(r[0].top.count == 3)
        // Re-scored probabilities equal a fresh softmax over the new vocabulary.
        let p = t.vocabulary!.probabilities(for: t.tracks[0].embedding!)!
        #expect(zip(p, t.tracks[0].labels.scores).allSatisfy { abs($0 - $1) < 1e-6 })
        // No recognition ran: provenance still points at frame 0.
        #expect(r[0].provenance.sourceFrame == 0 && r[0].provenance.kind == .propagated)
    }

    @Test func vocabularyRejectsBadShape() {
        #expect(throws: TrackerVocabulary.Error.self) { try TrackerVocabulary(names: ["a", "b"], embeddings: [1, 2, 3], dim: 2, scale: 1) }
    }
}
