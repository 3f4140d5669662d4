import Foundation
import CBLAS
import Synchronization

/// Work splitting for the non-GEMM kernels. GEMMs use OpenBLAS's own threads; the
/// element-wise kernels and attention split work across `Parallel.workers` threads of
/// the recognizer's own pool (never GCD's or the Swift cooperative pool), with BLAS
/// single-threaded inside those regions.
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

    /// Lowers the recognizer's share of the CPU (Linux nice values are per thread) so
    /// decoding and tracking come first when the cores are busy: the kernel pool's threads,
    /// OpenBLAS's workers and oneDNN's OpenMP threads. OpenBLAS starts its workers when the
    /// library loads and leaves them unnamed; they are the threads, other than the main
    /// thread, still carrying the process's name. oneDNN runs single-threaded on the pool's
    /// threads (OneDNN.matmul), so libgomp starts none; an OpenMP thread named "onednn-N"
    /// (the shim's name for a team member) would be lowered here too. Call it before any decoder opens (FFmpeg's threads are unnamed too)
    /// and from the thread that will run the recognizer (`lowerCurrentThreadPriority`).
    /// Returns how many OpenBLAS and OpenMP threads were lowered. Nice values only go up (no privilege).
    @discardableResult
    public static func lowerPriority(nice: Int32) -> Int {
        WorkerPool.shared.setNice(nice)
        let pid = Int(getpid())
        guard nice > 0, let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task"),
              let process = try? String(contentsOfFile: "/proc/self/task/\(pid)/comm", encoding: .utf8) else { return 0 }
        var lowered = 0
        for t in tasks {
            guard let tid = Int(t), tid != pid,
                  let comm = try? String(contentsOfFile: "/proc/self/task/\(t)/comm", encoding: .utf8),
                  comm == process || comm.hasPrefix("onednn-") else { continue }
            if setThreadNice(tid, nice) { lowered += 1 }
        }
        return lowered
    }

    /// Frees the calling thread's kernel scratch (`ThreadScratch`) and returns memory freed
    /// into malloc's arenas to the system (glibc `malloc_trim`): the per-keyframe scratch
    /// otherwise stays resident between keyframes. Call it on the recognizer thread.
    public static func returnFreedMemory() {
        ThreadScratch.release()
        _ = malloc_trim(0)
    }

    /// Lowers the calling thread's priority (the recognizer thread).
    public static func lowerCurrentThreadPriority(nice: Int32) {
        guard nice > 0 else { return }
        setThreadNice(0, nice)
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
        WorkerPool.shared.run(chunks, participants: w) { c in
            let lo = c * per, hi = min(count, lo + per)
            if lo < hi { body(lo..<hi) }
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
        let next = Atomic<Int>(0)
        WorkerPool.shared.run(w, participants: w) { worker in
            while true {
                let i = next.add(1, ordering: .relaxed).oldValue
                if i >= count { break }
                body(worker, i)
            }
        }
    }
}
