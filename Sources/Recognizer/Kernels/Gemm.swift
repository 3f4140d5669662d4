import CBLAS
import Synchronization

/// FLOPs executed by `Gemm.sgemm` since start (2*m*n*k per call): benchmarks read it.
public let gemmFlops = Atomic<Int>(0)

/// Matrix products through OpenBLAS. Row-major; transposes are BLAS flags, never copies.
public enum Gemm {
    /// C[M,N] = alpha * op(A) op(B) + beta * C, with op(A) [M,K], op(B) [K,N].
    @inline(__always)
    public static func sgemm(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        gemmFlops.add(2 * m * n * k, ordering: .relaxed)
        cblas_sgemm(
            CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Bounds the BLAS thread pool (the recognizer yields CPU to decoding).
    public static func setThreads(_ n: Int) { openblas_set_num_threads(Int32(n)) }
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Naive reference for `sgemm` (tests only).
    public static func naive(
        transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int,
        alpha: Float = 1, a: [Float], lda: Int, b: [Float], ldb: Int,
        beta: Float = 0, c: inout [Float], ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var s: Double = 0
                for p in 0..<k {
                    let av = transA ? a[p * lda + i] : a[i * lda + p]
                    let bv = transB ? b[j * ldb + p] : b[p * ldb + j]
                    s += Double(av) * Double(bv)
                }
                c[i * ldc + j] = alpha * Float(s) + (beta == 0 ? 0 : beta * c[i * ldc + j])
            }
        }
    }
}

/// y[M,N] = x[M,K] W[N,K]^T + b[N] — torch.nn.Linear.
public func linear(_ x: Tensor, _ w: Tensor, _ b: Tensor?) -> Tensor {
    let k = x.shape.last!, n = w.shape[0]
    precondition(w.shape[1] == k, "linear: input \(x.shape) vs weight \(w.shape)")
    let m = x.count / k
    var out = [Float](repeating: 0, count: m * n)
    linearInto(x.data, m: m, k: k, w.data, b?.data, n: n, out: &out)
    return Tensor(shape: Array(x.shape.dropLast()) + [n], data: out)
}

/// x [M, K] @ y [K, N] -> [M, N].
public func matmul(_ x: Tensor, _ y: Tensor) -> Tensor {
    let k = x.shape.last!, m = x.count / k, n = y.shape[1]
    precondition(y.shape[0] == k, "matmul: \(x.shape) x \(y.shape)")
    var out = [Float](repeating: 0, count: m * n)
    x.data.withUnsafeBufferPointer { xp in y.data.withUnsafeBufferPointer { yp in out.withUnsafeMutableBufferPointer { op in
        Gemm.sgemm(m: m, n: n, k: k, a: xp.baseAddress!, lda: k, b: yp.baseAddress!, ldb: n, c: op.baseAddress!, ldc: n)
    } } }
    return Tensor(shape: Array(x.shape.dropLast()) + [n], data: out)
}

/// Raw form of `linear` over buffers: out[m,n] = x[m,k] w[n,k]^T + b.
@inline(__always)
public func linearInto(_ x: UnsafePointer<Float>, m: Int, k: Int, _ w: UnsafePointer<Float>, _ b: UnsafePointer<Float>?, n: Int, out: UnsafeMutablePointer<Float>, ldx: Int? = nil, ldo: Int? = nil) {
    let ldo = ldo ?? n
    if let b { addBiasRows(out, rows: m, cols: n, bias: b, ld: ldo, overwrite: true) }
    Gemm.sgemm(transB: true, m: m, n: n, k: k, a: x, lda: ldx ?? k, b: w, ldb: k, beta: b == nil ? 0 : 1, c: out, ldc: ldo)
}

public func linearInto(_ x: [Float], m: Int, k: Int, _ w: [Float], _ b: [Float]?, n: Int, out: inout [Float]) {
    x.withUnsafeBufferPointer { xp in
        w.withUnsafeBufferPointer { wp in
            out.withUnsafeMutableBufferPointer { op in
                if let b {
                    b.withUnsafeBufferPointer { bp in
                        linearInto(xp.baseAddress!, m: m, k: k, wp.baseAddress!, bp.baseAddress!, n: n, out: op.baseAddress!)
                    }
                } else {
                    linearInto(xp.baseAddress!, m: m, k: k, wp.baseAddress!, nil, n: n, out: op.baseAddress!)
                }
            }
        }
    }
}
