import Foundation

/// The accuracy checks of `models.precision` run on a model directory's own weights, and
/// their verdicts kept in its model.json, so that `auto` picks a reduced precision only for
/// weights it was checked on (`regionspotd models check DIR` runs and records them):
///
///   "precision_checks": {"int8": {"passes": true, "weights": "<fingerprint>", "kernels": 2,
///                                 "summary": "top-1 same 16/16, max |Δprob| ..."}, "bf16": {...}}
///
/// int8 quantizes activations per token: weights whose activations hold outlier channels
/// (common in large trained ViTs, absent from random weights) can fail where synthesized
/// ones pass, so int8 is never assumed; bf16 is (the paper's own practice, every fixture
/// and the shapes scenes hold), unless a check recorded for these weights failed.
/// `weights` is the fingerprint of the weight files when checked: a record made on other
/// weights (a file replaced, converted again) is not used; nor is one made by other
/// reduced-precision kernels than this binary's (`kernels`).
public enum PrecisionCheck {
    public static let key = "precision_checks"

    /// The version of the bf16 and int8 numerics, recorded with each check: raised by every
    /// change that moves their results, so a check made by an older binary is not trusted.
    /// 1: the records before it was kept (no "kernels" key). 2: int8 runs the global
    /// attention's Q K^T in int8 (AttentionInt8.swift).
    public static let kernels = 2

    public struct Record: Sendable, Equatable {
        public var passes: Bool
        /// `fingerprint(directory:)` of the weights the check ran on.
        public var weights: String
        /// The comparison as printed (PrecisionComparison.description).
        public var summary: String
        /// `PrecisionCheck.kernels` of the binary that ran the check.
        public var kernels: Int
        public init(passes: Bool, weights: String, summary: String, kernels: Int = PrecisionCheck.kernels) {
            self.passes = passes; self.weights = weights; self.summary = summary; self.kernels = kernels
        }
    }

    /// Reads model.json's "precision_checks"; a malformed record is an error naming its key.
    static func records(_ v: Any?, path: String) throws(RecognizerError) -> [Precision: Record] {
        guard let v else { return [:] }
        guard let d = v as? [String: Any] else { throw RecognizerError("\(path): \(key): expected an object of precision -> check, found \(v)") }
        var out: [Precision: Record] = [:]
        for (name, r) in d.sorted(by: { $0.key < $1.key }) {
            let k = "\(key).\(name)"
            guard let p = Precision(rawValue: name), p == .bf16 || p == .int8 else {
                throw RecognizerError("\(path): \(k): unknown precision; checks are recorded for bf16 and int8")
            }
            guard let o = r as? [String: Any] else { throw RecognizerError("\(path): \(k): expected an object, found \(r)") }
            guard let passes = o["passes"].flatMap(ModelSettings.boolean) else {
                throw RecognizerError("\(path): \(k).passes: expected true or false, found \(o["passes"] ?? "nothing")")
            }
            guard let w = o["weights"] as? String, w.count == 16, w.allSatisfy(\.isHexDigit) else {
                throw RecognizerError("\(path): \(k).weights: expected the 16-digit fingerprint `models check` writes, found \(o["weights"] ?? "nothing")")
            }
            var version = 1
            if let v = o["kernels"] {
                guard let n = v as? Int, n >= 1 else {
                    throw RecognizerError("\(path): \(k).kernels: expected a version number (1 or more), found \(v)")
                }
                version = n
            }
            out[p] = Record(passes: passes, weights: w, summary: o["summary"] as? String ?? "", kernels: version)
        }
        return out
    }

    /// A 64-bit fingerprint of every byte of the weight files the model reads (SAM, CLIP
    /// and, when present, the head; names from model.json "files"). Word-wise mixing over
    /// the mapped files: about 0.3-0.4 s at start-up for BB's 0.7 GB in the page cache
    /// (`recognize` at auto against int8, same weights).
    public static func fingerprint(directory: String, settings: ModelSettings) throws(RecognizerError) -> String {
        var hash = StableHash()
        var seen = Set<String>()
        for role in ["sam", "clip", "head"] {
            let name = settings.files[role] ?? "\(role).safetensors"
            let p = "\(directory)/\(name)"
            guard seen.insert(name).inserted else { continue }
            if role == "head" && !FileManager.default.fileExists(atPath: p) { continue }
            let data: Data
            do { data = try Data(contentsOf: URL(fileURLWithPath: p), options: .alwaysMapped) } catch {
                throw RecognizerError("model directory \(directory): cannot read \(name) to fingerprint it (\(error.localizedDescription))")
            }
            hash.add(name)
            data.withUnsafeBytes { hash.add(bytes: $0) }
        }
        return hash.hex
    }

    /// The probe every check runs: a 1024x768 RGB pattern with every value and sharp edges,
    /// or an image the caller gives; 16 boxes spread over the picture.
    public static let probeSize = (width: 1024, height: 768)
    public static func probeImage() -> [UInt8] {
        var rgb = [UInt8](repeating: 0, count: probeSize.width * probeSize.height * 3)
        for i in rgb.indices { rgb[i] = UInt8(truncatingIfNeeded: i * 7 + i / 3000) }
        return rgb
    }
    public static func probeBoxes(_ n: Int, width: Int = probeSize.width, height: Int = probeSize.height) -> [[Float]] {
        let sx = Float(width) / 1024, sy = Float(height) / 768
        return (0..<n).map { i -> [Float] in
            let x = Float((i * 97) % 900), y = Float((i * 61) % 600)
            return [x * sx, y * sy, (x + 60 + Float(i % 5) * 20) * sx, (y + 80 + Float(i % 3) * 30) * sy]
        }
    }
    /// 16 everyday classes (the synthesized weights' classes are near-ties either way).
    public static let probeVocabulary = "person,car,bicycle,dog,cat,bus,truck,traffic light,bird,horse,chair,bottle,cup,tree,building,road"

    /// The regions of the probe at `precision`, masks included.
    public static func regions(directory: String, precision: Precision, rgb: [UInt8], width: Int, height: Int,
                               boxes: [[Float]]) throws -> [RecognizedRegion] {
        let model = try ModelDirectory(path: directory, precision: precision)
        let vocab = try Vocabulary(parsing: probeVocabulary)
        let emb = try VocabularyEmbedder.embed(vocab, text: model.text, tokenizer: try model.tokenizer(), textWeightsHash: model.text.weightsHash, cacheDirectory: nil)
        let rec = try RegionRecognizer(model: model, kind: model.head == nil ? .clipCrop : .regionspot, vocabulary: emb)
        return rec.recognize(rec.features(rgb: rgb, width: width, height: height), boxes: boxes, masks: true)
    }

    /// Writes `records` into the model.json of `directory` (created when absent), keeping
    /// every other key; records for precisions not in `records` stay as they were.
    public static func write(_ records: [Precision: Record], directory: String) throws(RecognizerError) {
        let path = directory + "/model.json"
        var obj: [String: Any] = [:]
        if FileManager.default.fileExists(atPath: path) {
            guard let d = FileManager.default.contents(atPath: path),
                  let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] else { throw RecognizerError("\(path): not a JSON object") }
            obj = o
        }
        var checks = obj[key] as? [String: Any] ?? [:]
        for (p, r) in records { checks[p.rawValue] = ["passes": r.passes, "weights": r.weights, "summary": r.summary, "kernels": r.kernels] }
        obj[key] = checks
        do {
            let data = try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
            try data.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch { throw RecognizerError("\(path): cannot write (\(error.localizedDescription))") }
    }
}

extension Precision {
    /// What runs for this model directory on this CPU. fp32, bf16 and int8 as `effective()`.
    /// auto: int8 where the CPU runs it natively and model.json records an int8 check that
    /// passed on these very weights; else bf16 where native, unless a bf16 check recorded
    /// for these weights failed; else fp32. The note says which and why.
    public func effective(modelDirectory dir: String) throws(RecognizerError) -> (precision: Precision, note: String?) {
        guard self == .auto else { return try effective() }
        let settings = try ModelDirectory.settings(path: dir)
        let checks = settings.precisionChecks
        var current: String?  // the fingerprint, computed once when a record needs it
        func matches(_ r: PrecisionCheck.Record) throws(RecognizerError) -> Bool {
            if current == nil { current = try PrecisionCheck.fingerprint(directory: dir, settings: settings) }
            return r.weights == current
        }
        var why: String
        if let r = checks[.int8] {
            if !OneDNN.nativeInt8 {
                why = "int8 passed its check but this CPU (oneDNN ISA \(OneDNN.isaName)) has neither AVX512_VNNI nor AVX-VNNI"
            } else if try !matches(r) {
                why = "the int8 check in \(dir)/model.json was made on other weights (run `regionspotd models check \(dir)` again)"
            } else if r.kernels != PrecisionCheck.kernels {
                why = "the int8 check in \(dir)/model.json was made by other int8 kernels (version \(r.kernels), this binary's: \(PrecisionCheck.kernels); run `regionspotd models check \(dir)` again)"
            } else if r.passes {
                return (.int8, "precision auto: int8, its accuracy check passed on these weights (\(dir)/model.json: \(r.summary))")
            } else {
                why = "int8 failed its accuracy check on these weights (\(r.summary))"
            }
        } else {
            why = "int8 is not checked for this model (`regionspotd models check \(dir)` checks it)"
        }
        if let r = checks[.bf16], !r.passes, OneDNN.nativeBF16, r.kernels == PrecisionCheck.kernels, try matches(r) {
            return (.fp32, "precision auto: fp32, bf16 failed its accuracy check on these weights (\(r.summary)); \(why)")
        }
        let (p, note) = try effective()
        return (p, (note ?? "precision auto: \(p.rawValue)") + "; \(why)")
    }
}
