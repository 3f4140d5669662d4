// CLEAR-MOT (MOTA, MOTP, ID switches) and ID measures (IDF1, IDP, IDR), computed the way
// PyPI motmetrics 1.4.0 computes them, so the numbers can be checked against it
// (tools/check_motmetrics.py writes the fixture the tests compare with).
//
// Per frame: pairs matched on the previous frame are kept while their distance is still
// allowed; the rest are matched by an optimal assignment (max number of pairs, then min
// total distance); a match whose object was last matched to another hypothesis is a
// switch. IDF1 uses one global object<->hypothesis assignment maximizing the number of
// frames where the pair is within the distance threshold (our Hungarian again).

/// Totals over a sequence, named as motmetrics names them.
public struct MOTSummary: Sendable, Codable, Equatable {
    public var numFrames = 0
    /// Ground-truth object appearances, hypothesis appearances.
    public var numObjects = 0
    public var numPredictions = 0
    public var numMatches = 0
    public var numSwitches = 0
    public var numFalsePositives = 0
    public var numMisses = 0
    /// Unique ground-truth ids (for per-100-track-frames rates use numObjects).
    public var numUniqueObjects = 0
    public var mota = 0.0
    /// Mean distance of matched pairs (for IoU distance: mean 1 - IoU).
    public var motp = 0.0
    public var idtp = 0
    public var idf1 = 0.0
    public var idp = 0.0
    public var idr = 0.0

    /// ID switches per 100 ground-truth track-frames.
    public var switchesPer100: Double { numObjects > 0 ? 100 * Double(numSwitches) / Double(numObjects) : 0 }
}

/// Accumulates frames; not thread-safe (one per evaluated sequence).
public struct MOTAccumulator: Sendable {
    var m: [Int: Int] = [:]            // object -> hypothesis of its last match
    var lastOccurrence: [Int: Int] = [:]
    var pairFrames: [Pair: Int] = [:]  // frames where (o, h) was within the threshold
    var objectFrames: [Int: Int] = [:]
    var hypothesisFrames: [Int: Int] = [:]
    var distanceSum = 0.0
    var s = MOTSummary()
    var frameID = 0

    struct Pair: Hashable { var o: Int; var h: Int }

    public init() {}

    /// IoU distance as motmetrics' `iou_matrix`: 1 - IoU, or NaN when above `maxDistance`.
    /// Boxes are xyxy.
    public static func iouDistance(_ a: (Double, Double, Double, Double), _ b: (Double, Double, Double, Double),
                                   maxDistance: Double = 0.5) -> Double {
        let iw = min(a.2, b.2) - max(a.0, b.0), ih = min(a.3, b.3) - max(a.1, b.1)
        let inter = max(iw, 0) * max(ih, 0)
        let ua = (a.2 - a.0) * (a.3 - a.1) + (b.2 - b.0) * (b.3 - b.1) - inter
        let d = 1 - (ua > 0 ? inter / ua : 0)
        return d > maxDistance ? .nan : d
    }

    /// One frame of boxes (IoU distance, threshold 1 - minIoU).
    @discardableResult
    public mutating func update(objects: [(id: Int, box: Box)], hypotheses: [(id: Int, box: Box)],
                                minIoU: Double = 0.5) -> [(object: Int, hypothesis: Int)] {
        var d = [Double](repeating: .nan, count: objects.count * hypotheses.count)
        for (i, o) in objects.enumerated() {
            let a = (Double(o.box.x1), Double(o.box.y1), Double(o.box.x2), Double(o.box.y2))
            for (j, h) in hypotheses.enumerated() {
                let b = (Double(h.box.x1), Double(h.box.y1), Double(h.box.x2), Double(h.box.y2))
                d[i * hypotheses.count + j] = Self.iouDistance(a, b, maxDistance: 1 - minIoU)
            }
        }
        return update(objectIDs: objects.map(\.id), hypothesisIDs: hypotheses.map(\.id), distances: d)
    }

    /// One frame: ids and a (objects, hypotheses) row-major distance matrix, NaN = not allowed.
    /// Returns this frame's matched pairs (matches and switches) as (object index,
    /// hypothesis index) into the given arrays, the pairs motmetrics reports as MATCH/SWITCH.
    @discardableResult
    public mutating func update(objectIDs oids: [Int], hypothesisIDs hids: [Int], distances: [Double]) -> [(object: Int, hypothesis: Int)] {
        let no = oids.count, nh = hids.count
        precondition(distances.count == no * nh, "MOTAccumulator: \(distances.count) distances for \(no)x\(nh)")
        let frame = frameID; frameID += 1
        s.numFrames += 1
        s.numObjects += no; s.numPredictions += nh
        for o in oids { objectFrames[o, default: 0] += 1 }
        for h in hids { hypothesisFrames[h, default: 0] += 1 }
        for i in 0..<no {
            for j in 0..<nh where distances[i * nh + j].isFinite {
                pairFrames[Pair(o: oids[i], h: hids[j]), default: 0] += 1
            }
        }
        var d = distances
        var oMasked = [Bool](repeating: false, count: no), hMasked = [Bool](repeating: false, count: nh)
        var pairs: [(object: Int, hypothesis: Int)] = []
        if no > 0 && nh > 0 {
            // 1. Keep last frame's correspondences that are still allowed.
            for i in 0..<no {
                guard let hPrev = m[oids[i]] else { continue }
                guard let j = (0..<nh).first(where: { !hMasked[$0] && hids[$0] == hPrev }) else { continue }
                if d[i * nh + j].isFinite {
                    oMasked[i] = true; hMasked[j] = true
                    s.numMatches += 1; distanceSum += d[i * nh + j]
                    pairs.append((i, j))
                }
            }
            // 2. Optimal assignment of the rest.
            for i in 0..<no where oMasked[i] { for j in 0..<nh { d[i * nh + j] = .nan } }
            for j in 0..<nh where hMasked[j] { for i in 0..<no { d[i * nh + j] = .nan } }
            for (i, j) in Assignment.solve(costs: d, rows: no, cols: nh) {
                let o = oids[i], h = hids[j]
                if let prev = m[o], prev != h, lastOccurrence[o] != nil {
                    s.numSwitches += 1
                } else {
                    s.numMatches += 1
                }
                distanceSum += d[i * nh + j]
                oMasked[i] = true; hMasked[j] = true
                m[o] = h
                pairs.append((i, j))
            }
        }
        s.numMisses += oMasked.filter { !$0 }.count
        s.numFalsePositives += hMasked.filter { !$0 }.count
        for o in oids { lastOccurrence[o] = frame }
        return pairs
    }

    /// The totals and ratios so far.
    public func summary() -> MOTSummary {
        var r = s
        r.numUniqueObjects = objectFrames.count
        let detections = r.numMatches + r.numSwitches
        r.mota = r.numObjects > 0
            ? 1 - Double(r.numMisses + r.numSwitches + r.numFalsePositives) / Double(r.numObjects) : 0
        r.motp = detections > 0 ? distanceSum / Double(detections) : 0
        // Global ID assignment: maximize frames in which each paired (o, h) agree.
        let os = objectFrames.keys.sorted(), hs = hypothesisFrames.keys.sorted()
        if !os.isEmpty && !hs.isEmpty {
            var cost = [Double](repeating: .infinity, count: os.count * hs.count)
            for (p, n) in pairFrames {
                guard let i = os.firstIndex(of: p.o), let j = hs.firstIndex(of: p.h) else { continue }
                cost[i * hs.count + j] = -Double(n)
            }
            r.idtp = Assignment.solve(costs: cost, rows: os.count, cols: hs.count)
                .reduce(0) { $0 + Int(-cost[$1.row * hs.count + $1.col]) }
        }
        let total = r.numObjects + r.numPredictions
        r.idf1 = total > 0 ? 2 * Double(r.idtp) / Double(total) : 0
        r.idp = r.numPredictions > 0 ? Double(r.idtp) / Double(r.numPredictions) : 0
        r.idr = r.numObjects > 0 ? Double(r.idtp) / Double(r.numObjects) : 0
        return r
    }
}
