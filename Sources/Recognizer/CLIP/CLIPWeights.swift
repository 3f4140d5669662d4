// OpenAI CLIP checkpoint names (clip/model.py state dict, also open_clip's OpenAI-style
// models), verbatim, and how the Hugging Face transformers CLIPModel names map onto them.
//
// visual.conv1.weight                               [W, 3, p, p]   (no bias)
// visual.class_embedding                            [W]
// visual.positional_embedding                       [1 + g*g, W]
// visual.ln_pre.weight / .bias                      [W]
// visual.transformer.resblocks.{i}.ln_1.weight/bias [W]
// visual.transformer.resblocks.{i}.attn.in_proj_weight [3W, W]  in_proj_bias [3W]
// visual.transformer.resblocks.{i}.attn.out_proj.weight [W, W]  .bias [W]
// visual.transformer.resblocks.{i}.ln_2.weight/bias [W]
// visual.transformer.resblocks.{i}.mlp.c_fc.weight  [4W, W]  .bias [4W]
// visual.transformer.resblocks.{i}.mlp.c_proj.weight [W, 4W] .bias [W]
// visual.ln_post.weight / .bias                     [W]
// visual.proj                                       [W, E]   (x @ proj)
// token_embedding.weight                            [V, Wt]
// positional_embedding                              [ctx, Wt]
// transformer.resblocks.{i}.*                       as above with Wt
// ln_final.weight / .bias                           [Wt]
// text_projection                                   [Wt, E]  (x @ text_projection)
// logit_scale                                       []  (log of the logit scale)
//
// Hugging Face (CLIPModel) differences: q_proj/k_proj/v_proj are separate (concatenated
// here into in_proj), visual_projection.weight and text_projection.weight are [E, W]
// (transposed here), and the LayerNorm/MLP names differ (table below).

let clipHuggingFaceRules = NameRules([
    ("visual.conv1.weight", "vision_model.embeddings.patch_embedding.weight"),
    ("visual.class_embedding", "vision_model.embeddings.class_embedding"),
    ("visual.positional_embedding", "vision_model.embeddings.position_embedding.weight"),
    ("visual.ln_pre.{a}", "vision_model.pre_layrnorm.{a}"),
    ("visual.ln_post.{a}", "vision_model.post_layernorm.{a}"),
    ("visual.transformer.resblocks.{i}.ln_1.{a}", "vision_model.encoder.layers.{i}.layer_norm1.{a}"),
    ("visual.transformer.resblocks.{i}.ln_2.{a}", "vision_model.encoder.layers.{i}.layer_norm2.{a}"),
    ("visual.transformer.resblocks.{i}.attn.out_proj.{a}", "vision_model.encoder.layers.{i}.self_attn.out_proj.{a}"),
    ("visual.transformer.resblocks.{i}.mlp.c_fc.{a}", "vision_model.encoder.layers.{i}.mlp.fc1.{a}"),
    ("visual.transformer.resblocks.{i}.mlp.c_proj.{a}", "vision_model.encoder.layers.{i}.mlp.fc2.{a}"),
    ("token_embedding.weight", "text_model.embeddings.token_embedding.weight"),
    ("positional_embedding", "text_model.embeddings.position_embedding.weight"),
    ("ln_final.{a}", "text_model.final_layer_norm.{a}"),
    ("transformer.resblocks.{i}.ln_1.{a}", "text_model.encoder.layers.{i}.layer_norm1.{a}"),
    ("transformer.resblocks.{i}.ln_2.{a}", "text_model.encoder.layers.{i}.layer_norm2.{a}"),
    ("transformer.resblocks.{i}.attn.out_proj.{a}", "text_model.encoder.layers.{i}.self_attn.out_proj.{a}"),
    ("transformer.resblocks.{i}.mlp.c_fc.{a}", "text_model.encoder.layers.{i}.mlp.fc1.{a}"),
    ("transformer.resblocks.{i}.mlp.c_proj.{a}", "text_model.encoder.layers.{i}.mlp.fc2.{a}"),
    ("logit_scale", "logit_scale"),
])

extension WeightSource {
    /// CLIP weights in OpenAI or Hugging Face naming (prefix `clip_model.` as in a
    /// RegionSpot checkpoint).
    public static func clip(_ files: [SafeTensors], prefixes: [String] = ["clip_model.", "model.clip_model.", "clip."]) -> WeightSource {
        WeightSource(files: files, prefixes: prefixes, aliases: { name in clipHuggingFaceRules.rewrite(name).map { [$0] } ?? [] },
                     alternativeMarkers: ["vision_model.", "text_model."], knownUnused: clipKnownUnused)
    }

    /// Tensors of CLIP checkpoints this build does not read: the causal mask (derived),
    /// TorchScript bookkeeping scalars and transformers' position_ids buffers.
    @Sendable static func clipKnownUnused(_ name: String) -> Bool {
        name == "attn_mask" || name.hasSuffix(".attn_mask") || ["input_resolution", "context_length", "vocab_size"].contains(name)
            || name.hasSuffix("embeddings.position_ids")
    }

    /// Is this source in Hugging Face naming?
    var isHuggingFaceCLIP: Bool { !has("visual.transformer.resblocks.0.attn.in_proj_weight") && locate("vision_model.encoder.layers.0.self_attn.q_proj.weight") != nil || (!has("transformer.resblocks.0.attn.in_proj_weight") && locate("text_model.encoder.layers.0.self_attn.q_proj.weight") != nil) }

    /// in_proj weight/bias of attention block `p` ("visual.transformer.resblocks.3" or
    /// "transformer.resblocks.3"), concatenating HF's q/k/v projections when needed.
    func clipInProj(_ p: String, width: Int) throws(RecognizerError) -> (Tensor, Tensor) {
        if has(p + ".attn.in_proj_weight") {
            return (try tensor(p + ".attn.in_proj_weight", shape: [3 * width, width]), try tensor(p + ".attn.in_proj_bias", shape: [3 * width]))
        }
        let hf = p.replacingOccurrences(of: "visual.transformer.resblocks.", with: "vision_model.encoder.layers.")
            .replacingOccurrences(of: "transformer.resblocks.", with: "text_model.encoder.layers.")
        var w: [Float] = [], b: [Float] = []
        for n in ["q", "k", "v"] {
            w += try tensor("\(hf).self_attn.\(n)_proj.weight", shape: [width, width]).data
            b += try tensor("\(hf).self_attn.\(n)_proj.bias", shape: [width]).data
        }
        return (Tensor(shape: [3 * width, width], data: w), Tensor(shape: [3 * width], data: b))
    }

    /// A projection stored [W, E] by OpenAI (`visual.proj`, `text_projection`) or as a
    /// Linear weight [E, W] by HF (`visual_projection.weight`, `text_projection.weight`).
    func clipProjection(openAI: String, huggingFace: String) throws(RecognizerError) -> Tensor {
        if has(openAI) { return try tensor(openAI, shape: [-1, -1]) }
        return try tensor(huggingFace, shape: [-1, -1]).transposed2D()
    }
}
