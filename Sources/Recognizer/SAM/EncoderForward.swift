import Foundation

// The image encoder's forward pass on preallocated buffers: the residual stream x is
// updated in place (x += Linear(...) as bias rows + a beta = 1 GEMM), LayerNorm writes
// straight into the window-partitioned layout, bias + GELU is one pass after lin1, and
// unpartition is fused with the residual add. `SAMImageEncoder.referenceBlock` (Tensor
// operations, one copy per step) is the reference a test compares this with.

/// Buffers for one encoder pass. T = G*G tokens, P = padded window tokens, D. The MLP's
/// hidden activations [T, hidden] reuse `qkv` (sized for the larger of the two: ViT-B at
/// 1024 needs 5 MiB more than qkv alone instead of a separate 48 MiB buffer); with
/// `mlpRows` set, in row chunks of that many rows.
final class EncoderWorkspace {
    let x, h, qkv, att: UnsafeMutableBufferPointer<Float>
    init(tokens t: Int, padded p: Int, dim d: Int, hidden: Int, mlpRows: Int? = nil) {
        let rows = max(t, p)
        x = .allocate(capacity: t * d)  // [T, D] residual stream
        h = .allocate(capacity: rows * d)  // [max(T,P), D] normed / partitioned input, proj output
        qkv = .allocate(capacity: max(rows * 3 * d, min(t, mlpRows ?? t) * hidden))  // [max(T,P), 3D] or [T, hidden]
        att = .allocate(capacity: rows * d)  // [max(T,P), D]
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
    /// Padded window tokens for a window size (0 = global: no padding).
    func paddedTokens(window ws: Int) -> Int {
        let g = config.grid
        guard ws > 0 else { return g * g }
        let nw = (g + ws - 1) / ws
        return nw * nw * ws * ws
    }

    /// All blocks on x [G*G, D] in place.
    func runBlocks(_ ws: EncoderWorkspace) {
        for (i, b) in blocks.enumerated() { fastBlock(b, relH: relH[i], relW: relW[i], ws) }
    }

    func fastBlock(_ b: SAMBlock, relH: [Float], relW: [Float], _ w: EncoderWorkspace) {
        let g = config.grid, d = config.embedDim, t = g * g, hidden = b.lin1W.shape[0]
        let x = w.x.baseAddress!, h = w.h.baseAddress!, att = w.att.baseAddress!, m = w.qkv.baseAddress!
        if b.window > 0 {
            let ws = b.window, nw = (g + ws - 1) / ws, p = nw * nw * ws * ws
            withPointers(b.norm1w, b.norm1b) { nw1, nb1 in
                layerNormPartition(x, grid: g, window: ws, dim: d, weight: nw1, bias: nb1, eps: 1e-6, out: h)
            }
            fastAttention(h, b, batch: nw * nw, side: ws, relH: relH, relW: relW, w)
            withPointers(b.projW, b.projB) { pw, pb in linearInto(att, m: p, k: d, pw, pb, n: d, out: h) }
            unpartitionAdd(h, into: x, grid: g, window: ws, dim: d)
        } else {
            withPointers(b.norm1w, b.norm1b) { nw1, nb1 in layerNorm(x, rows: t, dim: d, weight: nw1, bias: nb1, eps: 1e-6, out: h) }
            fastAttention(h, b, batch: 1, side: g, relH: relH, relW: relW, w)
            withPointers(b.projW, b.projB) { pw, pb in addLinear(x, att, m: t, k: d, pw, pb, n: d) }
        }
        // MLP: x += lin2(GELU(lin1(LN(x)))), in row chunks whose [rows, hidden] fit in qkv.
        withPointers(b.norm2w, b.norm2b) { nw2, nb2 in layerNorm(x, rows: t, dim: d, weight: nw2, bias: nb2, eps: 1e-6, out: h) }
        let chunks = (t * hidden + w.qkv.count - 1) / w.qkv.count
        let chunk = (t + chunks - 1) / chunks
        for r0 in stride(from: 0, to: t, by: chunk) {
            let rows = min(chunk, t - r0)
            withPointers(b.lin1W, b.lin1B) { w1, b1 in
                Gemm.sgemm(transB: true, m: rows, n: hidden, k: d, a: h + r0 * d, lda: d, b: w1, ldb: d, c: m, ldc: hidden)
                biasGelu(m, rows: rows, cols: hidden, bias: b1)
            }
            withPointers(b.lin2W, b.lin2B) { w2, b2 in addLinear(x + r0 * d, m, m: rows, k: hidden, w2, b2, n: d) }
        }
    }

    /// qkv projection and windowed/global attention of `src` [batch*side*side, D] -> w.att.
    func fastAttention(_ src: UnsafePointer<Float>, _ b: SAMBlock, batch: Int, side: Int, relH: [Float], relW: [Float], _ w: EncoderWorkspace) {
        let d = config.embedDim, heads = config.heads, hd = d / heads, t = side * side
        let base = w.qkv.baseAddress!
        withPointers(b.qkvW, b.qkvB) { qw, qb in linearInto(src, m: batch * t, k: d, qw, qb, n: 3 * d, out: base) }
        let rowsPerBlock = max(1, min(side, SAM.scoreBudget / (t * side)))
        let shape = AttentionShape(
            batch: batch, queries: t, keys: t, heads: heads, headDim: hd,
            ldq: 3 * d, ldk: 3 * d, ldv: 3 * d, ldo: d,
            batchStrideQ: t * 3 * d, batchStrideK: t * 3 * d, batchStrideV: t * 3 * d, batchStrideO: t * d,
            blockRows: rowsPerBlock * side)
        withPointers(Tensor(shape: [relH.count], data: relH), Tensor(shape: [relW.count], data: relW)) { rh, rw in
            let bias: AttentionBias = { bi, h, q0, qn, scores, _ in
                addDecomposedRelPos(q: base + bi * t * 3 * d + h * hd, ldq: 3 * d, headDim: hd, side: side,
                                    q0: q0, qn: qn, relH: rh, relW: rw, scores: scores)
            }
            multiHeadAttention(shape, scale: 1 / Float(hd).squareRoot(), q: base, k: base + d, v: base + 2 * d,
                               out: w.att.baseAddress!, bias: bias)
        }
    }
}

/// LayerNorm of x [G*G, D] written into zero-padded windows [nw*nw*ws*ws, D]
/// (= windowPartition(x.layerNorm(...))), windows in parallel.
func layerNormPartition(_ x: UnsafePointer<Float>, grid g: Int, window ws: Int, dim d: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        eps: Float, out: UnsafeMutablePointer<Float>) {
    let nw = (g + ws - 1) / ws
    Parallel.forRanges(nw * nw * ws, grain: 1) { r in
        for wrow in r {  // (window, row inside the window)
            let win = wrow / ws, iy = wrow % ws, wy = win / nw, wx = win % nw, y = wy * ws + iy
            for ix in 0..<ws {
                let o = out + ((win * ws + iy) * ws + ix) * d, xx = wx * ws + ix
                if y < g && xx < g {
                    layerNormRow(x + (y * g + xx) * d, o, dim: d, weight: weight, bias: bias, eps: eps)
                } else {
                    o.update(repeating: 0, count: d)
                }
            }
        }
    }
}

/// x [G*G, D] += windowUnpartition(src [nw*nw*ws*ws, D]), rows in parallel.
func unpartitionAdd(_ src: UnsafePointer<Float>, into x: UnsafeMutablePointer<Float>, grid g: Int, window ws: Int, dim d: Int) {
    let nw = (g + ws - 1) / ws
    Parallel.forRanges(g, grain: 1) { r in
        for y in r {
            for xx in 0..<g {
                let s = src + ((((y / ws) * nw + xx / ws) * ws + y % ws) * ws + xx % ws) * d
                let o = x + (y * g + xx) * d
                for c in 0..<d { o[c] += s[c] }
            }
        }
    }
}
