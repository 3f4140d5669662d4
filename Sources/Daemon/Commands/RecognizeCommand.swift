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
    @Option(help: "Labels per box to show.") var top: Int = 3
    @Option(help: "Write the masks as a PNG overlay.") var masks: String?
    @Flag(help: "Per-class sigmoid instead of softmax over the vocabulary.") var sigmoid = false
    @Flag(help: "One JSON object.") var json = false

    func run() async throws {
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
            let model = try ModelDirectory(path: weights)
            let classes = try Recognizer.Vocabulary.load(vocab)
            // Background prompts (model.json acceptance.background) are scored with the
            // vocabulary so the verdict can use them; labels come from the vocabulary only.
            let background = model.settings.acceptance.background ?? []
            let v = try Recognizer.Vocabulary(labels: classes.labels + background, names: classes.names + background.map { [$0] })
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
                let obj: [String: Any] = ["recognizer": kind.rawValue, "variant": model.variant, "regions": zip(regions, verdicts).map { r, a in
                    ["box": r.box.map(Double.init), "label": r.label, "score": Double(r.score), "iou": Double(r.iou),
                     "objectness": Double(a.objectness), "accepted": a.accepted, "rejected_because": a.reason?.rawValue ?? NSNull(),
                     "top": r.top.map { ["label": $0.label, "score": Double($0.score)] }] as [String: Any]
                }]
                let d = try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
                print(String(decoding: d, as: UTF8.self))
            } else {
                print("\(model.variant), recognizer \(kind.rawValue), \(v.labels.count) classes")
                for (r, a) in zip(regions, verdicts) {
                    let b = r.box.map { String(format: "%.0f", $0) }.joined(separator: ",")
                    let t = r.top.map { "\($0.label) \(String(format: "%.3f", $0.score))" }.joined(separator: ", ")
                    let verdict = a.reason.map { "would reject (\($0.rawValue))" } ?? "accepted"
                    print("[\(b)] \(r.label) \(String(format: "%.3f", r.score))  iou \(String(format: "%.2f", r.iou))  objectness \(String(format: "%.3f", a.objectness)) \(verdict)  top: \(t)")
                }
            }
        } catch {
            FileHandle.standardError.write(Data("regionspotd recognize: \(error)\n".utf8))
            throw ExitCode(1)
        }
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
