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
