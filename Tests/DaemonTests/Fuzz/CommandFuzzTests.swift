// The process surfaces of damaged media: `probe` and `replay` on mutated videos,
// `recognize` on mutated images, through the built binary (a few cases each; the many
// in-process cases are in DecodeTests' MediaFuzzTests). Each run exits 0 with its output
// or nonzero with a message, within its time bound, and never prints a non-finite number.
import Foundation
import FuzzSupport
import Testing
@testable import Daemon

enum FuzzOutput {
    /// Words a non-finite number is printed as (Swift, C and JSON writers).
    static let nonFinite = try! NSRegularExpression(pattern: #"(?i)(?<![a-z_])(-?nan|[-+]?inf(inity)?)(?![a-z_])"#)

    static func hasNonFinite(_ text: String) -> Bool {
        nonFinite.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// Every number of a JSON document (JSONSerialization refuses NaN literals outright).
    static func numbers(_ v: Any) -> [Double] {
        switch v {
        case let d as [String: Any]: return d.values.flatMap(numbers)
        case let a as [Any]: return a.flatMap(numbers)
        case let n as NSNumber: return [n.doubleValue]
        default: return []
        }
    }
}

@Suite("fuzz: probe, replay and recognize on damaged files", .serialized)
struct CommandFuzzTests {
    /// Runs the binary to its end (killed at `timeout`): exit status (nil: still running
    /// at the bound), whether a signal ended it (a crash), and its output.
    static func run(_ args: [String], dir: TempDir, timeout: Double) throws -> (status: Int32?, crashed: Bool, stdout: String, stderr: String) {
        let c = try Child(try #require(Repo.binary), args, env: ["XDG_CACHE_HOME": dir.file("cache"), "CACHE_DIRECTORY": dir.file("cache")],
                          dir: dir, name: "run-\(UUID().uuidString.prefix(8))")
        defer { c.stop() }
        let status = c.wait(timeout: timeout)
        return (status, status != nil && c.process.terminationReason == .uncaughtSignal, c.stdout, c.stderr)
    }

    static func mutated(_ original: [UInt8], _ i: Int, _ dice: inout Dice, name: String, dir: TempDir) -> (String, String) {
        var bytes = original
        let what = ByteMutation.random(&bytes, &dice, keep: i % 3 == 2 ? 0 : 64)
        let path = dir.file(name)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(bytes)), "cannot write \(path)")
        return (path, what)
    }

    @Test("probe --json and replay on mutated videos (seeded; REGIONSPOTD_FUZZ_SCALE multiplies the count)")
    func videos() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try ReplayFixture.clip(in: dir, name: "base.mp4", size: "160x120", square: 40, rate: 10, seconds: 1, gop: 5, bframes: 1, creationTime: nil)
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clip)))
        let seed: UInt64 = 1, probes = FuzzScale.count(8), replays = FuzzScale.count(3)
        var dice = Dice(s: seed)
        var tally: [String: Int] = [:]
        defer { fuzzReport("probe/replay binary: \(probes) probe + \(replays) replay runs, \(tally.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))") }
        for i in 0..<(probes + replays) {
            let (path, what) = Self.mutated(original, i, &dice, name: "case\(i).mp4", dir: dir)
            let replay = i >= probes
            let out = dir.file("case\(i).jsonl")
            let args = replay ? ReplayFixture.arguments([path], ["--out", out]) : ["probe", path, "--json", "--motion-vectors"]
            let r = try Self.run(args, dir: dir, timeout: replay ? 90 : 30)
            tally["\(replay ? "replay" : "probe") exit \(r.crashed ? "signal " : "")\(r.status.map(String.init) ?? "timeout")", default: 0] += 1
            let tag = "seed \(seed) case \(i) (\(replay ? "replay" : "probe"), \(what)): status \(String(describing: r.status)), stderr \(r.stderr.suffix(600))"
            #expect(r.status != nil, "\(tag): still running at the time bound")
            #expect(!r.crashed, "\(tag): killed by a signal")
            #expect(!FuzzOutput.hasNonFinite(r.stdout + r.stderr), "\(tag): a non-finite number in \(r.stdout.prefix(400))")
            if r.status == 0 {
                let lines = replay ? ((try? ReplayFixture.lines(out)) ?? []) : [r.stdout]
                #expect(!lines.isEmpty, "\(tag): no output")
                for line in lines {
                    let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8))
                    #expect(obj != nil && FuzzOutput.numbers(obj!).allSatisfy(\.isFinite), "\(tag): \(line.prefix(300))")
                }
                if !replay { #expect(r.stdout.contains("\"frames\""), "\(tag): \(r.stdout.prefix(300))") }
            } else if r.status != nil {
                #expect(r.stderr.contains(path), "\(tag): the message does not name the file")
            }
        }
    }

    @Test("recognize on mutated PNG and JPEG images (seeded)")
    func images() throws {
        let dir = TempDir()
        defer { dir.remove() }
        var originals: [(String, [UInt8])] = []
        for ext in ["png", "jpg"] {
            let p = dir.file("base.\(ext)")
            let r = try Child.run("/usr/bin/ffmpeg", ["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=s=96x64:d=1", "-frames:v", "1", p], dir: dir)
            try #require(r.status == 0)
            originals.append((ext, [UInt8](try Data(contentsOf: URL(fileURLWithPath: p)))))
        }
        let seed: UInt64 = 2
        var dice = Dice(s: seed)
        var tally: [String: Int] = [:]
        defer { fuzzReport("recognize binary: \(FuzzScale.count(4)) images, \(tally.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", "))") }
        for i in 0..<FuzzScale.count(4) {
            let (ext, original) = originals[i % 2]
            let (path, what) = Self.mutated(original, i, &dice, name: "case\(i).\(ext)", dir: dir)
            let r = try Self.run(["recognize", path, "--weights", ReplayFixture.model, "--vocab", "person,car", "--json",
                                  "--box", "0,0,48,32", "--box=-10,-10,1e6,1e6"], dir: dir, timeout: 60)
            tally["exit \(r.crashed ? "signal " : "")\(r.status.map(String.init) ?? "timeout")", default: 0] += 1
            #expect(!r.crashed, "seed \(seed) case \(i): killed by a signal")
            let tag = "seed \(seed) case \(i) (\(ext), \(what)): status \(String(describing: r.status)), stderr \(r.stderr.suffix(600))"
            #expect(r.status != nil, "\(tag): still running at the time bound")
            #expect(!FuzzOutput.hasNonFinite(r.stdout + r.stderr), "\(tag): \(r.stdout.prefix(400))")
            if r.status == 0 {
                let obj = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
                #expect(obj != nil && FuzzOutput.numbers(obj!).allSatisfy(\.isFinite), "\(tag): \(r.stdout.prefix(300))")
            } else {
                #expect(r.stderr.contains(path), "\(tag): the message does not name the file")
            }
        }
    }
}
