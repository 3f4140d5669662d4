import Foundation

/// A mini-batch of images with all their boxes: rows of the images concatenated.
public struct HeadBatch: Sendable {
    public var regionTokens: Tensor  // [ΣN, C] SAM mask-token-0 per box
    public var featureMaps: Tensor  // [ΣL, D] each image's CLIP feature map
    public var boxCounts: [Int]  // N per image
    public var mapLengths: [Int]  // L per image
    public var targets: [Int]  // class index per box (ΣN); -1: no class (background, poor boxes)

    public init(regionTokens: Tensor, featureMaps: Tensor, boxCounts: [Int], mapLengths: [Int], targets: [Int]) {
        precondition(boxCounts.reduce(0, +) == regionTokens.shape[0] && mapLengths.reduce(0, +) == featureMaps.shape[0], "HeadBatch: counts do not match rows")
        self.regionTokens = regionTokens; self.featureMaps = featureMaps
        self.boxCounts = boxCounts; self.mapLengths = mapLengths; self.targets = targets
    }

    /// Self-attention among each image's boxes; cross-attention to each image's map.
    var selfSegments: [AttentionSegment] {
        var o = 0
        return boxCounts.map { n in defer { o += n }; return AttentionSegment(q0: o, nq: n, k0: o, nk: n) }
    }
    var crossSegments: [AttentionSegment] {
        var o = 0, m = 0
        return zip(boxCounts, mapLengths).map { n, l in defer { o += n; m += l }; return AttentionSegment(q0: o, nq: n, k0: m, nk: l) }
    }
}

/// The head's forward pass with everything its backward pass needs, and that backward
/// pass. Same computation as RegionSpotHead.embed (dropout 0: RegionSpot trains with 0.1,
/// we train without), batched over images.
enum HeadGrad {
    struct LayerCache {
        var input: Tensor
        var sa: AttentionGrad.Cache, ln1: LayerNormGrad.Cache
        var ca: AttentionGrad.Cache, ln2: LayerNormGrad.Cache
        var q2: Tensor, h: Tensor, hr: Tensor, ln3: LayerNormGrad.Cache
    }
    struct Cache {
        var tokens: Tensor
        var layers: [LayerCache]
        var final: LayerNormGrad.Cache, z: Tensor
    }

    static func attention(_ p: HeadParameters, _ k: Int, _ a: String) -> AttentionWeights {
        let n = "decoder.layers.\(k).\(a)."
        return AttentionWeights(inW: p[n + "in_proj_weight"], inB: p[n + "in_proj_bias"], outW: p[n + "out_proj.weight"], outB: p[n + "out_proj.bias"])
    }

    /// Unnormalized embeddings [ΣN, E] (the projector output).
    static func forward(_ p: HeadParameters, _ b: HeadBatch) -> (Tensor, Cache) {
        let heads = p.config.heads, ss = b.selfSegments, cs = b.crossSegments
        var q = linear(b.regionTokens, p["to_clip.weight"], p["to_clip.bias"])
        var caches: [LayerCache] = []
        for k in 0..<p.config.layers {
            let l = "decoder.layers.\(k)."
            let input = q
            let (a1, sa) = AttentionGrad.forward(xq: q, xkv: q, attention(p, k, "self_attn"), heads: heads, segments: ss)
            let (q1, ln1) = LayerNormGrad.forward(q + a1, p[l + "norm1.weight"], p[l + "norm1.bias"])
            let (a2, ca) = AttentionGrad.forward(xq: q1, xkv: b.featureMaps, attention(p, k, "multihead_attn"), heads: heads, segments: cs)
            let (q2, ln2) = LayerNormGrad.forward(q1 + a2, p[l + "norm2.weight"], p[l + "norm2.bias"])
            let h = linear(q2, p[l + "linear1.weight"], p[l + "linear1.bias"])
            let hr = ReLUGrad.forward(h)
            let f = linear(hr, p[l + "linear2.weight"], p[l + "linear2.bias"])
            let (q3, ln3) = LayerNormGrad.forward(q2 + f, p[l + "norm3.weight"], p[l + "norm3.bias"])
            caches.append(LayerCache(input: input, sa: sa, ln1: ln1, ca: ca, ln2: ln2, q2: q2, h: h, hr: hr, ln3: ln3))
            q = q3
        }
        let (z, fin) = LayerNormGrad.forward(q, p["decoder.norm.weight"], p["decoder.norm.bias"])
        let e = linear(z, p["projector.weight"], p["projector.bias"])
        return (e, Cache(tokens: b.regionTokens, layers: caches, final: fin, z: z))
    }

    /// Gradients of every parameter given dLoss/d(embeddings) [ΣN, E].
    static func backward(_ p: HeadParameters, _ c: Cache, _ b: HeadBatch, dE: Tensor) -> HeadParameters {
        var g = HeadParameters(zerosLike: p)
        let heads = p.config.heads, ss = b.selfSegments, cs = b.crossSegments
        let dz = linearBack(p, &g, "projector.", x: c.z, dy: dE)!
        var dq = layerNormBack(p, &g, "decoder.norm.", c.final, dy: dz)
        for k in stride(from: p.config.layers - 1, through: 0, by: -1) {
            let l = "decoder.layers.\(k).", lc = c.layers[k]
            // q3 = LN3(q2 + linear2(relu(linear1(q2))))
            let dr3 = layerNormBack(p, &g, l + "norm3.", lc.ln3, dy: dq)
            let dhr = linearBack(p, &g, l + "linear2.", x: lc.hr, dy: dr3)!
            let dh = ReLUGrad.backward(input: lc.h, dy: dhr)
            var dq2 = linearBack(p, &g, l + "linear1.", x: lc.q2, dy: dh)!
            dq2.add(dr3)
            // q2 = LN2(q1 + CrossAttn(q1, memory))
            let dr2 = layerNormBack(p, &g, l + "norm2.", lc.ln2, dy: dq2)
            var ga = gradients(g, k, "multihead_attn")
            var dq1 = AttentionGrad.backward(lc.ca, attention(p, k, "multihead_attn"), dy: dr2, grads: &ga, heads: heads, segments: cs, needKV: false).dxq
            store(ga, &g, k, "multihead_attn")
            dq1.add(dr2)
            // q1 = LN1(q0 + SelfAttn(q0))
            let dr1 = layerNormBack(p, &g, l + "norm1.", lc.ln1, dy: dq1)
            var gs = gradients(g, k, "self_attn")
            let (dxq, dxkv) = AttentionGrad.backward(lc.sa, attention(p, k, "self_attn"), dy: dr1, grads: &gs, heads: heads, segments: ss, needKV: true)
            store(gs, &g, k, "self_attn")
            dq = dr1
            dq.add(dxq)
            dq.add(dxkv!)
        }
        _ = linearBack(p, &g, "to_clip.", x: c.tokens, dy: dq, needInput: false)
        return g
    }

    /// Linear backward with the gradients of `prefix`weight/bias accumulated into g.
    static func linearBack(_ p: HeadParameters, _ g: inout HeadParameters, _ prefix: String, x: Tensor, dy: Tensor, needInput: Bool = true) -> Tensor? {
        var dW = g.tensors.removeValue(forKey: prefix + "weight")!, dB = g.tensors.removeValue(forKey: prefix + "bias")!
        defer { g.tensors[prefix + "weight"] = dW; g.tensors[prefix + "bias"] = dB }
        return LinearGrad.backward(x: x, w: p[prefix + "weight"], dy: dy, dW: &dW, dB: &dB, needInput: needInput)
    }

    static func layerNormBack(_ p: HeadParameters, _ g: inout HeadParameters, _ prefix: String, _ c: LayerNormGrad.Cache, dy: Tensor) -> Tensor {
        var dG = g.tensors.removeValue(forKey: prefix + "weight")!, dB = g.tensors.removeValue(forKey: prefix + "bias")!
        defer { g.tensors[prefix + "weight"] = dG; g.tensors[prefix + "bias"] = dB }
        return LayerNormGrad.backward(c, g: p[prefix + "weight"], dy: dy, dG: &dG, dB: &dB)
    }

    static func gradients(_ g: HeadParameters, _ k: Int, _ a: String) -> AttentionGradients {
        let n = "decoder.layers.\(k).\(a)."
        var r = AttentionGradients(d: g.config.width)
        r.inW = g[n + "in_proj_weight"]; r.inB = g[n + "in_proj_bias"]; r.outW = g[n + "out_proj.weight"]; r.outB = g[n + "out_proj.bias"]
        return r
    }

    static func store(_ r: AttentionGradients, _ g: inout HeadParameters, _ k: Int, _ a: String) {
        let n = "decoder.layers.\(k).\(a)."
        g[n + "in_proj_weight"] = r.inW; g[n + "in_proj_bias"] = r.inB; g[n + "out_proj.weight"] = r.outW; g[n + "out_proj.bias"] = r.outB
    }
}

/// Loss of a batch and the gradients of every head parameter.
public struct HeadObjective: Sendable {
    public var text: Tensor  // [K, E] L2-normalized class embeddings (frozen)
    public var logitScale: Float  // log of the scale (CLIP's logit_scale; exp = 100 for OpenAI)
    public var loss = FocalLoss()

    public init(text: Tensor, logitScale: Float) { self.text = text; self.logitScale = logitScale }

    /// (loss summed over the batch's images, gradients, logits [ΣN, K]).
    public func evaluate(_ p: HeadParameters, _ b: HeadBatch) -> (loss: Double, grads: HeadParameters, logits: Tensor) {
        let (e, cache) = HeadGrad.forward(p, b)
        let u = CosineLogitsGrad.normalize(e)
        let s = exp(logitScale)
        let logits = CosineLogitsGrad.logits(u, text: text, scale: s)
        let k = text.shape[0]
        var dLogits = Tensor(zeros: logits.shape)
        var total: Double = 0, o = 0
        for n in b.boxCounts {
            let (l, g) = loss(logits: logits.slice(o, o + n), targets: Array(b.targets[o..<(o + n)]))
            total += l
            dLogits.data.replaceSubrange((o * k)..<((o + n) * k), with: g.data)
            o += n
        }
        let du = CosineLogitsGrad.logitsBackward(dLogits: dLogits, text: text, scale: s)
        let de = CosineLogitsGrad.normalizeBackward(e, du: du)
        return (total, HeadGrad.backward(p, cache, b, dE: de), logits)
    }

    /// Logits [ΣN, K] only (evaluation).
    public func logits(_ p: HeadParameters, _ b: HeadBatch) -> Tensor {
        CosineLogitsGrad.logits(CosineLogitsGrad.normalize(HeadGrad.forward(p, b).0), text: text, scale: exp(logitScale))
    }
}
