import Foundation

// Small matrix helpers for the backward passes: row-major [rows, cols] Tensors, products
// through OpenBLAS with transposes as flags.

/// C[m,n] = alpha * op(A) op(B) + beta * C, on whole tensors (op(A) [m,k], op(B) [k,n]).
func gemm(_ a: Tensor, _ b: Tensor, into c: inout Tensor, transA: Bool = false, transB: Bool = false, alpha: Float = 1, beta: Float = 0) {
    let m = transA ? a.shape[1] : a.shape[0], k = transA ? a.shape[0] : a.shape[1]
    let n = transB ? b.shape[0] : b.shape[1]
    precondition((transB ? b.shape[1] : b.shape[0]) == k, "gemm: \(a.shape)\(transA ? "^T" : "") x \(b.shape)\(transB ? "^T" : "")")
    precondition(c.shape == [m, n], "gemm: output \(c.shape) vs [\(m), \(n)]")
    guard m > 0, n > 0 else { return }
    if k == 0 {
        for i in 0..<c.count { c.data[i] *= beta }
        return
    }
    a.data.withUnsafeBufferPointer { ap in
        b.data.withUnsafeBufferPointer { bp in
            c.data.withUnsafeMutableBufferPointer { cp in
                Gemm.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: ap.baseAddress!, lda: a.shape[1],
                           b: bp.baseAddress!, ldb: b.shape[1], beta: beta, c: cp.baseAddress!, ldc: n)
            }
        }
    }
}

/// op(A) op(B) as a new tensor.
func mm(_ a: Tensor, _ b: Tensor, transA: Bool = false, transB: Bool = false) -> Tensor {
    var c = Tensor(zeros: [transA ? a.shape[1] : a.shape[0], transB ? b.shape[0] : b.shape[1]])
    gemm(a, b, into: &c, transA: transA, transB: transB)
    return c
}

extension Tensor {
    /// Columns c0..<c1 of a [rows, cols] tensor.
    func columns(_ c0: Int, _ c1: Int) -> Tensor {
        let r = shape[0], w = shape[1], n = c1 - c0
        var out = [Float](repeating: 0, count: r * n)
        for i in 0..<r { for j in 0..<n { out[i * n + j] = data[i * w + c0 + j] } }
        return Tensor(shape: [r, n], data: out)
    }

    /// [rows, a] ++ [rows, b] ++ ... along the columns.
    static func joinColumns(_ parts: [Tensor]) -> Tensor {
        let r = parts[0].shape[0], w = parts.map { $0.shape[1] }.reduce(0, +)
        var out = [Float](repeating: 0, count: r * w)
        var c0 = 0
        for p in parts {
            let n = p.shape[1]
            for i in 0..<r { for j in 0..<n { out[i * w + c0 + j] = p.data[i * n + j] } }
            c0 += n
        }
        return Tensor(shape: [r, w], data: out)
    }

    /// Rows stacked: [a, c] ++ [b, c] -> [a+b, c].
    static func joinRows(_ parts: [Tensor]) -> Tensor {
        let c = parts[0].shape.dropFirst().reduce(1, *)
        return Tensor(shape: [parts.map { $0.count / c }.reduce(0, +), c], data: parts.flatMap(\.data))
    }

    /// Adds `t` into rows r0..<r0+t.rows (same column count).
    mutating func addRows(_ t: Tensor, at r0: Int) {
        let c = shape.dropFirst().reduce(1, *)
        precondition(t.count % c == 0 && r0 * c + t.count <= count, "addRows: \(t.shape) into \(shape) at \(r0)")
        data.withUnsafeMutableBufferPointer { p in
            t.data.withUnsafeBufferPointer { q in for i in 0..<q.count { p[r0 * c + i] += q[i] } }
        }
    }

    /// self += t (same element count).
    mutating func add(_ t: Tensor) { addRows(t, at: 0) }

    /// Sum over rows of a [rows, cols] tensor -> [cols].
    func columnSums() -> Tensor {
        let w = shape.last!, r = count / w
        var out = [Float](repeating: 0, count: w)
        for i in 0..<r { for j in 0..<w { out[j] += data[i * w + j] } }
        return Tensor(shape: [w], data: out)
    }

    /// Σ self ⊙ t (Double accumulation): the scalar a test differentiates.
    func dot(_ t: Tensor) -> Double {
        precondition(count == t.count, "dot: \(shape) vs \(t.shape)")
        var s: Double = 0
        for i in 0..<count { s += Double(data[i]) * Double(t.data[i]) }
        return s
    }

    /// Σ x² (Double accumulation).
    var squaredNorm: Double { dot(self) }
}
