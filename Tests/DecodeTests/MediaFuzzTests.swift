// Video files and still images, fuzzed in one process through what `probe`, `replay`,
// `run` and `recognize` call: VideoSource (open, every frame with motion vectors, the
// YUV sample and RGB conversion of some), FileMetadata.read, decodeImage. Each mutated
// file decodes with finite values throughout, or fails with a DecodeError naming the
// file; a case that does not finish within its deadline (a hang) fails.
import Decode
import Foundation
import FuzzSupport
import Testing

@Suite("fuzz: video files and images")
struct MediaFuzzTests {
    /// What one mutated video gave: frames decoded, or the error.
    struct VideoRun: Sendable {
        var frames = 0
        var error: String?
        var problems: [String] = []
    }

    static func decodeAll(_ path: String, limit: Int = 400) -> VideoRun {
        var run = VideoRun()
        do {
            let meta = try FileMetadata.read(path: path)
            if let d = meta.duration, !d.isFinite { run.problems.append("metadata duration \(d)") }
            if let f = meta.frameRate, !f.isFinite { run.problems.append("metadata frame rate \(f)") }
        } catch {
            if !"\(error)".contains(path) { run.problems.append("metadata error without the file: \(error)") }
        }
        do {
            let source = try VideoSource(url: path, options: SourceOptions(decoderThreads: 1, motionVectors: true))
            let info = source.info
            if !info.frameRate.isFinite || info.frameRate < 0 { run.problems.append("frame rate \(info.frameRate)") }
            let converter = FrameConverter()
            while run.frames < limit, let frame = try source.nextFrame() {
                run.frames += 1
                if !frame.pts.isFinite { run.problems.append("frame \(frame.index) pts \(frame.pts)") }
                if let mv = frame.motionVectors, mv.contains(where: { !($0.x.isFinite && $0.y.isFinite && $0.motionX.isFinite && $0.motionY.isFinite) }) {
                    run.problems.append("frame \(frame.index): non-finite motion vector")
                }
                if run.frames % 7 == 1 {
                    _ = frame.yuvSample(scale: 4)
                    do { _ = try converter.rgb(frame, .size(width: 64, height: 48)) } catch { run.problems.append("frame \(frame.index) conversion: \(error)") }
                }
            }
        } catch {
            run.error = "\(error)"
        }
        return run
    }

    /// The clips mutated: H.264 in MP4 (index at the end), MPEG-TS (no index), Matroska.
    static func clips() throws -> [String] {
        let mp4 = try TestMedia.clip(.init(bframes: 2, seconds: 1, width: 160, height: 120))
        let dir = URL(fileURLWithPath: mp4).deletingLastPathComponent()
        var out = [mp4]
        for ext in ["ts", "mkv"] {
            let p = dir.appendingPathComponent("fuzz-base.\(ext)").path
            if !FileManager.default.fileExists(atPath: p) { try TestMedia.ffmpeg(["-i", mp4, "-c", "copy", p]) }
            out.append(p)
        }
        return out
    }

    @Test("mutated videos: every frame finite, or an error naming the file; none hangs (seeded; REGIONSPOTD_FUZZ_SCALE multiplies the count)")
    func videos() throws {
        Decode.setLibraryLogLevel(.quiet)
        defer { Decode.setLibraryLogLevel(.error) }
        let bases = try Self.clips().map { ($0, [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0)))) }
        let dir = try TestMedia.makeTempDir("fuzz-video")
        defer { try? FileManager.default.removeItem(at: dir) }
        let seed: UInt64 = 25
        var dice = Dice(s: seed)
        var counts = (decoded: 0, refused: 0, frames: 0)
        for i in 0..<FuzzScale.count(90) {
            let (base, original) = bases[i % bases.count]
            var bytes = original
            // the first 64 bytes are kept on most cases so the container is still recognized
            let what = ByteMutation.random(&bytes, &dice, keep: i % 4 == 3 ? 0 : 64)
            let path = dir.appendingPathComponent("case\(i).\((base as NSString).pathExtension)").path
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            let tag = "seed \(seed) case \(i) (\((base as NSString).lastPathComponent): \(what))"
            guard let run = withDeadline(20, { Self.decodeAll(path) }) else {
                Issue.record("\(tag): no end within 20 s (kept at \(path))")
                continue
            }
            #expect(run.problems.isEmpty, "\(tag): \(run.problems.prefix(3))")
            if let e = run.error {
                counts.refused += 1
                #expect(e.contains(path), "\(tag): error without the file: \(e)")
            } else {
                counts.decoded += 1
            }
            counts.frames += run.frames
            try? FileManager.default.removeItem(atPath: path)
        }
        fuzzReport("videos in process: \(FuzzScale.count(90)) cases, \(counts.decoded) decoded to the end (\(counts.frames) frames), \(counts.refused) refused naming the file")
        #expect(counts.decoded >= FuzzScale.count(20) && counts.frames > 0, "\(counts)")
    }

    @Test("mutated PNG and JPEG images: a picture of the stated size, or an error naming the file (seeded)")
    func images() throws {
        Decode.setLibraryLogLevel(.quiet)
        defer { Decode.setLibraryLogLevel(.error) }
        let dir = try TestMedia.makeTempDir("fuzz-image")
        defer { try? FileManager.default.removeItem(at: dir) }
        var bases: [(String, [UInt8])] = []
        for ext in ["png", "jpg"] {
            let p = dir.appendingPathComponent("base.\(ext)").path
            try TestMedia.ffmpeg(["-f", "lavfi", "-i", "testsrc2=s=96x64:d=1", "-frames:v", "1", p])
            bases.append((ext, [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))))
        }
        let seed: UInt64 = 96
        var dice = Dice(s: seed)
        var counts = (decoded: 0, refused: 0)
        for i in 0..<FuzzScale.count(240) {
            let (ext, original) = bases[i % 2]
            var bytes = original
            let what = ByteMutation.random(&bytes, &dice, keep: i % 3 == 2 ? 0 : 8)
            let path = dir.appendingPathComponent("case\(i).\(ext)").path
            FileManager.default.createFile(atPath: path, contents: Data(bytes))
            let tag = "seed \(seed) case \(i) (\(ext): \(what))"
            let r = withDeadline(10) { () -> Result<RGBImage, any Error> in Result { try decodeImage(path: path) } }
            switch r {
            case nil: Issue.record("\(tag): no answer within 10 s")
            case .success(let img)?:
                counts.decoded += 1
                #expect(img.width > 0 && img.height > 0 && img.bytes.count == img.width * img.height * 3, "\(tag): \(img.width)x\(img.height)")
            case .failure(let e)?:
                counts.refused += 1
                #expect(e is DecodeError && "\(e)".contains(path), "\(tag): \(e)")
            }
            try? FileManager.default.removeItem(atPath: path)
        }
        fuzzReport("images in process: \(FuzzScale.count(240)) cases, \(counts.decoded) decoded, \(counts.refused) refused naming the file")
        #expect(counts.decoded >= FuzzScale.count(40) && counts.refused >= FuzzScale.count(20), "\(counts)")
    }
}
