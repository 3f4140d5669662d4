import Foundation
import Testing
@testable import Recognizer

/// Learning works here: the tiny shapes model (SAM A + CLIP A with the shape words'
/// token rows, frozen) and a head trained on synthetic shapes.
@Suite("Training: shapes demonstration", .serialized)
struct TrainingShapesTests {
    static func shapesModel(head: String? = nil) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("shapes-\(UUID().uuidString)").path
        try ShapesModel.assemble(fixtures: Fixtures.directory, out: dir, head: head.map(Fixtures.path))
        return dir
    }

    static func embeddings(_ model: ModelDirectory, cache: String? = nil) throws -> VocabularyEmbeddings {
        try VocabularyEmbedder.embed(try Vocabulary(parsing: ShapesDataset.classes.joined(separator: ",")), text: model.text, tokenizer: try model.tokenizer(),
                                     textWeightsHash: model.text.weightsHash, cacheDirectory: cache)
    }

    /// In-memory features of pictures `range` of the stream `seed` (2 shapes at most, 56-110 px).
    static func features(_ model: ModelDirectory, seed: UInt64, _ range: Range<Int>) throws -> [CachedFeatures] {
        try range.map { i in
            let p = ShapesDataset.picture(seed: seed, index: i, maxShapes: 2, sizes: 56...110)
            let (t, fm) = FeatureCache.compute(model: model, image: RGBInput(rgb: p.rgb, width: p.width, height: p.height), boxes: p.boxes)
            return CachedFeatures(file: try SafeTensors(name: "picture \(i)", tensors: ["region_tokens": t, "feature_map": fm]), labels: p.labels)
        }
    }

    @Test("the shapes vocabulary embeds like open_clip with the filled rows, and the classes are distinct")
    func vocabulary() throws {
        let dir = try Self.shapesModel()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try ModelDirectory(path: dir)
        let e = try Self.embeddings(model).embeddings
        let ref = try Fixtures.open("clip_shapes_tokens.safetensors")
        expectClose(e, try ref.tensor("vocab_text_embeddings"), 1e-4, "shapes vocabulary embeddings")
        let cos = mm(e, e, transB: true)
        for i in 0..<4 { for j in 0..<4 where i != j { #expect(cos.data[i * 4 + j] < 0.98, "classes \(i), \(j): cosine \(cos.data[i * 4 + j])") } }
        // with clip_a's own (zero) rows the four names are indistinguishable
        let plain = try ModelDirectory(path: try HeadParityTests.tinyModelDirectory())
        defer { try? FileManager.default.removeItem(atPath: plain.path) }
        let p = try Self.embeddings(plain).embeddings
        #expect(mm(p, p, transB: true).data.allSatisfy { $0 > 0.9999 })
    }

    @Test("a fresh head learns the shapes from the frozen encoders (far above chance in a few epochs)")
    func learns() throws {
        let dir = try Self.shapesModel()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try ModelDirectory(path: dir)
        let text = try Self.embeddings(model).embeddings
        let train = try Self.features(model, seed: 31, 0..<400), val = try Self.features(model, seed: 32, 0..<80)
        var options = TrainingOptions()
        options.epochs = 20; options.learningRate = 1e-3; options.seed = 1
        let config = RegionSpotHeadConfig.with(tokenDim: 32, width: 128, layers: 1, heads: 8, ffn: 64, embedDim: 32)
        let objective = HeadObjective(text: text, logitScale: model.text.logitScale)
        var trainer = HeadTrainer(parameters: HeadParameters(random: config, seed: 1), objective: objective, options: options, imageCount: train.count)
        let before = try ClassificationReport.evaluate(trainer.parameters, objective, val)
        var losses: [Double] = []
        for e in 1...options.epochs { losses.append(try trainer.trainEpoch(train, epoch: e).loss) }
        let after = try ClassificationReport.evaluate(trainer.parameters, objective, val)
        #expect(losses.last! < 0.2 * losses.first!, "loss \(losses)")
        #expect(after.top1 >= 0.65 && after.top1 > before.top1 + 0.3, "val top-1 \(before.top1) -> \(after.top1)")
        // same seed, same run
        var again = HeadTrainer(parameters: HeadParameters(random: config, seed: 1), objective: objective, options: options, imageCount: train.count)
        _ = try again.trainEpoch(train, epoch: 1)
        var first = HeadTrainer(parameters: HeadParameters(random: config, seed: 1), objective: objective, options: options, imageCount: train.count)
        _ = try first.trainEpoch(train, epoch: 1)
        #expect(again.parameters.tensors == first.parameters.tensors)
    }

    @Test("the committed head_shapes labels held-out shapes through the inference path (top-1 >= 0.9; 225/226 here)")
    func committedHead() throws {
        let dir = try Self.shapesModel(head: "head_shapes.safetensors")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try ModelDirectory(path: dir)
        #expect(model.head?.config == RegionSpotHeadConfig.with(tokenDim: 32, width: 128, layers: 1, heads: 8, ffn: 64, embedDim: 32))
        let rec = try RegionRecognizer(model: model, kind: .regionspot, vocabulary: try Self.embeddings(model))
        var right = 0, total = 0
        for i in 0..<150 {
            let p = ShapesDataset.picture(seed: 777, index: i, maxShapes: 2, sizes: 56...110)
            let regions = rec.recognize(rec.features(rgb: p.rgb, width: p.width, height: p.height), boxes: p.boxes)
            for (r, l) in zip(regions, p.labels) { total += 1; if r.label == ShapesDataset.classes[l] { right += 1 } }
        }
        let acc = Double(right) / Double(total)
        #expect(acc >= 0.9, "held-out top-1 \(acc) over \(total) boxes")
    }

    @Test("ShapesModel.assemble writes head_shapes.json's video min_score into model.json; the committed head rejects background at the still-picture one (sigmoid scoring)")
    func committedHeadAcceptance() throws {
        let dir = try Self.shapesModel(head: "head_shapes.safetensors")
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let calibration = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("head_shapes.json")))) as? [String: Any])
        let minScore = try #require((calibration["acceptance"] as? [String: Any])?["min_score"] as? Double)
        let videoScore = try #require((calibration["video_acceptance"] as? [String: Any])?["min_score"] as? Double)
        let settings = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/model.json"))) as? [String: Any])
        // The model directory plays video: its model.json takes the video calibration.
        #expect((settings["acceptance"] as? [String: Any])?["min_score"] as? Double == videoScore)
        #expect((settings["head"] as? [String: Any])?["num_heads"] as? Int == 8)
        #expect(ShapesModel.calibration(head: Fixtures.path("head_shapes.safetensors")) == minScore)
        #expect(ShapesModel.calibration(head: Fixtures.path("head_shapes.safetensors"), key: "video_acceptance") == videoScore)
        #expect(try ModelDirectory(path: dir).settings.acceptance.minScore == Float(videoScore))
        let model = try ModelDirectory(path: dir)
        let rec = try RegionRecognizer(model: model, kind: .regionspot, vocabulary: try Self.embeddings(model))
        rec.scoring = .sigmoid
        // unseen pictures of the training data's kind, with eval's sampled boxes
        let style = ShapesStyle(resolution: 224...448, variedBackgrounds: true, overlap: true, scaleSizes: true)
        var accepted: [BoxKind: Int] = [:], total: [BoxKind: Int] = [:], right = 0
        for i in 0..<60 {
            let p = ShapesDataset.picture(seed: 779, index: i, maxShapes: 3, sizes: 64...120, style: style)
            let extra = NegativeSampling.evaluation.sample(objects: p.boxes, width: p.width, height: p.height, name: String(format: "shape_%05d.png", i))
            let kinds = p.boxes.map { _ in BoxKind.object } + extra.map(\.kind)
            let regions = rec.recognize(rec.features(rgb: p.rgb, width: p.width, height: p.height), boxes: p.boxes + extra.map(\.box))
            for (k, (r, kind)) in zip(regions, kinds).enumerated() {
                total[kind, default: 0] += 1
                if Double(r.scores.max()!) >= minScore { accepted[kind, default: 0] += 1 }
                if kind == .object && r.label == ShapesDataset.classes[p.labels[k]] { right += 1 }
            }
        }
        func rate(_ k: BoxKind) -> Double { Double(accepted[k, default: 0]) / Double(max(1, total[k, default: 0])) }
        let report = "objects accepted \(rate(.object)), background rejected \(1 - rate(.background)), poor rejected \(1 - rate(.poor)), loose accepted \(rate(.loose)), top-1 \(Double(right) / Double(total[.object]!))"
        // poor boxes (a 25-60 % corner or strip of a shape, or one shifted off it) are what a
        // shape cut by the picture's edge looks like, which the head now learns to accept
        // (make-shapes --edge-shapes): 0.66 rejected here, 0.72-0.77 on the held-out sets
        #expect(rate(.object) >= 0.88 && 1 - rate(.background) >= 0.87 && 1 - rate(.poor) >= 0.6, "\(report)")
        #expect(Double(right) / Double(total[.object]!) >= 0.9, "\(report)")
    }
}
