// `regionspotd proxy --frontend ENDPOINT --backend ENDPOINT`: one feed from many daemons
// (FanInProxy, Messaging/Proxy.swift). Runs under systemd like the daemon
// (systemd/regionspotd-proxy.service): READY=1 once bound, WATCHDOG=1 at half the
// watchdog interval while the proxy loop answers STATISTICS, STATUS= with its counts,
// SIGTERM -> STOPPING=1, TERMINATE, exit 0.
import ArgumentParser
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

struct ProxyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "proxy",
        abstract: "Forward many daemons' messages to one endpoint (XSUB -> XPUB; subscriptions flow upstream).")

    @Option(help: "Endpoint the publishers connect to (bound; repeatable).") var frontend: [String]
    @Option(help: "Endpoint the subscribers connect to (bound; repeatable).") var backend: [String]
    @Option(help: "Node name of the proxy's own status topic proxy.<node> (default: the host name).") var node: String?
    @Option(help: "CURVE: the proxy's secret key file (both sides become CURVE servers).") var secretKey: String?
    @Option(help: "CURVE: directory of the publishers' and subscribers' public keys (*.pub) let in.") var authorizedKeys: String?
    @Option(help: "Serve Prometheus metrics on HOST:PORT (GET /metrics).") var metricsListen: String?
    @Option(help: "Seconds between status messages on proxy.<node>.") var statusInterval: Double = 10
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String = "info"

    func validate() throws {
        if (secretKey == nil) != (authorizedKeys == nil) { throw ValidationError("--secret-key and --authorized-keys go together") }
        if let node, !Origin.isValidNode(node) { throw ValidationError("--node '\(node)' must be 1-64 characters of A-Z a-z 0-9 . - _") }
        if !(statusInterval >= 0.1) { throw ValidationError("--status-interval must be at least 0.1 s") }
        if LogLevel(rawValue: logLevel) == nil { throw ValidationError("--log-level: one of \(LogLevel.allCases.map(\.rawValue).joined(separator: ", "))") }
        for e in frontend + backend where !(e.hasPrefix("tcp://") || e.hasPrefix("ipc://")) {
            throw ValidationError("'\(e)' is not tcp://HOST:PORT or ipc://PATH")
        }
    }

    func run() async throws {
        let cmd = self
        try await onThread("startup") { try cmd.serve() }
        exitNow(0)
    }

    /// Binds, tells systemd READY, serves until SIGTERM/SIGINT.
    func serve() throws {
        JournalLogHandler.bootstrap(level: Service.loggerLevel(LogLevel(rawValue: logLevel) ?? .info))
        let logger = Logger(label: "regionspotd-proxy")
        var o = FanInProxy.Options(frontend: frontend, backend: backend)
        o.node = node ?? Origin.hostName
        o.statusInterval = statusInterval
        if let secretKey, let authorizedKeys { o.curve = CurveConfig(secretKey: secretKey, authorizedKeys: authorizedKeys) }
        for e in frontend + backend where o.curve == nil && !SecurityAdvice.isLocal(e) {
            logger.warning("\(e) is reachable beyond this host without CURVE: anyone on the network can read (backend) or inject (frontend) messages (give --secret-key and --authorized-keys)")
        }
        let metrics = MetricsRegistry()
        let healthWithin = 3 * statusInterval + 5
        let proxy: FanInProxy
        do { proxy = try FanInProxy(options: o, metrics: metrics) } catch {
            logger.critical("\(error)")
            throw ExitCode(ExitStatus.unavailable)
        }
        var server: MetricsHTTPServer?
        if let metricsListen {
            do {
                server = try MetricsHTTPServer(listen: metricsListen, render: { metrics.render() },
                                               healthy: { proxy.answered(within: healthWithin) ? (true, "ok") : (false, "proxy loop not answering") })
            } catch {
                logger.critical("\(error)")
                proxy.stop()
                throw ExitCode(ExitStatus.unavailable)
            }
        }
        let stop = DispatchSemaphore(value: 0)
        let signals = SignalHandlers()
        signal(SIGPIPE, SIG_IGN)
        signals.on([SIGTERM, SIGINT]) { sig in
            logger.notice("\(sig == SIGTERM ? "SIGTERM" : "SIGINT"): stopping")
            stop.signal()
        }
        let notifier = SystemdNotifier.fromEnvironment()
        let watchdog = SystemdNotifier.watchdogTimeout()
        logger.info("proxy: publishers on \(proxy.boundFrontend.joined(separator: " ")), subscribers on \(proxy.boundBackend.joined(separator: " ")) as node \(o.node), session \(Origin.session)\(o.curve == nil ? "" : " with CURVE")")
        notifier?.ready(status: "forwarding \(proxy.boundFrontend.joined(separator: " ")) -> \(proxy.boundBackend.joined(separator: " "))")
        // Watchdog pings while the proxy loop answers STATISTICS (asked every status interval).
        let tick = min(1.0, (watchdog ?? 2) / 4)
        var nextPing = 0.0, nextStatus = Service.now() + statusInterval
        while stop.wait(timeout: .now() + tick) == .timedOut {
            let now = Service.now()
            if let wd = watchdog, now >= nextPing, proxy.answered(within: max(wd, 2 * statusInterval + 3)) {
                notifier?.watchdog()
                nextPing = now + wd / 2
            }
            if now >= nextStatus, let c = proxy.counts {
                nextStatus = now + statusInterval
                notifier?.status("\(c.frontendMessages) messages in, \(c.backendMessages) out, \(c.subscriptions) subscription changes, \(c.refused) refused")
            }
        }
        notifier?.stopping(status: "terminating the proxy")
        proxy.stop()
        server?.stop()
        signals.cancel()
        let c = proxy.counts
        logger.notice("proxy stopped\(c.map { ": \($0.frontendMessages) messages in, \($0.backendMessages) out" } ?? "")")
    }
}
