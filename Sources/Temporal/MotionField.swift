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
    /// Vectors of exactly zero come only from the pipeline's still-background zeroing
    /// (`BackgroundModel.stillBackgroundZeroed`; the decoder drops zero vectors). A box
    /// holding nothing else shows still background only, which says nothing about where its
    /// object is: no estimate, and the track coasts on its filter (its velocity) until a
    /// moving region or a keyframe finds it. vtest.avi at 1:08: 4-9 such vectors held a
    /// walker's box on the road for a second while he walked on at 6 px a frame.
    public var stillOnlyGivesNoEstimate = true
    /// Motion prior (the track's own velocity, when the filter is sure of it): vectors
    /// within `priorPixels + priorSpread x |prior|` of it form the track's own cluster.
    /// When that cluster holds at least `priorFraction` of the vectors, its median is the
    /// motion (an object crossing in front does not drag the box along); otherwise the
    /// overall median is used only if at least `switchFraction` of the vectors agree on
    /// it (a real change of motion, e.g. a bounce), else there is no estimate.
    public var priorPixels: Float = 1.5
    public var priorSpread: Float = 0.3
    public var priorFraction: Float = 0.3
    public var switchFraction: Float = 0.6
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
    /// Valid entries in the arrays below.
    var n = 0
    var dx: [Float] = []
    var dy: [Float] = []
    var x: [Float] = []
    var y: [Float] = []
    var w: [Float] = []
    var area: Float = 0
    var pairs: [(Float, Float)] = []
    public init() {}

    subscript(k: Int) -> [Float] {
        get { [dx, dy, x, y, w][k] }
        set {
            switch k {
            case 0: dx = newValue
            case 1: dy = newValue
            case 2: x = newValue
            case 3: y = newValue
            default: w = newValue
            }
        }
    }
}

/// The binned vectors of one frame. Arrays are structure-of-arrays sorted by cell.
public struct MotionField: Sendable {
    public let config: MotionConfig
    public let count: Int
    let cols: Int, rows: Int
    let cellStart: [Int32]     // (rows*cols + 1) prefix offsets into the sorted arrays
    /// (5, count): x, y, dx, dy, area, each sorted by cell.
    let data: [Float]

    /// Bins `samples` by their source point; points outside the frame are clamped to it.
    public init(samples: [MotionSample], width: Float, height: Float, config: MotionConfig = MotionConfig()) {
        self.config = config
        let inv = 1 / Float(max(config.cellSize, 1))
        let cols = max(1, Int((width * inv).rounded(.up))), rows = max(1, Int((height * inv).rounded(.up)))
        self.cols = cols; self.rows = rows
        let n = samples.count
        let cells = cols * rows
        // Counting sort by cell: histogram, prefix sums, scatter.
        let cellOf = UnsafeMutablePointer<Int32>.allocate(capacity: max(n, 1))
        defer { cellOf.deallocate() }
        var start = [Int32](repeating: 0, count: cells + 1)
        start.withUnsafeMutableBufferPointer { st in
            samples.withUnsafeBufferPointer { s in
                for i in 0..<n {
                    let cx = min(max(Int(s[i].x * inv), 0), cols - 1)
                    let cy = min(max(Int(s[i].y * inv), 0), rows - 1)
                    let cell = cy * cols + cx
                    cellOf[i] = Int32(cell)
                    st[cell + 1] += 1
                }
            }
            for c in 0..<cells { st[c + 1] += st[c] }
        }
        let fill = UnsafeMutablePointer<Int32>.allocate(capacity: cells + 1)
        defer { fill.deallocate() }
        start.withUnsafeBufferPointer { fill.initialize(from: $0.baseAddress!, count: cells + 1) }
        self.data = [Float](unsafeUninitializedCapacity: 5 * n) { buf, initialized in
            guard let xs = buf.baseAddress else { initialized = 0; return }
            let ys = xs + n, dxs = xs + 2 * n, dys = xs + 3 * n, areas = xs + 4 * n
            samples.withUnsafeBufferPointer { s in
                for i in 0..<n {
                    let c = Int(cellOf[i])
                    let k = Int(fill[c]); fill[c] += 1
                    xs[k] = s[i].x; ys[k] = s[i].y; dxs[k] = s[i].dx; dys[k] = s[i].dy; areas[k] = s[i].area
                }
            }
            initialized = 5 * n
        }
        self.cellStart = start
        self.count = n
    }

    /// Motion of `box` (previous-frame position), or nil when the vectors inside it are too
    /// few or disagree too much to trust. `prior` is the track's expected displacement.
    /// Vectors count by block area (a block split into 4x4 partitions at an occluder's
    /// edge must not outvote the 16x16 blocks of the object itself).
    public func estimate(for box: Box, prior: (dx: Float, dy: Float)? = nil,
                         scratch: inout MotionScratch) -> MotionEstimate? {
        var region = box.inset(fraction: config.inset)
        gather(region, into: &scratch)
        if scratch.n < config.minVectors { gather(box, into: &scratch); region = box }
        let n = scratch.n
        if n < config.minVectors || n == 0 { return nil }
        if config.stillOnlyGivesNoEstimate && (0..<n).allSatisfy({ scratch.dx[$0] == 0 && scratch.dy[$0] == 0 }) { return nil }
        // Blocks the decoder left out count as one still pseudo-vector of their area.
        var stillWeight: Float = 0
        if config.missingBlocksAreStatic && scratch.area > 0 {
            stillWeight = max(0, region.area - scratch.area)
        }
        var totalWeight = stillWeight
        for i in 0..<n { totalWeight += scratch.w[i] }
        var required = config.minInlierFraction
        var mdx: Float, mdy: Float
        var ownMedian: (Float, Float)?
        if let prior {
            let speed = (prior.dx * prior.dx + prior.dy * prior.dy).squareRoot()
            let tol = config.priorPixels + config.priorSpread * speed
            scratch.pairs.removeAll(keepingCapacity: true)
            var ownWeight: Float = 0
            for i in 0..<n where abs(scratch.dx[i] - prior.dx) <= tol && abs(scratch.dy[i] - prior.dy) <= tol {
                ownWeight += scratch.w[i]
                scratch.pairs.append((scratch.dx[i], scratch.w[i]))
            }
            let stillIsOwn = abs(prior.dx) <= tol && abs(prior.dy) <= tol
            if stillIsOwn && stillWeight > 0 { ownWeight += stillWeight; scratch.pairs.append((0, stillWeight)) }
            if scratch.pairs.count >= config.minVectors && ownWeight >= config.priorFraction * totalWeight {
                let ox = weightedMedian(&scratch.pairs)
                scratch.pairs.removeAll(keepingCapacity: true)
                for i in 0..<n where abs(scratch.dx[i] - prior.dx) <= tol && abs(scratch.dy[i] - prior.dy) <= tol {
                    scratch.pairs.append((scratch.dy[i], scratch.w[i]))
                }
                if stillIsOwn && stillWeight > 0 { scratch.pairs.append((0, stillWeight)) }
                ownMedian = (ox, weightedMedian(&scratch.pairs))
                required = 0
            } else {
                required = max(required, config.switchFraction)
            }
        }
        if let ownMedian {
            (mdx, mdy) = ownMedian
        } else {
            scratch.pairs.removeAll(keepingCapacity: true)
            for i in 0..<n { scratch.pairs.append((scratch.dx[i], scratch.w[i])) }
            if stillWeight > 0 { scratch.pairs.append((0, stillWeight)) }
            mdx = weightedMedian(&scratch.pairs)
            scratch.pairs.removeAll(keepingCapacity: true)
            for i in 0..<n { scratch.pairs.append((scratch.dy[i], scratch.w[i])) }
            if stillWeight > 0 { scratch.pairs.append((0, stillWeight)) }
            mdy = weightedMedian(&scratch.pairs)
        }
        // Inliers: vectors close to the chosen displacement.
        let hw = box.width / 2, hh = box.height / 2
        let tolX = config.inlierPixels + config.inlierSpread * hw
        let tolY = config.inlierPixels + config.inlierSpread * hh
        let cx = box.cx, cy = box.cy
        var inliers = 0
        var inlierWeight: Float = abs(mdx) <= tolX && abs(mdy) <= tolY ? stillWeight : 0
        // Scale by weighted least squares on the inliers: residual e = (s - 1) r, with r
        // the offset from the box centre, so s - 1 = sum(w r e) / sum(w r^2) (unbiased by
        // noise in e, unlike a ratio of spreads).
        var rrX: Float = 0, reX: Float = 0, rrY: Float = 0, reY: Float = 0, ssX: Float = 0, ssY: Float = 0
        for i in 0..<n {
            let ex = scratch.dx[i] - mdx, ey = scratch.dy[i] - mdy
            if abs(ex) <= tolX && abs(ey) <= tolY {
                inliers += 1
                let w = scratch.w[i]
                inlierWeight += w
                let rx = scratch.x[i] - cx, ry = scratch.y[i] - cy
                rrX += w * rx * rx; reX += w * rx * ex; rrY += w * ry * ry; reY += w * ry * ey
                ssX += w; ssY += w
            }
        }
        if inlierWeight < required * totalWeight || inliers == 0 && inlierWeight == 0 { return nil }
        var sx: Float = 1, sy: Float = 1
        // Reliable: enough inliers spread over at least a third of the half-size (rms).
        let reliable = inliers >= config.minScaleVectors
            && rrX > ssX * (0.33 * hw) * (0.33 * hw) && rrY > ssY * (0.33 * hh) * (0.33 * hh)
        if reliable {
            let lo = 1 - config.maxScaleStep, hi = 1 + config.maxScaleStep
            sx = min(max(1 + reX / rrX, lo), hi)
            sy = min(max(1 + reY / rrY, lo), hi)
        }
        return MotionEstimate(dx: mdx, dy: mdy, sx: sx, sy: sy, vectors: n, inliers: inliers,
                              scaleReliable: reliable)
    }

    /// Copies the vectors whose source point lies inside `box` into `scratch` (its first
    /// `scratch.n` entries; the arrays only grow, so steady-state frames allocate nothing).
    func gather(_ box: Box, into s: inout MotionScratch) {
        s.n = 0
        s.area = 0
        guard box.width > 0, box.height > 0, count > 0 else { return }
        let inv = 1 / Float(max(config.cellSize, 1))
        let c0 = min(max(Int(box.x1 * inv), 0), cols - 1), c1 = min(max(Int(box.x2 * inv), 0), cols - 1)
        let r0 = min(max(Int(box.y1 * inv), 0), rows - 1), r1 = min(max(Int(box.y2 * inv), 0), rows - 1)
        var bound = 0
        for r in r0...r1 { bound += Int(cellStart[r * cols + c1 + 1] - cellStart[r * cols + c0]) }
        if s.dx.count < bound {
            let grow = max(bound, 2 * s.dx.count)
            for k in 0..<5 { s[k] = [Float](repeating: 0, count: grow) }
        }
        var n = 0
        var area: Float = 0
        let (bx1, by1, bx2, by2) = (box.x1, box.y1, box.x2, box.y2)
        s.dx.withUnsafeMutableBufferPointer { odx in
        s.dy.withUnsafeMutableBufferPointer { ody in
        s.x.withUnsafeMutableBufferPointer { ox in
        s.y.withUnsafeMutableBufferPointer { oy in
        s.w.withUnsafeMutableBufferPointer { ow in
        data.withUnsafeBufferPointer { D in
            let X = D.baseAddress!, Y = X + count, DX = X + 2 * count, DY = X + 3 * count, A = X + 4 * count
            for r in r0...r1 {
                let lo = Int(cellStart[r * cols + c0]), hi = Int(cellStart[r * cols + c1 + 1])
                for k in lo..<hi {
                    let x = X[k], y = Y[k]
                    if x >= bx1 && x < bx2 && y >= by1 && y < by2 {
                        odx[n] = DX[k]; ody[n] = DY[k]; ox[n] = x; oy[n] = y
                        let a = A[k]
                        ow[n] = a > 0 ? a : 1
                        area += a
                        n += 1
                    }
                }
            }
        }}}}}}
        s.n = n
        s.area = area
    }
}

/// Weighted median of (value, weight) pairs: the smallest value at which the cumulative
/// weight (in ascending value order) reaches half the total. Weighted quickselect with a
/// three-way partition: expected O(n); reorders `pairs`.
func weightedMedian(_ pairs: inout [(Float, Float)]) -> Float {
    precondition(!pairs.isEmpty)
    var total: Float = 0
    for p in pairs { total += p.1 }
    let target = total / 2
    return pairs.withUnsafeMutableBufferPointer { a -> Float in
        var lo = 0, hi = a.count - 1
        var below: Float = 0           // weight of everything left of `lo`
        while lo < hi {
            let pivot = a[(lo + hi) / 2].0
            // a[lo..<lt] < pivot, a[lt..<i] == pivot, a[gt+1...hi] > pivot
            var lt = lo, i = lo, gt = hi
            var wLess: Float = 0, wEqual: Float = 0
            while i <= gt {
                let v = a[i].0
                if v < pivot { wLess += a[i].1; a.swapAt(i, lt); lt += 1; i += 1 }
                else if v > pivot { a.swapAt(i, gt); gt -= 1 }
                else { wEqual += a[i].1; i += 1 }
            }
            if below + wLess >= target && lt > lo {
                hi = lt - 1
            } else if below + wLess + wEqual >= target {
                return pivot
            } else {
                below += wLess + wEqual
                lo = gt + 1
            }
        }
        return a[lo].0
    }
}

/// Reference implementation (sort, then accumulate), kept for the tests.
func weightedMedianBySorting(_ pairs: [(Float, Float)]) -> Float {
    let sorted = pairs.sorted { $0.0 < $1.0 }
    let total = sorted.reduce(0) { $0 + $1.1 }
    var acc: Float = 0
    for p in sorted {
        acc += p.1
        if acc >= total / 2 { return p.0 }
    }
    return sorted[sorted.count - 1].0
}
