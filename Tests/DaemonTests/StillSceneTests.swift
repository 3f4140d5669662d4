// Issue 21's third target end to end: where nothing moves the encoders run once per
// max_interval and no more often. A make-shapes clip whose shapes stop after 3 s (its
// 30th picture repeated for 10 s) replayed with the demo's tiny model: the shapes that
// were tracked when they stopped stay published (their boxes no longer coast off them on
// their last velocity) and their labels are refreshed exactly every max_interval. An empty
// still scene is looked at once per min_interval (before, every frame once max_interval
// had passed, each counted as a keyframe looked at).
import Foundation
import Testing

@Suite("A scene where nothing moves", .serialized)
struct StillSceneTests {
    static func config(_ dir: TempDir, video: String, min: Double, max: Double) throws -> String {
        let path = dir.file("still.yaml")
        try """
        models:
          directory: \(dir.file("model"))
        vocabulary: [red square, blue circle, green triangle, yellow star]
        streams:
          - id: still
            url: \(video)
            keyframes: { min_interval: \(min), max_interval: \(max) }
        """.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func ffmpeg(_ args: [String], dir: TempDir) throws {
        let r = try Child.run("/usr/bin/ffmpeg", ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + args, dir: dir, timeout: 60)
        try #require(r.status == 0, "ffmpeg: \(r.stderr)")
    }

    /// (pts of the frames a recognition labelled, pts -> number of published regions)
    static func replay(_ video: String, config: String, dir: TempDir) throws -> (inferred: [Double], regions: [Double: Int], summary: String) {
        let out = dir.file("out.jsonl")
        let r = try EvalVideoFixture.run(["replay", video, "--config", config, "--out", out], dir: dir)
        try #require(r.status == 0, "replay: \(r.stderr)")
        var inferred: [Double] = [], regions: [Double: Int] = [:]
        for line in try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n") {
            let m = try EvalVideoFixture.json(String(line))
            guard let pts = m["pts"] as? Double, let rs = m["regions"] as? [Any] else { continue }
            regions[pts] = rs.count
            if m["inferred"] as? Bool == true { inferred.append(pts) }
        }
        return (inferred, regions, r.stderr)
    }

    @Test("shapes that stop stay published, relabelled once per max_interval and no more often")
    func shapesThatStop() throws {
        let dir = TempDir()
        defer { dir.remove() }
        try EvalVideoFixture.make(dir, ["--video-frames", "40"])
        try Self.ffmpeg(["-i", dir.file("shapes/video/video.mp4"), "-vf",
                         "trim=end_frame=30,tpad=stop_mode=clone:stop_duration=10,setpts=N/10/TB", "-r", "10",
                         "-c:v", "libx264", "-g", "10", "-bf", "0", dir.file("stops.mp4")], dir: dir)
        let r = try Self.replay(dir.file("stops.mp4"), config: try Self.config(dir, video: "stops.mp4", min: 0.5, max: 2), dir: dir)
        // after the last picture that moved (2.9 s) and one more look, only max_interval runs
        let late = r.inferred.filter { $0 > 3.5 }
        try #require(late.count >= 4, "runs after the shapes stopped: \(r.inferred)")
        for (a, b) in zip(late, late.dropFirst()) {
            #expect(abs(b - a - 2) < 0.01, "runs \(a) -> \(b) s apart, not max_interval: \(r.inferred)")
        }
        #expect(r.summary.contains("encoders ran on \(r.inferred.count) of"), "\(r.summary)")
        // something stays published on every frame from 4 s on
        let after = r.regions.filter { $0.key >= 4 }
        #expect(after.count >= 80 && after.allSatisfy { $0.value >= 1 },
                "frames from 4 s without a region: \(after.filter { $0.value == 0 }.keys.sorted().prefix(10))")
    }

    @Test("an empty still scene: one run, looked at once per min_interval")
    func emptyStillScene() throws {
        let dir = TempDir()
        defer { dir.remove() }
        try EvalVideoFixture.make(dir, ["--video-frames", "2"])
        try Self.ffmpeg(["-f", "lavfi", "-i", "color=c=0x707070:s=320x240:r=10:d=10", "-c:v", "libx264", "-g", "10", "-bf", "0",
                         dir.file("empty.mp4")], dir: dir)
        let r = try Self.replay(dir.file("empty.mp4"), config: try Self.config(dir, video: "empty.mp4", min: 1, max: 2), dir: dir)
        #expect(r.inferred == [0], "\(r.inferred)")
        #expect(r.summary.contains("encoders ran on 1 of 10 keyframes looked at"), "\(r.summary)")
    }
}
