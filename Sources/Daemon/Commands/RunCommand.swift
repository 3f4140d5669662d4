// `regionspotd run --config FILE`: the daemon. Reads the configuration, loads the models
// and the vocabulary, binds the publisher, starts one pipeline per stream and the
// recognizer worker, tells systemd READY=1, then serves until SIGTERM (drain, exit 0).
// SIGHUP re-reads the file: a new vocabulary re-scores every live track without touching
// the streams; added, removed or changed streams start and stop alone.
import ArgumentParser
import Foundation
import Logging
import Decode
import Recognizer

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the daemon (systemd Type=notify).")

    @Option(help: "The YAML configuration file.") var config: String

    func run() async throws {
        // Loading models, opening decoders and starting threads block: on a thread of our
        // own, whose nice value (the process's) the threads it starts inherit.
        let cmd = self
        let service = try await onThread("startup") { try cmd.start() }
        await service.runUntilStopped()
        exitNow(0)
    }

    /// Loads the models, starts the service and the pipelines; returns once READY is sent.
    func start() throws -> Service {
        let cfg = try ConfigLoader.loadOrExit(file: config)
        JournalLogHandler.bootstrap(level: Service.loggerLevel(cfg.logLevel))
        let logger = Logger(label: "regionspotd")
        let service = Service(config: cfg, logger: logger)
        LibraryLog.install(logger: Logger(label: "ffmpeg"), threshold: Service.loggerLevel(cfg.logLevel), registry: service.metrics)
        let engine: RecognitionEngine
        do {
            engine = try RecognitionEngine(modelDirectory: cfg.modelDirectory, kind: cfg.recognizer, vocabulary: cfg.vocabulary,
                                           blasThreads: cfg.limits.recognizerThreads, lanes: cfg.limits.recognizerWorkers, precision: cfg.precision,
                                           acceptance: cfg.acceptance, logger: logger)
        } catch {
            logger.critical("models: \(error)")
            throw ExitCode(ExitStatus.config)
        }
        // Before any decoder opens: OpenBLAS's unnamed threads are told apart from FFmpeg's by that.
        let nice = Int32(cfg.limits.recognizerNice)
        let lowered = Parallel.lowerPriority(nice: nice)
        if nice > 0 { logger.info("recognizer threads at nice \(nice) (\(lowered) OpenBLAS and OpenMP workers); decoding and tracking first") }
        do {
            try service.start()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
        let daemon = Daemon(service: service, engine: engine, logger: logger)
        daemon.start(cfg.streams)
        service.onReload { new, plan in try daemon.reload(new, plan) }
        service.onDrain("streams") { _ in daemon.stop() }
        service.statusLine { service.defaultStatusLine() }
        service.ready(status: "\(cfg.streams.count) streams, \(engine.labels.count) classes, \(engine.model.variant)")
        return service
    }
}

/// The running pipelines and the recognizer worker.
final class Daemon: @unchecked Sendable {
    let service: Service
    let engine: RecognitionEngine
    let worker: RecognizerWorker
    let governor: OverloadGovernor
    let logger: Logger
    private let lock = NSLock()
    private var pipelines: [String: StreamPipeline] = [:]

    init(service: Service, engine: RecognitionEngine, logger: Logger) {
        self.service = service
        self.engine = engine
        self.logger = logger
        governor = OverloadGovernor(maxLabelAge: service.config.limits.maxLabelAge, logger: logger)
        worker = RecognizerWorker(engine: engine, governor: governor, progress: service.progress.register("recognizer", stallAfter: 600),
                                  nice: Int32(service.config.limits.recognizerNice), threads: service.config.limits.recognizerWorkers,
                                  activity: service.recognizerActivity)
        worker.start()
        if worker.count > 1 { logger.info("\(worker.count) recognizer workers, one thread each") }
        governor.onChange = { [service] in service.setStatus(service.defaultStatusLine()) }
        service.overloadSummary = { [governor] in governor.summary }
        service.every(1, name: "overload") { [governor] in governor.tick() }
    }

    func start(_ streams: [StreamConfig]) {
        for s in streams { startStream(s) }
    }

    private func startStream(_ s: StreamConfig) {
        guard let publisher = service.publisher else { return }
        var o = StreamPipeline.Options()
        o.maxBoxes = service.config.limits.maxBoxesPerKeyframe
        o.sourceOptions.stallTimeout = min(10, service.config.service.stallTimeout)
        o.sourceOptions.decoderThreads = service.config.limits.decoderThreads(
            streams: service.config.streams.count, cores: ProcessInfo.processInfo.activeProcessorCount)
        // A file in the daemon stands in for a camera: paced in real time by its PTS
        // (`regionspotd replay` is the fast path for recorded footage).
        if !isLiveURL(s.url) { o.sourceOptions.pacing = .realTime }
        // The live pages keep a reference to each frame (no copy, no drawing here).
        if let view = service.live?.view(stream: s.id, url: s.url) {
            o.onFrame = { frame, message, recognized in view.offer(frame, message, recognized) }
        }
        let p = StreamPipeline(config: s, engine: engine, worker: worker, sink: PublisherSink(publisher: publisher),
                               metrics: service.streamMetrics(s.id), status: service.streamStatus(s.id),
                               external: service.externalBoxes, progress: service.progress.register("stream \(s.id)"),
                               logger: logger, options: o)
        lock.withLock { pipelines[s.id] = p }
        governor.register(s.id, priority: s.priority, metrics: service.streamMetrics(s.id), status: service.streamStatus(s.id),
                          apply: { [weak p] level in p?.setShed(level) })
        p.start()
    }

    private func stopStream(_ id: String) {
        let p = lock.withLock { pipelines.removeValue(forKey: id) }
        governor.unregister(id)
        p?.stop()
        p?.progress?.finish()
        service.live?.removeView(stream: id)
        service.removeStreamStatus(id)
    }

    /// Applies a validated new configuration; throwing keeps the old one.
    func reload(_ new: DaemonConfig, _ plan: ReloadPlan) throws {
        if !plan.needsRestart.isEmpty {
            logger.warning("reload: \(plan.needsRestart.joined(separator: ", ")) changed; these take effect after a restart")
        }
        if plan.vocabularyChanged {
            let v = try engine.setVocabulary(new.vocabulary)
            for p in lock.withLock({ Array(pipelines.values) }) { p.setVocabulary(v) }
            logger.notice("reload: vocabulary now \(v.names.count) classes; live tracks re-scored")
        }
        for id in plan.removed + plan.changed.map(\.id) { stopStream(id) }
        for s in plan.added + plan.changed { startStream(s) }
    }

    func stop() {
        worker.stop()
        for id in lock.withLock({ Array(pipelines.keys) }) { stopStream(id) }
    }
}
