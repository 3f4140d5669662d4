import Foundation
import Testing
@testable import Recognizer

/// models.precision int8: the quantization, oneDNN's u8 x s8 Linear against the naive
/// integer reference (exact up to the last float rounding) and against fp32 within the
/// bound the two quantization steps allow, and the whole path against the PyTorch
/// references and against fp32 (tests need VNNI: without it int8 runs fp32).
@Suite("int8 precision through oneDNN", .enabled(if: OneDNN.nativeInt8))
struct Int8Tests {
    @Test("quantization: weights symmetric, activations asymmetric, per row, to nearest even; the 16-lane paths equal the naive ones")
    func quantize() {
        let row: [Float] = [1, -2, 0.5, 127.0 / 254, 3.0 / 254, -254, 0.004]  // max 254: step 2
        let (q, s) = Int8Quant.naiveQuantize(row[...])
        #expect(s == 2 && q == [0, -1, 0, 0, 0, -127, 0])  // 0.5 and 0.25 round to even (0)
        #expect(Int8Quant.naiveQuantize([0, 0][...]).scale == 0)
        #expect(Int8Quant.naiveQuantize([1, .nan][...]).scale.isNaN)
        var r = SeededRandom(11)
        let rows = 5, cols = 53, ld = 61
        var x = (0..<(rows * ld)).map { _ in r.next() * 3 }
        for c in 0..<cols { x[2 * ld + c] = 0 }  // a zero row
        var out = [UInt8](repeating: 0, count: rows * cols), scales = [Float](repeating: -1, count: rows)
        var uout = out, uscales = scales, mins = scales
        x.withUnsafeBufferPointer { xp in
            Int8Quant.quantizeRows(xp.baseAddress!, ld: ld, rows: rows, cols: cols, offset: 0, out: &out, scales: &scales)
            Int8Quant.quantizeRowsAsymmetric(xp.baseAddress!, ld: ld, rows: rows, cols: cols, out: &uout, scales: &uscales, minimums: &mins)
        }
        for i in 0..<rows {
            let row = x[(i * ld)..<(i * ld + cols)]
            let (q, s) = Int8Quant.naiveQuantize(row)
            #expect(scales[i] == s && out[(i * cols)..<(i * cols + cols)].map { Int32(Int8(bitPattern: $0)) } == q, "row \(i)")
            let a = Int8Quant.naiveQuantizeAsymmetric(row)
            #expect(uscales[i] == a.scale && mins[i] == a.min && uout[(i * cols)..<(i * cols + cols)].map { Int32($0) } == a.q, "row \(i)")
            if i != 2 { #expect(a.q.min() == 0 && a.q.max() == 255) }  // the whole byte
        }
        #expect(scales[2] == 0 && uscales[2] == 0 && mins[2] == 0 && out[(2 * cols)..<(3 * cols)].allSatisfy { $0 == 0 })
        let a = Int8Quant.naiveQuantizeAsymmetric([-0.17, 1, 2.38][...])  // a GELU-like row: step 0.01
        #expect(abs(a.scale - 0.01) < 1e-7 && a.min == -0.17 && a.q == [0, 117, 255])
    }

    /// (m, k, n, bias, accumulate, ldx, ldo): odd sizes, strided rows, the epilogues, and
    /// more rows than a chunk (`int8ChunkRows`) in several slices.
    static let cases: [(Int, Int, Int, Bool, Bool, Int, Int)] = [
        (1, 3, 5, false, false, 3, 5), (37, 70, 19, true, false, 70, 19), (64, 128, 384, true, true, 128, 384),
        (30, 40, 24, true, false, 53, 31), (16, 256, 96, false, true, 256, 100), (300, 96, 33, true, true, 100, 40),
    ]

    @Test("oneDNN int8 Linear equals the naive integer reference; within the quantization bound of fp32", arguments: 0..<cases.count)
    func linearVsNaive(_ c: Int) {
        let (m, k, n, hasBias, accumulate, _, ldo) = Self.cases[c]
        let run = LinearCase(Self.cases[c], seed: c + 1, precision: .int8)
        let (w, bias, start, out, dense) = (run.w, run.bias, run.start, run.out, run.dense)
        #expect(run.weight.precision == .int8 && run.weight.bytes >= n * k)
        let ref = Int8Quant.naiveLinear(dense, m: m, k: k, w, n: n, bias: hasBias ? bias : nil)
        var exact = [Float](repeating: 0, count: m * n)
        Gemm.naive(transB: true, m: m, n: n, k: k, a: dense, lda: k, b: w, ldb: k, c: &exact, ldc: n)
        let sx = (0..<m).map { Int8Quant.naiveQuantizeAsymmetric(dense[($0 * k)..<($0 * k + k)]).scale }
        let sw = (0..<n).map { Int8Quant.naiveQuantize(w[($0 * k)..<($0 * k + k)]).scale }
        var worstUlps: Float = 0, worstBound: Float = 0, fp32Diff: Float = 0
        for i in 0..<m {
            for j in 0..<n {
                let before = accumulate ? start[i * ldo + j] : 0, got = out[i * ldo + j]
                let want = accumulate ? before + ref[i * n + j] : ref[i * n + j]
                worstUlps = max(worstUlps, abs(got - want) / want.ulp)
                // |x̂ŵ - xw| <= Σ_p |x_p| sw/2 + |w_p| sx/2 + sx sw/4 (each rounding at most half a step)
                var bound: Float = 0
                for p in 0..<k { bound += abs(dense[i * k + p]) * sw[j] / 2 + abs(w[j * k + p]) * sx[i] / 2 + sx[i] * sw[j] / 4 }
                let f = exact[i * n + j] + (hasBias ? bias[j] : 0) + before
                worstBound = max(worstBound, abs(got - f) / (bound + 1e-5 * (abs(f) + 1)))
                fp32Diff = max(fp32Diff, abs(got - f))
            }
            for j in n..<ldo { #expect(out[i * ldo + j] == start[i * ldo + j]) }  // past n: untouched
        }
        #expect(worstUlps <= 1, "case \(c): int8 vs naive int8: \(worstUlps) ulp")
        #expect(worstBound <= 1, "case \(c): int8 vs fp32: \(worstBound) of the quantization bound")
        #expect(fp32Diff > 1e-5, "case \(c): int8 really quantized (max |Δ| vs fp32 \(fp32Diff))")
    }

    @Test("applyGelu: the int8 Linear's GELU epilogue gives the bits of the Linear followed by biasGelu; fp32 and bf16 take that path",
          arguments: [Precision.int8, .bf16, .fp32])
    func geluEpilogue(_ precision: Precision) {
        var r = SeededRandom(77)
        let (m, k, n) = (300, 96, 200)  // more rows than a chunk, columns not a multiple of 16
        let x = (0..<(m * k)).map { _ in r.next() * 3 }, w = (0..<(n * k)).map { _ in r.next() * 0.2 }
        let bias = Tensor(shape: [n], data: (0..<n).map { _ in r.next() })
        let lw = LinearWeight(Tensor(shape: [n, k], data: w), precision: precision)
        var fused = [Float](repeating: .nan, count: m * n), twoPass = fused
        x.withUnsafeBufferPointer { xp in
            fused.withUnsafeMutableBufferPointer { lw.applyGelu(xp.baseAddress!, m: m, bias: bias, out: $0.baseAddress!) }
            twoPass.withUnsafeMutableBufferPointer { o in
                lw.apply(xp.baseAddress!, m: m, bias: nil, out: o.baseAddress!)
                bias.data.withUnsafeBufferPointer { biasGelu(o.baseAddress!, rows: m, cols: n, bias: $0.baseAddress!) }
            }
        }
        #expect(fused.allSatisfy { $0.isFinite })
        #expect(fused == twoPass, "\(zip(fused, twoPass).filter { $0 != $1 }.count) of \(fused.count) outputs differ")
        // GELU's range (>= -0.17), and negative outputs: the epilogue really ran
        #expect(fused.min()! >= -0.1701 && fused.contains { $0 < 0 })
    }

    @Test("a NaN or infinity in an input row makes that row's outputs NaN, the other rows stay finite and exact")
    func nonFinite() {
        let m = 4, k = 40, n = 20
        var r = SeededRandom(5)
        var x = (0..<(m * k)).map { _ in r.next() }
        let w = (0..<(n * k)).map { _ in r.next() }
        x[1 * k + 17] = .nan; x[3 * k + 33] = -.infinity
        let out = linear(Tensor(shape: [m, k], data: x), LinearWeight(Tensor(shape: [n, k], data: w), precision: .int8), nil).data
        for i in [1, 3] { #expect(out[(i * n)..<(i * n + n)].allSatisfy { $0.isNaN }, "row \(i)") }
        let ref = Int8Quant.naiveLinear(x, m: m, k: k, w, n: n, bias: nil)
        for i in [0, 2] { #expect(Array(out[(i * n)..<(i * n + n)]) == Array(ref[(i * n)..<(i * n + n)]), "row \(i)") }
    }

    @Test("int8 weights: per-channel s8 values and scales, dequantized tensor within half a step of the fp32 weight")
    func storage() {
        var r = SeededRandom(9)
        let n = 128, k = 64
        let w = (0..<(n * k)).map { _ in r.next() }
        let lw = LinearWeight(Tensor(shape: [n, k], data: w), precision: .int8)
        let t = lw.tensor
        for j in 0..<n {
            let (q, s) = Int8Quant.naiveQuantize(w[(j * k)..<(j * k + k)])
            #expect(t.data[(j * k)..<(j * k + k)].elementsEqual(q.map { Float($0) * s }), "row \(j)")
            #expect(zip(t.data[(j * k)..<(j * k + k)], w[(j * k)..<(j * k + k)]).allSatisfy { abs($0 - $1) <= s / 2 * 1.0001 })
        }
        #expect(lw.bytes == n * k + n * 8)  // whole blocks: a quarter of fp32's bytes, plus scales and sums
    }

    @Test("Precision int8 runs int8 where oneDNN reports VNNI; the attention around it is bf16 where bf16 is native, Q K^T and the decoder's image products too")
    func effective() throws {
        let (p, note) = try Precision.int8.effective()
        #expect(p == .int8 && note == nil)
        let lw = LinearWeight(Tensor(shape: [2, 2], data: [1, 2, 3, 4]), precision: .int8)
        #expect(lw.attentionInBF16 == OneDNN.nativeBF16)
        #expect(lw.attentionInInt8 == OneDNN.nativeBF16)
        #expect(!LinearWeight(Tensor(shape: [2, 2], data: [1, 2, 3, 4])).attentionInBF16)
        #expect(!LinearWeight(Tensor(shape: [2, 2], data: [1, 2, 3, 4]), precision: .bf16).attentionInInt8)
        // the mask decoder's products with the image tokens: bf16 under bf16 and int8
        for (precision, bf16) in [(Precision.fp32, false), (.bf16, OneDNN.nativeBF16), (.int8, OneDNN.nativeBF16)] {
            var w = SAMConfig.weights([try SafeTensors(path: Fixtures.path("sam_a.safetensors"))])
            w.precision = precision
            let sam = try SAM(weights: w)
            #expect(sam.decoder.productsInBF16 == bf16, "\(precision)")
            // the patch embedding's and the neck's convolutions likewise
            let convs: [Precision] = [sam.encoder.patchLinear.precision, sam.encoder.neck0Linear.precision, sam.encoder.neck2Linear.precision]
            #expect(convs.allSatisfy { $0 == (bf16 ? .bf16 : .fp32) }, "\(precision): \(convs)")
        }
    }

    /// Per stage, int8 against the float64 PyTorch reference (fp32 meets 1e-4), the same
    /// tolerances as bf16's: vocabulary (text tower, not int8), CLIP feature map, SAM region
    /// tokens and region embeddings 2e-2 relative (measured 0.3%, 0.7%, 0.5%, 0.8%),
    /// softmax scores 1e-2 absolute (measured 5e-3); labels identical; against fp32 the
    /// issue's checks (PrecisionComparison: max |Δprob| 1e-2, mask IoU 0.98), and the SAM
    /// embedding within 3e-2 of fp32's (measured 1.8%). With every block and the text tower
    /// in int8 this fixture failed: |Δprob| 4.3e-2 (text tower), mask IoU 0.9775.
    @Test("the tiny model at int8 vs the PyTorch reference and vs fp32: labels, scores, masks")
    func endToEnd() throws {
        let dir = try HeadParityTests.tinyModelDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let q = try ModelDirectory(path: dir, precision: .int8), fp = try ModelDirectory(path: dir)
        // int8 but the first blocks; the text tower bf16 (fp32 without native bf16)
        for (i, b) in q.sam.encoder.blocks.enumerated() {
            #expect([b.qkvW, b.projW, b.lin1W, b.lin2W].allSatisfy { $0.precision == (i == 0 ? Precision.besideInt8 : .int8) }, "SAM block \(i)")
        }
        for (i, b) in q.vision.transformer.blocks.enumerated() {
            #expect([b.inW, b.outW, b.fcW, b.projW].allSatisfy { $0.precision == (i == 0 ? Precision.besideInt8 : .int8) }, "CLIP block \(i)")
        }
        #expect(q.vision.transformer.blocks.count > 1 && q.sam.encoder.blocks.count > 1)
        #expect(q.text.transformer.blocks.allSatisfy { $0.fcW.precision == Precision.besideInt8 })
        let io = try Fixtures.open("e2e_io.safetensors")
        let (embQ, fQ, regQ) = try PrecisionTests.run(q, io), (_, fF, regF) = try PrecisionTests.run(fp, io)
        let n = regQ.count
        let fm = try io.tensor("feature_map")
        let stages: [(String, Tensor, Tensor)] = [
            ("vocabulary embeddings", embQ.embeddings, try io.tensor("vocab_text_embeddings")),
            ("feature map", try #require(fQ.clipFeatureMap), fm.reshaped([fm.shape[1], fm.shape[2]])),
            ("region tokens", Tensor(shape: [n, 32], data: regQ.flatMap(\.regionToken)), try io.tensor("region_tokens")),
            ("region embeddings", Tensor(shape: [n, 32], data: regQ.flatMap(\.embedding)), try io.tensor("region_embeddings")),
        ]
        for (name, got, want) in stages { expectClose(got, want, 2e-2, "int8 \(name)") }
        #expect(maxAbsDifference(regQ.flatMap(\.scores), try io.tensor("scores").data) <= 1e-2, "int8 scores vs reference")
        let labels = try JSONDecoder().decode([String].self, from: Data(io.metadata["label_names"]!.utf8))
        #expect(regQ.map(\.label) == labels)
        let cmp = PrecisionComparison(regQ, fp32: regF)
        #expect(cmp.passes, "\(cmp)")
        #expect(fQ.samEmbedding != fF.samEmbedding && fQ.samEmbedding.relativeError(to: fF.samEmbedding) <= 3e-2)
        #expect(fQ.clipFeatureMap != fF.clipFeatureMap)
    }
}
