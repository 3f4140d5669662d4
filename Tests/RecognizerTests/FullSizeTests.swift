import Foundation
import Testing
@testable import Recognizer

/// Full-size shapes with generated weights. The SAM ViT-B encoder costs ~1 TFLOP (5-40 s
/// here), so it runs only with REGIONSPOTD_SLOW_TESTS=1.
@Suite("full-size models")
struct FullSizeTests {
    @Test("SAM ViT-B at 1024: embedding [64*64, 256], finite; 3 boxes give 256-d tokens",
          .enabled(if: ProcessInfo.processInfo.environment["REGIONSPOTD_SLOW_TESTS"] == "1"))
    func samViTB() throws {
        let sam = try SAM(weights: SAMConfig.weights([try SafeTensors(name: "vit-b", tensors: SAMConfig.vitB.syntheticWeights())]))
        #expect(sam.config == SAMConfig.vitB)
        #expect(sam.config.variant == "ViT-B")
        let rgb = (0..<(640 * 480 * 3)).map { UInt8(truncatingIfNeeded: $0 * 31) }
        let input = sam.preprocess(rgb: rgb, width: 640, height: 480)
        #expect(input.resizedSize.height == 768 && input.resizedSize.width == 1024)
        let emb = sam.encode(input)
        #expect(emb.shape == [4096, 256])
        #expect(emb.data.allSatisfy { $0.isFinite })
        let r = sam.decode(embedding: emb, input: input, boxes: [[0, 0, 100, 100], [300, 200, 640, 480], [10, 400, 200, 479]], masks: true)
        let masks = r.lowResMasks
        #expect(r.regionTokens.shape == [3, 256] && r.regionTokens.data.allSatisfy { $0.isFinite })
        #expect(masks?.shape == [3, 256, 256])
    }

    @Test("CLIP ViT-B/16 and the RegionSpot-BB head at real widths (shapes, finiteness)")
    func clipAndHead() throws {
        let clip = WeightSource.clip([try SafeTensors(name: "clip-b16", tensors: syntheticCLIPWeights(vision: .b16, text: .b))])
        let vision = try CLIPVision(weights: clip)
        #expect(vision.config == CLIPVisionConfig.b16 && vision.config.variant == "ViT-B/16")
        let out = vision(Tensor(shape: [3, 224, 224], data: (0..<(3 * 224 * 224)).map { Float($0 % 97) / 97 - 0.5 }))
        #expect(out.featureMap.shape == [197, 768] && out.embedding.shape == [512])
        let head = try RegionSpotHead(weights: RegionSpotHead.weights([try SafeTensors(name: "head", tensors: syntheticHeadWeights(width: 768, embedDim: 512))]))
        #expect(head.config == RegionSpotHeadConfig(tokenDim: 256, width: 768, layers: 3, heads: 8, ffn: 2048, embedDim: 512))
        let e = head.embed(regionTokens: Tensor(shape: [5, 256], data: (0..<1280).map { Float($0 % 13) / 13 }), featureMap: out.featureMap)
        #expect(e.shape == [5, 512] && e.data.allSatisfy { $0.isFinite })
        let text = try CLIPText(weights: clip)
        #expect(text.config == CLIPTextConfig.b)
    }
}

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
