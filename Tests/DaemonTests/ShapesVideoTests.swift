import Decode
import Foundation
import Recognizer
import Testing

/// The committed shapes head on a synthetic clip, end to end: `make-shapes --video-frames`
/// encodes moving shapes to H.264 (ffmpeg CLI), Decode reads the frames back, and the
/// RegionSpot recognizer labels the ground-truth boxes of every track.
@Suite("Shapes video with the trained head")
struct ShapesVideoTests {
    @Test("every track of the decoded clip gets its class as the majority label; >= 85% of boxes right (47/48 here)")
    func labelsTracks() throws {
        let binary = try #require(Repo.binary, "regionspotd not built")
        let dir = TempDir()
        defer { dir.remove() }
        let fixtures = Repo.root.appendingPathComponent("Tests/RecognizerTests/Fixtures").path
        let model = dir.file("model")
        let m = try Child.run(binary, ["make-shapes", "--out", dir.file("shapes"), "--count", "1", "--seed", "12", "--video-frames", "24",
                                       "--tiny-model", model, "--fixtures", fixtures, "--tiny-head", fixtures + "/head_shapes.safetensors"], dir: dir, timeout: 120)
        try #require(m.status == 0, "make-shapes: \(m.stderr)")
        let meta = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.file("shapes/video/video.json")))) as? [String: Any])
        let frames = try #require(meta["frames"] as? [[String: Any]])
        #expect(frames.count == 24)
        let md = try ModelDirectory(path: model)
        let vocab = try Vocabulary.load("@" + model + "/vocabulary.txt")
        let emb = try VocabularyEmbedder.embed(vocab, text: md.text, tokenizer: try md.tokenizer(), textWeightsHash: md.text.weightsHash, cacheDirectory: nil)
        let rec = try RegionRecognizer(model: md, kind: .regionspot, vocabulary: emb)
        let source = try VideoSource(url: dir.file("shapes/video/video.mp4"), options: SourceOptions(decoderThreads: 1))
        let converter = FrameConverter()
        var i = 0, right = 0, total = 0
        var votes: [Int: [String: Int]] = [:], truth: [Int: String] = [:]
        while let frame = try source.nextFrame() {
            let rgb = try converter.rgb(frame, .native)
            let f = frames[i]
            let boxes = (f["boxes"] as! [[Double]]).map { $0.map(Float.init) }, labels = f["labels"] as! [String], tracks = f["tracks"] as! [Int]
            let regions = rec.recognize(rec.features(rgb: rgb.bytes, width: rgb.width, height: rgb.height), boxes: boxes)
            for (k, r) in regions.enumerated() {
                total += 1
                if r.label == labels[k] { right += 1 }
                votes[tracks[k], default: [:]][r.label, default: 0] += 1
                truth[tracks[k]] = labels[k]
            }
            i += 1
        }
        #expect(i == 24 && total == 48)
        #expect(Double(right) / Double(total) >= 0.85, "\(right)/\(total) boxes labelled right")
        for (t, v) in votes { #expect(v.max { $0.value < $1.value }?.key == truth[t], "track \(t) (\(truth[t] ?? "?")): \(v)") }
    }
}
