import Foundation

/// Test-data helpers for the Decode tests (and any suite that needs real footage): run the
/// ffmpeg/ffprobe CLIs, generate small clips with lavfi sources, read ffprobe's counts.
enum TestMedia {
    struct ToolError: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `executable` with `arguments`; returns stdout, throws with stderr on failure.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], allowFailure: Bool = false) throws -> Data {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Read both pipes concurrently with the process so neither fills up.
        let errBox = DataBox()
        let errThread = Thread { errBox.data = err.fileHandleForReading.readDataToEndOfFile() }
        errThread.start()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        while !errBox.done { Thread.sleep(forTimeInterval: 0.005) }
        if p.terminationStatus != 0 && !allowFailure {
            throw ToolError(description: "\(executable) \(arguments.joined(separator: " ")) failed (\(p.terminationStatus)): "
                + String(decoding: errBox.data ?? Data(), as: UTF8.self))
        }
        return stdout
    }

    final class DataBox: @unchecked Sendable {
        private let lock = NSLock()
        private var _data: Data?
        private var _done = false
        var data: Data? {
            get { lock.lock(); defer { lock.unlock() }; return _data }
            set { lock.lock(); _data = newValue; _done = true; lock.unlock() }
        }
        var done: Bool { lock.lock(); defer { lock.unlock() }; return _done }
    }

    static func ffmpeg(_ args: [String]) throws {
        try run("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + args)
    }

    static func ffprobe(_ args: [String]) throws -> String {
        let d = try run("/usr/bin/ffprobe", ["-hide_banner", "-loglevel", "error"] + args)
        return String(decoding: d, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// ffprobe's decoded-frame count (`-count_frames`), or keyframes with `-skip_frame nokey`.
    static func ffprobeFrameCount(_ path: String, keyframesOnly: Bool = false) throws -> Int {
        var args = ["-select_streams", "v:0", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"]
        if keyframesOnly { args = ["-skip_frame", "nokey"] + args }
        let s = try ffprobe(args + [path])
        guard let n = Int(s.split(separator: "\n").first.map(String.init) ?? "") else {
            throw ToolError(description: "ffprobe gave no frame count for \(path): '\(s)'")
        }
        return n
    }

    /// A fresh unique directory under the system temp dir.
    static func makeTempDir(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("regionspotd-\(label)-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// What to generate. `gop` frames per fixed GOP (`-g -keyint_min -sc_threshold 0`).
    struct ClipSpec: Hashable, Sendable, CustomStringConvertible {
        enum Codec: String, Sendable { case h264, hevc }
        var codec: Codec = .h264
        var bframes = 0
        var container = "mp4"
        var seconds = 2.0
        var width = 320
        var height = 240
        var fps = 25
        var gop = 25
        var description: String { "\(codec.rawValue) bf\(bframes) .\(container) \(width)x\(height) \(seconds)s" }
        var fileName: String { "\(codec.rawValue)-bf\(bframes)-g\(gop)-\(width)x\(height)-\(fps)fps-\(seconds)s.\(container)" }
    }

    /// The shared clip directory of this test process (clips are generated once each).
    private static let clipLock = NSLock()
    nonisolated(unsafe) private static var clipDir: URL?

    private static func removeClipDir() {
        if let dir = clipDir { try? FileManager.default.removeItem(at: dir) }
    }

    static func clip(_ spec: ClipSpec) throws -> String {
        clipLock.lock(); defer { clipLock.unlock() }
        if clipDir == nil {
            clipDir = try makeTempDir("decode-clips")
            atexit { TestMedia.removeClipDir() }  // the clips live as long as the test process
        }
        let path = clipDir!.appendingPathComponent(spec.fileName).path
        if FileManager.default.fileExists(atPath: path) { return path }
        var args = ["-f", "lavfi", "-i", "testsrc2=s=\(spec.width)x\(spec.height):r=\(spec.fps):d=\(spec.seconds)"]
        switch spec.codec {
        case .h264:
            args += ["-c:v", "libx264", "-preset", "veryfast", "-bf", "\(spec.bframes)",
                     "-g", "\(spec.gop)", "-keyint_min", "\(spec.gop)", "-sc_threshold", "0"]
        case .hevc:
            args += ["-c:v", "libx265", "-preset", "veryfast",
                     "-x265-params", "log-level=error:keyint=\(spec.gop):min-keyint=\(spec.gop):scenecut=0:bframes=\(spec.bframes)"]
        }
        args += ["-pix_fmt", "yuv420p", path + ".tmp.\(spec.container)"]
        try ffmpeg(args)
        try FileManager.default.moveItem(atPath: path + ".tmp.\(spec.container)", toPath: path)
        return path
    }

    /// A textured 64x64 square moving right by `speed` px/frame over a static textured
    /// background, H.264 without B-frames and with one reference frame, so every P-frame
    /// predicts from the previous frame. Square top-left at frame n: (16 + speed*n, 88).
    static func movingSquareClip(in dir: URL, speed: Int = 4, frames: Int = 40) throws -> String {
        let path = dir.appendingPathComponent("square-\(speed)px.mp4").path
        let graph = "smptehdbars=s=320x240:r=25:d=\(Double(frames) / 25)[bg];"
            + "testsrc2=s=64x64:r=25,trim=end_frame=1,loop=loop=-1:size=1,setpts=N/25/TB[sq];"
            + "[bg][sq]overlay=x='16+\(speed)*n':y=88:eval=frame:shortest=1"
        try ffmpeg(["-filter_complex", graph, "-frames:v", "\(frames)", "-c:v", "libx264", "-preset", "medium",
                    "-bf", "0", "-refs", "1", "-g", "250", "-pix_fmt", "yuv420p", path])
        return path
    }

    /// ffmpeg CLI's RGB24 rendering of frame `index` (decode order = presentation order
    /// here) at `width` x `height`, with the given `-sws_flags`.
    static func ffmpegRGB(_ path: String, frame index: Int, width: Int, height: Int, swsFlags: String?) throws -> [UInt8] {
        let scale = swsFlags.map { "scale=\(width):\(height):flags=\($0)" } ?? "scale=\(width):\(height)"
        let args = ["-i", path, "-vf", "select=eq(n\\,\(index)),\(scale),format=rgb24", "-frames:v", "1",
                    "-f", "rawvideo", "-"]
        let d = try run("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin"] + args)
        return [UInt8](d)
    }

    /// Current resident set size in bytes (/proc/self/statm, second field x page size).
    static func residentBytes() -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else { return 0 }
        let fields = s.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}

extension TestMedia {
    /// Runs this test binary again with only the tests matching `filter` selected and
    /// `variable` = `value` in its environment: RSS is process-wide and suites run in
    /// parallel, so memory measurements loop in a child of their own. Returns the child's
    /// exit status and standard output (the samples it prints).
    static func runSelf(filter: String, variable: String, value: String) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
        p.arguments = ["--testing-library", "swift-testing", "--filter", filter]
        var env = ProcessInfo.processInfo.environment
        env[variable] = value
        p.environment = env
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
