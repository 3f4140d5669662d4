// What replay draws on a frame: every published region's box in its track's colour, a
// label "#id label score" on a dark backing box, the SAM mask as a translucent overlay
// (from the frame it was computed on, carried along with the track's box afterwards), and
// on frames where the recognizer ran an amber border, a "RECOGNIZED" badge and the boxes
// it was given that did not become tracks (thin grey). A header names stream, frame, time.
import Decode
import Recognizer

final class FrameAnnotator {
    /// A mask as computed at recognition time, cropped to the recognized box.
    private struct StoredMask { var bits: [Bool]; var width: Int; var height: Int }
    private var masks: [UInt64: StoredMask] = [:]

    static let palette: [RGB] = [
        RGB(r: 255, g: 64, b: 64), RGB(r: 64, g: 200, b: 255), RGB(r: 80, g: 230, b: 80), RGB(r: 255, g: 200, b: 0),
        RGB(r: 255, g: 80, b: 220), RGB(r: 0, g: 230, b: 200), RGB(r: 255, g: 140, b: 30), RGB(r: 160, g: 120, b: 255),
        RGB(r: 190, g: 255, b: 60), RGB(r: 255, g: 150, b: 150), RGB(r: 40, g: 130, b: 255), RGB(r: 230, g: 230, b: 230),
    ]
    static let amber = RGB(r: 255, g: 176, b: 0)
    static let proposalGrey = RGB(r: 170, g: 170, b: 170)

    /// A track's colour: stable for its whole life, neighbours in id order differ.
    static func color(track id: UInt64) -> RGB { palette[Int(id % UInt64(palette.count))] }

    /// Scale of lines and text for a picture of this height (1 below 480 px, 2 at 480-799,
    /// 3 at 1080p, ...): labels stay legible without hiding the scene.
    static func scale(height: Int) -> Int { max(1, Int((Double(height) / 320).rounded())) }

    /// Draws `message` (and, on a recognized frame, the recognizer's regions) on `image`.
    /// Boxes and masks are in the pixels of a `source`-sized frame, the image's own size when
    /// nil: the live pages draw on a picture scaled down from the frame (LiveView), and
    /// lines and text follow the picture's size as they do for a smaller video.
    func draw(_ image: RGBImage, message: RegionsMessage, recognized: [RecognizedRegion]?,
              source: (width: Int, height: Int)? = nil) -> RGBImage {
        var c = Canvas(image)
        let s = Self.scale(height: image.height)
        let src = source ?? (image.width, image.height)
        let fx = Double(image.width) / Double(max(1, src.width)), fy = Double(image.height) / Double(max(1, src.height))
        func pixelBox(_ b: [Double]) -> (Int, Int, Int, Int) { Self.pixelBox(b, fx, fy) }
        let live = Set(message.regions.map(\.trackID))
        masks = masks.filter { live.contains($0.key) }

        // Remember the masks the recognizer computed, under the track each became.
        var unmatched: [RecognizedRegion] = []
        if let recognized {
            for r in recognized {
                let rb = r.box.map(Double.init)
                let best = message.regions.max { iou($0.box, rb) < iou($1.box, rb) }
                if let best, iou(best.box, rb) >= 0.3 {
                    if let m = r.mask { masks[best.trackID] = crop(m, width: src.width, height: src.height, box: rb) }
                } else {
                    unmatched.append(r)
                }
            }
        }

        // Masks first (under the boxes and text).
        for r in message.regions {
            guard let m = masks[r.trackID] else { continue }
            let b = pixelBox(r.box)
            c.blend(mask: m.bits, mw: m.width, mh: m.height, into: b.0, b.1, b.2, b.3, Self.color(track: r.trackID), alpha: 0.38)
        }
        for r in unmatched {
            let b = pixelBox(r.box.map(Double.init))
            c.outline(b.0, b.1, b.2, b.3, Self.proposalGrey, thickness: s)
        }
        for r in message.regions {
            let b = pixelBox(r.box)
            let fresh = r.inferredFrame == message.frame
            c.outline(b.0, b.1, b.2, b.3, Self.color(track: r.trackID), thickness: fresh ? 2 * s : s)
        }
        // Labels last, so no box line crosses a label; each where it hides no earlier one.
        let lh = BitmapFont.glyphHeight * s + 4 * s
        var placed: [(Int, Int, Int, Int)] = [(0, image.height - lh, image.width, image.height)]  // footer
        let badge = recognized.map { "RECOGNIZED \($0.count) boxes" }
        let badgeWidth = badge.map { BitmapFont.width($0, scale: s) + 4 * s } ?? 0
        if badge != nil { placed.append((image.width - badgeWidth - 2 * s, 0, image.width, lh + 2 * s)) }
        for r in message.regions {
            let b = pixelBox(r.box)
            let text = "#\(r.trackID) \(r.label) \(fmt2(r.score))"
            let lw = BitmapFont.width(text, scale: s) + 4 * s + lh
            let x = max(0, min(b.0, image.width - lw))
            // Above the box, inside its top, below it, inside its bottom, then further down.
            var candidates = [b.1 - lh, b.1, b.3, b.3 - lh]
            candidates += (1...8).map { b.1 + $0 * lh }
            let fits = candidates.filter { $0 >= 0 && $0 + lh <= image.height }
            let free = fits.first { y in !placed.contains { p in x < p.2 && p.0 < x + lw && y < p.3 && p.1 < y + lh } }
            let y = free ?? fits.first ?? 0
            placed.append((x, y, x + lw, y + lh))
            c.label(text, x: x, y: y, scale: s, swatch: Self.color(track: r.trackID))
        }

        // Header and the recognition mark.
        var header = "\(message.stream)  frame \(message.frame)  \(fmtTime(message.pts))  \(message.regions.count) regions"
        if BitmapFont.width(header, scale: s) + 4 * s > image.width { header = "\(message.stream) \(message.frame) \(fmtTime(message.pts))" }
        c.label(header, x: 0, y: image.height - BitmapFont.glyphHeight * s - 4 * s, scale: s)
        if let badge {
            let t = 2 * s
            c.outline(0, 0, image.width, image.height, Self.amber, thickness: t)
            c.label(badge, x: image.width - badgeWidth - t, y: t, scale: s, color: .black, backing: Self.amber, backingAlpha: 1)
        }
        return c.image
    }

    /// A box in source pixels as the picture's pixels it covers (scaled by fx, fy).
    private static func pixelBox(_ b: [Double], _ fx: Double, _ fy: Double) -> (Int, Int, Int, Int) {
        guard b.count == 4 else { return (0, 0, 0, 0) }
        return (Int((b[0] * fx).rounded(.down)), Int((b[1] * fy).rounded(.down)), Int((b[2] * fx).rounded(.up)), Int((b[3] * fy).rounded(.up)))
    }

    /// The part of a source-size mask inside `box`.
    private func crop(_ m: [Bool], width: Int, height: Int, box: [Double]) -> StoredMask? {
        guard m.count == width * height else { return nil }
        let x0 = max(0, Int(box[0])), y0 = max(0, Int(box[1]))
        let x1 = min(width, Int(box[2].rounded(.up))), y1 = min(height, Int(box[3].rounded(.up)))
        guard x1 > x0, y1 > y0 else { return nil }
        var bits = [Bool](repeating: false, count: (x1 - x0) * (y1 - y0))
        for y in y0..<y1 { for x in x0..<x1 { bits[(y - y0) * (x1 - x0) + (x - x0)] = m[y * width + x] } }
        return StoredMask(bits: bits, width: x1 - x0, height: y1 - y0)
    }
}

private func iou(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count == 4, b.count == 4 else { return 0 }
    let ix = max(0, min(a[2], b[2]) - max(a[0], b[0])), iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    let inter = ix * iy
    let u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return u > 0 ? inter / u : 0
}

func fmt2(_ v: Double) -> String {
    let n = Int((v * 100).rounded())
    return "\(n / 100).\(n % 100 < 10 ? "0" : "")\(n % 100)"
}

/// Seconds as "m:ss.sss".
func fmtTime(_ t: Double) -> String {
    let ms = Int((max(0, t) * 1000).rounded())
    let m = ms / 60_000, sec = (ms / 1000) % 60, frac = ms % 1000
    return "\(m):\(sec < 10 ? "0" : "")\(sec).\(String(repeating: "0", count: 3 - String(frac).count))\(frac)"
}
