import Foundation
import Recognizer

// `eval`'s "is there an object here?" part: the best class's sigmoid on objects and on
// sampled background, poor and loose boxes, acceptance at --min-score, detector-style AP.
extension EvalCommand {
    /// model.json's `acceptance.min_score`, if the model directory records one.
    static func modelMinScore(_ dir: String) -> Double? {
        guard let d = FileManager.default.contents(atPath: dir + "/model.json"),
              let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any],
              let a = o["acceptance"] as? [String: Any], let v = a["min_score"] as? NSNumber else { return nil }
        return v.doubleValue
    }

    static func json(_ s: ScoreReport, categories: [String]) -> [String: Any] {
        var kinds: [String: Any] = [:]
        for (k, d) in s.kinds {
            var o: [String: Any] = ["count": d.count, "median": d.median, "p10": d.p10, "p90": d.p90, "accepted": d.accepted]
            if k == .background || k == .poor { o["rejected"] = 1 - d.accepted }
            kinds[k.name] = o
        }
        var out: [String: Any] = [
            "min_score": s.minScore, "scores": kinds, "detection_mAP": s.meanDetectionAP,
            "detection_ap": Dictionary(uniqueKeysWithValues: zip(categories, s.detectionAP.map { $0 as Any? ?? NSNull() })),
        ]
        if let t = s.threshold95 {
            out["background_95"] = ["min_score": t.minScore, "objects_accepted": t.objects, "loose_accepted": t.loose as Any? ?? NSNull()] as [String: Any]
        }
        return out
    }

    func printScores(_ s: ScoreReport, categories: [String]) {
        print("best-class sigmoid        boxes  median     p10     p90  at min-score \(String(format: "%.3f", s.minScore))")
        for k in BoxKind.allCases {
            guard let d = s.kinds[k] else { continue }
            let rate = k == .background || k == .poor ? String(format: "%.4f rejected", 1 - d.accepted) : String(format: "%.4f accepted", d.accepted)
            print(k.name.padding(toLength: 24, withPad: " ", startingAt: 0) + String(d.count).leftPad(6) + String(format: "  %6.4f  %6.4f  %6.4f  ", d.median, d.p10, d.p90) + rate)
        }
        let ap = zip(categories, s.detectionAP).map { "\($0) \($1.map { String(format: "%.4f", $0) } ?? "-")" }.joined(separator: ", ")
        print("detection mAP (objects + background boxes as false detections, ranked by class sigmoid): \(String(format: "%.4f", s.meanDetectionAP)) (\(ap))")
        if let t = s.threshold95 {
            print("min-score rejecting 95% of background: \(String(format: "%.4f", t.minScore)) (objects accepted \(String(format: "%.4f", t.objects))\(t.loose.map { String(format: ", loose accepted %.4f", $0) } ?? ""))")
        }
    }
}
