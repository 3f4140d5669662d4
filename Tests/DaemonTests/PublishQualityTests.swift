// What a subscriber receives, scored against ground truth: the real pipeline (replay's,
// through eval-video) on a held-out crossing scene and on the demo clip, with the demo's
// configuration and model. Floors sit a little under what docs/quality.md measured, so a
// change that publishes false regions again, splits tracks or loses objects fails here.
import Foundation
import Testing

@Suite("Published quality against ground truth", .serialized)
struct PublishQualityTests {
    struct Floors {
        var precision: Double, recall: Double, idf1: Double, labelAccuracy: Double
        /// Published regions per frame over truth objects per frame, at most.
        var regionsPerTruth: Double
        /// Track ids over truth objects, at most.
        var idsPerObject: Double
    }

    func score(_ extra: [String]) throws -> [String: Double] {
        let dir = TempDir()
        defer { dir.remove() }
        try EvalVideoFixture.make(dir, extra)
        let r = try EvalVideoFixture.run(["eval-video", dir.file("shapes/video/video.mp4"), "--truth", dir.file("shapes/video/video.json"),
                                          "--config", Repo.root.appendingPathComponent("demo/regionspotd.yaml").path,
                                          "--weights", dir.file("model"), "--json", "--quiet"], dir: dir)
        try #require(r.status == 0, "eval-video: \(r.stderr)")
        let s = try #require(try EvalVideoFixture.json(r.stdout)["score"] as? [String: Any])
        return s.compactMapValues { ($0 as? NSNumber)?.doubleValue }
    }

    func check(_ s: [String: Double], _ f: Floors) {
        let ids = (s["unique_hypothesis_ids"] ?? .nan) / (s["unique_truth_objects"] ?? .nan)
        #expect(s["precision"] ?? 0 >= f.precision, "precision \(s["precision"] ?? .nan)")
        #expect(s["recall"] ?? 0 >= f.recall, "recall \(s["recall"] ?? .nan)")
        #expect(s["idf1"] ?? 0 >= f.idf1, "IDF1 \(s["idf1"] ?? .nan)")
        #expect(s["label_accuracy"] ?? 0 >= f.labelAccuracy, "label accuracy \(s["label_accuracy"] ?? .nan)")
        #expect(s["regions_per_truth"] ?? .infinity <= f.regionsPerTruth, "regions per truth \(s["regions_per_truth"] ?? .nan)")
        #expect(ids <= f.idsPerObject, "track ids per object \(ids)")
    }

    @Test("held-out crossing scene (seed 1001, 640x360, 3 shapes at a time, objects entering and leaving)")
    func crossingScene() throws {
        let s = try score(["--video-frames", "180", "--video-scene", "crossing", "--video-width", "640", "--video-height", "360",
                           "--video-objects", "3", "--video-seed", "1001"])
        check(s, Floors(precision: 0.90, recall: 0.83, idf1: 0.85, labelAccuracy: 0.85, regionsPerTruth: 1.2, idsPerObject: 1.5))
    }

    @Test("the demo clip (two shapes gliding in bands)")
    func demoClip() throws {
        let s = try score(["--video-frames", "200"])
        check(s, Floors(precision: 0.97, recall: 0.90, idf1: 0.94, labelAccuracy: 0.95, regionsPerTruth: 1.2, idsPerObject: 1.5))
    }
}
