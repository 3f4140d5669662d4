// Proposal sources end to end: motion proposals on real codec vectors of the Temporal synthetic
// scenes (rendered, encoded by ffmpeg/libx264, decoded by Decode), and external boxes
// from a real ZeroMQ PUSH client reaching the proposal merge.
import Decode
import Foundation
import Logging
import Recognizer
import Temporal
import Testing
@testable import Daemon

@Suite("Proposals")
struct ProposalsTests {
    /// Renders `scene` and encodes it: H.264, a codec keyframe every `gop` frames, no B-frames.
    static func encode(_ scene: SyntheticScene, gop: Int, to path: String, dir: TempDir) throws {
        let c = scene.config
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/ffmpeg")
        p.arguments = ["-nostdin", "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
                       "-s", "\(c.width)x\(c.height)", "-r", "\(c.fps)", "-i", "pipe:0",
                       "-c:v", "libx264", "-preset", "veryfast", "-bf", "0", "-g", "\(gop)",
                       "-x264-params", "keyint=\(gop):min-keyint=\(gop):scenecut=0", "-pix_fmt", "yuv420p", path]
        let input = Pipe()
        p.standardInput = input
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle(forWritingAtPath: dir.write("ffmpeg.err", ""))
        try p.run()
        defer { if p.isRunning { p.terminate() } }
        var rgb: [UInt8] = []
        for f in 0..<c.frameCount {
            scene.render(frame: f, into: &rgb)
            try input.fileHandleForWriting.write(contentsOf: Data(rgb))
        }
        try input.fileHandleForWriting.close()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "ffmpeg: \((try? String(contentsOfFile: dir.file("ffmpeg.err"), encoding: .utf8)) ?? "")")
    }

    @Test("motion proposals on codec keyframes find the moving objects of the synthetic scenes (recall >= 0.9 at IoU 0.5)")
    func motionRecall() throws {
        let dir = TempDir()
        defer { dir.remove() }
        var found = 0, total = 0, keyframes = 0, proposed = 0, present = 0
        var misses: [String] = []
        for seed: UInt64 in [1, 2, 3] {
            var cfg = SceneConfig()
            cfg.seconds = 8
            cfg.seed = seed
            let scene = SyntheticScene(config: cfg)
            let path = dir.file("scene\(seed).mp4")
            try Self.encode(scene, gop: 30, to: path, dir: dir)
            let source = try VideoSource(url: path, options: SourceOptions(motionVectors: true))
            defer { source.close() }
            var memory = MotionMemory(frames: 1)
            while let frame = try source.nextFrame() {
                defer { memory.add(frame.motionSamples ?? []) }
                guard frame.isKeyframe, frame.index > 0 else { continue }
                keyframes += 1
                // I-frame: no vectors of its own; the previous frame's stand in.
                let regions = MotionProposals.fromVectors(memory.samples, width: Float(frame.width), height: Float(frame.height))
                let truth = scene.truth.frames[frame.index], before = scene.truth.frames[frame.index - 1]
                proposed += regions.count
                present += truth.count
                // objects that are moving and mostly visible
                let moving = truth.filter { t in
                    guard t.visibility >= 0.7, let p = before.first(where: { $0.id == t.id }) else { return false }
                    let d = hypot(t.box.cx - p.box.cx, t.box.cy - p.box.cy)
                    return d >= 1
                }
                var free = regions.map(\.box)
                for t in moving {
                    total += 1
                    if let best = free.indices.max(by: { free[$0].iou(t.box) < free[$1].iou(t.box) }), free[best].iou(t.box) >= 0.5 {
                        found += 1
                        free.remove(at: best)
                    } else {
                        let p = before.first { $0.id == t.id }!
                        misses.append("seed \(seed) frame \(frame.index) id \(t.id) \(t.box) moving \(t.box.cx - p.box.cx),\(t.box.cy - p.box.cy) best \(regions.max { $0.box.iou(t.box) < $1.box.iou(t.box) }.map { "\($0.box) IoU \($0.box.iou(t.box)) v \($0.dx),\($0.dy)" } ?? "none")")
                    }
                }
            }
        }
        #expect(keyframes >= 21)
        // not a box everywhere: about one region per object on screen
        #expect(proposed <= present + present / 2, "\(proposed) regions for \(present) objects")
        #expect(total >= 60, "only \(total) moving objects on keyframes")
        let recall = Double(found) / Double(max(total, 1))
        #expect(recall >= 0.9, "recall \(found)/\(total) = \(recall); misses: \(misses.joined(separator: "; "))")
    }

    @Test("external boxes pushed by a real ZeroMQ client reach the proposal merge, tagged and ranked")
    func externalToMerge() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let inbox = ExternalBoxInbox(capacityPerStream: 16)
        let rx = try ExternalBoxReceiver(endpoint: "tcp://127.0.0.1:*", inbox: inbox, knownStreams: { ["cam1"] },
                                         metrics: MetricsRegistry(), logger: Logger(label: "t") { _ in SwiftLogNoOpLogHandler() })
        defer { rx.close() }
        let script = dir.write("push.py", """
            import json, sys, zmq
            ctx = zmq.Context(); s = ctx.socket(zmq.PUSH); s.connect(sys.argv[1])
            s.send(json.dumps({"schema": "regionspotd/external-boxes/1", "stream": "cam1", "frame": 29,
                               "boxes": [{"box": [100, 100, 200, 220], "label": "person", "score": 0.8, "id": "det-1"},
                                         {"box": [400, 50, 470, 120], "label": "car", "score": 0.95}]}).encode())
            s.send(json.dumps({"schema": "regionspotd/external-boxes/1", "stream": "cam1", "frame": 45,
                               "boxes": [{"box": [10, 10, 50, 50]}]}).encode())
            s.send(b"not json")
            s.close(linger=5000); ctx.term()
            """)
        let push = try Child.run(Repo.python, [script, rx.boundEndpoint], dir: dir)
        #expect(push.status == 0, "\(push.stderr)")
        let end = Date().addingTimeInterval(10)
        while (rx.counts.accepted < 2 || rx.counts.malformed < 1) && Date() < end { usleep(20_000) }
        #expect(rx.counts.accepted == 2 && rx.counts.malformed == 1)

        // keyframe 30: the frame-29 message is due, the frame-45 one stays queued
        var stream = StreamConfig(id: "cam1", url: "file.mp4")
        stream.proposals.sources = [.tracked, .external, .zones, .motion]
        stream.proposals.zones = [Zone(name: "door", box: [500, 200, 600, 350])]
        var schedule = Proposals.schedule(for: stream.proposals)
        let run = schedule.sources(at: 1.0)
        #expect(run == [.tracked, .external, .zone, .motion])
        var candidates: [ProposalCandidate] = []
        candidates += Proposals.motion([MotionRegion(box: Box(x1: 102, y1: 98, x2: 203, y2: 221), cells: 40, dx: 2, dy: 0),
                                        MotionRegion(box: Box(x1: 250, y1: 250, x2: 300, y2: 300), cells: 9, dx: 1, dy: 1)])
        candidates += Proposals.external(inbox.take(stream: "cam1", frame: 30, pts: 1.0))
        candidates += Proposals.tracked([(id: 7, box: Box(x1: 398, y1: 52, x2: 471, y2: 118), score: 0.6)])
        candidates += Proposals.zones(stream.proposals.zones)
        #expect(inbox.count(stream: "cam1") == 1)
        let merged = ProposalMerge.merge(candidates, config: ProposalMergeConfig(iouThreshold: 0.7, maxBoxes: 4), width: 640, height: 360)
        #expect(merged.map(\.source) == [.tracked, .external, .zone, .motion])
        #expect(merged.map(\.tag) == ["7", "det-1", "door", nil])
        #expect(merged[1].box == Box(x1: 100, y1: 100, x2: 200, y2: 220) && merged[1].score == 0.8)
        #expect(merged[2].box == Box(x1: 500, y1: 200, x2: 600, y2: 350))
        #expect(merged[3].box == Box(x1: 250, y1: 250, x2: 300, y2: 300))
        // the next keyframe gets the later message
        #expect(Proposals.external(inbox.take(stream: "cam1", frame: 60, pts: 2.0)).map(\.box) == [Box(x1: 10, y1: 10, x2: 50, y2: 50)])
    }

    @Test("proposal keys: max_boxes, dedup_iou, everything_grid reach the merge and everything mode")
    func configKeys() throws {
        let c = try ConfigLoader.parse(yaml: """
            models: {directory: /m}
            vocabulary: [person]
            streams: [{id: a, url: "rtsp://h/x", proposals: {max_boxes: 3, dedup_iou: 0.5, everything_grid: 8}}]
            """, file: "/etc/x.yaml", checkFiles: false)
        let p = c.streams[0].proposals
        #expect(Proposals.mergeConfig(for: p) == ProposalMergeConfig(iouThreshold: 0.5, maxBoxes: 3))
        #expect(Proposals.everythingConfig(for: p).pointsPerSide == 8)
        let d = ProposalConfig()
        #expect(Proposals.mergeConfig(for: d) == ProposalMergeConfig() && Proposals.everythingConfig(for: d).pointsPerSide == 16)
        #expect(throws: (any Error).self) {
            try ConfigLoader.parse(yaml: """
                models: {directory: /m}
                vocabulary: [person]
                streams: [{id: a, url: "rtsp://h/x", proposals: {max_boxes: 0, dedup_iou: 1.5}}]
                """, file: "/etc/x.yaml", checkFiles: false)
        }
    }

    @Test("no proposal configuration: tracked + motion every keyframe, everything at start and once a minute")
    func defaults() {
        var s = Proposals.schedule(for: ProposalConfig())
        #expect(s.sources(at: 0.5) == [.tracked, .motion, .everything])
        #expect(s.sources(at: 30) == [.tracked, .motion])
        #expect(s.sources(at: 60.5) == [.tracked, .motion, .everything])
    }
}
