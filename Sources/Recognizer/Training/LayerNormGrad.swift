import Foundation

/// LayerNorm over the last axis of [rows, D] and its backward pass:
/// xhat = (x - mean) / sqrt(var + eps), y = xhat * g + b.
enum LayerNormGrad {
    struct Cache { var xhat: Tensor; var invStd: [Float] }

    static func forward(_ x: Tensor, _ g: Tensor, _ b: Tensor, eps: Float = 1e-5) -> (y: Tensor, cache: Cache) {
        let d = x.shape.last!, rows = x.count / d
        var xhat = x, y = x, inv = [Float](repeating: 0, count: rows)
        for r in 0..<rows {
            var mean: Double = 0
            for j in 0..<d { mean += Double(x.data[r * d + j]) }
            mean /= Double(d)
            var v: Double = 0
            for j in 0..<d { let t = Double(x.data[r * d + j]) - mean; v += t * t }
            let s = 1 / (v / Double(d) + Double(eps)).squareRoot()
            inv[r] = Float(s)
            for j in 0..<d {
                let h = Float((Double(x.data[r * d + j]) - mean) * s)
                xhat.data[r * d + j] = h
                y.data[r * d + j] = h * g.data[j] + b.data[j]
            }
        }
        return (y, Cache(xhat: xhat, invStd: inv))
    }

    /// dg += Σ_rows dy ⊙ xhat; db += Σ_rows dy; dx = invStd (dxhat - mean(dxhat) - xhat mean(dxhat ⊙ xhat)),
    /// dxhat = dy ⊙ g.
    static func backward(_ c: Cache, g: Tensor, dy: Tensor, dG: inout Tensor, dB: inout Tensor) -> Tensor {
        let d = dy.shape.last!, rows = dy.count / d
        var dx = dy
        for r in 0..<rows {
            var m1: Double = 0, m2: Double = 0
            for j in 0..<d {
                let i = r * d + j, dh = Double(dy.data[i]) * Double(g.data[j])
                m1 += dh
                m2 += dh * Double(c.xhat.data[i])
                dG.data[j] += dy.data[i] * c.xhat.data[i]
                dB.data[j] += dy.data[i]
            }
            m1 /= Double(d); m2 /= Double(d)
            for j in 0..<d {
                let i = r * d + j, dh = Double(dy.data[i]) * Double(g.data[j])
                dx.data[i] = Float(Double(c.invStd[r]) * (dh - m1 - Double(c.xhat.data[i]) * m2))
            }
        }
        return dx
    }
}
