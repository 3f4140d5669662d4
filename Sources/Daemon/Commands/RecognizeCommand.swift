// `regionspotd recognize IMAGE --weights DIR --vocab "a,b|c" --box x1,y1,x2,y2 ...`: the
// paper's whole inference path on one image, for checking a model directory by hand.
import ArgumentParser
import Decode
import Foundation
import Recognizer

struct RecognizeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "recognize", abstract: "Label boxes on one image with an open vocabulary.")

    @Argument(help: "A JPEG or PNG image.") var image: String
    @Option(help: "Model directory (sam/clip/head safetensors + tokenizer).") var weights: String
    @Option(help: "Class names, comma separated ('a|b' = synonyms of one label), or @file with one per line.") var vocab: String
    @Option(name: .customLong("box"), help: "x1,y1,x2,y2 in image pixels (repeatable).") var boxes: [String] = []
    @Option(help: "regionspot or clip-crop.") var recognizer: String = "regionspot"
    @Option(help: "auto, fp32, bf16 or int8: how the encoders' Linear layers run (auto: int8 where `models check` recorded that it passed on these weights and the CPU has VNNI, else bf16 where the CPU has AVX512_BF16/AMX, else fp32; bf16 falls back to fp32 without them, int8 without AVX512_VNNI/AVX-VNNI).") var precision: Precision = .auto
    @Option(help: "Labels per box to show.") var top: Int = 3
    @Option(help: "Write the masks as a PNG overlay.") var masks: String?
    @Flag(help: "Per-class sigmoid instead of softmax over the vocabulary.") var sigmoid = false
    @Flag(help: "One JSON object.") var json = false

    func run() async throws {
        LibraryLog.installForCommand(threshold: .error)
        let boxList = try boxes.map { s -> [Float] in
            let v = s.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == 4, v[2] > v[0], v[3] > v[1] else { throw ValidationError("--box \(s): expected x1,y1,x2,y2 with x2 > x1 and y2 > y1") }
            return v
        }
        guard !boxList.isEmpty else { throw ValidationError("give at least one --box x1,y1,x2,y2") }
        guard let kind = Recognizer.RecognizerKind(rawValue: recognizer) else { throw ValidationError("--recognizer: regionspot or clip-crop") }
        let cmd = self
        try await onThread("recognize") { try cmd.recognize(boxList, kind) }
    }

    func recognize(_ boxList: [[Float]], _ kind: Recognizer.RecognizerKind) throws {
        do {
            let img = try decodeImage(path: image)
            // Boxes are clipped to the image before recognizing and reported as clipped, so
            // the output names the box the recognizer used, not the one typed.
            let clipped = try Self.clip(boxList, typed: boxes, width: img.width, height: img.height)
            let boxList = clipped.map(\.box)
            let (effective, note) = try precision.effective(modelDirectory: weights)
            if let note { FileHandle.standardError.write(Data((note + "\n").utf8)) }
            let model = try ModelDirectory(path: weights, precision: effective)
            let classes = try Recognizer.Vocabulary.load(vocab)
            // Background prompts (model.json acceptance.background) are scored with the
            // vocabulary so the verdict can use them, chosen as the daemon chooses them (a
            // name the vocabulary asks for is not background); labels come from the
            // vocabulary only.
            let entries = VocabularyEntry.entries(classes)
            let background = RecognitionEngine.backgroundEntries(model.settings.acceptance.background ?? [], vocabulary: entries)
            let v = try Recognizer.Vocabulary(labels: classes.labels + background.map(\.label), names: classes.names + background.map(\.names))
            let emb = try VocabularyEmbedder.embed(v, text: model.text, tokenizer: try model.tokenizer(), textWeightsHash: model.text.weightsHash,
                                                   cacheDirectory: VocabularyEmbedder.defaultCacheDirectory)
            let rec = try RegionRecognizer(model: model, kind: kind, vocabulary: emb)
            if sigmoid { rec.scoring = .sigmoid }
            let f = rec.features(rgb: img.bytes, width: img.width, height: img.height)
            let regions = rec.recognize(f, boxes: boxList, masks: masks != nil, topK: top + background.count)
                .map { r in Self.vocabularyOnly(r, classes: classes.labels, top: top) }
            // Every box is labelled; the verdict says which the pipeline would drop as "no object".
            let acceptance = RegionAcceptance(settings: model.settings.acceptance, vocabularyCount: classes.labels.count)
            let verdicts = regions.map { acceptance.judge(logits: $0.logits, maskIoU: $0.iou, proposalScore: 1) }
            if let out = masks { try writeMaskOverlay(img, regions: regions, to: out) }
            if json {
                let obj: [String: Any] = ["recognizer": kind.rawValue, "variant": model.variant, "regions": zip(zip(regions, verdicts), clipped).map { ra, c in
                    let (r, a) = ra
                    var o: [String: Any] = ["box": r.box.map(Double.init), "label": r.label, "score": Double(r.score), "iou": Double(r.iou),
                     "objectness": Double(a.objectness), "accepted": a.accepted, "rejected_because": a.reason?.rawValue ?? NSNull(),
                     "top": r.top.map { ["label": $0.label, "score": Double($0.score)] }]
                    if let from = c.clippedFrom { o["clipped_from"] = from.map(Double.init) }
                    return o
                }]
                let d = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
                print(String(decoding: d, as: UTF8.self))
            } else {
                print("\(model.variant), recognizer \(kind.rawValue), \(classes.labels.count) classes")
                for ((r, a), c) in zip(zip(regions, verdicts), clipped) {
                    let b = r.box.map { String(format: "%.0f", $0) }.joined(separator: ",")
                    let note = c.clippedFrom.map { " (clipped from \($0.map { Self.number($0) }.joined(separator: ",")))" } ?? ""
                    let t = r.top.map { "\($0.label) \(String(format: "%.3f", $0.score))" }.joined(separator: ", ")
                    let verdict = a.reason.map { "would reject (\($0.rawValue))" } ?? "accepted"
                    print("[\(b)]\(note) \(r.label) \(String(format: "%.3f", r.score))  iou \(String(format: "%.2f", r.iou))  objectness \(String(format: "%.3f", a.objectness)) \(verdict)  top: \(t)")
                }
            }
        } catch {
            FileHandle.standardError.write(Data("regionspotd recognize: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }

    /// Each box clipped to the width x height image, with the box as typed when clipping
    /// changed it; a box with nothing inside the image is an error naming it.
    static func clip(_ boxList: [[Float]], typed: [String], width: Int, height: Int) throws -> [(box: [Float], clippedFrom: [Float]?)] {
        let w = Float(width), h = Float(height)
        return try zip(boxList, typed).map { b, s in
            let c = [min(max(b[0], 0), w), min(max(b[1], 0), h), min(max(b[2], 0), w), min(max(b[3], 0), h)]
            guard c[2] > c[0], c[3] > c[1] else {
                throw RecognizerError("--box \(s): entirely outside the \(width)x\(height) image")
            }
            return (c, c == b ? nil : b)
        }
    }

    /// A coordinate as typed: integers without a fraction.
    static func number(_ x: Float) -> String {
        x == x.rounded() && abs(x) < 1e9 ? String(Int(x)) : String(x)
    }

    /// A region's label and top list from the vocabulary classes only (background prompts,
    /// scored after them, are never a label); logits keep every column for the verdict.
    static func vocabularyOnly(_ r: RecognizedRegion, classes: [String], top: Int) -> RecognizedRegion {
        guard r.scores.count > classes.count else { return r }
        var out = r
        let known = Set(classes)
        out.top = Array(r.top.filter { known.contains($0.label) }.prefix(top))
        if let best = out.top.first { out.label = best.label; out.score = best.score }
        return out
    }

    /// The image with each region's mask tinted, written as PNG (PNGWriter).
    func writeMaskOverlay(_ img: RGBImage, regions: [RecognizedRegion], to path: String) throws {
        var px = img.bytes
        let tints: [(UInt8, UInt8, UInt8)] = [(230, 25, 75), (60, 180, 75), (0, 130, 200), (245, 130, 48), (145, 30, 180), (70, 240, 240)]
        for (i, r) in regions.enumerated() {
            guard let m = r.mask else { continue }
            let t = tints[i % tints.count]
            for p in 0..<(img.width * img.height) where m[p] {
                px[p * 3] = UInt8((Int(px[p * 3]) + Int(t.0)) / 2)
                px[p * 3 + 1] = UInt8((Int(px[p * 3 + 1]) + Int(t.1)) / 2)
                px[p * 3 + 2] = UInt8((Int(px[p * 3 + 2]) + Int(t.2)) / 2)
            }
        }
        try PNGWriter.write(rgb: px, width: img.width, height: img.height, to: path)
    }
}
