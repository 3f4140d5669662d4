// `regionspotd replay FILE...`: recorded footage through the same pipeline as `run` (keyframe
// policy, proposals, tracking, message format), recognizing inline so nothing the policy
// asks for is skipped, as fast as the machine allows (or paced with --realtime). Output:
// JSONL (one line per message, the ZeroMQ payload) and/or a PUB socket, an annotated MP4,
// PNG snapshots of recognized keyframes; a summary on stderr. Message times are start time
// + PTS (start: --start-time, else the file's creation_time, else the epoch), so the same
// file, models, vocabulary and configuration give byte-identical JSONL on every run.
import ArgumentParser
import Decode
import Foundation
import Logging
import Recognizer

#if canImport(Glibc)
import Glibc
#endif

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay", abstract: "Run recorded video files through the pipeline; JSONL, annotated video, snapshots.")

    @Argument(help: "Video files (each is its own stream, id = file name stem).") var files: [String]
    @OptionGroup var models: ReplayModelOptions
    @Option(help: "Write every message as one JSON line here ('-' = standard output; the default when no other output is given).")
    var out: String?
    @Option(help: "Also publish on a ZeroMQ PUB socket bound to this endpoint.") var publish: String?
    @Flag(help: "Pace frames by their PTS as if live (default: as fast as possible).") var realtime = false
    @Option(help: "Write an annotated MP4 (with several files: NAME-<stream>.mp4).") var annotate: String?
    @Option(help: "Write a PNG of each recognized keyframe into this directory.") var snapshots: String?
    @Flag(help: "Do not compute SAM masks for the drawings.") var noMasks = false
    @Option(help: "Wall-clock time of PTS 0, RFC 3339 (default: the file's creation_time, else 1970-01-01T00:00:00Z).")
    var startTime: String?
    @Flag(help: "No progress line and no summary.") var quiet = false
    @Flag(help: "Start each file again at its end (PTS keep increasing) until interrupted or --duration: soak tests.")
    var loop = false
    @Option(help: "Stop after this many seconds of wall time (finishing the outputs as on Ctrl-C, exit 0).")
    var duration: Double?

    func validate() throws {
        if let startTime, parseRFC3339(startTime) == nil {
            throw ValidationError("--start-time '\(startTime)': expected RFC 3339, e.g. 2026-01-31T08:00:00Z")
        }
        if loop && files.count != 1 { throw ValidationError("--loop takes exactly one file (a looping file never ends)") }
        if let duration, !(duration > 0) { throw ValidationError("--duration must be a positive number of seconds") }
    }

    func run() async throws {
        let cmd = self
        try await onThread("replay") { try cmd.replay() }
    }

    /// The replay itself, on a thread of its own (FFmpeg and BLAS block).
    func replay() throws {
        let logger = ReplaySetup.bootstrapLogging(quiet: quiet)
        func fail(_ message: String, _ status: Int32) -> ExitCode {
            FileHandle.standardError.write(Data("regionspotd replay: \(Redaction.redact(message))\n".utf8))
            return ExitCode(status)
        }

        // Models, vocabulary and stream settings (shared with eval-video).
        let setup: ReplaySetup
        do { setup = try ReplaySetup(models, logger: logger) } catch let e as ReplaySetupFailure { throw fail(e.description, e.status) }
        let engine = setup.engine
        if !quiet {
            // Which precision the encoders run at is part of what a replay measured.
            let why = engine.precisionNote.map { " (\($0))" } ?? ""
            FileHandle.standardError.write(Data("models: \(engine.model.path), precision \(engine.precision.rawValue)\(why)\n".utf8))
        }

        // Where messages go.
        var sinks: [any MessageSink] = []
        var jsonl: JSONLSink?
        let outPath = out ?? (publish == nil && annotate == nil && snapshots == nil ? "-" : nil)
        if let outPath {
            do {
                jsonl = outPath == "-" ? JSONLSink(handle: FileHandle.standardOutput) : try JSONLSink(path: outPath)
                sinks.append(jsonl!)
            } catch { throw fail("--out: \(error)", 1) }
        }
        var publisher: Publisher?
        if let publish {
            do {
                publisher = try Publisher(options: .init(endpoints: [publish], lingerMilliseconds: 2000,
                                                         node: setup.config?.nodeName ?? Origin.hostName))
                sinks.append(PublisherSink(publisher: publisher!))
                // PUB drops what it sends before a subscriber has connected: give the ones
                // already waiting for this endpoint a moment to reconnect.
                Thread.sleep(forTimeInterval: 0.5)
            } catch { throw fail("--publish: \(error)", ExitStatus.unavailable) }
        }
        if let annotate {
            let parent = (annotate as NSString).deletingLastPathComponent
            var isDir: ObjCBool = false
            if !FileManager.default.fileExists(atPath: parent.isEmpty ? "." : parent, isDirectory: &isDir) || !isDir.boolValue {
                throw fail("--annotate \(annotate): directory \(parent) does not exist", 1)
            }
        }
        if let snapshots {
            do { try FileManager.default.createDirectory(atPath: snapshots, withIntermediateDirectories: true) } catch {
                throw fail("--snapshots \(snapshots): \(error.localizedDescription)", 1)
            }
        }
        let sink = FanOutSink(sinks: sinks)

        // Ctrl-C / SIGTERM: stop the current file, finish its outputs, skip the rest.
        let interrupted = StopFlag()
        let signals = SignalHandlers()
        signals.on([SIGINT, SIGTERM]) { _ in interrupted.set() }
        defer { signals.cancel() }

        let ids = Self.streamIDs(files)
        let progress = ReplayProgress(enabled: !quiet && isatty(STDERR_FILENO) != 0)
        var results: [ReplaySession.Summary] = []
        let t0 = Date()
        let deadline = duration.map { t0.addingTimeInterval($0) }
        let timeUp = StopFlag()
        for (file, id) in zip(files, ids) {
            if interrupted.isSet || timeUp.isSet { break }
            let meta = try? FileMetadata.read(path: file)
            let o = setup.pipelineOptions(start: ReplaySetup.startTime(startTime, meta), masks: !noMasks, realtime: realtime)
            let outputs = ReplaySession.Outputs(annotate: annotate.map { files.count > 1 ? Self.perStream($0, id) : $0 },
                                                snapshots: snapshots)
            let session = ReplaySession(file: file, config: setup.streamConfig(for: file, id: id, loop: loop), metadata: meta, outputs: outputs)
            var r = session.run(engine: engine, sink: sink, options: o, logger: logger,
                                shouldStop: {
                                    if let deadline, Date() >= deadline { timeUp.set() }
                                    return interrupted.isSet || timeUp.isSet
                                }, tick: { progress.show($0) })
            progress.clear()
            // --duration ran out: a planned end, not a failure.
            if timeUp.isSet && !interrupted.isSet && r.failure == "interrupted" { r.failure = nil }
            results.append(r)
            if !quiet { FileHandle.standardError.write(Data(ReplayReport.file(r).utf8)) }
            else if let f = r.failure { FileHandle.standardError.write(Data("regionspotd replay: \(file): \(f)\n".utf8)) }
        }
        jsonl?.close()
        _ = publisher?.close(timeout: 5)
        if !quiet && files.count > 1 {
            FileHandle.standardError.write(Data(ReplayReport.total(results, files: files.count, wall: Date().timeIntervalSince(t0)).utf8))
        }
        if interrupted.isSet { exitNow(130) }
        exitNow((results.count < files.count && !timeUp.isSet) || results.contains(where: { $0.failure != nil }) ? 1 : 0)
    }

    /// A file's stream settings (ReplaySetup.streamConfig); loops only with --loop.
    func streamConfig(for file: String, id: String, _ cfg: DaemonConfig?) -> StreamConfig {
        ReplaySetup.streamConfig(for: file, id: id, cfg, loop: loop, everyFrame: models.everyFrame, everyKeyframe: models.everyKeyframe)
    }

    /// Stream ids from file names: the stem, characters outside [A-Za-z0-9_-] as '_', at
    /// most 64 characters; repeated stems get -2, -3, ...
    static func streamIDs(_ files: [String]) -> [String] {
        var used: [String: Int] = [:]
        return files.map { f in
            let stem = ((f as NSString).lastPathComponent as NSString).deletingPathExtension
            var id = String(stem.unicodeScalars.map { c -> Character in
                (c.isASCII && (CharacterSet.alphanumerics.contains(c) || c == "_" || c == "-")) ? Character(c) : "_"
            }.prefix(58))
            if id.isEmpty { id = "stream" }
            used[id, default: 0] += 1
            if let n = used[id], n > 1 { id += "-\(n)" }
            return id
        }
    }

    /// "out.mp4" + "cam1" -> "out-cam1.mp4".
    static func perStream(_ path: String, _ id: String) -> String {
        let ext = (path as NSString).pathExtension
        let base = (path as NSString).deletingPathExtension
        return ext.isEmpty ? "\(base)-\(id)" : "\(base)-\(id).\(ext)"
    }
}

/// RFC 3339 / ISO 8601 date-time with optional fractional seconds, as epoch seconds
/// (microsecond precision kept: "2026-01-31T08:00:00.123456Z").
func parseRFC3339(_ text: String) -> Double? {
    let s = text.trimmingCharacters(in: .whitespaces)
    // Split off the fraction so it keeps every digit (ISO8601DateFormatter keeps ms only).
    var whole = s, fraction = 0.0
    if let dot = s.firstIndex(of: "."), let end = s[dot...].firstIndex(where: { !$0.isNumber && $0 != "." }) {
        let digits = s[s.index(after: dot)..<end]
        guard !digits.isEmpty, let f = Double("0." + digits) else { return nil }
        fraction = f
        whole = String(s[..<dot] + s[end...])
    }
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    if let d = f.date(from: whole) { return d.timeIntervalSince1970 + fraction }
    f.formatOptions = [.withInternetDateTime, .withSpaceBetweenDateAndTime]
    return f.date(from: whole).map { $0.timeIntervalSince1970 + fraction }
}
