// Configuration YAML, fuzzed through the loader `check-config`, `run` and SIGHUP call
// (ConfigLoader.parse), in one process: every mutation kind has one outcome (accepted, or
// problems naming the file, the line and the key path); random byte damage is accepted or
// refused with problems that each name the file. A few cases go through the
// `check-config` binary for its exit status (0 or 78) and messages.
import Foundation
import FuzzSupport
import Testing
import Yams
@testable import Daemon

@Suite("fuzz: configuration YAML")
struct ConfigFuzzTests {
    static let file = "/etc/regionspotd/fuzz.yaml"

    /// Block style, one key per line, every section present (files are not checked).
    static let base = """
        log_level: info
        models:
          directory: /models/tiny
          recognizer: regionspot
          acceptance:
            min_score: 0.2
            min_mask_iou: 0.5
        vocabulary:
          - person
          - car|automobile
        streams:
          - id: cam1
            url: rtsp://u:secret@10.0.0.5/live
            transport: tcp
            publish_rate: 5
            keyframes:
              min_interval: 0.5
              max_interval: 2
              prefer_codec_keyframes: true
            proposals:
              sources: [tracked, zones, motion, external]
              max_boxes: 32
              dedup_iou: 0.7
              zones:
                - name: door
                  box: [0, 0, 100, 100]
          - id: cam2
            url: /videos/b.mp4
            loop: true
        publisher:
          endpoints:
            - tcp://127.0.0.1:5556
          send_hwm: 1000
          linger: 1
          nodrop: false
        external_boxes:
          endpoint: tcp://127.0.0.1:5557
        limits:
          recognizer_workers: 1
          publish_queue: 4096
          decoder_threads: 2
        metrics:
          listen: 127.0.0.1:9464
          interval: 10
        service:
          stall_timeout: 10
          drain_timeout: 5

        """

    /// `key: value` lines: the key path, the line (1-based) and whether the value is a number.
    struct Leaf { var path: String, line: Int, key: String, number: Bool }

    static let leaves: [Leaf] = {
        var out: [Leaf] = []
        func walk(_ n: Node, _ path: String) {
            if let m = n.mapping {
                for (k, v) in m {
                    let key = k.scalar!.string, p = path.isEmpty ? key : "\(path).\(key)"
                    if let s = v.scalar, s.style == .plain, v.mark?.line == k.mark?.line {
                        out.append(Leaf(path: p, line: k.mark!.line, key: key, number: Double(s.string) != nil))
                    } else {
                        out.append(Leaf(path: p, line: k.mark!.line, key: key, number: false))  // a section or a list
                        walk(v, p)
                    }
                }
            } else if let s = n.sequence {
                for (i, item) in s.enumerated() { walk(item, "\(path)[\(i)]") }
            }
        }
        walk(try! Yams.compose(yaml: base)!, "")
        return out
    }()

    enum Outcome {
        case refusedAt(line: Int, path: String, String)  // a problem "FILE:LINE: PATH: " containing the fragment
        case acceptedOrAt(line: Int, path: String)  // accepted, or every problem names this line and path
        case acceptedOrNamed  // accepted, or every problem names a line and a key path
        case refusedAnywhere(String)  // some problem contains one of the "|"-separated fragments
        case either  // accepted, or problems that each name the file
    }

    static func mutation(_ i: Int, _ dice: inout Dice) -> (String, String, Outcome) {
        var lines = base.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let leaf = dice.pick(leaves)
        let scalar = leaves.filter { l in !lines[l.line - 1].hasSuffix(":") }
        let text = lines[leaf.line - 1]
        let indent = String(text.prefix { $0 == " " || $0 == "-" })
        func joined() -> String { lines.joined(separator: "\n") }
        switch i % 8 {
        case 0:  // a misspelt key
            let bad = dice.pick(["zz", "_", "X"]) + leaf.key
            lines[leaf.line - 1] = text.replacingOccurrences(of: leaf.key + ":", with: bad + ":")
            let path = String(leaf.path.dropLast(leaf.key.count)) + bad
            return (joined(), "key \(leaf.path) -> \(bad)", .refusedAt(line: leaf.line, path: path, "unknown key"))
        case 1:  // a mapping where a value is expected
            let l = dice.pick(scalar)
            lines[l.line - 1] = String(lines[l.line - 1].prefix { $0 != ":" }) + ": {q: 1}"
            return (joined(), "\(l.path) = {q: 1}", .refusedAt(line: l.line, path: l.path, "expected"))
        case 2:  // text where a number is expected
            let l = dice.pick(scalar.filter(\.number))
            let v = dice.pick(["abc", "1.2.3", "0x", "1e", "[]", "\"\""])
            lines[l.line - 1] = String(lines[l.line - 1].prefix { $0 != ":" }) + ": " + v
            return (joined(), "\(l.path) = \(v)", .refusedAt(line: l.line, path: l.path, "expected"))
        case 3:  // extreme numbers: in range and accepted, or refused naming the key
            let l = dice.pick(scalar.filter(\.number))
            let v = dice.pick(["-1", "0", "-0", "1e308", "1e400", "-1e400", ".nan", ".inf", "-.inf", "99999999999999999999", "0.0000001", "4294967297"])
            lines[l.line - 1] = String(lines[l.line - 1].prefix { $0 != ":" }) + ": " + v
            return (joined(), "\(l.path) = \(v)", .acceptedOrAt(line: l.line, path: l.path))
        case 4:  // a key removed: accepted (a default), or what is missing named
            let l = dice.pick(scalar.filter { !lines[$0.line - 1].contains("- ") })
            lines.remove(at: l.line - 1)
            return (joined(), "\(l.path) removed", .acceptedOrNamed)
        case 5:  // a key line repeated
            let l = dice.pick(scalar.filter { !lines[$0.line - 1].contains("- ") })
            lines.insert(lines[l.line - 1], at: l.line)
            return (joined(), "\(l.path) repeated", .refusedAnywhere("duplicate key|not valid YAML"))
        case 6:  // broken YAML structure
            let l = dice.pick(leaves)
            switch dice.int(3) {
            case 0: lines[l.line - 1] = "\t" + lines[l.line - 1]
            case 1: lines[l.line - 1] += ": {"
            default: lines[l.line - 1] = indent + "key: [unclosed"
            }
            return (joined(), "line \(l.line) broken", .refusedAnywhere("not valid YAML|expected|unknown key|duplicate"))
        default:
            var bytes = Array(base.utf8)
            let what = ByteMutation.random(&bytes, &dice)
            return (String(decoding: bytes, as: UTF8.self), what, .either)
        }
    }

    @Test("each mutation kind gives its one outcome, case by case (seeded; REGIONSPOTD_FUZZ_SCALE multiplies the count)")
    func mutations() throws {
        _ = try ConfigLoader.parse(yaml: Self.base, file: Self.file, checkFiles: false)
        let seed: UInt64 = 78
        var dice = Dice(s: seed)
        var counts = (accepted: 0, refused: 0)
        for i in 0..<FuzzScale.count(1600) {
            let (yaml, what, outcome) = Self.mutation(i, &dice)
            let tag = "seed \(seed) case \(i) (\(what))"
            let r = withDeadline(10) { Result { () throws(ConfigError) -> DaemonConfig in try ConfigLoader.parse(yaml: yaml, file: Self.file, checkFiles: false) } }
            guard let r else { Issue.record("\(tag): no answer in 10 s"); continue }
            switch r {
            case .success: counts.accepted += 1
            case .failure(let e):
                counts.refused += 1
                #expect(!e.problems.isEmpty && e.problems.allSatisfy { $0.file == Self.file && !$0.message.isEmpty }, "\(tag): \(e)")
            }
            switch (outcome, r) {
            case let (.refusedAt(line, path, fragment), .failure(e)):
                #expect(e.problems.contains { $0.line == line && $0.path == path && $0.message.contains(fragment) }, "\(tag): \(e)")
            case let (.acceptedOrAt(line, path), .failure(e)):
                // the key itself, or a key checked against it ("min_interval (0.5 s) is greater than max_interval (1e-07 s)")
                let key = String(path.split(separator: ".").last ?? "")
                #expect(e.problems.allSatisfy { ($0.path == path && ($0.line == line || $0.message.contains("required key is missing"))) || $0.message.contains(key) },
                        "\(tag): \(e)")
            case (.acceptedOrNamed, .failure(let e)):
                #expect(e.problems.allSatisfy { $0.line != nil && !$0.path.isEmpty }, "\(tag): \(e)")
            case let (.refusedAnywhere(fragments), .failure(e)):
                let any = fragments.split(separator: "|")
                #expect(e.problems.contains { p in any.contains { p.message.contains($0) } }, "\(tag): \(e)")
            case (.refusedAt, .success), (.refusedAnywhere, .success):
                Issue.record("\(tag): accepted, expected \(outcome)\n\(yaml)")
            default: break
            }
        }
        fuzzReport("config in process: \(FuzzScale.count(1600)) cases, \(counts.accepted) accepted, \(counts.refused) refused naming file:line and key")
        #expect(counts.accepted >= FuzzScale.count(150) && counts.refused >= FuzzScale.count(1000), "\(counts)")
    }

    @Test("check-config: 0 and a summary, or 78 and every problem as FILE:LINE: KEY")
    func checkConfigBinary() throws {
        let binary = try #require(Repo.binary)
        let dir = TempDir()
        defer { dir.remove() }
        var dice = Dice(s: 78)
        var cases: [(String, [UInt8], Int32, [String])] = [
            ("valid", Array(Self.base.utf8), 0, ["OK"]),
            ("empty", [], 78, ["the file is empty"]),
            ("not UTF-8", [0xff, 0xfe, 0x00, 0x41] + dice.bytes(64), 78, ["cannot read: not UTF-8 text"]),
        ]
        for i in 0..<FuzzScale.count(6) {
            let (yaml, what, outcome) = Self.mutation([0, 1, 2, 6, 7][i % 5], &dice)
            var expect: [String] = []
            if case let .refusedAt(line, path, fragment) = outcome { expect = ["\(dir.path)/c\(i).yaml:\(line): \(path): \(fragment)"] }
            cases.append((what, Array(yaml.utf8), -1, expect))
        }
        for (i, (what, bytes, status, fragments)) in cases.enumerated() {
            let path = dir.file(i < 3 ? "case\(i).yaml" : "c\(i - 3).yaml")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let r = try Child.run(binary, ["check-config", "--no-files", path], dir: dir, timeout: 20)
            let tag = "case \(i) (\(what)): status \(String(describing: r.status)) stdout \(r.stdout) stderr \(r.stderr)"
            #expect(r.status == 0 || r.status == 78, "\(tag)")
            if status >= 0 { #expect(r.status == status, "\(tag)") }
            if r.status == 78 {
                #expect(r.stderr.hasSuffix("configuration is invalid\n"), "\(tag)")
                let problems = r.stderr.split(separator: "\n").dropLast()
                #expect(!problems.isEmpty && problems.allSatisfy { $0.hasPrefix(path + ":") }, "\(tag)")
                #expect(!r.stderr.contains("secret"), "\(tag)")
            } else if r.status == 0 {
                #expect(r.stdout.hasPrefix("\(path): OK"), "\(tag)")
            }
            for f in fragments { #expect((r.stdout + r.stderr).contains(f), "\(tag): wants \(f)") }
        }
    }
}

@Suite("fuzz regressions: configuration")
struct ConfigFuzzRegressionTests {
    static let fixtures = Repo.root.appendingPathComponent("Tests/DaemonTests/Fixtures/fuzz").path

    @Test("max_interval below a min_interval of 1e300 is a problem naming the key (it crashed the loader)")
    func hugeInterval() throws {
        let file = Self.fixtures + "/max-interval-1e300.yaml"
        let e = try #require(throws: ConfigError.self) { try ConfigLoader.load(file: file, checkFiles: false) }
        #expect(e.description == "\(file):10: streams[0].keyframes.min_interval: min_interval (1e+300 s) is greater than max_interval (2 s)")
    }

    @Test("a control character is one problem on its line (Yams' reader error was file-wide and ran over several lines)")
    func controlCharacter() throws {
        let e = try #require(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: "models: {directory: /m}\nvocabulary: [a\u{1}]\n", file: "/c.yaml", checkFiles: false)
        }
        #expect(e.description == "/c.yaml:2: not valid YAML: control characters are not allowed")
    }
}
