import Foundation
import Testing
@testable import Recognizer

/// A model holding a NaN or an infinity in a weight it reads is refused at load, naming the
/// file, the tensor and the flat index of the first bad value.
@Suite("non-finite weights are refused at load")
struct NonFiniteWeightTests {
    /// The tiny model directory with `fixture` (head_a, sam_a or clip_a) rewritten so that
    /// element `index` of `tensor` is `value`.
    static func poisoned(_ fixture: String, role: String, tensor: String, index: Int, value: Float) throws -> String {
        let dir = try ModelDirectoryTests.tinyCopy()
        let st = try Fixtures.open(fixture + ".safetensors")
        var t: [String: Tensor] = [:]
        for n in st.names { t[n] = try st.tensor(n) }
        var bad = try #require(t[tensor])
        #expect(index < bad.count)
        bad.data[index] = value
        t[tensor] = bad
        try FileManager.default.removeItem(atPath: dir + "/\(role).safetensors")
        try writeSafeTensors(t, metadata: st.metadata, to: dir + "/\(role).safetensors")
        return dir
    }

    @Test("NaN, +Inf and -Inf in a head weight: the error names the file, the tensor and the index", arguments: [
        (Float.nan, "NaN"), (Float.infinity, "+Inf"), (-Float.infinity, "-Inf"),
    ])
    func head(value: Float, name: String) throws {
        let tensor = "decoder.layers.0.linear1.weight"
        let dir = try Self.poisoned("head_a", role: "head", tensor: tensor, index: 1234, value: value)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(ModelDirectoryTests.loadError(dir) == "\(dir)/head.safetensors: \(tensor): element 1234 is \(name)")
    }

    @Test("a non-finite SAM or CLIP weight is refused too; the clean files load", arguments: [
        ("sam_a", "sam", "image_encoder.blocks.1.mlp.lin2.weight"),
        ("clip_a", "clip", "visual.transformer.resblocks.0.attn.in_proj_weight"),
        ("head_a", "head", "projector.bias"),
    ])
    func everyModel(fixture: String, role: String, tensor: String) throws {
        let st = try Fixtures.open(fixture + ".safetensors")
        let count = try #require(st.entries[tensor]).shape.reduce(1, *)
        let index = count - 1  // the last element: the scan must reach the end of the buffer
        let dir = try Self.poisoned(fixture, role: role, tensor: tensor, index: index, value: .nan)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(ModelDirectoryTests.loadError(dir) == "\(dir)/\(role).safetensors: \(tensor): element \(index) is NaN")
        let clean = try Self.poisoned(fixture, role: role, tensor: tensor, index: index, value: 0.25)
        defer { try? FileManager.default.removeItem(atPath: clean) }
        #expect(ModelDirectoryTests.loadError(clean) == nil)
    }

    @Test("F16 and BF16 infinities and NaNs are caught after conversion")
    func halfPrecision() throws {
        // a: F16 [1, +Inf]; b: BF16 [NaN, 2]; c: F16 [-Inf]; d: F16 [65504] (finite)
        let data: [UInt8] = [0x00, 0x3C, 0x00, 0x7C, 0xC0, 0x7F, 0x00, 0x40, 0x00, 0xFC, 0xFF, 0x7B]
        let header = #"{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"c":{"dtype":"F16","shape":[1],"data_offsets":[8,10]},"d":{"dtype":"F16","shape":[1],"data_offsets":[10,12]}}"#
        let h = Array(header.utf8)
        let bytes: [UInt8] = (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xff) } + h + data
        let w = WeightSource(files: [try SafeTensors(name: "half.safetensors", bytes: bytes)])
        #expect(throws: RecognizerError("half.safetensors: a: element 1 is +Inf")) { try w.tensor("a") }
        #expect(throws: RecognizerError("half.safetensors: b: element 0 is NaN")) { try w.tensor("b") }
        #expect(throws: RecognizerError("half.safetensors: c: element 0 is -Inf")) { try w.tensor("c") }
        #expect(try w.tensor("d").data == [65504])
    }

    @Test("the scan finds the first bad value at chunk edges and passes finite extremes")
    func scan() {
        let finite: [Float] = [0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude, .leastNonzeroMagnitude, -.leastNormalMagnitude]
        var big = [Float](repeating: 1, count: 3 * 4096 + 7)
        for (i, x) in finite.enumerated() { big[100 + i] = x }
        #expect(firstNonFinite(big) == nil)
        #expect(firstNonFinite([Float]()) == nil)
        for index in [0, 4095, 4096, 8191, 3 * 4096 + 6] {
            var v = big
            v[index] = .infinity
            if index + 5 < v.count { v[index + 5] = .nan }  // a later bad value is not the first
            #expect(firstNonFinite(v) == index)
        }
        var signalling = big
        signalling[9000] = Float(bitPattern: 0x7f80_0001)  // a signalling NaN
        #expect(firstNonFinite(signalling) == 9000)
    }
}
