// Input from an upstream detector ("external boxes"): the JSON described by
// schema/external-boxes.schema.json, decoded and checked here. The receiving socket and
// the hand-over to the keyframe scheduler belong to the pipeline; a malformed message is
// an `ExternalBoxesError` naming the field, to be counted and logged, never fatal.
import Foundation

public struct ExternalBox: Codable, Sendable, Equatable {
    /// [x1, y1, x2, y2] in source pixels.
    public var box: [Double]
    public var label: String?
    public var score: Double?
    public var id: String?
}

public struct ExternalBoxes: Codable, Sendable, Equatable {
    public var schema: String
    public var stream: String
    /// The frame or the pts (seconds) the boxes belong to; at least one is set.
    public var frame: Int?
    public var pts: Double?
    public var boxes: [ExternalBox]

    public static let maxBoxes = 1024
}

public struct ExternalBoxesError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

extension ExternalBoxes {
    /// Decodes and checks one message (`knownStreams` nil = any stream id).
    public static func parse(_ payload: [UInt8], knownStreams: Set<String>? = nil) throws(ExternalBoxesError) -> ExternalBoxes {
        let m: ExternalBoxes
        do {
            m = try JSONDecoder().decode(ExternalBoxes.self, from: Data(payload))
        } catch let DecodingError.keyNotFound(key, ctx) {
            throw ExternalBoxesError(description: "missing field \(path(ctx.codingPath + [key]))")
        } catch let DecodingError.typeMismatch(_, ctx) {
            throw ExternalBoxesError(description: "wrong type at \(path(ctx.codingPath)): \(ctx.debugDescription)")
        } catch let DecodingError.valueNotFound(_, ctx) {
            throw ExternalBoxesError(description: "null at \(path(ctx.codingPath))")
        } catch {
            throw ExternalBoxesError(description: "not a JSON object of the external-boxes schema (\(payload.count) bytes)")
        }
        guard m.schema == SchemaVersion.externalBoxes else {
            throw ExternalBoxesError(description: "schema '\(m.schema)' is not \(SchemaVersion.externalBoxes)")
        }
        if let known = knownStreams, !known.contains(m.stream) {
            throw ExternalBoxesError(description: "unknown stream '\(m.stream)'")
        }
        guard m.frame != nil || m.pts != nil else { throw ExternalBoxesError(description: "needs frame or pts") }
        if let f = m.frame, f < 0 { throw ExternalBoxesError(description: "frame \(f) is negative") }
        if let p = m.pts, !p.isFinite { throw ExternalBoxesError(description: "pts is not finite") }
        guard m.boxes.count <= maxBoxes else { throw ExternalBoxesError(description: "\(m.boxes.count) boxes (at most \(maxBoxes))") }
        for (i, b) in m.boxes.enumerated() {
            guard b.box.count == 4, b.box.allSatisfy(\.isFinite), b.box[0] < b.box[2], b.box[1] < b.box[3] else {
                throw ExternalBoxesError(description: "boxes[\(i)].box must be [x1, y1, x2, y2] with x1 < x2, y1 < y2")
            }
            if let s = b.score, !(0...1).contains(s) { throw ExternalBoxesError(description: "boxes[\(i)].score \(s) is outside 0...1") }
        }
        return m
    }

    static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: ["."])
    }
}
