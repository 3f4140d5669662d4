// Whether the recognizer is busy, for readers that must not touch its work: the live pages
// hold their pictures back to metrics.live_fps_busy while it is (recognition has priority
// over pictures). RecognizerWorker stores how many jobs wait or run, when the last one ended
// and when its current run of work began; a reader loads three atomics (no lock, nothing the
// recognizer threads wait for).
import Synchronization

public final class RecognizerActivity: Sendable {
    /// Seconds after a job ended that the recognizer still counts as working: working back
    /// to back it takes the next keyframe within a frame or two, and a picture drawn in that
    /// gap would run beside the next recognition.
    public static let grace = 0.2
    /// Seconds the recognizer must have worked without a break (gaps under `grace`) before
    /// it counts as busy: a short recognition now and then (the demo's tiny model, 40 ms
    /// every 0.5 s) leaves the CPU to spare and must not slow the pictures; one that keeps
    /// going (a BB keyframe of seconds, keyframes back to back) has none to spare.
    public static let sustain = 1.0
    private let jobs = Atomic<Int>(0)
    /// `Service.now()` of the last job's end, and of the start of the current run of work,
    /// as bit patterns (0: none yet).
    private let lastEnded = Atomic<UInt64>(0)
    private let streakStart = Atomic<UInt64>(0)

    public init() {}

    /// Called by the worker under its lock whenever its slots or running jobs change.
    func set(jobs n: Int, now: Double = Service.now()) {
        let before = jobs.exchange(n, ordering: .relaxed)
        guard n > 0, before == 0 else { return }
        let ended = lastEnded.load(ordering: .relaxed)
        if ended == 0 || now - Double(bitPattern: ended) >= Self.grace { streakStart.store(now.bitPattern, ordering: .relaxed) }
    }

    /// Called by the worker when a job ended, before its count drops.
    func ended(at t: Double) { lastEnded.store(t.bitPattern, ordering: .relaxed) }

    /// Jobs waiting or running now (recognitions of any stream).
    public var jobsNow: Int { jobs.load(ordering: .relaxed) }

    /// True while the recognizer has been working (a recognition waits or runs, or one
    /// ended under `grace` seconds ago) for at least `sustain` seconds without a break.
    public func busy(now: Double = Service.now()) -> Bool {
        let ended = lastEnded.load(ordering: .relaxed)
        let working = jobs.load(ordering: .relaxed) > 0 || (ended != 0 && now - Double(bitPattern: ended) < Self.grace)
        let start = streakStart.load(ordering: .relaxed)
        return working && start != 0 && now - Double(bitPattern: start) >= Self.sustain
    }
}
