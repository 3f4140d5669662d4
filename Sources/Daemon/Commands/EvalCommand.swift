import ArgumentParser
import Foundation
import Recognizer

/// `regionspotd eval`: box classification with ground-truth boxes — top-1 / top-5
/// accuracy over all boxes and average precision per category — of a model directory's
/// head on a COCO-style set. The vocabulary is the set's category names.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval", abstract: "Top-1/top-5 box classification accuracy and per-category AP with ground-truth boxes.")

    @Option(help: "COCO-style detection JSON.") var data: String
    @Option(help: "Directory holding the images named in --data.") var images: String
    @Option(help: "Model directory with a head.safetensors.") var weights: String
    @Option(help: "Feature and vocabulary cache directory (default: the daemon's cache directory).") var cache: String?
    @Option(help: "Threads for BLAS and kernels (default: all cores).") var threads: Int?
    @Flag(help: "Print one JSON object instead of the table.") var json = false
    @Option(help: "Acceptance threshold on the best class's sigmoid (default: model.json's acceptance.min_score, else 0.5).") var minScore: Double?
    @Option(help: "Background + poor boxes sampled per annotated box (scored as 'no object').") var negatives: Double = 1
    @Option(help: "Share of those that are poor boxes (IoU < 0.4 with every object).") var poorFraction: Double = 0.5
    @Option(help: "Loose boxes (IoU 0.6-0.8, containing the object) per annotated box.") var loose: Int = 1
    @Option(help: "Seed of the sampled boxes.") var negativesSeed: UInt64 = 0

    func validate() throws {
        guard negatives >= 0, negatives <= 20, (0...1).contains(poorFraction), (0...5).contains(loose) else {
            throw ValidationError("need 0 <= --negatives <= 20, 0 <= --poor-fraction <= 1, 0 <= --loose <= 5")
        }
        if let minScore, !(0...1).contains(minScore) { throw ValidationError("--min-score must be in [0, 1]") }
    }

    func run() async throws {
        LibraryLog.installForCommand(threshold: .error)
        let cmd = self
        try await onThread("eval") { try reportingErrors("eval") { try cmd.evaluate() } }
    }

    func evaluate() throws {
        if let threads { Parallel.workers = threads }
        let progress = ProgressLine()
        let model = try ModelDirectory(path: weights)
        guard let head = model.head else { throw RecognizerError("model directory \(weights): no head.safetensors to evaluate") }
        let cacheDir = cache ?? VocabularyEmbedder.defaultCacheDirectory
        let set = try DetectionDataset(path: data)
        let text = try classEmbeddings(try set.vocabulary(), model: model, cacheDirectory: cacheDir)
        let sampling = NegativeSampling(ratio: negatives, poorFraction: poorFraction, loosePerObject: loose, seed: negativesSeed)
        let features = FeatureCache(directory: cacheDir + "/features", weightsKey: try FeatureCache.weightsKey(model: model), sampling: sampling)
        let samples = try extractFeatures(set, images: images, model: model, cache: features, label: "eval", progress: json ? ProgressLine.silent : progress)
        let params = try HeadParameters(weights: RegionSpotHead.weights([try SafeTensors(path: model.path + "/head.safetensors")]), heads: head.config.heads)
        let logits = try BoxLogits(params, HeadObjective(text: text, logitScale: model.text.logitScale), samples)
        let r = ClassificationReport(logits: logits.rows(of: .object), labels: logits.labels(of: .object))
        let threshold = minScore ?? Self.modelMinScore(model.path) ?? 0.5
        let s = ScoreReport(logits, minScore: threshold)
        if json {
            var obj: [String: Any] = [
                "boxes": r.boxes, "top1": r.top1, "top5": r.top5, "mAP": r.meanAP,
                "ap": Dictionary(uniqueKeysWithValues: zip(set.categoryNames, r.averagePrecision.map { $0 as Any? ?? NSNull() })),
            ]
            obj.merge(Self.json(s, categories: set.categoryNames)) { a, _ in a }
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print("boxes: \(r.boxes)  top-1: \(String(format: "%.4f", r.top1))  top-5: \(String(format: "%.4f", r.top5))  mAP: \(String(format: "%.4f", r.meanAP))")
        printScores(s, categories: set.categoryNames)
        let w = max(8, set.categoryNames.map(\.count).max() ?? 8)
        print("category".padding(toLength: w, withPad: " ", startingAt: 0) + "  boxes      AP  top-1")
        for (i, name) in set.categoryNames.enumerated() {
            let n = r.confusion[i].reduce(0, +)
            let ap = r.averagePrecision[i].map { String(format: "%6.4f", $0) } ?? "     -"
            let acc = n > 0 ? String(format: "%.4f", Double(r.confusion[i][i]) / Double(n)) : "-"
            print(name.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + String(n).leftPad(5) + "  " + ap + "  " + acc)
        }
    }
}

extension String {
    func leftPad(_ n: Int) -> String { String(repeating: " ", count: max(0, n - count)) + self }
}
