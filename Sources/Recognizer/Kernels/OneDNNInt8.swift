import CDNNL
import Foundation

// The int8 path's Linear through oneDNN: u8 activations x s8 weights -> s32 (brgemm on
// VNNI: vpdpbusd sums four u8 · s8 products into int32 without saturating, so the
// product is exact), then `Int8Quant.dequantize` turns each accumulator into fp32 with its
// row's scale and minimum and its column's scale and sum, bias and accumulation in one pass. oneDNN 2.6's output
// scales take one scale per column at most, not one per row, so the scaling is ours.
// Rows go in chunks of `int8ChunkRows` per row slice (OneDNN.swift's `forSlices`, on the
// recognizer's pool): a chunk's quantized rows, row scales and int32 accumulators live in
// the calling thread's scratch (`matmulInput`, `matmulAccumulator`) and stay in L2 from
// the GEMM to the dequantization.

extension OneDNN {
    /// Whether this CPU runs u8 x s8 matmuls with VNNI (AVX512_VNNI or AVX-VNNI). Without
    /// it oneDNN multiplies with vpmaddubsw, whose int16 pair sums saturate for u8 inputs
    /// above 127: wrong results, so int8 falls back to fp32 (`Precision.effective`).
    public static var nativeInt8: Bool {
        let v = isa.rawValue, vnni = dnnl_cpu_isa_avx512_core_vnni.rawValue, avxVnni = dnnl_cpu_isa_avx2_vnni.rawValue
        return engine != nil && (v & vnni == vnni || v & avxVnni == avxVnni)
    }

    /// W [N, K] quantized once at load, per output channel: s8 values packed into the
    /// layout of oneDNN's u8 x s8 matmul, scales[n] = max|W[n, :]| / 127, and
    /// sums[n] = Σ_k q[n, k] (for the activations' per-row minimum, Int8.swift).
    public final class Int8Weights: @unchecked Sendable {  // immutable after init
        let packed: PackedWeights
        let scales: UnsafeMutablePointer<Float>  // [N]
        let sums: UnsafeMutablePointer<Float>  // [N]: Σ_k q[n, k] (exact: |Σ| ≤ 127 K < 2^24)
        public var n: Int { packed.n }
        public var k: Int { packed.k }

        /// w [N, K] fp32, rows K apart (finite: weights are checked at load).
        public init(_ w: UnsafePointer<Float>, n: Int, k: Int) {
            let scales = UnsafeMutablePointer<Float>.allocate(capacity: n), sums = UnsafeMutablePointer<Float>.allocate(capacity: n)
            var q = [UInt8](repeating: 0, count: n * k)
            q.withUnsafeMutableBufferPointer { qp in
                Int8Quant.quantizeRows(w, ld: k, rows: n, cols: k, offset: 0, out: qp.baseAddress!, scales: scales)
                Int8Quant.rowSums(UnsafeRawPointer(qp.baseAddress!).assumingMemoryBound(to: Int8.self), rows: n, cols: k, sums: sums)
            }
            self.scales = scales; self.sums = sums
            packed = q.withUnsafeBytes { OneDNN.pack($0.baseAddress!.assumingMemoryBound(to: Int8.self), n: n, k: k) }
        }
        deinit { scales.deallocate(); sums.deallocate() }

        /// Bytes held: the packed s8 values (whole blocks) and the per-channel scales and sums.
        public var bytes: Int { packed.bytes + n * 8 }

        /// The stored s8 values, W [N, K] unpacked, and their scales (tests, hashes).
        public var values: [Int8] { OneDNN.unpackInt8(packed) }
        public var channelScales: [Float] { Array(UnsafeBufferPointer(start: scales, count: n)) }
    }

    /// Rows per oneDNN call in the int8 Linear (128 x 3,072 int32 accumulators: 1.5 MiB).
    static let int8ChunkRows = 128

    /// out[M, N] = dequant(quant(x)[M, K] · Wq^T) (+ bias[N]) (+ out when `accumulate`):
    /// the int8 path's Linear. x fp32, rows `ldx` apart (default K); out rows `ldo` apart.
    /// `gelu`: GELU of each output in the same pass (SAM's MLP, `LinearWeight.applyGelu`).
    public static func matmul(m: Int, x: UnsafePointer<Float>, ldx: Int? = nil, int8 w: Int8Weights,
                              bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool,
                              gelu: Bool = false) {
        let n = w.n, k = w.k, ldx = ldx ?? k
        let key = Key(m: m, n: n, k: k, lda: k, ldb: k, ldo: n, transB: true, bias: false, accumulate: false,
                      alpha: Float(1).bitPattern, layout: w.packed.layout, int8: true)
        forSlices(key) { slice, r0 in
            var done = 0
            while done < slice.m {
                var chunk = slice
                chunk.m = min(int8ChunkRows, slice.m - done)
                let rows = chunk.m, first = r0 + done
                // row scales and minimums [2, rows] f32, then the quantized rows [rows, K] u8
                let raw = ThreadScratch.buffer(.matmulInput, bytes: rows * 8 + rows * k)
                let rowScales = raw.bindMemory(to: Float.self, capacity: 2 * rows), rowMins = rowScales + rows
                let q = (raw + rows * 8).bindMemory(to: UInt8.self, capacity: rows * k)
                let acc = ThreadScratch.buffer(.matmulAccumulator, Int32.self, count: rows * n)  // [rows, N]
                Int8Quant.quantizeRowsAsymmetric(x + first * ldx, ld: ldx, rows: rows, cols: k, out: q, scales: rowScales, minimums: rowMins)
                execute(chunk, src: q, weights: UnsafeRawPointer(w.packed.data), bias: nil, out: acc)
                Int8Quant.dequantize(acc, rows: rows, cols: n, colSums: w.sums, rowScales: rowScales, rowMins: rowMins,
                                     colScales: w.scales, bias: bias, out: out + first * ldo, ldo: ldo, accumulate: accumulate,
                                     gelu: gelu)
                done += rows
            }
        }
    }

    /// out[M, N] int32 = src[M, K] u8 · Wq^T with W's packed s8 values, nothing around it:
    /// the `int8_ceiling` bench row's product.
    public static func matmul(m: Int, src: UnsafePointer<UInt8>, int8 w: Int8Weights, out: UnsafeMutablePointer<Int32>) {
        let key = Key(m: m, n: w.n, k: w.k, lda: w.k, ldb: w.k, ldo: w.n, transB: true, bias: false, accumulate: false,
                      alpha: Float(1).bitPattern, layout: w.packed.layout, int8: true)
        run(key, src: UnsafeRawPointer(src), weights: UnsafeRawPointer(w.packed.data), bias: nil, out: UnsafeMutableRawPointer(out))
    }
}

extension OneDNN {
    /// out[M, N] int32 = src[M, K] u8 · W^T with W [N, K] s8 in plain rows `ldb` apart (the
    /// int8 attention's keys, quantized at each call): Q K^T. src rows `lda` apart, out
    /// rows N apart. Row slices as `matmul(m:n:k:...)`.
    public static func matmul(m: Int, n: Int, k: Int, src: UnsafePointer<UInt8>, lda: Int, int8Keys w: UnsafePointer<Int8>, ldb: Int,
                              out: UnsafeMutablePointer<Int32>) {
        let key = Key(m: m, n: n, k: k, lda: lda, ldb: ldb, ldo: n, transB: true, bias: false, accumulate: false,
                      alpha: Float(1).bitPattern, int8: true)
        run(key, src: UnsafeRawPointer(src), weights: UnsafeRawPointer(w), bias: nil, out: UnsafeMutableRawPointer(out))
    }
}
