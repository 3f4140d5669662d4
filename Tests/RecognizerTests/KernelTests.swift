import Foundation
import Testing
@testable import Recognizer

/// Each fast kernel against its naive reference on random inputs.
@Suite("Kernels vs naive references")
struct KernelTests {
    @Test("sgemm with every transpose combination and leading dimensions", arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemm(ta: Bool, tb: Bool) {
        var r = SeededRandom(1)
        let m = 37, n = 29, k = 41
        let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 5
        let a = (0..<((ta ? k : m) * lda)).map { _ in r.next() }
        let b = (0..<((tb ? n : k) * ldb)).map { _ in r.next() }
        var c = (0..<(m * ldc)).map { _ in r.next() }
        var ref = c
        Gemm.naive(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb, beta: 0.3, c: &ref, ldc: ldc)
        c.withUnsafeMutableBufferPointer { cp in
            Gemm.sgemm(transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.7, a: a, lda: lda, b: b, ldb: ldb, beta: 0.3, c: cp.baseAddress!, ldc: ldc)
        }
        expectClose(Tensor(shape: [c.count], data: c), Tensor(shape: [ref.count], data: ref), 1e-5, "sgemm")
    }

    @Test("the parity measures fail on NaN and on unmatched infinities, and pass equal tensors")
    func parityMeasuresSeeNaN() {
        let ref = Tensor(shape: [4], data: [1, -2, 3, 0.5])
        #expect(ref.relativeError(to: ref) == 0)
        var near = ref
        near.data[3] = 0.625
        #expect(abs(near.relativeError(to: ref) - 0.125 / 3) < 1e-6)
        for bad: Float in [.nan, .infinity, -.infinity] {
            for i in 0..<4 {
                var a = ref
                a.data[i] = bad
                #expect(a.relativeError(to: ref) == .infinity, "\(bad) at \(i) in the result")
                #expect(ref.relativeError(to: a) == .infinity, "\(bad) at \(i) in the reference")
                #expect(!(a.relativeError(to: ref) <= 1e-4))
                #expect(maxAbsDifference(a.data, ref.data) == .infinity && maxAbsDifference(ref.data, a.data) == .infinity)
            }
        }
        // NaN against NaN is no match either; the same infinity on both sides is
        let nan = Tensor(shape: [2], data: [.nan, 1])
        #expect(nan.relativeError(to: nan) == .infinity)
        let inf = Tensor(shape: [2], data: [-.infinity, 1])
        #expect(inf.relativeError(to: inf) == 0 && maxAbsDifference(inf.data, inf.data) == 0)
        #expect(Tensor(shape: [2], data: [.infinity, 1]).relativeError(to: inf) == .infinity)
        #expect(maxAbsDifference([1, 2], [1, 2.5]) == 0.5)
    }

    @Test("GELU, QuickGELU and softmax use accurate polynomial erf/exp")
    func activations() {
        var r = SeededRandom(2)
        let x = r.tensor([4, 1000], scale: 9)
        expectClose(x.gelu(), Tensor(shape: x.shape, data: Activation.naiveGelu(x.data)), 1e-6, "gelu")
        expectClose(x.quickGelu(), Tensor(shape: x.shape, data: Activation.naiveQuickGelu(x.data)), 1e-6, "quickgelu")
        expectClose(x.softmax(), Tensor(shape: x.shape, data: Activation.naiveSoftmax(x.data, cols: 1000)), 1e-5, "softmax")
        // extreme inputs stay finite and exact at the tails
        let tails = Tensor(shape: [6], data: [-100, -10, -4.5, 4.5, 10, 100]).gelu()
        #expect(tails.data[0] == 0 && tails.data[5] == 100 && tails.data[1].magnitude < 1e-6)
        #expect(fastExp(0) == 1 && abs(fastExp(1) - 2.7182817) < 1e-6 && fastExp(-200) < 1e-37)
        // the 16-lane row maximum at every position and length (vector body and tail), rows
        // with a tail (not a multiple of 8), and the unnormalized form used by attention
        for n in [1, 15, 16, 17, 40] {
            for at in 0..<n {
                var row = (0..<n).map { Float(-($0 % 7)) - 1 }
                row[at] = 3.5
                #expect(rowMax(row, n) == 3.5, "max of \(n) at \(at)")
            }
        }
        let y = r.tensor([5, 1003], scale: 20)
        let ref = Tensor(shape: y.shape, data: Activation.naiveSoftmax(y.data, cols: 1003))
        expectClose(y.softmax(), ref, 1e-5, "softmax, tail")
        var u = y.data, inv = [Float](repeating: 0, count: 5)
        Activation.expRows(&u, rows: 5, cols: 1003, inverseSums: &inv)
        for i in 0..<u.count { u[i] *= inv[i / 1003] }
        expectClose(Tensor(shape: y.shape, data: u), ref, 1e-5, "expRows")
    }

    @Test("LayerNorm")
    func layerNorm() {
        var r = SeededRandom(3)
        let x = r.tensor([50, 96], scale: 3), w = r.tensor([96]), b = r.tensor([96])
        expectClose(x.layerNorm(w, b, eps: 1e-6), x.naiveLayerNorm(w, b, eps: 1e-6), 1e-5, "layernorm")
    }

    @Test("patch embedding, 3x3 and transposed convolutions")
    func convolutions() {
        var r = SeededRandom(4)
        let img = r.tensor([3, 32, 48]), pw = r.tensor([8, 3, 16, 16]), pb = r.tensor([8])
        expectClose(patchEmbed(img, weight: pw, bias: pb, patch: 16), naiveConv2d(img, weight: pw, bias: pb, stride: 16, padding: 0), 1e-5, "patch embed")
        let x = r.tensor([5, 7, 9]), w3 = r.tensor([6, 5, 3, 3]), b3 = r.tensor([6])
        expectClose(conv3x3(x.channelsLast(), height: 7, width: 9, weight: w3, bias: b3), naiveConv2d(x, weight: w3, bias: b3, stride: 1, padding: 1), 1e-5, "conv3x3")
        let wt = r.tensor([5, 4, 2, 2]), bt = r.tensor([4])
        expectClose(convTranspose2x2(x.channelsLast(), height: 7, width: 9, weight: wt, bias: bt), naiveConvTranspose2x2(x, weight: wt, bias: bt), 1e-5, "conv transpose")
    }

    @Test("blocked multi-head attention with bias and broadcast keys equals the naive one", arguments: [1, 3, 64])
    func attention(blockRows: Int) {
        var r = SeededRandom(5)
        let batch = 2, nq = 70, nk = 33, heads = 3, hd = 8, w = heads * hd
        let q = (0..<(batch * nq * w)).map { _ in r.next() }
        let k = (0..<(nk * 2 * w)).map { _ in r.next() }  // shared by both batch items, ld 2w
        let v = (0..<(nk * 2 * w)).map { _ in r.next() }
        let s = AttentionShape(batch: batch, queries: nq, keys: nk, heads: heads, headDim: hd, ldq: w, ldk: 2 * w, ldv: 2 * w, ldo: w,
                               batchStrideQ: nq * w, batchStrideK: 0, batchStrideV: 0, batchStrideO: nq * w, blockRows: blockRows)
        let biasOf: (Int, Int, Int, Int) -> Float = { b, h, i, j in Float((b + 2 * h + i * 3 + j * 5) % 7) * 0.25 }
        var ref = [Float](repeating: 0, count: batch * nq * w)
        naiveMultiHeadAttention(s, scale: 0.3, q: q, k: k, v: v, out: &ref, bias: biasOf)
        var out = [Float](repeating: 0, count: batch * nq * w)
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in out.withUnsafeMutableBufferPointer { op in
            multiHeadAttention(s, scale: 0.3, q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, out: op.baseAddress!) { b, h, q0, qn, scores, _ in
                for i in 0..<qn { for j in 0..<nk { scores[i * nk + j] += biasOf(b, h, q0 + i, j) } }
            }
        } } } }
        expectClose(Tensor(shape: [out.count], data: out), Tensor(shape: [ref.count], data: ref), 1e-5, "attention")
    }

    @Test("decomposed relative-position bias equals its definition")
    func relPos() {
        var r = SeededRandom(6)
        let side = 5, hd = 4, ldq = 3 * hd
        let q = (0..<(side * side * ldq)).map { _ in r.next() }
        let tableH = r.tensor([2 * side - 1, hd]), tableW = r.tensor([2 * side - 1, hd])
        let gh = gatherRelPos(tableH, size: side), gw = gatherRelPos(tableW, size: side)
        var scores = [Float](repeating: 0, count: side * side * side * side)
        q.withUnsafeBufferPointer { qp in gh.withUnsafeBufferPointer { hp in gw.withUnsafeBufferPointer { wp in scores.withUnsafeMutableBufferPointer { sp in
            // two blocks of whole rows
            addDecomposedRelPos(q: qp.baseAddress!, ldq: ldq, headDim: hd, side: side, q0: 0, qn: 2 * side, relH: hp.baseAddress!, relW: wp.baseAddress!, scores: sp.baseAddress!)
            addDecomposedRelPos(q: qp.baseAddress!, ldq: ldq, headDim: hd, side: side, q0: 2 * side, qn: 3 * side, relH: hp.baseAddress!, relW: wp.baseAddress!, scores: sp.baseAddress! + 2 * side * side * side)
        } } } }
        var expected = [Float](repeating: 0, count: scores.count)
        for qy in 0..<side { for qx in 0..<side { for ky in 0..<side { for kx in 0..<side {
            var e: Float = 0
            for c in 0..<hd {
                let qv = q[(qy * side + qx) * ldq + c]
                e += qv * tableH.data[(qy - ky + side - 1) * hd + c] + qv * tableW.data[(qx - kx + side - 1) * hd + c]
            }
            expected[(qy * side + qx) * side * side + ky * side + kx] = e
        } } } }
        #expect(maxAbsDifference(scores, expected) < 1e-5)
    }

    @Test("PIL-style resize keeps size, averages when shrinking, and torch bilinear matches hand values")
    func resize() {
        let rgb: [UInt8] = (0..<(4 * 4 * 3)).map { UInt8(($0 * 37) % 256) }
        #expect(pilBilinearResize(rgb, width: 4, height: 4, toWidth: 4, height: 4) == rgb)
        // 4 -> 2 horizontally with the antialiasing triangle: support 2 -> weights over 4 pixels
        let row: [UInt8] = [0, 0, 0, 100, 100, 100, 200, 200, 200, 40, 40, 40]
        let out = pilBilinearResize(row, width: 4, height: 1, toWidth: 2, height: 1)
        // output 0: centre 1.0, support 2 -> taps x = 0, 1, 2 with triangle weights .75, .75, .25
        // -> (0*.75 + 100*.75 + 200*.25) / 1.75 = 71.4 -> 71
        #expect(out[0] == 71)
        // output 1: centre 3.0 -> taps 1, 2, 3 weights .25, .75, .75 -> (25 + 150 + 30) / 1.75 = 117.1
        #expect(out[3] == 117)
        let t = torchBilinearResize(Tensor(shape: [1, 1, 2], data: [0, 10]), toHeight: 1, width: 4)
        #expect(t.data == [0, 2.5, 7.5, 10])
    }

    @Test("softmax over short rows (one exp pass over the block) is bit-equal to row by row, near the naive one, NaN stays NaN",
          arguments: [1, 2, 5, 7])
    func softmaxShortRows(_ cols: Int) {
        let rows = 1000
        var g = SystemRandomNumberGenerator()
        var x = (0..<(rows * cols)).map { _ in Float.random(in: -30...30, using: &g) }
        x[3 * cols] = .nan
        var bulk = x, byRow = x
        bulk.withUnsafeMutableBufferPointer { Activation.softmaxShortRows($0.baseAddress!, rows: rows, cols: cols) }
        byRow.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows {  // the general path, one row at a time
                let row = p.baseAddress! + r * cols
                let inv = 1 / expShiftRow(row, cols)
                for j in 0..<cols { row[j] *= inv }
            }
        }
        #expect(bulk.map(\.bitPattern) == byRow.map(\.bitPattern))
        #expect(bulk[3 * cols].isNaN)
        var viaPublic = x
        viaPublic.withUnsafeMutableBufferPointer { Activation.softmaxRows($0.baseAddress!, rows: rows, cols: cols) }
        #expect(viaPublic.map(\.bitPattern) == bulk.map(\.bitPattern))
        let naive = Activation.naiveSoftmax(x, cols: cols)
        var worst: Float = 0
        for i in x.indices where !x[i].isNaN && (i / cols) != 3 { worst = max(worst, abs(bulk[i] - naive[i])) }
        #expect(worst < 1e-6)
    }

    @Test("PIL-style resize: the fast kernel is bit-equal to the naive reference, up and down, odd sizes",
          arguments: [(768, 576, 1024, 768), (1920, 1080, 1024, 576), (37, 53, 1024, 1024), (640, 480, 224, 224), (5, 3, 5, 9), (301, 2, 17, 1)])
    func resizeFastMatchesReference(_ size: (Int, Int, Int, Int)) {
        let (w, h, ow, oh) = size
        var g = SystemRandomNumberGenerator()
        // random pixels, with a block of 0 and one of 255 (the clamp at both ends)
        var rgb = (0..<(w * h * 3)).map { _ in UInt8.random(in: 0...255, using: &g) }
        for i in 0..<min(rgb.count, 3 * w) { rgb[i] = 255 }
        for i in max(0, rgb.count - 3 * w)..<rgb.count { rgb[i] = 0 }
        let fast = pilBilinearResize(rgb, width: w, height: h, toWidth: ow, height: oh)
        let slow = pilBilinearResizeReference(rgb, width: w, height: h, toWidth: ow, height: oh)
        #expect(fast.count == ow * oh * 3)
        #expect(fast == slow)
    }
}
