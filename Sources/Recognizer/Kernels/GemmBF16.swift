import Foundation

/// `Gemm.sgemm`'s products in bf16 through oneDNN for operands that are activations (no
/// weight packed at load): A and B are rounded to bf16 into the calling thread's scratch
/// (`gemmInputs`), then c[m, n] = alpha · A op(B) (+ c with `accumulate`) in fp32. The
/// bf16 and int8 paths' mask decoder uses it for its products with the image tokens (the
/// folded attentions' 4,096-key products and the mask upscaling), which OpenBLAS ran at
/// ~35 GFLOP/s per core in fp32 at their shapes. `Gemm.naive` on bf16-rounded operands is the
/// reference.
public enum GemmBF16 {
    /// A [m, k] rows `lda` apart; B [n, k] (`transB`) or [k, n], rows `ldb` apart; c rows
    /// `ldc` apart.
    public static func gemm(transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, accumulate: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let bRows = transB ? n : k, bCols = transB ? k : n
        let buf = ThreadScratch.buffer(.gemmInputs, UInt16.self, count: m * k + bRows * bCols)
        BF16.convertRows(a, ld: lda, rows: m, cols: k, buf)
        BF16.convertRows(b, ld: ldb, rows: bRows, cols: bCols, buf + m * k)
        OneDNN.matmul(m: m, n: n, k: k, alpha: alpha, src: buf, lda: k, weights: buf + m * k, ldb: bCols, transB: transB,
                      bias: nil, out: c, ldo: ldc, accumulate: accumulate)
    }

    /// `gemm` with B already rounded to bf16 (only A is rounded here).
    public static func gemm(transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b16: UnsafePointer<UInt16>, ldb: Int, accumulate: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let buf = ThreadScratch.buffer(.gemmInputs, UInt16.self, count: m * k)
        BF16.convertRows(a, ld: lda, rows: m, cols: k, buf)
        OneDNN.matmul(m: m, n: n, k: k, alpha: alpha, src: buf, lda: k, weights: b16, ldb: ldb, transB: transB,
                      bias: nil, out: c, ldo: ldc, accumulate: accumulate)
    }

    /// `gemm` with A already rounded to bf16 (only B is rounded here).
    public static func gemm(transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a16: UnsafePointer<UInt16>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int, accumulate: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int) {
        let bRows = transB ? n : k, bCols = transB ? k : n
        let buf = ThreadScratch.buffer(.gemmInputs, UInt16.self, count: bRows * bCols)
        BF16.convertRows(b, ld: ldb, rows: bRows, cols: bCols, buf)
        OneDNN.matmul(m: m, n: n, k: k, alpha: alpha, src: a16, lda: lda, weights: buf, ldb: bCols, transB: transB,
                      bias: nil, out: c, ldo: ldc, accumulate: accumulate)
    }

    /// The product in fp32 (OpenBLAS) or bf16 (`gemm`), as `bf16` says.
    @inline(__always)
    static func product(bf16: Bool, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                        b: UnsafePointer<Float>, ldb: Int, accumulate: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int) {
        if bf16 {
            gemm(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, accumulate: accumulate, c: c, ldc: ldc)
        } else {
            Gemm.sgemm(transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb,
                       beta: accumulate ? 1 : 0, c: c, ldc: ldc)
        }
    }
}
