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

/// The schema has "additionalProperties": false: a field it does not know (a typo such as
/// "scroe") is an error naming it, never silently ignored.
private struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

private func refuseUnknownFields<K: CodingKey & CaseIterable>(_ decoder: any Decoder, _: K.Type) throws {
    let known = Set(K.allCases.map(\.stringValue))
    if let extra = try decoder.container(keyedBy: AnyKey.self).allKeys.map(\.stringValue).sorted().first(where: { !known.contains($0) }) {
        throw ExternalBoxesError(description: "unknown field \(ExternalBoxes.path(decoder.codingPath + [AnyKey(stringValue: extra)]))")
    }
}

extension ExternalBox {
    enum CodingKeys: String, CodingKey, CaseIterable { case box, label, score, id }
    public init(from decoder: any Decoder) throws {
        try refuseUnknownFields(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        box = try c.decode([Double].self, forKey: .box)
        label = try c.decodeIfPresent(String.self, forKey: .label)
        score = try c.decodeIfPresent(Double.self, forKey: .score)
        id = try c.decodeIfPresent(String.self, forKey: .id)
    }
}

extension ExternalBoxes {
    enum CodingKeys: String, CodingKey, CaseIterable { case schema, stream, frame, pts, boxes }
    public init(from decoder: any Decoder) throws {
        try refuseUnknownFields(decoder, CodingKeys.self)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        schema = try c.decode(String.self, forKey: .schema)
        stream = try c.decode(String.self, forKey: .stream)
        // Read as a number first: JSONDecoder reports "frame": 1.5 as invalid JSON, naming nothing.
        if let f = try c.decodeIfPresent(Double.self, forKey: .frame) {
            guard f == f.rounded(), abs(f) < 1e15 else { throw ExternalBoxesError(description: "frame \(f) is not a whole number") }
            frame = Int(f)
        }
        pts = try c.decodeIfPresent(Double.self, forKey: .pts)
        boxes = try c.decode([ExternalBox].self, forKey: .boxes)
    }
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
        } catch let e as ExternalBoxesError {
            throw e
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
