import Foundation

/// RegionSpot's scores and their backward pass: u = e / (|e| + 1e-7) per row,
/// logits[N, K] = s u T^T with s = exp(logit_scale) and T [K, E] the fixed, L2-normalized
/// class text embeddings (frozen: no gradient for T or s).
enum CosineLogitsGrad {
    static let eps: Float = 1e-7

    static func normalize(_ e: Tensor) -> Tensor { e.l2Normalized(eps: eps) }

    /// de = du / (n + eps) - e (e·du) / (n (n + eps)^2), n = |e| (per row).
    static func normalizeBackward(_ e: Tensor, du: Tensor) -> Tensor {
        let w = e.shape.last!, rows = e.count / w
        var de = du
        for r in 0..<rows {
            var n2: Double = 0, edu: Double = 0
            for j in 0..<w {
                let x = Double(e.data[r * w + j])
                n2 += x * x
                edu += x * Double(du.data[r * w + j])
            }
            let n = n2.squareRoot(), a = n + Double(eps)
            let c = n > 0 ? edu / (n * a * a) : 0
            for j in 0..<w { de.data[r * w + j] = Float(Double(du.data[r * w + j]) / a - Double(e.data[r * w + j]) * c) }
        }
        return de
    }

    /// logits = s u T^T.
    static func logits(_ u: Tensor, text: Tensor, scale s: Float) -> Tensor {
        var l = Tensor(zeros: [u.shape[0], text.shape[0]])
        gemm(u, text, into: &l, transB: true, alpha: s)
        return l
    }

    /// du = s dlogits T.
    static func logitsBackward(dLogits: Tensor, text: Tensor, scale s: Float) -> Tensor {
        var du = Tensor(zeros: [dLogits.shape[0], text.shape[1]])
        gemm(dLogits, text, into: &du, alpha: s)
        return du
    }
}
