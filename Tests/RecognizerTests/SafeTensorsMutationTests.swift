import Foundation
import FuzzSupport
import Testing
@testable import Recognizer

/// 3,000 mutations of a small safetensors file, each of a kind whose outcome is determined:
/// the reader must reject it with a given message (naming the file, and the tensor where
/// one is at fault) or accept it and read back exactly the mutated values.
@Suite("safetensors mutations")
struct SafeTensorsMutationTests {
    struct Spec {
        var name: String, dtype: String, shape: [Int], begin: Int, end: Int
    }

    /// The base file: four tensors of every float width, contiguous, no header padding
    /// (so any shorter header length cuts the JSON object).
    static let base: [Spec] = [
        Spec(name: "a", dtype: "F32", shape: [4, 8], begin: 0, end: 128),
        Spec(name: "b", dtype: "F16", shape: [10], begin: 128, end: 148),
        Spec(name: "c", dtype: "BF16", shape: [3, 2], begin: 148, end: 160),
        Spec(name: "d", dtype: "F32", shape: [16], begin: 160, end: 224),
    ]
    static let file = "mut.safetensors"
    static let sizes = ["F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I64": 8, "I32": 4, "U8": 1, "I16": 2]

    static func header(_ specs: [Spec]) -> [UInt8] {
        let entries = specs.map { s in
            #""\#(s.name)":{"dtype":"\#(s.dtype)","shape":[\#(s.shape.map(String.init).joined(separator: ","))],"data_offsets":[\#(s.begin),\#(s.end)]}"#
        }
        return Array(("{" + entries.joined(separator: ",") + "}").utf8)
    }

    static func assemble(_ header: [UInt8], _ data: [UInt8], length: Int? = nil) -> [UInt8] {
        let n = length ?? header.count
        return (0..<8).map { UInt8((n >> (8 * $0)) & 0xff) } + header + data
    }

    enum Outcome {
        case rejected(String)  // a message fragment (the file name is always checked too)
        case rejectedNaming(Set<String>, String)  // one of these tensors, and a fragment
        case accepted([String: [UInt32]], shapes: [String: [Int]])  // expected values as bit patterns
    }

    /// The values each base tensor holds, as Float bit patterns after conversion.
    static func decode(_ s: Spec, _ data: [UInt8]) -> [UInt32] {
        let raw = Array(data[s.begin..<s.end])
        func u16(_ i: Int) -> UInt16 { UInt16(raw[2 * i]) | UInt16(raw[2 * i + 1]) << 8 }
        func u32(_ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(raw[4 * i + $1]) << (8 * UInt32($1)) } }
        switch s.dtype {
        case "F32": return (0..<(raw.count / 4)).map(u32)
        case "I32": return (0..<(raw.count / 4)).map { Float(Int32(bitPattern: u32($0))).bitPattern }
        case "F16": return (0..<(raw.count / 2)).map { halfToFloat(u16($0)).bitPattern }
        case "BF16": return (0..<(raw.count / 2)).map { UInt32(u16($0)) << 16 }
        case "I16": return (0..<(raw.count / 2)).map { Float(Int16(bitPattern: u16($0))).bitPattern }
        default: fatalError("no decoder for \(s.dtype)")
        }
    }

    static func expectAccepted(_ specs: [Spec], _ data: [UInt8]) -> Outcome {
        var values: [String: [UInt32]] = [:], shapes: [String: [Int]] = [:]
        for s in specs { values[s.name] = decode(s, data); shapes[s.name] = s.shape }
        return .accepted(values, shapes: shapes)
    }

    static func baseData(_ dice: inout Dice) -> [UInt8] {
        var data: [UInt8] = []
        for s in base {
            for _ in 0..<((s.end - s.begin) / (sizes[s.dtype]!)) {
                switch s.dtype {
                case "F32": withUnsafeBytes(of: (Float(dice.int(2001)) / 100 - 10).bitPattern.littleEndian) { data += $0 }
                default:  // 16-bit: 1.0 .. 2.0 in F16 (0x3C00...) or BF16 (0x3F80...)
                    let bits = UInt16(s.dtype == "F16" ? 0x3C00 + dice.int(0x400) : 0x3F80 + dice.int(0x80))
                    data += [UInt8(bits & 0xff), UInt8(bits >> 8)]
                }
            }
        }
        return data
    }

    /// Case `i`: the mutated bytes and what the reader must make of them.
    static func mutation(_ i: Int, _ dice: inout Dice) -> (String, [UInt8], Outcome) {
        var specs = base
        var data = baseData(&dice)
        let h = header(specs)
        let full = assemble(h, data)
        let t = dice.int(specs.count)
        switch i % 10 {
        case 0:
            let n = dice.int(8)
            return ("truncated to \(n) bytes", Array(full.prefix(n)), .rejected("shorter than 8 bytes"))
        case 1:
            let n = 8 + dice.int(h.count)
            return ("truncated inside the header at \(n)", Array(full.prefix(n)), .rejected("header length \(h.count) exceeds the file (\(n) bytes)"))
        case 2:  // inside the data: the last tensor(s) now run past it
            let cut = dice.int(data.count)
            let outside = Set(specs.filter { $0.end > cut }.map(\.name))
            return ("truncated \(cut) bytes into the data", Array(full.prefix(8 + h.count + cut)), .rejectedNaming(outside, "outside the data section (\(cut) bytes)"))
        case 3:
            let n = full.count - 8 + 1 + dice.int(1 << 20)
            return ("header length \(n) past the file", assemble(h, data, length: n), .rejected("header length \(n) exceeds the file (\(full.count) bytes)"))
        case 4:
            let n = dice.int(h.count)
            return ("header length \(n) cuts the JSON", assemble(h, data, length: n), .rejected("header is not valid JSON"))
        case 5, 6:  // a value of one tensor replaced by a bit pattern of its dtype (maybe NaN/Inf)
            let s = specs[t], width = sizes[s.dtype]!
            let k = dice.int((s.end - s.begin) / width)
            let special: [UInt32] = [0x7FC0_0000, 0x7F80_0000, 0xFF80_0000, 0x7F80_0001]
            let f32 = dice.int(4) == 0 ? special[dice.int(4)] : UInt32(truncatingIfNeeded: dice.int(1 << 32))
            let bytes: [UInt8] = width == 4 ? (0..<4).map { UInt8((f32 >> (8 * $0)) & 0xff) } : [UInt8(f32 & 0xff), UInt8((f32 >> 8) & 0xff)]
            for (j, b) in bytes.enumerated() { data[s.begin + k * width + j] = b }
            return ("\(s.name)[\(k)] bytes \(bytes)", assemble(h, data), expectAccepted(specs, data))
        case 7:  // another dtype: accepted when the byte span still matches (F32 <-> I32, F16 <-> BF16 <-> I16)
            let s = specs[t]
            let others = sizes.keys.filter { $0 != s.dtype }.sorted()
            let d = others[dice.int(others.count)]
            specs[t].dtype = d
            let what = "\(s.name) as \(d)"
            if sizes[d] == sizes[s.dtype] {
                return (what, assemble(header(specs), data), expectAccepted(specs, data))
            }
            let count = s.shape.reduce(1, *)
            return (what, assemble(header(specs), data), .rejectedNaming([s.name], "span \(s.end - s.begin) bytes but shape \(s.shape) x \(d) needs \(count * sizes[d]!)"))
        case 8:  // another shape: accepted when the element count is kept
            let s = specs[t]
            let count = s.shape.reduce(1, *)
            let divisors = (1...count).filter { count % $0 == 0 }
            let keep = dice.int(2) == 0
            let shape = keep ? [divisors[dice.int(divisors.count)], 0].map { $0 == 0 ? 1 : $0 } : s.shape + [2 + dice.int(5)]
            let newShape = keep ? [shape[0], count / shape[0]] : shape
            specs[t].shape = newShape
            let what = "\(s.name) shaped \(newShape)"
            if keep { return (what, assemble(header(specs), data), expectAccepted(specs, data)) }
            return (what, assemble(header(specs), data), .rejectedNaming([s.name], "shape \(newShape) x \(s.dtype) needs \(newShape.reduce(1, *) * sizes[s.dtype]!)"))
        default:  // offsets moved: past the data, or onto the neighbour's bytes
            let s = specs[t], span = s.end - s.begin
            if dice.int(2) == 0 || t == 0 {
                specs[t].begin = data.count - span + 1 + dice.int(64)
                specs[t].end = specs[t].begin + span
                return ("\(s.name) moved past the data", assemble(header(specs), data), .rejectedNaming([s.name], "outside the data section (\(data.count) bytes)"))
            }
            let shift = 1 + dice.int(specs[t - 1].end - specs[t - 1].begin)
            specs[t].begin -= shift
            specs[t].end -= shift
            // the later of the two in (begin, end, name) order is said to overlap the earlier
            let pair = [specs[t], specs[t - 1]].sorted { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
            return ("\(s.name) moved \(shift) bytes back", assemble(header(specs), data), .rejectedNaming([pair[1].name], "overlaps '\(pair[0].name)'"))
        }
    }

    @Test("each mutation kind gives its determined outcome, case by case")
    func mutations() throws {
        var dice = Dice(s: 2026)
        var counts = [0, 0]  // accepted, rejected
        for i in 0..<FuzzScale.count(3000) {
            let (what, bytes, outcome) = Self.mutation(i, &dice)
            let result = Result { () throws(RecognizerError) -> SafeTensors in try SafeTensors(name: Self.file, bytes: bytes) }
            switch (outcome, result) {
            case let (.rejected(fragment), .failure(e)):
                counts[1] += 1
                #expect(e.description.hasPrefix(Self.file + ": ") && e.description.contains(fragment), "case \(i) \(what): \(e)")
            case let (.rejectedNaming(tensors, fragment), .failure(e)):
                counts[1] += 1
                #expect(e.description.hasPrefix(Self.file + ": tensor '") && e.description.contains(fragment), "case \(i) \(what): \(e)")
                #expect(tensors.contains { e.description.contains("'\($0)'") }, "case \(i) \(what): \(e) names none of \(tensors)")
            case let (.accepted(values, shapes), .success(st)):
                counts[0] += 1
                #expect(Set(st.names) == Set(values.keys), "case \(i) \(what)")
                let w = WeightSource(files: [st])
                for name in st.names {
                    let t = try st.tensor(name)
                    #expect(t.shape == shapes[name] && t.data.map(\.bitPattern) == values[name], "case \(i) \(what): \(name)")
                    // a model's read refuses exactly the tensors holding a NaN or an infinity
                    if let bad = t.data.firstIndex(where: { !$0.isFinite }) {
                        let kind = t.data[bad].isNaN ? "NaN" : (t.data[bad] > 0 ? "+Inf" : "-Inf")
                        #expect(throws: RecognizerError("\(Self.file): \(name): element \(bad) is \(kind)")) { try w.tensor(name) }
                    } else {
                        #expect(try w.tensor(name).data.map(\.bitPattern) == values[name], "case \(i) \(what): \(name)")
                    }
                }
            case let (_, .failure(e)):
                Issue.record("case \(i) \(what): rejected, expected acceptance: \(e)")
            case (_, .success):
                Issue.record("case \(i) \(what): accepted, expected \(outcome)")
            }
        }
        fuzzReport("safetensors: \(FuzzScale.count(3000)) files, \(counts[0]) accepted and read back, \(counts[1]) rejected naming the file (and tensor)")
        #expect(counts[0] >= FuzzScale.count(300) && counts[1] >= FuzzScale.count(2000), "accepted \(counts[0]), rejected \(counts[1])")
    }
}
