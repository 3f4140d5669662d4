import CKernels
import Foundation

// Element-wise activations and softmax. Each fast kernel has a naive reference below it
// (`naive*`) computed with libm in Double, and a test compares the two on random inputs.

/// GELU with erf (torch's default): 0.5 x (1 + erf(x / sqrt 2)), erf by `fastErf`. One
/// formula for `Activation.gelu`, `biasGelu` and the int8 Linear's GELU epilogue.
@inline(__always)
func geluExact(_ x: Float) -> Float { 0.5 * x * (1 + fastErf(x * 0.70710678118654752)) }

/// erf(x) as a rational function of x^2 on [-4, 4] (the single-precision minimax fit
/// used by XLA/Eigen); |error| < 2e-7, no exp, vectorizes.
@inline(__always)
func fastErf(_ xIn: Float) -> Float {
    let x = min(max(xIn, -4), 4)
    let x2 = x * x
    var p: Float = -2.72614225801306e-10
    p = p * x2 + 2.77068142495902e-08
    p = p * x2 + -2.10102402082508e-06
    p = p * x2 + -5.69250639462346e-05
    p = p * x2 + -7.34990630326855e-04
    p = p * x2 + -2.95459980854025e-03
    p = p * x2 + -1.60960333262415e-02
    p *= x
    var q: Float = -1.45660718464996e-05
    q = q * x2 + -2.13374055278905e-04
    q = q * x2 + -1.68282697438203e-03
    q = q * x2 + -7.37332916720468e-03
    q = q * x2 + -1.42647390514189e-02
    return p / q
}

/// e^x by range reduction to 2^n * 2^f, |f| <= 1/2, with the degree-6 Taylor polynomial
/// of 2^f (truncation error < 2e-7 relative) for x in [-87, 88]; below -87 it is ~0.
/// n is rounded to nearest even by adding 1.5 * 2^23, whose low mantissa bits then hold
/// n: no `rounded()` (a scalar rintf call on baseline x86-64) and no trapping Int32(_:),
/// so loops over it vectorize.
@inline(__always)
func fastExp(_ xIn: Float) -> Float {
    let x = min(max(xIn, -87), 88)
    let t = x * 1.44269504088896341  // x * log2(e)
    let r = t + 12582912
    let n = r - 12582912
    let f = (t - n) * 0.693147180559945309  // f * ln 2, in [-0.347, 0.347]
    var p: Float = 1.0 / 720
    p = p * f + 1.0 / 120
    p = p * f + 1.0 / 24
    p = p * f + 1.0 / 6
    p = p * f + 0.5
    p = p * f + 1
    p = p * f + 1
    let bits = (Int32(bitPattern: r.bitPattern) &- 0x4B40_0000 &+ 127) &<< 23
    return p * Float(bitPattern: UInt32(bitPattern: bits))
}

/// max(row[0..<cols]). 16 running maxima in a stack buffer: LLVM turns the inner loop
/// into vector compares (Swift's SIMD `pointwiseMax` is an out-of-line call per vector).
@inline(__always)
func rowMax(_ row: UnsafePointer<Float>, _ cols: Int) -> Float {
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { buf in
        let q = buf.baseAddress!
        for j in 0..<16 { q[j] = -.infinity }
        var i = 0
        while i + 16 <= cols {
            for j in 0..<16 { let v = row[i + j]; q[j] = v > q[j] ? v : q[j] }
            i += 16
        }
        var m = -Float.infinity
        for j in 0..<16 { m = max(m, q[j]) }
        while i < cols { m = max(m, row[i]); i += 1 }
        return m
    }
}

/// row[j] = exp(row[j] - max(row)) in place; returns the sum. The exp pass is a plain
/// loop over `fastExp` that LLVM vectorizes; the sum is accumulated in 8 lanes (a scalar
/// float sum would not vectorize). 3x faster than the SIMD8 version it replaced, whose
/// clamps went through `pointwiseMin`/`pointwiseMax` calls.
@inline(__always)
func expShiftRow(_ row: UnsafeMutablePointer<Float>, _ cols: Int) -> Float {
    let m = rowMax(row, cols)
    for j in 0..<cols { row[j] = fastExp(row[j] - m) }
    let raw = UnsafeMutableRawPointer(row)
    var sv = SIMD8<Float>(), j = 0
    while j + 8 <= cols {
        sv += raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
        j += 8
    }
    var s = sv.sum()
    while j < cols { s += row[j]; j += 1 }
    return s
}

public enum Activation {
    /// GELU, erf form: 0.5 x (1 + erf(x / sqrt 2)) — torch.nn.GELU().
    public static func gelu(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n) { r in
            for i in r { p[i] = geluExact(p[i]) }
        }
    }
    /// QuickGELU: x * sigmoid(1.702 x) — OpenAI CLIP.
    public static func quickGelu(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n) { r in
            for i in r {
                let x = p[i]
                p[i] = x / (1 + fastExp(-1.702 * x))
            }
        }
    }
    public static func relu(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
        Parallel.forRanges(n) { r in for i in r { p[i] = max(p[i], 0) } }
    }

    /// In-place softmax over each row of a [rows, cols] block with row stride `ld`.
    @inline(__always)
    public static func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ld: Int? = nil) {
        let ld = ld ?? cols
        if ld == cols && cols < 8 && rows > 1 { return softmaxShortRows(p, rows: rows, cols: cols) }
        for r in 0..<rows {
            let row = p + r * ld
            let inv = 1 / expShiftRow(row, cols)
            for j in 0..<cols { row[j] *= inv }
        }
    }

    /// softmaxRows of a contiguous block of rows shorter than 8 (the mask decoder's image
    /// tokens over ~7 prompt tokens, 32,768 rows a prompt): per row the loop over `fastExp`
    /// is all remainder, so scalar; here the exps run as one vectorized pass over the whole
    /// block between the per-row max and sum passes. Bit-equal to the row-by-row form
    /// (same max, same differences, same exps, sums in the same order).
    static func softmaxShortRows(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            let row = p + r * cols
            let m = rowMax(row, cols)
            for j in 0..<cols { row[j] -= m }
        }
        for i in 0..<(rows * cols) { p[i] = fastExp(p[i]) }
        for r in 0..<rows {
            let row = p + r * cols
            var s: Float = 0
            for j in 0..<cols { s += row[j] }
            let inv = 1 / s
            for j in 0..<cols { row[j] *= inv }
        }
    }

    /// softmaxRows without the final scaling pass: rows hold exp(x - max) and
    /// `inverseSums[r]` = 1 / sum, for callers that scale a smaller product instead
    /// (attention scales P V's [rows, headDim] rather than P's [rows, keys]).
    @inline(__always)
    public static func expRows(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, inverseSums: UnsafeMutablePointer<Float>) {
        for r in 0..<rows { inverseSums[r] = 1 / expShiftRow(p + r * cols, cols) }
    }

    /// `expRows` with the numerators written as bf16 instead: out[r, j] = bf16(exp(p[r, j] -
    /// max_r)), inverseSums[r] = 1 / the row's fp32 sum (taken before rounding). Where the
    /// CPU has AVX512_BF16 (every CPU the bf16 path runs natively on) the C kernel
    /// `rs_exp_rows_bf16` (CKernels) does it, 2.1x faster than the portable loop and p left
    /// as it was; elsewhere `expRowsBF16Portable`, which leaves the fp32 numerators in p.
    public static func expRowsBF16(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, inverseSums: UnsafeMutablePointer<Float>,
                                   out: UnsafeMutablePointer<UInt16>) {
        if expRowsBF16Native { rs_exp_rows_bf16(p, rows, cols, inverseSums, out); return }
        expRowsBF16Portable(p, rows: rows, cols: cols, inverseSums: inverseSums, out: out)
    }

    /// Whether `expRowsBF16` runs the AVX-512 kernel on this CPU.
    public static let expRowsBF16Native = rs_exp_rows_bf16_supported() != 0

    /// `expRowsBF16` in Swift (AVX2 at -target-cpu haswell). Row by row, so the rounding reads a row still in L1.
    /// The exp runs in place: into a separate buffer LLVM left the loop scalar (3x slower).
    public static func expRowsBF16Portable(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, inverseSums: UnsafeMutablePointer<Float>,
                                           out: UnsafeMutablePointer<UInt16>) {
        for r in 0..<rows {
            let row = p + r * cols, o = out + r * cols
            inverseSums[r] = 1 / expShiftRow(row, cols)
            for j in 0..<cols { o[j] = BF16.roundFinite(row[j]) }  // no NaN here; vectorized
        }
    }

    // MARK: naive references
    public static func naiveGelu(_ x: [Float]) -> [Float] { x.map { Float(0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot()))) } }
    public static func naiveQuickGelu(_ x: [Float]) -> [Float] { x.map { Float(Double($0) / (1 + exp(-1.702 * Double($0)))) } }
    /// Reference of `expRowsBF16`: (bf16 numerators, 1 / Double sum) per row, libm exp in Double.
    public static func naiveExpRowsBF16(_ x: [Float], cols: Int) -> (numerators: [UInt16], inverseSums: [Float]) {
        var out = [UInt16](), inv = [Float]()
        for r in 0..<(x.count / cols) {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let m = row.max()!
            let e = row.map { exp($0 - m) }
            out += e.map { BF16.round(Float($0)) }
            inv.append(Float(1 / e.reduce(0, +)))
        }
        return (out, inv)
    }
    public static func naiveSoftmax(_ x: [Float], cols: Int) -> [Float] {
        var out = x
        for r in 0..<(x.count / cols) {
            let row = x[(r * cols)..<((r + 1) * cols)].map(Double.init)
            let m = row.max()!
            let e = row.map { exp($0 - m) }
            let s = e.reduce(0, +)
            for j in 0..<cols { out[r * cols + j] = Float(e[j] / s) }
        }
        return out
    }
}

extension Tensor {
    public func gelu() -> Tensor { var t = self; t.data.withUnsafeMutableBufferPointer { Activation.gelu($0.baseAddress!, $0.count) }; return t }
    public func quickGelu() -> Tensor { var t = self; t.data.withUnsafeMutableBufferPointer { Activation.quickGelu($0.baseAddress!, $0.count) }; return t }
    public func relu() -> Tensor { var t = self; t.data.withUnsafeMutableBufferPointer { Activation.relu($0.baseAddress!, $0.count) }; return t }
    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        var t = self
        let cols = shape.last!
        t.data.withUnsafeMutableBufferPointer { Activation.softmaxRows($0.baseAddress!, rows: count / cols, cols: cols) }
        return t
    }
}
