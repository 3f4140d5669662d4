import Foundation

// CLIP vision tower, OpenAI style (ViT-B/16, B/32, L/14, L/14@336): patch conv (no bias),
// class token, absolute position embedding (resized bicubically when the input size
// differs from training), ln_pre, residual blocks, then
//  - feature map: the last block's output for ALL tokens [1 + g*g, W], before ln_post
//    (what RegionSpot's integration module attends to);
//  - pooled embedding: ln_post(class token) @ proj -> [E].

public struct CLIPVisionConfig: Sendable, Equatable, Codable {
    public var imageSize: Int, patchSize: Int, width: Int, layers: Int, heads: Int, embedDim: Int
    public var grid: Int { imageSize / patchSize }
    public var variant: String {
        switch (width, patchSize, imageSize) {
        case (768, 16, 224): "ViT-B/16"
        case (768, 32, 224): "ViT-B/32"
        case (1024, 14, 224): "ViT-L/14"
        case (1024, 14, 336): "ViT-L/14@336"
        default: "custom (width \(width), patch \(patchSize), image \(imageSize))"
        }
    }
}

public struct CLIPVision: Sendable {
    public let config: CLIPVisionConfig
    let conv1, classEmbedding, positional, lnPreW, lnPreB, lnPostW, lnPostB, proj: Tensor
    let transformer: CLIPTransformer

    public static let mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
    public static let std: [Float] = [0.26862954, 0.26130258, 0.27577711]

    /// `heads`: defaults to width / 64 (every OpenAI model).
    public init(weights w: WeightSource, heads: Int? = nil) throws(RecognizerError) {
        conv1 = try w.tensor("visual.conv1.weight", shape: [-1, 3, -1, -1])
        let width = conv1.shape[0], p = conv1.shape[2]
        positional = try w.tensor("visual.positional_embedding", shape: [-1, width])
        let g = Int(Double(positional.shape[0] - 1).squareRoot().rounded())
        guard g * g + 1 == positional.shape[0] else { throw RecognizerError("\(w.fileNames): visual.positional_embedding has \(positional.shape[0]) rows, not 1 + g*g") }
        classEmbedding = try w.tensor("visual.class_embedding", shape: [width])
        lnPreW = try w.tensor("visual.ln_pre.weight", shape: [width]); lnPreB = try w.tensor("visual.ln_pre.bias", shape: [width])
        lnPostW = try w.tensor("visual.ln_post.weight", shape: [width]); lnPostB = try w.tensor("visual.ln_post.bias", shape: [width])
        proj = try w.clipProjection(openAI: "visual.proj", huggingFace: "visual_projection.weight")
        guard proj.shape[0] == width else { throw RecognizerError("\(w.fileNames): visual projection has shape \(proj.shape), expected [\(width), E]") }
        let h = heads ?? max(1, width / 64)
        transformer = try CLIPTransformer(w, prefix: "visual.transformer.resblocks", width: width, heads: h)
        config = CLIPVisionConfig(imageSize: g * p, patchSize: p, width: width, layers: transformer.blocks.count, heads: h, embedDim: proj.shape[1])
    }

    /// Packed RGB24 [h, w, 3] -> [3, S, S]: float 0..1, torch bilinear (align_corners
    /// False, no antialias, no aspect keep), CLIP mean/std.
    public func preprocess(rgb: [UInt8], width: Int, height: Int, size: Int? = nil) -> Tensor {
        let s = size ?? config.imageSize
        var chw = [Float](repeating: 0, count: 3 * width * height)
        for i in 0..<(width * height) { for c in 0..<3 { chw[c * width * height + i] = Float(rgb[i * 3 + c]) / 255 } }
        var t = torchBilinearResize(Tensor(shape: [3, height, width], data: chw), toHeight: s, width: s)
        for c in 0..<3 { for i in 0..<(s * s) { t.data[c * s * s + i] = (t.data[c * s * s + i] - Self.mean[c]) / Self.std[c] } }
        return t
    }

    /// Position embedding for a g x g grid: as trained, or its grid part resized
    /// (torch bicubic, align_corners False, as RegionSpot's build_model) when the input size differs.
    func positions(grid g: Int) -> Tensor {
        let g0 = config.grid, w = config.width
        if g == g0 { return positional }
        let grid = Tensor(shape: [g0 * g0, w], data: Array(positional.data[w...])).transposed2D().reshaped([w, g0, g0])
        let r = torchBicubicResize(grid, toHeight: g, width: g).reshaped([w, g * g]).transposed2D()
        return Tensor(shape: [1 + g * g, w], data: Array(positional.data[0..<w]) + r.data)
    }

    public struct Output: Sendable {
        /// [1 + g*g, W]: class token then patches, last block output before ln_post.
        public var featureMap: Tensor
        /// [E]: ln_post(class token) @ proj (not normalized).
        public var embedding: Tensor
    }

    /// image [3, S, S] preprocessed (S a multiple of the patch size).
    public func callAsFunction(_ image: Tensor) -> Output {
        let w = config.width, g = image.shape[1] / config.patchSize
        let patches = patchEmbed(image, weight: conv1, bias: nil, patch: config.patchSize)  // [g*g, W]
        var x = Tensor(shape: [1 + g * g, w], data: classEmbedding.data + patches.data) + positions(grid: g)
        x = x.layerNorm(lnPreW, lnPreB, eps: 1e-5)
        let fm = transformer(x, batch: 1, tokens: 1 + g * g, causal: false)
        let cls = fm.slice(0, 1).layerNorm(lnPostW, lnPostB, eps: 1e-5)
        let emb = matmul(cls, proj)
        return Output(featureMap: fm, embedding: emb.reshaped([config.embedDim]))
    }

    /// Pooled embeddings of several images at once (clip-crop recognition).
    public func embed(_ images: [Tensor]) -> Tensor {
        Tensor(shape: [images.count, config.embedDim], data: images.flatMap { self($0).embedding.data })
    }
}
