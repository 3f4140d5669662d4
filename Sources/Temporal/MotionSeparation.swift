// Objects that touch as they move are one moving region of the background difference: a
// circle and the triangle overlapping it, two people crossing. The codec's motion vectors
// still tell them apart when they move differently. `MotionSeparation.separate` cuts a
// background region into the vector regions (MotionProposals.fromVectors) inside it when
// those move at clearly different velocities, frame after frame.
//
//   let frames = memory.perFrame.map { MotionProposals.fromVectors($0, width: w, height: h) }
//   let cut = MotionSeparation.separate(background.regions(), by: frames)
//   cut.regions   // the regions, each cut one replaced by its parts (xyxy, source pixels)
//   cut.apart     // indices into cut.regions of the parts: objects seen apart
//
// On one frame's vector regions a region has parts when
// - at least two vector regions lie mostly inside it (`inside` of their box) and each
//   covers a fair share of it (`minShare` of its box);
// - grouped by velocity (vector regions whose mean vectors differ by at most
//   `similarPixels + similarSpread x |v|` per axis are one group: a flat object's vectors
//   come from its edges, two components moving alike), at least two groups remain;
// - the groups' boxes, clipped to the region, cover `minCoverage` of its box and overlap
//   each other by at most `maxOverlap` of the smaller one (the parts of one fast or turning
//   object, whose vectors differ from side to side, lie across each other; two objects
//   side by side barely do).
// A part's side within `snap` (about a codec block) of the region's is the region's: the
// vectors mark blocks, the background pixels.
// It is cut, into the last frame's parts, only when every frame given has as many parts and
// each of the last frame's is one of the frame before's (box IoU >= `sameIoU`, similar
// velocity): one object's vectors split now and then, and differently each time; two
// objects stay two.
public struct MotionSeparationConfig: Sendable, Equatable {
    /// Share of a vector region's box inside the background region for it to count.
    public var inside: Float = 0.5
    /// Share of the background region's box each counted vector region must cover.
    public var minShare: Float = 0.15
    /// A part is the same as one of the frame before when their boxes overlap this much.
    public var sameIoU: Float = 0.3
    /// Share of the background region's box the parts must cover together.
    public var minCoverage: Float = 0.5
    /// Largest overlap of two parts, as a share of the smaller one's box.
    public var maxOverlap: Float = 0.25
    /// Velocities this close (pixels per frame, per axis: `similarPixels +
    /// similarSpread x |v|`) are one object's (MotionProposalConfig's similarity).
    public var similarPixels: Float = MotionProposalConfig().similarPixels
    public var similarSpread: Float = MotionProposalConfig().similarSpread
    /// A part's side this close to the region's (pixels: about a codec block) becomes the
    /// region's: vectors mark blocks, the background marks pixels.
    public var snap: Float = 16
    public init() {}
}

public enum MotionSeparation {
    /// Background regions with those the vector regions of consecutive frames (oldest
    /// first) tell apart cut into the last frame's parts (see the file header). `apart`
    /// holds the indices of the parts in `regions`.
    public static func separate(_ regions: [MotionRegion], by frames: [[MotionRegion]],
                                config: MotionSeparationConfig = MotionSeparationConfig()) -> (regions: [MotionRegion], apart: Set<Int>) {
        var out: [MotionRegion] = [], apart = Set<Int>()
        for r in regions {
            let perFrame = frames.map { parts(of: r, vectors: $0, config: config) }
            guard let last = perFrame.last, last.count >= 2, consistent(perFrame, config: config) else { out.append(r); continue }
            for p in last {
                apart.insert(out.count)
                out.append(p)
            }
        }
        return (out, apart)
    }

    /// Each frame's parts are as many as the frame before's and each is one of them.
    static func consistent(_ perFrame: [[MotionRegion]], config c: MotionSeparationConfig) -> Bool {
        zip(perFrame, perFrame.dropFirst()).allSatisfy { before, now in
            now.count == before.count && now.allSatisfy { p in
                before.contains { q in q.box.iou(p.box) >= c.sameIoU && similar(p, q, config: c) }
            }
        }
    }

    /// Mean vectors within `similarPixels + similarSpread x |v|` per axis.
    static func similar(_ a: MotionRegion, _ b: MotionRegion, config c: MotionSeparationConfig) -> Bool {
        movesAlike(a.dx, a.dy, b.dx, b.dy, pixels: c.similarPixels, spread: c.similarSpread)
    }

    /// The parts of `region` moving apart, or [] when it is one object as far as the
    /// vectors tell.
    static func parts(of region: MotionRegion, vectors: [MotionRegion], config c: MotionSeparationConfig) -> [MotionRegion] {
        let a = region.box.area
        guard a > 0 else { return [] }
        let inside = vectors.filter { v in
            let shared = v.box.intersection(region.box)
            return v.box.area > 0 && shared >= c.inside * v.box.area && shared >= c.minShare * a
        }
        guard inside.count >= 2 else { return [] }
        // Group by velocity, largest first (then top-left first): each vector region joins
        // the first group that moves like it (cells-weighted mean vectors).
        var groups: [(box: Box, cells: Int, sx: Float, sy: Float)] = []
        for v in inside.sorted(by: { $0.cells != $1.cells ? $0.cells > $1.cells : ($0.box.y1, $0.box.x1) < ($1.box.y1, $1.box.x1) }) {
            let w = Float(v.cells)
            if let g = groups.firstIndex(where: { g in
                movesAlike(g.sx / Float(g.cells), g.sy / Float(g.cells), v.dx, v.dy, pixels: c.similarPixels, spread: c.similarSpread)
            }) {
                groups[g].box = union(groups[g].box, v.box)
                groups[g].cells += v.cells; groups[g].sx += w * v.dx; groups[g].sy += w * v.dy
            } else {
                groups.append((v.box, v.cells, w * v.dx, w * v.dy))
            }
        }
        guard groups.count >= 2 else { return [] }
        let boxes = groups.map { clip($0.box, to: region.box) }
        guard coverage(of: region.box, by: boxes) >= c.minCoverage else { return [] }
        for i in boxes.indices {
            for j in boxes.indices where j > i {
                guard boxes[i].intersection(boxes[j]) <= c.maxOverlap * min(boxes[i].area, boxes[j].area) else { return [] }
            }
        }
        let r = region.box, d = c.snap
        return zip(groups, boxes).map { g, b in
            // a side within a block of the region's is the region's (pixel-tight) side
            let s = Box(x1: b.x1 - r.x1 <= d ? r.x1 : b.x1, y1: b.y1 - r.y1 <= d ? r.y1 : b.y1,
                        x2: r.x2 - b.x2 <= d ? r.x2 : b.x2, y2: r.y2 - b.y2 <= d ? r.y2 : b.y2)
            return MotionRegion(box: s, cells: g.cells, dx: g.sx / Float(g.cells), dy: g.sy / Float(g.cells))
        }
    }

    /// `b` restricted to `frame` (both xyxy).
    static func clip(_ b: Box, to frame: Box) -> Box {
        Box(x1: max(b.x1, frame.x1), y1: max(b.y1, frame.y1), x2: min(b.x2, frame.x2), y2: min(b.y2, frame.y2))
    }

    /// Share of `region` covered by the union of `boxes` (counted on a grid of the boxes'
    /// own edges: exact for axis-aligned boxes).
    static func coverage(of region: Box, by boxes: [Box]) -> Float {
        let clipped = boxes.map { clip($0, to: region) }.filter { $0.x2 > $0.x1 && $0.y2 > $0.y1 }
        guard region.area > 0, !clipped.isEmpty else { return 0 }
        let xs = Set(clipped.flatMap { [$0.x1, $0.x2] }).sorted(), ys = Set(clipped.flatMap { [$0.y1, $0.y2] }).sorted()
        var covered: Float = 0
        for i in 0..<(xs.count - 1) {
            for j in 0..<(ys.count - 1) {
                let mx = (xs[i] + xs[i + 1]) / 2, my = (ys[j] + ys[j + 1]) / 2
                if clipped.contains(where: { mx >= $0.x1 && mx <= $0.x2 && my >= $0.y1 && my <= $0.y2 }) {
                    covered += (xs[i + 1] - xs[i]) * (ys[j + 1] - ys[j])
                }
            }
        }
        return covered / region.area
    }
}
