// `regionspotd idle --config FILE` (hidden): the service shell without pipelines —
// publisher bound, metrics up, READY/STATUS/WATCHDOG/STOPPING, SIGHUP reload, SIGTERM
// drain — publishing a `status` message per configured stream. For smoke tests of a
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
    @Option(help: "Seconds between status messages per stream.") var statusEvery = 1.0
    @Option(help: "Stop the heartbeat after this many seconds (to see the watchdog withheld).") var wedgeAfter: Double?

    func run() async throws {
        let cfg: DaemonConfig
        do {
            cfg = try ConfigLoader.load(file: config, checkFiles: false)
        } catch {
            FileHandle.standardError.write(Data((Redaction.redact(error.description) + "\n").utf8))
            throw ExitCode(ExitStatus.config)
        }
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
        let publishStates: @Sendable () -> Void = {
            for s in service.config.streams {
                try? service.publisher?.publish(StatusMessage.state(.connecting, stream: s.id, reason: reason, time: RFC3339.now()))
            }
        }
        publishStates()
        service.every(statusEvery, name: "status", publishStates)
        service.statusLine { "idle: \(service.config.streams.count) streams configured, no pipeline" }
        service.onReload { new, plan in
            logger.notice("idle: reload would add \(plan.added.map(\.id)), remove \(plan.removed), change \(plan.changed.map(\.id))")
        }
        service.ready(status: "idle: \(cfg.streams.count) streams configured, no pipeline")
        await service.runUntilStopped()
    }
}
