// One recorded file through the same StreamPipeline `run` uses, recognizing inline (nothing
// the keyframe policy asks for is skipped). On the reader thread it counts what was
// published and, when asked, draws each frame into the annotated MP4 and each recognized
// keyframe into a PNG. The caller waits for the end and reads the summary.
import Decode
import Dispatch
import Foundation
import Logging
import Recognizer

final class ReplaySession: @unchecked Sendable {
    struct Outputs {
        var annotate: String?
        var snapshots: String?
    }

    /// What one file gave (read after `run` returns, or mid-run for progress).
    struct Summary: Sendable {
        var file: String
        var stream: String
        var frames = 0
        var totalFrames: Int?
        var recognitions = 0
        /// Keyframes looked at on which nothing needed the encoders; reasons they ran.
        var encoderRests = 0
        var encoderReasons: [String: Int] = [:]
        /// Age of every published region's label, and the bound keyframes.max_interval sets.
        var labelAges = AgeHistogram()
        var maxInterval = 0.0
        var tracks = 0
        /// label -> (tracks that carried it, region-frames published with it)
        var labels: [String: (tracks: Int, regions: Int)] = [:]
        /// Seconds of video processed (last PTS - first PTS + one frame).
        var mediaSeconds = 0.0
        var wallSeconds = 0.0
        var snapshots = 0
        var annotatedFrames = 0
        /// nil when the file played to its end and every output was written.
        var failure: String?
    }

    let file: String
    let config: StreamConfig
    let metadata: FileMetadata?
    let outputs: Outputs
    private let lock = NSLock()
    private let ended = DispatchSemaphore(value: 0)
    private var summary: Summary
    private var trackIDs = Set<UInt64>()
    private var labelTracks: [String: Set<UInt64>] = [:]
    private var labelRegions: [String: Int] = [:]
    private var firstPTS: Double?
    private var lastPTS: Double?
    private var finalState: ReaderEvent?
    private var outputError: String?
    private let started = Date()
    // Reader thread only (drawing).
    private let annotator = FrameAnnotator()
    private let converter = FrameConverter()
    private var encoder: VideoEncoder?

    init(file: String, config: StreamConfig, metadata: FileMetadata?, outputs: Outputs) {
        self.file = file
        self.config = config
        self.metadata = metadata
        self.outputs = outputs
        summary = Summary(file: file, stream: config.id, totalFrames: metadata?.frameCount)
        summary.maxInterval = config.keyframes.maxInterval
    }

    var drawing: Bool { outputs.annotate != nil || outputs.snapshots != nil }

    /// Runs the file to its end (or until `shouldStop` says so); `tick` is called about
    /// every `interval` seconds while it runs (progress).
    func run(engine: RecognitionEngine, sink: any MessageSink, options base: StreamPipeline.Options, logger: Logger,
             interval: Double = 0.25, shouldStop: () -> Bool, tick: (Summary) -> Void) -> Summary {
        var o = base
        o.synchronous = true
        o.masks = base.masks && drawing
        let userFrame = base.onFrame
        o.onFrame = { [self] frame, message, inferred in
            record(frame, message, inferred)
            userFrame?(frame, message, inferred)
        }
        o.onKeyframe = { [self] why in
            lock.withLock {
                if let why { summary.encoderReasons[why.rawValue, default: 0] += 1 } else { summary.encoderRests += 1 }
            }
        }
        o.onState = { [self] e in
            if e.state == .ended || e.state == .failed {
                lock.withLock { finalState = e }
                ended.signal()
            }
        }
        let pipeline = StreamPipeline(config: config, engine: engine, worker: nil, sink: sink, metrics: nil, status: nil,
                                      external: nil, progress: nil, logger: logger, options: o)
        pipeline.start()
        var stopped = false
        while ended.wait(timeout: .now() + interval) == .timedOut {
            tick(current())
            if !stopped && shouldStop() {
                stopped = true
                pipeline.stop()  // joins the reader thread; it reports `ended: stopped`
            }
        }
        pipeline.stop()
        // The reader thread is gone: the encoder is ours now.
        if let enc = encoder {
            do { try enc.finish() } catch { lock.withLock { outputError = outputError ?? "\(error)" } }
            encoder = nil
        }
        var s = current()
        lock.withLock {
            if let e = finalState, e.state == .failed {
                s.failure = Redaction.redact(e.reason)
            } else if stopped {
                s.failure = "interrupted"
            } else if let err = outputError {
                s.failure = err
            }
        }
        return s
    }

    /// The summary so far.
    func current() -> Summary {
        lock.withLock {
            var s = summary
            s.tracks = trackIDs.count
            s.labels = Dictionary(uniqueKeysWithValues: labelTracks.map { ($0.key, ($0.value.count, labelRegions[$0.key] ?? 0)) })
            if let a = firstPTS, let b = lastPTS {
                let step = (metadata?.frameRate).map { 1 / $0 } ?? 0
                s.mediaSeconds = b - a + (s.frames > 1 ? step : 0)
            }
            s.wallSeconds = Date().timeIntervalSince(started)
            return s
        }
    }

    // MARK: reader thread

    private func record(_ frame: VideoFrame, _ message: RegionsMessage, _ inferred: [RecognizedRegion]?) {
        lock.withLock {
            summary.frames += 1
            if inferred != nil { summary.recognitions += 1 }
            firstPTS = firstPTS ?? frame.pts
            lastPTS = frame.pts
            for r in message.regions {
                trackIDs.insert(r.trackID)
                labelTracks[r.label, default: []].insert(r.trackID)
                labelRegions[r.label, default: 0] += 1
                summary.labelAges.add(r.labelAge)
            }
        }
        guard drawing, lock.withLock({ outputError == nil }) else { return }
        do {
            try draw(frame, message, inferred)
        } catch {
            lock.withLock { outputError = "\(error)" }
        }
    }

    private func draw(_ frame: VideoFrame, _ message: RegionsMessage, _ inferred: [RecognizedRegion]?) throws {
        let wantsSnapshot = inferred != nil && outputs.snapshots != nil
        guard outputs.annotate != nil || wantsSnapshot else { return }
        let picture = annotator.draw(try converter.rgb(frame), message: message, recognized: inferred)
        if let path = outputs.annotate {
            if encoder == nil {
                // The source's creation time travels along: replaying the annotated video
                // gives the same message times.
                var eo = VideoEncoder.Options()
                if let t = metadata?.creationTime { eo.metadata["creation_time"] = t }
                encoder = try VideoEncoder(path: path, width: picture.width, height: picture.height,
                                           frameRate: metadata?.frameRate ?? 25, options: eo)
            }
            try encoder?.write(picture, pts: frame.pts)
            lock.withLock { summary.annotatedFrames += 1 }
        }
        if wantsSnapshot, let dir = outputs.snapshots {
            let name = "\(config.id)-\(String(format: "%06d", frame.index)).png"
            try PNGWriter.write(rgb: picture.bytes, width: picture.width, height: picture.height,
                               to: (dir as NSString).appendingPathComponent(name))
            lock.withLock { summary.snapshots += 1 }
        }
    }
}
