import Foundation

/// LayerNorm over the last axis of [rows, dim] (torch.nn.LayerNorm). LayerNorm2d on a
/// channels-last [H*W, C] map is the same operation, so SAM's neck uses this too.
public func layerNormInPlace(_ p: UnsafeMutablePointer<Float>, rows: Int, dim: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float) {
    Parallel.forRanges(rows, grain: max(1, 16384 / dim)) { r in
        for i in r { layerNormRow(p + i * dim, p + i * dim, dim: dim, weight: weight, bias: bias, eps: eps) }
    }
}

extension Tensor {
    public func layerNorm(_ weight: Tensor, _ bias: Tensor, eps: Float) -> Tensor {
        var t = self
        let dim = shape.last!
        precondition(weight.count == dim && bias.count == dim, "layerNorm: \(shape) vs \(weight.shape)")
        t.data.withUnsafeMutableBufferPointer { p in
            weight.data.withUnsafeBufferPointer { w in
                bias.data.withUnsafeBufferPointer { b in
                    layerNormInPlace(p.baseAddress!, rows: count / dim, dim: dim, weight: w.baseAddress!, bias: b.baseAddress!, eps: eps)
                }
            }
        }
        return t
    }

    /// Naive reference (Double accumulation).
    public func naiveLayerNorm(_ weight: Tensor, _ bias: Tensor, eps: Float) -> Tensor {
        let dim = shape.last!
        var out = data
        for r in 0..<(count / dim) {
            let row = data[(r * dim)..<((r + 1) * dim)].map(Double.init)
            let m = row.reduce(0, +) / Double(dim)
            let v = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(dim)
            for j in 0..<dim {
                out[r * dim + j] = Float((row[j] - m) / (v + Double(eps)).squareRoot()) * weight.data[j] + bias.data[j]
            }
        }
        return Tensor(shape: shape, data: out)
    }

    /// L2-normalizes each row of the last axis: x / (||x|| + eps), as RegionSpot's
    /// get_logits does (eps 1e-7); eps 0 for the vocabulary mean.
    public func l2Normalized(eps: Float = 1e-7) -> Tensor {
        let n = shape.last!
        var t = self
        for r in 0..<(count / n) {
            var s: Float = 0
            for j in 0..<n { s += data[r * n + j] * data[r * n + j] }
            let inv = 1 / (s.squareRoot() + eps)
            for j in 0..<n { t.data[r * n + j] *= inv }
        }
        return t
    }
}

/// x[r] = LayerNorm(x[r] + residual[r]) for `rows` rows of `dim`, serially (callers
/// are already inside parallel tasks): the residual add fused into the norm's first pass.
@inline(__always)
public func residualLayerNormRows(_ x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>, rows: Int, dim: Int,
                                  weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float) {
    for i in 0..<rows {
        let p = x + i * dim, r = residual + i * dim
        for j in 0..<dim { p[j] += r[j] }
        layerNormRow(p, p, dim: dim, weight: weight, bias: bias, eps: eps)
    }
}
