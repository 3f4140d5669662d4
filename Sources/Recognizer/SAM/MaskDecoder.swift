import Foundation

// SAM mask decoder (segment_anything/modeling/mask_decoder.py + transformer.py):
// tokens [iou, mask x4, prompt...] attend to the image through a two-way transformer
// (depth 2, token self-attn, token->image and image->token cross-attn at half width),
// then a final token->image attention and LayerNorm. With multimask off the region token
// is mask token 0 (row 1) after that; masks come from the upscaled image tokens x the
// hypernetwork output, the IoU from an MLP on the iou token.
//
// Batching: B prompts share the image. Keys start identical for all prompts, so in layer
// 0 the token->image key/value projections and the image->token query projection are
// computed once; after layer 0's image->token update each prompt has its own keys
// [B, G*G, C]. Prompts are processed in groups to bound that memory.

struct SAMAttention {
    let qW, qB, kW, kB, vW, vB, oW, oB: Tensor
    let inner: Int
    init(_ w: WeightSource, _ p: String, dim: Int, inner: Int) throws(RecognizerError) {
        self.inner = inner
        qW = try w.tensor(p + ".q_proj.weight", shape: [inner, dim]); qB = try w.tensor(p + ".q_proj.bias", shape: [inner])
        kW = try w.tensor(p + ".k_proj.weight", shape: [inner, dim]); kB = try w.tensor(p + ".k_proj.bias", shape: [inner])
        vW = try w.tensor(p + ".v_proj.weight", shape: [inner, dim]); vB = try w.tensor(p + ".v_proj.bias", shape: [inner])
        oW = try w.tensor(p + ".out_proj.weight", shape: [dim, inner]); oB = try w.tensor(p + ".out_proj.bias", shape: [dim])
    }

    /// Attention of projected queries [B*nq, inner] over projected keys/values
    /// ([B*nk, inner], or [nk, inner] shared by all B when `sharedKV`) -> out_proj [B*nq, C].
    func attend(q: Tensor, k: Tensor, v: Tensor, batch: Int, nq: Int, nk: Int, heads: Int, sharedKV: Bool) -> Tensor {
        let hd = inner / heads
        var out = [Float](repeating: 0, count: batch * nq * inner)
        let s = AttentionShape(batch: batch, queries: nq, keys: nk, heads: heads, headDim: hd,
                               ldq: inner, ldk: inner, ldv: inner, ldo: inner,
                               batchStrideQ: nq * inner, batchStrideK: sharedKV ? 0 : nk * inner,
                               batchStrideV: sharedKV ? 0 : nk * inner, batchStrideO: nq * inner)
        q.data.withUnsafeBufferPointer { qp in k.data.withUnsafeBufferPointer { kp in v.data.withUnsafeBufferPointer { vp in
            out.withUnsafeMutableBufferPointer { op in
                multiHeadAttention(s, scale: 1 / Float(hd).squareRoot(), q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, out: op.baseAddress!)
            }
        } } }
        return linear(Tensor(shape: [batch * nq, inner], data: out), oW, oB)
    }
}

struct SAMNorm {
    let w, b: Tensor
    init(_ ws: WeightSource, _ p: String, dim: Int) throws(RecognizerError) {
        w = try ws.tensor(p + ".weight", shape: [dim]); b = try ws.tensor(p + ".bias", shape: [dim])
    }
    func callAsFunction(_ x: Tensor, eps: Float = 1e-5) -> Tensor { x.layerNorm(w, b, eps: eps) }
}

/// A stack of Linear layers with ReLU between them (SAM's MLP).
struct SAMMLP {
    let layers: [(Tensor, Tensor)]
    init(_ w: WeightSource, _ p: String, count: Int) throws(RecognizerError) {
        var l: [(Tensor, Tensor)] = []
        for i in 0..<count {
            let wt = try w.tensor("\(p).layers.\(i).weight", shape: [-1, -1])
            l.append((wt, try w.tensor("\(p).layers.\(i).bias", shape: [wt.shape[0]])))
        }
        layers = l
    }
    func callAsFunction(_ x: Tensor) -> Tensor {
        var y = x
        for (i, (w, b)) in layers.enumerated() {
            y = linear(y, w, b)
            if i < layers.count - 1 { y = y.relu() }
        }
        return y
    }
}

struct TwoWayLayer {
    let selfAttn, tokenToImage, imageToToken: SAMAttention
    let norm1, norm2, norm3, norm4: SAMNorm
    let lin1W, lin1B, lin2W, lin2B: Tensor
    init(_ w: WeightSource, _ i: Int, _ c: SAMConfig) throws(RecognizerError) {
        let p = "mask_decoder.transformer.layers.\(i)", d = c.promptDim, inner = d / c.attentionDownsample
        selfAttn = try SAMAttention(w, p + ".self_attn", dim: d, inner: d)
        tokenToImage = try SAMAttention(w, p + ".cross_attn_token_to_image", dim: d, inner: inner)
        imageToToken = try SAMAttention(w, p + ".cross_attn_image_to_token", dim: d, inner: inner)
        norm1 = try SAMNorm(w, p + ".norm1", dim: d); norm2 = try SAMNorm(w, p + ".norm2", dim: d)
        norm3 = try SAMNorm(w, p + ".norm3", dim: d); norm4 = try SAMNorm(w, p + ".norm4", dim: d)
        lin1W = try w.tensor(p + ".mlp.lin1.weight", shape: [c.decoderMLP, d]); lin1B = try w.tensor(p + ".mlp.lin1.bias", shape: [c.decoderMLP])
        lin2W = try w.tensor(p + ".mlp.lin2.weight", shape: [d, c.decoderMLP]); lin2B = try w.tensor(p + ".mlp.lin2.bias", shape: [d])
    }
}

struct SAMMaskDecoder {
    let config: SAMConfig
    let iouToken, maskTokens: Tensor
    let layers: [TwoWayLayer]
    let finalAttn: SAMAttention
    let normFinal: SAMNorm
    let up0W, up0B, up1W, up1B, up3W, up3B: Tensor
    let hyper: [SAMMLP]
    let iouHead: SAMMLP
    /// The products with the image tokens (the folded cross-attentions' and the mask
    /// upscaling's) in bf16: with bf16 or int8 weights on a CPU with native bf16 (`models
    /// check` compares box prompts with masks: every probability and mask IoU), else fp32.
    let productsInBF16: Bool

    init(_ w: WeightSource, _ c: SAMConfig) throws(RecognizerError) {
        config = c
        productsInBF16 = w.precision.bf16Products
        let d = c.promptDim
        iouToken = try w.tensor("mask_decoder.iou_token.weight", shape: [1, d])
        maskTokens = try w.tensor("mask_decoder.mask_tokens.weight", shape: [c.maskTokens, d])
        var l: [TwoWayLayer] = []
        for i in 0..<c.decoderDepth { l.append(try TwoWayLayer(w, i, c)) }
        layers = l
        finalAttn = try SAMAttention(w, "mask_decoder.transformer.final_attn_token_to_image", dim: d, inner: d / c.attentionDownsample)
        normFinal = try SAMNorm(w, "mask_decoder.transformer.norm_final_attn", dim: d)
        up0W = try w.tensor("mask_decoder.output_upscaling.0.weight", shape: [d, d / 4, 2, 2]); up0B = try w.tensor("mask_decoder.output_upscaling.0.bias", shape: [d / 4])
        up1W = try w.tensor("mask_decoder.output_upscaling.1.weight", shape: [d / 4]); up1B = try w.tensor("mask_decoder.output_upscaling.1.bias", shape: [d / 4])
        up3W = try w.tensor("mask_decoder.output_upscaling.3.weight", shape: [d / 4, d / 8, 2, 2]); up3B = try w.tensor("mask_decoder.output_upscaling.3.bias", shape: [d / 8])
        var h: [SAMMLP] = []
        for m in 0..<c.maskTokens { h.append(try SAMMLP(w, "mask_decoder.output_hypernetworks_mlps.\(m)", count: 3)) }
        hyper = h
        iouHead = try SAMMLP(w, "mask_decoder.iou_prediction_head", count: 3)
    }

    struct Output {
        var regionTokens: Tensor  // [B, C]
        var iou: [Float]  // [B] (mask 0)
        var lowResMasks: Tensor?  // [B, 4G, 4G] (mask 0)
        /// With `multimask`: SAM's multimask output, mask tokens 1..M-1 (M = 4).
        var multiIoU: [Float]? = nil  // [B, M-1]
        var multiMasks: Tensor? = nil  // [B, M-1, 4G, 4G]
    }

    /// image [G*G, C] (+ no-mask dense embedding added here), pe [G*G, C], prompts:
    /// sparse embeddings, all with the same token count S. `multimask` also returns the
    /// masks and IoUs of mask tokens 1..M-1 (what SAM returns with multimask_output=True);
    /// the mask-0 outputs are computed exactly as without it. `maskRows`: only the first
    /// rows of each low-res mask are wanted (the picture's, below it is padding); the
    /// others are not computed and read 0. `multimaskMinIoU`: a multimask mask whose
    /// predicted IoU is not above it (the automatic generator's first filter) is not
    /// computed and reads 0 (the IoU head does not need the masks).
    func callAsFunction(image: Tensor, pe: Tensor, dense: Tensor, sparse: [Tensor], masks: Bool, multimask: Bool = false,
                        maskRows: Int? = nil, multimaskMinIoU: Float? = nil) -> Output {
        let c = config.promptDim, hw = image.shape[0], b = sparse.count
        let heads = config.decoderHeads
        let nq = 1 + config.maskTokens + sparse[0].shape[0]
        // queries / query_pe [B*nq, C]: [iou, mask tokens, prompt tokens] per prompt
        var tokens: [Float] = []
        tokens.reserveCapacity(b * nq * c)
        for s in sparse { tokens += iouToken.data + maskTokens.data + s.data }
        let qpe = Tensor(shape: [b * nq, c], data: tokens)
        var queries = qpe
        let src = image.addingRow(dense)  // keys, shared until layer 0's image->token update
        var keys: Tensor = src
        var shared = true

        for (li, layer) in layers.enumerated() {
            // (1) token self-attention (the first layer skips the query PE)
            let qIn = li == 0 ? queries : queries + qpe
            let sa = layer.selfAttn.attend(q: linear(qIn, layer.selfAttn.qW, layer.selfAttn.qB),
                                           k: linear(qIn, layer.selfAttn.kW, layer.selfAttn.kB),
                                           v: linear(queries, layer.selfAttn.vW, layer.selfAttn.vB),
                                           batch: b, nq: nq, nk: nq, heads: heads, sharedKV: false)
            queries = layer.norm1(li == 0 ? sa : queries + sa)
            // (2) tokens -> image
            let t2i = layer.tokenToImage
            let ca: Tensor
            if shared {
                let kpe = keys + pe
                ca = t2i.attend(q: linear(queries + qpe, t2i.qW, t2i.qB), k: linear(kpe, t2i.kW, t2i.kB),
                                v: linear(keys, t2i.vW, t2i.vB), batch: b, nq: nq, nk: hw, heads: heads, sharedKV: true)
            } else {
                ca = foldedTokenToImage(t2i, queries: queries + qpe, nq: nq, rows: nq, keys: keys, pe: pe, batch: b)
            }
            queries = layer.norm2(queries + ca)
            // (3) MLP on tokens
            let m = linear(linear(queries, layer.lin1W, layer.lin1B).relu(), layer.lin2W, layer.lin2B)
            queries = layer.norm3(queries + m)
            // (4) image -> tokens: image tokens query the prompt tokens; keys = norm4(keys + upd)
            imageToToken(layer, queries: queries, qpe: qpe, nq: nq, keys: &keys, pe: pe, batch: b, shared: shared)
            shared = false
        }
        // final token -> image attention and norm; only the IoU token and mask token 0
        // (rows 0 and 1 of each prompt) are read afterwards, and the other mask tokens
        // with multimask: `finalRows` rows per prompt, [B * finalRows, C].
        let finalRows = multimask ? 1 + config.maskTokens : 2
        var region = [Float](), iouIn = [Float]()
        let final: Tensor
        if shared {
            let kpe = keys + pe
            let fa = finalAttn.attend(q: linear(queries + qpe, finalAttn.qW, finalAttn.qB), k: linear(kpe, finalAttn.kW, finalAttn.kB),
                                      v: linear(keys, finalAttn.vW, finalAttn.vB), batch: b, nq: nq, nk: hw, heads: heads, sharedKV: true)
            let all = normFinal(queries + fa)
            var rows = [Float]()
            for i in 0..<b { rows += all.data[(i * nq * c)..<((i * nq + finalRows) * c)] }
            final = Tensor(shape: [b * finalRows, c], data: rows)
        } else {
            let fa = foldedTokenToImage(finalAttn, queries: queries + qpe, nq: nq, rows: finalRows, keys: keys, pe: pe, batch: b)  // [B*rows, C]
            var q = [Float]()
            q.reserveCapacity(b * finalRows * c)
            for i in 0..<b { q += queries.data[(i * nq * c)..<((i * nq + finalRows) * c)] }
            final = normFinal(Tensor(shape: [b * finalRows, c], data: q) + fa)
        }
        for i in 0..<b {
            iouIn += final.data[(i * finalRows * c)..<((i * finalRows + 1) * c)]
            region += final.data[((i * finalRows + 1) * c)..<((i * finalRows + 2) * c)]
        }
        let regionTokens = Tensor(shape: [b, c], data: region)
        let iouAll = iouHead(Tensor(shape: [b, c], data: iouIn))  // [B, M]
        let iou = (0..<b).map { iouAll.data[$0 * config.maskTokens] }
        var out = Output(regionTokens: regionTokens, iou: iou, lowResMasks: nil)
        if masks || multimask {
            let keysB = shared ? broadcast(keys, batch: b) : keys
            // hypernetwork inputs: mask token m is row 1 + m of each prompt's tokens (mask
            // token 0's product only when its mask is asked for)
            var tokens: [Int: Tensor] = masks ? [0: regionTokens] : [:]
            if multimask {
                for m in 1..<config.maskTokens {
                    var rows = [Float]()
                    for i in 0..<b {
                        let row = i * finalRows + 1 + m
                        rows += final.data[(row * c)..<(row * c + c)]
                    }
                    tokens[m] = Tensor(shape: [b, c], data: rows)
                }
            }
            // which mask tokens each prompt needs: mask 0 when asked for, the multimask ones
            // whose IoU passes
            let wanted: [[Int]]? = multimaskMinIoU.map { t in
                (0..<b).map { i in
                    (masks ? [0] : []) + (1..<config.maskTokens).filter { iouAll.data[i * config.maskTokens + $0] > t }
                }
            }
            let all = lowResMasks(keys: keysB, tokens: tokens, batch: b, rows: maskRows, wanted: wanted)  // per mask token [B, 4G, 4G]
            if masks { out.lowResMasks = all[0] }
            if multimask {
                let g4 = 4 * config.grid, m1 = config.maskTokens - 1, n = g4 * g4
                var mm = [Float](repeating: 0, count: b * m1 * n)
                var mi = [Float](repeating: 0, count: b * m1)
                for m in 0..<m1 {
                    for i in 0..<b {
                        let dst = (i * m1 + m) * n, src = i * n
                        mm.replaceSubrange(dst..<(dst + n), with: all[m + 1]!.data[src..<(src + n)])
                        mi[i * m1 + m] = iouAll.data[i * config.maskTokens + 1 + m]
                    }
                }
                out.multiMasks = Tensor(shape: [b, m1, g4, g4], data: mm)
                out.multiIoU = mi
            }
        }
        return out
    }

    /// Upscaled image tokens x hypernetwork(mask token m) -> [B, 4G, 4G] for each mask
    /// token m of `tokens` (m -> [B, C], that token of each prompt). One prompt per task on
    /// the recognizer's pool: each prompt upscales its own image tokens. With `rows`, only
    /// the first `rows` rows of each mask are computed (rounded up to whole upscaled key
    /// rows: the upscaling maps each key to its own 4x4 pixels, so they are exact); the
    /// rest read 0. `wanted[i]`: the mask tokens prompt i needs (nil: all of `tokens`); a
    /// prompt that needs none is not upscaled, and masks not wanted read 0.
    func lowResMasks(keys: Tensor, tokens byToken: [Int: Tensor], batch: Int, rows: Int? = nil, wanted: [[Int]]? = nil) -> [Int: Tensor] {
        let g = config.grid, hw = g * g, n = 16 * hw
        let kr = rows.map { max(1, min(g, ($0 + 3) / 4)) } ?? g  // key rows upscaled
        let which = byToken.keys.sorted()
        let hyperIn = which.map { hyper[$0](byToken[$0]!) }  // each [B, C/8]
        let out = UnsafeMutablePointer<Float>.allocate(capacity: which.count * batch * n)  // [entries, B, 16hw]
        defer { out.deallocate() }
        out.initialize(repeating: 0, count: which.count * batch * n)
        let entries = (0..<batch).map { i in which.indices.filter { wanted?[i].contains(which[$0]) ?? true } }  // per prompt
        let busy = (0..<batch).filter { !entries[$0].isEmpty }
        Parallel.tasks(busy.count) { _, task in
            let i = busy[task]
            var u = convTranspose2x2(keys.slice(i * hw, i * hw + kr * g), height: kr, width: g, weight: up0W, bias: up0B, bf16: productsInBF16)
            u = u.layerNorm(up1W, up1B, eps: 1e-6).gelu()
            u = convTranspose2x2(u, height: 2 * kr, width: 2 * g, weight: up3W, bias: up3B, bf16: productsInBF16).gelu()  // [16 kr g, C/8]
            for t in entries[i] {
                linear(u, hyperIn[t].slice(i, i + 1), nil).data.withUnsafeBufferPointer {  // [16 kr g, 1]: the first 4kr rows
                    (out + (t * batch + i) * n).update(from: $0.baseAddress!, count: $0.count)
                }
            }
        }
        var masks: [Int: Tensor] = [:]
        for (t, m) in which.enumerated() {
            masks[m] = Tensor(shape: [batch, 4 * g, 4 * g], data: Array(UnsafeBufferPointer(start: out + t * batch * n, count: batch * n)))
        }
        return masks
    }
}

/// [hw, C] repeated B times -> [B*hw, C].
func broadcast(_ x: Tensor, batch: Int) -> Tensor {
    var d: [Float] = []
    d.reserveCapacity(x.count * batch)
    for _ in 0..<batch { d += x.data }
    return Tensor(shape: [batch * x.shape[0]] + x.shape.dropFirst(), data: d)
}

/// x [B*hw, C] + y [hw, C] broadcast over B.
func addBroadcast(_ x: Tensor, _ y: Tensor, batch: Int) -> Tensor {
    var t = x
    let n = y.count
    t.data.withUnsafeMutableBufferPointer { p in
        y.data.withUnsafeBufferPointer { q in
            for bi in 0..<batch { for i in 0..<n { p[bi * n + i] += q[i] } }
        }
    }
    return t
}
