import Foundation

/// Segment Anything, frozen, for RegionSpot: one image embedding per image, then region
/// tokens (mask token 0 with multimask off), IoU predictions and — only when asked —
/// masks for any number of box or point prompts.
public final class SAM: @unchecked Sendable {  // immutable after init
    public let config: SAMConfig
    let encoder: SAMImageEncoder
    let prompts: SAMPromptEncoder
    let decoder: SAMMaskDecoder
    let densePE: Tensor  // [G*G, C]
    /// Prompts decoded together; bounds the per-prompt key copies ([group, G*G, C]).
    public var decoderGroup = 16

    public static let pixelMean: [Float] = [123.675, 116.28, 103.53]
    public static let pixelStd: [Float] = [58.395, 57.12, 57.375]

    /// Loads SAM from weights in official or Hugging Face naming. `decoderHeads` is the
    /// mask decoder's head count (8 in every released SAM; not visible in shapes).
    public init(weights w: WeightSource, decoderHeads: Int? = nil) throws(RecognizerError) {
        var heads = decoderHeads ?? 8
        if decoderHeads == nil {
            for f in w.files {
                if let cfg = f.metadata["config"], let d = cfg.data(using: .utf8),
                   let obj = try? JSONSerialization.jsonObject(with: d) as? [String: Any] {
                    // our fixtures' config, or a Hugging Face SamConfig
                    if let h = obj["dec_heads"] as? Int { heads = h }
                    if let m = obj["mask_decoder_config"] as? [String: Any], let h = m["num_attention_heads"] as? Int { heads = h }
                }
            }
        }
        config = try SAMConfig.infer(from: w, decoderHeads: heads)
        encoder = try SAMImageEncoder(w, config)
        prompts = try SAMPromptEncoder(w, config)
        decoder = try SAMMaskDecoder(w, config)
        densePE = prompts.densePE(grid: config.grid)
    }

    public convenience init(path: String) throws(RecognizerError) {
        try self.init(weights: SAMConfig.weights([SafeTensors(path: path)]))
    }

    /// An image prepared for the encoder.
    public struct Input: Sendable {
        public var tensor: Tensor  // [3, S, S] normalized, zero-padded bottom/right
        public var originalSize: (height: Int, width: Int)
        public var resizedSize: (height: Int, width: Int)
        /// Source pixels -> input frame.
        public func scale(x: Float, y: Float) -> (Float, Float) {
            (x * Float(resizedSize.width) / Float(originalSize.width), y * Float(resizedSize.height) / Float(originalSize.height))
        }
    }

    /// (h, w) -> (int(h*s+0.5), int(w*s+0.5)) with s = S / max(h, w), as ResizeLongestSide.
    public static func resizedSize(height h: Int, width w: Int, longSide: Int) -> (Int, Int) {
        let s = Double(longSide) / Double(max(h, w))
        return (Int(Double(h) * s + 0.5), Int(Double(w) * s + 0.5))
    }

    /// Packed RGB24 [h, w, 3] -> encoder input: PIL-bilinear resize of the longest side to
    /// S, pixel mean/std, zero padding to S x S.
    public func preprocess(rgb: [UInt8], width: Int, height: Int) -> Input {
        let s = config.imageSize
        let (nh, nw) = Self.resizedSize(height: height, width: width, longSide: s)
        let resized = pilBilinearResize(rgb, width: width, height: height, toWidth: nw, height: nh)
        var t = [Float](repeating: 0, count: 3 * s * s)  // [3, S, S], zero padding
        let mean = Self.pixelMean, std = Self.pixelStd
        resized.withUnsafeBufferPointer { rp in t.withUnsafeMutableBufferPointer { tp in
            let r = rp.baseAddress!, o = tp.baseAddress!
            Parallel.forRanges(nh, grain: 64) { rows in
                for y in rows {
                    for c in 0..<3 {
                        let dst = o + (c * s + y) * s, m = mean[c], sd = std[c]
                        for x in 0..<nw { dst[x] = (Float(r[(y * nw + x) * 3 + c]) - m) / sd }
                    }
                }
            }
        } }
        return Input(tensor: Tensor(shape: [3, s, s], data: t), originalSize: (height, width), resizedSize: (nh, nw))
    }

    /// The image embedding [G*G, C] (channels-last).
    public func encode(_ input: Input) -> Tensor { encoder(input.tensor) }

    public struct Result: Sendable {
        /// [N, C]: mask token 0 after the two-way transformer, one row per prompt.
        public var regionTokens: Tensor
        /// Predicted IoU of mask 0, per prompt.
        public var iou: [Float]
        /// [N, 4G, 4G] mask-0 logits, when masks were asked for.
        public var lowResMasks: Tensor?
    }

    /// Prompts given in source pixels (boxes xyxy; points with labels) -> tokens.
    public func decode(embedding: Tensor, input: Input, boxes: [[Float]], masks: Bool = false) -> Result {
        let prompts = boxes.map { b -> SAMPrompt in
            let (x0, y0) = input.scale(x: b[0], y: b[1]), (x1, y1) = input.scale(x: b[2], y: b[3])
            return .box(x0, y0, x1, y1)
        }
        return decode(embedding: embedding, prompts: prompts, masks: masks)
    }

    /// Prompts already in the input frame. Prompts with different token counts (boxes vs
    /// points) are decoded in separate groups; results keep the given order.
    public func decode(embedding: Tensor, prompts: [SAMPrompt], masks: Bool = false) -> Result {
        let c = config.promptDim, g = config.grid
        var tokens = [[Float]](repeating: [], count: prompts.count)
        var iou = [Float](repeating: 0, count: prompts.count)
        var low = masks ? [[Float]](repeating: [], count: prompts.count) : []
        forEachDecoderBatch(embedding: embedding, prompts: prompts, masks: masks, multimask: false) { idx, out in
            for (j, i) in idx.enumerated() {
                tokens[i] = Array(out.regionTokens.data[(j * c)..<((j + 1) * c)])
                iou[i] = out.iou[j]
                if let lm = out.lowResMasks { low[i] = Array(lm.data[(j * 16 * g * g)..<((j + 1) * 16 * g * g)]) }
            }
        }
        return Result(regionTokens: Tensor(shape: [prompts.count, c], data: tokens.flatMap { $0 }), iou: iou,
                      lowResMasks: masks ? Tensor(shape: [prompts.count, 4 * g, 4 * g], data: low.flatMap { $0 }) : nil)
    }

    /// Runs the mask decoder over `prompts` in batches of at most `decoderGroup` prompts
    /// with the same token count (boxes and points decode separately); `body` gets each
    /// batch's prompt indices (into `prompts`) and the decoder's output for them.
    func forEachDecoderBatch(embedding: Tensor, prompts: [SAMPrompt], masks: Bool, multimask: Bool, maskRows: Int? = nil,
                             multimaskMinIoU: Float? = nil, _ body: (_ indices: [Int], _ out: SAMMaskDecoder.Output) -> Void) {
        let sparse = prompts.map { self.prompts.sparse($0) }
        var groups: [Int: [Int]] = [:]
        for (i, s) in sparse.enumerated() { groups[s.shape[0], default: []].append(i) }
        for (_, members) in groups.sorted(by: { $0.key < $1.key }) {
            for start in stride(from: 0, to: members.count, by: decoderGroup) {
                let idx = Array(members[start..<min(members.count, start + decoderGroup)])
                body(idx, decoder(image: embedding, pe: densePE, dense: self.prompts.noMask,
                                  sparse: idx.map { sparse[$0] }, masks: masks, multimask: multimask, maskRows: maskRows,
                                  multimaskMinIoU: multimaskMinIoU))
            }
        }
    }

    public struct MultimaskResult: Sendable {
        /// [N, 3, 4G, 4G]: logits of mask tokens 1...3 per prompt (multimask_output=True).
        public var lowResMasks: Tensor
        /// [N * 3]: predicted IoU of those masks, prompt-major.
        public var iou: [Float]
    }

    /// SAM's multimask output for prompts in the input frame (points, as the automatic
    /// mask generator uses): three masks and IoU predictions per prompt. Groups of
    /// `decoderGroup` prompts; results keep the given order. `rows`: only the masks' first
    /// rows are wanted (the picture's); the others read 0. `minIoU`: only masks whose
    /// predicted IoU is above it are computed; the others read 0.
    public func decodeMultimask(embedding: Tensor, prompts: [SAMPrompt], rows: Int? = nil, minIoU: Float? = nil) -> MultimaskResult {
        let g4 = 4 * config.grid, m1 = config.maskTokens - 1, n = m1 * g4 * g4
        var masks = [Float](repeating: 0, count: prompts.count * n)
        var iou = [Float](repeating: 0, count: prompts.count * m1)
        forEachDecoderBatch(embedding: embedding, prompts: prompts, masks: false, multimask: true, maskRows: rows, multimaskMinIoU: minIoU) { idx, out in
            let mm = out.multiMasks!, mi = out.multiIoU!
            for (j, i) in idx.enumerated() {
                masks.replaceSubrange((i * n)..<((i + 1) * n), with: mm.data[(j * n)..<((j + 1) * n)])
                iou.replaceSubrange((i * m1)..<((i + 1) * m1), with: mi[(j * m1)..<((j + 1) * m1)])
            }
        }
        return MultimaskResult(lowResMasks: Tensor(shape: [prompts.count, m1, g4, g4], data: masks), iou: iou)
    }

    /// Low-res logits [4G, 4G] -> logits at source size [H, W], as SAM's postprocess_masks
    /// (bilinear up to S x S, crop the padding, bilinear to the source size).
    public func fullLogits(lowRes: ArraySlice<Float>, input: Input) -> [Float] {
        let g4 = 4 * config.grid, s = config.imageSize
        let up = torchBilinearResize(Tensor(shape: [1, g4, g4], data: Array(lowRes)), toHeight: s, width: s)
        let (nh, nw) = input.resizedSize
        var crop = [Float](repeating: 0, count: nh * nw)
        for y in 0..<nh { for x in 0..<nw { crop[y * nw + x] = up.data[y * s + x] } }
        return torchBilinearResize(Tensor(shape: [1, nh, nw], data: crop), toHeight: input.originalSize.height, width: input.originalSize.width).data
    }

    /// Mask-0 logits [4G, 4G] -> boolean mask at source size, as SAM's postprocess_masks:
    /// bilinear up to S x S, crop the padding, bilinear to the source size, > 0.
    public func fullMask(lowRes: [Float], input: Input) -> [Bool] {
        let g4 = 4 * config.grid, s = config.imageSize
        let up = torchBilinearResize(Tensor(shape: [1, g4, g4], data: lowRes), toHeight: s, width: s)
        let (nh, nw) = input.resizedSize
        var crop = [Float](repeating: 0, count: nh * nw)
        for y in 0..<nh { for x in 0..<nw { crop[y * nw + x] = up.data[y * s + x] } }
        let full = torchBilinearResize(Tensor(shape: [1, nh, nw], data: crop), toHeight: input.originalSize.height, width: input.originalSize.width)
        return full.data.map { $0 > 0 }
    }
}
