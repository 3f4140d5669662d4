import Foundation
import Synchronization
import Testing
@testable import Recognizer

@Suite("Kernel thread pool")
struct WorkerPoolTests {
    @Test("every index runs exactly once; nested and concurrent calls finish (serially)")
    func exactlyOnce() {
        let pool = WorkerPool()
        for n in [1, 2, 3, 17, 1000] {
            let hits = UnsafeMutableBufferPointer<Int>.allocate(capacity: n)
            defer { hits.deallocate() }
            hits.initialize(repeating: 0)
            let calls = Atomic<Int>(0)
            pool.run(n, participants: 3) { i in hits[i] += 1; calls.add(1, ordering: .relaxed) }
            #expect(hits.allSatisfy { $0 == 1 } && calls.load(ordering: .relaxed) == n, "n = \(n)")
        }
        // A call from inside a job runs serially instead of waiting for the pool.
        let total = Atomic<Int>(0)
        pool.run(4, participants: 2) { _ in
            pool.run(5, participants: 2) { j in total.add(j, ordering: .relaxed) }
        }
        #expect(total.load(ordering: .relaxed) == 4 * 10)
        // Several threads at once: all finish, each index once per call.
        let sum = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            for _ in 0..<50 { pool.run(64, participants: 2) { i in sum.add(i, ordering: .relaxed) } }
        }
        #expect(sum.load(ordering: .relaxed) == 6 * 50 * (63 * 64 / 2))
    }

    @Test("pool threads take the lowered priority; the pool's results are unchanged")
    func nice() throws {
        let pool = WorkerPool()
        pool.setNice(7)
        let seen = Mutex<[Int32]>([])
        pool.run(40, participants: 2) { _ in
            let p = getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0)
            seen.withLock { $0.append(p) }
            Thread.sleep(forTimeInterval: 0.002)  // let the helper thread take some
        }
        let values = seen.withLock { $0 }
        #expect(values.count == 40)
        // The caller keeps its priority; the helper thread runs at nice 7.
        #expect(values.contains(7))
        #expect(Set(values).isSubset(of: [getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0), 7]))
    }

    @Test("lowering priority never raises it: a thread already at nice 12 stays there")
    func neverRaises() {
        let done = DispatchSemaphore(value: 0)
        let seen = Mutex<[Int32]>([])
        let t = Thread {
            let which = __priority_which_t(PRIO_PROCESS.rawValue)
            _ = setpriority(which, 0, 12)
            let kept = setThreadNice(0, 7)
            let afterLower = getpriority(which, 0)
            _ = setThreadNice(0, 15)
            seen.withLock { $0 = [kept ? 1 : 0, afterLower, getpriority(which, 0)] }
            done.signal()
        }
        t.start()
        done.wait()
        #expect(seen.withLock { $0 } == [1, 12, 15])
    }
}
