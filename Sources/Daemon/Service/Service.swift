// The service shell every pipeline runs inside: publisher, metrics, systemd notify and
// watchdog, signals, reload and drain. The `run` command composes it like this:
//
//     let service = try Service(config: config)      // nothing bound yet
//     try service.start()                            // bind publisher + metrics, signals, ticker
//     ... load models, embed vocabulary, start pipelines; each registers
//         service.progress.register("stream cam1") and beats from its loop,
//         service.onDrain("streams") { deadline in ... } stops them,
//         service.onReload { newConfig, plan in ... } applies a SIGHUP reload ...
//     service.ready(status: "2 streams")             // READY=1
//     await service.runUntilStopped()                // SIGTERM -> STOPPING=1, drain, return
//     // exit 0
import Foundation
import Recognizer
import Logging

#if canImport(Glibc)
import Glibc
#endif

public final class Service: @unchecked Sendable {
    public let logger: Logger
    public let metrics = MetricsRegistry()
    public let progress: ProgressBoard
    public let notifier: SystemdNotifier?
    /// systemd's watchdog timeout (WATCHDOG_USEC) in seconds; pings go at half of it.
    public let watchdogTimeout: Double?
    public private(set) var publisher: Publisher?
    public private(set) var metricsServer: MetricsHTTPServer?
    /// The live pages (on the metrics listener; nil without metrics.listen or with max_watchers 0).
    public private(set) var live: LiveBoard?
    /// Whether the recognizer is busy (its worker writes, the live pages read).
    public let recognizerActivity = RecognizerActivity()
    /// Boxes from an upstream detector, per stream (nil unless external_boxes.endpoint is set).
    public private(set) var externalBoxes: ExternalBoxInbox?
    public private(set) var externalReceiver: ExternalBoxReceiver?

    private struct Job { var name: String; var interval: Double; var next: Double; var run: @Sendable () -> Void }

    private let lock = NSLock()
    private var current: DaemonConfig
    private var jobs: [Job] = []
    private var drains: [(String, @Sendable (_ deadline: Double) -> Void)] = []
    private var reloadHandler: (@Sendable (DaemonConfig, ReloadPlan) throws -> Void)?
    private var statusProvider: (@Sendable () -> String)?
    private var overloadProvider: (@Sendable () -> String)?
    private var stopReason: String?
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []
    private var tickerStop = false
    private var wedgedReported: Set<String> = []
    private let stopSemaphore = DispatchSemaphore(value: 0)
    private let tickerDone = DispatchSemaphore(value: 0)
    private let tickerWake = DispatchSemaphore(value: 0)  // ends the ticker's sleep at shutdown
    private let signals = SignalHandlers()
    private var started = false
    private var statuses: [String: StreamStatus] = [:]
    private var statusOrder: [String] = []

    public init(config: DaemonConfig, logger: Logger = Logger(label: "regionspotd"),
                environment: [String: String] = ProcessInfo.processInfo.environment) {
        current = config
        self.logger = logger
        progress = ProgressBoard(defaultStallAfter: config.service.stallTimeout)
        notifier = SystemdNotifier.fromEnvironment(environment)
        watchdogTimeout = SystemdNotifier.watchdogTimeout(environment)
    }

    /// The configuration in force (replaced by a successful reload).
    public var config: DaemonConfig { lock.withLock { current } }

    /// Binds the publisher and the metrics endpoint, installs signal handlers and starts the
    /// ticker thread (watchdog, textfile, STATUS, periodic jobs). Throws naming the
    /// endpoint that could not be bound.
    public func start(installSignals: Bool = true) throws {
        let c = config
        for w in SecurityAdvice.warnings(c) { logger.warning("\(w)") }
        let pub = try Publisher(options: .init(c), metrics: PublisherMetrics(registry: metrics))
        publisher = pub
        let connects = c.publisher.connect.map { "connecting to \($0.endpoint)" }
        logger.info("publishing on \((pub.boundEndpoints + connects).joined(separator: ", ")) as node \(c.nodeName), session \(Origin.session)\(c.curve == nil ? "" : " with CURVE")")
        registerProcessMetrics()
        if let listen = c.metrics.listen {
            let board = c.metrics.maxWatchers > 0
                ? LiveBoard(config: c.metrics, registry: metrics, recognizer: recognizerActivity,
                            statuses: { [weak self] in self?.streamStatuses() ?? [] }) : nil
            do {
                metricsServer = try MetricsHTTPServer(listen: listen, render: { [metrics] in metrics.render() },
                                                      healthy: { [weak self, progress] in
                                                          let w = progress.wedged()
                                                          if !w.isEmpty { return (false, "wedged: " + w.map(\.name).joined(separator: ", ")) }
                                                          guard let self, let o = overloadSummary?(), !o.isEmpty else { return (true, "ok") }
                                                          let unavailable = config.service.healthzOverloaded == 503
                                                          return (!unavailable, (unavailable ? "" : "warning: ") + o)
                                                      }, live: board, token: c.metrics.token)
                live = board
                logger.info("metrics on http://\(listen)/metrics\(board == nil ? "" : ", live pages on http://\(listen)/")\(c.metrics.token == nil ? "" : " (bearer token required)")")
                if board != nil, c.metrics.token == nil, !isLoopbackListen(listen) {
                    logger.warning("metrics.listen \(listen) is not loopback and metrics.token is not set: the live pages answer loopback peers only")
                }
            } catch {
                pub.close(timeout: 1)
                throw error
            }
        }
        if let ep = c.externalBoxesEndpoint {
            let inbox = ExternalBoxInbox(capacityPerStream: c.limits.externalQueue)
            do {
                externalReceiver = try ExternalBoxReceiver(
                    endpoint: ep, curve: c.curve, inbox: inbox, knownStreams: { [weak self] in Set(self?.config.streams.map(\.id) ?? []) },
                    metrics: metrics, logger: logger, progress: progress.register("external boxes"))
                externalBoxes = inbox
                logger.info("external boxes on \(ep)")
            } catch {
                metricsServer?.stop()
                pub.close(timeout: 1)
                throw error
            }
        }
        if installSignals {
            signal(SIGPIPE, SIG_IGN)  // a closed stderr/journal stream must not kill the daemon
            signals.on([SIGTERM, SIGINT]) { [self] sig in requestStop(reason: sig == SIGTERM ? "SIGTERM" : "SIGINT") }
            signals.on([SIGHUP]) { [self] _ in reload() }
        }
        if let wd = watchdogTimeout { logger.info("systemd watchdog: \(wd) s, pinging every \(wd / 2) s while every component progresses") }
        lock.withLock { started = true }
        let t = Thread { [self] in
            nameCurrentThread("service-ticker")
            tickerLoop()
        }
        t.start()
    }

    /// Per-stream metrics (the same instance for the same stream).
    public func streamMetrics(_ stream: String) -> StreamMetrics { StreamMetrics(registry: metrics, stream: stream) }

    /// The stream's status publisher (the same instance for the same stream). The service
    /// publishes its rates every `metrics.interval` and puts its summary in STATUS=.
    public func streamStatus(_ stream: String) -> StreamStatus {
        lock.withLock {
            if let s = statuses[stream] { return s }
            let s = StreamStatus(stream: stream, metrics: streamMetrics(stream), registry: metrics, publisher: publisher)
            statuses[stream] = s
            statusOrder.append(stream)
            return s
        }
    }

    /// Every stream's status, in the order the streams started.
    func streamStatuses() -> [StreamStatus] { lock.withLock { statusOrder.compactMap { statuses[$0] } } }

    /// Forgets a removed stream's status (after its pipeline stopped).
    public func removeStreamStatus(_ stream: String) {
        lock.withLock {
            statuses[stream] = nil
            statusOrder.removeAll { $0 == stream }
        }
    }

    /// What overload there is ("" for none): /healthz's warning and the head of STATUS=.
    public var overloadSummary: (@Sendable () -> String)? {
        get { lock.withLock { overloadProvider } }
        set { lock.withLock { overloadProvider = newValue } }
    }

    /// The default STATUS= line: "2/3 streams up: cam1 25.0 fps, cam2 reconnecting; last recognition 0.42 s",
    /// led by "OVERLOADED (...)" while streams shed work or labels are too old.
    public func defaultStatusLine() -> String {
        let all = lock.withLock { statusOrder.compactMap { statuses[$0] } }
        guard !all.isEmpty else { return "no streams" }
        let up = all.filter { $0.current.state == .streaming }.count
        let latency = all.compactMap(\.lastLatency).max().map { String(format: "; last recognition %.2f s", $0) } ?? ""
        let overload = overloadSummary?() ?? ""
        return (overload.isEmpty ? "" : "OVERLOADED (\(overload)); ") + "\(up)/\(all.count) streams up: " + all.map(\.summary).joined(separator: ", ") + latency
    }

    /// READY=1 (send once models are loaded, the vocabulary embedded and sockets bound).
    public func ready(status: String? = nil) {
        logger.notice("ready\(status.map { ": \($0)" } ?? "")")
        notifier?.ready(status: status)
    }

    public func setStatus(_ text: String) { notifier?.status(text) }

    /// A one-line summary sent as STATUS= every metrics interval (streams up, fps, latency).
    public func statusLine(_ provider: @escaping @Sendable () -> String) { lock.withLock { statusProvider = provider } }

    /// Runs `job` on the ticker thread every `interval` seconds (e.g. publish rates).
    public func every(_ interval: Double, name: String, _ job: @escaping @Sendable () -> Void) {
        lock.withLock { jobs.append(Job(name: name, interval: interval, next: now() + interval, run: job)) }
    }

    /// A drain step, run in registration order on stop with the drain deadline
    /// (monotonic seconds, compare with `Service.now()`); the publisher closes after them.
    public func onDrain(_ name: String, _ step: @escaping @Sendable (_ deadline: Double) -> Void) {
        lock.withLock { drains.append((name, step)) }
    }

    /// Applies a validated new configuration on SIGHUP. Throwing rejects it (the old one stays).
    public func onReload(_ handler: @escaping @Sendable (DaemonConfig, ReloadPlan) throws -> Void) {
        lock.withLock { reloadHandler = handler }
    }

    /// Asks the service to stop (what SIGTERM does). A second request from a signal while
    /// draining exits at once.
    public func requestStop(reason: String) {
        let (first, waiters) = lock.withLock { () -> (Bool, [CheckedContinuation<Void, Never>]) in
            if stopReason != nil { return (false, []) }
            stopReason = reason
            defer { stopWaiters.removeAll() }
            return (true, stopWaiters)
        }
        guard first else {
            if reason.hasPrefix("SIG") {
                logger.warning("\(reason) again while draining: exiting now")
                exit(1)
            }
            return
        }
        logger.notice("\(reason): stopping")
        stopSemaphore.signal()
        for w in waiters { w.resume() }
    }

    public var isStopping: Bool { lock.withLock { stopReason != nil } }

    /// Waits for a stop request without blocking the cooperative pool.
    public func waitForStopRequest() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let already = lock.withLock { () -> Bool in
                if stopReason != nil { return true }
                stopWaiters.append(c)
                return false
            }
            if already { c.resume() }
        }
    }

    /// Waits for SIGTERM/SIGINT (or `requestStop`), then drains. Returns whether the drain
    /// finished within the configured bound.
    @discardableResult
    public func runUntilStopped() async -> Bool {
        await waitForStopRequest()
        return await Task.detached { self.shutdown() }.value
    }

    /// STOPPING=1, the drain steps, publisher close, all within `service.drain_timeout`.
    /// Blocking; call it from a thread you own (or through `runUntilStopped`).
    @discardableResult
    public func shutdown() -> Bool {
        let bound = config.service.drainTimeout
        let deadline = now() + bound
        notifier?.stopping(status: "draining (at most \(bound) s)")
        let steps = lock.withLock { drains }
        let done = DispatchSemaphore(value: 0)
        let stepName = LockedBox("")
        let t = Thread { [self] in
            nameCurrentThread("service-drain")
            for (name, step) in steps {
                stepName.value = name
                step(deadline)
            }
            stepName.value = "publisher"
            publisher?.close(timeout: max(0.1, deadline - now()))
            done.signal()
        }
        t.start()
        let inTime = done.wait(timeout: .now() + max(0, deadline - now())) == .success
        if inTime {
            logger.notice("drained in time; \(publisher.map { "published \($0.stats.published), dropped \($0.stats.dropped)" } ?? "")")
        } else {
            logger.warning("drain exceeded \(bound) s (stuck in '\(stepName.value)'); exiting anyway")
        }
        externalReceiver?.close()
        metricsServer?.stop()
        lock.withLock { tickerStop = true }
        tickerWake.signal()
        _ = tickerDone.wait(timeout: .now() + 1)
        writeTextfile()  // after the ticker stopped: the final numbers are the last written
        signals.cancel()
        return inTime
    }

    // MARK: Reload

    /// Re-reads the configuration file (SIGHUP). An invalid file is rejected with every
    /// problem logged; the running configuration stays.
    public func reload() {
        let old = config
        logger.notice("reloading \(old.file)")
        let new: DaemonConfig
        do {
            new = try ConfigLoader.load(file: old.file)
        } catch {
            for p in error.problems { logger.error("reload rejected: \(p.description)") }
            metrics.counter("regionspotd_reloads_total", help: "Configuration reloads.", labels: [("result", "rejected")]).inc()
            notifier?.status("reload rejected (\(error.problems.count) problems); running the previous configuration")
            return
        }
        let plan = ReloadPlan(from: old, to: new)
        if !plan.needsRestart.isEmpty {
            logger.warning("changed keys that need a restart (kept as they were): \(plan.needsRestart.joined(separator: ", "))")
        }
        notifier?.reloading()
        do {
            try lock.withLock { reloadHandler }?(new, plan)
            lock.withLock { current = new }
            metrics.counter("regionspotd_reloads_total", help: "Configuration reloads.", labels: [("result", "applied")]).inc()
            logger.notice("reloaded: +\(plan.added.count) -\(plan.removed.count) ~\(plan.changed.count) streams, vocabulary \(plan.vocabularyChanged ? "changed" : "unchanged")")
        } catch {
            metrics.counter("regionspotd_reloads_total", help: "Configuration reloads.", labels: [("result", "failed")]).inc()
            logger.error("reload failed, previous configuration kept: \(error)")
        }
        notifier?.ready(status: lock.withLock { statusProvider }?() ?? "running")
    }

    // MARK: Ticker: watchdog, textfile, STATUS, jobs

    private func tickerLoop() {
        defer { tickerDone.signal() }
        let interval = config.metrics.interval
        let tick = min(0.5, (watchdogTimeout ?? 2) / 4)
        var nextPing = now()
        var nextReport = now() + interval
        while !lock.withLock({ tickerStop }) {
            let t = now()
            let wedged = progress.wedged()
            reportWedged(wedged)
            if let wd = watchdogTimeout, wedged.isEmpty, t >= nextPing {
                notifier?.watchdog()
                nextPing = t + wd / 2
            }
            if t >= nextReport {
                nextReport = t + interval
                let streams = lock.withLock { statusOrder.compactMap { statuses[$0] } }
                for s in streams { s.publishRates() }
                writeTextfile()
                let provider = lock.withLock { statusProvider }
                if let line = provider?() ?? (streams.isEmpty ? nil : defaultStatusLine()) { notifier?.status(line) }
            }
            let due = lock.withLock { () -> [Job] in
                var d: [Job] = []
                for i in jobs.indices where jobs[i].next <= t {
                    d.append(jobs[i])
                    jobs[i].next = t + jobs[i].interval
                }
                return d
            }
            for j in due { j.run() }
            _ = tickerWake.wait(timeout: .now() + tick)
        }
    }

    private func reportWedged(_ wedged: [(name: String, silentFor: Double)]) {
        let names = Set(wedged.map(\.name))
        let (fresh, recovered) = lock.withLock { () -> ([(name: String, silentFor: Double)], Set<String>) in
            let f = wedged.filter { !wedgedReported.contains($0.name) }
            let r = wedgedReported.subtracting(names)
            wedgedReported = names
            return (f, r)
        }
        for w in fresh {
            logger.error("\(w.name) made no progress for \(Int(w.silentFor)) s: withholding the systemd watchdog")
            notifier?.status("wedged: \(w.name)")
        }
        for r in recovered { logger.notice("\(r) is progressing again") }
    }

    private let textfileLock = NSLock()

    private func writeTextfile() {
        guard let path = config.metrics.textfile else { return }
        textfileLock.withLock {
            do { try TextfileExporter.write(metrics.render(), to: path) } catch { logger.error("\(error)") }
        }
    }

    private func registerProcessMetrics() {
        let start = Date().timeIntervalSince1970
        metrics.gauge("regionspotd_start_time_seconds", help: "Start time, seconds since the epoch.").set(start)
        let rss = metrics.gauge("regionspotd_resident_memory_bytes", help: "Resident memory of the daemon.")
        let wedged = metrics.gauge("regionspotd_wedged_components", help: "Pipeline components past their stall timeout.")
        let queued = metrics.gauge("regionspotd_publisher_queue_length", help: "Messages waiting for the publisher thread.")
        metrics.onCollect { [weak self] in
            rss.set(Double(residentMemoryBytes() ?? 0))
            guard let self else { return }
            wedged.set(Double(progress.wedged().count))
            queued.set(Double(publisher?.stats.queued ?? 0))
        }
    }

    /// Monotonic seconds (the clock drain deadlines use).
    public static func now() -> Double { Double(monotonicNanos()) / 1e9 }
    func now() -> Double { Self.now() }

    /// Maps the config's log level to swift-log's.
    public static func loggerLevel(_ l: LogLevel) -> Logger.Level {
        switch l {
        case .trace: return .trace
        case .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }
}
