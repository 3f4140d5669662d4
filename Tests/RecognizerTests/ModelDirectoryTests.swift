import Foundation
import Testing
@testable import Recognizer

/// ModelDirectory refuses what it cannot honour: model.json settings this build does not
/// implement, and weight files holding tensors the models do not read.
@Suite("model directory: settings and tensors")
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
        #expect(m.settings.headHeads == 8 && m.settings.samDecoderHeads == 8 && !m.settings.allowExtraTensors)
        // the same values written out by hand are accepted too
        let dir = try Self.tinyCopy {
            $0["head"] = ["activation": "relu", "norm_first": false, "layer_norm_eps": 0.00001, "num_heads": 8]
            $0["clip"] = ["activation": "quick_gelu", "layer_norm_eps": 1e-5]
            $0["clip_input_size"] = 64
        }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(Self.loadError(dir) == nil)
    }

    @Test("clip_input_size runs CLIP at that size (position embedding resized as RegionSpot does); not a patch multiple is an error")
    func clipInputSize() throws {
        let dir = try Self.tinyCopy { $0["clip_input_size"] = 96 }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let m = try ModelDirectory(path: dir)
        #expect(m.clipInputSize == 96 && m.vision.config.imageSize == 64)
        #expect(m.summary.contains("run at 96x96 (clip_input_size)"))
        // the recognizer's feature map is CLIP's at 96 (a 6x6 grid), which CLIPParityTests
        // holds against open_clip at 96; the native model's is the 4x4 grid
        let io = try Fixtures.open("clip_a_io.safetensors")
        let img = try io.tensor("image"), rgb = try io.bytes("image")
        let vocab = VocabularyEmbeddings(vocabulary: try Vocabulary(parsing: "a"), embeddings: Tensor(zeros: [1, 32]), fromCache: false)
        let f96 = try RegionRecognizer(model: m, kind: .regionspot, vocabulary: vocab).features(rgb: rgb, width: img.shape[1], height: img.shape[0])
        expectClose(try #require(f96.clipFeatureMap), try io.tensor("feature_map_96"), 1e-4, "feature_map_96")
        let native = try ModelDirectory(path: Fixtures.path("model_tiny"))
        #expect(native.clipInputSize == 64)
        #expect(try RegionRecognizer(model: native, kind: .regionspot, vocabulary: vocab).features(rgb: rgb, width: img.shape[1], height: img.shape[0]).clipFeatureMap?.shape == [17, 128])
        let odd = try Self.tinyCopy { $0["clip_input_size"] = 100 }
        defer { try? FileManager.default.removeItem(atPath: odd) }
        #expect(Self.loadError(odd) == "\(odd)/model.json: clip_input_size: 100 is not a multiple of CLIP's 16-pixel patches up to 2048 (the weights take 64x64 pictures: visual.positional_embedding is a 4x4 grid)")
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

    /// `fixture` with `extra` added, written to `path` (metadata kept).
    static func withExtra(_ fixture: String, _ extra: [String: Tensor], prefix: String = "", to path: String) throws {
        let st = try Fixtures.open(fixture)
        var t: [String: Tensor] = [:]
        for n in st.names { t[prefix + n] = try st.tensor(n) }
        for (n, v) in extra { t[n] = v }
        try writeSafeTensors(t, metadata: st.metadata, to: path)
    }

    @Test("a tensor the models do not read is an error naming the file and tensor, unless allow_extra_tensors")
    func extraTensors() throws {
        let dir = try Self.tinyCopy()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: dir + "/sam.safetensors")
        try Self.withExtra("sam_a.safetensors", ["roi_heads.box_predictor.cls_score.weight": Tensor(zeros: [2, 3]),
                                                 "image_encoder.blocks.7.norm1.weight": Tensor(zeros: [64])], to: dir + "/sam.safetensors")
        #expect(Self.loadError(dir) == "\(dir)/sam.safetensors: unexpected tensor 'image_encoder.blocks.7.norm1.weight' and 1 more: not part of the model as this build reads it (a checkpoint of another architecture or variant?); \"allow_extra_tensors\": true in \(dir)/model.json loads it anyway")
        var obj = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/model.json"))) as? [String: Any])
        obj["allow_extra_tensors"] = true
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: dir + "/model.json"))
        let m = try ModelDirectory(path: dir)
        #expect(m.settings.allowExtraTensors && m.sam.config.depth == 3)
        obj["allow_extra_tensors"] = 1
        try JSONSerialization.data(withJSONObject: obj).write(to: URL(fileURLWithPath: dir + "/model.json"))
        #expect(Self.loadError(dir) == "\(dir)/model.json: allow_extra_tensors: expected true or false, found 1")
    }

    @Test("a head with tensors of another decoder is refused; the report lists what the models left unread")
    func extraHeadTensor() throws {
        let dir = try Self.tinyCopy()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.removeItem(atPath: dir + "/head.safetensors")
        try Self.withExtra("head_a.safetensors", ["decoder.layers.0.norm4.weight": Tensor(zeros: [128])], to: dir + "/head.safetensors")
        #expect(Self.loadError(dir)?.hasPrefix("\(dir)/head.safetensors: unexpected tensor 'decoder.layers.0.norm4.weight': not part of") == true)
        let w = RegionSpotHead.weights([try SafeTensors(path: dir + "/head.safetensors")])
        _ = try RegionSpotHead(weights: w)
        #expect(WeightSource.unexpectedTensors([w]).map(\.tensor) == ["decoder.layers.0.norm4.weight"])
    }

    @Test("one checkpoint holding SAM, CLIP and the head loads: reads are counted across the models sharing a file")
    func sharedFile() throws {
        let dir = try Self.tinyCopy { $0["files"] = ["sam": "all.safetensors", "clip": "all.safetensors", "head": "all.safetensors"] }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var t: [String: Tensor] = [:]
        for (fixture, prefix) in [("sam_a", "sam."), ("clip_a", "clip_model."), ("head_a", "")] {
            let st = try Fixtures.open(fixture + ".safetensors")
            for n in st.names { t[prefix + n] = try st.tensor(n) }
        }
        try writeSafeTensors(t, metadata: try Fixtures.open("sam_a.safetensors").metadata, to: dir + "/all.safetensors")
        let m = try ModelDirectory(path: dir)
        #expect(m.head != nil && m.sam.config.embedDim == 64 && m.vision.config.width == 128)
        t["clip_model.visual.extra"] = Tensor(zeros: [1])
        try writeSafeTensors(t, metadata: try Fixtures.open("sam_a.safetensors").metadata, to: dir + "/all.safetensors")
        #expect(Self.loadError(dir)?.hasPrefix("\(dir)/all.safetensors: unexpected tensor 'clip_model.visual.extra': ") == true)
    }

    @Test("known tensors the models do not need (SAM's mask-prompt layers, HF's tied copy) are no surprise")
    func knownUnused() throws {
        for (sam, clip) in [("sam_a", "clip_a"), ("sam_a_hf", "clip_a_hf"), ("sam_b", "clip_a")] {
            let s = try Fixtures.open(sam + ".safetensors")
            #expect(s.names.contains { $0.hasPrefix("prompt_encoder.mask_downscaling.") || $0.hasPrefix("prompt_encoder.mask_embed.") })
            let sw = SAMConfig.weights([s]), cw = WeightSource.clip([try Fixtures.open(clip + ".safetensors")])
            _ = try SAM(weights: sw); _ = try CLIPVision(weights: cw); _ = try CLIPText(weights: cw)
            #expect(WeightSource.unexpectedTensors([sw, cw]).isEmpty, "\(sam) + \(clip)")
        }
    }
}
