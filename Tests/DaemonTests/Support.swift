// Helpers for the Daemon tests: the built binary, temp dirs, child processes that are
// always cleaned up, a unix datagram socket standing in for systemd's NOTIFY_SOCKET, and
// JSON Schema validation through Debian's python3-jsonschema.
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

enum Repo {
    /// The repository root (this file is Tests/DaemonTests/Support.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The `regionspotd` executable built next to the test bundle.
    static var binary: String? {
        let exe = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [exe.appendingPathComponent("regionspotd").path,
                          exe.deletingLastPathComponent().appendingPathComponent("regionspotd").path,
                          root.appendingPathComponent(".build/debug/regionspotd").path]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static let python = "/usr/bin/python3"
}

/// A fresh directory under /tmp, removed by `remove()`.
struct TempDir {
    let path: String
    init() {
        var template = Array("/tmp/rsd-test-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    }
    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }
    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let p = file(name)
        _ = FileManager.default.createFile(atPath: p, contents: Data(text.utf8))
        return p
    }
    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A child process with stdout/stderr captured in files (no pipe deadlocks); `stop()`
/// kills it if still running.
final class Child: @unchecked Sendable {
    let process = Process()
    let outPath: String
    let errPath: String

    init(_ executable: String, _ args: [String], env: [String: String] = [:], dir: TempDir, name: String = "child") throws {
        outPath = dir.file("\(name).out")
        errPath = dir.file("\(name).err")
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM", "OPENBLAS_THREAD_TIMEOUT"] { environment[k] = nil }
        environment.merge(env) { _, new in new }
        process.environment = environment
        process.standardOutput = FileHandle(forWritingAtPath: outPath)
        process.standardError = FileHandle(forWritingAtPath: errPath)
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    func signal(_ sig: Int32) { if process.isRunning { kill(pid, sig) } }

    /// Waits up to `timeout` seconds; returns the exit status, or nil if still running.
    func wait(timeout: Double) -> Int32? {
        let end = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < end { usleep(20_000) }
        if process.isRunning { return nil }
        return process.terminationStatus
    }

    func stop() {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// Runs to completion (killed after `timeout`).
    static func run(_ executable: String, _ args: [String], env: [String: String] = [:], dir: TempDir,
                    timeout: Double = 30) throws -> (status: Int32?, stdout: String, stderr: String) {
        let c = try Child(executable, args, env: env, dir: dir, name: "run-\(UUID().uuidString.prefix(8))")
        defer { c.stop() }
        let s = c.wait(timeout: timeout)
        return (s, c.stdout, c.stderr)
    }
}

/// A bound AF_UNIX datagram socket, as systemd's NOTIFY_SOCKET.
final class NotifySocket {
    let fd: Int32
    /// The NOTIFY_SOCKET value: a path, or "@name" for the abstract namespace.
    let address: String

    convenience init(path: String) throws { try self.init(address: path) }
    convenience init(abstract name: String) throws { try self.init(address: "@" + name) }

    private init(address: String) throws {
        self.address = address
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(address.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in bytes.enumerated() { raw[i] = b } }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1))
        let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard rc == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EINVAL) }
    }

    /// The next datagram, or nil after `timeout` seconds.
    func receive(timeout: Double) -> String? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(timeout * 1000)) > 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n < 0 ? nil : String(decoding: buf[0..<n], as: UTF8.self)
    }

    /// Datagrams until `done` says stop (given all so far) or `timeout` passes.
    func collect(timeout: Double, until done: ([String]) -> Bool) -> [String] {
        var got: [String] = []
        let end = Date().addingTimeInterval(timeout)
        while Date() < end, !done(got) {
            if let d = receive(timeout: min(0.2, max(0.01, end.timeIntervalSinceNow))) { got.append(d) }
        }
        return got
    }

    deinit {
        close(fd)
        if !address.hasPrefix("@") { unlink(address) }
    }
}

enum SchemaCheck {
    /// Validates each (schema file name, JSON) pair with python3-jsonschema (draft 2020-12);
    /// returns one result per document: nil when valid, else the validator's messages.
    static func validate(_ docs: [(schema: String, json: String)], dir: TempDir) throws -> [String?] {
        let input = docs.map { d -> String in
            let obj: [String: Any] = ["schema": d.schema, "json": d.json]
            return String(decoding: try! JSONSerialization.data(withJSONObject: obj), as: UTF8.self)
        }.joined(separator: "\n")
        let inPath = dir.write("docs-\(UUID().uuidString.prefix(6)).jsonl", input + "\n")
        let script = """
        import json, sys, jsonschema
        schemas = {}
        for line in open(sys.argv[1]):
            d = json.loads(line)
            name = d["schema"]
            if name not in schemas:
                s = json.load(open(sys.argv[2] + "/" + name))
                jsonschema.Draft202012Validator.check_schema(s)
                schemas[name] = jsonschema.Draft202012Validator(s)
            errs = sorted(schemas[name].iter_errors(json.loads(d["json"])), key=lambda e: list(e.path))
            print(json.dumps(None if not errs else "; ".join(e.message for e in errs)))
        """
        let scriptPath = dir.write("validate.py", script)
        let r = try Child.run(Repo.python, [scriptPath, inPath, Repo.root.appendingPathComponent("schema").path], dir: dir)
        try #require(r.status == 0, "validator failed: \(r.stderr)")
        return r.stdout.split(separator: "\n").map { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8), options: .fragmentsAllowed)) as? String
        }
    }
}
