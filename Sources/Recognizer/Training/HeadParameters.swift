import Foundation

/// The trainable tensors of a RegionSpot head under their reference state-dict names
/// (see Head/RegionSpotHead.swift), as a value: parameters, gradients and optimizer
/// moments all use this type.
public struct HeadParameters: Sendable {
    public var config: RegionSpotHeadConfig
    public var tensors: [String: Tensor]

    /// Every parameter name of a head with `layers` decoder layers, in a fixed order.
    public static func names(layers: Int) -> [String] {
        var n = ["to_clip.weight", "to_clip.bias"]
        for k in 0..<layers {
            let p = "decoder.layers.\(k)."
            for a in ["self_attn", "multihead_attn"] {
                n += [p + a + ".in_proj_weight", p + a + ".in_proj_bias", p + a + ".out_proj.weight", p + a + ".out_proj.bias"]
            }
            n += [p + "linear1.weight", p + "linear1.bias", p + "linear2.weight", p + "linear2.bias"]
            for i in 1...3 { n += [p + "norm\(i).weight", p + "norm\(i).bias"] }
        }
        return n + ["decoder.norm.weight", "decoder.norm.bias", "projector.weight", "projector.bias"]
    }

    public var names: [String] { Self.names(layers: config.layers) }

    public init(config: RegionSpotHeadConfig, tensors: [String: Tensor]) {
        self.config = config
        self.tensors = tensors
    }

    /// Reads a head checkpoint (the same names and checks as inference).
    public init(weights w: WeightSource, heads: Int = 8) throws(RecognizerError) {
        let head = try RegionSpotHead(weights: w, heads: heads)
        config = head.config
        var t: [String: Tensor] = [:]
        for n in Self.names(layers: head.config.layers) { t[n] = try w.tensor(n) }
        tensors = t
    }

    /// Zeros shaped like `other` (gradients, optimizer moments).
    public init(zerosLike other: HeadParameters) {
        config = other.config
        tensors = other.tensors.mapValues { Tensor(zeros: $0.shape) }
    }

    /// A fresh head: DETR's initialization (Xavier-uniform decoder matrices, zero attention
    /// biases, LayerNorm 1/0) and torch.nn.Linear's default (U(±1/sqrt(fan_in))) for
    /// to_clip, projector and the FFN biases. Deterministic in `seed`.
    public init(random c: RegionSpotHeadConfig, seed: UInt64) {
        config = c
        var rng = SplitMix64(seed: seed)
        var t: [String: Tensor] = [:]
        func uniform(_ shape: [Int], _ bound: Double) -> Tensor {
            Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in Float((rng.nextDouble() * 2 - 1) * bound) })
        }
        func xavier(_ shape: [Int]) -> Tensor { uniform(shape, (6.0 / Double(shape[0] + shape[1])).squareRoot()) }
        let d = c.width
        t["to_clip.weight"] = uniform([d, c.tokenDim], 1 / Double(c.tokenDim).squareRoot())
        t["to_clip.bias"] = uniform([d], 1 / Double(c.tokenDim).squareRoot())
        for k in 0..<c.layers {
            let p = "decoder.layers.\(k)."
            for a in ["self_attn", "multihead_attn"] {
                t[p + a + ".in_proj_weight"] = xavier([3 * d, d]); t[p + a + ".in_proj_bias"] = Tensor(zeros: [3 * d])
                t[p + a + ".out_proj.weight"] = xavier([d, d]); t[p + a + ".out_proj.bias"] = Tensor(zeros: [d])
            }
            t[p + "linear1.weight"] = xavier([c.ffn, d]); t[p + "linear1.bias"] = uniform([c.ffn], 1 / Double(d).squareRoot())
            t[p + "linear2.weight"] = xavier([d, c.ffn]); t[p + "linear2.bias"] = uniform([d], 1 / Double(c.ffn).squareRoot())
            for i in 1...3 { t[p + "norm\(i).weight"] = Tensor(shape: [d], data: .init(repeating: 1, count: d)); t[p + "norm\(i).bias"] = Tensor(zeros: [d]) }
        }
        t["decoder.norm.weight"] = Tensor(shape: [d], data: .init(repeating: 1, count: d)); t["decoder.norm.bias"] = Tensor(zeros: [d])
        t["projector.weight"] = uniform([c.embedDim, d], 1 / Double(d).squareRoot())
        t["projector.bias"] = uniform([c.embedDim], 1 / Double(d).squareRoot())
        tensors = t
    }

    public subscript(_ name: String) -> Tensor {
        get { tensors[name]! }
        set { tensors[name] = newValue }
    }

    /// The inference module for these values.
    public func head() throws(RecognizerError) -> RegionSpotHead {
        let st: SafeTensors
        do { st = try SafeTensors(name: "trained head", tensors: tensors) } catch { throw RecognizerError("trained head: \(error)") }
        return try RegionSpotHead(weights: RegionSpotHead.weights([st]), heads: config.heads)
    }

    /// Writes head.safetensors (reference names) with `metadata`: F32, or with `half`
    /// every tensor of two or more dimensions as F16 (vectors stay F32).
    public func save(to path: String, half: Bool = false, metadata: [String: String] = [:]) throws(RecognizerError) {
        do {
            guard half else { return try writeSafeTensors(tensors, metadata: metadata, to: path) }
            var header: [String: Any] = metadata.isEmpty ? [:] : ["__metadata__": metadata]
            var body: [UInt8] = []
            for n in tensors.keys.sorted() {
                let t = tensors[n]!, h = t.rank >= 2
                header[n] = ["dtype": h ? "F16" : "F32", "shape": t.shape, "data_offsets": [body.count, body.count + (h ? 2 : 4) * t.count]] as [String: Any]
                if h {
                    for v in t.data { let b = Float16(v).bitPattern; body += [UInt8(b & 0xff), UInt8(b >> 8)] }
                } else {
                    t.data.withUnsafeBytes { body.append(contentsOf: $0) }
                }
            }
            var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
            while json.count % 8 != 0 { json.append(0x20) }
            let bytes = (0..<8).map { UInt8((json.count >> (8 * $0)) & 0xff) } + json + body
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch { throw RecognizerError("\(path): cannot write (\(error))") }
    }

    /// The values as stored by `save(half: true)` (tensors of rank >= 2 rounded to F16).
    public func roundedToHalf() -> HeadParameters {
        var p = self
        for (n, t) in tensors where t.rank >= 2 { p.tensors[n] = Tensor(shape: t.shape, data: t.data.map { Float(Float16($0)) }) }
        return p
    }

    /// √(Σ over all tensors of Σ x²).
    public var globalNorm: Double { tensors.values.map(\.squaredNorm).reduce(0, +).squareRoot() }

    public var parameterCount: Int { tensors.values.map(\.count).reduce(0, +) }
}

/// A small, fast, seedable generator (SplitMix64): reproducible runs across platforms.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    public mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}

extension RegionSpotHeadConfig {
    /// A configuration for a fresh head (the memberwise initializer is internal).
    public static func with(tokenDim: Int, width: Int, layers: Int, heads: Int, ffn: Int, embedDim: Int) -> RegionSpotHeadConfig {
        RegionSpotHeadConfig(tokenDim: tokenDim, width: width, layers: layers, heads: heads, ffn: ffn, embedDim: embedDim)
    }
}
