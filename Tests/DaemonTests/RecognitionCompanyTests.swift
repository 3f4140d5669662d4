// A keyframe's boxes are recognized in company: RegionSpot's region tokens attend to each
// other, so a box recognized alone is labelled from itself only (on the shapes scenes a
// shape alone was labelled right 70 % of the time, with the frame's other shapes 89 %).
// The pipeline hands the recognizer its live tracks' boxes as company for the candidates
// and drops their results.
import Decode
import Foundation
import Logging
import Recognizer
import Temporal
import Testing
@testable import Daemon

@Suite("Recognition in company")
struct RecognitionCompanyTests {
    func box(_ x: Float, _ y: Float, _ w: Float, _ h: Float) -> Box { Box(x1: x, y1: y, x2: x + w, y2: y + h) }

    @Test("company: the context boxes no kept box stands for, each once, within max_boxes; none for an empty call")
    func company() {
        let kept = [box(10, 10, 40, 40)]
        let same = box(12, 11, 40, 40), b = box(100, 10, 30, 30), bAgain = box(101, 11, 30, 30), c = box(10, 100, 20, 60)
        #expect(RecognitionEngine.company([same, b, bAgain, c], kept: kept, maxBoxes: 64) == [b, c])
        #expect(RecognitionEngine.company([same, b, bAgain, c], kept: kept, maxBoxes: 2) == [b])
        #expect(RecognitionEngine.company([b, c], kept: [], maxBoxes: 64).isEmpty)
    }

    @Test("a keyframe job recognizes its candidates with the context boxes and returns the candidates' regions only")
    func engineUsesContext() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let scene = try ShapesScene.make(dir, binary: binary)
        // a frame with two shapes (the demo video shows two at a time)
        let (index, objects) = try #require(scene.truth.sorted { $0.key < $1.key }.first { $0.value.count >= 2 })
        let source = try VideoSource(url: scene.video, options: SourceOptions(openTimeout: 5, stallTimeout: 5))
        defer { source.close() }
        var picture = try #require(try source.nextFrame())
        while picture.index < index { picture = try #require(try source.nextFrame()) }
        let vocabulary = VocabularyEntry.entries(try Recognizer.Vocabulary.load(ShapesScene.vocabulary))
        let engine = try RecognitionEngine(modelDirectory: scene.model, kind: .regionspot, vocabulary: vocabulary, blasThreads: 1,
                                           cacheDirectory: dir.file("cache"), logger: Logger(label: "test"))
        let boxes = objects.map { o in Box(x1: Float(o.0[0]), y1: Float(o.0[1]), x2: Float(o.0[2]), y2: Float(o.0[3])) }
        let zone = Proposals.zones([Zone(name: "first", box: objects[0].0)])
        func job(_ context: [Box]) -> RecognitionJob {
            RecognitionJob(stream: "s", frame: index, pts: picture.pts, picture: picture, tracks: [:], candidates: zone,
                           merge: ProposalMergeConfig(), everything: nil, context: context, submitted: 0, completion: { _ in })
        }
        // the first shape's own box among the context is not asked twice
        let withCompany = engine.run(job(boxes))
        let alone = engine.run(job([]))
        try #require(withCompany.regions.count == 1 && alone.regions.count == 1)
        #expect(withCompany.boxes.count == 1 && withCompany.verdicts.count == 1)
        #expect(withCompany.company == boxes.count - 1 && alone.company == 0, "company counted: \(withCompany.company)")

        let rgb = try FrameConverter().rgb(picture)
        let all = engine.recognize(rgb: rgb.bytes, width: rgb.width, height: rgb.height,
                                   boxes: boxes.map { [$0.x1, $0.y1, $0.x2, $0.y2] })
        let one = engine.recognize(rgb: rgb.bytes, width: rgb.width, height: rgb.height, boxes: [[boxes[0].x1, boxes[0].y1, boxes[0].x2, boxes[0].y2]])
        // element-wise: the job's region is the first of one call over all the frame's shapes
        #expect(withCompany.regions[0].logits == all[0].logits)
        #expect(alone.regions[0].logits == one[0].logits)
        let change = zip(all[0].logits, one[0].logits).map { abs($0 - $1) }.max() ?? 0
        #expect(change > 1e-3, "the company changes the first shape's logits (max |Δ| \(change))")

        // clip-crop labels each crop on its own: no company (it would cost a CLIP run a box)
        let crop = try RecognitionEngine(modelDirectory: scene.model, kind: .clipCrop, vocabulary: vocabulary, blasThreads: 1,
                                         cacheDirectory: dir.file("cache"), logger: Logger(label: "test"))
        let cropped = crop.run(job(boxes))
        #expect(cropped.regions.count == 1 && cropped.company == 0)
        #expect(cropped.regions[0].logits == crop.run(job([])).regions[0].logits)
    }
}
