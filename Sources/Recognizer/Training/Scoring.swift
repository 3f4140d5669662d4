import Foundation

/// The head's logits for every row (objects and extra boxes) of cached images, with each
/// row's label (-1: no class) and kind.
public struct BoxLogits: Sendable {
    public var logits: Tensor  // [R, K]
    public var labels: [Int]
    public var kinds: [BoxKind]

    public init(logits: Tensor, labels: [Int], kinds: [BoxKind]) {
        precondition(logits.shape[0] == labels.count && labels.count == kinds.count, "BoxLogits: rows do not match")
        self.logits = logits; self.labels = labels; self.kinds = kinds
    }

    /// The head on cached features, `imagesPerBatch` images at a time.
    public init(_ p: HeadParameters, _ objective: HeadObjective, _ samples: [CachedFeatures], imagesPerBatch: Int = 16) throws(RecognizerError) {
        var rows: [Float] = [], i = 0
        while i < samples.count {
            rows += objective.logits(p, try HeadTrainer.batch(Array(samples[i..<min(samples.count, i + imagesPerBatch)]))).data
            i += imagesPerBatch
        }
        self.init(logits: Tensor(shape: [rows.count / objective.text.shape[0], objective.text.shape[0]], data: rows),
                  labels: samples.flatMap(\.labels), kinds: samples.flatMap(\.kinds))
    }

    public var classes: Int { logits.shape[1] }
    func indices(_ kind: BoxKind) -> [Int] { kinds.indices.filter { kinds[$0] == kind } }
    public func rows(of kind: BoxKind) -> Tensor {
        let k = classes, idx = indices(kind)
        return Tensor(shape: [idx.count, k], data: idx.flatMap { logits.data[($0 * k)..<(($0 + 1) * k)] })
    }
    public func labels(of kind: BoxKind) -> [Int] { indices(kind).map { labels[$0] } }
    /// σ(logit) of class `c` in row `i`.
    public func sigmoid(_ i: Int, _ c: Int) -> Double { 1 / (1 + exp(-Double(logits.data[i * classes + c]))) }
    /// σ of the best class of row `i` (what an acceptance threshold applies to).
    public func bestSigmoid(_ i: Int) -> Double {
        let row = logits.data[(i * classes)..<((i + 1) * classes)]
        return 1 / (1 + exp(-Double(row.max()!)))
    }
}

/// "Is there an object here at all?": the best class's sigmoid on objects, background,
/// poor and loose boxes, acceptance (score >= `minScore`) per kind, and detector-style AP
/// with the background boxes as false detections.
public struct ScoreReport: Sendable {
    public struct Distribution: Sendable, Equatable {
        public var count: Int
        public var median: Double, p10: Double, p90: Double
        /// Share of the boxes whose best-class sigmoid is >= minScore.
        public var accepted: Double
    }
    public var minScore: Double
    public var kinds: [BoxKind: Distribution]
    /// Per class: all objects and background boxes ranked by σ(logit of the class); the
    /// class's objects are the true detections. nil for a class without objects.
    public var detectionAP: [Double?]
    /// The smallest threshold that rejects >= 95% of the background boxes, and the share
    /// of objects and loose boxes it accepts (nil without background boxes).
    public var threshold95: (minScore: Double, objects: Double, loose: Double?)?
    public var meanDetectionAP: Double {
        let v = detectionAP.compactMap { $0 }
        return v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count)
    }

    public init(_ s: BoxLogits, minScore: Double) {
        self.minScore = minScore
        var best: [BoxKind: [Double]] = [:]
        for i in s.labels.indices { best[s.kinds[i], default: []].append(s.bestSigmoid(i)) }
        kinds = best.mapValues { Self.distribution($0, minScore: minScore) }
        let candidates = s.kinds.indices.filter { s.kinds[$0] == .object || s.kinds[$0] == .background }
        detectionAP = (0..<s.classes).map { c in
            let positives = candidates.filter { s.kinds[$0] == .object && s.labels[$0] == c }.count
            guard positives > 0 else { return nil }
            return averagePrecision(scores: candidates.map { s.sigmoid($0, c) }, truth: candidates.map { s.kinds[$0] == .object && s.labels[$0] == c })
        }
        if let bg = best[.background]?.sorted(), !bg.isEmpty {
            let t = bg[Int((0.95 * Double(bg.count)).rounded(.up)) - 1].nextUp
            func share(_ v: [Double]?) -> Double? { v.map { a in Double(a.filter { $0 >= t }.count) / Double(max(1, a.count)) } }
            threshold95 = (t, share(best[.object]) ?? 0, share(best[.loose]))
        } else {
            threshold95 = nil
        }
    }

    /// Median, 10th and 90th percentile (linear interpolation between order statistics,
    /// numpy's default) and the share >= minScore.
    public static func distribution(_ values: [Double], minScore: Double) -> Distribution {
        let v = values.sorted()
        func q(_ f: Double) -> Double {
            guard !v.isEmpty else { return .nan }
            let x = f * Double(v.count - 1), lo = Int(x.rounded(.down)), hi = min(v.count - 1, lo + 1)
            return v[lo] + (v[hi] - v[lo]) * (x - Double(lo))
        }
        return Distribution(count: v.count, median: q(0.5), p10: q(0.1), p90: q(0.9),
                            accepted: v.isEmpty ? 0 : Double(v.filter { $0 >= minScore }.count) / Double(v.count))
    }
}

/// Area under the all-points interpolated precision-recall curve of ranking `scores`
/// (descending) where `truth` marks the true detections (VOC / COCO per-class AP).
public func averagePrecision(scores: [Double], truth: [Bool]) -> Double {
    let positives = truth.filter { $0 }.count
    guard positives > 0 else { return 0 }
    let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
    var tp = 0, precisions: [Double] = [], recalls: [Double] = []
    for (r, i) in order.enumerated() {
        if truth[i] { tp += 1 }
        precisions.append(Double(tp) / Double(r + 1)); recalls.append(Double(tp) / Double(positives))
    }
    for i in stride(from: precisions.count - 2, through: 0, by: -1) { precisions[i] = max(precisions[i], precisions[i + 1]) }
    var area = 0.0, prevR = 0.0
    for i in 0..<precisions.count where recalls[i] > prevR { area += (recalls[i] - prevR) * precisions[i]; prevR = recalls[i] }
    return area
}
