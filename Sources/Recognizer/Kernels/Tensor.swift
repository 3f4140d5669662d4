/// A contiguous row-major Float32 tensor. Value semantics (copy-on-write through Array).
public struct Tensor: Sendable, Equatable {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        precondition(shape.reduce(1, *) == data.count, "shape \(shape) does not match \(data.count) elements")
        self.shape = shape
        self.data = data
    }

    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }

    public var count: Int { data.count }
    public var rank: Int { shape.count }

    /// The same elements under another shape (one dimension may be -1).
    public func reshaped(_ newShape: [Int]) -> Tensor {
        var s = newShape
        if let i = s.firstIndex(of: -1) {
            let known = s.enumerated().filter { $0.offset != i }.map(\.element).reduce(1, *)
            s[i] = count / known
        }
        return Tensor(shape: s, data: data)
    }

    /// Rows `start..<end` of the first axis.
    public func slice(_ start: Int, _ end: Int) -> Tensor {
        let inner = shape.dropFirst().reduce(1, *)
        return Tensor(shape: [end - start] + shape.dropFirst(), data: Array(data[(start * inner)..<(end * inner)]))
    }

    /// Max |a-b| / (max|b| + 1e-6): the parity measure used throughout the tests.
    /// A NaN in either tensor, or an infinity the other tensor does not hold at the same
    /// index with the same sign, makes the error infinite, so `error <= tolerance` fails.
    /// (`max(m, .nan)` returns `m`: a plain running maximum would skip NaN silently.)
    public func relativeError(to reference: Tensor) -> Float {
        precondition(count == reference.count, "relativeError: \(shape) vs \(reference.shape)")
        var maxDiff: Float = 0, maxRef: Float = 0
        for i in 0..<count {
            let a = data[i], b = reference.data[i]
            guard a.isFinite, b.isFinite else {
                if a.isInfinite && a == b { continue }  // the same infinity on both sides
                return .infinity
            }
            maxDiff = max(maxDiff, abs(a - b))
            maxRef = max(maxRef, abs(b))
        }
        return maxDiff / (maxRef + 1e-6)
    }
}

/// Errors of the Recognizer, each naming the file, tensor or input at fault.
public struct RecognizerError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
