import Foundation
import Testing
@testable import Recognizer

/// eval's "is there an object here?" numbers on a set small enough to work out by hand.
@Suite("Training: acceptance scores")
struct TrainingScoresTests {
    @Test("best-class sigmoid percentiles, acceptance per kind, detector-style AP with background boxes, the 95% threshold")
    func scores() {
        let l9 = Float(log(9.0)), l3 = Float(log(3.0))  // sigmoid: ±ln 9 -> 0.9 / 0.1, ±ln 3 -> 0.75 / 0.25
        let rows: [([Float], Int, BoxKind)] = [
            ([l9, -l3], 0, .object), ([-l3, l3], 1, .object), ([0, -l9], 0, .object), ([l3, -l9], 1, .object),
            ([-l9, -l9], -1, .background), ([-l3, 0], -1, .background), ([-l9, -l3], -1, .background),
            ([l3, -l9], -1, .poor), ([-l9, -l9], -1, .poor),
            ([l3, 0], 0, .loose),
        ]
        let s = BoxLogits(logits: Tensor(shape: [rows.count, 2], data: rows.flatMap(\.0)), labels: rows.map(\.1), kinds: rows.map(\.2))
        let r = ScoreReport(s, minScore: 0.6)
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) < 1e-6 }
        // objects' best sigmoid 0.5, 0.75, 0.75, 0.9: p10 = 0.5 + 0.3 x 0.25, p90 = 0.75 + 0.7 x 0.15
        let o = r.kinds[.object]!
        #expect(o.count == 4 && close(o.median, 0.75) && close(o.p10, 0.575) && close(o.p90, 0.855) && o.accepted == 0.75, "\(o)")
        // background 0.1, 0.25, 0.5: all below 0.6
        let b = r.kinds[.background]!
        #expect(b.count == 3 && close(b.median, 0.25) && close(b.p10, 0.13) && close(b.p90, 0.45) && b.accepted == 0, "\(b)")
        #expect(r.kinds[.poor]!.accepted == 0.5 && close(r.kinds[.poor]!.median, 0.425) && r.kinds[.loose]!.accepted == 1)
        // class 0 ranking: object 0.9 (true), object of class 1 0.75, object 0.5 (true) -> AP (1 + 2/3) / 2;
        // class 1: object 0.75 (true), background 0.5, then 0.25, 0.25, 0.1 and the second true object at rank 6 -> (1 + 1/3) / 2
        #expect(close(r.detectionAP[0]!, 5.0 / 6) && close(r.detectionAP[1]!, 2.0 / 3) && close(r.meanDetectionAP, 0.75), "\(r.detectionAP)")
        // rejecting >= 95% of 3 background boxes needs all three: just above 0.5; it accepts 3 of 4 objects
        let t = r.threshold95!
        #expect(t.minScore > 0.5 && t.minScore < 0.5000001 && t.objects == 0.75 && t.loose == 1)
        // poor boxes are not counted as false detections: AP is unchanged without them
        let noPoor = rows.filter { $0.2 != .poor }
        let s2 = BoxLogits(logits: Tensor(shape: [noPoor.count, 2], data: noPoor.flatMap(\.0)), labels: noPoor.map(\.1), kinds: noPoor.map(\.2))
        #expect(ScoreReport(s2, minScore: 0.6).detectionAP == r.detectionAP)
        #expect(ScoreReport(s2, minScore: 0.6).kinds[.poor] == nil)
    }
}
