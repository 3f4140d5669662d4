// `regionspotd eval-video` end to end: the built binary on a make-shapes clip with the
// demo's tiny model; every reported count is recomputed from the JSONL it wrote and the
// truth file, and the JSONL must equal what `replay` writes for the same inputs.
import Foundation
import Testing

enum EvalVideoFixture {
    static let fixtures = Repo.root.appendingPathComponent("Tests/RecognizerTests/Fixtures").path
    static let vocab = "red square,blue circle,green triangle,yellow star"

    /// make-shapes into `dir/shapes` (video/video.mp4 + video.json) and the demo model into `dir/model`.
    static func make(_ dir: TempDir, _ extra: [String]) throws {
        let bin = try #require(Repo.binary, "regionspotd not built")
        let r = try Child.run(bin, ["make-shapes", "--out", dir.file("shapes"), "--count", "1", "--seed", "7",
                                    "--tiny-model", dir.file("model"), "--fixtures", fixtures,
                                    "--tiny-head", fixtures + "/head_shapes.safetensors"] + extra, dir: dir, timeout: 180)
        try #require(r.status == 0, "make-shapes: \(r.stderr)")
    }

    static func run(_ args: [String], dir: TempDir) throws -> (status: Int32?, stdout: String, stderr: String) {
        let bin = try #require(Repo.binary, "regionspotd not built")
        return try Child.run(bin, args, env: ["XDG_CACHE_HOME": dir.file("cache")], dir: dir, timeout: 300)
    }

    static func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }
}

@Suite("eval-video", .serialized)
struct EvalVideoTests {
    /// Runs eval-video --json --out on the clip in `dir/shapes/video` and checks the report
    /// against the JSONL and the truth; returns the score object.
    @discardableResult
    func consistent(_ dir: TempDir, extra: [String] = []) throws -> [String: Any] {
        let video = dir.file("shapes/video/video.mp4"), truthPath = dir.file("shapes/video/video.json")
        let out = dir.file("eval.jsonl")
        let r = try EvalVideoFixture.run(["eval-video", video, "--truth", truthPath, "--config", Repo.root.appendingPathComponent("demo/regionspotd.yaml").path,
                                          "--weights", dir.file("model"), "--json", "--out", out] + extra, dir: dir)
        try #require(r.status == 0, "eval-video: \(r.stderr)")
        let report = try EvalVideoFixture.json(r.stdout)
        let s = try #require(report["score"] as? [String: Any])
        func int(_ k: String) -> Int { (s[k] as? NSNumber)?.intValue ?? -1 }
        func dbl(_ k: String) -> Double { (s[k] as? NSNumber)?.doubleValue ?? .nan }

        // What was published, from the JSONL.
        let messages = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map { try EvalVideoFixture.json(String($0)) }
        let regionsMessages = messages.filter { $0["regions"] != nil }
        let regions = regionsMessages.flatMap { $0["regions"] as! [[String: Any]] }
        // The truth, from video.json.
        let truth = try EvalVideoFixture.json(String(contentsOfFile: truthPath, encoding: .utf8))
        let frames = try #require(truth["frames"] as? [[String: Any]])
        var cared = 0, dontCare = 0
        for f in frames {
            let vis = (f["visibility"] as? [Double]) ?? [Double](repeating: 1, count: (f["boxes"] as! [Any]).count)
            cared += vis.filter { $0 >= 0.3 }.count
            dontCare += vis.filter { $0 < 0.3 }.count
        }

        #expect(int("frames_scored") == frames.count && regionsMessages.count == frames.count)
        #expect(int("published_regions") == regions.count)
        #expect(abs(dbl("regions_per_frame") - Double(regions.count) / Double(frames.count)) < 1e-12)
        #expect(int("truth_objects") == cared && int("dont_care_objects") == dontCare)
        #expect(abs(dbl("truth_per_frame") - Double(cared) / Double(frames.count)) < 1e-12)
        #expect(int("true_positives") + int("misses") == cared)
        #expect(int("true_positives") + int("false_positives") == int("predictions"))
        #expect(int("predictions") + int("regions_on_dont_care") == regions.count)
        #expect(int("unique_hypothesis_ids") == Set(regions.map { ($0["track_id"] as! NSNumber).intValue }).count)
        #expect(int("unique_truth_objects") == Set(frames.flatMap { $0["tracks"] as! [Int] }).count)
        #expect(abs(dbl("precision") - Double(int("true_positives")) / Double(int("predictions"))) < 1e-12)
        #expect(abs(dbl("recall") - Double(int("true_positives")) / Double(cared)) < 1e-12)
        #expect(abs(dbl("mota") - (1 - Double(int("misses") + int("false_positives") + int("id_switches")) / Double(cared))) < 1e-12)
        #expect(int("label_pairs") == int("true_positives"))
        #expect(abs(dbl("label_accuracy") - Double(int("label_correct")) / Double(int("label_pairs"))) < 1e-12)
        #expect(abs(dbl("mean_iou") + dbl("motp") - 1) < 1e-12)
        #expect(int("true_positives") > 0, "the demo model finds some shapes: \(s)")

        // Exactly what replay runs: the same messages, byte for byte.
        let replayOut = dir.file("replay.jsonl")
        let rp = try EvalVideoFixture.run(["replay", video, "--config", Repo.root.appendingPathComponent("demo/regionspotd.yaml").path,
                                           "--weights", dir.file("model"), "--quiet", "--out", replayOut] + extra, dir: dir)
        try #require(rp.status == 0, "replay: \(rp.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: replayOut)) == Data(contentsOf: URL(fileURLWithPath: out)))
        return s
    }

    @Test("make-shapes clip: counts agree with the JSONL and the truth; JSONL identical to replay's")
    func shapesClip() throws {
        let dir = TempDir()
        defer { dir.remove() }
        try EvalVideoFixture.make(dir, ["--video-frames", "40"])
        try consistent(dir)
    }

    @Test("crossing scene (320x240, 3 shapes at a time): counts agree, don't-care objects counted apart, JSONL identical to replay's")
    func crossingScene() throws {
        let dir = TempDir()
        defer { dir.remove() }
        try EvalVideoFixture.make(dir, ["--video-frames", "60", "--video-scene", "crossing", "--video-width", "320", "--video-height", "240",
                                        "--video-objects", "3", "--video-seed", "1003"])
        let s = try consistent(dir)
        #expect((s["dont_care_objects"] as? Int ?? 0) > 0, "shapes entering and leaving are partly visible: \(s)")

        // The same truth as MOTChallenge gt.txt (1-based xywh, class k = k-th name, conf 0
        // for the barely visible) gives the same numbers.
        let truth = try EvalVideoFixture.json(String(contentsOfFile: dir.file("shapes/video/video.json"), encoding: .utf8))
        let names = EvalVideoFixture.vocab.split(separator: ",").map(String.init)
        var rows: [String] = []
        for f in truth["frames"] as! [[String: Any]] {
            let boxes = f["boxes"] as! [[Double]], labels = f["labels"] as! [String], tracks = f["tracks"] as! [Int]
            let vis = f["visibility"] as! [Double]
            for k in boxes.indices {
                let b = boxes[k]
                rows.append("\((f["index"] as! Int) + 1),\(tracks[k]),\(b[0] + 1),\(b[1] + 1),\(b[2] - b[0]),\(b[3] - b[1]),"
                            + "\(vis[k] < 0.3 ? 0 : 1),\(names.firstIndex(of: labels[k])! + 1),\(vis[k])")
            }
        }
        let gt = dir.write("gt.txt", rows.joined(separator: "\n") + "\n")
        let r = try EvalVideoFixture.run(["eval-video", dir.file("shapes/video/video.mp4"), "--truth", gt, "--class-names", EvalVideoFixture.vocab,
                                          "--config", Repo.root.appendingPathComponent("demo/regionspotd.yaml").path,
                                          "--weights", dir.file("model"), "--json"], dir: dir)
        try #require(r.status == 0, "eval-video gt.txt: \(r.stderr)")
        let report = try EvalVideoFixture.json(r.stdout)
        #expect(report["truth_format"] as? String == "MOT gt.txt")
        let mot = try #require(report["score"] as? [String: Any])
        #expect(NSDictionary(dictionary: mot).isEqual(to: s), "gt.txt \(mot)\nvideo.json \(s)")
    }

    @Test("the text table names every metric; a bad truth file is an error naming file and line (exit 65)")
    func tableAndErrors() throws {
        let dir = TempDir()
        defer { dir.remove() }
        try EvalVideoFixture.make(dir, ["--video-frames", "12"])
        let video = dir.file("shapes/video/video.mp4")
        let base = ["eval-video", video, "--weights", dir.file("model"), "--vocab", EvalVideoFixture.vocab]
        let r = try EvalVideoFixture.run(base + ["--truth", dir.file("shapes/video/video.json")], dir: dir)
        try #require(r.status == 0, "\(r.stderr)")
        for k in ["frames scored", "precision", "recall", "MOTA", "MOTP", "IDF1", "ID switches", "track ids / objects",
                  "label accuracy", "regions / frame"] {
            #expect(r.stdout.contains(k), "\(k) missing in\n\(r.stdout)")
        }
        #expect(r.stdout.contains("frames scored        12"))

        let gt = dir.write("gt.txt", "1,1,10,10,20,20,1,1,1\n2,1,12,10,20,20,1,1\n2,2,10,10,-3,20,1,1,1\n")
        let bad = try EvalVideoFixture.run(base + ["--truth", gt], dir: dir)
        #expect(bad.status == 65)
        #expect(bad.stderr.contains("\(gt):3: box width and height must be positive"), "\(bad.stderr)")

        let json = dir.write("video.json", "{\"frames\": [\n  {\"index\": 0, \"boxes\": [[1, 2, 3, 4]], \"labels\": [\"a\"], \"tracks\": [1]},\n"
                             + "  {\"index\": 1, \"boxes\": [[1, 2, 3]], \"labels\": [\"a\"], \"tracks\": [1]}\n]}\n")
        let badJSON = try EvalVideoFixture.run(base + ["--truth", json], dir: dir)
        #expect(badJSON.status == 65)
        #expect(badJSON.stderr.contains("\(json):3: frames[1]: box 0 must be [x1, y1, x2, y2]"), "\(badJSON.stderr)")
    }
}
