import Decode
import Logging
import Synchronization
import Testing
@testable import Daemon

/// FFmpeg's log in the daemon: levels mapped, thresholds matched, lines rate limited with the
/// held-back count said.
@Suite struct LibraryLogTests {
    @Test func levelsMapToWhatTheyMeanToTheDaemon() {
        #expect(LibraryLog.level(.fatal) == .error)
        #expect(LibraryLog.level(.error) == .warning)
        #expect(LibraryLog.level(.warning) == .notice)
        #expect(LibraryLog.level(.info) == .info)
        #expect(LibraryLog.level(.debug) == .trace)
        // FFmpeg formats exactly what the logger will print
        #expect(LibraryLog.libraryThreshold(for: .error) == .fatal)
        #expect(LibraryLog.libraryThreshold(for: .warning) == .error)
        #expect(LibraryLog.libraryThreshold(for: .info) == .info)
        #expect(LibraryLog.libraryThreshold(for: .trace) == .debug)
        #expect(LibraryLog.libraryThreshold(for: .critical) == .quiet)
    }

    @Test func rateLimitHoldsBackAndSaysHowMany() {
        let now = Mutex(100.0)
        let limiter = LogRateLimiter(linesPerWindow: 3, window: 10, clock: { now.withLock { $0 } })
        let first = (0..<5).map { _ in limiter.admit() }
        #expect(first.map(\.pass) == [true, true, true, false, false])
        #expect(first.map(\.heldBefore) == [0, 0, 0, 0, 0])
        now.withLock { $0 = 109.9 }
        #expect(limiter.admit().pass == false)  // same window
        now.withLock { $0 = 110.0 }
        let next = limiter.admit()
        #expect(next.pass && next.heldBefore == 3)
        #expect(limiter.admit().heldBefore == 0)
    }
}
