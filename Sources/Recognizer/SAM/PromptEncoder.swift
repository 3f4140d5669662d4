import Foundation

// SAM prompt encoder (segment_anything/modeling/prompt_encoder.py): random Fourier
// positional encoding of prompt coordinates (+0.5 to the pixel centre, normalized by the
// encoder's input size), learned point / box-corner embeddings, and the dense "no mask"
// embedding. Coordinates here are already in the resized (1024-frame) space.

public enum SAMPrompt: Sendable, Equatable {
    /// xyxy in the resized input frame.
    case box(Float, Float, Float, Float)
    /// Points (x, y) in the resized input frame with labels 1 (foreground) / 0 (background).
    case points([(Float, Float)], [Int])

    public static func == (a: SAMPrompt, b: SAMPrompt) -> Bool {
        switch (a, b) {
        case let (.box(a0, a1, a2, a3), .box(b0, b1, b2, b3)): return (a0, a1, a2, a3) == (b0, b1, b2, b3)
        case let (.points(p, l), .points(q, m)): return l == m && p.count == q.count && zip(p, q).allSatisfy { $0 == $1 }
        default: return false
        }
    }
}

struct SAMPromptEncoder {
    let c: Int
    let gaussian: Tensor  // [2, C/2]
    let pointEmbeddings: [Tensor]  // 4 x [1, C]
    let notAPoint: Tensor, noMask: Tensor  // [1, C]
    let imageSize: Int

    init(_ w: WeightSource, _ cfg: SAMConfig) throws(RecognizerError) {
        let c = cfg.promptDim
        self.c = c
        imageSize = cfg.imageSize
        gaussian = try w.tensor("prompt_encoder.pe_layer.positional_encoding_gaussian_matrix", shape: [2, c / 2])
        var points: [Tensor] = []
        for i in 0..<4 { points.append(try w.tensor("prompt_encoder.point_embeddings.\(i).weight", shape: [1, c])) }
        pointEmbeddings = points
        notAPoint = try w.tensor("prompt_encoder.not_a_point_embed.weight", shape: [1, c])
        noMask = try w.tensor("prompt_encoder.no_mask_embed.weight", shape: [1, c])
    }

    /// Fourier features of normalized coordinates (x, y) in [0, 1]: [sin(2pi v), cos(2pi v)]
    /// with v = (2 (x, y) - 1) G.  -> C floats appended to `out`.
    func encode(_ x: Float, _ y: Float, into out: inout [Float]) {
        let half = c / 2
        let cx = 2 * x - 1, cy = 2 * y - 1
        var v = [Float](repeating: 0, count: half)
        for j in 0..<half {
            v[j] = 2 * Float.pi * (cx * gaussian.data[j] + cy * gaussian.data[half + j])
        }
        for j in 0..<half { out.append(sin(v[j])) }
        for j in 0..<half { out.append(cos(v[j])) }
    }

    /// Sparse embeddings [S, C] of one prompt (box: 2 corner tokens; points alone: the
    /// points plus a padding point, as SAM does when no box is given).
    func sparse(_ prompt: SAMPrompt) -> Tensor {
        var out: [Float] = []
        let s = Float(imageSize)
        switch prompt {
        case let .box(x0, y0, x1, y1):
            encode((x0 + 0.5) / s, (y0 + 0.5) / s, into: &out)
            encode((x1 + 0.5) / s, (y1 + 0.5) / s, into: &out)
            for j in 0..<c {
                out[j] += pointEmbeddings[2].data[j]
                out[c + j] += pointEmbeddings[3].data[j]
            }
            return Tensor(shape: [2, c], data: out)
        case let .points(pts, labels):
            let all = pts + [(-0.5, -0.5)]  // padding point (0, 0) before the +0.5 shift
            let labs = labels + [-1]
            for (i, p) in all.enumerated() {
                let start = out.count
                encode((p.0 + 0.5) / s, (p.1 + 0.5) / s, into: &out)
                let add: Tensor
                switch labs[i] {
                case -1:
                    for j in 0..<c { out[start + j] = 0 }
                    add = notAPoint
                case 0: add = pointEmbeddings[0]
                default: add = pointEmbeddings[1]
                }
                for j in 0..<c { out[start + j] += add.data[j] }
            }
            return Tensor(shape: [all.count, c], data: out)
        }
    }

    /// Dense positional encoding of the G x G embedding grid, channels-last [G*G, C].
    func densePE(grid g: Int) -> Tensor {
        var out: [Float] = []
        out.reserveCapacity(g * g * c)
        for y in 0..<g {
            for x in 0..<g { encode((Float(x) + 0.5) / Float(g), (Float(y) + 0.5) / Float(g), into: &out) }
        }
        return Tensor(shape: [g * g, c], data: out)
    }
}
