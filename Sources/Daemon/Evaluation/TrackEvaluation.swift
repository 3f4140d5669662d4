// The tracker evaluation: decode a synthetic scene's H.264 file with motion vectors, feed
// the tracker proposals made from the ground truth plus noise on inference keyframes only,
// and score the published tracks with the MOT metrics. Both propagation modes (codec
// motion vectors, constant-velocity Kalman only) see the same frames and proposals.
//
// Stand-ins (there is no recognizer in the loop): each object's SAM region token is a
// fixed random unit vector per object plus fresh Gaussian noise per keyframe; its semantic
// embedding is its class's random text embedding plus noise. False positives get random
// tokens and embeddings.

import Decode
import Foundation
import Temporal

/// One decoded frame's clock and motion.
struct MotionFrame: Sendable {
    var index: Int
    var time: Double
    var isKeyframe: Bool
    /// Past-reference vectors as tracker samples; nil on intra frames.
    var samples: [MotionSample]?
}

struct ProposalNoise: Sendable, Codable {
    /// Box corner jitter std, as a fraction of the box size.
    var jitter: Float = 0.04
    /// Probability that a visible object gets no proposal on a keyframe.
    var missRate: Double = 0.1
    /// Mean false positives per keyframe (Poisson).
    var falsePositives: Double = 0.5
    /// Probability that a true proposal has a low score (ByteTrack's second stage).
    var lowScoreRate: Double = 0.15
    /// Objects less visible than this get no proposal and are "don't care" in the metrics.
    var minVisibility: Float = 0.4
    var tokenDim = 32
    /// Std of the token noise per component x sqrt(dim) (0.5: cosine ~0.9 to the object's).
    var tokenNoise: Float = 0.5
    var embeddingNoise: Float = 0.8
}

struct EvalResult: Sendable, Codable {
    var interval: Double
    var motionVectors: Bool
    var summary: MOTSummary
    /// Mean IoU, on the last frame before each inference keyframe, between each track and
    /// the object it was matched to at the previous inference keyframe (0 if it vanished).
    var lastFrameIoU: Double
    var lastFramePairs: Int
    /// Share of matched regions whose label is the object's class.
    var labelAccuracy: Double
    /// Tracker propagate+update time per frame, milliseconds.
    var msPerFrame: Double
}

enum TrackEvaluation {
    /// Decodes `url` with motion vectors into per-frame samples.
    static func decodeMotion(_ url: URL) throws -> (frames: [MotionFrame], width: Int, height: Int, fps: Double) {
        let src = try VideoSource(url: url.path, options: SourceOptions(decoderThreads: 1, motionVectors: true))
        var frames: [MotionFrame] = []
        while let f = try src.nextFrame() {
            frames.append(MotionFrame(index: f.index, time: f.pts, isKeyframe: f.isKeyframe, samples: f.motionSamples))
        }
        return (frames, src.info.width, src.info.height, src.info.frameRate)
    }

    /// The tracker settings the evaluation uses: the library defaults. (Decode keeps only
    /// non-zero vectors; `missingBlocksAreStatic` would count the gaps as still blocks,
    /// but intra and skipped blocks make that guess wrong often enough that it lost here.)
    static func trackerConfig(motionVectors: Bool) -> TrackerConfig {
        var c = TrackerConfig()
        c.useMotionVectors = motionVectors
        return c
    }

    /// Runs one scene at one keyframe interval in one mode. Accumulates into `acc` (ids
    /// offset per scene by the caller through `idOffset`).
    static func run(truth: SceneTruth, motion: [MotionFrame], interval: Double, motionVectors: Bool,
                    noise: ProposalNoise, seed: UInt64, idOffset: Int,
                    acc: inout MOTAccumulator, stats: inout RunStats) {
        let c = truth.config
        let width = Float(c.width), height = Float(c.height)
        let step = max(1, Int((interval * Double(c.fps)).rounded()))
        // Same stand-ins and proposals in both modes: the generator depends on seed and
        // interval only.
        var rng = SplitMix64(seed: seed &* 1_000_003 &+ UInt64(step))
        let objectIDs = Set(truth.frames.flatMap { $0.map(\.id) })
        var tokens: [Int: [Float]] = [:]
        for id in objectIDs.sorted() { tokens[id] = randomUnit(noise.tokenDim, &rng) }
        let classVectors = (0..<SyntheticScene.classCount).map { _ in randomUnit(noise.tokenDim, &rng) }
        let vocab = try! TrackerVocabulary(names: (0..<SyntheticScene.classCount).map { "class\($0)" },
                                    embeddings: classVectors.flatMap { $0 }, dim: noise.tokenDim, scale: 20)
        var tracker = Tracker(config: trackerConfig(motionVectors: motionVectors), vocabulary: vocab)
        var pairs: [(track: UInt64, object: Int)] = []
        var previous: [TrackedRegion] = []
        var clock: Double = 0
        for (i, fr) in motion.enumerated() where i < truth.frames.count {
            let info = FrameInfo(index: i, time: Double(i) / Double(c.fps), width: width, height: height)
            let objects = truth.frames[i]
            let t0 = DispatchTime.now().uptimeNanoseconds
            tracker.propagate(to: info, motion: fr.samples)
            let inference = i % step == 0
            var proposals: [Proposal] = []
            if inference {
                proposals = makeProposals(objects, noise: noise, tokens: tokens, classes: classVectors,
                                          width: width, height: height, rng: &rng)
            }
            let t1 = DispatchTime.now().uptimeNanoseconds
            if inference { tracker.update(frame: info, proposals: proposals) }
            let regions = tracker.regions()
            clock += Double(DispatchTime.now().uptimeNanoseconds - t1 + (t1 - t0)) / 1e6
            if inference && i > 0 {
                // Last propagated frame before this keyframe: how well did the boxes follow?
                let before = Dictionary(uniqueKeysWithValues: previous.map { ($0.trackID, $0.box) })
                let truthBefore = Dictionary(uniqueKeysWithValues: truth.frames[i - 1]
                    .filter { $0.visibility >= noise.minVisibility }.map { ($0.id, $0.box) })
                for p in pairs {
                    guard let tb = truthBefore[p.object] else { continue }
                    stats.lastIoUSum += Double(before[p.track]?.iou(tb) ?? 0)
                    stats.lastIoUCount += 1
                }
            }
            // Score this frame: objects below minVisibility are "don't care".
            let cared = objects.filter { $0.visibility >= noise.minVisibility }
            let ignored = objects.filter { $0.visibility < noise.minVisibility }
            let hyps = regions.filter { r in
                !(ignored.contains { $0.box.iou(r.box) >= 0.5 } && !cared.contains { $0.box.iou(r.box) >= 0.5 })
            }
            acc.update(objects: cared.map { ($0.id + idOffset, $0.box) },
                       hypotheses: hyps.map { (Int($0.trackID) + idOffset * 1000, $0.box) })
            let matched = matchByIoU(cared, hyps)
            for (o, h) in matched {
                stats.labelTotal += 1
                if hyps[h].label == cared[o].classIndex { stats.labelCorrect += 1 }
            }
            if inference { pairs = matched.map { (hyps[$0.1].trackID, cared[$0.0].id) } }
            previous = regions
            stats.frames += 1
        }
        stats.milliseconds += clock
    }

    struct RunStats {
        var lastIoUSum = 0.0, lastIoUCount = 0
        var labelCorrect = 0, labelTotal = 0
        var frames = 0, milliseconds = 0.0
    }

    /// Truth + noise -> keyframe proposals.
    static func makeProposals(_ objects: [TruthObject], noise: ProposalNoise, tokens: [Int: [Float]],
                              classes: [[Float]], width: Float, height: Float,
                              rng: inout SplitMix64) -> [Proposal] {
        var out: [Proposal] = []
        for o in objects where o.visibility >= noise.minVisibility {
            if rng.uniform(0, 1) < noise.missRate { continue }
            let b = o.box
            func j(_ size: Float) -> Float { Float(rng.normal()) * noise.jitter * size }
            let box = Box(x1: b.x1 + j(b.width), y1: b.y1 + j(b.height), x2: b.x2 + j(b.width), y2: b.y2 + j(b.height))
                .clipped(width: width, height: height)
            let score = rng.uniform(0, 1) < noise.lowScoreRate ? rng.uniform(0.15, 0.5) : rng.uniform(0.6, 0.99)
            out.append(Proposal(box: box, score: Float(score),
                                regionToken: noisy(tokens[o.id]!, noise.tokenNoise, &rng),
                                embedding: noisy(classes[o.classIndex], noise.embeddingNoise, &rng),
                                source: "truth+noise"))
        }
        var fp = 0
        let l = exp(-noise.falsePositives)
        var p = rng.uniform(0, 1)
        while p > l { fp += 1; p *= rng.uniform(0, 1) }
        for _ in 0..<fp {
            let w = Float(rng.uniform(0.05, 0.15)) * width, h = Float(rng.uniform(0.1, 0.25)) * height
            let x = Float(rng.uniform(0, Double(width - w))), y = Float(rng.uniform(0, Double(height - h)))
            out.append(Proposal(box: Box(x1: x, y1: y, x2: x + w, y2: y + h), score: Float(rng.uniform(0.1, 0.75)),
                                regionToken: randomUnit(noise.tokenDim, &rng),
                                embedding: randomUnit(noise.tokenDim, &rng), source: "truth+noise"))
        }
        return out
    }

    /// Optimal IoU >= 0.5 matching of objects to regions: (object index, region index).
    static func matchByIoU(_ objects: [TruthObject], _ regions: [TrackedRegion]) -> [(Int, Int)] {
        var d = [Double](repeating: .infinity, count: objects.count * regions.count)
        for (i, o) in objects.enumerated() {
            for (k, r) in regions.enumerated() {
                let iou = Double(o.box.iou(r.box))
                if iou >= 0.5 { d[i * regions.count + k] = 1 - iou }
            }
        }
        return Assignment.solve(costs: d, rows: objects.count, cols: regions.count).map { ($0.row, $0.col) }
    }

    static func randomUnit(_ n: Int, _ rng: inout SplitMix64) -> [Float] {
        l2Normalized((0..<n).map { _ in Float(rng.normal()) })
    }

    static func noisy(_ v: [Float], _ std: Float, _ rng: inout SplitMix64) -> [Float] {
        let s = std / Float(v.count).squareRoot()
        return v.map { $0 + s * Float(rng.normal()) }
    }
}
