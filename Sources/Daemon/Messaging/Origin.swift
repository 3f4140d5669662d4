// Where a published message comes from and where it stands in its topic: `node` (the
// configured node name, default the host name), `session` (random, new at every process
// start) and `seq` (per topic, i.e. per stream and kind, from 0 without holes). The
// publisher stamps them as a message leaves the process; a subscriber sees a gap as a
// jump in `seq` and a restart as a new `session` (`SequenceTracker`, used by `tail`).
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A message the publisher stamps with node, session and seq.
public protocol Stamped: Encodable, Sendable {
    var node: String? { get set }
    var session: String? { get set }
    var seq: UInt64? { get set }
}

public enum Origin {
    /// This process's session: 16 hex digits from the system's random generator, drawn once.
    public static let session: String = {
        var g = SystemRandomNumberGenerator()
        let v = g.next() as UInt64
        return String(v, radix: 16).leftPadded(to: 16)
    }()

    /// The host name (gethostname), the default node name; "localhost" if it has none.
    public static var hostName: String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        let s = String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return s.isEmpty ? "localhost" : s
    }

    /// Whether `name` is a valid node name: 1-64 of A-Z a-z 0-9 . - _
    public static func isValidNode(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name.unicodeScalars.allSatisfy {
            $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-" || $0 == "_" || $0 == ".")
        }
    }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}

/// Follows (node, session, seq) per topic on the subscriber side and says what happened
/// between two messages: nothing, a restart of the publishing process (a new session for
/// the node) or messages lost (a jump in seq).
public struct SequenceTracker: Sendable {
    public enum Event: Sendable, Equatable, CustomStringConvertible {
        /// The node's session changed: the publishing process restarted.
        case restart(node: String, from: String, to: String)
        /// `missing` messages of `topic` (from `node`) never arrived: seq `first`...`first + missing - 1`.
        case gap(topic: String, node: String, first: UInt64, missing: UInt64)
        /// A seq at or below one already seen in the same session (a duplicate or reordering).
        case backwards(topic: String, node: String, seq: UInt64, expected: UInt64)

        public var description: String {
            switch self {
            case let .restart(node, from, to): return "-- restart: node \(node) session \(from) -> \(to)"
            case let .gap(topic, node, first, missing):
                return "-- gap: \(topic) from \(node): \(missing) message\(missing == 1 ? "" : "s") missing (seq \(first)\(missing > 1 ? "...\(first + missing - 1)" : ""))"
            case let .backwards(topic, node, seq, expected): return "-- out of order: \(topic) from \(node): seq \(seq), expected \(expected)"
            }
        }
    }

    private var sessions: [String: String] = [:]            // node -> session
    private var expected: [String: (String, UInt64)] = [:]  // node|topic -> (session, next seq)
    public private(set) var restarts = 0
    public private(set) var missing: UInt64 = 0

    public init() {}

    /// What the arrival of (topic, node, session, seq) tells; the first message of a topic
    /// (or of a node) tells nothing: a subscriber joins mid-stream.
    public mutating func observe(topic: String, node: String, session: String, seq: UInt64) -> [Event] {
        var events: [Event] = []
        if let old = sessions[node], old != session {
            events.append(.restart(node: node, from: old, to: session))
            restarts += 1
        }
        sessions[node] = session
        let key = node + "|" + topic
        if let (s, next) = expected[key], s == session {
            if seq > next {
                events.append(.gap(topic: topic, node: node, first: next, missing: seq - next))
                missing += seq - next
            } else if seq < next {
                events.append(.backwards(topic: topic, node: node, seq: seq, expected: next))
            }
        }
        if let (s, next) = expected[key], s == session, seq < next { return events }
        expected[key] = (session, seq + 1)
        return events
    }

    /// The same from a decoded JSON payload; messages without node/session/seq (older
    /// publishers) are skipped.
    public mutating func observe(topic: String, json: [String: Any]) -> [Event] {
        guard let node = json["node"] as? String, let session = json["session"] as? String,
              let seq = (json["seq"] as? NSNumber)?.uint64Value else { return [] }
        return observe(topic: topic, node: node, session: session, seq: seq)
    }
}
