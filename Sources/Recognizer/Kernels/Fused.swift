import Foundation

// Single-pass element-wise kernels that replace chains of Tensor operations (each of
// which copied its input): LayerNorm written to another buffer or a permuted row,
// bias + GELU as a GEMM epilogue, bias rows added before a beta = 1 GEMM (residuals).
// Naive references are the Tensor operations they replace; KernelTests compare them.

/// One LayerNorm row: y = (x - mean) / sqrt(var + eps) * weight + bias (y may be x).
/// Mean and variance are accumulated in 8 lanes (a scalar float sum does not vectorize).
@inline(__always)
func layerNormRow(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, dim: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float) {
    let raw = UnsafeRawPointer(x)
    var sv = SIMD8<Float>()
    var j = 0
    while j + 8 <= dim { sv += raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self); j += 8 }
    var sum = sv.sum()
    while j < dim { sum += x[j]; j += 1 }
    let mean = sum / Float(dim)
    let mv = SIMD8<Float>(repeating: mean)
    var vv = SIMD8<Float>()
    j = 0
    while j + 8 <= dim {
        let d = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - mv
        vv += d * d
        j += 8
    }
    var v = vv.sum()
    while j < dim { let d = x[j] - mean; v += d * d; j += 1 }
    let inv = 1 / (v / Float(dim) + eps).squareRoot()
    for j in 0..<dim { y[j] = (x[j] - mean) * inv * weight[j] + bias[j] }
}

/// out[r] = LayerNorm(x[r]) for r in 0..<rows, rows in parallel. [rows, dim] -> [rows, dim]
public func layerNorm(_ x: UnsafePointer<Float>, rows: Int, dim: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, eps: Float,
                      out: UnsafeMutablePointer<Float>) {
    Parallel.forRanges(rows, grain: max(1, 16384 / dim)) { r in
        for i in r { layerNormRow(x + i * dim, out + i * dim, dim: dim, weight: weight, bias: bias, eps: eps) }
    }
}

/// p[r, j] = GELU(p[r, j] + bias[j]) over [rows, cols] — Linear + GELU's epilogue.
public func biasGelu(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
    Parallel.forRanges(rows, grain: max(1, 16384 / cols)) { r in
        for i in r {
            let row = p + i * cols
            for j in 0..<cols { row[j] = geluExact(row[j] + bias[j]) }
        }
    }
}

/// p[r, j] += bias[j] over [rows, cols], rows `ld` apart (before a beta = 1 GEMM into p:
/// residual + Linear); with `overwrite`, p[r, j] = bias[j] (Linear's bias rows).
public func addBiasRows(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>, ld: Int? = nil, overwrite: Bool = false) {
    let ld = ld ?? cols
    Parallel.forRanges(rows, grain: max(1, 16384 / cols)) { r in
        for i in r {
            let row = p + i * ld
            if overwrite { row.update(from: bias, count: cols) } else { for j in 0..<cols { row[j] += bias[j] } }
        }
    }
}

/// x[r] += y[r] W^T + b: residual + Linear without a temporary. x [m, n], y [m, k], W [n, k].
public func addLinear(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, m: Int, k: Int, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>, n: Int) {
    addBiasRows(x, rows: m, cols: n, bias: b)
    Gemm.sgemm(transB: true, m: m, n: n, k: k, a: y, lda: k, b: w, ldb: k, beta: 1, c: x, ldc: n)
}

/// p[r, j] = QuickGELU(p[r, j] + bias[j]) = x * sigmoid(1.702 x) over [rows, cols].
public func biasQuickGelu(_ p: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
    Parallel.forRanges(rows, grain: max(1, 16384 / cols)) { r in
        for i in r {
            let row = p + i * cols
            for j in 0..<cols {
                let x = row[j] + bias[j]
                row[j] = x / (1 + fastExp(-1.702 * x))
            }
        }
    }
}
