// Motion proposals: boxes around the moving regions of a frame, from
// the codec's motion vectors or from the difference of two decoded pictures.
//
// API (all boxes xyxy in source pixels):
//   MotionProposals.fromVectors(_ samples: [MotionSample], width:, height:, config:) -> [MotionRegion]
//       Vectors of ONE inter frame (or several concatenated). Each vector marks the grid
//       cells its block covers at its destination (x + dx, y + dy: where the content is
//       in this frame) when |(dx, dy)| >= config.minDisplacement. Marked cells are
//       grouped into 8-connected components of similar motion (gaps of
//       `config.gapCells` cells bridged), components whose boxes mostly overlap and whose
//       mean motion agrees are merged, a region whose box is poorly filled is cut in
//       two along a grid line (`splitRatio`), components under `minCells` cells or
//       `minArea` pixels are dropped; largest first, at most `maxRegions`.
//       A keyframe that is a codec I-frame has no vectors of its own: pass the vectors
//       of the frame(s) just before it (`MotionMemory` keeps them).
//   MotionProposals.fromDifference(previous:, current:, width:, height:, channels:, config:) throws
//       Two decoded pictures of the same size (1 = luma/gray, 3 = RGB24, 4 = RGBA/BGRA
//       packed, rows without padding): a cell is marked when the mean absolute difference
//       of its pixels exceeds `config.differenceThreshold`; then the same grouping.
// Cost: one pass over the vectors plus one over the grid (1080p: 120 x 68 cells).

/// A moving region: its box and how much supports it.
public struct MotionRegion: Sendable, Equatable {
    /// xyxy, source pixels, clipped to the frame.
    public var box: Box
    /// Grid cells marked in the region.
    public var cells: Int
    /// Mean displacement of the vectors in it (pixels per frame; 0 for differences).
    public var dx: Float
    public var dy: Float
    public init(box: Box, cells: Int, dx: Float = 0, dy: Float = 0) {
        self.box = box; self.cells = cells; self.dx = dx; self.dy = dy
    }
}

public struct MotionProposalConfig: Sendable, Equatable {
    /// Grid cell size in pixels (H.264 macroblocks are 16 x 16).
    public var cellSize: Int = 16
    /// Vectors shorter than this (pixels per frame) are encoder noise, not motion.
    public var minDisplacement: Float = 0.75
    /// Cells of no motion bridged between two marked ones (1 joins blocks one cell apart).
    public var gapCells: Int = 1
    /// A cell joins a region only when its mean vector differs from the region's by at
    /// most `similarPixels + similarSpread x |v|` per axis (objects side by side moving
    /// differently stay apart; for frame differences every cell has v = 0).
    public var similarPixels: Float = 0.75
    public var similarSpread: Float = 0.15
    /// A region is cut in two when the two parts' boxes cover at most this fraction of
    /// its box (1 disables cutting).
    public var splitRatio: Float = 0.6
    /// Regions with fewer marked cells, or a smaller box (pixels^2), are dropped.
    public var minCells: Int = 4
    public var minArea: Float = 24 * 24
    /// At most this many regions, largest first.
    public var maxRegions: Int = 32
    /// Frame differencing: mean absolute difference per cell (0...255) that marks it.
    public var differenceThreshold: Float = 12
    public init() {}
}

public enum MotionProposals {
    /// Moving regions from codec motion vectors (see the file header).
    public static func fromVectors(_ samples: [MotionSample], width: Float, height: Float,
                                   config: MotionProposalConfig = MotionProposalConfig()) -> [MotionRegion] {
        var grid = CellGrid(width: width, height: height, cellSize: config.cellSize)
        let minD2 = config.minDisplacement * config.minDisplacement
        for s in samples {
            guard s.dx * s.dx + s.dy * s.dy >= minD2 else { continue }
            let half = s.area > 0 ? s.area.squareRoot() / 2 : 8
            let cx = s.x + s.dx, cy = s.y + s.dy
            // Block extent, shrunk by a pixel so a block on a cell border marks one cell.
            let block = Box(x1: cx - half + 1, y1: cy - half + 1, x2: cx + half - 1, y2: cy + half - 1)
            grid.mark(block, dx: s.dx, dy: s.dy)
        }
        return grid.regions(config)
    }

    /// Moving regions from two decoded pictures of the same geometry (see the file header).
    /// Throws when a buffer does not hold `width x height x channels` bytes.
    public static func fromDifference(previous: [UInt8], current: [UInt8], width: Int, height: Int,
                                      channels: Int, config: MotionProposalConfig = MotionProposalConfig()) throws(MotionProposalError) -> [MotionRegion] {
        guard width > 0, height > 0, (1...4).contains(channels) else {
            throw MotionProposalError(description: "frame difference: bad geometry \(width)x\(height)x\(channels)")
        }
        let need = width * height * channels
        guard previous.count == need, current.count == need else {
            throw MotionProposalError(description: "frame difference: previous has \(previous.count) bytes, current \(current.count), \(width)x\(height)x\(channels) needs \(need)")
        }
        var grid = CellGrid(width: Float(width), height: Float(height), cellSize: config.cellSize)
        let cs = grid.cellSize, ch = channels
        var sums = [UInt32](repeating: 0, count: grid.cols * grid.rows)
        previous.withUnsafeBufferPointer { a in
            current.withUnsafeBufferPointer { b in
                for y in 0..<height {
                    let rowCell = (y / cs) * grid.cols
                    let base = y * width * ch
                    for x in 0..<width {
                        var d: UInt32 = 0
                        let o = base + x * ch
                        for c in 0..<min(ch, 3) {   // alpha (4th byte) ignored
                            let u = Int(a[o + c]) - Int(b[o + c])
                            d += UInt32(u < 0 ? -u : u)
                        }
                        sums[rowCell + x / cs] += d
                    }
                }
            }
        }
        let used = Float(min(ch, 3))
        for r in 0..<grid.rows {
            for c in 0..<grid.cols {
                let pw = min(cs, width - c * cs), ph = min(cs, height - r * cs)
                let mean = Float(sums[r * grid.cols + c]) / (Float(pw * ph) * used)
                if mean > config.differenceThreshold { grid.markCell(r * grid.cols + c) }
            }
        }
        return grid.regions(config)
    }
}

public struct MotionProposalError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// Marked cells of one frame and the exact extents of what marked them.
struct CellGrid {
    let cellSize: Int, cols: Int, rows: Int
    let width: Float, height: Float
    var marked: [Bool]
    var extent: [Box?]                        // union of block extents per cell
    var sumDx: [Float], sumDy: [Float], n: [Int32]

    init(width: Float, height: Float, cellSize: Int) {
        self.cellSize = max(1, cellSize)
        self.width = width; self.height = height
        cols = max(1, Int((width / Float(self.cellSize)).rounded(.up)))
        rows = max(1, Int((height / Float(self.cellSize)).rounded(.up)))
        marked = [Bool](repeating: false, count: cols * rows)
        extent = [Box?](repeating: nil, count: cols * rows)
        sumDx = [Float](repeating: 0, count: cols * rows); sumDy = sumDx
        n = [Int32](repeating: 0, count: cols * rows)
    }

    mutating func mark(_ b: Box, dx: Float, dy: Float) {
        let cb = b.clipped(width: width, height: height)
        guard cb.x2 > cb.x1 || cb.y2 > cb.y1 else { return }
        let cs = Float(cellSize)
        let c0 = min(max(Int(cb.x1 / cs), 0), cols - 1), c1 = min(max(Int(cb.x2 / cs), 0), cols - 1)
        let r0 = min(max(Int(cb.y1 / cs), 0), rows - 1), r1 = min(max(Int(cb.y2 / cs), 0), rows - 1)
        for r in r0...r1 {
            for c in c0...c1 {
                let k = r * cols + c
                marked[k] = true
                // The part of the block inside this cell.
                let cell = Box(x1: Float(c) * cs, y1: Float(r) * cs, x2: Float(c + 1) * cs, y2: Float(r + 1) * cs)
                let part = Box(x1: max(cb.x1 - 1, cell.x1), y1: max(cb.y1 - 1, cell.y1),
                               x2: min(cb.x2 + 1, cell.x2), y2: min(cb.y2 + 1, cell.y2))
                extent[k] = extent[k].map { union($0, part) } ?? part
                sumDx[k] += dx; sumDy[k] += dy; n[k] += 1
            }
        }
    }

    /// Bounding box of the extents of `cells`.
    func bounds(_ cells: ArraySlice<Int>) -> Box {
        var b = extent[cells.first!]!
        for k in cells.dropFirst() { b = union(b, extent[k]!) }
        return b
    }

    /// A component whose box is poorly filled (two objects moving alike, close together)
    /// is cut in two along the grid line that shrinks the two parts' boxes most, when
    /// their areas add up to at most `splitRatio` of the whole; recursively.
    func split(_ cells: [Int], config: MotionProposalConfig, depth: Int) -> [[Int]] {
        guard depth < 4, cells.count >= 2 * max(1, config.minCells), config.splitRatio < 1 else { return [cells] }
        let whole = bounds(cells[...]).area
        var best: (area: Float, cells: [Int], cut: Int)? = nil
        for axis in 0..<2 {
            let key: (Int) -> Int = axis == 0 ? { $0 % cols } : { $0 / cols }
            let sorted = cells.sorted { key($0) < key($1) }
            // prefix[i] = bounds of sorted[..<i+1], suffix[i] = bounds of sorted[i...]
            var prefix = [Box](), suffix = [Box](repeating: extent[sorted.last!]!, count: sorted.count)
            prefix.reserveCapacity(sorted.count)
            for k in sorted { prefix.append(prefix.last.map { union($0, extent[k]!) } ?? extent[k]!) }
            for i in stride(from: sorted.count - 2, through: 0, by: -1) { suffix[i] = union(suffix[i + 1], extent[sorted[i]]!) }
            for i in 1..<sorted.count where key(sorted[i]) != key(sorted[i - 1]) {
                let a = prefix[i - 1].area + suffix[i].area
                if a < (best?.area ?? .infinity) { best = (a, sorted, i) }
            }
        }
        guard let b = best, b.area <= config.splitRatio * whole else { return [cells] }
        return split(Array(b.cells[..<b.cut]), config: config, depth: depth + 1)
            + split(Array(b.cells[b.cut...]), config: config, depth: depth + 1)
    }

    /// Mean vector of the blocks that marked cell `k` (0 for differences).
    @inline(__always) func mean(_ k: Int) -> (Float, Float) {
        n[k] > 0 ? (sumDx[k] / Float(n[k]), sumDy[k] / Float(n[k])) : (0, 0)
    }

    mutating func markCell(_ k: Int) {
        marked[k] = true
        let cs = Float(cellSize), r = k / cols, c = k % cols
        extent[k] = Box(x1: Float(c) * cs, y1: Float(r) * cs, x2: Float(c + 1) * cs, y2: Float(r + 1) * cs)
            .clipped(width: width, height: height)
    }

    /// Connected components (8-neighbourhood, `gapCells` bridged), merged when their
    /// boxes overlap, filtered and sorted (largest box first, then top-left first).
    func regions(_ config: MotionProposalConfig) -> [MotionRegion] {
        var label = [Int32](repeating: -1, count: cols * rows)
        var out: [MotionRegion] = []
        var sx: [Float] = [], sy: [Float] = [], sn: [Int32] = []
        var stack: [Int] = []
        let reach = 1 + max(0, config.gapCells)
        for start in 0..<(cols * rows) where marked[start] && label[start] < 0 {
            let id = Int32(out.count)
            label[start] = id
            stack.append(start)
            var tdx: Float = 0, tdy: Float = 0, tn: Int32 = 0
            var members: [Int] = []
            while let k = stack.popLast() {
                members.append(k)
                tdx += sumDx[k]; tdy += sumDy[k]; tn += n[k]
                let r = k / cols, c = k % cols
                // compared with the region's mean so far (no drift along a chain of cells)
                let (vx, vy) = tn > 0 ? (tdx / Float(tn), tdy / Float(tn)) : mean(k)
                let tol = config.similarPixels + config.similarSpread * (vx * vx + vy * vy).squareRoot()
                for rr in max(0, r - reach)...min(rows - 1, r + reach) {
                    for cc in max(0, c - reach)...min(cols - 1, c + reach) {
                        let j = rr * cols + cc
                        guard marked[j] && label[j] < 0 else { continue }
                        let (ux, uy) = mean(j)
                        if abs(ux - vx) <= tol && abs(uy - vy) <= tol { label[j] = id; stack.append(j) }
                    }
                }
            }
            for part in split(members, config: config, depth: 0) {
                var box: Box? = nil, px: Float = 0, py: Float = 0, pn: Int32 = 0
                for k in part {
                    if let e = extent[k] { box = box.map { union($0, e) } ?? e }
                    px += sumDx[k]; py += sumDy[k]; pn += n[k]
                }
                out.append(MotionRegion(box: box!, cells: part.count, dx: 0, dy: 0))
                sx.append(px); sy.append(py); sn.append(pn)
            }
        }
        // Merge components whose boxes overlap and whose motion agrees, until none do.
        func similar(_ i: Int, _ j: Int) -> Bool {
            let ax = sn[i] > 0 ? sx[i] / Float(sn[i]) : 0, ay = sn[i] > 0 ? sy[i] / Float(sn[i]) : 0
            let bx = sn[j] > 0 ? sx[j] / Float(sn[j]) : 0, by = sn[j] > 0 ? sy[j] / Float(sn[j]) : 0
            return movesAlike(ax, ay, bx, by, pixels: config.similarPixels, spread: config.similarSpread)
        }
        var merged = true
        while merged {
            merged = false
            outer: for i in 0..<out.count {
                for j in (i + 1)..<out.count where overlaps(out[i].box, out[j].box) && similar(i, j) {
                    out[i].box = union(out[i].box, out[j].box)
                    out[i].cells += out[j].cells
                    sx[i] += sx[j]; sy[i] += sy[j]; sn[i] += sn[j]
                    out.remove(at: j); sx.remove(at: j); sy.remove(at: j); sn.remove(at: j)
                    merged = true
                    break outer
                }
            }
        }
        for i in out.indices where sn[i] > 0 {
            out[i].dx = sx[i] / Float(sn[i]); out[i].dy = sy[i] / Float(sn[i])
        }
        let kept = out.filter { $0.cells >= config.minCells && $0.box.area >= config.minArea }
        let sorted = kept.sorted { a, b in
            a.box.area != b.box.area ? a.box.area > b.box.area : (a.box.y1, a.box.x1) < (b.box.y1, b.box.x1)
        }
        return Array(sorted.prefix(max(0, config.maxRegions)))
    }
}

/// Two mean vectors (pixels per frame) within `pixels + spread x` the larger speed of each
/// other per axis: one object's motion (regions merging here, parts in MotionSeparation).
@inline(__always) func movesAlike(_ ax: Float, _ ay: Float, _ bx: Float, _ by: Float, pixels: Float, spread: Float) -> Bool {
    let tol = pixels + spread * max((ax * ax + ay * ay).squareRoot(), (bx * bx + by * by).squareRoot())
    return abs(ax - bx) <= tol && abs(ay - by) <= tol
}

@inline(__always) func union(_ a: Box, _ b: Box) -> Box {
    Box(x1: min(a.x1, b.x1), y1: min(a.y1, b.y1), x2: max(a.x2, b.x2), y2: max(a.y2, b.y2))
}

/// True when the intersection covers at least half of the smaller box (fragments of one
/// object; two objects that merely touch diagonally stay apart).
@inline(__always) func overlaps(_ a: Box, _ b: Box) -> Bool {
    let w = min(a.x2, b.x2) - max(a.x1, b.x1), h = min(a.y2, b.y2) - max(a.y1, b.y1)
    return w > 0 && h > 0 && w * h >= 0.5 * min(a.area, b.area)
}

/// The vectors of the last few inter frames, for keyframes that have none of their own
/// (codec I-frames). Feed every decoded frame; frames without vectors are skipped.
public struct MotionMemory: Sendable {
    public let frames: Int
    private var recent: [[MotionSample]] = []
    public init(frames: Int = 1) { self.frames = max(1, frames) }

    /// Records a frame's vectors (ignored when empty: intra frames carry none).
    public mutating func add(_ samples: [MotionSample]) {
        guard !samples.isEmpty else { return }
        recent.append(samples)
        if recent.count > frames { recent.removeFirst(recent.count - frames) }
    }

    /// The remembered vectors, oldest frame first.
    public var samples: [MotionSample] { recent.flatMap { $0 } }
    /// The remembered vectors frame by frame, oldest first.
    public var perFrame: [[MotionSample]] { recent }
    public mutating func reset() { recent.removeAll() }
}
