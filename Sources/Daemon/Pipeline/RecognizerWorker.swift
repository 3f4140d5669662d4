// One recognizer thread serving every stream. It never queues frames without bound: each
// stream has one slot, a newer keyframe replaces an older one that was still waiting
// (counted as a skipped recognition), and streams are served round-robin so a busy stream
// cannot starve the others.
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
    /// Candidates from the stream's sources; merged (with everything mode's boxes when
    /// `everything` is set) by the recognizer, which has the image embedding.
    var candidates: [ProposalCandidate]
    var merge: ProposalMergeConfig
    var everything: AutomaticMaskConfig?
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
    /// Seconds from submission to result.
    var latency: Double
}

final class RecognizerWorker: @unchecked Sendable {
    private let engine: RecognitionEngine
    private let cond = NSCondition()
    private var slots: [String: RecognitionJob] = [:]
    private var order: [String] = []
    private var next = 0
    private var stopping = false
    private var running = false
    private var thread: Thread?
    private let progress: ProgressToken?
    private let nice: Int32

    init(engine: RecognitionEngine, progress: ProgressToken?, nice: Int32 = 0) {
        self.engine = engine
        self.progress = progress
        self.nice = nice
    }

    func start() {
        let t = Thread { [self] in
            nameCurrentThread("recognizer")
            Parallel.lowerCurrentThreadPriority(nice: nice)  // decoding and tracking come first
            loop()
        }
        thread = t
        t.start()
    }

    /// Queues `job` in its stream's slot; returns true when it replaced a waiting job.
    @discardableResult
    func submit(_ job: RecognitionJob) -> Bool {
        cond.lock(); defer { cond.unlock() }
        let replaced = slots[job.stream] != nil
        slots[job.stream] = job
        if !order.contains(job.stream) { order.append(job.stream) }
        cond.signal()
        return replaced
    }

    /// Whether `stream` has a job waiting or running.
    func busy(_ stream: String) -> Bool { cond.lock(); defer { cond.unlock() }; return slots[stream] != nil }

    /// Heartbeat while idle (the watchdog must not see an idle recognizer as wedged).
    func idleBeat() { cond.lock(); let idle = !running; cond.unlock(); if idle { progress?.beat() } }

    func stop() {
        cond.lock(); stopping = true; cond.broadcast(); cond.unlock()
    }

    private func take() -> RecognitionJob? {
        cond.lock(); defer { cond.unlock() }
        while !stopping && slots.isEmpty { cond.wait(until: Date().addingTimeInterval(0.5)); if slots.isEmpty { progress?.beat() } }
        if stopping { return nil }
        for i in 0..<order.count {
            let s = order[(next + i) % order.count]
            if let job = slots.removeValue(forKey: s) {
                next = (next + i + 1) % order.count
                running = true
                return job
            }
        }
        return nil
    }

    private func loop() {
        while let job = take() {
            progress?.beat()
            let result = engine.run(job)
            // Hand the keyframe's scratch (tens of MiB, freed into this thread's malloc
            // arena) back to the system: other streams' decoders need it more than we do
            // until the next keyframe.
            Parallel.returnFreedMemory()
            progress?.beat()
            cond.lock(); running = false; cond.unlock()
            job.completion(result)
        }
    }
}
