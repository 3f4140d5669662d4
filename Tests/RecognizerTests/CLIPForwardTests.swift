import Foundation
import Testing
@testable import Recognizer

/// CLIP's in-place transformer forward against its Tensor-operation reference.
@Suite("CLIP fused forward vs reference")
struct CLIPForwardTests {
    @Test("vision (bidirectional) and text (causal) towers, and bias + QuickGELU")
    func towers() throws {
        let w = WeightSource.clip([try Fixtures.open("clip_a.safetensors")])
        let vision = try CLIPVision(weights: w), text = try CLIPText(weights: w)
        var r = SeededRandom(21)
        for (tr, causal, batch, t) in [(vision.transformer, false, 1, 17), (text.transformer, true, 3, 9)] {
            let x = r.tensor([batch * t, tr.width])
            expectClose(tr(x, batch: batch, tokens: t, causal: causal), tr.reference(x, batch: batch, tokens: t, causal: causal), 1e-5,
                        causal ? "text tower" : "vision tower")
        }
        let x = r.tensor([6, 37], scale: 6), b = r.tensor([37])
        var y = x.data
        b.data.withUnsafeBufferPointer { biasQuickGelu(&y, rows: 6, cols: 37, bias: $0.baseAddress!) }
        expectClose(Tensor(shape: x.shape, data: y), Tensor(shape: x.shape, data: Activation.naiveQuickGelu(x.addingRow(b).data)), 1e-6, "biasQuickGelu")
    }

    @Test("text batches sorted by length give the same embeddings in the caller's order")
    func textBatching() throws {
        let text = try CLIPText(weights: WeightSource.clip([try Fixtures.open("clip_a.safetensors")]))
        let v = text.config.vocabSize
        let lengths = [7, 3, 12, 5, 9, 4]
        let seqs = lengths.enumerated().map { i, n in [v - 2] + (1..<(n - 1)).map { (i * 31 + $0 * 7) % (v - 3) } + [v - 1] }
        let together = try text(seqs)
        let one = try text(seqs, batchSize: 1)
        let pairs = try text(seqs, batchSize: 2)
        expectClose(together, one, 1e-5, "batch 64 vs 1")
        expectClose(pairs, one, 1e-5, "batch 2 vs 1")
        expectClose(try text([seqs[2]]), one.slice(2, 3), 1e-5, "single prompt")
    }
}
