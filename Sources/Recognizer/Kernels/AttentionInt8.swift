import CKernels
import Foundation

// The int8 path's global attention (models.precision int8, SAM's global blocks): the
// score product Q K^T in int8, the rest as the bf16 path's (`attendBlockBF16`).
// Queries are quantized per (token, head) to u8 with their minimum, as the int8 Linear
// layers' activations (Int8.swift); keys per (token, head) to s8, symmetric, after
// subtracting each channel's mean over the keys: q · mean is one constant per query,
// which the softmax removes, and a key without the channels' common offset spends its 8
// bits on what tells keys apart (SageAttention's "smoothing K", Zhang et al. 2024). The
// int32 products become fp32 scores with SAM's relative positions added in one pass
// (`Int8Attention.scores`, CKernels' `rs_scores_int8`); then the softmax numerators in
// bf16 (both a row at a time: `Int8Attention.scoresSoftmax`) and P V in bf16 as the bf16
// path does: quantizing P to 8 bits would round the many small weights of a 4,096-key
// softmax to zero. On this Zen 4 a 256 x 4,096 x 64 block
// product takes 0.36 ms in u8 x s8 against 0.66 in bf16 (one core).

/// SAM's relative positions for a query block as two tables (`decomposedRelPosTables`):
/// (head, first query, query count, rh [qn, side], rw [qn, side]).
public typealias RelPosTables = (_ h: Int, _ q0: Int, _ qn: Int, _ rh: UnsafeMutablePointer<Float>, _ rw: UnsafeMutablePointer<Float>) -> Void

public enum Int8Attention {
    /// Whether `scores` runs the AVX-512 kernel on this CPU (every CPU the int8 attention
    /// runs on has it: it needs native bf16 for P V), else the reference loop.
    public static let scoresNative = rs_scores_int8_supported() != 0

    /// out[r, j] = colScales[j] · (rowScales[r] · acc[r, j] + rowMins[r] · colSums[j])
    /// (+ relH[r, ky] + relW[r, kx] for key j = ky · side + kx with tables); out may be
    /// acc's memory.
    public static func scores(_ acc: UnsafePointer<Int32>, rows: Int, cols: Int, rowScales: UnsafePointer<Float>, rowMins: UnsafePointer<Float>,
                              colScales: UnsafePointer<Float>, colSums: UnsafePointer<Float>,
                              relH: UnsafePointer<Float>?, relW: UnsafePointer<Float>?, side: Int, out: UnsafeMutablePointer<Float>) {
        precondition(relH == nil || cols == side * side, "Int8Attention.scores: \(cols) keys for a side of \(side)")
        if scoresNative {
            rs_scores_int8(acc, rows, cols, rowScales, rowMins, colScales, colSums, relH, relW, side, out)
        } else {
            naiveScores(acc, rows: rows, cols: cols, rowScales: rowScales, rowMins: rowMins, colScales: colScales, colSums: colSums,
                        relH: relH, relW: relW, side: side, out: out)
        }
    }

    /// Whether `scoresSoftmax` runs the fused AVX-512 kernel on this CPU.
    public static let scoresSoftmaxNative = scoresNative && Activation.expRowsBF16Native

    /// `scores`, then the bf16 softmax numerators of each row (`Activation.expRowsBF16`):
    /// numerators [rows, cols] bf16, inverseSums[r] = 1 / row r's sum. Where the CPU has the
    /// kernels, one row at a time (`rs_scores_softmax_int8`: the row's scores stay in
    /// `row`, cols floats, and the bits are the two passes'); else the two passes, with the
    /// scores in `scores` [rows, cols] (may be acc's memory). acc is read only on the fused path.
    public static func scoresSoftmax(_ acc: UnsafePointer<Int32>, rows: Int, cols: Int, rowScales: UnsafePointer<Float>, rowMins: UnsafePointer<Float>,
                                     colScales: UnsafePointer<Float>, colSums: UnsafePointer<Float>,
                                     relH: UnsafePointer<Float>?, relW: UnsafePointer<Float>?, side: Int,
                                     row: UnsafeMutablePointer<Float>, scores: UnsafeMutablePointer<Float>,
                                     inverseSums: UnsafeMutablePointer<Float>, numerators: UnsafeMutablePointer<UInt16>) {
        precondition(relH == nil || cols == side * side, "Int8Attention.scoresSoftmax: \(cols) keys for a side of \(side)")
        if scoresSoftmaxNative {
            rs_scores_softmax_int8(acc, rows, cols, rowScales, rowMins, colScales, colSums, relH, relW, side, row, inverseSums, numerators)
            return
        }
        Self.scores(acc, rows: rows, cols: cols, rowScales: rowScales, rowMins: rowMins, colScales: colScales, colSums: colSums,
                    relH: relH, relW: relW, side: side, out: scores)
        Activation.expRowsBF16(scores, rows: rows, cols: cols, inverseSums: inverseSums, out: numerators)
    }

    /// Reference of `scores`, element by element in the same order of operations.
    public static func naiveScores(_ acc: UnsafePointer<Int32>, rows: Int, cols: Int, rowScales: UnsafePointer<Float>, rowMins: UnsafePointer<Float>,
                                   colScales: UnsafePointer<Float>, colSums: UnsafePointer<Float>,
                                   relH: UnsafePointer<Float>?, relW: UnsafePointer<Float>?, side: Int, out: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            for j in 0..<cols {
                var s = colScales[j] * (rowScales[r] * Float(acc[r * cols + j])).addingProduct(rowMins[r], colSums[j])
                if let relH, let relW { s += relH[r * side + j / side] + relW[r * side + j % side] }
                out[r * cols + j] = s
            }
        }
    }

    /// Keys of one head [keys, hd] (rows `ld` apart) minus their per-channel mean, to s8
    /// per key: out [keys, hd], scales[j] = max|k_j - mean| / 127 · `scale`, sums[j] =
    /// Σ_c out[j, c]. `tmp`: keys · hd + hd floats.
    static func quantizeKeys(_ k: UnsafePointer<Float>, ld: Int, keys: Int, headDim hd: Int, scale: Float, out: UnsafeMutablePointer<Int8>,
                             scales: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>, tmp: UnsafeMutablePointer<Float>) {
        let mean = tmp + keys * hd
        mean.update(repeating: 0, count: hd)
        for j in 0..<keys { for c in 0..<hd { mean[c] += k[j * ld + c] } }
        for c in 0..<hd { mean[c] /= Float(keys) }
        for j in 0..<keys { for c in 0..<hd { tmp[j * hd + c] = k[j * ld + c] - mean[c] } }
        let bytes = UnsafeMutableRawPointer(out).assumingMemoryBound(to: UInt8.self)
        Int8Quant.quantizeRows(tmp, ld: hd, rows: keys, cols: hd, offset: 0, out: bytes, scales: scales)
        Int8Quant.rowSums(out, rows: keys, cols: hd, sums: sums)
        for j in 0..<keys { scales[j] *= scale }
    }
}

/// `multiHeadAttentionBF16` with the score product in int8 (batch 1): q quantized per
/// (token, head), k smoothed and quantized per (token, head), v rounded to bf16, once;
/// then per (head, query block) on the recognizer's pool: Q K^T (u8 x s8 -> s32), the
/// scores with `relPos` added, the bf16 softmax numerators, P V in bf16.
/// `naiveMultiHeadAttention` (fp32) is what a test holds it to, with a stated tolerance.
public func multiHeadAttentionInt8(
    _ s: AttentionShape, scale: Float,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, relPos: (side: Int, tables: RelPosTables)? = nil
) {
    precondition(s.batch == 1, "multiHeadAttentionInt8: batch \(s.batch)")
    let heads = s.heads, hd = s.headDim, d = heads * hd, nq = s.queries, nk = s.keys
    // calling thread: q scales and minimums [heads, nq] x2, k scales and sums [heads, nk] x2
    // (f32), v [nk, d] bf16, q [heads, nq, hd] u8, k [heads, nk, hd] s8
    let floats = 2 * heads * nq + 2 * heads * nk
    let raw = ThreadScratch.buffer(.attentionInputs, bytes: floats * 4 + nk * d * 2 + heads * (nq + nk) * hd)
    let qs = raw.bindMemory(to: Float.self, capacity: floats), qm = qs + heads * nq, ks = qm + heads * nq, ksum = ks + heads * nk
    let vb = (raw + floats * 4).bindMemory(to: UInt16.self, capacity: nk * d)
    let qu = (raw + floats * 4 + nk * d * 2).bindMemory(to: UInt8.self, capacity: heads * nq * hd)
    let ku = UnsafeMutableRawPointer(qu + heads * nq * hd).bindMemory(to: Int8.self, capacity: heads * nk * hd)
    Parallel.tasks(heads) { _, h in
        Int8Quant.quantizeRowsAsymmetric(q + h * hd, ld: s.ldq, rows: nq, cols: hd, out: qu + h * nq * hd,
                                         scales: qs + h * nq, minimums: qm + h * nq)
        let tmp = ThreadScratch.buffer(.matmulInput, Float.self, count: nk * hd + hd)
        Int8Attention.quantizeKeys(k + h * hd, ld: s.ldk, keys: nk, headDim: hd, scale: scale, out: ku + h * nk * hd,
                                   scales: ks + h * nk, sums: ksum + h * nk, tmp: tmp)
    }
    BF16.convertRows(v, ld: s.ldv, rows: nk, cols: d, vb)
    let side = relPos?.side ?? 0
    let blocks = (nq + s.blockRows - 1) / s.blockRows
    Parallel.tasks(heads * blocks) { _, t in
        let blk = t % blocks, h = t / blocks
        let q0 = blk * s.blockRows, qn = min(s.blockRows, nq - q0)
        // products then scores [qn, nk] (int32, then f32 in place where the kernels are not
        // fused), 1/sums [qn], rel tables [qn, side] x2, one row of scores [nk] (f32),
        // numerators [qn, nk] bf16
        let extra = qn + 2 * qn * side + nk
        let scratch = ThreadScratch.buffer(.attentionScores, bytes: qn * nk * 6 + extra * 4)
        let acc = scratch.bindMemory(to: Int32.self, capacity: qn * nk)
        let inv = (scratch + qn * nk * 4).bindMemory(to: Float.self, capacity: extra), rh = inv + qn, rw = rh + qn * side
        let row = rw + qn * side
        let p = (scratch + (qn * nk + extra) * 4).bindMemory(to: UInt16.self, capacity: qn * nk)
        OneDNN.matmul(m: qn, n: nk, k: hd, src: qu + (h * nq + q0) * hd, lda: hd, int8Keys: ku + h * nk * hd, ldb: hd, out: acc)
        relPos?.tables(h, q0, qn, rh, rw)
        Int8Attention.scoresSoftmax(acc, rows: qn, cols: nk, rowScales: qs + h * nq + q0, rowMins: qm + h * nq + q0,
                                    colScales: ks + h * nk, colSums: ksum + h * nk,
                                    relH: relPos == nil ? nil : rh, relW: relPos == nil ? nil : rw, side: side,
                                    row: row, scores: UnsafeMutableRawPointer(acc).assumingMemoryBound(to: Float.self),
                                    inverseSums: inv, numerators: p)
        numeratorsTimesValuesBF16(p, qn: qn, keys: nk, headDim: hd, v: vb + h * hd, ldkv: d, inverseSums: inv,
                               out: out + q0 * s.ldo + h * hd, ldo: s.ldo)
    }
}
