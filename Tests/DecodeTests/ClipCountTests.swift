import Decode
import Foundation
import Testing

/// Frame and keyframe counts against ffprobe, timestamps, and stream info, on clips
/// generated with the ffmpeg CLI (H.264 with and without B-frames, HEVC, MP4 and MKV).
@Suite struct ClipCountTests {
    static let specs: [TestMedia.ClipSpec] = [
        .init(codec: .h264, bframes: 0, container: "mp4"),
        .init(codec: .h264, bframes: 3, container: "mp4"),
        .init(codec: .h264, bframes: 3, container: "mkv"),
        .init(codec: .hevc, bframes: 0, container: "mkv"),
        .init(codec: .hevc, bframes: 3, container: "mp4"),
    ]

    struct Decoded {
        var frames: [VideoFrame] = []
        var keyframes: Int { frames.filter(\.isKeyframe).count }
    }

    static func decodeAll(_ path: String, _ options: SourceOptions = SourceOptions()) throws -> (VideoSource, Decoded) {
        let source = try VideoSource(url: path, options: options)
        var d = Decoded()
        while let f = try source.nextFrame() { d.frames.append(f) }
        return (source, d)
    }

    @Test(arguments: specs)
    func countsMatchFFprobe(_ spec: TestMedia.ClipSpec) throws {
        let path = try TestMedia.clip(spec)
        let expectedFrames = try TestMedia.ffprobeFrameCount(path)
        let expectedKeys = try TestMedia.ffprobeFrameCount(path, keyframesOnly: true)
        #expect(expectedFrames == Int(spec.seconds * Double(spec.fps)))
        #expect(expectedKeys == expectedFrames / spec.gop)

        let (source, all) = try Self.decodeAll(path)
        #expect(all.frames.count == expectedFrames)
        #expect(all.keyframes == expectedKeys)
        #expect(source.framesDecoded == expectedFrames)
        #expect(source.keyframesDecoded == expectedKeys)
        #expect(source.corruptPackets == 0)
        #expect(source.info.codec == spec.codec.rawValue)
        #expect(source.info.width == spec.width && source.info.height == spec.height)
        #expect(abs(source.info.frameRate - Double(spec.fps)) < 0.01)
        #expect(!source.info.isLive)

        // Presentation order: PTS strictly increasing, one frame apart, none estimated.
        let pts = all.frames.map(\.pts)
        for i in 1..<pts.count {
            #expect(pts[i] > pts[i - 1], "pts[\(i)] = \(pts[i]) after \(pts[i - 1])")
            #expect(abs(pts[i] - pts[i - 1] - 1.0 / Double(spec.fps)) < 1e-3)
        }
        #expect(all.frames.allSatisfy { !$0.ptsEstimated })
        #expect(all.frames.map(\.index) == Array(0..<expectedFrames))
        // Fixed GOP: keyframes exactly every `gop` frames, and they are I pictures.
        #expect(all.frames.enumerated().allSatisfy { ($0.offset % spec.gop == 0) == $0.element.isKeyframe })
        #expect(all.frames.filter(\.isKeyframe).allSatisfy { $0.pictureType == .i })
        if spec.bframes > 0 { #expect(all.frames.contains { $0.pictureType == .b }) }
        else { #expect(!all.frames.contains { $0.pictureType == .b }) }
        #expect(all.frames.allSatisfy { $0.width == spec.width && $0.height == spec.height })

        // Keyframes-only mode decodes exactly ffprobe's `-skip_frame nokey` frames.
        let (_, keys) = try Self.decodeAll(path, SourceOptions(keyframesOnly: true))
        #expect(keys.frames.count == expectedKeys)
        #expect(keys.frames.allSatisfy { $0.isKeyframe })
        #expect(keys.frames.map(\.pts) == all.frames.filter(\.isKeyframe).map(\.pts))
    }

    @Test func decoderThreadsGiveTheSameFrames() throws {
        let path = try TestMedia.clip(.init(codec: .h264, bframes: 3))
        let (_, one) = try Self.decodeAll(path, SourceOptions(decoderThreads: 1))
        let (_, two) = try Self.decodeAll(path, SourceOptions(decoderThreads: 2))
        #expect(one.frames.count == 50)
        #expect(one.frames.map(\.pts) == two.frames.map(\.pts))
        let conv = FrameConverter()
        let a = try conv.rgb(one.frames[37]), b = try conv.rgb(two.frames[37])
        #expect(a.bytes == b.bytes)
    }

    @Test func fileURLsOpenLikePaths() throws {
        let path = try TestMedia.clip(.init())
        let (_, viaURL) = try Self.decodeAll("file:" + path)
        #expect(viaURL.frames.count == 50)
    }

    @Test func loopingKeepsPTSIncreasing() throws {
        let path = try TestMedia.clip(.init(codec: .h264, bframes: 3))
        let source = try VideoSource(url: path, options: SourceOptions(loop: true))
        var frames: [VideoFrame] = []
        for _ in 0..<130 { frames.append(try #require(try source.nextFrame())) }
        let pts = frames.map(\.pts)
        for i in 1..<pts.count { #expect(abs(pts[i] - pts[i - 1] - 0.04) < 1e-3, "at \(i)") }
        #expect(frames.filter(\.isKeyframe).count == 6)  // frames 0, 25, 50 (pass 2), 75, 100, 125
        #expect(frames.map(\.index) == Array(0..<130))
    }

    @Test func realTimePacingFollowsPTS() throws {
        let path = try TestMedia.clip(.init())
        let source = try VideoSource(url: path, options: SourceOptions(pacing: .realTime))
        let start = Date()
        for _ in 0..<13 { _ = try #require(try source.nextFrame()) }  // 12 intervals of 40 ms
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed > 0.45 && elapsed < 1.5, "took \(elapsed) s")
        let fast = try VideoSource(url: path)
        let t0 = Date()
        while try fast.nextFrame() != nil {}
        #expect(Date().timeIntervalSince(t0) < 1.5)  // 2 s of video, unpaced
    }
}
