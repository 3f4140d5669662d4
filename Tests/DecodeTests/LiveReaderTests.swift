import Decode
import Foundation
import Testing

/// LiveReader on files (ends, loops, fails at once) and its backoff arithmetic.
@Suite struct LiveReaderTests {
    @Test func fileEnds() throws {
        let path = try TestMedia.clip(.init())
        let log = ReaderLog()
        let reader = LiveReader(url: path, onState: { log.record(state: $0.state.rawValue, reason: $0.reason) },
                                onFrame: { log.frame(pts: $0.pts) })
        reader.start()
        defer { reader.stop() }
        #expect(log.wait(10) { log.states.last == "ended" }, "\(log.states)")
        #expect(log.states == ["connecting", "streaming", "ended"])
        #expect(log.events.last?.reason == "end of file")
        #expect(log.frames == 50)
    }

    @Test func fileLoopsInRealTime() throws {
        let path = try TestMedia.clip(.init(seconds: 1))
        let log = ReaderLog()
        let reader = LiveReader(url: path, options: SourceOptions(loop: true, pacing: .realTime),
                                onState: { log.record(state: $0.state.rawValue, reason: $0.reason) },
                                onFrame: { log.frame(pts: $0.pts) })
        reader.start()
        let t0 = Date()
        #expect(log.wait(10) { log.frames >= 40 })  // 25 frames per pass: into the second pass
        let took = Date().timeIntervalSince(t0)
        reader.stop()
        #expect(took > 1.3 && took < 4, "40 real-time frames took \(took) s")
        #expect(log.states == ["connecting", "streaming", "ended"])
        #expect(log.events.last?.reason == "stopped")
    }

    @Test func unreadableFileFailsWithoutRetrying() throws {
        let log = ReaderLog()
        let reader = LiveReader(url: "/no/such/clip.mp4", reconnect: ReconnectPolicy(initialDelay: 0.01),
                                onState: { log.record(state: $0.state.rawValue, reason: $0.reason) },
                                onFrame: { _ in })
        reader.start()
        defer { reader.stop() }
        #expect(log.wait(5) { log.states.last == "failed" })
        #expect(log.states == ["connecting", "failed"])
        #expect(log.events.last!.reason.contains("/no/such/clip.mp4"))
    }

    @Test func liveSourceGivesUpAfterMaxAttempts() throws {
        let port = try TestSocket.unusedPort()
        let log = ReaderLog()
        let reader = LiveReader(
            url: "rtsp://u:secret@127.0.0.1:\(port)/x", options: SourceOptions(openTimeout: 2),
            reconnect: ReconnectPolicy(initialDelay: 0.05, maxDelay: 0.2, jitter: 0.5, maxAttempts: 3),
            onState: { log.record(state: $0.state.rawValue, reason: $0.reason) }, onFrame: { _ in })
        reader.start()
        defer { reader.stop() }
        #expect(log.wait(10) { log.states.last == "failed" }, "\(log.states)")
        #expect(log.states == ["connecting", "reconnecting", "connecting", "reconnecting", "connecting",
                               "reconnecting", "connecting", "failed"])
        #expect(log.events.last!.reason.hasPrefix("gave up after 3 attempts"))
        #expect(log.events.allSatisfy { !$0.reason.contains("secret") })
    }

    @Test func backoffDoublesUpToTheMaximumWithJitter() {
        let p = ReconnectPolicy(initialDelay: 0.5, maxDelay: 4, jitter: 0.2)
        #expect((1...6).map { p.delay(attempt: $0, random: 0) } == [0.5, 1, 2, 4, 4, 4])
        #expect(abs(p.delay(attempt: 2, random: 1) - 1.2) < 1e-12)
        #expect(abs(p.delay(attempt: 2, random: -1) - 0.8) < 1e-12)
        #expect(p.delay(attempt: 10, random: 5) == 4 * 1.2)  // random clamped to [-1, 1]
    }
}
