import CDNNL
import Foundation
import Synchronization

// Linear weights in the layout oneDNN's bf16 matmul prefers, reordered once at load.
// Given the plain layout, oneDNN's brgemm matmul repacks W into its blocked layout inside
// every call (BA16a64b2a on this Zen 4: 64 output columns by 32 inputs, input pairs
// interleaved); asking with `format_tag::any` gives that layout, and a reorder primitive
// writes the weights in it once. The layout depends on N and K, not on M (measured for
// every encoder shape from 1 to 4,096 rows), so one packed copy serves every row count;
// the packed size is the plain size rounded up to whole blocks.

extension OneDNN {
    /// W [N, K] bf16 in a packed layout (one of `layouts`): opaque bytes, read only by
    /// `matmul(m:x:packed:...)` and `unpack`.
    public final class PackedWeights: @unchecked Sendable {  // immutable after init
        public let n: Int, k: Int
        let layout: Int
        let data: UnsafeMutableRawPointer
        public let bytes: Int
        init(n: Int, k: Int, layout: Int, bytes: Int) {
            self.n = n; self.k = k; self.layout = layout; self.bytes = bytes
            data = .allocate(byteCount: max(bytes, 1), alignment: 64)
        }
        deinit { data.deallocate() }
    }

    /// Distinct packed layouts seen so far; a primitive's key names one by its index.
    private static let layoutList = Mutex<[dnnl_memory_desc_t]>([])

    static func layout(_ index: Int) -> dnnl_memory_desc_t { layoutList.withLock { $0[index] } }

    private static func layoutIndex(_ md: dnnl_memory_desc_t) -> Int {
        layoutList.withLock { list in
            var md = md
            for i in list.indices {
                var other = list[i]
                if dnnl_memory_desc_equal(&md, &other) != 0 { return i }
            }
            list.append(md)
            return list.count - 1
        }
    }

    /// op(W) = W^T [K, N] of a plain W [N, K] (rows K apart): the layout the weights come in.
    /// `int8`: s8 weights, else bf16.
    private static func plainDesc(n: Int, k: Int, int8: Bool = false) -> dnnl_memory_desc_t {
        var md = dnnl_memory_desc_t()
        var dims: [dnnl_dim_t] = [Int64(k), Int64(n)], strides: [dnnl_dim_t] = [1, Int64(k)]
        check(dnnl_memory_desc_init_by_strides(&md, 2, &dims, int8 ? dnnl_s8 : dnnl_bf16, &strides), "plain weights desc")
        return md
    }

    /// The weights layout a bf16 matmul with K inputs and N outputs chooses (asked at
    /// 256 rows; the choice does not depend on the row count).
    /// With `int8`: the layout of a u8 x s8 -> s32 matmul.
    private static func preferredLayout(n: Int, k: Int, int8: Bool) -> dnnl_memory_desc_t {
        guard let engine else { preconditionFailure("oneDNN: no CPU engine") }
        var src = dnnl_memory_desc_t(), wei = dnnl_memory_desc_t(), dst = dnnl_memory_desc_t()
        var srcDims: [dnnl_dim_t] = [256, Int64(k)], weiDims: [dnnl_dim_t] = [Int64(k), Int64(n)], dstDims: [dnnl_dim_t] = [256, Int64(n)]
        check(dnnl_memory_desc_init_by_tag(&src, 2, &srcDims, int8 ? dnnl_u8 : dnnl_bf16, dnnl_ab), "src desc")
        check(dnnl_memory_desc_init_by_tag(&wei, 2, &weiDims, int8 ? dnnl_s8 : dnnl_bf16, dnnl_format_tag_any), "weights desc (any)")
        check(dnnl_memory_desc_init_by_tag(&dst, 2, &dstDims, int8 ? dnnl_s32 : dnnl_f32, dnnl_ab), "dst desc")
        var desc = dnnl_matmul_desc_t()
        check(dnnl_matmul_desc_init(&desc, &src, &wei, nil, &dst), "matmul desc")
        var pd: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&pd, &desc, nil, engine.handle, nil), "matmul \(n)x\(k) (weights layout)")
        defer { dnnl_primitive_desc_destroy(pd) }
        return dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0)!.pointee
    }

    /// Copies between two layouts of the same weights with a reorder primitive (one thread).
    private static func reorder(from: dnnl_memory_desc_t, _ src: UnsafeRawPointer, to: dnnl_memory_desc_t, _ dst: UnsafeMutableRawPointer) {
        guard let engine else { preconditionFailure("oneDNN: no CPU engine") }
        var from = from, to = to
        var pd: dnnl_primitive_desc_t?
        check(dnnl_reorder_primitive_desc_create(&pd, &from, engine.handle, &to, engine.handle, nil), "weights reorder")
        defer { dnnl_primitive_desc_destroy(pd) }
        var prim: dnnl_primitive_t?
        check(dnnl_primitive_create(&prim, pd), "reorder primitive")
        defer { dnnl_primitive_destroy(prim) }
        dnnl_shim_prepare_threads(1, "onednn")
        var stream: dnnl_stream_t?, a: dnnl_memory_t?, b: dnnl_memory_t?
        check(dnnl_stream_create(&stream, engine.handle, UInt32(dnnl_stream_default_flags.rawValue)), "stream")
        check(dnnl_memory_create(&a, &from, engine.handle, UnsafeMutableRawPointer(mutating: src)), "memory")
        check(dnnl_memory_create(&b, &to, engine.handle, dst), "memory")
        defer { dnnl_memory_destroy(a); dnnl_memory_destroy(b); dnnl_stream_destroy(stream) }
        var args = [dnnl_exec_arg_t(arg: dnnl_shim_arg_src, memory: a), dnnl_exec_arg_t(arg: dnnl_shim_arg_dst, memory: b)]
        check(dnnl_primitive_execute(prim, stream, 2, &args), "weights reorder")
        check(dnnl_stream_wait(stream), "stream wait")
    }

    /// W [N, K] bf16 (rows K apart) packed into the matmul's preferred layout.
    public static func pack(_ w: UnsafePointer<UInt16>, n: Int, k: Int) -> PackedWeights {
        pack(UnsafeRawPointer(w), n: n, k: k, int8: false)
    }

    /// W [N, K] s8 (rows K apart) packed for the u8 x s8 matmul (OneDNNInt8.swift).
    static func pack(_ w: UnsafePointer<Int8>, n: Int, k: Int) -> PackedWeights {
        pack(UnsafeRawPointer(w), n: n, k: k, int8: true)
    }

    private static func pack(_ w: UnsafeRawPointer, n: Int, k: Int, int8: Bool) -> PackedWeights {
        let md = preferredLayout(n: n, k: k, int8: int8)
        var copy = md
        let p = PackedWeights(n: n, k: k, layout: layoutIndex(md), bytes: dnnl_memory_desc_get_size(&copy))
        p.data.initializeMemory(as: UInt8.self, repeating: 0, count: p.bytes)  // block padding stays zero
        reorder(from: plainDesc(n: n, k: k, int8: int8), w, to: md, p.data)
        return p
    }

    /// The plain s8 W [N, K] of packed int8 weights (tests).
    static func unpackInt8(_ p: PackedWeights) -> [Int8] {
        var out = [Int8](repeating: 0, count: p.n * p.k)
        out.withUnsafeMutableBytes { reorder(from: layout(p.layout), UnsafeRawPointer(p.data), to: plainDesc(n: p.n, k: p.k, int8: true), $0.baseAddress!) }
        return out
    }

    /// The plain W [N, K] of packed weights (tests and weight hashes).
    public static func unpack(_ p: PackedWeights) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: p.n * p.k)
        out.withUnsafeMutableBytes { reorder(from: layout(p.layout), UnsafeRawPointer(p.data), to: plainDesc(n: p.n, k: p.k), $0.baseAddress!) }
        return out
    }
}
