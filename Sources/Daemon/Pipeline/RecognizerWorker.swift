// The recognizer threads (limits.recognizer_workers, one by default) serving every stream.
// They never queue frames without bound: each stream has one slot, a newer keyframe
// replaces an older one that was still waiting (counted as a skipped recognition). A free
// thread serves the waiting stream whose label is oldest, overdue ones (older than
// limits.max_label_age) by priority first (RecognitionQueue.pick), so no stream starves
// however often the others submit. A stream has at most one recognition running (its
// results arrive in keyframe order); thread i runs on the engine's lane i. The overload
// governor hears when each recognition starts and ends; `activity` (RecognizerActivity) tells
// readers such as the live pages, without a lock, whether it is busy (working without a break).
import Decode
import Foundation
import Recognizer
import Temporal

struct RecognitionJob: Sendable {
    var stream: String
    var frame: Int
    var pts: Double
    /// The decoded keyframe, converted to RGB only when the recognizer takes the job (a
    /// job replaced in its slot costs no conversion, and the stream's thread never pays).
    var picture: VideoFrame
    /// The stream's live tracks on this keyframe (id -> box), handed back with the result
    /// to carry its boxes to the frame it arrives on (LatencyCompensation).
    var tracks: [UInt64: Box]
    /// Tracks inside a crowded moving region on this keyframe (KeyframePlan.crowded):
    /// unmatched, they count no miss where the tracker can hold them (Tracker.update's
    /// `held`, Tracker.canHold).
    var crowded: Set<UInt64> = []
    /// Candidates from the stream's sources; merged (with everything mode's boxes when
    /// `everything` is set) by the recognizer, which has the image embedding.
    var candidates: [ProposalCandidate]
    var merge: ProposalMergeConfig
    var everything: AutomaticMaskConfig?
    /// The held tracks' boxes (KeyframePlan.context): those no kept box stands for are
    /// recognized with the kept boxes as their company, their own results dropped
    /// (RecognitionEngine.company).
    var context: [Box] = []
    var submitted: Double
    var completion: @Sendable (RecognitionResult) -> Void
}

struct RecognitionResult: Sendable {
    var frame: Int
    var pts: Double
    var regions: [RecognizedRegion]
    /// The merged boxes, one per region (source and score).
    var boxes: [ProposalCandidate]
    /// Accepted or rejected, one per region (RegionAcceptance).
    var verdicts: [RegionAcceptance.Verdict] = []
    /// Why the keyframe gave no regions at all (it could not be converted to RGB).
    var failure: String? = nil
    /// The job's `tracks`.
    var tracks: [UInt64: Box] = [:]
    /// The job's `crowded`.
    var crowded: Set<UInt64> = []
    /// Context boxes recognized beside the kept ones as their company (results dropped).
    var company = 0
    /// Seconds from submission to result.
    var latency: Double
}

final class RecognizerWorker: @unchecked Sendable {
    private let engine: RecognitionEngine
    private let cond = NSCondition()
    private var slots: [String: RecognitionJob] = [:]
    /// Streams with a recognition running (never two at once for one stream).
    private var runningStreams: Set<String> = []
    private var stopping = false
    private var threads: [Thread] = []
    private let progress: ProgressToken?
    private let nice: Int32
    /// How many recognizer threads serve the streams (the engine has as many lanes).
    let count: Int

    let governor: OverloadGovernor
    let activity: RecognizerActivity

    init(engine: RecognitionEngine, governor: OverloadGovernor, progress: ProgressToken?, nice: Int32 = 0, threads: Int = 1,
         activity: RecognizerActivity = RecognizerActivity()) {
        self.engine = engine
        self.activity = activity
        self.governor = governor
        self.progress = progress
        self.nice = nice
        self.count = max(1, min(threads, engine.lanes))
        governor.workers = count
    }

    func start() {
        for i in 0..<count {
            let t = Thread { [self] in
                nameCurrentThread(i == 0 ? "recognizer" : "recognizer \(i + 1)")
                Parallel.lowerCurrentThreadPriority(nice: nice)  // decoding and tracking come first
                loop(lane: i)
            }
            threads.append(t)
            t.start()
        }
    }

    /// Queues `job` in its stream's slot; returns true when it replaced a waiting job.
    @discardableResult
    func submit(_ job: RecognitionJob) -> Bool {
        cond.lock(); defer { cond.unlock() }
        let replaced = slots[job.stream] != nil
        slots[job.stream] = job
        activity.set(jobs: slots.count + runningStreams.count)
        cond.broadcast()
        return replaced
    }

    /// Whether `stream` has a job waiting or running.
    func busy(_ stream: String) -> Bool {
        cond.lock(); defer { cond.unlock() }
        return slots[stream] != nil || runningStreams.contains(stream)
    }

    /// Heartbeat while idle (the watchdog must not see an idle recognizer as wedged).
    func idleBeat() { cond.lock(); let idle = runningStreams.isEmpty; cond.unlock(); if idle { progress?.beat() } }

    func stop() {
        cond.lock(); stopping = true; cond.broadcast(); cond.unlock()
    }

    /// The waiting job of a stream with nothing running whose label is oldest (overdue
    /// streams by priority first).
    private func nextJob() -> RecognitionJob? {
        let now = Date().timeIntervalSince1970
        let waiting = slots.keys.filter { !runningStreams.contains($0) }.map {
            RecognitionQueue.Candidate(stream: $0, priority: governor.priority($0), labelAge: governor.labelAge($0, now: now))
        }
        guard let i = RecognitionQueue.pick(waiting, maxLabelAge: governor.maxLabelAge),
              let job = slots.removeValue(forKey: waiting[i].stream) else { return nil }
        runningStreams.insert(job.stream)
        governor.started(job.stream)
        return job
    }

    private func take() -> RecognitionJob? {
        cond.lock(); defer { cond.unlock() }
        while !stopping {
            if let job = nextJob() { return job }
            _ = cond.wait(until: Date().addingTimeInterval(0.5))
            if runningStreams.isEmpty && slots.isEmpty { progress?.beat() }
        }
        return nil
    }

    private func loop(lane: Int) {
        while let job = take() {
            progress?.beat()
            let result = engine.run(job, lane: lane)
            // Hand the keyframe's scratch (tens of MiB, freed into this thread's malloc
            // arena) back to the system: other streams' decoders need it more than we do
            // until the next keyframe.
            Parallel.returnFreedMemory()
            progress?.beat()
            governor.finished(job.stream, submitted: job.submitted)
            cond.lock()
            runningStreams.remove(job.stream)
            activity.ended(at: Service.now())
            activity.set(jobs: slots.count + runningStreams.count)
            cond.broadcast()
            cond.unlock()
            job.completion(result)
        }
    }
}
