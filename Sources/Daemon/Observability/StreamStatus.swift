// Per-stream state and rates for the `status.<stream>` topic, the metrics and systemd's
// STATUS= line. A pipeline calls `set(.reconnecting, reason:)` on every state change
// (published once per change) and `recognized(latency:)` per keyframe; the service
// publishes the rates every metrics interval.
import Foundation
import Synchronization

public final class StreamStatus: Sendable {
    public let stream: String
    public let metrics: StreamMetrics
    private let publisher: Publisher?
    private let publishedRegions: CounterMetric

    private struct Snapshot { var at: Double; var decoded: UInt64; var published: UInt64; var recognitions: UInt64; var skipped: UInt64; var dropped: UInt64; var runs: UInt64 = 0; var rests: UInt64 = 0 }
    private struct State {
        var state: StreamState = .connecting
        var reason: String?
        var last: Snapshot
        var lastLatency: Double?
        var lastRecognition: Double?
        var lastRates: StreamRates?
        var overload: OverloadStatus?
    }
    private let state: Mutex<State>

    public init(stream: String, metrics: StreamMetrics, registry: MetricsRegistry, publisher: Publisher?) {
        self.stream = stream
        self.metrics = metrics
        self.publisher = publisher
        publishedRegions = PublisherMetrics(registry: registry).published(topic: Topic.regions(stream))
        state = Mutex(State(last: Snapshot(at: Service.now(), decoded: 0, published: 0, recognitions: 0, skipped: 0, dropped: 0)))
    }

    public var current: (state: StreamState, reason: String?) { state.withLock { ($0.state, $0.reason) } }

    /// Records a state change and publishes it (nothing when state and reason are unchanged).
    /// `reason` is redacted before it leaves the process.
    public func set(_ new: StreamState, reason: String? = nil, time: Double = RFC3339.now()) {
        let changed = state.withLock { s -> Bool in
            guard s.state != new || s.reason != reason else { return false }
            s.state = new
            s.reason = reason
            return true
        }
        if changed { try? publisher?.publish(StatusMessage.state(new, stream: stream, reason: reason, time: time)) }
    }

    /// The overload governor's view (every second); published when its state or what is
    /// shed changed, and with the rates.
    public func setOverload(_ o: OverloadStatus, time: Double = RFC3339.now()) {
        let (changed, st) = state.withLock { s -> (Bool, StreamState) in
            defer { s.overload = o }
            return (s.overload?.state != o.state || s.overload?.shed != o.shed, s.state)
        }
        if changed { try? publisher?.publish(StatusMessage.overload(o, stream: stream, state: st, time: time)) }
    }

    public var overload: OverloadStatus? { state.withLock { $0.overload } }

    /// One keyframe recognized, `latency` seconds from selection to labels.
    public func recognized(latency: Double) {
        metrics.recognitions.inc()
        metrics.recognitionLatency.observe(latency)
        let now = RFC3339.now()
        state.withLock { $0.lastLatency = latency; $0.lastRecognition = now }
    }

    /// Rates since the previous call; publishes them as a `rates` status message.
    @discardableResult
    public func publishRates(time: Double = RFC3339.now()) -> StreamRates {
        let now = Service.now()
        let snap = Snapshot(at: now, decoded: metrics.framesDecoded.value, published: publishedRegions.value,
                            recognitions: metrics.recognitions.value, skipped: metrics.recognitionsSkipped.value,
                            dropped: metrics.framesDropped.value, runs: metrics.encoderRuns, rests: metrics.keyframesRested.value)
        let (rates, st, overload) = state.withLock { s -> (StreamRates, StreamState, OverloadStatus?) in
            let dt = max(1e-3, now - s.last.at)
            let r = StreamRates(interval: dt, decodedFPS: Double(snap.decoded &- s.last.decoded) / dt,
                                publishedFPS: Double(snap.published &- s.last.published) / dt,
                                recognitionsPerSecond: Double(snap.recognitions &- s.last.recognitions) / dt,
                                recognitionsSkipped: Int(snap.skipped &- s.last.skipped),
                                framesDropped: Int(snap.dropped &- s.last.dropped),
                                encoderRuns: Int(snap.runs &- s.last.runs), encoderRests: Int(snap.rests &- s.last.rests),
                                liveTracks: Int(metrics.liveTracks.value), recognitionLatency: s.lastLatency)
            s.last = snap
            s.lastRates = r
            return (r, s.state, s.overload)
        }
        try? publisher?.publish(StatusMessage.rates(rates, stream: stream, state: st, time: time, overload: overload))
        return rates
    }

    /// "cam1 streaming 25.0 fps" / "cam2 reconnecting" for the STATUS= line.
    public var summary: String {
        state.withLock { s in
            let o = s.overload.map { $0.state == .ok ? "" : " (\($0.state.rawValue): shed \($0.shed), label \(Int($0.labelAge)) s)" } ?? ""
            if s.state == .streaming, let r = s.lastRates { return "\(stream) \(String(format: "%.1f", r.decodedFPS)) fps" + o }
            return "\(stream) \(s.state.rawValue)"
        }
    }

    var lastLatency: Double? { state.withLock { $0.lastLatency } }
    /// Wall clock (epoch seconds) of the last recognition folded in, nil before the first.
    var lastRecognitionTime: Double? { state.withLock { $0.lastRecognition } }
    /// The rates of the last metrics interval, nil before the first.
    var lastRates: StreamRates? { state.withLock { $0.lastRates } }
}

/// Enforces `publish_rate` on regions messages in stream time (so replay is deterministic):
/// frames where the recognizer ran always pass; others pass at most `maxPerSecond` times
/// per second of stream time. 0 = every frame.
public struct RegionsThrottle: Sendable {
    public let maxPerSecond: Double
    private var last: Double?

    public init(maxPerSecond: Double) { self.maxPerSecond = maxPerSecond }

    public mutating func shouldPublish(streamTime: Double, inferred: Bool) -> Bool {
        guard maxPerSecond > 0, !inferred else { last = streamTime; return true }
        if let l = last, streamTime >= l, streamTime - l < 1 / maxPerSecond - 1e-9 { return false }
        last = streamTime
        return true
    }
}
