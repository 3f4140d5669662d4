import Foundation

public struct TrainingOptions: Sendable, Equatable {
    public var epochs = 12
    public var imagesPerBatch = 8
    public var learningRate = 1e-4
    public var weightDecay = 1e-4
    public var maxGradientNorm = 1.0
    public var warmupFraction = 0.05
    public var seed: UInt64 = 0
    public init() {}
}

public struct EpochReport: Sendable {
    public var epoch: Int, steps: Int
    public var loss: Double  // mean per image
    public var learningRate: Double  // at the last step
    public var gradientNorm: Double  // mean before clipping
    public var seconds: Double
}

/// Mini-batch training of the head on cached frozen features: batches of whole images
/// (self-attention among an image's boxes), the focal loss, clipping, AdamW and the
/// warm-up + step-decay schedule. Image order is shuffled per epoch from `seed`, so a
/// run is reproducible. Dropout is not used (0), unlike RegionSpot's 0.1.
public struct HeadTrainer: Sendable {
    public var parameters: HeadParameters
    public let objective: HeadObjective
    public let options: TrainingOptions
    public let schedule: LearningRateSchedule
    public private(set) var optimizer: AdamW
    public private(set) var step = 0
    var rng: SplitMix64

    public init(parameters: HeadParameters, objective: HeadObjective, options: TrainingOptions, imageCount: Int) {
        self.parameters = parameters
        self.objective = objective
        self.options = options
        let perEpoch = (imageCount + options.imagesPerBatch - 1) / options.imagesPerBatch
        schedule = .standard(base: options.learningRate, totalSteps: max(1, perEpoch * options.epochs), warmupFraction: options.warmupFraction)
        optimizer = AdamW(like: parameters, weightDecay: options.weightDecay)
        rng = SplitMix64(seed: options.seed &+ 0x5EED)
    }

    /// Rows of `samples` stacked into one batch.
    public static func batch(_ samples: [CachedFeatures]) throws(RecognizerError) -> HeadBatch {
        var tokens: [Tensor] = [], maps: [Tensor] = []
        for s in samples { tokens.append(try s.regionTokens()); maps.append(try s.featureMap()) }
        return HeadBatch(regionTokens: Tensor.joinRows(tokens), featureMaps: Tensor.joinRows(maps), boxCounts: samples.map(\.boxCount),
                         mapLengths: maps.map { $0.shape[0] }, targets: samples.flatMap(\.labels))
    }

    /// One pass over `samples` in a fresh random order; `onStep(step in epoch, steps, loss)`.
    public mutating func trainEpoch(_ samples: [CachedFeatures], epoch: Int, onStep: (Int, Int, Double) -> Void = { _, _, _ in }) throws(RecognizerError) -> EpochReport {
        let t0 = Date()
        var order = Array(samples.indices)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        let bs = options.imagesPerBatch
        let steps = (order.count + bs - 1) / bs
        var total = 0.0, norms = 0.0, lr = 0.0
        for s in 0..<steps {
            let idx = order[(s * bs)..<min(order.count, (s + 1) * bs)]
            let b = try Self.batch(idx.map { samples[$0] })
            var (loss, g, _) = objective.evaluate(parameters, b)
            norms += clipGradientNorm(&g, maxNorm: options.maxGradientNorm)
            lr = schedule.rate(at: step)
            optimizer.update(&parameters, grads: g, lr: lr)
            step += 1
            total += loss
            onStep(s + 1, steps, loss / Double(idx.count))
        }
        return EpochReport(epoch: epoch, steps: steps, loss: total / Double(max(1, samples.count)), learningRate: lr,
                           gradientNorm: norms / Double(max(1, steps)), seconds: Date().timeIntervalSince(t0))
    }
}

/// Box classification with ground-truth boxes: top-1 / top-5 accuracy over boxes and, per
/// category, average precision of ranking all boxes by that category's softmax score
/// (all-points interpolated precision-recall area, as VOC / COCO per-class AP without
/// localization).
public struct ClassificationReport: Sendable {
    public var boxes: Int
    public var top1: Double, top5: Double
    public var averagePrecision: [Double?]  // per category; nil when it has no boxes
    public var confusion: [[Int]]  // [truth][predicted]
    public var meanAP: Double {
        let v = averagePrecision.compactMap { $0 }
        return v.isEmpty ? 0 : v.reduce(0, +) / Double(v.count)
    }

    /// `logits` [N, K] and the true class of each row.
    public init(logits: Tensor, labels: [Int]) {
        let n = logits.shape[0], k = logits.shape[1]
        let probs = logits.softmax()
        var c1 = 0, c5 = 0
        var conf = [[Int]](repeating: [Int](repeating: 0, count: k), count: k)
        for i in 0..<n {
            let row = Array(probs.data[(i * k)..<((i + 1) * k)])
            let rank = row.indices.sorted { row[$0] > row[$1] || (row[$0] == row[$1] && $0 < $1) }
            if rank[0] == labels[i] { c1 += 1 }
            if rank.prefix(5).contains(labels[i]) { c5 += 1 }
            conf[labels[i]][rank[0]] += 1
        }
        var ap: [Double?] = []
        for c in 0..<k {
            let positives = labels.filter { $0 == c }.count
            guard positives > 0 else { ap.append(nil); continue }
            let order = (0..<n).sorted { probs.data[$0 * k + c] > probs.data[$1 * k + c] }
            var tp = 0, precisions: [Double] = [], recalls: [Double] = []
            for (r, i) in order.enumerated() {
                if labels[i] == c { tp += 1 }
                precisions.append(Double(tp) / Double(r + 1)); recalls.append(Double(tp) / Double(positives))
            }
            // precision envelope, then area under the step curve
            for i in stride(from: precisions.count - 2, through: 0, by: -1) { precisions[i] = max(precisions[i], precisions[i + 1]) }
            var area = 0.0, prevR = 0.0
            for i in 0..<precisions.count where recalls[i] > prevR { area += (recalls[i] - prevR) * precisions[i]; prevR = recalls[i] }
            ap.append(area)
        }
        boxes = n
        top1 = n == 0 ? 0 : Double(c1) / Double(n)
        top5 = n == 0 ? 0 : Double(c5) / Double(n)
        averagePrecision = ap
        confusion = conf
    }

    /// The head on cached features, `imagesPerBatch` images at a time.
    /// Only the annotated objects' rows count (extra boxes are `ScoreReport`'s).
    public static func evaluate(_ p: HeadParameters, _ objective: HeadObjective, _ samples: [CachedFeatures], imagesPerBatch: Int = 16) throws(RecognizerError) -> ClassificationReport {
        let s = try BoxLogits(p, objective, samples, imagesPerBatch: imagesPerBatch)
        return ClassificationReport(logits: s.rows(of: .object), labels: s.labels(of: .object))
    }
}
