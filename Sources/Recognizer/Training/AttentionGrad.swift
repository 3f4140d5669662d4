import Foundation

/// Which query rows attend to which key rows: one image's boxes to its own boxes
/// (self-attention) or to its own CLIP feature map (cross-attention).
struct AttentionSegment: Sendable, Equatable {
    var q0: Int, nq: Int, k0: Int, nk: Int
}

/// The weights of one torch.nn.MultiheadAttention (packed in-projection).
struct AttentionWeights {
    var inW: Tensor  // [3D, D]  rows: Wq, Wk, Wv
    var inB: Tensor  // [3D]
    var outW: Tensor  // [D, D]
    var outB: Tensor  // [D]
    var d: Int { outW.shape[0] }
    func wq() -> Tensor { inW.slice(0, d) }
    func wk() -> Tensor { inW.slice(d, 2 * d) }
    func wv() -> Tensor { inW.slice(2 * d, 3 * d) }
    func b(_ i: Int) -> Tensor { Tensor(shape: [d], data: Array(inB.data[(i * d)..<((i + 1) * d)])) }
}

/// Gradients of one attention block's weights (same shapes as AttentionWeights).
struct AttentionGradients {
    var inW: Tensor, inB: Tensor, outW: Tensor, outB: Tensor
    init(d: Int) { inW = Tensor(zeros: [3 * d, d]); inB = Tensor(zeros: [3 * d]); outW = Tensor(zeros: [d, d]); outB = Tensor(zeros: [d]) }
}

/// Multi-head attention (torch.nn.MultiheadAttention, no masks, no dropout) with its
/// backward pass. Per segment s and head h, with scale = 1/sqrt(D/H):
///   S = scale Q_h K_h^T [nq, nk], P = softmax_rows(S), O_h = P V_h; y = O Wo^T + bo.
/// Backward: dP = dO_h V_h^T, dV_h = P^T dO_h, dS = P ⊙ (dP - rowsum(dP ⊙ P)),
///   dQ_h = scale dS K_h, dK_h = scale dS^T Q_h.
enum AttentionGrad {
    struct Cache {
        var xq: Tensor, xkv: Tensor  // inputs [Nq, D], [Nk, D]
        var q: Tensor, k: Tensor, v: Tensor  // projections
        var probs: [[Float]]  // per segment [H, nq, nk]
        var o: Tensor  // heads concatenated [Nq, D]
    }

    static func forward(xq: Tensor, xkv: Tensor, _ w: AttentionWeights, heads: Int, segments: [AttentionSegment]) -> (y: Tensor, cache: Cache) {
        let q = linear(xq, w.wq(), w.b(0)), k = linear(xkv, w.wk(), w.b(1)), v = linear(xkv, w.wv(), w.b(2))
        let (o, probs) = core(q: q, k: k, v: v, heads: heads, segments: segments)
        return (linear(o, w.outW, w.outB), Cache(xq: xq, xkv: xkv, q: q, k: k, v: v, probs: probs, o: o))
    }

    /// Accumulates the weight gradients into `g`; returns (dxq, dxkv); for
    /// self-attention the input's gradient is their sum. dxkv is nil unless asked for.
    static func backward(_ c: Cache, _ w: AttentionWeights, dy: Tensor, grads g: inout AttentionGradients, heads: Int, segments: [AttentionSegment], needKV: Bool) -> (dxq: Tensor, dxkv: Tensor?) {
        let d = w.d
        let dO = LinearGrad.backward(x: c.o, w: w.outW, dy: dy, dW: &g.outW, dB: &g.outB)!
        let (dq, dk, dv) = coreBackward(c, dO: dO, heads: heads, segments: segments)
        var dW = Tensor.joinRows([mm(dq, c.xq, transA: true), mm(dk, c.xkv, transA: true), mm(dv, c.xkv, transA: true)])
        dW = dW.reshaped([3 * d, d])
        g.inW.add(dW)
        g.inB.add(Tensor(shape: [3 * d], data: dq.columnSums().data + dk.columnSums().data + dv.columnSums().data))
        let dxq = mm(dq, w.wq())
        var dxkv: Tensor? = nil
        if needKV {
            var t = mm(dk, w.wk())
            gemm(dv, w.wv(), into: &t, beta: 1)
            dxkv = t
        }
        return (dxq, dxkv)
    }

    /// O [Nq, D] and the softmax probabilities per segment.
    static func core(q: Tensor, k: Tensor, v: Tensor, heads: Int, segments: [AttentionSegment]) -> (Tensor, [[Float]]) {
        let d = q.shape[1], hd = d / heads, scale = 1 / Float(hd).squareRoot()
        var o = Tensor(zeros: q.shape)
        var probs: [[Float]] = []
        q.data.withUnsafeBufferPointer { qb in k.data.withUnsafeBufferPointer { kb in v.data.withUnsafeBufferPointer { vb in
            o.data.withUnsafeMutableBufferPointer { ob in
                for s in segments {
                    var p = [Float](repeating: 0, count: heads * s.nq * s.nk)
                    guard s.nq > 0, s.nk > 0 else { probs.append(p); continue }
                    p.withUnsafeMutableBufferPointer { pb in
                        for h in 0..<heads {
                            let ph = pb.baseAddress! + h * s.nq * s.nk
                            Gemm.sgemm(transB: true, m: s.nq, n: s.nk, k: hd, alpha: scale, a: qb.baseAddress! + s.q0 * d + h * hd, lda: d,
                                       b: kb.baseAddress! + s.k0 * d + h * hd, ldb: d, c: ph, ldc: s.nk)
                            softmaxRowsExact(ph, rows: s.nq, cols: s.nk)
                            Gemm.sgemm(m: s.nq, n: hd, k: s.nk, a: ph, lda: s.nk, b: vb.baseAddress! + s.k0 * d + h * hd, ldb: d,
                                       c: ob.baseAddress! + s.q0 * d + h * hd, ldc: d)
                        }
                    }
                    probs.append(p)
                }
            }
        } } }
        return (o, probs)
    }

    static func coreBackward(_ c: Cache, dO: Tensor, heads: Int, segments: [AttentionSegment]) -> (Tensor, Tensor, Tensor) {
        let d = c.q.shape[1], hd = d / heads, scale = 1 / Float(hd).squareRoot()
        var dq = Tensor(zeros: c.q.shape), dk = Tensor(zeros: c.k.shape), dv = Tensor(zeros: c.v.shape)
        for (si, s) in segments.enumerated() where s.nq > 0 && s.nk > 0 {
            var dp = [Float](repeating: 0, count: s.nq * s.nk)
            for h in 0..<heads {
                c.probs[si].withUnsafeBufferPointer { pall in
                    let p = pall.baseAddress! + h * s.nq * s.nk
                    dO.data.withUnsafeBufferPointer { dob in c.v.data.withUnsafeBufferPointer { vb in
                        c.q.data.withUnsafeBufferPointer { qb in c.k.data.withUnsafeBufferPointer { kb in
                            dp.withUnsafeMutableBufferPointer { dpb in
                                dq.data.withUnsafeMutableBufferPointer { dqb in dk.data.withUnsafeMutableBufferPointer { dkb in
                                    dv.data.withUnsafeMutableBufferPointer { dvb in
                                        let dOh = dob.baseAddress! + s.q0 * d + h * hd
                                        // dP = dO_h V_h^T [nq, nk]
                                        Gemm.sgemm(transB: true, m: s.nq, n: s.nk, k: hd, a: dOh, lda: d, b: vb.baseAddress! + s.k0 * d + h * hd, ldb: d, c: dpb.baseAddress!, ldc: s.nk)
                                        // dV_h += P^T dO_h [nk, hd]
                                        Gemm.sgemm(transA: true, m: s.nk, n: hd, k: s.nq, a: p, lda: s.nk, b: dOh, ldb: d, beta: 1, c: dvb.baseAddress! + s.k0 * d + h * hd, ldc: d)
                                        // dS = P ⊙ (dP - rowsum(dP ⊙ P))
                                        for i in 0..<s.nq {
                                            var r: Float = 0
                                            for j in 0..<s.nk { r += dpb[i * s.nk + j] * p[i * s.nk + j] }
                                            for j in 0..<s.nk { dpb[i * s.nk + j] = p[i * s.nk + j] * (dpb[i * s.nk + j] - r) }
                                        }
                                        // dQ_h += scale dS K_h; dK_h += scale dS^T Q_h
                                        Gemm.sgemm(m: s.nq, n: hd, k: s.nk, alpha: scale, a: dpb.baseAddress!, lda: s.nk, b: kb.baseAddress! + s.k0 * d + h * hd, ldb: d, beta: 1, c: dqb.baseAddress! + s.q0 * d + h * hd, ldc: d)
                                        Gemm.sgemm(transA: true, m: s.nk, n: hd, k: s.nq, alpha: scale, a: dpb.baseAddress!, lda: s.nk, b: qb.baseAddress! + s.q0 * d + h * hd, ldb: d, beta: 1, c: dkb.baseAddress! + s.k0 * d + h * hd, ldc: d)
                                    }
                                } }
                            }
                        } }
                    } }
                }
            }
        }
        return (dq, dk, dv)
    }
}

/// Row softmax with libm exp (the training path favours exactness over speed).
func softmaxRowsExact(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
    for i in 0..<rows {
        let r = p + i * cols
        var m = -Float.infinity
        for j in 0..<cols { m = max(m, r[j]) }
        var z: Float = 0
        for j in 0..<cols { r[j] = exp(r[j] - m); z += r[j] }
        for j in 0..<cols { r[j] /= z }
    }
}
