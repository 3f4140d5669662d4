// The daemon's side of the proposal sources: turns each source's output into Temporal's
// `ProposalCandidate`s (boxes xyxy in source pixels, tagged with their source) so the
// keyframe step can call `ProposalMerge.merge`. One function per source; the schedule
// (`ProposalSchedule`, Temporal) decides which sources run on a keyframe.
//
//   var schedule = Proposals.schedule(for: stream.proposals)     // once per stream
//   let run = schedule.sources(at: frame.pts)                    // per keyframe
//   memory.add(frame.motionSamples ?? [])                        // every decoded frame (MotionSamples.swift)
//   candidates += Proposals.tracked(...) / .external(inbox.take(...)) / .zones(...) /
//                 .motion(MotionProposals.fromVectors(memory.samples, ...)) /
//                 .everything(sam.automaticProposals(embedding:input:config: Proposals.everythingConfig(...)))
//   let boxes = ProposalMerge.merge(candidates, config: Proposals.mergeConfig(for: stream.proposals),
//                                   width: w, height: h)
import Recognizer
import Temporal

extension ProposalOrigin {
    /// The configuration's name for the same source.
    init(_ s: ProposalSource) {
        switch s {
        case .tracked: self = .tracked
        case .external: self = .external
        case .zones: self = .zone
        case .motion: self = .motion
        case .everything: self = .everything
        }
    }
}

enum Proposals {
    /// The schedule of a stream's configured sources (defaults: tracked + motion every
    /// keyframe, everything at start and every `everything_interval` seconds).
    static func schedule(for config: ProposalConfig) -> ProposalSchedule {
        ProposalSchedule(sources: config.sources.map(ProposalOrigin.init), everythingInterval: config.everythingInterval)
    }

    /// The merge settings of a stream (max_boxes, dedup_iou).
    static func mergeConfig(for config: ProposalConfig) -> ProposalMergeConfig {
        ProposalMergeConfig(iouThreshold: Float(config.dedupIoU), maxBoxes: config.maxBoxes)
    }

    /// Everything-mode settings of a stream (everything_grid; SAM's thresholds otherwise).
    static func everythingConfig(for config: ProposalConfig) -> AutomaticMaskConfig {
        var c = AutomaticMaskConfig()
        c.pointsPerSide = config.everythingGrid
        // 16 points a batch instead of SAM's 64: the same boxes, and a batch's masks
        // ([16, 4, 256, 256] floats, 16 MiB) stay off the daemon's peak memory.
        c.pointsPerBatch = 16
        return c
    }

    /// Live tracks' propagated boxes (score: the track's confidence; tag: its id).
    static func tracked(_ boxes: [(id: Int, box: Box, score: Float)]) -> [ProposalCandidate] {
        boxes.map { ProposalCandidate(box: $0.box, source: .tracked, score: $0.score, tag: String($0.id)) }
    }

    /// Zones from the configuration, every keyframe (tag: the zone's name).
    static func zones(_ zones: [Zone]) -> [ProposalCandidate] {
        zones.compactMap { z in
            guard z.box.count == 4 else { return nil }
            return ProposalCandidate(box: Box(x1: Float(z.box[0]), y1: Float(z.box[1]), x2: Float(z.box[2]), y2: Float(z.box[3])),
                                     source: .zone, score: 1, tag: z.name)
        }
    }

    /// External messages taken from the inbox for this keyframe (score: the detector's,
    /// 1 without; tag: its id, else its label).
    static func external(_ messages: [ExternalBoxes]) -> [ProposalCandidate] {
        messages.flatMap { m in
            m.boxes.map { b in
                ProposalCandidate(box: Box(x1: Float(b.box[0]), y1: Float(b.box[1]), x2: Float(b.box[2]), y2: Float(b.box[3])),
                                  source: .external, score: Float(b.score ?? 1), tag: b.id ?? b.label)
            }
        }
    }

    /// Moving regions (score: 1; larger regions first as MotionProposals returns them).
    static func motion(_ regions: [MotionRegion]) -> [ProposalCandidate] {
        regions.map { ProposalCandidate(box: $0.box, source: .motion, score: 1) }
    }

    /// Everything-mode masks (score: predicted IoU; box as pixel edges).
    static func everything(_ proposals: [AutomaticProposal]) -> [ProposalCandidate] {
        proposals.map { p in
            let b = p.pixelBox
            return ProposalCandidate(box: Box(x1: b[0], y1: b[1], x2: b[2], y2: b[3]), source: .everything,
                                     score: min(max(p.predictedIoU, 0), 1))
        }
    }
}

extension ProposalSource {
    /// The configuration's / message schema's name of a merge origin.
    init(_ o: ProposalOrigin) {
        switch o {
        case .tracked: self = .tracked
        case .external: self = .external
        case .zone: self = .zones
        case .motion: self = .motion
        case .everything: self = .everything
        }
    }
}
