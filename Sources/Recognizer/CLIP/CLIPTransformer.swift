import Foundation

// The residual attention block stack shared by CLIP's vision and text towers
// (OpenAI clip/model.py ResidualAttentionBlock): x += attn(ln_1(x)); x += mlp(ln_2(x)),
// mlp = c_fc -> QuickGELU (OpenAI weights) or GELU -> c_proj. LayerNorm eps 1e-5.

struct CLIPBlock {
    let ln1w, ln1b, inB, outB, ln2w, ln2b, fcB, projB: Tensor
    let inW, outW, fcW, projW: LinearWeight  // [3W, W], [W, W], [4W, W], [W, 4W]

    init(_ w: WeightSource, _ p: String, width: Int) throws(RecognizerError) {
        ln1w = try w.tensor(p + ".ln_1.weight", shape: [width]); ln1b = try w.tensor(p + ".ln_1.bias", shape: [width])
        let (iw, ib) = try w.clipInProj(p, width: width)
        (inW, inB) = (LinearWeight(iw, precision: w.precision), ib)
        outW = try w.linearWeight(p + ".attn.out_proj.weight", shape: [width, width]); outB = try w.tensor(p + ".attn.out_proj.bias", shape: [width])
        ln2w = try w.tensor(p + ".ln_2.weight", shape: [width]); ln2b = try w.tensor(p + ".ln_2.bias", shape: [width])
        fcW = try w.linearWeight(p + ".mlp.c_fc.weight", shape: [-1, width]); fcB = try w.tensor(p + ".mlp.c_fc.bias", shape: [fcW.shape[0]])
        projW = try w.linearWeight(p + ".mlp.c_proj.weight", shape: [width, fcW.shape[0]]); projB = try w.tensor(p + ".mlp.c_proj.bias", shape: [width])
    }
}

struct CLIPTransformer {
    let blocks: [CLIPBlock]
    let width: Int, heads: Int
    let quickGelu: Bool

    init(_ w: WeightSource, prefix: String, width: Int, heads: Int, quickGelu: Bool = true) throws(RecognizerError) {
        let n = w.count(prefix + ".{i}.ln_1.weight")
        guard n > 0 else { throw RecognizerError("\(w.fileNames): no \(prefix).* blocks") }
        guard heads > 0, width % heads == 0 else { throw RecognizerError("\(w.fileNames): \(prefix): width \(width) does not split into \(heads) heads") }
        var b: [CLIPBlock] = []
        for i in 0..<n { b.append(try CLIPBlock(w.forBlock(i), "\(prefix).\(i)", width: width)) }
        blocks = b; self.width = width; self.heads = heads; self.quickGelu = quickGelu
    }

    /// x [B*T, W] for B sequences of T tokens; `causal` masks future positions (text).
    /// The residual stream is updated in place on preallocated buffers (LayerNorm into a
    /// buffer, x += Linear as bias rows + a beta = 1 GEMM, bias + activation as one pass);
    /// `reference` below is the same computation with Tensor operations.
    func callAsFunction(_ x: Tensor, batch: Int, tokens t: Int, causal: Bool) -> Tensor {
        var x = x
        let w = width, hd = w / heads, rows = batch * t, hidden = blocks.first?.fcW.shape[0] ?? 0
        let h = UnsafeMutablePointer<Float>.allocate(capacity: rows * w), att = UnsafeMutablePointer<Float>.allocate(capacity: rows * w)
        let qkv = UnsafeMutablePointer<Float>.allocate(capacity: rows * 3 * w), m = UnsafeMutablePointer<Float>.allocate(capacity: rows * hidden)
        defer { h.deallocate(); att.deallocate(); qkv.deallocate(); m.deallocate() }
        let s = AttentionShape(batch: batch, queries: t, keys: t, heads: heads, headDim: hd,
                               ldq: 3 * w, ldk: 3 * w, ldv: 3 * w, ldo: w,
                               batchStrideQ: t * 3 * w, batchStrideK: t * 3 * w, batchStrideV: t * 3 * w, batchStrideO: t * w)
        let mask: AttentionBias? = causal ? { _, _, q0, qn, scores, _ in
            for i in 0..<qn {
                let row = scores + i * t
                for j in (q0 + i + 1)..<max(t, q0 + i + 1) { row[j] = -.infinity }
            }
        } : nil
        x.data.withUnsafeMutableBufferPointer { xb in
            let xp = xb.baseAddress!
            for b in blocks {
                withPointers(b.ln1w, b.ln1b) { lw, lb in layerNorm(xp, rows: rows, dim: w, weight: lw, bias: lb, eps: 1e-5, out: h) }
                b.inW.apply(h, m: rows, bias: b.inB, out: qkv)
                multiHeadAttention(s, scale: 1 / Float(hd).squareRoot(), q: qkv, k: qkv + w, v: qkv + 2 * w, out: att, bias: mask)
                b.outW.apply(att, m: rows, bias: b.outB, out: xp, accumulate: true)
                withPointers(b.ln2w, b.ln2b) { lw, lb in layerNorm(xp, rows: rows, dim: w, weight: lw, bias: lb, eps: 1e-5, out: h) }
                b.fcW.apply(h, m: rows, bias: nil, out: m)
                b.fcB.data.withUnsafeBufferPointer { fbb in
                    let fb = fbb.baseAddress!
                    if quickGelu { biasQuickGelu(m, rows: rows, cols: hidden, bias: fb) } else { biasGelu(m, rows: rows, cols: hidden, bias: fb) }
                }
                b.projW.apply(m, m: rows, bias: b.projB, out: xp, accumulate: true)
            }
        }
        return x
    }

    /// Reference for `callAsFunction` with Tensor operations (one copy per step).
    func reference(_ x: Tensor, batch: Int, tokens t: Int, causal: Bool) -> Tensor {
        var x = x
        let w = width, hd = w / heads
        for b in blocks {
            let qkv = linear(x.layerNorm(b.ln1w, b.ln1b, eps: 1e-5), b.inW, b.inB)  // [B*T, 3W]
            var att = [Float](repeating: 0, count: batch * t * w)
            let s = AttentionShape(batch: batch, queries: t, keys: t, heads: heads, headDim: hd,
                                   ldq: 3 * w, ldk: 3 * w, ldv: 3 * w, ldo: w,
                                   batchStrideQ: t * 3 * w, batchStrideK: t * 3 * w, batchStrideV: t * 3 * w, batchStrideO: t * w)
            qkv.data.withUnsafeBufferPointer { qp in
                att.withUnsafeMutableBufferPointer { op in
                    let mask: AttentionBias? = causal ? { _, _, q0, qn, scores, _ in
                        for i in 0..<qn {
                            let row = scores + i * t
                            for j in (q0 + i + 1)..<max(t, q0 + i + 1) { row[j] = -.infinity }
                        }
                    } : nil
                    multiHeadAttention(s, scale: 1 / Float(hd).squareRoot(), q: qp.baseAddress!, k: qp.baseAddress! + w,
                                       v: qp.baseAddress! + 2 * w, out: op.baseAddress!, bias: mask)
                }
            }
            x = x + linear(Tensor(shape: [batch * t, w], data: att), b.outW, b.outB)
            var m = linear(x.layerNorm(b.ln2w, b.ln2b, eps: 1e-5), b.fcW, b.fcB)
            m = quickGelu ? m.quickGelu() : m.gelu()
            x = x + linear(m, b.projW, b.projB)
        }
        return x
    }
}
