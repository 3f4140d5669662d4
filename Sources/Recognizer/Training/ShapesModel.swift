import Foundation

/// The tiny model directory of the shapes demonstration, assembled from committed test
/// fixtures: SAM config A (sam_a), CLIP A (clip_a) with the shape/colour words' token
/// rows filled from clip_shapes_tokens (clip_a's rows for them are zero, which makes the
/// four class names embed identically), the BPE vocabulary, and optionally a head (e.g.
/// the committed head_shapes.safetensors) with model.json and vocabulary.txt. model.json
/// carries the head's calibrated acceptance threshold, `"acceptance": {"min_score": S}`
/// (the best class's sigmoid), from `minScore` or else from the head's calibration file
/// next to it (head_shapes.json for head_shapes.safetensors): its video calibration
/// (`video_acceptance.min_score`: the model directory plays video) when it has one, else
/// the still-picture one (`acceptance.min_score`).
///
/// model.json also runs CLIP A at `clipInputSize` (224, RegionSpot's and CLIP B/16's size:
/// a 14x14 grid of 16-px patches) rather than its weights' 64 (4x4): on 640x360 video a
/// 56-px shape would be a third of one 160x90-px patch at 64, too little for a head to
/// tell four shapes apart (label accuracy 0.39-0.55 on such scenes).
public enum ShapesModel {
    /// The CLIP input size of the shapes model (model.json clip_input_size).
    public static let clipInputSize = 224

    public static func assemble(fixtures: String, out: String, head: String? = nil, minScore: Double? = nil) throws(RecognizerError) {
        let fm = FileManager.default
        do { try fm.createDirectory(atPath: out, withIntermediateDirectories: true) } catch { throw RecognizerError("\(out): cannot create (\(error.localizedDescription))") }
        func link(_ src: String, _ dst: String) throws(RecognizerError) {
            let s = URL(fileURLWithPath: src).standardizedFileURL.path
            guard fm.fileExists(atPath: s) else { throw RecognizerError("\(s): missing (a fixture of Tests/RecognizerTests/Fixtures)") }
            try? fm.removeItem(atPath: out + "/" + dst)
            do { try fm.createSymbolicLink(atPath: out + "/" + dst, withDestinationPath: s) } catch { throw RecognizerError("\(out)/\(dst): cannot link (\(error.localizedDescription))") }
        }
        try link(fixtures + "/sam_a.safetensors", "sam.safetensors")
        try link(fixtures + "/bpe_simple_vocab_16e6.txt.gz", "bpe_simple_vocab_16e6.txt.gz")
        var settings: [String: Any] = ["clip_input_size": clipInputSize, "variant": "shapes demo base: SAM A + CLIP A (shape word rows) at \(clipInputSize) px"]
        if let head {
            try link(head, "head.safetensors")
            settings["head"] = ["num_heads": 8]
            settings["variant"] = "shapes demo: SAM A + CLIP A (shape word rows) at \(clipInputSize) px + trained head"
            if let s = minScore ?? calibration(head: head, key: "video_acceptance") ?? calibration(head: head) { settings["acceptance"] = ["min_score": s] }
        }
        do {
            try JSONSerialization.data(withJSONObject: settings, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: out + "/model.json"))
            if head != nil { try (ShapesDataset.classes.joined(separator: "\n") + "\n").write(toFile: out + "/vocabulary.txt", atomically: true, encoding: .utf8) }
        } catch { throw RecognizerError("\(out): cannot write model.json (\(error.localizedDescription))") }
        let clip = try SafeTensors(path: fixtures + "/clip_a.safetensors")
        let patch = try SafeTensors(path: fixtures + "/clip_shapes_tokens.safetensors")
        var tensors: [String: Tensor] = [:]
        for name in clip.entries.keys { tensors[name] = try clip.tensor(name) }
        guard var table = tensors["token_embedding.weight"] else { throw RecognizerError("\(clip.name): no token_embedding.weight") }
        let ids = try patch.integers("token_ids"), rows = try patch.tensor("rows")
        let w = table.shape[1]
        guard rows.shape == [ids.count, w] else { throw RecognizerError("\(patch.name): rows \(rows.shape) do not fit token_embedding \(table.shape)") }
        for (r, id) in ids.enumerated() { table.data.replaceSubrange((id * w)..<((id + 1) * w), with: rows.data[(r * w)..<((r + 1) * w)]) }
        tensors["token_embedding.weight"] = table
        do { try writeSafeTensors(tensors, metadata: ["note": "clip_a + clip_shapes_tokens rows"], to: out + "/clip.safetensors") } catch { throw RecognizerError("\(out)/clip.safetensors: cannot write (\(error))") }
    }

    /// `KEY.min_score` of the calibration file beside a head (X.json for X.safetensors), if any:
    /// `acceptance` (still pictures) or `video_acceptance`.
    public static func calibration(head: String, key: String = "acceptance") -> Double? {
        let path = (head.hasSuffix(".safetensors") ? String(head.dropLast(".safetensors".count)) : head) + ".json"
        guard let d = FileManager.default.contents(atPath: path), let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
              let a = o[key] as? [String: Any], let v = a["min_score"] as? NSNumber else { return nil }
        return v.doubleValue
    }
}
