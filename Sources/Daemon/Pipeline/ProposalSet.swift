// Boxes to recognize on a keyframe, from every configured source, de-duplicated and capped
// by priority: tracked > external > zones > motion > everything. Each box keeps its source
// tag and a confidence the tracker uses as the proposal score.
import Foundation

struct CandidateBox: Sendable, Equatable {
    var box: [Float]  // xyxy, source pixels, clipped to the frame
    var source: ProposalSource
    var confidence: Float
}

enum ProposalSet {
    static let priority: [ProposalSource] = [.tracked, .external, .zones, .motion, .everything]

    /// Highest priority first; a box overlapping an already kept one by IoU >= `iou` is
    /// dropped; at most `cap` boxes; degenerate boxes (< 2 px) dropped.
    static func merge(_ boxes: [CandidateBox], cap: Int, iou: Float = 0.7, width: Float, height: Float) -> [CandidateBox] {
        let sorted = boxes.enumerated().sorted { a, b in
            let pa = priority.firstIndex(of: a.element.source) ?? 99, pb = priority.firstIndex(of: b.element.source) ?? 99
            return pa != pb ? pa < pb : (a.element.confidence != b.element.confidence ? a.element.confidence > b.element.confidence : a.offset < b.offset)
        }.map(\.element)
        var kept: [CandidateBox] = []
        for var c in sorted {
            c.box = [max(0, min(width, c.box[0])), max(0, min(height, c.box[1])), max(0, min(width, c.box[2])), max(0, min(height, c.box[3]))]
            guard c.box[2] - c.box[0] >= 2, c.box[3] - c.box[1] >= 2 else { continue }
            if kept.contains(where: { boxIoU($0.box, c.box) >= iou }) { continue }
            kept.append(c)
            if kept.count >= cap { break }
        }
        return kept
    }
}

func boxIoU(_ a: [Float], _ b: [Float]) -> Float {
    let ix = max(0, min(a[2], b[2]) - max(a[0], b[0])), iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    let inter = ix * iy
    let u = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return u > 0 ? inter / u : 0
}
