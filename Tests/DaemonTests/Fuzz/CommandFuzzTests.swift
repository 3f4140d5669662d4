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
    static func mutated(_ original: [UInt8], _ i: Int, _ dice: inout Dice, name: String, dir: TempDir) -> (String, String) {
        var bytes = original
        let what = ByteMutation.random(&bytes, &dice, keep: i % 3 == 2 ? 0 : 64)
        let path = dir.file(name)
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return (path, what)
    }

    @Test("probe --json and replay on mutated videos (seeded; REGIONSPOTD_FUZZ_SCALE multiplies the count)")
    func videos() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        let clip = try ReplayFixture.clip(in: dir, name: "base.mp4", size: "160x120", square: 40, rate: 10, seconds: 1, gop: 5, bframes: 1, creationTime: nil)
        let original = [UInt8](try Data(contentsOf: URL(fileURLWithPath: clip)))
        let seed: UInt64 = 1, probes = FuzzScale.count(8), replays = FuzzScale.count(3)
        var dice = Dice(s: seed)
        for i in 0..<(probes + replays) {
            let (path, what) = Self.mutated(original, i, &dice, name: "case\(i).mp4", dir: dir)
            let replay = i >= probes
            let out = dir.file("case\(i).jsonl")
            let args = replay ? ReplayFixture.arguments([path], ["--out", out]) : ["probe", path, "--json", "--motion-vectors"]
            let r = try Child.run(binary, args, env: ["XDG_CACHE_HOME": dir.file("cache")], dir: dir, timeout: replay ? 90 : 30)
            let tag = "seed \(seed) case \(i) (\(replay ? "replay" : "probe"), \(what)): status \(String(describing: r.status)), stderr \(r.stderr.suffix(600))"
            #expect(r.status != nil, "\(tag): still running at the time bound")
            #expect(r.status.map { $0 >= 0 && $0 < 128 } ?? true, "\(tag): killed by a signal")
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
        let binary = try #require(Repo.binary)
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
        for i in 0..<FuzzScale.count(4) {
            let (ext, original) = originals[i % 2]
            let (path, what) = Self.mutated(original, i, &dice, name: "case\(i).\(ext)", dir: dir)
            let r = try Child.run(binary, ["recognize", path, "--weights", ReplayFixture.model, "--vocab", "person,car", "--json",
                                           "--box", "0,0,48,32", "--box=-10,-10,1e6,1e6"], env: ["CACHE_DIRECTORY": dir.file("cache")], dir: dir, timeout: 60)
            let tag = "seed \(seed) case \(i) (\(ext), \(what)): status \(String(describing: r.status)), stderr \(r.stderr.suffix(600))"
            #expect(r.status == 0 || (r.status.map { $0 > 0 && $0 < 128 } ?? false), "\(tag)")
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
