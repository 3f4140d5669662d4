// Drawing on a packed RGB24 picture: filled and translucent rectangles, outlines, masks
// and bitmap text. Everything is clipped to the picture; coordinates are pixels.
import Decode

struct RGB: Equatable, Sendable {
    var r: UInt8, g: UInt8, b: UInt8
    static let white = RGB(r: 255, g: 255, b: 255)
    static let black = RGB(r: 0, g: 0, b: 0)
}

struct Canvas {
    let width: Int
    let height: Int
    /// [height, width, 3] RGB24.
    var pixels: [UInt8]

    init(_ image: RGBImage) {
        width = image.width
        height = image.height
        pixels = image.bytes
    }

    var image: RGBImage { RGBImage(width: width, height: height, bytes: pixels) }

    /// Blends `color` over the rectangle [x0, x1) x [y0, y1) with opacity `alpha` (0...1).
    mutating func fill(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: RGB, alpha: Double = 1) {
        let xa = max(0, x0), xb = min(width, x1), ya = max(0, y0), yb = min(height, y1)
        guard xa < xb, ya < yb else { return }
        let a = Int((max(0, min(1, alpha)) * 256).rounded()), na = 256 - a
        let w = width
        pixels.withUnsafeMutableBufferPointer { p in
            for y in ya..<yb {
                var i = (y * w + xa) * 3
                for _ in xa..<xb {
                    p[i] = UInt8((Int(p[i]) * na + Int(color.r) * a) >> 8)
                    p[i + 1] = UInt8((Int(p[i + 1]) * na + Int(color.g) * a) >> 8)
                    p[i + 2] = UInt8((Int(p[i + 2]) * na + Int(color.b) * a) >> 8)
                    i += 3
                }
            }
        }
    }

    /// A rectangle outline `thickness` pixels wide, drawn inside [x0, x1) x [y0, y1).
    mutating func outline(_ x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: RGB, thickness t: Int) {
        let t = max(1, min(t, (x1 - x0 + 1) / 2, (y1 - y0 + 1) / 2))
        fill(x0, y0, x1, y0 + t, color)
        fill(x0, y1 - t, x1, y1, color)
        fill(x0, y0 + t, x0 + t, y1 - t, color)
        fill(x1 - t, y0 + t, x1, y1 - t, color)
    }

    /// Blends `color` where `mask` is set. `mask` is [mh, mw] and is stretched
    /// (nearest neighbour) onto the rectangle [x0, x1) x [y0, y1).
    mutating func blend(mask: [Bool], mw: Int, mh: Int, into x0: Int, _ y0: Int, _ x1: Int, _ y1: Int, _ color: RGB, alpha: Double) {
        guard mw > 0, mh > 0, x1 > x0, y1 > y0, mask.count >= mw * mh else { return }
        let xa = max(0, x0), xb = min(width, x1), ya = max(0, y0), yb = min(height, y1)
        guard xa < xb, ya < yb else { return }
        let a = Int((max(0, min(1, alpha)) * 256).rounded()), na = 256 - a
        let bw = x1 - x0, bh = y1 - y0, w = width
        pixels.withUnsafeMutableBufferPointer { p in
            mask.withUnsafeBufferPointer { m in
                for y in ya..<yb {
                    let my = min(mh - 1, (y - y0) * mh / bh)
                    for x in xa..<xb {
                        let mx = min(mw - 1, (x - x0) * mw / bw)
                        guard m[my * mw + mx] else { continue }
                        let i = (y * w + x) * 3
                        p[i] = UInt8((Int(p[i]) * na + Int(color.r) * a) >> 8)
                        p[i + 1] = UInt8((Int(p[i + 1]) * na + Int(color.g) * a) >> 8)
                        p[i + 2] = UInt8((Int(p[i + 2]) * na + Int(color.b) * a) >> 8)
                    }
                }
            }
        }
    }

    /// Draws `text` with its top-left corner at (x, y), each font pixel `scale` x `scale`.
    mutating func text(_ text: String, x: Int, y: Int, _ color: RGB, scale: Int) {
        var cx = x
        for c in text {
            let rows = BitmapFont.rows(c)
            for (ry, bits) in rows.enumerated() where bits != 0 {
                for col in 0..<BitmapFont.glyphWidth where bits & (0x10 >> UInt8(col)) != 0 {
                    let px = cx + col * scale, py = y + ry * scale
                    fill(px, py, px + scale, py + scale, color)
                }
            }
            cx += BitmapFont.cellWidth * scale
        }
    }

    /// Text on a dark translucent backing box with `pad` pixels around it; returns the
    /// box's size. `swatch` adds a square of that colour before the text.
    @discardableResult
    mutating func label(_ s: String, x: Int, y: Int, scale: Int, color: RGB = .white, backing: RGB = .black,
                        backingAlpha: Double = 0.78, swatch: RGB? = nil) -> (width: Int, height: Int) {
        let pad = scale * 2
        let th = BitmapFont.glyphHeight * scale
        let sw = swatch == nil ? 0 : th + pad
        let w = BitmapFont.width(s, scale: scale) + 2 * pad + sw, h = th + 2 * pad
        fill(x, y, x + w, y + h, backing, alpha: backingAlpha)
        if let swatch { fill(x + pad, y + pad, x + pad + th, y + pad + th, swatch) }
        text(s, x: x + pad + sw, y: y + pad, color, scale: scale)
        return (w, h)
    }
}
