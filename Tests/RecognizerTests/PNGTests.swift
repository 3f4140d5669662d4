import CZlib
import Foundation
import Testing
@testable import Recognizer

@Suite("PNG writer")
struct PNGTests {
    /// The chunks of a PNG: (type, body), each CRC checked.
    static func chunks(_ png: [UInt8]) -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = []
        var i = 8
        func be32(_ at: Int) -> Int { png[at..<(at + 4)].reduce(0) { $0 << 8 | Int($1) } }
        while i + 12 <= png.count {
            let n = be32(i)
            let typeAndBody = Array(png[(i + 4)..<(i + 8 + n)])
            #expect(be32(i + 8 + n) == Int(crc32(0, typeAndBody, uInt(typeAndBody.count))), "CRC of chunk at \(i)")
            out.append((String(decoding: typeAndBody.prefix(4), as: UTF8.self), Array(typeAndBody.dropFirst(4))))
            i += 12 + n
        }
        #expect(i == png.count)
        return out
    }

    @Test("an RGB picture: signature, IHDR, and the IDAT inflates to filter-0 rows of the pixels")
    func roundTrip() throws {
        let w = 5, h = 3
        let rgb = (0..<(w * h * 3)).map { UInt8(($0 * 53 + 7) % 256) }
        let png = try PNGWriter.encode(rgb: rgb, width: w, height: h)
        #expect(Array(png[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        let c = Self.chunks(png)
        #expect(c.map(\.0) == ["IHDR", "IDAT", "IEND"])
        #expect(c[0].1 == [0, 0, 0, 5, 0, 0, 0, 3, 8, 2, 0, 0, 0])
        var raw = [UInt8](repeating: 0xEE, count: h * (1 + 3 * w) + 16)
        var rawLen = uLong(raw.count)
        #expect(uncompress(&raw, &rawLen, c[1].1, uLong(c[1].1.count)) == Z_OK)
        var want: [UInt8] = []
        for y in 0..<h { want += [0] + rgb[(y * 3 * w)..<((y + 1) * 3 * w)] }
        #expect(Array(raw.prefix(Int(rawLen))) == want)
    }

    @Test("a failing compress2 is an error with its return code, not a PNG with a broken IDAT")
    func compressFailure() throws {
        #expect(throws: RecognizerError("PNG: zlib compress2 failed (\(Z_STREAM_ERROR))")) { try PNGWriter.deflate([1, 2, 3], level: 42) }
        let z = try PNGWriter.deflate([1, 2, 3], level: 9)
        var back = [UInt8](repeating: 0, count: 3)
        var n = uLong(3)
        #expect(uncompress(&back, &n, z, uLong(z.count)) == Z_OK && back == [1, 2, 3])
    }

    @Test("write: the encoded bytes at the path; an unwritable path names itself")
    func write() throws {
        let dir = NSTemporaryDirectory() + "png-test-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let rgb: [UInt8] = [255, 0, 0, 0, 255, 0]
        try PNGWriter.write(rgb: rgb, width: 2, height: 1, to: dir + "/a.png")
        #expect(FileManager.default.contents(atPath: dir + "/a.png").map(Array.init) == (try PNGWriter.encode(rgb: rgb, width: 2, height: 1)))
        do {
            try PNGWriter.write(rgb: rgb, width: 2, height: 1, to: dir + "/missing/a.png")
            Issue.record("wrote into a missing directory")
        } catch {
            #expect(error.description.hasPrefix(dir + "/missing/a.png: cannot write PNG"))
        }
    }
}
