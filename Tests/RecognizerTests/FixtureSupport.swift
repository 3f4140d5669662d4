import Foundation
import Testing
@testable import Recognizer

/// Committed parity fixtures (tools/make_fixtures.py).
enum Fixtures {
    static let directory: String = {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").path
    }()
    static func path(_ name: String) -> String { directory + "/" + name }
    static func open(_ name: String) throws -> SafeTensors { try SafeTensors(path: path(name)) }
}

/// The parity measure: max |a-b| / (max |b| + 1e-6).
func expectClose(_ a: Tensor, _ b: Tensor, _ tol: Float = 1e-4, _ what: String, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(a.count == b.count, "\(what): \(a.shape) vs \(b.shape)", sourceLocation: sourceLocation)
    guard a.count == b.count else { return }
    let e = a.relativeError(to: b)
    #expect(e <= tol, "\(what): relative error \(e) > \(tol)", sourceLocation: sourceLocation)
}

/// Max |a[i] - b[i]|, infinite when either side holds a NaN or an infinity the other does
/// not hold at the same index. (A running `max(m, d)` skips NaN: `max(m, .nan)` is `m`.)
func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "maxAbsDifference: \(a.count) vs \(b.count) elements")
    var worst: Float = 0
    for (x, y) in zip(a, b) {
        guard x.isFinite, y.isFinite else {
            if x.isInfinite && x == y { continue }
            return .infinity
        }
        worst = max(worst, abs(x - y))
    }
    return worst
}

/// Deterministic pseudo-random floats in [-1, 1).
struct SeededRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed &* 6364136223846793005 &+ 1442695040888963407 }
    mutating func next() -> Float {
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(Int64(bitPattern: state >> 11) % (1 << 24)) / Float(1 << 23) - 1
    }
    mutating func tensor(_ shape: [Int], scale: Float = 1) -> Tensor {
        Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in next() * scale })
    }
}
