import Foundation

/// A synthetic clip for tracking/labelling tests: two or three shapes of distinct classes,
/// each gliding and bouncing horizontally in its own band over a fixed textured
/// background, with exact per-frame boxes and stable track ids.
public enum ShapesVideo {
    public struct Frame: Sendable {
        public var rgb: [UInt8]
        public var boxes: [[Float]]  // xyxy, exclusive
        public var labels: [Int]  // ShapesDataset.classes index
        public var tracks: [Int]  // one id per shape, the same in every frame
    }

    public static func frames(seed: UInt64, count: Int, width: Int = 224, height: Int = 224, shapes: Int = 2) -> [Frame] {
        var rng = SplitMix64(seed: seed &* 0xA24B_AED4_963E_E407 &+ 7)
        func u() -> Double { rng.nextDouble() }
        let bg = ShapesDataset.background(&rng, width: width, height: height)
        let n = max(1, min(shapes, 3)), band = height / n
        var classes = Array(0..<ShapesDataset.classes.count)
        for i in stride(from: classes.count - 1, to: 0, by: -1) { classes.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        struct Mover { var c: Int, size: Int, x: Double, y: Int, v: Double }
        var movers: [Mover] = (0..<n).map { k in
            let size = min(band - 8, 56 + Int(u() * 44))
            return Mover(c: classes[k], size: size, x: u() * Double(width - size), y: k * band + (band - size) / 2, v: (2 + 3 * u()) * (u() < 0.5 ? -1 : 1))
        }
        var out: [Frame] = []
        for _ in 0..<count {
            var img = bg
            var boxes: [[Float]] = [], labels: [Int] = [], tracks: [Int] = []
            for (k, m) in movers.enumerated() {
                if let b = ShapesDataset.paint(&img, &rng, shape: m.c, x0: Int(m.x.rounded()), y0: m.y, size: m.size, width: width) {
                    boxes.append(b); labels.append(m.c); tracks.append(k + 1)
                }
            }
            out.append(Frame(rgb: img.map { UInt8(max(0, min(255, $0.rounded()))) }, boxes: boxes, labels: labels, tracks: tracks))
            for k in movers.indices {
                movers[k].x += movers[k].v
                if movers[k].x < 0 || movers[k].x > Double(width - movers[k].size) {
                    movers[k].v = -movers[k].v
                    movers[k].x = max(0, min(Double(width - movers[k].size), movers[k].x))
                }
            }
        }
        return out
    }

    /// Writes frame_%05d.png under `directory/frames` and `directory/video.json`:
    /// {"classes": [...], "width", "height", "fps", "frames": [{"index", "boxes", "labels", "tracks"}]}.
    public static func write(directory: String, seed: UInt64, count: Int, fps: Int = 10, shapes: Int = 2) throws {
        let dir = directory + "/frames"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var meta: [[String: Any]] = []
        for (i, f) in frames(seed: seed, count: count, shapes: shapes).enumerated() {
            try PNGWriter.write(rgb: f.rgb, width: 224, height: 224, to: dir + String(format: "/frame_%05d.png", i))
            meta.append(["index": i, "boxes": f.boxes.map { $0.map(Double.init) }, "labels": f.labels.map { ShapesDataset.classes[$0] }, "tracks": f.tracks])
        }
        let json: [String: Any] = ["classes": ShapesDataset.classes, "width": 224, "height": 224, "fps": fps, "frames": meta]
        try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]).write(to: URL(fileURLWithPath: directory + "/video.json"))
    }
}
