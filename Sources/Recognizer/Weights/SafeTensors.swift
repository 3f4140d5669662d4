import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A memory-mapped safetensors file: 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the
/// data. The header is validated in full before any tensor is read: offsets inside the
/// file, byte span = shape x dtype size, no overlaps. F32, F16 and BF16 read as Float32.
public final class SafeTensors: @unchecked Sendable {  // immutable after init
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"
        case u8 = "U8", i8 = "I8", i16 = "I16", i32 = "I32", i64 = "I64", bool = "BOOL"
        public var size: Int {
            switch self {
            case .f64, .i64: 8
            case .f32, .i32: 4
            case .f16, .bf16, .i16: 2
            case .u8, .i8, .bool: 1
            }
        }
    }

    public struct Entry: Sendable {
        public var dtype: DType
        public var shape: [Int]
        public var begin: Int
        public var end: Int
    }

    public let name: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    private let data: UnsafeRawBufferPointer  // the data section
    private let mapping: UnsafeMutableRawPointer?  // munmap'ed in deinit
    private let mappingLength: Int
    private let heap: UnsafeMutableRawPointer?  // in-memory copy, freed in deinit

    /// Maps and validates `path`.
    public convenience init(path: String) throws(RecognizerError) {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw RecognizerError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw RecognizerError("\(path): cannot stat") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw RecognizerError("\(path): not a safetensors file (\(size) bytes, shorter than its 8-byte header length)") }
        guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
            throw RecognizerError("\(path): mmap failed")
        }
        do {
            try self.init(name: path, bytes: UnsafeRawBufferPointer(start: p, count: size), mapping: p, heap: nil)
        } catch {
            munmap(p, size)
            throw error
        }
    }

    /// Parses an in-memory file (tests, fuzzing).
    public convenience init(name: String, bytes: [UInt8]) throws(RecognizerError) {
        let heap = UnsafeMutableRawPointer.allocate(byteCount: max(bytes.count, 1), alignment: 16)
        bytes.withUnsafeBytes { heap.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
        do {
            try self.init(name: name, bytes: UnsafeRawBufferPointer(start: heap, count: bytes.count), mapping: nil, heap: heap)
        } catch {
            heap.deallocate()
            throw error
        }
    }

    private init(name: String, bytes: UnsafeRawBufferPointer, mapping: UnsafeMutableRawPointer?, heap: UnsafeMutableRawPointer?) throws(RecognizerError) {
        self.name = name
        self.mapping = mapping
        self.mappingLength = bytes.count
        self.heap = heap
        guard bytes.count >= 8 else { throw RecognizerError("\(name): not a safetensors file (shorter than 8 bytes)") }
        var n: UInt64 = 0
        for i in 0..<8 { n |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard n <= UInt64(bytes.count - 8) else {
            throw RecognizerError("\(name): header length \(n) exceeds the file (\(bytes.count) bytes); truncated or not safetensors")
        }
        let headerLength = Int(n)
        let header = Data(bytes[8..<(8 + headerLength)])
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: header)
        } catch {
            throw RecognizerError("\(name): header is not valid JSON")
        }
        guard let dict = json as? [String: Any] else { throw RecognizerError("\(name): header is not a JSON object") }
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (key, value) in dict {
            if key == "__metadata__" {
                guard let m = value as? [String: Any] else { throw RecognizerError("\(name): __metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw RecognizerError("\(name): __metadata__.\(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            entries[key] = try Self.parseEntry(file: name, tensor: key, value, dataSize: dataSize)
        }
        // No two tensors may share bytes.
        let sorted = entries.sorted { ($0.value.begin, $0.value.end, $0.key) < ($1.value.begin, $1.value.end, $1.key) }
        for i in sorted.indices.dropFirst() where sorted[i].value.begin < sorted[i - 1].value.end {
            throw RecognizerError("\(name): tensor '\(sorted[i].key)' overlaps '\(sorted[i - 1].key)'")
        }
        self.entries = entries
        self.metadata = metadata
        self.data = UnsafeRawBufferPointer(rebasing: bytes[dataStart...])
    }

    private static func parseEntry(file: String, tensor: String, _ value: Any, dataSize: Int) throws(RecognizerError) -> Entry {
        func fail(_ why: String) -> RecognizerError { RecognizerError("\(file): tensor '\(tensor)': \(why)") }
        guard let e = value as? [String: Any] else { throw fail("entry is not an object") }
        guard let ds = e["dtype"] as? String else { throw fail("missing dtype") }
        guard let dtype = DType(rawValue: ds) else { throw fail("unsupported dtype \(ds)") }
        guard let shapeAny = e["shape"] as? [Any] else { throw fail("missing shape") }
        var shape: [Int] = []
        var elements = 1
        for d in shapeAny {
            guard let n = jsonInt(d), n >= 0, n < (1 << 40) else { throw fail("bad shape \(shapeAny)") }
            shape.append(n)
            let (m, overflow) = elements.multipliedReportingOverflow(by: n)
            guard !overflow, m < (1 << 48) else { throw fail("shape \(shape) too large") }
            elements = m
        }
        guard let offs = e["data_offsets"] as? [Any], offs.count == 2,
              let begin = jsonInt(offs[0]), let end = jsonInt(offs[1])
        else { throw fail("missing or malformed data_offsets") }
        guard begin >= 0, end >= begin, end <= dataSize else {
            throw fail("data_offsets [\(begin), \(end)] outside the data section (\(dataSize) bytes)")
        }
        guard end - begin == elements * dtype.size else {
            throw fail("data_offsets span \(end - begin) bytes but shape \(shape) x \(dtype.rawValue) needs \(elements * dtype.size)")
        }
        return Entry(dtype: dtype, shape: shape, begin: begin, end: end)
    }

    deinit {
        if let mapping { munmap(mapping, mappingLength) }
        heap?.deallocate()
    }

    public var names: [String] { entries.keys.sorted() }

    public func entry(_ tensor: String) throws(RecognizerError) -> Entry {
        guard let e = entries[tensor] else { throw RecognizerError("\(name): missing tensor '\(tensor)'") }
        return e
    }

    /// The tensor as Float32 (F32, F16, BF16, F64, integer types converted).
    public func tensor(_ tensor: String) throws(RecognizerError) -> Tensor {
        let e = try entry(tensor)
        let n = e.shape.reduce(1, *)
        let raw = UnsafeRawBufferPointer(rebasing: data[e.begin..<e.end])
        var out = [Float](repeating: 0, count: n)
        switch e.dtype {
        case .f32:
            out.withUnsafeMutableBytes { $0.copyMemory(from: raw) }
        case .f16:
            for i in 0..<n { out[i] = halfToFloat(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0..<n { out[i] = Float(bitPattern: UInt32(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16) }
        case .f64:
            for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
        case .u8, .bool:
            for i in 0..<n { out[i] = Float(raw[i]) }
        case .i8:
            for i in 0..<n { out[i] = Float(Int8(bitPattern: raw[i])) }
        case .i16:
            for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
        case .i32:
            for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
        case .i64:
            for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
        }
        release(raw)
        return Tensor(shape: e.shape, data: out)
    }

    /// Drops the mapped file pages of a tensor once it has been copied out, so loading a
    /// model does not hold the file's pages and the Float32 copies at the same time (the
    /// peak RSS would otherwise be twice the weights). Only whole pages inside the range.
    private func release(_ raw: UnsafeRawBufferPointer) {
        guard mapping != nil, let base = raw.baseAddress, raw.count > 0 else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: base) + page - 1) / page * page
        let end = (Int(bitPattern: base) + raw.count) / page * page
        if end > start { madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, MADV_DONTNEED) }
    }

    /// Raw bytes of a U8 tensor (images in fixtures).
    public func bytes(_ tensor: String) throws(RecognizerError) -> [UInt8] {
        let e = try entry(tensor)
        guard e.dtype == .u8 else { throw RecognizerError("\(name): tensor '\(tensor)' is \(e.dtype.rawValue), expected U8") }
        return Array(data[e.begin..<e.end])
    }

    /// Integer tensor (I64/I32) as Int.
    public func integers(_ tensor: String) throws(RecognizerError) -> [Int] {
        let e = try entry(tensor)
        let raw = UnsafeRawBufferPointer(rebasing: data[e.begin..<e.end])
        switch e.dtype {
        case .i64: return (0..<(raw.count / 8)).map { Int(raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
        case .i32: return (0..<(raw.count / 4)).map { Int(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
        default: throw RecognizerError("\(name): tensor '\(tensor)' is \(e.dtype.rawValue), expected an integer type")
        }
    }
}

/// A JSON integer (JSONSerialization gives NSNumber; fractions do not convert).
private func jsonInt(_ v: Any) -> Int? {
    if let d = v as? Double, d != d.rounded() { return nil }
    return v as? Int
}

/// IEEE 754 half -> single.
@inline(__always)
func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exp = Int((h >> 10) & 0x1f)
    let mant = UInt32(h & 0x3ff)
    if exp == 0 {
        if mant == 0 { return Float(bitPattern: sign) }
        let v = Float(mant) / 1024 * Float(sign: .plus, exponent: -14, significand: 1)
        return sign != 0 ? -v : v
    }
    if exp == 31 { return Float(bitPattern: sign | 0x7f80_0000 | (mant << 13)) }
    return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (mant << 13))
}

/// Serializes tensors (F32) as a safetensors file: names sorted, contiguous data.
public func serializeSafeTensors(_ tensors: [String: Tensor], metadata: [String: String] = [:]) throws -> [UInt8] {
    var header: [String: Any] = [:]
    if !metadata.isEmpty { header["__metadata__"] = metadata }
    var offset = 0
    let names = tensors.keys.sorted()
    for n in names {
        let t = tensors[n]!
        header[n] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.count]] as [String: Any]
        offset += 4 * t.count
    }
    var json = [UInt8](try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys]))
    while (json.count + 8) % 8 != 0 { json.append(0x20) }
    var out = [UInt8]()
    out.reserveCapacity(8 + json.count + offset)
    out += (0..<8).map { UInt8((json.count >> (8 * $0)) & 0xff) }
    out += json
    for n in names { tensors[n]!.data.withUnsafeBytes { out.append(contentsOf: $0) } }
    return out
}

/// Writes tensors (F32) to a safetensors file.
public func writeSafeTensors(_ tensors: [String: Tensor], metadata: [String: String] = [:], to path: String) throws {
    try Data(serializeSafeTensors(tensors, metadata: metadata)).write(to: URL(fileURLWithPath: path), options: .atomic)
}

extension SafeTensors {
    /// An in-memory file holding `tensors` (generated weights for benchmarks and tests).
    public convenience init(name: String, tensors: [String: Tensor], metadata: [String: String] = [:]) throws {
        try self.init(name: name, bytes: serializeSafeTensors(tensors, metadata: metadata))
    }
}
