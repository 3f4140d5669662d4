// Whether the recognizer is busy, for readers that must not touch its work: the live pages
// hold their pictures back to metrics.live_fps_busy while it is (recognition has priority
// over pictures). RecognizerWorker stores how many jobs wait or run, and when the last one
// ended; a reader loads two atomics (no lock, nothing the recognizer threads wait for).
import Synchronization

public final class RecognizerActivity: Sendable {
    /// Seconds after a job ended that the recognizer still counts as busy: working back to
    /// back it takes the next keyframe within a frame or two, and a picture drawn in that
    /// gap would run beside the next recognition.
    public static let grace = 0.2
    private let jobs = Atomic<Int>(0)
    /// `Service.now()` of the last job's end, as its bit pattern (0: none yet).
    private let lastEnded = Atomic<UInt64>(0)

    public init() {}

    /// Called by the worker under its lock whenever its slots or running jobs change.
    func set(jobs n: Int) { jobs.store(n, ordering: .relaxed) }

    /// Called by the worker when a job ended, before its count drops.
    func ended(at t: Double) { lastEnded.store(t.bitPattern, ordering: .relaxed) }

    /// Jobs waiting or running now (recognitions of any stream).
    public var jobsNow: Int { jobs.load(ordering: .relaxed) }

    /// True while a recognition waits or runs, and for `grace` seconds after one ended.
    public func busy(now: Double = Service.now()) -> Bool {
        if jobs.load(ordering: .relaxed) > 0 { return true }
        let bits = lastEnded.load(ordering: .relaxed)
        return bits != 0 && now - Double(bitPattern: bits) < Self.grace
    }
}
