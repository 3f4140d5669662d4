import Decode
import Foundation
import Testing

/// JPEGEncoder: RGB24 -> JFIF through libavcodec's mjpeg, read back by FFmpeg's image
/// decoder with the same size and (up to compression) pixels; many pictures from one
/// encoder, odd sizes, a size change, bad pictures refused.
@Suite struct JPEGEncoderTests {
    static func roundTrip(_ jpeg: [UInt8], _ dir: URL, _ name: String) throws -> RGBImage {
        let path = dir.appendingPathComponent(name).path
        _ = FileManager.default.createFile(atPath: path, contents: Data(jpeg))
        return try decodeImage(path: path)
    }

    static func meanError(_ a: RGBImage, _ b: RGBImage) -> Double {
        var s = 0.0
        for y in 0..<a.height { for x in 0..<a.width { for c in 0..<3 {
            s += abs(Double(a.bytes[(y * a.width + x) * 3 + c]) - Double(b.bytes[(y * b.width + x) * 3 + c]))
        } } }
        return s / Double(a.width * a.height * 3)
    }

    @Test func picturesReadBackCloseToWhatWasEncoded() throws {
        let dir = try TestMedia.makeTempDir("jpeg")
        defer { try? FileManager.default.removeItem(at: dir) }
        let enc = JPEGEncoder(quality: 3)
        for i in 0..<5 {  // one encoder, many pictures (timestamps must keep increasing)
            let picture = VideoEncoderTests.picture(i)
            let jpeg = try enc.encode(picture)
            #expect(Array(jpeg.prefix(2)) == [0xFF, 0xD8] && Array(jpeg.suffix(2)) == [0xFF, 0xD9], "JFIF start/end markers")
            let back = try Self.roundTrip(jpeg, dir, "p\(i).jpg")
            #expect(back.width == 96 && back.height == 64)
            #expect(Self.meanError(back, picture) < 4, "picture \(i): mean error \(Self.meanError(back, picture))")
            // the bright square is where it was drawn
            let p = (28 * 96 + 4 * i + 8) * 3
            #expect(back.bytes[p] > 220 && back.bytes[p + 2] < 70)
        }
        // a size change reopens the encoder; an odd size is scaled to the even size below
        let odd = VideoEncoderTests.picture(1, width: 97, height: 51)
        let back = try Self.roundTrip(try enc.encode(odd), dir, "odd.jpg")
        #expect(back.width == 96 && back.height == 50)
        #expect(throws: EncodeError.self) { try enc.encode(RGBImage(width: 8, height: 8, bytes: [0, 1, 2])) }
        #expect(throws: EncodeError.self) { try enc.encode(RGBImage(width: 1, height: 8, bytes: [UInt8](repeating: 0, count: 24))) }
    }
}
