import Foundation
import Testing
@testable import Recognizer

/// Swift SAM vs segment-anything 1.0 on the committed fixtures (random weights, small
/// configurations): config A square 240x240 upscaled to 256; config B non-square 150x230
/// with boxes touching the borders. Tolerance: max|a-b| / (max|b| + 1e-6) <= 1e-4.
@Suite("SAM parity")
struct SAMParityTests {
    /// [1, C, G, G] -> channels-last [G*G, C]
    func channelsLast(_ t: Tensor) -> Tensor { t.reshaped(Array(t.shape.dropFirst())).channelsLast() }

    @Test("preprocessing, encoder, prompts and decoder match the reference", arguments: ["sam_a", "sam_b"])
    func parity(name: String) throws {
        let sam = try SAM(path: Fixtures.path("\(name).safetensors"))
        let io = try Fixtures.open("\(name)_io.safetensors")
        let img = try io.tensor("image")
        let (h, w) = (img.shape[0], img.shape[1])
        let rgb = try io.bytes("image")

        // preprocessing: PIL bilinear resize (exact, uint8) and normalization
        let input = sam.preprocess(rgb: rgb, width: w, height: h)
        let resized = try io.bytes("resized")
        let rr = pilBilinearResize(rgb, width: w, height: h, toWidth: input.resizedSize.width, height: input.resizedSize.height)
        #expect(rr == resized, "PIL-style resize differs from the reference in \(zip(rr, resized).filter { $0 != $1 }.count) bytes")
        expectClose(input.tensor, try io.tensor("input"), 1e-5, "\(name) input")

        // image encoder
        let emb = sam.encode(input)
        expectClose(emb, channelsLast(try io.tensor("image_embedding")), 1e-4, "\(name) image_embedding")
        expectClose(sam.densePE, channelsLast(try io.tensor("image_pe")), 1e-4, "\(name) image_pe")

        // boxes: sparse embeddings, region tokens, IoU, low-res masks
        let boxes = try io.tensor("boxes")
        let boxList = (0..<boxes.shape[0]).map { Array(boxes.data[($0 * 4)..<($0 * 4 + 4)]) }
        let scaled = try io.tensor("scaled_boxes")
        for (i, b) in boxList.enumerated() {
            let (x0, y0) = input.scale(x: b[0], y: b[1]), (x1, y1) = input.scale(x: b[2], y: b[3])
            expectClose(Tensor(shape: [4], data: [x0, y0, x1, y1]), scaled.slice(i, i + 1).reshaped([4]), 1e-6, "\(name) scaled box \(i)")
            let sp = sam.prompts.sparse(.box(x0, y0, x1, y1))
            expectClose(sp, try io.tensor("sparse_embeddings").slice(i, i + 1).reshaped([2, -1]), 1e-4, "\(name) sparse \(i)")
        }
        let withMasks = sam.decode(embedding: emb, input: input, boxes: boxList, masks: true)
        expectClose(withMasks.regionTokens, try io.tensor("region_tokens"), 1e-4, "\(name) region_tokens")
        expectClose(Tensor(shape: [boxList.count, 1], data: withMasks.iou), try io.tensor("iou"), 1e-4, "\(name) iou")
        let low = try #require(withMasks.lowResMasks)
        expectClose(low, try io.tensor("low_res_masks"), 1e-4, "\(name) low_res_masks")

        // tokens only (no upscaling) gives the same tokens, and batching does not matter
        let tokensOnly = sam.decode(embedding: emb, input: input, boxes: boxList, masks: false)
        #expect(tokensOnly.lowResMasks == nil)
        expectClose(tokensOnly.regionTokens, try io.tensor("region_tokens"), 1e-4, "\(name) tokens-only")
        let one = sam.decode(embedding: emb, input: input, boxes: [boxList[1]])
        expectClose(one.regionTokens, try io.tensor("region_tokens").slice(1, 2), 1e-4, "\(name) single box")

        // point prompts
        let pts = try io.tensor("points"), labels = try io.integers("point_labels")
        let prompts = (0..<pts.shape[0]).map { i -> SAMPrompt in
            let (x, y) = input.scale(x: pts.data[i * 2], y: pts.data[i * 2 + 1])
            return .points([(x, y)], [labels[i]])
        }
        let pr = sam.decode(embedding: emb, prompts: prompts, masks: true)
        expectClose(pr.regionTokens, try io.tensor("point_region_tokens"), 1e-4, "\(name) point tokens")
        expectClose(Tensor(shape: [prompts.count, 1], data: pr.iou), try io.tensor("point_iou"), 1e-4, "\(name) point iou")
        expectClose(try #require(pr.lowResMasks), try io.tensor("point_low_res_masks"), 1e-4, "\(name) point masks")
    }
}
