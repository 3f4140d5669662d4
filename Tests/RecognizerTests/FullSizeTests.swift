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
