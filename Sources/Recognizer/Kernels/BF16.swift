import Foundation

// bfloat16: the upper 16 bits of an IEEE float (8-bit exponent, 7-bit mantissa), rounded
// to nearest even. The bf16 path stores the encoders' Linear weights in it (converted
// once at load: half the memory) and rounds the activations to it at each GEMM's input;
// products are exact in fp32 and oneDNN accumulates in fp32, so only the inputs' rounding
// (relative 2^-9) differs from fp32. `naiveLinear` is the reference the fast path
// (oneDNN) is tested against.

public enum BF16 {
    /// f rounded to the nearest bf16 (ties to even); NaN stays a quiet NaN.
    @inline(__always)
    public static func round(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        if f.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x40 }
        return roundFinite(f)
    }

    @inline(__always)
    public static func float(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    /// dst[i] = round(src[i]) for i in 0..<count, 16 lanes at a time (NaN-free input:
    /// weights are checked finite at load, activations of finite weights on finite
    /// pixels stay finite), in parallel for large counts.
    public static func convert(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        Parallel.forRanges(count, grain: 1 << 18) { r in
            // whole groups of 16 as a plain loop LLVM vectorizes (SIMD16<UInt16>(truncatingIfNeeded:)
            // was an out-of-line generic call per group); the rest through `round`
            let body = r.lowerBound + (r.count / 16) * 16
            for i in r.lowerBound..<body { dst[i] = roundFinite(src[i]) }
            for i in body..<r.upperBound { dst[i] = round(src[i]) }
        }
    }

    /// dst[i] = round(a[i] + b[i]) (the sum rounded to fp32 first, as converting a sum
    /// computed in fp32): the mask decoder's image keys plus their positions, straight to
    /// the bf16 a product reads, without the fp32 sum in memory.
    public static func convertSum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
        let body = (count / 16) * 16
        for i in 0..<body { dst[i] = roundFinite(a[i] + b[i]) }
        for i in body..<count { dst[i] = round(a[i] + b[i]) }
    }

    /// `round` without the NaN case (what the vectorized loops use).
    @inline(__always)
    static func roundFinite(_ f: Float) -> UInt16 {
        let bits = f.bitPattern
        return UInt16(truncatingIfNeeded: (bits &+ 0x7FFF &+ ((bits &>> 16) & 1)) &>> 16)
    }

    /// Rows of a strided matrix: dst[r, 0..<cols] = round(src[r * ld + 0..<cols]).
    static func convertRows(_ src: UnsafePointer<Float>, ld: Int, rows: Int, cols: Int, _ dst: UnsafeMutablePointer<UInt16>) {
        if ld == cols { return convert(src, dst, count: rows * cols) }
        for r in 0..<rows { convert(src + r * ld, dst + r * cols, count: cols) }
    }

    public static func array(_ x: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { d in convert(s.baseAddress!, d.baseAddress!, count: x.count) } }
        return out
    }

    /// Naive reference of the bf16 Linear (tests only): out[i, j] = sum_p bf16(x[i, p]) *
    /// w[j, p] (+ bias[j]), accumulated in Double. x [m, k] fp32, w [n, k] bf16 -> [m, n].
    public static func naiveLinear(_ x: [Float], m: Int, k: Int, _ w: [UInt16], n: Int, bias: [Float]?) -> [Float] {
        var out = [Float](repeating: 0, count: m * n)
        for i in 0..<m {
            for j in 0..<n {
                var s = Double(bias?[j] ?? 0)
                for p in 0..<k { s += Double(float(round(x[i * k + p]))) * Double(float(w[j * k + p])) }
                out[i * n + j] = Float(s)
            }
        }
        return out
    }
}
