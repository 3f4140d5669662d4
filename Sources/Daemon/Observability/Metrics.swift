// A small in-process metrics registry rendering the Prometheus text exposition format
// (version 0.0.4). Written here instead of swift-metrics + swift-prometheus: those add
// swift-atomics and a process-global bootstrap (one per process, awkward for parallel
// tests) for what is ~200 lines: counters, gauges and fixed-bucket histograms with labels.
// swift-metrics could replace it later behind the same `StreamMetrics` seam.
import Foundation
import Synchronization

public typealias MetricLabels = [(String, String)]

public final class CounterMetric: Sendable {
    private let raw = Atomic<UInt64>(0)
    public func inc(_ by: UInt64 = 1) { raw.add(by, ordering: .relaxed) }
    public var value: UInt64 { raw.load(ordering: .relaxed) }
}

public final class GaugeMetric: Sendable {
    private let bits = Atomic<UInt64>(0)
    public func set(_ v: Double) { bits.store(v.bitPattern, ordering: .relaxed) }
    public var value: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
}

public final class HistogramMetric: Sendable {
    /// Upper bounds, ascending; +Inf is implicit.
    public let bounds: [Double]
    private struct State { var counts: [UInt64]; var sum = 0.0; var count: UInt64 = 0 }
    private let state: Mutex<State>

    init(bounds: [Double]) {
        self.bounds = bounds
        state = Mutex(State(counts: Array(repeating: 0, count: bounds.count)))
    }

    public func observe(_ v: Double) {
        guard v.isFinite else { return }
        state.withLock { s in
            if let i = bounds.firstIndex(where: { v <= $0 }) { s.counts[i] += 1 }
            s.sum += v
            s.count += 1
        }
    }

    /// (cumulative counts per bound, sum, count)
    public var snapshot: (buckets: [UInt64], sum: Double, count: UInt64) {
        state.withLock { s in
            var acc: UInt64 = 0
            return (s.counts.map { acc += $0; return acc }, s.sum, s.count)
        }
    }
}

public final class MetricsRegistry: Sendable {
    enum Kind: String { case counter, gauge, histogram }
    enum Instance {
        case counter(CounterMetric), gauge(GaugeMetric), histogram(HistogramMetric)
    }
    struct Series { var labels: MetricLabels; var instance: Instance }
    struct Family { var name: String; var help: String; var kind: Kind; var series: [Series] }
    private struct State {
        var families: [Family] = []
        var index: [String: Int] = [:]
        var collectors: [@Sendable () -> Void] = []
    }
    private let state = Mutex(State())

    public init() {}

    /// The counter `name{labels}`; the same instance for the same name and labels.
    public func counter(_ name: String, help: String, labels: MetricLabels = []) -> CounterMetric {
        let i = series(name, help, .counter, labels) { .counter(CounterMetric()) }
        guard case .counter(let c) = i else { fatalError("metric \(name) is not a counter") }
        return c
    }

    public func gauge(_ name: String, help: String, labels: MetricLabels = []) -> GaugeMetric {
        let i = series(name, help, .gauge, labels) { .gauge(GaugeMetric()) }
        guard case .gauge(let g) = i else { fatalError("metric \(name) is not a gauge") }
        return g
    }

    public func histogram(_ name: String, help: String, labels: MetricLabels = [], buckets: [Double]) -> HistogramMetric {
        let i = series(name, help, .histogram, labels) { .histogram(HistogramMetric(bounds: buckets.sorted())) }
        guard case .histogram(let h) = i else { fatalError("metric \(name) is not a histogram") }
        return h
    }

    /// Runs `update` before every render (for values read on demand, e.g. memory).
    public func onCollect(_ update: @escaping @Sendable () -> Void) {
        state.withLock { $0.collectors.append(update) }
    }

    private func series(_ name: String, _ help: String, _ kind: Kind, _ labels: MetricLabels,
                        make: () -> Instance) -> Instance {
        state.withLock { s in
            let fi: Int
            if let i = s.index[name] {
                precondition(s.families[i].kind == kind, "metric \(name) registered as \(s.families[i].kind)")
                fi = i
            } else {
                s.families.append(Family(name: name, help: help, kind: kind, series: []))
                fi = s.families.count - 1
                s.index[name] = fi
            }
            if let existing = s.families[fi].series.first(where: { $0.labels.elementsEqual(labels, by: ==) }) {
                return existing.instance
            }
            let inst = make()
            s.families[fi].series.append(Series(labels: labels, instance: inst))
            return inst
        }
    }

    /// The Prometheus text exposition of every metric.
    public func render() -> String {
        let collectors = state.withLock { $0.collectors }
        for c in collectors { c() }
        let families = state.withLock { $0.families }
        var out = ""
        for f in families {
            out += "# HELP \(f.name) \(f.help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
            out += "# TYPE \(f.name) \(f.kind.rawValue)\n"
            for s in f.series {
                switch s.instance {
                case .counter(let c): out += "\(f.name)\(Self.labels(s.labels)) \(c.value)\n"
                case .gauge(let g): out += "\(f.name)\(Self.labels(s.labels)) \(Self.number(g.value))\n"
                case .histogram(let h):
                    let snap = h.snapshot
                    for (b, n) in zip(h.bounds, snap.buckets) {
                        out += "\(f.name)_bucket\(Self.labels(s.labels + [("le", Self.number(b))])) \(n)\n"
                    }
                    out += "\(f.name)_bucket\(Self.labels(s.labels + [("le", "+Inf")])) \(snap.count)\n"
                    out += "\(f.name)_sum\(Self.labels(s.labels)) \(Self.number(snap.sum))\n"
                    out += "\(f.name)_count\(Self.labels(s.labels)) \(snap.count)\n"
                }
            }
        }
        return out
    }

    static func labels(_ l: MetricLabels) -> String {
        guard !l.isEmpty else { return "" }
        let body = l.map { k, v in
            let e = v.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
                .replacingOccurrences(of: "\n", with: "\\n")
            return "\(k)=\"\(e)\""
        }
        return "{" + body.joined(separator: ",") + "}"
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}

/// The per-stream metrics, by name (docs/config.md lists them). Pipelines get one per stream.
public final class StreamMetrics: Sendable {
    public let stream: String
    public let framesDecoded: CounterMetric
    public let framesDropped: CounterMetric
    public let recognitions: CounterMetric
    public let recognitionsSkipped: CounterMetric
    /// Seconds from keyframe selection to labels back.
    public let recognitionLatency: HistogramMetric
    public let reconnects: CounterMetric
    public let liveTracks: GaugeMetric
    /// Seconds the stream's tracking runs behind its own timestamps (see RealTimeLag).
    public let lag: GaugeMetric
    public let lagMax: GaugeMetric
    public let framesLate: CounterMetric
    /// Live tracks' boxes recognized as company for a keyframe's boxes (RecognitionEngine.company).
    public let companyBoxes: CounterMetric
    /// Recognized regions that passed acceptance, and those rejected, per reason.
    public let regionsAccepted: CounterMetric
    let regionsRejected: [String: CounterMetric]
    /// Keyframes that could not be recognized at all (conversion to RGB failed).
    public let keyframesFailed: CounterMetric
    /// Tracked regions not published because a box or score was not finite.
    public let regionsDropped: CounterMetric
    /// Keyframes the interval policy let through: encoders run (by first reason) or rested.
    let keyframesRun: [String: CounterMetric]
    public let keyframesRested: CounterMetric
    /// Seconds since the keyframe of the newest labels, sampled every second (overload).
    public let labelAge: HistogramMetric
    public let labelAgeNow: GaugeMetric
    /// ShedLevel's raw value (0 none ... 3 keyframes_only).
    public let shedLevel: GaugeMetric
    /// Frames not tracked (tracking) or not decoded (non_reference, non_key) under overload.
    let framesShed: [String: CounterMetric]
    public static let shedReasons = ["tracking", "non_reference", "non_key"]
    public static let labelAgeBuckets: [Double] = [1, 2, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600]

    public static let latencyBuckets: [Double] = [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]

    public init(registry: MetricsRegistry, stream: String) {
        self.stream = stream
        let l: MetricLabels = [("stream", stream)]
        framesDecoded = registry.counter("regionspotd_frames_decoded_total", help: "Frames decoded.", labels: l)
        framesDropped = registry.counter("regionspotd_frames_dropped_total",
                                         help: "Decoded frames dropped before tracking (queue full).", labels: l)
        recognitions = registry.counter("regionspotd_recognitions_total", help: "Keyframes recognized.", labels: l)
        recognitionsSkipped = registry.counter("regionspotd_recognitions_skipped_total",
                                               help: "Recognitions the policy asked for but the recognizer could not serve in time.", labels: l)
        recognitionLatency = registry.histogram("regionspotd_recognition_latency_seconds",
                                                help: "Recognition latency per keyframe.", labels: l, buckets: Self.latencyBuckets)
        reconnects = registry.counter("regionspotd_reconnects_total", help: "Stream reconnect attempts.", labels: l)
        liveTracks = registry.gauge("regionspotd_live_tracks", help: "Tracks alive now.", labels: l)
        lag = registry.gauge("regionspotd_stream_lag_seconds",
                             help: "How far tracking runs behind the stream's timestamps (0 = real time).", labels: l)
        lagMax = registry.gauge("regionspotd_stream_lag_max_seconds",
                                help: "The largest lag since start.", labels: l)
        framesLate = registry.counter("regionspotd_frames_late_total",
                                      help: "Frames tracked 0.5 s or more behind real time.", labels: l)
        companyBoxes = registry.counter("regionspotd_company_boxes_total",
                                        help: "Live tracks' boxes recognized beside a keyframe's boxes as their company (RegionSpot's boxes attend to each other); their own results are not used.",
                                        labels: l)
        regionsAccepted = registry.counter("regionspotd_regions_accepted_total",
                                           help: "Recognized boxes accepted as objects (they may start, feed or keep a track).", labels: l)
        var rejected: [String: CounterMetric] = [:]
        for r in RegionAcceptance.Reason.allCases {
            rejected[r.rawValue] = registry.counter("regionspotd_regions_rejected_total",
                                                    help: "Recognized boxes rejected as no object, by reason.", labels: l + [("reason", r.rawValue)])
        }
        regionsRejected = rejected
        keyframesFailed = registry.counter("regionspotd_keyframes_failed_total",
                                           help: "Keyframes that could not be recognized (picture conversion failed).", labels: l)
        regionsDropped = registry.counter("regionspotd_regions_dropped_total",
                                          help: "Tracked regions not published, by reason (a box or score that is not finite).",
                                          labels: l + [("reason", "non_finite")])
        var run: [String: CounterMetric] = [:]
        for t in RecognitionTrigger.allCases {
            run[t.rawValue] = registry.counter("regionspotd_encoder_runs_total",
                                               help: "Keyframes on which the encoders ran, by the first reason that asked.",
                                               labels: l + [("reason", t.rawValue)])
        }
        keyframesRun = run
        keyframesRested = registry.counter("regionspotd_encoder_runs_skipped_total",
                                           help: "Keyframes on which nothing needed the encoders (tracks kept their labels).", labels: l)
        labelAge = registry.histogram("regionspotd_label_age_seconds", help: "Seconds since the keyframe of the stream's newest labels, sampled every second.",
                                      labels: l, buckets: Self.labelAgeBuckets)
        labelAgeNow = registry.gauge("regionspotd_label_age_now_seconds", help: "Seconds since the keyframe of the stream's newest labels.", labels: l)
        shedLevel = registry.gauge("regionspotd_shed_level", help: "Work shed under overload: 0 none, 1 tracking, 2 non_reference, 3 keyframes_only.", labels: l)
        var shed: [String: CounterMetric] = [:]
        for r in Self.shedReasons {
            shed[r] = registry.counter("regionspotd_frames_shed_total", help: "Frames not tracked (tracking) or not decoded (non_reference, non_key) under overload, by reason.",
                                       labels: l + [("reason", r)])
        }
        framesShed = shed
    }

    func shed(_ reason: String, _ n: Int = 1) { if n > 0 { framesShed[reason]?.inc(UInt64(n)) } }

    func keyframeRan(_ why: RecognitionTrigger) { keyframesRun[why.rawValue]?.inc() }
    /// Keyframes on which the encoders ran, every reason.
    var encoderRuns: UInt64 { keyframesRun.values.reduce(0) { $0 + $1.value } }

    func rejected(_ reason: RegionAcceptance.Reason) { regionsRejected[reason.rawValue]?.inc() }
}

/// Publisher counters per stream and message kind (the topic `kind.stream` split).
public final class PublisherMetrics: Sendable {
    let registry: MetricsRegistry
    public init(registry: MetricsRegistry) { self.registry = registry }

    public func published(topic: String) -> CounterMetric {
        let (kind, stream) = Self.split(topic)
        return registry.counter("regionspotd_messages_published_total", help: "Messages handed to ZeroMQ.",
                                labels: [("stream", stream), ("kind", kind)])
    }

    /// reason: queue_full (publisher queue), hwm (EAGAIN at the send high-water mark), error.
    public func dropped(topic: String, reason: String) -> CounterMetric {
        let (kind, stream) = Self.split(topic)
        return registry.counter("regionspotd_messages_dropped_total", help: "Messages dropped before ZeroMQ took them.",
                                labels: [("stream", stream), ("kind", kind), ("reason", reason)])
    }

    static func split(_ topic: String) -> (String, String) {
        guard let dot = topic.firstIndex(of: ".") else { return (topic, "") }
        return (String(topic[..<dot]), String(topic[topic.index(after: dot)...]))
    }
}

/// Resident memory of this process in bytes (from /proc/self/statm), or nil.
public func residentMemoryBytes() -> Int? {
    guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return nil }
    let parts = s.split(separator: " ")
    guard parts.count > 1, let pages = Int(parts[1]) else { return nil }
    return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
