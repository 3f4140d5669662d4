// One stream, top to bottom: decode (LiveReader thread) -> propagate tracks on every frame
// -> on keyframes choose boxes and recognize (on the recognizer worker when live, inline
// when replaying) -> fold recognition results into the tracks -> publish regions, track
// events and status. All tracker state lives on the reader thread; the worker hands
// results back through a mailbox read at the next frame.
import Decode
import Foundation
import Logging
import Recognizer
import Temporal

final class StreamPipeline: @unchecked Sendable {
    struct Options {
        var maxBoxes = 64
        /// Recognize inline on the reader thread (replay: deterministic, nothing skipped).
        var synchronous = false
        /// Wall-clock `time` of a frame: arrival (live) or start + PTS (replay).
        var clock: @Sendable (VideoFrame) -> Double = { $0.arrival.timeIntervalSince1970 }
        var sourceOptions = SourceOptions()
        var reconnect = ReconnectPolicy()
        /// Called on the reader thread after each processed frame with what was published
        /// (replay draws and counts with it).
        var onFrame: (@Sendable (VideoFrame, RegionsMessage, [RecognizedRegion]?) -> Void)? = nil
        var onState: (@Sendable (ReaderEvent) -> Void)? = nil
    }

    let config: StreamConfig
    let engine: RecognitionEngine
    let worker: RecognizerWorker?
    let sink: any MessageSink
    let metrics: StreamMetrics?
    let status: StreamStatus?
    let external: ExternalBoxInbox?
    let progress: ProgressToken?
    let logger: Logger
    let options: Options
    private var reader: LiveReader?

    // Reader-thread state.
    private var tracker: Tracker
    private let converter = FrameConverter()
    private var throttle: RegionsThrottle
    private var lastRecognitionPTS: Double?
    private var lastEverythingPTS: Double?
    private var announced: [UInt64: (label: String, box: [Double])] = [:]
    private var inferredAt: [UInt64: (frame: Int, pts: Double)] = [:]
    private var lastFrame: (index: Int, pts: Double, time: Double)?
    /// The latest frame's motion vectors that had any (I-frames carry none, and codec
    /// keyframes are I-frames: motion proposals read the P-frame before).
    private var recentMotion: [MotionVector] = []
    // Mailbox from the worker / reload.
    private let mailbox = NSLock()
    private var results: [RecognitionResult] = []
    private var pendingVocabulary: TrackerVocabulary?

    init(config: StreamConfig, engine: RecognitionEngine, worker: RecognizerWorker?, sink: any MessageSink,
         metrics: StreamMetrics?, status: StreamStatus?, external: ExternalBoxInbox?, progress: ProgressToken?,
         logger: Logger, options: Options) {
        self.config = config
        self.engine = engine
        self.worker = worker
        self.sink = sink
        self.metrics = metrics
        self.status = status
        self.external = external
        self.progress = progress
        self.logger = logger
        self.options = options
        var tc = TrackerConfig()
        tc.topK = 3
        tracker = Tracker(config: tc, vocabulary: engine.trackerVocabulary)
        throttle = RegionsThrottle(maxPerSecond: config.publishRate)
    }

    func start() {
        var so = options.sourceOptions
        so.transport = config.transport == .udp ? .udp : .tcp
        so.loop = so.loop || config.loop
        so.motionVectors = true
        let r = LiveReader(url: config.url, options: so, reconnect: options.reconnect,
                           onState: { [weak self] e in self?.stateChanged(e) },
                           onFrame: { [weak self] f in self?.process(f) })
        reader = r
        r.start()
    }

    /// Stops decoding (joins the reader thread) and publishes the tracks' ends.
    func stop() {
        reader?.stop()
        reader = nil
    }

    /// Re-scores every live track with a new vocabulary at the next frame (no encoder run).
    func setVocabulary(_ v: TrackerVocabulary) { mailbox.withLock { pendingVocabulary = v } }

    private func stateChanged(_ e: ReaderEvent) {
        let state = StreamState(rawValue: e.state.rawValue) ?? .failed
        if state == .reconnecting { metrics?.reconnects.inc() }
        status?.set(state, reason: e.reason)
        if status == nil {
            sink.send(StatusMessage.state(state, stream: config.id, reason: e.reason, time: lastFrame?.time ?? RFC3339.now()))
        }
        options.onState?(e)
        let level: Logger.Level = (state == .streaming || state == .connecting) ? .info : (state == .ended ? .notice : .warning)
        logger.log(level: level, "stream \(config.id): \(e.state.rawValue): \(e.reason)")
    }

    // MARK: per frame

    private func process(_ frame: VideoFrame) {
        progress?.beat()
        metrics?.framesDecoded.inc()
        let time = options.clock(frame)
        let info = FrameInfo(index: frame.index, time: frame.pts, width: Float(frame.width), height: Float(frame.height))
        let motion = frame.motionSamples
        tracker.propagate(to: info, motion: motion)
        if let mv = frame.motionVectors, !mv.isEmpty { recentMotion = mv }

        var (done, vocab) = mailbox.withLock { () -> ([RecognitionResult], TrackerVocabulary?) in
            defer { results = []; pendingVocabulary = nil }
            return (results, pendingVocabulary)
        }
        if let v = vocab { tracker.setVocabulary(v); vocab = nil }

        var inferredNow: [RecognizedRegion]? = nil
        if wantsRecognition(frame) {
            lastRecognitionPTS = frame.pts
            let boxes = proposals(frame, info: info)
            if !boxes.isEmpty, let rgb = try? converter.rgb(frame) {
                let job = RecognitionJob(stream: config.id, frame: frame.index, pts: frame.pts, rgb: rgb.bytes, width: rgb.width, height: rgb.height,
                                         boxes: boxes.map(\.box), sources: boxes.map(\.source.rawValue), confidences: boxes.map(\.confidence),
                                         submitted: Date().timeIntervalSince1970, completion: { [weak self] r in self?.deliver(r) })
                if options.synchronous {
                    let t0 = Date().timeIntervalSince1970
                    let regions = engine.recognize(rgb: job.rgb, width: job.width, height: job.height, boxes: job.boxes)
                    done.append(RecognitionResult(frame: frame.index, pts: frame.pts, regions: regions, sources: job.sources,
                                                  confidences: job.confidences, latency: Date().timeIntervalSince1970 - t0))
                } else if let worker, worker.submit(job) {
                    metrics?.recognitionsSkipped.inc()  // replaced a keyframe still waiting
                }
            }
        }
        // `inferred` marks the frame whose message first carries a recognition's labels:
        // the frame itself when recognizing inline (replay), the frame the worker's result
        // arrived on when live; each region's inferred_frame names the frame it saw.
        for r in done {
            apply(r, at: info)
            inferredNow = (inferredNow ?? []) + r.regions
        }
        publish(frame, time: time, info: info, inferred: inferredNow)
        lastFrame = (frame.index, frame.pts, time)
    }

    private func deliver(_ r: RecognitionResult) { mailbox.withLock { results.append(r) } }

    /// The keyframe policy: at least `min_interval` seconds between recognitions, at most
    /// `max_interval`; between them codec keyframes (or every frame when not preferred)
    /// and tracks asking for fresh labels trigger one.
    private func wantsRecognition(_ frame: VideoFrame) -> Bool {
        let p = config.keyframes
        guard let last = lastRecognitionPTS else { return true }
        let since = frame.pts - last
        if since >= p.maxInterval { return true }
        guard since >= p.minInterval else { return false }
        if !p.preferCodecKeyframes || frame.isKeyframe { return true }
        return !tracker.recognitionRequests().isEmpty
    }

    /// Boxes from the configured sources, merged and capped.
    private func proposals(_ frame: VideoFrame, info: FrameInfo) -> [CandidateBox] {
        var c: [CandidateBox] = []
        let sources = Set(config.proposals.sources)
        if sources.contains(.tracked) {
            for t in tracker.liveTracks where t.state == .confirmed || t.state == .tentative {
                c.append(CandidateBox(box: [t.box.x1, t.box.y1, t.box.x2, t.box.y2], source: .tracked, confidence: 1))
            }
        }
        if sources.contains(.external), let external {
            for m in external.take(stream: config.id, frame: frame.index, pts: frame.pts) {
                for b in m.boxes where b.box.count == 4 {
                    c.append(CandidateBox(box: b.box.map { Float($0) }, source: .external, confidence: Float(b.score ?? 1)))
                }
            }
        }
        if sources.contains(.zones) {
            for z in config.proposals.zones where z.box.count == 4 {
                c.append(CandidateBox(box: z.box.map { Float($0) }, source: .zones, confidence: 1))
            }
        }
        if sources.contains(.motion), !recentMotion.isEmpty {
            c += MotionBoxes.propose(recentMotion.map { (x: $0.x, y: $0.y, w: Float($0.blockWidth), h: Float($0.blockHeight), dx: $0.displacementX, dy: $0.displacementY) },
                                     width: Float(frame.width), height: Float(frame.height))
                .map { CandidateBox(box: $0, source: .motion, confidence: 0.8) }
        }
        return ProposalSet.merge(c, cap: options.maxBoxes, width: info.width, height: info.height)
    }

    /// Folds a recognition result into the tracks; provenance points at the frame the
    /// recognizer saw, even when the result arrives a few frames later.
    private func apply(_ r: RecognitionResult, at info: FrameInfo) {
        metrics?.recognitions.inc()
        metrics?.recognitionLatency.observe(r.latency)
        status?.recognized(latency: r.latency)
        let props = r.regions.enumerated().map { i, reg in
            TrackerProposal(box: Box(x1: reg.box[0], y1: reg.box[1], x2: reg.box[2], y2: reg.box[3]), score: r.confidences[i],
                            regionToken: reg.regionToken, embedding: reg.embedding, classScores: reg.scores, source: r.sources[i])
        }
        tracker.update(frame: info, proposals: props)
        for t in tracker.liveTracks where t.lastInferredFrame == info.index { inferredAt[t.id] = (r.frame, r.pts) }
    }

    // MARK: output

    private func publish(_ frame: VideoFrame, time: Double, info: FrameInfo, inferred: [RecognizedRegion]?) {
        let regions = tracker.regions()
        metrics?.liveTracks.set(Double(tracker.liveTracks.count))
        let live = Dictionary(uniqueKeysWithValues: tracker.liveTracks.map { ($0.id, $0) })
        var records: [RegionRecord] = []
        for r in regions {
            guard let label = r.labelName else { continue }
            let at = inferredAt[r.trackID] ?? (r.provenance.sourceFrame ?? frame.index, frame.pts)
            let box = [Double(r.box.x1), Double(r.box.y1), Double(r.box.x2), Double(r.box.y2)]
            records.append(RegionRecord(
                trackID: r.trackID, box: box, label: label, score: Double(r.score),
                top: r.top.compactMap { i in tracker.vocabulary.flatMap { i.index < $0.count ? LabelScore(label: $0.names[i.index], score: Double(i.score)) : nil } },
                source: ProposalSource(rawValue: live[r.trackID]?.source ?? "") ?? .tracked,
                inferredFrame: at.frame, labelAge: max(0, frame.pts - at.pts), recognizer: engine.kindName))
            // track events
            if let prev = announced[r.trackID] {
                if prev.label != label {
                    sink.send(TrackMessage(stream: config.id, event: .labelChanged, trackID: r.trackID, label: label, previousLabel: prev.label,
                                           score: Double(r.score), box: box, frame: frame.index, pts: frame.pts, time: time))
                }
            } else {
                sink.send(TrackMessage(stream: config.id, event: .started, trackID: r.trackID, label: label, score: Double(r.score),
                                       box: box, frame: frame.index, pts: frame.pts, time: time))
            }
            announced[r.trackID] = (label, box)
        }
        let shown = Set(records.map(\.trackID))
        for (id, prev) in announced where !shown.contains(id) && (live[id] == nil || live[id]!.state == .ended) {
            sink.send(TrackMessage(stream: config.id, event: .ended, trackID: id, label: prev.label, box: prev.box,
                                   frame: frame.index, pts: frame.pts, time: time))
            announced[id] = nil
            inferredAt[id] = nil
        }
        let message = RegionsMessage(stream: config.id, frame: frame.index, pts: frame.pts, time: time, keyframe: frame.isKeyframe,
                                     inferred: inferred != nil, latency: options.synchronous ? nil : max(0, Date().timeIntervalSince1970 - frame.arrival.timeIntervalSince1970),
                                     regions: records.sorted { $0.trackID < $1.trackID })
        if throttle.shouldPublish(streamTime: frame.pts, inferred: inferred != nil) {
            sink.send(message)
        }
        options.onFrame?(frame, message, inferred)
    }
}
