import Foundation
import Testing
@testable import Recognizer

@Suite("safetensors reader")
struct SafeTensorsTests {
    /// A valid file: 8-byte length, JSON header, data.
    func file(_ header: String, data: [UInt8]) -> [UInt8] {
        let h = Array(header.utf8)
        var out: [UInt8] = (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xff) }
        return out + h + data
    }

    @Test("F32, F16 and BF16 read as Float32; metadata kept")
    func dtypes() throws {
        // 1.5 as F32 LE; 1.5 as F16 = 0x3E00; -2.0 as BF16 = 0xC000
        let data: [UInt8] = [0x00, 0x00, 0xC0, 0x3F, 0x00, 0x3E, 0x00, 0xC0]
        let header = #"{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F16","shape":[1],"data_offsets":[4,6]},"c":{"dtype":"BF16","shape":[1,1],"data_offsets":[6,8]}}"#
        let st = try SafeTensors(name: "mem", bytes: file(header, data: data))
        #expect(try st.tensor("a").data == [1.5])
        #expect(try st.tensor("b").data == [1.5])
        #expect(try st.tensor("c").data == [-2.0])
        #expect(try st.tensor("c").shape == [1, 1])
        #expect(st.metadata["k"] == "v")
    }

    @Test("half-precision conversion covers subnormals, infinities and signs")
    func halfs() {
        #expect(halfToFloat(0x3C00) == 1)
        #expect(halfToFloat(0xC000) == -2)
        #expect(halfToFloat(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(halfToFloat(0x7C00) == .infinity)
        #expect(halfToFloat(0x8000) == 0 && halfToFloat(0x8000).sign == .minus)
        #expect(halfToFloat(0x7BFF) == 65504)
    }

    @Test("errors name the file and the tensor", arguments: [
        (#"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, "'t'"),
        (#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,40]}}"#, "outside the data section"),
        (#"{"t":{"dtype":"X9","shape":[1],"data_offsets":[0,4]}}"#, "unsupported dtype"),
        (#"{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"u":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}"#, "overlaps"),
        (#"{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, "bad shape"),
        (#"[1,2]"#, "not a JSON object"),
        (#"{"t":"#, "not valid JSON"),
    ])
    func errors(header: String, expected: String) {
        do {
            _ = try SafeTensors(name: "weights.safetensors", bytes: file(header, data: [UInt8](repeating: 0, count: 8)))
            Issue.record("accepted a bad header: \(header)")
        } catch {
            #expect(error.description.contains("weights.safetensors"))
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test("a missing tensor and a wrong shape are named")
    func missing() throws {
        let st = try SafeTensors(name: "m.safetensors", bytes: file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        let w = WeightSource(files: [st])
        #expect(throws: RecognizerError("m.safetensors: missing tensor 'b'")) { try w.tensor("b") }
        #expect(throws: RecognizerError("m.safetensors: tensor 'a' has shape [1], expected [\"2\"]")) { try w.tensor("a", shape: [2]) }
    }

    // Mutations (truncations, header lengths, data, dtypes, shapes, offsets) and what each
    // must produce: SafeTensorsMutationTests.

    @Test("the writer round-trips through the reader")
    func roundTrip() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let p = dir.appendingPathComponent("x.safetensors").path
        let t = Tensor(shape: [2, 3], data: [1, 2, 3, 4, 5, 6])
        try writeSafeTensors(["x": t, "y": Tensor(shape: [1], data: [7])], metadata: ["m": "1"], to: p)
        let st = try SafeTensors(path: p)
        #expect(try st.tensor("x") == t)
        #expect(st.metadata["m"] == "1")
    }
}
