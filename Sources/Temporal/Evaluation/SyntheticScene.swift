// A synthetic scene with known ground truth for evaluating the tracker: textured
// rectangles moving over a textured static background, with random accelerations,
// wall bounces, crossings (fixed depth order, so they occlude each other), slow size
// changes, late entries and exits. Rendered as RGB24 frames; the truth is per frame
// (id, visible box, visibility). Deterministic for a given seed.

import Foundation

public struct SceneConfig: Sendable, Codable, Equatable {
    public var width = 640
    public var height = 360
    public var fps = 30
    public var seconds: Double = 20
    public var objects = 6
    /// Objects among them that enter late from an edge; as many others leave early.
    public var lateObjects = 2
    public var seed: UInt64 = 1
    /// Max speed, pixels per frame, and max acceleration, pixels per frame^2.
    public var maxSpeed: Double = 5
    public var maxAccel: Double = 0.12
    public init() {}
    public var frameCount: Int { Int((seconds * Double(fps)).rounded()) }
}

/// One object on one frame.
public struct TruthObject: Sendable, Codable, Equatable {
    public var id: Int
    /// Visible part of the object's box, clipped to the frame, xyxy.
    public var box: Box
    /// Fraction of the object's full box that is on screen and not covered by others.
    public var visibility: Float
    /// The object's class (for the label stand-ins).
    public var classIndex: Int
}

public struct SceneTruth: Sendable, Codable {
    public var config: SceneConfig
    public var frames: [[TruthObject]]
}

public struct SyntheticScene: Sendable {
    public let config: SceneConfig
    public let truth: SceneTruth
    let background: [UInt8]                  // (H, W, 3)
    let textures: [[UInt8]]                  // per object (T, T, 3)
    let fullBoxes: [[Box?]]                  // [frame][object] unclipped box, nil when absent
    static let textureSize = 64
    public static let classCount = 4

    public init(config: SceneConfig) {
        self.config = config
        var rng = SplitMix64(seed: config.seed &* 0x2545_F491_4F6C_DD1D &+ 17)
        let w = Double(config.width), h = Double(config.height), n = config.frameCount
        background = Self.makeBackground(width: config.width, height: config.height, rng: &rng)
        var textures: [[UInt8]] = []
        var boxes = [[Box?]](repeating: [Box?](repeating: nil, count: config.objects), count: n)
        var classes: [Int] = []
        for o in 0..<config.objects {
            textures.append(Self.makeTexture(rng: &rng))
            classes.append(Int(rng.next() % UInt64(Self.classCount)))
            let bw = rng.uniform(0.07, 0.14) * w, bh = rng.uniform(0.1, 0.22) * h
            let late = o >= config.objects - config.lateObjects
            let early = !late && o >= config.objects - 2 * config.lateObjects
            var start = 0, end = n
            var x = rng.uniform(bw, w - bw), y = rng.uniform(bh, h - bh)
            var vx = rng.uniform(-1, 1) * config.maxSpeed * 0.6, vy = rng.uniform(-1, 1) * config.maxSpeed * 0.4
            if late {   // enter from the left or right edge, heading in
                start = Int(rng.uniform(0.15, 0.5) * Double(n))
                let fromLeft = rng.next() % 2 == 0
                x = fromLeft ? -bw / 2 : w + bw / 2
                vx = (fromLeft ? 1 : -1) * rng.uniform(0.4, 0.8) * config.maxSpeed
            }
            if early { end = Int(rng.uniform(0.5, 0.85) * Double(n)) }
            var ax = 0.0, ay = 0.0
            let sizePhase = rng.uniform(0, 2 * .pi), sizePeriod = rng.uniform(4, 9) * Double(config.fps)
            var leaving = false
            for f in start..<n {
                if f % config.fps == 0 {   // new random acceleration each second
                    ax = rng.uniform(-1, 1) * config.maxAccel; ay = rng.uniform(-1, 1) * config.maxAccel
                }
                if f >= end && !leaving {   // head for the nearest side edge and go
                    leaving = true
                    vx = (x < w / 2 ? -1 : 1) * max(abs(vx), 0.6 * config.maxSpeed)
                }
                if !leaving { vx += ax; vy += ay }
                let speed = (vx * vx + vy * vy).squareRoot()
                if speed > config.maxSpeed { vx *= config.maxSpeed / speed; vy *= config.maxSpeed / speed }
                x += vx; y += vy
                let s = 1 + 0.15 * sin(sizePhase + 2 * .pi * Double(f) / sizePeriod)
                let cw = bw * s, ch = bh * s
                let entering = late && f < start + Int(bw / max(abs(vx), 0.5)) + 2
                if !leaving && !entering {
                    if x - cw / 2 < 0 { x = cw / 2; vx = abs(vx) }
                    if x + cw / 2 > w { x = w - cw / 2; vx = -abs(vx) }
                }
                if !leaving {
                    if y - ch / 2 < 0 { y = ch / 2; vy = abs(vy) }
                    if y + ch / 2 > h { y = h - ch / 2; vy = -abs(vy) }
                }
                boxes[f][o] = Box(cx: Float(x), cy: Float(y), width: Float(cw), height: Float(ch))
            }
        }
        self.textures = textures
        self.fullBoxes = boxes
        truth = SceneTruth(config: config, frames: Self.visibleTruth(boxes, classes: classes, config: config))
    }

    /// Truth per frame: visible boxes of objects at least 30 % on screen, with visibility
    /// measured on a quarter-resolution depth map (higher object index = nearer).
    static func visibleTruth(_ boxes: [[Box?]], classes: [Int], config: SceneConfig) -> [[TruthObject]] {
        let gw = config.width / 4, gh = config.height / 4
        var owner = [Int16](repeating: -1, count: gw * gh)
        var out: [[TruthObject]] = []
        for frame in boxes {
            for k in owner.indices { owner[k] = -1 }
            for (o, b) in frame.enumerated() {
                guard let b else { continue }
                let c = b.clipped(width: Float(config.width), height: Float(config.height))
                let x0 = Int(c.x1 / 4), x1 = min(gw, Int((c.x2 / 4).rounded(.up)))
                let y0 = Int(c.y1 / 4), y1 = min(gh, Int((c.y2 / 4).rounded(.up)))
                if x0 < x1 && y0 < y1 {
                    for y in y0..<y1 { for x in x0..<x1 { owner[y * gw + x] = Int16(o) } }
                }
            }
            var counts = [Int](repeating: 0, count: frame.count)
            for v in owner where v >= 0 { counts[Int(v)] += 1 }
            var objects: [TruthObject] = []
            for (o, b) in frame.enumerated() {
                guard let b else { continue }
                let c = b.clipped(width: Float(config.width), height: Float(config.height))
                guard c.area >= 0.3 * b.area else { continue }
                let vis = Float(counts[o] * 16) / max(b.area, 1)
                objects.append(TruthObject(id: o, box: c, visibility: min(vis, 1), classIndex: classes[o]))
            }
            out.append(objects)
        }
        return out
    }

    /// Frame `f` as RGB24, (H, W, 3), into `rgb` (resized as needed).
    public func render(frame f: Int, into rgb: inout [UInt8]) {
        let W = config.width, H = config.height, T = Self.textureSize
        if rgb.count != W * H * 3 { rgb = [UInt8](repeating: 0, count: W * H * 3) }
        rgb.withUnsafeMutableBufferPointer { dst in
            background.withUnsafeBufferPointer { bg in
                dst.baseAddress!.update(from: bg.baseAddress!, count: W * H * 3)
            }
            for (o, b) in fullBoxes[f].enumerated() {
                guard let b else { continue }
                let c = b.clipped(width: Float(W), height: Float(H))
                let x0 = Int(c.x1.rounded()), x1 = Int(c.x2.rounded()), y0 = Int(c.y1.rounded()), y1 = Int(c.y2.rounded())
                guard x0 < x1, y0 < y1 else { continue }
                let sx = Float(T) / b.width, sy = Float(T) / b.height
                textures[o].withUnsafeBufferPointer { tex in
                    for y in y0..<y1 {
                        let ty = min(T - 1, max(0, Int((Float(y) + 0.5 - b.y1) * sy)))
                        for x in x0..<x1 {
                            let tx = min(T - 1, max(0, Int((Float(x) + 0.5 - b.x1) * sx)))
                            let s = (ty * T + tx) * 3, d = (y * W + x) * 3
                            dst[d] = tex[s]; dst[d + 1] = tex[s + 1]; dst[d + 2] = tex[s + 2]
                        }
                    }
                }
            }
        }
    }

    /// Smooth colour blobs plus fine grain, so the encoder finds real (zero) motion there.
    static func makeBackground(width: Int, height: Int, rng: inout SplitMix64) -> [UInt8] {
        let cell = 40
        let gw = width / cell + 2, gh = height / cell + 2
        var grid = [Float](repeating: 0, count: gw * gh * 3)
        for k in grid.indices { grid[k] = Float(rng.uniform(50, 200)) }
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let gy = Float(y) / Float(cell), iy = Int(gy), fy = gy - Float(iy)
            for x in 0..<width {
                let gx = Float(x) / Float(cell), ix = Int(gx), fx = gx - Float(ix)
                let grain = Float(rng.next() % 41) - 20
                for ch in 0..<3 {
                    let a = grid[(iy * gw + ix) * 3 + ch], b = grid[(iy * gw + ix + 1) * 3 + ch]
                    let c = grid[((iy + 1) * gw + ix) * 3 + ch], d = grid[((iy + 1) * gw + ix + 1) * 3 + ch]
                    let v = (a * (1 - fx) + b * fx) * (1 - fy) + (c * (1 - fx) + d * fx) * fy + grain
                    out[(y * width + x) * 3 + ch] = UInt8(min(max(v, 0), 255))
                }
            }
        }
        return out
    }

    /// A bold per-object pattern: 8x8 cells in two colours at random (not periodic, so the
    /// encoder's motion search cannot lock onto a wrong period), with noise.
    static func makeTexture(rng: inout SplitMix64) -> [UInt8] {
        let T = textureSize
        let base = (0..<3).map { _ in Float(rng.uniform(30, 225)) }
        let alt = (0..<3).map { _ in Float(rng.uniform(30, 225)) }
        let cells = (0..<(T / 8) * (T / 8)).map { _ in rng.next() % 2 == 0 }
        var out = [UInt8](repeating: 0, count: T * T * 3)
        for y in 0..<T {
            for x in 0..<T {
                let checker = cells[(y / 8) * (T / 8) + x / 8]
                let n = Float(rng.next() % 61) - 30
                for ch in 0..<3 {
                    let v = (checker ? base[ch] : alt[ch]) + n
                    out[(y * T + x) * 3 + ch] = UInt8(min(max(v, 0), 255))
                }
            }
        }
        return out
    }
}
