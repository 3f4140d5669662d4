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
        /// `time` of a state change before the first frame: now (live) or the start (replay).
        var startClock: @Sendable () -> Double = { RFC3339.now() }
        /// Compute source-size masks when recognizing inline (replay draws them).
        var masks = false
        var sourceOptions = SourceOptions()
        var reconnect = ReconnectPolicy()
        /// Called on the reader thread after each processed frame with what was published
        /// (replay draws and counts with it).
        var onFrame: (@Sendable (VideoFrame, RegionsMessage, [RecognizedRegion]?) -> Void)? = nil
        var onState: (@Sendable (ReaderEvent) -> Void)? = nil
        /// Called on the reader thread for each keyframe the interval policy let through:
        /// why the encoders ran, or nil when they rested (replay counts with it).
        var onKeyframe: (@Sendable (RecognitionTrigger?) -> Void)? = nil
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
    var tracker: Tracker
    var throttle: RegionsThrottle
    private var lastRecognitionPTS: Double?
    /// The last keyframe the interval policy let through (encoders run or not).
    private var lastCheckPTS: Double?
    private var lastEverythingPTS: Double?
    var announced: [UInt64: (label: String, box: [Double])] = [:]
    var inferredAt: [UInt64: (frame: Int, pts: Double)] = [:]
    private var lastFrame: (index: Int, pts: Double, time: Double)?
    /// The last two inter frames' motion (I-frames carry none, and codec keyframes are
    /// I-frames: motion proposals read the P-frame before; motion separation both).
    var motionMemory = MotionMemory(frames: 2)
    /// Running background of the picture at reduced resolution: pixel-tight motion proposals.
    var background = BackgroundModel()
    /// Each track's picture where it was last matched on a keyframe: a track's own box is
    /// re-prompted only while the picture there still looks like it (a track whose object
    /// walked away must not confirm itself on the empty ground it left).
    private var appearance: [UInt64: [Float]] = [:]
    /// The boxes the last encoder run looked at and rejected ("no object here"): a moving
    /// region that is one of them (a swaying tree, a flag, rain on the lens) was answered
    /// and does not ask for the encoders again; it is looked at again at max_interval,
    /// when the next run replaces this list.
    private var rejectedBoxes: [Box] = []
    /// This frame's moving regions, computed at most once (follow and proposals share them).
    private var movingNow: [MotionRegion]?
    /// A non-finite region was logged (once per stream).
    var loggedNonFinite = false
    /// Merges announced with the next published frame.
    var pendingMerges: [TrackMergeEvent] = []
    /// Which proposal sources run on a keyframe (everything mode at its own cadence).
    var schedule: ProposalSchedule
    private var lag = RealTimeLag()
    /// Overload: what the governor asks this stream to shed (any thread writes it), what
    /// the reader was last told to discard, and the frame spacing that counts discards.
    private let shedLock = NSLock()
    private var shedLevel = ShedLevel.none
    private var appliedDiscard = FrameDiscard.none
    private var frameInterval = 0.0
    private var lastDeliveredPTS: Double?
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
        let tc = Self.trackerConfig(config)
        tracker = Tracker(config: tc, vocabulary: engine.trackerVocabulary)
        throttle = RegionsThrottle(maxPerSecond: config.publishRate)
        schedule = Proposals.schedule(for: config.proposals)
    }

    /// The tracker's settings for a stream: what encoders on demand change (docs/config.md
    /// `keyframes.on_demand`), and nothing of it with every keyframe.
    static func trackerConfig(_ config: StreamConfig) -> TrackerConfig {
        var tc = TrackerConfig()
        tc.topK = 3
        if config.keyframes.onDemand {
            // A box that moved keeps its label: moving regions re-anchor tracks between
            // encoder runs, and translation says nothing new about what the object is (a
            // change of size still asks). Labels are never older than max_interval.
            tc.recognition.minIoUToInferred = 0
            tc.recognition.maxLabelAge = min(tc.recognition.maxLabelAge, config.keyframes.maxInterval)
        } else {
            // Every keyframe (replay --every-keyframe) is the behaviour before encoders on
            // demand, the baseline they are measured against: a track whose box changes
            // size asks for a look whether or not it met another (between codec keyframes
            // only tracks asking make a keyframe there).
            tc.recognition.driftOnlyAfterMeeting = false
        }
        return tc
    }

    func start() {
        var so = options.sourceOptions
        so.transport = config.transport == .udp ? .udp : .tcp
        so.loop = so.loop || config.loop
        so.motionVectors = true
        let r = LiveReader(url: config.url, options: so, reconnect: options.reconnect, threadName: "decode \(config.id)",
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

    /// What to shed from the next frame on (OverloadGovernor; docs/config.md "Overload").
    func setShed(_ level: ShedLevel) { shedLock.withLock { shedLevel = level } }

    private func stateChanged(_ e: ReaderEvent) {
        let state = StreamState(rawValue: e.state.rawValue) ?? .failed
        if state == .reconnecting { metrics?.reconnects.inc() }
        if state != .streaming { lag.reset() }  // state changes arrive on the reader thread too
        lastDeliveredPTS = nil
        if state == .streaming, let rate = reader?.info?.frameRate, rate > 0 { frameInterval = 1 / rate }
        status?.set(state, reason: e.reason)
        if state == .ended || state == .failed { endAnnouncedTracks() }
        if status == nil {
            sink.send(StatusMessage.state(state, stream: config.id, reason: e.reason, time: lastFrame?.time ?? options.startClock()))
        }
        options.onState?(e)
        let level: Logger.Level = (state == .streaming || state == .connecting) ? .info : (state == .ended ? .notice : .warning)
        logger.log(level: level, "stream \(config.id): \(e.state.rawValue): \(e.reason)")
    }

    /// The reader is done (no frame will follow): every announced track ends at the last frame.
    private func endAnnouncedTracks() {
        guard let last = lastFrame else { return }
        for (id, prev) in announced.sorted(by: { $0.key < $1.key }) {
            sink.send(TrackMessage(stream: config.id, event: .ended, trackID: id, label: prev.label, box: prev.box,
                                   frame: last.index, pts: last.pts, time: last.time))
        }
        announced = [:]
        inferredAt = [:]
    }

    // MARK: per frame

    private func process(_ frame: VideoFrame) {
        progress?.beat()
        metrics?.framesDecoded.inc()
        guard tracksUnderOverload(frame) else {
            measureLag(frame)
            return
        }
        let time = options.clock(frame)
        let info = FrameInfo(index: frame.index, time: frame.pts, width: Float(frame.width), height: Float(frame.height))
        let scale = Self.backgroundScale(frame)
        if let yuv = frame.yuvSample(scale: scale) {
            background.update(yuv.bytes, width: yuv.width, height: yuv.height, scale: Float(scale))
        }
        movingNow = nil
        let motion = frame.motionSamples.map { background.stillBackgroundZeroed($0) }
        tracker.propagate(to: info, motion: motion, still: { self.standsStill($0) })
        // An object that stopped looks as it looks now: its picture is what later frames
        // are compared with (`gone`, `lookChanged`), not the one from when it last moved
        // through a look, or its still box would count as vacant and be dropped.
        for t in heldTracks where t.stoodStill { appearance[t.id] = background.thumbnail(t.box) }
        if let motion { motionMemory.add(motion) }
        // Between keyframes a track whose object is a moving region of its own (nothing
        // else touching either) takes that region's pixel-tight box (~1 ms a frame at the
        // model's ~320 px); propagation carries the rest.
        if config.proposals.sources.contains(.motion), background.frames > background.config.warmupFrames,
           tracker.liveTracks.contains(where: { $0.state == .confirmed }) {
            let regions = movingRegions().map(\.box)
            tracker.follow(regions)
            // A box its object walked out of (crossing behind someone, vectors held it on
            // the still ground) is published no longer (vtest.avi at 5.6 s: a box left on
            // a sign while the man walked on unboxed): nothing moves in it, and its picture
            // says its object is gone.
            tracker.noteVacant { t in
                !regions.contains { $0.intersection(t.box) >= Self.vacantOverlap * t.box.area }
                    && Self.gone(change: self.appearanceChange(t), crowded: false)
            }
        }

        var (done, vocab) = mailbox.withLock { () -> ([RecognitionResult], TrackerVocabulary?) in
            defer { results = []; pendingVocabulary = nil }
            return (results, pendingVocabulary)
        }
        if let v = vocab { tracker.setVocabulary(v); vocab = nil }

        var inferredNow: [RecognizedRegion]? = nil
        if wantsRecognition(frame) {
            lastCheckPTS = frame.pts
            let plan = proposals(frame, info: info)
            // Nothing to recognize (no boxes, no everything pass) rests the encoders too.
            let why = plan.candidates.isEmpty && plan.everything == nil ? nil : trigger(plan, frame: frame).first
            options.onKeyframe?(why)
            if let why { metrics?.keyframeRan(why) } else { metrics?.keyframesRested.inc() }
            if why == nil {
                tracker.reanchor(frame: info, boxes: plan.moving, gone: { Self.gone(change: self.appearanceChange($0), crowded: plan.crowded.contains($0.id)) })
                for id in tracker.endedTrackIDs { appearance[id] = nil }
            } else {
                lastRecognitionPTS = frame.pts
                let job = RecognitionJob(stream: config.id, frame: frame.index, pts: frame.pts, picture: frame,
                                         tracks: options.synchronous ? [:] : LatencyCompensation.boxes(tracker.liveTracks), crowded: plan.crowded,
                                         candidates: plan.candidates, merge: plan.merge, everything: plan.everything, context: plan.context,
                                         submitted: Date().timeIntervalSince1970, completion: { [weak self] r in self?.deliver(r) })
                if options.synchronous {
                    done.append(engine.run(job, masks: options.masks))
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
        measureLag(frame)
    }

    /// Applies the shed level: tells the reader what to discard, counts the frames the
    /// decoder skipped (gaps in the timestamps while discarding) and the decoded frames not
    /// tracked; false when this frame is one of those.
    private func tracksUnderOverload(_ frame: VideoFrame) -> Bool {
        let level = shedLock.withLock { shedLevel }
        if let prev = lastDeliveredPTS, frameInterval > 0, appliedDiscard != .none {
            let missing = Int(((frame.pts - prev) / frameInterval).rounded()) - 1
            if missing > 0 && missing < 1_000_000 { metrics?.shed(appliedDiscard == .nonKey ? "non_key" : "non_reference", missing) }
        }
        lastDeliveredPTS = frame.pts
        if level.discard != appliedDiscard {
            reader?.setDiscard(level.discard)
            appliedDiscard = level.discard
        }
        if level.tracks(frameIndex: frame.index, keyframe: frame.isKeyframe) { return true }
        metrics?.shed("tracking")
        return false
    }

    /// Real time is kept when each frame is done by its due time (decode + tracking +
    /// publishing; the recognizer runs elsewhere when live).
    private func measureLag(_ frame: VideoFrame) {
        guard let metrics, !options.synchronous else { return }
        let before = lag.lateFrames
        metrics.lag.set(lag.observe(pts: frame.pts, wall: Date().timeIntervalSince1970))
        metrics.lagMax.set(lag.maxLag)
        if lag.lateFrames > before { metrics.framesLate.inc() }
    }

    private func deliver(_ r: RecognitionResult) { mailbox.withLock { results.append(r) } }

    /// The interval policy: at least `min_interval` seconds between keyframes looked at,
    /// at most `max_interval` between encoder runs; between them codec keyframes (or every
    /// frame when not preferred) and tracks asking for fresh labels are looked at. Whether
    /// the encoders run on one is `trigger`'s call.
    private func wantsRecognition(_ frame: VideoFrame) -> Bool {
        let p = config.keyframes
        guard let lastCheck = lastCheckPTS else { return true }
        // max_interval is due: look now, once. A look since it fell due that had nothing to
        // recognize (no box, no pass due) rested, and the window's own pace holds after it
        // (before, every frame of an empty scene was looked at and counted).
        let last = lastRecognitionPTS ?? -.infinity
        if frame.pts - last >= p.maxInterval && lastCheck - last < p.maxInterval { return true }
        guard frame.pts - lastCheck >= p.minInterval else { return false }
        // On demand, looking is cheap (moving regions re-anchor tracks without encoders):
        // every min_interval, codec keyframe or not.
        if p.onDemand || !p.preferCodecKeyframes || frame.isKeyframe { return true }
        return !tracker.recognitionRequests().isEmpty
    }

    /// Why this keyframe needs the encoders, most important first (empty: it does not).
    /// Codec keyframes stay the preferred recognition points (prefer_codec_keyframes).
    private func trigger(_ plan: KeyframePlan, frame: VideoFrame) -> [RecognitionTrigger] {
        let held = heldTracks
        let k = config.keyframes
        // a box over two objects parting (Tracker.explanation's spread) accounts for neither
        let explanation = tracker.explanation(plan.moving, apart: plan.apart)
        return RecognitionTrigger.decide(RecognitionTrigger.Inputs(
            onDemand: k.onDemand, sinceRecognition: lastRecognitionPTS.map { frame.pts - $0 },
            maxInterval: k.maxInterval, everything: plan.everything != nil,
            external: plan.candidates.contains { $0.source == .external }, zones: plan.candidates.contains { $0.source == .zone },
            moving: plan.moving, tracks: held.filter { !explanation.spread.contains($0.id) }.map(\.box),
            explained: explanation.regions, apart: plan.apart, rejected: rejectedBoxes,
            tentative: held.contains { $0.state == .tentative },
            requests: tracker.recognitionRequests().filter { !plan.unserved.contains($0.trackID) }.map(\.reason),
            betweenCodecKeyframes: k.preferCodecKeyframes && !frame.isKeyframe))
    }

    /// The background's moving regions of the current frame (computed once per frame).
    func movingRegions() -> [MotionRegion] {
        if let m = movingNow { return m }
        let m = background.regions()
        movingNow = m
        return m
    }

    /// Live tracks that hold an object now (confirmed or tentative; not lost).
    var heldTracks: [Track] { tracker.liveTracks.filter { $0.state == .confirmed || $0.state == .tentative } }

    /// How much the picture inside the track's box differs from when the track was last
    /// matched (mean summed Y/U/V difference per thumbnail cell); nil when either
    /// thumbnail is missing: no evidence either way.
    func appearanceChange(_ t: Track) -> Float? {
        guard let then = appearance[t.id], let now = background.thumbnail(t.box) else { return nil }
        return BackgroundModel.difference(then, now)
    }

    /// True when the picture inside the track's box no longer looks as when the track was
    /// last matched (false without evidence).
    func lookChanged(_ t: Track) -> Bool { appearanceChange(t).map { $0 > Self.appearanceTolerance } ?? false }

    /// True when the picture inside the track's box still looks as when the track was last
    /// matched (false without evidence). A standing person's track is then not handed to a
    /// look-alike entering elsewhere (vtest.avi, frame 570).
    func looksAsMatched(_ t: Track) -> Bool { appearanceChange(t).map { $0 <= Self.stillThereTolerance } ?? false }

    /// Whether a track the moving regions did not re-anchor while the encoders rest counts
    /// a missed keyframe: its picture differs from when it was last matched by more than
    /// `stillThereTolerance` (`change`; nil: no evidence), and it is not inside a crowded
    /// moving region (`KeyframePlan.crowded`: something moves there). Between the two
    /// tolerances the evidence goes neither way: the man standing on vtest.avi at 0:57 (25
    /// from his last match, nothing moving) and the pair standing beside him (40-55, one
    /// region over both) went unpublished for a second when that counted as gone.
    static func gone(change: Float?, crowded: Bool) -> Bool { !crowded && (change.map { $0 > stillThereTolerance } ?? false) }

    /// Whether an object stands in `box` and did not move since the last frame, so a track
    /// there without motion vectors stays put instead of coasting on its velocity
    /// (`Tracker.propagate`'s `still`): at most `stillShare` of the box changed, at least
    /// `stoppedForeground` of it differs from the background, and no moving region touches
    /// it. A box lagging its object over bare ground is still but shows no object; a box
    /// inside a plain-coloured object moving across it is unchanged inside, but the object
    /// is a moving region (scene 2022: a hidden square's track stopped there). Both coast on.
    func standsStill(_ box: Box) -> Bool {
        guard background.frames > background.config.warmupFrames, let s = background.shares(in: box),
              s.changed <= Self.stillShare, s.foreground >= Self.stoppedForeground else { return false }
        return !movingRegions().contains { $0.box.intersection(box) > 0 }
    }
    static let stillShare: Float = 0.02
    static let stoppedForeground: Float = 0.2

    /// Share of a track's box a moving region must cover for something of its object to
    /// still be there (`Tracker.noteVacant`).
    static let vacantOverlap: Float = 0.1

    /// A person standing and turning changed the thumbnail of his box by 26.5 (vtest.avi,
    /// frame 570); of the 134 unmatched tracks asked about on vtest, 126 differed by more
    /// than 32 (up to 295). Looser than `appearanceTolerance`: keeping a track in place
    /// is the cautious answer here, where re-prompting a box there is not.
    static let stillThereTolerance: Float = 32

    /// Mean summed Y/U/V difference per thumbnail cell under which a track's box still
    /// shows what it showed when last matched (noise and small movements stay under it; an
    /// object that left does not).
    static let appearanceTolerance: Float = 24

    /// Source pixels per background cell: the background model works at ~320 px.
    static func backgroundScale(_ frame: VideoFrame) -> Int { max(1, (max(frame.width, frame.height) + 319) / 320) }

    /// Folds a recognition result into the tracks; provenance points at the frame the
    /// recognizer saw, even when the result arrives a few frames later.
    /// Only accepted regions reach the tracker: a rejected box neither starts, feeds nor
    /// keeps a track (a track whose re-prompted box is rejected misses that keyframe).
    private func apply(_ r: RecognitionResult, at info: FrameInfo) {
        if let failure = r.failure {
            metrics?.keyframesFailed.inc()
            logger.warning("stream \(config.id): keyframe \(r.frame) not recognized: \(failure)")
        }
        if let status {
            status.recognized(latency: r.latency)  // counts into metrics as well
        } else {
            metrics?.recognitions.inc()
            metrics?.recognitionLatency.observe(r.latency)
        }
        metrics?.companyBoxes.inc(UInt64(r.company))
        var seen = r.regions.map { Box(x1: $0.box[0], y1: $0.box[1], x2: $0.box[2], y2: $0.box[3]) }
        if r.frame != info.index {  // a live result, frames after its keyframe
            let tags = r.boxes.map { $0.source == .tracked ? $0.tag.flatMap { UInt64($0) } : nil }
            seen = LatencyCompensation.carry(seen, trackTags: tags, then: r.tracks, now: LatencyCompensation.boxes(tracker.liveTracks))
        }
        var props: [Proposal] = []
        rejectedBoxes = []
        for (i, reg) in r.regions.enumerated() {
            let v = i < r.verdicts.count ? r.verdicts[i] : nil
            if let reason = v?.reason {
                metrics?.rejected(reason)
                rejectedBoxes.append(seen[i])
                continue
            }
            metrics?.regionsAccepted.inc()
            props.append(Proposal(box: seen[i], score: 1, regionToken: reg.regionToken, embedding: reg.embedding,
                                  classScores: v?.probabilities ?? reg.scores, source: ProposalSource(r.boxes[i].source).rawValue))
        }
        tracker.update(frame: info, proposals: props, stillThere: { self.looksAsMatched($0) }, held: { r.crowded.contains($0.id) })
        pendingMerges += tracker.mergedTracks
        for id in tracker.endedTrackIDs { appearance[id] = nil }
        for t in tracker.liveTracks where t.lastSeenFrame == info.index && t.method == .observed {
            appearance[t.id] = background.thumbnail(t.box)
        }
        for t in tracker.liveTracks where t.lastInferredFrame == info.index { inferredAt[t.id] = (r.frame, r.pts) }
    }
}
