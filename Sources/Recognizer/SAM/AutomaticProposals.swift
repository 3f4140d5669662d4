import Foundation

// "Everything mode": SAM's automatic mask generator
// (segment_anything/automatic_mask_generator.py, SamAutomaticMaskGenerator with
// crop_n_layers = 0, min_mask_region_area = 0), on an image embedding the keyframe
// already computed:
//   1. an n x n grid of point prompts at the cell centres ((i + 0.5) / n of the width and
//      height, row-major: y outer, x inner), in batches of `pointsPerBatch`;
//   2. multimask output: mask tokens 1...3 per point, with their predicted IoU;
//   3. keep masks with predicted IoU > `predIoUThreshold` (strict, skipped when 0); the
//      IoU head reads only the tokens, so the others are never upscaled (the upscaling is
//      most of a point's cost);
//   4. stability score = #(logits > t + offset) / #(logits > t - offset), t = the mask
//      threshold (0 in SAM); keep >= `stabilityScoreThreshold` (skipped when 0);
//   5. box of (logits > t): xyxy of the first/last mask column and row (inclusive pixel
//      indices, [0, 0, 0, 0] for an empty mask), as batched_mask_to_box;
//   6. non-maximum suppression over all kept boxes by predicted IoU (torchvision's nms:
//      highest score first, drop IoU > `boxNMSThreshold`); output in that order.
// `resolution: .source` works on logits upsampled to the source size exactly as SAM's
// postprocess_masks (the reference; cost grows with the picture), `.lowRes` on the
// 4G x 4G decoder logits cropped to the picture (about 100x cheaper at 1080p; boxes are
// scaled to source pixels, stability is measured on fewer pixels).
//
// API:  sam.automaticProposals(embedding: emb, input: input, config: cfg) -> [AutomaticProposal]
//       (emb = sam.encode(input), input = sam.preprocess(...): the keyframe's own.)
//       Boxes in source pixels; `pixelBox` is the same box as pixel edges (x2 + 1, y2 + 1).

public struct AutomaticMaskConfig: Sendable, Equatable {
    public enum Resolution: String, Sendable, Equatable { case source, lowRes }
    /// Points per side of the prompt grid (SAM's default is 32; 16 is cheaper).
    public var pointsPerSide: Int = 16
    /// Points decoded per batch (bounds memory; does not change the result).
    public var pointsPerBatch: Int = 64
    public var predIoUThreshold: Float = 0.88
    public var stabilityScoreThreshold: Float = 0.95
    public var stabilityScoreOffset: Float = 1.0
    public var boxNMSThreshold: Float = 0.7
    /// Logit threshold of a mask (Sam.mask_threshold, 0 in SAM).
    public var maskThreshold: Float = 0
    public var resolution: Resolution = .lowRes
    public init() {}
}

public struct AutomaticProposal: Sendable, Equatable {
    /// xyxy in source pixels, inclusive pixel indices as SAM's batched_mask_to_box.
    public var box: [Float]
    public var predictedIoU: Float
    public var stabilityScore: Float
    /// The grid point (source pixels) that prompted the mask.
    public var point: [Float]
    /// The box as pixel edges (x1, y1, x2 + 1, y2 + 1): the region the mask covers.
    public var pixelBox: [Float] { [box[0], box[1], box[2] + 1, box[3] + 1] }
}

extension SAM {
    /// SAM's point grid: n x n points in [0, 1]^2, row-major (y outer), as build_point_grid.
    public static func pointGrid(_ n: Int) -> [(Double, Double)] {
        guard n > 0 else { return [] }
        let offset = 1 / (2 * Double(n))
        let step = n > 1 ? (1 - 2 * offset) / Double(n - 1) : 0
        let side = (0..<n).map { i in i == n - 1 && n > 1 ? 1 - offset : offset + step * Double(i) }
        return side.flatMap { y in side.map { x in (x, y) } }
    }

    /// Everything mode on the keyframe's embedding (see the file header).
    public func automaticProposals(embedding: Tensor, input: Input, config: AutomaticMaskConfig = AutomaticMaskConfig()) -> [AutomaticProposal] {
        let kept = automaticCandidates(embedding: embedding, input: input, config: config)
        let order = nonMaximumSuppression(boxes: kept.map(\.box), scores: kept.map(\.predictedIoU), iouThreshold: config.boxNMSThreshold)
        return order.map { kept[$0] }
    }

    /// Steps 1-5: the masks that pass both filters, point-major then mask 1...3 (what
    /// reaches NMS).
    func automaticCandidates(embedding: Tensor, input: Input, config: AutomaticMaskConfig) -> [AutomaticProposal] {
        let (h, w) = input.originalSize
        let points = Self.pointGrid(config.pointsPerSide).map { ($0.0 * Double(w), $0.1 * Double(h)) }
        let (nh, nw) = input.resizedSize
        let sx = Double(nw) / Double(w), sy = Double(nh) / Double(h)
        var kept: [AutomaticProposal] = []
        let batch = max(1, config.pointsPerBatch)
        let m1 = self.config.maskTokens - 1, g4 = 4 * self.config.grid, n = g4 * g4
        // low-res: only the rows lowResCrop reads (below them is the square's padding:
        // a quarter of the upscaling for 4:3 pictures, 44% for 16:9)
        let rows = config.resolution == .lowRes ? min(g4, (nh * g4 + self.config.imageSize - 1) / self.config.imageSize) : nil
        for start in stride(from: 0, to: points.count, by: batch) {
            let chunk = points[start..<min(points.count, start + batch)]
            let prompts = chunk.map { SAMPrompt.points([(Float($0.0 * sx), Float($0.1 * sy))], [1]) }
            var perPoint = [[AutomaticProposal]](repeating: [], count: chunk.count)
            // each decoder batch read where it is (no copy of the chunk's masks); masks
            // failing the IoU filter are never read, so not computed
            forEachDecoderBatch(embedding: embedding, prompts: prompts, masks: false, multimask: true, maskRows: rows,
                                multimaskMinIoU: config.predIoUThreshold > 0 ? config.predIoUThreshold : nil) { idx, out in
                let masks = out.multiMasks!, ious = out.multiIoU!
                for (b, j) in idx.enumerated() {
                    let p = chunk[chunk.startIndex + j]
                    for k in 0..<m1 {
                        let iou = ious[b * m1 + k]
                        if config.predIoUThreshold > 0 && !(iou > config.predIoUThreshold) { continue }
                        let low = masks.data[((b * m1 + k) * n)..<((b * m1 + k + 1) * n)]
                        let (logits, lw, lh) = config.resolution == .source
                            ? (fullLogits(lowRes: low, input: input), w, h)
                            : Self.lowResCrop(low, side: g4, imageSize: self.config.imageSize, resized: (nh, nw))
                        let stability = Self.stabilityScore(logits, threshold: config.maskThreshold, offset: config.stabilityScoreOffset)
                        if config.stabilityScoreThreshold > 0 && !(stability >= config.stabilityScoreThreshold) { continue }
                        var box = Self.maskBox(logits, width: lw, height: lh, threshold: config.maskThreshold)
                        if config.resolution == .lowRes { box = Self.lowResBoxToSource(box, lowSize: (lh, lw), source: (h, w)) }
                        perPoint[j].append(AutomaticProposal(box: box, predictedIoU: iou, stabilityScore: stability, point: [Float(p.0), Float(p.1)]))
                    }
                }
            }
            kept += perPoint.joined()
        }
        return kept
    }

    /// #(x > t + offset) / #(x > t - offset) (NaN when nothing is above t - offset).
    public static func stabilityScore(_ logits: [Float], threshold t: Float, offset: Float) -> Float {
        var inter = 0, union = 0
        let hi = t + offset, lo = t - offset
        for v in logits {
            if v > hi { inter += 1 }
            if v > lo { union += 1 }
        }
        return Float(inter) / Float(union)
    }

    /// xyxy of the pixels with logit > t: first/last column and row (inclusive), zeros
    /// when none, as batched_mask_to_box. `logits` is [height, width] row-major.
    public static func maskBox(_ logits: [Float], width: Int, height: Int, threshold t: Float) -> [Float] {
        var x0 = width, y0 = height, x1 = -1, y1 = -1
        for y in 0..<height {
            let row = y * width
            var first = -1, last = -1
            for x in 0..<width where logits[row + x] > t {
                if first < 0 { first = x }
                last = x
            }
            if first >= 0 {
                y0 = min(y0, y); y1 = y
                x0 = min(x0, first); x1 = max(x1, last)
            }
        }
        if x1 < x0 || y1 < y0 { return [0, 0, 0, 0] }
        return [Float(x0), Float(y0), Float(x1), Float(y1)]
    }

    /// The decoder's low-res logits restricted to the picture (the rest is padding).
    static func lowResCrop(_ low: ArraySlice<Float>, side g4: Int, imageSize s: Int, resized: (Int, Int)) -> ([Float], Int, Int) {
        let lh = min(g4, (resized.0 * g4 + s - 1) / s), lw = min(g4, (resized.1 * g4 + s - 1) / s)
        var out = [Float](repeating: 0, count: lh * lw)
        let base = low.startIndex
        for y in 0..<lh { for x in 0..<lw { out[y * lw + x] = low[base + y * g4 + x] } }
        return (out, lw, lh)
    }

    /// An inclusive low-res box -> inclusive source-pixel box.
    static func lowResBoxToSource(_ b: [Float], lowSize: (Int, Int), source: (Int, Int)) -> [Float] {
        if b == [0, 0, 0, 0] { return b }
        let fx = Float(source.1) / Float(lowSize.1), fy = Float(source.0) / Float(lowSize.0)
        return [(b[0] * fx).rounded(.down), (b[1] * fy).rounded(.down),
                min(Float(source.1 - 1), ((b[2] + 1) * fx).rounded(.up) - 1),
                min(Float(source.0 - 1), ((b[3] + 1) * fy).rounded(.up) - 1)]
    }
}

/// torchvision.ops.nms: indices of the kept boxes (xyxy), highest score first; a box is
/// dropped when its IoU with a kept, higher-scoring box is > `iouThreshold`. IoU uses
/// areas (x2 - x1) (y2 - y1) as torchvision does. Ties keep the input order.
public func nonMaximumSuppression(boxes: [[Float]], scores: [Float], iouThreshold: Float) -> [Int] {
    precondition(boxes.count == scores.count, "nms: \(boxes.count) boxes, \(scores.count) scores")
    let order = scores.indices.sorted { scores[$0] != scores[$1] ? scores[$0] > scores[$1] : $0 < $1 }
    let area = boxes.map { ($0[2] - $0[0]) * ($0[3] - $0[1]) }
    var suppressed = [Bool](repeating: false, count: boxes.count)
    var keep: [Int] = []
    for (oi, i) in order.enumerated() where !suppressed[i] {
        keep.append(i)
        let a = boxes[i]
        for j in order[(oi + 1)...] where !suppressed[j] {
            let b = boxes[j]
            let w = max(0, min(a[2], b[2]) - max(a[0], b[0]))
            let h = max(0, min(a[3], b[3]) - max(a[1], b[1]))
            let inter = w * h
            if inter / (area[i] + area[j] - inter) > iouThreshold { suppressed[j] = true }
        }
    }
    return keep
}
