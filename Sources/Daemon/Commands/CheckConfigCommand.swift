import ArgumentParser
import Decode
import Foundation

/// `regionspotd check-config FILE`: validates a configuration, names every problem.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate a configuration file; list every problem (exit 78 when invalid).")

    @Argument(help: "The YAML configuration file.") var file: String
    @Flag(help: "Do not check that referenced files and directories exist.") var noFiles = false

    func run() throws {
        do {
            let config = try ConfigLoader.load(file: file, checkFiles: !noFiles)
            print(Self.summary(config))
            for w in SecurityAdvice.warnings(config) { print("warning: \(w)") }
        } catch {
            let n = error.problems.count
            FileHandle.standardError.write(Data((Redaction.redact(error.description) + "\n").utf8))
            FileHandle.standardError.write(Data("\(file): \(n) problem\(n == 1 ? "" : "s"); configuration is invalid\n".utf8))
            throw ExitCode(ExitStatus.config)
        }
    }

    static func summary(_ c: DaemonConfig) -> String {
        var lines = ["\(c.file): OK"]
        lines.append("  models: \(c.modelDirectory) (recognizer \(c.recognizer.rawValue))")
        lines.append("  vocabulary: \(c.vocabulary.count) classes (\(c.vocabularySource))")
        for s in c.streams {
            let sources = s.proposals.sources.map(\.rawValue).joined(separator: ",")
            lines.append("  stream \(s.id): \(Redaction.redact(s.url)) [\(s.transport.rawValue)\(s.loop ? ", loop" : "")] "
                + "keyframes \(s.keyframes.minInterval)-\(s.keyframes.maxInterval) s, proposals \(sources)")
        }
        lines.append("  node: \(c.nodeName)\(c.node == nil ? " (host name)" : "")")
        lines.append("  publish: \((c.publisher.endpoints + c.publisher.connect.map { "connect " + $0.endpoint }).joined(separator: " "))")
        if let curve = c.curve {
            lines.append("  CURVE: secret key \(curve.secretKey), authorized keys \(curve.authorizedKeys ?? "(none: connects only)")")
        }
        if let e = c.externalBoxesEndpoint { lines.append("  external boxes: \(e)") }
        if let t = c.metrics.textfile { lines.append("  metrics textfile: \(t)") }
        if let l = c.metrics.listen {
            lines.append("  metrics http: http://\(l)/metrics\(c.metrics.token == nil ? "" : " (bearer token set)")")
            if c.metrics.maxWatchers > 0 {
                let who = c.metrics.token != nil ? "token holders" : "loopback peers only"
                lines.append("  live pages: http://\(l)/ (\(who), \(c.metrics.maxWatchers) watchers at \(c.metrics.liveFPS) fps at most, \(c.metrics.liveFPSBusy > 0 ? "\(c.metrics.liveFPSBusy) while the recognizer is busy" : "not held back while the recognizer is busy"), pictures \(c.metrics.liveWidth) px wide at most)")
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// sysexits(3) codes the daemon uses.
public enum ExitStatus {
    /// EX_CONFIG: configuration error (systemd: RestartPreventExitStatus=78).
    public static let config: Int32 = 78
    /// EX_UNAVAILABLE: a needed service (socket, port) is unavailable.
    public static let unavailable: Int32 = 69
    /// EX_SOFTWARE: internal error.
    public static let software: Int32 = 70
}

import ArgumentParser

extension ConfigLoader {
    /// For commands that start from a configuration: every problem on stderr (redacted)
    /// and exit status 78 (EX_CONFIG) when it is invalid.
    static func loadOrExit(file: String, checkFiles: Bool = true) throws -> DaemonConfig {
        do {
            return try load(file: file, checkFiles: checkFiles)
        } catch {
            FileHandle.standardError.write(Data((Redaction.redact(error.description) + "\n").utf8))
            throw ExitCode(ExitStatus.config)
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Ends the process without running exit-time destructors. OpenBLAS's (blas_shutdown)
/// can deadlock joining its thread pool when the process exits from a thread other than
/// the one that started the pool (seen with the daemon on full-size weights); once every
/// output is drained and flushed there is nothing left for them to do.
func exitNow(_ status: Int32) -> Never {
    fflush(nil)
    _exit(status)
}
