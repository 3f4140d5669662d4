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
// image tokens (the [*, G*G] ones) run in bf16 through oneDNN (GemmBF16), the rest fp32;
// a prompt's keys and keys + pe are rounded to bf16 once (`FoldedKeys`) for every product
// that reads them, the sum never stored in fp32.

/// One prompt's image keys [hw, C] and keys + pe as the folded products read them: fp32
/// (keys in place, the sum in scratch), or both rounded to bf16 into scratch.
struct FoldedKeys {
    let keys, keysPE: UnsafeRawPointer
    let bf16: Bool

    /// Floats of scratch `prepare` uses.
    static func scratch(hw: Int, dim c: Int) -> Int { hw * c }

    /// `needKeys` false: only keys + pe is read (image -> token).
    static func prepare(keys: UnsafePointer<Float>, pe: UnsafePointer<Float>, count: Int, bf16: Bool, needKeys: Bool = true,
                        scratch: UnsafeMutablePointer<Float>) -> FoldedKeys {
        if bf16 {
            let raw = UnsafeMutableRawPointer(scratch)
            let kpe = raw.bindMemory(to: UInt16.self, capacity: 2 * count), k16 = kpe + count
            BF16.convertSum(keys, pe, kpe, count: count)
            if needKeys { BF16.convert(keys, k16, count: count) }
            return FoldedKeys(keys: UnsafeRawPointer(k16), keysPE: UnsafeRawPointer(kpe), bf16: true)
        }
        for j in 0..<count { scratch[j] = keys[j] + pe[j] }
        return FoldedKeys(keys: UnsafeRawPointer(keys), keysPE: UnsafeRawPointer(scratch), bf16: false)
    }

    /// c = alpha · a · op(x) (+ c), x = keys or keys + pe [hw, C] (op: transposed with `transB`).
    func times(_ x: UnsafeRawPointer, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
               accumulate: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int, dim: Int) {
        if bf16 {
            GemmBF16.gemm(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b16: x.assumingMemoryBound(to: UInt16.self), ldb: dim,
                          accumulate: accumulate, c: c, ldc: ldc)
        } else {
            Gemm.sgemm(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: x.assumingMemoryBound(to: Float.self), ldb: dim,
                       beta: accumulate ? 1 : 0, c: c, ldc: ldc)
        }
    }

    /// c = alpha · x · op(b) (+ c), x = keys or keys + pe [hw, C] on the left (`times` with
    /// the operands the other way round).
    func timesRight(_ x: UnsafeRawPointer, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, b: UnsafePointer<Float>, ldb: Int,
                    accumulate: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int, dim: Int) {
        if bf16 {
            GemmBF16.gemm(transB: transB, m: m, n: n, k: k, alpha: alpha, a16: x.assumingMemoryBound(to: UInt16.self), lda: dim, b: b, ldb: ldb,
                          accumulate: accumulate, c: c, ldc: ldc)
        } else {
            Gemm.sgemm(transB: transB, m: m, n: n, k: k, alpha: alpha, a: x.assumingMemoryBound(to: Float.self), lda: dim, b: b, ldb: ldb,
                       beta: accumulate ? 1 : 0, c: c, ldc: ldc)
        }
    }
}

extension SAMAttention {
    /// Token -> image for one prompt. q: projected queries [nr, inner] (ld `ldq`);
    /// keys: the prompt's [hw, C] keys and keys + pe -> out: attention output before
    /// out_proj [nr, inner]. scratch: >= heads*nr*(C + hw) + heads*nr*C floats.
    func foldedTokenToImage(q: UnsafePointer<Float>, ldq: Int, nr: Int, keys: FoldedKeys,
                            hw: Int, dim c: Int, heads: Int, out: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        let hd = inner / heads, rows = heads * nr
        let qk = scratch  // [heads*nr, C]
        let s = scratch + rows * c  // [heads*nr, hw]
        let pk = s + rows * hw  // [heads*nr, C]
        kW.data.withUnsafeBufferPointer { kw in
            for h in 0..<heads {
                Gemm.sgemm(m: nr, n: c, k: hd, a: q + h * hd, lda: ldq, b: kw.baseAddress! + h * hd * c, ldb: c, c: qk + h * nr * c, ldc: c)
            }
        }
        keys.times(keys.keysPE, transB: true, m: rows, n: hw, k: c, alpha: 1 / Float(hd).squareRoot(), a: qk, lda: c, c: s, ldc: hw, dim: c)
        Activation.softmaxRows(s, rows: rows, cols: hw)
        keys.times(keys.keys, transB: false, m: rows, n: c, k: hw, a: s, lda: hw, c: pk, ldc: c, dim: c)
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
    /// + bo. Image queries are either the prompt's keys + pe (`keys`, folded into the token
    /// keys) or `sharedQ` [hw, inner] already projected (layer 0, shared by every prompt).
    /// k, v: projected prompt tokens [nq, inner]. scratch: >= hw*heads*nq + 2*heads*nq*C + heads*nq.
    func foldedImageToToken(keys: FoldedKeys?, sharedQ: UnsafePointer<Float>?, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
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
            let x = keys!
            x.timesRight(x.keysPE, transB: true, m: hw, n: cols, k: c, alpha: scale, b: kq, ldb: c, accumulate: true, c: s, ldc: cols, dim: c)
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
        let prep = FoldedKeys.scratch(hw: hw, dim: c)
        let per = prep + SAMAttention.foldedTokenToImageScratch(nr: rows, hw: hw, dim: c, heads: heads)
        let workers = min(Parallel.workers, b)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: per * workers)
        defer { scratch.deallocate() }
        q.data.withUnsafeBufferPointer { qp in keys.data.withUnsafeBufferPointer { kp in pe.data.withUnsafeBufferPointer { pp in
            att.withUnsafeMutableBufferPointer { op in
                let qb = qp.baseAddress!, kb = kp.baseAddress!, pb = pp.baseAddress!, ob = op.baseAddress!
                Parallel.tasks(b) { worker, i in
                    let mine = scratch + worker * per
                    let x = FoldedKeys.prepare(keys: kb + i * hw * c, pe: pb, count: hw * c, bf16: productsInBF16, scratch: mine)
                    a.foldedTokenToImage(q: qb + i * nq * inner, ldq: inner, nr: rows, keys: x, hw: hw, dim: c, heads: heads,
                                         out: ob + i * rows * inner, scratch: mine + prep)
                }
            }
        } } }
        return linear(Tensor(shape: [b * rows, inner], data: att), a.oW, a.oB)
    }

    /// Image -> token and norm4: keys = norm4(keys + attention(image queries, prompt
    /// tokens)). `shared` (layer 0): keys [hw, C] are every prompt's and become [B*hw, C];
    /// otherwise keys [B*hw, C] are updated in place (each prompt's update in its worker's
    /// scratch, then added into its keys by the LayerNorm pass: no new B x 4 MiB array).
    func imageToToken(_ layer: TwoWayLayer, queries: Tensor, qpe: Tensor, nq: Int, keys: inout Tensor, pe: Tensor, batch b: Int, shared: Bool) {
        let a = layer.imageToToken
        let c = config.promptDim, hw = pe.shape[0], heads = config.decoderHeads, inner = a.inner
        let kk = linear(queries + qpe, a.kW, a.kB), vv = linear(queries, a.vW, a.vB)  // [B*nq, inner]
        let sharedQ: Tensor? = shared ? linear(keys + pe, a.qW, a.qB) : nil  // [hw, inner]
        let prep = FoldedKeys.scratch(hw: hw, dim: c), update = shared ? 0 : hw * c
        let per = prep + update + SAMAttention.foldedImageToTokenScratch(nq: nq, hw: hw, dim: c, heads: heads)
        let workers = min(Parallel.workers, b)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: per * workers)
        defer { scratch.deallocate() }
        let sq = sharedQ?.data ?? []
        let bf16 = productsInBF16
        // one prompt: xi its keys (the shared ones in layer 0), oi where its new keys go
        func prompt(_ worker: Int, _ i: Int, xi: UnsafeMutablePointer<Float>, oi: UnsafeMutablePointer<Float>, k: UnsafePointer<Float>,
                    v: UnsafePointer<Float>, pe: UnsafePointer<Float>, sharedQ: UnsafePointer<Float>?, nw: UnsafePointer<Float>, nb: UnsafePointer<Float>) {
            let mine = scratch + worker * per
            let x: FoldedKeys? = shared ? nil : FoldedKeys.prepare(keys: xi, pe: pe, count: hw * c, bf16: bf16, needKeys: false, scratch: mine)
            let upd = shared ? oi : mine + prep
            a.foldedImageToToken(keys: x, sharedQ: sharedQ, k: k + i * nq * inner, v: v + i * nq * inner, nq: nq, hw: hw, dim: c, heads: heads,
                                 out: upd, scratch: mine + prep + update, bf16: bf16)
            // norm4(keys + update), the sum in the order the reference adds (x + attn_out)
            if shared { residualLayerNormRows(oi, residual: xi, rows: hw, dim: c, weight: nw, bias: nb, eps: 1e-5) }
            else { residualLayerNormRows(xi, residual: upd, rows: hw, dim: c, weight: nw, bias: nb, eps: 1e-5) }
        }
        kk.data.withUnsafeBufferPointer { kp in vv.data.withUnsafeBufferPointer { vp in pe.data.withUnsafeBufferPointer { pp in
            sq.withUnsafeBufferPointer { sqp in layer.norm4.w.data.withUnsafeBufferPointer { nw in layer.norm4.b.data.withUnsafeBufferPointer { nb in
                let kb = kp.baseAddress!, vb = vp.baseAddress!, pb = pp.baseAddress!, nwb = nw.baseAddress!, nbb = nb.baseAddress!
                if shared {
                    // every element written (bias, then the products): no zero fill of B x 4 MiB
                    var out = [Float](unsafeUninitializedCapacity: b * hw * c) { _, n in n = b * hw * c }
                    keys.data.withUnsafeBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in
                        let xb = UnsafeMutablePointer(mutating: xp.baseAddress!), ob = op.baseAddress!  // read only (shared)
                        Parallel.tasks(b) { worker, i in
                            prompt(worker, i, xi: xb, oi: ob + i * hw * c, k: kb, v: vb, pe: pb, sharedQ: sqp.baseAddress, nw: nwb, nb: nbb)
                        }
                    } }
                    keys = Tensor(shape: [b * hw, c], data: out)
                } else {
                    keys.data.withUnsafeMutableBufferPointer { xp in
                        let xb = xp.baseAddress!
                        Parallel.tasks(b) { worker, i in
                            let xi = xb + i * hw * c
                            prompt(worker, i, xi: xi, oi: xi, k: kb, v: vb, pe: pb, sharedQ: nil, nw: nwb, nb: nbb)
                        }
                    }
                }
            } } }
        } } }
    }
}
