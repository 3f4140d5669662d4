// What recorded footage runs with, resolved once for `replay` and `eval-video` so both run
// exactly the same pipeline: the models/vocabulary/stream options, the recognition engine
// they name, each file's stream settings and the StreamPipeline options of a replay.
import ArgumentParser
import Decode
import Foundation
import Logging
import Recognizer

/// The options that choose models, vocabulary and stream settings (shared by replay and
/// eval-video through @OptionGroup).
struct ReplayModelOptions: ParsableArguments {
    @Option(help: "A daemon configuration: models, vocabulary, stream settings (matched by id or URL, else its first stream's).")
    var config: String?
    @Option(help: "Model directory (overrides the configuration's).") var weights: String?
    @Option(help: "Class names, comma separated ('a|b' = synonyms), or @file (overrides the configuration's).") var vocab: String?
    @Option(help: "regionspot or clip-crop.") var recognizer: String?
    @Option(help: "auto, fp32, bf16 or int8 (overrides the configuration's models.precision, default auto: int8 where `models check` recorded a pass on these weights and the CPU runs it, else bf16 where the CPU runs it natively).") var precision: Precision?
    @Option(help: "Recognizer threads (BLAS and kernels); default: the configuration's limits.blas_threads, else all cores.")
    var threads: Int?
    @Flag(help: "Recognize every frame (ignore the keyframe policy).") var everyFrame = false
    @Flag(help: "Run the encoders on every keyframe the interval policy allows (keyframes.on_demand: false).") var everyKeyframe = false

    func validate() throws {
        if config == nil && (weights == nil || vocab == nil) {
            throw ValidationError("give --config FILE, or --weights DIR and --vocab NAMES")
        }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let recognizer, RecognizerKind(rawValue: recognizer) == nil { throw ValidationError("--recognizer: regionspot or clip-crop") }
    }
}

/// A setup problem with the exit status it maps to (78: configuration or models).
struct ReplaySetupFailure: Error, CustomStringConvertible {
    var description: String
    var status: Int32
}

/// The configuration (if any) and the recognition engine built from the options.
struct ReplaySetup {
    let options: ReplayModelOptions
    let config: DaemonConfig?
    let engine: RecognitionEngine

    /// Reads the configuration, the vocabulary and the models; failures name the option.
    init(_ o: ReplayModelOptions, logger: Logger) throws {
        options = o
        var cfg: DaemonConfig?
        if let file = o.config {
            do { cfg = try ConfigLoader.load(file: file, checkFiles: false) } catch {
                throw ReplaySetupFailure(description: "\(error)", status: ExitStatus.config)
            }
        }
        let vocabulary: [VocabularyEntry]
        if let vocab = o.vocab {
            do {
                let v = try Recognizer.Vocabulary.load(vocab)
                vocabulary = VocabularyEntry.entries(v)
            } catch { throw ReplaySetupFailure(description: "--vocab: \(error)", status: ExitStatus.config) }
        } else {
            vocabulary = cfg!.vocabulary
        }
        let kind = o.recognizer.flatMap(RecognizerKind.init(rawValue:)) ?? cfg?.recognizer ?? .regionspot
        do {
            engine = try RecognitionEngine(modelDirectory: o.weights ?? cfg!.modelDirectory, kind: kind, vocabulary: vocabulary,
                                           blasThreads: o.threads ?? cfg?.limits.blasThreads ?? 0, precision: o.precision ?? cfg?.precision ?? .auto,
                                           acceptance: cfg?.acceptance ?? AcceptanceConfig(), logger: logger)
        } catch { throw ReplaySetupFailure(description: "models: \(error)", status: ExitStatus.config) }
        config = cfg
    }

    /// Our log output as a replay wants it: errors only. FFmpeg's lines from warnings up
    /// (what it could not decode in a damaged file), rate limited; none with `quiet`.
    static func bootstrapLogging(quiet: Bool) -> Logger {
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = .error
            return h
        }
        if quiet {
            Decode.setLibraryLogLevel(.quiet)
        } else {
            LibraryLog.installForCommand(threshold: .warning)
        }
        return Logger(label: "regionspotd")
    }

    /// A file's stream settings: the configuration's stream with the same id or URL, else
    /// its first stream's settings under this id, else the defaults. Loops only when asked.
    static func streamConfig(for file: String, id: String, _ cfg: DaemonConfig?, loop: Bool, everyFrame: Bool,
                             everyKeyframe: Bool = false) -> StreamConfig {
        let path = URL(fileURLWithPath: file).standardizedFileURL.path
        func samePath(_ url: String) -> Bool {
            let u = url.hasPrefix("file://") ? String(url.dropFirst(7)) : url
            return u == file || URL(fileURLWithPath: u).standardizedFileURL.path == path
        }
        var s: StreamConfig
        if let match = cfg?.streams.first(where: { $0.id == id || (!isLiveURL($0.url) && samePath($0.url)) }) {
            s = match
        } else {
            s = cfg?.streams.first ?? StreamConfig(id: id, url: file)
            s.id = id
        }
        s.url = file
        s.loop = loop
        if everyFrame {
            s.keyframes.minInterval = 0
            s.keyframes.maxInterval = 0
        }
        if everyFrame || everyKeyframe { s.keyframes.onDemand = false }
        return s
    }

    func streamConfig(for file: String, id: String, loop: Bool) -> StreamConfig {
        Self.streamConfig(for: file, id: id, config, loop: loop, everyFrame: options.everyFrame, everyKeyframe: options.everyKeyframe)
    }

    /// Message times start at `startTime` (RFC 3339), else the file's creation_time, else the epoch.
    static func startTime(_ given: String?, _ meta: FileMetadata?) -> Double {
        given.flatMap(parseRFC3339) ?? meta?.creationTime.flatMap(parseRFC3339) ?? 0
    }

    /// The pipeline options of a replay: times from start + PTS, one decoder thread (with
    /// FFmpeg's frame threading the exported motion vectors, and so the tracked boxes,
    /// differ from run to run on longer H.264 clips), no reconnecting.
    func pipelineOptions(start: Double, masks: Bool, realtime: Bool) -> StreamPipeline.Options {
        var o = StreamPipeline.Options()
        o.maxBoxes = config?.limits.maxBoxesPerKeyframe ?? o.maxBoxes
        o.clock = { start + $0.pts }
        o.startClock = { start }
        o.masks = masks
        o.sourceOptions.pacing = realtime ? .realTime : .asFastAsPossible
        o.sourceOptions.decoderThreads = 1
        o.reconnect = ReconnectPolicy(maxAttempts: 0)
        return o
    }
}
