// Renders a synthetic scene (Temporal.SyntheticScene) to an H.264 file with a fixed GOP by
// piping raw RGB24 frames into the ffmpeg CLI, and writes its ground truth as JSON.

import Foundation
import Temporal

enum SceneVideoError: Error, CustomStringConvertible {
    case ffmpegMissing
    case ffmpegFailed(status: Int32, output: String, path: String)
    var description: String {
        switch self {
        case .ffmpegMissing: return "track-eval: the ffmpeg CLI was not found on PATH (install Debian's ffmpeg)"
        case let .ffmpegFailed(status, output, path):
            return "track-eval: ffmpeg exited with \(status) writing \(path): \(output.suffix(600))"
        }
    }
}

enum SceneVideo {
    /// Encodes `scene` to `url` (H.264, yuv420p, no B-frames, one reference frame so every
    /// motion vector points at the previous frame, a keyframe every `gop` frames and no
    /// scene-cut keyframes) and writes the truth beside it as `<name>.truth.json`.
    static func write(_ scene: SyntheticScene, to url: URL, gop: Int) throws {
        guard let ffmpeg = findExecutable("ffmpeg") else { throw SceneVideoError.ffmpegMissing }
        let c = scene.config
        let p = Process()
        p.executableURL = ffmpeg
        p.arguments = ["-hide_banner", "-loglevel", "error", "-y",
                       "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "\(c.width)x\(c.height)",
                       "-r", "\(c.fps)", "-i", "-",
                       "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
                       "-g", "\(gop)", "-keyint_min", "\(gop)", "-sc_threshold", "0", "-bf", "0",
                       "-x264-params", "ref=1", url.path]
        let input = Pipe(), errors = Pipe()
        p.standardInput = input
        p.standardError = errors
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        // Drain stderr on its own thread so a chatty ffmpeg cannot block on a full pipe.
        let collected = ErrorCollector()
        let reader = Thread { collected.set(errors.fileHandleForReading.readDataToEndOfFile()) }
        reader.start()
        var rgb: [UInt8] = []
        var writeError: Error?
        for f in 0..<c.frameCount {
            scene.render(frame: f, into: &rgb)
            do { try input.fileHandleForWriting.write(contentsOf: Data(rgb)) } catch { writeError = error; break }
        }
        try? input.fileHandleForWriting.close()
        p.waitUntilExit()
        while !collected.done { Thread.sleep(forTimeInterval: 0.01) }
        if p.terminationStatus != 0 || writeError != nil {
            throw SceneVideoError.ffmpegFailed(status: p.terminationStatus,
                                               output: String(decoding: collected.data, as: UTF8.self), path: url.path)
        }
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

/// Stderr bytes handed from the reader thread.
final class ErrorCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var _data = Data()
    private var _done = false
    func set(_ d: Data) { lock.lock(); _data = d; _done = true; lock.unlock() }
    var done: Bool { lock.lock(); defer { lock.unlock() }; return _done }
    var data: Data { lock.lock(); defer { lock.unlock() }; return _data }
}
