// Per-frame motion-vector field, binned once per frame on a grid (counting sort by cell),
// so each track reads only the cells under its box instead of scanning every vector.
// A box moves by the median displacement of the vectors inside it; its scale changes by
// the spread of the inlier vectors when there are enough of them.

/// Settings for reading a box's motion out of the field.
public struct MotionConfig: Sendable, Equatable {
    /// Grid cell size in pixels (H.264 macroblocks are 16x16).
    public var cellSize: Int = 16
    /// Fraction trimmed from each side of the box before sampling (keeps background out).
    public var inset: Float = 0.1
    /// Fewer vectors than this inside a box: no estimate (Kalman fallback).
    public var minVectors: Int = 3
    /// Inliers (close to the median) needed, as a fraction of the vectors in the box.
    public var minInlierFraction: Float = 0.4
    /// Inlier tolerance: pixels + fraction of the half box size.
    public var inlierPixels: Float = 1.5
    public var inlierSpread: Float = 0.08
    /// Inliers needed before the scale is estimated from their spread.
    public var minScaleVectors: Int = 12
    /// Per-frame scale change clamp (1 +- this).
    public var maxScaleStep: Float = 0.05
    /// The decoder drops zero vectors (regionspotd's Decode keeps only non-zero ones):
    /// the part of a box not covered by vector blocks (by `MotionSample.area`) then
    /// counts as that many zero vectors in the median, so a still object next to a moving
    /// one is not dragged along by the few vectors that spill into its box. (Intra blocks
    /// are counted as still too; they are rare in P-frames.)
    public var missingBlocksAreStatic: Bool = false
    public init() {}
}

/// What the field says about one box.
public struct MotionEstimate: Sendable, Equatable {
    /// Median displacement, pixels per frame.
    public var dx: Float
    public var dy: Float
    /// Scale factors (1 when not reliable).
    public var sx: Float
    public var sy: Float
    /// Vectors inside the box, and how many agree with the median.
    public var vectors: Int
    public var inliers: Int
    public var scaleReliable: Bool

    /// The box moved by this estimate.
    public func apply(to box: Box) -> Box {
        box.translated(dx: dx, dy: dy).scaled(sx: sx, sy: sy)
    }
}

/// Reusable scratch buffers (one per tracker, so per-frame work allocates nothing).
public struct MotionScratch: Sendable {
    var dx: [Float] = []
    var dy: [Float] = []
    var x: [Float] = []
    var y: [Float] = []
    var area: Float = 0
    public init() {}
}

/// The binned vectors of one frame. Arrays are structure-of-arrays sorted by cell.
public struct MotionField: Sendable {
    public let config: MotionConfig
    public let count: Int
    let cols: Int, rows: Int
    let cellStart: [Int32]     // (rows*cols + 1) prefix offsets into the sorted arrays
    let xs: [Float], ys: [Float], dxs: [Float], dys: [Float], areas: [Float]   // (count) each

    /// Bins `samples` by their source point; points outside the frame are clamped to it.
    public init(samples: [MotionSample], width: Float, height: Float, config: MotionConfig = MotionConfig()) {
        self.config = config
        let cs = Float(max(config.cellSize, 1))
        let cols = max(1, Int((width / cs).rounded(.up))), rows = max(1, Int((height / cs).rounded(.up)))
        self.cols = cols; self.rows = rows
        let n = samples.count
        var cellOf = [Int32](repeating: 0, count: n)
        var start = [Int32](repeating: 0, count: cols * rows + 1)
        samples.withUnsafeBufferPointer { s in
            for i in 0..<n {
                let cx = min(max(Int(s[i].x / cs), 0), cols - 1)
                let cy = min(max(Int(s[i].y / cs), 0), rows - 1)
                let cell = cy * cols + cx
                cellOf[i] = Int32(cell)
                start[cell + 1] += 1
            }
        }
        for c in 0..<(cols * rows) { start[c + 1] += start[c] }
        var fill = start
        var xs = [Float](repeating: 0, count: n), ys = xs, dxs = xs, dys = xs, areas = xs
        samples.withUnsafeBufferPointer { s in
            for i in 0..<n {
                let c = Int(cellOf[i])
                let k = Int(fill[c]); fill[c] += 1
                xs[k] = s[i].x; ys[k] = s[i].y; dxs[k] = s[i].dx; dys[k] = s[i].dy
                areas[k] = s[i].area
            }
        }
        self.cellStart = start
        self.xs = xs; self.ys = ys; self.dxs = dxs; self.dys = dys; self.areas = areas
        self.count = n
    }

    /// Motion of `box` (previous-frame position), or nil when the vectors inside it are too
    /// few or disagree too much to trust.
    public func estimate(for box: Box, scratch: inout MotionScratch) -> MotionEstimate? {
        let inner = box.inset(fraction: config.inset)
        var region = inner
        gather(inner, into: &scratch)
        if scratch.dx.count < config.minVectors { gather(box, into: &scratch); region = box }
        let n = scratch.dx.count
        // Blocks the decoder left out, counted as still (when configured and known).
        var still = 0
        if config.missingBlocksAreStatic && scratch.area > 0 && n > 0 {
            let mean = scratch.area / Float(n)
            still = max(0, Int(((region.area - scratch.area) / mean).rounded()))
        }
        if n < config.minVectors && (n + still < config.minVectors || n == 0) { return nil }
        for _ in 0..<still { scratch.dx.append(0); scratch.dy.append(0) }
        let mdx = median(&scratch.dx, scratchCopy: true)
        let mdy = median(&scratch.dy, scratchCopy: true)
        if still > 0 { scratch.dx.removeLast(still); scratch.dy.removeLast(still) }
        // Inliers: vectors close to the median displacement. Gathered arrays are intact
        // (median works on a copy region at the end of each array).
        let hw = box.width / 2, hh = box.height / 2
        let tolX = config.inlierPixels + config.inlierSpread * hw
        let tolY = config.inlierPixels + config.inlierSpread * hh
        let cx = box.cx, cy = box.cy
        var inliers = 0, stillInliers = 0
        if abs(mdx) <= tolX && abs(mdy) <= tolY { stillInliers = still }
        // Scale by least squares on the inliers: residual e = (s - 1) r, with r the offset
        // of the vector from the box centre, so s - 1 = sum(r e) / sum(r^2) (unbiased by
        // noise in e, unlike a ratio of spreads).
        var rrX: Float = 0, reX: Float = 0, rrY: Float = 0, reY: Float = 0
        for i in 0..<n {
            let ex = scratch.dx[i] - mdx, ey = scratch.dy[i] - mdy
            if abs(ex) <= tolX && abs(ey) <= tolY {
                inliers += 1
                let rx = scratch.x[i] - cx, ry = scratch.y[i] - cy
                rrX += rx * rx; reX += rx * ex; rrY += ry * ry; reY += ry * ey
            }
        }
        if Float(inliers + stillInliers) < config.minInlierFraction * Float(n + still) { return nil }
        var sx: Float = 1, sy: Float = 1
        // Reliable: enough inliers spread over at least a third of the half-size (rms).
        let reliable = inliers >= config.minScaleVectors
            && rrX > Float(inliers) * (0.33 * hw) * (0.33 * hw) && rrY > Float(inliers) * (0.33 * hh) * (0.33 * hh)
        if reliable {
            let lo = 1 - config.maxScaleStep, hi = 1 + config.maxScaleStep
            sx = min(max(1 + reX / rrX, lo), hi)
            sy = min(max(1 + reY / rrY, lo), hi)
        }
        return MotionEstimate(dx: mdx, dy: mdy, sx: sx, sy: sy, vectors: n + still, inliers: inliers + stillInliers,
                              scaleReliable: reliable)
    }

    /// Copies the vectors whose source point lies inside `box` into `scratch`.
    func gather(_ box: Box, into s: inout MotionScratch) {
        s.dx.removeAll(keepingCapacity: true); s.dy.removeAll(keepingCapacity: true)
        s.x.removeAll(keepingCapacity: true); s.y.removeAll(keepingCapacity: true)
        s.area = 0
        guard box.width > 0, box.height > 0, count > 0 else { return }
        let cs = Float(max(config.cellSize, 1))
        let c0 = min(max(Int(box.x1 / cs), 0), cols - 1), c1 = min(max(Int(box.x2 / cs), 0), cols - 1)
        let r0 = min(max(Int(box.y1 / cs), 0), rows - 1), r1 = min(max(Int(box.y2 / cs), 0), rows - 1)
        for r in r0...r1 {
            let lo = Int(cellStart[r * cols + c0]), hi = Int(cellStart[r * cols + c1 + 1])
            for k in lo..<hi where box.contains(x: xs[k], y: ys[k]) {
                s.dx.append(dxs[k]); s.dy.append(dys[k]); s.x.append(xs[k]); s.y.append(ys[k])
                s.area += areas[k]
            }
        }
    }
}

/// Median (lower middle for even counts) by quickselect. With `scratchCopy` the values
/// are selected in a copy appended after the originals, which are left as they were.
func median(_ v: inout [Float], scratchCopy: Bool) -> Float {
    let n = v.count
    precondition(n > 0)
    if scratchCopy { v.append(contentsOf: v) }
    let base = scratchCopy ? n : 0
    let k = (n - 1) / 2
    let m: Float = v.withUnsafeMutableBufferPointer { buf in
        var lo = base, hi = base + n - 1
        let target = base + k
        while lo < hi {
            let pivot = buf[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while buf[i] < pivot { i += 1 }
                while buf[j] > pivot { j -= 1 }
                if i <= j { buf.swapAt(i, j); i += 1; j -= 1 }
            }
            if target <= j { hi = j } else if target >= i { lo = i } else { break }
        }
        return buf[target]
    }
    if scratchCopy { v.removeLast(n) }
    return m
}
