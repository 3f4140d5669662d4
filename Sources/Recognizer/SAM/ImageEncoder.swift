import Foundation

// SAM image encoder (segment_anything/modeling/image_encoder.py, ImageEncoderViT):
// patch embedding 16x16 -> + absolute pos-embed -> blocks (pre-LN eps 1e-6, windowed or
// global attention with decomposed relative position bias, MLP ratio 4 with GELU) ->
// neck (1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d). Activations are channels-last
// tokens [G*G, D]; the output image embedding is [G*G, C] (channels-last of [C, G, G]).

struct SAMBlock {
    let norm1w, norm1b, qkvB, projB, norm2w, norm2b, lin1B, lin2B: Tensor
    let qkvW, projW, lin1W, lin2W: LinearWeight  // [3D, D], [D, D], [4D, D], [D, 4D]
    let relPosH, relPosW: Tensor  // [2S-1, hd] as stored
    let window: Int  // 0 = global

    init(_ w: WeightSource, _ i: Int, dim: Int, window: Int) throws(RecognizerError) {
        let p = "image_encoder.blocks.\(i)."
        norm1w = try w.tensor(p + "norm1.weight", shape: [dim]); norm1b = try w.tensor(p + "norm1.bias", shape: [dim])
        qkvW = try w.linearWeight(p + "attn.qkv.weight", shape: [3 * dim, dim]); qkvB = try w.tensor(p + "attn.qkv.bias", shape: [3 * dim])
        projW = try w.linearWeight(p + "attn.proj.weight", shape: [dim, dim]); projB = try w.tensor(p + "attn.proj.bias", shape: [dim])
        norm2w = try w.tensor(p + "norm2.weight", shape: [dim]); norm2b = try w.tensor(p + "norm2.bias", shape: [dim])
        lin1W = try w.linearWeight(p + "mlp.lin1.weight", shape: [-1, dim]); lin1B = try w.tensor(p + "mlp.lin1.bias", shape: [lin1W.shape[0]])
        lin2W = try w.linearWeight(p + "mlp.lin2.weight", shape: [dim, lin1W.shape[0]]); lin2B = try w.tensor(p + "mlp.lin2.bias", shape: [dim])
        relPosH = try w.tensor(p + "attn.rel_pos_h", shape: [-1, -1]); relPosW = try w.tensor(p + "attn.rel_pos_w", shape: [-1, -1])
        self.window = window
    }
}

/// Relative position table for q_size = k_size = `size`: gathered[qi][ki] =
/// table[qi - ki + size - 1], the table first linearly resized (torch F.interpolate
/// 'linear', align_corners=False) when it was trained for another size. -> [size, size, hd]
func gatherRelPos(_ table: Tensor, size: Int) -> [Float] {
    let hd = table.shape[1], needed = 2 * size - 1
    var t = table
    if table.shape[0] != needed {
        let n = table.shape[0]
        var r = [Float](repeating: 0, count: needed * hd)
        let scale = Float(n) / Float(needed)
        for o in 0..<needed {
            var src = (Float(o) + 0.5) * scale - 0.5
            if src < 0 { src = 0 }
            let i0 = min(Int(src), n - 1), i1 = min(i0 + 1, n - 1), l = src - Float(i0)
            for c in 0..<hd { r[o * hd + c] = (1 - l) * table.data[i0 * hd + c] + l * table.data[i1 * hd + c] }
        }
        t = Tensor(shape: [needed, hd], data: r)
    }
    var g = [Float](repeating: 0, count: size * size * hd)
    for qi in 0..<size {
        for ki in 0..<size {
            let src = (qi - ki + size - 1) * hd
            for c in 0..<hd { g[(qi * size + ki) * hd + c] = t.data[src + c] }
        }
    }
    return g
}

struct SAMImageEncoder {
    let config: SAMConfig
    let patchB, posEmbed: Tensor
    let blocks: [SAMBlock]
    let neck1w, neck1b, neck3w, neck3b: Tensor
    /// The patch embedding's and the neck's convolutions as Linear weights over their
    /// im2col columns: [D, 3·p·p], [C, D], [C, 9·C] (Precision.bf16Products: bf16 under bf16
    /// and int8 on a CPU with native bf16, else fp32).
    let patchLinear, neck0Linear, neck2Linear: LinearWeight
    /// Per block: gathered rel-pos tables [S, S, hd] for h and w.
    let relH: [[Float]], relW: [[Float]]

    init(_ w: WeightSource, _ c: SAMConfig) throws(RecognizerError) {
        config = c
        let d = c.embedDim, p = c.patchSize, g = c.grid
        let patchW = try w.tensor("image_encoder.patch_embed.proj.weight", shape: [d, 3, p, p])
        patchB = try w.tensor("image_encoder.patch_embed.proj.bias", shape: [d])
        posEmbed = try w.tensor("image_encoder.pos_embed", shape: [1, g, g, d])
        var blocks: [SAMBlock] = []
        var relH: [[Float]] = [], relW: [[Float]] = []
        for i in 0..<c.depth {
            let win = c.globalBlocks.contains(i) ? 0 : c.windowSize
            let b = try SAMBlock(w.forBlock(i), i, dim: d, window: win)
            let size = win == 0 ? g : win
            relH.append(gatherRelPos(b.relPosH, size: size))
            relW.append(gatherRelPos(b.relPosW, size: size))
            blocks.append(b)
        }
        self.blocks = blocks; self.relH = relH; self.relW = relW
        let oc = c.promptDim
        let neck0 = try w.tensor("image_encoder.neck.0.weight", shape: [oc, d, 1, 1])
        neck1w = try w.tensor("image_encoder.neck.1.weight", shape: [oc]); neck1b = try w.tensor("image_encoder.neck.1.bias", shape: [oc])
        let neck2 = try w.tensor("image_encoder.neck.2.weight", shape: [oc, oc, 3, 3])
        neck3w = try w.tensor("image_encoder.neck.3.weight", shape: [oc]); neck3b = try w.tensor("image_encoder.neck.3.bias", shape: [oc])
        let convs: Precision = w.precision.bf16Products ? .bf16 : .fp32
        patchLinear = LinearWeight(patchW.reshaped([d, 3 * p * p]), precision: convs)
        neck0Linear = LinearWeight(neck0.reshaped([oc, d]), precision: convs)
        neck2Linear = LinearWeight(neck2.reshaped([oc, oc * 9]), precision: convs)
    }

    /// input [3, S, S] normalized and padded -> image embedding [G*G, C].
    func callAsFunction(_ input: Tensor) -> Tensor {
        let g = config.grid
        var x = linear(patchColumns(input, patch: config.patchSize), patchLinear, patchB)  // [G*G, D]
        x = x + posEmbed
        let ws = EncoderWorkspace(tokens: g * g, dim: config.embedDim, hidden: blocks.first?.lin1W.shape[0] ?? 0)
        x.data.withUnsafeBufferPointer { ws.x.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
        runBlocks(ws)
        x.data.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: ws.x.baseAddress!, count: $0.count) }
        // neck
        var y = linear(x, neck0Linear, nil)
        y = y.layerNorm(neck1w, neck1b, eps: 1e-6)
        y = linear(conv3x3Columns(y, height: g, width: g), neck2Linear, nil)
        return y.layerNorm(neck3w, neck3b, eps: 1e-6)
    }

    /// One transformer block on x [G*G, D] with Tensor operations: the reference for
    /// `fastBlock` (EncoderForward.swift).
    func referenceBlock(_ x: Tensor, _ b: SAMBlock, relH: [Float], relW: [Float]) -> Tensor {
        let g = config.grid, d = config.embedDim
        let h = x.layerNorm(b.norm1w, b.norm1b, eps: 1e-6)
        var a: Tensor
        if b.window > 0 {
            let ws = b.window, nw = (g + ws - 1) / ws  // windows per side after padding
            let parts = windowPartition(h, grid: g, window: ws)  // [nw*nw*ws*ws, D]
            let att = attention(parts, b, batch: nw * nw, side: ws, relH: relH, relW: relW)
            a = windowUnpartition(att, grid: g, window: ws)
        } else {
            a = attention(h, b, batch: 1, side: g, relH: relH, relW: relW)
        }
        var y = x + a
        var m = linear(y.layerNorm(b.norm2w, b.norm2b, eps: 1e-6), b.lin1W, b.lin1B).gelu()
        m = linear(m, b.lin2W, b.lin2B)
        y = y + m
        _ = d
        return y
    }

    /// Attention over `batch` square sequences of side `side` (tokens [batch*side*side, D]).
    func attention(_ x: Tensor, _ b: SAMBlock, batch: Int, side: Int, relH: [Float], relW: [Float]) -> Tensor {
        let d = config.embedDim, heads = config.heads, hd = d / heads, t = side * side
        let qkv = linear(x, b.qkvW, b.qkvB)  // [batch*t, 3D]: q | k | v, each heads x hd
        var out = [Float](repeating: 0, count: batch * t * d)
        let rowsPerBlock = max(1, min(side, (1 << 18) / (t * side)))
        let shape = AttentionShape(
            batch: batch, queries: t, keys: t, heads: heads, headDim: hd,
            ldq: 3 * d, ldk: 3 * d, ldv: 3 * d, ldo: d,
            batchStrideQ: t * 3 * d, batchStrideK: t * 3 * d, batchStrideV: t * 3 * d, batchStrideO: t * d,
            blockRows: rowsPerBlock * side)
        qkv.data.withUnsafeBufferPointer { qp in
            relH.withUnsafeBufferPointer { rh in
                relW.withUnsafeBufferPointer { rw in
                    out.withUnsafeMutableBufferPointer { op in
                        let base = qp.baseAddress!
                        let bias: AttentionBias = { bi, h, q0, qn, scores, _ in
                            addDecomposedRelPos(
                                q: base + bi * t * 3 * d + h * hd, ldq: 3 * d, headDim: hd, side: side,
                                q0: q0, qn: qn, relH: rh.baseAddress!, relW: rw.baseAddress!, scores: scores)
                        }
                        multiHeadAttention(
                            shape, scale: 1 / Float(hd).squareRoot(), q: base, k: base + d, v: base + 2 * d,
                            out: op.baseAddress!, bias: bias)
                    }
                }
            }
        }
        return linear(Tensor(shape: [batch * t, d], data: out), b.projW, b.projB)
    }
}

/// scores[i, ky*side + kx] += <q_i, Rh[y_i, ky]> + <q_i, Rw[x_i, kx]> for the query block
/// q0..<q0+qn (whole rows of the side x side grid), q unscaled as in SAM.
/// relH / relW: gathered [side, side, hd].
func addDecomposedRelPos(
    q: UnsafePointer<Float>, ldq: Int, headDim hd: Int, side: Int, q0: Int, qn: Int,
    relH: UnsafePointer<Float>, relW: UnsafePointer<Float>, scores: UnsafeMutablePointer<Float>
) {
    let rh = UnsafeMutablePointer<Float>.allocate(capacity: qn * side)  // [qn, side(ky)]
    let rw = UnsafeMutablePointer<Float>.allocate(capacity: qn * side)  // [qn, side(kx)]
    defer { rh.deallocate(); rw.deallocate() }
    decomposedRelPosTables(q: q, ldq: ldq, headDim: hd, side: side, q0: q0, qn: qn, relH: relH, relW: relW, rh: rh, rw: rw)
    let keys = side * side
    for i in 0..<qn {
        let srow = scores + i * keys
        let hrow = rh + i * side, wrow = rw + i * side
        for ky in 0..<side {
            let hv = hrow[ky]
            let s = srow + ky * side
            for kx in 0..<side { s[kx] += hv + wrow[kx] }
        }
    }
}

/// The two tables of SAM's decomposed relative positions for the query block q0..<q0+qn
/// (whole rows of the side x side grid): rh [qn, side(ky)] = <q_i, Rh[y_i, ky]>,
/// rw [qn, side(kx)] = <q_i, Rw[x_i, kx]>; key (ky, kx) of query i gets rh[i, ky] + rw[i, kx].
func decomposedRelPosTables(
    q: UnsafePointer<Float>, ldq: Int, headDim hd: Int, side: Int, q0: Int, qn: Int,
    relH: UnsafePointer<Float>, relW: UnsafePointer<Float>, rh: UnsafeMutablePointer<Float>, rw: UnsafeMutablePointer<Float>
) {
    let rows = qn / side, y0 = q0 / side
    // rh[(y,x), ky] = Q[y, x, :] . Rh[y, ky, :]  — one GEMM per query row y
    for r in 0..<rows {
        Gemm.sgemm(transB: true, m: side, n: side, k: hd, a: q + (q0 + r * side) * ldq, lda: ldq,
                   b: relH + (y0 + r) * side * hd, ldb: hd, c: rh + r * side * side, ldc: side)
    }
    // rw[(y,x), kx] = Q[y, x, :] . Rw[x, kx, :]  — one GEMM per query column x
    for x in 0..<side {
        Gemm.sgemm(transB: true, m: rows, n: side, k: hd, a: q + (q0 + x) * ldq, lda: ldq * side,
                   b: relW + x * side * hd, ldb: hd, c: rw + x * side, ldc: side * side)
    }
}

/// [G*G, D] -> zero-padded windows [nw*nw * ws*ws, D] (window-major, row-major inside).
func windowPartition(_ x: Tensor, grid g: Int, window ws: Int) -> Tensor {
    let d = x.shape[1], nw = (g + ws - 1) / ws
    var out = [Float](repeating: 0, count: nw * nw * ws * ws * d)
    x.data.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for wy in 0..<nw { for wx in 0..<nw { for iy in 0..<ws {
                let y = wy * ws + iy
                if y >= g { continue }
                for ix in 0..<ws {
                    let xx = wx * ws + ix
                    if xx >= g { continue }
                    let o = (((wy * nw + wx) * ws + iy) * ws + ix) * d
                    (dst.baseAddress! + o).update(from: src.baseAddress! + (y * g + xx) * d, count: d)
                }
            } } }
        }
    }
    return Tensor(shape: [nw * nw * ws * ws, d], data: out)
}

/// Inverse of `windowPartition`, cropping the padding.
func windowUnpartition(_ x: Tensor, grid g: Int, window ws: Int) -> Tensor {
    let d = x.shape[1], nw = (g + ws - 1) / ws
    var out = [Float](repeating: 0, count: g * g * d)
    x.data.withUnsafeBufferPointer { src in
        out.withUnsafeMutableBufferPointer { dst in
            for y in 0..<g { for xx in 0..<g {
                let o = (((y / ws) * nw + xx / ws) * ws + y % ws) * ws + xx % ws
                (dst.baseAddress! + (y * g + xx) * d).update(from: src.baseAddress! + o * d, count: d)
            } }
        }
    }
    return Tensor(shape: [g * g, d], data: out)
}
