import Foundation

/// A RegionSpot model directory (written by tools/convert_checkpoint.py):
///   sam.safetensors   SAM (official or Hugging Face names)
///   clip.safetensors  CLIP (OpenAI or Hugging Face names)
///   head.safetensors  the RegionSpot integration module (absent: clip-crop only)
///   bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt   the BPE tokenizer
///   model.json        optional (tools/convert_checkpoint.py writes it): the variant name,
///                     file names, and the head counts that shapes do not show:
///                     {"variant": ..., "files": {"sam": ..., "clip": ..., "head": ..., "bpe": ...},
///                      "sam": {"decoder": {"num_heads": 8}}, "clip": {"vision_heads": 12,
///                      "text_heads": 8}, "head": {"num_heads": 8}}
///                     Settings this build cannot honour are errors naming the key, never
///                     ignored: head.activation (relu), head.norm_first (false), head.layer_norm_eps
///                     (1e-5), clip.activation (quick_gelu), clip.layer_norm_eps (1e-5).
///                     "clip_input_size": S runs CLIP on S x S pictures (a multiple of
///                     its patch size), its position embedding resized bicubically as
///                     RegionSpot's build_model resizes it (default: the weights' own size).
///                     "allow_extra_tensors": true loads weight files holding tensors the
///                     models do not read (an error otherwise).
///                     "acceptance": region acceptance calibrated for the model
///                     (AcceptanceSettings); "precision_checks": bf16/int8 verdicts on
///                     these weights, written by `regionspotd models check` (PrecisionCheck).
public struct ModelSettings: Sendable, Equatable {
    public var variant: String?
    public var files: [String: String] = [:]
    public var samDecoderHeads: Int?
    public var clipVisionHeads: Int?
    public var clipTextHeads: Int?
    public var headHeads: Int?
    /// The CLIP input size the head was trained with (RegionSpot's clip_input_size).
    public var clipInputSize: Int?
    /// Whether weight files may hold tensors the models do not read.
    public var allowExtraTensors = false
    /// Region acceptance calibrated for this model (model.json "acceptance").
    public var acceptance = AcceptanceSettings()
    /// Accuracy checks of bf16 and int8 on these weights (model.json "precision_checks",
    /// written by `regionspotd models check`): what `models.precision: auto` may pick.
    public var precisionChecks: [Precision: PrecisionCheck.Record] = [:]

    /// The settings of `obj` (model.json at `path`); unsupported values are errors.
    init(json obj: [String: Any], path: String) throws(RecognizerError) {
        func fail(_ key: String, _ why: String) -> RecognizerError { RecognizerError("\(path): \(key): \(why)") }
        // A value of the wrong type is an error naming its key, never read as "absent".
        func section(_ v: Any?, _ key: String) throws(RecognizerError) -> [String: Any]? {
            guard let v else { return nil }
            guard let d = v as? [String: Any] else { throw fail(key, "expected an object, found \(v)") }
            return d
        }
        func heads(_ v: Any?, _ key: String) throws(RecognizerError) -> Int? {
            guard let v else { return nil }
            guard let n = Self.integer(v), n > 0, n <= 4096 else { throw fail(key, "expected a positive integer, found \(v)") }
            return n
        }
        if let v = obj["variant"] {
            guard let s = v as? String else { throw fail("variant", "expected a string, found \(v)") }
            variant = s
        }
        if let v = obj["files"] {
            guard let f = v as? [String: Any] else { throw fail("files", "expected an object of role -> file name, found \(v)") }
            for (role, name) in f.sorted(by: { $0.key < $1.key }) {
                guard ["sam", "clip", "head", "bpe", "vocab", "merges"].contains(role) else {
                    throw fail("files.\(role)", "unknown role; allowed: sam, clip, head, bpe, vocab, merges")
                }
                guard let n = name as? String, !n.isEmpty else { throw fail("files.\(role)", "expected a file name, found \(name)") }
                files[role] = n
            }
        }
        let sam = try section(obj["sam"], "sam"), clip = try section(obj["clip"], "clip"), head = try section(obj["head"], "head")
        samDecoderHeads = try heads(try section(sam?["decoder"], "sam.decoder")?["num_heads"], "sam.decoder.num_heads")
        clipVisionHeads = try heads(clip?["vision_heads"], "clip.vision_heads")
        clipTextHeads = try heads(clip?["text_heads"], "clip.text_heads")
        headHeads = try heads(head?["num_heads"], "head.num_heads")
        acceptance = try AcceptanceSettings(json: obj["acceptance"], file: path)
        precisionChecks = try PrecisionCheck.records(obj[PrecisionCheck.key], path: path)

        if let v = obj["clip_input_size"] {
            guard let n = Self.integer(v), n > 0 else { throw fail("clip_input_size", "expected a positive integer, found \(v)") }
            clipInputSize = n
        }
        if let v = obj["allow_extra_tensors"] {
            guard let b = Self.boolean(v) else { throw fail("allow_extra_tensors", "expected true or false, found \(v)") }
            allowExtraTensors = b
        }
        // What the forward passes implement: the RegionSpot head is torch's default
        // TransformerDecoderLayer (post-norm, ReLU, eps 1e-5); CLIP is OpenAI's (QuickGELU).
        for (name, section, activation) in [("head", head, "relu"), ("clip", clip, "quick_gelu")] {
            guard let section else { continue }
            if let v = section["activation"], (v as? String) != activation {
                throw fail("\(name).activation", "'\(v)' is not supported; this build implements \(activation) only")
            }
            if let v = section["layer_norm_eps"] {
                guard let e = Self.number(v), abs(e - 1e-5) <= 1e-12 else {
                    throw fail("\(name).layer_norm_eps", "\(v) is not supported; this build implements 1e-05 only")
                }
            }
            if let v = section["norm_first"] {
                guard let b = Self.boolean(v) else { throw fail("\(name).norm_first", "expected true or false, found \(v)") }
                if b { throw fail("\(name).norm_first", "true (pre-norm layers) is not supported; this build implements post-norm layers (norm_first false) only") }
            }
        }
    }
    init() {}

    // JSONSerialization gives NSNumbers for numbers and booleans alike (and `as? Bool`
    // takes 0 and 1.0): true and false are the boolean NSNumber subclass.
    static let booleanClass = ObjectIdentifier(type(of: NSNumber(value: true)))
    static func boolean(_ v: Any) -> Bool? {
        guard let n = v as? NSNumber, ObjectIdentifier(type(of: n)) == booleanClass else { return nil }
        return n.boolValue
    }
    static func number(_ v: Any) -> Double? {
        guard let n = v as? NSNumber, boolean(v) == nil else { return nil }
        return n.doubleValue
    }
    static func integer(_ v: Any) -> Int? {
        guard let d = number(v), d == d.rounded(), abs(d) < 1e15 else { return nil }
        return Int(d)
    }
}

public struct ModelDirectory: Sendable {
    public let path: String
    public let sam: SAM
    public let vision: CLIPVision
    public let text: CLIPText
    public let head: RegionSpotHead?
    public let settings: ModelSettings
    /// The side of the square picture CLIP sees (model.json clip_input_size, else the
    /// CLIP weights' own input size). [3, S, S] in, feature map [1 + (S/p)^2, W] out.
    public let clipInputSize: Int

    public var samPath: String { path + "/sam.safetensors" }

    /// `precision`: how the encoders' Linear weights are stored and run (the effective one:
    /// see `Precision.effective`).
    public init(path: String, precision: Precision = .fp32) throws(RecognizerError) {
        self.path = path
        let jsonPath = path + "/model.json"
        let settings = try Self.settings(path: path)
        self.settings = settings
        // One SafeTensors per file name: roles may share a file (one checkpoint holding
        // SAM, CLIP and the head), and the extra-tensor check below counts reads per file.
        var opened: [String: SafeTensors] = [:]
        func file(_ role: String) throws(RecognizerError) -> SafeTensors {
            let name = settings.files[role] ?? "\(role).safetensors"
            if let f = opened[name] { return f }
            let p = "\(path)/\(name)"
            guard FileManager.default.fileExists(atPath: p) else { throw RecognizerError("model directory \(path): missing \(name)") }
            let f = try SafeTensors(path: p)
            opened[name] = f
            return f
        }
        var samWeights = SAMConfig.weights([try file("sam")])
        samWeights.precision = precision
        sam = try SAM(weights: samWeights, decoderHeads: settings.samDecoderHeads)
        var clip = WeightSource.clip([try file("clip")])
        clip.precision = precision
        vision = try CLIPVision(weights: clip, heads: settings.clipVisionHeads)
        if precision == .int8 { clip.precision = Precision.besideInt8 }  // the text tower: not int8 (Precision)
        text = try CLIPText(weights: clip, heads: settings.clipTextHeads)
        let p = vision.config.patchSize
        if let size = settings.clipInputSize, size % p != 0 || size > 2048 {
            throw RecognizerError("\(jsonPath): clip_input_size: \(size) is not a multiple of CLIP's \(p)-pixel patches up to 2048 (the weights take \(vision.config.imageSize)x\(vision.config.imageSize) pictures: visual.positional_embedding is a \(vision.config.grid)x\(vision.config.grid) grid)")
        }
        clipInputSize = settings.clipInputSize ?? vision.config.imageSize
        var sources = [samWeights, clip]
        if FileManager.default.fileExists(atPath: path + "/" + (settings.files["head"] ?? "head.safetensors")) {
            let headWeights = RegionSpotHead.weights([try file("head")])
            sources.append(headWeights)
            let h = try RegionSpotHead(weights: headWeights, heads: settings.headHeads ?? 8)
            guard h.config.tokenDim == sam.config.promptDim else {
                throw RecognizerError("\(path)/head.safetensors: to_clip.weight takes \(h.config.tokenDim)-d tokens but SAM's are \(sam.config.promptDim)-d")
            }
            guard h.config.width == vision.config.width else {
                throw RecognizerError("\(path)/head.safetensors: decoder width \(h.config.width) does not match CLIP vision width \(vision.config.width)")
            }
            guard h.config.embedDim == text.config.embedDim else {
                throw RecognizerError("\(path)/head.safetensors: projector.weight gives \(h.config.embedDim)-d embeddings but CLIP's text embeddings are \(text.config.embedDim)-d")
            }
            head = h
        } else {
            head = nil
        }
        if !settings.allowExtraTensors {
            try WeightSource.checkNoUnexpectedTensors(sources, hint: "; \"allow_extra_tensors\": true in \(jsonPath) loads it anyway")
        }
    }

    /// The settings of the model directory at `path` (its model.json; defaults without
    /// one); a path that is not a directory is an error.
    public static func settings(path: String) throws(RecognizerError) -> ModelSettings {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw RecognizerError("model directory \(path): does not exist")
        }
        let jsonPath = path + "/model.json"
        guard FileManager.default.fileExists(atPath: jsonPath) else { return ModelSettings() }
        guard let d = FileManager.default.contents(atPath: jsonPath),
              let obj = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else {
            throw RecognizerError("\(jsonPath): not a JSON object")
        }
        return try ModelSettings(json: obj, path: jsonPath)
    }

    /// Where the tokenizer files are (OpenAI .gz or HF vocab.json + merges.txt).
    public var tokenizerFiles: (bpeGz: String?, vocabJSON: String?, merges: String?) {
        let fm = FileManager.default
        let gz = path + "/" + (settings.files["bpe"] ?? "bpe_simple_vocab_16e6.txt.gz")
        if fm.fileExists(atPath: gz) { return (gz, nil, nil) }
        let v = path + "/" + (settings.files["vocab"] ?? "vocab.json"), m = path + "/" + (settings.files["merges"] ?? "merges.txt")
        if fm.fileExists(atPath: v) && fm.fileExists(atPath: m) { return (nil, v, m) }
        return (nil, nil, nil)
    }

    /// "RegionSpot-BB" etc. when the parts match a released variant.
    public var variant: String {
        let s = sam.config.variant, c = vision.config.variant
        switch (s, c, head != nil) {
        case ("ViT-B", "ViT-B/16", true): return "RegionSpot-BB"
        case ("ViT-B", "ViT-L/14", true): return "RegionSpot-BL"
        case ("ViT-B", "ViT-L/14@336", true): return "RegionSpot-BL@336"
        default: return (settings.variant.map { $0 + ": " } ?? "") + "SAM \(s) + CLIP \(c)" + (head != nil ? " + RegionSpot head" : " (no head: clip-crop only)")
        }
    }

    /// A human-readable inventory (`regionspotd models info`).
    public var summary: String {
        var lines = ["model directory: \(path)", "variant: \(variant)"]
        let sc = sam.config
        lines.append("SAM: \(sc.variant), image \(sc.imageSize), dim \(sc.embedDim), depth \(sc.depth), heads \(sc.heads), window \(sc.windowSize), global blocks \(sc.globalBlocks), token dim \(sc.promptDim)")
        let vc = vision.config
        lines.append("CLIP vision: \(vc.variant), width \(vc.width), layers \(vc.layers), heads \(vc.heads), embed \(vc.embedDim)" + (clipInputSize != vc.imageSize ? ", run at \(clipInputSize)x\(clipInputSize) (clip_input_size)" : ""))
        let tc = text.config
        lines.append("CLIP text: width \(tc.width), layers \(tc.layers), heads \(tc.heads), context \(tc.contextLength), vocab \(tc.vocabSize), logit scale \(String(format: "%.3f", exp(text.logitScale)))")
        if let h = head?.config {
            lines.append("RegionSpot head: tokens \(h.tokenDim) -> width \(h.width), \(h.layers) layers, \(h.heads) heads, FFN \(h.ffn), embed \(h.embedDim)")
        } else {
            lines.append("RegionSpot head: none (recognizer clip-crop only)")
        }
        let t = tokenizerFiles
        lines.append("tokenizer: " + (t.bpeGz ?? t.vocabJSON.map { "\($0) + merges.txt" } ?? "MISSING"))
        return lines.joined(separator: "\n")
    }
}
