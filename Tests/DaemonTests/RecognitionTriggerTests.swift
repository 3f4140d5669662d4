import Foundation
import Temporal
import Testing
@testable import Daemon

@Suite("Encoders on demand: the trigger")
struct RecognitionTriggerTests {
    func box(_ x: Float, _ y: Float, _ w: Float = 40, _ h: Float = 40) -> Box { Box(x1: x, y1: y, x2: x + w, y2: y + h) }
    func inputs(_ f: (inout RecognitionTrigger.Inputs) -> Void) -> RecognitionTrigger.Inputs {
        var i = RecognitionTrigger.Inputs(sinceRecognition: 1, maxInterval: 10)
        f(&i)
        return i
    }

    @Test("a quiet scene whose tracks are all explained rests the encoders until max_interval")
    func rests() {
        let tracked = inputs { $0.moving = [box(100, 100)]; $0.tracks = [box(102, 101)] }
        #expect(RecognitionTrigger.decide(tracked).isEmpty)
        #expect(RecognitionTrigger.decide(inputs { _ in }).isEmpty)
        #expect(RecognitionTrigger.decide(inputs { $0.sinceRecognition = 10 }) == [.maxInterval])
        #expect(RecognitionTrigger.decide(inputs { $0.sinceRecognition = nil }) == [.maxInterval])
    }

    @Test("a moving region the last run rejected (a swaying tree, a flag) does not ask again; one that moved on does")
    func rejectedMotion() {
        let flag = box(200, 50, 60, 30)
        // the same place, moving again: answered ("no object here") until max_interval
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [box(203, 52, 58, 30)]; $0.rejected = [flag] }).isEmpty)
        // covered by the rejected box (a piece of the tree)
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [box(210, 55, 20, 20)]; $0.rejected = [flag] }).isEmpty)
        // a region that moved away from what was rejected (a person seen badly at the edge
        // walks in) asks again, and so does one elsewhere
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [box(240, 50, 60, 30)]; $0.rejected = [flag] }) == [.newMotion])
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [flag, box(20, 150)]; $0.rejected = [flag] }) == [.newMotion])
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [flag]; $0.rejected = [flag]; $0.sinceRecognition = 10 }) == [.maxInterval])
    }

    @Test("every reason that holds, most important first")
    func reasons() {
        let all = inputs {
            $0.sinceRecognition = 11; $0.everything = true; $0.external = true; $0.zones = true
            $0.moving = [box(300, 300)]; $0.tracks = [box(100, 100)]; $0.tentative = true
            $0.requests = [.stale, .neverRecognized, .stale]
        }
        #expect(RecognitionTrigger.decide(all) == [.maxInterval, .everything, .external, .zones, .newMotion, .tentative, .stale, .neverRecognized])
        // a moving region a track holds badly (IoU < 0.5) asks too
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [box(100, 100)]; $0.tracks = [box(125, 100)] }) == [.newMotion])
        // a region mostly inside tracks' boxes (a moving arm, two tracked people walking
        // together) is explained; one half inside is not
        let inner = Box(x1: 110, y1: 110, x2: 130, y2: 130)
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [inner]; $0.tracks = [box(100, 100)] }).isEmpty)
        let pair = Box(x1: 100, y1: 100, x2: 200, y2: 150)
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [pair]; $0.tracks = [Box(x1: 100, y1: 100, x2: 148, y2: 150), Box(x1: 150, y1: 100, x2: 200, y2: 150)] }).isEmpty)
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [pair]; $0.tracks = [Box(x1: 100, y1: 100, x2: 145, y2: 150)] }) == [.newMotion])
        #expect(RecognitionTrigger.decide(inputs { $0.requests = [.drift, .lowMargin] }) == [.drift, .lowMargin])
        // a region the tracker's association explains (Tracker.explained) asks nothing
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [box(100, 100)]; $0.tracks = [box(140, 100)]; $0.explained = [0] }).isEmpty)
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [box(100, 100), box(300, 300)]; $0.tracks = [box(140, 100)]; $0.explained = [0] }) == [.newMotion])
        // the parts of a region the motion vectors cut are covered by the one track over
        // both, which is neither of them: they ask (MotionSeparation)
        let over = Box(x1: 100, y1: 100, x2: 200, y2: 150)
        let cut = [Box(x1: 100, y1: 100, x2: 145, y2: 150), Box(x1: 150, y1: 100, x2: 200, y2: 150)]
        #expect(RecognitionTrigger.decide(inputs { $0.moving = cut; $0.tracks = [over] }).isEmpty)
        #expect(RecognitionTrigger.decide(inputs { $0.moving = cut; $0.tracks = [over]; $0.apart = [0, 1] }) == [.newMotion])
        #expect(RecognitionTrigger.decide(inputs { $0.moving = cut; $0.tracks = cut; $0.apart = [0, 1] }).isEmpty)
    }

    @Test("between codec keyframes (preferred) the scheduled passes wait; max_interval, tracks asking and new objects count")
    func betweenCodecKeyframes() {
        let asked = inputs {
            $0.sinceRecognition = 11; $0.everything = true; $0.external = true; $0.zones = true
            $0.moving = [box(300, 300)]; $0.tentative = true; $0.requests = [.drift]
            $0.betweenCodecKeyframes = true
        }
        #expect(RecognitionTrigger.decide(asked) == [.maxInterval, .newMotion, .tentative, .drift])
        #expect(RecognitionTrigger.decide(inputs { $0.moving = [box(300, 300)]; $0.betweenCodecKeyframes = true }) == [.newMotion])
        #expect(RecognitionTrigger.decide(inputs { $0.zones = true; $0.external = true; $0.betweenCodecKeyframes = true }).isEmpty)
        #expect(RecognitionTrigger.decide(inputs { $0.onDemand = false; $0.betweenCodecKeyframes = true }) == [.everyKeyframe])
    }

    @Test("on_demand off: every keyframe the window allows")
    func off() {
        #expect(RecognitionTrigger.decide(inputs { $0.onDemand = false }) == [.everyKeyframe])
    }

    /// `--every-keyframe` is the baseline encoders on demand are measured against: the
    /// tracker's requests (which make keyframes between codec keyframes) are the ones from
    /// before, drift on any change of size; on demand, drift after a meeting only.
    @Test("the tracker's recognition policy: on demand drift asks after meetings only, every keyframe as before on demand")
    func trackerPolicy() {
        var stream = StreamConfig(id: "cam1", url: "file.mp4")
        stream.keyframes.maxInterval = 7
        let onDemand = StreamPipeline.trackerConfig(stream).recognition
        #expect(onDemand.driftOnlyAfterMeeting && onDemand.minIoUToInferred == 0 && onDemand.maxLabelAge == 7)
        stream.keyframes.onDemand = false
        let every = StreamPipeline.trackerConfig(stream).recognition
        #expect(!every.driftOnlyAfterMeeting)
        #expect(every.minIoUToInferred == RecognitionPolicy().minIoUToInferred && every.maxLabelAge == RecognitionPolicy().maxLabelAge)
    }
}
