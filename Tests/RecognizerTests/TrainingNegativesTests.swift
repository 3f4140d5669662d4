import Foundation
import Testing
@testable import Recognizer

/// Negative (background, poor) and loose boxes: where they are sampled, their place in the
/// feature cache and its key, and the focal loss with all-zero targets.
@Suite("Training: negatives")
struct TrainingNegativesTests {
    static let varied = ShapesStyle(resolution: 224...640, variedBackgrounds: true, overlap: true, scaleSizes: true)

    @Test("background boxes touch no object, poor boxes overlap one with IoU < 0.4, loose boxes IoU 0.6-0.8; counts follow the ratio")
    func sampling() {
        let s = NegativeSampling(ratio: 2, poorFraction: 0.25, loosePerObject: 1, seed: 3)
        var objects = 0, counts: [BoxKind: Int] = [:]
        for i in 0..<120 {
            let p = ShapesDataset.picture(seed: 8, index: i, maxShapes: 4, sizes: 40...100, style: Self.varied)
            let extra = s.sample(objects: p.boxes, width: p.width, height: p.height, name: "p\(i).png")
            objects += p.boxes.count
            for e in extra {
                counts[e.kind, default: 0] += 1
                #expect(e.box[0] >= 0 && e.box[1] >= 0 && e.box[2] <= Float(p.width) && e.box[3] <= Float(p.height) && e.box[2] - e.box[0] >= 4 && e.box[3] - e.box[1] >= 4)
                switch e.kind {
                case .background:
                    #expect(e.object == nil && p.boxes.allSatisfy { boxIntersection($0, e.box) == 0 }, "background \(e.box) vs \(p.boxes)")
                case .poor:
                    let o = p.boxes[e.object!]
                    #expect(boxIntersection(o, e.box) > 0 && p.boxes.allSatisfy { boxIoU($0, e.box) < 0.4 }, "poor \(e.box) vs \(p.boxes)")
                case .loose:
                    let iou = boxIoU(p.boxes[e.object!], e.box)
                    #expect(iou >= 0.6 && iou <= 0.8, "loose IoU \(iou)")
                case .object: Issue.record("sampled an object box")
                }
            }
        }
        // 2 negatives per object, a quarter of them poor (rounded at random per image);
        // a crowded picture can leave a background box out
        let neg = Double(counts[.background, default: 0] + counts[.poor, default: 0])
        #expect(neg >= 1.85 * Double(objects) && neg <= 2.1 * Double(objects), "\(neg) negatives for \(objects) objects")
        let poorShare = Double(counts[.poor, default: 0]) / neg
        #expect(poorShare > 0.18 && poorShare < 0.32, "poor share \(poorShare)")
        #expect(counts[.loose] == objects)
        // deterministic in (name, seed); another seed or name gives other boxes
        let p = ShapesDataset.picture(seed: 8, index: 0, maxShapes: 4, sizes: 40...100, style: Self.varied)
        let a = s.sample(objects: p.boxes, width: p.width, height: p.height, name: "x.png")
        #expect(a == s.sample(objects: p.boxes, width: p.width, height: p.height, name: "x.png"))
        #expect(a != s.sample(objects: p.boxes, width: p.width, height: p.height, name: "y.png"))
        var s2 = s
        s2.seed = 4
        #expect(a != s2.sample(objects: p.boxes, width: p.width, height: p.height, name: "x.png"))
        #expect(NegativeSampling().sample(objects: p.boxes, width: p.width, height: p.height, name: "x.png").isEmpty)
    }

    @Test("focal loss with all-zero targets (target -1) against hand-computed values; its gradient against finite differences")
    func focalZeroTargets() {
        // x = 0, ln 3, -ln 3 -> p = 1/2, 3/4, 1/4; each term -(1 - 0.25) p^2 ln(1 - p):
        // 0.75 * 0.25 * ln 2 = 0.129965, 0.75 * 0.5625 * ln 4 = 0.584843, 0.75 * 0.0625 * ln(4/3) = 0.013485
        let l3 = Float(log(3.0))
        let neg = FocalLoss()(logits: Tensor(shape: [1, 3], data: [0, l3, -l3]), targets: [-1])
        #expect(abs(neg.loss - 0.728293) < 2e-6, "\(neg.loss)")
        // d/dx = 0.75 p^2 (p - 2 (1 - p) ln(1 - p)) at p = 1/2: 0.1875 (0.5 + ln 2) = 0.223715
        #expect(abs(Double(neg.grad.data[0]) - 0.223715) < 2e-6, "\(neg.grad.data[0])")
        // with a positive box in the same image the loss is the mean over both boxes:
        // the positive row [ln 3 (target), 0, -ln 3]: 0.25 (1/4)^2 ln(4/3) = 0.004495 + 0.129965 + 0.013485
        let both = FocalLoss()(logits: Tensor(shape: [2, 3], data: [l3, 0, -l3, 0, l3, -l3]), targets: [0, -1])
        #expect(abs(both.loss - 0.438119) < 3e-6, "\(both.loss)")
        // gradient of the mixed image against central differences
        var x = Tensor(shape: [2, 3], data: [1.3, -0.4, 2.2, 0.7, -1.9, 3.1])
        let targets = [2, -1], g = FocalLoss()(logits: x, targets: targets).grad
        for i in 0..<6 {
            let v = x.data[i], h: Float = 1e-3
            x.data[i] = v + h
            let up = FocalLoss()(logits: x, targets: targets).loss
            x.data[i] = v - h
            let down = FocalLoss()(logits: x, targets: targets).loss
            x.data[i] = v
            #expect(abs((up - down) / Double(2 * h) - Double(g.data[i])) < 1e-4, "element \(i)")
        }
    }

    @Test("the cache stores the sampled boxes with the features; the sampling is part of the key, none = the old key")
    func cache() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("neg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let modelDir = try HeadParityTests.tinyModelDirectory()
        defer { try? FileManager.default.removeItem(atPath: modelDir) }
        let model = try ModelDirectory(path: modelDir)
        var images: [[String: Any]] = [], anns: [[String: Any]] = [], pictures: [String: ShapesDataset.Picture] = [:]
        for i in 0..<3 {
            let p = ShapesDataset.picture(seed: 22, index: i, width: 120, height: 100, maxShapes: 2, sizes: 20...40)
            try PNGWriter.write(rgb: p.rgb, width: p.width, height: p.height, to: dir + "/im\(i).png")
            pictures[dir + "/im\(i).png"] = p
            images.append(["id": i, "file_name": "im\(i).png"])
            for (b, l) in zip(p.boxes, p.labels) { anns.append(["image_id": i, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "category_id": l]) }
        }
        let json = try JSONSerialization.data(withJSONObject: ["images": images, "annotations": anns, "categories": (0..<4).map { ["id": $0, "name": ShapesDataset.classes[$0]] }])
        let data = try DetectionDataset(json: json, path: "mem.json")
        let key = try FeatureCache.weightsKey(model: model)
        nonisolated(unsafe) var loads = 0
        let load: (String) throws -> RGBInput = { path in
            loads += 1
            let p = pictures[path]!
            return RGBInput(rgb: p.rgb, width: p.width, height: p.height)
        }
        let sampling = NegativeSampling(ratio: 1.5, poorFraction: 0.5, loosePerObject: 1, seed: 0)
        let cache = FeatureCache(directory: dir + "/c", weightsKey: key, sampling: sampling)
        let feats = try cache.extract(data, imageDirectory: dir, model: model, load: load)
        #expect(loads == 3)
        for (f, im) in zip(feats, data.images) {
            let p = pictures[dir + "/" + im.fileName]!
            let extra = sampling.sample(objects: im.boxes, width: p.width, height: p.height, name: im.fileName)
            #expect(f.boxCount == im.boxes.count + extra.count && f.kinds == im.labels.map { _ in .object } + extra.map(\.kind))
            #expect(f.labels == im.labels + extra.map { $0.kind == .loose ? im.labels[$0.object!] : -1 })
            #expect(FeatureCache.extraBoxes(f) == extra.map(\.box))
            let (tok, _) = FeatureCache.compute(model: model, image: RGBInput(rgb: p.rgb, width: p.width, height: p.height), boxes: im.boxes + extra.map(\.box))
            #expect(try f.regionTokens() == tok)
            let kept = try f.keeping([.object, .background, .poor])
            #expect(!kept.kinds.contains(.loose) && kept.boxCount == f.boxCount - extra.filter { $0.kind == .loose }.count)
        }
        // a rerun reads everything back, labels and kinds included
        let again = try cache.extract(data, imageDirectory: dir, model: model, load: load)
        #expect(loads == 3 && again.map(\.labels) == feats.map(\.labels) && again.map(\.kinds) == feats.map(\.kinds))
        // another ratio is another file; no sampling keeps the key of caches written before negatives existed
        var other = sampling
        other.ratio = 1
        let path = try cache.path(image: dir + "/im0.png", boxes: data.images[0].boxes)
        #expect(try FeatureCache(directory: dir + "/c", weightsKey: key, sampling: other).path(image: dir + "/im0.png", boxes: data.images[0].boxes) != path)
        let plain = FeatureCache(directory: dir + "/c", weightsKey: key)
        var h = StableHash()
        var st = stat()
        _ = stat(dir + "/im0.png", &st)
        h.add(URL(fileURLWithPath: dir + "/im0.png").standardizedFileURL.path)
        h.add("\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)")
        h.add(key)
        h.add(Tensor(shape: [data.images[0].boxes.count * 4], data: data.images[0].boxes.flatMap { $0 }))
        #expect(try plain.path(image: dir + "/im0.png", boxes: data.images[0].boxes) == "\(dir)/c/feat-\(h.hex).safetensors")
        _ = try plain.extract(data, imageDirectory: dir, model: model, load: load)
        #expect(loads == 6)
    }
}
