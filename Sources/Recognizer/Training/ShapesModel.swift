import Foundation

/// The tiny model directory of the shapes demonstration, assembled from committed test
/// fixtures: SAM config A (sam_a), CLIP A (clip_a) with the shape/colour words' token
/// rows filled from clip_shapes_tokens (clip_a's rows for them are zero, which makes the
/// four class names embed identically), the BPE vocabulary, and optionally a head (e.g.
/// the committed head_shapes.safetensors) with model.json and vocabulary.txt.
public enum ShapesModel {
    public static func assemble(fixtures: String, out: String, head: String? = nil) throws(RecognizerError) {
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
        if let head {
            try link(head, "head.safetensors")
            let json = #"{"head_heads": 8, "variant": "shapes demo: SAM A + CLIP A (shape word rows) + trained head"}"#
            do {
                try (json + "\n").write(toFile: out + "/model.json", atomically: true, encoding: .utf8)
                try (ShapesDataset.classes.joined(separator: "\n") + "\n").write(toFile: out + "/vocabulary.txt", atomically: true, encoding: .utf8)
            } catch { throw RecognizerError("\(out): cannot write model.json (\(error.localizedDescription))") }
        }
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
}
