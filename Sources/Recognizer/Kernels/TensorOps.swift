// Element-wise and layout operations on whole tensors (sum, row broadcast, 2-D transpose).

extension Tensor {
    /// Element-wise sum (shapes must hold the same number of elements).
    public static func + (a: Tensor, b: Tensor) -> Tensor {
        precondition(a.count == b.count, "add: \(a.shape) vs \(b.shape)")
        var t = a
        t.data.withUnsafeMutableBufferPointer { p in
            b.data.withUnsafeBufferPointer { q in for i in 0..<p.count { p[i] += q[i] } }
        }
        return t
    }

    /// Adds a row vector to every row of a [rows, n] tensor.
    public func addingRow(_ row: Tensor) -> Tensor {
        let n = row.count
        var t = self
        t.data.withUnsafeMutableBufferPointer { p in
            row.data.withUnsafeBufferPointer { q in
                for r in 0..<(p.count / n) { for j in 0..<n { p[r * n + j] += q[j] } }
            }
        }
        return t
    }

    /// [A, B] -> [B, A].
    public func transposed2D() -> Tensor {
        let a = shape[0], b = shape[1]
        var out = [Float](repeating: 0, count: count)
        data.withUnsafeBufferPointer { p in
            out.withUnsafeMutableBufferPointer { o in
                for i in 0..<a { for j in 0..<b { o[j * a + i] = p[i * b + j] } }
            }
        }
        return Tensor(shape: [b, a], data: out)
    }
}
