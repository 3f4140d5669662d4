import Foundation

/// A RegionSpot model directory (written by tools/convert_checkpoint.py):
///   sam.safetensors   SAM (official or Hugging Face names)
///   clip.safetensors  CLIP (OpenAI or Hugging Face names)
///   head.safetensors  the RegionSpot integration module (absent: clip-crop only)
///   bpe_simple_vocab_16e6.txt.gz, or vocab.json + merges.txt   the BPE tokenizer
///   model.json        optional: variant name and settings not visible in shapes
///                     ({"sam_decoder_heads": 8, "clip_vision_heads": 12, "clip_text_heads": 8,
///                       "head_heads": 8, "variant": "RegionSpot-BB"})
public struct ModelDirectory: Sendable {
    public let path: String
    public let sam: SAM
    public let vision: CLIPVision
    public let text: CLIPText
    public let head: RegionSpotHead?
    public let settings: [String: Any & Sendable]

    public var samPath: String { path + "/sam.safetensors" }

    public init(path: String) throws(RecognizerError) {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else {
            throw RecognizerError("model directory \(path): does not exist")
        }
        var settings: [String: Any & Sendable] = [:]
        let jsonPath = path + "/model.json"
        if FileManager.default.fileExists(atPath: jsonPath) {
            guard let d = FileManager.default.contents(atPath: jsonPath),
                  let obj = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else {
                throw RecognizerError("\(jsonPath): not a JSON object")
            }
            for (k, v) in obj {
                if let i = v as? Int { settings[k] = i } else if let s = v as? String { settings[k] = s } else if let f = v as? Double { settings[k] = f }
            }
        }
        self.settings = settings
        func file(_ name: String) throws(RecognizerError) -> SafeTensors {
            let p = "\(path)/\(name)"
            guard FileManager.default.fileExists(atPath: p) else { throw RecognizerError("model directory \(path): missing \(name)") }
            return try SafeTensors(path: p)
        }
        sam = try SAM(weights: SAMConfig.weights([try file("sam.safetensors")]), decoderHeads: settings["sam_decoder_heads"] as? Int)
        let clip = WeightSource.clip([try file("clip.safetensors")])
        vision = try CLIPVision(weights: clip, heads: settings["clip_vision_heads"] as? Int)
        text = try CLIPText(weights: clip, heads: settings["clip_text_heads"] as? Int)
        if FileManager.default.fileExists(atPath: path + "/head.safetensors") {
            let h = try RegionSpotHead(weights: RegionSpotHead.weights([try file("head.safetensors")]), heads: settings["head_heads"] as? Int ?? 8)
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
    }

    /// Where the tokenizer files are (OpenAI .gz or HF vocab.json + merges.txt).
    public var tokenizerFiles: (bpeGz: String?, vocabJSON: String?, merges: String?) {
        let fm = FileManager.default
        let gz = path + "/bpe_simple_vocab_16e6.txt.gz"
        if fm.fileExists(atPath: gz) { return (gz, nil, nil) }
        let v = path + "/vocab.json", m = path + "/merges.txt"
        if fm.fileExists(atPath: v) && fm.fileExists(atPath: m) { return (nil, v, m) }
        return (nil, nil, nil)
    }

    /// "RegionSpot-BB" etc. when the parts match a released variant.
    public var variant: String {
        if let v = settings["variant"] as? String { return v }
        let s = sam.config.variant, c = vision.config.variant
        switch (s, c, head != nil) {
        case ("ViT-B", "ViT-B/16", true): return "RegionSpot-BB"
        case ("ViT-B", "ViT-L/14", true): return "RegionSpot-BL"
        case ("ViT-B", "ViT-L/14@336", true): return "RegionSpot-BL@336"
        default: return "SAM \(s) + CLIP \(c)" + (head != nil ? " + RegionSpot head" : " (no head: clip-crop only)")
        }
    }

    /// A human-readable inventory (`regionspotd models info`).
    public var summary: String {
        var lines = ["model directory: \(path)", "variant: \(variant)"]
        let sc = sam.config
        lines.append("SAM: \(sc.variant), image \(sc.imageSize), dim \(sc.embedDim), depth \(sc.depth), heads \(sc.heads), window \(sc.windowSize), global blocks \(sc.globalBlocks), token dim \(sc.promptDim)")
        let vc = vision.config
        lines.append("CLIP vision: \(vc.variant), width \(vc.width), layers \(vc.layers), heads \(vc.heads), embed \(vc.embedDim)")
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
