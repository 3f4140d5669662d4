// `regionspotd eval-video VIDEO --truth FILE`: the product's end-to-end quality. Runs the
// video through exactly what `replay` runs (ReplaySetup + ReplaySession + StreamPipeline,
// recognition inline, one decoder thread), keeps the `regions` messages it publishes and
// scores them against ground truth (make-shapes video.json or MOTChallenge gt.txt):
// precision, recall, MOTA, MOTP, IDF1, ID switches, label accuracy, regions per frame.
import ArgumentParser
import Decode
import Foundation

#if canImport(Glibc)
import Glibc
#endif

struct EvalVideoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-video",
        abstract: "Replay a video through the pipeline and score what it publishes against ground truth (MOT metrics, labels).")

    @Argument(help: "The video file (replayed as `regionspotd replay` would).") var video: String
    @Option(help: "Ground truth: make-shapes video.json, or MOTChallenge gt.txt (frame,id,x,y,w,h,conf,class,visibility).")
    var truth: String
    @OptionGroup var models: ReplayModelOptions
    @Option(help: "gt.txt class names, one per line (line k names class k): enables label accuracy.") var labels: String?
    @Option(help: "gt.txt class names, comma separated (the k-th names class k).") var classNames: String?
    @Option(help: "A region matches an object when their IoU is at least this.") var iou: Double = 0.5
    @Flag(help: "Print the result as one JSON object.") var json = false
    @Option(help: "Also write every published message as JSON lines here (what replay --out writes).") var out: String?
    @Flag(help: "No progress line.") var quiet = false

    func validate() throws {
        guard iou > 0, iou <= 1 else { throw ValidationError("--iou must be in (0, 1]") }
        if labels != nil && classNames != nil { throw ValidationError("give --labels FILE or --class-names LIST, not both") }
    }

    func run() async throws {
        let cmd = self
        try await onThread("eval-video") { try cmd.evaluate() }
    }

    func evaluate() throws {
        func fail(_ message: String, _ status: Int32) -> ExitCode {
            FileHandle.standardError.write(Data("regionspotd eval-video: \(Redaction.redact(message))\n".utf8))
            return ExitCode(status)
        }
        // The truth first: a bad file should not cost a replay.
        let gt: GroundTruth
        do {
            gt = try TruthLoader.load(truth, classNames: try TruthLoader.classNames(file: labels, list: classNames))
        } catch let e as TruthFileError { throw fail(e.description, 65) }

        let logger = ReplaySetup.bootstrapLogging(quiet: true)
        let setup: ReplaySetup
        do { setup = try ReplaySetup(models, logger: logger) } catch let e as ReplaySetupFailure { throw fail(e.description, e.status) }

        let collector = PublishedRegions()
        var sinks: [any MessageSink] = [collector]
        var jsonl: JSONLSink?
        if let out {
            do {
                jsonl = out == "-" ? JSONLSink(handle: FileHandle.standardOutput) : try JSONLSink(path: out)
                sinks.append(jsonl!)
            } catch { throw fail("--out: \(error)", 1) }
        }
        let interrupted = StopFlag()
        let signals = SignalHandlers()
        signals.on([SIGINT, SIGTERM]) { _ in interrupted.set() }
        defer { signals.cancel() }

        let id = ReplayCommand.streamIDs([video])[0]
        let meta = try? FileMetadata.read(path: video)
        var o = setup.pipelineOptions(start: ReplaySetup.startTime(nil, meta), masks: false, realtime: false)
        o.onFrame = { frame, _, _ in collector.processed(frame.index) }
        let session = ReplaySession(file: video, config: setup.streamConfig(for: video, id: id, loop: false), metadata: meta,
                                    outputs: .init())
        let progress = ReplayProgress(enabled: !quiet && isatty(STDERR_FILENO) != 0)
        let r = session.run(engine: setup.engine, sink: FanOutSink(sinks: sinks), options: o, logger: logger,
                            shouldStop: { interrupted.isSet }, tick: { progress.show($0) })
        progress.clear()
        jsonl?.close()
        if interrupted.isSet { exitNow(130) }
        if let f = r.failure { throw fail("\(video): \(f)", 1) }

        let frames = collector.frames
        let score = VideoScorer.score(truth: gt, frames: frames, published: collector.regions, iouThreshold: iou)
        let decoded = Set(frames)
        let notDecoded = gt.frames.keys.filter { !decoded.contains($0) }.count
        if notDecoded > 0 {
            FileHandle.standardError.write(Data("regionspotd eval-video: warning: \(notDecoded) truth frames are not among the \(frames.count) decoded frames (not scored)\n".utf8))
        }
        if json {
            let report = EvalVideoReport(video: video, truth: truth, truthFormat: gt.format, stream: id, recognitions: r.recognitions,
                                         truthFramesNotDecoded: notDecoded, score: score)
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try enc.encode(report) + Data("\n".utf8))
        } else {
            print(Self.table(score, video: video, truth: truth, format: gt.format, recognitions: r.recognitions, notDecoded: notDecoded),
                  terminator: "")
        }
        exitNow(0)  // see exitNow: OpenBLAS's exit-time shutdown
    }

    /// The text report.
    static func table(_ s: VideoScore, video: String, truth: String, format: String, recognitions: Int, notDecoded: Int) -> String {
        func f(_ x: Double) -> String { String(format: "%.3f", x) }
        func pf(_ x: Double) -> String { String(format: "%.2f", x) }
        var rows: [(String, String)] = [
            ("frames scored", "\(s.framesScored) (\(recognitions) recognized)" + (notDecoded > 0 ? ", \(notDecoded) truth frames not decoded" : "")),
            ("truth objects", "\(s.truthObjects) object-frames, \(s.uniqueTruthObjects) objects" + (s.dontCareObjects > 0 ? " (+\(s.dontCareObjects) don't-care)" : "")),
            ("published regions", "\(s.publishedRegions) region-frames, \(s.uniqueHypothesisIDs) track ids" + (s.regionsOnDontCare > 0 ? " (\(s.regionsOnDontCare) on don't-care objects)" : "")),
            ("regions / frame", "\(pf(s.regionsPerFrame)) published vs \(pf(s.truthPerFrame)) truth (ratio \(s.regionsPerTruth.map(pf) ?? "-"))"),
            ("matches (TP)", "\(s.truePositives), false positives \(s.falsePositives), misses \(s.misses)"),
            ("precision", f(s.precision)),
            ("recall", f(s.recall)),
            ("MOTA", f(s.mota)),
            ("MOTP (1 - IoU)", "\(f(s.motp)) (mean IoU \(f(s.meanIoU)))"),
            ("IDF1", "\(f(s.idf1)) (IDP \(f(s.idp)), IDR \(f(s.idr)))"),
            ("ID switches", "\(s.idSwitches)"),
            ("track ids / objects", "\(s.uniqueHypothesisIDs) / \(s.uniqueTruthObjects)"),
        ]
        rows.append(("label accuracy", s.labelAccuracy.map { "\(f($0)) (\(s.labelCorrect)/\(s.labelPairs) matched region-frames)" }
            ?? "absent (the truth names no classes)"))
        var out = "\(video) vs \(truth) (\(format)), IoU >= \(s.iouThreshold)\n"
        let w = rows.map(\.0.count).max() ?? 0
        for (k, v) in rows { out += "  " + k.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + v + "\n" }
        return out
    }
}

/// `eval-video --json`.
struct EvalVideoReport: Codable {
    var video: String
    var truth: String
    var truthFormat: String
    var stream: String
    var recognitions: Int
    var truthFramesNotDecoded: Int
    var score: VideoScore

    enum CodingKeys: String, CodingKey {
        case video, truth, truthFormat = "truth_format", stream, recognitions
        case truthFramesNotDecoded = "truth_frames_not_decoded", score
    }
}

/// The sink that keeps what a subscriber would see of `regions` messages, and the frames
/// the pipeline processed (a frame the publish rate skipped published nothing).
final class PublishedRegions: MessageSink, @unchecked Sendable {
    private let lock = NSLock()
    private var _regions: [Int: [Hypothesis]] = [:]
    private var _frames: [Int] = []

    func send(_ m: RegionsMessage) {
        let hyps = m.regions.map { r in
            Hypothesis(id: Int(truncatingIfNeeded: r.trackID),
                       box: PixelBox(x1: r.box[0], y1: r.box[1], x2: r.box[2], y2: r.box[3]), label: r.label)
        }
        lock.withLock { _regions[m.frame] = hyps }
    }
    func send(_ m: TrackMessage) {}
    func send(_ m: StatusMessage) {}
    func processed(_ frame: Int) { lock.withLock { _frames.append(frame) } }

    var regions: [Int: [Hypothesis]] { lock.withLock { _regions } }
    var frames: [Int] { lock.withLock { _frames } }
}
