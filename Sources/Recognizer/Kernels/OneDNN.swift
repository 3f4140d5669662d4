import CDNNL
import Foundation
import Synchronization

// oneDNN matmul primitives (Debian's libdnnl 2.6, OpenMP runtime) for the bf16 path:
// out[M, N] (f32) = alpha · src[M, K] (bf16) · op(W) (bf16) (+ bias[N] f32) (+ out when
// accumulating). W is either plain (rows `ldb` apart, the attention's K and V) or packed
// once at load into the blocked layout oneDNN's matmul prefers (`PackedWeights`,
// OneDNNWeights.swift: Linear weights). Each primitive is created once per shape and
// kept: creating one costs far more than a small GEMM. Primitives may run on several
// threads at once: each call brings its own scratchpad (user scratchpad mode, the
// calling thread's `ThreadScratch`; a library-managed one belongs to the primitive and
// would be shared by concurrent calls) and its own stream (a stream is not thread-safe, and a CPU stream is cheap).
//
// Threads: oneDNN always runs single-threaded (an OpenMP team of one, so libgomp never
// starts threads); a call with `Gemm.threads` > 1 splits its rows into slices that the
// recognizer's own pool (`Parallel.tasks`) runs. An OpenMP team of two spin-waits at
// each region's end (libgomp's GOMP_SPINCOUNT, read once from the environment at load),
// which on a loaded 2-core machine cost up to 2.5x the matmul's CPU time at CLIP's 197
// rows; the pool's threads sleep instead (BENCHMARKS.md, "bf16 through oneDNN, second pass").

public enum OneDNN {
    /// Shape of one cached primitive.
    /// `layout`: -1 for plain weights (strides from ldb and transB), else the index of a
    /// packed layout (`layouts`).
    /// `int8`: src u8, weights s8, dst s32 (OneDNNInt8.swift) instead of bf16, bf16, f32.
    struct Key: Hashable { var m, n, k, lda, ldb, ldo: Int; var transB, bias, accumulate: Bool; var alpha: UInt32; var layout = -1; var int8 = false }

    final class Primitive: @unchecked Sendable {  // immutable after init
        let handle: dnnl_primitive_t
        var src = dnnl_memory_desc_t(), weights = dnnl_memory_desc_t(), bias = dnnl_memory_desc_t(), dst = dnnl_memory_desc_t()
        var scratchpad = dnnl_memory_desc_t()
        var scratchpadBytes = 0
        let implementation: String
        init(handle: dnnl_primitive_t, implementation: String) { self.handle = handle; self.implementation = implementation }
    }

    final class Engine: @unchecked Sendable {  // the engine handle is thread-safe in oneDNN
        let handle: dnnl_engine_t
        init?() {
            var e: dnnl_engine_t?
            guard dnnl_engine_create(&e, dnnl_cpu, 0) == dnnl_success, let e else { return nil }
            handle = e
        }
    }

    static let engine = Engine()
    private static let cache = Mutex<[Key: Primitive]>([:])

    /// The instruction set oneDNN dispatches to on this CPU (honours DNNL_MAX_CPU_ISA).
    public static var isa: dnnl_cpu_isa_t { dnnl_get_effective_cpu_isa() }

    /// Whether this CPU runs bf16 matmuls natively (AVX512_BF16 or AMX), not emulated.
    public static var nativeBF16: Bool {
        let v = isa.rawValue, bf16 = dnnl_cpu_isa_avx512_core_bf16.rawValue
        return engine != nil && v & bf16 == bf16
    }

    /// Human-readable ISA name for logs and bench headers.
    public static var isaName: String {
        switch isa {
        case dnnl_cpu_isa_avx512_core_amx: "avx512_core_amx"
        case dnnl_cpu_isa_avx512_core_bf16: "avx512_core_bf16"
        case dnnl_cpu_isa_avx512_core_vnni: "avx512_core_vnni"
        case dnnl_cpu_isa_avx512_core: "avx512_core"
        case dnnl_cpu_isa_avx2_vnni: "avx2_vnni"
        case dnnl_cpu_isa_avx2: "avx2"
        default: "isa 0x\(String(isa.rawValue, radix: 16))"
        }
    }

    /// Implementations chosen so far (e.g. "brg:avx512_core_bf16"), one per cached shape.
    public static var implementations: Set<String> { cache.withLock { Set($0.values.map(\.implementation)) } }

    /// Implementations chosen so far for the int8 (u8 x s8 -> s32) or the bf16 matmuls.
    public static func implementations(int8: Bool) -> Set<String> {
        cache.withLock { Set($0.filter { $0.key.int8 == int8 }.map(\.value.implementation)) }
    }

    static func primitive(_ key: Key) -> Primitive {
        if let p = cache.withLock({ $0[key] }) { return p }
        let p = create(key)
        return cache.withLock { c in
            if let other = c[key] { return other }  // another thread won the race; both are valid
            c[key] = p
            return p
        }
    }

    static func check(_ s: dnnl_status_t, _ what: String) {
        precondition(s == dnnl_success, "oneDNN \(what) failed (status \(s.rawValue))")
    }

    private static func create(_ key: Key) -> Primitive {
        guard let engine else { preconditionFailure("oneDNN: no CPU engine") }
        var src = dnnl_memory_desc_t(), wei = dnnl_memory_desc_t(), bias = dnnl_memory_desc_t(), dst = dnnl_memory_desc_t()
        var srcDims: [dnnl_dim_t] = [Int64(key.m), Int64(key.k)], srcStrides: [dnnl_dim_t] = [Int64(key.lda), 1]
        // op(W) [K, N]: W^T of W [N, K] (rows ldb apart), or W [K, N] itself
        var weiDims: [dnnl_dim_t] = [Int64(key.k), Int64(key.n)], weiStrides: [dnnl_dim_t] = key.transB ? [1, Int64(key.ldb)] : [Int64(key.ldb), 1]
        var biasDims: [dnnl_dim_t] = [1, Int64(key.n)], biasStrides: [dnnl_dim_t] = [Int64(key.n), 1]
        var dstDims: [dnnl_dim_t] = [Int64(key.m), Int64(key.n)], dstStrides: [dnnl_dim_t] = [Int64(key.ldo), 1]
        check(dnnl_memory_desc_init_by_strides(&src, 2, &srcDims, key.int8 ? dnnl_u8 : dnnl_bf16, &srcStrides), "src desc")
        if key.layout >= 0 { wei = layout(key.layout) } else {
            check(dnnl_memory_desc_init_by_strides(&wei, 2, &weiDims, key.int8 ? dnnl_s8 : dnnl_bf16, &weiStrides), "weights desc")
        }
        check(dnnl_memory_desc_init_by_strides(&bias, 2, &biasDims, dnnl_f32, &biasStrides), "bias desc")
        check(dnnl_memory_desc_init_by_strides(&dst, 2, &dstDims, key.int8 ? dnnl_s32 : dnnl_f32, &dstStrides), "dst desc")
        var desc = dnnl_matmul_desc_t()
        check(key.bias ? dnnl_matmul_desc_init(&desc, &src, &wei, &bias, &dst) : dnnl_matmul_desc_init(&desc, &src, &wei, nil, &dst), "matmul desc")
        var attr: dnnl_primitive_attr_t?
        check(dnnl_primitive_attr_create(&attr), "attr")
        defer { dnnl_primitive_attr_destroy(attr) }
        check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode")
        if key.alpha != Float(1).bitPattern {
            var alpha = Float(bitPattern: key.alpha)
            check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha), "output scale")
        }
        if key.accumulate {
            var ops: dnnl_post_ops_t?
            check(dnnl_post_ops_create(&ops), "post-ops")
            check(dnnl_post_ops_append_sum(ops, 1), "sum post-op")
            check(dnnl_primitive_attr_set_post_ops(attr, ops), "set post-ops")
            dnnl_post_ops_destroy(ops)
        }
        var pd: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&pd, &desc, attr, engine.handle, nil), "matmul \(key.m)x\(key.n)x\(key.k)")
        defer { dnnl_primitive_desc_destroy(pd) }
        var info: UnsafePointer<CChar>?
        _ = withUnsafeMutablePointer(to: &info) { dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, $0) }
        var prim: dnnl_primitive_t?
        check(dnnl_primitive_create(&prim, pd), "primitive")
        let p = Primitive(handle: prim!, implementation: info.map { String(cString: $0) } ?? "?")
        p.src = src; p.weights = wei; p.bias = bias; p.dst = dst
        if let md = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0) {
            p.scratchpad = md.pointee
            p.scratchpadBytes = dnnl_memory_desc_get_size(md)
        }
        return p
    }

    /// out[M, N] = alpha · src[M, K] op(W) (+ bias) (+ out): src and W bf16, out f32.
    /// src rows `lda` apart (default K); W is [N, K] (op = transpose, `transB`) or [K, N],
    /// rows `ldb` apart (default K or N); out rows `ldo` apart. Row slices on the
    /// recognizer's pool when `Gemm.threads` > 1, else on the calling thread.
    public static func matmul(m: Int, n: Int, k: Int, alpha: Float = 1, src: UnsafePointer<UInt16>, lda: Int? = nil,
                              weights: UnsafePointer<UInt16>, ldb: Int? = nil, transB: Bool = true,
                              bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        let key = Key(m: m, n: n, k: k, lda: lda ?? k, ldb: ldb ?? (transB ? k : n), ldo: ldo,
                      transB: transB, bias: bias != nil, accumulate: accumulate, alpha: alpha.bitPattern)
        run(key, src: UnsafeRawPointer(src), weights: UnsafeRawPointer(weights), bias: bias, out: out)
    }

    /// out[M, N] = bf16(x)[M, K] W^T (+ bias) (+ out) with W packed at load and x fp32
    /// (rows `ldx` apart, default K): the bf16 path's Linear. Each row slice is rounded to
    /// bf16 into its thread's scratch (`ThreadScratch.matmulInput`) just before its matmul,
    /// so no [M, K] bf16 copy is made (lin2's would be 25 MiB, fresh pages every call).
    public static func matmul(m: Int, x: UnsafePointer<Float>, ldx: Int? = nil, packed w: PackedWeights,
                              bias: UnsafePointer<Float>?, out: UnsafeMutablePointer<Float>, ldo: Int, accumulate: Bool) {
        let ldx = ldx ?? w.k
        let key = Key(m: m, n: w.n, k: w.k, lda: w.k, ldb: w.k, ldo: ldo, transB: true, bias: bias != nil,
                      accumulate: accumulate, alpha: Float(1).bitPattern, layout: w.layout)
        forSlices(key) { slice, r0 in
            let src = ThreadScratch.buffer(.matmulInput, UInt16.self, count: slice.m * w.k)
            BF16.convertRows(x + r0 * ldx, ld: ldx, rows: slice.m, cols: w.k, src)
            execute(slice, src: src, weights: UnsafeRawPointer(w.data), bias: bias, out: out + r0 * ldo)
        }
    }

    /// Rows per slice at least (single-threaded bf16 matmuls measured the same ~230
    /// GFLOP/s per core from 33 to 4,096 rows on this Zen 4).
    static let sliceRows = 32

    /// Slices of `m` rows for `threads` workers: up to 4 per worker (a worker the machine's
    /// load slows takes fewer), at least `sliceRows` rows each, a multiple of `threads`
    /// when there are that many.
    static func slices(rows m: Int, threads: Int) -> Int {
        guard threads > 1, m >= 2 * sliceRows else { return 1 }
        let per = max(sliceRows, (m + 4 * threads - 1) / (4 * threads))
        let count = (m + per - 1) / per
        return count >= threads ? count / threads * threads : count
    }

    /// The slices of `key` with src rows `lda` elements apart (1 byte each for int8, else 2).
    static func run(_ key: Key, src: UnsafeRawPointer, weights: UnsafeRawPointer, bias: UnsafePointer<Float>?,
                    out: UnsafeMutableRawPointer) {
        forSlices(key) { slice, r0 in
            execute(slice, src: src + r0 * key.lda * (key.int8 ? 1 : 2), weights: weights, bias: bias, out: out + r0 * key.ldo * 4)
        }
    }

    /// body(slice, first row) for the row slices of `key` (`slices`), on the recognizer's
    /// pool when there are several, else on the calling thread.
    static func forSlices(_ key: Key, _ body: (_ slice: Key, _ firstRow: Int) -> Void) {
        gemmFlops.add(2 * key.m * key.n * key.k, ordering: .relaxed)
        let count = slices(rows: key.m, threads: Gemm.threads)
        guard count > 1 else { return body(key, 0) }
        let per = (key.m + count - 1) / count
        Parallel.tasks(count) { _, i in
            let r0 = i * per, rows = min(per, key.m - r0)
            guard rows > 0 else { return }
            var slice = key
            slice.m = rows
            body(slice, r0)
        }
    }

    /// One primitive call on the calling thread, oneDNN single-threaded.
    static func execute(_ key: Key, src: UnsafeRawPointer, weights: UnsafeRawPointer, bias: UnsafePointer<Float>?,
                        out: UnsafeMutableRawPointer) {
        let p = primitive(key)
        dnnl_shim_prepare_threads(1, "onednn")
        var stream: dnnl_stream_t?
        check(dnnl_stream_create(&stream, engine!.handle, UInt32(dnnl_stream_default_flags.rawValue)), "stream")
        defer { dnnl_stream_destroy(stream) }
        var mems: [dnnl_memory_t?] = []
        func memory(_ md: inout dnnl_memory_desc_t, _ ptr: UnsafeRawPointer) -> dnnl_memory_t? {
            var mem: dnnl_memory_t?
            check(dnnl_memory_create(&mem, &md, engine!.handle, UnsafeMutableRawPointer(mutating: ptr)), "memory")
            mems.append(mem)
            return mem
        }
        var args = [dnnl_exec_arg_t(arg: dnnl_shim_arg_src, memory: memory(&p.src, src)),
                    dnnl_exec_arg_t(arg: dnnl_shim_arg_weights, memory: memory(&p.weights, weights)),
                    dnnl_exec_arg_t(arg: dnnl_shim_arg_dst, memory: memory(&p.dst, out))]
        if let bias { args.append(dnnl_exec_arg_t(arg: dnnl_shim_arg_bias, memory: memory(&p.bias, bias))) }
        let scratch = p.scratchpadBytes > 0 ? ThreadScratch.buffer(.matmulScratchpad, bytes: p.scratchpadBytes) : nil
        if let scratch { args.append(dnnl_exec_arg_t(arg: dnnl_shim_arg_scratchpad, memory: memory(&p.scratchpad, scratch))) }
        defer { for m in mems { dnnl_memory_destroy(m) } }
        check(dnnl_primitive_execute(p.handle, stream, Int32(args.count), &args), "matmul \(key.m)x\(key.n)x\(key.k)")
        check(dnnl_stream_wait(stream), "stream wait")
    }
}
