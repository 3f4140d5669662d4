import Foundation

/// Backs libavformat's `AVIOInterruptCB`: blocking FFmpeg calls poll `shouldInterrupt()`
/// and give up when the current deadline passed (open timeout, stall) or the owner aborted.
/// Thread-safe: armed by the decoding thread, aborted from any thread.
final class Watchdog: @unchecked Sendable {
    enum Reason: Sendable { case openTimeout, stall, aborted, closing }

    private let lock = NSLock()
    private var deadline: Double = .infinity
    private var armedReason: Reason = .stall
    private var aborted = false
    private var firedReason: Reason?
    /// A caller-owned token that can interrupt before the source object exists (open).
    let token: CancelToken?

    init(token: CancelToken? = nil) { self.token = token }

    /// Monotonic seconds.
    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// Starts a bounded phase: after `seconds` the pending call is interrupted for `reason`.
    func arm(_ reason: Reason, seconds: Double) {
        lock.lock(); defer { lock.unlock() }
        deadline = Self.now() + seconds
        armedReason = reason
        firedReason = nil
    }

    func disarm() {
        lock.lock(); defer { lock.unlock() }
        deadline = .infinity
    }

    /// Interrupts whatever is pending now and everything after it.
    func abort() {
        lock.lock(); defer { lock.unlock() }
        aborted = true
    }

    var isAborted: Bool { lock.lock(); defer { lock.unlock() }; return aborted || token?.isCancelled == true }

    /// Why the last interrupted call was interrupted (nil if it was not).
    var fired: Reason? { lock.lock(); defer { lock.unlock() }; return firedReason }

    func shouldInterrupt() -> Bool {
        lock.lock(); defer { lock.unlock() }
        if aborted || token?.isCancelled == true { firedReason = .aborted; return true }
        if Self.now() > deadline { firedReason = armedReason; return true }
        return false
    }
}

/// Cancels the blocking FFmpeg calls of the sources it was given to, from any thread,
/// including a `VideoSource.init` still opening (connect, DESCRIBE, stream info).
public final class CancelToken: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    public init() {}
    public func cancel() { lock.lock(); cancelled = true; lock.unlock() }
    public var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
}
