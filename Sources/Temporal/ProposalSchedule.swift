// Which proposal sources run on a keyframe.
//
// API:
//   var s = ProposalSchedule(sources: [.tracked, .motion, .everything], everythingInterval: 60)
//   s.sources(at: pts) -> [ProposalOrigin]     // call once per keyframe, in stream order
// Every configured source runs on every keyframe except `.everything`, which runs on the
// first keyframe (stream start), then on the first keyframe at least `everythingInterval`
// seconds of stream time (PTS) after its previous run, and again right away when the
// clock goes backwards (a file looping, a camera restarting its timestamps) or after
// `restart()`. Deterministic: the same PTS sequence gives the same decisions.
// `ProposalSchedule.defaultSources` is what a stream with no proposal configuration uses.

public struct ProposalSchedule: Sendable, Equatable {
    /// Tracked boxes and motion every keyframe, everything mode at start and once a minute.
    public static let defaultSources: [ProposalOrigin] = [.tracked, .motion, .everything]
    public static let defaultEverythingInterval: Double = 60

    /// Configured sources, in priority order, without repeats.
    public let configured: [ProposalOrigin]
    public let everythingInterval: Double
    /// Stream time of the last everything pass (nil: none yet).
    public private(set) var lastEverything: Double?
    private var lastPTS: Double?

    public init(sources: [ProposalOrigin] = ProposalSchedule.defaultSources,
                everythingInterval: Double = ProposalSchedule.defaultEverythingInterval) {
        configured = Array(Set(sources)).sorted()
        self.everythingInterval = max(0, everythingInterval)
    }

    /// The sources to run on the keyframe at stream time `pts` (seconds), priority order.
    public mutating func sources(at pts: Double) -> [ProposalOrigin] {
        defer { lastPTS = pts }
        if let last = lastPTS, pts < last { lastEverything = nil }   // clock went back
        var out = configured.filter { $0 != .everything }
        if configured.contains(.everything) {
            let due = lastEverything.map { pts - $0 >= everythingInterval - 1e-6 } ?? true
            if due {
                lastEverything = pts
                out.append(.everything)
            }
        }
        return out
    }

    /// Would everything mode run at `pts` (without recording it)?
    public func everythingDue(at pts: Double) -> Bool {
        guard configured.contains(.everything) else { return false }
        if let last = lastPTS, pts < last { return true }
        return lastEverything.map { pts - $0 >= everythingInterval - 1e-6 } ?? true
    }

    /// Start over (new connection): everything mode runs on the next keyframe.
    public mutating func restart() { lastEverything = nil; lastPTS = nil }
}
