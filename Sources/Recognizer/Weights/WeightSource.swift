import Foundation
import Synchronization

/// Reads a model's tensors by their official checkpoint names from one or more
/// safetensors files, whatever naming the files use: each model supplies a table that
/// maps its official names to the alternative (e.g. Hugging Face) names, and a prefix
/// (e.g. "sam." in a RegionSpot checkpoint) may be stripped.
public struct WeightSource: Sendable {
    public let files: [SafeTensors]
    /// Prefixes tried in order before each name ("" always last).
    public let prefixes: [String]
    /// Official name -> alternative names (same tensor, other conventions).
    public let aliases: @Sendable (String) -> [String]

    /// Tensors (official names without prefix) a model may carry and this build does not
    /// read, e.g. SAM's mask-prompt layers: never reported by `unexpectedTensors`.
    public let knownUnused: @Sendable (String) -> Bool
    /// How the encoders store the Linear weights read through `linearWeight` (bf16: converted
    /// once, here at load).
    public var precision: Precision = .fp32
    /// What `tensor` and `shape` were asked for, shared by every copy of this source.
    private let reads = ReadSet()

    /// Files in the alternative naming (they hold a key starting with one of the
    /// `alternativeMarkers` after a prefix): their names are looked up alias first.
    private let alternativeFiles: Set<ObjectIdentifier>

    /// `alternativeMarkers`: key beginnings only the alternative naming uses (Hugging Face
    /// SAM's "vision_encoder."). Some names mean different tensors in the two namings (HF
    /// SAM's MLP `layers.0` is the official `layers.1`), so a file in the alternative
    /// naming must never be read by official names first.
    public init(files: [SafeTensors], prefixes: [String] = [], aliases: @escaping @Sendable (String) -> [String] = { _ in [] },
                alternativeMarkers: [String] = [], knownUnused: @escaping @Sendable (String) -> Bool = { _ in false }) {
        self.files = files
        self.prefixes = prefixes + [""]
        self.aliases = aliases
        self.knownUnused = knownUnused
        let all = prefixes + [""]
        alternativeFiles = Set(files.filter { f in
            f.entries.keys.contains { key in all.contains { p in alternativeMarkers.contains { key.hasPrefix(p + $0) } } }
        }.map(ObjectIdentifier.init))
    }

    public var fileNames: String { files.map(\.name).joined(separator: ", ") }

    /// Where the official `name` lives, if anywhere.
    public func locate(_ name: String) -> (SafeTensors, String)? {
        let official = [name] + aliases(name), alternative = aliases(name) + [name]
        for f in files {
            for candidate in alternativeFiles.contains(ObjectIdentifier(f)) ? alternative : official {
                for p in prefixes where f.entries[p + candidate] != nil { return (f, p + candidate) }
            }
        }
        return nil
    }

    public func has(_ name: String) -> Bool { locate(name) != nil }

    /// The tensor named `name` (official naming), checked against `shape` where given
    /// (-1 matches any size) and refused when it holds a NaN or an infinity.
    public func tensor(_ name: String, shape: [Int]? = nil) throws(RecognizerError) -> Tensor {
        guard let (file, actual) = locate(name) else {
            throw RecognizerError("\(fileNames): missing tensor '\(name)'")
        }
        reads.insert(file, actual)
        let t = try file.tensor(actual)
        if let shape {
            let ok = shape.count == t.shape.count && zip(shape, t.shape).allSatisfy { $0 == -1 || $0 == $1 }
            if !ok {
                throw RecognizerError("\(file.name): tensor '\(actual)' has shape \(t.shape), expected \(shape.map { $0 == -1 ? "*" : String($0) })")
            }
        }
        // Every weight a model reads passes here once, at load: a NaN or an infinity is
        // refused now rather than published as garbage later.
        try t.checkFinite(file: file.name, tensor: actual)
        return t
    }

    /// Shape of `name` without reading it.
    public func shape(_ name: String) throws(RecognizerError) -> [Int] {
        guard let (file, actual) = locate(name) else {
            throw RecognizerError("\(fileNames): missing tensor '\(name)'")
        }
        reads.insert(file, actual)
        return try file.entry(actual).shape
    }

    /// Whether `key` of one of the files is a tensor the model is known not to read.
    func isKnownUnused(_ key: String) -> Bool {
        prefixes.contains { key.hasPrefix($0) && knownUnused(String(key.dropFirst($0.count))) }
    }

    /// The tensors of `sources`' files that no source read and none knows as unused, file by
    /// file in name order: what a checkpoint holds beyond the models built from it (another
    /// architecture, a mismatched variant, a wrong file). Several sources may share a file
    /// (one checkpoint holding SAM, CLIP and the head); call it after building every model.
    public static func unexpectedTensors(_ sources: [WeightSource]) -> [(file: String, tensor: String)] {
        var files: [ObjectIdentifier: SafeTensors] = [:]
        var order: [ObjectIdentifier] = []
        for src in sources {
            for f in src.files where files[ObjectIdentifier(f)] == nil {
                files[ObjectIdentifier(f)] = f
                order.append(ObjectIdentifier(f))
            }
        }
        var out: [(file: String, tensor: String)] = []
        for id in order {
            let f = files[id]!
            let users = sources.filter { $0.files.contains { $0 === f } }
            for key in f.names where !users.contains(where: { $0.reads.contains(f, key) || $0.isKnownUnused(key) }) {
                out.append((f.name, key))
            }
        }
        return out
    }

    /// Throws when `unexpectedTensors(sources)` is not empty, naming the first file and
    /// tensor and how many there are.
    public static func checkNoUnexpectedTensors(_ sources: [WeightSource], hint: String = "") throws(RecognizerError) {
        let extra = unexpectedTensors(sources)
        guard let first = extra.first else { return }
        let more = extra.count > 1 ? " and \(extra.count - 1) more" : ""
        throw RecognizerError("\(first.file): unexpected tensor '\(first.tensor)'\(more): not part of the model as this build reads it (a checkpoint of another architecture or variant?)\(hint)")
    }

    /// How many `template` entries with {i} = 0, 1, 2, ... exist.
    public func count(_ template: String) -> Int {
        var i = 0
        while has(template.replacingOccurrences(of: "{i}", with: String(i))) { i += 1 }
        return i
    }
}

/// (file, tensor) pairs a WeightSource was asked for; a class so that copies of the source
/// (models keep theirs) record into one set.
final class ReadSet: Sendable {
    private struct Key: Hashable { var file: ObjectIdentifier; var tensor: String }
    private let keys = Mutex<Set<Key>>([])
    func insert(_ file: SafeTensors, _ tensor: String) { _ = keys.withLock { $0.insert(Key(file: ObjectIdentifier(file), tensor: tensor)) } }
    func contains(_ file: SafeTensors, _ tensor: String) -> Bool { keys.withLock { $0.contains(Key(file: ObjectIdentifier(file), tensor: tensor)) } }
}

/// Rewrites names by ordered (pattern, replacement) rules where `{a}` matches a word
/// (letters and `_`) and any other `{x}` an integer: used for the official <-> Hugging
/// Face name tables.
public struct NameRules: Sendable {
    public let rules: [(String, String)]
    public init(_ rules: [(String, String)]) { self.rules = rules }

    /// All rewrites of `name` by the first rule whose pattern matches it entirely.
    public func rewrite(_ name: String) -> String? {
        for (pattern, replacement) in rules {
            if let captures = Self.match(pattern, name) {
                var out = replacement
                for (k, v) in captures { out = out.replacingOccurrences(of: "{\(k)}", with: v) }
                return out
            }
        }
        return nil
    }

    static func match(_ pattern: String, _ name: String) -> [String: String]? {
        var caps: [String: String] = [:]
        var p = pattern[...], n = name[...]
        while !p.isEmpty {
            if p.hasPrefix("{"), let close = p.firstIndex(of: "}") {
                let key = String(p[p.index(after: p.startIndex)..<close])
                let digits = key == "a" ? n.prefix { $0.isLetter || $0 == "_" } : n.prefix { $0.isNumber }
                if digits.isEmpty { return nil }
                caps[key] = String(digits)
                n = n.dropFirst(digits.count)
                p = p[p.index(after: close)...]
            } else {
                guard let c = n.first, c == p.first else { return nil }
                n = n.dropFirst()
                p = p.dropFirst()
            }
        }
        return n.isEmpty ? caps : nil
    }
}
