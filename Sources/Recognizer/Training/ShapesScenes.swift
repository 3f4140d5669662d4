import Foundation

/// Scenes for measuring the whole product on video: 2-5 shapes of ShapesDataset's classes
/// at a time ENTER the frame from outside, cross it on straight paths through its middle
/// (so they cross each other and occlude in a fixed depth order) and LEAVE; each slot then
/// spawns a new shape (new track id, class, size, speed, direction) after a short pause.
/// Background texture, sizes, speeds and paths vary with the seed. Exact per-frame truth:
/// the tight box of the shape's pixels on screen (clipped to the frame), its class, a
/// stable track id, and its visibility (the fraction of the whole shape that is on screen
/// and not covered by a nearer shape).
public enum ShapesScenes {
    public struct Options: Sendable, Equatable {
        public var width = 640
        public var height = 360
        /// Shapes on screen at a time (slots), 2...5.
        public var objects = 4
        public var seed: UInt64 = 1000
        public var frames = 180
        /// Shape size range in pixels (clamped to 45 % of the smaller frame side).
        public var sizes: ClosedRange<Int> = 50...110
        public init(width: Int = 640, height: Int = 360, objects: Int = 4, seed: UInt64 = 1000, frames: Int = 180) {
            self.width = width; self.height = height; self.objects = objects; self.seed = seed; self.frames = frames
        }
    }

    public struct Frame: Sendable {
        public var rgb: [UInt8]
        public var boxes: [[Float]]  // xyxy, exclusive, clipped to the frame
        public var labels: [Int]  // ShapesDataset.classes index
        public var tracks: [Int]
        public var visibility: [Double]
    }

    struct Mover {
        var id: Int, c: Int, size: Int, depth: Double, colorSeed: UInt64
        var x: Double, y: Double, vx: Double, vy: Double  // centre, pixels per frame
        var entered = false
    }

    /// Renders the scene frame by frame (one frame in memory at a time).
    public static func render(_ o: Options, _ body: (Int, Frame) throws -> Void) rethrows {
        let w = o.width, h = o.height
        var rng = SplitMix64(seed: o.seed &* 0xD1B5_4A32_D192_ED03 &+ 0x5CE7E5)
        func u() -> Double { rng.nextDouble() }
        let bg = ShapesDataset.background(&rng, width: w, height: h)
        // Speed scale of this scene (pixels per frame relative to a 320x240 frame's diagonal).
        let speedScale = (0.7 + 0.6 * u()) * (Double(w * w + h * h).squareRoot() / 400)
        let maxSize = max(8, min(o.sizes.upperBound, Int(0.45 * Double(min(w, h)))))
        let minSize = min(o.sizes.lowerBound, maxSize)
        var nextID = 1
        var slots: [Mover?] = Array(repeating: nil, count: max(1, o.objects))
        // First arrivals staggered over the first ~2 s, later ones after a 0.3-2.5 s pause.
        var spawnAt = (0..<slots.count).map { k in k * 6 + Int(u() * 12) }
        var areaCache: [Int: Int] = [:]
        var bag: [Int] = []

        func spawn() -> Mover {
            let size = minSize + Int(u() * Double(maxSize - minSize + 1))
            // Classes from a shuffled bag (refilled when empty): every class shows up.
            if bag.isEmpty {
                bag = Array(0..<ShapesDataset.classes.count)
                for i in stride(from: bag.count - 1, to: 0, by: -1) { bag.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
            }
            let c = bag.removeLast()
            // A straight path through a point of the frame's middle, from outside to outside:
            // paths of shapes on screen together cross.
            let tx = Double(w) * (0.3 + 0.4 * u()), ty = Double(h) * (0.3 + 0.4 * u())
            let angle = u() * 2 * .pi
            let speed = (2.5 + 4 * u()) * speedScale
            let dx = cos(angle), dy = sin(angle)
            var x = tx, y = ty
            let half = Double(size) / 2 + 1
            while x + half > 0 && x - half < Double(w) && y + half > 0 && y - half < Double(h) { x -= dx; y -= dy }
            defer { nextID += 1 }
            return Mover(id: nextID, c: c, size: size, depth: u(), colorSeed: rng.next(), x: x, y: y, vx: dx * speed, vy: dy * speed)
        }

        for f in 0..<o.frames {
            for k in slots.indices where slots[k] == nil && f >= spawnAt[k] { slots[k] = spawn() }
            var img = bg
            var owner = [Int32](repeating: -1, count: w * h)
            let movers = slots.compactMap { $0 }.sorted { $0.depth < $1.depth }
            var painted: [(m: Mover, box: [Float])] = []
            for (n, m) in movers.enumerated() {
                let x0 = Int((m.x - Double(m.size) / 2).rounded()), y0 = Int((m.y - Double(m.size) / 2).rounded())
                guard x0 < w, y0 < h, x0 + m.size > 0, y0 + m.size > 0 else { continue }  // wholly off screen
                // The same colour jitter and texture every frame: the shape moves rigidly.
                var colorRNG = SplitMix64(seed: m.colorSeed)
                guard let box = ShapesDataset.paint(&img, &colorRNG, shape: m.c, x0: x0, y0: y0, size: m.size, width: w) else { continue }
                for y in max(0, y0)..<min(h, y0 + m.size) {
                    for x in max(0, x0)..<min(w, x0 + m.size)
                    where ShapesDataset.inside(m.c, (Double(x - x0) + 0.5) / Double(m.size), (Double(y - y0) + 0.5) / Double(m.size)) {
                        owner[y * w + x] = Int32(n)
                    }
                }
                painted.append((m, box))
            }
            var visible = [Int](repeating: 0, count: movers.count)
            for p in owner where p >= 0 { visible[Int(p)] += 1 }
            var frame = Frame(rgb: img.map { UInt8(max(0, min(255, $0.rounded()))) }, boxes: [], labels: [], tracks: [], visibility: [])
            for (m, box) in painted.sorted(by: { $0.m.id < $1.m.id }) {
                let n = movers.firstIndex { $0.id == m.id }!
                let key = m.c * 1000 + m.size
                let area = areaCache[key] ?? fullArea(m.c, m.size)
                areaCache[key] = area
                frame.boxes.append(box)
                frame.labels.append(m.c)
                frame.tracks.append(m.id)
                frame.visibility.append((Double(visible[n]) / Double(max(1, area)) * 1000).rounded() / 1000)
            }
            try body(f, frame)
            // Move; a shape that has been on screen and is now wholly off it has left.
            for k in slots.indices {
                guard var m = slots[k] else { continue }
                let half = Double(m.size) / 2
                let onScreen = m.x + half > 0 && m.x - half < Double(w) && m.y + half > 0 && m.y - half < Double(h)
                if onScreen { m.entered = true }
                if m.entered && !onScreen {
                    slots[k] = nil
                    spawnAt[k] = f + 3 + Int(u() * 22)
                    continue
                }
                m.x += m.vx; m.y += m.vy
                slots[k] = m
            }
        }
    }

    /// Pixels of shape `c` at `size` (the whole shape, as `paint` samples it).
    static func fullArea(_ c: Int, _ size: Int) -> Int {
        var n = 0
        for y in 0..<size {
            for x in 0..<size where ShapesDataset.inside(c, (Double(x) + 0.5) / Double(size), (Double(y) + 0.5) / Double(size)) { n += 1 }
        }
        return n
    }

    /// video.json as ShapesVideo.write writes it, with each box's visibility and the scene's
    /// parameters: {"classes", "width", "height", "fps", "scene", "seed", "objects",
    /// "frames": [{"index", "boxes", "labels", "tracks", "visibility"}]}.
    public static func videoJSON(_ frames: [(boxes: [[Float]], labels: [Int], tracks: [Int], visibility: [Double])],
                                 options o: Options, fps: Int) throws -> Data {
        let meta: [[String: Any]] = frames.enumerated().map { i, f in
            ["index": i, "boxes": f.boxes.map { $0.map(Double.init) }, "labels": f.labels.map { ShapesDataset.classes[$0] },
             "tracks": f.tracks, "visibility": f.visibility]
        }
        let json: [String: Any] = ["classes": ShapesDataset.classes, "width": o.width, "height": o.height, "fps": fps,
                                   "scene": "crossing", "seed": NSNumber(value: o.seed), "objects": o.objects, "frames": meta]
        return try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])
    }
}
