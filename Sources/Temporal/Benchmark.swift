// A per-frame cost probe for `regionspotd bench`: motion-vector binning plus
// propagation of N tracks, on a synthetic 1080p field. Timing lives here, never in tests.

import Foundation

public enum TemporalBenchmark {
    /// Milliseconds per non-keyframe (bin `vectors` vectors, move `tracks` tracks), the
    /// median over `iterations` frames after a warm-up.
    public static func benchmarkFrame(tracks: Int = 50, vectors: Int = 14_000,
                                      width: Float = 1920, height: Float = 1080,
                                      iterations: Int = 200) -> Double {
        var rng = SplitMix64(seed: 42)
        var tracker = Tracker()
        var proposals: [Proposal] = []
        for _ in 0..<tracks {
            let w = Float(rng.uniform(40, 240)), h = Float(rng.uniform(40, 240))
            let x = Float(rng.uniform(0, Double(width - w))), y = Float(rng.uniform(0, Double(height - h)))
            proposals.append(Proposal(box: Box(x1: x, y1: y, x2: x + w, y2: y + h), score: 0.9))
        }
        tracker.update(frame: FrameInfo(index: 0, time: 0, width: width, height: height), proposals: proposals)
        // A field on an 8x8-ish block grid with small random displacements.
        var samples: [MotionSample] = []
        samples.reserveCapacity(vectors)
        let step = (Double(width * height) / Double(max(vectors, 1))).squareRoot()
        var y = step / 2
        outer: while true {
            var x = step / 2
            while x < Double(width) {
                if samples.count == vectors { break outer }
                samples.append(MotionSample(x: Float(x), y: Float(y),
                                            dx: Float(rng.uniform(-3, 3)), dy: Float(rng.uniform(-3, 3))))
                x += step
            }
            y += step
            if y >= Double(height) { y = step / 2 }
        }
        var times: [Double] = []
        for i in 0..<(iterations + 10) {
            let frame = FrameInfo(index: i + 1, time: Double(i + 1) / 30, width: width, height: height)
            let t0 = DispatchTime.now().uptimeNanoseconds
            tracker.propagate(to: frame, motion: samples)
            let t1 = DispatchTime.now().uptimeNanoseconds
            if i >= 10 { times.append(Double(t1 - t0) / 1e6) }
        }
        times.sort()
        return times[times.count / 2]
    }
}

/// Small deterministic generator (SplitMix64) for synthetic data and benchmarks.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    public mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)
    }
    /// Standard normal (Box-Muller).
    public mutating func normal() -> Double {
        let u = max(uniform(0, 1), 1e-300), v = uniform(0, 1)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}
