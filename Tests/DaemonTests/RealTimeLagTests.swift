import Testing
@testable import Daemon

@Suite("Real-time lag")
struct RealTimeLagTests {
    @Test("a stream on time has no lag; a slow one accumulates it; early frames move the anchor")
    func lag() {
        var m = RealTimeLag()
        // 25 fps handed over exactly on time, with 10 ms of jitter either way.
        for i in 0..<50 {
            let pts = Double(i) / 25
            let l = m.observe(pts: pts, wall: 1000 + pts + (i % 2 == 0 ? 0.01 : -0.01))
            #expect(l <= 0.0201)
        }
        #expect(m.lateFrames == 0)
        // Processing at 20 fps: each frame 10 ms later than the last one's slack.
        var last = 0.0
        for i in 50..<150 {
            let pts = Double(i) / 25
            last = m.observe(pts: pts, wall: 1000 + 2 + Double(i - 50) / 20)
        }
        // 100 frames, 4 s of stream in 5 s of wall time -> ~1 s behind (+ the early anchor's 10 ms).
        #expect(abs(last - 1.01) < 0.06)
        #expect(m.maxLag >= last)
        #expect(m.lateFrames > 40 && m.lateFrames < 60)  // frames from ~0.5 s behind on
        // Timestamps going backwards (a reconnect) start a new anchor: no lag right after.
        #expect(m.observe(pts: 0, wall: 2000) == 0)
        #expect(m.observe(pts: 0.04, wall: 2000.04) < 1e-9)
        m.reset()
        #expect(m.observe(pts: 100, wall: 3000) == 0)
    }
}
