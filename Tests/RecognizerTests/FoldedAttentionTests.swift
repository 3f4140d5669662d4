import Foundation
import Testing
@testable import Recognizer

/// The mask decoder's folded cross-attentions against projections + naive attention.
@Suite("Folded decoder attention vs naive")
struct FoldedAttentionTests {
    let c = 24, inner = 12, heads = 3, nq = 5, hw = 37

    func attention(_ r: inout SeededRandom) throws -> SAMAttention {
        var t: [String: Tensor] = [:]
        for n in ["q", "k", "v"] {
            t["a.\(n)_proj.weight"] = r.tensor([inner, c], scale: 0.4); t["a.\(n)_proj.bias"] = r.tensor([inner], scale: 0.3)
        }
        t["a.out_proj.weight"] = r.tensor([c, inner], scale: 0.4); t["a.out_proj.bias"] = r.tensor([c], scale: 0.3)
        return try SAMAttention(WeightSource(files: [SafeTensors(name: "folded", tensors: t)]), "a", dim: c, inner: inner)
    }

    /// Naive attention of projected q [nQ, inner] over k, v [nK, inner] -> [nQ, inner].
    func naive(_ q: Tensor, _ k: Tensor, _ v: Tensor) -> Tensor {
        let s = AttentionShape(queries: q.shape[0], keys: k.shape[0], heads: heads, headDim: inner / heads, ldq: inner, ldk: inner, ldv: inner, ldo: inner)
        var out = [Float](repeating: 0, count: q.shape[0] * inner)
        naiveMultiHeadAttention(s, scale: 1 / Float(inner / heads).squareRoot(), q: q.data, k: k.data, v: v.data, out: &out)
        return Tensor(shape: [q.shape[0], inner], data: out)
    }

    /// bf16 (the int8 path's products with the image tokens): within 2e-2 of the fp32
    /// reference, and not equal to the fp32 result (the products did run in bf16).
    static let bf16Runs = OneDNN.nativeBF16

    @Test("token -> image, projections folded into the queries (products in fp32, or bf16)",
          arguments: [(5, false), (2, false), (5, true), (2, true)])
    func tokenToImage(rows: Int, bf16: Bool) throws {
        guard !bf16 || Self.bf16Runs else { return }
        var r = SeededRandom(7)
        let a = try attention(&r)
        let qIn = r.tensor([nq, c]), keys = r.tensor([hw, c]), pe = r.tensor([hw, c])
        let kpe = keys + pe
        let q = linear(qIn, a.qW, a.qB)
        let ref = naive(q.slice(0, rows), linear(kpe, a.kW, a.kB), linear(keys, a.vW, a.vB))
        var out = [Float](repeating: 0, count: rows * inner)
        var scratch = [Float](repeating: .nan, count: SAMAttention.foldedTokenToImageScratch(nr: rows, hw: hw, dim: c, heads: heads))
        var prep = [Float](repeating: .nan, count: FoldedKeys.scratch(hw: hw, dim: c))
        pe.data.withUnsafeBufferPointer { pp in q.data.withUnsafeBufferPointer { qp in keys.data.withUnsafeBufferPointer { xp in
            prep.withUnsafeMutableBufferPointer { sp in
                let x = FoldedKeys.prepare(keys: xp.baseAddress!, pe: pp.baseAddress!, count: hw * c, bf16: bf16, scratch: sp.baseAddress!)
                a.foldedTokenToImage(q: qp.baseAddress!, ldq: inner, nr: rows, keys: x, hw: hw, dim: c, heads: heads, out: &out, scratch: &scratch)
            }
        } } }
        let got = Tensor(shape: [rows, inner], data: out)
        expectClose(got, ref, bf16 ? 2e-2 : 1e-5, "folded token->image")
        if bf16 { #expect(got.relativeError(to: ref) > 1e-5, "bf16 products should differ from fp32") }
    }

    @Test("image -> token, projections folded into the prompt tokens (or shared image queries), products in fp32 or bf16",
          arguments: [(false, false), (true, false), (false, true), (true, true)])
    func imageToToken(sharedQ: Bool, bf16: Bool) throws {
        guard !bf16 || Self.bf16Runs else { return }
        var r = SeededRandom(11)
        let a = try attention(&r)
        let tq = r.tensor([nq, c]), tv = r.tensor([nq, c]), keys = r.tensor([hw, c]), pe = r.tensor([hw, c])
        let kpe = keys + pe
        let k = linear(tq, a.kW, a.kB), v = linear(tv, a.vW, a.vB), qImg = linear(kpe, a.qW, a.qB)
        let ref = linear(naive(qImg, k, v), a.oW, a.oB)
        var out = [Float](repeating: .nan, count: hw * c)
        var scratch = [Float](repeating: .nan, count: SAMAttention.foldedImageToTokenScratch(nq: nq, hw: hw, dim: c, heads: heads))
        var prep = [Float](repeating: .nan, count: FoldedKeys.scratch(hw: hw, dim: c))
        k.data.withUnsafeBufferPointer { kp in v.data.withUnsafeBufferPointer { vp in
            keys.data.withUnsafeBufferPointer { xp in pe.data.withUnsafeBufferPointer { pp in qImg.data.withUnsafeBufferPointer { qp in
                prep.withUnsafeMutableBufferPointer { sp in
                    let x = sharedQ ? nil
                        : FoldedKeys.prepare(keys: xp.baseAddress!, pe: pp.baseAddress!, count: hw * c, bf16: bf16, needKeys: false, scratch: sp.baseAddress!)
                    a.foldedImageToToken(keys: x, sharedQ: sharedQ ? qp.baseAddress! : nil, k: kp.baseAddress!,
                                         v: vp.baseAddress!, nq: nq, hw: hw, dim: c, heads: heads, out: &out, scratch: &scratch, bf16: bf16)
                }
            } } }
        } }
        let got = Tensor(shape: [hw, c], data: out)
        expectClose(got, ref, bf16 ? 2e-2 : 1e-5, "folded image->token")
        if bf16 { #expect(got.relativeError(to: ref) > 1e-5, "bf16 products should differ from fp32") }
    }

    @Test("residual add fused into LayerNorm")
    func residualNorm() {
        var r = SeededRandom(3)
        let x = r.tensor([9, 33]), res = r.tensor([9, 33]), w = r.tensor([33]), b = r.tensor([33])
        let ref = (x + res).naiveLayerNorm(w, b, eps: 1e-5)
        var y = x.data
        res.data.withUnsafeBufferPointer { rp in w.data.withUnsafeBufferPointer { wp in b.data.withUnsafeBufferPointer { bp in
            residualLayerNormRows(&y, residual: rp.baseAddress!, rows: 9, dim: 33, weight: wp.baseAddress!, bias: bp.baseAddress!, eps: 1e-5)
        } } }
        expectClose(Tensor(shape: [9, 33], data: y), ref, 1e-5, "residual LayerNorm")
    }
}
