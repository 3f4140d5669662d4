import Foundation
import Testing
@testable import Recognizer

/// COCO parsing, the feature cache (keys, reuse, resume), the PNG writer, the synthetic
/// shapes and the evaluation metrics.
@Suite("Training: data, feature cache, metrics")
struct TrainingDataTests {
    static func tempDir() throws -> String {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("train-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test("COCO JSON: boxes to xyxy, category order, crowd/empty boxes skipped, errors name the field")
    func coco() throws {
        let json = #"""
        {"images": [{"id": 7, "file_name": "a.png"}, {"id": 9, "file_name": "b.png"}, {"id": 10, "file_name": "c.png"}],
         "categories": [{"id": 3, "name": "dog"}, {"id": 1, "name": "cat"}],
         "annotations": [{"image_id": 7, "bbox": [10, 20, 30, 40], "category_id": 1},
                         {"image_id": 7, "bbox": [0, 0, 5, 5], "category_id": 3},
                         {"image_id": 9, "bbox": [1, 1, 0, 4], "category_id": 3},
                         {"image_id": 10, "bbox": [1, 1, 4, 4], "category_id": 3, "iscrowd": 1}]}
        """#
        let d = try DetectionDataset(json: Data(json.utf8), path: "t.json")
        #expect(d.categoryNames == ["dog", "cat"])
        #expect(d.images.count == 1 && d.images[0].fileName == "a.png" && d.imagesWithoutBoxes == 2 && d.skippedBoxes == 2)
        #expect(d.images[0].boxes == [[10, 20, 40, 60], [0, 0, 5, 5]] && d.images[0].labels == [1, 0])
        #expect(try d.vocabulary().labels == ["dog", "cat"])
        let r = try d.relabeled(to: ["cat", "bird", "dog"])
        #expect(r.images[0].labels == [0, 2] && r.categoryNames == ["cat", "bird", "dog"])
        #expect(throws: RecognizerError("t.json: category 'dog' is not in the model's vocabulary (cat)")) { try d.relabeled(to: ["cat"]) }
        let bad: [(String, String)] = [
            (#"{"images": [], "categories": [{"id": 1, "name": "a"}]}"#, "t.json: 'annotations' is missing or not a list of objects"),
            (#"{"images": [{"id": 1, "file_name": "x"}], "categories": [{"id": 1, "name": "a"}], "annotations": [{"image_id": 2, "bbox": [0,0,1,1], "category_id": 1}]}"#,
             "t.json: annotations[0] refers to image id 2, which is not in 'images'"),
            (#"{"images": [{"id": 1, "file_name": "x"}], "categories": [{"id": 1, "name": "a"}], "annotations": [{"image_id": 1, "bbox": [0,0,1], "category_id": 1}]}"#,
             "t.json: annotations[0] has no 'bbox' [x, y, w, h]"),
            (#"{"images": [{"id": 1, "file_name": "x"}], "categories": [{"id": 1, "name": "a"}], "annotations": [{"image_id": 1, "bbox": [0,0,1,1], "category_id": 5}]}"#,
             "t.json: annotations[0] refers to category id 5, which is not in 'categories'"),
            (#"{"images": [], "categories": [{"id": 1, "name": "a,b"}], "annotations": []}"#, "t.json: category name 'a,b' contains one of , | # or a newline"),
        ]
        for (j, msg) in bad { #expect(throws: RecognizerError(msg)) { try DetectionDataset(json: Data(j.utf8), path: "t.json") } }
    }

    @Test("PNG writer: signature, IHDR, chunk CRCs, and the zlib stream inflates to the filtered rows")
    func png() throws {
        let p = ShapesDataset.picture(seed: 4, index: 0, width: 40, height: 30, sizes: 8...20)
        let bytes = try PNGWriter.encode(rgb: p.rgb, width: 40, height: 30)
        #expect(Array(bytes[0..<8]) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(Array(bytes[12..<16]) == Array("IHDR".utf8) && bytes[19] == 40 && bytes[23] == 30 && bytes[24] == 8 && bytes[25] == 2)
        #expect(Array(bytes.suffix(8).prefix(4)) == Array("IEND".utf8) && Array(bytes.suffix(4)) == [0xAE, 0x42, 0x60, 0x82])  // IEND's fixed CRC
    }

    @Test("shapes: deterministic, boxes inside the picture and tight around the shape's colour")
    func shapes() {
        let a = ShapesDataset.picture(seed: 11, index: 3), b = ShapesDataset.picture(seed: 11, index: 3), c = ShapesDataset.picture(seed: 11, index: 4)
        #expect(a.rgb == b.rgb && a.boxes == b.boxes && a.labels == b.labels && a.rgb != c.rgb)
        var seen = Set<Int>()
        for i in 0..<30 {
            let p = ShapesDataset.picture(seed: 5, index: i)
            #expect(!p.boxes.isEmpty && p.boxes.count <= 3 && p.boxes.count == p.labels.count)
            for (box, l) in zip(p.boxes, p.labels) {
                seen.insert(l)
                #expect(box[0] >= 0 && box[1] >= 0 && box[2] <= 224 && box[3] <= 224 && box[2] - box[0] >= 10)
                // the box's centre row holds the class colour's dominant channel
                let cy = Int((box[1] + box[3]) / 2), cx = Int((box[0] + box[2]) / 2), o = (cy * 224 + cx) * 3
                let px = (Int(p.rgb[o]), Int(p.rgb[o + 1]), Int(p.rgb[o + 2]))
                switch l {
                case 0: #expect(px.0 > 180 && px.1 < 90, "red square centre \(px)")
                case 1: #expect(px.2 > 180 && px.0 < 90, "blue circle centre \(px)")
                case 2: #expect(px.1 > 140 && px.0 < 90, "green triangle centre \(px)")
                default: #expect(px.0 > 200 && px.1 > 170 && px.2 < 90, "yellow star centre \(px)")
                }
            }
        }
        #expect(seen == [0, 1, 2, 3])
    }

    @Test("metrics: top-1, top-5, per-category AP, confusion")
    func metrics() {
        // 4 boxes, 3 classes; rows are logits
        let logits = Tensor(shape: [4, 3], data: [5, 1, 0,   0, 4, 1,   3, 1.5, 0,   0, 1, 2])
        let r = ClassificationReport(logits: logits, labels: [0, 1, 1, 2])
        #expect(r.top1 == 0.75 && r.top5 == 1 && r.boxes == 4)
        #expect(r.confusion == [[1, 0, 0], [1, 1, 0], [0, 0, 1]])
        // class 1 softmax scores: box1 .936 (pos), box3 .245 (neg), box2 .175 (pos), box0 .018 (neg)
        // -> precision 1 at recall 1/2, 2/3 at recall 1 -> AP = (1 + 2/3) / 2
        #expect(abs(r.averagePrecision[1]! - (1 + 2.0 / 3) / 2) < 1e-9)
        #expect(r.averagePrecision[0]! == 1 && r.averagePrecision[2]! == 1)
        #expect(ClassificationReport(logits: logits, labels: [0, 0, 0, 0]).averagePrecision[1] == nil)
    }

    @Test("feature cache: computed once, reused, recomputed when the image changes, resumes after an interruption")
    func featureCache() throws {
        let dir = try Self.tempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let modelDir = try HeadParityTests.tinyModelDirectory()
        defer { try? FileManager.default.removeItem(atPath: modelDir) }
        let model = try ModelDirectory(path: modelDir)
        var images: [[String: Any]] = [], anns: [[String: Any]] = [], pictures: [String: ShapesDataset.Picture] = [:]
        for i in 0..<4 {
            let p = ShapesDataset.picture(seed: 21, index: i, width: 96, height: 80, maxShapes: 2, sizes: 20...40)
            let name = "img\(i).png"
            try PNGWriter.write(rgb: p.rgb, width: p.width, height: p.height, to: dir + "/" + name)
            pictures[dir + "/" + name] = p
            images.append(["id": i, "file_name": name])
            for (b, l) in zip(p.boxes, p.labels) { anns.append(["image_id": i, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]], "category_id": l]) }
        }
        let json = try JSONSerialization.data(withJSONObject: ["images": images, "annotations": anns, "categories": (0..<4).map { ["id": $0, "name": ShapesDataset.classes[$0]] }])
        let data = try DetectionDataset(json: json, path: "mem.json")
        let cache = FeatureCache(directory: dir + "/cache", weightsKey: try FeatureCache.weightsKey(model: model))
        nonisolated(unsafe) var loads: [String] = []
        let load: (String) throws -> RGBInput = { path in
            loads.append(path)
            if path.hasSuffix("img2.png") && loads.count == 3 { throw RecognizerError("simulated interruption") }
            let p = pictures[path]!
            return RGBInput(rgb: p.rgb, width: p.width, height: p.height)
        }
        // interrupted at the third image: the first two are on disk
        #expect(throws: RecognizerError.self) { try cache.extract(data, imageDirectory: dir, model: model, load: load) }
        #expect(loads.count == 3)
        var progress: [FeatureCache.Progress] = []
        let feats = try cache.extract(data, imageDirectory: dir, model: model, load: load) { progress.append($0) }
        #expect(loads.count == 5 && loads.suffix(2).map { ($0 as NSString).lastPathComponent } == ["img2.png", "img3.png"], "resumed with the missing images only")
        #expect(progress.last?.done == 4 && progress.last?.fromCache == 2)
        // cached values = direct computation; feature map [17, 128], tokens [N, 32]
        let p0 = pictures[dir + "/img0.png"]!
        let (tok, fm) = FeatureCache.compute(model: model, image: RGBInput(rgb: p0.rgb, width: p0.width, height: p0.height), boxes: data.images[0].boxes)
        #expect(try feats[0].regionTokens() == tok && feats[0].featureMap() == fm && fm.shape == [17, 128] && tok.shape == [p0.boxes.count, 32])
        // everything cached now; a changed image (new mtime) is recomputed
        _ = try cache.extract(data, imageDirectory: dir, model: model, load: load)
        #expect(loads.count == 5)
        let t = Date().addingTimeInterval(5)
        try FileManager.default.setAttributes([.modificationDate: t], ofItemAtPath: dir + "/img1.png")
        _ = try cache.extract(data, imageDirectory: dir, model: model, load: load)
        #expect(loads.count == 6 && loads.last!.hasSuffix("img1.png"))
        // another model's weights use other files
        let other = FeatureCache(directory: dir + "/cache", weightsKey: "other")
        #expect(try other.path(image: dir + "/img0.png", boxes: data.images[0].boxes) != cache.path(image: dir + "/img0.png", boxes: data.images[0].boxes))
    }
}
