import Foundation
import Testing
@testable import Recognizer

/// The RegionSpot head vs torch.nn.TransformerDecoder, and the whole path (SAM + CLIP +
/// vocabulary + head) vs the reference pieces assembled as RegionSpot's predictor does
/// (tools/fixturegen/e2e.py, tools/REGIONSPOT_FACTS.md).
@Suite("RegionSpot head and end-to-end parity")
struct HeadParityTests {
    @Test("head: to_clip, 3 post-norm decoder layers, norm, projector, scaled cosine logits")
    func head() throws {
        let head = try RegionSpotHead(weights: RegionSpotHead.weights([try Fixtures.open("head_a.safetensors")]))
        #expect(head.config == RegionSpotHeadConfig(tokenDim: 32, width: 128, layers: 3, heads: 8, ffn: 256, embedDim: 32))
        let io = try Fixtures.open("head_a_io.safetensors")
        let fm = try io.tensor("feature_map")
        let proj = head.embed(regionTokens: try io.tensor("region_tokens"), featureMap: fm.reshaped([fm.shape[1], fm.shape[2]]))
        expectClose(proj, try io.tensor("projected"), 1e-4, "projected")
        expectClose(proj.l2Normalized(eps: 1e-7), try io.tensor("region_embeddings"), 1e-4, "region_embeddings")
        let logits = regionLogits(embeddings: proj, classEmbeddings: try io.tensor("text_embeddings"), logitScale: 4.605170249938965)
        expectClose(logits, try io.tensor("logits"), 1e-4, "logits")
    }

    /// A model directory assembled from the committed fixture files.
    static func tinyModelDirectory() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (src, dst) in [("sam_a", "sam"), ("clip_a", "clip"), ("head_a", "head")] {
            try FileManager.default.createSymbolicLink(atPath: "\(dir)/\(dst).safetensors", withDestinationPath: Fixtures.path("\(src).safetensors"))
        }
        try FileManager.default.createSymbolicLink(atPath: dir + "/bpe_simple_vocab_16e6.txt.gz", withDestinationPath: Fixtures.path("bpe_simple_vocab_16e6.txt.gz"))
        return dir
    }

    @Test("image + boxes + vocabulary -> the reference's region tokens, logits, scores and labels")
    func endToEnd() throws {
        let dir = try Self.tinyModelDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try ModelDirectory(path: dir)
        let io = try Fixtures.open("e2e_io.safetensors")
        let names = try JSONDecoder().decode([String].self, from: Data(io.metadata["class_names"]!.utf8))
        let vocab = try Vocabulary(parsing: names.joined(separator: ","))
        #expect(vocab.names.map { $0[0] } == ["person", "car", "traffic light", "dog", "bicycle"])
        let cache = dir + "/cache"
        let emb = try VocabularyEmbedder.embed(vocab, text: model.text, tokenizer: try model.tokenizer(), textWeightsHash: model.text.weightsHash, cacheDirectory: cache)
        #expect(!emb.fromCache)
        expectClose(emb.embeddings, try io.tensor("vocab_text_embeddings"), 1e-4, "vocabulary embeddings")
        // the second load comes from the cache, identical
        let again = try VocabularyEmbedder.embed(vocab, text: model.text, tokenizer: try model.tokenizer(), textWeightsHash: model.text.weightsHash, cacheDirectory: cache)
        #expect(again.fromCache && again.embeddings == emb.embeddings)

        let rec = try RegionRecognizer(model: model, kind: .regionspot, vocabulary: emb)
        let img = try io.tensor("image")
        let features = rec.features(rgb: try io.bytes("image"), width: img.shape[1], height: img.shape[0])
        let fm = try io.tensor("feature_map")
        expectClose(try #require(features.clipFeatureMap), fm.reshaped([fm.shape[1], fm.shape[2]]), 1e-4, "e2e feature map")
        let b = try io.tensor("boxes")
        let boxes = (0..<b.shape[0]).map { Array(b.data[($0 * 4)..<($0 * 4 + 4)]) }
        let regions = rec.recognize(features, boxes: boxes, topK: 3)
        expectClose(Tensor(shape: [boxes.count, 32], data: regions.flatMap(\.regionToken)), try io.tensor("region_tokens"), 1e-4, "e2e region tokens")
        expectClose(Tensor(shape: [boxes.count, 32], data: regions.flatMap(\.embedding)), try io.tensor("region_embeddings"), 1e-4, "e2e region embeddings")
        expectClose(Tensor(shape: [boxes.count, 5], data: regions.flatMap(\.scores)), try io.tensor("scores"), 1e-4, "e2e scores")
        let labels = try JSONDecoder().decode([String].self, from: Data(io.metadata["label_names"]!.utf8))
        #expect(regions.map(\.label) == labels)
        #expect(regions.allSatisfy { $0.top.count == 3 && $0.top[0].score >= $0.top[1].score && $0.recognizer == .regionspot })
    }

    @Test("vocabulary parsing: synonyms, files, suffixes, errors")
    func vocabulary() throws {
        let v = try Vocabulary(parsing: "person, car|automobile ,\n dog-stuff # pets\n")
        #expect(v.labels == ["person", "car", "dog-stuff"])
        #expect(v.names == [["person"], ["car", "automobile"], ["dog"]])
        #expect(v.prompts(1).count == 162 && v.prompts(1)[1] == "a photo of a car." && v.prompts(1)[82] == "a photo of a automobile.")
        #expect(Vocabulary.templates.count == 81)
        #expect(throws: RecognizerError("vocabulary: no class names given")) { try Vocabulary(parsing: " , ") }
        #expect(throws: RecognizerError("vocabulary: 'a' is listed twice")) { try Vocabulary(parsing: "a,b,a") }
        #expect(throws: RecognizerError("vocabulary file /nonexistent.txt: cannot be read")) { try Vocabulary.load("@/nonexistent.txt") }
    }

    @Test("a model directory whose head does not fit its encoders is refused with the reason")
    func mismatchedHead() throws {
        let dir = try Self.tinyModelDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: dir + "/head.safetensors")
        try writeSafeTensors(syntheticHeadWeights(tokenDim: 32, width: 64, layers: 1, ffn: 32, embedDim: 32), to: dir + "/head.safetensors")
        #expect { try ModelDirectory(path: dir) } throws: { ($0 as? RecognizerError)?.description.contains("decoder width 64 does not match CLIP vision width 128") == true }
        try FileManager.default.removeItem(atPath: dir + "/head.safetensors")
        let m = try ModelDirectory(path: dir)
        #expect(m.head == nil && m.variant.contains("clip-crop only"))
        #expect { try RegionRecognizer(model: m, kind: .regionspot, vocabulary: VocabularyEmbeddings(vocabulary: try Vocabulary(parsing: "a"), embeddings: Tensor(zeros: [1, 32]), fromCache: false)) } throws: { ($0 as? RecognizerError)?.description.contains("only the clip-crop recognizer") == true }
        #expect { try ModelDirectory(path: dir + "/nope") } throws: { ($0 as? RecognizerError)?.description.contains("does not exist") == true }
    }
}
