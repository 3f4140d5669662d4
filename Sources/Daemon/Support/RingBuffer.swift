// The publisher's bounded queue (a full queue is the overflow policy's to resolve).
/// Fixed-capacity FIFO.
struct RingBuffer<T> {
    private var storage: [T?]
    private var head = 0
    private(set) var count = 0
    init(capacity: Int) { storage = Array(repeating: nil, count: capacity) }
    var isEmpty: Bool { count == 0 }
    var isFull: Bool { count == storage.count }
    mutating func append(_ v: T) {
        precondition(!isFull)
        storage[(head + count) % storage.count] = v
        count += 1
    }
    mutating func popFirst() -> T? {
        guard count > 0 else { return nil }
        let v = storage[head]
        storage[head] = nil
        head = (head + 1) % storage.count
        count -= 1
        return v
    }
    mutating func drain(into out: inout [T]) {
        while let v = popFirst() { out.append(v) }
    }
}
