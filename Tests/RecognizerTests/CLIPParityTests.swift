import Foundation
import Testing
@testable import Recognizer

/// Swift CLIP vs open_clip 3.3.0 (OpenAI-style, QuickGELU) and transformers' CLIPModel on
/// the committed fixtures (random weights; vision 64px/16, width 128; text width 64).
@Suite("CLIP parity")
struct CLIPParityTests {
    @Test("vision feature map, pooled embedding and text embeddings (OpenAI names)")
    func openAI() throws {
        let w = WeightSource.clip([try Fixtures.open("clip_a.safetensors")])
        let io = try Fixtures.open("clip_a_io.safetensors")
        let vision = try CLIPVision(weights: w)
        #expect(vision.config == CLIPVisionConfig(imageSize: 64, patchSize: 16, width: 128, layers: 2, heads: 2, embedDim: 32))
        let img = try io.tensor("image")
        let pixels = vision.preprocess(rgb: try io.bytes("image"), width: img.shape[1], height: img.shape[0])
        expectClose(pixels, try io.tensor("pixel_values"), 1e-5, "pixel_values")
        let out = vision(pixels)
        expectClose(out.featureMap, try io.tensor("feature_map"), 1e-4, "feature_map")
        expectClose(out.embedding, try io.tensor("image_embedding"), 1e-4, "image_embedding")

        // another input size: position embedding resized bicubically
        let p96 = vision.preprocess(rgb: try io.bytes("image"), width: img.shape[1], height: img.shape[0], size: 96)
        expectClose(p96, try io.tensor("pixel_values_96"), 1e-5, "pixel_values_96")
        expectClose(vision.positions(grid: 6), try io.tensor("pos_embed_96"), 1e-4, "pos_embed_96")
        let o96 = vision(p96)
        expectClose(o96.featureMap, try io.tensor("feature_map_96"), 1e-4, "feature_map_96")
        expectClose(o96.embedding, try io.tensor("image_embedding_96"), 1e-4, "image_embedding_96")

        let text = try CLIPText(weights: w)
        #expect(abs(text.logitScale - 4.6051702) < 1e-5)
        let tokens = try io.integers("text_tokens")
        let seqs = (0..<(tokens.count / 77)).map { Array(tokens[($0 * 77)..<(($0 + 1) * 77)]) }
        let emb = try text(seqs)
        expectClose(emb, try io.tensor("text_embeddings"), 1e-4, "text_embeddings")
        // truncation to the longest prompt changes nothing: one prompt at a time
        let single = try text([seqs[1]])
        expectClose(single, try io.tensor("text_embeddings").slice(1, 2), 1e-4, "single short prompt")
    }

    @Test("Hugging Face CLIPModel names load and give the same outputs")
    func huggingFace() throws {
        let w = WeightSource.clip([try Fixtures.open("clip_a_hf.safetensors")])
        let io = try Fixtures.open("clip_a_io.safetensors")
        let vision = try CLIPVision(weights: w)
        let out = vision(try io.tensor("pixel_values").reshaped([3, 64, 64]))
        expectClose(out.featureMap, try io.tensor("hf_feature_map"), 1e-4, "hf feature_map")
        expectClose(out.embedding, try io.tensor("hf_image_embedding"), 1e-4, "hf image_embedding")
        let text = try CLIPText(weights: w)
        let tokens = try io.integers("text_tokens")
        let emb = try text((0..<(tokens.count / 77)).map { Array(tokens[($0 * 77)..<(($0 + 1) * 77)]) })
        expectClose(emb, try io.tensor("hf_text_embeddings"), 1e-4, "hf text_embeddings")
    }
}

@Suite("SAM weight names")
struct SAMNameTests {
    @Test("the Hugging Face rules reproduce transformers' names for every official tensor")
    func rules() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("sam_hf_names.json")))
        let obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let map = try #require(obj["official_to_hf"] as? [String: String])
        #expect(map.count > 100)
        for (official, hf) in map {  // names without a rule are the same in both
            #expect((samHuggingFaceRules.rewrite(official) ?? official) == hf, "\(official)")
        }
    }

    @Test("SAM in Hugging Face naming loads and matches the official outputs")
    func huggingFaceSAM() throws {
        let sam = try SAM(weights: SAMConfig.weights([try Fixtures.open("sam_a_hf.safetensors")]))
        let official = try SAM(path: Fixtures.path("sam_a.safetensors"))
        #expect(sam.config == official.config)
        let io = try Fixtures.open("sam_a_io.safetensors")
        let img = try io.tensor("image")
        let input = sam.preprocess(rgb: try io.bytes("image"), width: img.shape[1], height: img.shape[0])
        let emb = sam.encode(input)
        let boxes = try io.tensor("boxes")
        let b = (0..<boxes.shape[0]).map { Array(boxes.data[($0 * 4)..<($0 * 4 + 4)]) }
        let r = sam.decode(embedding: emb, input: input, boxes: b, masks: true)
        expectClose(r.regionTokens, try io.tensor("region_tokens"), 1e-4, "hf region tokens")
        // masks and IoU go through the hypernetwork MLPs and the IoU head, whose HF names
        // (proj_in, layers.0, proj_out) reuse the official `layers.0` for another layer
        let o = official.decode(embedding: official.encode(input), input: input, boxes: b, masks: true)
        expectClose(try #require(r.lowResMasks), try #require(o.lowResMasks), 1e-5, "hf masks")
        expectClose(Tensor(shape: [r.iou.count], data: r.iou), Tensor(shape: [o.iou.count], data: o.iou), 1e-5, "hf IoU predictions")
    }

    @Test("dimensions are inferred from shapes: the fixture configurations")
    func inferred() throws {
        let a = try SAM(path: Fixtures.path("sam_a.safetensors")).config
        #expect(a.imageSize == 256 && a.embedDim == 64 && a.depth == 3 && a.heads == 4 && a.windowSize == 5 && a.globalBlocks == [2])
        #expect(a.promptDim == 32 && a.decoderHeads == 8 && a.decoderMLP == 64 && a.iouHidden == 32)
        let b = try SAM(path: Fixtures.path("sam_b.safetensors")).config
        #expect(b.imageSize == 192 && b.depth == 4 && b.heads == 2 && b.windowSize == 4 && b.globalBlocks == [1, 3] && b.decoderHeads == 8 && b.promptDim == 48)
    }

    @Test("a missing or misshaped tensor is named")
    func corrupt() throws {
        let st = try Fixtures.open("sam_b.safetensors")
        var tensors: [String: Tensor] = [:]
        for n in st.names where n != "mask_decoder.iou_token.weight" { tensors[n] = try st.tensor(n) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sam-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try writeSafeTensors(tensors, metadata: st.metadata, to: dir.path + "/m.safetensors")
        #expect { try SAM(path: dir.path + "/m.safetensors") } throws: { ($0 as? RecognizerError)?.description.contains("missing tensor 'mask_decoder.iou_token.weight'") == true }
        tensors["mask_decoder.iou_token.weight"] = Tensor(zeros: [1, 7])
        try writeSafeTensors(tensors, metadata: st.metadata, to: dir.path + "/m2.safetensors")
        #expect { try SAM(path: dir.path + "/m2.safetensors") } throws: { ($0 as? RecognizerError)?.description.contains("'mask_decoder.iou_token.weight' has shape [1, 7]") == true }
    }
}
