import Decode
import Foundation
import Testing

/// Real RTSP: a GStreamer RTSP server on 127.0.0.1 (started per test on a free port).
@Suite(.serialized) struct RTSPTests {
    @Test(arguments: SourceOptions.Transport.allCases)
    func framesArrive(_ transport: SourceOptions.Transport) throws {
        let server = try RTSPTestServer()
        defer { server.kill() }
        try server.start()
        let source = try VideoSource(url: server.url, options: SourceOptions(transport: transport, openTimeout: 10))
        #expect(source.info.isLive && source.info.codec == "h264")
        #expect(source.info.width == 320 && source.info.height == 240)
        var frames: [VideoFrame] = []
        let t0 = Date()
        while frames.count < 30, Date().timeIntervalSince(t0) < 15, let f = try source.nextFrame() { frames.append(f) }
        #expect(frames.count == 30)
        #expect(frames.allSatisfy { $0.width == 320 && $0.height == 240 })
        // Only a leading frame may lack a timestamp (before the first RTCP sync) and be estimated.
        #expect(frames.dropFirst().allSatisfy { !$0.ptsEstimated })
        #expect(frames.filter(\.isKeyframe).count >= 1)
        for i in 1..<frames.count {
            #expect(frames[i].pts > frames[i - 1].pts)
            #expect(frames[i].arrival >= frames[i - 1].arrival)
        }
        // Live at 25 fps: 30 frames span ~1.2 s of PTS.
        let span = frames.last!.pts - frames.first!.pts
        #expect(abs(span - 29.0 / 25) < 0.1, "PTS span \(span)")
        let rgb = try FrameConverter().rgb(frames.last!)
        #expect(rgb.bytes.count == 320 * 240 * 3 && rgb.bytes.contains { $0 > 0 })
    }

    /// Over TCP a killed server is an immediate end of stream; over UDP nothing arrives any
    /// more, so the stall watchdog notices it.
    @Test(arguments: SourceOptions.Transport.allCases)
    func readerReconnectsAfterTheServerIsKilledAndRestarted(_ transport: SourceOptions.Transport) throws {
        let server = try RTSPTestServer()
        defer { server.kill() }
        try server.start()
        let log = ReaderLog()
        let reader = LiveReader(
            url: server.url, options: SourceOptions(transport: transport, openTimeout: 5, stallTimeout: 2),
            reconnect: ReconnectPolicy(initialDelay: 0.2, maxDelay: 1, jitter: 0.2),
            onState: { log.record(state: $0.state.rawValue, reason: $0.reason) },
            onFrame: { log.frame(pts: $0.pts) })
        reader.start()
        defer { reader.stop() }
        #expect(log.wait(15) { log.frames >= 10 }, "no frames: \(log.states)")
        #expect(log.states.prefix(2) == ["connecting", "streaming"])

        server.kill()
        #expect(log.wait(10) { log.states.contains("reconnecting") }, "states: \(log.states)")
        let reconnect = try #require(log.events.first { $0.state == "reconnecting" })
        if transport == .tcp {
            #expect(reconnect.reason.contains("end of stream") || reconnect.reason.contains("read failed"), "\(reconnect.reason)")
        } else {
            #expect(reconnect.reason.contains("stalled") || reconnect.reason.contains("end of stream"), "\(reconnect.reason)")
        }
        Thread.sleep(forTimeInterval: 1.0)  // a few failed attempts against a closed port
        let framesWhileDown = log.frames

        try server.start()
        #expect(log.wait(20) { log.frames >= framesWhileDown + 10 }, "frames did not resume: \(log.states)")
        let lastStreaming = try #require(log.events.lastIndex { $0.state == "streaming" })
        let firstReconnecting = try #require(log.events.firstIndex { $0.state == "reconnecting" })
        #expect(lastStreaming > firstReconnecting)
        reader.stop()
        #expect(log.states.last == "ended")
        #expect(!log.states.contains("failed"))
    }

    @Test func stallIsReportedWithinTheBound() throws {
        let server = try RTSPTestServer()
        defer { server.kill() }
        try server.start()
        let log = ReaderLog()
        let stallTimeout = 2.0
        let reader = LiveReader(
            url: server.url, options: SourceOptions(openTimeout: 3, stallTimeout: stallTimeout),
            reconnect: ReconnectPolicy(initialDelay: 0.2, maxDelay: 1),
            onState: { log.record(state: $0.state.rawValue, reason: $0.reason) },
            onFrame: { log.frame(pts: $0.pts) })
        reader.start()
        defer { reader.stop() }
        #expect(log.wait(15) { log.frames >= 10 }, "no frames: \(log.states)")

        server.pause()
        let frozeAt = Date()
        #expect(log.wait(stallTimeout + 4) { log.states.contains("stalled") }, "states: \(log.states)")
        let stalled = try #require(log.events.first { $0.state == "stalled" })
        let after = stalled.at.timeIntervalSince(frozeAt)
        #expect(after <= stallTimeout + 2, "stall reported after \(after) s")
        #expect(after >= stallTimeout - 0.5, "stall reported too early (\(after) s)")
        #expect(stalled.reason.contains("stalled"))
        #expect(log.wait(3) { log.states.contains("reconnecting") })

        server.resume()
        let framesBefore = log.frames
        #expect(log.wait(20) { log.frames >= framesBefore + 10 }, "frames did not resume: \(log.states)")
        let t0 = Date()
        reader.stop()
        #expect(Date().timeIntervalSince(t0) < 3, "stop took \(Date().timeIntervalSince(t0)) s")
    }

    @Test func stopInterruptsAHangingOpen() throws {
        let silent = try TestSocket.listening()  // accepts TCP, never answers RTSP
        defer { silent.close() }
        let log = ReaderLog()
        let reader = LiveReader(
            url: "rtsp://user:pw@127.0.0.1:\(silent.port)/x", options: SourceOptions(openTimeout: 30),
            onState: { log.record(state: $0.state.rawValue, reason: $0.reason) }, onFrame: { _ in })
        reader.start()
        #expect(log.wait(5) { log.states.contains("connecting") })
        Thread.sleep(forTimeInterval: 0.3)
        let t0 = Date()
        reader.stop()
        #expect(Date().timeIntervalSince(t0) < 2)
        #expect(log.states == ["connecting", "ended"])
        #expect(log.events.allSatisfy { !$0.reason.contains("pw") })
    }
}
