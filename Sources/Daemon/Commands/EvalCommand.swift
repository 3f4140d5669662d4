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

    func run() async throws {
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
        let features = FeatureCache(directory: cacheDir + "/features", weightsKey: try FeatureCache.weightsKey(model: model))
        let samples = try extractFeatures(set, images: images, model: model, cache: features, label: "eval", progress: json ? ProgressLine.silent : progress)
        let params = try HeadParameters(weights: RegionSpotHead.weights([try SafeTensors(path: model.path + "/head.safetensors")]), heads: head.config.heads)
        let r = try ClassificationReport.evaluate(params, HeadObjective(text: text, logitScale: model.text.logitScale), samples)
        if json {
            let obj: [String: Any] = [
                "boxes": r.boxes, "top1": r.top1, "top5": r.top5, "mAP": r.meanAP,
                "ap": Dictionary(uniqueKeysWithValues: zip(set.categoryNames, r.averagePrecision.map { $0 as Any? ?? NSNull() })),
            ]
            print(String(decoding: try JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys]), as: UTF8.self))
            return
        }
        print("boxes: \(r.boxes)  top-1: \(String(format: "%.4f", r.top1))  top-5: \(String(format: "%.4f", r.top5))  mAP: \(String(format: "%.4f", r.meanAP))")
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
