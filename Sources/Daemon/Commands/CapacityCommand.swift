// `regionspotd bench --capacity CONFIG`: how often each configured stream will be
// recognized on this machine. It measures what the overload rules (docs/config.md,
// "Overload") trade: one keyframe of the configured model on a stream's own picture (CPU
// seconds, all of the process's threads), and each stream's decoding per second of video,
// in full and keyframes only. `CapacityEstimate` turns them into rounds.
import Decode
import Foundation
import Logging
import Recognizer
import ArgumentParser
import Temporal

/// The arithmetic: the recognizer gets the cores decoding leaves, a round recognizes
/// every stream once, each stream waits a round (at least its min_interval).
struct CapacityEstimate: Equatable {
    struct Stream: Equatable {
        var id: String
        var priority: Int
        /// Cores this stream's decoding and tracking takes, every frame / keyframes only.
        var decodeCores: Double
        var keyframeOnlyCores: Double
        var minInterval: Double
    }

    var cores: Double
    /// CPU seconds of one keyframe, and the threads it can use at most.
    var keyframeCPU: Double
    var recognizerThreads: Double
    var workers: Double = 1
    var maxLabelAge: Double
    var streams: [Stream]

    /// Cores left to the recognizer (never less than 5% of a core: nice 10 still gets some).
    func recognizerCores(shedAll: Bool) -> Double {
        let decoding = streams.reduce(0) { $0 + (shedAll ? $1.keyframeOnlyCores : $1.decodeCores) }
        return min(recognizerThreads * workers, max(0.05, cores - decoding))
    }

    /// Seconds for every stream to be recognized once.
    func round(shedAll: Bool) -> Double {
        Double(streams.count) * keyframeCPU / recognizerCores(shedAll: shedAll)
    }

    /// Seconds between two recognitions of `s` when every stream always wants one.
    func interval(_ s: Stream, shedAll: Bool) -> Double { max(s.minInterval, round(shedAll: shedAll)) }

    /// The overload state the daemon would settle in: ok (nothing shed), shedding (the
    /// round fits only when decoding gives way) or stale (it does not fit at all).
    var verdict: String {
        if round(shedAll: false) <= OverloadPolicy.shedAbove * maxLabelAge { return "ok" }
        return round(shedAll: true) <= maxLabelAge ? "shedding" : "stale"
    }
}

enum CapacityProbe {
    /// Process CPU seconds (user + system, every thread).
    static func cpuSeconds() -> Double { Bench.cpuMs() / 1000 }

    /// Decoding cost of `url` in cores per second of video: `seconds` of it decoded as
    /// fast as possible with motion vectors (as the daemon decodes), in full and keyframes
    /// only; nil when it cannot be opened.
    static func decodeCores(url: String, threads: Int, seconds: Double = 4) -> (full: Double, keyframes: Double, fps: Double)? {
        func measure(keyframesOnly: Bool) -> (cores: Double, fps: Double)? {
            var o = SourceOptions(openTimeout: 5, stallTimeout: 5, decoderThreads: threads, keyframesOnly: keyframesOnly, motionVectors: true)
            o.loop = !isLiveURL(url)
            guard let src = try? VideoSource(url: url, options: o) else { return nil }
            defer { src.close() }
            let c0 = cpuSeconds()
            var first: Double?, last = 0.0, frames = 0
            while let f = try? src.nextFrame() {
                if first == nil { first = f.pts }
                last = f.pts
                frames += 1
                if last - first! >= seconds { break }
            }
            let span = last - (first ?? last)
            guard span > 0 else { return nil }
            return ((cpuSeconds() - c0) / span, Double(frames - 1) / span)
        }
        guard let full = measure(keyframesOnly: false) else { return nil }
        // keyframes only needs a longer span to see more than one GOP
        let key = measure(keyframesOnly: true)
        return (full.cores, key?.cores ?? 0, full.fps)
    }

    /// A stream's first picture (nil: it cannot be opened).
    static func firstFrame(url: String) -> VideoFrame? {
        guard let src = try? VideoSource(url: url, options: SourceOptions(openTimeout: 5, stallTimeout: 5)) else { return nil }
        defer { src.close() }
        return try? src.nextFrame()
    }

    /// CPU and wall seconds of one keyframe with `boxes` boxes (after a warm-up run).
    static func keyframe(engine: RecognitionEngine, frame: VideoFrame, boxes: Int) -> (cpu: Double, wall: Double) {
        let w = Float(frame.width), h = Float(frame.height)
        let candidates = (0..<boxes).map { i -> ProposalCandidate in
            let x = Float(i % 4) * w / 4, y = Float(i / 4 % 4) * h / 4
            return Proposals.zones([Zone(name: "z\(i)", box: [Double(x), Double(y), Double(x + w / 4), Double(y + h / 4)])])[0]
        }
        func job() -> RecognitionJob {
            var merge = ProposalMergeConfig()
            merge.maxBoxes = boxes
            return RecognitionJob(stream: "capacity", frame: 0, pts: 0, picture: frame, tracks: [:], candidates: candidates,
                                  merge: merge, everything: nil, submitted: Date().timeIntervalSince1970, completion: { _ in })
        }
        _ = engine.run(job())
        let c0 = cpuSeconds(), t0 = Date()
        _ = engine.run(job())
        return (cpuSeconds() - c0, Date().timeIntervalSince(t0))
    }
}

extension BenchCommand {
    /// Measures and prints the estimate for the configuration at `file`.
    func capacityReport(_ file: String) throws {
        let cfg = try ConfigLoader.loadOrExit(file: file)
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let threads = cfg.limits.decoderThreads(streams: cfg.streams.count, cores: cores)
        print("capacity of this machine (\(cores) cores) for \(cfg.file): \(cfg.streams.count) streams, limits.max_label_age \(cfg.limits.maxLabelAge) s")
        var byURL: [String: (full: Double, keyframes: Double, fps: Double)] = [:]
        for s in cfg.streams where byURL[s.url] == nil {
            if let m = CapacityProbe.decodeCores(url: s.url, threads: threads) { byURL[s.url] = m }
        }
        guard !byURL.isEmpty, let first = cfg.streams.first(where: { byURL[$0.url] != nil }),
              let frame = CapacityProbe.firstFrame(url: first.url) else {
            print("no stream could be opened: nothing to measure")
            throw ExitCode(ExitStatus.unavailable)
        }
        let mean = (full: byURL.values.map(\.full).reduce(0, +) / Double(byURL.count),
                    keyframes: byURL.values.map(\.keyframes).reduce(0, +) / Double(byURL.count))
        let engine = try RecognitionEngine(modelDirectory: cfg.modelDirectory, kind: cfg.recognizer, vocabulary: cfg.vocabulary,
                                           blasThreads: cfg.limits.recognizerThreads, lanes: 1, acceptance: cfg.acceptance,
                                           logger: Logger(label: "capacity"))
        let boxes = min(16, cfg.limits.maxBoxesPerKeyframe)
        let kf = CapacityProbe.keyframe(engine: engine, frame: frame, boxes: boxes)
        print(String(format: "keyframe: %.2f CPU-s (%.2f s wall) for %d boxes on %@'s %dx%d picture, %@",
                     kf.cpu, kf.wall, boxes, first.id, frame.width, frame.height, engine.model.variant))
        let streams = cfg.streams.map { s in
            let m = byURL[s.url] ?? (mean.full, mean.keyframes, 0)
            return CapacityEstimate.Stream(id: s.id, priority: s.priority, decodeCores: m.full, keyframeOnlyCores: m.keyframes,
                                           minInterval: s.keyframes.minInterval)
        }
        let recognizerThreads = cfg.limits.recognizerThreads > 0 ? cfg.limits.recognizerThreads : cores
        let est = CapacityEstimate(cores: Double(cores), keyframeCPU: kf.cpu, recognizerThreads: Double(recognizerThreads),
                                   workers: Double(cfg.limits.recognizerWorkers), maxLabelAge: cfg.limits.maxLabelAge, streams: streams)
        print("| stream | priority | decoding cores (every frame / keyframes only) | recognized every s (every frame decoded / all shed) | recognitions per minute |")
        print("|---|---:|---:|---:|---:|")
        for s in streams {
            let note = byURL[cfg.streams.first { $0.id == s.id }!.url] == nil ? " (not opened: the others' mean)" : ""
            print(String(format: "| %@ | %d | %.3f / %.3f%@ | %.0f / %.0f | %.2f / %.2f |", s.id, s.priority, s.decodeCores, s.keyframeOnlyCores, note,
                         est.interval(s, shedAll: false), est.interval(s, shedAll: true),
                         60 / est.interval(s, shedAll: false), 60 / est.interval(s, shedAll: true)))
        }
        print(String(format: "recognizer: %.2f cores with every frame decoded (round %.0f s), %.2f with everything shed (round %.0f s)",
                     est.recognizerCores(shedAll: false), est.round(shedAll: false), est.recognizerCores(shedAll: true), est.round(shedAll: true)))
        switch est.verdict {
        case "ok": print("verdict: ok: every stream is recognized within limits.max_label_age with nothing shed")
        case "shedding": print("verdict: shedding: labels stay within limits.max_label_age only while streams shed per-frame work (docs/config.md, Overload)")
        default: print(String(format: "verdict: stale: even with everything shed a round takes %.0f s > limits.max_label_age %.0f s: fewer streams, a smaller model or more cores", est.round(shedAll: true), cfg.limits.maxLabelAge))
        }
        print("(per-frame tracking is not counted; the recognizer runs at nice \(cfg.limits.recognizerNice) and gets what decoding leaves; other load on this machine changes all of this)")
    }
}
