import Foundation
import Testing
@testable import Recognizer

/// ModelDirectory refuses model.json settings this build does not implement.
@Suite("model directory: settings")
struct ModelDirectoryTests {
    /// A copy of Fixtures/model_tiny (links to the fixture weights, model.json as written by
    /// tools/convert_checkpoint.py) with `edit` applied to model.json.
    static func tinyCopy(_ edit: (inout [String: Any]) -> Void = { _ in }) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("model-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for (src, dst) in [("sam_a", "sam"), ("clip_a", "clip"), ("head_a", "head")] {
            try FileManager.default.createSymbolicLink(atPath: "\(dir)/\(dst).safetensors", withDestinationPath: Fixtures.path("\(src).safetensors"))
        }
        try FileManager.default.createSymbolicLink(atPath: dir + "/bpe_simple_vocab_16e6.txt.gz", withDestinationPath: Fixtures.path("bpe_simple_vocab_16e6.txt.gz"))
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("model_tiny/model.json")))
        var obj = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&obj)
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: dir + "/model.json"))
        return dir
    }

    static func loadError(_ dir: String) -> String? {
        do { _ = try ModelDirectory(path: dir); return nil } catch { return error.description }
    }

    @Test("the converted tiny model loads with every supported setting it states")
    func supported() throws {
        let m = try ModelDirectory(path: Fixtures.path("model_tiny"))
        #expect(m.settings.clipInputSize == 64 && m.vision.config.imageSize == 64)
        #expect(m.settings.headHeads == 8 && m.settings.samDecoderHeads == 8)
        // the same values written out by hand are accepted too
        let dir = try Self.tinyCopy {
            $0["head"] = ["activation": "relu", "norm_first": false, "layer_norm_eps": 0.00001, "num_heads": 8]
            $0["clip"] = ["activation": "quick_gelu", "layer_norm_eps": 1e-5]
            $0["clip_input_size"] = 64
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(Self.loadError(dir) == nil)
    }

    @Test("clip_input_size must be the CLIP weights' input size")
    func clipInputSize() throws {
        let dir = try Self.tinyCopy { $0["clip_input_size"] = 224 }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(Self.loadError(dir) == "\(dir)/model.json: clip_input_size: 224 does not match the CLIP weights, which take 64x64 images (visual.positional_embedding: a 4x4 grid of 16-pixel patches); this build runs CLIP at its weights' input size only")
        let bad = try Self.tinyCopy { $0["clip_input_size"] = "64" }
        defer { try? FileManager.default.removeItem(atPath: bad) }
        #expect(Self.loadError(bad) == "\(bad)/model.json: clip_input_size: expected a positive integer, found 64")
    }

    @Test("an unsupported activation, pre-norm layers or another LayerNorm eps is an error naming the key", arguments: [
        ("head", "activation", #""gelu""#, "head.activation: 'gelu' is not supported; this build implements relu only"),
        ("head", "norm_first", "true", "head.norm_first: true (pre-norm layers) is not supported; this build implements post-norm layers (norm_first false) only"),
        ("head", "norm_first", #""no""#, "head.norm_first: expected true or false, found no"),
        ("head", "layer_norm_eps", "1e-6", "head.layer_norm_eps: 1e-06 is not supported; this build implements 1e-05 only"),
        ("clip", "activation", #""gelu""#, "clip.activation: 'gelu' is not supported; this build implements quick_gelu only"),
        ("clip", "layer_norm_eps", "1e-6", "clip.layer_norm_eps: 1e-06 is not supported; this build implements 1e-05 only"),
    ])
    func unsupported(section: String, key: String, json: String, message: String) throws {
        let value = try JSONSerialization.jsonObject(with: Data(json.utf8), options: .fragmentsAllowed)
        let dir = try Self.tinyCopy { obj in
            var s = obj[section] as? [String: Any] ?? [:]
            s[key] = value
            obj[section] = s
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(Self.loadError(dir) == "\(dir)/model.json: \(message)")
    }
}
