// Proposal merging: the boxes of every source for one keyframe ->
// one de-duplicated, capped, source-tagged list for the recognizer. Pure function.
//
// API (boxes xyxy in source pixels):
//   ProposalMerge.merge(_ candidates: [ProposalCandidate], config:, width:, height:) -> [ProposalCandidate]
//     1. boxes are clipped to the frame (when width/height are given); empty boxes and
//        boxes smaller than `minSide` pixels on a side are dropped;
//     2. candidates are ranked: source priority first (tracked > external > zones >
//        motion > everything), then score (higher first), then input order;
//     3. greedy de-duplication in that order: a candidate whose IoU with an already kept
//        box is > `iouThreshold` is dropped (so the higher-priority duplicate survives);
//        zones are never dropped as duplicates unless `dedupZones` (each zone is a named
//        question asked every keyframe);
//     4. at most `maxBoxes` are kept (highest rank first).
//   The output is in rank order, each candidate tagged with its `source`.

/// Where a keyframe box came from, in merge priority order (lower raw value wins).
public enum ProposalOrigin: Int, Sendable, Equatable, Hashable, Comparable, CaseIterable, Codable {
    case tracked = 0, external, zone, motion, everything

    public static func < (a: ProposalOrigin, b: ProposalOrigin) -> Bool { a.rawValue < b.rawValue }

    /// The name published with the region ("tracked", "external", "zone", "motion", "everything").
    public var name: String {
        switch self {
        case .tracked: "tracked"
        case .external: "external"
        case .zone: "zone"
        case .motion: "motion"
        case .everything: "everything"
        }
    }
}

/// One box offered for recognition on a keyframe.
public struct ProposalCandidate: Sendable, Equatable {
    /// xyxy, source pixels.
    public var box: Box
    public var source: ProposalOrigin
    /// The source's confidence in 0...1 (external detector score, SAM predicted IoU,
    /// track confidence); 1 when the source has none (zones).
    public var score: Float
    /// Source-specific reference: track id, zone name, external id or label.
    public var tag: String?

    public init(box: Box, source: ProposalOrigin, score: Float = 1, tag: String? = nil) {
        self.box = box; self.source = source; self.score = score; self.tag = tag
    }
}

public struct ProposalMergeConfig: Sendable, Equatable {
    /// Two boxes with IoU above this are the same region.
    public var iouThreshold: Float = 0.7
    /// Boxes per keyframe at most (bounds the recognizer's cost).
    public var maxBoxes: Int = 64
    /// Boxes narrower or lower than this (pixels) are dropped.
    public var minSide: Float = 2
    /// Zones are kept even when they duplicate another box, unless this is set.
    public var dedupZones: Bool = false
    public init(iouThreshold: Float = 0.7, maxBoxes: Int = 64, minSide: Float = 2, dedupZones: Bool = false) {
        self.iouThreshold = iouThreshold; self.maxBoxes = maxBoxes; self.minSide = minSide; self.dedupZones = dedupZones
    }
}

public enum ProposalMerge {
    /// De-duplicated, capped, ranked proposals (see the file header).
    public static func merge(_ candidates: [ProposalCandidate], config: ProposalMergeConfig = ProposalMergeConfig(),
                             width: Float? = nil, height: Float? = nil) -> [ProposalCandidate] {
        var valid: [(Int, ProposalCandidate)] = []
        for (i, var c) in candidates.enumerated() {
            guard c.box.x1.isFinite, c.box.y1.isFinite, c.box.x2.isFinite, c.box.y2.isFinite else { continue }
            if let width, let height { c.box = c.box.clipped(width: width, height: height) }
            guard c.box.width >= config.minSide, c.box.height >= config.minSide else { continue }
            valid.append((i, c))
        }
        valid.sort { a, b in
            if a.1.source != b.1.source { return a.1.source < b.1.source }
            if a.1.score != b.1.score { return a.1.score > b.1.score }
            return a.0 < b.0
        }
        var kept: [ProposalCandidate] = []
        for (_, c) in valid {
            if kept.count >= config.maxBoxes { break }
            let exempt = c.source == .zone && !config.dedupZones
            if !exempt && kept.contains(where: { $0.box.iou(c.box) > config.iouThreshold }) { continue }
            kept.append(c)
        }
        return kept
    }
}
