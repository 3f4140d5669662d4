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
        /// Tracks inside a moving region dropped for holding two or more of them: something
        /// moves where they are, so a look that changed is no sign their objects left.
        var crowded: Set<UInt64> = []
        /// Crowded tracks the tracker holds (Tracker.canHold) and this keyframe gives no box
        /// of their own (their look changed): a look can neither refresh them nor tell
        /// that they left, so what they ask for waits until their objects part.
        var unserved: Set<UInt64> = []
        /// Indices into `moving` of the parts of a region the motion vectors cut (objects
        /// that touch, moving apart): a track's box covering them does not account for them.
        var apart: Set<Int> = []
        /// The held tracks' boxes (clipped to the picture), company for the candidates in
        /// the recognizer's call (RecognitionEngine.run keeps those no kept box stands for).
        /// RegionSpot's region tokens attend to each other (tools/REGIONSPOT_FACTS.md,
        /// decoder): a box recognized alone is labelled from itself only, which its head
        /// never saw in training (every image had all its objects boxed). On the shapes
        /// scenes a shape recognized alone was labelled right 70 % of the time, with the
        /// frame's other shapes 89 % (docs/quality.md, fifteenth step).
        var context: [Box] = []
    }

    func proposals(_ frame: VideoFrame, info: FrameInfo) -> KeyframePlan {
        let run = Set(schedule.sources(at: frame.pts))
        let held = heldTracks
        var c: [ProposalCandidate] = []
        var moving: [ProposalCandidate] = []
        var crowded: Set<UInt64> = []
        var apart: Set<Int> = []
        if run.contains(.motion) {
            // While the background warms up (its first ~1.5 s) nothing moves for sure; a
            // picture without YUV planes has no background and uses the codec's vectors.
            // Objects touching as they move are one region of the background; the codec's
            // vectors cut it where they move apart (MotionSeparation).
            // (the last two inter frames' vectors: a cut must hold on both)
            func vectors(_ samples: [MotionSample]) -> [MotionRegion] {
                MotionProposals.fromVectors(samples, width: info.width, height: info.height)
            }
            let (regions, cut) = background.frames > 0
                ? MotionSeparation.separate(movingRegions(), by: motionMemory.perFrame.map(vectors))
                : (vectors(motionMemory.perFrame.last ?? []), [])
            // A region holding most of two or more live tracks is objects that touch or
            // cross: as one box it would drag a track over both. It is dropped, and those
            // tracks are re-prompted where they are.
            let split = Self.separateCrowds(regions.map(\.box), held: held.map { ($0.id, $0.box) })
            moving = Proposals.motion(split.kept.map { regions[$0] })
            apart = Set(split.kept.indices.filter { cut.contains(split.kept[$0]) })
            crowded = split.crowded
        }
        if run.contains(.tracked) {
            let own = held.filter { t in !moving.contains { $0.box.iou(t.box) >= 0.2 } && !lookChanged(t) }
            c += Proposals.tracked(own.map { (Int($0.id), $0.box, Float(1)) })
        }
        let unserved = Self.unserved(crowded: crowded, candidates: c, tracker: tracker, at: info)
        if run.contains(.external), let external {
            c += Proposals.external(external.take(stream: config.id, frame: frame.index, pts: frame.pts))
        }
        if run.contains(.zone) { c += Proposals.zones(config.proposals.zones) }
        c += moving
        var merge = Proposals.mergeConfig(for: config.proposals)
        merge.maxBoxes = min(merge.maxBoxes, options.maxBoxes)
        let context = held.map { $0.box.clipped(width: info.width, height: info.height) }.filter { $0.area > 0 }
        return KeyframePlan(candidates: c, merge: merge, everything: run.contains(.everything) ? Proposals.everythingConfig(for: config.proposals) : nil,
                            moving: moving.map(\.box), crowded: crowded, unserved: unserved, apart: apart, context: context)
    }

    /// The crowded tracks (`crowded`) that `tracker` holds (`Tracker.canHold`) and no
    /// `.tracked` candidate prompts: a look this keyframe cannot answer their requests.
    static func unserved(crowded: Set<UInt64>, candidates: [ProposalCandidate], tracker: Tracker, at info: FrameInfo) -> Set<UInt64> {
        let prompted = Set(candidates.filter { $0.source == .tracked }.compactMap { $0.tag.flatMap { UInt64($0) } })
        return Set(tracker.liveTracks.filter { crowded.contains($0.id) && !prompted.contains($0.id) && tracker.canHold($0, at: info) }.map(\.id))
    }

    /// Splits a keyframe's moving regions (xyxy, source pixels) into those kept as
    /// candidates (indices) and the tracks inside the others: a region holding at least half
    /// of the boxes of two or more held tracks is objects that touch or cross, dropped.
    static func separateCrowds(_ regions: [Box], held: [(id: UInt64, box: Box)]) -> (kept: [Int], crowded: Set<UInt64>) {
        var kept: [Int] = [], crowded: Set<UInt64> = []
        for (k, r) in regions.enumerated() {
            let inside = held.filter { $0.box.area > 0 && $0.box.intersection(r) >= 0.5 * $0.box.area }
            if inside.count >= 2 { crowded.formUnion(inside.map(\.id)) } else { kept.append(k) }
        }
        return (kept, crowded)
    }
}
