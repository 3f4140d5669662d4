import Foundation

/// One image's regions recognized twice, at a reduced precision and at fp32 (same boxes,
/// same vocabulary), reduced to the accuracy checks of `models.precision`: the same top-1
/// labels, the largest change of any class probability (`scores` under softmax scoring),
/// SAM's masks' agreement (IoU of the full-size masks, logits thresholded at 0) and the
/// region embeddings' relative error.
///
/// A changed top-1 label counts against the reduced precision only when it was decided at
/// fp32: when the fp32 probability of the fp32 top-1 led the class the reduced path chose
/// by more than the run's largest probability change. A lead within that is a near-tie
/// that moving every probability by no more than the measured change can turn over (the
/// synthesized weights' 16 classes are all within 1e-3 of each other); near-ties are
/// counted and printed apart, never folded into "same".
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
    /// Changed top-1 labels whose fp32 margin was at most `maxProbabilityChange`.
    public var nearTies: Int
    /// Changed top-1 labels whose fp32 margin exceeded `maxProbabilityChange`: failures.
    public var decisiveChanges: Int { regions - sameTop1 - nearTies }

    public init(_ reduced: [RecognizedRegion], fp32: [RecognizedRegion]) {
        precondition(reduced.count == fp32.count, "PrecisionComparison: \(reduced.count) vs \(fp32.count) regions")
        regions = fp32.count
        sameTop1 = zip(reduced, fp32).filter { $0.label == $1.label }.count
        let margins = zip(reduced, fp32).filter { $0.label != $1.label }.map { a, b -> Float in
            guard let i = a.scores.indices.max(by: { a.scores[$0] < a.scores[$1] }) else { return .infinity }
            return (b.scores.max() ?? 0) - b.scores[i]
        }
        flipMargin = margins.max() ?? 0
        let change = zip(reduced, fp32).map { a, b in zip(a.scores, b.scores).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
        maxProbabilityChange = change
        nearTies = margins.filter { $0 <= change }.count
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

    /// The issue's thresholds: every top-1 label decided at fp32 kept (near-ties aside),
    /// probabilities within 1e-2, masks' IoU at least 0.98.
    public var passes: Bool { decisiveChanges == 0 && maxProbabilityChange <= 1e-2 && minMaskIoU >= 0.98 }

    public var description: String {
        var top1 = String(format: "top-1 same %d/%d", sameTop1, regions)
        if sameTop1 < regions {
            top1 += " (\(regions - sameTop1) changed: \(nearTies) near-tie\(nearTies == 1 ? "" : "s") at fp32 within max |Δprob|, "
                + "\(decisiveChanges) decided at fp32; largest fp32 margin " + String(format: "%.2e)", flipMargin)
        }
        return top1 + String(format: ", max |Δprob| %.2e, min mask IoU %.4f, embedding rel. error %.2e", maxProbabilityChange, minMaskIoU, embeddingError)
            + (passes ? " (passes)" : " (FAILS)")
    }
}
