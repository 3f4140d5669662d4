// Running per-class scores across keyframes: an exponential moving average of the class
// probability vectors, so one noisy keyframe does not flip a track's label.

public struct LabelHistory: Sendable, Equatable {
    /// (C) running scores; empty until the first observation.
    public private(set) var scores: [Float] = []
    /// Weight of a new observation (0...1]. 1 = no memory.
    public var alpha: Float
    /// Keyframes observed since the last reset.
    public private(set) var observations = 0

    public init(alpha: Float = 0.4) { self.alpha = alpha }

    /// Folds in one keyframe's class probabilities. A vector of a different length (the
    /// vocabulary changed) restarts the history from it.
    public mutating func observe(_ p: [Float]) {
        if scores.count != p.count || observations == 0 {
            scores = p
        } else {
            for i in scores.indices { scores[i] = (1 - alpha) * scores[i] + alpha * p[i] }
        }
        observations += 1
    }

    /// Replaces the history (after a vocabulary change, from the stored embedding).
    public mutating func reset(to p: [Float]) { scores = p; observations = 1 }

    /// Best class index, or nil before any observation.
    public var label: Int? {
        guard !scores.isEmpty else { return nil }
        var best = 0
        for i in scores.indices where scores[i] > scores[best] { best = i }
        return best
    }

    public var score: Float { label.map { scores[$0] } ?? 0 }

    /// Top-1 minus top-2 running score (1 with a single class, 0 before any observation).
    public var margin: Float {
        guard let l = label else { return 0 }
        var second: Float = 0
        for i in scores.indices where i != l { second = max(second, scores[i]) }
        return scores[l] - second
    }

    /// The `k` best (class, score) pairs, best first.
    public func top(_ k: Int) -> [(index: Int, score: Float)] {
        let order = scores.indices.sorted { scores[$0] > scores[$1] }
        return order.prefix(k).map { ($0, scores[$0]) }
    }
}
