// Renders a synthetic scene (Temporal.SyntheticScene) to an H.264 file with a fixed GOP by
// piping raw RGB24 frames into the ffmpeg CLI, and writes its ground truth as JSON.

import Foundation
import Temporal

enum SceneVideoError: Error, CustomStringConvertible {
    case ffmpegMissing
    case ffmpegFailed(status: Int32, output: String, path: String)
    var description: String {
        switch self {
        case .ffmpegMissing: return "the ffmpeg CLI was not found on PATH (install Debian's ffmpeg)"
        case let .ffmpegFailed(status, output, path):
            return "ffmpeg exited with \(status) writing \(path): \(output.suffix(600))"
        }
    }
}

enum SceneVideo {
    /// Encodes `scene` to `url` (H.264, yuv420p, no B-frames, one reference frame so every
    /// motion vector points at the previous frame, a keyframe every `gop` frames and no
    /// scene-cut keyframes) and writes the truth beside it as `<name>.truth.json`.
    static func write(_ scene: SyntheticScene, to url: URL, gop: Int) throws {
        let c = scene.config
        let writer = try RawVideoWriter(url: url, width: c.width, height: c.height, fps: c.fps, gop: gop)
        var rgb: [UInt8] = []
        for f in 0..<c.frameCount {
            scene.render(frame: f, into: &rgb)
            writer.write(rgb)
        }
        try writer.finish()
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys]
        try enc.encode(scene.truth).write(to: truthURL(for: url))
    }

    static func truthURL(for video: URL) -> URL {
        video.deletingPathExtension().appendingPathExtension("truth.json")
    }

    static func findExecutable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let u = URL(fileURLWithPath: String(dir)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        return nil
    }
}

/// Raw RGB24 frames piped into the ffmpeg CLI: H.264, yuv420p, libx264 veryfast CRF 20,
/// no B-frames, one reference frame (every motion vector points at the previous frame), a
/// keyframe every `gop` frames and no scene-cut keyframes.
final class RawVideoWriter {
    let url: URL
    private let process = Process()
    private let input = Pipe()
    private let collected = ErrorCollector()
    private var writeError: Error?

    init(url: URL, width: Int, height: Int, fps: Int, gop: Int) throws {
        guard let ffmpeg = SceneVideo.findExecutable("ffmpeg") else { throw SceneVideoError.ffmpegMissing }
        self.url = url
        process.executableURL = ffmpeg
        process.arguments = ["-hide_banner", "-loglevel", "error", "-y",
                             "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(width)x\(height)",
                             "-r", "\(fps)", "-i", "-",
                             "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
                             "-g", "\(gop)", "-keyint_min", "\(gop)", "-sc_threshold", "0", "-bf", "0",
                             "-x264-params", "ref=1", url.path]
        let errors = Pipe()
        process.standardInput = input
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Drain stderr on its own thread so a chatty ffmpeg cannot block on a full pipe.
        let collected = self.collected
        Thread { collected.set(errors.fileHandleForReading.readDataToEndOfFile()) }.start()
    }

    /// One frame, width x height x 3 bytes (after a failed write the rest are skipped;
    /// `finish` reports it).
    func write(_ rgb: [UInt8]) {
        guard writeError == nil else { return }
        do { try input.fileHandleForWriting.write(contentsOf: Data(rgb)) } catch { writeError = error }
    }

    func finish() throws {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
        while !collected.done { Thread.sleep(forTimeInterval: 0.01) }
        if process.terminationStatus != 0 || writeError != nil {
            throw SceneVideoError.ffmpegFailed(status: process.terminationStatus,
                                               output: String(decoding: collected.data, as: UTF8.self), path: url.path)
        }
    }
}

/// Stderr bytes handed from the reader thread.
final class ErrorCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var _data = Data()
    private var _done = false
    func set(_ d: Data) { lock.lock(); _data = d; _done = true; lock.unlock() }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return _done }
    var data: Data { lock.lock(); defer { lock.unlock() }; return _data }
}
