/// Non-finite weights (NaN, +Inf, -Inf) are refused when a model is loaded: one NaN in a
/// weight turns every output it touches into NaN, and the daemon would publish garbage.

/// The flat index of the first NaN or infinity in `values`, nil when every value is finite.
/// A value is non-finite when its exponent bits are all ones; the scan takes the maximum
/// of the masked exponents over chunks (a branch-free reduction LLVM vectorizes) and only
/// looks for the index inside a chunk that holds one.
public func firstNonFinite(_ values: UnsafeBufferPointer<Float>) -> Int? {
    let exponent: UInt32 = 0x7f80_0000
    let chunk = 4096
    return values.withMemoryRebound(to: UInt32.self) { bits -> Int? in
        var start = 0
        while start < bits.count {
            let end = min(start + chunk, bits.count)
            var highest: UInt32 = 0
            for i in start..<end { highest = max(highest, bits[i] & exponent) }
            if highest == exponent {
                for i in start..<end where bits[i] & exponent == exponent { return i }
            }
            start = end
        }
        return nil
    }
}

public func firstNonFinite(_ values: [Float]) -> Int? {
    values.withUnsafeBufferPointer { firstNonFinite($0) }
}

/// "NaN", "+Inf" or "-Inf" (the description of a non-finite value in load errors).
func nonFiniteName(_ x: Float) -> String {
    x.isNaN ? "NaN" : (x > 0 ? "+Inf" : "-Inf")
}

extension Tensor {
    /// Throws, naming `file`, `tensor` and the flat index, when the tensor holds a NaN or an
    /// infinity: "head.safetensors: decoder.layers.0.linear1.weight: element 1234 is NaN".
    func checkFinite(file: String, tensor: String) throws(RecognizerError) {
        guard let i = firstNonFinite(data) else { return }
        throw RecognizerError("\(file): \(tensor): element \(i) is \(nonFiniteName(data[i]))")
    }
}
