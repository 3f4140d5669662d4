import Foundation
import Testing
@testable import Daemon
import Temporal

/// End to end on real H.264: scenes rendered by the ffmpeg CLI, decoded by Decode with
/// motion vectors, tracked by Temporal. Kept short (a few seconds of 640x360).
@Suite struct TrackEvalTests {
    func tempDir() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("regionspotd-track-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    @Test func propagationFollowsKnownMotionOnADecodedClip() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = SceneConfig()
        c.objects = 1; c.lateObjects = 0; c.seconds = 2; c.maxAccel = 0; c.seed = 5
        let scene = SyntheticScene(config: c)
        let url = dir.appendingPathComponent("one.mp4")
        try SceneVideo.write(scene, to: url, gop: 60)
        let (frames, w, h, _) = try TrackEvaluation.decodeMotion(url)
        #expect(frames.count == c.frameCount && w == 640 && h == 360)
        #expect(frames[0].samples == nil && frames[1].samples.map { !$0.isEmpty } == true)
        // One exact proposal on frame 0, then 29 frames carried by the codec's vectors
        // (or, for comparison, by a filter that has no velocity yet).
        var mv = Tracker(), cv = Tracker(config: { var k = TrackerConfig(); k.useMotionVectors = false; return k }())
        let first = [Proposal(box: scene.truth.frames[0][0].box, score: 0.9)]
        for (i, f) in frames.prefix(30).enumerated() {
            let info = FrameInfo(index: i, time: f.time, width: 640, height: 360)
            mv.propagate(to: info, motion: f.samples)
            cv.propagate(to: info, motion: f.samples)
            if i == 0 { mv.update(frame: info, proposals: first); cv.update(frame: info, proposals: first) }
        }
        let truth = scene.truth.frames[29][0].box
        let moved = truth.iou(scene.truth.frames[0][0].box)
        let got = mv.regions()[0]
        #expect(got.provenance.boxMethod == .motionVectors)
        #expect(got.box.iou(truth) > 0.85, "mv box \(got.box) vs truth \(truth)")
        #expect(got.box.iou(truth) > cv.regions()[0].box.iou(truth))
        #expect(moved < 0.6)   // the object really moved
        // The truth JSON sits beside the video.
        let t = try JSONDecoder().decode(SceneTruth.self, from: Data(contentsOf: SceneVideo.truthURL(for: url)))
        #expect(t.frames.count == c.frameCount)
    }

    @Test func motionVectorsBeatConstantVelocityOnAShortScene() throws {
        let dir = try tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var c = SceneConfig()
        c.seconds = 8; c.objects = 4; c.lateObjects = 1
        let results = try TrackEvalCommand.evaluate(scene: c, scenes: 1, gopSeconds: 0.5, intervals: [1], dir: dir)
        let mv = try #require(results.first { $0.motionVectors })
        let cv = try #require(results.first { !$0.motionVectors })
        #expect(mv.lastFramePairs > 10)
        #expect(mv.lastFrameIoU > cv.lastFrameIoU)
        #expect(mv.lastFrameIoU > 0.7, "last-frame IoU \(mv.lastFrameIoU)")
        #expect(mv.summary.idf1 > 0.8, "IDF1 \(mv.summary.idf1)")
        #expect(mv.summary.idf1 > cv.summary.idf1)
        #expect(TrackEvalCommand.markdownTable(results).contains("motion vectors"))
    }
}
