// Where a pipeline's messages go: the ZeroMQ publisher (run), a JSONL file and/or a
// publisher (replay). The payload is the same JSON either way, so the schemas in schema/
// validate both.
import Foundation

protocol MessageSink: Sendable {
    func send(_ m: RegionsMessage)
    func send(_ m: TrackMessage)
    func send(_ m: StatusMessage)
}

/// Publishes on the daemon's PUB socket (non-blocking; drops are counted there).
struct PublisherSink: MessageSink {
    let publisher: Publisher
    func send(_ m: RegionsMessage) { _ = try? publisher.publish(m) }
    func send(_ m: TrackMessage) { _ = try? publisher.publish(m) }
    func send(_ m: StatusMessage) { _ = try? publisher.publish(m) }
}

/// Appends one JSON line per message to a file (replay's --out), in call order.
final class JSONLSink: MessageSink, @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    /// Opens `path` for writing in place (created or truncated). Not FileManager's
    /// createFile: that writes a new file and renames it over the path, which replaced
    /// `--out /dev/null` with a regular file (found by the memory soak).
    init(path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ValidationFailure("cannot create \(path): \(String(cString: strerror(errno)))") }
        handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    }
    /// Writes to an open handle (standard output).
    init(handle: FileHandle) { self.handle = handle }
    private func write<M: Encodable>(_ m: M) {
        guard var line = try? MessageCoding.encode(m) else { return }
        line.append(0x0a)
        lock.withLock { handle.write(Data(line)) }
    }
    func send(_ m: RegionsMessage) { write(m) }
    func send(_ m: TrackMessage) { write(m) }
    func send(_ m: StatusMessage) { write(m) }
    func close() { lock.withLock { try? handle.close() } }
}

/// Sends to several sinks in order.
struct FanOutSink: MessageSink {
    let sinks: [any MessageSink]
    func send(_ m: RegionsMessage) { for s in sinks { s.send(m) } }
    func send(_ m: TrackMessage) { for s in sinks { s.send(m) } }
    func send(_ m: StatusMessage) { for s in sinks { s.send(m) } }
}

struct ValidationFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
