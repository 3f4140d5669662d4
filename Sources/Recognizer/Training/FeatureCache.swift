import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The frozen encoders' outputs for one training image: SAM's region token (mask token 0)
/// of every annotated box, then of the sampled extra boxes (background, poor, loose; see
/// `NegativeSampling`), and CLIP's feature map, stored as one safetensors file and
/// memory-mapped when read back (only the module trains, so epochs after the first never
/// run SAM or CLIP).
public struct CachedFeatures: Sendable {
    public let file: SafeTensors  // "region_tokens" [N + M, C], "feature_map" [L, D], with M > 0 "extra_boxes" [M, 4], "extra_kinds" [M], "extra_objects" [M]
    /// Per row: the class of an object or loose box, -1 (no class: all-zero targets) for background and poor boxes.
    public let labels: [Int]
    public let kinds: [BoxKind]
    public init(file: SafeTensors, labels: [Int], kinds: [BoxKind]? = nil) {
        self.file = file; self.labels = labels; self.kinds = kinds ?? labels.map { _ in .object }
    }
    public func regionTokens() throws(RecognizerError) -> Tensor { try file.tensor("region_tokens") }
    public func featureMap() throws(RecognizerError) -> Tensor { try file.tensor("feature_map") }
    public var boxCount: Int { labels.count }

    /// These features with only the rows of `keep` kinds (e.g. loose boxes left out of training).
    public func keeping(_ keep: Set<BoxKind>) throws(RecognizerError) -> CachedFeatures {
        if kinds.allSatisfy(keep.contains) { return self }
        let rows = kinds.indices.filter { keep.contains(kinds[$0]) }
        let t = try regionTokens(), c = t.shape[1]
        let sub = Tensor(shape: [rows.count, c], data: rows.flatMap { t.data[($0 * c)..<(($0 + 1) * c)] })
        let fm = try featureMap()
        let st: SafeTensors
        do { st = try SafeTensors(name: file.name, tensors: ["region_tokens": sub, "feature_map": fm]) } catch { throw RecognizerError("\(file.name): \(error)") }
        return CachedFeatures(file: st, labels: rows.map { labels[$0] }, kinds: rows.map { kinds[$0] })
    }

    /// Labels and kinds of an image's objects followed by its extra boxes.
    static func rows(objects: [Int], extras: [(kind: BoxKind, object: Int?)]) -> (labels: [Int], kinds: [BoxKind]) {
        (objects + extras.map { e in e.kind == .loose ? e.object.map { objects[$0] } ?? -1 : -1 },
         objects.map { _ in BoxKind.object } + extras.map(\.kind))
    }
}

/// An RGB24 picture handed in by the caller (the Daemon decodes files; Recognizer never
/// imports Decode).
public struct RGBInput: Sendable {
    public var rgb: [UInt8], width: Int, height: Int
    public init(rgb: [UInt8], width: Int, height: Int) { self.rgb = rgb; self.width = width; self.height = height }
}

/// On-disk cache of frozen features under `directory`, one file per image named by a key
/// of (image path, byte size, mtime, its boxes, the SAM + CLIP weights' hash). A file is
/// written atomically when its image is done, so an interrupted extraction resumes where
/// it stopped. With `sampling`, the extra boxes are sampled when an image is computed and
/// stored in its file; the key then also holds `sampling.cacheKey` (sampling is
/// deterministic in the image's name and those settings, so equal keys mean equal boxes);
/// without sampling the key is what it always was.
public struct FeatureCache: Sendable {
    public let directory: String
    public let weightsKey: String
    public var sampling: NegativeSampling

    /// `weightsKey`: see `FeatureCache.weightsKey(model:)`.
    public init(directory: String, weightsKey: String, sampling: NegativeSampling = NegativeSampling()) {
        self.directory = directory; self.weightsKey = weightsKey; self.sampling = sampling
    }

    /// Hash of the SAM and CLIP weight files: size, safetensors header and 64 sampled
    /// 64 KB chunks of each (reading all of a 350 MB checkpoint per run is not needed to
    /// tell checkpoints apart).
    public static func weightsKey(model: ModelDirectory) throws(RecognizerError) -> String {
        var h = StableHash()
        for name in ["sam.safetensors", "clip.safetensors"] {
            let p = model.path + "/" + name
            guard let fh = FileHandle(forReadingAtPath: p) else { throw RecognizerError("\(p): cannot be read") }
            defer { try? fh.close() }
            let size = (try? fh.seekToEnd()) ?? 0
            h.add("\(name):\(size)")
            let chunk = 65536, samples = 64
            for i in 0..<samples {
                let off = size <= UInt64(chunk) ? 0 : UInt64(i) * (size - UInt64(chunk)) / UInt64(samples - 1)
                try? fh.seek(toOffset: off)
                let d = (try? fh.read(upToCount: chunk)) ?? Data()
                h.add(Tensor(shape: [d.count / 4], data: d.withUnsafeBytes { Array($0.bindMemory(to: Float.self).prefix(d.count / 4)) }))
                if size <= UInt64(chunk) { break }
            }
        }
        // CLIP at another input size gives other feature maps (keys of the native size unchanged)
        if model.clipInputSize != model.vision.config.imageSize { h.add("clip_input_size:\(model.clipInputSize)") }
        return h.hex
    }

    /// The cache file of an image with these boxes.
    public func path(image: String, boxes: [[Float]]) throws(RecognizerError) -> String {
        var st = stat()
        guard stat(image, &st) == 0 else { throw RecognizerError("\(image): cannot stat (\(String(cString: strerror(errno))))") }
        var h = StableHash()
        h.add(URL(fileURLWithPath: image).standardizedFileURL.path)
        h.add("\(st.st_size):\(st.st_mtim.tv_sec).\(st.st_mtim.tv_nsec)")
        h.add(weightsKey)
        h.add(Tensor(shape: [boxes.count * 4], data: boxes.flatMap { $0 }))
        if !sampling.isEmpty { h.add(sampling.cacheKey) }
        return "\(directory)/feat-\(h.hex).safetensors"
    }

    public struct Progress: Sendable {
        public var done: Int, total: Int, fromCache: Int
        public var current: String
    }

    /// Features of every image of `data` (image files under `imageDirectory`), computing
    /// the missing ones with `model`'s SAM and CLIP. `load` decodes an image file to RGB.
    public func extract(_ data: DetectionDataset, imageDirectory: String, model: ModelDirectory,
                        load: (String) throws -> RGBInput, progress: (Progress) -> Void = { _ in }) throws -> [CachedFeatures] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var out: [CachedFeatures] = [], cached = 0
        for (i, im) in data.images.enumerated() {
            let imagePath = imageDirectory + "/" + im.fileName
            let file = try path(image: imagePath, boxes: im.boxes)
            if let st = try? SafeTensors(path: file), let t = try? st.tensor("region_tokens"), let extras = Self.extras(st),
               t.shape.first == im.boxes.count + extras.count {
                let r = CachedFeatures.rows(objects: im.labels, extras: extras)
                out.append(CachedFeatures(file: st, labels: r.labels, kinds: r.kinds))
                cached += 1
            } else {
                let img: RGBInput
                do { img = try load(imagePath) } catch { throw RecognizerError("\(imagePath): \(error)") }
                let extra = sampling.sample(objects: im.boxes, width: img.width, height: img.height, name: im.fileName)
                let (tokens, fm) = Self.compute(model: model, image: img, boxes: im.boxes + extra.map(\.box))
                var tensors = ["region_tokens": tokens, "feature_map": fm]
                if !extra.isEmpty {
                    tensors["extra_boxes"] = Tensor(shape: [extra.count, 4], data: extra.flatMap(\.box))
                    tensors["extra_kinds"] = Tensor(shape: [extra.count], data: extra.map { Float($0.kind.rawValue) })
                    tensors["extra_objects"] = Tensor(shape: [extra.count], data: extra.map { Float($0.object ?? -1) })
                }
                let tmp = file + ".part-\(getpid())"
                try writeSafeTensors(tensors, metadata: ["image": imagePath, "weights": weightsKey, "sampling": sampling.cacheKey], to: tmp)
                guard rename(tmp, file) == 0 else { throw RecognizerError("\(file): cannot write (\(String(cString: strerror(errno))))") }
                let r = CachedFeatures.rows(objects: im.labels, extras: extra.map { ($0.kind, $0.object) })
                out.append(CachedFeatures(file: try SafeTensors(path: file), labels: r.labels, kinds: r.kinds))
            }
            progress(Progress(done: i + 1, total: data.images.count, fromCache: cached, current: im.fileName))
        }
        return out
    }

    /// The extra boxes recorded in a cache file (none in files without them); nil if unreadable.
    static func extras(_ st: SafeTensors) -> [(kind: BoxKind, object: Int?)]? {
        guard st.entries["extra_kinds"] != nil else { return [] }
        guard let k = try? st.tensor("extra_kinds"), let o = try? st.tensor("extra_objects"), k.data.count == o.data.count else { return nil }
        var out: [(kind: BoxKind, object: Int?)] = []
        for (kv, ov) in zip(k.data, o.data) {
            guard let kind = BoxKind(rawValue: Int(kv)) else { return nil }
            out.append((kind, ov >= 0 ? Int(ov) : nil))
        }
        return out
    }

    /// The extra boxes (xyxy) recorded in a cached image's file.
    public static func extraBoxes(_ f: CachedFeatures) -> [[Float]] {
        guard let t = try? f.file.tensor("extra_boxes") else { return [] }
        return (0..<t.shape[0]).map { Array(t.data[($0 * 4)..<($0 * 4 + 4)]) }
    }

    /// SAM region tokens [N, C] of `boxes` (xyxy pixels) and the CLIP feature map [L, D].
    public static func compute(model: ModelDirectory, image: RGBInput, boxes: [[Float]]) -> (Tensor, Tensor) {
        let input = model.sam.preprocess(rgb: image.rgb, width: image.width, height: image.height)
        let emb = model.sam.encode(input)
        let tokens = model.sam.decode(embedding: emb, input: input, boxes: boxes).regionTokens
        let fm = model.vision(model.vision.preprocess(rgb: image.rgb, width: image.width, height: image.height, size: model.clipInputSize)).featureMap
        return (tokens, fm.reshaped([-1, fm.shape.last!]))
    }
}
