import Decode
import Foundation
import Testing

/// swscale conversions against the ffmpeg CLI's `-pix_fmt rgb24` output of the same frame.
///
/// Finding (FFmpeg 5.1.x here): with the same swscale flags our output equals the CLI's bit
/// for bit at every size tried (native, 224x224, 160x120, 1024x768). The CLI's own default
/// (`-sws_flags bicubic`, no full-chroma interpolation) equals `FrameConverter(flags: .bicubic)`;
/// our default (bilinear + accurate_rnd + full_chroma_int) equals
/// `ffmpeg -vf scale=W:H:flags=bilinear+accurate_rnd+full_chroma_int,format=rgb24`.
@Suite struct ConversionTests {
    static let cliFlags = "bilinear+accurate_rnd+full_chroma_int"

    static func frame(_ path: String, _ index: Int) throws -> VideoFrame {
        let source = try VideoSource(url: path)
        var last: VideoFrame?
        for _ in 0...index { last = try source.nextFrame() }
        return try #require(last)
    }

    /// Largest absolute byte difference (-1 when the sizes differ).
    static func maxDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
        guard a.count == b.count else { return -1 }
        return zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    @Test(arguments: [
        TestMedia.ClipSpec(codec: .h264, bframes: 3, container: "mp4"),
        TestMedia.ClipSpec(codec: .hevc, bframes: 0, container: "mkv"),
    ])
    func rgbMatchesFFmpegCLI(_ spec: TestMedia.ClipSpec) throws {
        let path = try TestMedia.clip(spec)
        let index = 7
        let frame = try Self.frame(path, index)
        let conv = FrameConverter()
        for (layout, w, h) in [(FrameLayout.native, 320, 240), (.size(width: 224, height: 224), 224, 224),
                               (.size(width: 160, height: 100), 160, 100)] {
            let mine = try conv.rgb(frame, layout)
            #expect(mine.width == w && mine.height == h && mine.bytes.count == w * h * 3)
            let ref = try TestMedia.ffmpegRGB(path, frame: index, width: w, height: h, swsFlags: Self.cliFlags)
            let d = Self.maxDiff(mine.bytes, ref)
            #expect(d >= 0 && d <= 1, "\(spec) \(layout): max diff \(d)")
        }
        // The CLI with no -sws_flags (bicubic) is matched by .bicubic at native size.
        let plain = try TestMedia.ffmpegRGB(path, frame: index, width: 320, height: 240, swsFlags: nil)
        let d = Self.maxDiff(try FrameConverter(flags: .bicubic).rgb(frame).bytes, plain)
        #expect(d >= 0 && d <= 1, "bicubic vs CLI default: \(d)")
    }

    @Test func framesConvertOnAnotherThreadAfterTheSourceIsGone() async throws {
        let path = try TestMedia.clip(.init())
        var kept: [VideoFrame] = []
        do {
            let source = try VideoSource(url: path)
            while let f = try source.nextFrame() { if f.index % 10 == 0 { kept.append(f) } }
        }
        let expected = try FrameConverter().rgb(kept[2]).bytes
        let frames = kept
        let fromTask = try await Task.detached { try FrameConverter().rgb(frames[2]).bytes }.value
        #expect(fromTask == expected)
        let ref = try TestMedia.ffmpegRGB(path, frame: 20, width: 320, height: 240, swsFlags: Self.cliFlags)
        #expect(Self.maxDiff(fromTask, ref) <= 1)
    }

    @Test func decodeImageReadsPNGAndJPEG() throws {
        let dir = try TestMedia.makeTempDir("decode-images")
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = try TestMedia.clip(.init())
        let png = dir.appendingPathComponent("still 100%.png").path  // odd name on purpose
        let jpg = dir.appendingPathComponent("still.jpg").path
        try TestMedia.ffmpeg(["-i", clip, "-frames:v", "1", "-pix_fmt", "rgb24", png])
        try TestMedia.ffmpeg(["-i", clip, "-frames:v", "1", "-q:v", "3", jpg])

        let p = try decodeImage(path: png)
        #expect(p.width == 320 && p.height == 240)
        let pngRef = try TestMedia.ffmpegRGB(png, frame: 0, width: 320, height: 240, swsFlags: Self.cliFlags)
        #expect(p.bytes == pngRef)

        let j = try decodeImage(path: jpg)
        #expect(j.width == 320 && j.height == 240)
        let jpgRef = try TestMedia.ffmpegRGB(jpg, frame: 0, width: 320, height: 240, swsFlags: Self.cliFlags)
        #expect(Self.maxDiff(j.bytes, jpgRef) <= 1 && Self.maxDiff(j.bytes, jpgRef) >= 0)
        // The JPEG is lossy but close to the PNG.
        let mean = zip(j.bytes, p.bytes).map { abs(Double($0) - Double($1)) }.reduce(0, +) / Double(p.bytes.count)
        #expect(mean < 8, "JPEG vs PNG mean abs diff \(mean)")
    }
}
