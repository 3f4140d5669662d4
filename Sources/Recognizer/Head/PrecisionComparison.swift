import Foundation

/// One image's regions recognized twice, at a reduced precision and at fp32 (same boxes,
/// same vocabulary), reduced to the accuracy checks of `models.precision`: the same top-1
/// labels, the largest change of any class probability (`scores` under softmax scoring),
/// SAM's masks' agreement (IoU of the full-size masks, logits thresholded at 0) and the
/// region embeddings' relative error.
public struct PrecisionComparison: Sendable, CustomStringConvertible {
    public var regions: Int
    public var sameTop1: Int
    public var maxProbabilityChange: Float
    /// Lowest mask IoU over the regions (1 when no masks were asked for).
    public var minMaskIoU: Float
    /// Max |a - b| / max |b| over all region embeddings (Tensor.relativeError).
    public var embeddingError: Float
    /// For the regions whose top-1 label changed: the largest fp32 margin between the
    /// top-1 and the reduced path's top-1 class probability (0 when none changed). A flip
    /// within `maxProbabilityChange` is a near-tie the precision cannot decide.
    public var flipMargin: Float

    public init(_ reduced: [RecognizedRegion], fp32: [RecognizedRegion]) {
        precondition(reduced.count == fp32.count, "PrecisionComparison: \(reduced.count) vs \(fp32.count) regions")
        regions = fp32.count
        sameTop1 = zip(reduced, fp32).filter { $0.label == $1.label }.count
        flipMargin = zip(reduced, fp32).filter { $0.label != $1.label }.map { a, b -> Float in
            guard let i = a.scores.indices.max(by: { a.scores[$0] < a.scores[$1] }) else { return 0 }
            return (b.scores.max() ?? 0) - b.scores[i]
        }.max() ?? 0
        maxProbabilityChange = zip(reduced, fp32).map { a, b in zip(a.scores, b.scores).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        minMaskIoU = zip(reduced, fp32).map { a, b in
            guard let ma = a.mask, let mb = b.mask else { return 1 }
            var inter = 0, union = 0
            for (x, y) in zip(ma, mb) {
                if x && y { inter += 1 }
                if x || y { union += 1 }
            }
            return union == 0 ? 1 : Float(inter) / Float(union)
        }.min() ?? 1
        let e = fp32.first?.embedding.count ?? 0
        embeddingError = Tensor(shape: [reduced.count, e], data: reduced.flatMap(\.embedding))
            .relativeError(to: Tensor(shape: [fp32.count, e], data: fp32.flatMap(\.embedding)))
    }

    /// The thresholds: every top-1 label kept, probabilities within 1e-2, masks'
    /// IoU at least 0.98.
    public var passes: Bool { sameTop1 == regions && maxProbabilityChange <= 1e-2 && minMaskIoU >= 0.98 }

    public var description: String {
        String(format: "top-1 same %d/%d, max |Δprob| %.2e, min mask IoU %.4f, embedding rel. error %.2e", sameTop1, regions,
               maxProbabilityChange, minMaskIoU, embeddingError)
            + (sameTop1 < regions ? String(format: ", changed top-1 within an fp32 margin of %.2e", flipMargin) : "")
            + (passes ? " (passes)" : " (FAILS)")
    }
}
