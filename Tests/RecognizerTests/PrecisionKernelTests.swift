import Foundation
import Synchronization
import Testing
@testable import Recognizer

/// The bf16 path's second-pass kernels against naive references: packed weights, row
/// slices on the pool, the fused exp + bf16 rounding, and SAM's windowed attention in bf16.
@Suite("bf16 kernels: packed weights, row slices, fused softmax, windowed attention")
struct PrecisionKernelTests {
    @Test("weights packed into oneDNN's layout unpack to the rounded values; whole blocks for encoder shapes")
    func packing() {
        var r = SeededRandom(3)
        for (n, k) in [(5, 3), (96, 40), (64, 32), (2304, 768)] {
            let w = (0..<(n * k)).map { _ in r.next() }
            let lw = LinearWeight(Tensor(shape: [n, k], data: w), precision: .bf16)
            #expect(lw.bf16Values == BF16.array(w), "\(n)x\(k)")
            #expect(lw.bytes >= n * k * 2)
            if n % 64 == 0 && k % 32 == 0 { #expect(lw.bytes == n * k * 2, "\(n)x\(k): \(lw.bytes) bytes") }
        }
    }

    @Test("row slices: how a call's rows are split across the pool")
    func slices() {
        #expect(OneDNN.slices(rows: 4096, threads: 1) == 1)
        #expect(OneDNN.slices(rows: 63, threads: 2) == 1)
        #expect(OneDNN.slices(rows: 197, threads: 2) == 6)  // 33 rows each (at least 32)
        #expect(OneDNN.slices(rows: 4096, threads: 2) == 8)  // 512 rows each
        #expect(OneDNN.slices(rows: 100, threads: 3) == 3)
    }

    @Test("thread scratch: kept and grown per slot, aligned, one per thread, freed by release")
    func threadScratch() {
        let a = ThreadScratch.buffer(.attentionScores, bytes: 1000)
        a.storeBytes(of: 42, toByteOffset: 0, as: Int.self)
        #expect(Int(bitPattern: a) % 64 == 0)
        #expect(ThreadScratch.buffer(.attentionScores, bytes: 500) == a)  // big enough: the same buffer, contents kept
        #expect(a.load(as: Int.self) == 42)
        #expect(ThreadScratch.buffer(.matmulInput, bytes: 1000) != a)  // another slot
        let grown = ThreadScratch.buffer(.attentionScores, bytes: 1 << 20)
        #expect(Int(bitPattern: grown) % 64 == 0 && ThreadScratch.bytes >= (1 << 20) + 1000)
        let other = Mutex<(UnsafeMutableRawPointer?, Int)>((nil, -1))
        let t = Thread {
            let before = ThreadScratch.bytes
            let p = ThreadScratch.buffer(.attentionScores, bytes: 1 << 20)
            other.withLock { $0 = (p, before) }
        }
        t.start()
        while other.withLock({ $0.0 == nil }) { usleep(1000) }
        other.withLock { o in
            #expect(o.1 == 0)  // a new thread starts with nothing
            #expect(o.0 != grown)
        }
        ThreadScratch.release()
        #expect(ThreadScratch.bytes == 0)
    }

    /// Shapes that run as several row slices (m >= 64 with 2 workers), against the naive
    /// bf16 Linear, with bias, accumulation and strided rows.
    @Test("a bf16 Linear split in row slices on the pool equals the naive bf16 reference", arguments: [(197, 96, 64, 96, 70), (130, 40, 33, 45, 33)])
    func slicedLinear(_ c: (Int, Int, Int, Int, Int)) {
        let (m, k, n, ldx, ldo) = c
        let saved = Parallel.workers
        Parallel.workers = 2
        defer { Parallel.workers = saved }
        #expect(OneDNN.slices(rows: m, threads: Gemm.threads) > 1)
        var r = SeededRandom(UInt64(m))
        let x = (0..<(m * ldx)).map { _ in r.next() }, w = (0..<(n * k)).map { _ in r.next() }
        let bias = (0..<n).map { _ in r.next() }, start = (0..<(m * ldo)).map { _ in r.next() }
        let weight = LinearWeight(Tensor(shape: [n, k], data: w), precision: .bf16)
        var out = start
        x.withUnsafeBufferPointer { xp in bias.withUnsafeBufferPointer { bp in out.withUnsafeMutableBufferPointer { op in
            weight.apply(xp.baseAddress!, m: m, ldx: ldx, bias: bp.baseAddress!, out: op.baseAddress!, ldo: ldo, accumulate: true)
        } } }
        let dense = (0..<m).flatMap { i in x[(i * ldx)..<(i * ldx + k)] }
        let ref = BF16.naiveLinear(dense, m: m, k: k, BF16.array(w), n: n, bias: bias)
        var got = [Float](), want = [Float]()
        for i in 0..<m {
            for j in 0..<n { got.append(out[i * ldo + j]); want.append(ref[i * n + j] + start[i * ldo + j]) }
            for j in n..<ldo { #expect(out[i * ldo + j] == start[i * ldo + j]) }
        }
        let e = Tensor(shape: [m, n], data: got).relativeError(to: Tensor(shape: [m, n], data: want))
        #expect(e <= 1e-5, "\(m)x\(n)x\(k): relative error \(e)")
    }

    @Test("expRowsBF16 (the AVX-512 kernel where the CPU has it) and the portable loop equal the naive exp, sum and rounding; rows of 7 to 300 columns",
          arguments: [false, true])
    func fusedSoftmax(portable: Bool) {
        var r = SeededRandom(11)
        for cols in [7, 16, 33, 256, 300] {
            let rows = 5
            let x = (0..<(rows * cols)).map { _ in r.next() * 8 }
            var out = [UInt16](repeating: 0, count: rows * cols), inv = [Float](repeating: 0, count: rows)
            var scores = x
            scores.withUnsafeMutableBufferPointer { xp in out.withUnsafeMutableBufferPointer { op in inv.withUnsafeMutableBufferPointer { ip in
                if portable {
                    Activation.expRowsBF16Portable(xp.baseAddress!, rows: rows, cols: cols, inverseSums: ip.baseAddress!, out: op.baseAddress!)
                } else {
                    Activation.expRowsBF16(xp.baseAddress!, rows: rows, cols: cols, inverseSums: ip.baseAddress!, out: op.baseAddress!)
                }
            } } }
            let (want, wantInv) = Activation.naiveExpRowsBF16(x, cols: cols)
            // fastExp is within ~2e-7 of exp: a numerator may round to the neighbouring bf16 (1 ulp = 2^-8 relative)
            let worst = zip(out, want).map { abs(BF16.float($0) - BF16.float($1)) / max(BF16.float($1), 1e-30) }.max()!
            #expect(worst <= 1.0 / 128, "cols \(cols): numerators off by \(worst) relative")
            #expect(zip(out, want).filter { $0 != $1 }.count <= max(1, rows * cols / 50), "cols \(cols): too many rounded differently")
            #expect(maxAbsDifference(zip(inv, wantInv).map { $0 / $1 }, [Float](repeating: 1, count: rows)) <= 1e-5)
        }
    }

    @Test("the AVX-512 kernel and the portable loop give the same numerators on attention-sized rows",
          .enabled(if: Activation.expRowsBF16Native, "this CPU has no AVX512_BF16: only the portable loop runs here"))
    func fusedSoftmaxPaths() {
        var r = SeededRandom(12)
        let rows = 8, cols = 4096 + 9
        let x = (0..<(rows * cols)).map { _ in r.next() * 12 - 6 }
        var a = x, b = x
        var oa = [UInt16](repeating: 0, count: rows * cols), ob = oa, ia = [Float](repeating: 0, count: rows), ib = ia
        a.withUnsafeMutableBufferPointer { p in oa.withUnsafeMutableBufferPointer { o in ia.withUnsafeMutableBufferPointer { i in
            Activation.expRowsBF16(p.baseAddress!, rows: rows, cols: cols, inverseSums: i.baseAddress!, out: o.baseAddress!) } } }
        b.withUnsafeMutableBufferPointer { p in ob.withUnsafeMutableBufferPointer { o in ib.withUnsafeMutableBufferPointer { i in
            Activation.expRowsBF16Portable(p.baseAddress!, rows: rows, cols: cols, inverseSums: i.baseAddress!, out: o.baseAddress!) } } }
        #expect(a == x, "the kernel writes only out and the sums")
        // the same exp step for step, but the kernel's polynomial uses fused multiply-adds and
        // sums in another order: a numerator may land on the neighbouring bf16, rarely
        let differ = zip(oa, ob).filter { $0 != $1 }
        #expect(differ.allSatisfy { abs(Int($0) - Int($1)) == 1 }, "numerators more than 1 bf16 step apart")
        #expect(differ.count <= rows * cols / 1000, "\(differ.count) of \(rows * cols) numerators rounded differently")
        #expect(maxAbsDifference(zip(ia, ib).map { $0 / $1 }, [Float](repeating: 1, count: rows)) <= 1e-6)
    }

    @Test("GemmBF16 (activations rounded to bf16, oneDNN) equals the naive product of the rounded operands: both layouts, alpha, accumulation",
          .enabled(if: OneDNN.nativeBF16, "bf16 products run where the CPU has native bf16"),
          arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmBF16(transB: Bool, accumulate: Bool) {
        var r = SeededRandom(transB ? 61 : 62)
        let (m, n, k, lda, ldb, ldc) = (19, 45, 70, 73, transB ? 71 : 47, 50)
        let a = (0..<(m * lda)).map { _ in r.next() }, b = (0..<((transB ? n : k) * ldb)).map { _ in r.next() }
        let c0 = (0..<(m * ldc)).map { _ in r.next() }
        let round = { (x: [Float]) in x.map { BF16.float(BF16.round($0)) } }
        var want = c0
        Gemm.naive(transB: transB, m: m, n: n, k: k, alpha: 0.5, a: round(a), lda: lda, b: round(b), ldb: ldb, beta: accumulate ? 1 : 0, c: &want, ldc: ldc)
        var got = c0
        a.withUnsafeBufferPointer { ap in b.withUnsafeBufferPointer { bp in got.withUnsafeMutableBufferPointer { cp in
            GemmBF16.gemm(transB: transB, m: m, n: n, k: k, alpha: 0.5, a: ap.baseAddress!, lda: lda, b: bp.baseAddress!, ldb: ldb,
                          accumulate: accumulate, c: cp.baseAddress!, ldc: ldc)
        } } }
        for i in 0..<m {
            for j in 0..<ldc {
                let (g, w) = (got[i * ldc + j], want[i * ldc + j])
                if j >= n { #expect(g == c0[i * ldc + j], "row \(i): column \(j) beyond n written"); continue }
                #expect(abs(g - w) <= 1e-5 * max(1, abs(w)), "[\(i), \(j)]: \(g) vs \(w)")
            }
        }
    }

    /// The windowed (padded) blocks of the SAM fixture at bf16: `fastBlock` against the
    /// same block computed naively (Linear layers by `BF16.naiveLinear`, the attention
    /// by `naiveMultiHeadAttention(bf16: true)` on the zero-padded windows with SAM's
    /// decomposed relative positions taken from the unrounded q).
    @Test("SAM's windowed attention at bf16 equals the naive bf16 block")
    func windowedBlock() throws {
        var weights = SAMConfig.weights([try SafeTensors(path: Fixtures.path("sam_a.safetensors"))])
        weights.precision = .bf16
        let enc = try SAM(weights: weights).encoder, c = enc.config, g = c.grid, t = g * g, d = c.embedDim
        let heads = c.heads, hd = d / heads
        let i = try #require(enc.blocks.firstIndex { $0.window > 0 && g % $0.window != 0 })
        let b = enc.blocks[i], ws = b.window, nw = (g + ws - 1) / ws, n = ws * ws
        var r = SeededRandom(21)
        let x = r.tensor([t, d])
        let work = EncoderWorkspace(tokens: t, dim: d, hidden: b.lin1W.shape[0])
        x.data.withUnsafeBufferPointer { work.x.baseAddress!.update(from: $0.baseAddress!, count: $0.count) }
        enc.fastBlock(b, relH: enc.relH[i], relW: enc.relW[i], work)

        func naiveLinear(_ a: Tensor, _ w: LinearWeight, _ bias: Tensor) -> Tensor {
            let m = a.count / w.shape[1]
            return Tensor(shape: [m, w.shape[0]], data: BF16.naiveLinear(a.data, m: m, k: w.shape[1], w.bf16Values, n: w.shape[0], bias: bias.data))
        }
        let h = windowPartition(x.layerNorm(b.norm1w, b.norm1b, eps: 1e-6), grid: g, window: ws)  // [nw*nw*n, D], zero padded
        let qkv = naiveLinear(h, b.qkvW, b.qkvB)
        let shape = AttentionShape(batch: nw * nw, queries: n, keys: n, heads: heads, headDim: hd, ldq: 3 * d, ldk: 3 * d, ldv: 3 * d, ldo: d,
                                   batchStrideQ: n * 3 * d, batchStrideK: n * 3 * d, batchStrideV: n * 3 * d, batchStrideO: n * d)
        let rh = enc.relH[i], rw = enc.relW[i]
        let bias: (Int, Int, Int, Int) -> Float = { win, head, qi, kj in
            let q = win * n * 3 * d + qi * 3 * d + head * hd, (y, xx, ky, kx) = (qi / ws, qi % ws, kj / ws, kj % ws)
            var s: Float = 0
            for e in 0..<hd { s += qkv.data[q + e] * (rh[(y * ws + ky) * hd + e] + rw[(xx * ws + kx) * hd + e]) }
            return s
        }
        var att = [Float](repeating: 0, count: nw * nw * n * d)
        naiveMultiHeadAttention(shape, scale: 1 / Float(hd).squareRoot(), q: qkv.data, k: Array(qkv.data.dropFirst(d)) + [Float](repeating: 0, count: d),
                                v: Array(qkv.data.dropFirst(2 * d)) + [Float](repeating: 0, count: 2 * d), out: &att, bias: bias, bf16: true)
        var y = x + naiveLinear(windowUnpartition(Tensor(shape: [nw * nw * n, d], data: att), grid: g, window: ws), b.projW, b.projB)
        y = y + naiveLinear(naiveLinear(y.layerNorm(b.norm2w, b.norm2b, eps: 1e-6), b.lin1W, b.lin1B).gelu(), b.lin2W, b.lin2B)
        // the fast path rounds the MLP input after its fast GELU and LayerNorm: a value near
        // a rounding boundary goes the other way, so not bit-close; 1e-3 is 50x below the
        // difference bf16 makes (checked below)
        let got = Tensor(shape: [t, d], data: Array(work.x))
        expectClose(got, y, 1e-3, "windowed block \(i) at bf16 vs naive bf16")
        #expect(got.relativeError(to: enc.referenceBlock(x, b, relH: rh, relW: rw)) <= 2e-2)
        let fp32 = try SAM(path: Fixtures.path("sam_a.safetensors")).encoder
        let diff = got.relativeError(to: fp32.referenceBlock(x, fp32.blocks[i], relH: rh, relW: rw))
        #expect(diff > 1e-4, "bf16 and fp32 blocks should differ, by \(diff)")
    }
}
