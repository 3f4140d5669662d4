import Foundation
import CBLAS

/// Work splitting for the non-GEMM kernels. GEMMs use OpenBLAS's own threads; the
/// element-wise kernels and attention split work across `Parallel.workers` GCD threads
/// (never the Swift cooperative pool), with BLAS single-threaded inside those regions.
public enum Parallel {
    nonisolated(unsafe) private static var _workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    private static let lock = NSLock()

    /// How many threads the recognizer may use (BLAS and kernels alike).
    public static var workers: Int {
        get { lock.withLock { _workers } }
        set {
            lock.withLock { _workers = max(1, newValue) }
            openblas_set_num_threads(Int32(max(1, newValue)))
        }
    }

    /// Runs body over `0..<count` split in contiguous ranges, in parallel when `count`
    /// exceeds `grain`.
    public static func forRanges(_ count: Int, grain: Int = 16384, _ body: (Range<Int>) -> Void) {
        let w = workers
        if w == 1 || count <= grain {
            body(0..<count)
            return
        }
        let chunks = min(w, (count + grain - 1) / grain)
        let per = (count + chunks - 1) / chunks
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: chunks) { c in
                let lo = c * per, hi = min(count, lo + per)
                if lo < hi { box.value(lo..<hi) }
            }
        }
    }

    /// Runs `count` independent tasks on the workers, BLAS single-threaded meanwhile.
    /// `body(worker, task)`: `worker` in 0..<min(workers, count) indexes per-worker scratch.
    public static func tasks(_ count: Int, _ body: (_ worker: Int, _ task: Int) -> Void) {
        let w = min(workers, count)
        if w <= 1 {
            for i in 0..<count { body(0, i) }
            return
        }
        let blas = workers
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(blas)) }
        let next = Counter()
        withoutActuallyEscaping(body) { body in
            let box = UncheckedBox(body)
            DispatchQueue.concurrentPerform(iterations: w) { worker in
                while true {
                    let i = next.take()
                    if i >= count { break }
                    box.value(worker, i)
                }
            }
        }
    }
}

private final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func take() -> Int { lock.withLock { defer { value += 1 }; return value } }
}

/// Carries a closure that only touches disjoint memory into concurrentPerform's workers.
private struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
