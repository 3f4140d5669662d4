import Foundation
import Testing
@testable import Recognizer

/// models.precision bf16: the bf16 rounding, oneDNN's bf16 Linear against the naive bf16
/// reference, and the whole path at bf16 against the PyTorch references (fixtures) and
/// against the same path at fp32.
@Suite("bf16 precision through oneDNN")
struct PrecisionTests {
    @Test("bf16 rounding: to nearest, ties to even; the 16-lane path equals the scalar one")
    func rounding() {
        #expect(BF16.round(1) == 0x3F80)
        #expect(BF16.round(1 + 1.0 / 256) == 0x3F80)  // half an ulp above 1: tie, to even (down)
        #expect(BF16.round(1 + 3.0 / 256) == 0x3F82)  // halfway between 0x3F81 and 0x3F82: to even (up)
        #expect(BF16.round(1 + 1.5 / 256) == 0x3F81)  // more than half: up
        #expect(BF16.round(-2.5) == 0xC020 && BF16.float(0xC020) == -2.5)
        #expect(BF16.float(BF16.round(.nan)).isNaN)
        let x = (0..<1003).map { Float(sin(Double($0)) * 1000) }
        #expect(BF16.array(x) == x.map(BF16.round))
        // large enough to split across the workers, odd tail
        let big = (0..<(1 << 19) + 7).map { Float(sin(Double($0) * 0.37) * 3e4) }
        #expect(BF16.array(big) == big.map(BF16.round))
        // the sum rounded once (keys + positions for the mask decoder), as rounding the fp32 sum
        let y = (0..<1003).map { Float(cos(Double($0)) * 700) }
        var sum = [UInt16](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in
            sum.withUnsafeMutableBufferPointer { BF16.convertSum(a.baseAddress!, b.baseAddress!, $0.baseAddress!, count: x.count) }
        } }
        #expect(sum == zip(x, y).map { BF16.round($0 + $1) })
    }

    /// (m, k, n, bias, accumulate, ldx, ldo): odd sizes, strided rows, the epilogues.
    static let cases: [(Int, Int, Int, Bool, Bool, Int, Int)] = [
        (1, 3, 5, false, false, 3, 5), (37, 70, 19, true, false, 70, 19), (64, 128, 384, true, true, 128, 384),
        (30, 40, 24, true, false, 53, 31), (16, 256, 96, false, true, 256, 100),
    ]

    @Test("oneDNN bf16 Linear equals the naive bf16 reference (fp32 accumulation vs Double)", arguments: 0..<cases.count)
    func linearVsNaive(_ c: Int) {
        let (m, k, n, hasBias, accumulate, _, ldo) = Self.cases[c]
        let run = LinearCase(Self.cases[c], seed: c + 1, precision: .bf16)
        let (w, bias, start, out, weight, dense) = (run.w, run.bias, run.start, run.out, run.weight, run.dense)
        #expect(weight.precision == .bf16 && weight.bytes >= n * k * 2)  // packed: whole blocks of oneDNN's layout
        let ref = BF16.naiveLinear(dense, m: m, k: k, weight.bf16Values, n: n, bias: hasBias ? bias : nil)
        var got = [Float](), want = [Float](), fp32 = [Float]()
        var exact = [Float](repeating: 0, count: m * n)
        Gemm.naive(transB: true, m: m, n: n, k: k, a: dense, lda: k, b: w, ldb: k, c: &exact, ldc: n)
        for i in 0..<m {
            for j in 0..<n {
                let before = accumulate ? start[i * ldo + j] : 0
                got.append(out[i * ldo + j]); want.append(ref[i * n + j] + before)
                fp32.append(exact[i * n + j] + (hasBias ? bias[j] : 0) + before)
            }
            // columns past n in a strided output are left alone
            for j in n..<ldo { #expect(out[i * ldo + j] == start[i * ldo + j]) }
        }
        let e = Tensor(shape: [m, n], data: got).relativeError(to: Tensor(shape: [m, n], data: want))
        #expect(e <= 1e-5, "case \(c): bf16 vs naive bf16 relative error \(e)")
        // and it really rounded: fp32 inputs give another result (by about bf16's 2^-9)
        let r = Tensor(shape: [m, n], data: got).relativeError(to: Tensor(shape: [m, n], data: fp32))
        #expect(r > 1e-5 && r < 2e-2, "case \(c): bf16 vs fp32 relative difference \(r)")
    }

    @Test("bf16 attention (oneDNN, both products) equals the naive bf16 attention; bias, broadcast keys, blocks", arguments: [1, 16, 64])
    func attention(blockRows: Int) {
        var r = SeededRandom(7)
        let batch = 2, nq = 70, nk = 33, heads = 3, hd = 8, w = heads * hd
        let q = (0..<(batch * nq * w)).map { _ in r.next() * 2 }
        let k = (0..<(nk * 2 * w)).map { _ in r.next() * 2 }  // shared by both batch items, ld 2w
        let v = (0..<(nk * 2 * w)).map { _ in r.next() }
        let s = AttentionShape(batch: batch, queries: nq, keys: nk, heads: heads, headDim: hd, ldq: w, ldk: 2 * w, ldv: 2 * w, ldo: w,
                               batchStrideQ: nq * w, batchStrideK: 0, batchStrideV: 0, batchStrideO: nq * w, blockRows: blockRows)
        let biasOf: (Int, Int, Int, Int) -> Float = { b, h, i, j in Float((b + 2 * h + i * 3 + j * 5) % 7) * 0.25 }
        var ref = [Float](repeating: 0, count: batch * nq * w), exact = ref, out = ref
        naiveMultiHeadAttention(s, scale: 0.3, q: q, k: k, v: v, out: &ref, bias: biasOf, bf16: true)
        naiveMultiHeadAttention(s, scale: 0.3, q: q, k: k, v: v, out: &exact, bias: biasOf)
        q.withUnsafeBufferPointer { qp in k.withUnsafeBufferPointer { kp in v.withUnsafeBufferPointer { vp in out.withUnsafeMutableBufferPointer { op in
            multiHeadAttentionBF16(s, scale: 0.3, q: qp.baseAddress!, k: kp.baseAddress!, v: vp.baseAddress!, out: op.baseAddress!) { b, h, q0, qn, scores, _ in
                for i in 0..<qn { for j in 0..<nk { scores[i * nk + j] += biasOf(b, h, q0 + i, j) } }
            }
        } } } }
        let t = { (x: [Float]) in Tensor(shape: [x.count], data: x) }
        // 5e-4: the fast softmax's exp differs from Double's by ~1e-7, so a numerator lying
        // that close to a bf16 rounding boundary rounds the other way (one term off by 2^-8)
        expectClose(t(out), t(ref), 5e-4, "bf16 attention vs naive bf16")
        let e = t(out).relativeError(to: t(exact))
        #expect(e > 1e-3 && e < 2e-2, "bf16 attention vs fp32 attention: relative difference \(e)")
    }

    @Test("bf16 weights are stored at half the bytes and widen exactly; fp32 keeps the values")
    func storage() {
        let t = Tensor(shape: [3, 4], data: (0..<12).map { Float($0) * 0.3 - 1.1 })
        let b = LinearWeight(t, precision: .bf16), f = LinearWeight(t)
        #expect(f.tensor == t)
        // half the bytes for shapes of whole 64 x 32 blocks (every encoder Linear); a 3 x 4 weight pads to one block
        let big = Tensor(shape: [128, 64], data: (0..<8192).map { Float($0 % 97) * 0.01 })
        #expect(LinearWeight(big, precision: .bf16).bytes * 2 == LinearWeight(big).bytes)
        #expect(b.tensor.data == t.data.map { BF16.float(BF16.round($0)) } && b.tensor.data != t.data)
    }

    @Test("models.precision bf16 runs as bf16 on a CPU with AVX512_BF16/AMX; int8 as int8 with VNNI")
    func effective() throws {
        #expect(try Precision.int8.effective().precision == (OneDNN.nativeInt8 ? .int8 : .fp32))
        let (p, note) = try Precision.bf16.effective()
        #expect(p == (OneDNN.nativeBF16 ? .bf16 : .fp32) && (note == nil) == OneDNN.nativeBF16)
        #expect(try Precision.fp32.effective().precision == .fp32)
    }

    /// Per stage, bf16 against the float64 PyTorch reference (the fp32 path meets 1e-4 on
    /// these): vocabulary (text tower) 2e-2, CLIP feature map 2e-2, SAM region tokens 2e-2,
    /// region embeddings 2e-2, softmax scores 1e-2 absolute; labels identical.
    @Test("the tiny model at bf16 vs the PyTorch reference and vs fp32: labels, scores, masks")
    func endToEnd() throws {
        let dir = try HeadParityTests.tinyModelDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bf = try ModelDirectory(path: dir, precision: .bf16), fp = try ModelDirectory(path: dir)
        #expect(bf.sam.encoder.blocks.allSatisfy { [$0.qkvW, $0.projW, $0.lin1W, $0.lin2W].allSatisfy { $0.precision == .bf16 } })
        #expect(bf.vision.transformer.blocks.allSatisfy { [$0.inW, $0.outW, $0.fcW, $0.projW].allSatisfy { $0.precision == .bf16 } })
        #expect(fp.sam.encoder.blocks.allSatisfy { $0.qkvW.precision == .fp32 })
        #expect(bf.text.weightsHash != fp.text.weightsHash)  // the vocabulary cache keeps the two apart
        let io = try Fixtures.open("e2e_io.safetensors")
        let (embB, fB, regB) = try Self.run(bf, io), (_, fF, regF) = try Self.run(fp, io)
        let n = regB.count
        expectClose(embB.embeddings, try io.tensor("vocab_text_embeddings"), 2e-2, "bf16 vocabulary embeddings")
        let fm = try io.tensor("feature_map")
        expectClose(try #require(fB.clipFeatureMap), fm.reshaped([fm.shape[1], fm.shape[2]]), 2e-2, "bf16 feature map")
        expectClose(Tensor(shape: [n, 32], data: regB.flatMap(\.regionToken)), try io.tensor("region_tokens"), 2e-2, "bf16 region tokens")
        expectClose(Tensor(shape: [n, 32], data: regB.flatMap(\.embedding)), try io.tensor("region_embeddings"), 2e-2, "bf16 region embeddings")
        let ref = try io.tensor("scores")
        #expect(maxAbsDifference(regB.flatMap(\.scores), ref.data) <= 1e-2, "bf16 scores vs reference")
        let labels = try JSONDecoder().decode([String].self, from: Data(io.metadata["label_names"]!.utf8))
        #expect(regB.map(\.label) == labels)
        // against fp32: the thresholds, and not the same numbers (the setting is used)
        let cmp = PrecisionComparison(regB, fp32: regF)
        #expect(cmp.passes, "\(cmp)")
        #expect(fB.samEmbedding != fF.samEmbedding && fB.clipFeatureMap != fF.clipFeatureMap)
        #expect(fB.samEmbedding.relativeError(to: fF.samEmbedding) <= 2e-2)
    }

    /// The end-to-end fixture (image, boxes, class names) through `model`: vocabulary
    /// embeddings, features, regions with masks and top 3.
    static func run(_ model: ModelDirectory, _ io: SafeTensors) throws -> (VocabularyEmbeddings, RegionRecognizer.Features, [RecognizedRegion]) {
        let names = try JSONDecoder().decode([String].self, from: Data(io.metadata["class_names"]!.utf8))
        let vocab = try Vocabulary(parsing: names.joined(separator: ","))
        let emb = try VocabularyEmbedder.embed(vocab, text: model.text, tokenizer: try model.tokenizer(), textWeightsHash: model.text.weightsHash, cacheDirectory: nil)
        let rec = try RegionRecognizer(model: model, kind: .regionspot, vocabulary: emb)
        let img = try io.tensor("image")
        let f = rec.features(rgb: try io.bytes("image"), width: img.shape[1], height: img.shape[0])
        let b = try io.tensor("boxes")
        let boxes = (0..<b.shape[0]).map { Array(b.data[($0 * 4)..<($0 * 4 + 4)]) }
        return (emb, f, rec.recognize(f, boxes: boxes, masks: true, topK: 3))
    }

    /// Regions with the given class probabilities (classes a, b, c), labelled by their top-1.
    static func regions(_ probabilities: [[Float]], masks: [[Bool]]? = nil) -> [RecognizedRegion] {
        probabilities.enumerated().map { i, p in
            let top = p.indices.max { p[$0] < p[$1] }!
            return RecognizedRegion(box: [0, 0, 1, 1], label: ["a", "b", "c"][top], score: p[top], top: [], iou: 1, regionToken: [],
                                    embedding: [1, Float(i)], scores: p, logits: p, mask: masks?[i], recognizer: .regionspot)
        }
    }

    /// A changed top-1 fails only when fp32 decided it: its fp32 lead over the class the
    /// reduced path chose exceeds the run's largest probability change.
    @Test("accuracy checks: a top-1 flip within the measured |Δprob| is a near-tie, one beyond it fails")
    func nearTies() {
        let fp32 = Self.regions([[0.5, 0.4998, 0.0002], [0.7, 0.2, 0.1]])
        // region 0 flips on a 2e-4 lead while probabilities move 3e-4: a near-tie; passes
        let tie = PrecisionComparison(Self.regions([[0.4997, 0.5001, 0.0002], [0.7, 0.2, 0.1]]), fp32: fp32)
        #expect(tie.sameTop1 == 1 && tie.nearTies == 1 && tie.decisiveChanges == 0)
        #expect(abs(tie.maxProbabilityChange - 3e-4) < 1e-6 && abs(tie.flipMargin - 2e-4) < 1e-6)
        #expect(tie.passes)
        #expect(tie.description.hasPrefix("top-1 same 1/2 (1 changed: 1 near-tie at fp32 within max |Δprob|, 0 decided at fp32; largest fp32 margin 2.00e-04)"),
                "\(tie)")
        #expect(tie.description.hasSuffix("(passes)"))
        // a flip on a 6e-4 lead with probabilities moving 4e-4: decided at fp32; fails
        let decided = PrecisionComparison(Self.regions([[0.4996, 0.4998, 0.0006], [0.7, 0.2, 0.1]]),
                                          fp32: Self.regions([[0.5, 0.4994, 0.0006], [0.7, 0.2, 0.1]]))
        #expect(decided.nearTies == 0 && decided.decisiveChanges == 1 && !decided.passes)
        #expect(abs(decided.maxProbabilityChange - 4e-4) < 1e-6 && abs(decided.flipMargin - 6e-4) < 1e-6)
        #expect(decided.description.contains("0 near-ties at fp32 within max |Δprob|, 1 decided at fp32") && decided.description.hasSuffix("(FAILS)"))
        // no flip, but a probability moved by more than 1e-2: fails
        let moved = PrecisionComparison(Self.regions([[0.5, 0.4998, 0.0002], [0.68, 0.22, 0.1]]), fp32: fp32)
        #expect(moved.sameTop1 == 2 && moved.decisiveChanges == 0 && !moved.passes && moved.description.hasPrefix("top-1 same 2/2, max"))
        // masks: IoU 2/3 fails
        let m = [[true, true, false], [true, false, false]], m2 = [[true, true, true], [true, false, false]]
        let masks = PrecisionComparison(Self.regions([[0.5, 0.4998, 0.0002], [0.7, 0.2, 0.1]], masks: m2),
                                        fp32: Self.regions([[0.5, 0.4998, 0.0002], [0.7, 0.2, 0.1]], masks: m))
        #expect(abs(masks.minMaskIoU - 2.0 / 3) < 1e-6 && !masks.passes)
    }
}

/// One Linear test case (m, k, n, bias, accumulate, ldx, ldo) through `precision`: random
/// x [m, ldx], w [n, k], bias [n] and out's starting values [m, ldo], and out after `apply`.
struct LinearCase {
    let x, w, bias, start, out, dense: [Float]  // dense: x's m x k values without the stride
    let weight: LinearWeight

    init(_ c: (Int, Int, Int, Bool, Bool, Int, Int), seed: Int, precision: Precision) {
        let (m, k, n, hasBias, accumulate, ldx, ldo) = c
        var rng = SeededRandom(UInt64(seed))
        let x = (0..<(m * ldx)).map { _ in rng.next() }, w = (0..<(n * k)).map { _ in rng.next() }
        let bias = (0..<n).map { _ in rng.next() }, start = (0..<(m * ldo)).map { _ in rng.next() }
        let weight = LinearWeight(Tensor(shape: [n, k], data: w), precision: precision)
        var out = start
        x.withUnsafeBufferPointer { xp in bias.withUnsafeBufferPointer { bp in out.withUnsafeMutableBufferPointer { op in
            weight.apply(xp.baseAddress!, m: m, ldx: ldx, bias: hasBias ? bp.baseAddress! : nil, out: op.baseAddress!, ldo: ldo, accumulate: accumulate)
        } } }
        (self.x, self.w, self.bias, self.start, self.out, self.weight) = (x, w, bias, start, out, weight)
        dense = (0..<m).flatMap { i in x[(i * ldx)..<(i * ldx + k)] }
    }
}
