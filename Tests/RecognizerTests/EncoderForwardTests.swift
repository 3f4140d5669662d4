import Foundation
import Testing
@testable import Recognizer

/// The encoder's in-place forward pass and its fused kernels against Tensor operations.
@Suite("Encoder fused forward vs reference")
struct EncoderForwardTests {
    @Test("fastBlock equals referenceBlock for windowed (padded) and global blocks")
    func blocks() throws {
        let sam = try SAM(path: Fixtures.path("sam_a.safetensors"))
        let enc = sam.encoder, c = enc.config, t = c.grid * c.grid
        #expect(enc.blocks.contains { $0.window > 0 && c.grid % $0.window != 0 } && enc.blocks.contains { $0.window == 0 })
        var r = SeededRandom(5)
        let x = r.tensor([t, c.embedDim])
        let ws = EncoderWorkspace(tokens: t, dim: c.embedDim, hidden: enc.blocks[0].lin1W.shape[0], mlpRows: 100)  // qkv smaller than [T, hidden]: the MLP runs in row chunks
        for (i, b) in enc.blocks.enumerated() {
            let ref = enc.referenceBlock(x, b, relH: enc.relH[i], relW: enc.relW[i])
            x.data.withUnsafeBufferPointer { ws.x.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
            enc.fastBlock(b, relH: enc.relH[i], relW: enc.relW[i], ws)
            expectClose(Tensor(shape: [t, c.embedDim], data: Array(ws.x)), ref, 1e-5, "block \(i) (window \(b.window))")
        }
    }

    @Test("bias + GELU, residual Linear")
    func fusedKernels() {
        var r = SeededRandom(9)
        let g = 7, d = 10
        let x = r.tensor([g * g, d]), b = r.tensor([d])
        var gl = x.data
        b.data.withUnsafeBufferPointer { biasGelu(&gl, rows: g * g, cols: d, bias: $0.baseAddress!) }
        let refGelu = Activation.naiveGelu(x.addingRow(b).data)
        expectClose(Tensor(shape: x.shape, data: gl), Tensor(shape: x.shape, data: refGelu), 1e-6, "biasGelu")

        let k = 13
        let inp = r.tensor([g * g, k]), lw = r.tensor([d, k]), lb = r.tensor([d])
        var acc = x.data
        inp.data.withUnsafeBufferPointer { ip in withPointers(lw, lb) { wp, bp in addLinear(&acc, ip.baseAddress!, m: g * g, k: k, wp, bp, n: d) } }
        var naive = [Float](repeating: 0, count: g * g * d)
        Gemm.naive(transB: true, m: g * g, n: d, k: k, a: inp.data, lda: k, b: lw.data, ldb: k, c: &naive, ldc: d)
        expectClose(Tensor(shape: x.shape, data: acc), (x + Tensor(shape: x.shape, data: naive)).addingRow(lb), 1e-5, "addLinear")
    }
}
