import Foundation

/// What a box of a training or evaluation image is: an annotated object, a background box
/// (no overlap with any object), a poor box (overlaps an object, IoU < 0.4 with every
/// object: shifted, partial or much too large) or a loose box (contains most of one object,
/// IoU 0.6-0.8 with it, as a motion or tracker box often does).
public enum BoxKind: Int, Sendable, CaseIterable {
    case object = 0, background = 1, poor = 2, loose = 3
    public var name: String { ["object", "background", "poor", "loose"][rawValue] }
}

/// One sampled box beside an image's annotated objects. `object` is the index of the
/// object it was derived from (poor, loose), nil for background.
public struct ExtraBox: Sendable, Equatable {
    public var box: [Float]  // xyxy pixels
    public var kind: BoxKind
    public var object: Int?
}

/// Boxes with no object (background, poor) and loose boxes around objects, sampled per
/// image, deterministic in the image's file name and `seed`. Background and poor boxes
/// train as all-zero focal-loss targets ("no class here"); loose boxes keep their
/// object's class (evaluation reports how they score; training uses them only when asked).
public struct NegativeSampling: Sendable, Equatable {
    /// Negative (background + poor) boxes per annotated box of an image, rounded per image.
    public var ratio: Double = 0
    /// The share of the negatives that are poor boxes (the rest are background).
    public var poorFraction: Double = 0.5
    /// Loose boxes per annotated box.
    public var loosePerObject = 0
    public var seed: UInt64 = 0
    /// Bumped whenever sampling changes, so cached features of other boxes are not reused.
    public static let version = "negatives-v1"
    public static let poorLimit: Float = 0.4
    public static let looseRange: ClosedRange<Float> = 0.6...0.8

    public init(ratio: Double = 0, poorFraction: Double = 0.5, loosePerObject: Int = 0, seed: UInt64 = 0) {
        self.ratio = ratio; self.poorFraction = poorFraction; self.loosePerObject = loosePerObject; self.seed = seed
    }

    /// What evaluation samples: one negative per object, half of them poor, one loose box per object.
    public static let evaluation = NegativeSampling(ratio: 1, poorFraction: 0.5, loosePerObject: 1, seed: 0)

    public var isEmpty: Bool { ratio <= 0 && loosePerObject <= 0 }

    /// Part of the feature cache key: every setting that changes the sampled boxes.
    public var cacheKey: String { "\(Self.version):\(ratio):\(poorFraction):\(loosePerObject):\(seed)" }

    /// How many background and poor boxes an image with `objects` boxes gets: ratio x
    /// objects, then its poor share, each rounded down or up at random (`u`, `v` uniform in
    /// [0, 1)) so that the expected counts are exact (one object at ratio 1 gets a poor box
    /// in half of the images, a background box in the other half).
    public func counts(objects: Int, _ u: Double, _ v: Double) -> (background: Int, poor: Int) {
        let m = Int((ratio * Double(objects) + u).rounded(.down))
        let poor = Int((Double(m) * poorFraction + v).rounded(.down))
        return (m - poor, poor)
    }

    /// The extra boxes of image `name` (width x height pixels) with annotated `objects`:
    /// background boxes first, then poor, then loose. A box that cannot be placed after
    /// 200 tries (a picture full of objects) is left out.
    public func sample(objects: [[Float]], width: Int, height: Int, name: String) -> [ExtraBox] {
        guard !isEmpty, !objects.isEmpty, width >= 8, height >= 8 else { return [] }
        var h = StableHash()
        h.add(Self.version); h.add(name); h.add("\(seed)")
        var rng = SplitMix64(seed: h.h)
        func u(_ a: Double, _ b: Double) -> Double { a + (b - a) * rng.nextDouble() }
        let W = Float(width), H = Float(height)
        func clipped(_ b: [Float]) -> [Float] { [max(0, b[0]), max(0, b[1]), min(W, b[2]), min(H, b[3])] }
        func valid(_ b: [Float]) -> Bool { b[2] - b[0] >= 4 && b[3] - b[1] >= 4 }
        let (nb, np) = counts(objects: objects.count, rng.nextDouble(), rng.nextDouble())
        var out: [ExtraBox] = []
        for _ in 0..<nb {
            for _ in 0..<200 {
                let ref = objects[Int(rng.next() % UInt64(objects.count))]
                var w = (ref[2] - ref[0]) * Float(exp(u(-0.6, 0.6))), hh = (ref[3] - ref[1]) * Float(exp(u(-0.6, 0.6)))
                if rng.nextDouble() < 0.3 { w = Float(u(0.08, 0.5)) * min(W, H); hh = w * Float(exp(u(-0.5, 0.5))) }
                w = min(max(w, 8), W); hh = min(max(hh, 8), H)
                let x0 = Float(u(0, Double(W - w))), y0 = Float(u(0, Double(H - hh)))
                let b = [x0, y0, x0 + w, y0 + hh]
                if objects.allSatisfy({ boxIntersection($0, b) == 0 }) { out.append(ExtraBox(box: b, kind: .background, object: nil)); break }
            }
        }
        for _ in 0..<np {
            for _ in 0..<200 {
                let k = Int(rng.next() % UInt64(objects.count)), o = objects[k]
                let w = o[2] - o[0], hh = o[3] - o[1], cx = (o[0] + o[2]) / 2, cy = (o[1] + o[3]) / 2
                var b: [Float]
                switch rng.next() % 3 {
                case 0:  // shifted off the object by half its size or more
                    let a = u(0, 2 * .pi), d = Float(u(0.5, 1.1)), s = Float(u(0.8, 1.25))
                    let nx = cx + d * w * Float(cos(a)), ny = cy + d * hh * Float(sin(a))
                    b = [nx - s * w / 2, ny - s * hh / 2, nx + s * w / 2, ny + s * hh / 2]
                case 1:  // a part of the object (a corner or a strip)
                    let fw = Float(u(0.25, 0.6)), fh = Float(u(0.25, 0.6))
                    let x0 = o[0] + Float(rng.nextDouble()) * w * (1 - fw), y0 = o[1] + Float(rng.nextDouble()) * hh * (1 - fh)
                    b = [x0, y0, x0 + fw * w, y0 + fh * hh]
                default:  // far too large around it
                    let f = Float(u(1.7, 2.6)), gx = Float(rng.nextDouble()), gy = Float(rng.nextDouble())
                    b = [o[0] - (f - 1) * w * gx, o[1] - (f - 1) * hh * gy, o[2] + (f - 1) * w * (1 - gx), o[3] + (f - 1) * hh * (1 - gy)]
                }
                b = clipped(b)
                guard valid(b), boxIntersection(o, b) > 0, objects.allSatisfy({ boxIoU($0, b) < Self.poorLimit }) else { continue }
                out.append(ExtraBox(box: b, kind: .poor, object: k))
                break
            }
        }
        for (k, o) in objects.enumerated() {
            for _ in 0..<max(0, loosePerObject) {
                for _ in 0..<200 {
                    // grow the box to area / t (t = the wanted IoU), margins split at random
                    let t = Double(Self.looseRange.lowerBound) + Double(Self.looseRange.upperBound - Self.looseRange.lowerBound) * rng.nextDouble()
                    let aspect = exp(u(-0.3, 0.3)), g = 1 / t
                    let fx = Float((g * aspect).squareRoot()), fy = Float((g / aspect).squareRoot())
                    let w = o[2] - o[0], hh = o[3] - o[1], gx = Float(rng.nextDouble()), gy = Float(rng.nextDouble())
                    let b = clipped([o[0] - max(0, fx - 1) * w * gx, o[1] - max(0, fy - 1) * hh * gy,
                                     o[2] + max(0, fx - 1) * w * (1 - gx), o[3] + max(0, fy - 1) * hh * (1 - gy)])
                    guard Self.looseRange.contains(boxIoU(o, b)) else { continue }
                    out.append(ExtraBox(box: b, kind: .loose, object: k))
                    break
                }
            }
        }
        return out
    }
}

/// Intersection area of two xyxy boxes.
public func boxIntersection(_ a: [Float], _ b: [Float]) -> Float {
    max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))
}

/// Intersection over union of two xyxy boxes (0 when both are empty).
public func boxIoU(_ a: [Float], _ b: [Float]) -> Float {
    let i = boxIntersection(a, b)
    let u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - i
    return u > 0 ? i / u : 0
}
