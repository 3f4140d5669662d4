// `regionspotd idle --config FILE` (hidden): the service shell without pipelines —
// publisher bound, metrics up, READY/STATUS/WATCHDOG/STOPPING, SIGHUP reload, SIGTERM
// drain — publishing `status` messages (state, then rates every metrics.interval) per
// configured stream. For smoke tests of a
// deployment (unit file, sockets, firewall) and for the daemon's own tests.
import ArgumentParser
import Foundation
import Logging

struct IdleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idle",
        abstract: "Run the service shell (publisher, metrics, systemd notify, signals) without pipelines.",
        shouldDisplay: false)

    @Option(help: "The YAML configuration file.") var config: String
    @Option(help: "Stop the heartbeat after this many seconds (to see the watchdog withheld).") var wedgeAfter: Double?

    func run() async throws {
        let cfg = try ConfigLoader.loadOrExit(file: config, checkFiles: false)
        JournalLogHandler.bootstrap(level: Service.loggerLevel(cfg.logLevel))
        let logger = Logger(label: "regionspotd")
        let service = Service(config: cfg, logger: logger)
        do {
            try service.start()
        } catch {
            logger.critical("\(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
        let heartbeat = service.progress.register("idle heartbeat")
        let started = Service.now()
        let wedgeAfter = self.wedgeAfter
        service.every(0.2, name: "heartbeat") {
            if wedgeAfter.map({ Service.now() - started < $0 }) ?? true { heartbeat.beat() }
        }
        let reason = "idle: no pipeline composed"
        for stream in cfg.streams { service.streamStatus(stream.id).set(.connecting, reason: reason) }
        service.onReload { new, plan in
            for stream in plan.added { service.streamStatus(stream.id).set(.connecting, reason: reason) }
            for id in plan.removed { service.removeStreamStatus(id) }
            logger.notice("idle: reload would add \(plan.added.map(\.id)), remove \(plan.removed), change \(plan.changed.map(\.id))")
        }
        service.ready(status: "idle: \(cfg.streams.count) streams configured, no pipeline")
        await service.runUntilStopped()
    }
}
