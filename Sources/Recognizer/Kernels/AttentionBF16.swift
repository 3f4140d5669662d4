import Foundation

/// `multiHeadAttention` with both products in bf16 through oneDNN, for the bf16 path's
/// global attention (SAM-B: 4 blocks x 4,096 tokens, ~20% of the encoder's FLOPs): q, k
/// and v are rounded to bf16 once ([rows, heads*headDim] each), then per (head, query
/// block) scores = scale · Q K^T (fp32 out), the bias and the softmax numerators
/// P = exp(scores - max) in fp32, P rounded to bf16, out = P V / rowsum (fp32). The row
/// sums are taken before rounding. `naiveMultiHeadAttention(..., bf16: true)` is the reference.
public func multiHeadAttentionBF16(
    _ s: AttentionShape, scale: Float,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, bias: AttentionBias? = nil
) {
    let d = s.heads * s.headDim
    let qb = UnsafeMutablePointer<UInt16>.allocate(capacity: s.batch * s.queries * d)  // [B, queries, D]
    let kb = UnsafeMutablePointer<UInt16>.allocate(capacity: s.batch * s.keys * d)  // [B, keys, D]
    let vb = UnsafeMutablePointer<UInt16>.allocate(capacity: s.batch * s.keys * d)  // [B, keys, D]
    defer { qb.deallocate(); kb.deallocate(); vb.deallocate() }
    for b in 0..<s.batch {
        BF16.convertRows(q + b * s.batchStrideQ, ld: s.ldq, rows: s.queries, cols: d, qb + b * s.queries * d)
        BF16.convertRows(k + b * s.batchStrideK, ld: s.ldk, rows: s.keys, cols: d, kb + b * s.keys * d)
        BF16.convertRows(v + b * s.batchStrideV, ld: s.ldv, rows: s.keys, cols: d, vb + b * s.keys * d)
    }
    let blocks = (s.queries + s.blockRows - 1) / s.blockRows
    let tasks = s.batch * s.heads * blocks
    let scratchCount = s.blockRows * s.keys
    let workers = min(Parallel.workers, tasks)
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount * workers)  // scores [blockRows, keys]
    let probs = UnsafeMutablePointer<UInt16>.allocate(capacity: scratchCount * workers)  // P in bf16
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: s.blockRows * workers)
    defer { scratch.deallocate(); probs.deallocate(); sums.deallocate() }
    Parallel.tasks(tasks) { worker, t in
        let blk = t % blocks, h = (t / blocks) % s.heads, b = t / (blocks * s.heads)
        let q0 = blk * s.blockRows, qn = min(s.blockRows, s.queries - q0)
        let scores = scratch + worker * scratchCount, p = probs + worker * scratchCount, inv = sums + worker * s.blockRows
        let kp = kb + b * s.keys * d + h * s.headDim, vp = vb + b * s.keys * d + h * s.headDim
        let op = out + b * s.batchStrideO + q0 * s.ldo + h * s.headDim
        OneDNN.matmul(m: qn, n: s.keys, k: s.headDim, alpha: scale, src: qb + (b * s.queries + q0) * d + h * s.headDim, lda: d,
                      weights: kp, ldb: d, transB: true, bias: nil, out: scores, ldo: s.keys, accumulate: false)
        bias?(b, h, q0, qn, scores, worker)
        Activation.expRows(scores, rows: qn, cols: s.keys, inverseSums: inv)
        BF16.convert(scores, p, count: qn * s.keys)
        OneDNN.matmul(m: qn, n: s.headDim, k: s.keys, src: p, lda: s.keys, weights: vp, ldb: d, transB: false,
                      bias: nil, out: op, ldo: s.ldo, accumulate: false)
        for i in 0..<qn {
            let o = op + i * s.ldo, f = inv[i]
            for c in 0..<s.headDim { o[c] *= f }
        }
    }
}
