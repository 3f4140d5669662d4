// A live recognition answers for the keyframe it saw, seconds ago (SAM ViT-B on two cores
// takes ~8 s); by then the objects have moved. Before its boxes meet the tracks they are
// carried to the current frame by the motion of the tracks they belong to: the track whose
// box was re-prompted (a `tracked` proposal names it), else the track that overlapped the
// box most on the keyframe. Boxes of objects no track knew stay where they were seen.
import Temporal

enum LatencyCompensation {
    /// `boxes` as seen on the keyframe, where the tracks were `then`, moved to where those
    /// tracks are `now`. `trackTags` gives, per box, the track it was proposed from (nil
    /// for other sources).
    static func carry(_ boxes: [Box], trackTags: [UInt64?], then: [UInt64: Box], now: [UInt64: Box], minIoU: Float = 0.3) -> [Box] {
        zip(boxes, trackTags).map { box, tag in
            var owner = tag.flatMap { then[$0] != nil ? $0 : nil }
            if owner == nil {
                var best = minIoU
                for (id, b) in then.sorted(by: { $0.key < $1.key }) {
                    let iou = b.iou(box)
                    if iou >= best { best = iou; owner = id }
                }
            }
            guard let id = owner, let a = then[id], let b = now[id] else { return box }
            // The track's displacement and change of scale, applied to the box.
            let sx = a.width > 0 ? b.width / a.width : 1, sy = a.height > 0 ? b.height / a.height : 1
            return Box(cx: b.cx + (box.cx - a.cx) * sx, cy: b.cy + (box.cy - a.cy) * sy,
                       width: box.width * sx, height: box.height * sy)
        }
    }

    /// Live tracks' boxes by id.
    static func boxes(_ tracks: [Track]) -> [UInt64: Box] {
        Dictionary(tracks.map { ($0.id, $0.box) }, uniquingKeysWith: { a, _ in a })
    }
}
