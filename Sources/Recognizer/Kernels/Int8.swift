import Foundation

// int8 quantization for the int8 path's Linear layers (models.precision int8).
// Symmetric, one scale per row: s = max|row| / 127, q = round(x · 127 / max|row|) to
// nearest even, in [-127, 127]. Weights W [N, K] are quantized once at load, per output
// channel (row n); activations x [M, K] at each call, per token (row m). The product
// Σ_k q_x q_w is exact in int32, so out[m, n] = acc · (s_x[m] · s_w[n]) + bias[n] differs
// from fp32 only by the two roundings (at most half a step each: s/2).
//
// oneDNN's fast int8 GEMM on VNNI takes u8 activations: the kernel stores q + 128 and
// subtracts 128 · Σ_k q_w[n, k] (`Int8Weights.compensation`) from each accumulator, which
// is exact. A row with a NaN or infinity gets scale NaN, so its outputs are NaN (as the
// fp32 and bf16 paths' would be), never a silent number. `naiveLinear` is the plain
// reference the fast path (OneDNNInt8.swift) is tested against.

public enum Int8Quant {
    /// 1.5 · 2^23: y + magic has the integer nearest y (ties to even) in its low mantissa
    /// bits, for |y| < 2^22.
    private static let magic: Float = 12_582_912

    /// Quantizes `rows` rows of `cols` values (rows `ld` apart) to q + `offset` per byte
    /// (offset 128: u8 activations; 0: s8 weights as bit patterns), rows `cols` apart in
    /// `out`; scales[r] = max|row r| / 127 (0 for a zero row, NaN for a non-finite one,
    /// whose bytes are then `offset`). 16 lanes at a time.
    static func quantizeRows(_ x: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int, offset: Int32,
                             out: UnsafeMutablePointer<UInt8>, scales: UnsafeMutablePointer<Float>) {
        let raw = UnsafeRawPointer(x), dst = UnsafeMutableRawPointer(out)
        let bias = SIMD16<Int32>(repeating: offset) &- SIMD16<Int32>(repeating: Int32(bitPattern: magic.bitPattern))
        for r in 0..<rows {
            let row = r * ld
            // pass 1: max |x|, and Σ x · 0 (NaN when any x is NaN or infinite)
            var mx = SIMD16<Float>(repeating: 0), bad = SIMD16<Float>(repeating: 0)
            var c = 0
            while c + 16 <= cols {
                let v = raw.loadUnaligned(fromByteOffset: (row + c) * 4, as: SIMD16<Float>.self)
                let a = v.replacing(with: -v, where: v .< 0)
                mx.replace(with: a, where: a .> mx)
                bad += v * 0
                c += 16
            }
            var m = mx.max(), b = bad.sum()
            while c < cols { let v = x[row + c]; m = Swift.max(m, abs(v)); b += v * 0; c += 1 }
            let o = dst + r * cols
            guard b == 0, m > 0 else {
                scales[r] = b == 0 ? 0 : .nan
                o.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: offset), count: cols)
                continue
            }
            scales[r] = m / 127
            // pass 2: q = round(x · 127 / m), clamped to ±127, plus the offset
            let inv = 127 / m, vinv = SIMD16<Float>(repeating: inv)
            let lo = SIMD16<Float>(repeating: -127), hi = SIMD16<Float>(repeating: 127), vm = SIMD16<Float>(repeating: magic)
            c = 0
            while c + 16 <= cols {
                let v = raw.loadUnaligned(fromByteOffset: (row + c) * 4, as: SIMD16<Float>.self)
                let y = (v * vinv).clamped(lowerBound: lo, upperBound: hi) + vm
                let q = unsafeBitCast(y, to: SIMD16<Int32>.self) &+ bias
                o.storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: q), toByteOffset: c, as: SIMD16<UInt8>.self)
                c += 16
            }
            while c < cols {
                let y = Swift.min(Swift.max(x[row + c] * inv, -127), 127) + magic
                o.storeBytes(of: UInt8(truncatingIfNeeded: Int32(bitPattern: y.bitPattern) &+ bias[0]), toByteOffset: c, as: UInt8.self)
                c += 1
            }
        }
    }

    /// out[r, j] (rows `ldo` apart) = (acc[r, j] - comp[j]) · (rowScales[r] · colScales[j])
    /// (+ bias[j]) (+ out[r, j] when `accumulate`); acc [rows, cols] int32.
    static func dequantize(_ acc: UnsafePointer<Int32>, rows: Int, cols: Int, compensation comp: UnsafePointer<Int32>,
                           rowScales: UnsafePointer<Float>, colScales: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                           out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        let a = UnsafeRawPointer(acc), cp = UnsafeRawPointer(comp), cs = UnsafeRawPointer(colScales)
        let bp = bias.map(UnsafeRawPointer.init)
        for r in 0..<rows {
            let rs = SIMD16<Float>(repeating: rowScales[r]), o = UnsafeMutableRawPointer(out + r * ldo)
            var j = 0
            while j + 16 <= cols {
                let i = a.loadUnaligned(fromByteOffset: (r * cols + j) * 4, as: SIMD16<Int32>.self)
                    &- cp.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Int32>.self)
                var v = SIMD16<Float>(i) * (rs * cs.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self))
                if let bp { v += bp.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self) }
                if accumulate { v = o.loadUnaligned(fromByteOffset: j * 4, as: SIMD16<Float>.self) + v }
                o.storeBytes(of: v, toByteOffset: j * 4, as: SIMD16<Float>.self)
                j += 16
            }
            while j < cols {
                var v = Float(acc[r * cols + j] &- comp[j]) * (rowScales[r] * colScales[j])
                if let bias { v += bias[j] }
                out[r * ldo + j] = accumulate ? out[r * ldo + j] + v : v
                j += 1
            }
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

    /// Naive reference of the int8 Linear (tests only): x [m, k] and w [n, k] fp32 each
    /// quantized per row, integer dot products, out [m, n] = dot · (s_x · s_w) + bias.
    public static func naiveLinear(_ x: [Float], m: Int, k: Int, _ w: [Float], n: Int, bias: [Float]?) -> [Float] {
        let xq = (0..<m).map { naiveQuantize(x[($0 * k)..<($0 * k + k)]) }
        let wq = (0..<n).map { naiveQuantize(w[($0 * k)..<($0 * k + k)]) }
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var dot: Int32 = 0
                for p in 0..<k { dot += xq[i].q[p] * wq[j].q[p] }
                var v = Float(dot) * (xq[i].scale * wq[j].scale)
                if let bias { v += bias[j] }
                out[i * n + j] = v
            }
        }
        return out
    }
}
