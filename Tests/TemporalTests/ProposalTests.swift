import Foundation
import Testing
@testable import Temporal

@Suite("Proposal merge")
struct ProposalMergeTests {
    func box(_ x: Float, _ y: Float, _ w: Float = 100, _ h: Float = 100) -> Box { Box(x1: x, y1: y, x2: x + w, y2: y + h) }

    @Test("duplicates across sources keep the higher-priority source, whatever the input order")
    func priority() {
        let c = [
            ProposalCandidate(box: box(2, 0), source: .everything, score: 0.99),
            ProposalCandidate(box: box(0, 0), source: .motion),
            ProposalCandidate(box: box(1, 1), source: .external, score: 0.6, tag: "det-7"),
            ProposalCandidate(box: box(0, 2), source: .tracked, score: 0.5, tag: "12"),
            ProposalCandidate(box: box(300, 0), source: .motion),
        ]
        let m = ProposalMerge.merge(c)
        #expect(m.map(\.source) == [.tracked, .motion])
        #expect(m[0].tag == "12" && m[0].box == box(0, 2))
        #expect(m[1].box == box(300, 0))
        // without the tracked box the external one wins the cluster
        let m2 = ProposalMerge.merge(c.filter { $0.source != .tracked })
        #expect(m2.map(\.source) == [.external, .motion] && m2[0].tag == "det-7")
        #expect(ProposalMerge.merge(c.reversed()) == m)
    }

    @Test("IoU threshold: above it is a duplicate, at or below it is not")
    func threshold() {
        // IoU(box(0,0), box(20,0)) = 80*100 / (2*10000 - 8000) = 0.667
        let a = ProposalCandidate(box: box(0, 0), source: .motion), b = ProposalCandidate(box: box(20, 0), source: .motion)
        #expect(ProposalMerge.merge([a, b], config: .init(iouThreshold: 0.7)).count == 2)
        #expect(ProposalMerge.merge([a, b], config: .init(iouThreshold: 0.6)).count == 1)
        // same source: the higher score stays
        let hi = ProposalCandidate(box: box(20, 0), source: .everything, score: 0.9)
        let lo = ProposalCandidate(box: box(0, 0), source: .everything, score: 0.3)
        #expect(ProposalMerge.merge([lo, hi], config: .init(iouThreshold: 0.5)) == [hi])
    }

    @Test("cap: at most maxBoxes, highest priority first, then score")
    func cap() {
        var c: [ProposalCandidate] = []
        for i in 0..<10 { c.append(ProposalCandidate(box: box(Float(i) * 200, 500), source: .everything, score: Float(i) / 10)) }
        for i in 0..<3 { c.append(ProposalCandidate(box: box(Float(i) * 200, 0), source: .motion)) }
        c.append(ProposalCandidate(box: box(0, 900), source: .zone, tag: "door"))
        c.append(ProposalCandidate(box: box(900, 900), source: .tracked, score: 0.1, tag: "4"))
        let m = ProposalMerge.merge(c, config: .init(maxBoxes: 7))
        #expect(m.count == 7)
        #expect(m.map(\.source) == [.tracked, .zone, .motion, .motion, .motion, .everything, .everything])
        #expect(m[5].score == 0.9 && m[6].score == 0.8)
        #expect(ProposalMerge.merge(c, config: .init(maxBoxes: 0)).isEmpty)
    }

    @Test("zones are always asked; clipping, empty and tiny boxes")
    func zonesAndClipping() {
        let zone = ProposalCandidate(box: box(0, 0), source: .zone, tag: "bay 1")
        let tracked = ProposalCandidate(box: box(1, 1), source: .tracked, tag: "3")
        #expect(ProposalMerge.merge([zone, tracked]).map(\.source) == [.tracked, .zone])
        #expect(ProposalMerge.merge([zone, tracked], config: .init(dedupZones: true)).map(\.source) == [.tracked])
        let out = ProposalMerge.merge([
            ProposalCandidate(box: Box(x1: -50, y1: -10, x2: 60, y2: 40), source: .external),
            ProposalCandidate(box: Box(x1: 700, y1: 10, x2: 900, y2: 40), source: .external),   // outside
            ProposalCandidate(box: Box(x1: 10, y1: 10, x2: 11, y2: 80), source: .motion),       // 1 px wide
            ProposalCandidate(box: Box(x1: .nan, y1: 0, x2: 5, y2: 5), source: .motion),
        ], width: 640, height: 360)
        #expect(out.map(\.box) == [Box(x1: 0, y1: 0, x2: 60, y2: 40)])
    }
}

@Suite("Proposal schedule")
struct ProposalScheduleTests {
    @Test("defaults: tracked + motion every keyframe, everything at start and once a minute")
    func defaults() {
        var s = ProposalSchedule()
        var everything: [Double] = []
        for k in 0..<100 {
            let pts = 3.0 + Double(k) * 2.5   // a keyframe every 2.5 s from pts 3
            let run = s.sources(at: pts)
            #expect(run.first == .tracked && run.contains(.motion))
            if run.contains(.everything) { everything.append(pts) }
        }
        #expect(everything == [3, 63, 123, 183, 243])
        // replaying the same PTS gives the same decisions
        var t = ProposalSchedule()
        #expect((0..<100).map { t.sources(at: 3.0 + Double($0) * 2.5) }.filter { $0.contains(.everything) }.count == 5)
    }

    @Test("clock going back or a restart runs everything again; configured sources only")
    func resets() {
        var s = ProposalSchedule(sources: [.motion, .everything, .zone, .motion], everythingInterval: 10)
        #expect(s.sources(at: 100) == [.zone, .motion, .everything])
        #expect(s.sources(at: 105) == [.zone, .motion])
        #expect(s.everythingDue(at: 110))
        #expect(s.sources(at: 1) == [.zone, .motion, .everything])   // looped file
        #expect(s.sources(at: 2) == [.zone, .motion])
        s.restart()
        #expect(s.sources(at: 3).contains(.everything))
        var none = ProposalSchedule(sources: [.tracked])
        #expect(none.sources(at: 0) == [.tracked] && !none.everythingDue(at: 0))
    }
}

@Suite("Motion proposals")
struct MotionProposalTests {
    /// 16x16 blocks covering `b`, all moving by (dx, dy), given at their previous-frame position.
    static func blocks(_ b: Box, dx: Float, dy: Float) -> [MotionSample] {
        var out: [MotionSample] = []
        var y = b.y1 + 8
        while y < b.y2 {
            var x = b.x1 + 8
            while x < b.x2 { out.append(MotionSample(x: x - dx, y: y - dy, dx: dx, dy: dy, area: 256)); x += 16 }
            y += 16
        }
        return out
    }

    @Test("two moving objects, noise and a stray block: two boxes, tight to the blocks")
    func twoObjects() {
        var s = Self.blocks(Box(x1: 64, y1: 32, x2: 160, y2: 128), dx: 4, dy: 0)
        s += Self.blocks(Box(x1: 320, y1: 192, x2: 384, y2: 320), dx: -2, dy: 3)
        s.append(MotionSample(x: 600, y: 40, dx: 5, dy: 5, area: 256))         // lone block: too small
        for i in 0..<50 { s.append(MotionSample(x: Float(i * 12), y: 350, dx: 0.25, dy: -0.25, area: 64)) }  // noise
        let r = MotionProposals.fromVectors(s, width: 640, height: 360)
        #expect(r.count == 2)
        #expect(r.map(\.box) == [Box(x1: 64, y1: 32, x2: 160, y2: 128), Box(x1: 320, y1: 192, x2: 384, y2: 320)])
        #expect(abs(r[0].dx - 4) < 1e-5 && r[0].dy == 0)
        #expect(abs(r[1].dx + 2) < 1e-5 && abs(r[1].dy - 3) < 1e-5)
    }

    @Test("a one-cell gap is bridged, overlapping components merge, the cap keeps the largest")
    func grouping() {
        // two halves of one object with a 16 px column of missing vectors between them
        var s = Self.blocks(Box(x1: 0, y1: 0, x2: 64, y2: 64), dx: 3, dy: 0)
        s += Self.blocks(Box(x1: 80, y1: 0, x2: 144, y2: 64), dx: 3, dy: 0)
        #expect(MotionProposals.fromVectors(s, width: 640, height: 360).map(\.box) == [Box(x1: 0, y1: 0, x2: 144, y2: 64)])
        var cfg = MotionProposalConfig()
        cfg.gapCells = 0
        #expect(MotionProposals.fromVectors(s, width: 640, height: 360, config: cfg).count == 2)
        var many: [MotionSample] = []
        for i in 0..<5 { many += Self.blocks(Box(x1: Float(i) * 128, y1: 200, x2: Float(i) * 128 + 32 + Float(i) * 16, y2: 264), dx: 2, dy: 0) }
        cfg.maxRegions = 2
        let r = MotionProposals.fromVectors(many, width: 640, height: 360, config: cfg)
        #expect(r.map(\.box.x1) == [512, 384])
    }

    @Test("frame differencing finds a moved square in RGB and in luma")
    func difference() throws {
        let w = 160, h = 120
        var a = [UInt8](repeating: 90, count: w * h * 3), b = a
        for y in 40..<80 { for x in 20..<60 { for c in 0..<3 { a[(y * w + x) * 3 + c] = 230 } } }
        for y in 40..<80 { for x in 36..<76 { for c in 0..<3 { b[(y * w + x) * 3 + c] = 230 } } }
        let r = try MotionProposals.fromDifference(previous: a, current: b, width: w, height: h, channels: 3)
        #expect(r.count == 1)
        #expect(r.first?.box == Box(x1: 16, y1: 32, x2: 80, y2: 80))
        let la = stride(from: 0, to: a.count, by: 3).map { a[$0] }, lb = stride(from: 0, to: b.count, by: 3).map { b[$0] }
        #expect(try MotionProposals.fromDifference(previous: la, current: lb, width: w, height: h, channels: 1).map(\.box) == r.map(\.box))
        #expect(try MotionProposals.fromDifference(previous: a, current: a, width: w, height: h, channels: 3).isEmpty)
        let e = #expect(throws: MotionProposalError.self) {
            try MotionProposals.fromDifference(previous: la, current: b, width: w, height: h, channels: 3)
        }
        #expect(e?.description.contains("previous has 19200 bytes") == true)
    }

    @Test("1080p with ~14,000 vectors takes a few ms")
    func speed() {
        var s: [MotionSample] = []
        var rng = SplitMix64(seed: 7)
        // 8160 macroblocks: 60 % still noise, 12 moving objects split into 8x8 partitions
        for r in 0..<68 { for c in 0..<120 {
            s.append(MotionSample(x: Float(c * 16 + 8), y: Float(r * 16 + 8), dx: Float(rng.uniform(-0.5, 0.5)), dy: 0.25, area: 256))
        } }
        for o in 0..<12 {
            let x0 = Float(rng.uniform(0, 1700)), y0 = Float(rng.uniform(0, 900))
            for y in stride(from: y0, to: y0 + 160, by: 8) { for x in stride(from: x0, to: x0 + 200, by: 8) {
                s.append(MotionSample(x: x, y: y, dx: Float(o % 3) + 2, dy: 1, area: 64))
            } }
        }
        #expect(s.count > 13_000)
        var best = Double.infinity
        var regions: [MotionRegion] = []
        for _ in 0..<5 {
            let t = Date()
            regions = MotionProposals.fromVectors(s, width: 1920, height: 1080)
            best = min(best, Date().timeIntervalSince(t))
        }
        #expect(!regions.isEmpty && regions.count <= 12)
        #expect(best < 0.015, "best of 5: \(best * 1000) ms")

        // a camera pan: every block moves, one region the size of the frame
        var pan: [MotionSample] = []
        for r in 0..<68 {
            for c in 0..<120 { pan.append(MotionSample(x: Float(c * 16 + 8), y: Float(r * 16 + 8), dx: 3, dy: 0.5, area: 256)) }
        }
        best = .infinity
        for _ in 0..<3 {
            let t = Date()
            regions = MotionProposals.fromVectors(pan, width: 1920, height: 1080)
            best = min(best, Date().timeIntervalSince(t))
        }
        #expect(regions.count == 1 && regions[0].box.area > 0.9 * 1920 * 1080)
        #expect(best < 0.03, "pan, best of 3: \(best * 1000) ms")
    }

    @Test("memory keeps the last inter frames' vectors for an I-frame")
    func memory() {
        var m = MotionMemory(frames: 2)
        m.add([MotionSample(x: 1, y: 1, dx: 1, dy: 0)])
        m.add([])
        m.add([MotionSample(x: 2, y: 2, dx: 1, dy: 0)])
        m.add([MotionSample(x: 3, y: 3, dx: 1, dy: 0)])
        #expect(m.samples.map(\.x) == [2, 3])
        m.reset()
        #expect(m.samples.isEmpty)
    }
}
