import Foundation

// int8 quantization for the int8 path's Linear layers (models.precision int8).
// Weights W [N, K]: once at load, per output channel (row n), symmetric to s8:
// s_w = max|row| / 127, q = round(w / s_w) to nearest even, in [-127, 127].
// Activations x [M, K]: at each call, per token (row m), asymmetric to u8 (oneDNN's fast
// int8 GEMM on VNNI takes u8 x s8): s_x = (max - min) / 255, q = round((x - min) / s_x).
// The products Σ_k q_x q_w are exact in int32, so out[m, n] = (acc · s_x + min · Σ_k q_w)
// · s_w + bias differs from fp32 only by the two roundings (at most half a step each).
// A row with a NaN or infinity gets scale NaN, so its outputs are NaN (as the fp32 and
// bf16 paths' would be), never a silent number. `naiveLinear` is the plain reference the
// fast path (OneDNNInt8.swift) is tested against.

public enum Int8Quant {
    /// 1.5 · 2^23: y + magic has the integer nearest y (ties to even) in its low mantissa
    /// bits, for |y| < 2^22.
    private static let magic: Float = 12_582_912

    /// (min, max, Σ x · 0) of row[0..<cols]: the sum is NaN when any x is NaN or infinite.
    /// 16 running minima and maxima in stack buffers, so that LLVM emits vector compares
    /// (as `rowMax`; SIMD masks and `pointwiseMin` stay per lane).
    @inline(__always)
    static func rowRange(_ row: UnsafePointer<Float>, _ cols: Int) -> (Float, Float, Float) {
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { buf in
            let lo = buf.baseAddress!, hi = lo + 16
            for j in 0..<16 { lo[j] = .infinity; hi[j] = -.infinity }
            var bad = SIMD16<Float>(repeating: 0)
            var i = 0
            while i + 16 <= cols {
                bad += UnsafeRawPointer(row + i).loadUnaligned(as: SIMD16<Float>.self) * 0
                for j in 0..<16 { let v = row[i + j]; lo[j] = v < lo[j] ? v : lo[j]; hi[j] = v > hi[j] ? v : hi[j] }
                i += 16
            }
            var mn = Float.infinity, mx = -Float.infinity, b = bad.sum()
            for j in 0..<16 { mn = Swift.min(mn, lo[j]); mx = Swift.max(mx, hi[j]) }
            while i < cols { let v = row[i]; mn = Swift.min(mn, v); mx = Swift.max(mx, v); b += v * 0; i += 1 }
            return (mn, mx, b)
        }
    }

    /// Symmetric per-row quantization (weights): `rows` rows of `cols` values (rows `ld`
    /// apart) to q + `offset` per byte (0: s8 bit patterns), rows `cols` apart in `out`;
    /// scales[r] = max|row r| / 127 (0 for a zero row, NaN for a non-finite one, whose
    /// bytes are then `offset`). The range in 16 running lanes (`rowRange`), the bytes in
    /// a loop LLVM vectorizes, as `quantizeRowsAsymmetric`.
    static func quantizeRows(_ x: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int, offset: Int32,
                             out: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>) {
        let bias = offset &- Int32(bitPattern: magic.bitPattern)
        for r in 0..<rows {
            let row = r * ld
            let (lo, hi, b) = rowRange(x + row, cols)
            let m = Swift.max(-lo, hi)
            let o = out + r * cols
            guard b == 0, m > 0 else {
                scales[r] = b == 0 ? 0 : .nan
                o.initialize(repeating: UInt8(truncatingIfNeeded: offset), count: cols)
                continue
            }
            scales[r] = m / 127
            // pass 2: q = round(x · 127 / m) (within ±127: no clamping; |x| · 127 / max|x|
            // exceeds 127 by a few ulps at most), plus the offset
            let inv = 127 / m, src = x + row
            for c in 0..<cols {
                let y = src[c] * inv + magic
                o[c] = UInt8(truncatingIfNeeded: Int32(bitPattern: y.bitPattern) &+ bias)
            }
        }
    }

    /// sums[r] = Σ_c q[r, c] over s8 rows `cols` apart, exact (|Σ| ≤ 127 · cols < 2^24): the
    /// column sums the per-row minimum of the other operand multiplies (`dequantize`).
    static func rowSums(_ q: UnsafePointer<Int8>, rows: Int, cols: Int, sums: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            var s: Int32 = 0
            for c in 0..<cols { s += Int32(q[r * cols + c]) }
            sums[r] = Float(s)
        }
    }

    /// Asymmetric per-row quantization of activations to u8: q = round((x - min) · 255 /
    /// (max - min)) in [0, 255], x ≈ min + scale · q with scale = (max - min) / 255 (a
    /// constant row: scale 0, x = min exactly; a non-finite one: scale NaN). The whole
    /// byte serves each row's range, which matters after GELU (outputs ≥ -0.17) and
    /// LayerNorm (rows off zero). Rows `ld` apart in, `cols` apart out. The range in 16
    /// running lanes (`rowRange`), the bytes in a loop LLVM vectorizes.
    static func quantizeRowsAsymmetric(_ x: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int, out: UnsafeMutablePointer<UInt8>,
                                       scales: UnsafeMutablePointer<Float>, minimums: UnsafeMutablePointer<Float>) {
        for r in 0..<rows {
            let row = r * ld
            let (mn, mx, b) = rowRange(x + row, cols)
            guard b == 0, mx > mn else {
                scales[r] = b == 0 ? 0 : .nan; minimums[r] = b == 0 ? mn : .nan
                (out + r * cols).initialize(repeating: 0, count: cols)
                continue
            }
            scales[r] = (mx - mn) / 255; minimums[r] = mn
            // pass 2: q = round((x - min) · 255 / (max - min)); x - min ≥ 0 and the product
            // exceeds 255 by a few ulps at most, so it needs no clamping (the naive one's
            // clamp changes no rounded value)
            // A plain loop LLVM vectorizes (SIMD16<UInt8>(truncatingIfNeeded:) ran out of line).
            let inv = 255 / (mx - mn), unbias = Int32(bitPattern: magic.bitPattern)
            let src = x + row, o = out + r * cols
            for c in 0..<cols {
                let y = (src[c] - mn) * inv + magic
                o[c] = UInt8(truncatingIfNeeded: Int32(bitPattern: y.bitPattern) &- unbias)
            }
        }
    }

    /// out[r, j] (rows `ldo` apart) = (acc[r, j] · rowScales[r] + rowMins[r] · colSums[j]) ·
    /// colScales[j] (+ bias[j]) (+ out[r, j] when `accumulate`): Σ_k x̂ ŵ with x̂ = min +
    /// s_x q_x and ŵ = s_w q_w; acc [rows, cols] int32 = Σ_k q_x q_w, colSums[j] = Σ_k q_w.
    /// With `gelu`, GELU of that (`geluExact`, as `biasGelu`), each row while it is in L1.
    /// Plain loops LLVM vectorizes (SIMD16<Float>(SIMD16<Int32>) ran out of line).
    static func dequantize(_ acc: UnsafePointer<Int32>, rows: Int, cols: Int, colSums: UnsafePointer<Float>,
                           rowScales: UnsafePointer<Float>, rowMins: UnsafePointer<Float>, colScales: UnsafePointer<Float>,
                           bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool,
                           gelu: Bool = false) {
        for r in 0..<rows {
            let rs = rowScales[r], rm = rowMins[r], a = acc + r * cols, o = out + r * ldo
            switch (bias, accumulate) {
            case (let b?, false): for j in 0..<cols { o[j] = (Float(a[j]) * rs + rm * colSums[j]) * colScales[j] + b[j] }
            case (let b?, true): for j in 0..<cols { o[j] = o[j] + ((Float(a[j]) * rs + rm * colSums[j]) * colScales[j] + b[j]) }
            case (nil, false): for j in 0..<cols { o[j] = (Float(a[j]) * rs + rm * colSums[j]) * colScales[j] }
            case (nil, true): for j in 0..<cols { o[j] = o[j] + (Float(a[j]) * rs + rm * colSums[j]) * colScales[j] }
            }
            if gelu { for j in 0..<cols { o[j] = geluExact(o[j]) } }
        }
    }

    /// Reference quantization of one row (plain loops, tests): (q, scale) as `quantizeRows`.
    public static func naiveQuantize(_ row: ArraySlice<Float>) -> (q: [Int32], scale: Float) {
        var m: Float = 0
        for v in row { if !v.isFinite { return (row.map { _ in 0 }, .nan) }; m = max(m, abs(v)) }
        if m == 0 { return (row.map { _ in 0 }, 0) }
        let inv = 127 / m
        return (row.map { Int32(min(max($0 * inv, -127), 127).rounded(.toNearestOrEven)) }, m / 127)
    }

    /// Reference asymmetric quantization of one activation row (plain loops, tests):
    /// (q, scale, min) as `quantizeRowsAsymmetric`.
    public static func naiveQuantizeAsymmetric(_ row: ArraySlice<Float>) -> (q: [Int32], scale: Float, min: Float) {
        if row.contains(where: { !$0.isFinite }) { return (row.map { _ in 0 }, .nan, .nan) }
        let mn = row.min() ?? 0, mx = row.max() ?? 0
        if mx == mn { return (row.map { _ in 0 }, 0, mn) }
        let inv = 255 / (mx - mn)
        return (row.map { Int32(min(max(($0 - mn) * inv, 0), 255).rounded(.toNearestOrEven)) }, (mx - mn) / 255, mn)
    }

    /// Naive reference of the int8 Linear (tests only): x [m, k] quantized per row
    /// (asymmetric), w [n, k] per row (symmetric), integer dot products, out [m, n] =
    /// (dot · s_x + min_x · Σ q_w) · s_w + bias.
    public static func naiveLinear(_ x: [Float], m: Int, k: Int, _ w: [Float], n: Int, bias: [Float]?) -> [Float] {
        let xq = (0..<m).map { naiveQuantizeAsymmetric(x[($0 * k)..<($0 * k + k)]) }
        let wq = (0..<n).map { naiveQuantize(w[($0 * k)..<($0 * k + k)]) }
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var dot: Int32 = 0, sum: Int32 = 0
                for p in 0..<k { dot += xq[i].q[p] * wq[j].q[p]; sum += wq[j].q[p] }
                var v = (Float(dot) * xq[i].scale + xq[i].min * Float(sum)) * wq[j].scale
                if let bias { v += bias[j] }
                out[i * n + j] = v
            }
        }
        return out
    }
}
