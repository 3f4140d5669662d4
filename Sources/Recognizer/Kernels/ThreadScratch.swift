import Foundation
#if canImport(Glibc)
import Glibc
#endif

// Scratch buffers owned by the thread that uses them, kept between calls and grown on
// demand. The bf16 path needs tens of MiB of short-lived scratch per encoder block
// (activations rounded to bf16, oneDNN's scratchpad, attention scores); allocated per call
// they came fresh from mmap each time, and the first touch of every page faulted: 6% of
// the bf16 keyframe's CPU (BENCHMARKS.md, "bf16 through oneDNN, second pass"). A buffer
// here belongs to one thread (the recognizer thread or one of its `recognizer-N` pool
// threads), so concurrent streams never share one; it is freed when its thread exits, or
// by the owner with `release()` (the recognizer thread between keyframes,
// `Parallel.returnFreedMemory`); the pool threads keep theirs (about 9 MiB each with
// SAM-B, plus oneDNN's scratchpad).
//
// Each use names a `Slot`; a slot's buffer is valid until the same thread asks for the
// same slot again, so a function must not hold a slot across a call that uses it.
// Which kernel uses which slot:
//   matmulInput      OneDNN.matmul(x: Float ...): one row slice of x rounded to bf16, or
//                    (int8) one chunk's rows quantized to u8 and their scales
//   matmulScratchpad OneDNN's per-call scratchpad
//   matmulAccumulator OneDNN.matmul(x:int8:): one chunk's int32 products [rows, N]
//   attentionInputs  multiHeadAttentionBF16: q, k, v rounded to bf16 (the calling thread)
//   attentionScores  attendBlockBF16: one query block's scores [qn, keys] f32, their bf16
//                    numerators and 1/row sums (the thread running the task)
//   gemmInputs       GemmBF16.gemm: both operands rounded to bf16 (the thread running it)

enum ThreadScratch {
    enum Slot: Int, CaseIterable { case matmulInput, matmulScratchpad, matmulAccumulator, attentionInputs, attentionScores, gemmInputs }

    final class Buffers {
        var pointers = [UnsafeMutableRawPointer?](repeating: nil, count: Slot.allCases.count)
        var sizes = [Int](repeating: 0, count: Slot.allCases.count)
        deinit { for p in pointers { free(p) } }
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        let status = pthread_key_create(&k) { p in
            if let p { Unmanaged<Buffers>.fromOpaque(p).release() }
        }
        precondition(status == 0, "ThreadScratch: pthread_key_create failed (\(status))")
        return k
    }()

    private static var current: Buffers {
        if let p = pthread_getspecific(key) { return Unmanaged<Buffers>.fromOpaque(p).takeUnretainedValue() }
        let b = Buffers()
        pthread_setspecific(key, Unmanaged.passRetained(b).toOpaque())
        return b
    }

    /// The calling thread's buffer for `slot`, at least `bytes` long, 64-byte aligned;
    /// its contents are undefined.
    static func buffer(_ slot: Slot, bytes: Int) -> UnsafeMutableRawPointer {
        let b = current, i = slot.rawValue
        if let p = b.pointers[i], b.sizes[i] >= bytes { return p }
        free(b.pointers[i])
        var p: UnsafeMutableRawPointer?
        let size = max(bytes, 64)
        precondition(posix_memalign(&p, 64, size) == 0 && p != nil, "ThreadScratch: \(size) bytes")
        b.pointers[i] = p; b.sizes[i] = size
        return p!
    }

    static func buffer<T>(_ slot: Slot, _: T.Type, count: Int) -> UnsafeMutablePointer<T> {
        buffer(slot, bytes: count * MemoryLayout<T>.stride).bindMemory(to: T.self, capacity: count)
    }

    /// Bytes the calling thread holds in its buffers.
    static var bytes: Int { pthread_getspecific(key) == nil ? 0 : current.sizes.reduce(0, +) }

    /// Frees the calling thread's buffers (the recognizer thread between keyframes: other
    /// streams' decoders may need the memory more than the next keyframe does).
    static func release() {
        guard let p = pthread_getspecific(key) else { return }
        pthread_setspecific(key, nil)
        Unmanaged<Buffers>.fromOpaque(p).release()
    }
}
