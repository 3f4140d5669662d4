// Encoders on demand: a keyframe the interval policy lets through runs SAM and CLIP only
// when something needs them. Otherwise tracks keep their tokens and labels, moving
// regions re-anchor the tracks they measure (Tracker.reanchor), and the frame is published
// with each label's age. `keyframes.on_demand: false` (replay --every-keyframe) brings
// back recognizing every keyframe the interval policy allows.
import Temporal

enum RecognitionTrigger: String, CaseIterable, Sendable {
    /// on_demand is off: every keyframe the interval policy allows.
    case everyKeyframe = "every_keyframe"
    /// Nothing was recognized for keyframes.max_interval: labels must not get older.
    case maxInterval = "max_interval"
    /// The everything pass is due (stream start, then every everything_interval).
    case everything
    /// External boxes arrived, or zones (asked on every keyframe) are configured.
    case external, zones
    /// A moving region that no live track explains and the last encoder run did not
    /// reject: maybe a new object.
    case newMotion = "new_motion"
    /// A tentative track waits for its second accepted sighting.
    case tentative
    /// A confirmed track asks for a fresh look (Tracker.recognitionRequests).
    case neverRecognized = "track_never_recognized", drift = "track_drift"
    case partialView = "track_partial_view", lowMargin = "track_low_margin", stale = "track_stale"

    init(_ r: RecognitionReason) {
        switch r {
        case .neverRecognized: self = .neverRecognized
        case .drift: self = .drift
        case .partialView: self = .partialView
        case .lowMargin: self = .lowMargin
        case .stale: self = .stale
        }
    }

    struct Inputs {
        var onDemand = true
        /// Seconds since the encoders last ran (nil: never).
        var sinceRecognition: Double?
        var maxInterval: Double
        var everything = false
        var external = false
        var zones = false
        /// This keyframe's moving regions and the live (confirmed or tentative) tracks' boxes.
        var moving: [Box] = []
        var tracks: [Box] = []
        /// Indices of `moving` the tracker accounts for (Tracker.explanation: an object its
        /// track lags behind, a piece of one, a group of tracked objects).
        var explained: Set<Int> = []
        /// Indices of `moving` cut from one region by their motion (objects that touch,
        /// moving apart): a track's box covering them is one track over two objects, so
        /// only a track that is one of them (`explainedIoU`) accounts for them.
        var apart: Set<Int> = []
        /// Boxes the last encoder run rejected ("no object here"): a moving region that
        /// is one of them (this IoU, or covered this much) was answered already.
        var rejected: [Box] = []
        var tentative = false
        var requests: [RecognitionReason] = []
        /// Between codec keyframes while they are the preferred recognition points
        /// (prefer_codec_keyframes): only max_interval and tracks asking count there.
        var betweenCodecKeyframes = false
        /// A moving region is explained by a live track whose box it overlaps by this IoU,
        /// or when live tracks' boxes cover this share of it (an arm or a leg moving inside
        /// a person's box, a blob around two tracked people who walk together); any other
        /// moving region (a new object, or one a track holds badly) asks.
        var explainedIoU: Float = 0.5
        var explainedCoverage: Float = 0.8
    }

    /// Every reason that holds, most important first; empty: the encoders may rest.
    static func decide(_ i: Inputs) -> [RecognitionTrigger] {
        guard i.onDemand else { return [.everyKeyframe] }
        var out: [RecognitionTrigger] = []
        if i.sinceRecognition.map({ $0 >= i.maxInterval }) ?? true { out.append(.maxInterval) }
        if i.everything { out.append(.everything) }
        if i.external { out.append(.external) }
        if i.zones { out.append(.zones) }
        // `m` is one of `boxes` (this IoU), or they cover this much of it
        func accounted(_ m: Box, by boxes: [Box], cover: Bool = true) -> Bool {
            boxes.contains { $0.iou(m) >= i.explainedIoU } || (cover && Tracker.coverage(of: m, by: boxes) >= i.explainedCoverage)
        }
        if i.moving.indices.contains(where: { k in
            !i.explained.contains(k) && !accounted(i.moving[k], by: i.tracks, cover: !i.apart.contains(k))
                && !accounted(i.moving[k], by: i.rejected)
        }) { out.append(.newMotion) }
        if i.tentative { out.append(.tentative) }
        for r in i.requests.map(RecognitionTrigger.init) where !out.contains(r) { out.append(r) }
        return i.betweenCodecKeyframes ? out.filter(\.holdsBetweenCodecKeyframes) : out
    }

    /// max_interval, a track's own request and a new object (new motion, a tentative track
    /// waiting for its second sighting) hold on any frame: a codec keyframe can be minutes
    /// away (vtest.avi has one in 80 s), and a person who walks in must not go unreported
    /// until then. The scheduled passes (zones, external boxes, everything) wait for the
    /// next codec keyframe.
    var holdsBetweenCodecKeyframes: Bool {
        switch self {
        case .maxInterval, .neverRecognized, .drift, .partialView, .lowMargin, .stale, .everyKeyframe, .newMotion, .tentative: true
        case .everything, .external, .zones: false
        }
    }
}
