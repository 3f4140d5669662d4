// `regionspotd bench --filter live_picture`: what one live page picture costs on the thread
// that draws it (LiveView.jpeg: convert, annotate, JPEG-encode) for a 1080p H.264 frame
// with three tracks, at metrics.live_width 640 (the default: scaled in the conversion) and
// 1920 (the frame's own size, what every 1080p picture cost before live_width). A row's ms
// is 10 pictures, each of a newly offered frame (a picture already drawn is not redrawn).
import Decode
import Foundation

extension BenchCommand {
    func livePictureRows(_ bench: Bench) {
        let rows = [("live_picture_1080p_640", 640), ("live_picture_1080p_1920", 1920)]
        guard rows.contains(where: { bench.wants($0.0) }) else { return }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("rsd-bench-live-\(getpid())")
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let clip = dir.appendingPathComponent("1080p.mp4").path
        guard runTool("/usr/bin/ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=25:d=0.2",
                                          "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", clip]),
              let source = try? VideoSource(url: clip, options: SourceOptions(decoderThreads: 1)),
              let frame = try? source.nextFrame() else {
            bench.note(rows[0].0, "skipped: the ffmpeg CLI could not write a 1080p H.264 clip, or it did not decode")
            return
        }
        // The messaging rows' three tracks, their boxes scaled from 640 to 1920 pixels.
        var message = Self.sampleRegions()
        for i in message.regions.indices { message.regions[i].box = message.regions[i].box.map { $0 * 3 } }
        for (name, width) in rows where bench.wants(name) {
            let view = LiveView(stream: "bench", url: "", maxFPS: 30, maxWidth: width, framesDrawn: CounterMetric())
            var now = 0.0, bytes = 0, failed: Error?
            bench.row(name) {
                for _ in 0..<10 {
                    view.offer(frame, message, nil)
                    now += 1
                    do { bytes = try view.jpeg(now: now)?.jpeg.count ?? 0 } catch { failed = error }
                }
            }
            let size = LiveView.pictureSize(width: frame.width, height: frame.height, maxWidth: width)
            bench.note(name, failed.map { "failed: \($0)" } ?? "10 pictures of \(size.width)x\(size.height) per rep, \(bytes) JPEG bytes each, one thread")
        }
    }
}
