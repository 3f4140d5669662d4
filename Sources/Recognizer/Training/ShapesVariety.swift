import Foundation

/// Variety for the shapes data beyond the original pictures (which the default reproduces
/// exactly): a random resolution per picture, several kinds of background, sizes scaled
/// with the resolution, and shapes that may overlap (occlude) each other.
public struct ShapesStyle: Sendable, Equatable {
    /// Width and height drawn independently per picture from this range (nil: the given size).
    public var resolution: ClosedRange<Int>?
    /// Backgrounds of several kinds (grating, flat, gradient, checks/stripes, blotches)
    /// instead of the grating only.
    public var variedBackgrounds = false
    /// Shapes may overlap; a shape keeps at least `minVisible` of its pixels, and its box is
    /// the box of its visible pixels (what a detector or a motion mask would see).
    public var overlap = false
    public var minVisible = 0.5
    /// `sizes` are for a 224-pixel shorter side and scale with the picture's.
    public var scaleSizes = false
    /// Share of the shapes placed across an edge of the picture, 30-90 % of them inside
    /// (objects entering or leaving a video frame); their box is the visible part's.
    public var edgeFraction = 0.0
    public init(resolution: ClosedRange<Int>? = nil, variedBackgrounds: Bool = false, overlap: Bool = false, scaleSizes: Bool = false) {
        self.resolution = resolution; self.variedBackgrounds = variedBackgrounds; self.overlap = overlap; self.scaleSizes = scaleSizes
    }
    public var isDefault: Bool { self == ShapesStyle() }
}

extension ShapesDataset {
    /// Picture `index` of the stream `seed` drawn with `style` (the default style is `picture`).
    public static func picture(seed: UInt64, index: Int, width: Int = 224, height: Int = 224, maxShapes: Int = 3, sizes: ClosedRange<Int> = 36...96, style: ShapesStyle) -> Picture {
        if style.isDefault { return picture(seed: seed, index: index, width: width, height: height, maxShapes: maxShapes, sizes: sizes) }
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(index) &* 0x85EB_CA6B &+ 0x5171_E5)
        func u() -> Double { rng.nextDouble() }
        var w = width, h = height
        if let r = style.resolution { w = r.lowerBound + Int(u() * Double(r.count)); h = r.lowerBound + Int(u() * Double(r.count)) }
        var lo = sizes.lowerBound, hi = sizes.upperBound
        if style.scaleSizes {
            let f = Double(min(w, h)) / 224
            lo = max(8, Int((Double(lo) * f).rounded())); hi = max(lo, Int((Double(hi) * f).rounded()))
        }
        var img = style.variedBackgrounds ? variedBackground(&rng, width: w, height: h) : background(&rng, width: w, height: h)
        var owner = [Int32](repeating: -1, count: w * h)
        var painted: [Int] = [], visible: [Int] = [], labels: [Int] = []
        let count = 1 + Int(u() * Double(maxShapes))
        var squares: [[Float]] = [], tries = 0
        while labels.count < count && tries < 80 {
            tries += 1
            let size = min(lo + Int(u() * Double(hi - lo + 1)), min(w, h) - 1)
            var x0 = Int(u() * Double(w - size)), y0 = Int(u() * Double(h - size))
            if style.edgeFraction > 0, u() < style.edgeFraction {  // draws nothing more otherwise
                let inside = Int((0.3 + 0.6 * u()) * Double(size))
                switch Int(u() * 4) {
                case 0: x0 = inside - size
                case 1: x0 = w - inside
                case 2: y0 = inside - size
                default: y0 = h - inside
                }
            }
            let square = [Float(x0), Float(y0), Float(x0 + size), Float(y0 + size)]
            if !style.overlap && squares.contains(where: { overlaps($0, square, margin: 4) }) { continue }
            let c = Int(u() * Double(classes.count))
            // pixels of the new shape, and how much of each earlier shape it would hide
            var pixels: [Int] = [], hidden = [Int](repeating: 0, count: labels.count)
            for y in max(0, y0)..<min(h, y0 + size) {
                for x in max(0, x0)..<min(w, x0 + size) where inside(c, (Double(x - x0) + 0.5) / Double(size), (Double(y - y0) + 0.5) / Double(size)) {
                    let i = y * w + x
                    pixels.append(i)
                    if owner[i] >= 0 { hidden[Int(owner[i])] += 1 }
                }
            }
            guard !pixels.isEmpty else { continue }
            if labels.indices.contains(where: { Double(visible[$0] - hidden[$0]) < style.minVisible * Double(painted[$0]) }) { continue }
            let col = colors[c], jitter = (20 * (u() - 0.5), 20 * (u() - 0.5), 20 * (u() - 0.5))
            for i in pixels {
                img[i * 3] = col.0 + jitter.0 + 10 * (u() - 0.5); img[i * 3 + 1] = col.1 + jitter.1 + 10 * (u() - 0.5); img[i * 3 + 2] = col.2 + jitter.2 + 10 * (u() - 0.5)
                owner[i] = Int32(labels.count)
            }
            for k in hidden.indices { visible[k] -= hidden[k] }
            squares.append(square); painted.append(pixels.count); visible.append(pixels.count); labels.append(c)
        }
        // boxes of the visible pixels
        var box = [[Int]](repeating: [w, h, -1, -1], count: labels.count)
        for y in 0..<h {
            for x in 0..<w where owner[y * w + x] >= 0 {
                let k = Int(owner[y * w + x])
                box[k] = [min(box[k][0], x), min(box[k][1], y), max(box[k][2], x), max(box[k][3], y)]
            }
        }
        return Picture(rgb: img.map { UInt8(max(0, min(255, $0.rounded()))) }, width: w, height: h,
                       boxes: box.map { [Float($0[0]), Float($0[1]), Float($0[2] + 1), Float($0[3] + 1)] }, labels: labels)
    }

    /// One of: the grating, a flat colour, a two-colour linear gradient, checks or stripes,
    /// or soft blotches of several colours; all with per-pixel noise.
    static func variedBackground(_ rng: inout SplitMix64, width: Int, height: Int) -> [Double] {
        func u() -> Double { rng.nextDouble() }
        let kind = Int(u() * 5)
        if kind == 0 { return background(&rng, width: width, height: height) }
        func colour() -> (Double, Double, Double) {
            let base = (30 + 190 * u(), 30 + 190 * u(), 30 + 190 * u()), grey = (base.0 + base.1 + base.2) / 3, s = 0.3 + 0.5 * u()
            return (s * base.0 + (1 - s) * grey, s * base.1 + (1 - s) * grey, s * base.2 + (1 - s) * grey)
        }
        let a = colour(), b = colour(), noise = 8 + 30 * u()
        let angle = u() * .pi, period = 6 + 40 * u(), checks = u() < 0.5
        let blobs = (0..<(3 + Int(u() * 4))).map { _ in (u() * Double(width), u() * Double(height), (0.1 + 0.3 * u()) * Double(max(width, height)), colour()) }
        var img = [Double](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                var c: (Double, Double, Double)
                switch kind {
                case 1: c = a
                case 2:
                    let t = 0.5 + 0.5 * ((Double(x) / Double(width) - 0.5) * cos(angle) + (Double(y) / Double(height) - 0.5) * sin(angle)) * 1.4
                    let f = max(0, min(1, t))
                    c = (a.0 + (b.0 - a.0) * f, a.1 + (b.1 - a.1) * f, a.2 + (b.2 - a.2) * f)
                case 3:
                    let i = Int(floor(Double(x) / period)), j = Int(floor(Double(y) / period))
                    let s = Int(floor((Double(x) * cos(angle) + Double(y) * sin(angle)) / period))
                    c = (checks ? (i + j) : s) & 1 == 0 ? a : b
                default:
                    var wsum = 1.0
                    c = a
                    for (bx, by, r, bc) in blobs {
                        let d2 = ((Double(x) - bx) * (Double(x) - bx) + (Double(y) - by) * (Double(y) - by)) / (r * r)
                        let wt = exp(-d2) * 3
                        c = (c.0 + wt * bc.0, c.1 + wt * bc.1, c.2 + wt * bc.2); wsum += wt
                    }
                    c = (c.0 / wsum, c.1 / wsum, c.2 / wsum)
                }
                let i = (y * width + x) * 3
                img[i] = c.0 + noise * (u() - 0.5); img[i + 1] = c.1 + noise * (u() - 0.5); img[i + 2] = c.2 + noise * (u() - 0.5)
            }
        }
        return img
    }
}
