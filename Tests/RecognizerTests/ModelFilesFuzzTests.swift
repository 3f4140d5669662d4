// A model directory's model.json and BPE vocabulary, fuzzed (the weights are fuzzed in
// SafeTensorsMutationTests). Every mutation kind has one outcome: the directory loads, or
// the error names the file (and the key) at fault; random byte damage is either.
import Foundation
import FuzzSupport
import Testing
@testable import Recognizer

@Suite("fuzz: model.json and the BPE vocabulary")
struct ModelFilesFuzzTests {
    nonisolated(unsafe) static let baseJSON: [String: Any] = {
        let data = FileManager.default.contents(atPath: Fixtures.path("model_tiny/model.json"))!
        return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
    }()

    enum Outcome {
        case loads
        case refused(String)  // the error starts "<dir>/model.json: " and contains this
        case refusedNaming(String)  // the error contains this (a file of the directory)
        case either
    }

    /// The keys the loader reads, with a value of the wrong type and the message fragment.
    nonisolated(unsafe) static let wrongTypes: [([String], Any, String)] = [
        (["variant"], 7, "variant: expected a string"),
        (["files"], ["sam.safetensors"], "files: expected an object"),
        (["files", "sam"], 1, "files.sam: expected a file name"),
        (["files", "sam"], "", "files.sam: expected a file name"),
        (["files", "weights"], "x.safetensors", "files.weights: unknown role"),
        (["sam"], "vit-b", "sam: expected an object"),
        (["sam", "decoder"], 8, "sam.decoder: expected an object"),
        (["sam", "decoder", "num_heads"], "8", "sam.decoder.num_heads: expected a positive integer"),
        (["sam", "decoder", "num_heads"], 0, "sam.decoder.num_heads: expected a positive integer"),
        (["clip", "vision_heads"], -2, "clip.vision_heads: expected a positive integer"),
        (["clip", "text_heads"], 1.5, "clip.text_heads: expected a positive integer"),
        (["clip", "text_heads"], true, "clip.text_heads: expected a positive integer"),
        (["head", "num_heads"], 1e300, "head.num_heads: expected a positive integer"),
        (["head", "num_heads"], NSNull(), "head.num_heads: expected a positive integer"),
        (["head"], [1, 2], "head: expected an object"),
        (["clip_input_size"], "64", "clip_input_size: expected a positive integer"),
        (["allow_extra_tensors"], "yes", "allow_extra_tensors: expected true or false"),
        (["acceptance"], 0.5, "acceptance: not an object"),
        (["acceptance", "min_score"], true, "acceptance.min_score: must be a number in 0...1"),
        (["acceptance", "min_score"], 2, "acceptance.min_score: must be a number in 0...1"),
        (["acceptance", "background"], "sky", "acceptance.background: must be a list"),
        (["acceptance", "tresh"], 0.1, "acceptance.tresh: unknown key"),
        (["head", "activation"], "gelu", "head.activation: 'gelu' is not supported"),
        (["clip", "layer_norm_eps"], "1e-5", "clip.layer_norm_eps: 1e-5 is not supported"),
        (["head", "norm_first"], 0, "head.norm_first: expected true or false"),
    ]

    static func set(_ obj: inout [String: Any], _ path: ArraySlice<String>, _ value: Any) {
        guard let k = path.first else { return }
        if path.count == 1 { obj[k] = value; return }
        var sub = obj[k] as? [String: Any] ?? [:]
        set(&sub, path.dropFirst(), value)
        obj[k] = sub
    }

    /// Case `i`: model.json's bytes (nil: no model.json), what was done, its outcome.
    static func mutation(_ i: Int, _ dice: inout Dice) -> ([UInt8]?, String, Outcome) {
        var obj = baseJSON
        func bytes() -> [UInt8] { Array(try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) }
        switch i % 6 {
        case 0, 1:
            let (path, value, fragment) = dice.pick(wrongTypes)
            set(&obj, path[...], value)
            return (bytes(), "\(path.joined(separator: ".")) = \(value)", .refused(fragment))
        case 2:  // head counts that are positive integers but do not split the weights' widths
            let (path, file) = dice.pick([(["head", "num_heads"], "head.safetensors"), (["clip", "vision_heads"], "clip.safetensors"),
                                          (["clip", "text_heads"], "clip.safetensors"), (["sam", "decoder", "num_heads"], "sam.safetensors")])
            let n = dice.pick([3, 5, 7, 48, 4096])
            set(&obj, path[...], n)
            return (bytes(), "\(path.joined(separator: ".")) = \(n)", .refusedNaming("\(file)"))
        case 3:  // roles pointed elsewhere
            let role = dice.pick(["sam", "clip", "head"])
            let name = dice.pick(["missing.safetensors", "../model_tiny/\(role).safetensors", "model.json", "bpe_simple_vocab_16e6.txt.gz"])
            set(&obj, ["files", role], name)
            if name.hasPrefix("../") { return (bytes(), "files.\(role) = \(name)", .loads) }
            if name == "missing.safetensors" && role == "head" { return (bytes(), "files.head = \(name)", .loads) }  // no head: clip-crop only
            return (bytes(), "files.\(role) = \(name)", .refusedNaming(name))
        case 4:  // keys the loader does not read (informational) and no model.json at all
            if dice.int(3) == 0 { return (nil, "no model.json", .loads) }
            set(&obj, [dice.pick(["clip", "sam", "head"]), "note_\(dice.int(100))"], dice.int(2) == 0 ? "x" : 1)
            obj["version"] = dice.int(5)
            return (bytes(), "extra informational keys", .loads)
        default:
            var b = bytes()
            let what = ByteMutation.random(&b, &dice)
            return (b, what, .either)
        }
    }

    /// A scratch model directory: links to the tiny model's files, model.json replaced.
    static func directory(_ json: [UInt8]?, in root: String, case i: Int) throws -> String {
        let dir = "\(root)/model_tiny"
        let fm = FileManager.default
        try? fm.removeItem(atPath: dir)
        try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for f in ["sam.safetensors", "clip.safetensors", "head.safetensors", "bpe_simple_vocab_16e6.txt.gz"] {
            try fm.createSymbolicLink(atPath: "\(dir)/\(f)", withDestinationPath: URL(fileURLWithPath: Fixtures.path("model_tiny/\(f)")).resolvingSymlinksInPath().path)
        }
        if let json { fm.createFile(atPath: "\(dir)/model.json", contents: Data(json)) }
        return dir
    }

    @Test("model.json: each mutation kind gives its one outcome, the directory loaded case by case (seeded; REGIONSPOTD_FUZZ_SCALE multiplies the count)")
    func modelJSON() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-model-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let seed: UInt64 = 1229
        var dice = Dice(s: seed)
        var counts = (loaded: 0, refused: 0)
        for i in 0..<FuzzScale.count(72) {
            let (json, what, outcome) = Self.mutation(i, &dice)
            let dir = try Self.directory(json, in: root, case: i)
            let tag = "seed \(seed) case \(i) (\(what))"
            let result = withDeadline(30) { Result { () throws(RecognizerError) -> ModelDirectory in try ModelDirectory(path: dir) } }
            guard let result else { Issue.record("\(tag): no answer in 30 s"); continue }
            switch (outcome, result) {
            case (.loads, .success), (.either, .success):
                counts.loaded += 1
            case let (.refused(fragment), .failure(e)):
                counts.refused += 1
                #expect(e.description.hasPrefix("\(dir)/model.json: ") && e.description.contains(fragment), "\(tag): \(e)")
            case let (.refusedNaming(name), .failure(e)):
                counts.refused += 1
                #expect(e.description.contains(dir) && e.description.contains(name), "\(tag): \(e)")
            case let (.either, .failure(e)):
                counts.refused += 1
                #expect(e.description.hasPrefix("\(dir)/") || e.description.hasPrefix("model directory \(dir)"), "\(tag): \(e)")
            case let (_, .failure(e)):
                Issue.record("\(tag): refused (\(e)), expected \(outcome)")
            case (_, .success):
                Issue.record("\(tag): loaded, expected \(outcome)")
            }
        }
        fuzzReport("model.json: \(FuzzScale.count(72)) directories, \(counts.loaded) loaded, \(counts.refused) refused naming the file")
        #expect(counts.loaded >= FuzzScale.count(12) && counts.refused >= FuzzScale.count(40), "\(counts)")
    }

    /// The merges file's lines (header first), as the loader reads them.
    static let mergeLines: [Substring] = {
        let gz = FileManager.default.contents(atPath: Fixtures.path("bpe_simple_vocab_16e6.txt.gz"))!
        let text = String(decoding: try! gunzip(gz, path: "fixture"), as: UTF8.self)
        return text.split(separator: "\n", omittingEmptySubsequences: false)
    }()

    /// Case `i` of the BPE file: its bytes, what was done, and the one outcome.
    static func bpeMutation(_ i: Int, _ dice: inout Dice) throws -> ([UInt8], String, Outcome) {
        var lines = Array(mergeLines.prefix(clipMergeCount + 1 + dice.int(3)))
        func compressed() throws -> [UInt8] { try PNGWriter.deflate(Array(lines.joined(separator: "\n").utf8)) }
        switch i % 6 {
        case 5:  // anything after the merges CLIP uses is not read
            lines = Array(mergeLines.prefix(clipMergeCount + 1)) + ["", "not a merge at all", "\u{0}\u{1}", "a b c"]
            return (try compressed(), "garbage after line \(clipMergeCount + 1)", .loads)
        case 0:  // a merge line that is not "left right"
            let n = 1 + dice.int(clipMergeCount)
            lines[n] = dice.pick(["", "a", "a b c", " a", "a  b", "ab "])[...]
            return (try compressed(), "line \(n + 1) = \(lines[n].debugDescription)", .refused("line \(n + 1) is not a merge \"left right\""))
        case 1:  // too few lines
            let keep = dice.int(clipMergeCount)
            lines = Array(lines.prefix(keep))
            return (try compressed(), "\(keep) lines", .refused("\(keep) lines, expected a header and \(clipMergeCount) merges"))
        case 2:  // a merge of tokens that do not exist
            let n = 1 + dice.int(clipMergeCount)
            lines[n] = "q\u{1F600}zz \(dice.int(1000))x"
            return (try compressed(), "line \(n + 1) unknown tokens", .refused("merge #\(n - 1) "))
        case 3:  // damage to the compressed bytes
            var b = try compressed()
            let what = ByteMutation.random(&b, &dice, keep: 2)
            return (b, "compressed: \(what)", .either)
        default:  // damage to the text
            var t = Array(lines.joined(separator: "\n").utf8)
            let what = ByteMutation.random(&t, &dice)
            return (try PNGWriter.deflate(t), "text: \(what)", .either)
        }
    }

    @Test("BPE vocabulary: each mutation kind gives its one outcome, loaded case by case (seeded; REGIONSPOTD_FUZZ_SCALE multiplies the count)")
    func bpe() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-bpe-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let path = root + "/bpe_simple_vocab_16e6.txt.gz"
        let seed: UInt64 = 49408
        var dice = Dice(s: seed)
        var counts = (loaded: 0, refused: 0)
        for i in 0..<FuzzScale.count(18) {
            let (bytes, what, outcome) = try Self.bpeMutation(i, &dice)
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            let tag = "seed \(seed) case \(i) (\(what))"
            let result = withDeadline(30) { () -> Result<[Int], any Error> in
                Result { let t = try CLIPTokenizer(bpeGzPath: path); return t.encode("a photo of a traffic light") }
            }
            guard let result else { Issue.record("\(tag): no answer in 30 s"); continue }
            switch (outcome, result) {
            case let (.either, .success(ids)), let (.loads, .success(ids)):
                counts.loaded += 1
                #expect(ids.first == CLIPTokenizer.startToken && ids.allSatisfy { $0 >= 0 && $0 < 49408 }, "\(tag): \(ids.prefix(12))")
            case let (.refused(fragment), .failure(e)):
                counts.refused += 1
                #expect("\(e)".contains(path) && "\(e)".contains(fragment), "\(tag): \(e)")
            case let (.either, .failure(e)):
                counts.refused += 1
                #expect("\(e)".contains(path), "\(tag): \(e)")
            case let (_, r):
                Issue.record("\(tag): \(r), expected \(outcome)")
            }
        }
        fuzzReport("BPE vocabulary: \(FuzzScale.count(18)) files, \(counts.loaded) loaded, \(counts.refused) refused naming the file")
        #expect(counts.refused >= FuzzScale.count(9) && counts.loaded >= FuzzScale.count(3), "\(counts)")
    }
}

@Suite("fuzz regressions: model.json")
struct ModelFilesFuzzRegressionTests {
    /// Found by ModelFilesFuzzTests (seed 1229): zero heads divided by zero in RegionSpotHead
    /// (a crash at load); a head count that does not split CLIP's width loaded and crashed
    /// or miscomputed in the first forward pass.
    @Test("head counts of zero, or that do not split the width, are errors naming the key or the weights", arguments: [
        ("model-head-zero-heads.json", "model.json: head.num_heads: expected a positive integer, found 0"),
        ("model-clip-three-heads.json", "clip.safetensors: visual.transformer.resblocks: width 128 does not split into 3 heads"),
    ])
    func heads(fixture: String, message: String) throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-reg-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let json = try #require(FileManager.default.contents(atPath: Fixtures.path("fuzz/\(fixture)")))
        let dir = try ModelFilesFuzzTests.directory(Array(json), in: root, case: 0)
        let e = try #require(throws: RecognizerError.self) { try ModelDirectory(path: dir) }
        #expect(e.description.contains(message), "\(e)")
    }
}
