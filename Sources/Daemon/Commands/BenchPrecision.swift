// `bench --precision fp32,bf16,int8`: the precisions model rows run at, and the bf16 and
// int8 ceilings their "% ceiling" column is measured against.
import ArgumentParser
import Recognizer

extension Precision: ExpressibleByArgument {}

extension BenchCommand {
    /// "fp32,bf16" -> [.fp32, .bf16]; each must run on this CPU as asked (bench measures
    /// what it names: a bf16 that would fall back to fp32 is refused, as is int8).
    static func precisions(_ list: String) throws -> [Precision] {
        try list.split(separator: ",").map { s in
            let name = s.trimmingCharacters(in: .whitespaces)
            guard let p = Precision(rawValue: name) else { throw ValidationError("--precision: '\(name)' is not one of auto, fp32, bf16, int8") }
            let (effective, note) = try p.effective()
            if p == .auto { return effective }  // what the daemon would run here
            guard effective == p else { throw ValidationError("--precision: \(note ?? name)") }
            return p
        }
    }

    /// `precision` (bf16 or int8) against fp32 on a real model directory: the bench image,
    /// 16 boxes with masks, 16 classes; one note line with the comparison (PrecisionComparison).
    func accuracyRow(_ bench: Bench, directory: String, precision reduced: Precision) throws {
        guard bench.wants("\(reduced.rawValue)_accuracy") else { return }
        let (w, h) = PrecisionCheck.probeSize
        func regions(_ precision: Precision) throws -> [RecognizedRegion] {
            try PrecisionCheck.regions(directory: directory, precision: precision, rgb: PrecisionCheck.probeImage(), width: w, height: h, boxes: Self.boxes(16))
        }
        let cmp = PrecisionComparison(try regions(reduced), fp32: try regions(.fp32))
        bench.note("\(reduced.rawValue)_accuracy_16", "\(reduced.rawValue) vs fp32 on \(directory), 16 boxes with masks, 16 classes: \(cmp)")
    }
}

/// The oneDNN bf16 ceiling: the same 4096x768 by 768x3072 product as `SgemmCeiling`, bf16
/// inputs (converted once, outside the timing), fp32 output: the rate the bf16 rows'
/// Linear layers can reach at best.
struct SbgemmCeiling {
    let m = 4096, k = 768, n = 3072

    func measure(_ bench: Bench, reps: Int) -> Double {
        let a = BF16.array((0..<(m * k)).map { Float(($0 * 37) % 101) / 101 - 0.5 })
        let w = BF16.array((0..<(n * k)).map { Float(($0 * 53) % 103) / 103 - 0.5 })  // [N, K]
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        c.initialize(repeating: 0, count: m * n)
        defer { c.deallocate() }
        let rate = a.withUnsafeBufferPointer { ap in
            w.withUnsafeBufferPointer { wp in
                bench.row("sbgemm_ceiling", reps: reps) {
                    OneDNN.matmul(m: m, n: n, k: k, src: ap.baseAddress!, weights: wp.baseAddress!, bias: nil, out: c, ldo: n, accumulate: false)
                }
            }
        }
        bench.note("sbgemm_ceiling", "oneDNN ISA \(OneDNN.isaName), implementation \(OneDNN.implementations(int8: false).sorted().joined(separator: ", "))")
        return rate
    }
}

/// The oneDNN int8 ceiling: the same 4096x768 by 768x3072 product, u8 activations and s8
/// weights (quantized and packed once, outside the timing, as the int8 Linear's weights
/// are), int32 output, no quantization or dequantization: the rate the int8 rows' Linear
/// layers can reach at best (GOP/s, counted as the "GFLOP" of the other ceilings).
struct Int8Ceiling {
    let m = 4096, k = 768, n = 3072

    func measure(_ bench: Bench, reps: Int) -> Double {
        let a = (0..<(m * k)).map { UInt8(truncatingIfNeeded: ($0 * 37) % 251) }
        let w = (0..<(n * k)).map { Float(($0 * 53) % 103) / 103 - 0.5 }  // [N, K]
        let weights = w.withUnsafeBufferPointer { OneDNN.Int8Weights($0.baseAddress!, n: n, k: k) }
        let c = UnsafeMutablePointer<Int32>.allocate(capacity: m * n)
        c.initialize(repeating: 0, count: m * n)
        defer { c.deallocate() }
        let rate = a.withUnsafeBufferPointer { ap in
            bench.row("int8_ceiling", reps: reps) { OneDNN.matmul(m: m, src: ap.baseAddress!, int8: weights, out: c) }
        }
        bench.note("int8_ceiling", "oneDNN ISA \(OneDNN.isaName), implementation \(OneDNN.implementations(int8: true).sorted().joined(separator: ", "))")
        return rate
    }
}
