import Foundation

/// The sigmoid focal loss of RegionSpot (regionspot.py `sigmoid_focal_loss` + `ce_loss`,
/// the element-wise form of torchvision.ops.sigmoid_focal_loss) with one-hot targets, or
/// all-zero targets for a box of target -1 (background and poor boxes: "no class here",
/// every class's term is the t = 0 one):
///   p = σ(x), ce = BCE-with-logits(x, t), p_t = p t + (1-p)(1-t),
///   l = (α t + (1-α)(1-t)) ce (1 - p_t)^γ,   α = 0.25, γ = 2.
/// Reduction: RegionSpot computes `loss.mean(1).sum() / num_boxes * num_boxes` over
/// logits (images, boxes, classes), i.e. per image Σ_classes mean_boxes l, summed over the
/// images of the batch. We use exactly that with each image's own box count (RegionSpot's
/// batches have equal counts, where the two agree); the count includes the image's
/// negative boxes, as RegionSpot's mean over all of an image's boxes does.
public struct FocalLoss: Sendable {
    public var alpha: Float = 0.25
    public var gamma: Float = 2
    public init(alpha: Float = 0.25, gamma: Float = 2) { self.alpha = alpha; self.gamma = gamma }

    /// Loss and dLoss/dlogits for one image's logits [N, K] and target class per box (-1: none).
    public func callAsFunction(logits x: Tensor, targets: [Int]) -> (loss: Double, grad: Tensor) {
        let n = x.shape[0], k = x.shape[1]
        precondition(targets.count == n && targets.allSatisfy { $0 >= -1 && $0 < k }, "focal loss: \(targets.count) targets for \(n) boxes of \(k) classes (or -1)")
        guard n > 0 else { return (0, x) }
        var g = x, total: Double = 0
        let a = Double(alpha), gm = Double(gamma), inv = 1 / Double(n)
        for i in 0..<n {
            for c in 0..<k {
                let v = Double(x.data[i * k + c])
                let logP = -softplus(-v), log1mP = -softplus(v)  // log σ(v), log(1-σ(v))
                let p = exp(logP)
                let l: Double, d: Double
                if c == targets[i] {
                    // l = -α (1-p)^γ log p;  dl/dx = α (1-p)^γ (γ p log p - (1-p))
                    let q = 1 - p
                    l = -a * pow(q, gm) * logP
                    d = a * pow(q, gm) * (gm * p * logP - q)
                } else {
                    // l = -(1-α) p^γ log(1-p);  dl/dx = (1-α) p^γ (p - γ (1-p) log(1-p))
                    l = -(1 - a) * pow(p, gm) * log1mP
                    d = (1 - a) * pow(p, gm) * (p - gm * (1 - p) * log1mP)
                }
                total += l * inv
                g.data[i * k + c] = Float(d * inv)
            }
        }
        return (total, g)
    }
}

/// log(1 + e^x) without overflow.
@inline(__always)
func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }
