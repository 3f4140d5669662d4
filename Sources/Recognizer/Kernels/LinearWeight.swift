import Foundation

/// Number format of the encoders' Linear layers (`models.precision`).
/// fp32: OpenBLAS sgemm. bf16: weights stored as bf16 (converted once at load), the
/// activations rounded to bf16 at each GEMM input, fp32 accumulation and output through
/// oneDNN, and the same for SAM's patch embedding, neck and the mask decoder's products
/// with the image tokens (SAMImageEncoder.patchLinear, SAMMaskDecoder.productsInBF16);
/// LayerNorm, softmax, GELU, attention scores and the rest stay fp32. int8: the Linear layers of the
/// SAM image encoder and the CLIP vision tower, except each one's first block, with
/// weights quantized once at load to s8 per output channel and activations per token at
/// each call (Int8.swift), u8 x s8 -> int32 through oneDNN, dequantized to fp32 with bias;
/// `besideInt8` (bf16 where the CPU runs bf16 natively, else fp32) for SAM's attention
/// products (but Q K^T of the global blocks in int8 where bf16 is native: AttentionInt8.swift),
/// the first blocks and the CLIP text tower (run once per vocabulary, cached:
/// in int8 it moved the fixture's probabilities by 4e-2); LayerNorm, softmax and GELU fp32.
/// auto (the configuration's default): the fastest that passes the accuracy checks on
/// this CPU, resolved by `effective(modelDirectory:)` before any weight loads: int8 where
/// the CPU runs it and `models check` recorded a pass on these weights (PrecisionCheck),
/// else bf16 where the CPU runs it natively (BENCHMARKS.md: about half fp32's CPU per
/// keyframe, every check held), else fp32. `effective()` alone knows no weights: bf16/fp32.
public enum Precision: String, Sendable, CaseIterable, Equatable {
    case auto, fp32, bf16, int8

    /// What runs where int8 does not (SAM's attention products, each image encoder's first
    /// block, the CLIP text tower): bf16 where the CPU runs it natively, else fp32.
    public static var besideInt8: Precision { OneDNN.nativeBF16 ? .bf16 : .fp32 }

    /// Whether the products outside the Linear layers that bf16 and int8 also reduce (SAM's
    /// patch embedding and neck, the mask decoder's products with the image tokens) run
    /// bf16: under bf16 or int8 on a CPU with native bf16.
    public var bf16Products: Bool { (self == .bf16 || self == .int8) && OneDNN.nativeBF16 }

    /// What runs on this CPU when `self` is asked for, and a sentence for the log when it
    /// differs or was chosen: bf16 without native bf16 instructions (AVX512_BF16 or AMX)
    /// falls back to fp32 (oneDNN would emulate it, slower than fp32); auto says which it
    /// picked and why. int8 without VNNI (AVX512_VNNI or AVX-VNNI) falls back to fp32.
    public func effective() throws(RecognizerError) -> (precision: Precision, note: String?) {
        switch self {
        case .fp32: return (.fp32, nil)
        case .bf16:
            if OneDNN.nativeBF16 { return (.bf16, nil) }
            return (.fp32, "precision bf16 asked for, but this CPU (oneDNN ISA \(OneDNN.isaName)) has neither AVX512_BF16 nor AMX: running fp32")
        case .auto:
            if OneDNN.nativeBF16 {
                return (.bf16, "precision auto: bf16, this CPU runs it natively (oneDNN ISA \(OneDNN.isaName))")
            }
            return (.fp32, "precision auto: fp32, this CPU (oneDNN ISA \(OneDNN.isaName)) has neither AVX512_BF16 nor AMX (emulated bf16 is slower than fp32)")
        case .int8:
            if OneDNN.nativeInt8 { return (.int8, nil) }
            return (.fp32, "precision int8 asked for, but this CPU (oneDNN ISA \(OneDNN.isaName)) has neither AVX512_VNNI nor AVX-VNNI: running fp32")
        }
    }
}

/// The weight of a Linear layer, W [N, K] (out x in), in fp32, bf16 or int8. bf16 weights
/// are rounded once at load and packed into oneDNN's blocked layout (OneDNNWeights.swift);
/// int8 weights are quantized per output channel and packed (OneDNNInt8.swift).
/// Bias and the elementwise epilogues stay fp32 and live outside.
public struct LinearWeight: Sendable {
    public let shape: [Int]  // [N, K]
    public let precision: Precision
    private let fp32: [Float]  // [N*K] when fp32, else empty
    private let packed: OneDNN.PackedWeights?  // [N, K] bf16 in oneDNN's layout when bf16
    private let int8: OneDNN.Int8Weights?  // [N, K] s8 and [N] scales when int8

    public init(_ t: Tensor, precision: Precision = .fp32) {
        precondition(t.rank == 2, "LinearWeight: shape \(t.shape)")
        precondition(precision != .auto, "LinearWeight: resolve precision auto with Precision.effective() first")
        shape = t.shape
        switch precision {
        case .bf16:
            self.precision = .bf16; fp32 = []; int8 = nil
            let plain = BF16.array(t.data)
            packed = plain.withUnsafeBufferPointer { OneDNN.pack($0.baseAddress!, n: t.shape[0], k: t.shape[1]) }
        case .int8:
            self.precision = .int8; fp32 = []; packed = nil
            int8 = t.data.withUnsafeBufferPointer { OneDNN.Int8Weights($0.baseAddress!, n: t.shape[0], k: t.shape[1]) }
        default: self.precision = .fp32; fp32 = t.data; packed = nil; int8 = nil
        }
    }

    /// The weight as an fp32 Tensor (bf16 weights widened exactly, int8 ones dequantized:
    /// q · scale): references and hashes.
    public var tensor: Tensor {
        switch precision {
        case .bf16: return Tensor(shape: shape, data: bf16Values.map(BF16.float))
        case .int8:
            let q = int8!.values, s = int8!.channelScales, k = shape[1]
            return Tensor(shape: shape, data: q.indices.map { Float(q[$0]) * s[$0 / k] })
        default: return Tensor(shape: shape, data: fp32)
        }
    }

    /// Whether the attention products around this layer run in bf16: with bf16 weights,
    /// and with int8 ones on a CPU with native bf16 (else fp32).
    public var attentionInBF16: Bool { precision == .bf16 || (precision == .int8 && OneDNN.nativeBF16) }

    /// Whether the score product Q K^T of the global attention around this layer runs in
    /// int8 (`multiHeadAttentionInt8`, P V in bf16): with int8 weights on a CPU with
    /// native bf16.
    public var attentionInInt8: Bool { precision == .int8 && OneDNN.nativeBF16 }

    /// The stored bf16 values, W [N, K] unpacked (empty for fp32 weights).
    public var bf16Values: [UInt16] { packed.map(OneDNN.unpack) ?? [] }

    /// Bytes the weight occupies (bf16: the packed size, whole blocks of oneDNN's layout).
    public var bytes: Int { fp32.count * 4 + (packed?.bytes ?? 0) + (int8?.bytes ?? 0) }

    /// out[M, N] = x[M, K] W^T (+ bias[N]) (+ out when `accumulate`); x rows `ldx` apart,
    /// out rows `ldo` apart.
    public func apply(_ x: UnsafePointer<Float>, m: Int, ldx: Int? = nil, bias: UnsafePointer<Float>?,
                      out: UnsafeMutablePointer<Float>, ldo: Int? = nil, accumulate: Bool = false) {
        let n = shape[0], k = shape[1], ldo = ldo ?? n
        guard m > 0 else { return }
        if let packed {
            OneDNN.matmul(m: m, x: x, ldx: ldx, packed: packed, bias: bias, out: out, ldo: ldo, accumulate: accumulate)
            return
        }
        if let int8 {
            OneDNN.matmul(m: m, x: x, ldx: ldx, int8: int8, bias: bias, out: out, ldo: ldo, accumulate: accumulate)
            return
        }
        fp32.withUnsafeBufferPointer { w in
            if let bias { addBiasRows(out, rows: m, cols: n, bias: bias, ld: ldo, overwrite: !accumulate) }
            Gemm.sgemm(transB: true, m: m, n: n, k: k, a: x, lda: ldx ?? k, b: w.baseAddress!, ldb: k,
                       beta: bias != nil || accumulate ? 1 : 0, c: out, ldc: ldo)
        }
    }
}

/// y[M,N] = x[M,K] W[N,K]^T + b[N] — torch.nn.Linear, W in fp32 or bf16.
public func linear(_ x: Tensor, _ w: LinearWeight, _ b: Tensor?) -> Tensor {
    let k = x.shape.last!, n = w.shape[0]
    precondition(w.shape[1] == k, "linear: input \(x.shape) vs weight \(w.shape)")
    let m = x.count / k
    var out = [Float](repeating: 0, count: m * n)
    x.data.withUnsafeBufferPointer { xp in
        out.withUnsafeMutableBufferPointer { op in
            if let b {
                b.data.withUnsafeBufferPointer { bp in w.apply(xp.baseAddress!, m: m, bias: bp.baseAddress!, out: op.baseAddress!) }
            } else {
                w.apply(xp.baseAddress!, m: m, bias: nil, out: op.baseAddress!)
            }
        }
    }
    return Tensor(shape: Array(x.shape.dropLast()) + [n], data: out)
}

extension LinearWeight {
    /// `apply` with the bias as a Tensor.
    func apply(_ x: UnsafePointer<Float>, m: Int, bias: Tensor, out: UnsafeMutablePointer<Float>, accumulate: Bool = false) {
        bias.data.withUnsafeBufferPointer { apply(x, m: m, bias: $0.baseAddress!, out: out, accumulate: accumulate) }
    }

    /// out[M, N] = GELU(x W^T + bias) (`biasGelu`'s epilogue). int8 applies the bias and GELU
    /// in its dequantization pass, each row while it is in L1 (the same bits as the separate
    /// pass); fp32 and bf16 run the product, then `biasGelu`.
    func applyGelu(_ x: UnsafePointer<Float>, m: Int, bias: Tensor, out: UnsafeMutablePointer<Float>) {
        guard m > 0 else { return }
        bias.data.withUnsafeBufferPointer { b in
            if let int8 {
                OneDNN.matmul(m: m, x: x, int8: int8, bias: b.baseAddress!, out: out, ldo: shape[0], accumulate: false, gelu: true)
            } else {
                apply(x, m: m, bias: nil, out: out)
                biasGelu(out, rows: m, cols: shape[0], bias: b.baseAddress!)
            }
        }
    }
}

extension WeightSource {
    /// The Linear weight `name` (shape checked as `tensor` does), stored in this source's
    /// `precision`.
    public func linearWeight(_ name: String, shape: [Int]) throws(RecognizerError) -> LinearWeight {
        LinearWeight(try tensor(name, shape: shape), precision: precision)
    }

    /// This source for an encoder's block `index`: with int8, the first block's Linear
    /// layers run `Precision.besideInt8` (its error would pass through every later block;
    /// BENCHMARKS.md, "int8 through oneDNN").
    public func forBlock(_ index: Int) -> WeightSource {
        guard precision == .int8, index == 0 else { return self }
        var w = self
        w.precision = Precision.besideInt8
        return w
    }
}
