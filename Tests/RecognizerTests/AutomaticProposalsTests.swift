import Foundation
import Testing
@testable import Recognizer

/// Everything mode vs segment-anything 1.0's SamAutomaticMaskGenerator on the committed
/// fixture (SAM A weights, 150x200 picture, 10x10 grid; tools/fixturegen/amg.py).
@Suite("Automatic proposals")
struct AutomaticProposalsTests {
    static func config(_ io: SafeTensors) throws -> AutomaticMaskConfig {
        let params = try #require(io.metadata["params"]?.data(using: .utf8))
        let obj = try JSONSerialization.jsonObject(with: params)
        let p = try #require(obj as? [String: Any])
        var c = AutomaticMaskConfig()
        c.pointsPerSide = try #require(p["points_per_side"] as? Int)
        c.pointsPerBatch = try #require(p["points_per_batch"] as? Int)
        c.predIoUThreshold = Float(try #require(p["pred_iou_thresh"] as? Double))
        c.stabilityScoreThreshold = Float(try #require(p["stability_score_thresh"] as? Double))
        c.stabilityScoreOffset = Float(try #require(p["stability_score_offset"] as? Double))
        c.boxNMSThreshold = Float(try #require(p["box_nms_thresh"] as? Double))
        let mt = try #require(io.metadata["mask_threshold"])
        c.maskThreshold = Float(try #require(Double(mt)))
        c.resolution = .source
        return c
    }

    static func rows(_ t: Tensor, _ w: Int) -> [[Float]] {
        (0..<(t.count / w)).map { Array(t.data[($0 * w)..<($0 * w + w)]) }
    }

    @Test("same candidates, same kept boxes in the same order, same scores as the reference")
    func parity() throws {
        let sam = try SAM(path: Fixtures.path("sam_a.safetensors"))
        let io = try Fixtures.open("amg_a_io.safetensors")
        let cfg = try Self.config(io)
        let img = try io.tensor("image")
        let (h, w) = (img.shape[0], img.shape[1])
        let input = sam.preprocess(rgb: try io.bytes("image"), width: w, height: h)
        let emb = sam.encode(input)

        // what reaches NMS: grid, multimask, IoU filter, stability filter, boxes
        let cands = sam.automaticCandidates(embedding: emb, input: input, config: cfg)
        let refBoxes = Self.rows(try io.tensor("candidate_boxes"), 4)
        let refIoU = try io.tensor("candidate_iou").data
        #expect(cands.map(\.box) == refBoxes)
        #expect(cands.count == refIoU.count)
        for (c, r) in zip(cands, refIoU) { #expect(abs(c.predictedIoU - r) < 1e-3, "candidate iou \(c.predictedIoU) vs \(r)") }

        // the generator's output
        let out = sam.automaticProposals(embedding: emb, input: input, config: cfg)
        let kept = Self.rows(try io.tensor("boxes"), 4)
        #expect(out.map(\.box) == kept)
        #expect(kept.count >= 5 && kept.count < refBoxes.count)   // NMS dropped some, not all
        let iou = try io.tensor("predicted_iou").data, stab = try io.tensor("stability_score").data
        let points = Self.rows(try io.tensor("point_coords"), 2)
        try #require(out.count == kept.count)
        for i in out.indices {
            #expect(abs(out[i].predictedIoU - iou[i]) < 1e-3, "kept \(i) iou \(out[i].predictedIoU) vs \(iou[i])")
            #expect(abs(out[i].stabilityScore - stab[i]) < 1e-3, "kept \(i) stability \(out[i].stabilityScore) vs \(stab[i])")
            #expect(abs(out[i].point[0] - points[i][0]) < 1e-3 && abs(out[i].point[1] - points[i][1]) < 1e-3)
        }
        // batching does not change the result
        var one = cfg
        one.pointsPerBatch = 100
        #expect(sam.automaticProposals(embedding: emb, input: input, config: one).map(\.box) == kept)
    }

    @Test("multimask decoding leaves mask token 0 as it was")
    func multimaskKeepsToken0() throws {
        let sam = try SAM(path: Fixtures.path("sam_a.safetensors"))
        let io = try Fixtures.open("sam_a_io.safetensors")
        let img = try io.tensor("image")
        let input = sam.preprocess(rgb: try io.bytes("image"), width: img.shape[1], height: img.shape[0])
        let emb = sam.encode(input)
        let prompts: [SAMPrompt] = [.points([(30, 40)], [1]), .points([(200, 120)], [1]), .points([(100, 220)], [1])]
        let single = sam.decode(embedding: emb, prompts: prompts, masks: true)
        let out = sam.decoder(image: emb, pe: sam.densePE, dense: sam.prompts.noMask, sparse: prompts.map { sam.prompts.sparse($0) },
                              masks: true, multimask: true)
        // the final attention then computes 5 token rows instead of 2 (different GEMM
        // shapes), so equal up to float rounding
        expectClose(out.regionTokens, single.regionTokens, 1e-5, "mask token 0 with multimask")
        expectClose(Tensor(shape: [3], data: out.iou), Tensor(shape: [3], data: single.iou), 1e-5, "iou 0 with multimask")
        expectClose(try #require(out.lowResMasks), try #require(single.lowResMasks), 1e-5, "mask 0 with multimask")
        let multi = sam.decodeMultimask(embedding: emb, prompts: prompts)
        #expect(multi.lowResMasks.shape == [3, 3, 4 * sam.config.grid, 4 * sam.config.grid])
        #expect(multi.iou.count == 9)
        #expect(multi.iou == (out.multiIoU ?? []))
        // the three masks differ from each other and from mask 0
        let n = 16 * sam.config.grid * sam.config.grid
        let m0 = Array(single.lowResMasks!.data[0..<n])
        let m1 = Array(multi.lowResMasks.data[0..<n]), m2 = Array(multi.lowResMasks.data[n..<(2 * n)])
        #expect(m1 != m0 && m1 != m2)
        // only the picture's rows (everything mode at low resolution): those rows as in the
        // whole masks (each key upscales to its own 4x4 pixels), none computed below them
        let g4 = 4 * sam.config.grid
        for rows in [g4 / 2 + 1, 5] {
            let cropped = sam.decodeMultimask(embedding: emb, prompts: prompts, rows: rows)
            #expect(cropped.iou == multi.iou)
            let whole = (rows + 3) / 4 * 4  // computed: whole upscaled key rows
            var worst: Float = 0
            for m in 0..<9 {
                for y in 0..<g4 {
                    for x in 0..<g4 {
                        let i = m * g4 * g4 + y * g4 + x, got = cropped.lowResMasks.data[i]
                        if y < whole { worst = max(worst, abs(got - multi.lowResMasks.data[i])) } else { #expect(got == 0) }
                    }
                }
            }
            #expect(worst <= 1e-4, "rows \(rows): cropped masks off by \(worst)")
        }
        // only the masks whose predicted IoU passes (the generator's first filter): those as
        // before, the others not computed (0); a threshold between the IoUs splits them
        let sorted = multi.iou.sorted()
        let threshold = sorted[sorted.count / 2]
        let passing = sam.decodeMultimask(embedding: emb, prompts: prompts, minIoU: threshold)
        #expect(passing.iou == multi.iou)
        var computed = 0
        for m in 0..<9 {
            let got = passing.lowResMasks.data[(m * n)..<((m + 1) * n)], whole = multi.lowResMasks.data[(m * n)..<((m + 1) * n)]
            if multi.iou[m] > threshold {
                computed += 1
                #expect(Array(got) == Array(whole), "mask \(m) (iou \(multi.iou[m]) > \(threshold)) as without the filter")
            } else {
                #expect(got.allSatisfy { $0 == 0 }, "mask \(m) (iou \(multi.iou[m])) not computed")
            }
        }
        #expect(computed > 0 && computed < 9)
    }

    @Test("low-resolution mode: boxes inside the picture, scores above the threshold, best first")
    func lowRes() throws {
        let sam = try SAM(path: Fixtures.path("sam_a.safetensors"))
        let io = try Fixtures.open("amg_a_io.safetensors")
        var cfg = try Self.config(io)
        cfg.resolution = .lowRes
        let img = try io.tensor("image")
        let (h, w) = (img.shape[0], img.shape[1])
        let input = sam.preprocess(rgb: try io.bytes("image"), width: w, height: h)
        let out = sam.automaticProposals(embedding: sam.encode(input), input: input, config: cfg)
        #expect(!out.isEmpty)
        for p in out {
            #expect(p.box[0] >= 0 && p.box[1] >= 0 && p.box[2] <= Float(w - 1) && p.box[3] <= Float(h - 1))
            #expect(p.box[0] <= p.box[2] && p.box[1] <= p.box[3])
            #expect(p.predictedIoU > cfg.predIoUThreshold && p.stabilityScore >= cfg.stabilityScoreThreshold)
        }
        #expect(out.map(\.predictedIoU) == out.map(\.predictedIoU).sorted(by: >))
    }

    @Test("NMS as torchvision: score order, IoU strictly above the threshold suppresses, empty boxes never do")
    func nms() {
        let boxes: [[Float]] = [[0, 0, 10, 10], [1, 0, 11, 10], [0, 0, 10, 10], [20, 20, 30, 30], [5, 5, 5, 5], [5, 5, 5, 5]]
        let scores: [Float] = [0.5, 0.9, 0.4, 0.3, 0.8, 0.7]
        // [1] (0.9) IoU with [0] = 90/110 = 0.818 -> [0] and [2] dropped at 0.7, kept at 0.85
        #expect(nonMaximumSuppression(boxes: boxes, scores: scores, iouThreshold: 0.7) == [1, 4, 5, 3])
        #expect(nonMaximumSuppression(boxes: boxes, scores: scores, iouThreshold: 0.85) == [1, 4, 5, 0, 3])
        #expect(nonMaximumSuppression(boxes: [], scores: [], iouThreshold: 0.5) == [])
    }

    @Test("point grid, stability score and mask boxes")
    func helpers() {
        let g = SAM.pointGrid(2)
        #expect(g.count == 4 && g[0] == (0.25, 0.25) && g[1] == (0.75, 0.25) && g[2] == (0.25, 0.75))
        #expect(SAM.pointGrid(1).first! == (0.5, 0.5))
        //  3 x 4 logits
        let l: [Float] = [-2, 0.5, 2, -2,
                          -2, 2, 2, -2,
                          -2, -2, -2, -2]
        #expect(SAM.maskBox(l, width: 4, height: 3, threshold: 0) == [1, 0, 2, 1])
        #expect(SAM.maskBox(l, width: 4, height: 3, threshold: 5) == [0, 0, 0, 0])
        #expect(SAM.stabilityScore(l, threshold: 0, offset: 1) == 3.0 / 4.0)
        #expect(SAM.stabilityScore(l, threshold: 5, offset: 1).isNaN)
    }
}
