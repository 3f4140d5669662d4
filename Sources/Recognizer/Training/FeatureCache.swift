import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The frozen encoders' outputs for one training image: SAM's region token (mask token 0)
/// of every annotated box and CLIP's feature map, stored as one safetensors file and
/// memory-mapped when read back (only the module trains, so epochs after the first never
/// run SAM or CLIP).
public struct CachedFeatures: Sendable {
    public let file: SafeTensors  // "region_tokens" [N, C], "feature_map" [L, D]
    public let labels: [Int]
    public func regionTokens() throws(RecognizerError) -> Tensor { try file.tensor("region_tokens") }
    public func featureMap() throws(RecognizerError) -> Tensor { try file.tensor("feature_map") }
    public var boxCount: Int { labels.count }
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
/// it stopped.
public struct FeatureCache: Sendable {
    public let directory: String
    public let weightsKey: String

    /// `weightsKey`: see `FeatureCache.weightsKey(model:)`.
    public init(directory: String, weightsKey: String) { self.directory = directory; self.weightsKey = weightsKey }

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
            if let st = try? SafeTensors(path: file), let t = try? st.tensor("region_tokens"), t.shape.first == im.boxes.count {
                out.append(CachedFeatures(file: st, labels: im.labels))
                cached += 1
            } else {
                let img: RGBInput
                do { img = try load(imagePath) } catch { throw RecognizerError("\(imagePath): \(error)") }
                let (tokens, fm) = Self.compute(model: model, image: img, boxes: im.boxes)
                let tmp = file + ".part-\(getpid())"
                try writeSafeTensors(["region_tokens": tokens, "feature_map": fm], metadata: ["image": imagePath, "weights": weightsKey], to: tmp)
                guard rename(tmp, file) == 0 else { throw RecognizerError("\(file): cannot write (\(String(cString: strerror(errno))))") }
                out.append(CachedFeatures(file: try SafeTensors(path: file), labels: im.labels))
            }
            progress(Progress(done: i + 1, total: data.images.count, fromCache: cached, current: im.fileName))
        }
        return out
    }

    /// SAM region tokens [N, C] of `boxes` (xyxy pixels) and the CLIP feature map [L, D].
    public static func compute(model: ModelDirectory, image: RGBInput, boxes: [[Float]]) -> (Tensor, Tensor) {
        let input = model.sam.preprocess(rgb: image.rgb, width: image.width, height: image.height)
        let emb = model.sam.encode(input)
        let tokens = model.sam.decode(embedding: emb, input: input, boxes: boxes).regionTokens
        let fm = model.vision(model.vision.preprocess(rgb: image.rgb, width: image.width, height: image.height)).featureMap
        return (tokens, fm.reshaped([-1, fm.shape.last!]))
    }
}
