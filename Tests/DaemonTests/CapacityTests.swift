// The capacity arithmetic of `bench --capacity` with computed values.
import Testing
@testable import Daemon

@Suite("Capacity estimate")
struct CapacityTests {
    func stream(_ id: String, _ cores: Double, _ key: Double) -> CapacityEstimate.Stream {
        .init(id: id, priority: 0, decodeCores: cores, keyframeOnlyCores: key, minInterval: 1)
    }

    @Test("12 x 1080p on 2 cores with a 12 CPU-s keyframe: sheds; 4 streams fit; 16 with a 20 CPU-s keyframe do not")
    func rounds() {
        var e = CapacityEstimate(cores: 2, keyframeCPU: 12, recognizerThreads: 2, maxLabelAge: 120,
                                 streams: (1...12).map { stream("c\($0)", 0.15, 0.01) })
        // decoding takes 1.8 cores: the recognizer gets 0.2 -> 12 x 60 s
        #expect(abs(e.recognizerCores(shedAll: false) - 0.2) < 1e-9)
        #expect(abs(e.round(shedAll: false) - 720) < 1e-6)
        // everything shed: 2 - 0.12 = 1.88 cores -> 12 x 6.38 s = 76.6 s
        #expect(abs(e.round(shedAll: true) - 12 * 12 / 1.88) < 1e-6)
        #expect(e.verdict == "shedding")
        #expect(abs(e.interval(e.streams[0], shedAll: true) - 76.595744680851) < 1e-6)
        e.streams = Array(e.streams.prefix(4))  // 2 - 0.6 = 1.4 cores: 4 x 8.57 = 34 s <= 96 s
        #expect(e.verdict == "ok")
        e.streams = (1...16).map { stream("c\($0)", 0.15, 0.01) }
        e.keyframeCPU = 20  // decoding 2.4 cores > 2: the recognizer keeps its 5% floor; shed: 16 x 20 / 1.84 = 174 s
        #expect(e.recognizerCores(shedAll: false) == 0.05)
        #expect(e.verdict == "stale")
        // a short round is bounded below by min_interval; threads cap the recognizer's cores
        let idle = CapacityEstimate(cores: 8, keyframeCPU: 0.2, recognizerThreads: 2, maxLabelAge: 60, streams: [stream("a", 0.1, 0)])
        #expect(idle.recognizerCores(shedAll: false) == 2)
        #expect(idle.interval(idle.streams[0], shedAll: false) == 1)
    }
}
