import Foundation
import Testing
@testable import Temporal

/// The fixture written by tools/check_motmetrics.py (PyPI motmetrics 1.4.0).
struct MOTFixture: Decodable {
    struct Sequence: Decodable {
        var truth: [[[Double]]]
        var hypotheses: [[[Double]]]
        var expected: [String: Double]
    }
    var motmetrics: String
    var sequences: [Sequence]

    static func load() throws -> MOTFixture {
        guard let url = Bundle.module.url(forResource: "motmetrics_expected", withExtension: "json",
                                          subdirectory: "Fixtures") else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Fixtures/motmetrics_expected.json"])
        }
        return try JSONDecoder().decode(MOTFixture.self, from: Data(contentsOf: url))
    }
}

@Suite struct MOTMetricsTests {
    @Test func agreesWithMotmetrics() throws {
        let fixture = try MOTFixture.load()
        #expect(fixture.motmetrics == "1.4.0")
        #expect(fixture.sequences.count >= 3)
        for (n, seq) in fixture.sequences.enumerated() {
            var acc = MOTAccumulator()
            for (tf, hf) in zip(seq.truth, seq.hypotheses) {
                var d = [Double](repeating: .nan, count: tf.count * hf.count)
                for (i, o) in tf.enumerated() {
                    for (j, h) in hf.enumerated() {
                        d[i * hf.count + j] = MOTAccumulator.iouDistance((o[1], o[2], o[3], o[4]), (h[1], h[2], h[3], h[4]))
                    }
                }
                acc.update(objectIDs: tf.map { Int($0[0]) }, hypothesisIDs: hf.map { Int($0[0]) }, distances: d)
            }
            let s = acc.summary()
            let e = seq.expected
            let counts: [(String, Int)] = [
                ("num_frames", s.numFrames), ("num_objects", s.numObjects), ("num_predictions", s.numPredictions),
                ("num_matches", s.numMatches), ("num_switches", s.numSwitches),
                ("num_false_positives", s.numFalsePositives), ("num_misses", s.numMisses), ("idtp", s.idtp),
            ]
            for (k, v) in counts { #expect(Double(v) == e[k], "sequence \(n) \(k)") }
            let ratios: [(String, Double)] = [("mota", s.mota), ("motp", s.motp), ("idf1", s.idf1),
                                              ("idp", s.idp), ("idr", s.idr)]
            for (k, v) in ratios { #expect(abs(v - (e[k] ?? .nan)) < 1e-9, "sequence \(n) \(k): \(v) vs \(e[k] ?? .nan)") }
        }
    }

    @Test func perfectTrackingScoresOne() {
        var acc = MOTAccumulator()
        for f in 0..<10 {
            let b = Box(x1: Float(f), y1: 0, x2: Float(f) + 10, y2: 10)
            acc.update(objects: [(1, b)], hypotheses: [(7, b)])
        }
        let s = acc.summary()
        #expect(s.mota == 1 && s.idf1 == 1 && s.numSwitches == 0 && s.motp == 0)
    }
}
