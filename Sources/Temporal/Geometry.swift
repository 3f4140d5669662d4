// Boxes in source pixels, xyxy (x1 <= x2, y1 <= y2), the convention of the whole module.

/// An axis-aligned box in source pixels: (x1, y1) top-left, (x2, y2) bottom-right.
public struct Box: Sendable, Equatable, Hashable, Codable {
    public var x1: Float
    public var y1: Float
    public var x2: Float
    public var y2: Float

    public init(x1: Float, y1: Float, x2: Float, y2: Float) {
        self.x1 = x1; self.y1 = y1; self.x2 = x2; self.y2 = y2
    }

    /// From centre and size.
    public init(cx: Float, cy: Float, width: Float, height: Float) {
        self.init(x1: cx - width / 2, y1: cy - height / 2, x2: cx + width / 2, y2: cy + height / 2)
    }

    /// The frame edges the box reaches within `margin` pixels of (bits: 1 left, 2 top,
    /// 4 right, 8 bottom; 0 when wholly inside): where an object is cut off, entering or
    /// leaving.
    public func edges(width w: Float, height h: Float, margin: Float = 2) -> Int {
        (x1 <= margin ? 1 : 0) | (y1 <= margin ? 2 : 0) | (x2 >= w - margin ? 4 : 0) | (y2 >= h - margin ? 8 : 0)
    }

    /// Whether the box reaches within `margin` pixels of any edge of a frame.
    public func touchesEdge(width w: Float, height h: Float, margin: Float = 2) -> Bool {
        edges(width: w, height: h, margin: margin) != 0
    }

    public var width: Float { max(0, x2 - x1) }
    public var height: Float { max(0, y2 - y1) }
    public var area: Float { width * height }
    public var cx: Float { (x1 + x2) / 2 }
    public var cy: Float { (y1 + y2) / 2 }
    public var diagonal: Float { (width * width + height * height).squareRoot() }

    /// Intersection over union; 0 when either box is empty.
    public func iou(_ other: Box) -> Float {
        let iw = min(x2, other.x2) - max(x1, other.x1)
        let ih = min(y2, other.y2) - max(y1, other.y1)
        if iw <= 0 || ih <= 0 { return 0 }
        let inter = iw * ih
        let union = area + other.area - inter
        return union > 0 ? inter / union : 0
    }

    /// Area of the intersection with `other` (0 when they do not overlap).
    public func intersection(_ other: Box) -> Float {
        let iw = min(x2, other.x2) - max(x1, other.x1)
        let ih = min(y2, other.y2) - max(y1, other.y1)
        return iw > 0 && ih > 0 ? iw * ih : 0
    }

    /// Clipped to a frame of `width` x `height` pixels (a box fully outside becomes empty
    /// at the nearest edge).
    public func clipped(width w: Float, height h: Float) -> Box {
        let a = min(max(x1, 0), w), b = min(max(y1, 0), h)
        let c = min(max(x2, 0), w), d = min(max(y2, 0), h)
        return Box(x1: a, y1: b, x2: max(a, c), y2: max(b, d))
    }

    public func translated(dx: Float, dy: Float) -> Box {
        Box(x1: x1 + dx, y1: y1 + dy, x2: x2 + dx, y2: y2 + dy)
    }

    /// Scaled about its centre by `sx`, `sy`.
    public func scaled(sx: Float, sy: Float) -> Box {
        Box(cx: cx, cy: cy, width: width * sx, height: height * sy)
    }

    /// Shrunk by a fraction of its size on every side (0.1 keeps the inner 80 %).
    public func inset(fraction f: Float) -> Box {
        let dx = width * f, dy = height * f
        return Box(x1: x1 + dx, y1: y1 + dy, x2: x2 - dx, y2: y2 - dy)
    }

    public func contains(x: Float, y: Float) -> Bool { x >= x1 && x < x2 && y >= y1 && y < y2 }

    /// Whether both areas are positive and the larger is at most `ratio` times the smaller.
    public func hasComparableArea(to other: Box, within ratio: Float) -> Bool {
        area > 0 && other.area > 0 && max(area, other.area) <= ratio * min(area, other.area)
    }

    /// Distance between the two boxes' centres.
    public func centreDistance(to other: Box) -> Float {
        let dx = cx - other.cx, dy = cy - other.cy
        return (dx * dx + dy * dy).squareRoot()
    }
}

/// Cosine similarity of two vectors of equal length; 0 when either is zero or lengths differ.
@inlinable
public func cosineSimilarity(_ a: [Float], _ b: [Float]) -> Float {
    guard a.count == b.count, !a.isEmpty else { return 0 }
    var dot: Float = 0, na: Float = 0, nb: Float = 0
    for i in 0..<a.count { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i] }
    let d = (na * nb).squareRoot()
    return d > 0 ? dot / d : 0
}

/// `v / |v|` (eps 1e-7 as the RegionSpot head normalizes); zero stays zero.
@inlinable
public func l2Normalized(_ v: [Float]) -> [Float] {
    var n: Float = 0
    for x in v { n += x * x }
    let s = 1 / max(n.squareRoot(), 1e-7)
    return v.map { $0 * s }
}
