import Foundation
import Recognizer
#if canImport(Glibc)
import Glibc
#endif

/// Runs blocking `body` on a new thread the process owns and resumes with its result.
///
/// Subcommands' `run()` bodies execute on the Swift cooperative pool, which must not
/// block in C calls (FFmpeg I/O, BLAS, ZeroMQ). On Linux its threads are libdispatch's,
/// and libdispatch sets them to nice 0 (-4 for overcommit threads) whatever the process
/// was started with: `nice -n 19 regionspotd replay ...` decoded and recognized at nice 0,
/// and every thread started from there inherited it. The new thread first takes the
/// process's nice value (the main thread's), so the threads it starts inherit that.
func onThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    let nice = threadNice(Int(getpid()))  // the process's: its main thread's (the main thread's id is the process id)
    return try await withCheckedThrowingContinuation { (k: CheckedContinuation<T, Error>) in
        let t = Thread {
            nameCurrentThread(name)
            if let nice { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, nice) }
            k.resume(with: Result { try body() })
        }
        t.start()
    }
}

/// Puts the calling thread in Linux's SCHED_IDLE class: it runs only on CPU time no other
/// thread of any nice value wants, never preempts one when it wakes, and a CPU running only
/// such threads counts as idle when the kernel places a waking thread. The live page
/// threads use it (nice 19 alone still took the recognizer's threads' CPU: BENCHMARKS.md,
/// "Live page watchers"). False when the kernel refused (the nice value still holds).
@discardableResult
func idleCurrentThread() -> Bool {
    var p = sched_param()
    p.sched_priority = 0
    return sched_setscheduler(0, schedIdle, &p) == 0  // pid 0: the calling thread
}

/// Linux's SCHED_IDLE policy (linux/sched.h); Glibc hides it behind _GNU_SOURCE.
let schedIdle: Int32 = 5
