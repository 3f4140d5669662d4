import Foundation

/// Synthetic detection data that a head can only label right by learning: coloured
/// shapes ("red square", "blue circle", "green triangle", "yellow star") of varied sizes
/// on textured backgrounds, with exact boxes. Deterministic in the seed.
public enum ShapesDataset {
    public static let classes = ["red square", "blue circle", "green triangle", "yellow star"]
    static let colors: [(Double, Double, Double)] = [(220, 40, 40), (40, 70, 225), (40, 180, 60), (240, 215, 40)]

    public struct Picture: Sendable {
        public var rgb: [UInt8], width: Int, height: Int
        public var boxes: [[Float]]  // xyxy (exclusive right/bottom), pixels
        public var labels: [Int]  // index into `classes`
    }

    /// Picture number `index` of the stream seeded with `seed`.
    public static func picture(seed: UInt64, index: Int, width: Int = 224, height: Int = 224, maxShapes: Int = 3, sizes: ClosedRange<Int> = 36...96) -> Picture {
        var rng = SplitMix64(seed: seed &* 0x9E37_79B9 &+ UInt64(index) &* 0x85EB_CA6B &+ 1)
        func u() -> Double { rng.nextDouble() }
        var img = background(&rng, width: width, height: height)
        var boxes: [[Float]] = [], labels: [Int] = []
        let count = 1 + Int(u() * Double(maxShapes))
        var tries = 0
        while labels.count < count && tries < 60 {
            tries += 1
            let size = min(sizes.lowerBound + Int(u() * Double(sizes.count)), min(width, height) - 1)
            let x0 = Int(u() * Double(width - size)), y0 = Int(u() * Double(height - size))
            let box = [Float(x0), Float(y0), Float(x0 + size), Float(y0 + size)]
            if boxes.contains(where: { overlaps($0, box, margin: 4) }) { continue }
            let c = Int(u() * Double(classes.count))
            guard let b = paint(&img, &rng, shape: c, x0: x0, y0: y0, size: size, width: width) else { continue }
            boxes.append(b)
            labels.append(c)
        }
        return Picture(rgb: img.map { UInt8(max(0, min(255, $0.rounded()))) }, width: width, height: height, boxes: boxes, labels: labels)
    }

    /// Muted base colour, a sinusoidal grating at a random angle, per-pixel noise.
    static func background(_ rng: inout SplitMix64, width: Int, height: Int) -> [Double] {
        func u() -> Double { rng.nextDouble() }
        let base = (50 + 140 * u(), 50 + 140 * u(), 50 + 140 * u())
        let grey = (base.0 + base.1 + base.2) / 3
        let bg = (0.5 * base.0 + 0.5 * grey, 0.5 * base.1 + 0.5 * grey, 0.5 * base.2 + 0.5 * grey)
        let angle = u() * .pi, freq = 0.05 + 0.25 * u(), amp = 15 + 30 * u()
        var img = [Double](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let s = amp * sin(freq * (Double(x) * cos(angle) + Double(y) * sin(angle)))
                let i = (y * width + x) * 3
                img[i] = bg.0 + s + 24 * (u() - 0.5); img[i + 1] = bg.1 + s + 24 * (u() - 0.5); img[i + 2] = bg.2 + s + 24 * (u() - 0.5)
            }
        }
        return img
    }

    /// Paints shape `c` in the size x size square at (x0, y0) with a jittered class colour;
    /// returns its tight box (xyxy, exclusive), nil if no pixel was inside.
    static func paint(_ img: inout [Double], _ rng: inout SplitMix64, shape c: Int, x0: Int, y0: Int, size: Int, width: Int) -> [Float]? {
        func u() -> Double { rng.nextDouble() }
        let col = colors[c]
        let jitter = (20 * (u() - 0.5), 20 * (u() - 0.5), 20 * (u() - 0.5))
        let height = img.count / (3 * width)
        var minX = width, minY = height, maxX = -1, maxY = -1
        for y in max(0, y0)..<min(height, y0 + size) {
            for x in max(0, x0)..<min(width, x0 + size) where inside(c, (Double(x - x0) + 0.5) / Double(size), (Double(y - y0) + 0.5) / Double(size)) {
                let i = (y * width + x) * 3
                img[i] = col.0 + jitter.0 + 10 * (u() - 0.5); img[i + 1] = col.1 + jitter.1 + 10 * (u() - 0.5); img[i + 2] = col.2 + jitter.2 + 10 * (u() - 0.5)
                minX = min(minX, x); minY = min(minY, y); maxX = max(maxX, x); maxY = max(maxY, y)
            }
        }
        return maxX >= 0 ? [Float(minX), Float(minY), Float(maxX + 1), Float(maxY + 1)] : nil
    }

    static func overlaps(_ a: [Float], _ b: [Float], margin: Float) -> Bool {
        a[0] - margin < b[2] && b[0] - margin < a[2] && a[1] - margin < b[3] && b[1] - margin < a[3]
    }

    /// Whether the unit-square point (u, v) is inside shape `c`.
    static func inside(_ c: Int, _ u: Double, _ v: Double) -> Bool {
        switch c {
        case 0: return true  // square: the whole box
        case 1: return (u - 0.5) * (u - 0.5) + (v - 0.5) * (v - 0.5) <= 0.25  // circle
        case 2: return v >= 2 * abs(u - 0.5)  // triangle, apex up, base at the bottom
        default:  // five-pointed star, outer radius 0.5, inner 0.2
            let x = u - 0.5, y = 0.5 - v
            var pts: [(Double, Double)] = []
            for k in 0..<10 {
                let r = k % 2 == 0 ? 0.5 : 0.2, a = Double.pi / 2 + Double(k) * .pi / 5
                pts.append((r * cos(a), r * sin(a)))
            }
            var inside = false, j = pts.count - 1
            for i in 0..<pts.count {
                if (pts[i].1 > y) != (pts[j].1 > y) && x < (pts[j].0 - pts[i].0) * (y - pts[i].1) / (pts[j].1 - pts[i].1) + pts[i].0 { inside.toggle() }
                j = i
            }
            return inside
        }
    }

    /// Writes `count` pictures as PNGs under `directory/images` and COCO JSON files:
    /// the first `count - valCount` to train.json, the rest to val.json.
    public static func write(directory: String, count: Int, valCount: Int, seed: UInt64, maxShapes: Int = 3, sizes: ClosedRange<Int> = 36...96, style: ShapesStyle = ShapesStyle(), progress: (Int) -> Void = { _ in }) throws {
        let imgDir = directory + "/images"
        try FileManager.default.createDirectory(atPath: imgDir, withIntermediateDirectories: true)
        let cats = classes.enumerated().map { ["id": $0.offset + 1, "name": $0.element] as [String: Any] }
        var sets: [(name: String, images: [[String: Any]], anns: [[String: Any]])] = [("train.json", [], []), ("val.json", [], [])]
        var annID = 1
        for i in 0..<count {
            let p = picture(seed: seed, index: i, maxShapes: maxShapes, sizes: sizes, style: style)
            let name = String(format: "shape_%05d.png", i)
            try PNGWriter.write(rgb: p.rgb, width: p.width, height: p.height, to: imgDir + "/" + name)
            let s = i < count - valCount ? 0 : 1
            sets[s].images.append(["id": i + 1, "file_name": name, "width": p.width, "height": p.height])
            for (b, l) in zip(p.boxes, p.labels) {
                let w = b[2] - b[0], h = b[3] - b[1]
                sets[s].anns.append(["id": annID, "image_id": i + 1, "category_id": l + 1, "bbox": [b[0], b[1], w, h].map(Double.init), "area": Double(w * h), "iscrowd": 0])
                annID += 1
            }
            progress(i + 1)
        }
        for s in sets where !s.images.isEmpty {
            let json: [String: Any] = ["images": s.images, "annotations": s.anns, "categories": cats]
            try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: directory + "/" + s.name))
        }
    }
}
