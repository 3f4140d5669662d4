// Segment Anything checkpoint names, verbatim (segment_anything.modeling, sam_vit_*.pth),
// and the rules mapping them to the Hugging Face `facebook/sam-vit-*` names
// (transformers SamModel). Every tensor the Swift SAM reads is listed here.
//
// image_encoder.patch_embed.proj.weight        [D, 3, 16, 16]   .bias [D]
// image_encoder.pos_embed                      [1, G, G, D]      G = image_size / 16
// image_encoder.blocks.{i}.norm1.weight/bias   [D]
// image_encoder.blocks.{i}.attn.qkv.weight     [3D, D]           .bias [3D]
// image_encoder.blocks.{i}.attn.proj.weight    [D, D]            .bias [D]
// image_encoder.blocks.{i}.attn.rel_pos_h      [2S-1, D/heads]   S = window or G
// image_encoder.blocks.{i}.attn.rel_pos_w      [2S-1, D/heads]
// image_encoder.blocks.{i}.norm2.weight/bias   [D]
// image_encoder.blocks.{i}.mlp.lin1.weight     [4D, D]           .bias [4D]
// image_encoder.blocks.{i}.mlp.lin2.weight     [D, 4D]           .bias [D]
// image_encoder.neck.0.weight                  [C, D, 1, 1]      (no bias)
// image_encoder.neck.1.weight/bias             [C]               LayerNorm2d
// image_encoder.neck.2.weight                  [C, C, 3, 3]      (no bias)
// image_encoder.neck.3.weight/bias             [C]               LayerNorm2d
// prompt_encoder.pe_layer.positional_encoding_gaussian_matrix  [2, C/2]
// prompt_encoder.point_embeddings.{0..3}.weight [1, C]  (neg, pos, box corner 1, corner 2)
// prompt_encoder.not_a_point_embed.weight      [1, C]
// prompt_encoder.no_mask_embed.weight          [1, C]
// mask_decoder.iou_token.weight                [1, C]
// mask_decoder.mask_tokens.weight              [M, C]            M = 4
// mask_decoder.transformer.layers.{i}.self_attn.{q,k,v}_proj.weight [C, C], out_proj [C, C]
// mask_decoder.transformer.layers.{i}.cross_attn_token_to_image.{q,k,v}_proj.weight [C/2, C]
//   .out_proj.weight [C, C/2]; same for cross_attn_image_to_token; all with biases
// mask_decoder.transformer.layers.{i}.norm{1..4}.weight/bias [C]
// mask_decoder.transformer.layers.{i}.mlp.lin1.weight [F, C], lin2 [C, F]
// mask_decoder.transformer.final_attn_token_to_image.* [C/2, C] ...
// mask_decoder.transformer.norm_final_attn.weight/bias [C]
// mask_decoder.output_upscaling.0.weight       [C, C/4, 2, 2]    ConvTranspose2d (+bias)
// mask_decoder.output_upscaling.1.weight/bias  [C/4]             LayerNorm2d
// mask_decoder.output_upscaling.3.weight       [C/4, C/8, 2, 2]  ConvTranspose2d (+bias)
// mask_decoder.output_hypernetworks_mlps.{m}.layers.{0,1,2}.weight [C,C],[C,C],[C/8,C]
// mask_decoder.iou_prediction_head.layers.{0,1,2}.weight [H,C],[H,H],[M,H]

/// Official -> Hugging Face (transformers SamModel) names.
let samHuggingFaceRules = NameRules([
    ("image_encoder.patch_embed.proj.{a}", "vision_encoder.patch_embed.projection.{a}"),
    ("image_encoder.pos_embed", "vision_encoder.pos_embed"),
    ("image_encoder.blocks.{i}.norm1.weight", "vision_encoder.layers.{i}.layer_norm1.weight"),
    ("image_encoder.blocks.{i}.norm1.bias", "vision_encoder.layers.{i}.layer_norm1.bias"),
    ("image_encoder.blocks.{i}.norm2.weight", "vision_encoder.layers.{i}.layer_norm2.weight"),
    ("image_encoder.blocks.{i}.norm2.bias", "vision_encoder.layers.{i}.layer_norm2.bias"),
    ("image_encoder.blocks.{i}.attn.qkv.weight", "vision_encoder.layers.{i}.attn.qkv.weight"),
    ("image_encoder.blocks.{i}.attn.qkv.bias", "vision_encoder.layers.{i}.attn.qkv.bias"),
    ("image_encoder.blocks.{i}.attn.proj.weight", "vision_encoder.layers.{i}.attn.proj.weight"),
    ("image_encoder.blocks.{i}.attn.proj.bias", "vision_encoder.layers.{i}.attn.proj.bias"),
    ("image_encoder.blocks.{i}.attn.rel_pos_h", "vision_encoder.layers.{i}.attn.rel_pos_h"),
    ("image_encoder.blocks.{i}.attn.rel_pos_w", "vision_encoder.layers.{i}.attn.rel_pos_w"),
    ("image_encoder.blocks.{i}.mlp.lin1.weight", "vision_encoder.layers.{i}.mlp.lin1.weight"),
    ("image_encoder.blocks.{i}.mlp.lin1.bias", "vision_encoder.layers.{i}.mlp.lin1.bias"),
    ("image_encoder.blocks.{i}.mlp.lin2.weight", "vision_encoder.layers.{i}.mlp.lin2.weight"),
    ("image_encoder.blocks.{i}.mlp.lin2.bias", "vision_encoder.layers.{i}.mlp.lin2.bias"),
    ("image_encoder.neck.0.weight", "vision_encoder.neck.conv1.weight"),
    ("image_encoder.neck.1.weight", "vision_encoder.neck.layer_norm1.weight"),
    ("image_encoder.neck.1.bias", "vision_encoder.neck.layer_norm1.bias"),
    ("image_encoder.neck.2.weight", "vision_encoder.neck.conv2.weight"),
    ("image_encoder.neck.3.weight", "vision_encoder.neck.layer_norm2.weight"),
    ("image_encoder.neck.3.bias", "vision_encoder.neck.layer_norm2.bias"),
    ("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", "shared_image_embedding.positional_embedding"),
    ("prompt_encoder.point_embeddings.{i}.weight", "prompt_encoder.point_embed.{i}.weight"),
    ("prompt_encoder.not_a_point_embed.weight", "prompt_encoder.not_a_point_embed.weight"),
    ("prompt_encoder.no_mask_embed.weight", "prompt_encoder.no_mask_embed.weight"),
    // mask prompts' downscaling (listed for completeness; box/point prompts do not use it)
    ("prompt_encoder.mask_downscaling.0.{a}", "prompt_encoder.mask_embed.conv1.{a}"),
    ("prompt_encoder.mask_downscaling.1.{a}", "prompt_encoder.mask_embed.layer_norm1.{a}"),
    ("prompt_encoder.mask_downscaling.3.{a}", "prompt_encoder.mask_embed.conv2.{a}"),
    ("prompt_encoder.mask_downscaling.4.{a}", "prompt_encoder.mask_embed.layer_norm2.{a}"),
    ("prompt_encoder.mask_downscaling.6.{a}", "prompt_encoder.mask_embed.conv3.{a}"),
    ("mask_decoder.transformer.layers.{i}.norm1.{a}", "mask_decoder.transformer.layers.{i}.layer_norm1.{a}"),
    ("mask_decoder.transformer.layers.{i}.norm2.{a}", "mask_decoder.transformer.layers.{i}.layer_norm2.{a}"),
    ("mask_decoder.transformer.layers.{i}.norm3.{a}", "mask_decoder.transformer.layers.{i}.layer_norm3.{a}"),
    ("mask_decoder.transformer.layers.{i}.norm4.{a}", "mask_decoder.transformer.layers.{i}.layer_norm4.{a}"),
    ("mask_decoder.transformer.norm_final_attn.{a}", "mask_decoder.transformer.layer_norm_final_attn.{a}"),
    ("mask_decoder.output_upscaling.0.{a}", "mask_decoder.upscale_conv1.{a}"),
    ("mask_decoder.output_upscaling.1.{a}", "mask_decoder.upscale_layer_norm.{a}"),
    ("mask_decoder.output_upscaling.3.{a}", "mask_decoder.upscale_conv2.{a}"),
    ("mask_decoder.output_hypernetworks_mlps.{m}.layers.0.{a}", "mask_decoder.output_hypernetworks_mlps.{m}.proj_in.{a}"),
    ("mask_decoder.output_hypernetworks_mlps.{m}.layers.1.{a}", "mask_decoder.output_hypernetworks_mlps.{m}.layers.0.{a}"),
    ("mask_decoder.output_hypernetworks_mlps.{m}.layers.2.{a}", "mask_decoder.output_hypernetworks_mlps.{m}.proj_out.{a}"),
    ("mask_decoder.iou_prediction_head.layers.0.{a}", "mask_decoder.iou_prediction_head.proj_in.{a}"),
    ("mask_decoder.iou_prediction_head.layers.1.{a}", "mask_decoder.iou_prediction_head.layers.0.{a}"),
    ("mask_decoder.iou_prediction_head.layers.2.{a}", "mask_decoder.iou_prediction_head.proj_out.{a}"),
])

/// SAM's dimensions, read from tensor shapes (as segment_anything's builders define them).
public struct SAMConfig: Sendable, Equatable, Codable {
    public var imageSize: Int
    public var patchSize: Int
    public var embedDim: Int
    public var depth: Int
    public var heads: Int
    public var windowSize: Int
    public var globalBlocks: [Int]
    public var promptDim: Int
    public var decoderDepth: Int
    public var decoderHeads: Int
    public var decoderMLP: Int
    public var attentionDownsample: Int
    public var maskTokens: Int
    public var iouHidden: Int

    public var grid: Int { imageSize / patchSize }

    /// "ViT-B", "ViT-L", "ViT-H" or a description of a custom size.
    public var variant: String {
        switch (embedDim, depth) {
        case (768, 12): "ViT-B"
        case (1024, 24): "ViT-L"
        case (1280, 32): "ViT-H"
        default: "custom (dim \(embedDim), depth \(depth))"
        }
    }

    /// Infers every dimension from `w`. SAM's decoder head count (8) is not visible in
    /// shapes; `decoderHeads` overrides it for non-standard models.
    public static func infer(from w: WeightSource, decoderHeads: Int = 8) throws(RecognizerError) -> SAMConfig {
        let pw = try w.shape("image_encoder.patch_embed.proj.weight")  // [D, 3, p, p]
        guard pw.count == 4, pw[1] == 3, pw[2] == pw[3] else { throw RecognizerError("\(w.fileNames): image_encoder.patch_embed.proj.weight has shape \(pw), expected [D, 3, p, p]") }
        let pos = try w.shape("image_encoder.pos_embed")  // [1, G, G, D]
        guard pos.count == 4, pos[3] == pw[0], pos[1] == pos[2] else { throw RecognizerError("\(w.fileNames): image_encoder.pos_embed has shape \(pos), expected [1, G, G, \(pw[0])]") }
        let dim = pw[0], grid = pos[1]
        let depth = w.count("image_encoder.blocks.{i}.norm1.weight")
        guard depth > 0 else { throw RecognizerError("\(w.fileNames): no image_encoder.blocks.*") }
        var heads = 0, window = 0
        var global: [Int] = []
        for i in 0..<depth {
            let rel = try w.shape("image_encoder.blocks.\(i).attn.rel_pos_h")  // [2S-1, D/heads]
            guard rel.count == 2, rel[1] > 0, dim % rel[1] == 0 else { throw RecognizerError("\(w.fileNames): image_encoder.blocks.\(i).attn.rel_pos_h has shape \(rel)") }
            heads = dim / rel[1]
            let size = (rel[0] + 1) / 2
            if size == grid { global.append(i) } else { window = size }
        }
        let neck = try w.shape("image_encoder.neck.0.weight")  // [C, D, 1, 1]
        let c = neck[0]
        let decoderDepth = w.count("mask_decoder.transformer.layers.{i}.norm1.weight")
        let mlp = try w.shape("mask_decoder.transformer.layers.0.mlp.lin1.weight")[0]
        let inner = try w.shape("mask_decoder.transformer.layers.0.cross_attn_token_to_image.q_proj.weight")[0]
        let maskTokens = try w.shape("mask_decoder.mask_tokens.weight")[0]
        let iouHidden = try w.shape("mask_decoder.iou_prediction_head.layers.0.weight")[0]
        guard decoderHeads > 0, c % decoderHeads == 0, inner % decoderHeads == 0 else {
            throw RecognizerError("\(w.fileNames): mask decoder widths \(c) and \(inner) do not split into \(decoderHeads) heads")
        }
        return SAMConfig(
            imageSize: grid * pw[2], patchSize: pw[2], embedDim: dim, depth: depth, heads: heads,
            windowSize: window, globalBlocks: global, promptDim: c, decoderDepth: decoderDepth,
            decoderHeads: decoderHeads, decoderMLP: mlp, attentionDownsample: c / inner,
            maskTokens: maskTokens, iouHidden: iouHidden)
    }

    public static func weights(_ files: [SafeTensors], prefixes: [String] = ["sam.", "model.sam."]) -> WeightSource {
        WeightSource(files: files, prefixes: prefixes, aliases: { name in samHuggingFaceRules.rewrite(name).map { [$0] } ?? [] },
                     alternativeMarkers: ["vision_encoder."], knownUnused: samKnownUnused)
    }

    /// Tensors of SAM checkpoints this build does not read: the mask-prompt downscaling
    /// (box and point prompts only) and transformers' tied copy of the positional matrix.
    @Sendable static func samKnownUnused(_ name: String) -> Bool {
        name.hasPrefix("prompt_encoder.mask_downscaling.") || name.hasPrefix("prompt_encoder.mask_embed.")
            || name == "prompt_encoder.shared_embedding.positional_embedding"
    }
}
