import Foundation

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
    /// Files in the alternative naming (they hold a key starting with one of the
    /// `alternativeMarkers` after a prefix): their names are looked up alias first.
    private let alternativeFiles: Set<ObjectIdentifier>

    /// `alternativeMarkers`: key beginnings only the alternative naming uses (Hugging Face
    /// SAM's "vision_encoder."). Some names mean different tensors in the two namings (HF
    /// SAM's MLP `layers.0` is the official `layers.1`), so a file in the alternative
    /// naming must never be read by official names first.
    public init(files: [SafeTensors], prefixes: [String] = [], aliases: @escaping @Sendable (String) -> [String] = { _ in [] },
                alternativeMarkers: [String] = []) {
        self.files = files
        self.prefixes = prefixes + [""]
        self.aliases = aliases
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
    /// (-1 matches any size).
    public func tensor(_ name: String, shape: [Int]? = nil) throws(RecognizerError) -> Tensor {
        guard let (file, actual) = locate(name) else {
            throw RecognizerError("\(fileNames): missing tensor '\(name)'")
        }
        let t = try file.tensor(actual)
        if let shape {
            let ok = shape.count == t.shape.count && zip(shape, t.shape).allSatisfy { $0 == -1 || $0 == $1 }
            if !ok {
                throw RecognizerError("\(file.name): tensor '\(actual)' has shape \(t.shape), expected \(shape.map { $0 == -1 ? "*" : String($0) })")
            }
        }
        return t
    }

    /// Shape of `name` without reading it.
    public func shape(_ name: String) throws(RecognizerError) -> [Int] {
        guard let (file, actual) = locate(name) else {
            throw RecognizerError("\(fileNames): missing tensor '\(name)'")
        }
        return try file.entry(actual).shape
    }

    /// How many `template` entries with {i} = 0, 1, 2, ... exist.
    public func count(_ template: String) -> Int {
        var i = 0
        while has(template.replacingOccurrences(of: "{i}", with: String(i))) { i += 1 }
        return i
    }
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
