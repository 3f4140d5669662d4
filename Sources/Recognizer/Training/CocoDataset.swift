import Foundation

/// A COCO-style detection set: `images` [{id, file_name, width?, height?}],
/// `annotations` [{image_id, bbox: [x, y, w, h], category_id, iscrowd?}],
/// `categories` [{id, name}]. Crowd boxes and boxes of zero area are skipped (counted).
public struct DetectionDataset: Sendable {
    public struct Category: Sendable, Equatable { public var id: Int; public var name: String }
    public struct Image: Sendable {
        public var id: Int
        public var fileName: String
        public var boxes: [[Float]]  // xyxy, pixels
        public var labels: [Int]  // index into categories
    }

    public var path: String
    public var categories: [Category]
    public var images: [Image]  // only images with at least one usable box
    public var skippedBoxes = 0
    public var imagesWithoutBoxes = 0

    public var boxCount: Int { images.map(\.boxes.count).reduce(0, +) }
    public var categoryNames: [String] { categories.map(\.name) }

    public init(path: String) throws(RecognizerError) {
        guard let data = FileManager.default.contents(atPath: path) else { throw RecognizerError("\(path): cannot be read") }
        try self.init(json: data, path: path)
    }

    public init(json data: Data, path: String) throws(RecognizerError) {
        self.path = path
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw RecognizerError("\(path): not a JSON object")
        }
        func list(_ key: String) throws(RecognizerError) -> [[String: Any]] {
            guard let a = root[key] as? [[String: Any]] else { throw RecognizerError("\(path): '\(key)' is missing or not a list of objects") }
            return a
        }
        func int(_ o: [String: Any], _ k: String, _ what: String) throws(RecognizerError) -> Int {
            guard let n = o[k] as? NSNumber, n.doubleValue == n.doubleValue.rounded() else { throw RecognizerError("\(path): \(what) has no integer '\(k)'") }
            return n.intValue
        }
        var cats: [Category] = [], catIndex: [Int: Int] = [:]
        for (i, c) in try list("categories").enumerated() {
            let id = try int(c, "id", "categories[\(i)]")
            guard let name = c["name"] as? String, !name.trimmingCharacters(in: .whitespaces).isEmpty else { throw RecognizerError("\(path): categories[\(i)] has no 'name'") }
            guard catIndex[id] == nil else { throw RecognizerError("\(path): category id \(id) is listed twice") }
            guard !cats.contains(where: { $0.name == name }) else { throw RecognizerError("\(path): category name '\(name)' is listed twice") }
            guard name.rangeOfCharacter(from: CharacterSet(charactersIn: ",|#\n")) == nil else { throw RecognizerError("\(path): category name '\(name)' contains one of , | # or a newline") }
            catIndex[id] = cats.count
            cats.append(Category(id: id, name: name))
        }
        guard !cats.isEmpty else { throw RecognizerError("\(path): no categories") }
        var imgs: [Int: Image] = [:], order: [Int] = []
        for (i, im) in try list("images").enumerated() {
            let id = try int(im, "id", "images[\(i)]")
            guard let f = im["file_name"] as? String, !f.isEmpty else { throw RecognizerError("\(path): images[\(i)] has no 'file_name'") }
            guard imgs[id] == nil else { throw RecognizerError("\(path): image id \(id) is listed twice") }
            imgs[id] = Image(id: id, fileName: f, boxes: [], labels: [])
            order.append(id)
        }
        var skipped = 0
        for (i, a) in try list("annotations").enumerated() {
            let what = "annotations[\(i)]"
            let imageID = try int(a, "image_id", what), catID = try int(a, "category_id", what)
            guard imgs[imageID] != nil else { throw RecognizerError("\(path): \(what) refers to image id \(imageID), which is not in 'images'") }
            guard let c = catIndex[catID] else { throw RecognizerError("\(path): \(what) refers to category id \(catID), which is not in 'categories'") }
            guard let b = a["bbox"] as? [NSNumber], b.count == 4 else { throw RecognizerError("\(path): \(what) has no 'bbox' [x, y, w, h]") }
            let v = b.map { $0.floatValue }
            if (a["iscrowd"] as? NSNumber)?.intValue == 1 || !(v[2] > 0 && v[3] > 0) || !v.allSatisfy(\.isFinite) { skipped += 1; continue }
            imgs[imageID]!.boxes.append([v[0], v[1], v[0] + v[2], v[1] + v[3]])
            imgs[imageID]!.labels.append(c)
        }
        categories = cats
        images = order.compactMap { imgs[$0] }.filter { !$0.boxes.isEmpty }
        imagesWithoutBoxes = order.count - images.count
        skippedBoxes = skipped
        guard !images.isEmpty else { throw RecognizerError("\(path): no image has a usable annotation") }
    }

    /// The vocabulary of the category names, in category order.
    public func vocabulary() throws(RecognizerError) -> Vocabulary {
        try Vocabulary(parsing: categoryNames.joined(separator: ","))
    }

    /// This set's labels re-indexed to `names` (an evaluation set against a model's
    /// trained vocabulary); boxes of categories not in `names` are an error.
    public func relabeled(to names: [String]) throws(RecognizerError) -> DetectionDataset {
        var out = self
        var map: [Int: Int] = [:]
        for (i, c) in categories.enumerated() {
            guard let j = names.firstIndex(of: c.name) else { throw RecognizerError("\(path): category '\(c.name)' is not in the model's vocabulary (\(names.joined(separator: ", ")))") }
            map[i] = j
        }
        for k in out.images.indices { out.images[k].labels = out.images[k].labels.map { map[$0]! } }
        out.categories = names.enumerated().map { Category(id: $0.offset, name: $0.element) }
        return out
    }
}
