// Scores published regions against ground truth frame by frame with Temporal's MOT metrics
// (computed as PyPI motmetrics 1.4.0 does): precision, recall, MOTA, MOTP, IDF1, ID
// switches, plus label accuracy on the matched pairs and how many regions are published
// per frame next to how many objects there are.
//
// Don't-care objects (MOTChallenge conf 0, barely visible shapes) follow the MOTChallenge
// devkit: on each frame the hypotheses are matched one-to-one to all truth boxes (optimal
// assignment on 1 - IoU, IoU >= the threshold); a hypothesis matched to a don't-care box is
// dropped, and don't-care boxes are not scored.
import Foundation
import Temporal

/// One published region, as the scorer sees it.
struct Hypothesis: Sendable, Equatable {
    var id: Int
    var box: PixelBox
    var label: String
}

/// The numbers `eval-video` reports (JSON keys in snake_case).
struct VideoScore: Sendable, Codable, Equatable {
    var iouThreshold: Double
    var framesScored = 0
    /// Truth objects to score (don't-care ones excluded), summed over frames.
    var truthObjects = 0
    var dontCareObjects = 0
    /// Every region published on the scored frames.
    var publishedRegions = 0
    /// Published regions dropped because they cover a don't-care object.
    var regionsOnDontCare = 0
    /// Regions scored (published minus those on don't-care objects).
    var predictions = 0
    var truePositives = 0
    var falsePositives = 0
    var misses = 0
    var idSwitches = 0
    var precision = 0.0
    var recall = 0.0
    var mota = 0.0
    /// motmetrics' MOTP: mean 1 - IoU of the matched pairs (lower is better).
    var motp = 0.0
    var meanIoU = 0.0
    var idf1 = 0.0
    var idp = 0.0
    var idr = 0.0
    var uniqueTruthObjects = 0
    /// Distinct track ids among the published regions of the scored frames.
    var uniqueHypothesisIDs = 0
    /// Matched region-frames whose object has a class name, and how many carry it as label.
    var labelPairs = 0
    var labelCorrect = 0
    /// labelCorrect / labelPairs; nil when the truth names no classes (absent).
    var labelAccuracy: Double?
    var regionsPerFrame = 0.0
    var truthPerFrame = 0.0
    /// regionsPerFrame / truthPerFrame (nil without truth objects).
    var regionsPerTruth: Double?

    enum CodingKeys: String, CodingKey {
        case iouThreshold = "iou_threshold", framesScored = "frames_scored", truthObjects = "truth_objects"
        case dontCareObjects = "dont_care_objects", publishedRegions = "published_regions"
        case regionsOnDontCare = "regions_on_dont_care", predictions, truePositives = "true_positives"
        case falsePositives = "false_positives", misses, idSwitches = "id_switches", precision, recall, mota, motp
        case meanIoU = "mean_iou", idf1, idp, idr, uniqueTruthObjects = "unique_truth_objects"
        case uniqueHypothesisIDs = "unique_hypothesis_ids", labelPairs = "label_pairs", labelCorrect = "label_correct"
        case labelAccuracy = "label_accuracy", regionsPerFrame = "regions_per_frame", truthPerFrame = "truth_per_frame"
        case regionsPerTruth = "regions_per_truth"
    }

    /// Absent values are written as null (label accuracy without class names).
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(iouThreshold, forKey: .iouThreshold)
        try c.encode(framesScored, forKey: .framesScored)
        try c.encode(truthObjects, forKey: .truthObjects)
        try c.encode(dontCareObjects, forKey: .dontCareObjects)
        try c.encode(publishedRegions, forKey: .publishedRegions)
        try c.encode(regionsOnDontCare, forKey: .regionsOnDontCare)
        try c.encode(predictions, forKey: .predictions)
        try c.encode(truePositives, forKey: .truePositives)
        try c.encode(falsePositives, forKey: .falsePositives)
        try c.encode(misses, forKey: .misses)
        try c.encode(idSwitches, forKey: .idSwitches)
        try c.encode(precision, forKey: .precision)
        try c.encode(recall, forKey: .recall)
        try c.encode(mota, forKey: .mota)
        try c.encode(motp, forKey: .motp)
        try c.encode(meanIoU, forKey: .meanIoU)
        try c.encode(idf1, forKey: .idf1)
        try c.encode(idp, forKey: .idp)
        try c.encode(idr, forKey: .idr)
        try c.encode(uniqueTruthObjects, forKey: .uniqueTruthObjects)
        try c.encode(uniqueHypothesisIDs, forKey: .uniqueHypothesisIDs)
        try c.encode(labelPairs, forKey: .labelPairs)
        try c.encode(labelCorrect, forKey: .labelCorrect)
        try c.encode(labelAccuracy, forKey: .labelAccuracy)
        try c.encode(regionsPerFrame, forKey: .regionsPerFrame)
        try c.encode(truthPerFrame, forKey: .truthPerFrame)
        try c.encode(regionsPerTruth, forKey: .regionsPerTruth)
    }
}

struct VideoScorer {
    let iouThreshold: Double
    private var acc = MOTAccumulator()
    private var score: VideoScore
    private var hypothesisIDs = Set<Int>()
    private var labelled = false

    init(iouThreshold: Double = 0.5) {
        self.iouThreshold = iouThreshold
        score = VideoScore(iouThreshold: iouThreshold)
    }

    /// 1 - IoU, NaN when IoU is below the threshold (motmetrics' iou_matrix).
    func distance(_ a: PixelBox, _ b: PixelBox) -> Double {
        MOTAccumulator.iouDistance(a.tuple, b.tuple, maxDistance: 1 - iouThreshold)
    }

    /// One frame: its truth objects and the regions published on it (none when nothing was
    /// published for it).
    mutating func add(truth: [TruthBox], hypotheses: [Hypothesis]) {
        score.framesScored += 1
        score.publishedRegions += hypotheses.count
        for h in hypotheses { hypothesisIDs.insert(h.id) }
        let cared = truth.filter { !$0.dontCare }
        score.dontCareObjects += truth.count - cared.count
        var kept = hypotheses
        if cared.count < truth.count && !hypotheses.isEmpty {
            // Regions matched to a don't-care box leave the scoring.
            var d = [Double](repeating: .nan, count: hypotheses.count * truth.count)
            for (j, h) in hypotheses.enumerated() {
                for (i, o) in truth.enumerated() { d[j * truth.count + i] = distance(o.box, h.box) }
            }
            let onDontCare = Set(Assignment.solve(costs: d, rows: hypotheses.count, cols: truth.count)
                .filter { truth[$0.col].dontCare }.map(\.row))
            kept = hypotheses.enumerated().filter { !onDontCare.contains($0.offset) }.map(\.element)
            score.regionsOnDontCare += onDontCare.count
        }
        var d = [Double](repeating: .nan, count: cared.count * kept.count)
        for (i, o) in cared.enumerated() {
            for (j, h) in kept.enumerated() { d[i * kept.count + j] = distance(o.box, h.box) }
        }
        let pairs = acc.update(objectIDs: cared.map(\.id), hypothesisIDs: kept.map(\.id), distances: d)
        for (i, j) in pairs {
            guard let label = cared[i].label else { continue }
            score.labelPairs += 1
            if kept[j].label == label { score.labelCorrect += 1 }
        }
        if cared.contains(where: { $0.label != nil }) { labelled = true }
    }

    /// The totals so far.
    func summary() -> VideoScore {
        var s = score
        let m = acc.summary()
        s.truthObjects = m.numObjects
        s.predictions = m.numPredictions
        s.truePositives = m.numMatches + m.numSwitches
        s.falsePositives = m.numFalsePositives
        s.misses = m.numMisses
        s.idSwitches = m.numSwitches
        s.precision = s.predictions > 0 ? Double(s.truePositives) / Double(s.predictions) : 0
        s.recall = s.truthObjects > 0 ? Double(s.truePositives) / Double(s.truthObjects) : 0
        s.mota = m.mota
        s.motp = m.motp
        s.meanIoU = s.truePositives > 0 ? 1 - m.motp : 0
        s.idf1 = m.idf1
        s.idp = m.idp
        s.idr = m.idr
        s.uniqueTruthObjects = m.numUniqueObjects
        s.uniqueHypothesisIDs = hypothesisIDs.count
        s.labelAccuracy = labelled ? (s.labelPairs > 0 ? Double(s.labelCorrect) / Double(s.labelPairs) : 0) : nil
        if s.framesScored > 0 {
            s.regionsPerFrame = Double(s.publishedRegions) / Double(s.framesScored)
            s.truthPerFrame = Double(s.truthObjects) / Double(s.framesScored)
        }
        s.regionsPerTruth = s.truthPerFrame > 0 ? s.regionsPerFrame / s.truthPerFrame : nil
        return s
    }

    /// Scores `frames` (0-based indices, in order) of `truth` against the regions published
    /// on them (`published[frame]`; a frame without an entry published nothing).
    static func score(truth: GroundTruth, frames: [Int], published: [Int: [Hypothesis]], iouThreshold: Double) -> VideoScore {
        var scorer = VideoScorer(iouThreshold: iouThreshold)
        for f in frames { scorer.add(truth: truth.frames[f] ?? [], hypotheses: published[f] ?? []) }
        return scorer.summary()
    }
}
