import Foundation
import CFFmpeg

/// States a `LiveReader` reports, each with a reason.
public enum ReaderState: String, Sendable, Equatable {
    case connecting, streaming, stalled, reconnecting, ended, failed
}

public struct ReaderEvent: Sendable, CustomStringConvertible {
    public var state: ReaderState
    /// Why (redacted: no credentials), e.g. "end of stream", "no packet for 5.0 s".
    public var reason: String
    /// Reconnect attempts since the last frame was received (0 on the first open).
    public var attempt: Int
    public var time: Date
    public var description: String { "\(state.rawValue): \(reason)" }
}

/// Reconnect timing: delay = min(maxDelay, initialDelay * 2^(attempt-1)) * (1 ± jitter).
public struct ReconnectPolicy: Sendable, Equatable {
    public var initialDelay: Double
    public var maxDelay: Double
    /// Fraction of the delay randomized in both directions (0.2 = ±20 %).
    public var jitter: Double
    /// Give up (state `failed`) after this many consecutive failed attempts; nil = never.
    public var maxAttempts: Int?

    public init(initialDelay: Double = 0.5, maxDelay: Double = 30, jitter: Double = 0.2, maxAttempts: Int? = nil) {
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.maxAttempts = maxAttempts
    }

    /// The delay before reconnect attempt `attempt` (1-based), jittered with `random` in [-1, 1].
    public func delay(attempt: Int, random: Double) -> Double {
        let base = min(maxDelay, initialDelay * pow(2, Double(max(0, attempt - 1))))
        return max(0, base * (1 + jitter * max(-1, min(1, random))))
    }
}

/// Runs one source on its own thread: opens it, hands every frame to `onFrame`, and for
/// live sources reconnects after end of stream, errors and stalls with exponential backoff
/// and jitter. Files end (state `ended`) or loop (`SourceOptions.loop`); a file that cannot
/// be read is `failed` at once. Callbacks run on the reader thread; keep them short.
public final class LiveReader: @unchecked Sendable {
    public let name: String
    private let url: String
    private let options: SourceOptions
    private let policy: ReconnectPolicy
    private let onState: @Sendable (ReaderEvent) -> Void
    private let onFrame: @Sendable (VideoFrame) -> Void
    private let cancel = CancelToken()
    private let cond = NSCondition()
    private var stopping = false
    private var started = false
    private var finished = false
    private var thread: Thread?
    private var currentInfo: StreamInfo?
    private let threadName: String

    /// `threadName`: the reader thread's name as `top -H` shows it (the kernel keeps 15 bytes).
    public init(url: String, options: SourceOptions = SourceOptions(), reconnect: ReconnectPolicy = ReconnectPolicy(),
                threadName: String = "decode",
                onState: @escaping @Sendable (ReaderEvent) -> Void,
                onFrame: @escaping @Sendable (VideoFrame) -> Void) {
        self.url = url
        self.name = Redaction.redact(url)
        self.threadName = threadName
        self.options = options
        self.policy = reconnect
        self.onState = onState
        self.onFrame = onFrame
    }

    deinit { stop() }

    private var wantedDiscard = FrameDiscard.none

    /// Frames the decoder skips (from any thread; applied before the next packet, kept
    /// across reconnects).
    public func setDiscard(_ d: FrameDiscard) { cond.lock(); wantedDiscard = d; cond.unlock() }
    public var discard: FrameDiscard { cond.lock(); defer { cond.unlock() }; return wantedDiscard }

    /// The open source's stream info (nil while not connected).
    public var info: StreamInfo? { cond.lock(); defer { cond.unlock() }; return currentInfo }

    /// Starts the reader thread (once).
    public func start() {
        cond.lock(); defer { cond.unlock() }
        guard !started else { return }
        started = true
        let t = Thread { [self] in
            _ = cffmpeg_name_thread(threadName)  // first thing: Foundation's Thread.name races with start()
            run()
        }
        thread = t
        t.start()
    }

    /// Stops reading (interrupting any blocking open/read) and waits for the thread to end.
    /// Safe to call more than once and from the callbacks (then it does not wait).
    public func stop() {
        cond.lock()
        stopping = true
        cond.broadcast()
        let readerThread = thread
        cond.unlock()
        cancel.cancel()
        if let readerThread, Thread.current == readerThread { return }
        cond.lock()
        while started && !finished { cond.wait() }
        cond.unlock()
    }

    private var isStopping: Bool { cond.lock(); defer { cond.unlock() }; return stopping }

    private func emit(_ state: ReaderState, _ reason: String, _ attempt: Int) {
        onState(ReaderEvent(state: state, reason: reason, attempt: attempt, time: Date()))
    }

    private func run() {
        defer {
            cond.lock(); finished = true; currentInfo = nil; cond.broadcast(); cond.unlock()
        }
        var attempt = 0
        while !isStopping {
            emit(.connecting, attempt == 0 ? "opening \(name)" : "reopening \(name) (attempt \(attempt))", attempt)
            let outcome = session(&attempt)
            if case let .finished(state, why) = outcome {
                emit(state, why, attempt)
                return
            }
            guard case let .retry(reason) = outcome, !isStopping else { break }
            attempt += 1
            if let max = policy.maxAttempts, attempt > max {
                emit(.failed, "gave up after \(max) attempts: \(reason)", attempt)
                return
            }
            let delay = policy.delay(attempt: attempt, random: Double.random(in: -1...1))
            emit(.reconnecting, "\(reason); retrying in \(String(format: "%.2f", delay)) s", attempt)
            cond.lock()
            let deadline = Date(timeIntervalSinceNow: delay)
            while !stopping && Date() < deadline { _ = cond.wait(until: deadline) }
            cond.unlock()
        }
        emit(.ended, "stopped", attempt)
    }

    private enum Outcome { case stop, retry(String), finished(ReaderState, String) }

    /// One connection: open, stream until it ends, report how it ended (before closing, so
    /// a stall is reported at once, not after the TEARDOWN attempt).
    private func session(_ attempt: inout Int) -> Outcome {
        let source: VideoSource
        do {
            source = try VideoSource(url: url, options: options, cancel: cancel)
        } catch {
            return failure(error, attempt)
        }
        defer {
            source.close()
            cond.lock(); currentInfo = nil; cond.unlock()
        }
        cond.lock(); currentInfo = source.info; cond.unlock()
        emit(.streaming, "\(source.info.codec) \(source.info.width)x\(source.info.height)", attempt)
        do {
            while true {
                source.discard = discard
                guard let frame = try source.nextFrame() else { break }
                attempt = 0  // a frame arrived: the connection is good again
                onFrame(frame)
                if isStopping { return .stop }
            }
        } catch {
            return failure(error, attempt)
        }
        if isStopping { return .stop }
        if !source.info.isLive { return .finished(.ended, "end of file") }
        return .retry("end of stream (the server closed the connection)")
    }

    private func failure(_ error: Error, _ attempt: Int) -> Outcome {
        if isStopping { return .stop }
        let text = (error as? DecodeError)?.description ?? "\(error)"
        if case .stalled? = error as? DecodeError { emit(.stalled, text, attempt) }
        // A file that cannot be read will not get better by retrying.
        if !isLiveURL(url) { return .finished(.failed, text) }
        return .retry(text)
    }
}
