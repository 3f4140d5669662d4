import Foundation
import CBLAS
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The recognizer's own kernel threads (instead of GCD's shared pool): they can run at a
/// lower priority than decoding without lowering anyone else's work, and a job never
/// waits behind unrelated GCD work. `run(n, body)` calls body(0..<n) once each, on the
/// caller and up to `participants - 1` pool threads, and returns when all are done.
/// A call made while another is running (a nested call, or another thread's) runs
/// serially on its caller.
final class WorkerPool: @unchecked Sendable {  // state guarded by `cond`
    static let shared = WorkerPool()

    private let cond = NSCondition()
    private let busy = NSLock()
    private var threads = 0
    private var generation = 0
    private var body: ((Int) -> Void)?
    private var iterations = 0
    private var helpers = 0  // pool threads taking part in the current job
    private var pending = 0  // pool threads that have not finished the current job
    private let next = Atomic<Int>(0)
    /// Nice value pool threads apply to themselves (only ever raised; see Parallel.lowerPriority).
    private let nice = Atomic<Int32>(0)

    func setNice(_ n: Int32) { nice.store(n, ordering: .relaxed) }

    func run(_ n: Int, participants: Int, _ work: (Int) -> Void) {
        let want = min(participants, n) - 1
        guard want > 0, busy.try() else {
            for i in 0..<n { work(i) }
            return
        }
        defer { busy.unlock() }
        withoutActuallyEscaping(work) { work in
            cond.lock()
            while threads < want { spawn(index: threads); threads += 1 }
            body = work
            iterations = n
            next.store(0, ordering: .relaxed)
            helpers = want
            pending = threads
            generation += 1
            cond.broadcast()
            cond.unlock()
            claim(work, n)
            cond.lock()
            while pending > 0 { cond.wait() }
            body = nil
            cond.unlock()
        }
    }

    private func claim(_ work: (Int) -> Void, _ n: Int) {
        while true {
            let i = next.add(1, ordering: .relaxed).oldValue
            if i >= n { return }
            work(i)
        }
    }

    private func spawn(index: Int) {
        let t = Thread { [self] in
            nameCurrentThread("recognizer-\(index + 1)")
            loop(index: index)
        }
        t.stackSize = 1 << 20
        t.start()
    }

    private func loop(index: Int) {
        var seen = 0
        var applied: Int32 = 0
        while true {
            cond.lock()
            while generation == seen { cond.wait() }
            seen = generation
            var work = index < helpers ? body : nil
            let n = iterations
            cond.unlock()
            let target = nice.load(ordering: .relaxed)
            if target > applied, setThreadNice(0, target) { applied = target }
            if let w = work { claim(w, n) }
            work = nil  // the caller's closure must not outlive its run()
            cond.lock()
            pending -= 1
            if pending == 0 { cond.broadcast() }
            cond.unlock()
        }
    }
}

/// Lowers thread `tid` to nice value `nice` (0 = the calling thread; Linux nice values
/// are per thread); true when the thread now runs at `nice` or lower. Never raises a
/// thread's priority: a daemon started under `nice 19` keeps its recognizer at 19 (as
/// root, setpriority would otherwise have moved it up to 10).
@discardableResult
func setThreadNice(_ tid: Int, _ nice: Int32) -> Bool {
    if let current = threadNice(tid), current >= nice { return true }
    return setpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid), nice) == 0
}

/// The nice value of thread `tid` (0 = the calling thread; the process id names the main
/// thread); nil if it cannot be read (-1 is a valid value, so errno tells).
public func threadNice(_ tid: Int) -> Int32? {
    errno = 0
    let n = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), id_t(tid))
    return errno == 0 ? n : nil
}

/// Names the calling thread as the kernel shows it (top -H, ps -L, /proc/PID/task/TID/comm;
/// the kernel keeps the first 15 bytes). Foundation's `Thread.name` reaches the kernel only
/// when the creating thread has already recorded the new thread's handle, a race the new
/// thread often wins, so threads name themselves with this first thing.
public func nameCurrentThread(_ name: String) {
    _ = cblas_shim_name_thread(name)
}
