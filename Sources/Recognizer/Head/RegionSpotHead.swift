import Foundation

// The RegionSpot integration module — the only trained part. Names follow the
// reference model's state dict (torch.nn.TransformerDecoder under `decoder`):
//
// to_clip.weight / .bias                               [D, C]  [D]    C = SAM token dim
// decoder.layers.{k}.self_attn.in_proj_weight / _bias  [3D, D] [3D]
// decoder.layers.{k}.self_attn.out_proj.weight / .bias [D, D]  [D]
// decoder.layers.{k}.multihead_attn.in_proj_weight / _bias, .out_proj.*   (same shapes)
// decoder.layers.{k}.linear1.weight / .bias            [F, D]  [F]    F = 2048 released
// decoder.layers.{k}.linear2.weight / .bias            [D, F]  [D]
// decoder.layers.{k}.norm1 / norm2 / norm3 .weight/.bias [D]
// decoder.norm.weight / .bias                          [D]
// projector.weight / .bias                             [E, D]  [E]    E = CLIP embed dim
//
// Forward for one image with N regions: q = to_clip(region tokens) [N, D]; per layer
// (post-norm, ReLU, 8 heads): q = norm1(q + SelfAttn(q)); q = norm2(q + CrossAttn(q,
// CLIP feature map [L, D])); q = norm3(q + linear2(relu(linear1(q)))); then decoder.norm,
// projector -> [N, E], L2-normalized; logits = exp(logit_scale) * cos(region, class).

public struct RegionSpotHeadConfig: Sendable, Equatable, Codable {
    public var tokenDim: Int, width: Int, layers: Int, heads: Int, ffn: Int, embedDim: Int
}

struct DecoderLayer {
    let saInW, saInB, saOutW, saOutB, caInW, caInB, caOutW, caOutB: Tensor
    let l1W, l1B, l2W, l2B, n1w, n1b, n2w, n2b, n3w, n3b: Tensor
    init(_ w: WeightSource, _ k: Int, d: Int) throws(RecognizerError) {
        let p = "decoder.layers.\(k)."
        saInW = try w.tensor(p + "self_attn.in_proj_weight", shape: [3 * d, d]); saInB = try w.tensor(p + "self_attn.in_proj_bias", shape: [3 * d])
        saOutW = try w.tensor(p + "self_attn.out_proj.weight", shape: [d, d]); saOutB = try w.tensor(p + "self_attn.out_proj.bias", shape: [d])
        caInW = try w.tensor(p + "multihead_attn.in_proj_weight", shape: [3 * d, d]); caInB = try w.tensor(p + "multihead_attn.in_proj_bias", shape: [3 * d])
        caOutW = try w.tensor(p + "multihead_attn.out_proj.weight", shape: [d, d]); caOutB = try w.tensor(p + "multihead_attn.out_proj.bias", shape: [d])
        l1W = try w.tensor(p + "linear1.weight", shape: [-1, d]); l1B = try w.tensor(p + "linear1.bias", shape: [l1W.shape[0]])
        l2W = try w.tensor(p + "linear2.weight", shape: [d, l1W.shape[0]]); l2B = try w.tensor(p + "linear2.bias", shape: [d])
        n1w = try w.tensor(p + "norm1.weight", shape: [d]); n1b = try w.tensor(p + "norm1.bias", shape: [d])
        n2w = try w.tensor(p + "norm2.weight", shape: [d]); n2b = try w.tensor(p + "norm2.bias", shape: [d])
        n3w = try w.tensor(p + "norm3.weight", shape: [d]); n3b = try w.tensor(p + "norm3.bias", shape: [d])
    }
}

public struct RegionSpotHead: Sendable {
    public let config: RegionSpotHeadConfig
    let toClipW, toClipB, normW, normB, projW, projB: Tensor
    let layers: [DecoderLayer]

    public static func weights(_ files: [SafeTensors]) -> WeightSource {
        WeightSource(files: files, prefixes: ["model."])
    }

    public init(weights w: WeightSource, heads: Int = 8) throws(RecognizerError) {
        toClipW = try w.tensor("to_clip.weight", shape: [-1, -1])
        let d = toClipW.shape[0]
        toClipB = try w.tensor("to_clip.bias", shape: [d])
        let n = w.count("decoder.layers.{i}.norm1.weight")
        guard n > 0 else { throw RecognizerError("\(w.fileNames): no decoder.layers.* (not a RegionSpot head)") }
        var l: [DecoderLayer] = []
        for k in 0..<n { l.append(try DecoderLayer(w, k, d: d)) }
        layers = l
        normW = try w.tensor("decoder.norm.weight", shape: [d]); normB = try w.tensor("decoder.norm.bias", shape: [d])
        projW = try w.tensor("projector.weight", shape: [-1, d]); projB = try w.tensor("projector.bias", shape: [projW.shape[0]])
        guard heads > 0, d % heads == 0 else { throw RecognizerError("\(w.fileNames): decoder width \(d) not divisible by \(heads) heads") }
        config = RegionSpotHeadConfig(tokenDim: toClipW.shape[1], width: d, layers: n, heads: heads, ffn: l[0].l1W.shape[0], embedDim: projW.shape[0])
    }

    /// Region tokens [N, C] + CLIP feature map [L, D] -> unnormalized embeddings [N, E].
    public func embed(regionTokens: Tensor, featureMap: Tensor) -> Tensor {
        let d = config.width, n = regionTokens.shape[0], l = featureMap.shape[0]
        precondition(featureMap.shape.last == d, "head: feature map \(featureMap.shape) vs width \(d)")
        var q = linear(regionTokens, toClipW, toClipB)
        for layer in layers {
            q = (q + selfAttention(q, layer, n: n)).layerNorm(layer.n1w, layer.n1b, eps: 1e-5)
            q = (q + crossAttention(q, featureMap, layer, n: n, l: l)).layerNorm(layer.n2w, layer.n2b, eps: 1e-5)
            let f = linear(linear(q, layer.l1W, layer.l1B).relu(), layer.l2W, layer.l2B)
            q = (q + f).layerNorm(layer.n3w, layer.n3b, eps: 1e-5)
        }
        q = q.layerNorm(normW, normB, eps: 1e-5)
        return linear(q, projW, projB)
    }

    func selfAttention(_ x: Tensor, _ layer: DecoderLayer, n: Int) -> Tensor {
        let d = config.width
        let qkv = linear(x, layer.saInW, layer.saInB)  // [N, 3D]
        return attend(q: qkv, ldq: 3 * d, k: qkv, kOff: d, ldk: 3 * d, v: qkv, vOff: 2 * d, ldv: 3 * d, nq: n, nk: n, outW: layer.saOutW, outB: layer.saOutB)
    }

    func crossAttention(_ x: Tensor, _ mem: Tensor, _ layer: DecoderLayer, n: Int, l: Int) -> Tensor {
        let d = config.width
        let wq = layer.caInW.slice(0, d), wkv = layer.caInW.slice(d, 3 * d)
        let bq = Tensor(shape: [d], data: Array(layer.caInB.data[0..<d])), bkv = Tensor(shape: [2 * d], data: Array(layer.caInB.data[d...]))
        let q = linear(x, wq, bq)  // [N, D]
        let kv = linear(mem, wkv, bkv)  // [L, 2D]
        return attend(q: q, ldq: d, k: kv, kOff: 0, ldk: 2 * d, v: kv, vOff: d, ldv: 2 * d, nq: n, nk: l, outW: layer.caOutW, outB: layer.caOutB)
    }

    func attend(q: Tensor, ldq: Int, k: Tensor, kOff: Int, ldk: Int, v: Tensor, vOff: Int, ldv: Int, nq: Int, nk: Int, outW: Tensor, outB: Tensor) -> Tensor {
        let d = config.width, hd = d / config.heads
        var out = [Float](repeating: 0, count: nq * d)
        let s = AttentionShape(queries: nq, keys: nk, heads: config.heads, headDim: hd, ldq: ldq, ldk: ldk, ldv: ldv, ldo: d)
        q.data.withUnsafeBufferPointer { qp in k.data.withUnsafeBufferPointer { kp in v.data.withUnsafeBufferPointer { vp in
            out.withUnsafeMutableBufferPointer { op in
                multiHeadAttention(s, scale: 1 / Float(hd).squareRoot(), q: qp.baseAddress!, k: kp.baseAddress! + kOff, v: vp.baseAddress! + vOff, out: op.baseAddress!)
            }
        } } }
        return linear(Tensor(shape: [nq, d], data: out), outW, outB)
    }
}

/// Scores of regions against a vocabulary.
public enum Scoring: String, Sendable, Codable {
    /// softmax over the vocabulary (the reference demo)
    case softmax
    /// independent per-class sigmoid (the training loss's view)
    case sigmoid
}

/// logits [N, K] = exp(logitScale) * normalize(embeddings) . classEmbeddings^T
/// (class embeddings already L2-normalized).
public func regionLogits(embeddings: Tensor, classEmbeddings: Tensor, logitScale: Float) -> Tensor {
    let e = embeddings.l2Normalized(eps: 1e-7)
    var logits = matmul(e, classEmbeddings.transposed2D())
    let s = exp(logitScale)
    for i in 0..<logits.count { logits.data[i] *= s }
    return logits
}

public func scores(logits: Tensor, _ mode: Scoring) -> Tensor {
    switch mode {
    case .softmax: return logits.softmax()
    case .sigmoid: return Tensor(shape: logits.shape, data: logits.data.map { 1 / (1 + exp(-$0)) })
    }
}

/// The k best (index, score) of each row of [N, K], best first.
public func topK(_ scores: Tensor, k: Int) -> [[(index: Int, score: Float)]] {
    let n = scores.shape[0], kk = scores.shape[1]
    return (0..<n).map { i in
        let row = Array(scores.data[(i * kk)..<((i + 1) * kk)])
        return Array(row.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }.prefix(k).map { ($0.offset, $0.element) })
    }
}
