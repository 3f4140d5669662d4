// `regionspotd track-eval`: the tracker's evaluation on synthetic scenes with ground truth
// (see TrackEvaluation.swift). Renders the scenes to H.264 with the ffmpeg CLI, decodes
// them with motion vectors, runs the tracker at each keyframe interval with motion-vector
// and with constant-velocity-only propagation, and prints (optionally writes) the table.

import ArgumentParser
import Foundation
import Temporal

struct TrackEvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "track-eval",
        abstract: "Evaluate the tracker on synthetic H.264 scenes with ground truth (MOT metrics).")

    @Option(help: "Directory for the rendered videos and truth JSON (default: a new temp dir).")
    var workDir: String?
    @Option(help: "Number of scenes (seeds 1...N).") var scenes = 3
    @Option(help: "Seconds per scene.") var seconds: Double = 20
    @Option(help: "Objects per scene.") var objects = 6
    @Option(help: "Frame size WxH.") var size = "640x360"
    @Option(help: "Frames per second.") var fps = 30
    @Option(help: "Codec GOP in seconds (fixed keyframe spacing).") var gop: Double = 0.5
    @Option(help: "Seconds between inference keyframes, comma-separated.") var intervals = "0.5,1,2"
    @Option(help: "Proposal corner jitter, std as a fraction of the box size.") var jitter: Float = 0.04
    @Option(help: "Probability that a visible object gets no proposal on a keyframe.") var missRate: Double = 0.1
    @Option(help: "Mean false-positive proposals per keyframe.") var falsePositives: Double = 0.5
    @Option(help: "Write the results as Markdown to this file.") var markdown: String?
    @Option(help: "Write the results as JSON to this file.") var json: String?

    func run() async throws {
        let cmd = self
        try await onThread("track-eval") { try cmd.evaluate() }
    }

    func evaluate() throws {
        let dims = size.split(separator: "x").compactMap { Int($0) }
        guard dims.count == 2, dims[0] > 0, dims[1] > 0 else {
            throw ValidationError("--size: expected WxH, got \(size)")
        }
        let ivs = intervals.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !ivs.isEmpty, ivs.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--intervals: expected positive seconds like 0.5,1,2, got \(intervals)")
        }
        guard scenes > 0, seconds > 0, objects > 0, fps > 0, gop > 0 else {
            throw ValidationError("--scenes, --seconds, --objects, --fps and --gop must be positive")
        }
        guard jitter >= 0, (0...1).contains(missRate), falsePositives >= 0 else {
            throw ValidationError("--jitter and --false-positives must be >= 0, --miss-rate within 0...1")
        }
        var noise = ProposalNoise()
        noise.jitter = jitter; noise.missRate = missRate; noise.falsePositives = falsePositives
        let dir = URL(fileURLWithPath: workDir ?? NSTemporaryDirectory() + "regionspotd-track-eval-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        var config = SceneConfig()
        config.width = dims[0]; config.height = dims[1]; config.fps = fps
        config.seconds = seconds; config.objects = objects
        config.lateObjects = min(config.lateObjects, objects / 3)
        let results = try TrackEvalCommand.evaluate(scene: config, scenes: scenes, gopSeconds: gop,
                                                    intervals: ivs, dir: dir, noise: noise, log: { print($0) })
        let table = TrackEvalCommand.markdownTable(results)
        print(table)
        let command = "regionspotd " + CommandLine.arguments.dropFirst().joined(separator: " ")
        if let markdown {
            let doc = "Command: `\(command)`\n\n" + table
            try doc.write(toFile: markdown, atomically: true, encoding: .utf8)
        }
        if let json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(results).write(to: URL(fileURLWithPath: json))
        }
    }

    /// Renders `scenes` scenes, decodes each once, runs every interval in both modes.
    /// Metrics are accumulated over all scenes (ids offset per scene).
    static func evaluate(scene base: SceneConfig, scenes: Int, gopSeconds: Double, intervals: [Double],
                         dir: URL, noise: ProposalNoise = ProposalNoise(),
                         log: (String) -> Void = { _ in }) throws -> [EvalResult] {
        var decoded: [(SceneTruth, [MotionFrame])] = []
        for s in 1...max(1, scenes) {
            var c = base
            c.seed = UInt64(s)
            let scene = SyntheticScene(config: c)
            let url = dir.appendingPathComponent("scene\(s).mp4")
            let gop = max(1, Int((gopSeconds * Double(c.fps)).rounded()))
            try SceneVideo.write(scene, to: url, gop: gop)
            let (frames, _, _, _) = try TrackEvaluation.decodeMotion(url)
            log("scene \(s): \(frames.count) frames decoded, \(frames.filter(\.isKeyframe).count) keyframes, "
                + "\(frames.compactMap(\.samples).map(\.count).reduce(0, +) / max(1, frames.count)) vectors/frame")
            decoded.append((scene.truth, frames))
        }
        var results: [EvalResult] = []
        for interval in intervals {
            for mv in [true, false] {
                var acc = MOTAccumulator()
                var stats = TrackEvaluation.RunStats()
                for (k, (truth, frames)) in decoded.enumerated() {
                    TrackEvaluation.run(truth: truth, motion: frames, interval: interval, motionVectors: mv,
                                        noise: noise, seed: truth.config.seed, idOffset: (k + 1) * 1000,
                                        acc: &acc, stats: &stats)
                }
                results.append(EvalResult(
                    interval: interval, motionVectors: mv, summary: acc.summary(),
                    lastFrameIoU: stats.lastIoUCount > 0 ? stats.lastIoUSum / Double(stats.lastIoUCount) : 0,
                    lastFramePairs: stats.lastIoUCount,
                    labelAccuracy: stats.labelTotal > 0 ? Double(stats.labelCorrect) / Double(stats.labelTotal) : 0,
                    msPerFrame: stats.frames > 0 ? stats.milliseconds / Double(stats.frames) : 0))
            }
        }
        return results
    }

    static func markdownTable(_ results: [EvalResult]) -> String {
        func f(_ x: Double, _ d: Int = 3) -> String { String(format: "%.\(d)f", x) }
        var s = "| keyframe interval | propagation | IDF1 | MOTA | ID sw / 100 track-frames | last-frame IoU (pairs) | MOTP (1-IoU) | label acc | tracker ms/frame |\n"
        s += "|---|---|---|---|---|---|---|---|---|\n"
        for r in results {
            s += "| \(f(r.interval, 1)) s | \(r.motionVectors ? "motion vectors" : "constant velocity") "
                + "| \(f(r.summary.idf1)) | \(f(r.summary.mota)) | \(f(r.summary.switchesPer100, 2)) "
                + "(\(r.summary.numSwitches)) | \(f(r.lastFrameIoU)) (\(r.lastFramePairs)) | \(f(r.summary.motp)) "
                + "| \(f(r.labelAccuracy)) | \(f(r.msPerFrame, 3)) |\n"
        }
        return s
    }
}
