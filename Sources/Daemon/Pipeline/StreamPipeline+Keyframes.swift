// What a keyframe looks at: the candidate boxes from the sources the schedule runs on it
// (moving regions, tracks' own boxes, external boxes, zones, the everything pass).
import Decode
import Recognizer
import Temporal

extension StreamPipeline {
    /// Candidate boxes from the sources the schedule runs on this keyframe; everything
    /// mode needs the image embedding, so the recognizer adds its boxes before the merge.
    /// Moving regions come from the background difference (pixel-tight) once it has
    /// warmed up, else from the codec's motion vectors. A track's own box is re-prompted
    /// only where no moving region overlaps it (IoU >= 0.2): a fresh tight box is better
    /// evidence than the propagated one, and the two would otherwise compete for the same
    /// track, the propagated box winning at IoU 1 and carrying its drift on.
    struct KeyframePlan {
        var candidates: [ProposalCandidate]
        var merge: ProposalMergeConfig
        var everything: AutomaticMaskConfig?
        /// This keyframe's moving regions (also among the candidates).
        var moving: [Box]
    }

    func proposals(_ frame: VideoFrame, info: FrameInfo) -> KeyframePlan {
        let run = Set(schedule.sources(at: frame.pts))
        var c: [ProposalCandidate] = []
        var moving: [ProposalCandidate] = []
        if run.contains(.motion) {
            // While the background warms up (its first ~1.5 s) nothing moves for sure; a
            // picture without YUV planes has no background and uses the codec's vectors.
            let regions = background.frames > 0
                ? movingRegions()
                : MotionProposals.fromVectors(motionMemory.samples, width: info.width, height: info.height)
            // A region holding most of two or more live tracks is objects that touch or
            // cross: as one box it would drag a track over both. It is dropped, and those
            // tracks are re-prompted where they are.
            let held = heldTracks.map(\.box)
            moving = Proposals.motion(regions.filter { r in
                held.filter { $0.area > 0 && $0.intersection(r.box) >= 0.5 * $0.area }.count < 2
            })
        }
        if run.contains(.tracked) {
            let own = heldTracks.filter { t in !moving.contains { $0.box.iou(t.box) >= 0.2 } && !lookChanged(t) }
            c += Proposals.tracked(own.map { (Int($0.id), $0.box, Float(1)) })
        }
        if run.contains(.external), let external {
            c += Proposals.external(external.take(stream: config.id, frame: frame.index, pts: frame.pts))
        }
        if run.contains(.zone) { c += Proposals.zones(config.proposals.zones) }
        c += moving
        var merge = Proposals.mergeConfig(for: config.proposals)
        merge.maxBoxes = min(merge.maxBoxes, options.maxBoxes)
        return KeyframePlan(candidates: c, merge: merge, everything: run.contains(.everything) ? Proposals.everythingConfig(for: config.proposals) : nil,
                            moving: moving.map(\.box))
    }
}
