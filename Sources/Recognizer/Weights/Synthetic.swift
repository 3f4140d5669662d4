import Foundation

// Generated weights at real shapes (benchmarks, shape tests): every tensor of each
// model's name table, random values of a sensible scale, LayerNorm weights near 1.
// Real checkpoints cannot be downloaded on build machines; these exercise the same
// loaders and kernels at full size.

struct WeightGenerator {
    var state: UInt64
    var tensors: [String: Tensor] = [:]
    init(seed: UInt64) { state = seed | 1 }
    mutating func uniform() -> Float {
        state ^= state << 13; state ^= state >> 7; state ^= state << 17
        return Float(state >> 40) / Float(1 << 24) * 2 - 1
    }
    mutating func add(_ name: String, _ shape: [Int], scale: Float = 0.02, offset: Float = 0) {
        let n = shape.reduce(1, *)
        var d = [Float](repeating: 0, count: n)
        for i in 0..<n { d[i] = offset + scale * uniform() }
        tensors[name] = Tensor(shape: shape, data: d)
    }
    mutating func linear(_ p: String, _ out: Int, _ inp: Int, bias: Bool = true) {
        add(p + ".weight", [out, inp], scale: 1 / Float(inp).squareRoot())
        if bias { add(p + ".bias", [out]) }
    }
    mutating func norm(_ p: String, _ d: Int) { add(p + ".weight", [d], scale: 0.1, offset: 1); add(p + ".bias", [d]) }
}

extension SAMConfig {
    public static let vitB = SAMConfig(imageSize: 1024, patchSize: 16, embedDim: 768, depth: 12, heads: 12, windowSize: 14, globalBlocks: [2, 5, 8, 11], promptDim: 256, decoderDepth: 2, decoderHeads: 8, decoderMLP: 2048, attentionDownsample: 2, maskTokens: 4, iouHidden: 256)
    public static let vitL = SAMConfig(imageSize: 1024, patchSize: 16, embedDim: 1024, depth: 24, heads: 16, windowSize: 14, globalBlocks: [5, 11, 17, 23], promptDim: 256, decoderDepth: 2, decoderHeads: 8, decoderMLP: 2048, attentionDownsample: 2, maskTokens: 4, iouHidden: 256)
    public static let vitH = SAMConfig(imageSize: 1024, patchSize: 16, embedDim: 1280, depth: 32, heads: 16, windowSize: 14, globalBlocks: [7, 15, 23, 31], promptDim: 256, decoderDepth: 2, decoderHeads: 8, decoderMLP: 2048, attentionDownsample: 2, maskTokens: 4, iouHidden: 256)

    /// Random weights with this configuration's shapes, under SAM's official names.
    public func syntheticWeights(seed: UInt64 = 1) -> [String: Tensor] {
        var g = WeightGenerator(seed: seed)
        let d = embedDim, p = patchSize, c = promptDim, gr = grid, hd = embedDim / heads
        g.add("image_encoder.patch_embed.proj.weight", [d, 3, p, p], scale: 0.05); g.add("image_encoder.patch_embed.proj.bias", [d])
        g.add("image_encoder.pos_embed", [1, gr, gr, d])
        for i in 0..<depth {
            let b = "image_encoder.blocks.\(i)", s = globalBlocks.contains(i) ? gr : windowSize
            g.norm(b + ".norm1", d); g.norm(b + ".norm2", d)
            g.linear(b + ".attn.qkv", 3 * d, d); g.linear(b + ".attn.proj", d, d)
            g.add(b + ".attn.rel_pos_h", [2 * s - 1, hd]); g.add(b + ".attn.rel_pos_w", [2 * s - 1, hd])
            g.linear(b + ".mlp.lin1", 4 * d, d); g.linear(b + ".mlp.lin2", d, 4 * d)
        }
        g.add("image_encoder.neck.0.weight", [c, d, 1, 1], scale: 0.03); g.norm("image_encoder.neck.1", c)
        g.add("image_encoder.neck.2.weight", [c, c, 3, 3], scale: 0.02); g.norm("image_encoder.neck.3", c)
        g.add("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", [2, c / 2], scale: 1)
        for i in 0..<4 { g.add("prompt_encoder.point_embeddings.\(i).weight", [1, c], scale: 0.5) }
        g.add("prompt_encoder.not_a_point_embed.weight", [1, c], scale: 0.5); g.add("prompt_encoder.no_mask_embed.weight", [1, c], scale: 0.5)
        g.add("mask_decoder.iou_token.weight", [1, c], scale: 0.5); g.add("mask_decoder.mask_tokens.weight", [maskTokens, c], scale: 0.5)
        let inner = c / attentionDownsample
        func attn(_ p: String, _ inner: Int) { g.linear(p + ".q_proj", inner, c); g.linear(p + ".k_proj", inner, c); g.linear(p + ".v_proj", inner, c); g.linear(p + ".out_proj", c, inner) }
        for i in 0..<decoderDepth {
            let l = "mask_decoder.transformer.layers.\(i)"
            attn(l + ".self_attn", c); attn(l + ".cross_attn_token_to_image", inner); attn(l + ".cross_attn_image_to_token", inner)
            for n in 1...4 { g.norm(l + ".norm\(n)", c) }
            g.linear(l + ".mlp.lin1", decoderMLP, c); g.linear(l + ".mlp.lin2", c, decoderMLP)
        }
        attn("mask_decoder.transformer.final_attn_token_to_image", inner); g.norm("mask_decoder.transformer.norm_final_attn", c)
        g.add("mask_decoder.output_upscaling.0.weight", [c, c / 4, 2, 2], scale: 0.05); g.add("mask_decoder.output_upscaling.0.bias", [c / 4])
        g.norm("mask_decoder.output_upscaling.1", c / 4)
        g.add("mask_decoder.output_upscaling.3.weight", [c / 4, c / 8, 2, 2], scale: 0.05); g.add("mask_decoder.output_upscaling.3.bias", [c / 8])
        for m in 0..<maskTokens {
            let h = "mask_decoder.output_hypernetworks_mlps.\(m).layers"
            g.linear(h + ".0", c, c); g.linear(h + ".1", c, c); g.linear(h + ".2", c / 8, c)
        }
        g.linear("mask_decoder.iou_prediction_head.layers.0", iouHidden, c); g.linear("mask_decoder.iou_prediction_head.layers.1", iouHidden, iouHidden)
        g.linear("mask_decoder.iou_prediction_head.layers.2", maskTokens, iouHidden)
        return g.tensors
    }
}

extension CLIPVisionConfig {
    public static let b16 = CLIPVisionConfig(imageSize: 224, patchSize: 16, width: 768, layers: 12, heads: 12, embedDim: 512)
    public static let b32 = CLIPVisionConfig(imageSize: 224, patchSize: 32, width: 768, layers: 12, heads: 12, embedDim: 512)
    public static let l14 = CLIPVisionConfig(imageSize: 224, patchSize: 14, width: 1024, layers: 24, heads: 16, embedDim: 768)
    public static let l14at336 = CLIPVisionConfig(imageSize: 336, patchSize: 14, width: 1024, layers: 24, heads: 16, embedDim: 768)
    /// One narrow layer with B's embedding size (benchmarks of what does not run the tower).
    public static let tiny = CLIPVisionConfig(imageSize: 32, patchSize: 16, width: 64, layers: 1, heads: 2, embedDim: 512)
}

extension CLIPTextConfig {
    public static let b = CLIPTextConfig(contextLength: 77, vocabSize: 49408, width: 512, layers: 12, heads: 8, embedDim: 512)
    public static let l = CLIPTextConfig(contextLength: 77, vocabSize: 49408, width: 768, layers: 12, heads: 12, embedDim: 768)
    public static let tiny = CLIPTextConfig(contextLength: 77, vocabSize: 49408, width: 64, layers: 1, heads: 2, embedDim: 512)
}

/// Random CLIP weights (OpenAI names) for a vision and a text configuration.
public func syntheticCLIPWeights(vision v: CLIPVisionConfig, text t: CLIPTextConfig, seed: UInt64 = 2) -> [String: Tensor] {
    var g = WeightGenerator(seed: seed)
    func blocks(_ prefix: String, _ w: Int, _ n: Int) {
        for i in 0..<n {
            let b = "\(prefix).\(i)"
            g.norm(b + ".ln_1", w); g.norm(b + ".ln_2", w)
            g.add(b + ".attn.in_proj_weight", [3 * w, w], scale: 1 / Float(w).squareRoot()); g.add(b + ".attn.in_proj_bias", [3 * w])
            g.linear(b + ".attn.out_proj", w, w); g.linear(b + ".mlp.c_fc", 4 * w, w); g.linear(b + ".mlp.c_proj", w, 4 * w)
        }
    }
    g.add("visual.conv1.weight", [v.width, 3, v.patchSize, v.patchSize], scale: 0.05)
    g.add("visual.class_embedding", [v.width]); g.add("visual.positional_embedding", [1 + v.grid * v.grid, v.width])
    g.norm("visual.ln_pre", v.width); g.norm("visual.ln_post", v.width)
    blocks("visual.transformer.resblocks", v.width, v.layers)
    g.add("visual.proj", [v.width, v.embedDim], scale: 1 / Float(v.width).squareRoot())
    g.add("token_embedding.weight", [t.vocabSize, t.width]); g.add("positional_embedding", [t.contextLength, t.width])
    blocks("transformer.resblocks", t.width, t.layers)
    g.norm("ln_final", t.width)
    g.add("text_projection", [t.width, t.embedDim], scale: 1 / Float(t.width).squareRoot())
    g.tensors["logit_scale"] = Tensor(shape: [], data: [log(100)])
    return g.tensors
}

/// Random RegionSpot head weights (reference names).
public func syntheticHeadWeights(tokenDim: Int = 256, width: Int, layers: Int = 3, ffn: Int = 2048, embedDim: Int, seed: UInt64 = 3) -> [String: Tensor] {
    var g = WeightGenerator(seed: seed)
    g.linear("to_clip", width, tokenDim)
    for k in 0..<layers {
        let p = "decoder.layers.\(k)"
        for a in ["self_attn", "multihead_attn"] {
            g.add("\(p).\(a).in_proj_weight", [3 * width, width], scale: 1 / Float(width).squareRoot()); g.add("\(p).\(a).in_proj_bias", [3 * width])
            g.linear("\(p).\(a).out_proj", width, width)
        }
        g.linear(p + ".linear1", ffn, width); g.linear(p + ".linear2", width, ffn)
        for n in 1...3 { g.norm(p + ".norm\(n)", width) }
    }
    g.norm("decoder.norm", width)
    g.linear("projector", embedDim, width)
    return g.tensors
}
