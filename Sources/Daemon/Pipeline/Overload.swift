// Overload: when decoding and recognition do not both fit on the machine, labels must not
// starve silently. The rules, as pure functions (OverloadGovernor applies them):
// - `RecognitionQueue.pick`: which waiting stream a free recognizer serves. Streams whose
//   label is older than limits.max_label_age come first (higher priority first), then the
//   oldest label: no stream starves while others are relabelled, whoever submitted last.
// - `OverloadPolicy.step`: when a round of recognitions (every stream once) would take
//   longer than the label age allows, one stream sheds one more level of per-frame work
//   (`ShedLevel`), lowest priority first; when it fits again with room, the last step is
//   undone. What cannot be shed is spread by `pick`: every stream's keyframe interval
//   stretches alike (docs/config.md, "Overload").
import Decode

/// What a stream gives up so the recognizer gets the cores, cumulative, in this order.
enum ShedLevel: Int, Comparable, CaseIterable, Sendable {
    /// Everything: every frame decoded and tracked.
    case none = 0
    /// Tracking (background, motion vectors, propagation, publishing) on codec keyframes
    /// and every `trackingStride`-th frame only; every frame still decoded.
    case tracking
    /// Also the decoder drops non-reference frames (`skip_frame = AVDISCARD_NONREF`:
    /// B-frames; a stream without them saves nothing more here).
    case nonReference
    /// Only codec keyframes are decoded (`AVDISCARD_NONKEY`): tracks move once per GOP.
    case keyframesOnly

    static func < (a: ShedLevel, b: ShedLevel) -> Bool { a.rawValue < b.rawValue }

    /// Frames between two tracked frames at `tracking` and deeper (5 fps of a 25 fps camera).
    static let trackingStride = 5

    /// The name in status messages, metrics, logs and docs.
    var name: String {
        switch self {
        case .none: "none"
        case .tracking: "tracking"
        case .nonReference: "non_reference"
        case .keyframesOnly: "keyframes_only"
        }
    }

    /// What the decoder discards at this level.
    var discard: FrameDiscard {
        switch self {
        case .none, .tracking: .none
        case .nonReference: .nonReference
        case .keyframesOnly: .nonKey
        }
    }

    /// Whether a decoded frame is tracked at this level.
    func tracks(frameIndex: Int, keyframe: Bool) -> Bool {
        self == .none || keyframe || frameIndex % Self.trackingStride == 0
    }
}

enum RecognitionQueue {
    struct Candidate: Equatable {
        var stream: String
        var priority: Int
        /// Seconds since the keyframe of the stream's newest labels (or since it started).
        var labelAge: Double
    }

    /// The candidate a free recognizer serves (nil: none waiting).
    static func pick(_ c: [Candidate], maxLabelAge: Double) -> Int? {
        c.indices.min { before(c[$0], c[$1], maxLabelAge: maxLabelAge) }
    }

    /// Overdue (label older than max_label_age) first, by priority then age; then the
    /// oldest label; ties by priority, then stream id (deterministic).
    static func before(_ a: Candidate, _ b: Candidate, maxLabelAge m: Double) -> Bool {
        let ao = a.labelAge > m, bo = b.labelAge > m
        if ao != bo { return ao }
        if ao && a.priority != b.priority { return a.priority > b.priority }
        if a.labelAge != b.labelAge { return a.labelAge > b.labelAge }
        if a.priority != b.priority { return a.priority > b.priority }
        return a.stream < b.stream
    }
}

enum OverloadPolicy {
    struct Stream: Equatable {
        var id: String
        var priority: Int
        var level: ShedLevel
    }

    enum Step: Equatable {
        case shed(String, to: ShedLevel)
        case relieve(String, to: ShedLevel)
    }

    /// Shed when a round takes more than this fraction of max_label_age (the rest is the
    /// margin for a keyframe that takes longer than the last one)...
    static let shedAbove = 0.8
    /// ...and give back when it takes less than this fraction.
    static let relieveBelow = 0.5

    /// Seconds until every stream has been recognized once: streams x seconds per recognition.
    static func round(streams: Int, secondsPerRecognition r: Double) -> Double { Double(streams) * r }

    /// The next step, nil when the round fits (or nothing is left to shed or give back).
    static func step(_ streams: [Stream], secondsPerRecognition r: Double, maxLabelAge m: Double) -> Step? {
        let t = round(streams: streams.count, secondsPerRecognition: r)
        if t > shedAbove * m { return nextShed(streams) }
        if t < relieveBelow * m { return nextRelief(streams) }
        return nil
    }

    /// Lowest priority first; within one priority every stream sheds a level before any
    /// sheds the next (ties by id).
    static func nextShed(_ s: [Stream]) -> Step? {
        s.filter { $0.level < .keyframesOnly }
            .min { ($0.priority, $0.level.rawValue, $0.id) < ($1.priority, $1.level.rawValue, $1.id) }
            .map { .shed($0.id, to: ShedLevel(rawValue: $0.level.rawValue + 1)!) }
    }

    /// The reverse of `nextShed`: the step taken last is given back first.
    static func nextRelief(_ s: [Stream]) -> Step? {
        s.filter { $0.level > .none }
            .max { ($0.priority, $0.level.rawValue, $0.id) < ($1.priority, $1.level.rawValue, $1.id) }
            .map { .relieve($0.id, to: ShedLevel(rawValue: $0.level.rawValue - 1)!) }
    }
}
