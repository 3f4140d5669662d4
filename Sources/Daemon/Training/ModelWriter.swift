import Foundation
import Recognizer

/// Writes a trained model directory: SAM, CLIP and tokenizer files linked (absolute
/// symlinks) from the base, model.json carried over (with the head's heads), the new
/// head.safetensors, vocabulary.txt (the trained categories) and training.csv.
struct ModelWriter {
    let out: String
    let categories: [String]

    init(base: ModelDirectory, out: String, categories: [String], heads: Int) throws {
        self.out = out
        self.categories = categories
        let fm = FileManager.default
        let baseDir = URL(fileURLWithPath: base.path).standardizedFileURL.resolvingSymlinksInPath().path
        let outDir = URL(fileURLWithPath: out).standardizedFileURL.path
        guard baseDir != URL(fileURLWithPath: outDir).resolvingSymlinksInPath().path else { throw RecognizerError("--out \(out) is the base model directory; choose a new directory") }
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        for name in ["sam.safetensors", "clip.safetensors", "bpe_simple_vocab_16e6.txt.gz", "vocab.json", "merges.txt"] {
            let src = baseDir + "/" + name
            guard fm.fileExists(atPath: src) else { continue }
            let target = URL(fileURLWithPath: src).resolvingSymlinksInPath().path
            try? fm.removeItem(atPath: out + "/" + name)
            try fm.createSymbolicLink(atPath: out + "/" + name, withDestinationPath: target)
        }
        var settings: [String: Any] = [:]
        if let d = fm.contents(atPath: baseDir + "/model.json"), let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] { settings = o }
        // The loader reads head.num_heads (a "head_heads" key was written here before and
        // read by nothing).
        var head = settings["head"] as? [String: Any] ?? [:]
        head["num_heads"] = heads
        settings["head"] = head
        settings["head_heads"] = nil
        settings["variant"] = nil
        settings["trained_categories"] = categories.joined(separator: ",")
        try JSONSerialization.data(withJSONObject: settings, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: out + "/model.json"))
        try (categories.joined(separator: "\n") + "\n").write(toFile: out + "/vocabulary.txt", atomically: true, encoding: .utf8)
    }

    func writeHead(_ p: HeadParameters, half: Bool, epoch: Int) throws {
        try p.save(to: out + "/head.safetensors", half: half, metadata: ["format": "regionspot-head-state-dict", "trained_by": "regionspotd train", "epoch": String(epoch), "categories": categories.joined(separator: "\n")])
    }

    func writeCSV(_ csv: String) throws {
        try csv.write(toFile: out + "/training.csv", atomically: true, encoding: .utf8)
    }
}
