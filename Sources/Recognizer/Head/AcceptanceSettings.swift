// What a model says about accepting a region ("is there an object in this box?"),
// calibrated for that model and carried in its model.json:
//
//   "acceptance": {"min_score": 0.35, "min_mask_iou": 0.0, "background": ["grass", "wall"]}
//
// RegionSpot labels boxes; it does not find them (its detector scores a region as
// box_score x prob, the box score coming from the proposal detector). These settings are
// this project's box score: the head's best per-class sigmoid (RegionSpot trains with a
// sigmoid focal loss, so a head trained with background boxes scores them low on every
// class), SAM's predicted IoU of the prompted box's mask, and background prompts.
import Foundation

public struct AcceptanceSettings: Sendable, Equatable {
    /// The best vocabulary class's sigmoid(logit) must reach this (0 disables).
    public var minScore: Float?
    /// SAM's predicted IoU of the box's mask must reach this (0 disables).
    public var minMaskIoU: Float?
    /// Classes embedded and scored like the vocabulary but never published: a box whose
    /// best class is one of them is rejected.
    public var background: [String]?

    public init(minScore: Float? = nil, minMaskIoU: Float? = nil, background: [String]? = nil) {
        self.minScore = minScore; self.minMaskIoU = minMaskIoU; self.background = background
    }

    public static let keys: Set<String> = ["min_score", "min_mask_iou", "background"]

    /// Reads model.json's "acceptance" object; errors name the file and key.
    public init(json: Any?, file: String) throws(RecognizerError) {
        guard let json else { return }
        guard let obj = json as? [String: Any] else { throw RecognizerError("\(file): acceptance: not an object") }
        for k in obj.keys.sorted() where !Self.keys.contains(k) {
            throw RecognizerError("\(file): acceptance.\(k): unknown key (known: \(Self.keys.sorted().joined(separator: ", ")))")
        }
        func unit(_ k: String) throws(RecognizerError) -> Float? {
            guard let v = obj[k] else { return nil }
            guard let d = ModelSettings.number(v), d.isFinite, (0...1).contains(d) else {
                throw RecognizerError("\(file): acceptance.\(k): must be a number in 0...1")
            }
            return Float(d)
        }
        minScore = try unit("min_score")
        minMaskIoU = try unit("min_mask_iou")
        if let b = obj["background"] {
            guard let list = b as? [String], !list.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
                throw RecognizerError("\(file): acceptance.background: must be a list of class names")
            }
            background = list
        }
    }

    /// These settings overridden by `other`'s where it sets them.
    public func overridden(by other: AcceptanceSettings) -> AcceptanceSettings {
        AcceptanceSettings(minScore: other.minScore ?? minScore, minMaskIoU: other.minMaskIoU ?? minMaskIoU,
                           background: other.background ?? background)
    }
}
