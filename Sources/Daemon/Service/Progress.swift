// Liveness of the pipeline components. Every component (stream decode thread, recognizer
// worker, publisher, ...) registers and beats from its loop, including while it waits
// (a timed wait, a reconnect backoff). A component that has not beaten for its stall
// timeout is wedged; the watchdog then withholds WATCHDOG=1 so systemd restarts us.
import Foundation
import Synchronization

public final class ProgressBoard: Sendable {
    struct Entry { var name: String; var last: UInt64; var stallAfter: Double }
    private let entries = Mutex<[Int: Entry]>([:])
    private let nextID = Atomic<Int>(0)
    public let defaultStallAfter: Double

    public init(defaultStallAfter: Double = 30) { self.defaultStallAfter = defaultStallAfter }

    /// Registers a component; it counts as having made progress now.
    public func register(_ name: String, stallAfter: Double? = nil) -> ProgressToken {
        let id = nextID.add(1, ordering: .relaxed).newValue
        entries.withLock { $0[id] = Entry(name: name, last: monotonicNanos(), stallAfter: stallAfter ?? defaultStallAfter) }
        return ProgressToken(board: self, id: id)
    }

    func beat(_ id: Int) {
        let now = monotonicNanos()
        entries.withLock { $0[id]?.last = now }
    }

    func remove(_ id: Int) { _ = entries.withLock { $0.removeValue(forKey: id) } }

    /// Components silent for longer than their stall timeout, with how long (seconds).
    public func wedged(now: UInt64 = monotonicNanos()) -> [(name: String, silentFor: Double)] {
        entries.withLock { e in
            e.values.compactMap { x in
                let silent = Double(now &- x.last) / 1e9
                return silent > x.stallAfter ? (x.name, silent) : nil
            }.sorted { $0.name < $1.name }
        }
    }

    public var names: [String] { entries.withLock { $0.values.map(\.name).sorted() } }
}

/// A registered component's handle: `beat()` from its loop, `finish()` when it ends on
/// purpose (a file stream at its end), so it no longer counts.
public final class ProgressToken: Sendable {
    let board: ProgressBoard
    let id: Int
    init(board: ProgressBoard, id: Int) { self.board = board; self.id = id }
    public func beat() { board.beat(id) }
    public func finish() { board.remove(id) }
    deinit { board.remove(id) }
}

public func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
