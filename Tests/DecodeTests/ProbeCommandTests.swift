import Foundation
import Testing

/// `regionspotd probe` end to end: the built binary (next to this test bundle) against
/// ffprobe's counts, on files and on a live RTSP server.
@Suite struct ProbeCommandTests {
    static var binary: String {
        get throws {
            let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
            return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("regionspotd").path
        }
    }

    static func probe(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let bin = try binary
        try #require(FileManager.default.isExecutableFile(atPath: bin), "build regionspotd first (swift build --build-tests)")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: bin)
        p.arguments = ["probe"] + args
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let errData = TestMedia.DataBox()
        let t = Thread { errData.data = err.fileHandleForReading.readDataToEndOfFile() }
        t.start()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !errData.done { Thread.sleep(forTimeInterval: 0.005) }
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: errData.data ?? Data(), as: UTF8.self))
    }

    static func json(_ s: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(s.utf8)) as? [String: Any])
    }

    @Test(arguments: [
        TestMedia.ClipSpec(codec: .h264, bframes: 3, container: "mp4"),
        TestMedia.ClipSpec(codec: .hevc, bframes: 0, container: "mkv"),
    ])
    func jsonCountsMatchFFprobe(_ spec: TestMedia.ClipSpec) throws {
        let path = try TestMedia.clip(spec)
        let r = try Self.probe([path, "--json", "--motion-vectors"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try Self.json(r.stdout)
        #expect(j["codec"] as? String == spec.codec.rawValue)
        #expect(j["width"] as? Int == spec.width && j["height"] as? Int == spec.height)
        #expect(j["frames"] as? Int == (try TestMedia.ffprobeFrameCount(path)))
        #expect(j["keyframes"] as? Int == (try TestMedia.ffprobeFrameCount(path, keyframesOnly: true)))
        #expect(abs((j["seconds"] as? Double ?? 0) - spec.seconds) < 0.01)
        #expect(abs((j["frameRate"] as? Double ?? 0) - Double(spec.fps)) < 0.01)
        let mv = try #require(j["motionVectors"] as? [String: Any])
        if spec.codec == .h264 { #expect((mv["vectors"] as? Int ?? 0) > 100) }
        else { #expect(mv["vectors"] as? Int == 0) }  // HEVC exports none

        let keys = try Self.json(try Self.probe([path, "--json", "--keyframes-only"]).stdout)
        #expect(keys["frames"] as? Int == (try TestMedia.ffprobeFrameCount(path, keyframesOnly: true)))
        #expect(keys["frames"] as? Int == keys["keyframes"] as? Int)
    }

    @Test func textOutputAndErrors() throws {
        let path = try TestMedia.clip(.init())
        let text = try Self.probe([path])
        #expect(text.status == 0)
        for needle in ["codec       h264", "size        320x240", "frame rate  25.000 fps", "frames      50", "keyframes   2"] {
            #expect(text.stdout.contains(needle), "missing '\(needle)' in:\n\(text.stdout)")
        }
        let missing = try Self.probe(["/definitely/not/here.mp4"])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("/definitely/not/here.mp4") && missing.stderr.contains("No such file"))
        let secret = try Self.probe(["rtsp://admin:hunter2@127.0.0.1:\(try TestSocket.unusedPort())/x", "--open-timeout", "2"])
        #expect(secret.status != 0 && secret.stderr.contains("rtsp://***@127.0.0.1"))
        #expect(!secret.stderr.contains("hunter2") && !secret.stdout.contains("hunter2"))
        #expect(try Self.probe([path, "--transport", "quic"]).status != 0)
    }

    @Test func liveSourceForSeconds() throws {
        let server = try RTSPTestServer()
        defer { server.kill() }
        try server.start()
        let t0 = Date()
        let r = try Self.probe([server.url, "--json", "--seconds", "1.5", "--transport", "udp"])
        let took = Date().timeIntervalSince(t0)
        #expect(r.status == 0, "\(r.stderr)")
        let j = try Self.json(r.stdout)
        #expect(j["live"] as? Bool == true && j["codec"] as? String == "h264")
        // 1.5 s of streaming at 25 fps, plus the ~1 s burst libavformat buffered while
        // opening: ~60 frames; bounds leave room for a loaded machine.
        let frames = j["frames"] as? Int ?? 0
        #expect(frames >= 38 && frames <= 110, "\(frames) frames")
        #expect((j["keyframes"] as? Int ?? 0) >= 1)
        #expect(took < 20, "probe took \(took) s: \(r.stdout) \(r.stderr)")
    }
}
