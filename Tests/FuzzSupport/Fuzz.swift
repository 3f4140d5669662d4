// What every fuzz test shares: deterministic dice (so a failing case reproduces from its
// seed and index), the case counts (REGIONSPOTD_FUZZ_SCALE multiplies them), byte
// mutations, and a deadline for one case (a hang fails the case, it does not stall the run).
import Foundation

/// Small deterministic integers (splitmix64): the same seed gives the same cases.
public struct Dice: Sendable {
    public var s: UInt64
    public init(s: UInt64) { self.s = s }

    public mutating func next() -> UInt64 {
        s &+= 0x9E37_79B9_7F4A_7C15
        var z = s
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// 0 ..< n (n > 0).
    public mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    public mutating func pick<T>(_ a: [T]) -> T { a[int(a.count)] }
    public mutating func bytes(_ n: Int) -> [UInt8] { (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) } }
}

public enum FuzzScale {
    /// REGIONSPOTD_FUZZ_SCALE (default 1): every surface runs `count(base)` cases.
    public static let factor: Int = max(1, Int(ProcessInfo.processInfo.environment["REGIONSPOTD_FUZZ_SCALE"] ?? "") ?? 1)
    public static func count(_ base: Int) -> Int { base * factor }
}

/// Byte-level damage to a file, described so a failure message says what was done.
public enum ByteMutation: CaseIterable, Sendable {
    case flipBits, overwrite, truncate, insertGarbage, removeSpan, duplicateSpan, zeroSpan

    /// Applies a random mutation (never inside the first `keep` bytes, where a caller wants
    /// the file type kept recognizable) and describes it.
    public static func random(_ bytes: inout [UInt8], _ dice: inout Dice, keep: Int = 0) -> String {
        random(dice.pick(allCases), &bytes, &dice, keep: keep)
    }

    public static func random(_ kind: ByteMutation, _ bytes: inout [UInt8], _ dice: inout Dice, keep: Int = 0) -> String {
        let lo = min(keep, max(0, bytes.count - 1))
        func at() -> Int { lo + dice.int(max(1, bytes.count - lo)) }
        func span(_ from: Int) -> Int { min(bytes.count - from, 1 + dice.int(dice.int(2) == 0 ? 16 : 4096)) }
        guard !bytes.isEmpty else { bytes = dice.bytes(1 + dice.int(64)); return "garbage in an empty file" }
        switch kind {
        case .flipBits:
            let n = 1 + dice.int(8)
            var where_: [Int] = []
            for _ in 0..<n { let i = at(); bytes[i] ^= UInt8(1 << dice.int(8)); where_.append(i) }
            return "bits flipped at \(where_)"
        case .overwrite:
            let i = at(), n = span(i)
            bytes.replaceSubrange(i..<(i + n), with: dice.bytes(n))
            return "\(n) random bytes at \(i)"
        case .truncate:
            let n = at()
            bytes.removeSubrange(n...)
            return "truncated to \(n) bytes"
        case .insertGarbage:
            let i = at(), n = 1 + dice.int(512)
            bytes.insert(contentsOf: dice.bytes(n), at: i)
            return "\(n) random bytes inserted at \(i)"
        case .removeSpan:
            let i = at(), n = span(i)
            bytes.removeSubrange(i..<(i + n))
            return "\(n) bytes removed at \(i)"
        case .duplicateSpan:
            let i = at(), n = span(i)
            bytes.insert(contentsOf: Array(bytes[i..<(i + n)]), at: i)
            return "\(n) bytes at \(i) repeated"
        case .zeroSpan:
            let i = at(), n = span(i)
            bytes.replaceSubrange(i..<(i + n), with: [UInt8](repeating: 0, count: n))
            return "\(n) bytes zeroed at \(i)"
        }
    }
}

/// Runs `body` on a thread of its own and waits up to `seconds`; nil when it has not
/// finished by then (the thread is left to finish or hang on its own; the case fails).
public func withDeadline<T: Sendable>(_ seconds: Double, _ body: @escaping @Sendable () -> T) -> T? {
    let box = DeadlineBox<T>()
    let t = Thread {
        box.value = body()
        box.done.signal()
    }
    t.stackSize = 8 << 20
    t.start()
    return box.done.wait(timeout: .now() + seconds) == .success ? box.value : nil
}

private final class DeadlineBox<T>: @unchecked Sendable {
    var value: T?
    let done = DispatchSemaphore(value: 0)
}

/// One line of figures per fuzz test on standard output (docs/reliability.md quotes them).
public func fuzzReport(_ text: String) {
    print("fuzz figures: \(text) [REGIONSPOTD_FUZZ_SCALE=\(FuzzScale.factor)]")
}
