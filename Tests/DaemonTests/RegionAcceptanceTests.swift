import Foundation
import Recognizer
import Testing
@testable import Daemon

@Suite("Region acceptance")
struct RegionAcceptanceTests {
    let a = RegionAcceptance(settings: AcceptanceSettings(minScore: 0.5, minMaskIoU: 0.6, background: ["grass"]), vocabularyCount: 2,
                             minProposalScore: 0.3)

    @Test("accepted: best class sigmoid, mask and proposal above their floors; probabilities over the vocabulary only")
    func accepted() {
        let v = a.judge(logits: [2, -1, -3], maskIoU: 0.9, proposalScore: 1)
        #expect(v.accepted)
        #expect(abs(v.objectness - 1 / (1 + expf(-2))) < 1e-6)
        #expect(v.probabilities.count == 2)
        #expect(abs(v.probabilities.reduce(0, +) - 1) < 1e-6)
        #expect(abs(v.probabilities[0] - 1 / (1 + expf(-3))) < 1e-6)  // softmax of (2, -1)
    }

    @Test("each reason, in order: background, low score, mask quality, proposal score, non-finite")
    func reasons() {
        #expect(a.judge(logits: [2, -1, 3], maskIoU: 0.9, proposalScore: 1).reason == .background)
        #expect(a.judge(logits: [-1, -2, -3], maskIoU: 0.9, proposalScore: 1).reason == .lowScore)
        #expect(a.judge(logits: [2, -1, -3], maskIoU: 0.5, proposalScore: 1).reason == .maskQuality)
        #expect(a.judge(logits: [2, -1, -3], maskIoU: 0.9, proposalScore: 0.2).reason == .proposalScore)
        #expect(a.judge(logits: [.nan, -1, -3], maskIoU: 0.9, proposalScore: 1).reason == .nonFinite)
        #expect(a.judge(logits: [2, -1, -3], maskIoU: .infinity, proposalScore: 1).reason == .nonFinite)
    }

    @Test("defaults accept every finite box (the model's model.json calibrates them)")
    func defaults() {
        let open = RegionAcceptance(settings: AcceptanceSettings(), vocabularyCount: 3)
        #expect(open.judge(logits: [-50, -60, -70], maskIoU: 0, proposalScore: 0).accepted)
        // 0 switches a check off: SAM's IoU head predicts below 0 on some boxes
        #expect(open.judge(logits: [1, 0, 0], maskIoU: -0.08, proposalScore: 1).accepted)
    }

    @Test("model.json acceptance: values read, unknown keys and bad values named with the file")
    func settings() throws {
        let s = try AcceptanceSettings(json: ["min_score": 0.35, "background": ["grass", "wall"]], file: "m/model.json")
        #expect(s == AcceptanceSettings(minScore: 0.35, background: ["grass", "wall"]))
        #expect(s.overridden(by: AcceptanceSettings(minScore: 0.5)) == AcceptanceSettings(minScore: 0.5, background: ["grass", "wall"]))
        #expect(throws: RecognizerError.self) { try AcceptanceSettings(json: ["min_scor": 0.3], file: "m/model.json") }
        do { _ = try AcceptanceSettings(json: ["min_score": 1.5], file: "m/model.json"); Issue.record("accepted 1.5") } catch {
            #expect("\(error)".contains("m/model.json") && "\(error)".contains("acceptance.min_score"))
        }
        #expect(throws: RecognizerError.self) { try AcceptanceSettings(json: ["background": "grass"], file: "m/model.json") }
    }
}
