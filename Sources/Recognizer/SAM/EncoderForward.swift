import Foundation

// The image encoder's forward pass on preallocated buffers: the residual stream x is
// updated in place (x += Linear(...) as bias rows + a beta = 1 GEMM) and bias + GELU is
// one pass after lin1. Windowed blocks never build the padded window layout: LayerNorm,
// qkv and the projection run on the G*G real tokens, and each (window, head) task
// gathers its window's q, k, v into scratch, the padded positions taking the qkv bias
// (SAM pads the normed input with zeros, so their q, k, v are exactly the bias, and the
// padded keys take part in the softmax). For ViT-B at 1024 that skips the 804 padded
// rows of 4,900 in qkv and the projection. `SAMImageEncoder.referenceBlock` (Tensor
// operations, padded windows, one copy per step) is the reference a test compares with.

/// Buffers for one encoder pass. T = G*G tokens, D. The MLP's hidden activations
/// [T, hidden] reuse `qkv` (sized for the larger of the two: ViT-B at 1024 needs 5 MiB
/// more than qkv alone instead of a separate 48 MiB buffer); with `mlpRows` set, in row
/// chunks of that many rows.
final class EncoderWorkspace {
    let x, h, qkv, att: UnsafeMutableBufferPointer<Float>
    init(tokens t: Int, dim d: Int, hidden: Int, mlpRows: Int? = nil) {
        x = .allocate(capacity: t * d)  // [T, D] residual stream
        h = .allocate(capacity: t * d)  // [T, D] normed input
        qkv = .allocate(capacity: max(t * 3 * d, min(t, mlpRows ?? t) * hidden))  // [T, 3D] or [T, hidden]
        att = .allocate(capacity: t * d)  // [T, D] attention output before the projection
    }
    deinit { for b in [x, h, qkv, att] { b.deallocate() } }
}

/// Tensor weights as pointers for the duration of `body`.
@inline(__always)
func withPointers<R>(_ a: Tensor, _ b: Tensor, _ body: (UnsafePointer<Float>, UnsafePointer<Float>) -> R) -> R {
    a.data.withUnsafeBufferPointer { ap in b.data.withUnsafeBufferPointer { bp in body(ap.baseAddress!, bp.baseAddress!) } }
}

extension SAM {
    /// Encoder attention scores per block (floats, per worker): whole windows, and for
    /// global attention as many grid rows of queries as fit. Bigger blocks repack the keys
    /// less often (OpenBLAS packs K^T once per call); 2^20 = 4 MiB per worker = 4 rows of
    /// 64 queries over 4,096 keys. A tuning knob for benchmarks; set before encoding.
    nonisolated(unsafe) public static var scoreBudget = 1 << 20
}

extension SAMImageEncoder {
    /// All blocks on x [G*G, D] in place.
    func runBlocks(_ ws: EncoderWorkspace) {
        for (i, b) in blocks.enumerated() { fastBlock(b, relH: relH[i], relW: relW[i], ws) }
    }

    func fastBlock(_ b: SAMBlock, relH: [Float], relW: [Float], _ w: EncoderWorkspace) {
        let g = config.grid, d = config.embedDim, t = g * g, hidden = b.lin1W.shape[0]
        let x = w.x.baseAddress!, h = w.h.baseAddress!, att = w.att.baseAddress!, m = w.qkv.baseAddress!
        withPointers(b.norm1w, b.norm1b) { nw1, nb1 in layerNorm(x, rows: t, dim: d, weight: nw1, bias: nb1, eps: 1e-6, out: h) }
        b.qkvW.apply(h, m: t, bias: b.qkvB, out: m)
        if b.window > 0 {
            windowedAttention(b, relH: relH, relW: relW, w, bf16: b.qkvW.attentionInBF16)
        } else {
            globalAttention(b, relH: relH, relW: relW, w, bf16: b.qkvW.attentionInBF16, int8: b.qkvW.attentionInInt8)
        }
        b.projW.apply(att, m: t, bias: b.projB, out: x, accumulate: true)
        // MLP: x += lin2(GELU(lin1(LN(x)))), in row chunks whose [rows, hidden] fit in qkv.
        withPointers(b.norm2w, b.norm2b) { nw2, nb2 in layerNorm(x, rows: t, dim: d, weight: nw2, bias: nb2, eps: 1e-6, out: h) }
        let chunks = (t * hidden + w.qkv.count - 1) / w.qkv.count
        let chunk = (t + chunks - 1) / chunks
        for r0 in stride(from: 0, to: t, by: chunk) {
            let rows = min(chunk, t - r0)
            b.lin1W.applyGelu(h + r0 * d, m: rows, bias: b.lin1B, out: m)
            b.lin2W.apply(m, m: rows, bias: b.lin2B, out: x + r0 * d, accumulate: true)
        }
    }

    /// Global attention of w.qkv [T, 3D] -> w.att [T, D], query blocks of whole grid rows;
    /// both products in bf16 with `bf16` (models.precision bf16, or int8 on a CPU with
    /// native bf16: `LinearWeight.attentionInBF16`); with `int8` Q K^T in int8 and P V in
    /// bf16 (`multiHeadAttentionInt8`, the int8 blocks: `LinearWeight.attentionInInt8`).
    func globalAttention(_ b: SAMBlock, relH: [Float], relW: [Float], _ w: EncoderWorkspace, bf16: Bool = false, int8: Bool = false) {
        let g = config.grid, d = config.embedDim, heads = config.heads, hd = d / heads, t = g * g
        let base = w.qkv.baseAddress!
        let rowsPerBlock = max(1, min(g, SAM.scoreBudget / (t * g)))
        let shape = AttentionShape(queries: t, keys: t, heads: heads, headDim: hd, ldq: 3 * d, ldk: 3 * d, ldv: 3 * d, ldo: d,
                                   blockRows: rowsPerBlock * g)
        withPointers(Tensor(shape: [relH.count], data: relH), Tensor(shape: [relW.count], data: relW)) { rh, rw in
            if int8 {
                let tables: RelPosTables = { h, q0, qn, th, tw in
                    decomposedRelPosTables(q: base + h * hd, ldq: 3 * d, headDim: hd, side: g, q0: q0, qn: qn, relH: rh, relW: rw, rh: th, rw: tw)
                }
                multiHeadAttentionInt8(shape, scale: 1 / Float(hd).squareRoot(), q: base, k: base + d, v: base + 2 * d,
                                       out: w.att.baseAddress!, relPos: (g, tables))
                return
            }
            let bias: AttentionBias = { _, h, q0, qn, scores, _ in
                addDecomposedRelPos(q: base + h * hd, ldq: 3 * d, headDim: hd, side: g, q0: q0, qn: qn, relH: rh, relW: rw, scores: scores)
            }
            let attend = bf16 ? multiHeadAttentionBF16 : multiHeadAttention
            attend(shape, 1 / Float(hd).squareRoot(), base, base + d, base + 2 * d, w.att.baseAddress!, bias)
        }
    }

    /// Windowed attention of w.qkv [T, 3D] (real tokens) -> w.att [T, D]: one task per
    /// (window, head) gathers the window's q, k, v [ws*ws, hd] (padded positions: the qkv
    /// bias), attends with SAM's relative positions, and scatters the real queries' outputs.
    /// With `bf16`, both products in bf16 (`attendBlockBF16`, as global attention does).
    func windowedAttention(_ b: SAMBlock, relH: [Float], relW: [Float], _ w: EncoderWorkspace, bf16: Bool = false) {
        let g = config.grid, d = config.embedDim, heads = config.heads, hd = d / heads
        let ws = b.window, nw = (g + ws - 1) / ws, n = ws * ws, scale = 1 / Float(hd).squareRoot()
        let qkv = UnsafePointer(w.qkv.baseAddress!), att = w.att.baseAddress!
        let per = 4 * n * hd + n * n + n  // q, k, v, out [n, hd]; scores [n, n]; 1/sums [n]
        let workers = min(Parallel.workers, nw * nw * heads)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: per * workers)
        defer { scratch.deallocate() }
        let perBF16 = 3 * n * hd  // q, k, v [n, hd] in bf16
        let scratchBF16 = bf16 ? UnsafeMutablePointer<UInt16>.allocate(capacity: perBF16 * workers) : nil
        defer { scratchBF16?.deallocate() }
        withPointers(b.qkvB, Tensor(shape: [relH.count], data: relH)) { qb, rh in
            relW.withUnsafeBufferPointer { rwb in
                let rw = rwb.baseAddress!
                Parallel.tasks(nw * nw * heads) { worker, task in
                    let win = task / heads, h = task % heads, wy = win / nw, wx = win % nw
                    let q = scratch + worker * per, k = q + n * hd, v = k + n * hd, o = v + n * hd, s = o + n * hd, inv = s + n * n
                    for i in 0..<n {  // gather [n, hd] x3; a padded position's input is 0 -> q, k, v = bias
                        let y = wy * ws + i / ws, xx = wx * ws + i % ws
                        let src = y < g && xx < g ? qkv + (y * g + xx) * 3 * d : qb
                        (q + i * hd).update(from: src + h * hd, count: hd)
                        (k + i * hd).update(from: src + d + h * hd, count: hd)
                        (v + i * hd).update(from: src + 2 * d + h * hd, count: hd)
                    }
                    if let scratchBF16 {  // o = normalized output, inv unused
                        let qb = scratchBF16 + worker * perBF16, kb = qb + n * hd, vb = kb + n * hd
                        BF16.convert(q, qb, count: 3 * n * hd)  // q, k, v are contiguous
                        attendBlockBF16(qn: n, keys: n, headDim: hd, scale: scale, q: qb, ldq: hd, k: kb, v: vb, ldkv: hd,
                                        out: o, ldo: hd) { scores in
                            addDecomposedRelPos(q: q, ldq: hd, headDim: hd, side: ws, q0: 0, qn: n, relH: rh, relW: rw, scores: scores)
                        }
                        for i in 0..<n { inv[i] = 1 }
                    } else {
                        Gemm.sgemm(transB: true, m: n, n: n, k: hd, alpha: scale, a: q, lda: hd, b: k, ldb: hd, c: s, ldc: n)
                        addDecomposedRelPos(q: q, ldq: hd, headDim: hd, side: ws, q0: 0, qn: n, relH: rh, relW: rw, scores: s)
                        Activation.expRows(s, rows: n, cols: n, inverseSums: inv)
                        Gemm.sgemm(m: n, n: hd, k: n, a: s, lda: n, b: v, ldb: hd, c: o, ldc: hd)
                    }
                    for i in 0..<n {  // scatter the real queries: att[token, h*hd..] = o[i] / sum
                        let y = wy * ws + i / ws, xx = wx * ws + i % ws
                        guard y < g && xx < g else { continue }
                        let dst = att + (y * g + xx) * d + h * hd, src = o + i * hd, f = inv[i]
                        for c in 0..<hd { dst[c] = src[c] * f }
                    }
                }
            }
        }
    }
}
