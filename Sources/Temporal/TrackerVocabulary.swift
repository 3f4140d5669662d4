// Open-vocabulary scoring from a stored semantic embedding, as the RegionSpot head does it:
// logits = exp(logit_scale) x cos(region embedding, class text embedding), softmax over
// the vocabulary. Lets the tracker re-score every live track when the vocabulary changes
// without running any encoder.

/// Class text embeddings and the CLIP logit scale.
public struct TrackerVocabulary: Sendable, Equatable {
    public let names: [String]
    /// (C, D) row-major, each row L2-normalized on init.
    public let embeddings: [Float]
    public let dim: Int
    /// Multiplier on the cosines, i.e. exp(CLIP logit_scale) (100 for released CLIP).
    public let scale: Float

    public enum Error: Swift.Error, CustomStringConvertible {
        case shape(names: Int, values: Int, dim: Int)
        public var description: String {
            switch self {
            case let .shape(n, v, d):
                return "TrackerVocabulary: \(v) embedding values are not \(n) classes x \(d) dims"
            }
        }
    }

    /// - Parameters:
    ///   - embeddings: (C, D) row-major class text embeddings (normalized here).
    ///   - scale: exp(logit_scale).
    public init(names: [String], embeddings: [Float], dim: Int, scale: Float) throws {
        guard dim > 0, embeddings.count == names.count * dim else {
            throw Error.shape(names: names.count, values: embeddings.count, dim: dim)
        }
        var rows = [Float](); rows.reserveCapacity(embeddings.count)
        for c in 0..<names.count { rows += l2Normalized(Array(embeddings[c * dim..<(c + 1) * dim])) }
        self.names = names; self.embeddings = rows; self.dim = dim; self.scale = scale
    }

    public var count: Int { names.count }

    /// Softmax over classes of scale x cos(embedding, class). (D) -> (C).
    /// Returns nil when the embedding has the wrong length.
    public func probabilities(for embedding: [Float]) -> [Float]? {
        guard embedding.count == dim, count > 0 else { return nil }
        let e = l2Normalized(embedding)
        var logits = [Float](repeating: 0, count: count)
        embeddings.withUnsafeBufferPointer { w in
            for c in 0..<count {
                var s: Float = 0
                for k in 0..<dim { s += w[c * dim + k] * e[k] }
                logits[c] = scale * s
            }
        }
        return Self.probabilities(logits: logits)
    }

    /// The rule that turns a region's class logits (scale x cosine) into the label
    /// probabilities a track keeps: softmax over the classes. The pipeline scores fresh
    /// recognitions with it too, so a re-scored track and a newly recognized one agree.
    public static func probabilities(logits: [Float]) -> [Float] { softmax(logits) }
}

@inlinable
func softmax(_ x: [Float]) -> [Float] {
    guard let m = x.max() else { return [] }
    var out = x.map { expf($0 - m) }
    let s = out.reduce(0, +)
    for i in out.indices { out[i] /= s }
    return out
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
