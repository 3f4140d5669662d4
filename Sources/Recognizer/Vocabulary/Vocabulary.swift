import Foundation

// Open vocabulary: class names -> text embeddings, as RegionSpot computes them.
// For each class name (suffixes '-other', '-merged', '-stuff' removed) the 81 prompt
// templates below (CLIP's ImageNet ensemble with '{}.' and 'a photo of a {}.' first, in
// RegionSpot's order) go through the CLIP text encoder; the template embeddings are
// averaged as they come out (not normalized one by one) and the mean is L2-normalized.
// Synonyms written `a|b` share one label: all their templates are averaged together.

public struct Vocabulary: Sendable, Equatable, Codable {
    /// Display label of each class (its first synonym, as written).
    public var labels: [String]
    /// The names embedded for each class (synonyms), suffixes removed.
    public var names: [[String]]

    public static let templates: [String] = [
        "{}.",
        "a photo of a {}.",
        "a bad photo of a {}.",
        "a photo of many {}.",
        "a sculpture of a {}.",
        "a photo of the hard to see {}.",
        "a low resolution photo of the {}.",
        "a rendering of a {}.",
        "graffiti of a {}.",
        "a bad photo of the {}.",
        "a cropped photo of the {}.",
        "a tattoo of a {}.",
        "the embroidered {}.",
        "a photo of a hard to see {}.",
        "a bright photo of a {}.",
        "a photo of a clean {}.",
        "a photo of a dirty {}.",
        "a dark photo of the {}.",
        "a drawing of a {}.",
        "a photo of my {}.",
        "the plastic {}.",
        "a photo of the cool {}.",
        "a close-up photo of a {}.",
        "a black and white photo of the {}.",
        "a painting of the {}.",
        "a painting of a {}.",
        "a pixelated photo of the {}.",
        "a sculpture of the {}.",
        "a bright photo of the {}.",
        "a cropped photo of a {}.",
        "a plastic {}.",
        "a photo of the dirty {}.",
        "a jpeg corrupted photo of a {}.",
        "a blurry photo of the {}.",
        "a photo of the {}.",
        "a good photo of the {}.",
        "a rendering of the {}.",
        "a {} in a video game.",
        "a photo of one {}.",
        "a doodle of a {}.",
        "a close-up photo of the {}.",
        "the origami {}.",
        "the {} in a video game.",
        "a sketch of a {}.",
        "a doodle of the {}.",
        "a origami {}.",
        "a low resolution photo of a {}.",
        "the toy {}.",
        "a rendition of the {}.",
        "a photo of the clean {}.",
        "a photo of a large {}.",
        "a rendition of a {}.",
        "a photo of a nice {}.",
        "a photo of a weird {}.",
        "a blurry photo of a {}.",
        "a cartoon {}.",
        "art of a {}.",
        "a sketch of the {}.",
        "a embroidered {}.",
        "a pixelated photo of a {}.",
        "itap of the {}.",
        "a jpeg corrupted photo of the {}.",
        "a good photo of a {}.",
        "a plushie {}.",
        "a photo of the nice {}.",
        "a photo of the small {}.",
        "a photo of the weird {}.",
        "the cartoon {}.",
        "art of the {}.",
        "a drawing of the {}.",
        "a photo of the large {}.",
        "a black and white photo of a {}.",
        "the plushie {}.",
        "a dark photo of a {}.",
        "itap of a {}.",
        "graffiti of the {}.",
        "a toy {}.",
        "itap of my {}.",
        "a photo of a cool {}.",
        "a photo of a small {}.",
        "a tattoo of the {}.",
    ]

    /// Labels with their synonyms (suffixes are removed here).
    public init(labels: [String], names: [[String]]) throws(RecognizerError) {
        guard !labels.isEmpty, labels.count == names.count, names.allSatisfy({ !$0.isEmpty }) else {
            throw RecognizerError("vocabulary: \(labels.count) labels with \(names.count) synonym lists; each label needs at least one name")
        }
        self.labels = labels
        self.names = names.map { $0.map(Self.cleanName) }
    }

    /// "person, car|automobile, dog" (comma or newline separated; `#` comments in files).
    public init(parsing spec: String) throws(RecognizerError) {
        var labels: [String] = [], names: [[String]] = []
        for raw in spec.split(whereSeparator: { $0 == "," || $0 == "\n" }) {
            var item = String(raw)
            if let hash = item.firstIndex(of: "#") { item = String(item[..<hash]) }
            let syn = item.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard let first = syn.first else { continue }
            if labels.contains(first) { throw RecognizerError("vocabulary: '\(first)' is listed twice") }
            labels.append(first)
            names.append(syn.map(Self.cleanName))
        }
        guard !labels.isEmpty else { throw RecognizerError("vocabulary: no class names given") }
        self.labels = labels
        self.names = names
    }

    /// "@path" reads a file (one class per line), anything else is an inline list.
    public static func load(_ spec: String) throws(RecognizerError) -> Vocabulary {
        if spec.hasPrefix("@") {
            let path = String(spec.dropFirst())
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw RecognizerError("vocabulary file \(path): cannot be read")
            }
            do { return try Vocabulary(parsing: text) } catch { throw RecognizerError("vocabulary file \(path): \(error.description)") }
        }
        return try Vocabulary(parsing: spec)
    }

    public static func cleanName(_ name: String) -> String {
        name.replacingOccurrences(of: "-other", with: "").replacingOccurrences(of: "-merged", with: "").replacingOccurrences(of: "-stuff", with: "")
    }

    /// The prompts embedded for class `i`, in order.
    public func prompts(_ i: Int) -> [String] {
        names[i].flatMap { n in Self.templates.map { $0.replacingOccurrences(of: "{}", with: n) } }
    }
}
