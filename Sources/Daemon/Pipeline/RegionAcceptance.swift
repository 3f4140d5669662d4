// Is there an object in this box? Every recognized box is accepted or rejected here
// before it creates, feeds or keeps a track. RegionSpot labels boxes but does not find
// them (its detector scores a region as box_score x prob, the box score coming from a
// proposal detector); this is the pipeline's box score, from the signals it has:
//
//   objectness  sigmoid of the best vocabulary class's logit (RegionSpot's focal loss is
//               per-class sigmoid: a head trained with background boxes gives each class
//               a low sigmoid on one)                                     >= min_score
//   mask        SAM's predicted IoU of the prompted box's mask             >= min_mask_iou
//   proposal    the proposal's own score (an external detector's)          >= min_proposal_score
//   background  the best class over vocabulary + background prompts is not a background one
//
// Class probabilities for labels come from the vocabulary's logits only (background
// columns excluded) through the rule the trackers re-score with
// (TrackerVocabulary.probabilities(logits:)), so a label never depends on the background list.
import Foundation
import Recognizer
import Temporal

struct RegionAcceptance: Sendable, Equatable {
    enum Reason: String, CaseIterable, Sendable {
        case lowScore = "low_score", maskQuality = "mask_quality", proposalScore = "proposal_score"
        case background, nonFinite = "non_finite"
    }

    struct Verdict: Sendable, Equatable {
        var reason: Reason?
        var accepted: Bool { reason == nil }
        /// sigmoid(best vocabulary logit).
        var objectness: Float
        /// Softmax over the vocabulary classes (background excluded).
        var probabilities: [Float]
    }

    var minScore: Float = 0
    var minMaskIoU: Float = 0
    var minProposalScore: Float = 0
    /// Vocabulary classes come first in the logits; the rest are background prompts.
    var vocabularyCount: Int

    init(settings: AcceptanceSettings, vocabularyCount: Int, minProposalScore: Float = 0) {
        minScore = settings.minScore ?? 0
        minMaskIoU = settings.minMaskIoU ?? 0
        self.minProposalScore = minProposalScore
        self.vocabularyCount = vocabularyCount
    }

    /// - Parameters:
    ///   - logits: [vocabularyCount + background] exp(logit_scale) x cosine.
    func judge(logits: [Float], maskIoU: Float, proposalScore: Float) -> Verdict {
        let k = min(vocabularyCount, logits.count)
        guard k > 0, logits.allSatisfy(\.isFinite), maskIoU.isFinite, proposalScore.isFinite else {
            return Verdict(reason: .nonFinite, objectness: 0, probabilities: [Float](repeating: 0, count: k))
        }
        let vocab = Array(logits[0..<k])
        let best = vocab.max()!
        let objectness = 1 / (1 + expf(-best))
        let probs = TrackerVocabulary.probabilities(logits: vocab)
        let reason: Reason? =
            if logits.count > k, logits[k...].max()! > best { .background }
            else if minScore > 0 && objectness < minScore { .lowScore }
            else if minMaskIoU > 0 && maskIoU < minMaskIoU { .maskQuality }  // SAM's IoU head can go below 0
            else if minProposalScore > 0 && proposalScore < minProposalScore { .proposalScore }
            else { nil }
        return Verdict(reason: reason, objectness: objectness, probabilities: probs)
    }
}
