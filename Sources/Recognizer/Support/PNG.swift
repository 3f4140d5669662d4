import CZlib
import Foundation

/// The project's one PNG encoder for RGB24 pictures (8-bit truecolor, no interlace, filter
/// 0 on every row, one zlib IDAT chunk): generated datasets, replay snapshots, mask
/// overlays. FFmpeg and every image viewer decode them.
public enum PNGWriter {
    public static func encode(rgb: [UInt8], width: Int, height: Int) throws(RecognizerError) -> [UInt8] {
        precondition(rgb.count == width * height * 3, "PNG: \(rgb.count) bytes for \(width)x\(height) RGB")
        var raw = [UInt8](repeating: 0, count: height * (1 + 3 * width))
        for y in 0..<height {
            let dst = y * (1 + 3 * width) + 1
            raw.replaceSubrange(dst..<(dst + 3 * width), with: rgb[(y * 3 * width)..<((y + 1) * 3 * width)])
        }
        let z = try deflate(raw)
        var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        func be32(_ v: Int) -> [UInt8] { [UInt8((v >> 24) & 0xff), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
        func chunk(_ type: String, _ body: [UInt8]) {
            let tb = Array(type.utf8) + body
            out += be32(body.count) + tb
            out += be32(Int(crc32(0, tb, uInt(tb.count))))
        }
        chunk("IHDR", be32(width) + be32(height) + [8, 2, 0, 0, 0])
        chunk("IDAT", z)
        chunk("IEND", [])
        return out
    }

    /// `bytes` as one zlib stream (compress2 at `level`, 0-9); a failing compress2 (out of
    /// memory, a bad level) is an error, never a truncated or empty IDAT.
    static func deflate(_ bytes: [UInt8], level: Int32 = 6) throws(RecognizerError) -> [UInt8] {
        var destLen = compressBound(uLong(bytes.count))
        var z = [UInt8](repeating: 0, count: Int(destLen))
        let rc = compress2(&z, &destLen, bytes, uLong(bytes.count), level)
        guard rc == Z_OK else { throw RecognizerError("PNG: zlib compress2 failed (\(rc))") }
        z.removeLast(z.count - Int(destLen))
        return z
    }

    public static func write(rgb: [UInt8], width: Int, height: Int, to path: String) throws(RecognizerError) {
        let bytes = try encode(rgb: rgb, width: width, height: height)
        do { try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic) } catch { throw RecognizerError("\(path): cannot write PNG (\(error.localizedDescription))") }
    }
}
