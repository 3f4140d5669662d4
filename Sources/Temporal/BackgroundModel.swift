// Pixel-tight moving regions: a running background of the stream's picture (Y, U, V) at
// reduced resolution, and the connected components of what differs from it. The codec's motion
// vectors mark 16-pixel blocks and merge neighbouring movers; the difference against a
// background follows the object's own pixels, so a proposal's box is the object's box
// (to a cell of `scale` source pixels).
//
//   var bg = BackgroundModel(config)
//   every decoded frame:  bg.update(yuv, width: w, height: h, scale: s)   // [h*w*3] bytes
//   on a keyframe:        bg.regions() -> [MotionRegion]   (source pixels, largest first)
//
// Foreground = |Y - Yb| + |U - Ub| + |V - Vb| > threshold (chroma matters: a blue object
// on a grey wall of the same brightness). The background follows the scene with
// rate `learningRate` where it is background and `foregroundRate` where it is not, so a
// mover never burns in. A patch of foreground none of whose pixels changed for
// `stillFrames` frames is background at once: the ghost an object leaves where it stood when
// the model started, and an object that stopped (its track keeps it from then on). The
// patch, not the pixel: a slow object of one colour keeps its inside unchanged for many
// frames, and absorbing that inside would leave a ghost trail behind it as it moves on
// (a pixel still for `4 x stillFrames` frames is absorbed alone). In a patch that still
// moves, still parts that look like the background beside them are absorbed: an object
// gliding slowly off where it stood at the start drags its ghost along otherwise. A region is proposed only
// while it moves: at least `minMovingShare` of its pixels changed since the last frame. When
// more than `maxForegroundFraction` of the picture differs (a camera pan, a cut, a light
// switched on) the model restarts from the current picture and proposes nothing: global
// change must never become one frame-sized proposal.

public struct BackgroundConfig: Sendable, Equatable {
    /// Summed Y/U/V difference (0...765) that marks a pixel as foreground.
    public var threshold: Float = 30
    /// Per-frame adaptation where the picture matches the background.
    public var learningRate: Float = 0.05
    /// Per-frame adaptation where it does not (an object at rest fades in ~ 1/rate frames).
    public var foregroundRate: Float = 0.005
    /// Frames seen before the model proposes anything (> stillFrames: the ghosts of
    /// objects that stood in the first picture are gone by then).
    public var warmupFrames: Int = 14
    /// Frames a patch of foreground may stay unchanged before it becomes background.
    public var stillFrames: Int = 12
    /// A patch counts as unchanged while at most this share of its pixels changed lately
    /// (noise at its rim must not keep a ghost alive).
    public var stillPatchTolerance: Float = 0.05
    /// Absorb the still parts of a moving patch that look like the background around them
    /// (`absorbRevealedBackground`: an object gliding off where it stood when the model started).
    public var absorbRevealed = true
    /// Summed Y/U/V change between consecutive frames that counts as "changed".
    public var changeThreshold: Float = 14
    /// A region is proposed only when this share of its pixels changed on the last frame:
    /// as much as `stillPatchTolerance` (what changes less is still). A large object moving
    /// slowly changes little of itself a frame (a 94 px circle at 2 px a frame: 9%; at 0.1
    /// it went unproposed for 3 s on the shapes scenes).
    public var minMovingShare: Float = 0.05
    /// Foreground closer than this many cells joins one region (bridges holes where an
    /// object's colour matches the background).
    public var joinCells: Int = 2
    /// Above this share of foreground pixels the scene changed as a whole: restart.
    public var maxForegroundFraction: Float = 0.4
    /// Components smaller than this many cells are noise.
    public var minCells: Int = 12
    /// Components whose box is smaller than this (source pixels squared) are dropped.
    public var minArea: Float = 16 * 16
    /// A cell counts as foreground when at least this many of its 3x3 neighbours do
    /// (cleans isolated noise and fills one-cell holes).
    public var minNeighbours: Int = 3
    public var maxRegions: Int = 32
    public init() {}
}

public struct BackgroundModel: Sendable {
    public var config: BackgroundConfig
    public private(set) var width = 0, height = 0
    /// Source pixels per model cell.
    public private(set) var scale: Float = 1
    public private(set) var frames = 0
    /// Frames the model restarted on because too much changed.
    public private(set) var restarts = 0
    var mean: [Float] = []
    var foreground: [Bool] = []
    var previous: [UInt8] = []
    var changed: [Bool] = []
    var still: [UInt16] = []

    public init(_ config: BackgroundConfig = BackgroundConfig()) { self.config = config }

    /// Folds one picture in. `luma` holds `width x height x 3` bytes (Y, U, V per pixel);
    /// `scale` is the source pixels per model pixel (for boxes in source coordinates).
    public mutating func update(_ luma: [UInt8], width w: Int, height h: Int, scale s: Float) {
        guard w > 0, h > 0, luma.count == w * h * 3 else { return }
        if w != width || h != height || frames == 0 {
            width = w; height = h; scale = s
            restart(luma)
            return
        }
        let c = config
        var count = 0
        let aloneLimit = UInt16(clamping: 4 * c.stillFrames)
        luma.withUnsafeBufferPointer { x in
          previous.withUnsafeBufferPointer { p in
            mean.withUnsafeMutableBufferPointer { m in
              foreground.withUnsafeMutableBufferPointer { f in
                changed.withUnsafeMutableBufferPointer { ch in
                  still.withUnsafeMutableBufferPointer { st in
                    for i in 0..<(w * h) {
                        let k = 3 * i
                        let v0 = Float(x[k]), v1 = Float(x[k + 1]), v2 = Float(x[k + 2])
                        let d0 = v0 - m[k], d1 = v1 - m[k + 1], d2 = v2 - m[k + 2]
                        let moved = abs(v0 - Float(p[k])) + abs(v1 - Float(p[k + 1])) + abs(v2 - Float(p[k + 2])) > c.changeThreshold
                        ch[i] = moved
                        var fg = abs(d0) + abs(d1) + abs(d2) > c.threshold
                        if fg && !moved { st[i] = st[i] &+ 1 } else { st[i] = 0 }
                        if fg && st[i] >= aloneLimit {  // burnt in, whatever moves beside it
                            m[k] = v0; m[k + 1] = v1; m[k + 2] = v2; st[i] = 0; fg = false
                        } else {
                            let r = fg ? c.foregroundRate : c.learningRate
                            m[k] += r * d0; m[k + 1] += r * d1; m[k + 2] += r * d2
                        }
                        f[i] = fg
                        if fg { count += 1 }
                    }
                  }
                }
              }
            }
          }
        }
        count -= absorbStillPatches(luma)
        previous = luma
        frames += 1
        if Float(count) > c.maxForegroundFraction * Float(w * h) {
            restart(luma)
            restarts += 1
        }
    }

    /// Makes background of every 8-connected patch of foreground that has not changed for
    /// `stillFrames` frames, but for at most `stillPatchTolerance` of its pixels (which stay
    /// foreground: noise at a ghost's rim, or someone walking across a large still patch).
    /// Returns the number of pixels absorbed.
    mutating func absorbStillPatches(_ luma: [UInt8]) -> Int {
        let w = width, h = height, limit = UInt16(clamping: config.stillFrames)
        var seen = [Bool](repeating: false, count: w * h)
        var patch: [Int] = [], stack: [Int] = []
        var absorbed = 0
        for start in 0..<(w * h) where foreground[start] && !seen[start] {
            patch.removeAll(keepingCapacity: true)
            seen[start] = true
            stack.append(start)
            var recent = 0
            while let i = stack.popLast() {
                patch.append(i)
                if still[i] < limit { recent += 1 }
                let x = i % w, y = i / w
                for yy in max(0, y - 1)...min(h - 1, y + 1) {
                    for xx in max(0, x - 1)...min(w - 1, x + 1) {
                        let j = yy * w + xx
                        if foreground[j] && !seen[j] { seen[j] = true; stack.append(j) }
                    }
                }
            }
            guard Float(recent) <= config.stillPatchTolerance * Float(patch.count) else {
                if config.absorbRevealed { absorbed += absorbRevealedBackground(patch, luma) }
                continue
            }
            for i in patch where still[i] >= limit {  // what changed lately stays foreground
                let k = 3 * i
                mean[k] = Float(luma[k]); mean[k + 1] = Float(luma[k + 1]); mean[k + 2] = Float(luma[k + 2])
                still[i] = 0
                foreground[i] = false
            }
            absorbed += patch.count - recent
        }
        return absorbed
    }

    /// In a patch that still moves, its still parts that look like the background around
    /// them: the ghost of an object that stood in the first picture and is gliding off it,
    /// joined to the object itself (so the patch is never still as a whole, and the box
    /// would stretch back to where the object stood). Each 8-connected still part is
    /// compared (mean Y, U, V of the picture) with the background pixels within two
    /// cells of it; the inside of a slow object of one colour looks like the object, not
    /// like what is around it, and stays. Returns the number of pixels absorbed.
    mutating func absorbRevealedBackground(_ patch: [Int], _ luma: [UInt8]) -> Int {
        let w = width, h = height, limit = UInt16(clamping: config.stillFrames)
        var done = Set<Int>(), stack: [Int] = [], part: [Int] = [], absorbed = 0
        for start in patch where still[start] >= limit && !done.contains(start) {
            part.removeAll(keepingCapacity: true)
            done.insert(start); stack.append(start)
            var inner: [Float] = [0, 0, 0], ring: [Float] = [0, 0, 0], ringCount = 0
            var ringSeen = Set<Int>()
            while let i = stack.popLast() {
                part.append(i)
                for c in 0..<3 { inner[c] += Float(luma[3 * i + c]) }
                let x = i % w, y = i / w
                for yy in max(0, y - 2)...min(h - 1, y + 2) {
                    for xx in max(0, x - 2)...min(w - 1, x + 2) {
                        let j = yy * w + xx
                        if !foreground[j] {
                            if ringSeen.insert(j).inserted { for c in 0..<3 { ring[c] += Float(luma[3 * j + c]) }; ringCount += 1 }
                        } else if abs(yy - y) <= 1 && abs(xx - x) <= 1 && still[j] >= limit && !done.contains(j) {
                            done.insert(j); stack.append(j)
                        }
                    }
                }
            }
            // too small a part, or nothing of the background beside it to compare with
            guard part.count >= 4, ringCount >= part.count / 2 else { continue }
            var d: Float = 0
            for c in 0..<3 { d += abs(inner[c] / Float(part.count) - ring[c] / Float(ringCount)) }
            guard d < config.threshold else { continue }
            for i in part {
                let k = 3 * i
                mean[k] = Float(luma[k]); mean[k + 1] = Float(luma[k + 1]); mean[k + 2] = Float(luma[k + 2])
                still[i] = 0
                foreground[i] = false
            }
            absorbed += part.count
        }
        return absorbed
    }

    mutating func restart(_ luma: [UInt8]) {
        mean = luma.map(Float.init)
        previous = luma
        foreground = [Bool](repeating: false, count: luma.count / 3)
        changed = foreground
        still = [UInt16](repeating: 0, count: luma.count / 3)
        frames = 1
    }

    /// Share of the picture that differs from the background now.
    public var foregroundFraction: Float {
        foreground.isEmpty ? 0 : Float(foreground.lazy.filter { $0 }.count) / Float(foreground.count)
    }

    /// The model cells `box` (source pixels) covers, clipped to the picture: columns
    /// x0..<x1, rows y0..<y1; nil when none.
    private func cells(_ box: Box) -> (x0: Int, x1: Int, y0: Int, y1: Int)? {
        let x0 = max(0, Int(box.x1 / scale)), x1 = min(width, Int((box.x2 / scale).rounded(.up)))
        let y0 = max(0, Int(box.y1 / scale)), y1 = min(height, Int((box.y2 / scale).rounded(.up)))
        return x1 > x0 && y1 > y0 ? (x0, x1, y0, y1) : nil
    }

    /// The latest picture inside `box` (source pixels) as a `grid` x `grid` x 3 thumbnail
    /// (mean Y, U, V per grid cell); nil before the first picture or for an empty box.
    public func thumbnail(_ box: Box, grid: Int = 8) -> [Float]? {
        guard width > 0, !previous.isEmpty, let (x0, x1, y0, y1) = cells(box) else { return nil }
        var sums = [Float](repeating: 0, count: grid * grid * 3), counts = [Float](repeating: 0, count: grid * grid)
        for y in y0..<y1 {
            let gy = (y - y0) * grid / (y1 - y0)
            for x in x0..<x1 {
                let g = gy * grid + (x - x0) * grid / (x1 - x0), k = (y * width + x) * 3
                sums[3 * g] += Float(previous[k]); sums[3 * g + 1] += Float(previous[k + 1]); sums[3 * g + 2] += Float(previous[k + 2])
                counts[g] += 1
            }
        }
        for g in 0..<(grid * grid) where counts[g] > 0 { for c in 0..<3 { sums[3 * g + c] /= counts[g] } }
        return sums
    }

    /// Shares of the model's cells inside `box` (source pixels) that changed between the
    /// last two pictures (`changeThreshold`) and that differ from the background; nil
    /// before a second picture, or for a box outside the picture.
    public func shares(in box: Box) -> (changed: Float, foreground: Float)? {
        guard width > 0, frames > 1, let (x0, x1, y0, y1) = cells(box) else { return nil }
        var c = 0, f = 0
        for y in y0..<y1 {
            for x in x0..<x1 {
                if changed[y * width + x] { c += 1 }
                if foreground[y * width + x] { f += 1 }
            }
        }
        let n = Float((x1 - x0) * (y1 - y0))
        return (Float(c) / n, Float(f) / n)
    }

    /// Mean over grid cells of the summed |dY| + |dU| + |dV| between two thumbnails
    /// (infinity when they do not fit).
    public static func difference(_ a: [Float], _ b: [Float]) -> Float {
        guard a.count == b.count, !a.isEmpty else { return .infinity }
        var d: Float = 0
        for i in a.indices { d += abs(a[i] - b[i]) }
        return d / Float(a.count / 3)
    }

    /// Codec motion vectors with those over unchanged background zeroed: an encoder
    /// matches repetitive texture (stripes, fences, tiles) along itself, and those vectors
    /// would drag a track's box off its object. Unchanged when the model is not warm.
    public func stillBackgroundZeroed(_ samples: [MotionSample]) -> [MotionSample] {
        guard frames > config.warmupFrames, width > 0 else { return samples }
        return samples.map { s in
            let half = (s.area > 0 ? s.area.squareRoot() : 16) / 2
            let x0 = max(0, Int((s.x - half) / scale)), x1 = min(width - 1, Int((s.x + half) / scale))
            let y0 = max(0, Int((s.y - half) / scale)), y1 = min(height - 1, Int((s.y + half) / scale))
            guard x0 <= x1, y0 <= y1 else { return s }
            for y in y0...y1 { for x in x0...x1 where foreground[y * width + x] { return s } }
            var z = s
            z.dx = 0; z.dy = 0
            return z
        }
    }

    /// The moving regions of the latest picture, largest first, boxes in source pixels.
    public func regions() -> [MotionRegion] {
        guard frames > config.warmupFrames, width > 0 else { return [] }
        let w = width, h = height
        // Clean: a cell is foreground when enough of its 3x3 neighbourhood is.
        var clean = [Bool](repeating: false, count: w * h)
        for y in 0..<h {
            for x in 0..<w {
                var n = 0
                for yy in max(0, y - 1)...min(h - 1, y + 1) {
                    for xx in max(0, x - 1)...min(w - 1, x + 1) where foreground[yy * w + xx] { n += 1 }
                }
                let need = foreground[y * w + x] ? config.minNeighbours : config.minNeighbours + 2
                clean[y * w + x] = n >= need
            }
        }
        // Components of clean foreground, where cells up to `joinCells` apart connect; the
        // box is that of the clean cells themselves.
        let r = max(1, config.joinCells)
        var visited = [Bool](repeating: false, count: w * h)
        var out: [MotionRegion] = []
        var stack: [Int] = []
        for start in 0..<(w * h) where clean[start] && !visited[start] {
            visited[start] = true
            stack.append(start)
            var x1 = w, y1 = h, x2 = -1, y2 = -1, cells = 0, moving = 0
            while let i = stack.popLast() {
                let x = i % w, y = i / w
                cells += 1
                if changed[i] { moving += 1 }
                x1 = min(x1, x); x2 = max(x2, x); y1 = min(y1, y); y2 = max(y2, y)
                for yy in max(0, y - r)...min(h - 1, y + r) {
                    for xx in max(0, x - r)...min(w - 1, x + r) {
                        let j = yy * w + xx
                        if clean[j] && !visited[j] { visited[j] = true; stack.append(j) }
                    }
                }
            }
            let box = Box(x1: Float(x1) * scale, y1: Float(y1) * scale, x2: Float(x2 + 1) * scale, y2: Float(y2 + 1) * scale)
            guard cells >= config.minCells, box.area >= config.minArea,
                  Float(moving) >= config.minMovingShare * Float(cells) else { continue }
            out.append(MotionRegion(box: box, cells: cells))
        }
        out.sort { $0.box.area > $1.box.area }
        return Array(out.prefix(config.maxRegions))
    }
}
