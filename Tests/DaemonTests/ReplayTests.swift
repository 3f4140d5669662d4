// `regionspotd replay` end to end: the built binary on generated clips with the tiny
// random-weight models (Tests/RecognizerTests/Fixtures/model_tiny).
import Foundation
import Recognizer
import Testing
@testable import Daemon

enum ReplayFixture {
    static let model = Repo.root.appendingPathComponent("Tests/RecognizerTests/Fixtures/model_tiny").path
    static let vocab = "person,car|automobile,dog,bicycle,tree"
    static let frames = 30

    /// A 3 s, 10 fps, 160x120 H.264 clip: a textured square moving right over a dimmed
    /// texture (flat colours would give no motion vectors), GOP 10, with a creation time.
    static func clip(in dir: TempDir, name: String = "clip.mp4", creationTime: String? = "2024-05-01T12:00:00Z") throws -> String {
        try clip(in: dir, name: name, size: "160x120", square: 40, rate: 10, seconds: 3, gop: 10, bframes: 0, creationTime: creationTime)
    }

    static func clip(in dir: TempDir, name: String, size: String, square: Int, rate: Int, seconds: Int, gop: Int, bframes: Int,
                     creationTime: String?) throws -> String {
        let path = dir.file(name)
        let graph = "testsrc2=s=\(size):r=\(rate):d=\(seconds),geq=lum='lum(X,Y)*0.3+40':cb=128:cr=128[bg];"
            + "testsrc=s=\(square)x\(square):r=\(rate):d=\(seconds)[fg];[bg][fg]overlay=x='\(square / 4)+t*\(square * 3 / 4)':y=\(square)"
        var args = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i", graph,
                    "-c:v", "libx264", "-g", "\(gop)", "-bf", "\(bframes)"]
        if let creationTime { args += ["-metadata", "creation_time=\(creationTime)"] }
        let r = try Child.run("/usr/bin/ffmpeg", args + [path], dir: dir, timeout: 60)
        try #require(r.status == 0, "ffmpeg: \(r.stderr)")
        return path
    }

    /// Runs `regionspotd replay` with the tiny models; `extra` goes before the files.
    static func replay(_ files: [String], _ extra: [String], dir: TempDir, quiet: Bool = true, timeout: Double = 240) throws
        -> (status: Int32?, stdout: String, stderr: String) {
        let bin = try #require(Repo.binary, "regionspotd not built")
        return try Child.run(bin, arguments(files, extra, quiet: quiet), env: ["XDG_CACHE_HOME": dir.file("cache")], dir: dir, timeout: timeout)
    }

    /// `regionspotd replay`'s arguments with the tiny models; `extra` goes before the files.
    static func arguments(_ files: [String], _ extra: [String], quiet: Bool = true) -> [String] {
        ["replay", "--weights", model, "--vocab", vocab] + (quiet ? ["--quiet"] : []) + extra + files
    }

    static func lines(_ path: String) throws -> [String] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    static func object(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    static func ffprobeFrames(_ path: String, dir: TempDir) throws -> Int {
        let r = try Child.run("/usr/bin/ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
                                                   "stream=nb_read_frames", "-of", "csv=p=0", path], dir: dir, timeout: 60)
        return try #require(Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)), "ffprobe \(path): \(r.stdout) \(r.stderr)")
    }

    /// Every frame as packed RGB24, decoded by the ffmpeg CLI.
    static func rgbFrames(_ path: String, width: Int, height: Int, dir: TempDir) throws -> [[UInt8]] {
        let raw = dir.file("raw-\(UUID().uuidString.prefix(6)).rgb")
        let r = try Child.run("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", path,
                                                  "-f", "rawvideo", "-pix_fmt", "rgb24", raw], dir: dir, timeout: 60)
        try #require(r.status == 0, "ffmpeg: \(r.stderr)")
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        let n = width * height * 3
        return stride(from: 0, to: data.count - n + 1, by: n).map { Array(data[$0..<($0 + n)]) }
    }
}

@Suite("Replay", .serialized)
struct ReplayTests {
    @Test("same file, models and vocabulary: byte-identical JSONL at 1 and 2 threads, drawn or not; every line valid; times from creation_time")
    func deterministic() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try ReplayFixture.clip(in: dir)
        func same(_ runs: [[String]], _ file: String) throws {
            var outputs: [Data] = []
            for (i, extra) in runs.enumerated() {
                let out = dir.file("\((file as NSString).lastPathComponent)-\(i).jsonl")
                let r = try ReplayFixture.replay([file], ["--out", out] + extra, dir: dir)
                #expect(r.status == 0, "replay \(extra) failed: \(r.stderr)")
                outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
            }
            #expect(outputs[0].count > 1000)
            for (i, o) in outputs.enumerated().dropFirst() { #expect(o == outputs[0], "\(file): run \(runs[i]) differs from \(runs[0])") }
        }
        try same([["--threads", "1"], ["--threads", "2"]], clip)
        try FileManager.default.copyItem(atPath: dir.file("clip.mp4-0.jsonl"), toPath: dir.file("a.jsonl"))
        // Recognition on every frame: many tracks, births and deaths.
        try same([["--threads", "1", "--every-frame"], ["--threads", "2", "--every-frame"]], clip)
        // A longer 640x480 clip with B-frames (where threaded decoding would change the motion
        // vectors), drawn or not (masks computed for the drawing must not change anything).
        let big = try ReplayFixture.clip(in: dir, name: "big.mp4", size: "640x480", square: 128, rate: 25, seconds: 6, gop: 25,
                                         bframes: 2, creationTime: nil)
        try same([["--threads", "1"], ["--threads", "2"], ["--threads", "2", "--snapshots", dir.file("snaps")]], big)

        let lines = try ReplayFixture.lines(dir.file("a.jsonl"))
        let objects = try lines.map(ReplayFixture.object)
        let regions = objects.filter { ($0["schema"] as? String) == "regionspotd/regions/2" }
        // One regions message per frame, in order, all of stream "clip".
        #expect(regions.count == ReplayFixture.frames)
        #expect(regions.map { $0["frame"] as? Int } == (0..<ReplayFixture.frames).map { $0 })
        #expect(Set(objects.compactMap { $0["stream"] as? String }) == ["clip"])
        // The recognizer ran (on keyframes once motion gave boxes), and labelled regions were published.
        let recognized = regions.filter { ($0["inferred"] as? Bool) == true }.count
        #expect(recognized >= 2 && recognized < ReplayFixture.frames, "recognized \(recognized) frames")
        let published = regions.reduce(0) { $0 + (($1["regions"] as? [Any])?.count ?? 0) }
        #expect(published > 0, "no region published")
        #expect(objects.contains { ($0["schema"] as? String) == "regionspotd/tracks/3" && ($0["event"] as? String) == "started" })
        // time = creation_time + PTS (frame 10 is at 1.0 s); the stream ends with `ended`.
        #expect(regions[0]["time"] as? String == "2024-05-01T12:00:00.000000Z")
        #expect(regions[10]["time"] as? String == "2024-05-01T12:00:01.000000Z")
        #expect(regions.allSatisfy { $0["latency"] == nil })
        // Every track that started also ends (at the latest when the file does).
        func trackIDs(_ event: String) -> [Int] {
            objects.filter { ($0["schema"] as? String) == "regionspotd/tracks/3" && ($0["event"] as? String) == event }
                .compactMap { $0["track_id"] as? Int }.sorted()
        }
        #expect(trackIDs("started") == trackIDs("ended"))
        let last = try #require(objects.last)
        #expect(last["schema"] as? String == "regionspotd/status/4" && last["state"] as? String == "ended")

        // Every line validates against its schema.
        let schemaFile = ["regionspotd/regions/2": "regions.schema.json", "regionspotd/tracks/3": "tracks.schema.json",
                          "regionspotd/status/4": "status.schema.json"]
        let docs = try zip(lines, objects).map { line, o in
            (schema: try #require(schemaFile[o["schema"] as? String ?? ""], "unknown schema in \(line)"), json: line)
        }
        let results = try SchemaCheck.validate(docs, dir: dir)
        #expect(results.count == docs.count)
        for (d, r) in zip(docs, results) { #expect(r == nil, "\(d.json): \(r ?? "")") }
    }

    @Test("--annotate: an MP4 with every source frame, boxes drawn; --snapshots: one PNG per recognized keyframe")
    func annotated() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try ReplayFixture.clip(in: dir, creationTime: nil)
        let snaps = dir.file("snaps")
        let r = try ReplayFixture.replay([clip], ["--out", dir.file("r.jsonl"), "--annotate", dir.file("out.mp4"), "--snapshots", snaps,
                                                  "--start-time", "2026-01-31T08:00:00.5Z"], dir: dir)
        #expect(r.status == 0, "replay failed: \(r.stderr)")
        let objects = try ReplayFixture.lines(dir.file("r.jsonl")).map(ReplayFixture.object)
        let regions = objects.filter { ($0["schema"] as? String) == "regionspotd/regions/2" }
        #expect(regions.first?["time"] as? String == "2026-01-31T08:00:00.500000Z")

        // Same frame count as the source.
        #expect(try ReplayFixture.ffprobeFrames(dir.file("out.mp4"), dir: dir) == ReplayFixture.ffprobeFrames(clip, dir: dir))
        // One PNG per recognized frame, named <stream>-<frame>.png.
        let recognizedFrames = regions.filter { ($0["inferred"] as? Bool) == true }.compactMap { $0["frame"] as? Int }
        let pngs = try FileManager.default.contentsOfDirectory(atPath: snaps).sorted()
        #expect(pngs == recognizedFrames.map { String(format: "clip-%06d.png", $0) }.sorted())
        let png = try Data(contentsOf: URL(fileURLWithPath: (snaps as NSString).appendingPathComponent(pngs[0])))
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])

        // Along a drawn box's edge the annotated picture differs clearly from the source.
        let src = try ReplayFixture.rgbFrames(clip, width: 160, height: 120, dir: dir)
        let ann = try ReplayFixture.rgbFrames(dir.file("out.mp4"), width: 160, height: 120, dir: dir)
        try #require(src.count == ReplayFixture.frames && ann.count == ReplayFixture.frames)
        let boxes = regions.compactMap { m -> (Int, [Double])? in
            guard let f = m["frame"] as? Int, let rs = m["regions"] as? [[String: Any]], let b = rs.first?["box"] as? [Double],
                  b[2] - b[0] >= 8, b[3] - b[1] >= 8 else { return nil }
            return (f, b)
        }
        let (frame, box) = try #require(boxes.first, "no region with a box to check")
        // The left edge (a vertical line, 1-2 px wide) below any label backing.
        let x = min(159, max(0, Int(box[0].rounded(.down))))
        var diff = 0, n = 0
        for y in Int(box[1].rounded(.up)) + 4..<min(120, Int(box[3]) - 2) {
            let i = (y * 160 + x) * 3
            for c in 0..<3 { diff += abs(Int(src[frame][i + c]) - Int(ann[frame][i + c])) }
            n += 1
        }
        try #require(n > 0)
        #expect(Double(diff) / Double(3 * n) > 25, "mean difference on the box edge \(Double(diff) / Double(3 * n))")
        // A frame with no region where the recognizer did not run: above the header line the
        // picture is the source's, up to encoding noise (the frames are the source frames, in
        // order). Recognized frames carry the badge and the outlines of every box tried.
        if let quiet = regions.first(where: { ($0["regions"] as? [Any])?.isEmpty == true && ($0["inferred"] as? Bool) == false }),
           let f = quiet["frame"] as? Int {
            var noise = 0
            for i in 0..<(160 * 100 * 3) { noise += abs(Int(src[f][i]) - Int(ann[f][i])) }
            #expect(Double(noise) / Double(160 * 100 * 3) < 10, "frame \(f) differs by \(Double(noise) / Double(160 * 100 * 3)) on average")
        }
    }

    @Test("a corrupt and a missing file among good ones: non-zero exit, complete output for the good ones")
    func failures() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let good = try ReplayFixture.clip(in: dir, name: "good one.mp4")
        let other = try ReplayFixture.clip(in: dir, name: "other.mp4", creationTime: nil)
        var junk = [UInt8](repeating: 0, count: 4096)
        for i in junk.indices { junk[i] = UInt8(truncatingIfNeeded: i &* 2654435761 >> 13) }
        let corrupt = dir.file("corrupt.mp4")
        try Data(junk).write(to: URL(fileURLWithPath: corrupt))
        let missing = dir.file("missing.mp4")
        let r = try ReplayFixture.replay([good, corrupt, missing, other], ["--out", dir.file("all.jsonl")], dir: dir)
        #expect(r.status == 1, "exit \(String(describing: r.status)): \(r.stderr)")
        #expect(r.stderr.contains("corrupt.mp4") && r.stderr.contains("missing.mp4"), "stderr: \(r.stderr)")
        let objects = try ReplayFixture.lines(dir.file("all.jsonl")).map(ReplayFixture.object)
        for stream in ["good_one", "other"] {
            let frames = objects.filter { $0["stream"] as? String == stream && ($0["schema"] as? String) == "regionspotd/regions/2" }
            #expect(frames.count == ReplayFixture.frames, "\(stream): \(frames.count) frames")
            #expect(objects.contains { $0["stream"] as? String == stream && $0["state"] as? String == "ended" })
        }
        for stream in ["corrupt", "missing"] {
            #expect(objects.contains { $0["stream"] as? String == stream && $0["state"] as? String == "failed" })
            #expect(!objects.contains { $0["stream"] as? String == stream && ($0["schema"] as? String) == "regionspotd/regions/2" })
        }
    }

    @Test("--loop --duration: the file again and again with increasing PTS until the time is up, exit 0")
    func loopForDuration() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try ReplayFixture.clip(in: dir, name: "loop.mp4")
        // --out through a symbolic link: written in place, the link stays a link (a file
        // renamed over the path once replaced --out /dev/null with a regular file).
        try FileManager.default.createSymbolicLink(atPath: dir.file("link.jsonl"), withDestinationPath: dir.file("loop.jsonl"))
        let r = try ReplayFixture.replay([clip], ["--loop", "--duration", "4", "--out", dir.file("link.jsonl")], dir: dir)
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: dir.file("link.jsonl"))) == dir.file("loop.jsonl"))
        #expect(r.status == 0, "exit \(String(describing: r.status)): \(r.stderr)")
        let regions = try ReplayFixture.lines(dir.file("loop.jsonl")).map(ReplayFixture.object)
            .filter { ($0["schema"] as? String) == "regionspotd/regions/2" }
        let pts = regions.compactMap { $0["pts"] as? Double }
        #expect(regions.count > 2 * ReplayFixture.frames, "\(regions.count) frames in 4 s of a \(ReplayFixture.frames)-frame clip")
        #expect(zip(pts, pts.dropFirst()).allSatisfy { $0 < $1 }, "PTS keep increasing across passes")
        #expect(throws: (any Error).self) { try ReplayCommand.parse(["a.mp4", "b.mp4", "--weights", "/m", "--vocab", "a", "--loop"]) }
    }
}

@Suite("Replay under nice")
struct ReplayNiceTests {
    @Test("nice -n 7 regionspotd replay: every thread runs at nice 7 or lower priority, the process keeps its name")
    func niced() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try ReplayFixture.clip(in: dir, name: "nice.mp4")
        let bin = try #require(Repo.binary, "regionspotd not built")
        let child = try Child("/usr/bin/nice", ["-n", "7", bin] + ReplayFixture.arguments([clip], ["--loop", "--duration", "8", "--out", dir.file("n.jsonl")]),
                              env: ["XDG_CACHE_HOME": dir.file("cache")], dir: dir, name: "niced")
        defer { child.stop() }
        // decoding, the recognizer and its kernel pool have started once results appear
        #expect(eventually(30) { ((try? String(contentsOfFile: dir.file("n.jsonl"), encoding: .utf8)) ?? "").contains("regionspotd/regions/2") },
                "no results: \(child.stderr)")
        // Threads that did work (> 50 ms of CPU) run at nice 7 or lower priority; the
        // cooperative pool's idle threads sit at libdispatch's 0 / -4.
        let busy = threadStats(child.pid).filter { $0.cpuTicks > 5 }
        #expect(busy.count >= 2 && busy.allSatisfy { $0.nice >= 7 }, "busy threads: \(busy)")
        #expect(busy.contains { $0.name == "replay" }, "the replay runs on its own named thread: \(busy)")
        let comm = (try? String(contentsOfFile: "/proc/\(child.pid)/comm", encoding: .utf8)) ?? ""
        #expect(comm == "regionspotd\n", "process name after re-executing: \(comm)")
        #expect(child.wait(timeout: 60) == 0, "\(child.stderr)")
    }
}

@Suite("Replay progress and summary")
struct ReplayProgressTests {
    @Test("not a terminal: no progress line, a summary; on a terminal: a progress line with total, fps and ETA")
    func progress() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try ReplayFixture.clip(in: dir)
        let plain = try ReplayFixture.replay([clip], ["--out", dir.file("p.jsonl")], dir: dir, quiet: false)
        #expect(plain.status == 0)
        #expect(!plain.stderr.contains("\r") && !plain.stderr.contains("ETA"), "stderr: \(plain.stderr)")
        let precision = OneDNN.nativeBF16 ? "precision bf16 (precision auto: bf16" : "precision fp32 (precision auto: fp32"
        for part in ["frames 30 (3.00 s of video)", "keyframes recognized", "tracks", "labels: ", "x real time", "models: \(ReplayFixture.model), " + precision] {
            #expect(plain.stderr.contains(part), "summary lacks '\(part)': \(plain.stderr)")
        }
        // the label age line agrees with the ages published in the JSON lines
        let ages = try String(contentsOfFile: dir.file("p.jsonl"), encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .flatMap { ($0["regions"] as? [[String: Any]]) ?? [] }.compactMap { $0["label_age"] as? Double }
        try #require(!ages.isEmpty, "the clip published no regions: \(plain.stderr)")
        let sorted = ages.sorted()
        let p95 = sorted[Int((0.95 * Double(sorted.count)).rounded(.up)) - 1]
        let line = try #require(plain.stderr.split(separator: "\n").first { $0.contains("label age: p95 ") }, "\(plain.stderr)")
        #expect(line.contains("max \(String(format: "%.1f", sorted.last!)) s (keyframes.max_interval "), "\(line)")
        let printed = try #require(Double(line.split(separator: " ").drop { $0 != "p95" }.dropFirst().first ?? ""))
        #expect(printed >= p95 - 1e-9 && printed <= p95 + AgeHistogram.bin + 1e-9, "p95 printed \(printed), from the JSON \(p95)")
        // util-linux `script` gives the child a pseudo-terminal; --realtime makes it last
        // long enough (3 s) for several progress updates.
        let bin = try #require(Repo.binary)
        let cmd = [bin, "replay", "--weights", ReplayFixture.model, "--vocab", "person,car", "--realtime", "--out", dir.file("t.jsonl"), clip]
            .map { "'\($0)'" }.joined(separator: " ")
        let tty = try Child.run("/usr/bin/script", ["-qec", cmd, "/dev/null"], env: ["XDG_CACHE_HOME": dir.file("cache")], dir: dir, timeout: 60)
        #expect(tty.status == 0, "\(tty.stdout)")
        #expect(tty.stdout.contains("\rclip  ") && tty.stdout.contains("/30 frames") && tty.stdout.contains(" fps ")
                && tty.stdout.contains("recognitions") && tty.stdout.contains("ETA"), "terminal output: \(tty.stdout)")
    }
}

@Suite("Replay summary: label ages")
struct AgeHistogramTests {
    @Test("quantiles are bin upper edges, never above the largest age; NaN is ignored; empty has none")
    func quantiles() {
        var h = AgeHistogram()
        #expect(h.quantile(0.95) == nil && h.max == nil)
        for a in [0.0, 0.05, 0.31, 0.32, 1.25, 2.0, 2.0, 2.0, 9.99, 700] { h.add(a) }
        h.add(.nan)
        #expect(h.total == 10 && h.max == 700)
        #expect(h.quantile(0.1) == 0.1)                     // 0.0 sits in [0, 0.1)
        #expect(abs(h.quantile(0.4)! - 0.4) < 1e-9)         // 0.32 in [0.3, 0.4)
        #expect(abs(h.quantile(0.8)! - 2.1) < 1e-9)         // the 8th of 10: 2.0
        #expect(abs(h.quantile(0.9)! - 10.0) < 1e-9)        // 9.99 in [9.9, 10.0)
        #expect(h.quantile(1) == 700)                       // the overflow bin: the largest age
        var one = AgeHistogram()
        one.add(1.23)
        #expect(one.quantile(0.95) == 1.23)                 // capped at the largest age seen
    }
}

@Suite("Replay options")
struct ReplayOptionsTests {
    @Test("stream ids: file stem, sanitized, unique")
    func streamIDs() {
        #expect(ReplayCommand.streamIDs(["/a/good one.mp4", "/b/good one.mkv", "cam-1_x.ts", "/x/été.mov", "/y/.mp4", "noext"])
                == ["good_one", "good_one-2", "cam-1_x", "_t_", "_mp4", "noext"])
        #expect(ReplayCommand.perStream("/o/out.mp4", "cam1") == "/o/out-cam1.mp4")
        #expect(ReplayCommand.perStream("out", "cam1") == "out-cam1")
    }

    @Test("RFC 3339 start times, fractions kept to the microsecond")
    func startTimes() throws {
        #expect(parseRFC3339("1970-01-01T00:00:00Z") == 0)
        #expect(parseRFC3339("2024-05-01T12:00:00.000000Z") == 1_714_564_800)
        let t = try #require(parseRFC3339("2026-01-31T08:00:00.123456Z"))
        #expect(RFC3339.format(epochSeconds: t) == "2026-01-31T08:00:00.123456Z")
        #expect(parseRFC3339("2026-01-31T10:00:00+02:00") == parseRFC3339("2026-01-31T08:00:00Z"))
        #expect(parseRFC3339("yesterday") == nil)
        #expect(parseRFC3339("2026-01-31") == nil)
    }

    @Test("stream settings: same id or path from the configuration, else its first stream's; looping only with --loop")
    func streamSettings() throws {
        let yaml = """
        models: {directory: /models}
        vocabulary: [person]
        streams:
          - {id: lobby, url: "rtsp://cam/lobby", loop: false, keyframes: {min_interval: 0.5, max_interval: 2}}
          - {id: dock, url: /rec/dock.mp4, loop: true, keyframes: {min_interval: 3, max_interval: 9}}
        """
        let cfg = try ConfigLoader.parse(yaml: yaml, file: "/etc/t.yaml", checkFiles: false)
        let cmd = try ReplayCommand.parse(["x.mp4", "--config", "/etc/t.yaml"])
        let byPath = cmd.streamConfig(for: "/rec/dock.mp4", id: "dock", cfg)
        #expect(byPath.id == "dock" && byPath.keyframes.minInterval == 3 && !byPath.loop && byPath.url == "/rec/dock.mp4")
        let byID = cmd.streamConfig(for: "/elsewhere/dock.mkv", id: "dock", cfg)
        #expect(byID.keyframes.maxInterval == 9 && byID.url == "/elsewhere/dock.mkv")
        let other = cmd.streamConfig(for: "/rec/yard.mp4", id: "yard", cfg)
        #expect(other.id == "yard" && other.keyframes.minInterval == 0.5 && other.url == "/rec/yard.mp4")
        let every = try ReplayCommand.parse(["x.mp4", "--config", "/etc/t.yaml", "--every-frame"]).streamConfig(for: "/rec/yard.mp4", id: "yard", cfg)
        #expect(every.keyframes.minInterval == 0 && every.keyframes.maxInterval == 0)
        let plain = try ReplayCommand.parse(["x.mp4", "--weights", "/m", "--vocab", "a"]).streamConfig(for: "y.mp4", id: "y", nil)
        #expect(plain.keyframes == KeyframePolicy() && plain.id == "y" && !plain.loop)
        #expect(try ReplayCommand.parse(["x.mp4", "--weights", "/m", "--vocab", "a", "--loop"]).streamConfig(for: "y.mp4", id: "y", nil).loop)
        #expect(throws: (any Error).self) { try ReplayCommand.parse(["x.mp4"]) }
        #expect(throws: (any Error).self) { try ReplayCommand.parse(["x.mp4", "--config", "c", "--start-time", "noon"]) }
    }
}
