import Foundation

/// `multiHeadAttention` with both products in bf16 through oneDNN, for the bf16 path's
/// global attention (SAM-B: 4 blocks x 4,096 tokens, ~20% of the encoder's FLOPs): q, k
/// and v are rounded to bf16 once ([rows, heads*headDim] each), then per (head, query
/// block) `attendBlockBF16`. `naiveMultiHeadAttention(..., bf16: true)` is the reference.
public func multiHeadAttentionBF16(
    _ s: AttentionShape, scale: Float,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, bias: AttentionBias? = nil
) {
    let d = s.heads * s.headDim
    // [B, queries, D], then [B, keys, D] twice: the calling thread's scratch
    let qb = ThreadScratch.buffer(.attentionInputs, UInt16.self, count: s.batch * (s.queries + 2 * s.keys) * d)
    let kb = qb + s.batch * s.queries * d, vb = kb + s.batch * s.keys * d
    for b in 0..<s.batch {
        BF16.convertRows(q + b * s.batchStrideQ, ld: s.ldq, rows: s.queries, cols: d, qb + b * s.queries * d)
        BF16.convertRows(k + b * s.batchStrideK, ld: s.ldk, rows: s.keys, cols: d, kb + b * s.keys * d)
        BF16.convertRows(v + b * s.batchStrideV, ld: s.ldv, rows: s.keys, cols: d, vb + b * s.keys * d)
    }
    let blocks = (s.queries + s.blockRows - 1) / s.blockRows
    let tasks = s.batch * s.heads * blocks
    Parallel.tasks(tasks) { worker, t in
        let blk = t % blocks, h = (t / blocks) % s.heads, b = t / (blocks * s.heads)
        let q0 = blk * s.blockRows, qn = min(s.blockRows, s.queries - q0)
        attendBlockBF16(qn: qn, keys: s.keys, headDim: s.headDim, scale: scale,
                        q: qb + (b * s.queries + q0) * d + h * s.headDim, ldq: d,
                        k: kb + b * s.keys * d + h * s.headDim, v: vb + b * s.keys * d + h * s.headDim, ldkv: d,
                        out: out + b * s.batchStrideO + q0 * s.ldo + h * s.headDim, ldo: s.ldo) { scores in
            bias?(b, h, q0, qn, scores, worker)
        }
    }
}

/// One head's attention for a block of qn queries, on the calling thread: scores =
/// scale · Q K^T (bf16 in, fp32 out), `bias(scores)` (fp32), the softmax numerators
/// P = exp(scores - max) in fp32 rounded to bf16 (`Activation.expRowsBF16`, row sums
/// before rounding), out [qn, headDim] (rows `ldo` apart) = P V / rowsum in fp32.
/// Q [qn, headDim] rows `ldq` apart; K, V [keys, headDim] rows `ldkv` apart; all bf16.
/// Scores, numerators and sums live in the calling thread's scratch (`attentionScores`).
func attendBlockBF16(qn: Int, keys: Int, headDim hd: Int, scale: Float,
                     q: UnsafePointer<UInt16>, ldq: Int, k: UnsafePointer<UInt16>, v: UnsafePointer<UInt16>, ldkv: Int,
                     out: UnsafeMutablePointer<Float>, ldo: Int, bias: (UnsafeMutablePointer<Float>) -> Void) {
    // scores [qn, keys] f32, 1/sums [qn] f32, numerators [qn, keys] bf16
    let raw = ThreadScratch.buffer(.attentionScores, bytes: qn * keys * 6 + qn * 4)
    let scores = raw.bindMemory(to: Float.self, capacity: qn * keys + qn), inv = scores + qn * keys
    let p = (raw + (qn * keys + qn) * 4).bindMemory(to: UInt16.self, capacity: qn * keys)
    OneDNN.matmul(m: qn, n: keys, k: hd, alpha: scale, src: q, lda: ldq, weights: k, ldb: ldkv, transB: true,
                  bias: nil, out: scores, ldo: keys, accumulate: false)
    bias(scores)
    softmaxTimesValuesBF16(scores: scores, qn: qn, keys: keys, headDim: hd, v: v, ldkv: ldkv, inverseSums: inv, numerators: p,
                           out: out, ldo: ldo)
}

/// The second half of a bf16 attention block (attendBlockBF16; the int8 attention fuses the
/// numerators into its scores, `Int8Attention.scoresSoftmax`):
/// scores [qn, keys] f32 -> numerators P = bf16(exp(scores - max)) and 1/row sums, then
/// out [qn, headDim] (rows `ldo` apart) = P V / rowsum; V [keys, headDim] bf16, rows `ldkv` apart.
func softmaxTimesValuesBF16(scores: UnsafeMutablePointer<Float>, qn: Int, keys: Int, headDim hd: Int, v: UnsafePointer<UInt16>, ldkv: Int,
                            inverseSums inv: UnsafeMutablePointer<Float>, numerators p: UnsafeMutablePointer<UInt16>,
                            out: UnsafeMutablePointer<Float>, ldo: Int) {
    Activation.expRowsBF16(scores, rows: qn, cols: keys, inverseSums: inv, out: p)
    numeratorsTimesValuesBF16(p, qn: qn, keys: keys, headDim: hd, v: v, ldkv: ldkv, inverseSums: inv, out: out, ldo: ldo)
}

/// out [qn, headDim] (rows `ldo` apart) = P V / rowsum: numerators P [qn, keys] bf16, V
/// [keys, headDim] bf16 (rows `ldkv` apart), inv[r] = 1 / row r's sum.
func numeratorsTimesValuesBF16(_ p: UnsafePointer<UInt16>, qn: Int, keys: Int, headDim hd: Int, v: UnsafePointer<UInt16>, ldkv: Int,
                               inverseSums inv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>, ldo: Int) {
    OneDNN.matmul(m: qn, n: hd, k: keys, src: p, lda: keys, weights: v, ldb: ldkv, transB: false,
                  bias: nil, out: out, ldo: ldo, accumulate: false)
    for i in 0..<qn {
        let o = out + i * ldo, f = inv[i]
        for c in 0..<hd { o[c] *= f }
    }
}
