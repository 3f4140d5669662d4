import ArgumentParser
import Foundation
import Recognizer

/// `regionspotd make-shapes`: a synthetic detection set (coloured shapes on textured
/// backgrounds, PNG + COCO JSON) for checking that training works, and optionally the
/// tiny model directory of the demonstration assembled from the test fixtures.
struct MakeShapesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "make-shapes", abstract: "Generate a synthetic shapes detection set (PNG + COCO JSON).")

    @Option(help: "Output directory (images/, train.json, val.json).") var out: String
    @Option(help: "Number of images.") var count: Int = 300
    @Option(help: "How many of them go to val.json (default: a fifth).") var valCount: Int?
    @Option(help: "Seed.") var seed: UInt64 = 1
    @Option(help: "At most this many shapes per image (at least one).") var maxShapes: Int = 3
    @Option(help: "Smallest shape size in pixels (images are 224x224).") var minSize: Int = 36
    @Option(help: "Largest shape size in pixels.") var maxSize: Int = 96
    // Variety of the still pictures (defaults: today's 224x224 grating pictures).
    @Option(help: "Smallest picture side; width and height are drawn per picture from --min-resolution...--max-resolution (default 224).") var minResolution: Int?
    @Option(help: "Largest picture side (default: --min-resolution, or 224).") var maxResolution: Int?
    @Flag(help: "Backgrounds of several kinds: grating, flat colour, gradient, checks/stripes, blotches.") var variedBackgrounds = false
    @Flag(help: "Shapes may overlap (each keeps >= half its pixels visible; its box is the box of its visible pixels).") var overlap = false
    @Flag(help: "--min-size/--max-size are for a 224-pixel shorter side and scale with each picture's.") var scaleSizes = false
    @Option(help: "Share of the shapes placed across an edge of the picture, 30-90% inside (their box is the visible part's). (default: 0)") var edgeShapes: Double = 0
    @Option(help: "Also assemble the tiny base model (SAM A + CLIP A with the shape words' token rows) here.") var tinyModel: String?
    @Option(help: "The committed fixtures directory for --tiny-model.") var fixtures: String = "Tests/RecognizerTests/Fixtures"
    @Option(help: "With --tiny-model: this head (e.g. the fixtures' head_shapes.safetensors) as its head.safetensors.") var tinyHead: String?
    @Option(help: "Also write a clip of this many frames: video/frames/*.png, video/video.json (boxes, labels, track ids) and video/video.mp4 (ffmpeg CLI).") var videoFrames: Int?
    @Option(help: "Scene kind of the clip: 'crossing' (2-5 shapes at a time enter, cross and leave; video.json + video.mp4 at 10 fps, GOP 10, no PNGs). Default: today's 224x224 clip of shapes bouncing in bands.")
    var videoScene: String?
    @Option(help: "With --video-scene: frame width (default 640).") var videoWidth: Int?
    @Option(help: "With --video-scene: frame height (default 360).") var videoHeight: Int?
    @Option(help: "With --video-scene: shapes on screen at a time (2-5, default 4).") var videoObjects: Int?
    @Option(help: "With --video-scene: the scene's seed (default: --seed).") var videoSeed: UInt64?

    func validate() throws {
        try validateStyle()
        guard count > 0, maxShapes > 0 else { throw ValidationError("--count and --max-shapes must be positive") }
        guard minSize >= 8, maxSize >= minSize, maxSize <= 200 else { throw ValidationError("need 8 <= --min-size <= --max-size <= 200") }
        if let valCount, valCount < 0 || valCount > count { throw ValidationError("--val-count must be between 0 and --count") }
        if videoScene == nil && (videoWidth != nil || videoHeight != nil || videoObjects != nil || videoSeed != nil) {
            throw ValidationError("--video-width, --video-height, --video-objects and --video-seed go with --video-scene")
        }
        if let videoScene {
            let videoWidth = videoWidth ?? 640, videoHeight = videoHeight ?? 360, videoObjects = videoObjects ?? 4
            guard videoScene == "crossing" else { throw ValidationError("--video-scene: only 'crossing' is known") }
            guard videoFrames != nil else { throw ValidationError("--video-scene needs --video-frames N") }
            guard (2...5).contains(videoObjects) else { throw ValidationError("--video-objects must be 2...5") }
            guard videoWidth >= 64, videoHeight >= 64, videoWidth <= 3840, videoHeight <= 2160, videoWidth % 2 == 0, videoHeight % 2 == 0 else {
                throw ValidationError("--video-width/--video-height: even sizes from 64x64 to 3840x2160")
            }
        }
    }

    func run() async throws {
        let cmd = self
        try await onThread("make-shapes") { try reportingErrors("make-shapes") { try cmd.make() } }
    }

    func make() throws {
        let progress = ProgressLine()
        let v = valCount ?? count / 5
        try ShapesDataset.write(directory: out, count: count, valCount: v, seed: seed, maxShapes: maxShapes, sizes: minSize...maxSize, style: style) { progress.update("image \($0)/\(count)") }
        progress.line("wrote \(count) images to \(out)/images, \(count - v) in train.json, \(v) in val.json (classes: \(ShapesDataset.classes.joined(separator: ", ")))")
        if let tinyModel {
            try ShapesModel.assemble(fixtures: fixtures, out: tinyModel, head: tinyHead)
            progress.line("assembled the tiny \(tinyHead == nil ? "base " : "")model in \(tinyModel)")
        }
        if let videoFrames, videoFrames > 0, videoScene != nil {
            try makeScene(frames: videoFrames, progress: progress)
        } else if let videoFrames, videoFrames > 0 {
            let dir = out + "/video"
            try ShapesVideo.write(directory: dir, seed: seed, count: videoFrames)
            let ffmpeg = Process()
            ffmpeg.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            ffmpeg.arguments = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-framerate", "10", "-i", dir + "/frames/frame_%05d.png",
                                "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10", dir + "/video.mp4"]
            try ffmpeg.run()
            ffmpeg.waitUntilExit()
            guard ffmpeg.terminationStatus == 0 else { throw RecognizerError("ffmpeg failed (\(ffmpeg.terminationStatus)) encoding \(dir)/video.mp4") }
            progress.line("wrote \(videoFrames) frames, \(dir)/video.json and \(dir)/video.mp4")
        }
    }

    /// --video-scene crossing: rendered frame by frame into the ffmpeg CLI (H.264, GOP 10, no
    /// B-frames) as video/video.mp4, the truth as video/video.json.
    func makeScene(frames count: Int, progress: ProgressLine) throws {
        let dir = out + "/video"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let o = ShapesScenes.Options(width: videoWidth ?? 640, height: videoHeight ?? 360, objects: videoObjects ?? 4,
                                     seed: videoSeed ?? seed, frames: count)
        let fps = 10
        let writer: RawVideoWriter
        do { writer = try RawVideoWriter(url: URL(fileURLWithPath: dir + "/video.mp4"), width: o.width, height: o.height, fps: fps, gop: 10) } catch {
            throw RecognizerError("\(error)")
        }
        var truth: [(boxes: [[Float]], labels: [Int], tracks: [Int], visibility: [Double])] = []
        ShapesScenes.render(o) { i, f in
            writer.write(f.rgb)
            truth.append((f.boxes, f.labels, f.tracks, f.visibility))
            progress.update("frame \(i + 1)/\(count)")
        }
        do { try writer.finish() } catch { throw RecognizerError("\(error)") }
        try ShapesScenes.videoJSON(truth, options: o, fps: fps).write(to: URL(fileURLWithPath: dir + "/video.json"))
        let ids = Set(truth.flatMap(\.tracks)).count
        progress.line("wrote a crossing scene: \(count) frames \(o.width)x\(o.height), \(ids) shapes (\(o.objects) at a time), seed \(o.seed): \(dir)/video.json and \(dir)/video.mp4")
    }
}

extension MakeShapesCommand {
    var style: ShapesStyle {
        var r: ClosedRange<Int>?
        if minResolution != nil || maxResolution != nil {
            let lo = minResolution ?? 224
            r = lo...(maxResolution ?? lo)
        }
        var style = ShapesStyle(resolution: r, variedBackgrounds: variedBackgrounds, overlap: overlap, scaleSizes: scaleSizes)
        style.edgeFraction = edgeShapes
        return style
    }

    func validateStyle() throws {
        let lo = minResolution ?? 224, hi = maxResolution ?? lo
        guard lo >= 64, hi >= lo, hi <= 1024 else { throw ValidationError("need 64 <= --min-resolution <= --max-resolution <= 1024") }
        guard maxShapes <= 8 else { throw ValidationError("--max-shapes must be at most 8") }
        guard (0...1).contains(edgeShapes) else { throw ValidationError("--edge-shapes must be between 0 and 1") }
        let smallest = scaleSizes ? 224 : lo
        guard maxSize < smallest else { throw ValidationError("--max-size \(maxSize) must be below the smallest picture side \(smallest)") }
    }
}
