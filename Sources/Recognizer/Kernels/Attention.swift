import Foundation

/// Multi-head scaled dot-product attention over a batch of independent sequences, in
/// query blocks: a worker never holds more than `blockRows x keys` scores, so SAM's global
/// attention over 4,096 tokens needs ~4 MB of scratch, not a 4096 x 4096 matrix per head.
///
/// Layout: for batch item b, query row i, head h, the head's features are
/// `q[b*batchStrideQ + i*ldq + h*headDim ..< +headDim]` (same for k, v, out), so packed
/// qkv projections [T, 3*dim] are read in place with ld = 3*dim.
public struct AttentionShape {
    public var batch: Int
    public var queries: Int
    public var keys: Int
    public var heads: Int
    public var headDim: Int
    public var ldq: Int, ldk: Int, ldv: Int, ldo: Int
    public var batchStrideQ: Int, batchStrideK: Int, batchStrideV: Int, batchStrideO: Int
    /// Queries per block; `bias` sees whole blocks (callers may want multiples of a row).
    public var blockRows: Int

    public init(batch: Int = 1, queries: Int, keys: Int, heads: Int, headDim: Int,
                ldq: Int, ldk: Int, ldv: Int, ldo: Int,
                batchStrideQ: Int = 0, batchStrideK: Int = 0, batchStrideV: Int = 0, batchStrideO: Int = 0,
                blockRows: Int? = nil) {
        self.batch = batch; self.queries = queries; self.keys = keys; self.heads = heads; self.headDim = headDim
        self.ldq = ldq; self.ldk = ldk; self.ldv = ldv; self.ldo = ldo
        self.batchStrideQ = batchStrideQ; self.batchStrideK = batchStrideK
        self.batchStrideV = batchStrideV; self.batchStrideO = batchStrideO
        self.blockRows = blockRows ?? max(1, min(queries, (1 << 18) / max(keys, 1)))
    }
}

/// Adds a bias to a block of scores: (batch, head, first query, query count, scores
/// [count, keys] with row stride `keys`, per-worker scratch).
public typealias AttentionBias = (_ b: Int, _ h: Int, _ q0: Int, _ qn: Int, _ scores: UnsafeMutablePointer<Float>, _ worker: Int) -> Void

public func multiHeadAttention(
    _ s: AttentionShape, scale: Float,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, bias: AttentionBias? = nil
) {
    let blocks = (s.queries + s.blockRows - 1) / s.blockRows
    let tasks = s.batch * s.heads * blocks
    let scratchCount = s.blockRows * s.keys
    let workers = min(Parallel.workers, tasks)
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: scratchCount * workers)
    let sums = UnsafeMutablePointer<Float>.allocate(capacity: s.blockRows * workers)
    defer { scratch.deallocate(); sums.deallocate() }
    Parallel.tasks(tasks) { worker, t in
        let blk = t % blocks, h = (t / blocks) % s.heads, b = t / (blocks * s.heads)
        let q0 = blk * s.blockRows, qn = min(s.blockRows, s.queries - q0)
        let scores = scratch + worker * scratchCount
        let qp = q + b * s.batchStrideQ + q0 * s.ldq + h * s.headDim
        let kp = k + b * s.batchStrideK + h * s.headDim
        let vp = v + b * s.batchStrideV + h * s.headDim
        let op = out + b * s.batchStrideO + q0 * s.ldo + h * s.headDim
        // scores[qn, keys] = scale * Q K^T
        Gemm.sgemm(transB: true, m: qn, n: s.keys, k: s.headDim, alpha: scale,
                   a: qp, lda: s.ldq, b: kp, ldb: s.ldk, c: scores, ldc: s.keys)
        bias?(b, h, q0, qn, scores, worker)
        // P = exp(scores - max) unnormalized; out[qn, headDim] = (P V) / rowsum
        let inv = sums + worker * s.blockRows
        Activation.expRows(scores, rows: qn, cols: s.keys, inverseSums: inv)
        Gemm.sgemm(m: qn, n: s.headDim, k: s.keys, a: scores, lda: s.keys, b: vp, ldb: s.ldv, c: op, ldc: s.ldo)
        for i in 0..<qn {
            let o = op + i * s.ldo, f = inv[i]
            for c in 0..<s.headDim { o[c] *= f }
        }
    }
}

/// Naive reference: one query at a time, Double accumulation, no blocking. With `bf16`,
/// the reference of `multiHeadAttentionBF16`: q, k, v and the softmax numerators rounded
/// to bf16 as it rounds them (the row sums taken before rounding).
public func naiveMultiHeadAttention(
    _ s: AttentionShape, scale: Float, q: [Float], k: [Float], v: [Float], out: inout [Float],
    bias: ((_ b: Int, _ h: Int, _ i: Int, _ j: Int) -> Float)? = nil, bf16: Bool = false
) {
    func r(_ x: Float) -> Double { bf16 ? Double(BF16.float(BF16.round(x))) : Double(x) }
    for b in 0..<s.batch {
        for h in 0..<s.heads {
            for i in 0..<s.queries {
                var logits = [Double](repeating: 0, count: s.keys)
                for j in 0..<s.keys {
                    var d: Double = 0
                    for c in 0..<s.headDim {
                        d += r(q[b * s.batchStrideQ + i * s.ldq + h * s.headDim + c]) * r(k[b * s.batchStrideK + j * s.ldk + h * s.headDim + c])
                    }
                    logits[j] = d * Double(scale) + Double(bias?(b, h, i, j) ?? 0)
                }
                let m = logits.max()!
                let e = logits.map { exp($0 - m) }
                let z = e.reduce(0, +)
                for c in 0..<s.headDim {
                    var acc: Double = 0
                    for j in 0..<s.keys { acc += (bf16 ? r(Float(e[j])) : e[j]) * r(v[b * s.batchStrideV + j * s.ldv + h * s.headDim + c]) }
                    out[b * s.batchStrideO + i * s.ldo + h * s.headDim + c] = Float(acc / z)
                }
            }
        }
    }
}
