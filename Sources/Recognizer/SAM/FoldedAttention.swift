import Foundation

// The mask decoder's cross-attentions once every prompt has its own image keys (after
// layer 0): a handful of prompt tokens (nq ~ 7) against G*G image tokens. Projecting
// the image side ([hw, C] x [C, inner] for k, v or q, then out_proj) costs far more than
// the attention itself, so the projections are folded into the token side instead:
//
//   token -> image:  s_h = (q_h Wk_h) (keys+pe)^T,  o_h = (P_h keys) Wv_h^T + bv_h
//   image -> token:  s_h = (keys+pe) (k_h Wq_h)^T + bq_h.k_h,
//                    upd = sum_h P_h (v_h Wo_h^T) + bo
//
// (W*_h: the head's rows of a [inner, C] projection; Wo_h: its columns of [C, inner].)
// The key bias bk drops out of token->image (a per-row constant under softmax). Same
// results as `SAMAttention.attend` up to float rounding, ~2.3x fewer FLOPs per prompt.
// With `bf16` (bf16 and int8, `SAMMaskDecoder.productsInBF16`) the products with the
// image tokens (the [*, G*G] ones) run in bf16 through oneDNN (GemmBF16), the rest fp32.

extension SAMAttention {
    /// Token -> image for one prompt. q: projected queries [nr, inner] (ld `ldq`);
    /// keysPE, keys: [hw, C] -> out: attention output before out_proj [nr, inner].
    /// scratch: >= heads*nr*(C + hw) + heads*nr*C floats.
    func foldedTokenToImage(q: UnsafePointer<Float>, ldq: Int, nr: Int, keysPE: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                            hw: Int, dim c: Int, heads: Int, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            bf16: Bool = false) {
        let hd = inner / heads, rows = heads * nr
        let qk = scratch  // [heads*nr, C]
        let s = scratch + rows * c  // [heads*nr, hw]
        let pk = s + rows * hw  // [heads*nr, C]
        kW.data.withUnsafeBufferPointer { kw in
            for h in 0..<heads {
                Gemm.sgemm(m: nr, n: c, k: hd, a: q + h * hd, lda: ldq, b: kw.baseAddress! + h * hd * c, ldb: c, c: qk + h * nr * c, ldc: c)
            }
        }
        GemmBF16.product(bf16: bf16, transB: true, m: rows, n: hw, k: c, alpha: 1 / Float(hd).squareRoot(), a: qk, lda: c, b: keysPE, ldb: c,
                         c: s, ldc: hw)
        Activation.softmaxRows(s, rows: rows, cols: hw)
        GemmBF16.product(bf16: bf16, m: rows, n: c, k: hw, a: s, lda: hw, b: keys, ldb: c, c: pk, ldc: c)
        vW.data.withUnsafeBufferPointer { vw in
            vB.data.withUnsafeBufferPointer { vb in
                for i in 0..<nr { (out + i * inner).update(from: vb.baseAddress!, count: inner) }
                for h in 0..<heads {
                    Gemm.sgemm(transB: true, m: nr, n: hd, k: c, a: pk + h * nr * c, lda: c, b: vw.baseAddress! + h * hd * c, ldb: c,
                               beta: 1, c: out + h * hd, ldc: inner)
                }
            }
        }
    }

    static func foldedTokenToImageScratch(nr: Int, hw: Int, dim c: Int, heads: Int) -> Int { heads * nr * (2 * c + hw) }

    /// Image -> token for one prompt, out_proj included: out [hw, C] = attention output
    /// + bo. Image queries are either `keysPE` [hw, C] (folded into the token keys) or
    /// `sharedQ` [hw, inner] already projected (layer 0, shared by every prompt).
    /// k, v: projected prompt tokens [nq, inner]. scratch: >= hw*heads*nq + 2*heads*nq*C + heads*nq.
    func foldedImageToToken(keysPE: UnsafePointer<Float>?, sharedQ: UnsafePointer<Float>?, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                            nq: Int, hw: Int, dim c: Int, heads: Int, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>,
                            bf16: Bool = false) {
        let hd = inner / heads, cols = heads * nq, scale = 1 / Float(hd).squareRoot()
        let s = scratch  // [hw, heads*nq]
        let vo = s + hw * cols  // [heads*nq, C]
        let kq = vo + cols * c  // [heads*nq, C]
        let cb = kq + cols * c  // [heads*nq]
        if let sharedQ {
            for h in 0..<heads {
                Gemm.sgemm(transB: true, m: hw, n: nq, k: hd, alpha: scale, a: sharedQ + h * hd, lda: inner, b: k + h * hd, ldb: inner,
                           c: s + h * nq, ldc: cols)
            }
        } else {
            qW.data.withUnsafeBufferPointer { qw in
                qB.data.withUnsafeBufferPointer { qb in
                    for h in 0..<heads {
                        Gemm.sgemm(m: nq, n: c, k: hd, a: k + h * hd, lda: inner, b: qw.baseAddress! + h * hd * c, ldb: c, c: kq + h * nq * c, ldc: c)
                        for j in 0..<nq {
                            var d: Float = 0
                            for e in 0..<hd { d += qb[h * hd + e] * k[j * inner + h * hd + e] }
                            cb[h * nq + j] = d * scale
                        }
                    }
                }
            }
            for r in 0..<hw { (s + r * cols).update(from: cb, count: cols) }
            GemmBF16.product(bf16: bf16, transB: true, m: hw, n: cols, k: c, alpha: scale, a: keysPE!, lda: c, b: kq, ldb: c, accumulate: true,
                             c: s, ldc: cols)
        }
        Activation.softmaxRows(s, rows: hw * heads, cols: nq)
        oW.data.withUnsafeBufferPointer { ow in
            for h in 0..<heads {
                Gemm.sgemm(transB: true, m: nq, n: c, k: hd, a: v + h * hd, lda: inner, b: ow.baseAddress! + h * hd, ldb: inner, c: vo + h * nq * c, ldc: c)
            }
        }
        oB.data.withUnsafeBufferPointer { ob in
            for r in 0..<hw { (out + r * c).update(from: ob.baseAddress!, count: c) }
        }
        GemmBF16.product(bf16: bf16, m: hw, n: c, k: cols, a: s, lda: cols, b: vo, ldb: c, accumulate: true, c: out, ldc: c)
    }

    static func foldedImageToTokenScratch(nq: Int, hw: Int, dim c: Int, heads: Int) -> Int { heads * nq * (hw + 2 * c + 1) }
}

extension SAMMaskDecoder {
    /// Token -> image with per-prompt keys: queries+qpe [B*nq, C], keys [B*hw, C],
    /// pe [hw, C] -> out_proj of the first `rows` queries of each prompt [B*rows, C].
    func foldedTokenToImage(_ a: SAMAttention, queries: Tensor, nq: Int, rows: Int, keys: Tensor, pe: Tensor, batch b: Int) -> Tensor {
        let c = config.promptDim, hw = pe.shape[0], heads = config.decoderHeads, inner = a.inner
        let q = linear(queries, a.qW, a.qB)  // [B*nq, inner]
        var att = [Float](repeating: 0, count: b * rows * inner)
        let per = hw * c + SAMAttention.foldedTokenToImageScratch(nr: rows, hw: hw, dim: c, heads: heads)
        let workers = min(Parallel.workers, b)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: per * workers)
        defer { scratch.deallocate() }
        q.data.withUnsafeBufferPointer { qp in keys.data.withUnsafeBufferPointer { kp in pe.data.withUnsafeBufferPointer { pp in
            att.withUnsafeMutableBufferPointer { op in
                let qb = qp.baseAddress!, kb = kp.baseAddress!, pb = pp.baseAddress!, ob = op.baseAddress!
                Parallel.tasks(b) { worker, i in
                    let kpe = scratch + worker * per
                    let ki = kb + i * hw * c
                    for j in 0..<(hw * c) { kpe[j] = ki[j] + pb[j] }
                    a.foldedTokenToImage(q: qb + i * nq * inner, ldq: inner, nr: rows, keysPE: kpe, keys: ki, hw: hw, dim: c, heads: heads,
                                         out: ob + i * rows * inner, scratch: kpe + hw * c, bf16: productsInBF16)
                }
            }
        } } }
        return linear(Tensor(shape: [b * rows, inner], data: att), a.oW, a.oB)
    }

    /// Image -> token and norm4: keys [hw, C] when `shared` (layer 0) else [B*hw, C]
    /// -> new keys [B*hw, C] = norm4(keys + attention(image queries, prompt tokens)).
    func imageToToken(_ layer: TwoWayLayer, queries: Tensor, qpe: Tensor, nq: Int, keys: Tensor, pe: Tensor, batch b: Int, shared: Bool) -> Tensor {
        let a = layer.imageToToken
        let c = config.promptDim, hw = pe.shape[0], heads = config.decoderHeads, inner = a.inner
        let kk = linear(queries + qpe, a.kW, a.kB), vv = linear(queries, a.vW, a.vB)  // [B*nq, inner]
        let sharedQ: Tensor? = shared ? linear(keys + pe, a.qW, a.qB) : nil  // [hw, inner]
        // every element written below (bias, then the products): no zero fill of B x 4 MiB
        var out = [Float](unsafeUninitializedCapacity: b * hw * c) { _, n in n = b * hw * c }
        let per = hw * c + SAMAttention.foldedImageToTokenScratch(nq: nq, hw: hw, dim: c, heads: heads)
        let workers = min(Parallel.workers, b)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: per * workers)
        defer { scratch.deallocate() }
        let sq = sharedQ?.data ?? []
        kk.data.withUnsafeBufferPointer { kp in vv.data.withUnsafeBufferPointer { vp in keys.data.withUnsafeBufferPointer { xp in
            pe.data.withUnsafeBufferPointer { pp in sq.withUnsafeBufferPointer { sqp in
                layer.norm4.w.data.withUnsafeBufferPointer { nw in layer.norm4.b.data.withUnsafeBufferPointer { nb in
                    out.withUnsafeMutableBufferPointer { op in
                        let kb = kp.baseAddress!, vb = vp.baseAddress!, xb = xp.baseAddress!, pb = pp.baseAddress!, ob = op.baseAddress!
                        let sqb = sqp.baseAddress, nwb = nw.baseAddress!, nbb = nb.baseAddress!
                        Parallel.tasks(b) { worker, i in
                            let kpe = scratch + worker * per
                            let xi = shared ? xb : xb + i * hw * c
                            if !shared { for j in 0..<(hw * c) { kpe[j] = xi[j] + pb[j] } }
                            let oi = ob + i * hw * c
                            a.foldedImageToToken(keysPE: shared ? nil : UnsafePointer(kpe), sharedQ: shared ? sqb : nil,
                                                 k: kb + i * nq * inner, v: vb + i * nq * inner, nq: nq, hw: hw, dim: c, heads: heads,
                                                 out: oi, scratch: kpe + hw * c, bf16: productsInBF16)
                            residualLayerNormRows(oi, residual: xi, rows: hw, dim: c, weight: nwb, bias: nbb, eps: 1e-5)
                        }
                    }
                } }
            } }
        } } }
        return Tensor(shape: [b * hw, c], data: out)
    }
}
