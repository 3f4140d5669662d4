// Correct labels, not only well-formed messages: the head trained on site by
// `regionspotd train` (committed as Fixtures/head_shapes.safetensors, held-out top-1 0.96)
// on the frozen tiny encoders, replayed and run on a synthetic video of its shapes with
// ground truth (`regionspotd make-shapes --video-frames`).
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

enum ShapesScene {
    static let vocabulary = "red square, blue circle, green triangle, yellow star"

    /// Model directory + video + truth in `dir`.
    static func make(_ dir: TempDir, binary: String) throws -> (model: String, video: String, truth: [Int: [([Double], String)]]) {
        let fixtures = Repo.root.appendingPathComponent("Tests/RecognizerTests/Fixtures").path
        let r = try Child.run(binary, ["make-shapes", "--out", dir.file("shapes"), "--count", "1", "--fixtures", fixtures,
                                       "--tiny-model", dir.file("model"), "--tiny-head", fixtures + "/head_shapes.safetensors",
                                       "--video-frames", "60"], dir: dir, timeout: 120)
        try #require(r.status == 0, "make-shapes: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("shapes/video/video.json")))) as? [String: Any])
        var truth: [Int: [([Double], String)]] = [:]
        for f in json["frames"] as? [[String: Any]] ?? [] {
            let boxes = (f["boxes"] as? [[Double]]) ?? [], labels = (f["labels"] as? [String]) ?? []
            truth[f["index"] as? Int ?? -1] = Array(zip(boxes, labels))
        }
        return (dir.file("model"), dir.file("shapes/video/video.mp4"), truth)
    }

    static func iou(_ a: [Double], _ b: [Double]) -> Double {
        let ix = max(0, min(a[2], b[2]) - max(a[0], b[0])), iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
        let i = ix * iy, u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
        return u > 0 ? i / u : 0
    }

    /// Regions that cover a true object (IoU >= 0.5): how many carry its label, how many
    /// do not, and which true labels were found at all.
    static func score(_ regionsMessages: [[String: Any]], truth: [Int: [([Double], String)]]) -> (right: Int, wrong: Int, found: Set<String>) {
        var right = 0, wrong = 0
        var found: Set<String> = []
        for m in regionsMessages {
            guard let f = m["frame"] as? Int, let objects = truth[f] else { continue }
            for r in m["regions"] as? [[String: Any]] ?? [] {
                guard let box = r["box"] as? [Double], let label = r["label"] as? String,
                      let best = objects.max(by: { iou($0.0, box) < iou($1.0, box) }), iou(best.0, box) >= 0.5 else { continue }
                if label == best.1 { right += 1; found.insert(label) } else { wrong += 1 }
            }
        }
        return (right, wrong, found)
    }
}

@Suite("labels with the head trained on site")
struct ShapesLabelsTests {
    @Test("replay labels the shapes' tracks correctly")
    func replay() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let scene = try ShapesScene.make(dir, binary: binary)
        let r = try Child.run(binary, ["replay", scene.video, "--weights", scene.model, "--vocab", ShapesScene.vocabulary,
                                       "--out", dir.file("out.jsonl"), "--quiet"], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, timeout: 120)
        #expect(r.status == 0, "\(r.stderr)")
        let lines = try String(contentsOfFile: dir.file("out.jsonl"), encoding: .utf8).split(separator: "\n")
        let regions = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { ($0["schema"] as? String) == "regionspotd/regions/2" }
        let s = ShapesScene.score(regions, truth: scene.truth)
        let shown = Set(scene.truth.values.flatMap { $0.map(\.1) })
        #expect(s.right + s.wrong >= 30, "regions covering the shapes: \(s.right + s.wrong)")
        #expect(Double(s.right) >= 0.8 * Double(s.right + s.wrong), "right \(s.right), wrong \(s.wrong)")
        #expect(s.found == shown, "every shape in the video is recognized as itself at least once: \(s.found) vs \(shown)")
    }

    @Test("run publishes the shapes' correct labels over ZeroMQ")
    func run() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let scene = try ShapesScene.make(dir, binary: binary)
        let port = freePort()
        let cfg = dir.write("c.yaml", """
        models: { directory: \(scene.model) }
        vocabulary: [\(ShapesScene.vocabulary)]
        streams:
          - id: shapes
            url: \(scene.video)
            keyframes: { min_interval: 0.5, max_interval: 1 }
        publisher: { endpoints: [tcp://127.0.0.1:\(port)] }
        """)
        let sub = try PySubscriber(endpoint: "tcp://127.0.0.1:\(port)", dir: dir)
        defer { sub.stop() }
        usleep(300_000)
        let daemon = try Child(binary, ["run", "--config", cfg], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, name: "daemon")
        defer { daemon.stop() }
        // the 6 s file plays in real time, then the stream ends
        #expect(eventually(40) { sub.messages.contains { $0.topic == "status.shapes" && ($0.json["state"] as? String) == "ended" } },
                "stream ended; stderr: \(daemon.stderr.suffix(1500))")
        daemon.signal(SIGTERM)
        #expect(daemon.wait(timeout: 8) == 0)
        let regions = sub.messages.filter { $0.topic == "regions.shapes" }.map(\.json)
        let s = ShapesScene.score(regions, truth: scene.truth)
        #expect(s.right + s.wrong >= 20, "regions covering the shapes: \(s.right + s.wrong)")
        #expect(Double(s.right) >= 0.75 * Double(s.right + s.wrong), "right \(s.right), wrong \(s.wrong)")
        #expect(!s.found.isEmpty)
    }
}
