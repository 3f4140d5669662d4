import Foundation
import Testing
@testable import Recognizer

@Suite("clip-crop recognizer")
struct ClipCropTests {
    @Test("each box's crop goes through CLIP's image tower; labels say clip-crop")
    func clipCrop() throws {
        let dir = try HeadParityTests.tinyModelDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try ModelDirectory(path: dir)
        let io = try Fixtures.open("e2e_io.safetensors")
        let vocab = try Vocabulary(parsing: "person,car,traffic light,dog,bicycle")
        let emb = try VocabularyEmbedder.embed(vocab, text: model.text, tokenizer: try model.tokenizer(), textWeightsHash: "x", cacheDirectory: nil)
        let rec = try RegionRecognizer(model: model, kind: .clipCrop, vocabulary: emb)
        let img = try io.tensor("image")
        let rgb = try io.bytes("image")
        let (h, w) = (img.shape[0], img.shape[1])
        let f = rec.features(rgb: rgb, width: w, height: h)
        #expect(f.clipFeatureMap == nil)
        let boxes: [[Float]] = [[10, 20, 140, 180], [250.5, 150.2, 299, 199]]
        let regions = rec.recognize(f, boxes: boxes)
        #expect(regions.allSatisfy { $0.recognizer == .clipCrop })
        // box 0 by hand: crop x 10..<140, y 20..<180, CLIP preprocessing, pooled embedding
        var crop: [UInt8] = []
        for y in 20..<180 { crop += rgb[((y * w + 10) * 3)..<((y * w + 140) * 3)] }
        let e = model.vision(model.vision.preprocess(rgb: crop, width: 130, height: 160)).embedding.reshaped([1, 32]).l2Normalized(eps: 1e-7)
        expectClose(Tensor(shape: [1, 32], data: regions[0].embedding), e, 1e-5, "crop embedding")
        let s = rec.scores(embeddings: e)
        #expect(regions[0].label == vocab.labels[s.data.indices.max { s.data[$0] < s.data[$1] }!])
        // the fractional box rounds outward: x 250..<299, y 150..<199
        #expect(rec.cropForCLIP(f, box: boxes[1]).shape == [3, 64, 64])
    }
}
