import Decode
import Foundation
import Testing

/// VideoEncoder: RGB24 pictures -> MP4 that FFmpeg reads back with the same frames,
/// timestamps and (up to compression) pixels; odd sizes, size changes, no leaks.
@Suite struct VideoEncoderTests {
    /// A 96x64 picture: a horizontal gradient with a bright square at column 4*i.
    static func picture(_ i: Int, width: Int = 96, height: Int = 64) -> RGBImage {
        var px = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let p = (y * width + x) * 3
                let inSquare = x >= 4 * i && x < 4 * i + 16 && y >= 20 && y < 36
                px[p] = inSquare ? 250 : UInt8(x * 255 / width)
                px[p + 1] = inSquare ? 240 : UInt8(y * 255 / height)
                px[p + 2] = inSquare ? 30 : 128
            }
        }
        return RGBImage(width: width, height: height, bytes: px)
    }

    @Test func writesAnMP4WithEveryFrameAndItsTimestamps() throws {
        let dir = try TestMedia.makeTempDir("encoder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("out.mp4").path
        let enc = try VideoEncoder(path: path, width: 96, height: 64, frameRate: 10)
        #expect(enc.codecName == "libx264")
        // Variable frame rate: 0.0, 0.1, ..., then a gap before the last.
        let pts = (0..<19).map { Double($0) / 10 } + [2.5]
        for (i, t) in pts.enumerated() { try enc.write(Self.picture(i), pts: t) }
        try enc.finish()
        try enc.finish()  // idempotent
        #expect(enc.framesWritten == 20)
        #expect(try TestMedia.ffprobeFrameCount(path) == 20)
        #expect(try TestMedia.ffprobe(["-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", path])
                == "h264,96,64")
        let times = try TestMedia.ffprobe(["-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0", path])
            .split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: CharacterSet(charactersIn: ", "))) }
        #expect(times.count == 20)
        for (a, b) in zip(times, pts) { #expect(abs(a - b) < 0.001, "pts \(a) != \(b)") }

        // Read back with VideoSource: pixels match up to compression.
        let source = try VideoSource(url: path)
        let conv = FrameConverter()
        var i = 0
        while let f = try source.nextFrame() {
            let rgb = try conv.rgb(f)
            let want = Self.picture(i).bytes
            let mean = zip(rgb.bytes, want).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }
            #expect(Double(mean) / Double(want.count) < 6, "frame \(i) differs by \(Double(mean) / Double(want.count)) on average")
            i += 1
        }
        #expect(i == 20)
    }

    /// Without libx264 the next encoder FFmpeg has is used (here: forced to mpeg4).
    @Test func fallsBackToAnotherEncoder() throws {
        let dir = try TestMedia.makeTempDir("encoder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("fallback.mp4").path
        var o = VideoEncoder.Options()
        o.codecs = ["no-such-encoder", "mpeg4"]
        o.metadata = ["creation_time": "2024-05-01T12:00:00.000000Z"]
        let enc = try VideoEncoder(path: path, width: 96, height: 64, frameRate: 10, options: o)
        #expect(enc.codecName == "mpeg4")
        for i in 0..<12 { try enc.write(Self.picture(i), pts: Double(i) / 10) }
        try enc.finish()
        #expect(try TestMedia.ffprobeFrameCount(path) == 12)
        #expect(try TestMedia.ffprobe(["-select_streams", "v:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0", path]) == "mpeg4")
        #expect(try TestMedia.ffprobe(["-show_entries", "format_tags=creation_time", "-of", "csv=p=0", path]) == "2024-05-01T12:00:00.000000Z")
        o.codecs = ["no-such-encoder"]
        #expect(throws: EncodeError.self) { try VideoEncoder(path: path, width: 96, height: 64, frameRate: 10, options: o) }
    }

    @Test func oddSizesAndSizeChangesAreScaled() throws {
        let dir = try TestMedia.makeTempDir("encoder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("odd.mp4").path
        let enc = try VideoEncoder(path: path, width: 95, height: 63, frameRate: 25)
        #expect(enc.width == 94 && enc.height == 62)
        try enc.write(Self.picture(0, width: 95, height: 63), pts: 0)
        try enc.write(Self.picture(1, width: 48, height: 32), pts: 0.04)
        try enc.write(Self.picture(2, width: 95, height: 63), pts: 0.04)  // repeated pts: moved after
        try enc.finish()
        #expect(try TestMedia.ffprobeFrameCount(path) == 3)
        #expect(throws: EncodeError.self) { try enc.write(Self.picture(3), pts: 1) }
    }

    @Test func badPathsAndSizesAreErrorsNamingTheFile() throws {
        let e = try #require(throws: EncodeError.self) {
            try VideoEncoder(path: "/nonexistent-dir/x.mp4", width: 64, height: 64, frameRate: 10)
        }
        #expect(e.description.contains("/nonexistent-dir/x.mp4"))
        #expect(throws: EncodeError.self) { try VideoEncoder(path: "/tmp/x.mp4", width: 0, height: 64, frameRate: 10) }
    }

    /// Many encoders opened, fed and closed (or abandoned) keep memory flat. RSS is
    /// process-wide and suites run in parallel, so the loop runs in a child process (this
    /// test binary with only `encoderCycles` selected), as LeakTests does for sources.
    static let childFlag = "REGIONSPOTD_ENCODER_LEAK_CHILD"

    @Test func memoryStaysFlatOverManyEncoders() throws {
        let dir = try TestMedia.makeTempDir("encoder")
        defer { try? FileManager.default.removeItem(at: dir) }
        let (status, text) = try TestMedia.runSelf(filter: "VideoEncoderTests/encoderCycles", variable: Self.childFlag,
                                                   value: dir.appendingPathComponent("leak.mp4").path)
        #expect(status == 0, "child failed:\n\(text.suffix(2000))")
        let samples = text.split(separator: "\n").compactMap { line -> Int? in
            let f = line.split(separator: " ")
            return f.count == 3 && f[0] == "ENC-RSS" ? Int(f[2]) : nil
        }
        try #require(samples.count == 2, "child output:\n\(text.suffix(2000))")
        let growth = samples[1] - samples[0]
        // One leaked libx264 encoder is MBs (lookahead, reference frames, threads): 200
        // leaks would be far beyond this allowance for allocator noise.
        #expect(growth < 8 << 20, "RSS grew \(growth >> 10) KiB over 200 encoders")
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment[childFlag] != nil))
    func encoderCycles() throws {
        let path = try #require(ProcessInfo.processInfo.environment[Self.childFlag])
        let pic = Self.picture(0, width: 64, height: 48)
        func cycle(_ i: Int) throws {
            let enc = try VideoEncoder(path: path, width: 64, height: 48, frameRate: 25)
            for k in 0..<3 { try enc.write(pic, pts: Double(k) / 25) }
            if i % 2 == 0 { try enc.finish() }  // odd cycles: abandoned, freed by deinit
        }
        for i in 0..<50 { try cycle(i) }  // warm-up: codec tables, thread stacks, arenas
        print("ENC-RSS 50 \(TestMedia.residentBytes())")
        for i in 0..<200 { try cycle(i) }
        print("ENC-RSS 250 \(TestMedia.residentBytes())")
        fflush(nil)
    }
}
