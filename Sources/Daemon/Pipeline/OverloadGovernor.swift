// Applies the overload rules (Overload.swift) to the running streams. The recognizer
// workers tell it when a recognition starts and ends (label ages, seconds per
// recognition); the service ticker calls `tick()` once a second: it samples every
// stream's label age into the metrics, takes at most one shedding step, and reports
// changes (status.<stream>, log, STATUS=) once per change. /healthz and STATUS= read
// `summary`.
import Foundation
import Logging

final class OverloadGovernor: @unchecked Sendable {
    let maxLabelAge: Double
    /// Recognizer workers serving the streams (a round divides among them).
    var workers = 1
    private let logger: Logger
    private let clock: @Sendable () -> Double
    /// Called after a change that STATUS= should show at once.
    var onChange: (@Sendable () -> Void)?

    private struct Member {
        var priority: Int
        var level = ShedLevel.none
        var since: Double
        /// Wall time of the keyframe the newest labels came from.
        var labelled: Double?
        var metrics: StreamMetrics?
        var status: StreamStatus?
        var apply: @Sendable (ShedLevel) -> Void
        var reported: OverloadStatus.State = .ok
    }

    private let lock = NSLock()
    private var members: [String: Member] = [:]
    /// Recognitions running: stream -> start (wall).
    private var running: [String: Double] = [:]
    /// Wall seconds of the last finished recognition, and when it started.
    private var lastRecognition: (seconds: Double, started: Double)?
    private var lastChange = -Double.infinity
    private var lastSummary = ""

    init(maxLabelAge: Double, logger: Logger, clock: @escaping @Sendable () -> Double = { Date().timeIntervalSince1970 }) {
        self.maxLabelAge = maxLabelAge
        self.logger = logger
        self.clock = clock
    }

    func register(_ stream: String, priority: Int, metrics: StreamMetrics?, status: StreamStatus?,
                  apply: @escaping @Sendable (ShedLevel) -> Void) {
        let now = clock()
        lock.withLock { members[stream] = Member(priority: priority, since: now, metrics: metrics, status: status, apply: apply) }
    }

    func unregister(_ stream: String) { lock.withLock { members[stream] = nil; running[stream] = nil } }

    func priority(_ stream: String) -> Int { lock.withLock { members[stream]?.priority ?? 0 } }

    /// Seconds since the keyframe of the stream's newest labels (since it started: never).
    func labelAge(_ stream: String, now: Double? = nil) -> Double {
        let t = now ?? clock()
        return lock.withLock { members[stream].map { t - ($0.labelled ?? $0.since) } ?? 0 }
    }

    func level(_ stream: String) -> ShedLevel { lock.withLock { members[stream]?.level ?? .none } }

    // MARK: recognizer hooks

    func started(_ stream: String) { let now = clock(); lock.withLock { running[stream] = now } }

    /// A recognition of `stream`'s keyframe selected at `submitted` (wall) finished.
    func finished(_ stream: String, submitted: Double) {
        let now = clock()
        lock.withLock {
            if let s = running.removeValue(forKey: stream) { lastRecognition = (now - s, s) }
            if let before = members[stream]?.labelled, before > submitted { return }
            members[stream]?.labelled = submitted
        }
    }

    // MARK: ticker

    /// Seconds one recognition takes now: the last one, or the running one when it has
    /// already taken longer (a recognizer starved of CPU shows before it finishes).
    private func secondsPerRecognition(now: Double) -> Double? {
        let runningFor = running.values.map { now - $0 }.max()
        switch (lastRecognition?.seconds, runningFor) {
        case let (a?, b?): return max(a, b)
        case let (a?, nil): return a
        case let (nil, b?): return b
        default: return nil
        }
    }

    /// Once a second: label ages into the metrics, at most one shedding step, reports.
    func tick() {
        let now = clock()
        var applies: [(@Sendable (ShedLevel) -> Void, ShedLevel)] = []
        var reports: [(StreamStatus, OverloadStatus)] = []
        var lines: [String] = []
        let (summaryNow, key): (String, String) = lock.withLock {
            // One step per tick; shedding again only after a second, giving back only once a
            // recognition that started after the last change has measured the new level.
            if let r = secondsPerRecognition(now: now), !members.isEmpty {
                let perWorker = r / Double(max(1, workers))
                let view = members.map { OverloadPolicy.Stream(id: $0.key, priority: $0.value.priority, level: $0.value.level) }
                let measured = (lastRecognition?.started ?? -.infinity) > lastChange
                switch OverloadPolicy.step(view, secondsPerRecognition: perWorker, maxLabelAge: maxLabelAge) {
                case let .shed(id, to)? where now - lastChange >= 1:
                    members[id]!.level = to
                    applies.append((members[id]!.apply, to))
                    lastChange = now
                    lines.append("overload: stream \(id) sheds \(to.name) (priority \(members[id]!.priority)): a round of \(members.count) recognitions takes ~\(secs(OverloadPolicy.round(streams: members.count, secondsPerRecognition: perWorker))) s, limits.max_label_age is \(fmt(maxLabelAge)) s")
                case let .relieve(id, to)? where measured && now - lastChange >= Self.relieveHold:
                    members[id]!.level = to
                    applies.append((members[id]!.apply, to))
                    lastChange = now
                    lines.append("overload: stream \(id) back to \(to == .none ? "full work" : "shedding " + to.name): a round takes ~\(secs(OverloadPolicy.round(streams: members.count, secondsPerRecognition: perWorker))) s")
                default: break
                }
            }
            for (id, m) in members {
                let age = now - (m.labelled ?? m.since)
                m.metrics?.labelAge.observe(age)
                m.metrics?.labelAgeNow.set(age)
                m.metrics?.shedLevel.set(Double(m.level.rawValue))
                let st = OverloadStatus(state: Self.state(labelAge: age, level: m.level, maxLabelAge: maxLabelAge),
                                        labelAge: age, maxLabelAge: maxLabelAge, shed: m.level.name)
                if let s = m.status { reports.append((s, st)) }
                if st.state != m.reported {
                    members[id]!.reported = st.state
                    if st.state == .stale { lines.append("overload: stream \(id) label is \(secs(age)) s old, over limits.max_label_age \(fmt(maxLabelAge)) s") }
                    else if m.reported == .stale { lines.append("overload: stream \(id) relabelled (label age back under \(fmt(maxLabelAge)) s)") }
                }
            }
            return summaryLocked(now: now)
        }
        for (apply, level) in applies { apply(level) }
        for (s, st) in reports { s.setOverload(st) }
        for l in lines { logger.warning("\(l)") }
        // The key leaves the ages out: said once per change of who sheds what or is stale.
        let changed = lock.withLock { () -> Bool in
            defer { lastSummary = key }
            return key != lastSummary
        }
        if changed {
            if summaryNow.isEmpty { logger.notice("overload over: every stream decoded in full and labelled within \(fmt(maxLabelAge)) s") }
            else { logger.notice("\(summaryNow)") }
            onChange?()
        }
    }

    /// Seconds between giving back steps (shedding may follow every second): no flapping.
    static let relieveHold = 10.0

    static func state(labelAge: Double, level: ShedLevel, maxLabelAge: Double) -> OverloadStatus.State {
        labelAge > maxLabelAge ? .stale : level > .none ? .shedding : .ok
    }

    /// "overloaded: 3 streams shedding (cam1 keyframes_only, ...), 1 stale (cam2 130 s)";
    /// empty when nothing is shed and every label is fresh enough.
    var summary: String { lock.withLock { summaryLocked(now: clock()).text } }

    /// The summary, and the same without ages (what counts as a change).
    private func summaryLocked(now: Double) -> (text: String, key: String) {
        let sorted = members.sorted { $0.key < $1.key }
        let shedding = sorted.filter { $0.value.level > .none }.map { "\($0.key) \($0.value.level.name)" }
        let stale = sorted.filter { now - ($0.value.labelled ?? $0.value.since) > maxLabelAge }
            .map { "\($0.key) \(secs(now - ($0.value.labelled ?? $0.value.since))) s" }
        guard !shedding.isEmpty || !stale.isEmpty else { return ("", "") }
        var parts: [String] = []
        if !shedding.isEmpty { parts.append("\(shedding.count) streams shedding (\(shedding.joined(separator: ", ")))") }
        if !stale.isEmpty { parts.append("\(stale.count) labels older than \(fmt(maxLabelAge)) s (\(stale.joined(separator: ", ")))") }
        let staleNames = sorted.filter { now - ($0.value.labelled ?? $0.value.since) > maxLabelAge }.map(\.key)
        return ("overloaded: " + parts.joined(separator: "; "), shedding.joined(separator: ",") + "|" + staleNames.joined(separator: ","))
    }

    private func fmt(_ v: Double) -> String { v == v.rounded() ? String(Int(v)) : String(v) }
    /// Seconds as said in logs: whole above 10, one decimal below.
    private func secs(_ v: Double) -> String { v >= 10 ? String(Int(v)) : String(format: "%.1f", v) }
}
