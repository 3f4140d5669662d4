// What the daemon publishes: one Codable struct per message kind, each with a `schema`
// version string; schema/*.schema.json (JSON Schema 2020-12) describe the same JSON.
// Keys are snake_case and sorted, numbers are finite, so equal messages encode to equal
// bytes (replay compares JSONL byte for byte).
import Decode
import Foundation

#if canImport(Glibc)
import Glibc
#endif

public enum SchemaVersion {
    // regions/2, tracks/3, status/3: node, session and seq (Messaging/Origin.swift).
    public static let regions = "regionspotd/regions/2"
    public static let tracks = "regionspotd/tracks/3"
    public static let status = "regionspotd/status/3"
    public static let externalBoxes = "regionspotd/external-boxes/1"
    public static let proxy = "regionspotd/proxy/1"
}

public enum Topic {
    public static func regions(_ stream: String) -> String { "regions.\(stream)" }
    public static func tracks(_ stream: String) -> String { "tracks.\(stream)" }
    public static func status(_ stream: String) -> String { "status.\(stream)" }
    /// A proxy's own counts (its node name, not a stream id).
    public static func proxy(_ node: String) -> String { "proxy.\(node)" }
}

public struct LabelScore: Codable, Sendable, Equatable {
    public var label: String
    public var score: Double
    public init(label: String, score: Double) { self.label = label; self.score = jsonFinite(score) }
}

/// One region on one frame.
public struct RegionRecord: Codable, Sendable, Equatable {
    public var trackID: UInt64
    /// [x1, y1, x2, y2] in source pixels.
    public var box: [Double]
    public var label: String
    public var score: Double
    /// Best labels first (k as configured).
    public var top: [LabelScore]
    public var source: ProposalSource
    /// Frame index the label was last inferred on (== the message's frame when fresh).
    public var inferredFrame: Int
    /// Seconds of stream time since `inferredFrame`.
    public var labelAge: Double
    /// Which recognizer produced the label ("regionspot", "clip-crop").
    public var recognizer: String

    enum CodingKeys: String, CodingKey {
        case trackID = "track_id", box, label, score, top, source
        case inferredFrame = "inferred_frame", labelAge = "label_age", recognizer
    }

    public init(trackID: UInt64, box: [Double], label: String, score: Double, top: [LabelScore],
                source: ProposalSource, inferredFrame: Int, labelAge: Double, recognizer: String) {
        self.trackID = trackID
        self.box = box.map(jsonFinite)
        self.label = label
        self.score = jsonFinite(score)
        self.top = top
        self.source = source
        self.inferredFrame = inferredFrame
        self.labelAge = Swift.max(0, jsonFinite(labelAge))
        self.recognizer = recognizer
    }
}

/// `regions.<stream>`: the regions on one processed frame.
public struct RegionsMessage: Stamped, Codable, Sendable, Equatable {
    public var schema = SchemaVersion.regions
    public var stream: String
    public var frame: Int
    /// Presentation time in seconds (stream time base).
    public var pts: Double
    /// Wall clock, RFC 3339 UTC with microseconds.
    public var time: String
    public var keyframe: Bool
    /// Whether the recognizer ran on this frame.
    public var inferred: Bool
    /// Seconds from the frame leaving the decoder to this message being built.
    public var latency: Double?
    public var regions: [RegionRecord]
    /// Set by the publisher as the message leaves the process (Origin.swift); nil in
    /// replay's JSONL files.
    public var node: String?
    public var session: String?
    public var seq: UInt64?

    public init(stream: String, frame: Int, pts: Double, time: Double, keyframe: Bool, inferred: Bool,
                latency: Double? = nil, regions: [RegionRecord]) {
        self.stream = stream
        self.frame = frame
        self.pts = jsonFinite(pts)
        self.time = RFC3339.format(epochSeconds: time)
        self.keyframe = keyframe
        self.inferred = inferred
        self.latency = latency.map(jsonFinite)
        self.regions = regions
    }
}

public enum TrackEvent: String, Codable, Sendable, CaseIterable {
    case started, labelChanged = "label_changed", ended
    /// A duplicate of an older track on the same object: this id ends, `merged_into` goes on.
    case merged
}

/// `tracks.<stream>`: a track's life events.
public struct TrackMessage: Stamped, Codable, Sendable, Equatable {
    public var schema = SchemaVersion.tracks
    public var stream: String
    public var event: TrackEvent
    public var trackID: UInt64
    public var label: String
    /// The label before a `label_changed`.
    public var previousLabel: String?
    /// merged: the track that carries the object from now on.
    public var mergedInto: UInt64?
    public var score: Double?
    public var box: [Double]
    public var frame: Int
    public var pts: Double
    public var time: String
    /// Set by the publisher as the message leaves the process (Origin.swift); nil in
    /// replay's JSONL files.
    public var node: String?
    public var session: String?
    public var seq: UInt64?

    enum CodingKeys: String, CodingKey {
        case schema, stream, event, trackID = "track_id", label, previousLabel = "previous_label"
        case mergedInto = "merged_into", score, box, frame, pts, time, node, session, seq
    }

    public init(stream: String, event: TrackEvent, trackID: UInt64, label: String, previousLabel: String? = nil,
                mergedInto: UInt64? = nil, score: Double? = nil, box: [Double], frame: Int, pts: Double, time: Double) {
        self.stream = stream
        self.mergedInto = mergedInto
        self.event = event
        self.trackID = trackID
        self.label = label
        self.previousLabel = previousLabel
        self.score = score.map(jsonFinite)
        self.box = box.map(jsonFinite)
        self.frame = frame
        self.pts = jsonFinite(pts)
        self.time = RFC3339.format(epochSeconds: time)
    }
}

public enum StreamState: String, Codable, Sendable, CaseIterable {
    case connecting, streaming, stalled, reconnecting, ended, failed
}

/// Per-stream rates over the last status interval.
public struct StreamRates: Codable, Sendable, Equatable {
    public var interval: Double
    public var decodedFPS: Double
    public var publishedFPS: Double
    public var recognitionsPerSecond: Double
    public var recognitionsSkipped: Int
    public var framesDropped: Int
    /// Keyframes looked at in the interval on which the encoders ran / rested (on demand).
    public var encoderRuns: Int
    public var encoderRests: Int
    public var liveTracks: Int
    /// Last recognition's latency in seconds.
    public var recognitionLatency: Double?

    enum CodingKeys: String, CodingKey {
        case interval, decodedFPS = "decoded_fps", publishedFPS = "published_fps"
        case recognitionsPerSecond = "recognitions_per_second", recognitionsSkipped = "recognitions_skipped"
        case framesDropped = "frames_dropped", liveTracks = "live_tracks", recognitionLatency = "recognition_latency"
        case encoderRuns = "encoder_runs", encoderRests = "encoder_rests"
    }

    public init(interval: Double, decodedFPS: Double, publishedFPS: Double, recognitionsPerSecond: Double,
                recognitionsSkipped: Int, framesDropped: Int, encoderRuns: Int = 0, encoderRests: Int = 0,
                liveTracks: Int, recognitionLatency: Double?) {
        self.interval = jsonFinite(interval)
        self.decodedFPS = jsonFinite(decodedFPS)
        self.publishedFPS = jsonFinite(publishedFPS)
        self.recognitionsPerSecond = jsonFinite(recognitionsPerSecond)
        self.recognitionsSkipped = recognitionsSkipped
        self.framesDropped = framesDropped
        self.encoderRuns = encoderRuns
        self.encoderRests = encoderRests
        self.liveTracks = liveTracks
        self.recognitionLatency = recognitionLatency.map(jsonFinite)
    }
}

/// `status.<stream>`: a state change (`event: state`, with a reason) or periodic rates.
public struct StatusMessage: Stamped, Codable, Sendable, Equatable {
    public enum Event: String, Codable, Sendable { case state, rates }
    public var schema = SchemaVersion.status
    public var stream: String
    public var time: String
    public var event: Event
    public var state: StreamState
    public var reason: String?
    public var rates: StreamRates?
    /// Set by the publisher as the message leaves the process (Origin.swift); nil in
    /// replay's JSONL files.
    public var node: String?
    public var session: String?
    public var seq: UInt64?

    /// A state change; the reason is redacted (it may quote a URL).
    public static func state(_ state: StreamState, stream: String, reason: String?, time: Double) -> StatusMessage {
        StatusMessage(stream: stream, time: RFC3339.format(epochSeconds: time), event: .state, state: state,
                      reason: reason.map(Redaction.redact), rates: nil)
    }

    public static func rates(_ rates: StreamRates, stream: String, state: StreamState, time: Double) -> StatusMessage {
        StatusMessage(stream: stream, time: RFC3339.format(epochSeconds: time), event: .rates, state: state,
                      reason: nil, rates: rates)
    }
}

/// A proxy's message counts since it started (zmq_proxy_steerable's STATISTICS; a
/// multipart message counts once).
public struct ProxyCounts: Codable, Sendable, Equatable {
    /// Messages (and bytes) in from the publishers, its own status messages included.
    public var frontendMessages: UInt64
    public var frontendBytes: UInt64
    /// Messages (and bytes) out to the subscribers (once per message, however many receive it).
    public var backendMessages: UInt64
    public var backendBytes: UInt64
    /// Subscribe / unsubscribe messages from the subscribers, passed upstream.
    public var subscriptions: UInt64
    /// Clients refused by CURVE authentication (unknown key or failed handshake).
    public var refused: UInt64

    enum CodingKeys: String, CodingKey {
        case frontendMessages = "frontend_messages", frontendBytes = "frontend_bytes"
        case backendMessages = "backend_messages", backendBytes = "backend_bytes", subscriptions, refused
    }
}

/// `proxy.<node>`: a proxy's counts, every status interval.
public struct ProxyStatusMessage: Stamped, Codable, Sendable, Equatable {
    public var schema = SchemaVersion.proxy
    public var time: String
    /// Seconds since the proxy started.
    public var uptime: Double
    /// Seconds since the previous status message, and the messages per second from the publishers in it.
    public var interval: Double
    public var messagesPerSecond: Double
    public var totals: ProxyCounts
    public var node: String?
    public var session: String?
    public var seq: UInt64?

    enum CodingKeys: String, CodingKey {
        case schema, time, uptime, interval, messagesPerSecond = "messages_per_second", totals, node, session, seq
    }

    public init(time: Double, uptime: Double, interval: Double, messagesPerSecond: Double, totals: ProxyCounts) {
        self.time = RFC3339.format(epochSeconds: time)
        self.uptime = jsonFinite(uptime)
        self.interval = jsonFinite(interval)
        self.messagesPerSecond = jsonFinite(messagesPerSecond)
        self.totals = totals
    }
}

/// The JSON encoding every published message uses.
public enum MessageCoding {
    public static func encode<M: Encodable>(_ message: M) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(message))
    }
}

/// Wall clock as RFC 3339 in UTC with microseconds: 2026-11-27T06:43:24.123456Z.
public enum RFC3339 {
    public static func format(_ date: Date) -> String { format(epochSeconds: date.timeIntervalSince1970) }

    public static func format(epochSeconds: Double) -> String {
        let t = jsonFinite(epochSeconds)
        var whole = Int(t.rounded(.down))
        var micros = Int(((t - Double(whole)) * 1_000_000).rounded())
        if micros >= 1_000_000 { whole += 1; micros -= 1_000_000 }
        var secs = time_t(whole)
        var tm = tm()
        gmtime_r(&secs, &tm)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", Int(tm.tm_year) + 1900, Int(tm.tm_mon) + 1,
                      Int(tm.tm_mday), Int(tm.tm_hour), Int(tm.tm_min), Int(tm.tm_sec), micros)
    }

    public static func now() -> Double { Date().timeIntervalSince1970 }
}

/// JSON has no NaN or infinity: map them to 0 rather than fail a whole message.
@inline(__always) func jsonFinite(_ v: Double) -> Double { v.isFinite ? v : 0 }
