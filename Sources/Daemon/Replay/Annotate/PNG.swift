// A small PNG writer (8-bit RGB, zlib through Debian's libz): snapshots, mask overlays.
import CZlib
import Decode
import Foundation

func pngData(_ img: RGBImage) -> [UInt8] {
    var raw = [UInt8]()
    raw.reserveCapacity((img.width * 3 + 1) * img.height)
    for y in 0..<img.height {
        raw.append(0)  // filter: none
        raw += img.bytes[(y * img.width * 3)..<((y + 1) * img.width * 3)]
    }
    var destLen = compressBound(uLong(raw.count))
    var z = [UInt8](repeating: 0, count: Int(destLen))
    _ = compress2(&z, &destLen, raw, uLong(raw.count), 6)
    z.removeSubrange(Int(destLen)...)
    func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)] }
    func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let td = Array(type.utf8) + data
        let crc = UInt32(crc32(0, td, uInt(td.count)))
        return be32(UInt32(data.count)) + td + be32(crc)
    }
    let ihdr = be32(UInt32(img.width)) + be32(UInt32(img.height)) + [8, 2, 0, 0, 0]
    return [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a] + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", [])
}

func encodePNG(_ img: RGBImage, to path: String) throws {
    do {
        try Data(pngData(img)).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
        throw ValidationFailure("\(path): cannot write PNG (\(error.localizedDescription))")
    }
}
